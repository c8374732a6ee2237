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
    match = r"X and y hold the same index labels in another order .* y\.loc\[X\.index\]"
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
