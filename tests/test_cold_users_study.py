"""benchmarks/cold_users.py: the ceiling of user texts on protocol D (real MovieLens-100K)."""

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
