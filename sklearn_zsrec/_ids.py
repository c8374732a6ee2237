"""Ids across inputs: the catalog's order of mixed ids, and hints for ids of another type."""

import re
from numbers import Integral, Real

import numpy as np
import pandas as pd

# pandas before 3.1 hashes a string up to its first NUL character: its
# factorize and unique made "x" and "x\0" one id (pandas-dev/pandas#34551)
_NUL_MERGES = tuple(map(int, re.match(r"(\d+)\.(\d+)", pd.__version__).groups())) < (3, 1)


def refuse_nul(values, what):
    """Raise when ``values`` (ids) hold a string with a NUL character that this
    pandas would merge with another id; ``what`` names them in the message."""
    if not _NUL_MERGES or values.dtype.kind != "O":
        return
    bad = next((v for v in values if isinstance(v, str) and "\0" in v), None)
    if bad is not None:
        raise ValueError(
            f"{what} holds ids with a NUL character (e.g. {bad!r}): pandas "
            f"{pd.__version__} reads a string only up to its first NUL, so ids that "
            "differ after it would be counted as one id. Upgrade pandas to 3.1 or "
            "later, or map the ids to strings without NUL characters.")


def _unique_ids(values):
    """Distinct ids, sorted; ids of mixed types sorted by kind (``_kind``), then value.

    So the catalog's order (which breaks ties in the rankings) does not
    depend on the order of the rows.
    """
    uniq = pd.unique(values)
    try:
        return np.sort(uniq)
    except TypeError:  # mixed types
        pass
    try:
        order = sorted(range(len(uniq)), key=lambda i: (_kind(uniq[i]), uniq[i]))
    except TypeError:  # values of one type that do not compare: appearance
        return uniq
    return uniq[np.asarray(order, dtype=np.intp)]


def isin_ids(ids, values):
    """Whether each of ``ids`` is among ``values`` (a boolean array).

    Compared as Python objects when the two hold ids of other dtypes: an
    Arrow string index (pandas 3's str ids) cannot take a tuple id that
    mixes str and int (pyarrow raised ArrowTypeError).
    """
    ids = pd.Index(ids, tupleize_cols=False)
    values = (values if isinstance(values, pd.Index)
              else pd.Index(np.asarray(values, dtype=object), tupleize_cols=False))
    if ids.dtype != values.dtype:
        ids, values = ids.astype(object), values.astype(object)
    return np.asarray(ids.isin(values))


def _kind(value):
    """The sort group of an id: numpy and Python ints (or floats, strings) are one kind.

    By type name alone, 3 and ``np.int64(3)`` (equal: the column keeps
    whichever comes first) sorted apart, so row order moved the catalog.
    """
    for kind, types in (("bool", (bool, np.bool_)), ("int", Integral), ("float", Real),
                        ("str", str)):
        if isinstance(value, types):
            return kind
    return type(value).__name__


def ids_as_text(ids):
    """The ids as strings (a ``pd.Index``), for ``_other_type``'s hint."""
    return pd.Index([_text(i) for i in ids])


def _text(value):
    """An id as text: bytes decoded (numpy 'S' ids for str ones: b'u1' for 'u1')."""
    if isinstance(value, bytes):  # np.bytes_ too
        return value.decode("utf-8", "backslashreplace")  # distinct bytes stay distinct
    return str(value)


def _other_type(unknown, catalog, where="X", as_text=None, holder="the catalog holds"):
    """A hint when ids missing from ``catalog`` are there as strings (or as ints).

    ``where`` names the input that holds ``unknown`` and ``holder`` the
    catalog; ``as_text``, the catalog's first 100,000 ids as strings (a
    ``pd.Index``), when known.
    """
    if as_text is None:
        as_text = ids_as_text(catalog[:100_000])
    found = [i for i in unknown[:5] if _text(i) in as_text]
    if not found:
        return ""
    # (the first of the catalog's ids with that text: 1 and '1' share it)
    there = catalog[np.flatnonzero(np.asarray(as_text == _text(found[0])))[0]]
    there, here = (v.item() if isinstance(v, np.generic) else v for v in (there, found[0]))
    return (f", but {holder} {there!r} ({type(there).__name__}) where {where} has "
            f"{here!r} ({type(here).__name__}): ids of another type are other ids; "
            "convert one side to the other's type")
