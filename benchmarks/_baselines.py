"""Collaborative-filtering baselines with the sklearn-zsrec API.

Thin estimators over ``implicit`` (item k-NN, BPR, ALS) and ``lightfm``
(WARP with optional item features), so the benchmark fits, tunes
(``GridSearchCV`` with :class:`~sklearn_zsrec.model_selection.LeaveLastOut`)
and scores them exactly like the package's own recommenders. Each one builds
the user-item matrix with :meth:`BaseRecommender._index` and returns dense
scores over ``items_`` from ``_scores``; ranking, the exclusion of training
items and the metrics come from :class:`~sklearn_zsrec.BaseRecommender`.

LightFM 1.17 does not install when pip builds it through PEP 517 (a venv
without ``wheel``); run ``python benchmarks/install_lightfm.py`` first.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_zsrec import BaseRecommender

__all__ = ["BPR", "ImplicitALS", "ItemKNN", "LightFM", "genre_title_features"]

LIGHTFM_INSTALL = "python benchmarks/install_lightfm.py"


def _seed(random_state):
    """An int seed for libraries that take no RandomState (as ALSRecommender)."""
    if random_state is None:
        return None
    return int(check_random_state(random_state).randint(2**31 - 1))


def _threads(n_jobs):
    """implicit's ``num_threads``: 0 means all cores."""
    return 0 if n_jobs in (None, -1) else int(n_jobs)


class ItemKNN(BaseRecommender):
    """Item-based nearest neighbours (implicit's cosine or BM25 item-item).

    Item-item similarities are computed from the training matrix and only the
    ``K`` most similar items of each item are kept. A user's score for an item
    is the sum of its similarities to the user's training items, weighted by
    the interaction weights: ``user_items_[rows] @ similarity_``.

    Parameters
    ----------
    similarity : {"cosine", "bm25"}, default="cosine"
        Cosine of the item columns, or the dot product of BM25-weighted
        columns (which discounts heavy users and popular items).
    K : int, default=100
        Neighbours kept per item.
    K1 : float, default=1.2
        BM25 term-frequency saturation; ignored for cosine.
    B : float, default=0.75
        BM25 length normalisation, in [0, 1]; ignored for cosine.
    n_jobs : int, default=None
        Threads used by implicit; None or -1 uses all cores.

    Attributes
    ----------
    users_, items_, user_items_ : see :class:`~sklearn_zsrec.ALSRecommender`
    similarity_ : scipy.sparse.csr_matrix of shape (n_items, n_items)
        Row ``i`` holds the ``K`` neighbours of item ``i`` and their similarity.
    """

    _parameter_constraints = {
        "similarity": [StrOptions({"cosine", "bm25"})],
        "K": [Interval(Integral, 1, None, closed="left")],
        "K1": [Interval(Real, 0, None, closed="left")],
        "B": [Interval(Real, 0, 1, closed="both")],
        "n_jobs": [Integral, None],
    }

    def __init__(self, similarity="cosine", *, K=100, K1=1.2, B=0.75, n_jobs=None):
        self.similarity = similarity
        self.K = K
        self.K1 = K1
        self.B = B
        self.n_jobs = n_jobs

    def _fit(self, data):
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        self._index(data)
        if self.similarity == "cosine":
            model = CosineRecommender(K=self.K, num_threads=_threads(self.n_jobs))
        else:
            model = BM25Recommender(K=self.K, K1=self.K1, B=self.B, num_threads=_threads(self.n_jobs))
        with warnings.catch_warnings():
            # implicit's own cosine/BM25 weighting hands its k-NN a COO matrix
            warnings.filterwarnings("ignore", "Method expects CSR input", module="implicit")
            model.fit(self.user_items_, show_progress=False)
        self.similarity_ = model.similarity.tocsr().astype(np.float32)
        return self

    def _scores(self, rows, users):
        return (self.user_items_[rows] @ self.similarity_).toarray()


class BPR(BaseRecommender):
    """Bayesian personalised ranking (implicit's CPU implementation).

    Matrix factorisation trained by SGD on sampled (user, liked item, other
    item) triples (Rendle et al., 2009). Weights are ignored: any interaction
    is a positive. Scores are dot products of user and item factors (implicit
    folds an item bias into the last factor).

    Parameters
    ----------
    factors : int, default=64
        Number of latent factors.
    learning_rate : float, default=0.01
        SGD step size.
    regularization : float, default=0.01
        L2 regularisation of the factors.
    iterations : int, default=100
        Epochs over the interactions.
    random_state : int, RandomState instance or None, default=0
        Seed of the initialisation and the sampling.
    n_jobs : int, default=1
        Threads used by implicit; None or -1 uses all cores. SGD with several
        threads is lock-free (Hogwild), so only ``n_jobs=1`` repeats exactly.

    Attributes
    ----------
    users_, items_, user_items_ : see :class:`~sklearn_zsrec.ALSRecommender`
    user_factors_ : ndarray of shape (n_users, factors + 1), float32
    item_factors_ : ndarray of shape (n_items, factors + 1), float32
    """

    _parameter_constraints = {
        "factors": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "regularization": [Interval(Real, 0, None, closed="left")],
        "iterations": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        factors=64,
        *,
        learning_rate=0.01,
        regularization=0.01,
        iterations=100,
        random_state=0,
        n_jobs=1,
    ):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit(self, data):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        self._index(data)
        model = BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            num_threads=_threads(self.n_jobs),
            random_state=_seed(self.random_state),
        )
        model.fit(self.user_items_, show_progress=False)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, np.float32)
        return self

    def _scores(self, rows, users):
        return self.user_factors_[rows] @ self.item_factors_.T


class ImplicitALS(BaseRecommender):
    """Implicit-feedback ALS, calling implicit's CPU model directly.

    The reference for :class:`~sklearn_zsrec.ALSRecommender`: the same model
    (Hu, Koren and Volinsky, 2008; confidence ``alpha * weight``), fitted
    without going through the package's own wrapper. BLAS is limited to one
    thread while fitting, as implicit asks. Scores are
    ``user_factors_[rows] @ item_factors_.T``.

    Parameters
    ----------
    factors : int, default=64
        Number of latent factors.
    regularization : float, default=0.01
        L2 regularisation of the factors.
    alpha : float, default=1.0
        Confidence scaling of the interaction weights.
    iterations : int, default=15
        Number of ALS sweeps.
    random_state : int, RandomState instance or None, default=0
        Seed of the factor initialisation (drawn as in ``ALSRecommender``, so
        equal settings give equal factors).
    n_jobs : int, default=None
        Threads used by implicit; None or -1 uses all cores.

    Attributes
    ----------
    users_, items_, user_items_ : see :class:`~sklearn_zsrec.ALSRecommender`
    user_factors_ : ndarray of shape (n_users, factors), float32
    item_factors_ : ndarray of shape (n_items, factors), float32
    """

    _parameter_constraints = {
        "factors": [Interval(Integral, 1, None, closed="left")],
        "regularization": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "iterations": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        factors=64,
        *,
        regularization=0.01,
        alpha=1.0,
        iterations=15,
        random_state=0,
        n_jobs=None,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit(self, data):
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self._index(data)
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                calculate_training_loss=False,
                num_threads=_threads(self.n_jobs),
                random_state=_seed(self.random_state),
            )
            model.fit(self.user_items_, show_progress=False)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, np.float32)
        return self

    def _scores(self, rows, users):
        return self.user_factors_[rows] @ self.item_factors_.T


def _item_feature_matrix(item_features):
    """``(sorted ids, CSR float32 rows in that order, column names or None)``.

    Accepts a DataFrame (dense or sparse columns) or a Series of 1-D arrays
    indexed by item id, or a tuple ``(ids, matrix)`` with a scipy sparse
    matrix or a 2-D array.
    """
    columns = None
    if isinstance(item_features, tuple) and len(item_features) == 2:
        ids, matrix = item_features
        ids = np.asarray(ids)
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
    elif isinstance(item_features, pd.DataFrame):
        ids = item_features.index.to_numpy()
        columns = list(item_features.columns)
        if len(columns) and all(isinstance(d, pd.SparseDtype) for d in item_features.dtypes):
            matrix = sp.csr_matrix(item_features.sparse.to_coo(), dtype=np.float32)
        else:
            matrix = sp.csr_matrix(item_features.to_numpy(np.float32))
    elif isinstance(item_features, pd.Series):
        ids = item_features.index.to_numpy()
        matrix = sp.csr_matrix(np.vstack(item_features.to_numpy()).astype(np.float32))
    else:
        raise TypeError(
            "LightFM: item_features must be None, a DataFrame or a Series of arrays "
            "indexed by item id, or a tuple (item_ids, matrix); got "
            f"{type(item_features).__name__}."
        )
    if matrix.ndim != 2 or matrix.shape[0] != len(ids):
        raise ValueError(
            f"LightFM: item_features has {len(ids)} item ids but a matrix of shape "
            f"{matrix.shape}; pass one row per item id."
        )
    if pd.Index(ids).has_duplicates or pd.isna(ids).any():
        raise ValueError("LightFM: the item ids of item_features must be unique and not missing.")
    if not np.isfinite(matrix.data).all():
        raise ValueError("LightFM: item_features contains NaN or inf values.")
    order = np.argsort(ids, kind="stable")
    return ids[order], matrix[order], columns


class LightFM(BaseRecommender):
    """LightFM (Kula, 2015): factorisation with optional item features.

    Each item is represented by the sum of the embeddings of its features:
    a per-item indicator (``item_identity``) and/or the columns of
    ``item_features``, each row normalised to sum to one (L1) as LightFM's
    ``Dataset`` does. With ``item_features`` the catalog is the index of
    ``item_features``, so items without training interactions are scored
    and recommended through their features. Scores are
    ``user_embedding . item_embedding + item_bias``.

    Needs ``lightfm``; install it with ``python benchmarks/install_lightfm.py``.

    Parameters
    ----------
    loss : {"warp", "bpr", "warp-kos"}, default="warp"
        Ranking loss (only positives are observed, so no logistic loss).
    no_components : int, default=64
        Embedding dimension.
    learning_rate : float, default=0.05
        Initial Adagrad learning rate.
    item_alpha, user_alpha : float, default=0.0
        L2 penalties on item and user feature embeddings.
    epochs : int, default=30
        Passes over the interactions.
    item_features : DataFrame, Series of arrays, tuple or None, default=None
        Item features indexed by item id (dense floats such as text
        embeddings, or sparse 0/1 such as :func:`genre_title_features`), or a
        tuple ``(item_ids, matrix)`` with a scipy sparse matrix or an array.
        Its ids are the catalog and must include every training item. None is
        pure collaborative filtering.
    item_identity : bool, default=True
        Add a per-item indicator feature. Items without interactions then
        keep a random (untrained) part in their embedding; ``False`` describes
        items by their features alone. Ignored (always True) without
        ``item_features``.
    random_state : int, RandomState instance or None, default=0
        Seed of the initialisation and the sampling.
    num_threads : int, default=1
        Threads (if lightfm was built with OpenMP). The SGD is lock-free
        (Hogwild), so only ``num_threads=1`` repeats exactly.

    Attributes
    ----------
    users_, items_, user_items_ : see :class:`~sklearn_zsrec.ALSRecommender`
        ``items_`` is the catalog: the ids of ``item_features`` when given.
    item_feature_matrix_ : scipy.sparse.csr_matrix of shape (n_items, n_features)
        The normalised feature matrix given to LightFM (None without
        ``item_features``).
    user_embeddings_ : ndarray of shape (n_users, no_components), float32
    item_embeddings_ : ndarray of shape (n_items, no_components), float32
        Item representations (sums of feature embeddings).
    item_biases_ : ndarray of shape (n_items,), float32
    model_ : lightfm.LightFM
        The fitted LightFM model.
    """

    _parameter_constraints = {
        "loss": [StrOptions({"warp", "bpr", "warp-kos"})],
        "no_components": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "item_alpha": [Interval(Real, 0, None, closed="left")],
        "user_alpha": [Interval(Real, 0, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "item_features": [pd.DataFrame, pd.Series, tuple, None],
        "item_identity": ["boolean"],
        "random_state": ["random_state"],
        "num_threads": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        loss="warp",
        *,
        no_components=64,
        learning_rate=0.05,
        item_alpha=0.0,
        user_alpha=0.0,
        epochs=30,
        item_features=None,
        item_identity=True,
        random_state=0,
        num_threads=1,
    ):
        self.loss = loss
        self.no_components = no_components
        self.learning_rate = learning_rate
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.epochs = epochs
        self.item_features = item_features
        self.item_identity = item_identity
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(self, data):
        try:
            from lightfm import LightFM as _LightFM
        except ImportError as exc:
            raise ImportError(
                "LightFM needs the lightfm package, which pip cannot build from its PyPI "
                f"sdist through PEP 517; build it with `{LIGHTFM_INSTALL}` (needs a C "
                "compiler)."
            ) from exc

        if self.item_features is None:
            self._index(data)
            features = None
        else:
            ids, matrix, _ = _item_feature_matrix(self.item_features)
            self._index(data, items=ids)
            if self.item_identity:
                identity = sp.identity(len(ids), dtype=np.float32, format="csr")
                matrix = sp.hstack([identity, matrix], format="csr")
            features = _l1_rows(matrix)
        self.item_feature_matrix_ = features

        model = _LightFM(
            no_components=self.no_components,
            learning_rate=self.learning_rate,
            loss=self.loss,
            item_alpha=self.item_alpha,
            user_alpha=self.user_alpha,
            random_state=_seed(self.random_state),
        )
        model.fit(
            self.user_items_.tocoo(),
            item_features=features,
            epochs=self.epochs,
            num_threads=self.num_threads,
        )
        _, user_embeddings = model.get_user_representations()
        item_biases, item_embeddings = model.get_item_representations(features)
        self.user_embeddings_ = np.ascontiguousarray(user_embeddings, np.float32)
        self.item_embeddings_ = np.ascontiguousarray(item_embeddings, np.float32)
        self.item_biases_ = np.asarray(item_biases, np.float32)
        self.model_ = model
        return self

    def _scores(self, rows, users):
        return self.user_embeddings_[rows] @ self.item_embeddings_.T + self.item_biases_


def _l1_rows(matrix):
    """Scale each row to sum of absolute values 1 (rows of zeros stay zero)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    norms = np.asarray(abs(matrix).sum(axis=1)).ravel()
    norms[norms == 0] = 1.0
    return sp.diags((1.0 / norms).astype(np.float32)) @ matrix


def genre_title_features(ml, *, min_df=2):
    """Sparse 0/1 item features: genres and title words of MovieLens.

    Parameters
    ----------
    ml : Bunch
        The result of :func:`sklearn_zsrec.datasets.load_movielens_100k`.
    min_df : int, default=2
        Keep title words found in at least this many titles.

    Returns
    -------
    features : DataFrame of shape (n_items, n_features), sparse columns
        Indexed by ``item_id``; columns ``genre=<name>`` then
        ``title=<word>``; ready for ``LightFM(item_features=...)``.
    """
    movies = ml.movies
    # an item without genres is no genre (pandas' pyarrow strings make "" a column)
    genres = movies["genres"].str.get_dummies("|").drop(columns="", errors="ignore")
    words = text_word_features(movies.set_index("item_id")["title"], min_df=min_df, prefix="title")
    matrix = sp.hstack([sp.csr_matrix(genres.to_numpy(np.float32)), words.sparse.to_coo()],
                       format="csr")
    return pd.DataFrame.sparse.from_spmatrix(
        matrix.astype(np.float32),
        index=pd.Index(movies["item_id"].to_numpy(), name="item_id"),
        columns=[f"genre={g}" for g in genres.columns] + list(words.columns),
    )


def text_word_features(texts, *, min_df=2, prefix="word"):
    """Sparse 0/1 item features: the words of each text (in ``min_df`` texts or more).

    Parameters
    ----------
    texts : pandas Series of str
        Indexed by item id; missing texts count as empty.
    min_df : int, default=2
        Keep words found in at least this many texts.
    prefix : str, default="word"
        Columns are named ``<prefix>=<word>``.

    Returns
    -------
    features : DataFrame of shape (n_items, n_words), sparse columns
        Indexed like ``texts``; ready for ``LightFM(item_features=...)``.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(binary=True, min_df=min_df)
    words = vectorizer.fit_transform(texts.fillna("").astype(str))
    return pd.DataFrame.sparse.from_spmatrix(
        words.astype(np.float32), index=texts.index,
        columns=[f"{prefix}={w}" for w in vectorizer.get_feature_names_out()],
    )
