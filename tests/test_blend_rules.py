"""Small rules of the learned blend, pinned against their documentation.

A mutation hunt changed each of these by a one-line slip with every other
test passing; each test here states its rule independently of the code.
"""

import types

import numpy as np
import pytest

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
    X, users, model = _readers(10)
    model.fit(X)
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


def test_of_two_equally_good_candidates_the_simpler_wins():
    # identical gains are within one standard error (0) of each other: the
    # simpler one wins (a mutation hunt: a strict "< se" picked the 20-term
    # blend over one term), through clear_winner too
    g = np.random.RandomState(0).rand(300)
    gains = np.stack([g, g, g * 0.5])
    simplicity = np.array([1, 0, 0])
    assert _choice.one_se_choice(gains, simplicity) == 1
    assert _choice.clear_winner(gains, 2, simplicity) == 1


def test_a_bin_without_evidence_keeps_the_default():
    # "more than CLEAR_WIN_SE standard errors": where no candidate ranks any
    # held-out item in the top 10 (every gain 0), or where the simpler ones
    # score exactly as the default, the bin keeps its default (a mutation
    # hunt: ">=" moved such a bin to popularity on no evidence)
    simplicity = np.array([3, 2, 1, 0])
    assert _choice.clear_winner(np.zeros((4, 60)), 1, simplicity) == 1
    g = np.random.RandomState(0).rand(60)
    assert _choice.clear_winner(np.stack([g * 0.9, g, g, g]), 1, simplicity) == 1


def test_popularity_is_the_simplest_fixed_candidate():
    # fixed_candidates: "popularity cannot overfit": it alone has the lowest
    # simplicity, so the one-SE rule picks it within one standard error of
    # the best (a mutation hunt: made as simple as a single term, it lost
    # to the best single term)
    blend = types.SimpleNamespace(
        names=["als", "als_recent", "knn", "popularity", "text_gated", "text_new"],
        fitted=types.SimpleNamespace(factor_names=["als"], score_names=["knn"]))
    fixed = _choice.fixed_candidates(blend)
    simplicity = {name: s for name, _, s in fixed}
    assert simplicity["popularity"] < min(s for n, s in simplicity.items() if n != "popularity")
    rng = np.random.RandomState(0)
    common = rng.rand(400) * 0.3
    gains = np.stack([common + rng.normal(0, 0.05, 400) for _ in fixed])
    best = int(np.argmax(gains.mean(axis=1)))
    pop = [name for name, _, _ in fixed].index("popularity")
    gains[pop] = gains[best] - 0.002 + rng.normal(0, 0.05, 400)  # within one SE of the best
    gains[pop] += gains[best].mean() - 0.002 - gains[pop].mean()
    assert gains[best].mean() > gains[pop].mean()
    assert _choice.one_se_choice(gains, np.array([s for _, _, s in fixed])) == pop


def _linear_catalogue(n_warm, n_cold, member_items, dims=8, seed=0):
    """A text member of ``n_warm`` items with interactions and ``n_cold`` without, and a
    factor member over ``member_items`` whose item factors are exactly ``emb @ W``."""
    rng = np.random.RandomState(seed)
    emb = rng.normal(size=(n_warm + n_cold, dims)).astype(np.float32)
    W = (rng.normal(size=(dims, 4)) * 0.1).astype(np.float32)
    n = np.r_[rng.randint(1, 50, n_warm), np.zeros(n_cold, int)]
    text = types.SimpleNamespace(items_=np.arange(len(n)), n_item_interactions_=n,
                                 item_embeddings_=emb)
    member = types.SimpleNamespace(items_=np.asarray(member_items),
                                   item_factors_=emb[member_items] @ W,
                                   user_factors_=np.ones((3, 4), np.float32))
    return text, member, emb @ W


def test_text_maps_are_fitted_on_items_every_factor_member_knows():
    # a factor member lacking 5 of the 25 items with interactions (a filter
    # of its own) has them filled in with its mean factor; the maps fitted
    # on those rows too gave new items factors at cosine 0.79-0.92 to the
    # true ones (a mutation hunt). Factors linear in the text: the new
    # items' mapped factors are the true ones
    from sklearn_zsrec._hybrid._item_side import factor_scale, item_side

    text, member, truth = _linear_catalogue(25, 5, np.arange(20))
    side = item_side(text, {"als": member})
    got = side["factors"]["als"][25:] / factor_scale("als", member, "item_factors_")
    np.testing.assert_allclose(got, truth[25:], atol=0.01)


def test_text_maps_choose_their_alpha_by_leave_one_out_from_min_map_items_on():
    # "with fewer items with interactions than MIN_MAP_ITEMS ... the maps
    # take MAP_ALPHA": at exactly MIN_MAP_ITEMS each block's alpha is
    # RidgeCV's leave-one-out choice among MAP_ALPHAS (a mutation hunt: "<="
    # took 5.0 there and shrank the new items' factors)
    from sklearn.linear_model import RidgeCV

    from sklearn_zsrec._hybrid import _item_side

    n = _item_side.MIN_MAP_ITEMS
    text, member, _ = _linear_catalogue(n, 3, np.arange(n), dims=4)
    maps = _item_side.item_side(text, {"als": member})["maps"]
    x = text.item_embeddings_[:n].astype(np.float64)
    log_n = np.log1p(text.n_item_interactions_[:n])
    scale = _item_side.factor_scale("als", member, "item_factors_")
    for name, y in (("popularity", log_n - log_n.mean()),
                    ("als", member.item_factors_.astype(np.float64) * scale)):
        expected = RidgeCV(alphas=_item_side.MAP_ALPHAS, fit_intercept=False).fit(x, y).alpha_
        assert maps["alphas"][name] == pytest.approx(expected)
    assert maps["alphas"]["als"] != _item_side.MAP_ALPHA
    text, member, _ = _linear_catalogue(n - 1, 3, np.arange(n - 1), dims=4)
    maps = _item_side.item_side(text, {"als": member})["maps"]
    assert maps["alphas"] == {"popularity": _item_side.MAP_ALPHA, "als": _item_side.MAP_ALPHA}


def test_each_bin_of_its_own_is_refitted_on_its_own_samples():
    # "one blend over all samples, refitted per bin in own_bins": bin 0's
    # positives follow term 0, bin 1's term 1; the pooled fit weighs both
    rng = np.random.RandomState(0)
    x = rng.randn(4000, 2).astype(np.float32)
    groups = np.repeat([0, 1], 2000)
    logit = np.where(groups == 0, 3 * x[:, 0], 3 * x[:, 1])
    labels = (rng.rand(4000) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    coef, pooled = _learn.Learner(1.0, rng).fit_blends(x, labels, groups, own_bins=[0, 1])
    assert coef[0, 0] > 2.0 and abs(coef[0, 1]) < 0.5
    assert coef[1, 1] > 2.0 and abs(coef[1, 0]) < 0.5
    weights = pooled.coef_.ravel()
    assert 0.5 < weights[0] < 2.0 and 0.5 < weights[1] < 2.0


def test_a_neighbour_count_of_at_least_the_known_users_is_capped_as_auto_is():
    # below 50 users with texts, an int of n or more was capped at n (from 50
    # at n - 1, as "auto"): each known user scored as if new, for the new
    # items' thresholds, took itself as its last neighbour
    X, users, model = _readers(4)
    assert len(users) < 50
    for count, expected in ((len(users) + 5, len(users) - 1), (len(users), len(users) - 1),
                            (3, 3)):
        assert model.set_params(user_neighbors=count).fit(X).user_neighbors_ == expected


def _readers(users_per_topic):
    """A topic log, its users, and a fixed hybrid whose user texts say nothing of them."""
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer

    from sklearn_zsrec import HybridRecommender, ItemKNNRecommender, ZeroShotRecommender

    from ._data import topic_catalog, topic_interactions

    texts, topics = topic_catalog(items_per_topic=15)
    X = topic_interactions(topics, users_per_topic=users_per_topic, per_user=6)
    users = pd.unique(X.user_id)
    user_texts = pd.Series({u: f"Reader number {k}." for k, u in enumerate(users)})
    text = ZeroShotRecommender(TfidfVectorizer(), item_texts=texts, user_texts=user_texts)
    return X, users, HybridRecommender(text, [("knn", ItemKNNRecommender())], blend="fixed",
                                       random_state=0, verbose=0)


def test_an_infinite_margin_is_not_above_an_infinite_threshold():
    # share * k whole (threshold inf): no group gets one more, even for a user
    # whose old items run out (margin inf); the slots left go to the groups in
    # order (arrivals first), not one to each group (round 14: margin >= it)
    k = 10
    old = np.array([[5.0, 4.0]])
    arrivals, tail = np.linspace(3.0, 2.0, 10)[None], np.linspace(3.5, 2.5, 10)[None]
    offsets, _ = _exposure.group_offsets(old, [arrivals, tail], [0.2, 0.1], k, [np.inf, np.inf])
    scores = np.r_[old[0], arrivals[0] + offsets[0, 0], tail[0] + offsets[0, 1]]
    top = np.argsort(-scores, kind="stable")[:k]
    assert ((top < 2).sum(), ((top >= 2) & (top < 12)).sum(), (top >= 12).sum()) == (2, 7, 1)
