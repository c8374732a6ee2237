"""The shared base of every recommender: ids, the user-item matrix, top-k.

Data flow: interactions in (:func:`check_interactions`), ids mapped to rows and
columns of a sparse user-item matrix (``user_items_``), each model's
``_scores`` for a batch of users, then top-k with the user's training items
excluded (:meth:`BaseRecommender.recommend`), per-row scores
(:meth:`~BaseRecommender.predict`) or a ranking metric
(:meth:`~BaseRecommender.score`).
"""

from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils.validation import check_is_fitted

from ._interactions import (_is_spark_frame, arrow_values, check_ids, check_interactions,
                            float32_weights, is_positive_int, object_array, positions,
                            refuse_counts, refuse_table)
from ._contract import _ours, _warn_if_rounded_together, check_indexed, checked_scores
from ._ids import _other_type, _unique_ids, ids_as_text, isin_ids
from ._params import forgotten_on_error
from ._progress import warn_ids
from ._scores import NaNScoresError, _chunk_size, _seen_positions, _top_n, underflow_ignored


def _check_user_ids(users, owner, is_user=None):
    """``(ids, single)``: users as a 1-D id array, and whether one id was given.

    One id: a scalar (a 0-d array too), a string, or a tuple for which
    ``is_user`` (the fitted model's lookup) says it is itself a user id:
    tuples are valid ids. Any other iterable (list, array, Series,
    generator, ...) is a sequence of ids, each element one id (a tuple
    too); a set raises, its order (that of the rows returned) being
    arbitrary.
    """
    if isinstance(users, np.ndarray) and users.ndim == 0:
        users = users.item()
    users = arrow_values(users)
    refuse_table(users, "users", owner, "user_id")
    refuse_counts(users, "users", owner, "user_id")
    if isinstance(users, (set, frozenset)):
        raise TypeError(
            f"{owner}: users is a {type(users).__name__}, whose order is arbitrary; the "
            "rows returned follow the order of users. Pass a list, e.g. sorted(users).")
    if (isinstance(users, (str, bytes)) or not isinstance(users, Iterable)
            or (isinstance(users, tuple) and is_user is not None and is_user(users))):
        return check_ids(object_array([users]), "users", owner), True
    if not isinstance(users, (np.ndarray, pd.Series, pd.Index)):
        users = object_array(list(users))
    if np.ndim(users) != 1 or (users.dtype == object and any(
            isinstance(u, (list, np.ndarray)) for u in users)):
        try:
            got = f"an array of shape {np.shape(np.asarray(users).tolist())}"
        except ValueError:  # sequences of unequal lengths, or mixed with ids: no shape
            nested = next(u for u in users if isinstance(u, (list, np.ndarray)))
            got = f"a sequence holding sequences (e.g. {np.asarray(nested).tolist()!r})"
        raise ValueError(f"{owner}: users must be a single id or a 1-D sequence of ids; got "
                         f"{got}. Flatten it, e.g. np.hstack(users).")
    return check_ids(users, "users", owner), False


def unknown_items_error(owner, unknown, items):
    """The ValueError of ``owner`` for item ids of X ``unknown`` to its catalog ``items``."""
    items = np.asarray(items)
    rows = ""
    if items.dtype.kind in "iu" and np.array_equal(np.sort(items), np.arange(len(items))):
        # item_texts=items["title"]: a column keeps the table's row numbers as its index
        rows = (f", whose ids are 0 to {len(items) - 1}: if those are a table's row "
                "numbers, index the texts by item id (e.g. items.set_index('item_id')['title'])")
    return ValueError(
        f"{owner}: {len(unknown)} item ids in X are not in the catalog (e.g. "
        f"{np.asarray(unknown[:5]).tolist()}){_other_type(unknown, items) or rows}; add them "
        "(for example their texts to item_texts) or drop those rows.")


def refuse_sample_weight(estimator, sample_weight):
    """Raise naming ``y`` when ``fit`` is given a ``sample_weight``.

    The rows' weights are ``y`` (or X's ``weight`` column), one way: a search
    (``GridSearchCV(...).fit(X, y=w)``) gives each held-out fold's part of
    ``y`` to the scorer, where rows of weight 0 (impressions) are no
    relevant item; a ``sample_weight`` reaches only ``fit``, so the scorer
    would count every held-out row as relevant.
    """
    if sample_weight is not None:
        raise ValueError(
            f"{type(estimator).__name__}.fit takes the rows' weights as y (or X's 'weight' "
            "column), not sample_weight: pass fit(X, y=w), and in a search "
            "GridSearchCV(...).fit(X, y=w), which also gives each held-out fold's "
            "weights to the scorer (sample_weight would not: its rows of weight 0, "
            "impressions, would count as relevant items).")


class BaseRecommender(BaseEstimator):
    """Base class of the recommenders; not meant to be used directly.

    Subclasses implement ``_fit(data)`` (which calls ``_index``) and
    ``_scores(user_rows, user_ids)`` returning a new dense float array of
    shape (n_users, n_items) over ``items_``, which callers may overwrite
    (``recommend`` masks and ranks it in place; a read-only array, or a view
    of one of the model's own arrays, is copied first). Subclasses that can score users never
    seen in ``fit`` set ``_handles_unknown_users = True`` and receive row -1
    for them; those that rank users by their texts set ``_ranks_by_texts =
    True`` to be fitted on a log of impressions only (rows of weight 0),
    which ``fit`` refuses otherwise.
    """

    _handles_unknown_users = False
    # models whose every score of a user without interactions is 0 (ALS,
    # item-kNN, next-item): recommend refuses such users, as users never seen
    _ranks_by_interactions = False
    # models that rank users by their texts (ZeroShotRecommender): fit takes a
    # log of impressions only (rows of weight 0), which the others refuse
    _ranks_by_texts = False
    # scikit-learn's validation of the constructor's parameters, by name: a
    # subclass of one's own without parameters to check needs none
    _parameter_constraints: dict = {}

    def _reads_order(self):
        """Whether ``fit`` reads each user's rows in time order (recency, what
        came next): a Spark frame without timestamps has no such order, so
        ``fit`` warns for models that read it (ALS and popularity do not)."""
        return True

    @_fit_context(prefer_skip_nested_validation=False)
    @underflow_ignored
    def fit(self, X, y=None, sample_weight=None):
        """Fit the recommender on interactions.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_interactions, 2 or 3)
            Columns ``user_id``, ``item_id`` and optionally ``timestamp`` and
            ``weight``; an array is read as ``user_id, item_id[, timestamp]``.
            Ids may be any hashable values (ints or strings). Repeated
            ``(user_id, item_id)`` pairs are merged into one interaction whose
            weight is the sum of theirs. Without timestamps, row order is
            taken as time order.
        y : array-like of shape (n_interactions,), default=None
            Per-row weights (confidence), instead of a ``weight`` column.
        sample_weight : None
            Not taken: the rows' weights are ``y``; given, it raises naming
            ``y`` (see :func:`refuse_sample_weight`).

        Returns
        -------
        self : object
            The fitted recommender. X that fails validation (its columns,
            ids, times, weights) leaves an earlier fit as it was; a fit that
            raises later, also on input checked against the parameters (items
            of X without a text, ``new_items`` not in the catalog), leaves it
            not fitted, its earlier fit forgotten: refit a copy of a model
            that serves (``copy.deepcopy``) and swap the reference.
        """
        if get_config()["skip_parameter_validation"]:
            # validated all the same (microseconds beside a fit): a misspelt
            # option ran another branch ("counts" ranked by weight), a
            # negative n_neighbors crashed the interpreter in implicit
            self._validate_params()
        refuse_sample_weight(self, sample_weight)
        data = check_interactions(X, y, estimator_name=type(self).__name__,
                                  reads_order=self._reads_order())
        if not (self._ranks_by_texts or data.interacted.any()):
            # every model fitted and scored each item 0 (popularity, the fixed
            # hybrid: the catalog in its order; Spark's ALS failed in Java)
            raise ValueError(
                f"{type(self).__name__}: X holds no interaction: its {len(data)} row"
                f"{'s all weigh' if len(data) > 1 else ' weighs'} 0 (impressions without a "
                "click, e.g. fit(X, y=clicked) with no click), which it cannot learn from. "
                "Fit on a log with at least one row of positive weight (a click, a rating, a "
                "purchase), or rank users by their texts with ZeroShotRecommender.")
        # the earlier fit's approximate-search index: a refit that updated
        # item_factors_ in place (a warm start of one's own) kept serving it
        self.__dict__.pop("_ann_index", None)
        with forgotten_on_error(self, private=("_indexed",)):
            self._fit(data)
            check_indexed(self)
        return self

    def _index(self, data, items=None):
        """Set ``users_``, ``items_``, ``user_items_`` and the count arrays.

        The matrix is built once per record and item list (``data.matrix``):
        the members of a hybrid, fitted on one record, share it (the same
        object; no model of the package changes it in place). A ``_fit`` of
        one's own gets copies, which it may change.
        """
        fitted = data.matrix(items, lambda: self._user_item_matrix(data, items))
        if not _ours(type(self)._fit):  # may change them in place (binarise the weights)
            fitted = tuple(value.copy() for value in fitted)
        (self.users_, self.items_, self.user_items_, self.n_user_interactions_,
         self.n_item_interactions_) = fitted
        self._lookup = {}
        # what fit checks (check_indexed): the ids, and how many entries are seen
        self._indexed = (self.users_, self.items_, self.user_items_.nnz)

    def _user_item_matrix(self, data, items):
        users = _unique_ids(data.user_id)
        items = _unique_ids(data.item_id) if items is None else items
        rows = positions(pd.Index(users), data.user_id)
        cols = positions(pd.Index(items), data.item_id)
        if (cols < 0).any():
            raise unknown_items_error(type(self).__name__, pd.unique(data.item_id[cols < 0]),
                                      items)
        matrix = sp.csr_matrix((float32_weights(data.weight), (rows, cols)),
                               shape=(len(users), len(items)))
        matrix.sort_indices()
        # counts of interactions: rows of weight 0 (impressions without a
        # click) stay in the matrix, as seen items, but are no interaction
        some = data.interacted
        return (users, items, matrix, np.bincount(rows[some], minlength=len(users)),
                np.bincount(cols[some], minlength=len(items)))

    def _rows(self, ids, kind):
        attr = "users_" if kind == "user" else "items_"
        cache = self.__dict__.setdefault("_lookup", {})
        if kind not in cache:
            cache[kind] = pd.Index(getattr(self, attr))
        ids = np.asarray(ids)
        return positions(cache[kind], ids) if ids.size else np.zeros(0, int)

    def _is_user(self, user):
        """Whether the single id ``user`` (e.g. a tuple) is one user id.

        A user of ``fit``, or a tuple of the length of one of ``fit``'s tuple
        ids (whatever ids of other kinds fit also saw) whose elements are not
        all known users: a new user (for models that score new users) rather
        than a sequence of users, which it silently was ((998, "z") ranked
        users 998 and "z"). A tuple of known users is those users.
        """
        try:
            if self._rows(object_array([user]), "user")[0] >= 0:
                return True
        except (TypeError, ValueError):  # a tuple of another length than tuple ids
            return False
        cache = self.__dict__.setdefault("_lookup", {})
        if "tuple lengths" not in cache:  # of fit's tuple ids (ids of other kinds may be mixed in)
            cache["tuple lengths"] = {len(u) for u in self.users_ if isinstance(u, tuple)}
        if not (isinstance(user, tuple) and len(user) in cache["tuple lengths"]):
            return False
        try:  # a tuple of known users is a sequence of them
            return not (self._rows(object_array(list(user)), "user") >= 0).all()
        except (TypeError, ValueError):
            return True

    def _user_rows(self, users):
        """Rows of ``users`` in ``users_``, -1 for unknown (if handled).

        Unknown users that are known ids of another type ('1' for 1) raise,
        or are warned about by models that score new users.
        """
        rows = self._rows(users, "user")
        if not (rows < 0).any():
            return rows
        unknown = pd.unique(np.asarray(users)[rows < 0])
        cache = self.__dict__.setdefault("_lookup", {})
        if "user text" not in cache:
            cache["user text"] = ids_as_text(self.users_)
        hint = _other_type(unknown, self.users_, "users", cache["user text"], "fit saw",
                           cache["user"])
        if not self._handles_unknown_users:
            raise ValueError(
                f"{type(self).__name__}: {len(unknown)} user ids were not seen in "
                f"fit (e.g. {np.asarray(unknown[:5]).tolist()}){hint}; it cannot score users "
                "without interactions. Refit with their interactions, or use "
                "HybridRecommender or ZeroShotRecommender (text) or "
                "PopularityRecommender for new users."
            )
        if hint:
            warn_ids(
                "new users",
                f"{type(self).__name__}: {len(unknown)} user ids were not seen in fit and "
                f"are scored as new users (e.g. {np.asarray(unknown[:5]).tolist()}){hint}.")
        text_ids = self._user_text_ids()
        if text_ids is not None and len(text_ids):
            lacking = unknown[~isin_ids(unknown, text_ids)]
            hint = len(lacking) and _other_type(  # only then: it reads the ids as strings
                lacking, np.asarray(text_ids, dtype=object), "users", None, "user_texts holds")
            if hint:  # e.g. texts loaded from JSON (str keys) for int ids
                warn_ids(
                    "users without text",
                    f"{type(self).__name__}: {len(lacking)} users not seen in fit have no "
                    f"text and are scored without one (e.g. {np.asarray(lacking[:5]).tolist()})"
                    f"{hint}.")
        return rows

    def _refuse_users_without_interactions(self, users):
        """Raise for known ``users`` whose rows all weigh 0, in models that rank by them.

        Such a user (impressions without a click) has no interaction, as a
        user never seen: in the models that set ``_ranks_by_interactions``
        every item scores 0 for them, and their ranking would be the
        catalog's order, so they raise, as for users not seen in ``fit``.
        Before any scoring, over all ``users``.
        """
        counts = getattr(self, "n_user_interactions_", None)
        if not self._ranks_by_interactions or counts is None or counts.all():
            return  # (no such user at all, as in most logs: no lookup)
        rows = self._rows(users, "user")  # unknown users raise later, as they do
        empty = np.asarray(users)[(rows >= 0) & (counts[np.maximum(rows, 0)] == 0)]
        if len(empty):
            unique = pd.unique(empty)
            n = len(unique)
            raise ValueError(
                f"{type(self).__name__}: {n} user{'s' * (n > 1)} "
                f"ha{'ve' if n > 1 else 's'} no interaction in fit "
                f"(e.g. {np.asarray(unique[:5]).tolist()}: all their rows weigh 0, "
                "impressions without a click); it cannot rank items for users without "
                "interactions (every item scores 0). Refit with their interactions, or use "
                "HybridRecommender or ZeroShotRecommender (text) or PopularityRecommender "
                "for them.")

    def _user_text_ids(self):
        """The ids of the user texts the model reads for new users (None: it reads none)."""
        return None

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_lookup", None)
        return state

    def _score_chunks(self, users, batch_size=None):
        """Yield (slice, rows, scores) for chunks of users, excluding nothing."""
        users = np.asarray(users)
        rows = self._user_rows(users)
        chunk = _chunk_size(batch_size, len(self.items_), len(users), type(self).__name__)
        warned = False  # once per call
        for start in range(0, len(users), chunk):
            part = slice(start, start + chunk)
            raw = checked_scores(self, self._scores(rows[part], users[part]), len(rows[part]))
            scores = raw.astype(np.float32, copy=False)
            if scores is raw and (not scores.flags.writeable or not _ours(type(self)._scores)):
                # ``recommend`` masks seen items in place: a read-only array
                # would raise, and a _scores of one's own may return an array
                # it keeps (its fitted table or a view, a memo, a dict, a
                # tensor), which it would write into; the package's return new ones
                scores = scores.copy()
            if (raw.size and not warned
                    and raw.dtype.itemsize > (4 if raw.dtype.kind == "f" else 2)
                    and raw.dtype.kind in "fiu"):
                warned = _warn_if_rounded_together(raw, type(self).__name__)
            yield part, rows[part], scores

    @underflow_ignored
    def score_items(self, users, *, batch_size=None):
        """Scores of ``users`` over the whole catalog, nothing excluded.

        The public scoring protocol: :class:`HybridRecommender` blends its
        members through it, and :meth:`recommend` ranks the same scores.

        Parameters
        ----------
        users : array-like of shape (n_users,) or a single id
            User ids (users not seen in ``fit`` only for models that can score
            them, as in :meth:`recommend`).
        batch_size : int, default=None
            Users scored at once, as in :meth:`recommend`.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items), float32
            Column ``j`` scores ``items_[j]``; higher is more relevant. Training
            items are scored too. A single id gives shape (n_items,).
        """
        check_is_fitted(self, "user_items_")
        users, single = _check_user_ids(users, type(self).__name__, self._is_user)
        chunks = self._score_chunks(users, batch_size)
        n_items, name = len(self.items_), type(self).__name__
        if 0 < len(users) <= _chunk_size(batch_size, n_items, len(users), name):
            out = next(chunks)[2]  # one chunk: ``_scores`` returns a new array, no copy
        else:
            out = np.empty((len(users), len(self.items_)), dtype=np.float32)
            for part, _, scores in chunks:
                out[part] = scores
        return out[0] if single else out

    @underflow_ignored
    def recommend(
        self, users, n=10, *, exclude_seen=True, return_scores=False, batch_size=None,
        approximate=False,
    ):
        """Top-``n`` items for each user.

        Parameters
        ----------
        users : array-like of shape (n_users,) or a single id
            User ids. A single id gives one row of ``n`` ids. Models that
            cannot score new users raise for users not seen in ``fit``;
            ALS, item-kNN and next-item also for users whose rows all weigh
            0 (impressions without a click: every item would score 0, as
            ``score_items`` and ``predict`` return).
        n : int, default=10
            Number of items per user (at most the catalog size).
        exclude_seen : bool, default=True
            Leave out each user's training items. When fewer than ``n`` items
            remain, the last positions hold excluded items, scored ``-inf``.
        return_scores : bool, default=False
            Also return the scores.
        batch_size : int, default=None
            Users scored at once. Scores are computed for ``batch_size`` users
            times the whole catalog at a time, so memory grows with
            ``batch_size * n_items * 4`` bytes (float32), times a small
            factor for the models' intermediate arrays (about 5 for
            :class:`HybridRecommender`). None picks about 2 MB of scores
            per batch (``2 * 2**20 // (4 * n_items)`` users, at least 64,
            the users split into batches of equal size).
            Results do not depend on it, up to float32 rounding on
            near-ties.
        approximate : bool, default=False
            Search an HNSW inner-product index of ``item_factors_`` (faiss:
            ``pip install "sklearn-zsrec[ann]"``) instead of scoring the
            whole catalog: much faster on large catalogs, but a few of the
            true top-``n`` may be missed
            (:func:`~sklearn_zsrec.approximate_recall` measures how many).
            Only for models whose scores are ``user_factors_ @
            item_factors_.T`` (ALSRecommender, SparkALSRecommender; a model
            of one's own is checked on three of its users); others raise a
            ``ValueError`` that names the fix. The index is built on the
            first call and kept on the model until its next fit (not
            pickled). Seen
            items are still never returned, and users who have seen much
            of the catalog are ranked exactly. ``batch_size`` bounds the
            users searched at once.

        Returns
        -------
        ids : ndarray of shape (n_users, min(n, n_items))
            Item ids, best first; equal scores in the order of ``items_``,
            so the top-``n`` is the first ``n`` of any longer list. With
            ``approximate=True``, only of a longer list ``n2`` while ``n2``
            plus the user's seen items is at most 256: beyond, a larger
            ``n`` searches more candidates (or ranks the user exactly),
            which can find items a smaller one missed; ties go by order
            among the candidates found (on catalogs of up to 256 items,
            every item). Equal means equal
            in float32: scores equal in exact arithmetic but summed in
            another order can round apart, and rank by that rounding. An
            ``n`` past the catalog's size is cut to it.
        scores : ndarray of shape (n_users, min(n, n_items)), float32
            Returned when ``return_scores=True``.
        """
        check_is_fitted(self, "user_items_")
        users, single = _check_user_ids(users, type(self).__name__, self._is_user)
        if not is_positive_int(n):
            raise ValueError(
                f"{type(self).__name__}: n must be a positive int (the number "
                f"of items per user); got {n!r}."
            )
        for flag, value in (("exclude_seen", exclude_seen), ("return_scores", return_scores)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{type(self).__name__}: {flag} must be True or False; got "
                                f"{value!r}.")
        n = min(int(n), len(self.items_))
        from . import _ann

        if _ann.check_approximate(approximate, type(self).__name__):
            top, top_scores = _ann.top_n(self, users, n, exclude_seen, batch_size)
        else:
            top = np.empty((len(users), n), dtype=np.int64)
            top_scores = np.empty((len(users), n), dtype=np.float32)
            self._refuse_users_without_interactions(users)
            for part, rows, scores in self._score_chunks(users, batch_size):
                if exclude_seen:
                    known = np.flatnonzero(rows >= 0)
                    r, c = _seen_positions(self.user_items_, rows[known])
                    scores[known[r], c] = -np.inf
                top[part], top_scores[part] = self._top(scores, n, users[part])
        ids = self.items_[top]
        if single:
            ids, top_scores = ids[0], top_scores[0]
        return (ids, top_scores) if return_scores else ids

    def _top(self, scores, n, users):
        """``_top_n`` of the scores of ``users`` (a batch); NaN scores raise, naming users."""
        try:
            return _top_n(scores, n)
        except NaNScoresError as error:  # (the first batch with NaN: others may have more)
            bad = users[error.rows]
            raise ValueError(
                f"{type(self).__name__}: its scores hold NaN for the users "
                f"{np.asarray(bad[:5]).tolist()}{' and more' if len(bad) > 5 else ''}; "
                "recommend cannot rank NaN. Fix the model's scores (_scores): a finite score, "
                "or -inf for an item to rule out.") from None

    @underflow_ignored
    def predict(self, X):
        """Score each ``(user_id, item_id)`` row of X; higher is more relevant.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, 2 or 3)
            Rows to score, as in :meth:`fit`.

        Returns
        -------
        scores : ndarray of shape (n_rows,), float32
            In the order of X's rows (a Spark DataFrame, whose rows have no
            fixed order for the scores to follow, raises).
        """
        check_is_fitted(self, "user_items_")
        if _is_spark_frame(X):  # its rows came over sorted, or in the partitions' order
            raise TypeError(
                f"{type(self).__name__}: predict got a Spark DataFrame, whose rows have no "
                "fixed order for an array of scores to follow; score it on the driver, "
                "rows = X.toPandas(); rows['score'] = model.predict(rows).")
        data = check_interactions(
            X, estimator_name=type(self).__name__, duplicates="keep", reads_order=False
        )
        cols = self._rows(data.item_id, "item")
        if (cols < 0).any():
            unknown = pd.unique(data.item_id[cols < 0])
            raise ValueError(
                f"{type(self).__name__}: {len(unknown)} item ids in X are not in "
                f"the catalog (e.g. {np.asarray(unknown[:5]).tolist()})"
                f"{_other_type(unknown, self.items_)}; only items_ can be scored: keep "
                "the rows of its items (for a DataFrame, X[X['item_id'].isin(model.items_)])."
            )
        inverse, users = pd.factorize(data.user_id)
        users = np.asarray(users)
        out = np.empty(len(data), dtype=np.float32)
        for part, _, scores in self._score_chunks(users):
            in_part = (inverse >= part.start) & (inverse < part.start + len(scores))
            out[in_part] = scores[inverse[in_part] - part.start, cols[in_part]]
        return out

    def score(self, X, y=None, sample_weight=None):
        """NDCG@10 of the rows of X as held-out positives.

        Each user in X is ranked against the whole catalog minus their
        training items (``recommend(users, n=10)``); their rows in X are the
        relevant items, and the score is the mean NDCG@10 over users. Higher
        is better; use :func:`~sklearn_zsrec.metrics.make_rank_scorer` for
        other metrics, another ``k`` or ``exclude_seen=False``.

        Conventions (trec_eval's):

        - Rows of X whose ``(user_id, item_id)`` is one of the user's training
          interactions (repeated interactions) cannot be recommended, as
          training items are excluded: they are left out of the relevant
          items, with one ``UserWarning`` that counts them. To count them, use
          ``make_rank_scorer("ndcg", k=10, exclude_seen=False)`` (training
          items are ranked too), or drop repeated interactions from X. Items
          shown to the user in training without a click (rows of weight 0)
          count as seen too: a held-out click on one is left out the same
          way, and the warning counts those apart.
        - Users left without relevant items are left out of the mean, as
          trec_eval leaves out queries without relevance judgements; when no
          user is left, a ``ValueError`` is raised.
        - When fewer than 10 unseen items remain, the positions filled with
          excluded items (scored ``-inf``) are empty: never hits.
        - Items of X not in ``items_`` cannot be recommended: they count as
          relevant items never retrieved (misses), with one ``UserWarning``.
          Users the model cannot score raise as in :meth:`recommend`.
        - Users of X not seen in ``fit`` (a split of whole users, such as
          scikit-learn's default ``cv`` on a log sorted by user) are scored
          as new users against all their rows, a cold-start figure, with one
          ``UserWarning``, by the models that score them (the others raise);
          ``LeaveLastOut`` holds out known users' latest rows.
        - Rows of weight 0 (impressions without a click, from X's
          ``weight`` column or ``y``) are no interaction: not relevant items.
          Users with only such rows are left out of the mean, with one
          ``UserWarning`` that counts them.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, 2 or 3)
            Held-out interactions, as in :meth:`fit` (repeated rows kept).
        y : array-like of shape (n_rows,), default=None
            The rows' weights, as in :meth:`fit` (e.g. whether each was
            clicked); None reads X's ``weight`` column, if any.
        sample_weight : None
            Not used: each user counts once in the mean, and the rows'
            weights are ``y``. Only None is taken (scikit-learn's
            ``Pipeline.score`` passes it with metadata routing on).

        Returns
        -------
        score : float
            Mean NDCG@10 over the users of X that have a relevant item.
        """
        from .metrics._ranking import _score_recommender

        check_is_fitted(self, "user_items_")
        if sample_weight is not None:
            raise ValueError(
                f"{type(self).__name__}.score takes no sample_weight: each user counts "
                "once in the mean NDCG@10, and the held-out rows' weights (rows of "
                "weight 0 are no interaction) are y or X's 'weight' column.")
        return _score_recommender(self, X, "ndcg", 10, y=y)

    @underflow_ignored
    def explain(self, user, items=None, *, n=10, max_contributions=10):
        """Why ``items`` score as they do for ``user``: one row per contribution.

        Parameters
        ----------
        user : user id
            One user (of ``users_``, or any user the model can score).
        items : array-like of item ids or a single id, default=None
            Items of ``items_`` to explain; None explains the user's top-``n``
            recommendations (training items excluded).
        n : int, default=10
            Recommendations explained when ``items`` is None.
        max_contributions : int, default=10
            Contributions kept per item, largest in absolute value first; the
            others are summed into one row (source ``"<k> more"``), so the
            contributions of an item always add up to its score.

        Returns
        -------
        explanation : pandas.DataFrame
            Columns ``user_id``, ``item_id``, ``score`` (the model's score, as
            :meth:`predict` gives it), ``source`` (what contributes: e.g.
            ``"history"`` for one of the user's items, ``"popularity"``, or a
            member of a blend), ``contributor`` (the history item's id, or
            None) and ``contribution``. Items in the order asked, each with
            its largest contributions first; an item's contributions sum to
            its score up to float32 rounding.
        """
        from ._explain import explain

        return explain(self, user, items, n, max_contributions)

    def _contributions(self, row, users, cols):
        """The contributions to the scores of columns ``cols`` for one user.

        ``row`` is the user's row (-1 if unknown), ``users`` a one-element
        array of its id. Returns ``_explain.contributions(...)`` with
        ``item`` the position in ``cols``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement explain: define "
            "_contributions(self, row, users, cols), returning one row per "
            "contribution (sklearn_zsrec._explain.contributions(item, source, "
            "contributor, value), item the position in cols), as the package's "
            "recommenders do; as a member of a HybridRecommender it is explained "
            "by its blend term without it.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.categorical = True
        tags.input_tags.string = True  # ids may be strings
        return tags
