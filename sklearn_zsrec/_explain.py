"""``explain``: why a recommender scores an item as it does, one row per contribution.

Each recommender says what its score of (user, item) is made of
(``_contributions``); this module checks the request, keeps the largest
contributions and returns them as a DataFrame whose contributions add up to
the score.
"""

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._base import _check_user_ids
from ._contract import _ours
from ._ids import _other_type
from ._interactions import (arrow_values, check_ids, is_positive_int, object_array,
                            refuse_counts, refuse_table)
from ._progress import one_id_warning

COLUMNS = ["user_id", "item_id", "score", "source", "contributor", "contribution"]


def contributions(item, source, contributor, value):
    """A frame of contributions: ``item`` (positions), ``source``, ``contributor``, ``value``.

    ``source`` and ``contributor`` are one value for every row or one per
    row (a list or an array); a tuple is one value (an id), not one per row.
    """
    n = len(value)
    return pd.DataFrame({
        "item": np.broadcast_to(np.asarray(item), n),
        "source": _objects(source, n),
        "contributor": pd.Series(_objects(contributor, n), dtype=object),
        "contribution": np.asarray(value, dtype=np.float64),
    })


def _objects(values, n):
    """``values`` as an object array of ``n``: one per row, or one for all (a tuple too)."""
    if isinstance(values, (list, np.ndarray, pd.Index, pd.Series)):
        return np.broadcast_to(object_array(list(values)), n)
    out = np.empty(n, dtype=object)
    out.fill(values)  # (np.asarray would split a tuple id into its parts)
    return out


def history_contributions(items, history_columns, votes):
    """Contributions of a user's history items: ``votes[h, c]`` from ``items[history_columns[h]]``.

    ``votes`` has one row per history item (its column in ``items``) and one
    column per item explained; zero votes are left out.
    """
    h, c = np.nonzero(votes)
    return contributions(c, "history", items[history_columns[h]], votes[h, c])


def factor_contributions(model, row, cols, columns, ridge, curvature, weights):
    """Each history item's share of a factor model's scores, from its normal equation.

    The user's factors solve ``A x = sum_h weights_h y_h`` with ``A = Y'Y +
    ridge I + sum_h curvature_h y_h y_h'`` (``Y`` the item factors, ``h``
    the history items ``columns``), so the score of item ``i`` is ``sum_h
    weights_h y_i' A^-1 y_h``: one row per history item and item of
    ``cols``, and a row ``"rest"`` with what the stored factors differ by.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve, pinvh

    Y = model.item_factors_.astype(np.float64)
    Yh = Y[columns]
    A = Y.T @ Y + ridge * np.eye(Y.shape[1])
    A += (Yh * curvature[:, None]).T @ Yh
    try:
        solved = cho_solve(cho_factor(A), Y[cols].T)
    except LinAlgError:  # singular without a ridge (regularization=0, few items)
        solved = pinvh(A) @ Y[cols].T  # the least-norm solve; "rest" holds any gap
    votes = (Yh @ solved) * weights[:, None]  # (history, cols)
    score = (model.user_factors_[row] @ model.item_factors_[cols].T).astype(np.float64)
    return pd.concat([history_contributions(model.items_, columns, votes),
                      contributions(np.arange(len(cols)), "rest", None,
                                    score - votes.sum(axis=0))],
                     ignore_index=True)


def explain(estimator, user, items, n, max_contributions):
    """The body of :meth:`BaseRecommender.explain` (see there)."""
    with one_id_warning():  # its own check of the user, not recommend's again
        return _explain(estimator, user, items, n, max_contributions)


def _check_contributions(name, parts, score):
    """Raise unless a ``_contributions`` of one's own adds up to ``score`` per item.

    ``parts["item"]`` must be positions in ``cols`` (0 to ``len(score) - 1``)
    and the contributions numbers whose sum per item is the item's score, up
    to float32 rounding (an infinite score: exactly): catalog columns given
    for positions put contributions on other items, silently.
    """
    fix = ("_contributions must return item positions 0 to len(cols) - 1 (not catalog "
           "columns) and contributions that add up to each item's score (+-inf for an "
           "item scored +-inf; a _scores of one's own needs a _contributions of its own)")
    item = pd.to_numeric(parts["item"], errors="coerce").to_numpy(dtype=np.float64)
    value = pd.to_numeric(parts["contribution"], errors="coerce").to_numpy(dtype=np.float64)
    outside = ~((item >= 0) & (item < len(score)) & (item == np.round(item)))
    if outside.any():
        raise ValueError(f"{name}: _contributions gave item positions outside 0 to "
                         f"{len(score) - 1} (e.g. {item[outside][0]:g}); {fix}.")
    if np.isnan(value).any():
        raise ValueError(f"{name}: _contributions gave NaN contributions; {fix}.")
    item = item.astype(np.intp)
    with np.errstate(invalid="ignore"):  # inf - inf: an item whose sum is NaN
        total = np.bincount(item, weights=value, minlength=len(score))
        size = np.bincount(item, weights=np.abs(value), minlength=len(score)) + np.abs(score)
        off = np.where(np.isfinite(score), ~(np.abs(total - score) <= 1e-5 * size), total != score)
    if off.any():
        k = int(np.flatnonzero(off)[0])
        raise ValueError(f"{name}: _contributions of item position {k} add up to "
                         f"{total[k]:.6g}, its score is {score[k]:.6g}; {fix}.")


def _explain(estimator, user, items, n, max_contributions):
    name = type(estimator).__name__
    check_is_fitted(estimator, "user_items_")
    # read as recommend reads users: a tuple is one id when it is a user (or of
    # the length of fit's tuple ids); a sequence, an iterator too, is several
    users, single = _check_user_ids(user, f"{name}.explain", is_user=estimator._is_user)
    if not single:
        raise ValueError(
            f"{name}.explain: user must be a single user id; got {type(user).__name__} of "
            f"{len(users)} ids. Call explain once per user.")
    if not is_positive_int(max_contributions):
        raise ValueError(
            f"{name}.explain: max_contributions must be a positive int (rows kept per "
            f"item, the rest summed in one row); got {max_contributions!r}.")
    if not is_positive_int(n):
        raise ValueError(f"{name}.explain: n must be a positive int (the recommendations "
                         f"explained when items is None); got {n!r}.")
    rows = estimator._user_rows(users)
    items = arrow_values(items)  # a pyarrow array: its values, not pyarrow scalars
    refuse_table(items, "items", f"{name}.explain", "item_id")
    refuse_counts(items, "items", f"{name}.explain", "item_id")
    if items is None:
        ids, scores = estimator.recommend(users, n=n, return_scores=True)
        items = ids[0][scores[0] > -np.inf]  # not the excluded items padding a short list
    elif isinstance(items, (set, frozenset, dict)):
        raise TypeError(f"{name}.explain: items must be a sequence of item ids (a list or an "
                        f"array); got a {type(items).__name__}. Pass sorted(items).")
    elif isinstance(items, np.ndarray) and items.ndim == 0:
        items = [items.item()]
    elif isinstance(items, tuple) and estimator._rows(object_array([items]), "item")[0] >= 0:
        items = [items]  # a catalog id that is a tuple: one id, as a tuple user is
    elif isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        items = [items]  # one id (an iterator or generator: its ids)
    items = object_array(list(items))  # tuple ids stay tuples
    if any(isinstance(i, (list, np.ndarray)) for i in items):
        raise ValueError(f"{name}.explain: items must be a 1-D sequence of item ids; got "
                         f"shape {np.shape(items.tolist())}. Flatten it, e.g. np.ravel(items).")
    items = check_ids(items, "items", name)
    repeated = pd.unique(items[pd.Series(items).duplicated().to_numpy()])
    if len(repeated):  # each would get its own rows: a group-by would count them twice
        raise ValueError(f"{name}.explain: items has repeated ids (e.g. "
                         f"{np.asarray(repeated[:5]).tolist()}); pass each item once, e.g. list(dict.fromkeys(items)).")
    cols = estimator._rows(items, "item")
    if (cols < 0).any():
        unknown = pd.unique(items[cols < 0])
        raise ValueError(
            f"{name}.explain: {len(unknown)} items are not in items_ (e.g. "
            f"{np.asarray(unknown[:5]).tolist()}){_other_type(unknown, estimator.items_, 'items')};"
            " only catalog items can be explained.")
    parts = estimator._contributions(int(rows[0]), users, cols)
    score = next(estimator._score_chunks(users))[2][0, cols].astype(np.float64)  # as predict
    if not (_ours(type(estimator)._contributions) and _ours(type(estimator)._scores)):
        _check_contributions(name, parts, score)  # (a subclass's _scores: ALS + a bias)
    out = []
    for position in range(len(cols)):
        mine = parts[parts["item"] == position]
        if not len(mine):  # nothing links the item to the user: one row says so
            mine = contributions(position, "no contribution", None, [0.0])
        # by position: a frame of one's own may repeat index labels (a concat)
        mine = mine.iloc[np.argsort(-mine["contribution"].abs().to_numpy(), kind="stable")]
        kept, rest = mine.iloc[:max_contributions], mine.iloc[max_contributions:]
        if len(rest):
            kept = pd.concat([kept, contributions(position, f"{len(rest)} more",
                                                  None, [rest["contribution"].sum()])])
        out.append(kept)
    frame = pd.concat(out, ignore_index=True) if out else contributions([], [], [], [])
    frame.insert(0, "user_id", pd.Series([users[0]] * len(frame), dtype=object))
    frame.insert(1, "item_id", pd.Series(items[frame["item"].to_numpy(dtype=int)], dtype=object)
                 if len(frame) else pd.Series([], dtype=object))
    frame.insert(2, "score", score[frame["item"].to_numpy(dtype=int)] if len(frame) else [])
    return frame[COLUMNS].reset_index(drop=True)
