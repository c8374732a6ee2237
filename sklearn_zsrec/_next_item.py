"""NextItemRecommender: what other users picked right after the user's last items."""

import numpy as np
import scipy.sparse as sp

from ._history import DENSE_ITEMS, top_per_row
from ._item_item import _ItemItemRecommender
from ._params import Count


def item_transitions(rows, cols, order, n_item_users, window, n_neighbors):
    """Item -> next-item scores from each user's sequence, top ``n_neighbors`` per item.

    Each pair of a user's interactions ``lag`` steps apart in time (``lag``
    up to ``window``) adds ``1 / lag`` to (earlier item, later item); the
    sums are divided by ``sqrt(n_i n_j)`` (the items' user counts, as a
    cosine would). ``n_neighbors`` None keeps every score.
    """
    n_catalog = len(n_item_users)
    by_time = np.lexsort((order, rows))
    rows, cols = rows[by_time], cols[by_time].astype(np.int32)
    norm = 1.0 / np.sqrt(np.maximum(n_item_users, 1)).astype(np.float32)
    longest = int(np.bincount(rows).max()) if len(rows) else 0  # no pair is further apart
    lags = range(1, min(window, longest - 1) + 1)

    def pairs(lag):  # (earlier item, later item) of each user's interactions lag apart
        same = rows[lag:] == rows[:-lag]
        return cols[:-lag][same], cols[lag:][same]

    if n_catalog <= DENSE_ITEMS:  # a dense count is faster than sparse sums
        import torch

        size = n_catalog * n_catalog
        scores, cells, weights = np.zeros(size), [], []
        for lag in lags:  # one count per batch of about n_catalog ** 2 pairs
            earlier, later = pairs(lag)
            cells.append(earlier.astype(np.int64) * n_catalog + later)
            weights.append(np.full(len(earlier), 1.0 / lag))
            if sum(map(len, cells)) >= size or lag == lags[-1]:
                scores += np.bincount(np.concatenate(cells), np.concatenate(weights),
                                      minlength=size)
                cells, weights = [], []
        scores = torch.from_numpy(scores.astype(np.float32).reshape(n_catalog, n_catalog))
        scores.mul_(torch.from_numpy(norm)[:, None]).mul_(torch.from_numpy(norm)[None, :])
        counts = sp.csr_matrix(scores.numpy())
    else:  # large catalogs: summed one lag at a time (memory: the sums, not every pair)
        # in float64 and rounded once, as above: float32 sums lag by lag left
        # 1/2 + 1/4 and 1/3 + 1/4 + 1/6 a step apart (other ties, other neighbours kept)
        counts = sp.csr_matrix((n_catalog, n_catalog), dtype=np.float64)
        for lag in lags:
            earlier, later = pairs(lag)
            counts = counts + sp.csr_matrix(
                (np.full(len(earlier), 1.0 / lag), (earlier, later)), shape=(n_catalog, n_catalog))
        counts = sp.csr_matrix(sp.diags(norm) @ counts.astype(np.float32) @ sp.diags(norm),
                               dtype=np.float32)
    return counts if n_neighbors is None else top_per_row(counts, n_neighbors)


class NextItemRecommender(_ItemItemRecommender):
    """Sequence-aware item-kNN: the items that followed the user's last ones elsewhere.

    Counts, over every user's history in time order, how often item ``j``
    came within ``window`` steps after item ``i`` (``1 / steps`` per pair,
    normalised by ``sqrt(n_i n_j)`` like a cosine, the ``n_neighbors``
    largest kept per item). A user's score for an item is the sum of those
    counts from the user's items, each weighted by the interaction's weight
    (1 without a weight column) times ``0.5 ** (rank_from_latest /
    half_life)``: what others picked right after what this user picked
    last. Co-occurrence (:class:`ItemKNNRecommender`) ignores the order; this
    model is built on it. Without timestamps, row order is time order.
    Interactions of weight 0 (impressions without a click) are left out of
    the sequences. Users not seen in ``fit`` raise, and so do, in
    ``recommend``, users whose rows all weigh 0 (no history: every item
    scores 0).

    Parameters
    ----------
    window : int, default=10
        Steps ahead that count: each pair of a user's interactions up to this
        many steps apart adds ``1 / steps``.
    n_neighbors : int, default=100
        Next items kept per item, by transition score. Of next items tied at
        the cut, those first in ``items_`` (the sorted ids) are kept, so
        renaming items can change which of them score.
    half_life : float or None, default=2.0
        Recency half-life of the history, in interactions; None weighs every
        interaction by its weight alone.
        With a half-life, interactions more than about 13 half-lives
        before the user's latest (recency factor under 1e-4, whatever their
        weight) are left out, which bounds the cost of scoring long
        histories: an item that only they reach scores 0, as an item no
        history item reaches.

    Attributes
    ----------
    users_, items_, user_items_, n_user_interactions_, n_item_interactions_ :
        As in :class:`ALSRecommender`.
    transitions_ : scipy.sparse.csr_matrix of shape (n_items, n_items)
        Row ``i``: the items that followed item ``i`` and their scores.
        Read-only (on catalogs of up to 4,096 items the scores read a dense
        copy of it): to change it (prune it, say), edit a copy and assign it
        (``S = model.transitions_.copy(); ...; model.transitions_ = S``), a CSR
        or CSC matrix, which the model then scores and makes read-only too.
    history_ : scipy.sparse.csr_matrix of shape (n_users, n_items)
        The recency-weighted training interactions that are scored. Weights
        past 1e6 are rescaled together (by a power of two), and a user
        whose largest weight is under 2**-64 has their weights multiplied by
        the power of two that brings it to [1, 2) (float32 would round their
        scores to 0), so their scores are on that scale; rankings are exact
        either way.

    See Also
    --------
    ItemKNNRecommender : Co-occurrence, regardless of order.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec import NextItemRecommender
    >>> X = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3],
    ...                   "item_id": ["a", "b", "c", "a", "b", "b"]})
    >>> NextItemRecommender(window=1).fit(X).recommend([3], n=1)
    array([['c']], dtype=object)
    """

    _parameter_constraints = {
        **_ItemItemRecommender._parameter_constraints,
        "window": [Count(1, None, closed="left")],
    }
    _matrix_name = "transitions_"

    def __init__(self, window=10, *, n_neighbors=100, half_life=2.0):
        self.window = window
        self.n_neighbors = n_neighbors
        self.half_life = half_life

    def _fit_matrix(self, data, rows, cols):
        # weight 0 is no interaction (an impression without a click): no
        # transition, no step between the others, not one of an item's users
        kept = data.interacted
        rows, cols = rows[kept], cols[kept]
        return item_transitions(rows, cols, data.order[kept],
                                np.bincount(cols, minlength=len(self.items_)),
                                self.window, self.n_neighbors)
