import numpy as np
import pytest

from sklearn_zsrec import PopularityRecommender, TextEncoder, ZeroShotRecommender
from sklearn_zsrec.datasets import make_synthetic_interactions
from sklearn_zsrec.model_selection import train_test_split_last


def test_shapes_dtypes_and_ranges():
    data = make_synthetic_interactions(200, 80, 3000, n_topics=4, random_state=0)
    X = data.interactions
    assert X.columns.tolist() == ["user_id", "item_id", "timestamp"]
    assert X.dtypes.tolist() == [np.int32, np.int32, np.int64]
    assert len(X) == 3000 and not X.duplicated(["user_id", "item_id"]).any()
    assert X.user_id.between(0, 199).all() and X.item_id.between(0, 79).all()
    assert X.timestamp.is_monotonic_increasing
    assert data.item_text.index.tolist() == list(range(80))
    assert data.user_text.index.tolist() == list(range(200))
    assert data.item_text.map(lambda t: len(t.split(": ")[1].split())).eq(6).all()
    assert data.item_topic.shape == (80,) and data.user_topic.shape == (200,)
    assert set(data.item_topic) <= set(range(4)) and len(data.topics) == 4


def test_reproducible_and_seed_dependent():
    a = make_synthetic_interactions(100, 50, 1000, random_state=3)
    b = make_synthetic_interactions(100, 50, 1000, random_state=3)
    c = make_synthetic_interactions(100, 50, 1000, random_state=4)
    assert a.interactions.equals(b.interactions) and a.item_text.equals(b.item_text)
    assert not a.interactions.equals(c.interactions)


def test_numpy_integer_sizes_give_the_same_data():
    # n_users * n_items overflowed in numpy's small ints (uint8: 64 rows of 100)
    a = make_synthetic_interactions(200, 200, 100, random_state=0)
    for kind in (np.uint8, np.int32):
        b = make_synthetic_interactions(kind(200), kind(200), kind(100), random_state=0)
        assert b.interactions.equals(a.interactions)


def test_users_prefer_their_topic_and_popularity_is_long_tailed():
    data = make_synthetic_interactions(500, 400, 20000, n_topics=5, random_state=0)
    X = data.interactions
    same = data.item_topic[X.item_id] == data.user_topic[X.user_id]
    assert 0.6 < same.mean() < 0.9  # 80% by construction, less where repeats
    counts = np.sort(X.item_id.value_counts().to_numpy())[::-1]
    assert counts[: len(counts) // 10].sum() > 0.2 * counts.sum()  # top 10%


def test_small_catalog_gives_fewer_rows():
    data = make_synthetic_interactions(3, 4, 100, n_topics=2, random_state=0)
    assert len(data.interactions) <= 12


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_topics": 21}, "'n_topics' parameter .* range \\[1, 20\\]"),
        ({"n_users": 0}, "'n_users' parameter"),
        ({"words_per_text": 0}, "'words_per_text' parameter"),
    ],
)
def test_bad_parameters_raise(params, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_interactions(**params)


def test_text_carries_signal_about_users():
    # real MiniLM: zero-shot from item texts alone beats random ranking
    # (NDCG@10 about 0.03) by far on each user's held-out last item
    data = make_synthetic_interactions(300, 200, 3000, n_topics=5, random_state=0)
    train, test = train_test_split_last(data.interactions)
    text = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=data.item_text)
    ndcg = text.fit(train).score(test)

    class Random(PopularityRecommender):
        def _scores(self, rows, users):
            rng = np.random.RandomState(0)
            return rng.rand(len(rows), len(self.items_)).astype(np.float32)

    chance = Random().fit(train).score(test)
    assert ndcg > 2.5 * chance, (ndcg, chance)


def test_a_topic_after_an_empty_first_topic_gets_its_users():
    # with topic 0 empty, topic 1's popularity range started at the whole
    # catalog's total: its items were never drawn, its users never got them
    data = next(d for d in (make_synthetic_interactions(5000, 40, 4000, n_topics=20,
                                                        random_state=seed) for seed in range(100))
                if (d.item_topic == 0).sum() == 0 and (d.item_topic == 1).sum() > 0)
    X = data.interactions
    mine = data.user_topic[X.user_id] == 1
    assert mine.any()
    assert np.mean(data.item_topic[X.item_id[mine]] == 1) > 0.5


@pytest.mark.parametrize("shape", [(1000, 500, 400_000), (20, 10, 200), (100, 50, 5000)])
def test_dense_requests_give_the_rows_asked_for(shape):
    # 20 rounds of redrawing repeats left 399,352 of 400,000 rows (190 of
    # 200 on 20 x 10) without a word; the rest come from the pairs not drawn
    rows = make_synthetic_interactions(*shape, random_state=0).interactions
    assert len(rows) == shape[2]
    assert not rows.duplicated(["user_id", "item_id"]).any()


def test_a_request_beyond_the_catalog_gives_every_pair_at_once():
    # 10**8 rows of a 10 x 10 catalog allocated 1.25e8 draws first (MemoryError)
    rows = make_synthetic_interactions(10, 10, 10**8, random_state=0).interactions
    assert len(rows) == 100


@pytest.mark.parametrize("name", ["n_users", "n_items", "n_interactions", "n_topics",
                                  "words_per_text"])
def test_a_bool_is_not_a_count(name):
    with pytest.raises(TypeError, match=f"'{name}' parameter .* \\(not a bool\\)\\. Got True"):
        make_synthetic_interactions(**{name: True})


def test_the_cut_to_n_interactions_falls_on_no_user_in_particular():
    # each round draws more pairs than asked and keeps the first; keeping
    # the lowest pairs instead (user-major) cut the highest user ids, several
    # to no row, with the row count still right (a mutation hunt)
    rows = 0
    for seed in range(5):
        X = make_synthetic_interactions(1000, 500, 20_000, random_state=seed).interactions
        assert len(X) == 20_000
        rows += int((X.user_id >= 995).sum())
    # five users of a thousand, five seeds: 500 rows expected (545 drawn; 37 when cut so)
    assert rows > 250, rows
