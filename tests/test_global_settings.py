"""The package under process-wide settings a user's code may have made.

- ``np.seterr(all="raise")``, a common debugging setting: underflow where
  the package expects it (a float32 weight under its range, the squares of
  a tiny profile's entries in a norm) raised ``FloatingPointError`` from
  ``fit`` (the zero-shot and hybrid models with the real text model, any
  model with a weight of 1e-200); the same answers are expected.
- scikit-learn's ``skip_parameter_validation=True``: a misspelt option was
  taken for another one (``popularity="counts"`` ranked by weight,
  ``blend="lerned"`` fitted the fixed blend), 0 factors or neighbours
  scored everything 0 and ``n_neighbors=-1`` crashed the interpreter in
  implicit; parameters are validated all the same.

(torch's settings, autograd off and a float64 default dtype, are tested
with the fine-tuning they changed: tests/test_fine_tune.py.)
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import config_context
from sklearn.feature_extraction.text import TfidfVectorizer

from sklearn_zsrec import (ALSRecommender, HybridRecommender, ItemKNNRecommender,
                           NextItemRecommender, PopularityRecommender, TextEncoder,
                           ZeroShotRecommender)

from ._data import topic_catalog, topic_interactions
from ._tiny import tiny_model_path

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)
FIRST = X.user_id.iloc[0]
# the first user's weights under float32's range (time decay: exp(-460))
XW = X.assign(weight=np.where(X.user_id == FIRST, 1e-200, 1.0))


def _models():
    text = lambda: ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0),  # noqa: E731
                                       item_texts=ITEM_TEXTS)
    return {
        "popularity": PopularityRecommender("weight"),
        "als": ALSRecommender(factors=4, random_state=0),
        "knn": ItemKNNRecommender(),
        "next": NextItemRecommender(),
        "text": text(),
        "hybrid": HybridRecommender(text(), blend="fixed", random_state=0, verbose=0),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_expected_underflow_does_not_raise_under_strict_settings(name):
    users = np.unique(X.user_id)[:5]
    assert FIRST in users
    plain = _models()[name].fit(XW)
    with np.errstate(all="raise"):
        strict = _models()[name].fit(XW)
        got = strict.recommend(users, 5, return_scores=True)
    want = plain.recommend(users, 5, return_scores=True)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


@pytest.mark.parametrize("name, params", [
    ("popularity", {"popularity": "counts"}),  # ranked by weight
    ("hybrid", {"blend": "lerned"}),  # fitted the fixed blend
    ("hybrid", {"new_items": "none"}),  # read as "all"
    ("hybrid", {"user_neighbors": "Auto"}),  # an internal TypeError
    ("knn", {"n_neighbors": -1}),  # crashed the interpreter in implicit
    ("next", {"n_neighbors": 0}),  # every score 0
    ("als", {"factors": 0}),  # every score 0
    ("text", {"encoder__precision": "bf16"}),  # ran float32
])
def test_parameters_are_validated_even_when_sklearn_is_told_to_skip_it(name, params):
    model = _models()[name].set_params(**params)
    key = next(iter(params)).rsplit("__", 1)[-1]
    with config_context(skip_parameter_validation=True), pytest.raises(ValueError,
                                                                       match=f"'{key}' param"):
        model.fit(X)


def _long_history_log(rng, n_items=2400, heavy=2200, light=30, pool=None):
    """One user of ``heavy`` interactions (0.5 ** (2200 / 2) underflows), ``light`` of 5
    each (from ``pool`` of the heavy user's items: enough held-out interactions on items
    with interactions for a learned blend); half-star ratings as weights (4.5 times a
    subnormal recency underflows too)."""
    order = rng.permutation(n_items)
    rows = [(0, int(i), t) for t, i in enumerate(order[:heavy])]
    rows += [(u, int(i), 5000 + u * 10 + k) for u in range(1, light + 1)
             for k, i in enumerate(rng.choice(order[:pool] if pool else n_items, 5,
                                              replace=False))]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).assign(weight=4.5)


def _an_item_shown_to_every_user(rng, n_users=1100):
    """Item 0 shown (weight 0) to ``n_users`` users and never picked."""
    rows = [(u, 0, 0.0) for u in range(n_users)]
    rows += [(u, int(i), 1.0) for u in range(n_users)
             for i in rng.choice(np.arange(1, 60), 3, replace=False)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "weight"])


@pytest.mark.parametrize("case", ["zero-shot, a long history", "item-kNN, a long history",
                                  "next-item, a long history", "hybrid, a long history",
                                  "learned hybrid, a long history",
                                  "hybrid, an item shown to every user"])
def test_long_histories_and_long_unpicked_items_under_strict_settings(case):
    # recency 0.5 ** rank past ~1075 ranks, a long history's tiny profile
    # entries scaled in the blend, an item's chance of no pick in 1,100
    # showings: each underflows, as meant, and raised under all="raise"
    rng = np.random.RandomState(0)
    long = "long history" in case
    # (30 light users of random items left the learned blend 1 usable held-out
    # interaction: it fell back to the fixed blend, and learned nothing)
    X = (_an_item_shown_to_every_user(rng) if not long else _long_history_log(rng)
         if "learned" not in case else _long_history_log(rng, light=200, pool=60))
    texts = pd.Series({i: f"topic{i % 7} thing{i} word{i % 3}"
                       for i in range(2400 if long else 60)})
    text = lambda: ZeroShotRecommender(TfidfVectorizer(), item_texts=texts)  # noqa: E731
    make = {"zero-shot": text, "item-kNN": ItemKNNRecommender, "next-item": NextItemRecommender,
            "hybrid": lambda: HybridRecommender(text(), blend="fixed", random_state=0,
                                                verbose=0),
            "learned hybrid": lambda: HybridRecommender(text(), random_state=0, verbose=0),
            }[case.split(",")[0]]
    plain = make().fit(X)
    want = plain.recommend([0, 1], 5, return_scores=True)
    if "learned" in case:
        assert plain.blend_validation_ndcg_.size  # a learned blend, not the fallback
    with np.errstate(all="raise"):
        strict = make().fit(X)
        got = strict.recommend([0, 1], 5, return_scores=True)
        why = strict.explain(0, n=3)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    np.testing.assert_allclose(why.contribution, plain.explain(0, n=3).contribution, rtol=1e-5,
                               atol=1e-7)


@pytest.mark.parametrize("name", ["item-kNN half_life=1e-309", "hybrid switch=1e300",
                                  "hybrid item_switch=1e39"])
def test_extreme_valid_parameters_neither_warn_nor_raise_under_strict_settings(name):
    # rank / 1e-309 and a float32 cast of 1e300 overflow to inf, as meant (a
    # weight of 0 past the latest item, a gate of 0): numpy warned, and
    # raised under all="raise"
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"user_id": rng.randint(0, 30, 400), "item_id": rng.randint(0, 40, 400)})
    texts = pd.Series({i: f"topic{i % 5} thing{i}" for i in range(40)})
    text = ZeroShotRecommender(TfidfVectorizer(), item_texts=texts)
    make = {"item-kNN half_life=1e-309": lambda: ItemKNNRecommender(half_life=1e-309),
            "hybrid switch=1e300": lambda: HybridRecommender(text, blend="fixed", switch=1e300,
                                                             random_state=0, verbose=0),
            "hybrid item_switch=1e39": lambda: HybridRecommender(text, blend="fixed", random_state=0,
                                                                 item_switch=1e39, verbose=0),
            }[name]
    plain = make().fit(X).recommend([0, 1], 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            np.testing.assert_array_equal(make().fit(X).recommend([0, 1], 5), plain)
