"""The benchmark on the user's own data: CSV loading, its errors, a whole run."""

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks import movielens as bench
from sklearn_zsrec.datasets import make_synthetic_interactions


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_interactions(150, 80, 3000, n_topics=4, random_state=0)


def _write(tmp_path, synthetic, *, timestamp=True, users=True):
    clicks = synthetic.interactions
    if not timestamp:
        clicks = clicks.drop(columns="timestamp")
    clicks.to_csv(tmp_path / "clicks.csv", index=False)
    synthetic.item_text.rename("text").rename_axis("item_id").reset_index().to_csv(
        tmp_path / "items.csv", index=False)
    if users:
        synthetic.user_text.rename("text").rename_axis("user_id").reset_index().to_csv(
            tmp_path / "users.csv", index=False)
    return tmp_path / "clicks.csv", tmp_path / "items.csv", tmp_path / "users.csv"


def test_csv_dataset_reads_the_three_files(tmp_path, synthetic):
    clicks, items, users = _write(tmp_path, synthetic)
    data = bench.csv_dataset(clicks, items, users, name="shop")
    assert data.name == "shop"
    assert list(data.interactions.columns) == ["user_id", "item_id", "timestamp"]
    assert len(data.interactions) == len(synthetic.interactions)
    # ids as written in the file: text
    expected = synthetic.item_text.rename("text").rename(index=str)
    pd.testing.assert_series_equal(data.item_text, expected, check_names=False)
    assert len(data.user_text) == len(synthetic.user_text)
    # LightFM's feature variant reads the words of the item texts
    assert data.features_label == "text words"
    assert data.item_features.shape[0] == len(synthetic.item_text)
    assert any(c.startswith("word=") for c in data.item_features.columns)


def test_csv_dataset_without_timestamp_takes_row_order(tmp_path, synthetic):
    clicks, items, _ = _write(tmp_path, synthetic, timestamp=False, users=False)
    data = bench.csv_dataset(clicks, items)
    np.testing.assert_array_equal(data.interactions.timestamp, np.arange(len(synthetic.interactions)))
    assert data.user_text is None


def test_csv_dataset_merges_repeated_pairs_at_their_latest_time(tmp_path, synthetic):
    # a re-watch was a test item the user had in training: left out of the
    # ranking, still counted relevant, so a certain miss for every model
    from benchmarks import _protocols as P

    clicks, items, _ = _write(tmp_path, synthetic, users=False)
    rows = synthetic.interactions
    again = rows.groupby("user_id").head(1).assign(timestamp=rows.timestamp.max() + 1)
    pd.concat([rows, again], ignore_index=True).to_csv(clicks, index=False)
    data = bench.csv_dataset(clicks, items)
    X = data.interactions
    assert len(X) == len(rows) and not X.duplicated(["user_id", "item_id"]).any()
    again = again.astype({"user_id": str, "item_id": str})  # ids as written: text
    latest = X.merge(again, on=["user_id", "item_id"], suffixes=("", "_again"))
    assert (latest.timestamp == latest.timestamp_again).all()
    split = P.protocol_a(X, 0)
    seen = split.train.merge(split.test, on=["user_id", "item_id"])
    assert seen.empty


def test_csv_dataset_errors_name_the_fix(tmp_path, synthetic):
    clicks, items, users = _write(tmp_path, synthetic)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"user": [1], "item_id": [2]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['user_id'\]"):
        bench.csv_dataset(bad, items)
    pd.DataFrame({"item_id": [0, 1], "txt": ["a", "b"]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['text'\]"):
        bench.csv_dataset(clicks, bad)
    pd.DataFrame({"item_id": [0, 0], "text": ["a", "b"]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="duplicated item_id values"):
        bench.csv_dataset(clicks, bad)
    pd.DataFrame({"item_id": [0, 1], "text": ["a", "b"]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="have no row in .*add a text for each"):
        bench.csv_dataset(clicks, bad)


def test_command_line_needs_both_files_and_an_output(tmp_path, synthetic):
    clicks, items, _ = _write(tmp_path, synthetic)
    with pytest.raises(SystemExit):
        bench.main(["--interactions", str(clicks)])
    with pytest.raises(SystemExit):
        bench.main(["--interactions", str(clicks), "--item-texts", str(items)])


def test_command_line_never_runs_movielens_or_writes_the_committed_pages_by_mistake(
        tmp_path, synthetic, capsys, monkeypatch):
    """Options of one's own data without its files ran the MovieLens job into
    benchmarks/results; own data could be written there too."""
    from benchmarks import peers

    monkeypatch.setattr(bench, "run", lambda **kw: pytest.fail(f"ran {kw}"))
    monkeypatch.setattr(peers, "run", lambda *a, **kw: pytest.fail(f"ran {a} {kw}"))
    clicks, items, users = _write(tmp_path, synthetic)
    own = ["--interactions", str(clicks), "--item-texts", str(items)]
    (tmp_path / "a-file").write_text("")
    cases = [
        (bench.main, ["--name", "my-shop"], "--name describes your own data"),
        (bench.main, ["--user-texts", str(users)], "--user-texts describes your own data"),
        (bench.main, ["--name", "x", "--user-texts", str(users)],
         "--name and --user-texts describe your own data"),
        (peers.main, ["--name", "my-shop"], "--name describes your own data"),
        (bench.main, own + ["--out", str(bench.RESULTS)], "holds the committed"),
        (peers.main, own, "say where the results go"),
        (bench.main, own + ["--name", "a/b", "--out", str(tmp_path)], "without a folder"),
        (bench.main, ["--out", str(tmp_path / "a-file")], "is a file"),
    ]
    for main, argv, message in cases:
        with pytest.raises(SystemExit):
            main(argv)
        assert message in capsys.readouterr().err, argv


def test_quick_run_on_own_data_writes_the_page(tmp_path, synthetic, capsys):
    """The whole harness, end to end, on a small synthetic catalogue."""
    import importlib.util

    clicks, items, _ = _write(tmp_path, synthetic, users=False)
    out = tmp_path / "out"
    bench.main(["--interactions", str(clicks), "--item-texts", str(items),
                "--name", "shop", "--out", str(out), "--quick"])
    log = capsys.readouterr().out
    if importlib.util.find_spec("lightfm") is None:
        # it said "tuned LightFM-WARP ... (1 candidates)" without LightFM
        assert "tuned LightFM" not in log
        assert "LightFM-WARP: unavailable, needs lightfm (install: python benchmarks/install_lightfm.py)" in log
    page = (out / "shop.md").read_text()
    assert "Text encoder precision: float32" in page or "Text encoder precision: bfloat16" in page
    assert page.startswith("# shop benchmark")
    assert "Smoke run (`--quick`)" in page  # not results
    assert "- Threads: torch " in page and "- CPU flags: avx2 " in page
    assert "git_commit" in page
    assert "80 items" in page
    assert "Training rows " in page  # what each table rests on
    assert "no user texts were given" in page  # protocol D skipped, and said so
    assert "LightFM-WARP+text words" in page or "unavailable" in page
    summary = json.loads((out / "shop.json").read_text())
    assert {"A", "C-new", "C-mix"} <= set(summary["results"])
    assert "D" not in summary["results"]
    hybrid = summary["results"]["A"]["Hybrid (ours)"]["NDCG@10"]
    random = summary["results"]["A"]["Random"]["NDCG@10"]
    assert hybrid[0] > random[0]  # topics carry signal: better than chance
    # the fit target's two sides, each from empty caches, on the A fold
    cost = summary["fit_from_scratch"]
    assert len(cost["hybrid"]) == 1 and cost["hybrid"][0] > 0
    assert set(cost["members"]) == {"text model", "als", "knn", "next"}  # no user texts given
    assert "its members' own fits plus encoding (from scratch, A, 1 fold, one timing" in page
    for name in ("shop-warmup.png", "shop-growth.png", "shop-bars.png"):
        assert (out / name).stat().st_size > 0


def test_csv_files_pandas_cannot_read_as_written_name_the_file_and_the_fix(tmp_path, synthetic):
    # a hunt: Excel's cp1252, unquoted commas, ';' and a header alone failed in
    # pandas' words, naming neither the file nor the fix, or as ids "missing"
    clicks, items, _ = _write(tmp_path, synthetic)
    bad = tmp_path / "bad.csv"
    texts = pd.read_csv(items)
    cases = [
        (lambda: bad.write_bytes("item_id,text\n0,Caf\xe9\n".encode("latin-1")),
         r"bad.csv: not UTF-8 .*save it as UTF-8"),
        (lambda: bad.write_text("item_id,text\n0,Heat\n1,Heat, 1995\n"),
         r"bad.csv: Error tokenizing.*quote the fields that hold a comma"),
        (lambda: bad.write_text("item_id,text\n0,Heat, 1995\n1,Up, 2009\n"),
         r"bad.csv: its rows have more fields than its header"),
        (lambda: texts.to_csv(bad, sep=";", index=False), r"separated by ';'"),
        (lambda: bad.write_text("item_id,text\n"), r"bad.csv: no data rows"),
    ]
    for write, match in cases:
        write()
        with pytest.raises(ValueError, match=match):
            bench.csv_dataset(clicks, bad)


def test_a_time_column_under_another_name_is_named_not_dropped(tmp_path, synthetic):
    # created_at was dropped like any other column: the file's row order
    # (sorted by customer, then product) became the order in time
    clicks, items, _ = _write(tmp_path, synthetic, timestamp=False)
    rows = pd.read_csv(clicks)
    for name in ("created_at", "event_time", "Order Date", "ts", "createdAt", "eventTime"):
        rows.assign(**{name: "2024-01-01"}).to_csv(clicks, index=False)
        with pytest.raises(ValueError, match=rf"no 'timestamp' column, but '{name}': rename"):
            bench.csv_dataset(clicks, items)
    rows.assign(category="x", attribute="y").to_csv(clicks, index=False)  # no time word
    assert len(bench.csv_dataset(clicks, items).interactions) == len(rows)


def test_a_log_of_short_histories_is_refused_before_tuning_and_protocols_it_cannot_hold_say_so(
        tmp_path, synthetic):
    from benchmarks import _protocols as P
    from benchmarks._ml_report import write_report

    short = synthetic.interactions.groupby("user_id").head(4)  # no user with 5 rows
    data = bench.Dataset(name="short", title="short", interactions=short,
                         item_text=synthetic.item_text, user_text=None, command="x")
    with pytest.raises(ValueError, match=r"short: no user has more than 4 interactions"):
        bench.run(quick=True, out_dir=tmp_path, verbose=0, data=data)
    # C-mix trains on the untested users' histories too (it kept only the rows
    # of users with more than 10: 4% of a shop's rows); with none to test, it
    # is not run, and the page says why
    X = synthetic.interactions
    tested = X.groupby("user_id").size() > 10
    split = P.protocol_c_mix(X, np.array([], dtype=X.item_id.dtype))
    untested = X[X.user_id.isin(tested.index[~tested])]
    assert len(untested) and untested.index.isin(split.train.index).all()
    page = json.loads((bench.RESULTS / "ml-100k.json").read_text())
    del page["results"]["C-mix"]
    page["skipped"] = {"C-mix": "3 training rows and 0 test users on this data (why)"}
    page["splits"] = {"A": [123456, 2829]}
    (tmp_path / "ml-100k-cold-users.json").write_text(
        (bench.RESULTS / "ml-100k-cold-users.json").read_text())
    write_report(page, tmp_path)
    text = (tmp_path / "ml-100k.md").read_text()
    assert "_not run: 3 training rows and 0 test users on this data (why)_" in text
    assert "Training rows 123,456, test users 2,829 (summed over the splits)." in text


def test_csv_dataset_reads_a_shops_export_as_written_or_names_the_fix(tmp_path, synthetic):
    # a hunt on a shop's export: "007", "07" and "7" merged (read as ints), a
    # weight column of impressions dropped without a word (held out as
    # relevant), a "Timestamp" column ignored (file order used), ISO dates
    # and blank texts failing late with messages naming no file
    clicks, items, users = _write(tmp_path, synthetic)
    rows = pd.read_csv(clicks)
    shop = tmp_path / "shop.csv"
    two = rows.iloc[:2].assign(user_id=["007", "07"], item_id=rows.item_id.iloc[0])
    pd.concat([rows, two], ignore_index=True).to_csv(shop, index=False)
    texts = pd.read_csv(users)
    extra = pd.DataFrame({"user_id": ["007", "07"], "text": ["a", "b"]})
    pd.concat([texts, extra]).to_csv(tmp_path / "users2.csv", index=False)
    data = bench.csv_dataset(shop, items, tmp_path / "users2.csv", out="results")
    assert {"007", "07", "7"} <= set(data.interactions.user_id)  # three users, not one
    assert data.command.endswith("--out results")
    iso = rows.assign(timestamp=pd.to_datetime(rows.timestamp, unit="s", utc=True).astype(str))
    iso.to_csv(shop, index=False)
    times = bench.csv_dataset(shop, items).interactions.timestamp
    assert (times.rank(method="first").to_numpy()
            == rows.timestamp.rank(method="first").to_numpy()).all()
    for frame, match in (
            (rows.assign(weight=1.0), "a 'weight' column; the benchmark's protocols take every"),
            (rows.assign(Weight=1.0), "a 'weight' column; the benchmark's protocols take every"),
            (rows.assign(timestamp=rows.timestamp.astype(object).where(rows.index != 2, "NA")),
             r"1 rows have no timestamp \(e.g. data rows \[3\]\)"),
            (rows.rename(columns={"timestamp": "Timestamp"}), "rename it to 'timestamp'"),
            (rows.assign(timestamp=rows.timestamp.astype(object).where(rows.index > 0)),
             r"1 rows have no timestamp \(e.g. data rows \[1\]\)"),
            (rows.assign(timestamp="yesterday"), "neither numbers nor ISO 8601 dates"),
            # an epoch number among ISO dates: not "neither numbers nor dates"
            (iso.assign(timestamp=iso.timestamp.where(iso.index != 1, "1714564800")),
             r"mixes ISO 8601 dates with 1 number, e.g. \['1714564800'\] in data rows \[2\]"),
            (rows.assign(item_id=rows.item_id.astype(float)),
             r"writes ids as '\d+\.0' where .*items.csv has '\d+': ids are read as written")):
        frame.to_csv(shop, index=False)
        with pytest.raises(ValueError, match=match):
            bench.csv_dataset(shop, items)
    blank = pd.read_csv(items)
    blank.loc[3, "text"] = " "
    blank.to_csv(tmp_path / "items2.csv", index=False)
    with pytest.raises(ValueError, match=r"items2.csv: 1 empty texts, e.g. for item_id \['3'\]"):
        bench.csv_dataset(clicks, tmp_path / "items2.csv")
    texts.iloc[1:].to_csv(tmp_path / "users3.csv", index=False)
    with pytest.raises(ValueError, match=r"have no row in .*users3.csv.*leave --user-texts out"):
        bench.csv_dataset(clicks, items, tmp_path / "users3.csv")


def test_item_texts_that_share_no_word_leave_out_the_word_features_row(tmp_path):
    # texts written without spaces (Japanese titles): CountVectorizer(min_df=2)
    # stopped the whole run with 'After pruning, no terms remain'
    titles = ["千と千尋の神隠し", "となりのトトロ", "もののけ姫", "風の谷のナウシカ", "天空の城ラピュタ",
              "魔女の宅急便", "紅の豚", "崖の上のポニョ", "ハウルの動く城"]
    pd.DataFrame({"item_id": range(len(titles)), "text": titles}).to_csv(
        tmp_path / "items.csv", index=False)
    pd.DataFrame([(f"u{u}", i, t) for t, (u, i) in enumerate(
        (u, i) for u in range(20) for i in range(u % 5, u % 5 + 4))],
        columns=["user_id", "item_id", "timestamp"]).to_csv(tmp_path / "clicks.csv", index=False)
    data = bench.csv_dataset(tmp_path / "clicks.csv", tmp_path / "items.csv")
    assert data.item_features is None and len(data.interactions) == 80
    entries = {e.name: e for e in bench.make_entries(data, quick=True)}
    assert "no word is shared by two item texts" in entries["LightFM-WARP+text words"].unavailable
    assert getattr(entries["LightFM-WARP+text emb."], "unavailable", None) is None
