"""HybridRecommender: a text model for the cold, named collaborative members for the warm."""

import logging
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import _BaseComposition

from .._base import BaseRecommender
from .._interactions import arrow_values, object_array
from .._cold_start import CallTextsMixin, check_new_items, grow_catalog, restored_on_error
from .._explain import contributions
from .._ids import _other_type
from .._fine_tune import UNSEEDED_HYBRID
from .._params import Count
from .._progress import Stages, caller_stacklevel, one_id_warning
from ._blend import N_BINS, Blend, bin_labels, check_weights, fixed_coef
from ._exposure import Exposure, exposure_of, resumed, unpicked_items
from ._fallback import warn_tiny
from ._learn import Learner
from ._checks import check_classes, check_members, check_text, default_members
from ._members import fit_members, positions, visual_block
from ._new_users import TextNeighbours

logger = logging.getLogger("sklearn_zsrec._hybrid")


class HybridRecommender(CallTextsMixin, _BaseComposition, BaseRecommender):
    """Blend a zero-shot text model with named collaborative recommenders.

    Each known user's scores are a weighted sum of terms: every member's
    scores over the catalog, standardised per user over the items with
    interactions (z-scores, one scale for all), on items with interactions;
    the text model's scores (standardised alike) on every item; popularity;
    and, for items without interactions, their text and what their text
    predicts of each member's scores. The text model scores cold users and
    cold items; the collaborative members take over as interactions
    accumulate, through the CF gate ``w(u, i) = n_u / (n_u + switch) * n_i /
    (n_i + item_switch)``: with ``blend="fixed"`` and the default weights
    the score is ``w * z_als + (1 - w) * z_text``.

    With ``blend="learned"`` (default) ``fit`` learns the weights: it holds
    out the latest interaction of each user with 2+ interactions (of half
    of them, drawn at random, where users of 2-3 interactions are common;
    the others keep their latest ones), hides a fifth of the items (so
    that some held-out items are new, as in production), fits the members
    on the rest and a logistic regression of held-out item against random
    candidates on the terms, one per history-length bin (1-3, 4-10, 11-30
    and more interactions); the mean of those fits serves every bin unless
    the bin's own fit or a fixed sum of terms ranks its held-out items
    clearly better. Then it refits the members on all the data.
    docs/blend.md lists the terms and the rules.

    A member is any recommender with ``fit`` and the public scoring
    protocol ``score_items(users)`` (scores over its ``items_`` for users of
    its ``users_``): a ``BaseRecommender`` subclass, of this package or your
    own. A member with ``user_factors_`` and ``item_factors_`` (ALS) also
    gets terms for its recency-weighted factor profile and factors mapped
    from text for new items. Members' scores enter as z-scores per user, so
    their scale does not matter (docs/blend.md).

    Users not seen in ``fit`` (or whose interactions all weigh 0) are scored
    from their text when the text model has ``user_texts``: the items of the
    ``user_neighbors`` known users whose texts are most similar (those tied
    at the last place share it), smoothed toward popularity, their top-10 ending
    with the declared arrivals closest to their text (``new_items`` as a
    list, items added by ``add_items``; learned blend); otherwise by the
    text model (its popularity fallback).

    Parameters
    ----------
    text : ZeroShotRecommender
        The text model; its ``item_texts`` define the catalog.
    members : list of (str, recommender) or None, default=None
        The collaborative members, by name. None blends
        :meth:`default_members`: ``[("als", ALSRecommender()), ("knn",
        ItemKNNRecommender()), ("next", NextItemRecommender())]``, the ALS
        seeded by ``random_state``. Names prefix the members' parameters, as
        in a ``Pipeline`` (``knn__n_neighbors``, ``als__factors``); to tune
        them, pass the list (members passed keep their own ``random_state``).
        A member set to ``"drop"`` is left out (its weight too).
    blend : {"learned", "fixed"}, default="learned"
        Learn the blend on a holdout, or use ``weights``. ``"learned"`` warns
        and uses the default weights when the holdout has under 2 usable
        interactions, or cannot judge a member (constant scores there).
    weights : dict or None, default=None
        The fixed blend's weight of each member's z-scored scores by name,
        and of ``"text"`` (``(1 - w) * z_text``) and ``"popularity"``; a
        member with factors is gated (``w * z``), the others are added as
        they are, on items with interactions; missing keys weigh 0. Items
        without interactions score ``weights["text"] * z_text`` (near 0, an
        average item's score, for a small text weight: no quota, unlike the
        learned blend); without a text weight they rank after every item
        with interactions. None is ``{"text": 1, <first member>: 1}``. Used by
        ``blend="fixed"`` only (checked by ``fit`` whatever the blend: each 0, or 1e-30
        to 1e30 in size, only their ratios matter); ``GridSearchCV`` can search them, e.g.
        ``{"blend": ["fixed"], "weights": [{"text": 1, "als": 1, "knn": k} for k in (0, 1, 2)]}``.
    switch : float, default=2.0
        User interaction count at which the CF gate ``w`` reaches one half.
    item_switch : float, default=5.0
        Item interaction count at which the CF gate reaches one half.
    C : float, default=1.0
        Inverse regularisation of the learned blend's logistic regressions.
        Very large values on a small holdout can make scikit-learn's Newton
        solver warn (LinAlgWarning) and fall back to lbfgs: lower ``C`` then.
    user_neighbors : int or "auto", default="auto"
        Known users whose items score a new user (with ``user_texts``), capped
        at one less than the known users with texts and interactions (at least 1).
        ``"auto"`` picks it in ``fit`` among 10, 25, 50, 100, 200 and 400 (10
        with fewer than 50 such users, too few to judge).
    new_items : "all", array-like of item ids or None, default="all"
        Which catalog items without interactions are fresh arrivals (added
        after the interactions were logged: the log cannot say how popular
        they will be). Each arrival is shown as often as a hidden item of the
        holdout, that is as often as an average item, the most text-relevant
        ones first. ``"all"`` (default): every item of ``item_texts`` without
        interactions, so that new products show up without declaring them,
        but those X shows (rows of weight 0) to so many users without a pick
        that an item picked at the log's rate would have been picked (95%
        sure): the log's tail, as with None. A list of ids: those only (ids
        not in the catalog raise a ``ValueError``; ids with interactions are
        ordinary items; the other items without interactions are the log's
        tail, with their own quota). None: no arrival, for logs whose
        items without interactions are old tail items (a sample): shown as
        often as this log's next interactions go to items it had not reached,
        cut to a half, a quarter or none unless the holdout's NDCG@10 says
        those slots pay off. docs/blend.md gives the trade-off in numbers.
    new_item_exposure : float, default=1.0
        Multiplies the share of the top-10 given to items without
        interactions (``new_item_share_``): above 1 shows them more often, 0
        keeps them out of the top-10 (the learned blend's; not the fixed one's).
    random_state : int, RandomState instance or None, default=None
        Seeds the holdout's hidden items and negatives, and the default
        members (``members=None``). An int makes ``fit`` repeatable when the
        members passed are seeded too (e.g. ``ALSRecommender(random_state=0)``).
    verbose : int, default=1
        Show a progress bar over the stages of ``fit`` when it takes more
        than two seconds; 2 also prints the blend chosen per history-length
        bin (logged at INFO level by the ``sklearn_zsrec`` logger in any
        case); 0 silences both.

    Attributes
    ----------
    text_ : ZeroShotRecommender
        The fitted text model. When ``text`` fine-tunes its encoder and the
        blend is learned, a copy of ``text`` with ``fine_tune=None`` whose
        ``encoder`` is the one tuned on the holdout's rows.
    named_members_ : Bunch
        The fitted members by name (``named_members_.knn``); each one's
        ``explain`` says which of a user's items made an item score high.
        Fitting one with ``user_items_`` (a ``BaseRecommender``), or ``text_``,
        again makes the hybrid raise until it is fitted again; fit a ``clone``
        to use a member on its own.
    terms_ : tuple of str
        The blend's terms, in the order of ``coef_``'s columns.
    coef_ : ndarray of shape (4, n_terms)
        Blend weights, one row per history-length bin.
    blend_choice_ : list of str
        The blend kept for each history-length bin: one of
        ``blend_candidates_``, or ``"fixed"``.
    blend_candidates_ : tuple of str
        The candidate blends of ``blend="learned"`` (the bin's own fit, the
        global fit and fixed sums of terms); empty with ``blend="fixed"``.
    blend_validation_ndcg_ : ndarray of shape (4, n_candidates)
        The held-out NDCG@10 of each candidate per bin (zeros for a bin
        without held-out users); shape (4, 0) with the fixed blend, also
        when ``blend="learned"`` falls back to it.
    new_item_share_ : float or None
        The share of every known user's top-10 given to items without
        interactions (its top-10 of unseen items: with
        ``recommend(exclude_seen=False)`` its training items compete for those
        slots too); None when the catalog has none or with the fixed blend.
    new_item_thresholds_ : ndarray of shape (4,), (2, 4) or None
        Per bin, the margin above which a user gets one more new item than
        its quota's floor; with both arrivals and tail items (a list of
        ``new_items``, items added to a catalog with a tail, or items shown
        often and never picked), one row for each, arrivals first.
    user_neighbors_, user_neighbors_smoothing_ : int, float or None
        New users' neighbour count and popularity smoothing; None without texts.
    users_ : ndarray of shape (n_users,)
        User ids seen in ``fit``.
    items_ : ndarray of shape (n_items,)
        The catalog: the text model's items.
    user_items_ : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Training interactions (weights), used to exclude seen items.
    n_user_interactions_, n_item_interactions_ : ndarray
        Distinct items per user and distinct users per item in ``fit`` (of
        non-zero weight).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec import (ALSRecommender, HybridRecommender,
    ...                            TextEncoder, ZeroShotRecommender)
    >>> items = pd.Series({1: "Toy Story (1995). Animation, Children's",
    ...                    2: "Aladdin (1992). Animation, Children's, Musical",
    ...                    3: "Heat (1995). Action, Crime, Thriller",
    ...                    4: "Die Hard (1988). Action, Thriller",
    ...                    5: "Toy Story 2 (1999). Animation, Children's"})
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3],
    ...                   "item_id": [1, 2, 3, 4, 1]})
    >>> text = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=items)
    >>> hybrid = HybridRecommender(
    ...     text, [("als", ALSRecommender(factors=2, random_state=0))], blend="fixed")
    >>> hybrid.fit(X).recommend([3], n=1)  # item 5 is new: text finds it
    array([[5]])
    >>> hybrid.named_members_.als.recommend([3], n=1)  # ALS alone cannot
    array([[2]])
    """

    _handles_unknown_users = True
    _parameter_constraints = {
        "text": [HasMethods(["fit", "score_items"])],
        "members": [list, None],
        "blend": [StrOptions({"learned", "fixed"})],
        "weights": [dict, None],
        "switch": [Interval(Real, 0, None, closed="left")],
        "item_switch": [Interval(Real, 0, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "user_neighbors": [Count(1, None, closed="left"), StrOptions({"auto"})],
        "new_items": [StrOptions({"all"}), "array-like", None],
        "new_item_exposure": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, text, members=None, *, blend="learned", weights=None, switch=2.0,
                 item_switch=5.0, C=1.0, user_neighbors="auto", new_items="all",
                 new_item_exposure=1.0, random_state=None, verbose=1):
        self.text, self.members = text, members
        self.blend = blend
        self.weights = weights
        self.switch = switch
        self.item_switch = item_switch
        self.C = C
        self.user_neighbors = user_neighbors
        self.new_items = new_items
        self.new_item_exposure = new_item_exposure
        self.random_state = random_state
        self.verbose = verbose

    default_members = staticmethod(default_members)

    def get_params(self, deep=True):
        """Parameters, with each member's as ``<name>__<parameter>`` (``deep``)."""
        return self._get_params("members", deep=deep and check_classes(self.members))

    def _sk_visual_block_(self):  # the HTML diagram: the text model and each member
        return visual_block(self.text, self.members, self.random_state)

    def set_params(self, **params):
        """Set parameters, a member's as ``<name>__<parameter>`` or a whole member by name."""
        if params.get("members", self.members) is None:
            defaults = [name for name, _ in default_members()]
            nested = sorted(key for key in params if key.split("__", 1)[0] in defaults)
            if nested:
                raise ValueError(
                    f"HybridRecommender: cannot set {nested}: members is None, so the default "
                    "members are made at fit and have no parameters to set before it. Pass "
                    "them to tune them: HybridRecommender(text, "
                    "members=HybridRecommender.default_members(random_state=0)), then "
                    f"set_params({nested[0]}=...) or search it in GridSearchCV.")
        self._set_params("members", **params)
        return self

    def _fit(self, data):
        check_text(self.text, data)
        members = check_members(self.members, self.random_state)
        clash = {name for name, _ in members} & set(self.get_params(deep=False))
        if clash:
            raise ValueError(f"HybridRecommender: member names {sorted(clash)} are parameters "
                             "of the hybrid; rename those members.")
        check_weights(self.weights, members, self.members)
        learned = self.blend == "learned"
        self._exposure, self._unpicked = None, unpicked_items(data)  # see _fresh_mask
        # text and members (twice with a holdout), the blend, exposure, new users
        stages = Stages((1 + len(members)) * (1 + learned) + learned + 2, self.verbose,
                        "HybridRecommender.fit")
        try:
            self._fit_stages(data, members, stages)
        finally:
            stages.close()
        return self

    def _fit_stages(self, data, members, stages):
        rng = check_random_state(self.random_state)
        learned = None
        text = self.text
        if self.blend == "learned":  # the holdout first: the final fit may reuse its text model
            learned, text = self._learn(data, members, rng, stages)
        blend = self._blend = Blend(fit_members(text, members, data, stages),
                                    self.switch, self.item_switch)
        fitted = blend.fitted
        self._fresh_mask(fitted.text)  # new_items checked whatever the blend
        self.terms_, self.new_item_share_, self.blend_candidates_ = blend.names, None, ()
        self.coef_ = fixed_coef(blend, self.weights, members)
        self.blend_choice_ = ["fixed"] * N_BINS
        self.blend_validation_ndcg_ = np.zeros((N_BINS, 0))
        if learned is not None:
            self._adopt(data, members, learned, stages)
        stages("new-item exposure")
        # add_items calibrates on the users this draws, as a refit would
        self._exposure_state = rng.get_state()
        self._set_exposure(rng)
        self.text_ = fitted.text
        self.named_members_ = Bunch(**fitted.members)
        self._index(data, items=self.text_.items_)
        stages("new users")
        # keyed by the text model's fit (it reads the data and that model only): one per grid
        self._new_users = TextNeighbours(self.user_neighbors, self.random_state).fit(
            self.text_, self.users_, self.user_items_, self.n_user_interactions_,
            self.n_item_interactions_, fitted.text_key).set_exposure(
                self._exposure, self._declared(fitted.text))
        self.user_neighbors_ = self._new_users.n_neighbors_
        self.user_neighbors_smoothing_ = self._new_users.smoothing_
        # add_items' draws, fixed by this fit (last: the fit's own draws are as they were)
        self._add_items_seed = int(rng.randint(np.iinfo(np.int32).max))

    def _learn(self, data, members, rng, stages):
        """The blend learned on a holdout (see the class doc), and the final fit's text model.

        A text model with ``fine_tune`` is tuned once, on the holdout's rows (a
        warning without an int random_state: the holdout changes with every
        fit), and the final fit uses that tuned encoder: the blend is learned on
        the text scores it is applied to. Without a learned blend, it tunes on all rows.
        """
        tuned = getattr(self.text, "fine_tune", None) is not None
        if tuned and not isinstance(self.random_state, Integral):
            warnings.warn(UNSEEDED_HYBRID, UserWarning, stacklevel=caller_stacklevel())

        def fit_blend(rows):
            holdout = fit_members(self.text, members, rows, lambda name: stages("holdout: " + name))
            self._fresh_mask(holdout.text)  # new_items checked before the final fit, not after
            stages("blend")
            return Blend(holdout, self.switch, self.item_switch)

        out = Learner(self.C, rng).learn(data, fit_blend)
        text = self.text
        if out.coef is not None and tuned:
            # an unfitted copy of the tuned encoder (its model: the tuned directory)
            text = clone(self.text).set_params(encoder=clone(out.text.encoder_),
                                               fine_tune=None)
        return out, text

    def _adopt(self, data, members, out, stages):
        """Take the learned blend ``out`` (the fixed one with a warning on tiny data)."""
        if out.coef is None:
            warn_tiny(data, out)
            self.coef_ = fixed_coef(self._blend, None, members)
            return
        zero = self._blend.fitted.n_items == 0
        Learner.share(out, int((zero & ~self._fresh_mask(self._blend.fitted.text)).sum()),
                      lambda text: self._fresh_mask(text) & zero)
        self.coef_, self.blend_choice_, self._blend.longest = out.coef, out.choice, out.longest
        self.blend_candidates_, self.blend_validation_ndcg_ = out.candidates, out.ndcg
        self._exposure = Exposure(out.arrival, out.unseen_share, self.new_item_exposure)
        message = "HybridRecommender: blend per history length: " + "; ".join(
            f"{label}: {choice}" for label, choice in zip(bin_labels(), self.blend_choice_))
        logger.info(message)
        if self.verbose >= 2:
            stages.write(message)

    def _set_exposure(self, rng, n_added=0):
        """Quotas of the items without interactions (learned blend); ``n_added``: by add_items."""
        exposure, self.new_item_thresholds_ = exposure_of(self), None
        if exposure is None:
            return
        if n_added:
            exposure.grown(self._blend, self.coef_, n_added, rng)
        else:
            exposure.fit(self._blend, self.coef_, self._fresh_mask(self._blend.fitted.text), rng)
        self.new_item_share_ = exposure.share_ if exposure.groups_ else None
        if exposure.thresholds_ is not None:  # one row per group: arrivals, then the others
            self.new_item_thresholds_ = (exposure.thresholds_[0] if len(exposure.groups_) == 1
                                         else exposure.thresholds_)

    def _declared(self, text):  # the arrivals a list of new_items names
        return self._fresh_mask(text) & (not isinstance(self.new_items, str))

    def _fresh_mask(self, text):  # catalog items that are fresh arrivals (new_items)
        if self.new_items is None:
            return np.zeros(len(text.items_), dtype=bool)
        if isinstance(self.new_items, str):  # "all": but those shown often, never picked
            return positions(self._unpicked, text.items_) < 0
        ids = arrow_values(self.new_items)  # a pyarrow array: its values
        if not hasattr(ids, "dtype"):  # a list of mixed ids must not turn into strings
            ids = object_array(list(ids))  # tuple ids stay elements
        ids = np.asarray(ids).ravel()
        cols = positions(text.items_, ids)
        if (cols < 0).any():
            unknown = pd.unique(ids[cols < 0])
            hint = _other_type(unknown, text.items_, "new_items")
            raise ValueError(f"HybridRecommender: {len(unknown)} new_items are not in the catalog "
                             f"(e.g. {unknown[:5].tolist()}{hint}); give them a text in "
                             "item_texts or leave them out of new_items.")
        return np.isin(np.arange(len(text.items_)), cols)

    def add_items(self, item_texts):
        """Add items to the catalog by their text, after ``fit``, without a refit.

        The new items have no interactions. Each is scored as ``fit`` scores
        an item without interactions declared in ``new_items``: by its text
        (the text model's ``add_items``), the popularity and factors its
        text predicts (the ridge maps fitted in ``fit``), with the learned
        blend's coefficients; and, with ``blend="learned"``, they join the
        fresh arrivals (declared or added earlier), whose quota of every
        user's top-10 is recalibrated for their number; the other items
        without interactions (the tail, e.g. all of them with
        ``new_items=None``) keep their own quota. No member is refitted: their
        scores of the new items are 0 until a refit gives them interactions.

        It changes the model in place, as ``fit`` does: not while other threads
        use it (grow a copy and swap it in). A call that raises changes nothing.

        Parameters
        ----------
        item_texts : pandas Series or dict
            Texts of the new items, by id; ids already in ``items_`` raise.

        Returns
        -------
        self : object
            The model, its catalog grown by the new items.
        """
        texts = check_new_items(self, item_texts)
        self._blend.fitted.check_unchanged()  # before the record takes the models as they are
        with restored_on_error(self, self.text_, self._new_users, getattr(self, "_exposure", None)):
            with one_id_warning(checked=True):  # the ids checked (and warned about) above
                self.text_.add_items(texts)
            self._blend = self._blend.grown(self.text_)  # the fitted switches, not ones set since
            grow_catalog(self, texts.index.to_numpy())
            self._new_users.grown(self.user_items_, self.n_item_interactions_)
            # a refit's draws (the same users to calibrate on), fixed by the fit
            seed = getattr(self, "_add_items_seed", self.random_state)
            self._set_exposure(resumed(getattr(self, "_exposure_state", None), seed), len(texts))
            own = self._new_users.random_state  # the fit's seed, as a refit draws
            self._new_users.set_exposure(self._exposure,
                                         random_state=own if isinstance(own, Integral) else seed)
        return self

    def _scores(self, rows, users):
        self._blend.fitted.check_unchanged()
        users = np.asarray(users)
        known = self._blend.profiled(rows)  # the others: as new users
        if known.all():  # no copy through a boolean mask
            return self._known_scores(rows, users)[0]
        out = np.empty((len(rows), len(self.items_)), dtype=np.float32)
        if known.any():
            out[known] = self._known_scores(rows[known], users[known])[0]
        if (~known).any():
            out[~known] = self._new_users.scores(users[~known], rows[~known])
        return out

    def _known_scores(self, rows, users):
        """The blend of known users, and the offset of their new items (or None)."""
        blend = self._blend
        score = blend.scores(rows, users, blend.per_user(self.coef_, rows))
        offset = None
        if getattr(self, "new_item_thresholds_", None) is not None:
            # each user's top-10 holds new_item_share_ of items without interactions
            offset = exposure_of(self).offsets(blend, rows, score)
            self._exposure.add(score, offset)
        return score, offset

    def _contributions(self, row, users, cols):
        """Each term's ``coef x term`` (see ``terms_``), and the new items' offset.

        They add up to the score: the blend is linear in its terms. A known
        user's member terms can be taken further with the member's own
        ``explain`` (``named_members_``). A new user is explained by its text
        neighbours, its text (the text model's scores, when no known user has a
        text to match) or popularity, plus a "new item offset" on items without interactions.
        """
        position = np.arange(len(cols))
        self._blend.fitted.check_unchanged()
        if not self._blend.profiled([row])[0]:  # as a new user
            parts = self._new_users.explained(users[0], row)
            out = pd.concat([contributions(position, source, None, part[cols])
                             for source, part in parts.items()], ignore_index=True)
            return out[out["contribution"] != 0].reset_index(drop=True)
        rows, blend = np.array([row]), self._blend
        coef = blend.per_user(self.coef_, rows)[0]
        terms = blend.terms(rows, users, needed=coef != 0)  # as scores computes them
        out = [contributions(position, name, None, coef[k] * term[0, cols])
               for k, (name, term) in enumerate(zip(blend.names, terms)) if coef[k]]
        offset = self._known_scores(rows, users)[1]
        if offset is not None:
            out.append(contributions(position, "new item offset", None,
                                     self._exposure.of_items(offset[0], cols)))
        out = (pd.concat(out, ignore_index=True) if out
               else contributions(position, "none", None, 0.0 * position))
        return out[out["contribution"] != 0].reset_index(drop=True)
