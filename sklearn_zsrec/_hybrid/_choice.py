"""Choosing each history-length bin's blend among candidates by held-out NDCG@10.

The candidates are the blends fitted on the holdout and the fixed sums of
terms of ``fixed_candidates``; ``Learner.select`` (``_learn.py``) scores them
with ``tied_gain`` and keeps one per bin with ``clear_winner``.
"""

import numpy as np

# a bin departs from the pooled choice only for a candidate this many standard
# errors better than it on the bin's own held-out interactions
CLEAR_WIN_SE = 2.0
GLOBAL_FIT = 1  # the index of "global fit" among the candidates


def one_se_choice(gains, simplicity):
    """The simplest candidate within one standard error of the best.

    ``gains`` has one row per candidate and one column per held-out
    interaction. A candidate is as good as the best when its mean is within
    one standard error of the paired per-interaction difference to the best
    (Breiman's one-standard-error rule). Among those, the simplest (lowest
    ``simplicity``) wins, and among equally simple ones the best mean; so a
    noisy holdout does not pick a 20-term blend over one term by chance.
    """
    means = gains.mean(axis=1)
    best = int(np.argmax(means))
    n = gains.shape[1]
    diff = gains[best] - gains
    se = diff.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.full(len(gains), np.inf)
    close = means[best] - means <= se
    close[best] = True
    order = np.lexsort((-means, simplicity))
    return int(next(c for c in order if close[c]))


def clear_winner(gains, default, simplicity):
    """``one_se_choice(gains)`` if it beats the candidate ``default`` clearly, else ``default``.

    Clearly: its mean gain exceeds the default's by more than
    ``CLEAR_WIN_SE`` standard errors of their paired difference. The
    default rests on the most data (over all bins, the global fit; for a
    bin, that pooled choice): a small lead on a few hundred held-out
    interactions is mostly which users and items the holdout drew, and
    following it made the blend change with ``random_state`` (issue 17).
    """
    own = one_se_choice(gains, simplicity)
    if own == default or gains.shape[1] < 2:
        return default
    diff = gains[own] - gains[default]
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    return own if diff.mean() > CLEAR_WIN_SE * se else default


def tied_gain(score, target, cum_discount, k):
    """NDCG@k gain of one relevant item per row, ties broken at random (expected).

    The relevant item has ``g`` items scored above it and ``t`` scored equal
    (itself included): each of positions ``g .. g + t - 1`` is equally likely.
    Counting ties as wins would reward a term that scores everything alike.
    """
    above = (score > target).sum(axis=1)
    tied = (score == target).sum(axis=1)
    low, high = np.minimum(above, k), np.minimum(above + tied, k)
    return (cum_discount[high] - cum_discount[low]) / np.maximum(tied, 1)


def fixed_candidates(blend):
    """The fixed blends the learned one is judged against: (names, coefficients, simplicity).

    Each member's main terms alone, their sum, popularity alone and with
    text, and the sum of the members without factors: sums fit nothing,
    only the choice among them is made on the holdout; popularity cannot
    overfit.
    """
    f, unit = blend.fitted, dict(zip(blend.names, np.eye(len(blend.names), dtype=np.float32)))
    singles = [n for name in f.factor_names for n in (name, name + "_recent")] + f.score_names
    out = [(name, unit[name], 1) for name in singles]
    if len(singles) > 1:
        out.append((" + ".join(singles), sum(unit[n] for n in singles), 1))
    out += [("popularity", unit["popularity"], 0),
            ("popularity + text", unit["popularity"] + unit["text_gated"], 1)]
    if f.factor_names and len(f.score_names) > 1:
        out.append((" + ".join(f.score_names), sum(unit[n] for n in f.score_names), 1))
    return out
