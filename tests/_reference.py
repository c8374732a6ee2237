"""Plain reference computations that the fast paths are checked against."""

import numpy as np
import pandas as pd


def _standardize(scores, mask=None):
    part = scores if mask is None else scores[:, mask]
    mean = part.mean(axis=1, keepdims=True)
    std = part.std(axis=1, keepdims=True)
    return (scores - mean) / np.maximum(std, 1e-12)


def _member_scores(model, member, matrix, users):
    """A fitted item-item member's history times its matrix, over the hybrid's catalog."""
    out = np.zeros((len(users), len(model.items_)))
    if member is None:
        return out
    rows = pd.Index(member.users_).get_indexer(users)
    cols = pd.Index(model.items_).get_indexer(member.items_)
    out[:, cols] = (member.history_[rows] @ getattr(member, matrix)).toarray()
    return out


def plain_hybrid_scores(model, rows, users):
    """HybridRecommender's blend written plainly: float64, copies, a term at a time.

    Follows the formula of the class docstring for known users; users not
    seen in ``fit`` are left to the model's own new-user path (compared
    separately), except that without user texts they get the standardised
    text score.
    """
    parts = model._parts
    users = np.asarray(users)
    out = np.empty((len(users), len(model.items_)))
    known = rows >= 0
    r, u = rows[known], users[known]
    z_text = _standardize(parts.text._scores(r, u).astype(np.float64))
    warm = parts.n_items > 0
    n_u = parts.n_users[r][:, None].astype(np.float64)
    n_i = parts.n_items[None, :].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.nan_to_num((n_u / (n_u + model.switch)) * (n_i / (n_i + model.item_switch)), nan=1.0)
    w[:, ~warm] = 0.0
    if parts.item_factors is not None:
        V = parts.item_factors.astype(np.float64)
        raw = parts.cf.user_factors_[parts.cf._rows(u, "user")].astype(np.float64) @ V.T
        recent = parts.recent_profiles[r].astype(np.float64) @ V.T
    else:  # a CF model without factors: its own scores, 0 on items it does not know
        raw = np.zeros((len(r), len(model.items_)))
        cols = parts.text._rows(parts.cf.items_, "item")
        raw[:, cols] = parts.cf._scores(parts.cf._rows(u, "user"), u)
        recent = np.zeros_like(raw)
    mask = None if warm.all() else warm
    z_cf, z_recent = _standardize(raw, mask), _standardize(recent, mask)
    knn = _member_scores(model, model.knn_, "similarity_", u)
    z_knn = _standardize(knn, mask) * warm
    z_bridge = np.zeros_like(z_knn)
    if parts.bridge is not None:
        z_bridge = _standardize(z_knn @ parts.bridge.toarray().astype(np.float64), ~warm)
        z_bridge *= ~warm
    z_next = _standardize(_member_scores(model, model.next_, "transitions_", u), mask) * warm
    cold = (~warm).astype(np.float64)
    terms = {
        "gated_cf": w * z_cf,
        "gated_recent_cf": w * z_recent,
        "gated_text": (1 - w) * z_text,
        "recent_cf": z_recent * warm,
        "popularity": np.tile(parts.popularity * warm, (len(r), 1)),
        "new_item": np.tile(cold, (len(r), 1)),
        "new_item_cf": z_cf * cold,
        "new_item_recent_cf": z_recent * cold,
        "recent_knn": z_knn,
        "new_item_popularity": np.tile(parts.popularity * cold, (len(r), 1)),
        "new_item_text": z_text * cold,
        "cf": z_cf * warm,
        "short_cf": z_cf * warm / (1 + np.log(np.maximum(n_u, 1))),
        "short_recent_knn": z_knn / (1 + np.log(np.maximum(n_u, 1))),
        "recent_next": z_next,
        "new_item_knn": z_bridge,
    }
    from sklearn_zsrec._hybrid import TERMS

    coef = model.coef_[model._bins(parts.n_users[r])]  # one blend per history-length bin
    out[known] = sum(coef[:, [k]] * terms[name] for k, name in enumerate(TERMS))
    if (~known).any():
        out[~known] = model._new_user_scores(users[~known])
    return out
