"""What a recommender's ``_fit`` must leave and its ``_scores`` return, checked.

The package's own recommenders meet it by construction; a recommender of
one's own (a ``BaseRecommender`` subclass, see the user guide) is where a
slip would otherwise give a silent wrong answer or a crash deep in numpy.
"""

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._progress import caller_stacklevel


def _warn_if_rounded_together(scores, name, max_entries=1 << 18):
    """Warn when ``scores`` (float64, or ints past float32's exact range) lose their
    ranking in the float32 cast; whether it warned.

    Exact, on the first users of the chunk (at most 64, and ``max_entries``
    scores: one sort of them): different scores of a user that the cast
    makes equal (``1e9 + count``, nanosecond times) are a ranking lost;
    flagged when a tenth of a user's distinct scores, or more, merge with
    another (float64 near-ties closer than float32's precision, a few in a
    large catalog, are not worth a warning).
    """
    part = scores[:max(1, min(64, max_entries // max(scores.shape[1], 1)))]
    ordered = np.sort(part, axis=1)
    cast = ordered.astype(np.float32)
    distinct = ordered[:, 1:] != ordered[:, :-1]  # ints: exactly
    if ordered.dtype.kind == "f":  # beyond float64's own rounding (0.1 + 0.2 and 0.3: one)
        with np.errstate(over="ignore", invalid="ignore"):
            gap = ordered[:, 1:] - ordered[:, :-1]
            distinct &= gap > 1e-12 * np.maximum(np.abs(ordered[:, 1:]), np.abs(ordered[:, :-1]))
    pairs = (cast[:, 1:] == cast[:, :-1]) & distinct
    merges = pairs.sum(axis=1)
    merged = (merges > 0) & (merges >= 0.1 * distinct.sum(axis=1))
    if merged.any():
        # pairs merged beyond float32's range (likelihoods of 1e-46, 1e300:
        # flushed to 0 or inf), where subtracting a mean only makes it worse
        info = np.finfo(np.float32)
        size = np.maximum(np.abs(ordered[:, 1:]), np.abs(ordered[:, :-1]))[pairs]
        beyond = size[(size < info.tiny) | (size > info.max)]
        if ordered.dtype.kind == "f" and beyond.size:
            why = (f"they reach beyond float32's range (e.g. |score| {beyond[0]:.3g}), "
                   "which loses their ranking. Rescale them in float64 in _scores (divide "
                   "each user's scores by its largest absolute score), or return their logs.")
        else:
            why = ("their values are large for their differences (e.g. 1e9 + count), which "
                   "loses their ranking. Subtract each user's mean (or a constant) in "
                   "float64 in _scores.")
        warnings.warn(
            f"{name}: _scores returned {scores.dtype} scores that float32 (the dtype of "
            f"scores) rounds together for {int(merged.sum())} of the {len(part)} users "
            f"checked: {why}", UserWarning, stacklevel=caller_stacklevel())
    return bool(merged.any())


def _ours(method):
    """Whether ``method`` is the package's code (not a recommender of one's own's)."""
    return (getattr(method, "__module__", None) or "").startswith("sklearn_zsrec.")


def check_indexed(model):
    """Raise unless ``_fit`` left ``users_``, ``items_`` and a matching ``user_items_``.

    What ``_index`` sets: a ``_fit`` of one's own that forgot it fitted
    "successfully" and then was "not fitted yet"; one that narrowed or
    reordered ``items_`` after it had seen items masked in the wrong columns;
    one that dropped entries of its copy of ``user_items_`` (a threshold on
    the weights) had those training items recommended.
    """
    name = type(model).__name__
    indexed = model.__dict__.pop("_indexed", None)  # (users_, items_, nnz) as _index set them
    missing = [a for a in ("users_", "items_", "user_items_") if not hasattr(model, a)]
    if missing:
        raise ValueError(f"{name}: _fit set no {', '.join(missing)}; call "
                         "self._index(data) in _fit (it sets them from X).")
    shape = (len(model.users_), len(model.items_))
    moved = indexed is not None and any(  # the same ids, in another order
        ids is not old and len(ids) == len(old) and not (pd.Index(ids) == pd.Index(old)).all()
        for ids, old in zip((model.users_, model.items_), indexed[:2]))
    if model.user_items_.shape != shape or moved:
        raise ValueError(
            f"{name}: after _fit, user_items_ has shape {model.user_items_.shape} and "
            f"users_ and items_ number {shape}{', reordered' if moved else ''}; keep "
            "users_ and items_ as self._index(data) sets them, in its order (score an "
            "item to leave out -inf in _scores).")
    nnz = getattr(model.user_items_, "nnz", None)
    if indexed is not None and nnz is not None and nnz != indexed[2]:
        raise ValueError(
            f"{name}: _fit changed which entries user_items_ holds ({indexed[2]} set by "
            f"self._index(data), {nnz} after _fit); recommend leaves out each user's "
            "entries as their training items (weight-0 ones too). Change their values "
            "only (self.user_items_.data), or keep a matrix of your own in another "
            "attribute.")


def checked_scores(model, raw, n_users):
    """``_scores``' output as an array of shape (n_users, n_items) of real numbers.

    A recommender of one's own whose ``_scores`` returned another shape
    had its columns ranked as the first items of ``items_`` (one short:
    the last item was never recommended), or failed deep in numpy.
    """
    name = type(model).__name__
    if sp.issparse(raw):
        raise ValueError(f"{name}: _scores returned a sparse matrix; return a dense array "
                         "(e.g. .toarray()): every item is scored.")
    raw = np.asarray(raw)
    if raw.shape != (n_users, len(model.items_)):
        raise ValueError(
            f"{name}: _scores returned scores of shape {raw.shape} for {n_users} users; "
            f"expected {(n_users, len(model.items_))}, one row per user of rows and one "
            "column per item of items_, in that order.")
    numbers = raw.dtype.kind in "biuf"
    if raw.dtype.kind == "O":  # e.g. Python floats: numbers as any other
        try:
            raw, numbers = raw.astype(np.float64), True
        except (TypeError, ValueError):
            pass
    if not numbers:
        raise ValueError(f"{name}: _scores returned scores of dtype {raw.dtype}; return real "
                         "numbers (float32, the dtype of scores, or any int or float).")
    return raw


def _checked_rows(model, n=3):
    """Rows of ``users_`` (at most ``n``: first, middle, last) to check scores on.

    Users with interactions where the model counts them (a model that
    ranks by interactions refuses the others).
    """
    counts = getattr(model, "n_user_interactions_", None)
    rows = np.arange(len(model.users_))
    if counts is not None and np.asarray(counts).any():
        rows = np.flatnonzero(np.asarray(counts))
    return np.unique(rows[np.linspace(0, len(rows) - 1, min(n, len(rows))).astype(int)])


def check_factor_scores(model, what, fix):
    """Raise unless a model of one's own scores some of its users by its factors.

    Approximate search and the hybrid's blend read a model with
    ``user_factors_`` and ``item_factors_`` as scoring
    ``user_factors_ @ item_factors_.T``: one of one's own with more in its
    scores (an item bias) lost it, silently. Checked on three users (the
    first, middle and last of those with interactions), so that a term that is 0 for one
    user is still seen. The package's own factor models are that product by
    construction (not checked). ``what`` names the model, ``fix`` says what
    to do.
    """
    scores = getattr(type(model), "_scores", None) or type(model).score_items
    if _ours(scores) or not len(model.users_):
        return
    rows = _checked_rows(model)
    users = model.users_  # as _index set it (check_indexed): an array, tuples kept whole
    users = users[rows] if isinstance(users, (np.ndarray, pd.Index)) else [users[r] for r in rows]
    exact = np.asarray(model.score_items(users), dtype=np.float64)
    product = (np.asarray(model.user_factors_, np.float64)[rows]
               @ np.asarray(model.item_factors_, np.float64).T)
    for user, got, want in zip(users, exact, product):
        tolerance = 1e-4 * max(np.abs(want).max(initial=0.0), np.abs(got).max(initial=0.0))
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=tolerance):
            gap = np.abs(got - want).max() if got.shape == want.shape else np.inf
            raise ValueError(
                f"{what} has user_factors_ and item_factors_, but its scores differ from "
                f"user_factors_ @ item_factors_.T (user {user!r}: up to {gap:.3g}); {fix}")
