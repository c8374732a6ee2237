"""Fast paths give the results of the plain computations they replace."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sklearn_zsrec import (
    ALSRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    TextEncoder,
    ZeroShotRecommender,
)
from sklearn_zsrec._scores import _chunk_size, _put_columns, _seen_positions
from sklearn_zsrec._hybrid._exposure import best_old_and_new

from ._data import topic_catalog, topic_interactions
from ._reference import plain_hybrid_scores
from ._tiny import tiny_model_path
from ._members import cf_members

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=5)
# items 0..3 of each topic nobody touched: not in the CF model's catalog
COLD = X.item_id.isin(ITEM_TEXTS.index[::10])
X_PART = X[~COLD]
WARM_TEXTS = ITEM_TEXTS.loc[np.sort(X.item_id.unique())]  # every item interacted


def _hybrid(texts=ITEM_TEXTS, **params):
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    als = ALSRecommender(factors=8, iterations=10, random_state=0)
    return HybridRecommender(text, cf_members(als), **params)


def _same_topk_sets(a_ids, a_scores, b_ids, b_scores, tol=1e-4):
    """Top-k sets agree, except items tied within ``tol`` at the cut-off."""
    np.testing.assert_allclose(a_scores, b_scores, rtol=tol, atol=tol)
    for ia, sa, ib in zip(a_ids, a_scores, b_ids):
        clear = sa > sa[-1] + tol  # strictly above the k-th score
        assert set(ia[clear]) <= set(ib), (ia, ib)


@pytest.mark.parametrize(
    "data, params",
    [
        (X, {"texts": WARM_TEXTS, "random_state": 0}),
        (X_PART, {"random_state": 0}),
        (X_PART, {"blend": "fixed"}),
        (X_PART, {"blend": "fixed", "switch": 0, "item_switch": 0}),
        (X_PART, {"switch": 50.0, "item_switch": 0.5, "random_state": 1}),
    ],
    ids=["all-items-warm", "cold-items", "fixed", "zero-switches", "other-switches"],
)
def test_hybrid_scores_equal_the_plain_blend(data, params):
    model = _hybrid(**params).fit(data)
    assert (len(model.named_members_.cf.items_) == len(model.items_)) == (data is X)
    if params.get("blend") == "fixed":  # text and the CF member, gated
        expected = np.zeros(len(model.terms_))
        expected[[model.terms_.index("text_gated"), model.terms_.index("cf_gated")]] = 1
        np.testing.assert_array_equal(model.coef_, np.tile(expected, (len(model.coef_), 1)))
    users = np.r_[data.user_id.unique(), ["new-1", "new-2"]]  # warm and cold
    for subset in (users, users[:-2], users[-2:]):
        rows = model._rows(subset, "user")
        fast = model._scores(rows, subset)
        assert fast.dtype == np.float32
        _assert_equal_to_the_plain_blend(model, rows, subset, fast)


def _plain_with_the_new_item_offsets(model, rows, users, fast):
    """The plain blend, each user's new items shifted as in ``fast`` (checked alike)."""
    plain = plain_hybrid_scores(model, rows, users)
    if model.new_item_thresholds_ is not None:
        # each known user's new items are shifted alike, by the offset that
        # gives them their share of its top-10 (tested in test_hybrid_fit.py)
        new = model.n_item_interactions_ == 0
        shift = (fast - plain)[:, new]
        np.testing.assert_allclose(shift, shift[:, :1] + 0 * shift, rtol=1e-5, atol=1e-4)
        plain[:, new] += shift[:, :1]
    return plain


def _assert_equal_to_the_plain_blend(model, rows, users, fast):
    plain = _plain_with_the_new_item_offsets(model, rows, users, fast)
    # float32 against float64 over a sum of up to 11 z-scored terms
    np.testing.assert_allclose(fast, plain, rtol=1e-5, atol=1e-4)


def test_hybrid_with_a_cf_model_without_factors_equals_the_plain_blend():
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS)
    model = HybridRecommender(text, cf_members(PopularityRecommender()), random_state=0).fit(X_PART)
    assert not model._blend.fitted.factors  # no member with factors
    users = X_PART.user_id.unique()
    rows = model._rows(users, "user")
    _assert_equal_to_the_plain_blend(model, rows, users, model._scores(rows, users))


def test_knn_dense_path_equals_the_sparse_product(monkeypatch):
    from sklearn_zsrec import ItemKNNRecommender, _history

    model = ItemKNNRecommender().fit(X_PART)
    dense = model.score_items(model.users_)
    monkeypatch.setattr(_history, "DENSE_ITEMS", 0)
    sparse = ItemKNNRecommender().fit(X_PART).score_items(model.users_)
    assert dense.dtype == sparse.dtype == np.float32
    np.testing.assert_allclose(dense, sparse, rtol=1e-5, atol=1e-6)
    assert (sparse != 0).any()


def test_pickled_hybrid_rebuilds_its_blend_cache():
    import pickle

    model = _hybrid(random_state=0).fit(X_PART)
    users = X_PART.user_id.unique()
    before = model.recommend(users, n=5)
    assert model._blend.fitted.cache  # filled by recommend
    loaded = pickle.loads(pickle.dumps(model))
    assert not loaded._blend.fitted.cache
    np.testing.assert_array_equal(loaded.recommend(users, n=5), before)


def _top_k(scores, k):
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def test_hybrid_recommend_equals_plain_topk():
    model = _hybrid(random_state=0).fit(X_PART)
    users = np.r_[X_PART.user_id.unique(), ["new"]]
    rows = model._rows(users, "user")
    plain = _plain_with_the_new_item_offsets(model, rows, users, model._scores(rows, users))
    for row, user in enumerate(users):
        if user in model.users_:
            seen = model._rows(X_PART.item_id[X_PART.user_id == user], "item")
            plain[row, seen] = -np.inf
    idx, val = _top_k(plain, 10)
    ids, scores = model.recommend(users, n=10, return_scores=True)
    _same_topk_sets(ids, scores, model.items_[idx], val)


def test_als_recommend_equals_brute_force_numpy():
    als = ALSRecommender(factors=8, iterations=10, random_state=0).fit(X)
    users = als.users_
    scores = als.user_factors_.astype(np.float64) @ als.item_factors_.T.astype(np.float64)
    dense = als.user_items_.toarray() > 0
    scores[dense] = -np.inf
    idx, val = _top_k(scores, 10)
    ids, got = als.recommend(users, n=10, return_scores=True)
    _same_topk_sets(ids, got, als.items_[idx], val.astype(np.float32))
    for user, row in zip(users, ids):
        assert not set(row) & set(X.item_id[X.user_id == user])


@pytest.mark.parametrize(
    "model",
    [PopularityRecommender(), ALSRecommender(factors=8, iterations=10, random_state=0), _hybrid()],
    ids=lambda m: type(m).__name__,
)
def test_topk_does_not_depend_on_batch_size(model):
    model = clone(model).fit(X_PART)
    users = X_PART.user_id.unique()
    ids, scores = model.recommend(users, n=7, return_scores=True)
    for batch_size in (1, 3, 16, len(users), 10_000):
        other, other_scores = model.recommend(
            users, n=7, return_scores=True, batch_size=batch_size
        )
        _same_topk_sets(other, other_scores, ids, scores)
        assert len(other) == len(users)


def test_seen_positions_are_the_csr_entries():
    import scipy.sparse as sp

    rng = np.random.RandomState(0)
    matrix = sp.random(30, 20, density=0.2, format="csr", random_state=rng)
    matrix.sort_indices()
    # repeated and unordered rows; consecutive ones (read as one slice), also
    # with a row of no entries, and one row
    matrix = (sp.diags((np.arange(30) != 7).astype(float)) @ matrix).tocsr()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    for rows in ([5, 0, 29, 5, 12], [4, 5, 6, 7, 8], [4, 6, 5], [28, 29], [7], [3]):
        rows = np.array(rows)
        local, cols = _seen_positions(matrix, rows)
        assert list(local) == sorted(local)
        got = np.zeros((len(rows), 20), dtype=bool)
        got[local, cols] = True
        np.testing.assert_array_equal(got, matrix[rows].toarray() != 0)
    empty = _seen_positions(matrix, np.zeros(0, dtype=np.int64))
    assert empty[0].size == empty[1].size == 0


def test_default_batch_size_holds_about_2mb_of_scores():
    assert _chunk_size(None, 1682) == 2 * 2**20 // (4 * 1682)  # 311 users
    assert _chunk_size(None, 10**9) == 64  # at least 64 users
    assert _chunk_size(5, 1682) == 5


def test_users_are_split_into_chunks_of_equal_size():
    # the default: the nearest number of ~2 MB chunks (943 = 3 x 311 + 10)
    assert _chunk_size(None, 1682, 943) == 315
    assert _chunk_size(None, 1682, 10) == 10
    assert _chunk_size(None, 1682, 467) == 234  # 1.5 chunks: two
    # a batch_size is a bound: its number of chunks, evened out
    assert _chunk_size(311, 1682, 943) == 236
    assert _chunk_size(5, 1682, 11) == 4
    assert _chunk_size(5, 1682, 5) == 5
    # the default's 64-user floor holds after evening out (1000 / 16 chunks = 63)
    assert _chunk_size(None, 10**6, 1000) == 64
    assert _chunk_size(None, 10**6, 40) == 40


@pytest.mark.parametrize("model", [PopularityRecommender(), _hybrid()],
                         ids=lambda m: type(m).__name__)
def test_score_items_does_not_depend_on_batch_size(model):
    # one chunk returns the model's own array; several are copied into one
    model = clone(model).fit(X_PART)
    users = X_PART.user_id.unique()
    scores = model.score_items(users)
    for batch_size in (1, 3, len(users)):
        np.testing.assert_allclose(model.score_items(users, batch_size=batch_size), scores,
                                   rtol=1e-5, atol=1e-5)
    scores[:] = 0.0  # the caller owns it: the model's state is untouched
    assert np.abs(model.score_items(users)).sum() > 0


@pytest.mark.parametrize(
    "model",
    [ALSRecommender(factors=8, iterations=10, random_state=0), ItemKNNRecommender()],
    ids=lambda m: type(m).__name__,
)
def test_predict_over_several_chunks_equals_score_items_user_by_user(model, monkeypatch):
    # a mutation hunt: predict's bookkeeping of chunks of users was never run
    # with more than one chunk (2 MB of scores: thousands of users on the
    # tests' catalogs), and three slips in it (an IndexError, or 148 of 300
    # wrong scores) passed every test. Our own logic: chunks of 2 users
    from sklearn_zsrec import _scores

    model = clone(model).fit(X_PART)
    monkeypatch.setattr(_scores, "_CHUNK_BYTES", 1)
    monkeypatch.setattr(_scores, "_CHUNK_MIN_USERS", 2)
    rng = np.random.RandomState(0)
    users = rng.permutation(model.users_)[:7]
    assert _chunk_size(None, len(model.items_), len(users)) == 2  # 4 chunks
    cols = rng.randint(0, len(model.items_), 40)
    pairs = pd.DataFrame({"user_id": users[rng.randint(0, len(users), 40)],  # interleaved
                          "item_id": model.items_[cols]})
    expected = [model.score_items(u)[c] for u, c in zip(pairs.user_id, cols)]  # one user at a time
    np.testing.assert_allclose(model.predict(pairs), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True])
def test_bad_batch_size_raises(bad):
    model = PopularityRecommender().fit(X)
    with pytest.raises(ValueError, match="PopularityRecommender: batch_size must be a positive int .* got"):
        model.recommend(["u0"], batch_size=bad)


def test_blend_selection_gives_the_same_blend_with_terms_kept_or_recomputed(monkeypatch):
    from sklearn_zsrec._hybrid import _learn

    kept = _hybrid(random_state=0).fit(X_PART)
    monkeypatch.setattr(_learn, "KEEP_TERMS_FLOATS", 0)  # always computed again
    recomputed = _hybrid(random_state=0).fit(X_PART)
    np.testing.assert_array_equal(kept.coef_, recomputed.coef_)
    np.testing.assert_array_equal(kept.blend_validation_ndcg_, recomputed.blend_validation_ndcg_)


def test_put_columns_is_numpy_fancy_indexing():
    rng = np.random.RandomState(0)
    base = rng.rand(7, 11).astype(np.float32)
    cols = np.array([9, 0, 4])  # unordered
    values = rng.rand(7, 3).astype(np.float32)
    want = base.copy()
    want[:, cols] = values
    got = base.copy()
    assert _put_columns(got, cols, values) is got
    np.testing.assert_array_equal(got, want)
    want[:, cols] = -np.inf
    np.testing.assert_array_equal(_put_columns(got, cols, -np.inf), want)
    offset = rng.rand(7, 1).astype(np.float32)
    want, got = base.copy(), base.copy()
    want[:, cols] += offset
    np.testing.assert_array_equal(_put_columns(got, cols, offset, add=True), want)
    want[:, cols] += 2.0  # a scalar added, not filled in
    np.testing.assert_array_equal(_put_columns(got, cols, 2.0, add=True), want)
    np.testing.assert_array_equal(_put_columns(got, cols[:0], 1.0), want)  # no column
    with pytest.raises(TypeError, match="np.flatnonzero"):
        _put_columns(got, np.arange(11) < 3, 0.0)  # a mask, not positions
    with pytest.raises(ValueError, match="read-only"):
        _put_columns(_read_only(base), cols, 0.0)
    reversed_view = values[:, ::-1]  # a layout torch cannot view
    want[:, cols] = reversed_view
    np.testing.assert_array_equal(_put_columns(got, cols, reversed_view), want)


@pytest.mark.parametrize("n_new", [0, 3, 12, 20])
def test_best_old_and_new_are_each_sides_largest_scores(n_new):
    rng = np.random.RandomState(n_new)
    score = rng.rand(6, 20).astype(np.float32)
    score[0, :5] = -np.inf  # excluded items
    new = np.zeros(20, dtype=bool)
    new[rng.permutation(20)[:n_new]] = True
    old_top, new_top = best_old_and_new(score, new, 11)
    for top, side in ((old_top, ~new), (new_top, new)):
        want = -np.sort(-score[:, side], axis=1)[:, :min(11, side.sum())]
        np.testing.assert_array_equal(top, want)  # best first


def _read_only(array):
    array = array.copy()
    array.flags.writeable = False
    return array


# Rules of the blend that a one-line slip changed with every other test
# passing (a mutation hunt): each pinned here against an independent statement.

def test_history_bins_put_each_edge_in_the_lower_bin():
    # the bins are 1-3, 4-10, 11-30 and >30 interactions (docs/blend.md);
    # side="right" scored users of exactly 3, 10 or 30 with the next bin's blend
    from types import SimpleNamespace

    from sklearn_zsrec._hybrid._blend import Blend, bin_labels

    counts = np.array([1, 2, 3, 4, 10, 11, 30, 31, 500])
    blend = SimpleNamespace(fitted=SimpleNamespace(n_users=counts))
    bins = Blend.bins(blend, np.arange(len(counts)))
    np.testing.assert_array_equal(bins, [0, 0, 0, 1, 1, 2, 2, 3, 3])
    assert list(bin_labels()) == ["1-3", "4-10", "11-30", ">30"]


def test_combine_keeps_a_term_that_is_zero_for_some_users_only():
    # per-bin choices give users of one chunk different zero coefficients;
    # a term skipped unless every user had it lost it for all of them
    from sklearn_zsrec._hybrid._blend import Blend

    rng = np.random.default_rng(0)
    terms = [rng.normal(size=(6, 5)).astype(np.float32) for _ in range(4)]
    coef = rng.normal(size=(6, 4))
    coef[rng.random(coef.shape) < 0.4] = 0.0
    coef[:, 2] = 0.0  # a term no user has
    expected = sum(coef[:, k, None] * terms[k] for k in range(4))
    np.testing.assert_allclose(Blend.combine(terms, coef), expected, rtol=1e-5, atol=1e-5)


def test_standardize_gives_each_row_mean_0_and_population_std_1():
    from sklearn_zsrec._hybrid._blend import standardize

    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=(5, 7))
    expected = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)  # ddof=0
    np.testing.assert_allclose(standardize(x.copy()), expected, rtol=1e-12, atol=1e-12)
    mask = np.array([True, False, True, True, False, True, True])
    part = x[:, mask]
    expected = (x - part.mean(axis=1, keepdims=True)) / part.std(axis=1, keepdims=True)
    np.testing.assert_allclose(standardize(x.copy(), mask), expected, rtol=1e-12, atol=1e-12)


def test_a_users_text_gate_does_not_depend_on_the_others_in_its_batch():
    # the gate 1 - a(u) b(i) of the text on warm items was skipped for a
    # whole batch once one of its users had a(u) = 0 (a mutant, a.all() for
    # a.any(), survived): fit scores such users, with only impressions, for
    # the new items' exposure, which then moved silently
    texts, topics = topic_catalog()
    X = topic_interactions(topics, per_user=5).assign(weight=1.0)
    rng = np.random.default_rng(0)
    shown = pd.DataFrame({"user_id": [f"shown-{i}" for i in range(6) for _ in range(3)],
                          "item_id": rng.choice(X.item_id.unique(), 18), "weight": 0.0,
                          "timestamp": X.timestamp.max()})
    X = pd.concat([X, shown], ignore_index=True)
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    model = HybridRecommender(text, [("cf", ALSRecommender(factors=8, iterations=10,
                                                         random_state=0))],
                              blend="fixed", weights={"text": 1.0, "cf": 1.0},
                              verbose=0).fit(X)
    assert model.coef_[:, model.terms_.index("text_gated")].all()  # the switch: a gated text
    blend, users = model._blend, np.r_[X.user_id.unique()[:5], shown.user_id.unique()[:2]]
    rows = model._user_rows(users)
    assert (model.n_user_interactions_[rows[-2:]] == 0).all()  # a(u) = 0 for the last two
    coef = blend.per_user(model.coef_, rows)
    together = blend.scores(rows, users, coef)
    for k in range(len(rows)):
        alone = blend.scores(rows[k:k + 1], users[k:k + 1], coef[k:k + 1])
        np.testing.assert_allclose(together[k], alone[0], rtol=1e-5, atol=1e-6)
