"""Splitting interactions in time: each user's latest interactions held out.

Both :class:`LeaveLastOut` and :func:`train_test_split_last` rank every row
from the end within its user (:func:`_rank_from_end`): 0 for the user's last
interaction, 1 for the one before, and so on.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from .._columns import _timestamps, check_y_index, checked_weights
from .._interactions import (_codes, _is_spark_frame, _refuse_id_dtype, holds_booleans,
                             index_hint, is_positive_int, named_columns, refuse_sparse)


def _check_positive_int(value, name, owner):
    if not is_positive_int(value):
        raise ValueError(f"{owner}: {name} must be an int >= 1; got {value!r}.")
    return int(value)


def _as_array(X, name="the splitter"):
    # a list keeps each value's Python type, as the models read it (an int
    # id beside a string, an int timestamp beside a float id)
    refuse_sparse(X, name)  # (np.asarray made it a 0-d array)
    arr = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
    if arr.ndim == 1 and len(arr) and all(isinstance(row, Mapping) for row in arr):
        raise ValueError(f"X is a list of {len(arr)} dicts; pass pd.DataFrame(X) (their keys "
                         "as columns 'user_id', 'item_id', ...).")
    if arr.ndim != 2 or arr.shape[1] not in (2, 3):
        raise ValueError(
            "X must be a DataFrame with a 'user_id' column (and optionally "
            "'timestamp'), or an array of shape (n, 2) or (n, 3) with columns "
            f"user_id, item_id[, timestamp]; got an array of shape {arr.shape}."
        )
    return arr


def _users_and_times(X, name, y=None):
    """User ids, an exact sort key of the timestamps (None without) and which
    rows are interactions (weight not 0; None: all) of each row.

    The weights are ``y``, else X's ``weight`` column; rows of weight 0
    (impressions without a click) are no interaction, as in ``fit``, and
    missing, infinite or negative weights raise, as in ``fit``.

    The timestamps are read as the models read them (``_timestamps``:
    numbers, datetimes in any column type, time zones converted to UTC), so
    that a split orders each user's rows as a model fitted on them does;
    a table with named columns (pyarrow, polars, a numpy structured array)
    by column name, as the models read it.
    """
    if _is_spark_frame(X):
        raise TypeError(
            f"{name}: X is a Spark DataFrame, whose rows have no fixed order for row "
            "positions to index; pass it in the order the models read it, "
            "X.orderBy('user_id', 'timestamp', 'item_id').toPandas() (with the session "
            "time zone 'UTC'), or split it in Spark (each user's latest rows by a window "
            "over 'timestamp').")
    check_y_index(X, y, name)  # X as given: a table without an index has no labels
    X = named_columns(X, name)
    if isinstance(X, pd.DataFrame):
        if "user_id" not in X.columns:
            raise ValueError(
                f"{name}: X is missing the column 'user_id'; got columns "
                f"{list(map(str, X.columns))}. Rename the column of user ids "
                "to 'user_id'." + index_hint(X, ["user_id"]))
        users = X["user_id"].to_numpy()
        times = X["timestamp"] if "timestamp" in X.columns else None
        if y is None and "weight" in X.columns:
            y = X["weight"]
    else:
        arr = _as_array(X, name)
        users = arr[:, 0]
        times = arr[:, 2] if arr.shape[1] == 3 else None
    if len(users) == 0:
        raise ValueError(f"{name}: X has 0 interaction rows; at least one is required.")
    if times is not None:
        times = _timestamps(times, name)[1]
    interactions = None
    if y is not None:  # read and checked as fit reads them
        interactions = checked_weights(y, len(users), name) != 0
    return users, times, interactions


def _sort_by_user_and_time(codes, times):
    """Positions sorted by user code, then time, then row.

    One stable argsort of the int64 key ``code * span + time``, about twice
    as fast as ``np.lexsort((times, codes))``; times that are not ints of a
    small enough range are replaced by their dense rank first.
    """
    n_codes = int(codes.max()) + 1
    if times.dtype.kind in "iu":
        low = int(times.min())
        span = int(times.max()) - low + 1
    if times.dtype.kind not in "iu" or span * n_codes >= 2**63:
        times = np.unique(times, return_inverse=True)[1].ravel()
        low, span = 0, int(times.max()) + 1
    # in int64 (or uint64, whose values may pass int64's): int32 seconds
    # spanning 1950-2020 wrapped around in their own type
    offset = (times - np.uint64(low) if times.dtype == np.uint64
              else times.astype(np.int64) - low)
    key = codes.astype(np.int64) * span + offset.astype(np.int64)
    return np.argsort(key, kind="stable")


def _check_any_interaction(most, name):
    """Raise when ``most``, the largest number of interactions of a user, is 0."""
    if most == 0:
        raise ValueError(
            f"{name}: every row of X weighs 0 (y or X's 'weight' column), so "
            "there is no interaction to hold out: rows of weight 0 (impressions "
            "without a click) are no interaction. Pass the interactions' weights.")


def _rank_from_end(users, times=None, interactions=None, name="the splitter"):
    """Rank of each row from the end of its user's history, and history size.

    Rows are ordered by ``times`` within each user, ties (and every row when
    ``times`` is None) by row order. Vectorised: one factorisation and one
    stable sort (3 to 5 s for 10 million rows). With ``interactions`` (a
    mask; the others are impressions of weight 0), both count interactions
    only: a row's rank is the number of the user's interactions after it.
    ``name`` (the splitter's) starts the error messages.

    Returns
    -------
    rank : ndarray of shape (n_rows,)
        0 for a user's last row, 1 for the one before it, ...
    n_user_rows : ndarray of shape (n_rows,)
        Number of rows of the row's user.
    """
    # a list column not exploded gets fit's message, not pandas' "unhashable type"
    codes = _codes(users, "the ids of column 'user_id'", name)
    users = np.asarray(users)
    if users.dtype.kind == "b" or (users.dtype.kind == "O" and holds_booleans(users)):
        _refuse_id_dtype("bool", "column 'user_id'", name)  # as fit refuses them
    if (codes < 0).any():
        raise ValueError(
            f"{name}: X has missing user_id values (NaN/None) in {int((codes < 0).sum())} "
            "rows; drop those rows."
        )
    n = len(codes)
    order = _sort_by_user_and_time(codes, np.arange(n) if times is None else times)
    some = np.ones(n, np.int64) if interactions is None else np.asarray(interactions, np.int64)
    upto = np.cumsum(some[order])  # interactions up to each sorted position, inclusive
    last = np.cumsum(np.bincount(codes)) - 1  # each user's last sorted position
    rank = np.empty(n, dtype=np.int64)
    rank[order] = upto[last[codes[order]]] - upto  # the user's interactions after it
    return rank, np.bincount(codes, weights=some).astype(np.int64)[codes]


class LeaveLastOut(BaseCrossValidator):
    """Hold out each user's latest interactions, one fold per position.

    Within each user, rows are ordered by ``timestamp`` (ties, and all rows
    when there is no timestamp, by row order). Fold ``j`` tests on each user's
    ``(j + 1)``-th interaction from the end and trains on every row before
    it: fold 0 holds out the last interaction, fold 1 the second-to-last
    (trained on the rows before it), and so on. So no training row of a user
    is later than their test row. Users with at most ``j + 1`` interactions
    are left out of fold ``j``.

    Parameters
    ----------
    n_splits : int, default=1
        Number of folds. Users need more than ``n_splits`` interactions to be
        tested in every fold.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec.model_selection import LeaveLastOut
    >>> X = pd.DataFrame({"user_id": ["a", "a", "a", "b", "b"],
    ...                   "item_id": [1, 2, 3, 1, 4],
    ...                   "timestamp": [10, 30, 20, 5, 6]})
    >>> cv = LeaveLastOut(n_splits=2)
    >>> cv
    LeaveLastOut(n_splits=2)
    >>> for train, test in cv.split(X):
    ...     print(train.tolist(), test.tolist())
    [0, 2, 3] [1, 4]
    [0] [2]
    """

    def __init__(self, n_splits=1):
        self.n_splits = _check_positive_int(n_splits, "n_splits", type(self).__name__)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of folds.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """Generate the indices of each fold's training and test rows.

        Parameters
        ----------
        X : DataFrame, Arrow table or array-like of shape (n_rows, 2 or 3)
            Interactions: a DataFrame (or a pyarrow or polars table, read
            by column name) with a ``user_id`` and optionally a
            ``timestamp`` column, or an array with columns
            ``user_id, item_id[, timestamp]``.
        y : array-like of shape (n_rows,), default=None
            The rows' weights, as in ``fit`` (None reads X's ``weight``
            column, if any). Rows of weight 0 (impressions without a click)
            are no interaction: never held out, not counted in a user's
            interactions, and in a fold's training rows only when they come
            before its test row.
        groups : object
            Ignored, present for API compatibility.

        Yields
        ------
        train : ndarray of int
            Positions of the training rows, ascending.
        test : ndarray of int
            Positions of the test rows, ascending.
        """
        # checked again: an attribute set after __init__ would give no fold
        name = type(self).__name__
        n_splits = _check_positive_int(self.n_splits, "n_splits", name)
        users, times, interactions = _users_and_times(X, name, y)
        rank, n_user_rows = _rank_from_end(users, times, interactions, name)
        test_ok = np.ones(len(rank), dtype=bool) if interactions is None else interactions
        most = int(n_user_rows.max())
        _check_any_interaction(most, name)
        if most <= n_splits:
            fix = (
                f"Use n_splits <= {most - 1}"
                if most > 1
                else "Every user has a single interaction; users need at least 2 "
                "interactions to hold one out"
            )
            raise ValueError(
                f"{name}(n_splits={n_splits}) needs users with more "
                f"than {n_splits} interactions, but no user has more than "
                f"{most}, so fold {most - 1} (0-based) would have no test rows. "
                f"{fix}."
            )
        for j in range(n_splits):
            yield (
                np.flatnonzero((rank > j) & (n_user_rows > j + 1)),
                np.flatnonzero(test_ok & (rank == j) & (n_user_rows > j + 1)),
            )


def train_test_split_last(X, n_test=1, *, y=None):
    """Split interactions, holding out each user's latest ``n_test`` rows.

    Within each user, rows are ordered by ``timestamp`` (ties, and all rows
    when there is no timestamp, by row order). Users with at most ``n_test``
    interactions keep all of them in the training set. Rows of weight 0 (in
    ``y``, else in X's ``weight`` column: impressions without a click) are
    no interaction: never among the ``n_test`` held out, and on the test
    side when they come after the earliest of them.

    Parameters
    ----------
    X : DataFrame, Arrow table or array-like of shape (n_rows, 2 or 3)
        Interactions: a DataFrame (or a pyarrow or polars table, read by
        column name) with a ``user_id`` and optionally a ``timestamp``
        column, or an array with columns ``user_id, item_id[, timestamp]``.
    n_test : int, default=1
        Number of interactions held out per user.
    y : array-like of shape (n_rows,), default=None
        The rows' weights, as in ``fit(X, y)`` (None reads X's ``weight``
        column, if any). Split too, and returned after X's parts.

    Returns
    -------
    X_train, X_test : DataFrame, Arrow table or ndarray
        The rows of X, in their original order and of its type (a DataFrame
        keeps its index; a list of rows comes back as an object array).
    y_train, y_test : array-like
        The values of ``y`` of the same rows, as scikit-learn indexes them (a
        Series keeps its index, an array or list stays one); returned only
        when ``y`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_zsrec.model_selection import train_test_split_last
    >>> X = np.array([[1, 10, 100], [1, 11, 300], [1, 12, 200], [2, 10, 100]])
    >>> X_train, X_test = train_test_split_last(X)
    >>> X_train
    array([[  1,  10, 100],
           [  1,  12, 200],
           [  2,  10, 100]])
    >>> X_test
    array([[  1,  11, 300]])
    """
    n_test = _check_positive_int(n_test, "n_test", "train_test_split_last")
    users, times, interactions = _users_and_times(X, "train_test_split_last", y)
    rank, n_user_rows = _rank_from_end(users, times, interactions, "train_test_split_last")
    # with impressions: those after the earliest held-out interaction go to
    # the test side (later than it), with weight 0 they are no relevant item
    test = (rank < n_test) & (n_user_rows > n_test)
    if not test.any():
        _check_any_interaction(int(n_user_rows.max()), "train_test_split_last")
        raise ValueError(
            f"No user has more than n_test={n_test} interactions, so nothing "
            "can be held out while keeping a training row. Use a smaller "
            "n_test or users with more interactions."
        )
    train, test = np.flatnonzero(~test), np.flatnonzero(test)
    parts = _take_rows(X, train, test)
    if y is None:
        return parts
    from sklearn.utils import _safe_indexing

    return (*parts, _safe_indexing(y, train), _safe_indexing(y, test))


def _take_rows(X, train, test):
    """``(X_train, X_test)``: the rows ``train`` and ``test`` of X, of its type."""
    if isinstance(X, pd.DataFrame):
        return X.iloc[train], X.iloc[test]
    if isinstance(X, np.ndarray) and X.dtype.names is not None:  # structured
        return X[train], X[test]
    if hasattr(X, "__arrow_c_stream__"):  # an Arrow table (pyarrow, polars): of its type
        if type(X).__module__.startswith("pyarrow"):  # a RecordBatch stays one (not StructArray)
            return X.take(train), X.take(test)
        from sklearn.utils import _safe_indexing

        return _safe_indexing(X, train), _safe_indexing(X, test)
    X = _as_array(X)
    return X[train], X[test]
