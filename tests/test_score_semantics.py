"""What ``score`` and the rank scorer count: no silent wrong answers.

Conventions pinned here (trec_eval's, see ``make_rank_scorer``):

- positions that ``recommend`` scores ``-inf`` (excluded items filling a list
  when fewer than ``k`` items remain) are empty, never hits;
- with ``exclude_seen=True`` (``score``'s behaviour) held-out rows that repeat
  one of the user's training interactions are left out of the relevant sets,
  with one warning; users left with no relevant item are left out of the mean;
- held-out items outside the catalog raise;
- users with no relevant item are left out of every metric's mean;
- MAP divides by the number of relevant items (trec_eval's ``map_cut``).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from sklearn_zsrec import ALSRecommender, PopularityRecommender
from sklearn_zsrec.metrics import (
    hit_rate_at_k,
    make_rank_scorer,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from sklearn_zsrec.model_selection import train_test_split_last

ALL_METRICS = [hit_rate_at_k, precision_at_k, recall_at_k, ndcg_at_k, map_at_k, mrr]

# u1 has seen 4 of the 5 items: a list of 10 holds 1 unseen item, then the 4
# seen ones scored -inf. Popularity (distinct users), no ties:
# a 5 > b 4 > c 3 > e 2 > d 1.
TRAIN = pd.DataFrame(
    [
        ("u1", "a"), ("u1", "b"), ("u1", "c"), ("u1", "d"),
        ("u2", "a"), ("u2", "b"), ("u2", "c"),
        ("u3", "a"), ("u3", "b"), ("u3", "e"),
        ("u4", "a"), ("u4", "b"), ("u4", "c"),
        ("u5", "a"), ("u5", "e"),
    ],
    columns=["user_id", "item_id"],
)


def _popularity():
    return PopularityRecommender().fit(TRAIN)


class MinusInfStub:
    """Recommends a b c for everyone; c is scored -inf (an excluded filler)."""

    def recommend(self, users, n=10, exclude_seen=True, return_scores=False):
        ids = np.tile(np.array(["a", "b", "c"], dtype=object), (len(users), 1))[:, :n]
        scores = np.tile(np.array([2.0, 1.0, -np.inf]), (len(users), 1))[:, :n]
        return (ids, scores) if return_scores else ids


def test_positions_scored_minus_inf_are_never_hits():
    held_out = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["c", "a"]})
    # u1: c sits at a -inf position: no hit; u2: a at rank 1
    assert make_rank_scorer("hit_rate", k=3)(MinusInfStub(), held_out) == 0.5
    assert make_rank_scorer("precision", k=3)(MinusInfStub(), held_out) == (0 + 1 / 3) / 2


def test_score_does_not_count_training_items_filling_a_short_list():
    # u1's held-out c is a training item (at a -inf position of its list): it
    # cannot be recommended, so u1 is left out, not scored 1/log2(rank + 1)
    model = _popularity()
    held_out = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["c", "e"]})
    with pytest.warns(UserWarning, match=r"1 of 2 held-out rows"):
        score = model.score(held_out)
    only_u2 = model.score(held_out.iloc[1:])
    assert score == only_u2
    # u2 has seen a, b, c: e (2 users) comes before d (1 user)
    assert only_u2 == 1.0


def test_score_leaves_out_repeated_interactions_with_one_warning():
    model = _popularity()
    held_out = pd.DataFrame(
        {"user_id": ["u1", "u2", "u2", "u3"], "item_id": ["a", "b", "d", "c"]}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = model.score(held_out)
    assert len(caught) == 1 and caught[0].category is UserWarning
    message = str(caught[0].message)
    assert "2 of 4 held-out rows" in message
    assert "1 of 3 users" in message  # u1 has nothing left
    assert "make_rank_scorer(metric, exclude_seen=False)" in message
    assert "drop repeated interactions from the held-out rows" in message
    # u2 keeps d (rank 2 after e), u3 keeps c (rank 1); u1 is left out
    kept = held_out.iloc[[2, 3]]
    assert score == model.score(kept)
    assert score == ndcg_at_k([["d"], ["c"]], model.recommend(["u2", "u3"], n=10), k=10)
    assert_allclose(score, (1 / np.log2(3) + 1) / 2)


def test_score_after_train_test_split_last_with_repeats_is_not_silently_zero():
    # the last interaction of u1 and u2 repeats an earlier one (a re-watch)
    X = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u2", "u3", "u3", "u3"],
            "item_id": ["a", "b", "a", "b", "c", "b", "a", "d", "c"],
            "timestamp": [1, 2, 3, 1, 2, 3, 1, 2, 3],
        }
    )
    train, test = train_test_split_last(X)
    model = PopularityRecommender().fit(train)
    with pytest.warns(UserWarning, match=r"2 of 3 held-out rows") as record:
        score = model.score(test)
    assert len(record) == 1
    # only u3's c counts: u3 has seen a and d; b (2 users) comes before c (1)
    assert score == model.score(test[test.user_id == "u3"])
    assert_allclose(score, 1 / np.log2(3))


def test_score_raises_when_every_held_out_row_is_a_training_interaction():
    held_out = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["a", "b"]})
    with pytest.raises(ValueError, match=r"no held-out row is left .* all 2 rows") as info:
        _popularity().score(held_out)
    assert "exclude_seen=False" in str(info.value)


def test_a_held_out_click_on_an_item_shown_in_training_is_counted_as_shown():
    # the warning called it a repeated interaction and said to drop repeats,
    # though a row of weight 0 is no interaction (the item only counts as seen)
    shown = pd.DataFrame({"user_id": ["u2", "u3"], "item_id": ["e", "c"], "weight": 0.0})
    model = PopularityRecommender().fit(pd.concat([TRAIN.assign(weight=1.0), shown]))
    held_out = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u3"], "item_id": ["a", "e", "c", "d"]})
    with pytest.warns(UserWarning) as record:
        score = model.score(held_out)
    assert len(record) == 1
    message = str(record[0].message)
    assert "3 of 4 held-out rows of X are training pairs of their user" in message
    assert "1 repeats an interaction and 2 are items shown to the user in training" in message
    assert "drop these rows from the held-out rows" in message
    assert score == model.score(held_out.iloc[[3]])
    with pytest.raises(ValueError, match=r"all 1 rows of X are training pairs .* 0 repeat an "
                                         r"interaction and 1 is an item shown"):
        model.score(held_out.iloc[[1]])


def test_exclude_seen_false_ranks_training_items_and_counts_every_row():
    model = _popularity()
    held_out = pd.DataFrame({"user_id": ["u1", "u2", "u2"], "item_id": ["a", "b", "e"]})
    scorer = make_rank_scorer("ndcg", k=3, exclude_seen=False)
    # everyone gets a b c: u1's a at rank 1, u2's b at rank 2 (e is 4th)
    assert repr(scorer) == "make_rank_scorer('ndcg', k=3, exclude_seen=False)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = scorer(model, held_out)
    top = model.recommend(["u1", "u2"], n=3, exclude_seen=False)
    assert top[0, 0] == "a"
    assert score == ndcg_at_k([["a"], ["b", "e"]], top, k=3)
    assert score > 0.5


@pytest.mark.parametrize("exclude_seen", [0, "yes", None])
def test_make_rank_scorer_rejects_non_bool_exclude_seen(exclude_seen):
    with pytest.raises(ValueError, match=r"exclude_seen must be True or False"):
        make_rank_scorer("ndcg", exclude_seen=exclude_seen)


def test_score_counts_unknown_items_as_misses_with_a_warning():
    # they used to count silently, although the README said they raise;
    # trec_eval counts relevant documents a run never retrieves as misses
    held_out = pd.DataFrame({"user_id": ["u1", "u2", "u2"], "item_id": ["e", "zz", "yy"]})
    model = _popularity()
    with pytest.warns(
        UserWarning,
        match=r"PopularityRecommender: 2 of 3 held-out rows of X have items that are not in "
        r"the catalog \(items_; e\.g\. \['zz', 'yy'\]\).*misses.*drop those rows",
    ):
        score = model.score(held_out)
    top = model.recommend(["u1", "u2"], n=10)
    assert score == ndcg_at_k([["e"], ["zz", "yy"]], top, k=10)
    with pytest.warns(UserWarning, match=r"2 of 3 held-out rows"):
        recall = make_rank_scorer("recall", exclude_seen=False)(model, held_out)
    assert recall == recall_at_k([["e"], ["zz", "yy"]], model.recommend(["u1", "u2"], n=10, exclude_seen=False), k=10)


def test_an_unknown_item_stays_a_miss_after_a_user_who_trained_on_the_last_item():
    # a mutation hunt: the training-pair lookup keyed an unknown item (catalog
    # column -1) as the previous held-out user's last catalog column, so when
    # u1 had trained on c (the catalog's last item), u2's new-item was taken
    # for a training pair and dropped: recall and NDCG went from 0.5 to 1.0
    train = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u3"], "item_id": ["a", "c", "a", "b"]})
    model = PopularityRecommender().fit(train)
    assert model.items_.tolist() == ["a", "b", "c"]
    held_out = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["b", "new-item"]})
    for scorer, expected in ((model.score, 1.0 / 2),  # u1: b at rank 1 (a, c seen); u2: a miss
                             (lambda X: make_rank_scorer("recall", k=10)(model, X), (1 + 0) / 2)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert scorer(held_out) == expected
        assert len(caught) == 1  # the unknown item's warning only, no "training pairs" one
        assert "1 of 2 held-out rows of X have items that are not in the catalog" in str(
            caught[0].message)


def test_score_is_ndcg_at_10_of_recommend():
    # a mutation hunt: score() computing NDCG@5 passed every metrics test
    # (only a grid search's test saw it). Popularity: i0 (11 users) > i1 (9)
    # > ... > i9 (1); z trained on i0, so its list is i1 .. i9 and its
    # held-out i7 sits at rank 7: NDCG@10 = 1 / log2(7 + 1) = 1/3, NDCG@5 = 0
    items = [f"i{k}" for k in range(10)]
    train = pd.DataFrame([(f"u{j}", items[k]) for j in range(10) for k in range(10 - j)]
                         + [("z", "i0")], columns=["user_id", "item_id"])
    model = PopularityRecommender().fit(train)
    assert model.recommend("z", n=10)[:9].tolist() == items[1:]
    held_out = pd.DataFrame({"user_id": ["z"], "item_id": ["i7"]})
    assert_allclose(model.score(held_out), 1 / 3, rtol=1e-12)
    assert model.score(held_out) == ndcg_at_k([["i7"]], model.recommend(["z"], n=10), k=10)


def test_score_with_a_user_unknown_to_als_still_raises():
    model = ALSRecommender(factors=2, iterations=2, random_state=0).fit(TRAIN)
    held_out = pd.DataFrame({"user_id": ["u1", "nobody"], "item_id": ["e", "e"]})
    with pytest.raises(ValueError, match=r"1 user ids were not seen in fit"):
        model.score(held_out)


# ---- the metrics themselves ---------------------------------------------


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_users_without_relevant_items_are_left_out_with_a_warning(metric):
    y_pred = [[1, 2], [3, 4], [5, 6]]
    with pytest.warns(UserWarning, match=r"1 of 3 users have no relevant item") as record:
        value = metric([[1], [], {6}], y_pred, k=2)
    assert len(record) == 1
    assert "y_true[1]" in str(record[0].message)
    assert value == metric([[1], {6}], [[1, 2], [5, 6]], k=2)


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_no_user_with_a_relevant_item_raises(metric):
    with pytest.raises(ValueError, match=r"none of the 2 users has a relevant item"):
        metric([[], set()], [[1, 2], [3, 4]], k=2)


def test_map_divides_by_the_number_of_relevant_items():
    # 3 relevant, k=2, hits at ranks 1 and 2: AP@2 = (1/1 + 2/2) / 3 (trec_eval),
    # not / min(3, 2)
    assert_allclose(map_at_k([[1, 2, 3]], [[1, 2, 9]], k=2), 2 / 3)
    # ranx and trec_eval's map_cut agree: relevant {d1, d2, d9}, run d1 d3 d2
    assert_allclose(map_at_k([[1, 2, 9]], [[1, 3, 2]], k=2), 1 / 3)
    assert_allclose(map_at_k([[1, 2, 9]], [[1, 3, 2]], k=5), (1 + 2 / 3) / 3)


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_zero_column_predictions_are_all_misses(metric):
    y_pred = np.empty((2, 0), dtype=np.int64)
    assert metric([[1], [2, 3]], y_pred, k=3) == 0.0
    assert metric([[1], [2, 3]], [[], []], k=3) == 0.0


def test_mrr_without_k_on_zero_columns():
    assert mrr([[1]], np.empty((1, 0)), k=None) == 0.0
