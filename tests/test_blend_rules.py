"""Small rules of the learned blend, pinned against their documentation.

A mutation hunt changed each of these by a one-line slip with every other
test passing; each test here states its rule independently of the code.
"""

import types

import numpy as np

from sklearn_zsrec._hybrid import _choice, _exposure, _learn
from sklearn_zsrec._hybrid._blend import HISTORY_BINS

K = 10
CUM = np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(2, K + 2)))]


def test_tied_gain_places_the_relevant_item_among_its_ties():
    # first alone: gain 1; four-way tie at the top: any of positions 1-4;
    # two items above it: position 3
    score = np.array([[5.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 0.5]])
    gain = _choice.tied_gain(score, score[:, [0]], CUM, K)
    expected = [1.0, np.mean(1 / np.log2(np.arange(2, 6))), 1 / np.log2(4)]
    np.testing.assert_allclose(gain, expected)


def test_among_equally_simple_candidates_within_one_se_the_best_mean_wins():
    rng = np.random.RandomState(0)
    common = rng.rand(400) * 0.2
    gains = np.stack([common + rng.normal(0, 0.05, 400) + d for d in (0.0, 0.001, -0.001)])
    assert _choice.one_se_choice(gains, np.array([1, 1, 1])) == 1  # the best mean
    # a simpler candidate within reach wins over the best
    assert _choice.one_se_choice(gains, np.array([1, 1, 0])) == 2


def test_users_of_the_first_bin_count_as_short_up_to_its_last_length():
    # the first bin is 1-3 interactions: users of exactly 3 are short
    edge = HISTORY_BINS[0]
    lengths = np.array([edge] * 100 + [20] * 100)
    assert _learn.share_held(lengths) == _learn.HELD_SHARE < 1
    assert _learn.share_held(np.array([edge + 1] * 100 + [20] * 100)) == 1.0


def test_exposure_past_a_whole_top_10_keeps_the_groups_rates_ratio(monkeypatch):
    # arrivals at 0.3 and the tail at 0.2, exposure 3: 1.5 of a top-10 asked;
    # the shares are scaled down together to fill it, 0.6 and 0.4
    n_items = np.array([5, 3, 2, 4, 0, 0, 0, 0, 0, 0])
    fresh = np.array([False] * 4 + [True] * 3 + [False] * 3)
    blend = types.SimpleNamespace(fitted=types.SimpleNamespace(n_items=n_items))
    monkeypatch.setattr(_exposure, "thresholds",
                        lambda blend, coef, groups, shares, rng, k=10: np.full((len(groups), 4),
                                                                              np.inf))
    exposure = _exposure.Exposure(arrival=(0.3, 3), tail_share=0.2, exposure=3.0)
    exposure.fit(blend, None, fresh, None)
    np.testing.assert_allclose(exposure.shares_, [0.6, 0.4])
    np.testing.assert_allclose(exposure.share_, 1.0)


def test_text_maps_give_each_factor_member_its_own_block_of_columns():
    # two factor members: the second read the first one's block when the
    # running column offset was not advanced (a mutation hunt)
    from sklearn_zsrec._hybrid._item_side import text_mapped

    rng = np.random.default_rng(0)
    emb, coef = rng.normal(size=(4, 5)), rng.normal(size=(5, 1 + 2 + 3))
    maps = {"coef": coef, "log_std": 2.0, "dims": {"a": 2, "b": 3}}
    popularity, mapped = text_mapped(maps, emb)
    out = emb @ coef
    np.testing.assert_allclose(popularity, out[:, 0] / 2.0, rtol=1e-6)
    np.testing.assert_allclose(mapped["a"], out[:, 1:3], rtol=1e-6)
    np.testing.assert_allclose(mapped["b"], out[:, 3:6], rtol=1e-6)


def test_a_new_users_popularity_prior_holds_smoothing_times_neighbours_users_worth():
    # TextNeighbours: log(1 + hits + prior), prior smoothing_ * n_neighbors_
    # users' worth of popularity; without the count it held one user's worth
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer

    from sklearn_zsrec import HybridRecommender, ItemKNNRecommender, ZeroShotRecommender

    rng = np.random.RandomState(0)
    items = pd.Series({i: f"topic{i % 3} thing{i}" for i in range(12)})
    users = [f"u{k}" for k in range(30)]
    X = pd.DataFrame({"user_id": rng.choice(users, 150), "item_id": rng.randint(0, 11, 150)})
    # item 11: of a user without a text, so no text neighbour has it (hits 0)
    X = pd.concat([X, pd.DataFrame({"user_id": ["loner"] * 2, "item_id": [11, 0]})])
    texts = pd.Series({u: f"likes topic{k % 3}" for k, u in enumerate(users)})
    text = ZeroShotRecommender(TfidfVectorizer(), item_texts=items, user_texts=texts)
    model = HybridRecommender(text, [("knn", ItemKNNRecommender())], blend="fixed",
                              user_neighbors=5, random_state=0, verbose=0).fit(X)
    why = model.explain("newbie", [11], user_texts={"newbie": "likes topic1"})
    assert list(why.source) == ["text neighbours"]
    per_user = model.n_item_interactions_[list(model.items_).index(11)] / len(model.users_)
    prior = model.user_neighbors_smoothing_ * model.user_neighbors_ * per_user
    assert model.user_neighbors_ == 5
    np.testing.assert_allclose(why.contribution, np.log1p(prior), rtol=1e-6)


def test_new_users_neighbour_count_is_judged_on_the_others_only():
    # known users are scored as if new "each from the others' items": with n
    # of them, n - 1 at most; a count of n took each user itself as its last
    # neighbour, its own items as hits, and won on texts that say nothing
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer

    from sklearn_zsrec import HybridRecommender, ItemKNNRecommender, ZeroShotRecommender

    from ._data import topic_catalog, topic_interactions

    texts, topics = topic_catalog(items_per_topic=15)
    X = topic_interactions(topics, users_per_topic=10, per_user=6)
    users = pd.unique(X.user_id)
    user_texts = pd.Series({u: f"Reader number {k}." for k, u in enumerate(users)})
    text = ZeroShotRecommender(TfidfVectorizer(), item_texts=texts, user_texts=user_texts)
    model = HybridRecommender(text, [("knn", ItemKNNRecommender())], blend="fixed",
                              random_state=0, verbose=0).fit(X)
    assert 50 <= len(users) < 100  # "auto" judges 10, 25, 50 and n - 1
    assert model.user_neighbors_ <= len(users) - 1


def test_raising_unseen_items_costs_the_held_out_items_they_pass():
    # new_items=None: the tail's slots are kept only as far as the holdout's
    # NDCG@k says they pay; a raised unseen item that passes a held-out item
    # with interactions pushes it down (left out, promoting looked free)
    k = 3
    old_top = np.array([[6.0, 5.0, 1.0, 0.0], [6.0, 5.0, 3.0, 1.0]])
    new_top = np.array([[4.5, 2.0, 1.0, 0.0], [4.5, 2.0, 1.0, 0.0]])
    target = np.array([5.0, 2.0])  # row 0: an item with interactions; row 1: unseen
    unseen = np.array([False, True])

    def gains(offsets):
        return _exposure.offset_gains(old_top, new_top, target, unseen, np.array(offsets), k)

    # no offset: row 0 behind 6 (second), row 1 behind 6, 5, 3 and 4.5 (out)
    np.testing.assert_allclose(gains([0.0, 0.0]), [1 / np.log2(3), 0.0])
    # row 0: 4.5 + 1 passes it (third); row 1 raised to 4.5: behind 6, 5 and 4.5 (out)
    np.testing.assert_allclose(gains([1.0, 2.5]), [1 / np.log2(4), 0.0])
    # row 0: both unseen items pass it (out); row 1 raised to 6: behind 4.5 + 4 only
    np.testing.assert_allclose(gains([4.0, 4.0]), [0.0, 1 / np.log2(3)])


def test_a_groups_extra_slot_goes_by_its_margin_over_the_last_old_item_kept():
    # group_offsets: floor(share * k) new items each, one more where the
    # group's next item minus the last old item in the top-k (the old items
    # holding the others' slots) is above the threshold; measured against
    # the first old item left out instead, user 0 got the extra slot too
    k, share = 3, 0.5  # one new item each, and one more above the threshold
    old = np.array([[10.0, 9.0, 8.0, 7.0], [10.0, 9.0, 8.0, 7.0]])
    new = np.array([[20.0, 8.5, 0.0, 0.0], [20.0, 9.5, 0.0, 0.0]])
    offsets, _ = _exposure.group_offsets(old, [new], [share], k, [0.0])
    # in the top-3 of the old items and the offset new ones: 8.5 - 9 < 0, 9.5 - 9 > 0
    scores = np.concatenate([old, new + offsets[:, [0]]], axis=1)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    assert (top >= old.shape[1]).sum(axis=1).tolist() == [1, 2]  # new items in each top-3


def test_users_cut_short_while_learning_keep_one_of_the_documented_lengths(monkeypatch):
    # SHORT_HISTORY_FRACTION of the users keep their last few interactions,
    # SHORT_HISTORIES of them (1, 2, 3, ...): each cut one less (0, 1, 2, ...)
    import pandas as pd

    from sklearn_zsrec._fine_tune import NoTrainingPairs
    from sklearn_zsrec._interactions import check_interactions

    rng = np.random.RandomState(0)
    X = pd.DataFrame([(f"u{u}", int(i), t) for u in range(300)
                      for t, i in enumerate(rng.choice(200, 25, replace=False))],
                     columns=["user_id", "item_id", "timestamp"])
    data = check_interactions(X)
    monkeypatch.setattr(_learn, "NEW_ITEM_FRACTION", 0.0)  # the warm-up's cut alone
    refit = {}

    def fit_blend(rows):  # records the holdout's refit rows, then stops
        refit["rows"] = rows
        raise NoTrainingPairs("recorded")

    _learn.Learner(1.0, np.random.RandomState(0)).learn(data, fit_blend, held_share=1.0,
                                                       again=False)
    kept = pd.Series(refit["rows"].user_id).value_counts().reindex(X.user_id.unique(),
                                                                   fill_value=0)
    cut = kept[kept < 24]  # every user holds out 1 of its 25; the others keep 24
    assert len(cut) > 0.2 * len(kept)
    assert set(cut) == set(_learn.SHORT_HISTORIES.tolist()), sorted(set(cut))


def test_quotas_past_the_whole_top_k_take_the_slot_from_the_tail_not_the_arrivals():
    # floor(0.55 * 10) + 1 arrivals and floor(0.45 * 10) + 1 tail items make
    # 11 slots of 10: the tail (the last group) yields one, the declared
    # arrivals keep theirs (the slot came from the arrivals, a mutation hunt)
    k = 10
    rng = np.random.RandomState(0)
    old, arrivals, tail = (np.sort(rng.rand(2, k + 1))[:, ::-1] for _ in range(3))
    offsets, _ = _exposure.group_offsets(old, [arrivals, tail], [0.55, 0.45], k,
                                         [-np.inf, -np.inf])  # every user its extra slot
    scores = np.concatenate([old, arrivals + offsets[:, [0]], tail + offsets[:, [1]]], axis=1)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    group = np.repeat([0, 1, 2], k + 1)[top]  # old, arrivals, tail
    assert [(group == g).sum(axis=1).tolist() for g in (1, 2)] == [[6, 6], [4, 4]]
