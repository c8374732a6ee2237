"""HybridRecommender: text scores for the cold, CF scores for the warm, blended.

The blend is linear in a few standardised per-user score terms (see
:class:`HybridRecommender`); with ``blend="learned"`` its coefficients are
fitted by a logistic regression on a validation holdout that ``fit`` carves
from the training data it is given (each user's latest interaction), with a
fraction of the items hidden so that it also learns how to rank new items.
"""

import copy
import logging
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import LinAlgWarning
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ._base import BaseRecommender, _matmul, _top_n
from ._progress import Stages
from ._explain import contributions
from ._interactions import Interactions
from ._history import history_matrix
from ._item_knn import ItemKNNRecommender
from ._next_item import NextItemRecommender
from ._zero_shot import _normalize_rows

logger = logging.getLogger(__name__)

# the terms of the blend, in the order of ``coef_``
TERMS = (
    "gated_cf",  # w * z_cf on items with interactions
    "gated_recent_cf",  # w * z_recent_cf on items with interactions
    "gated_text",  # (1 - w) * z_text on every item
    "recent_cf",  # z_recent_cf on items with interactions
    "popularity",  # z-scored log(1 + item interaction count)
    "new_item",  # 1 on items without interactions (their offset)
    "new_item_cf",  # z_cf from text-mapped factors, items without interactions
    "new_item_recent_cf",  # z_recent_cf from text-mapped factors, same items
    "recent_knn",  # z-scored item-kNN scores of the recency-weighted history
    "new_item_popularity",  # popularity predicted from text, new items
    "new_item_text",  # z_text on new items (on top of gated_text)
    "cf",  # z_cf on items with interactions
    "short_cf",  # z_cf / (1 + log n_u): more weight for short histories
    "short_recent_knn",  # z_recent_knn / (1 + log n_u)
    "recent_next",  # z-scored next-item (sequence) scores of the recency-weighted history
    "new_item_knn",  # z_recent_knn of the new item's closest items in text, new items
)
_TERM_INDEX = {name: k for k, name in enumerate(TERMS)}
FIXED_COEF = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=np.float32)
# the keys of ``weights`` (the fixed blend) and the term each one weighs
WEIGHTS = {"cf": "gated_cf", "text": "gated_text", "knn": "recent_knn", "next": "recent_next",
           "popularity": "popularity"}
# the terms that order new items among themselves (gated_text is z_text there)
NEW_ITEM_TERMS = ("new_item_cf", "new_item_recent_cf", "new_item_popularity", "new_item_text",
                  "new_item_knn")


def _sample(terms, pos, candidates, seen, n_negatives, rng, out, groups, skip=None):
    """Append (features, labels) of positives ``pos`` and random negatives.

    ``terms`` is the list of TERMS' (n_users, n_items) score arrays, gathered
    only at the sampled columns. ``candidates`` is a number of catalog
    columns or an array of them; negatives that the user has seen or that
    are the positive are dropped.
    """
    n = len(pos)
    if np.ndim(candidates) == 0:
        neg = rng.randint(0, candidates, size=(n, n_negatives))
    else:
        neg = np.asarray(candidates)[rng.randint(0, len(candidates), size=(n, n_negatives))]
    cols = np.concatenate([pos[:, None], neg], axis=1)
    ok = np.asarray(seen[np.arange(n)[:, None], cols].todense()) == 0
    ok[:, 1:] &= cols[:, 1:] != pos[:, None]
    if skip is not None:  # columns left out (with their users' positives)
        ok &= ~skip[cols] & ~skip[pos][:, None]
    out[0].append(np.stack([np.take_along_axis(t, cols, axis=1) for t in terms], axis=-1)[ok])
    labels = np.zeros(cols.shape, dtype=np.int8)
    labels[:, 0] = 1
    out[1].append(labels[ok])
    out[2].append(np.broadcast_to(groups[:, None], cols.shape)[ok])


# how simple each candidate of ``_select_per_bin`` is (lower: simpler): the own
# fit, the global fit, cf, recent_cf, recent_knn, the sum of those and
# recent_next, popularity, popularity + text, recent_next, recent_knn +
# recent_next. Popularity cannot overfit; the fixed terms and sums fit
# nothing (only the choice among them is made on the holdout); the logistic
# fits, pooled over bins and per bin, fit their coefficients.
_SIMPLICITY = np.array([3, 2, 1, 1, 1, 1, 0, 1, 1, 1])
_GLOBAL_FIT = 1  # the index of "global fit" in CANDIDATES
CANDIDATES = ("own fit", "global fit", "cf", "recent_cf", "recent_knn",
              "cf + recent_cf + recent_knn + recent_next", "popularity", "popularity + text",
              "recent_next", "recent_knn + recent_next")


def _one_se_choice(gains):
    """The simplest candidate within one standard error of the best.

    ``gains`` has one row per candidate (in the order of ``_SIMPLICITY``) and
    one column per held-out interaction. A candidate is as good as the best
    when its mean is within one standard error of the paired
    per-interaction difference to the best (Breiman's one-standard-error
    rule): small when the candidates agree, large when the holdout is small.
    Among those, the simplest wins, and among equally simple ones the best
    mean; so a noisy holdout does not pick a 15-term blend over one term, or
    a CF term over popularity, by chance.
    """
    means = gains.mean(axis=1)
    best = int(np.argmax(means))
    n = gains.shape[1]
    diff = gains[best] - gains
    se = diff.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.full(len(gains), np.inf)
    close = means[best] - means <= se
    close[best] = True
    # simplest first, then the best mean
    order = np.lexsort((-means, _SIMPLICITY[: len(gains)]))
    return int(next(c for c in order if close[c]))


# a bin departs from the pooled choice only for a candidate this many standard
# errors better than it on the bin's own held-out interactions
_CLEAR_WIN_SE = 2.0


def _clear_winner(gains, default):
    """``_one_se_choice(gains)`` if it beats the candidate ``default`` clearly, else ``default``.

    ``gains`` as in ``_one_se_choice``. The choice replaces ``default`` when
    its mean gain exceeds the default's by more than ``_CLEAR_WIN_SE``
    standard errors of their paired difference. The default is the
    candidate that rests on the most data (for the choice over all bins,
    the global fit, the mean of the bins' fitted blends; for a bin, that
    pooled choice): a small
    lead on a few hundred held-out interactions is mostly which users and
    items the holdout drew, and following it made the blend, and the
    quality users got, change with ``random_state``.
    """
    own = _one_se_choice(gains)
    if own == default or gains.shape[1] < 2:
        return default
    diff = gains[own] - gains[default]
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    return own if diff.mean() > _CLEAR_WIN_SE * se else default


def _tied_gain(score, target, cum_discount, k):
    """NDCG@k gain of one relevant item per row, ties broken at random (expected).

    The relevant item has ``g`` items scored above it and ``t`` scored equal
    (itself included): each of positions ``g .. g + t - 1`` is equally likely.
    Counting ties as wins would reward a term that scores everything alike.
    """
    above = (score > target).sum(axis=1)
    tied = (score == target).sum(axis=1)
    low, high = np.minimum(above, k), np.minimum(above + tied, k)
    return (cum_discount[high] - cum_discount[low]) / np.maximum(tied, 1)


def _standardize(scores, mask=None):
    """Z-score each row, over the columns in ``mask`` (all when None).

    Works in place on ``scores`` (a float scratch array) and returns it. The
    variance is a sum of squares per row (``einsum``: no temporary array).
    """
    part = scores if mask is None or mask.all() else scores[:, mask]
    mean = part.mean(axis=1, keepdims=True)
    part -= mean
    var = np.einsum("ij,ij->i", part, part)
    std = np.sqrt(var / max(part.shape[1], 1))[:, None]
    if part is not scores:
        scores -= mean
    scores /= np.maximum(std, 1e-12)
    return scores


# history lengths kept by the users whose history is cut when learning the blend
_SHORT_HISTORIES = np.array([1, 2, 3, 5, 8, 13, 20])
# the blend terms of the holdout are kept between the logistic fit and the
# blend selection up to this many floats (128 MB), else computed twice
_KEEP_TERMS_FLOATS = 1 << 25
# z_text and z_cf of a chunk of holdout users are kept for the next grid
# candidate up to this many floats each (16 MB)
_MEMO_TERMS_FLOATS = 1 << 22
_MIN_POSITIVES = 50  # held-out interactions a history-length bin needs for its own blend
# held-out interactions the learned blend needs at all: with one, the choice
# among candidates (``_one_se_choice``) has no standard error and judges nothing
_MIN_HOLDOUT = 2
# few features, many samples: Newton steps with a Cholesky solve converge in a
# handful of iterations, to the same optimum as lbfgs in a fraction of its time
_SOLVER = "newton-cholesky"
# the neighbour counts and popularity smoothings new users are scored with, chosen in fit
_USER_NEIGHBORS = (10, 25, 50, 100, 200, 400)
_USER_SMOOTHING = (0.01, 0.1, 1.0)


def _positions(index, ids):
    """Positions of ``ids`` in a member's public ``users_`` or ``items_`` (-1 if absent)."""
    return pd.Index(index).get_indexer(np.asarray(ids)) if len(ids) else np.zeros(0, int)


def _rows_for(member, data):
    """What ``member.fit`` is given: the checked rows, or a DataFrame of them.

    The package's recommenders (``BaseRecommender.fit`` as it is) take the
    checked ``Interactions`` record, so that X is validated once; any other
    ``fit`` (a subclass that overrides it, a recommender of one's own) gets
    the documented DataFrame.
    """
    if getattr(type(member), "fit", None) is BaseRecommender.fit:
        return data
    return pd.DataFrame({"user_id": data.user_id, "item_id": data.item_id, "weight": data.weight}
                        | ({} if data.timestamp is None else {"timestamp": data.timestamp}))


def _own_copy(model):
    """A shallow copy of a fitted member whose non-array attributes are its own.

    The arrays (read-only, shared through the fit memo) stay shared; the
    rest (a fitted encoder, texts, parameters) is copied, so that changing
    one hybrid's member changes no other hybrid.
    """
    out = object.__new__(type(model))  # attribute by attribute, not through __getstate__
    out.__dict__.update({name: value if isinstance(value, np.ndarray) or sp.issparse(value)
                         else copy.deepcopy(value) for name, value in vars(model).items()})
    return out


def _subset(data, mask):
    ts = None if data.timestamp is None else data.timestamp[mask]
    return Interactions(data.user_id[mask], data.item_id[mask], data.weight[mask], ts,
                        data.order[mask])


@dataclass
class _Components:
    """The fitted text and CF models and what the blend terms need of them."""

    text: object
    cf: object
    n_items: np.ndarray  # interactions per catalog item
    n_users: np.ndarray  # interactions per text-model user row
    item_factors: np.ndarray  # catalog-aligned CF factors, text-mapped for new items
    recent_profiles: np.ndarray  # recency-weighted sum of item factors per user
    popularity: np.ndarray  # z-scored log1p(n_items), text-predicted for new items
    knn: object  # the fitted ItemKNNRecommender
    next: object  # the fitted NextItemRecommender, or None (sequence_window=0)
    member_cols: dict  # catalog columns of each member's items_, by member name
    bridge: sp.csr_matrix  # warm item -> new item text similarity (top per new item), or None
    key: tuple = None  # the memo key of the text and CF fits (None: not reused)
    # arrays derived from the above on first use (not pickled)
    cache: dict = field(default_factory=dict, repr=False)

    def __getstate__(self):
        return {**self.__dict__, "cache": {}}


@dataclass
class _BlendItems:
    """The item side of the fused blend (see ``HybridRecommender._blend_items``)."""

    text: np.ndarray  # (text dims, n_items): centred text embeddings, transposed
    cf: np.ndarray  # (2 * CF dims + 1, n_items): centred factors, gated, popularity
    new: np.ndarray  # (text + CF dims + 2, n_new): the same for new items, offsets
    cold: np.ndarray  # columns of the items without interactions
    gate: np.ndarray  # the item part b(i) of the CF gate
    text_cov: np.ndarray  # covariance of the text embeddings (float64)
    cf_cov: np.ndarray  # covariance of the warm items' CF factors (float64), or None


# the new items' offset is searched in this range: z-scored terms stay far inside
_OFFSET_RANGE = (-50.0, 50.0)


def _quota_offsets(old_top, new_top, share, k, threshold=None):
    """Per-user offsets on new items' scores giving each user ``share`` of its top-``k``.

    ``old_top`` and ``new_top`` hold each user's best scores of old and of
    new items (at least ``k`` and ``k + 1`` when there are that many; -inf
    for excluded items). Every user gets ``q = floor(share * k)`` new items
    in its top-``k``, and one more where its margin (the score of its next
    new item minus that of its last old item in the top-``k``) is above
    ``threshold``. With ``threshold`` None it is set so that the fraction
    ``share * k - q`` of these users gets one more, and returned, for
    ``recommend`` to apply to any user. Each offset puts the user's last
    new item in the top-``k`` halfway between the old items around it.

    The same share for every user: a user's rate of picking new items is
    not known per user, and an offset common to all users gave most of the
    new items' slots to the users whose new-item scores run high.
    """
    if share <= 0:  # none: new items after every old one
        return np.full(len(old_top), _OFFSET_RANGE[0]), np.inf if threshold is None else threshold

    def top(scores, n):  # descending, padded with -inf to n columns
        scores = -np.sort(-scores, axis=1)[:, :n]
        return np.pad(scores, ((0, 0), (0, n - scores.shape[1])), constant_values=-np.inf)

    old, new = top(old_top, k + 1), top(new_top, k + 1)
    n_old, n_new = np.isfinite(old).sum(axis=1), np.isfinite(new).sum(axis=1)
    base = min(int(np.floor(share * k + 1e-9)), k)
    users = np.arange(len(old))
    with np.errstate(invalid="ignore"):
        margin = new[:, min(base, k)] - old[:, max(k - base - 1, 0)]
    if threshold is None:
        extra = share * k - base
        threshold = (np.inf if extra <= 0 or base >= k or not len(margin)
                     else float(np.quantile(margin, 1.0 - extra, method="higher")))
    quota = np.minimum(base + (margin > threshold), k)
    # as many as the user has: at most its new items, at least what old ones leave
    quota = np.minimum(np.maximum(quota, k - n_old), n_new)
    with np.errstate(invalid="ignore"):
        lower = np.where(quota > 0, old[users, np.clip(k - quota, 0, k)]
                         - new[users, np.clip(quota - 1, 0, k)], -np.inf)
        upper = np.where(quota < k, old[users, np.clip(k - quota - 1, 0, k)]
                         - new[users, np.clip(quota, 0, k)], np.inf)
    offsets = np.where(np.isfinite(lower) & np.isfinite(upper), (lower + upper) / 2,
                       np.where(np.isfinite(lower), lower + 1.0,
                                np.where(np.isfinite(upper), upper - 1.0, 0.0)))
    return np.clip(offsets, *_OFFSET_RANGE), threshold


def _best_old_and_new(score, new, k):
    """Each row's ``k`` best scores of the old (``~new``) and of the ``new`` items.

    Fewer when a side has fewer items: only those can make the top-``k``.
    """
    k_old, k_new = min(k, int((~new).sum())), min(k, int(new.sum()))
    return (-np.partition(-score[:, ~new], k_old - 1, axis=1)[:, :k_old],
            -np.partition(-score[:, new], k_new - 1, axis=1)[:, :k_new])


def _ridge(x, y, alpha):
    x = x.astype(np.float64)
    return np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y.astype(np.float64))


# Fitted CF and text models (with the item arrays that follow from them) and
# item-item matrices, reused while the same data and parameters come back (the
# candidates of a grid over the blend's own parameters refit them on the same
# rows). In process memory, a few entries of
# each kind (the first element of a key): a grid over n_neighbors needs one
# similarity per value and split, which must not push out the CF fits.
_FIT_MEMO = OrderedDict()
_FIT_MEMO_SIZE = 4  # entries per kind
_FIT_MEMO_LOCK = threading.Lock()


def _memo_key(estimator, data_hash):
    """A key for a fit of ``estimator`` on some data, or None if it must not be reused.

    A fit is reused only when it is reproducible: an estimator whose
    ``random_state`` (or a nested one) is None or a RandomState instance
    draws anew each time. Nested estimators count by class (their
    parameters are among the deep ones); a parameter that cannot be hashed
    (pickled) means no reuse.
    """
    import pickle

    import joblib

    def name(value):
        kind = type(value)
        return f"{kind.__module__}.{kind.__qualname__}"

    params = estimator.get_params(deep=True)
    if any(key.split("__")[-1] == "random_state" and not isinstance(value, Integral)
           for key, value in params.items()):
        return None
    described = {key: name(value) if hasattr(value, "get_params") else value
                 for key, value in params.items()}
    try:
        return name(estimator), joblib.hash(described), data_hash
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


def _memoized(key, build, shared=False):
    """``build()``, or the result of an earlier call with the same key.

    A copy of it, or with ``shared`` (a value nobody modifies) the same
    value, its arrays made read-only (``_read_only``) so that a change
    would raise.
    """
    if key is None:
        return build()
    with _FIT_MEMO_LOCK:
        if key in _FIT_MEMO:
            _FIT_MEMO.move_to_end(key)
            return _FIT_MEMO[key] if shared else copy.deepcopy(_FIT_MEMO[key])
    value = build()
    if shared:
        _read_only(value)
    with _FIT_MEMO_LOCK:
        _FIT_MEMO[key] = value if shared else copy.deepcopy(value)
        same_kind = [k for k in _FIT_MEMO if k[0] == key[0]]
        for old in same_kind[: max(len(same_kind) - _FIT_MEMO_SIZE, 0)]:  # least recent first
            del _FIT_MEMO[old]
    return value


def _read_only(value):
    """Mark the arrays of ``value`` read-only: an array, a sparse matrix, an
    estimator's array attributes, or those of a dict's values or a tuple.

    Memoized results are shared between fits: an in-place change would
    leak into every later fit, so it must raise instead.
    """
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif sp.issparse(value):
        for array in (value.data, value.indices, value.indptr):
            array.flags.writeable = False
    elif isinstance(value, (dict, tuple)):
        for item in value.values() if isinstance(value, dict) else value:
            _read_only(item)
    elif hasattr(value, "get_params"):
        for attribute in vars(value).values():
            if isinstance(attribute, np.ndarray) or sp.issparse(attribute):
                _read_only(attribute)
    return value


def _item_side(text, cf, data, data_hash, map_alpha, new_item_neighbors, stage):
    """The fitted text and CF models and the item arrays that follow from them.

    Nothing here depends on the blend's own parameters (``half_life``,
    ``n_neighbors``, ...): the candidates of a grid over those reuse one
    result per split (see ``_memoized``). Returns a dict.
    """
    # the members take the checked rows as they are: X is validated once
    stage("text model")
    text = clone(text).fit(_rows_for(text, data))
    stage("CF model")
    cf = _memoized(_memo_key(cf, data_hash), lambda: clone(cf).fit(_rows_for(cf, data)))
    cf_cols = _positions(text.items_, cf.items_)
    if (cf_cols < 0).any():
        raise ValueError(
            "HybridRecommender: the cf model knows items the text model "
            "has no text for; give every item a text in item_texts."
        )
    n_catalog = len(text.items_)
    n_items = np.zeros(n_catalog, dtype=np.int64)
    n_items[cf_cols] = cf.n_item_interactions_
    warm = n_items > 0
    emb = text.item_embeddings_
    factors = getattr(cf, "item_factors_", None)
    item_factors = None
    log_n = np.log1p(n_items).astype(np.float32)
    if factors is not None:
        item_factors = np.zeros((n_catalog, factors.shape[1]), dtype=np.float32)
        item_factors[cf_cols] = factors
    some_new = (~warm).any() and warm.any()
    if some_new:
        # new items: CF factors and popularity predicted from text by ridge
        # maps fitted on the other items (one solve for both)
        targets = [log_n[warm, None] - log_n[warm].mean()]
        if item_factors is not None:
            targets.append(item_factors[warm])
        coef = _ridge(emb[warm], np.hstack(targets), map_alpha)
        mapped = emb[~warm] @ coef
        log_n[~warm] = log_n[warm].mean() + mapped[:, 0]
        if item_factors is not None:
            item_factors[~warm] = mapped[:, 1:].astype(np.float32)
    popularity = (log_n - log_n[warm].mean()) / max(log_n[warm].std(), 1e-12)
    bridge = _text_bridge(emb, warm, new_item_neighbors) if some_new else None
    return {"text": text, "cf": cf, "n_items": n_items, "item_factors": item_factors,
            "popularity": popularity.astype(np.float32), "bridge": bridge}


def _fit_components(text, cf, data, half_life, map_alpha, n_neighbors, item_knn,
                    sequence_window, new_item_neighbors, stage):
    """The fitted members and what the blend needs of them (``stage`` announces each)."""
    import joblib

    data_hash = joblib.hash((data.user_id, data.item_id, data.weight, data.timestamp, data.order))
    text_key, cf_key = _memo_key(text, data_hash), _memo_key(cf, data_hash)
    key = (None if text_key is None or cf_key is None
           else ("item side", text_key, cf_key, map_alpha, new_item_neighbors))

    side = _memoized(key, lambda: _item_side(text, cf, data, data_hash, map_alpha,
                                             new_item_neighbors, stage), shared=True)
    # each fit gets its own model objects (their arrays shared, read-only)
    text, cf = _own_copy(side["text"]), copy.deepcopy(side["cf"])
    n_items, item_factors = side["n_items"], side["item_factors"]
    n_catalog = len(text.items_)
    warm = n_items > 0
    rows = _positions(text.users_, data.user_id)
    cols = _positions(text.items_, data.item_id)
    recent_weights = history_matrix(data, half_life, rows, cols, (len(text.users_), n_catalog))
    recent = None
    if item_factors is not None:
        recent = np.asarray(recent_weights @ item_factors, dtype=np.float32)
    members = {"knn": ItemKNNRecommender(item_knn, n_neighbors=n_neighbors, half_life=half_life),
               "next": (NextItemRecommender(sequence_window, n_neighbors=n_neighbors,
                                            half_life=half_life) if sequence_window else None)}
    fitted = {}
    for name, member in members.items():
        stage({"knn": "item-kNN", "next": "next-item"}[name])
        # each fit gets its own member object (its arrays shared, read-only):
        # refitting one hybrid's knn_ must not change another's
        fitted[name] = None if member is None else _own_copy(_memoized(
            _memo_key(member, data_hash), lambda m=member: clone(m).fit(_rows_for(m, data)),
            shared=True))
    catalog = pd.Index(text.items_)
    def columns(items):  # None when the member's items are the whole catalog, in order
        cols = catalog.get_indexer(items)
        return None if np.array_equal(cols, np.arange(len(catalog))) else cols

    member_cols = {name: columns(m.items_) for name, m in fitted.items()
                   if m is not None} | {"cf": columns(cf.items_)}
    return _Components(text, cf, n_items, text.n_user_interactions_, item_factors, recent,
                       side["popularity"], fitted["knn"], fitted["next"], member_cols,
                       side["bridge"], key)


def _text_bridge(emb, warm, k, chunk=1024):
    """Text similarity from items with interactions to the others, ``k`` largest per new item.

    A (n_items, n_items) CSR matrix, non-zero only from warm rows to new
    columns, with the (positive) cosine similarities of the ``k`` items with
    interactions closest in text to each new item.
    """
    warm_cols, new_cols = np.flatnonzero(warm), np.flatnonzero(~warm)
    k = min(k, len(warm_cols))
    rows, cols, values = [], [], []
    for start in range(0, len(new_cols), chunk):
        part = new_cols[start:start + chunk]
        sim = _matmul(emb[part], emb[warm_cols].T)  # normalised embeddings: cosines
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        rows.append(warm_cols[top].ravel())
        cols.append(np.repeat(part, k))
        values.append(np.maximum(np.take_along_axis(sim, top, axis=1), 0.0).ravel())
    n = len(warm)
    return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, n), dtype=np.float32)


def _member_scores(parts, name, users):
    """Scores of the fitted member ``name`` (``"cf"``, ``"knn"``, ``"next"``) over the catalog.

    The member scores its own items through its public ``score_items`` (any
    recommender with ``fit``, ``score_items``, ``users_`` and ``items_`` can
    be the CF side); the catalog's other columns are 0.
    """
    member, cols = getattr(parts, name), parts.member_cols[name]
    if cols is None:  # the member's items are the catalog, in its order
        return member.score_items(users)
    out = np.zeros((len(users), len(parts.n_items)), dtype=np.float32)
    out[:, cols] = member.score_items(users)
    return out


def _user_stds(parts, items, chunk=4096):
    """Per-user standard deviations of the text, CF and recency-profile scores.

    ``sqrt(x' C x)`` with ``C`` the covariance of the item side, computed once
    per fitted model (in float64, ``chunk`` users at a time) and cached.
    """
    if "user_std" not in parts.cache:
        def std(x, cov):
            out = np.empty(len(x))
            for start in range(0, len(x), chunk):
                part = x[start:start + chunk].astype(np.float64)
                out[start:start + chunk] = (_matmul(part, cov) * part).sum(axis=1)
            return np.sqrt(np.maximum(out, 0.0))

        stds = {"text": std(parts.text.user_embeddings_, items.text_cov)}
        if parts.item_factors is not None:
            stds["cf"] = std(parts.cf.user_factors_, items.cf_cov)
            stds["recent"] = std(parts.recent_profiles, items.cf_cov)
        parts.cache["user_std"] = stds
    return parts.cache["user_std"]


class HybridRecommender(BaseRecommender):
    """Blend zero-shot text scores with collaborative-filtering scores.

    For each known user, the text model's and the CF model's scores are
    standardised over the catalog (z-scores, one scale for both) and blended
    as a weighted sum of terms; the CF weight grows with the user's and the
    item's interaction counts::

        w(u, i) = n_u / (n_u + switch) * n_i / (n_i + item_switch)

        score(u, i) =   b1 * w * z_cf          + b2 * w * z_recent_cf
                      + b3 * (1 - w) * z_text  + b4 * z_recent_cf
                      + b5 * z_popularity                       (items with interactions)
                      + b6 + b7 * z_cf_mapped  + b8 * z_recent_cf_mapped  (new items)

    ``z_recent_cf`` scores items against a recency-weighted sum of the
    factors of the user's items (``half_life`` interactions), as the next
    interaction is often close to the last few; new items (in ``item_texts``,
    no interactions) get CF factors mapped from their text embedding by a
    ridge regression fitted on the other items. Terms that need item factors
    are zero when the CF model has none. More terms (the module's ``TERMS``)
    score the same recency-weighted history by item-kNN similarity and by
    what followed its items in other users' sequences (``sequence_window``).

    With ``blend="fixed"`` the coefficients are ``b1 = b3 = 1`` and the rest
    0: ``w * z_cf + (1 - w) * z_text``. With ``blend="learned"`` (default)
    ``fit`` learns them: it holds out each user's latest interaction, hides
    all interactions of a random ``new_item_fraction`` of the items (so that
    some held-out items are new, as in production), fits both models on the
    rest, and fits a logistic regression (regularisation ``C``) of held-out
    item against ``n_negatives`` random candidates per user on the terms.
    Then it refits both models on all the data. So the blend learns where text
    helps on the data at hand instead of assuming it.

    Users not seen in ``fit`` are scored from their text when the text model
    has ``user_texts``: the items of the ``user_neighbors`` known users whose
    texts are most similar, smoothed toward popularity; otherwise by the text
    model (its popularity fallback). The neighbour count (with
    ``user_neighbors="auto"``) and the smoothing are chosen in ``fit`` by
    scoring known users as if new: each from the others' items, by its text
    alone, judged by NDCG@10 on its own items.

    Parameters
    ----------
    text : ZeroShotRecommender
        The text model; its ``item_texts`` define the catalog.
    cf : recommender, default=None
        The collaborative-filtering model; None uses ``ALSRecommender()``.
    blend : {"learned", "fixed"}, default="learned"
        Learn the blend coefficients on a holdout, or use the fixed formula
        (``weights``). ``"learned"`` warns (``UserWarning``) and uses the
        default fixed formula when the holdout has fewer than 2 usable
        held-out interactions (tiny data: e.g. no user with 2+ interactions,
        or every held-out item hidden).
    weights : dict or None, default=None
        The fixed blend's weights (``blend="fixed"``), by member score, each
        standardised per user: ``"cf"`` (``w * z_cf``), ``"text"`` (``(1 - w)
        * z_text``), ``"knn"`` (item-kNN, ``knn_``), ``"next"`` (next-item,
        ``next_``) and ``"popularity"``; missing keys weigh 0. None is
        ``{"cf": 1, "text": 1}``. ``GridSearchCV`` can search them, e.g.
        ``{"weights": [{"cf": 1, "text": 1, "knn": k} for k in (0, 1, 2)]}``.
        Checked by ``fit`` whatever the blend, used only by ``blend="fixed"``
        (``blend="learned"`` fits its own, and its tiny-data fallback uses
        the default).
    switch : float, default=2.0
        User interaction count at which the CF gate ``w`` reaches one half
        (for the item count 0 gives a gate of one).
    item_switch : float, default=5.0
        Item interaction count at which the CF gate reaches one half.
    half_life : float, default=2.0
        Recency half-life, in interactions, of the ``z_recent_cf`` profile.
    C : float, default=1.0
        Inverse regularisation of the learned blend.
    new_item_fraction : float, default=0.2
        Fraction of items hidden while learning the blend, so that it learns
        how to rank items without interactions.
    n_negatives : int, default=100
        Random candidate items per held-out interaction when learning.
    max_holdout_users : int, default=5000
        Held-out interactions (one per user) the blend is learned and chosen
        on; a random sample of this many when there are more users. Bounds
        the cost of learning the blend on large data.
    map_alpha : float, default=5.0
        Ridge regularisation of the maps from text embeddings to CF item
        factors and to popularity, used for new items.
    user_neighbors : int or "auto", default="auto"
        Known users whose items score a new user (with ``user_texts``).
        ``"auto"`` picks it among 10, 25, 50, 100, 200 and 400 in ``fit``
        (see ``user_neighbors_``).
    n_neighbors : int, default=100
        Neighbours kept per item by the item-kNN term.
    item_knn : {"bm25", "cosine"}, default="bm25"
        Item-item similarity of the item-kNN term: implicit's BM25-weighted
        or plain cosine co-occurrence.
    sequence_window : int, default=10
        Interactions ahead that the next-item term looks: each pair of a
        user's interactions up to this many steps apart in time counts
        ``1 / steps`` toward "the later item follows the earlier one"
        (normalised like a cosine, ``n_neighbors`` kept per item); the
        recency-weighted history is scored by those counts. 0 drops the term.
    new_item_neighbors : int, default=20
        Items with interactions, the closest in text to a new item, whose
        item-kNN scores (for the user at hand) the new item takes on, weighted
        by text similarity: collaborative signal for items CF has never seen.
    new_items : array-like of item ids, "all" or None, default=None
        Catalog items known to be fresh arrivals (added after the
        interactions were logged: the log cannot say how popular they will
        be). With ``calibrate_new_items``, each of them without interactions
        is shown as often as a hidden item of the holdout earned, that is as
        often as an average item. Every other item without interactions is
        shown as often as this log's own next interactions go to items they
        had not reached yet (measured on the holdout): an item nobody picked
        in a log that rarely moves to unseen items stays out of the way.
        Without declared arrivals, that share is cut to a half, a quarter or
        none unless the holdout's NDCG@10 says those slots pay off.
        ``"all"`` treats every item without interactions as a fresh arrival.
        Ids not in the catalog raise a ``ValueError``; ids with interactions
        are ordinary items.
    calibrate_new_items : bool, default=True
        Shift the scores of the items without interactions, per user, so
        that they take the share of every user's top-10 that the holdout
        says they will earn (see ``new_items``, ``new_item_exposure`` and
        ``new_item_share_``); False leaves the offset the logistic blend
        learned.
    new_item_exposure : float, default=1.0
        Multiplies that share: above 1 shows new items more often (at some
        cost in accuracy), 0 keeps them out of the top-10.
    short_history_fraction : float, default=0.3
        Fraction of users cut to their last 1 to 20 interactions while
        learning the blend, so that short histories are represented.
    history_bins : tuple of int, default=(3, 10, 30)
        Upper edges of the history-length bins; each bin (users with at most
        that many interactions, and one bin above the last edge) gets its own
        blend where the holdout has enough interactions for it.
    random_state : int, RandomState instance or None, default=None
        Seeds the holdout's hidden items and negatives.
    verbose : int, default=1
        Show a progress bar over the stages of ``fit`` (each member's fit,
        the holdout's, learning the blend) when it takes more than two
        seconds; 2 also prints the blend chosen for each history-length bin
        (``blend_choice_``; logged at INFO level by the ``sklearn_zsrec``
        logger in any case); 0 silences both. The text model's encoder has
        its own ``verbose`` (``text__encoder__verbose``).

    Attributes
    ----------
    text_ : ZeroShotRecommender
        The fitted text model.
    cf_ : recommender
        The fitted CF model.
    knn_ : ItemKNNRecommender
        The fitted item-kNN member (``item_knn``, ``n_neighbors``,
        ``half_life``) behind the ``recent_knn`` terms; ``knn_.explain``
        says which of a user's items made an item score high.
    next_ : NextItemRecommender or None
        The fitted next-item member (``sequence_window``, ``n_neighbors``,
        ``half_life``) behind the ``recent_next`` term; None when
        ``sequence_window=0``.
    coef_ : ndarray of shape (len(history_bins) + 1, 16)
        Blend coefficients, in the order of ``TERMS``, one row per
        history-length bin.
    new_item_share_ : float or None
        The share of the top-10 given to items without interactions; None
        when not calibrated. Each known user's top-10 (its training items
        excluded) holds ``floor(10 * new_item_share_)`` of them, its best by
        the blend, and one more when its margin (next new item's score minus
        last old item's) is above its history-length bin's entry of
        ``new_item_thresholds_``: the same share for every user, as nothing
        tells one user's appetite for new items from another's.
    new_item_thresholds_ : ndarray of shape (len(history_bins) + 1,) or None
        Per history-length bin, the margin above which a user gets the extra
        new item, set on the fitted model's own scores of (up to 200 per bin
        of) its training users so that each bin holds ``new_item_share_``.
    user_neighbors_ : int or None
        The neighbour count new users are scored with; None without user
        texts. Chosen with ``user_neighbors_smoothing_`` by leave-one-out:
        (up to 1,000 of) the known users with a text are scored from the other
        users' items by their text alone, and the pair with the best NDCG@10 on
        their own items is kept.
    user_neighbors_smoothing_ : float or None
        The popularity smoothing of new users' scores: ``log(1 + counts +
        smoothing * k users' worth of popularity)``, one of 0.01, 0.1, 1.
    blend_choice_ : list of str
        The blend kept for each history-length bin: one of ``CANDIDATES``
        (the bin's own logistic fit, the fit of all bins pooled, or a sum
        of single terms), or ``"fixed"`` with the fixed blend.
    blend_validation_ndcg_ : ndarray of shape (len(history_bins) + 1, 10)
        With ``blend="learned"``: the held-out NDCG@10 of each candidate blend
        per bin (the bin's own fit, the global fit, ``cf``, ``recent_cf``,
        ``recent_knn``, the sum of those and ``recent_next``, popularity,
        popularity + text, ``recent_next``, ``recent_knn`` + ``recent_next``;
        the two fits judged out of fold; the global fit is the mean of the
        bins' fitted blends, one blend for every bin); the choice is
        ``blend_choice_`` (zeros for a bin without held-out users, and for
        every bin when ``fit`` fell back to the fixed blend).
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
    >>> hybrid = HybridRecommender(text, ALSRecommender(factors=2, random_state=0),
    ...                            blend="fixed")
    >>> hybrid.fit(X).recommend([3], n=1)  # item 5 is new: text finds it
    array([[5]])
    """

    _handles_unknown_users = True
    _parameter_constraints = {
        "text": [HasMethods(["fit", "recommend"])],
        "cf": [HasMethods(["fit", "score_items"]), None],
        "blend": [StrOptions({"learned", "fixed"})],
        "weights": [dict, None],
        "switch": [Interval(Real, 0, None, closed="left")],
        "item_switch": [Interval(Real, 0, None, closed="left")],
        "half_life": [Interval(Real, 0, None, closed="neither"), None],
        "C": [Interval(Real, 0, None, closed="neither")],
        "new_item_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_negatives": [Interval(Integral, 1, None, closed="left")],
        "max_holdout_users": [Interval(Integral, 1, None, closed="left")],
        "map_alpha": [Interval(Real, 0, None, closed="neither")],
        "user_neighbors": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "item_knn": [StrOptions({"bm25", "cosine"})],
        "sequence_window": [Interval(Integral, 0, None, closed="left")],
        "new_item_neighbors": [Interval(Integral, 1, None, closed="left")],
        "new_items": [StrOptions({"all"}), "array-like", None],
        "calibrate_new_items": ["boolean"],
        "new_item_exposure": [Interval(Real, 0, None, closed="left")],
        "short_history_fraction": [Interval(Real, 0, 1, closed="both")],
        "history_bins": ["array-like"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        text,
        cf=None,
        *,
        blend="learned",
        weights=None,
        switch=2.0,
        item_switch=5.0,
        half_life=2.0,
        C=1.0,
        new_item_fraction=0.2,
        n_negatives=100,
        max_holdout_users=5000,
        map_alpha=5.0,
        user_neighbors="auto",
        n_neighbors=100,
        item_knn="bm25",
        sequence_window=10,
        new_item_neighbors=20,
        new_items=None,
        calibrate_new_items=True,
        new_item_exposure=1.0,
        short_history_fraction=0.3,
        history_bins=(3, 10, 30),
        random_state=None,
        verbose=1,
    ):
        self.text = text
        self.cf = cf
        self.blend = blend
        self.weights = weights
        self.switch = switch
        self.item_switch = item_switch
        self.half_life = half_life
        self.C = C
        self.new_item_fraction = new_item_fraction
        self.n_negatives = n_negatives
        self.max_holdout_users = max_holdout_users
        self.map_alpha = map_alpha
        self.user_neighbors = user_neighbors
        self.n_neighbors = n_neighbors
        self.item_knn = item_knn
        self.sequence_window = sequence_window
        self.new_item_neighbors = new_item_neighbors
        self.new_items = new_items
        self.calibrate_new_items = calibrate_new_items
        self.new_item_exposure = new_item_exposure
        self.short_history_fraction = short_history_fraction
        self.history_bins = history_bins
        self.random_state = random_state
        self.verbose = verbose

    def _components(self, data, stage, prefix=""):
        from ._als import ALSRecommender

        cf = self.cf if self.cf is not None else ALSRecommender()
        return _fit_components(self.text, cf, data, self.half_life, self.map_alpha,
                               self.n_neighbors, self.item_knn, self.sequence_window,
                               self.new_item_neighbors, lambda name: stage(prefix + name))

    def _fit(self, data):
        learned = self.blend == "learned"
        stages = Stages(4 + 5 * learned + 2, self.verbose, "HybridRecommender.fit")
        try:
            return self._fit_stages(data, stages)
        finally:
            stages.close()

    def _fit_stages(self, data, stages):
        self._check_weights()  # before any fit, whatever the blend
        rng = check_random_state(self.random_state)
        self._parts = self._components(data, stages)
        self.new_item_share_ = None
        if self.blend == "learned":
            zero = self._parts.n_items == 0
            fresh = zero & self._fresh_mask(self._parts.text)
            with warnings.catch_warnings():
                # a degenerate holdout (a term constant over it) makes the
                # Newton solver's Hessian singular; scikit-learn then falls
                # back to lbfgs, as wanted: nothing for the caller to do
                warnings.simplefilter("ignore", LinAlgWarning)
                self.coef_ = self._learn_coef(data, rng, int(fresh.sum()),
                                              int((zero & ~fresh).sum()), stages)
            edges = [0, *self.history_bins]
            labels = [f"{a + 1}-{b}" for a, b in zip(edges[:-1], edges[1:])] + [f">{edges[-1]}"]
            message = ("HybridRecommender: blend per history length: " + "; ".join(
                f"{label}: {choice}" for label, choice in zip(labels, self.blend_choice_)))
            logger.info(message)
            if self.verbose >= 2:
                stages.write(message)
        else:
            self.coef_ = self._fixed_coef()
            self.blend_choice_ = ["fixed"] * (len(self.history_bins) + 1)
        self.new_item_thresholds_ = None
        new = self._parts.n_items == 0
        stages("new-item exposure")
        if self.new_item_share_ is not None and new.any() and not new.all():
            # calibrated on the final model's own scores, as recommend sees them
            rows = np.arange(len(self._parts.text.users_))
            self.new_item_thresholds_ = self._new_item_thresholds(
                self._parts, self.coef_, rows, self._parts.text.users_, self.new_item_share_, rng)
        self.text_, self.cf_ = self._parts.text, self._parts.cf
        self.knn_, self.next_ = self._parts.knn, self._parts.next
        self._index(data, items=self.text_.items_)
        stages("new users")
        self._fit_new_users()
        return self

    def _fresh_mask(self, text):
        """Catalog items declared fresh arrivals (``new_items``), as a mask."""
        if self.new_items is None:
            return np.zeros(len(text.items_), dtype=bool)
        if isinstance(self.new_items, str):  # "all"
            return np.ones(len(text.items_), dtype=bool)
        ids = self.new_items
        if not hasattr(ids, "dtype"):  # a list of mixed ids must not turn into strings
            ids = np.asarray(list(ids), dtype=object)
        ids = np.asarray(ids).ravel()
        cols = _positions(text.items_, ids)
        if (cols < 0).any():
            unknown = pd.unique(ids[cols < 0])
            raise ValueError(
                f"HybridRecommender: {len(unknown)} new_items are not in the catalog "
                f"(e.g. {unknown[:5].tolist()}); give them a text in item_texts or "
                "leave them out of new_items."
            )
        mask = np.zeros(len(text.items_), dtype=bool)
        mask[cols] = True
        return mask

    def _learn_coef(self, data, rng, n_fresh, n_unseen, stages):
        """Fit the blend on each user's latest interaction (see the class doc).

        ``n_fresh`` and ``n_unseen`` count the catalog's items without
        interactions that are, and are not, declared fresh (``new_items``).
        """
        from sklearn.linear_model import LogisticRegression

        frame = pd.DataFrame({"u": pd.factorize(data.user_id)[0], "o": data.order})
        rank = frame.groupby("u")["o"].rank(method="first", ascending=False).to_numpy()
        n_rows = frame.groupby("u")["o"].transform("size").to_numpy()
        held = (rank == 1) & (n_rows > 1)
        items = pd.unique(data.item_id)
        hidden = rng.choice(items, size=int(round(self.new_item_fraction * len(items))),
                            replace=False)
        train = ~held & ~pd.Series(data.item_id).isin(hidden).to_numpy()
        # warm-up: some users keep only their last few interactions, so that
        # the blend also learns what to do with short histories
        codes = frame["u"].to_numpy()
        n_codes = codes.max() + 1
        short = rng.rand(n_codes) < self.short_history_fraction
        keep_last = np.where(short, _SHORT_HISTORIES[rng.randint(0, len(_SHORT_HISTORIES),
                                                                 n_codes)], np.inf)
        train &= rank <= keep_last[codes] + 1
        if not held.any() or not train.any():
            return self._fixed_fallback(data, held, 0)
        parts = self._components(_subset(data, train), stages, "holdout: ")
        stages("blend")
        text = parts.text
        users = data.user_id[held]
        rows = _positions(text.users_, users)
        pos = _positions(text.items_, data.item_id[held])
        keep = (rows >= 0) & (pos >= 0)
        users, rows, pos = users[keep], rows[keep], pos[keep]
        if len(users) > self.max_holdout_users:  # a random sample is enough
            pick = np.sort(rng.choice(len(users), self.max_holdout_users, replace=False))
            users, rows, pos = users[pick], rows[pick], pos[pick]
        hidden_cols = _positions(text.items_, hidden)
        pos_is_new = np.isin(pos, hidden_cols)
        main, cold = ([], [], []), ([], [], [])
        is_hidden = np.zeros(len(text.items_), dtype=bool)
        is_hidden[hidden_cols] = True
        bins = self._bins(parts.n_users[rows])
        who = np.arange(len(users))  # each sample's held-out interaction
        # the terms of each chunk are kept for the blend selection below when
        # they are small enough, else computed again there
        keep = len(users) * len(text.items_) * len(TERMS) <= _KEEP_TERMS_FLOATS
        kept = []
        for start in range(0, len(users), 512):
            part = slice(start, start + 512)
            terms = self._terms(parts, rows[part], users[part])
            kept.append(terms if keep else None)
            seen = text.user_items_[rows[part]]
            # warm ranking only: new items are ranked by their own model below
            _sample(terms, pos[part], len(text.items_), seen, self.n_negatives, rng, main,
                    who[part], skip=is_hidden)
            new = pos_is_new[part]
            if new.any() and len(hidden_cols) > 1:
                _sample([t[new] for t in terms], pos[part][new], hidden_cols,
                        seen[np.flatnonzero(new)],
                        self.n_negatives, rng, cold, who[part][new])
        # a held-out item is usable when ranked against candidates: not when
        # its user or item is left out of the holdout's fit (hidden), nor when
        # the user has seen every other item
        if not main[0]:
            return self._fixed_fallback(data, held, 0)
        features, labels = np.concatenate(main[0]), np.concatenate(main[1])
        sample_who = np.concatenate(main[2])
        usable = len(np.unique(sample_who[labels == 0]))  # held-out items with candidates
        if usable < _MIN_HOLDOUT:
            return self._fixed_fallback(data, held, usable)
        groups = bins[sample_who]
        # bins with enough held-out interactions get a blend of their own
        own_bins = [b for b in range(len(self.history_bins) + 1)
                    if labels[groups == b].sum() >= _MIN_POSITIVES
                    and labels[groups == b].min() == 0]
        coef, start = self._fit_blends(features, labels, groups, own_bins)
        # cross-fitting: the fitted blends are also fitted on each half of the
        # held-out users and judged on the other half, so that the choice
        # below compares them with the single terms (which fit nothing) on
        # interactions they were not fitted on
        fold = rng.permutation(len(users)) % 2
        cross = [self._fit_blends(features[mask], labels[mask], groups[mask], own_bins, start)[0]
                 for mask in (fold[sample_who] == 1, fold[sample_who] == 0)]
        coef = self._select_per_bin(parts, coef, cross, fold, rows, users, pos, bins, is_hidden,
                                    kept)
        if cold[0]:
            # new items ranked among themselves: a model of their own terms
            features, labels = np.concatenate(cold[0]), np.concatenate(cold[1])
            if labels.min() != labels.max():
                own = [TERMS.index(t) for t in NEW_ITEM_TERMS]
                model = LogisticRegression(C=self.C, solver=_SOLVER, max_iter=1000)
                model.fit(features[:, own], labels)
                coef[:, own] = model.coef_.ravel()
                # the text term of new items comes on top of the shared gated_text
                coef[:, TERMS.index("new_item_text")] -= coef[:, TERMS.index("gated_text")]
        # exposure of the items without interactions (the offset that gives
        # them this share is set on the final model): fresh arrivals earn what
        # the hidden items earned per item, times how many there are; the
        # others what the holdout's items that the log had not reached yet
        # (no interaction left in the refit, not hidden) earned per item
        unseen = (parts.n_items == 0) & ~is_hidden
        fresh_share = pos_is_new.mean() * min(1.0, n_fresh / max(len(hidden_cols), 1))
        unseen_share = unseen[pos].mean() * min(1.0, n_unseen / max(unseen.sum(), 1))
        if self.calibrate_new_items and n_unseen and not n_fresh and unseen.any():
            # no declared arrivals: items nobody picked are the log's tail, shown
            # at that rate only if the holdout says their slots pay off
            unseen_share = self._earned_share(parts, coef, rows, users, pos, is_hidden,
                                              kept, unseen_share)
        if self.calibrate_new_items and n_fresh + n_unseen:
            self.new_item_share_ = float(min(1.0, (fresh_share + unseen_share)
                                             * self.new_item_exposure))
        return coef

    def _fixed_fallback(self, data, held, usable):
        """The fixed blend, with a warning: the holdout is too small to learn from.

        ``held`` marks the held-out interactions (each user's latest, of users
        with 2+ interactions), ``usable`` counts those that were ranked
        against candidates (fewer than ``_MIN_HOLDOUT``). Where one
        history-length bin has too little data, it takes the fit of all bins
        pooled; where all of them together have too little, ``fit`` takes
        ``blend="fixed"``'s coefficients.
        """
        n_users, n_items = len(pd.unique(data.user_id)), len(pd.unique(data.item_id))
        warnings.warn(
            f"HybridRecommender: blend='learned' found {usable} usable held-out "
            f"interactions in X ({len(data.user_id)} interactions, {n_users} users, "
            f"{int(held.sum())} of them with 2+ interactions, {n_items} items) and needs "
            f"at least {_MIN_HOLDOUT} ({_MIN_POSITIVES} per history-length bin for a blend "
            "of its own): fit holds out each user's latest interaction, usable when the "
            "user keeps an earlier one, the item is not among the "
            f"new_item_fraction={self.new_item_fraction} of items hidden while learning, "
            "and the user has unseen items to rank it against. Fell back to the fixed "
            "blend (blend='fixed': w * z_cf + (1 - w) * z_text). Pass more users with 2+ "
            "interactions, or blend='fixed' to use that blend without this warning.",
            UserWarning, stacklevel=7)  # fit's caller (_learn_coef, _fit_stages, _fit, fit)
        self.blend_validation_ndcg_ = np.zeros((len(self.history_bins) + 1, len(_SIMPLICITY)))
        self.blend_choice_ = ["fixed"] * (len(self.history_bins) + 1)
        return self._fixed_coef(use_weights=False)

    def _earned_share(self, parts, coef, rows, users, pos, is_hidden, kept, rate, k=10):
        """The share of the top-``k`` that the holdout's unseen items earn, at most ``rate``.

        Unseen items: without interactions in the holdout's refit and not
        hidden. Their rate of the held-out interactions is what they would
        get if shown as often as they are picked; their slots pay off only if
        the blend ranks them well enough. Among the shares ``rate``,
        ``rate / 2``, ``rate / 4`` and 0 (each given by one offset on their
        scores, over the held-out users), the smallest whose held-out NDCG@k
        is within one standard error of the best is kept: items nobody picked
        are promoted only as far as the holdout shows it pays. ``kept`` holds
        the holdout's terms per chunk of 512 users, or None where not kept.
        """
        unseen = (parts.n_items == 0) & ~is_hidden
        warm = parts.n_items > 0
        # held-out interactions on hidden items are not part of this ranking
        scoring = warm[pos] | unseen[pos]
        if not unseen.any() or not warm.any() or scoring.sum() < 2:  # nothing to judge
            return rate
        k = min(k, int(unseen.sum() + warm.sum()))
        old_top, new_top, target = [], [], []
        for chunk, start in enumerate(range(0, len(rows), 512)):
            part = slice(start, start + 512)
            mine = scoring[part]
            if kept[chunk] is None:
                score = self._fused_blend(parts, rows[part], users[part], coef)
            else:
                score = self._blend(kept[chunk], coef, parts.n_users[rows[part]])
            score, cols = score[mine], pos[part][mine]
            target.append(score[np.arange(len(score)), cols])
            score[parts.text.user_items_[rows[part][mine]].nonzero()] = -np.inf
            # hidden items are out of this ranking
            best_old, best_new = _best_old_and_new(score[:, warm | unseen],
                                                   unseen[warm | unseen], k + 1)
            old_top.append(best_old)
            new_top.append(best_new)
        old_top, new_top = np.concatenate(old_top), np.concatenate(new_top)
        target = np.concatenate(target)[:, None]
        target_unseen = unseen[pos[scoring]]
        n = len(target)
        discount = 1.0 / np.log2(np.arange(2, k + 2))

        def gains(offset):  # NDCG@k of the held-out item, unseen items shifted per user
            offset = offset[:, None]
            above = np.where(target_unseen[:, None],
                             (old_top > target + offset).sum(axis=1, keepdims=True)
                             + (new_top > target).sum(axis=1, keepdims=True),
                             (old_top > target).sum(axis=1, keepdims=True)
                             + (new_top + offset > target).sum(axis=1, keepdims=True))[:, 0]
            return np.where(above < k, discount[np.minimum(above, k - 1)], 0.0)

        shares = [0.0, rate / 4, rate / 2, rate]
        offsets = [_quota_offsets(old_top, new_top, s, k)[0] for s in shares]
        table = np.array([gains(o) for o in offsets])
        means = table.mean(axis=1)
        best = int(np.argmax(means))
        se = (table[best] - table).std(axis=1, ddof=1) / np.sqrt(n)
        return next(s for s, m, e in zip(shares, means, se) if means[best] - m <= e)

    def _fit_blends(self, features, labels, groups, own_bins, start=None):
        """Logistic blends: one over all samples, refitted per bin in ``own_bins``.

        Returns the coefficients (one row per bin; the pooled fit where a bin
        has none of its own) and the pooled model. ``start``, a fitted pooled
        model, warm-starts the fits: same optimum, fewer Newton iterations. A
        sample set without both labels gives ``start``'s coefficients.
        """
        from sklearn.linear_model import LogisticRegression

        def fit(x, y, init):
            model = LogisticRegression(C=self.C, solver=_SOLVER, max_iter=1000,
                                       warm_start=init is not None)
            if init is not None:
                model.coef_, model.intercept_ = init.coef_.copy(), init.intercept_.copy()
            return model.fit(x, y)

        n_bins = len(self.history_bins) + 1
        if not len(labels) or labels.min() == labels.max():
            return np.tile(start.coef_.astype(np.float32), (n_bins, 1)), start
        # a blend per history length, where data allow
        own = {b: groups == b for b in own_bins}
        own = {b: mine for b, mine in own.items()
               if mine.any() and labels[mine].min() != labels[mine].max()}
        # when every bin has its own fit, a pooled one would only warm-start
        # them (the optimum does not depend on the start): ``start`` does that
        pooled = fit(features, labels, start) if start is None or len(own) < n_bins else start
        coef = np.tile(pooled.coef_.astype(np.float32), (n_bins, 1))
        for b, mine in own.items():
            coef[b] = fit(features[mine], labels[mine], pooled).coef_.ravel()
        return coef, pooled

    def _select_per_bin(self, parts, coef, cross, fold, rows, users, pos, bins, is_hidden,
                        kept, k=10):
        """Per history-length bin, choose the candidate blend (``CANDIDATES``) by NDCG@k.

        The logistic fit tells relevant from random items; the top of the
        ranking is what counts, so each bin's blend is chosen among its own
        fit, the global fit, the single CF terms and their sums, popularity
        alone and with text, by the NDCG@k of the held-out (warm)
        interactions. The two fitted candidates are judged out of fold: a
        user of ``fold`` f is scored by ``cross[f]``, the blends fitted
        without that fold's users. The choice over all bins starts from the
        global fit and each bin from that choice; each moves only to a
        clearly better candidate (``_clear_winner``), so that the blend does
        not follow the holdout's draw.
        """
        unit = dict(zip(TERMS, np.eye(len(TERMS), dtype=np.float32)))
        simple = [unit["cf"], unit["recent_cf"], unit["recent_knn"],
                  unit["cf"] + unit["recent_cf"] + unit["recent_knn"] + unit["recent_next"],
                  # when interactions are scarce, popularity (with text) can
                  # beat every CF term: let the held-out NDCG say so
                  unit["popularity"], unit["popularity"] + unit["gated_text"],
                  # the next items of the user's last few, alone and with item-kNN
                  unit["recent_next"], unit["recent_knn"] + unit["recent_next"]]

        def fitted(c):  # the bin's own fit and the mean of the bins' fits
            return [c, np.tile(c.mean(axis=0), (len(c), 1))]

        candidates = fitted(coef) + [np.tile(c, (len(coef), 1)) for c in simple]
        judged = [fitted(c) for c in cross]  # out of fold, per fold
        warm = ~is_hidden[pos]
        gains = np.zeros((len(candidates), len(rows)))
        cum_discount = np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))]
        for chunk, start in enumerate(range(0, len(rows), 512)):
            part = slice(start, start + 512)
            terms = kept[chunk]
            if terms is None:
                terms = self._terms(parts, rows[part], users[part])
            seen = parts.text.user_items_[rows[part]].nonzero()
            n_u = parts.n_users[rows[part]]
            b = self._bins(n_u)
            for c, cand in enumerate(candidates):
                if c < 2:  # each user's bin row of the blend fitted without its fold
                    score = self._blend(terms, np.where(fold[part][:, None] == 0,
                                                        judged[0][c][b], judged[1][c][b]))
                else:
                    score = self._blend(terms, cand, n_u)
                score[seen] = -np.inf
                score[:, is_hidden] = -np.inf
                target = score[np.arange(len(score)), pos[part]][:, None]
                gains[c, part] = _tied_gain(score, target, cum_discount, k)
        best = coef.copy()
        self.blend_validation_ndcg_ = np.zeros((len(coef), len(candidates)))
        self.blend_choice_ = [None] * len(coef)
        # all bins pooled: one fitted blend for every bin ("global fit", the
        # mean of the bins' fits, judged out of fold), unless another is
        # clearly better; a choice among near-equal candidates by their means
        # flipped with the holdout's draw (issue 17)
        pooled = _clear_winner(gains[:, warm], _GLOBAL_FIT) if warm.any() else _GLOBAL_FIT
        for b in range(len(coef)):
            mine = (bins == b) & warm
            if mine.any():
                self.blend_validation_ndcg_[b] = gains[:, mine].mean(axis=1)
            # a bin takes the choice of all bins pooled unless its own held-out
            # interactions show another candidate clearly better (issue 17: a
            # bin's choice among near-equal candidates flipped with the seed)
            choice = (_clear_winner(gains[:, mine], pooled) if mine.sum() >= _MIN_POSITIVES
                      else pooled)
            best[b] = candidates[choice][b]
            self.blend_choice_[b] = CANDIDATES[choice]
        return best

    def _check_weights(self):
        """Raise when ``weights`` cannot give a ranking (checked whatever the blend)."""
        if self.weights is not None:
            unknown = sorted(set(self.weights) - set(WEIGHTS), key=str)
            if unknown:
                raise ValueError(
                    f"HybridRecommender: weights has unknown keys {unknown}; use "
                    f"{sorted(WEIGHTS)} (missing keys weigh 0).")
            bad = {k: v for k, v in self.weights.items()
                   if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v)}
            if bad:
                raise ValueError(
                    f"HybridRecommender: weights must be finite numbers; got {bad}.")
            if not any(self.weights.values()):
                raise ValueError(
                    f"HybridRecommender: every weight is 0 ({self.weights}): the blend would "
                    "score every item 0. Give at least one member a weight, or weights=None "
                    "for {'cf': 1, 'text': 1}.")
            if self.weights.get("next") and not self.sequence_window:
                raise ValueError(
                    "HybridRecommender: weights gives 'next' a weight but sequence_window=0 "
                    "drops the next-item member; set sequence_window > 0 or drop 'next'.")

    def _fixed_coef(self, use_weights=True):
        """The fixed blend's coefficients: ``weights`` on their terms (``WEIGHTS``).

        ``use_weights=False`` gives the default ``{"cf": 1, "text": 1}`` (the
        learned blend's fallback on tiny data ignores ``weights``).
        """
        coef = FIXED_COEF.copy()
        if self.weights is not None and use_weights:
            coef[:] = 0.0
            for key, value in self.weights.items():
                coef[_TERM_INDEX[WEIGHTS[key]]] = value
        return np.tile(coef, (len(self.history_bins) + 1, 1))

    def _bins(self, n_users):
        """Index of each user's history-length bin (see ``history_bins``)."""
        return np.searchsorted(np.asarray(self.history_bins), n_users, side="left")

    def _blend(self, terms, coef, n_users=None):
        """``sum_k coef[bin(u), k] * terms[k]`` for users with ``n_users`` interactions.

        With ``n_users`` None, ``coef`` holds one row per user.
        """
        per_user = coef if n_users is None else coef[self._bins(n_users)]
        blended = np.zeros(terms[0].shape, dtype=np.float32)
        for k, term in enumerate(terms):
            c = per_user[:, k]
            if c.any():
                blended += c[:, None] * term
        return blended

    def _new_item_thresholds(self, parts, coef, rows, users, share, rng, k=10):
        """Per history-length bin, the margin above which a user gets one more new item.

        Each user's top-``k`` holds ``floor(share * k)`` new items, one more
        for the fraction ``share * k - floor(share * k)`` of users with the
        largest margins (see ``_quota_offsets``), so that the users of every
        bin hold that share: the scores of a user with one interaction and of
        one with hundreds are spread differently. Set on (at most 200 per bin
        of) the users ``rows``, with their training items excluded, on the
        final model's own scores; a bin with fewer than 50 users takes the
        threshold of all users pooled.
        """
        if share <= 0:  # no slot for new items: nothing to calibrate
            return np.full(len(coef), np.inf)
        bins = self._bins(parts.n_users[rows])
        pick = np.concatenate([
            members if len(members) <= 200 else rng.choice(members, 200, replace=False)
            for members in (np.flatnonzero(bins == b) for b in range(len(coef)))])
        rows, users, bins = rows[pick], users[pick], bins[pick]
        old_top, new_top = [], []
        for start in range(0, len(rows), 512):
            part = slice(start, start + 512)
            score = self._fused_blend(parts, rows[part], users[part], coef)
            best_old, best_new = self._best_unseen(parts, rows[part], score, k)
            old_top.append(best_old)
            new_top.append(best_new)
        old_top, new_top = np.concatenate(old_top), np.concatenate(new_top)

        def threshold(mine):
            return _quota_offsets(old_top[mine], new_top[mine], share, k)[1]

        pooled = threshold(np.ones(len(rows), dtype=bool))
        return np.array([threshold(bins == b) if (bins == b).sum() >= _MIN_POSITIVES else pooled
                         for b in range(len(coef))])

    def _best_unseen(self, parts, rows, score, k):
        """Each row's ``k + 1`` best scores of old and of new items, training items excluded.

        ``score`` is left as it was (its training items' scores restored).
        """
        seen = parts.text.user_items_[rows].nonzero()
        kept = score[seen]
        score[seen] = -np.inf
        best = _best_old_and_new(score, parts.n_items == 0, k + 1)
        score[seen] = kept
        return best

    def _new_item_offsets(self, parts, rows, score, k=10):
        """Each user's offset on new items' scores (see ``new_item_share_``)."""
        if self.new_item_share_ <= 0:  # after every old item (as _quota_offsets puts them)
            return np.full(len(rows), _OFFSET_RANGE[0], dtype=np.float32)
        bins = self._bins(parts.n_users[rows])
        old_top, new_top = self._best_unseen(parts, rows, score, k)
        offsets = np.empty(len(rows))
        for b in np.unique(bins):
            mine = bins == b
            offsets[mine] = _quota_offsets(old_top[mine], new_top[mine], self.new_item_share_,
                                           k, self.new_item_thresholds_[b])[0]
        return offsets.astype(np.float32)

    def _gates(self, n_u, n_items):
        """``a, b`` with CF gate ``w(u, i) = a(u) * b(i)``; ``b`` is 0 on new items.

        ``a = n_u / (n_u + switch)``, ``b = n_i / (n_i + item_switch)``; a
        switch of 0 with a count of 0 (0 / 0) counts as 1.
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.nan_to_num(n_u / (n_u + np.float32(self.switch)), nan=1.0)
            b = np.nan_to_num(n_items / (n_items + self.item_switch), nan=1.0)
        return a.astype(np.float32), (b * (n_items > 0)).astype(np.float32)

    def _terms(self, parts, rows, users):
        """The blend terms (see TERMS) of known users ``rows``, over the catalog.

        Used while learning the blend; ``recommend`` computes the same blend
        with ``_fused_blend``.
        """
        shape = (len(rows), len(parts.n_items))
        warm = parts.n_items > 0
        cold = (~warm).astype(np.float32)[None, :]
        on_warm = warm.astype(np.float32)[None, :]
        n_u = parts.n_users[rows].astype(np.float32)
        short = (1.0 / (1.0 + np.log(np.maximum(n_u, 1.0))))[:, None].astype(np.float32)
        mask = None if warm.all() or not warm.any() else warm
        w = np.multiply.outer(*self._gates(n_u, parts.n_items))
        if parts.item_factors is not None:
            z_recent = _standardize(_matmul(parts.recent_profiles[rows], parts.item_factors.T),
                                    mask)
        else:
            z_recent = np.zeros(shape, dtype=np.float32)
        z_text, z_cf = self._model_terms(parts, rows, users, mask)
        z_knn = _standardize(_member_scores(parts, "knn", users), mask)
        z_knn *= on_warm
        z_bridge = np.zeros(shape, dtype=np.float32)
        if parts.bridge is not None:
            z_bridge = _standardize(np.asarray(z_knn @ parts.bridge, dtype=np.float32), ~warm)
            z_bridge *= cold
        if parts.next is not None:
            z_next = _standardize(_member_scores(parts, "next", users), mask)
            z_next *= on_warm
        else:
            z_next = np.zeros(shape, dtype=np.float32)
        terms = {
            "gated_cf": w * z_cf,
            "gated_recent_cf": w * z_recent,
            "gated_text": (1.0 - w) * z_text,
            "recent_cf": z_recent * on_warm,
            "popularity": np.broadcast_to(parts.popularity * on_warm[0], shape),
            "new_item": np.broadcast_to(cold, shape),
            "new_item_cf": z_cf * cold,
            "new_item_recent_cf": z_recent * cold,
            "recent_knn": z_knn,
            "new_item_popularity": np.broadcast_to(parts.popularity * cold[0], shape),
            "new_item_text": z_text * cold,
            "cf": z_cf * on_warm,
            "short_cf": z_cf * on_warm * short,
            "short_recent_knn": z_knn * short,
            "recent_next": z_next,
            "new_item_knn": z_bridge,
        }
        return [terms[t] for t in TERMS]

    def _model_terms(self, parts, rows, users, mask):
        """``z_text`` and ``z_cf`` of ``rows`` (read-only: shared between fits).

        They depend on the text and CF fits only, not on the blend's own
        parameters: the candidates of a grid over those reuse them (memo, per
        fit and users, for chunks of up to ``_MEMO_TERMS_FLOATS`` scores).
        """
        import joblib

        def build():
            z_text = _standardize(parts.text.score_items(users))
            if parts.item_factors is not None:
                raw = _matmul(parts.cf.user_factors_[_cf_rows(parts, users)],
                              parts.item_factors.T)
            else:
                raw = _member_scores(parts, "cf", users)
            return z_text, _standardize(raw, mask)

        small = len(rows) * len(parts.n_items) <= _MEMO_TERMS_FLOATS  # memory kept bounded
        key = (None if parts.key is None or not small
               else ("model terms", parts.key, joblib.hash(rows)))
        return _memoized(key, build, shared=True)

    def _fused_blend(self, parts, rows, users, coef):
        """``_blend(_terms(...))`` computed as two matrix products and a few passes.

        Every factor term is a z-score ``(x_u . y_i - mean_u) / std_u``, whose
        per-user mean and standard deviation follow from the item side's mean
        and covariance (``_blend_items``), so that it is the product of the
        user vector ``x_u / std_u`` with the centred item vector. The text
        terms on items with interactions add up to ``c(u) z_text (1 - a(u)
        b(i))`` (the CF gate ``w = a b``): one product of the text vectors and
        one rank-one correction. All CF, popularity and offset terms add up to
        one more product of concatenated vectors; items without interactions
        get their own (small) product; the item-kNN and next-item terms, not
        factor products, are z-scored and added. Equal to the plain blend up to float32
        rounding (tests/test_fast_paths.py).
        """
        import torch

        t = _TERM_INDEX
        n_u = parts.n_users[rows].astype(np.float32)
        P = coef[self._bins(n_u)].astype(np.float64)  # per-user coefficients
        items = self._blend_items(parts)
        a, _ = self._gates(n_u, parts.n_items[:0])
        short = 1.0 / (1.0 + np.log(np.maximum(n_u, 1.0)))
        warm = parts.n_items > 0
        mask = None if warm.all() or not warm.any() else warm

        std = _user_stds(parts, items)

        def scaled(x, std):  # x / std(x . y) over the items
            return x / np.maximum(std, 1e-12)[:, None]

        text = scaled(parts.text.user_embeddings_[rows], std["text"][rows])
        # CF side: [cf + recent | gated cf + gated recent | popularity], and
        # the same with the new items' coefficients
        col = lambda name: P[:, t[name]][:, None]  # noqa: E731
        if parts.item_factors is not None:
            cf_rows = _cf_rows(parts, users)
            x_cf = scaled(parts.cf.user_factors_[cf_rows], std["cf"][cf_rows])
            x_recent = scaled(parts.recent_profiles[rows], std["recent"][rows])
            user = np.hstack([
                (col("cf") + col("short_cf") * short[:, None]) * x_cf + col("recent_cf") * x_recent,
                a[:, None] * (col("gated_cf") * x_cf + col("gated_recent_cf") * x_recent),
                col("popularity"),
            ])
            new_user = np.hstack([
                col("new_item_cf") * x_cf + col("new_item_recent_cf") * x_recent,
                col("new_item"), col("new_item_popularity"),
            ])
        else:
            user = col("popularity")
            new_user = np.hstack([col("new_item"), col("new_item_popularity")])
        gated_text = col("gated_text")
        out = _matmul(gated_text * text, items.text)
        if a.any() and items.gate.any():  # text on warm items: times (1 - a(u) b(i))
            gate = torch.outer(torch.from_numpy(a), torch.from_numpy(items.gate))
            torch.from_numpy(out).mul_(gate.neg_().add_(1.0))
        torch.from_numpy(out).add_(torch.from_numpy(_matmul(user, items.cf)))
        if items.cold.size:
            new_user = np.hstack([(gated_text + col("new_item_text")) * text, new_user])
            out[:, items.cold] = _matmul(new_user, items.new)
        if parts.item_factors is None:
            self._add_dense_cf(out, parts, rows, users, P, a, items.gate, short, mask)
        knn_weight = P[:, t["recent_knn"]] + P[:, t["short_recent_knn"]] * short
        bridge_weight = P[:, t["new_item_knn"]] if parts.bridge is not None else np.zeros(1)
        for name, weight in (("knn", knn_weight), ("next", P[:, t["recent_next"]])):
            bridged = name == "knn" and bridge_weight.any()
            if (weight.any() or bridged) and getattr(parts, name) is not None:
                knn = _standardize(_member_scores(parts, name, users), mask)  # over warm items
                if mask is not None:
                    knn[:, ~mask] = 0.0
                if bridged:  # new items: the kNN scores of their closest items in text
                    bridge = np.asarray(knn @ parts.bridge, dtype=np.float32)[:, items.cold]
                    bridge = _standardize(bridge)
                    bridge *= bridge_weight.astype(np.float32)[:, None]
                    out[:, items.cold] += bridge
                knn *= weight.astype(np.float32)[:, None]
                out += knn
        return out

    def _blend_items(self, parts):
        """The item side of ``_fused_blend``, computed once per fitted model.

        ``text`` and ``cf`` are the transposed item matrices of the two
        products (centred text embeddings; centred CF factors, the same
        times the item gate ``b``, and popularity), ``new`` that of the new
        items' product, ``*_cov`` the covariances that give each user's
        standard deviation. The text scores are standardised over all items,
        the CF scores over the items with interactions (as in ``_terms``).
        """
        key = ("blend_items", float(self.item_switch))
        if key in parts.cache:
            return parts.cache[key]
        warm = parts.n_items > 0
        over = warm if warm.any() else np.ones_like(warm)
        cold = np.flatnonzero(~warm)

        def centred(y, rows):
            y = y.astype(np.float64)
            c = y - y[rows].mean(axis=0)
            return c, _matmul(c[rows].T, c[rows]) / max(rows.sum(), 1)

        text, text_cov = centred(parts.text.item_embeddings_, np.ones_like(warm))
        _, gate = self._gates(np.zeros(0), parts.n_items)
        if parts.item_factors is not None:
            cf, cf_cov = centred(parts.item_factors, over)
        else:
            cf, cf_cov = np.zeros((len(warm), 0)), None
        items = [cf, gate[:, None] * cf, (parts.popularity * warm)[:, None]]
        new = [text[cold], cf[cold], np.ones((len(cold), 1)), parts.popularity[cold, None]]
        def transposed(blocks):
            return np.ascontiguousarray(np.hstack(blocks).T, dtype=np.float32)

        parts.cache[key] = _BlendItems(transposed([text]), transposed(items), transposed(new),
                                       cold, gate.astype(np.float32), text_cov, cf_cov)
        return parts.cache[key]

    def _add_dense_cf(self, out, parts, rows, users, P, a, b, short, mask):
        """The CF terms of a CF model without item factors, z-scored from its scores."""
        t = _TERM_INDEX
        warm = parts.n_items > 0
        z_cf = _standardize(_member_scores(parts, "cf", users), mask)
        weight = (np.outer(P[:, t["gated_cf"]] * a, b)
                  + np.outer(P[:, t["cf"]] + P[:, t["short_cf"]] * short, warm)
                  + np.outer(P[:, t["new_item_cf"]], ~warm))
        out += (z_cf * weight).astype(np.float32)

    def _fit_new_users(self):
        """Embeddings of the known users' texts, to find a new user's neighbours.

        Also chooses the neighbour count and smoothing (see ``user_neighbors_``).
        """
        texts = self.text_.user_texts_
        self._neighbor_embeddings = None
        self.user_neighbors_ = self.user_neighbors_smoothing_ = None
        if texts is None:
            return
        has = pd.Index(texts.index).get_indexer(self.users_) >= 0
        if not has.any():
            return
        emb = self.text_.encoder_.transform(texts.loc[self.users_[has]].to_numpy())
        self._neighbor_rows = np.flatnonzero(has)
        self._neighbor_embeddings = _normalize_rows(emb).astype(np.float32)
        self._neighbor_items = (self.user_items_[self._neighbor_rows] != 0).astype(np.float32)
        # a generator of its own, not the fit's (whose state depends on the
        # blend's parameters), so that a grid over those reuses one choice
        seeded = isinstance(self.random_state, Integral)
        key = (None if self._parts.key is None or not seeded
               else ("user neighbours", self._parts.key, self.user_neighbors, self.random_state))
        self.user_neighbors_, self.user_neighbors_smoothing_ = _memoized(
            key, lambda: self._choose_user_neighbors(check_random_state(self.random_state)))

    def _choose_user_neighbors(self, rng, k=10, max_users=1000):
        """The neighbour count and smoothing scoring known users best as if new (see class doc)."""
        n = len(self._neighbor_rows)
        counts = _USER_NEIGHBORS if self.user_neighbors == "auto" else (self.user_neighbors,)
        counts = sorted({min(c, n - 1) for c in counts} - {0})
        if n < _MIN_POSITIVES or not counts:  # too few users to judge: the middle ground
            return (min(50, n) if self.user_neighbors == "auto"
                    else min(self.user_neighbors, n)), 1.0
        pick = np.sort(rng.choice(n, min(n, max_users), replace=False))
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        gains = np.zeros((len(counts), len(_USER_SMOOTHING), len(pick)))
        items = self._neighbor_item_matrix()
        for start in range(0, len(pick), 256):
            part = pick[start:start + 256]
            sim = _matmul(self._neighbor_embeddings[part], self._neighbor_embeddings.T)
            sim[np.arange(len(part)), part] = -np.inf  # not oneself
            relevant = self._neighbor_items[part].toarray() > 0
            ideal = np.cumsum(discount)[np.minimum(relevant.sum(axis=1), k) - 1]
            # each user's neighbours, most similar first: the counts of the
            # first c of them grow by the next ones' items
            ranked = np.argsort(-sim, axis=1)[:, :counts[-1]]
            hits, done = 0.0, 0
            for i, count in enumerate(counts):
                hits = hits + self._neighbor_hits(ranked[:, done:count], items)
                done = count
                for j, smoothing in enumerate(_USER_SMOOTHING):
                    # the ranking of log(1 + x) is that of x
                    top, _ = _top_n(hits + self._prior(count, smoothing), k)
                    gains[i, j, start:start + len(part)] = (
                        np.take_along_axis(relevant, top, axis=1) @ discount) / ideal
        i, j = np.unravel_index(np.argmax(gains.mean(axis=2)), gains.shape[:2])
        return int(counts[i]), float(_USER_SMOOTHING[j])

    def _neighbor_item_matrix(self):
        """The known users' items (binary), dense when small enough, else sparse.

        Dense up to ``_KEEP_TERMS_FLOATS`` entries: the sparse-sparse product
        of ``_neighbor_hits`` is many times slower.
        """
        if len(self._neighbor_rows) * len(self.items_) <= _KEEP_TERMS_FLOATS:
            return self._neighbor_items.toarray()
        return self._neighbor_items

    def _neighbor_hits(self, neighbors, items):
        """How many of each row's ``neighbors`` (known-user positions) have each item.

        ``items``: ``_neighbor_item_matrix()``.
        """
        n_known = len(self._neighbor_rows)
        if isinstance(items, np.ndarray):
            weights = np.zeros((len(neighbors), n_known), dtype=np.float32)
            np.put_along_axis(weights, neighbors, 1.0, axis=1)
            return _matmul(weights, items)
        weights = sp.csr_matrix(
            (np.ones(neighbors.size, dtype=np.float32),
             (np.repeat(np.arange(len(neighbors)), neighbors.shape[1]), neighbors.ravel())),
            shape=(len(neighbors), n_known))
        return (weights @ items).toarray()

    def _prior(self, count, smoothing):
        """``smoothing * count`` users' worth of popularity, per item (a row)."""
        share = (self.n_item_interactions_ / max(self.n_item_interactions_.sum(), 1))
        per_user = self.n_item_interactions_.sum() / max(len(self.users_), 1)
        return (smoothing * count * per_user * share).astype(np.float32)[None, :]

    def _neighbor_scores(self, sim, count, smoothing):
        """``log(1 + hits + prior)``: ``hits`` of the ``count`` users most similar by text."""
        nearest = np.argpartition(-sim, count - 1, axis=1)[:, :count]
        hits = self._neighbor_hits(nearest, self._neighbor_item_matrix())
        return np.log1p(hits + self._prior(count, smoothing))

    def _new_user_scores(self, users):
        texts = self.text_.user_texts_
        out = np.empty((len(users), len(self.items_)), dtype=np.float32)
        with_text = np.zeros(len(users), dtype=bool)
        if texts is not None and self._neighbor_embeddings is not None:
            with_text = pd.Index(texts.index).get_indexer(users) >= 0
        if with_text.any():
            emb = _normalize_rows(self.text_.encoder_.transform(
                texts.loc[users[with_text]].to_numpy()))
            out[with_text] = self._neighbor_scores(emb @ self._neighbor_embeddings.T,
                                                   self.user_neighbors_,
                                                   self.user_neighbors_smoothing_)
        if (~with_text).any():  # the text model's popularity fallback
            out[~with_text] = _standardize(
                self.text_.score_items(users[~with_text])
            )
        return out

    def _scores(self, rows, users):
        users = np.asarray(users)
        out = np.empty((len(rows), len(self.items_)), dtype=np.float32)
        known = rows >= 0
        if known.any():
            score = self._fused_blend(self._parts, rows[known], users[known], self.coef_)
            if getattr(self, "new_item_thresholds_", None) is not None:
                # each user's top-10 holds new_item_share_ of items without interactions
                new = self._parts.n_items == 0
                score[:, new] += self._new_item_offsets(self._parts, rows[known], score)[:, None]
            out[known] = score
        if (~known).any():
            out[~known] = self._new_user_scores(users[~known])
        return out


    def _contributions(self, row, users, cols):
        """Each blend term's ``coef x term`` (see ``TERMS``), and the new items' offset.

        They add up to the score: the blend is linear in its terms. A known
        user's item-kNN and next-item terms can be taken further with
        ``knn_.explain`` and ``next_.explain`` (the history items behind
        them). A new user is explained by its text neighbours or the text
        model's popularity fallback (one row).
        """
        position = np.arange(len(cols))
        if row < 0:
            texts = self.text_.user_texts_
            source = ("text neighbours" if texts is not None and users[0] in texts.index
                      and self._neighbor_embeddings is not None else "popularity")
            score = self._new_user_scores(users)[0, cols]
            return contributions(position, source, None, score)
        rows = np.array([row])
        terms = self._terms(self._parts, rows, users)
        coef = self.coef_[self._bins(self._parts.n_users[rows])][0]
        out = [contributions(position, name, None, coef[k] * term[0, cols])
               for k, (name, term) in enumerate(zip(TERMS, terms)) if coef[k]]
        if getattr(self, "new_item_thresholds_", None) is not None:
            new = self._parts.n_items == 0
            score = self._fused_blend(self._parts, rows, users, self.coef_)
            offset = self._new_item_offsets(self._parts, rows, score)[0]
            out.append(contributions(position, "new item offset", None,
                                     np.where(new[cols], offset, 0.0)))
        out = pd.concat(out, ignore_index=True) if out else contributions(position, "none",
                                                                          None, 0.0 * position)
        return out[out["contribution"] != 0].reset_index(drop=True)


def _cf_rows(parts, users):
    """Rows of ``users`` in the CF model's ``users_`` (its public attribute)."""
    if "cf_users" not in parts.cache:
        parts.cache["cf_users"] = pd.Index(parts.cf.users_)
    return parts.cache["cf_users"].get_indexer(np.asarray(users))
