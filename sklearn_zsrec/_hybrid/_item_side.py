"""The item side of the hybrid's fit: counts, factors and popularity of every
catalog item, those of items without interactions predicted from their text
by ridge maps (kept for items added after fit)."""

import numpy as np
import pandas as pd

from .._interactions import positions as exact_positions

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


def has_factors(member):
    """A member whose scores are ``user_factors_ @ item_factors_.T`` (e.g. ALS)."""
    return hasattr(member, "user_factors_") and hasattr(member, "item_factors_")


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


def item_side(text, members):
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
            cols = exact_positions(pd.Index(text.items_), member.items_)
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
        popularity, mapped = text_mapped(maps, emb[~warm])
        for name, f in factors.items():
            f[~warm] = mapped[name]
    full = (log_n - (maps["log_mean"] if maps else 0.0)) / (maps["log_std"] if maps else 1.0)
    if maps is not None and (~warm).any():
        full[~warm] = popularity
    return {"n_items": n_items, "factors": factors, "popularity": full.astype(np.float32),
            "maps": maps, "lacked": lacked}


def text_mapped(maps, emb):
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
