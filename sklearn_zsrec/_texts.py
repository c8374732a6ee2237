"""Validation of texts: sequences of them (what ``TextEncoder`` embeds) and
id-to-text tables (``item_texts``, ``user_texts``)."""

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._interactions import _arrow_frame, arrow_values, check_ids


def check_texts(texts, name="texts", owner="TextEncoder"):
    """Validate a sequence of texts: no single string, no missing or empty."""
    if isinstance(texts, np.ndarray) and texts.ndim == 0:
        texts = texts.item()  # np.array("text"): one string (or one value)
    if isinstance(texts, str):
        raise ValueError(
            f"{owner}: {name} must be a list of strings; got a single string. "
            "Wrap it in a list: [text]."
        )
    if isinstance(texts, Mapping):  # iterating it gives the keys: the ids
        raise TypeError(
            f"{owner}: {name} must be a sequence of strings; got a "
            f"{type(texts).__name__}, whose iteration gives its keys, not its texts. "
            "Pass list(texts.values()), or pd.Series(texts) to keep the ids as the index."
        )
    if not (hasattr(texts, "__iter__") or hasattr(texts, "__arrow_c_stream__")):  # None, 3
        raise TypeError(
            f"{owner}: {name} must be a sequence of strings (a list, array, Series or "
            f"one-column frame); got {type(texts).__name__}."
        )
    texts = arrow_values(texts)  # a pyarrow array: its values, not pyarrow scalars
    if hasattr(texts, "__arrow_c_stream__") and hasattr(texts, "columns"):
        texts = _arrow_frame(texts, owner)  # a polars or Arrow table: by column, as pandas
    if hasattr(texts, "ndim") and getattr(texts, "ndim", 1) == 2:
        if texts.shape[1] != 1:
            raise ValueError(
                f"{owner}: {name} must be 1-D or have one column; got shape "
                f"{texts.shape}."
            )
        texts = np.asarray(texts).ravel()
    texts = list(texts)
    bad = [
        i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()
    ]
    if bad:
        raise ValueError(
            f"{owner}: {name} must be non-empty strings; {len(bad)} are missing, "
            f"empty or not strings (positions {bad[:5]}, values "
            f"{[texts[i] for i in bad[:5]]}). Fill or drop them first."
        )
    invalid = [i for i, t in enumerate(texts) if not _is_utf8(t)]
    if invalid:
        raise ValueError(
            f"{owner}: {name} must be valid Unicode; {len(invalid)} are not valid "
            f"UTF-8 (a lone surrogate; positions {invalid[:5]}, values "
            f"{[texts[i] for i in invalid[:5]]!r}). Repair them, e.g. "
            "text.encode('utf-8', 'replace').decode('utf-8')."
        )
    return texts


def _is_utf8(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_id_texts(texts, name, owner):
    """Return ``texts`` as a Series of non-empty str indexed by unique ids."""
    if isinstance(texts, pd.DataFrame) and texts.shape[1] == 1:
        texts = texts.iloc[:, 0]
    if isinstance(texts, Mapping):  # tuple ids stay tuples (not a MultiIndex)
        texts = pd.Series(list(texts.values()), dtype=object,
                          index=pd.Index(list(texts.keys()), dtype=object, tupleize_cols=False))
    if isinstance(texts, pd.Series) and isinstance(texts.index, pd.MultiIndex):
        texts = pd.Series(texts.to_numpy(dtype=object),
                          index=pd.Index(list(texts.index), dtype=object, tupleize_cols=False))
    if not isinstance(texts, pd.Series):
        raise TypeError(
            f"{owner}: {name} must be a pandas Series indexed by id or a dict "
            f"{{id: text}}; got a {_kind(texts)}.{_hint(texts)}"
        )
    if len(texts) == 0:
        raise ValueError(f"{owner}: {name} is empty; give at least one text.")
    if texts.index.has_duplicates:
        dup = texts.index[texts.index.duplicated()].unique()
        raise ValueError(
            f"{owner}: {name} has duplicate ids (e.g. {np.asarray(dup[:5]).tolist()}); give "
            "one text per id."
        )
    if texts.index.hasnans:
        raise ValueError(f"{owner}: {name} has NaN ids in its index; drop them.")
    try:
        check_texts(texts.to_numpy(), name, owner)
    except ValueError:
        not_str = [(i, t) for i, t in texts.items()
                   if not isinstance(t, str) and not (pd.api.types.is_scalar(t) and pd.isna(t))]
        if not_str:
            raise TypeError(
                f"{owner}: {name} must map every id to a string; {len(not_str)} "
                f"ids have a {type(not_str[0][1]).__name__} instead (e.g. "
                f"{dict(not_str[:5])}). Convert them, e.g. "
                + (f"{name}.str.join(', ') for lists of words."
                   if isinstance(not_str[0][1], (list, tuple, np.ndarray))
                   else f"{name}.astype(str), if they are meant as text.")
            ) from None
        bad = [i for i, t in texts.items() if not isinstance(t, str) or not t.strip()]
        if not bad:
            raise  # another problem with the texts, named by check_texts
        raise ValueError(
            f"{owner}: {name} must map every id to a non-empty string; "
            f"{len(bad)} ids have a missing or empty text (e.g. {bad[:5]}). "
            "Fill them (e.g. with the title) or drop those ids."
        ) from None
    # the model's own copy of ids and texts: either can be a view of the
    # caller's arrays (pandas 2, or a Series built on an id array), which an
    # edit after fit changed, in the model and in the fit memo's entries
    ids = check_ids(texts.index, f"the index of {name}", owner).copy()
    return pd.Series(texts.to_numpy(dtype=object, copy=True), index=ids)


def row_numbers_hint(ids, column, example):
    """``", whose ids are 0 to n - 1: if those are ..."`` when ``ids`` are the row
    numbers of a table (``users["text"]`` keeps them as its index), else "".

    ``column`` names the ids (``"user_id"``) and ``example`` the table in the
    fix (``"users"``). The callers give it only where something is amiss
    (texts of no new user asked for; texts of id 0, not a user of X): ids
    that truly are 0 to n - 1 read alike.
    """
    index = pd.Index(ids)
    if len(index) == 0 or index.inferred_type != "integer":
        return ""
    if not (index.min() == 0 and index.max() == len(index) - 1 and index.is_unique):
        return ""  # (no cast to int64: Python ints past 2**63 are ids too)
    span = "id is 0" if len(index) == 1 else f"ids are 0 to {len(index) - 1}"
    return (f", whose {span}: if those are a table's row numbers, index the texts by "
            f"{column.replace('_', ' ')} (e.g. {example}.set_index({column!r})['text'])")


def _kind(texts):
    """The type's name, with its package's when it is not ours or Python's (``polars.Series``)."""
    package = type(texts).__module__.split(".")[0]
    name = type(texts).__name__
    return name if package in ("builtins", "numpy", "sklearn_zsrec") else f"{package}.{name}"


def _hint(texts):
    """How to turn a table of ids and texts, or texts without ids, into a dict or Series."""
    # (a pyarrow Table's ``columns`` are its arrays; ``column_names`` their names)
    columns = list(texts.columns if isinstance(texts, pd.DataFrame) else
                   getattr(texts, "column_names", None) or getattr(texts, "columns", []))
    if isinstance(texts, pd.DataFrame) and len(columns) >= 2:
        return (" For a table of ids and texts, pass e.g. "
                f"df.set_index({columns[0]!r})[{columns[-1]!r}].")
    if len(columns) >= 2:  # a polars or Arrow table: no index to hold the ids
        return (" For a table of ids and texts, pass e.g. "
                f"dict(zip(df[{columns[0]!r}], df[{columns[-1]!r}])).")
    return " Texts need their ids: e.g. dict(zip(ids, texts))."
