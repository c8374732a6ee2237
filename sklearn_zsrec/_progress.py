"""Progress bars for long work, silenced by ``verbose=0``."""

import contextlib
import os
import sys
import threading
import warnings

DELAY = 2.0  # seconds before a bar appears: quick work shows nothing


def progress(iterable, verbose, **kwargs):
    """Wrap ``iterable`` in a tqdm bar that appears after ``DELAY`` seconds.

    No bar when ``verbose`` is falsy or tqdm is not installed.
    """
    if not verbose:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with transformers
        return iterable
    return tqdm(iterable, delay=DELAY, **kwargs)


def caller_stacklevel():
    """``stacklevel`` for a warning issued by the caller of this function that
    names the first frame outside this package and scikit-learn (the user's
    ``fit``, whatever the path: a recommender alone, in a hybrid, in a search)."""
    import sklearn

    inside = (os.path.dirname(os.path.abspath(__file__)),
              os.path.dirname(os.path.abspath(sklearn.__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(inside):
        frame, level = frame.f_back, level + 1
    return level


@contextlib.contextmanager
def no_loading_bars():
    """transformers' and huggingface_hub's progress bars off; each restored as it was.

    transformers' ``enable_progress_bar`` turns huggingface_hub's bars on as
    well, which a caller may have turned off on their own.
    """
    from huggingface_hub import utils as hub
    from transformers.utils import logging as hf_logging

    bars, hub_off = hf_logging.is_progress_bar_enabled(), hub.are_progress_bars_disabled()
    with warnings.catch_warnings():
        # HF_HUB_DISABLE_PROGRESS_BARS=0 (the user's bars on) has priority, and
        # huggingface_hub says so at every model load, whatever verbose says
        warnings.filterwarnings("ignore", message="Cannot disable progress bars")
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        if hub.are_progress_bars_disabled() != hub_off:
            hub.disable_progress_bars() if hub_off else hub.enable_progress_bars()


class Stages:
    """A progress bar over the named stages of long work (tqdm, after two seconds).

    ``stages("name")`` marks the end of the previous stage and the start of
    ``name`` (shown beside the bar); ``stages.close()`` ends the last one.
    Nothing is shown with ``verbose`` falsy or when everything takes less
    than two seconds.
    """

    def __init__(self, total, verbose, desc):
        # leave=False: a grid search's many fits do not leave a bar each
        self.bar = progress(None, verbose, total=total, desc=desc, unit="stage", leave=False)
        self.started = self.shown = self.drawn = False
        self.lock = threading.Lock()
        self.timer = None
        if self.bar is not None:
            # tqdm shows a delayed bar only when it is updated: a long stage
            # (a model loading) would show nothing until it ends
            self.timer = threading.Timer(DELAY, self._show)
            self.timer.daemon = True
            self.timer.start()

    def _show(self):
        with self.lock:
            if self.bar is not None:
                self.shown = self.drawn = True
                self.bar.refresh()

    def __call__(self, name):
        if self.bar is None:
            return
        with self.lock:
            if self.started:
                self.bar.update(1)
            self.started = True
            # shown at once only once the bar is up: a refresh skips the delay
            self.bar.set_postfix_str(name, refresh=self.shown)

    def write(self, message):
        """Print ``message`` above the bar (nothing when silenced)."""
        if self.bar is not None:
            with self.lock:
                self.drawn = True  # tqdm redraws the bar below, in its delay too
                self.bar.write(message)

    def close(self):
        if self.timer is not None:
            self.timer.cancel()
        with self.lock:
            if self.bar is not None:
                self.bar.update(max(self.bar.total - self.bar.n, 0))  # stages a memo skipped
                if self.drawn:
                    # tqdm's close clears only a bar it drew after its delay
                    self.bar.clear()
                self.bar.close()
                self.bar = None
