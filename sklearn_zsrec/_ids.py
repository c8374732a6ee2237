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


# the ids read as text for ``_other_type``'s hint: the catalog's first ones
# (any types); past them, an unknown id's forms of other types are looked up
TEXT_IDS = 100_000


def ids_as_text(ids):
    """The first ``TEXT_IDS`` ids as strings (a ``pd.Index``), for ``_other_type``'s hint."""
    return pd.Index([_text(i) for i in ids[:TEXT_IDS]])


def _text(value):
    """An id as text: bytes decoded (numpy 'S' ids for str ones: b'u1' for 'u1')."""
    if isinstance(value, bytes):  # np.bytes_ too
        return value.decode("utf-8", "backslashreplace")  # distinct bytes stay distinct
    return str(value)


def _read_alike(value, index):
    """The first id of ``index`` (a ``pd.Index``) of another type than ``value`` that
    reads as it does: int 5 or b'5' for '5', '5' for 5, 5.0 for '5.0'; None if none."""
    text, forms = _text(value), []
    for kind in (str, lambda t: t.encode("utf-8"), int, float):
        try:
            forms.append(kind(text))
        except (ValueError, OverflowError):  # (UnicodeEncodeError is a ValueError)
            pass
    for form in forms:
        if type(form) is type(value) or _text(form) != text:
            continue
        try:
            where = index.get_indexer(pd.Index([form], dtype=object, tupleize_cols=False))[0]
        except (TypeError, ValueError, pd.errors.InvalidIndexError):  # (a MultiIndex of
            continue  # tuple ids; ids not unique as pandas compares them: a hint, not a crash)
        if where >= 0 and _text(index[where]) == text and type(index[where]) is not type(value):
            return index[where]
    return None


def _other_type(unknown, catalog, where="X", as_text=None, holder="the catalog holds",
                index=None):
    """A hint when ids missing from ``catalog`` are there as strings (or as ints).

    ``where`` names the input that holds ``unknown`` and ``holder`` the
    catalog; ``as_text``, the catalog's first ``TEXT_IDS`` ids as strings (a
    ``pd.Index``), and ``index``, ``pd.Index(catalog)``, when known. Past
    those first ids, each unknown id's forms of other types are looked up.
    """
    if as_text is None:
        as_text = ids_as_text(catalog)
    found = [i for i in unknown[:5] if _text(i) in as_text]
    if found:
        # (the first of the catalog's ids with that text: 1 and '1' share it)
        there = catalog[np.flatnonzero(np.asarray(as_text == _text(found[0])))[0]]
    elif len(catalog) > len(as_text):
        index = pd.Index(catalog, tupleize_cols=False) if index is None else index
        alike = [(i, c) for i in unknown[:5] if (c := _read_alike(i, index)) is not None]
        if not alike:
            return ""
        found, there = [alike[0][0]], alike[0][1]
    else:
        return ""
    there, here = (v.item() if isinstance(v, np.generic) else v for v in (there, found[0]))
    return (f", but {holder} {there!r} ({type(there).__name__}) where {where} has "
            f"{here!r} ({type(here).__name__}): ids of another type are other ids; "
            "convert one side to the other's type")
