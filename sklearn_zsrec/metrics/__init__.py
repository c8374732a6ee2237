"""Ranking metrics for recommendations and a scorer for model selection."""

from ._ranking import (
    catalog_coverage,
    hit_rate_at_k,
    make_rank_scorer,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

__all__ = [
    "catalog_coverage",
    "hit_rate_at_k",
    "make_rank_scorer",
    "map_at_k",
    "mrr",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]
