"""Mutation round 31: pins of the survivors that change behaviour (the lines of 2e6bfcb..de957ec)."""

import logging
import subprocess
import sys
import textwrap

import pytest

posix = pytest.mark.skipif(sys.platform == "win32", reason="the lock across processes is POSIX's lockf")


class _Clock:
    """A fake ``time`` for ``_fine_tune``: ``sleep`` advances ``monotonic``, and is recorded."""

    def __init__(self):
        self.now, self.events = 0.0, []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.events.append(("sleep", seconds))
        self.now += seconds


class _HeldUntil:
    """fcntl whose lock another process holds until ``clock`` reads ``free_at``."""

    LOCK_EX, LOCK_NB, LOCK_UN = 2, 4, 8

    def __init__(self, clock, free_at):
        self.clock, self.free_at = clock, free_at

    def lockf(self, fd, flags):
        assert flags & self.LOCK_NB, "a blocking lockf"
        self.clock.events.append(("try", self.clock.now))
        if self.clock.now < self.free_at:
            raise BlockingIOError(11, "held")


# ---- (T06, T08: the note said at every poll; T09, T10, T11, T13: the poll's
# ---- intervals; T12: a sleep before the first try)
@posix
def test_the_lock_is_tried_at_once_then_every_20_ms_then_every_100_ms_after_one_note(
        tmp_path, monkeypatch, caplog):
    from sklearn_zsrec import _fine_tune

    clock = _Clock()
    monkeypatch.setattr(_fine_tune, "time", clock)
    monkeypatch.setattr(_fine_tune, "fcntl", _HeldUntil(clock, free_at=3.0))
    monkeypatch.setattr(_fine_tune, "DELAY", 2.0)
    monkeypatch.setattr(_fine_tune, "note", lambda message, verbose: clock.events.append(
        ("note", clock.now)))
    with caplog.at_level(logging.INFO, logger="sklearn_zsrec"):
        with _fine_tune._process_lock(tmp_path, "key", 0):
            taken_at = clock.now
    said = [r for r in caplog.records if "another process is tuning" in r.getMessage()]
    notes = [i for i, (kind, _) in enumerate(clock.events) if kind == "note"]
    assert len(said) == len(notes) == 1, f"the note said {len(said)} times"  # (not at each poll)
    assert 2.0 < clock.events[notes[0]][1] < 2.05  # (the first poll past DELAY)
    assert clock.events[0] == ("try", 0.0)  # at once: an uncontended lock costs no sleep
    before = {s for kind, s in clock.events[:notes[0]] if kind == "sleep"}
    after = {s for kind, s in clock.events[notes[0]:] if kind == "sleep"}
    assert before == {0.02}, before  # (a lock held for milliseconds: taken soon after)
    assert after == {0.1}, after  # (a tuning's wait: idle, and taken soon after it ends)
    assert 3.0 <= taken_at <= 3.1 + 1e-9


def _model_folder(tmp_path, files):
    folder = tmp_path / "model"
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


# ---- (U11: not sorted; U14: only the first named; U06: plural from three on;
# ---- U08: the fallback when every file parses. U05, U10 are moot since 48cc860:
# ---- the folder's own files are scanned, as transformers reads them, and
# ---- 1_Pooling/config.json is read by _read_json, which names it itself)
def test_the_files_that_do_not_parse_are_each_named(tmp_path):
    from sklearn_zsrec._model_files import unparsed_files

    folder = _model_folder(tmp_path, {
        "vocab.txt": b"[PAD]\n\xff\xfe\x81 damaged\n", "config.json": b'{"fine": 1}',
        "tokenizer.json": b'{"half": ', "1_Pooling/config.json": b'{"also half',
        "notes.md": b"\xff not looked at", "a.json": b"[]"})
    assert unparsed_files(folder) == (
        f"each of the model files tokenizer.json, vocab.txt at {folder}")
    (folder / "vocab.txt").write_bytes(b"[PAD]\n")
    assert unparsed_files(folder) == f"the model file tokenizer.json at {folder}"
    (folder / "tokenizer.json").write_bytes(b"{}")
    assert unparsed_files(folder) is None  # (every file parses: not damage)


# ---- (U03: an unreadable file raised its own OSError; U12: named as not parsing)
def test_a_file_that_cannot_be_read_is_not_named_as_damaged(tmp_path, monkeypatch):
    # a model folder shared by another account may hold a file this one
    # cannot read (EACCES): the file that does not parse is still named
    from pathlib import Path

    from sklearn_zsrec._model_files import unparsed_files

    folder = _model_folder(tmp_path, {"tokenizer.json": b'{"half": ',
                                      "private.json": b"{}", "merges.txt": b"a b\n"})
    read = Path.read_text

    def read_text(self, *args, **kwargs):
        if self.name in ("private.json", "merges.txt"):
            raise PermissionError(13, "Permission denied", str(self))
        return read(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    assert unparsed_files(folder) == f"the model file tokenizer.json at {folder}"


_HELD_IMPORTS = textwrap.dedent("""
    import sys, threading, time
    import torch  # (not the concern here: the thread reaches its import at once)
    from sklearn_zsrec import _encoder, _fine_tune, _locks, _model_files, _progress

    def bars():
        with _progress.no_loading_bars():
            pass

    def train():  # (the tuning's own import, whatever fails after it)
        _fine_tune.ContrastiveFineTuning("full")._train(None, (None, None), None, None,
                                                         None, None)

    jobs = {"bars": bars, "float32_weights": _model_files.float32_weights,
            "load": lambda: _encoder._load_model(sys.argv[2], "cpu"),
            "require_peft": _fine_tune._require_peft, "train": train}
    assert "transformers" not in sys.modules
    _locks._IMPORTS.__enter__()  # another thread is importing
    thread = threading.Thread(target=lambda: jobs[sys.argv[1]](), daemon=True)
    thread.start()
    time.sleep(2.0)
    print("imported while the lock was held:", "transformers" in sys.modules, flush=True)
    _locks._IMPORTS.__exit__(None, None, None)
    thread.join(120)
""")


# ---- (I01, I08: imported() without its lock; I03, I04, I06, I07, N05: one
# ---- of its uses importing transformers (or peft) around it)
@pytest.mark.parametrize("job", ["bars", "float32_weights", "load", "require_peft", "train"])
def test_each_first_import_of_transformers_waits_for_the_import_lock(job):
    # transformers' lazy module races when two threads first import it: each
    # import of the package goes through _locks.imported, one thread at a time
    # (a race test fails by chance; this one does not)
    from ._tiny import real_model_path

    if job == "require_peft":
        pytest.importorskip("peft")
    done = subprocess.run([sys.executable, "-c", _HELD_IMPORTS, job, real_model_path()],
                          capture_output=True, text=True, timeout=300)
    assert "imported while the lock was held: False" in done.stdout, done.stdout + done.stderr[-2000:]
