"""Learning the blend on a holdout carved from the training rows.

Each user's latest interaction is held out (or half the users', where short
histories are common: ``share_held``), the interactions of a random
``NEW_ITEM_FRACTION`` of the items are hidden (so that some held-out items
are new, as in production), the members are fitted on the rest, and a
logistic regression of held-out item against random candidates is fitted
on the blend's terms, per history-length bin; then each bin's blend is
chosen among that fit and a few fixed sums of terms by the held-out
NDCG@10 (see ``select``). The new items' own terms are fitted apart, on
every pick of a hidden item by the held-out users (``fit_new_items``).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._fine_tune import NoTrainingPairs
from .._history import rank_from_latest
from .._ids import _unique_ids
from .._scores import _put_columns, _seen_positions
from ._blend import HISTORY_BINS, N_BINS
from ._choice import GLOBAL_FIT, clear_winner, fixed_candidates, tied_gain
from ._members import positions

# fraction of items hidden while learning the blend, so that it learns how
# to rank items without interactions
NEW_ITEM_FRACTION = 0.2
# the new-item model's positives (the held-out users' picks of hidden items):
# at most this many, drawn at random beyond, each against this many random
# hidden items (on MovieLens-100K, 5,000 of its 19,612 picks and 10 negatives
# rank new items as well as all of them with 100 negatives: C-new NDCG@10
# 0.394-0.403 over five random states either way, in less than half the time)
MAX_NEW_ITEM_PICKS = 5_000
NEW_ITEM_NEGATIVES = 10
# random candidate items per held-out interaction
N_NEGATIVES = 100
# held-out interactions (one per user) the blend is learned and chosen on: a
# random sample of this many when there are more users (bounds the cost)
MAX_HOLDOUT_USERS = 5000
# fraction of users cut to their last few interactions while learning, so
# that short histories are represented; the lengths they keep
SHORT_HISTORY_FRACTION = 0.3
SHORT_HISTORIES = np.array([1, 2, 3, 5, 8, 13, 20])
# the holdout's terms are kept between the logistic fit and the blend
# selection up to this many floats (128 MB), else computed twice
KEEP_TERMS_FLOATS = 1 << 25
MIN_POSITIVES = 50  # held-out interactions a history-length bin needs for its own blend
# the share of the users (of those with 2+ interactions) whose latest
# interaction is held out where short histories are common: the others keep
# their latest interactions, so that a member has something to learn from for
# users like the held-out ones. With every user held out, where users of 2
# interactions carried all the co-occurrences or transitions, none was left,
# and that member's weight was learnt from the other users alone
HELD_SHARE = 0.5
# "common": users of the first history-length bin (2-3 interactions, whose
# holdout takes a third of their history or more) over this share of those
# with 2+, and at least MIN_POSITIVES of them. Elsewhere every user is held
# out: a user of 20 interactions loses a twentieth, and twice the held-out
# interactions make a steadier blend (MovieLens-100K, where every user has
# 20+: with half the users, the spread of NDCG@10 over 5 random states rose
# from 0.0013-0.0035 to 0.0014-0.0079, over one SE at 5 interactions)
SHORT_USERS_SHARE = 0.1
# held-out interactions the learned blend needs at all: with one, the choice
# among candidates (``_choice.one_se_choice``) has no standard error and judges nothing
MIN_HOLDOUT = 2
# few features, many samples: Newton steps with a Cholesky solve converge in a
# handful of iterations, to the same optimum as lbfgs in a fraction of its time
SOLVER = "newton-cholesky"
CHUNK = 512  # held-out users scored at a time, at most
# and at most this many bytes of their terms (each term a float32 array of
# the chunk's users x the catalog): 512 users' 14 terms took 570 MB at 20,000
# items, and the learned fit 2.2 GB
TERMS_BYTES = 256 << 20


def chunk_size(blend):
    """Held-out users scored at a time: ``CHUNK``, fewer on large catalogs (``TERMS_BYTES``)."""
    per_user = 4 * max(len(blend.fitted.n_items), 1) * max(len(blend.names), 1)
    return int(max(16, min(CHUNK, TERMS_BYTES // per_user)))


def holdout_chunks(n, blend):
    """The slices of ``n`` held-out users scored at a time: blocks of ``CHUNK``, each cut
    into pieces of ``chunk_size`` (the negatives are drawn per block)."""
    size = chunk_size(blend)
    return [slice(start, min(start + size, block + CHUNK, n))
            for block in range(0, n, CHUNK)
            for start in range(block, min(block + CHUNK, n), size)]


@dataclass
class Learned:
    """The outcome of ``learn``: the blend, or why there is none (``coef`` None)."""

    coef: np.ndarray = None  # (N_BINS, n_terms)
    choice: list = None  # the candidate kept per bin
    candidates: tuple = None  # the candidates' names
    ndcg: np.ndarray = None  # (N_BINS, n_candidates): held-out NDCG@10 per bin
    arrival: tuple = (0.0, 0)  # expected held-out share of the hidden items, and their number
    unseen_share: float = 0.0  # the share earned by undeclared items without interactions
    held: int = 0  # held-out interactions (of users with 2+ interactions)
    usable: int = 0  # of them, ranked against candidates
    constant: tuple = ()  # members whose terms were 0 over the whole holdout
    untuned: bool = False  # the text model's fine-tuning found no pair in the refit's rows
    text: object = None  # the holdout's fitted text model
    longest: int = None  # the longest history of the held-out users
    pending: tuple = None  # what ``share`` needs of the holdout, until it runs


def share_held(lengths):
    """The share of the users of ``lengths`` (their interactions, 2+) to hold out."""
    short = int((lengths <= HISTORY_BINS[0]).sum())
    return (HELD_SHARE if short >= MIN_POSITIVES and short > SHORT_USERS_SHARE * len(lengths)
            else 1.0)


def silent(features, blend, names):
    """The members of ``names`` whose term is 0 in every sample of ``features``."""
    return tuple(name for name in names if not features[:, blend.index[name]].any())


def not_warm(fitted, is_hidden):
    """The catalog columns the warm blend does not rank: hidden, or without interactions.

    Those (hidden, arrivals, the tail the holdout's refit lost) take the
    quotas' slots in recommend, so they are neither candidates nor positives
    of the warm ranking: thousands of text-only arrivals drawn as candidates
    (all scoring 0) moved the blend and its choice, which their number must
    not decide.
    """
    return is_hidden | (fitted.n_items == 0)


def hidden_items(items, rng):
    """The items whose interactions the holdout hides: ``NEW_ITEM_FRACTION`` of them."""
    return rng.choice(items, size=int(round(NEW_ITEM_FRACTION * len(items))), replace=False)


def negatives(n, candidates, rng, n_negatives=N_NEGATIVES):
    """``n_negatives`` random columns of ``candidates`` (catalog columns) for each of ``n`` positives."""
    return np.asarray(candidates)[rng.randint(0, len(candidates), size=(n, n_negatives))]


def sample(terms, pos, neg, seen, out, groups, skip=None, rows=None):
    """Append (features, labels, groups) of positives ``pos`` and their negatives ``neg``.

    ``terms`` holds the blend's (n_users, n_items) terms, gathered only at
    the sampled columns, and ``seen`` the users' training items; positive
    ``j`` is of the user in row ``rows[j]`` (row ``j`` when None), its
    negatives the columns ``neg[j]`` (``negatives``); those that the user
    has seen or that are the positive are dropped, as are columns in
    ``skip`` (with their positives).
    """
    rows = np.arange(len(pos)) if rows is None else np.asarray(rows)
    cols = np.concatenate([pos[:, None], neg], axis=1)
    # every stored entry is seen, weight-0 interactions too (recommend excludes them)
    stored = seen.copy()
    stored.data = np.ones(len(stored.data), dtype=np.int8)
    ok = np.asarray(stored[rows[:, None], cols].todense()) == 0
    ok[:, 1:] &= cols[:, 1:] != pos[:, None]
    if skip is not None:
        ok &= ~skip[cols] & ~skip[pos][:, None]
    out[0].append(np.stack([t[rows[:, None], cols] for t in terms], axis=-1)[ok])
    labels = np.zeros(cols.shape, dtype=np.int8)
    labels[:, 0] = 1
    out[1].append(labels[ok])
    out[2].append(np.broadcast_to(groups[:, None], cols.shape)[ok])


class Learner:
    """Learns the blend of a ``HybridRecommender`` (``C``: logistic regularisation)."""

    def __init__(self, C, rng):
        self.C, self.rng = C, rng

    def learn(self, data, fit_blend, held_share=None, again=True):
        """``Learned`` from the rows ``data``; ``fit_blend(rows)`` fits the members on rows.

        ``held_share``: the share of the users with 2+ interactions whose
        latest interaction is held out (drawn at random), the others keeping
        their latest interactions in the refit; None: ``share_held``. Where that
        holdout gives no blend (too few usable interactions, or a member
        whose terms are 0 over all of it: one that knows few users, or one
        left nothing to learn from by the holdout of every user), it is
        learnt on the other holdout (every user, or half of them for a
        silent member or a text model whose fine-tuning finds no training
        pair in the refit's rows) if ``again``; if neither gives one, the
        holdout of every user says why.

        The share of new items is left to ``share``, once the final fit has
        counted the catalog's items without interactions.
        """
        rng = self.rng
        # users and items in an order of their own, not of the rows, so that
        # the random draws below give one answer for any row order of the
        # same interactions (rows whose times tie across users come in the
        # caller's order)
        codes = positions(_unique_ids(data.user_id), data.user_id)
        # each user's latest interaction (never a row of weight 0), when it has another
        some = data.interacted
        rank = rank_from_latest(codes, data)
        counts = np.bincount(codes, weights=some)
        held = some & (rank == 0) & (counts[codes] > 1)
        if held_share is None:
            held_share = share_held(counts[counts > 1])
        if held_share < 1.0:
            # a share of the users who have one, not of all users: with a
            # coin per user, the draws of users without one were lost, and
            # the count held varied with them
            mine = np.flatnonzero(held)
            mine = mine[np.argsort(codes[mine], kind="stable")]  # by user
            drawn = rng.choice(len(mine), int(np.ceil(held_share * len(mine))), replace=False)
            held = np.zeros_like(held)
            held[mine[drawn]] = True
        # items with interactions: an average item's share is theirs (items
        # only shown, never picked, earn none; they would dilute it)
        items = _unique_ids(data.item_id[some])
        hidden = hidden_items(items, rng)
        picks = pd.Series(data.item_id).isin(hidden).to_numpy()  # rows of hidden items
        train = ~held & ~picks
        # warm-up: some users keep only their last few interactions
        # (drawn for the users with an interaction only: users only shown items
        # moved every other user's draws)
        active = np.flatnonzero(counts)
        keep_last = np.full(len(counts), np.inf)
        short = rng.rand(len(active)) < SHORT_HISTORY_FRACTION
        keep_last[active] = np.where(short, SHORT_HISTORIES[rng.randint(
            0, len(SHORT_HISTORIES), len(active))], np.inf)
        train &= rank <= keep_last[codes]
        out = Learned(held=int(held.sum()))
        if held.any() and (train & some).any():  # (members refuse impressions only)
            try:
                self.learn_on(out, data, fit_blend, (codes, held, train, picks), (items, hidden))
            except NoTrainingPairs:  # the text model's fine-tuning, on the refit's rows
                out.untuned = True
        # from every user to half of them only for a silent member or an
        # untuned text model: half the users hold fewer usable interactions
        if out.coef is None and again and (held_share < 1.0 or out.constant or out.untuned):
            other = self.learn(data, fit_blend, 1.0 if held_share < 1.0 else HELD_SHARE, False)
            if other.coef is not None or held_share < 1.0:
                return other
        return out

    def learn_on(self, out, data, fit_blend, split, catalog):
        """Fill ``out`` with what the holdout ``split`` of ``data`` teaches:
        the rows' users (``codes``) and masks ``held``, ``train`` and
        ``picks`` (of the ``hidden`` items among ``items``, the ``catalog``)."""
        from ._members import subset

        rng = self.rng
        codes, held, train, picks = split
        items, hidden = catalog
        blend = fit_blend(subset(data, train))
        f = blend.fitted
        out.text = f.text
        held = np.flatnonzero(held)[np.argsort(codes[held], kind="stable")]  # by user
        users = data.user_id[held]
        rows = positions(f.text.users_, users)
        pos = positions(f.text.items_, data.item_id[held])
        keep = (rows >= 0) & (pos >= 0)
        # a user whose refit rows all weigh 0 is scored as new, not by the blend
        keep[keep] &= f.n_users[rows[keep]] > 0
        users, rows, pos = users[keep], rows[keep], pos[keep]
        if len(users) > MAX_HOLDOUT_USERS:  # a random sample is enough
            pick = np.sort(rng.choice(len(users), MAX_HOLDOUT_USERS, replace=False))
            users, rows, pos = users[pick], rows[pick], pos[pick]
        out.longest = int(f.n_users[rows].max(initial=0))
        hidden_cols = positions(f.text.items_, hidden)
        is_hidden = np.zeros(len(f.n_items), dtype=bool)
        is_hidden[hidden_cols] = True
        cold_cols = not_warm(f, is_hidden)
        # negatives are drawn among the items the warm ranking ranks: drawn
        # over the catalog, then dropped, text-only items left a user 100
        # times their share of negatives (9 beside 400 of them and 40 items)
        warm_cols = np.flatnonzero(~cold_cols)
        if not len(warm_cols):
            return
        bins = blend.bins(rows)
        who = np.arange(len(users))  # each sample's held-out interaction
        keep = len(users) * len(f.n_items) * len(blend.names) <= KEEP_TERMS_FLOATS
        # the new-item model's positives: every pick of a hidden item by the
        # held-out users (their refit saw none), not only their latest
        # interactions: 19,612 on MovieLens-100K (5,000 drawn) against about
        # 190, and coefficients that no longer follow the holdout's draw
        chosen = picks & data.interacted  # picks, not impressions
        pick_who = positions(users, data.user_id[chosen])
        pick_col = positions(f.text.items_, data.item_id[chosen])
        mine = np.flatnonzero((pick_who >= 0) & (pick_col >= 0))
        if len(mine) > MAX_NEW_ITEM_PICKS:
            mine = np.sort(rng.choice(mine, MAX_NEW_ITEM_PICKS, replace=False))
        mine = mine[np.argsort(pick_who[mine], kind="stable")]  # by user, for the chunks
        pick_who, pick_col = pick_who[mine], pick_col[mine]
        own = [k for k, name in enumerate(blend.names) if name.endswith("_new")]
        main, cold, kept = ([], [], []), ([], [], []), []
        # the negatives are drawn per CHUNK users, the terms computed per
        # ``holdout_chunks`` (fewer users on large catalogs): the draws, and so
        # the learned blend, do not depend on the catalog's size through them
        for part in holdout_chunks(len(users), blend):
            block = part.start - part.start % CHUNK
            if part.start == block:  # a block's first chunk: the block's draws
                neg = negatives(min(CHUNK, len(users) - block), warm_cols, rng)
                lo, hi = np.searchsorted(pick_who, [block, block + CHUNK])
                new_neg = (negatives(hi - lo, hidden_cols, rng, NEW_ITEM_NEGATIVES)
                           if hi > lo and len(hidden_cols) > 1 else None)
            terms = blend.terms(rows[part], users[part])
            kept.append(terms if keep else None)
            seen = f.text.user_items_[rows[part]]
            # warm ranking only: new items are ranked by their own model below
            sample(terms, pos[part], neg[part.start - block:part.stop - block], seen, main,
                   who[part], skip=cold_cols)
            a, b = np.searchsorted(pick_who, [part.start, part.stop])
            if new_neg is not None and b > a:
                sample([terms[k] for k in own], pick_col[a:b], new_neg[a - lo:b - lo],
                       seen, cold, pick_who[a:b], rows=pick_who[a:b] - part.start)
        if not main[0]:
            return
        features, labels = np.concatenate(main[0]), np.concatenate(main[1])
        sample_who = np.concatenate(main[2])
        out.usable = len(np.unique(sample_who[labels == 0]))  # held-out items with candidates
        if out.usable < MIN_HOLDOUT:
            return
        # a member whose terms are 0 over the whole holdout (constant scores)
        # cannot be judged: its weight would be learnt 0 whatever it is worth
        # at the final fit
        out.constant = silent(features, blend, f.factor_names + f.score_names)
        if out.constant:
            return
        groups = bins[sample_who]
        own_bins = [b for b in range(N_BINS) if labels[groups == b].sum() >= MIN_POSITIVES
                    and labels[groups == b].min() == 0]
        coef, start = self.fit_blends(features, labels, groups, own_bins)
        # cross-fitting: the fitted blends are also fitted on each half of the
        # held-out users and judged on the other half, so that the choice
        # compares them with the fixed candidates on interactions they were
        # not fitted on
        fold = rng.permutation(len(users)) % 2
        cross = [self.fit_blends(features[mask], labels[mask], groups[mask], own_bins, start)[0]
                 for mask in (fold[sample_who] == 1, fold[sample_who] == 0)]
        holdout = (blend, rows, users, pos, bins, is_hidden, kept)
        out.coef = self.select(holdout, coef, cross, fold, out)
        if cold[0]:
            self.fit_new_items(blend, out.coef, cold, own)
        out.pending = (holdout, len(hidden) / len(items), hidden_cols)

    def fit_new_items(self, blend, coef, cold, own):
        """New items ranked among themselves: a logistic model of their own terms ``own``."""
        from sklearn.linear_model import LogisticRegression

        features, labels = np.concatenate(cold[0]), np.concatenate(cold[1])
        if labels.min() == labels.max():
            return
        model = _fitted(LogisticRegression(C=self.C, solver=SOLVER, max_iter=1000),
                        features, labels)
        coef[:, own] = model.coef_.ravel()
        # the text term of new items comes on top of the shared text_gated
        coef[:, blend.index["text_new"]] -= coef[:, blend.index["text_gated"]]

    def fit_blends(self, features, labels, groups, own_bins, start=None):
        """Logistic blends: one over all samples, refitted per bin in ``own_bins``.

        Returns the coefficients (one row per bin; the pooled fit where a bin
        has none of its own) and the pooled model. ``start``, a fitted pooled
        model, warm-starts the fits: same optimum, fewer Newton iterations. A
        sample set without both labels gives ``start``'s coefficients.
        """
        from sklearn.linear_model import LogisticRegression

        def fit(x, y, init):
            model = LogisticRegression(C=self.C, solver=SOLVER, max_iter=1000,
                                       warm_start=init is not None)
            if init is not None:
                model.coef_, model.intercept_ = init.coef_.copy(), init.intercept_.copy()
            return _fitted(model, x, y)

        if not len(labels) or labels.min() == labels.max():
            return np.tile(start.coef_.astype(np.float32), (N_BINS, 1)), start
        own = {b: groups == b for b in own_bins}
        own = {b: mine for b, mine in own.items()
               if mine.any() and labels[mine].min() != labels[mine].max()}
        # when every bin has its own fit, a pooled one would only warm-start them
        pooled = fit(features, labels, start) if start is None or len(own) < N_BINS else start
        coef = np.tile(pooled.coef_.astype(np.float32), (N_BINS, 1))
        for b, mine in own.items():
            coef[b] = fit(features[mine], labels[mine], pooled).coef_.ravel()
        return coef, pooled

    def select(self, holdout, coef, cross, fold, out, k=10):
        """Per history-length bin, choose a candidate blend by held-out NDCG@k.

        The logistic fit tells relevant from random items; the top of the
        ranking is what counts, so each bin's blend is chosen among its own
        fit, the global fit (the mean of the bins' fits) and the fixed
        candidates (``fixed_candidates``), by the NDCG@k of the held-out
        interactions on items with interactions. The two fitted candidates
        are judged out of fold: a user of ``fold`` f is scored by
        ``cross[f]``, the blends fitted without that fold's users. The choice
        over all bins starts from the global fit and each bin from that
        choice; each moves only to a clearly better candidate
        (``clear_winner``), so that the blend does not follow the
        holdout's draw. Sets ``out``'s ``choice``, ``candidates``, ``ndcg``.
        """
        blend, rows, users, pos, bins, is_hidden, kept = holdout

        def fitted(c):  # the bin's own fit and the mean of the bins' fits
            return [c, np.tile(c.mean(axis=0), (len(c), 1))]

        fixed = fixed_candidates(blend)
        names = ("own fit", "global fit", *(name for name, _, _ in fixed))
        simplicity = np.array([3, 2, *(s for _, _, s in fixed)])
        candidates = fitted(coef) + [np.tile(c, (N_BINS, 1)) for _, c, _ in fixed]
        judged = [fitted(c) for c in cross]  # out of fold, per fold
        cold_cols = not_warm(blend.fitted, is_hidden)
        warm = ~cold_cols[pos]
        out_cols = np.flatnonzero(cold_cols)
        gains = np.zeros((len(candidates), len(rows)))
        cum_discount = np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))]
        for chunk, part in enumerate(holdout_chunks(len(rows), blend)):  # those of ``kept``
            terms = kept[chunk] if kept[chunk] is not None else blend.terms(rows[part],
                                                                            users[part])
            seen = _seen_positions(blend.fitted.text.user_items_, rows[part])
            b = bins[part]
            for c, cand in enumerate(candidates):
                per_user = (np.where(fold[part][:, None] == 0, judged[0][c][b], judged[1][c][b])
                            if c < 2 else cand[b])
                score = blend.combine(terms, per_user)
                score[seen] = -np.inf
                _put_columns(score, out_cols, -np.inf)
                target = score[np.arange(len(score)), pos[part]][:, None]
                gains[c, part] = tied_gain(score, target, cum_discount, k)
        best = coef.copy()
        out.candidates, out.ndcg = names, np.zeros((N_BINS, len(candidates)))
        out.choice = [None] * N_BINS
        pooled = (clear_winner(gains[:, warm], GLOBAL_FIT, simplicity) if warm.any()
                  else GLOBAL_FIT)
        for b in range(N_BINS):
            mine = (bins == b) & warm
            if mine.any():
                out.ndcg[b] = gains[:, mine].mean(axis=1)
            choice = (clear_winner(gains[:, mine], pooled, simplicity)
                      if mine.sum() >= MIN_POSITIVES else pooled)
            best[b] = candidates[choice][b]
            out.choice[b] = names[choice]
        return best

    @staticmethod
    def share(out, n_unseen, fresh):
        """What the items without interactions earn of the top-10 (see ``Exposure``).

        ``n_unseen`` counts the catalog's items without interactions not
        declared fresh (``new_items``); ``fresh(text)`` is the mask of the
        declared ones in a text model's catalog: never a held-out pick, they
        are not the log's tail whose rate is measured (each one declared
        diluted it).

        Fresh arrivals earn what an average item earns, as the hidden items
        do, times how many there are: the hidden items' expected share of
        the held-out interactions, their fraction of the items (each
        held-out interaction's item was hidden with that probability), not
        the share the drawn ones happened to earn, which follows the few
        popular items a draw hides or not (on MovieLens-100K C-mix it ranged
        from 0.17 to 0.25 over five random states, and the new items' recall
        with it). The others earn what the holdout's items the log had not
        reached yet (no interaction left in the refit, not hidden) earned
        per item, and only as far as the holdout's NDCG@10 says those slots
        pay off (``earned_share``). Sets ``arrival`` and ``unseen_share`` on
        ``out`` (the ``Learned`` record, its ``coef`` set).
        """
        from ._exposure import earned_share

        holdout, hidden_fraction, hidden_cols = out.pending
        out.pending = None  # the holdout's models are not kept
        blend, rows, users, pos, bins, is_hidden, kept = holdout
        out.arrival = (hidden_fraction, len(hidden_cols))
        is_hidden = is_hidden | fresh(blend.fitted.text)  # out of the tail, as the hidden
        holdout = (blend, rows, users, pos, bins, is_hidden, kept)
        unseen = (blend.fitted.n_items == 0) & ~is_hidden
        out.unseen_share = float(unseen[pos].mean() * min(1.0, n_unseen / max(unseen.sum(), 1)))
        if n_unseen and unseen.any():
            out.unseen_share = earned_share(holdout, out.coef, out.unseen_share)


def _fitted(model, x, y):
    """``model.fit(x, y)`` of a logistic blend, on the columns of ``x`` that vary.

    A term constant over the holdout has weight 0 at the optimum (its gradient
    is the constant times the intercept's, 0 there), where Newton's Hessian was
    singular (a LinAlgWarning); none varying, the intercept alone is fitted.
    """
    varies = (x != x[:1]).any(axis=0) | ~np.isfinite(x[0])  # NaN, inf: the fit raises
    if varies.all():
        return model.fit(x, y)
    keep = varies if varies.any() else [0]  # (none varies: one column, of zeros)
    if model.warm_start and hasattr(model, "coef_"):
        model.coef_ = model.coef_[:, keep]
    model.fit(x[:, keep] * varies[keep], y)
    coef, model.coef_ = model.coef_, np.zeros((len(model.coef_), x.shape[1]), model.coef_.dtype)
    model.coef_[:, keep], model.n_features_in_ = coef * varies[keep], x.shape[1]
    return model
