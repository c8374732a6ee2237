"""Exposure of the items without interactions: each user's top-10 holds a share of them.

The learned blend ranks new items among themselves by their own terms; how
many of them reach a user's top-10 is set by one offset per user on their
scores (``quota_offsets``), so that every user's top-10 holds the share the
holdout says they earn (``Learner.share``, times ``new_item_exposure``).
"""

import numpy as np

from ._learn import CHUNK, MIN_POSITIVES

# the new items' offset is searched in this range: z-scored terms stay far inside
OFFSET_RANGE = (-50.0, 50.0)
# users' margins closer than this (relative to their size, at least 1) get the
# same extra slot or none (``_cut``): the blend's float32 scores computed in
# batches of another size differ by up to about 1e-5
MARGIN_TOLERANCE = 1e-4


def quota_offsets(old_top, new_top, share, k, threshold=None):
    """Per-user offsets on new items' scores giving each user ``share`` of its top-``k``.

    ``old_top`` and ``new_top`` hold each user's best scores of old and of
    new items (at least ``k`` and ``k + 1`` when there are that many; -inf
    for excluded items). Every user gets ``q = floor(share * k)`` new items
    in its top-``k``, and one more where its margin (the score of its next
    new item minus that of its last old item in the top-``k``) is above
    ``threshold``. With ``threshold`` None it is set so that the fraction
    ``share * k - q`` of these users gets one more, and returned, for
    ``recommend`` to apply to any user. Each offset puts the user's last
    new item in the top-``k`` halfway between the old items around it.

    The same share for every user: a user's rate of picking new items is
    not known per user, and an offset common to all users gave most of the
    new items' slots to the users whose new-item scores run high.
    """
    if share <= 0:  # none: new items after every old one
        return np.full(len(old_top), OFFSET_RANGE[0]), np.inf if threshold is None else threshold

    def top(scores, n):  # descending, padded with -inf to n columns
        scores = -np.sort(-scores, axis=1)[:, :n]
        return np.pad(scores, ((0, 0), (0, n - scores.shape[1])), constant_values=-np.inf)

    old, new = top(old_top, k + 1), top(new_top, k + 1)
    n_old, n_new = np.isfinite(old).sum(axis=1), np.isfinite(new).sum(axis=1)
    base = min(int(np.floor(share * k + 1e-9)), k)
    users = np.arange(len(old))
    with np.errstate(invalid="ignore"):
        margin = new[:, min(base, k)] - old[:, max(k - base - 1, 0)]
    if threshold is None:
        extra = share * k - base
        threshold = np.inf if extra <= 0 or base >= k else _cut(margin, 1.0 - extra)
    quota = np.minimum(base + (margin > threshold), k)
    # as many as the user has: at most its new items, at least what old ones leave
    quota = np.minimum(np.maximum(quota, k - n_old), n_new)
    with np.errstate(invalid="ignore"):
        lower = np.where(quota > 0, old[users, np.clip(k - quota, 0, k)]
                         - new[users, np.clip(quota - 1, 0, k)], -np.inf)
        upper = np.where(quota < k, old[users, np.clip(k - quota - 1, 0, k)]
                         - new[users, np.clip(quota, 0, k)], np.inf)
    with np.errstate(invalid="ignore"):  # -inf + inf where a side is empty: not selected
        offsets = np.where(np.isfinite(lower) & np.isfinite(upper), (lower + upper) / 2,
                           np.where(np.isfinite(lower), lower + 1.0,
                                    np.where(np.isfinite(upper), upper - 1.0, 0.0)))
    return np.clip(offsets, *OFFSET_RANGE), threshold


def _cut(margin, q):
    """A threshold with about the fraction ``1 - q`` of ``margin`` above it, between two margins.

    Halfway between the ``q`` quantile (a margin of the set, "higher") and
    the next larger margin, so that no margin of the set sits on it: a
    user's margin, computed again in another batch, may differ in the last
    float32 bits, which must not move it across the threshold. For the same
    reason margins closer than ``MARGIN_TOLERANCE`` (relative to the cut's
    size, at least 1, or to the margins' size when all are smaller: a
    strongly regularised blend, ``C=1e-5``, has margins of 1e-4) count as
    one: the cut moves up to the first wider gap, so that users with
    near-equal margins get the same decision (at most a few fewer users
    above it than ``1 - q``).
    """
    valid = np.sort(margin[~np.isnan(margin)])
    if not len(valid):
        return np.inf
    cut = float(np.quantile(valid, q, method="higher"))
    if not np.isfinite(cut):
        return cut
    finite = np.abs(valid[np.isfinite(valid)])
    tolerance = MARGIN_TOLERANCE * max(min(1.0, float(finite.max())), abs(cut))
    for value in valid[valid > cut]:  # up to the first gap wider than the tolerance
        if value - cut > tolerance:
            return (cut + float(value)) / 2
        cut = float(value)
    return cut


def best_old_and_new(score, new, k):
    """Each row's ``k`` best scores of the old (``~new``) and of the ``new`` items.

    Fewer when a side has fewer items: only those can make the top-``k``.
    Best first (torch's top-k: several times faster than ``np.partition``).
    """
    import torch

    score = torch.from_numpy(np.ascontiguousarray(score))

    def best(cols):
        cols = torch.from_numpy(cols)
        return torch.topk(score.index_select(1, cols), min(k, len(cols)), dim=1)[0].numpy()

    return best(np.flatnonzero(~new)), best(np.flatnonzero(new))


def earned_share(holdout, coef, rate, k=10):
    """The share of the top-``k`` that the holdout's unseen items earn, at most ``rate``.

    Unseen items: without interactions in the holdout's refit and not
    hidden. Their rate of the held-out interactions is what they would get
    if shown as often as they are picked; their slots pay off only if the
    blend ranks them well enough. Among the shares ``rate``, ``rate / 2``,
    ``rate / 4`` and 0 (each given by one offset on their scores, over the
    held-out users), the smallest whose held-out NDCG@k is within one
    standard error of the best is kept: items nobody picked are promoted
    only as far as the holdout shows it pays.
    """
    blend, rows, users, pos, bins, is_hidden, kept = holdout
    f = blend.fitted
    unseen = (f.n_items == 0) & ~is_hidden
    warm = f.n_items > 0
    # held-out interactions on hidden items are not part of this ranking
    scoring = warm[pos] | unseen[pos]
    if not unseen.any() or not warm.any() or scoring.sum() < 2:  # nothing to judge
        return rate
    k = min(k, int(unseen.sum() + warm.sum()))
    old_top, new_top, target = [], [], []
    for chunk, start in enumerate(range(0, len(rows), CHUNK)):
        part = slice(start, start + CHUNK)
        mine = scoring[part]
        per_user = blend.per_user(coef, rows[part])
        score = (blend.scores(rows[part], users[part], per_user) if kept[chunk] is None
                 else blend.combine(kept[chunk], per_user))
        score, cols = score[mine], pos[part][mine]
        target.append(score[np.arange(len(score)), cols])
        score[f.text.user_items_[rows[part][mine]].nonzero()] = -np.inf
        # hidden items are out of this ranking
        best_old, best_new = best_old_and_new(score[:, warm | unseen], unseen[warm | unseen],
                                              k + 1)
        old_top.append(best_old)
        new_top.append(best_new)
    old_top, new_top = np.concatenate(old_top), np.concatenate(new_top)
    target = np.concatenate(target)[:, None]
    target_unseen = unseen[pos[scoring]]
    n = len(target)
    discount = 1.0 / np.log2(np.arange(2, k + 2))

    def gains(offset):  # NDCG@k of the held-out item, unseen items shifted per user
        offset = offset[:, None]
        above = np.where(target_unseen[:, None],
                         (old_top > target + offset).sum(axis=1, keepdims=True)
                         + (new_top > target).sum(axis=1, keepdims=True),
                         (old_top > target).sum(axis=1, keepdims=True)
                         + (new_top + offset > target).sum(axis=1, keepdims=True))[:, 0]
        return np.where(above < k, discount[np.minimum(above, k - 1)], 0.0)

    shares = [0.0, rate / 4, rate / 2, rate]
    table = np.array([gains(quota_offsets(old_top, new_top, s, k)[0]) for s in shares])
    means = table.mean(axis=1)
    best = int(np.argmax(means))
    se = (table[best] - table).std(axis=1, ddof=1) / np.sqrt(n)
    return next(s for s, m, e in zip(shares, means, se) if means[best] - m <= e)


def best_unseen(blend, rows, score, k):
    """Each row's ``k + 1`` best scores of old and of new items, training items excluded.

    ``score`` is left as it was (its training items' scores restored).
    """
    seen = blend.fitted.text.user_items_[rows].nonzero()
    kept = score[seen]
    score[seen] = -np.inf
    best = best_old_and_new(score, blend.fitted.n_items == 0, k + 1)
    score[seen] = kept
    return best


def thresholds(blend, coef, share, rng, k=10):
    """Per history-length bin, the margin above which a user gets one more new item.

    Each user's top-``k`` holds ``floor(share * k)`` new items, one more for
    the fraction ``share * k - floor(share * k)`` of users with the largest
    margins (see ``quota_offsets``), so that the users of every bin hold
    that share: the scores of a user with one interaction and of one with
    hundreds are spread differently. Set on (at most 200 per bin of) the
    training users, their training items excluded, on the fitted model's
    own scores; a bin with fewer than ``MIN_POSITIVES`` users takes the
    threshold of all users pooled.
    """
    if share <= 0:  # no slot for new items: nothing to calibrate
        return np.full(len(coef), np.inf)
    users = blend.fitted.text.users_
    bins = blend.bins(np.arange(len(users)))
    rows = np.concatenate([
        members if len(members) <= 200 else rng.choice(members, 200, replace=False)
        for members in (np.flatnonzero(bins == b) for b in range(len(coef)))])
    bins = bins[rows]
    old_top, new_top = [], []
    for start in range(0, len(rows), CHUNK):
        part = rows[start:start + CHUNK]
        score = blend.scores(part, users[part], blend.per_user(coef, part))
        best_old, best_new = best_unseen(blend, part, score, k)
        old_top.append(best_old)
        new_top.append(best_new)
    old_top, new_top = np.concatenate(old_top), np.concatenate(new_top)

    def threshold(mine):
        return quota_offsets(old_top[mine], new_top[mine], share, k)[1]

    pooled = threshold(np.ones(len(rows), dtype=bool))
    return np.array([threshold(bins == b) if (bins == b).sum() >= MIN_POSITIVES else pooled
                     for b in range(len(coef))])


def offsets(blend, rows, score, share, per_bin, k=10):
    """Each user's offset on new items' scores (see ``thresholds``)."""
    if share <= 0:  # after every old item (as quota_offsets puts them)
        return np.full(len(rows), OFFSET_RANGE[0], dtype=np.float32)
    bins = blend.bins(rows)
    old_top, new_top = best_unseen(blend, rows, score, k)
    out = np.empty(len(rows))
    for b in np.unique(bins):
        mine = bins == b
        out[mine] = quota_offsets(old_top[mine], new_top[mine], share, k, per_bin[b])[0]
    return out.astype(np.float32)
