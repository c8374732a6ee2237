"""Loaders for public recommendation datasets (read from a local copy)."""

from ._movielens import load_movielens_100k

__all__ = ["load_movielens_100k"]
