"""Approximate top-k: an HNSW inner-product index over a model's item factors.

``recommend(users, n, approximate=True)`` (:meth:`BaseRecommender.recommend`)
comes here. It needs scores that are an inner product ``user_factors_[u] @
item_factors_[i]``, the contract of every model with ``user_factors_`` and
``item_factors_`` (:class:`ALSRecommender`, ``SparkALSRecommender``; the
hybrid recognises its factor members the same way). The index (faiss
``IndexHNSWFlat``, ``METRIC_INNER_PRODUCT``) is built on the first
approximate call and cached on the model, never pickled: an unpickled or
refitted model builds it again on its first approximate call. It holds a
copy of the item factors and about ``2 M`` 4-byte links per item (some
0.5 GB for 10^6 items of 64 factors).

Seen items are over-fetched, then dropped: a user with ``c`` training items
asks the index for ``k >= n + c`` items (a power of two, at least
``EF_SEARCH``), so that ``n`` unseen ones remain even if all ``c`` rank
first; a user left with fewer (the graph search returned less than ``k``)
asks again with ``2 k``. Users who would need more than
``max(MIN_EXACT_K, n_items / EXACT_FRACTION)`` items (among them those
with fewer than ``n`` unseen items), and users the model scores without
factors (new users, if it can score them) are ranked exactly, as by
``approximate=False``. So a seen item is never returned, and every user
gets ``n`` items when the catalog has ``n`` unseen ones.

Where the hybrid's scores are (not) factor products. ``HybridRecommender``
has no ``user_factors_``: ``approximate=True`` raises. For a known user its
score is a sum of terms (``terms_``, see ``_hybrid/_blend.py``); the text
term ``(1 - a_u b_i) z_text`` (the product of ``[t_u, -a_u t_u]`` and
``[t_i, b_i t_i]``), each factor member's terms (z-scores of factor and
recency-profile products, gated or not), popularity, and the new items'
terms and offset are all inner products of a per-user vector with a
per-item vector. The item-kNN and next-item members' terms are not: each is
a z-scored sparse product of the user's history with an item-item matrix,
of rank up to the catalog size. New users are scored from their text
neighbours' items, not a product either. Only a hybrid whose members all
have factors could be searched by inner product (over the concatenated
vectors); that is not implemented. Search a factor member on its own
instead: ``hybrid.named_members_.als.recommend(users, approximate=True)``.
"""

import logging
import time
import weakref

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._interactions import is_positive_int, positions
from ._locks import Lock

logger = logging.getLogger("sklearn_zsrec")

# HNSW parameters. M = 32 links per node and efConstruction = 200 are the
# usual choices for 32- to 128-d vectors (implicit's nmslib defaults: M 32,
# efConstruction 400). efSearch (the candidate list of a query) = 256: on
# 5x10^4 clustered, popularity-skewed 64-d factors with seen items excluded
# (benchmarks/_ann_bench.py), recall@10 against exact search was 0.988, 0.993
# and 0.997 at efSearch 64, 128 and 256; recall falls as the catalog grows,
# and the target is >= 0.98 at 10^6 items. Query time grows about linearly
# with efSearch. Items are indexed as they are: the usual reduction of inner
# product to cosine (an extra coordinate equalising the norms, as implicit
# does for nmslib and annoy) cut recall@10 to 0.6 on such factors.
M = 32
EF_CONSTRUCTION = 200
EF_SEARCH = 256
# users needing more than n_items / EXACT_FRACTION results (and at least
# MIN_EXACT_K) are ranked exactly: a graph search for k items costs about
# k * M distances, the exact product n_items (measured faster per distance)
EXACT_FRACTION = 128
MIN_EXACT_K = 256
MAX_LABELS = 2**22  # users x k per faiss call: ~50 MB of ids and scores


def check_approximate(approximate, owner):
    """``approximate`` as a bool; anything but a bool raises."""
    if isinstance(approximate, (bool, np.bool_)):
        return bool(approximate)
    raise ValueError(
        f"{owner}: approximate must be True (HNSW search of the item "
        f"factors, needs faiss) or False (exact search); got {approximate!r}."
    )


def _faiss():
    try:
        import faiss
    except ImportError as exc:
        import importlib.util

        if importlib.util.find_spec("faiss") is not None:  # installed, but it fails
            raise ImportError(
                f"recommend(..., approximate=True): faiss is installed but fails to import "
                f"({exc}): a faiss-cpu built for another numpy or Python? Fix: pip install "
                "-U --force-reinstall faiss-cpu, or use approximate=False (exact search)."
            ) from exc
        raise ImportError(
            "recommend(..., approximate=True) needs faiss, which is not "
            'installed. Fix: pip install "sklearn-zsrec[ann]", or use '
            "approximate=False (exact search)."
        ) from exc
    return faiss


def factors(model):
    """``(user_factors_, item_factors_)``, or a ValueError naming the fix."""
    name = type(model).__name__
    user, item = getattr(model, "user_factors_", None), getattr(model, "item_factors_", None)
    if user is not None and item is not None:
        return user, item
    members = getattr(model, "named_members_", None)
    why, fix = "", ""
    if members is not None:  # a hybrid: see the module's docstring
        named = [m for m, est in members.items() if hasattr(est, "item_factors_")]
        others = [m for m in members if m not in named]
        why = ": its blend is not exposed as factors"
        if others:
            why = (f": its blend adds the scores of members without factors "
                   f"({', '.join(others)}), which are not factor products")
        why += (", and it scores new users from their text neighbours (see "
                "sklearn_zsrec/_ann.py)")
        if named:
            fix = (", or approximate search of a factor member on its own scores, e.g. "
                   f"named_members_.{named[0]}.recommend(users, approximate=True)")
    raise ValueError(
        f"{name}: approximate=True searches an inner-product index of the item "
        "factors, so it needs scores that are user_factors_ @ item_factors_.T "
        f"(ALSRecommender, SparkALSRecommender); {name} has no such factors{why}. "
        f"Use approximate=False (exact search){fix}."
    )


def build_index(item_factors, m=M, ef_construction=EF_CONSTRUCTION):
    """An HNSW inner-product index (faiss ``IndexHNSWFlat``) of ``item_factors``."""
    faiss = _faiss()
    item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
    index = faiss.IndexHNSWFlat(item_factors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.hnsw.efSearch = EF_SEARCH
    start = time.perf_counter()
    index.add(item_factors)
    logger.info("HNSW index of %d x %d item factors built in %.1f s",
                *item_factors.shape, time.perf_counter() - start)
    return index


class _IndexCache:
    """A model's index, rebuilt when its ``item_factors_`` is another array (a refit
    drops it: ``fit``); pickled empty. An edit of the array in place is not seen."""

    def __init__(self):
        self._lock = Lock()  # (released in a child forked while a thread builds)
        self._factors = self._index = None

    def get(self, item_factors):
        with self._lock:  # one build when threads ask at once
            if self._index is None or self._factors() is not item_factors:
                self._index = build_index(item_factors)
                self._factors = weakref.ref(item_factors)
            return self._index

    def __reduce__(self):
        # pickled as a new empty cache under every protocol (a falsy
        # __getstate__ skips __setstate__ under protocols 0 and 1: no lock)
        return _IndexCache, ()


def index(model):
    """The model's HNSW index of ``item_factors_``, built on first use."""
    item_factors = factors(model)[1]
    cache = model.__dict__.get("_ann_index")
    if cache is None:
        cache = model.__dict__.setdefault("_ann_index", _IndexCache())
    return cache.get(item_factors)


def top_n(model, users, n, exclude_seen, batch_size):
    """Positions in ``items_`` and scores of each user's approximate top-``n``.

    ``users`` is a checked 1-D id array; ``n`` at most the catalog size.
    See the module's docstring for the over-fetching.
    """
    from ._contract import check_factor_scores
    from ._scores import _chunk_size, _seen_positions

    _chunk_size(batch_size, 1, len(users), type(model).__name__)  # checked as in exact search
    user_factors, item_factors = factors(model)
    rows = model._user_rows(users)  # unknown users raise as in exact search
    check_factor_scores(model, type(model).__name__, "approximate=True ranks by that product "
                        "alone: use approximate=False (exact search), or fold the rest into the "
                        "factors (e.g. an item bias as one more factor column, with a column of "
                        "ones on the user side).")
    model._refuse_users_without_interactions(users)  # as in exact search
    hnsw = index(model)
    seen = model.user_items_
    n_items = item_factors.shape[0]
    counts = np.zeros(len(rows), dtype=np.int64)
    known = rows >= 0
    if exclude_seen:
        counts[known] = np.diff(seen.indptr)[rows[known]]
    limit = min(n_items, max(MIN_EXACT_K, n_items // EXACT_FRACTION))
    k = np.minimum(np.maximum(EF_SEARCH, _next_power_of_two(n + counts)), limit)
    exact = ~known | (n + counts > limit)
    top = np.empty((len(rows), n), dtype=np.int64)
    top_scores = np.empty((len(rows), n), dtype=np.float32)
    pending = np.flatnonzero(~exact)
    while pending.size:
        failed = []
        for size in np.unique(k[pending]):
            group = pending[k[pending] == size]
            step = max(1, MAX_LABELS // int(size))
            if batch_size is not None:
                step = min(step, int(batch_size))
            for start in range(0, len(group), step):
                part = group[start:start + step]
                ok, ids, scores = _search(hnsw, user_factors[rows[part]], int(size), n,
                                          seen if exclude_seen else None, rows[part])
                top[part[ok]], top_scores[part[ok]] = ids[ok], scores[ok]
                failed.append(part[~ok])
        failed = np.concatenate(failed)
        exact[failed[k[failed] >= limit]] = True
        pending = failed[k[failed] < limit]
        k[pending] = np.minimum(2 * k[pending], limit)
    if exact.any():  # the exact path of recommend, for these users only
        where = np.flatnonzero(exact)
        for part, part_rows, scores in model._score_chunks(users[where], batch_size):
            if exclude_seen:
                mine = np.flatnonzero(part_rows >= 0)
                r, c = _seen_positions(seen, part_rows[mine])
                scores[mine[r], c] = -np.inf
            top[where[part]], top_scores[where[part]] = model._top(scores, n, users[where[part]])
    return top, top_scores


def _next_power_of_two(x):
    return 2 ** np.ceil(np.log2(np.maximum(x, 1))).astype(np.int64)


def _search(hnsw, queries, k, n, seen, rows):
    """``(ok, ids, scores)``: the first ``n`` unseen of ``k`` results per query.

    ``ok`` says which queries found ``n`` unseen items; ``seen`` is the
    user-item matrix (None: exclude nothing).
    """
    import faiss

    from ._scores import _seen_positions

    queries = np.ascontiguousarray(queries, dtype=np.float32)
    params = faiss.SearchParametersHNSW(efSearch=max(EF_SEARCH, k))
    scores, ids = hnsw.search(queries, k, params=params)  # best first, -1 pads
    valid = ids >= 0
    if seen is not None:
        local, cols = _seen_positions(seen, rows)
        width = np.int64(seen.shape[1])
        keys = np.arange(len(rows), dtype=np.int64)[:, None] * width + ids
        valid &= ~np.isin(keys, local * width + cols)
    # valid ones best first, equal scores by position in items_ (as exact search
    # orders them): faiss's heap returns ties in any order
    first = np.lexsort((ids, -scores, ~valid), axis=1)[:, :n]
    return (valid.sum(axis=1) >= n, np.take_along_axis(ids, first, axis=1),
            np.take_along_axis(scores, first, axis=1))


def approximate_recall(recommender, users=None, *, n=10, sample=1000, exclude_seen=True,
                       random_state=0):
    """Recall@n of approximate top-``n`` search against exact search.

    Ranks a sample of users both ways (``recommend(users, n,
    approximate=...)``) and counts, per user, the approximate items that
    belong to the exact top-``n``. Both lists are scored again in float64;
    items tied with the exact ``n``-th score count as hits up to the number
    of tied places the exact list holds, so that ties broken differently
    are not misses.

    Parameters
    ----------
    recommender : fitted recommender
        A model whose scores are ``user_factors_ @ item_factors_.T``
        (:class:`ALSRecommender`, ``SparkALSRecommender``); others raise a
        ``ValueError``, as ``recommend(..., approximate=True)`` does.
    users : array-like of shape (n_users,), default=None
        Users to sample from; None samples the users seen in ``fit`` with
        an interaction (``recommend`` refuses those whose rows all weigh 0).
    n : int, default=10
        Items per user (the ``k`` of recall@k).
    sample : int or None, default=1000
        Users drawn (without replacement) from ``users``; None takes them all.
    exclude_seen : bool, default=True
        Rank without each user's training items, as ``recommend`` does.
    random_state : int, RandomState instance or None, default=0
        Seeds the sample.

    Returns
    -------
    recall : float
        Mean over the sampled users of the share of the exact top-``n``
        (items scored ``-inf``, for users with fewer than ``n`` unseen
        items, left out) that the approximate search returns; 1.0 is
        exact.

    See Also
    --------
    BaseRecommender.recommend : ``approximate=True`` is the search measured.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec import ALSRecommender, approximate_recall
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3],
    ...                   "item_id": [10, 11, 10, 11, 12, 13]})
    >>> als = ALSRecommender(factors=2, random_state=0).fit(X)
    >>> als.recommend([3], n=2, approximate=True).shape
    (1, 2)
    >>> approximate_recall(als, n=2)
    1.0
    """
    from ._base import _check_user_ids

    owner = type(recommender).__name__
    check_is_fitted(recommender, "user_items_")
    factors(recommender)
    if not is_positive_int(n):
        raise ValueError(f"approximate_recall: n must be a positive int (the k of "
                         f"recall@k); got {n!r}.")
    if sample is not None and not is_positive_int(sample):
        raise ValueError(f"approximate_recall: sample must be a positive int (users "
                         f"drawn) or None (all users); got {sample!r}.")
    if users is None:  # (a user of impressions alone: recommend refuses it)
        counts = getattr(recommender, "n_user_interactions_", None)
        users = recommender.users_ if counts is None else recommender.users_[counts > 0]
    else:
        # a tuple that is one user id is that user, as in recommend
        users = _check_user_ids(users, owner, getattr(recommender, "_is_user", None))[0]
    if sample is not None and sample < len(users):
        rng = check_random_state(random_state)
        users = users[np.sort(rng.choice(len(users), size=sample, replace=False))]
    if len(users) == 0:
        raise ValueError("approximate_recall: users is empty; pass at least one user id.")
    kwargs = {"exclude_seen": exclude_seen, "return_scores": True}
    exact = recommender.recommend(users, n, **kwargs)
    approx = recommender.recommend(users, n, approximate=True, **kwargs)
    return float(recall_of(recommender, users, exact, approx).mean())


def recall_of(model, users, exact, approx):
    """Per user, the share of the exact top-``n`` that the approximate one reaches.

    ``exact`` and ``approx`` are ``(ids, scores)`` of ``model.recommend(users,
    n, return_scores=True)`` without and with ``approximate=True``. Both lists
    are scored again by one computation, ``user_factors_[u] @
    item_factors_[i]`` in float64, so that the two searches' float32 rounding
    (torch's and faiss') cannot make a tie look like a miss or a miss like a
    hit; then :func:`recall` counts, with a tolerance of that product's
    float64 rounding.
    """
    user, item = factors(model)
    rows = positions(pd.Index(model.users_), np.asarray(users))
    if (rows < 0).any():  # users scored without factors are ranked exactly both times
        raise ValueError("recall_of: every user must be one of model.users_ (users the "
                         "model scores without factors are ranked exactly anyway).")
    u = np.asarray(user)[rows].astype(np.float64)  # the sample's rows only
    item = np.asarray(item)
    catalog = pd.Index(model.items_)

    def rescored(ids, scores):
        ids, finite = np.asarray(ids), np.isfinite(scores)
        cols = positions(catalog, ids.ravel()).reshape(ids.shape)
        v = item[np.where(finite, cols, 0)].astype(np.float64)
        out = np.where(finite, np.einsum("uf,unf->un", u, v), -np.inf)
        return out, np.linalg.norm(v, axis=2).max(axis=1, initial=0.0)

    (exact, v_exact), (approx, v_approx) = rescored(*exact), rescored(*approx)
    tol = (64 * u.shape[1] * np.finfo(np.float64).eps * np.linalg.norm(u, axis=1)
           * np.maximum(v_exact, v_approx))
    return recall(exact, approx, tol)


def recall(exact, approx, tol=0.0):
    """Per user, the share of the exact top-``n`` that ``approx`` reaches, by scores.

    ``exact`` and ``approx`` are the scores of the exact and approximate
    top-``n`` (best first, ``-inf`` for excluded items), ``tol`` (per user
    or one value) the scores' rounding. An approximate item scoring above
    the exact ``n``-th finite score is a hit; items tied with it (within
    ``tol``) are hits up to the number of tied items the exact list holds,
    since any of the tied items completes the top-``n``.
    """
    exact = np.asarray(exact, dtype=np.float64)
    approx = np.asarray(approx, dtype=np.float64)
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), exact.shape[:1])[:, None]
    finite = np.isfinite(exact)
    wanted = finite.sum(axis=1)
    # the lowest, not the last: scored again, a float32 tie may come out of order
    last = np.where(finite, exact, np.inf).min(axis=1, initial=np.inf)[:, None]
    found = np.isfinite(approx)
    above = (found & (approx > last + tol)).sum(axis=1)
    tied_approx = (found & (np.abs(approx - last) <= tol)).sum(axis=1)
    tied_exact = (finite & (np.abs(exact - last) <= tol)).sum(axis=1)
    hits = above + np.minimum(tied_approx, tied_exact)
    return np.where(wanted > 0, np.minimum(hits, wanted) / np.maximum(wanted, 1), 1.0)
