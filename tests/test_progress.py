"""Progress bars: after their delay, also in the middle of a long stage; never for quick work."""

import time

import pytest

from sklearn_zsrec import ALSRecommender, HybridRecommender, TextEncoder, ZeroShotRecommender
from sklearn_zsrec import _progress
from sklearn_zsrec._progress import Stages

from ._data import topic_catalog, topic_interactions
from ._members import cf_members
from ._tiny import tiny_model_path


def test_quick_work_shows_no_bar(capsys, monkeypatch):
    # naming a stage refreshed the bar at once, skipping tqdm's delay: a
    # 0.02 s fit printed one (a delay of a minute: quick on any machine)
    monkeypatch.setattr(_progress, "DELAY", 60.0)
    tiny_model_path()  # built (with transformers' own bars) before we listen
    capsys.readouterr()
    stages = Stages(3, 1, "quick")
    for name in ("a", "b", "c"):
        stages(name)
    stages.close()
    texts, topics = topic_catalog()
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    HybridRecommender(text, cf_members(ALSRecommender(factors=2, iterations=1, random_state=0)),
                      blend="fixed", random_state=0).fit(topic_interactions(topics))
    printed = capsys.readouterr()
    assert printed.err == printed.out == ""


def test_a_line_written_in_quick_work_leaves_no_bar_behind(capsys, monkeypatch):
    # the blend's log line (HybridRecommender(verbose=2)) drew the bar in its
    # delay; tqdm's close, counting it as never shown, left it on the screen
    # ("HybridRecommender.fit:  62%| 8/13 member 'next'"), the user's next
    # output appended to it
    # (any tqdm.write drew it: a log line through tqdm's logging redirect too)
    import sys

    from tqdm import tqdm

    monkeypatch.setattr(_progress, "DELAY", 60.0)
    stages = Stages(3, 1, "quick")
    stages("a")
    stages.write("the chosen blend")
    tqdm.write("a line of the user's own", file=sys.stderr)
    stages("b")
    stages.close()
    printed = capsys.readouterr()
    assert "the chosen blend" in printed.out
    assert printed.err.split("\n")[-1].split("\r")[-1].strip() == ""
    assert "quick" not in printed.err


def test_a_long_stage_shows_the_bar_while_it_runs(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "DELAY", 0.1)
    stages = Stages(2, 1, "slow")
    stages("loading the model")
    time.sleep(1.0)  # still in the first stage: the bar is up, with its name
    shown = capsys.readouterr().err
    stages("next")
    stages.close()
    assert "slow" in shown and "loading the model" in shown


def test_the_hybrids_bar_counts_the_stages_it_announces(monkeypatch):
    # it counted two stages per fit of the members where one is announced:
    # the bar stood at 10/13 on its last stage, then jumped to the end
    from sklearn_zsrec._hybrid import _estimator

    made = []

    class Counting(Stages):  # a spy on our own bar: which stages a fit announces
        def __init__(self, total, verbose, desc):
            super().__init__(total, 0, desc)
            self.total, self.names = total, []
            made.append(self)

        def __call__(self, name):
            self.names.append(name)

    monkeypatch.setattr(_estimator, "Stages", Counting)
    texts, topics = topic_catalog()
    X = topic_interactions(topics, users_per_topic=10, per_user=6)
    for blend in ("learned", "fixed"):
        text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
        HybridRecommender(text, cf_members(ALSRecommender(factors=2, iterations=1,
                                                          random_state=0)),
                          blend=blend, random_state=0, verbose=0).fit(X)
        assert made[-1].names and len(made[-1].names) == made[-1].total, made[-1].names


def test_silenced_loading_says_nothing_when_the_environment_keeps_the_hubs_bars(
        monkeypatch, recwarn):
    # HF_HUB_DISABLE_PROGRESS_BARS=0: huggingface_hub warned "Cannot disable
    # progress bars" at every model load, verbose=0 or not
    import importlib

    hub_tqdm = importlib.import_module("huggingface_hub.utils.tqdm")
    monkeypatch.setattr(hub_tqdm, "HF_HUB_DISABLE_PROGRESS_BARS", False)
    with _progress.no_loading_bars():
        pass
    assert not [w for w in recwarn if "progress bars" in str(w.message)]


def test_verbose_0_draws_no_bar_even_for_long_work(capsys, monkeypatch):
    # (no delay: quick work shows what long work would)
    monkeypatch.setattr(_progress, "DELAY", 0)
    enc = TextEncoder(tiny_model_path(), verbose=0, batch_size=2).fit()
    capsys.readouterr()
    enc.transform([f"a text never encoded before, number {i}" for i in range(8)])
    printed = capsys.readouterr()
    assert printed.err == printed.out == ""


def test_loading_a_model_leaves_transformers_bars_as_the_caller_set_them():
    from transformers.utils import logging as hf_logging

    from sklearn_zsrec import clear_cache

    before = hf_logging.is_progress_bar_enabled()
    try:
        for enabled in (True, False):
            clear_cache(models=True)  # loaded again
            (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
            TextEncoder(tiny_model_path(), verbose=0).fit().transform(["x"])
            assert hf_logging.is_progress_bar_enabled() == enabled
    finally:
        (hf_logging.enable_progress_bar if before else hf_logging.disable_progress_bar)()


def test_a_line_written_while_items_are_quick_leaves_no_bar_behind(capsys, monkeypatch):
    # progress() (encoding, fine-tuning) made its bar at once, held back by
    # tqdm's delay: a tqdm.write meanwhile drew it, and its close left it
    # ("Encoding:   0%| 0/10"), the user's next output appended to it
    import sys

    from tqdm import tqdm

    monkeypatch.setattr(_progress, "DELAY", 60.0)
    for k in _progress.progress(range(10), 1, desc="quick items"):
        if k == 3:
            tqdm.write("a log line of the application", file=sys.stderr)
    printed = capsys.readouterr()
    assert "quick items" not in printed.err
    assert printed.err == "a log line of the application\n"


def test_a_long_loop_shows_its_bar_and_an_early_stop_says_so(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "DELAY", 0)
    steps = _progress.progress(range(1, 41), 1, desc="steps", unit="step")
    for step in steps:
        if step == 19:
            steps.stopped(step, "stopped early")
            break
    err = capsys.readouterr().err.split("\r")[-1]
    assert "19/19" in err and "stopped early" in err and "100%" in err


def test_no_stderr_shows_no_bar(monkeypatch, capsys):
    # pythonw, a detached daemon: tqdm raised when it first drew, naming
    # neither verbose nor the fix
    import sys

    monkeypatch.setattr(_progress, "DELAY", 0)
    monkeypatch.setattr(sys, "stderr", None)
    assert list(_progress.progress(range(3), 1, desc="x")) == [0, 1, 2]
    stages = Stages(2, 1, "no stderr")
    stages("a")
    stages.close()
    enc = TextEncoder(tiny_model_path(), verbose=1, batch_size=2).fit()
    assert enc.transform([f"a text of no stderr, number {i}" for i in range(4)]).shape[0] == 4


def test_the_first_transform_after_unpickling_shows_the_model_loading(capsys, monkeypatch):
    # fit showed the load under a bar; a transform that loads the model (in a
    # new process, a joblib worker, after clear_cache) showed nothing for seconds
    import pickle

    from sklearn_zsrec import clear_cache

    enc = pickle.loads(pickle.dumps(TextEncoder(tiny_model_path(), verbose=1).fit()))
    clear_cache(models=True)
    monkeypatch.setattr(_progress, "DELAY", 0)
    capsys.readouterr()
    enc.transform(["a text"])
    assert "loading" in capsys.readouterr().err


def test_overlapping_blocks_keep_the_loading_bars_off_until_the_last_ends():
    # a model loading in one thread beside a tuning in another: the first
    # block out restored the bars the second had turned off (the second then
    # printed transformers' "Loading weights" under verbose=0)
    from transformers.utils import logging as hf_logging

    before = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()
    try:
        first, second = _progress.no_loading_bars(), _progress.no_loading_bars()
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)  # out of order, as threads may
        assert not hf_logging.is_progress_bar_enabled()
        second.__exit__(None, None, None)
        assert hf_logging.is_progress_bar_enabled()
    finally:
        (hf_logging.enable_progress_bar if before else hf_logging.disable_progress_bar)()


def test_a_bar_that_appears_late_counts_the_time_from_the_start(monkeypatch):
    # made DELAY seconds into the work, it showed the time since it appeared
    monkeypatch.setattr(_progress, "DELAY", 0.5)
    start = time.monotonic()
    steps = _progress.progress(range(4), 1, desc="steps")
    for _ in steps:
        time.sleep(0.3)
    took = time.monotonic() - start
    assert steps.bar is not None and steps.bar.format_dict["elapsed"] >= took - 0.05
    stages = Stages(2, 1, "slow")
    stages("first")
    time.sleep(1.0)  # the bar appears at 0.5 s
    deadline = time.monotonic() + 10
    while stages.bar is None and time.monotonic() < deadline:  # (the timer's thread)
        time.sleep(0.01)
    assert stages.bar.format_dict["elapsed"] >= 0.95
    stages.close()


def test_bars_tqdm_disables_by_the_environment_stay_silent():
    # TQDM_DISABLE=1 (CI jobs, log-only servers; tqdm reads it when imported):
    # a bar that appeared 2 s in raised AttributeError (a disabled tqdm has no
    # clock to set back), in the caller's loop and in the stage bar's thread
    import os
    import subprocess
    import sys
    from pathlib import Path

    import tqdm

    if tuple(int(part) for part in tqdm.__version__.split(".")[:2]) < (4, 66):
        pytest.skip("tqdm reads TQDM_DISABLE from the environment from 4.66 on")
    code = ("import time\nfrom sklearn_zsrec import _progress\n_progress.DELAY = 0.1\n"
            "assert list(_progress.progress(iter([1, 2, 3]), 1, total=3)) == [1, 2, 3]\n"
            "for _ in _progress.progress(range(3), 1):\n    time.sleep(0.1)\n"
            "stages = _progress.Stages(2, 1, 'silent')\nstages('first')\ntime.sleep(0.5)\n"
            "stages.close()\nprint('done')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[1],
                         env={**os.environ, "TQDM_DISABLE": "1"})
    assert out.returncode == 0 and out.stdout.split() == ["done"], out.stderr[-2000:]
    assert out.stderr == ""
