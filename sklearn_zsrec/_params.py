"""Parameter constraints of the package's estimators beyond scikit-learn's, and
how a fit that fails forgets what it had set."""

from contextlib import contextmanager
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


@contextmanager
def forgotten_on_error(estimator, private=()):
    """Delete ``estimator``'s fitted attributes when the block raises (Ctrl-C too).

    A refit failing part way kept what it had set: two fits' attributes
    mixed, which ``predict`` or ``transform`` then used silently (the refused
    model, the refused settings). Not fitted instead. Fitted attributes: names
    ending in "_" (not dunders) that are not parameters (``lambda_`` stays),
    and the names in ``private``.
    """
    try:
        yield
    except BaseException:
        params = set(estimator._get_param_names())
        for name in [k for k in vars(estimator) if k in private or (
                k.endswith("_") and not k.startswith("__") and k not in params)]:
            delattr(estimator, name)
        raise
