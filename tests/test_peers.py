"""The next-item peers' plumbing: grids, time order, rankings back to ids, fingerprints.

The peers themselves (RecTools in a venv of its own) run in CI's quick
benchmark (``python -m benchmarks.movielens --quick`` calls
``benchmarks.peers``); these tests need neither RecTools nor its venv.
"""

import json

import numpy as np
import pandas as pd

from benchmarks import peers
from benchmarks._peers_results import fingerprint, peers_file, read_peers

X = pd.DataFrame({"user_id": [1, 1, 2, 1, 2, 3],
                  "item_id": [10, 11, 10, 12, 13, 11],
                  "timestamp": [5, 5, 1, 7, 2, 3]})


def test_every_peer_keeps_the_baselines_budget_of_six_candidates():
    for quick in (False, True):
        for peer in peers.peers(quick):
            assert 1 <= len(peers._candidates(peer.grid)) <= 6
            if quick:
                assert len(peers._candidates(peer.grid)) == 1 and peer.epochs in ((), (1,))


def test_time_order_orders_each_user_as_the_protocols_do():
    order = peers._time_order(X)
    for user, rows in X.assign(order=order).groupby("user_id"):
        # ties (user 1's two rows at time 5) broken by row order, like LeaveLastOut
        expected = rows.sort_values("timestamp", kind="stable").index
        assert list(rows.sort_values("order").index) == list(expected)


def test_rankings_come_back_as_catalogue_columns():
    catalog = np.array([10, 11, 12, 13])
    top = peers._top_columns([["12", "10"], []], ["a", "b"], catalog)
    assert top.shape == (2, 20)
    assert top[0, :3].tolist() == [2, 0, -1] and (top[1] == -1).all()


def test_the_page_reads_the_peers_only_with_a_matching_fingerprint(tmp_path):
    library = {"rectools": "0.19.0"}
    expected = fingerprint(X, False, [{"grid": 1}], 0, 1, library)
    path = peers_file(tmp_path, "shop")
    found, note = read_peers(path, expected)
    assert found is None and "missing" in note and "python -m benchmarks.peers" in note
    path.write_text(json.dumps({"fingerprint": expected, "results": {}}))
    found, note = read_peers(path, expected)
    assert found is not None and expected["digest"] in note
    changed = [
        (X.assign(item_id=X.item_id + 1), [{"grid": 1}], library, "data"),
        (X, [{"grid": 2}], library, "peers"),
        (X, [{"grid": 1}], {"rectools": "0.20.0"}, "library"),
    ]
    for data, definitions, lib, part in changed:
        found, note = read_peers(path, fingerprint(data, False, definitions, 0, 1, lib))
        assert found is None and f"stale (changed since they ran: {part})" in note
