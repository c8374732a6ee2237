"""The Python blocks of docs/*.md run as written (tests/test_readme.py does it for the README).

Each block is executed as a user copies it, in a namespace holding only what
its page's prose says to fill in (the interactions, the texts, a Spark
session). Where a block would be too slow for the suite, the test rewrites
one literal of it (the default MiniLM for a tiny random BERT, 200 tuning
steps for 2, a cluster path for pytest's own) and asserts that the literal is
there, so that an edit of the block fails here until its runner is updated.
A new block without a runner fails ``test_every_python_block_has_a_runner``.
"""

import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ._data import topic_catalog, topic_interactions
from ._tiny import tiny_model_path

ROOT = Path(__file__).resolve().parents[1]


def _blocks(page):
    text = (ROOT / "docs" / page).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def _rewrite(code, replacements):
    for old, new in replacements.items():
        assert old in code, f"the block no longer holds {old!r}: update its runner"
        code = code.replace(old, new)
    return code


@pytest.fixture(scope="module")
def topic_data():
    item_texts, topics = topic_catalog()
    X = topic_interactions(topics)
    user_texts = pd.Series({u: f"a reader of {topics[X.item_id[X.user_id == u].iloc[0]]}"
                            for u in X.user_id.unique()})
    return X, item_texts, user_texts


def _tiny_encoder(**kwargs):
    return f"TextEncoder({tiny_model_path()!r}, verbose=0, " + ", ".join(
        f"{k}={v!r}" for k, v in kwargs.items()) + ")"


# runners, one per block, in page order --------------------------------------------

RUNNERS = {"blend.md": 3, "fine_tuning.md": 1, "scale.md": 5}


def test_every_python_block_has_a_runner():
    pages = {path.name: len(_blocks(path.name)) for path in sorted((ROOT / "docs").glob("*.md"))}
    assert {page: n for page, n in pages.items() if n} == RUNNERS


def test_blend_constructor_block_is_the_signature():
    from sklearn_zsrec import HybridRecommender

    block = _blocks("blend.md")[0]
    signature = str(inspect.signature(HybridRecommender)).replace("'", '"')
    assert " ".join(block.split()) == " ".join(f"HybridRecommender{signature}".split())


def test_blend_default_members_block_is_default_members():
    import sklearn_zsrec
    from sklearn.base import clone

    shown = eval(_blocks("blend.md")[1], vars(sklearn_zsrec))
    made = sklearn_zsrec.HybridRecommender.default_members()
    assert [name for name, _ in shown] == [name for name, _ in made]
    for (_, a), (_, b) in zip(shown, made):
        assert type(a) is type(b) and clone(a).get_params() == clone(b).get_params()


def test_blend_fixed_weights_search_block(topic_data):
    from sklearn.model_selection import GridSearchCV
    from sklearn_zsrec import HybridRecommender, TextEncoder, ZeroShotRecommender
    from sklearn_zsrec.model_selection import LeaveLastOut

    X, item_texts, _ = topic_data
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=item_texts)
    ns = {"text": text, "HybridRecommender": HybridRecommender, "GridSearchCV": GridSearchCV,
          "LeaveLastOut": LeaveLastOut}
    exec(_blocks("blend.md")[2], ns)
    search = ns["search"].set_params(estimator__verbose=0).fit(X)
    assert len(search.cv_results_["params"]) == 9
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    ns["hybrid"].set_params(verbose=0).fit(X)  # the block's own weights, which the grid replaces


def test_fine_tuning_block(topic_data, tmp_path, monkeypatch):
    pytest.importorskip("peft", reason="method='lora' needs peft (the [tune] extra)")
    monkeypatch.setenv("SKLEARN_ZSREC_CACHE", str(tmp_path))
    X, item_texts, user_texts = topic_data
    code = _rewrite(_blocks("fine_tuning.md")[0], {
        "ContrastiveFineTuning()": "ContrastiveFineTuning(n_steps=2, verbose=0)",
        "TextEncoder()": _tiny_encoder(),
        "random_state=0)": "random_state=0, verbose=0)"})
    ns = {"item_texts": item_texts, "user_texts": user_texts, "interactions": X}
    exec(code, ns)
    hybrid = ns["hybrid"]
    assert hybrid.recommend(X.user_id.unique()[:3], n=5).shape == (3, 5)
    assert list(tmp_path.joinpath("fine-tuned").iterdir())  # tuned once, saved under location


# scale.md: real engines (conftest's spark), as tests/test_distributed.py runs them --------------------

def test_scale_spark_als_and_approximate_blocks(spark, topic_data):
    pytest.importorskip("faiss", reason="approximate=True needs faiss (the [ann] extra)")
    X, _, _ = topic_data
    users = list(X.user_id.unique()[:3])
    ns = {"interactions": X, "users": users}
    exec(_blocks("scale.md")[0], ns)
    exec(_blocks("scale.md")[1], ns)
    als = ns["als"]
    assert als.recommend(users, n=10).shape == (3, 10)
    from sklearn_zsrec import approximate_recall

    assert 0 <= approximate_recall(als, n=10, sample=1000) <= 1


@pytest.fixture(scope="module")
def dask_search(topic_data, tmp_path_factory):
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    X, item_texts, _ = topic_data
    code = _rewrite(_blocks("scale.md")[2], {
        'TextEncoder(memory="/shared/zsrec-cache", verbose=0)':
            _tiny_encoder(memory=str(tmp_path_factory.mktemp("shared"))),
        "random_state=0)\n": "random_state=0, verbose=0)\n"})
    ns = {"item_texts": item_texts, "interactions": X}
    exec(code, ns)
    cluster = ns["client"].cluster
    ns["client"].close()
    cluster.close()
    return ns


def test_scale_dask_block_matches_loky(dask_search, topic_data):
    from sklearn.base import clone

    X, _, _ = topic_data
    search = dask_search["search"]
    loky = clone(search).set_params(n_jobs=1).fit(X)
    assert search.best_params_ == loky.best_params_
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               loky.cv_results_["mean_test_score"], rtol=1e-6)


@pytest.mark.filterwarnings("ignore:Spark local mode:UserWarning",
                            "ignore:Spark session is not provided:UserWarning",
                            "ignore:`apply_async` is deprecated:DeprecationWarning")
def test_scale_joblibspark_block(spark, dask_search, topic_data):
    pytest.importorskip("joblibspark", reason="joblibspark is not installed")
    from sklearn.base import clone

    X, _, _ = topic_data
    ns = {"joblib": dask_search["joblib"], "search": clone(dask_search["search"]),
          "interactions": X}
    exec(_blocks("scale.md")[3], ns)
    assert ns["search"].best_params_ == dask_search["search"].best_params_


def test_scale_spark_udf_block(spark, topic_data, tmp_path):
    pytest.importorskip("pyarrow", reason="Spark's pandas_udf needs pyarrow")
    _, item_texts, _ = topic_data
    pd.DataFrame({"item_id": item_texts.index, "text": item_texts.values}).to_parquet(
        tmp_path / "items.parquet")
    code = _rewrite(_blocks("scale.md")[4], {  # Spark reads paths from the JVM's directory
        'TextEncoder(memory="/shared/zsrec-cache", verbose=0)':
            _tiny_encoder(memory=str(tmp_path / "shared")),
        '"items.parquet"': repr(str(tmp_path / "items.parquet")),
        '"item_embeddings.parquet"': repr(str(tmp_path / "item_embeddings.parquet"))})
    ns = {"spark": spark}
    exec(code, ns)
    assert (tmp_path / "item_embeddings.parquet").exists()
    from sklearn_zsrec import TextEncoder, embedding_cache_info

    before = embedding_cache_info().misses
    TextEncoder(tiny_model_path(), memory=str(tmp_path / "shared"), verbose=0).fit().transform(
        list(item_texts))
    assert embedding_cache_info().misses == before  # every text served from what it stored
