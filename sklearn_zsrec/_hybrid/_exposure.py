"""Exposure of the items without interactions: each user's top-10 holds a share of them.

The learned blend ranks new items among themselves by their own terms; how
many of them reach a user's top-10 is set by one offset per user on their
scores (``group_offsets``), so that every user's top-10 holds the share the
holdout says they earn (``Learner.share``, times ``new_item_exposure``):
declared arrivals and the other items without interactions (the log's tail)
each with their own offset and share (``Exposure``).
"""

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from .._scores import _put_columns, _seen_positions
from ._learn import MIN_POSITIVES, chunk_size, holdout_chunks
from ._members import positions

# the new items' offset is searched in this range: z-scored terms stay far inside
OFFSET_RANGE = (-50.0, 50.0)
# an item that X shows only in impressions (rows of weight 0) is the log's
# tail, not a fresh arrival, once an item picked at the log's rate (the share
# of its user-item pairs that are interactions) and shown as often would have
# been picked at least once with this probability: fewer showings without a
# pick say nothing (a new product shown to a few users before the log ended)
UNPICKED_CONFIDENCE = 0.95
# users' margins closer than this (relative to their size, at least 1) get the
# same extra slot or none (``_cut``): the blend's float32 scores computed in
# batches of another size differ by up to about 1e-5
MARGIN_TOLERANCE = 1e-4


def unpicked_items(data):
    """Ids of the items that ``data`` shows, never picks, and shows too often to be new.

    ``data``: the checked rows, one per user-item pair. With the log's pick
    rate ``p`` (the share of its logged pairs, not of every user-item pair,
    that are interactions), an item
    shown to ``n`` users without a pick is one of these when ``(1 - p) ** n``
    is at most ``1 - UNPICKED_CONFIDENCE``.
    """
    picked = np.asarray(data.interacted)
    ids = pd.unique(data.item_id)
    if picked.all() or not picked.any():
        return ids[:0]
    codes = positions(ids, data.item_id)
    shown = np.bincount(codes, weights=~picked, minlength=len(ids))
    picks = np.bincount(codes, weights=picked, minlength=len(ids))
    with np.errstate(under="ignore"):  # (0 after thousands of showings)
        miss = (1.0 - picked.mean()) ** shown  # no pick in that many showings
    return ids[(picks == 0) & (miss <= 1.0 - UNPICKED_CONFIDENCE)]


def quota_offsets(old_top, new_top, share, k, threshold=None):
    """Per-user offsets on new items' scores giving each user ``share`` of its top-``k``.

    One group of new items: see ``group_offsets``, which returns the
    offsets and thresholds of several groups.
    """
    offsets, thresholds = group_offsets(old_top, [new_top], [share], k,
                                        None if threshold is None else [threshold])
    return offsets[:, 0], thresholds[0]


def group_offsets(old_top, tops, shares, k, thresholds=None):
    """Per-user offsets on each group's scores giving each user ``shares[g]`` of its top-``k``.

    ``old_top`` and each of ``tops`` hold each user's best scores of the
    old items and of a group of new items (at least ``k`` and ``k + 1``
    when there are that many; -inf for excluded items). Every user gets
    ``q = floor(share * k)`` items of a group in its top-``k``, and one
    more where its margin (the score of the group's next item minus that of
    its last old item in the top-``k``) is above the group's threshold.
    Quotas past ``k`` in all are cut from the last group first (the tail
    before the arrivals). With ``thresholds`` None each is set so that the fraction
    ``share * k - q`` of these users gets one more, and returned, for
    ``recommend`` to apply to any user. Each offset puts the group's last
    item in the top-``k`` halfway between the old items around it: all
    groups' items in the top-``k`` then score above that point and the
    others below it, so that each group keeps its own quota. A group of
    share 0 comes after every old item.

    The same share for every user: a user's rate of picking new items is
    not known per user, and an offset common to all users gave most of the
    new items' slots to the users whose new-item scores run high.
    """
    def top(scores, n):  # descending, padded with -inf to n columns
        scores = -np.sort(-scores, axis=1)[:, :n]
        return np.pad(scores, ((0, 0), (0, n - scores.shape[1])), constant_values=-np.inf)

    old = top(old_top, k + 1)
    news = [top(new_top, k + 1) for new_top in tops]
    n_old = np.isfinite(old).sum(axis=1)
    users = np.arange(len(old))
    shown = [g for g, share in enumerate(shares) if share > 0]
    bases = {g: min(int(np.floor(shares[g] * k + 1e-9)), k) for g in shown}
    # each group's margin, every group holding its base quota
    last_old = max(k - sum(bases.values()) - 1, 0)
    out_thresholds = [np.inf] * len(shares) if thresholds is None else list(thresholds)
    quota = np.zeros((len(old), len(shares)), dtype=int)
    for g in shown:
        with np.errstate(invalid="ignore"):
            margin = news[g][:, min(bases[g], k)] - old[:, last_old]
        if thresholds is None:
            extra = shares[g] * k - bases[g]
            out_thresholds[g] = (np.inf if extra <= 0 or bases[g] >= k
                                 else _cut(margin, 1.0 - extra))
        quota[:, g] = bases[g] + (margin > out_thresholds[g])
        quota[:, g] = np.minimum(quota[:, g], np.isfinite(news[g]).sum(axis=1))
    # as many as the user has: at most k in all, and new items where old ones run out
    for g in reversed(shown):
        quota[:, g] -= np.minimum(np.maximum(quota.sum(axis=1) - k, 0), quota[:, g])
    for g in shown:
        spare = np.isfinite(news[g]).sum(axis=1) - quota[:, g]
        quota[:, g] += np.minimum(np.maximum(k - quota.sum(axis=1) - n_old, 0), spare)
    n_kept = k - quota.sum(axis=1)  # old items in the top-k
    offsets = np.full((len(old), len(shares)), OFFSET_RANGE[0])
    if len(shown) > 1:
        offsets[:, shown] = _common_cut(old, [news[g] for g in shown], quota[:, shown], n_kept, k)
        return np.clip(offsets, *OFFSET_RANGE), out_thresholds
    for g in shown:
        new, q = news[g], quota[:, g]
        with np.errstate(invalid="ignore"):
            lower = np.where(q > 0, old[users, n_kept] - new[users, np.clip(q - 1, 0, k)],
                             -np.inf)
            upper = np.where(n_kept > 0, old[users, np.clip(n_kept - 1, 0, k)]
                             - new[users, np.clip(q, 0, k)], np.inf)
            # -inf + inf where a side is empty: not selected
            offsets[:, g] = np.where(
                np.isfinite(lower) & np.isfinite(upper), (lower + upper) / 2,
                np.where(np.isfinite(lower), lower + 1.0,
                         np.where(np.isfinite(upper), upper - 1.0, 0.0)))
    return np.clip(offsets, *OFFSET_RANGE), out_thresholds


def _common_cut(old, news, quota, n_kept, k):
    """Offsets putting each group's ``quota`` best above one cut per user, the rest below.

    The cut lies halfway between the last old item kept and the first left
    out (1 from the one there is when a side is empty); each group's last
    item kept and first left out go halfway around it (its last item 0.5
    above it when the group has no more, its best 1 below it with no slot).
    One cut for all groups: a group's offset set from the old items alone
    let a group with few items, or users with few old items, lose slots to
    the other group.
    """
    users = np.arange(len(old))
    with np.errstate(invalid="ignore"):
        above = np.where(n_kept > 0, old[users, np.clip(n_kept - 1, 0, k)], -np.inf)
        below = old[users, np.minimum(n_kept, k)]
        cut = np.where(np.isfinite(above) & np.isfinite(below), (above + below) / 2,
                       np.where(np.isfinite(above), above - 1.0,
                                np.where(np.isfinite(below), below + 1.0, 0.0)))
        out = np.zeros(quota.shape)
        for g, new in enumerate(news):
            q = quota[:, g]
            last = np.where(q > 0, new[users, np.clip(q - 1, 0, k)], -np.inf)
            first = new[users, np.clip(q, 0, k)]
            out[:, g] = np.where(
                np.isfinite(last) & np.isfinite(first), cut - (last + first) / 2,
                np.where(np.isfinite(last), cut + 0.5 - last,
                         np.where(np.isfinite(first), cut - 1.0 - first, 0.0)))
    return out


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
    above it than ``1 - q``); without one, a tolerance past the largest
    margin (31 users of one profile text tied there, and a new user of that
    text was above the cut alone and below it beside another user).
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
    return cut + tolerance


def best_old_and_new(score, new, k):
    """Each row's ``k`` best scores of the old (``~new``) and of the ``new`` items.

    Fewer when a side has fewer items: only those can make the top-``k``.
    Best first (torch's top-k: several times faster than ``np.partition``).
    """
    old_top, (new_top,) = best_of_groups(score, [new], k)
    return old_top, new_top


def best_of_groups(score, groups, k):
    """Each row's ``k`` best scores of the items in no group, and of each group (masks)."""
    import torch

    score = torch.from_numpy(np.ascontiguousarray(score))

    def best(cols):
        cols = torch.from_numpy(cols)
        return torch.topk(score.index_select(1, cols), min(k, len(cols)), dim=1)[0].numpy()

    old = ~np.any(groups, axis=0)
    return best(np.flatnonzero(old)), [best(np.flatnonzero(group)) for group in groups]


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
    for chunk, part in enumerate(holdout_chunks(len(rows), blend)):  # those of ``kept``
        mine = scoring[part]
        per_user = blend.per_user(coef, rows[part])
        score = (blend.scores(rows[part], users[part], per_user) if kept[chunk] is None
                 else blend.combine(kept[chunk], per_user))
        score, cols = score[mine], pos[part][mine]
        target.append(score[np.arange(len(score)), cols])
        score[_seen_positions(f.text.user_items_, rows[part][mine])] = -np.inf
        # hidden items are out of this ranking
        best_old, best_new = best_old_and_new(score[:, warm | unseen], unseen[warm | unseen],
                                              k + 1)
        old_top.append(best_old)
        new_top.append(best_new)
    old_top, new_top = np.concatenate(old_top), np.concatenate(new_top)
    target, target_unseen = np.concatenate(target), unseen[pos[scoring]]
    n = len(target)
    shares = [0.0, rate / 4, rate / 2, rate]
    table = np.array([offset_gains(old_top, new_top, target, target_unseen,
                                   quota_offsets(old_top, new_top, s, k)[0], k)
                      for s in shares])
    means = table.mean(axis=1)
    best = int(np.argmax(means))
    se = (table[best] - table).std(axis=1, ddof=1) / np.sqrt(n)
    return next(s for s, m, e in zip(shares, means, se) if means[best] - m <= e)


def offset_gains(old_top, new_top, target, target_unseen, offset, k):
    """NDCG@k of each held-out item, each row's unseen items raised by its ``offset``.

    ``old_top`` and ``new_top``: each row's best scores of the items with
    interactions and of the unseen ones (training items excluded), ``k + 1``
    of each; ``target``: the held-out item's score, one of them, unseen where
    ``target_unseen``. A raised unseen item passes a held-out item with
    interactions: that is what the slots cost.
    """
    offset, target = offset[:, None], np.asarray(target)[:, None]
    above = np.where(target_unseen[:, None],
                     (old_top > target + offset).sum(axis=1, keepdims=True)
                     + (new_top > target).sum(axis=1, keepdims=True),
                     (old_top > target).sum(axis=1, keepdims=True)
                     + (new_top + offset > target).sum(axis=1, keepdims=True))[:, 0]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    return np.where(above < k, discount[np.minimum(above, k - 1)], 0.0)


def best_unseen(blend, rows, score, groups, k):
    """Each row's ``k + 1`` best scores of old items and of each group, training items excluded.

    ``score`` is left as it was (its training items' scores restored).
    """
    seen = _seen_positions(blend.fitted.text.user_items_, rows)
    kept = score[seen]
    score[seen] = -np.inf
    best = best_of_groups(score, groups, k + 1)
    score[seen] = kept
    return best


def thresholds(blend, coef, groups, shares, rng, k=10):
    """Per group and history-length bin, the margin above which a user gets one more item.

    Each user's top-``k`` holds ``floor(share * k)`` items of a group, one
    more for the fraction ``share * k - floor(share * k)`` of users with the
    largest margins (see ``group_offsets``), so that the users of every bin
    hold that share: the scores of a user with one interaction and of one
    with hundreds are spread differently. Set on (at most 200 per bin of)
    the training users with an interaction, their training items excluded, on the fitted
    model's own scores; a bin with fewer than ``MIN_POSITIVES`` users takes
    the threshold of all users pooled. Shape (n_groups, n_bins).
    """
    if not any(share > 0 for share in shares):  # no slot: nothing to calibrate
        return np.full((len(groups), len(coef)), np.inf)
    users = blend.fitted.text.users_
    bins = blend.bins(np.arange(len(users)))
    active = blend.fitted.n_users > 0  # those only shown items moved every other's
    rows = np.concatenate([
        members if len(members) <= 200 else rng.choice(members, 200, replace=False)
        for members in (np.flatnonzero((bins == b) & active) for b in range(len(coef)))])
    bins = bins[rows]
    old_top, new_tops = [], []
    size = chunk_size(blend)
    for start in range(0, len(rows), size):
        part = rows[start:start + size]
        score = blend.scores(part, users[part], blend.per_user(coef, part))
        best_old, best_new = best_unseen(blend, part, score, groups, k)
        old_top.append(best_old)
        new_tops.append(best_new)
    old_top = np.concatenate(old_top)
    new_tops = [np.concatenate(tops) for tops in zip(*new_tops)]

    def threshold(mine):
        return group_offsets(old_top[mine], [t[mine] for t in new_tops], shares, k)[1]

    pooled = threshold(np.ones(len(rows), dtype=bool))
    return np.array([threshold(bins == b) if (bins == b).sum() >= MIN_POSITIVES else pooled
                     for b in range(len(coef))]).T


def offsets(blend, rows, score, groups, shares, per_bin, k=10):
    """Each user's offset on each group's scores (see ``thresholds``), (n_rows, n_groups)."""
    out = np.full((len(rows), len(groups)), OFFSET_RANGE[0])
    if not any(share > 0 for share in shares):  # after every old item
        return out.astype(np.float32)
    bins = blend.bins(rows)
    old_top, new_tops = best_unseen(blend, rows, score, groups, k)
    for b in np.unique(bins):
        mine = bins == b
        out[mine] = group_offsets(old_top[mine], [t[mine] for t in new_tops], shares, k,
                                  per_bin[:, b])[0]
    return out.astype(np.float32)


def resumed(state, seed):
    """A generator at ``state`` (``RandomState.get_state()``: where ``fit`` drew the
    users to calibrate on), or ``check_random_state(seed)`` without one.

    A generator of its own: ``check_random_state(None)`` is numpy's global one.
    """
    if state is None:  # a model pickled before the state was kept
        return check_random_state(seed)
    rng = np.random.RandomState()
    rng.set_state(state)
    return rng


def exposure_of(hybrid):
    """The hybrid's own ``Exposure``, or an error for one pickled before it had one."""
    if not hasattr(hybrid, "_exposure"):
        raise ValueError(f"{type(hybrid).__name__}: this model was pickled by an earlier "
                         "version of sklearn_zsrec, which kept its new items' quota "
                         "otherwise; fit it again with this version.")
    return hybrid._exposure


class Exposure:
    """The items without interactions' quotas in every known user's top-10.

    Two groups, each with its own quota: the fresh arrivals (``new_items``)
    earn what the holdout's hidden items earn, each an average item's share
    (``arrival``: that share and their number); the other items without
    interactions, the log's tail, earn ``tail_share`` (what the holdout's
    items the log had not reached earned). One quota for both gave each
    group slots in proportion to its size and text scores, not its rate
    (MovieLens-100K with as many tail items as arrivals: 0.060 of the top-10
    to the arrivals and 0.062 to the tail, for shares of 0.126 and 0.002).
    """

    def __init__(self, arrival, tail_share, exposure):
        self.arrival, self.tail_share, self.exposure = arrival, tail_share, exposure

    def fit(self, blend, coef, fresh, rng):
        """Set the groups (``fresh``: a mask of the catalog), shares and thresholds."""
        zero = blend.fitted.n_items == 0
        self.fresh_ = fresh
        arrivals, tail = zero & fresh, zero & ~fresh
        rates = [self.arrival_rate(arrivals.sum()), self.tail_share]
        self.groups_ = [mask for mask in (arrivals, tail) if mask.any()]
        rates = [rate for rate, mask in zip(rates, (arrivals, tail)) if mask.any()]
        total = sum(rates) * self.exposure
        self.shares_ = [rate * self.exposure / max(total, 1.0) for rate in rates]
        self.share_ = float(min(total, 1.0))
        self.thresholds_ = None
        if self.groups_ and not zero.all():
            # calibrated on the final model's own scores, as recommend sees them
            self.thresholds_ = thresholds(blend, coef, self.groups_, self.shares_, rng)
        return self

    def arrival_rate(self, n):
        """The share of a top-10 that ``n`` arrivals earn: each an average hidden item's."""
        hidden_share, n_hidden = self.arrival
        return hidden_share * min(1.0, n / max(n_hidden, 1))

    def grown(self, blend, coef, n_added, rng):
        """Refit after ``n_added`` items were added to the catalog: fresh arrivals."""
        return self.fit(blend, coef, np.r_[self.fresh_, np.ones(n_added, dtype=bool)], rng)

    def offsets(self, blend, rows, score):
        """Each user's offset on each group's items, (n_rows, n_groups)."""
        return offsets(blend, rows, score, self.groups_, self.shares_, self.thresholds_)

    def add(self, score, by_group):
        """Add the offsets ``by_group`` (of ``offsets``) to the groups' columns of ``score``."""
        for group, offset in zip(self.groups_, by_group.T):
            _put_columns(score, np.flatnonzero(group), offset[:, None], add=True)
        return score

    def of_items(self, by_group, cols):
        """One user's offsets ``by_group`` on the catalog columns ``cols`` (0 for old items)."""
        out = np.zeros(len(cols))
        for group, offset in zip(self.groups_, by_group):
            out[group[cols]] = offset
        return out
