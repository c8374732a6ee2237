"""Recommenders at the end of a scikit-learn Pipeline, scored and tuned.

The rank scorer transforms X through the pipeline's steps before its final
recommender, then scores that recommender: a pipeline must score exactly as
the bare recommender fitted and scored on the transformed data.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_zsrec import ALSRecommender, PopularityRecommender
from sklearn_zsrec.metrics import make_rank_scorer
from sklearn_zsrec.model_selection import LeaveLastOut

from ._data import topic_catalog, topic_interactions

_, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)
# two users with every item, in opposite orders, so that every item held out
# by LeaveLastOut(n_splits=2) is in the training catalog (held-out items
# outside it are misses, with a warning)
ALL_ITEMS = TOPICS.index.to_numpy()
ANCHORS = pd.DataFrame(
    {
        "user_id": ["first"] * len(ALL_ITEMS) + ["last"] * len(ALL_ITEMS),
        "item_id": np.concatenate([ALL_ITEMS, ALL_ITEMS[::-1]]),
        "timestamp": np.tile(np.arange(len(ALL_ITEMS)), 2),
    }
)
X = pd.concat([ANCHORS, X], ignore_index=True)
# a few "ad" rows, which the pipeline's first step drops
ADS = pd.DataFrame({"user_id": ["u0", "u1", "u3"], "item_id": [-1, -2, -1], "timestamp": [9, 9, 9]})
X_ADS = pd.concat([X, ADS], ignore_index=True)
CV = list(LeaveLastOut(n_splits=2).split(X_ADS))


def drop_ads(frame):
    """Drop the rows of the negative (ad) item ids; keep a DataFrame."""
    return frame[frame["item_id"] >= 0]


def rename_columns(frame):
    """``user``/``item`` columns to ``user_id``/``item_id``."""
    return frame.rename(columns={"user": "user_id", "item": "item_id"})


def _pipeline(recommender, *steps):
    steps = steps or (("drop_ads", FunctionTransformer(drop_ads)),)
    return Pipeline([*steps, ("rec", recommender)])


RECOMMENDERS = [PopularityRecommender(), ALSRecommender(factors=4, random_state=0)]


def _bare_scores(recommender, scorer, folds=CV, data=X_ADS, transform=drop_ads):
    """The bare recommender, fitted and scored on the transformed folds."""
    out = []
    for train, test in folds:
        model = clone(recommender).fit(transform(data.iloc[train]))
        test_rows = transform(data.iloc[test])
        out.append(model.score(test_rows) if scorer is None else scorer(model, test_rows))
    return np.array(out)


@pytest.mark.parametrize("recommender", RECOMMENDERS, ids=lambda r: type(r).__name__)
def test_rank_scorer_scores_a_pipeline_as_its_final_recommender(recommender):
    train, test = CV[0]
    pipe = _pipeline(clone(recommender)).fit(X_ADS.iloc[train])
    bare = clone(recommender).fit(drop_ads(X_ADS.iloc[train]))
    for metric in ("ndcg", "recall", "mrr"):
        scorer = make_rank_scorer(metric, k=5)
        expected = scorer(bare, drop_ads(X_ADS.iloc[test]))
        assert scorer(pipe, X_ADS.iloc[test]) == expected
    # the ad rows are unknown items to the bare model: without the transform
    # they would be warned about, so the pipeline really transformed X
    with pytest.warns(UserWarning, match=r"not in the catalog"):
        make_rank_scorer("ndcg")(bare, X_ADS.iloc[test])


def test_rank_scorer_scores_a_frozen_pipeline_as_its_final_recommender():
    # scikit-learn's FrozenEstimator (a model fitted beforehand): "FrozenEstimator
    # has no recommend method; a rank scorer scores ... a Pipeline that ends in one"
    from sklearn.frozen import FrozenEstimator

    train, test = CV[0]
    pipe = _pipeline(PopularityRecommender()).fit(X_ADS.iloc[train])
    scorer = make_rank_scorer("ndcg", k=5)
    expected = scorer(pipe, X_ADS.iloc[test])
    assert scorer(FrozenEstimator(pipe), X_ADS.iloc[test]) == expected
    assert scorer(Pipeline([("all", FrozenEstimator(pipe))]), X_ADS.iloc[test]) == expected


@pytest.mark.parametrize("recommender", RECOMMENDERS, ids=lambda r: type(r).__name__)
def test_cross_validate_a_pipeline_with_rank_scorers(recommender):
    scoring = {"ndcg": make_rank_scorer("ndcg", k=10), "recall": make_rank_scorer("recall", k=5)}
    result = cross_validate(
        _pipeline(clone(recommender)), X_ADS, cv=CV, scoring=scoring, error_score="raise"
    )
    for name, scorer in scoring.items():
        expected = _bare_scores(recommender, scorer)
        assert np.isfinite(result[f"test_{name}"]).all()
        np.testing.assert_array_equal(result[f"test_{name}"], expected)


def test_grid_search_a_pipeline_with_a_rank_scorer():
    scorer = make_rank_scorer("ndcg", k=10)
    grid = {"rec__factors": [2, 4]}
    search = GridSearchCV(
        _pipeline(ALSRecommender(factors=4, random_state=0)),
        grid,
        cv=CV,
        scoring=scorer,
        error_score="raise",
    ).fit(X_ADS)
    assert np.isfinite(search.best_score_)
    for i, factors in enumerate(grid["rec__factors"]):
        bare = ALSRecommender(factors=factors, random_state=0)
        np.testing.assert_allclose(
            search.cv_results_["mean_test_score"][i], _bare_scores(bare, scorer).mean()
        )


@pytest.mark.parametrize("recommender", RECOMMENDERS, ids=lambda r: type(r).__name__)
def test_grid_search_a_pipeline_with_default_scoring(recommender):
    # Pipeline.score transforms X and calls the recommender's score (NDCG@10)
    grid = {"drop_ads__validate": [False]}
    search = GridSearchCV(
        _pipeline(clone(recommender)), grid, cv=CV, error_score="raise"
    ).fit(X_ADS)
    assert np.isfinite(search.best_score_)
    np.testing.assert_allclose(search.best_score_, _bare_scores(recommender, None).mean())
    default = make_rank_scorer("ndcg", k=10)
    np.testing.assert_allclose(search.best_score_, _bare_scores(recommender, default).mean())


def test_a_pipeline_scores_with_metadata_routing_on():
    # Pipeline.score passes sample_weight=None to its last step when routing
    # is on: "unexpected argument(s) {'sample_weight'}", and every candidate
    # of a search scored NaN (the first best) with only a warning
    import sklearn

    grid = {"rec__factors": [2, 4]}
    searches = []
    for routing in (False, True):
        with sklearn.config_context(enable_metadata_routing=routing):
            train, test = (X_ADS.iloc[rows] for rows in CV[0])
            pipe = _pipeline(ALSRecommender(random_state=0)).fit(train)
            assert np.isfinite(pipe.score(test))
            searches.append(GridSearchCV(_pipeline(ALSRecommender(random_state=0)), grid,
                                         cv=CV, error_score="raise").fit(X_ADS))
    np.testing.assert_array_equal(searches[1].cv_results_["mean_test_score"],
                                  searches[0].cv_results_["mean_test_score"])
    with pytest.raises(ValueError, match=r"takes no sample_weight: each user counts once"):
        pipe.score(test, sample_weight=np.ones(len(test)))


def test_pipeline_that_renames_columns_and_has_passthrough_steps():
    raw = X_ADS.rename(columns={"user_id": "user", "item_id": "item"})
    pipe = Pipeline(
        [
            ("rename", FunctionTransformer(rename_columns)),
            ("nothing", "passthrough"),
            ("drop_ads", FunctionTransformer(drop_ads)),
            ("none", None),
            ("rec", PopularityRecommender()),
        ]
    )
    train, test = CV[1]
    scorer = make_rank_scorer("ndcg", k=10)
    pipe.fit(raw.iloc[train])
    bare = PopularityRecommender().fit(drop_ads(X_ADS.iloc[train]))
    assert scorer(pipe, raw.iloc[test]) == scorer(bare, drop_ads(X_ADS.iloc[test]))
    assert pipe.score(raw.iloc[test]) == bare.score(drop_ads(X_ADS.iloc[test]))


def test_nested_pipeline():
    inner = Pipeline([("drop_ads", FunctionTransformer(drop_ads)), ("rec", PopularityRecommender())])
    outer = Pipeline([("nothing", "passthrough"), ("inner", inner)])
    train, test = CV[0]
    outer.fit(X_ADS.iloc[train])
    bare = PopularityRecommender().fit(drop_ads(X_ADS.iloc[train]))
    scorer = make_rank_scorer("map", k=10)
    assert scorer(outer, X_ADS.iloc[test]) == scorer(bare, drop_ads(X_ADS.iloc[test]))


def test_pipeline_without_a_recommender_at_the_end_raises():
    pipe = Pipeline([("drop_ads", FunctionTransformer(drop_ads)), ("rec", "passthrough")])
    pipe.fit(X_ADS)
    with pytest.raises(ValueError, match=r"last step 'rec' is 'passthrough'.*recommender"):
        make_rank_scorer("ndcg")(pipe, X_ADS)


@pytest.mark.parametrize("recommender", RECOMMENDERS, ids=lambda r: type(r).__name__)
def test_recommend_through_the_final_step_of_a_fitted_pipeline(recommender):
    # user ids are not transformed by the steps, which transform interaction
    # rows: pipe[-1].recommend is the pipeline's recommend, as pipe[-1].coef_
    # is its coefficients
    pipe = _pipeline(clone(recommender)).fit(X_ADS)
    bare = clone(recommender).fit(drop_ads(X_ADS))
    users = ["u0", "u1", "first"]
    np.testing.assert_array_equal(pipe[-1].recommend(users, n=5), bare.recommend(users, n=5))
    assert -1 not in pipe[-1].items_
