"""How many of the new items users pick can text find? (MovieLens-100K, protocol C-mix)

    HF_HUB_OFFLINE=1 python -m benchmarks.new_item_recall     # under a minute on 2 cores

In C-mix, ``HybridRecommender`` (defaults) gives each user's top-10 its
share of items without interactions (about 2 slots) and fills them with its
best-scored new items. Its new-item Recall@10 (the fraction of the test's
new-item interactions found) depends on the share and on which new items
fill the slots. This study holds the slots fixed (each user keeps as many
new items as the hybrid gave it) and fills them by other rankings of the
new items, to see how much a choice among new items can find here:

- at random (the floor);
- by the text alone (``ZeroShotRecommender``: the user's history and the
  items' texts, MiniLM);
- by each new item's true popularity (its interactions in the training
  period, which C-mix removed: an oracle no model has);
- by ALS and by item-kNN fitted with the new items' training-period
  interactions kept (the new items made warm: an oracle too).

Several draws of the new items (``cold_items`` seeds) and of the hybrid's
``random_state``; means over the draws, and the standard error over the
test users of each draw. The same draws also rank the new items among
themselves (C-new), to show how much the hybrid's new-item model moves
with its ``random_state``. Writes
``benchmarks/results/ml-100k-new-item-recall.{json,md}`` (``--out`` for
another directory; ``--quick``: one draw, one random state, to a temporary
directory).
"""

import time

import numpy as np
import pandas as pd

from sklearn_zsrec import (
    ALSRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    TextEncoder,
    ZeroShotRecommender,
)

from . import _protocols as P
from .movielens import RESULTS, movielens_dataset
from .stability import study_main, write_study

DRAWS = (0, 1, 2, 3)  # cold_items seeds (the main page's C-mix is draw 0)
RANDOM_STATES = (0, 1, 2)  # the hybrid's, per draw
N = 10


def recall(chosen, relevant_new):
    """Per user: the share of its relevant new items among its ``chosen`` ones (booleans)."""
    return (chosen & relevant_new).sum(axis=1) / relevant_new.sum(axis=1)


def slots_recall(scores, slots, relevant_new, seen):
    """Per user: the share of its relevant new items among its ``slots`` best-scored ones.

    ``scores``: (users, new items), higher first; ``seen``: (users, new
    items) booleans of items the user may not get (its training rows).
    """
    scores = np.where(seen, -np.inf, scores)
    order = np.argsort(-scores, axis=1, kind="stable")
    chosen = np.zeros(scores.shape, dtype=bool)
    for u, (row, q) in enumerate(zip(order, slots)):
        top = row[:q]
        chosen[u, top[np.isfinite(scores[u, top])]] = True
    return recall(chosen, relevant_new)


def _pairs(users, new, frame):
    """(users, new items) booleans: the rows of ``frame`` pairing one with the other."""
    out = np.zeros((len(users), len(new)), dtype=bool)
    mine = frame.item_id.isin(new).to_numpy() & frame.user_id.isin(users).to_numpy()
    out[pd.Index(users).get_indexer(frame.user_id[mine]),
        pd.Index(new).get_indexer(frame.item_id[mine])] = True
    return out


def run(out_dir=RESULTS, log=print, quick=False):
    t0 = time.perf_counter()
    draws, random_states = (DRAWS[:1], RANDOM_STATES[:1]) if quick else (DRAWS, RANDOM_STATES)
    ml = movielens_dataset()
    X, catalog = ml.interactions, np.asarray(ml.item_text.index)
    encoder = TextEncoder(verbose=0)
    rank, _ = P.rank_from_end(X)
    rows, c_new = {}, []
    for draw in draws:
        new = np.asarray(P.cold_items(X, 0.2, seed=draw))
        split = P.protocol_c_mix(X, new)
        ranked_apart = P.protocol_c_new(X, new)  # the same new items, ranked among themselves
        users = np.asarray(pd.unique(split.test.user_id))
        new_cols = pd.Index(catalog).get_indexer(new)
        relevant = _pairs(users, new, split.test)
        tested = relevant.any(axis=1)  # users with a new item in their test
        period = X[rank >= N]  # the training period, the new items' rows kept
        seen_in_period = _pairs(users, new, period)
        no_seen = np.zeros_like(relevant)

        oracles = {}
        for name, model in (("ALS, new items warm (oracle)", ALSRecommender(random_state=0, n_jobs=1)),
                            ("item-kNN, new items warm (oracle)", ItemKNNRecommender())):
            fitted = model.fit(period)
            cols = pd.Index(fitted.items_).get_indexer(new)
            scores = np.full((len(users), len(new)), -np.inf, dtype=np.float32)
            scores[:, cols >= 0] = fitted.score_items(users)[:, cols[cols >= 0]]
            oracles[name] = (scores, seen_in_period)
        counts = period.item_id.value_counts().reindex(new).fillna(0).to_numpy()
        rng = np.random.default_rng(draw)
        popularity = counts + 1e-3 * rng.random(len(new))  # ties at random
        oracles["true popularity (oracle)"] = (np.tile(popularity, (len(users), 1)), no_seen)
        text = ZeroShotRecommender(encoder, item_texts=ml.item_text).fit(split.train)
        oracles["text alone (ZeroShotRecommender)"] = (
            text.score_items(users)[:, pd.Index(text.items_).get_indexer(new)], no_seen)
        oracles["random"] = (rng.random((len(users), len(new))), no_seen)

        for random_state in random_states:
            hybrid = HybridRecommender(ZeroShotRecommender(encoder, item_texts=ml.item_text),
                                       random_state=random_state, verbose=0).fit(split.train)
            top = P.rank_top(split, P.score_matrix(hybrid, users, catalog), users, catalog, N)
            is_new = np.isin(top, new_cols) & (top >= 0)
            slots = is_new.sum(axis=1)
            chosen = np.stack([np.isin(new_cols, row[mine]) for row, mine in zip(top, is_new)])
            result = {"HybridRecommender (defaults)": recall(chosen[tested], relevant[tested])}
            for name, (scores, seen) in oracles.items():
                result[name] = slots_recall(scores[tested], slots[tested], relevant[tested],
                                            seen[tested])
            for name, values in result.items():
                rows.setdefault(name, []).append({
                    "draw": draw, "random_state": random_state, "mean": float(values.mean()),
                    "se": float(values.std(ddof=1) / np.sqrt(len(values))),
                    "slots": float(slots.mean())})
            log(f"  draw {draw}, random_state {random_state}: " + ", ".join(
                f"{name} {rows[name][-1]['mean']:.4f}" for name in result))
            hybrid = HybridRecommender(ZeroShotRecommender(encoder, item_texts=ml.item_text),
                                       random_state=random_state, verbose=0)
            ndcg = P.evaluate(hybrid.fit(ranked_apart.train), ranked_apart, catalog)["NDCG@10"]
            c_new.append({"draw": draw, "random_state": random_state, "mean": float(ndcg.mean()),
                          "se": float(ndcg.std(ddof=1) / np.sqrt(len(ndcg)))})
            log(f"  draw {draw}, random_state {random_state}: C-new NDCG@10 {ndcg.mean():.4f}")
    summary = {"draws": list(draws), "random_states": list(random_states), "rows": rows,
               "c_new": c_new, "seconds": round(time.perf_counter() - t0, 1)}
    return write_study(out_dir, f"{ml.name}-new-item-recall", summary, report(summary), log,
                       quick=quick)


def report(s):
    lines = [
        "# How many of the new items users pick can text find? (MovieLens-100K, C-mix)", "",
        "Written by `python -m benchmarks.new_item_recall`. C-mix: 20% of the items lose all",
        "their interactions (draws " + ", ".join(map(str, s["draws"])) + " of `cold_items`; the",
        "main page's is draw 0); each user's last 10 interactions are the test. The hybrid",
        "(defaults, `random_state` " + ", ".join(map(str, s["random_states"])) + ") gives each",
        "user's top-10 its share of new items; the other rows fill the same slots per user",
        "with their own best new items. New-item Recall@10: the fraction of a user's new test",
        "items found, over the users with one; means over draws (and random states), each",
        "draw's mean, the lowest and highest single run, and the largest standard error of a",
        "run (over its test users).", "",
        "| new items chosen by | new-item Recall@10 | per draw | lowest - highest run | SE "
        "(largest) |",
        "|---|---|---|---|---|"]
    for name, runs in s["rows"].items():
        per_draw = [np.mean([r["mean"] for r in runs if r["draw"] == d]) for d in s["draws"]]
        lines.append(f"| {name} | {np.mean(per_draw):.4f} | "
                     + ", ".join(f"{v:.4f}" for v in per_draw)
                     + f" | {min(r['mean'] for r in runs):.4f} - "
                     f"{max(r['mean'] for r in runs):.4f} | {max(r['se'] for r in runs):.4f} |")
    slots = np.mean([r["slots"] for r in s["rows"]["HybridRecommender (defaults)"]])
    mean = {name: np.mean([r["mean"] for r in runs]) for name, runs in s["rows"].items()}
    warm = [v for name, v in mean.items() if "warm" in name]
    lines += ["", f"New-item slots per user (the hybrid's): {slots:.2f} on average.", "",
              "The oracles use what no model has in C-mix (the new items' interactions). With",
              "the slots fixed, the hybrid's choice of new items finds "
              f"{mean['HybridRecommender (defaults)']:.1%}, their true popularity",
              f"{mean['true popularity (oracle)']:.1%}, the text alone "
              f"{mean['text alone (ZeroShotRecommender)']:.1%}, and a model that had seen them",
              f"{min(warm):.0%}-{max(warm):.0%}: the text of these items (title, year, genres) "
              "carries little of who",
              "picks them. More slots (`new_item_exposure`) is the other lever: docs/blend.md.",
              ""]
    lines += ["## The same new items ranked among themselves (C-new)", "",
              "NDCG@10 of the hybrid (defaults) on C-new with the same draws of new items",
              "(each user's interactions with them, ranked among them): how much its",
              "new-item model moves with its `random_state`.", "",
              "| draw | " + " | ".join(f"random_state {r}" for r in s["random_states"])
              + " | spread | SE (largest) |",
              "|---" * (len(s["random_states"]) + 3) + "|"]
    for d in s["draws"]:
        runs = [r for r in s["c_new"] if r["draw"] == d]
        means = [r["mean"] for r in runs]
        lines.append(f"| {d} | " + " | ".join(f"{m:.4f}" for m in means)
                     + f" | {max(means) - min(means):.4f} | {max(r['se'] for r in runs):.4f} |")
    lines += ["", f"Run time: {s['seconds']} s.", ""]
    return "\n".join(lines)


def main(argv=None):
    study_main(__doc__, run, "draw 0, random_state 0 only", argv)


if __name__ == "__main__":
    main()
