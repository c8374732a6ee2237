"""Does the hybrid's learned blend depend on its random_state? The warm-up curve, 5 seeds.

    HF_HUB_OFFLINE=1 python -m benchmarks.stability          # about 3 minutes on 2 cores

Fits the page's hybrid (``benchmarks/results/ml-100k.json``: the tuned
parameters of "Hybrid (ours)", its CF and text members) on protocol B's
splits (test users cut to their last n training interactions, 3 parts) with
``random_state`` 0 to 4 and nothing else changed: the learned blend carves
its holdout (hidden items, cut histories, negatives) from that seed, so the
five fits differ only by the blend's randomness. ALS keeps its own seed (0)
and one thread, so its factors are the same in every fit.

Writes ``benchmarks/results/ml-100k-stability.{json,md}``: NDCG@10 per n and
seed, the spread (max - min) against the standard error of one fit's mean
(the target: spread <= 1 SE at every n), and each fit against the best
single model of the main page at that n (the target: none behind it by more
than that model's SE). Fit times are the mean per fit of each seed.
"""

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone

from sklearn_zsrec import HybridRecommender, TextEncoder, ZeroShotRecommender, clear_cache

from . import _protocols as P
from ._ml_report import tuning_digest
from ._report import refuse_quick_into_results
from .movielens import (RESULTS, WARMUP_N, hybrid_members, member_params, movielens_dataset,
                        summarise)

SEEDS = (0, 1, 2, 3, 4)
HYBRID = "Hybrid (ours)"


def page_hybrid(ml, page):
    """The hybrid of the main page, with its tuned parameters (random_state left to set)."""
    tuning = page["tuning"]
    zs = ZeroShotRecommender(encoder=TextEncoder(verbose=0), item_texts=ml.item_text,
                             user_texts=ml.user_text)
    hybrid = HybridRecommender(zs, hybrid_members(), verbose=0)
    best = {name: t["best"] for name, t in tuning.items()}
    return hybrid.set_params(**(member_params(best) | tuning[HYBRID]["best"]))


def best_single(page, key):
    """The best model of the main page at ``key`` other than the hybrids: (name, mean, se)."""
    rows = {m: r["NDCG@10"] for m, r in page["results"].get(key, {}).items()
            if not m.startswith("Hybrid") and m != "Random" and "NDCG@10" in r}
    name = max(rows, key=lambda m: rows[m][0])
    return name, rows[name][0], rows[name][1]


def run(out_dir=RESULTS, quick=False, log=print):
    ml = movielens_dataset()
    ns = (1, 5) if quick else WARMUP_N
    page = read_main_page(out_dir, ml.name, quick,
                          keys=[f"B/n={'all' if n is None else n}" for n in ns])
    hybrid = page_hybrid(ml, page)
    catalog = np.sort(ml.item_text.index.to_numpy())
    seeds = SEEDS[:2] if quick else SEEDS
    parts = (0,) if quick else (0, 1, 2)
    t0 = time.perf_counter()
    results, seconds = {}, {}
    for n in ns:
        key = f"B/n={'all' if n is None else n}"
        for part in parts:
            split = P.protocol_b(ml.interactions, n, part)
            for seed in seeds:
                clear_cache(embeddings=False, models=False)  # every fit from scratch
                start = time.perf_counter()
                model = clone(hybrid).set_params(random_state=seed).fit(split.train)
                seconds.setdefault(seed, []).append(time.perf_counter() - start)
                metrics = P.evaluate(model, split, catalog)
                store = results.setdefault(key, {}).setdefault(f"seed {seed}", {"fit_seconds": 0.0})
                for name, values in metrics.items():
                    store.setdefault(name, []).append(values)
        log(f"  {key}: {len(seeds)} seeds x {len(parts)} parts ({time.perf_counter() - t0:.0f}s)")
    summary = {"results": summarise(results),
               "meta": {"seconds": round(time.perf_counter() - t0, 1), "quick": quick,
                        "seeds": list(seeds), "parts": list(parts),
                        "fit_seconds_per_fit": {str(s): round(float(np.mean(v)), 2)
                                                for s, v in seconds.items()},
                        "hybrid": {k: v for k, v in hybrid.get_params(deep=False).items()
                                   if k not in ("text", "cf", "random_state")},
                        "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}}
    rows, met = [], True
    for key, fits in summary["results"].items():
        values = np.array([fits[f"seed {s}"]["NDCG@10"][0] for s in seeds])
        se = float(np.mean([fits[f"seed {s}"]["NDCG@10"][1] for s in seeds]))
        name, best, best_se = best_single(page, key)
        spread_ok = values.max() - values.min() <= se
        behind_ok = (best - values.min()) <= best_se
        met &= spread_ok and behind_ok
        rows.append({"key": key, "values": values.round(4).tolist(), "se": round(se, 4),
                     "spread": round(float(values.max() - values.min()), 4),
                     "spread_ok": bool(spread_ok), "best": name, "best_ndcg": round(best, 4),
                     "best_se": round(best_se, 4), "worst_lag_se": round((best - values.min())
                                                                         / best_se, 2),
                     "behind_ok": bool(behind_ok)})
    summary["table"], summary["met"] = rows, bool(met)
    return write_study(out_dir, f"{ml.name}-stability", summary, report(summary, seeds), log,
                       main_page=page, quick=quick)


def study_environment():
    """Where a study ran: machine, CPU flags, threads, versions, the encoder's precision.

    The main page shows it beside a study's figures it reads and leaves out a
    study whose text encoder ran in another precision than the page's.
    """
    from sklearn_zsrec import TextEncoder

    from ._report import cpu_info, threads, versions

    machine, libraries = cpu_info(), versions()
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{machine['cpu']}, {machine['cores']} cores",
            "cpu_flags": machine["flags"], "threads": threads(),
            "git_commit": libraries.pop("git_commit"),
            "versions": {"python": machine["python"], **libraries},
            "encoder_precision": TextEncoder(verbose=0).fit().precision_}


def read_main_page(out_dir, name, quick=False, keys=()):
    """The main page's JSON (a dict) that a study writing to ``out_dir`` reads.

    The page in ``out_dir`` when there is one (a page rerun there, as
    ``python -m benchmarks.movielens --out DIR`` writes it), else the
    committed one in ``benchmarks/results``. Its file goes into the study's
    JSON (``write_study``). A smoke run's page (``--quick``: one candidate
    per grid, no tuning) serves only a smoke run of the study, and the page
    must have results at every protocol key of ``keys``: both are checked
    before the study fits anything.
    """
    for folder in (Path(out_dir), Path(RESULTS)):
        path = folder / f"{name}.json"
        if path.exists():
            page = json.loads(path.read_text())
            page["_file"] = str(path.resolve())
            command = "`python -m benchmarks.movielens --out DIR` (without --quick)"
            meta = page.get("meta", {})
            # pages before meta["quick"] say it in their command only
            smoke = meta.get("quick", "--quick" in meta.get("command", "").split())
            if smoke and not quick:
                raise ValueError(f"{path} is a smoke run's page (--quick): its models were not "
                                 f"tuned. Run {command} first, or this study with --quick.")
            missing = [key for key in keys if key not in page.get("results", {})]
            if missing:
                raise ValueError(f"{path} has no results at {', '.join(missing)}, which this "
                                 f"study compares with: run {command} first.")
            return page
    raise FileNotFoundError(f"No {name}.json in {out_dir} or {RESULTS}: run "
                            "`python -m benchmarks.movielens` first.")


def write_study(out_dir, stem, summary, page, log, main_page=None, quick=False):
    """Write a study's ``<stem>.json`` (``summary``) and ``<stem>.md`` (``page``); ``summary``.

    ``main_page``: the main page's JSON the study read, whose tuned
    parameters' digest (``tuning_digest``) goes into ``summary``. A
    ``quick`` (smoke) run's page says so under its title.
    """
    if quick:
        title, _, rest = page.partition("\n")
        page = (f"{title}\n\n> **Smoke run (`--quick`): fewer splits, seeds or candidates. Its "
                "figures check that the study runs; they are not results.**\n" + rest)
    if main_page is not None:
        summary["main_page_tuning"] = tuning_digest(main_page)
        summary["main_page_file"] = main_page.get("_file")
    env = summary["environment"] = study_environment()
    page = page.rstrip("\n") + "\n\n" + (
        f"Ran on {env['date']}: {env['machine']}, torch on {env['threads']['torch']} threads, "
        f"text encoder in {env['encoder_precision']}, code {env['git_commit']}; versions: "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items()
                    if v and k != "sklearn_zsrec") + ".\n")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(summary, indent=1, default=str))
    (out_dir / f"{stem}.md").write_text(page)
    log(f"wrote {out_dir / (stem + '.md')}")
    return summary


def report(summary, seeds):
    meta = summary["meta"]
    lines = [
        "# The learned blend across random_state (protocol B, MovieLens-100K)", "",
        "Written by `python -m benchmarks.stability`. The page's hybrid (tuned parameters of",
        "`ml-100k.json`), fitted with `random_state` " + ", ".join(map(str, seeds)) + " on each",
        f"warm-up split ({len(meta['parts'])} parts per n); ALS seeded (0) and on one thread, so",
        "only the blend's own randomness varies. Targets (issue 17): the spread (max - min) of",
        "NDCG@10 over the seeds at most one SE of a fit's mean, and no fit behind the best single",
        "model of the main page by more than that model's SE.", "",
        "| n | " + " | ".join(f"seed {s}" for s in seeds)
        + " | spread | SE | spread <= SE | best single model | worst fit behind it | met |",
        "|---|" + "---|" * (len(seeds) + 6),
    ]
    for row in summary["table"]:
        lines.append(
            f"| {row['key'].split('=')[1]} | " + " | ".join(f"{v:.4f}" for v in row["values"])
            + f" | {row['spread']:.4f} | {row['se']:.4f} | {'yes' if row['spread_ok'] else 'no'}"
            f" | {row['best']} {row['best_ndcg']:.4f} ± {row['best_se']:.4f}"
            f" | {row['worst_lag_se']:+.2f} SE | {'yes' if row['behind_ok'] else 'no'} |")
    fits = ", ".join(f"seed {s}: {v} s" for s, v in meta["fit_seconds_per_fit"].items())
    lines += ["", f"All targets met: {'yes' if summary['met'] else 'no'}.", "",
              f"Mean fit time per split ({fits}); the run took {meta['seconds']:.0f} s.",
              "The rule that keeps the blend steady (docs/blend.md: start from the blend "
              "fitted on all held-out interactions, move only to a candidate clearly better) "
              "judges the same candidates as before, so it costs no fit time; the main page's "
              "tuning and fit timings show the hybrid's cost as a whole.", "",
              "Hybrid parameters: " + ", ".join(f"{k}={v}" for k, v in meta["hybrid"].items())
              + ".", ""]
    return "\n".join(lines)


def study_main(doc, run, quick_help, argv=None):
    """The command line of a study beside the page: ``--quick`` (a smoke run) and ``--out``.

    A quick run without ``--out`` writes to a temporary directory, never
    over the committed results.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", default=None, help="output directory")
    args = parser.parse_args(argv)
    refuse_quick_into_results(parser, args.quick, args.out)
    out = args.out or (tempfile.mkdtemp(prefix="zsrec-study-") if args.quick else RESULTS)
    run(out, quick=args.quick)


def main(argv=None):
    study_main(__doc__, run, "2 seeds, n in (1, 5), one part", argv)


if __name__ == "__main__":
    main()
