import warnings
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from sklearn_zsrec import (
    ALSRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    NextItemRecommender,
    PopularityRecommender,
    TextEncoder,
    ZeroShotRecommender,
)

from sklearn_zsrec import _history

from ._data import topic_catalog, topic_interactions
from ._tiny import tiny_model_path
from ._members import cf_members

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS)


def _models(encoder=None):
    encoder = encoder or TextEncoder(tiny_model_path(), verbose=0)
    text = ZeroShotRecommender(encoder, item_texts=ITEM_TEXTS)
    als = ALSRecommender(factors=8, iterations=10, random_state=0)
    return [PopularityRecommender(), als, text, HybridRecommender(text, cf_members(als), random_state=0)]


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_recommend_excludes_training_items_and_sorts(model):
    model = clone(model).fit(X)
    users = ["u0", "u9", "u20"]
    ids, scores = model.recommend(users, n=7, return_scores=True)
    assert ids.shape == scores.shape == (3, 7)
    assert np.all(np.diff(scores, axis=1) <= 0)
    for user, row in zip(users, ids):
        seen = set(X.loc[X.user_id == user, "item_id"])
        assert not seen & set(row)
        assert len(set(row)) == 7
    # a single id gives a single row (float32 products differ with the batch
    # size in the last digits, so near-ties may swap); predict agrees
    one, one_scores = model.recommend("u9", n=7, return_scores=True)
    np.testing.assert_allclose(one_scores, scores[1], rtol=1e-4, atol=1e-4)
    gaps = np.abs(np.diff(scores[1])) > 1e-3
    clear = np.r_[gaps, False] & np.r_[True, gaps]  # no near-tie on either side
    np.testing.assert_array_equal(one[clear], ids[1][clear])
    rows = pd.DataFrame({"user_id": ["u9"] * 7, "item_id": ids[1]})
    np.testing.assert_allclose(model.predict(rows), scores[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_pickle_and_joblib_round_trip(model, tmp_path):
    model = clone(model).fit(X)
    users = X.user_id.unique()
    expected = model.recommend(users, n=5)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).recommend(users, n=5), expected)
    joblib.dump(model, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").recommend(users, n=5), expected)


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_pipeline_and_score(model):
    held_out = topic_interactions(TOPICS, seed=1)
    pipe = Pipeline([("rec", clone(model))]).fit(X)
    assert 0.0 <= pipe.score(held_out) <= 1.0
    # CF models only score items they were fitted on (others raise, see
    # test_validation); keep the held-out rows whose item is in the catalog
    known = held_out[held_out.item_id.isin(pipe[-1].items_)]
    assert 0 < len(known) <= len(held_out)
    scores = pipe.predict(known)
    assert scores.shape == (len(known),) and np.isfinite(scores).all()


def test_als_learns_the_block_structure_with_any_ids():
    # users of one topic share items: ALS must recommend within the topic
    als = ALSRecommender(factors=8, iterations=15, random_state=0).fit(X)
    topic_of_user = X.assign(topic=TOPICS.loc[X.item_id].to_numpy()).groupby("user_id").topic.first()
    recs = als.recommend(topic_of_user.index, n=3)
    assert (TOPICS.loc[recs.ravel()].to_numpy().reshape(recs.shape) == topic_of_user.to_numpy()[:, None]).mean() > 0.9
    # non-contiguous ints and strings work alike and give the same answer
    string_ids = X.assign(item_id="i" + X.item_id.astype(str))
    als_str = ALSRecommender(factors=8, iterations=15, random_state=0).fit(string_ids)
    np.testing.assert_array_equal(np.char.add("i", recs.astype(str)),  # (numpy 1 too)
                                  als_str.recommend(topic_of_user.index, n=3))


def test_als_is_repeatable_with_random_state():
    a = ALSRecommender(factors=4, random_state=3).fit(X)
    b = ALSRecommender(factors=4, random_state=3).fit(X)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


def test_popularity_ranks_by_count_for_unknown_users():
    pop = PopularityRecommender().fit(X)
    counts = X.item_id.value_counts()
    top = pop.recommend(["never-seen"], n=3, return_scores=True)[1][0]
    np.testing.assert_array_equal(top, counts.iloc[:3].to_numpy())


def test_zero_shot_profile_is_recency_weighted():
    encoder = TextEncoder(tiny_model_path(), verbose=0)
    items = ITEM_TEXTS.iloc[:3]
    hist = pd.DataFrame({"user_id": [1, 1], "item_id": items.index[:2], "timestamp": [5, 1]})
    rec = ZeroShotRecommender(encoder, item_texts=items, half_life=1.0).fit(hist)
    emb = rec.item_embeddings_
    expected = emb[0] * 1.0 + emb[1] * 0.5  # item 0 is the latest
    np.testing.assert_allclose(rec.user_embeddings_[0], expected / np.linalg.norm(expected), rtol=1e-5)
    flat = ZeroShotRecommender(encoder, item_texts=items, half_life=None).fit(hist)
    mean = emb[0] + emb[1]
    np.testing.assert_allclose(flat.user_embeddings_[0], mean / np.linalg.norm(mean), rtol=1e-5)


def test_zero_shot_new_users_from_user_texts_or_popularity():
    encoder = TextEncoder(tiny_model_path(), verbose=0)
    user_texts = pd.Series({"newbie": ITEM_TEXTS.iloc[0]})
    rec = ZeroShotRecommender(encoder, item_texts=ITEM_TEXTS, user_texts=user_texts).fit(X)
    # a user whose text is item 0's text gets item 0 first
    assert rec.recommend(["newbie"], n=1)[0, 0] == ITEM_TEXTS.index[0]
    counts = X.item_id.value_counts()
    fallback = rec.recommend(["nobody"], n=5)[0]  # ties may break either way
    np.testing.assert_array_equal(counts.loc[fallback].to_numpy(), counts.iloc[:5].to_numpy())


def test_zero_shot_user_whose_interactions_weigh_zero_is_scored_as_a_new_user():
    # a history of weight 0 gives no direction: not a profile of zeros that
    # ties every item (top-n in catalog order), but the new users' fallback:
    # the user's text from fit when it has one, else popularity
    encoder = TextEncoder(tiny_model_path(), verbose=0)
    zero = pd.DataFrame({"user_id": ["mute", "mute", "talker", "talker"],
                         "item_id": ITEM_TEXTS.index[[0, 1, 0, 1]], "timestamp": [0, 1] * 2,
                         "weight": [0.0] * 4})
    data = pd.concat([X.assign(weight=1.0), zero], ignore_index=True)
    rec = ZeroShotRecommender(encoder, item_texts=ITEM_TEXTS,
                              user_texts={"talker": ITEM_TEXTS.iloc[5]}).fit(data)
    scores = rec.score_items(["mute", "nobody", "talker"])
    np.testing.assert_array_equal(scores[0], scores[1])  # popularity, as a new user
    assert scores[0].std() > 0
    assert rec.recommend("talker", n=1)[0] == ITEM_TEXTS.index[5]  # its text
    for user in ("mute", "talker"):
        out = rec.explain(user, n=3)
        assert out["source"].iloc[0] == ("popularity" if user == "mute" else "user text")
        np.testing.assert_allclose(out.groupby("item_id", sort=False)["contribution"].sum(),
                                   out.groupby("item_id", sort=False)["score"].first())


def test_nested_params_are_tunable():
    hybrid = _models()[3]
    params = hybrid.get_params()
    assert {"switch", "item_switch", "cf__factors", "text__half_life", "text__encoder__batch_size"} <= set(params)
    hybrid.set_params(cf__factors=3, text__encoder__batch_size=7)
    assert dict(hybrid.members)["cf"].factors == 3 and hybrid.text.encoder.batch_size == 7


def test_hybrid_weights_follow_counts():
    hybrid = clone(_models()[3])
    text_only = clone(hybrid).set_params(blend="fixed", switch=1e12).fit(X)
    users = X.user_id.unique()
    z_text = text_only.text_._scores(text_only.text_._rows(users, "user"), users)
    # with an infinite switch the blend is the text score, standardised over
    # the items with interactions (as every term is)
    blended = text_only._scores(text_only._rows(users, "user"), users)
    over = z_text[:, text_only.n_item_interactions_ > 0]
    z = (z_text - over.mean(1, keepdims=True)) / over.std(1, keepdims=True)
    np.testing.assert_allclose(blended, z, atol=1e-4)
    # with zero switches warm items get the standardised CF score, cold
    # items (no interactions) the standardised text score
    cf_only = clone(hybrid).set_params(blend="fixed", switch=0, item_switch=0).fit(X)
    warm = cf_only.n_item_interactions_ > 0
    assert not warm.all()
    blended = cf_only._scores(cf_only._rows(users, "user"), users)
    cf = cf_only.named_members_.cf.score_items(users)
    z_cf = (cf - cf.mean(1, keepdims=True)) / cf.std(1, keepdims=True)
    cols = cf_only._rows(cf_only.named_members_.cf.items_, "item")
    np.testing.assert_allclose(blended[:, cols][:, warm[cols]], z_cf[:, warm[cols]], atol=1e-4)
    np.testing.assert_allclose(blended[:, ~warm], z[:, ~warm], atol=1e-4)


@pytest.fixture(scope="module")
def cold_setup():
    """Real MiniLM; one new item per topic, in item_texts but never interacted."""
    cold = pd.Series(
        {
            1: "A space story about astronaut, galaxy and rocket.",
            2: "A cooking story about chef, soup and bread.",
            3: "A jazz story about saxophone, swing and bebop.",
        }
    )
    texts = pd.concat([ITEM_TEXTS, cold])
    topic_of_cold = {1: "space", 2: "cooking", 3: "jazz"}
    return texts, topic_of_cold


def test_cold_items_reach_the_top10_of_textually_close_users(cold_setup):
    texts, topic_of_cold = cold_setup
    text = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts)
    als = ALSRecommender(factors=8, iterations=15, random_state=0)
    user_topic = X.assign(topic=TOPICS.loc[X.item_id].to_numpy()).groupby("user_id").topic.first()
    # the zero-shot model and the fixed blend surface each new item for every
    # user of its topic; the learned blend (default), told they are new
    # arrivals, gives them the exposure hidden items earned while it was
    # fitted, calibrated to how few new items this catalog has (3 of 63), so
    # it must reach most of them
    hybrid = HybridRecommender(text, cf_members(als), new_items=list(topic_of_cold), random_state=0)
    for model, reach in ((text, 1.0), (clone(hybrid).set_params(blend="fixed"), 1.0),
                         (hybrid, 0.5)):
        model = clone(model).fit(X)
        for item, topic in topic_of_cold.items():
            users = user_topic.index[user_topic == topic]
            recs = model.recommend(users, n=10)
            assert (recs == item).any(axis=1).mean() >= reach, (model, topic)
            others = user_topic.index[user_topic != topic]
            assert not (model.recommend(others, n=3) == item).any()
    als = clone(als).fit(X)
    assert not np.isin(list(topic_of_cold), als.recommend(user_topic.index, n=10)).any()


def test_new_items_set_the_exposure_of_items_without_interactions(cold_setup):
    texts, topic_of_cold = cold_setup
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    hybrid = HybridRecommender(text, cf_members(ALSRecommender(factors=8, iterations=5, random_state=0)),
                               random_state=0)
    zero = ~np.isin(texts.index, X.item_id)
    assert zero.sum() > len(topic_of_cold)  # a few old items nobody picked, too
    declared = clone(hybrid).set_params(new_items=list(topic_of_cold)).fit(X)
    every = clone(hybrid).set_params(new_items="all").fit(X)
    # taken as tail (new_items=None), items are shown as often as the log
    # goes to items it had not reached: here (items have several
    # interactions) less often
    undeclared = clone(hybrid).set_params(new_items=None).fit(X)
    assert clone(hybrid).fit(X).new_item_share_ == every.new_item_share_  # "all": the default
    assert 0 <= undeclared.new_item_share_ < declared.new_item_share_ < every.new_item_share_
    users = X.user_id.unique()
    new_in_top = [np.isin(m.recommend(users, n=10), list(topic_of_cold)).mean()
                  for m in (undeclared, declared)]
    assert new_in_top[0] < new_in_top[1]
    hidden = clone(hybrid).set_params(new_items="all", new_item_exposure=0).fit(X)
    assert hidden.new_item_share_ == 0
    assert not np.isin(hidden.recommend(users, n=10), texts.index[zero]).any()


def test_unknown_new_items_raise(cold_setup):
    texts, _ = cold_setup
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    hybrid = HybridRecommender(text, cf_members(ALSRecommender(factors=8, iterations=5, random_state=0)),
                               new_items=[1, "nope", 12345], random_state=0)
    with pytest.raises(ValueError, match=r"2 new_items are not in the catalog .*'nope'"):
        hybrid.fit(X)


@pytest.mark.parametrize("similarity", ["bm25", "cosine"])
def test_item_knn_keeps_n_neighbors_other_items(similarity):
    # implicit counts an item among its own K nearest (the largest, with
    # cosine): n_neighbors=1 kept no neighbour at all, every unseen item
    # scored 0 and the lists came in catalog order
    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": ["a", "b", "a", "b", "a"]})
    knn = ItemKNNRecommender(similarity, n_neighbors=1).fit(X)
    assert knn.score_items([3])[0, list(knn.items_).index("b")] > 0
    assert knn.explain(3, ["b"]).contributor.tolist() == ["a"]
    rng = np.random.RandomState(0)
    R = pd.DataFrame({"user_id": rng.randint(0, 40, 400), "item_id": rng.randint(0, 30, 400)})
    full = ItemKNNRecommender(similarity, n_neighbors=100).fit(R).similarity_.toarray()
    assert (np.diag(full) == 0).all()
    for n in (1, 3):
        got = ItemKNNRecommender(similarity, n_neighbors=n).fit(R).similarity_.toarray()
        assert (np.diag(got) == 0).all() and ((got != 0).sum(axis=1) <= n).all()
        np.testing.assert_allclose(np.sort(got, axis=1)[:, -n:], np.sort(full, axis=1)[:, -n:],
                                   rtol=1e-6)
    # items bought by the same users tie with the item itself: implicit's K + 1
    # nearest could leave the item out and keep K + 1 neighbours (n_neighbors=2
    # scored an item 7.0 instead of 2.0)
    same = pd.DataFrame({"user_id": np.repeat(np.arange(5), 8), "item_id": np.tile(np.arange(8), 5)})
    knn = ItemKNNRecommender(similarity, n_neighbors=2, half_life=None).fit(same)
    assert (np.diff(knn.similarity_.indptr) == 2).all() and (knn.similarity_.diagonal() == 0).all()


def test_top_per_row_keeps_the_lowest_columns_of_tied_entries(monkeypatch):
    # torch.topk kept any of the tied entries at the cut: which neighbour a
    # small catalog kept differed from a large one's (the sparse path)
    rng = np.random.RandomState(0)
    for trial in range(20):
        matrix = sp.random(30, 40, density=0.5, random_state=trial, format="csr",
                           data_rvs=lambda n: rng.randint(1, 4, n).astype(np.float32))
        for k in (1, 3, 10):
            dense = _history.top_per_row(matrix, k)
            monkeypatch.setattr(_history, "DENSE_ITEMS", 0)
            sparse = _history.top_per_row(matrix, k)
            monkeypatch.undo()
            np.testing.assert_array_equal(dense.toarray(), sparse.toarray())


def test_als_takes_n_jobs_as_joblib_counts_them():
    # n_jobs=-2 reached implicit as 2**64 - 2 threads: libgomp aborted the process
    model = ALSRecommender(factors=2, iterations=2, random_state=0, n_jobs=-2).fit(X)
    assert model.recommend(X.user_id[:2], n=3).shape == (2, 3)


@pytest.mark.parametrize("n_neighbors", [10**6, 2**32])
def test_item_knn_with_more_neighbours_than_items_keeps_them_all(n_neighbors):
    # implicit allocates n_neighbors per item: 2**31 - 1 killed the process,
    # 2**32 raised "value too large to convert to unsigned int"
    X = pd.DataFrame({"user_id": [0, 0, 1, 1, 2, 2, 2], "item_id": [1, 2, 2, 3, 1, 3, 4]})
    every = ItemKNNRecommender(n_neighbors=3).fit(X)  # 4 items: 3 others each
    model = ItemKNNRecommender(n_neighbors=n_neighbors).fit(X)
    np.testing.assert_array_equal(model.score_items([0, 1, 2]), every.score_items([0, 1, 2]))


@pytest.mark.parametrize("model", [ItemKNNRecommender, NextItemRecommender])
def test_item_item_n_neighbors_takes_numpy_ints_and_no_bool(model):
    # True passed scikit-learn's Interval(Integral) as 1, then indexed a
    # tensor: "The size of tensor a (3) must match the size of tensor b (2)"
    R = pd.DataFrame({"user_id": np.repeat(np.arange(8), 3),
                      "item_id": np.random.RandomState(0).randint(0, 6, 24)})
    one = model(n_neighbors=1).fit(R)
    for n_neighbors in (np.int64(1), np.uint8(1)):
        got = model(n_neighbors=n_neighbors).fit(R)
        np.testing.assert_array_equal(got.score_items(one.users_), one.score_items(one.users_))
    with pytest.raises(ValueError, match=r"'n_neighbors' parameter .* \(not a bool\)\. Got True"):
        model(n_neighbors=True).fit(R)


@pytest.mark.parametrize("similarity", ["bm25", "cosine"])
def test_a_weight_below_float32s_range_is_still_an_interaction(similarity):
    # exp(-130), the time decay of a user long gone, was stored as 0 in
    # float32: the binary similarity lost that user's co-occurrences (item
    # e had no neighbour, user 4 got the catalog in its order)
    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 9, 9, 9, 4],
                      "item_id": ["a", "b", "a", "c", "b", "d", "c", "d", "e", "e"],
                      "weight": [1.0] * 10})
    decayed = X.assign(weight=np.where(X.user_id == 9, np.exp(-130), 1.0))
    model = ItemKNNRecommender(similarity).fit(decayed)
    assert model.user_items_.nnz == 10 and (model.user_items_.data > 0).all()
    np.testing.assert_array_equal(model.similarity_.toarray(),
                                  ItemKNNRecommender(similarity).fit(X).similarity_.toarray())
    assert model.recommend(4, n=2).tolist() == ["c", "d"]


@pytest.mark.parametrize("make", [ItemKNNRecommender, NextItemRecommender])
def test_a_tiny_users_weights_are_multiplied_by_one_power_of_two_to_1_2(make):
    # a mutation hunt: the scale of a user whose largest weight is under
    # 2**-64 taken per item (an item normal users also have stayed unscaled:
    # t's 8e-30 : 1e-30 became 8e-30 : 0.16, and its ranking changed) or
    # landing in [0.5, 1) (history_ and scores halved) passed every test.
    # The docstring: the user's weights are multiplied by the power of two
    # that brings the largest to [1, 2). By hand: 2**-97 <= 8e-30 < 2**-96
    # and 2**-99 <= 3e-30 < 2**-98, so t's factor is 2**97 and s's 2**99
    normal = [("n1", "a"), ("n1", "b"), ("n1", "c"), ("n2", "a"), ("n2", "c"), ("n3", "b"),
              ("n3", "d"), ("n4", "c"), ("n4", "d"), ("n4", "e")]
    X = pd.DataFrame(normal + [("t", "a"), ("t", "z"), ("s", "b"), ("s", "z")],
                     columns=["user_id", "item_id"])
    tiny = np.array([1.0] * len(normal) + [8e-30, 1e-30, 1e-30, 3e-30])
    factor = np.array([1.0] * len(normal) + [2.0**97] * 2 + [2.0**99] * 2)
    model = make(half_life=None).fit(X.assign(weight=tiny))
    rows, items = list(model.users_), list(model.items_)
    history = model.history_.toarray()
    np.testing.assert_array_equal(history[rows.index("t"), [items.index("a"), items.index("z")]],
                                  np.float32([8e-30 * 2.0**97, 1e-30 * 2.0**97]))
    np.testing.assert_array_equal(history[rows.index("s"), [items.index("b"), items.index("z")]],
                                  np.float32([1e-30 * 2.0**99, 3e-30 * 2.0**99]))
    assert 1 <= history[rows.index("t")].max() < 2 and 1 <= history[rows.index("s")].max() < 2
    # so they score as the same log with those weights given already scaled
    scaled = make(half_life=None).fit(X.assign(weight=tiny * factor))
    np.testing.assert_array_equal(model.score_items(["t", "s"]), scaled.score_items(["t", "s"]))
    np.testing.assert_array_equal(model.recommend(["t", "s"], n=4),
                                  scaled.recommend(["t", "s"], n=4))


def test_popularity_sums_the_weights_as_given():
    # the weights of the user-item matrix, each raised to float32's smallest
    # when under it, summed 1.4e-44 for ten weights of exp(-130): "old" led
    # and a sum under float32's range is its smallest, not 0: a tie with an
    # item nobody interacted with ("shown", an impression), decided by name
    X = pd.DataFrame({"user_id": list(range(10)) + [10, 11],
                      "item_id": ["watched"] * 10 + ["recent", "shown"],
                      "weight": [np.exp(-130)] * 10 + [1e-44, 0.0]})
    model = PopularityRecommender("weight").fit(X)
    assert model.recommend(99, n=3).tolist() == ["recent", "watched", "shown"]


def _impressions():
    """A click log with impressions (weight 0): 20 users click x and are then
    shown "ad", which nobody clicks; 5 users click x, then y; "me" clicks z, then x."""
    rows, t = [], 0
    for u in range(25):
        rows += [(f"u{u}", "x", t, 1.0), (f"u{u}", "ad" if u < 20 else "y", t + 1,
                                          0.0 if u < 20 else 1.0)]
        t += 2
    rows += [("me", "z", t, 1.0), ("me", "x", t + 1, 1.0)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "weight"])


def test_next_item_learns_nothing_from_interactions_of_weight_0():
    # weight 0 is no interaction (as item-kNN's co-occurrence and the
    # fine-tuning's pairs read it): an impression that nobody clicked was
    # the first "next item" of x, at twice the score of the clicked one
    from sklearn_zsrec import NextItemRecommender

    X = _impressions()
    model = NextItemRecommender().fit(X)
    clicks = NextItemRecommender().fit(X[X.weight > 0])
    assert model.recommend("me", n=1)[0] == "y"
    known = np.isin(model.items_, clicks.items_)
    np.testing.assert_allclose(model.score_items("me")[known], clicks.score_items("me"),
                               rtol=1e-6)
    assert model.score_items("me")[list(model.items_).index("ad")] == 0
    y = X.pop("weight") > 0  # the same log passed as y
    np.testing.assert_array_equal(NextItemRecommender().fit(X, y).score_items("me"),
                                  model.score_items("me"))


@pytest.mark.parametrize("make", [ItemKNNRecommender, NextItemRecommender])
@pytest.mark.parametrize("half_life", [2.0, 1e6])
def test_the_recency_floor_is_on_recency_not_weight(make, half_life):
    # 20,000 plays of "a", then "b" once: the floor compared weight x recency
    # with the user's heaviest, and dropped b, the latest, at any half-life,
    # and with it "c", which followed b for another user
    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": ["a", "b", "b", "c", "a", "d"],
                      "timestamp": [0, 1, 0, 1, 0, 1]})
    model = make(half_life=half_life).fit(X, [20000.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    items = list(model.items_)
    assert model.history_[0, items.index("b")] == 1.0
    assert model.score_items(1)[items.index("c")] > 0
    # the floor still bounds a history: 13 half-lives back stay, 14 do not
    long = pd.DataFrame({"user_id": 1, "item_id": np.arange(20), "timestamp": np.arange(20)})
    kept = make(half_life=1.0).fit(long).history_
    assert kept.nnz == 14 and kept[0, 19] == 1.0 and kept[0, 6] == 0.5**13


@pytest.mark.parametrize("model", ["knn", "next"])
def test_recency_counts_interactions_not_impressions(model):
    # half_life is in interactions: impressions (weight 0) shown after a
    # click did not make it older
    from sklearn_zsrec import NextItemRecommender

    make = {"knn": ItemKNNRecommender, "next": NextItemRecommender}[model]
    X = _impressions()
    shown = pd.DataFrame({"user_id": "me", "item_id": ["ad"],
                          "timestamp": [10**6], "weight": [0.0]})
    with_impression = make(half_life=1.0).fit(pd.concat([X, shown], ignore_index=True))
    without = make(half_life=1.0).fit(X)
    row = list(with_impression.users_).index("me")
    history = with_impression.history_[row]
    same = without.history_[list(without.users_).index("me")]
    np.testing.assert_allclose(history[:, np.isin(with_impression.items_, without.items_)].toarray(),
                               same.toarray(), rtol=1e-6)


def test_als_reads_interactions_of_weight_0_as_no_interaction():
    # Hu, Koren and Volinsky's model (and Spark's ALS) give a weight of 0
    # confidence 1 + alpha * 0 and preference 0, as an unobserved pair;
    # implicit read the stored 0 as confidence 0, which dropped the pair from
    # the loss: 636 impressions moved the top-10 of 86% of the users
    from sklearn_zsrec.datasets import make_synthetic_interactions

    X = make_synthetic_interactions(200, 80, 3000, n_topics=4, random_state=0).interactions
    rng = np.random.default_rng(0)
    shown = pd.DataFrame({"user_id": rng.choice(X.user_id.unique(), 800),
                          "item_id": rng.choice(X.item_id.unique(), 800)}).drop_duplicates()
    seen = pd.MultiIndex.from_frame(X[["user_id", "item_id"]])
    shown = shown[~pd.MultiIndex.from_frame(shown).isin(seen)]
    with_shown = pd.concat([X.assign(weight=1.0),
                            shown.assign(timestamp=X.timestamp.max(), weight=0.0)],
                           ignore_index=True)
    make = lambda: ALSRecommender(factors=8, iterations=5, random_state=0)  # noqa: E731
    clicks, model = make().fit(X), make().fit(with_shown)
    assert np.array_equal(clicks.items_, model.items_) and len(shown) > 500
    np.testing.assert_allclose(model.user_factors_, clicks.user_factors_, rtol=1e-4, atol=1e-6)
    user = clicks.users_[0]
    out = model.explain(user, model.items_[:3])
    assert not out.contributor.isin(shown.item_id[shown.user_id == user]).any()


def test_counts_read_interactions_of_weight_0_as_no_interaction():
    # "z" was shown to 4 users and clicked by none: it ranked first by
    # popularity, for new users too (PopularityRecommender, ZeroShot's fallback)
    clicks = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 4], "item_id": ["a", "b", "a", "b", "a", "c"],
                           "weight": 1.0})
    shown = pd.DataFrame({"user_id": [1, 2, 3, 4], "item_id": "z", "weight": 0.0})
    model = PopularityRecommender().fit(pd.concat([clicks, shown], ignore_index=True))
    assert list(model.recommend([99], n=3)[0]) == ["a", "b", "c"]
    assert model.n_item_interactions_[list(model.items_).index("z")] == 0
    np.testing.assert_array_equal(model.n_user_interactions_, [2, 2, 1, 1])


def test_a_merged_click_keeps_its_time_when_shown_again_later():
    # user 1 clicks a, then x, and is shown a again without a click: the
    # merged row took the impression's time, which reordered the history
    from sklearn_zsrec import NextItemRecommender

    clicks = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": ["a", "x", "x", "c", "a"],
                           "timestamp": [1, 2, 1, 2, 1], "weight": 1.0})
    again = pd.DataFrame({"user_id": [1], "item_id": ["a"], "timestamp": [3], "weight": [0.0]})
    logged = pd.concat([clicks, again], ignore_index=True)
    for make in (NextItemRecommender, ItemKNNRecommender):
        a, b = make(half_life=1.0).fit(clicks), make(half_life=1.0).fit(logged)
        np.testing.assert_allclose(b.history_.toarray(), a.history_.toarray())
        np.testing.assert_allclose(b.score_items([3]), a.score_items([3]))
    # all rows of weight 0: the latest one's time
    shown = pd.DataFrame({"user_id": [1, 1], "item_id": ["q", "q"], "timestamp": [5, 9],
                          "weight": [0.0, 0.0]})
    from sklearn_zsrec._interactions import check_interactions

    data = check_interactions(pd.concat([clicks, shown], ignore_index=True))
    assert data.timestamp[data.item_id == "q"].tolist() == [9]


def test_score_leaves_rows_of_weight_0_out_of_the_relevant_items():
    from sklearn_zsrec.metrics import make_rank_scorer

    train = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3, 3, 4, 5],
                          "item_id": ["a", "b", "c", "a", "b", "a", "d", "e", "f"]})
    model = PopularityRecommender().fit(train)
    click = pd.DataFrame({"user_id": [4], "item_id": ["f"]})
    logged = pd.DataFrame({"user_id": [4, 4, 4], "item_id": ["f", "a", "b"],
                           "weight": [1.0, 0.0, 0.0]})  # shown a and b, not clicked
    assert model.score(logged) == model.score(click) < 0.5
    assert model.score(logged.drop(columns="weight"), logged.weight > 0) == model.score(click)
    precision = make_rank_scorer("precision")
    assert precision(model, logged) == precision(model, click) == pytest.approx(0.1)
    assert precision(model, logged.drop(columns="weight"), logged.weight) == pytest.approx(0.1)


def test_score_warns_of_users_whose_held_out_rows_all_weigh_0():
    # they were left out of the mean without the warning the docs promise
    from sklearn_zsrec.metrics import make_rank_scorer

    train = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [7, 8, 7, 9, 8]})
    model = PopularityRecommender().fit(train)
    test = pd.DataFrame({"user_id": [1, 2], "item_id": [9, 5], "weight": [1.0, 0.0]})
    for score in (model.score, lambda X: make_rank_scorer("hit_rate", k=1)(model, X)):
        with pytest.warns(UserWarning, match=r"1 of 2 users of the held-out rows have only "
                                             r"rows of weight 0 .* left out of the mean"):
            assert score(test) == score(test.iloc[:1])


def test_the_learned_blend_never_takes_an_impression_as_a_positive(monkeypatch):
    # each user's latest rows are impressions (weight 0): the holdout held
    # them out as "the latest interaction" and learned the blend on them
    from sklearn_zsrec._hybrid import _blend, _learn
    from sklearn_zsrec.datasets import make_synthetic_interactions

    data = make_synthetic_interactions(300, 60, 3000, n_topics=4, random_state=0)
    X = data.interactions.assign(weight=1.0)
    rng = np.random.RandomState(0)
    shown = [pd.DataFrame({"user_id": u, "item_id": rng.choice(np.setdiff1d(
                 data.item_text.index, g.item_id), 2, replace=False),
                 "timestamp": g.timestamp.max() + 1, "weight": 0.0})
             for u, g in X.groupby("user_id")]
    logged = pd.concat([X, *shown], ignore_index=True)
    weight = logged.set_index(["user_id", "item_id"]).weight
    calls, positives = {}, []
    terms, sample = _blend.Blend.terms, _learn.sample

    def spy_terms(self, rows, users):
        calls["users"], calls["items"] = np.asarray(users), self.fitted.text.items_
        return terms(self, rows, users)

    def spy_sample(terms_, pos, *args, rows=None, **kwargs):
        users = calls["users"] if rows is None else calls["users"][rows]
        positives.extend(zip(users, calls["items"][pos]))
        return sample(terms_, pos, *args, rows=rows, **kwargs)

    monkeypatch.setattr(_blend.Blend, "terms", spy_terms)
    monkeypatch.setattr(_learn, "sample", spy_sample)
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0),
                               item_texts=data.item_text)
    HybridRecommender(text, cf_members(ALSRecommender(factors=4, iterations=3, random_state=0)),
                      random_state=0, verbose=0).fit(logged)
    assert len(positives) > 200
    assert all(weight[pair] != 0 for pair in positives)


def test_score_of_rows_that_all_weigh_0_says_so_and_messages_count_interactions():
    train = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": ["a", "b", "a", "c"]})
    model = PopularityRecommender().fit(train)
    shown = pd.DataFrame({"user_id": [1, 2], "item_id": ["c", "b"]})
    with pytest.raises(ValueError, match="none of the 2 held-out rows of X has a non-zero weight"):
        model.score(shown, [0, 0])  # was a TypeError blaming recommend
    # the unknown item is of weight 0: no miss to warn about
    unknown = pd.DataFrame({"user_id": [1, 1], "item_id": ["c", "zzz"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.score(unknown, [1, 0]) == model.score(unknown.iloc[:1])
    repeat = pd.DataFrame({"user_id": [1, 1, 1], "item_id": ["a", "c", "zzz"]})
    with pytest.raises(ValueError, match="all 1 rows of X repeat"):
        model.score(repeat, [1, 0, 0])


def test_zero_shot_takes_a_scikit_learn_transformer_of_texts_fitted_on_the_items():
    # the encoder was fitted without data: TfidfVectorizer raised "missing 1
    # required positional argument: 'raw_documents'", and its sparse vectors
    # "setting an array element with a sequence"
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    from sklearn_zsrec import ZeroShotRecommender

    texts = {1: "jazz piano trio", 2: "jazz saxophone quartet", 3: "heavy metal guitar",
             4: "metal drums and guitar", 5: "string sonata"}
    X = pd.DataFrame({"user_id": ["a", "b"], "item_id": [1, 3]})
    for encoder in (TfidfVectorizer(), make_pipeline(TfidfVectorizer(), TruncatedSVD(3, random_state=0))):
        model = ZeroShotRecommender(encoder, item_texts=texts).fit(X)
        assert model.recommend(["a", "b"], n=1).tolist() == [[2], [4]]
        assert model.recommend("new", n=1, user_texts={"new": "metal guitar"})[0] in (3, 4)


@pytest.mark.parametrize("name", ["popularity", "text", "hybrid"])
def test_new_users_before_known_ones_leave_each_their_own_exclusions(name):
    # recommend masks each known user's training items on its own row of the
    # chunk; masking by the chunk's first rows went unnoticed while no test
    # put a new user before a known one (a mutation hunt)
    texts, topics = topic_catalog()
    X = topic_interactions(topics, per_user=5)
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    model = {"popularity": PopularityRecommender(), "text": text,
             "hybrid": HybridRecommender(text, cf_members(ALSRecommender(factors=8, random_state=0)),
                                         random_state=0)}[name]
    model.fit(X)
    known = list(model.users_[:2])
    users = ["new", known[0], "new too", known[1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # new users without a text
        together, scores = model.recommend(users, n=10, return_scores=True)
        for k, user in enumerate(users):
            alone, alone_scores = model.recommend([user], n=10, return_scores=True)
            if name == "popularity":  # exact counts: the same ids
                np.testing.assert_array_equal(together[k], alone[0])
            # float32 products may round apart with the chunk: the same scores
            np.testing.assert_allclose(scores[k], alone_scores[0], rtol=1e-4, atol=1e-4)
    for user in known:
        seen = X.item_id[X.user_id == user]
        assert not np.isin(together[users.index(user)], seen).any()


def test_next_item_scores_are_normalised_by_both_items_counts():
    # "a" was followed once by "pop" (6 users) and once by "rare" (1 user):
    # sqrt(n_a n_j) discounts the popular follower (1/sqrt(3 x 6) against
    # 1/sqrt(3 x 1)), on the dense path and the sparse one alike
    rows = [("u1", "a"), ("u1", "pop"), ("u2", "a"), ("u2", "rare")]
    rows += [(f"p{i}", "pop") for i in range(5)] + [("me", "z"), ("me", "a")]
    X = pd.DataFrame(rows, columns=["user_id", "item_id"])
    from sklearn_zsrec import _next_item

    for dense_items in (_next_item.DENSE_ITEMS, 0):
        original = _next_item.DENSE_ITEMS
        _next_item.DENSE_ITEMS = dense_items
        try:
            model = NextItemRecommender(window=1).fit(X)
        finally:
            _next_item.DENSE_ITEMS = original
        col = {item: k for k, item in enumerate(model.items_)}
        row = model.transitions_[col["a"]].toarray()[0]
        np.testing.assert_allclose(row[[col["pop"], col["rare"]]],
                                   [1 / np.sqrt(3 * 6), 1 / np.sqrt(3 * 1)], rtol=1e-6)
        assert model.recommend("me", n=1).tolist() == ["rare"]


def test_next_item_counts_are_the_same_on_large_catalogs(monkeypatch):
    # "b" follows "a" at lags 2 and 4 (1/2 + 1/4), "c" at lags 3, 4 and 6
    # (1/3 + 1/4 + 1/6): equal counts, so "b" ranks first (the earlier column).
    # Past DENSE_ITEMS the counts were summed in float32 lag by lag, a step
    # apart, and "c" came first on catalogs of over 4,096 items
    seqs = {"u1": ["a", "f1", "b"], "u2": ["a", "f2", "f3", "f4", "b"],
            "u3": ["a", "g1", "g2", "c"], "u4": ["a", "g3", "g4", "g5", "c"],
            "u5": ["a", "g6", "g7", "g8", "g9", "g10", "c"], "u6": ["b"], "me": ["a"]}
    X = pd.DataFrame([(u, i) for u, items in seqs.items() for i in items],
                     columns=["user_id", "item_id"])
    from sklearn_zsrec import _next_item

    dense = NextItemRecommender().fit(X)
    monkeypatch.setattr(_next_item, "DENSE_ITEMS", 0)
    large = NextItemRecommender().fit(X)
    for model in (dense, large):
        col = {item: k for k, item in enumerate(model.items_)}
        row = model.transitions_[col["a"]].toarray()[0]
        assert row[col["b"]] == row[col["c"]] > 0
        ranked = model.recommend("me", n=len(model.items_) - 1).tolist()
        assert [i for i in ranked if i in ("b", "c")] == ["b", "c"]
    assert (dense.transitions_ != large.transitions_).nnz == 0


def test_item_knn_cosine_similarity_is_the_cosine_of_the_item_columns():
    # a and b co-occur for users 1 and 2, a alone for user 3: cos = 2 / sqrt(3 * 2);
    # bm25 weighs them otherwise (only the class's doctest told them apart)
    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": ["a", "b", "a", "b", "a"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (implicit warned about the matrix it was handed)
        cosine = ItemKNNRecommender(similarity="cosine").fit(X).similarity_
    np.testing.assert_allclose(cosine[0, 1], 2 / np.sqrt(6), rtol=1e-6)
    assert not np.isclose(ItemKNNRecommender().fit(X).similarity_[0, 1], 2 / np.sqrt(6))


@pytest.mark.parametrize("make", [lambda: ItemKNNRecommender("cosine", half_life=None),
                                  ItemKNNRecommender, NextItemRecommender],
                         ids=["knn-cosine", "knn", "next"])
def test_weights_past_1e6_rank_exactly_as_the_same_weights_below(make):
    # weights past 1e6 were divided by their largest, which rounds: 2**30
    # times the weights swapped items whose scores tie in exact arithmetic
    # (user 1 below: 3/sqrt(2) + 1/sqrt(3) both); a power of two is exact
    X = pd.DataFrame({"user_id": [3, 2, 0, 1, 0, 0, 1, 2, 2, 1, 1],
                      "item_id": [4, 0, 3, 1, 1, 5, 5, 1, 2, 0, 4],
                      "weight": [2.0, 2, 2, 1, 2, 3, 3, 2, 2, 3, 2],
                      "timestamp": np.arange(11)})
    rng = np.random.default_rng(0)
    Y = pd.DataFrame({"user_id": rng.integers(0, 20, 300), "item_id": rng.integers(0, 30, 300),
                      "weight": rng.integers(1, 4, 300).astype(float), "timestamp": np.arange(300)})
    for log in (X, Y):
        users = np.unique(log.user_id)
        small = make().fit(log)
        large = make().fit(log.assign(weight=log.weight * 2.0**30))
        np.testing.assert_array_equal(large.recommend(users, n=5), small.recommend(users, n=5))
        ratio = large.score_items(users) / np.where(small.score_items(users) == 0, 1,
                                                    small.score_items(users))
        assert len(np.unique(ratio[small.score_items(users) != 0])) == 1  # one exact scale


def test_item_knn_bm25_counts_users_of_nearly_every_item():
    # implicit's idf log(n_items) - log(1 + n_user_items) is 0 for a user of
    # every item but one: on 3 items the similarity was all zeros, and user 9
    # got the catalog's order ("c" before "zz")
    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 4, 4, 9],
                      "item_id": ["a", "zz", "a", "zz", "a", "zz", "zz", "c", "a"]})
    model = ItemKNNRecommender().fit(X)
    assert model.recommend(9, n=2).tolist() == ["zz", "c"]
    assert model.similarity_[0, 2] > 0
    # on any catalog, a user of every item but one links the items it holds
    # (a and c: only through user 98, of 3 of the 4 items)
    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 98, 98, 98],
                      "item_id": ["a", "b", "c", "d", "a", "b", "c"]})
    similarity = ItemKNNRecommender().fit(X).similarity_.toarray()
    assert similarity[0, 2] > 0
    assert similarity[0, 1] > similarity[0, 2]  # a and b: two users


def test_item_knn_bm25_weighs_as_implicits_bm25_recommender_elsewhere():
    import warnings as _warnings

    from implicit.nearest_neighbours import BM25Recommender

    rng = np.random.default_rng(1)  # no user of every item but one; one user of every item
    X = pd.DataFrame({"user_id": rng.integers(0, 60, 600), "item_id": rng.integers(0, 40, 600)})
    X = pd.concat([X, pd.DataFrame({"user_id": 99, "item_id": np.arange(40)})])
    model = ItemKNNRecommender(n_neighbors=39, half_life=None).fit(X)
    binary = (model.user_items_ != 0).astype(np.float32).tocsr()
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        reference = BM25Recommender(K=40)
        reference.fit(binary, show_progress=False)
    expected = reference.similarity.toarray().astype(np.float32)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.similarity_.toarray(), expected, rtol=1e-6)


@pytest.mark.parametrize("make", [PopularityRecommender, ItemKNNRecommender,
                                  NextItemRecommender],
                         ids=lambda m: m.__name__)
def test_core_contract_pinned_by_a_mutation_hunt(make):
    # a refit of a model in use equals a fresh fit (a new user sorting first
    # shifted the rows: the old id lookup ranked other users' rows);
    # score_items over several batches equals one batch; predict refuses X
    # whose items are only partly unknown (they took the last item's score)
    first = pd.DataFrame({"user_id": ["b", "b", "c", "c"], "item_id": [1, 2, 3, 4]})
    second = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c", "c", "d"],
                           "item_id": [1, 2, 3, 4, 1, 3, 2]})
    model = make().fit(first)
    model.recommend("b", n=2), model.predict(first)  # (builds the id lookups)
    model.fit(second)
    fresh = make().fit(second)
    users = ["a", "b", "c", "d"]
    np.testing.assert_array_equal(model.recommend(users, n=2), fresh.recommend(users, n=2))
    np.testing.assert_array_equal(model.predict(second), fresh.predict(second))
    whole = fresh.score_items(users)
    for batch_size in (1, 3, 5):
        np.testing.assert_array_equal(fresh.score_items(users, batch_size=batch_size), whole)
    with pytest.raises(ValueError, match=r"not in the catalog \(e\.g\. \[999\]\)"):
        fresh.predict(pd.DataFrame({"user_id": ["a", "a"], "item_id": [1, 999]}))


def test_zero_shot_user_profiles_fill_every_user_of_every_chunk():
    # profiles are computed in chunks of users: a slice one short per chunk
    # left every 16,384th user np.empty's bytes (scored by popularity, or
    # garbage) (mutation round 14)
    from sklearn_zsrec._zero_shot import _normalize_rows, _user_profiles

    rng = np.random.default_rng(0)
    weights = sp.random(10, 6, density=0.5, random_state=0, format="csr") + sp.eye(10, 6)
    emb = rng.normal(size=(6, 4)).astype(np.float32)
    expected = _normalize_rows(np.asarray(weights @ emb)).astype(np.float32)
    for chunk in (1, 3, 4, 10, 16384):
        np.testing.assert_allclose(_user_profiles(sp.csr_matrix(weights), emb, chunk=chunk),
                                   expected, rtol=1e-5, atol=1e-6)


def test_zero_shots_catalog_and_its_ties_do_not_depend_on_the_order_of_item_texts():
    # items_ is sorted by id, as fit sorts a catalog (round 14: kept in the
    # texts' order, two items of one text ranked in that order)
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = {1: "alien war in space", 2: "a jazz club at night", 3: "a jazz club at night",
             4: "wedding comedy"}
    X = pd.DataFrame({"user_id": ["ann", "bob"], "item_id": [1, 4]})
    got = []
    for order in ([1, 2, 3, 4], [4, 3, 2, 1], [3, 1, 4, 2]):
        items = pd.Series({i: texts[i] for i in order})
        rec = ZeroShotRecommender(TfidfVectorizer(), item_texts=items, half_life=None).fit(X)
        np.testing.assert_array_equal(rec.items_, [1, 2, 3, 4])
        got.append(rec.recommend(["ann", "bob", "new"], n=3).tolist())
    assert got[0] == got[1] == got[2]


@pytest.mark.parametrize("model, name", [
    (ItemKNNRecommender("cosine", half_life=None), "similarity_"),
    (NextItemRecommender(window=2, half_life=None), "transitions_")])
def test_the_fitted_item_item_matrix_is_scored_as_explain_reads_it(model, name):
    # the products read a dense copy made in fit: an edit of the matrix in
    # place changed explain (and the scores after pickling), not the scores
    log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 4, 5, 5, 5],
                        "item_id": ["a", "b", "a", "c", "b", "c", "a", "a", "b", "c"]})
    model.fit(log)
    matrix = getattr(model, name)
    with pytest.raises(ValueError, match="read-only"):
        matrix.data[matrix.data < matrix.data.max()] = 0.0
    # a pruned matrix assigned after fit: scored, explained and pickled alike
    pruned = matrix.multiply(matrix >= matrix.data.max()).tocsr()
    setattr(model, name, pruned)
    row = list(model.users_).index(4)
    want = np.asarray((model.history_[[row]] @ pruned).toarray(), np.float32)
    np.testing.assert_allclose(model.score_items([4]), want, rtol=1e-6)
    explained = model.explain(4, ["b", "c"]).groupby("item_id").contribution.sum()
    np.testing.assert_allclose(explained.to_numpy(), want[0, 1:], rtol=1e-6)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).score_items([4]),
                                  model.score_items([4]))
    # the same matrix, its arrays replaced (review): a rescale, a diagonal scipy inserts
    def setdiag(matrix):
        try:  # recent scipy builds new arrays for it
            matrix.setdiag(1.0)
        except ValueError as exc:  # older scipy writes the stored entries in place first
            assert "read-only" in str(exc)

    for edit in (lambda m: setattr(m, "data", m.data * 10), setdiag):
        edit(getattr(model, name))
        want = np.asarray((model.history_[[row]] @ getattr(model, name)).toarray(), np.float32)
        np.testing.assert_allclose(model.score_items([4]), want, rtol=1e-6)
        explained = model.explain(4, list(model.items_)).groupby("item_id").contribution.sum()
        np.testing.assert_allclose(explained.reindex(model.items_, fill_value=0).to_numpy(),
                                   want[0], rtol=1e-6, atol=1e-7)
    setattr(model, name, pruned.tocoo())
    with pytest.raises(TypeError, match=rf"{name} must be a scipy.sparse CSR or CSC matrix; "
                                        r"got coo_matrix\. Assign matrix.tocsr\(\)"):
        model.score_items([4])


def test_the_hybrids_shared_item_item_members_share_their_dense_copy():
    # the memo shares a member's arrays between hybrids: its dense copy too
    # (a tuple of arrays, which a deep copy rebuilt for every hybrid)
    from sklearn_zsrec._hybrid import _memo

    model = ItemKNNRecommender().fit(X)
    _memo.read_only(model)
    copy = _memo.own_copy(model)
    assert copy._dense[1] is model._dense[1] and copy.similarity_ is model.similarity_
    assert copy._matrix()[1] is model._dense[1]  # not rebuilt
