"""Pins from mutation round 24 (metrics' inputs, the item-item parameters, popularity
by weight, the hybrid's new_items, the progress bars' delay).

Each test failed on a one-line mutant (named in its comment) that every
other test let through; each states its rule from the documentation.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from sklearn_zsrec import (ALSRecommender, HybridRecommender, ItemKNNRecommender,
                           NextItemRecommender, PopularityRecommender, TextEncoder,
                           ZeroShotRecommender)
from sklearn_zsrec.metrics import recall_at_k

from ._tiny import tiny_model_path


def _warned(call):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in seen]


def test_a_long_table_with_an_item_id_column_is_refused_as_y_pred():
    # I05: "item" in label or a digit: a lone item_id column (one row per
    # recommendation) was read as each user's single recommendation, silently
    y_pred = pd.DataFrame({"item_id": [10, 20]})
    with pytest.raises(ValueError, match="has the column 'item_id'"):
        recall_at_k([[10, 11], [20]], y_pred, k=1)


def test_float_ids_repeated_across_users_are_not_taken_for_a_score_matrix():
    # I11: repeats looked for down the columns (sort and diff on axis 0): two
    # users with the same top item warned, a whole-number score matrix did not
    assert _warned(lambda: recall_at_k([[1.0], [3.0]], np.array([[1.0, 2.0], [1.0, 3.0]]),
                                       k=2)) == []
    scores = np.array([[3.0, 3.0, 1.0], [0.0, 2.0, 5.0]])
    messages = _warned(lambda: recall_at_k([[1.0], [3.0]], scores, k=2))
    assert len(messages) == 1 and "a value repeated within a row" in messages[0]


def test_an_empty_object_y_pred_says_it_has_no_rows():
    # I02: an empty object Series went into the row check: KeyError 'pop from an empty set'
    with pytest.raises(ValueError, match="y_pred has 0 rows"):
        recall_at_k(pd.Series([], dtype=object), pd.Series([], dtype=object), k=5)


X_SMALL = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": ["a", "b", "a", "c", "b"]})


@pytest.mark.parametrize("cls", [ItemKNNRecommender, NextItemRecommender])
def test_item_item_half_life_0_and_n_neighbors_0_are_refused(cls):
    # K01: half_life=0 fitted (0/0 in the recency decay: RuntimeWarnings, all-zero scores);
    # K02: NextItemRecommender(n_neighbors=0) fitted and scored every item 0
    with pytest.raises(ValueError, match="'half_life' parameter"):
        cls(half_life=0).fit(X_SMALL)
    with pytest.raises(ValueError, match="'n_neighbors' parameter"):
        cls(n_neighbors=0).fit(X_SMALL)


def test_popularity_by_weight_refuses_one_item_past_float32():
    # P04: totals.min() checked: one item past float32's range scored inf, silently
    X = pd.DataFrame({"user_id": [1, 2, 3, 4], "item_id": ["a", "a", "b", "c"],
                      "weight": [3e38, 3e38, 1.0, 2.0]})
    with pytest.raises(ValueError, match="past float32's range"):
        PopularityRecommender(popularity="weight").fit(X)


def test_new_items_partly_outside_the_catalog_are_refused():
    # E06: (cols < 0).all(): an unknown id among known ones was dropped silently
    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 4, 4], "item_id": [0, 1, 0, 2, 1, 2, 0, 1]})
    texts = {0: "a jazz record", 1: "a space story", 2: "a cooking book", 3: "a rocket"}
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    hybrid = HybridRecommender(text, [("als", ALSRecommender(factors=2, random_state=0))],
                               blend="fixed", new_items=[3, "zz"], verbose=0)
    with pytest.raises(ValueError, match=r"1 new_items are not in the catalog \(e.g. \['zz'\]"):
        hybrid.fit(X)


def test_quick_encoding_with_verbose_shows_no_bar(capsys):
    # G01: the Encoding bar lost its delay: every transform with verbose=1 printed one
    encoder = TextEncoder(tiny_model_path(), verbose=1).fit(["warm up"])
    capsys.readouterr()
    encoder.transform(["a jazz record", "a space story"])
    printed = capsys.readouterr()
    assert printed.err == printed.out == ""
