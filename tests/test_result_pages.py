"""The committed result pages agree with each other: studies beside the page ran on its models."""

import json
import shutil
from pathlib import Path

import pytest

from benchmarks._ml_report import tuning_digest, write_report

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
# the studies that build their models from the main page's tuned parameters
# (or read its figures): each must have run beside the committed page
STUDIES = ("stability", "blend-weights", "cold-users", "growth-samples")


def _page():
    return json.loads((RESULTS / "ml-100k.json").read_text())


@pytest.mark.parametrize("study", STUDIES)
def test_the_committed_studies_ran_on_the_committed_pages_tuned_models(study):
    recorded = json.loads((RESULTS / f"ml-100k-{study}.json").read_text()).get(
        "main_page_tuning")
    assert recorded == tuning_digest(_page()), (
        f"ml-100k-{study} was computed beside a main page of other tuned parameters: rerun "
        f"`python -m benchmarks.{study.replace('-', '_')}` (and then the main page, which "
        "reads the cold-users study)")


def test_the_digest_follows_the_tuned_parameters_only():
    page = _page()
    other = json.loads(json.dumps(page))
    other["meta"]["seconds"] = 0.0  # the run's other records do not count
    variant = next(name for name, t in other["tuning"].items() if not t["candidates"])
    other["tuning"][variant]["best"]["fine_tune"] = "a directory of another run"
    assert tuning_digest(other) == tuning_digest(page)
    # the peers' rows (read from their own file, in no study) do not count:
    # stale, missing or retuned peers leave the studies beside the page
    peers = [name for name, t in other["tuning"].items() if t.get("library")]
    assert peers
    other["tuning"][peers[0]]["best"] = {"lr": "another value"}
    assert tuning_digest(other) == tuning_digest(page)
    for name in peers:
        del other["tuning"][name]
    assert tuning_digest(other) == tuning_digest(page)
    name = next(name for name, t in other["tuning"].items() if t["candidates"])
    other["tuning"][name]["best"] = {"a parameter": "another value"}
    assert tuning_digest(other) != tuning_digest(page)


def test_the_page_leaves_out_a_cold_user_ceiling_of_other_tuned_models(tmp_path):
    page = _page()
    shutil.copy(RESULTS / "ml-100k-cold-users.json", tmp_path)
    write_report(page, tmp_path)
    assert "ceiling (text neighbours" in (tmp_path / "ml-100k.md").read_text()
    study = json.loads((tmp_path / "ml-100k-cold-users.json").read_text())
    study["main_page_tuning"] = "0" * 16
    (tmp_path / "ml-100k-cold-users.json").write_text(json.dumps(study))
    write_report(page, tmp_path)
    text = (tmp_path / "ml-100k.md").read_text()
    assert "ceiling (text neighbours" not in text
    assert "no ceiling of this page's tuned models" in text


def test_growth_samples_compares_the_models_sample_by_sample():
    import numpy as np

    from benchmarks.growth_samples import HYBRID, NONE, summarise_p

    # three samples of different sizes; popularity is 0.01 ahead of the
    # hybrid on each, whatever the sample's own level
    levels, sizes = (0.02, 0.05, 0.03), (4, 6, 5)
    per_user = {HYBRID: [np.full(n, x) for x, n in zip(levels, sizes)],
                NONE: [np.full(n, x + 0.01) for x, n in zip(levels, sizes)],
                "Popularity": [np.full(n, x + 0.01) + np.linspace(-0.001, 0.001, n) * k
                               for k, (x, n) in enumerate(zip(levels, sizes))]}
    row = summarise_p(per_user)
    assert row["per_sample"][HYBRID] == [0.02, 0.05, 0.03]
    # the pooled mean weighs users, as the main page does
    assert row["pooled"][HYBRID] == round((0.02 * 4 + 0.05 * 6 + 0.03 * 5) / 15, 4)
    lead = row["leads"][f"Popularity over {HYBRID}"]
    assert lead["mean"] == 0.01
    # the sample-to-sample level does not enter the paired standard error
    assert lead["se"] < 1e-3
    assert row["leads"][f"Popularity over {NONE}"]["mean"] == 0.0


def test_the_page_leaves_out_a_ceiling_encoded_in_another_precision(tmp_path):
    # a study run on another machine, whose text encoder ran in bfloat16,
    # was read beside a float32 page as its ceiling
    page = _page()
    precision = page["meta"]["encoder_precision"]
    other = "float32" if precision == "bfloat16" else "bfloat16"
    study = json.loads((RESULTS / "ml-100k-cold-users.json").read_text())
    study["environment"] = {"date": "2026-12-04 00:00 UTC", "machine": "Some CPU, 2 cores",
                            "git_commit": "abc1234", "encoder_precision": other}
    (tmp_path / "ml-100k-cold-users.json").write_text(json.dumps(study))
    write_report(page, tmp_path)
    assert "ceiling (text neighbours" not in (tmp_path / "ml-100k.md").read_text()
    study["environment"]["encoder_precision"] = precision
    (tmp_path / "ml-100k-cold-users.json").write_text(json.dumps(study))
    write_report(page, tmp_path)
    text = (tmp_path / "ml-100k.md").read_text()
    assert "ceiling (text neighbours" in text
    assert "computed on Some CPU, 2 cores, 2026-12-04 00:00 UTC, code abc1234" in text


def test_target_rows_name_the_models_and_peers_that_did_not_run(tmp_path):
    # the B verdicts were computed without LightFM with item features, and
    # "(peers included)" was printed whether or not the peers' rows were read
    page = _page()
    write_report(page, tmp_path)
    rows = {line.split(" | ")[0]: line for line in (tmp_path / "ml-100k.md").read_text()
            .splitlines() if line.startswith("| B ") or line.startswith("| A:")}
    floor = rows["| B floor: no model ahead by more than 1 SE, at every point"]
    assert "(not run: LightFM-WARP+genres/title, LightFM-WARP+text emb. at every point)" in floor
    assert "(peers included)" in rows[next(k for k in rows if k.startswith("| A:"))]
    for key in page["results"]:
        for name in [m for m in page["results"][key] if m.endswith("(RecTools)")]:
            del page["results"][key][name]
    write_report(page, tmp_path)
    text = (tmp_path / "ml-100k.md").read_text()
    assert "(peers missing)" in text and "their rows are missing at A, B/n=1" in text
    assert "BERT4Rec (RecTools)" not in text.split("## Targets")[1].split("## A.")[0]


def test_studies_read_the_page_in_their_out_directory(tmp_path):
    from benchmarks.stability import read_main_page

    assert read_main_page(tmp_path, "ml-100k")["_file"] == str(RESULTS / "ml-100k.json")
    (tmp_path / "ml-100k.json").write_text(json.dumps(_page()))
    assert read_main_page(tmp_path, "ml-100k")["_file"] == str(tmp_path / "ml-100k.json")


@pytest.mark.parametrize("script", ["movielens", "peers"])
def test_a_quick_run_refuses_to_write_over_the_committed_results(script, capsys):
    import importlib

    main = importlib.import_module(f"benchmarks.{script}").main
    with pytest.raises(SystemExit):
        main(["--quick", "--out", str(RESULTS)])
    assert "would replace the results" in capsys.readouterr().err


def test_a_curve_missing_some_labels_keeps_its_points_above_their_labels():
    # a peer whose B keys n=2 and n=5 are stale: its n=all point was drawn
    # above the n=2 tick (x was the point's place in its own list)
    from benchmarks._ml_report import _xs

    labels = ["1", "2", "5", "all"]
    assert list(_xs([("1", 0.04, 0.0), ("all", 0.09, 0.0)], labels)) == [0.0, 3.0]
    assert list(_xs([(1, 0.0, 0.0), (25, 0.0, 0.0)])) == [1.0, 25.0]


def test_the_committed_page_is_what_its_json_writes(tmp_path):
    # the page is written from its JSON alone (and the cold-users study beside
    # it): an edit of the page's code that changes a figure, a bold or a
    # verdict shows here even before the benchmark is run again
    shutil.copy(RESULTS / "ml-100k-cold-users.json", tmp_path)
    write_report(_page(), tmp_path)
    assert (tmp_path / "ml-100k.md").read_text() == (RESULTS / "ml-100k.md").read_text(), (
        "benchmarks/_ml_report.py writes another page from the committed ml-100k.json: "
        "regenerate the page (`python -m benchmarks.movielens`) or fix the page's code")


def test_a_quick_pages_prose_counts_its_own_folds_and_samples(tmp_path):
    # the smoke run (one fold of A, two samples per p of E) kept the full
    # run's "3 rolling folds" and "seeds 0, 1, 2" under its banner
    from benchmarks.movielens import reproducibility

    page = _page()
    for key, models in page["results"].items():
        for row in models.values():
            if key == "A":
                row.pop("NDCG@10 per split", None)
            elif key.startswith("E/") and "NDCG@10 per split" in row:
                row["NDCG@10 per split"] = row["NDCG@10 per split"][:2]
    page["meta"]["reproducibility"] = reproducibility(quick=True)
    page["meta"]["command"] += " --quick"  # A keeps no per-split record: the quick run's 1
    shutil.copy(RESULTS / "ml-100k-cold-users.json", tmp_path)
    write_report(page, tmp_path)
    text = (tmp_path / "ml-100k.md").read_text()
    assert "## A. Warm users, leave-last-out (1 rolling fold)" in text
    assert "drawn twice (sampling seeds 0, 1)" in text and "the two samples'" in text
    assert "E's two samples per p (seeds 0, 1)" in text
    assert "3 rolling folds" not in text and "0, 1, 2" not in text
    # a full run's JSON without per-split records reads as the full run's counts
    page["meta"]["command"] = page["meta"]["command"].replace(" --quick", "")
    write_report(page, tmp_path)
    assert "leave-last-out (3 rolling folds pooled)" in (tmp_path / "ml-100k.md").read_text()


def _row(mean, se, fit=1.0):
    return {"NDCG@10": [mean, se, 900], "fit_seconds": fit}


def test_tables_bold_the_best_non_random_mean_of_each_ranked_column():
    from benchmarks._ml_report import _curve_table, _table

    res = {"A": {"Random": _row(0.012, 0.001),  # ahead, but never bold
                 "Popularity": _row(0.010, 0.002),
                 "Worse": _row(0.004, 0.003)}}
    res["A"]["Popularity"]["NewShareTest"] = [0.2, 0.01, 900]
    res["A"]["Worse"]["NewShareTest"] = [0.1, 0.02, 900]
    lines = _table(res, "A", ["NDCG@10", "NewShareTest"]).splitlines()[2:]
    assert lines == ["| Random | 0.0120 ± 0.0010 | n/a | 1.0 |",
                     "| Popularity | **0.0100 ± 0.0020** | 0.2000 ± 0.0100 | 1.0 |",
                     "| Worse | 0.0040 ± 0.0030 | 0.1000 ± 0.0200 | 1.0 |"]
    res["B/n=1"] = {"Popularity": _row(0.02, 0.005), "Worse": _row(0.03, 0.001)}
    lines = _curve_table(res, ["A", "B/n=1"], ["a", "n=1"])[2:]
    assert lines == ["| Random | 0.0120 ± 0.0010 | n/a |",
                     "| Popularity | **0.0100 ± 0.0020** | 0.0200 ± 0.0050 |",
                     "| Worse | 0.0040 ± 0.0030 | **0.0300 ± 0.0010** |"]


def test_targets_compare_means_and_leads_in_the_other_models_standard_error():
    from benchmarks._ml_report import HYBRID, _targets

    res = {"A": {HYBRID: _row(0.200, 0.005), "ItemKNN": _row(0.190, 0.004),
                 "Popularity": _row(0.100, 0.009)}}
    # B: Popularity leads the hybrid by 0.004 at n=5: 2 of its own SE (0.002),
    # under 1 of the hybrid's (0.005); the hybrid leads at n=1 and n=2
    for n, (h, p) in {"1": (0.05, 0.04), "2": (0.06, 0.05), "5": (0.07, 0.074),
                      "all": (0.09, 0.08)}.items():
        res[f"B/n={n}"] = {HYBRID: _row(h, 0.005), "Popularity": _row(p, 0.002)}
    res["E/p=10"] = {HYBRID: _row(0.05, 0.005), "ALSRecommender (ours)": _row(0.04, 0.002)}
    # D: the hybrid 0.9 popularity's SE ahead, over 1 of its own
    res["D"] = {HYBRID: _row(0.109, 0.001), "Popularity": _row(0.100, 0.010)}
    rows = {line.split(" | ")[0][2:]: line for line in _targets(res, {})
            if line.startswith("| ")}
    a = next(v for k, v in rows.items() if k.startswith("A:"))
    assert "| ItemKNN 0.1900 (1.05x) | **no** |" in a  # the best mean, not the widest SE
    assert rows["B floor: no model ahead by more than 1 SE, at every point"].endswith(
        "| largest lead +2.00 SE | Popularity at B/n=5 (not run: ItemKNN at every point) "
        "| **no** |")
    assert rows["B aim: ahead of every baseline at n <= 5"].endswith(
        "| ahead at n=1, n=2 | behind at B/n=5 (not run: ItemKNN at every point) | **no** |")
    assert rows["D: ahead of popularity by at least 1 SE"].endswith("(+0.90 SE) | **no** |")
    res["D"][HYBRID] = _row(0.111, 0.001)
    rows = [line for line in _targets(res, {})
            if line.startswith("| D: ahead of popularity by at least")]
    assert rows[0].endswith("(+1.10 SE) | **yes** |")
    # the paired test of the same difference goes beside the verdict, never into it
    paired = {"D": {"Popularity": [-0.011, 0.004, 100]}, "B/n=5": {"Popularity": [0.004, 0.001, 9]}}
    lines = _targets(res, {}, paired=paired)
    rows = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ")}
    assert rows["D: ahead of popularity by at least 1 SE"].endswith(
        "(+1.10 SE); paired, hybrid less Popularity: +0.0110 ± 0.0040 (+2.75 SE) | **yes** |")
    assert rows["B floor: no model ahead by more than 1 SE, at every point"].endswith(
        "| Popularity at B/n=5; paired, Popularity less hybrid: +0.0040 ± 0.0010 (+4.00 SE) "
        "(not run: ItemKNN at every point) | **no** |")
    assert any("per-user difference of NDCG@10" in line for line in lines)
    assert not any("paired" in line for line in _targets(res, {}) if line.startswith("| "))


def test_the_fine_tuning_table_shows_gains_as_positive():
    from benchmarks._ml_report import _fine_tuning_lines

    res = {"C-new": {"ZeroShot (ours)": _row(0.10, 0.01, 2.0),
                     "ZeroShot (ours, fine-tuned encoder)": _row(0.12, 0.01, 30.0)}}
    [row] = [line for line in _fine_tuning_lines(res) if line.startswith("| C-new")]
    assert row == ("| C-new | ZeroShot | 0.1000 ± 0.0100 | 0.1200 ± 0.0100 | "
                   "+0.0200 (+2.00 SE) | 2.0 | 30.0 |")
