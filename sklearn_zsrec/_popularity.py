"""PopularityRecommender: the same most-interacted items for everyone."""

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import StrOptions

from ._base import BaseRecommender
from ._explain import contributions
from ._interactions import float32_weights, positions


class PopularityRecommender(BaseRecommender):
    """Recommend the items with the most interactions.

    The baseline every recommender must beat. All users, including users not
    seen in ``fit``, get the same ranking (minus their own training items).

    Parameters
    ----------
    popularity : {"count", "weight"}, default="count"
        Rank items by their number of distinct users (``"count"``) or by the
        sum of interaction weights (``"weight"``).

    Attributes
    ----------
    users_ : ndarray of shape (n_users,)
        User ids seen in ``fit``.
    items_ : ndarray of shape (n_items,)
        The catalog: item ids seen in ``fit``.
    user_items_ : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Training interactions (weights), used to exclude seen items.
    n_user_interactions_ : ndarray of shape (n_users,)
        Distinct items of non-zero weight per user in ``fit``.
    n_item_interactions_ : ndarray of shape (n_items,)
        Distinct users of non-zero weight per item in ``fit``.
    item_scores_ : ndarray of shape (n_items,)
        The popularity of each item.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec import PopularityRecommender
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": ["a", "b", "a", "c"]})
    >>> rec = PopularityRecommender().fit(X)
    >>> rec.recommend([2, 99], n=2)
    array([['b', 'c'],
           ['a', 'b']], dtype=object)
    """

    _handles_unknown_users = True
    _parameter_constraints = {"popularity": [StrOptions({"count", "weight"})]}

    def __init__(self, popularity="count"):
        self.popularity = popularity

    def _reads_order(self):
        return False  # counts: no time order

    def _fit(self, data):
        self._index(data)
        if self.popularity == "count":
            self.item_scores_ = self.n_item_interactions_.astype(np.float32)
        else:
            # the weights as given, in float64 (the matrix stores float32,
            # a positive weight under its range raised to its smallest)
            cols = positions(pd.Index(self.items_), data.item_id)
            totals = np.bincount(cols, weights=data.weight, minlength=len(self.items_))
            if totals.max() > np.finfo(np.float32).max:
                raise ValueError(
                    "PopularityRecommender: the summed weights of an item reach "
                    f"{totals.max():.3g}, past float32's range (3.4e38), so "
                    "items would tie at inf. Rescale the weights, e.g. divide "
                    "by their maximum, or use popularity='count'."
                )
            # a sum under float32's range stays above the items without one
            self.item_scores_ = float32_weights(totals)
        return self

    def _scores(self, rows, users):
        return np.broadcast_to(self.item_scores_, (len(rows), len(self.items_))).copy()

    def _contributions(self, row, users, cols):
        return contributions(np.arange(len(cols)), "popularity", None, self.item_scores_[cols])
