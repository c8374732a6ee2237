"""Ranking metrics against values worked out by hand, and the rank scorer."""

import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import check_scoring

from sklearn_zsrec.metrics import (
    catalog_coverage,
    hit_rate_at_k,
    make_rank_scorer,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from sklearn_zsrec._interactions import check_interactions
from sklearn_zsrec.metrics._ranking import _group_by_user, _score_recommender

# Two users, k=4:
#   user 0: relevant {1, 3, 5}; top 4 = 1 2 3 4 -> hits at positions 1 and 3
#   user 1: relevant {2};       top 4 = 5 6 7 2 -> hit at position 4
Y_TRUE = [{1, 3, 5}, [2]]
Y_PRED = np.array([[1, 2, 3, 4], [5, 6, 7, 2]])
ALL_METRICS = [hit_rate_at_k, precision_at_k, recall_at_k, ndcg_at_k, map_at_k, mrr]


def test_hit_rate_by_hand():
    assert hit_rate_at_k(Y_TRUE, Y_PRED, k=4) == 1.0  # both users hit
    assert hit_rate_at_k(Y_TRUE, Y_PRED, k=3) == 0.5  # user 1's hit is 4th
    assert hit_rate_at_k(Y_TRUE, Y_PRED, k=1) == 0.5  # only user 0's 1st


def test_precision_by_hand():
    # user 0: 2 hits / 4, user 1: 1 hit / 4
    assert precision_at_k(Y_TRUE, Y_PRED, k=4) == (2 / 4 + 1 / 4) / 2
    # k=3: user 0: 2 / 3, user 1: 0 / 3
    assert_allclose(precision_at_k(Y_TRUE, Y_PRED, k=3), (2 / 3 + 0) / 2)


def test_recall_by_hand():
    # user 0: 2 of 3 relevant found, user 1: 1 of 1
    assert_allclose(recall_at_k(Y_TRUE, Y_PRED, k=4), (2 / 3 + 1 / 1) / 2)
    # k=1: user 0: 1 of 3, user 1: 0 of 1
    assert_allclose(recall_at_k(Y_TRUE, Y_PRED, k=1), (1 / 3 + 0) / 2)


def test_ndcg_by_hand():
    # user 0: DCG  = 1/log2(1+1) + 1/log2(3+1)                = 1 + 0.5 = 1.5
    #         IDCG = min(3, 4) = 3 hits first
    #              = 1/log2(2) + 1/log2(3) + 1/log2(4)         = 2.1309...
    # user 1: DCG  = 1/log2(4+1) = 0.4307..., IDCG = 1/log2(2) = 1
    user0 = 1.5 / (1 + 1 / np.log2(3) + 0.5)
    user1 = (1 / np.log2(5)) / 1
    assert_allclose(ndcg_at_k(Y_TRUE, Y_PRED, k=4), (user0 + user1) / 2)
    assert round(ndcg_at_k(Y_TRUE, Y_PRED, k=4), 4) == 0.5673
    # k=2: user 0: DCG = 1, IDCG = 1 + 1/log2(3) (min(3, 2) = 2 hits); user 1: 0
    assert_allclose(ndcg_at_k(Y_TRUE, Y_PRED, k=2), (1 / (1 + 1 / np.log2(3))) / 2)


def test_map_by_hand():
    # user 0: precision@1 = 1/1 and precision@3 = 2/3 at the hits, / 3 relevant
    # user 1: precision@4 = 1/4 at the hit, / 1 relevant
    expected = ((1 / 1 + 2 / 3) / 3 + (1 / 4) / 1) / 2
    assert_allclose(map_at_k(Y_TRUE, Y_PRED, k=4), expected)
    # k=1: user 0: (1/1) / 3 relevant (trec_eval's map_cut, not / min(3, 1));
    # user 1: 0
    assert_allclose(map_at_k(Y_TRUE, Y_PRED, k=1), (1 / 3 + 0) / 2)


def test_mrr_by_hand():
    # first hit: user 0 at rank 1, user 1 at rank 4
    assert mrr(Y_TRUE, Y_PRED) == (1 / 1 + 1 / 4) / 2
    assert mrr(Y_TRUE, Y_PRED, k=3) == (1 / 1 + 0) / 2


def test_catalog_coverage_by_hand():
    catalog = range(1, 11)  # 10 items; recommended: 1..7 -> 7 of them
    assert catalog_coverage(Y_PRED, catalog) == 0.7
    assert catalog_coverage(Y_PRED, catalog, k=1) == 0.2  # items 1 and 5
    # repeated catalog ids count once; ids outside the catalog are ignored
    assert catalog_coverage([["a", "z"]], ["a", "b", "b"]) == 0.5


def test_catalog_coverage_counts_recommends_fillers_unless_masked_as_documented():
    # found by the metamorphic hunt (2026-12-07): users 1-3 have seen "a"
    # and "c", which fill their lists scored -inf: only "b" is recommended
    from sklearn_zsrec import PopularityRecommender

    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 4], "item_id": list("acacacb")})
    model = PopularityRecommender().fit(X)
    ids, scores = model.recommend([1, 2, 3], n=3, return_scores=True)
    assert catalog_coverage(ids, model.items_) == 1.0  # fillers count
    kept = np.where(np.isfinite(scores), ids, None)
    assert catalog_coverage(kept, model.items_) == pytest.approx(1 / 3)  # "b" alone


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_no_hits_is_zero_and_perfect_is_one(metric):
    assert metric([[9], [8, 7]], [[1, 2], [3, 4]], k=2) == 0.0
    assert metric([[1], [3]], [[1, 2], [3, 4]], k=1) == 1.0


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_returns_a_python_float(metric):
    assert type(metric(Y_TRUE, Y_PRED, k=2)) is float


def test_k_larger_than_the_list_counts_missing_positions_as_misses():
    y_true, y_pred = [[1, 2]], [[1, 3]]  # one hit in a list of 2
    assert hit_rate_at_k(y_true, y_pred, k=10) == 1.0
    assert recall_at_k(y_true, y_pred, k=10) == 0.5
    assert precision_at_k(y_true, y_pred, k=4) == 1 / 4
    # IDCG has min(2, 10) = 2 hits although the list is only 2 long
    assert_allclose(ndcg_at_k(y_true, y_pred, k=10), 1 / (1 + 1 / np.log2(3)))
    assert map_at_k(y_true, y_pred, k=10) == (1 / 1) / 2
    assert mrr(y_true, y_pred, k=10) == 1.0


def test_string_ids():
    y_true = [["apple"], {"pear", "fig"}]
    y_pred = [["kiwi", "apple", "fig"], ["fig", "plum", "pear"]]
    assert hit_rate_at_k(y_true, y_pred, k=3) == 1.0
    assert mrr(y_true, y_pred) == (1 / 2 + 1 / 1) / 2
    assert recall_at_k(y_true, y_pred, k=2) == (1 / 1 + 1 / 2) / 2


def test_ints_and_strings_are_not_confused():
    # numpy would turn [1, "a"] into ["1", "a"]; 1 must not match "1"
    assert hit_rate_at_k([["1"], [2]], [[1, "a"], ["2", "b"]], k=2) == 0.0
    assert hit_rate_at_k([[1], ["a"]], [[1, "x"], ["a", 2]], k=2) == 1.0


def test_integral_float_ids_match_int_ids():
    assert hit_rate_at_k([np.array([3.0])], np.array([[3, 4]]), k=2) == 1.0


def test_repeated_ids_count_once():
    # a repeated recommendation is a hit only the first time
    assert precision_at_k([[1]], [[1, 1, 1]], k=3) == 1 / 3
    assert recall_at_k([[1]], [[1, 1]], k=2) == 1.0
    # repeated relevant ids are one relevant item
    assert recall_at_k([[1, 1, 2]], [[1, 5]], k=2) == 1 / 2


def test_y_true_accepts_lists_sets_tuples_arrays_and_series():
    y_pred = [[1, 2], [3, 4], [5, 6], [7, 8]]
    y_true = [[1], {3}, (6,), np.array([8])]
    assert hit_rate_at_k(y_true, y_pred, k=2) == 1.0
    assert hit_rate_at_k(pd.Series(y_true, dtype=object), y_pred, k=2) == 1.0


@pytest.mark.parametrize("k", [0, -1, 1.5, "10", True, None])
def test_bad_k_raises(k):
    with pytest.raises(ValueError, match=r"k must be an int >= 1; got .*k=10"):
        ndcg_at_k(Y_TRUE, Y_PRED, k=k)


def test_bad_k_for_mrr_and_coverage_mentions_none():
    with pytest.raises(ValueError, match=r"k must be an int >= 1 or None; got 0"):
        mrr(Y_TRUE, Y_PRED, k=0)
    with pytest.raises(ValueError, match=r"k must be an int >= 1 or None; got 0"):
        catalog_coverage(Y_PRED, [1], k=0)


@pytest.mark.parametrize(
    "y_true, y_pred, message",
    [
        ([[1]], [[1], [2]], r"got 1 relevant sets in y_true and 2 rows in y_pred"),
        ([[], set()], [[1], [2]], r"none of the 2 users has a relevant item"),
        ([[1], 2], [[1], [2]], r"y_true\[1\] must be a collection .* e\.g\. \[2\]"),
        (["ab"], [[1]], r"y_true\[0\] must be a collection .* got 'ab'"),
        ([[np.nan]], [[1]], r"y_true\[0\] contains a missing id \(NaN or None\)"),
        ("abc", [[1]], r"y_true must be a sequence .* got 'abc'"),
        ([[1]], [1, 2], r"y_pred must be a 2-D array .* got an array of shape \(2,\)"),
        ([[1], [2]], [[1, 2], [3]], r"y_pred must be a 2-D array .* same length"),
        ([], np.empty((0, 3)), r"y_pred has 0 rows"),
        ([], [], r"y_pred has 0 rows"),  # (it said "2-D" and hinted at scoring=)
        # graded relevance {item: grade} lost its grades: grade 0 counted as relevant
        ([{1: 0, 2: 3}], [[1, 2]], r"y_true\[0\] is a mapping .* if grade > 0"),
        # scikit-learn's ndcg_score layout: rows read as the ids 0 and 1
        (np.array([[False, True], [True, True]]), [[1], [0]], r"y_true is a relevance matrix"),
        ([[False, True], [True, True]], [[1], [0]], r"y_true is a relevance matrix"),
    ],
)
def test_bad_inputs_raise(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        recall_at_k(y_true, y_pred, k=2)


def test_a_relevance_matrix_as_y_true_is_refused_or_reported_and_item_ids_0_and_1_are_not():
    import warnings

    import scipy.sparse as sp

    with pytest.raises(ValueError, match=r"y_true is a relevance matrix"):
        ndcg_at_k(sp.csr_matrix(np.array([[0, 1], [1, 0]])), [[1], [0]], k=1)
    # 0/1 rows with a repeat (ndcg_score's layout) were read as the ids 0 and 1,
    # silently; they may be ids (repeated ids count once), so they are read as
    # ids, with a warning, as an array, as lists (Y.tolist()) or as float rows
    for y_true in (np.array([[0, 1, 1], [1, 0, 0]]), [[0, 1, 1], [1, 0, 0]],
                   ([0.0, 1.0, 1.0], [1.0, 0.0, 0.0])):
        with pytest.warns(UserWarning, match=r"looks like a relevance matrix .* the ids 0 "
                                             r"and 1. If it is one, convert it"):
            assert recall_at_k(y_true, [[1, 2], [0, 2]], k=2) == 0.5  # as ids
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert recall_at_k([[0, 1, 2], [1, 0, 3]], [[1, 2], [0, 2]], k=2) == 0.5
    # two relevant ids per user, 0 and 1 among them, each named once: ids
    assert recall_at_k(np.array([[0, 1], [1, 0]]), [[0, 5], [7, 1]], k=2) == 0.5
    assert recall_at_k([[0, 1], [1, 0]], [[0, 5], [7, 1]], k=2) == 0.5
    assert recall_at_k([[0, 0.5], [1]], [[0, 5], [7, 1]], k=2) == 0.75  # ragged: ids


def test_labelled_y_true_and_y_pred_in_other_orders_are_refused_not_paired_by_position():
    # a groupby Series (sorted by user) against recommendations indexed in the
    # log's order paired other users' sets, silently (recall 0.667 for 1.0)
    y_true = pd.Series({"a": [1], "b": [2], "c": [3]})
    y_pred = pd.DataFrame([[3, 9], [2, 9], [1, 9]], index=["c", "b", "a"])
    with pytest.raises(ValueError, match=r"y_true.reindex\(y_pred.index\)"):
        recall_at_k(y_true, y_pred, k=2)
    assert recall_at_k(y_true.reindex(y_pred.index), y_pred, k=2) == 1.0
    # the same labels in the same order, or positions on either side: paired as given
    assert recall_at_k(y_true, y_pred.loc[["a", "b", "c"]], k=2) == 1.0
    assert recall_at_k(y_true, y_pred.reset_index(drop=True), k=2) == 1 / 3


def test_a_perfect_ranking_has_an_ndcg_of_exactly_one_at_any_size():
    # the DCG was summed pairwise, the ideal in order: 1.0000000000000002 at 32 hits
    for n in (1, 31, 32, 48, 100, 399):
        assert ndcg_at_k([list(range(n))], [list(range(n))], k=n) == 1.0


def test_catalog_as_a_column_is_refused_naming_the_column():
    items = pd.DataFrame({"item_id": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"1-D collection .* items\['item_id'\]"):
        catalog_coverage([[1, 2]], items[["item_id"]].to_numpy())
    # a list of tuple ids is 1-D: tuples are ids
    assert catalog_coverage([[(1, 2)], [(1, 2)]], [(1, 2), (3, 4)]) == 0.5


def test_y_pred_as_a_column_of_rows():
    # a Series of lists (df.groupby(...).agg(list)) or an Arrow list array:
    # one row per user, read as the 2-D array it holds (it raised "shape (2,)")
    pa = pytest.importorskip("pyarrow")
    y_true, rows = [[1], ["b"]], [[1, 2, 3], ["a", "b", 4]]
    expected = ndcg_at_k(y_true, np.array(rows, dtype=object), k=3)
    assert 0 < expected < 1
    assert ndcg_at_k(y_true, pd.Series(rows), k=3) == expected
    assert ndcg_at_k(y_true, pd.Series([tuple(r) for r in rows]), k=3) == expected
    ints = [[1, 2, 3], [4, 5, 6]]
    assert ndcg_at_k([[1], [5]], pa.array(ints), k=3) == ndcg_at_k([[1], [5]], ints, k=3)
    assert catalog_coverage(pd.Series([[1, 2], [2, 3]]), [1, 2, 3, 4]) == 0.75
    with pytest.raises(ValueError, match=r"rows have 2 different lengths \(\[2, 3\]\)"):
        ndcg_at_k(y_true, pd.Series([[1, 2, 3], [4, 5]]))


def test_users_without_relevant_items_are_left_out_of_the_mean():
    # as trec_eval leaves out queries without relevance judgements (more in
    # test_score_semantics.py)
    with pytest.warns(UserWarning, match=r"1 of 2 users have no relevant item \(y_true\[1\]\)"):
        assert recall_at_k([[1], []], [[1], [2]], k=2) == 1.0


def test_bad_catalog_raises():
    with pytest.raises(ValueError, match=r"catalog is empty"):
        catalog_coverage(Y_PRED, [])
    with pytest.raises(ValueError, match=r"catalog must be a collection .* got 5"):
        catalog_coverage(Y_PRED, 5)


class StubRecommender:
    """Stand-in for a fitted recommender, to test the scorer's own logic.

    ``recommend`` returns fixed rankings per user and records its calls, so
    the tests see which users and which ``n`` the scorer asked for.
    """

    def __init__(self, rankings):
        self.rankings = rankings
        self.calls = []

    def fit(self, X, y=None):
        return self

    def recommend(self, users, n=10):
        self.calls.append((list(users), n))
        return np.array([self.rankings[u][:n] for u in users])


RANKINGS = {"u1": ["a", "b", "c", "d"], "u2": ["c", "d", "a", "b"]}
HELD_OUT = pd.DataFrame(
    {"user_id": ["u2", "u1", "u2"], "item_id": ["d", "c", "b"], "timestamp": [5, 6, 7]}
)


def _relevant_sets(X):
    """Held-out rows grouped by user, as the rank scorer reads and groups them."""
    data = check_interactions(X, duplicates="keep")
    return _group_by_user(data.user_id, data.item_id)


def test_relevant_sets_groups_rows_by_user_in_order_of_first_appearance():
    users, relevant = _relevant_sets(HELD_OUT)
    assert users.tolist() == ["u2", "u1"]
    assert [r.tolist() for r in relevant] == [["d", "b"], ["c"]]
    users, relevant = _relevant_sets(np.array([[2, 20], [1, 10], [2, 21]]))
    assert users.tolist() == [2, 1]
    assert [r.tolist() for r in relevant] == [[20, 21], [10]]


def test_relevant_sets_reads_integral_float_arrays_as_int_ids():
    X = np.array([[1, 10, 0.5], [1, 11, 1.5]])  # float because of timestamps
    users, relevant = _relevant_sets(X)
    assert users.dtype.kind == "i" and relevant[0].dtype.kind == "i"
    assert users.tolist() == [1] and relevant[0].tolist() == [10, 11]


def test_relevant_sets_keeps_int_ids_among_strings():
    users, relevant = _relevant_sets([("u1", 10), ("u1", 11)])
    assert users.tolist() == ["u1"] and relevant[0].tolist() == [10, 11]


def test_scorer_asks_for_top_k_of_each_user_and_applies_the_metric():
    stub = StubRecommender(RANKINGS)
    scorer = make_rank_scorer("ndcg", k=3)
    # u2: relevant {d, b}; top 3 = c d a -> DCG = 1/log2(3), IDCG = 1 + 1/log2(3)
    # u1: relevant {c};    top 3 = a b c -> DCG = 1/log2(4) = 0.5, IDCG = 1
    expected = ((1 / np.log2(3)) / (1 + 1 / np.log2(3)) + 0.5) / 2
    assert_allclose(scorer(stub, HELD_OUT), expected)
    assert stub.calls == [(["u2", "u1"], 3)]
    assert_allclose(scorer(stub, HELD_OUT, None), expected)  # y is ignored


def test_scorer_accepts_arrays_and_function_metrics():
    X = HELD_OUT.to_numpy()  # (n, 3): user_id, item_id, timestamp
    scorer = make_rank_scorer(recall_at_k, k=2)
    # u2: top 2 = c d -> 1 of {d, b}; u1: top 2 = a b -> 0 of {c}
    assert scorer(StubRecommender(RANKINGS), X) == (1 / 2 + 0) / 2
    assert scorer(StubRecommender(RANKINGS), X[:, :2]) == (1 / 2 + 0) / 2


@pytest.mark.parametrize(
    "metric, expected",
    [
        ("hit_rate", (1 + 0) / 2),
        ("precision", (1 / 2 + 0) / 2),
        ("map", ((1 / 2) / 2 + 0) / 2),
        ("mrr", (1 / 2 + 0) / 2),
    ],
)
def test_scorer_every_metric_name(metric, expected):
    # k=2: u2's top 2 = c d (d relevant, at rank 2); u1's top 2 = a b (no hit)
    assert make_rank_scorer(metric, k=2)(StubRecommender(RANKINGS), HELD_OUT) == expected


def test_score_recommender_defaults_to_ndcg_at_10():
    stub = StubRecommender(RANKINGS)
    assert _score_recommender(stub, HELD_OUT) == make_rank_scorer("ndcg")(stub, HELD_OUT)
    assert stub.calls[0] == (["u2", "u1"], 10)


def test_scorer_repr_and_pickle():
    assert repr(make_rank_scorer("ndcg", k=10)) == "make_rank_scorer('ndcg', k=10)"
    assert repr(make_rank_scorer(map_at_k, k=5)) == "make_rank_scorer('map', k=5)"
    scorer = pickle.loads(pickle.dumps(make_rank_scorer("recall", k=2)))
    assert scorer(StubRecommender(RANKINGS), HELD_OUT) == (1 / 2 + 0) / 2


def test_scorer_passes_sklearn_check_scoring():
    scorer = make_rank_scorer("recall", k=2)
    assert check_scoring(StubRecommender(RANKINGS), scoring=scorer) is scorer


@pytest.mark.parametrize("metric", ["auc", "ndcg_at_k", catalog_coverage, len])
def test_make_rank_scorer_rejects_unknown_metrics(metric):
    with pytest.raises(ValueError, match=r"metric must be one of \['hit_rate', 'map'"):
        make_rank_scorer(metric)


def test_make_rank_scorer_rejects_bad_k():
    with pytest.raises(ValueError, match=r"k must be an int >= 1; got None"):
        make_rank_scorer("ndcg", k=None)


@pytest.mark.parametrize(
    "X, message",
    [
        (HELD_OUT.rename(columns={"item_id": "item"}), r"missing the column\(s\) \['item_id'\]"),
        # X is read by check_interactions, as in fit
        (np.array([1, 2, 3]), r"StubRecommender: X must be 2-D .* shape \(3,\)"),
        (np.ones((2, 4)), r"StubRecommender: X must have 2 or 3 columns .*\(2, 4\)"),
        (HELD_OUT.iloc[:0], r"StubRecommender: X has 0 .*rows"),
        (HELD_OUT.assign(user_id=["u1", None, "u2"]), r"'user_id' contains missing ids .* 1 rows"),
    ],
)
def test_scorer_bad_X_raises(X, message):
    with pytest.raises(ValueError, match=message):
        make_rank_scorer("ndcg")(StubRecommender(RANKINGS), X)


def test_catalog_coverage_warns_when_no_recommended_id_is_in_the_catalog():
    # item_texts (the package's catalog) passed as catalog: its values are
    # the texts, and the coverage was a silent 0.0
    from sklearn_zsrec.metrics import catalog_coverage

    texts = pd.Series({1: "space rocket", 2: "pasta recipe", 3: "jazz club"})
    with pytest.warns(UserWarning, match=r"none of the recommended ids .*catalog=item_texts.index"):
        assert catalog_coverage([[1, 2]], catalog=texts) == 0.0
    assert catalog_coverage([[1, 2]], catalog=texts.index) == 2 / 3


def test_int_ids_past_2_53_beside_nan_pads_are_not_rounded():
    # a list of recommendations padded with NaN became float64: 2**60 + 1
    # rounded to 2**60, a miss and a false hit
    big = 2**60 + 1
    assert hit_rate_at_k([[big]], [[big, np.nan]], k=2) == 1.0
    assert hit_rate_at_k([[2**60]], [[big, np.nan]], k=2) == 0.0
    assert catalog_coverage([[big, np.nan]], [big, 5]) == 0.5


def test_a_recommend_with_kwargs_that_returns_ids_only_is_named():
    # recommend(users, n, **kwargs) is called with return_scores=True; ids
    # alone were unpacked as (ids, scores): a shape error, or "too many values"
    class Wrapper:
        def recommend(self, users, n=10, **kwargs):
            return np.tile([7, 8, 9], (len(users), 1))[:, :n]

    for held_out in (np.array([[1, 8], [2, 5]]), np.array([[1, 8], [2, 5], [3, 9]])):
        with pytest.raises(TypeError, match="must return a pair \\(ids, scores\\)"):
            make_rank_scorer("recall", k=2)(Wrapper(), held_out)


def test_a_pair_of_ids_and_scores_in_any_layout_is_scored():
    # the check of the pair first accepted only a tuple of 2-D ids
    class Listed:
        def __init__(self, layout):
            self.layout = layout

        def recommend(self, users, n=10, return_scores=False, exclude_seen=True):
            ids = np.tile([7, 8, 9], (len(users), 1))[:, :n]
            scores = np.tile([3.0, 2.0, 1.0], (len(users), 1))[:, :n]
            if self.layout == "series":
                ids = pd.Series(list(ids))
            out = [ids, scores] if self.layout == "list" else (ids, scores)
            return out if return_scores else ids

    held_out = np.array([[1, 8], [2, 5]])
    for layout in ("tuple", "list", "series"):
        assert make_rank_scorer("recall", k=2)(Listed(layout), held_out) == 0.5


def test_arrow_lists_padded_with_nulls_keep_big_int_ids_exact():
    # pandas reads an Arrow list<int64> with a null as float64 (every row):
    # ids past 2**53 were rounded, so real hits counted as misses
    pa = pytest.importorskip("pyarrow")
    big = 2**60 + 1
    y_true, rows = [[big], [big + 2]], [[big, None], [big + 2, 5]]
    for y_pred in (pa.array(rows), pa.chunked_array([pa.array(rows)]),
                   pd.Series(rows, dtype=pd.ArrowDtype(pa.list_(pa.int64())))):
        assert recall_at_k(y_true, y_pred, k=2) == 1.0
        assert catalog_coverage(y_pred, [big, big + 2, 5]) == 1.0


def test_catalog_coverage_reads_missing_ids_as_missing():
    with pytest.raises(ValueError, match="catalog contains a missing id"):
        catalog_coverage([[1, 2], [3, 1]], [1, 2, 3, np.nan])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all-None pads are no recommendation: no warning
        assert catalog_coverage([[None, None]], [1, 2]) == 0.0
    assert catalog_coverage([[1, None], [2, None]], [1, 2, 3]) == pytest.approx(2 / 3)


def test_ids_of_another_kind_than_y_trues_are_named():
    # '1' (read from a CSV) against 1 (from recommend): every metric 0, silently
    with pytest.warns(UserWarning, match=r"kind \['str'\] and y_pred's of kind \['number'\]"):
        assert ndcg_at_k([["1"], ["2"]], [[1, 2], [2, 1]], k=2) == 0.0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ints against whole floats are the same ids
        assert hit_rate_at_k([[1], [2]], np.array([[1.0, np.nan], [2.0, 3.0]]), k=2) == 1.0
        assert hit_rate_at_k([[1], [2]], [[3, 4], [5, 6]], k=2) == 0.0  # only misses


def test_tuple_ids_in_lists_of_lists_are_ids():
    y_pred = [[("shop", 1), ("shop", 2)], [("shop", 3), ("shop", 1)]]
    assert hit_rate_at_k([[("shop", 2)], [("shop", 1)]], y_pred, k=2) == 1.0


def test_y_true_of_a_left_join_and_of_the_wrong_shape():
    # NaN or None for a user without held-out rows: "Wrap a single id in a
    # list, e.g. [nan]", which then raised "contains a missing id"
    y_pred = [[10, 11], [20, 21], [30, 31]]
    with pytest.warns(UserWarning, match=r"1 of 3 users have no relevant item \(y_true\[1\]\)"):
        assert recall_at_k(pd.Series([[10], np.nan, [30]]), y_pred, k=2) == 1.0
    with pytest.warns(UserWarning, match="no relevant item"):
        assert recall_at_k([[10], None, [30]], y_pred, k=2) == 1.0
    held_out = pd.DataFrame({"user_id": [0, 1, 2], "item_id": [10, 20, 30]})
    for y_true in (held_out, {0: [10], 1: [20], 2: [30]}):
        with pytest.raises(ValueError, match=r"groupby\('user_id'\)\['item_id'\].agg\(list\)"):
            recall_at_k(y_true, y_pred, k=2)


def test_catalog_coverage_of_a_str_catalog_takes_tuple_ids_mixing_str_and_int():
    # the catalog's ids became an Arrow string index (pandas 3), which could
    # not be compared with ("web", 42): pyarrow's ArrowTypeError
    assert catalog_coverage([["a", "b"], ["b", ("web", 42)]], ["a", "b", "c"]) == 2 / 3
    with pytest.warns(UserWarning, match="none of the recommended ids is in catalog"):
        assert catalog_coverage([[("web", 42)]], ["a", "b", "c"]) == 0.0


def test_a_score_matrix_given_as_ranked_ids_warns():
    # score_items' layout (sklearn's ndcg_score takes it): its scores were
    # read as item ids, e.g. popularity counts 3.0 and 2.0 as items 3 and 2
    y_true = [[0], [1]]
    with pytest.warns(UserWarning, match=r"fractions \(e.g. 0.25\), as a score matrix does.*"
                                         r"np.argsort\(-scores"):
        ndcg_at_k(y_true, np.array([[0.25, 0.5, 0.0], [0.5, 0.25, 0.0]]), k=2)
    with pytest.warns(UserWarning, match="a value repeated within a row"):
        hit_rate_at_k(y_true, np.array([[3.0, 2.0, 2.0, 1.0], [3.0, 2.0, 2.0, 1.0]]), k=2)
    # float ids (whole numbers, each once per row) are ids: no warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hit_rate_at_k(y_true, np.array([[0.0, 2.0], [1.0, np.nan]]), k=2) == 1.0
    with pytest.raises(TypeError, match="y_pred is a sparse matrix, not ranked ids"):
        import scipy.sparse as sp

        ndcg_at_k(y_true, sp.csr_matrix(np.eye(2)), k=2)


@pytest.mark.parametrize("column", ["user_id", "Unnamed: 0", "index", "customer_id", "session",
                                    "uid"])
def test_a_y_pred_frame_with_its_user_column_is_refused(column):
    # recommendations written with to_csv and read back: the user ids were
    # read as each row's first recommended item, shifting the others down
    frame = pd.DataFrame(Y_PRED, columns=["0", "1", "2", "3"])
    frame.insert(0, column, [10, 11])
    with pytest.raises(ValueError, match=f"has the column '{column}' beside the ranked item ids.*"
                                         rf"set_index\('{column}'\)"):
        ndcg_at_k(Y_TRUE, frame, k=4)
    assert ndcg_at_k(Y_TRUE, frame.set_index(column), k=4) == ndcg_at_k(Y_TRUE, Y_PRED, k=4)
    # an Arrow table too, and a frame of two-level columns
    pa = pytest.importorskip("pyarrow")
    with pytest.raises(ValueError, match=f"has the column '{column}'"):
        ndcg_at_k(Y_TRUE, pa.Table.from_pandas(frame), k=4)
    frame.columns = pd.MultiIndex.from_tuples([(c, "") for c in frame.columns])
    with pytest.raises(ValueError, match="beside the ranked item ids"):
        ndcg_at_k(Y_TRUE, frame, k=4)


@pytest.mark.parametrize("names", [[f"rank{k}_item_id" for k in range(1, 5)],
                                   [f"rank{k}_movie_id" for k in range(1, 5)],
                                   [f"product_{k}_id" for k in range(4)]])
def test_rank_columns_named_as_item_ids_are_ranks_not_a_user_column(names):
    # refused as if the first were the user column, with the advice to make
    # it the index: which dropped each user's top item
    frame = pd.DataFrame(Y_PRED, columns=names)
    assert ndcg_at_k(Y_TRUE, frame, k=4) == ndcg_at_k(Y_TRUE, Y_PRED, k=4)
    frame.insert(0, "user_id", [10, 11])  # the user column beside them still is refused
    with pytest.raises(ValueError, match="has the column 'user_id' beside the ranked item ids"):
        ndcg_at_k(Y_TRUE, frame, k=4)


def test_a_models_own_fractional_float_ids_do_not_warn_in_its_score():
    # our scorer passes the model's recommend output, ids of any type: item
    # ids such as 6.5 warned "looks like a score matrix" on every fold
    import warnings

    from sklearn_zsrec import PopularityRecommender

    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [6.5, 7.5, 6.5, 8.5, 7.5, 8.5],
                      "timestamp": [0, 1, 0, 1, 0, 1]})
    model = PopularityRecommender().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert 0 <= make_rank_scorer("ndcg", k=2, exclude_seen=False)(model, X, None) <= 1
