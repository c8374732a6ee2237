"""The benchmark's collaborative-filtering baselines (benchmarks/_baselines.py)."""

import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils import Bunch

from benchmarks._baselines import BPR, ImplicitALS, ItemKNN, LightFM, genre_title_features
from sklearn_zsrec import ALSRecommender
from sklearn_zsrec.model_selection import LeaveLastOut

from ._data import topic_catalog, topic_interactions

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS)
USERS = X.user_id.unique()
USER_TOPIC = X.groupby("user_id").item_id.first().map(TOPICS)
needs_lightfm = pytest.mark.skipif(
    __import__("importlib").util.find_spec("lightfm") is None,
    reason="lightfm not installed (python benchmarks/install_lightfm.py)",
)

MODELS = [
    ItemKNN("cosine", K=20),
    ItemKNN("bm25", K=20),
    BPR(factors=8, learning_rate=0.05, iterations=100),
    ImplicitALS(factors=8, regularization=1.0, alpha=5.0, iterations=10),
    pytest.param(LightFM(no_components=8, epochs=30, num_threads=1), marks=needs_lightfm),
]


def _name(model):
    return type(model).__name__ + getattr(model, "similarity", "")


def _topic_hits(model, n=3):
    """Share of each user's top-n that is of the user's topic."""
    top = model.recommend(USERS, n=n)
    return np.mean(TOPICS[top.ravel()].to_numpy().reshape(top.shape) == USER_TOPIC[USERS].to_numpy()[:, None])


@pytest.mark.parametrize("model", MODELS, ids=_name)
def test_fit_recommend_excludes_seen_and_clones(model):
    fitted = clone(model).fit(X)
    ids, scores = fitted.recommend(USERS, n=4, return_scores=True)
    assert ids.shape == scores.shape == (len(USERS), 4)
    assert np.all(np.diff(scores, axis=1) <= 0)
    for user, row in zip(USERS, ids):
        assert not set(X.loc[X.user_id == user, "item_id"]) & set(row)
    assert clone(fitted).get_params() == model.get_params()
    assert not hasattr(clone(fitted), "user_items_")


@pytest.mark.parametrize("model", MODELS, ids=_name)
def test_grid_search_with_leave_last_out(model):
    grid = {
        ItemKNN: {"K": [5, 20]},
        BPR: {"factors": [4, 8]},
        ImplicitALS: {"regularization": [0.01, 1.0]},
        LightFM: {"no_components": [4, 8]},
    }[type(model)]
    X6 = topic_interactions(TOPICS, per_user=6)
    search = GridSearchCV(model, grid, cv=LeaveLastOut(n_splits=1)).fit(X6)
    assert len(search.cv_results_["params"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.recommend(["u0"], n=3).shape == (1, 3)


@pytest.mark.parametrize("model", MODELS[2:], ids=_name)
def test_factor_models_recover_topic_blocks(model):
    assert _topic_hits(clone(model).fit(X)) >= 0.95


@pytest.mark.parametrize("similarity", ["cosine", "bm25"])
def test_item_knn_recovers_topic_blocks(similarity):
    assert _topic_hits(ItemKNN(similarity, K=20).fit(X)) == 1.0


def test_item_knn_scores_are_user_items_times_cosine_similarity():
    weights = np.random.RandomState(0).randint(1, 4, size=len(X))
    model = ItemKNN("cosine", K=1000).fit(X, weights)
    R = model.user_items_.toarray().astype(np.float64)
    unit = R / np.linalg.norm(R, axis=0)
    expected = R @ (unit.T @ unit)
    pairs = pd.DataFrame(
        {"user_id": np.repeat(model.users_, len(model.items_)), "item_id": np.tile(model.items_, len(model.users_))}
    )
    got = model.predict(pairs).reshape(R.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_item_knn_keeps_k_neighbours_per_item():
    model = ItemKNN("bm25", K=3).fit(X)
    assert np.diff(model.similarity_.indptr).max() <= 3
    R = model.user_items_
    np.testing.assert_allclose(model.predict(X), (R @ model.similarity_)[
        model._rows(X.user_id, "user"), model._rows(X.item_id, "item")
    ].A1, rtol=1e-5)


def test_implicit_als_matches_als_recommender():
    params = dict(factors=6, regularization=0.1, alpha=2.0, iterations=5, random_state=3)
    ours = ALSRecommender(**params).fit(X)
    direct = ImplicitALS(**params).fit(X)
    np.testing.assert_allclose(direct.item_factors_, ours.item_factors_, rtol=1e-4, atol=1e-5)


def test_bpr_is_repeatable_with_one_thread():
    a = BPR(factors=4, iterations=5, random_state=1).fit(X)
    b = BPR(factors=4, iterations=5, random_state=1).fit(X)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)


def _topic_features(dense=True):
    onehot = pd.get_dummies(TOPICS, dtype=np.float32)
    return onehot if dense else onehot.astype(pd.SparseDtype(np.float32, 0.0))


@needs_lightfm
@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_lightfm_recommends_an_item_without_interactions_by_its_features(random_state):
    cold = 105  # a "space" item
    X_warm = X[X.item_id != cold]
    model = LightFM(
        no_components=8,
        epochs=50,
        item_features=_topic_features(),
        item_identity=False,
        num_threads=1,
        random_state=random_state,
    ).fit(X_warm)
    assert cold in model.items_ and len(model.items_) == len(TOPICS)
    # for every space fan, the cold item beats every item of another topic
    space_users = USER_TOPIC.index[USER_TOPIC == "space"]
    pairs = pd.DataFrame(
        {"user_id": np.repeat(space_users, len(TOPICS)), "item_id": np.tile(TOPICS.index, len(space_users))}
    )
    scores = pd.DataFrame(model.predict(pairs).reshape(len(space_users), -1), columns=TOPICS.index)
    others = TOPICS.index[TOPICS != "space"]
    assert (scores[cold] > scores[others].max(axis=1)).all()
    # at most 6 space items are unseen by a space fan
    assert (model.recommend(space_users, n=6) == cold).any(axis=1).all()
    assert _topic_hits(model) >= 0.95


@needs_lightfm
def test_lightfm_with_item_identity_scores_the_whole_catalog():
    # The cold item's identity embedding stays random: it is scored and can be
    # recommended, but not reliably (item_identity=False is the cold-start setting).
    cold = 105
    model = LightFM(no_components=8, epochs=10, item_features=_topic_features(), num_threads=1)
    model.fit(X[X.item_id != cold])
    assert len(model.items_) == len(TOPICS) and model.item_embeddings_.shape == (len(TOPICS), 8)
    top = model.recommend(USERS, n=len(TOPICS) - 5)  # every unseen item
    assert (top == cold).any(axis=1).all()


@needs_lightfm
def test_lightfm_feature_formats_agree():
    dense = _topic_features()
    forms = [
        dense,
        _topic_features(dense=False),
        pd.Series(list(dense.to_numpy()), index=dense.index),
        (dense.index.to_numpy(), sp.csr_matrix(dense.to_numpy())),
        dense.iloc[::-1],  # any row order
    ]
    matrices = [LightFM(epochs=1, item_features=f).fit(X).item_feature_matrix_.toarray() for f in forms]
    for m in matrices[1:]:
        np.testing.assert_array_equal(m, matrices[0])
    # identity then features, each row summing to one
    assert matrices[0].shape == (len(TOPICS), len(TOPICS) + dense.shape[1])
    np.testing.assert_allclose(matrices[0].sum(axis=1), 1.0, rtol=1e-6)


@needs_lightfm
def test_lightfm_rejects_training_items_outside_the_catalog():
    features = _topic_features().drop(index=[100])
    with pytest.raises(ValueError, match="not in the catalog"):
        LightFM(epochs=1, item_features=features).fit(X)


def test_lightfm_without_the_package_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightfm", None)  # makes `import lightfm` fail
    with pytest.raises(ImportError, match="install_lightfm.py"):
        LightFM().fit(X)


def test_genre_title_features():
    movies = pd.DataFrame(
        {
            "item_id": [3, 1, 2],
            "title": ["Star Wars", "Star Trek", None],
            "genres": ["Action|Sci-Fi", "Sci-Fi", ""],
        }
    )
    features = genre_title_features(Bunch(movies=movies))
    assert list(features.index) == [3, 1, 2]
    assert list(features.columns) == ["genre=Action", "genre=Sci-Fi", "title=star"]
    np.testing.assert_array_equal(features.sparse.to_dense().to_numpy(), [[1, 1, 1], [0, 1, 1], [0, 0, 0]])
