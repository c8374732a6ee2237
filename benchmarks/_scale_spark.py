"""Spark ALS against implicit's ALS on the synthetic interactions of ``scale.py``.

``child(engine, n, iterations, out, memory)`` runs in a fresh process (one
per engine and size, started by ``benchmarks/scale.py --parts spark``):
generate ``n`` interactions, hold out each user's last one, fit
``ALSRecommender`` ("implicit") or ``SparkALSRecommender`` ("spark", in a
``local[2]`` session started here with ``spark.driver.memory`` set before
the JVM starts) at the mapped settings of the latter's docstring, rank the
held-out users' top 10 and score NDCG@10. Each stage's wall time and peak
resident memory are recorded: the Python driver's (``VmHWM``, reset per
stage) and, for Spark, the JVM's (the ``java`` process below this one, its
own ``VmHWM``, reset the same way through its /proc/<pid>/clear_refs).
Inside Spark's fit, the driver-side steps are timed apart by wrapping the
functions of ``sklearn_zsrec._spark_als`` and ``ALS.fit``: **index** (ids to
positions, ``user_items_``), **to_spark** (``_ratings``: the positions and
weights to a Spark DataFrame through Arrow), **als** (``ALS.fit``, the
sweeps), **collect** (the factors back into numpy).
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

# implicit's settings (the benchmarks' tuned ALS, as in tests/test_spark_als.py)
# and their Spark equivalents by SparkALSRecommender's docstring table
FACTORS = 64
IMPLICIT = {"regularization": 1.0, "alpha": 5.0}
STAGES = ("generate", "split", "session", "fit", "evaluate")
FIT_PARTS = ("index", "to_spark", "als", "collect")


def spark_params(train, iterations, blocks):
    """``SparkALSRecommender`` parameters mapped from ``IMPLICIT`` for ``train``."""
    per_user = len(train) / train.user_id.nunique()
    return {"rank": FACTORS, "max_iter": iterations, "alpha": IMPLICIT["alpha"] - 1.0,
            "reg_param": IMPLICIT["regularization"] / per_user, "num_blocks": blocks,
            "random_state": 0}


def _children():
    """``{pid: (ppid, comm)}`` of every process in /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            out[int(entry)] = (int(stat[stat.rindex(")") + 2:].split()[1]), comm)
    return out


def descendants(pid):
    """``[(pid, comm)]`` of the processes below ``pid``."""
    table, found, frontier = _children(), [], [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, comm) in table.items():
            if ppid == parent:
                found.append((child, comm))
                frontier.append(child)
    return found


class ProcessMemory:
    """Resident memory of a process (``pid`` or "self"): ``VmRSS``, and its peak ``VmHWM``.

    ``reset`` writes 5 to /proc/<pid>/clear_refs, which sets the peak to the
    current RSS (``resettable`` says whether that is permitted); without
    /proc, ``rss`` and ``peak`` return None.
    """

    def __init__(self, pid):
        self.pid = pid
        self.resettable = self.reset()

    def _status(self, field):
        try:
            with open(f"/proc/{self.pid}/status") as fh:
                for line in fh:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def reset(self):
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as fh:
                fh.write("5")
            return True
        except OSError:
            return False

    def rss(self):
        return self._status("VmRSS")

    def peak(self):
        return self._status("VmHWM")


def _session(driver_memory, cores):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(f"local[{cores}]").appName("scale-benchmark")
             .config("spark.driver.memory", driver_memory)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _timed_fit_parts(times):
    """Wrap the steps of SparkALSRecommender.fit so that each adds its seconds to ``times``."""
    from pyspark.ml.recommendation import ALS

    from sklearn_zsrec import SparkALSRecommender, _spark_als

    def wrap(owner, name, key):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                times[key] = times.get(key, 0.0) + time.perf_counter() - start

        setattr(owner, name, timed)

    wrap(SparkALSRecommender, "_index", "index")
    wrap(_spark_als, "_ratings", "to_spark")
    wrap(ALS, "fit", "als")
    wrap(_spark_als, "_collect_factors", "collect")


def child(engine, n, iterations, out, memory, shape, blocks=4, driver_memory="8g", cores=2):
    """Fit ``engine`` ("implicit" or "spark") on ``n`` interactions; write the figures to ``out``."""
    from sklearn_zsrec import ALSRecommender, SparkALSRecommender
    from sklearn_zsrec.datasets import make_synthetic_interactions
    from sklearn_zsrec.metrics import ndcg_at_k
    from sklearn_zsrec.model_selection import train_test_split_last

    n_users, n_items = shape
    mem = memory()
    jvm = None
    stages, state, fit_parts = {}, {}, {}

    def stage(name, fn):
        rss_before = mem.start()
        if jvm is not None:
            jvm.reset()
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
        stages[name] = {"seconds": seconds, "peak_rss": mem.peak(), "rss_before": rss_before}
        if jvm is not None:
            stages[name]["jvm_peak_rss"] = jvm.peak()
        jvm_text = (f", JVM {stages[name]['jvm_peak_rss'] / 2**30:.2f} GiB"
                    if stages[name].get("jvm_peak_rss") else "")
        print(f"  {engine} {n:.0e} {name}: {seconds:.1f} s, driver peak RSS "
              f"{stages[name]['peak_rss'] / 2**30:.2f} GiB{jvm_text}", flush=True)

    def generate():
        state["data"] = make_synthetic_interactions(n_users, n_items, n, n_topics=20, random_state=0)

    def split():
        state["train"], state["test"] = train_test_split_last(state["data"].interactions)

    def session():
        nonlocal jvm
        if engine == "spark":
            state["spark"] = _session(driver_memory, cores)
            java = [pid for pid, comm in descendants(os.getpid()) if comm == "java"]
            if java:
                jvm = ProcessMemory(java[0])
                state["jvm_rss_idle"] = jvm.rss()
            _timed_fit_parts(fit_parts)

    def fit():
        if engine == "spark":
            params = spark_params(state["train"], iterations, blocks)
            state["model"] = SparkALSRecommender(**params, spark=state["spark"])
        else:
            params = {"factors": FACTORS, "iterations": iterations, "random_state": 0, **IMPLICIT}
            state["model"] = ALSRecommender(**params)
        state["params"] = params
        state["model"].fit(state["train"])

    def evaluate():
        model, test = state["model"], state["test"]
        test = test[test.user_id.isin(model.users_)]  # users with training rows
        recs = model.recommend(test.user_id.to_numpy(), n=10)
        state["ndcg"] = ndcg_at_k([[item] for item in test.item_id.to_numpy()], recs, k=10)
        state["n_evaluated"] = len(test)

    for name in STAGES:
        stage(name, locals()[name])
    data = state["data"]
    result = {
        "engine": engine, "size": n, "iterations": iterations, "cores": cores,
        # the users and items the data holds (the generator's arguments are upper bounds)
        "counted_from_data": True,
        "n_interactions": int(len(data.interactions)),
        "n_users": int(data.interactions.user_id.nunique()),
        "n_items": int(data.interactions.item_id.nunique()),
        "n_train": int(len(state["train"])), "n_evaluated": int(state["n_evaluated"]),
        "params": state["params"], "ndcg_at_10": float(state["ndcg"]), "stages": stages,
        "fit_seconds": stages["fit"]["seconds"],
        "driver_peak_rss": max(s["peak_rss"] for s in stages.values()),
        "peak_per_stage": mem.resettable,
    }
    if engine == "spark":
        result.update({
            "fit_parts": fit_parts, "driver_memory": driver_memory, "num_blocks": blocks,
            "spark": __import__("pyspark").__version__,
            "jvm_found": jvm is not None,
            "jvm_rss_idle": state.get("jvm_rss_idle"),
            "jvm_peak_rss": max((s.get("jvm_peak_rss") or 0) for s in stages.values()) or None,
            "jvm_peak_per_stage": bool(jvm and jvm.resettable),
            "python_workers": sum(1 for _, comm in descendants(os.getpid())
                                  if comm.startswith("python")),
        })
        state["spark"].stop()
    Path(out).write_text(json.dumps(result))


def full_iterations(result, iterations):
    """``result`` (a Spark fit of fewer sweeps) with its ALS time scaled to ``iterations``.

    The measured ``als`` time (setup included) is multiplied by
    ``iterations / result["iterations"]``: an upper bound, as the setup
    (blocking the ratings) is paid once. Other steps are kept as measured.
    """
    measured = result["iterations"]
    if measured >= iterations:
        return result
    factor = iterations / measured
    als = result["fit_parts"]["als"]
    return {**result, "scaled_from_iterations": measured, "iterations": iterations,
            "measured_fit_seconds": result["fit_seconds"],
            "fit_seconds": result["fit_seconds"] + als * (factor - 1),
            "fit_parts": {**result["fit_parts"], "als": als * factor}}


def per_interaction_iteration(result):
    """Core-seconds of ALS sweeps per interaction per iteration (``als`` time x cores)."""
    als = result["fit_parts"]["als"] if "fit_parts" in result else result["fit_seconds"]
    return als * result["cores"] / (result["n_train"] * result["iterations"])


def iterations_within(previous, n, iterations, budget_s):
    """Sweeps to run at ``n`` so that the fit stays within ``budget_s``, from smaller runs.

    ``previous`` lists the Spark results at smaller sizes (same
    ``iterations``). The sweep time is ``fixed + b * interactions *
    iterations``, with ``b`` the slope between the two largest runs (the
    largest run's ratio if there is one run), the driver-side steps linear in
    the interactions. Returns ``iterations`` when the prediction fits the
    budget, else the most sweeps that do (at least 2).
    """
    if not previous:
        return iterations
    last = previous[-1]
    b = per_interaction_iteration(last) / last["cores"]
    if len(previous) > 1:
        prev = previous[-2]
        slope = ((last["fit_parts"]["als"] - prev["fit_parts"]["als"])
                 / ((last["n_train"] - prev["n_train"]) * last["iterations"]))
        b = slope if slope > 0 else b
    fixed = max(last["fit_parts"]["als"] - b * last["n_train"] * last["iterations"], 0.0)
    driver = (last["fit_seconds"] - last["fit_parts"]["als"]) * n / last["n_train"]
    if driver + fixed + b * n * iterations <= budget_s:
        return iterations
    return max(2, int(np.floor((budget_s - driver - fixed) / (b * n))))
