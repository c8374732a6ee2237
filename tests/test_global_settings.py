"""The package under process-wide settings a user's code may have made.

- ``np.seterr(all="raise")``, a common debugging setting: underflow where
  the package expects it (a float32 weight under its range, the squares of
  a tiny profile's entries in a norm) raised ``FloatingPointError`` from
  ``fit`` (the zero-shot and hybrid models with the real text model, any
  model with a weight of 1e-200); the same answers are expected.
- scikit-learn's ``skip_parameter_validation=True``: a misspelt option was
  taken for the other one (``popularity="counts"`` ranked by weight,
  ``blend="lerned"`` fitted the fixed blend) and ``n_neighbors=-1`` crashed
  the interpreter in implicit; each raises, naming the parameter.

(torch's settings, autograd off and a float64 default dtype, are tested
with the fine-tuning they changed: tests/test_fine_tune.py.)
"""

import numpy as np
import pytest
from sklearn import config_context

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


@pytest.mark.parametrize("name, params, message", [
    ("popularity", {"popularity": "counts"}, "popularity must be 'count' or 'weight'; got "
                                             "'counts'"),
    ("hybrid", {"blend": "lerned"}, "blend must be 'learned' or 'fixed'; got 'lerned'"),
    ("knn", {"n_neighbors": -1}, "n_neighbors must be an int >= 1; got -1"),
    ("knn", {"n_neighbors": 0}, "n_neighbors must be an int >= 1; got 0"),
])
def test_options_are_checked_where_they_are_used_without_sklearns_validation(name, params,
                                                                             message):
    model = _models()[name].set_params(**params)
    with config_context(skip_parameter_validation=True), pytest.raises(ValueError,
                                                                       match=message):
        model.fit(X)
