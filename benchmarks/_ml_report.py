"""Write the benchmark results page (markdown) and its plots (PNG)."""

import json
import re
from pathlib import Path
from urllib.parse import quote

import numpy as np

from ._peers_results import json_digest


def _fmt(cell):
    if cell is None:
        return "n/a"
    mean, se, _ = cell
    return f"{mean:.4f} ± {se:.4f}"


# columns where more is not better (C-mix's share of new items in the top-10
# is judged against their share of the test): never bold
UNRANKED = ("NewShareTop10", "NewShareTest")
# what a version recorded as None means
_MISSING = {"git_commit": "unknown (not run from a git checkout)"}


def _table(results, key, metrics):
    models = results.get(key, {})
    if not models:
        return "_not run_\n"
    lines = ["| model | " + " | ".join(metrics) + " | fit s |",
             "|---|" + "---|" * (len(metrics) + 1)]
    best = {}
    for m in metrics:
        vals = {name: row[m][0] for name, row in models.items() if m in row and name != "Random"}
        best[m] = max(vals.values()) if vals and m not in UNRANKED else None
    for name, row in models.items():
        cells = []
        for m in metrics:
            cell = row.get(m)
            text = _fmt(cell)
            if cell is not None and best[m] is not None and cell[0] == best[m]:
                text = f"**{text}**"
            cells.append(text)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['fit_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def _curve(results, prefix, values, metric="NDCG@10"):
    """model -> (x, mean, se) over the keys ``prefix + value``."""
    curves = {}
    for v in values:
        key = f"{prefix}{v}"
        for name, row in results.get(key, {}).items():
            if metric in row:
                curves.setdefault(name, []).append((v, row[metric][0], row[metric][1]))
    return curves


def _xs(pts, xs_labels=None):
    """The x of a curve's points: their value, or their label's place in ``xs_labels``.

    By label, not by the point's place in its own list: a model missing at
    some labels (a peer's stale keys) keeps its points above their labels.
    """
    if xs_labels:
        return np.array([list(xs_labels).index(p[0]) for p in pts], float)
    return np.array([p[0] for p in pts], float)


def _plot_curves(curves, xlabel, title, path, xs_labels=None, logx=False):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, pts in curves.items():
        x = _xs(pts, xs_labels)
        y = np.array([p[1] for p in pts])
        e = np.array([p[2] for p in pts])
        style = dict(lw=2.5, marker="o") if "(ours" in name else dict(lw=1, marker=".", ls="--")
        if name == "Random":
            style = dict(lw=1, color="grey", ls=":")
        ax.errorbar(x, y, yerr=e, label=name, capsize=2, **style)
    if xs_labels:
        ax.set_xticks(np.arange(len(xs_labels)), xs_labels)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("NDCG@10 (± 1 s.e.)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_bars(results, keys, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 5))
    for ax, key in zip(np.atleast_1d(axes), keys):
        models = results.get(key, {})
        names = list(models)
        means = [models[n]["NDCG@10"][0] for n in names]
        ses = [models[n]["NDCG@10"][1] for n in names]
        colors = ["tab:red" if "(ours" in n else "tab:blue" for n in names]
        ax.barh(names, means, xerr=ses, color=colors, capsize=2)
        ax.set_title(f"{key}: NDCG@10")
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _curve_table(res, keys, labels, metric="NDCG@10"):
    """Rows of a markdown table: one line per model, one column per key."""
    models = list(dict.fromkeys(m for k in keys for m in res[k]))
    lines = ["| model | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for m in models:
        cells = []
        for k in keys:
            row = res[k].get(m)
            best = max(r[metric][0] for n, r in res[k].items() if n != "Random")
            text = _fmt(row.get(metric)) if row else "n/a"
            cells.append(f"**{text}**" if row and row[metric][0] == best else text)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


HYBRID = "Hybrid (ours)"
PEER_SUFFIX = " (RecTools)"  # the next-item peers' rows (benchmarks/peers.py)
# the hybrid's members as rows of the page (their own fits, text embeddings cached)
MEMBERS = ("ZeroShot (ours)", "ALSRecommender (ours)", "ItemKNNRecommender (ours)",
           "NextItemRecommender (ours)")


TUNED = " (ours, fine-tuned encoder)"
# why the hybrid's fit costs more than its members' (the fit row and the cached view)
FITS_TWICE = ("The learned blend fits every member twice, on the holdout it learns the "
              "blend on and on all the data, then learns the blend: at least twice the "
              "members' fits by construction (docs/blend.md, \"Cost\"); blend=\"fixed\" "
              "fits them once.")


def _fine_tuning_lines(res):
    """The fine-tuned text encoder against the same model without it (C-new, C-mix, D)."""
    rows = []
    for key in ("C-new", "C-mix", "D"):
        for base in ("ZeroShot", "Hybrid"):
            plain, tuned = res.get(key, {}).get(f"{base} (ours)"), \
                res.get(key, {}).get(f"{base}{TUNED}")
            if not plain or not tuned:
                continue
            (m0, s0, _), (m1, s1, _) = plain["NDCG@10"], tuned["NDCG@10"]
            diff = m1 - m0
            rows.append(f"| {key} | {base} | {m0:.4f} ± {s0:.4f} | {m1:.4f} ± {s1:.4f} | "
                        f"{diff:+.4f} ({diff / max(s0, 1e-12):+.2f} SE) | "
                        f"{plain['fit_seconds']:.1f} | {tuned['fit_seconds']:.1f} |")
    if not rows:
        return []
    return ["## Fine-tuned text encoder", "",
            "`ContrastiveFineTuning(\"lora\")` adapts all-MiniLM-L6-v2 to each split's training",
            "interactions before the items are embedded (an item and the next items of its user,",
            "a user's text and their items; early-stopped on a tenth of the distinct texts,",
            "items' and users', held out of training). NDCG@10 without and with it, and fit",
            "seconds (with it: the tuning included; the hybrid's learned blend tunes once, on",
            "the rows of the holdout it learns the blend on, and serves that encoder):", "",
            "| protocol | model | without | with | difference (in SE of without) "
            "| fit s without | fit s with |",
            "|---|---|---|---|---|---|---|", *rows, "", *_new_recall_line(res)]


def _new_recall_line(res):
    """C-mix's new-item Recall@10 of the hybrid without and with the tuning."""
    plain, tuned = (res.get("C-mix", {}).get(f"Hybrid{s}") for s in (" (ours)", TUNED))
    if not plain or not tuned or "NewRecall@10" not in plain:
        return []
    (m0, s0, _), (m1, s1, _) = plain["NewRecall@10"], tuned["NewRecall@10"]
    return [(f"C-mix, the hybrid's new-item Recall@10: {m0:.4f} ± {s0:.4f} without, "
             f"{m1:.4f} ± {s1:.4f} with the tuning."), ""]


def tuning_digest(page):
    """A fingerprint of the main page's tuned parameters (``page``: its JSON, as a dict).

    A study beside the page builds its models from them (``page_hybrid``)
    and records this digest (``write_study``); the page reads such a study
    only when the digests agree, and a test checks the committed studies
    against the committed page, so that a page rerun with other tuned
    parameters cannot sit beside studies of the old ones unnoticed.
    """
    # the searched rows only: a variant (0 candidates) takes its row's
    # parameters, and its own (e.g. a fine-tuning's temporary directory)
    # differ from run to run; the peers' rows (``library``: tuned by
    # ``benchmarks.peers``, read from its file) are in no study, and a page
    # rerun beside stale peers' results must keep its studies
    best = {name: t["best"] for name, t in page["tuning"].items()
            if t.get("candidates") and not t.get("library")}
    return json_digest(best)


def _cold_user_ceiling(out_dir, stem, summary):
    """The ceiling of user texts on D (``benchmarks.cold_users``'s page beside this one), or None.

    None also when that page was computed beside a page of other tuned
    parameters (``tuning_digest``).
    """
    path = Path(out_dir) / f"{stem}-cold-users.json"
    if not path.exists():
        return None
    study = json.loads(path.read_text())
    if study.get("main_page_tuning") != tuning_digest(summary):
        return None
    env = study.get("environment") or {}
    page_precision = summary["meta"].get("encoder_precision")
    if env.get("encoder_precision", page_precision) != page_precision:
        return None  # user texts encoded in another precision: not this page's ceiling
    rows = study["rows"]
    name = next(n for n in rows if n.startswith("Text neighbours"))
    where = (f"computed on {env['machine']}, {env['date']}, code {env['git_commit']}, "
             f"encoder in {env['encoder_precision']}" if env else
             "its machine and precision not recorded (a study written before they were)")
    return name, rows[name], where


def _targets(res, tuning, ceiling=None, fit_cost=None, paired=None):
    """Rows of the hybrid's targets table (issue 5), each checked on this run's numbers.

    "Ahead by more than one standard error": the difference of the means
    against the standard error of the other model's mean (the ± next to it).
    With ``paired`` (``movielens.paired``), a comparison with a model of this
    run also gives the paired test of the same difference, beside the verdict.
    """
    def others(key):
        return {m: r for m, r in res.get(key, {}).items()
                if not m.startswith("Hybrid") and m != "Random" and "NDCG@10" in r}

    def ndcg(key, model):
        return res[key][model]["NDCG@10"][:2]

    def paired_test(key, model, hybrid_first=False):
        """``; paired, ItemKNN less hybrid: +0.0031 ± 0.0012 (+2.58 SE)``, per user, the
        difference taken the way round of the row's own comparison."""
        d = (paired or {}).get(key, {}).get(model)
        if d is None:
            return ""
        sign, order = (-1, f"hybrid less {model}") if hybrid_first else (1, f"{model} less hybrid")
        return (f"; paired, {order}: {sign * d[0]:+.4f} ± {d[1]:.4f} "
                f"({sign * d[0] / max(d[1], 1e-12):+.2f} SE)")

    rows, misses = [], []
    page_models = set(others("A"))

    def not_run(keys):
        """`` (not run: ...)``: the page's models (those of A) missing at ``keys``."""
        where = {}
        for k in keys:
            for m in sorted(page_models - set(res.get(k, {}))):
                where.setdefault(m, []).append(k)
        if not where:
            return ""
        groups = {}
        for m, at in where.items():
            label = "at every point" if len(at) == len(keys) > 1 else "at " + ", ".join(at)
            groups.setdefault(label, []).append(m)
        return " (not run: " + "; ".join(f"{', '.join(ms)} {label}".rstrip()
                                          for label, ms in groups.items()) + ")"

    def add(name, value, against, met, why=None):
        rows.append(f"| {name} | {value} | {against} | {'**yes**' if met else '**no**'} |")
        if not met:
            misses.append(f"- {name}: {against}. {why or _why(against)}")

    if HYBRID not in res.get("A", {}):
        return []
    h, _ = ndcg("A", HYBRID)
    best = max(others("A"), key=lambda m: ndcg("A", m)[0])
    peers_in_a = any(m.endswith(PEER_SUFFIX) for m in res["A"])
    add("A: NDCG@10 >= 1.10x the best model of the page "
        f"({'peers included' if peers_in_a else 'peers missing'})", f"{h:.4f}",
        f"{best} {ndcg('A', best)[0]:.4f} ({h / ndcg('A', best)[0]:.2f}x)",
        h >= 1.10 * ndcg("A", best)[0])
    for prefix, label, aim, extra in (("B/n=", "B", 5, None), ("E/p=", "E", None, 10)):
        keys = [k for k in res if k.startswith(prefix) and HYBRID in res[k]]
        leads = {}
        for k in keys:
            h, _ = ndcg(k, HYBRID)
            leads[k] = max(((ndcg(k, m)[0] - h) / max(ndcg(k, m)[1], 1e-12), m)
                           for m in others(k))
        worst = max(leads, key=lambda k: leads[k][0])
        add(f"{label} floor: no model ahead by more than 1 SE, at every point",
            f"largest lead {leads[worst][0]:+.2f} SE",
            f"{leads[worst][1]} at {worst}{paired_test(worst, leads[worst][1])}{not_run(keys)}",
            leads[worst][0] <= 1.0)
        if aim is not None:
            small = [k for k in keys if k.split("=")[1] != "all" and int(k.split("=")[1]) <= aim]
            behind = [k for k in small if leads[k][0] >= 0]
            add(f"{label} aim: ahead of every baseline at n <= {aim}",
                "ahead at " + ", ".join(k.split("/")[1] for k in small if k not in behind),
                "behind at " + (", ".join(behind) or "none") + not_run(small), not behind)
        if extra is not None:  # issue 15: the floor from p = extra on, ahead of ALS below
            large = [k for k in keys if int(k.split("=")[1]) >= extra]
            if large:
                worst = max(large, key=lambda k: leads[k][0])
                add(f"{label} floor from p = {extra}: no model ahead by more than 1 SE",
                    f"largest lead {leads[worst][0]:+.2f} SE",
                    f"{leads[worst][1]} at {worst}{paired_test(worst, leads[worst][1])}"
                    f"{not_run(large)}", leads[worst][0] <= 1.0)
            small = [k for k in keys if int(k.split("=")[1]) <= extra]
            als = [m for m in others(keys[0]) if m.startswith("ALS")]
            behind = [k for k in small for m in als if ndcg(k, m)[0] >= ndcg(k, HYBRID)[0]]
            add(f"{label}: ahead of ALS at p <= {extra}",
                ", ".join(f"{k.split('/')[1]} {ndcg(k, HYBRID)[0]:.4f}" for k in small),
                "ALS " + ", ".join(f"{max(ndcg(k, m)[0] for m in als):.4f}" for k in small),
                not behind)
    if HYBRID in res.get("C-new", {}):
        featured = [m for m in others("C-new") if m.startswith("LightFM") and "+" in m]
        if featured:
            best = max(featured, key=lambda m: ndcg("C-new", m)[0])
            h, b = ndcg("C-new", HYBRID)[0], ndcg("C-new", best)[0]
            add("C-new: >= 1.15x LightFM with item features", f"{h:.4f}",
                f"{best} {b:.4f} ({h / b:.2f}x)", h >= 1.15 * b)
    if HYBRID in res.get("C-mix", {}):
        row = res["C-mix"][HYBRID]
        best = max(others("C-mix"), key=lambda m: ndcg("C-mix", m)[0])
        h = row["NDCG@10"][0]
        add("C-mix: NDCG@10 at least level with the best baseline", f"{h:.4f}",
            f"{best} {ndcg('C-mix', best)[0]:.4f}{not_run(['C-mix'])}",
            h >= ndcg("C-mix", best)[0])
        share, test = row["NewShareTop10"][0], row["NewShareTest"][0]
        add("C-mix: new items' top-10 share within 0.5x-2x their test share", f"{share:.3f}",
            f"test {test:.3f} ({share / test:.2f}x)", 0.5 * test <= share <= 2 * test)
        add("C-mix: new items' Recall@10 >= 0.05", f"{row['NewRecall@10'][0]:.4f}", "0.05",
            row["NewRecall@10"][0] >= 0.05)
    if HYBRID in res.get("D", {}) and "Popularity" in res["D"]:
        h, _ = ndcg("D", HYBRID)
        p, se = ndcg("D", "Popularity")
        add("D: ahead of popularity by at least 1 SE", f"{h:.4f}",
            f"Popularity {p:.4f} ± {se:.4f} ({(h - p) / se:+.2f} SE)"
            f"{paired_test('D', 'Popularity', hybrid_first=True)}", h - p >= se)
        # issue 15: 2 SE, or the page shows why texts cannot carry it
        target = "D: ahead of popularity by 2 SE, or the ceiling of user texts under 2 SE"
        if ceiling is not None:
            name, row, _ = ceiling
            add(target, f"{(h - p) / se:+.2f} SE", f"ceiling ({name.lower()}): "
                f"{row['NDCG@10']:.4f}, {row['lead_in_popularity_se']:+.2f} SE",
                h - p >= 2 * se or row["lead_in_popularity_se"] < 2)
        else:
            add(target, f"{(h - p) / se:+.2f} SE", "no ceiling of this page's tuned models "
                "(`python -m benchmarks.cold_users`, then this page again)", h - p >= 2 * se)
    ours = [m for m in ("ALSRecommender (ours)",) if m in tuning and tuning[m]["seconds"]]
    if HYBRID in tuning and ours:
        h, a = tuning[HYBRID]["seconds"], tuning[ours[0]]["seconds"]
        add("Tuning: hybrid's GridSearchCV within 3x ALS's, same grid size (best of 3 searches each)",
            f"{h} s", f"{ours[0]} {a} s ({h / a:.1f}x)", h <= 3 * a)
    if fit_cost:
        h = sum(fit_cost["hybrid"])
        parts = {name: sum(s) for name, s in fit_cost["members"].items()}
        total = sum(parts.values())
        add(f"Fit: hybrid's fit within 1.5x its members' own fits plus encoding (from "
            f"scratch, A, {len(fit_cost['hybrid'])} fold{'s' * (len(fit_cost['hybrid']) > 1)}, "
            "one timing per fold)",
            f"{h:.1f} s",
            " + ".join(f"{name} {s:.1f}" for name, s in parts.items())
            + f" = {total:.1f} s ({h / total:.2f}x)", h <= 1.5 * total, FITS_TWICE)
    members = [m for m in MEMBERS if m in res.get("A", {})]
    cached = []
    if HYBRID in res.get("A", {}) and len(members) == len(MEMBERS):
        h = res["A"][HYBRID]["fit_seconds"]
        total = sum(res["A"][m]["fit_seconds"] for m in members)
        cached = [
            "Fit with the text embeddings cached (the A table's fit seconds, no encoding on "
            f"either side): hybrid {h:.1f} s against "
            + " + ".join(f"{m} {res['A'][m]['fit_seconds']:.1f}" for m in members)
            + f" = {total:.1f} s ({h / total:.2f}x). {FITS_TWICE} From scratch (the "
            "target's row, as a user's first fit runs), the text encoding, done once, "
            "dominates both sides.", ""]
    if not rows:
        return []
    peer_keys = [k for k in res if k == "A" or k.startswith(("B/", "E/"))]
    no_peers = [k for k in peer_keys if not any(m.endswith(PEER_SUFFIX) for m in res[k])]
    peers_line = ("The next-item peers count as models of the page"
                  + (f"; their rows are missing at {', '.join(no_peers)}." if no_peers else "."))
    return ["## Targets of the hybrid, checked on this run", "",
            "Ahead or behind \"by one SE\": the difference of the means against the standard",
            "error of the other model's mean, as the issues define the targets. That is no",
            "paired test: both models are scored on the same users, whose figures correlate.",
            *(["Where a row says \"paired\", the per-user difference of NDCG@10 (the way",
               "round it names), its mean ± its standard error (clustered by user): the paired",
               "test of the same difference, beside the verdict, which it does not change (the",
               "peers' per-user figures are not kept: their rows have none)."] if paired else
              ["(This run's JSON keeps no per-user differences for a paired test.)"]),
            peers_line,
            "A row names the page's models that did not run where it is checked. The Tuning",
            "and Fit rows are wall-clock timings (other load on the machine moves them).", "",
            "| target | hybrid | against | met |", "|---|---|---|---|", *rows, "", *cached,
            *(["Where a target is missed:", "", *misses, ""] if misses else [])]


def _why(against):
    """Why a target is missed, from who beats the hybrid there."""
    if "RecTools" in against:
        return ("A next-item peer leads: a sequence model trained on the order of every "
                "history, where the hybrid has next-item counts of a user's last items "
                "only; what the hybrid would need is in docs/blend.md (\"Against the "
                "next-item peers\").")
    if "LightFM" in against:
        return ("LightFM with item features leads on this slice; docs/blend.md (\"What it "
                "buys, and where it does not\") discusses each protocol.")
    return "docs/blend.md (\"What it buys, and where it does not\") discusses each protocol."


def _keys(keys):
    """``A, B/n=1, B/n=2, E/p=1`` as ``A, B (n=1, 2), E (p=1)``."""
    groups = {}
    for key in keys:
        protocol, _, point = key.partition("/")
        groups.setdefault(protocol, []).append(point)
    out = []
    for protocol, points in groups.items():
        if points == [""]:
            out.append(protocol)
        else:
            name = points[0].split("=")[0]
            out.append(f"{protocol} ({name}={', '.join(q.split('=')[1] for q in points)})")
    return ", ".join(out)


def _peers_lines(peers):
    """What the page says about the next-item peers (SASRec, BERT4Rec, EASE)."""
    if not peers:
        return []
    lines = ["Next-item peers (SASRec, BERT4Rec, EASE from RecTools, run in their own venv by",
             "`python -m benchmarks.peers`, same splits and metrics): " + peers["note"] + "."]
    if peers.get("library"):
        lib = peers["library"]
        lines.append("Their library: " + ", ".join(f"{k} {v}" for k, v in sorted(lib.items()))
                     + f"; their runs took {peers['seconds']:.0f} s; their fit s are "
                     "their worker's CPU time on one thread (the other rows': wall time).")
    for run in peers.get("runs", []):  # the peers' command reruns only what changed
        what = ([f"tuning of {', '.join(run['tuned'])}"] if run["tuned"] else []) + (
            [_keys(run["keys"])] if run["keys"] else [])
        lines.append(f"Run of {run['date']} on {run['machine']} ({run['seconds']:.0f} s): "
                     f"{'; '.join(what) or 'nothing kept'}.")
    if peers.get("not_in"):
        lines.append(f"Not in {peers['not_in']}.")
    return lines + [""]


def _splits_of(res, keys, default=1):
    """How many splits the keys' rows pool: the most of any model's per-split record, or
    ``default`` where no row keeps one (JSON written before they were kept)."""
    counts = [len(row["NDCG@10 per split"]) for k in keys for row in res.get(k, {}).values()
              if "NDCG@10 per split" in row]
    return max(counts) if counts else default


def write_report(summary, out_dir):
    out_dir = Path(out_dir)
    res, meta, tuning = summary["results"], summary["meta"], summary["tuning"]
    skipped, sizes = summary.get("skipped", {}), summary.get("splits", {})
    data = meta.get("dataset", {"name": "ml-100k", "title": "MovieLens-100K", "n_items": 1682})
    stem, title = data["name"], data["title"]
    link = quote(stem)  # a name with spaces ("my shop") broke the image links
    warm_keys = [k for k in res if k.startswith("B/")]
    quick = "--quick" in meta["command"]  # the run's own counts where no row keeps them
    n_a = _splits_of(res, ["A"], 1 if quick else 3)
    n_b = _splits_of(res, warm_keys, 1 if quick else 3)
    n_e = _splits_of(res, [k for k in res if k.startswith("E/") and k != "E/p=100"],
                     2 if quick else 3)
    e_samples = {1: "one", 2: "two", 3: "three"}.get(n_e, str(n_e))

    def table(key, metrics):
        """``_table``, or why the protocol did not run on this data."""
        return f"_not run: {skipped[key]}_\n" if key in skipped else _table(res, key, metrics)

    def rests_on(key):
        """What ``key``'s table rests on, when the run recorded it (older JSON did not)."""
        if key not in sizes or key in skipped:
            return []
        rows, users = sizes[key]
        return [f"Training rows {rows:,}, test users {users:,}"
                + (" (summed over the splits)." if key == "A" and n_a > 1 else "."), ""]
    warm_labels = [k.split("=")[1] for k in warm_keys]
    growth_keys = [k for k in res if k.startswith("E/")]
    growth_p = [int(k.split("=")[1]) for k in growth_keys]
    ceiling = _cold_user_ceiling(out_dir, stem, summary)
    _plot_curves(_curve(res, "B/n=", warm_labels), "interactions kept per test user (n)",
                 f"B: warm-up curve ({title})", out_dir / f"{stem}-warmup.png", xs_labels=warm_labels)
    _plot_curves(_curve(res, "E/p=", growth_p), "% of training interactions (log)",
                 f"E: data growth ({title})", out_dir / f"{stem}-growth.png", logx=True)
    _plot_bars(res, [k for k in ("A", "C-new", "C-mix", "D") if k in res], out_dir / f"{stem}-bars.png")

    v = meta["versions"]
    flags = meta.get("cpu_flags")
    threads = meta.get("threads")
    md = [
        f"# {title} benchmark",
        "",
        *(["> **Smoke run (`--quick`): small splits, one candidate per grid. Its figures "
           "and verdicts check that the benchmark runs; they are not results.**", ""]
          if "--quick" in meta["command"] else []),
        f"- Command: `{meta['command']}` (from the project root, offline)",
        f"- Date: {meta['date']}; wall time {meta['seconds']:.0f} s",
        f"- Machine: {meta['machine']} (shared, noisy: compare models within this run, not across runs)",
        "- CPU flags: " + (", ".join(f"{f} {'yes' if on else 'no'}" for f, on in flags.items())
                           if flags else "not recorded"),
        "- Threads: " + (", ".join(f"{k} {x}" for k, x in threads.items())
                         if threads else "not recorded"),
        f"- Python {meta['python']}; " + ", ".join(
            f"{k} {x if x is not None else _MISSING.get(k, 'not installed')}"
            for k, x in v.items()),
        f"- Text encoder precision: {meta.get('encoder_precision', 'not recorded')} "
        "(`TextEncoder(precision=\"auto\")`, chosen from the hardware's capabilities)",
        f"- Reproducible: {meta['reproducibility']}" if meta.get("reproducibility") else "",
        f"- Ties in time: {meta['ties']}" if meta.get("ties") else
        ("- **Ties in time: this page's splits ordered a user's rows of one second by item "
         "id, so the held-out 'last' item of 44-46% of A's test users was the highest id "
         "of its second (a pattern that favours sequence models and hides popular items), "
         "and its standard errors took A's three folds of one user as independent (6-10% "
         "too small). The code now orders such rows at random (seeded) and clusters by "
         "user; a rerun of this page and of the peers gives other figures (docs/"
         "benchmark.md, \"Ties in time\").**"),
        "",
        "All numbers are means over test users ± one standard error. Ranking is over the",
        f"whole catalogue ({data['n_items']:,} items) minus each user's training items, unless said otherwise.",
        "Every model was tuned once with the same budget (≤ 6 grid candidates, GridSearchCV",
        "with LeaveLastOut on the training rows of the earliest fold of A) and refitted per split;",
        "the user-text ridge, whose alpha acts on cold users only, with cold validation users",
        "carved from the same rows (none of D's test users).",
        "Bold: best non-random model of the column (not in the share columns, where more is",
        "not better).",
        "",
        *_peers_lines(meta.get("peers")),
        *_targets(res, tuning, ceiling, summary.get("fit_from_scratch"), summary.get("paired")),
        f"![warm-up]({link}-warmup.png)",
        f"![growth]({link}-growth.png)",
        f"![bars]({link}-bars.png)",
        "",
        f"## A. Warm users, leave-last-out ({n_a} rolling fold{'s pooled' if n_a > 1 else ''})",
        "",
        "fit s: the folds' fits summed (one fit in C-new, C-mix and D).",
        "",
        *rests_on("A"),
        table("A", ["HR@10", "NDCG@10", "Recall@20"]),
        "## B. Warm-up curve: test users keep only their last n training interactions",
        "",
        ("NDCG@10 at each n (all users, tested one random third at a time):"
         if n_b > 1 else
         "NDCG@10 at each n (one random third of the users tested):"),
        "",
    ]
    md += _curve_table(res, warm_keys, [f"n={x}" for x in warm_labels])
    md += [
        "",
        "## C-new. Cold items (20% of items, no training rows) ranked among the new items",
        "",
        "Only models that can score an item without interactions.",
        "",
        *rests_on("C-new"),
        table("C-new", ["HR@10", "NDCG@10", "Recall@10"]),
        "## C-mix. Each user's last 10 interactions, new and old items in one ranking",
        "",
        "NewRecall@10: recall of the new items among the test items (users with one);",
        "NewShareTop10 against NewShareTest: the new items' share of the top-10 and of the test.",
        "The hybrid runs with its defaults: every catalog item without interactions is taken",
        "as a new arrival (`new_items=\"all\"`). \"new items declared\" is told which items",
        "are the protocol's new ones (`new_items=` those ids: catalog knowledge a system has,",
        "not test data); \"new_items=None\" takes items without interactions as the log's tail,",
        "shown as often as the training log's own next interactions go to items it had not",
        "reached (the default of earlier versions; also in E, where it is the right reading).",
        "",
        *rests_on("C-mix"),
        table("C-mix", ["NDCG@10", "Recall@10", "NewRecall@10", "NewShareTop10", "NewShareTest"]),
        "## D. Cold users (20% of users, only their user_text known)",
        "",
        *rests_on("D"),
        table("D", ["HR@10", "NDCG@10", "Recall@20"]) if "D" in res or "D" in skipped
        else "_not run: no user texts were given_\n",
        *([] if ceiling is None else [
            "What the user texts of this data can carry: the hybrid's text-neighbour scoring",
            "with its neighbour count and popularity prior chosen on these test users themselves",
            "(a ceiling no choice made in `fit` can pass) reaches NDCG@10 "
            f"{ceiling[1]['NDCG@10']:.4f}, "
            f"{ceiling[1]['lead_in_popularity_se']:+.2f} of popularity's "
            f"SE; demographic groups do less ([{stem}-cold-users.md]({stem}-cold-users.md), "
            f"`python -m benchmarks.cold_users`; {ceiling[2]}).", ""]),
        *_fine_tuning_lines(res),
        "## E. Data growth: protocol A fold 0, models trained on p% of the training rows",
        "",
        f"Each p below 100 is drawn {({1: 'once', 2: 'twice'}).get(n_e, e_samples + ' times')} "
        "(sampling seeds "
        f"{', '.join(map(str, range(n_e)))}) and every model",
        "is refitted on each sample; each sample tests the users with a training row in",
        f"it. Means over the {e_samples} samples' tested users; the standard error takes a user",
        "tested on several samples (on the same test item) as one cluster. At 1-5% a",
        "model finds a few dozen test items, and one sample's luck decided the order of",
        "the models (docs/benchmark.md, \"One sample of a small p\"). NDCG@10:",
        "",
    ]
    md += _curve_table(res, growth_keys, [f"p={p}%" for p in growth_p])
    md += ["", "## Tuning (same budget for every model)", "",
           "Seconds: the grid search's wall time; for ALSRecommender (ours) and Hybrid (ours),",
           "the two sides of the tuning-cost target, the best of 3 searches (the hybrid's fit",
           "memo emptied before each).", "",
           "| model | best parameters | candidates | seconds | note |", "|---|---|---|---|---|"]
    for name, t in tuning.items():
        note = f"unavailable: {t['unavailable']}" if t["unavailable"] else t.get("library", "")
        best = re.sub(r"location='[^']*'", "location=<temporary directory>", str(t["best"]))
        md.append(f"| {name} | `{best}` | {t['candidates']} | {t['seconds']} | {note} |")
    (out_dir / f"{stem}.md").write_text("\n".join(md) + "\n")
