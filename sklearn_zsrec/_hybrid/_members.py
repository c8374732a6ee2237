"""The hybrid's members: checked, fitted (once per data, see ``_memo``), and
what the blend reads of them through their public attributes."""

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from .._base import BaseRecommender
from .._contract import check_factor_scores
from .._ids import _other_type
from .._scores import _put_columns
from .._history import history_matrix
from .._interactions import Interactions, object_array
from .._interactions import positions as exact_positions
from .._model_files import model_files_gone
from .._progress import caller_stacklevel, one_id_warning
from . import _memo
from ._checks import _dropped, default_members
from ._item_side import factor_scale, has_factors, item_side, scaled, text_mapped

# the recency half-life, in interactions, of the recency-weighted factor
# profile of a member with factors (its "<name>_recent" terms): the next
# interaction is often close to the last few. The item-kNN and next-item
# members have their own ``half_life``.
RECENT_HALF_LIFE = 2.0


def visual_block(text, members, random_state=None):
    """The hybrid's HTML diagram: the text model and each member side by side.

    As scikit-learn draws ``VotingClassifier``: one box per ``name: class``
    (a dropped member as ``"drop"``); ``members=None`` draws the default
    members, as ``fit`` makes them.
    """
    from sklearn.utils._repr_html.estimator import _VisualBlock  # (scikit-learn >= 1.7)

    pairs = [("text", text), *(default_members(random_state) if members is None
                               else members if isinstance(members, list) else [])]
    pairs = [pair for pair in pairs if isinstance(pair, tuple) and len(pair) == 2]
    # a class (not an instance: fit says so) drawn as its name, as "drop" is
    # (scikit-learn's drawing of a class raised a TypeError)
    pairs = [(name, f"{given.__name__} (a class)" if isinstance(given, type) else given)
             for name, given in pairs]
    names = [f"{name}: {member}" if isinstance(member, str) else  # "drop" too
             f"{name}: {type(member).__name__}" for name, member in pairs]
    return _VisualBlock("parallel", [member for _, member in pairs], names=names)


def dropped_names(members):
    """The names of the members set to ``"drop"``."""
    return [name for name, member in members or [] if _dropped(member)]


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
        popularity, mapped = (text_mapped(self.maps, emb) if self.maps is not None
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
        z-score of 0 (``Blend``), as a member with factors gives them (its
        user-factor terms; a user's recency profile still counts). Scores
        of another type are centred and scaled per user before the float32
        cast (``_unit_rows``: ``1e9 + count`` and ``exp(10 * x)`` keep their
        ranking).
        """
        member, cols = self.members[name], self.member_cols[name]
        mine = self.member_rows(name, users, rows) >= 0
        if not mine.any():
            return np.zeros((len(users), len(self.n_items)), dtype=np.float32)
        with one_id_warning(checked=True):  # the hybrid checked (and warned about) them
            scores = member.score_items(users[mine] if not mine.all() else users)
        if sp.issparse(scores):
            raise ValueError(
                f"HybridRecommender: member {name!r} ({type(member).__name__}) returned a "
                f"sparse matrix from score_items; return a dense array (e.g. .toarray()): "
                "every item is scored.")
        scores = np.asarray(scores)
        shape = (int(mine.sum()), len(member.items_))
        if scores.shape != shape:
            raise ValueError(
                f"HybridRecommender: member {name!r} ({type(member).__name__}) returned "
                f"scores of shape {scores.shape} from score_items for {shape[0]} users; "
                f"expected {shape}, one row per user and one column per item of its "
                "items_, in that order.")
        if scores.dtype != np.float32:  # centred and scaled in its own precision first
            scores = _unit_rows(scores)
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        if cols is None and mine.all():
            return scores
        out = np.zeros((len(users), len(self.n_items)), dtype=np.float32)
        if cols is None:
            out[mine] = scores
            return out
        # the items the member lacks: its mean over the items it has with
        # interactions, over which the blend standardises (a z-score of 0)
        warm = self.n_items[cols] > 0
        mean = (scores[:, warm] if warm.any() and not warm.all() else scores).mean(
            axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
        part = np.repeat(mean, len(self.n_items), axis=1)
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


def _unit_rows(scores):
    """Each row centred, in float64, and scaled by a power of two to a largest magnitude < 1.

    The blend's z-score per user changes with neither, so a member's scores
    of any size keep their ranking in float32 (``1e9 + count`` and
    ``exp(10 * x)`` up to 1e70 were rounded together, or overflowed); ints
    are first taken from each row's smallest, exactly (nanosecond times a
    hundred apart tied in float64).
    """
    scores = np.asarray(scores)
    if scores.dtype.kind in "iu" and scores.size:  # ints past 2**53 (nanoseconds): exactly
        low = scores.min(axis=1, keepdims=True)
        span = scores.max(axis=1, keepdims=True).astype(np.float64) - low.astype(np.float64)
        if span.max() < 2.0**62:  # the differences fit int64
            scores = scores.astype(np.int64) - low.astype(np.int64) if scores.dtype.kind == "i" \
                else (scores - low).astype(np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores - scores.mean(axis=1, keepdims=True)
    largest = np.abs(scores).max(axis=1, initial=0.0, keepdims=True)
    with np.errstate(invalid="ignore"):  # NaN and inf rows: raised by the blend as they are
        exponent = np.where(np.isfinite(largest) & (largest > 0), np.frexp(largest)[1], 0)
    return np.ldexp(scores, -exponent)


def _fit_one(model, data, data_hash):
    """``model`` fitted on ``data`` (memoized, shared read-only), as this fit's own copy."""
    def fit():  # the fitted copy, whatever fit returns (as scikit-learn's ensembles)
        fitted = clone(model)
        fitted.fit(rows_for(model, data))
        return fitted

    key = _memo.memo_key(model, data_hash)
    return _memo.own_copy(_memo.memoized(key, fit, shared=True, usable=_files_kept)), key


def _files_kept(fitted):
    """Whether ``fitted``'s encoder (``encoder_``, if any) can still load its model.

    A fine-tuned encoder's directory deleted to free it (as its docs say):
    served from the memo, the fit failed on the missing path, and tuned
    again only after ``clear_cache``.
    """
    path = getattr(getattr(fitted, "encoder_", None), "model_path_", None)
    return not isinstance(path, str) or not model_files_gone(path)


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
        _check_fitted(name, fitted[name], text)
        if has_factors(fitted[name]):
            check_factor_scores(fitted[name], f"HybridRecommender: member {name!r}", "the blend "
                                "reads its factors: rename them to blend its score_items instead.")
            user_scales[name] = factor_scale(name, fitted[name], "user_factors_")
    # the item side is stored by member name: the names are part of the key
    key = None if None in keys else ("item side", keys[0],
                                     *zip((name for name, _ in members), keys[1:]))
    side = _memo.memoized(key, lambda: item_side(text, fitted), shared=True)
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


def _check_fitted(name, member, text):
    """Raise naming the fix unless fitted ``member`` has ``users_`` and ``items_`` the hybrid can use.

    Every item of the member must be in the text model's catalog, and some
    of its users among the text model's: ids of another type ('1' for 1)
    matched none, and the member gave every user a z-score of 0, silently.
    """
    what = f"HybridRecommender: member {name!r} ({type(member).__name__})"
    for attr in ("users_", "items_"):
        if not hasattr(member, attr):
            raise ValueError(
                f"{what} has no {attr} after fit; a member keeps the ids it scores in "
                "users_ and items_ (score_items' rows and columns), as every "
                "BaseRecommender does.")
        ids = _ids_of(getattr(member, attr))  # repeated: which copy counts is undefined
        if pd.Index(ids).duplicated().any():
            raise ValueError(f"{what} repeats ids in its {attr} (e.g. "
                             f"{ids[pd.Index(ids).duplicated()][:5].tolist()}); each id must "
                             "name one row (users_) or column (items_) of its score_items.")
    items = _ids_of(member.items_)
    lacking = items[positions(text.items_, items) < 0]
    if len(lacking):
        hint = _other_type(lacking, np.asarray(text.items_), f"member {name!r}",
                           holder="the text model holds")
        raise ValueError(
            f"{what} knows {len(lacking)} items the text model has no text for (e.g. "
            f"{lacking[:5].tolist()}){hint}; give every item a text in item_texts.")
    users = _ids_of(member.users_)
    if not len(users):  # e.g. a member for heavy users, on data that has none
        warnings.warn(
            f"{what} knows no user after fit (its users_ is empty): it adds nothing to "
            "the blend.", UserWarning, stacklevel=caller_stacklevel())
    elif not (positions(text.users_, users) >= 0).any():
        hint = _other_type(users, np.asarray(text.users_), f"member {name!r}",
                           holder="X holds")
        raise ValueError(
            f"{what} knows none of the users of X (e.g. {users[:5].tolist()}){hint}; "
            "the hybrid blends a member's scores of the users in its users_, so it "
            "would add nothing.")


def _ids_of(ids):
    """A member's ``users_`` or ``items_`` as a 1-D array (a list of tuple ids stays 1-D)."""
    return ids if isinstance(ids, np.ndarray) else object_array(list(ids))


def stamps_of(text, members):
    """``Fitted.stamps``: each fitted model's ``user_items_`` (None without one)."""
    return {name: getattr(model, "user_items_", None)
            for name, model in [("text", text), *members.items()]}
