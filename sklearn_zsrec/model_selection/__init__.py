"""Splitting interactions in time, for evaluation and model selection."""

from ._split import LeaveLastOut, train_test_split_last

__all__ = ["LeaveLastOut", "train_test_split_last"]
