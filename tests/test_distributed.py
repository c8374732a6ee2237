"""Encoding in Spark workers, and GridSearchCV on dask and Spark workers.

Real engines, on this machine: Spark in ``local[2]`` (skipped if Java or
pyspark is missing), a dask ``LocalCluster`` of two worker processes. Encodes
are counted per process with ``embedding_cache_info`` (``client.run`` asks
each dask worker), and across any processes by the cache directory's files:
a process that encodes a text with ``memory=<dir>`` writes a shard, so files
that stay the same, inode for inode, mean nobody encoded.
"""

import os
import pickle
import shutil
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.utils.validation import check_is_fitted

from sklearn_zsrec import (
    ALSRecommender,
    HybridRecommender,
    TextEncoder,
    ZeroShotRecommender,
    clear_embedding_cache,
    embedding_cache_info,
    fill_embedding_cache,
    ray_text_encoder_batches,
    spark_text_encoder_udf,
)
from sklearn_zsrec import _distributed
from sklearn_zsrec.datasets import load_movielens_100k
from sklearn_zsrec.model_selection import LeaveLastOut

from ._tiny import tiny_model_path

TEXTS = [
    "Toy Story (1995). Genres: Animation, Children's, Comedy",
    "GoldenEye (1995). Genres: Action, Adventure, Thriller",
    "Four Rooms (1995). Genres: Thriller",
    "Get Shorty (1995). Genres: Action, Comedy, Drama",
    "Copycat (1995). Genres: Crime, Drama, Thriller",
    "24 year old male, technician",
]


def _cosine(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def _cache_files(location):
    """Every file of a cache directory, with what changes if it is rewritten."""
    return {
        path.relative_to(location): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in sorted(location.rglob("*")) if path.is_file()
    }


@pytest.fixture(scope="module")
def movielens():
    return load_movielens_100k()


@pytest.fixture(scope="module")
def texts_2000(movielens):
    """2,000 MovieLens-100K texts: the 1,682 item texts, then 318 user texts."""
    texts = list(movielens.item_text) + list(movielens.user_text)
    return texts[:2000]


@pytest.fixture(scope="module")
def spark_vectors(spark, texts_2000):
    """The 2,000 texts encoded by the UDF's function in Spark's Python workers.

    Run through ``rdd.mapPartitions``, which needs no pyarrow: everything of
    ``spark_text_encoder_udf`` but the Arrow exchange. Each partition also
    reports its worker's pid and the identity of the encoder it used.
    """
    encode = _distributed._batches_encoder(_distributed._worker_params(TextEncoder()))

    def partition(rows):
        rows = list(rows)
        batch = pd.Series([text for _, text in rows], index=[i for i, _ in rows], dtype=object)
        out = next(encode(iter([batch]))) if rows else pd.Series([], dtype=object)
        encoder = next(iter(_distributed._WORKER_ENCODERS.values()), (None, None))[1]
        yield os.getpid(), id(encoder), len(_distributed._WORKER_ENCODERS), out

    parts = spark.sparkContext.parallelize(list(enumerate(texts_2000)), 8).mapPartitions(partition)
    reports = parts.collect()
    vectors = pd.concat([out for *_, out in reports if len(out)]).sort_index()
    assert vectors.index.tolist() == list(range(len(texts_2000)))
    return np.stack(vectors.to_list()), reports


def test_spark_workers_encode_like_transform(spark_vectors, texts_2000):
    vectors, reports = spark_vectors
    expected = TextEncoder(verbose=0).fit().transform(texts_2000)
    assert vectors.shape == expected.shape == (2000, 384) and vectors.dtype == np.float32
    assert _cosine(vectors, expected).min() >= 0.9999
    # the model is loaded once per Python worker: one encoder per pid, reused
    per_pid = {}
    for pid, encoder_id, n_encoders, _ in reports:
        per_pid.setdefault(pid, set()).add(encoder_id)
        assert n_encoders == 1
    assert all(len(ids) == 1 for ids in per_pid.values())
    assert len(reports) == 8 > len(per_pid)


def test_spark_pandas_udf_matches_transform(spark, texts_2000):
    pytest.importorskip(
        "pyarrow", reason="pyarrow is not installed: Spark's pandas_udf exchanges batches "
        "through Arrow (the UDF's function itself is tested without it above)")
    encode = spark_text_encoder_udf(TextEncoder(verbose=0))
    frame = spark.createDataFrame(pd.DataFrame({"i": range(2000), "text": texts_2000}))
    out = frame.repartition(4).select("i", encode("text").alias("v")).toPandas().sort_values("i")
    vectors = np.stack(out["v"].to_list()).astype(np.float32)
    expected = TextEncoder(verbose=0).fit().transform(texts_2000)
    assert _cosine(vectors, expected).min() >= 0.9999


def test_ray_data_batches_match_transform(texts_2000):
    ray = pytest.importorskip("ray", reason="ray is not installed (the [ray] extra)")
    pytest.importorskip("ray.data", reason="Ray Data is not installed (the [ray] extra)")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}})
    try:
        frame = pd.DataFrame({"i": range(2000), "text": texts_2000})
        dataset = ray.data.from_pandas(frame).repartition(4)
        encode = ray_text_encoder_batches(TextEncoder(verbose=0), output="v")
        out = dataset.map_batches(encode, batch_format="pandas").to_pandas().sort_values("i")
    finally:
        ray.shutdown()
    assert out["i"].tolist() == list(range(2000))
    assert (out["text"].to_numpy() == frame["text"].to_numpy()).all()
    vectors = np.stack(out["v"].to_list()).astype(np.float32)
    expected = TextEncoder(verbose=0).fit().transform(texts_2000)
    assert _cosine(vectors, expected).min() >= 0.9999


def test_spark_vectors_fill_the_cache_for_recommenders(spark_vectors, texts_2000, movielens,
                                                       tmp_path):
    vectors, _ = spark_vectors
    encoder = TextEncoder(memory=str(tmp_path), verbose=0)
    clear_embedding_cache()
    fill_embedding_cache(encoder, texts_2000, vectors)
    assert embedding_cache_info().misses == 0  # given vectors are not counted as encoded
    assert list(tmp_path.glob("sklearn_zsrec_embeddings/*/*.npz"))
    clear_embedding_cache()  # as another process would start
    items = movielens.item_text
    model = ZeroShotRecommender(encoder, item_texts=items).fit(movielens.interactions[:2000])
    assert embedding_cache_info().misses == 0  # read from the disk, nothing encoded
    # a text given twice (MovieLens has 18 such items; Spark encodes the two
    # copies in other batches, a float32 rounding apart) keeps its first vector
    first = [texts_2000.index(text) for text in items]
    stored = vectors[first] / np.linalg.norm(vectors[first], axis=1, keepdims=True)
    np.testing.assert_allclose(model.item_embeddings_, stored, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "missing, message",
    [
        (("pyspark", "pyspark.sql", "pyspark.sql.functions"),
         r'needs pyspark, .* pip install "sklearn-zsrec\[spark\]"'),
        (("pyarrow",), r'needs pyarrow .* pip install "sklearn-zsrec\[spark\]"'),
    ],
)
def test_spark_udf_names_the_extra_to_install(monkeypatch, missing, message):
    if "pyarrow" in missing:
        pytest.importorskip("pyspark")
    for module in missing:
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=message):
        spark_text_encoder_udf(TextEncoder(verbose=0))


def test_worker_params_pin_what_workers_must_share(tmp_path):
    unfitted = TextEncoder(tiny_model_path(), memory=str(tmp_path), batch_size=7)
    params = _distributed._worker_params(unfitted)
    assert params["memory"] is None and params["verbose"] == 0 and params["batch_size"] == 7
    assert params["precision"] == "auto"
    fitted = clone(unfitted).set_params(verbose=0).fit()
    assert _distributed._worker_params(fitted)["precision"] == fitted.precision_
    assert unfitted.get_params()["memory"] == str(tmp_path)  # the caller's is untouched
    with pytest.raises(TypeError, match="encoder must be a TextEncoder; got str"):
        spark_text_encoder_udf("all-MiniLM-L6-v2")


def test_udf_function_encodes_batches_like_transform():
    params = _distributed._worker_params(TextEncoder(tiny_model_path(), verbose=0))
    encode = _distributed._batches_encoder(params)
    batches = [pd.Series(TEXTS[:4], index=[10, 11, 12, 13]), pd.Series(TEXTS[3:] + TEXTS[:1])]
    out = list(encode(iter(batches)))
    assert [list(s.index) for s in out] == [[10, 11, 12, 13], [0, 1, 2, 3]]
    expected = TextEncoder(tiny_model_path(), verbose=0).fit().transform(TEXTS + TEXTS[:1])
    got = np.stack(pd.concat(out).to_list())
    assert _cosine(got, np.vstack([expected[:4], expected[3:]])).min() >= 0.9999
    with pytest.raises(ValueError, match="spark_text_encoder_udf: the text column must be "
                                         "non-empty strings; 1 are missing"):
        next(encode(iter([pd.Series(["ok", None])])))


def test_a_batch_that_repeats_a_text_gets_a_vector_per_row():
    # distinct texts are encoded once per batch, so a repeated text is
    # expected input: one vector per row, in the batch's order (a mutation
    # hunt: without mapping the distinct texts back, such a batch crashed)
    params = _distributed._worker_params(TextEncoder(tiny_model_path(), verbose=0))
    batch = pd.Series([TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[2]], index=[5, 6, 7, 8])
    (out,) = list(_distributed._batches_encoder(params)(iter([batch])))
    assert list(out.index) == [5, 6, 7, 8]
    got = np.stack(out.to_list())
    expected = TextEncoder(tiny_model_path(), verbose=0).fit().transform(list(batch))
    assert _cosine(got, expected).min() >= 0.9999
    np.testing.assert_array_equal(got[0], got[2])


def test_fill_embedding_cache_memory_only_serves_this_process():
    encoder = TextEncoder(tiny_model_path(), verbose=0)
    vectors = clone(encoder).fit()._encode(TEXTS)
    clear_embedding_cache()
    fill_embedding_cache(encoder, TEXTS, list(vectors))  # a list of vectors, as collected
    assert not hasattr(encoder, "model_path_")  # an unfitted encoder is left unfitted
    np.testing.assert_array_equal(clone(encoder).fit().transform(TEXTS[::-1]), vectors[::-1])
    assert embedding_cache_info() == (len(TEXTS), 0, len(TEXTS))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda v: v[:, :5], r"shape \(n_texts, embedding_dim_\) = \(6, 32\) .* got \(6, 5\)"),
        (lambda v: v[:4], r"= \(6, 32\) for this encoder; got \(4, 32\)"),
        (lambda v: np.where(np.arange(6)[:, None] == 2, np.nan, v),
         r"must be finite float32 values; 1 rows hold NaN, infinity .* \(rows \[2\]\)"),
        # one component lost, not the whole row (a mutation hunt: only rows
        # all NaN were refused, and the NaN was served by transform)
        (lambda v: np.where((np.arange(6)[:, None] == 4) & (np.arange(v.shape[1]) == 7), np.nan, v),
         r"must be finite float32 values; 1 rows hold NaN, infinity .* \(rows \[4\]\)"),
        # finite in float64, infinite once stored in float32
        (lambda v: np.where(np.arange(6)[:, None] == 2, 1e39, v.astype(np.float64)),
         r"beyond float32's range \(rows \[2\]\)"),
        # a list of collected rows with a null vector (a left join) was 'of
        # different lengths'; None itself crashed in numpy
        (lambda v: [*v[:3], None, *v[4:]], r"no vector \(None or NaN\) for 1 texts \(rows \[3\]\)"),
        (lambda v: None, "embeddings is None; pass one vector per text"),
        (lambda v: dict(zip(TEXTS, v)), r"embeddings is a dict; .* \[embeddings\[text\] for"),
        (lambda v: v.astype(int), "must be a 2-D array of floats, one row per text; got dtype int"),
        (lambda v: [row[: 32 - i] for i, row in enumerate(v)], "vectors of different lengths"),
        # a vector missing from a collected column was 'of different lengths'
        (lambda v: pd.Series([*v[:3], None, *v[4:]]),
         r"no vector \(None or NaN\) for 1 texts \(rows \[3\]\)"),
        (lambda v: pd.Series([*v[:5], np.nan]), r"no vector .* \(rows \[5\]\)"),
        (lambda v: v * 2, r"the vectors given are not this encoder's: .* differ by more than 5%"),
    ],
)
def test_fill_embedding_cache_refuses_what_does_not_fit(change, message):
    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    vectors = encoder._encode(TEXTS)
    with pytest.raises(ValueError, match=message):
        fill_embedding_cache(encoder, TEXTS, change(vectors))


def test_fill_embedding_cache_takes_vectors_from_an_iterator():
    # rows streamed back (toLocalIterator) crashed: 'iteration over a 0-d array'
    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    vectors = encoder._encode(TEXTS)
    by_text = dict(zip(TEXTS, vectors))
    for given in ((row for row in vectors), map(np.asarray, vectors.tolist()), list(vectors),
                  by_text.values()):
        clear_embedding_cache()
        fill_embedding_cache(encoder, TEXTS, given)
        np.testing.assert_array_equal(encoder.transform(TEXTS), vectors)
    clear_embedding_cache()


def test_fill_embedding_cache_takes_torch_tensors_in_bfloat16():
    # torch's bfloat16 has no numpy dtype: a bare TypeError from np.asarray
    import torch

    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    vectors = encoder._encode(TEXTS)
    clear_embedding_cache()
    fill_embedding_cache(encoder, TEXTS, torch.tensor(vectors).to(torch.bfloat16))
    assert embedding_cache_info().currsize == len(TEXTS)


def test_fill_embedding_cache_checks_the_longest_texts_and_takes_empty_chunks():
    # vectors of max_length=8 differ from the encoder's (max_length=128) only
    # for the long texts: a minority, which the spread sample missed
    short = [f"item {i}" for i in range(60)]
    long = [f"item {i}: " + " ".join(f"word{j}" for j in range(60)) for i in range(3)]
    texts = short[:20] + long[:1] + short[20:40] + long[1:] + short[40:]
    truncated = TextEncoder(tiny_model_path(), max_length=8, verbose=0).fit()._encode(texts)
    encoder = TextEncoder(tiny_model_path(), verbose=0)
    with pytest.raises(ValueError, match="not this encoder's: re-encoding some texts"):
        fill_embedding_cache(encoder, texts, truncated)
    clear_embedding_cache()
    for empty in ([], pd.Series([], dtype=object), np.zeros((0, 32))):  # a chunk left empty
        fill_embedding_cache(encoder, [], empty)
    assert embedding_cache_info().currsize == 0


def test_fill_embedding_cache_checks_texts_spread_over_the_input():
    # n_check: "how many of the texts (spread over the input)". Vectors right
    # for the first half and the longest texts (all there), shifted by one
    # row from the middle on (a join gone wrong), must be refused (a mutation
    # hunt: a check of the first n_check texts stored the shifted vectors)
    texts = [f"a long description of product number {k}, with many words" if k < 20
             else f"item {k}" for k in range(100)]
    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    vectors = encoder._encode(texts)
    vectors[50:] = np.roll(vectors[50:], 1, axis=0)
    clear_embedding_cache()
    with pytest.raises(ValueError, match="not this encoder's: re-encoding some texts"):
        fill_embedding_cache(encoder, texts, vectors)
    assert embedding_cache_info().currsize == 0


def test_fill_embedding_cache_catches_misaligned_and_conflicting_vectors(tmp_path):
    encoder = TextEncoder(memory=str(tmp_path), verbose=0).fit()  # MiniLM: texts differ
    vectors = encoder._encode(TEXTS)
    with pytest.raises(ValueError, match="not this encoder's: re-encoding some texts"):
        fill_embedding_cache(encoder, TEXTS, vectors[::-1])  # rows out of order
    with pytest.raises(ValueError, match="is given twice with vectors that differ"):
        fill_embedding_cache(encoder, TEXTS + TEXTS[:1], np.vstack([vectors, vectors[1:2]]))
    encoder.transform(TEXTS)  # in the cache now
    with pytest.raises(ValueError, match="already in this encoder's embedding cache have "
                                         "other vectors: 1 of 6"):
        fill_embedding_cache(encoder, TEXTS, np.vstack([vectors[:5], vectors[:1]]), n_check=0)
    with pytest.raises(TypeError, match="'encoder' parameter of fill_embedding_cache must be"):
        fill_embedding_cache([], TEXTS, vectors)
    with pytest.raises(ValueError, match="'n_check' parameter of fill_embedding_cache must be"):
        fill_embedding_cache(encoder, TEXTS, vectors, n_check=-1)


def test_fill_embedding_cache_that_refuses_stores_nothing(tmp_path):
    # it stored the new texts' vectors, then raised: a new encoder (and, with
    # memory=, a new process) served a misaligned batch's vectors, silently
    clear_embedding_cache()
    encoder = TextEncoder(memory=str(tmp_path), verbose=0).fit()
    vectors = encoder._encode(TEXTS)
    encoder.transform(TEXTS[:1])  # one text cached
    swapped = vectors[[1, 0, 2, 3, 4, 5]]  # rows 0 and 1 swapped, not sampled by the check
    with pytest.raises(ValueError, match="other vectors: 1 of 1.*nothing was stored"):
        fill_embedding_cache(encoder, TEXTS, swapped, n_check=0)
    assert embedding_cache_info().currsize == 1
    clear_embedding_cache()  # as a new process: only the disk
    fresh = TextEncoder(memory=str(tmp_path), verbose=0).fit().transform(TEXTS[1:2])
    np.testing.assert_allclose(fresh[0], vectors[1], atol=1e-5)
    assert embedding_cache_info().misses == 1  # encoded: the refused call wrote nothing


def test_fill_embedding_cache_checks_texts_another_thread_cached_meanwhile(monkeypatch):
    # (a mock stands for the other thread, right after the first check): a
    # text cached between the check and the store was compared only after
    # the others were stored
    clear_embedding_cache()
    encoder = TextEncoder(verbose=0).fit()
    vectors = encoder._encode(TEXTS)
    encoder.transform(TEXTS[:1])
    first_check = _distributed._check_agreement
    other_thread = []

    def check_then_another_thread_encodes(*args, **kwargs):
        first_check(*args, **kwargs)
        if not other_thread:
            other_thread.append(TextEncoder(verbose=0).fit().transform(TEXTS[1:2]))

    monkeypatch.setattr(_distributed, "_check_agreement", check_then_another_thread_encodes)
    with pytest.raises(ValueError, match="other vectors: 1 of 1.*nothing was stored"):
        fill_embedding_cache(encoder, TEXTS, vectors[[0, 2, 1, 3, 4, 5]], n_check=0)
    assert other_thread and embedding_cache_info().currsize == 2  # its text and the first
    np.testing.assert_allclose(encoder.transform(TEXTS[2:3])[0], vectors[2], atol=1e-5)


# -- GridSearchCV on other engines --------------------------------------------

GRID = {"switch": [1, 10], "als__factors": [4, 8]}  # 4 candidates x 2 folds + the refit


@pytest.fixture(scope="module")
def ml_slice(movielens):
    """4,849 interactions: 60 users (ranked 100-160 by activity) x the 150 most popular items."""
    X = movielens.interactions
    X = X[X.item_id.isin(X.item_id.value_counts().index[:150])]
    X = X[X.user_id.isin(X.user_id.value_counts().index[100:160])]
    return X.reset_index(drop=True), movielens.item_text.loc[sorted(X.item_id.unique())]


def _hybrid(encoder, item_texts):
    text = ZeroShotRecommender(encoder, item_texts=item_texts)
    als = ALSRecommender(factors=8, iterations=5, random_state=0)
    return HybridRecommender(text, [("als", als)], blend="fixed", random_state=0, verbose=0)


def _search(ml_slice, encoder):
    X, item_texts = ml_slice
    return GridSearchCV(_hybrid(encoder, item_texts), GRID, cv=LeaveLastOut(n_splits=2),
                        n_jobs=2).fit(X)


@pytest.fixture(scope="module")
def shared_cache(ml_slice, tmp_path_factory):
    """A cache directory filled once by this process with the slice's item texts."""
    location = tmp_path_factory.mktemp("shared-embeddings")
    encoder = TextEncoder(memory=str(location), verbose=0)
    clear_embedding_cache()
    clone(encoder).fit().transform(ml_slice[1])  # the parameter itself stays unfitted
    assert embedding_cache_info().misses == len(ml_slice[1])
    return encoder, location


@pytest.fixture(scope="module")
def loky_search(ml_slice, shared_cache):
    return _search(ml_slice, shared_cache[0])


def _assert_same_search(search, reference):
    assert search.best_params_ == reference.best_params_
    assert search.cv_results_["params"] == reference.cv_results_["params"]
    for name in ["mean_test_score", "split0_test_score", "split1_test_score"]:
        np.testing.assert_allclose(search.cv_results_[name], reference.cv_results_[name],
                                   rtol=1e-6)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_grid_search_on_dask_matches_loky_and_reads_the_shared_cache(
        dask_client, ml_slice, shared_cache, loky_search):
    encoder, location = shared_cache
    before = _cache_files(location)
    dask_client.run(clear_embedding_cache)
    with joblib.parallel_backend("dask"):
        search = _search(ml_slice, encoder)
    _assert_same_search(search, loky_search)
    # each worker process read the texts from the shared directory, none encoded
    workers = dask_client.run(embedding_cache_info)
    assert len(workers) == 2
    assert all(info.misses == 0 for info in workers.values())
    assert sum(info.hits for info in workers.values()) >= 2 * len(ml_slice[1])  # 2 splits
    assert embedding_cache_info().misses == len(ml_slice[1])  # the parent's warm-up only
    assert _cache_files(location) == before  # nobody wrote: nobody encoded


@pytest.mark.filterwarnings("ignore:Spark local mode:UserWarning",  # joblibspark's notes
                            "ignore:Spark session is not provided:UserWarning",
                            "ignore:`apply_async` is deprecated:DeprecationWarning")
def test_grid_search_on_spark_matches_loky_and_reads_the_shared_cache(
        spark, ml_slice, shared_cache, loky_search):
    joblibspark = pytest.importorskip("joblibspark", reason="joblibspark is not installed")
    joblibspark.register_spark()
    encoder, location = shared_cache
    before = _cache_files(location)
    with joblib.parallel_backend("spark"):
        search = _search(ml_slice, encoder)
    _assert_same_search(search, loky_search)
    assert _cache_files(location) == before  # Spark's Python workers encoded nothing


def test_estimators_stay_cheap_to_pickle(ml_slice, shared_cache):
    X, item_texts = ml_slice
    unfitted = _hybrid(shared_cache[0], item_texts)
    size = len(pickle.dumps(unfitted))
    assert size < len(pickle.dumps(item_texts)) + 10_000  # parameters, no model, no vectors
    fitted = clone(unfitted).fit(X)
    assert len(pickle.dumps(fitted)) > 10 * size
    # fitting leaves the parameters as they were: no fitted estimator, no cache among them
    for name, value in fitted.get_params(deep=True).items():
        if hasattr(value, "get_params"):
            with pytest.raises(NotFittedError):
                check_is_fitted(value)
    assert abs(len(pickle.dumps(clone(fitted))) - size) < 100


def test_fill_embedding_cache_validates_the_encoders_parameters():
    # the function skipped nested validation: batch_size=0 gave a bare
    # 'range() arg 3 must not be zero'
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="The 'batch_size' parameter"):
        fill_embedding_cache(TextEncoder(tiny_model_path(), batch_size=0, verbose=0),
                             TEXTS, np.zeros((len(TEXTS), 32), dtype=np.float32))


def test_workers_load_the_callers_model_directory_or_say_they_cannot(tmp_path, monkeypatch):
    # Spark's Python workers keep the directory the JVM started in: a relative
    # model="model" fitted in B was loaded from A's "model" on the workers, and
    # the UDF's vectors came from another model without a word
    for where in ("A", "B"):
        shutil.copytree(tiny_model_path(), tmp_path / where / "model")
    weights = next(p for p in (tmp_path / "B" / "model").rglob("*")
                   if p.suffix in (".safetensors", ".bin"))
    with open(weights, "r+b") as f:  # B: other weights than A
        f.seek(weights.stat().st_size // 2)
        byte = f.read(1)
        f.seek(weights.stat().st_size // 2)
        f.write(bytes([byte[0] ^ 1]))
    monkeypatch.chdir(tmp_path / "B")
    caller = TextEncoder("model", verbose=0).fit()
    params = _distributed._worker_params(caller)
    monkeypatch.chdir(tmp_path / "A")  # the worker's directory
    worker = _distributed._worker_encoder(params)
    assert worker.model_path_ == caller.model_path_ == str(tmp_path / "B" / "model")
    # files at the workers' path that are not the caller's: an error, not other vectors
    other = {**params, "model": str(tmp_path / "A" / "model")}
    with pytest.raises(ValueError, match="loaded other model files than the caller's"):
        _distributed._worker_encoder(other)
    # an encoder pickled before today's fingerprint (or without one) is not checked
    caller.files_fingerprint_ = "an earlier scheme"
    assert _distributed._EXPECTED_FILES not in _distributed._worker_params(caller)
    del caller.files_fingerprint_
    assert _distributed._EXPECTED_FILES not in _distributed._worker_params(caller)


def test_the_ray_helper_names_itself_and_its_column_in_errors():
    # a batch with a missing text blamed spark_text_encoder_udf and "the text column"
    encode = ray_text_encoder_batches(TextEncoder(tiny_model_path(), verbose=0),
                                      column="title")
    batch = pd.DataFrame({"title": ["a film", None]})
    with pytest.raises(ValueError, match=r"ray_text_encoder_batches: column 'title' must be"):
        encode(batch)


def test_the_ray_helper_takes_arrow_batches_and_names_a_missing_column():
    import pyarrow as pa

    encoder = TextEncoder(tiny_model_path(), verbose=0)
    encode = ray_text_encoder_batches(encoder)
    # batch_format="pyarrow": 'Table' object has no attribute 'copy'
    out = encode(pa.table({"item_id": [1, 2], "text": TEXTS[:2]}))
    np.testing.assert_allclose(np.stack(out["embedding"]), encoder.fit().transform(TEXTS[:2]),
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"no column 'text' \(its columns: \['title'\]\); "
                                         r"pass column="):
        encode(pd.DataFrame({"title": TEXTS[:2]}))  # was a bare KeyError
    with pytest.raises(TypeError, match="ray_text_encoder_batches: encoder must be a TextEncoder"):
        ray_text_encoder_batches("all-MiniLM-L6-v2")  # blamed spark_text_encoder_udf


def test_a_worker_encodes_with_the_model_saved_again_at_the_same_path(tmp_path):
    # a worker outlives the UDF: the encoder it kept for these parameters was
    # reused after the model's files changed (an unfitted encoder: read at
    # the worker), and every batch raised "changed since fit" (round 14)
    batch = pd.DataFrame({"text": ["a jazz club at night", "a rocket to the moon"]})
    for seed in (0, 1):
        path = tiny_model_path(tmp_path, seed)
        got = ray_text_encoder_batches(TextEncoder(path, verbose=0))(batch)
        want = TextEncoder(path, verbose=0).fit().transform(batch.text.tolist())
        np.testing.assert_allclose(np.stack(got["embedding"].to_numpy()), want, atol=1e-3)
