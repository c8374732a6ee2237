"""Parameter constraints of the package's estimators beyond scikit-learn's."""

from numbers import Integral

from sklearn.utils._param_validation import Interval


class Count(Interval):
    """An int in an interval, ``True`` and ``False`` excluded.

    scikit-learn's ``Interval(Integral, ...)`` takes a bool (``True`` is an
    ``Integral``): ``n_neighbors=True`` passed, then indexed a tensor as a
    mask. ``recommend(n=True)`` and ``LeaveLastOut(n_splits=True)`` already
    raise; so do the estimators' counts.
    """

    def __init__(self, left, right=None, *, closed="left"):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)

    def __str__(self):
        return f"{super().__str__()} (not a bool)"
