"""Edges of the cold-start paths that one-line slips changed with every test passing.

Mutation round 7 (the cold-start paths and the contract checks): each test
here failed on its mutant. TF-IDF text models keep them fast; the rules
they pin do not depend on the encoder.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from sklearn_zsrec import HybridRecommender, ZeroShotRecommender

JAZZ = pd.Series({1: "jazz saxophone bebop", 2: "jazz swing club", 3: "space rocket galaxy",
                  4: "space astronaut orbit"})


def _zero_shot(items=JAZZ, encoder=None):
    return ZeroShotRecommender(encoder or TfidfVectorizer(), item_texts=items)


def _topic_log(n_users, n_items, n_topics, boost, length, rng):
    """Users who pick their topic's items ``boost`` + 1 times as often; ``length(u)`` draws."""
    rows = []
    for u in range(n_users):
        pool = [i for i in range(n_items) if i % n_topics == u % n_topics] * boost
        rows += [(u, int(i)) for i in rng.choice(pool + list(range(n_items)), length(u))]
    X = pd.DataFrame(rows, columns=["user_id", "item_id"]).drop_duplicates()
    return X.assign(timestamp=np.arange(len(X)))


# add_items

def test_add_items_refuses_a_mix_of_new_and_known_ids():
    X = pd.DataFrame({"user_id": ["ann", "bob"], "item_id": [1, 3]})
    model = _zero_shot(JAZZ[[1, 2, 3]]).fit(X)
    with pytest.raises(ValueError, match=r"add_items got 1 ids already in the catalog \(e.g. \[2\]"):
        model.add_items({4: "space astronaut orbit", 2: "jazz swing club, remastered"})
    assert model.items_.tolist() == [1, 2, 3]  # unchanged
    assert sorted(model.recommend(["ann"], n=2).ravel().tolist()) == [2, 3]


def test_add_items_of_another_kind_keeps_the_catalogs_ids_exactly():
    # a float id made an int catalog float64: ids past 2**53 came back as
    # other numbers, not in the catalog
    big = 2**53 + 1
    items = pd.Series({big: "jazz saxophone bebop", big + 2: "jazz swing club",
                       5: "space rocket galaxy"})
    X = pd.DataFrame({"user_id": ["ann", "bob"], "item_id": [big, 5]})
    model = _zero_shot(items).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.add_items(pd.Series({4.5: "space astronaut orbit"}))
    top = model.recommend(["ann"], n=1)[0, 0]
    assert top == big + 2 and type(top) is int
    assert set(model.items_.tolist()) == {big, big + 2, 5, 4.5}


def test_a_negative_id_added_to_a_uint64_catalog_stays_negative():
    ids = np.array([1, 2, 2**63 + 5], dtype=np.uint64)
    items = pd.Series(["jazz saxophone bebop", "jazz swing club", "space rocket galaxy"],
                      index=ids)
    X = pd.DataFrame({"user_id": ["ann", "bob"], "item_id": ids[[0, 2]]})
    model = _zero_shot(items).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.add_items(pd.Series(["space astronaut orbit"], index=np.array([-7], np.int64)))
    assert -7 in model.items_.tolist()
    assert -7 in model.recommend(["bob"], n=3).ravel().tolist()


def test_items_added_to_a_hybrid_that_reads_zero_interaction_items_as_tail_are_arrivals():
    # with new_items=None the exposure was refitted instead of grown: the
    # added items were taken as the tail too and never recommended
    rng = np.random.RandomState(0)
    items = pd.Series({i: f"topic{i % 4} thing{i} word{i % 3}" for i in range(62)})
    X = _topic_log(200, 60, 4, 3, lambda u: rng.randint(2, 15), rng)
    model = HybridRecommender(_zero_shot(items), new_items=None, random_state=0,
                              verbose=0).fit(X)
    assert model.new_item_share_ == 0  # items 60 and 61: the tail
    model.add_items({62: "topic2 thing62 word2", 63: "topic3 thing63 word0"})
    assert model.new_item_share_ > 0
    top = model.recommend(np.arange(200), n=10)
    assert np.isin(top, [62, 63]).mean() == pytest.approx(model.new_item_share_, abs=0.01)


@pytest.mark.parametrize("user_texts", [None, {"new": "a jazz fan"}])
def test_exclude_seen_false_keeps_a_users_own_items(user_texts):
    X = pd.DataFrame({"user_id": ["ann", "ann", "bob"], "item_id": [1, 2, 3]})
    model = _zero_shot().fit(X)
    users = ["ann"] if user_texts is None else ["ann", "new"]
    top = model.recommend(users, n=2, exclude_seen=False, user_texts=user_texts)
    assert sorted(top[0].tolist()) == [1, 2]


def test_the_callers_texts_edited_in_place_after_fit_leave_the_model_alone():
    # pandas 2 (the minimums job): the fitted user_texts_ was a view of the
    # caller's Series, so an edit after fit changed the model's answers
    # without a refit (and a later hybrid fit served from the fit memo)
    users = pd.Series({"ann": "jazz fan", "bob": "space fan", "cat": "loves jazz bebop"},
                      dtype=object)
    X = pd.DataFrame({"user_id": ["ann", "bob"], "item_id": [1, 3]})
    model = ZeroShotRecommender(TfidfVectorizer(), item_texts=JAZZ, user_texts=users).fit(X)
    before = model.recommend("cat", n=4)
    users["cat"] = "astronaut orbit rocket"
    assert model.user_texts_["cat"] == "loves jazz bebop"
    np.testing.assert_array_equal(model.recommend("cat", n=4), before)


def test_ids_of_texts_built_on_the_callers_arrays_stay_the_models_after_an_edit():
    # item_texts and user_texts built on id arrays (a catalog's columns): the
    # fitted items_ and user texts' ids were those arrays (pandas 3 and 2), so
    # re-keying the catalog after fit made the model recommend an id it never
    # saw, and serve new users each other's texts
    item_ids = np.array([1, 2, 3, 4])
    user_ids = np.array(["new1", "new2"], dtype=object)
    items = pd.Series(JAZZ.to_numpy(), index=item_ids)
    users = pd.Series(["jazz bebop", "space orbit"], index=user_ids)
    X = pd.DataFrame({"user_id": ["ann", "bob"], "item_id": [1, 3]})
    model = ZeroShotRecommender(TfidfVectorizer(), item_texts=items, user_texts=users).fit(X)
    before = model.recommend(["ann", "new1", "new2"], n=2)
    item_ids[1] = 102
    user_ids[:] = user_ids[::-1]
    assert model.items_.tolist() == [1, 2, 3, 4]
    np.testing.assert_array_equal(model.recommend(["ann", "new1", "new2"], n=2), before)


# ZeroShotRecommender's cosines

def test_profiles_are_unit_length_whatever_the_weights_scale():
    scores = {}
    for weight in (1.0, 1e-170):
        X = pd.DataFrame({"user_id": ["ann", "ann", "bob"], "item_id": [1, 3, 3],
                          "weight": weight})
        model = _zero_shot().fit(X)
        assert np.linalg.norm(model.user_embeddings_, axis=1) == pytest.approx(1.0)
        scores[weight] = model.score_items(["ann"])
    np.testing.assert_allclose(scores[1e-170], scores[1.0], rtol=1e-5)


def test_a_new_users_text_scores_are_cosines_with_an_encoder_that_does_not_normalise():
    X = pd.DataFrame({"user_id": ["ann"], "item_id": [1]})
    model = _zero_shot(JAZZ[[1, 2, 3]], CountVectorizer()).fit(X)
    text = "jazz jazz jazz saxophone saxophone"
    got = model.score_items(["new"], user_texts={"new": text})[0]
    counts = CountVectorizer().fit(JAZZ[[1, 2, 3]])
    items = counts.transform(JAZZ[[1, 2, 3]]).toarray().astype(float)
    user = counts.transform([text]).toarray().astype(float)[0]
    want = items @ user / np.linalg.norm(items, axis=1) / np.linalg.norm(user)
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("fit_texts", [False, True])
def test_a_text_with_no_word_of_the_vocabulary_is_scored_as_no_text_with_a_warning(fit_texts):
    # TF-IDF embeds "hello there" to zeros: every item scored 0, so the
    # catalog's order (worse than popularity, the no-text answer), which
    # explain called "user text"; the hybrid without fit-time texts did the same
    X = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c"], "item_id": [3, 4, 3, 4, 4],
                      "weight": [1.0, 1.0, 1.0, 1.0, 0.0]})  # c: impressions only
    texts = {"c": "hello there"} if fit_texts else None  # c: scored by its fit-time text
    zero_shot = ZeroShotRecommender(TfidfVectorizer(), item_texts=JAZZ, user_texts=texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hybrid = HybridRecommender(clone(zero_shot), blend="fixed", verbose=0).fit(X)
    models = [zero_shot.fit(X)] + ([] if fit_texts else [hybrid])
    call = None if fit_texts else {"c": "hello there"}
    for model in models:
        users = ["c"] if fit_texts else ["new"]
        call_texts = None if call is None else {users[0]: call["c"]}
        with pytest.warns(UserWarning, match=r"texts of 1 users \(e.g. \['(c|new)'\]\) embed "
                                             r"to zeros .* scored by popularity"):
            got = model.recommend(users, n=4, exclude_seen=False, user_texts=call_texts)
        # popularity's order, as for a user without a text (not the catalog's)
        assert got.tolist() == model.recommend(["nobody"], n=4, exclude_seen=False).tolist()
        assert got.tolist() != [[1, 2, 3, 4]]
        with pytest.warns(UserWarning, match="embed to zeros"):
            sources = set(model.explain(users[0], [1, 4], user_texts=call_texts).source)
        assert sources == {"popularity"}


def test_an_item_text_with_no_word_of_the_vocabulary_is_reported_in_fit_and_add_items():
    # it scores 0 by text for every user, in the middle of every ranking
    X = pd.DataFrame({"user_id": ["ann", "bob"], "item_id": [1, 3]})
    items = pd.concat([JAZZ, pd.Series({5: "the and of"})])
    with pytest.warns(UserWarning, match=r"texts of 1 items \(e.g. \[5\]\) embed to zeros"):
        model = _zero_shot(items, TfidfVectorizer(stop_words="english")).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.add_items({6: "jazz club night"})  # a word of the vocabulary: no warning
    with pytest.warns(UserWarning, match=r"texts of 2 items \(e.g. \[7, 8\]\) embed to zeros"):
        model.add_items({7: "opera aria", 8: "tenor", 9: "space opera"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _zero_shot().fit(X)


def test_a_new_users_text_with_no_word_of_the_vocabulary_matches_no_text_neighbour():
    # with fit-time user texts, a text embedding to zeros tied every known user
    # with a text as its neighbour (their items first), without a warning (review)
    X = pd.DataFrame({"user_id": ["a", "a", "b", "b"] + [f"u{i}" for i in range(6)],
                      "item_id": [1, 2, 1, 2] + [3, 4] * 3})
    texts = {"a": "jazz saxophone fan", "b": "jazz swing"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hybrid = HybridRecommender(_zero_shot().set_params(user_texts=texts), blend="fixed",
                                   verbose=0).fit(X)
    call = {"new": "hello there"}
    with pytest.warns(UserWarning, match="embed to zeros"):
        got = hybrid.recommend(["new"], n=4, exclude_seen=False, user_texts=call)
    assert got.tolist() == hybrid.recommend(["nobody"], n=4, exclude_seen=False).tolist()
    with pytest.warns(UserWarning, match="embed to zeros"):
        assert set(hybrid.explain("new", [1, 3], user_texts=call).source) == {"popularity"}
    # a text with a word of theirs still finds them
    assert hybrid.recommend(["new"], n=2, exclude_seen=False,
                            user_texts={"new": "jazz"}).tolist() == [[1, 2]]


class _CountingTfidf(TfidfVectorizer):
    """TF-IDF that records the texts it transforms (a spy on our own logic)."""

    seen = []

    def transform(self, raw_documents):
        _CountingTfidf.seen.extend(raw_documents)
        return super().transform(raw_documents)


_TWO_TASTES = pd.DataFrame({"user_id": ["a", "a", "b", "b"] + [f"u{i}" for i in range(6)],
                            "item_id": [1, 2, 1, 2] + [3, 4] * 3})


def _counting_hybrid():
    """A fixed-blend hybrid over a counting TF-IDF, its count cleared after fit."""
    texts = {"a": "jazz saxophone fan", "b": "jazz swing"}
    zero_shot = ZeroShotRecommender(_CountingTfidf(), item_texts=JAZZ, user_texts=texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hybrid = HybridRecommender(zero_shot, blend="fixed", verbose=0).fit(_TWO_TASTES)
    _CountingTfidf.seen.clear()
    return hybrid


def test_a_new_users_text_is_encoded_once_per_call_on_the_text_neighbour_route():
    # a check for zeros encoded it, the scoring encoded it again
    hybrid = _counting_hybrid()
    got = hybrid.recommend(["new"], n=2, exclude_seen=False, user_texts={"new": "jazz club"})
    assert got.tolist() == [[1, 2]]
    assert _CountingTfidf.seen.count("jazz club") == 1


def test_explain_of_a_new_user_encodes_its_text_once_and_names_its_source():
    # explain encodes it for the contributions and for the score column (as
    # predict); it encoded it once more to name the source, and on the hybrid's
    # popularity route twice more
    hybrid = _counting_hybrid()
    got = hybrid.explain("new", [1, 3], user_texts={"new": "jazz club"})
    assert _CountingTfidf.seen.count("jazz club") == 2
    assert "text neighbours" in set(got.source)
    _CountingTfidf.seen.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the text of no known word is warned about)
        got = hybrid.explain("new", [1, 3], user_texts={"new": "zzz"})
    assert _CountingTfidf.seen.count("zzz") == 4  # ours and the text model's, twice
    assert set(got.source) <= {"popularity", "new item offset"}
    alone = ZeroShotRecommender(_CountingTfidf(), item_texts=JAZZ).fit(_TWO_TASTES)
    _CountingTfidf.seen.clear()
    got = alone.explain("new", [1, 3], user_texts={"new": "jazz club"})
    assert _CountingTfidf.seen.count("jazz club") == 2
    assert set(got.source) == {"user text"}
    np.testing.assert_allclose(got.contribution, alone.score_items(
        ["new"], user_texts={"new": "jazz club"})[0, [0, 2]], rtol=1e-6)


def test_explain_of_a_user_seen_in_fit_ignores_a_call_text_as_scoring_does():
    X = pd.DataFrame({"user_id": ["ann", "bob", "bob", "viewer"], "item_id": [3, 3, 4, 1],
                      "weight": [1.0, 1.0, 1.0, 0.0]})  # viewer: impressions only
    model = _zero_shot().fit(X)
    call = {"viewer": "jazz saxophone"}
    np.testing.assert_array_equal(model.score_items(["viewer"], user_texts=call),
                                  model.score_items(["viewer"]))
    assert (set(model.explain("viewer", [3, 2], user_texts=call).source)
            == set(model.explain("viewer", [3, 2]).source) == {"popularity"})


# new users by their text neighbours

def test_text_neighbours_count_the_neighbours_that_have_an_item_whatever_its_weight():
    # hits count neighbours (docs); summing ratings 1-5 changed the top-5
    rng = np.random.RandomState(0)
    items = pd.Series({i: f"topic{i % 4} item{i}" for i in range(20)})
    rows = [(u, int(i), float(rng.randint(1, 6))) for u in range(40)
            for i in rng.choice(20, 5, replace=False)]
    rated = pd.DataFrame(rows, columns=["user_id", "item_id", "weight"])
    user_texts = pd.Series({u: f"likes topic{u % 4}" for u in range(40)})

    def scores(X):
        text = ZeroShotRecommender(TfidfVectorizer(), item_texts=items, user_texts=user_texts)
        model = HybridRecommender(text, blend="fixed", user_neighbors=10, random_state=0,
                                  verbose=0).fit(X)
        return model.score_items(["new"], user_texts={"new": "likes topic1"})

    np.testing.assert_allclose(scores(rated), scores(rated.assign(weight=1.0)), rtol=1e-6)


def test_users_with_impressions_only_are_neither_text_neighbours_nor_in_the_prior():
    # users shown items who never clicked (all rows of weight 0) were new
    # users' nearest neighbours (a user with no items: every item tied at
    # popularity) and counted as users of the popularity prior
    rng = np.random.RandomState(0)
    items = pd.Series({i: f"topic{i % 4} item{i}" for i in range(20)})
    clicks = pd.DataFrame([(u, int(i), 1.0) for u in range(40)  # items of their topic
                           for i in rng.choice(np.arange(u % 4, 20, 4), 4, replace=False)],
                          columns=["user_id", "item_id", "weight"])
    shown = pd.DataFrame([(u, int(i), 0.0) for u in range(40, 80)
                          for i in rng.choice(20, 3, replace=False)],
                         columns=["user_id", "item_id", "weight"])
    # the never-clicking users' texts match the new users' best
    user_texts = pd.Series({u: f"likes topic{u % 4}" + (" a lot" * (u >= 40))
                            for u in range(80)})
    new = {f"new{t}": f"likes topic{t} a lot" for t in range(4)}

    def fitted(X, n):
        text = ZeroShotRecommender(TfidfVectorizer(), item_texts=items, user_texts=user_texts)
        return HybridRecommender(text, blend="fixed", user_neighbors=n, random_state=0,
                                 verbose=0).fit(X)

    for n in (1, "auto"):
        both = fitted(pd.concat([clicks, shown], ignore_index=True), n)
        alone = fitted(clicks, n)
        assert both.user_neighbors_ == alone.user_neighbors_
        assert both.user_neighbors_smoothing_ == alone.user_neighbors_smoothing_
        np.testing.assert_allclose(both.score_items(list(new), user_texts=new),
                                   alone.score_items(list(new), user_texts=new), rtol=1e-6)
    top = alone.recommend(["new1"], n=4, user_texts=new)[0]
    assert all(i % 4 == 1 for i in top)  # the neighbours' topic


# the quotas of items without interactions

def test_an_item_shown_a_few_times_in_a_log_of_rare_picks_is_an_arrival_not_tail():
    # 1 pair in ~10 is a pick: an item shown to 3 users without a pick goes
    # unpicked that often (0.9**3 = 0.73) at the log's rate, so it is an
    # arrival as items 41-43 (never shown) are: one quota group
    rng = np.random.RandomState(0)
    clicks = pd.DataFrame({"user_id": rng.randint(0, 80, 600),
                           "item_id": rng.randint(0, 40, 600), "weight": 1.0})
    views = pd.DataFrame({"user_id": rng.randint(0, 80, 6000),
                          "item_id": rng.randint(0, 40, 6000), "weight": 0.0})
    fresh = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [40, 40, 40], "weight": 0.0})
    X = pd.concat([clicks, views, fresh], ignore_index=True)
    texts = pd.Series({i: f"topic{i % 5} thing{i} word{i % 3}" for i in range(44)})

    def top(**params):
        model = HybridRecommender(_zero_shot(texts), random_state=0, verbose=0,
                                  **params).fit(X)
        return model.recommend(np.arange(80), n=10)

    np.testing.assert_array_equal(top(), top(new_items=[40, 41, 42, 43]))


def test_a_bin_with_its_own_threshold_holds_the_arrivals_share():
    # users of several history lengths; a fractional share (0.63 of a slot):
    # each bin with enough users has its own threshold, set so that its users
    # hold that share (every user taking the first bin's threshold gave the
    # longest histories none)
    rng = np.random.RandomState(0)
    texts = pd.Series({i: f"topic{i % 5} thing{i} word{i % 3} kind{i % 7}" for i in range(60)})
    X = _topic_log(150, 50, 5, 2, lambda u: [2, 4, 12, 40][u % 4], rng)
    model = HybridRecommender(_zero_shot(texts), new_items=list(range(50, 55)),
                              new_item_exposure=0.63, random_state=0, verbose=0).fit(X)
    share = model.new_item_share_
    assert 0 < share * 10 < 1
    thresholds = np.asarray(model.new_item_thresholds_, dtype=float)[0]
    counts = X.groupby("user_id").size().reindex(np.arange(150)).to_numpy()
    top = model.recommend(np.arange(150), n=10)
    held = np.isin(top, range(50, 55)).sum(axis=1)
    bins = np.searchsorted([3, 10, 30], counts, side="left")
    own = [b for b in np.unique(bins) if (bins == b).sum() >= 50]
    assert own and len(set(thresholds[own])) == len(own)  # its own, not the pooled one
    for b in own:
        users = bins == b
        assert held[users].mean() == pytest.approx(share * 10, abs=1.5 / users.sum())


@pytest.mark.parametrize("share", [0.3 - 0.1, 0.7 - 0.5, 0.1 * 3])
def test_a_share_of_whole_slots_up_to_rounding_gives_every_user_those_slots(share):
    from sklearn_zsrec._hybrid._exposure import quota_offsets

    rng = np.random.RandomState(0)
    old, new = rng.rand(50, 11), rng.rand(50, 11)
    offsets, _ = quota_offsets(old, new, share, 10)
    scores = np.c_[-np.sort(-old, axis=1), -np.sort(-new, axis=1) + offsets[:, None]]
    top = np.argsort(-scores, axis=1)[:, :10]
    assert ((top >= 11).sum(axis=1) == round(share * 10)).all()
