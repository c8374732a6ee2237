"""Recommenders of one's own as members of HybridRecommender, through the public protocol.

Each test here failed before (a hunt of custom members): the items a member
lacks scored above its mean when it also knew items without interactions;
a member whose ids were of another type than X's added nothing, silently;
float64 scores of a ``BaseRecommender`` subclass lost their ranking in the
float32 cast without a word; huge finite float64 scores overflowed float32;
a ``fit`` that returns None, a sparse ``score_items`` and a member without
``users_`` failed with messages that named nothing.
"""

import os
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from sklearn_zsrec import BaseRecommender, HybridRecommender, TextEncoder, ZeroShotRecommender

from ._data import topic_catalog, topic_interactions
from ._tiny import tiny_model_path

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)
WARM = np.sort(X.item_id.unique())
COLD = np.arange(900, 905)  # items with a text and no interaction
WITH_COLD = pd.concat([ITEM_TEXTS, pd.Series({i: f"A new {list(TOPICS.unique())[i % 6]} story."
                                              for i in COLD})])


def _text(texts=ITEM_TEXTS):
    return ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)


def _alone(member, data=X, texts=ITEM_TEXTS):
    """A hybrid that ranks by ``member`` alone (the fixed blend, its weight only)."""
    return HybridRecommender(_text(texts), [("m", member)], blend="fixed", weights={"m": 1.0},
                             verbose=0).fit(data)


def _table(users, items):
    """A score table of distinct values per user: what a member of one's own computes."""
    u = np.asarray([int(str(user).lstrip("u")) for user in users], dtype=np.int64)[:, None]
    i = np.asarray(items, dtype=np.int64)[None, :]
    return ((u * 7 + i * 13) % 17 + i / 1000.0).astype(np.float64)


class Table(BaseEstimator):
    """Scores ``_table`` (times ``transform``) over ``items``, for the users of X."""

    def __init__(self, items=None, transform=None, user_type=None, boost=None):
        self.items, self.transform, self.user_type, self.boost = items, transform, user_type, boost

    def fit(self, X, y=None):
        users = np.sort(X.user_id.unique())
        self.users_ = users if self.user_type is None else users.astype(self.user_type)
        self.items_ = np.sort(X.item_id.unique()) if self.items is None else np.asarray(self.items)
        return self

    def score_items(self, users):
        scores = _table(users, self.items_.astype(np.int64))
        if self.boost is not None:  # e.g. a content score that ranks some items first
            scores[:, np.isin(self.items_, self.boost)] += 100.0
        return scores if self.transform is None else self.transform(scores)


def test_items_a_member_lacks_stay_neutral_when_it_knows_items_without_interactions():
    # the filler was the member's mean over all its items (new ones too),
    # while the blend standardises over the items with interactions: the
    # lacked items got z = +1.6 and filled every top-10
    lacked = WARM[::4]
    member = Table(items=np.r_[np.setdiff1d(WARM, lacked), COLD], boost=COLD)
    model = _alone(member, texts=WITH_COLD)
    terms = model.explain(model.users_[0], list(lacked[:3]))
    m = terms[terms["source"] == "m"]
    assert len(m) == 3
    np.testing.assert_allclose(m["contribution"], 0.0, atol=1e-5)
    top = model.recommend(model.users_, n=10, exclude_seen=False)
    assert not np.isin(top, lacked).any()  # below every item of z > 0


def test_a_member_whose_ids_are_of_another_type_raises_naming_it():
    data = X.assign(user_id=pd.factorize(X.user_id)[0])  # int users
    with pytest.raises(ValueError, match=r"knows none of the users of X .*X holds 0 \(int\) "
                                         r"where member 'm' has '0' \(str\)"):
        _alone(Table(user_type=str), data)
    # items: the message named missing texts only
    with pytest.raises(ValueError, match=r"knows \d+ items the text model has no text for .*"
                                         r"text model holds 1\d\d \(int\) where member 'm' "
                                         r"has '1\d\d' \(str\)"):
        _alone(Table(items=WARM.astype(str)))


class Offset(BaseRecommender):
    """A subclass (the documented way) whose float64 ``_scores`` live in the last digits."""

    def __init__(self, offset=0.0):
        self.offset = offset

    def _fit(self, data):
        self._index(data)
        return self

    def _scores(self, rows, users):
        return _table(self.users_[rows], self.items_) + self.offset


def test_float64_scores_of_a_subclass_that_float32_rounds_together_warn():
    model = Offset(offset=1e9).fit(X)
    with pytest.warns(UserWarning, match=r"Offset: _scores returned float64 scores .* "
                                         r"Subtract each user's mean"):
        model.score_items(model.users_[:3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scores float32 holds: no warning
        Offset(offset=0.0).fit(X).recommend(model.users_)


def test_huge_finite_float64_scores_keep_their_ranking():
    # exp(10 x) up to 1e73: finite, but past float32's range once centred
    member = Table(transform=lambda s: np.exp(10 * s))
    model = _alone(member)
    users = model.users_[:5]
    own = model.named_members_.m.score_items(users)
    for user, row in zip(users, own):
        expected = model.named_members_.m.items_[np.argsort(-row, kind="stable")[:5]]
        np.testing.assert_array_equal(model.recommend(user, n=5, exclude_seen=False), expected)


class NoReturn(Table):
    def fit(self, X, y=None):
        super().fit(X)  # returns None, as some estimators of one's own do


def test_a_member_whose_fit_returns_none_is_used_as_fitted():
    # "object.__new__(NoneType) is not safe": the hybrid used fit's return
    model = _alone(NoReturn())
    assert model.recommend(model.users_[:2], n=3).shape == (2, 3)


def test_protocol_slips_are_named_with_the_fix():
    with pytest.raises(ValueError, match=r"returned a sparse matrix from score_items; "
                                         r"return a dense array \(e.g. .toarray\(\)\)"):
        _alone(Table(transform=sp.csr_matrix)).recommend(X.user_id[:2])

    class NoUsers(Table):
        def fit(self, X, y=None):
            super().fit(X)
            del self.users_
            return self

    with pytest.raises(ValueError, match=r"member 'm' \(NoUsers\) has no users_ after fit"):
        _alone(NoUsers())


class Times(Table):
    """Nanosecond times 100 apart (float64's spacing at 1.7e18 is 256): a permutation per user."""

    def score_items(self, users):
        ranks = np.stack([np.random.default_rng(int(str(u).lstrip("u"))).permutation(
            len(self.items_)) for u in users])
        return 1_700_000_000_000_000_000 + 100 * ranks.astype(np.int64)


def test_int64_scores_past_float64_keep_their_ranking_and_a_subclass_warns():
    # nanosecond times a hundred apart: float64 tied them before centring
    # (the first version of this test drew times 1,700 apart, which float64
    # keeps apart: it passed without the exact rebasing)
    model = _alone(Times())
    user = model.users_[0]
    own = model.named_members_.m.score_items([user])[0]
    expected = model.named_members_.m.items_[np.argsort(-own, kind="stable")[:5]]
    np.testing.assert_array_equal(model.recommend(user, n=5, exclude_seen=False), expected)

    class Nanoseconds(Offset):
        def _scores(self, rows, users):
            return 1_700_000_000_000_000_000 + (1000 * super()._scores(rows, users)).astype(
                np.int64)

    fitted = Nanoseconds().fit(X)
    with pytest.warns(UserWarning, match=r"Nanoseconds: _scores returned int64 scores"):
        fitted.recommend(fitted.users_[:2])


def test_member_ids_as_a_list_of_tuples_and_a_member_of_no_users():
    data = X.assign(user_id=[(u, 0) for u in X.user_id])  # tuple user ids

    class ListIds(Table):
        def fit(self, X, y=None):
            super().fit(X)
            self.users_ = list(self.users_)  # a list of tuples: np.asarray made it 2-D
            return self

        def score_items(self, users):
            return super().score_items([u[0] for u in users])

    model = _alone(ListIds(), data)
    assert model.recommend(model.users_[:2], n=3).shape == (2, 3)

    class NoOne(Table):
        def fit(self, X, y=None):
            super().fit(X)
            self.users_ = np.array([], dtype=object)
            return self

    with pytest.warns(UserWarning, match=r"member 'm' \(NoOne\) knows no user after fit"):
        _alone(NoOne())


def test_the_rounding_warning_counts_the_scores_merged_not_the_catalog():
    # a few distinct scores all merged on a large catalog: 0 warnings when
    # the rule counted merges against 1% of the items; ordinary float64
    # scores (near-ties closer than float32's precision) do not warn
    from sklearn_zsrec._contract import _warn_if_rounded_together

    counts = 1e9 + np.tile(np.arange(50.0), 100)[None, :]  # 5,000 items, 50 counts
    with pytest.warns(UserWarning, match="rounds together for 1 of the 1 users"):
        assert _warn_if_rounded_together(counts, "Counts")
    normal = np.random.default_rng(0).standard_normal((2, 1_500_000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not _warn_if_rounded_together(normal, "Normal")


def test_a_class_given_for_an_instance_is_named():
    # the parentheses forgotten: "get_params() missing 1 required positional
    # argument: 'self'", after the text model's fit
    from sklearn_zsrec import ItemKNNRecommender

    with pytest.raises(ValueError, match=r"member 'knn' is the class ItemKNNRecommender, not a "
                                         r"recommender; pass an instance"):
        HybridRecommender(_text(), [("knn", ItemKNNRecommender)], verbose=0).fit(X)
    with pytest.raises(ValueError, match=r"text is the class ZeroShotRecommender; pass an"):
        HybridRecommender(ZeroShotRecommender, verbose=0).fit(X)


def test_a_class_member_is_named_in_a_search_too():
    # get_params(deep=True), which a search's set_params calls, called the
    # class's get_params unbound: "missing 1 required positional argument"
    from sklearn.model_selection import GridSearchCV

    from sklearn_zsrec import ItemKNNRecommender

    model = HybridRecommender(_text(), [("knn", ItemKNNRecommender)], verbose=0)
    with pytest.raises(ValueError, match=r"member 'knn' is the class ItemKNNRecommender"):
        model.get_params()
    with pytest.raises(ValueError, match=r"member 'knn' is the class ItemKNNRecommender"):
        GridSearchCV(model, {"knn__n_neighbors": [5, 10]}, cv=2).fit(X)


def test_float64_noise_in_a_few_distinct_scores_does_not_warn():
    from sklearn_zsrec._contract import _warn_if_rounded_together

    scores = np.zeros((1, 40))
    scores[0, :2] = [0.1 + 0.2, 0.3]  # one score, written two ways
    scores[0, 2] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not _warn_if_rounded_together(scores, "Sparse")


class Favourite(BaseEstimator):
    """A factor member of one's own (scores ``user_factors_ @ item_factors_.T``), users_ reversed.

    Each user's factors score 1 on their own last item, 0 elsewhere.
    """

    def fit(self, X, y=None):
        X = pd.DataFrame(X)
        self.users_ = np.sort(X.user_id.unique())[::-1]
        self.items_ = np.sort(X.item_id.unique())
        self.last_ = X.groupby("user_id").item_id.last()
        self.item_factors_ = np.eye(len(self.items_), dtype=np.float32)
        self.user_factors_ = self.score_items(self.users_)
        return self

    def score_items(self, users):
        out = np.zeros((len(users), len(self.items_)), dtype=np.float32)
        out[np.arange(len(users)), np.searchsorted(self.items_, self.last_.loc[list(users)])] = 1.0
        return out


def test_a_factor_member_whose_users_are_in_another_order_scores_each_user_by_their_own():
    # the text model's rows are the member's only when its users_ are the
    # same ids in the same order; a check of their number alone read other
    # users' factors (a mutation hunt)
    model = _alone(Favourite())
    users = list(model.users_[:5])
    top = model.recommend(users, n=1, exclude_seen=False).ravel().tolist()
    assert top == X.groupby("user_id").item_id.last().loc[users].tolist()


class Recorder(BaseEstimator):
    """A member of one's own that keeps the timestamps it is fitted on."""

    def fit(self, X, y=None):
        self.timestamps_ = X["timestamp"].to_numpy()
        self.users_ = np.sort(X.user_id.unique())
        self.items_ = np.sort(X.item_id.unique())
        return self

    def score_items(self, users):
        return np.zeros((len(users), len(self.items_)), dtype=np.float32)


@pytest.mark.parametrize("unit", ["s", "us", "ns", "aware"])
def test_members_get_datetimes_as_float64_nanoseconds_whatever_their_unit(unit):
    # docs/blend.md: "times as float64 nanoseconds for datetimes"; kept in
    # their own unit, pandas 3's default (microseconds) gave 1000x too small
    times = pd.to_datetime(["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-03 10:00"])
    times = times.tz_localize("Europe/Paris") if unit == "aware" else times.as_unit(unit)
    data = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": WARM[:3], "timestamp": times})
    model = _alone(Recorder(), data=data)
    expected = pd.DatetimeIndex(times).as_unit("ns").asi8.astype(np.float64)
    np.testing.assert_array_equal(np.sort(model.named_members_.m.timestamps_), expected)


def test_the_rounding_warning_rule_at_its_edges():
    # a tenth of a user's distinct scores merged warns, less does not; every
    # user of a batch is checked, not the first; merges are found between
    # scores adjacent in value, not in column order; int32 scores past
    # float32's exact range (2**24) are checked as int64 ones are
    from sklearn_zsrec._contract import _warn_if_rounded_together

    def merged(k, n=91):  # n distinct scores, k of them with a float32 twin
        return np.r_[np.arange(1.0, n + 1), np.arange(1.0, k + 1) + 1e-9][None, :]

    with pytest.warns(UserWarning, match="rounds together for 1 of the 1 users"):
        assert _warn_if_rounded_together(merged(10), "Tenth")  # 10 of 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not _warn_if_rounded_together(merged(9), "Less")  # 9 of 99
    fine = np.arange(101.0)[None, :]
    with pytest.warns(UserWarning, match="rounds together for 1 of the 2 users"):
        assert _warn_if_rounded_together(np.vstack([fine, merged(10)]), "Second")
    # pairs 1 apart in buckets 64 apart (float32's spacing at 1e9): no two
    # neighbouring columns merge, every pair does
    spread = 1e9 + 64.0 * np.r_[np.arange(50), np.arange(50)] + np.repeat([0.0, 1.0], 50)
    with pytest.warns(UserWarning, match="rounds together"):
        assert _warn_if_rounded_together(spread[None, :], "Spread")

    class Counts(BaseRecommender):
        def _fit(self, data):
            self._index(data)

        def _scores(self, rows, users):
            return np.tile(10**9 + np.arange(len(self.items_), dtype=np.int32), (len(rows), 1))

    with pytest.warns(UserWarning, match=r"Counts: _scores returned int32 scores that float32"):
        Counts().fit(X).recommend(X.user_id.iloc[:2], 3)


class LastItem(BaseEstimator):
    """Scores 1 on each user's own last item, 0 elsewhere.

    ``users``: "odd" knows every other user only (and "wider" two users
    more than X's); ``reversed``: its ``items_`` are the catalog in
    descending order.
    """

    def __init__(self, users="all", reversed=False):
        self.users, self.reversed = users, reversed

    def fit(self, X, y=None):
        users = np.sort(X.user_id.unique())
        self.users_ = {"all": users, "odd": users[1::2],
                       "wider": np.r_[users, ["other1", "other2"]]}[self.users]
        self.items_ = np.sort(ITEM_TEXTS.index.to_numpy())
        self.items_ = self.items_[::-1] if self.reversed else self.items_
        self.last_ = X.groupby("user_id").item_id.last()
        return self

    def score_items(self, users):
        out = np.zeros((len(users), len(self.items_)))
        out[np.arange(len(users)), pd.Index(self.items_).get_indexer(self.last_.loc[list(users)])] = 1
        return out


def test_a_member_scores_each_user_by_its_own_row_and_item_columns():
    # rows and columns are matched by id: a member that knows every other
    # user gave the users it lacks the others' rows (and its own users the
    # neutral row), and a member whose items_ are the catalog in another
    # order was read as if in the hybrid's order
    last = X.groupby("user_id").item_id.last()
    for member in (LastItem(users="odd"), LastItem(reversed=True), LastItem(users="wider")):
        model = _alone(member)
        users = model.users_[:12]
        top = model.recommend(users, n=1, exclude_seen=False).ravel()
        known = np.isin(users, model.named_members_.m.users_)
        np.testing.assert_array_equal(top[known], last.loc[users[known]].to_numpy())
        if not known.all():  # the others: no member score, the same ranking for all of them
            assert len(set(top[~known])) == 1
            terms = model.explain(users[~known][0], [last[users[~known][0]]])
            np.testing.assert_allclose(terms.loc[terms.source == "m", "contribution"], 0.0,
                                       atol=1e-6)


class Topics(BaseEstimator):
    """A factor member: one-hot topics as item factors, the users' topic counts as theirs."""

    def fit(self, X, y=None):
        self.users_, self.items_ = np.sort(X.user_id.unique()), np.sort(X.item_id.unique())
        names = np.sort(TOPICS.unique())
        self.item_factors_ = (TOPICS.loc[self.items_].to_numpy()[:, None] == names).astype(
            np.float32)
        counts = pd.crosstab(X.user_id, X.item_id).reindex(index=self.users_,
                                                           columns=self.items_, fill_value=0)
        self.user_factors_ = (counts.to_numpy() @ self.item_factors_).astype(np.float32)
        return self

    def score_items(self, users):
        return self.user_factors_[pd.Index(self.users_).get_indexer(users)] @ self.item_factors_.T


def test_the_recent_term_of_a_factor_member_weighs_the_latest_items_most():
    # "<member>_recent": the user's items' factors, each weighted by recency
    # (half-life RECENT_HALF_LIFE interactions); a reader of five space
    # stories and then two jazz ones gets jazz first from it, space from the
    # member's own factors (all items alike, computed without recency, it
    # ranked space first too)
    space, jazz = TOPICS.index[TOPICS == "space"], TOPICS.index[TOPICS == "jazz"]
    reader = pd.DataFrame({"user_id": "reader", "item_id": list(space[:5]) + list(jazz[:2]),
                           "timestamp": 1000 + np.arange(7)})
    model = _alone(Topics(), pd.concat([X, reader], ignore_index=True))
    terms = list(model.terms_)
    for term, topic in (("m_recent", "jazz"), ("m", "space")):
        coef = np.zeros_like(model.coef_)
        coef[..., terms.index(term)] = 1.0
        model.coef_ = coef  # rank by this term alone
        assert (TOPICS.loc[model.recommend("reader", n=5)] == topic).all(), term


class _Boosts(BaseEstimator):
    """Every item scored by a boost read in fit from a CSV file (side data by path)."""

    def __init__(self, path=None):
        self.path = path

    def fit(self, X, y=None):
        table = pd.read_csv(self.path, index_col="item_id")["boost"]
        self.users_ = np.asarray(pd.unique(X.user_id))
        self.items_ = np.asarray(table.index)
        self.boost_ = table.to_numpy(dtype=np.float64)
        return self

    def score_items(self, users):
        return np.tile(self.boost_, (len(users), 1))


def test_a_member_reading_a_file_is_refitted_when_the_file_changes(tmp_path):
    # the fit memo keyed the path by its string: a refit on the same X after
    # the file changed was served the member's fit from before, silently
    path = tmp_path / "boosts.csv"
    pd.DataFrame({"item_id": WARM, "boost": np.arange(len(WARM), dtype=float)}).to_csv(
        path, index=False)
    hybrid = HybridRecommender(_text(), [("boosts", _Boosts(str(path)))], blend="fixed",
                               weights={"boosts": 1.0}, verbose=0)
    user = X.user_id.iloc[0]
    assert hybrid.fit(X).recommend([user], n=3, exclude_seen=False).tolist() == [
        list(WARM[::-1][:3])]
    size = path.stat().st_size
    pd.DataFrame({"item_id": WARM, "boost": np.arange(len(WARM), dtype=float)[::-1]}).to_csv(
        path, index=False)  # the boosts run the other way now, in as many bytes
    assert path.stat().st_size == size  # (mutation round 21: a stamp by size alone)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # surely a later write
    assert hybrid.fit(X).recommend([user], n=3, exclude_seen=False).tolist() == [
        list(WARM[:3])]


class Solved(BaseEstimator):
    """A factor member whose two items' factors differ by a float32 rounding (a solve's noise).

    Its own float32 scores tie them: ``[1, 1] . [1, 1 + 2**-23]`` is 2 in float32.
    """

    def fit(self, X, y=None):
        self.users_, self.items_ = np.array([0]), np.array([0, 1])
        self.item_factors_ = np.array([[1.0, 1.0], [1.0, 1.0 + 2.0 ** -23]], dtype=np.float32)
        self.user_factors_ = np.ones((1, 2), dtype=np.float32)
        return self

    def score_items(self, users):
        return self.user_factors_[pd.Index(self.users_).get_indexer(users)] @ self.item_factors_.T


def test_a_factor_members_ties_within_its_rounding_stay_ties_in_the_blend():
    # The blend z-scores a factor member from its centred item factors, whose
    # spread here is only the rounding: it gave the two items z = -1 and +1,
    # and ranked them by that noise at the member's whole weight, where the
    # member itself ties them (found with ALS: two items of one user, whose
    # factors a solve left ~1e-7 apart). Noise is judged against the items'
    # size, not their spread.
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = pd.Series({0: "dog", 1: "dog fast", 2: "slow dog", 3: "dog"})
    data = pd.DataFrame({"user_id": [0, 0], "item_id": [1, 0]})
    member = Solved().fit(data)
    assert member.score_items([0])[0, 0] == member.score_items([0])[0, 1]  # its own tie
    model = HybridRecommender(ZeroShotRecommender(TfidfVectorizer(), item_texts=texts),
                              [("m", Solved())], blend="fixed", weights={"m": 1.0},
                              verbose=0).fit(data)
    np.testing.assert_array_equal(model.score_items(0)[:2], [0.0, 0.0])
    assert model.recommend(0, n=2, exclude_seen=False).tolist() == [0, 1]


class SharedFactor(BaseEstimator):
    """A factor member whose items share a large factor (1000) the user barely weighs (1e-3).

    Its scores ``1 + 1e-4 k`` are hundreds of float32 steps apart: a ranking.
    """

    def fit(self, X, y=None):
        self.users_, self.items_ = np.array([0]), np.arange(6)
        self.item_factors_ = np.c_[np.full(6, 1000.0), 1e-4 * np.arange(6)].astype(np.float32)
        self.user_factors_ = np.array([[1e-3, 1.0]], dtype=np.float32)
        return self

    def score_items(self, users):
        return self.user_factors_[pd.Index(self.users_).get_indexer(users)] @ self.item_factors_.T


def test_a_factor_members_ranking_beside_a_large_shared_factor_is_kept_in_the_blend():
    # the rounding that makes a spread noise is the product's terms' (1 here),
    # not |x| times the items' norm (1000): that bound zeroed this member's
    # z-scores, and the blend lost a ranking the member gives (a review's finding)
    from sklearn.feature_extraction.text import TfidfVectorizer

    data = pd.DataFrame({"user_id": [0] * 6, "item_id": range(6)})
    own = SharedFactor().fit(data).score_items([0])[0]
    assert own.argsort()[::-1].tolist() == [5, 4, 3, 2, 1, 0]
    text = ZeroShotRecommender(TfidfVectorizer(), item_texts=pd.Series({i: "dog" for i in range(6)}))
    model = HybridRecommender(text, [("m", SharedFactor())], blend="fixed", weights={"m": 1.0},
                              verbose=0).fit(data)
    assert model.recommend(0, n=6, exclude_seen=False).tolist() == [5, 4, 3, 2, 1, 0]
    assert (np.diff(model.score_items(0)) > 0).all()
