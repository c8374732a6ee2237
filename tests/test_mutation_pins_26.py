"""Pins of mutation round 26's behaviour-changing survivors (the lines changed
from 2026-12-05 to 2026-12-07: the y-index check, counts given as ids, texts
keyed by row numbers).

Each test fails on its mutant (named in its heading) and passes on the code as
it is; the first is the bug two of the round's mutants exposed in the original.
"""
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from sklearn_zsrec import PopularityRecommender, ZeroShotRecommender

LOG = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": ["a", "b", "a", "c", "b", "c"],
                    "timestamp": [5, 1, 4, 2, 6, 3], "clicked": [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]})
SAME = "X and y hold the same index labels in another order"


def _weighted(X, y):
    return PopularityRecommender(popularity="weight").fit(X, y).item_scores_.tolist()


@pytest.mark.parametrize("labels", [pd.Index([0.0, 1.0, 2.0, 3.0]),
                                    pd.Index([0, 1, 2, 3], dtype=object)])
def test_y_labels_equal_to_xs_as_floats_or_objects_in_another_order_raise(labels):
    # pandas pairs 0 and 0.0 (or an object 0) as one label: y's float or
    # object labels beside X's int ones, in another order, paired by
    # position, silently (the check took the dtypes' kinds for the labels')
    log = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": ["a", "b", "a", "c"],
                        "timestamp": [4, 1, 3, 2], "clicked": [1.0, 0.0, 1.0, 0.0]})
    X = log.sort_values("timestamp")[["user_id", "item_id"]]
    y = pd.Series(log.clicked.to_numpy(), index=labels)
    with pytest.raises(ValueError, match=SAME):
        _weighted(X, y)
    assert _weighted(X, y.loc[X.index]) == _weighted(X.assign(weight=y), None)


# ---- (Y05_rangeindex_start_dropped, Y06_rangeindex_step_dropped)
@pytest.mark.parametrize("rows", [slice(2, None), slice(None, None, 2)])
def test_labels_kept_in_a_range_index_other_than_0_to_n_are_labels(rows):
    # log.iloc[2:] and log.iloc[::2] keep the log's labels in a RangeIndex
    # (start 2; step 2): only 0..n - 1 in order reads as "no labels"
    part = LOG.iloc[rows]
    assert isinstance(part.index, pd.RangeIndex)
    with pytest.raises(ValueError, match=SAME):
        _weighted(part[["user_id", "item_id"]], part.sort_values("timestamp")["clicked"])


# ---- (Y10_unique_a_only, Y11_indexer_any_to_all, Y15_b_isin_a_dropped)
@pytest.mark.parametrize("x_labels, y_labels", [
    ([3, 1, 0, 2], [3, 1, 0, 0]),   # y's repeat one label and miss X's 2 (Y10)
    ([0, 2, 5, 4], [5, 1, 0, 4]),   # y's hold 1, no label of X (Y11)
    ([0, 0, 3, 1], [3, 1, 0, 2]),   # X's repeat, y's hold 2 (Y15)
])
def test_labels_that_are_not_the_same_set_pair_by_position(x_labels, y_labels):
    # same length, same min and max, but other labels: y pairs by position, as an array
    X = LOG.iloc[:4][["user_id", "item_id"]].set_axis(x_labels)
    y = pd.Series(LOG["clicked"].to_numpy()[:4], index=y_labels)
    assert _weighted(X, y) == _weighted(X, y.to_numpy())


# ---- (Y19_fit_call_after_named)
def test_an_arrow_table_keeping_pandas_index_metadata_has_no_labels():
    # pa.Table.from_pandas(X) keeps X's index in its pandas metadata, which
    # to_pandas() restores: the check reads X as given (a table: no labels)
    import pyarrow as pa

    X = LOG.sort_values("timestamp")
    table = pa.Table.from_pandas(X[["user_id", "item_id"]])
    y = pd.Series(X["clicked"].to_numpy())  # X's row order, labels 0..5
    assert _weighted(table, y) == _weighted(X[["user_id", "item_id"]], y.to_numpy())


# ---- (R03_multiindex_proportion_dropped, R04_proportion_dropped)
@pytest.mark.parametrize("make", [lambda log: log[["user_id"]].value_counts(normalize=True),
                                  lambda log: pd.Series(log.user_id.to_numpy()).value_counts(
                                      normalize=True)])
def test_proportions_of_ids_are_refused_as_users(make):
    # value_counts(normalize=True) is named 'proportion': its values (0.5,
    # 0.33) were new users, each given the popular items, silently
    log = LOG[["user_id", "item_id"]]
    model = PopularityRecommender().fit(log)
    with pytest.raises(ValueError, match=r"named 'proportion' .* pass its index"):
        model.recommend(make(log), n=1)


ITEMS = pd.Series({"a": "space rockets", "b": "space stations", "c": "cooking pasta",
                   "d": "cooking rice"})


def _texts_model():
    return ZeroShotRecommender(TfidfVectorizer(), item_texts=ITEMS).fit(
        pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": ["a", "b", "c", "d"]}))


def _messages(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in caught]


# ---- (K01_iterator_list_dropped)
def test_users_as_a_generator_beside_texts_keyed_0_to_n_are_all_scored():
    # texts keyed 0..n - 1 make the row-number check read the users: a
    # generator read there reached recommend empty (no rows, no error)
    model, texts = _texts_model(), pd.Series(["space", "rice"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        listed = model.recommend(["n1", 1, "n2"], n=1, user_texts=texts)
        given = model.recommend((u for u in ["n1", 1, "n2"]), n=1, user_texts=texts)
    assert given.shape == (3, 1)
    np.testing.assert_array_equal(given, listed)


# ---- (K04_len_new_dropped, K06_isin_any_to_all)
@pytest.mark.parametrize("users", [[1, 2], [0, 5]])
def test_texts_keyed_0_to_n_of_users_asked_for_say_nothing(users):
    # no new user asked for ([1, 2]), or a new user asked for with its text
    # (0, beside 5 without one): the row numbers hint is for none of them
    model = _texts_model()
    _, messages = _messages(lambda: model.recommend(users, n=1,
                                                    user_texts=pd.Series(["space", "x", "y"])))
    assert not [m for m in messages if "no id of user_texts" in m]


# ---- (N01_min_dropped)
def test_added_ids_that_are_not_0_to_n_are_not_called_row_numbers():
    # ids -1, 1, 2: n values, unique, max n - 1, but not 0 to n - 1
    model = ZeroShotRecommender(TfidfVectorizer(), item_texts=pd.Series(
        {10: "space rockets", 11: "cooking pasta"})).fit(
            pd.DataFrame({"user_id": [1, 2], "item_id": [10, 11]}))
    _, messages = _messages(lambda: model.add_items(
        {-1: "space suits", 1: "space rice", 2: "pasta space"}))
    assert not [m for m in messages if "row numbers" in m]
    assert model.items_.tolist()[-3:] == [-1, 1, 2]


# ---- (N05_integer_check_dropped)
def test_call_texts_keyed_by_ids_of_mixed_types_are_read():
    # a service's dict of texts for new users "n1" and 7: not integers, so no
    # row numbers (the check compared "n1" with 0: a TypeError)
    model = _texts_model()
    top, messages = _messages(lambda: model.recommend(
        ["n1", 7], n=1, user_texts={"n1": "space", 7: "rice"}))
    assert top.tolist() == [["a"], ["d"]] and not [m for m in messages if "row numbers" in m]


# ---- (Z03_not_hint_dropped)
def test_texts_of_int_ids_for_str_users_name_the_type_not_row_numbers():
    # user_texts keyed 0, 1, 2 beside X's users '1', '2': the fix is the ids'
    # type (1 is '1'); the row numbers hint took its place
    X = pd.DataFrame({"user_id": ["1", "1", "2", "2"], "item_id": ["a", "b", "c", "d"]})
    model = ZeroShotRecommender(TfidfVectorizer(), item_texts=ITEMS,
                                user_texts=pd.Series({0: "x", 1: "space", 2: "cooking"}))
    with pytest.warns(UserWarning, match=r"X holds '1' \(str\) where user_texts has 1 \(int\)"):
        model.fit(X)


# ---- (A02_elif_to_if)
def test_added_ids_of_another_type_get_one_hint():
    # ids 0, 1 (int) added to a catalog of '0', '1': the type hint alone
    model = ZeroShotRecommender(TfidfVectorizer(), item_texts=pd.Series(
        {"0": "space rockets", "1": "cooking pasta"})).fit(
            pd.DataFrame({"user_id": [1, 2], "item_id": ["0", "1"]}))
    _, messages = _messages(lambda: model.add_items(pd.Series(["space suits", "pasta space"])))
    assert [m for m in messages if "add_items adds" in m] == [
        m for m in messages if "look like catalog ids" in m] != []


# ---- (Y01_len_check_dropped)
def test_a_y_of_another_length_is_told_its_length_not_an_order():
    # 4 weights (a repeated label) for 3 rows holding the same labels: the
    # length is the mistake, not the order ("The labels repeat ...")
    X = LOG.iloc[:3].sort_values("timestamp")[["user_id", "item_id"]]
    y = pd.Series([1.0, 0.0, 1.0, 1.0], index=[0, 1, 2, 2])
    with pytest.raises(ValueError, match=r"y has 4 values for 3 rows"):
        _weighted(X, y)
