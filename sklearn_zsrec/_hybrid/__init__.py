"""HybridRecommender, composed of named public recommenders.

``_estimator`` (the estimator), ``_members`` (fitting the members and what
the blend reads of them), ``_blend`` (the terms and their weighted sum),
``_learn`` (learning the blend on a holdout), ``_exposure`` (the share of
new items in a top-10), ``_new_users`` (users scored by their text), and
``_memo`` (fitted members reused across grid candidates).
"""

from ._estimator import HybridRecommender

__all__ = ["HybridRecommender"]
