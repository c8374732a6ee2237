"""Fit RecTools' SASRec, BERT4Rec and EASE on given rows and write their rankings.

Runs inside the peers' environment (``benchmarks/install_peers.py``), never in
the project's: it imports RecTools, numpy and pandas of that venv only, and
nothing of ``sklearn_zsrec``. ``benchmarks/peers.py`` calls it as::

    <peers venv>/bin/python benchmarks/_peers_worker.py JOB.json

``JOB.json``::

    {"threads": 2, "seed": 0, "out": "rankings.json",
     "tasks": [{"name": "A/fold0", "train": "rows.csv", "users": ["1", ...],
                "k": 20, "model": "SASRec", "params": {...},
                "epochs": [5, 10, 20]}, ...]}

``rows.csv`` has columns ``user_id``, ``item_id`` (read as strings) and
``order`` (the rows' time order, ties already broken as the benchmark's
protocols break them); ``order`` becomes RecTools' datetime, so sequences are
in exactly the protocols' order. ``epochs`` lists the epochs at which the
transformers' rankings are taken (training continues between them, so one
fit gives the whole validation curve); EASE has no epochs.

Output: ``{"versions": {...}, "tasks": [{"name", "epochs": {epoch: {"top":
[[item, ...] per user], "seconds": fit CPU seconds so far}}}]}``; users the
model cannot score (no training rows) get an empty list. Seeds are fixed
with lightning's ``seed_everything(seed, workers=True)`` before every fit,
trainers are deterministic and torch runs ``threads`` threads.
"""

import json
import sys
import time
import warnings


def _dataset(path):
    import pandas as pd
    from rectools import Columns
    from rectools.dataset import Dataset

    # ids as written: 'NA', 'None' or 'null' are ids, not missing values
    rows = pd.read_csv(path, dtype={"user_id": str, "item_id": str}, keep_default_na=False,
                       na_values=[])
    frame = pd.DataFrame({
        Columns.User: rows["user_id"],
        Columns.Item: rows["item_id"],
        Columns.Weight: 1.0,
        Columns.Datetime: pd.to_datetime(rows["order"], unit="s"),
    })
    return Dataset.construct(frame)


def _model(name, params, epochs, threads):
    from rectools.models import BERT4RecModel, EASEModel, SASRecModel

    if name == "EASE":
        return EASEModel(num_threads=threads, **params)
    cls = {"SASRec": SASRecModel, "BERT4Rec": BERT4RecModel}[name]
    return cls(epochs=epochs, deterministic=True, recommend_torch_device="cpu",
               recommend_n_threads=threads, **params)


def _top(model, dataset, users, k):
    """Each user's top-k item ids (strings), best first; [] where unscorable."""
    known = set(dataset.user_id_map.external_ids.tolist())
    targets = [u for u in users if u in known]
    out = {u: [] for u in users}
    if targets:
        # users the model cannot score (e.g. RecTools' transformers drop
        # users with fewer than train_min_user_interactions rows) get []
        recs = model.recommend(users=targets, dataset=dataset, k=k, filter_viewed=True,
                               on_unsupported_targets="ignore")
        recs = recs.sort_values(["user_id", "rank"], kind="stable")
        for user, items in recs.groupby("user_id", sort=False)["item_id"]:
            out[str(user)] = [str(i) for i in items]
    return [out[u] for u in users]


def run_task(task, threads, seed):
    from pytorch_lightning import seed_everything

    dataset = _dataset(task["train"])
    checkpoints = sorted(task.get("epochs") or [0])
    # fit time is the worker's CPU time: it runs torch on ``threads`` threads
    # (1 in the benchmark), so that it equals the wall time of a fit alone on
    # its core and does not grow when other processes share the machine
    result, start, done = {}, time.process_time(), 0
    seed_everything(seed, workers=True)
    model = _model(task["model"], task["params"], max(checkpoints[0], 1), threads)
    for epochs in checkpoints:
        if task["model"] == "EASE":
            model.fit(dataset)
        elif done == 0:
            model.fit(dataset)  # trains checkpoints[0] epochs
        else:  # continue training: the same model, epochs - done more epochs
            model.fit_partial(dataset, min_epochs=epochs - done, max_epochs=epochs - done)
        done = epochs
        seconds = time.process_time() - start
        top = _top(model, dataset, task["users"], task["k"])
        result[str(epochs)] = {"top": top, "seconds": seconds,
                               "unscored": sum(not items for items in top)}
        start = time.process_time() - seconds  # ranking time is not fit time
    return {"name": task["name"], "epochs": result}


def versions():
    import numpy
    import pandas
    import pytorch_lightning
    import rectools
    import torch

    return {"rectools": rectools.__version__, "torch": torch.__version__,
            "pytorch_lightning": pytorch_lightning.__version__,
            "numpy": numpy.__version__, "pandas": pandas.__version__,
            "python": sys.version.split()[0]}


def main(path):
    import logging

    import torch

    job = json.loads(open(path).read())
    threads = int(job["threads"])
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    tasks = []
    for i, task in enumerate(job["tasks"]):
        tasks.append(run_task(task, threads, int(job["seed"])))
        print(f"  peers: {task['model']} {task['name']} done ({i + 1}/{len(job['tasks'])})",
              flush=True)
    with open(job["out"], "w") as fh:
        json.dump({"versions": versions(), "tasks": tasks}, fh)


if __name__ == "__main__":
    main(sys.argv[1])
