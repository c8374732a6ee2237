"""The hybrid's members as given: their names and kinds checked, naming the fix,
before anything is fitted; the default members."""

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from .._base import unknown_items_error
from .._interactions import positions as exact_positions
from .._texts import check_id_texts

# names the blend gives its own terms, and the suffixes of a member's terms:
# a member's name may not be one of them, nor end with a suffix
RESERVED_NAMES = ("text", "popularity", "new_item")
RESERVED_SUFFIXES = ("_gated", "_short", "_recent", "_new")


def default_members(random_state=None):
    """The members ``HybridRecommender(members=None)`` blends, as a new list.

    ``[("als", ALSRecommender(random_state=random_state)), ("knn",
    ItemKNNRecommender()), ("next", NextItemRecommender())]``: matrix
    factorisation, item-item co-occurrence and what followed a user's last
    items in other users' histories (see docs/blend.md for what each adds on
    MovieLens-100K). ``HybridRecommender`` passes its own ``random_state``, so
    that an int makes its fit repeatable.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        The ALS member's ``random_state``.

    Returns
    -------
    members : list of (str, recommender)

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


def _refuse_class(value, what, example, note=""):
    """Raise naming the fix when ``value`` is a class (the parentheses forgotten);
    ``example`` the instance to pass, with ``{}`` for the class's name."""
    if isinstance(value, type):
        cls = getattr(value, "__name__")  # the class's name
        raise ValueError(f"HybridRecommender: {what} is the class {cls}{note}; pass an "
                         f"instance, e.g. {example.format(cls)}.")


def check_text(text, data):
    """Raise naming the fix when ``text`` is a class, not a fitted-to-be instance,
    or when X (``data``) has items its ``item_texts`` parameter has no text for.

    The latter is the error the text model's fit gives, counted on all of X:
    a learned blend fits it first on its holdout, part of X, where the count
    (and the examples) would follow the holdout's draws.
    """
    _refuse_class(text, "text", "{}(TextEncoder(), item_texts=...)")
    _refuse_frozen(text, "text", "{}(TextEncoder(), item_texts=...)")
    texts = text.get_params(deep=False).get("item_texts") if hasattr(text, "get_params") else None
    if texts is not None:
        items = check_id_texts(texts, "item_texts", type(text).__name__).index.to_numpy()
        unknown = pd.unique(data.item_id[exact_positions(pd.Index(items), data.item_id) < 0])
        if len(unknown):
            raise unknown_items_error(type(text).__name__, unknown, items)


def check_classes(members):
    """True, or raise naming the member given as a class (the parentheses forgotten):
    before ``get_params(deep=True)`` (a search's ``set_params``) calls it unbound."""
    for pair in members if isinstance(members, list) else ():
        if isinstance(pair, tuple) and len(pair) == 2:
            _refuse_class(pair[1], f"member {pair[0]!r}", f"({pair[0]!r}, {{}}())",
                          ", not a recommender")
    return True


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
                f"knn__n_neighbors), not one of {list(RESERVED_NAMES)} (the blend's "
                f"own terms) and not ending with {list(RESERVED_SUFFIXES)} (the suffixes "
                "of a member's terms).")
        if _dropped(member):  # left out, as in scikit-learn's ensembles
            continue
        check_classes([pair])
        _check_member(name, member)
    names = [name for name, _ in members]
    if len(set(names)) < len(names):
        raise ValueError(f"HybridRecommender: member names must be unique; got {names}.")
    kept = [(name, member) for name, member in members if not _dropped(member)]
    if not kept:
        raise ValueError(f"HybridRecommender: every member is 'drop' ({names}); keep at "
                         f"least one. {fix}")
    return kept


def _check_member(name, member):
    """Raise naming the fix when ``member`` lacks what the hybrid calls, or cannot be
    refitted (scikit-learn's ``FrozenEstimator``: its clone is itself, fitted)."""
    missing = [m for m in ("fit", "score_items", "get_params") if not hasattr(member, m)]
    if missing:
        named = " or ".join([", ".join(missing[:-1]), missing[-1]] if missing[1:] else missing)
        raise ValueError(
            f"HybridRecommender: member {name!r} ({type(member).__name__}) has no "
            f"{named}; a member is a recommender (a BaseRecommender "
            "subclass, or any scikit-learn estimator with fit, score_items, users_ and "
            "items_), or 'drop' to leave it out (e.g. set_params(knn='drop')).")
    _refuse_frozen(member, f"member {name!r}", f"({name!r}, {{}}())")


def _refuse_frozen(model, what, example):
    """Raise naming the fix when ``model`` cannot be refitted: its own
    ``__sklearn_clone__`` returns itself, fitted (scikit-learn's ``FrozenEstimator``);
    ``example`` the model to pass, with ``{}`` for the wrapped model's class."""
    own = getattr(type(model), "__sklearn_clone__", None)
    if own is not None and own is not BaseEstimator.__sklearn_clone__ and clone(model) is model:
        inner = type(getattr(model, "estimator", model)).__name__
        raise ValueError(
            f"HybridRecommender: {what} ({type(model).__name__}) cannot be refitted (its "
            "clone is itself, as FrozenEstimator's is): the hybrid fits its models on X "
            "(and first on a holdout of X to learn the blend, where a model fitted on all "
            "of X would have seen the held-out rows). Pass the model unfitted, e.g. "
            f"{example.format(inner)}.")


def _dropped(member):
    return isinstance(member, str) and member == "drop"
