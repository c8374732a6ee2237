"""The peers' results file: where it lives, its fingerprint, and reading it back.

``python -m benchmarks.peers`` writes ``<name>-peers.json``; the main job
(``python -m benchmarks.movielens``) merges its rows into its own page when
the file's fingerprint equals the one of the main job's data, protocols,
peer definitions and the peers' library versions, and otherwise says on the
page that the peers' results are missing or stale and how to refresh them.
Standard library, numpy and pandas only.
"""

import hashlib
import json
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def peers_file(out_dir, name):
    """Path of the peers' results for dataset ``name`` in ``out_dir``."""
    return Path(out_dir) / f"{name}-peers.json"


def fingerprint(X, quick, definitions, seed, threads, library):
    """A digest of everything the peers' figures depend on.

    The interaction rows, the protocols' code (their splits), the peers'
    grids and epochs, the seed, the thread count and the peers' library
    versions; plus the parts, so that the page can say which one changed.
    """
    rows = pd.util.hash_pandas_object(X[["user_id", "item_id", "timestamp"]], index=False)
    parts = {
        "data": hashlib.sha256(rows.to_numpy().tobytes()).hexdigest()[:16],
        "protocols": hashlib.sha256((HERE / "_protocols.py").read_bytes()).hexdigest()[:16],
        "peers": hashlib.sha256(json.dumps(
            [definitions, seed, threads, bool(quick)], sort_keys=True, default=str).encode()
        ).hexdigest()[:16],
        "library": hashlib.sha256(json.dumps(library, sort_keys=True).encode()).hexdigest()[:16],
    }
    parts["digest"] = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return parts


def read_peers(path, expected):
    """``(summary, note)``: the peers' results if their fingerprint is ``expected``.

    ``summary`` is None when the file is missing or stale; ``note`` says why
    and how to refresh it, for the page.
    """
    path = Path(path)
    refresh = "run `HF_HUB_OFFLINE=1 python -m benchmarks.peers` (about an hour on 2 cores)"
    if not path.exists():
        return None, f"the peers' results ({path.name}) are missing: {refresh}"
    summary = json.loads(path.read_text())
    found = summary.get("fingerprint", {})
    if found.get("digest") != expected["digest"]:
        changed = [k for k in ("data", "protocols", "peers", "library")
                   if found.get(k) != expected[k]]
        return None, (f"the peers' results ({path.name}) are stale (changed since they "
                      f"ran: {', '.join(changed) or 'format'}): {refresh}")
    return summary, f"read from {path.name} (fingerprint {expected['digest']})"
