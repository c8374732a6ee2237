"""Mutation round 30: pins of the survivors that change behaviour (the lines of 20a31e4..2e6bfcb)."""

import os
import sys
import threading
import time

import numpy as np
import pytest

from .test_locks import _forked

fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


@fork
def test_a_lock_the_forking_thread_took_and_released_is_free_in_its_child():
    # the main thread loaded a model (or tuned) once, then forked a worker (a
    # fork pool): the lock, free, must be free in the child too
    from sklearn_zsrec._locks import Lock

    lock = Lock()
    with lock:
        pass

    def child():
        assert lock._lock.acquire(timeout=10), "the child's first use would wait forever"
        lock._lock.release()
        with lock:
            pass

    assert _forked(child) == 0


@fork
def test_a_lock_the_forking_thread_holds_stays_held_in_its_child_while_another_waits():
    # a thread waiting for the lock must not pass as its holder: the child of
    # the holder got the lock released, and its with block's end raised
    # RuntimeError (release unlocked lock)
    from sklearn_zsrec._locks import Lock

    lock, waiting = Lock(), threading.Event()

    def waiter():
        waiting.set()
        with lock:
            pass

    def child():
        assert not lock._lock.acquire(blocking=False)  # the forking thread's, still
        lock.__exit__(None, None, None)  # (its with block ends in the child)
        with lock:
            pass

    with lock:
        thread = threading.Thread(target=waiter)
        thread.start()
        waiting.wait(10)
        time.sleep(0.3)  # (the waiter inside its acquire)
        code = _forked(child)
    thread.join(10)
    assert code == 0


@fork
def test_a_lock_handed_to_a_waiting_thread_is_that_threads_in_its_child():
    # the previous holder's exit must not clear the owner the next one set:
    # a release slow to return (the holder descheduled just after it) let the
    # waiter take the lock first; its child then got the lock released
    from sklearn_zsrec._locks import Lock

    lock = Lock()
    real = lock._lock

    class SlowRelease:  # a spy on our own logic: the holder descheduled after releasing
        def acquire(self, *args, **kwargs):
            return real.acquire(*args, **kwargs)

        def release(self):
            real.release()
            time.sleep(0.3)

    lock._lock = SlowRelease()
    waiting, inside, go, codes = threading.Event(), threading.Event(), threading.Event(), []

    def child():
        assert not lock._lock.acquire(blocking=False)  # the forking thread's, still
        lock.__exit__(None, None, None)

    def waiter():
        waiting.set()
        with lock:
            inside.set()
            go.wait(10)
            codes.append(_forked(child))

    with lock:
        thread = threading.Thread(target=waiter)
        thread.start()
        waiting.wait(10)
        time.sleep(0.2)  # (the waiter inside its acquire)
    assert inside.wait(10)
    time.sleep(0.5)  # (the holder's exit over)
    go.set()
    thread.join(30)
    assert codes == [0]


@fork
def test_a_child_thread_with_the_ident_of_the_parents_holder_forks_the_lock_free():
    # the child of a process where another thread held the lock keeps no
    # owner: thread idents are reused (a new thread of the child gets the
    # parent's holder's stack), and that thread's own fork got the lock, free,
    # as held (its child waited forever)
    from sklearn_zsrec import _locks

    lock, inside, done, ident = _locks.Lock(), threading.Event(), threading.Event(), []

    def holder():
        ident.append(threading.get_ident())
        with lock:
            inside.set()
            done.wait(60)

    def child():
        assert lock._owner is None or lock._owner == threading.get_ident()
        # as a thread of the child with the old holder's ident would fork
        # (a spy on our own logic: the ident such a thread gets)
        threading.get_ident = lambda: ident[0]
        _locks._release_in_child()
        assert lock._lock.acquire(blocking=False), "a child of that thread would wait forever"

    thread = threading.Thread(target=holder)
    thread.start()
    assert inside.wait(60)
    try:
        code = _forked(child)
    finally:
        done.set()
        thread.join()
    assert code == 0


def test_a_lock_no_longer_referenced_is_not_kept():
    # (optional) each approximate-search model's index cache makes a lock:
    # the registry of locks to release in a forked child holds them weakly
    import gc
    import weakref

    from sklearn_zsrec._locks import Lock

    ref = weakref.ref(Lock())
    gc.collect()
    assert ref() is None


def _module_locks():
    """(name, lock) of every lock held in a module of the package or in an index cache."""
    import importlib
    import pkgutil

    import sklearn_zsrec
    from sklearn_zsrec import _ann

    found = [("_ann._IndexCache()._lock", _ann._IndexCache()._lock)]
    plain = (type(threading.Lock()), type(threading.RLock()))
    for info in pkgutil.walk_packages(sklearn_zsrec.__path__, "sklearn_zsrec."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # (an optional extra not installed)
            continue
        from sklearn_zsrec._locks import Lock

        for name, value in vars(module).items():
            if isinstance(value, (Lock, *plain)):
                found.append((f"{info.name}.{name}", value))
    return found


@fork
def test_every_lock_of_the_package_is_free_in_a_child_forked_while_a_thread_holds_it():
    # a child forked while a thread loaded a model (or built an approximate
    # search index, or tuned) copied the lock as held: its first use of it
    # waited forever
    locks = _module_locks()
    assert len(locks) > 5
    for name, lock in locks:
        inside, done = threading.Event(), threading.Event()

        def holder():
            with lock:
                inside.set()
                done.wait(60)

        def child():
            inner = getattr(lock, "_lock", lock)
            assert inner.acquire(timeout=5), name

        thread = threading.Thread(target=holder)
        thread.start()
        assert inside.wait(60)
        try:
            code = _forked(child)
        finally:
            done.set()
            thread.join()
        assert code == 0, f"{name}: a child forked while a thread held it waits forever"


@pytest.mark.skipif(sys.platform == "win32", reason="the lock across processes is POSIX's lockf")
def test_a_wait_for_another_process_ends_soon_after_it_and_idles_meanwhile(tmp_path):
    # the lock is polled (every 20 ms for DELAY, 2 s, then every 100 ms): a
    # worker that waits for one that checks the folder (milliseconds) goes on
    # soon after, not DELAY later, and does not spin on a core meanwhile (the
    # holder is training on it)
    import subprocess

    from sklearn_zsrec import _fine_tune

    (tmp_path / ".key.lock").touch()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'r+'); "
         "fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(1.0)",
         str(tmp_path / ".key.lock")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    wall, cpu = time.monotonic(), time.process_time()
    with _fine_tune._process_lock(tmp_path, "key", 0):
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    assert holder.wait(timeout=60) == 0
    assert 0.1 < wall < _fine_tune.DELAY - 0.3  # (the 1 s hold, not DELAY)
    assert cpu < 0.15 * wall  # (sleeping between tries)


def test_a_blend_term_that_varies_however_little_is_fitted():
    # only a term constant over the holdout is left out of the logistic fit:
    # one that differs in a single sample (its first), or over a small range
    # (a member's scores on their own scale), keeps the weight the fit gives it
    from sklearn.linear_model import LogisticRegression

    from sklearn_zsrec._hybrid import _learn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    x[:, 1], x[0, 1] = 0.0, 1.0
    x[:, 2] *= 1e-4
    y = (x[:, 0] + 1e4 * x[:, 2] + rng.normal(size=400) > 0).astype(int)
    y[0] = 1
    got = _learn._fitted(LogisticRegression(C=1e4, solver=_learn.SOLVER, max_iter=1000), x, y)
    plain = LogisticRegression(C=1e4, solver=_learn.SOLVER, max_iter=1000).fit(x, y)
    assert got.coef_[0, 1] != 0 and got.coef_[0, 2] != 0
    np.testing.assert_allclose(got.coef_, plain.coef_, rtol=1e-6)


def test_a_bar_that_appears_late_draws_the_rate_since_the_start(monkeypatch):
    # its first drawing gave the rate of the items done before it appeared
    # over the instant since (hundreds of thousands of it/s, no time left)
    import io
    import re

    from sklearn_zsrec import _progress

    monkeypatch.setattr(_progress, "DELAY", 0.5)
    out = io.StringIO()
    start = time.monotonic()
    steps = _progress.progress(range(10), 1, desc="steps", file=out, mininterval=0, ascii=True)
    for _ in steps:
        time.sleep(0.1)
    assert steps.bar.format_dict["elapsed"] < time.monotonic() - start + 1  # (on tqdm's clock)
    drawn = [d for d in out.getvalue().split("\r") if re.search(r"[1-9]\d*/10", d)]
    rate = float(re.search(r"([\d.]+)it/s", drawn[0]).group(1))
    assert 1 < rate < 30, drawn[0]  # (about 10 it/s)


@pytest.mark.skipif(sys.platform == "win32", reason="the lock across processes is POSIX's lockf")
def test_the_waiting_note_names_the_tuned_folder(tmp_path, monkeypatch, caplog):
    # the location holds every tuned model (one folder each): the note names
    # the one being waited for
    import logging
    import subprocess

    from sklearn_zsrec import _fine_tune

    monkeypatch.setattr(_fine_tune, "DELAY", 0.1)  # (a wait past it is said)
    (tmp_path / ".key.lock").touch()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'r+'); "
         "fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(1.0)",
         str(tmp_path / ".key.lock")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with caplog.at_level(logging.INFO, logger="sklearn_zsrec"):
        with _fine_tune._process_lock(tmp_path, "key", 0):
            pass
    assert holder.wait(timeout=60) == 0
    assert f"the model at {str(tmp_path / 'key')!r}; waiting" in caplog.text


def test_threads_that_ask_an_index_cache_at_once_build_one_index(monkeypatch):
    from sklearn_zsrec import _ann

    built = []

    def slow_build(factors):  # a spy on our own logic: a build that takes a while
        built.append(1)
        time.sleep(0.3)
        return object()

    monkeypatch.setattr(_ann, "build_index", slow_build)
    cache, factors, got = _ann._IndexCache(), np.ones((5, 2), np.float32), []
    threads = [threading.Thread(target=lambda: got.append(cache.get(factors))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and got[0] is got[1] is got[2]


def test_a_faiss_that_fails_to_import_is_said_with_its_error(monkeypatch):
    # the reason (numpy's "compiled using NumPy 1.x cannot be run in NumPy 2")
    # is what tells which reinstall
    import importlib.util

    from sklearn_zsrec._ann import _faiss

    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss raises ImportError
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())  # (installed)
    with pytest.raises(ImportError, match="installed but fails to import") as info:
        _faiss()
    assert "halted; None in sys.modules" in str(info.value)
    assert isinstance(info.value.__cause__, ImportError)


def test_a_stage_bar_that_appears_late_counts_the_stages_already_done(monkeypatch):
    from sklearn_zsrec import _progress

    monkeypatch.setattr(_progress, "DELAY", 0.5)
    stages = _progress.Stages(4, 1, "slow")
    stages("first")
    stages("second")
    stages("third")  # two done before the bar appears
    deadline = time.monotonic() + 10
    while stages.bar is None and time.monotonic() < deadline:  # (the timer's thread)
        time.sleep(0.01)
    try:
        assert stages.bar.n == 2 and stages.bar.total == 4
    finally:
        stages.close()
