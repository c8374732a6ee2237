"""The on-disk embedding cache never fails a call and never returns a wrong vector.

Shards are damaged by hand (truncated, emptied, bit-flipped, rewritten with
texts and vectors that disagree) and the cache directory is made unwritable;
every call must still return exactly what a fresh encoding returns. The
encoders use ``batch_size=1`` so that a text's vector does not depend on the
batch it was encoded in: fresh and cached vectors are compared bit for bit.
"""

import errno
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sklearn_zsrec import (
    TextEncoder,
    ZeroShotRecommender,
    clear_embedding_cache,
    embedding_cache_info,
)
from sklearn_zsrec.metrics import make_rank_scorer
from sklearn_zsrec.model_selection import LeaveLastOut

from ._data import topic_catalog, topic_interactions
from ._tiny import tiny_model_path

WORDS = ["rocket", "soup", "goal", "roses", "swing", "bonds", "orbit", "bread", "coach", "soil"]
TEXTS = [f"Item {i}: a story about {w}." for i, w in enumerate(WORDS)]
FIRST, SECOND = TEXTS[:5], TEXTS[5:]
DENIED = PermissionError(errno.EACCES, "Permission denied")


@pytest.fixture(autouse=True)
def _empty_memory():
    clear_embedding_cache()
    yield
    clear_embedding_cache()


def _encoder(memory):
    return TextEncoder(
        tiny_model_path(), batch_size=1, precision="float32", memory=memory, verbose=0
    ).fit()


def _fresh(texts):
    """A fresh encoding: no memory, empty in-process cache."""
    clear_embedding_cache()
    return _encoder(None).transform(texts)


def _shards(location):
    return sorted(Path(location).glob("sklearn_zsrec_embeddings/*/*.npz"))


def _two_shards(location):
    """Write FIRST and SECOND to two shards; return their paths in that order."""
    enc = _encoder(location)
    enc.transform(FIRST)
    (first,) = _shards(location)
    enc.transform(SECOND)
    (second,) = set(_shards(location)) - {first}
    return first, second


def _transform_recording(location, texts):
    """``transform`` as a new process would (empty memory), and its warnings."""
    clear_embedding_cache()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = _encoder(location).transform(texts)
    return out, [str(w.message) for w in record if issubclass(w.category, UserWarning)]


def _about(messages, path):
    return [m for m in messages if str(path) in m]


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(path):
    path.write_bytes(b"")


def _flip_bits(path):
    """Invert the exponent byte of a value in the middle of the embeddings."""
    with np.load(path) as data:
        embeddings = data["embeddings"]
    raw = bytearray(path.read_bytes())
    start = raw.find(embeddings.tobytes())
    assert start > 0
    raw[start + 4 * (embeddings.size // 2) + 3] ^= 0xFF
    path.write_bytes(bytes(raw))


def _rewrite_one_vector(path):
    """A valid zip whose vectors were changed after the shard was written."""
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["embeddings"] = arrays["embeddings"].copy()
    arrays["embeddings"][1] *= -1
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "damage", [_truncate, _empty, _flip_bits, _rewrite_one_vector],
    ids=["truncated", "empty", "bit-flipped", "changed-after-writing"],
)
def test_damaged_shard_is_reported_once_and_reencoded(tmp_path, damage):
    first, _ = _two_shards(tmp_path)
    damage(first)
    out, messages = _transform_recording(tmp_path, TEXTS)
    np.testing.assert_array_equal(out, _fresh(TEXTS))
    (message,) = messages
    assert str(first) in message and "damaged" in message
    # its texts were written to a good shard: a new process reads them all
    out, messages = _transform_recording(tmp_path, TEXTS)
    assert not messages and embedding_cache_info().misses == 0
    np.testing.assert_array_equal(out, _fresh(TEXTS))


@pytest.mark.parametrize(
    "texts, embeddings",
    [
        (FIRST, lambda e: e[1:]),  # one vector short: each text gets the next one's
        (FIRST, lambda e: e[:, :16]),  # another dimension than the other shards
        (FIRST, lambda e: e.astype(np.float64)),
        (FIRST, lambda e: e[0]),  # 1-D
        (FIRST + ["an extra text"], lambda e: e),  # one text too many
        (FIRST, lambda e: np.vstack([np.full_like(e[:1], 7.0), e])),  # a stray vector first
    ],
    ids=["fewer-vectors", "other-dimension", "float64", "1-D", "more-texts", "more-vectors"],
)
def test_inconsistent_shard_written_by_hand_is_skipped(tmp_path, texts, embeddings):
    _, second = _two_shards(tmp_path)
    first_vectors = _fresh(FIRST)
    for shard in set(_shards(tmp_path)) - {second}:
        shard.unlink()
    bad = second.parent / "by-hand.npz"
    np.savez(bad, texts=np.array(texts), embeddings=embeddings(first_vectors))
    out, messages = _transform_recording(tmp_path, TEXTS)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, _fresh(TEXTS))
    (message,) = messages
    assert str(bad) in message


@pytest.mark.parametrize("asked", [TEXTS, FIRST], ids=["some-new", "all-in-the-shard"])
def test_cache_of_another_dimension_than_the_model_is_ignored(tmp_path, asked):
    # every shard agrees on a dimension the model does not give (as if another
    # model had been saved at the same path): the encoder knows its model's
    # dimension, so the shard is set aside at once, even when every text asked
    # is in it (nothing encoded: 'cannot reshape array of size 32 into shape
    # (2,32)', on every call, and the wrong vectors then damaged a healthy
    # directory's shard)
    _, second = _two_shards(tmp_path)
    for shard in _shards(tmp_path):
        shard.unlink()
    other = second.parent / "other-model.npz"
    np.savez(other, texts=np.array(FIRST), embeddings=_fresh(FIRST)[:, :16].copy())
    out, messages = _transform_recording(tmp_path, asked)
    np.testing.assert_array_equal(out, _fresh(asked))
    (message,) = messages
    assert str(other) in message and "dimension 16, the model's 32" in message
    assert not other.exists()
    # a healthy directory read next in the same process keeps its shards
    healthy = tmp_path / "healthy"
    _two_shards(healthy)
    clear_embedding_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _encoder(tmp_path).transform(asked)
        np.testing.assert_array_equal(_encoder(healthy).transform(TEXTS), _fresh(TEXTS))
    assert len(_shards(healthy)) == 2


def test_a_tilde_in_memory_is_the_users_home(tmp_path, monkeypatch):
    # shards went to a folder literally named '~' in the working directory
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    _encoder("~/cache").transform(FIRST)
    assert _shards(tmp_path / "home" / "cache") and not (tmp_path / "~").exists()


def _load_failing_on(monkeypatch, path, error):
    """``np.load`` raising ``error`` for the shard ``path`` only (a mock)."""
    load = np.load

    def failing(file, *args, **kwargs):
        if str(file) == str(path):
            raise error
        return load(file, *args, **kwargs)

    monkeypatch.setattr(np, "load", failing)


def test_unreadable_shard_is_skipped_not_moved(tmp_path, monkeypatch):
    # np.load raising PermissionError is a mock (root reads any file), about
    # our own logic: a file we may not read is not ours to rename
    first, _ = _two_shards(tmp_path)
    _load_failing_on(monkeypatch, first, PermissionError(errno.EACCES, "Permission denied"))
    out, messages = _transform_recording(tmp_path, TEXTS)
    monkeypatch.undo()
    np.testing.assert_array_equal(out, _fresh(TEXTS))
    (message,) = messages
    assert str(first) in message and "cannot be read" in message and first.exists()


def test_shard_too_large_for_memory_is_skipped_not_moved(tmp_path, monkeypatch):
    # np.load raising MemoryError is a mock, about our own logic: an intact
    # shard a process cannot hold was renamed aside as damaged, and its
    # texts lost for every process
    first, _ = _two_shards(tmp_path)
    _load_failing_on(monkeypatch, first, MemoryError("Unable to allocate 2.24 GiB"))
    out, messages = _transform_recording(tmp_path, TEXTS)
    monkeypatch.undo()
    np.testing.assert_array_equal(out, _fresh(TEXTS))
    (message,) = messages
    assert "does not fit in this process's memory" in message and first.exists()


def test_one_long_text_does_not_inflate_the_shards(tmp_path):
    # a shard's numpy strings pad every text to the longest: 200 short texts
    # beside one of 20,000 characters made a 16 MB shard for 60 kB of data
    texts = [f"short item {i}" for i in range(200)] + ["long " * 4000]
    out = _encoder(str(tmp_path)).transform(texts)
    assert sum(p.stat().st_size for p in _shards(tmp_path)) < 1_000_000
    clear_embedding_cache()
    np.testing.assert_array_equal(_encoder(str(tmp_path)).transform(texts), out)
    assert embedding_cache_info().misses == 0


def test_a_deleted_cache_directory_is_written_again(tmp_path):
    # after the directory was deleted (as the dimension warning's fix says),
    # the texts still in memory were taken as on disk: nothing was written
    # and every worker encoded them all again
    import shutil

    location = tmp_path / "cache"
    _encoder(str(location)).transform(TEXTS)
    shutil.rmtree(location)
    _encoder(str(location)).transform(TEXTS)  # from memory
    assert _shards(location)
    clear_embedding_cache()  # as a worker process starts
    _encoder(str(location)).transform(TEXTS)
    assert embedding_cache_info().misses == 0


def test_shards_without_checksum_are_still_read(tmp_path):
    # shards of the previous version hold texts and embeddings only; they are
    # read when they pass the structural checks (their zip CRC-32 still
    # catches flipped bits). New shards carry a checksum.
    _, second = _two_shards(tmp_path)
    assert {"texts", "embeddings"} < set(np.load(second).files)
    for shard in _shards(tmp_path):
        shard.unlink()
    np.savez(second.parent / "old.npz", texts=np.array(TEXTS), embeddings=_fresh(TEXTS))
    out, messages = _transform_recording(tmp_path, TEXTS)
    assert not messages and embedding_cache_info().misses == 0
    np.testing.assert_array_equal(out, _fresh(TEXTS))


def test_texts_of_other_shards_are_served_after_a_damaged_one(tmp_path):
    first, _ = _two_shards(tmp_path)
    _truncate(first)
    out, messages = _transform_recording(tmp_path, SECOND)
    assert len(_about(messages, first)) == 1
    assert embedding_cache_info().misses == 0  # read from the good shard
    np.testing.assert_array_equal(out, _fresh(SECOND))


def _fail_in(location, monkeypatch, exc, functions=("replace", "mkstemp")):
    """Make ``os.replace`` and/or ``tempfile.mkstemp`` fail inside ``location``.

    A mock of the file system, about our own logic: the tests run as root,
    where a read-only directory (chmod 0o555) does not stop writes.
    """
    replace, mkstemp = os.replace, tempfile.mkstemp

    def failing_replace(src, dst, *args, **kwargs):
        if str(location) in str(dst):
            raise exc
        return replace(src, dst, *args, **kwargs)

    def failing_mkstemp(*args, **kwargs):
        if str(location) in str(kwargs.get("dir", "")):
            raise exc
        return mkstemp(*args, **kwargs)

    if "replace" in functions:
        monkeypatch.setattr(os, "replace", failing_replace)
    if "mkstemp" in functions:
        monkeypatch.setattr(tempfile, "mkstemp", failing_mkstemp)


def test_each_bad_file_and_directory_is_reported_once(tmp_path, monkeypatch):
    # The damaged files cannot be moved aside (writes fail: a mock, see
    # _fail_in), so every new process state reads them again; each is still
    # reported once per process, as is the unwritable directory.
    first, second = _two_shards(tmp_path)
    _truncate(first)
    _empty(second)
    _fail_in(tmp_path, monkeypatch, DENIED)
    messages = []
    for _ in range(3):
        out, new = _transform_recording(tmp_path, TEXTS)
        messages += new
        np.testing.assert_array_equal(out, _fresh(TEXTS))
    assert len(_about(messages, first)) == 1 and len(_about(messages, second)) == 1
    assert len(messages) == 3  # and one about the directory
    assert first.exists() and second.exists()


def test_read_only_directory_falls_back_to_memory(tmp_path, monkeypatch):
    # chmod 0o555 is what a user does; as root it does not stop writes, so
    # os.replace and tempfile.mkstemp are also made to fail as they would
    # (a mock, about our own logic: see _fail_in).
    first, second = _two_shards(tmp_path)
    directory = first.parent
    directory.chmod(0o555)
    try:
        _fail_in(tmp_path, monkeypatch, DENIED)
        clear_embedding_cache()
        enc = _encoder(tmp_path)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            new = ["a text never seen", "another one"]
            out = enc.transform(TEXTS + new)
            again = enc.transform(new + ["and a third"])
        messages = [str(w.message) for w in record if issubclass(w.category, UserWarning)]
        (message,) = messages
        assert str(tmp_path) in message and "writable" in message
        assert embedding_cache_info().misses == 3  # the shards are still read
        assert sorted(os.listdir(directory)) == sorted(["key.json", first.name, second.name])
    finally:
        directory.chmod(0o755)
    np.testing.assert_array_equal(out, _fresh(TEXTS + new))
    np.testing.assert_array_equal(again, _fresh(new + ["and a third"]))


def _disk_full(monkeypatch):
    def half_then_full(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a shard")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", half_then_full)


@pytest.mark.parametrize("failure", ["mkstemp", "replace", "disk-full", "not-a-directory"])
def test_failed_write_returns_the_vectors_and_leaves_no_file(tmp_path, monkeypatch, failure):
    # "not-a-directory" is real: memory= lies under a regular file. The others
    # are mocks of the file system, about our own logic.
    location = tmp_path / "cache"
    if failure == "not-a-directory":
        (tmp_path / "a-file").write_text("")
        location = tmp_path / "a-file" / "cache"
    elif failure == "disk-full":
        _disk_full(monkeypatch)
    else:
        _fail_in(location, monkeypatch, DENIED, functions=(failure,))
    out, messages = _transform_recording(location, TEXTS)
    monkeypatch.undo()
    np.testing.assert_array_equal(out, _fresh(TEXTS))
    (message,) = messages
    assert str(location) in message
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".tmp", ".npz")]


ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)


def _search(memory, after_each_score=None):
    ndcg = make_rank_scorer("ndcg", k=10)

    def scoring(estimator, X, y=None):
        score = ndcg(estimator, X, y)
        if after_each_score is not None:
            after_each_score()
        return score

    encoder = TextEncoder(
        tiny_model_path(), batch_size=1, precision="float32", memory=memory, verbose=0
    )
    model = ZeroShotRecommender(encoder, item_texts=ITEM_TEXTS)
    grid = {"half_life": [0.5, 4.0]}  # 2 candidates x 2 folds: 4 scores, then a refit
    search = GridSearchCV(model, grid, cv=LeaveLastOut(n_splits=2), scoring=scoring,
                          error_score="raise")
    return search.fit(X)


def _shard_with(location, text):
    for shard in _shards(location):
        try:
            with np.load(shard) as data:
                if text in data["texts"].tolist():
                    return shard
        except Exception:
            continue
    raise AssertionError(f"no readable shard holds {text!r}")


def test_grid_search_survives_a_damaged_and_read_only_cache(tmp_path, monkeypatch):
    # Acceptance: corrupting, truncating or making read-only the cache
    # directory during a GridSearchCV never fails the search and never returns
    # a vector that differs from a fresh encoding. Between fits the cache is
    # damaged and the in-process memory emptied, as a new worker process would
    # start; "read-only" is chmod 0o555 plus a mock of os.replace and
    # tempfile.mkstemp (see _fail_in: the tests run as root).
    clear_embedding_cache()
    reference = _search(None)

    texts = ITEM_TEXTS.tolist()
    clear_embedding_cache()
    encoder = _encoder(tmp_path)
    encoder.transform(texts[:20])
    encoder.transform(texts[20:40])  # the search's first fit writes texts[40:]

    def make_read_only():
        _fail_in(tmp_path, monkeypatch, DENIED)
        for directory in {p.parent for p in _shards(tmp_path)}:
            directory.chmod(0o555)
        _truncate(_shard_with(tmp_path, texts[40]))

    damages = [
        lambda: _truncate(_shard_with(tmp_path, texts[0])),
        lambda: _flip_bits(_shard_with(tmp_path, texts[20])),
        make_read_only,
        lambda: _empty(_shard_with(tmp_path, texts[0])),
    ]

    def damage_and_forget():
        damages.pop(0)()
        clear_embedding_cache()

    try:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            search = _search(tmp_path, damage_and_forget)
    finally:
        monkeypatch.undo()
        for directory in {p.parent for p in _shards(tmp_path)}:
            directory.chmod(0o755)
    assert not damages
    messages = [str(w.message) for w in record if issubclass(w.category, UserWarning)]
    # three shard files were damaged (the first one twice: once is reported)
    assert len([m for m in messages if "damaged" in m]) == 3
    assert len([m for m in messages if "writable" in m]) == 1

    assert search.best_params_ == reference.best_params_
    assert search.best_score_ == reference.best_score_
    for name in ["mean_test_score", "split0_test_score", "split1_test_score"]:
        np.testing.assert_array_equal(search.cv_results_[name], reference.cv_results_[name])
    np.testing.assert_array_equal(
        search.best_estimator_.item_embeddings_, reference.best_estimator_.item_embeddings_
    )
    out, _ = _transform_recording(tmp_path, texts)  # what the cache holds now
    np.testing.assert_array_equal(out, _fresh(texts))


def test_text_ending_in_nul_does_not_damage_its_shard(tmp_path):
    # numpy's strings in a shard drop trailing NULs: such a text stays in
    # memory, and the shard it would have been in reads back healthy
    texts = ["space rocket\0", "pasta recipe"]
    first, _ = _transform_recording(tmp_path, texts)
    again, messages = _transform_recording(tmp_path, texts)
    assert messages == [] and not list(Path(tmp_path).rglob("*.damaged"))
    np.testing.assert_array_equal(again, first)
    assert embedding_cache_info().misses == 1  # only the NUL text encoded anew


def test_another_model_saved_at_the_same_path_encodes_anew(tmp_path):
    # a retrained model of the same dimension saved over the old one (a
    # reused output directory): its files changed, so nothing of the old
    # model's is served, from disk or from this process's caches
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_path(), model)

    def encode():
        return TextEncoder(str(model), precision="float32", memory=str(tmp_path / "memory"),
                           verbose=0).fit().transform(TEXTS)

    old = encode()
    import torch
    from transformers import BertModel

    retrained = BertModel.from_pretrained(str(model))
    with torch.no_grad():
        for weight in retrained.parameters():
            weight.mul_(1.5)
    retrained.save_pretrained(str(model))
    new = encode()  # same process: the loaded model and the memory cache are stale too
    clear_embedding_cache()
    assert not np.allclose(new, old)
    np.testing.assert_array_equal(new, encode())  # a new process: from disk, the new model's
