"""Validation of interaction data: the first step of every recommender.

Interactions arrive as a pandas DataFrame with columns ``user_id``, ``item_id``
and optionally ``timestamp`` and ``weight``, or as an array of shape (n, 2) or
(n, 3) in the column order ``user_id, item_id[, timestamp]``.
:func:`check_interactions` turns either into an :class:`Interactions` record of
aligned one-dimensional arrays, or raises an error that names the fix.
"""

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from numbers import Integral

import re
import warnings

import numpy as np
import pandas as pd

from ._columns import _check_weight_range, _timestamps, check_y_index, checked_weights
from ._progress import caller_stacklevel
from ._ids import refuse_nul

_COLUMNS = ("user_id", "item_id", "timestamp", "weight")
_SPELLINGS = {c.replace("_", ""): c for c in _COLUMNS}  # "userid": "user_id", ...


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
    # user-item matrices built from these rows, shared by the models fitted
    # on them (see ``matrix``)
    matrices: list = field(default_factory=list, repr=False, compare=False)

    def __len__(self):
        return len(self.user_id)

    @property
    def interacted(self):
        """Which rows are interactions: a row of weight 0 (an impression
        without a click) is none. It stays a seen item."""
        return np.asarray(self.weight) != 0

    def matrix(self, items, build):
        """``build()`` for the item list ``items`` (None: the rows' own), built once.

        The models fitted on one record (a hybrid's members) share one
        user-item matrix per item list (not flagged read-only: implicit's
        fits take writable buffers; no model of the package changes it).
        """
        for known, value in self.matrices:
            if known is items or (known is not None and items is not None
                                  and len(known) == len(items) and np.array_equal(known, items)):
                return value
        value = build()
        self.matrices.append((items, value))
        return value


# floats hold every whole number up to 2**53 exactly; whole-number float ids
# in that range become ints (1.0 -> 1), larger ones stay floats so that two
# distinct ids never wrap or round into one
_EXACT_FLOAT_INT = 2**53


def is_positive_int(value):
    """Whether ``value`` is an int >= 1 (a Python or numpy int; not a bool)."""
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def float32_weights(weights):
    """``weights`` (float64 sums included) in float32, a positive one kept positive.

    One under float32's range (time decay: ``exp(-130)``) is raised to its
    smallest, 1.4e-45, not rounded to 0: still an interaction, still above
    the weights of 0 (a seen item without one).
    """
    weights = np.asarray(weights)
    with np.errstate(under="ignore"):  # expected (also under np.seterr(all="raise"))
        out = weights.astype(np.float32)
    out[(out == 0) & (weights > 0)] = np.finfo(np.float32).smallest_subnormal
    return out


def object_array(values):
    """A 1-D object array with one element per item of the list ``values``.

    Tuples stay elements (``np.asarray`` would make a list of pairs 2-D).
    """
    return np.fromiter(values, dtype=object, count=len(values))


def _refuse_id_dtype(dtype, name, estimator_name):
    raise TypeError(
        f"{estimator_name}: {name} holds {dtype} values; "
        "ids must be ints, strings or other hashable values, not booleans "
        "(they would merge with 1 and 0), datetimes or timedeltas. Map them to "
        "ints or strings first (e.g. .astype(str))."
    )


def check_ids(values, name, estimator_name):
    """Ids as a 1-D array: one rule for every input kind.

    Ids keep their Python identity and type: ints stay ints, strings stay
    strings (never fixed-width numpy strings, which drop trailing NUL
    characters), and a column that mixes ints and strings keeps both, as an
    object array, whatever the row order. Whole-number floats (an array read
    as float because of a float timestamp column) become ints when they are
    exactly representable (``abs(id) < 2**53``); others stay floats.
    Missing ids (NaN, None, NaT) and booleans (``True`` would merge with
    ``1``) raise an error that names the column and the fix.

    Parameters
    ----------
    values : array-like of shape (n,)
        The ids, as a numpy array (any dtype), pandas Series or list.
    name : str
        The column or argument, for error messages (``"column 'user_id'"``).
    estimator_name : str
        The estimator, for error messages.

    Returns
    -------
    ids : ndarray of shape (n,)
        int64, uint64 or float64 for numeric ids, object otherwise.
    """
    if isinstance(values, (pd.Series, pd.Index)):
        dates = str(values.dtype).startswith(("date32", "date64"))  # Arrow dates: ids
        if getattr(values.dtype, "kind", "O") in ("m", "M") and not dates:
            # tz-aware, Arrow timestamps: as datetime64, not dates
            _refuse_id_dtype(values.dtype, name, estimator_name)
        # (pandas 2.0 gave Arrow dates as datetime64[D], refused below)
        values = values.to_numpy(dtype=object) if dates else values.to_numpy()
    elif not isinstance(values, np.ndarray):
        values = np.asarray(values, dtype=object)
    if values.dtype.kind in "US":
        values = values.astype(object)
    if values.dtype.kind == "O":
        values = _infer_ids(values, name, estimator_name)
        refuse_nul(values, f"{estimator_name}: {name}")
    if values.dtype.kind not in "iufO":
        _refuse_id_dtype(values.dtype, name, estimator_name)
    # one dtype per kind (int32 ids added to an int64 catalog made it object)
    if values.dtype.kind in "iu" and values.dtype != np.uint64:
        values = values.astype(np.int64, copy=False)
    elif values.dtype.kind == "f":
        values = values.astype(np.float64, copy=False)
    if values.dtype.kind == "f":
        finite = np.isfinite(values)
        if not finite.all():
            raise ValueError(
                f"{estimator_name}: {name} contains NaN or inf ids "
                f"({int((~finite).sum())} rows). Drop or fill those rows first."
            )
        if np.all(values == np.round(values)) and np.all(
            np.abs(values) < _EXACT_FLOAT_INT
        ):
            values = values.astype(np.int64)
    return values


def holds_booleans(values, kind=None):
    """Whether the object array ``values`` holds a bool (``True`` would merge with ``1``).

    ``kind``: its ``pd.api.types.infer_dtype`` if known. Only a column that
    infers as booleans or as mixed is read value by value.
    """
    kind = pd.api.types.infer_dtype(values, skipna=False) if kind is None else kind
    return kind == "boolean" or (kind in ("mixed", "mixed-integer") and any(
        isinstance(v, (bool, np.bool_)) for v in values))


def _infer_ids(values, name, estimator_name):
    """An object array of ids as int64/float64 when all are such, else as is."""
    missing = pd.isna(values)
    if missing.any():
        raise ValueError(
            f"{estimator_name}: {name} contains missing ids "
            f"(NaN/None in {int(missing.sum())} rows). Drop or fill those "
            "rows first."
        )
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if holds_booleans(values, kind):  # among other ids: as a column of booleans
        _refuse_id_dtype("bool", name, estimator_name)
    if kind == "integer":
        try:
            return values.astype(np.int64)
        except OverflowError:  # Python ints past int64: keep them exact
            return values
    big = kind == "mixed-integer-float" and any(
        isinstance(v, (int, np.integer)) and abs(int(v)) >= _EXACT_FLOAT_INT for v in values)
    if kind == "floating" or (kind == "mixed-integer-float" and not big):
        return values.astype(np.float64)
    if kind == "mixed":  # lists, arrays, dicts among them: refused before any hash
        refuse_unhashable(values, f"the ids of {name}", estimator_name)
    if kind in ("mixed", "mixed-integer", "mixed-integer-float"):
        # beside strings (or ints float64 cannot hold), whole-number floats
        # become ints one by one, as in a float column: the id 1.0 is 1
        # whatever the rows around it
        whole = [k for k, v in enumerate(values) if isinstance(v, (float, np.floating))
                 and float(v).is_integer() and abs(v) < _EXACT_FLOAT_INT]
        if whole:
            values = values.copy()  # may be a view of the caller's column
            for k in whole:
                values[k] = int(values[k])
    return values


def refuse_sparse(X, name):
    """Raise when ``X`` is a sparse user-item matrix instead of interaction rows."""
    if hasattr(X, "toarray"):
        raise TypeError(
            f"{name}: X is a sparse matrix; pass interactions as rows "
            "(user_id, item_id[, timestamp]), e.g. from scipy.sparse "
            "coo_matrix(X).row and .col."
        )


def check_interactions(
    X, y=None, *, estimator_name="Recommender", duplicates="sum", copy_frame=False,
    reads_order=True,
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
        whose weight is the sum and whose timestamp is the latest (of the
        rows of non-zero weight, when there are any: an impression after a
        click does not move the click), and
        returns the rows in time order; ``"keep"`` keeps every row in the
        order of X (for scoring held-out rows).
    reads_order : bool, default=True
        Whether the caller reads each user's rows in time order: a Spark
        DataFrame without a ``timestamp`` column then warns (Spark keeps no
        row order).

    Returns
    -------
    Interactions
    """
    name = estimator_name
    if isinstance(X, Interactions) and y is None and duplicates == "sum":
        # already checked and merged (a composite passing its data on to its
        # members, e.g. HybridRecommender): validated once, not once per member
        return X
    if _is_spark_frame(X):
        X = _from_spark(X, y, name, reads_order)
    check_y_index(X, y, name)  # X as given: a table without an index has no labels
    X = named_columns(X, name)
    if isinstance(X, pd.DataFrame):
        missing = [c for c in ("user_id", "item_id") if c not in X.columns]
        if missing:
            raise ValueError(
                f"{name}: X is missing the column(s) {missing}; got columns "
                f"{list(map(str, X.columns))}. Rename your columns to 'user_id' "
                "and 'item_id' (optionally 'timestamp' and 'weight')."
                + index_hint(X, missing))
        user, item = X["user_id"], X["item_id"]  # Series: check_ids reads their dtype
        ts = X["timestamp"] if "timestamp" in X.columns else None
        col_weight = X["weight"].to_numpy() if "weight" in X.columns else None
    else:
        if isinstance(X, (str, bytes)) or X is None:
            raise ValueError(
                f"{name}: X must be a DataFrame with columns 'user_id' and "
                f"'item_id', or an array of shape (n, 2) or (n, 3); got {X!r}."
            )
        refuse_sparse(X, name)
        if isinstance(X, Mapping):
            raise TypeError(
                f"{name}: X is a {type(X).__name__}; pass a DataFrame with "
                "columns 'user_id' and 'item_id' (e.g. pd.DataFrame(X)), or an "
                "array of shape (n, 2) or (n, 3)."
            )
        # a list keeps each value's Python type (np.asarray would turn the
        # int 1 into the string '1' beside a string id); columns are typed
        # one by one below
        arr = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
        if arr.dtype.kind == "c":
            raise ValueError(
                f"{name}: Complex data not supported; ids and timestamps must "
                "be real numbers or strings."
            )
        if arr.ndim == 1 and len(arr) and all(isinstance(row, Mapping) for row in arr):
            raise ValueError(
                f"{name}: X is a list of {len(arr)} dicts; pass pd.DataFrame(X) (their "
                "keys as columns 'user_id', 'item_id', ...).")
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
    user = check_ids(user, "column 'user_id'", name)
    item = check_ids(item, "column 'item_id'", name)

    if ts is not None:
        ts, ts_key = _timestamps(ts, name)

    if y is not None and col_weight is not None:
        raise ValueError(
            f"{name}: weights were given twice, as y and as the 'weight' "
            "column of X; pass only one."
        )
    weight = y if y is not None else col_weight
    if weight is None:
        weight = np.ones(n, dtype=np.float64)
    else:
        weight = checked_weights(weight, n, name)
        _check_weight_range(weight, name)

    order = (
        np.arange(n)
        if ts is None
        else np.argsort(np.argsort(ts_key, kind="stable"), kind="stable")
    )
    if duplicates == "sum":
        # grouped by codes: a key column of ints past 2**53 and floats became
        # float64 in groupby, which merged distinct ids
        frame = pd.DataFrame(
            {"u": _codes(user, "the ids of column 'user_id'", name),
             "i": _codes(item, "the ids of column 'item_id'", name), "w": weight,
             "o": order, "r": np.arange(n)}
            | ({} if ts is None else {"t": ts})
        )
        if frame.duplicated(["u", "i"]).any():
            # the merged row's time is its latest interaction's: rows of
            # weight 0 (an impression after the click) only when all weigh 0
            frame["o"] = np.where(weight != 0, order + n, order)
            agg = {"w": "sum", "o": "max", "r": "first"}
            frame = frame.groupby(["u", "i"], sort=False, as_index=False).agg(agg)
            frame["o"] %= n  # the order of the row whose time is kept
            frame = frame.sort_values("o", kind="stable")
            user = user[frame["r"].to_numpy()]
            item = item[frame["r"].to_numpy()]
            weight = frame["w"].to_numpy()
            _check_weight_range(weight, name, summed=True)
            latest = frame["o"].to_numpy()
            if ts is not None:
                by_order = np.empty_like(ts)
                by_order[order] = ts
                ts = by_order[latest]
            order = np.argsort(np.argsort(latest, kind="stable"))
        elif ts is not None:
            # rows in time order, as merged rows are: models that draw random
            # samples over rows then give the same answer for any row order
            # of the same interactions
            by_time = np.argsort(order, kind="stable")
            user, item, weight, ts = user[by_time], item[by_time], weight[by_time], ts[by_time]
            order = np.arange(n)
    return Interactions(user, item, weight, ts, order)


def _codes(ids, what, name):
    """Integer codes of ``ids`` (equal ids, equal codes), or an error for unhashable ids."""
    try:
        return pd.factorize(ids)[0]
    except TypeError:
        refuse_unhashable(ids, what, name)
        raise  # another cause: pandas' own message


def refuse_unhashable(values, what, name):
    """Raise for ids that are no scalars (lists, arrays, dicts), naming the fix.

    A list column not exploded (JSON, parquet, ``groupby().agg(list)``) got
    pandas' bare "unhashable type" from any hash of it, naming neither the
    column nor the fix.
    """
    bad = next((v for v in values if not isinstance(v, Hashable)), None)
    if bad is not None:
        raise ValueError(
            f"{name}: {what} must be scalars (str, int, ...); got {bad!r} "
            f"({type(bad).__name__}). Pass one id per row (e.g. a list column "
            "exploded, a struct column's id field)."
        ) from None


def positions(index, ids):
    """``index.get_indexer(ids)`` (``index`` a ``pd.Index``), exact for floats on int ids.

    pandas compares float ids with int64 ids in float64 after its own
    conversion: past 2**53 a float matched another int than the one it
    equals (float(2**60 + 1), which is 2**60, found 2**60 + 2). Integral
    floats are looked up as the ints they equal; others match no int id.
    """
    ids = np.asarray(ids)
    if (ids.dtype == object and ids.ndim == 1 and ids.size and isinstance(index.dtype, np.dtype)
            and index.dtype.kind in "iu"):  # floats held in an object array (one id, a mix)
        floats = np.array([isinstance(v, (float, np.floating)) for v in ids], dtype=bool)
        if floats.any():
            out = index.get_indexer(ids)
            out[floats] = positions(index, ids[floats].astype(np.float64))
            return out
    if (ids.dtype.kind != "f" or not isinstance(index.dtype, np.dtype)
            or index.dtype.kind not in "iu" or not ids.size):
        return index.get_indexer(ids)
    integral = np.isfinite(ids) & (ids == np.floor(ids))
    limits = np.iinfo(index.dtype)
    integral &= (ids >= limits.min) & (ids <= float(limits.max))
    out = np.full(ids.shape, -1, dtype=np.intp)
    out[integral] = index.get_indexer(
        np.array([int(v) for v in ids[integral]], dtype=object)
        if integral.any() else np.zeros(0, dtype=index.dtype))
    return out


def arrow_values(values):
    """A pyarrow Array or ChunkedArray as a pandas Series; anything else as it is.

    Iterating an Arrow array yields pyarrow scalars, which equal no id (a
    ``pa.Int64Scalar`` is not ``1``): its values are read as pandas reads
    them, except a list array (or a pandas Series of Arrow lists), whose
    rows are Python lists (nulls None) so that int ids stay exact.
    """
    if isinstance(getattr(values, "dtype", None), pd.ArrowDtype) and _is_list(
            values.dtype.pyarrow_dtype):  # a pandas Series of Arrow lists
        return pd.Series(values.tolist(), index=values.index, dtype=object)
    if type(values).__module__.startswith("pyarrow") and hasattr(values, "to_pandas") \
            and not hasattr(values, "column_names"):  # (tables: ``_arrow_frame``)
        if _is_list(values.type):
            # rows as Python lists: pandas reads int lists with nulls as float64,
            # which rounds ids past 2**53 (every row, not only those with a null)
            return pd.Series(values.to_pylist(), dtype=object)
        return values.to_pandas()
    return values


def refuse_table(ids, name, owner, column):
    """A table (pandas, polars, Arrow) given for a sequence of ids raises:
    iterating it would give its column names."""
    if isinstance(ids, pd.DataFrame) or hasattr(ids, "__arrow_c_stream__") and \
            hasattr(ids, "columns"):
        raise TypeError(
            f"{owner}: {name} is a {type(ids).__name__}, a table (iterating it gives its "
            f"column names); pass its column of ids, e.g. {name}[{column!r}].")


def refuse_counts(ids, name, owner, column):
    """A Series indexed by ``column`` (``value_counts()``, a ``groupby``) given
    for a sequence of ids raises: its values are not the ids, its index is.

    ``X.user_id.value_counts().head(5)`` ranked its counts as user ids
    (737, 685, ...: ids of other users), silently. The index's name read as
    X's columns are (``userId`` too), or the Series named as
    ``value_counts`` names it (``count``, ``proportion``).
    """
    if not isinstance(ids, pd.Series) or (isinstance(ids.index, pd.MultiIndex)
                                          and ids.name not in ("count", "proportion")):
        return  # (X[["user_id"]].value_counts(): a MultiIndex of one level, named 'count')
    if ((_ours(ids.index.name) == column and _ours(ids.name) != column)
            or ids.name in ("count", "proportion")):
        levels = isinstance(ids.index, pd.MultiIndex)  # (its index holds 1-tuples)
        index = f"{name}.index.get_level_values(0)" if levels else f"{name}.index"
        raise ValueError(
            f"{owner}: {name} is a Series indexed by "
            f"{list(ids.index.names) if levels else ids.index.name!r} and named "
            f"{ids.name!r} (e.g. value_counts() or a groupby): its values are not the ids; "
            f"pass its index, {index}, or its values as an array ({name}.to_numpy()) "
            "if they are ids.")


def _is_list(arrow_type):
    import pyarrow as pa

    return (pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
            or pa.types.is_fixed_size_list(arrow_type))


def _is_spark_frame(X):
    """Whether ``X`` is a Spark DataFrame (classic or Spark Connect), without importing pyspark."""
    return type(X).__module__.startswith("pyspark.") and hasattr(X, "toPandas")


def _spark_to_pandas(X):
    """The interaction columns of a Spark DataFrame, as a pandas DataFrame (on the driver).

    Without ``user_id`` or ``item_id`` only the header comes over, for
    :func:`check_interactions` to name the missing columns; our columns
    spelt otherwise (``TIMESTAMP``) come over too, for it to refuse them.

    Spark's timestamps are instants: they come over in UTC (``toPandas``
    gives the session time zone's wall-clock times, which run backwards in
    the hour a daylight-saving change repeats). With a ``timestamp``
    column, the rows come sorted by user, time and item: a Spark frame has
    no row order, and a user's rows tied in time, which the models order
    by row, would follow the partitioning (a ``repartition``, a join).
    """
    if not {"user_id", "item_id"} <= set(X.columns):
        return X.limit(0).toPandas()
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    kept = [c for c in X.columns if _ours(c) is not None]
    instants = [f.name for f in X.schema.fields
                if f.name in kept and isinstance(f.dataType, TimestampType)]
    if "timestamp" in kept:
        X = X.orderBy("user_id", "timestamp", "item_id")
    X = X.select([F.expr(f"unix_micros(`{c}`)").alias(c) if c in instants else X[f"`{c}`"]
                  for c in kept])
    out = X.toPandas()
    for c in instants:
        out[c] = pd.to_datetime(out[c], unit="us", utc=True)
    return out


def _from_spark(X, y, name, reads_order=True):
    """A Spark DataFrame ``X`` as pandas (``_spark_to_pandas``; Arrow's own export
    failed on its TimestampType columns), refusing ``y`` and, for a model that
    ``reads_order``, warning without timestamps: Spark keeps no row order."""
    if y is not None:
        raise ValueError(
            f"{name}: y was given with a Spark DataFrame X, whose rows have no fixed "
            "order to align y with; add the weights to X as a 'weight' column instead.")
    if reads_order and "timestamp" not in X.columns:
        warnings.warn(
            f"{name}: X is a Spark DataFrame without a 'timestamp' column; Spark keeps no "
            "row order, so the order of each user's rows, read as their time order (by "
            "NextItemRecommender, half_life, the hybrid), is arbitrary: add a 'timestamp' "
            "column.", UserWarning, stacklevel=caller_stacklevel())
    return _spark_to_pandas(X)


def index_hint(X, missing):
    """A hint when the ``missing`` columns of the DataFrame ``X`` are its index."""
    held = [c for c in missing if c in X.index.names]
    if not held:
        return ""
    return (f" X holds {held} as its index (after set_index or a groupby): pass "
            "X.reset_index().")


def named_columns(X, name):
    """``X`` as a DataFrame when its columns have names; anything else as it is.

    Arrow tables (``_arrow_frame``) and numpy structured arrays are read by
    column name, as a DataFrame is. A column of ours (user_id, item_id,
    timestamp, weight) present twice (``pd.concat(axis=1)``) raises.
    """
    if type(X).__name__ == "LazyFrame":  # polars (np.asarray makes it a 0-d array)
        raise TypeError(f"{name}: X is a {type(X).__name__}, a query not yet run; pass "
                        "its table, X.collect().")
    X = _arrow_frame(X, name)
    if isinstance(X, np.ndarray) and X.dtype.names is not None:
        X = pd.DataFrame(X.ravel() if X.ndim > 1 else X)
    if isinstance(X, pd.DataFrame):
        twice = [c for c in _COLUMNS if (X.columns == c).sum() > 1]
        if twice:
            raise ValueError(
                f"{name}: X has the column(s) {twice} more than once (e.g. from "
                "pd.concat(..., axis=1)); keep one of each, e.g. "
                "X.loc[:, ~X.columns.duplicated()].")
        _check_spelling(X.columns, name)
    return X


def _ours(column):
    """Which of our columns ``column`` spells, whatever its capitals, spaces,
    ``_`` or ``-`` and a plural ``s`` (``userId``, ``Time Stamp``, ``weights``), or None."""
    key = re.sub(r"[\s_\-]", "", str(column).casefold())
    return _SPELLINGS.get(key) or (_SPELLINGS.get(key[:-1]) if key.endswith("s") else None)


def _check_spelling(columns, name):
    """Our columns spelt otherwise (``TIMESTAMP``, ``Weight``, ``USER_ID``) raise.

    Columns are read by their exact names and others ignored, so a
    ``TIMESTAMP`` column (as SQL engines return it) would leave row order as
    time order, and a ``Weight`` or ``weights`` column would count
    impressions as clicks. Spelt otherwise: in other capitals, with spaces,
    ``_`` or ``-`` put in or left out, or a plural ``s`` (``userId``,
    ``time_stamp``, ``weights``; see ``_ours``).
    """
    spelt = {col: ours for col in columns
             if (ours := _ours(col)) is not None and ours != col and ours not in columns}
    if spelt:
        raise ValueError(
            f"{name}: X has the column(s) {list(spelt)}; columns are read by their exact "
            f"names ({', '.join(_COLUMNS)}), so these would be ignored. Rename them, "
            f"e.g. X.rename(columns={spelt!r}), or drop them if they hold something else.")


def _arrow_frame(X, name):
    """A table with named columns (pyarrow Table or RecordBatch, polars, ...) as a DataFrame.

    Tables exporting Arrow streams (``__arrow_c_stream__``) are read by
    column name, as a DataFrame is (``np.asarray`` would read them by
    position); Arrow-typed columns are kept (``pd.ArrowDtype``). Anything
    else is returned as it is.
    """
    if type(X).__module__.startswith("pyarrow") and type(X).__name__ in (
            "StructArray", "ChunkedArray") and str(getattr(X, "type", "")).startswith("struct"):
        # rows of named fields: what scikit-learn's indexing makes of a
        # RecordBatch (cross_validate, GridSearchCV); read as its table
        import pyarrow as pa

        return pa.Table.from_struct_array(X).to_pandas(types_mapper=pd.ArrowDtype)
    if isinstance(X, (pd.DataFrame, np.ndarray)) or not hasattr(X, "__arrow_c_stream__"):
        return X
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - Arrow tables come with pyarrow
        raise TypeError(f"{name}: X is a {type(X).__name__} (an Arrow table); install "
                        "pyarrow, or pass X.to_pandas().") from None
    if not isinstance(X, (pa.Table, pa.RecordBatch)):
        try:
            X = pa.table(X)
        except (pa.ArrowInvalid, TypeError, ValueError):  # not a table (an array): as is
            return X
    # (the schema's metadata kept: a pandas frame's index stays its index)
    plain = pa.schema([f.with_type(_without_views(f.type)) for f in X.schema],
                      metadata=X.schema.metadata)
    if not plain.equals(X.schema):  # (pyarrow 14 and 15 have no view types, nor batch casts)
        X = pa.Table.from_batches([X]) if isinstance(X, pa.RecordBatch) else X
        X = X.cast(plain)
    return X.to_pandas(types_mapper=pd.ArrowDtype)


def _without_views(arrow_type):
    """Arrow's view types (polars exports its strings as ``string_view``) as
    their plain types, which pandas can turn into numpy; other types as they are."""
    import pyarrow as pa

    if getattr(pa.types, "is_string_view", lambda t: False)(arrow_type):  # pyarrow >= 16
        return pa.large_string()
    if getattr(pa.types, "is_binary_view", lambda t: False)(arrow_type):
        return pa.large_binary()
    if pa.types.is_dictionary(arrow_type):  # polars' Categorical and Enum
        return pa.dictionary(arrow_type.index_type, _without_views(arrow_type.value_type),
                             arrow_type.ordered)
    return arrow_type
