"""scikit-learn's estimator checks over every public estimator."""

import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils import estimator_checks as checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_zsrec import (
    ALSRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    NextItemRecommender,
    PopularityRecommender,
    TextEncoder,
    ZeroShotRecommender,
)

from ._tiny import tiny_model_path
from ._members import cf_members

# The checks draw ids from small integers (rounded floats); give each a text.
ITEM_TEXTS = pd.Series({i: f"item number {i}" for i in range(-200, 1001)})


def _estimators():
    encoder = TextEncoder(tiny_model_path(), verbose=0)
    text = ZeroShotRecommender(encoder, item_texts=ITEM_TEXTS)
    return [
        TextEncoder(tiny_model_path(), verbose=0),
        PopularityRecommender(),
        ALSRecommender(factors=4, iterations=3, random_state=0),
        ItemKNNRecommender(),
        NextItemRecommender(),
        text,
        HybridRecommender(text, cf_members(ALSRecommender(factors=4, iterations=3, random_state=0))),
    ]


# X is a table of interaction rows (user_id, item_id[, timestamp]), not a
# feature matrix: checks that feed 1, 4, 5 or 10 numeric feature columns get a
# "must have 2 or 3 columns" ValueError, which is the right answer.
_WRONG_SHAPE = "feeds a feature matrix with {} columns; interactions have 2 or 3 (a ValueError says so)"
# score(X) on the rows the model was fitted on: every row is a training
# interaction, which recommend excludes, so no held-out row is left and a
# ValueError says so (make_rank_scorer(exclude_seen=False) scores them)
_TRAINING_ROWS = (
    "scores the training rows: every row is a training interaction, which "
    "recommend excludes, so a ValueError says no held-out row is left"
)
# fit's sample_weight raises naming y: the rows' weights are y, which a search
# also hands each held-out fold's scorer (a sample_weight reaches fit only)
_WEIGHTS_ARE_Y = "fit refuses sample_weight, naming y (the rows' weights are y)"
_EXPECTED = {
    **dict.fromkeys([
        "check_sample_weights_pandas_series", "check_sample_weights_not_an_array",
        "check_sample_weights_list", "check_all_zero_sample_weights_error",
        "check_sample_weights_shape", "check_sample_weights_not_overwritten",
    ], _WEIGHTS_ARE_Y),
    # (its first fit, without weights, feeds 30 feature columns)
    "check_sample_weight_equivalence_on_dense_data": _WRONG_SHAPE.format(30),
    "check_estimators_dtypes": _WRONG_SHAPE.format(5),
    "check_dtype_object": _WRONG_SHAPE.format(10),
    "check_fit2d_1sample": _WRONG_SHAPE.format(10),
    "check_positive_only_tag_during_fit": _WRONG_SHAPE.format(4) + " (iris)",
    "check_n_features_in_after_fitting": _WRONG_SHAPE.format(4),
    "check_fit_score_takes_y": _TRAINING_ROWS,
    "check_pipeline_consistency": _TRAINING_ROWS,
    "check_n_features_in": (
        "no n_features_in_: the timestamp column is optional at predict time, "
        "so a column count learned in fit would be misleading"
    ),
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, TextEncoder):
        return {}
    return _EXPECTED


@parametrize_with_checks(_estimators(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# TextEncoder takes raw strings (input tag `string`, no 2-D array), so
# parametrize_with_checks skips it, as it skips scikit-learn's own
# CountVectorizer. The checks that need no numeric X run here instead, and
# tests/test_encoder.py covers fit, transform, clone and pickling.
NO_FIT_CHECKS = [
    checks.check_estimator_cloneable,
    checks.check_estimator_repr,
    checks.check_no_attributes_set_in_init,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_parameters_default_constructible,
    checks.check_estimator_tags_renamed,
    checks.check_valid_tag_types,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_mixin_order,
]


@pytest.mark.parametrize("check", NO_FIT_CHECKS, ids=lambda c: c.__name__)
def test_text_encoder_api_checks(check):
    check("TextEncoder", TextEncoder(tiny_model_path(), verbose=0))


def test_text_encoder_fit_leaves_params_untouched():
    encoder = TextEncoder(tiny_model_path(), verbose=0)
    before = clone(encoder).get_params()
    assert encoder.fit(["ignored"]) is encoder
    assert encoder.get_params() == before


def test_the_tags_say_what_the_estimators_take():
    import numpy as np
    from sklearn.utils import get_tags

    model = PopularityRecommender()
    assert get_tags(model).input_tags.string  # ids may be strings
    X = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"]})
    assert model.fit(X).recommend(["b"], n=1).tolist() == [["y"]]
    encoder = TextEncoder(tiny_model_path(), verbose=0)
    assert get_tags(encoder).transformer_tags.preserves_dtype == []  # float32, always
    assert encoder.fit().transform(["a text"]).dtype == np.float32
