"""The benchmarks' helpers: tables, timings, the fit-cost sides and the user-text baseline."""

import time

import numpy as np
import pandas as pd

from benchmarks import _fit_cost
from benchmarks._report import median_time, table
from benchmarks._text_baselines import UserTextRidge
from sklearn_zsrec import (HybridRecommender, PopularityRecommender, TextEncoder,
                           ZeroShotRecommender, embedding_cache_info)


def test_a_table_prints_zeros_and_leaves_only_missing_cells_blank():
    rows = [{"stage": "encode", "seconds": 0.0, "hits": 0},
            {"stage": "rank", "seconds": 1.25, "hits": None}]
    columns = [("stage", "stage", ""), ("seconds", "seconds", ".2f"), ("hits", "hits", "")]
    assert table(rows, columns).splitlines()[2:] == ["| encode | 0.00 | 0 |",
                                                     "| rank | 1.25 |  |"]


def test_median_time_is_the_median_of_the_calls():
    delays = iter([0.001, 0.2, 0.001])  # one slow call (another process, a page fault)
    median, times = median_time(lambda: time.sleep(next(delays)), 3)
    assert len(times) == 3 and median == sorted(times)[1] != np.mean(times)


class _Recorded(ZeroShotRecommender):
    """A text model that records the embedding cache's size whenever it is fitted."""

    sizes = []

    def fit(self, X, y=None):
        self.sizes.append(embedding_cache_info().currsize)
        return super().fit(X, y)


def test_both_sides_of_the_fit_cost_start_from_empty_caches():
    # the members' side timed after a hybrid's fit found its item embeddings
    # cached: the fit target's denominator was under-timed
    items = [f"item {i}" for i in range(12)]
    texts = pd.Series([f"a film about {w}" for w in "abcdefghijkl"], index=items)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"user_id": rng.integers(0, 15, 120),
                      "item_id": rng.choice(items, 120)}).drop_duplicates()
    encoder = TextEncoder(precision="float32", verbose=0)  # no timing of precisions
    hybrid = HybridRecommender(_Recorded(encoder, item_texts=texts),
                               [("pop", PopularityRecommender())], blend="fixed", verbose=0)
    _Recorded.sizes.clear()
    out = _fit_cost.fit_from_scratch(hybrid, [X, X.iloc[10:], X.iloc[:-10]], log=lambda s: None)
    assert len(out["hybrid"]) == 3 and set(out["members"]) >= {"text model", "pop"}
    assert _Recorded.sizes == [0] * 6  # the text model fitted once per side and split


def test_the_user_text_ridge_maps_texts_with_its_own_alpha():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"user_id": rng.integers(0, 30, 400),
                      "item_id": rng.integers(0, 40, 400)}).drop_duplicates()
    texts = pd.Series({u: f"a reader of {['poems', 'novels', 'plays'][u % 3]}, number {u}"
                       for u in range(35)})
    encoder = TextEncoder()
    fits = {a: UserTextRidge(encoder, texts, alpha=a, factors=4, iterations=3).fit(X)
            for a in (0.01, 100.0)}
    assert fits[100.0].ridge_.alpha == 100.0
    cold = {a: model.score_items([31, 32]) for a, model in fits.items()}
    assert not np.allclose(cold[0.01], cold[100.0])  # new users' scores follow alpha
    np.testing.assert_array_equal(fits[0.01].score_items([3]), fits[100.0].score_items([3]))
