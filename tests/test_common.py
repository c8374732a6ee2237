"""scikit-learn's estimator checks over every public estimator."""

import pandas as pd
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_zsrec import (
    ALSRecommender,
    HybridRecommender,
    PopularityRecommender,
    TextEncoder,
    ZeroShotRecommender,
)

from ._tiny import tiny_model_path

# The checks draw ids from small integers (rounded floats); give each a text.
ITEM_TEXTS = pd.Series({i: f"item number {i}" for i in range(-200, 1001)})


def _estimators():
    encoder = TextEncoder(tiny_model_path(), verbose=0)
    text = ZeroShotRecommender(encoder, item_texts=ITEM_TEXTS)
    return [
        TextEncoder(tiny_model_path(), verbose=0),
        PopularityRecommender(),
        ALSRecommender(factors=4, iterations=3, random_state=0),
        text,
        HybridRecommender(text, ALSRecommender(factors=4, iterations=3, random_state=0)),
    ]


@parametrize_with_checks(_estimators())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
