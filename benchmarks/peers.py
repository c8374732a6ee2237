"""The next-item peers on the main job's protocols: RecTools' SASRec, BERT4Rec and EASE.

Run it after ``python benchmarks/install_peers.py`` (which builds RecTools'
own venv: its numpy<2 and pandas<3 pins clash with ours)::

    HF_HUB_OFFLINE=1 python -m benchmarks.peers            # ~1-1.5 hours on 2 cores from scratch
    HF_HUB_OFFLINE=1 python -m benchmarks.movielens        # its page reads the peers' results

Tuning SASRec and BERT4Rec costs more than the whole main job, so they run
in this command of their own; it writes ``benchmarks/results/<name>-peers.json``
with a fingerprint per protocol key (the rows of its splits) and one of
the tuning rows, the peers' grids, seeds and threads, the code that runs
them (this module and its worker), the peers' library versions and what the evaluation computes
(``_peers_results.fingerprint``). The main job's page
reads each key whose fingerprint matches its own run and says which keys
are missing or stale (and how to refresh them). A rerun keeps the tuning
and the keys that still match when the rest matches, runs only the other
keys, and records which run, on which machine, computed what
(``meta["runs"]``). ``--quick`` (which the main job's
``--quick`` calls, so CI exercises every peer) fits one candidate for one
epoch on the quick splits and writes to a temporary directory.

Protocols: A (3 folds), B (warm-up curve) and E (data growth), with the
same splits, exclusions and metrics as the main job
(``benchmarks/_protocols.py``). The peers cannot score items without
interactions (RecTools' SASRec, BERT4Rec and EASE learn one vector or
column per item id from interactions), so they sit out C-new and C-mix; they
cannot score users without interactions either (D). Each peer is tuned with
the other baselines' budget: at most 6 grid candidates on the same tuning
split (``LeaveLastOut(n_splits=1)`` on ``_protocols.tuning_split``), scored
by NDCG@10; the transformers' epochs are chosen on the same validation rows
from one training curve per candidate (rankings taken after each of
``epochs``), so the epoch choice costs no extra fit. A checkpoint after
the first continues the weights with RecTools' ``fit_partial``, which starts
a new optimizer: it is close to, not the same as, a fresh fit of that many
epochs, which each protocol then fits.
"""

import argparse
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_zsrec.model_selection import LeaveLastOut

from . import _protocols as P
from ._peers_results import (by_key, current_keys, fingerprint, load_peers, peers_file,
                             stale_parts, write_peers)
from ._report import refuse_quick_into_results
from .install_peers import DEFAULT_VENV, venv_python, versions

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SEED = 0
# each worker process runs torch on one thread (results are identical for a
# fixed count), and WORKERS of them share a job's tasks: small transformers
# gain little from a second thread, much from a second process
THREADS = 1
WORKERS = 2


@dataclass
class Peer:
    """A peer model: its page name, RecTools class, grid, fixed parameters, epochs."""

    name: str
    model: str
    grid: dict
    fixed: dict = field(default_factory=dict)
    epochs: tuple = ()  # rankings taken after each (transformers); () for EASE


def peers(quick=False):
    """The peers and their grids (at most 6 candidates each, as every baseline)."""
    # small transformers for a 943-user catalogue, six candidates each (the
    # other baselines' budget): the learning rate, and the knob each model is
    # known to be sensitive to (SASRec's dropout, BERT4Rec's masking rate).
    # BERT4Rec learns more slowly, so its rates reach higher. The epoch cap
    # (30) keeps the run near an hour on 2 cores: the page shows the
    # validation curve, and a study (--epochs) shows what a higher cap buys
    common = {"n_blocks": 2, "n_heads": 2, "n_factors": 64, "session_max_len": 50,
              "batch_size": 32, "loss": "softmax"}
    out = [
        Peer("SASRec (RecTools)", "SASRec",
             {"lr": [5e-4, 1e-3, 3e-3], "dropout_rate": [0.1, 0.3]}, common, (10, 20, 30)),
        Peer("BERT4Rec (RecTools)", "BERT4Rec",
             {"lr": [1e-3, 3e-3, 1e-2], "mask_prob": [0.15, 0.3]}, common, (10, 20, 30)),
        Peer("EASE (RecTools)", "EASE",
             {"regularization": [50.0, 150.0, 500.0, 1500.0, 5000.0, 15000.0]}),
    ]
    if quick:
        for p in out:
            p.grid = {k: v[:1] for k, v in list(p.grid.items())[:1]}
            p.epochs = p.epochs[:1] and (1,)
    return out


def _candidates(grid):
    keys = sorted(grid)
    combos = [[]]
    for key in keys:
        combos = [c + [(key, v)] for c in combos for v in grid[key]]
    return [dict(c) for c in combos]


class Worker:
    """Runs tasks in the peers' venv and maps the rankings back to our ids."""

    def __init__(self, venv=DEFAULT_VENV, log=print):
        self.python = venv_python(venv)
        # what the venv imports (a half-built one does not), for the fingerprint
        self.versions = versions(venv)
        if self.versions is None:
            raise FileNotFoundError(
                f"the peers' environment at {venv} is missing or does not import RecTools; "
                f"build it with `python benchmarks/install_peers.py --venv {venv}`")
        self.log = log

    def run(self, tasks):
        """``tasks``: (name, train frame, users, peer, params, epochs); returns the worker's output."""
        # the job's files (a copy of the rows per task) go when the job is done
        with tempfile.TemporaryDirectory(prefix="zsrec-peers-") as tmp:
            return self._run(tasks, Path(tmp))

    def _run(self, tasks, tmp):
        job = {"threads": THREADS, "seed": SEED, "out": str(tmp / "out.json"), "tasks": []}
        for name, train, users, peer, params, epochs in tasks:
            path = tmp / f"rows{len(job['tasks'])}.csv"
            rows = pd.DataFrame({"user_id": train.user_id.astype(str),
                                 "item_id": train.item_id.astype(str),
                                 "order": _time_order(train)})
            rows.to_csv(path, index=False)
            job["tasks"].append({"name": name, "train": str(path), "users": [str(u) for u in users],
                                 "k": 20, "model": peer.model,
                                 "params": peer.fixed | params, "epochs": list(epochs)})
        # WORKERS processes, each with every WORKERS-th task; results in task order
        shares = [dict(job, tasks=job["tasks"][i::WORKERS], out=f"{job['out']}.{i}")
                  for i in range(min(WORKERS, len(job["tasks"])))]
        running = []
        for i, share in enumerate(shares):
            path = tmp / f"job{i}.json"
            path.write_text(json.dumps(share))
            running.append(subprocess.Popen(
                [str(self.python), str(HERE / "_peers_worker.py"), str(path)], text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        outputs = [p.communicate() for p in running]
        for p, (printed, err) in zip(running, outputs):
            for line in printed.splitlines():  # the worker's progress, through our log
                self.log(line)
            if p.returncode:
                raise RuntimeError(f"the peers' worker failed:\n{err[-3000:]}")
        outs = [json.loads(Path(share["out"]).read_text()) for share in shares]
        tasks = [None] * len(job["tasks"])
        for i, out in enumerate(outs):
            tasks[i::WORKERS] = out["tasks"]
        return {"versions": outs[0]["versions"], "tasks": tasks}


def _time_order(train):
    """A global integer time per row that orders each user's rows as the protocols do."""
    rank, n_user_rows = P.rank_from_end(train)
    return (n_user_rows - 1 - rank).astype(np.int64)


def _top_columns(tops, users, catalog):
    """Catalogue columns of each user's ranking (-1 where it has fewer than 20)."""
    index = pd.Index([str(c) for c in catalog])
    out = np.full((len(users), 20), -1, dtype=np.int64)
    for row, items in enumerate(tops):
        cols = index.get_indexer(items[:20])
        out[row, : len(cols)] = cols
    return out


def tune(peer, X_tune, catalog, worker, log):
    """Best (params, epochs) of ``peer`` by NDCG@10 on the tuning split's last rows."""
    train_idx, val_idx = next(LeaveLastOut(n_splits=1).split(X_tune))
    train, val = X_tune.iloc[train_idx], X_tune.iloc[val_idx]
    split = P.Split("tuning", train, val, P._exclude(train, val.user_id.unique()))
    users = np.asarray(pd.unique(val.user_id))
    candidates = _candidates(peer.grid)
    start = time.perf_counter()
    out = worker.run([("tuning", train, users, peer, c, peer.epochs) for c in candidates])
    curve, best = [], None
    for params, task in zip(candidates, out["tasks"]):
        for epochs, result in task["epochs"].items():
            top = _top_columns(result["top"], users, catalog)
            ndcg = float(np.nanmean(P.per_user_metrics(split, top, users, catalog)["NDCG@10"]))
            curve.append({"params": params, "epochs": int(epochs), "NDCG@10": round(ndcg, 4)})
            if best is None or ndcg > best[0]:
                best = (ndcg, params, int(epochs))
    seconds = time.perf_counter() - start
    log(f"  tuned {peer.name}: {best[1]} epochs={best[2]} ({len(candidates)} candidates, "
        f"{seconds:.0f}s)")
    return {"best": best[1] | ({"epochs": best[2]} if peer.epochs else {}),
            "params": best[1], "epochs": best[2], "candidates": len(candidates),
            "seconds": round(seconds, 1), "curve": curve, "versions": out["versions"]}


def run(ml, quick=False, out_dir=RESULTS, venv=DEFAULT_VENV, log=print, epochs=None,
        protocols=None):
    """Tune and evaluate every peer on ``ml`` (a ``movielens.Dataset``); write the results.

    ``epochs`` (the transformers' checkpoints) and ``protocols`` (e.g.
    ``("A",)``) are for studies beside the page, such as whether the epoch
    cap holds the transformers back; their results go to
    ``<name>-peers-study.json``, which the main page never reads.
    """
    from .movielens import evaluation_digest, record, summarise, warm_and_growth_splits

    if epochs is not None and min(epochs, default=1) < 1:
        # a checkpoint of 0 trained one epoch and was labelled 0
        raise ValueError(f"epochs are checkpoints of training, at least 1 each; got {epochs}")
    t0 = time.perf_counter()
    X = ml.interactions
    catalog = np.sort(ml.item_text.index.to_numpy())
    worker = Worker(venv, log)
    keyed = by_key((key, split) for key, split in warm_and_growth_splits(X, quick)
                   if protocols is None or key.split("/")[0] in protocols)
    tuning_rows = P.tuning_split(X)
    the_peers = peers(quick)
    for peer in the_peers:
        if epochs and peer.epochs:
            peer.epochs = tuple(epochs)
    study = epochs is not None or protocols is not None
    path = peers_file(out_dir, ml.name)
    if study:
        path = path.with_name(f"{ml.name}-peers-study.json")
    expected = fingerprint(keyed, tuning_rows, quick, [p.__dict__ for p in the_peers],
                           SEED, THREADS, worker.versions, evaluation=evaluation_digest())
    kept = _reusable(path, expected, log)
    tuning = kept["tuning"] if kept else {}
    todo = [key for key in keyed if not kept or key not in kept["results"]]
    results = {}
    unscored = {key: n for key, n in (kept["meta"]["unscored_users"] if kept else {}).items()
                if key not in todo}
    tuned = [peer.name for peer in the_peers if peer.name not in tuning]
    for peer in the_peers:
        if peer.name in tuned:
            tuning[peer.name] = tune(peer, tuning_rows, catalog, worker, log)
        t = tuning[peer.name]
        chosen = (t["epochs"],) if peer.epochs else ()
        tasks = [(key, split) for key in todo for split in keyed[key]]
        out = worker.run([(key, split.train, np.asarray(pd.unique(split.test.user_id)), peer,
                           t["params"], chosen) for key, split in tasks]) if tasks else None
        for (key, split), task in zip(tasks, out["tasks"] if out else []):
            users = np.asarray(pd.unique(split.test.user_id))
            (result,) = task["epochs"].values()
            metrics = P.per_user_metrics(split, _top_columns(result["top"], users, catalog),
                                         users, catalog)
            record(results, key, peer.name, split, metrics, result["seconds"])
            unscored.setdefault(key, {}).setdefault(peer.name, 0)
            unscored[key][peer.name] += result.get("unscored", 0)
        log(f"  {peer.name}: {len(tasks)} splits ({len(keyed) - len(todo)} keys kept)")
    seconds = round(time.perf_counter() - t0, 1)
    computed = summarise(results)
    runs = _runs(kept, seconds, todo, tuned)
    summary = {
        "fingerprint": expected,
        # the runs that computed what the file holds, and their seconds in all
        "meta": {"seconds": round(sum(run["seconds"] for run in runs), 1), "runs": runs,
                 "seed": SEED, "threads": THREADS, "library": worker.versions, "quick": quick,
                 "not_in": "C-new, C-mix and D: RecTools' SASRec, BERT4Rec and EASE score "
                           "only items and users that have interactions",
                 # test users a peer gave no ranking (misses), per protocol key
                 "unscored_users": {key: unscored[key] for key in keyed if key in unscored}},
        "tuning": tuning,
        "results": {key: computed[key] if key in computed else kept["results"][key]
                    for key in keyed},
    }
    summary["meta"]["study"] = {"epochs": epochs, "protocols": protocols} if study else None
    write_peers(path, summary)
    log(f"wrote {path} in {seconds:.0f}s")
    return summary


def _reusable(path, expected, log):
    """The results of ``path`` that need no rerun: their tuning and current keys, or None.

    None when the file is missing or unreadable, or its peers, tuning rows,
    library or evaluation differ from ``expected`` (then everything runs
    again).
    """
    found, problem = load_peers(path)
    if found is None:
        if problem != "missing":
            log(f"  {path.name}: {problem}, every key runs again")
        return None
    changed = stale_parts(found.get("fingerprint", {}), expected)
    if changed:
        log(f"  {path.name}: {', '.join(changed)} changed, every key runs again")
        return None
    keys = current_keys(found, expected)
    found["results"] = {key: found["results"][key] for key in keys}
    log(f"  {path.name}: kept {len(keys)} keys and the tuning; "
        f"running {', '.join(k for k in expected['splits'] if k not in keys) or 'nothing'}")
    return found


def _runs(kept, seconds, computed, tuned):
    """Which run computed what: the kept runs that still hold a key or a tuning, and this one.

    A kept run's seconds stay those of its whole run.
    """
    from ._report import cpu_info

    earlier = [dict(run, keys=[k for k in run["keys"] if k not in computed])
               for run in (kept["meta"].get("runs", []) if kept else [])]
    this = {"date": time.strftime("%Y-%m-%d"), "machine": cpu_info()["cpu"],
            "seconds": seconds, "keys": list(computed), "tuned": tuned}
    return [run for run in earlier + [this] if run["keys"] or run["tuned"]]


def main(argv=None):
    from .movielens import add_data_arguments, dataset_from_arguments, movielens_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one candidate, one epoch")
    parser.add_argument("--out", default=None, help="output directory")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="the peers' venv")
    parser.add_argument("--epochs", help="a study: the transformers' epoch checkpoints, "
                        "e.g. 10,30,60,100 (written to <name>-peers-study.json)")
    parser.add_argument("--protocols", help="a study: only these protocols, e.g. A")
    add_data_arguments(parser, user_texts=False)
    args = parser.parse_args(argv)
    ml = dataset_from_arguments(parser, args) or movielens_dataset()
    refuse_quick_into_results(parser, args.quick, args.out)
    out = args.out or (tempfile.mkdtemp(prefix="peers-quick-") if args.quick else RESULTS)
    run(ml, quick=args.quick, out_dir=out, venv=args.venv,
        epochs=[int(e) for e in args.epochs.split(",")] if args.epochs else None,
        protocols=tuple(args.protocols.split(",")) if args.protocols else None)


if __name__ == "__main__":
    main()
