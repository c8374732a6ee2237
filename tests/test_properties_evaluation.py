"""Randomised inputs (hypothesis) through the splitters and the ranking metrics.

The splitters (``LeaveLastOut``, ``train_test_split_last``) get users with
int, str and mixed ids and timestamps of every type users send (ints with
ties, nanoseconds beyond float64's exact range, Python ints in an object
column, nullable and Arrow ints, floats, naive, time-zone-aware and
far-off datetimes, dates, Arrow dates, timedeltas), as a
DataFrame, a list of rows or an object array; their folds must be those of
a slow reference (each user's rows sorted by time, then row), and a model
fitted on the same rows must order them alike. The metrics get rankings
with repeated, missing and mixed-type ids, relevant sets with repeats and
empty ones, and any ``k``; each must equal its definition written out in
plain Python (trec_eval's conventions, see ``sklearn_zsrec.metrics``).
"""

import datetime
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_zsrec import ItemKNNRecommender
from sklearn_zsrec.metrics import (
    hit_rate_at_k,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from sklearn_zsrec.model_selection import LeaveLastOut, train_test_split_last

from ._hypothesis import examples
from ._metric_definitions import metric_by_definition

# each timestamp type from a small int ``v`` (ties included), increasing in ``v``
STAMPS = {
    "int": lambda v: np.asarray(v, dtype=np.int64),
    # nanoseconds: float64 rounds 2**60 + v to 2**60 for small v
    "big int": lambda v: np.asarray(v, dtype=np.int64) + 2**60,
    "object ints": lambda v: pd.Series([2**60 + int(x) for x in v], dtype=object),
    "float": lambda v: np.asarray(v) / 4.0,
    "datetime": lambda v: pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(v, unit="ns")),
    "aware": lambda v: pd.Series(pd.Timestamp("2024-03-31 01:59:59.999999", tz="Europe/Paris")
                                 + pd.to_timedelta(v, unit="us")),
    # outside 1677-2262: numpy's conversion to nanoseconds wraps around
    "far dates": lambda v: np.datetime64("3000-01-01") + np.asarray(v).astype("timedelta64[D]"),
    "dates": lambda v: pd.Series([datetime.date(2024, 1, 1 + int(x)) for x in v], dtype=object),
    "timedelta": lambda v: pd.Series(pd.to_timedelta(np.asarray(v) + 2**60, unit="ns")),
    "nullable ints": lambda v: pd.Series(pd.array(np.asarray(v) + 2**60, dtype="Int64")),
    # columns read with dtype_backend="pyarrow"
    "arrow ints": lambda v: pd.Series(pd.array(np.asarray(v) + 2**60, dtype="int64[pyarrow]")),
    "arrow dates": lambda v: pd.Series([datetime.date(2024, 1, 1 + int(x)) for x in v],
                                       dtype="date32[pyarrow]"),
}


@st.composite
def timed_rows(draw):
    """``(X, users, v)``: interactions, their user ids and time ranks ``v`` (None: row order)."""
    n = draw(st.integers(1, 20))
    users = draw(st.lists(st.sampled_from([0, 1, 7, 1.5, "a", "b"]), min_size=n, max_size=n))
    kind = draw(st.sampled_from(["none", *STAMPS]))
    v = None if kind == "none" else draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    frame = pd.DataFrame({"user_id": pd.Series(users, dtype=object), "item_id": np.arange(n)})
    if v is not None:
        frame["timestamp"] = STAMPS[kind](np.asarray(v))
    container = draw(st.sampled_from(["frame", "rows", "object array"]))
    if container == "frame":
        X = frame
    else:
        rows = [list(r) for r in frame.itertuples(index=False)]
        X = rows if container == "rows" else np.array(rows, dtype=object)
    return X, users, v


def _reference_rank(users, v):
    """Each row's rank from the end of its user's rows, by (time, row), the obvious way."""
    n = len(users)
    key = [(v[i] if v is not None else 0, i) for i in range(n)]
    same = [[j for j in range(n) if users[j] == users[i]] for i in range(n)]
    rank = [sum(key[j] > key[i] for j in same[i]) for i in range(n)]
    return np.array(rank), np.array([len(s) for s in same])


@given(drawn=timed_rows(), n_splits=st.integers(1, 3))
@settings(max_examples=examples(150))
def test_splits_match_a_slow_reference_and_a_models_order(drawn, n_splits):
    X, users, v = drawn
    rank, count = _reference_rank(users, v)
    cv = LeaveLastOut(n_splits=n_splits)
    if count.max() <= n_splits:
        with pytest.raises(ValueError, match="LeaveLastOut"):
            list(cv.split(X))
    else:
        folds = [(train.tolist(), test.tolist()) for train, test in cv.split(X)]
        assert folds == [(np.flatnonzero(rank > j).tolist(),
                          np.flatnonzero((rank == j) & (count > j + 1)).tolist())
                         for j in range(n_splits)]
    if count.max() <= 1:
        with pytest.raises(ValueError, match="n_test=1"):
            train_test_split_last(X)
    else:
        _, X_test = train_test_split_last(X)
        held = np.flatnonzero((rank == 0) & (count > 1))
        test_items = (X_test["item_id"] if isinstance(X_test, pd.DataFrame)
                      else np.asarray(X_test)[:, 1])
        assert list(map(int, test_items)) == held.tolist()
    # a model orders the rows as the splitters do: recency weights 0.5 ** rank
    # (each row its own item; weights under 1e-4 of the user's latest are dropped)
    model = ItemKNNRecommender(half_life=1.0).fit(X)
    history = model.history_.toarray()
    rows = pd.Index(model.users_).get_indexer(pd.Series(users, dtype=object))
    cols = pd.Index(model.items_).get_indexer(np.arange(len(users)))
    kept = rank <= 12
    np.testing.assert_array_equal(history[rows, cols][kept], 0.5 ** rank[kept])


# --------------------------------------------------------------------- metrics

IDS = st.integers(-2, 6) | st.sampled_from(["a", "b", "1", 2**62, 1.0, 2.5])


@st.composite
def rankings(draw):
    """``(y_true, y_pred)``: relevant ids per user and a 2-D ranking of ids."""
    n_users = draw(st.integers(1, 4))
    n_cols = draw(st.integers(0, 6))
    y_true = [draw(st.lists(IDS, max_size=5)) for _ in range(n_users)]
    if not any(y_true):
        y_true[0] = [draw(IDS)]
    cell = IDS | st.sampled_from([None, float("nan")])
    y_pred = [[draw(cell) for _ in range(n_cols)] for _ in range(n_users)]
    container = draw(st.sampled_from(["lists", "sets", "arrays"]))
    if container == "arrays":  # as recommend returns them: int arrays, where all are ints
        def array(values):
            ints = all(type(x) is int for x in values)
            return np.array(values, dtype=np.int64 if ints else object)

        y_pred = array([x for row in y_pred for x in row]).reshape(n_users, n_cols)
        y_true = [array(r) for r in y_true]
    return [set(r) if container == "sets" else r for r in y_true], y_pred


METRICS = {"hit_rate": hit_rate_at_k, "precision": precision_at_k, "recall": recall_at_k,
           "ndcg": ndcg_at_k, "map": map_at_k, "mrr": mrr}


@given(drawn=rankings(), metric=st.sampled_from(sorted(METRICS)), k=st.integers(1, 8),
       no_cutoff=st.booleans())
@settings(max_examples=examples(300))
def test_metrics_match_their_definitions(drawn, metric, k, no_cutoff):
    y_true, y_pred = drawn
    k = None if metric == "mrr" and no_cutoff else k
    values = [metric_by_definition(metric, list(r), list(p), k) for r, p in zip(y_true, y_pred)]
    expected = np.mean([x for x in values if x is not None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # users without relevant items
        got = METRICS[metric](y_true, y_pred, k=k)
    assert 0.0 <= got <= 1.0
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
