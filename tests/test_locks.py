"""The package's module locks in a child forked while they were held."""

import os
import threading
import warnings

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def _forked(child):
    """Run ``child()`` in a forked process; its exit code (1 when it raised, killed
    by SIGALRM after 60 s when it hung: the signal's default action, which no
    wait in C code can hold up, as a Python handler would be)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (fork in a threaded process)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        import signal

        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(60)
        try:
            child()
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_child_forked_while_another_thread_tunes_can_tune(tmp_path):
    # the child copied the held "one tuning at a time" lock as held, and no
    # thread of it would release it: its first tuning, of any model, waited
    # forever (a fork pool or a forking server started beside a tuning). The
    # child takes the locks a tuning takes, without training: torch's own
    # thread pool is not fork-safe once the parent has used it (its training
    # in the child hung in the full suite)
    from sklearn_zsrec import _fine_tune

    def child():
        with _fine_tune._LOCK, _fine_tune._process_lock(tmp_path, "child", 0):
            pass

    inside, done = threading.Event(), threading.Event()

    def tuning():  # a spy on our own logic: a thread inside a tuning, holding its lock
        with _fine_tune._LOCK:
            inside.set()
            done.wait(120)

    thread = threading.Thread(target=tuning)
    thread.start()
    assert inside.wait(60)
    try:
        code = _forked(child)
    finally:
        done.set()
        thread.join()
    assert code == 0


def test_a_lock_the_forking_thread_holds_stays_held_in_the_child_until_released():
    from sklearn_zsrec._locks import Lock

    lock = Lock()

    def child():
        assert not lock._lock.acquire(blocking=False)  # the forking thread's, still
        lock.__exit__(None, None, None)  # (its with block ends in the child)
        with lock:
            pass

    with lock:
        assert _forked(child) == 0
    with lock:  # the parent's, released as usual
        pass
