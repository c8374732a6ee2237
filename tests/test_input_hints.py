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
