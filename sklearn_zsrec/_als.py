"""ALSRecommender: implicit's alternating least squares as an estimator."""

from numbers import Real

import numpy as np
from joblib import effective_n_jobs
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseRecommender
from ._scores import _matmul
from ._explain import factor_contributions
from ._interactions import positions
from ._params import Count


def _without_zeros(user_items):
    """``user_items`` without its stored zeros (interactions of weight 0).

    A weight of 0 is no interaction, as in Hu, Koren and Volinsky's model
    (confidence ``1 + alpha * 0``, preference 0: an unobserved pair) and in
    Spark's ALS; implicit reads a stored 0 as confidence 0 instead, which
    drops the pair from the loss: impressions without a click moved the
    factors of every user who had them.
    """
    if not (user_items.data == 0).any():
        return user_items
    out = user_items.copy()
    out.eliminate_zeros()
    return out


def _with_interactions(user_items):
    """``(users, items, matrix)``: the rows and columns with an interaction, and
    the matrix of those (``user_items`` itself when that is all of it)."""
    users = np.flatnonzero(np.diff(user_items.indptr) > 0)
    items = np.flatnonzero(np.bincount(user_items.indices, minlength=user_items.shape[1]))
    if len(users) == user_items.shape[0] and len(items) == user_items.shape[1]:
        return users, items, user_items
    return users, items, user_items[users][:, items]


def _placed(factors, positions, n):
    """``factors`` of the rows ``positions`` in an array of ``n`` rows, 0 elsewhere."""
    factors = np.asarray(factors, dtype=np.float32)
    if len(positions) == n:
        return np.ascontiguousarray(factors)
    out = np.zeros((n, factors.shape[1]), dtype=np.float32)
    out[positions] = factors
    return out


# the largest sum of confidences (alpha * weight) of one user's or one item's
# interactions that a fit accepts: from about 1e15 (measured: 2.5e15 for one
# user of 2,500 items, 1.5e16 on MovieLens-like data) implicit's float32
# conjugate-gradient steps overflow without a NaN, so the factors stay at their
# random start and fit returned as if it had learned; sums up to 2.5e13
# fitted normally in the same runs
MAX_CONFIDENCE_SUM = 1e14

# the largest confidence (alpha * weight) of one interaction that
# solver="auto" fits with implicit's conjugate gradient (3 steps a sweep): its
# systems grow ill-conditioned with the confidences, and the steps fall short
# of the solution. Measured on MovieLens-100K (64 factors, 15 sweeps), the
# ALS objective over the exact solves' (Cholesky): 1.005 to 1.05 up to 100
# (weights 1 with alpha 5 to 100, ratings 1-5 with alpha 1 to 20), 1.14 at
# 500, 1.24 to 1.70 from 1,000; at 1e6 the ranking was below chance. The
# exact solves took about 3 times as long
MAX_CG_CONFIDENCE = 100.0


class ALSRecommender(BaseRecommender):
    """Collaborative filtering by alternating least squares (implicit).

    Wraps ``implicit``'s ``AlternatingLeastSquares`` (Hu, Koren and Volinsky,
    2008) for implicit feedback: each interaction's confidence is
    ``alpha * weight``; interactions of weight 0 (impressions without a
    click) are pairs without an interaction, as in the paper and in Spark's
    ALS. Scores are dot products of the learned user and item
    factors. Only users and items seen in ``fit`` can be scored; new users
    raise an error (use :class:`HybridRecommender` or
    :class:`PopularityRecommender` for them), and so do, in ``recommend``,
    users whose rows all weigh 0 (their factors are 0: every item scores 0).

    Parameters
    ----------
    factors : int, default=64
        Number of latent factors.
    regularization : float, default=0.01
        L2 regularisation of the factors.
    alpha : float, default=1.0
        Confidence scaling of the interaction weights. ``fit`` raises when
        one user's or one item's confidences add up to more than 1e14
        (implicit's float32 conjugate-gradient steps overflow from about
        1e15, silently; exact solves fail in LAPACK from about 1e16 on some
        data, from about 1e12 with more factors than users or items and the
        default regularization), and when an exact solve fails: rescale the
        weights, e.g. with ``np.log1p``.
    iterations : int, default=15
        Number of ALS sweeps.
    random_state : int, RandomState instance or None, default=None
        Seed of the factor initialisation; an int makes ``fit`` repeatable.
    n_jobs : int, default=None
        Threads used by implicit; None or -1 uses all cores, -2 all but one
        (as joblib counts them); 0 has no meaning, as in joblib.
    verbose : int, default=0
        Show implicit's progress bar during ``fit`` when > 0.
    solver : {"auto", "cg", "cholesky"}, default="auto"
        How each sweep solves the users' and items' least squares (implicit's
        ``use_cg``): "cg", implicit's conjugate gradient (3 steps a sweep,
        fast, but short of the solution when confidences are large);
        "cholesky", exact solves in float64 (about 3 times as long at 64
        factors; the factors are stored in float32 either way);
        "auto", "cg" while every confidence ``alpha * weight`` is at most
        100, else "cholesky" (with raw play counts as weights, or the
        paper's alpha of 40 on counts, "cg" left the factors far from the
        solution: at confidences of 1e6 a ranking below chance level). Exact
        solves remove each sweep's shortfall, not the slow convergence of ALS
        at such confidences: from about 1e4, 15 sweeps can still rank near
        chance; rescale the weights (``np.log1p``) or raise ``iterations``.
    warm_start : bool, default=False
        When True and the model is fitted, ``fit`` starts from the factors of
        the previous fit for the users and items it knew (matched by id; those
        it knew from rows of weight 0 only, and the others, start random, as
        in a fresh fit) and runs ``iterations``
        sweeps from there, as scikit-learn's ``warm_start``: a few sweeps
        bring a fit on grown data back to convergence. A member of
        :class:`HybridRecommender` is fitted afresh (a clone), whatever its value.

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
    user_factors_ : ndarray of shape (n_users, factors), float32
        Learned user factors; 0 for users whose rows all weigh 0 (fitted
        without them, so that they change no other factor, the random start
        included).
    item_factors_ : ndarray of shape (n_items, factors), float32
        Learned item factors; 0 for items only shown (rows of weight 0).
    solver_ : str
        The solver the fit used, "cg" or "cholesky" (see ``solver``).

    See Also
    --------
    HybridRecommender : Falls back to text for new users and items.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec import ALSRecommender
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3],
    ...                   "item_id": [10, 11, 10, 11, 12, 13]})
    >>> als = ALSRecommender(factors=2, random_state=0).fit(X)
    >>> als.user_factors_.shape, als.item_factors_.shape
    ((3, 2), (4, 2))
    >>> als.recommend([3], n=2).shape
    (1, 2)
    """

    _ranks_by_interactions = True  # recommend refuses users with only impressions
    _parameter_constraints = {
        "factors": [Count(1, None, closed="left")],
        "regularization": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "iterations": [Count(1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Count(1, None, closed="left"), Count(None, -1, closed="right"), None],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "solver": [StrOptions({"auto", "cg", "cholesky"})],
    }

    def _reads_order(self):
        return False  # a user's rows as a set: no time order

    def __init__(
        self,
        factors=64,
        *,
        regularization=0.01,
        alpha=1.0,
        iterations=15,
        random_state=None,
        n_jobs=None,
        verbose=0,
        warm_start=False,
        solver="auto",
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.warm_start = warm_start
        self.solver = solver

    def _fit(self, data):
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.recommender_base import ModelFitError
        from threadpoolctl import threadpool_limits

        previous = None
        if (self.warm_start and hasattr(self, "item_factors_")
                and self.item_factors_.shape[1] == self.factors):
            # the rows it fitted: those it knew from rows of weight 0 only start
            # random, as ids it never saw (a start of 0 made the impressions of
            # the previous log move every other user's refit)
            known = np.flatnonzero(self.n_user_interactions_ > 0)
            seen = np.flatnonzero(self.n_item_interactions_ > 0)
            previous = (self.users_[known], self.user_factors_[known],
                        self.items_[seen], self.item_factors_[seen])
        self._index(data)
        threads = 0 if self.n_jobs in (None, -1) else int(self.n_jobs)
        if threads < 0:  # implicit took -2 for 2**64 - 2 threads and aborted the process
            threads = effective_n_jobs(threads)
        seed = None
        if self.random_state is not None:  # implicit cannot take a RandomState
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        user_items = _without_zeros(self.user_items_)
        largest = self.alpha * float(user_items.data.max()) if user_items.nnz else 0.0
        self.solver_ = self.solver
        if self.solver == "auto":
            self.solver_ = "cg" if largest <= MAX_CG_CONFIDENCE else "cholesky"
        self._check_confidences(user_items)
        # implicit parallelises over users itself; BLAS threads only contend.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                use_cg=self.solver_ == "cg",
                # exact solves in float64: float32 systems of confidences of
                # 1e8 were no longer positive definite (LAPACK's posv failed)
                dtype=np.float32 if self.solver_ == "cg" else np.float64,
                iterations=self.iterations,
                calculate_training_loss=False,
                num_threads=threads,
                random_state=seed,
            )
            # implicit draws a random start for every row: users and items with
            # only weight-0 rows would move every other's; they are fitted out,
            # their factors 0 (as ALS solves them: no interaction)
            users, items, sub = _with_interactions(user_items)
            if previous is not None:
                model.user_factors, model.item_factors = (
                    start.astype(model.dtype) for start in self._warm_factors(
                        previous, seed, self.users_[users], self.items_[items]))
            try:
                model.fit(sub, show_progress=bool(self.verbose))
            except ModelFitError as exc:  # NaN factors: confidences too large
                self._overflow(f"implicit's ALS failed ({exc})")
            except ValueError as exc:  # LAPACK's exact solve (from 1e16 on some data)
                if "posv" not in str(exc):
                    raise
                self._singular(exc, min(sub.shape))
                raise ValueError(
                    f"ALSRecommender: implicit's exact solve failed ({exc}) with confidences "
                    f"alpha * weight up to {largest:.3g}, too large for its systems. Rescale "
                    "the weights (e.g. np.log1p, or divide by their maximum) or lower alpha."
                ) from None
        self.user_factors_ = _placed(model.user_factors, users, len(self.users_))
        self.item_factors_ = _placed(model.item_factors, items, len(self.items_))
        if not (
            np.isfinite(self.user_factors_).all() and np.isfinite(self.item_factors_).all()
        ):
            self._overflow("implicit's ALS failed (non-finite factors)")
        # what explain solves with: the fit's, not parameters set since
        self._solved_with = (self.alpha, self.regularization)
        return self

    def _singular(self, exc, n):
        """Raise, naming the cause, when an exact solve failed on systems that only
        the regularization makes definite: fewer users or items than ``factors``
        (``n``: the fewer of those with interactions)."""
        if self.factors <= n:
            return
        fix = ("Set regularization > 0 (e.g. 0.01)" if self.regularization == 0 else
               "Raise regularization or rescale the weights (e.g. np.log1p)")
        raise ValueError(
            f"ALSRecommender: implicit's exact solve failed ({exc}): with factors="
            f"{self.factors} and {n} users or items with interactions, its systems are "
            f"singular but for regularization={self.regularization:g}. {fix}, use at most "
            f"{n} factors or solver='cg'.") from None

    def _warm_factors(self, previous, seed, users, items):
        """Starting factors of ``users`` and ``items`` (ids: those with an
        interaction): the previous fit's where the ids match one it fitted
        (``previous``: those with an interaction then), random elsewhere.

        Random as implicit initialises a fresh fit (uniform in [0, 0.01)).
        """
        import pandas as pd

        rng = np.random.default_rng(seed)
        out = []
        for ids, old_ids, old in ((users, previous[0], previous[1]),
                                  (items, previous[2], previous[3])):
            start = rng.random((len(ids), self.factors), dtype=np.float32) * np.float32(0.01)
            found = positions(pd.Index(old_ids), ids)  # exact past 2**53
            start[found >= 0] = old[found[found >= 0]]
            out.append(start)
        return out

    def __setstate__(self, state):
        # pickled before ``solver`` existed: fitted with implicit's conjugate
        # gradient, refitted as the default chooses
        state.setdefault("solver", "auto")
        if "item_factors_" in state:
            state.setdefault("solver_", "cg")
        super().__setstate__(state)

    def _check_confidences(self, user_items):
        """Refuse confidences whose sum over a user or an item passes ``MAX_CONFIDENCE_SUM``."""
        if not user_items.nnz:
            return
        weights = user_items.astype(np.float64)  # a float32 sum could overflow
        per_user = self.alpha * np.asarray(weights.sum(axis=1)).ravel()
        per_item = self.alpha * np.asarray(weights.sum(axis=0)).ravel()
        for name, ids, load in (("user", self.users_, per_user), ("item", self.items_, per_item)):
            if load.max() > MAX_CONFIDENCE_SUM:
                over = np.flatnonzero(load > MAX_CONFIDENCE_SUM)
                worst = int(np.argmax(load))
                raise ValueError(
                    f"ALSRecommender: the confidences (alpha * weight, alpha={self.alpha:.3g}) "
                    f"of {len(over)} {name}{'s' * (len(over) > 1)} add up to more than "
                    f"{MAX_CONFIDENCE_SUM:.0e} (the most: {load[worst]:.3g}, {name} "
                    f"{ids[worst:worst + 1].tolist()[0]!r}); implicit's ALS was not run: from "
                    "about 1e15 its float32 steps overflow without an error and leave the "
                    "factors at their random start (its exact solves fail from about 1e16 on "
                    "some data). Rescale the weights (e.g. np.log1p, or divide by their "
                    "maximum) or lower alpha.")

    def _overflow(self, reason):
        raise ValueError(
            f"ALSRecommender: {reason}, with "
            f"confidences alpha * weight up to "
            f"{self.alpha * self.user_items_.max():.3g} and regularization "
            f"{self.regularization:.3g}; float32 factors cannot hold such "
            "values. Rescale the weights (e.g. np.log1p, or divide by their "
            "maximum), lower alpha, or lower the regularization."
        )

    def _scores(self, rows, users):
        return _matmul(self.user_factors_[rows], self.item_factors_.T)

    def _contributions(self, row, users, cols):
        """Each history item's share of the score, as implicit's ``explain`` computes it.

        The user's factors solve ``A x = sum_h c_h y_h`` with ``A = Y'Y +
        regularization I + sum_h (c_h - 1) y_h y_h'`` and confidences
        ``c_h = alpha * weight_h`` (Hu, Koren and Volinsky, section 5), so the
        score of item ``i`` is ``sum_h c_h y_i' A^-1 y_h``: one term per
        history item. The stored factors come from the last ALS sweep
        (before the items' last update; conjugate-gradient steps with
        ``solver_="cg"``), so a row
        ``"rest"`` holds the difference to the score ``predict`` gives: a
        few percent of the score at usual settings, but most of it where a
        strong regularization shrinks the scores toward 0 (regularization=10
        with alpha=1 on a small catalog: 74%).
        """
        history = _without_zeros(self.user_items_[row])  # as fit read it
        alpha, regularization = getattr(self, "_solved_with", (self.alpha, self.regularization))
        confidence = alpha * history.data.astype(np.float64)
        return factor_contributions(self, row, cols, history.indices, regularization,
                                    confidence - 1.0, confidence)
