"""The shared part of the item-item recommenders: history times an item-item matrix."""

from numbers import Real

import numpy as np
import scipy.sparse as sp
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
        self._matrix()
        return self

    def _matrix(self):
        """The fitted item-item matrix, and its dense copy for the products on
        small catalogs (None on large ones; not pickled).

        The copy is made from the matrix the attribute holds now, and from its
        arrays: a matrix the user assigned after fit (pruned, say), or whose
        arrays they replaced (``S.data = S.data ** 2``, ``S.setdiag(1)``), is
        scored as ``explain`` reads it. The arrays are made read-only, so that
        an edit in place, which the copy would not see, raises instead.
        """
        matrix = getattr(self, self._matrix_name)
        if not (sp.issparse(matrix) and matrix.format in ("csr", "csc")):
            raise TypeError(
                f"{type(self).__name__}: {self._matrix_name} must be a scipy.sparse CSR or "
                f"CSC matrix; got {type(matrix).__name__}. Assign matrix.tocsr() instead.")
        parts = (matrix, matrix.data, matrix.indices, matrix.indptr)
        made = getattr(self, "_dense", None)  # (the parts it was made from, the copy)
        if made is None or any(a is not b for a, b in zip(made[0], parts)):
            for part in parts[1:]:
                part.flags.writeable = False
            made = self._dense = (parts, dense_matrix(matrix))  # one attribute: thread-safe
        return matrix, made[1]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_dense", None)  # rebuilt from the sparse matrix when loaded
        return state

    def _scores(self, rows, users):
        return item_item_scores(self.history_[rows], *self._matrix())

    def _contributions(self, row, users, cols):
        history = self.history_[row]
        matrix = self._matrix()[0]
        votes = (matrix[history.indices][:, cols].toarray()
                 * history.data[:, None].astype(np.float64))  # (history items, cols)
        return history_contributions(self.items_, history.indices, votes)
