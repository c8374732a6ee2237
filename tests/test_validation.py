"""Bad input fails loudly, with a message that names the fix."""

import numpy as np
import pandas as pd
import pytest

from sklearn_zsrec import (
    ALSRecommender,
    BaseRecommender,
    PopularityRecommender,
    TextEncoder,
    ZeroShotRecommender,
)
from sklearn_zsrec._interactions import check_interactions

from ._tiny import tiny_model_path

GOOD = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 11, 10], "timestamp": [1, 2, 3]})


@pytest.mark.parametrize(
    "X, message",
    [
        (GOOD.rename(columns={"item_id": "item"}), r"missing the column\(s\) \['item_id'\]"),
        (GOOD.assign(user_id=[1, np.nan, 2]), "'user_id' contains NaN or inf ids"),
        (GOOD.assign(item_id=[10, None, "x"]), "'item_id' contains missing ids"),
        (GOOD.assign(timestamp=[1, np.nan, 3]), "'timestamp' contains NaN or inf"),
        (GOOD.assign(timestamp=["a", "b", "c"]), "'timestamp' must be numeric or datetime"),
        (GOOD.assign(timestamp=pd.to_timedelta([1, None, 3], unit="D")), "'timestamp' contains NaN"),
        (GOOD.assign(timestamp=pd.array([1, None, 3], dtype="Int64")), "'timestamp' contains NaN"),
        (GOOD.assign(timestamp=pd.Series([pd.Timestamp(0), 5, pd.Timestamp(9)], dtype=object)),
         "'timestamp' mixes datetime and other values"),
        # every row a datetime, a ns one beside one past 2262: the fix is a unit
        (GOOD.assign(timestamp=pd.Series([np.datetime64("3000-01-01", "D"),
                                          np.datetime64("2020-01-01T00:00:00.000000001"),
                                          np.datetime64("2021-01-01", "D")], dtype=object)),
         r"Nanoseconds reach only the years 1677-2262: give them one unit"),
        # a flag is no time: True/False would order the rows as times 1 and 0
        (GOOD.assign(timestamp=[True, False, True]), r"'timestamp' holds booleans .* rename"),
        (GOOD.assign(timestamp=pd.array([True, None, False], dtype="boolean")),
         r"'timestamp' holds booleans"),
        (GOOD.assign(timestamp=pd.Series([5, True, 7], dtype=object)), r"'timestamp' holds booleans"),
        # complex times were read by their real part, with numpy's warning only
        (GOOD.assign(timestamp=[1 + 1j, 2 + 0j, 3 + 0j]), r"'timestamp' holds complex numbers"),
        (GOOD.iloc[:0], "X has 0 interaction rows"),
        (np.array([1, 2, 3]), "must be 2-D .* Reshape your data"),
        (np.ones((4, 5)), r"got 5 feature\(s\) \(shape=\(4, 5\)\)"),
        (GOOD.assign(weight=[1.0, -1.0, 1.0]), "must be finite and >= 0"),
        (GOOD.assign(weight=[1.0, np.nan, 1.0]), "must be finite and >= 0"),
        ("user_id,item_id", "X must be a DataFrame"),
    ],
)
def test_bad_interactions_raise(X, message):
    with pytest.raises(ValueError, match=message):
        PopularityRecommender().fit(X)


def test_weights_given_twice_or_with_wrong_length():
    with pytest.raises(ValueError, match="weights were given twice"):
        PopularityRecommender().fit(GOOD.assign(weight=1.0), y=np.ones(3))
    with pytest.raises(ValueError, match=r"one value per row of X; y has 2 values for 3 rows"):
        PopularityRecommender().fit(GOOD, y=np.ones(2))


def test_sparse_input_is_refused_with_a_fix():
    import scipy.sparse as sp

    with pytest.raises(TypeError, match="X is a sparse matrix"):
        PopularityRecommender().fit(sp.eye(3, format="csr"))


def test_duplicate_rows_are_summed_keeping_the_latest_time():
    X = pd.DataFrame(
        {"user_id": [1, 1, 1, 2], "item_id": [10, 10, 11, 10], "timestamp": [5, 1, 3, 2]}
    )
    data = check_interactions(X)
    assert len(data) == 3
    merged = dict(zip(zip(data.user_id, data.item_id), zip(data.weight, data.timestamp)))
    assert merged[(1, 10)] == (2.0, 5.0)
    rec = PopularityRecommender(popularity="weight").fit(X)
    assert rec.user_items_[0, 0] == 2.0  # no interaction lost


def test_arrays_and_frames_agree():
    arr = GOOD.to_numpy()
    a = ALSRecommender(factors=2, random_state=0).fit(arr)
    b = ALSRecommender(factors=2, random_state=0).fit(GOOD)
    np.testing.assert_array_equal(a.recommend([1, 2], n=1), b.recommend([1, 2], n=1))
    strings = np.array([["ann", "x"], ["bob", "y"], ["ann", "y"]], dtype=object)
    assert set(PopularityRecommender().fit(strings).items_) == {"x", "y"}


def test_unknown_users_and_items():
    als = ALSRecommender(factors=2, random_state=0).fit(GOOD)
    with pytest.raises(ValueError, match=r"1 user ids were not seen in fit \(e.g. \[99\]\).*HybridRecommender"):
        als.recommend([1, 99])
    with pytest.raises(ValueError, match=r"1 item ids in X are not in the catalog \(e.g. \[77\]\)"):
        als.predict(pd.DataFrame({"user_id": [1], "item_id": [77]}))
    with pytest.raises(ValueError, match="n must be a positive int"):
        als.recommend([1], n=0)


def test_bad_parameters():
    with pytest.raises(ValueError, match="The 'factors' parameter of ALSRecommender must be an int in the range"):
        ALSRecommender(factors=0).fit(GOOD)
    with pytest.raises(ValueError, match="'popularity' parameter of PopularityRecommender"):
        PopularityRecommender(popularity="views").fit(GOOD)


@pytest.mark.parametrize(
    "item_texts, message",
    [
        (None, "item_texts is required"),
        (pd.Series(dtype=object), "item_texts is empty"),
        (pd.Series({10: "a film", 11: np.nan}), r"1 ids have a missing or empty text \(e.g. \[11\]\)"),
        (pd.Series({10: "a film", 11: "  "}), "missing or empty text"),
        (pd.Series(["a", "b"], index=[10, 10]), "duplicate ids"),
        (["a film"], "must be a pandas Series indexed by id or a dict"),
        (pd.DataFrame({"item_id": [10, 11], "text": ["a film", "a book"]}),
         r"got a pandas\.DataFrame\. For a table of ids and texts, pass e\.g\. "
         r"df\.set_index\('item_id'\)\['text'\]"),
        (pd.DataFrame({"column_names": [10, 11], "text": ["a film", "a book"]}),
         r"df\.set_index\('column_names'\)\['text'\]"),  # (a column, not pyarrow's names)
        ({10: "a film"}, r"1 item ids in X are not in the catalog \(e.g. \[11\]\)"),
    ],
)
def test_bad_item_texts(item_texts, message):
    rec = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=item_texts)
    with pytest.raises((ValueError, TypeError), match=message):
        rec.fit(GOOD)


class _TableRecommender(BaseRecommender):
    """Scores from a fitted table, returned as a view (against ``_scores``' contract)."""

    _parameter_constraints = {"writeable": ["boolean"]}

    def __init__(self, writeable=True):
        self.writeable = writeable

    def _fit(self, data):
        self._index(data)
        rng = np.random.RandomState(0)
        self.table_ = rng.rand(len(self.users_), len(self.items_)).astype(np.float32)
        self.table_.flags.writeable = self.writeable
        return self

    def _scores(self, rows, users):
        return self.table_[rows.min():rows.max() + 1]  # rows come in order here


@pytest.mark.parametrize("writeable", [True, False])
def test_scores_that_are_the_models_own_table_are_not_written_into(writeable):
    # recommend masks the seen items in the scores in place: a view of the
    # model's table would have raised (read-only) or been overwritten (-inf
    # in the fitted table, a silently changed model)
    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [1, 2, 2, 3, 4]})
    model = _TableRecommender(writeable).fit(X)
    before = model.table_.copy()
    top = model.recommend([1, 2, 3], n=2)
    np.testing.assert_array_equal(model.table_, before)
    for user, seen in ((1, {1, 2}), (2, {2, 3}), (3, {4})):
        assert not seen & set(top[user - 1])
    model.score_items([1, 2, 3])[:] = 0.0  # the caller's copy
    np.testing.assert_array_equal(model.table_, before)


def test_pyarrow_arrays_of_items_and_texts_are_read_as_their_values():
    # users given as a pyarrow array were read as their values, but items to
    # explain, new_items and texts were iterated as pyarrow scalars: "not in
    # the catalog" and "not strings", printing the scalars
    import pandas as pd
    import pyarrow as pa

    from sklearn_zsrec import (HybridRecommender, ItemKNNRecommender, TextEncoder,
                               ZeroShotRecommender)

    from ._tiny import tiny_model_path

    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 4, 4],
                      "item_id": [10, 11, 10, 12, 11, 12, 10, 11]})
    texts = pd.Series({10: "action film", 11: "comedy film", 12: "drama film", 13: "new drama"})
    knn = ItemKNNRecommender().fit(X)
    pd.testing.assert_frame_equal(knn.explain(1, pa.array([11, 12])), knn.explain(1, [11, 12]))
    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    np.testing.assert_array_equal(encoder.transform(pa.array(["a b", "c d"])),
                                  encoder.transform(["a b", "c d"]))
    hybrid = HybridRecommender(ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0),
                                                   item_texts=texts),
                               [("knn", ItemKNNRecommender())], blend="fixed",
                               new_items=pa.array([13]), verbose=0).fit(X)
    assert hybrid.new_item_thresholds_ is None  # (the fixed blend) and no error


def test_no_count_parameter_takes_a_bool():
    # scikit-learn's Interval(Integral) takes True as 1: n_neighbors=True
    # crashed in torch, HybridRecommender(user_neighbors=True) at a new
    # user's first call, ALSRecommender(factors=True) in implicit
    import inspect
    from numbers import Integral

    from sklearn.utils._param_validation import Interval

    import sklearn_zsrec
    from sklearn_zsrec.datasets import make_synthetic_interactions

    checked = [getattr(sklearn_zsrec, name) for name in sklearn_zsrec.__all__]
    checked = [c for c in checked if hasattr(c, "_parameter_constraints")]
    checked += [make_synthetic_interactions.__wrapped__]
    found = 0
    for owner in checked:
        constraints = getattr(owner, "_parameter_constraints", None)
        if constraints is None:  # a function under validate_params
            closure = inspect.getclosurevars(make_synthetic_interactions).nonlocals
            constraints = closure.get("parameter_constraints", {})
        for name, options in constraints.items():
            for option in options:
                if isinstance(option, Interval) and option.type is Integral:
                    found += 1
                    assert not option.is_satisfied_by(True), (owner, name)
                    some = option.right if option.left is None else max(option.left, 2)
                    assert option.is_satisfied_by(np.int64(some)), (owner, name)
    assert found >= 15
    X = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": ["a", "b", "a", "c"]})
    with pytest.raises(ValueError, match=r"'factors' parameter of ALSRecommender .*not a bool"):
        ALSRecommender(factors=True).fit(X)
    # n_jobs: 0 and False ran on every core (scikit-learn and joblib raise)
    for n_jobs in (0, False, True):
        with pytest.raises(ValueError, match=r"'n_jobs' parameter of ALSRecommender"):
            ALSRecommender(factors=2, n_jobs=n_jobs).fit(X)
    assert ALSRecommender(factors=2, iterations=1, n_jobs=np.int64(-1)).fit(X).n_jobs == -1


def test_warnings_point_at_the_callers_line():
    # fixed stacklevels named package or scikit-learn lines: a user id of
    # another type at _cold_start.py, user_texts of str keys at sklearn's
    # base.py, an unknown item in Pipeline.score at sklearn's pipeline.py
    import warnings

    from sklearn.pipeline import Pipeline

    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": ["a", "b", "a", "c", "b"]})
    texts = {"a": "a jazz record", "b": "a space story", "c": "a cooking book"}

    def caught(call):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            call()
        assert seen, "no warning"
        return [(w.filename, str(w.message)[:60]) for w in seen]

    model = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                                user_texts={"1": "likes jazz"})
    for filename, message in caught(lambda: model.fit(X)):
        assert filename == __file__, message
    for call in (lambda: model.recommend("2", n=1), lambda: model.explain("2", n=1),
                 lambda: Pipeline([("rec", PopularityRecommender())]).fit(X).score(
                     pd.DataFrame({"user_id": [1], "item_id": ["zz"]}))):
        for filename, message in caught(call):
            assert filename == __file__, message


def test_warnings_in_a_search_or_a_script_of_no_file_point_at_their_line(monkeypatch):
    # scikit-learn runs a search's folds through joblib, whose frame the
    # warnings named; "<string>" code run from the package's folder counted
    # as the package's, and the warning fell off the stack to "sys:1"
    import os
    import warnings

    from sklearn.model_selection import cross_validate

    import sklearn_zsrec
    from sklearn_zsrec.model_selection import LeaveLastOut

    X = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2, 3, 3, 3],
                      "item_id": ["a", "b", "c", "a", "c", "b", "b", "c", "a"]})
    texts = {"a": "a jazz record", "b": "a space story", "c": "a cooking book"}
    model = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                                user_texts={"1": "likes jazz"})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        cross_validate(model, X, cv=LeaveLastOut())
    assert seen and {w.filename for w in seen} == {__file__}
    monkeypatch.chdir(os.path.dirname(sklearn_zsrec.__file__))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        exec(compile("model.fit(X)", "<string>", "exec"), {"model": model, "X": X})
    assert seen and {w.filename for w in seen} == {"<string>"}


def test_one_call_warns_once_about_ids_of_another_type():
    # the hybrid's explain('87') where fit saw 87 warned five times (twice
    # itself, three times its text member), add_items of '0' where the
    # catalog holds 0 twice: the members re-checked ids the hybrid had
    import warnings

    from sklearn_zsrec import HybridRecommender

    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 4, 4], "item_id": [0, 1, 0, 2, 1, 2, 0, 1]})
    texts = {0: "a jazz record", 1: "a space story", 2: "a cooking book"}
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    hybrid = HybridRecommender(text, [("als", ALSRecommender(factors=2, random_state=0))],
                               blend="fixed", verbose=0).fit(X)
    for call in (lambda: hybrid.explain("1", n=1), lambda: hybrid.recommend(["1"], n=1),
                 lambda: hybrid.score_items(["1"]), lambda: hybrid.text_.explain("1", n=1),
                 lambda: hybrid.add_items({"0": "a rocket in a galaxy"})):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            call()
        assert len(seen) == 1, [str(w.message)[:70] for w in seen]
        assert seen[0].filename == __file__


class SomeNaN(BaseRecommender):
    """A recommender of one's own whose scores hold NaN (a bug in its ``_scores``)."""

    def __init__(self, nan_users=(1,), tied=False):
        self.nan_users = nan_users
        self.tied = tied

    def _fit(self, data):
        self._index(data)

    def _scores(self, rows, users):
        scores = np.tile(np.arange(len(self.items_), dtype=np.float32), (len(rows), 1))
        if self.tied:  # a tie at the cut-off of a top-3 (items 6 and 7)
            scores[:, 6:] = 5.5
        scores[np.isin(users, self.nan_users), 3:5] = np.nan
        return scores


@pytest.mark.parametrize("tied", [False, True])
def test_nan_scores_of_a_model_of_ones_own_raise_in_recommend(tied):
    # torch ranks NaN above every number: the NaN items took the first places
    # of the top-n (ids 3 and 4 before 7), and with a tie at the cut-off the
    # completion by column failed with a reshape error
    X = pd.DataFrame({"user_id": [1, 2, 3] + [9] * 8, "item_id": [0, 1, 2] + list(range(8))})
    model = SomeNaN(nan_users=(1, 3), tied=tied).fit(X)
    with pytest.raises(ValueError, match=r"SomeNaN: its scores hold NaN for the users \[1, 3\]; "
                                         r"recommend cannot rank NaN.*-inf for an item"):
        model.recommend([1, 2, 3], 3)
    with pytest.raises(ValueError, match=r"for the users \[3\];"):  # in the second batch
        model.recommend([2, 3], 3, batch_size=1)
    # the other users rank as before; score_items returns the model's scores as they are
    assert model.recommend([2], 3).tolist() == [[7, 6, 5] if not tied else [6, 7, 5]]
    assert np.isnan(model.score_items(1)[3])


class BadScores(BaseRecommender):
    """A recommender of one's own whose ``_scores`` returns ``kind`` of wrong output."""

    def __init__(self, kind="fewer columns"):
        self.kind = kind

    def _fit(self, data):
        self._index(data)

    def _scores(self, rows, users):
        import scipy.sparse as sp

        good = np.tile(np.arange(len(self.items_), dtype=np.float32), (len(rows), 1))
        return {"fewer columns": good[:, :-1], "one row more": np.vstack([good, good[:1]]),
                "1-D": good[0], "3-D": good[:, :, None], "sparse": sp.csr_matrix(good),
                "complex": good + 0j, "str": good.astype(str),
                "object floats": good.astype(object), "good": good,
                "bool": good % 2 == 1}[self.kind]


@pytest.mark.parametrize("kind, message", [
    ("fewer columns", r"shape \(2, 7\) for 2 users; expected \(2, 8\), one row per user"),
    ("one row more", r"shape \(3, 8\) for 2 users; expected \(2, 8\)"),
    ("1-D", r"shape \(8,\) for 2 users"),
    ("3-D", r"shape \(2, 8, 1\) for 2 users"),
    ("sparse", r"a sparse matrix; return a dense array"),
    ("complex", r"dtype complex64; return real numbers"),
    ("str", r"dtype <U\d+; return real numbers"),
    ("bool", None),  # numbers: True ranks first
])
def test_scores_of_a_model_of_ones_own_must_have_the_catalogs_shape(kind, message):
    # one column short, recommend ranked the first 7 items as if they were
    # the catalog (the last never recommended) and score_items, predict
    # returned such scores; the others failed deep in numpy, or (str scores)
    # were parsed as numbers
    X = pd.DataFrame({"user_id": [1, 2] + [9] * 8, "item_id": [0, 1] + list(range(8))})
    model = BadScores(kind).fit(X)
    if message is None:
        assert model.recommend([1], 3).tolist() == [[1, 3, 5]]  # True items, by column
        return
    for call in (lambda: model.recommend([1, 2], 3), lambda: model.score_items([1, 2]),
                 lambda: model.predict(pd.DataFrame({"user_id": [1, 2], "item_id": [4, 5]}))):
        with pytest.raises(ValueError, match=f"BadScores: _scores returned (.* )?{message}"):
            call()


def test_scores_of_python_numbers_rank_as_floats():
    X = pd.DataFrame({"user_id": [1, 2] + [9] * 8, "item_id": [0, 1] + list(range(8))})
    assert BadScores("object floats").fit(X).recommend([1], 3).tolist() == [[7, 6, 5]]
    assert BadScores("good").fit(X).recommend([1], 3).tolist() == [[7, 6, 5]]


def test_merged_repeats_come_back_in_time_order():
    # duplicates="sum": "returns the rows in time order" (with their order
    # 0..n-1), the merged pair at its latest time; without the sort after
    # merging they came in order of first appearance (a mutation hunt)
    X = pd.DataFrame({"user_id": [1, 1, 2, 1, 2, 1], "item_id": [10, 20, 30, 10, 40, 50],
                      "timestamp": [5, 1, 2, 6, 3, 4]})
    data = check_interactions(X)
    assert list(zip(data.user_id.tolist(), data.item_id.tolist())) == [
        (1, 20), (2, 30), (2, 40), (1, 50), (1, 10)]
    assert data.order.tolist() == [0, 1, 2, 3, 4]
    assert (np.diff(np.asarray(data.timestamp, dtype=float)) >= 0).all()
