"""Pins of mutation round 27's behaviour-changing survivors (the lines changed on
2026-12-07: add_items' rollback, the embedding cache's check, TextEncoder.fit's
cleanup, the y-index check's numeric labels). Each fails on its mutant, named in
its heading, and passes on the code as it is; the last is the gap one mutant
showed in the original."""
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from sklearn_zsrec import PopularityRecommender, TextEncoder, ZeroShotRecommender

SAME = "X and y hold the same index labels in another order"
LOG = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": ["a", "b", "a", "c"],
                    "timestamp": [4, 1, 3, 2], "clicked": [1.0, 0.0, 1.0, 0.0]})
X = LOG.sort_values("timestamp")[["user_id", "item_id"]]  # labels 1, 3, 2, 0
W = LOG.clicked.to_numpy()  # in label order 0, 1, 2, 3


def _weighted(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PopularityRecommender(popularity="weight").fit(X, y).item_scores_.tolist()


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt  # the user's Ctrl-C


# ---- (C01: restored_on_error's `except BaseException` narrowed to Exception)
def test_add_items_interrupted_by_ctrl_c_changes_nothing(monkeypatch):
    from sklearn_zsrec import _zero_shot

    items = pd.Series({"a": "space rockets", "b": "space stations", "c": "cooking pasta",
                       "d": "cooking rice"})
    model = ZeroShotRecommender(TfidfVectorizer(), item_texts=items).fit(
        pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": ["a", "b", "c", "d"]}))
    before = model.recommend([1, 2], n=2)
    with monkeypatch.context() as patched:
        patched.setattr(_zero_shot, "grow_catalog", _interrupt)
        with pytest.raises(KeyboardInterrupt):
            model.add_items({"e": "space suits"})
    assert model.item_embeddings_.shape[0] == len(model.items_) == 4
    np.testing.assert_array_equal(model.recommend([1, 2], n=2), before)


# ---- (E01: TextEncoder.fit's `except BaseException` narrowed to Exception)
def test_a_refit_interrupted_by_ctrl_c_leaves_the_encoder_not_fitted(monkeypatch):
    from sklearn.exceptions import NotFittedError

    from sklearn_zsrec import _encoder
    from ._tiny import tiny_model_path

    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    encoder.set_params(pooling="cls", normalize=False)
    with monkeypatch.context() as patched:  # Ctrl-C in the precision probe, pooling_ set
        patched.setattr(_encoder, "_auto_precision", _interrupt)
        with pytest.raises(KeyboardInterrupt):
            encoder.fit()
    encoder.set_params(pooling="auto", normalize="auto")
    with pytest.raises(NotFittedError):
        encoder.transform(["a quiet garden"])


# ---- (K05: cached_encode compares only the first of the texts cached meanwhile)
def test_fill_embedding_cache_checks_every_text_another_thread_cached(monkeypatch):
    from sklearn_zsrec import _distributed, clear_embedding_cache, fill_embedding_cache

    texts = ["Toy Story (1995). Genres: Animation, Children's, Comedy",
             "GoldenEye (1995). Genres: Action, Adventure, Thriller",
             "Four Rooms (1995). Genres: Thriller",
             "Get Shorty (1995). Genres: Action, Comedy, Drama"]
    clear_embedding_cache()
    encoder = TextEncoder(verbose=0).fit()
    vectors = encoder._encode(texts)
    encoder.transform(texts[:1])
    first_check, other_thread = _distributed._check_agreement, []

    def check_then_another_thread_encodes(*args, **kwargs):
        first_check(*args, **kwargs)
        if not other_thread:  # the second new text, not the first
            other_thread.append(TextEncoder(verbose=0).fit().transform(texts[2:3]))

    monkeypatch.setattr(_distributed, "_check_agreement", check_then_another_thread_encodes)
    with pytest.raises(ValueError, match="other vectors: 1 of 1.*nothing was stored"):
        fill_embedding_cache(encoder, texts, vectors[[0, 1, 3, 2]], n_check=0)
    np.testing.assert_allclose(encoder.transform(texts[3:4])[0], vectors[3], atol=1e-4)


# ---- (L03 "floating", L05 "mixed-integer-float", L06 "decimal" dropped from the
# inferred types; L12: `numbers` from X's dtype kind alone)
@pytest.mark.parametrize("x_labels, y_labels", [
    (None, pd.Index([0.0, 1.0, 2.0, 3.0], dtype=object)),             # L03
    (None, pd.Index([0, 1.0, 2, 3.0], dtype=object)),                 # L05
    (None, pd.Index([Decimal(i) for i in range(4)], dtype=object)),   # L06
    (pd.Index([1, 3, 2, 0], dtype=object), pd.Index([0, 1, 2, 3])),   # L12
])
def test_numeric_labels_of_any_dtype_in_another_order_raise(x_labels, y_labels):
    Xl = X if x_labels is None else X.set_axis(x_labels)
    y = pd.Series(W, index=y_labels)
    with pytest.raises(ValueError, match=SAME):
        _weighted(Xl, y)


# ---- (L07: "mixed-integer" read as numbers; L08: the numbers-mismatch return dropped;
# L13: min/max compared for labels that are not numbers)
def test_labels_mixing_ints_and_strings_are_no_numbers():
    # y's 0, 1, 2, "x" beside X's ints: other labels, paired by position (no TypeError)
    y = pd.Series(W, index=pd.Index([0, 1, 2, "x"], dtype=object))
    assert _weighted(X, y) == _weighted(X, W)
    # ids "a", 1, "b", 2 on both, in another order: the same labels (no TypeError)
    mixed = ["a", 1, "b", 2]
    with pytest.raises(ValueError, match=SAME):
        _weighted(X.set_axis(pd.Index(mixed, dtype=object)),
                  pd.Series(W, index=pd.Index([mixed[i] for i in [3, 0, 2, 1]], dtype=object)))


# ---- (L10: the original returned when the index types differed)
STRINGS = pd.Index(["p", "q", "r", "s"])
DAYS = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"])


@pytest.mark.parametrize("labels, y_labels", [
    (STRINGS, pd.CategoricalIndex(STRINGS)),
    (DAYS, pd.CategoricalIndex(DAYS)),
    (DAYS, pd.Index(list(DAYS), dtype=object)),  # Timestamps as objects
])
def test_same_labels_in_another_index_type_raise(labels, y_labels):
    # pandas pairs these by label: y was paired by position, silently
    log = LOG.set_axis(labels)
    X = log.sort_values("timestamp")[["user_id", "item_id"]]
    y = pd.Series(log.clicked.to_numpy(), index=y_labels)
    assert X.assign(weight=y).weight.tolist() == y.loc[X.index].tolist()  # pandas: by label
    with pytest.raises(ValueError, match=SAME):
        _weighted(X, y)


@pytest.mark.parametrize("x_labels, y_labels", [
    (DAYS, pd.Index(DAYS.strftime("%Y-%m-%d"))),  # read_csv without parse_dates: NaN
    (pd.Index(DAYS.strftime("%Y-%m-%d")), DAYS),  # y's dates find X's strings: by label
])
def test_labels_pair_as_pandas_pairs_them(x_labels, y_labels):
    # pandas pairs by y.reindex(X.index): y's index looks up X's labels. X's
    # DatetimeIndex looking up y's date strings raised where pandas gives NaN
    log = LOG.set_axis(x_labels)
    X = log.sort_values("timestamp")[["user_id", "item_id"]]
    order = np.argsort(x_labels)  # y's labels in label order, X's rows sorted by time
    y = pd.Series(log.clicked.to_numpy()[order], index=y_labels[order])
    pairs = bool(X.assign(weight=y).weight.notna().all())  # what this pandas does
    if pairs:
        with pytest.raises(ValueError, match=SAME):
            _weighted(X, y)
    else:
        assert _weighted(X, y) == _weighted(X, y.to_numpy())
