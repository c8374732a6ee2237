"""Splitting interactions in time: known splits, no leakage, bad input."""

from decimal import Decimal

import datetime
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import GridSearchCV, check_cv, cross_validate

from sklearn_zsrec.model_selection import LeaveLastOut, train_test_split_last
from sklearn_zsrec.model_selection._split import _rank_from_end, _users_and_times

# Rows deliberately not in time order. Per user, by timestamp:
#   a: row 2 (t=10), row 4 (t=20), row 0 (t=30), row 6 (t=40)
#   b: row 1 (t=5),  row 5 (t=9)
#   c: row 3 (t=1)
X = pd.DataFrame(
    {
        "user_id": ["a", "b", "a", "c", "a", "b", "a"],
        "item_id": [1, 2, 3, 4, 5, 6, 7],
        "timestamp": [30, 5, 10, 1, 20, 9, 40],
    }
)
# rank from the end within the user: 0 = the user's last row
RANK = [1, 1, 3, 0, 2, 0, 0]
# fold j: test = rank j (users with a row before it), train = rank > j
FOLDS = [
    ([0, 1, 2, 4], [5, 6]),  # a's t=40 and b's t=9 held out; c has 1 row
    ([2, 4], [0]),  # a's t=30; b has nothing before its t=5
    ([2], [4]),  # a's t=20, trained on a's t=10
]


def _folds(cv, X):
    return [(train.tolist(), test.tolist()) for train, test in cv.split(X)]


def test_rank_from_end_by_hand():
    rank, n_user_rows = _rank_from_end(*_users_and_times(X, "LeaveLastOut"))
    assert rank.tolist() == RANK
    assert n_user_rows.tolist() == [4, 2, 4, 1, 4, 2, 4]


def test_leave_last_out_by_hand():
    assert _folds(LeaveLastOut(n_splits=3), X) == FOLDS
    assert _folds(LeaveLastOut(), X) == FOLDS[:1]


def test_folds_are_int_arrays_with_sorted_train():
    for train, test in LeaveLastOut(n_splits=3).split(X):
        assert train.dtype.kind == "i" and test.dtype.kind == "i"
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)


def test_arrays_and_dataframes_give_the_same_folds():
    cv = LeaveLastOut(n_splits=3)
    assert _folds(cv, X.to_numpy()) == FOLDS  # object array, string users
    assert _folds(cv, list(X.itertuples(index=False))) == FOLDS
    numeric = X.assign(user_id=X["user_id"].map({"a": 7, "b": 8, "c": 9}))
    assert _folds(cv, numeric.to_numpy()) == FOLDS
    assert _folds(cv, numeric.to_numpy().astype(float)) == FOLDS


def test_without_timestamps_row_order_is_time_order():
    # a: rows 0 2 4 6, b: rows 1 5, c: row 3
    expected = [([0, 1, 2, 4], [5, 6]), ([0, 2], [4])]
    cv = LeaveLastOut(n_splits=2)
    assert _folds(cv, X.drop(columns="timestamp")) == expected
    assert _folds(cv, X[["user_id", "item_id"]].to_numpy()) == expected


def test_ties_are_broken_by_row_order():
    ties = pd.DataFrame({"user_id": [1, 1, 1, 1], "timestamp": [5, 5, 1, 5]})
    # by time: row 2 (t=1), then rows 0, 1, 3 (t=5, in row order)
    assert _rank_from_end(*_users_and_times(ties, "LeaveLastOut"))[0].tolist() == [2, 1, 3, 0]
    assert _folds(LeaveLastOut(n_splits=2), ties) == [([0, 1, 2], [3]), ([0, 2], [1])]


@pytest.mark.parametrize(
    "convert",
    [
        lambda t: t,
        lambda t: t + 0.5,
        lambda t: pd.to_datetime(t, unit="D"),
        lambda t: pd.to_datetime(t, unit="D").dt.tz_localize("Europe/Paris"),
        lambda t: t.astype(np.uint32),
        lambda t: t * 10**17,  # too wide a range for one int64 key
    ],
    ids=["int", "float", "datetime", "tz-aware", "uint", "wide"],
)
def test_timestamp_types(convert):
    assert _folds(LeaveLastOut(n_splits=3), X.assign(timestamp=convert(X["timestamp"]))) == FOLDS


def test_datetimes_in_rows_split_as_in_a_dataframe():
    # fit reads datetimes from a list of rows or an object array; so must the splitters
    for zone in (None, "Asia/Kolkata"):
        stamps = pd.to_datetime(X["timestamp"], unit="D")
        frame = X.assign(timestamp=stamps if zone is None else stamps.dt.tz_localize(zone))
        rows = [list(r) for r in frame.itertuples(index=False)]
        assert _folds(LeaveLastOut(n_splits=3), rows) == FOLDS
        assert _folds(LeaveLastOut(n_splits=3), np.array(rows, dtype=object)) == FOLDS


@pytest.mark.parametrize(
    "stamps",
    [
        # nanoseconds as ints: float64 rounds both to 2**60, a tie
        np.array([2**60 + 1, 2**60, 2**60 + 2]),
        pd.Series([2**60 + 1, 2**60, 2**60 + 2], dtype=object),
        # outside 1677-2262, where numpy's conversion to nanoseconds wraps around
        np.array(["3000-01-01", "1000-01-01", "3000-01-02"], dtype="datetime64[D]"),
        # as read_csv(dtype=str) gives them: were parsed as float64, a tie
        pd.Series([str(2**60 + 1), str(2**60), str(2**60 + 2)], dtype=object),
        np.array([str(2**60 + 1), str(2**60), str(2**60 + 2)]),
        # Timestamps past 2262, one with a zone: pandas 2 converted them to
        # nanoseconds only and raised (the fallback, which pandas 3 does not need)
        pd.Series([pd.Timestamp("3000-01-01 01:00", tz="Europe/Paris"),
                   pd.Timestamp("1000-01-01"), pd.Timestamp("3000-01-01 00:30")], dtype=object),
        # Python ints past int64
        pd.Series([2**70 + 1, 2**70, 2**70 + 2], dtype=object),
        # whole Decimals, as pd.read_sql gives a NUMERIC(20, 0) column: were float64, a tie
        pd.Series([Decimal(2**60 + 1), Decimal(2**60), Decimal("1152921504606846978.000")],
                  dtype=object),
        # uint64 past int64 (a cast to int64 wraps them to negative numbers)
        pd.Series(np.array([2**63 + 5, 2**63 - 5, 2**63 + 10], dtype=np.uint64)),
        # negative digit strings past 2**53 (as float64, the first two tie)
        pd.Series(["-9007199254740995", "-9007199254740996", "-9007199254740994"]),
    ],
    ids=["int64", "object ints", "far dates", "digit strings", "numpy strings",
         "far timestamps", "ints past int64", "decimals", "uint64 past int64",
         "negative digit strings"],
)
def test_timestamps_beyond_float64_or_nanoseconds_order_exactly(stamps):
    from sklearn_zsrec import ItemKNNRecommender

    frame = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [10, 11, 12], "timestamp": stamps})
    # by time: row 1, row 0, row 2 (the last)
    assert _folds(LeaveLastOut(n_splits=2), frame) == [([0, 1], [2]), ([1], [0])]
    train, test = train_test_split_last(frame)
    assert test.item_id.tolist() == [12]
    # a model orders them alike: the recency weights halve per step back
    history = ItemKNNRecommender(half_life=1.0).fit(frame).history_.toarray()
    assert_array_equal(history, [[0.5, 0.25, 1.0]])


def test_times_near_int64s_limit_order_exactly_with_several_users():
    # a mutation hunt: the sort key user * span + time survived without its
    # shift by the smallest time, though past 2**63 it wraps around: here
    # 3 * span < 2**63 (the exact path) but 2**62 + 3 * span is not, and the
    # fold came out as train [4, 5], test [] instead of each user's later row
    t = 2**62
    frame = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c", "c"], "item_id": [1, 2, 1, 2, 1, 2],
                          "timestamp": np.array([t + 2**61 - 1, t, t + 5, t + 2**61 - 2, t + 1, t + 2],
                                                dtype=np.int64)})
    # by hand: a's later row is 0, b's is 3, c's is 5
    assert _folds(LeaveLastOut(), frame) == [([1, 2, 4], [0, 3, 5])]
    assert train_test_split_last(frame)[1].index.tolist() == [0, 3, 5]


def test_a_years_nanosecond_datetimes_of_hundreds_of_users_hold_out_each_latest_row():
    # the same wrap-around with real dates: 260 users over 2023 in nanoseconds
    # (about 1.7e18 + 260 x 3.2e16 passes 2**63) gave an empty test fold
    rng = np.random.default_rng(0)
    n_users = 260
    stamps = pd.Timestamp("2023-01-01") + pd.to_timedelta(
        rng.integers(0, 365 * 86400 * 10**9, 3 * n_users), unit="ns")
    frame = pd.DataFrame({"user_id": np.repeat(np.arange(n_users), 3),
                          "item_id": rng.integers(0, 100, 3 * n_users), "timestamp": stamps})
    frame = frame.sample(frac=1, random_state=0).reset_index(drop=True)
    assert not frame.duplicated(["user_id", "timestamp"]).any()  # no ties to break
    latest = np.sort(frame.groupby("user_id")["timestamp"].idxmax().to_numpy())
    (train, test), = LeaveLastOut().split(frame)
    assert_array_equal(test, latest)
    assert_array_equal(np.sort(train_test_split_last(frame)[1].index.to_numpy()), latest)


def test_a_user_with_j_plus_1_interactions_and_earlier_impressions_is_out_of_fold_j():
    # a mutation hunt: the training rows of fold j were taken as rank > j
    # alone, which put the impression (weight 0) of b, a user with 1
    # interaction, into fold 0's training rows, and c's (2 interactions) into
    # fold 1's; the docstring: users with at most j + 1 interactions are left
    # out of fold j
    frame = pd.DataFrame({"user_id": ["a", "a", "a", "b", "b", "c", "c", "c"],
                          "item_id": [1, 2, 3, 1, 2, 4, 5, 6],
                          "timestamp": [1, 2, 3, 1, 2, 1, 2, 3],
                          "weight": [1, 1, 1, 0, 1, 0, 1, 1]})
    # fold 0: a and c hold out their last rows (2, 7) and train on the rest
    # (c's impression 5 included); b has 1 interaction: out. Fold 1: only a
    # has more than 2 interactions: test row 1, train row 0
    assert _folds(LeaveLastOut(n_splits=2), frame) == [([0, 1, 5, 6], [2, 7]), ([0], [1])]


def _random_interactions(seed, n=600):
    rng = np.random.RandomState(seed)
    return pd.DataFrame(
        {
            "user_id": rng.choice([f"u{i}" for i in range(40)], size=n),
            "item_id": rng.randint(0, 50, size=n),
            "timestamp": rng.randint(0, 30, size=n),  # many ties
        },
        index=rng.permutation(n) + 1000,  # not a RangeIndex
    )


def _reference_rank(X):
    """Rank from the end, the slow and obvious way."""
    rank = np.empty(len(X), dtype=int)
    users, times = X["user_id"].to_numpy(), X["timestamp"].to_numpy()
    for user in set(users):
        rows = sorted(np.flatnonzero(users == user), key=lambda i: (times[i], i))
        for r, i in enumerate(reversed(rows)):
            rank[i] = r
    return rank


@pytest.mark.parametrize("seed", range(3))
def test_rank_from_end_matches_a_slow_reference(seed):
    X = _random_interactions(seed)
    assert_array_equal(_rank_from_end(*_users_and_times(X, "LeaveLastOut"))[0], _reference_rank(X))


@pytest.mark.parametrize("seed", range(3))
def test_no_leakage(seed):
    X = _random_interactions(seed)
    users, times = X["user_id"].to_numpy(), X["timestamp"].to_numpy()
    cv = LeaveLastOut(n_splits=3)
    for train, test in cv.split(X):
        assert np.intersect1d(train, test).size == 0
        # one test row per tested user
        assert len(set(users[test])) == len(test)
        for t in test:
            own = train[users[train] == users[t]]
            assert own.size > 0
            # no training row of the user is later than their test row; at
            # equal times, the earlier row comes first
            assert np.all(times[own] <= times[t])
            assert np.all(own[times[own] == times[t]] < t)


def test_each_fold_holds_out_the_row_before_the_previous_fold():
    X = _random_interactions(0)
    folds = list(LeaveLastOut(n_splits=3).split(X))
    for (train, _), (next_train, next_test) in zip(folds, folds[1:]):
        # fold j+1 trains on fold j's training rows minus its own test rows
        assert_array_equal(np.setdiff1d(train, next_test), next_train)


def test_usable_by_sklearn_model_selection():
    cv = LeaveLastOut(n_splits=2)
    assert repr(cv) == "LeaveLastOut(n_splits=2)"
    assert check_cv(cv) is cv
    assert cv.get_n_splits() == 2 and cv.get_n_splits(X) == 2
    assert len(list(cv.split(X))) == 2
    # any scikit-learn estimator works on the numeric columns
    data = X.assign(user_id=X["user_id"].map({"a": 0, "b": 1, "c": 2})).to_numpy()
    y = np.arange(len(data), dtype=float)
    result = cross_validate(
        DummyRegressor(), data, y, cv=cv, scoring="neg_mean_absolute_error",
        return_indices=True,
    )
    assert result["indices"]["test"][0].tolist() == [5, 6]
    search = GridSearchCV(
        DummyRegressor(), {"strategy": ["mean", "median"]}, cv=cv,
        scoring="neg_mean_absolute_error",
    ).fit(data, y)
    assert len(search.cv_results_["split1_test_score"]) == 2


def test_train_test_split_last_dataframe():
    indexed = X.set_index(pd.Index(list("pqrstuv")))
    X_train, X_test = train_test_split_last(indexed)
    assert isinstance(X_train, pd.DataFrame) and isinstance(X_test, pd.DataFrame)
    # test: a's t=40 (row 6, "v") and b's t=9 (row 5, "u"); c keeps its row
    assert X_test.index.tolist() == ["u", "v"]
    assert X_train.index.tolist() == ["p", "q", "r", "s", "t"]
    assert_array_equal(X_test.columns, X.columns)


def test_train_test_split_last_n_test():
    X_train, X_test = train_test_split_last(X, n_test=2)
    # a's last two (t=30, t=40); b has only 2 rows and c 1: both stay in train
    assert X_test.index.tolist() == [0, 6]
    assert X_train.index.tolist() == [1, 2, 3, 4, 5]
    X_train, X_test = train_test_split_last(X, n_test=3)
    assert X_test.index.tolist() == [0, 4, 6]


def test_train_test_split_last_array():
    data = np.array([[1, 10, 100], [2, 10, 50], [1, 11, 300], [1, 12, 200], [2, 11, 60]])
    X_train, X_test = train_test_split_last(data)
    assert isinstance(X_train, np.ndarray)
    assert X_test.tolist() == [[1, 11, 300], [2, 11, 60]]
    assert X_train.tolist() == [[1, 10, 100], [2, 10, 50], [1, 12, 200]]
    # list input with string users: an array that keeps the int item ids
    X_train, X_test = train_test_split_last([("u", 1), ("u", 2)])
    assert X_test.tolist() == [["u", 2]] and X_train.tolist() == [["u", 1]]


@pytest.mark.parametrize("seed", range(3))
def test_train_test_split_last_agrees_with_the_first_fold(seed):
    X = _random_interactions(seed)
    train, test = next(LeaveLastOut().split(X))
    X_train, X_test = train_test_split_last(X)
    assert_array_equal(X_test.index, X.index[test])
    # everything else is training data, users with a single row included
    assert_array_equal(X_train.index, X.index.delete(test))


@pytest.mark.parametrize("bad", [0, -1, 1.0, "2", True, None])
def test_bad_n_splits_raises(bad):
    with pytest.raises(ValueError, match=r"LeaveLastOut: n_splits must be an int >= 1; got "):
        LeaveLastOut(n_splits=bad)
    cv = LeaveLastOut()
    cv.n_splits = bad  # set after __init__: checked again, rather than no fold
    with pytest.raises(ValueError, match=r"LeaveLastOut: n_splits must be an int >= 1; got "):
        next(cv.split(X))


@pytest.mark.parametrize("bad", [0, 2.5, None])
def test_bad_n_test_raises(bad):
    with pytest.raises(ValueError, match=r"train_test_split_last: n_test must be an int >= 1; got "):
        train_test_split_last(X, n_test=bad)


def test_too_few_interactions_raise():
    message = (
        r"LeaveLastOut\(n_splits=4\) needs users with more than 4 interactions, "
        r"but no user has more than 4, so fold 3 \(0-based\) would have no test "
        r"rows\. Use n_splits <= 3\."
    )
    with pytest.raises(ValueError, match=message):
        list(LeaveLastOut(n_splits=4).split(X))
    with pytest.raises(ValueError, match=r"Every user has a single interaction"):
        list(LeaveLastOut().split(X.drop_duplicates("user_id")))
    with pytest.raises(ValueError, match=r"No user has more than n_test=4 interactions"):
        train_test_split_last(X, n_test=4)


@pytest.mark.parametrize(
    "bad_X, message",
    [
        (X.rename(columns={"user_id": "user"}), r": X is missing the column 'user_id'; got columns \['user', "),
        (np.array([1, 2, 3]), r"array of shape \(n, 2\) or \(n, 3\) .* shape \(3,\)"),
        (np.ones((3, 4)), r"got an array of shape \(3, 4\)"),
        (X.iloc[:0], r": X has 0 interaction rows"),
        (X.assign(timestamp=[1, np.nan, 3, 4, 5, 6, 7]), r"column 'timestamp' contains NaN or inf \(or NaT\) in 1 rows"),
        (X.assign(timestamp=pd.to_datetime([1, None, 3, 4, 5, 6, 7])), r"column 'timestamp' contains NaN or inf \(or NaT\) in 1 rows"),
        (X.assign(timestamp=list("abcdefg")), r"column 'timestamp' must be numeric or datetime"),
        (X.assign(timestamp=pd.to_timedelta([1, None, 3, 4, 5, 6, 7], unit="D")),
         r"column 'timestamp' contains NaN or inf \(or NaT\) in 1 rows"),
        (X.assign(timestamp=pd.Series([pd.Timestamp(0), 5, *[pd.Timestamp(9)] * 5], dtype=object)),
         r"column 'timestamp' mixes datetime and other values"),
        (X.assign(timestamp=[True, False] * 3 + [True]), r"column 'timestamp' holds booleans"),
        (X.assign(user_id=["a", None, "a", "c", "a", "b", "a"]), r"missing user_id values .* in 1 rows"),
    ],
)
def test_bad_X_raises(bad_X, message):
    with pytest.raises(ValueError, match=message):
        list(LeaveLastOut().split(bad_X))
    with pytest.raises(ValueError, match=message):
        train_test_split_last(bad_X)


def test_boolean_user_ids_are_refused_as_fit_refuses_them():
    # True and 1 would be one user (the fit that followed raised; the split did not)
    X = pd.DataFrame({"user_id": [True, False, True, False], "item_id": [1, 2, 3, 4],
                      "timestamp": [1, 2, 3, 4]})
    mixed = X.assign(user_id=pd.Series([True, 1, "a", "a"], dtype=object))
    hidden = X.assign(user_id=pd.Series([1, True, "a", "a"], dtype=object))  # 1 == True
    for bad in (X, mixed, hidden):
        with pytest.raises(TypeError, match=r"LeaveLastOut: column 'user_id' holds bool .*"
                                            r"not booleans .*astype\(str\)"):
            list(LeaveLastOut().split(bad))
        with pytest.raises(TypeError, match=r"train_test_split_last: column 'user_id' holds"):
            train_test_split_last(bad)


@pytest.mark.parametrize("dtype, times", [
    (np.int8, [-100, 0, 100]),
    (np.int16, [-20000, 0, 20000]),
    (np.int32, [-631152000, 0, 1577836800]),  # 1950, 1970, 2020 in seconds
])
def test_narrow_integer_timestamps_hold_out_the_latest_row(dtype, times):
    # the span was computed in the column's own type and wrapped around:
    # the earliest row was held out, later rows trained on
    X = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [10, 11, 12],
                      "timestamp": np.array(times, dtype=dtype)})
    assert train_test_split_last(X)[1].item_id.tolist() == [12]
    folds = [(a.tolist(), b.tolist()) for a, b in LeaveLastOut(2).split(X)]
    assert folds == [([0, 1], [2]), ([0], [1])]


def test_a_record_batch_is_split_into_record_batches_and_records_are_named():
    pa = pytest.importorskip("pyarrow")
    batch = pa.RecordBatch.from_pandas(X, preserve_index=False)
    train, test = train_test_split_last(batch)
    assert isinstance(train, pa.RecordBatch) and isinstance(test, pa.RecordBatch)
    assert sorted(test.column("item_id").to_pylist()) == [6, 7]
    with pytest.raises(ValueError, match=r"X is a list of 7 dicts; pass pd.DataFrame\(X\)"):
        train_test_split_last(X.drop(columns="timestamp").to_dict("records"))


def test_splits_hold_out_interactions_not_impressions():
    # a click log whose users' last rows are impressions (y: clicked): the
    # impression was held out as "the latest interaction", and
    # cross_validate(model, X, clicked) scored the non-clicks (1.0)
    from sklearn.model_selection import cross_validate
    from sklearn_zsrec import PopularityRecommender
    from sklearn_zsrec.model_selection import LeaveLastOut, train_test_split_last

    X = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2, 3, 3, 3],
                      "item_id": ["a", "b", "c", "a", "c", "b", "b", "c", "a"]})
    clicked = np.array([1, 1, 0, 1, 1, 0, 1, 1, 0])
    (train, test), = LeaveLastOut().split(X, clicked)
    assert test.tolist() == [1, 4, 7] and train.tolist() == [0, 3, 6]  # impressions: after the test
    (train, test), = LeaveLastOut().split(X.assign(weight=clicked))
    assert test.tolist() == [1, 4, 7]
    folds = list(LeaveLastOut(n_splits=2).split(X, np.ones(9)))  # all clicks: as without y
    assert [t.tolist() for t in folds[0]] == [[0, 1, 3, 4, 6, 7], [2, 5, 8]]
    scores = cross_validate(PopularityRecommender(), X, clicked, cv=LeaveLastOut())["test_score"]
    assert scores[0] < 1.0
    X_train, X_test = train_test_split_last(X.assign(weight=clicked.astype(float)))
    assert X_test.index.tolist() == [1, 2, 4, 5, 7, 8]
    assert X_test.weight.tolist() == [1, 0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="y has 2 values for 9 rows"):
        next(LeaveLastOut().split(X, [1, 0]))
    # the weights as fit's y (README: fit(X, y=clicked)): the impressions
    # were held out, as train_test_split_last took no y
    for y in (clicked, pd.Series(clicked, index=X.index + 10), clicked.tolist()):
        X_train, X_test, y_train, y_test = train_test_split_last(X, y=y)
        assert X_test.index.tolist() == [1, 2, 4, 5, 7, 8]
        assert np.asarray(y_test).tolist() == [1, 0, 1, 0, 1, 0]
        assert np.asarray(y_train).tolist() == [1, 1, 1] and type(y_train) is type(y)
    arr_train, arr_test, _, _ = train_test_split_last(X.to_numpy(), y=clicked)
    assert arr_test.tolist() == X_test.to_numpy().tolist()
    with pytest.raises(ValueError, match="y has 2 values for 9 rows"):
        train_test_split_last(X, y=[1, 0])


def test_leave_last_out_of_rows_that_all_weigh_0_says_so():
    X = pd.DataFrame({"user_id": [1, 1, 2], "item_id": ["a", "b", "a"]})
    with pytest.raises(ValueError, match="every row of X weighs 0"):
        next(LeaveLastOut().split(X, np.zeros(3)))


def test_arrow_decimal_and_period_timestamps_order_as_their_values():
    pa = pytest.importorskip("pyarrow")
    from sklearn_zsrec import NextItemRecommender

    frame = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [10, 11, 12]})
    ns = [2**60 + 1, 2**60, 2**60 + 2]  # float64 rounds all three to 2**60
    decimals = pd.Series(pd.array([Decimal(v) for v in ns], dtype=pd.ArrowDtype(
        pa.decimal128(38, 0))))
    periods = pd.Series(pd.PeriodIndex(["2020-02", "2020-01", "2020-03"], freq="M"))
    # epoch seconds to the nanosecond, as NUMERIC(38, 9): float64 ties them
    seconds = pd.Series(pd.array([Decimal("1700000000.000000002"), Decimal("1700000000.000000001"),
                                  Decimal("1700000000.000000003")],
                                 dtype=pd.ArrowDtype(pa.decimal128(38, 9))))
    # numpy ints beside fractional Decimals (a concat of two sources)
    mixed = pd.Series([np.int64(2), Decimal("1.5"), Decimal("2.25")], dtype=object)
    # a float beside nanosecond Decimals: all went through float64, a tie
    floats = pd.Series([Decimal("1700000000.000000002"), 1700000000.0,
                        Decimal("1700000000.000000003")], dtype=object)
    for stamps in (decimals, periods, periods.astype(object), seconds, seconds.astype(object),
                   mixed, floats):
        data = frame.assign(timestamp=stamps)
        assert train_test_split_last(data)[1].item_id.tolist() == [12]
        assert _folds(LeaveLastOut(n_splits=2), data) == [([0, 1], [2]), ([1], [0])]
        # 11 came before 10: the next item after 11 is 10, after 10 is 12
        model = NextItemRecommender(window=1).fit(data)
        assert model.transitions_[model._rows([11], "item")[0]].indices.tolist() == \
            model._rows([10], "item").tolist()


def test_missing_weights_raise_in_fit_and_in_the_splitters_naming_the_fix():
    # a nullable "clicked" flag after a left join of impressions and clicks
    clicked = pd.array([True, pd.NA, False, True], dtype="boolean")
    frame = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 2],
                          "timestamp": [0, 1, 0, 1]})
    match = r"at row 1; 1 missing: NaN or NA\). Fill the missing ones \(e.g. fillna\(0\)"
    from sklearn_zsrec import PopularityRecommender

    for fit in (lambda: PopularityRecommender().fit(frame, clicked),
                lambda: PopularityRecommender().fit(frame.assign(weight=clicked)),
                lambda: train_test_split_last(frame, y=clicked),
                lambda: train_test_split_last(frame.assign(weight=clicked)),
                lambda: list(LeaveLastOut().split(frame, clicked))):
        with pytest.raises(ValueError, match=match):
            fit()
    # negative weights: fit refuses them, and so do the splitters now, naming
    # the first and the fix (centred ratings, a thumbs-down as -1)
    with pytest.raises(ValueError, match=r"must be finite and >= 0; .* \(e.g. -1.0 at row 1\)"
                                         r"\. .* np.clip\(y, 0, None\)"):
        train_test_split_last(frame, y=[1, -1, 1, 1])


def test_datetimes_past_nanoseconds_convert_to_microseconds_in_utc():
    # pandas 2's to_datetime gives nanoseconds only; the fallback keeps the
    # instant (in UTC) and refuses to round away nanoseconds
    from sklearn_zsrec._columns import _microseconds

    out = _microseconds([pd.Timestamp("3000-01-01 01:00", tz="Europe/Paris"),
                         datetime.datetime(9999, 12, 31), pd.Timestamp("1000-01-01"), None])
    assert out.dtype == np.dtype("datetime64[us]")
    assert out[:3].tolist() == [datetime.datetime(3000, 1, 1), datetime.datetime(9999, 12, 31),
                                datetime.datetime(1000, 1, 1)]
    assert np.isnat(out[3])
    assert _microseconds([pd.Timestamp("2020-01-01T00:00:00.000000001")]) is None


def test_a_sparse_matrix_gets_fits_message_in_the_splitters():
    # it said "got an array of shape ()" of a 3 x 3 matrix
    import scipy.sparse as sp

    X = sp.csr_matrix(np.eye(3))
    with pytest.raises(TypeError, match="train_test_split_last: X is a sparse matrix; pass "
                                        "interactions as rows"):
        train_test_split_last(X)
    with pytest.raises(TypeError, match="LeaveLastOut: X is a sparse matrix"):
        next(LeaveLastOut().split(X))


def test_integer_timestamps_read_as_strings_keep_their_nanoseconds():
    # a numpy array of strings (np.array(list(csv.reader(f)))): times 100 ns
    # apart tied in float64, and the earlier one was held out (a mutation hunt)
    X = np.array([["u1", "late", "1700000000000000100"],
                  ["u1", "early", "1700000000000000000"],
                  ["u1", "first", "1600000000000000000"]])
    train, test = train_test_split_last(X)
    assert np.asarray(test)[:, 1].tolist() == ["late"]
