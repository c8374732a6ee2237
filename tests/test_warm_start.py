"""ALSRecommender(warm_start=True), and the hybrid's final ALS continuing from its holdout fit."""

import numpy as np
import pandas as pd

from sklearn_zsrec import (ALSRecommender, HybridRecommender, TextEncoder, ZeroShotRecommender)
from sklearn_zsrec._hybrid import _members, _memo

from ._data import topic_catalog, topic_interactions
from ._members import cf_members
from ._tiny import tiny_model_path

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)


def test_warm_start_continues_from_the_previous_factors_matched_by_id():
    als = ALSRecommender(factors=8, iterations=30, regularization=0.1, random_state=0, n_jobs=1).fit(X)
    users, items = als.users_.copy(), als.item_factors_.copy()
    # one more sweep from a converged fit hardly moves it; a fresh sweep lands far away
    warm = als.set_params(warm_start=True, iterations=1).fit(X)
    fresh = ALSRecommender(factors=8, iterations=1, regularization=0.1, random_state=0, n_jobs=1).fit(X)
    assert np.abs(warm.item_factors_ - items).max() < 0.1 * np.abs(items).max()
    assert np.abs(fresh.item_factors_ - items).max() > 0.3 * np.abs(items).max()
    # a refit on other rows: known ids start where they were, whatever their position
    grown = pd.concat([X, X.iloc[:1].assign(user_id="zz-new")], ignore_index=True)
    start = {}
    original = ALSRecommender._warm_factors

    def spy(self, previous, seed):  # what fit starts from (our own logic)
        factors = original(self, previous, seed)
        start["factors"] = [f.copy() for f in factors]  # implicit sweeps them in place
        return factors

    als = ALSRecommender(factors=8, iterations=30, regularization=0.1, random_state=0, n_jobs=1).fit(X)
    ALSRecommender._warm_factors = spy
    try:
        als.set_params(warm_start=True, iterations=1).fit(grown.iloc[::-1])
    finally:
        ALSRecommender._warm_factors = original
    user_start, _ = start["factors"]
    rows = pd.Index(als.users_).get_indexer(users)
    np.testing.assert_array_equal(user_start[rows], ALSRecommender(
        factors=8, iterations=30, regularization=0.1, random_state=0, n_jobs=1).fit(X).user_factors_)
    new = user_start[pd.Index(als.users_).get_loc("zz-new")]
    assert (0 <= new).all() and (new < 0.01).all()  # a new id starts random, as in a fresh fit


def test_warm_start_false_or_unfitted_is_a_fresh_fit():
    fresh = ALSRecommender(factors=4, random_state=0).fit(X)
    warm_unfitted = ALSRecommender(factors=4, random_state=0, warm_start=True).fit(X)
    np.testing.assert_array_equal(fresh.item_factors_, warm_unfitted.item_factors_)
    refit = ALSRecommender(factors=4, random_state=0).fit(X.iloc[:50]).fit(X)
    np.testing.assert_array_equal(fresh.item_factors_, refit.item_factors_)


def test_the_learned_hybrid_refits_als_from_its_holdout_fit(monkeypatch):
    calls = []
    original = ALSRecommender._warm_factors

    def spy(self, previous, seed):  # a spy on our own logic: the final fit warm-starts
        calls.append((self.iterations, len(previous[0])))
        return original(self, previous, seed)

    monkeypatch.setattr(ALSRecommender, "_warm_factors", spy)
    _memo.clear()
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS)
    als = ALSRecommender(factors=4, iterations=12, random_state=0)
    hybrid = HybridRecommender(text, cf_members(als), random_state=0, verbose=0).fit(X)
    assert hybrid.blend_candidates_  # learned on a holdout
    # one warm start, of WARM_SWEEPS sweeps, from the holdout's fit (fewer users
    # may be known there, never more)
    assert len(calls) == 1
    assert calls[0][0] == min(12, _members.WARM_SWEEPS)
    assert calls[0][1] <= len(hybrid.named_members_.cf.users_)
    # the fitted member shows the parameters it was given
    assert hybrid.named_members_.cf.get_params()["iterations"] == 12
    assert hybrid.named_members_.cf.get_params()["warm_start"] is False
    # the fixed blend has no holdout: a fresh fit
    calls.clear()
    HybridRecommender(text, cf_members(als), blend="fixed", verbose=0).fit(X)
    assert calls == []
