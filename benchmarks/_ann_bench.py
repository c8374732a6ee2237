"""Exact against approximate (HNSW) top-10 on synthetic factors, at any scale.

``run(n_users, n_items, dim)`` draws ALS-like factors (topics, popularity
skew; ``synthetic_factors``) and histories (items drawn by popularity, so
that seen items crowd the top of the rankings), then times, on the same
fitted model, ``recommend(users, 10)`` (exact) and ``recommend(users, 10,
approximate=True)`` (the index build timed apart) and measures recall@10
of the approximate top-10 against the exact one over all users (or over a
sample of them, whose exact search time is then scaled to all users). For
``benchmarks/scale.py``; alone, it prints one JSON line::

    python -m benchmarks._ann_bench --users 100000 --items 1000000 --dim 64

Times are wall-clock seconds in this process; take them on an idle machine.
"""

import argparse
import json
import os
import time

import numpy as np

from sklearn_zsrec import BaseRecommender
from sklearn_zsrec._scores import _matmul


class FactorModel(BaseRecommender):
    """Given factors as a recommender: scores are ``user_factors @ item_factors.T``.

    User ``u`` and item ``i`` are the rows ``u`` and ``i`` of the factors;
    ``fit`` reads only which items each user has seen (users without
    interactions are left out of ``users_``).

    Parameters
    ----------
    user_factors : array-like of shape (n_users, dim)
    item_factors : array-like of shape (n_items, dim)
    """

    _parameter_constraints = {"user_factors": ["array-like"], "item_factors": ["array-like"]}

    def __init__(self, user_factors, *, item_factors):
        self.user_factors = user_factors
        self.item_factors = item_factors

    def _fit(self, data):
        item_factors = np.asarray(self.item_factors, dtype=np.float32)
        self._index(data, items=np.arange(len(item_factors)))
        self.user_factors_ = np.asarray(self.user_factors, dtype=np.float32)[
            self.users_.astype(np.int64)]
        self.item_factors_ = item_factors
        return self

    def _scores(self, rows, users):
        return _matmul(self.user_factors_[rows], self.item_factors_.T)


def synthetic_factors(n_users, n_items, dim, random_state=0):
    """ALS-like factors: ``(user_factors, item_factors, popularity)``, float32.

    Items belong to one of ``dim // 2`` topics: a random topic centre plus
    as much noise. Their norms grow with a Zipf popularity (rank to the
    power -1, in random order) as ALS item norms grow with interactions:
    ``(popularity / max) ** 0.25``, from 1 down to 0.03 for 10^6 items.
    Users are the centre of one of the topics, or of two for a third of
    them, plus noise, with log-normal norms. ``popularity`` sums to 1.
    """
    rng = np.random.default_rng(random_state)
    n_topics = max(dim // 2, 2)
    centres = rng.standard_normal((n_topics, dim), dtype=np.float32)
    popularity = 1.0 / (1.0 + rng.permutation(n_items))
    popularity /= popularity.sum()
    items = centres[rng.integers(n_topics, size=n_items)]
    items += rng.standard_normal(items.shape, dtype=np.float32)
    items *= ((popularity / popularity.max()) ** 0.25
              / np.linalg.norm(items, axis=1)).astype(np.float32)[:, None]
    users = centres[rng.integers(n_topics, size=n_users)]
    second = rng.random(n_users) < 1 / 3
    users[second] += centres[rng.integers(n_topics, size=int(second.sum()))]
    users += rng.standard_normal(users.shape, dtype=np.float32)
    users *= (rng.lognormal(0.0, 0.3, n_users) / np.linalg.norm(users, axis=1)).astype(
        np.float32)[:, None]
    return users, items, popularity


def synthetic_histories(popularity, n_users, median=20, random_state=0):
    """``(user_id, item_id)`` rows: log-normal history lengths, items by popularity.

    Every user gets at least one item (so all are in ``users_``), at most
    half the catalog; repeated draws merge in ``fit``.
    """
    import pandas as pd

    rng = np.random.default_rng(random_state)
    n_items = len(popularity)
    lengths = np.clip(rng.lognormal(np.log(median), 1.0, n_users), 1, max(n_items // 2, 1))
    lengths = lengths.astype(np.int64)
    items = np.searchsorted(np.cumsum(popularity), rng.random(int(lengths.sum())))
    return pd.DataFrame({"user_id": np.repeat(np.arange(n_users), lengths),
                         "item_id": np.minimum(items, n_items - 1)})


def run(n_users, n_items, dim, n=10, random_state=0, ef_search=None, exact_sample=None):
    """Exact against approximate top-``n`` for all users; a dict of the figures.

    ``ef_search`` replaces ``sklearn_zsrec._ann.EF_SEARCH`` (the HNSW
    candidate list, 256) for this run, to weigh recall against query time;
    a list of values times the approximate search once per value on the
    same index and exact results (a sweep).

    ``exact_sample`` (an int) times exact search on that many users drawn
    at random instead of all, and scales the time linearly to all users
    (``exact_scaled``); recall is then measured on those users.

    Keys: the shape, ``generate_s`` (factors, histories and ``fit``),
    ``build_s`` (HNSW index) and ``index_bytes`` (resident memory it added),
    ``exact_s`` (``recommend`` for all users, seen items excluded) and, per
    value of ``ef_search``, ``approximate_s`` (index already built),
    ``speedup`` (exact / approximate), ``recall_at_<n>`` (mean over users,
    ties counted as hits; see ``sklearn_zsrec._ann.recall_of``),
    ``seen_returned`` (over all users; must be 0), the HNSW parameters and
    faiss' version and threads. With a list, those per-value keys are the
    rows of ``sweep``; with one value, they are top-level keys.
    """
    values = list(ef_search) if isinstance(ef_search, (list, tuple)) else [ef_search]
    base, rows = _run(n_users, n_items, dim, n, random_state, values, exact_sample)
    if isinstance(ef_search, (list, tuple)):
        return {**base, "sweep": rows}
    return {**base, **rows[0]}


def _rss():
    """This process' resident memory in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _run(n_users, n_items, dim, n, random_state, values, exact_sample):
    import faiss

    from sklearn_zsrec import _ann

    start = time.perf_counter()
    user_factors, item_factors, popularity = synthetic_factors(n_users, n_items, dim, random_state)
    X = synthetic_histories(popularity, n_users, random_state=random_state)
    model = FactorModel(user_factors, item_factors=item_factors).fit(X)
    del X, user_factors
    generate = time.perf_counter() - start
    users = model.users_
    model.recommend(users[:64], n)  # warm-up: torch's first product and thread pool
    before = _rss()
    start = time.perf_counter()
    _ann.index(model)
    build = time.perf_counter() - start
    index_bytes = _rss() - before
    model.recommend(users[:64], n, approximate=True)  # and faiss' threads
    sample = np.arange(len(users))
    if exact_sample is not None and exact_sample < len(users):
        rng = np.random.default_rng(random_state)
        sample = np.sort(rng.choice(len(users), size=int(exact_sample), replace=False))
    start = time.perf_counter()
    exact = model.recommend(users[sample], n, return_scores=True)
    exact_sample_s = time.perf_counter() - start
    exact_s = exact_sample_s * len(users) / len(sample)
    default = _ann.EF_SEARCH
    rows = []
    try:
        for value in values:
            _ann.EF_SEARCH = default if value is None else int(value)
            start = time.perf_counter()
            ids, approx = model.recommend(users, n, return_scores=True, approximate=True)
            approx_s = time.perf_counter() - start
            flat = np.repeat(np.arange(len(users)), ids.shape[1])
            seen = int((model.user_items_[flat, ids.ravel()] != 0).sum())
            rows.append({
                "ef_search": _ann.EF_SEARCH, "approximate_s": approx_s,
                "speedup": exact_s / approx_s,
                f"recall_at_{n}": float(_ann.recall_of(
                    model, users[sample], exact, (ids[sample], approx[sample])).mean()),
                "seen_returned": seen,
            })
    finally:
        _ann.EF_SEARCH = default
    base = {
        "users": len(users), "items": int(n_items), "dim": int(dim), "n": int(n),
        "interactions": int(model.user_items_.nnz), "generate_s": generate,
        "build_s": build, "index_bytes": index_bytes, "exact_s": exact_s,
        "exact_users_timed": len(sample), "exact_sample_s": exact_sample_s,
        "exact_scaled": len(sample) < len(users),
        "M": _ann.M, "ef_construction": _ann.EF_CONSTRUCTION,
        "faiss": faiss.__version__, "faiss_threads": faiss.omp_get_max_threads(),
        "cpus": os.cpu_count(),
    }
    return base, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--n", type=int, default=10, help="top-n (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ef-search", type=int, nargs="+", default=None,
                        help="HNSW efSearch; several values: a sweep (default: the library's, 256)")
    parser.add_argument("--exact-sample", type=int, default=None,
                        help="time exact search on this many users and scale to all")
    args = parser.parse_args(argv)
    ef = args.ef_search[0] if args.ef_search and len(args.ef_search) == 1 else args.ef_search
    print(json.dumps(run(args.users, args.items, args.dim, args.n, args.seed, ef,
                         args.exact_sample)), flush=True)


if __name__ == "__main__":
    main()
