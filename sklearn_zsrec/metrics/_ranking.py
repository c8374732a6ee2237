"""Ranking metrics for top-k recommendations, and a scorer built on them.

Every metric takes ``y_true``, one collection of relevant item ids per user,
and ``y_pred``, a 2-D array of recommended item ids (best first, one row per
user), and returns the mean over users of a per-user value. All share two
steps: :func:`_relevance` marks which of the top-k recommendations are
relevant, and :func:`_per_user` turns those marks into each user's value.

The conventions are trec_eval's (``ndcg_cut``, ``map_cut``, ``recall``,
``P``, ``success``, ``recip_rank``), checked in ``tests/test_metrics_trec.py``:

- positions past the end of a list (``k`` larger than the list) are misses;
- an id repeated in a list is a hit only the first time;
- MAP divides by the number of relevant items;
- users without relevant items are left out of the mean (with a warning),
  as trec_eval leaves out queries without relevance judgements.
"""

import inspect
import warnings
from collections.abc import Iterable
from numbers import Number

import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from .._ids import isin_ids, refuse_nul
from .._progress import caller_stacklevel
from .._scores import _seen_positions
from .._interactions import arrow_values, check_interactions, is_positive_int, positions
from ._inputs import _check_same_users, _check_y_pred, _check_y_true, _refuse_estimator


def _check_k(k, name="k", allow_none=False):
    if allow_none and k is None:
        return None
    if not is_positive_int(k):
        hint = "an int >= 1 or None" if allow_none else "an int >= 1"
        raise ValueError(
            f"{name} must be {hint}; got {k!r}. Pass the number of top "
            f"recommendations to evaluate, e.g. {name}=10."
        )
    return int(k)


def _concat(arrays):
    """Concatenate without casting ints to strings (or strings to ints)."""
    kinds = {a.dtype.kind for a in arrays}
    if len({a.dtype for a in arrays}) == 1 or kinds == {"U"}:
        return np.concatenate(arrays)
    return np.concatenate([a.astype(object) for a in arrays])


def _relevance(y_true, y_pred, k, filled=None, from_model=False):
    """Boolean (n_users, min(k, n_recommended)) hits and the relevant counts.

    An id repeated in a row of ``y_pred`` is a hit only the first time;
    repeated ids in ``y_true`` count once. Positions where ``filled`` (a
    boolean array of ``y_pred``'s shape) is False are empty: never hits.
    """
    _check_same_users(y_true, y_pred)
    y_pred = _check_y_pred(y_pred, from_model)
    relevant = _check_y_true(y_true, len(y_pred))
    top = y_pred if k is None else y_pred[:, :k]
    n_users = len(top)

    flat_true = _concat(relevant)
    ids = _concat([flat_true, top.ravel()])
    refuse_nul(ids, "y_true or y_pred")
    codes, uniques = pd.factorize(ids)
    true_codes, pred_codes = codes[: len(flat_true)], codes[len(flat_true) :]
    true_rows = np.repeat(np.arange(n_users), [len(r) for r in relevant])
    if (true_codes < 0).any():
        row = true_rows[np.argmax(true_codes < 0)]
        raise ValueError(
            f"y_true[{row}] contains a missing id (NaN or None); drop it."
        )
    if filled is not None:
        filled = np.asarray(filled, dtype=bool)[:, : top.shape[1]]
        pred_codes = np.where(filled.ravel(), pred_codes, -1)
    # one int64 key per (user row, id); code -1 (a missing id) never matches
    n_codes = len(uniques) + 1
    true_keys = np.unique(true_rows * n_codes + true_codes + 1)
    n_relevant = np.bincount(true_keys // n_codes, minlength=n_users)

    pred_rows = np.repeat(np.arange(n_users), top.shape[1])
    pred_keys = pred_rows * n_codes + pred_codes + 1
    hits = np.isin(pred_keys, true_keys) & (pred_codes >= 0)
    hits &= ~pd.Series(pred_keys).duplicated().to_numpy()
    if not hits.any() and len(flat_true):
        _warn_other_kinds(flat_true, top)
    return hits.reshape(top.shape), n_relevant


def _id_kind(kind):
    """The kind of ids of type ``kind``: equal ids of one kind can match (1 == 1.0)."""
    if issubclass(kind, str):
        return "str"
    return "number" if issubclass(kind, (Number, np.number)) else kind.__name__


def _warn_other_kinds(true, top):
    """Warn when no id of ``y_true`` can match one of ``y_pred`` (strings against ints).

    By the package's rule they are other ids (``'1'`` is not ``1``), so every
    metric is 0; ids read from a CSV or JSON file as strings are the usual cause.
    """
    def kinds(a):
        if a.dtype.kind in "US":  # numpy's bytes ("S", from np.loadtxt) are not str
            return {"str" if a.dtype.kind == "U" else "bytes"}
        if a.dtype.kind in "iub" or (a.dtype.kind == "f" and not np.isnan(a).all()):
            return {"number"}
        ids = pd.unique(a.ravel())  # an object array: the types of its distinct ids
        return {_id_kind(kind) for kind in {type(v) for v in ids[pd.notna(ids)]}}

    found = [kinds(true), kinds(top)]
    if all(found) and not found[0] & found[1]:
        warnings.warn(
            f"y_true's ids are of kind {sorted(found[0])} and y_pred's of kind "
            f"{sorted(found[1])}: ids of another type are other ids (e.g. '1' is not 1), so "
            "nothing is a hit. Convert one side to the other's type.", UserWarning,
            stacklevel=caller_stacklevel())


# Per-user values from the hits (n_users, n_positions) and the number of
# relevant items (n_users,); divisions by 0 relevant items give NaN or inf,
# which _per_user replaces with NaN (left out).


def _hit_rate_values(hits, n_relevant, k):
    return hits.any(axis=1).astype(float)


def _precision_values(hits, n_relevant, k):
    return hits.sum(axis=1) / k


def _recall_values(hits, n_relevant, k):
    return hits.sum(axis=1) / n_relevant


def _ndcg_values(hits, n_relevant, k):
    discount = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    # summed in order, as the ideal DCG below: a perfect ranking is exactly 1
    # (a dot product summed pairwise and gave 1.0000000000000002 at 32 hits)
    # (column by column: a cumsum's n x k temporaries took 12x the time and twice the memory)
    dcg = np.zeros(len(hits))
    for j in range(hits.shape[1]):
        dcg += hits[:, j] * discount[j]
    n_ideal = np.minimum(n_relevant, k)
    gains = 1.0 / np.log2(np.arange(2, n_ideal.max() + 2))
    ideal = np.concatenate([[0.0], np.cumsum(gains)])  # ideal[n]: n hits first
    return dcg / ideal[n_ideal]


def _map_values(hits, n_relevant, k):
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    return (precision * hits).sum(axis=1) / n_relevant


def _mrr_values(hits, n_relevant, k):
    if hits.shape[1] == 0:  # an empty list: no hit
        return np.zeros(len(hits))
    first = hits.argmax(axis=1)
    return np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)


_PER_USER = {
    "hit_rate": _hit_rate_values,
    "ndcg": _ndcg_values,
    "recall": _recall_values,
    "precision": _precision_values,
    "map": _map_values,
    "mrr": _mrr_values,
}


def _per_user(metric, y_true, y_pred, k, filled=None, from_model=False):
    """Each user's value of ``metric``; NaN for users without relevant items.

    The one code path of every metric: the public functions average these
    values over the users that are not NaN (:func:`_mean_over_users`).

    Parameters
    ----------
    metric : str or callable
        A name of ``_METRICS`` or one of its functions.
    y_true, y_pred, k
        As in the public metrics (``k`` may be None for ``"mrr"`` only).
    filled : ndarray of bool of y_pred's shape, default=None
        False marks empty positions (never hits), e.g. the items a
        recommender scored ``-inf``.
    from_model : bool, default=False
        ``y_pred`` is a model's own ``recommend`` output: ids, whatever
        their type (no warning about a score matrix for float ids).

    Returns
    -------
    values : ndarray of shape (n_users,), float64
    """
    name, _ = _check_metric(metric)
    _refuse_estimator(y_true, "y_true")
    k = _check_k(k, allow_none=name == "mrr")
    hits, n_relevant = _relevance(y_true, y_pred, k, filled, from_model)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.asarray(_PER_USER[name](hits, n_relevant, k), dtype=np.float64)
    values[n_relevant == 0] = np.nan
    return values


def _mean_over_users(values):
    """Mean of the per-user values over users with relevant items (not NaN)."""
    left_out = np.flatnonzero(np.isnan(values))
    if len(left_out) == len(values):
        raise ValueError(
            f"y_true: none of the {len(values)} users has a relevant item, so "
            "there is nothing to rank against; users without relevant items "
            "are left out of the mean (as trec_eval leaves out queries without "
            "relevance judgements). Pass each user's relevant (e.g. held-out) "
            "item ids."
        )
    if len(left_out):
        rows = ", ".join(f"y_true[{i}]" for i in left_out[:5])
        more = ", ..." if len(left_out) > 5 else ""
        warnings.warn(
            f"y_true: {len(left_out)} of {len(values)} users have no relevant "
            f"item ({rows}{more}); they are left out of the mean, as trec_eval "
            "leaves out queries without relevance judgements. Drop those users "
            "from y_true and y_pred to silence this warning.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
        values = np.delete(values, left_out)
    return float(values.mean())


def hit_rate_at_k(y_true, y_pred, k=10):
    """Hit rate: fraction of users with at least one relevant item in the top k.

    Per user, trec_eval's ``success_k``.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids,
        paired with ``y_pred``'s rows by position (both indexed by user in
        other orders raise). Users with an empty collection are left out of
        the mean, with a warning (as trec_eval leaves out queries without
        relevance judgements).
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended item ids per user, best first. Ids may be ints or strings.
    k : int, default=10
        Number of top recommendations evaluated. When ``y_pred`` has fewer
        than ``k`` columns, the missing positions count as misses.

    Returns
    -------
    score : float
        Mean over users of 1 (a hit in the top ``k``) or 0, in [0, 1].

    Examples
    --------
    >>> from sklearn_zsrec.metrics import hit_rate_at_k
    >>> hit_rate_at_k([[3], ["a", "b"]], [[1, 2, 3], ["c", "d", "e"]], k=3)
    0.5
    >>> hit_rate_at_k([[3], ["a", "b"]], [[1, 2, 3], ["c", "d", "e"]], k=2)
    0.0
    """
    return _mean_over_users(_per_user("hit_rate", y_true, y_pred, k))


def precision_at_k(y_true, y_pred, k=10):
    """Precision: fraction of the top k recommendations that are relevant.

    Per user, trec_eval's ``P_k``: hits over ``k``, also when ``y_pred``
    has fewer than ``k`` columns.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids,
        paired with ``y_pred``'s rows by position (both indexed by user in
        other orders raise). Users with an empty collection are left out of
        the mean, with a warning (as trec_eval leaves out queries without
        relevance judgements).
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended item ids per user, best first. Ids may be ints or strings.
    k : int, default=10
        Number of top recommendations evaluated. When ``y_pred`` has fewer
        than ``k`` columns, the missing positions count as misses.

    Returns
    -------
    score : float
        Mean over users of ``hits in the top k / k``, in [0, 1].

    Examples
    --------
    >>> from sklearn_zsrec.metrics import precision_at_k
    >>> precision_at_k([[1, 3], [9]], [[1, 2, 3, 4], [5, 6, 7, 9]], k=4)
    0.375
    """
    return _mean_over_users(_per_user("precision", y_true, y_pred, k))


def recall_at_k(y_true, y_pred, k=10):
    """Recall: fraction of each user's relevant items found in the top k.

    Per user, trec_eval's ``recall_k``.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids,
        paired with ``y_pred``'s rows by position (both indexed by user in
        other orders raise). Users with an empty collection are left out of
        the mean, with a warning (as trec_eval leaves out queries without
        relevance judgements).
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended item ids per user, best first. Ids may be ints or strings.
    k : int, default=10
        Number of top recommendations evaluated. When ``y_pred`` has fewer
        than ``k`` columns, the missing positions count as misses.

    Returns
    -------
    score : float
        Mean over users of ``hits in the top k / number of relevant items``,
        in [0, 1].

    Examples
    --------
    >>> from sklearn_zsrec.metrics import recall_at_k
    >>> recall_at_k([[1, 3], [9]], [[1, 2, 3, 4], [5, 6, 7, 9]], k=2)
    0.25
    """
    return _mean_over_users(_per_user("recall", y_true, y_pred, k))


def ndcg_at_k(y_true, y_pred, k=10):
    """Normalized discounted cumulative gain with binary relevance.

    ``DCG = sum_i rel_i / log2(i + 1)`` over positions ``i = 1..k``; it is
    divided by the DCG of an ideal list, which has ``min(n_relevant, k)``
    relevant items first. Per user, trec_eval's ``ndcg_cut_k`` with binary
    relevance.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids,
        paired with ``y_pred``'s rows by position (both indexed by user in
        other orders raise). Users with an empty collection are left out of
        the mean, with a warning (as trec_eval leaves out queries without
        relevance judgements).
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended item ids per user, best first. Ids may be ints or strings.
    k : int, default=10
        Number of top recommendations evaluated. When ``y_pred`` has fewer
        than ``k`` columns, the missing positions count as misses.

    Returns
    -------
    score : float
        Mean NDCG@k over users, in [0, 1].

    Examples
    --------
    >>> from sklearn_zsrec.metrics import ndcg_at_k
    >>> # user 0: DCG = 1/log2(2) + 1/log2(4) = 1.5, IDCG = 1 + 1/log2(3)
    >>> round(ndcg_at_k([[10, 30], [20]], [[10, 20, 30], [30, 40, 50]], k=3), 4)
    0.4599
    """
    return _mean_over_users(_per_user("ndcg", y_true, y_pred, k))


def map_at_k(y_true, y_pred, k=10):
    """Mean average precision over the top k (trec_eval's ``map_cut``).

    ``AP@k = (sum of precision@i over the positions i <= k holding a relevant
    item) / n_relevant``, where ``n_relevant`` is the number of the user's
    relevant items: trec_eval's ``map_cut_k`` and ranx's ``map@k``. When a
    user has more relevant items than ``k``, AP@k is then at most
    ``k / n_relevant``.

    Some libraries divide by ``min(n_relevant, k)`` instead, so that a top k
    full of relevant items scores 1. To get that variant, rescale each
    user's value: ``map_at_k([r], [p], k) * n / min(n, k)`` with
    ``n = len(set(r))``, for each user's relevant ids ``r`` and ranking
    ``p``, then average.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids,
        paired with ``y_pred``'s rows by position (both indexed by user in
        other orders raise). Users with an empty collection are left out of
        the mean, with a warning (as trec_eval leaves out queries without
        relevance judgements).
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended item ids per user, best first. Ids may be ints or strings.
    k : int, default=10
        Number of top recommendations evaluated. When ``y_pred`` has fewer
        than ``k`` columns, the missing positions count as misses.

    Returns
    -------
    score : float
        Mean AP@k over users, in [0, 1].

    Examples
    --------
    >>> from sklearn_zsrec.metrics import map_at_k
    >>> # user 0: 3 relevant, hits at ranks 1 and 2: (1/1 + 2/2) / 3
    >>> # user 1: 1 relevant, hit at rank 2: (1/2) / 1
    >>> round(map_at_k([[1, 2, 3], [6]], [[1, 2, 9], [5, 6, 7]], k=2), 4)
    0.5833
    >>> # dividing by min(n_relevant, k) instead: (2 / 2 + 0.5) / 2
    >>> y_true, y_pred, k = [[1, 2, 3], [6]], [[1, 2, 9], [5, 6, 7]], 2
    >>> ap_min = [
    ...     map_at_k([r], [p], k) * len(set(r)) / min(len(set(r)), k)
    ...     for r, p in zip(y_true, y_pred)
    ... ]
    >>> sum(ap_min) / len(ap_min)
    0.75
    """
    return _mean_over_users(_per_user("map", y_true, y_pred, k))


def mrr(y_true, y_pred, k=None):
    """Mean reciprocal rank of the first relevant item.

    Per user, trec_eval's ``recip_rank`` when ``k`` is None.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids,
        paired with ``y_pred``'s rows by position (both indexed by user in
        other orders raise). Users with an empty collection are left out of
        the mean, with a warning (as trec_eval leaves out queries without
        relevance judgements).
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended item ids per user, best first. Ids may be ints or strings.
    k : int or None, default=None
        Only the first ``k`` recommendations count; all of them when None
        (trec_eval's ``recip_rank``, which has no cutoff).

    Returns
    -------
    score : float
        Mean over users of ``1 / rank`` of the first relevant item (0 when
        none is in the top ``k``, or when ``y_pred`` has 0 columns), in
        [0, 1].

    Examples
    --------
    >>> from sklearn_zsrec.metrics import mrr
    >>> mrr([[3], [5]], [[1, 2, 3], [5, 6, 7]])  # (1/3 + 1/1) / 2
    0.6666666666666666
    >>> mrr([[3], [5]], [[1, 2, 3], [5, 6, 7]], k=2)
    0.5
    """
    return _mean_over_users(_per_user("mrr", y_true, y_pred, k))


def catalog_coverage(y_pred, catalog, k=None):
    """Fraction of the catalog recommended to at least one user.

    Parameters
    ----------
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended item ids per user, best first; missing values (NaN or
        None) are empty positions. ``recommend`` fills the list of a user
        with fewer than ``n`` unseen items with training items scored
        ``-inf``, which count here: to leave them out, pass
        ``np.where(np.isfinite(scores), ids, None)`` from
        ``ids, scores = model.recommend(users, n, return_scores=True)``.
    catalog : collection of item ids
        All the items that could be recommended; repeated ids count once.
        Recommended ids outside the catalog are ignored.
    k : int or None, default=None
        Only the first ``k`` recommendations count; all of them when None.

    Returns
    -------
    coverage : float
        Number of catalog items in the top ``k`` of any user, divided by the
        number of catalog items.

    Examples
    --------
    >>> from sklearn_zsrec.metrics import catalog_coverage
    >>> catalog_coverage([[1, 2], [2, 3]], catalog=[1, 2, 3, 4])
    0.75
    >>> catalog_coverage([[1, 2], [2, 3]], catalog=[1, 2, 3, 4], k=1)
    0.5
    """
    k = _check_k(k, allow_none=True)
    top = _check_y_pred(y_pred)[:, :k]
    catalog = arrow_values(catalog)
    if isinstance(catalog, (str, bytes)) or not isinstance(catalog, Iterable):
        raise ValueError(
            f"catalog must be a collection of item ids; got {catalog!r}."
        )
    if getattr(catalog, "ndim", 1) > 1:  # (a list of tuple ids is 1-D: tuples are ids)
        raise ValueError(
            f"catalog must be a 1-D collection of item ids; got shape {np.shape(catalog)} "
            "(e.g. items[['item_id']]: take the column, items['item_id']).")
    ids = pd.unique(np.fromiter(catalog, dtype=object))
    if len(ids) == 0:
        raise ValueError("catalog is empty; pass the ids of all items.")
    if pd.isna(ids).any():
        raise ValueError("catalog contains a missing id (NaN or None); drop it.")
    recommended = top.ravel().astype(object)
    recommended = recommended[pd.notna(recommended)]  # NaN or None pads: no recommendation
    covered = isin_ids(ids, recommended)
    if not covered.any() and len(recommended):
        # e.g. item_texts passed as catalog: its values are texts, its index the ids
        hint = (" It is a Series: are the ids its index (catalog=item_texts.index)?"
                if isinstance(catalog, pd.Series) else "")
        warnings.warn(f"catalog_coverage: none of the recommended ids is in catalog (e.g. "
                      f"{ids[:3].tolist()} against {top.ravel()[:3].tolist()}): coverage "
                      f"0.{hint}", UserWarning, stacklevel=caller_stacklevel())
    return float(covered.mean())


_METRICS = {
    "hit_rate": hit_rate_at_k,
    "ndcg": ndcg_at_k,
    "recall": recall_at_k,
    "precision": precision_at_k,
    "map": map_at_k,
    "mrr": mrr,
}


def _check_metric(metric):
    """Return ``(name, function)`` for a metric name or metric function."""
    if isinstance(metric, str) and metric in _METRICS:
        return metric, _METRICS[metric]
    for name, function in _METRICS.items():
        if metric is function:
            return name, function
    raise ValueError(
        f"metric must be one of {sorted(_METRICS)} or one of the functions "
        f"{[f.__name__ for f in _METRICS.values()]}; got {metric!r}."
    )


def _group_by_user(user, item):
    """Distinct users in order of first appearance, and each one's items."""
    codes, users = pd.factorize(user)
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes))[:-1]
    return np.asarray(users), np.split(np.asarray(item)[order], bounds)


def _final_recommender(estimator, X):
    """The recommender that ends ``estimator`` and X transformed to reach it.

    A :class:`~sklearn.pipeline.Pipeline` (nested ones included) is unwrapped:
    X goes through the ``transform`` of every step but the last (steps
    ``None`` and ``"passthrough"`` do nothing), as ``Pipeline.score`` does.
    A fitted search (``GridSearchCV`` and the like, nested in
    ``cross_validate``) is read through its ``best_estimator_``, as its own
    ``score`` does; a ``FrozenEstimator`` (a model fitted beforehand), through
    the estimator it holds.
    """
    while (isinstance(estimator, (Pipeline, FrozenEstimator))
           or hasattr(estimator, "cv_results_")):
        if isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
            continue
        if not isinstance(estimator, Pipeline):
            if not hasattr(estimator, "best_estimator_"):
                raise ValueError(
                    f"{type(estimator).__name__} was fitted with refit=False: it has no "
                    "best_estimator_ to score. Pass refit=True (the default).")
            estimator = estimator.best_estimator_
            continue
        *steps, (name, last) = estimator.steps
        for _, step in steps:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            X = step.transform(X)
        if last is None or isinstance(last, str):
            raise ValueError(
                f"Pipeline: the last step {name!r} is {last!r}, not a "
                "recommender; a rank scorer needs a pipeline that ends in a "
                "recommender (an estimator with a recommend method)."
            )
        estimator = last
    if not callable(getattr(estimator, "recommend", None)):
        raise TypeError(
            f"{type(estimator).__name__} has no recommend method; a rank scorer "
            "scores a recommender, or a Pipeline that ends in one, e.g. "
            "PopularityRecommender()."
        )
    return estimator, X


def _ids_and_scores(out, n_users):
    """``out`` as checked (ids, scores) of ``n_users`` rows each (any layout of ids), or None."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return None
    try:
        ids = _check_y_pred(out[0], from_model=True)
    except ValueError:
        return None
    return (ids, out[1]) if ids.shape[0] == n_users and np.shape(out[1]) == ids.shape else None


def _described(value):
    """``value``'s type, and its shape if it is an array."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    length = f" of length {len(value)}" if hasattr(value, "__len__") else ""
    return f"a {type(value).__name__}{length}"


def _recommend_parameters(recommend):
    """The keyword names ``recommend`` accepts (all of them with ``**kwargs``)."""
    try:
        parameters = inspect.signature(recommend).parameters
    except (TypeError, ValueError):  # no signature: ask for the minimum
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return {"exclude_seen", "return_scores"}
    return set(parameters)


def _check_known_items(estimator, name, item):
    """Columns of the held-out items in ``items_`` (-1 for unknown items).

    Unknown items cannot be recommended: their rows stay relevant items that
    are never retrieved (misses), as trec_eval counts relevant documents a
    run does not retrieve, with one warning that counts them.
    """
    cols = positions(pd.Index(estimator.items_), item)
    if (cols < 0).any():
        unknown = pd.unique(item[cols < 0])
        warnings.warn(
            f"{name}: {int((cols < 0).sum())} of {len(cols)} held-out rows of X "
            f"have items that are not in the catalog (items_; e.g. "
            f"{np.asarray(unknown[:5]).tolist()}). recommend() cannot return "
            "them, so they count as relevant items never recommended (misses), "
            "as in trec_eval. To leave them out, drop those rows, e.g. "
            "X[X['item_id'].isin(model.items_)]; to score them, refit with "
            "those items (e.g. their texts in item_texts).",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    return cols


def _warn_new_users(estimator, name, user):
    """Warn once when held-out users were not seen in ``fit``: a split of whole users.

    Such a user is scored as a new user (by its text, or popularity) against
    all its rows, a cold-start figure: scikit-learn's default ``cv``
    (``KFold`` without shuffle) on a log sorted by user gave NDCG@10 10-35
    times the known users' next-item figure, without a word.
    """
    users = pd.unique(user)
    new = users[positions(pd.Index(estimator.users_), users) < 0]
    if len(new):
        warnings.warn(
            f"{name}: {len(new)} of {len(users)} users of the held-out rows were not seen "
            f"in fit (users_; e.g. {np.asarray(new[:5]).tolist()}): they are scored as new "
            "users (by their texts, or by popularity) against all their held-out items, a "
            "cold-start figure, not known users' next items. Splits of whole users do "
            "this: scikit-learn's default cv (KFold without shuffle, on a log sorted by "
            "user), GroupKFold, TimeSeriesSplit. To score known users' next items, split "
            "with sklearn_zsrec.model_selection.LeaveLastOut; to score cold users on "
            "purpose, silence this warning.",
            UserWarning, stacklevel=caller_stacklevel())


def _training_rows(estimator, user, cols):
    """Held-out rows whose ``(user, item)`` is a training pair, and how many are impressions.

    The training pairs are the stored entries of ``user_items_`` (rows
    ``users_``, columns ``items_``): the items ``recommend`` excludes,
    found as ``recommend`` finds them (``_seen_positions``), for the
    held-out users only. Those stored with weight 0 are impressions (shown,
    not clicked), which count as seen too.
    """
    user_items = estimator.user_items_.tocsr()
    rows = positions(pd.Index(estimator.users_), user)
    known = (rows >= 0) & (cols >= 0)
    out = np.zeros(len(rows), dtype=bool)
    if known.any():
        distinct, local = np.unique(rows[known], return_inverse=True)
        seen_rows, seen_cols = _seen_positions(user_items, distinct)
        n_items = user_items.shape[1]
        train_keys = seen_rows.astype(np.int64) * n_items + seen_cols
        out[known] = np.isin(local.astype(np.int64) * n_items + cols[known], train_keys)
    n_shown = 0
    if out.any():
        n_shown = int((np.asarray(user_items[rows[out], cols[out]]).ravel() == 0).sum())
    return out, n_shown


def _score_recommender(estimator, X, metric="ndcg", k=10, exclude_seen=True, y=None):
    """Rank each user of X with ``estimator`` and score against their rows.

    See :func:`make_rank_scorer` for the conventions. The estimators'
    ``score`` calls ``_score_recommender(self, X, "ndcg", 10, y=y)``.
    """
    metric, _ = _check_metric(metric)
    k = _check_k(k)
    estimator, X = _final_recommender(estimator, X)
    name = type(estimator).__name__
    data = check_interactions(X, y, estimator_name=name, duplicates="keep", reads_order=False)
    # rows of weight 0 (impressions without a click) are no interaction: not relevant
    some = data.interacted
    if not some.any():
        raise ValueError(
            f"{name}: none of the {len(some)} held-out rows of X has a non-zero weight "
            "(X's 'weight' column or y), so there is no relevant item to score: rows "
            "of weight 0 (impressions without a click) are not relevant items. Score "
            "on rows that include interactions.")
    user, item = data.user_id[some], data.item_id[some]
    n_all, n_some = len(pd.unique(data.user_id)), len(pd.unique(user))
    if n_some < n_all:  # as users without relevant items in the metrics
        warnings.warn(
            f"{name}: {n_all - n_some} of {n_all} users of the held-out rows have only rows "
            "of weight 0 (impressions without a click), so no relevant item; they are left "
            "out of the mean. Drop their rows from X to silence this warning; in "
            "cross-validation, LeaveLastOut holds out interactions only (a shuffled "
            "KFold holds out impressions too).",
            UserWarning, stacklevel=caller_stacklevel())
    keep, n_shown = np.ones(len(user), dtype=bool), 0
    if hasattr(estimator, "users_") and getattr(estimator, "_handles_unknown_users", True):
        _warn_new_users(estimator, name, user)  # (the others raise, naming them)
    if hasattr(estimator, "items_"):
        cols = _check_known_items(estimator, name, item)
        knows_training = all(
            hasattr(estimator, a) for a in ("users_", "user_items_")
        )
        if exclude_seen and knows_training:
            seen, n_shown = _training_rows(estimator, user, cols)
            keep = ~seen
    users, relevant = _group_by_user(user[keep], item[keep])
    if not keep.all():
        n_users = len(pd.unique(user))
        _report_training_rows(name, len(keep), int((~keep).sum()), n_users, len(users),
                              n_shown)

    parameters = _recommend_parameters(estimator.recommend)
    options = {}
    if "exclude_seen" in parameters:
        options["exclude_seen"] = exclude_seen
    elif not exclude_seen:
        raise ValueError(
            f"{name}.recommend has no exclude_seen parameter, so it cannot rank "
            "training items; use make_rank_scorer(metric, exclude_seen=True) "
            "with it."
        )
    filled = None
    if "return_scores" in parameters:
        out = estimator.recommend(users, n=k, return_scores=True, **options)
        pair = _ids_and_scores(out, len(users))
        if pair is None:
            raise TypeError(
                f"{name}.recommend accepts return_scores (or **kwargs), so the scorer "
                "called it with return_scores=True, which must return a pair (ids, "
                f"scores) of shape (n_users, n); it returned {_described(out)}. Return "
                "that pair, or give recommend explicit parameters without return_scores.")
        y_pred, scores = pair
        # items scored -inf were excluded (e.g. training items filling a list
        # when fewer than k remain): empty positions, never hits
        filled = np.asarray(scores) != -np.inf
    else:
        y_pred = estimator.recommend(users, n=k, **options)
    return float(np.mean(_per_user(metric, relevant, y_pred, k, filled, from_model=True)))


def _report_training_rows(name, n_rows, n_left_out, n_users, n_users_left, n_shown=0):
    """Warn about held-out rows left out as training pairs, or raise.

    ``n_shown`` of them are impressions in training (weight 0): seen, so
    excluded too, but not interactions, so not "repeated interactions".
    """
    fix = (
        "rank training items too with make_rank_scorer(metric, "
        "exclude_seen=False), or drop repeated interactions from the held-out rows"
    )
    repeat = "repeat one of their user's training interactions (user_items_)"
    if n_shown:
        fix = ("rank training items too with make_rank_scorer(metric, "
               "exclude_seen=False), or drop these rows from the held-out rows")
        n_repeated = n_left_out - n_shown
        repeat = (f"are training pairs of their user (user_items_): {n_repeated} "
                  f"repeat{'s' * (n_repeated == 1)} an interaction and {n_shown} "
                  f"{'is an item' if n_shown == 1 else 'are items'} shown to the user in "
                  "training without a click (rows of weight 0, which count as seen)")
    if n_users_left == 0:
        raise ValueError(
            f"{name}: no held-out row is left to score: all {n_rows} rows of X "
            f"{repeat}, which recommend() excludes. To score them, {fix}. (A train score scores "
            "the training rows: return_train_score=True, the default of the halving "
            "searches, computes one, as learning_curve and validation_curve always do. "
            "With error_score='raise', pass return_train_score=False to a search; in the "
            "curves, leave error_score at its default, which makes their train scores NaN. "
            "make_rank_scorer(metric, exclude_seen=False) scores the training rows, but "
            "ranks the held-out users' training items too, which changes their test "
            "scores.)"
        )
    gone = n_users - n_users_left
    users = (
        f"; {gone} of {n_users} users have no relevant item left and are left "
        "out of the mean (as trec_eval leaves out queries without relevance "
        "judgements)"
        if gone
        else ""
    )
    warnings.warn(
        f"{name}: {n_left_out} of {n_rows} held-out rows of X {repeat}; recommend() "
        "excludes training items, so these rows cannot be recommended and are "
        f"left out of the relevant items{users}. To count them, {fix}.",
        UserWarning,
        stacklevel=caller_stacklevel(),
    )


class _RankScorer:
    """Scorer ``scorer(estimator, X, y=None)`` returned by make_rank_scorer."""

    def __init__(self, metric, k, exclude_seen):
        self._name, self._metric = _check_metric(metric)
        self._k = _check_k(k)
        if not isinstance(exclude_seen, (bool, np.bool_)):
            raise ValueError(
                f"exclude_seen must be True or False; got {exclude_seen!r}. "
                "True leaves out held-out rows that repeat a training "
                "interaction; False ranks training items too."
            )
        self._exclude_seen = bool(exclude_seen)

    def __call__(self, estimator, X, y=None):
        return _score_recommender(
            estimator, X, self._name, self._k, exclude_seen=self._exclude_seen, y=y
        )

    def __repr__(self):
        extra = "" if self._exclude_seen else ", exclude_seen=False"
        return f"make_rank_scorer({self._name!r}, k={self._k}{extra})"


def make_rank_scorer(metric, k=10, exclude_seen=True):
    """Make a scorer from a ranking metric, for model selection tools.

    The scorer takes held-out interactions, asks the estimator for the top
    ``k`` items of each of their users (``estimator.recommend(users, n=k)``)
    and scores them against each user's held-out items: the mean over users
    of the metric. Greater is better.

    Conventions (trec_eval's, as the metrics):

    - **Training items.** With ``exclude_seen=True`` (the default, and what
      the estimators' ``score`` does), ``recommend`` leaves out each user's
      training interactions (the fitted ``user_items_``), so a held-out row
      whose ``(user_id, item_id)`` is one of them can never be recommended:
      such rows (repeated interactions) are left out of the relevant items,
      with one ``UserWarning`` that counts them. Items shown to the user in
      training without a click (rows of weight 0, stored in ``user_items_``)
      count as seen too: a held-out click on one is left out the same way,
      and the warning counts those apart. With
      ``exclude_seen=False``, training items are ranked too
      (``recommend(users, n=k, exclude_seen=False)``) and every row counts.
    - **Users without relevant items** (all their rows left out) are left
      out of the mean, as trec_eval leaves out queries without relevance
      judgements; when no user is left, a ``ValueError`` is raised.
    - **Short lists.** Positions that ``recommend`` scores ``-inf`` (excluded
      items filling the list when fewer than ``k`` items remain) are empty:
      never hits. Positions past the end of the list are misses.
    - **Unknown items.** Held-out items that are not in the estimator's
      catalog (``items_``) cannot be recommended: they count as relevant
      items never retrieved (misses), with one ``UserWarning``; users the
      estimator cannot score raise from ``recommend``.
    - **Weights.** Held-out rows of weight 0 (X's ``weight`` column, or
      ``y`` as in ``fit``: impressions without a click) are no interaction:
      they are not relevant items. Other weights do not grade relevance.

    A :class:`~sklearn.pipeline.Pipeline` that ends in a recommender is
    scored as that recommender, on X transformed by the steps before it.
    Estimators without ``items_``, ``users_`` and ``user_items_`` (any object
    with ``recommend(users, n)``) are scored on every row.

    Parameters
    ----------
    metric : {"hit_rate", "ndcg", "recall", "precision", "map", "mrr"} or callable
        The metric's name, or one of :func:`hit_rate_at_k`,
        :func:`ndcg_at_k`, :func:`recall_at_k`, :func:`precision_at_k`,
        :func:`map_at_k` and :func:`mrr`.
    k : int, default=10
        Number of recommendations per user.
    exclude_seen : bool, default=True
        Rank only items outside each user's training interactions, and leave
        out the held-out rows that repeat a training interaction (see
        above). False ranks training items too and counts every row.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``, where ``X`` is a DataFrame
        with columns ``user_id`` and ``item_id`` or an array of shape
        (n, 2) or (n, 3) with columns ``user_id, item_id[, timestamp]``;
        ``y``, the rows' weights as in ``fit`` (or None), leaves the rows of
        weight 0 out of the relevant items. Pass it as ``scoring`` to
        :class:`~sklearn.model_selection.GridSearchCV` or
        :func:`~sklearn.model_selection.cross_validate`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_zsrec.metrics import make_rank_scorer
    >>> scorer = make_rank_scorer("recall", k=2)
    >>> scorer
    make_rank_scorer('recall', k=2)
    >>> class Constant:  # always recommends items 7, 8, 9
    ...     def recommend(self, users, n=10):
    ...         return np.tile([7, 8, 9], (len(users), 1))[:, :n]
    >>> held_out = np.array([[1, 8], [2, 5], [1, 9]])  # user_id, item_id
    >>> scorer(Constant(), held_out)  # user 1: 1 of {8, 9}; user 2: 0 of {5}
    0.25

    A held-out row that repeats a training interaction is left out:

    >>> import pandas as pd
    >>> import warnings
    >>> from sklearn_zsrec import PopularityRecommender
    >>> train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [7, 8, 7]})
    >>> model = PopularityRecommender().fit(train)
    >>> test = pd.DataFrame({"user_id": [1, 2], "item_id": [7, 8]})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     make_rank_scorer("hit_rate", k=1)(model, test)  # only user 2
    1.0
    >>> print(str(caught[0].message)[:68])
    PopularityRecommender: 1 of 2 held-out rows of X repeat one of their
    >>> make_rank_scorer("hit_rate", k=1, exclude_seen=False)(model, test)
    0.5
    """
    return _RankScorer(metric, k, exclude_seen)
