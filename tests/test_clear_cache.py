"""clear_cache: one switch for the package's process-wide caches."""

from sklearn_zsrec import ALSRecommender, HybridRecommender, TextEncoder, ZeroShotRecommender

from ._data import topic_catalog, topic_interactions
from ._tiny import tiny_model_path
from ._members import cf_members

ITEM_TEXTS, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)


def _text():
    return ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=ITEM_TEXTS)


def test_clear_cache_empties_the_fit_memo_and_the_embeddings():
    from sklearn_zsrec import clear_cache, embedding_cache_info
    from sklearn_zsrec._hybrid import _memo

    HybridRecommender(_text(), cf_members(ALSRecommender(factors=4, iterations=2, random_state=0)),
                      blend="fixed").fit(X)
    assert len(_memo._FIT_MEMO) > 0
    clear_cache(embeddings=False, models=False)
    assert len(_memo._FIT_MEMO) == 0 and embedding_cache_info().currsize > 0
    clear_cache()
    assert embedding_cache_info().currsize == 0
