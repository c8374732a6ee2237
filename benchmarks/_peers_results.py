"""The peers' results file: where it lives, its fingerprint, and reading it back.

``python -m benchmarks.peers`` writes ``<name>-peers.json``; the main job
(``python -m benchmarks.movielens``) merges its rows into its own page for
every protocol key (``A``, ``B/n=5``, ``E/p=10``, ...) whose splits have the
rows of the main job's splits, when the peers' definitions, their tuning
rows, their library versions and the evaluation's definition are also the
main job's; the page says
which keys are missing or stale and how to refresh them. The peers' command
reruns only those keys. Standard library, numpy and pandas only.
"""

import ast
import hashlib
import json
import os
from pathlib import Path

import pandas as pd

COLUMNS = ["user_id", "item_id", "timestamp"]


def _canonical(node):
    """A syntax tree as text: node names and their non-empty fields, no positions.

    The same for the same code on every Python from 3.10 (``ast.unparse``'s
    text is not: 3.10 writes ``for (key, split) in``, 3.12 reuses quotes in
    f-strings).
    """
    if isinstance(node, ast.AST):
        fields = [f"{name}={_canonical(value)}" for name, value in ast.iter_fields(node)
                  if value is not None and value != [] and name != "kind"
                  and not isinstance(value, ast.expr_context)]
        return f"{type(node).__name__}({','.join(fields)})"
    if isinstance(node, list):
        return "[" + ",".join(_canonical(item) for item in node) + "]"
    return repr(node)


def code_digest(*names):
    """A digest of the code of the modules ``names`` beside this one.

    Of their syntax trees without docstrings (``_canonical``): an edit of
    the code counts, one of its comments, docstrings, layout or line
    endings does not, and neither does the Python version.
    """
    digest = hashlib.sha256()
    for name in names:
        tree = ast.parse(Path(__file__).with_name(name).read_bytes())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                  ast.AsyncFunctionDef)) and body
                    and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
        digest.update(_canonical(tree).encode())
    return digest.hexdigest()[:16]


# the code that runs the peers: the driver (tasks, time order, tuning, the
# rankings read back) and the worker that fits and ranks them in their venv
PEERS_CODE_DIGEST = code_digest("peers.py", "_peers_worker.py")
REFRESH = "run `HF_HUB_OFFLINE=1 python -m benchmarks.peers` (it reruns only what changed)"


def peers_file(out_dir, name):
    """Path of the peers' results for dataset ``name`` in ``out_dir``."""
    return Path(out_dir) / f"{name}-peers.json"


def _rows_digest(frames):
    digest = hashlib.sha256()
    for frame in frames:
        columns = [c for c in COLUMNS if c in frame]
        digest.update(",".join(columns).encode())
        digest.update(pd.util.hash_pandas_object(frame[columns], index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def json_digest(value):
    """A short digest of ``value`` as JSON (keys sorted; other objects by ``str``)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fingerprint(keyed_splits, tuning_rows, quick, definitions, seed, threads, library, *,
                evaluation):
    """A digest of everything the peers' figures depend on, one per protocol key.

    ``keyed_splits`` maps each key to its splits (``_protocols.Split``): a
    key's digest covers the rows of their training, test and excluded
    frames, in order. ``tuning_rows`` are the rows the peers are tuned on.
    The other parts: the peers' grids and epochs with the seed, thread count,
    ``quick`` and the code that runs them (``peers.py`` and
    ``_peers_worker.py``, ``PEERS_CODE_DIGEST``: an edit of their code makes
    the results stale, one of their comments or docstrings does not), the
    peers' library versions (as their venv imports them), and
    ``evaluation``, a digest
    of what the metrics and their standard errors compute
    (``movielens.evaluation_digest``), so that the page never shows the
    peers' figures of one definition beside ours of another.
    """
    parts = {
        "splits": {key: _rows_digest([frame for split in splits
                                      for frame in (split.train, split.test, split.exclude)])
                   for key, splits in keyed_splits.items()},
        "tuning": _rows_digest([tuning_rows]),
        "peers": json_digest([definitions, seed, threads, bool(quick), PEERS_CODE_DIGEST]),
        "library": json_digest(library),
        "evaluation": evaluation,
    }
    parts["digest"] = json_digest(parts)
    return parts


def stale_parts(found, expected):
    """The parts other than the splits on which ``found`` and ``expected`` differ."""
    return [k for k in ("tuning", "peers", "library", "evaluation")
            if found.get(k) != expected[k]]


def load_peers(path):
    """``(summary, problem)``: the peers' results file ``path`` as a dict, or None and why.

    A file that does not parse (cut short by a killed run, a merge
    conflict) is a problem to report and refresh, not a reason to lose the
    main job's run.
    """
    path = Path(path)
    if not path.exists():
        return None, "missing"
    try:
        summary = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"unreadable ({type(exc).__name__}: {exc})"
    if not isinstance(summary, dict):
        return None, f"unreadable (a JSON {type(summary).__name__}, not an object)"
    parts = [part for part in ("fingerprint", "results", "tuning", "meta")
             if not isinstance(summary.get(part), dict)]
    if parts or "digest" not in summary["fingerprint"]:
        return None, (f"unreadable (no {', '.join(parts) or 'digest'}: not as "
                      "`python -m benchmarks.peers` writes it)")
    return summary, None


def write_peers(path, summary):
    """Write the peers' ``summary`` to ``path`` whole or not at all (a temporary file, moved)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(summary, indent=1, default=str))
    os.replace(tmp, path)


def by_key(pairs):
    """``(key, split)`` pairs as ``{key: [split, ...]}``, in order."""
    out = {}
    for key, split in pairs:
        out.setdefault(key, []).append(split)
    return out


def current_keys(summary, expected):
    """The keys of the peers' ``summary`` with results on the splits of ``expected``."""
    splits = summary.get("fingerprint", {}).get("splits", {})
    return [key for key, digest in expected["splits"].items()
            if splits.get(key) == digest and key in summary.get("results", {})]


def read_peers(path, expected):
    """``(summary, note)``: the peers' results for the keys that match ``expected``.

    ``summary`` holds only those keys' results; it is None when the file is
    missing or unreadable, when its peers, tuning rows, library or
    evaluation differ from ``expected``, or when no key matches. ``note`` says which keys are missing and how to
    refresh them, for the page.
    """
    path = Path(path)
    summary, problem = load_peers(path)
    if summary is None:
        return None, f"the peers' results ({path.name}) are {problem}: {REFRESH}"
    found = summary.get("fingerprint", {})
    changed = stale_parts(found, expected)
    keys = current_keys(summary, expected) if not changed else []
    if not keys:
        changed = changed or ["splits"]
        return None, (f"the peers' results ({path.name}) are stale (changed since they "
                      f"ran: {', '.join(changed)}): {REFRESH}")
    summary["results"] = {key: summary["results"][key] for key in keys}
    note = f"read from {path.name} (fingerprint {found['digest']})"
    stale = [key for key in expected["splits"] if key not in keys]
    if stale:
        note += f"; stale for {', '.join(stale)} (their splits changed): {REFRESH}"
    return summary, note
