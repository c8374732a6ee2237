"""The studies beside the page on cold start: benchmarks/cold_users.py (the ceiling of user texts
on protocol D, real MovieLens-100K), benchmarks/zero_items.py (its count model) and
benchmarks/new_item_recall.py (its recall of new items in fixed slots)."""

import json

from benchmarks import cold_users


def test_group_reads_movielens_user_texts():
    assert cold_users._group("24 year old male, technician") == ("male", "technician", 2)
    assert cold_users._group("53 year old female, other occupation") == (
        "female", "other occupation", 5)
    assert cold_users._group("no demographics here") is None


def test_the_study_writes_its_page_with_ceilings_at_least_as_good_as_popularity(tmp_path):
    summary = cold_users.run(tmp_path, log=lambda *_: None)
    rows = summary["rows"]
    popularity = rows["Popularity"]["NDCG@10"]
    # chosen on the test users, each family can always fall back to (about) popularity
    for name, row in rows.items():
        assert row["NDCG@10"] >= popularity - 0.01, name
    page = (tmp_path / "ml-100k-cold-users.md").read_text()
    assert "Text neighbours, best of the grid on the test users" in page
    assert json.loads((tmp_path / "ml-100k-cold-users.json").read_text())["cold_users"] == 189


def test_negative_binomial_zeros_recovers_the_zeros_of_its_own_distribution():
    import numpy as np

    from benchmarks.zero_items import negative_binomial_zeros

    rng = np.random.default_rng(0)
    counts = rng.negative_binomial(0.8, 0.8 / (0.8 + 5.0), size=20_000)  # k 0.8, mean 5
    zeros = (counts == 0).sum()
    assert abs(negative_binomial_zeros(counts[counts > 0]) - zeros) < 0.1 * zeros


def test_new_items_in_fixed_slots_are_counted_per_user():
    import numpy as np

    from benchmarks.new_item_recall import slots_recall

    scores = np.array([[0.9, 0.8, 0.1, 0.5],
                       [0.1, 0.2, 0.3, 0.4],
                       [0.3, 0.2, 0.1, 0.0]])
    relevant = np.array([[False, True, False, True],
                         [True, False, False, False],
                         [False, False, True, True]])
    seen = np.zeros_like(relevant)
    seen[0, 0] = True  # user 0 may not get its best-scored item: slots go to 1, then 3
    # user 0: 2 slots, items 1 and 3, both relevant; user 1: 3 slots, items 3, 2, 1,
    # its relevant item 0 missed; user 2: 1 slot, item 0, none of its two
    np.testing.assert_allclose(slots_recall(scores, np.array([2, 3, 1]), relevant, seen),
                               [1.0, 0.0, 0.0])
    np.testing.assert_allclose(slots_recall(scores, np.array([1, 4, 4]), relevant, seen),
                               [0.5, 1.0, 1.0])
