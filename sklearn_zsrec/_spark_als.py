"""SparkALSRecommender: Spark ML's alternating least squares as an estimator.

Data flow: interactions in (a pandas or a Spark DataFrame), ids mapped to
the rows and columns of ``user_items_`` (``BaseRecommender._index``), those
int32 positions and weights fitted by ``pyspark.ml.recommendation.ALS``
(``implicitPrefs=True``) in a Spark session, the factors brought back into
numpy, then scores and top-k as for :class:`ALSRecommender`. pyspark is
imported in ``fit`` only: ``import sklearn_zsrec`` stays cheap.
"""

import copy
import os
import sys
import tempfile
from contextlib import contextmanager
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval

from ._als import _placed, _with_interactions, _without_zeros
from ._base import BaseRecommender
from ._scores import _matmul
from ._explain import factor_contributions
from ._params import Count
from ._locks import Lock

_INT32_IDS = 2**31 - 1  # Spark's ALS takes int32 user and item ids
_LOCAL_MASTER = "local[2]"


def _require_pyspark():
    """``pyspark.sql.SparkSession``, or an ImportError saying what to install."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ImportError(
            "SparkALSRecommender needs pyspark, which is not installed. Fix: "
            'pip install "sklearn-zsrec[spark]" (and Java 17 or later), or use '
            "ALSRecommender, which runs in this process."
        ) from exc
    return SparkSession


def _session(spark):
    """``spark``, or the active session, or a new ``local[2]`` one (kept for later fits)."""
    SparkSession = _require_pyspark()
    if spark is not None:
        if getattr(getattr(spark, "_sc", None), "_jsc", True) is None:  # (classic sessions)
            raise ValueError(
                "spark= is a SparkSession that has been stopped (spark.stop(), or a "
                "restarted notebook kernel's Spark); pass the running session "
                "(SparkSession.getActiveSession()), or spark=None to use it.")
        return spark
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from pyspark import SparkContext

    created = SparkContext._active_spark_context is None
    if not created:
        # a session of another thread (the active one is per thread): the
        # builder below would write its master, name and settings into it
        default = getattr(SparkSession, "_instantiatedSession", None)
        if default is not None and default._sc._jsc is not None:  # not on a stopped context
            return default
    # workers run this interpreter (its packages), not the first python3 on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        session = (SparkSession.builder.master(_LOCAL_MASTER)
                   .appName("sklearn_zsrec")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .getOrCreate())
    except Exception as exc:  # pyspark raises its own errors when Java fails to start
        raise RuntimeError(
            f"SparkALSRecommender: could not start a {_LOCAL_MASTER} Spark session "
            f"({type(exc).__name__}: {exc}). Spark needs Java 17 or later on PATH "
            "(or JAVA_HOME); or pass spark=<your SparkSession>."
        ) from exc
    if created:
        session.sparkContext.setLogLevel("ERROR")
    return session


def _unset_checkpoint_dir(sc):
    """Point the context at no checkpoint directory again (best effort: a private setter)."""
    try:
        getattr(sc._jsc.sc(), "checkpointDir_$eq")(sc._jvm.scala.Option.empty())
    except Exception:  # another Spark version: later fits take the deleted path for
        pass  # the session's own directory, which Spark creates again


# the temporary checkpoint directory of the fits running in this process
# (threads share it: the last fit to finish deletes it)
_TEMPORARY = {"directory": None, "fits": 0}
_TEMPORARY_LOCK = Lock()


@contextmanager
def _checkpoint_dir(sc):
    """A checkpoint directory for the fit: the context's own, or a temporary one.

    Without one, Spark's ALS keeps the whole lineage of its iterations and
    fails with a StackOverflowError after some 25 of them. A directory the
    session already has (e.g. on HDFS, as a cluster needs) is used as it is;
    otherwise a local temporary directory is set, then deleted and unset
    when the last fit using it ends.
    """
    with _TEMPORARY_LOCK:
        if _TEMPORARY["fits"] == 0 and sc.getCheckpointDir() is not None:
            own = None
        else:
            own = _TEMPORARY["directory"]
            if own is None:
                own = _TEMPORARY["directory"] = tempfile.TemporaryDirectory(
                    prefix="sklearn_zsrec_spark_")
                sc.setCheckpointDir(own.name)
            _TEMPORARY["fits"] += 1
    try:
        yield
    finally:
        if own is not None:
            with _TEMPORARY_LOCK:
                _TEMPORARY["fits"] -= 1
                if _TEMPORARY["fits"] == 0:
                    _unset_checkpoint_dir(sc)
                    own.cleanup()
                    _TEMPORARY["directory"] = None


_ARROW = "spark.sql.execution.arrow.pyspark.enabled"
# fits in threads of one session share the setting: the first to enter keeps
# the user's value, the last to leave puts it back; per session (each of
# ``spark.newSession()``'s has settings of its own), keyed by the JVM session
_ARROW_STATE = {}
_ARROW_LOCK = Lock()


def _session_key(spark):
    """One key per session, whichever Python object wraps it (the JVM session's)."""
    return getattr(spark, "_jsparkSession", None) or id(spark)


@contextmanager
def _arrow(spark):
    """Arrow transfers between pandas and Spark for the block; yields whether they are on.

    Sets ``spark.sql.execution.arrow.pyspark.enabled`` for the block and
    restores the session's own value (or unsets it) after. Without pyarrow
    it changes nothing and yields False: the callers then pass Python rows.
    """
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        yield False
        return
    key = _session_key(spark)
    with _ARROW_LOCK:
        state = _ARROW_STATE.get(key)
        if state is None:
            state = _ARROW_STATE[key] = {"users": 0, "previous": spark.conf.get(_ARROW, None)}
            spark.conf.set(_ARROW, "true")
        state["users"] += 1
    try:
        yield True
    finally:
        with _ARROW_LOCK:
            state["users"] -= 1
            if state["users"] == 0:
                del _ARROW_STATE[key]
                if state["previous"] is None:
                    spark.conf.unset(_ARROW)
                else:
                    spark.conf.set(_ARROW, state["previous"])


def _ratings(spark, user_items):
    """The non-zero entries of ``user_items`` as a Spark DataFrame (user, item, rating).

    A pandas DataFrame of int32 positions and float32 weights sent through
    Arrow (some 20 times faster than Python rows), or Python rows without
    pyarrow.
    """
    coo = user_items.tocoo()
    schema = "user int, item int, rating float"
    with _arrow(spark) as arrow:
        if arrow:
            frame = pd.DataFrame({"user": coo.row.astype(np.int32, copy=False),
                                  "item": coo.col.astype(np.int32, copy=False),
                                  "rating": coo.data.astype(np.float32, copy=False)})
            return spark.createDataFrame(frame, schema)
    rows = zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist())
    return spark.createDataFrame(list(rows), schema)


def _collect_factors(frame, n_rows, rank):
    """Spark's ``(id, features)`` factor rows as a float32 array in id order (zeros if absent).

    Through Arrow (``toPandas``) when pyarrow is installed, else as Rows.
    """
    out = np.zeros((n_rows, rank), dtype=np.float32)
    with _arrow(frame.sparkSession) as arrow:
        if arrow:
            factors = frame.select("id", "features").toPandas()
            if len(factors):
                out[factors["id"].to_numpy()] = np.stack(factors["features"].to_numpy())
            return out
    rows = frame.collect()
    if rows:
        out[[row["id"] for row in rows]] = np.asarray([row["features"] for row in rows],
                                                      dtype=np.float32)
    return out


class SparkALSRecommender(BaseRecommender):
    """Collaborative filtering by alternating least squares, fitted by Spark ML.

    The estimator of :class:`ALSRecommender` (any hashable ids,
    ``recommend``, ``predict``, ``score``, ``explain``, pickling,
    ``GridSearchCV``) on ``pyspark.ml.recommendation.ALS`` with
    ``implicitPrefs=True`` (Hu, Koren and Volinsky, 2008): for data whose
    interactions live in Spark, or whose factorisation needs a cluster. On
    one machine :class:`ALSRecommender` is many times faster.

    ``fit`` maps the ids to int32 positions itself (Spark's ALS rejects
    strings and ids past ``2**31``), fits in a Spark session with a
    checkpoint directory (see ``spark``), and brings the factors back into
    numpy (``user_factors_``, ``item_factors_``): recommendations are
    ranked here, with training items excluded, never by Spark's
    ``recommendForAllUsers`` (which returns seen items). With factors it
    can be the collaborative member of :class:`HybridRecommender`.

    Parameters
    ----------
    rank : int, default=10
        Number of latent factors (Spark's ``rank``).
    max_iter : int, default=10
        Number of ALS sweeps (``maxIter``).
    reg_param : float, default=0.1
        L2 regularisation (``regParam``), multiplied for each user (item) by
        its number of interactions of positive weight.
    alpha : float, default=1.0
        Confidence scaling (``alpha``): an interaction of weight ``w`` has
        confidence ``1 + alpha * w``.
    num_blocks : int, default=10
        Blocks the users and the items are each split into
        (``numUserBlocks``, ``numItemBlocks``): the parallelism of a sweep.
        Each block's factors start from their own seed, so the factors
        depend on it; fewer blocks are faster in a small local session.
    checkpoint_interval : int, default=10
        Checkpoint the factors every this many sweeps
        (``checkpointInterval``), which keeps long fits from overflowing
        the stack.
    random_state : int, RandomState instance or None, default=None
        Seed of the factor initialisation (``seed``); an int makes ``fit``
        repeatable.
    spark : SparkSession or None, default=None
        The session to fit in. None uses the active session, or starts a
        ``local[2]`` one (Spark's workers then run this Python) and keeps
        it for later fits. A session is never stopped here; clones share it
        and a pickled model drops it (a fitted model needs no session). If
        the session has no checkpoint directory, a temporary local one is
        set for each fit and deleted after it; on a cluster set a shared one
        first (``spark.sparkContext.setCheckpointDir("hdfs://...")``). In
        a :class:`HybridRecommender` a passed session is shared by the
        hybrid's copies of the member (whose fits are then not memoised).

    Attributes
    ----------
    users_ : ndarray of shape (n_users,)
        User ids seen in ``fit``.
    items_ : ndarray of shape (n_items,)
        Item ids seen in ``fit`` (the catalog).
    user_items_ : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Training interactions (weights), used to exclude seen items.
    n_user_interactions_ : ndarray of shape (n_users,)
        Distinct items of non-zero weight per user in ``fit``.
    n_item_interactions_ : ndarray of shape (n_items,)
        Distinct users of non-zero weight per item in ``fit``.
    user_factors_ : ndarray of shape (n_users, rank), float32
        Learned user factors, in the order of ``users_``; 0 for users whose
        rows all weigh 0 (fitted without them, as in :class:`ALSRecommender`).
    item_factors_ : ndarray of shape (n_items, rank), float32
        Learned item factors, in the order of ``items_``; 0 for items only shown.

    See Also
    --------
    ALSRecommender : The same model fitted by implicit, in this process.
    HybridRecommender : Falls back to text for new users and items.

    Notes
    -----
    Both fit the model of Hu, Koren and Volinsky, with other parameter
    names and two differences of meaning:

    ====================  ==================  ==============================
    SparkALSRecommender   ALSRecommender      What differs
    ====================  ==================  ==============================
    ``rank``              ``factors``         nothing
    ``max_iter``          ``iterations``      Spark solves each side exactly
                                              (Cholesky); implicit takes 3
                                              conjugate-gradient steps
    ``alpha``             ``alpha``           confidence ``1 + alpha * w``
                                              here, ``alpha * w`` there: for
                                              weights of 1, use
                                              ``alpha - 1`` here
    ``reg_param``         ``regularization``  multiplied by each user's
                                              (item's) interaction count
                                              here (ALS-WR), one constant
                                              there: ``regularization`` /
                                              mean interactions per user is
                                              the same for a typical user
    ``random_state``      ``random_state``    other initialisations: the
                                              same seed gives other factors
    ``num_blocks``        ``n_jobs``          parallelism; the blocks also
                                              change the initialisation
    ====================  ==================  ==============================

    Each user's factors solve ``(Y'Y + sum_h alpha w_h y_h y_h' + reg_param
    n_u I) x_u = sum_h (1 + alpha w_h) y_h`` over the items ``h`` of weight
    ``w_h > 0`` (``n_u`` of them); the items' likewise. On MovieLens-100K
    (each user's latest rating held out, weights of 1),
    ``ALSRecommender(factors=64, regularization=1.0, alpha=5.0)`` and this
    model with ``rank=64, alpha=4.0, reg_param=1.0 / 105`` (105 interactions
    per training user), 15 sweeps each, reach NDCG@10 0.040 and 0.041
    (``random_state=0``; tests/test_spark_als.py).

    The interactions pass through the driver: ``user_items_`` (to exclude
    seen items) and the int32 positions Spark fits on are built there, and
    sent to Spark (and the factors brought back) through Arrow when pyarrow
    is installed (``spark.sql.execution.arrow.pyspark.enabled`` is set for
    those transfers only, then restored).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec import SparkALSRecommender
    >>> X = pd.DataFrame({"user_id": ["ann", "ann", "bob", "bob", "cy", "cy"],
    ...                   "item_id": [10, 11, 10, 11, 12, 2**40]})
    >>> als = SparkALSRecommender(rank=2, max_iter=3, num_blocks=1,
    ...                           random_state=0).fit(X)
    >>> als.user_factors_.shape, als.item_factors_.shape
    ((3, 2), (4, 2))
    >>> als.recommend(["cy"], n=2).shape
    (1, 2)
    """

    _ranks_by_interactions = True  # recommend refuses users with only impressions
    _parameter_constraints = {
        "rank": [Count(1, None, closed="left")],
        "max_iter": [Count(1, None, closed="left")],
        "reg_param": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "num_blocks": [Count(1, None, closed="left")],
        "checkpoint_interval": [Count(1, None, closed="left")],
        "random_state": ["random_state"],
        "spark": [HasMethods(["createDataFrame"]), None],
    }

    def __init__(
        self,
        rank=10,
        *,
        max_iter=10,
        reg_param=0.1,
        alpha=1.0,
        num_blocks=10,
        checkpoint_interval=10,
        random_state=None,
        spark=None,
    ):
        self.rank = rank
        self.max_iter = max_iter
        self.reg_param = reg_param
        self.alpha = alpha
        self.num_blocks = num_blocks
        self.checkpoint_interval = checkpoint_interval
        self.random_state = random_state
        self.spark = spark

    def fit(self, X, y=None, sample_weight=None):
        """Fit the factors in Spark.

        Parameters
        ----------
        X : DataFrame (pandas or Spark) or array-like of shape (n_interactions, 2 or 3)
            Columns ``user_id``, ``item_id`` and optionally ``timestamp`` and
            ``weight``, as in :meth:`ALSRecommender.fit`; ids may be any
            hashable values. A Spark DataFrame's columns are brought to the
            driver (``toPandas``) and validated as a pandas DataFrame's.
        y : array-like of shape (n_interactions,), default=None
            Per-row weights, instead of a ``weight`` column (not with a Spark
            DataFrame, whose rows have no fixed order: give it a ``weight``
            column).
        sample_weight : None
            Not taken: the rows' weights are ``y``; given, it raises naming ``y``.

        Returns
        -------
        self : object
            The fitted recommender.
        """
        return super().fit(X, y, sample_weight)  # a Spark frame: check_interactions

    def _reads_order(self):
        return False  # a user's rows as a set: no warning without timestamps

    def _fit(self, data):
        self._index(data)
        n_users, n_items = self.user_items_.shape
        if max(n_users, n_items) > _INT32_IDS:
            raise ValueError(
                f"SparkALSRecommender: {n_users} users and {n_items} items; Spark's ALS "
                f"numbers each in int32 (at most {_INT32_IDS}). Split the data, or "
                "drop rare users and items."
            )
        seed = int(check_random_state(self.random_state).randint(_INT32_IDS))
        spark = _session(self.spark)
        from pyspark.ml.recommendation import ALS

        als = ALS(rank=self.rank, maxIter=self.max_iter, regParam=self.reg_param,
                  alpha=self.alpha, implicitPrefs=True, numUserBlocks=self.num_blocks,
                  numItemBlocks=self.num_blocks, checkpointInterval=self.checkpoint_interval,
                  seed=seed, userCol="user", itemCol="item", ratingCol="rating")
        # as ALSRecommender: users and items with only weight-0 rows are fitted
        # out (Spark draws a random start for each, moving every other's), 0
        users, items, ratings = _with_interactions(_without_zeros(self.user_items_))
        with _checkpoint_dir(spark.sparkContext):
            try:
                model = als.fit(_ratings(spark, ratings))
            except Exception as error:  # py4j's Java error: the cause is in its text
                if "SingularMatrixException" not in str(error):
                    raise
                raise ValueError(
                    f"SparkALSRecommender: Spark's ALS could not solve some user's or "
                    f"item's factors (a singular system: rank={self.rank}, "
                    f"reg_param={self.reg_param}, {len(items)} items, {len(users)} users "
                    "with interactions; Spark regularises each by its count of positive "
                    "weights). Raise reg_param above 0, use a rank below the number of "
                    "items, or rescale the weights (alpha x weight far below 1e15)."
                ) from error
            # collected inside: the factors' lineage may read the checkpoints
            self.user_factors_ = _placed(_collect_factors(model.userFactors, len(users),
                                                          self.rank), users, n_users)
            self.item_factors_ = _placed(_collect_factors(model.itemFactors, len(items),
                                                          self.rank), items, n_items)
        # what explain solves with: the fit's, not parameters set since
        self._solved_with = (self.alpha, self.reg_param)
        return self

    def _scores(self, rows, users):
        return _matmul(self.user_factors_[rows], self.item_factors_.T)

    def _contributions(self, row, users, cols):
        """Each history item's share of the score, from the normal equation Spark solved.

        Spark's last step solves the users' factors from the final item
        factors exactly (see Notes), so the score of item ``i`` is ``sum_h
        (1 + alpha w_h) y_i' A^-1 y_h``, one term per history item; a row
        ``"rest"`` holds what float32 rounding leaves over.
        """
        history = self.user_items_[row]
        positive = history.data > 0
        alpha, reg_param = getattr(self, "_solved_with", (self.alpha, self.reg_param))
        columns, confidence = history.indices[positive], alpha * history.data[positive]
        return factor_contributions(self, row, cols, columns, reg_param * len(columns),
                                    confidence, 1.0 + confidence)

    def __sklearn_clone__(self):
        # a SparkSession cannot be deep-copied, as clone copies parameters:
        # the clone shares it. scikit-learn's clone, for the rest (the
        # metadata requests and set_output's settings were lost)
        # (through a shallow copy: setting self.spark aside, two clones in two
        # threads gave twins, and left the original, without the session)
        shell = copy.copy(self)
        shell.spark = None
        twin = super(SparkALSRecommender, shell).__sklearn_clone__()
        twin.spark = self.spark
        return twin

    def __getstate__(self):
        state = super().__getstate__()
        state["spark"] = None  # a session cannot be pickled; the fitted model needs none
        return state
