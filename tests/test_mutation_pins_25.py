"""Pins of mutation round 25's behaviour-changing survivors (2026-12-07).

The round mutated the lines changed since 2026-12-05: the blend's rounding
bound for factor members, fine-tuning's held-out split by text, the id hint
past the ids read as text, next-item's float64 sums and the masking of
consecutive users. Each test fails on its mutant (named in its heading) and
passes on the code as it is.
"""
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer

from sklearn_zsrec import (ContrastiveFineTuning, HybridRecommender, PopularityRecommender,
                           TextEncoder, ZeroShotRecommender)

from ._tiny import tiny_model_path


# ---- (S01_diff_check_dropped, S02_diff_any)
@pytest.mark.parametrize("order", [["u0", "u2", "u1", "u3"], ["u0", "u1", "u3", "u2", "u4"]])
def test_users_asked_out_of_order_get_their_own_items_excluded(order):
    # _seen_positions reads consecutive rows as one slice of the CSR arrays;
    # rows 0, 2, 1, 3 span len(rows) - 1 too but are not consecutive: each
    # user must still have their own training items excluded, not a neighbour's
    X = pd.DataFrame({"user_id": ["u0", "u0", "u1", "u2", "u2", "u3", "u4"],
                      "item_id": ["a", "b", "c", "d", "e", "f", "g"]})
    model = PopularityRecommender().fit(X)
    top = model.recommend(order, n=4)
    for user, row in zip(order, top):
        assert not set(row) & set(X.item_id[X.user_id == user]), user
    np.testing.assert_array_equal(top, [model.recommend([u], n=4)[0] for u in order])


# ---- (F05_all_touched_check_dropped)
def test_pairs_that_all_share_a_held_out_text_train_without_validation(tmp_path):
    # every pair's anchor is one user text ("a shopper": 60 users, one item
    # each); random_state=1 draws that text for the held-out set, which
    # touches every pair: then nothing is held out (all pairs train, no
    # validation), not every pair held out and none left to train on (an
    # IndexError from the tokenizer on an empty batch)
    import json
    from pathlib import Path

    n = 60
    texts = pd.Series({i: f"product number {i} of the shop" for i in range(n)})
    X = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "item_id": range(n)})
    users = pd.Series({f"u{i}": "a shopper" for i in range(n)})
    tuning = ContrastiveFineTuning("full", n_steps=3, batch_size=8, location=tmp_path,
                                   verbose=0, random_state=1)
    rec = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                              user_texts=users, fine_tune=tuning).fit(X)
    record = json.loads((Path(rec.encoder_.model) / "fine_tuning.json").read_text())
    assert record["pairs"] == n and record["held_out_pairs"] == 0


# ---- (F04_has_negatives_swapped)
def test_user_text_pairs_whose_items_are_all_one_text_say_they_learn_nothing(tmp_path):
    # five users of distinct texts, each with one item, all the same item: the
    # pairs' anchors differ but every pair's item is the other pairs' item, so
    # no pair can meet a negative (every loss 0). The check reads the pairs'
    # items, not their anchors: by anchors it trained 5 steps of loss 0
    texts = pd.Series({1: "one", 2: "two"})
    X = pd.DataFrame({"user_id": [f"u{k}" for k in range(5)] + ["w"],
                      "item_id": [1] * 5 + [2]})
    users = pd.Series({f"u{k}": f"user number {k}" for k in range(5)})
    rec = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                              user_texts=users,
                              fine_tune=ContrastiveFineTuning(location=tmp_path, verbose=0,
                                                              method="full", n_steps=5))
    with pytest.raises(ValueError, match="can have a negative.*learns nothing"):
        rec.fit(X)
    assert not any(tmp_path.iterdir())


# ---- (I03_no_bytes_form)
def test_bytes_ids_past_the_ids_read_as_text_are_named_for_a_str_id():
    # numpy 'S' user ids (HDF5, some parquet files); b'99999' sorts last of
    # 100,010 ids, past the 100,000 read as text: the hint looks the str's
    # bytes form up, or '99999' was a new user without a word
    n = 100_010
    users = np.array([str(u).encode() for u in range(n)], dtype="S")
    model = PopularityRecommender().fit(pd.DataFrame({"user_id": users,
                                                      "item_id": np.arange(n) % 7}))
    with pytest.warns(UserWarning, match=r"fit saw b'99999' \(bytes\) where users has "
                                         r"'99999' \(str\)"):
        model.recommend(["99999"])


# ---- (B02_mean_not_squared)
class NegativeSolved(BaseEstimator):
    """Two items a float32 rounding apart on one factor, of negative mean."""

    def fit(self, X, y=None):
        self.users_, self.items_ = np.array([0]), np.array([0, 1])
        self.item_factors_ = -np.array([[1.0, 1.0], [1.0, 1.0 + 2.0 ** -23]], dtype=np.float32)
        self.user_factors_ = np.ones((1, 2), dtype=np.float32)
        return self

    def score_items(self, users):
        return self.user_factors_[pd.Index(self.users_).get_indexer(users)] @ self.item_factors_.T


def test_a_factor_members_ties_within_its_rounding_stay_ties_for_negative_factors():
    # the rounding bound reads the items' mean squares per dimension,
    # var + mean ** 2: with the mean itself (negative here) the bound was
    # NaN, and the blend ranked the member's tie by its noise (z = -1, +1)
    texts = pd.Series({0: "dog", 1: "dog fast", 2: "slow dog", 3: "dog"})
    data = pd.DataFrame({"user_id": [0, 0], "item_id": [1, 0]})
    own = NegativeSolved().fit(data).score_items([0])[0]
    assert own[0] == own[1]  # the member's own tie
    model = HybridRecommender(ZeroShotRecommender(TfidfVectorizer(), item_texts=texts),
                              [("m", NegativeSolved())], blend="fixed", weights={"m": 1.0},
                              verbose=0).fit(data)
    np.testing.assert_array_equal(model.score_items(0)[:2], [0.0, 0.0])
    assert model.recommend(0, n=2, exclude_seen=False).tolist() == [0, 1]


# ---- (N01_lag_weights_float32)
def test_next_item_ties_of_exact_sums_hold_on_catalogs_past_the_dense_size():
    # "b" follows "a" at lags 1 and 6 (7/6), "c" at lags 2, 3 and 3 (7/6), each
    # item of 3 users: a tie, "b" first (the earlier column). Past 4,096 items
    # (4,100 padding users of one item each: no pair) the sums are of exact
    # 1/lag in float64, rounded once: from float32 1/lag, "c" came a step ahead
    from sklearn_zsrec import NextItemRecommender

    seqs = {"u1": ["a", "b"], "u2": ["a", "x1", "x2", "x3", "x4", "x5", "b"],
            "u3": ["a", "y1", "c"], "u4": ["a", "y2", "y3", "c"], "u5": ["a", "y4", "y5", "c"],
            "u6": ["b"], "me": ["a"]}
    rows = [(u, i) for u, items in seqs.items() for i in items]
    for pad in (0, 4100):
        X = pd.DataFrame(rows + [(f"p{k}", f"z{k}") for k in range(pad)],
                         columns=["user_id", "item_id"])
        model = NextItemRecommender().fit(X)
        col = {item: k for k, item in enumerate(model.items_)}
        row = model.transitions_[col["a"]].toarray()[0]
        assert row[col["b"]] == row[col["c"]] > 0
        ranked = model.recommend("me", n=20).tolist()
        assert [i for i in ranked if i in ("b", "c")] == ["b", "c"]


# ---- (B03_size_x_not_squared, B07_size_unscaled)
class ScaledSharedFactor(BaseEstimator):
    """Items of a large shared factor and steps of ``step`` on another, and a
    user of weight ``weight`` on the shared one, times ``user_scale``."""

    def __init__(self, step=1e-4, weight=1e-3, user_scale=1.0):
        self.step, self.weight, self.user_scale = step, weight, user_scale

    def fit(self, X, y=None):
        self.users_, self.items_ = np.array([0]), np.arange(6)
        self.item_factors_ = np.c_[np.full(6, 1000.0), self.step * np.arange(6)].astype(
            np.float32)
        self.user_factors_ = (self.user_scale * np.array([[self.weight, 1.0]])).astype(
            np.float32)
        return self

    def score_items(self, users):
        return self.user_factors_[pd.Index(self.users_).get_indexer(users)] @ self.item_factors_.T


@pytest.mark.parametrize("params", [{"step": 1e-7, "weight": 1e-5}, {"user_scale": 1e6}])
def test_a_factor_members_ranking_beside_a_large_shared_factor_is_kept_at_any_size(params):
    # the rounding bound is sqrt(sum_k x_k^2 E[y_k^2]) of the user's factors
    # as scored (after the member's user scale): with |x_k| for x_k^2 a user
    # weighing the shared factor 1e-5 lost its ranking (steps of 1e-7: 100
    # float32 steps of its scores apart), and with the unscaled factors a
    # user of factors 1e6 lost it too
    data = pd.DataFrame({"user_id": [0] * 6, "item_id": range(6)})
    own = ScaledSharedFactor(**params).fit(data).score_items([0])[0]
    assert own.argsort()[::-1].tolist() == [5, 4, 3, 2, 1, 0]
    text = ZeroShotRecommender(TfidfVectorizer(), item_texts=pd.Series(["dog"] * 6))
    model = HybridRecommender(text, [("m", ScaledSharedFactor(**params))], blend="fixed",
                              weights={"m": 1.0}, verbose=0).fit(data)
    assert model.recommend(0, n=6, exclude_seen=False).tolist() == [5, 4, 3, 2, 1, 0]
    assert (np.diff(model.score_items(0)) > 0).all()


# ---- (B07_size_unscaled, B05_rounding_factor8_dropped)
class TinySolved(BaseEstimator):
    """Two items ``ulps`` float32 steps apart on one factor; user factors ``user``."""

    def __init__(self, user=1.0, ulps=1):
        self.user, self.ulps = user, ulps

    def fit(self, X, y=None):
        self.users_, self.items_ = np.array([0]), np.array([0, 1])
        self.item_factors_ = np.array([[1.0, 1.0], [1.0, 1.0 + self.ulps * 2.0 ** -23]],
                                      dtype=np.float32)
        self.user_factors_ = np.full((1, 2), self.user, dtype=np.float32)
        return self

    def score_items(self, users):
        return self.user_factors_[pd.Index(self.users_).get_indexer(users)] @ self.item_factors_.T


@pytest.mark.parametrize("params", [{"user": 1e-20}, {"ulps": 4}])
def test_a_factor_members_rounding_apart_items_tie_whatever_the_users_size(params):
    # items a few float32 steps apart on one factor (within 8 eps of the
    # product's terms) tie in the blend: for user factors of 1e-20 too (the
    # bound is the user's factors as scored, after the member's user scale;
    # unscaled, it was 1e-20 of the spread and the noise ranked at z = +-1).
    # ulps=4 pins the bound's factor 8 (at 1 eps, 4 steps ranked the items)
    texts = pd.Series({0: "dog", 1: "dog fast", 2: "slow dog", 3: "dog"})
    data = pd.DataFrame({"user_id": [0, 0], "item_id": [1, 0]})
    model = HybridRecommender(ZeroShotRecommender(TfidfVectorizer(), item_texts=texts),
                              [("m", TinySolved(**params))], blend="fixed", weights={"m": 1.0},
                              verbose=0).fit(data)
    np.testing.assert_array_equal(model.score_items(0)[:2], [0.0, 0.0])
    assert model.recommend(0, n=2, exclude_seen=False).tolist() == [0, 1]


# ---- (B10_negligible_by_size)
class TwoUsers(BaseEstimator):
    """Items share a large factor (1000) and differ by 1e-4 k on a second one; user 0
    weighs the first only, user 1 the second only."""

    def fit(self, X, y=None):
        self.users_, self.items_ = np.array([0, 1]), np.arange(6)
        self.item_factors_ = np.c_[np.full(6, 1000.0), 1e-4 * np.arange(6)].astype(np.float32)
        self.user_factors_ = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
        return self

    def score_items(self, users):
        return self.user_factors_[pd.Index(self.users_).get_indexer(users)] @ self.item_factors_.T


def test_a_user_of_a_factor_of_small_item_spread_is_not_negligible():
    # "a user vector below NEGLIGIBLE of the model's largest": user vectors'
    # norms (1 and 1 here), not their products' sizes (1000 and 1e-4), or a
    # user weighing only the small factor lost the member's ranking
    data = pd.DataFrame({"user_id": [0] * 3 + [1] * 3, "item_id": [0, 2, 4, 1, 3, 5]})
    text = ZeroShotRecommender(TfidfVectorizer(), item_texts=pd.Series(["dog"] * 6))
    model = HybridRecommender(text, [("m", TwoUsers())], blend="fixed", weights={"m": 1.0},
                              verbose=0).fit(data)
    assert model.recommend(1, n=6, exclude_seen=False).tolist() == [5, 4, 3, 2, 1, 0]


# ---- (I06_alike_first_unknown_only, I08_alike_last)
@pytest.mark.parametrize("asked", [["zz", "100005"], ["100005", "100006"]])
def test_an_id_of_another_type_past_the_ids_read_as_text_is_named_first_found(asked):
    # past the first 100,000 ids (read as text) the hint looks each of the
    # first unknown ids' other forms up, not only the first one's (I06), and
    # names the first such id, as for the ids read as text (I08)
    n = 100_010
    model = PopularityRecommender().fit(pd.DataFrame({"user_id": np.arange(n),
                                                      "item_id": np.arange(n) % 7}))
    with pytest.warns(UserWarning, match=r"fit saw 100005 \(int\) where users has "
                                         r"'100005' \(str\)"):
        model.recommend(asked)
