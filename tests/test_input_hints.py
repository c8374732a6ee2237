"""Inputs users send in a common but mis-keyed form get a message naming the fix.

Found by the hunt over equivalent input forms (2026-12-06): each message
named another fix (or, for bytes ids in the metrics, none was given).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from sklearn_zsrec import PopularityRecommender, ZeroShotRecommender
from sklearn_zsrec.metrics import ndcg_at_k
from sklearn_zsrec.model_selection import LeaveLastOut, train_test_split_last

X = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 4, 2], "timestamp": [1, 2, 3]})


def test_texts_indexed_by_row_number_are_named():
    # items["title"] keeps the table's row numbers 0..n-1 as its index: item 4
    # has a text, but under id 3; the error told the user to add its text
    items = pd.DataFrame({"item_id": [1, 2, 3, 4], "title": ["Heat", "Up", "Big", "Casino"]})
    model = ZeroShotRecommender(TfidfVectorizer(), item_texts=items["title"])
    with pytest.raises(ValueError, match=r"\(e.g. \[4\]\), whose ids are 0 to 3: if those are a "
                                         r"table's row numbers, index the texts by item id"):
        model.fit(X)
    model.set_params(item_texts=items.set_index("item_id")["title"]).fit(X)


@pytest.mark.parametrize("call", [PopularityRecommender().fit, train_test_split_last,
                                  lambda X: next(LeaveLastOut().split(X))])
@pytest.mark.parametrize("index", [["user_id"], ["user_id", "item_id"]])
def test_ids_held_in_the_index_are_named(call, index):
    with pytest.raises(ValueError, match=r"X holds \['user_id'.*\] as its index .* pass "
                                         r"X.reset_index\(\)"):
        call(X.set_index(index))


def test_a_sparse_y_is_named():
    # np.asarray made it one object, refused as weights that are not numbers
    y = sp.csr_matrix(np.array([[1.0], [2.0], [1.0]]))
    with pytest.raises(TypeError, match=r"y is a sparse matrix; .* y.toarray\(\).ravel\(\)"):
        PopularityRecommender().fit(X, y)


@pytest.mark.parametrize("y_pred", [np.array([["a", "c"], ["b", "d"]], dtype="S"),
                                    np.array([[b"a", b"c"], [b"b", b"d"]], dtype=object)])
def test_bytes_ids_against_str_ids_warn_in_any_array(y_pred):
    # numpy's bytes arrays (np.loadtxt, h5py) were counted as str: 0, silently
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ndcg_at_k([["a"], ["b"]], y_pred, k=2) == 0.0
    assert any("bytes" in str(w.message) for w in caught)


def test_weights_y_holding_xs_labels_in_another_order_raise_everywhere_y_is_read():
    # found by the metamorphic hunt (2026-12-07): y pairs with X's rows by
    # position, X.assign(weight=y) by label; a log sorted by time beside its
    # unsorted click column gave each row another row's weight, silently
    log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": ["a", "b", "a", "c", "b", "c"],
                        "timestamp": [5, 1, 4, 2, 6, 3],
                        "clicked": [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]})
    X, y = log.sort_values("timestamp")[["user_id", "item_id", "timestamp"]], log["clicked"]
    model = PopularityRecommender(popularity="weight")
    match = (r"X and y hold the same index labels in another order .* column of the table X "
             r"came from .* y\.loc\[X\.index\] .* made in X's row order .* y\.to_numpy\(\)")
    for call in (lambda: model.fit(X, y), lambda: train_test_split_last(X, y=y),
                 lambda: list(LeaveLastOut().split(X, y))):
        with pytest.raises(ValueError, match=match):
            call()
    fitted = model.fit(log[["user_id", "item_id", "timestamp"]], y)
    with pytest.raises(ValueError, match=match):
        fitted.score(X, y)
    # aligned by label, or by position explicitly, equals the 'weight' column
    expected = PopularityRecommender(popularity="weight").fit(X.assign(weight=y)).item_scores_
    assert expected.tolist() == [2.0, 0.0, 1.0]  # clicks per item in the log
    for X_, y_ in ((X, y.loc[X.index]), (X, y.loc[X.index].to_numpy()),
                   (X.reset_index(drop=True), y.loc[X.index].to_numpy()),
                   (X, pd.Series(y.loc[X.index].to_numpy(), index=X.index + 100))):
        assert model.fit(X_, y_).item_scores_.tolist() == expected.tolist()
    # X without labels of its own (a RangeIndex, an Arrow table, a record
    # array) pairs by position, whatever y's labels (labels hunt, 2026-12-07)
    import pyarrow as pa

    sorted_y = y.loc[X.index]  # in X's row order, with the log's labels
    for X_ in (X.reset_index(drop=True), pa.Table.from_pandas(X, preserve_index=False),
               X.to_records(index=False)):
        assert model.fit(X_, sorted_y).item_scores_.tolist() == expected.tolist()
        parts = train_test_split_last(X_, y=sorted_y * 0 + 1)  # (every row a click: a split)
        assert [len(part) for part in parts] == [3, 3, 3, 3]
    # labels kept in a RangeIndex other than 0..n - 1 (log[::-1]) are labels
    # (review); repeated labels (pd.concat of logs) get a fix that works
    backwards = log.iloc[::-1]
    with pytest.raises(ValueError, match=match):
        model.fit(backwards[["user_id", "item_id"]], log["clicked"])
    twice = pd.concat([log, log])
    with pytest.raises(ValueError, match=r"The labels repeat .* y = X\.pop\('clicked'\)"):
        model.fit(twice.sort_values("timestamp")[["user_id", "item_id"]], twice["clicked"])
    sorted_twice = twice.sort_values("timestamp")
    model.fit(sorted_twice[["user_id", "item_id"]], sorted_twice.pop("clicked"))
    # overlapping interval labels (session windows) cannot be looked up: the
    # check reads them as sets (second review: pandas' InvalidIndexError)
    windows = log.set_axis(pd.IntervalIndex.from_arrays([0, 0, 1, 1, 2, 2], [5, 6, 7, 8, 9, 10]))
    with pytest.raises(ValueError, match=match):
        model.fit(windows.sort_values("timestamp")[["user_id", "item_id"]], windows["clicked"])
    model.fit(windows[["user_id", "item_id"]], windows["clicked"])


def test_a_series_indexed_by_ids_is_refused_where_ids_are_read_from_values():
    # labels hunt (2026-12-07): recommend(X.user_id.value_counts().head(5))
    # ranked the counts as user ids (on MovieLens-100K, other real users)
    log = pd.DataFrame({"user_id": [1, 1, 2, 2, 2, 3], "item_id": [1, 2, 1, 2, 3, 3]})
    model = PopularityRecommender().fit(log)
    heavy = log.user_id.value_counts()  # index: user ids; values: counts, also user ids here
    for call in (lambda: model.recommend(heavy, n=1), lambda: model.score_items(heavy)):
        with pytest.raises(ValueError, match=r"users is a Series indexed by 'user_id' and named "
                                             r"'count' .* pass its index, users\.index"):
            call()
    with pytest.raises(ValueError, match=r"items is a Series indexed by 'item_id'"):
        model.explain(1, log.item_id.value_counts())
    # the index spelt as X's columns may be (warnings hunt), or counts of ids
    for counts in (log.rename(columns={"user_id": "userId"}).userId.value_counts(),
                   pd.Series(log.user_id.to_numpy()).value_counts(),
                   log.groupby("user_id").size().rename("n"),
                   log[["user_id"]].value_counts()):  # a MultiIndex of one level
        with pytest.raises(ValueError, match=r"users is a Series indexed by .* pass its index"):
            model.recommend(counts, n=1)
    # the fix the message names for the MultiIndex works (second review)
    counts = log[["user_id"]].value_counts()
    with pytest.raises(ValueError, match=r"pass its index, users\.index\.get_level_values\(0\)"):
        model.recommend(counts, n=1)
    assert model.recommend(counts.index.get_level_values(0), n=1).tolist() == [[1], [3], [1]]
    assert model.recommend(heavy.index, n=1).tolist() == [[1], [3], [1]]  # users 2, 1, 3
    by_user = log.set_index("user_id", drop=False).user_id  # values are the ids: read
    assert model.recommend(by_user, n=1).shape == (6, 1)


def _texts_model():
    items = pd.Series({"a": "space rockets", "b": "space stations", "c": "cooking pasta",
                       "d": "cooking rice"})
    log = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": ["a", "b", "c", "d"]})
    return ZeroShotRecommender(TfidfVectorizer(), item_texts=items), log


def test_texts_keyed_by_a_tables_row_numbers_are_named_at_fit_call_and_add_items():
    # labels hunt (2026-12-07): a column of a table keeps its row numbers as
    # its index; the texts went to other users (or none), the items were
    # added under ids 0, 1, without a word
    model, log = _texts_model()
    users = pd.DataFrame({"user_id": [1, 2, 3], "text": ["space", "cooking", "space"]})
    with pytest.warns(UserWarning, match=r"ids of user_texts are not users of X \(e\.g\. \[0\]\)"
                                         r", whose ids are 0 to 2: .* index the texts by user id"):
        model.set_params(user_texts=users["text"]).fit(log)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.set_params(user_texts=users.set_index("user_id")["text"]).fit(log)
        model.set_params(user_texts=None).fit(log)
    request = pd.DataFrame({"user_id": ["n1", "n2"], "text": ["space", "cooking"]})
    match = (r"no id of user_texts is a new user asked for, whose ids are 0 to {}: .* index "
             r"the texts by user id .* the {} users? not seen in fit .* scored without a text")
    with pytest.warns(UserWarning, match=match.format(1, 2)):
        blind = model.recommend(request.user_id, n=1, user_texts=request["text"])
    mixed = pd.DataFrame({"user_id": ["n1", 1, 2], "text": ["space", "x", "y"]})
    with pytest.warns(UserWarning, match=match.format(2, 1)):  # 1, 2: users of fit
        model.recommend(mixed.user_id, n=1, user_texts=mixed["text"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        seen = model.recommend(request.user_id, n=1,
                               user_texts=request.set_index("user_id")["text"])
    assert seen.ravel().tolist() == ["a", "c"] and blind.tolist() != seen.tolist()
    # users as a generator (cold-start hunt): read once by the check above, it
    # reached recommend empty (no rows, no error)
    by_id = request.set_index("user_id")["text"]
    for method in ("recommend", "score_items"):
        listed = getattr(model, method)(["n1", 1, "n2"], user_texts=by_id)
        given = getattr(model, method)((u for u in ["n1", 1, "n2"]), user_texts=by_id)
        np.testing.assert_array_equal(given, listed)
        assert len(given) == 3
    with warnings.catch_warnings():  # texts of other users (a service's dict): no mistake
        warnings.simplefilter("error", UserWarning)
        model.recommend(["n1"], n=1, user_texts={"someone": "space", "else": "rice"})
        # user ids that are 0 to n - 1, some held out of fit with their texts
        numbered = log.assign(user_id=log.user_id - 1)  # users 0 and 1
        texts = pd.Series(["space", "cooking", "rice"])  # users 0, 1 and 2 (held out)
        model.set_params(user_texts=texts).fit(numbered)
        # ... user 0 held out too (review): users 1, 2 in X, 0 and 3 held out
        model.set_params(user_texts=pd.Series(["space", "cooking", "rice", "pasta"])).fit(log)
        model.recommend([2, 3], n=1, user_texts=pd.Series(["space", "rice"], index=[2, 3]))
        model.set_params(user_texts=None)
    new = pd.DataFrame({"item_id": ["e", "f"], "title": ["space suits", "rice cookers"]})
    with pytest.warns(UserWarning, match=r"adds the ids of item_texts, whose ids are 0 to 1: "
                                         r".* index the texts by item id"):
        model.fit(log).add_items(new["title"])
    assert model.items_.tolist()[-2:] == [0, 1]
    with pytest.warns(UserWarning, match=r"adds the ids of item_texts, whose id is 0: "):
        model.fit(log).add_items(new["title"][:1])
    model.fit(log).add_items({2**64 + 1: "space suits"})  # (an int past int64: no overflow)
    assert model.items_[-1] == 2**64 + 1
    numbered = ZeroShotRecommender(TfidfVectorizer(), item_texts=pd.Series(
        ["space", "cooking", "rice"], index=[1, 2, 3])).fit(pd.DataFrame(
            {"user_id": [1, 1], "item_id": [1, 2]}))
    with pytest.raises(ValueError, match=r"ids already in the catalog \(e\.g\. \[1\]\), whose ids "
                                         r"are 0 to 1: .* index the texts by item id"):
        numbered.add_items(new["title"])
