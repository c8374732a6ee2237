"""Validation of interaction data: the first step of every recommender.

Interactions arrive as a pandas DataFrame with columns ``user_id``, ``item_id``
and optionally ``timestamp`` and ``weight``, or as an array of shape (n, 2) or
(n, 3) in the column order ``user_id, item_id[, timestamp]``.
:func:`check_interactions` turns either into an :class:`Interactions` record of
aligned one-dimensional arrays, or raises an error that names the fix.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

_COLUMNS = ("user_id", "item_id", "timestamp", "weight")


@dataclass
class Interactions:
    """Validated interaction rows as aligned arrays.

    ``order`` ranks each row in time: by ``timestamp`` when given, ties and the
    no-timestamp case broken by row order.
    """

    user_id: np.ndarray
    item_id: np.ndarray
    weight: np.ndarray
    timestamp: np.ndarray | None
    order: np.ndarray

    def __len__(self):
        return len(self.user_id)


def _ids(values, name, estimator_name):
    values = np.asarray(values)
    if values.dtype.kind == "f":
        if not np.isfinite(values).all():
            raise ValueError(
                f"{estimator_name}: column '{name}' contains NaN or inf ids "
                f"({int((~np.isfinite(values)).sum())} rows). Drop or fill those "
                "rows first."
            )
        if np.all(values == np.round(values)):
            values = values.astype(np.int64)
    elif values.dtype.kind == "O":
        missing = pd.isna(values)
        if missing.any():
            raise ValueError(
                f"{estimator_name}: column '{name}' contains missing ids "
                f"(NaN/None in {int(missing.sum())} rows). Drop or fill those "
                "rows first."
            )
    return values


def check_interactions(
    X, y=None, *, estimator_name="Recommender", duplicates="sum", copy_frame=False
):
    """Validate interaction data and return an :class:`Interactions` record.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_samples, 2) or (n_samples, 3)
        Interactions: columns ``user_id``, ``item_id`` and optionally
        ``timestamp`` and ``weight`` (a DataFrame may carry other columns,
        which are ignored), or an array in the column order
        ``user_id, item_id[, timestamp]``.
    y : array-like of shape (n_samples,), default=None
        Per-row weights (confidence); ones when None. Mutually exclusive with
        a ``weight`` column.
    estimator_name : str
        Used in error messages.
    duplicates : {"sum", "keep"}
        ``"sum"`` merges repeated ``(user_id, item_id)`` pairs into one row
        whose weight is the sum and whose timestamp is the latest; ``"keep"``
        keeps every row (for scoring held-out rows).

    Returns
    -------
    Interactions
    """
    name = estimator_name
    if isinstance(X, pd.DataFrame):
        missing = [c for c in ("user_id", "item_id") if c not in X.columns]
        if missing:
            raise ValueError(
                f"{name}: X is missing the column(s) {missing}; got columns "
                f"{list(map(str, X.columns))}. Rename your columns to 'user_id' "
                "and 'item_id' (optionally 'timestamp' and 'weight')."
            )
        user = X["user_id"].to_numpy()
        item = X["item_id"].to_numpy()
        ts = X["timestamp"].to_numpy() if "timestamp" in X.columns else None
        col_weight = X["weight"].to_numpy() if "weight" in X.columns else None
    else:
        if isinstance(X, (str, bytes)) or X is None:
            raise ValueError(
                f"{name}: X must be a DataFrame with columns 'user_id' and "
                f"'item_id', or an array of shape (n, 2) or (n, 3); got {X!r}."
            )
        if hasattr(X, "toarray"):
            raise TypeError(
                f"{name}: X is a sparse matrix; pass interactions as rows "
                "(user_id, item_id[, timestamp]), e.g. from scipy.sparse "
                "coo_matrix(X).row and .col."
            )
        arr = np.asarray(X, dtype=object if _has_strings(X) else None)
        if arr.dtype.kind == "c":
            raise ValueError(
                f"{name}: Complex data not supported; ids and timestamps must "
                "be real numbers or strings."
            )
        if arr.ndim != 2:
            raise ValueError(
                f"{name}: X must be 2-D with columns user_id, item_id"
                f"[, timestamp]; got an array of shape {arr.shape}. Reshape your "
                "data, e.g. np.column_stack([user_ids, item_ids])."
            )
        if arr.shape[1] not in (2, 3):
            raise ValueError(
                f"{name}: X must have 2 or 3 columns (user_id, item_id"
                f"[, timestamp]); got {arr.shape[1]} feature(s) "
                f"(shape={arr.shape}) while a minimum of 2 is required and a "
                "maximum of 3 allowed. Pass a DataFrame with named columns to "
                "add a 'weight' column."
            )
        user, item = arr[:, 0], arr[:, 1]
        ts = arr[:, 2] if arr.shape[1] == 3 else None
        col_weight = None

    n = len(user)
    if n == 0:
        raise ValueError(
            f"{name}: X has 0 interaction rows; at least one is required."
        )
    user = _ids(user, "user_id", name)
    item = _ids(item, "item_id", name)

    if ts is not None:
        try:
            if np.asarray(ts).dtype.kind == "M":
                ts = np.asarray(ts).astype("datetime64[ns]").astype(np.int64)
                ts = ts.astype(np.float64)
            else:
                ts = np.asarray(ts, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name}: column 'timestamp' must be numeric or datetime; "
                f"could not convert it ({exc})."
            ) from None
        if not np.isfinite(ts).all():
            raise ValueError(
                f"{name}: column 'timestamp' contains NaN or inf in "
                f"{int((~np.isfinite(ts)).sum())} rows. Fill them or drop the "
                "column."
            )

    if y is not None and col_weight is not None:
        raise ValueError(
            f"{name}: weights were given twice, as y and as the 'weight' "
            "column of X; pass only one."
        )
    weight = y if y is not None else col_weight
    if weight is None:
        weight = np.ones(n, dtype=np.float64)
    else:
        weight = np.asarray(weight, dtype=np.float64)
        if weight.ndim != 1 or len(weight) != n:
            raise ValueError(
                f"{name}: weights (y or the 'weight' column) must be a 1-D "
                f"array with one value per row ({n}); got shape {weight.shape}."
            )
        if not np.isfinite(weight).all() or (weight < 0).any():
            raise ValueError(
                f"{name}: weights (y or the 'weight' column) must be finite and "
                ">= 0; found NaN, inf or negative values."
            )

    order = (
        np.arange(n)
        if ts is None
        else np.argsort(np.argsort(ts, kind="stable"), kind="stable")
    )
    if duplicates == "sum":
        frame = pd.DataFrame(
            {"u": user, "i": item, "w": weight, "o": order}
            | ({} if ts is None else {"t": ts})
        )
        if frame.duplicated(["u", "i"]).any():
            agg = {"w": "sum", "o": "max"} | ({} if ts is None else {"t": "max"})
            frame = frame.groupby(["u", "i"], sort=False, as_index=False).agg(agg)
            frame = frame.sort_values("o", kind="stable")
            user = frame["u"].to_numpy()
            item = frame["i"].to_numpy()
            weight = frame["w"].to_numpy()
            ts = None if ts is None else frame["t"].to_numpy()
            order = np.argsort(np.argsort(frame["o"].to_numpy(), kind="stable"))
    return Interactions(user, item, weight, ts, order)


def _has_strings(X):
    try:
        first = X[0] if not hasattr(X, "iloc") else X.iloc[0]
        return any(isinstance(v, str) for v in np.ravel(np.asarray(first, object)))
    except (IndexError, TypeError, KeyError):
        return False
