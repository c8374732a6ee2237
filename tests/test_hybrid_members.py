"""Members of one's own that know part of the catalog or of the users, or score in float64.

Each test here failed before: the hybrid read the missing items' filler (0)
as a score, cast float64 scores to float32 before centring them, raised an
error blaming the member for users it lacks, and accepted a member without
``get_params`` until deep inside ``fit``. The last test is about the
exposure of new items under a strongly regularised learned blend.
"""

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import make_pipeline

from sklearn_zsrec import (ALSRecommender, BaseRecommender, HybridRecommender, TextEncoder,
                           ZeroShotRecommender)
from sklearn_zsrec._hybrid._members import subset

from ._data import topic_catalog, topic_interactions
from ._tiny import tiny_model_path

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)


def _text(texts=ITEM_TEXTS):
    return ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)


def _alone(member, data=X, **params):
    """A hybrid that ranks by ``member`` alone (the fixed blend, its weight only)."""
    return HybridRecommender(_text(), [("m", member)], blend="fixed", weights={"m": 1.0},
                             verbose=0, **params).fit(data)


class EvenItemsLogProb(BaseRecommender):
    """Popularity as a log-probability (all scores < 0), fitted on the even item ids only."""

    def _fit(self, data):
        self._index(subset(data, np.asarray(data.item_id) % 2 == 0))
        counts = self.n_item_interactions_ + 1.0
        self.log_p_ = np.log(counts / counts.sum()).astype(np.float32)
        return self

    def _scores(self, rows, users):
        return np.tile(self.log_p_, (len(rows), 1))


class BigOffset(BaseEstimator):
    """Popularity plus 1e9, in float64: the ranking lives in the last digits."""

    def fit(self, X, y=None):
        self.users_ = np.sort(X.user_id.unique())
        counts = X.item_id.value_counts()
        self.items_ = np.sort(counts.index.to_numpy())
        self.scores_ = 1e9 + counts.reindex(self.items_).to_numpy(dtype=np.float64)
        return self

    def score_items(self, users):
        return np.tile(self.scores_, (len(users), 1))


class FrequentUsers(BaseRecommender):
    """Item popularity, for some users only (those whose id ends with an even digit:
    every user of X has 6 interactions, so "at least 7" had none)."""

    def _fit(self, data):
        users = pd.Series(data.user_id).astype(str)
        self._index(subset(data, users.str[-1].isin(list("02468")).to_numpy()))
        self.pop_ = self.n_item_interactions_.astype(np.float32)
        return self

    def _scores(self, rows, users):
        return np.tile(self.pop_, (len(rows), 1))


def test_a_member_that_knows_part_of_the_catalog_ranks_only_what_it_knows():
    # its scores are all negative: the 0 written for the items it lacks
    # ranked those first
    model = _alone(EvenItemsLogProb())
    user = model.users_[0]
    own = model.named_members_.m.recommend(user, n=5, exclude_seen=False)
    np.testing.assert_array_equal(model.recommend(user, n=5, exclude_seen=False), own)


def test_float64_scores_keep_their_ranking():
    model = _alone(BigOffset())
    user = model.users_[0]
    member = model.named_members_.m
    expected = member.items_[np.argsort(-member.scores_, kind="stable")[:5]]
    top = model.recommend(user, n=5, exclude_seen=False)
    assert np.unique(model.score_items(user)).size > 2  # not collapsed to one value
    np.testing.assert_array_equal(np.sort(top), np.sort(expected))


@pytest.mark.parametrize("blend", ["fixed", "learned"])
def test_users_a_member_lacks_are_scored_without_it(blend):
    # the member's users_ are a subset: it raised "... were not seen in fit",
    # naming the member as if the user had called it
    params = {"weights": {"m": 1.0, "text": 1.0}} if blend == "fixed" else {}
    model = HybridRecommender(_text(), [("m", FrequentUsers())], blend=blend, verbose=0,
                              random_state=0, **params).fit(X)
    member = model.named_members_.m
    lacking = np.setdiff1d(model.users_, member.users_)
    assert len(lacking)
    assert model.recommend(lacking, n=3).shape == (len(lacking), 3)
    terms = model.explain(lacking[0], n=3)
    assert not (terms["source"] == "m").any()  # no contribution of the member


def test_a_member_without_get_params_is_named_at_once():
    class Plain:
        def fit(self, X, y=None):
            return self

        def score_items(self, users):
            return None

    with pytest.raises(ValueError, match=r"member 'm' \(Plain\) has no get_params; a member "):
        HybridRecommender(_text(), [("m", Plain())]).fit(X)
    # a Pipeline has fit and get_params: the message names what it lacks
    with pytest.raises(ValueError, match=r"member 'm' \(Pipeline\) has no score_items; "):
        HybridRecommender(_text(), [("m", make_pipeline(ALSRecommender()))]).fit(X)


def test_a_frozen_member_is_refused_naming_the_unfitted_recommender():
    # scikit-learn's FrozenEstimator (its way to put a fitted model in a
    # meta-estimator) clones to itself: the hybrid's fit on its holdout, and
    # then on X, crashed in FrozenEstimator.fit with "missing ... 'y'"
    frozen = pytest.importorskip("sklearn.frozen").FrozenEstimator
    fitted = ALSRecommender(factors=2, iterations=1, random_state=0).fit(X)
    for blend in ("learned", "fixed"):
        hybrid = HybridRecommender(_text(), [("als", frozen(fitted))], blend=blend, verbose=0)
        with pytest.raises(ValueError, match=r"member 'als' \(FrozenEstimator\) cannot be "
                                             r"refitted .* unfitted, e.g. \('als', "
                                             r"ALSRecommender\(\)\)"):
            hybrid.fit(X)
    # the text model too (it crashed alike)
    text = frozen(_text().fit(X))
    with pytest.raises(ValueError, match=r"text \(FrozenEstimator\) cannot be refitted .* "
                                         r"e.g. ZeroShotRecommender\(TextEncoder\(\)"):
        HybridRecommender(text, [("als", ALSRecommender())], verbose=0).fit(X)


def test_new_items_keep_their_share_under_a_strongly_regularised_blend():
    # C=1e-5 shrinks the scores to ~1e-3: the users' margins fell within the
    # absolute tolerance of the extra slot's cut, and nobody got it
    texts, topics = topic_catalog(items_per_topic=15)
    data = topic_interactions(topics, users_per_topic=25, per_user=8)
    cold = texts.index[::7]
    data = data[~data.item_id.isin(cold)].reset_index(drop=True)
    users = data.user_id.unique()
    for C in (1.0, 1e-5):
        model = HybridRecommender(_text(texts), C=C, random_state=0, verbose=0).fit(data)
        share = np.isin(model.recommend(users), cold).mean()
        assert abs(share - model.new_item_share_) < 0.01, (C, share, model.new_item_share_)


@pytest.mark.parametrize("blend", ["learned", "fixed"])
def test_a_memory_mapped_hybrid_gives_torch_no_read_only_array(blend, tmp_path, monkeypatch):
    # joblib.load(mmap_mode="r") makes every fitted array read-only; torch
    # warns once per process (an error under -W error in a fresh serving
    # process) when given one directly: a spy on our own calls, failing on
    # any read-only array that does not go through _tensor's filter
    import joblib
    import torch
    from sklearn_zsrec import ALSRecommender, ItemKNNRecommender, NextItemRecommender

    members = [("cf", ALSRecommender(factors=4, iterations=3, random_state=0)),
               ("knn", ItemKNNRecommender()), ("next", NextItemRecommender())]
    cold = X.item_id.unique()[::7]  # items of the catalog without interactions
    model = HybridRecommender(_text(), members, blend=blend, random_state=0, verbose=0).fit(
        X[~X.item_id.isin(cold)])
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    real, bare = torch.from_numpy, []

    def spy(array):
        caller = sys._getframe(1).f_code.co_name
        if not array.flags.writeable and caller != "_tensor":
            bare.append(caller)
        return real(array)

    monkeypatch.setattr(torch, "from_numpy", spy)
    users = model.users_[:5]
    np.testing.assert_array_equal(loaded.recommend(users), model.recommend(users))
    assert not bare  # _put_columns gave torch the members' catalog columns directly


@pytest.mark.parametrize("where", ["named_members_.knn", "named_members_.cf", "text_"])
def test_a_member_fitted_again_after_the_hybrids_fit_raises(where, tmp_path):
    # the blend keeps what it derived from the fits (factors, catalog columns,
    # each user's score statistics): with a member refitted in place it mixed
    # two fits (scores off by up to 19), or crashed with a tensor size error
    import joblib
    from sklearn_zsrec import ALSRecommender, ItemKNNRecommender, NextItemRecommender

    members = [("cf", ALSRecommender(factors=4, iterations=3, random_state=0)),
               ("knn", ItemKNNRecommender()), ("next", NextItemRecommender())]
    model = HybridRecommender(_text(), members, random_state=0, verbose=0).fit(X)
    users = model.users_[:5]
    # no false alarm after a round trip through pickle or joblib (memory-mapped)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    np.testing.assert_array_equal(loaded.recommend(users), model.recommend(users))
    member = model
    for attribute in where.split("."):
        member = getattr(member, attribute)
    other = X.assign(weight=np.arange(len(X)) % 3 + 1.0)
    member.fit(other.iloc[: len(other) * 3 // 4])
    with pytest.raises(ValueError, match=rf"{where} \(.*\) was fitted again .*after the hybrid's fit"):
        model.recommend(users)
    with pytest.raises(ValueError, match="Fit the hybrid again"):
        model.explain(users[0])
    model.fit(X)  # and a refit of the hybrid is fine
    model.recommend(users)


@pytest.mark.parametrize("params", [
    {"knn__n_neighbors": -1},  # crashed the process (implicit with K=0)
    {"knn__similarity": "jaccard"},  # was cosine without a word
    {"knn__half_life": -2.0},  # reversed the recency weighting
    {"cf__factors": 0},
    {"text__half_life": -1.0},
    {"text__encoder__pooling": "avg"},  # was last-token pooling
])
def test_members_parameters_are_validated_inside_the_hybrid(params):
    # fitted alone, each raised; inside the hybrid (or the text member) the
    # outer fit skipped its members' validation, so invalid values were used
    from sklearn.utils._param_validation import InvalidParameterError

    from sklearn_zsrec import ALSRecommender, ItemKNNRecommender

    hybrid = HybridRecommender(_text(), [("cf", ALSRecommender(factors=4, iterations=2,
                                                                random_state=0)),
                                         ("knn", ItemKNNRecommender())], verbose=0)
    name = next(iter(params)).split("__")[-1]
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter"):
        hybrid.set_params(**params).fit(X)


def test_a_member_set_to_drop_is_left_out():
    # as in scikit-learn's ensembles: GridSearchCV can ask whether a member
    # helps (it raised "member 'knn' (str) has no fit")
    from sklearn.model_selection import GridSearchCV

    from sklearn_zsrec import ALSRecommender, ItemKNNRecommender
    from sklearn_zsrec.model_selection import LeaveLastOut

    als = ALSRecommender(factors=4, iterations=2, random_state=0)
    both = HybridRecommender(_text(), [("cf", als), ("knn", ItemKNNRecommender())],
                             blend="fixed", weights={"text": 1.0, "cf": 1.0, "knn": 1.0},
                             verbose=0)
    dropped = clone(both).set_params(knn="drop").fit(X)
    alone = HybridRecommender(_text(), [("cf", als)], blend="fixed",
                              weights={"text": 1.0, "cf": 1.0}, verbose=0).fit(X)
    assert list(dropped.named_members_) == ["cf"]
    users = X.user_id.unique()[:5]
    np.testing.assert_array_equal(dropped.recommend(users), alone.recommend(users))
    search = GridSearchCV(both, {"knn": ["drop", ItemKNNRecommender()]}, cv=LeaveLastOut()).fit(X)
    assert len(search.cv_results_["params"]) == 2
    with pytest.raises(ValueError, match="every member is 'drop'"):
        clone(both).set_params(knn="drop", cf="drop").fit(X)
    with pytest.raises(ValueError, match="every weight is 0 or a dropped member's"):
        clone(both).set_params(knn="drop", weights={"knn": 1.0}).fit(X)
    with pytest.raises(ValueError, match="has no fit, .* or 'drop' to leave it out"):
        clone(both).set_params(knn="passthrough").fit(X)


@pytest.mark.parametrize("n_items", [90, 13, 16])
def test_equal_counts_give_popularity_no_say(n_items):
    # every item with interactions picked once (unique listings): the
    # popularity term's z-score was +1 (90 items) or -1 (13 items) from
    # float32 rounding of the mean, moving every such item against the items
    # without interactions (75 of 90 top-10s changed by adding popularity)
    texts = pd.Series({i: f"item {i} about topic {i % 5}" for i in range(n_items + 10)})
    rows = pd.DataFrame({"user_id": np.arange(n_items), "item_id": np.arange(n_items)})
    from sklearn_zsrec import ALSRecommender

    tops = []
    for weights in ({"text": 1.0}, {"text": 1.0, "popularity": 1.0}):
        hybrid = HybridRecommender(_text(texts), [("als", ALSRecommender(factors=4, random_state=0))],
                                   blend="fixed", weights=weights, verbose=0).fit(rows)
        tops.append(hybrid.recommend(hybrid.users_, 10))
    np.testing.assert_array_equal(tops[0], tops[1])
    explained = hybrid.explain(hybrid.users_[0], items=[1, 2, n_items + 3])
    assert (explained[explained.source == "popularity"].contribution == 0).all()


@pytest.mark.parametrize("impressions", [False, True])
def test_items_a_factor_member_lacks_get_z_score_0_as_for_other_members(impressions):
    # a factor member's missing items had zero factors, so a raw score of 0:
    # their z-score was -mean/std, not the 0 that members without factors
    # (and docs/blend.md) give them. With impressions, the member knows items
    # nobody picked (their factors 0): the fill is the mean of the items with
    # interactions it knows, not of those too (a mutation hunt)
    from sklearn_zsrec import ALSRecommender

    data = X
    if impressions:
        unpicked = X.item_id.unique()[X.item_id.unique() % 2 == 0][::3][:8]
        data = X[~X.item_id.isin(unpicked)].assign(weight=1.0)
        shown = pd.DataFrame({"user_id": data.user_id.unique()[:len(unpicked)],
                              "item_id": unpicked, "weight": 0.0,
                              "timestamp": data.timestamp.max() + 1})
        data = pd.concat([data, shown], ignore_index=True)

    class EvenItemsALS(ALSRecommender):  # a filter of its own: the even item ids only
        def _fit(self, data):
            return super()._fit(subset(data, np.asarray(data.item_id) % 2 == 0))

    class ScoresOnly(BaseEstimator):  # the same member seen through score_items only
        def __init__(self, inner=None):
            self.inner = inner

        def fit(self, X, y=None):
            self.m_ = clone(self.inner).fit(X)
            self.users_, self.items_ = self.m_.users_, self.m_.items_
            return self

        def score_items(self, users):
            return self.m_.score_items(users)

    als = EvenItemsALS(factors=4, iterations=3, random_state=0)
    scores = {}
    for label, member in (("factors", als), ("scores only", ScoresOnly(als))):
        model = _alone(member, data, switch=0, item_switch=0)
        users = model.users_[:20]
        odd = np.isin(model.items_, X.item_id[X.item_id % 2 == 1])
        scores[label] = model.score_items(users)
        np.testing.assert_allclose(scores[label][:, odd], 0.0, atol=1e-5)
    np.testing.assert_allclose(scores["factors"], scores["scores only"], atol=1e-4)


def test_new_items_given_as_tuple_ids_are_declared():
    # a list of tuple ids became a 2-D array, flattened into the tuples' parts:
    # "6 new_items are not in the catalog (e.g. ['shop', 109, ...])"
    texts = pd.Series(ITEM_TEXTS.to_numpy(), index=pd.Index(
        [("shop", int(i)) for i in ITEM_TEXTS.index], dtype=object, tupleize_cols=False))
    kept = X[~X.item_id.isin(ITEM_TEXTS.index[:3])]  # three items without interactions
    rows = kept.assign(item_id=[("shop", int(i)) for i in kept.item_id])
    cold = [("shop", int(i)) for i in ITEM_TEXTS.index[:3]]
    model = HybridRecommender(_text(texts), blend="fixed", new_items=cold, verbose=0).fit(rows)
    declared = model._declared(model.text_)
    assert set(model.items_[declared]) == set(cold)


@pytest.mark.parametrize("blend", ["fixed", "learned"])
def test_a_known_user_whose_interactions_all_weigh_0_is_scored_as_the_text_model_scores_it(
        blend):
    # impressions without a click: the user's text profile is zeros, so the
    # blend's text term was 0 for every item and the fixed blend ranked the
    # catalog in its own order (explain: no contribution)
    rows = X.assign(weight=1.0)
    clicks = pd.DataFrame({"user_id": ["imp", "imp"], "item_id": rows.item_id[:2].to_numpy(),
                           "timestamp": [10**6, 10**6 + 1], "weight": 0.0})
    model = HybridRecommender(_text(), blend=blend, random_state=0, verbose=0).fit(
        pd.concat([rows, clicks], ignore_index=True))
    scores = model.score_items(["imp"])[0]
    assert np.unique(scores).size > 2
    np.testing.assert_array_equal(model.recommend("imp", n=5),
                                  model.text_.recommend("imp", n=5))  # popularity, no text
    explained = model.explain("imp", n=3)
    assert set(explained.source) == {"popularity"}
    np.testing.assert_allclose(explained.groupby("item_id", sort=False).contribution.sum(),
                               explained.groupby("item_id", sort=False).score.first(), atol=1e-6)


def test_a_known_user_whose_interactions_all_weigh_0_is_scored_by_its_text_neighbours():
    rows = X.assign(weight=1.0)
    clicks = pd.DataFrame({"user_id": ["imp", "imp"], "item_id": rows.item_id[:2].to_numpy(),
                           "timestamp": [10**6, 10**6 + 1], "weight": 0.0})
    users = [*rows.user_id.unique(), "imp"]
    texts = pd.Series([f"user of topic {sum(map(ord, str(u))) % 5}" for u in users],
                      index=pd.Index(users, dtype=object))
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS,
                               user_texts=texts)
    model = HybridRecommender(text, random_state=0, verbose=0).fit(
        pd.concat([rows, clicks], ignore_index=True))
    from sklearn_zsrec._hybrid._new_users import TextNeighbours

    seen = []
    parts = TextNeighbours._parts

    def spy(self, emb, sim):  # a spy on our own logic: the similarities it ranks by
        seen.append(sim.copy())
        return parts(self, emb, sim)

    TextNeighbours._parts = spy
    try:
        model.score_items(["imp"])
    finally:
        TextNeighbours._parts = parts
    # not its own neighbour: without items, no one's (every item tied)
    assert "imp" not in set(model.users_[model._new_users.rows_])
    assert seen[-1].shape[1] == len(model._new_users.rows_) == len(rows.user_id.unique())
    # texts of users seen in fit are not read from the call
    np.testing.assert_array_equal(
        model.score_items(["imp"], user_texts={"imp": "something else entirely"}),
        model.score_items(["imp"]))
    explained = model.explain("imp", n=3)
    assert "text neighbours" in set(explained.source)
    np.testing.assert_allclose(explained.groupby("item_id", sort=False).contribution.sum(),
                               explained.groupby("item_id", sort=False).score.first(), atol=1e-5)
    np.testing.assert_allclose(model.score_items(["imp"])[0, model.items_ == explained.item_id[0]],
                               explained.score[0], atol=1e-5)
