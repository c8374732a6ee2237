"""A fitted model serving several threads at once, as a web server's would."""

import sys
import threading

import numpy as np

from sklearn_zsrec import ALSRecommender

from ._data import topic_catalog, topic_interactions

_, TOPICS = topic_catalog()
X = topic_interactions(TOPICS, per_user=6)


def test_a_text_encoded_by_two_callers_at_once_keeps_one_vector():
    # two threads that miss one text both encode it, batched with other
    # texts (float32 vectors then differ in the last bits); the last to
    # store replaced the vector the first had already returned, so one text
    # got two vectors. Simulated without threads (our own logic): the first
    # caller's encode lets a second caller store the text meanwhile
    from sklearn_zsrec._cache import cached_encode

    key = {"test": "two callers at once"}
    second = np.full((1, 4), 2.0, dtype=np.float32)

    def first_encode(texts):
        inner = cached_encode(key, ["shared"], lambda t: second, count=False)
        np.testing.assert_array_equal(inner, second)
        return np.ones((len(texts), 4), dtype=np.float32)

    outer = cached_encode(key, ["other", "shared"], first_encode, count=False)
    again = cached_encode(key, ["shared"], lambda t: 3 * second, count=False)
    np.testing.assert_array_equal(outer[1], second[0])  # the vector stored first
    np.testing.assert_array_equal(again, second)


def test_scoring_while_another_thread_adds_a_lazy_attribute():
    # recommend checks its scores against the model's arrays by iterating
    # its attributes; another thread building the ANN index (or the id
    # lookup) lazily added one meanwhile: "dictionary changed size during
    # iteration" (13 of 2,400 calls on MovieLens-100K)
    model = ALSRecommender(factors=4, iterations=2, random_state=0).fit(X)
    users = model.users_[:5]
    stop, errors = threading.Event(), []

    def add_and_remove():  # the attributes' count changes at every step
        k = 0
        while not stop.is_set():
            model.__dict__[f"_lazy{k}"] = k
            k += 1
            if k == 50:
                for j in range(k):
                    del model.__dict__[f"_lazy{j}"]
                k = 0

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    worker = threading.Thread(target=add_and_remove)
    worker.start()
    try:
        for _ in range(3000):
            try:
                model.score_items(users)
            except RuntimeError as error:
                errors.append(error)
                break
    finally:
        stop.set()
        worker.join()
        sys.setswitchinterval(interval)
    assert not errors, errors


def test_serving_from_threads_leaves_the_warning_filters_as_they_were():
    # warnings.catch_warnings saves and restores the process-wide filters:
    # two blocks overlapping in two threads left one's filter behind, and
    # item-kNN's blanket ignore of UserWarning, on every scoring call, then
    # silenced every UserWarning of the process (the package's own included)
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    import torch  # noqa: F401  (its import adds filters of its own)

    from sklearn_zsrec import ItemKNNRecommender, NextItemRecommender
    from sklearn_zsrec.datasets import make_synthetic_interactions

    data = make_synthetic_interactions(300, 200, 6000, random_state=0).interactions
    models = [ItemKNNRecommender().fit(data), NextItemRecommender().fit(data)]
    users = models[0].users_[:50]
    for model in models:
        model.recommend(users[:3])
    before = list(warnings.filters)
    with ThreadPoolExecutor(16) as pool:
        # and a copy refitted meanwhile, as the user guide advises (its fit
        # ignores implicit's note in a catch_warnings block of its own, which
        # overlapped the serving calls' blocks)
        refits = pool.submit(lambda: [ItemKNNRecommender().fit(data) for _ in range(20)])
        list(pool.map(lambda k: models[k % 2].recommend(users[k % 50: k % 50 + 3]),
                      range(3000)))
        refits.result()
    assert list(warnings.filters) == before


def test_past_the_first_call_serving_enters_no_warnings_block(monkeypatch):
    # torch's notes are shown once per process: once consumed, nothing to ignore
    import warnings

    from sklearn_zsrec._progress import quiet

    with quiet("a one-time note", once=True):
        warnings.warn("a one-time note, first shown")
    monkeypatch.setattr(warnings, "catch_warnings", None)  # entering one would fail
    with quiet("a one-time note", once=True):
        pass


_FIRST_IMPORTS = """
import importlib.util, sys, threading
from sklearn_zsrec import _encoder, _fine_tune, _model_files, _progress
assert "transformers" not in sys.modules
barrier, errors = threading.Barrier(4), []

def bars():
    with _progress.no_loading_bars():
        pass

def peft():
    if importlib.util.find_spec("peft") is not None:
        _fine_tune._require_peft()

def run(job):
    barrier.wait()
    try:
        job()
    except Exception as error:
        errors.append(repr(error))

jobs = [bars, _model_files.float32_weights, lambda: _encoder._load_model(sys.argv[1], "cpu"),
        peft]
threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(errors)
"""


def test_threads_that_first_import_transformers_at_once_all_get_it():
    # in a fresh process, an encoder loading its model, a tuning checking for
    # peft, and the bars turned off, all at once: transformers' lazy module
    # gave one "cannot import name 'AutoModel'" (or peft "installed but fails
    # to import", a wrong diagnosis) in 8 of 10 processes. Our own imports
    # are serialised; the internal entry points are called directly
    import subprocess

    from ._tiny import real_model_path

    for _ in range(4):  # (each process fails with probability ~0.8 without the fix)
        done = subprocess.run([sys.executable, "-c", _FIRST_IMPORTS, real_model_path()],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-3000:]
