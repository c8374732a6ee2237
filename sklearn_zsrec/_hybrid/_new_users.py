"""New users scored from their text: the items of the known users whose texts are closest."""

from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import check_random_state

from .._scores import _matmul, _top_n
from .._cold_start import user_texts_for
from .._interactions import object_array, positions
from .._progress import one_id_warning
from .._encoder import embed, has_direction
from .._zero_shot import _normalize_rows
from . import _memo
from ._blend import standardize
from ._exposure import best_of_groups, group_offsets
from ._learn import KEEP_TERMS_FLOATS, MIN_POSITIVES

# the neighbour counts and popularity smoothings new users are scored with, chosen in fit
USER_NEIGHBORS = (10, 25, 50, 100, 200, 400)
USER_SMOOTHING = (0.01, 0.1, 1.0)
# known users scored as if new, to set the new items' thresholds for new users
MAX_THRESHOLD_USERS = 1000
# new users scored at once from which the known users' items are densified
# (``_item_matrix``); fewer take the sparse product
DENSE_ROWS = 64
# the text's z-scores on items without interactions are scaled by this for
# new users, so that the items of the quota take the last slots of the top-10
# (in the order of their text): a z-score has no common scale with the
# neighbours' scores, and unscaled the best text match came first for 22 of
# the 26 users it reached on MovieLens-100K's protocol D (the items only the
# held-out users had)
NEW_ITEM_TEXT_SCALE = 1e-3


def _neighbours(sim, k):
    """Each row's ``k`` nearest columns (largest ``sim``; a NaN ranks last).

    ``(chosen, split, tied, share)``: the columns above the k-th largest,
    with those tied with it where all of them make the cut; the rows
    ``split`` where only some do, their columns ``tied`` at the cut, and
    ``share``, the part of a neighbour each of those is (they share the
    places left equally, so the answer does not depend on the columns' order).
    """
    n = sim.shape[1]
    sim = np.where(np.isnan(sim), -np.inf, sim)  # a NaN (an encoder of one's own)
    kth = np.partition(sim, n - k, axis=1)[:, n - k]
    above, tie = sim > kth[:, None], sim == kth[:, None]
    share = (k - above.sum(axis=1)) / tie.sum(axis=1)
    whole = share >= 1.0
    split = np.flatnonzero(~whole)
    return above | (tie & whole[:, None]), split, tie[split], share[split]


class TextNeighbours:
    """Scores a user not seen in fit by the items of the known users closest in text.

    ``log(1 + hits + prior)``: ``hits`` counts the ``n_neighbors_`` known
    users (with interactions) most similar by text that have each item, ``prior`` is
    ``smoothing_ * n_neighbors_`` users' worth of popularity. Both are chosen
    in ``fit`` by scoring (up to 1,000) known users as if new: each from the
    others' items, by its text alone, judged by NDCG@10 on its own items.
    Users without a text get the text model's (popularity) scores.

    No known user has the items without interactions: they would score 0
    and never be shown. ``set_exposure`` gives the declared arrivals among
    them (a ``new_items`` list, items added after fit) the known users'
    arrival rate: ranked among themselves by the user's text (its
    similarity to theirs, z-scored over the catalog), they take that share
    of the top-10 through one offset per user (``group_offsets``), with a
    threshold set on known users scored as if new; those of the quota take
    the top-10's last slots, the others come after every item with
    interactions. Items without interactions that are only assumed to be
    arrivals (``new_items="all"``) are left out: they may be the log's tail,
    which cold users, who pick popular items, reach less (MovieLens-100K's
    protocol D: 26 such items, 0.13% of the test rows, given 1.2% of the
    slots, moved NDCG@10 from 0.5558 to 0.5524 and the lead over popularity
    from 1.07 to 0.88 standard errors). Users scored by the text model
    (without known users' texts to match: no user texts in fit) get the
    same rule with the learned blend, without a quota (nothing to set its
    threshold on): the declared arrivals rank among all items by the
    user's text, the other items without interactions (all of them at a
    ``new_item_exposure`` of 0) after every other item (``hidden_``).
    """

    def __init__(self, n_neighbors="auto", random_state=None):
        self.n_neighbors, self.random_state = n_neighbors, random_state
        self.groups_, self.shares_, self.thresholds_, self.hidden_ = [], [], None, None
        self.declared_ = None  # the declared arrivals (a catalog mask), set by set_exposure

    def fit(self, text, users, user_items, n_user_interactions, n_item_interactions, key=None):
        """``text``: the fitted text model; the rest: the hybrid's fitted attributes."""
        self.text_ = text
        self.n_item_interactions_ = n_item_interactions
        # users whose rows all weigh 0 (impressions without a click) have no
        # items: neither neighbours nor users of the popularity prior
        active = np.asarray(n_user_interactions) > 0
        self.n_users_ = int(active.sum())
        self.embeddings_ = self._embeddings64 = None
        self.n_neighbors_ = self.smoothing_ = None
        texts = text.user_texts_
        if texts is None:
            return self
        has = (pd.Index(texts.index).get_indexer(users) >= 0) & active
        if not has.any():
            return self
        emb = embed(text.encoder_, texts.loc[users[has]].to_numpy())
        self.rows_ = np.flatnonzero(has)
        self.embeddings_ = _normalize_rows(emb).astype(np.float32)
        self.items_ = (user_items[self.rows_] != 0).astype(np.float32)
        # a generator of its own, not the fit's (whose state depends on the
        # blend's parameters), so that a grid over those reuses one choice
        seeded = isinstance(self.random_state, Integral)
        key = (None if key is None or not seeded
               else ("user neighbours", key, self.n_neighbors, self.random_state))
        self.n_neighbors_, self.smoothing_ = _memo.memoized(
            key, lambda: self._choose(check_random_state(self.random_state)))
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_embeddings64", None)  # a float64 copy of embeddings_, made again when used
        return state

    def grown(self, user_items, n_item_interactions):
        """Follow a catalog grown by items without interactions (the hybrid's attributes).

        The added items are declared arrivals.
        """
        declared = getattr(self, "declared_", None)
        if declared is not None:
            n_added = len(n_item_interactions) - len(declared)
            self.declared_ = np.r_[declared, np.ones(n_added, dtype=bool)]
        self.n_item_interactions_ = n_item_interactions
        if self.embeddings_ is not None:
            self.items_ = (user_items[self.rows_] != 0).astype(np.float32)
        return self

    def user_texts(self, users, rows=None):
        """Each user's text, None without one: for users not seen in fit the call's,
        then the text model's; for known users (``rows`` >= 0) the text model's
        only (texts of users seen in fit are not read from the call). Exact
        for float ids past 2**53."""
        out = np.full(len(users), None, dtype=object)
        known = np.zeros(len(users), bool) if rows is None else np.asarray(rows) >= 0
        for chosen, texts in ((~known, user_texts_for(self.text_.user_texts_)),
                              (known, self.text_.user_texts_)):
            if texts is not None and chosen.any():
                found = positions(pd.Index(texts.index), np.asarray(users)[chosen])
                part = np.full(len(found), None, dtype=object)
                part[found >= 0] = texts.to_numpy(dtype=object)[found[found >= 0]]
                out[chosen] = part
        return out

    def _embedded(self, users, rows=None):
        """Users with a text (see ``user_texts``) and known users to match, and
        those users' text embeddings (unit rows, float32).

        A text that embeds to zeros (no word of a fitted encoder's vocabulary)
        is no text: it would tie every known user as a neighbour; the text
        model scores it by popularity, with its warning.
        """
        if self.embeddings_ is None:
            return np.zeros(len(users), dtype=bool), None
        return self._directed(users, rows)

    def _directed(self, users, rows=None):
        """Users whose text embeds to a direction (known users to match or not), and
        those embeddings (unit rows, float32)."""
        texts = self.user_texts(users, rows)
        found = np.array([t is not None for t in texts], dtype=bool)
        emb = np.zeros((0, self.text_.item_embeddings_.shape[1]), dtype=np.float32)
        if found.any():
            vec = embed(self.text_.encoder_, list(texts[found]))
            some = has_direction(vec)
            found[found] = some
            emb = _normalize_rows(vec[some]).astype(np.float32)
        return found, emb

    def _source(self, directed):
        """What scores a user not seen in fit whose text embeds to a direction, or not:
        its text neighbours, its text (the text model's similarity of it to the
        items', when no known user has a text to match), or popularity."""
        if directed:
            return "text neighbours" if self.embeddings_ is not None else "user text"
        return "popularity"

    def set_exposure(self, exposure, declared=None, random_state=None, k=10):
        """The declared arrivals' group, share and threshold for new users.

        ``exposure``: the hybrid's ``Exposure``, or None (fixed blend: no
        quota); ``declared``: a catalog mask of the declared arrivals (None:
        the one kept, grown by ``grown``). Their share is the known users'
        arrival rate for their number (``Exposure.arrival_rate``, times its
        ``exposure``). The threshold is set on (up to
        ``MAX_THRESHOLD_USERS``) known users with a text, scored as if new,
        drawn by ``random_state`` (None: this model's).
        """
        if declared is not None:
            self.declared_ = np.asarray(declared, dtype=bool)
        self.groups_, self.shares_, self.thresholds_, self.hidden_ = [], [], None, None
        declared = getattr(self, "declared_", None)
        if exposure is None:
            return self
        cold = self.n_item_interactions_ == 0
        arrivals = cold & (declared if declared is not None else False)
        share = exposure.arrival_rate(arrivals.sum()) * exposure.exposure
        # the items without interactions new users are not served: the
        # others than the declared arrivals, and those too at a share of 0
        self.hidden_ = cold & ~arrivals if share > 0 else cold
        if declared is None or self.embeddings_ is None or not arrivals.any() or not share > 0:
            return self
        self.groups_, self.shares_ = [arrivals], [min(share, 1.0)]
        n = len(self.rows_)
        seed = self.random_state if random_state is None else random_state
        pick = np.sort(check_random_state(seed).choice(
            n, min(n, MAX_THRESHOLD_USERS), replace=False))
        old_top, new_tops = [], []
        for start in range(0, len(pick), 256):
            part = pick[start:start + 256]
            sim = self._similarity(self.embeddings_[part])
            sim[np.arange(len(part)), part] = -np.inf  # not oneself
            best_old, best_new = best_of_groups(
                sum(self._parts(self.embeddings_[part], sim).values()), self.groups_, k + 1)
            old_top.append(best_old)
            new_tops.append(best_new)
        self.thresholds_ = group_offsets(np.concatenate(old_top),
                                         [np.concatenate(t) for t in zip(*new_tops)],
                                         self.shares_, k)[1]
        return self

    def scores(self, users, rows=None):
        """Scores of ``users`` (not seen in fit) over the catalog.

        ``rows``: their rows in fit's users (-1 for users not seen in fit): a
        known user scored as new (its interactions all weigh 0) is not its own
        text neighbour, as in the choice of the neighbour count.
        """
        out = np.empty((len(users), len(self.n_item_interactions_)), dtype=np.float32)
        with_text, emb = self._embedded(users, rows)
        if with_text.any():
            out[with_text] = sum(self._text_parts(
                emb, None if rows is None else np.asarray(rows)[with_text]).values())
        if (~with_text).any():  # the text model: its text scores, or popularity without text
            part, shift = self._text_model_parts(users[~with_text])
            out[~with_text] = part + shift
        return out

    def _text_model_parts(self, users):
        """The text model's z-scores of ``users`` and the shift that puts the items not
        served (see ``set_exposure``) after every other item, in their order."""
        with one_id_warning(checked=True):  # the hybrid checked (and warned about) them
            part = standardize(self.text_.score_items(users))
        shift = np.zeros_like(part)
        hidden = getattr(self, "hidden_", None)
        if hidden is not None and hidden.any() and (~hidden).any():
            gap = part[:, ~hidden].min(axis=1) - part[:, hidden].max(axis=1) - 1.0
            shift[:, hidden] = np.minimum(gap, 0.0)[:, None]
        return part, shift

    def explained(self, user, row=-1):
        """One user's ``scores`` as ``{source: scores over the catalog}``, adding up to them."""
        users = object_array([user])
        directed, emb = self._directed(users, [row])
        if directed[0] and self.embeddings_ is not None:
            return {name: part[0] for name, part in self._text_parts(emb, [row]).items()}
        part, shift = self._text_model_parts(users)
        return {self._source(directed[0]): part[0], "new item offset": shift[0]}

    def _text_parts(self, emb, rows=None, k=10):
        """The parts of the scores of users with a text (``emb``: its unit embeddings, as
        ``_embedded`` gives them) and known users to match."""
        sim = self._similarity(emb)
        if rows is not None:  # a known user (row >= 0) with a text is not its own neighbour
            own = np.searchsorted(self.rows_, rows)  # rows_: sorted
            mine = np.flatnonzero((np.asarray(rows) >= 0) & (own < len(self.rows_)))
            mine = mine[self.rows_[own[mine]] == np.asarray(rows)[mine]]
            sim[mine, own[mine]] = -np.inf
        parts = self._parts(emb, sim)
        if getattr(self, "thresholds_", None) is not None:  # each group's share of the top-k
            base = sum(parts.values())
            best_old, best_new = best_of_groups(base, self.groups_, k + 1)
            by_group = group_offsets(best_old, best_new, self.shares_, k, self.thresholds_)[0]
            offset = np.zeros_like(parts["text neighbours"])
            for group, group_offset in zip(self.groups_, by_group.T):
                offset[:, group] = group_offset[:, None]
            # the others come after every item with interactions, in the
            # order of their text (just below the top-k they would make one
            # block, whatever their text)
            cold, score = np.any(self.groups_, axis=0), base + offset
            last = min(k, score.shape[1]) - 1
            kth = -np.partition(-score, last, axis=1)[:, last]  # each user's k-th best score
            lowest = np.where(cold, np.inf, score).min(axis=1)
            below = np.where(np.isfinite(lowest), lowest - 1.0, 0.0) - parts["user text"].max(axis=1)
            offset = np.where(cold & (score < kth[:, None]), below[:, None], offset)
            parts["new item offset"] = offset.astype(np.float32)
        return parts

    def _parts(self, emb, sim):
        """Scores from the known users' items (``sim``: similarity to them) and, with
        groups of items without interactions, the text ``emb``'s z-scores on those."""
        hits = self._hits(sim, self.n_neighbors_, self._item_matrix(len(sim)))
        parts = {"text neighbours": np.log1p(hits + self._prior(self.n_neighbors_,
                                                                 self.smoothing_))}
        if getattr(self, "groups_", None):
            cold = np.any(self.groups_, axis=0)
            text = standardize(_matmul(emb, self.text_.item_embeddings_.T))
            parts["text neighbours"][:, cold] = 0.0
            parts["user text"] = np.where(cold, NEW_ITEM_TEXT_SCALE * text, 0.0).astype(np.float32)
        return parts

    def _choose(self, rng, k=10, max_users=1000):
        """The neighbour count and smoothing scoring known users best as if new."""
        n = len(self.rows_)
        counts = USER_NEIGHBORS if self.n_neighbors == "auto" else (self.n_neighbors,)
        counts = sorted({min(c, n - 1) for c in counts} - {0})
        if n < MIN_POSITIVES or not counts:
            # too few users to judge: the fewest neighbours of the grid (all
            # of them would score every new user alike, by popularity)
            fewest = USER_NEIGHBORS[0] if self.n_neighbors == "auto" else self.n_neighbors
            return max(1, min(fewest, n - 1)), 1.0
        pick = np.sort(rng.choice(n, min(n, max_users), replace=False))
        k = min(k, self.items_.shape[1])  # a catalog of fewer items: its top-k is shorter
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        gains = np.zeros((len(counts), len(USER_SMOOTHING), len(pick)))
        items = self._item_matrix()
        for start in range(0, len(pick), 256):
            part = pick[start:start + 256]
            sim = self._similarity(self.embeddings_[part])
            sim[np.arange(len(part)), part] = -np.inf  # not oneself
            relevant = self.items_[part].toarray() > 0
            ideal = np.cumsum(discount)[np.minimum(relevant.sum(axis=1), k) - 1]
            for i, count in enumerate(counts):
                hits = self._hits(sim, count, items)
                for j, smoothing in enumerate(USER_SMOOTHING):
                    # the ranking of log(1 + x) is that of x
                    top, _ = _top_n(hits + self._prior(count, smoothing), k)
                    gains[i, j, start:start + len(part)] = (
                        np.take_along_axis(relevant, top, axis=1) @ discount) / ideal
        i, j = np.unravel_index(np.argmax(gains.mean(axis=2)), gains.shape[:2])
        return int(counts[i]), float(USER_SMOOTHING[j])

    def _similarity(self, emb):
        """Cosine similarities of ``emb`` to the known users' texts, whatever the batch.

        In float64, rounded to float32: a float32 product rounds with the
        number of rows it is given, and users with the same text (a profile,
        "F, 25-34, student") tie exactly, so which of them were neighbours
        depended on who else was in the call (scores moved by 0.6). Through
        torch (``_matmul``), as the products that follow it: a numpy product
        here left OpenBLAS's threads spinning against torch's through the
        neighbour choice's top-k (2.4x slower on 2 cores).
        """
        known = getattr(self, "_embeddings64", None)
        if known is None or known.shape[0] != self.embeddings_.shape[0]:
            known = self._embeddings64 = np.ascontiguousarray(self.embeddings_, dtype=np.float64)
        return _matmul(emb, known.T).astype(np.float32)

    def _item_matrix(self, n_rows=None):
        """The known users' items (binary), dense when small enough, else sparse.

        Dense up to ``KEEP_TERMS_FLOATS`` entries: the sparse-sparse product
        of ``_hits`` is many times slower. For fewer than ``DENSE_ROWS``
        rows to score (``n_rows``; None: many), sparse: densifying the
        known users x items (up to 128 MB) on each call cost more than a
        few rows' sparse product. The counts are the same (small integers).
        """
        if n_rows is not None and n_rows < DENSE_ROWS:
            return self.items_
        if self.items_.shape[0] * self.items_.shape[1] <= KEEP_TERMS_FLOATS:
            return self.items_.toarray()
        return self.items_

    def _hits(self, sim, k, items):
        """How many of each row's ``k`` nearest known users (``sim``: similarity
        to them) have each item; users tied at the k-th count in part.

        The products are of 0/1 matrices: whole counts, the same in any
        batch and either product; a tie's share is applied to them after.
        """
        chosen, split, tied, share = _neighbours(sim, k)
        hits = self._count(chosen, items)
        if len(split):
            hits[split] += share.astype(np.float32)[:, None] * self._count(tied, items)
        return hits

    @staticmethod
    def _count(chosen, items):
        """``chosen`` (a boolean matrix over the known users) times their ``items``."""
        if isinstance(items, np.ndarray):
            return _matmul(chosen.astype(np.float32), items)
        return (sp.csr_matrix(chosen, dtype=np.float32) @ items).toarray()

    def _prior(self, count, smoothing):
        """``smoothing * count`` users' worth of popularity, per item (a row)."""
        n = self.n_item_interactions_
        share = n / max(n.sum(), 1)
        per_user = n.sum() / max(self.n_users_, 1)
        return (smoothing * count * per_user * share).astype(np.float32)[None, :]
