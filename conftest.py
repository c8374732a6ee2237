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


@pytest.fixture(scope="module")
def spark():
    """A Spark ``local[2]`` session for a test module; skipped without pyspark or Java."""
    import shutil
    import sys

    pytest.importorskip("pyspark", reason="pyspark is not installed (the [spark] extra)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (17 or later): no java on PATH and no JAVA_HOME")
    from pyspark.sql import SparkSession

    saved = os.environ.get("PYSPARK_PYTHON")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # else python3 from PATH
    session = (
        SparkSession.builder.master("local[2]")
        .appName("sklearn-zsrec-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if saved is None:
        os.environ.pop("PYSPARK_PYTHON", None)
