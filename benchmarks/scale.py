"""Scaling: end to end, Spark ALS against implicit, exact against approximate top-k.

Four parts, each measured in fresh processes, and a projection:

- **hybrid**: synthetic interactions from 1e5 to 1e7. For each size, in a
  fresh subprocess (so that memory is measured per size): generate the
  interactions (``make_synthetic_interactions``), hold out each user's last
  one, encode the item texts (TextEncoder, all-MiniLM-L6-v2), fit
  ``HybridRecommender`` (its default members: ALS, item-kNN, next-item),
  recommend the top 10 to every user, and score NDCG@10 on the held-out
  items. Each stage's wall time and peak resident memory are recorded.
- **grid**: a small grid search with ``GridSearchCV(n_jobs=2)`` and
  ``TextEncoder(memory=<dir>)`` counts the texts each process encodes.
- **spark**: ``SparkALSRecommender`` (``local[2]``) against
  ``ALSRecommender`` (implicit) at the same sizes and mapped settings, one
  process per engine and size: fit time, driver and JVM memory, NDCG@10
  (``benchmarks/_scale_spark.py``). A Spark fit predicted to take longer
  than ``--spark-budget-minutes`` runs fewer iterations, scaled after.
- **ann**: exact against approximate (HNSW) top-10 for 1e5 users x 5e4 and
  1e6 items (``benchmarks/_ann_bench.py``); efSearch chosen on a sweep of
  the small catalogue.
- **projection**: a cost model for 1e9 interactions and 1e7 items on a
  cluster, computed from the parts' measured constants and
  ``results/encoder.json``.

Run from the repository root on an otherwise idle machine::

    python benchmarks/scale.py                     # everything: about 40-55 min on 2 idle cores
    python benchmarks/scale.py --quick             # smallest sizes; writes scale-quick.*
    python benchmarks/scale.py --parts spark ann   # rerun some parts, keep the others' figures
    python benchmarks/scale.py --sizes 1e5 1e6

Writes benchmarks/results/scale.md, .json and .png. A part not run keeps its
figures (and its own date, command and machine) from the previous JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout first
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

import _report  # noqa: E402
import _scale_spark  # noqa: E402

# interactions -> (users, items); 1e7 is 100,000 users x 50,000 items
SHAPES = {10**5: (5_000, 2_500), 10**6: (25_000, 12_500), 10**7: (100_000, 50_000)}
STAGES = ("generate", "split", "encode", "fit", "top10", "evaluate")
PARTS = ("hybrid", "grid", "spark", "ann")
# approximate top-k: acceptance 4 of issue 16, and the choice of efSearch on the
# small catalogue, with a margin over the target since recall falls as the
# catalogue grows (sklearn_zsrec/_ann.py: 0.988, 0.993, 0.997 at efSearch 64, 128,
# 256 on 5x10^4 items)
ACCEPTANCE = {"recall": 0.98, "speedup": 3.0, "items": 10**6}
SWEEP_MAX_ITEMS = 10**5
SWEEP_RECALL = 0.995
ENCODER_BATCH = 32  # TextEncoder's default batch size, as the encoder sweep measured it
# the projection's constants, as the page names them: (key, text, scale, unit)
CONSTANTS = (
    ("spark_core_s_per_interaction_iteration", "Spark ALS sweep, per interaction and iteration", 1e6, "core-µs"),
    ("jvm_bytes_per_interaction", "Spark JVM resident memory per interaction", 1, "B"),
    ("driver_s_per_interaction", "driver: ids to positions + Arrow transfer, per interaction", 1e6, "µs"),
    ("driver_bytes_per_interaction", "driver Python memory in fit, per interaction", 1, "B"),
    ("collect_s_per_factor_row", "factors back to the driver, per user or item", 1e6, "µs"),
    ("implicit_core_s_per_interaction_iteration", "implicit ALS, per interaction and iteration", 1e6, "core-µs"),
    ("implicit_bytes_per_interaction", "implicit fit memory per interaction", 1, "B"),
    ("encoder_texts_per_s_per_core", "encoder, texts per second per core (auto precision)", 1, "texts/s"),
    ("encoder_texts_per_s_per_core_float32", "encoder, texts per second per core (float32)", 1, "texts/s"),
    ("encoder_process_bytes", "encoder process memory (model loaded, one batch)", 2**-20, "MiB"),
    ("exact_core_s_per_user_item", "exact top-10, per user-item pair", 1e9, "core-ns"),
    ("index_bytes_per_item", "HNSW index memory per item", 1, "B"),
)
# the cluster of the projection
PROJECTION = {"interactions": 1e9, "items": 1e7, "users": 1e8, "factors": 64, "iterations": 10,
              "workers": 50, "cores_per_worker": 8, "efficiency": 0.5, "big_machine_cores": 64}


def _shape(n):
    if n in SHAPES:
        return SHAPES[n]
    users = int(round(100_000 * (n / 1e7) ** 0.6))  # between the fixed points
    return users, max(users // 2, 10)


class _Memory(_scale_spark.ProcessMemory):
    """Peak RSS per stage of this process: VmHWM, reset through /proc/self/clear_refs."""

    def __init__(self):
        super().__init__("self")

    def start(self):
        self.reset()
        return self.rss()

    def peak(self):
        import resource

        hwm = super().peak()
        if hwm is not None:
            return hwm
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB


def child(n, out):
    """Run every stage for ``n`` interactions; write the numbers to ``out``."""
    from sklearn_zsrec import (
        ALSRecommender, HybridRecommender, ItemKNNRecommender, NextItemRecommender, TextEncoder,
        ZeroShotRecommender, embedding_cache_info,
    )  # fmt: skip
    from sklearn_zsrec._scores import _chunk_size
    from sklearn_zsrec.datasets import make_synthetic_interactions
    from sklearn_zsrec.metrics import ndcg_at_k
    from sklearn_zsrec.model_selection import train_test_split_last
    import pandas as pd

    n_users, n_items = _shape(n)
    mem = _Memory()
    stages, state = {}, {}

    def stage(name, fn):
        rss_before = mem.start()
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
        stages[name] = {"seconds": seconds, "peak_rss": mem.peak(), "rss_before": rss_before}
        print(f"  {n:.0e} {name}: {seconds:.1f} s, peak RSS {stages[name]['peak_rss'] / 2**30:.2f} GiB", flush=True)

    def generate():
        state["data"] = make_synthetic_interactions(n_users, n_items, n, n_topics=20, random_state=0)

    def split():
        state["train"], state["test"] = train_test_split_last(state["data"].interactions)

    def encode():
        encoder = TextEncoder(verbose=0).fit()
        state["precision"] = encoder.precision_
        encoder.transform(state["data"].item_text)  # kept in the in-process cache

    def fit():
        text = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=state["data"].item_text)
        misses = embedding_cache_info().misses
        members = [("als", ALSRecommender(factors=64, random_state=0)),
                   ("knn", ItemKNNRecommender()), ("next", NextItemRecommender())]
        # seeded: the learned blend's holdout is a random draw, and the blend it
        # picks decides the work of recommend (a rerun must give the same figures)
        state["model"] = HybridRecommender(text, members, random_state=0,
                                           verbose=0).fit(state["train"])
        state["fit_encoded"] = embedding_cache_info().misses - misses

    def top10():
        model = state["model"]
        state["recs"] = model.recommend(model.users_, n=10)

    def evaluate():
        model, test = state["model"], state["test"]
        rows = pd.Index(model.users_).get_indexer(test.user_id.to_numpy())
        assert (rows >= 0).all(), "every held-out user has training rows"
        truth = [[item] for item in test.item_id.to_numpy()]
        state["ndcg"] = ndcg_at_k(truth, state["recs"][rows], k=10)

    start = time.perf_counter()
    for name in STAGES:
        stage(name, locals()[name])
    total = time.perf_counter() - start
    data = state["data"]
    n_items_all = len(data.item_text)
    # a random ranking of the items a user has not seen: E[NDCG@10] ~ sum 1/log2(r+1) / n
    chance = float(sum(1 / np.log2(r + 1) for r in range(1, 11)) / n_items_all)
    result = {
        "n_interactions": int(len(data.interactions)),
        # the users and items the data holds (the generator's arguments are
        # upper bounds: 4,994 of 5,000 users at 1e5)
        "counted_from_data": True,
        "n_users": int(len(state["model"].users_)),
        "n_items": n_items_all,
        "n_train": int(len(state["train"])),
        "n_test": int(len(state["test"])),
        "precision": state["precision"],
        "texts_encoded_in_fit": int(state["fit_encoded"]),
        "ndcg_at_10": float(state["ndcg"]),
        "ndcg_at_10_random": chance,
        "stages": stages,
        "total_seconds": total,
        "peak_rss": max(s["peak_rss"] for s in stages.values()),
        "peak_per_stage": mem.resettable,
        # as recommend splits these users (evenly, ~2 MB of scores per chunk)
        "default_recommend_batch": _chunk_size(None, n_items_all, len(state["model"].users_)),
    }
    Path(out).write_text(json.dumps(result))


def grid_search_demo(quick):
    """Rows encoded per process in GridSearchCV(n_jobs=2) with and without a disk cache."""
    code = r'''
import json, os, sys, tempfile
sys.path.insert(0, sys.argv[1])
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn_zsrec import ALSRecommender, HybridRecommender, TextEncoder, ZeroShotRecommender
from sklearn_zsrec.datasets import make_synthetic_interactions
from sklearn_zsrec.model_selection import LeaveLastOut

LOG = os.environ["ZSREC_ENCODE_LOG"]

class CountingTextEncoder(TextEncoder):
    """TextEncoder that appends "pid rows" to a log each time the model runs."""
    def _encode(self, texts):
        with open(LOG, "a") as fh:
            fh.write(f"{os.getpid()} {len(texts)}\n")
        return super()._encode(texts)

def run(memory, warm):
    data = make_synthetic_interactions(400, 300, 6000, n_topics=6, random_state=0)
    encoder = CountingTextEncoder(memory=memory, verbose=0)
    if warm:  # encode once in the parent: the workers read the disk cache
        encoder.fit().transform(data.item_text)
    text = ZeroShotRecommender(encoder, item_texts=data.item_text)
    hybrid = HybridRecommender(text, [("als", ALSRecommender(factors=16, iterations=5,
                                                            random_state=0))], verbose=0)
    grid = {"switch": [1, 10], "als__factors": [8, 16]}
    search = GridSearchCV(hybrid, grid, cv=LeaveLastOut(n_splits=2), n_jobs=2).fit(data.interactions)
    return len(data.item_text), len(search.cv_results_["params"])

memory = sys.argv[2] if sys.argv[2] != "none" else None
n_items, n_candidates = run(memory, sys.argv[3] == "warm")
print(json.dumps({"n_items": n_items, "n_candidates": n_candidates, "parent": os.getpid()}))
'''
    root = str(Path(__file__).resolve().parents[1])
    scenarios = [
        ("no disk cache (memory=None)", "none", "cold"),
        ("memory=<dir>, empty at start", "dir", "cold"),
        ("memory=<dir>, filled by the parent first", "dir", "warm"),
    ]
    rows = []
    for label, memory, warm in scenarios:
        with tempfile.TemporaryDirectory(prefix="zsrec-grid-") as tmp:
            log = Path(tmp) / "encoded.log"
            env = dict(os.environ, ZSREC_ENCODE_LOG=str(log))
            location = str(Path(tmp) / "cache") if memory == "dir" else "none"
            proc = subprocess.run(
                [sys.executable, "-c", code, root, location, warm],
                capture_output=True, text=True, env=env, check=True,
            )
            info = json.loads(proc.stdout.strip().splitlines()[-1])
            per_pid = {}
            if log.exists():
                for line in log.read_text().split("\n"):
                    if line:
                        pid, count = map(int, line.split())
                        per_pid[pid] = per_pid.get(pid, 0) + count
            parent = per_pid.pop(info["parent"], 0)
            fits = info["n_candidates"] * 2 + 1
            rows.append(
                {
                    "scenario": label, "n_items": info["n_items"], "fits": fits,
                    "naive_rows": fits * info["n_items"], "parent_rows": parent,
                    "worker_rows": sum(per_pid.values()), "workers_encoding": len(per_pid),
                }
            )
            print(f"  grid search, {label}: parent {parent} rows, workers {rows[-1]['worker_rows']}", flush=True)
    return rows


# --- the parts: each runs its measurements in fresh processes and returns its JSON ---------------


def _subprocess_json(args):
    """Run this script with ``args`` (a child mode) in a fresh process; its JSON result."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    try:
        subprocess.run([sys.executable, __file__, *map(str, args), "--out", out], check=True)
        return json.loads(Path(out).read_text())
    finally:
        os.unlink(out)


def run_hybrid(sizes):
    results = []
    for n in sizes:
        print(f"{n:.0e} interactions, {_shape(n)[0]} users x {_shape(n)[1]} items", flush=True)
        results.append({"size": n, **_subprocess_json(["--child", n])})
    return {"sizes": results}


def run_spark(sizes, iterations, blocks, driver_memory, budget_s, quick):
    """implicit, then Spark, at each size; a Spark fit predicted past ``budget_s`` runs fewer sweeps."""
    runs, previous = [], []
    for n in sizes:
        for engine in ("implicit", "spark"):
            iters = iterations
            if engine == "spark" and not quick:
                iters = _scale_spark.iterations_within(previous, n, iterations, budget_s)
            print(f"{engine} ALS, {n:.0e} interactions, {iters} iterations", flush=True)
            result = _subprocess_json(["--spark-child", engine, n, "--iterations", iters,
                                       "--spark-blocks", blocks, "--spark-driver-memory", driver_memory])
            if engine == "spark":
                if iters == iterations:
                    previous.append(result)
                result = _scale_spark.full_iterations(result, iterations)
            runs.append(result)
    return {"runs": runs, "iterations": iterations, "factors": _scale_spark.FACTORS,
            "implicit_params": _scale_spark.IMPLICIT, "budget_s": budget_s}


def run_ann(cases, dim, ef_search, sweep, exact_pairs):
    """Exact against approximate top-10 per case; efSearch chosen on the sweep case (if any)."""
    sweep_case = min((c for c in cases if c[1] <= SWEEP_MAX_ITEMS), key=lambda c: c[1], default=None)
    chosen, rule = ef_search, "given with --ef-search"
    out = {"cases": [], "dim": dim, "sweep_case": sweep_case, "target": ACCEPTANCE}
    for users, items in sorted(cases, key=lambda c: c[1]):
        sample = min(users, max(1_000, int(exact_pairs // items)))
        values = None
        if (users, items) == sweep_case:
            values = sorted(set(sweep) | ({ef_search} if ef_search else set()))
        elif chosen is None:
            from sklearn_zsrec import _ann

            chosen, rule = _ann.EF_SEARCH, "the library's default (no small case measured)"
        print(f"ANN: {users} users x {items} items x {dim}-d, efSearch "
              f"{values or chosen or 'default'}, exact on {sample} users", flush=True)
        result = _subprocess_json(["--ann-child", f"{users}x{items}", "--dim", dim,
                                   "--ef-json", json.dumps(values if values else chosen),
                                   "--exact-sample", sample])
        if values:
            out["sweep"] = result["sweep"]
            good = [r for r in result["sweep"] if r["recall_at_10"] >= SWEEP_RECALL]
            if ef_search is None:
                best = min(good, key=lambda r: r["ef_search"]) if good else result["sweep"][-1]
                chosen = best["ef_search"]
                rule = (f"the smallest efSearch of the sweep with recall@10 >= {SWEEP_RECALL} on "
                        f"the {users:,} x {items:,} case" + ("" if good else " (none: the largest)"))
            pick = next(r for r in result["sweep"] if r["ef_search"] == chosen)
            result = {**{k: v for k, v in result.items() if k != "sweep"}, **pick}
        out["cases"].append(result)
    out["chosen_ef_search"], out["rule"] = chosen, rule
    return out


# --- the page ---------------------------------------------------------------------------------------


def _stamp(env):
    m, v = env["machine"], env["versions"]
    quick = "; **quick run**" if env.get("quick") else ""
    return (f"*Measured {env['date']} by `{env['command']}` on {_machine(m)}, "
            f"{m['ram_gib']} GiB; git {v.get('git_commit')}{quick}.*")


def _duration(seconds):
    if seconds is None or not np.isfinite(seconds):
        return "n/a"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds:.0f} s"


def _gib(nbytes):
    return "n/a" if nbytes is None else f"{nbytes / 2**30:.1f} GiB"


def section_hybrid(part):
    results = part["sizes"]
    gib = 2**30
    stage_rows = []
    for r in results:
        for name in STAGES:
            s = r["stages"][name]
            stage_rows.append({"size": f"{r['size']:.0e}", "stage": name, "seconds": s["seconds"],
                               "peak_gib": s["peak_rss"] / gib, "before_gib": (s["rss_before"] or 0) / gib})
    summary = _hybrid_summary(results)
    lines = [
        "## Hybrid end to end",
        "",
        _stamp(part["env"]),
        "",
        "- Data: `make_synthetic_interactions(n_users, n_items, n, n_topics=20, random_state=0)`; "
        "sizes 1e5 = 5,000 users x 2,500 items, 1e6 = 25,000 x 12,500, 1e7 = 100,000 x 50,000. "
        "Each user's last interaction is held out (`train_test_split_last`).",
        "- Stages, each timed and measured on its own, in one fresh process per size: "
        "**generate**, **split**, **encode** (`TextEncoder().transform(item_text)`, all-MiniLM-L6-v2, "
        "batch size 32; the embeddings stay in the in-process cache), **fit** "
        "(`HybridRecommender(ZeroShotRecommender(TextEncoder()), [ALS(factors=64), item-kNN, next-item], "
        "random_state=0)`; the "
        "encoder finds every text in the cache), **top10** (`recommend(all users, n=10)`, default "
        "`batch_size`), **evaluate** (NDCG@10 of the held-out items, from those top-10 lists).",
        "- Peak RSS per stage: `VmHWM` of /proc/self/status, reset before each stage by writing 5 to "
        "/proc/self/clear_refs" + ("" if all(r["peak_per_stage"] for r in results) else
                                   " (not permitted here: the peaks are cumulative, `ru_maxrss`-like)") + ".",
        "- Nothing builds a users x items dense matrix: `recommend` scores users in batches of about "
        "2 MB of float32 scores (at least 64 users) and the zero-shot user profiles are computed in chunks "
        "of 16,384 users.",
        "- NDCG@10 by chance (a random ranking) is about 4.5 / n_items.",
        *_nominal_note(results, "users and items", batch=True),
        "",
        "### Totals (target for 1e7: under 15 min and under 8 GiB)",
        "",
        _report.table(summary, [
            ("size", "interactions", ""), ("users", "users", "d"), ("items", "items", "d"),
            ("interactions", "rows", "d"), ("total_min", "total min", ".2f"), ("peak_gib", "peak RSS GiB", ".2f"),
            ("ndcg", "NDCG@10", ".4f"), ("chance", "NDCG@10 by chance", ".4f"),
            ("fit_encoded", "texts encoded in fit", "d"), ("batch", "users per top-k batch", "d"),
            ("precision", "encoder precision", ""),
        ]),
        "",
        "### Stages",
        "",
        _report.table(stage_rows, [
            ("size", "interactions", ""), ("stage", "stage", ""), ("seconds", "seconds", ".1f"),
            ("before_gib", "RSS before GiB", ".2f"), ("peak_gib", "peak RSS GiB", ".2f"),
        ]),
        "",
    ]
    if len(results) > 1:
        # the log-log slope of each stage's time between consecutive sizes
        growth = []
        for name in STAGES + ("total",):
            row = {"stage": name}
            for lo, hi in zip(results, results[1:]):
                t = [(r["total_seconds"] if name == "total" else r["stages"][name]["seconds"])
                     for r in (lo, hi)]
                key = f"{lo['size']:.0e} to {hi['size']:.0e}"
                row[key] = (np.log(t[1] / t[0]) / np.log(hi["size"] / lo["size"])
                            if min(t) > 0 else float("nan"))
            growth.append(row)
        keys = [k for k in growth[0] if k != "stage"]
        lines += [
            "### How each stage grows",
            "",
            "Exponent of the time in the number of interactions, between consecutive sizes "
            "(1 = linear; the catalogue and the users grow with the interactions here, so a "
            "stage that scales with users x items shows 1.2 to 1.4). Stages under 0.1 s "
            "are timer noise.",
            "",
            _report.table(growth, [("stage", "stage", "")] + [(k, k, ".2f") for k in keys]),
            "",
        ]
    return lines


def _nominal_note(runs, what, batch=False):
    """A bullet for runs made before the users and items were counted from the data."""
    if all(r.get("counted_from_data") for r in runs):
        return []
    return [f"- Runs before 2026-12-05 record as {what} the generator's arguments (e.g. 5,000 "
            "users where the data held 4,994)"
            + (", and a top-k batch computed without the number of users (64 where `recommend` "
               "used 65)" if batch else "") + "; runs since record the data's own."]


def _hybrid_summary(results):
    gib = 2**30
    return [
        {"size": f"{r['size']:.0e}", "users": r["n_users"], "items": r["n_items"],
         "interactions": r["n_interactions"], "total_s": r["total_seconds"], "total_min": r["total_seconds"] / 60,
         "peak_gib": r["peak_rss"] / gib, "ndcg": r["ndcg_at_10"], "chance": r["ndcg_at_10_random"],
         "fit_encoded": r["texts_encoded_in_fit"], "batch": r["default_recommend_batch"],
         "precision": r.get("precision")}
        for r in results
    ]


def section_grid(part):
    return [
        "## GridSearchCV(n_jobs=2) and the disk cache",
        "",
        _stamp(part["env"]),
        "",
        "A hybrid on a synthetic set (300 item texts), 4 candidates x 2 folds + the refit = 9 fits, "
        "`GridSearchCV(n_jobs=2)` (loky worker processes). A `TextEncoder` subclass appends to a "
        "log the number of texts each process runs through the model (cache misses).",
        "",
        _report.table(part["rows"], [
            ("scenario", "scenario", ""), ("fits", "fits", "d"),
            ("naive_rows", "rows if every fit encoded", "d"), ("parent_rows", "rows encoded by the parent", "d"),
            ("worker_rows", "rows encoded by workers", "d"), ("workers_encoding", "workers that encoded", "d"),
        ]),
        "",
        "Without a disk cache each process (every worker, and the parent for the refit) encodes "
        "the catalog once: its in-memory cache serves its later fits. With `memory=<dir>`, a text "
        "on disk is never encoded again; but workers that start at once on an empty directory "
        "may each encode it (the cache has no cross-process lock), so fill it once first (the "
        "last scenario): then the workers encode nothing.",
        "",
    ]


def _engine_pairs(part):
    """``[(implicit, spark)]`` results per size, in size order."""
    by = {(r["engine"], r["size"]): r for r in part["runs"]}
    sizes = sorted({r["size"] for r in part["runs"]})
    return [(by.get(("implicit", n)), by.get(("spark", n))) for n in sizes]


def section_spark(part):
    gib = 2**30
    rows, steps = [], []
    scaled = []
    for imp, spk in _engine_pairs(part):
        ref = imp or spk
        row = {"size": f"{ref['size']:.0e}", "shape": f"{ref['n_users']:,} x {ref['n_items']:,}"}
        if imp:
            row.update(imp_fit=imp["fit_seconds"], imp_ndcg=imp["ndcg_at_10"],
                       imp_rss=imp["driver_peak_rss"] / gib)
        if spk:
            mark = "*" if spk.get("scaled_from_iterations") else ""
            if mark:
                scaled.append(spk)
            row.update(spk_fit=f"{spk['fit_seconds']:.1f}{mark}",
                       spk_ndcg=f"{spk['ndcg_at_10']:.4f}{mark}",
                       spk_rss=spk["driver_peak_rss"] / gib,
                       jvm=(spk["jvm_peak_rss"] or 0) / gib if spk.get("jvm_peak_rss") else None,
                       session=spk["stages"]["session"]["seconds"])
            p = spk["fit_parts"]
            steps.append({"size": row["size"], **{k: p.get(k) for k in _scale_spark.FIT_PARTS},
                          "iters": f"{spk['iterations']}{mark}",
                          "per_iter": p["als"] / spk["iterations"],
                          "core_us": 1e6 * _scale_spark.per_interaction_iteration(spk)})
        if imp and spk:
            row["ratio"] = spk["fit_seconds"] / imp["fit_seconds"]
            row["ratio_als"] = spk["fit_parts"]["als"] / imp["fit_seconds"]
        rows.append(row)
    spk0 = next((s for _, s in _engine_pairs(part) if s), None)
    imp_params = ", ".join(f"{k}={v}" for k, v in part["implicit_params"].items())
    lines = [
        "## Spark ALS against implicit",
        "",
        _stamp(part["env"]),
        "",
        "- Data and split as in the hybrid part (`make_synthetic_interactions`, the same shapes, "
        f"each user's last interaction held out). `ALSRecommender(factors={part['factors']}, {imp_params}, "
        f"iterations={part['iterations']}, random_state=0)` (implicit, {spk0['cores'] if spk0 else 2} "
        "threads) against `SparkALSRecommender` at the mapped settings of its docstring: "
        f"`rank={part['factors']}, max_iter={part['iterations']}, alpha={part['implicit_params']['alpha'] - 1:g}` "
        "(confidence 1 + alpha w there, alpha w here, weights of 1), `reg_param = "
        f"{part['implicit_params']['regularization']:g} / (mean training interactions per user)` "
        "(Spark scales it by each row's count)"
        + (f", `num_blocks={spk0['num_blocks']}`, in a `local[{spk0['cores']}]` session with "
           f"`spark.driver.memory={spk0['driver_memory']}` (pyspark {spk0['spark']}, Arrow transfers)"
           if spk0 else "") + ". Each engine and size in a fresh process.",
        "- **fit** is `fit(train)`: for Spark it excludes the session start (its own column) and "
        "includes the ids to positions on the driver, the transfer to Spark, the sweeps and the "
        "factors back (the steps table). NDCG@10 of each user's held-out last interaction, "
        "ranked by our own masked top-k.",
        *_nominal_note([r for pair in _engine_pairs(part) for r in pair if r], "users x items"),
        "- Memory: **driver RSS** is the peak resident memory of the Python process (`VmHWM`, reset "
        "per stage); **JVM RSS** the peak resident memory of the `java` process Spark starts below it "
        "(its own `VmHWM` in /proc/<pid>/status, reset per stage through its clear_refs): heap the "
        "JVM has touched, not live data (the heap grows up to `spark.driver.memory` before a full "
        "garbage collection).",
        "",
        _report.table(rows, [
            ("size", "interactions", ""), ("shape", "users x items", ""),
            ("imp_fit", "implicit fit s", ".1f"), ("spk_fit", "Spark fit s", ""),
            ("ratio", "Spark / implicit", ".1f"), ("ratio_als", "sweeps only / implicit", ".1f"),
            ("session", "Spark session start s", ".1f"),
            ("imp_ndcg", "implicit NDCG@10", ".4f"), ("spk_ndcg", "Spark NDCG@10", ""),
            ("imp_rss", "implicit RSS GiB", ".2f"), ("spk_rss", "Spark driver RSS GiB", ".2f"),
            ("jvm", "Spark JVM RSS GiB", ".2f"),
        ]),
        "",
        "Steps of Spark's fit (seconds; core-µs = sweep time x cores / (interactions x iterations), "
        "the constant of the projection below):",
        "",
        _report.table(steps, [
            ("size", "interactions", ""), ("index", "ids to positions", ".1f"),
            ("to_spark", "to Spark (Arrow)", ".1f"), ("als", "ALS.fit", ".1f"),
            ("collect", "factors back", ".1f"), ("iters", "iterations", ""),
            ("per_iter", "s per iteration", ".2f"), ("core_us", "core-µs per interaction-iteration", ".3f"),
        ]),
        "",
    ]
    for spk in scaled:
        lines += [
            f"\\* At {spk['size']:.0e}, Spark's fit with {part['iterations']} iterations was predicted "
            f"(from the smaller sizes) to take over {part['budget_s'] / 60:.0f} min, so it ran "
            f"{spk['scaled_from_iterations']} iterations ({spk['measured_fit_seconds']:.1f} s): its ALS "
            f"time is scaled by {part['iterations']}/{spk['scaled_from_iterations']} (an upper bound: the "
            "blocking of the ratings is paid once) and the NDCG@10 is that of "
            f"{spk['scaled_from_iterations']} iterations.",
            "",
        ]
    return lines


def section_ann(part):
    cases = part["cases"]
    rows = [{
        "shape": f"{c['users']:,} x {c['items']:,}", "interactions": c["interactions"],
        "generate": c["generate_s"], "build": c["build_s"], "index_gib": c["index_bytes"] / 2**30,
        "exact": f"{c['exact_s']:.1f}" + ("*" if c["exact_scaled"] else ""),
        "approximate": c["approximate_s"], "speedup": c["speedup"], "recall": c["recall_at_10"],
        "seen": c["seen_returned"], "ef": c["ef_search"], "peak": c["peak_rss"] / 2**30,
    } for c in cases]
    c0 = cases[0]
    lines = [
        "## Exact against approximate top-10",
        "",
        _stamp(part["env"]),
        "",
        f"- `benchmarks/_ann_bench.run`: synthetic ALS-like {part['dim']}-d factors (topic "
        "clusters, item norms growing with a Zipf popularity) and histories drawn by popularity "
        "(log-normal lengths, median 20), so that seen items crowd the top of the rankings; one "
        "fresh process per shape. **exact** is `recommend(all users, 10)`, **approximate** "
        "`recommend(all users, 10, approximate=True)` once the HNSW index (faiss `IndexHNSWFlat`, "
        f"M={c0['M']}, efConstruction={c0['ef_construction']}, faiss {c0['faiss']}, "
        f"{c0['faiss_threads']} threads) is built (**build**, timed apart; **index GiB** is the "
        "resident memory it added). Both exclude seen items; recall@10 counts items tied with the "
        "exact 10th score as hits; **seen** counts training items in the approximate lists of all users.",
        f"- efSearch: {part['chosen_ef_search']} ({part['rule']}); the sweep below was measured on "
        "the small catalogue only, never on the 10^6-item case, whose figures are the test.",
        "",
        _report.table(rows, [
            ("shape", "users x items", ""), ("interactions", "seen pairs", "d"),
            ("ef", "efSearch", "d"), ("build", "build s", ".1f"), ("index_gib", "index GiB", ".2f"),
            ("exact", "exact s", ""), ("approximate", "approximate s", ".1f"),
            ("speedup", "speed-up", ".1f"), ("recall", "recall@10", ".4f"), ("seen", "seen returned", "d"),
            ("peak", "peak RSS GiB", ".2f"),
        ]),
        "",
    ]
    for c in cases:
        if c["exact_scaled"]:
            lines += [f"\\* {c['users']:,} x {c['items']:,}: exact search timed on "
                      f"{c['exact_users_timed']:,} users drawn at random ({c['exact_sample_s']:.1f} s) "
                      "and scaled linearly to all users; recall@10 is measured on those users.", ""]
    if part.get("sweep"):
        users, items = part["sweep_case"]
        lines += [f"efSearch sweep on {users:,} users x {items:,} items (approximate search of all users "
                  "on the same index):", "",
                  _report.table(part["sweep"], [
                      ("ef_search", "efSearch", "d"), ("approximate_s", "approximate s", ".2f"),
                      ("speedup", "speed-up", ".1f"), ("recall_at_10", "recall@10", ".4f"),
                      ("seen_returned", "seen returned", "d")]), ""]
    big = [c for c in cases if c["items"] >= ACCEPTANCE["items"]]
    if big:
        c = big[-1]
        met = c["recall_at_10"] >= ACCEPTANCE["recall"] and c["speedup"] >= ACCEPTANCE["speedup"]
        verdict = "**met**" if met and c["seen_returned"] == 0 else "**not met**"
        lines += [f"Target (recall@10 >= {ACCEPTANCE['recall']} at >= {ACCEPTANCE['speedup']:g}x less "
                  f"query time than exact, at {ACCEPTANCE['items']:,} items, no seen item): {verdict} — "
                  f"recall@10 {c['recall_at_10']:.4f}, {c['speedup']:.1f}x, {c['seen_returned']} seen.", ""]
    else:
        lines += [f"Target (at {ACCEPTANCE['items']:,} items): not measured in this run.", ""]
    return lines


# --- the projection -------------------------------------------------------------------------------


def _encoder_rates():
    """Texts per second per core from results/encoder.json (one thread per process), or None."""
    path = _report.RESULTS / "encoder.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    one = [r for r in data.get("sweep", []) if r["threads"] == 1 and r["batch_size"] == ENCODER_BATCH]
    rate = {r["config"]: r["texts_per_s"] for r in one}
    auto = rate.get("TextEncoder auto")
    if auto is None and data.get("precision_auto") == "float32":
        # encoder.py times no separate auto row where auto chose float32
        auto = rate.get("TextEncoder float32")
    return {"date": data["date"], "cpu": data["machine"]["cpu"], "batch_size": ENCODER_BATCH,
            "tokens_per_text": data["n_tokens"] / data["n_texts"],
            "auto": auto, "float32": rate.get("TextEncoder float32"),
            "precision_auto": data.get("precision_auto")}


def _power(x0, y0, x1, y1, x):
    """``y`` at ``x`` on the power law through two points (log-log line); ``y0`` if one point."""
    if x1 == x0:
        return y0
    b = np.log(y1 / y0) / np.log(x1 / x0)
    return y0 * (x / x0) ** b


def _marginal(runs, value, size=lambda r: r["n_train"]):
    """Cost per unit of size: the slope between the two largest runs, or value / size for one.

    The slope leaves out fixed costs (session, imports, the JVM's first heap),
    which dominate small runs; a slope that is not positive (noise) falls
    back to the largest run's ratio. Returns ``(cost, how)``.
    """
    last = runs[-1]
    if len(runs) > 1:
        prev = runs[-2]
        slope = (value(last) - value(prev)) / (size(last) - size(prev))
        if slope > 0:
            return slope, f"slope between {prev['size']:.0e} and {last['size']:.0e}"
    return value(last) / size(last), f"ratio at {last['size']:.0e}"


def projection(parts):
    """The cost model for ``PROJECTION``, from the measured constants; rows and notes."""
    P = dict(PROJECTION)
    N, U, I, r, it = P["interactions"], P["users"], P["items"], P["factors"], P["iterations"]
    W, C, E = P["workers"], P["cores_per_worker"], P["efficiency"]
    cores = W * C
    f32 = 4
    rows, missing, constants = [], [], {}

    spark = parts.get("spark")
    spk = imp = None
    if spark:
        pairs = _engine_pairs(spark)
        sparks, implicits = [s for _, s in pairs if s], [i for i, _ in pairs if i]
        spk, imp = (sparks or [None])[-1], (implicits or [None])[-1]
    if spk:
        fit = lambda r: r["stages"]["fit"]  # noqa: E731
        c_als, how = _marginal(sparks, lambda r: r["fit_parts"]["als"] * r["cores"] / r["iterations"])
        driver_b, _ = _marginal(sparks, lambda r: fit(r)["peak_rss"] - (r["stages"]["generate"]["rss_before"] or 0))
        jvm_b = (_marginal(sparks, lambda r: r["jvm_peak_rss"] - (r["jvm_rss_idle"] or 0))[0]
                 if all(r.get("jvm_peak_rss") for r in sparks) else None)
        driver_s, _ = _marginal(sparks, lambda r: r["fit_parts"]["index"] + r["fit_parts"]["to_spark"])
        collect_s, _ = _marginal(sparks, lambda r: r["fit_parts"]["collect"],
                                 lambda r: r["n_users"] + r["n_items"])
        constants.update({
            "spark_core_s_per_interaction_iteration": c_als, "spark_constants_from": how,
            "driver_bytes_per_interaction": driver_b, "jvm_bytes_per_interaction": jvm_b,
            "driver_s_per_interaction": driver_s, "collect_s_per_factor_row": collect_s})
        als_cpu = c_als * N * it
        factor_bytes = (U + I) * r * f32
        worker_mem = (jvm_b or 0) * N / W + 2 * factor_bytes / W + I * r * f32
        rows += [
            {"stage": "ids to positions, interactions to Spark (as implemented)", "where": "driver, 1 process",
             "work": f"{driver_s * 1e6:.2f} µs x {N:.0e} interactions",
             "time": _duration(driver_s * N), "memory": f"driver {_gib(driver_b * N)}"},
            {"stage": f"ALS, {it} sweeps, rank {r}", "where": f"Spark, {W} x {C} cores",
             "work": f"{c_als * 1e6:.3f} core-µs x {N:.0e} x {it}",
             "time": f"{_duration(als_cpu / cores)} ideal, {_duration(als_cpu / cores / E)} at {E:.0%}",
             "memory": f"{_gib(worker_mem)} per worker"},
            {"stage": "factors back to numpy (as implemented)", "where": "driver",
             "work": f"{collect_s * 1e6:.1f} µs x {U + I:.1e} rows",
             "time": _duration(collect_s * (U + I)), "memory": f"driver {_gib(2 * factor_bytes)}"},
        ]
    else:
        missing.append("Spark ALS (run `--parts spark`)")
    if imp:
        c_imp, _ = _marginal(implicits, lambda r: r["fit_seconds"] * r["cores"] / r["iterations"])
        imp_b, _ = _marginal(implicits, lambda r: (r["stages"]["fit"]["peak_rss"]
                                                   - (r["stages"]["generate"]["rss_before"] or 0)))
        constants.update({"implicit_core_s_per_interaction_iteration": c_imp,
                          "implicit_bytes_per_interaction": imp_b})
        big = P["big_machine_cores"]
        rows.append({"stage": f"alternative: implicit ALS on one {big}-core machine", "where": "one machine",
                     "work": f"{c_imp * 1e6:.3f} core-µs x {N:.0e} x {it}",
                     "time": _duration(c_imp * N * it / big),
                     "memory": f"{_gib(imp_b * N + (U + I) * r * f32)} (interactions + factors)"})

    enc = _encoder_rates()
    hybrid = parts.get("hybrid")
    model_mem = None
    if hybrid and hybrid.get("sizes"):
        e = hybrid["sizes"][0]["stages"]["encode"]
        model_mem = e["peak_rss"] - (e["rss_before"] or 0)
    if enc and enc["auto"]:
        constants.update({"encoder_texts_per_s_per_core": enc["auto"],
                          "encoder_texts_per_s_per_core_float32": enc["float32"],
                          "encoder_process_bytes": model_mem})
        t_auto, t_f32 = I / (enc["auto"] * cores), I / (enc["float32"] * cores)
        rows.append({"stage": f"encode {I:.0e} item texts", "where": f"Spark pandas_udf, {cores} Python workers",
                     "work": f"{I:.0e} / ({enc['auto']:.0f} texts/s/core, {enc['precision_auto']})",
                     "time": f"{_duration(t_auto)} ({_duration(t_f32)} in float32)",
                     "memory": (f"{_gib(C * model_mem)} per worker ({C} Python workers)"
                                if model_mem else "n/a")})
    else:
        missing.append("encoder rates (run benchmarks/encoder.py)")

    ann = parts.get("ann")
    if ann and ann.get("cases"):
        cases = sorted(ann["cases"], key=lambda c: c["items"])
        lo, hi = cases[0], cases[-1]
        threads = hi["faiss_threads"]

        def per(c, key, unit):
            return c[key] * threads / unit(c)

        build = lambda n: _power(lo["items"], per(lo, "build_s", lambda c: c["items"]),  # noqa: E731
                                 hi["items"], per(hi, "build_s", lambda c: c["items"]), n)
        query = lambda n: _power(lo["items"], per(lo, "approximate_s", lambda c: c["users"]),  # noqa: E731
                                 hi["items"], per(hi, "approximate_s", lambda c: c["users"]), n)
        exact_pair = per(hi, "exact_s", lambda c: c["users"] * c["items"])
        index_b = hi["index_bytes"] / hi["items"]
        shard = I / W
        growth = (f"as the power law through the measured {lo['items']:,} and {hi['items']:,} items"
                  if hi["items"] != lo["items"] else
                  f"not at all (one catalogue size measured, {hi['items']:,} items: an underestimate)")
        constants.update({"exact_core_s_per_user_item": exact_pair, "index_bytes_per_item": index_b,
                          "hnsw_growth": growth,
                          "hnsw_build_core_s_per_item": {int(lo["items"]): build(lo["items"]),
                                                         int(hi["items"]): build(hi["items"])},
                          "hnsw_query_core_s_per_user": {int(lo["items"]): query(lo["items"]),
                                                         int(hi["items"]): query(hi["items"])}})
        rows += [
            {"stage": f"top-10 of {U:.0e} users, exact", "where": f"{W} x {C} cores (not provided: see below)",
             "work": f"{exact_pair * 1e9:.2f} core-ns x {U:.0e} x {I:.0e}",
             "time": _duration(exact_pair * U * I / cores), "memory": f"{_gib(I * r * f32)} item factors per worker"},
            {"stage": "HNSW, one index of all items", "where": f"built on one {C}-core machine, copied to workers",
             "work": f"build {build(I) * 1e6:.0f} core-µs x {I:.0e}; query {query(I) * 1e3:.2f} core-ms x {U:.0e}",
             "time": f"build {_duration(build(I) * I / C)}, query {_duration(query(I) * U / cores)}",
             "memory": f"{_gib(index_b * I)} per worker"},
            {"stage": f"HNSW, {W} shards of {shard:.0e} items", "where": "one shard per worker, results merged",
             "work": f"build {build(shard) * 1e6:.0f} core-µs x {shard:.0e}; query {query(shard) * 1e3:.2f} core-ms "
                     f"x {U:.0e} x {W} shards",
             "time": f"build {_duration(build(shard) * shard / C)}, query {_duration(query(shard) * U * W / cores)}",
             "memory": f"{_gib(index_b * shard)} per worker"},
        ]
    else:
        missing.append("ANN (run `--parts ann`)")
    return {"scenario": P, "constants": constants, "rows": rows, "missing": missing}


def section_projection(proj):
    P = proj["scenario"]
    lines = [
        f"## Projection: {P['interactions']:.0e} interactions, {P['items']:.0e} items on a cluster",
        "",
        f"A cost model, computed by `benchmarks/scale.py` from the measured constants above (and "
        f"`results/encoder.json`), not a measurement. Assumed: {P['users']:.0e} users, rank "
        f"{P['factors']}, {P['iterations']} ALS sweeps, {P['workers']} workers x "
        f"{P['cores_per_worker']} cores; times are work / cores (\"ideal\": linear in cores) and, for "
        f"Spark's sweeps, at {P['efficiency']:.0%} parallel efficiency (local mode measured no network "
        "shuffle, which a cluster adds). Rates per core come from the 2-core machine of each part.",
        "",
    ]
    if proj["rows"]:
        lines += [_report.table(proj["rows"], [("stage", "stage", ""), ("where", "runs where", ""),
                                               ("work", "work (measured constant x size)", ""),
                                               ("time", "time", ""), ("memory", "memory", "")]), ""]
    k = proj["constants"]
    described = [(key, text, scale, unit) for key, text, scale, unit in CONSTANTS if k.get(key) is not None]
    table = [{"constant": text, "value": f"{k[key] * scale:.4g} {unit}"}
             for key, text, scale, unit in described]
    for key, text, scale, unit in (("hnsw_build_core_s_per_item", "HNSW build, per item", 1e6, "core-µs"),
                                   ("hnsw_query_core_s_per_user", "HNSW top-10 query, per user", 1e3, "core-ms")):
        for items, value in (k.get(key) or {}).items():
            table.append({"constant": f"{text}, {int(items):,} items", "value": f"{value * scale:.4g} {unit}"})
    if table:
        lines += ["Measured constants (per core where timed; Spark's and implicit's "
                  + (f"from the {k['spark_constants_from']} interactions"
                     if k.get("spark_constants_from") else "") + "):", "",
                  _report.table(table, [("constant", "constant", ""), ("value", "value", "")]), ""]
    if proj["missing"]:
        lines += ["Not projected (no measurement on this page): " + "; ".join(proj["missing"]) + ".", ""]
    notes = [
        "How to read it:",
        "",
        "- **Spark ALS** runs on the cluster; memory per worker = its share of the rating blocks "
        "(the JVM's resident bytes per interaction measured in `local` mode, "
        + (f"{k['jvm_bytes_per_interaction']:.0f} B" if k.get("jvm_bytes_per_interaction") else "n/a")
        + ", an upper bound: touched heap) + two copies of its share of the factors + the whole "
          "item factor matrix (the most a block's users can need).",
        "- **As implemented, `SparkALSRecommender.fit` goes through the driver**: it builds "
        "`user_items_` and the int32 positions from a pandas DataFrame there (a Spark DataFrame "
        "is brought over with `toPandas`) and pulls both factor matrices into numpy. At this "
        "scale the driver needs the memory of the first and third rows, in one process; running it "
        "on the cluster would need the ids indexed in Spark and the factors written to storage "
        "(not implemented).",
        "- **Encoding** runs in a Spark iterator `pandas_udf` (`spark_text_encoder_udf`), one Python "
        "worker per core, each loading the model once (memory per process measured as the encode "
        "stage's resident growth above; model load, a few seconds per worker, not counted). The "
        "rate is that of MovieLens titles ("
        + (f"{_encoder_rates()['tokens_per_text']:.1f} tokens" if _encoder_rates() else "n/a")
        + " per text, batch 32, one thread per process); longer texts cost about proportionally "
          "more, and CPUs where `precision=\"auto\"` chooses float32 (without AMX) run at the "
          "float32 rate.",
        "- **Top-10 for every user**: the library's `recommend` runs in one process (with "
        "`approximate=True`, on one index). Spreading it over the workers (user factor blocks "
        "through `mapPartitions`, the index or item factors broadcast) is what the rows assume; "
        "it is not provided. HNSW build and query cost per item / per user grow with the catalogue "
        + k.get("hnsw_growth", "(not measured)") + "; recall at 10^7 items is not "
        "measured (it falls as the catalogue grows: raise efSearch and re-measure). One index "
        "per worker is the cheaper query; shards trade memory for W times more queries.",
        "- **Alternative**: implicit's ALS on one large machine (its bytes per interaction and "
        "core-µs measured above) avoids the cluster when the interactions fit in its memory.",
    ]
    return lines + notes + [""]


# --- figure ---------------------------------------------------------------------------------------


def figure(parts):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gib = 2**30
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    (ax1, ax2, ax3), (ax4, ax5, ax6) = axes
    hybrid = (parts.get("hybrid") or {}).get("sizes") or []
    if hybrid:
        xs = [r["n_interactions"] for r in hybrid]
        for name in STAGES:
            ax1.plot(xs, [r["stages"][name]["seconds"] for r in hybrid], "-o", label=name)
            ax2.plot(xs, [r["stages"][name]["peak_rss"] / gib for r in hybrid], "-o", label=name)
        ax1.plot(xs, [r["total_seconds"] for r in hybrid], "k--", label="total")
        ax1.axhline(15 * 60, color="r", lw=0.8, ls=":", label="15 min")
        ax2.axhline(8, color="r", lw=0.8, ls=":", label="8 GiB")
    ax1.set_title("hybrid end to end: time per stage")
    ax2.set_title("hybrid end to end: peak RSS per stage")
    spark = parts.get("spark")
    if spark:
        pairs = _engine_pairs(spark)
        for engine, index, style in (("implicit", 0, "-o"), ("spark", 1, "-s")):
            runs = [p[index] for p in pairs if p[index]]
            xs = [r["n_train"] for r in runs]
            ax3.plot(xs, [r["fit_seconds"] for r in runs], style, label=f"{engine} fit")
            ax4.plot(xs, [r["driver_peak_rss"] / gib for r in runs], style, label=f"{engine} Python RSS")
            if engine == "spark":
                ax3.plot(xs, [r["fit_parts"]["als"] for r in runs], ":s", label="spark ALS.fit only")
                ax4.plot(xs, [(r.get("jvm_peak_rss") or 0) / gib for r in runs], "--s", label="spark JVM RSS")
                for r in runs:
                    if r.get("scaled_from_iterations"):
                        ax3.annotate(f"scaled from {r['scaled_from_iterations']} it.",
                                     (r["n_train"], r["fit_seconds"]), fontsize=7)
    ax3.set_title("ALS fit time, Spark local vs implicit")
    ax4.set_title("ALS peak memory")
    for ax, label in ((ax1, "wall time (s)"), (ax2, "peak RSS (GiB)"),
                      (ax3, "fit wall time (s)"), (ax4, "peak RSS (GiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("interactions")
        ax.set_ylabel(label)
    ann = parts.get("ann")
    if ann and ann.get("cases"):
        cases = ann["cases"]
        pos = np.arange(len(cases))
        ax5.bar(pos - 0.2, [c["exact_s"] for c in cases], 0.4, label="exact")
        ax5.bar(pos + 0.2, [c["approximate_s"] for c in cases], 0.4, label="approximate")
        for i, c in enumerate(cases):
            ax5.annotate(f"recall {c['recall_at_10']:.3f}\n{c['speedup']:.1f}x", (i + 0.2, c["approximate_s"]),
                         ha="center", va="bottom", fontsize=7)
        ax5.set_xticks(pos, [f"{c['users']:.0e} x {c['items']:.0e}" for c in cases])
        ax5.set_yscale("log")
        ax5.set_ylabel("top-10 of all users (s)")
        if ann.get("sweep"):
            sw = ann["sweep"]
            ax6.plot([s["approximate_s"] for s in sw], [s["recall_at_10"] for s in sw], "-o")
            for s in sw:
                ax6.annotate(f"ef {s['ef_search']}", (s["approximate_s"], s["recall_at_10"]), fontsize=7)
            ax6.axhline(ACCEPTANCE["recall"], color="r", lw=0.8, ls=":", label=f"recall {ACCEPTANCE['recall']}")
            ax6.set_xlabel("approximate top-10 of all users (s)")
            ax6.set_ylabel("recall@10")
    ax5.set_title("exact vs approximate top-10")
    ax6.set_title("efSearch sweep (small catalogue)")
    for ax in axes.ravel():
        if ax.has_data():
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


# --- driver ---------------------------------------------------------------------------------------


def load_parts(quick):
    """The parts of the last page (results/scale[-quick].json); an older single-run page is read too."""
    path = _report.RESULTS / ("scale-quick.json" if quick else "scale.json")
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if "parts" in data:
        return data["parts"]
    env = {k: data[k] for k in ("date", "command", "machine", "versions", "quick") if k in data}
    parts = {}
    if data.get("sizes"):
        parts["hybrid"] = {"env": env, "sizes": data["sizes"]}
    if data.get("grid_search"):
        parts["grid"] = {"env": env, "rows": data["grid_search"]}
    return parts


def _case(text):
    users, items = text.lower().split("x")
    return int(float(users)), int(float(items))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smallest sizes only (1e5 interactions, Spark with 2 iterations, ANN 1e4 x 2e4); "
                             "writes scale-quick.*")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                        help="parts to run (default: all); the others keep their figures from the last page")
    parser.add_argument("--sizes", nargs="+", type=float, default=None,
                        help="numbers of interactions, hybrid and Spark parts (default 1e5 1e6 1e7; "
                             "1e5 with --quick)")
    parser.add_argument("--no-grid", action="store_true", help="skip the GridSearchCV demonstration")
    parser.add_argument("--iterations", type=int, default=None,
                        help="ALS iterations of the Spark part (default 10; 2 with --quick)")
    parser.add_argument("--spark-blocks", type=int, default=4, help="SparkALSRecommender num_blocks (default 4)")
    parser.add_argument("--spark-driver-memory", default="8g", help="spark.driver.memory (default 8g)")
    parser.add_argument("--spark-budget-minutes", type=float, default=15,
                        help="run fewer Spark iterations (then scale) when a fit is predicted longer")
    parser.add_argument("--ann-cases", nargs="+", type=_case, default=None,
                        help="USERSxITEMS (default 1e5x5e4 1e5x1e6; 1e4x2e4 with --quick)")
    parser.add_argument("--dim", type=int, default=64, help="factors of the ANN part (default 64)")
    parser.add_argument("--ef-search", type=int, default=None,
                        help="HNSW efSearch for every case (default: chosen by the sweep on the small case)")
    parser.add_argument("--ef-sweep", nargs="+", type=int, default=[64, 128, 256, 512],
                        help="efSearch values tried on the small case (default 64 128 256 512)")
    parser.add_argument("--exact-pairs", type=float, default=1e10,
                        help="exact search is timed on at most this many user x item pairs, then scaled")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--spark-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--ann-child", type=_case, help=argparse.SUPPRESS)
    parser.add_argument("--ef-json", help=argparse.SUPPRESS)
    parser.add_argument("--exact-sample", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(int(args.child), args.out)
        return
    if args.spark_child:
        engine, n = args.spark_child[0], int(float(args.spark_child[1]))
        _scale_spark.child(engine, n, args.iterations, args.out, _Memory, _shape(n),
                           blocks=args.spark_blocks, driver_memory=args.spark_driver_memory)
        return
    if args.ann_child:
        ann_child(args.ann_child, args.dim, json.loads(args.ef_json), args.exact_sample, args.out)
        return

    # an option given with --quick is kept; --quick sets the others
    sizes = sorted(int(s) for s in args.sizes or ([1e5] if args.quick else [1e5, 1e6, 1e7]))
    iterations = args.iterations or (2 if args.quick else 10)
    cases = args.ann_cases or ([(10**4, 2 * 10**4)] if args.quick else [(10**5, 5 * 10**4), (10**5, 10**6)])
    todo = [p for p in PARTS if p in args.parts and not (p == "grid" and args.no_grid)]
    head, env = _report.header("Scaling: end to end, Spark ALS, approximate top-k, and a cluster projection",
                               args.quick)
    parts = load_parts(args.quick)
    runs = {
        "hybrid": lambda: run_hybrid(sizes),
        "grid": lambda: {"rows": grid_search_demo(args.quick)},
        "spark": lambda: run_spark(sizes, iterations, args.spark_blocks, args.spark_driver_memory,
                                   args.spark_budget_minutes * 60, args.quick),
        "ann": lambda: run_ann(cases, args.dim, args.ef_search, args.ef_sweep, args.exact_pairs),
    }
    failed = []
    for part in todo:
        print(f"== part {part}", flush=True)
        start = time.perf_counter()
        try:
            result = runs[part]()
        except subprocess.CalledProcessError as exc:  # e.g. no Java, no faiss: the other parts go on
            print(f"part {part} failed ({exc}); its figures stay as they were", flush=True)
            failed.append(part)
            continue
        parts[part] = {**result, "env": env, "wall_s": time.perf_counter() - start}

    proj = projection(parts)
    stamps = [{"part": name, "date": parts[name]["env"]["date"], "command": f"`{parts[name]['env']['command']}`",
               "machine": _machine(parts[name]["env"]["machine"]),
               "commit": parts[name]["env"]["versions"].get("git_commit"),
               "took": _duration(parts[name].get("wall_s")),
               "rerun": ("failed: kept from the last page" if name in failed else
                         "yes" if name in todo else "no (kept from the last page)")}
              for name in PARTS if name in parts]
    lines = [head,
             "Each part below is measured by its own command, in fresh processes, and kept on this "
             "page until that part is run again (`--parts hybrid grid spark ann`); the projection is "
             "recomputed from the parts' JSON every time.", "",
             _report.table(stamps, [("part", "part", ""), ("date", "measured", ""), ("command", "command", ""),
                                    ("machine", "machine", ""), ("commit", "git", ""), ("took", "took", ""),
                                    ("rerun", "measured by this run", "")]), ""]
    sections = {"hybrid": section_hybrid, "grid": section_grid, "spark": section_spark, "ann": section_ann}
    for name in PARTS:
        if name in parts:
            lines += sections[name](parts[name])
    lines += section_projection(proj)
    fig = figure(parts)
    data = {**env, "parts": parts, "projection": proj}
    for p in _report.write("scale", args.quick, "\n".join(lines), data, fig):
        print("wrote", p)
    if "hybrid" in parts:
        print(_report.table(_hybrid_summary(parts["hybrid"]["sizes"]), [
            ("size", "size", ""), ("total_min", "min", ".2f"), ("peak_gib", "GiB", ".2f"),
            ("ndcg", "NDCG@10", ".4f"), ("chance", "chance", ".4f")]))
    if "spark" in parts:
        print(_report.table([{"engine": r["engine"], "size": f"{r['size']:.0e}", "fit": r["fit_seconds"],
                              "ndcg": r["ndcg_at_10"], "rss": r["driver_peak_rss"] / 2**30,
                              "jvm": (r.get("jvm_peak_rss") or 0) / 2**30} for r in parts["spark"]["runs"]],
                            [("engine", "engine", ""), ("size", "size", ""), ("fit", "fit s", ".1f"),
                             ("ndcg", "NDCG@10", ".4f"), ("rss", "Python GiB", ".2f"), ("jvm", "JVM GiB", ".2f")]))
    if "ann" in parts:
        print(_report.table(parts["ann"]["cases"], [
            ("users", "users", "d"), ("items", "items", "d"), ("ef_search", "ef", "d"), ("build_s", "build s", ".1f"),
            ("exact_s", "exact s", ".1f"), ("approximate_s", "approx s", ".1f"), ("speedup", "x", ".1f"),
            ("recall_at_10", "recall@10", ".4f"), ("seen_returned", "seen", "d")]))
    if failed:
        sys.exit(f"failed parts: {', '.join(failed)} (see above)")


def _machine(machine):
    """CPU, cores and whether it has AMX (which decides the encoder's precision)."""
    amx = (machine.get("flags") or {}).get("amx_bf16")
    return (f"{machine['cpu']}, {machine['cores']} cores"
            + ("" if amx is None else ", AMX" if amx else ", no AMX"))


def ann_child(case, dim, ef_search, exact_sample, out):
    """One ``_ann_bench.run`` in this process, with its peak resident memory."""
    import _ann_bench

    mem = _Memory()
    mem.start()
    result = _ann_bench.run(*case, dim, ef_search=ef_search, exact_sample=exact_sample)
    Path(out).write_text(json.dumps({**result, "peak_rss": mem.peak()}))


if __name__ == "__main__":
    main()
