"""The shared part of the item-item recommenders: history times an item-item matrix."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import BaseRecommender
from ._explain import history_contributions
from ._history import dense_matrix, history_matrix, item_item_scores
from ._params import Count


class _ItemItemRecommender(BaseRecommender):
    """Scores ``history_ @ M``: each of the user's items votes for the items ``M`` links it to.

    Subclasses set ``_fit_matrix(data)`` (returns ``M``, items x items, CSR)
    and ``_matrix_name`` (the fitted attribute that holds it). ``history_``
    is the users' recency-weighted training interactions
    (``weight * 0.5 ** (rank_from_latest / half_life)``).
    """

    _ranks_by_interactions = True  # recommend refuses users with only impressions
    _parameter_constraints = {
        "n_neighbors": [Count(1, None, closed="left")],
        "half_life": [Interval(Real, 0, None, closed="neither"), None],
    }

    def _fit(self, data):
        self._index(data)
        rows = self._rows(data.user_id, "user")
        cols = self._rows(data.item_id, "item")
        self.history_ = history_matrix(data, self.half_life, rows, cols, self.user_items_.shape)
        setattr(self, self._matrix_name, self._fit_matrix(data, rows, cols))
        # the dense copy the products use on small catalogs (not pickled)
        self._dense = dense_matrix(getattr(self, self._matrix_name))
        return self

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_dense", None)  # rebuilt from the sparse matrix when loaded
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self._matrix_name in state:
            self._dense = dense_matrix(state[self._matrix_name])

    def _scores(self, rows, users):
        return item_item_scores(self.history_[rows], getattr(self, self._matrix_name),
                                self._dense)

    def _contributions(self, row, users, cols):
        history = self.history_[row]
        matrix = getattr(self, self._matrix_name)
        votes = (matrix[history.indices][:, cols].toarray()
                 * history.data[:, None].astype(np.float64))  # (history items, cols)
        return history_contributions(self.items_, history.indices, votes)
