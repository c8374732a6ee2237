"""A recommender of one's own: a ``BaseRecommender`` subclass, as the user guide invites.

Each test here failed before (a hunt of such recommenders): a ``_fit`` that
binarised its ``user_items_`` in place changed what the other members of a
hybrid trained on; ``recommend(approximate=True)`` ranked a model with
factors and an item bias by the factors alone, and after a refit that
updated ``item_factors_`` in place by the first fit's index; ``recommend``
wrote ``-inf`` into arrays the model keeps and returns from ``_scores``; a
``_fit`` that forgot ``_index``, or narrowed ``items_`` after it, fitted
without a word; a failed fit deleted a parameter named ``lambda_``;
``explain`` left out items scored ``+inf`` and trusted ``_contributions``
that put contributions on other items; a member repeating ids in its
``users_`` failed in pandas; likelihoods of 1e-46 got advice that did not help.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone

from sklearn_zsrec import (ALSRecommender, BaseRecommender, HybridRecommender,
                           PopularityRecommender, TextEncoder, ZeroShotRecommender, clear_cache)
from sklearn_zsrec._explain import contributions

from ._data import topic_catalog, topic_interactions
from ._tiny import tiny_model_path

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)
XW = X.assign(weight=np.arange(len(X)) % 5 + 1.0)  # ratings 1 to 5 as confidences


def _text():
    return ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS)


class Binary(BaseRecommender):
    """Implicit feedback: a user's items weigh 1, binarised in place (a common idiom)."""

    def _fit(self, data):
        self._index(data)
        self.user_items_.data[:] = 1.0

    def _scores(self, rows, users):
        return (self.user_items_[rows] @ (self.user_items_.T @ self.user_items_)).toarray()


@pytest.mark.parametrize("first", ["own", "als"])
def test_a_fit_of_ones_own_changes_only_its_own_interactions(first):
    clear_cache()  # (no ALS of another test's fit from the memo)
    alone = ALSRecommender(factors=4, random_state=0).fit(XW)
    members = [("als", ALSRecommender(factors=4, random_state=0)), ("own", Binary())]
    hybrid = HybridRecommender(_text(), members[::-1] if first == "own" else members,
                               blend="fixed", verbose=0).fit(XW)
    als, own = hybrid.named_members_.als, hybrid.named_members_.own
    assert np.unique(own.user_items_.data).tolist() == [1.0]
    assert np.unique(als.user_items_.data).tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    np.testing.assert_allclose(als.item_factors_, alone.item_factors_)


class FactorsAndBias(BaseRecommender):
    """Matrix factorisation, plus an item bias when ``bias`` (scores ``U V' + b``)."""

    def __init__(self, bias=True, negate_on_refit=False):
        self.bias = bias
        self.negate_on_refit = negate_on_refit

    def _fit(self, data):
        refit = hasattr(self, "item_factors_")
        self._index(data)
        if refit and self.negate_on_refit:  # a warm start that updates in place
            self.item_factors_ *= -1.0
            return
        rng = np.random.default_rng(0)
        self.user_factors_ = rng.standard_normal((len(self.users_), 4)).astype(np.float32)
        self.item_factors_ = rng.standard_normal((len(self.items_), 4)).astype(np.float32)
        self.item_bias_ = (10.0 * self.bias * np.log1p(self.n_item_interactions_)).astype(
            np.float32)

    def _scores(self, rows, users):
        return self.user_factors_[rows] @ self.item_factors_.T + self.item_bias_


def test_approximate_search_refuses_scores_that_are_more_than_the_factor_product():
    pytest.importorskip("faiss")
    users = np.unique(X.user_id)[:4]
    model = FactorsAndBias(bias=True).fit(X)
    with pytest.raises(ValueError, match=r"FactorsAndBias has user_factors_ and item_factors_, "
                                         r"but its scores differ .*approximate=True ranks by"):
        model.recommend(users, 3, approximate=True)
    plain = FactorsAndBias(bias=False).fit(X)  # the product alone: searched
    assert np.array_equal(plain.recommend(users, 3, approximate=True), plain.recommend(users, 3))


class FactorsAndTaste(FactorsAndBias):
    """Factors plus a popularity taste per user, 0 for the first user (``U V' + t_u b``)."""

    def _scores(self, rows, users):
        taste = (np.asarray(rows, dtype=np.float32) / len(self.users_))[:, None]
        return self.user_factors_[rows] @ self.item_factors_.T + taste * self.item_bias_


def test_the_factor_product_check_sees_a_term_that_is_0_for_the_first_user():
    # the check scored the first user alone, whose extra term is 0: it passed,
    # and approximate search and the blend dropped the term for every other user
    pytest.importorskip("faiss")
    users = np.unique(X.user_id)[-4:]
    model = FactorsAndTaste(bias=True).fit(X)
    with pytest.raises(ValueError, match=r"FactorsAndTaste has user_factors_ and item_factors_, "
                                         r"but its scores differ from .* \(user 'u"):
        model.recommend(users, 3, approximate=True)
    with pytest.raises(ValueError, match=r"member 'mf' has user_factors_ and item_factors_"):
        HybridRecommender(_text(), [("mf", FactorsAndTaste(bias=True))], blend="fixed",
                          verbose=0).fit(X)
    plain = FactorsAndTaste(bias=False).fit(X)  # no term: searched
    assert np.array_equal(plain.recommend(users, 3, approximate=True), plain.recommend(users, 3))


def test_a_refit_that_changes_the_factors_in_place_gets_a_new_index():
    pytest.importorskip("faiss")
    users = np.unique(X.user_id)[:4]
    model = FactorsAndBias(bias=False, negate_on_refit=True).fit(X)
    model.recommend(users, 3, approximate=True)  # builds the index
    model.fit(X)
    assert np.array_equal(model.recommend(users, 3, approximate=True), model.recommend(users, 3))


class Kept(BaseRecommender):
    """Popularity, scored from an array kept in a dict (or a memo), returned as it is."""

    def _fit(self, data):
        self._index(data)
        self.tables_ = {"popularity": self.n_item_interactions_.astype(np.float32)}

    def _scores(self, rows, users):
        table = self.tables_["popularity"]
        return table[None, :] if len(rows) == 1 else np.tile(table, (len(rows), 1))


def test_recommend_masks_a_copy_of_what_scores_returns():
    model = Kept().fit(X)
    kept = model.tables_["popularity"].copy()
    for user in model.users_:  # one user at a time, as a server does
        model.recommend(user, 3)
    np.testing.assert_array_equal(model.tables_["popularity"], kept)
    assert np.isfinite(model.score_items(model.users_[:5])).all()


class NoIndex(BaseRecommender):
    def _fit(self, data):
        self.counts_ = np.bincount(pd.factorize(data.item_id)[0])

    def _scores(self, rows, users):
        return np.tile(self.counts_, (len(rows), 1))


class Narrowed(BaseRecommender):
    """A catalog of the items with at least 4 interactions, cut after ``_index``."""

    def _fit(self, data):
        self._index(data)
        keep = self.n_item_interactions_ >= 4
        self.items_, self.counts_ = self.items_[keep], self.n_item_interactions_[keep]

    def _scores(self, rows, users):
        return np.tile(self.counts_, (len(rows), 1))


class Reordered(Narrowed):
    """The catalog sorted popular first after ``_index`` (the columns of user_items_ not)."""

    def _fit(self, data):
        self._index(data)
        order = np.argsort(-self.n_item_interactions_, kind="stable")
        self.items_, self.counts_ = self.items_[order], self.n_item_interactions_[order]


class Thresholded(Narrowed):
    """Only interactions of weight over 2 (fewer entries: the others came back as unseen)."""

    def _fit(self, data):
        self._index(data)
        self.user_items_ = (self.user_items_ > 2).astype(np.float32)
        self.counts_ = np.asarray(self.user_items_.sum(axis=0)).ravel()


@pytest.mark.parametrize("model, message", [
    (NoIndex(), r"NoIndex: _fit set no users_, items_, user_items_; call self._index\(data\)"),
    (Thresholded(), r"Thresholded: _fit changed which entries user_items_ holds \(288 set by "
                    r"self._index\(data\), \d+ after _fit\); recommend leaves out .* values only"),
    (Narrowed(), r"Narrowed: after _fit, user_items_ has shape \(48, 60\) and users_ and "
                 r"items_ number \(48, \d+\); keep users_ and items_ as self._index\(data\)"),
    (Reordered(), r"Reordered: after _fit, user_items_ has shape \(48, 60\) and users_ and "
                  r"items_ number \(48, 60\), reordered; keep .* in its order"),
])
def test_fit_checks_what_index_sets(model, message):
    assert X.item_id.nunique() == 60 and X.user_id.nunique() == 48
    with pytest.raises(ValueError, match=message):
        model.fit(XW)
    assert not hasattr(model, "user_items_")  # not fitted: nothing half-set to serve


class Fails(BaseRecommender):
    def __init__(self, lambda_=0.1, fail=True):
        self.lambda_ = lambda_
        self.fail = fail

    def _fit(self, data):
        self._index(data)
        if self.fail:
            raise RuntimeError("the solver did not converge")

    def _scores(self, rows, users):
        return np.zeros((len(rows), len(self.items_)))


def test_a_failed_fit_keeps_parameters_whose_names_end_in_an_underscore():
    model = Fails(lambda_=0.5)
    with pytest.raises(RuntimeError, match="did not converge"):
        model.fit(X)
    assert model.get_params() == {"lambda_": 0.5, "fail": True}
    assert not hasattr(model, "users_")
    assert clone(model).set_params(fail=False).fit(X).lambda_ == 0.5


class Pinned(BaseRecommender):
    """Popularity, one item pinned first (+inf); contributions by position or ``mode``."""

    def __init__(self, mode="positions"):
        self.mode = mode

    def _fit(self, data):
        self._index(data)
        self.counts_ = self.n_item_interactions_.astype(np.float64)
        self.counts_[5] = np.inf

    def _scores(self, rows, users):
        return np.tile(self.counts_, (len(rows), 1))

    def _contributions(self, row, users, cols):
        value = self.counts_[cols]
        if self.mode == "catalog columns":  # a natural slip: columns for positions
            return contributions(cols, "popularity", None, value)
        if self.mode == "half":
            value = value / 2
        if self.mode == "nan":
            value = np.where(np.isinf(value), value, np.nan)
        return contributions(np.arange(len(cols)), "popularity", None, value)


def test_explain_covers_items_scored_plus_inf_and_checks_contributions():
    model = Pinned().fit(X)
    user = model.users_[0]
    ids, scores = model.recommend(user, 3, return_scores=True)
    assert scores[0] == np.inf
    explained = model.explain(user, n=3)
    assert explained.item_id.tolist() == ids.tolist()
    assert explained.contribution.tolist() == scores.tolist()
    items = model.items_[[7, 8, 9]]
    for mode, message in [("catalog columns", r"_contributions gave item positions outside 0 to 2 "
                                             r"\(e\.g\. [3-9]"),
                          ("half", r"_contributions of item position 0 add up to"),
                          ("nan", r"_contributions gave NaN contributions")]:
        with pytest.raises(ValueError, match=f"Pinned: {message}.*positions 0 to len"):
            model.set_params(mode=mode).explain(user, items)


class Repeats(BaseEstimator):
    """A member of the protocol whose ``users_`` repeats ids (one per row of X)."""

    def fit(self, X, y=None):
        self.users_ = X.user_id.to_numpy()
        self.items_ = np.sort(X.item_id.unique())
        return self

    def score_items(self, users):
        return np.zeros((len(users), len(self.items_)), dtype=np.float32)


def test_a_member_repeating_ids_is_refused_by_name():
    hybrid = HybridRecommender(_text(), [("twice", Repeats())], blend="fixed", verbose=0)
    with pytest.raises(ValueError, match=r"member 'twice' \(Repeats\) repeats ids in its "
                                         r"users_ \(e\.g\. \["):
        hybrid.fit(X)


class Likelihood(BaseRecommender):
    """Scores that are products of many probabilities (about 1e-46, or 1 to 1e-80)."""

    def __init__(self, spread=False):
        self.spread = spread

    def _fit(self, data):
        self._index(data)

    def _scores(self, rows, users):
        if self.spread:  # the largest in range: the pairs merged decide the advice
            return np.tile(np.logspace(0, -80, len(self.items_)), (len(rows), 1))
        return np.tile(1e-47 * (1.0 + np.arange(len(self.items_))), (len(rows), 1))


def test_scores_beyond_float32s_range_get_advice_that_helps():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Likelihood().fit(X).recommend(X.user_id.iloc[:1], 3)
    message = " ".join(str(w.message) for w in caught)
    assert "reach beyond float32's range (e.g. |score| 2e-47)" in message
    assert "divide each user's scores by its largest absolute score" in message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Likelihood(spread=True).fit(X).recommend(X.user_id.iloc[:1], 3)
    assert "reach beyond float32's range" in " ".join(str(w.message) for w in caught)


def test_a_factor_member_of_ones_own_must_score_by_its_factors():
    # the blend reads a member with factors through its factors alone: an
    # item bias in its scores was dropped, silently (docs/blend.md said so)
    with pytest.raises(ValueError, match=r"member 'mf' has user_factors_ and item_factors_, but "
                                         r"its scores differ .*rename them to blend its"):
        HybridRecommender(_text(), [("mf", FactorsAndBias(bias=True))], blend="fixed",
                          verbose=0).fit(X)
    plain = HybridRecommender(_text(), [("mf", FactorsAndBias(bias=False))], blend="fixed",
                              verbose=0).fit(X)
    assert plain.recommend(X.user_id.iloc[:2], 3).shape == (2, 3)


class Boosted(PopularityRecommender):
    """Popularity with one item promoted: ``_scores`` changed, ``_contributions`` inherited."""

    def _scores(self, rows, users):
        scores = np.asarray(super()._scores(rows, users), dtype=np.float64).copy()
        scores[:, 0] += 100.0
        return scores


def test_explain_checks_contributions_a_subclass_inherits_for_scores_it_changed():
    model = Boosted().fit(X)
    with pytest.raises(ValueError, match=r"Boosted: _contributions of item position 0 add up "
                                         r"to .*a _scores of one's own needs a _contributions"):
        model.explain(model.users_[0], model.items_[[0, 1]])


def test_a_member_repeating_item_ids_is_refused_too():
    class RepeatsItems(Repeats):
        def fit(self, X, y=None):
            super().fit(X)
            self.users_ = np.unique(X.user_id)
            self.items_ = np.r_[self.items_, self.items_[:1]]
            return self

    with pytest.raises(ValueError, match=r"member 'twice' \(RepeatsItems\) repeats ids in its "
                                         r"items_"):
        HybridRecommender(_text(), [("twice", RepeatsItems())], blend="fixed", verbose=0).fit(X)


def test_methods_compiled_outside_a_module_are_ones_own():
    namespace = {"Pinned": Pinned}  # no __name__: the function's __module__ is None
    exec("def _fit(self, data):\n    Pinned._fit(self, data)\n", namespace)
    Built = type("Built", (Pinned,), {"_fit": namespace["_fit"]})
    assert Built._fit.__module__ is None
    assert Built().fit(X).recommend(X.user_id.iloc[:1], 2).shape == (1, 2)


# Mutation round 7 (each test failed on its mutant of the contract checks)

class Offset(BaseRecommender):
    """Item 'b' beats 'a' by 1 on a base of 1e9: one pair float32 cannot tell apart."""

    def _fit(self, data):
        self._index(data)

    def _scores(self, rows, users):
        return np.tile(np.array([1e9, 1e9 + 1, 5.0, 4.0]), (len(rows), 1))


def test_one_pair_that_float32_merges_warns():
    X = pd.DataFrame({"user_id": ["u", "v", "w", "w"], "item_id": ["c", "d", "a", "b"]})
    model = Offset().fit(X)
    with pytest.warns(UserWarning, match="rounds together for 1 of the 1 users"):
        model.recommend(["u"], n=1)


class Short(BaseRecommender):
    """A slip: scores only ``items_[:-1]`` (one column short)."""

    def _fit(self, data):
        self._index(data)

    def _scores(self, rows, users):
        return np.tile(np.arange(len(self.items_) - 1, dtype=float), (len(rows), 1))


@pytest.mark.parametrize("call", ["recommend", "score_items", "predict"])
def test_scores_one_column_short_raise_naming_both_shapes(call):
    X = pd.DataFrame({"user_id": ["u", "v", "w", "x"], "item_id": ["a", "b", "c", "d"]})
    model = Short().fit(X)
    run = {"recommend": lambda: model.recommend(["u"], n=3),
           "score_items": lambda: model.score_items(["u"]),
           "predict": lambda: model.predict(X.iloc[:1])}[call]
    with pytest.raises(ValueError, match=r"shape \(1, 3\) for 1 users; expected \(1, 4\)"):
        run()


class SmallBias(BaseRecommender):
    """Factors plus an item bias of at most 0.5% of the first user's largest score."""

    def _fit(self, data):
        self._index(data)
        rng = np.random.default_rng(0)
        self.user_factors_ = rng.standard_normal((len(self.users_), 4)).astype(np.float32)
        self.item_factors_ = rng.standard_normal((len(self.items_), 4)).astype(np.float32)
        top = np.abs(self.user_factors_[:1] @ self.item_factors_.T).max()
        self.item_bias_ = (0.005 * top * np.linspace(-1, 1, len(self.items_))).astype(np.float32)

    def _scores(self, rows, users):
        return self.user_factors_[rows] @ self.item_factors_.T + self.item_bias_


def test_a_small_item_bias_is_refused_by_the_factor_check():
    # a bias of 0.5% of the scores reorders some top-10s (7 of 200 users in
    # approximate search); the check's tolerance is float32 rounding, not that
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"user_id": rng.integers(0, 200, 3000), "item_id": rng.integers(0, 400, 3000)})
    model = SmallBias().fit(X)
    with pytest.raises(ValueError, match="SmallBias has user_factors_ and item_factors_"):
        model.recommend(model.users_[:5], 10, approximate=True)
