"""How much does the draw of a small sample decide? Protocol E at p = 1, 2, 5 on six samples.

    HF_HUB_OFFLINE=1 python -m benchmarks.growth_samples     # about 40 s on 2 cores

The main page draws three samples of each p below 100 (sampling seeds 0, 1,
2) and pools their tested users, with a standard error clustered by test
event: it counts the test users' noise, not how much the training sample
itself moves a model (at 1% a sample holds about 1,000 rows). This study
refits the page's hybrid (defaults, and ``new_items=None``), popularity and
LightFM with the text embeddings (the AMD EPYC page's leader at p <= 5) on six
samples per p (seeds 0 to 5, the page's three among them) and compares them
sample by sample: each sample's difference of means over its own tested
users, then the mean of the six differences with the standard error of that
mean (five degrees of freedom), which counts both sources of noise. The
next-item peers (SASRec, BERT4Rec) are not refitted here: each of their
fits takes minutes.

Writes ``benchmarks/results/ml-100k-growth-samples.{json,md}`` (``--out``
for another directory; ``--quick``: two samples, p = 5 only).
"""

import importlib.util
import time

import numpy as np
from sklearn.base import clone

from sklearn_zsrec import PopularityRecommender

from . import _protocols as P
from .movielens import RESULTS, make_entries, movielens_dataset, remove_tuned_encoders
from .stability import page_hybrid, read_main_page, study_main, write_study

GROWTH_P = (1, 2, 5)
SEEDS = (0, 1, 2, 3, 4, 5)
LIGHTFM = "LightFM-WARP+text emb."
HYBRID = "Hybrid (ours)"
NONE = "Hybrid (ours, new_items=None)"


def models(ml, page):
    """The compared models, with the main page's tuned parameters (name -> estimator)."""
    hybrid = page_hybrid(ml, page).set_params(random_state=0)
    out = {HYBRID: hybrid, NONE: clone(hybrid).set_params(new_items=None),
           "Popularity": PopularityRecommender()}
    if importlib.util.find_spec("lightfm") is None:  # the page says which models ran
        return out
    entries = make_entries(ml, quick=True)
    remove_tuned_encoders(entries)  # (made for the main job's fine-tuned rows)
    entry = next(e for e in entries if e.name == LIGHTFM)
    out[LIGHTFM] = clone(entry.estimator).set_params(**page["tuning"][LIGHTFM]["best"])
    return out


def run(out_dir=RESULTS, quick=False, log=print):
    t0 = time.perf_counter()
    ml = movielens_dataset()
    page = read_main_page(out_dir, ml.name, quick)
    compared = models(ml, page)
    catalog = np.sort(ml.item_text.index.to_numpy())
    ps, seeds = ((5,), SEEDS[:2]) if quick else (GROWTH_P, SEEDS)
    rows = {}
    for p in ps:
        per_user = {name: [] for name in compared}
        for seed in seeds:
            split = P.protocol_e(ml.interactions, p, seed=seed)
            for name, model in compared.items():
                fitted = clone(model).fit(split.train)
                per_user[name].append(P.evaluate(fitted, split, catalog)["NDCG@10"])
        rows[f"E/p={p}"] = summarise_p(per_user)
        log(f"  E/p={p}: {len(seeds)} samples ({time.perf_counter() - t0:.0f}s)")
    summary = {"rows": rows, "seeds": list(seeds), "models": list(compared),
               "seconds": round(time.perf_counter() - t0, 1), "quick": quick,
               "date": time.strftime("%Y-%m-%d")}
    return write_study(out_dir, f"{ml.name}-growth-samples", summary, report(summary), log,
                       main_page=page, quick=quick)


def summarise_p(per_user):
    """Per model: each sample's mean, the pooled mean; per hybrid and other: the paired lead.

    ``per_user[name]`` holds one array of per-user NDCG@10 per sample (the
    same users for every model within a sample).
    """
    means = {name: [float(np.mean(v)) for v in samples] for name, samples in per_user.items()}
    out = {"per_sample": {name: [round(m, 4) for m in ms] for name, ms in means.items()},
           "pooled": {name: round(float(np.mean(np.concatenate(samples))), 4)
                      for name, samples in per_user.items()},
           "leads": {}}
    for ours in (HYBRID, NONE):
        for other in means:
            if other.startswith("Hybrid"):
                continue
            lead = np.array(means[other]) - np.array(means[ours])  # the other model's lead
            se = float(lead.std(ddof=1) / np.sqrt(len(lead))) if len(lead) > 1 else float("nan")
            in_se = float(lead.mean()) / se if se > 0 else float("nan")  # nan: not judged
            out["leads"][f"{other} over {ours}"] = {"mean": round(float(lead.mean()), 4),
                                                   "se": round(se, 4), "in_se": round(in_se, 2)}
    return out


def report(s):
    seeds = s["seeds"]
    lines = ["# E at small p, sample by sample (MovieLens-100K)", "",
             "Written by `python -m benchmarks.growth_samples`. Protocol E (protocol A fold 0's",
             f"test rows, training on a p% sample of its training rows) with samples {seeds}",
             "(the main page pools the first three). NDCG@10 of each sample (over its own tested",
             "users) and of the samples pooled; the page's tuned parameters.", ""]
    for key, row in s["rows"].items():
        lines += [f"## {key}", "",
                  "| model | " + " | ".join(f"seed {x}" for x in seeds) + " | pooled |",
                  "|---|" + "---|" * (len(seeds) + 1)]
        for name, values in row["per_sample"].items():
            lines.append(f"| {name} | " + " | ".join(f"{v:.4f}" for v in values)
                         + f" | {row['pooled'][name]:.4f} |")
        lines += ["", "| lead (mean of the per-sample differences) | NDCG@10 | SE | in SE |",
                  "|---|---|---|---|"]
        for name, lead in row["leads"].items():
            lines.append(f"| {name} | {lead['mean']:+.4f} | {lead['se']:.4f} | "
                         f"{lead['in_se']:+.2f} |")
        lines.append("")
    lines += ["A positive lead is the other model ahead. The standard error is that of the mean",
              "of the per-sample differences: it counts how much the draw of the sample moves",
              "the comparison, which the main page's standard error (clustered by test event)",
              "does not.", "", f"Run time: {s['seconds']} s.", ""]
    return "\n".join(lines)


def main(argv=None):
    study_main(__doc__, run, "two samples, p = 5 only", argv)


if __name__ == "__main__":
    main()
