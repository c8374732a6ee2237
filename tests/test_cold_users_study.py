"""The studies beside the page on cold start: benchmarks/cold_users.py (the ceiling of user texts
on protocol D, real MovieLens-100K) and benchmarks/zero_items.py (its count model)."""

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
