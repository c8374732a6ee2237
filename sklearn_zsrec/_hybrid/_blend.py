"""The blend: its terms over the fitted members, and their weighted sum, written once.

Every term is a standardised member score (a z-score per user) restricted
to a kind of item, or a constant per item (popularity, the new items'
offset). Per member ``m`` (see ``term_names``):

- a member with factors (``user_factors_``, ``item_factors_``: ALS):
  ``m`` (``z_m`` on items with interactions), ``m_gated`` (``w * z_m``),
  ``m_short`` (``z_m / (1 + log n_u)``), ``m_recent``, ``m_recent_gated``
  (the same for the recency-weighted profile of the user's items'
  factors), ``m_new`` and ``m_recent_new`` (both on new items, whose
  factors are mapped from their text);
- any other member: ``m`` (its scores enter once: more terms of the same
  scores, its weight per history length within a bin or its scores
  carried to new items through their text neighbours, measured worse on
  MovieLens-100K: docs/blend.md);
- the text model: ``text_gated`` (``(1 - w) * z_text`` on every item) and
  ``text_new`` (``z_text`` on new items); ``popularity``,
  ``popularity_new`` (predicted from text) and ``new_item`` (1 on new items).

``w(u, i) = a(u) b(i)`` is the CF gate: ``a = n_u / (n_u + switch)``,
``b = n_i / (n_i + item_switch)`` (0 on new items).

``Blend.scores`` is the only definition of the blend: the terms the
learned blend is fitted on are ``Blend.scores`` with one coefficient 1
(``Blend.terms``). It computes the factor and text terms as matrix
products: a z-score ``(x_u . y_i - mean_u) / std_u`` is the product of
``x_u / std_u`` with the centred item vector, the per-user mean and
standard deviation following from the item side's mean and covariance.
The other members' z-scores are their ``score_items`` times ``weight /
std_u``, added in place; their ``- weight * mean_u / std_u`` on the items
with interactions rides in the CF product (a row of ones over those items),
and ``mean_u``, ``std_u`` are computed the first time a user is scored and
kept with the fitted models (a known user's scores do not change after fit).
"""

import numbers
from dataclasses import dataclass

import numpy as np

from .._scores import _matmul, _put_columns, _tensor, underflow_ignored
from ._members import dropped_names

# upper edges of the history-length bins; each bin (users with at most that
# many interactions, and one bin above the last edge) gets its own blend
# where the holdout has enough interactions for it
HISTORY_BINS = (3, 10, 30)
N_BINS = len(HISTORY_BINS) + 1
# the terms each kind of member adds (suffixes of its name)
FACTOR_TERMS = ("", "_gated", "_short", "_recent", "_recent_gated", "_new", "_recent_new")
SCORE_TERMS = ("",)
# a member's scores that vary by less than this for a user (and not within
# rounding of their mean) are first multiplied by the power of two that
# brings their deviation to [1, 2) (exact in float32; z-scores do not change):
# weight / deviation would overflow float32 for weights above ~1e8 (a user
# whose weights span 1e31 gave next-item scores varying by 1e-31)
TINY_SPREAD = 1e-30
# a user's embedding or factors below this fraction of the model's largest
# count as 0 (constant scores): a float32 factor solve leaves errors of about
# 1e-7 of its largest factors, so such a vector's direction is that noise
# (ALS gave one MovieLens user factors 1e-12 of the others' in a 25% sample)
NEGLIGIBLE = 1e-6
# directions of the items' factors whose variance is below this share of the
# largest are left out of the whitened basis (``_whitening``): the items do
# not spread along them, beyond rounding
WHITEN_RTOL = 1e-10
TEXT_TERMS = ("text_gated", "text_new", "popularity", "popularity_new", "new_item")


def bin_labels():
    """The history-length bins' labels: ``["1-3", "4-10", "11-30", ">30"]``."""
    edges = [0, *HISTORY_BINS]
    return [f"{a + 1}-{b}" for a, b in zip(edges[:-1], edges[1:])] + [f">{edges[-1]}"]


def term_names(factor_names, score_names):
    """The blend's terms, in the order of ``coef_``'s columns."""
    names = [*TEXT_TERMS]
    for name in factor_names:
        names += [name + suffix for suffix in FACTOR_TERMS]
    for name in score_names:
        names += [name + suffix for suffix in SCORE_TERMS]
    if len(set(names)) < len(names):
        raise ValueError(f"HybridRecommender: member names give repeated blend terms {names}; "
                         "rename the members (e.g. not 'als' and 'als_recent').")
    return tuple(names)


def standardize(scores, mask=None):
    """Z-score each row, over the columns in ``mask`` (all when None).

    Works in place on ``scores`` (a float scratch array) and returns it. The
    variance is a sum of squares per row (``einsum``: no temporary array).
    """
    part = scores if mask is None or mask.all() else scores[:, mask]
    mean = part.mean(axis=1, keepdims=True)
    part -= mean
    var = np.einsum("ij,ij->i", part, part)
    std = np.sqrt(var / max(part.shape[1], 1))[:, None]
    if part is not scores:
        scores -= mean
    scores /= np.maximum(std, 1e-12)
    return scores


@dataclass
class _Items:
    """The item side of the blend's products (see ``Blend._items``)."""

    text: np.ndarray  # (text dims, n_items): centred text embeddings, transposed
    cf: np.ndarray  # (factor blocks + 1, n_items): whitened factors, gated, popularity
    new: np.ndarray  # (text + factor dims + 2, n_new): the same for new items, offsets
    cold: np.ndarray  # columns of the items without interactions
    gate: np.ndarray  # the item part b(i) of the CF gate
    covs: dict  # (covariance, mean squares per dimension), float64, of text embeddings, factors
    to_user: dict  # per factor member, the user side of its whitened basis (``_whitening``)


def fixed_coef(blend, weights, members):
    """The fixed blend's ``coef`` (one row per bin): ``weights`` on each member's main term.

    A member with factors gets its gated term; ``weights`` None is ``{"text":
    1, <first member>: 1}``. Without a ``"text"`` weight no weighted term
    scores the items without interactions, which would then score 0, an
    average item's z-score, and outrank every below-average item with
    interactions (catalog order among them); their ``new_item`` term (1 on
    them) then gets ``-floor``, below any score the weighted terms give an
    item with interactions (a z-score over the ``m`` items with interactions
    is at most ``sqrt(m - 1)`` in size), so they come after every item with
    interactions.
    """
    weights = weights if weights is not None else {"text": 1.0, members[0][0]: 1.0}
    names = {"text", "popularity", *(name for name, _ in members)}
    weights = {k: v for k, v in weights.items() if k in names}  # not those of dropped members
    coef = np.zeros(len(blend.names), dtype=np.float32)
    for key, value in weights.items():
        term = {"text": "text_gated", "popularity": "popularity"}.get(key, key)
        if key in blend.fitted.factors:
            term = key + "_gated"
        coef[blend.index[term]] = value
    if not weights.get("text"):
        f = blend.fitted
        popularity = np.abs(f.popularity[f.n_items > 0]).max(initial=0.0)
        in_members = sum(abs(v) for k, v in weights.items() if k not in ("text", "popularity"))
        floor = (1.0 + in_members * np.sqrt(max(np.count_nonzero(f.n_items), 1))
                 + abs(weights.get("popularity", 0.0)) * popularity)
        coef[blend.index["new_item"]] = -floor
    return np.tile(coef, (N_BINS, 1))


class Blend:
    """The blend's terms over one ``Fitted`` record, and their weighted sum.

    ``coef`` arguments hold one row per user (``per_user``) or one per
    history-length bin, columns in the order of ``names``.
    """

    # a learned blend's longest held-out history: longer ones are scored as
    # that long (its gates and short-history term are not extrapolated)
    longest = None

    def __init__(self, fitted, switch, item_switch):
        self.fitted, self.switch, self.item_switch = fitted, switch, item_switch
        self.names = term_names(fitted.factor_names, fitted.score_names)
        self.index = {name: k for k, name in enumerate(self.names)}
        self.warm = fitted.n_items > 0

    def grown(self, text):
        """This blend, as fitted, over the text model ``text`` grown by ``add_items``."""
        out = Blend(self.fitted.grown(text), self.switch, self.item_switch)
        out.longest = self.longest
        return out

    def bins(self, rows):
        """Each user's history-length bin (see ``HISTORY_BINS``)."""
        return np.searchsorted(np.asarray(HISTORY_BINS), self.fitted.n_users[rows], side="left")

    def per_user(self, coef, rows):
        return coef[self.bins(rows)]

    def gates(self, n_u, n_items):
        """``a, b`` with CF gate ``w(u, i) = a(u) * b(i)``; ``b`` is 0 on new items.

        A switch of 0 gives 1 (a count of 0 included: 0 / 0 counts as 1).
        """
        def gate(n, switch):
            # a switch beyond float32's range as its largest (a gate of 0)
            switch = np.float32(min(float(switch), float(np.finfo(np.float32).max)))
            if switch == 0:  # (a switch below float32's smallest counts as 0)
                return np.ones(len(n), dtype=np.float32)
            return (n / (n + switch)).astype(np.float32, copy=False)

        return gate(n_u, self.switch), gate(n_items, self.item_switch) * (n_items > 0)

    def terms(self, rows, users, needed=None):
        """Each term of ``names`` for the users ``rows`` (ids ``users``), over the catalog.

        ``needed``: a mask of the terms to compute (the others are None), as
        ``scores`` computes only the terms of non-zero weight: a member whose
        scores it cannot standardise raises only where it is weighed.
        """
        scratch = {}  # member scores, computed once for all the terms
        unit = np.eye(len(self.names), dtype=np.float64)
        return [self.scores(rows, users, np.broadcast_to(e, (len(rows), len(e))), scratch)
                if needed is None or needed[k] else None for k, e in enumerate(unit)]

    @staticmethod
    def combine(terms, coef):
        """``sum_k coef[:, k] * terms[k]``: the blend of terms from ``terms``.

        One multithreaded pass per term (torch's ``addcmul_``), in float32.
        """
        import torch

        out = np.zeros(terms[0].shape, dtype=np.float32)
        for k, term in enumerate(terms):
            c = coef[:, k]
            if c.any():
                torch.from_numpy(out).addcmul_(torch.from_numpy(c.astype(np.float32))[:, None],
                                               _tensor(np.asarray(term, dtype=np.float32)))
        return out

    def profiled(self, rows):
        """Which user ``rows`` the blend scores: known users with a text profile.

        The others (not seen in fit, or whose interactions all weigh 0, e.g.
        impressions without a click) are scored as new users, as the text
        model scores them: a profile of zeros gave every term 0 and, with the
        fixed blend, the catalog in its own order.
        """
        rows = np.asarray(rows)
        return (rows >= 0) & self.fitted.text.user_embeddings_[np.maximum(rows, 0)].any(axis=1)

    @underflow_ignored
    def scores(self, rows, users, coef, scratch=None):
        """The blend of known users ``rows`` (ids ``users``), one coefficient row per user."""
        import torch

        f, items = self.fitted, self._items()
        coef = np.asarray(coef, dtype=np.float64)
        scratch = {} if scratch is None else scratch
        n_u = f.n_users[rows].astype(np.float32)
        if self.longest is not None:
            n_u = np.minimum(n_u, np.float32(max(self.longest, 1)))
        a, _ = self.gates(n_u, f.n_items[:0])
        short = (1.0 / (1.0 + np.log(np.maximum(n_u, 1.0))))[:, None]
        mask = None if self.warm.all() or not self.warm.any() else self.warm
        std = self._user_stds(items)
        # the user side in float32, as the products it enters
        coef32 = coef.astype(np.float32)
        col = lambda name: coef32[:, self.index[name]][:, None]  # noqa: E731
        if "text" not in scratch:
            scratch["text"] = _scaled(f.text.user_embeddings_[rows], std["text"][rows])
        text = scratch["text"]
        gated_text = col("text_gated")
        if gated_text.any():
            out = _matmul(gated_text * text, items.text)
            if a.any() and items.gate.any():  # text on warm items: times (1 - a(u) b(i))
                t = torch.from_numpy(out)  # out - a(u) (out b(i)): no gate matrix
                t.addcmul_(t * _tensor(items.gate), torch.from_numpy(a)[:, None],
                           value=-1.0)
        else:
            out = np.zeros((len(rows), len(self.warm)), dtype=np.float32)
        user, new = [], [(gated_text + col("text_new")) * text] if items.cold.size else []
        for name in f.factor_names:
            if name not in scratch:
                member_rows = f.member_rows(name, users, rows)
                known = (member_rows >= 0)[:, None]
                x = _whitened(f.user_factors(name, member_rows) * known, items.to_user[name])
                scratch[name] = (_scaled(x, std[name][member_rows] * known[:, 0] + ~known[:, 0]),
                                 _scaled(_whitened(f.recent[name][rows], items.to_user[name]),
                                         std[name + "_recent"][rows]))
            x, x_recent = scratch[name]
            user += [(col(name) + col(name + "_short") * short) * x
                     + col(name + "_recent") * x_recent,
                     a[:, None] * (col(name + "_gated") * x + col(name + "_recent_gated") * x_recent)]
            if items.cold.size:
                new.append(col(name + "_new") * x + col(name + "_recent_new") * x_recent)
        user.append(col("popularity"))
        new += [col("new_item"), col("popularity_new")]
        # the other members' z-scores (over the items with interactions, 0
        # elsewhere): ``weight / std`` times the member's own scores, the
        # ``- weight * mean / std`` of the warm items going into the product
        # below (its ``warm`` row); means and deviations per user are cached
        scaled, offset = [], np.zeros(len(rows), dtype=np.float64)
        for name in f.score_names:
            weight = coef[:, self.index[name]]
            if not weight.any():
                continue
            if name not in scratch:
                scratch[name] = f.member_scores(name, users, rows)
            mean, std = self._score_stats(name, rows, scratch[name], mask)
            raw, tiny = scratch[name], (std > 0) & (std < TINY_SPREAD)
            if tiny.any():  # see TINY_SPREAD: a copy, scaled by a power of two
                power = np.minimum(-np.floor(np.log2(np.where(tiny, std, 1.0))), 126)
                factor = np.exp2(power * tiny)  # at most 2**126: finite in float32
                raw, mean, std = raw * factor[:, None].astype(np.float32), mean * factor, std * factor
            scale = np.divide(weight, std, out=np.zeros_like(weight), where=std > 0)
            offset -= scale * mean
            scaled.append((scale.astype(np.float32), raw))
        user.append(offset[:, None].astype(np.float32))
        user = np.hstack(user)
        if user.any():  # out += user @ items.cf, in place
            torch.from_numpy(out).addmm_(torch.from_numpy(user.astype(np.float32, copy=False)),
                                         _tensor(items.cf))
        for scale, raw in scaled:
            torch.from_numpy(out).addcmul_(torch.from_numpy(scale)[:, None], _tensor(raw))
        if items.cold.size:  # new items: their own product replaces the above
            new = np.hstack(new)
            _put_columns(out, items.cold, _matmul(new, items.new) if new.any() else 0.0)
        return out

    def _score_stats(self, name, rows, raw, mask):
        """Per-user mean and standard deviation of member ``name``'s scores ``raw``.

        Over the items with interactions (``mask``; all when None), in
        float64. Cached per user row of the fitted model (the scores of a
        known user do not change after fit); a deviation within rounding of
        the mean (8 machine epsilons of the scores' dtype) is 0: a constant
        row, whose z-score is 0. Raises for non-finite scores.
        """
        key = ("score stats", name)
        if key not in self.fitted.cache:
            n = len(self.fitted.n_users)
            self.fitted.cache[key] = (np.full(n, np.nan), np.full(n, np.nan))
        means, stds = self.fitted.cache[key]
        missing = np.isnan(means[rows])
        if missing.any():
            part = raw if missing.all() else raw[missing]
            part = part if mask is None else part[:, mask]
            mean = part.mean(axis=1, dtype=np.float64)
            std = part.std(axis=1, dtype=np.float64)
            finite = np.isfinite(mean) & np.isfinite(std)
            if not finite.all():
                self._raise_for_scores(
                    name, rows[missing][~finite],
                    "non-finite scores (NaN or inf, or too large to standardise)",
                    "so they must be finite. Fix the member's score_items (e.g. a low finite "
                    "score for items it would rule out, instead of -inf)")
            eps = np.finfo(part.dtype if part.dtype.kind == "f" else np.float64).eps
            constant = std <= 8 * eps * np.abs(mean)
            # deviations first: a mean that is no longer NaN marks both as set
            # (for recommend calls in other threads)
            stds[rows[missing]] = np.where(constant, 0.0, std)
            means[rows[missing]] = mean
        return means[rows], stds[rows]

    def _raise_for_scores(self, name, bad, what, fix):
        """A ValueError naming member ``name``, the users ``bad`` (rows), ``what`` and ``fix``."""
        member = self.fitted.members[name]
        raise ValueError(
            f"HybridRecommender: member {name!r} ({type(member).__name__}) gave {what} to "
            f"{len(bad)} users (e.g. {self.fitted.text.users_[bad[:5]].tolist()}); the blend "
            f"standardises each member's scores per user, {fix}.")

    def _items(self):
        """The item side of ``scores``, computed once per fitted model.

        Every score is standardised over the items with interactions, the
        text's too (new items get their z-score on that scale): so the
        ranking of the items with interactions does not depend on how many
        items without any the catalog holds. The text over the whole catalog
        when the items with interactions all have one embedding (one such
        item, or one text): over them it would be constant, a z-score of 0
        on every item, and the text would rank no new item.
        """
        f = self.fitted
        key = ("blend items", float(self.item_switch))
        if key in f.cache:
            return f.cache[key]
        warm = self.warm
        over = warm if warm.any() else np.ones_like(warm)
        cold = np.flatnonzero(~warm)

        def centred(y, rows):  # and (covariance, mean squares per dimension) over ``rows``
            c = y.astype(np.float64) - (mean := y[rows].astype(np.float64).mean(axis=0))
            cov = _matmul(c[rows].T, c[rows]) / max(rows.sum(), 1)
            return c, (cov, np.diag(cov) + mean * mean)

        embeddings = f.text.item_embeddings_
        varies = np.ptp(embeddings[over], axis=0).any()
        text, text_cov = centred(embeddings, over if varies else np.ones_like(warm))
        _, gate = self.gates(np.zeros(0), f.n_items)
        covs, blocks, new, to_user = {"text": text_cov}, [], [text[cold]], {}
        for name in f.factor_names:
            factors, covs[name] = centred(f.factors[name], over)
            to_items, to_user[name] = _whitening(covs[name][0])
            factors = factors @ to_items
            blocks += [factors, gate[:, None] * factors]
            new.append(factors[cold])
        # the row that carries the other members' per-user offsets: over the
        # items their z-scores are taken over (``over``, as ``mask`` in scores)
        blocks += [(f.popularity * warm)[:, None], over[:, None].astype(np.float64)]
        new += [np.ones((len(cold), 1)), f.popularity[cold, None]]

        def transposed(parts):
            return np.ascontiguousarray(np.hstack(parts).T, dtype=np.float32)

        f.cache[key] = _Items(transposed([text]), transposed(blocks), transposed(new), cold,
                              gate.astype(np.float32), covs, to_user)
        return f.cache[key]

    def _user_stds(self, items, chunk=4096):
        """Per-user standard deviations of the text and factor scores over the items.

        ``sqrt(x' C x)`` with ``C`` the items' covariance, once per fitted
        model (float64, ``chunk`` users at a time). 0 for constant scores
        (z-score 0): a deviation within float32 rounding of the product's
        terms, ``sqrt(sum_k x_k^2 E[y_k^2])`` (not of the items' spread, which
        shrinks with their differences: items a solve left 1e-7 apart gave
        z-scores of +-1), or a user vector of a solve below ``NEGLIGIBLE`` of
        the model's largest (its direction is a solve's rounding noise).
        Both rules are relative: they hold for vectors of any size. The
        recency profiles are exact sums of the user's weighted items, whose
        direction holds at any size: only the first rule applies to them.
        """
        f = self.fitted
        if "user std" not in f.cache:
            def std(x, moments, scale=1.0, solved=True):
                (cov, square), (var, norm, size) = moments, np.empty((3, len(x)))
                for start in range(0, len(x), chunk):
                    part = x[start:start + chunk].astype(np.float64) * scale
                    var[start:start + chunk] = (_matmul(part, cov) * part).sum(axis=1)
                    norm[start:start + chunk] = np.sqrt((part * part).sum(axis=1))
                    size[start:start + chunk] = np.sqrt((part * part * square).sum(axis=1))
                out = np.sqrt(np.maximum(var, 0.0))
                rounding = 8 * np.finfo(np.float32).eps * size
                negligible = solved & (norm <= NEGLIGIBLE * norm.max(initial=0.0))
                return np.where((out <= rounding) | negligible, 0.0, out)

            stds = {"text": std(f.text.user_embeddings_, items.covs["text"])}
            for name in f.factor_names:
                stds[name] = std(f.members[name].user_factors_, items.covs[name],
                                 f.user_scales[name])
                stds[name + "_recent"] = std(f.recent[name], items.covs[name], solved=False)
            f.cache["user std"] = stds
        return f.cache["user std"]


def _whitening(cov):
    """``(to_items, to_user)``: the item and user sides of a factor product in the
    basis where the items' centred factors are uncorrelated, of variance 1.

    ``(x @ to_user) . (c @ to_items) == x . c`` for centred item factors
    ``c`` (of covariance ``cov``), over its eigenvectors of eigenvalue above
    ``WHITEN_RTOL`` of the largest (at least one column: of zeros when none
    is). There a user's z-score is its unit vector times items of spread 1:
    its float32 rounding no longer grows as the user's factors turn
    orthogonal to the items' spread, where the plain product ``x . c``
    cancels (a z-score of 1 came out 0.9992, and a blend's terms did not add
    up to its score).
    """
    values, vectors = np.linalg.eigh(cov)
    keep = values > WHITEN_RTOL * max(values.max(initial=0.0), 0.0)
    if not keep.any():
        return np.zeros((len(cov), 1)), np.zeros((len(cov), 1))
    root = np.sqrt(values[keep])
    return vectors[:, keep] / root, vectors[:, keep] * root


def _whitened(x, to_user):
    """User vectors ``x`` on the whitened basis (``_whitening``): the product in float64,
    through torch (``_matmul``: a numpy product here made recommend 5 to 10 times slower)."""
    return _matmul(x, to_user).astype(np.float32)


def _scaled(x, std):
    """``x / std(x . y)`` over the items, in float32; 0 where ``std`` is 0 (constant scores)."""
    with np.errstate(under="ignore"):  # tiny entries of a long history's profile
        return x / np.where(std > 0, std, np.inf).astype(np.float32)[:, None]


def check_weights(weights, members, all_members):
    """Raise when the hybrid's ``weights`` cannot give a ranking (checked whatever the blend).

    ``members``: the (name, member) pairs kept; ``all_members``: the
    hybrid's ``members`` parameter (its dropped names are allowed keys).
    """
    if weights is None:
        return
    keys = ["text", "popularity", *(name for name, _ in members)]
    unknown = sorted(set(weights) - set(keys) - set(dropped_names(all_members)), key=str)
    if unknown:
        raise ValueError(f"HybridRecommender: weights has unknown keys {unknown}; use "
                         f"{keys} (the members' names; missing keys weigh 0).")
    bad = {k: v for k, v in weights.items()
           if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v)}
    if bad:
        raise ValueError(f"HybridRecommender: weights must be finite numbers; got {bad}.")
    # in float32, a weight beyond overflowed (NaN scores) or became 0 (1e-46 alone: all 0)
    if extreme := {k: v for k, v in weights.items() if v and not 1e-30 <= abs(v) <= 1e30}:
        raise ValueError(f"HybridRecommender: weights must be 0 or 1e-30 to 1e30 in size (the "
                         f"blend computes in float32); got {extreme}. Only their ratios "
                         "matter: scale them all by one number (0 for one too small to count).")
    if not any(v for k, v in weights.items() if k in keys):
        raise ValueError(
            f"HybridRecommender: every weight is 0 or a dropped member's ({weights}): "
            "the blend would score every item 0. Give at least one member a weight, or "
            "weights=None for the text model and the first member at 1.")
