"""ZeroShotRecommender: item scores from text alone."""

import warnings
from numbers import Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval

from ._base import BaseRecommender
from ._ids import _other_type, _unique_ids, isin_ids
from ._scores import _matmul, underflow_ignored
from ._cold_start import (CallTextsMixin, check_new_items, grow_catalog, restored_on_error,
                          user_texts_for)
from ._encoder import embed, has_direction
from ._explain import contributions, history_contributions
from ._history import recency_weights
from ._interactions import positions
from ._progress import caller_stacklevel
from ._texts import check_id_texts, row_numbers_hint


def _normalize_rows(a):
    """Rows of ``a`` scaled to unit length; rows of zeros stay zeros.

    Whatever their length: a profile of weights of 1e-13 (a floor of 1e-12
    on the norm shrank its cosines; at 1e-200 the user fell back to
    popularity) is the profile of the same weights times any constant.
    """
    a = np.asarray(a)
    # the squares of entries under sqrt(tiny) underflow to 0 (expected, also
    # under np.seterr(all="raise")): such rows are scaled to a largest entry
    # of 1 first
    with np.errstate(under="ignore"):
        norms = np.linalg.norm(a, axis=1, keepdims=True)
        low = np.flatnonzero(norms[:, 0] < np.sqrt(np.finfo(a.dtype).tiny))
        if len(low):
            a = a.copy()
            top = np.abs(a[low]).max(axis=1, keepdims=True)
            a[low] /= np.where(top > 0, top, 1.0)
            norms[low] = np.linalg.norm(a[low], axis=1, keepdims=True)
        return a / np.where(norms > 0, norms, 1.0)


def _user_profiles(weights, item_embeddings, chunk=16384):
    """L2-normalised ``weights @ item_embeddings``, float32, ``chunk`` users at a time.

    Only one chunk of users is ever held in float64 (scipy's product of
    float64 weights), not all of them.
    """
    out = np.empty((weights.shape[0], item_embeddings.shape[1]), dtype=np.float32)
    for start in range(0, weights.shape[0], chunk):
        part = slice(start, start + chunk)
        with np.errstate(under="ignore"):  # float32 flushes a long history's tiny entries
            out[part] = _normalize_rows(np.asarray(weights[part] @ item_embeddings))
    return out


class ZeroShotRecommender(CallTextsMixin, BaseRecommender):
    """Recommend items by the similarity of their text to the user's.

    No training on interactions: every item in ``item_texts`` is embedded by
    the ``encoder``, a user is the recency-weighted mean of the embeddings of
    the items they interacted with, and items are scored by cosine similarity
    to it. Items nobody has interacted with are recommended like any other.

    Users not seen in ``fit`` are embedded from ``user_texts`` when it has
    their text; otherwise they get the items' popularity in ``fit`` (the
    most-interacted items first). So are users whose interactions in ``fit``
    all weigh 0 (their history gives no direction to score by).

    Parameters
    ----------
    encoder : TextEncoder or transformer, default=None
        Turns texts into vectors; None uses ``TextEncoder()`` (all-MiniLM-L6-v2).
        Any scikit-learn transformer of texts works, fitted on the item texts
        (e.g. ``make_pipeline(TfidfVectorizer(), TruncatedSVD(100))``; sparse
        vectors are made dense).
    item_texts : pandas Series or dict
        Text of every catalog item, indexed by item id. Every item of the
        training interactions needs a text.
    user_texts : pandas Series or dict, default=None
        Text of users (e.g. a profile or demographics), indexed by user id,
        used for users without interactions. A text that embeds to zeros
        (none of its words in a fitted encoder's vocabulary, e.g.
        ``TfidfVectorizer``'s) is scored as no text, by popularity, with a
        warning.
    half_life : float or None, default=1.0
        Recency weighting of a user's items: the k-th most recent (k = 0 for
        the latest) weighs ``0.5 ** (k / half_life)`` times its interaction
        weight. None weighs every item by its interaction weight alone.
    fine_tune : ContrastiveFineTuning, default=None
        Adapt the encoder's model to the interactions of ``fit`` first (items
        consumed one after the other, and users' texts and their items, get
        close embeddings); done once per data and settings. None uses the
        encoder as it is. See ``docs/fine_tuning.md`` for its measured effect.

    Attributes
    ----------
    encoder_ : TextEncoder
        The fitted encoder (on the tuned model with ``fine_tune``).
    users_ : ndarray of shape (n_users,)
        User ids seen in ``fit``.
    items_ : ndarray of shape (n_items,)
        The catalog: the ids of ``item_texts``.
    user_items_ : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Training interactions (weights), used to exclude seen items.
    n_user_interactions_ : ndarray of shape (n_users,)
        Distinct items of non-zero weight per user in ``fit``.
    n_item_interactions_ : ndarray of shape (n_items,)
        Distinct users of non-zero weight per item in ``fit`` (0 for items
        nobody touched).
    item_embeddings_ : ndarray of shape (n_items, dim), float32
        L2-normalised item embeddings.
    user_embeddings_ : ndarray of shape (n_users, dim), float32
        L2-normalised user profiles.
    history_ : scipy.sparse.csr_matrix of shape (n_users, n_items)
        The recency-weighted training interactions the profiles are made of.
    user_texts_ : pandas.Series or None
        The checked ``user_texts`` (text by user id), which new users are
        embedded from; None without them.

    See Also
    --------
    HybridRecommender : Moves from these scores to collaborative filtering
        as interactions accumulate.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec import TextEncoder, ZeroShotRecommender
    >>> items = pd.Series({1: "Toy Story (1995). Animation, Children's",
    ...                    2: "Aladdin (1992). Animation, Children's, Musical",
    ...                    3: "Heat (1995). Action, Crime, Thriller",
    ...                    4: "Die Hard (1988). Action, Thriller"})
    >>> X = pd.DataFrame({"user_id": ["ann", "bob"], "item_id": [1, 3]})
    >>> rec = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=items).fit(X)
    >>> rec.recommend(["ann", "bob"], n=1)
    array([[2],
           [4]])
    """

    _handles_unknown_users = True
    _ranks_by_texts = True  # fits on a log of impressions only: users by their texts
    _parameter_constraints = {
        "encoder": [HasMethods(["fit", "transform"]), None],
        "item_texts": "no_validation",
        "user_texts": "no_validation",
        "half_life": [Interval(Real, 0, None, closed="neither"), None],
        "fine_tune": [HasMethods(["tuned_encoder"]), None],
    }

    def __init__(self, encoder=None, *, item_texts=None, user_texts=None, half_life=1.0,
                 fine_tune=None):
        self.encoder = encoder
        self.item_texts = item_texts
        self.user_texts = user_texts
        self.half_life = half_life
        self.fine_tune = fine_tune

    def _reads_order(self):
        # recency weighting of the profile; fine-tuning's pairs of the next items
        return self.half_life is not None or self.fine_tune is not None

    def set_params(self, **params):
        """Set parameters, the encoder's and fine-tuning's as ``encoder__<parameter>``."""
        fixes = {"encoder": ("the default TextEncoder() is made at fit and has no parameters "
                             "to set before it", "TextEncoder()"),
                 "fine_tune": ("no fine-tuning", "ContrastiveFineTuning()")}
        for owner, (why, fix) in fixes.items():
            nested = sorted(key for key in params if key.startswith(owner + "__"))
            if nested and params.get(owner, getattr(self, owner)) is None:
                raise ValueError(
                    f"{type(self).__name__}: cannot set {nested}: {owner} is None ({why}). "
                    f"Pass one to tune it, e.g. {owner}={fix} (in the constructor or "
                    f"set_params), then set_params({nested[0]}=...) or search it in "
                    "GridSearchCV.")
        return super().set_params(**params)

    def _fit(self, data):
        name = type(self).__name__
        if self.item_texts is None:
            raise ValueError(
                f"{name}: item_texts is required: a pandas Series or dict "
                "mapping every item id to its text."
            )
        texts = check_id_texts(self.item_texts, "item_texts", name)
        self.user_texts_ = (
            None
            if self.user_texts is None
            else check_id_texts(self.user_texts, "user_texts", name)
        )
        # the catalog sorted as from X alone: ties break alike whatever the texts' order
        texts = texts.iloc[pd.Index(texts.index).get_indexer(_unique_ids(texts.index.to_numpy()))]
        self._index(data, items=texts.index.to_numpy())
        if self.user_texts_ is not None:
            ids = self.user_texts_.index
            strays = ids[~isin_ids(ids, self.users_)].to_numpy()
            hint = ""
            if len(strays):
                hint = _other_type(strays, self.users_, "user_texts", None, "X holds")
            # a table's row numbers: 0 to n - 1, 0 not a user of X, and 0 the
            # only stray or a user of X without a text (1-based ids beside
            # 0-based row numbers); ids truly 0 to n - 1 with users held out,
            # 0 among them, give every user of X its text and leave more out
            if (len(strays) and not hint and not isin_ids(np.array([0]), self.users_).any()
                    and (len(strays) == 1 or not isin_ids(self.users_, ids).all())):
                hint = row_numbers_hint(ids, "user_id", "users")
            if hint:  # e.g. texts loaded from JSON (str keys) for int ids, or a
                # table's column (users["text"]: its row numbers for ids)
                warnings.warn(f"{name}: {len(strays)} ids of user_texts are not users of X "
                              f"(e.g. {strays[:5].tolist()}){hint}.", UserWarning,
                              stacklevel=caller_stacklevel())
        if self.encoder is None:
            from ._encoder import TextEncoder

            self.encoder_ = TextEncoder().fit()
        else:
            # fitted on the item texts, as a scikit-learn transformer of texts
            # (TfidfVectorizer) needs; TextEncoder's fit ignores them
            self.encoder_ = clone(self.encoder).fit(texts.to_numpy())
        rows = self._rows(data.user_id, "user")
        cols = self._rows(data.item_id, "item")
        if self.fine_tune is not None:
            self.encoder_ = self.fine_tune.tuned_encoder(
                self.encoder_, texts.to_numpy(), data, cols, self.user_texts_)
        self.item_embeddings_ = self._item_embeddings(texts)
        self.history_ = sp.csr_matrix(
            (recency_weights(data, self.half_life), (rows, cols)),
            shape=self.user_items_.shape,
        )
        self.user_embeddings_ = _user_profiles(self.history_, self.item_embeddings_)
        self._popularity = np.log1p(self.n_item_interactions_).astype(np.float32)
        return self

    def _scores(self, rows, users):
        emb = self.user_embeddings_[np.maximum(rows, 0)]
        profiled = self._profiled(rows, emb)
        if profiled.all():  # no copy through a boolean mask
            return _matmul(emb, self.item_embeddings_.T)
        out = np.empty((len(rows), len(self.items_)), dtype=np.float32)
        out[profiled] = _matmul(emb[profiled], self.item_embeddings_.T)
        self._score_unprofiled(out, rows, users, ~profiled)
        return out

    def _score_unprofiled(self, out, rows, users, todo):
        """Score the users ``todo`` (a mask: no profile) into ``out``'s rows: by their
        text, else by popularity. Returns the mask of those scored by their text."""
        texted = np.zeros(len(rows), dtype=bool)
        for rest, texts in ((todo & (rows < 0), user_texts_for(self.user_texts_)),
                            (todo & (rows >= 0), self.user_texts_)):
            rest = np.flatnonzero(rest)
            found = np.full(len(rest), -1)
            if texts is not None and len(rest):  # exact: a float id past 2**53 is its int
                found = positions(pd.Index(texts.index), users[rest])
            with_text = found >= 0
            if with_text.any():
                vec = embed(self.encoder_, texts.iloc[found[with_text]])
                some = self._directed(vec, users[rest[with_text]])
                with_text[with_text] = some  # a text embedded to zeros: as no text
                out[rest[with_text]] = _normalize_rows(vec[some]) @ self.item_embeddings_.T
            out[rest[~with_text]] = self._popularity
            texted[rest[with_text]] = True
        return texted

    def _item_embeddings(self, texts):
        """Unit embeddings of the item ``texts`` (a Series by id); warn about any of zeros.

        An item whose text has no word of a fitted encoder's vocabulary (e.g.
        ``TfidfVectorizer``'s) embeds to zeros: every user scores it 0 by
        text, in the middle of every ranking whatever the user's tastes.
        """
        emb = embed(self.encoder_, texts.to_numpy())
        some = has_direction(emb)
        if not some.all():
            warnings.warn(
                f"{type(self).__name__}: the texts of {int((~some).sum())} items (e.g. "
                f"{texts.index[~some][:5].tolist()}) embed to zeros (none of their words is in "
                "the encoder's vocabulary), so every user scores them 0 by text, whatever "
                "their tastes. Give them texts in the words of the other item texts, or an "
                "encoder that reads their words.", UserWarning, stacklevel=caller_stacklevel())
        return _normalize_rows(emb).astype(np.float32)

    def _directed(self, vec, users):
        """Which of ``users``' text embeddings ``vec`` have a direction; warn about the rest.

        A text with no word of a fitted encoder's vocabulary (e.g.
        ``TfidfVectorizer``'s) embeds to zeros, which would tie every item
        (ranked in the catalog's order): those users are scored as users
        without a text, by popularity, with a warning.
        """
        some = has_direction(vec)
        if not some.all():
            warnings.warn(
                f"{type(self).__name__}: the texts of {int((~some).sum())} users (e.g. "
                f"{users[~some][:5].tolist()}) embed to zeros (none of their words is in the "
                "encoder's vocabulary), so they are scored by popularity, as users "
                "without a text. Give them texts in the words of the item texts.",
                UserWarning, stacklevel=caller_stacklevel())
        return some

    @staticmethod
    def _profiled(rows, emb):
        """Which users ``rows`` (embeddings ``emb``) have a profile to score by.

        Users not seen in fit have none, nor do users whose training
        interactions all weigh 0: those are scored as users without
        history (their ``user_texts`` from fit, else popularity), not by a
        profile of zeros that would tie every item.
        """
        return (rows >= 0) & emb.any(axis=1)

    @underflow_ignored
    def add_items(self, item_texts):
        """Add items to the catalog by their text, after ``fit``.

        The new items have no interactions: users are scored against them
        by text, exactly as if they had been in ``item_texts`` when the
        model was fitted (the users' profiles come from their histories,
        which the new items are not part of). Nothing is refitted, and a
        call that raises changes nothing. They
        join the end of ``items_``, so an added item tied with an earlier
        one ranks after it, where a refit (which sorts the catalog by id)
        may rank it first. With ``fine_tune``, the added items are encoded
        by the encoder tuned at fit; a refit tunes it again, on a catalog
        that holds them (the tuning reads every item text), so its scores
        differ by that tuning's change. So does an ``encoder`` fitted on the
        item texts (e.g. ``TfidfVectorizer``): it keeps the vocabulary and
        weights of fit, so an added text's new words count for nothing, and a
        refit, whose vocabulary has them, scores every item differently.

        It changes the model in place, as ``fit`` does: not while other
        threads use it (they would read a half-grown catalog: wrong rankings
        or shape errors); grow a copy (``copy.deepcopy``) and swap it in.

        Parameters
        ----------
        item_texts : pandas Series or dict
            Texts of the new items, by id; ids already in ``items_`` raise.

        Returns
        -------
        self : object
            The model, its catalog grown by the new items.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn_zsrec import TextEncoder, ZeroShotRecommender
        >>> items = pd.Series({1: "Heat (1995). Action, Crime, Thriller",
        ...                    2: "Aladdin (1992). Animation, Children's, Musical"})
        >>> X = pd.DataFrame({"user_id": ["ann"], "item_id": [1]})
        >>> rec = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=items).fit(X)
        >>> rec = rec.add_items({3: "Die Hard (1988). Action, Thriller"})
        >>> rec.recommend(["ann"], n=1)
        array([[3]])
        """
        texts = check_new_items(self, item_texts)
        emb = self._item_embeddings(texts)
        n_new = len(texts)
        with restored_on_error(self):  # all or nothing
            self.item_embeddings_ = np.concatenate([self.item_embeddings_, emb])
            self._popularity = np.concatenate([self._popularity, np.zeros(n_new, np.float32)])
            self.history_ = sp.hstack([self.history_, sp.csr_matrix(
                (self.history_.shape[0], n_new), dtype=self.history_.dtype)], format="csr")
            grow_catalog(self, texts.index.to_numpy())
        return self

    def _contributions(self, row, users, cols):
        """Each history item's share of the cosine: ``w_h (e_h . e_i) / |sum w e|``.

        A new user is explained by its text (one row) or popularity.
        """
        rows = np.array([row])
        if not self._profiled(rows, self.user_embeddings_[np.maximum(rows, 0)])[0]:
            score = np.empty((1, len(self.items_)), dtype=np.float32)
            directed = self._score_unprofiled(score, rows, users[:1], np.array([True]))[0]
            source = "user text" if directed else "popularity"
            return contributions(np.arange(len(cols)), source, None, score[0, cols])
        history = self.history_[row]
        emb = self.item_embeddings_.astype(np.float64)
        # the cosine does not depend on the weights' scale (tiny weights' squares underflow)
        weights = np.asarray(history.data, dtype=np.float64)
        weights = weights / weights.max()
        profile = weights @ emb[history.indices]
        votes = (emb[history.indices] @ emb[cols].T) * (
            weights[:, None] / np.linalg.norm(profile))
        return history_contributions(self.items_, history.indices, votes)
