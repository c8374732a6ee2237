"""The hybrid's members: checked, fitted (once per data, see ``_memo``), and
what the blend reads of them through their public attributes."""

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone

from .._base import BaseRecommender
from .._scores import _put_columns
from .._history import history_matrix
from .._interactions import Interactions
from .._interactions import positions as exact_positions
from .._progress import one_id_warning
from . import _memo

# names the blend gives its own terms, and the suffixes of a member's terms:
# a member's name may not be one of them, nor end with a suffix
RESERVED_NAMES = ("text", "popularity", "new_item")
RESERVED_SUFFIXES = ("_gated", "_short", "_recent", "_new")
# the recency half-life, in interactions, of the recency-weighted factor
# profile of a member with factors (its "<name>_recent" terms): the next
# interaction is often close to the last few. The item-kNN and next-item
# members have their own ``half_life``.
RECENT_HALF_LIFE = 2.0
# ridge regularisations the maps from text embeddings to popularity and to a
# factor member's item factors (the new items' collaborative side) choose
# from, each map by its leave-one-item-out error (``_ridge``): the fitting
# one depends on the embeddings' spread, which a fine-tuned or custom
# encoder changes (a fixed 5.0 left the map of fine-tuned MiniLM embeddings,
# six times less spread, over-regularised)
MAP_ALPHAS = tuple(np.logspace(-2, 3, 11))
# with fewer items with interactions than this, leaving one out judges
# nothing: the maps take this regularisation instead
MIN_MAP_ITEMS, MAP_ALPHA = 10, 5.0


def default_members(random_state=None):
    """The members ``HybridRecommender(members=None)`` blends, as a new list.

    ``[("als", ALSRecommender(random_state=random_state)), ("knn",
    ItemKNNRecommender()), ("next", NextItemRecommender())]``: matrix
    factorisation, item-item co-occurrence and what followed a user's last
    items in other users' histories (see docs/blend.md for what each adds on
    MovieLens-100K). ``HybridRecommender`` passes its own ``random_state``, so
    that an int makes its fit repeatable.

    Examples
    --------
    >>> from sklearn_zsrec import HybridRecommender
    >>> [name for name, _ in HybridRecommender.default_members()]
    ['als', 'knn', 'next']
    """
    from .._als import ALSRecommender
    from .._item_knn import ItemKNNRecommender
    from .._next_item import NextItemRecommender

    return [("als", ALSRecommender(random_state=random_state)), ("knn", ItemKNNRecommender()),
            ("next", NextItemRecommender())]


def check_members(members, random_state=None):
    """``members`` as a list of ``(name, recommender)``; raise naming the fix.

    None gives ``default_members``, seeded by ``random_state`` (an int or
    None as it is; a ``RandomState`` draws one int).
    """
    if members is None:
        if not (random_state is None or isinstance(random_state, numbers.Integral)):
            random_state = int(random_state.randint(np.iinfo(np.int32).max))
        return default_members(random_state)
    fix = ('Pass a list of (name, recommender) pairs, e.g. [("als", ALSRecommender()), '
           '("knn", ItemKNNRecommender())], or None for HybridRecommender.default_members().')
    if not isinstance(members, list):
        raise ValueError(f"HybridRecommender: members must be a list; got "
                         f"{type(members).__name__} {members!r}. {fix}")
    if not members:
        raise ValueError(f"HybridRecommender: members is empty. {fix}")
    for pair in members:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ValueError(f"HybridRecommender: members holds {pair!r}, not a "
                             f"(name, recommender) pair. {fix}")
        name, member = pair
        if (not name.isidentifier() or "__" in name or name in RESERVED_NAMES
                or name.endswith(RESERVED_SUFFIXES)):
            raise ValueError(
                f"HybridRecommender: member name {name!r} cannot be used: names are Python "
                "identifiers without '__' (they prefix nested parameters, as in "
                f"{name}__n_neighbors), not one of {list(RESERVED_NAMES)} (the blend's "
                f"own terms) and not ending with {list(RESERVED_SUFFIXES)} (the suffixes "
                "of a member's terms).")
        if _dropped(member):  # left out, as in scikit-learn's ensembles
            continue
        if not all(hasattr(member, m) for m in ("fit", "score_items", "get_params")):
            raise ValueError(
                f"HybridRecommender: member {name!r} ({type(member).__name__}) has no fit, "
                "score_items or get_params; a member is a recommender (a BaseRecommender "
                "subclass, or any scikit-learn estimator with fit, score_items, users_ and "
                "items_), or 'drop' to leave it out (e.g. set_params(knn='drop')).")
    names = [name for name, _ in members]
    if len(set(names)) < len(names):
        raise ValueError(f"HybridRecommender: member names must be unique; got {names}.")
    kept = [(name, member) for name, member in members if not _dropped(member)]
    if not kept:
        raise ValueError(f"HybridRecommender: every member is 'drop' ({names}); keep at "
                         f"least one. {fix}")
    return kept


def dropped_names(members):
    """The names of the members set to ``"drop"``."""
    return [name for name, member in members or [] if _dropped(member)]


def _dropped(member):
    return isinstance(member, str) and member == "drop"


def positions(index, ids):
    """Positions of ``ids`` in a member's public ``users_`` or ``items_`` (-1 if absent)."""
    return exact_positions(pd.Index(index), ids) if len(ids) else np.zeros(0, int)


def rows_for(member, data):
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


def subset(data, mask):
    """The rows of ``data`` in ``mask``, as a checked record."""
    ts = None if data.timestamp is None else data.timestamp[mask]
    return Interactions(data.user_id[mask], data.item_id[mask], data.weight[mask], ts,
                        data.order[mask])


def has_factors(member):
    """A member whose scores are ``user_factors_ @ item_factors_.T`` (e.g. ALS)."""
    return hasattr(member, "user_factors_") and hasattr(member, "item_factors_")


@dataclass
class Fitted:
    """The fitted text model and members, and what the blend reads of them."""

    text: object
    members: dict  # name -> fitted member (its own copy; arrays shared, read-only)
    n_items: np.ndarray  # interactions per catalog item
    n_users: np.ndarray  # interactions per text-model user row
    member_cols: dict  # name -> catalog columns of the member's items_ (None: the catalog)
    factors: dict  # name -> catalog-aligned item factors (times their factor_scale),
    #                 text-mapped for new items
    recent: dict  # name -> recency-weighted profile of item factors, per text-model user
    popularity: np.ndarray  # z-scored log1p(n_items), text-predicted for new items
    maps: dict = None  # the ridge maps from text to popularity and factors (None: no warm item)
    key: tuple = None  # the memo key of the fits (None: not reused)
    text_key: tuple = None  # the memo key of the text model's fit alone (None: not reused)
    # name -> the power of two the blend multiplies a factor member's user
    # factors by (its item factors are stored times theirs: ``factor_scale``)
    user_scales: dict = field(default_factory=dict)
    # name ("text" for the text model) -> the user_items_ matrix of the fit
    # this record was made from: a refit makes another (``check_unchanged``)
    stamps: dict = field(default_factory=dict)
    # arrays derived from the above on first use (not pickled)
    cache: dict = field(default_factory=dict, repr=False)

    def __getstate__(self):
        return {**self.__dict__, "cache": {}}

    def check_unchanged(self):
        """Raise if a member (or the text model) was fitted again since this record was made.

        The blend keeps what it derived from the fits (factors, catalog
        columns, each user's score statistics): with a member refitted in
        place it would mix two fits (scores off by up to 19 in a hunt).
        """
        for name, model in [("text", self.text), *self.members.items()]:
            stamp = getattr(self, "stamps", {}).get(name)
            if stamp is not None and getattr(model, "user_items_", None) is not stamp:
                where = "text_" if name == "text" else f"named_members_.{name}"
                raise ValueError(
                    f"HybridRecommender: {where} ({type(model).__name__}) was fitted again "
                    "(or given items: add them with the hybrid's add_items) after the "
                    "hybrid's fit, which keeps what it derived from that fit (the factors, "
                    "the catalog, each user's score statistics). Fit the hybrid again; to "
                    f"use a member on its own, fit a copy: clone(hybrid.{where}).")

    @property
    def factor_names(self):
        return [name for name in self.members if name in self.factors]

    @property
    def score_names(self):
        return [name for name in self.members if name not in self.factors]

    def grown(self, text):
        """This record for ``text``, whose catalog grew by items without interactions.

        The new items get the popularity and factors the ridge maps predict
        from their text, as ``fit`` gives the items without interactions.
        """
        n_new = len(text.items_) - len(self.n_items)
        emb = text.item_embeddings_[len(self.n_items):]
        popularity, mapped = (_mapped(self.maps, emb) if self.maps is not None
                              else (np.zeros(n_new, np.float32), {}))
        factors = {name: np.concatenate([f, mapped.get(name, np.zeros((n_new, f.shape[1]),
                                                                      np.float32))])
                   for name, f in self.factors.items()}
        catalog = pd.Index(text.items_)
        return Fitted(text, self.members, np.concatenate([self.n_items, np.zeros(n_new, np.int64)]),
                      self.n_users, {name: catalog.get_indexer(m.items_)
                                     for name, m in self.members.items()},
                      factors, self.recent, np.concatenate([self.popularity, popularity]),
                      self.maps, self.key, self.text_key, self.user_scales,
                      stamps_of(text, self.members))

    def user_factors(self, name, rows):
        """Member ``name``'s user factors of ``rows``, times its scale (``factor_scale``)."""
        return scaled(self.members[name].user_factors_[rows], self.user_scales[name])

    def member_scores(self, name, users, rows):
        """Member ``name``'s ``score_items(users)`` over the catalog (C-contiguous float32).

        ``rows`` are the users' rows in the text model. Items the member
        lacks get each user's mean score over the items it has, and users
        it lacks (not in its ``users_``) a row of zeros: both neutral, a
        z-score of 0 (``Blend``), as a member with factors gives them. Scores
        of another float type are centred per user before the float32 cast
        (``1e9 + count`` keeps its ranking).
        """
        member, cols = self.members[name], self.member_cols[name]
        mine = self.member_rows(name, users, rows) >= 0
        if not mine.any():
            return np.zeros((len(users), len(self.n_items)), dtype=np.float32)
        with one_id_warning(checked=True):  # the hybrid checked (and warned about) them
            scores = np.asarray(member.score_items(users[mine] if not mine.all() else users))
        shape = (int(mine.sum()), len(member.items_))
        if scores.shape != shape:
            raise ValueError(
                f"HybridRecommender: member {name!r} ({type(member).__name__}) returned "
                f"scores of shape {scores.shape} from score_items for {shape[0]} users; "
                f"expected {shape}, one row per user and one column per item of its "
                "items_, in that order.")
        if scores.dtype != np.float32:  # centred in its own precision first
            scores = scores - np.mean(scores, axis=1, keepdims=True, dtype=np.float64)
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        if cols is None and mine.all():
            return scores
        out = np.zeros((len(users), len(self.n_items)), dtype=np.float32)
        if cols is None:
            out[mine] = scores
            return out
        # the items the member lacks: its mean over the items it has (neutral)
        part = np.repeat(scores.mean(axis=1, keepdims=True), len(self.n_items), axis=1)
        out[mine] = _put_columns(part, cols, scores)
        return out

    def member_rows(self, name, users, rows):
        """Rows of ``users`` in member ``name``'s public ``users_`` (-1 if absent).

        ``rows``, the users' rows in the text model, are the answer when the
        member's ``users_`` are the text model's (no lookup).
        """
        if ("rows", name) not in self.cache:
            member_users = self.members[name].users_
            same = (len(member_users) == len(self.text.users_)
                    and np.array_equal(member_users, self.text.users_))
            self.cache["rows", name] = None if same else pd.Index(member_users)
        index = self.cache["rows", name]
        if index is None:
            return np.asarray(rows)
        return index.get_indexer(np.asarray(users))


def _ridge(x, y, blocks):
    """Ridge maps from ``x`` to each block of columns of ``y``; (coefficients, alphas).

    Each block (a slice of ``y``'s columns: popularity, one factor member's
    factors) gets the regularisation of ``MAP_ALPHAS`` with the smallest
    leave-one-out squared error over its columns, as scikit-learn's
    ``RidgeCV`` (no intercept) chooses it: closed-form residuals ``(y_i -
    yhat_i) / (1 - h_ii)`` from one eigendecomposition of ``x.T @ x``. One
    alpha per block, not per column: factors are defined up to a rotation,
    which a per-column choice would not respect.
    """
    x, y = x.astype(np.float64), y.astype(np.float64)
    if len(x) < MIN_MAP_ITEMS:
        coef = np.linalg.solve(x.T @ x + MAP_ALPHA * np.eye(x.shape[1]), x.T @ y)
        return coef, [MAP_ALPHA] * len(blocks)
    eigenvalues, vectors = np.linalg.eigh(x.T @ x)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    z = x @ vectors
    del x  # (the items' rotated embeddings replace them: two n x dims arrays, not three)
    zy, z2 = z.T @ y, z * z
    coef, alphas = np.empty((len(vectors), y.shape[1])), []
    for block in blocks:
        errors = []
        for alpha in MAP_ALPHAS:
            inverse = 1.0 / (eigenvalues + alpha)
            leverage = z2 @ inverse
            residual = (y[:, block] - z @ (inverse[:, None] * zy[:, block])) / (
                1.0 - leverage)[:, None]
            errors.append(float(np.einsum("ij,ij->", residual, residual)))
        alpha = MAP_ALPHAS[int(np.argmin(errors))]
        coef[:, block] = vectors @ (zy[:, block] / (eigenvalues + alpha)[:, None])
        alphas.append(float(alpha))
    return coef, alphas


def _item_side(text, members):
    """What follows from the fitted models for items: counts, mapped factors, popularity.

    Items without interactions get each factor member's item factors and a
    popularity predicted from their text by one ridge solve fitted on the
    other items (``maps``, kept for items added after fit).
    """
    n_catalog = len(text.items_)
    n_items = np.asarray(text.n_item_interactions_, dtype=np.int64)
    warm = n_items > 0
    emb = text.item_embeddings_
    factors, lacked, known_to_all = {}, {}, warm.copy()
    for name, member in members.items():
        if has_factors(member):
            cols = positions(text.items_, member.items_)
            f = factors[name] = np.zeros((n_catalog, member.item_factors_.shape[1]), np.float32)
            f[cols] = scaled(member.item_factors_, factor_scale(name, member, "item_factors_"))
            known = np.isin(np.arange(n_catalog), cols)
            lacked[name] = warm & ~known
            if lacked[name].any() and (warm & known).any():
                # items with interactions the member lacks (a filter of its own): the
                # mean of its items' factors, the per-user mean score (z-score 0),
                # as members without factors give them; no part of the recency profile
                f[lacked[name]] = f[warm & known].mean(axis=0)
            known_to_all &= known
    # in float64: equal counts (one interaction per item) have a float32 mean
    # one ulp off and a float32 deviation of that ulp, which made their
    # z-score +1 or -1 (by the number of items) instead of 0
    log_n = np.log1p(n_items)
    maps = None
    if warm.any():
        log_mean, log_std = log_n[warm].mean(), log_n[warm].std()
        if log_std <= 8 * np.finfo(np.float64).eps * log_mean:
            log_std = np.inf  # every count equal: popularity says nothing, its z-scores are 0
        # fitted on the items every factor member knows (not on the filled-in rows)
        fit = known_to_all if known_to_all.any() else warm
        targets = [(log_n[fit, None] - log_mean).astype(np.float32)]
        targets += [f[fit] for f in factors.values()]
        edges = np.cumsum([0] + [t.shape[1] for t in targets])
        coef, alphas = _ridge(emb[fit], np.hstack(targets),
                              [slice(a, b) for a, b in zip(edges[:-1], edges[1:])])
        maps = {"coef": coef, "alphas": dict(zip(["popularity", *factors], alphas)),
                "log_mean": float(log_mean), "log_std": float(log_std),
                "dims": {name: f.shape[1] for name, f in factors.items()}}
        popularity, mapped = _mapped(maps, emb[~warm])
        for name, f in factors.items():
            f[~warm] = mapped[name]
    full = (log_n - (maps["log_mean"] if maps else 0.0)) / (maps["log_std"] if maps else 1.0)
    if maps is not None and (~warm).any():
        full[~warm] = popularity
    return {"n_items": n_items, "factors": factors, "popularity": full.astype(np.float32),
            "maps": maps, "lacked": lacked}


def _mapped(maps, emb):
    """The text-predicted popularity (z-scored) and factors of items with embeddings ``emb``."""
    out = emb @ maps["coef"]
    popularity = (out[:, 0] / maps["log_std"]).astype(np.float32)
    mapped, start = {}, 1
    for name, dims in maps["dims"].items():
        mapped[name] = out[:, start:start + dims].astype(np.float32)
        start += dims
    return popularity, mapped


def factor_scale(name, member, attr):
    """The power of two that brings the largest magnitude of ``member.<attr>`` into [0.5, 1).

    The blend z-scores a factor member's scores per user, which no common
    rescaling of its user or item factors changes. Multiplying by a power of
    two is exact, so factors of the usual size blend as they are, while
    factors of any size (1e-8 or 1e25, float32 or float64) reach the float32
    products in the range where these neither overflow nor lose precision.
    Raises when the factors hold NaN or infinite values (min and max
    propagate both, with no temporary array and no overflow).
    """
    values = np.asarray(getattr(member, attr))
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(
            f"HybridRecommender: member {name!r} ({type(member).__name__}) has NaN or "
            f"infinite values in {attr} after fit; the blend multiplies them. Check its "
            "parameters (e.g. a smaller learning rate or more regularization).")
    largest = max(abs(low), abs(high))
    if largest == 0:
        return 1.0
    return float(np.ldexp(1.0, int(np.clip(-np.frexp(largest)[1], -1000, 1000))))


def scaled(values, scale, block=65536):
    """``values * scale`` as float32, computed in float64 ``block`` rows at a time."""
    values = np.asarray(values)
    if scale == 1.0:
        return values.astype(np.float32, copy=False)
    out = np.empty(values.shape, dtype=np.float32)
    for start in range(0, len(values), block):
        out[start:start + block] = values[start:start + block] * np.float64(scale)
    return out


def _fit_one(model, data, data_hash):
    """``model`` fitted on ``data`` (memoized, shared read-only), as this fit's own copy."""
    key = _memo.memo_key(model, data_hash)
    fitted = _memo.memoized(key, lambda: clone(model).fit(rows_for(model, data)), shared=True)
    return _memo.own_copy(fitted), key


def fit_members(text, members, data, stage):
    """Fit the text model and the members on ``data``; the ``Fitted`` record.

    ``stage(name)`` announces each fit (progress). Each member takes the
    checked rows as they are: X is validated once.
    """
    import joblib

    data_hash = joblib.hash((data.user_id, data.item_id, data.weight, data.timestamp, data.order))
    stage("text model")
    text, text_key = _fit_one(text, data, data_hash)
    if not hasattr(text, "item_embeddings_") or not hasattr(text, "user_embeddings_"):
        raise ValueError(
            f"HybridRecommender: the text model ({type(text).__name__}) has no "
            "item_embeddings_ or user_embeddings_ after fit; text must be a "
            "ZeroShotRecommender (or expose those embeddings). Collaborative "
            "recommenders go in members.")
    fitted, keys, user_scales = {}, [text_key], {}
    for name, member in members:
        stage(f"member {name!r}")
        fitted[name], key = _fit_one(member, data, data_hash)
        keys.append(key)
        if has_factors(fitted[name]):
            user_scales[name] = factor_scale(name, fitted[name], "user_factors_")
        cols = positions(text.items_, fitted[name].items_)
        if (cols < 0).any():
            raise ValueError(
                f"HybridRecommender: member {name!r} knows items the text model has no "
                "text for; give every item a text in item_texts.")
    # the item side is stored by member name: the names are part of the key
    key = None if None in keys else ("item side", keys[0],
                                     *zip((name for name, _ in members), keys[1:]))
    side = _memo.memoized(key, lambda: _item_side(text, fitted), shared=True)
    rows = positions(text.users_, data.user_id)
    cols = positions(text.items_, data.item_id)
    shape = (len(text.users_), len(text.items_))
    recent = {}
    if side["factors"]:
        history = history_matrix(data, RECENT_HALF_LIFE, rows, cols, shape)
        recent = {name: np.asarray(history @ (np.where(side["lacked"][name][:, None], 0, f)
                                              if side["lacked"][name].any() else f),
                                   dtype=np.float32)
                  for name, f in side["factors"].items()}
    catalog = pd.Index(text.items_)

    def columns(items):  # None when the member's items are the whole catalog, in order
        found = catalog.get_indexer(items)
        return None if np.array_equal(found, np.arange(len(catalog))) else found

    return Fitted(text, fitted, side["n_items"], text.n_user_interactions_,
                  {name: columns(m.items_) for name, m in fitted.items()}, side["factors"],
                  recent, side["popularity"], side["maps"], key, text_key, user_scales,
                  stamps_of(text, fitted))


def stamps_of(text, members):
    """``Fitted.stamps``: each fitted model's ``user_items_`` (None without one)."""
    return {name: getattr(model, "user_items_", None)
            for name, model in [("text", text), *members.items()]}
