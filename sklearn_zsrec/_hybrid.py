"""HybridRecommender: text scores for the cold, CF scores for the warm."""

from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval

from ._base import BaseRecommender


def _standardize(scores, mask=None):
    """Z-score each row, over the columns in ``mask`` (all when None).

    Works in place on ``scores`` (a float scratch array) and returns it. The
    variance is a dot product per row (BLAS, accurate, no temporary array).
    """
    part = scores if mask is None or mask.all() else scores[:, mask]
    mean = part.mean(axis=1, keepdims=True)
    part -= mean
    var = np.array([np.dot(row, row) for row in part], dtype=scores.dtype)
    std = np.sqrt(var / max(part.shape[1], 1))[:, None]
    if part is not scores:
        scores -= mean
    scores /= np.maximum(std, 1e-12)
    return scores


class HybridRecommender(BaseRecommender):
    """Blend zero-shot text scores with collaborative-filtering scores.

    Both models are fitted on the same interactions. For each user, their
    scores are standardised over the catalog (z-scores, so that the two are
    on one scale) and blended with a CF weight that grows with the user's and
    the item's interaction counts::

        w(u, i) = n_u / (n_u + switch) * n_i / (n_i + item_switch)
        score(u, i) = w(u, i) * z_cf(u, i) + (1 - w(u, i)) * z_text(u, i)

    A user or an item with no interactions gets pure text scores; as counts
    grow past ``switch`` (users) and ``item_switch`` (items), CF takes over.
    Both are parameters that ``GridSearchCV`` can tune, as are the nested
    parameters of the two models (``cf__factors``, ``text__half_life``...).

    Parameters
    ----------
    text : ZeroShotRecommender
        The text model; its ``item_texts`` define the catalog.
    cf : recommender, default=None
        The collaborative-filtering model; None uses ``ALSRecommender()``.
    switch : float, default=2.0
        User interaction count at which the user's CF weight reaches one
        half (0 gives warm users CF scores only).
    item_switch : float, default=5.0
        Item interaction count at which the item's CF weight reaches one half.

    Attributes
    ----------
    text_ : ZeroShotRecommender
        The fitted text model.
    cf_ : recommender
        The fitted CF model.
    users_ : ndarray of shape (n_users,)
        User ids seen in ``fit``.
    items_ : ndarray of shape (n_items,)
        The catalog: the text model's items.
    user_items_ : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Training interactions (weights), used to exclude seen items.
    n_user_interactions_ : ndarray of shape (n_users,)
        Distinct items per user in ``fit``.
    n_item_interactions_ : ndarray of shape (n_items,)
        Distinct users per item in ``fit``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec import (ALSRecommender, HybridRecommender,
    ...                            TextEncoder, ZeroShotRecommender)
    >>> items = pd.Series({1: "Toy Story (1995). Animation, Children's",
    ...                    2: "Aladdin (1992). Animation, Children's, Musical",
    ...                    3: "Heat (1995). Action, Crime, Thriller",
    ...                    4: "Die Hard (1988). Action, Thriller",
    ...                    5: "Toy Story 2 (1999). Animation, Children's"})
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3],
    ...                   "item_id": [1, 2, 3, 4, 1]})
    >>> text = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=items)
    >>> hybrid = HybridRecommender(text, ALSRecommender(factors=2, random_state=0))
    >>> hybrid.fit(X).recommend([3], n=1)  # item 5 is new: text finds it
    array([[5]])
    """

    _handles_unknown_users = True
    _parameter_constraints = {
        "text": [HasMethods(["fit", "recommend"])],
        "cf": [HasMethods(["fit", "recommend"]), None],
        "switch": [Interval(Real, 0, None, closed="left")],
        "item_switch": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, text, cf=None, *, switch=2.0, item_switch=5.0):
        self.text = text
        self.cf = cf
        self.switch = switch
        self.item_switch = item_switch

    def _fit(self, data):
        from ._als import ALSRecommender

        frame = pd.DataFrame(
            {"user_id": data.user_id, "item_id": data.item_id, "weight": data.weight}
            | ({} if data.timestamp is None else {"timestamp": data.timestamp})
        )
        self.text_ = clone(self.text).fit(frame)
        self.cf_ = clone(self.cf if self.cf is not None else ALSRecommender()).fit(frame)
        cf_cols = self.text_._rows(self.cf_.items_, "item")
        if (cf_cols < 0).any():
            raise ValueError(
                "HybridRecommender: the cf model knows items the text model "
                "has no text for; give every item a text in item_texts."
            )
        self._index(data, items=self.text_.items_)
        self._cf_cols = cf_cols
        return self

    def _scores(self, rows, users):
        # Float32 in place throughout: the blend below is, up to rounding,
        #   w = n_u / (n_u + switch) * n_i / (n_i + item_switch)  (0 off cf)
        #   blended = w * z_cf + (1 - w) * z_text = z_text + w * (z_cf - z_text)
        z_text = np.asarray(
            self.text_._scores(self.text_._rows(users, "user"), users), np.float32
        )
        blended = _standardize(z_text)
        cf_rows = self.cf_._rows(users, "user")
        warm = cf_rows >= 0
        if warm.any():
            all_warm = warm.all()
            in_cf = np.zeros(len(self.items_), dtype=bool)
            in_cf[self._cf_cols] = True
            cf_scores = self.cf_._scores(cf_rows[warm], users[warm])
            if in_cf.all() and np.array_equal(self._cf_cols, np.arange(len(in_cf))):
                cf = np.asarray(cf_scores, np.float32)  # same items, same order
            else:
                cf = np.zeros((warm.sum(), len(self.items_)), dtype=np.float32)
                cf[:, self._cf_cols] = cf_scores
            z_cf = _standardize(cf, in_cf)
            n_u = self.n_user_interactions_[rows[warm]]
            n_i = self.n_item_interactions_
            with np.errstate(invalid="ignore", divide="ignore"):
                # warm users have n_u >= 1: only the item side can be 0 / 0
                w_user = (n_u / (n_u + self.switch)).astype(np.float32)
                w_item = (n_i / (n_i + self.item_switch)).astype(np.float32)
            w_item = np.nan_to_num(w_item, nan=1.0)  # 0 / 0 when a switch is 0
            w_item[~in_cf] = 0.0
            z_warm = blended if all_warm else blended[warm]
            z_cf -= z_warm
            z_cf *= w_item[None, :]
            z_cf *= w_user[:, None]
            z_cf += z_warm
            if all_warm:
                blended = z_cf
            else:
                blended[warm] = z_cf
        return blended
