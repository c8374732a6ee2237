"""sklearn-zsrec: zero-shot text and collaborative-filtering recommenders.

Estimators with the scikit-learn API: fit on interactions, then ``recommend``,
``predict`` and ``score``. Importing the package is cheap: torch,
transformers and implicit load only when a model needs them.
"""

from ._als import ALSRecommender
from ._base import BaseRecommender
from ._cache import clear_embedding_cache, embedding_cache_info
from ._caches import clear_cache
from ._encoder import TextEncoder
from ._hybrid import HybridRecommender
from ._item_knn import ItemKNNRecommender
from ._next_item import NextItemRecommender
from ._popularity import PopularityRecommender
from ._zero_shot import ZeroShotRecommender

__version__ = "0.1.0"

__all__ = [
    "ALSRecommender",
    "BaseRecommender",
    "HybridRecommender",
    "ItemKNNRecommender",
    "NextItemRecommender",
    "PopularityRecommender",
    "TextEncoder",
    "ZeroShotRecommender",
    "clear_cache",
    "clear_embedding_cache",
    "embedding_cache_info",
]
