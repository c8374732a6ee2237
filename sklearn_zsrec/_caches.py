"""One switch for every process-wide cache of the package."""


def clear_cache(*, fits=True, embeddings=True, models=True):
    """Empty the package's process-wide caches, to free memory or to time a cold start.

    Three caches live in the process (never on disk unless asked for):

    - ``fits``: fitted members that :class:`HybridRecommender` reuses while
      the same data and parameters come back (the candidates of a grid
      search over the blend's own parameters refit nothing else, up to
      5-fold with the learned blend). At most 15 entries of each kind (text
      model, CF model, item-kNN, next-item, ...) and 1 GiB in all (arrays,
      and pandas objects such as texts with their strings; a fit larger than
      that alone is not kept), least recently used dropped first (MovieLens-100K's default members:
      about 25 MB per holdout fit and 35 MB per final fit).
    - ``embeddings``: text vectors, one per distinct text and model (384
      float32 for the default model: 1.5 kB per text); see
      :func:`clear_embedding_cache`, which this calls. Files written through
      ``TextEncoder(memory=...)`` stay on disk.
    - ``models``: the transformer models loaded by :class:`TextEncoder` (one
      per path and device, about 90 MB for the default model) and the
      precision chosen for each by ``precision="auto"``.

    Parameters
    ----------
    fits, embeddings, models : bool, default=True
        Which caches to empty.

    Examples
    --------
    >>> from sklearn_zsrec import clear_cache
    >>> clear_cache()
    >>> clear_cache(embeddings=False, models=False)  # only the hybrid's fitted members
    """
    if fits:
        from ._hybrid import _memo

        _memo.clear()
    if embeddings:
        from ._cache import clear_embedding_cache

        clear_embedding_cache()
    if models:
        from . import _encoder, _model_files, _precision

        with _encoder._MODELS_LOCK:
            _encoder._MODELS.clear()
        with _precision._PRECISIONS_LOCK:
            _precision._PRECISIONS.clear()
        _model_files._FINGERPRINTS.clear()
