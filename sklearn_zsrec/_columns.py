"""The ``timestamp`` and ``weight`` columns of interaction data, read exactly.

Part of :func:`~sklearn_zsrec._interactions.check_interactions`: timestamps
of any kind (numbers, datetimes, timedeltas, strings of digits) become
float64 and an exact sort key; weights become finite float64 within
float32's range (the user-item matrix's dtype), or an error that names the fix.
"""

import datetime
import re
from decimal import Decimal
from numbers import Integral

import numpy as np
import pandas as pd

# weights are stored in float32 (the user-item matrix)
_MAX_WEIGHT = float(np.finfo(np.float32).max)



def _timestamps(ts, name):
    """``(timestamps, key)``: the timestamps as float64, and an exact sort key of them.

    Datetimes and timedeltas become nanoseconds (datetimes since the epoch,
    UTC: time-zone-aware ones are converted, naive ones read as UTC), in
    ``timestamps``. ``key`` orders the rows exactly, which float64 does not:
    it holds whole numbers only up to 2**53, so integer timestamps in
    nanoseconds (about 1.7e18 today) a few hundred apart would tie, and be
    ordered by row instead of by time. Datetimes are keyed in their own unit
    (numpy's conversion to nanoseconds wraps dates outside 1677-2262 around
    silently), integers exactly (Python ints of an object column and digit
    strings and whole ``Decimal`` values too, at any size; periods by their
    start).
    One definition for the models and the splitters of
    :mod:`sklearn_zsrec.model_selection`, so that both order rows alike.
    Raises for missing values (NaN, NaT, None), inf, booleans, complex numbers, datetimes
    mixed with other values, and values that are neither numbers nor datetimes.
    """
    if isinstance(ts, pd.Series):
        if isinstance(ts.dtype, pd.ArrowDtype):  # Arrow timestamps, dates, durations, ints
            ts = ts.to_numpy(dtype=object)
        elif isinstance(ts.dtype, pd.PeriodDtype):  # a period: its start
            ts = ts.dt.to_timestamp().to_numpy()
        elif getattr(ts.dtype, "tz", None) is not None:
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        else:
            ts = ts.to_numpy()
    ts = np.asarray(ts)
    if ts.dtype.kind == "b":
        _refuse_booleans(name)
    if ts.dtype.kind == "c":  # cast to float64 by their real part, with a numpy warning
        raise ValueError(
            f"{name}: column 'timestamp' holds complex numbers; give it the times of "
            "the interactions (real numbers or datetimes).")
    if ts.dtype.kind == "O":
        ts = _typed_times(ts, name)
    if ts.dtype.kind in "mM":
        missing = np.isnat(ts)
        unit = np.datetime_data(ts.dtype)[0]
        if unit in ("Y", "M", "generic"):  # calendar units: days are exact
            kind = "datetime64" if ts.dtype.kind == "M" else "timedelta64"
            ts, unit = ts.astype(f"{kind}[D]"), "D"
        key = ts.view(np.int64)
        values = key * float(np.timedelta64(1, unit) / np.timedelta64(1, "ns"))
        values[missing] = np.nan
    elif ts.dtype.kind in "iu":
        key = ts
        values = key.astype(np.float64)
    else:
        try:
            values = ts.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name}: column 'timestamp' must be numeric or datetime; "
                f"could not convert it ({exc}). Strings of dates: parse them "
                "first, e.g. pd.to_datetime(X['timestamp'])."
            ) from None
        key = values
        if ts.dtype.kind in "OU":  # Python ints or digit strings keep their exact order
            key = _integer_ranks(ts.tolist(), values)
    if not np.isfinite(values).all():
        raise ValueError(
            f"{name}: column 'timestamp' contains NaN or inf (or NaT) in "
            f"{int((~np.isfinite(values)).sum())} rows. Fill them or drop the "
            "column."
        )
    return values, key


def _integer_ranks(values, fallback):
    """Exact ranks of Python ints, ``Decimal`` values or digit strings, else ``fallback``.

    Exact at any size: float64 ties nanosecond times (about 1.7e18) a few
    hundred apart, as read from a CSV as strings, or ints past int64, or
    ``Decimal`` values (SQL ``NUMERIC`` columns read by pandas or Arrow,
    e.g. epoch seconds with nine decimals), compared as they are.
    """
    numbers = all(isinstance(v, Integral) or (isinstance(v, Decimal) and v.is_finite())
                  or (isinstance(v, (float, np.floating)) and np.isfinite(v)) for v in values)
    whole = numbers and all(_is_whole(v) for v in values)
    if numbers and not whole and any(isinstance(v, Decimal) for v in values):
        # fractional Decimals (beside ints or floats, which Decimal compares exactly)
        exact = [int(v) if isinstance(v, Integral) else float(v) if isinstance(
            v, (float, np.floating)) else v for v in values]
        exact = np.fromiter(exact, dtype=object, count=len(exact))
        return np.unique(exact, return_inverse=True)[1].ravel()
    if not (whole or all(isinstance(v, str) and _DIGITS.fullmatch(v) for v in values)):
        return fallback
    ints = [int(v) for v in values]
    exact = np.asarray(ints)
    if exact.dtype.kind in "iu":
        return exact
    return np.unique(np.asarray(ints, dtype=object), return_inverse=True)[1].ravel()


_DIGITS = re.compile(r"\s*[+-]?\d+\s*")


def _is_whole(value):
    """An int, or a whole ``Decimal`` (SQL NUMERIC columns, Arrow decimal128)."""
    if isinstance(value, Decimal):
        return value.is_finite() and value == value.to_integral_value()
    return isinstance(value, Integral)


def _refuse_booleans(name):
    raise ValueError(
        f"{name}: column 'timestamp' holds booleans (True/False), which order no "
        "rows in time (they would read as times 1 and 0). Give it the times of the "
        "interactions (numbers or datetimes), or rename or drop the column."
    )


def _typed_times(ts, name):
    """An object array of timestamps as datetime64 or timedelta64 when it holds them.

    Datetimes (``datetime``, ``date``, ``np.datetime64``, ``pd.Timestamp``,
    ``pd.Period`` by its start)
    or timedeltas, each with missing values (None, NaN, NaT) beside them,
    become one numpy array (datetimes in UTC); numbers stay as they are.
    Datetimes mixed with numbers or with timedeltas raise, as do booleans.
    """
    kinds = set()
    for v in ts:
        if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and v != v) or (
                isinstance(v, (np.datetime64, np.timedelta64)) and np.isnat(v)):
            continue  # missing: raises below, as missing
        if isinstance(v, (bool, np.bool_)):
            _refuse_booleans(name)
        if isinstance(v, (datetime.date, np.datetime64, pd.Period)):
            kinds.add("datetime")
        elif isinstance(v, (datetime.timedelta, np.timedelta64)):
            kinds.add("timedelta")
        else:
            kinds.add("other")
    if not kinds & {"datetime", "timedelta"}:  # numbers: missing ones (pd.NA too) as NaN
        return np.where(pd.isna(ts), np.nan, ts) if kinds else np.full(len(ts), np.nan)
    if len(kinds) > 1:
        raise ValueError(
            f"{name}: column 'timestamp' mixes {' and '.join(sorted(kinds))} values; "
            "give every row a datetime, or every row a number."
        )
    try:
        if kinds == {"datetime"}:
            ts = [v.to_timestamp() if isinstance(v, pd.Period) else v for v in ts]
            try:
                return pd.to_datetime(ts, utc=True).tz_localize(None).to_numpy()
            except (pd.errors.OutOfBoundsDatetime, OverflowError):
                micro = _microseconds(ts)  # pandas 2 converts to nanoseconds only
                if micro is None:  # nanoseconds beside years past 2262: no unit holds both
                    raise
                return micro
        return pd.to_timedelta(ts).to_numpy()
    except (TypeError, ValueError, OverflowError) as exc:
        fix = ("Nanoseconds reach only the years 1677-2262: give them one unit that holds "
               "them all (e.g. np.datetime64 values in 'us'), or pass numbers."
               if isinstance(exc, (pd.errors.OutOfBoundsDatetime, OverflowError))
               else "Give every row a datetime, or every row a number.")
        raise ValueError(
            f"{name}: column 'timestamp' holds datetimes that could not be converted "
            f"together ({exc}). {fix}"
        ) from None


def _microseconds(values):
    """Datetimes as datetime64[us] in UTC: past the years of nanoseconds (1677-2262),
    which pandas 2's ``to_datetime`` gives (pandas 3 picks a unit that holds them).
    None if a value has nanoseconds, which microseconds would round away."""
    out = []
    for value in values:
        stamp = pd.Timestamp(value)
        if stamp is not pd.NaT and stamp.nanosecond:
            return None
        if stamp.tz is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        out.append(stamp.to_datetime64())
    return np.array(out, dtype="datetime64[us]")


def _weights(weight, name):
    """Weights as float64, or an error naming the first value that is not a number."""
    if hasattr(weight, "toarray"):  # np.asarray made it one object: "must be numbers"
        raise TypeError(
            f"{name}: y is a sparse matrix; pass one weight per row of X as a 1-D "
            "array, e.g. y.toarray().ravel().")
    if isinstance(weight, pd.Series):
        weight = weight.to_numpy()
    dtype = np.asarray(weight).dtype
    if dtype.kind in "mMc":  # times and complex numbers cast to float64 without a word
        raise ValueError(
            f"{name}: weights (y or the 'weight' column) must be real numbers; got "
            f"dtype {dtype}. Pass the weights (e.g. counts or "
            "ratings), and times as the 'timestamp' column.")
    if dtype.kind == "O":  # missing values (pd.NA of a nullable "clicked" flag) as NaN
        weight = np.where(pd.isna(weight), np.nan, weight)
    try:
        return np.asarray(weight, dtype=np.float64)
    except (TypeError, ValueError):
        values = np.asarray(weight, dtype=object).ravel()
        bad = next(v for v in values if not _is_number(v))
        raise ValueError(
            f"{name}: weights (y or the 'weight' column) must be numbers; got "
            f"{bad!r} ({type(bad).__name__}). Map them to numbers (e.g. "
            "{'light': 1, 'heavy': 5}), or leave them out (no y and no 'weight' "
            "column: every row weighs 1)."
        ) from None


def _numeric_labels(index):
    """Whether ``index`` holds numbers, whatever its dtype: pandas pairs labels
    by value, so X's 0, 1, 2 and y's 0.0, 1.0, 2.0 (or ints in an object
    index) are the same labels."""
    return index.dtype.kind in "iuf" or (
        index.dtype.kind == "O"
        and index.inferred_type in ("integer", "floating", "mixed-integer-float", "decimal"))


def _has_label(index, label):
    """Whether ``index`` finds the one label of ``label`` (an Index) as its
    ``get_indexer`` does, without converting the index: a DatetimeIndex of
    10^6 looking up one string turned itself into objects first (3 s)."""
    if index.dtype.kind in "mM":  # the label as a date or duration, if it is one
        try:
            label = label.astype(index.dtype)
        except (TypeError, ValueError):
            return False
    return bool((index.get_indexer(label) >= 0).any())


def check_y_index(X, y, name):
    """Raise when ``y`` (a Series) holds the labels of ``X`` (a DataFrame, as the
    caller gave it) in another order.

    ``y`` is paired with X's rows by position, as scikit-learn pairs them,
    while ``X.assign(weight=y)`` pairs them by label: a log sorted by time
    (``X = log.sort_values("time")``) beside its unsorted ``log["clicked"]``
    gave each row another row's weight, silently. Labels that are not the
    same set (a ``pd.Series`` beside X of other labels) cannot pair them, nor
    can X's labels 0 to n - 1 in order (``reset_index(drop=True)``, or a table
    without an index): those pair by position, as any array. A ``pd.Series(weights)``
    of X's row order beside a sorted X raises too: its labels are the same
    set; the message says which fix fits which case.
    """
    if not (isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)):
        return
    a, b = X.index, y.index
    if len(a) != len(b):
        return
    numbers = _numeric_labels(a)
    if numbers != _numeric_labels(b):
        return  # (event ids beside pd.Series(w): other labels, told without a pass)
    # (not the types: a CategoricalIndex of X's labels, or Timestamps as
    # objects beside a DatetimeIndex, are X's labels to pandas)
    if a.equals(b) or (isinstance(a, pd.RangeIndex) and a.start == 0 and a.step == 1):
        return  # (only 0..n - 1 is "no labels": log[::-1] keeps its labels in a RangeIndex)
    if numbers and (a.min(), a.max()) != (b.min(), b.max()):
        return  # (X = log[mask] beside pd.Series(w): other labels, told without a hash)
    unique = looked_up = a.is_unique and b.is_unique
    try:
        # pandas pairs them as y.reindex(X.index) does: y's index looks up
        # X's labels (a DatetimeIndex y finds X's date strings; X's
        # DatetimeIndex does not make y's date strings its labels). X's
        # first label first, so that labels of other types are told apart
        # without converting millions of them
        if not _has_label(b, a[:1]):
            return
        if unique and (b.get_indexer(a) < 0).any():  # one hash of y's labels
            return
    except pd.errors.InvalidIndexError:  # overlapping intervals: no lookup
        looked_up = False
    if not looked_up and not (a.isin(b).all() and b.isin(a).all()):
        return
    fix = ("If y is a column of the table X came from (log['clicked'] beside a sorted log), "
           "align it by label, y.loc[X.index] (or pass it as X's 'weight' column); if it "
           "was made in X's row order (pd.Series(weights)), pass y.to_numpy()." if unique else
           "The labels repeat (pd.concat of several logs), so they cannot pair them: take "
           "X and y from one table in one step (X = log.sort_values(...); y = X.pop("
           "'clicked')), or pass y.to_numpy() if the rows are already in the same order.")
    raise ValueError(
        f"{name}: X and y hold the same index labels in another order (X "
        f"{a[:3].tolist()}..., y {b[:3].tolist()}...); y's weights are paired with X's "
        "rows by position, as scikit-learn pairs them, not by label as X.assign(weight=y) "
        f"would. {fix}")


def checked_weights(weight, n, name):
    """``_weights``, one per row (``n`` rows), finite and >= 0, or an error naming the fix."""
    weight = _weights(weight, name)
    if weight.ndim != 1 or len(weight) != n:
        got = f"{len(weight)} values" if weight.ndim == 1 else f"shape {weight.shape}"
        raise ValueError(
            f"{name}: weights (y or the 'weight' column) must be a 1-D array with "
            f"one value per row of X; y has {got} for {n} rows. Pass one weight per row."
        )
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        missing, first = int(np.isnan(weight).sum()), int(np.flatnonzero(bad)[0])
        fixes = ["Fill the missing ones (e.g. fillna(0): an impression without a click) "
                 "or drop those rows." if missing else "",
                 "Weights are confidences, not ratings to centre: drop the negative rows "
                 "(a dislike is no interaction) or clip them, e.g. np.clip(y, 0, None)."
                 if (weight < 0).any() else "",
                 "Replace or drop the infinite ones."
                 if np.isinf(weight).any() else ""]
        raise ValueError(
            f"{name}: weights (y or the 'weight' column) must be finite and "
            f">= 0; found NaN, inf or negative values in {int(bad.sum())} rows (e.g. "
            f"{weight[first].item()!r} at row {first}"
            + (f"; {missing} missing: NaN or NA). " if missing else "). ")
            + " ".join(fix for fix in fixes if fix)
        )
    return weight


def _is_number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _check_weight_range(weight, name, summed=False):
    """Weights must fit float32, in which the user-item matrix holds them."""
    if len(weight) and weight.max() > _MAX_WEIGHT:
        what = "the summed weights of repeated (user_id, item_id) pairs" if summed else "weights"
        raise ValueError(
            f"{name}: {what} must be at most {_MAX_WEIGHT:.3g} (they are "
            f"stored as float32); got {weight.max():.3g}. Rescale them, e.g. "
            "divide by their maximum or take np.log1p."
        )
