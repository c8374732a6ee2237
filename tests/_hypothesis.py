"""The hypothesis profiles of the randomised tests, and their example counts.

``HYPOTHESIS_PROFILE=thorough`` runs ten times each test's examples (a
test's own ``settings(max_examples=...)`` overrides a profile's, so the
tests take theirs from ``examples``). Under ``CI`` (set, not 0 or false), the ``ci``
profile draws each test's examples from a fixed seed (``derandomize``),
as hypothesis's own CI profile does: a CI run is reproducible, and passes
or fails on a commit, not on a draw; local runs draw anew each time, and
the thorough profile explores.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", deadline=None, suppress_health_check=[HealthCheck.too_slow],
    max_examples=1000,
)
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True, database=None, print_blob=True,
)
_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _CI else "default")
settings.load_profile(PROFILE)
SCALE = 10 if PROFILE == "thorough" else 1


def examples(n):
    """``n`` examples, ``10 * n`` with ``HYPOTHESIS_PROFILE=thorough``."""
    return n * SCALE
