"""Evaluation protocols of the MovieLens-100K benchmark, and their scoring.

Each protocol function returns :class:`Split` objects: the rows a model is
fitted on, the held-out rows that are relevant, the items each test user has
excluded from the ranking, and (optionally) the candidate items. Everything is
full-catalogue ranking over ``catalog`` minus each user's excluded items.

Rows are ordered in time within each user by ``timestamp`` (ties by row
order), exactly as :class:`sklearn_zsrec.model_selection.LeaveLastOut` does.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sklearn_zsrec.model_selection._split import _rank_from_end

COLUMNS = ["user_id", "item_id", "timestamp"]


@dataclass
class Split:
    """One train/test split of a protocol.

    Attributes
    ----------
    name : str
        Protocol and fold, e.g. ``"A/fold1"``.
    train : DataFrame
        Rows the model is fitted on.
    test : DataFrame
        Held-out rows: each test user's relevant items.
    exclude : DataFrame
        ``(user_id, item_id)`` rows whose items are left out of the user's
        ranking (the training items of the test users as the system knows
        them).
    candidates : ndarray or None
        Item ids that may be ranked; None means the whole catalogue.
    new_items : ndarray or None
        Ids of the cold items of protocol C (for the C-mix report).
    """

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    exclude: pd.DataFrame
    candidates: np.ndarray = None
    new_items: np.ndarray = None
    info: dict = field(default_factory=dict)


TIE_SEED = 0  # the order of rows that share a timestamp (``random_tie_order``) and of equal scores (``rank_top``)


def random_tie_order(X, seed=TIE_SEED):
    """``X`` sorted by time, rows that share a timestamp in a seeded random order.

    MovieLens' loader orders rows of one second by user, then item id, and
    the splits hold out a user's last row: 44-46% of A's test rows share
    their second with a training row of the user, and the one held out was
    always the highest item id (a pattern sequence models learn, and the
    held-out items the less popular: popularity's NDCG@10 on A's fold 0 was
    0.0254 in that order and 0.0415 in a random one). Every protocol, model
    and peer reads this order.
    """
    order = np.random.default_rng(seed).permutation(len(X))
    return X.iloc[order].sort_values("timestamp", kind="stable").reset_index(drop=True)


def rank_from_end(X):
    """0 for each user's last row, 1 for the one before, ..., and row counts."""
    return _rank_from_end(X["user_id"].to_numpy(), X["timestamp"].to_numpy())


def _exclude(train, users):
    return train[train.user_id.isin(users)][["user_id", "item_id"]]


def protocol_a(X, fold):
    """Warm leave-last-out: test the ``fold``-th last row, train on earlier ones.

    Fold 0 holds out each user's last interaction, fold 1 the one before
    (trained without the last), and so on; users with at most ``fold + 1``
    rows are not tested.
    """
    rank, n_rows = rank_from_end(X)
    train = X[rank > fold]
    test = X[(rank == fold) & (n_rows > fold + 1)]
    return Split(f"A/fold{fold}", train, test, _exclude(train, test.user_id.unique()))


def tuning_split(X, n_folds=3):
    """Training data of the earliest protocol A fold, for hyper-parameter search.

    Hyper-parameters are searched once, with
    ``LeaveLastOut(n_splits=1)`` on these rows: its validation rows (each
    user's ``n_folds + 1``-th last interaction) are training rows of every
    fold of protocols A and E, so no test row takes part in tuning.
    """
    rank, _ = rank_from_end(X)
    return X[rank >= n_folds]


def cold_user_tuning_cv(X_tune, test_users, fraction=0.2, seed=1):
    """One (train, validation) split of the tuning rows whose validation users are cold.

    For parameters that act only on users without training rows (the
    user-text ridge's ``alpha``): ``LeaveLastOut`` validates on warm users,
    where they change nothing. A random ``fraction`` of the users of
    ``X_tune`` outside ``test_users`` (protocol D's cold users, so that no
    test user's history validates a choice; fixed ``seed``) is held out
    entirely and scored on its whole history, as D scores its users.
    Returned as a list of one pair of row positions, for ``GridSearchCV(cv=)``.
    """
    validation = cold_users(X_tune, fraction, seed, exclude=test_users)
    is_validation = X_tune.user_id.isin(validation).to_numpy()
    return [(np.flatnonzero(~is_validation), np.flatnonzero(is_validation))]


def protocol_b(X, n, part, n_parts=3, seed=0):
    """Warm-up curve: test users keep only their last ``n`` training rows.

    Users are cut into ``n_parts`` random groups (fixed ``seed``); group
    ``part`` is tested on its last interaction with only its ``n`` previous
    interactions kept (``n=None`` keeps all); every other user keeps all of
    their rows. Only the ``n`` kept items are excluded from the ranking.
    """
    users = np.sort(X.user_id.unique())
    groups = np.random.default_rng(seed).permutation(len(users)) % n_parts
    tested = users[groups == part]
    rank, n_rows = rank_from_end(X)
    in_part = X.user_id.isin(tested).to_numpy()
    test_mask = in_part & (rank == 0) & (n_rows > 1)
    keep = ~in_part | ((rank >= 1) & (rank <= (n if n is not None else np.inf)))
    train = X[keep]
    test = X[test_mask]
    label = "all" if n is None else n
    return Split(f"B/n={label}/part{part}", train, test, _exclude(train, test.user_id.unique()))


def cold_items(X, fraction=0.2, seed=0):
    """The ids of a random ``fraction`` of the items of X (fixed seed)."""
    items = np.sort(X.item_id.unique())
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(items, size=int(round(fraction * len(items))), replace=False))


def protocol_c_new(X, new_items):
    """Cold items ranked among themselves.

    Training is every interaction with an old item; each user's interactions
    with new items are the test, ranked among the new items only. Users
    without an old item in training are not tested (no warm model knows them).
    """
    is_new = X.item_id.isin(new_items).to_numpy()
    train, test = X[~is_new], X[is_new]
    test = test[test.user_id.isin(train.user_id.unique())]  # users the models know
    return Split("C-new", train, test, _exclude(train, []), candidates=np.asarray(new_items),
                 new_items=np.asarray(new_items))


# what each protocol without a split of its own needs of the data (for a page that skips it)
NEEDS = {"C-new": "C-new tests the interactions with 20% of the items, drawn at random, "
                  "that users with other interactions have",
         "C-mix": "C-mix tests the last 10 interactions of users with more than 10",
         "D": "D holds out 20% of the users, drawn at random"}


def protocol_c_mix(X, new_items, n_test=10):
    """Cold and warm items in one ranking.

    Each user's last ``n_test`` interactions are the test whatever the item,
    for users with more than ``n_test``; training is every other row (the
    whole history of users with fewer, who are not tested) minus all
    new-item interactions; the candidates are every item not in the user's
    training rows. Users left without training rows are not tested.
    """
    rank, n_rows = rank_from_end(X)
    is_new = X.item_id.isin(new_items).to_numpy()
    tested = (rank < n_test) & (n_rows > n_test)
    test = X[tested]
    train = X[~tested & ~is_new]
    test = test[test.user_id.isin(train.user_id.unique())]  # users the models know
    return Split("C-mix", train, test, _exclude(train, test.user_id.unique()),
                 new_items=np.asarray(new_items))


def cold_users(X, fraction=0.2, seed=0, exclude=()):
    """The ids of a random ``fraction`` of the users of X outside ``exclude`` (fixed seed)."""
    users = np.setdiff1d(np.sort(X.user_id.unique()), np.asarray(exclude))
    rng = np.random.default_rng(seed)
    return rng.choice(users, size=int(round(fraction * len(users))), replace=False)


def protocol_d(X, fraction=0.2, seed=0):
    """Cold users: a random ``fraction`` of users held out entirely.

    Their whole history is the relevant set; the model sees none of it (only
    their ``user_text``, given to the models that use it).
    """
    cold = cold_users(X, fraction, seed)
    is_cold = X.user_id.isin(cold).to_numpy()
    train, test = X[~is_cold], X[is_cold]
    return Split("D", train, test, _exclude(train, []))


def protocol_e(X, p, seed=0):
    """Data growth: protocol A fold 0's test rows, training on ``p`` % of the rest.

    The training rows are a uniform random ``p`` % sample (fixed ``seed``) of
    protocol A fold 0's training rows. Only test users with at least one
    sampled training row are tested (every model can then rank them).
    """
    base = protocol_a(X, 0)
    rng = np.random.default_rng(seed)
    n = max(1, int(round(len(base.train) * p / 100)))
    train = base.train.iloc[np.sort(rng.choice(len(base.train), size=n, replace=False))]
    test = base.test[base.test.user_id.isin(train.user_id.unique())]
    return Split(f"E/p={p}", train, test, _exclude(train, test.user_id.unique()))


# ---------------------------------------------------------------- scoring


def score_matrix(model, users, catalog, batch=1024):
    """Scores of ``users`` over ``catalog`` items; -inf where the model has none.

    ``model`` is a fitted :class:`sklearn_zsrec.BaseRecommender`, scored
    through its public ``score_items`` (the scores its ``recommend`` ranks),
    ``batch`` users at a time.
    """
    cols = pd.Index(catalog).get_indexer(model.items_)
    known = cols >= 0
    users = np.asarray(users)
    out = np.full((len(users), len(catalog)), -np.inf, dtype=np.float32)
    for start in range(0, len(users), batch):
        scores = model.score_items(users[start:start + batch])
        block = out[start:start + batch]  # a view: written in place
        block[:, cols[known]] = scores[:, known]
    return out


def rank_top(split, scores, users, catalog, k):
    """Top-``k`` catalogue columns per user, excluded items and non-candidates removed.

    Positions left without an allowed item (fewer than ``k`` of them) hold -1.
    Equal scores are ranked in a seeded random order (``TIE_SEED``), drawn
    anew for each user: neither the catalogue's order (MovieLens numbers its
    popular films first) nor an order that depends on the other scores.
    """
    scores = scores.copy()
    ucode = pd.Index(users)
    ex = split.exclude
    if len(ex):
        r = ucode.get_indexer(ex.user_id)
        c = pd.Index(catalog).get_indexer(ex.item_id)
        ok = (r >= 0) & (c >= 0)
        scores[r[ok], c[ok]] = np.nan
    if split.candidates is not None:
        allowed = np.zeros(len(catalog), dtype=bool)
        allowed[pd.Index(catalog).get_indexer(split.candidates)] = True
        scores[:, ~allowed] = np.nan
    # removed items (NaN) rank below unscorable ones (-inf), below any score
    key = scores.astype(np.float64)
    key[np.isneginf(scores)] = -1e300
    key[np.isnan(scores)] = -np.inf
    k = min(k, scores.shape[1])
    # equal scores in a seeded random order of each user's columns, the same
    # for every model ranked on these users and catalogue (docs/benchmark.md,
    # "Ties in scores")
    tiebreak = np.random.default_rng(TIE_SEED).random(key.shape)
    top = np.lexsort((tiebreak, -key), axis=1)[:, :k]
    top[np.take_along_axis(key, top, axis=1) == -np.inf] = -1  # removed: no item
    return top


def per_user_metrics(split, top, users, catalog, ks=(10, 20)):
    """Per-user HR@k, NDCG@k, Recall@k arrays (and cold-item figures for C).

    Returns a dict of name -> ndarray of shape (n_users,) (NaN where a metric
    does not apply to a user).
    """
    test_cols = pd.Index(catalog).get_indexer(split.test.item_id)
    if (test_cols < 0).any():
        raise ValueError("test items missing from the catalogue")
    rows = pd.Index(users).get_indexer(split.test.user_id)
    relevant = np.zeros((len(users), len(catalog)), dtype=bool)
    relevant[rows, test_cols] = True
    n_rel = relevant.sum(axis=1)
    filled = top >= 0
    top = np.where(filled, top, 0)
    hits = np.take_along_axis(relevant, top, axis=1) & filled
    out = {}
    for k in ks:
        h = hits[:, :k]
        discount = 1.0 / np.log2(np.arange(2, h.shape[1] + 2))
        ideal = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
        out[f"HR@{k}"] = h.any(axis=1).astype(float)
        out[f"NDCG@{k}"] = (h @ discount) / ideal[np.minimum(n_rel, k) - 1]
        out[f"Recall@{k}"] = h.sum(axis=1) / n_rel
    if split.new_items is not None and split.candidates is None:
        new = np.zeros(len(catalog), dtype=bool)
        new[pd.Index(catalog).get_indexer(split.new_items)] = True
        rel_new = relevant & new[None, :]
        n_new = rel_new.sum(axis=1)
        hits_new = (np.take_along_axis(rel_new, top[:, :10], axis=1) & filled[:, :10]).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["NewRecall@10"] = np.where(n_new > 0, hits_new / n_new, np.nan)
        out["NewShareTop10"] = (new[top[:, :10]] & filled[:, :10]).mean(axis=1)
        out["NewShareTest"] = n_new / n_rel
    return out


def evaluate(model, split, catalog, ks=(10, 20)):
    """Fit-free evaluation of a fitted model on a split: per-user metrics."""
    users = np.asarray(pd.unique(split.test.user_id))
    scores = score_matrix(model, users, catalog)
    top = rank_top(split, scores, users, catalog, max(ks))
    return per_user_metrics(split, top, users, catalog, ks)


def check_no_leakage(split, new_items=None):
    """Assert the invariants the protocols promise (used by the tests).

    No training row of a test user is later than (or the same row as) that
    user's earliest test row, and cold items have no training rows.
    """
    if new_items is not None:
        assert not split.train.item_id.isin(new_items).any(), "cold item in training"
    first_test = split.test.groupby("user_id").timestamp.min()
    last_train = split.train.groupby("user_id").timestamp.max()
    both = first_test.index.intersection(last_train.index)
    assert (last_train.loc[both] <= first_test.loc[both]).all(), "training row after a test row"
    overlap = split.train.index.intersection(split.test.index)
    assert len(overlap) == 0, "a row is both in training and test"
