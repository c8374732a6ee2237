"""The inputs of the ranking metrics: ``y_pred``'s ranked ids and ``y_true``'s relevant sets.

What users really send is read as the metrics mean it or refused, naming
the fix: tables with a user column, score matrices, relevance matrices
(scikit-learn's ``ndcg_score`` layout), graded ``{item: grade}`` rows, and
two labelled inputs in other orders, which the metrics would pair by position.
"""

import re
import warnings
from collections.abc import Iterable, Mapping
from numbers import Integral

import numpy as np
import pandas as pd

from .._interactions import arrow_values, object_array
from .._progress import caller_stacklevel


def _rows_of_ids(arr):
    """A 1-D object array of equal-length rows (a Series of lists, an Arrow
    list array) as the 2-D array it holds; anything else as it is."""
    if arr.ndim != 1 or arr.dtype != object or len(arr) == 0 or not all(
        isinstance(row, (list, tuple, np.ndarray)) for row in arr
    ):
        return arr
    lengths = {len(row) for row in arr}
    if len(lengths) > 1:
        raise ValueError(
            "y_pred must be a 2-D array of shape (n_users, n_recommended) "
            f"holding item ids; its rows have {len(lengths)} different lengths "
            f"({sorted(lengths)[:5]}). Every row must have the same length, e.g. "
            "the output of recommend(users, n=k)."
        )
    out = np.empty((len(arr), lengths.pop()), dtype=object)
    for i, row in enumerate(arr):
        out[i] = list(row)  # ids keep their own types: no cast among rows
    return out


_AS_SCORING = ("scikit-learn calls scoring(estimator, X, y), and make_scorer(metric) "
               "gives a metric predict's per-row scores: for scoring=, pass "
               "make_rank_scorer('ndcg', k=10) (or another metric's name)")


def _refuse_estimator(value, name):
    """A metric function given as ``scoring`` gets the estimator first: say so."""
    if hasattr(value, "fit") and hasattr(value, "get_params"):
        raise TypeError(f"{name} is an estimator ({type(value).__name__}), not ids: the "
                        f"metric functions take (y_true, y_pred, k); {_AS_SCORING}.")


_ID_WORDS = ("user", "session", "customer", "client")  # in a column label: not ranks
_RANK_SCORES = ("the metrics take each user's ranked item ids, e.g. recommend(users, n=k); "
                "from a score matrix over a model's items_ (score_items): "
                "model.items_[np.argsort(-scores, axis=1, kind='stable')[:, :k]]")


def _id_columns(y_pred):
    """The columns of a table ``y_pred`` (pandas, polars, Arrow) named as ids, not ranks.

    Recommendations written with ``to_csv`` and read back, or through
    ``reset_index()``, carry their user column (``user_id``, ``Unnamed: 0``,
    ``index``), which was read as each row's first recommended item; an
    ``item_id`` column is a long table, one row per recommendation.
    """
    labels = _column_labels(y_pred)
    # ranks' columns: labels alike but for a number ("rank1_movie_id", "item_id_2")
    stems = pd.Series([re.sub(r"\d+", "#", str(c).lower()) for c in labels], dtype=object)
    ranks = {c for c, stem, again in zip(labels, stems, stems.duplicated(keep=False))
             if again and "#" in stem}

    def id_like(label):
        label = str(label).lower()
        if label.startswith("unnamed:") or label in ("index", "uid"):
            return True
        if any(w in label for w in _ID_WORDS):
            return True
        # one rank's column ("rank1_item_id"): a number and an item
        return label.endswith("id") and not ("item" in label and any(map(str.isdigit, label)))

    return [c for c in labels if c not in ranks
            and any(id_like(v) for v in (c if isinstance(c, tuple) else (c,)))]


def _column_labels(table):
    """The column labels of a pandas, polars or Arrow table; [] for anything else."""
    names = getattr(table, "column_names", None)  # Arrow (its .columns are the data)
    if names is None and not isinstance(table, np.ndarray):
        names = getattr(table, "columns", None)
    return [] if names is None else list(names)


def _check_y_pred(y_pred, from_model=False):
    """``y_pred`` as a 2-D array of ids; ``from_model``: a model's own ``recommend``."""
    _refuse_estimator(y_pred, "y_pred")
    if hasattr(y_pred, "toarray"):  # np.asarray made it a 0-d array
        raise TypeError(f"y_pred is a sparse matrix, not ranked ids: {_RANK_SCORES}.")
    ids = _id_columns(y_pred)
    if ids:
        raise ValueError(
            f"y_pred has the column {ids[0]!r} beside the ranked item ids (columns "
            f"{list(map(str, _column_labels(y_pred)[:4]))}...); its values would be "
            "read as each row's first recommendations. Make it the index "
            f"(y_pred.set_index({ids[0]!r}); read_csv(..., index_col=0)) or drop it; y_pred "
            "holds one row of ranked item ids per user, e.g. recommend(users, n=k).")
    if isinstance(y_pred, np.ndarray):
        arr = y_pred
    else:
        y_pred = arrow_values(y_pred)
        try:
            arr = np.asarray(y_pred)
        except ValueError:  # ragged lists
            arr = np.asarray(y_pred, dtype=object)
        if arr.dtype.kind in "US":  # keep ints among strings as ints
            arr = np.asarray(y_pred, dtype=object)
        elif arr.dtype.kind == "f" and isinstance(y_pred, (list, tuple)):
            # Python ints among NaN pads: float64 rounds them past 2**53
            objects = np.asarray(y_pred, dtype=object)
            if any(isinstance(v, Integral) and not isinstance(v, (bool, np.bool_))
                   for v in objects.ravel()):
                arr = objects
    if arr.ndim == 3 and isinstance(y_pred, (list, tuple)) and len(
            {len(row) for row in y_pred}) == 1:  # tuple ids: np.asarray made them an axis
        arr = np.empty(arr.shape[:2], dtype=object)
        for i, row in enumerate(y_pred):
            arr[i] = object_array(list(row))
    arr = _rows_of_ids(arr)
    if arr.ndim >= 1 and arr.shape[0] == 0:  # [] is 1-D: no user, not a layout
        raise ValueError("y_pred has 0 rows; at least one user is required.")
    if arr.ndim != 2:
        raise ValueError(
            "y_pred must be a 2-D array of shape (n_users, n_recommended) "
            f"holding item ids; got an array of shape {arr.shape}. Every row "
            "must have the same length, e.g. the output of recommend(users, n=k)."
            + (f" ({_AS_SCORING}.)" if arr.ndim == 1 and arr.dtype.kind == "f" else "")
        )
    if arr.dtype.kind == "f" and not from_model:  # score_items' layout? (float ids are rare)
        finite = arr[np.isfinite(arr)]
        fractional = finite[finite != np.round(finite)]
        if fractional.size or (np.diff(np.sort(arr, axis=1), axis=1) == 0).any():
            why = (f"fractions (e.g. {float(fractional[0])!r})" if fractional.size else
                   "a value repeated within a row (a ranking names each item once)")
            warnings.warn(
                f"y_pred holds floats with {why}, as a score matrix does; they are read "
                f"as item ids. If they are scores, {_RANK_SCORES}.", UserWarning,
                stacklevel=caller_stacklevel())
    return arr


def _check_y_true(y_true, n_users):
    if isinstance(y_true, (pd.DataFrame, Mapping)):
        raise ValueError(
            f"y_true must hold one collection of relevant item ids per user, in the "
            f"order of y_pred's rows; got a {type(y_true).__name__}. From held-out rows: "
            "test.groupby('user_id')['item_id'].agg(list).reindex(users) for the users "
            "that y_pred ranks (a user without rows then gets NaN: no relevant item).")
    if isinstance(y_true, (str, bytes)) or not hasattr(y_true, "__len__"):
        raise ValueError(
            "y_true must be a sequence with one collection of relevant item "
            f"ids per user; got {y_true!r}."
        )
    convert = ("Convert it: [items[np.flatnonzero(row)] for row in Y] for the items (e.g. "
               "a model's items_) its columns stand for")
    matrix = _as_matrix(y_true)
    if hasattr(y_true, "toarray") or (matrix is not None and matrix.dtype.kind == "b"):
        raise ValueError(  # never ids: a sparse matrix, booleans
            "y_true is a relevance matrix (users x items, as scikit-learn's ndcg_score "
            f"takes), not relevant item ids. {convert}.")
    if _is_relevance_matrix(matrix):  # or ids 0 and 1, repeated (they count once): warn
        warnings.warn(
            "y_true looks like a relevance matrix (users x items of 0/1, as scikit-learn's "
            "ndcg_score takes): its rows are read as relevant item ids, the ids 0 and 1. "
            f"If it is one, {convert[0].lower() + convert[1:]}.", UserWarning,
            stacklevel=caller_stacklevel())
    if len(y_true) != n_users:
        raise ValueError(
            "y_true and y_pred must have one entry per user; got "
            f"{len(y_true)} relevant sets in y_true and {n_users} rows in y_pred."
        )
    relevant = []
    for row, items in enumerate(arrow_values(y_true)):
        items = arrow_values(items)
        if items is None or (pd.api.types.is_scalar(items) and pd.isna(items)):
            arr = np.empty(0, dtype=object)  # a user without held-out rows (a left join)
        elif isinstance(items, np.ndarray) and items.ndim == 1:
            arr = items
        elif isinstance(items, Mapping):  # qrels {item: grade}: its grade-0 items too
            raise ValueError(
                f"y_true[{row}] is a mapping ({type(items).__name__}), e.g. graded "
                "relevance {item: grade}; the metrics take each user's relevant item ids. "
                "Pass [i for i, grade in row.items() if grade > 0] for each row.")
        elif isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            raise ValueError(
                f"y_true[{row}] must be a collection (list, set or array) of "
                f"relevant item ids; got {items!r}. Wrap a single id in a "
                f"list, e.g. [{items!r}] ([] or None for a user without relevant items)."
            )
        else:
            arr = np.fromiter(items, dtype=object)
        relevant.append(arr)
    return relevant


def _as_matrix(y_true):
    """``y_true`` as a 2-D array when it is one, or a list or tuple of equal-length
    rows of numbers (``Y.tolist()``); else None."""
    if isinstance(y_true, np.ndarray):
        return y_true if y_true.ndim == 2 else None
    if not isinstance(y_true, (list, tuple)) or not y_true or not all(
            isinstance(row, (list, tuple, np.ndarray)) for row in y_true):
        return None
    try:
        arr = np.asarray(y_true)
    except ValueError:  # ragged rows: ids
        return None
    return arr if arr.ndim == 2 and arr.dtype.kind in "biuf" else None


def _is_relevance_matrix(y_true):
    """A 2-D ``y_true`` of 0s and 1s with a value repeated in a row, as a relevance
    matrix has (relevant ids seldom repeat, though they may); False for None."""
    if y_true is None:
        return False
    if y_true.dtype.kind not in "iuf" or y_true.shape[1] < 2:
        return False
    return bool(np.isin(y_true, (0, 1)).all()
                and (np.diff(np.sort(y_true, axis=1), axis=1) == 0).any())


def _check_same_users(y_true, y_pred):
    """Refuse a ``y_true`` and a ``y_pred`` both labelled by user, in other orders.

    The metrics pair their rows by position; a ``groupby`` Series (sorted by
    user) against recommendations indexed in the test log's order paired
    other users' sets, silently.
    """
    if not (isinstance(y_true, pd.Series) and isinstance(y_pred, (pd.Series, pd.DataFrame))):
        return
    a, b = y_true.index, y_pred.index
    if isinstance(a, pd.RangeIndex) or isinstance(b, pd.RangeIndex) or a.equals(b):
        return
    raise ValueError(
        "y_true and y_pred are both indexed, by other labels or in another order (y_true "
        f"{a[:3].tolist()}..., y_pred {b[:3].tolist()}...); the metrics pair their rows by "
        "position. Align them by user, e.g. y_true.reindex(y_pred.index), or drop the "
        "labels (.reset_index(drop=True)) if the rows are already in the same order.")
