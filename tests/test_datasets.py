"""MovieLens-100K loader: both file layouts, where it looks, and its errors.

Nothing here reaches the network or writes into the repository: copies are
made of a few synthetic rows in ``tmp_path``, and the download is mocked.
"""

import hashlib
import importlib.util
import io
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sklearn_zsrec.datasets import _movielens, load_movielens_100k

GENRES = _movielens._GENRES

# (item_id, GroupLens title, release date, genres): Toy Story; an English and a
# French article; RecBole's "unkonwn" item; a title ending in "(V)"; a foreign
# alternative title; and only the "unknown" genre flag.
ITEMS = [
    (1, "Toy Story (1995)", "01-Jan-1995", ["Animation", "Children's", "Comedy"]),
    (12, "Usual Suspects, The (1995)", "14-Aug-1995", ["Crime", "Thriller"]),
    (267, "unknown", "", ["unknown"]),
    (543, "Misérables, Les (1995)", "01-Jan-1995", ["Drama", "Musical"]),
    (1412, "Land Before Time III: The Time of the Great Giving (1995) (V)", "", ["Animation", "Children's"]),
    (5, "Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)", "01-Jan-1995", ["Drama"]),
    (1373, "Good Morning (1971)", "04-Feb-1971", ["unknown"]),
]  # fmt: skip
USERS = [
    (1, 24, "M", "technician", "85711"),
    (2, 53, "F", "other", "94043"),
    (3, 23, "M", "none", "32067"),
    (4, 33, "F", "healthcare", "T8H1N"),
]
# user, item, rating, timestamp; user 1 rates three items in the same second.
RATINGS = [
    (2, 543, 4, 889000000),
    (1, 12, 5, 874965758),
    (1, 1, 3, 874965758),
    (3, 267, 1, 889237000),
    (1, 1412, 2, 874965758),
    (4, 5, 3, 889000000),
    (2, 1, 4, 874000000),
    (4, 1373, 5, 892000000),
]
ITEM_TEXT = {
    1: "Toy Story (1995). Genres: Animation, Children's, Comedy",
    5: "Shanghai Triad (Yao a yao yao dao waipo qiao) (1995). Genres: Drama",
    12: "The Usual Suspects (1995). Genres: Crime, Thriller",
    267: "Unknown movie",
    543: "Les Misérables (1995). Genres: Drama, Musical",
    1373: "Good Morning (1971)",
    1412: (
        "Land Before Time III: The Time of the Great Giving (1995). "
        "Genres: Animation, Children's"
    ),
}
USER_TEXT = {
    1: "24 year old male, technician",
    2: "53 year old female, other occupation",
    3: "23 year old male, no occupation",
    4: "33 year old female, works in healthcare",
}


def grouplens_files():
    """The rows above as GroupLens' u.data, u.item (latin-1) and u.user."""
    items = []
    for item_id, title, date, genres in ITEMS:
        flags = "|".join("1" if g in genres else "0" for g in GENRES)
        items.append(f"{item_id}|{title}|{date}||http://us.imdb.com/M/x|{flags}\n")
    return {
        "u.data": "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in RATINGS).encode(),
        "u.item": "".join(items).encode("latin-1"),
        "u.user": "".join("|".join(map(str, u)) + "\n" for u in USERS).encode(),
    }


def write_grouplens(directory):
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in grouplens_files().items():
        (directory / name).write_bytes(content)
    return directory


def write_recbole(directory):
    """The same rows as RecBole's atomic files, as its converter wrote them.

    Titles are split at their last "(" into title and year, item 267 is
    spelled "unkonwn", and rows come in another order.
    """
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float\n"]
    lines += [f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in reversed(RATINGS)]
    (directory / "ml-100k.inter").write_text("".join(lines))
    lines = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"]
    for item_id, title, _, genres in ITEMS[::-1]:
        if title == "unknown":
            title, year = "unkonwn", "unkonwn"
        else:
            cut = title.rfind("(")
            title, year = title[: cut - 1], title[cut + 1 : -1]
        lines.append(f"{item_id}\t{title}\t{year}\t{' '.join(genres)}\n")
    (directory / "ml-100k.item").write_text("".join(lines), encoding="utf-8")
    lines = ["user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"]
    lines += ["\t".join(map(str, u)) + "\n" for u in USERS]
    (directory / "ml-100k.user").write_text("".join(lines))
    return directory


def grouplens_zip():
    """ml-100k.zip as GroupLens lays it out, with the synthetic rows."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in grouplens_files().items():
            archive.writestr(f"ml-100k/{name}", content)
    return buffer.getvalue()


def assert_bunches_equal(a, b):
    assert a.keys() == b.keys()
    for key in ["interactions", "movies", "users"]:
        pd.testing.assert_frame_equal(a[key], b[key])
    for key in ["item_text", "user_text"]:
        pd.testing.assert_series_equal(a[key], b[key])
    assert a.DESCR == b.DESCR


@pytest.fixture(autouse=True)
def synthetic_sizes(request, monkeypatch):
    """The loader checks MovieLens-100K's sizes: the synthetic copies here have their own."""
    if not request.node.name.startswith("test_real_"):
        monkeypatch.setattr(_movielens, "_SIZES", (len(RATINGS), len(USERS), len(ITEMS)))


@pytest.fixture
def no_recbole(monkeypatch):
    """Act as if recbole were not installed."""
    monkeypatch.setattr(_movielens, "_recbole_dir", lambda: None)


def test_grouplens_and_recbole_layouts_give_the_same_bunch(tmp_path):
    grouplens = load_movielens_100k(write_grouplens(tmp_path / "grouplens"))
    recbole = load_movielens_100k(write_recbole(tmp_path / "recbole"))
    assert_bunches_equal(grouplens, recbole)
    assert sorted(grouplens.keys()) == sorted(
        ["interactions", "item_text", "user_text", "movies", "users", "DESCR"]
    )


@pytest.mark.parametrize("write", [write_grouplens, write_recbole])
def test_texts_and_tables(tmp_path, write):
    ml = load_movielens_100k(write(tmp_path / "ml"))

    assert ml.item_text.to_dict() == ITEM_TEXT
    assert ml.user_text.to_dict() == USER_TEXT
    for texts, name in [(ml.item_text, "item_id"), (ml.user_text, "user_id")]:
        assert texts.index.name == name and texts.index.dtype == np.int64
        assert texts.index.is_monotonic_increasing

    movies = ml.movies.set_index("item_id")
    assert movies.loc[1, "title"] == "Toy Story" and movies.loc[1, "year"] == 1995
    assert movies.loc[1412, "year"] == 1995  # RecBole's year is "V" there
    assert movies.loc[267, "title"] is None and pd.isna(movies.loc[267, "year"])
    assert movies.loc[267, "genres"] == "" and movies.loc[1373, "genres"] == ""
    assert movies.loc[1, "genres"].split("|") == ["Animation", "Children's", "Comedy"]
    assert str(ml.movies["year"].dtype) == "Int64"

    users = ml.users.set_index("user_id")
    assert users.loc[4].tolist() == [33, "F", "healthcare", "T8H1N"]
    assert ml.users["age"].dtype == np.int64


@pytest.mark.parametrize("write", [write_grouplens, write_recbole])
def test_interactions_are_typed_and_sorted_in_time(tmp_path, write):
    X = load_movielens_100k(write(tmp_path / "ml")).interactions
    assert X.columns.tolist() == ["user_id", "item_id", "rating", "timestamp"]
    assert X.dtypes.tolist() == [np.int64, np.int64, np.float64, np.int64]
    assert isinstance(X.index, pd.RangeIndex)
    # time, then user, then item: same-second rows do not depend on file order
    expected = sorted(RATINGS, key=lambda r: (r[3], r[0], r[1]))
    rows = [(u, i, float(r), t) for u, i, r, t in expected]
    assert list(X.itertuples(index=False, name=None)) == rows


def test_path_may_be_the_folder_holding_ml_100k(tmp_path):
    write_grouplens(tmp_path / "ml-100k")
    assert load_movielens_100k(tmp_path).interactions.shape == (len(RATINGS), 4)


def test_path_wins_over_the_installed_copy(tmp_path):
    ml = load_movielens_100k(str(write_recbole(tmp_path / "ml")))
    assert len(ml.interactions) == len(RATINGS)


def test_bad_path_names_it_and_the_files_looked_for(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(
        FileNotFoundError, match=r"path='.*nowhere' does not exist.*u\.data, u\.item, u\.user"
    ):
        load_movielens_100k(missing)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "u.data").write_text("1\t1\t1\t1\n")  # incomplete copy
    with pytest.raises(
        FileNotFoundError,
        match=r"No MovieLens-100K files in path='.*empty'.*ml-100k\.inter, ml-100k\.item, "
        r"ml-100k\.user and GroupLens' u\.data, u\.item, u\.user",
    ):
        load_movielens_100k(tmp_path / "empty")


@pytest.mark.parametrize("recbole_too", [False, True])
def test_data_home_copy_is_used_without_recbole(tmp_path, no_recbole, recbole_too):
    write_grouplens(tmp_path / "ml-100k")
    if recbole_too:  # RecBole's files beside GroupLens' (loader hunt): "no GroupLens copy"
        write_recbole(tmp_path / "ml-100k")
    ml = load_movielens_100k(data_home=tmp_path)
    assert ml.item_text.to_dict() == ITEM_TEXT


def test_nothing_found_says_how_to_get_the_data(tmp_path, no_recbole):
    with pytest.raises(FileNotFoundError) as excinfo:
        load_movielens_100k(data_home=tmp_path)
    assert (
        "pip install --no-deps recbole, or pass path= to a directory with the "
        "GroupLens files, or download_if_missing=True when online."
    ) in str(excinfo.value)
    assert list(tmp_path.iterdir()) == []


def test_offline_download_raises_with_the_fix(tmp_path, no_recbole, monkeypatch):
    def offline(*args, **kwargs):  # a mock of the network: no route to host
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    message = r"machine looks offline.*pip install --no-deps recbole.*path="
    with pytest.raises(OSError, match=message):
        load_movielens_100k(data_home=tmp_path, download_if_missing=True)
    assert not (tmp_path / "ml-100k").exists()


def test_http_error_is_reported(tmp_path, no_recbole, monkeypatch):
    def not_found(url, *args, **kwargs):  # a mock of the network
        raise urllib.error.HTTPError(url, 404, "Not Found", None, None)

    monkeypatch.setattr(urllib.request, "urlopen", not_found)
    with pytest.raises(OSError, match="server answered HTTP 404 Not Found"):
        load_movielens_100k(data_home=tmp_path, download_if_missing=True)


def test_checksum_mismatch_writes_nothing(tmp_path, no_recbole, monkeypatch):
    monkeypatch.setattr(_movielens, "_download", lambda url: b"not the archive")
    with pytest.raises(OSError, match=r"SHA256 checksum [0-9a-f]{64}, expected 50d2a982"):
        load_movielens_100k(data_home=tmp_path / "home", download_if_missing=True)
    assert not (tmp_path / "home").exists()


def test_download_extracts_atomically_then_reuses_the_copy(tmp_path, no_recbole, monkeypatch):
    content = grouplens_zip()
    checksums = {name: hashlib.new(name, content).hexdigest() for name in ["sha256", "md5"]}
    archive = _movielens._ARCHIVE._replace(checksums=checksums)
    monkeypatch.setattr(_movielens, "_ARCHIVE", archive)
    calls = []
    monkeypatch.setattr(_movielens, "_download", lambda url: calls.append(url) or content)
    home = tmp_path / "home"

    ml = load_movielens_100k(data_home=home, download_if_missing=True)
    assert ml.item_text.to_dict() == ITEM_TEXT
    assert calls == [_movielens._ARCHIVE.url]
    assert sorted(p.name for p in home.iterdir()) == ["ml-100k"]  # no temporary left

    load_movielens_100k(data_home=home, download_if_missing=True)
    assert len(calls) == 1


def test_archive_checksums_are_the_published_ones():
    assert _movielens._ARCHIVE.url == "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
    assert _movielens._ARCHIVE.checksums == {
        "sha256": "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        "sha1": "cd4dcac4241c8a4ad7badc7ca635da8a69dddb83",
        "md5": "0e33842e24a9c977be4e0107933c0723",
    }


def _installed_copy():
    spec = importlib.util.find_spec("recbole")
    if spec is None:
        return None
    return Path(spec.submodule_search_locations[0]) / "dataset_example" / "ml-100k"


requires_recbole = pytest.mark.skipif(
    _installed_copy() is None or not (_installed_copy() / "ml-100k.inter").exists(),
    reason="MovieLens-100K ships in recbole's wheel: pip install --no-deps recbole",
)


@requires_recbole
def test_real_movielens_100k():
    imported_before = "recbole" in sys.modules
    ml = load_movielens_100k()
    assert ("recbole" in sys.modules) == imported_before  # located, never imported

    X = ml.interactions
    assert X.shape == (100_000, 4)
    assert X.dtypes.tolist() == [np.int64, np.int64, np.float64, np.int64]
    assert isinstance(X.index, pd.RangeIndex)
    assert X["timestamp"].is_monotonic_increasing
    assert set(X["rating"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert X["user_id"].nunique() == 943 and X["item_id"].nunique() == 1682

    assert len(ml.users) == len(ml.user_text) == 943
    assert len(ml.movies) == len(ml.item_text) == 1682
    assert set(ml.item_text.index) == set(X["item_id"])
    assert set(ml.user_text.index) == set(X["user_id"])
    for texts in [ml.item_text, ml.user_text]:
        assert texts.map(lambda t: isinstance(t, str) and t.strip() != "").all()
        assert not texts.str.contains(r"\bnan\b|\bNone\b|unkonwn|\(V\)|\(\)", case=False).any()
    assert ml.item_text[1] == "Toy Story (1995). Genres: Animation, Children's, Comedy"
    # a trailing article moves to the front, and the alternative title stays
    assert ml.item_text[113] == ("The Horseman on the Roof (Hussard sur le toit, Le) (1995). "
                                 "Genres: Drama")
    assert ml.item_text[267] == "Unknown movie"
    assert ml.user_text[1] == "24 year old male, technician"
    assert ml.movies["year"].isna().sum() == 1  # item 267
    assert "Harper" in ml.DESCR and "redistribut" in ml.DESCR


@requires_recbole
def test_real_copy_matches_its_grouplens_conversion(tmp_path):
    """RecBole's files, written back in GroupLens' layout, load the same."""
    ml = load_movielens_100k()
    directory = tmp_path / "ml-100k"
    directory.mkdir()
    X = ml.interactions.astype({"rating": int})
    X.to_csv(directory / "u.data", sep="\t", header=False, index=False)
    raw = pd.read_csv(
        _installed_copy() / "ml-100k.item", sep="\t", dtype=str, keep_default_na=False
    )
    lines = []
    for item_id, title, year, genres in raw.itertuples(index=False):
        title = "unknown" if title == "unkonwn" else f"{title} ({year})"
        flags = "|".join("1" if g in genres.split() else "0" for g in GENRES)
        lines.append(f"{item_id}|{title}|||x|{flags}\n")
    (directory / "u.item").write_bytes("".join(lines).encode("latin-1"))
    ml.users.to_csv(directory / "u.user", sep="|", header=False, index=False)
    assert_bunches_equal(load_movielens_100k(directory), ml)


@requires_recbole
def test_real_partial_or_damaged_copy_is_refused(tmp_path):
    # a copy cut short (an interrupted copy) loaded without a word: items
    # rated without a text, or a fraction of the ratings
    for name, keep in (("ml-100k.item", 800), ("ml-100k.inter", 5001), ("ml-100k.inter", 0)):
        directory = tmp_path / f"{name}-{keep}"
        directory.mkdir()
        for file in ("ml-100k.inter", "ml-100k.item", "ml-100k.user"):
            lines = (_installed_copy() / file).read_bytes().splitlines(keepends=True)
            (directory / file).write_bytes(b"".join(lines[:keep] if file == name else lines))
        message = ("could not be read" if keep == 0 else
                   "rated ids without a text" if name.endswith("item") else "hold 5000 ratings")
        with pytest.raises(ValueError, match=f"{message}.*The copy is damaged or partial"):
            load_movielens_100k(directory)


@pytest.mark.parametrize("write", [write_grouplens, write_recbole])
def test_the_documented_one_hot_recipe_gives_the_genres_only(tmp_path, write):
    # movies.genres.str.get_dummies("|") made a column of "" (the items of no
    # genre) under pandas 3's strings; the docstring's recipe leaves it out
    movies = load_movielens_100k(write(tmp_path / "ml")).movies
    onehot = movies.genres.replace("", None).str.get_dummies("|")
    assert "" not in onehot.columns
    assert set(onehot.columns) == {g for _, _, _, gs in ITEMS for g in gs if g != "unknown"}


@pytest.mark.parametrize("write", [write_grouplens, write_recbole])
def test_a_copy_cut_inside_its_last_line_is_refused(tmp_path, write):
    # it parsed: a last timestamp of 87995 (sorted first), a last user's zip
    # code or occupation cut short, the last movie's genres lost
    for name in (_movielens._GROUPLENS_FILES if write is write_grouplens
                 else _movielens._RECBOLE_FILES):
        directory = write(tmp_path / name)
        (directory / name).write_bytes((directory / name).read_bytes()[:-3])
        with pytest.raises(ValueError, match=f"{name} does not end with a line break, so its "
                                             "last line may have been cut short.*add one at its "
                                             "end; otherwise copy"):
            load_movielens_100k(directory)
    # Windows line breaks are whole lines
    directory = write_grouplens(tmp_path / "crlf")
    for name in _movielens._GROUPLENS_FILES:
        (directory / name).write_bytes((directory / name).read_bytes().replace(b"\n", b"\r\n"))
    assert_bunches_equal(load_movielens_100k(directory), load_movielens_100k(write_grouplens(
        tmp_path / "lf")))


def test_a_utf8_u_item_reads_its_accents(tmp_path):
    # GroupLens' u.item is latin-1; a copy saved as UTF-8 gave 'MisÃ©rables'
    directory = write_grouplens(tmp_path / "utf8")
    text = (directory / "u.item").read_bytes().decode("latin-1")
    (directory / "u.item").write_bytes(text.encode("utf-8"))
    ml = load_movielens_100k(directory)
    assert ml.item_text[543].startswith("Les Misérables (1995).")
    assert_bunches_equal(ml, load_movielens_100k(write_grouplens(tmp_path / "latin1")))


def test_a_download_cut_off_is_an_oserror_naming_the_fix(tmp_path, no_recbole, monkeypatch):
    import http.client

    class CutOff:  # a mock of the network: the connection drops mid-transfer
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            raise http.client.IncompleteRead(b"PK", 4924029)

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **kw: CutOff())
    with pytest.raises(OSError, match=r"transfer failed \(IncompleteRead.*pip install --no-deps"):
        load_movielens_100k(data_home=tmp_path, download_if_missing=True)
    assert not (tmp_path / "ml-100k").exists()


# mutation round 26 (L04: a concurrent download's check read as False)
def test_a_download_beaten_by_a_concurrent_one_uses_its_copy(tmp_path, no_recbole, monkeypatch):
    # another process extracts ml-100k while this one downloads: the rename
    # fails (the folder exists, complete), and its copy is used, not an error
    content = grouplens_zip()
    checksums = {name: hashlib.new(name, content).hexdigest() for name in ["sha256", "md5"]}
    monkeypatch.setattr(_movielens, "_ARCHIVE", _movielens._ARCHIVE._replace(checksums=checksums))
    home = tmp_path / "home"

    def download(url):
        write_grouplens(home / "ml-100k")  # the other call finished first
        return content

    monkeypatch.setattr(_movielens, "_download", download)
    ml = load_movielens_100k(data_home=home, download_if_missing=True)
    assert ml.item_text.to_dict() == ITEM_TEXT
    assert sorted(p.name for p in home.iterdir()) == ["ml-100k"]  # no temporary left
