"""HybridRecommender: text scores for the cold, CF scores for the warm."""

from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval

from ._base import BaseRecommender


def _standardize(scores, mask=None):
    """Z-score each row, over the columns in ``mask`` (all when None)."""
    part = scores if mask is None else scores[:, mask]
    mean = part.mean(axis=1, keepdims=True)
    std = part.std(axis=1, keepdims=True)
    return (scores - mean) / np.maximum(std, 1e-12)


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
        z_text = _standardize(self.text_._scores(self.text_._rows(users, "user"), users))
        cf_rows = self.cf_._rows(users, "user")
        warm = cf_rows >= 0
        blended = z_text
        if warm.any():
            cf = np.zeros((warm.sum(), len(self.items_)), dtype=np.float32)
            cf[:, self._cf_cols] = self.cf_._scores(cf_rows[warm], users[warm])
            in_cf = np.zeros(len(self.items_), dtype=bool)
            in_cf[self._cf_cols] = True
            z_cf = _standardize(cf, in_cf)
            n_u = self.n_user_interactions_[rows[warm]][:, None]
            n_i = self.n_item_interactions_[None, :]
            with np.errstate(invalid="ignore", divide="ignore"):
                w = (n_u / (n_u + self.switch)) * (n_i / (n_i + self.item_switch))
            w = np.nan_to_num(w, nan=1.0)  # 0 / 0 when a switch is 0
            w[:, ~in_cf] = 0.0
            blended[warm] = w * z_cf + (1.0 - w) * z_text[warm]
        return blended
