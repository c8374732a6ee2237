"""Why the learned blend fell back to the fixed one: the warning ``fit`` gives."""

import warnings

import pandas as pd

from .._progress import caller_stacklevel
from ._learn import MIN_HOLDOUT, MIN_POSITIVES, NEW_ITEM_FRACTION


def warn_tiny(data, out):
    """Warn that the holdout ``out`` of ``data`` was too small for a learned
    blend, or could not judge some of its members."""
    n_users, n_items = len(pd.unique(data.user_id)), len(pd.unique(data.item_id))
    n_rows = int(data.interacted.sum())
    if out.untuned:
        warnings.warn(
            "HybridRecommender: blend='learned' could not fine-tune the text model "
            "(text__fine_tune) on its holdouts: refitted without the latest interaction "
            "of each user, or of half the users, no user kept two distinct items (nor "
            "a text beside an item) to make the training pairs of ContrastiveFineTuning "
            f"({n_users} users, {out.held} of them held out, {n_rows} interactions). Fell "
            "back to the fixed blend with the default weights; the final fit tunes the "
            "encoder on all the rows. Pass blend='fixed' to use that blend without this "
            "warning, or more users with 3+ interactions.",
            UserWarning, stacklevel=caller_stacklevel())
        return
    if out.constant:
        warnings.warn(
            f"HybridRecommender: blend='learned' cannot judge the member(s) "
            f"{list(out.constant)}: refitted without the latest interaction of each user, "
            "and of half the users (the holdouts the blend is learnt on), they scored "
            f"every item alike for all {out.usable} held-out users, so their weights would be "
            "learnt 0 whatever "
            "they are worth with the full histories (e.g. users with 2 interactions keep "
            "1: no co-occurrence or transition is left). Fell back to the fixed blend "
            "with the default weights. Pass blend='fixed' to use that blend without this "
            "warning, or leave those members out ('drop').",
            UserWarning, stacklevel=caller_stacklevel())
        return
    warnings.warn(
        f"HybridRecommender: blend='learned' found {out.usable} usable held-out "
        f"interactions in X ({n_rows} interactions, {n_users} users, "
        f"{out.held} of them with 2+ interactions, {n_items} items) and needs "
        f"at least {MIN_HOLDOUT} ({MIN_POSITIVES} per history-length bin for a blend "
        "of its own): fit holds out each user's latest interaction, usable when the "
        f"user keeps an earlier one, the item is not among the {NEW_ITEM_FRACTION:.0%} "
        "of items hidden while learning, and the user has unseen items to rank it "
        "against. Fell back to the fixed blend with the default weights. Pass more "
        "users with 2+ interactions, or blend='fixed' to use that blend without this "
        "warning.", UserWarning, stacklevel=caller_stacklevel())
