"""ALSRecommender(warm_start=True): a refit continues from the previous factors."""

import numpy as np
import pandas as pd

from sklearn_zsrec import ALSRecommender

from ._data import topic_catalog, topic_interactions

_, TOPICS = topic_catalog()
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

    def spy(self, previous, seed, *ids):  # what fit starts from (our own logic)
        factors = original(self, previous, seed, *ids)
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


def test_warm_start_matches_an_int_id_past_2_53_that_comes_back_as_a_float():
    # pandas compared float(2**60) with the int ids in float64 and gave it
    # the factors of 2**60 + 9; the ids are matched exactly
    big = 2**60 + np.array([0, 2, 5, 9])
    first = pd.DataFrame({"user_id": np.repeat([1, 2, 3], 4), "item_id": np.tile(big, 3)})
    als = ALSRecommender(factors=4, iterations=5, random_state=0, n_jobs=1).fit(first)
    old = dict(zip(als.items_.tolist(), als.item_factors_.copy()))
    start = {}
    original = ALSRecommender._warm_factors

    def spy(self, previous, seed, *ids):  # what fit starts from (our own logic)
        factors = original(self, previous, seed, *ids)
        start["items"] = factors[1].copy()
        return factors

    again = first.assign(item_id=float(2**60))  # a float column: every row on 2**60
    ALSRecommender._warm_factors = spy
    try:
        als.set_params(warm_start=True, iterations=1).fit(again)
    finally:
        ALSRecommender._warm_factors = original
    assert als.items_.tolist() == [2**60]
    np.testing.assert_array_equal(start["items"][0], old[2**60])


def test_warm_start_with_another_number_of_factors_starts_afresh():
    # previous factors of another width cannot be a start (a grid over
    # factors with warm_start=True): the refit equals a fresh fit, where a
    # slip gave numpy's shape mismatch (a mutation hunt)
    als = ALSRecommender(factors=8, warm_start=True, random_state=0, n_jobs=1).fit(X)
    refit = als.set_params(factors=16).fit(X)
    fresh = ALSRecommender(factors=16, random_state=0, n_jobs=1).fit(X)
    np.testing.assert_allclose(refit.item_factors_, fresh.item_factors_, rtol=1e-5, atol=1e-6)
