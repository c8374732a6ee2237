"""Loaders for public recommendation datasets (read from a local copy) and
a generator of synthetic interactions."""

from ._movielens import load_movielens_100k
from ._synthetic import make_synthetic_interactions

__all__ = ["load_movielens_100k", "make_synthetic_interactions"]
