import pickle

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_zsrec import TextEncoder, clear_embedding_cache, embedding_cache_info
from sklearn_zsrec._model_files import resolve_model_path

from ._tiny import real_model_path, tiny_model_path

TEXTS = [
    "Toy Story (1995). Genres: Animation, Children's, Comedy",
    "GoldenEye (1995). Genres: Action, Adventure, Thriller",
    "a",
    "  leading and trailing spaces  ",
    "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1963). "
    "Genres: Sci-Fi, War " * 30,  # longer than the model's 256 tokens: truncated
]


def _cosine(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def test_real_model_matches_sentence_transformers():
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(real_model_path(), device="cpu").encode(
        TEXTS, batch_size=2
    )
    ours = TextEncoder(batch_size=2, verbose=0).fit().transform(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert _cosine(ours, reference).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)


def test_default_model_resolves_offline_to_installed_package():
    enc = TextEncoder(verbose=0).fit()
    assert enc.model_path_ == real_model_path()
    assert (enc.pooling_, enc.normalize_, enc.max_length_) == ("mean", True, 256)


@pytest.mark.parametrize("precision, atol", [("float32", 1e-5), ("bfloat16", 2e-2)])
@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "last"])
def test_pooling_ignores_padding(pooling, precision, atol):
    # A text encoded in a padded batch must equal the same text encoded alone.
    # The precision is pinned: "auto" picks bfloat16 on some hardware (see
    # test_precision.py), and bfloat16 products round differently with the
    # padded shapes.
    enc = TextEncoder(tiny_model_path(), pooling=pooling, batch_size=8, precision=precision,
                      verbose=0)
    enc.fit()
    batched = enc._encode(TEXTS)
    alone = np.vstack([enc._encode([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, alone, atol=atol)
    assert enc.pooling_ == pooling and enc.precision_ == precision


def test_pooling_variants_differ_and_auto_is_mean_for_bert():
    path = tiny_model_path()
    auto = TextEncoder(path, verbose=0).fit()
    assert auto.pooling_ == "mean" and auto.normalize_ is False
    outs = {
        p: TextEncoder(path, pooling=p, verbose=0).fit().transform(TEXTS[:2])
        for p in ["mean", "cls", "max", "last"]
    }
    assert not np.allclose(outs["mean"], outs["cls"])
    assert not np.allclose(outs["max"], outs["last"])


def test_normalize_and_template():
    path = tiny_model_path()
    raw = TextEncoder(path, normalize=False, verbose=0).fit().transform(TEXTS[:2])
    unit = TextEncoder(path, normalize=True, verbose=0).fit().transform(TEXTS[:2])
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    np.testing.assert_allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-5)
    query = TextEncoder(path, template="query: {}", verbose=0).fit()
    by_hand = TextEncoder(path, verbose=0).fit().transform(["query: " + t for t in TEXTS[:2]])
    np.testing.assert_allclose(query.transform(TEXTS[:2]), by_hand, rtol=1e-5)


def test_cache_encodes_each_text_once_across_clones():
    clear_embedding_cache()
    enc = TextEncoder(tiny_model_path(), verbose=0)
    first = clone(enc).fit().transform(TEXTS + TEXTS[:2])
    assert embedding_cache_info().misses == len(TEXTS)
    second = clone(enc).fit().transform(TEXTS[::-1])
    assert embedding_cache_info().misses == len(TEXTS)
    np.testing.assert_array_equal(first[: len(TEXTS)], second[::-1])
    # another configuration is another cache entry
    TextEncoder(tiny_model_path(), pooling="cls", verbose=0).fit().transform(TEXTS[:1])
    assert embedding_cache_info().misses == len(TEXTS) + 1


def test_disk_cache_survives_a_cleared_memory(tmp_path):
    clear_embedding_cache()
    enc = TextEncoder(tiny_model_path(), memory=str(tmp_path), verbose=0).fit()
    first = enc.transform(TEXTS)
    assert embedding_cache_info().misses == len(TEXTS)
    clear_embedding_cache()  # as a new process would start
    again = enc.transform(TEXTS)
    assert embedding_cache_info().misses == 0
    np.testing.assert_array_equal(first, again)
    assert list(tmp_path.glob("sklearn_zsrec_embeddings/*/key.json"))


def test_a_disk_cache_fed_one_text_per_call_keeps_few_shards(tmp_path):
    # a service encoding each request's new texts wrote one shard per call,
    # and every call listed them all (500 calls: 505 files)
    from sklearn_zsrec._cache import _MAX_SHARDS

    clear_embedding_cache()
    enc = TextEncoder(tiny_model_path(), memory=str(tmp_path), verbose=0).fit()
    texts = [f"request {i} " + "word " * (i % 7) for i in range(3 * _MAX_SHARDS)]
    first = np.vstack([enc.transform([t]) for t in texts])
    shards = list(tmp_path.glob("sklearn_zsrec_embeddings/*/*.npz"))
    assert len(shards) <= _MAX_SHARDS
    clear_embedding_cache()  # as a new process would start: every text read back
    np.testing.assert_array_equal(enc.transform(texts), first)
    assert embedding_cache_info().misses == 0


def test_merging_shards_keeps_every_text_on_disk(tmp_path):
    # a merged shard is named by its texts: a source holding exactly the
    # texts of one merged shard (a length of its own) has that shard's name,
    # and deleting the sources deleted it (its text encoded again by the
    # next process)
    from sklearn_zsrec._cache import _MAX_SHARDS

    clear_embedding_cache()
    enc = TextEncoder(tiny_model_path(), memory=str(tmp_path), verbose=0).fit()
    long_text = "A long description of a product. " * 10
    for i in range(_MAX_SHARDS // 2 + 8):  # larger shards: never the smaller half merged
        enc.transform([f"batch {i} item {j}" for j in range(30)])
    enc.transform([long_text])
    written = [long_text] + [f"single {i}" for i in range(_MAX_SHARDS // 2)]
    for text in written[1:]:  # one more shard than _MAX_SHARDS: a merge
        enc.transform([text])
    shards = list(tmp_path.glob("sklearn_zsrec_embeddings/*/*.npz"))
    assert len(shards) <= _MAX_SHARDS
    on_disk = {t for shard in shards for t in np.load(shard)["texts"].tolist()}
    assert set(written) <= on_disk
    clear_embedding_cache()  # as a new process
    enc.transform(written)
    assert embedding_cache_info().misses == 0


def test_merging_shards_does_not_make_a_deleted_directory_again(tmp_path, monkeypatch):
    # deleting the directory is how a text is forgotten; a merge under way
    # wrote it again with the older texts (the deletion made to happen
    # during the merge by wrapping the shard reader: a test of our own logic)
    import shutil

    from sklearn_zsrec import _cache

    clear_embedding_cache()
    enc = TextEncoder(tiny_model_path(), memory=str(tmp_path), verbose=0).fit()
    for i in range(_cache._MAX_SHARDS):
        enc.transform([f"request {i}"])
    directory = next(tmp_path.glob("sklearn_zsrec_embeddings/*"))
    read, calls = _cache._load_shard, []

    def deleted_meanwhile(path):
        out = read(path)
        calls.append(path)
        if len(calls) == 2:  # two shards read: the merge goes on
            shutil.rmtree(directory, ignore_errors=True)
        return out

    monkeypatch.setattr(_cache, "_load_shard", deleted_meanwhile)
    enc.transform(["the request that merges"])
    assert len(calls) == 2 and not directory.exists()


def test_joblib_memory_is_accepted(tmp_path):
    joblib = pytest.importorskip("joblib")
    enc = TextEncoder(tiny_model_path(), memory=joblib.Memory(tmp_path, verbose=0))
    enc.set_params(verbose=0).fit().transform(TEXTS[:1])
    assert list(tmp_path.glob("sklearn_zsrec_embeddings/*/*.npz"))


def test_pickle_round_trip():
    enc = TextEncoder(tiny_model_path(), verbose=0).fit()
    restored = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(restored.transform(TEXTS), enc.transform(TEXTS))
    assert restored.get_feature_names_out()[0] == "textencoder0"


def test_bad_texts_raise():
    enc = TextEncoder(tiny_model_path(), verbose=0).fit()
    with pytest.raises(ValueError, match="got a single string. Wrap it in a list"):
        enc.transform("just one")
    with pytest.raises(ValueError, match=r"2 are missing, empty or not strings \(positions \[1, 2\]"):
        enc.transform(["ok", "", np.nan])
    with pytest.raises(ValueError, match="template must contain"):
        TextEncoder(tiny_model_path(), template="query: ").fit()


@pytest.mark.parametrize("texts, error, message", [
    # a dict's iteration gives its keys: the ids were embedded as if texts
    ({"i1": "a heist on a train", "i2": "a quiet garden"}, TypeError,
     r"got a dict, whose iteration gives its keys.*list\(texts.values\(\)\)"),
    (np.array("a heist on a train"), ValueError, "got a single string. Wrap it in a list"),
    (None, TypeError, "must be a sequence of strings .* got NoneType"),
    (3, TypeError, "must be a sequence of strings .* got int"),
    (np.array(5), TypeError, "must be a sequence of strings .* got int"),
])
def test_texts_that_are_not_a_sequence_of_texts_raise(texts, error, message):
    enc = TextEncoder(tiny_model_path(), verbose=0).fit()
    with pytest.raises(error, match=message):
        enc.transform(texts)


def test_a_template_set_after_fit_is_checked_when_it_is_used():
    # transform reads the template live: set without a refit, "movie" made
    # every text the same text, and every embedding alike, without an error
    enc = TextEncoder(tiny_model_path(), verbose=0).fit()
    enc.set_params(template="movie")
    with pytest.raises(ValueError, match="template must contain '{}' once.*got 'movie'"):
        enc.transform(["a heist on a train", "a quiet garden"])


def test_a_model_folder_without_its_tokenizer_raises(tmp_path):
    # model.save_pretrained(folder) alone: transformers 5 builds an empty
    # tokenizer, every word read as [UNK] and every text embedded alike
    from transformers import AutoModel

    AutoModel.from_pretrained(tiny_model_path()).save_pretrained(tmp_path)
    # (transformers before 5 refuses such a folder itself, with an OSError)
    with pytest.raises((ValueError, OSError),
                       match=r"has no tokenizer vocabulary.*tokenizer.save_pretrained"
                             r"|Can't load tokenizer for"):
        TextEncoder(str(tmp_path), verbose=0).fit()


@pytest.mark.parametrize("params, message", [
    ({"template": "Title: {} / {}"}, "template must contain '{}' once"),
    ({"template": '{"text": {}}'}, "no other braces"),
    ({"template": "{0} {}"}, "template must contain"),
    ({"max_length": 1000}, r"max_length=1000 does not fit .* 3 to 128 tokens"),
    ({"max_length": 1}, r"max_length=1 does not fit"),
])
def test_settings_that_cannot_encode_raise_at_fit(params, message):
    # they fitted, then a long text raised torch's "size of tensor a (702)
    # must match", or the template str.format's IndexError / KeyError
    with pytest.raises(ValueError, match=message):
        TextEncoder(tiny_model_path(), verbose=0, **params).fit()
    TextEncoder(tiny_model_path(), verbose=0, template="{{x}} {}", max_length=3).fit()


@pytest.mark.parametrize("name", ["tokenizer.json", "modules.json", "1_Pooling/config.json",
                                  "sentence_bert_config.json"])
@pytest.mark.parametrize("damage", ["half written", "not text"])
def test_a_half_written_json_file_names_the_model_folder(tmp_path, name, damage):
    # a bare JSONDecodeError ("Expecting ',' delimiter: line 1 column ...")
    # named no file, no folder and no fix; so did bytes that are not UTF-8
    # (a disk error's), in a bare UnicodeDecodeError
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(real_model_path(), folder)
    damaged = folder / name
    damaged.write_bytes(damaged.read_bytes()[:20] if damage == "half written"
                        else b"\xff\xfe\x00\x81 garbage")
    with pytest.raises(OSError, match=r"model file .*model.* does not parse") as raised:
        TextEncoder(str(folder), verbose=0).fit()
    assert name in str(raised.value)  # the damaged file is named


def test_a_tokenizer_this_version_cannot_read_is_not_called_damaged(tmp_path):
    # valid JSON of a newer format (an unknown pre-tokenizer): tokenizers'
    # "data did not match any variant ... at line 1 column 441" read as a
    # damaged copy, and the scan named a file transformers never reads (an
    # interrupted training's checkpoint beside the model)
    import json
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(real_model_path(), folder)
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer["pre_tokenizer"] = {"type": "SomeNewPreTokenizer"}
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    (folder / "checkpoint-500").mkdir()
    (folder / "checkpoint-500" / "trainer_state.json").write_text('{"best_metric": ')
    with pytest.raises(OSError) as raised:
        TextEncoder(str(folder), verbose=0).fit()
    said = str(raised.value)
    assert "checkpoint-500" not in said and "does not parse" not in said, said
    assert "every file parses" in said and "Upgrade transformers" in said, said
    assert raised.value.errno is None  # (a tuned model: tuned again, in this version)


def test_a_damaged_vocabulary_file_is_named_not_called_json(tmp_path):
    # without tokenizer.json, the tokenizer reads vocab.txt: bytes there that
    # are not UTF-8 were "a JSON file of the model ... does not parse"
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(real_model_path(), folder)
    (folder / "tokenizer.json").unlink()
    vocab = folder / "vocab.txt"
    vocab.write_bytes(vocab.read_bytes()[:5000] + b"\xff\xfe\x81 damaged\n")
    with pytest.raises(OSError, match=r"the model file vocab.txt at .*model does not parse "
                                      r"\(.*(UTF-8|utf-8)") as raised:  # (transformers 4: Python's)
        TextEncoder(str(folder), verbose=0).fit()
    assert "JSON" not in str(raised.value)


def test_a_refit_that_raises_leaves_the_encoder_not_fitted():
    # it kept what it had set before the check that raised: pooling_ "cls"
    # and normalize_ False stayed, and transform (parameters set back)
    # returned unnormalised CLS vectors of norm ~8, silently
    from sklearn.exceptions import NotFittedError

    texts = ["a heist on a train", "a quiet garden"]
    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    before = encoder.transform(texts)
    encoder.set_params(pooling="cls", normalize=False, max_length=1000)
    with pytest.raises(ValueError, match="max_length=1000 does not fit"):
        encoder.fit()
    encoder.set_params(pooling="auto", normalize="auto", max_length=None)
    with pytest.raises(NotFittedError):
        encoder.transform(texts)
    assert not [k for k in vars(encoder) if k.endswith("_") and not k.startswith("__")]
    np.testing.assert_array_equal(encoder.fit().transform(texts), before)


def test_a_numpy_int_max_length_encodes_as_its_python_int():
    # np.arange in a parameter grid gives numpy ints, which the parameter
    # check accepts: the cache key (JSON) raised "Object of type int64 is not
    # JSON serializable" at the first transform
    texts = ["a heist on a train", "a quiet garden"]
    given = TextEncoder(tiny_model_path(), verbose=0, max_length=np.int64(16)).fit()
    plain = TextEncoder(tiny_model_path(), verbose=0, max_length=16).fit()
    assert type(given.max_length_) is int
    np.testing.assert_array_equal(given.transform(texts), plain.transform(texts))


def test_a_relative_model_path_is_kept_absolute(tmp_path, monkeypatch):
    # a fitted encoder kept "model" relative: after a change of directory it
    # encoded with whatever model sat at that relative path there
    import shutil

    shutil.copytree(tiny_model_path(), tmp_path / "a" / "model")
    monkeypatch.chdir(tmp_path / "a")
    enc = TextEncoder("model", verbose=0).fit()
    assert enc.model_path_ == str(tmp_path / "a" / "model")


def test_missing_model_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="the model path .* does not exist"):
        TextEncoder(str(tmp_path / "nowhere"), verbose=0).fit()
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        TextEncoder(str(tmp_path), verbose=0).fit()


def test_a_model_path_to_one_of_its_files_names_the_folder():
    # it said "does not exist" of a file that exists
    import os

    weights = os.path.join(tiny_model_path(), "config.json")
    with pytest.raises(NotADirectoryError, match=r"is a file; pass the folder .*" + tiny_model_path()):
        TextEncoder(weights, verbose=0).fit()


def test_offline_machine_asked_to_download_raises(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="this machine is offline .* pass model="):
        resolve_model_path("no-such-org/no-such-model")


def test_invalid_parameters_raise():
    with pytest.raises(ValueError, match="'batch_size' parameter of TextEncoder must be"):
        TextEncoder(tiny_model_path(), batch_size=0).fit()
    with pytest.raises(ValueError, match="'pooling' parameter of TextEncoder must be"):
        TextEncoder(tiny_model_path(), pooling="median").fit()


@pytest.mark.parametrize("which", ["tiny", "real"])
def test_bfloat16_is_close_to_float32(which):
    # bfloat16 keeps 8 bits of mantissa; the embeddings stay float32 and, on
    # these texts, within cosine 0.9999 of float32 for both models (measured:
    # tiny random BERT >= 0.99999; MiniLM >= 0.99997 on all 1,682 MovieLens-100K
    # item texts and >= 0.9999 on these)
    path = tiny_model_path() if which == "tiny" else real_model_path()
    fp32 = TextEncoder(path, precision="float32", verbose=0).fit()
    bf16 = TextEncoder(path, precision="bfloat16", verbose=0).fit()
    assert (fp32.precision_, bf16.precision_) == ("float32", "bfloat16")
    low = bf16.transform(TEXTS)
    assert low.dtype == np.float32
    assert _cosine(low, fp32.transform(TEXTS)).min() >= 0.9999


def test_precision_is_part_of_the_cache_key():
    clear_embedding_cache()
    TextEncoder(tiny_model_path(), precision="float32", verbose=0).fit().transform(TEXTS)
    TextEncoder(tiny_model_path(), precision="bfloat16", verbose=0).fit().transform(TEXTS)
    assert embedding_cache_info().misses == 2 * len(TEXTS)


def test_invalid_precision_raises():
    with pytest.raises(ValueError, match="'precision' parameter of TextEncoder must be"):
        TextEncoder(tiny_model_path(), precision="fp16").fit()


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_builds_the_tokenizers_padding(side):
    # our per-batch padding of pre-tokenized texts equals the tokenizer's own
    from transformers import AutoTokenizer

    from sklearn_zsrec._encoder import _pad

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path())
    tokenizer.padding_side = side
    texts = ["a short one", "a somewhat longer text than that", "mid length"]
    encoded = tokenizer(texts, truncation=True, max_length=16)
    idx = np.array([1, 2])
    ours = _pad(encoded, idx, max(len(encoded["input_ids"][i]) for i in idx), tokenizer, side == "left")
    theirs = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=16, return_tensors="pt")
    assert set(ours) == set(theirs.keys())
    for name in ours:
        np.testing.assert_array_equal(ours[name].numpy(), theirs[name].numpy())


def _copy_model(src, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(src, model)
    return model


def _flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 1]))


def test_a_model_changed_anywhere_in_its_weights_is_another_model(tmp_path):
    # the fingerprint read 9 blocks of 64 KiB per file: a model fine-tuned in
    # one layer (or its biases) at the same path passed as the fitted one,
    # and transform mixed its vectors with those computed at fit
    model = _copy_model(real_model_path(), tmp_path)
    encoder = TextEncoder(str(model), verbose=0).fit()
    key = encoder._cache_key()
    weights = model / "model.safetensors"
    _flip_byte(weights, weights.stat().st_size * 3 // 16)  # between the old blocks
    with pytest.raises(ValueError, match="model files at .* changed since fit"):
        encoder.transform(["another text"])
    refitted = TextEncoder(str(model), verbose=0).fit()
    assert refitted.files_fingerprint_ != encoder.files_fingerprint_
    assert refitted._cache_key() != key  # its embeddings are not the old model's


def test_files_beside_the_model_do_not_make_it_another_model(tmp_path):
    # an ONNX export, a README or evaluation outputs saved in the model's
    # folder made every fitted encoder on it raise
    model = _copy_model(tiny_model_path(), tmp_path)
    encoder = TextEncoder(str(model), verbose=0).fit()
    (model / "onnx").mkdir()
    (model / "onnx" / "model.onnx").write_bytes(b"\0" * 100)
    (model / "README.md").write_text("notes")
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref")
    (model / "trainer_state.json").write_text("{}")  # a training run's records
    (model / "fine_tuning.json").write_text("{}")
    encoder.transform(["still the same model"])
    assert TextEncoder(str(model), verbose=0).fit().files_stamp_ == encoder.files_stamp_


def test_the_embedding_cache_is_keyed_by_the_models_contents(tmp_path, monkeypatch):
    # keyed by names, sizes and times: the same files installed again (other
    # times) missed the disk cache, and another model with the same sizes and
    # times (fixed times: Nix, Docker, tar --mtime) was served the old vectors
    import os

    from sklearn_zsrec import _encoder, _model_files

    model = _copy_model(tiny_model_path(), tmp_path)
    files = sorted(p for p in model.rglob("*") if p.is_file())
    for path in files:
        os.utime(path, ns=(1, 10**18))
    key = TextEncoder(str(model), verbose=0).fit()._cache_key()
    for path in files:  # installed again: other times, same contents
        os.utime(path, ns=(2, 2 * 10**18))
    assert TextEncoder(str(model), verbose=0).fit()._cache_key() == key
    weights = next(p for p in files if p.suffix in (".safetensors", ".bin"))
    _flip_byte(weights, weights.stat().st_size // 2)
    for path in files:  # another model, same sizes and times, seen by a new process
        os.utime(path, ns=(1, 10**18))
    monkeypatch.setattr(_model_files, "_FINGERPRINTS", {})
    monkeypatch.setattr(_encoder, "_MODELS", {})
    assert TextEncoder(str(model), verbose=0).fit()._cache_key()["files"] != key["files"]


def test_a_worker_encoder_follows_the_model_saved_again(tmp_path):
    # Spark reuses its Python workers: after the model was saved again and the
    # caller's encoder refitted, the worker kept its encoder from before, which
    # raised (files changed since its fit) in every batch until a restart
    import os

    from sklearn_zsrec import _distributed

    model = _copy_model(tiny_model_path(), tmp_path)
    params = _distributed._worker_params(TextEncoder(str(model), verbose=0))
    first = _distributed._worker_encoder(params)
    assert _distributed._worker_encoder(params) is first
    weights = next(p for p in model.rglob("*") if p.suffix in (".safetensors", ".bin"))
    _flip_byte(weights, weights.stat().st_size // 2)
    os.utime(weights, ns=(3, 3 * 10**18))
    second = _distributed._worker_encoder(params)
    assert second is not first
    second.transform(["encoded by the model saved again"])


def test_an_encoder_pickled_with_the_earlier_fingerprint_still_encodes(tmp_path):
    # the earlier versions' fingerprint (sampled blocks) does not compare
    # with this one's: it raised 'changed since fit' for the same model
    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    old = pickle.loads(pickle.dumps(encoder))
    old.files_stamp_, old.files_fingerprint_ = "0123456789abcdef", "fedcba9876543210"
    np.testing.assert_array_equal(old.transform(["a text"]), encoder.transform(["a text"]))


def _st_saved(tmp_path, *modules):
    """A sentence-transformers model of the tiny BERT and ``modules``, saved as 6.x saves it."""
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(tiny_model_path(), max_seq_length=16)
    built = [m(transformer.get_word_embedding_dimension()) for m in modules]
    st = SentenceTransformer(modules=[transformer, *built], device="cpu")
    st.save(str(tmp_path / "st"))
    return st, str(tmp_path / "st")


def test_pooling_saved_by_sentence_transformers_6_is_read(tmp_path):
    # its Pooling config holds {"pooling_mode": "cls"}, not the older
    # pooling_mode_*_token flags: TextEncoder read none and mean-pooled
    from sentence_transformers import models

    st, path = _st_saved(tmp_path, lambda dim: models.Pooling(dim, "cls"))
    encoder = TextEncoder(path, verbose=0, device="cpu", precision="float32").fit()
    assert encoder.pooling_ == "cls"
    texts = ["Toy Story (1995) " * 10, "Heat (1995)"]
    np.testing.assert_allclose(encoder.transform(texts), st.encode(texts), atol=1e-5)


@pytest.mark.parametrize("extra", ["dense", "weightedmean"])
def test_sentence_transformers_modules_it_does_not_compute_raise(tmp_path, extra):
    # a Dense module (LaBSE, sentence-t5, distiluse) was skipped: other
    # vectors, even of another dimension, than SentenceTransformer.encode's
    from sentence_transformers import models

    if extra == "dense":
        modules = [lambda dim: models.Pooling(dim, "mean"), lambda dim: models.Dense(dim, 16)]
    else:
        modules = [lambda dim: models.Pooling(dim, "weightedmean")]
    _, path = _st_saved(tmp_path, *modules)
    with pytest.raises(ValueError, match="Dense module" if extra == "dense" else
                       "pooling weightedmean"):
        TextEncoder(path, verbose=0, device="cpu").fit()
    if extra == "weightedmean":  # a pooling chosen by the user is the user's
        assert TextEncoder(path, pooling="mean", verbose=0, device="cpu").fit().pooling_ == "mean"


def test_the_same_model_at_two_paths_shares_one_cache_key(tmp_path):
    # the key held the model's real path: nodes that install the same files
    # at different paths never shared the memory= directory (docs/scale.md
    # says they do)
    import shutil

    first = _copy_model(tiny_model_path(), tmp_path)
    second = tmp_path / "elsewhere"
    shutil.copytree(first, second)
    keys = [TextEncoder(str(path), verbose=0).fit()._cache_key() for path in (first, second)]
    assert keys[0] == keys[1]


def test_a_pooling_given_embeds_with_the_transformer_whatever_the_modules(tmp_path):
    # with pooling= set, the user asks for the transformer's vectors with
    # that pooling: a Dense module after it is the user's choice to skip
    from sentence_transformers import models

    _, path = _st_saved(tmp_path, lambda dim: models.Pooling(dim, "mean"),
                        lambda dim: models.Dense(dim, 16))
    encoder = TextEncoder(path, pooling="cls", verbose=0, device="cpu").fit()
    assert encoder.transform(["Heat"]).shape == (1, 32)


def test_mean_sqrt_len_pooling_with_normalize_is_mean_pooling(tmp_path):
    from sentence_transformers import models

    st, path = _st_saved(tmp_path, lambda dim: models.Pooling(dim, "mean_sqrt_len_tokens"),
                         lambda dim: models.Normalize())
    encoder = TextEncoder(path, verbose=0, device="cpu", precision="float32").fit()
    texts = ["Toy Story (1995) " * 5, "Heat (1995)"]
    np.testing.assert_allclose(encoder.transform(texts), st.encode(texts), atol=1e-4)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_half_precision_checkpoint_runs_in_the_precision_asked_for(tmp_path, dtype):
    # transformers loads a checkpoint in its own dtype: precision="float32"
    # ran float16 or bfloat16 arithmetic while precision_ said float32
    import shutil

    import torch
    from transformers import AutoModel

    for name in ("half", "widened"):  # its weights, rounded to dtype, in float32
        model = AutoModel.from_pretrained(tiny_model_path()).to(getattr(torch, dtype))
        shutil.copytree(tiny_model_path(), tmp_path / name)
        (model if name == "half" else model.to(torch.float32)).save_pretrained(tmp_path / name)
    encode = lambda name: TextEncoder(str(tmp_path / name), verbose=0, device="cpu",  # noqa: E731
                                      precision="float32").fit().transform(TEXTS)
    np.testing.assert_allclose(encode("half"), encode("widened"), atol=1e-6)


def test_cls_pooling_of_a_left_padding_tokenizer_takes_the_first_real_token(tmp_path):
    # position 0 of a left-padded text is padding: its "CLS" vector was a pad token's
    # the reference: sentence-transformers took the pad token too before 5.5
    # (its issue #3208)
    pytest.importorskip("sentence_transformers", minversion="5.5")
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(tiny_model_path(), max_seq_length=64)
    transformer.tokenizer.padding_side = "left"
    pooling = models.Pooling(transformer.get_embedding_dimension(), "cls")
    st = SentenceTransformer(modules=[transformer, pooling], device="cpu")
    st.save(str(tmp_path / "st"))
    encoder = TextEncoder(str(tmp_path / "st"), verbose=0, device="cpu", precision="float32")
    texts = ["Toy Story (1995) " * 10, "Heat (1995)", "a"]
    ours = encoder.fit().transform(texts)
    assert encoder.pooling_ == "cls"
    np.testing.assert_allclose(ours, st.encode(texts, batch_size=3), atol=1e-5)


def test_a_model_that_lowercases_in_sentence_transformers_is_lowercased(tmp_path):
    # do_lower_case in sentence_bert_config.json: sentence-transformers
    # lowercases before a case-sensitive tokenizer; TextEncoder did not
    import json
    import shutil

    from transformers import AutoTokenizer

    path = tmp_path / "cased"
    shutil.copytree(tiny_model_path(), path)
    for f in path.iterdir():
        if f.name.startswith(("tokenizer", "vocab", "special_tokens")):
            f.unlink()
    AutoTokenizer.from_pretrained(tiny_model_path(), do_lower_case=False).save_pretrained(path)
    encode = lambda texts: TextEncoder(str(path), verbose=0, device="cpu",  # noqa: E731
                                       precision="float32").fit().transform(texts)
    assert not np.allclose(encode(["Toy Story"]), encode(["toy story"]), atol=1e-4)
    # a config without do_lower_case: sentence-transformers' default, cased
    (path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64}))
    encoder = TextEncoder(str(path), verbose=0, device="cpu", precision="float32").fit()
    assert not encoder.lowercase_
    assert not np.allclose(*encoder.transform(["Toy Story", "toy story"]), atol=1e-4)
    (path / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 64, "do_lower_case": True}))
    encoder = TextEncoder(str(path), verbose=0, device="cpu", precision="float32").fit()
    assert encoder.lowercase_ and encoder._cache_key()["lowercase"]  # not the vectors cached before
    np.testing.assert_allclose(encoder.transform(["Toy Story"]),
                               encoder.transform(["toy story"]), atol=1e-6)


def test_a_model_whose_files_were_deleted_says_so_when_it_must_encode(tmp_path):
    # a fine-tuned model's directory freed, as ContrastiveFineTuning's
    # docstring offers: the first new text raised "changed since fit
    # (another model saved there)", blaming the wrong thing
    import shutil

    import pandas as pd

    from sklearn_zsrec import ZeroShotRecommender

    texts = {i: f"item {i} about topic {i % 3}" for i in range(6)}
    X = pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [0, 1, 2, 3]})
    for gone in ("directory", "contents", "weights"):
        model = _copy_model(tiny_model_path(), tmp_path / gone)
        rec = ZeroShotRecommender(TextEncoder(str(model), verbose=0), item_texts=texts).fit(X)
        if gone == "directory":
            shutil.rmtree(model)
        for path in model.iterdir() if gone != "directory" else ():
            if gone == "contents" or path.suffix in (".safetensors", ".bin"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        assert rec.recommend([0], n=2).shape == (1, 2)  # known users: nothing to encode
        for call in (lambda: rec.recommend(["late"], n=2, user_texts={"late": "topic 1"}),
                     lambda: rec.add_items({9: "item 9 about topic 0"})):
            with pytest.raises(ValueError, match=r"are gone since fit \(deleted or moved.*"
                                                 r"Keep the directory"):
                call()


def test_a_saved_model_finds_its_files_where_its_model_now_lies(tmp_path, monkeypatch):
    # served where the same files lie at another path (another HF_HOME, a
    # container's site-packages, another working directory for a relative
    # path), the first new text raised "gone since fit ... fit again"
    import pickle
    import shutil

    from sklearn_zsrec import clear_embedding_cache

    for place in ("built", "served", "other"):
        _copy_model(tiny_model_path(), tmp_path / place)
    monkeypatch.chdir(tmp_path / "built")
    encoder = TextEncoder("model", verbose=0, device="cpu", precision="float32").fit()
    expected = encoder.transform(["a late text"])
    saved = pickle.dumps(encoder)
    shutil.rmtree(tmp_path / "built" / "model")
    monkeypatch.chdir(tmp_path / "served")  # the same files: used
    served = pickle.loads(saved)
    clear_embedding_cache()  # encoded again, not read from memory
    np.testing.assert_array_equal(served.transform(["a late text"]), expected)
    assert served.model_path_ == str(tmp_path / "served" / "model")
    other = tmp_path / "other" / "model"  # other weights: not used
    weights = next(p for p in other.iterdir() if p.suffix in (".safetensors", ".bin"))
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    monkeypatch.chdir(tmp_path / "other")
    with pytest.raises(ValueError, match=r"are gone since fit"):
        pickle.loads(saved).transform(["another late text"])


def test_a_model_fitted_on_a_gpu_encodes_on_this_machine_with_device_auto():
    # the fitted device was reused where it is missing: "Torch not compiled
    # with CUDA enabled" (the fitted attribute set by hand: no GPU here; the
    # test is about our own choice of device)
    encoder = TextEncoder(tiny_model_path(), verbose=0, precision="float32").fit()
    expected = encoder.transform(["a gpu-fitted text"])
    encoder.device_ = "cuda"
    np.testing.assert_array_equal(encoder._forward(["a gpu-fitted text"], "float32"), expected)
    import torch

    if torch.cuda.is_available():  # (there, "cuda" is this machine's own)
        return
    encoder.device = "cuda"  # asked for by name: named in the error
    with pytest.raises(RuntimeError, match=r"fitted with device='cuda', which this machine lacks"):
        encoder._forward(["a gpu-fitted text"], "float32")
    # and fit: torch's bare AssertionError ("Torch not compiled with CUDA enabled")
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ValueError, match=rf"device='{device}', which this machine lacks "
                                             r"\(torch finds no cuda device\). Use device='auto'"):
            TextEncoder(tiny_model_path(), verbose=0, device=device).fit()


def test_mean_sqrt_len_pooling_without_normalize_is_refused(tmp_path):
    # mean times sqrt(length) has mean pooling's direction, not its length:
    # without Normalize after it, TextEncoder's mean pooling gives other
    # vectors (norms 3.5 and 4.2 where sentence-transformers gives 13.9 and
    # 7.3), so it must refuse the model (a mutation hunt: it fitted)
    from sentence_transformers import models

    _, path = _st_saved(tmp_path, lambda dim: models.Pooling(dim, "mean_sqrt_len_tokens"))
    with pytest.raises(ValueError, match="has pooling mean_sqrt_len_tokens, which TextEncoder "
                                         "does not compute"):
        TextEncoder(path, verbose=0, device="cpu", precision="float32").fit()


def test_a_pooling_of_several_modes_at_once_is_refused(tmp_path):
    # cls + mean concatenated (twice the dimension): TextEncoder fitted with
    # the first mode only, vectors of half the length of SentenceTransformer's
    import json

    from sentence_transformers import models

    _, path = _st_saved(tmp_path, lambda dim: models.Pooling(dim, ["cls", "mean"]))
    with pytest.raises(ValueError, match=r"has pooling cls\+mean, which TextEncoder does not"):
        TextEncoder(path, verbose=0, device="cpu", precision="float32").fit()
    # the older flags format of the same pooling
    config = tmp_path / "st" / "1_Pooling" / "config.json"
    dim = json.loads(config.read_text()).get("word_embedding_dimension", 32)
    config.write_text(json.dumps({"word_embedding_dimension": dim,
                                  "pooling_mode_cls_token": True,
                                  "pooling_mode_mean_tokens": True}))
    with pytest.raises(ValueError, match=r"has pooling cls_token\+mean_tokens, which"):
        TextEncoder(path, verbose=0, device="cpu", precision="float32").fit()


def test_a_model_file_rewritten_with_its_old_time_is_another_model(tmp_path):
    # cp -p, rsync -t or an archive extracted over it keep the modification
    # time: a new size must still make the process read the files again
    import os
    import shutil

    from sklearn_zsrec._model_files import model_files_fingerprint

    path = tmp_path / "model"
    shutil.copytree(tiny_model_path(), path)
    before = model_files_fingerprint(str(path))
    config = path / "config.json"
    stat = os.stat(config)
    config.write_text(config.read_text().replace('"hidden_act": "gelu"',
                                                 '"hidden_act": "gelu_new"'))
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(config).st_size != stat.st_size
    assert model_files_fingerprint(str(path)) != before


def test_the_same_file_contents_under_other_names_are_another_model(tmp_path):
    # model_files_fingerprint: "a digest of the names and contents": a
    # pooling config renamed (old_config.json: the model then mean-pools)
    # left the contents as they were and, without the names, the fingerprint
    # too (a mutation hunt), so caches keyed by it took one model for the other
    import shutil

    from sentence_transformers import models

    from sklearn_zsrec._model_files import model_files_fingerprint

    _, path = _st_saved(tmp_path, lambda dim: models.Pooling(dim, "cls"))
    renamed = tmp_path / "renamed"
    shutil.copytree(path, renamed)
    (renamed / "1_Pooling" / "config.json").rename(renamed / "1_Pooling" / "old_config.json")
    cls = TextEncoder(path, verbose=0, device="cpu", precision="float32").fit()
    other = TextEncoder(str(renamed), verbose=0, device="cpu", precision="float32").fit()
    assert (cls.pooling_, other.pooling_) == ("cls", "mean")
    assert model_files_fingerprint(str(renamed)) != model_files_fingerprint(path)
    assert other.files_fingerprint_ != cls.files_fingerprint_
    assert other._cache_key() != cls._cache_key()


def test_a_table_of_several_text_columns_is_refused_naming_its_shape():
    # a frame of title and genres columns gave one vector per cell (4 for 2
    # rows), silently misaligned with its rows (a mutation hunt)
    import pandas as pd

    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    frame = pd.DataFrame({"title": ["Toy Story", "Alien"], "genres": ["Animation", "Horror"]})
    with pytest.raises(ValueError, match=r"1-D or have one column; got shape \(2, 2\)"):
        encoder.transform(frame)
    assert encoder.transform(frame[["title"]]).shape == (2, encoder.embedding_dim_)


def test_encoders_that_differ_only_in_max_length_get_their_own_vectors():
    # max_length is part of the embedding cache's key: a grid over it was
    # served the first encoder's vectors (a mutation hunt)
    text = ["a long description of a movie " * 20]
    clear_embedding_cache()
    full = TextEncoder(tiny_model_path(), verbose=0).fit().transform(text)
    short = TextEncoder(tiny_model_path(), max_length=8, verbose=0).fit().transform(text)
    clear_embedding_cache()
    fresh = TextEncoder(tiny_model_path(), max_length=8, verbose=0).fit().transform(text)
    assert not np.allclose(short, full)
    np.testing.assert_array_equal(short, fresh)


def test_a_model_file_with_text_beyond_ascii_reads_whatever_the_locale(tmp_path):
    # read in the locale's encoding, a valid file (a model name with an
    # accent) "did not parse" under a C locale, and a tuned folder holding one
    # was deleted and tuned again, then failed the same way
    import os
    import subprocess
    import sys

    (tmp_path / "config.json").write_text('{"name": "mod\u00e8le \u00fc"}', encoding="utf-8")
    code = ("import sys; from sklearn_zsrec._model_files import _read_json; "
            "print(_read_json(sys.argv[1])['name'] == 'mod\\u00e8le \\u00fc')")
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "config.json")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr[-2000:]
