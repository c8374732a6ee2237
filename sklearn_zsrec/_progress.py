"""Progress bars for long work, silenced by ``verbose=0``."""


def progress(iterable, verbose, **kwargs):
    """Wrap ``iterable`` in a tqdm bar that appears after two seconds.

    No bar when ``verbose`` is falsy or tqdm is not installed.
    """
    if not verbose:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with transformers
        return iterable
    return tqdm(iterable, delay=2.0, **kwargs)
