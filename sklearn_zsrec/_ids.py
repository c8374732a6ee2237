"""Ids across inputs: the catalog's order of mixed ids, and hints for ids of another type."""

from numbers import Integral, Real

import numpy as np
import pandas as pd


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
