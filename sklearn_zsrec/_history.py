"""Users' recency-weighted histories and item-item scores built on them.

Shared by the item-item recommenders (:class:`ItemKNNRecommender`,
:class:`NextItemRecommender`) and the hybrid's recency profile: one
definition of "the recency-weighted history" for all of them.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp

# up to this many items an item-item product uses a dense matrix (64 MB)
DENSE_ITEMS = 4096
MIN_RECENCY = 1e-4  # interactions whose recency factor is below this (about 13.3
# half-lives back) are dropped
MAX_HISTORY_WEIGHT = 1e6  # larger history weights are rescaled (to at most 1) first
# a user whose largest history weight is under this is scaled up by a power of
# two (exact), so that float32 products do not round their scores to 0
MIN_HISTORY_WEIGHT = 2.0**-64


def rank_from_latest(codes, data):
    """Each row's rank from its user's latest interaction (0 for it) in time order.

    ``codes``: the rows' users as ints. Rows of weight 0 (impressions
    without a click) are no interaction: they are ranked among themselves
    and do not count in the ranks of the others.
    """
    frame = pd.DataFrame({"u": codes, "o": data.order, "z": ~data.interacted})
    return frame.groupby(["u", "z"])["o"].rank(method="first", ascending=False).to_numpy() - 1


def recency_factors(data, half_life):
    """``0.5 ** (rank_from_latest / half_life)`` per interaction (1 for the latest)."""
    # 0 for ranks past ~1075 half-lives, as meant (and past the latest for a
    # half_life so small that rank / half_life overflows to inf)
    with np.errstate(under="ignore", over="ignore"):
        return 0.5 ** (rank_from_latest(pd.factorize(data.user_id)[0], data) / half_life)


def recency_weights(data, half_life):
    """``weight * 0.5 ** (rank_from_latest / half_life)`` per interaction.

    ``half_life`` None keeps the interaction weights as they are. Rows of
    weight 0 stay 0 and do not count in the ranks of the others.
    """
    if half_life is None:
        return data.weight
    return data.weight * recency_factors(data, half_life)


def history_matrix(data, half_life, rows, cols, shape):
    """The users' recency-weighted histories as a float32 CSR matrix of ``shape``.

    ``rows`` and ``cols`` place each interaction of ``data``. Weights above
    ``MAX_HISTORY_WEIGHT`` are rescaled together, by a power of two (every
    score built on them is compared per user, so one common scale changes no
    ranking, exactly; it keeps weight x similarity sums inside float32); the weights of a user whose
    largest is under ``MIN_HISTORY_WEIGHT`` (exponential time decay of a
    user long gone: ``exp(-130)``) are multiplied by the power of two that
    brings it to [1, 2), exactly, as float32 would round their scores to 0
    and rank the catalog in its order. With a ``half_life``,
    interactions whose recency factor is under ``MIN_RECENCY`` (about 13.3
    half-lives before their user's latest) are dropped, which bounds the
    cost of the products: they would add under ``MIN_RECENCY`` of their own
    weight to a score, but an item that only they reach then scores 0
    (documented with ``half_life``). The floor is on the recency alone: on
    weight x recency against the user's heaviest, a light latest
    interaction (one play after 20,000 of another item) was dropped.
    """
    factors = None if half_life is None else np.asarray(recency_factors(data, half_life))
    weights = np.asarray(data.weight if factors is None else data.weight * factors,
                         dtype=np.float64)
    if len(weights) and weights.max() > MAX_HISTORY_WEIGHT:
        # by a power of two (the largest into [0.5, 1)): exact, so the float32
        # sums are those of the weights as given, scaled (dividing by the
        # largest rounded them otherwise: 2**30 times the weights swapped ties)
        weights = np.ldexp(weights, -np.frexp(weights.max())[1])
    tiny = np.min(weights, initial=np.inf, where=weights > 0) < MIN_HISTORY_WEIGHT
    # each row's user's largest weight, where needed: to scale tiny users, and
    # to keep a user's rows of weight 0 only when it has no other (as before)
    unweighted = None if half_life is None else ~(weights > 0)
    top = None
    if tiny or (unweighted is not None and unweighted.any()):
        top = pd.Series(weights).groupby(rows).transform("max").to_numpy()
    if tiny:
        small = (top > 0) & (top < MIN_HISTORY_WEIGHT)
        shift = 1 - np.frexp(top[small])[1]  # top * 2**shift in [1, 2)
        weights, top = weights.copy(), top.copy()
        weights[small] = np.ldexp(weights[small], shift)
        top[small] = np.ldexp(top[small], shift)
    if half_life is not None:
        keep = factors >= MIN_RECENCY
        if top is not None:
            keep &= ~unweighted | (top == 0)
        weights, rows, cols = weights[keep], rows[keep], cols[keep]
    return sp.csr_matrix((weights, (rows, cols)), shape=shape, dtype=np.float32)


def dense_matrix(matrix):
    """``matrix`` as a dense float32 array when the catalog is small enough, else None."""
    if matrix.shape[0] > DENSE_ITEMS:
        return None
    return np.ascontiguousarray(matrix.toarray(), dtype=np.float32)


def item_item_scores(history, matrix, dense):
    """``history @ matrix`` as a dense float32 array.

    A sparse history times ``dense``, the matrix from ``dense_matrix`` (torch,
    multithreaded: many times faster than a sparse-sparse product), on
    catalogs of up to ``DENSE_ITEMS`` items; a sparse product beyond
    (``dense`` None).
    """
    if dense is None:
        return np.asarray((history @ matrix).toarray(), dtype=np.float32)
    import torch

    from ._progress import quiet
    from ._scores import _tensor

    dense = _tensor(dense)
    history = history.astype(np.float32, copy=False)
    # torch's notes, once per process, that its sparse CSR support is in beta
    # and (torch 2.11-2.12, whatever check_invariants says) that its checks
    # are off; the invariants are scipy's, checked (no need for torch's)
    with quiet("Sparse CSR tensor support is in beta",
               "Sparse invariant checks are implicitly disabled", once=True):
        sparse = torch.sparse_csr_tensor(
            _tensor(history.indptr), _tensor(history.indices), _tensor(history.data),
            size=history.shape, check_invariants=False)
    # into an uninitialised array (beta=0 reads nothing of it): ``sparse @
    # dense`` fills a zeroed result and copies it once more (about a third
    # of the product's time at 315 users x 1,682 items)
    out = torch.empty((history.shape[0], dense.shape[1]), dtype=dense.dtype)
    return torch.addmm(out, sparse, dense, beta=0, out=out).numpy()


def top_per_row(matrix, k, block=4096):
    """``matrix`` (CSR) with only the ``k`` largest entries of each row kept.

    Of equal entries at the cut, those of the lowest columns are kept.
    Sorted ``block`` rows at a time, so that memory stays that of the matrix.
    """
    k = int(k)  # True (an Integral to scikit-learn's checks) indexed a tensor as a mask
    if np.diff(matrix.indptr).max(initial=0) <= k:
        return matrix
    if matrix.shape[1] <= DENSE_ITEMS and matrix.data.min() >= 0:  # small: dense (torch)
        import torch

        dense = torch.from_numpy(matrix.toarray())
        values, columns = torch.topk(dense, k + 1, dim=1)
        # torch breaks ties in any order: rows with a tie at the cut go the sparse way
        tied = np.flatnonzero(((values[:, k - 1] == values[:, k]) & (values[:, k] > 0)).numpy())
        values[tied] = 0
        kept = sp.csr_matrix(torch.zeros_like(dense).scatter_(1, columns[:, :k],
                                                                values[:, :k]).numpy())
        if not len(tied):
            return kept
        place = sp.csr_matrix((np.ones(len(tied), dtype=matrix.dtype),
                               (tied, np.arange(len(tied)))), shape=(matrix.shape[0], len(tied)))
        return sp.csr_matrix(kept + place @ _top_sparse(matrix[tied], k, block))
    return _top_sparse(matrix, k, block)


def _top_sparse(matrix, k, block):
    """``top_per_row`` through each row's stored entries, sorted (stable: lowest columns first)."""
    parts = []
    for start in range(0, matrix.shape[0], block):
        part = matrix[start:start + block]
        lengths = np.diff(part.indptr)
        row = np.repeat(np.arange(part.shape[0]), lengths)
        order = np.lexsort((-part.data, row))  # each row's entries, largest first
        rank = np.arange(len(order)) - part.indptr[row[order]]
        keep = np.sort(order[rank < k])
        parts.append(sp.csr_matrix((part.data[keep], (row[keep], part.indices[keep])),
                                   shape=part.shape, dtype=matrix.dtype))
    return sp.vstack(parts, format="csr")
