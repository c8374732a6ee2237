"""Pins of mutation round 28's survivors (the damaged-tuned-folder retune, the
diverged warning on load, the writable check, the tokenizers library's parse
error). Belongs in tests/ (it imports the helpers of test_fine_tune)."""

import errno
import os
import shutil
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from sklearn_zsrec import ContrastiveFineTuning, TextEncoder, ZeroShotRecommender

from ._tiny import tiny_model_path
from .test_fine_tune import _tiny_catalogue, _tiny_encoder, _tuned_once


def _kept_and_not_tuned(make, X, first, monkeypatch):
    from sklearn_zsrec import _fine_tune

    trained = []
    monkeypatch.setattr(_fine_tune.ContrastiveFineTuning, "_train",
                        lambda *args, **kwargs: trained.append(1))
    weights = (Path(first.encoder_.model) / "model.safetensors").stat().st_ino
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "tuning it again", no divergence warning
        again = make().fit(X)
    np.testing.assert_array_equal(again.item_embeddings_, first.item_embeddings_)
    assert not trained
    assert (Path(first.encoder_.model) / "model.safetensors").stat().st_ino == weights


# ---- (F07: any Exception while loading a tuned folder read as damage)
def test_a_good_tuned_model_is_kept_when_its_load_runs_out_of_memory(tmp_path, monkeypatch):
    # (a mock raises once: our own logic) only a file that does not parse or
    # load is damage: a MemoryError (or CUDA's out-of-memory RuntimeError)
    # while loading a good tuned model deleted it and tuned it again
    from sklearn_zsrec import _encoder

    make, X, first = _tuned_once(tmp_path)
    folder = str(first.encoder_.model)
    load = _encoder._load_model

    def out_of_memory(path, *args, **kwargs):
        if str(path) == folder:
            raise MemoryError("out of memory")
        return load(path, *args, **kwargs)

    _encoder._MODELS.clear()
    with monkeypatch.context() as patched:
        patched.setattr(_encoder, "_load_model", out_of_memory)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "tuning it again"
            with pytest.raises(MemoryError):
                make().fit(X)
    _kept_and_not_tuned(make, X, first, monkeypatch)


# ---- (F17, F18, F19: fine_tuning.json read by _warn_if_diverged)
@pytest.mark.parametrize("record", ["half-written", "deleted", "a list"])
def test_a_tuned_model_whose_record_is_damaged_loads_without_a_word(tmp_path, monkeypatch,
                                                                     record):
    # fine_tuning.json is a record, not the model: a half-written one
    # (JSONDecodeError, a ValueError) deleted the good model and tuned it again;
    # a deleted one (FileNotFoundError) or one that is not an object failed every fit
    make, X, first = _tuned_once(tmp_path)
    file = Path(first.encoder_.model) / "fine_tuning.json"
    if record == "half-written":
        file.write_text(file.read_text()[:10])
    elif record == "deleted":
        file.unlink()
    else:
        file.write_text("[1, 2]")
    _kept_and_not_tuned(make, X, first, monkeypatch)


# ---- (F11, F12: the lock around the check, the removal and the retry)
def test_two_fits_of_one_damaged_tuned_model_tune_it_once(tmp_path, monkeypatch):
    # (mocks, with sleeps to widen the window: our own logic) a fit whose
    # read of the damaged folder ended after another thread had tuned it
    # again deleted that good model and tuned it a second time
    from sklearn_zsrec import _encoder, _fine_tune

    texts, X = _tiny_catalogue(30, 10, 3)
    tiny = tiny_model_path()
    trained, good = [], []

    def train(self, encoder, coded, anchors, positives, location, directory):
        trained.append(1)
        time.sleep(0.2)
        shutil.copytree(tiny, directory)  # saved as a tuning saves
        good.append(1)

    def make():
        tuning = ContrastiveFineTuning("full", n_steps=1, batch_size=8, location=tmp_path,
                                       verbose=0)
        return ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning)

    monkeypatch.setattr(_fine_tune.ContrastiveFineTuning, "_train", train)
    make().fit(X)  # tuned once, good
    trained.clear(), good.clear()
    load = _encoder._load_model

    def damaged_until_tuned_again(path, *args, **kwargs):
        if str(tmp_path) in str(path) and not good:
            time.sleep(1.0 if threading.current_thread().name == "A" else 0.3)
            raise OSError(f"the config file at {path} is not a valid JSON file")
        return load(path, *args, **kwargs)

    monkeypatch.setattr(_encoder, "_load_model", damaged_until_tuned_again)
    _encoder._MODELS.clear()
    errors = []

    def fit():
        try:
            make().fit(X)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=fit, name=name) for name in "AB"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "tuning it again", from worker threads
        threads[0].start()
        time.sleep(0.05)
        threads[1].start()
        for thread in threads:
            thread.join()
    assert not errors
    assert trained == [1]  # tuned again once, by one of them; the other loaded it


# ---- (E07, E09: the tokenizers library's parse error, a bare Exception; round 29's
# Q13: its error for bytes that are not UTF-8, as bare)
@pytest.mark.parametrize("tail, said", [(b"", r"\(.*at line \d+ column \d+\)"),
                                        (b"\xff\xfe garbage",
                                         r"\(stream did not contain valid UTF-8\)")],
                         ids=["cut", "not UTF-8"])
def test_a_tokenizer_json_that_the_tokenizers_library_cannot_parse_names_the_folder(
        tmp_path, monkeypatch, tail, said):
    # transformers 4 (the declared minimum) parses tokenizer.json with the
    # tokenizers library: "EOF while parsing a string at line 6 column 11", a
    # bare Exception naming no file. (A mock calls that library as
    # transformers 4 did: the installed transformers 5 parses with json)
    import tokenizers
    from transformers import AutoTokenizer

    real = AutoTokenizer.from_pretrained

    def as_in_transformers_4(path, *args, **kwargs):
        tokenizers.Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
        return real(path, *args, **kwargs)

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_path(), folder)
    damaged = folder / "tokenizer.json"
    damaged.write_bytes(damaged.read_bytes()[:100] + tail)
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", as_in_transformers_4)
    with pytest.raises(OSError, match=r"model file tokenizer.json at .*model does not parse "
                                      + said) as raised:
        TextEncoder(str(folder), verbose=0).fit()
    assert raised.value.errno is None  # damage, not the system's error: tuned again


# ---- (F21: only a PermissionError read as "cannot write")
def test_a_read_only_file_system_fails_before_the_training_naming_the_fix(tmp_path,
                                                                           monkeypatch):
    from sklearn_zsrec import _fine_tune

    texts, X = _tiny_catalogue(30, 10, 3)
    encoder = _tiny_encoder()
    trained = []
    monkeypatch.setattr(_fine_tune.ContrastiveFineTuning, "_train",
                        lambda *args, **kwargs: trained.append(1))

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", kwargs.get("dir"))

    monkeypatch.setattr(_fine_tune.tempfile, "mkdtemp", read_only)
    tuning = ContrastiveFineTuning("full", n_steps=1, batch_size=8, location=tmp_path, verbose=0)
    with pytest.raises(OSError, match=r"cannot write in location .* Pass location= a directory"):
        ZeroShotRecommender(encoder, item_texts=texts, fine_tune=tuning).fit(X)
    assert not trained


# ---- (F22: the writable check's probe left behind)
def test_a_tuning_leaves_only_its_model_in_the_location(tmp_path):
    _, _, first = _tuned_once(tmp_path)
    name = Path(first.encoder_.model).name  # and its lock file (across processes), kept
    assert sorted(os.listdir(tmp_path)) == sorted([name, f".{name}.lock"])


# ---- (E01: every error's message read as the tokenizers library's; E12: every
# ValueError read as a file that does not parse; E08: any bare "line N" read as a parse error)
@pytest.mark.parametrize("error", [ValueError("the vocabulary's entry at line 2 column 18"),
                                   RuntimeError("a converter failed (os error 24)"),
                                   Exception("no such piece in the vocabulary, line 3"),
                                   # transformers' own, without sentencepiece installed
                                   ValueError("Cannot instantiate this tokenizer from a slow "
                                              "version. If it's based on sentencepiece, make "
                                              "sure you have sentencepiece installed.")])
def test_errors_of_other_types_pass_unchanged_whatever_their_message(tmp_path, monkeypatch,
                                                                      error):
    # only a bare Exception is the tokenizers library's: another library's
    # ValueError or RuntimeError is raised as it came (not "does not parse",
    # which deletes a tuned model to tune it again, nor an OSError with an errno)
    from transformers import AutoTokenizer

    from sklearn_zsrec import _encoder

    def refused(path, *args, **kwargs):
        raise error

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_path(), folder)
    _encoder._MODELS.clear()
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", refused)
    with pytest.raises(type(error)) as raised:
        TextEncoder(str(folder), verbose=0).fit()
    assert raised.value is error


# ---- (L05: a label that is no date raised from inside pandas; L08: X's first
# label at y's first position read as missing; L12: y's tz-aware dates and
# durations not found)
def _frame(labels):
    import pandas as pd

    return pd.DataFrame({"user_id": [0, 1, 2, 3], "item_id": [0, 1, 2, 3]}, index=labels)


def _y_labels_cases():
    import pandas as pd

    days = pd.date_range("2020-01-01", periods=4)
    return [
        (pd.Index(["a", "c", "b", "d"]), pd.Index(["a", "b", "c", "d"])),  # L08
        (days[[0, 2, 1, 3]], days),  # L08
        (pd.Index(["2020-01-03", "2020-01-01", "2020-01-04", "2020-01-02"]),
         pd.date_range("2020-01-01", periods=4, tz="UTC")),  # L12
        (pd.Index(["3 days", "1 days", "4 days", "2 days"]),
         pd.to_timedelta(["1 days", "2 days", "3 days", "4 days"])),  # L12
        (pd.Index(list("pqrs")), days),  # L05: pandas gives NaN
    ]


@pytest.mark.parametrize("case", range(5))
def test_labels_pandas_finds_in_y_raise_and_others_pair_by_position(case):
    import pandas as pd

    from sklearn_zsrec._columns import check_y_index

    x_labels, y_labels = _y_labels_cases()[case]
    X = _frame(x_labels)
    y = pd.Series([1.0, 2.0, 3.0, 4.0], index=y_labels)
    if X.assign(weight=y).weight.notna().all():  # pandas pairs them by label
        with pytest.raises(ValueError, match="same index labels in another order"):
            check_y_index(X, y, "fit")
    else:
        check_y_index(X, y, "fit")  # by position, as any array: no error
