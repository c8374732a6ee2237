"""The hypothesis profiles of the randomised tests, and their example counts.

``HYPOTHESIS_PROFILE=thorough`` runs ten times each test's examples (a
test's own ``settings(max_examples=...)`` overrides a profile's, so the
tests take theirs from ``examples``).
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
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or "default"
settings.load_profile(PROFILE)
SCALE = 10 if PROFILE == "thorough" else 1


def examples(n):
    """``n`` examples, ``10 * n`` with ``HYPOTHESIS_PROFILE=thorough``."""
    return n * SCALE
