"""The array work of ranking: chunk sizes, matrix products, writes into
catalog columns and top-k, shared by every recommender's scoring."""

import functools

import numpy as np

from ._interactions import is_positive_int
from ._progress import quiet


# default chunk: ~2 MB of scores, so that a chunk's arrays stay small, but at
# least 64 users, so that each matrix product still has rows enough to be
# efficient
_CHUNK_BYTES = 2 * 2**20
_CHUNK_MIN_USERS = 64


def underflow_ignored(method):
    """``method`` with numpy's underflow ignored, whatever the caller's ``np.seterr``.

    Underflow is never an error here: recency ``0.5 ** rank`` past ~1075
    ranks, a long history's tiny profile entries cast to float32, an item's
    chance of no pick in thousands of showings are meant to reach 0. Under
    ``np.seterr(all="raise")`` (a common debugging setting) they raised. A
    new ``errstate`` per call: thread-safe under numpy 1 and 2.
    """
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with np.errstate(under="ignore"):
            return method(*args, **kwargs)
    return wrapper


def _chunk_size(batch_size, n_items, n_users=None, name="recommend"):
    """Users scored at once: ``batch_size``, or ~2 MB of float32 scores.

    With ``n_users``, the users are split into chunks of equal size: at most
    ``batch_size``, or for the default, the number of ~2 MB chunks rounded
    to the nearest (a last chunk of a few users would cost a whole chunk's
    fixed overheads; the chunks then hold 1.5 x 2 MB at most), and still at
    least 64 users.
    """
    if batch_size is None:
        chunk = max(_CHUNK_MIN_USERS, _CHUNK_BYTES // (4 * max(n_items, 1)))
        n_chunks = max(1, round(n_users / chunk)) if n_users else None
    elif not is_positive_int(batch_size):
        raise ValueError(
            f"{name}: batch_size must be a positive int (users scored at once) or None "
            f"(about 2 MB of scores per batch); got {batch_size!r}."
        )
    else:
        chunk = int(batch_size)
        n_chunks = -(-n_users // chunk) if n_users else None
    if n_chunks is None:
        return chunk
    even = -(-n_users // n_chunks)
    return max(even, min(_CHUNK_MIN_USERS, n_users)) if batch_size is None else even


def _seen_positions(user_items, rows):
    """(row in chunk, column) of the training items of ``rows`` (all >= 0)."""
    indptr, indices = user_items.indptr, user_items.indices
    starts, counts = indptr[rows], indptr[rows + 1] - indptr[rows]
    local = np.repeat(np.arange(len(rows)), counts)
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and (np.diff(rows) == 1).all():
        return local, indices[starts[0]:starts[0] + len(local)]  # consecutive rows: one slice
    # position in ``indices``: each row's start plus a running offset
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return local, indices[np.repeat(starts, counts) + offsets]


def _matmul(a, b):
    """``a @ b`` through torch, in ``b``'s dtype.

    Scoring runs its products, the item-kNN product and the top-k on torch's
    thread pool: a numpy (OpenBLAS) product between torch calls leaves the
    two pools' threads spinning against each other on a small machine
    (measured on 2 cores: 1.5 to 3 times slower).
    """
    a = np.asarray(a, dtype=b.dtype)
    return (_tensor(a) @ _tensor(b)).numpy()


def _put_columns(out, cols, values, add=False):
    """``out[:, cols] = values`` (``+=`` with ``add``) in place; returns ``out``.

    Through torch's ``index_copy_`` and ``index_select``: on a chunk of users
    x the catalog, several times faster than numpy's fancy indexing of
    columns (measured 3x to 6x on 2 cores, at 1,682 and 12,500 items).
    ``values`` is a scalar, an array of shape ``(len(out), len(cols))``, or
    with ``add``, anything that broadcasts to it.
    """
    import torch

    cols = np.asarray(cols)
    if cols.ndim != 1 or (cols.size and cols.dtype.kind not in "iu"):
        raise TypeError(f"_put_columns takes a 1-D array of column positions; got {cols.dtype} "
                        f"of shape {cols.shape} (a boolean mask: np.flatnonzero(mask)).")
    if not out.flags.writeable:
        raise ValueError("_put_columns: out is read-only.")
    target = torch.from_numpy(out)
    index = _tensor(cols.astype(np.int64, copy=False))  # a fitted array: read-only loaded by mmap
    if np.ndim(values) == 0 and not add:
        target.index_fill_(1, index, float(values))
        return out
    # any layout a member returns (torch takes no negative strides)
    values = _tensor(np.ascontiguousarray(values, dtype=out.dtype))
    if add:
        values = target.index_select(1, index).add_(values)
    target.index_copy_(1, index, values)
    return out


def _tensor(array):
    """A torch view of ``array``, read-only ones included.

    Fitted arrays shared between models (see ``HybridRecommender``'s fit
    memo) are read-only; torch warns that it cannot protect them, but the
    products here only read them.
    """
    import torch

    if array.flags.writeable:
        return torch.from_numpy(array)
    with quiet("The given NumPy array is not writable", once=True):  # once per process
        return torch.from_numpy(array)


class NaNScoresError(ValueError):
    """``_top_n``'s error for rows holding NaN; ``rows``: their positions in ``scores``."""

    def __init__(self, rows):
        super().__init__(f"NaN scores in rows {rows[:5].tolist()} of {len(rows)}")
        self.rows = rows


def _top_n(scores, n):
    """Indices and values of each row's ``n`` largest scores, best first.

    Ties go to the lower column (the item earlier in the catalog), at the
    cut-off too: so each row's top-``n`` is the first ``n`` of its
    top-``n + 1``, and a ranking does not change with ``n`` (metrics at
    several ``k`` describe one ranking). ``torch.topk`` finds them
    (multithreaded, several times faster than ``np.argpartition`` on a
    chunk of users x the catalog), which orders ties as it likes: it is asked
    for one more score, and the rows whose extra score equals their last
    (an item tied with it was left out) are completed by column. Rows that
    hold NaN raise ``NaNScoresError``: torch ranks NaN above every number,
    so NaN items took the first places (and a tie at the cut-off then failed).
    """
    import torch

    scores = np.ascontiguousarray(scores)
    k = min(n + 1, scores.shape[1])
    val, idx = (t.numpy() for t in torch.topk(torch.from_numpy(scores), k, dim=1))
    nan = np.flatnonzero(np.isnan(val).any(axis=1))  # (first: NaN ranks highest)
    if len(nan):
        raise NaNScoresError(nan)
    cut = np.flatnonzero(val[:, n - 1] == val[:, n]) if k > n else np.zeros(0, np.intp)
    val, idx = val[:, :n], idx[:, :n]
    if len(cut):  # ties at the cut-off: the items above it, then the tied ones by column
        part, last = scores[cut], val[cut, -1:]
        above = part > last
        tied = part == last
        tied &= np.cumsum(tied, axis=1) <= n - above.sum(axis=1, keepdims=True)
        idx[cut] = np.nonzero(above | tied)[1].reshape(len(cut), n)  # by column
        val[cut] = np.take_along_axis(part, idx[cut], axis=1)
    # best first, ties by column: torch's rows come best first, so only rows
    # not strictly decreasing (ties, or completed above) are sorted
    redo = np.flatnonzero(~(val[:, :-1] > val[:, 1:]).all(axis=1))
    if len(redo):
        order = np.lexsort((idx[redo], -val[redo]), axis=1)
        idx[redo] = np.take_along_axis(idx[redo], order, axis=1)
        val[redo] = np.take_along_axis(val[redo], order, axis=1)
    return idx, val
