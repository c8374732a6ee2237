"""sklearn-zsrec: zero-shot text and collaborative-filtering recommenders.

Estimators with the scikit-learn API: fit on interactions, then ``recommend``,
``predict`` and ``score``. Importing the package is cheap: torch,
transformers and implicit load only when a model needs them.
"""

from ._als import ALSRecommender
from ._cache import clear_embedding_cache, embedding_cache_info
from ._encoder import TextEncoder
from ._hybrid import HybridRecommender
from ._popularity import PopularityRecommender
from ._zero_shot import ZeroShotRecommender

__version__ = "0.1.0"

__all__ = [
    "ALSRecommender",
    "HybridRecommender",
    "PopularityRecommender",
    "TextEncoder",
    "ZeroShotRecommender",
    "clear_embedding_cache",
    "embedding_cache_info",
]
