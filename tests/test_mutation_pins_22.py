"""Rules mutation round 22 found unpinned (2026-12-07): each test fails on a
one-line slip that kept every other test passing.

The metrics' warning about a relevance matrix as ``y_true`` (float ones, two
items, real ids with a repeat are not one), the pairing by position of an
unlabelled ``y_true``, MRR's whole list by default; ``np.bool_`` user ids in
the splitters; a Spark Connect session is not "stopped"; new users with and
without a usable text in one call; ``paired`` needs the same splits.
"""
import numpy as np
import pandas as pd
import pytest

from sklearn_zsrec.metrics import ndcg_at_k, recall_at_k

_MATRIX = "looks like a relevance matrix"


def test_a_two_item_relevance_matrix_is_reported():
    # mutant rel_matrix_two_cols (shape[1] <= 2): a catalog of two items gave NDCG 1.0
    with pytest.warns(UserWarning, match=_MATRIX):
        ndcg_at_k(np.array([[1, 0], [1, 1]]), np.array([[0, 1], [1, 0]]), k=2)


def test_a_float_relevance_matrix_is_reported():
    # mutant rel_matrix_no_float (kind not in "iu"): 0.0/1.0 read as ids, recall 0.25
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    with pytest.warns(UserWarning, match=_MATRIX):
        recall_at_k(Y, np.array([[0, 1, 2], [2, 1, 0]]), k=1)


def test_equal_length_rows_of_ids_with_a_repeat_are_ids_not_a_matrix():
    # mutant rel_matrix_isin_any (np.isin(...).any()): one 1 among the ids made
    # a 2-D y_true of real ids (7 held out twice) a "relevance matrix"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert recall_at_k(np.array([[7, 7], [1, 2]]), np.array([[7, 3], [1, 5]]), k=2) == 0.75


def test_a_y_true_without_labels_pairs_by_position_with_a_labelled_y_pred():
    # mutant same_users_no_rangeindex_a: y_true's RangeIndex against y_pred's user
    # labels raised "both indexed"; only both labelled in other orders raise
    y_pred = pd.DataFrame([[3, 4], [1, 2]], index=pd.Index(["u2", "u1"], name="user_id"))
    assert recall_at_k(pd.Series([[3], [2]]), y_pred, k=2) == 1.0


def test_mrr_reads_the_whole_list_by_default():
    # mutant mrr_default_k10: the default cut the list at 10, a first hit at 11 gave 0
    from sklearn_zsrec.metrics import mrr
    assert mrr([[110]], np.arange(100, 120)[None, :]) == pytest.approx(1 / 11)


def test_numpy_booleans_among_object_user_ids_are_refused_by_the_splitters():
    # mutant split_bool_npbool_missed (isinstance(v, bool)): np.True_ in an object
    # column went through the split (fit refuses it afterwards)
    from sklearn_zsrec.model_selection import LeaveLastOut
    X = pd.DataFrame({"user_id": np.array([np.True_, np.True_, "a", "a"], dtype=object),
                      "item_id": [1, 2, 3, 4], "timestamp": [1, 2, 3, 4]})
    with pytest.raises(TypeError, match=r"LeaveLastOut: column 'user_id' holds bool"):
        list(LeaveLastOut().split(X))


def test_a_session_without_a_classic_context_is_not_called_stopped():
    # mutant spark_session_default_none: a Spark Connect session (no _sc attribute)
    # was refused as "stopped"; the check is for classic sessions only
    pytest.importorskip("pyspark")
    from sklearn_zsrec._spark_als import _session

    class ConnectLike:  # pyspark.sql.connect.session.SparkSession has no _sc
        def __getattr__(self, name):
            raise AttributeError(name)

    s = ConnectLike()
    assert _session(s) is s


def test_new_users_with_a_text_and_with_a_text_of_zeros_in_one_call():
    # mutant tn_emb_not_masked: the zero-embedding text's row stayed among the
    # embeddings of the users scored by text neighbours: a numpy shape error.
    # (In tests/test_text_neighbours.py: uses its _hybrid, X, TOPICS.)
    import warnings
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn_zsrec import ALSRecommender, HybridRecommender, ZeroShotRecommender
    from ._data import topic_catalog, topic_interactions
    from ._members import cf_members

    items, topics = topic_catalog()
    X = topic_interactions(topics, users_per_topic=10, per_user=6).assign(weight=1.0)
    fans = pd.Series({u: f"Someone who likes {t}." for u, t in X.assign(
        t=topics.loc[X.item_id].to_numpy()).groupby("user_id").t.first().items()})
    text = ZeroShotRecommender(TfidfVectorizer(), item_texts=items, user_texts=fans)
    model = HybridRecommender(text, cf_members(ALSRecommender(factors=8, random_state=0)),
                              random_state=0, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
        texts = {"fan": f"Someone who likes {topics.iloc[0]}.", "odd": "zzqx qqvv"}
        both = model.recommend(["fan", "odd"], n=5, user_texts=texts)
        alone = [model.recommend([u], n=5, user_texts={u: texts[u]})[0] for u in texts]
    np.testing.assert_array_equal(both, alone)


def test_a_model_scored_on_fewer_splits_gets_no_paired_figure():
    # mutant paired_len_check_dropped: zip compared the common splits only; the
    # per-user differences of 3 and 4 users raised a broadcast error.
    # (In tests/test_peers.py: uses its X, P and record.)
    from benchmarks import _protocols as P
    from benchmarks.movielens import paired, record

    X = pd.DataFrame({"user_id": [1, 1, 2, 1, 2, 3], "item_id": [10, 11, 10, 12, 12, 13],
                      "timestamp": [1, 2, 3, 4, 5, 6]})
    test = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [10, 11, 12], "timestamp": [9, 9, 9]})
    first, second = P.Split("E", X, test, X.iloc[:0]), P.Split("E", X, test.iloc[:1], X.iloc[:0])
    results = {}
    record(results, "E", "ref", first, {"NDCG@10": np.array([0.5, 0.0, 1.0])}, 0.0)
    record(results, "E", "ref", second, {"NDCG@10": np.array([0.2])}, 0.0)
    record(results, "E", "other", first, {"NDCG@10": np.array([0.7, 0.1, 1.0])}, 0.0)
    assert paired(results, "ref") == {}
