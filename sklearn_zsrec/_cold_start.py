"""Cold start after ``fit``: user texts given at call time, and items added by text.

The text-aware recommenders (``ZeroShotRecommender``, ``HybridRecommender``)
take ``user_texts`` in ``recommend``, ``score_items`` and ``explain``: a user
who arrives after ``fit`` is scored from the text given with the call,
without a refit.
The texts live for the call only (a context variable: safe across threads).
"""

import contextvars
from contextlib import contextmanager
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from ._ids import _other_type, isin_ids
from ._interactions import positions
from ._progress import warn_ids
from ._texts import check_id_texts, row_numbers_hint

_CALL_TEXTS = contextvars.ContextVar("sklearn_zsrec_user_texts", default=None)


def user_texts_for(fitted_texts):
    """The user texts to read for users not seen in fit: the call's, then ``fitted_texts``.

    Returns a Series (or None when neither has any).
    """
    call = _CALL_TEXTS.get()
    if call is None:
        return fitted_texts
    if fitted_texts is None:
        return call
    rest = fitted_texts[~isin_ids(fitted_texts.index, call.index)]
    if call.index.dtype != rest.index.dtype:
        # ids as Python objects: pandas joins uint64 and int64 ids in float64
        # (ids past 2**53 rounded: a user lost its text or took another's)
        call, rest = (texts.set_axis(texts.index.astype(object)) for texts in (call, rest))
    return pd.concat([call, rest])


class CallTextsMixin:
    """``recommend``, ``score_items``, ``explain`` with ``user_texts`` for users not seen in fit."""

    def _is_user(self, user):
        """Whether the single id ``user`` (a tuple) is a user of fit or has a text.

        So a new user whose id is a tuple, given with its text, is one user,
        not a sequence of users.
        """
        if super()._is_user(user):
            return True
        # the text model's user texts (the hybrid's is its fitted text_)
        texts = user_texts_for(getattr(getattr(self, "text_", self), "user_texts_", None))
        try:
            return texts is not None and user in texts.index
        except TypeError:  # an unhashable id
            return False

    def _user_text_ids(self):
        texts = user_texts_for(getattr(getattr(self, "text_", self), "user_texts_", None))
        return None if texts is None else texts.index

    def _with_texts(self, user_texts, method, *args, **kwargs):
        # an empty table: a request none of whose users brought a text (a
        # service's dict of them); it raised "user_texts is empty"
        empty = isinstance(user_texts, (Mapping, pd.Series, pd.DataFrame)) and len(user_texts) == 0
        if user_texts is None or empty:
            return method(*args, **kwargs)
        texts = check_id_texts(user_texts, "user_texts", type(self).__name__)
        if isinstance(args[0], Iterator):  # read once here, once by ``method``
            args = (list(args[0]), *args[1:])
        token = _CALL_TEXTS.set(texts)
        try:
            self._warn_texts_of_no_user_asked(texts, args[0])
            return method(*args, **kwargs)
        finally:
            _CALL_TEXTS.reset(token)

    def _warn_texts_of_no_user_asked(self, texts, users):
        """Warn when the call's texts are keyed 0 to n - 1 and none is of a new user asked.

        ``recommend(req.user_id, user_texts=req["text"])`` keyed the texts
        by the request's row numbers: its new users were scored without
        their text (as new users without one), silently. Texts of other
        users (a service's dict) are no mistake: only row numbers warn.
        """
        hint = row_numbers_hint(texts.index, "user_id", "request")
        if not hint:  # (texts keyed by id: no lookup of the users at all)
            return
        from ._base import _check_user_ids

        name = type(self).__name__
        users = _check_user_ids(users, name, self._is_user)[0]
        new = users[self._rows(users, "user") < 0]  # (the model's cached lookup)
        if len(new) and not isin_ids(texts.index, new).any():
            warn_ids("call texts", (
                f"{name}: no id of user_texts is a new user asked for{hint}; the "
                f"{len(new)} users not seen in fit (e.g. {np.asarray(new[:5]).tolist()}) are "
                "scored without a text."))

    def recommend(self, users, n=10, *, exclude_seen=True, return_scores=False,
                  batch_size=None, approximate=False, user_texts=None):
        """Top-``n`` items for each user; new users can bring their text.

        As :meth:`BaseRecommender.recommend`, plus:

        Parameters
        ----------
        users, n, exclude_seen, return_scores, batch_size, approximate
            As in :meth:`BaseRecommender.recommend`.
        user_texts : pandas Series or dict, default=None
            Texts of users not seen in ``fit``, by id, for this call only
            (they take precedence over the model's ``user_texts``): a user
            who arrives after ``fit`` is scored from its text, without a
            refit. Texts of users seen in ``fit`` are not used. An empty one
            is as None.

        Returns
        -------
        ids : ndarray of shape (n_users, min(n, n_items))
        scores : ndarray of shape (n_users, min(n, n_items)), float32
            With ``return_scores=True``.
        """
        return self._with_texts(user_texts, super().recommend, users, n,
                                exclude_seen=exclude_seen, return_scores=return_scores,
                                batch_size=batch_size, approximate=approximate)

    def score_items(self, users, *, batch_size=None, user_texts=None):
        """Scores of ``users`` over the whole catalog; new users can bring their text.

        Parameters
        ----------
        users, batch_size
            As in :meth:`BaseRecommender.score_items`.
        user_texts : pandas Series or dict, default=None
            Texts of users not seen in ``fit``, for this call (see
            :meth:`recommend`).

        Returns
        -------
        scores : ndarray of shape (n_users, n_items), float32
        """
        return self._with_texts(user_texts, super().score_items, users,
                                batch_size=batch_size)

    def explain(self, user, items=None, *, n=10, max_contributions=10, user_texts=None):
        """Why ``items`` score as they do for ``user``; a new user can bring their text.

        Parameters
        ----------
        user, items, n, max_contributions
            As in :meth:`BaseRecommender.explain`.
        user_texts : pandas Series or dict, default=None
            Texts of users not seen in ``fit``, for this call (see
            :meth:`recommend`): a user who arrives after ``fit`` is explained
            as :meth:`recommend` ranks them, from their text.

        Returns
        -------
        explanation : pandas.DataFrame
            As in :meth:`BaseRecommender.explain`; with ``user_texts``, its
            ``score`` is the one :meth:`score_items` gives with the same
            ``user_texts`` (:meth:`predict` takes no texts of the call).
        """
        return self._with_texts(user_texts, super().explain, user, items, n=n,
                                max_contributions=max_contributions)


def check_new_items(model, item_texts):
    """``item_texts`` checked as new items of ``model``'s catalog (a Series)."""
    name = type(model).__name__
    check_is_fitted(model, "items_")
    texts = check_id_texts(item_texts, "item_texts", name)
    known = positions(pd.Index(model.items_), texts.index.to_numpy()) >= 0
    rows = row_numbers_hint(texts.index, "item_id", "new_items")
    if known.any():
        raise ValueError(
            f"{name}: add_items got {int(known.sum())} ids already in the catalog (e.g. "
            f"{texts.index[known][:5].tolist()}){rows}; add only new ids (a changed text of "
            "an item needs a refit with the new item_texts).")
    hint = _other_type(texts.index.to_numpy(), np.asarray(model.items_), "item_texts")
    if hint:  # e.g. ids read from JSON (str keys) for an int catalog
        warn_ids("added items", f"{name}: add_items adds ids that look like catalog ids{hint}.")
    elif rows:  # new_items["title"]: a column keeps the table's row numbers as its index
        warn_ids("added items", f"{name}: add_items adds the ids of item_texts{rows}.")
    return texts


@contextmanager
def restored_on_error(*models):
    """Put back the attributes of ``models`` (None skipped) if the block raises.

    ``add_items`` is all or nothing: interrupted part way (Ctrl-C, memory)
    it left a catalog grown in one part and not in another, whose every
    ``recommend`` raised an IndexError, and a retry "already in the catalog".
    Shallow: the methods inside set new attributes, never write into them.
    """
    saved = [(model, dict(vars(model))) for model in models if model is not None]
    try:
        yield
    except BaseException:
        grown = [vars(model) for model, _ in saved]  # freed once all are back
        for model, state in saved:
            model.__dict__ = state  # one step: never empty (a second Ctrl-C)
        del grown
        raise


def grow_catalog(model, ids):
    """Append items ``ids`` without interactions to ``model``'s catalog arrays.

    ``items_``, ``user_items_`` (new, empty columns: the matrix may be shared
    with other models, so it is rebuilt, not changed), and the counts.
    """
    n_new = len(ids)
    ids, items = np.asarray(ids), np.asarray(model.items_)
    if ids.dtype.kind in "iu" and items.dtype.kind in "iu" and ids.dtype != items.dtype:
        same = ids.astype(items.dtype)  # uint64 and int64 ids: the catalog's, when they fit
        if np.array_equal(same.astype(object), ids.astype(object)):
            ids = same
    model.items_ = np.concatenate([items.astype(object) if ids.dtype != items.dtype else items,
                                   ids])
    model.user_items_ = sp.hstack([model.user_items_, sp.csr_matrix(
        (model.user_items_.shape[0], n_new), dtype=model.user_items_.dtype)], format="csr")
    model.n_item_interactions_ = np.concatenate([model.n_item_interactions_,
                                                 np.zeros(n_new, dtype=np.int64)])
    model._lookup = {}
