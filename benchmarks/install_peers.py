"""Build the peers' environment: RecTools (SASRec, BERT4Rec, EASE) in a venv of its own.

Usage (any Python 3.10+; standard library only)::

    python benchmarks/install_peers.py [--venv DIR] [--force]

Why a venv of its own: RecTools 0.19 pins ``numpy<2`` and ``pandas<3``
(on Python 3.11), which clash with this project's environment (numpy 2,
pandas 3). The benchmark never imports RecTools: it writes each split's rows
to files, runs ``benchmarks/_peers_worker.py`` with this venv's Python in a
subprocess and reads the rankings back (``benchmarks/peers.py``).

What it does:

1. ``python -m venv DIR`` (default ``benchmarks/.peers-venv``, ignored by
   git), unless DIR already holds a working install of the pinned versions
   (``--force`` rebuilds). A DIR that is not empty and was not built by
   this script is refused, never cleared (the default place is the
   script's own).
2. Installs the CPU build of torch first: ``pip install --find-links
   /opt/wheels torch==2.13.0`` where that directory exists (our machines),
   else ``torch>=2.1`` from the index (install a CPU build yourself first if
   you do not want a CUDA one).
3. ``pip install rectools[torch]==0.19.0`` (which brings pytorch-lightning).
4. Imports the three models, and writes ``DIR/versions.json`` (RecTools,
   torch, lightning, numpy, pandas, Python), which the benchmark pages
   record and which fingerprint the peers' results.

Nothing is downloaded at run time: the models train from the split's rows.
Exit status 0 on success, 1 with a message naming the step that failed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

RECTOOLS = "rectools[torch]==0.19.0"
TORCH_WHEELS = Path("/opt/wheels")
TORCH_PIN = "torch==2.13.0"
DEFAULT_VENV = Path(__file__).resolve().parent / ".peers-venv"
# written into a venv this script builds: only such a directory is cleared
MARKER = ".sklearn-zsrec-peers"
_PROBE = (
    "import json, sys, warnings; warnings.simplefilter('ignore');"
    "import numpy, pandas, torch, rectools, pytorch_lightning;"
    "from rectools.models import SASRecModel, BERT4RecModel, EASEModel;"
    "print(json.dumps({'rectools': rectools.__version__, 'torch': torch.__version__,"
    " 'pytorch_lightning': pytorch_lightning.__version__, 'numpy': numpy.__version__,"
    " 'pandas': pandas.__version__, 'python': sys.version.split()[0]}))"
)


def venv_python(venv):
    """The interpreter of ``venv``."""
    return Path(venv) / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def recorded_versions(venv):
    """The versions recorded by the last successful build, or None."""
    path = Path(venv) / "versions.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def versions(venv):
    """The versions ``venv`` imports (a probe in its Python), or None when it does not.

    What the peers' fingerprint records: a package changed in the venv by
    hand after the build changes them, where ``versions.json`` would not.
    """
    python = venv_python(venv)
    if not python.exists():
        return None
    found, _ = _probe(python)
    return found


def _pinned(found):
    """Whether the versions ``found`` are this script's pins."""
    torch_pinned = not _torch_wheel() or found["torch"].split("+")[0] == TORCH_PIN.split("==")[1]
    return found["rectools"] == RECTOOLS.split("==")[1] and torch_pinned


def _ours(venv):
    """Whether the directory ``venv`` is a peers' environment this script built.

    Its marker; or, built before the marker, a venv with the versions file
    of a build; or a venv at the default place, which is this script's.
    """
    is_venv = (venv / "pyvenv.cfg").is_file()
    recorded = recorded_versions(venv)
    return ((venv / MARKER).is_file()
            or (is_venv and isinstance(recorded, dict) and "rectools" in recorded)
            or (is_venv and venv == DEFAULT_VENV.resolve()))


def _torch_wheel():
    return TORCH_WHEELS.is_dir() and any(TORCH_WHEELS.glob("torch-2.13.0*.whl"))


def _run(step, cmd):
    print("+", " ".join(map(str, cmd)), flush=True)
    done = subprocess.run(cmd)
    if done.returncode:
        sys.exit(f"install_peers: step '{step}' failed (exit {done.returncode}): {' '.join(map(str, cmd))}")


def _probe(python):
    done = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True)
    if done.returncode:
        return None, done.stderr.strip().splitlines()[-1:] or [""]
    return json.loads(done.stdout.strip().splitlines()[-1]), None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="where to build it")
    parser.add_argument("--force", action="store_true", help="rebuild even if it works")
    args = parser.parse_args(argv)
    # a symlink: its target (venv --clear emptied it, then refused the link)
    args.venv = args.venv.expanduser().resolve()
    start = time.perf_counter()
    python = venv_python(args.venv)
    if python.exists() and not args.force:
        found, _ = _probe(python)
        if found and recorded_versions(args.venv) == found and _pinned(found):
            print(f"peers' environment ready at {args.venv}: RecTools {found['rectools']}, "
                  f"torch {found['torch']}")
            return 0
    if args.venv.exists() and not args.venv.is_dir():
        sys.exit(f"install_peers: {args.venv} is a file; give a directory (--venv).")
    old = None
    if args.venv.is_dir() and any(args.venv.iterdir()):
        if not _ours(args.venv):
            sys.exit(f"install_peers: {args.venv} is not empty and is not a peers' environment "
                     "this script built; nothing was deleted. Give a new or empty directory "
                     "(--venv).")
        if Path(sys.prefix).resolve() == args.venv:
            sys.exit(f"install_peers: this is the Python of {args.venv}, which a rebuild "
                     "deletes; run it with another Python (deactivate that venv first).")
        # moved aside, then deleted: a run interrupted while deleting leaves
        # the new directory, with its marker, not a half-deleted one
        old = args.venv.with_name(f".{args.venv.name}.old-{os.getpid()}")
        os.replace(args.venv, old)
    # the marker first: a build interrupted in any step leaves a directory
    # that the next run knows as its own
    args.venv.mkdir(parents=True, exist_ok=True)
    (args.venv / MARKER).write_text("built by benchmarks/install_peers.py\n")
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    _run("venv", [sys.executable, "-m", "venv", str(args.venv)])
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    if _torch_wheel():
        _run("torch (CPU wheel on disk)", pip + ["--find-links", str(TORCH_WHEELS), TORCH_PIN])
    else:
        _run("torch", pip + ["torch>=2.1"])
    _run("rectools", pip + [RECTOOLS])
    found, error = _probe(python)
    if found is None:
        sys.exit(f"install_peers: step 'import' failed: {error[0]}")
    (args.venv / "versions.json").write_text(json.dumps(found, indent=1, sort_keys=True))
    print(f"peers' environment built at {args.venv} in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(found.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
