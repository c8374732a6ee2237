"""Tables other than a pandas DataFrame (polars, Arrow) and columns spelt otherwise.

Each test here failed before its fix: polars' string columns (Arrow
``string_view``) crashed every model and splitter, a ``TIMESTAMP`` or
``Weight`` column was ignored without a word, and one-column tables, text
tables and LazyFrames got messages that named the wrong problem.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sklearn_zsrec import (
    NextItemRecommender,
    PopularityRecommender,
    TextEncoder,
    ZeroShotRecommender,
)
from sklearn_zsrec.model_selection import LeaveLastOut, train_test_split_last

from ._tiny import tiny_model_path

X = pd.DataFrame({
    "user_id": ["u1", "u1", "u1", "u2", "u2", "u3"],
    "item_id": ["a", "b", "c", "a", "c", "b"],
    "timestamp": [1, 2, 3, 1, 2, 1],
})


def _views(frame):
    """``frame`` as polars exports it: strings as Arrow ``string_view``."""
    table = pa.Table.from_pandas(frame)
    strings = (pa.types.is_string, pa.types.is_large_string)
    schema = pa.schema([f.with_type(pa.string_view()) if any(t(f.type) for t in strings) else f
                        for f in table.schema], metadata=table.schema.metadata)
    assert schema != table.schema
    return table.cast(schema)


def test_string_view_columns_are_read_as_their_strings():
    expected = NextItemRecommender().fit(X)
    model = NextItemRecommender().fit(_views(X))
    assert model.users_.tolist() == ["u1", "u2", "u3"] and model.items_.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(model.score_items(["u1", "u3"]),
                                  expected.score_items(["u1", "u3"]))
    np.testing.assert_array_equal(model.predict(_views(X)), expected.predict(X))
    assert [t.tolist() for _, t in LeaveLastOut().split(_views(X))] == [[2, 4]]


def test_polars_frames_with_string_ids_give_the_results_of_pandas():
    pl = pytest.importorskip("polars")
    frame = pl.from_pandas(X)
    expected = NextItemRecommender().fit(X)
    model = NextItemRecommender().fit(frame)
    np.testing.assert_array_equal(model.recommend(["u1", "u2", "u3"], n=2),
                                  expected.recommend(["u1", "u2", "u3"], n=2))
    train, test = train_test_split_last(frame)
    assert isinstance(train, pl.DataFrame)
    assert test["item_id"].to_list() == ["c", "c"]  # (u3's one row stays in train)
    categorical = frame.with_columns(pl.col("item_id").cast(pl.Categorical))
    np.testing.assert_array_equal(NextItemRecommender().fit(categorical).recommend("u2", n=2),
                                  expected.recommend("u2", n=2))
    missing = pl.DataFrame({"user_id": ["u1", None], "item_id": ["a", "b"]},
                           schema={"user_id": pl.Categorical, "item_id": pl.String})
    with pytest.raises(ValueError, match=r"column 'user_id' contains missing ids"):
        PopularityRecommender().fit(missing)
    with pytest.raises(TypeError, match=r"X is a LazyFrame.*X\.collect\(\)"):
        PopularityRecommender().fit(frame.lazy())
    with pytest.raises(TypeError, match=r"X is a LazyFrame.*X\.collect\(\)"):
        train_test_split_last(frame.lazy())


@pytest.mark.parametrize("spelt, column", [("TIMESTAMP", "timestamp"), (" Timestamp", "timestamp"),
                                           ("Weight", "weight"), ("USER_ID", "user_id"),
                                           # were ignored: impressions counted as clicks
                                           ("weights", "weight"), ("time_stamp", "timestamp"),
                                           ("Time Stamp", "timestamp"), ("userId", "user_id")])
def test_our_columns_spelt_otherwise_raise_naming_the_rename(spelt, column):
    # newest first: read by row order, the histories ran backwards
    frame = X.iloc[::-1].rename(columns={column: spelt})
    if column == "weight":
        frame[spelt] = 0.0
    message = rf"X has the column\(s\) \['{spelt}'\].*rename\(columns=\{{'{spelt}': '{column}'\}}\)"
    with pytest.raises(ValueError, match=message):
        NextItemRecommender().fit(frame)
    with pytest.raises(ValueError, match=message):
        train_test_split_last(frame)
    with pytest.raises(ValueError, match=message):
        NextItemRecommender().fit(_views(frame))


def test_one_column_tables_of_texts_are_encoded_as_their_column():
    encoder = TextEncoder(tiny_model_path(), verbose=0).fit(["x"])
    texts = pd.DataFrame({"title": ["a film", "a book"]})
    expected = encoder.transform(texts["title"].tolist())
    np.testing.assert_array_equal(encoder.transform(pa.Table.from_pandas(texts)), expected)
    pl = pytest.importorskip("polars")
    np.testing.assert_array_equal(encoder.transform(pl.from_pandas(texts)), expected)


def test_texts_in_other_containers_raise_naming_the_fix():
    texts = pd.DataFrame({"item_id": ["a", "b", "c"], "text": ["x", "y", "z"]})
    cases = [(pa.Table.from_pandas(texts), r"got a pyarrow\.Table\. .*"
              r"dict\(zip\(df\['item_id'\], df\['text'\]\)\)"),
             (["x", "y", "z"], r"got a list\. Texts need their ids")]
    pl = pytest.importorskip("polars")
    cases += [(pl.from_pandas(texts), r"got a polars\.DataFrame\. .*dict\(zip\("),
              (pl.Series(["x", "y", "z"]), r"got a polars\.Series\. Texts need their ids")]
    for item_texts, message in cases:
        model = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0),
                                    item_texts=item_texts)
        with pytest.raises(TypeError, match=message):
            model.fit(X)


def test_explain_refuses_a_table_of_items_as_recommend_refuses_one_of_users():
    # it read the column names as the items: "'item_id' is not in items_"
    model = PopularityRecommender().fit(X)
    with pytest.raises(TypeError, match=r"items is a DataFrame.*items\['item_id'\]"):
        model.explain("u3", items=X[["item_id"]])


def test_an_arrow_table_of_a_pandas_frame_keeps_its_index_as_the_index():
    # the view types' cast dropped the schema's pandas metadata: an index
    # named "timestamp" (a parquet file of the frame) became the time column
    frame = X.iloc[::-1].set_index("timestamp")  # newest first: read in row order
    expected = NextItemRecommender().fit(frame).score_items(["u1", "u2"])
    table = pa.Table.from_pandas(frame)
    np.testing.assert_array_equal(NextItemRecommender().fit(table).score_items(["u1", "u2"]),
                                  expected)
    np.testing.assert_array_equal(NextItemRecommender().fit(_views(frame)).score_items(
        ["u1", "u2"]), expected)
