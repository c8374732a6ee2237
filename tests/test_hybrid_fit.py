"""HybridRecommender.fit: CF fits reused across grid candidates, and the blend choice."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_zsrec import (ALSRecommender, HybridRecommender, ItemKNNRecommender,
                           NextItemRecommender, TextEncoder, ZeroShotRecommender)
from sklearn_zsrec import _history, _next_item
from collections import OrderedDict

import pandas as pd

from sklearn_zsrec._hybrid import _choice, _exposure, _learn, _memo
from sklearn_zsrec._hybrid._blend import HISTORY_BINS
from sklearn_zsrec._next_item import item_transitions
from sklearn_zsrec.datasets import make_synthetic_interactions
from sklearn_zsrec.model_selection import LeaveLastOut

from ._data import topic_catalog, topic_interactions
from ._tiny import tiny_model_path
from ._members import cf_members

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)


# how simple the candidates of the default members are: the own fit, the
# global fit, cf, cf_recent, knn, next, their sum, popularity, popularity +
# text, knn + next
_SIMPLICITY = np.array([3, 2, 1, 1, 1, 1, 1, 0, 1, 1])


def _hybrid(cf_random_state=0, **params):
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS)
    als = ALSRecommender(factors=8, iterations=5, random_state=cf_random_state)
    params.setdefault("members", cf_members(als))
    return HybridRecommender(text, random_state=0, **params)


@pytest.fixture
def als_fits(monkeypatch):
    """Count ALSRecommender fits, starting from an empty memo."""
    monkeypatch.setattr(_memo, "_FIT_MEMO", OrderedDict())
    return _count_calls(monkeypatch, ALSRecommender, "fit")


def _count_calls(monkeypatch, owner, name):
    """Patch ``owner.name`` to record its calls; returns the list of calls."""
    calls = []
    original = getattr(owner, name)

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


def test_refit_on_the_same_data_reuses_the_cf_fits_and_gives_the_same_model(als_fits):
    first = _hybrid().fit(X)
    n_first = len(als_fits)
    assert n_first == 2  # the final model and the holdout's
    # another blend parameter: the same CF fits, nothing refitted
    second = _hybrid(C=0.1).fit(X)
    assert len(als_fits) == n_first
    np.testing.assert_array_equal(first.named_members_.cf.item_factors_, second.named_members_.cf.item_factors_)
    assert first.named_members_.cf is not second.named_members_.cf  # a copy: one model cannot change the other
    with pytest.raises(ValueError, match="read-only"):  # shared arrays: a change raises
        second.named_members_.cf.item_factors_[:] = 0
    third = _hybrid().fit(X)
    np.testing.assert_array_equal(first.coef_, third.coef_)
    np.testing.assert_array_equal(first.recommend(X.user_id.unique()),
                                  third.recommend(X.user_id.unique()))


def test_other_data_or_cf_parameters_are_fitted_anew(als_fits):
    _hybrid().fit(X)
    n = len(als_fits)
    _hybrid().fit(X.iloc[:-3])  # other rows
    assert len(als_fits) == n + 2
    _hybrid().set_params(cf__factors=4).fit(X)  # other CF parameters
    assert len(als_fits) == n + 4


def test_cf_without_a_fixed_seed_is_never_reused(als_fits):
    _hybrid(cf_random_state=None).fit(X)
    _hybrid(cf_random_state=None).fit(X)
    assert len(als_fits) == 4


def test_grid_over_blend_parameters_fits_the_cf_once_per_split(als_fits):
    grid = GridSearchCV(clone(_hybrid()), {"C": [0.1, 1.0], "switch": [1.0, 2.0]},
                        cv=LeaveLastOut(n_splits=1), refit=False).fit(X)
    assert len(grid.cv_results_["params"]) == 4
    assert len(als_fits) == 2  # one split: its final and holdout fits, once


def test_a_three_fold_grid_over_blend_parameters_fits_the_cf_once_per_split(als_fits):
    # GridSearchCV runs every split of a candidate before the next: with 4
    # entries per kind the memo had dropped a split's fits before the next
    # candidate came back to them (sklearn's default cv=5: no reuse at all)
    GridSearchCV(clone(_hybrid()), {"switch": [1.0, 2.0, 4.0]},
                 cv=LeaveLastOut(n_splits=3), refit=False).fit(X)
    assert len(als_fits) == 6  # each split's final and holdout fits, once


def test_the_fit_memo_keeps_its_memory_bound(monkeypatch):
    monkeypatch.setattr(_memo, "_FIT_MEMO", OrderedDict())
    monkeypatch.setattr(_memo, "_SIZES", {})
    monkeypatch.setattr(_memo, "_FIT_MEMO_BYTES", 3_000)
    for k in range(5):  # 1,200 bytes each: two fit the bound
        _memo.memoized(("kind", k), lambda: np.zeros(150), shared=True)
        assert sum(_memo._SIZES.values()) <= 3_000 and ("kind", k) in _memo._FIT_MEMO
    assert list(_memo._FIT_MEMO) == [("kind", 3), ("kind", 4)]


def test_grid_over_n_neighbors_keeps_the_cf_fits_and_each_similarity(als_fits, monkeypatch):
    # 2 n_neighbors x 2 fits per candidate (holdout and final): 4 similarities,
    # which with the 2 CF fits are more entries than the memo keeps of one kind
    from sklearn_zsrec import _item_knn

    similarities = _count_calls(monkeypatch, _item_knn, "item_similarity")
    grid = {"knn__n_neighbors": [5, 10], "C": [0.1, 1.0]}
    GridSearchCV(clone(_hybrid()), grid, cv=LeaveLastOut(n_splits=1), refit=False).fit(X)
    assert len(als_fits) == 2
    assert len(similarities) == 4  # each computed once, reused by the second C


def test_grid_over_blend_parameters_fits_the_text_model_once_per_data(als_fits, monkeypatch):
    # the text model, the CF factors of new items and the text bridge do not
    # depend on the item-kNN member or the blend: one fit per split and data
    text_fits = _count_calls(monkeypatch, ZeroShotRecommender, "_fit")
    grid = {"knn__n_neighbors": [5, 10], "switch": [1.0, 2.0]}
    GridSearchCV(clone(_hybrid()), grid, cv=LeaveLastOut(n_splits=1), refit=False).fit(X)
    assert len(text_fits) == 2  # the split's holdout and final fits
    assert len(als_fits) == 2


def test_reused_text_model_is_shared_read_only(als_fits):
    first, second = _hybrid().fit(X), _hybrid(switch=3.0).fit(X)
    assert first.text_ is not second.text_  # own objects ...
    assert first.text_.item_embeddings_ is second.text_.item_embeddings_  # ... shared arrays
    with pytest.raises(ValueError, match="read-only"):
        second.text_.item_embeddings_[:] = 0  # an in-place change cannot leak into first
    np.testing.assert_array_equal(second.recommend(X.user_id.unique()),
                                  clone(second).fit(X).recommend(X.user_id.unique()))


def test_blend_choice_is_the_simplest_within_one_standard_error():
    rng = np.random.RandomState(0)
    n = 400
    gains = rng.rand(8, n) * 0.2
    gains[0] += 0.02  # the own fit: best mean, by less than the noise
    gains[4] += 0.015  # knn: one term, close to it
    assert _choice.one_se_choice(gains, _SIMPLICITY[:8]) == 4
    gains[7] = gains[4]  # popularity as good: simpler still
    assert _choice.one_se_choice(gains, _SIMPLICITY[:8]) == 7
    clear = rng.rand(8, n) * 0.01
    clear[0] += 0.5  # far ahead: the own fit is kept
    assert _choice.one_se_choice(clear, _SIMPLICITY[:8]) == 0
    # among equally simple candidates within reach, the best mean
    tied = np.tile(rng.rand(n) * 0.2, (8, 1))
    tied[[0, 1, 5, 6, 7]] -= 1.0  # of the one-term candidates, 2, 3 and 4 stay
    tied[3] += 0.001
    assert _choice.one_se_choice(tied, _SIMPLICITY[:8]) == 3


def test_fitted_blends_are_judged_on_the_users_they_were_not_fitted_on(monkeypatch):
    # a mock of our own fitting step: each fold's blends (fitted without the
    # other fold's users, ``start`` given) are replaced by zeros, which tie
    # every item; the blend choice must score the fitted candidates with them
    original = _learn.Learner.fit_blends

    def zero_folds(self, features, labels, groups, own_bins, start=None):
        coef, pooled = original(self, features, labels, groups, own_bins, start)
        return (np.zeros_like(coef) if start is not None else coef), pooled

    honest = _hybrid().fit(X).blend_validation_ndcg_
    monkeypatch.setattr(_learn.Learner, "fit_blends", zero_folds)
    model = _hybrid().fit(X)
    judged = model.blend_validation_ndcg_
    used = honest.any(axis=1)
    assert used.any()
    # the single terms are judged as before; the fitted ones fall to chance
    np.testing.assert_allclose(judged[:, 2:], honest[:, 2:])
    n_candidates = len(model.items_) - 6  # minus the seen items, about
    assert (judged[used, :2] < 2 * 10 / n_candidates).all()
    assert (honest[used, :2] > 2 * 10 / n_candidates).all()


def test_each_fold_is_judged_by_the_blend_fitted_on_the_other_fold(monkeypatch):
    # zeroing both folds' blends (above) cannot tell them apart: judged in
    # sample instead of out of fold still left every fitted candidate at
    # chance (a mutation hunt). Here only the blend fitted on fold 1's users
    # (cross[0], fitted first) ties every item: out of fold, only the users
    # of fold 0 fall to chance.
    original_fit, original_select = _learn.Learner.fit_blends, _learn.Learner.select
    fits, seen = [], {}

    def zero_first_fold(self, features, labels, groups, own_bins, start=None):
        coef, pooled = original_fit(self, features, labels, groups, own_bins, start)
        if start is not None:
            fits.append(1)
            if len(fits) % 2 == 1:
                return np.zeros_like(coef), pooled
        return coef, pooled

    def spy_select(self, holdout, coef, cross, fold, out, k=10):
        seen.setdefault("fold", fold)
        return original_select(self, holdout, coef, cross, fold, out, k)

    gains = []

    def recording(score, target, cum, k):
        gain = _choice.tied_gain(score, target, cum, k)
        gains.append(gain)
        return gain

    monkeypatch.setattr(_learn.Learner, "fit_blends", zero_first_fold)
    monkeypatch.setattr(_learn.Learner, "select", spy_select)
    monkeypatch.setattr(_learn, "tied_gain", recording)
    _hybrid().fit(X)
    own, fold = gains[0], seen["fold"]  # candidate 0, "own fit", of the first chunk
    assert len(own) == len(fold) and set(np.unique(fold)) == {0, 1}
    chance = 2 * 10 / (len(X.item_id.unique()) - 6)
    assert own[fold == 0].mean() < chance < own[fold == 1].mean()


def test_every_history_bin_holds_the_new_items_share():
    texts, topics = topic_catalog(items_per_topic=30)
    rng = np.random.RandomState(0)
    rows = []
    for user in range(240):  # half with 2 interactions, half with 12
        pool = topics.index[topics == topics.unique()[user % 6]].to_numpy()[:20]  # 10 unseen
        for t, item in enumerate(rng.choice(pool, size=2 if user % 2 else 12, replace=False)):
            rows.append((f"u{user}", item, t))
    data = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    model = HybridRecommender(text, cf_members(ALSRecommender(factors=8, iterations=5, random_state=0)),
                              new_items="all", random_state=0).fit(data)
    assert model.new_item_share_ > 0.05
    new = ~np.isin(model.items_, data.item_id)
    users = data.user_id.unique()
    bins = np.searchsorted(HISTORY_BINS, model.n_user_interactions_[model._rows(users, "user")])
    assert set(bins) == {0, 2}  # 2 and 12 interactions: two bins of 120 users
    top = model.recommend(users, n=10)
    # every user: floor(share * 10) new items, or one more
    per_user = new[model._rows(top.ravel(), "item")].reshape(top.shape).sum(axis=1)
    base = int(np.floor(model.new_item_share_ * 10))
    assert set(per_user) <= {base, base + 1}
    for b in (0, 2):
        share = new[model._rows(top[bins == b].ravel(), "item")].mean()
        # (one offset for all users gave 0.237 and 0.200 here)
        assert abs(share - model.new_item_share_) < 0.01, (b, share, model.new_item_share_)


def test_quota_offsets_give_each_user_its_share_of_the_top_k():
    rng = np.random.RandomState(0)
    old, new = rng.randn(300, 6), rng.randn(300, 6) - 1.0
    old[:5, 3:] = -np.inf  # 5 users with only 3 old items left
    new[5:8, 1:] = -np.inf  # 3 users with only one new item
    offsets, threshold = _exposure.quota_offsets(old, new, 0.375, 4)  # 1.5 slots: half get 2

    def counts(offsets):
        both = np.concatenate([old, new + offsets[:, None]], axis=1)
        return (np.argsort(-both, axis=1)[:, :4] >= old.shape[1]).sum(axis=1)

    got = counts(offsets)
    assert (got[:5] >= 1).all()  # room: an old item short, a new one comes in
    assert (got[5:8] == 1).all()  # all they have
    assert set(got[8:]) == {1, 2} and abs((got[8:] == 2).mean() - 0.5) < 0.05
    # recommend applies the threshold learned on the fitted users
    again, same = _exposure.quota_offsets(old, new, 0.375, 4, threshold)
    assert same == threshold
    np.testing.assert_array_equal(counts(again), got)
    none = counts(_exposure.quota_offsets(old, new, 0.0, 4)[0])
    assert (none[5:] == 0).all() and (none[:5] == 1).all()  # only to fill the top-4
    every = counts(_exposure.quota_offsets(old, new, 1.0, 4)[0])
    assert (every[8:] == 4).all() and (every[5:8] == 1).all()



def test_users_with_near_equal_margins_get_the_same_extra_slot():
    # the extra new-item slot goes to the users whose margin is above a cut;
    # scores computed in batches of another size differ in their last float32
    # bits, so a cut between two margins 1e-7 apart gave one of those users
    # the slot in one batch and not in the other (recommend depended on
    # batch_size). Near-equal margins now fall on the same side, all of them
    rng = np.random.RandomState(0)
    margin = np.sort(rng.rand(20))
    margin[10:13] = margin[10] + np.array([0.0, 1e-7, 3e-7])  # near-equal, at the cut
    threshold = _exposure._cut(margin, 10 / 20)
    noise = rng.uniform(-1e-6, 1e-6, size=(50, len(margin)))  # float32 rounding
    decisions = (margin + noise) > threshold
    assert (decisions == decisions[0]).all()  # the same for every rounding
    assert not decisions[0, 10:13].any() and decisions[0, 13:].all()
    assert np.abs(margin - threshold).min() > 1e-5
    # margins far apart: the cut stays at the quantile (half above it)
    spread = np.arange(20.0)
    assert (spread > _exposure._cut(spread, 10 / 20)).sum() == 9
    # no wider gap above the quantile (users of one profile text tied at the
    # largest margin): the cut is past them, not on them
    tied = np.r_[spread[:10], np.full(10, 10.0) + rng.uniform(0, 1e-7, 10)]
    threshold = _exposure._cut(tied, 10 / 20)
    assert threshold - tied.max() > 1e-5 and np.isfinite(threshold)
    assert not ((tied + noise[:, :20]) > threshold).any()

def test_undeclared_items_without_interactions_get_only_the_share_they_earn(monkeypatch):
    # a 15% sample: a seventh of the items have no interaction, and the log
    # often moves to one; texts that say nothing of the items' topics (a
    # random serial number each) rank none of them, so the holdout says
    # their slots do not pay off
    texts, topics = topic_catalog(items_per_topic=100)
    serials = np.random.default_rng(0).permutation(len(texts))
    texts = pd.Series([f"Catalogue item, serial {s}." for s in serials], index=texts.index)
    sample = topic_interactions(topics, users_per_topic=40, per_user=30).sample(
        frac=0.15, random_state=0)
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    hybrid = HybridRecommender(text, cf_members(ALSRecommender(factors=8, iterations=5, random_state=0)),
                               new_items=None, random_state=0)
    earned = clone(hybrid).fit(sample)
    declared = clone(hybrid).set_params(new_items="all").fit(sample)
    # (our own logic, mocked: the share kept whatever the holdout says)
    monkeypatch.setattr(_exposure, "earned_share", lambda holdout, coef, rate: rate)
    at_rate = clone(hybrid).fit(sample)
    assert at_rate.new_item_share_ > 0.1
    assert earned.new_item_share_ < at_rate.new_item_share_ / 2
    # declared arrivals keep the share hidden items earned: never judged
    assert declared.new_item_share_ > 0.1
    unjudged = clone(hybrid).set_params(new_items="all").fit(sample)
    assert unjudged.new_item_share_ == declared.new_item_share_


def test_the_tails_share_is_its_holdout_rate_per_item_times_its_items(monkeypatch):
    # the log's tail earns what the holdout's items the log had not reached
    # earned per item: two tail items less than four (the rate of all of the
    # holdout's unseen items went to two, a mutation hunt)
    monkeypatch.setattr(_exposure, "earned_share", lambda holdout, coef, rate: rate)  # mocked
    shares = []
    for n in (2, 4):
        texts = pd.concat([ITEM_TEXTS, pd.Series({900 + i: f"A new story, number {i}."
                                                  for i in range(n)})])
        text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
        model = HybridRecommender(text, cf_members(ALSRecommender(factors=8, iterations=5,
                                                                  random_state=0)),
                                  new_items=None, random_state=0, verbose=0).fit(X)
        shares.append(model.new_item_share_)
    assert 0 < shares[0] < shares[1], shares


@pytest.mark.parametrize("params", [{"blend": "learned"}, {"blend": "fixed"},
                                    {"blend": "fixed", "weights": {"cf": 1.0}}])
def test_items_with_text_and_no_interaction_leave_the_other_items_ranking_alone(params):
    # 400 text-only items (new_items=None: the log's tail) beside 60 with
    # interactions: the learned blend drew its holdout's negatives over the
    # whole catalog, then dropped theirs (9 negatives a user, not 100: its
    # choice moved), and the text was standardised over every item (the
    # fixed blend's text scale moved): both changed the ranking of the items
    # with interactions, which the text-only items' number must not decide;
    # without a text weight, their floor counted them (coef_ -8.7 and -22.5)
    extra, _ = topic_catalog(items_per_topic=50, seed=1)
    extra.index = np.arange(len(extra)) - len(extra)  # ids before the others: columns move
    data = topic_interactions(TOPICS, users_per_topic=20, per_user=8, seed=3)

    def fitted(texts):
        text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
        return HybridRecommender(text, cf_members(ALSRecommender(factors=4, random_state=0)),
                                 new_items=None, random_state=0, verbose=0,
                                 **params).fit(data)

    alone, beside = fitted(ITEM_TEXTS), fitted(pd.concat([extra, ITEM_TEXTS]))
    np.testing.assert_array_equal(alone.coef_, beside.coef_)
    users = alone.users_
    warm = pd.Index(beside.items_).get_indexer(alone.items_)
    np.testing.assert_allclose(beside.score_items(users)[:, warm], alone.score_items(users),
                               rtol=1e-5, atol=1e-5)


def test_with_one_item_with_interactions_the_text_ranks_the_others():
    # the text was standardised over the items with interactions: over one,
    # its scores are constant, so every other item scored 0 and came in the
    # catalog's order (space stories for a jazz listener)
    jazz = TOPICS.index[TOPICS == "jazz"]
    data = pd.DataFrame({"user_id": [f"u{k}" for k in range(6)], "item_id": jazz[0]})
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS)
    model = HybridRecommender(text, cf_members(ALSRecommender(factors=4, random_state=0)),
                              blend="fixed", verbose=0).fit(data)
    users = model.users_
    expected = model.text_.recommend(users, n=5)
    np.testing.assert_array_equal(model.recommend(users, n=5), expected)
    assert len(np.unique(model.score_items(users)[0])) == len(ITEM_TEXTS)


def test_fresh_arrivals_earn_an_average_items_share_whatever_the_draw():
    # 40 of the catalog's items have texts and no interaction: declared
    # arrivals (the default). Each earns an average item's share of the
    # held-out interactions, the same for every random_state (the items the
    # holdout hides vary with it; their measured share followed whether the
    # draw hid popular items)
    texts, topics = topic_catalog(items_per_topic=40)
    data = topic_interactions(topics, users_per_topic=20, per_user=12)
    data = data[~data.item_id.isin(data.item_id.drop_duplicates().sample(40, random_state=0))]
    fresh = np.setdiff1d(texts.index, data.item_id.unique())
    n_items = data.item_id.nunique()
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    shares = set()
    for random_state in range(4):
        hybrid = HybridRecommender(text, cf_members(ALSRecommender(factors=4, iterations=3,
                                                                   random_state=0)),
                                   random_state=random_state, verbose=0).fit(data)
        shares.add(hybrid.new_item_share_)
    n_hidden = round(_learn.NEW_ITEM_FRACTION * n_items)
    assert len(shares) == 1
    assert shares.pop() == pytest.approx(min(len(fresh), n_hidden) / n_items)


def test_declared_arrivals_and_the_other_items_without_interactions_keep_their_own_quotas():
    # 60 items lose their interactions: 30 declared arrivals, 30 left as the
    # log's tail. Each arrival earns an average item's share of every top-10
    # whatever the tail beside it; one quota for both gave the arrivals a
    # share in proportion to their number and scores (about half of it here)
    texts, topics = topic_catalog(items_per_topic=40)
    # at most 10 interactions each: every user in one history-length bin
    data = topic_interactions(topics, users_per_topic=20, per_user=10)
    cold = data.item_id.drop_duplicates().sample(60, random_state=0).to_numpy()
    data = data[~data.item_id.isin(cold)]
    zero = np.setdiff1d(texts.index, data.item_id.unique())
    arrivals, tail = cold[:30], np.setdiff1d(zero, cold[:30])
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    hybrid = HybridRecommender(text, cf_members(ALSRecommender(factors=4, iterations=3,
                                                               random_state=0)),
                               new_items=arrivals, random_state=0, verbose=0).fit(data)
    n_items = data.item_id.nunique()
    n_hidden = round(_learn.NEW_ITEM_FRACTION * n_items)
    arrival_share = min(len(arrivals), n_hidden) / n_items
    assert hybrid.new_item_thresholds_.shape == (2, 4)  # arrivals, then the tail
    users = data.user_id.unique()
    top = hybrid.recommend(users, n=10)
    shares = [np.isin(top, arrivals).mean(), np.isin(top, tail).mean()]
    assert abs(shares[0] - arrival_share) < 0.01, (shares, arrival_share)
    assert abs(sum(shares) - hybrid.new_item_share_) < 0.01, (shares, hybrid.new_item_share_)
    # each user: floor(share * 10) arrivals, or one more
    per_user = np.isin(top, arrivals).sum(axis=1)
    assert set(per_user) <= {int(arrival_share * 10), int(arrival_share * 10) + 1}
    # a model pickled before the quotas per kind (no Exposure) says to refit
    earlier = pickle.loads(pickle.dumps(hybrid))
    del earlier._exposure
    with pytest.raises(ValueError, match="pickled by an earlier version .* fit it again"):
        earlier.recommend(users[:1])


def test_group_offsets_give_each_group_its_own_quota():
    rng = np.random.RandomState(0)
    old, first, second = rng.randn(400, 12), rng.randn(400, 12) - 0.5, rng.randn(400, 12) + 0.5
    first[:20, 2:] = -np.inf  # users with only two items of the first group
    offsets, thresholds = _exposure.group_offsets(old, [first, second], [0.25, 0.15], 10)
    both = np.concatenate([old, first + offsets[:, :1], second + offsets[:, 1:]], axis=1)
    top = np.argsort(-both, axis=1)[:, :10]
    counts = np.stack([((top >= 12) & (top < 24)).sum(axis=1), (top >= 24).sum(axis=1)], axis=1)
    assert set(counts[20:, 0]) == {2, 3} and set(counts[:, 1]) == {1, 2}
    assert (counts[:20, 0] == 2).all()  # all they have
    np.testing.assert_allclose(counts[20:].mean(axis=0), [2.5, 1.5], atol=0.05)
    # recommend applies the thresholds set on the fitted users
    again, same = _exposure.group_offsets(old, [first, second], [0.25, 0.15], 10, thresholds)
    assert same == thresholds
    np.testing.assert_array_equal(again, offsets)
    # a user without a slot for a group: that group's items rank below the top-10
    offsets, _ = _exposure.group_offsets(old[20:], [first[20:], second[20:]], [0.3, 0.01], 10)
    both = np.concatenate([old[20:], first[20:] + offsets[:, :1], second[20:] + offsets[:, 1:]],
                          axis=1)
    top = np.argsort(-both, axis=1)[:, :10]
    assert (((top >= 12) & (top < 24)).sum(axis=1) == 3).all()
    assert abs((top >= 24).sum(axis=1).mean() - 0.1) < 0.02


def test_group_offsets_keep_each_quota_with_wide_gaps_small_groups_and_few_old_items():
    # offsets set from the old items alone let a group shown whole (one
    # arrival) fall below the other group's next item where old scores are
    # far apart, and users with fewer than k old items lose a slot
    rng = np.random.default_rng(0)
    k = 10
    for _ in range(3000):
        n_old, n_a, n_b = rng.integers(2, 13), rng.integers(1, 4), rng.integers(1, 12)
        sides = []
        for n, scale in ((n_old, rng.choice([1.0, 5.0])), (n_a, 1.0), (n_b, 1.0)):
            side = np.full(12, -np.inf)
            side[:n] = -np.sort(-rng.normal(size=n) * scale)
            sides.append(side[None])
        old, a, b = sides
        shares = [float(rng.choice([0.1, 0.2, 0.3])), float(rng.choice([0.1, 0.2]))]
        offsets, _ = _exposure.group_offsets(old, [a, b], shares, k, [np.inf, np.inf])
        scores = np.r_[old[0], a[0] + offsets[0, 0], b[0] + offsets[0, 1]]
        top = np.argsort(-scores, kind="stable")[:k]
        top = top[np.isfinite(scores[top])]
        got = [((top >= 12) & (top < 24)).sum(), (top >= 24).sum()]
        for count, share, n in zip(got, shares, (n_a, n_b)):
            # its quota, or all it has; more only to fill a top-k old items leave short
            want = min(int(share * k + 1e-9), n)
            assert count >= want, (n_old, n_a, n_b, shares, got)
            assert count == want or n_old + sum(got) - count < k, (n_old, n_a, n_b, shares, got)


def test_item_transitions_count_what_follows_within_the_window():
    # user 0: items 0, 1, 2 in time; user 1: items 0, 1 (rows given shuffled)
    rows = np.array([0, 1, 0, 1, 0])
    cols = np.array([2, 1, 0, 0, 1])
    order = np.array([2, 1, 0, 0, 1])
    n_item_users = np.array([2, 2, 1])
    got = item_transitions(rows, cols, order, n_item_users, window=2,
                                   n_neighbors=10).toarray()
    # (0, 1): lag 1 twice; (1, 2): lag 1; (0, 2): lag 2, half; each over sqrt(n_i n_j)
    expected = np.zeros((3, 3))
    expected[0, 1] = 2 / np.sqrt(2 * 2)
    expected[1, 2] = 1 / np.sqrt(2 * 1)
    expected[0, 2] = 0.5 / np.sqrt(2 * 1)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # a window of 1 drops the lag-2 pair; one neighbour keeps each row's largest
    assert item_transitions(rows, cols, order, n_item_users, 1, 10)[0, 2] == 0
    top = item_transitions(rows, cols, order, n_item_users, 2, 1).toarray()
    np.testing.assert_allclose(top, np.where(np.arange(3) == [[1], [2], [-1]], expected, 0))


def test_a_hybrid_without_a_next_item_member_has_no_next_item_terms():
    als = ALSRecommender(factors=8, iterations=5, random_state=0)
    model = _hybrid(members=[("cf", als), ("knn", ItemKNNRecommender())]).fit(X)
    assert not any(name.startswith("next") for name in model.terms_)
    assert "next" not in model.named_members_
    assert model.recommend(model.users_[:3], n=5).shape == (3, 5)
    assert _hybrid().fit(X).named_members_.next.transitions_.nnz > 0


def test_item_transitions_dense_and_sparse_counts_agree(monkeypatch):
    rng = np.random.RandomState(0)
    rows, cols = rng.randint(0, 30, 400), rng.randint(0, 50, 400)
    order = rng.permutation(400)
    n_item_users = np.bincount(cols, minlength=50)
    for k in (5, 50):
        dense = item_transitions(rows, cols, order, n_item_users, 3, k)
        monkeypatch.setattr(_next_item, "DENSE_ITEMS", 10)  # the sparse paths
        monkeypatch.setattr(_history, "DENSE_ITEMS", 10)
        sparse = item_transitions(rows, cols, order, n_item_users, 3, k)
        monkeypatch.undo()
        assert np.diff(sparse.indptr).max() <= k and np.diff(dense.indptr).max() <= k
        # the same matrix: of tied entries at the cut, the lowest columns kept
        np.testing.assert_allclose(dense.toarray(), sparse.toarray(), rtol=1e-6)


def test_new_users_neighbour_count_is_chosen_on_the_known_users():
    # 20 users per topic, whose text names their topic (identical texts:
    # the same embedding under any encoder): up to 25 neighbours hold a
    # user's 19 topic mates and few others; 100 or more are mostly other
    # topics (popularity), which scoring known users as if new must see
    texts, topics = topic_catalog(items_per_topic=15)
    data = topic_interactions(topics, users_per_topic=20, per_user=6)
    topic_of = dict(zip(data.user_id, topics.loc[data.item_id]))
    user_texts = pd.Series({u: f"Someone who likes {t}." for u, t in topic_of.items()})
    user_texts["newbie"] = "Someone who likes jazz."
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                               user_texts=user_texts)
    model = HybridRecommender(text, cf_members(ALSRecommender(factors=8, iterations=5, random_state=0)),
                              random_state=0).fit(data)
    assert model.user_neighbors_ in (10, 25)
    assert model.user_neighbors_smoothing_ in (0.01, 0.1, 1.0)
    top = model.recommend(["newbie"], n=5)[0]
    assert (topics.loc[top] == "jazz").all()
    fixed = clone(model).set_params(user_neighbors=25).fit(data)
    assert fixed.user_neighbors_ == 25  # an int is kept; only the smoothing is chosen
    # too few to judge: the fewest of the grid, not all 30 (every new user popularity)
    few = clone(model).fit(data[data.user_id.isin(list(topic_of)[:30])])
    assert (few.user_neighbors_, few.user_neighbors_smoothing_) == (10, 1.0)


def test_the_neighbour_choice_never_counts_a_user_as_its_own_neighbour(monkeypatch):
    # "each from the others' items": a user's own items leaked into the choice
    # when its own similarity was left in (a mutation hunt: 50 neighbours
    # chosen instead of 10 here, and new users' top-10 changed). A spy on the
    # similarities the choice ranks: each row must have its own entry, the
    # largest (itself), set to -inf before the ranking.
    from sklearn_zsrec._hybrid import _new_users

    texts, topics = topic_catalog(items_per_topic=15)
    data = topic_interactions(topics, users_per_topic=60, per_user=6)
    topic_of = dict(zip(data.user_id, topics.loc[data.item_id]))
    user_texts = pd.Series({u: f"Someone who likes {t}." for u, t in topic_of.items()})
    original = _new_users.TextNeighbours._similarity
    seen = []

    def spy(self, emb):
        sim = original(self, emb)
        seen.append((sim, sim.copy()))
        return sim

    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                               user_texts=user_texts)
    monkeypatch.setattr(_new_users.TextNeighbours, "_similarity", spy)
    HybridRecommender(text, cf_members(ALSRecommender(factors=8, iterations=5, random_state=0)),
                      blend="fixed", random_state=0, verbose=0).fit(data)
    ranked = [(sim, before) for sim, before in seen if len(sim) > 1]
    assert ranked
    for sim, before in ranked:
        masked = np.isneginf(sim) & ~np.isneginf(before)
        assert (masked.sum(axis=1) == 1).all()  # one per user: itself
        np.testing.assert_allclose(before[masked], before.max(axis=1), rtol=1e-6)


def test_new_users_choice_is_made_once_for_a_grid_over_the_members(monkeypatch):
    # it reads the data and the text model only: a grid over the members'
    # parameters (same data) reuses it, a new text model or new data do not
    from sklearn_zsrec._hybrid import _new_users

    texts, topics = topic_catalog(items_per_topic=15)
    data = topic_interactions(topics, users_per_topic=20, per_user=6)
    user_texts = pd.Series({u: f"Someone who likes {t}." for u, t in
                            zip(data.user_id, topics.loc[data.item_id])})
    calls = []
    choose = _new_users.TextNeighbours._choose

    def counted(self, rng):  # a spy on our own logic: how often the choice runs
        calls.append(1)
        return choose(self, rng)

    monkeypatch.setattr(_new_users.TextNeighbours, "_choose", counted)
    _memo.clear()
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                               user_texts=user_texts)
    model = HybridRecommender(text, cf_members(ALSRecommender(factors=8, iterations=5,
                                                              random_state=0)),
                              blend="fixed", random_state=0)
    fits = [clone(model).set_params(cf__factors=f).fit(data) for f in (4, 8)]
    assert len(calls) == 1
    assert fits[0].user_neighbors_ == fits[1].user_neighbors_
    clone(model).set_params(text__half_life=4.0).fit(data)  # another text model
    clone(model).fit(data.iloc[6:])  # other data
    assert len(calls) == 3
    _memo.clear()


def test_a_parameter_that_cannot_be_pickled_only_turns_reuse_off(als_fits):
    class LocalEncoder(TextEncoder):  # a local class: pickle cannot find it
        pass

    text = ZeroShotRecommender(LocalEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS)
    model = HybridRecommender(text, cf_members(ALSRecommender(factors=8, iterations=5, random_state=0)),
                              random_state=0)
    key = _memo.memo_key(model.text, "data")
    plain = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS)
    assert key is not None and key != _memo.memo_key(plain, "data")  # its class counts
    assert _memo.memo_key(_UnpicklableParam(), "data") is None
    clone(model).fit(X)  # fits, as any estimator would


class _UnpicklableParam(ALSRecommender):
    def __init__(self, factors=8, callback=lambda: None, random_state=0):
        super().__init__(factors=factors, random_state=random_state)
        self.callback = callback


def test_holdout_scores_are_not_reused_across_other_cf_fits(monkeypatch):
    # the holdout's z_cf follows the CF fit: a hybrid with other CF
    # parameters (or an unseeded CF) on the same rows must not reuse it
    monkeypatch.setattr(_memo, "_FIT_MEMO", OrderedDict())
    _hybrid().fit(X)
    other = _hybrid().set_params(cf__factors=4).fit(X)
    monkeypatch.setattr(_memo, "_FIT_MEMO", OrderedDict())
    fresh = _hybrid().set_params(cf__factors=4).fit(X)
    np.testing.assert_array_equal(other.coef_, fresh.coef_)
    assert _hybrid(cf_random_state=None).fit(X)._blend.fitted.key is None


def test_verbose_prints_the_blend_per_bin_and_zero_silences_it(capsys):
    model = _hybrid(verbose=2).fit(X)
    printed = capsys.readouterr()
    line = "HybridRecommender: blend per history length: 1-3: "
    assert line in printed.out + printed.err
    assert all(choice in model.blend_candidates_ for choice in model.blend_choice_)
    _hybrid(verbose=0).fit(X)
    printed = capsys.readouterr()
    assert printed.out == printed.err == ""
    assert _hybrid(blend="fixed", verbose=0).fit(X).blend_choice_ == ["fixed"] * 4


def test_fixed_weights_set_the_blend_and_are_checked():
    default = _hybrid(blend="fixed", verbose=0).fit(X)
    same = _hybrid(blend="fixed", weights={"cf": 1, "text": 1}, verbose=0).fit(X)
    np.testing.assert_array_equal(default.coef_, same.coef_)
    knn = _hybrid(blend="fixed", weights={"knn": 2.0}, verbose=0).fit(X)
    assert knn.coef_[0, knn.terms_.index("knn")] == 2.0
    # and the items without interactions' offset, which no weighted term scores
    assert np.count_nonzero(knn.coef_[0]) == 2 and knn.coef_[0, knn.terms_.index("new_item")] < 0
    users = knn.users_[:5]
    # the blend is then the item-kNN member's ranking
    np.testing.assert_array_equal(knn.recommend(users, n=3), knn.named_members_.knn.recommend(users, n=3))
    with pytest.raises(ValueError, match="unknown keys \\['als'\\]"):
        _hybrid(blend="fixed", weights={"als": 1}).fit(X)  # the member is named "cf" here
    with pytest.raises(ValueError, match="finite numbers"):
        _hybrid(blend="fixed", weights={"cf": float("nan")}).fit(X)
    # beyond float32's reach: 1e38 gave NaN scores (and an error about
    # _scores), 1e-46 alone scored every item 0; the ranking only depends on
    # the ratios of the weights, so the message says to scale them
    for weights in ({"text": 1e38, "knn": 1e38}, {"knn": 1e-46}, {"knn": 1.0, "cf": -1e31}):
        with pytest.raises(ValueError, match=r"0 or 1e-30 to 1e30 in size .* scale them all"):
            _hybrid(blend="fixed", weights=weights).fit(X)
    big = _hybrid(blend="fixed", weights={"knn": 1e30}, verbose=0).fit(X)  # the edge
    np.testing.assert_array_equal(big.recommend(users, n=3), knn.recommend(users, n=3))


@pytest.mark.parametrize("weights", [{"knn": 1.0}, {"cf": 1.0, "next": 3.0}, {"popularity": 2.0}])
def test_a_fixed_blend_without_text_ranks_items_without_interactions_last(weights):
    # no weighted term scores them: they scored 0, an average item's z-score,
    # and took the slots of every below-average item (up to 40% of a top-10)
    cold = sorted(X.item_id.unique())[::4]
    warm_rows = X[~X.item_id.isin(cold)]
    model = _hybrid(blend="fixed", weights=weights, verbose=0).fit(warm_rows)
    n_warm = warm_rows.item_id.nunique()
    seen = warm_rows.groupby("user_id").item_id.nunique()
    users = model.users_
    top = model.recommend(users, n=len(model.items_))
    for user, row in zip(users, top):
        n_unseen = n_warm - seen[user]
        assert not np.isin(row[:n_unseen], cold).any()
        assert np.isin(row[n_unseen:n_unseen + len(cold)], cold).all()
    # so also for items added after fit
    model.add_items({9999: ITEM_TEXTS[cold[0]]})
    top = model.recommend(users, n=3)
    assert 9999 not in top and not np.isin(top, cold).any()
    # a text weight scores them by their text, as before
    texted = _hybrid(blend="fixed", weights={**weights, "text": 1.0}, verbose=0).fit(warm_rows)
    assert texted.coef_[0, texted.terms_.index("new_item")] == 0
    assert np.isin(texted.recommend(users, n=5), cold).any()


def test_a_blend_choice_moves_from_its_default_only_on_a_clear_win():
    rng = np.random.RandomState(0)
    base = rng.rand(400)
    # candidate 0 (the default) and candidate 1, equally simple in _SIMPLICITY
    close = np.stack([base, base + 0.01 + rng.normal(0, 0.2, 400)] + [base * 0] * 8)
    clear = np.stack([base, base + 0.2 + rng.normal(0, 0.05, 400)] + [base * 0] * 8)
    assert _choice.one_se_choice(close, _SIMPLICITY) in (0, 1)
    assert _choice.clear_winner(close, 0, _SIMPLICITY) == 0  # a lead within 2 SE: the default stays
    assert _choice.clear_winner(clear, 0, _SIMPLICITY) == 1


def test_refitting_one_hybrids_member_leaves_another_hybrid_alone():
    first, second = _hybrid(verbose=0).fit(X), _hybrid(verbose=0).fit(X)
    before = second.named_members_.knn.similarity_.copy()
    first.named_members_.knn.fit(X.iloc[: len(X) // 2])
    assert second.named_members_.knn is not first.named_members_.knn
    assert (second.named_members_.knn.similarity_ != before).nnz == 0


def test_weights_that_cannot_rank_raise_whatever_the_blend():
    with pytest.raises(ValueError, match="every weight is 0"):
        _hybrid(blend="fixed", weights={"cf": 0}).fit(X)
    with pytest.raises(ValueError, match="unknown keys"):
        _hybrid(weights={"bogus": 1}).fit(X)  # blend="learned" checks them too


def test_a_cf_member_that_overrides_fit_gets_a_dataframe():
    seen = []

    class RecentALS(ALSRecommender):
        def fit(self, X, y=None):
            seen.append(type(X))
            return super().fit(X.sort_values("timestamp").groupby("user_id").tail(4), y)

    model = _hybrid(blend="fixed", verbose=0).set_params(
        cf=RecentALS(factors=4, iterations=2, random_state=0)).fit(X)
    assert seen and all(kind is pd.DataFrame for kind in seen)
    assert model.recommend(model.users_[:2], n=3).shape == (2, 3)


def test_hybrids_do_not_share_their_text_models_encoder():
    first, second = _hybrid(blend="fixed", verbose=0).fit(X), _hybrid(blend="fixed",
                                                                       verbose=0).fit(X)
    assert first.text_.encoder_ is not second.text_.encoder_
    first.text_.encoder_.set_params(template="other words {}")
    assert second.text_.encoder_.template is None


def test_a_fit_builds_each_user_item_matrix_once(monkeypatch):
    # two matrices per set of rows (the members' own items, the catalog),
    # two sets of rows (the holdout's and all): the five models share them
    from sklearn_zsrec._base import BaseRecommender

    built = _count_calls(monkeypatch, BaseRecommender, "_user_item_matrix")
    monkeypatch.setattr(_memo, "_FIT_MEMO", OrderedDict())
    model = _hybrid(verbose=0).fit(X)
    assert len(built) == 4
    members = model.named_members_
    assert members.knn.user_items_ is members.next.user_items_
    assert model.user_items_ is model.text_.user_items_


def test_a_matrix_is_shared_only_for_the_same_item_list_not_one_of_its_length():
    # a second text model of another catalog of the same size took the first
    # one's matrix (a mutation hunt: the match by length alone): it fitted
    # without the error below, item 5's text standing for item 4
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = pd.DataFrame({"user_id": ["ann", "ann", "bob", "bob", "cy"], "item_id": [1, 2, 2, 3, 1]})
    texts = pd.Series({1: "rocket galaxy", 2: "jazz piano", 3: "castle empire", 4: "whale coral"})
    other = texts.drop(4)
    other[5] = "tiger safari"
    hybrid = HybridRecommender(
        ZeroShotRecommender(TfidfVectorizer(), item_texts=texts),
        members=[("other", ZeroShotRecommender(TfidfVectorizer(), item_texts=other))],
        blend="fixed", weights={"text": 1, "other": 1})
    with pytest.raises(ValueError, match=r"'other' .* knows 1 items the text model has no "
                                         r"text for \(e\.g\. \[5\]\)"):
        hybrid.fit(X)


def test_member_names_are_checked_before_any_fit():
    als = ALSRecommender(factors=4, iterations=2, random_state=0)
    for name in ("text", "popularity", "als_new", "knn_recent", "a__b", "2als", "my-als"):
        # the example is a valid name, not the refused one reused
        with pytest.raises(ValueError, match=r"cannot be used: .* as in knn__n_neighbors\)"):
            _hybrid(members=[(name, als)]).fit(X)
    with pytest.raises(ValueError, match="must be .*list"):
        _hybrid(members=(("als", als),)).fit(X)
    with pytest.raises(ValueError, match="unique"):
        _hybrid(members=[("a", als), ("a", ItemKNNRecommender())]).fit(X)
    with pytest.raises(ValueError, match="parameters of the hybrid"):
        _hybrid(members=[("switch", als)]).fit(X)


def test_default_members_parameters_raise_naming_the_fix():
    # GridSearchCV sets its candidates' parameters on a clone: the same error
    hybrid = HybridRecommender(ZeroShotRecommender(), random_state=0)
    with pytest.raises(ValueError, match=r"cannot set \['knn__n_neighbors'\].*default_members"):
        clone(hybrid).set_params(knn__n_neighbors=5)
    members = HybridRecommender.default_members(random_state=0)
    tuned = clone(hybrid).set_params(members=members, knn__n_neighbors=5)
    assert tuned.get_params()["knn__n_neighbors"] == 5
    assert clone(hybrid).set_params(text__half_life=2.0, switch=3.0).switch == 3.0


def test_the_html_diagram_draws_the_text_model_and_every_member():
    # as scikit-learn draws VotingClassifier: one box per "name: class"; it
    # drew the text model alone (the members are a list, not an estimator)
    from sklearn.utils import estimator_html_repr

    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0))
    html = estimator_html_repr(HybridRecommender(text))  # members=None: the defaults
    for label in ("text: ZeroShotRecommender", "als: ALSRecommender",
                  "knn: ItemKNNRecommender", "next: NextItemRecommender"):
        assert label in html
    html = estimator_html_repr(HybridRecommender(
        text, [("knn", ItemKNNRecommender(n_neighbors=7)), ("next", "drop")]))
    assert "knn: ItemKNNRecommender" in html and "next: drop" in html
    assert "als: ALSRecommender" not in html and "n_neighbors=7" in html
    # a class where an instance belongs (fit names the mistake): drawn by its
    # name; scikit-learn's drawing of a class raised a TypeError
    html = estimator_html_repr(HybridRecommender(text, [("knn", ItemKNNRecommender)]))
    assert "knn: ItemKNNRecommender (a class)" in html


def test_the_fit_memo_keys_members_by_name_and_any_order_fits(monkeypatch):
    # the same ALS under two names: each hybrid gets its own factor terms
    monkeypatch.setattr(_memo, "_FIT_MEMO", OrderedDict())
    als = ALSRecommender(factors=4, iterations=2, random_state=0)
    first = _hybrid(members=[("als", als)], blend="fixed").fit(X)
    second = _hybrid(members=[("mf", clone(als))], blend="fixed").fit(X)
    assert "als_recent" in first.terms_ and "mf_recent" in second.terms_
    np.testing.assert_allclose(first.score_items(first.users_[:5]),
                               second.score_items(second.users_[:5]), rtol=1e-5, atol=1e-5)
    # a memoized member before ALS: ALS still gets a matrix it can fit on
    knn_first = [("knn", ItemKNNRecommender()), ("als", clone(als))]
    _hybrid(members=knn_first, blend="fixed").fit(X)
    assert _hybrid(members=knn_first, blend="fixed").fit(X.iloc[:-2]).terms_


def test_an_int_random_state_makes_the_default_members_fit_repeatable():
    # members=None: the default ALS is seeded by the hybrid's random_state
    # (before, it was unseeded and two fits with random_state=0 disagreed)
    def fit(random_state):
        _memo.clear()  # each fit draws its members anew
        text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0),
                                   item_texts=ITEM_TEXTS)
        return HybridRecommender(text, random_state=random_state, verbose=0).fit(X)

    users = X.user_id.unique()
    first, second = fit(0), fit(0)
    assert first.named_members_.als.random_state == 0
    np.testing.assert_array_equal(first.named_members_.als.item_factors_,
                                  second.named_members_.als.item_factors_)
    np.testing.assert_array_equal(first.coef_, second.coef_)
    np.testing.assert_array_equal(first.recommend(users, 5), second.recommend(users, 5))
    drawn = fit(np.random.RandomState(0)).named_members_.als.random_state
    assert isinstance(drawn, int)


def test_the_text_maps_choose_their_regularisation_as_ridge_cv_does():
    # the maps from text embeddings to popularity and factors pick, per
    # block of targets, the alpha with the smallest leave-one-out error:
    # scikit-learn's RidgeCV (no intercept) on each block is the reference
    from sklearn.linear_model import RidgeCV

    from sklearn_zsrec._hybrid._item_side import MAP_ALPHAS, _ridge

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 24))
    # popularity barely predictable (wants a large alpha), factors well (a small one)
    y = np.hstack([x @ rng.normal(size=(24, 1)) * 0.05 + rng.normal(size=(300, 1)),
                   x @ rng.normal(size=(24, 6)) + 3 * rng.normal(size=(300, 6))])
    blocks = [slice(0, 1), slice(1, 7)]
    coef, alphas = _ridge(x, y, blocks)
    for block, alpha in zip(blocks, alphas):
        reference = RidgeCV(alphas=MAP_ALPHAS, fit_intercept=False).fit(x, y[:, block])
        assert alpha == reference.alpha_
        np.testing.assert_allclose(coef[:, block], reference.coef_.reshape(-1, 24).T,
                                   rtol=1e-8, atol=1e-10)
    assert alphas[0] > alphas[1]
    # embeddings of a sixth of the spread (as fine-tuning left MiniLM's) get a smaller alpha
    assert _ridge(x / np.sqrt(6), y, blocks)[1][1] < alphas[1]


def test_the_fitted_hybrid_records_the_text_maps_regularisation():
    texts, topics = topic_catalog(items_per_topic=6)
    X = topic_interactions(topics, users_per_topic=5, per_user=4)
    X = X[~X.item_id.isin(texts.index[::7])]  # some items without interactions
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    model = HybridRecommender(text, cf_members(ALSRecommender(factors=4, random_state=0)),
                              random_state=0, verbose=0).fit(X)
    alphas = model._blend.fitted.maps["alphas"]
    assert set(alphas) == {"popularity", "cf"}


def test_the_catalog_is_sorted_whatever_the_order_of_an_item_texts_dict(monkeypatch):
    # the catalog followed a dict's order (and joblib.hash sorts dict keys, so
    # a fit with the reversed dict was once served the first dict's catalog);
    # it is now sorted, as a catalog read from X is
    monkeypatch.setattr(_memo, "_FIT_MEMO", OrderedDict())
    forward = dict(ITEM_TEXTS.items())
    backward = dict(reversed(forward.items()))

    def fit(texts):
        hybrid = _hybrid(blend="fixed", verbose=0)
        return hybrid.set_params(text__item_texts=texts).fit(X)

    a, b = fit(forward), fit(backward)
    assert list(a.items_) == list(b.items_) == sorted(forward)
    np.testing.assert_array_equal(a.recommend(a.users_), b.recommend(b.users_))


def test_the_learned_blend_does_not_depend_on_the_order_of_the_rows():
    # every user's history is ordered (times 0..5), but the times tie across
    # users: the rows of tied times come in the caller's order, which the
    # holdout's random draws (hidden items, short histories, held-out users)
    # followed
    a, b = _hybrid(verbose=0).fit(X), _hybrid(verbose=0).fit(X.iloc[::-1])
    np.testing.assert_array_equal(a.coef_, b.coef_)
    users = a.users_
    np.testing.assert_array_equal(a.recommend(users), b.recommend(users))


def test_the_new_item_model_learns_from_every_pick_of_a_hidden_item(monkeypatch):
    # not only from the held-out users' latest interactions (one per user at
    # most), whose few hundred positives on MovieLens-100K made its
    # coefficients follow the holdout's random draw
    found = {}
    fit = _learn.Learner.fit_new_items

    def recording(self, blend, coef, cold, own):
        found["positives"] = int(np.concatenate(cold[1]).sum())
        found["users"] = len(np.unique(np.concatenate(cold[2])))
        found["terms"] = [blend.names[k] for k in own]
        return fit(self, blend, coef, cold, own)

    monkeypatch.setattr(_learn.Learner, "fit_new_items", recording)
    hidden = {}
    draw = _learn.hidden_items

    def remember(items, rng):
        hidden["items"] = out = draw(items, rng)
        return out

    monkeypatch.setattr(_learn, "hidden_items", remember)
    _hybrid(verbose=0).fit(X)
    picks = X[X.item_id.isin(hidden["items"])]
    assert found["positives"] > found["users"]  # several per user
    # every user's picks of hidden items, but for those who have no other row
    assert found["positives"] >= 0.9 * len(picks)
    assert found["terms"] and all(name.endswith("_new") for name in found["terms"])


def _zipf_log(n_users=120, n_items=40, per_user=12, seed=0):
    """Users picking 2 to ``per_user`` items of a Zipf-like popularity, in time order."""
    rng = np.random.RandomState(seed)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    rows = [(u, int(i)) for u in range(n_users)
            for i in rng.choice(n_items, rng.randint(2, per_user), replace=False,
                                p=pop / pop.sum())]
    X = pd.DataFrame(rows, columns=["user_id", "item_id"])
    return X.assign(timestamp=np.arange(len(X)))


def _topic_texts(ids):
    return pd.Series({i: f"A story about topic {i % 7}, item number {i}." for i in ids})


def test_text_only_arrivals_do_not_move_the_learned_warm_blend():
    # the holdout drew the warm blend's candidates from the whole catalog and
    # ranked the held-out item against all of it: 400 text-only arrivals
    # (scoring an average 0) took "popularity + text" from 0.348 to 0.200
    # held-out NDCG@10 and turned the choice to popularity in every bin
    X = _zipf_log()
    items = sorted(X.item_id.unique())
    fitted = {}
    for n_new in (0, 400):
        text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0),
                                   item_texts=_topic_texts(items + list(range(1000, 1000 + n_new))))
        hybrid = HybridRecommender(text, [("knn", ItemKNNRecommender()),
                                          ("next", NextItemRecommender())], random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted[n_new] = hybrid.fit(X)
    fixed = [c not in ("own fit", "global fit") for c in fitted[0].blend_candidates_]
    np.testing.assert_allclose(fitted[400].blend_validation_ndcg_[:, fixed],
                               fitted[0].blend_validation_ndcg_[:, fixed], atol=0.01)
    assert fitted[400].blend_choice_ == fitted[0].blend_choice_


def test_declared_arrivals_do_not_dilute_the_tails_share(monkeypatch):
    # the tail's rate (held-out picks of items the log had not reached, per
    # such item) counted the declared arrivals, never picked, as tail items:
    # 0.0100, 0.0073, 0.0021 with 0, 10, 100 of them. earned_share (the
    # NDCG cut of that rate) is replaced by the rate itself: a mock of our
    # own logic, to see the rate
    monkeypatch.setattr(_exposure, "earned_share", lambda holdout, coef, rate, k=10: rate)
    X = _zipf_log(n_items=300)
    items = sorted(X.item_id.unique()) + list(range(100, 110))  # 10 tail items
    shares = []
    for n_new in (0, 10, 100):
        arrivals = list(range(1000, 1000 + n_new))
        text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0),
                                   item_texts=_topic_texts(items + arrivals))
        hybrid = HybridRecommender(text, [("knn", ItemKNNRecommender())],
                                   new_items=arrivals or None, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shares.append(hybrid.fit(X)._exposure.tail_share)
    assert shares[0] > 0
    np.testing.assert_allclose(shares, shares[0])


def test_holdout_candidates_skip_training_items_of_weight_0():
    # recommend excludes every training item, weight-0 ones too (stored
    # zeros); the learned blend drew those as negatives ("unseen")
    import scipy.sparse as sp

    seen = sp.csr_matrix((np.array([0.0, 1.0]), (np.array([0, 0]), np.array([3, 1]))),
                         shape=(1, 6))
    assert seen.nnz == 2  # the weight-0 interaction is stored
    out = ([], [], [])
    terms = [np.arange(6, dtype=float)[None, :]]
    neg = _learn.negatives(1, np.array([3, 1]), np.random.RandomState(0), n_negatives=20)
    _learn.sample(terms, np.array([0]), neg, seen, out, np.array([0]))
    assert np.concatenate(out[1]).tolist() == [1]  # the positive alone


def test_a_users_recency_profile_counts_whatever_the_scale_of_its_weights():
    # the recency profiles (history @ item factors) are exact sums: a user
    # whose weights were 1e-7 of the others' (time decay of a user long
    # gone) lost its als_recent terms to the rule for ALS factors' rounding
    # noise (a vector below 1e-6 of the model's largest)
    rows = X.assign(weight=1.0, user_id=X.user_id.astype(object))
    history = rows[rows.user_id == rows.user_id.iloc[0]]
    later = rows.timestamp.max() + 1 + np.arange(len(history)) if "timestamp" in rows else None
    copies = [history.assign(user_id=name, weight=w) for name, w in (("one", 1.0), ("tiny", 1e-7))]
    if later is not None:
        copies = [c.assign(timestamp=later) for c in copies]
    hybrid = _hybrid(verbose=0).fit(pd.concat([rows, *copies], ignore_index=True))
    recent = {}
    for user in ("one", "tiny"):
        why = hybrid.explain(user, items=hybrid.items_[:5], max_contributions=100)
        why = why[why.source.str.contains("recent")]
        recent[user] = why.set_index(["item_id", "source"]).contribution.sort_index()
    assert len(recent["one"]) > 0
    pd.testing.assert_series_equal(recent["tiny"], recent["one"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("blend, random_state", [("fixed", 0)] + [("learned", r) for r in range(4)])
def test_the_error_counts_every_item_of_X_without_a_text(blend, random_state):
    # a review: the learned blend fits its holdout first, on part of X (no
    # held-out rows, no rows of the hidden items, short histories cut), and
    # its refit's error counted the items of those rows only: "1 item ids in
    # X are not in the catalog (e.g. [12])" where X has 3 (random_state=2)
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = pd.Series({i: f"topic{i % 3} thing{i}" for i in range(10)})
    rows = pd.DataFrame({"user_id": np.repeat(np.arange(8), 4),
                         "item_id": np.random.RandomState(0).randint(0, 10, 32)})
    rows.loc[[0, 5, 9], "item_id"] = [11, 12, 13]  # one click each, no text
    model = HybridRecommender(ZeroShotRecommender(TfidfVectorizer(), item_texts=texts),
                              blend=blend, random_state=random_state, verbose=0)
    with pytest.raises(ValueError, match=r"^ZeroShotRecommender: 3 item ids in X are not in "
                                         r"the catalog \(e\.g\. \[11, 12, 13\]\)"):
        model.fit(rows)


@pytest.mark.parametrize("blend", ["fixed", "learned"])
def test_a_refit_that_raises_leaves_the_model_not_fitted(blend):
    # new_items was checked after the new blend replaced the old one: the
    # model kept serving, each old user row read in the new blend (another
    # user's scores), or raised AttributeError with the learned blend
    from sklearn.exceptions import NotFittedError

    model = _hybrid(blend=blend).fit(X)
    users = model.users_[:3]
    with pytest.raises(ValueError, match="new_items are not in the catalog"):
        model.set_params(new_items=[10**9]).fit(X[X.user_id != users[0]])
    for call in (model.recommend, model.score_items):
        with pytest.raises(NotFittedError):
            call(users)
    model.set_params(new_items="all").fit(X)  # and it fits again
    assert model.recommend(users).shape == (3, 10)


def test_the_learned_blend_does_not_depend_on_the_holdouts_chunks(monkeypatch):
    # large catalogs score the held-out users in fewer than 512 at a time
    # (512 users' terms took 570 MB at 20,000 items): the same draws, so
    # the same blend, whatever the chunks
    rng = np.random.RandomState(0)
    n = 6000
    X = pd.DataFrame({"user_id": rng.randint(0, 700, n), "item_id": rng.randint(0, 120, n),
                      "timestamp": np.arange(n)})
    texts = pd.Series({i: f"item {i} about topic {i % 7}" for i in range(140)})

    def fit():
        _memo.clear()
        text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
        return HybridRecommender(text, random_state=0, verbose=0).fit(X)

    whole = fit()
    n_terms = len(whole.terms_)
    assert _learn.chunk_size(whole._blend) == _learn.CHUNK
    monkeypatch.setattr(_learn, "TERMS_BYTES", 4 * 140 * n_terms * 37)  # 37 users at a time
    assert _learn.chunk_size(whole._blend) == 37
    parts = _learn.holdout_chunks(700, whole._blend)
    assert np.array_equal(np.concatenate([np.arange(700)[p] for p in parts]), np.arange(700))
    assert max(p.stop - p.start for p in parts) == 37
    chunked = fit()
    np.testing.assert_array_equal(chunked.coef_, whole.coef_)
    assert chunked.new_item_share_ == whole.new_item_share_
    np.testing.assert_array_equal(chunked.score_items(whole.users_), whole.score_items(whole.users_))


def test_new_items_outside_the_catalog_raise_before_the_final_fit():
    # the check ran after the holdout's and the final fits: all the fit's time first
    from sklearn_zsrec import ItemKNNRecommender

    fits = []

    class Counted(ItemKNNRecommender):
        def fit(self, X, y=None):
            fits.append(1)
            return super().fit(X, y)

    model = _hybrid().set_params(members=[("knn", Counted())], new_items=[10**9])
    with pytest.raises(ValueError, match="new_items are not in the catalog"):
        model.fit(X)
    assert len(fits) == 1  # the holdout's member only


def test_the_popularity_plus_text_candidate_adds_the_text():
    # the candidates the learned blend is judged against: on topics, text
    # ranks the held-out items far better than popularity alone
    model = _hybrid(blend="learned", verbose=0).fit(X)
    names, ndcg = list(model.blend_candidates_), model.blend_validation_ndcg_
    judged = ndcg.any(axis=1)  # the bins with held-out interactions
    assert judged.any()
    assert (ndcg[judged, names.index("popularity + text")]
            > ndcg[judged, names.index("popularity")] + 0.05).all()


def test_the_global_fit_is_the_mean_of_the_bins_fits(monkeypatch):
    # blend_choice_ "global fit": the mean of the bins' fits (a mutation
    # hunt gave it bin 0's fit with every test passing)
    original, seen = _learn.Learner.select, {}

    def spy_select(self, holdout, coef, cross, fold, out, k=10):
        best = original(self, holdout, coef, cross, fold, out, k)
        seen.update(coef=coef.copy(), best=best.copy(), choice=list(out.choice))
        return best

    monkeypatch.setattr(_learn.Learner, "select", spy_select)
    # every bin takes the global fit (here the bins' own fits win)
    monkeypatch.setattr(_learn, "clear_winner", lambda gains, start, simplicity: _learn.GLOBAL_FIT)
    # enough users per history-length bin for bins of their own
    data = make_synthetic_interactions(1500, 150, 30000, n_topics=5, random_state=0)
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0),
                               item_texts=data.item_text)
    model = HybridRecommender(text, [("knn", ItemKNNRecommender()), ("next", NextItemRecommender())],
                              random_state=0, verbose=0).fit(data.interactions)
    coef, best, choice = seen["coef"], seen["best"], seen["choice"]
    assert choice == list(model.blend_choice_) == ["global fit"] * len(choice)
    assert not np.allclose(coef[0], coef.mean(axis=0))  # bins of their own: it tells
    np.testing.assert_allclose(best, np.tile(coef.mean(axis=0), (len(best), 1)), rtol=1e-6)


def test_the_learned_blends_logistic_fits_filter_no_warnings(monkeypatch):
    # a term constant over the holdout made the Newton solver's Hessian
    # singular (LinAlgWarning), which an "ignore" filter around each fit hid:
    # the process's filters, which two threads' fits left behind for good.
    # The constant term is left out of the fit now (its optimal weight is 0)
    from scipy.linalg import LinAlgWarning
    from sklearn.linear_model import LogisticRegression

    ignored, fit = [], LogisticRegression.fit

    def spy(self, *args, **kwargs):  # a spy on our own logic: the filters during each fit
        ignored.append(any(f[0] == "ignore" and f[2] is LinAlgWarning for f in warnings.filters))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", spy)
    rng = np.random.default_rng(12)  # (data whose holdout has constant terms)
    X = pd.DataFrame({"user_id": rng.integers(0, 38, 296), "item_id": rng.integers(0, 18, 296),
                      "timestamp": rng.integers(0, 50, 296)})
    texts = pd.Series({i: f"item {i % 7} words {i % 3}" for i in range(18)})
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (a small holdout)
        warnings.simplefilter("error", LinAlgWarning)
        HybridRecommender(text, C=1e4, random_state=12, verbose=0).fit(X)
    assert ignored and not any(ignored)


def test_a_blend_term_constant_over_the_holdout_gets_weight_zero():
    # left out of the logistic fit, it gets the weight the full fit converges to
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    x[:, 1], x[:, 3] = 0.0, 3.0
    y = (x[:, 0] - x[:, 2] + rng.normal(size=400) > 0).astype(int)
    model = _learn._fitted(LogisticRegression(solver=_learn.SOLVER, max_iter=1000), x, y)
    full = LogisticRegression(solver="lbfgs", tol=1e-10, max_iter=10000).fit(x, y)
    assert model.coef_.shape == (1, 4) and model.coef_[0, 1] == model.coef_[0, 3] == 0
    np.testing.assert_allclose(model.coef_, full.coef_, atol=1e-3)  # (lbfgs: 2e-4 off)
    np.testing.assert_allclose(model.intercept_, full.intercept_, atol=1e-3)
    # no term varies (a member of one's own that scores every item alike,
    # beside texts all alike): the optimum, weights 0 and the intercept the
    # labels' log-odds (a fit on them all stopped near tol along the flat
    # direction: -6.0 at 50,000 samples, and they vary at recommend time)
    flat = _learn._fitted(LogisticRegression(solver=_learn.SOLVER, max_iter=1000),
                          np.ones_like(x), y)
    np.testing.assert_array_equal(flat.coef_, 0)
    many = np.random.default_rng(1).random(50_000) < 0.3
    flat = _learn._fitted(LogisticRegression(solver=_learn.SOLVER, max_iter=1000),
                          np.full((50_000, 3), 2.5, np.float32), many.astype(int))
    assert flat.coef_.shape == (1, 3) and flat.n_features_in_ == 3
    np.testing.assert_array_equal(flat.coef_, 0)
    np.testing.assert_allclose(flat.intercept_, np.log(many.mean() / (1 - many.mean())),
                               rtol=1e-6)
    # warm-started from it on another sample, as the bins' fits are
    again = LogisticRegression(solver=_learn.SOLVER, max_iter=1000, warm_start=True)
    again.coef_, again.intercept_ = model.coef_.copy(), model.intercept_.copy()
    again = _learn._fitted(again, x[::2], y[::2])
    assert again.coef_.shape == (1, 4) and again.coef_[0, 1] == again.coef_[0, 3] == 0
    assert model.n_features_in_ == again.n_features_in_ == 4  # as its coef_: predict takes x
    np.testing.assert_allclose(model.decision_function(x), x @ model.coef_[0] + model.intercept_,
                               rtol=1e-5)
    # a term that is NaN or inf over the whole holdout is not "constant":
    # the fit raises, as it did before constant terms were left out
    for bad in (np.nan, np.inf):
        x_bad = x.copy()
        x_bad[:, 2] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            _learn._fitted(LogisticRegression(solver=_learn.SOLVER), x_bad, y)


def test_the_learned_blend_leaves_the_process_warning_filters_alone_while_members_fit(
        monkeypatch):
    # it held "ignore LinAlgWarning" over all of its holdout fits: the
    # process's filters (warnings.catch_warnings), which two fits in two
    # threads left behind (every later LinAlgWarning of the process silenced)
    # or lifted from the other; now only around its logistic fits
    from scipy.linalg import LinAlgWarning

    seen, fit = [], ALSRecommender.fit

    def spy(self, *args, **kwargs):  # a spy on our own logic: the filters during member fits
        seen.append(any(f[2] is LinAlgWarning for f in warnings.filters))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(ALSRecommender, "fit", spy)
    texts, topics = topic_catalog()
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (a small holdout)
        model = HybridRecommender(text, cf_members(ALSRecommender(factors=2, random_state=0)),
                                  random_state=0, verbose=0).fit(
            topic_interactions(topics, per_user=5))
    assert len(seen) >= 2 and not any(seen)  # the holdout's fit and the final one
    assert model.coef_.shape[0] > 0
