"""How far user texts can carry cold users on MovieLens-100K (protocol D), ceilings included.

    HF_HUB_OFFLINE=1 python -m benchmarks.cold_users      # about a minute on 2 cores

Protocol D holds out 20% of the users entirely; a model knows only their
``user_text`` ("24 year old male, technician"). The page's hybrid scores
them from the known users whose texts are closest, with a popularity
prior; the neighbour count and the prior's weight are chosen in ``fit``
on the known users. The target asks for a lead over popularity of 2
standard errors. This study asks how much the texts of this data can give
at all, with references that cheat on purpose:

- the same text-neighbour scoring with every (count, prior) pair of a wide
  grid, the best pair chosen on the D test users themselves: no choice
  made in ``fit`` can do better within that family;
- demographic-group popularity: items ranked by how many known users of
  the same gender, occupation and age band (10 years) picked them, with
  the same prior, its weight also chosen on the test users;
- popularity, the reference of the target.

Writes ``benchmarks/results/ml-100k-cold-users.{json,md}`` (``--out`` for
another directory).
"""

import argparse
import re
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sklearn_zsrec import TextEncoder
from sklearn_zsrec._hybrid._new_users import _neighbours

from . import _protocols as P
from .movielens import RESULTS, movielens_dataset
from ._report import refuse_quick_into_results
from .stability import read_main_page, write_study

COUNTS = (5, 10, 25, 50, 100, 200, 400, None)  # None: every known user
PRIORS = (0.001, 0.01, 0.1, 1.0, 10.0)


def _metrics(split, scores, users, catalog):
    top = P.rank_top(split, scores, users, catalog, 20)
    ndcg = np.asarray(P.per_user_metrics(split, top, users, catalog)["NDCG@10"])
    return float(ndcg.mean()), float(ndcg.std(ddof=1) / np.sqrt(len(ndcg))), ndcg


def _group(text):
    """(gender, occupation, age band) of a MovieLens user text, or None."""
    found = re.match(r"(\d+) year old (\w+), (.+)", text)
    return None if found is None else (found[2], found[3], int(found[1]) // 10)


def run(out_dir=RESULTS, log=print):
    t0 = time.perf_counter()
    ml = movielens_dataset()
    page = read_main_page(out_dir, ml.name, keys=["D"])  # before the fits
    X = ml.interactions
    split = P.protocol_d(X)
    catalog = np.sort(ml.item_text.index.to_numpy())
    known = np.sort(split.train.user_id.unique())
    cold = np.asarray(pd.unique(split.test.user_id))
    rows = pd.Index(known).get_indexer(split.train.user_id)
    cols = pd.Index(catalog).get_indexer(split.train.item_id)
    items = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                          shape=(len(known), len(catalog)))
    items.data[:] = 1.0  # who picked each item, once per user
    counts = np.asarray(items.sum(axis=0)).ravel()
    share = counts / counts.sum()
    per_user = counts.sum() / len(known)

    def prior(k, weight):  # ``weight * k`` users' worth of popularity
        return weight * k * per_user * share

    results = {"Popularity": _metrics(split, np.tile(counts, (len(cold), 1)), cold, catalog)}
    log(f"  popularity {results['Popularity'][0]:.4f}")
    encoder = TextEncoder(verbose=0).fit()
    emb = encoder.transform(ml.user_text.loc[np.r_[known, cold]].to_numpy())
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    sim = emb[len(known):] @ emb[:len(known)].T
    dense = items.toarray()
    grid = {}
    for k in COUNTS:
        k_ = len(known) if k is None else k
        # the hybrid's rule: users tied at the k-th closest share its places
        chosen, cut, tied, part = _neighbours(sim, k_)
        weights = chosen.astype(np.float32)
        weights[cut] += part.astype(np.float32)[:, None] * tied
        hits = weights @ dense
        for weight in PRIORS:
            grid[(k, weight)] = _metrics(split, np.log1p(hits + prior(k_, weight)), cold, catalog)
    best = max(grid, key=lambda key: grid[key][0])
    results["Text neighbours, best of the grid on the test users"] = grid[best]
    log(f"  text neighbours: best {best} {grid[best][0]:.4f}")
    groups_known = [_group(t) for t in ml.user_text.loc[known]]
    groups_cold = [_group(t) for t in ml.user_text.loc[cold]]
    index = {g: [i for i, h in enumerate(groups_known) if h == g] for g in set(groups_cold)}
    group_best = None
    for weight in PRIORS:
        scores = np.empty((len(cold), len(catalog)), np.float32)
        for i, g in enumerate(groups_cold):
            members = index.get(g, [])
            scores[i] = np.log1p(dense[members].sum(axis=0) + prior(max(len(members), 1), weight))
        got = _metrics(split, scores, cold, catalog)
        if group_best is None or got[0] > group_best[1][0]:
            group_best = (weight, got)
    results["Demographic-group popularity, prior chosen on the test users"] = group_best[1]
    sizes = [len(index.get(g, [])) for g in groups_cold]
    hybrid = page["results"]["D"]["Hybrid (ours)"]["NDCG@10"]
    pop_mean, pop_se, pop_users = results["Popularity"]
    summary = {
        "rows": {name: {"NDCG@10": round(m, 4), "se": round(se, 4),
                        "lead_in_popularity_se": round((m - pop_mean) / pop_se, 2),
                        "paired_se_of_lead": round(float(np.std(v - pop_users, ddof=1)
                                                         / np.sqrt(len(v))), 4)}
                 for name, (m, se, v) in results.items()},
        "hybrid_page": {"NDCG@10": hybrid[0], "se": hybrid[1],
                        "lead_in_popularity_se": round((hybrid[0] - pop_mean) / pop_se, 2)},
        "best_text_neighbours": {"count": best[0] or "all", "prior": best[1]},
        "group_prior": group_best[0], "cold_users": len(cold), "known_users": len(known),
        "group_sizes": {"median": float(np.median(sizes)), "empty": int(sum(s == 0 for s in sizes))},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return write_study(out_dir, f"{ml.name}-cold-users", summary, report(summary), log,
                       main_page=page)


def report(s):
    lines = ["# What user texts can carry for cold users (protocol D, MovieLens-100K)", "",
             "Written by `python -m benchmarks.cold_users`. Protocol D: 20% of the users held",
             f"out entirely ({s['cold_users']} users), known only by their user text; "
             f"{s['known_users']} known users.",
             "The two middle rows cheat on purpose: their settings are chosen on the test users",
             "themselves, so they bound what a choice made in `fit` can reach with that model.", "",
             "| model | NDCG@10 | lead over popularity, in its SE | paired SE of the lead |",
             "|---|---|---|---|"]
    for name, row in s["rows"].items():
        lines.append(f"| {name} | {row['NDCG@10']:.4f} ± {row['se']:.4f} | "
                     f"{row['lead_in_popularity_se']:+.2f} | {row['paired_se_of_lead']:.4f} |")
    h = s["hybrid_page"]
    lines.append(f"| Hybrid (ours), the main page | {h['NDCG@10']:.4f} ± {h['se']:.4f} | "
                 f"{h['lead_in_popularity_se']:+.2f} | |")
    best = s["best_text_neighbours"]
    lines += ["", f"Best text-neighbour setting on the test users: {best['count']} neighbours, "
              f"prior weight {best['prior']}; demographic groups: prior weight {s['group_prior']} "
              f"(median group size {s['group_sizes']['median']:.0f} known users, "
              f"{s['group_sizes']['empty']} cold users without a known user in their group).",
              "", f"Run time: {s['seconds']} s.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None, help="output directory")
    args = parser.parse_args(argv)
    refuse_quick_into_results(parser, False, args.out)  # an --out that is a file
    run(args.out or RESULTS)


if __name__ == "__main__":
    main()
