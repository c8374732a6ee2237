"""The next-item peers' plumbing: grids, time order, rankings back to ids, fingerprints.

The peers themselves (RecTools in a venv of its own) run in CI's quick
benchmark (``python -m benchmarks.movielens --quick`` calls
``benchmarks.peers``); these tests need neither RecTools nor its venv.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import _protocols as P
from benchmarks import peers
from benchmarks import movielens
from benchmarks._peers_results import fingerprint, peers_file, read_peers, write_peers
from benchmarks.movielens import evaluation_digest, record, summarise

EVAL = "the evaluation's digest"
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"

X = pd.DataFrame({"user_id": [1, 1, 2, 1, 2, 3],
                  "item_id": [10, 11, 10, 12, 13, 11],
                  "timestamp": [5, 5, 1, 7, 2, 3]})


def test_every_peer_keeps_the_baselines_budget_of_six_candidates():
    for quick in (False, True):
        for peer in peers.peers(quick):
            assert 1 <= len(peers._candidates(peer.grid)) <= 6
            if quick:
                assert len(peers._candidates(peer.grid)) == 1 and peer.epochs in ((), (1,))


def test_time_order_orders_each_user_as_the_protocols_do():
    order = peers._time_order(X)
    for user, rows in X.assign(order=order).groupby("user_id"):
        # ties (user 1's two rows at time 5) broken by row order, like LeaveLastOut
        expected = rows.sort_values("timestamp", kind="stable").index
        assert list(rows.sort_values("order").index) == list(expected)


def test_rankings_come_back_as_catalogue_columns():
    catalog = np.array([10, 11, 12, 13])
    top = peers._top_columns([["12", "10"], []], ["a", "b"], catalog)
    assert top.shape == (2, 20)
    assert top[0, :3].tolist() == [2, 0, -1] and (top[1] == -1).all()


def _file(fingerprint, results):
    """A peers' results file as ``benchmarks.peers`` writes it (its parts the page reads)."""
    return {"fingerprint": fingerprint, "results": results, "tuning": {}, "meta": {}}


def _keyed(data):
    """Two protocol keys: "A" (two splits, as folds) and "E" (one)."""
    split = P.Split("s", data.iloc[:4], data.iloc[4:], P._exclude(data.iloc[:4], [2]))
    other = P.Split("t", data.iloc[1:], data.iloc[:1], P._exclude(data.iloc[1:], [1]))
    return {"A": [split, other], "E": [other]}


def test_the_page_reads_the_peers_only_with_a_matching_fingerprint(tmp_path):
    library = {"rectools": "0.19.0"}
    expected = fingerprint(_keyed(X), X, False, [{"grid": 1}], 0, 1, library, evaluation=EVAL)
    path = peers_file(tmp_path, "shop")
    found, note = read_peers(path, expected)
    assert found is None and "missing" in note and "python -m benchmarks.peers" in note
    path.write_text(json.dumps(_file(expected, {"A": 1, "E": 2})))
    found, note = read_peers(path, expected)
    assert found["results"] == {"A": 1, "E": 2} and expected["digest"] in note
    changed = [
        (X.assign(item_id=X.item_id + 1), X, [{"grid": 1}], library, EVAL, "splits"),
        (X, X.iloc[1:], [{"grid": 1}], library, EVAL, "tuning"),
        (X, X, [{"grid": 2}], library, EVAL, "peers"),
        (X, X, [{"grid": 1}], {"rectools": "0.20.0"}, EVAL, "library"),
        (X, X, [{"grid": 1}], library, "another definition", "evaluation"),
    ]
    for data, tuning, definitions, lib, ev, part in changed:
        found, note = read_peers(path, fingerprint(_keyed(data), tuning, False, definitions,
                                                   0, 1, lib, evaluation=ev))
        assert found is None and f"stale (changed since they ran: {part})" in note


def test_a_changed_split_makes_only_its_own_key_stale(tmp_path):
    library = {"rectools": "0.19.0"}
    path = peers_file(tmp_path, "shop")
    ran = fingerprint(_keyed(X), X, False, [{"grid": 1}], 0, 1, library, evaluation=EVAL)
    path.write_text(json.dumps(_file(ran, {"A": 1, "E": 2})))
    keyed = _keyed(X)
    keyed["E"] = keyed["E"] + keyed["A"][:1]  # E now draws two samples
    found, note = read_peers(path, fingerprint(keyed, X, False, [{"grid": 1}], 0, 1, library,
                                               evaluation=EVAL))
    assert found["results"] == {"A": 1}
    assert "stale for E (their splits changed)" in note and "python -m benchmarks.peers" in note


def test_each_frame_of_a_split_and_its_time_order_enter_its_key(tmp_path):
    # held-out rows, excluded rows or timestamps changed alone (the peers are
    # sequence models: the time order is their input) make the key stale
    from dataclasses import replace

    library = {"rectools": "0.19.0"}
    path = peers_file(tmp_path, "shop")
    path.write_text(json.dumps(_file(fingerprint(_keyed(X), X, False, [{"grid": 1}], 0, 1,
                                                 library, evaluation=EVAL),
                                     {"A": 1, "E": 2})))
    [split] = _keyed(X)["E"]
    changes = {
        "test": replace(split, test=split.test.assign(item_id=split.test.item_id + 1)),
        "exclude": replace(split, exclude=split.exclude.iloc[:0]),
        "timestamps": replace(split, train=split.train.assign(
            timestamp=split.train.timestamp.to_numpy()[::-1])),
    }
    for what, changed in changes.items():
        keyed = {**_keyed(X), "E": [changed]}
        found, note = read_peers(path, fingerprint(keyed, X, False, [{"grid": 1}], 0, 1, library,
                                                   evaluation=EVAL))
        assert found["results"] == {"A": 1}, what
        assert "stale for E (their splits changed)" in note, what


def test_a_test_event_measured_on_several_samples_is_one_cluster_of_the_standard_error():
    # user 1 is tested on the same item in both samples, user 2 in one
    test = pd.DataFrame({"user_id": [1, 2], "item_id": [10, 11], "timestamp": [9, 9]})
    first = P.Split("E", X, test, X.iloc[:0])
    second = P.Split("E", X, test.iloc[:1], X.iloc[:0])
    results = {}
    record(results, "E", "model", first, {"NDCG@10": np.array([1.0, 0.0])}, 1.0)
    record(results, "E", "model", second, {"NDCG@10": np.array([1.0])}, 2.0)
    mean, se, n = summarise(results)["E"]["model"]["NDCG@10"]
    assert mean == 2 / 3 and n == 3 and summarise(results)["E"]["model"]["fit_seconds"] == 3.0
    # clusters {1, 1} and {0}: residual sums 2/3 and -2/3, G = 2
    assert np.isclose(se, np.sqrt((4 / 9 + 4 / 9) * 2) / 3)
    # another test item of the same user (protocol A's folds) is the same
    # cluster: the user (as independent events, A's errors were 6-10% too small)
    other = P.Split("A", X, test.assign(item_id=[12, 13]), X.iloc[:0])
    record(results, "A", "model", first, {"NDCG@10": np.array([1.0, 0.0])}, 1.0)
    record(results, "A", "model", other, {"NDCG@10": np.array([1.0, 1.0])}, 1.0)
    # users {1: 1, 1} and {2: 0, 1}, mean 3/4: residual sums 1/2 and -1/2, G = 2
    assert np.isclose(summarise(results)["A"]["model"]["NDCG@10"][1],
                      np.sqrt((1 / 4 + 1 / 4) * 2) / 4)


def test_the_paired_difference_is_per_user_and_clustered_and_needs_the_same_users():
    from benchmarks.movielens import paired

    test = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [10, 11, 12], "timestamp": [9, 9, 9]})
    first = P.Split("E", X, test, X.iloc[:0])
    second = P.Split("E", X, test.iloc[:1], X.iloc[:0])
    results = {}
    for split, ref, other in ((first, [0.5, 0.0, 1.0], [0.7, 0.1, 1.0]),
                              (second, [0.2], [0.2])):
        record(results, "E", "ref", split, {"NDCG@10": np.array(ref)}, 0.0)
        record(results, "E", "other", split, {"NDCG@10": np.array(other)}, 0.0)
    # differences 0.2, 0.1, 0 (first) and 0 (second), mean 0.075; user 1's two
    # differences are one cluster: residual sums 0.05, 0.025, -0.075, G = 3
    mean, se, n = paired(results, "ref")["E"]["other"]
    assert np.isclose(mean, 0.075) and n == 4
    assert np.isclose(se, np.sqrt((0.05 ** 2 + 0.025 ** 2 + 0.075 ** 2) * 3 / 2) / 4)
    # a model scored on other users (or other splits) gets no paired figure
    third = P.Split("E", X, test.iloc[1:], X.iloc[:0])
    record(results, "A", "ref", first, {"NDCG@10": np.array([0.5, 0.0, 1.0])}, 0.0)
    record(results, "A", "other", third, {"NDCG@10": np.array([0.0, 1.0])}, 0.0)
    assert "A" not in paired(results, "ref") and "ref" not in paired(results, "ref")["E"]


def test_a_rerun_keeps_the_tuning_and_the_current_keys_and_says_which_run_made_what(tmp_path):
    library = {"rectools": "0.19.0"}
    path = peers_file(tmp_path, "shop")
    ran = fingerprint(_keyed(X), X, False, [{"grid": 1}], 0, 1, library, evaluation=EVAL)
    first = {"date": "2026-12-01", "machine": "cpu 1", "seconds": 10.0,
             "keys": ["A", "E"], "tuned": ["SASRec"]}
    path.write_text(json.dumps({"fingerprint": ran, "tuning": {"SASRec": {}},
                                "results": {"A": 1, "E": 2}, "meta": {"runs": [first]}}))
    keyed = _keyed(X)
    keyed["E"] = keyed["E"] + keyed["A"][:1]
    expected = fingerprint(keyed, X, False, [{"grid": 1}], 0, 1, library, evaluation=EVAL)
    kept = peers._reusable(path, expected, log=lambda *a: None)
    assert kept["results"] == {"A": 1} and kept["tuning"] == {"SASRec": {}}
    runs = peers._runs(kept, 5.0, ["E"], [])
    assert [run["keys"] for run in runs] == [["A"], ["E"]]
    assert runs[0]["tuned"] == ["SASRec"] and runs[1]["seconds"] == 5.0
    # other grids: nothing is kept
    other = fingerprint(keyed, X, False, [{"grid": 2}], 0, 1, library, evaluation=EVAL)
    assert peers._reusable(path, other, log=lambda *a: None) is None


def test_an_unreadable_peers_file_is_reported_not_fatal(tmp_path):
    # a run killed while writing (before writes were atomic), a merge conflict
    library = {"rectools": "0.19.0"}
    expected = fingerprint(_keyed(X), X, False, [{"grid": 1}], 0, 1, library, evaluation=EVAL)
    path = peers_file(tmp_path, "shop")
    write_peers(path, _file(expected, {"A": 1, "E": 2}))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert read_peers(path, expected)[0]["results"] == {"A": 1, "E": 2}
    whole = json.loads(path.read_text())
    shapes = [dict(whole, fingerprint=None), dict(whole, results=None),
              dict(whole, fingerprint={k: v for k, v in expected.items() if k != "digest"})]
    for text in (path.read_text()[:40], "<<<<<<< HEAD\n", "[1, 2]", *map(json.dumps, shapes)):
        path.write_text(text)
        found, note = read_peers(path, expected)
        assert found is None and "unreadable" in note and "python -m benchmarks.peers" in note
        logged = []
        assert peers._reusable(path, expected, log=logged.append) is None
        assert "unreadable" in logged[0] and "every key runs again" in logged[0]


def test_the_evaluation_digest_follows_what_the_metrics_and_errors_compute(monkeypatch):
    digest = evaluation_digest()
    assert digest == evaluation_digest()
    # the standard error without the small-sample factor
    se = movielens.clustered_se
    monkeypatch.setattr(movielens, "clustered_se",
                        lambda v, c=None: se(v, c) * np.sqrt((len(set(c)) - 1) / len(set(c))))
    assert evaluation_digest() != digest
    monkeypatch.undo()
    # NDCG with the ideal DCG of all relevant items, not only the first k
    metrics = P.per_user_metrics

    def other_ndcg(split, top, users, catalog, ks=(10, 20)):
        out = metrics(split, top, users, catalog, ks)
        out["NDCG@10"] = out["NDCG@10"] * 0.9
        return out

    monkeypatch.setattr(P, "per_user_metrics", other_ndcg)
    assert evaluation_digest() != digest


def _edited(module, function, old, new):
    """``module.function`` with ``old`` replaced by ``new`` in its source."""
    import inspect
    import textwrap

    source = inspect.getsource(getattr(module, function))
    assert old in source, old
    namespace = dict(vars(module))
    exec(textwrap.dedent(source.replace(old, new)), namespace)
    return namespace[function]


@pytest.mark.parametrize("module, function, old, new", [
    # edits that move the peers' real figures (one test item per user in A, B, E)
    (P, "per_user_metrics", "h = hits[:, :k]", "h = hits[:, :k - 1]"),
    (P, "per_user_metrics", "h = hits[:, :k]", "h = hits[:, :min(k, 19)]"),
    (P, "per_user_metrics", "h.sum(axis=1) / n_rel", "h.any(axis=1) / n_rel"),
    (P, "per_user_metrics", "ideal[np.minimum(n_rel, k) - 1]", "ideal[0]"),
    (P, "per_user_metrics", "hits_new / n_new", "hits_new / n_rel"),
    (P, "per_user_metrics", "rel_new, top[:, :10], axis=1) & filled[:, :10]",
     "rel_new, top[:, :9], axis=1) & filled[:, :9]"),
    (P, "per_user_metrics", "(new[top[:, :10]] & filled[:, :10])", "(new[top[:, :10]])"),
    (peers, "_top_columns", "items[:20]", "items[:19]"),
    (movielens, "clustered_se", "g / (g - 1)", "1"),
])
def test_the_evaluation_digest_sees_edits_that_move_figures(monkeypatch, module, function, old,
                                                            new):
    digest = evaluation_digest()
    monkeypatch.setattr(module, function, _edited(module, function, old, new))
    assert evaluation_digest() != digest


def test_the_peers_code_is_part_of_their_fingerprint(monkeypatch, tmp_path):
    # edits of peers.py moved the peers' figures unseen (k=10, sequences
    # reversed, tuning by HR@10, the last epoch always)
    from benchmarks import _peers_results

    library = {"rectools": "0.19.0"}
    before = fingerprint(_keyed(X), X, False, [{"grid": 1}], 0, 1, library, evaluation=EVAL)
    monkeypatch.setattr(_peers_results, "PEERS_CODE_DIGEST", "edited code")
    after = fingerprint(_keyed(X), X, False, [{"grid": 1}], 0, 1, library, evaluation=EVAL)
    assert after["peers"] != before["peers"] and after["splits"] == before["splits"]
    monkeypatch.undo()
    # the digest reads the code, not its docstrings, comments or layout
    here = Path(_peers_results.__file__).parent
    source = (here / "peers.py").read_text()
    (tmp_path / "_peers_worker.py").write_text((here / "_peers_worker.py").read_text())
    monkeypatch.setattr(_peers_results, "__file__", str(tmp_path / "_peers_results.py"))

    def digest(text):
        (tmp_path / "peers.py").write_text(text)
        return _peers_results.code_digest("peers.py", "_peers_worker.py")

    reference = digest(source)
    assert reference == code_digest_of_the_repository()
    for text, same in ((source.replace('"""', '"""Another docstring. ', 1), True),
                       (source.replace(":\n", ":  # a comment\n", 3), True),
                       (source.replace('"k": 20', '"k": 10'), False),
                       (source.replace("ndcg > best[0]", "ndcg >= best[0]"), False)):
        assert text != source
        assert (digest(text) == reference) is same


def test_the_code_digest_is_the_same_on_every_python(monkeypatch, tmp_path):
    # ast.unparse's text gave another digest on 3.10 (`for (key, split) in`)
    # and on 3.12+ (quotes reused in f-strings): the committed peers read as
    # stale there; the value below is the one 3.10, 3.11, 3.12 and 3.13 give
    from benchmarks import _peers_results

    (tmp_path / "sample.py").write_bytes(
        '\ufeff"""A docstring."""\r\ndef f(pairs, name):\r\n    """Another."""\r\n'
        "    for (key, split) in pairs:  # a comment\r\n"
        "        print(f\"{name['a']!r:>4} {key}\")\r\n"
        '    return [x for x in pairs if x], {"k": 20}\r\n'.encode("utf-8"))
    monkeypatch.setattr(_peers_results, "__file__", str(tmp_path / "_peers_results.py"))
    assert _peers_results.code_digest("sample.py") == "5b5d64a648abbd0d"


def code_digest_of_the_repository():
    from benchmarks._peers_results import PEERS_CODE_DIGEST

    return PEERS_CODE_DIGEST


def test_the_committed_peers_results_are_of_the_current_peers_code():
    from benchmarks._peers_results import PEERS_CODE_DIGEST, json_digest

    found = json.loads((RESULTS / "ml-100k-peers.json").read_text())["fingerprint"]
    definitions = [peer.__dict__ for peer in peers.peers(False)]
    assert found["peers"] == json_digest([definitions, peers.SEED, peers.THREADS, False,
                                          PEERS_CODE_DIGEST]), (
        "the peers' code, grids, seed or threads changed since their results ran: rerun "
        "`python -m benchmarks.peers`, then the main page")


def test_the_committed_peers_results_are_of_the_current_evaluation():
    found = json.loads((RESULTS / "ml-100k-peers.json").read_text())["fingerprint"]
    assert found["evaluation"] == evaluation_digest(), (
        "the metrics or their standard errors compute something else than when the peers "
        "ran: rerun `python -m benchmarks.peers`, then the main page")


def test_the_installer_never_clears_a_directory_it_did_not_build(tmp_path, capsys):
    # --venv ~/envs or --venv .venv was emptied by `python -m venv --clear`
    from benchmarks import install_peers

    mine = tmp_path / "my-project"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="is not empty and is not a peers' environment"):
        install_peers.main(["--venv", str(mine)])
    assert (mine / "notes.txt").read_text() == "keep me"
    # a versions.json alone does not make a directory the script's
    (mine / "versions.json").write_text(json.dumps({"rectools": "0.19.0"}))
    with pytest.raises(SystemExit, match="is not empty and is not a peers' environment"):
        install_peers.main(["--venv", str(mine)])
    assert (mine / "notes.txt").read_text() == "keep me"
    # what the script built, even a build interrupted in its venv step (the
    # marker goes first), or a whole venv of before the marker, is its own
    (mine / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert install_peers._ours(mine)
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    (interrupted / install_peers.MARKER).write_text("")
    (interrupted / "lib").mkdir()
    assert install_peers._ours(interrupted)


def test_a_half_built_peers_venv_reads_as_missing_with_its_own_path(tmp_path):
    # a failed build left a venv whose Python does not import RecTools: the
    # worker failed later with ModuleNotFoundError, and versions.json (which
    # the fingerprint read) could say anything
    import sys

    from benchmarks import install_peers

    venv = tmp_path / "half"
    python = install_peers.venv_python(venv)
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    (venv / "versions.json").write_text(json.dumps({"rectools": "0.19.0"}))
    assert install_peers.versions(venv) is None
    with pytest.raises(FileNotFoundError, match=f"install_peers.py --venv {venv}"):
        peers.Worker(venv)


def test_an_epoch_checkpoint_of_zero_is_refused():
    with pytest.raises(ValueError, match="at least 1 each; got \\[0, 3\\]"):
        peers.run(None, epochs=[0, 3])
