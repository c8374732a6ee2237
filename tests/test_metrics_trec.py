"""The ranking metrics agree with trec_eval (through pytrec_eval) per user.

Random rankings and relevant sets, with the edge cases: ``k`` past the end of
the list (and lists of 0 items), more relevant items than ``k``, ties in the
scores the rankings were sorted by, users without relevant items, repeated
ids in a ranking, int and string ids. Each user's value from
``_per_user`` (the one code path every public metric averages) must equal
trec_eval's per-query measure:

==============  =====================================================
ours            trec_eval
==============  =====================================================
hit_rate@k      ``success_k``
precision@k     ``P_k``
recall@k        ``recall_k``
ndcg@k          ``ndcg_cut_k``
map@k           ``map_cut_k`` (divides by the number of relevant items)
mrr (k=None)    ``recip_rank``
mrr@k           ``recip_rank`` of the ranking cut to its first k items
==============  =====================================================

trec_eval ranks a query's documents by score (ties broken by docid), so each
ranking is given to it with distinct decreasing scores, which reproduce our
order exactly. trec_eval has no repeated documents in a ranking: a repeated
id, which our metrics count as a hit only the first time, is given to it as
a distinct never-relevant document at the same position. Users without
relevant items have no qrels: trec_eval leaves them out, as ours do (NaN).
A user with an empty ranking is evaluated by pytrec_eval as 0 everywhere,
which is trec_eval's ``-c`` convention and ours (missing positions are
misses).
"""

import numpy as np
import pandas as pd
import pytest
import pytrec_eval  # pip install pytrec_eval-terrier (the test extra)

from sklearn_zsrec.metrics import (
    hit_rate_at_k,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from sklearn_zsrec.metrics._ranking import _per_user

LENGTHS = [0, 1, 3, 5, 10, 20]  # recommendations per user
KS = [1, 3, 5, 10, 20]
USERS_PER_CASE = 200  # 6 lengths x 5 ks x 200 = 6,000 users per metric
N_ITEMS = 30  # small catalog: many hits, and repeats when sampled with replacement
TOLERANCE = 1e-9

# ours -> trec_eval's measure name at cutoff k (None: no cutoff)
MEASURES = {
    "hit_rate": "success_{k}",
    "precision": "P_{k}",
    "recall": "recall_{k}",
    "ndcg": "ndcg_cut_{k}",
    "map": "map_cut_{k}",
}


def _random_case(rng, length, string_ids):
    """Relevant sets and rankings (n_users, length) of random users."""
    n = USERS_PER_CASE
    ids = np.arange(N_ITEMS)
    if string_ids:
        ids = np.array([f"item{i}" for i in ids], dtype=object)
    y_true = []
    for _ in range(n):
        n_relevant = rng.choice([0, 1, 2, 5, 12, 25], p=[0.05, 0.25, 0.25, 0.2, 0.15, 0.1])
        y_true.append(rng.choice(ids, size=n_relevant, replace=False))
    y_pred = np.empty((n, length), dtype=ids.dtype)
    for u in range(n):
        replace = rng.random() < 0.3  # some rankings repeat ids
        candidates = rng.choice(ids, size=length, replace=replace)
        # the model's scores, with ties; the ranking is a stable sort of them
        scores = rng.integers(0, 4, size=length)
        y_pred[u] = candidates[np.argsort(-scores, kind="stable")]
    return y_true, y_pred


def _trec_inputs(y_true, y_pred, prefix):
    """qrels and run dicts for pytrec_eval reproducing our rankings exactly."""
    qrels, run = {}, {}
    for u, (relevant, ranking) in enumerate(zip(y_true, y_pred)):
        query = f"{prefix}-{u}"
        if len(relevant):
            qrels[query] = {str(item): 1 for item in relevant}
        docs, seen = {}, set()
        for position, item in enumerate(ranking):
            doc = str(item)
            if doc in seen:  # a repeat: never relevant, keeps its position
                doc = f"repeat-{position}"
            seen.add(doc)
            docs[doc] = float(len(ranking) - position)  # distinct, decreasing
        run[query] = docs
    return qrels, run


def _cases():
    rng = np.random.default_rng(20240531)
    for length in LENGTHS:
        for k in KS:
            yield length, k, *_random_case(rng, length, string_ids=(length + k) % 2 == 1)


CASES = list(_cases())


def _compare(ours, theirs, queries):
    """ours: per-user values (NaN: left out); theirs: trec_eval's by query."""
    expected = np.array([theirs.get(q, np.nan) for q in queries])
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=TOLERANCE)
    return int((~np.isnan(ours)).sum())


def _evaluate(qrels, run, measures):
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
    return evaluator.evaluate({q: docs for q, docs in run.items() if q in qrels})


@pytest.mark.parametrize("metric", sorted(MEASURES))
def test_cut_metrics_agree_with_trec_eval(metric):
    compared = 0
    for case, (length, k, y_true, y_pred) in enumerate(CASES):
        qrels, run = _trec_inputs(y_true, y_pred, prefix=case)
        measure = MEASURES[metric].format(k=k)
        family, _ = measure.rsplit("_", 1)
        results = _evaluate(qrels, run, {f"{family}.{k}"})
        theirs = {q: values[measure] for q, values in results.items()}
        ours = _per_user(metric, y_true, y_pred, k)
        compared += _compare(ours, theirs, list(run))
    assert compared >= 5000


@pytest.mark.parametrize("cut", [False, True])
def test_mrr_agrees_with_trec_eval_recip_rank(cut):
    compared = 0
    for case, (length, k, y_true, y_pred) in enumerate(CASES):
        if cut:  # trec_eval's recip_rank has no cutoff: cut the ranking to k
            qrels, run = _trec_inputs(y_true, y_pred[:, :k], prefix=case)
        else:
            qrels, run = _trec_inputs(y_true, y_pred, prefix=case)
        results = _evaluate(qrels, run, {"recip_rank"})
        theirs = {q: values["recip_rank"] for q, values in results.items()}
        ours = _per_user("mrr", y_true, y_pred, k if cut else None)
        compared += _compare(ours, theirs, list(run))
    assert compared >= 5000


@pytest.mark.parametrize(
    "metric, function",
    [
        ("hit_rate", hit_rate_at_k),
        ("precision", precision_at_k),
        ("recall", recall_at_k),
        ("ndcg", ndcg_at_k),
        ("map", map_at_k),
        ("mrr", mrr),
    ],
)
def test_public_metrics_are_the_mean_over_users_with_relevant_items(metric, function):
    length, k, y_true, y_pred = CASES[len(CASES) // 2]
    values = _per_user(metric, y_true, y_pred, k)
    assert np.isnan(values).any()  # the case has users without relevant items
    with pytest.warns(UserWarning, match=r"have no relevant item"):
        assert function(y_true, y_pred, k=k) == pytest.approx(np.nanmean(values), abs=1e-12)


def test_the_cases_cover_the_edge_cases():
    n_relevant = [len(r) for _, _, y_true, _ in CASES for r in y_true]
    assert 0 in n_relevant and max(n_relevant) > max(KS)  # none; more than k
    assert any(length < k for length, k, _, _ in CASES)  # k past the list
    assert any(
        pd.Series(row).duplicated().any() for _, _, _, y_pred in CASES for row in y_pred
    )  # repeated ids
    assert {y_pred.dtype.kind for _, _, _, y_pred in CASES} == {"i", "O"}
