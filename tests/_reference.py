"""Plain reference computations that the fast paths are checked against."""

import numpy as np


def plain_hybrid_scores(model, rows, users):
    """The blend as first written: float64 weights, copies, no in-place work."""

    def standardize(scores, mask=None):
        part = scores if mask is None else scores[:, mask]
        mean = part.mean(axis=1, keepdims=True)
        std = part.std(axis=1, keepdims=True)
        return (scores - mean) / np.maximum(std, 1e-12)

    z_text = standardize(model.text_._scores(model.text_._rows(users, "user"), users))
    cf_rows = model.cf_._rows(users, "user")
    warm = cf_rows >= 0
    blended = z_text
    if warm.any():
        cf = np.zeros((warm.sum(), len(model.items_)), dtype=np.float32)
        cf[:, model._cf_cols] = model.cf_._scores(cf_rows[warm], users[warm])
        in_cf = np.zeros(len(model.items_), dtype=bool)
        in_cf[model._cf_cols] = True
        z_cf = standardize(cf, in_cf)
        n_u = model.n_user_interactions_[rows[warm]][:, None]
        n_i = model.n_item_interactions_[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            w = (n_u / (n_u + model.switch)) * (n_i / (n_i + model.item_switch))
        w = np.nan_to_num(w, nan=1.0)
        w[:, ~in_cf] = 0.0
        blended[warm] = w * z_cf + (1.0 - w) * z_text[warm]
    return blended
