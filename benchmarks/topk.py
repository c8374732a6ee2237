"""Top-10 for every MovieLens-100K user: our recommenders against the bounds.

(a) the bare bound: one float32 matrix product of the factors + argpartition
(no exclusion of seen items, no blending); (b) ALSRecommender.recommend;
(c) implicit's own ``recommend`` on the same factors; (d)
HybridRecommender.recommend (all-MiniLM-L6-v2 zero-shot text member; ALS,
item-kNN and next-item members; learned blend).
The hybrid's bare bound is one product of the concatenated factors its blend
multiplies (text embeddings, ALS factors, recency profiles), all read from
the fitted members' public attributes. Medians of repeats. Run from the repository
root on an otherwise idle machine::

    python benchmarks/topk.py            # full run, ~2 minutes
    python benchmarks/topk.py --quick    # smoke run

Writes benchmarks/results/topk.md, .json and .png.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout first
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

import _report  # noqa: E402


# rounds of timed blocks, one block per configuration: the machine's speed
# drifts over seconds (a shared VM: the same configuration's median moved by
# 1.5x between rounds 20 s apart), so the ratios are taken per round, between
# blocks run close in time, and many short rounds are pooled
ROUNDS = 12
SETTLE_RUNS = 3  # untimed runs at the start of each block
COLD_FRACTION = 0.2  # items without interactions in the cold-start configuration


def bare(user_factors, item_factors, n=10):
    scores = user_factors @ item_factors.T
    return np.argpartition(-scores, n - 1, axis=1)[:, :n]


def bare_torch(user_factors, item_factors, n=10):
    """The same bound with torch's product and top-k (what our recommenders use)."""
    import torch

    return torch.topk(torch.from_numpy(user_factors) @ torch.from_numpy(item_factors).T, n, dim=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: one timed run per round ({ROUNDS} in all)")
    parser.add_argument("--repeats", type=_report.positive_int, default=None,
                        help=f"timed runs per configuration, rounded down to a multiple of the "
                             f"{ROUNDS} rounds, at least one per round (default 60; 3, so "
                             f"{ROUNDS}, with --quick)")
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else 3 if args.quick else 60
    # the commit, date and threads of the code that runs (not of the end)
    head, env = _report.header("Top-10 for every user: speed against the bounds", args.quick)

    from implicit.cpu.als import AlternatingLeastSquares

    from sklearn_zsrec import (ALSRecommender, HybridRecommender, ItemKNNRecommender,
                               NextItemRecommender, TextEncoder, ZeroShotRecommender)
    from sklearn_zsrec._scores import _chunk_size
    from sklearn_zsrec.datasets import load_movielens_100k

    ml = load_movielens_100k()
    text = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=ml.item_text)
    members = [("als", ALSRecommender(factors=64, random_state=0)), ("knn", ItemKNNRecommender()),
               ("next", NextItemRecommender())]
    hybrid = HybridRecommender(text, members, random_state=0, verbose=0)
    hybrid.fit(ml.interactions)
    als, knn, zs = hybrid.named_members_.als, hybrid.named_members_.knn, hybrid.text_
    nxt = hybrid.named_members_.next
    users = hybrid.users_
    assert np.array_equal(als.users_, users) and np.array_equal(als.items_, hybrid.items_)
    n_users, n_items = len(users), len(hybrid.items_)
    print(f"{n_users} users x {n_items} items; precision {zs.encoder_.precision_}", flush=True)

    implicit_model = AlternatingLeastSquares(factors=als.factors)
    implicit_model.user_factors = als.user_factors_
    implicit_model.item_factors = als.item_factors_
    user_items = als.user_items_.tocsr()
    userids = np.arange(n_users)

    # the bare bound of the hybrid: one product of the concatenated factors
    # the recency profiles the blend multiplies: the recency-weighted
    # histories (the item-kNN member's, same half_life) times the ALS factors
    profiles = np.asarray(knn.history_ @ als.item_factors_, dtype=np.float32)
    blended_users = np.hstack(
        [zs.user_embeddings_, als.user_factors_, profiles]
    ).astype(np.float32)
    blended_items = np.hstack(
        [zs.item_embeddings_, als.item_factors_, als.item_factors_]
    ).astype(np.float32)
    fixed = HybridRecommender(text, members, blend="fixed", verbose=0)
    fixed.fit(ml.interactions)
    # the same hybrid on a catalog where 20% of the items (a random draw) have
    # no interaction: new items get their share of every top-10 (exposure)
    rng = np.random.default_rng(0)
    cold_items = rng.choice(hybrid.items_, int(COLD_FRACTION * n_items), replace=False)
    with_cold = HybridRecommender(text, members, random_state=0, verbose=0)
    with_cold.fit(ml.interactions[~ml.interactions.item_id.isin(cold_items)])
    cold_users = with_cold.users_
    cold_label = (f"HybridRecommender.recommend, {COLD_FRACTION:.0%} of the items without "
                  "interactions")

    chunk = _chunk_size(None, n_items, n_users)
    knn_label = f"item-kNN product alone (chunks of {chunk} users)"
    blended_label = f"bare bound, blended factors ({blended_users.shape[1]}-d)"
    blended_torch = f"bare bound, blended factors ({blended_users.shape[1]}-d), torch product + topk"
    def members_bound():
        """The members' own scores (public ``score_items``), summed, and one top-k: no blending."""
        import torch

        items = torch.from_numpy(blended_items)
        for i in range(0, n_users, chunk):
            part = users[i:i + chunk]
            scores = torch.from_numpy(blended_users[i:i + chunk]) @ items.T
            scores += torch.from_numpy(knn.score_items(part))
            scores += torch.from_numpy(nxt.score_items(part))
            torch.topk(scores, 10, dim=1)

    members_label = "members' scores alone (blended factors + item-kNN + next-item), top-k"
    # the hybrid's block follows its bound's, the ALS recommend's follows implicit's
    configs = {
        "bare bound, ALS factors (64-d)": lambda: bare(als.user_factors_, als.item_factors_),
        blended_label: lambda: bare(blended_users, blended_items),
        "HybridRecommender.recommend": lambda: hybrid.recommend(users, 10),
        blended_torch: lambda: bare_torch(blended_users, blended_items),
        members_label: members_bound,
        "implicit recommend (same factors)": lambda: implicit_model.recommend(
            userids, user_items, N=10, filter_already_liked_items=True
        ),
        "ALSRecommender.recommend": lambda: als.recommend(users, 10),
        "ZeroShotRecommender.recommend": lambda: zs.recommend(users, 10),
        "HybridRecommender(blend='fixed').recommend": lambda: fixed.recommend(users, 10),
        cold_label: lambda: with_cold.recommend(cold_users, 10),
        # the one part of the learned blend that is not a factor product
        knn_label: lambda: [
            knn.score_items(users[i:i + chunk]) for i in range(0, n_users, chunk)
        ],
    }
    for batch_size in (64, 256):
        configs[f"HybridRecommender.recommend(batch_size={batch_size})"] = (
            lambda b=batch_size: hybrid.recommend(users, 10, batch_size=b)
        )
    for run in configs.values():
        run()  # warm-up
    times = {name: [] for name in configs}
    rounds = {name: [] for name in configs}  # each round's median
    # in blocks: numpy's (OpenBLAS) threads keep spinning for a while after a
    # product and slow torch's down (and the reverse), so alternating single
    # runs would measure the order of the configurations; each block starts
    # with untimed runs, and ROUNDS rounds of blocks spread the machine's drift
    for _ in range(ROUNDS):
        for name, run in configs.items():
            for _ in range(SETTLE_RUNS):
                run()
            median, block = _report.median_time(run, max(1, repeats // ROUNDS))
            times[name] += block
            rounds[name].append(median)
    med = {name: float(np.median(t)) for name, t in times.items()}

    def per_round(name, bound):
        """Median, min and max over rounds of ``name``'s time over ``bound``'s."""
        ratios = np.asarray(rounds[name]) / np.asarray(rounds[bound])
        return float(np.median(ratios)), float(ratios.min()), float(ratios.max())

    # agreement: our ALS top-10 against implicit's, and the two hybrid blends
    ids_implicit, _ = implicit_model.recommend(userids, user_items, N=10, filter_already_liked_items=True)
    ours = als.recommend(users, 10)
    als_agree = float(np.mean([set(a) == set(als.items_[b]) for a, b in zip(ours, ids_implicit)]))

    bare_als = med["bare bound, ALS factors (64-d)"]
    bare_blend = med[blended_label]
    bare_blend_torch = med[blended_torch]
    rows = []
    for name in configs:
        row = {"config": name, "median_ms": 1e3 * med[name], "users_per_s": n_users / med[name],
               "times_s": times[name]}
        row["ratio_to_bare_als"] = med[name] / bare_als
        row["ratio_to_bare_blended"] = med[name] / bare_blend
        row["ratio_to_bare_blended_torch"] = med[name] / bare_blend_torch
        rows.append(row)
    als_vs_implicit = med["implicit recommend (same factors)"] / med["ALSRecommender.recommend"]
    hybrid_vs_bare, low, high = per_round("HybridRecommender.recommend", blended_label)
    hybrid_vs_bare_pooled = med["HybridRecommender.recommend"] / bare_blend
    hybrid_vs_bare_torch = med["HybridRecommender.recommend"] / bare_blend_torch
    fixed_vs_bare = med["HybridRecommender(blend='fixed').recommend"] / bare_blend
    knn_share = med[knn_label] / med["HybridRecommender.recommend"]
    hybrid_vs_members = med["HybridRecommender.recommend"] / med[members_label]
    cold_vs_bare = med[cold_label] / bare_blend

    lines = [
        head,
        "## Method",
        "",
        f"- MovieLens-100K, all {n_users} users x {n_items} items, top-10, training items excluded "
        "(except in the bare bounds). ALS: `ALSRecommender(factors=64, random_state=0)` fitted on all "
        "interactions; implicit's `AlternatingLeastSquares.recommend(userids, user_items, N=10, "
        "filter_already_liked_items=True)` gets the very same factors. Hybrid: "
        "`HybridRecommender(ZeroShotRecommender(TextEncoder()), [(\"als\", ALS), (\"knn\", "
        "ItemKNNRecommender()), (\"next\", NextItemRecommender())])`, all-MiniLM-L6-v2 "
        f"({zs.item_embeddings_.shape[1]}-d embeddings, precision {zs.encoder_.precision_}).",
        "- Bare bound: `np.argpartition(-(U @ V.T), 9, axis=1)[:, :10]` in float32, where U, V are the "
        "ALS factors, or for the hybrid the zero-shot embeddings, the ALS factors and the recency "
        "profiles (the item-kNN member's recency-weighted histories times the ALS item factors) "
        "side by side (one product computes the three dot products).",
        f"- Each configuration is timed {ROUNDS * max(1, repeats // ROUNDS)} times in {ROUNDS} "
        f"rounds; in each round it runs as a block ({SETTLE_RUNS} untimed runs, then "
        f"{max(1, repeats // ROUNDS)} timed ones), because numpy's OpenBLAS threads and torch's "
        "OpenMP threads slow each other down for a while after use on 2 cores and single "
        "alternating runs would measure which configuration ran before; medians. The machine's "
        "speed drifts over seconds, so the target ratio compares blocks of the same round, run "
        "one after the other.",
        "",
        "## Results",
        "",
        _report.table(
            rows,
            [
                ("config", "configuration", ""),
                ("median_ms", "median ms", ".1f"),
                ("users_per_s", "users/s", ".0f"),
                ("ratio_to_bare_als", "x bare (ALS)", ".2f"),
                ("ratio_to_bare_blended", "x bare (blended)", ".2f"),
                ("ratio_to_bare_blended_torch", "x bare (blended, torch)", ".2f"),
            ],
        ),
        "",
        f"- ALSRecommender is **{als_vs_implicit:.2f}x** as fast as implicit's recommend "
        f"(target >= 1); the two agree on the top-10 set for {als_agree:.1%} of users.",
        f"- HybridRecommender takes **{hybrid_vs_bare:.3f}x** the bare bound of the blended factors "
        f"(target <= 2: {'met' if hybrid_vs_bare <= 2 else 'not met'} in this run): the median of the {ROUNDS} rounds' ratios (the hybrid's block right after "
        f"the bound's; {low:.2f}x to {high:.2f}x), {hybrid_vs_bare_pooled:.2f}x as the ratio of the "
        "medians over all rounds in the table, which the machine's drift between blocks far "
        "apart in time enters; and "
        f"{hybrid_vs_bare_torch:.2f}x the same bound computed with torch's product and top-k (what "
        "our recommenders use: torch.topk is several times faster than np.argpartition here, so "
        "this is the stricter bound). The learned blend (default) standardises every factor term "
        "from the factors (per-user mean and variance from the items' mean and covariance), so "
        "that its 14 terms become two products (text, 384-d; CF, recency profile, popularity and "
        "their gated copies, 2 x 64 + 1-d), a rank-one gate correction of the text scores and a "
        "small product for new items; the item-kNN and next-item members' scores (their "
        "`score_items`: recent items x item-item matrix, dense up to 4,096 items) are not factor "
        "products, so outside the bare bound (the item-kNN product alone is "
        f"{knn_share:.0%} of the hybrid's time), and enter as `weight / std` times the scores, "
        "their per-user mean and deviation computed once per user and cached (the timed "
        "calls follow untimed ones, so they run with those statistics computed; a user's "
        "first `recommend` also computes them, two more passes over those members' scores). "
        f"`blend='fixed'` takes **{fixed_vs_bare:.2f}x**.",
        (f"- With {COLD_FRACTION:.0%} of the items without interactions (their rows removed, "
         f"{len(cold_users)} users left), the hybrid takes **{cold_vs_bare:.2f}x** the bound (the "
         "ratio of the medians): its item-item members score only the items they know, their "
         "scores are written into catalog columns, the new items get their own product, and "
         "each user's offset on them (its share of the top-10, `new_item_exposure`) needs its "
         "best scores of old and of new items: two more top-k per chunk."),
        (f"- Against the members' own scores (`{members_label}`: the factor product of the bare "
         "bound plus both item-item members' `score_items`, summed, and one torch top-k, i.e. "
         "the work of the blend's members without any blending), the hybrid takes "
         f"**{hybrid_vs_members:.2f}x**: the blending itself (z-scores, gates, the new-item "
         "offsets, excluding seen items) costs that much on top of computing its members."),
        "- The fused float32 blend equals the blend written plainly up to float32 rounding "
        "(tests/test_fast_paths.py checks it).",
        f"- Default `batch_size` (None): {n_users} users in chunks of {chunk} (about 2 MB of "
        "float32 scores each).",
        "",
    ]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.barh([r["config"] for r in rows][::-1], [r["median_ms"] for r in rows][::-1], color="tab:green")
    ax.axvline(2 * bare_blend * 1e3, color="k", ls="--", lw=1, label="2 x bare bound (blended)")
    ax.axvline(2 * bare_blend_torch * 1e3, color="k", ls=":", lw=1,
               label="2 x bare bound (blended, torch)")
    ax.set_xlabel(f"median ms for top-10 of {n_users} users (lower is better)")
    ax.legend()
    data = {**env, "n_users": n_users, "n_items": n_items, "results": rows,
            "als_vs_implicit": als_vs_implicit, "hybrid_vs_bare_blended": hybrid_vs_bare,
            "hybrid_vs_bare_blended_rounds": [low, high],
            "hybrid_vs_bare_blended_pooled": hybrid_vs_bare_pooled,
            "round_medians_s": rounds,
            "fixed_hybrid_vs_bare_blended": fixed_vs_bare,
            "hybrid_vs_bare_blended_torch": hybrid_vs_bare_torch,
            "hybrid_vs_members_scores": hybrid_vs_members,
            "hybrid_with_cold_items_vs_bare_blended": cold_vs_bare,
            "als_topk_agreement_with_implicit": als_agree}
    for p in _report.write("topk", args.quick, "\n".join(lines), data, fig):
        print("wrote", p)
    print(_report.table(rows, [("config", "config", ""), ("median_ms", "ms", ".1f"),
                               ("ratio_to_bare_blended", "x bare blended", ".2f")]))
    print(f"ALS vs implicit {als_vs_implicit:.2f}x faster; hybrid {hybrid_vs_bare:.2f}x bare; "
          f"agreement ALS/implicit {als_agree:.1%}")


if __name__ == "__main__":
    main()
