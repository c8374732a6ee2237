"""sklearn-zsrec: zero-shot text and collaborative-filtering recommenders.

Estimators with the scikit-learn API: fit on interactions, then ``recommend``,
``predict`` and ``score``. Importing the package is cheap: torch,
transformers and implicit load only when a model needs them.
"""

from ._als import ALSRecommender
from ._ann import approximate_recall
from ._base import BaseRecommender
from ._cache import clear_embedding_cache, embedding_cache_info
from ._caches import clear_cache
from ._distributed import fill_embedding_cache, ray_text_encoder_batches, spark_text_encoder_udf
from ._encoder import TextEncoder
from ._fine_tune import ContrastiveFineTuning
from ._hybrid import HybridRecommender
from ._item_knn import ItemKNNRecommender
from ._next_item import NextItemRecommender
from ._popularity import PopularityRecommender
from ._spark_als import SparkALSRecommender
from ._zero_shot import ZeroShotRecommender

__version__ = "0.1.0"

__all__ = [
    "ALSRecommender",
    "BaseRecommender",
    "ContrastiveFineTuning",
    "HybridRecommender",
    "ItemKNNRecommender",
    "NextItemRecommender",
    "PopularityRecommender",
    "SparkALSRecommender",
    "TextEncoder",
    "ZeroShotRecommender",
    "approximate_recall",
    "clear_cache",
    "clear_embedding_cache",
    "embedding_cache_info",
    "fill_embedding_cache",
    "ray_text_encoder_batches",
    "spark_text_encoder_udf",
]
