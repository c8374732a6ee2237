"""Mutation round 29: pins of the survivors that change behaviour (the lines of 18ab714..20a31e4)."""

import errno
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from sklearn_zsrec import ContrastiveFineTuning, ZeroShotRecommender, _progress

from ._tiny import tiny_model_path
from .test_fine_tune import _tiny_catalogue, _tiny_encoder, _tuned_maker

posix = pytest.mark.skipif(sys.platform == "win32", reason="the lock across processes is POSIX's lockf")


class _FakeFcntl:
    """fcntl whose lock is held for ``held_for`` seconds (a spy on our own lock logic).

    Meanwhile each non-blocking ``lockf`` raises ``error`` (None: the lock is
    free); afterwards it raises ``then``, or grants the lock. A blocking one
    would wait for ever: the lock is polled.
    """

    LOCK_EX, LOCK_NB, LOCK_UN = 2, 4, 8

    def __init__(self, error, held_for=float("inf"), then=None):
        self.error, self.then, self.calls = error, then, []
        self.free_at = time.monotonic() + held_for

    def lockf(self, fd, flags):
        assert flags & self.LOCK_NB, "a blocking lockf: a bare OSError escaped it (ENOLCK)"
        self.calls.append("try")
        error = self.error if time.monotonic() < self.free_at else self.then
        if error is not None:
            raise error


# ---- (K01: only BlockingIOError read as "held"; POSIX allows EACCES too)
@posix
def test_a_held_lock_reported_as_eacces_is_waited_for(tmp_path, monkeypatch, caplog):
    import logging

    from sklearn_zsrec import _fine_tune

    fake = _FakeFcntl(PermissionError(errno.EACCES, "Permission denied"), held_for=0.4)
    monkeypatch.setattr(_fine_tune, "fcntl", fake)
    monkeypatch.setattr(_fine_tune, "DELAY", 0.1)
    with caplog.at_level(logging.INFO, logger="sklearn_zsrec"):
        with _fine_tune._process_lock(tmp_path, "key", 0):
            assert time.monotonic() >= fake.free_at  # held: it waits, not unlocked
    assert len(fake.calls) > 1
    assert "another process is tuning or checking" in caplog.text


# ---- (K02, K03: a location without locks, ENOLCK, crashed or waited)
@posix
@pytest.mark.parametrize("held_for", [0, 0.3])
def test_a_location_without_locks_goes_on_unlocked(tmp_path, monkeypatch, held_for, caplog):
    # from the start, or mid-wait (a network file system's lock service
    # gone): the blocking wait after the note let a bare OSError escape;
    # after "waiting for it", why it goes on is said
    import logging

    from sklearn_zsrec import _fine_tune

    no_locks = OSError(errno.ENOLCK, "No locks available")
    fake = _FakeFcntl(BlockingIOError(errno.EAGAIN, "held"), held_for=held_for, then=no_locks)
    monkeypatch.setattr(_fine_tune, "fcntl", fake)
    monkeypatch.setattr(_fine_tune, "DELAY", 0.1)
    ran = []
    with caplog.at_level(logging.INFO, logger="sklearn_zsrec"):
        with _fine_tune._process_lock(tmp_path, "key", 0):
            ran.append(1)
    assert ran == [1] and (fake.calls == ["try"]) == (held_for == 0)
    assert ("locks are no longer granted" in caplog.text) == (held_for > 0), caplog.text


# ---- (K06: the waiting note not printed; G06: printed under verbose=0)
@posix
@pytest.mark.parametrize("verbose", [0, 1])
def test_the_waiting_note_shows_as_verbose_says(tmp_path, monkeypatch, capsys, verbose):
    from sklearn_zsrec import _fine_tune

    monkeypatch.setattr(_fine_tune, "fcntl",
                        _FakeFcntl(BlockingIOError(errno.EAGAIN, "held"), held_for=0.4))
    monkeypatch.setattr(_fine_tune, "DELAY", 0.1)  # (a wait past it is said)
    capsys.readouterr()
    with _fine_tune._process_lock(tmp_path, "key", verbose):
        pass
    printed = capsys.readouterr()
    shown = printed.out + printed.err
    assert shown.count("waiting for it") == int(bool(verbose)), shown  # (once, not each try)


# ---- (K10, K12: a location where the lock file cannot be made)
@posix
def test_a_lock_file_that_cannot_be_made_leaves_the_tuning_unlocked(tmp_path):
    from sklearn_zsrec import _fine_tune

    nowhere = tmp_path / "no such folder"  # (as a folder one cannot write in)
    assert _fine_tune._lock_file(nowhere / ".key.lock") is None
    ran = []
    with _fine_tune._process_lock(nowhere, "key", 0):
        ran.append(1)
    assert ran == [1]


# ---- (K11: the process lock taken before the thread lock)
_PROBE = ("import fcntl, sys\nf = open(sys.argv[1], 'r+')\ntry:\n"
          "    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    print('free')\n"
          "except OSError:\n    print('held')\n")


@posix
def test_a_second_thread_holds_the_process_lock_after_the_first_ends(tmp_path, monkeypatch):
    # a thread that opened its own descriptor of the lock file while another
    # held it lost the lock when that other closed its descriptor (POSIX
    # releases all of a process's locks on a file at any close): another
    # process could then tune or remove the folder under it
    from sklearn_zsrec import _fine_tune

    _tuned_maker(tmp_path / "warm")[0]().fit(_tuned_maker(tmp_path)[1])  # (imports done: a
    # cold process's two threads importing transformers at once can fail in it)
    make, X = _tuned_maker(tmp_path)
    train, gone = ContrastiveFineTuning._train, _fine_tune.model_files_gone
    probes = []

    def slow(self, *args):  # a spy: the first thread's tuning lasts a second
        time.sleep(1.0)
        return train(self, *args)

    def probed(directory):  # a spy: in tuned(), is the lock held for other processes?
        if probes or list(tmp_path.glob(".*.lock")):
            (lock,) = tmp_path.glob(".*.lock")
            probes.append(subprocess.run([sys.executable, "-c", _PROBE, str(lock)],
                                         capture_output=True, text=True,
                                         timeout=60).stdout.strip())
        return gone(directory)

    monkeypatch.setattr(ContrastiveFineTuning, "_train", slow)
    monkeypatch.setattr(_fine_tune, "model_files_gone", probed)
    errors = []

    def fit():
        try:
            make().fit(X)
        except Exception as exc:  # pragma: no cover - shown below
            errors.append(exc)

    first = threading.Thread(target=fit)
    first.start()
    time.sleep(0.3)  # the first is tuning: the second waits
    second = threading.Thread(target=fit)
    second.start()
    first.join(120)
    second.join(120)
    assert not errors, errors
    assert probes and all(p == "held" for p in probes), probes


# ---- (Q01: torch.distributed.tensor not imported before peft's get_peft_model)
def test_a_lora_tuning_imports_dtensor_before_peft_adapts_the_model(tmp_path, monkeypatch):
    pytest.importorskip("peft")
    import peft

    from sklearn_zsrec import _fine_tune

    calls, imported, adapt = [], _fine_tune._import_dtensor, peft.get_peft_model
    monkeypatch.setattr(_fine_tune, "_import_dtensor", lambda: (calls.append("dtensor"),
                                                                imported())[1])
    monkeypatch.setattr(peft, "get_peft_model", lambda *a, **k: (calls.append("peft"),
                                                                 adapt(*a, **k))[1])
    texts, X = _tiny_catalogue(30, 10, 3)
    tuning = ContrastiveFineTuning("lora", n_steps=2, batch_size=4, location=tmp_path,
                                   verbose=0)
    ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning).fit(X)
    assert calls == ["dtensor", "peft"]


# ---- (Q08, Q09: the fine-tuning bar not told of an early stop or a divergence)
@pytest.mark.parametrize("how", ["diverged", "stopped early"])
def test_the_tuning_bar_says_why_it_ended_early(tmp_path, monkeypatch, capsys, how):
    monkeypatch.setattr(_progress, "DELAY", 0)
    texts, X = _tiny_catalogue()
    rate = 1e6 if how == "diverged" else 0.5
    tuning = ContrastiveFineTuning("full", n_steps=30, batch_size=8, learning_rate=rate,
                                   location=tmp_path, verbose=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning).fit(X)
    err = capsys.readouterr().err
    bar = [line for line in err.replace("\r", "\n").split("\n") if "Fine-tuning" in line][-1]
    assert how in bar and "100%" in bar, bar


# ---- (P03, P04, P05, P06: progress's bar counts each item and ends drawn)
def test_a_long_loop_ends_with_its_bar_full_and_closed(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "DELAY", 0)
    items = _progress.progress(range(40), 1, desc="items")
    assert list(items) == list(range(40))
    err = capsys.readouterr().err  # (items still alive: closed by the loop's end)
    last = err.replace("\r", "\n").rstrip("\n").split("\n")[-1]
    assert "40/40" in last and "100%" in last, last
    assert err.endswith("\n")  # closed (left on its own line)
    items = (k for k in range(30))  # no len(): the total given
    assert len(list(_progress.progress(items, 1, desc="gen", total=30))) == 30
    last = capsys.readouterr().err.replace("\r", "\n").rstrip("\n").split("\n")[-1]
    assert "30/30" in last, last


# ---- (G01, G02, G03, G04, G08: the stage bar's count, stretch, format, drawing)
def test_the_stage_bar_counts_stages_done_and_stretches_for_one_more(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "DELAY", 0)
    stages = _progress.Stages(2, 1, "staged")
    deadline = time.monotonic() + 10
    while stages.bar is None and time.monotonic() < deadline:  # (the timer's thread)
        time.sleep(0.01)
    drawn = []
    for name in ("first", "second", "third"):  # one more than planned
        stages(name)
        drawn.append(capsys.readouterr().err.replace("\r", "\n").rstrip("\n").split("\n")[-1])
    stages.close()
    assert "0/2" in drawn[0] and "first" in drawn[0], drawn
    assert "1/2" in drawn[1] and "second" in drawn[1], drawn
    assert "2/3" in drawn[2] and "third" in drawn[2], drawn
    assert not any("<" in line for line in drawn), drawn  # no time-left estimate


# ---- (N02: a block interrupted while it saved; N06: the restore outside the lock)
def test_ctrl_c_while_the_bars_are_turned_off_raises_as_such(monkeypatch):
    # and what the turning off did before it was interrupted is undone (the
    # hub's bars stayed off for the rest of the process)
    from huggingface_hub import utils as hub
    from transformers.utils import logging as hf_logging

    def interrupted():  # (a mock: the hub's bars off, then Ctrl-C)
        hub.disable_progress_bars()
        raise KeyboardInterrupt

    was_off = hub.are_progress_bars_disabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (HF_HUB_DISABLE_PROGRESS_BARS=1 says it wins)
        hub.enable_progress_bars()
    if hub.are_progress_bars_disabled():
        pytest.skip("HF_HUB_DISABLE_PROGRESS_BARS=1 keeps the hub's bars off")
    monkeypatch.setattr(hf_logging, "disable_progress_bar", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            with _progress.no_loading_bars():
                pass  # pragma: no cover - not reached
        assert _progress._BARS_OFF == []
        assert not hub.are_progress_bars_disabled()
    finally:
        if was_off:
            hub.disable_progress_bars()


def test_a_block_that_starts_while_another_restores_sees_the_restored_bars(monkeypatch):
    from transformers.utils import logging as hf_logging

    before = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()
    real = hf_logging.enable_progress_bar

    def slow_enable():  # the first block's restore takes a moment
        time.sleep(0.5)
        real()

    try:
        first = _progress.no_loading_bars()
        first.__enter__()
        monkeypatch.setattr(hf_logging, "enable_progress_bar", slow_enable)
        ending = threading.Thread(target=first.__exit__, args=(None, None, None))
        ending.start()
        time.sleep(0.1)  # the first is restoring
        with _progress.no_loading_bars():
            time.sleep(0.8)  # (past the first's restore)
            assert not hf_logging.is_progress_bar_enabled()
        ending.join(10)
        assert hf_logging.is_progress_bar_enabled()  # as the caller had them
    finally:
        monkeypatch.undo()
        (hf_logging.enable_progress_bar if before else hf_logging.disable_progress_bar)()


# ---- (H02: every warning of the fit hidden; the blend's fits now hide none: a term
# constant over the holdout, which made the LinAlgWarning, is left out of the fit)
@pytest.mark.parametrize("kind", ["LinAlgWarning", "ConvergenceWarning"])
def test_the_blends_logistic_fits_hide_no_warnings(monkeypatch, kind):
    from scipy.linalg import LinAlgWarning
    from sklearn.exceptions import ConvergenceWarning

    from sklearn_zsrec import ALSRecommender, HybridRecommender, TextEncoder
    from sklearn.linear_model import LogisticRegression

    from ._data import topic_catalog, topic_interactions
    from ._members import cf_members

    category = {"LinAlgWarning": LinAlgWarning, "ConvergenceWarning": ConvergenceWarning}[kind]
    fits, fit = [], LogisticRegression.fit

    def warned(self, *args, **kwargs):  # a spy: each logistic fit of the blend warns
        fits.append(1)
        warnings.warn("a warning of the solver", category)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", warned)
    texts, topics = topic_catalog()
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        HybridRecommender(text, cf_members(ALSRecommender(factors=2, random_state=0)),
                          new_items="all", random_state=0, verbose=0).fit(
            topic_interactions(topics, per_user=5))
    shown = [w for w in caught if "a warning of the solver" in str(w.message)]
    assert fits
    assert len(shown) == len(fits), (len(shown), len(fits))


# ---- (P01, P02: a progress iterated twice: each pass its own bar, its own total)
def test_a_progress_iterated_twice_draws_a_full_bar_each_time(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "DELAY", 0)
    class Again:  # iterable again, with no len(): the total given
        def __iter__(self):
            return iter(range(20))

    items = _progress.progress(Again(), 1, desc="twice", total=20)
    for _ in range(2):
        assert list(items) == list(range(20))
        last = capsys.readouterr().err.replace("\r", "\n").rstrip("\n").split("\n")[-1]
        assert "20/20" in last and "100%" in last, last


# ---- (A03: a failed fit deleted parameters whose names end in "_")
def test_a_failed_fit_keeps_a_parameter_named_with_a_trailing_underscore():
    import pandas as pd
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    from sklearn_zsrec._base import BaseRecommender

    class Ridge(BaseRecommender):  # a recommender of one's own, its parameter lambda_
        def __init__(self, lambda_=1.0):
            self.lambda_ = lambda_

        def _fit(self, data):
            self._index(data)
            if self.lambda_ < 0:
                raise ValueError("lambda_ must be >= 0")

        def _scores(self, rows, users):
            return self.user_items_[rows].toarray()

    X = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1]})
    model = Ridge().fit(X)
    with pytest.raises(ValueError, match="lambda_ must be"):
        model.set_params(lambda_=-1.0).fit(X)
    assert model.get_params() == {"lambda_": -1.0}  # the parameter stays
    assert clone(model).lambda_ == -1.0
    with pytest.raises(NotFittedError):
        model.recommend([1])


# ---- (Q02: _import_dtensor's condition flipped: nothing imported where torch has distributed)
def test_import_dtensor_imports_the_submodule_peft_uses():
    code = ("import sys, torch\nfrom sklearn_zsrec._fine_tune import _import_dtensor\n"
            "if not torch.distributed.is_available():\n    print('no distributed')\n"
            "else:\n    _import_dtensor()\n"
            "    print('torch.distributed.tensor' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() in ("True", "no distributed"), out.stderr[-2000:]
