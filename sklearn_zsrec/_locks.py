"""The package's module-level locks, which a forked child gets released."""

import importlib
import os
import threading
import weakref

_LOCKS = weakref.WeakSet()


class Lock:
    """A ``threading.Lock`` (``with`` only) that a process forked while another
    thread held it gets released.

    A child process copies a held lock as held, and no thread of the child
    releases it: a child forked while a thread tuned (a fork pool, a forking
    server) waited forever at its first tuning, whatever the model. The
    child gets the lock released, unless its own thread (the one that
    forked) held it. The work the other thread did under it is not the
    child's to finish: a tuning's folder is guarded across processes by its
    file lock, which the child takes anew; a cache update the fork cut in
    half (a window of a few dictionary writes) can leave the child's copy
    of that cache incomplete, the lesser harm against a child that waits
    forever.
    """

    def __init__(self):
        self._lock, self._owner = threading.Lock(), None
        _LOCKS.add(self)

    def __enter__(self):
        self._lock.acquire()
        self._owner = threading.get_ident()
        return self

    def __exit__(self, *exc):
        self._owner = None
        self._lock.release()

    def _after_fork(self):
        lock = threading.Lock()
        if self._owner == threading.get_ident():  # (the forking thread's, still)
            lock.acquire()
        else:
            self._owner = None
        self._lock = lock


_IMPORTS = Lock()


def imported(name, *attributes):
    """``importlib.import_module(name)``, one thread of the process at a time;
    with ``attributes``, those of the module, looked up under the same lock.

    transformers' first import in two threads at once races in its lazy
    module: one of them got a module without its classes ("cannot import
    name 'AutoTokenizer'", "module 'transformers' has no attribute
    'AutoModel'": 3 of 15 fresh processes whose three threads imported it
    at once), as when an encoder loads its model while a tuning whose
    embeddings came from the cache starts. The package imports transformers
    (and peft, which imports it) through this; once imported, it is a
    lookup. transformers' classes are lazy attributes (their lookup imports
    their modules), so they are looked up here too.
    """
    with _IMPORTS:
        module = importlib.import_module(name)
        return tuple(getattr(module, a) for a in attributes) if attributes else module


def _release_in_child():
    for lock in list(_LOCKS):
        lock._after_fork()


if hasattr(os, "register_at_fork"):  # (not on Windows, which does not fork)
    os.register_at_fork(after_in_child=_release_in_child)
