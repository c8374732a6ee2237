"""Randomised inputs (hypothesis) through every public estimator.

Interaction frames with int, str and mixed ids, repeated pairs, tied,
missing, naive and time-zone-aware timestamps, huge and zero weights, and
unicode (or empty) texts go through ``fit``, ``recommend``, ``predict``,
``score`` and ``explain``, and for the text-aware models through
``add_items`` and ``user_texts`` given with the call. Each call either
raises a ValueError/TypeError that names the estimator, or gives a result
that holds the invariants: shapes, scores descending, no training item
ahead of an unseen one, finite predictions, NDCG in [0, 1], contributions
that add up to the score, added items scored as a fit with their texts
scores them, and the same answer for the same rows passed as a DataFrame,
a list of rows or an object array (and in any row order when the
timestamps order every row).

Hypothesis draws new examples on every run (its seed is random unless
``--hypothesis-seed`` is given); ``HYPOTHESIS_PROFILE=thorough`` runs ten
times more examples.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from sklearn_zsrec import (
    ALSRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    NextItemRecommender,
    PopularityRecommender,
    TextEncoder,
    ZeroShotRecommender,
)

from sklearn_zsrec._ids import _NUL_MERGES

from ._hypothesis import examples
from ._metric_definitions import metric_by_definition
from ._tiny import tiny_model_path
from ._members import cf_members

INTS = st.integers(-3, 12) | st.sampled_from([2**62, -(2**40)])
# (pandas before 3.1 merges strings that differ after a NUL: such ids are
# refused there, as tests/test_ids.py checks)
STRS = st.text(st.characters(codec="utf-8", exclude_characters="\0" if _NUL_MERGES else ""),
               max_size=3)
IDS = {"int": INTS, "str": STRS, "mixed": INTS | STRS}
# weights users send: none, counts, ratings, zeros, and huge ones that
# models may reject with a clear error
WEIGHTS = (st.sampled_from([0.0, 1.0, 2.0, 5.0]) | st.floats(0, 100) | st.floats(1e30, 3e38)
           | st.floats(1e-300, 1e-30))
TEXTS = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)


@st.composite
def interactions(draw, max_rows=25):
    """``(frame, item_texts, flags)`` of random interactions."""
    ids = IDS[draw(st.sampled_from(sorted(IDS)))]
    n = draw(st.integers(1, max_rows))
    users = draw(st.lists(ids, min_size=n, max_size=n))
    items = draw(st.lists(ids, min_size=n, max_size=n))
    frame = pd.DataFrame({"user_id": pd.Series(users, dtype=object),
                          "item_id": pd.Series(items, dtype=object)})
    times = draw(st.sampled_from([None, "ints", "distinct", "naive", "aware", "missing"]))
    if times is not None:
        if times == "distinct":
            stamps = draw(st.permutations(range(n)))
        else:
            stamps = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
        if times == "missing":
            stamps = [None] + list(stamps[1:])
        frame["timestamp"] = pd.Series(stamps, dtype=object if times == "missing" else None)
        if times in ("naive", "aware"):
            frame["timestamp"] = pd.to_datetime(frame.timestamp, unit="D")
            if times == "aware":
                frame["timestamp"] = frame.timestamp.dt.tz_localize("Asia/Kolkata")
    weighted = draw(st.booleans())
    if weighted:
        frame["weight"] = draw(st.lists(WEIGHTS, min_size=n, max_size=n))
    catalog = pd.unique(frame.item_id.to_numpy())
    extra = draw(st.lists(ids, max_size=3))  # items with a text and no interactions
    catalog = pd.unique(np.concatenate([catalog, np.asarray(extra, dtype=object)]))
    texts = draw(st.lists(TEXTS, min_size=len(catalog), max_size=len(catalog)))
    if draw(st.integers(0, 4)) == 0:  # now and then a missing text
        texts[draw(st.integers(0, len(texts) - 1))] = draw(st.sampled_from(["", "  "]))
    item_texts = pd.Series(texts, index=pd.Index(catalog, dtype=object), dtype=object)
    flags = {
        "valid": times != "missing",
        "texts_valid": all(t.strip() for t in texts),
        "huge": weighted and frame.weight.max() > 1e6,
        "ordered": times == "distinct",
        # a log of impressions only (every weight 0) has no interaction
        "interacted": not weighted or bool((frame.weight > 0).any()),
    }
    return frame, item_texts, flags


def _models(item_texts):
    encoder = TextEncoder(tiny_model_path(), verbose=0)
    text = ZeroShotRecommender(encoder, item_texts=item_texts)
    als = ALSRecommender(factors=2, iterations=2, random_state=0, n_jobs=1)
    return {
        "popularity": PopularityRecommender(),
        "als": als,
        "knn": ItemKNNRecommender(),
        "next": NextItemRecommender(half_life=1.0),
        "zero_shot": text,
        "hybrid": HybridRecommender(text, cf_members(als), random_state=0),
    }


def _as_rows(frame):
    """The same interactions as a list of rows and their weights (``y``)."""
    cols = [c for c in ("user_id", "item_id", "timestamp") if c in frame]
    rows = [list(r) for r in frame[cols].itertuples(index=False)]
    y = frame["weight"].to_numpy() if "weight" in frame else None
    return rows, y


def _fit(model, X, y=None):
    """Fit, or return the error after checking it is a clear one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return clone(model).fit(X, y)
    except (ValueError, TypeError) as exc:
        # the estimator, or the member of the hybrid that failed, is named
        assert any(name in str(exc) for name in OURS), exc
        return exc


def _check_ranking(model, users, n):
    """recommend's invariants for ``users``; returns (ids, scores)."""
    ids, scores = model.recommend(users, n=n, return_scores=True)
    n_items = len(model.items_)
    assert ids.shape == scores.shape == (len(users), min(n, n_items))
    for user, row, score in zip(users, ids, scores):
        finite = np.isfinite(score)
        assert not np.isnan(score).any() and not (score == np.inf).any()
        k = int(finite.sum())
        assert finite[:k].all() and not finite[k:].any()  # -inf only at the tail
        assert np.all(np.diff(score[:k]) <= 1e-6 * (1 + np.abs(score[:k - 1]).max(initial=0)))
        seen = _seen(model, user)
        assert not seen & set(row[:k].tolist()), "a training item ranked ahead"
        # every unseen item comes before any training item
        assert k == min(len(row), n_items - len(seen))
        assert len({(type(i), i) for i in row.tolist()}) == len(row)
        # ties go to the item earlier in the catalog
        position = pd.Index(model.items_).get_indexer(row)
        assert (np.diff(position)[score[1:] == score[:-1]] > 0).all()
    if n > 1:  # one ranking, whatever its length: top-(n - 1) is a prefix of top-n
        np.testing.assert_array_equal(model.recommend(users, n=n - 1), ids[:, :n - 1])
    return ids, scores


def _check_one_score(model, frame, predictions, users, ids, scores):
    """predict, recommend's scores and score_items give one score per (user, item)."""
    matrix = model.score_items(users)
    rows = pd.Index(users).get_indexer(frame.user_id)
    cols = pd.Index(model.items_).get_indexer(frame.item_id)
    np.testing.assert_allclose(predictions, matrix[rows, cols], rtol=1e-5, atol=1e-5)
    finite = np.isfinite(scores)
    top = np.take_along_axis(matrix, pd.Index(model.items_).get_indexer(
        ids.ravel()).reshape(ids.shape), axis=1)
    np.testing.assert_allclose(scores[finite], top[finite], rtol=1e-5, atol=1e-5)


def _check_explain(model, user, top):
    """``explain``: contributions that sum to ``predict``'s score, for the top items."""
    items = [i for i in top.tolist()][:2]
    explanation = model.explain(user, items, max_contributions=2)
    assert list(pd.unique(explanation.item_id)) == items
    pairs = pd.DataFrame({"user_id": [user] * len(items), "item_id": items}, dtype=object)
    expected = model.predict(pairs)
    sums = explanation.groupby("item_id", sort=False).contribution.sum().to_numpy()
    scores = explanation.groupby("item_id", sort=False).score.first().to_numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sums, expected, rtol=1e-4, atol=1e-4 * (1 + np.abs(expected).max()))


def _seen(model, user):
    row = pd.Index(model.users_).get_indexer(np.array([user], dtype=object))[0]
    if row < 0:
        return set()
    start, end = model.user_items_.indptr[row : row + 2]
    return set(model.items_[model.user_items_.indices[start:end]].tolist())


def _run(name, data, new_user):
    frame, item_texts, flags = data
    model = _models(item_texts)[name]
    fitted = _fit(model, frame)
    event("fit raised" if isinstance(fitted, Exception) else "fit ok")
    if not flags["valid"] or (name in ("zero_shot", "hybrid") and not flags["texts_valid"]):
        assert isinstance(fitted, Exception), "invalid input was accepted"
        return
    if not (flags["interacted"] or model._ranks_by_texts):
        # refused, naming it, by the models that rank users by interactions
        assert isinstance(fitted, Exception) and "holds no interaction" in str(fitted), fitted
        return
    if isinstance(fitted, Exception):
        # only weights too large for the model may fail here
        assert flags["huge"], fitted
        return
    users = list(pd.unique(frame.user_id.to_numpy()))
    ranked = frame
    if fitted._ranks_by_interactions:
        # users whose rows all weigh 0 have no interaction: every score is 0,
        # and these models refuse to rank them, as users never seen
        counts = fitted.n_user_interactions_[fitted._rows(np.array(users, dtype=object), "user")]
        empty = [u for u, c in zip(users, counts) if c == 0]
        if empty:
            event("a user with only impressions")
            with pytest.raises(ValueError, match="no interaction in fit"):
                fitted.recommend(empty)
            np.testing.assert_array_equal(fitted.score_items(empty), 0)
            users = [u for u, c in zip(users, counts) if c > 0]
            ranked = frame[pd.Index(users).get_indexer(frame.user_id) >= 0]
            if not users:
                return
    ids, scores = _check_ranking(fitted, users, n=4)
    if fitted._handles_unknown_users:
        _check_ranking(fitted, [new_user], n=3)

    # the same rows as a list of rows and as an object array: the same model
    rows, y = _as_rows(frame)
    for X in (rows, np.array(rows, dtype=object)):
        other = _fit(model, X, y)
        assert not isinstance(other, Exception), other
        np.testing.assert_array_equal(other.users_, fitted.users_)
        np.testing.assert_array_equal(other.items_, fitted.items_)
        other_ids, other_scores = other.recommend(users, n=4, return_scores=True)
        np.testing.assert_array_equal(other_ids, ids)
        np.testing.assert_allclose(other_scores, scores, rtol=1e-5, atol=1e-6)
    if flags["ordered"] and "weight" not in frame:
        shuffled = _fit(model, frame.iloc[::-1])
        np.testing.assert_array_equal(shuffled.recommend(users, n=4), ids)

    predictions = fitted.predict(ranked)
    assert predictions.shape == (len(ranked),) and np.isfinite(predictions).all()
    _check_one_score(fitted, ranked, predictions, users, ids, scores)
    _check_explain(fitted, users[0], ids[0])
    # held out: each user's first catalog item outside their training rows
    held_out = [(u, i) for u in users for i in fitted.items_.tolist()[:1]
                if i not in _seen(fitted, u)]
    if held_out:
        ndcg = fitted.score(pd.DataFrame(held_out, columns=["user_id", "item_id"], dtype=object))
        # score is NDCG@10 of recommend's top-10 against the held-out items,
        # the positions recommend fills with excluded items (-inf) empty
        top, top_scores = fitted.recommend([u for u, _ in held_out], n=10, return_scores=True)
        expected = [metric_by_definition("ndcg", [item], [i if s > -np.inf else None
                                                          for i, s in zip(row, row_scores)], 10)
                    for (_, item), row, row_scores in zip(held_out, top, top_scores)]
        np.testing.assert_allclose(ndcg, np.mean(expected), rtol=1e-12, atol=1e-12)


OURS = ("PopularityRecommender", "ALSRecommender", "ItemKNNRecommender",
        "NextItemRecommender", "ZeroShotRecommender", "HybridRecommender", "TextEncoder")
NEW_USER = st.sampled_from(["never seen", 10**6])


@given(data=interactions(), new_user=NEW_USER)
@settings(max_examples=examples(150))
def test_popularity_on_random_interactions(data, new_user):
    _run("popularity", data, new_user)


@given(data=interactions(), new_user=NEW_USER)
@settings(max_examples=examples(60))
def test_als_on_random_interactions(data, new_user):
    _run("als", data, new_user)


@given(data=interactions(), new_user=NEW_USER)
@settings(max_examples=examples(40))
def test_zero_shot_on_random_interactions(data, new_user):
    _run("zero_shot", data, new_user)


@pytest.mark.parametrize("name", ["knn", "next"])
@given(data=interactions(), new_user=NEW_USER)
@settings(max_examples=examples(60))
def test_item_item_recommenders_on_random_interactions(name, data, new_user):
    _run(name, data, new_user)


@given(data=interactions(max_rows=15), new_user=NEW_USER)
@settings(max_examples=examples(25))
def test_hybrid_on_random_interactions(data, new_user):
    _run("hybrid", data, new_user)


@given(texts=st.lists(TEXTS, min_size=1, max_size=5))
@settings(max_examples=examples(30))
def test_any_unicode_text_encodes_or_is_named_in_a_clear_error(texts):
    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    try:
        out = encoder.transform(texts)
    except ValueError as exc:
        assert "texts" in str(exc), exc
    else:
        assert out.shape == (len(texts), encoder.embedding_dim_)
        assert np.isfinite(out).all()


@pytest.mark.parametrize("text", ["\ud800 lone surrogate", "ok\udfff"])
def test_a_lone_surrogate_is_named_in_the_error(text):
    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    with pytest.raises(ValueError, match=r"not valid UTF-8 .*position"):
        encoder.transform(["fine", text])


class RescaledALS(ALSRecommender):
    """ALS whose fitted user and item factors are multiplied by ``10 ** exponents``, in ``dtype``.

    Its scores are ALS's times one positive number, so their z-scores per
    user, which the hybrid blends, are ALS's.
    """

    def __init__(self, factors=4, *, iterations=3, random_state=0, user_exponent=0,
                 item_exponent=0, dtype="float32", shrunk_user=None, shrink=1.0):
        super().__init__(factors=factors, iterations=iterations, random_state=random_state)
        self.user_exponent = user_exponent
        self.item_exponent = item_exponent
        self.dtype = dtype
        self.shrunk_user = shrunk_user
        self.shrink = shrink

    def _fit(self, data):
        super()._fit(data)
        for attr, exponent in (("user_factors_", self.user_exponent),
                               ("item_factors_", self.item_exponent)):
            values = getattr(self, attr).astype(np.float64) * 10.0 ** exponent
            setattr(self, attr, values.astype(self.dtype))
        # one user's factors times ``shrink`` (a solve that left them ~0)
        self.user_factors_[self.users_ == self.shrunk_user] *= self.shrink
        return self


class RescaledItemKNN(ItemKNNRecommender):
    """Item-kNN whose scores are multiplied by ``10 ** exponent`` (float32, as ``score_items``)."""

    def __init__(self, exponent=0):
        super().__init__()
        self.exponent = exponent

    def _scores(self, rows, users):
        scores = super()._scores(rows, users).astype(np.float64) * 10.0 ** self.exponent
        return scores.astype(np.float32)


def _rescaled_hybrid(blend, score_exponent=0, **als_params):
    from ._data import topic_catalog, topic_interactions

    texts, topics = topic_catalog(items_per_topic=6)
    X = topic_interactions(topics, users_per_topic=5, per_user=4)
    X = X[~X.item_id.isin(texts.index[::7])]  # some items without interactions
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    members = [("cf", RescaledALS(**als_params)), ("knn", RescaledItemKNN(score_exponent)),
               ("next", NextItemRecommender())]
    model = HybridRecommender(text, members, blend=blend, random_state=0, verbose=0).fit(X)
    return model.score_items(model.users_)


@given(blend=st.sampled_from(["learned", "fixed"]), dtype=st.sampled_from(["float32", "float64"]),
       exponents=st.tuples(st.integers(-30, 30), st.integers(-30, 30)) | st.tuples(
           st.integers(-300, 300), st.integers(-300, 300)),
       score_exponent=st.integers(-36, 36))
@settings(max_examples=examples(20))
def test_the_hybrid_does_not_depend_on_the_scale_of_its_members_scores(
        blend, dtype, exponents, score_exponent):
    # a member's scores enter as z-scores per user, so multiplying them by a
    # positive number changes nothing. Factors of 1e-6 once made a factor
    # member's z-scores vanish (a floor on their deviation) and factors of
    # 1e20 overflowed float32, both silently; float64 factors of 1e300
    # raised as if they were infinite
    if dtype == "float32" and max(map(abs, exponents)) > 30:
        exponents = tuple(e // 10 for e in exponents)  # within float32's range
    expected = _rescaled_hybrid(blend)
    scores = _rescaled_hybrid(blend, score_exponent, user_exponent=exponents[0],
                              item_exponent=exponents[1], dtype=dtype)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("blend", ["learned", "fixed"])
def test_factors_negligible_against_the_members_other_users_count_as_zero(blend):
    # ALS left one MovieLens user of a 25% sample factors 1e-12 of the
    # others': their direction is the solve's rounding noise, so the user's
    # ALS terms must be those of factors of 0 (no ranking), not full z-scores
    expected = _rescaled_hybrid(blend, shrunk_user="u3", shrink=0.0)
    scores = _rescaled_hybrid(blend, shrunk_user="u3", shrink=1e-12)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(_rescaled_hybrid(blend), expected, atol=1e-3)  # it matters


@pytest.mark.parametrize("blend", ["learned", "fixed"])
def test_scores_too_small_to_standardise_in_float32_are_scaled_first(blend):
    # scores varying by less than 1e-30 for a user raised (weight / deviation
    # would overflow float32), the package's own too: next-item's, for a user
    # whose weights spanned 1e31, failed a property test's fit at random. They
    # are scaled by a power of two first, and z-scores do not depend on scale
    np.testing.assert_allclose(_rescaled_hybrid(blend, score_exponent=-33),
                               _rescaled_hybrid(blend), rtol=1e-4, atol=1e-4)


@st.composite
def added_items(draw):
    """``(data, new_texts, new_user_text)``: random interactions, then items added by text."""
    data = draw(interactions(max_rows=15))
    # ids that may collide with the catalog's, and fresh ones; any text, and plain words
    new_ids = INTS | STRS | st.integers(10**3, 10**9) | st.from_regex(r"new [a-z]{1,5}",
                                                                       fullmatch=True)
    ids = draw(st.lists(new_ids, min_size=1, max_size=3, unique_by=lambda i: (type(i), i)))
    words = TEXTS | st.from_regex(r"[A-Za-z ]{0,10}[a-z]", fullmatch=True)
    texts = draw(st.lists(words, min_size=len(ids), max_size=len(ids)))
    new_texts = pd.Series(texts, index=pd.Index(ids, dtype=object), dtype=object)
    return data, new_texts, draw(TEXTS)


@pytest.mark.parametrize("name", ["zero_shot", "hybrid"])
@given(drawn=added_items())
@settings(max_examples=examples(30))
def test_items_added_after_fit_and_users_with_call_texts(name, drawn):
    # add_items scores the added items as a fit that had their texts from the
    # start (exactly for the zero-shot model, whose item scores depend on its
    # catalog only through each item's own text); an id already in the
    # catalog raises naming add_items; a user unknown to fit is ranked from
    # the text given with the call
    (frame, item_texts, flags), new_texts, user_text = drawn
    if not (flags["valid"] and flags["texts_valid"]):
        return
    model = _fit(_models(item_texts)[name], frame)
    event("fit raised" if isinstance(model, Exception) else "fit ok")
    if isinstance(model, Exception):
        # only weights too large for the model may fail, or a log of
        # impressions only where the model ranks users by interactions
        assert flags["huge"] or not flags["interacted"], model
        return
    users = list(pd.unique(frame.user_id.to_numpy()))
    known = pd.Index(model.items_).get_indexer(new_texts.index) >= 0
    if not all(t.strip() for t in new_texts):
        with pytest.raises(ValueError, match="item_texts must map every id to a non-empty"):
            model.add_items(new_texts)
        return
    if known.any():
        with pytest.raises(ValueError, match="add_items got .* already in the catalog"):
            model.add_items(new_texts)
        return
    before = model.items_.copy()
    event("items added")
    model.add_items(new_texts)
    assert list(model.items_[:len(before)]) == list(before)
    assert list(model.items_[len(before):]) == list(new_texts.index)
    _check_ranking(model, users, n=4)
    if name == "zero_shot":
        grown = pd.concat([item_texts, new_texts])
        reference = _fit(_models(grown)[name], frame)
        cols = pd.Index(reference.items_).get_indexer(new_texts.index)
        np.testing.assert_allclose(model.score_items(users)[:, len(before):],
                                   reference.score_items(users)[:, cols], rtol=1e-5, atol=1e-5)
    if not user_text.strip():
        with pytest.raises(ValueError, match="user_texts must map every id to a non-empty"):
            model.recommend(["a newcomer"], user_texts={"a newcomer": user_text})
        return
    ids, scores = model.recommend(["a newcomer"], n=3, return_scores=True,
                                  user_texts={"a newcomer": user_text})
    assert ids.shape == scores.shape == (1, min(3, len(model.items_)))
    assert np.isfinite(scores).all() and (np.diff(scores[0]) <= 1e-6).all()
    why = model.explain("a newcomer", ids[0][:2], user_texts={"a newcomer": user_text})
    np.testing.assert_allclose(why.groupby("item_id", sort=False).contribution.sum(),
                               scores[0][:2], rtol=1e-4, atol=1e-4)
    # (an item nothing scores gets explain's own "no contribution" row)
    assert set(why.source) <= {"text neighbours", "user text", "new item offset",
                               "no contribution"}


def _scale_models(texts):
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    return {
        "knn": ItemKNNRecommender(),
        "knn_cosine": ItemKNNRecommender("cosine", half_life=None),
        "next": NextItemRecommender(),
        "zero_shot": text,
        "hybrid": HybridRecommender(text, [("knn", ItemKNNRecommender())], blend="fixed",
                                    weights={"text": 1.0, "knn": 1.0}, verbose=0),
    }


@pytest.mark.parametrize("name", ["knn", "knn_cosine", "next", "zero_shot", "hybrid"])
@given(seed=st.integers(0, 2**16), c=st.sampled_from([1e-13, 1e-30, 1e-46, 1e-60, 1e-200]))
@settings(max_examples=examples(8))
def test_a_users_weights_times_a_constant_keep_their_scores_up_to_that_scale(name, seed, c):
    # exponential time decay of a user long gone (exp(-130) = 3e-57): the
    # item-item models' float32 products scored 0 on every item and ranked
    # the catalog in its order; the text profile's norm had a floor of 1e-12
    # (cosines shrank at 1e-13, popularity at 1e-200) and the hybrid lost
    # the text term. Item-item scores are linear in the user's weights, the
    # text profile and the blend's z-scores do not depend on their scale.
    from ._data import topic_catalog, topic_interactions

    rng = np.random.default_rng(seed)
    texts, topics = topic_catalog(items_per_topic=5, seed=seed % 7)
    X = topic_interactions(topics, users_per_topic=4, seed=seed % 11)
    X["weight"] = rng.integers(1, 5, len(X)).astype(float)
    user = rng.choice(X.user_id.unique())
    model = _scale_models(texts)[name]
    expected = clone(model).fit(X).score_items([user])[0]
    scaled = X.assign(weight=np.where(X.user_id == user, X.weight * c, X.weight))
    fitted = clone(model).fit(scaled)
    got = fitted.score_items([user])[0]
    _check_explain(fitted, user, fitted.recommend([user], n=2)[0])  # sums to the score
    if name.startswith(("knn", "next")):  # up to the user's scale: compare the shapes
        assert got.max() > 0, (name, c)
        expected, got = expected / expected.max(), got / got.max()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
