"""Test-wide settings: nothing in the test suite may reach the network or the user's cache."""

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

try:  # hypothesis's profile, before any test module builds its settings
    from tests import _hypothesis  # noqa: F401
except ImportError:  # hypothesis not installed: only the doctests can run
    pass


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Tuned models of the tests and doctests go to pytest's own temporary directory.

    Not to ``~/.cache/sklearn_zsrec``: a tuned model's key holds its base
    model's path, which differs per checkout, so every clean-clone run would
    leave another ~90 MB there (pytest keeps its last three runs' directories).
    """
    patch = pytest.MonkeyPatch()
    patch.setenv("SKLEARN_ZSREC_CACHE", str(tmp_path_factory.mktemp("zsrec-cache")))
    yield
    patch.undo()
