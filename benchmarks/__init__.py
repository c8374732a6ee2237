"""Benchmarks of sklearn-zsrec against collaborative-filtering baselines."""
