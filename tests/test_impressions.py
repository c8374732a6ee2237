"""Impressions (rows of weight 0) are no interaction: a metamorphic property.

A log with impressions added, on pairs a user already has (merged into them)
or not, gives every model the scores of the log without them: on every
user and item, training items included (``score_items``). Only two things
may differ by design: impressions count as seen, so ``recommend`` leaves
them out; and a learned hybrid draws its holdout from rows, so it is
compared with ``blend="fixed"``.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_zsrec import (
    ALSRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    NextItemRecommender,
    PopularityRecommender,
    TextEncoder,
    ZeroShotRecommender,
)

from ._hypothesis import examples
from ._tiny import tiny_model_path

N_USERS, N_ITEMS = 12, 15
ITEM_TEXTS = pd.Series({i: f"item number {i} topic {i % 3}" for i in range(N_ITEMS)})
USER_TEXTS = pd.Series({u: f"user {u} likes topic {u % 3}" for u in range(N_USERS)})


@st.composite
def logs(draw):
    """Clicks (every user and item at least once) and impressions among them."""
    n = draw(st.integers(N_USERS + N_ITEMS, 80))
    users = draw(st.lists(st.integers(0, N_USERS - 1), min_size=n, max_size=n))
    items = draw(st.lists(st.integers(0, N_ITEMS - 1), min_size=n, max_size=n))
    users[:N_USERS] = range(N_USERS)
    items[N_USERS:N_USERS + N_ITEMS] = range(N_ITEMS)
    weights = draw(st.lists(st.sampled_from([1.0, 2.0, 0.5]), min_size=n, max_size=n))
    times = draw(st.permutations(range(n)))  # distinct: ties would follow row order
    clicks = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": times,
                           "weight": weights})
    m = draw(st.integers(1, 40))
    shown = pd.DataFrame({
        "user_id": draw(st.lists(st.integers(0, N_USERS - 1), min_size=m, max_size=m)),
        "item_id": draw(st.lists(st.integers(0, N_ITEMS - 1), min_size=m, max_size=m)),
        "timestamp": draw(st.lists(st.integers(0, 80), min_size=m, max_size=m)),
        "weight": 0.0})
    logged = pd.concat([clicks, shown], ignore_index=True)
    order = draw(st.permutations(range(len(logged))))
    return clicks, logged.iloc[list(order)].reset_index(drop=True)


def _models():
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0),
                               item_texts=ITEM_TEXTS, user_texts=USER_TEXTS)
    return {
        "popularity": PopularityRecommender(),
        "als": ALSRecommender(factors=4, iterations=3, random_state=0),
        "knn": ItemKNNRecommender(n_neighbors=5, half_life=2.0),
        "next": NextItemRecommender(window=3, half_life=2.0),
        "text": text,
        "hybrid": HybridRecommender(
            text, [("als", ALSRecommender(factors=4, iterations=3, random_state=0)),
                   ("knn", ItemKNNRecommender(n_neighbors=5)), ("next", NextItemRecommender())],
            blend="fixed", weights={"als": 1, "text": 1, "knn": 0.5, "next": 0.5,
                                    "popularity": 0.2}, random_state=0, verbose=0),
    }


@pytest.mark.parametrize("name", list(_models()))
@settings(max_examples=examples(15))
@given(log=logs())
def test_impressions_change_no_score(name, log):
    from sklearn.base import clone

    clicks, logged = log
    model = _models()[name]
    a, b = clone(model).fit(clicks), clone(model).fit(logged)
    assert np.array_equal(a.users_, b.users_) and np.array_equal(a.items_, b.items_)
    np.testing.assert_array_equal(a.n_item_interactions_, b.n_item_interactions_)
    users = list(range(N_USERS)) + [99]  # a new user too, where the model scores one
    users = users if name in ("popularity", "text", "hybrid") else users[:-1]
    np.testing.assert_allclose(b.score_items(users), a.score_items(users),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["als", "knn", "next"])
def test_users_with_only_impressions_raise_where_new_users_do(name):
    # they got every item scored 0, so the catalog in its order, with no
    # error, from the models that raise for users never seen
    clicks = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 4, 4, 5],
                           "item_id": list("dedeeceacd"[:9]), "weight": 1.0})
    shown = pd.DataFrame({"user_id": ["viewer", "viewer"], "item_id": ["a", "b"], "weight": 0.0})
    model = _models()[name].fit(pd.concat([clicks, shown], ignore_index=True))
    message = r"1 user has no interaction in fit \(e\.g\. \['viewer'\]: all their rows weigh 0"
    with pytest.raises(ValueError, match=message):
        model.recommend([1, "viewer"])
    with pytest.raises(ValueError, match=message):
        model.score(pd.DataFrame({"user_id": [1, "viewer"], "item_id": ["c", "c"]}))
    # their scores stay what they are (0: no interaction), e.g. to a hybrid
    np.testing.assert_array_equal(model.score_items(["viewer"]), 0)
    assert model.recommend([1], n=2).shape == (1, 2)
    if name == "als":  # the approximate search refuses them too
        pytest.importorskip("faiss")
        with pytest.raises(ValueError, match=message):
            model.recommend(["viewer"], approximate=True)


def test_a_user_never_seen_is_not_taken_for_the_first_user_of_fit():
    # the refusal looked up unknown users (row -1) at row 0: with an
    # impression-only user first, a new user got "no interaction in fit"
    X = pd.DataFrame({"user_id": ["a", "b", "b", "c", "c"], "item_id": [1, 1, 2, 2, 3],
                      "weight": [0.0, 1.0, 1.0, 1.0, 1.0]})
    model = ItemKNNRecommender().fit(X)
    assert model.users_[0] == "a" and model.n_user_interactions_[0] == 0
    with pytest.raises(ValueError, match=r"1 user ids were not seen in fit \(e\.g\. \['zz'\]\)"):
        model.recommend(["b", "zz"], n=2)


def test_the_refusal_counts_every_user_asked_for_before_scoring():
    # it ran per chunk, after scoring it, and counted that chunk's users only
    clicks = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": list("abab"), "weight": 1.0})
    shown = pd.DataFrame({"user_id": [f"v{k}" for k in range(5)], "item_id": "c", "weight": 0.0})
    model = ItemKNNRecommender().fit(pd.concat([clicks, shown], ignore_index=True))
    users = [1] + list(shown.user_id)
    with pytest.raises(ValueError, match=r"ItemKNNRecommender: 5 users have no interaction in fit"):
        model.recommend(users, batch_size=2)


def test_a_subclass_of_ones_own_ranks_users_with_only_impressions():
    # the refusal is for the models whose every score is 0 for such users; a
    # recommender written against BaseRecommender decides for itself
    from sklearn_zsrec import BaseRecommender

    class Counts(BaseRecommender):
        def _fit(self, data):
            self._index(data)
            return self

        def _scores(self, rows, users):
            counts = self.n_item_interactions_.astype(np.float32)
            return np.tile(counts, (len(rows), 1))

    X = pd.DataFrame({"user_id": [1, 1, 2, "viewer"], "item_id": list("abac"),
                      "weight": [1.0, 1.0, 1.0, 0.0]})
    model = Counts().fit(X)
    assert model.recommend(["viewer"], n=2).tolist() == [["a", "b"]]


def _shown_log(n_shown=300, shown_items=range(40, 50)):
    """800 clicks on items 0-39 of 60, and ``n_shown`` impressions of ``shown_items``."""
    rng = np.random.RandomState(0)
    clicks = pd.DataFrame({"user_id": rng.randint(0, 80, 800), "item_id": rng.randint(0, 40, 800),
                           "timestamp": np.arange(800), "weight": 1.0})
    shown = pd.DataFrame({"user_id": rng.randint(0, 80, n_shown),
                          "item_id": rng.choice(shown_items, n_shown),
                          "timestamp": np.arange(800, 800 + n_shown), "weight": 0.0})
    return pd.concat([clicks, shown], ignore_index=True)


def _fit_shown(X, **params):
    texts = pd.Series({i: f"A story about topic {i % 4}, item {i}." for i in range(60)})
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    return HybridRecommender(text, random_state=0, verbose=0, **params).fit(X)


def test_items_shown_often_and_never_picked_are_the_logs_tail_not_arrivals():
    # new_items="all" took every item without interactions for an arrival,
    # one shown to 30 users and picked by none too: 4.75% of every top-10
    # went to them, a quarter of the arrivals' quota, with no warning
    X = _shown_log()  # 800 of 1,100 pairs picked: 30 showings without a pick say "unwanted"
    users = np.arange(80)
    default, declared = _fit_shown(X), _fit_shown(X, new_items=list(range(50, 60)))
    top = default.recommend(users, n=10)
    np.testing.assert_array_equal(top, declared.recommend(users, n=10))
    assert np.shape(default.new_item_thresholds_)[0] == 2  # arrivals and tail, each its quota
    assert np.isin(top, range(50, 60)).mean() > 0.1  # the arrivals are served
    # the tail earns what the log's own next picks of unreached items earn: none here
    assert not np.isin(top, range(40, 50)).any()


def test_an_item_shown_to_a_few_users_without_a_pick_yet_stays_an_arrival():
    # a product shown to two users before the log ended: no pick says
    # nothing yet (one picked at the log's rate goes unpicked that often),
    # so it is served as an arrival, as if no row named it
    rng = np.random.RandomState(1)
    old = pd.DataFrame({"user_id": rng.randint(0, 80, 3000), "item_id": rng.randint(0, 40, 3000),
                        "timestamp": np.arange(3000), "weight": 0.0})  # picks: a third
    X = pd.concat([_shown_log(n_shown=2, shown_items=[40]), old], ignore_index=True)
    users = np.arange(80)
    default, declared = _fit_shown(X), _fit_shown(X, new_items=list(range(40, 60)))
    np.testing.assert_array_equal(default.recommend(users, n=10), declared.recommend(users, n=10))
    assert np.ndim(default.new_item_thresholds_) == 1  # one group: the arrivals


def test_items_never_picked_leave_the_arrivals_share_alone():
    # an arrival earns an average item's share: the average was taken over
    # every item of X, those shown and never picked too, which earn none;
    # 40 and then 160 of them cut 3 arrivals' share of the top-10 by half
    # and three quarters (0.074, 0.038, 0.018)
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.RandomState(0)
    shares = []
    for n_unpicked in (0, 40, 160):
        n = 40 + n_unpicked + 3  # 40 items picked, then the unpicked, then 3 arrivals
        texts = pd.Series({i: f"topic{i % 5} thing{i} word{i % 3}" for i in range(n)})
        clicks = pd.DataFrame({"user_id": rng.randint(0, 80, 1600),
                               "item_id": rng.randint(0, 40, 1600), "weight": 1.0})
        shown = pd.DataFrame({"user_id": rng.randint(0, 80, 20 * n_unpicked),
                              "item_id": rng.randint(40, 40 + max(n_unpicked, 1), 20 * n_unpicked),
                              "weight": 0.0})
        model = HybridRecommender(ZeroShotRecommender(TfidfVectorizer(), item_texts=texts),
                                  random_state=0, verbose=0).fit(pd.concat([clicks, shown]))
        shares.append(np.isin(model.recommend(np.arange(80), n=10), range(n - 3, n)).mean())
    # each as often as an average picked item: 3 x 1/40 of the picks (over
    # six seeds of this data, 0.070 to 0.089 with 160: the holdout's draws)
    np.testing.assert_allclose(shares, 3 / 40, rtol=0.1)


def _learned(texts, **params):
    """A learned hybrid of TF-IDF texts, next-item and cosine item-kNN (no ALS: its own test)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    text = ZeroShotRecommender(TfidfVectorizer(), item_texts=texts)
    return HybridRecommender(text, [("next", NextItemRecommender()),
                                    ("knn", ItemKNNRecommender(similarity="cosine"))],
                             random_state=0, verbose=0, **params)


def test_a_held_out_user_left_with_impressions_only_is_not_learned_from():
    # the learned blend holds out each user's latest interaction; a user whose
    # other interactions the holdout also took (a hidden item) but who had
    # impressions stayed in its refit with no item, and was learned from:
    # the blend changed with impressions (coef_ by 0.28 here). Impressions
    # here are of items nobody picked, never drawn as negatives
    from ._data import topic_catalog, topic_interactions

    texts, topics = topic_catalog()
    extra = [f"extra{k}" for k in range(30)]
    texts = pd.concat([texts, pd.Series({i: f"an extra item, number {i}" for i in extra})])
    X = topic_interactions(topics, users_per_topic=30, per_user=8)
    rng = np.random.RandomState(0)
    pairs = pd.DataFrame({"user_id": [f"two{k}" for k in range(80)] * 2,  # two picks each
                          "item_id": rng.choice(X.item_id.unique(), 160),
                          "timestamp": X.timestamp.max() + 1 + np.arange(160)})
    clicks = pd.concat([X, pairs], ignore_index=True).assign(weight=1.0)
    shown = pd.DataFrame({"user_id": np.repeat(pairs.user_id, 3).to_numpy(),
                          "item_id": rng.choice(extra, 480),
                          "timestamp": np.repeat(pairs.timestamp, 3).to_numpy() - 0.5,
                          "weight": 0.0})

    a, b = (_learned(texts, new_items=None).fit(data)
            for data in (clicks, pd.concat([clicks, shown], ignore_index=True)))
    assert a.blend_candidates_  # learned
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.blend_validation_ndcg_, b.blend_validation_ndcg_)


@pytest.mark.parametrize("name", list(_models()))
def test_users_and_items_with_impressions_only_change_no_other_score(name):
    # BM25 counted items only shown in its statistics (30 of them reordered 23
    # of 27 users' top-5), and implicit drew its random start for their rows
    # and those of users only shown items (every ALS score moved)
    from sklearn.base import clone

    rng = np.random.RandomState(0)
    clicks = pd.DataFrame({"user_id": np.r_[np.arange(N_USERS), rng.randint(0, N_USERS, 60)],
                           "item_id": np.r_[np.arange(N_USERS) % N_ITEMS,
                                            rng.randint(0, N_ITEMS, 60)],
                           "weight": 1.0}).assign(timestamp=lambda d: np.arange(len(d)))
    clicks = pd.concat([clicks, pd.DataFrame({"user_id": 0, "item_id": np.arange(N_ITEMS),
                                              "weight": 1.0, "timestamp": -1})])
    shown = pd.DataFrame({  # of clicked users and items, and users and items only shown
        "user_id": [*rng.randint(0, N_USERS, 40).tolist(), "v1", "v1", "v2", 3, 5],
        "item_id": [*rng.randint(0, N_ITEMS, 40).tolist(), 2, 100, 101, 101, 102],
        "weight": 0.0, "timestamp": rng.randint(0, 80, 45)})
    assert shown.user_id.map(type).eq(int).sum() == 42
    items = pd.concat([ITEM_TEXTS,
                       pd.Series({i: f"item number {i} topic 1" for i in (100, 101, 102)})])
    model = _models()[name]
    if name in ("text", "hybrid"):
        text = model if name == "text" else model.text
        text.set_params(item_texts=items)
    a, b = clone(model).fit(clicks), clone(model).fit(pd.concat([clicks, shown]))
    users = list(range(N_USERS))
    cols = pd.Index(b.items_).get_indexer(a.items_)
    np.testing.assert_allclose(b.score_items(users)[:, cols], a.score_items(users),
                               rtol=1e-5, atol=1e-5)


def test_users_only_shown_items_change_no_learned_blend_nor_warm_refit():
    # the learned blend drew which users keep a short history over every
    # user, and an ALS warm refit drew random starts for every row: users
    # only shown items moved every other user's draws (coef_ by 0.89)
    from ._data import topic_catalog, topic_interactions

    texts, topics = topic_catalog()
    clicks = topic_interactions(topics, users_per_topic=20, per_user=8).assign(weight=1.0)
    shown = pd.DataFrame({"user_id": [f"visitor{k}" for k in range(8) for _ in range(4)],
                          "item_id": np.resize(clicks.item_id.unique(), 32), "weight": 0.0,
                          "timestamp": clicks.timestamp.max() + 1})
    logged = pd.concat([clicks, shown], ignore_index=True)

    a, b = _learned(texts).fit(clicks), _learned(texts).fit(logged)
    assert a.blend_candidates_
    np.testing.assert_array_equal(a.coef_, b.coef_)
    users = clicks.user_id.unique()
    np.testing.assert_array_equal(a.score_items(users), b.score_items(users))

    first = clicks[clicks.user_id.isin(users[:30])]
    refits = []
    for data in (clicks, logged.assign(item_id=logged.item_id.where(logged.weight > 0, 999))):
        als = ALSRecommender(factors=4, iterations=2, random_state=0).fit(first)
        refits.append(als.set_params(warm_start=True).fit(data))
    cols = pd.Index(refits[1].items_).get_indexer(refits[0].items_)
    np.testing.assert_array_equal(refits[1].score_items(users)[:, cols],
                                  refits[0].score_items(users))


def test_impressions_of_the_previous_fit_change_no_warm_refit():
    # a warm refit started the users and items the previous fit knew only
    # from rows of weight 0 at factors 0, not at random as ids it never saw:
    # items shown in week 1 and clicked in week 2 moved every other user's
    # refit (27% of the top-5s after one sweep)
    rng = np.random.RandomState(0)
    clicks = pd.DataFrame({"user_id": rng.randint(0, 30, 300), "item_id": rng.randint(0, 20, 300),
                           "weight": 1.0})
    first = clicks[(clicks.user_id < 20) & (clicks.item_id < 15)]
    shown = pd.DataFrame({"user_id": [25, 25, 3, 4, 5, 6], "item_id": [1, 2, 15, 16, 17, 18],
                          "weight": 0.0})
    refits = []
    for log in (first, pd.concat([first, shown], ignore_index=True)):
        als = ALSRecommender(factors=4, iterations=1, random_state=0).fit(log)
        refits.append(als.set_params(warm_start=True).fit(clicks))
    users = list(range(30))
    np.testing.assert_array_equal(refits[1].score_items(users), refits[0].score_items(users))


@pytest.mark.parametrize("name", [*_models(), "spark"])
def test_a_log_without_any_interaction_is_refused_by_every_model_but_the_text_model(name):
    # with every row of weight 0, popularity and the fixed hybrid ranked the
    # catalog in its order, item-kNN warned from numpy inside implicit, and
    # Spark's ALS failed in Java ("No ratings available"); the text model
    # ranks users by their texts (the review of 26369a6: it was refused)
    from sklearn_zsrec import SparkALSRecommender

    model = SparkALSRecommender() if name == "spark" else _models()[name]
    X = pd.DataFrame({"user_id": [0, 0, 1, 2], "item_id": [0, 1, 1, 2]})
    if name == "text":  # each user as a new user of its text; shown items stay seen
        from sklearn.base import clone

        by_text = clone(model).fit(X, np.zeros(4))
        np.testing.assert_allclose(by_text.score_items([0]), by_text.score_items(
            ["new"], user_texts={"new": USER_TEXTS[0]}), rtol=1e-6)
        assert not np.isin(by_text.recommend([0], n=3), [0, 1]).any()
        return
    with pytest.raises(ValueError, match="X holds no interaction: its 4 rows all weigh 0"):
        model.fit(X, np.zeros(4))
    if name != "spark":  # one click is enough
        assert model.fit(X, [0, 0, 1.0, 0]).users_.tolist() == [0, 1, 2]


@pytest.mark.parametrize("split", ["LeaveLastOut", "train_test_split_last"])
def test_splitting_a_log_without_any_interaction_names_the_cause(split):
    # train_test_split_last said "use a smaller n_test" of n_test=1
    from sklearn_zsrec.model_selection import LeaveLastOut, train_test_split_last

    X = pd.DataFrame({"user_id": [0, 0, 1], "item_id": [0, 1, 1], "timestamp": [1, 2, 3]})
    with pytest.raises(ValueError, match=f"{split}: every row of X weighs 0"):
        if split == "LeaveLastOut":
            next(LeaveLastOut().split(X, np.zeros(3)))
        else:
            train_test_split_last(X, y=np.zeros(3))


def test_weights_past_a_million_beside_an_impression_keep_finite_proportional_scores():
    # the histories rescale weights past a million by the power of two at
    # the largest (exact); by the smallest (0: an impression) every score
    # was NaN (mutation round 14)
    X = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c", "c", "c", "d"],
                      "item_id": [1, 2, 1, 3, 2, 3, 4, 4],
                      "weight": [2e6, 3.0, 5.0, 1.0, 1.0, 4.0, 0.0, 1.0],
                      "timestamp": range(8)})
    knn = ItemKNNRecommender(half_life=None).fit(X)
    got = knn.score_items(["a", "b", "c"])
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, (knn.user_items_[:3] @ knn.similarity_).toarray() / 2.0**21,
                               rtol=1e-4, atol=1e-12)


@pytest.mark.parametrize("seed", [4, 7, 12, 16])
def test_a_learned_blend_whose_holdout_refit_keeps_only_impressions_falls_back(seed):
    # the holdout's refit (latest clicks held out, hidden items out) can keep
    # rows of weight 0 only: its members refused it as "X holds no
    # interaction", naming the user's X of 8 clicks (the review of 26369a6)
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = pd.Series({i: f"item {name} text" for i, name in
                       enumerate(["alpha", "beta", "gamma", "delta", "eps"])})
    X = pd.DataFrame([row for u in range(4) for row in
                      [(u, 0, 1, 1.0), (u, 1 + u, 2, 1.0), (u, (u + 2) % 4 + 1, 0, 0.0)]],
                     columns=["user_id", "item_id", "timestamp", "weight"])
    model = HybridRecommender(ZeroShotRecommender(TfidfVectorizer(), item_texts=texts),
                              [("knn", ItemKNNRecommender())], random_state=seed, verbose=0)
    with pytest.warns(UserWarning, match="fixed blend"):
        model.fit(X)
    assert model.recommend([0], n=2).shape == (1, 2)


def test_users_only_shown_items_change_no_new_item_quota_of_the_learned_blend():
    # the new items' thresholds were set over every user, those only shown
    # items too (in the shortest-history bin): two such visitors moved the
    # thresholds from 3.34 to 2.35 and put an item without interactions into
    # another user's top-10 (the Spark-in-the-hybrid hunt)
    from ._data import topic_catalog, topic_interactions

    texts, topics = topic_catalog()  # an item of the catalog has no interaction
    X = topic_interactions(topics).assign(weight=1.0)
    shown = pd.DataFrame({"user_id": ["visitor1", "visitor1", "visitor2"],
                          "item_id": [103, 120, 140], "weight": 0.0,
                          "timestamp": X.timestamp.max()})
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    a, b = (HybridRecommender(text, [("als", ALSRecommender(factors=4, iterations=5,
                                                             random_state=0)),
                                     ("knn", ItemKNNRecommender())],
                              random_state=0, verbose=0).fit(data)
            for data in (X, pd.concat([X, shown], ignore_index=True)))
    assert len(texts) > X.item_id.nunique() and np.isfinite(a.new_item_thresholds_).all()
    np.testing.assert_array_equal(b.new_item_thresholds_, a.new_item_thresholds_)
    users = list(X.user_id.unique())
    cols = pd.Index(b.items_).get_indexer(a.items_)
    np.testing.assert_array_equal(b.score_items(users)[:, cols], a.score_items(users))
