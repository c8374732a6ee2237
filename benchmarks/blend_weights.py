"""GridSearchCV over the fixed blend's weights, judged on held-out folds (MovieLens-100K).

    HF_HUB_OFFLINE=1 python -m benchmarks.blend_weights      # a few minutes on 2 cores

The hybrid with ``blend="fixed"`` blends standardised member scores with
``weights`` that a user sets or searches. This searches the item-kNN and
next-item weights (3 values each, on top of the default ``{"als": 1, "text":
1}``) with ``GridSearchCV`` on the main job's tuning split, then scores the
chosen weights and the default fixed blend on protocol A's three
leave-last-out folds (held-out interactions the search never saw). The
members keep the main page's tuned parameters. Writes
``benchmarks/results/ml-100k-blend-weights.{json,md}``.
"""

import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_zsrec.model_selection import LeaveLastOut

from . import _protocols as P
from .movielens import RESULTS, movielens_dataset, record, summarise
from .stability import page_hybrid, read_main_page, study_main, write_study

VALUES = (0.0, 0.5, 1.0)


def run(out_dir=RESULTS, quick=False, log=print):
    ml = movielens_dataset()
    page = read_main_page(out_dir, ml.name, quick)
    fixed = page_hybrid(ml, page).set_params(blend="fixed", random_state=0, verbose=0)
    values = VALUES[:2] if quick else VALUES
    grid = {"weights": [{"als": 1.0, "text": 1.0, "knn": k, "next": n}
                        for k in values for n in values]}
    X = ml.interactions
    t0 = time.perf_counter()
    search = GridSearchCV(fixed, grid, cv=LeaveLastOut(n_splits=1), refit=False)
    search.fit(P.tuning_split(X))
    tune_seconds = time.perf_counter() - t0
    best = search.best_params_["weights"]
    log(f"  best weights {best} ({len(grid['weights'])} candidates, {tune_seconds:.0f}s)")
    catalog = np.sort(ml.item_text.index.to_numpy())
    results, folds = {}, (0,) if quick else (0, 1, 2)
    for fold in folds:
        split = P.protocol_a(X, fold)
        for name, weights in (("default fixed blend", None), ("searched weights", best)):
            start = time.perf_counter()
            model = clone(fixed).set_params(weights=weights).fit(split.train)
            # each user's test events, so that a user's folds are one cluster of
            # the standard error, as on the main page
            record(results, "A", name, split, P.evaluate(model, split, catalog),
                   time.perf_counter() - start)
    summary = {"results": summarise(results), "best": best,
               "cv": [{"weights": p["weights"], "NDCG@10": round(float(s), 4)}
                      for p, s in zip(search.cv_results_["params"],
                                      search.cv_results_["mean_test_score"])],
               "meta": {"seconds": round(time.perf_counter() - t0, 1),
                        "tune_seconds": round(tune_seconds, 1), "quick": quick,
                        "folds": list(folds),
                        "date": time.strftime("%Y-%m-%d")}}
    return write_study(out_dir, f"{ml.name}-blend-weights", summary, report(summary), log,
                       main_page=page, quick=quick)


def report(summary):
    a = summary["results"]["A"]
    folds = ", ".join(map(str, summary["meta"].get("folds", (0, 1, 2))))
    lines = ["# Searching the fixed blend's weights (MovieLens-100K)", "",
             "Written by `python -m benchmarks.blend_weights`: `GridSearchCV` over the item-kNN",
             "and next-item weights of `HybridRecommender(blend=\"fixed\")` (on top of",
             "`{\"als\": 1, \"text\": 1}`) on the main job's tuning split, then both blends on",
             f"protocol A's leave-last-out folds {folds} (standard errors clustered by user, as",
             "on the main page).", "",
             "| weights (knn, next) | tuning-split NDCG@10 |", "|---|---|"]
    for row in summary["cv"]:
        w = row["weights"]
        lines.append(f"| {w['knn']}, {w['next']} | {row['NDCG@10']:.4f} |")
    lines += ["", f"Chosen: {summary['best']} (search: {summary['meta']['tune_seconds']} s).", "",
              "| protocol A (held out) | NDCG@10 | Recall@10 |", "|---|---|---|"]
    for name, row in a.items():
        lines.append(f"| {name} | {row['NDCG@10'][0]:.4f} ± {row['NDCG@10'][1]:.4f} | "
                     f"{row['Recall@10'][0]:.4f} ± {row['Recall@10'][1]:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    study_main(__doc__, run, "2 x 2 weights, one fold", argv)


if __name__ == "__main__":
    main()
