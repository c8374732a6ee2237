"""Plain reference computations that the fast paths are checked against."""

import numpy as np
import pandas as pd


def _standardize(scores, mask=None):
    part = scores if mask is None else scores[:, mask]
    mean = part.mean(axis=1, keepdims=True)
    std = part.std(axis=1, keepdims=True)
    return (scores - mean) / np.maximum(std, 1e-12)


def plain_terms(model, rows, users):
    """HybridRecommender's terms written plainly, from the members' public outputs.

    Float64, a term at a time, as docs/blend.md and ``_hybrid/_blend.py``
    define them: the members' ``score_items``, ``user_factors_`` and the
    text model's ``score_items``. What the hybrid derives itself (the new
    items' text-mapped factors and popularity, the users' recency profiles)
    is read from its fitted record.
    """
    fitted = model._blend.fitted
    warm = fitted.n_items > 0
    cold = (~warm).astype(np.float64)
    mask = None if warm.all() else warm
    n_u = fitted.n_users[rows][:, None].astype(np.float64)
    if model._blend.longest is not None:  # no longer than the learned blend's held-out histories
        n_u = np.minimum(n_u, max(model._blend.longest, 1))
    n_i = fitted.n_items[None, :].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.nan_to_num((n_u / (n_u + model.switch)) * (n_i / (n_i + model.item_switch)), nan=1.0)
    w[:, ~warm] = 0.0
    short = 1 / (1 + np.log(np.maximum(n_u, 1)))
    # over the items with interactions, unless their texts are one embedding
    embeddings = model.text_.item_embeddings_[warm]
    varies = len(embeddings) and np.ptp(embeddings, axis=0).any()
    z_text = _standardize(model.text_.score_items(users).astype(np.float64),
                          mask if varies else None)
    n = len(rows)
    terms = {"text_gated": (1 - w) * z_text, "text_new": z_text * cold,
             "popularity": np.tile(fitted.popularity * warm, (n, 1)),
             "popularity_new": np.tile(fitted.popularity * cold, (n, 1)),
             "new_item": np.tile(cold, (n, 1))}
    catalog = pd.Index(model.items_)
    for name, member in model.named_members_.items():
        if name in fitted.factors:  # a member with factors: new items' factors mapped from text
            V = fitted.factors[name].astype(np.float64)
            x = member.user_factors_[pd.Index(member.users_).get_indexer(users)]
            z = _standardize(x.astype(np.float64) @ V.T, mask)
            z_recent = _standardize(fitted.recent[name][rows].astype(np.float64) @ V.T, mask)
            terms |= {name: z * warm, name + "_gated": w * z, name + "_short": z * warm * short,
                      name + "_recent": z_recent * warm, name + "_recent_gated": w * z_recent,
                      name + "_new": z * cold, name + "_recent_new": z_recent * cold}
        else:  # its own scores, 0 on items it does not know
            raw = np.zeros((n, len(catalog)))
            raw[:, catalog.get_indexer(member.items_)] = member.score_items(users)
            terms[name] = _standardize(raw, mask) * warm
    assert set(terms) == set(model.terms_)
    return terms


def plain_hybrid_scores(model, rows, users):
    """HybridRecommender's blend written plainly (see ``plain_terms``).

    Users not seen in ``fit`` are left to the model's own new-user path
    (compared separately).
    """
    users = np.asarray(users)
    out = np.empty((len(users), len(model.items_)))
    known = rows >= 0
    if known.any():
        r = rows[known]
        terms = plain_terms(model, r, users[known])
        bins = np.searchsorted([3, 10, 30], model.n_user_interactions_[r])  # history lengths
        coef = model.coef_[bins]
        out[known] = sum(coef[:, [k]] * terms[name] for k, name in enumerate(model.terms_))
    if (~known).any():
        out[~known] = model._new_users.scores(users[~known])
    return out
