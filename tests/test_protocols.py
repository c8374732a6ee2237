"""The benchmark's protocols: no leakage, the promised shapes, correct scoring."""

import numpy as np
import pandas as pd
import pytest

from benchmarks import _protocols as P
from sklearn_zsrec import PopularityRecommender
from sklearn_zsrec.datasets import load_movielens_100k


@pytest.fixture(scope="module")
def X():
    return load_movielens_100k().interactions[P.COLUMNS].reset_index(drop=True)


def _assert_temporal(split):
    """No training row of a test user is later than that user's first test row."""
    P.check_no_leakage(split)
    rank, _ = P.rank_from_end(pd.concat([split.train, split.test]))
    # by position as well as by timestamp: ties are ordered by row
    both = pd.concat([split.train.assign(t=0), split.test.assign(t=1)])
    both = both.assign(rank=rank)
    mine = both[both.user_id.isin(split.test.user_id)]
    lowest_train = mine[mine.t == 0].groupby("user_id")["rank"].min()
    highest_test = mine[mine.t == 1].groupby("user_id")["rank"].max()
    assert (lowest_train > highest_test.reindex(lowest_train.index)).all()


@pytest.mark.parametrize("fold", [0, 1, 2])
def test_protocol_a_folds_hold_out_the_kth_last_and_train_on_earlier(X, fold):
    split = P.protocol_a(X, fold)
    assert split.test.user_id.is_unique
    assert split.test.user_id.nunique() == X.user_id.nunique()  # every user has >= 20
    assert len(split.train) == len(X) - (fold + 1) * X.user_id.nunique()
    _assert_temporal(split)


def test_tuning_rows_are_training_rows_of_every_fold(X):
    tune = P.tuning_split(X, n_folds=3)
    for fold in range(3):
        assert tune.index.isin(P.protocol_a(X, fold).train.index).all()
    assert tune.index.isin(P.protocol_e(X, 100).train.index).all()


@pytest.mark.parametrize("n", [1, 5, None])
def test_protocol_b_keeps_n_items_of_test_users_only(X, n):
    split = P.protocol_b(X, n, part=1)
    tested = split.test.user_id.unique()
    assert 0.3 < len(tested) / X.user_id.nunique() < 0.37
    kept = split.train[split.train.user_id.isin(tested)].groupby("user_id").size()
    if n is not None:
        assert (kept == n).all()
    others = X[~X.user_id.isin(tested)]
    assert others.index.isin(split.train.index).all()  # everyone else keeps all rows
    # only the kept items are excluded
    pd.testing.assert_frame_equal(
        split.exclude.sort_values(["user_id", "item_id"]).reset_index(drop=True),
        split.train[split.train.user_id.isin(tested)][["user_id", "item_id"]]
        .sort_values(["user_id", "item_id"]).reset_index(drop=True),
    )
    _assert_temporal(split)


def test_protocol_b_parts_cover_every_user_once(X):
    tested = np.concatenate([P.protocol_b(X, 1, part).test.user_id for part in range(3)])
    assert len(tested) == len(set(tested)) == X.user_id.nunique()


def test_cold_items_have_no_training_rows(X):
    new = P.cold_items(X, 0.2, seed=0)
    assert len(new) == round(0.2 * X.item_id.nunique())
    np.testing.assert_array_equal(new, P.cold_items(X, 0.2, seed=0))
    c_new = P.protocol_c_new(X, new)
    assert not c_new.train.item_id.isin(new).any()
    assert c_new.test.item_id.isin(new).all()
    assert len(c_new.train) + len(c_new.test) == len(X)
    c_mix = P.protocol_c_mix(X, new)
    P.check_no_leakage(c_mix, new_items=new)
    _assert_temporal(c_mix)
    assert (c_mix.test.groupby("user_id").size() == 10).all()
    share = c_mix.test.item_id.isin(new).mean()
    assert 0.10 < share < 0.22  # new items' share of the test (about 16% here)


def test_cold_users_have_no_training_rows(X):
    split = P.protocol_d(X, 0.2, seed=0)
    assert not split.train.user_id.isin(split.test.user_id).any()
    assert split.test.user_id.nunique() == round(0.2 * X.user_id.nunique())
    assert len(split.train) + len(split.test) == len(X)


def test_rank_top_orders_equal_scores_at_random_per_user():
    # equal scores used to come out in argpartition's order (columns
    # 1656-1663 first on 1,682 tied columns); catalogue order would favour
    # MovieLens' low ids, its popular films
    users, catalog = np.arange(60), np.arange(300)
    empty = pd.DataFrame({"user_id": [], "item_id": []})
    split = P.Split("ties", empty, empty, empty)
    scores = np.zeros((len(users), len(catalog)), dtype=np.float32)
    scores[7, 250] = 1.0  # a strictly higher score still comes first
    top = P.rank_top(split, scores, users, catalog, 10)
    assert top[7, 0] == 250
    np.testing.assert_array_equal(top, P.rank_top(split, scores, users, catalog, 10))
    np.testing.assert_array_equal(top[:, :5], P.rank_top(split, scores, users, catalog, 5))
    assert len({tuple(row) for row in top}) == len(users)  # drawn anew for each user
    assert 100 < top[:, 0].mean() < 200  # not the catalogue's first columns
    assert (np.sort(top, axis=1) != np.arange(10)).any(axis=1).all()


def test_cold_user_tuning_cv_holds_out_whole_users_outside_d(X):
    # the user-text ridge's alpha acts on cold users only: it is searched on
    # users held out entirely from the tuning rows, none of them D's test users
    X_tune = P.tuning_split(X)
    d_users = P.protocol_d(X, 0.2, seed=0).test.user_id.unique()
    [(train, validation)] = P.cold_user_tuning_cv(X_tune, d_users)
    assert len(train) + len(validation) == len(X_tune)
    assert np.intersect1d(train, validation).size == 0
    held_out = X_tune.iloc[validation].user_id.unique()
    assert not X_tune.iloc[train].user_id.isin(held_out).any()
    assert not np.isin(held_out, d_users).any()
    outside = np.setdiff1d(X_tune.user_id.unique(), d_users)
    assert len(held_out) == round(0.2 * len(outside))
    [(_, again)] = P.cold_user_tuning_cv(X_tune, d_users)
    np.testing.assert_array_equal(validation, again)


@pytest.mark.parametrize("p", [1, 10, 100])
def test_protocol_e_samples_p_percent_of_fold0_training(X, p):
    base = P.protocol_a(X, 0)
    split = P.protocol_e(X, p)
    assert split.train.index.isin(base.train.index).all()
    assert abs(len(split.train) - p / 100 * len(base.train)) <= 1
    assert split.test.index.isin(base.test.index).all()
    assert split.test.user_id.isin(split.train.user_id).all()
    _assert_temporal(split)


def test_check_no_leakage_catches_a_leak(X):
    split = P.protocol_a(X, 0)
    leaky = P.Split("leaky", pd.concat([split.train, split.test.iloc[:5]]), split.test,
                    split.exclude)
    with pytest.raises(AssertionError):
        P.check_no_leakage(leaky)
    with pytest.raises(AssertionError, match="cold item"):
        P.check_no_leakage(split, new_items=split.train.item_id.iloc[:1].to_numpy())


def test_evaluation_matches_hand_computed_metrics():
    # 2 users, 4 items; popularity order: c (3), b (2), a (1), d (0, catalog only)
    train = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": list("cbcbca"),
                          "timestamp": range(6)})
    test = pd.DataFrame({"user_id": [1, 2, 2], "item_id": ["a", "a", "d"],
                         "timestamp": [9, 9, 9]})
    split = P.Split("toy", train, test, P._exclude(train, [1, 2]))
    catalog = np.array(list("abcd"))
    model = PopularityRecommender().fit(train)
    m = P.evaluate(model, split, catalog, ks=(2,))
    # user 1 excludes b, c: ranking a (1), d (-inf) -> hit at rank 1
    # user 2 same ranking; relevant {a, d} -> both in top-2
    np.testing.assert_allclose(m["HR@2"], [1, 1])
    np.testing.assert_allclose(m["NDCG@2"], [1, 1])
    np.testing.assert_allclose(m["Recall@2"], [1, 1])
    # with candidates restricted to d only, user 1 misses
    only_d = P.Split("toy", train, test, split.exclude, candidates=np.array(["d"]))
    m = P.evaluate(model, only_d, catalog, ks=(2,))
    np.testing.assert_allclose(m["HR@2"], [0, 1])
    np.testing.assert_allclose(m["NDCG@2"], [0, 1 / (1 + 1 / np.log2(3))])


def test_a_users_rows_of_one_second_are_held_out_at_random_not_by_item_id():
    # the loader orders rows of one second by item id: the held-out "last"
    # row of 44-46% of A's test users was always the highest id of its second
    from benchmarks.movielens import movielens_dataset

    X = movielens_dataset().interactions
    rank, _ = P.rank_from_end(X)
    last = X[rank == 0]
    same = X.merge(last, on=["user_id", "timestamp"], suffixes=("", "_last"))
    tied = same[same.item_id != same.item_id_last]
    assert tied.user_id.nunique() > 300
    highest = (tied.groupby("user_id").item_id_last.first()
               > tied.groupby("user_id").item_id.max())
    assert 0.2 < highest.mean() < 0.8


def test_scores_land_in_their_items_columns_of_the_catalogue():
    # a model that lacks an item in the middle of the catalogue (as in C-new,
    # C-mix and E): each item's score in its own column, -inf in the missing one
    train = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": list("adcdcd")})
    model = PopularityRecommender().fit(train)  # d (3) > c (2) > a (1); b unknown
    catalog = np.array(list("abcd"))
    scores = P.score_matrix(model, [1, 3], catalog, batch=1)
    expected = np.full((2, 4), -np.inf, dtype=np.float32)
    expected[:, [0, 2, 3]] = model.score_items([1, 3])
    np.testing.assert_array_equal(scores, expected)
    assert (scores[:, 3] > scores[:, 2]).all() and (scores[:, 2] > scores[:, 0]).all()
    np.testing.assert_array_equal(P.score_matrix(model, [1, 3], catalog), scores)
    test = pd.DataFrame({"user_id": [3], "item_id": ["c"], "timestamp": [9]})
    split = P.Split("toy", train, test, train.iloc[:0][["user_id", "item_id"]])
    # user 3 (nothing excluded): d, then c, its held-out item
    np.testing.assert_allclose(P.evaluate(model, split, catalog, ks=(1, 2))["HR@2"], [1])
    np.testing.assert_allclose(P.evaluate(model, split, catalog, ks=(1, 2))["HR@1"], [0])


def test_e_at_100_percent_is_a_fold0_row_for_row(X):
    # sequence models read a user's rows in order (ties by row): E keeps X's order
    full = P.protocol_e(X, 100)
    pd.testing.assert_frame_equal(full.train, P.protocol_a(X, 0).train)
    assert P.protocol_e(X, 10).train.index.is_monotonic_increasing


def test_c_mix_trains_on_every_old_item_row_before_the_test(X):
    new = P.cold_items(X, 0.2, seed=0)
    split = P.protocol_c_mix(X, new)
    rank, _ = P.rank_from_end(X)
    expected = X.index[(rank >= 10) & ~X.item_id.isin(new).to_numpy()]
    assert split.train.index.equals(expected)


def test_tuning_rows_are_the_training_rows_of_the_earliest_fold(X):
    assert P.tuning_split(X, n_folds=3).index.equals(P.protocol_a(X, 2).train.index)


def test_a_tests_only_users_with_training_rows():
    # user 2 has a single row, user 3 two: neither can be tested at fold 1
    X = pd.DataFrame({"user_id": [1, 1, 1, 2, 3, 3], "item_id": [10, 11, 12, 13, 10, 11],
                      "timestamp": [1, 2, 3, 4, 1, 2]})
    for fold, tested in ((0, [1, 3]), (1, [1])):
        split = P.protocol_a(X, fold)
        assert sorted(split.test.user_id) == tested
        assert split.test.user_id.isin(split.train.user_id).all()


def test_check_no_leakage_catches_a_later_training_row_of_one_user():
    X = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2], "item_id": [10, 11, 12, 10, 11, 12],
                      "timestamp": [1, 2, 3, 1, 2, 3]})
    # user 1 is tested on its middle row with its last row (time 3) in training
    leaky = P.Split("leaky", X.iloc[[0, 2, 3, 4]], X.iloc[[1, 5]], X.iloc[:0])
    with pytest.raises(AssertionError, match="training row after a test row"):
        P.check_no_leakage(leaky)
    P.check_no_leakage(P.Split("clean", X.iloc[[0, 3, 4]], X.iloc[[1, 5]], X.iloc[:0]))
