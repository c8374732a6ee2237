"""Ranking metrics for top-k recommendations, and a scorer built on them.

Every metric takes ``y_true``, one collection of relevant item ids per user,
and ``y_pred``, a 2-D array of recommended item ids (best first, one row per
user), and returns the mean over users. All share one step,
:func:`_relevance`, which marks which of the top-k recommendations are
relevant.
"""

from collections.abc import Iterable
from numbers import Integral

import numpy as np
import pandas as pd


def _check_k(k, name="k", allow_none=False):
    if allow_none and k is None:
        return None
    if not isinstance(k, Integral) or isinstance(k, bool) or k < 1:
        hint = "an int >= 1 or None" if allow_none else "an int >= 1"
        raise ValueError(
            f"{name} must be {hint}; got {k!r}. Pass the number of top "
            f"recommendations to evaluate, e.g. {name}=10."
        )
    return int(k)


def _check_y_pred(y_pred):
    if isinstance(y_pred, np.ndarray):
        arr = y_pred
    else:
        try:
            arr = np.asarray(y_pred)
        except ValueError:  # ragged lists
            arr = np.asarray(y_pred, dtype=object)
        if arr.dtype.kind in "US":  # keep ints among strings as ints
            arr = np.asarray(y_pred, dtype=object)
    if arr.ndim != 2:
        raise ValueError(
            "y_pred must be a 2-D array of shape (n_users, n_recommended) "
            f"holding item ids; got an array of shape {arr.shape}. Every row "
            "must have the same length, e.g. the output of recommend(users, n=k)."
        )
    if arr.shape[0] == 0:
        raise ValueError("y_pred has 0 rows; at least one user is required.")
    return arr


def _check_y_true(y_true, n_users):
    if isinstance(y_true, (str, bytes)) or not hasattr(y_true, "__len__"):
        raise ValueError(
            "y_true must be a sequence with one collection of relevant item "
            f"ids per user; got {y_true!r}."
        )
    if len(y_true) != n_users:
        raise ValueError(
            "y_true and y_pred must have one entry per user; got "
            f"{len(y_true)} relevant sets in y_true and {n_users} rows in y_pred."
        )
    relevant = []
    for row, items in enumerate(y_true):
        if isinstance(items, np.ndarray) and items.ndim == 1:
            arr = items
        elif isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            raise ValueError(
                f"y_true[{row}] must be a collection (list, set or array) of "
                f"relevant item ids; got {items!r}. Wrap a single id in a "
                f"list, e.g. [{items!r}]."
            )
        else:
            arr = np.fromiter(items, dtype=object)
        if len(arr) == 0:
            raise ValueError(
                f"y_true[{row}] is empty: every user needs at least one "
                "relevant item. Drop the users without relevant items."
            )
        relevant.append(arr)
    return relevant


def _concat(arrays):
    """Concatenate without casting ints to strings (or strings to ints)."""
    kinds = {a.dtype.kind for a in arrays}
    if len({a.dtype for a in arrays}) == 1 or kinds == {"U"}:
        return np.concatenate(arrays)
    return np.concatenate([a.astype(object) for a in arrays])


def _relevance(y_true, y_pred, k):
    """Boolean (n_users, min(k, n_recommended)) hits and the relevant counts.

    An id repeated in a row of ``y_pred`` is a hit only the first time;
    repeated ids in ``y_true`` count once.
    """
    y_pred = _check_y_pred(y_pred)
    relevant = _check_y_true(y_true, len(y_pred))
    top = y_pred if k is None else y_pred[:, :k]
    n_users = len(top)

    flat_true = _concat(relevant)
    codes, uniques = pd.factorize(_concat([flat_true, top.ravel()]))
    true_codes, pred_codes = codes[: len(flat_true)], codes[len(flat_true) :]
    true_rows = np.repeat(np.arange(n_users), [len(r) for r in relevant])
    if (true_codes < 0).any():
        row = true_rows[np.argmax(true_codes < 0)]
        raise ValueError(
            f"y_true[{row}] contains a missing id (NaN or None); drop it."
        )
    # one int64 key per (user row, id); code -1 (a missing id) never matches
    n_codes = len(uniques) + 1
    true_keys = np.unique(true_rows * n_codes + true_codes + 1)
    n_relevant = np.bincount(true_keys // n_codes, minlength=n_users)

    pred_rows = np.repeat(np.arange(n_users), top.shape[1])
    pred_keys = pred_rows * n_codes + pred_codes + 1
    hits = np.isin(pred_keys, true_keys) & (pred_codes >= 0)
    hits &= ~pd.Series(pred_keys).duplicated().to_numpy()
    return hits.reshape(top.shape), n_relevant


def hit_rate_at_k(y_true, y_pred, k=10):
    """Hit rate: fraction of users with at least one relevant item in the top k.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids.
        Must not be empty.
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
    hits, _ = _relevance(y_true, y_pred, _check_k(k))
    return float(hits.any(axis=1).mean())


def precision_at_k(y_true, y_pred, k=10):
    """Precision: fraction of the top k recommendations that are relevant.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids.
        Must not be empty.
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
    k = _check_k(k)
    hits, _ = _relevance(y_true, y_pred, k)
    return float((hits.sum(axis=1) / k).mean())


def recall_at_k(y_true, y_pred, k=10):
    """Recall: fraction of each user's relevant items found in the top k.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids.
        Must not be empty.
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
    hits, n_relevant = _relevance(y_true, y_pred, _check_k(k))
    return float((hits.sum(axis=1) / n_relevant).mean())


def ndcg_at_k(y_true, y_pred, k=10):
    """Normalized discounted cumulative gain with binary relevance.

    ``DCG = sum_i rel_i / log2(i + 1)`` over positions ``i = 1..k``; it is
    divided by the DCG of an ideal list, which has ``min(n_relevant, k)``
    relevant items first.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids.
        Must not be empty.
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
    k = _check_k(k)
    hits, n_relevant = _relevance(y_true, y_pred, k)
    discount = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = hits @ discount
    n_ideal = np.minimum(n_relevant, k)
    ideal = np.cumsum(1.0 / np.log2(np.arange(2, n_ideal.max() + 2)))
    return float((dcg / ideal[n_ideal - 1]).mean())


def map_at_k(y_true, y_pred, k=10):
    """Mean average precision over the top k.

    ``AP@k = sum of precision@i over the positions i <= k holding a relevant
    item, divided by min(n_relevant, k)``.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids.
        Must not be empty.
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
    >>> # user 0: (1/1 + 2/3) / 2; user 1: (1/2) / 1
    >>> round(map_at_k([[1, 3], [6]], [[1, 2, 3], [5, 6, 7]], k=3), 4)
    0.6667
    """
    k = _check_k(k)
    hits, n_relevant = _relevance(y_true, y_pred, k)
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    ap = (precision * hits).sum(axis=1) / np.minimum(n_relevant, k)
    return float(ap.mean())


def mrr(y_true, y_pred, k=None):
    """Mean reciprocal rank of the first relevant item.

    Parameters
    ----------
    y_true : sequence of length n_users
        For each user, a collection (list, set or array) of relevant item ids.
        Must not be empty.
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended item ids per user, best first. Ids may be ints or strings.
    k : int or None, default=None
        Only the first ``k`` recommendations count; all of them when None.

    Returns
    -------
    score : float
        Mean over users of ``1 / rank`` of the first relevant item (0 when
        none is in the top ``k``), in [0, 1].

    Examples
    --------
    >>> from sklearn_zsrec.metrics import mrr
    >>> mrr([[3], [5]], [[1, 2, 3], [5, 6, 7]])  # (1/3 + 1/1) / 2
    0.6666666666666666
    >>> mrr([[3], [5]], [[1, 2, 3], [5, 6, 7]], k=2)
    0.5
    """
    hits, _ = _relevance(y_true, y_pred, _check_k(k, allow_none=True))
    first = hits.argmax(axis=1)
    return float(np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0).mean())


def catalog_coverage(y_pred, catalog, k=None):
    """Fraction of the catalog recommended to at least one user.

    Parameters
    ----------
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended item ids per user, best first.
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
    if isinstance(catalog, (str, bytes)) or not isinstance(catalog, Iterable):
        raise ValueError(
            f"catalog must be a collection of item ids; got {catalog!r}."
        )
    catalog = pd.unique(np.fromiter(catalog, dtype=object))
    if len(catalog) == 0:
        raise ValueError("catalog is empty; pass the ids of all items.")
    return float(pd.Index(catalog).isin(top.ravel().astype(object)).mean())


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


def _column(values):
    values = np.asarray(values)
    if values.dtype.kind == "f" and np.isfinite(values).all():
        if np.all(values == np.round(values)):  # ids read as floats
            values = values.astype(np.int64)
    return values


def _relevant_sets(X):
    """Group held-out interactions by user.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_rows, 2 or 3)
        Columns ``user_id`` and ``item_id`` (a DataFrame), or an array whose
        first two columns are the user and item ids.

    Returns
    -------
    users : ndarray of shape (n_users,)
        Distinct user ids, in order of first appearance.
    relevant : list of ndarray
        The item ids of each user's rows, in row order.

    Ids of an array read as floats (because of a float timestamp column) are
    turned back into ints when they are all integral.
    """
    if isinstance(X, pd.DataFrame):
        missing = [c for c in ("user_id", "item_id") if c not in X.columns]
        if missing:
            raise ValueError(
                f"X is missing the column(s) {missing}; got columns "
                f"{list(map(str, X.columns))}. Rename your columns to "
                "'user_id' and 'item_id'."
            )
        user, item = X["user_id"].to_numpy(), X["item_id"].to_numpy()
    else:
        arr = np.asarray(X)
        if arr.dtype.kind in "US" and not isinstance(X, np.ndarray):
            arr = np.asarray(X, dtype=object)  # keep int ids among strings
        if arr.ndim != 2 or arr.shape[1] not in (2, 3):
            raise ValueError(
                "X must be a DataFrame with columns 'user_id' and 'item_id', "
                "or an array of shape (n, 2) or (n, 3) with columns user_id, "
                f"item_id[, timestamp]; got an array of shape {arr.shape}."
            )
        user, item = arr[:, 0], arr[:, 1]
    if len(user) == 0:
        raise ValueError("X has 0 rows; at least one held-out interaction is required.")
    user, item = _column(user), _column(item)
    for name, values in (("user_id", user), ("item_id", item)):
        n_missing = int(pd.isna(values).sum())
        if n_missing:
            raise ValueError(
                f"X has missing {name} values (NaN/None) in {n_missing} rows; "
                "drop those rows."
            )
    codes, users = pd.factorize(user)
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes))[:-1]
    return np.asarray(users), np.split(item[order], bounds)


def _score_recommender(estimator, X, metric="ndcg", k=10):
    """Rank each user of X with ``estimator`` and score against their rows.

    ``estimator.recommend(users, n=k)`` must return a 2-D array of item ids;
    it may have fewer than ``k`` columns (a small catalog): the metrics count
    the missing positions as misses. The estimators' ``score`` calls
    ``_score_recommender(self, X, "ndcg", 10)``.
    """
    _, function = _check_metric(metric)
    k = _check_k(k)
    users, relevant = _relevant_sets(X)
    y_pred = estimator.recommend(users, n=k)
    return float(function(relevant, y_pred, k=k))


class _RankScorer:
    """Scorer ``scorer(estimator, X, y=None)`` returned by make_rank_scorer."""

    def __init__(self, metric, k):
        self._name, self._metric = _check_metric(metric)
        self._k = _check_k(k)

    def __call__(self, estimator, X, y=None):
        return _score_recommender(estimator, X, self._metric, self._k)

    def __repr__(self):
        return f"make_rank_scorer({self._name!r}, k={self._k})"


def make_rank_scorer(metric, k=10):
    """Make a scorer from a ranking metric, for model selection tools.

    The scorer takes held-out interactions, asks the estimator for the top
    ``k`` items of each of their users (``estimator.recommend(users, n=k)``)
    and scores them against each user's held-out items. Greater is better.

    Parameters
    ----------
    metric : {"hit_rate", "ndcg", "recall", "precision", "map", "mrr"} or callable
        The metric's name, or one of :func:`hit_rate_at_k`,
        :func:`ndcg_at_k`, :func:`recall_at_k`, :func:`precision_at_k`,
        :func:`map_at_k` and :func:`mrr`.
    k : int, default=10
        Number of recommendations per user.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``, where ``X`` is a DataFrame
        with columns ``user_id`` and ``item_id`` or an array of shape
        (n, 2) or (n, 3) with columns ``user_id, item_id[, timestamp]``;
        ``y`` is ignored. Pass it as ``scoring`` to
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
    """
    return _RankScorer(metric, k)
