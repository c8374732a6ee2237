"""SparkALSRecommender in a real local[2] Spark session (needs Java).

Not in tests/test_common.py's ``parametrize_with_checks``: its checks fit
the estimator some fifty times, and every Spark fit, however small, runs
dozens of Spark jobs (a few seconds each fit on 2 cores), which would add
minutes to the suite. The checks that need no fit run here
(``test_sklearn_api_checks``); fitting, cloning, pickling, GridSearchCV and
errors have their own tests below.
"""

import os
import pickle
import shutil
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils import estimator_checks as checks

from sklearn_zsrec import (
    ALSRecommender,
    ContrastiveFineTuning,
    HybridRecommender,
    ItemKNNRecommender,
    NextItemRecommender,
    PopularityRecommender,
    SparkALSRecommender,
    TextEncoder,
    ZeroShotRecommender,
)
from sklearn_zsrec import _spark_als
from sklearn_zsrec.datasets import load_movielens_100k
from sklearn_zsrec.model_selection import LeaveLastOut, train_test_split_last

from ._data import topic_catalog, topic_interactions
from .test_common import NO_FIT_CHECKS
from ._tiny import tiny_model_path

pytestmark = [
    pytest.mark.skipif(shutil.which("java") is None,
                       reason="Spark needs Java 17 or later, and java is not on PATH"),
    # pyspark's own notes on this environment (no pyarrow, pandas 3), not ours
    pytest.mark.filterwarnings("ignore:.*attempted Arrow optimization:UserWarning"),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS)  # 48 users ("u0", ...) x 60 items, 5 each, with timestamps
USERS = X.user_id.unique()


@contextmanager
def _no_arrow(session):
    """``_arrow`` forced off: ratings and factors go as Python rows (a mock of our own switch)."""
    yield False


def _small(**params):
    """A fast model for the small data: one block, few factors and sweeps."""
    return SparkALSRecommender(**({"rank": 4, "max_iter": 4, "num_blocks": 1, "alpha": 4.0,
                                   "reg_param": 0.05, "random_state": 0} | params))


@pytest.fixture(scope="module")
def spark():
    """One local[2] session for the module: the active one, or a new one stopped at the end."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    created = SparkContext._active_spark_context is None
    session = (SparkSession.builder.master("local[2]").appName("sklearn-zsrec-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    if created:
        session.stop()


@pytest.fixture(scope="module")
def fitted(spark):
    """The small model fitted on X (the session is the active one: spark=None finds it)."""
    return _small().fit(X)


@pytest.mark.filterwarnings("ignore:.*not in the catalog")  # 3 items, both models
def test_ndcg_within_10_percent_of_implicit_on_movielens(spark):
    ml = load_movielens_100k().interactions[["user_id", "item_id", "timestamp"]]
    train, test = train_test_split_last(ml)  # each user's latest rating held out
    # implicit's settings are the benchmark's tuned ALS (regularization=1,
    # alpha=5; factors from its grid), mapped by the docstring's table:
    # Spark's confidence 1 + alpha * w equals implicit's alpha * w for
    # weights of 1 at alpha - 1; Spark's regularisation is reg_param times
    # each row's count, implicit's one constant: reg_param = 1 / (mean
    # interactions per user)
    per_user = len(train) / train.user_id.nunique()
    als = ALSRecommender(factors=64, regularization=1.0, alpha=5.0, iterations=15,
                         random_state=0).fit(train)
    spark_als = SparkALSRecommender(rank=64, max_iter=15, alpha=4.0, reg_param=1.0 / per_user,
                                    num_blocks=2, random_state=0).fit(train)
    implicit_ndcg, spark_ndcg = als.score(test), spark_als.score(test)
    print(f"NDCG@10 on MovieLens-100K: Spark {spark_ndcg:.4f}, implicit {implicit_ndcg:.4f}")
    assert abs(spark_ndcg - implicit_ndcg) <= 0.1 * implicit_ndcg
    assert spark_als.user_factors_.dtype == spark_als.item_factors_.dtype == np.float32
    assert spark_als.user_factors_.shape == (len(spark_als.users_), 64)


def test_factors_follow_users_and_items_and_rank_the_topics(fitted):
    # users of one topic share items: the factors must keep them apart
    topic_of_user = X.groupby("user_id").item_id.first().map(TOPICS)
    recs = fitted.recommend(topic_of_user.index, n=3)
    assert (TOPICS.loc[recs.ravel()].to_numpy().reshape(recs.shape)
            == topic_of_user.to_numpy()[:, None]).mean() > 0.9
    assert fitted.user_factors_.shape == (len(fitted.users_), 4)
    assert fitted.item_factors_.shape == (len(fitted.items_), 4)
    rows = fitted._rows(USERS[:5], "user")
    np.testing.assert_allclose(fitted.score_items(USERS[:5]),
                               fitted.user_factors_[rows] @ fitted.item_factors_.T, rtol=1e-5)
    # training items are never recommended
    for user, row in zip(topic_of_user.index, recs):
        assert not set(X.item_id[X.user_id == user]) & set(row)


@pytest.mark.parametrize("arrow", [True, False])
def test_factors_of_several_blocks_are_stored_by_id(spark, arrow, monkeypatch):
    # with more than one block Spark returns the factor rows block by block,
    # not in id order: stored in the order collected, users got other users'
    # factors (only the slow MovieLens test saw it)
    if not arrow:
        monkeypatch.setattr(_spark_als, "_arrow", _no_arrow)
    model = _small(num_blocks=3).fit(X)
    topic_of_user = X.groupby("user_id").item_id.first().map(TOPICS)
    recs = model.recommend(topic_of_user.index, n=3)
    assert (TOPICS.loc[recs.ravel()].to_numpy().reshape(recs.shape)
            == topic_of_user.to_numpy()[:, None]).mean() > 0.9


def test_explain_follows_sparks_normal_equation(fitted):
    # the contributions are computed from the documented equation (confidence
    # 1 + alpha * w, regularisation reg_param * count): they add up to
    # Spark's own score, with next to nothing left over
    parts = fitted.explain("u0", n=3)
    score = parts.groupby("item_id", sort=False).score.first()
    total = parts.groupby("item_id", sort=False).contribution.sum()
    np.testing.assert_allclose(total, score, rtol=1e-5, atol=1e-6)
    rest = parts.contribution[parts.source == "rest"].abs()
    assert rest.max() < 1e-3 * score.abs().max()
    # the fit's alpha and reg_param, not ones set since (for the next fit)
    alpha, reg_param = fitted.alpha, fitted.reg_param
    fitted.set_params(alpha=alpha * 10, reg_param=reg_param * 10)
    try:
        changed = fitted.explain("u0", n=3)
    finally:
        fitted.set_params(alpha=alpha, reg_param=reg_param)
    pd.testing.assert_frame_equal(changed, parts)


@pytest.fixture(scope="module")
def with_impressions(spark):
    """The small model fitted on X with weight 1, and 3 items of weight 0 for user u0."""
    seen = set(X.item_id[X.user_id == "u0"])
    shown = [i for i in X.item_id.unique() if i not in seen][:3]
    data = pd.concat([X.assign(weight=1.0),
                      pd.DataFrame({"user_id": "u0", "item_id": shown, "weight": 0.0,
                                    "timestamp": X.timestamp.max()})],
                     ignore_index=True)
    return data, _small().fit(data)


def test_explain_regularises_by_the_rows_of_positive_weight(with_impressions):
    # the docstring: "regularisation reg_param * count ... of positive weight",
    # as Spark counts them: with the user's impressions (weight 0) counted
    # too, the contributions no longer added up to the score and the gap
    # went to "rest", which is float32 rounding (a mutation hunt)
    _, model = with_impressions
    assert (model.user_items_[model._rows(["u0"], "user")[0]].data == 0).sum() == 3
    parts = model.explain("u0", n=3)
    score = parts.groupby("item_id", sort=False).score.first()
    total = parts[parts.source != "rest"].groupby("item_id", sort=False).contribution.sum()
    np.testing.assert_allclose(total, score, rtol=1e-4, atol=1e-5)
    rest = parts.contribution[parts.source == "rest"].abs()
    assert rest.max() < 1e-3 * score.abs().max()


def test_without_pyarrow_python_rows_give_the_arrow_model(spark, with_impressions,
                                                          monkeypatch):
    # without pyarrow the ratings and the factors go as Python rows, a path
    # the suite never ran (pyspark imports pyarrow here, so hiding the module
    # does not reach it): users and items swapped there survived a mutation
    # hunt. _arrow forced off (our own logic): the same model as through Arrow
    data, arrow_model = with_impressions
    monkeypatch.setattr(_spark_als, "_arrow", _no_arrow)
    rows_model = _small().fit(data)
    np.testing.assert_allclose(rows_model.user_factors_, arrow_model.user_factors_, atol=1e-4)
    np.testing.assert_allclose(rows_model.item_factors_, arrow_model.item_factors_, atol=1e-4)
    np.testing.assert_array_equal(rows_model.recommend(USERS[:5], n=3),
                                  arrow_model.recommend(USERS[:5], n=3))


def test_string_huge_and_negative_ids_give_the_same_model(fitted):
    # ids mapped in their own order: the same positions, so the same factors
    users = {u: f"user-{u}" for u in USERS}  # in the order of USERS' strings
    items = {i: i * 2**33 - 2**40 for i in ITEM_TEXTS.index}  # negative and past 2**31
    odd = X.assign(user_id=X.user_id.map(users), item_id=X.item_id.map(items))
    assert odd.item_id.min() < 0 and odd.item_id.max() >= 2**31
    model = _small().fit(odd)
    np.testing.assert_allclose(model.user_factors_, fitted.user_factors_, rtol=1e-5, atol=1e-6)
    expected = pd.DataFrame(fitted.recommend(USERS, n=5)).apply(lambda c: c.map(items))
    np.testing.assert_array_equal(model.recommend([users[u] for u in USERS], n=5), expected)


def test_thirty_iterations_checkpoint_in_a_temporary_directory(spark):
    model = _small(max_iter=30, checkpoint_interval=5).fit(X)
    assert np.isfinite(model.user_factors_).all() and np.abs(model.user_factors_).sum() > 0
    # the temporary directory is removed and unset
    assert spark.sparkContext.getCheckpointDir() is None


def test_fits_in_threads_share_the_temporary_directory(spark, fitted):
    # the first fit to end must not delete the directory the other still uses
    with ThreadPoolExecutor(2) as pool:
        models = list(pool.map(lambda n: _small(max_iter=n, checkpoint_interval=2).fit(X), [4, 12]))
    np.testing.assert_array_equal(models[0].user_factors_, fitted.user_factors_)
    assert spark.sparkContext.getCheckpointDir() is None
    assert _spark_als._TEMPORARY == {"directory": None, "fits": 0}


def test_a_fit_in_a_thread_leaves_the_sessions_settings_alone(spark):
    # the active session is per thread: spark=None in a worker thread went to
    # the builder, which wrote master local[2], the app name and its settings
    # into the user's session
    before = {key: spark.conf.get(key) for key in ("spark.app.name", "spark.master")}
    assert before["spark.app.name"] != "sklearn_zsrec"  # the builder's name
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: _small().fit(X)).result()
    assert {key: spark.conf.get(key) for key in before} == before


def test_arrow_is_restored_in_each_session_of_interleaved_fits(spark):
    # the count and the saved value were the process's: the first session to
    # leave while another was inside kept Arrow switched on for good
    pytest.importorskip("pyarrow")
    other = spark.newSession()
    first, second = _spark_als._arrow(spark), _spark_als._arrow(other)
    first.__enter__()
    second.__enter__()
    assert spark.conf.get(_spark_als._ARROW) == other.conf.get(_spark_als._ARROW) == "true"
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    assert spark.conf.get(_spark_als._ARROW, None) is None
    assert other.conf.get(_spark_als._ARROW, None) is None
    assert _spark_als._ARROW_STATE == {}


def test_a_sessions_own_checkpoint_directory_is_kept(spark, tmp_path):
    spark.sparkContext.setCheckpointDir(str(tmp_path))
    try:
        own = spark.sparkContext.getCheckpointDir()
        _small(max_iter=6, checkpoint_interval=2).fit(X)
        assert spark.sparkContext.getCheckpointDir() == own
        assert any(tmp_path.rglob("*"))  # Spark checkpointed there
    finally:
        _spark_als._unset_checkpoint_dir(spark.sparkContext)


def test_spark_dataframe_gives_the_same_model_as_pandas(spark, fitted):
    weighted = X.assign(weight=np.arange(len(X)) % 3 + 1.0)
    frame = spark.createDataFrame(weighted.assign(item_id=weighted.item_id.astype("int64")))
    from_spark = _small().fit(frame)
    from_pandas = _small().fit(weighted)
    np.testing.assert_array_equal(from_spark.users_, from_pandas.users_)
    np.testing.assert_array_equal(from_spark.items_, from_pandas.items_)
    np.testing.assert_array_equal(from_spark.user_factors_, from_pandas.user_factors_)
    np.testing.assert_array_equal(from_spark.item_factors_, from_pandas.item_factors_)
    np.testing.assert_array_equal(from_spark.recommend(USERS, n=5),
                                  from_pandas.recommend(USERS, n=5))
    # unweighted, the Spark frame gives the pandas model of the module's fixture
    plain = _small().fit(spark.createDataFrame(X[["user_id", "item_id"]]))
    np.testing.assert_array_equal(plain.user_factors_, fitted.user_factors_)


@pytest.mark.parametrize("session", ["active", "passed"])
def test_hybrid_with_a_spark_cf_member_fits_and_recommends(spark, session):
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS)
    member = _small(spark=spark if session == "passed" else None)
    hybrid = HybridRecommender(text, [("als", member), ("knn", ItemKNNRecommender())],
                               random_state=0, verbose=0).fit(X)
    assert "als_recent" in hybrid.terms_  # taken as a member with factors
    recs = hybrid.recommend(USERS, n=5)
    assert recs.shape == (len(USERS), 5)
    for user, row in zip(USERS, recs):
        assert not set(X.item_id[X.user_id == user]) & set(row)
    member = hybrid.named_members_.als
    assert member.item_factors_.shape == (len(member.items_), 4)


def test_pickle_and_joblib_round_trip_without_the_session(spark, tmp_path):
    model = _small(spark=spark).fit(X)
    expected = model.recommend(USERS, n=5)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.spark is None and model.spark is spark
    np.testing.assert_array_equal(loaded.recommend(USERS, n=5), expected)
    joblib.dump(model, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").recommend(USERS, n=5),
                                  expected)


@pytest.mark.filterwarnings("ignore:.*not in the catalog")  # tiny folds
def test_clone_shares_the_session_and_grid_search_runs(spark):
    model = _small(spark=spark)
    twin = clone(model)
    assert twin.spark is spark and twin.get_params()["rank"] == 4
    search = GridSearchCV(model, {"rank": [2, 4]}, cv=LeaveLastOut(n_splits=1)).fit(X)
    assert search.best_params_["rank"] in (2, 4)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.spark is spark
    assert not hasattr(clone(search.best_estimator_), "user_factors_")


def test_clones_made_in_threads_keep_the_session():
    # its clone set the original's session aside while it cloned: two clones
    # in two threads gave twins, and left the original, with spark=None (the
    # active session or a new local one: a cluster's session silently replaced)
    session = object()  # (any object: a clone passes it on untouched)
    model = SparkALSRecommender(rank=4, spark=session)
    with ThreadPoolExecutor(8) as pool:
        twins = list(pool.map(lambda _: clone(model), range(2000)))
    assert all(twin.spark is session for twin in twins)
    assert model.spark is session


def test_clone_keeps_the_metadata_requests_and_output_settings(spark):
    # its own clone rebuilt the object from its parameters alone: a
    # set_score_request (e.g. in a Pipeline step, under metadata routing) was lost
    import sklearn

    with sklearn.config_context(enable_metadata_routing=True):
        model = _small(spark=spark).set_fit_request(sample_weight=True).set_score_request(
            sample_weight=False)
        twin = clone(model)
        assert twin.spark is spark
        assert twin.get_metadata_routing().fit.requests == {"sample_weight": True}
        assert twin.get_metadata_routing().score.requests == {"sample_weight": False}


def test_parameters_are_validated_before_spark_runs():
    with pytest.raises(ValueError, match=r"The 'rank' parameter of SparkALSRecommender must be "
                                         r"an int in the range \[1, inf\) \(not a bool\)\. Got 0 instead"):
        SparkALSRecommender(rank=0).fit(X)
    with pytest.raises(ValueError, match="The 'spark' parameter of SparkALSRecommender"):
        SparkALSRecommender(spark="local[2]").fit(X)


def test_spark_dataframe_errors_name_the_fix(spark):
    frame = spark.createDataFrame(X[["user_id", "item_id"]].rename(columns={"user_id": "user"}))
    with pytest.raises(ValueError, match=r"X is missing the column\(s\) \['user_id'\]; got "
                                         r"columns \['user', 'item_id'\]\. Rename"):
        _small().fit(frame)
    with pytest.raises(ValueError, match="add the weights to X as a 'weight' column"):
        _small().fit(spark.createDataFrame(X), y=np.ones(len(X)))


def test_a_singular_system_names_the_fix(spark):
    # five items under the default rank of 10, without regularisation: Spark
    # raised its Java SingularMatrixException through py4j, naming no parameter
    X = pd.DataFrame({"user_id": ["a"] * 5 + ["b"] * 3 + ["c"], "item_id": list("VWXYZVWXV"),
                      "weight": [1.0] * 8 + [0.0]})
    with pytest.raises(ValueError, match="could not solve some user's or item's factors.*"
                                         "Raise reg_param above 0, use a rank below"):
        SparkALSRecommender(max_iter=3, num_blocks=1, reg_param=0.0, random_state=0,
                            spark=spark).fit(X)
    # a user whose only row weighs 0 no longer reaches Spark (its factors 0),
    # and changes no other user's factors, at any block count
    for blocks in (1, 3):
        with_c = SparkALSRecommender(max_iter=3, num_blocks=blocks, random_state=0,
                                     spark=spark).fit(X)
        without = SparkALSRecommender(max_iter=3, num_blocks=blocks, random_state=0,
                                      spark=spark).fit(X[X.user_id != "c"])
        assert not with_c.user_factors_[-1].any()
        np.testing.assert_array_equal(with_c.user_factors_[:2], without.user_factors_)
        np.testing.assert_array_equal(with_c.item_factors_, without.item_factors_)


def test_unknown_users_raise_as_in_als(fitted):
    with pytest.raises(ValueError, match="1 user ids were not seen in fit"):
        fitted.recommend(["nobody"])


def test_missing_pyspark_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import pyspark.sql fails
    with pytest.raises(ImportError, match=r'pip install "sklearn-zsrec\[spark\]"'):
        _small().fit(X)


def test_import_stays_cheap():
    code = "import sys, sklearn_zsrec; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("check", [*NO_FIT_CHECKS, checks.check_estimators_unfitted],
                         ids=lambda c: c.__name__)
def test_sklearn_api_checks(check):
    check("SparkALSRecommender", SparkALSRecommender())


def test_a_spark_frames_weight_column_spelt_otherwise_is_refused_not_dropped(spark):
    # our columns come over by their casefolded names, so that
    # check_interactions names "Weight"; by exact names it was dropped and
    # every interaction fitted at weight 1 (round 14)
    X = spark.createDataFrame(pd.DataFrame({"user_id": ["ann", "ann", "bob", "bob"],
                                            "item_id": [1, 2, 1, 3],
                                            "Weight": [5.0, 1.0, 3.0, 1.0]}))
    with pytest.raises(ValueError, match=r"\['Weight'\]"):
        SparkALSRecommender(rank=2, max_iter=2, num_blocks=1, random_state=0, spark=spark).fit(X)


def test_the_other_models_and_the_splitters_on_a_spark_frame(spark):
    # a TimestampType column (Spark's event times) failed in pyspark's Arrow
    # export with a bare AssertionError; the splitters return row positions,
    # which a Spark frame cannot be indexed by; its row order is not kept
    times = X.assign(timestamp=pd.to_datetime(X.timestamp, unit="s"))
    frame = spark.createDataFrame(times)
    assert dict(frame.dtypes)["timestamp"] == "timestamp"
    for model in (NextItemRecommender(), PopularityRecommender()):
        np.testing.assert_array_equal(clone(model).fit(frame).recommend(USERS, n=5),
                                      clone(model).fit(times).recommend(USERS, n=5))
    for split in (lambda X: next(LeaveLastOut().split(X)), train_test_split_last):
        with pytest.raises(TypeError, match=r"X is a Spark DataFrame, .* X.orderBy\('user_id', "
                                            r"'timestamp', 'item_id'\).toPandas\(\)"):
            split(frame)
    untimed = spark.createDataFrame(X[["user_id", "item_id"]])
    with pytest.warns(UserWarning, match="without a 'timestamp' column; Spark keeps no row "
                                         "order") as caught:
        fitted = NextItemRecommender().fit(untimed)
    ours = [w.filename for w in caught if "keeps no row order" in str(w.message)]
    assert ours == [__file__]  # at the user's line
    # models that read no time order say nothing; predict (an array, one score
    # per row) raises: the rows came over sorted by user, time and item (labels
    # hunt, 2026-12-07), or in the partitions' order
    with pytest.raises(TypeError, match=r"predict got a Spark DataFrame, whose rows have no "
                                        r"fixed order .* rows = X.toPandas\(\)"):
        PopularityRecommender().fit(X).predict(frame)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*keeps no row order")
        for model in (PopularityRecommender(), ALSRecommender(factors=2, iterations=1),
                      ItemKNNRecommender(half_life=None), _small(max_iter=1)):
            clone(model).fit(untimed)  # SparkALSRecommender too: it reads a user's rows as a set
        others = X.assign(user_id=X.user_id.to_numpy()[::-1])  # items unseen by each
        fitted.score(spark.createDataFrame(others[["user_id", "item_id"]]))
    # fine-tuning reads each user's next items, whatever half_life (the texts
    # miss X's items, so fit stops after the check, before any tuning)
    tuned = ZeroShotRecommender(item_texts=pd.Series({"nope": "x"}), half_life=None,
                                fine_tune=ContrastiveFineTuning())
    with pytest.warns(UserWarning, match="keeps no row order"), pytest.raises(ValueError):
        tuned.fit(untimed)
    with pytest.raises(ValueError, match="add the weights to X as a 'weight' column"):
        PopularityRecommender().fit(frame, y=np.ones(len(X)))


def test_a_spark_frames_rows_tied_in_time_give_one_model_whatever_its_partitions(spark):
    # ties fell to the row order Spark collected, which a repartition changes:
    # NextItem's top-5 changed for 40 of 40 users (hunt); now by item id
    tied = X.assign(timestamp=pd.Timestamp("2024-01-01", tz="UTC")
                    + pd.to_timedelta(X.groupby("user_id").cumcount() // 2, unit="D"))
    frame = spark.createDataFrame(tied)
    for model in (NextItemRecommender(), ItemKNNRecommender()):
        got = clone(model).fit(frame).recommend(USERS, n=5)
        np.testing.assert_array_equal(clone(model).fit(frame.repartition(3)).recommend(
            USERS, n=5), got)
        ordered = tied.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
        np.testing.assert_array_equal(clone(model).fit(ordered).recommend(USERS, n=5), got)


def test_a_spark_frames_times_are_instants_in_the_hour_a_clock_change_repeats(spark):
    # toPandas gave the session zone's wall-clock times: 01:30 EDT, then 01:10
    # EST forty minutes later, read in reverse order (hunt)
    times = pd.to_datetime(["2024-11-03 05:30", "2024-11-03 06:10", "2024-01-01 00:00",
                            "2024-01-02 00:00", "2024-01-01 00:00", "2024-01-02 00:00"],
                           utc=True)
    X = pd.DataFrame({"user_id": ["ann", "ann", "bob", "bob", "cy", "cy"],
                      "item_id": ["A", "B", "C", "D", "A", "C"], "timestamp": times})
    zone = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        got = NextItemRecommender().fit(spark.createDataFrame(X))
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)
    expected = NextItemRecommender().fit(X).recommend(["ann"], n=2, exclude_seen=False)
    assert expected.tolist() == [["B", "C"]]  # after A came B
    np.testing.assert_array_equal(got.recommend(["ann"], n=2, exclude_seen=False), expected)


def test_a_stopped_session_passed_as_spark_is_named(spark):
    # it raised pyspark's bare AssertionError(), or an AttributeError on a new
    # session; a stand-in for a stopped session (its context gone), as the
    # shared session cannot be stopped here: the test is about our own check
    from types import SimpleNamespace

    stopped = SimpleNamespace(_sc=SimpleNamespace(_jsc=None), createDataFrame=lambda *a: None)
    with pytest.raises(ValueError, match=r"spark= is a SparkSession that has been stopped"):
        _small(spark=stopped).fit(X)


def test_a_spark_frames_other_time_columns_are_left_behind(spark):
    # mutation round 22, mutant spark_instants_all_columns: a TimestampType column that is not ours
    # (dropped before toPandas) was converted too: KeyError 'ingested_at'
    from sklearn_zsrec import PopularityRecommender
    X = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [10, 11, 10, 12],
                      "timestamp": pd.to_datetime([1, 2, 3, 4], unit="D"),
                      "ingested_at": pd.to_datetime([5, 5, 5, 5], unit="D")})
    np.testing.assert_array_equal(
        PopularityRecommender().fit(spark.createDataFrame(X)).recommend([1, 2], n=2),
        PopularityRecommender().fit(X.drop(columns="ingested_at")).recommend([1, 2], n=2))


def test_spark_als_refuses_sample_weight_naming_y(spark):
    # sample_weight is refused by BaseRecommender.fit, naming y; a fit that
    # did not pass it on would weigh every row 1 (impressions as clicks), silently
    with pytest.raises(ValueError, match="takes the rows' weights as y"):
        _small().fit(X, sample_weight=np.ones(len(X)))
