"""ItemKNNRecommender: items that co-occur with the user's recent items."""

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import StrOptions

from ._history import top_per_row
from ._item_item import _ItemItemRecommender


def item_similarity(user_items, n_neighbors, kind="bm25"):
    """Item-item similarity (implicit's BM25 or cosine), each item's ``n_neighbors`` largest.

    Without the item itself: implicit keeps each item's similarity to itself
    (the largest, with cosine) among its ``K``, which left ``n_neighbors - 1``
    neighbours (none with 1) and credited a user's items with themselves.
    Over the items with interactions only: items only shown (rows of weight
    0) have no neighbours, and BM25 counted them in its statistics (the
    item count of its idf, the mean item length), so that 30 of them
    reordered 23 of 27 users' top-5.
    """
    from implicit.nearest_neighbours import ItemItemRecommender, normalize
    from threadpoolctl import threadpool_limits

    binary = (user_items != 0).astype(np.float32).tocsr()
    n_items = binary.shape[1]
    active = np.flatnonzero(np.bincount(binary.indices, minlength=n_items))  # with interactions
    if len(active) < n_items:  # (no copy when every item has some)
        binary = binary[:, active]
    with threadpool_limits(1, "blas"):
        if kind not in ("bm25", "cosine"):  # the estimators validate it; this is for direct calls
            raise ValueError(f"item_similarity: kind must be 'bm25' or 'cosine'; got {kind!r}.")
        if not n_neighbors >= 1:  # (implicit's K=0 crashes the process)
            raise ValueError(
                f"item_similarity: n_neighbors must be an int >= 1; got {n_neighbors!r}.")
        # one more: the item itself, dropped below; at most the catalog (implicit
        # allocates K per item: n_neighbors=2**31-1 crashed the process)
        k = min(n_neighbors, max(binary.shape[1] - 1, 0)) + 1
        if kind == "bm25":  # implicit's item-item search over our weighting
            knn = ItemItemRecommender(K=k)
            knn.fit(_bm25_weighted(binary), show_progress=False)
        else:  # CosineRecommender's fit: its normalised rows, handed over as CSR (it
            # passed COO to its own fit, which warned about converting it)
            knn = ItemItemRecommender(K=k)
            knn.fit(normalize(binary.T).T.tocsr(), show_progress=False)
    similarity = knn.similarity.astype(np.float32).tocoo()
    other = similarity.row != similarity.col
    similarity = sp.csr_matrix((similarity.data[other], (active[similarity.row[other]],
                                                         active[similarity.col[other]])),
                               shape=(n_items, n_items), dtype=np.float32)
    return top_per_row(similarity, n_neighbors)  # where the item was not among its K


def _bm25_weighted(binary, k1=1.2, b=0.75):
    """The binary user-item matrix weighted as implicit's ``BM25Recommender`` weighs it.

    Its ``bm25_weight`` of the item rows (``k1``, ``b``: its defaults), but
    for each user's idf ``log(n_items) - log(1 + n_user_items)``, which is 0
    for a user of every item but one, who then linked no items (on a catalog
    of 3 items every co-occurrence weighed 0: a similarity of zeros, ranking
    the catalog in its order): such a user's is taken as for one item fewer.
    The same weights as implicit's otherwise (a user of every item has a
    negative idf, but a pair's weight is its square).
    """
    items = binary.T.tocoo()
    n_items, n_users = items.shape
    per_user = np.bincount(items.col, minlength=n_users)
    per_user[per_user == n_items - 1] = max(n_items - 2, 0)  # (of every item: idf < 0, idf² > 0)
    idf = np.log(float(n_items)) - np.log1p(per_user)
    row_sums = np.ravel(items.sum(axis=1))
    length_norm = (1.0 - b) + b * row_sums / row_sums.mean()
    items.data = (items.data * (k1 + 1.0) / (k1 * length_norm[items.row] + items.data)
                  * idf[items.col])
    return items.T.tocsr()


class ItemKNNRecommender(_ItemItemRecommender):
    """Item-based nearest neighbours over the user's recency-weighted history.

    Items are similar when the same users interacted with both: implicit's
    BM25-weighted co-occurrence (which discounts heavy users and popular
    items; a user of every item but one, whom its idf weighs 0, is weighed
    as a user of one item fewer) or the cosine of the item columns, each
    item keeping its ``n_neighbors`` most similar items. A user's score for an item is the
    sum of its similarities to the user's items, each weighted by the
    interaction's weight (1 without a weight column) times
    ``0.5 ** (rank_from_latest / half_life)``: the last few items count most,
    as the next interaction is often close to them. Users not seen in
    ``fit`` raise, and so do, in ``recommend``, users whose rows all weigh 0
    (no history: every item scores 0).

    Parameters
    ----------
    similarity : {"bm25", "cosine"}, default="bm25"
        Item-item similarity on the binary user-item matrix. BM25 weighs
        by statistics of the whole log (a user's idf against the number of
        items, an item's count against the mean count), so users and items that share nothing with two items
        still move their similarity; cosine depends on those two items'
        users alone.
    n_neighbors : int, default=100
        Neighbours kept per item (other items: an item is not its own).
        Of neighbours tied at the cut, those implicit's search keeps
        (deterministic for the same data), not necessarily the lowest ids.
    half_life : float or None, default=2.0
        Recency half-life of the history, in interactions; None weighs every
        interaction by its weight alone (classic item-kNN).
        With a half-life, interactions more than about 13 half-lives
        before the user's latest (recency factor under 1e-4, whatever their
        weight) are left out, which bounds the cost of scoring long
        histories: an item that only they reach scores 0, as an item no
        history item reaches.

    Attributes
    ----------
    users_, items_, user_items_, n_user_interactions_, n_item_interactions_ :
        As in :class:`ALSRecommender`.
    similarity_ : scipy.sparse.csr_matrix of shape (n_items, n_items)
        Row ``i`` holds the ``n_neighbors`` neighbours of item ``i``.
        Read-only (on catalogs of up to 4,096 items the scores read a dense
        copy of it): to change it (prune it, say), edit a copy and assign it
        (``S = model.similarity_.copy(); ...; model.similarity_ = S``), a CSR
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
    NextItemRecommender : What followed the user's last items, in order.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec import ItemKNNRecommender
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3],
    ...                   "item_id": ["a", "b", "a", "b", "a"]})
    >>> knn = ItemKNNRecommender(similarity="cosine").fit(X)
    >>> knn.recommend([3], n=1)
    array([['b']], dtype=object)
    >>> knn.explain(3, ["b"])[["item_id", "contributor", "contribution"]]
      item_id contributor  contribution
    0       b           a      0.816497
    """

    _parameter_constraints = {
        **_ItemItemRecommender._parameter_constraints,
        "similarity": [StrOptions({"bm25", "cosine"})],
    }
    _matrix_name = "similarity_"

    def __init__(self, similarity="bm25", *, n_neighbors=100, half_life=2.0):
        self.similarity = similarity
        self.n_neighbors = n_neighbors
        self.half_life = half_life

    def _reads_order(self):
        return self.half_life is not None  # recency weighting of the history

    def _fit_matrix(self, data, rows, cols):
        return item_similarity(self.user_items_, self.n_neighbors, self.similarity)
