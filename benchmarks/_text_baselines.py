"""Reference models of the benchmark that are not CF libraries.

``RandomRecommender`` is the floor every protocol is read against.
``UserTextRidge`` is the obvious cold-user baseline: ALS for known users, and
for users seen only through their text a ridge map from the text embedding to
the ALS user factors.
"""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.utils._param_validation import HasMethods, Interval

from sklearn_zsrec import ALSRecommender, TextEncoder
from sklearn_zsrec import BaseRecommender
from sklearn_zsrec._texts import check_id_texts


class RandomRecommender(BaseRecommender):
    """Uniformly random scores over a fixed catalogue ``item_ids``."""

    _handles_unknown_users = True
    _parameter_constraints = {"item_ids": ["array-like", None], "random_state": ["random_state"]}

    def __init__(self, item_ids=None, random_state=0):
        self.item_ids = item_ids
        self.random_state = random_state

    def _fit(self, data):
        items = None if self.item_ids is None else np.sort(np.asarray(self.item_ids))
        self._index(data, items=items)
        self._rng = np.random.default_rng(self.random_state)
        return self

    def _scores(self, rows, users):
        return self._rng.random((len(rows), len(self.items_)), dtype=np.float32)


class UserTextRidge(BaseRecommender):
    """ALS for known users; ridge from user-text embeddings to ALS factors for new ones.

    Parameters
    ----------
    encoder : TextEncoder, default=None
        Embeds ``user_texts``.
    user_texts : pandas Series
        Text of every user (known and new), indexed by user id.
    alpha : float, default=1.0
        Ridge regularisation of the map.
    factors, regularization, iterations, random_state
        Passed to :class:`~sklearn_zsrec.ALSRecommender`.
    """

    _handles_unknown_users = True
    _parameter_constraints = {
        "encoder": [HasMethods(["transform"]), None],
        "user_texts": "no_validation",
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "factors": [Interval(Integral, 1, None, closed="left")],
        "regularization": [Interval(Real, 0, None, closed="left")],
        "iterations": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, encoder=None, user_texts=None, alpha=1.0, factors=64,
                 regularization=0.01, iterations=15, random_state=0):
        self.encoder = encoder
        self.user_texts = user_texts
        self.alpha = alpha
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state

    def _fit(self, data):
        texts = check_id_texts(self.user_texts, "user_texts", type(self).__name__)
        frame = pd.DataFrame({"user_id": data.user_id, "item_id": data.item_id,
                              "weight": data.weight})
        self.als_ = ALSRecommender(
            factors=self.factors, regularization=self.regularization,
            iterations=self.iterations, random_state=self.random_state,
            n_jobs=1,  # implicit's multithreaded ALS is not bit-reproducible
        ).fit(frame)
        self._index(data, items=self.als_.items_)
        self.encoder_ = clone(self.encoder if self.encoder is not None else TextEncoder()).fit()
        self._texts = texts
        known = texts.reindex(self.users_)
        has = known.notna().to_numpy()
        emb = self.encoder_.transform(known[has].to_numpy())
        self.ridge_ = Ridge(alpha=self.alpha).fit(emb, self.als_.user_factors_[has])
        return self

    def _scores(self, rows, users):
        out = np.empty((len(rows), len(self.items_)), dtype=np.float32)
        known = rows >= 0
        out[known] = self.als_._scores(rows[known], users[known])
        if (~known).any():
            new = np.asarray(users)[~known]
            missing = pd.Index(self._texts.index).get_indexer(new) < 0
            if missing.any():
                raise ValueError(
                    f"UserTextRidge: no user_texts for {new[missing][:5].tolist()}."
                )
            factors = self.ridge_.predict(self.encoder_.transform(self._texts.loc[new].to_numpy()))
            out[~known] = factors.astype(np.float32) @ self.als_.item_factors_.T
        return out
