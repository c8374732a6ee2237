"""The estimators inside scikit-learn's model selection tools."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_zsrec import (
    ALSRecommender,
    HybridRecommender,
    TextEncoder,
    ZeroShotRecommender,
    clear_embedding_cache,
    embedding_cache_info,
)
from sklearn_zsrec.metrics import make_rank_scorer
from sklearn_zsrec.model_selection import LeaveLastOut

from ._data import topic_catalog, topic_interactions
from ._tiny import tiny_model_path
from ._members import cf_members

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)


def _hybrid():
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS)
    return HybridRecommender(text, cf_members(ALSRecommender(factors=4, iterations=5, random_state=0)))


def test_grid_search_encodes_each_item_text_once():
    clear_embedding_cache()
    grid = {"switch": [1, 5, 20], "cf__factors": [2, 4]}  # 6 candidates
    search = GridSearchCV(_hybrid(), grid, cv=LeaveLastOut(n_splits=2)).fit(X)
    assert len(search.cv_results_["params"]) == 6
    # 6 candidates x 2 folds + the refit = 13 fits, one encoding per text
    assert embedding_cache_info().misses == ITEM_TEXTS.nunique()
    assert embedding_cache_info().hits >= 12 * len(ITEM_TEXTS)
    assert search.best_estimator_.recommend(["u0"], n=3).shape == (1, 3)


def test_cross_validate_with_rank_scorers():
    scoring = {"ndcg": make_rank_scorer("ndcg", k=10), "recall": make_rank_scorer("recall", k=20)}
    result = cross_validate(_hybrid(), X, cv=LeaveLastOut(n_splits=2), scoring=scoring)
    assert result["test_ndcg"].shape == (2,)
    assert np.all((result["test_recall"] >= 0) & (result["test_recall"] <= 1))


def test_grid_search_prefers_the_model_that_uses_the_data():
    # a topic-structured catalog: pure CF (the fixed blend with switch 0) must
    # beat a popularity-ish one-factor model; the search must find it. (The
    # learned blend would choose its own terms and could make both alike.)
    grid = {"cf__factors": [1, 8], "switch": [0]}
    hybrid = clone(_hybrid()).set_params(cf__iterations=15, blend="fixed", random_state=0)
    search = GridSearchCV(hybrid, grid, cv=LeaveLastOut(n_splits=2)).fit(X)
    assert search.best_params_["cf__factors"] == 8


def test_nested_cross_validation_with_a_rank_scorer():
    # the scorer did not read a fitted search through its best_estimator_:
    # every outer fold scored NaN ('GridSearchCV has no recommend method')
    import pytest

    scorer = make_rank_scorer("ndcg", k=10)
    inner = GridSearchCV(ALSRecommender(iterations=3, random_state=0),
                         {"factors": [2, 4]}, cv=LeaveLastOut(), scoring=scorer)
    result = cross_validate(inner, X, cv=LeaveLastOut(n_splits=2), scoring=scorer,
                            error_score="raise", return_estimator=True)
    assert np.all(np.isfinite(result["test_score"]))
    train, test = next(LeaveLastOut(n_splits=2).split(X))
    fitted = result["estimator"][0]
    assert result["test_score"][0] == scorer(fitted.best_estimator_, X.iloc[test])
    no_refit = clone(inner).set_params(refit=False).fit(X.iloc[train])
    with pytest.raises(ValueError, match="refit=False: it has no best_estimator_"):
        scorer(no_refit, X.iloc[test])


def test_metric_functions_and_train_scores_in_searches_raise_naming_the_fix():
    # a metric function as scoring got the estimator as y_true, and the
    # messages blamed y_true, k or y_pred; train scores blamed "held-out rows"
    import pytest
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import validation_curve

    from sklearn_zsrec import ItemKNNRecommender
    from sklearn_zsrec.metrics import catalog_coverage, ndcg_at_k

    knn, cv = ItemKNNRecommender(), LeaveLastOut(n_splits=2)
    y = np.ones(len(X))
    fix = r"make_rank_scorer\('ndcg', k=10\)"
    for scoring, target in [(ndcg_at_k, None), (ndcg_at_k, y), (catalog_coverage, None)]:
        with pytest.raises(TypeError, match=fix):
            cross_validate(knn, X, target, cv=cv, scoring=scoring, error_score="raise")
    with pytest.raises(ValueError, match=fix):  # predict's per-row scores as y_pred
        make_scorer(ndcg_at_k)(clone(knn).fit(X), X, y)
    # its fix for the curves, which have no return_train_score (it named one)
    with pytest.raises(ValueError, match=r"A train score scores the training rows.*in the "
                                         r"curves, leave error_score at its default"):
        validation_curve(knn, X, None, param_name="n_neighbors", param_range=[5], cv=cv,
                         scoring=make_rank_scorer("ndcg"), error_score="raise")


def test_the_default_encoder_s_parameters_are_refused_naming_the_fix():
    # encoder=None (the default TextEncoder(), made at fit) and fine_tune=None
    # have no parameters: set_params, and a grid over them, raised
    # "AttributeError: 'NoneType' object has no attribute 'set_params'"
    text = ZeroShotRecommender(item_texts=ITEM_TEXTS)
    for key in ("encoder__max_length", "fine_tune__n_steps"):
        owner = key.split("__")[0]
        with pytest.raises(ValueError, match=rf"cannot set \['{key}'\]: {owner} is None .* "
                                             rf"e.g. {owner}=\w+\(\)"):
            clone(text).set_params(**{key: 8})
    hybrid = HybridRecommender(text, cf_members(ALSRecommender()))
    with pytest.raises(ValueError, match="encoder is None"):
        hybrid.set_params(text__encoder__max_length=8)
    # given in the same call, the encoder takes its parameter
    text.set_params(encoder=TextEncoder(tiny_model_path(), verbose=0), encoder__max_length=8)
    assert text.get_params()["encoder__max_length"] == 8


def test_sample_weight_is_refused_naming_y():
    # the scikit-learn spelling crashed with a bare TypeError, and with metadata
    # routing on, once requested, too. A search gives y's held-out part to the scorer, a
    # sample_weight only to fit: its impressions would count as relevant
    import sklearn

    w = np.ones(len(X))
    als = ALSRecommender(factors=2, iterations=1, random_state=0)
    with pytest.raises(ValueError, match=r"ALSRecommender.fit takes the rows' weights as y .* "
                                         r"pass fit\(X, y=w\)"):
        clone(als).fit(X, sample_weight=w)
    search = GridSearchCV(als, {"factors": [2]}, cv=LeaveLastOut(), error_score="raise")
    with pytest.raises(ValueError, match="takes the rows' weights as y"):
        clone(search).fit(X, sample_weight=w)
    with sklearn.config_context(enable_metadata_routing=True):
        asked = clone(als).set_fit_request(sample_weight=True).set_score_request(
            sample_weight=False)
        routed = clone(search).set_params(estimator=asked)
        with pytest.raises(ValueError, match="takes the rows' weights as y"):
            routed.fit(X, sample_weight=w)
    assert clone(search).fit(X, y=w).best_score_ > 0


def test_a_split_of_whole_users_warns_that_it_scores_cold_users():
    # scikit-learn's default cv (KFold without shuffle) on a log sorted by
    # user holds out whole users: each scored as new against all its rows,
    # NDCG@10 10-35 times the known users' figure on MovieLens, without a word
    import warnings

    from sklearn.model_selection import cross_val_score

    from sklearn_zsrec import PopularityRecommender

    by_user = X.sort_values("user_id", kind="stable")
    with pytest.warns(UserWarning, match=r"of the held-out rows were not seen in fit .*"
                                         r"LeaveLastOut") as caught:
        cross_val_score(PopularityRecommender(), by_user, cv=3)
    assert sum("not seen in fit" in str(w.message) for w in caught) == 3  # one per fold
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*not seen in fit")
        cross_val_score(PopularityRecommender(), by_user, cv=LeaveLastOut(n_splits=2),
                        error_score="raise")
        # a model that cannot score them raises, naming them: no "scored as new users"
        als = ALSRecommender(factors=2, iterations=1, random_state=0)
        with pytest.raises(ValueError, match="not seen in fit"):
            cross_val_score(als, by_user, cv=3, error_score="raise")
