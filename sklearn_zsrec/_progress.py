"""What a user sees while the package works: progress bars for long work
(silenced by ``verbose=0``), and warnings at the user's line, those about
ids once per call."""

import contextlib
import contextvars
import os
import sys
import threading
import time
import warnings

from ._locks import Lock, imported

DELAY = 2.0  # seconds before a bar appears: quick work shows nothing
STAGE_BAR = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"  # (no time left)


class progress:
    """``iterable``, with a tqdm bar once ``DELAY`` seconds have passed.

    No bar when ``verbose`` is falsy, tqdm is not installed or there is no
    ``sys.stderr`` (pythonw, a detached daemon: tqdm raised when it drew).
    The bar is made only when it shows, for the reason ``Stages`` gives.
    ``stopped(done, note)``: the work ended before the last item (an early
    stop), which the bar then says instead of showing the rest as to come.
    """

    def __init__(self, iterable, verbose, **kwargs):
        self.iterable, self.kwargs, self.bar = iterable, kwargs, None
        self.tqdm = _tqdm() if verbose else None

    def __iter__(self):
        if self.tqdm is None:
            yield from self.iterable
            return
        kwargs, self.bar = dict(self.kwargs), None  # (each pass its own bar)
        total = kwargs.pop("total", None)
        if total is None and hasattr(self.iterable, "__len__"):
            total = len(self.iterable)
        start, done = time.monotonic(), 0
        try:
            for item in self.iterable:
                yield item
                done += 1
                if self.bar is not None:
                    self.bar.update(1)
                elif time.monotonic() - start >= DELAY:
                    self.bar = _started(self.tqdm(total=total, **kwargs), start, done)
        finally:
            if self.bar is not None:
                self.bar.close()

    def stopped(self, done, note):
        """The work ended after ``done`` items, for the reason ``note``."""
        if self.bar is not None:
            self.bar.total = done
            self.bar.set_postfix_str(note, refresh=False)
            self.bar.update(done - self.bar.n)
            self.bar.refresh()


def caller_stacklevel():
    """``stacklevel`` for a warning issued by the caller of this function that
    names the first frame outside this package, scikit-learn and joblib (the
    user's ``fit``, whatever the path: a recommender alone, in a hybrid, in a
    search; a search's workers in other processes, ``n_jobs > 1``, have no
    such frame)."""
    import joblib
    import sklearn

    # joblib: scikit-learn's searches run every fold through it (in workers
    # of other processes with n_jobs > 1, where no level reaches the user)
    inside = tuple(os.path.dirname(os.path.abspath(path)) + os.sep
                   for path in (__file__, sklearn.__file__, joblib.__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and _is_inside(frame.f_code.co_filename, inside):
        frame, level = frame.f_back, level + 1
    return level


_QUIET = Lock()
_QUIETED = set()  # the one-time notes consumed in this process


@contextlib.contextmanager
def quiet(*messages, category=UserWarning, once=False):
    """Within: the warnings of ``category`` whose messages start with ``messages`` ignored.

    ``warnings.catch_warnings`` saves the process-wide filters on entry and
    restores them on exit: two such blocks overlapping in two threads left
    one's filter behind for good (before Python 3.14), and a recommender
    served from a thread pool switched off every UserWarning of the
    process. These blocks run one at a time, only around quick calls
    (building a tensor, not computing with it: a lock held over work that
    runs joblib deadlocked under a dask backend), and with ``once`` (notes a
    library shows once per process, as torch's) only until the first block
    has passed: later calls enter none, so that serving cannot overlap
    another thread's ``catch_warnings`` (a fit's) at all.
    """
    if once and messages in _QUIETED:
        yield
        return
    with _QUIET, warnings.catch_warnings():
        for message in messages:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield
    if once:
        _QUIETED.add(messages)


# the kinds of warnings about ids given in the current call (None: no call
# that groups them); "*": all of them, the ids checked by the caller
_ID_WARNINGS = contextvars.ContextVar("sklearn_zsrec_id_warnings", default=None)


@contextlib.contextmanager
def one_id_warning(checked=False):
    """Within: each kind of warning about ids given once, in the outermost such block.

    A composite (the hybrid and its members) or a method that checks its
    ids and then calls others (``explain``, then ``recommend``) warned about
    the same ids once per model and per pass: five times in one call.
    ``checked``: the caller checked (and warned about) the ids at hand, so
    the calls within give none. A context variable: per thread.
    """
    given = _ID_WARNINGS.get()
    token = _ID_WARNINGS.set(set()) if given is None else None
    if checked:
        _ID_WARNINGS.get().add("*")
    try:
        yield
    finally:
        if token is not None:
            _ID_WARNINGS.reset(token)


def warn_ids(kind, message):
    """A UserWarning ``message`` about ids, at the caller's line, once per ``kind`` and call."""
    given = _ID_WARNINGS.get()
    if given is not None:
        if "*" in given or kind in given:
            return
        given.add(kind)
    warnings.warn(message, UserWarning, stacklevel=caller_stacklevel())


def _is_inside(filename, folders):
    """Whether ``filename`` is a file of ``folders`` ("<stdin>", "<string>": never)."""
    return not filename.startswith("<") and os.path.abspath(filename).startswith(folders)


# the blocks of ``no_loading_bars`` under way (threads: a model loading, a
# tuning), and the settings the first one found
_BARS_LOCK = Lock()
_BARS_OFF, _BARS_SAVED = [], [True, False]


@contextlib.contextmanager
def no_loading_bars():
    """transformers' and huggingface_hub's progress bars off; each restored as it was.

    transformers' ``enable_progress_bar`` turns huggingface_hub's bars on as
    well, which a caller may have turned off on their own. The settings are
    the process's: blocks overlapping in threads (a model loading beside a
    tuning) share one saving, restored when the last ends (each restoring
    its own put the bars back on under the other).
    """
    hf_logging = imported("transformers.utils.logging")  # (not two threads at once)
    from huggingface_hub import utils as hub

    block = object()  # (in _BARS_OFF from its append on: no window for a Ctrl-C)
    try:
        with _BARS_LOCK:  # the first block in saves and turns off; the last out restores
            if not _BARS_OFF:
                _BARS_SAVED[:] = (hf_logging.is_progress_bar_enabled(),
                                  hub.are_progress_bars_disabled())
            _BARS_OFF.append(block)  # (before turning off: one interrupted midway is restored)
            if len(_BARS_OFF) == 1:
                # HF_HUB_DISABLE_PROGRESS_BARS=0 (the user's bars on) has priority, and
                # huggingface_hub says so at every model load, whatever verbose says
                with quiet("Cannot disable progress bars"):
                    hf_logging.disable_progress_bar()
        yield
    finally:
        with _BARS_LOCK:
            counted = block in _BARS_OFF
            if counted:
                _BARS_OFF.remove(block)
            if counted and not _BARS_OFF:
                bars, hub_off = _BARS_SAVED
                if bars:
                    hf_logging.enable_progress_bar()
                if hub.are_progress_bars_disabled() != hub_off:
                    hub.disable_progress_bars() if hub_off else hub.enable_progress_bars()


class Stages:
    """A progress bar over the named stages of long work (tqdm, after two seconds).

    ``stages("name")`` marks the end of the previous stage and the start of
    ``name`` (shown beside the bar); ``stages.close()`` ends the last one.
    Nothing is shown with ``verbose`` falsy or when everything takes less
    than two seconds: the bar is made only then (a bar made at once but
    held back by tqdm's delay was drawn by any ``tqdm.write`` meanwhile, a
    log line through tqdm's logging redirect included, and tqdm's close,
    counting it as never shown, left it on the screen).
    """

    def __init__(self, total, verbose, desc):
        self.total, self.desc = total, desc
        self.done, self.name, self.started = 0, None, False
        self.bar, self.start = None, None
        self.active = bool(verbose) and _tqdm() is not None
        self.lock = threading.Lock()
        self.timer = None
        if self.active:  # (silenced, no clock is read)
            self.start = time.monotonic()
            # a long stage (a model loading) shows the bar while it runs
            self.timer = threading.Timer(DELAY, self._show)
            self.timer.daemon = True
            self.timer.start()

    def _show(self):
        with self.lock:
            if self.active and self.bar is None:
                # leave=False: a grid search's many fits do not leave a bar each
                # no time-remaining estimate: stages differ a hundredfold in length
                self.bar = _started(_tqdm()(total=self.total, desc=self.desc, unit="stage",
                                            leave=False, bar_format=STAGE_BAR),
                                    self.start, self.done)
                if self.name is not None:
                    self.bar.set_postfix_str(self.name)

    def __call__(self, name):
        if not self.active:
            return
        with self.lock:
            step = 1 if self.started else 0
            self.done += step
            # a stage more than planned (the learned blend's second holdout)
            # stretches the bar rather than run past its end
            self.total = max(self.total, self.done + 1)
            self.started, self.name = True, name
            if self.bar is not None:  # (the count and the next stage's name in one drawing)
                self.bar.total = max(self.bar.total, self.total)
                self.bar.set_postfix_str(name, refresh=False)
                self.bar.update(step)
                self.bar.refresh()

    def write(self, message):
        """Print ``message`` above the bar (nothing when silenced)."""
        note(message, self.active)

    def close(self):
        if self.timer is not None:
            self.timer.cancel()
        with self.lock:
            self.active = False
            if self.bar is not None:
                self.bar.update(max(self.bar.total - self.bar.n, 0))  # stages a memo skipped
                self.bar.close()
                self.bar = None


def _started(bar, start, done):
    """``bar``, made ``DELAY`` seconds into the work, ``done`` items of it done: its
    time and rate from ``start`` (a ``time.monotonic()``), not from when it appeared.
    A bar tqdm disabled (``TQDM_DISABLE=1``) has no clock: as it is."""
    if getattr(bar, "disable", False):
        return bar
    bar.start_t -= time.monotonic() - start
    bar.last_print_t = bar.start_t  # (the rate of the first drawing: since the start)
    bar.update(done)
    bar.refresh()
    return bar


def note(message, verbose):
    """Print ``message`` through tqdm (above any bar that shows), if ``verbose``."""
    if verbose and _tqdm() is not None:
        _tqdm().write(message)


def _tqdm():
    """tqdm's class for this environment (notebook or terminal), or None without
    tqdm or without ``sys.stderr`` (where a terminal's bar draws)."""
    if sys.stderr is None:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with transformers
        return None
    return tqdm
