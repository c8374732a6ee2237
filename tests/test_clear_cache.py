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


def test_the_fit_memo_tells_fits_on_other_weights_apart():
    # the same rows weighted otherwise (e.g. a grid over a weighting of the
    # rows): the second fit must not be served the first one's members
    import numpy as np

    from sklearn_zsrec import ItemKNNRecommender, clear_cache

    def fit(data):
        return HybridRecommender(_text(), [("knn", ItemKNNRecommender())], blend="fixed",
                                 weights={"knn": 1.0}, verbose=0, random_state=0).fit(data)

    heavy = X.assign(weight=np.where(np.arange(len(X)) % 3 == 0, 5.0, 1.0))
    fit(X.assign(weight=1.0))
    second = fit(heavy)
    clear_cache(embeddings=False, models=False)
    fresh = fit(heavy)
    users = fresh.users_[:20]
    np.testing.assert_array_equal(second.named_members_.knn.score_items(users),
                                  fresh.named_members_.knn.score_items(users))
    np.testing.assert_array_equal(second.recommend(users, 5), fresh.recommend(users, 5))


def test_the_fit_memo_does_not_serve_a_model_retrained_in_place(tmp_path):
    # the memo keyed the text model by its parameters, the model's path among
    # them: a model saved over the old one got the old model's embeddings
    import shutil

    import numpy as np
    import torch
    from sklearn.base import clone
    from transformers import BertModel

    model = tmp_path / "model"
    shutil.copytree(tiny_model_path(), model)
    text = ZeroShotRecommender(TextEncoder(str(model), verbose=0), item_texts=ITEM_TEXTS)
    hybrid = HybridRecommender(text, cf_members(ALSRecommender(factors=4, iterations=2,
                                                               random_state=0)),
                               blend="fixed", random_state=0, verbose=0)
    fitted = clone(hybrid).fit(X)
    old = fitted.text_.item_embeddings_
    texts = {"newbie": "A story about a rocket."}
    # the same files written again (a reinstall: new times) are the same model
    import os
    for path in model.iterdir():
        os.utime(path, ns=(1, 10**18))
    fitted.recommend(["newbie"], user_texts=texts)
    retrained = BertModel.from_pretrained(str(model))
    with torch.no_grad():
        for weight in retrained.parameters():
            weight.mul_(-1.5)
    retrained.save_pretrained(str(model))
    new = clone(hybrid).fit(X).text_.item_embeddings_
    expected = clone(text).fit(X).item_embeddings_  # not through the memo
    assert not np.allclose(new, old)
    np.testing.assert_allclose(new, expected, rtol=1e-5, atol=1e-6)
    # the model fitted before: new users' texts would be encoded by the new
    # model beside the old one's item embeddings; it says so instead
    import pytest
    with pytest.raises(ValueError, match="model files at .* changed since fit"):
        fitted.recommend(["newbie"], user_texts=texts)
    with pytest.raises(ValueError, match="Fit the encoder again"):
        fitted.text_.encoder_.transform(["a text"])


def test_the_fit_memo_does_not_serve_a_class_defined_again():
    # a recommender of one's own defined again (a notebook cell run again
    # after a fix): same module, name and parameters, other code
    import numpy as np

    from sklearn_zsrec import BaseRecommender

    def define(sign):
        class Mine(BaseRecommender):
            _parameter_constraints = {}

            def _fit(self, data):
                self._index(data)
                self.bias_ = sign * np.arange(len(self.items_), dtype=np.float32)
                return self

            def _scores(self, rows, users):
                return np.tile(self.bias_, (len(rows), 1))

        return Mine

    first, again = define(1.0), define(-1.0)
    for cls in (first, again):
        hybrid = HybridRecommender(_text(), [("mine", cls())], blend="fixed",
                                   weights={"mine": 1.0}, verbose=0).fit(X)
        member = hybrid.named_members_.mine
        assert type(member) is cls
        np.testing.assert_array_equal(member.bias_, cls().fit(X).bias_)


def test_the_fit_memo_tells_class_and_function_parameters_apart(monkeypatch):
    # a parameter that is a class counted as ``type`` (every class alike) and
    # a function by its name (pickled by reference): another class, or a
    # function defined again with other code, was served the first one's fit
    import sys

    import numpy as np

    from sklearn_zsrec import BaseRecommender, ItemKNNRecommender, NextItemRecommender

    class Wrap(BaseRecommender):
        _parameter_constraints = {}

        def __init__(self, inner=ItemKNNRecommender, transform=np.negative):
            self.inner, self.transform = inner, transform

        def _fit(self, data):
            self._index(data)
            self.model_ = self.inner().fit(data)
            self.bias_ = self.transform(self.n_item_interactions_.astype(np.float32))
            return self

        def _scores(self, rows, users):
            return self.model_.score_items(self.users_[rows]) + self.bias_

    def define(body):  # a module-level function defined again (a notebook cell run again)
        space = {"np": np}
        exec(f"def weigh(n):\n    return {body}\n", space)
        function = space["weigh"]
        function.__module__, function.__qualname__ = __name__, "weigh"
        monkeypatch.setattr(sys.modules[__name__], "weigh", function, raising=False)
        return function

    for inner, body in [(ItemKNNRecommender, "np.log1p(n)"), (NextItemRecommender, "np.log1p(n)"),
                        (NextItemRecommender, "-n")]:
        transform = define(body)
        hybrid = HybridRecommender(_text(), [("mine", Wrap(inner, transform))], blend="fixed",
                                   weights={"mine": 1.0}, verbose=0).fit(X)
        member = hybrid.named_members_.mine
        assert type(member.model_) is inner
        np.testing.assert_array_equal(member.bias_,
                                      transform(member.n_item_interactions_.astype(np.float32)))


def test_the_fit_memo_walks_lists_tuples_and_dicts_of_parameters():
    # a class or a function inside a list, a tuple or a dict was pickled by
    # name: a class defined again (same module and name, other code) got the
    # key of the first one, so the memo served the first one's fit
    import numpy as np

    from sklearn_zsrec import BaseRecommender
    from sklearn_zsrec._hybrid._memo import memo_key

    class Stack(BaseRecommender):
        _parameter_constraints = {}

        def __init__(self, parts=None):
            self.parts = parts

    def define():
        class Part:
            pass

        return Part

    first, again = define(), define()
    assert first.__qualname__ == again.__qualname__
    for wrap in (lambda c: [c], lambda c: (1, c), lambda c: {"part": c}, lambda c: [{"p": (c,)}]):
        one, other = memo_key(Stack(wrap(first)), "data"), memo_key(Stack(wrap(again)), "data")
        assert one is not None and other is not None and one != other
        assert memo_key(Stack(wrap(first)), "data") == one  # the same class: reused
    for wrap in (lambda f: [f], lambda f: {"f": f}, lambda f: ((f,),)):
        assert memo_key(Stack(wrap(np.negative)), "data") is None
        assert memo_key(Stack(wrap(lambda n: n)), "data") is None
    assert memo_key(Stack([1, "a", 2.0]), "data") == memo_key(Stack([1, "a", 2.0]), "data")
    assert memo_key(Stack([1, 2]), "data") != memo_key(Stack((1, 2)), "data")
    assert memo_key(Stack({"a": 1, "b": 2}), "d") != memo_key(Stack({"b": 2, "a": 1}), "d")


def test_the_fit_memo_keys_estimators_inside_lists_and_dicts_by_their_parameters():
    # get_params(deep=True) does not expand an estimator held in a list: keyed
    # by its class alone, a second configuration was served the first's fit
    from sklearn_zsrec import BaseRecommender, ItemKNNRecommender
    from sklearn_zsrec._hybrid._memo import memo_key

    class Stack(BaseRecommender):
        _parameter_constraints = {}

        def __init__(self, parts=None):
            self.parts = parts

    for wrap in (lambda e: [e], lambda e: {"base": e}, lambda e: ([e],)):
        few = memo_key(Stack(wrap(ItemKNNRecommender(n_neighbors=5))), "data")
        many = memo_key(Stack(wrap(ItemKNNRecommender(n_neighbors=50))), "data")
        assert few is not None and few != many
        assert memo_key(Stack(wrap(ItemKNNRecommender(n_neighbors=5))), "data") == few
    from sklearn_zsrec import ALSRecommender

    # an unseeded estimator inside a list draws anew each time: no reuse
    assert memo_key(Stack([ALSRecommender(random_state=None)]), "data") is None
    assert memo_key(Stack([ALSRecommender(random_state=0)]), "data") is not None


def test_the_fit_memo_keeps_its_bound_with_texts_and_large_fits(monkeypatch):
    # a text model's texts (pandas Series) counted 0 bytes, and a fit larger
    # than the bound alone was kept
    import numpy as np
    import pandas as pd

    from sklearn_zsrec._hybrid import _memo

    texts = pd.Series({i: "lorem ipsum dolor sit amet " * 20 for i in range(1000)})
    assert _memo.array_bytes({"texts": texts}) > 500 * 1000  # its strings
    monkeypatch.setattr(_memo, "_FIT_MEMO_BYTES", 1000)
    _memo.clear()
    try:
        _memo.memoized(("small", 1), lambda: np.zeros(10), shared=True)
        value = _memo.memoized(("kind", 1), lambda: np.zeros(10_000), shared=True)
        assert len(value) == 10_000  # served, not kept
        assert list(_memo._FIT_MEMO) == [("small", 1)]  # nor does it push the others out
    finally:
        _memo.clear()


def test_the_fit_memo_counts_read_only_object_arrays_under_pandas_2(monkeypatch):
    # pandas 2 (Python 3.10 installs it) raises "buffer source array is
    # read-only" from memory_usage(deep=True) on a read-only object array,
    # as the fitted ids of string ids are: every hybrid fit of string ids
    # raised there. The pandas call is patched to raise as pandas 2 does (a
    # mock of pandas: the test is about our fallback), and the fallback must
    # count what pandas counts
    import numpy as np
    import pandas as pd

    from sklearn_zsrec._hybrid import _memo

    def pandas_objects(ids):
        return [pd.Index(ids), pd.Series([1.0, 2.0, 3.0, 4.0], index=pd.Index(ids)),
                pd.DataFrame({"user": ids, "w": [1.0, 2.0, 3.0, 4.0]}, index=pd.Index(ids))]

    ids = np.array(["a", "bb" * 50, "c", 7], dtype=object)  # (pandas 2.0 counts tuples apart)
    expected = [int(np.sum(v.memory_usage(deep=True))) for v in pandas_objects(ids.copy())]
    ids.flags.writeable = False
    values = pandas_objects(ids)

    def read_only(self, *args, **kwargs):
        raise ValueError("buffer source array is read-only")

    for cls in (pd.Index, pd.Series, pd.DataFrame):
        monkeypatch.setattr(cls, "memory_usage", read_only)
    assert [_memo.array_bytes(v) for v in values] == expected


def test_a_text_repeated_within_one_call_counts_as_a_hit():
    # "hits: those served from memory or disk": encoded once, the repeat is
    # served from memory (a count of distinct texts missed it; a mutation hunt)
    from sklearn_zsrec import clear_embedding_cache, embedding_cache_info

    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    clear_embedding_cache()
    encoder.transform(["Toy Story (1995)", "Toy Story (1995)", "Heat (1995)"])
    info = embedding_cache_info()
    assert (info.hits, info.misses) == (1, 2)


def test_the_fit_memo_tells_dicts_apart_by_their_keys():
    # a dict parameter was hashed by its values alone (a mutation hunt): a
    # member with boost={"b": 1} was served the fit of boost={"a": 1}
    import numpy as np
    import pandas as pd

    from sklearn_zsrec import BaseRecommender, clear_cache
    from sklearn_zsrec._hybrid._memo import memo_key

    class Boosted(BaseRecommender):  # item scores boosted by item id
        _parameter_constraints = {}

        def __init__(self, boost=None):
            self.boost = boost

        def _fit(self, data):
            self._index(data)
            self.bias_ = np.array([self.boost.get(i, 0.0) for i in self.items_],
                                  dtype=np.float32)
            return self

        def _scores(self, rows, users):
            return np.tile(self.bias_, (len(rows), 1))

    assert memo_key(Boosted({"a": 1.0}), "d") != memo_key(Boosted({"b": 1.0}), "d")
    assert memo_key(Boosted({"a": 1.0}), "d") == memo_key(Boosted({"a": 1.0}), "d")
    X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": ["a", "b", "b", "c", "a"]})
    texts = pd.Series({"a": "red apple", "b": "green pear", "c": "blue plum"})
    clear_cache(embeddings=False, models=False)
    for boost in ({"a": 1.0}, {"b": 1.0}):
        hybrid = HybridRecommender(
            ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts),
            [("boost", Boosted(boost=boost))], blend="fixed", verbose=0).fit(X)
        member = hybrid.named_members_.boost
        assert dict(zip(member.items_, member.bias_.tolist())) == {
            i: boost.get(i, 0.0) for i in "abc"}


def test_the_fit_memo_drops_the_least_recently_used_first(monkeypatch):
    # the docs (the _memo module, clear_cache): "least recently used dropped
    # first". A mutation hunt: a hit that did not count as a use (first in,
    # first out), and the byte bound dropping the newest fit, both survived
    import numpy as np

    from sklearn_zsrec._hybrid import _memo

    built = []

    def get(name, size=1):
        return _memo.memoized(("kind", name), lambda: built.append(name) or np.zeros(size),
                              shared=True)

    _memo.clear()
    try:
        monkeypatch.setattr(_memo, "_FIT_MEMO_SIZE", 2)  # our own logic: a small bound
        get("A"), get("B"), get("A")  # A used again: B is now the least recently used
        get("C")
        assert sorted(name for _, name in _memo._FIT_MEMO) == ["A", "C"]
        get("A")
        assert built == ["A", "B", "C"]  # A served, not built again
        _memo.clear()
        monkeypatch.setattr(_memo, "_FIT_MEMO_SIZE", 15)
        monkeypatch.setattr(_memo, "_FIT_MEMO_BYTES", 2410)  # the three exceed it, two fit
        get("A"), get("B")  # 8 bytes each, then A used again
        get("A")
        get("big", 300)  # 2400 bytes: one of A and B must go, the least recently used
        assert [name for _, name in _memo._FIT_MEMO] == ["A", "big"]
    finally:
        _memo.clear()


def test_clear_cache_forgets_precision_choices_and_model_fingerprints():
    # its docstring: models=True empties "the precision chosen for each by
    # precision='auto'"; the fingerprints of model files go with the models
    # (a mutation hunt: keeping either survived)
    from sklearn_zsrec import _model_files, _precision, clear_cache

    encoder = TextEncoder(tiny_model_path(), device="cpu", precision="auto", verbose=0).fit()
    _model_files.model_files_fingerprint(encoder.model_path_)
    assert _precision._PRECISIONS and _model_files._FINGERPRINTS
    clear_cache(fits=False, embeddings=False, models=False)
    assert _precision._PRECISIONS and _model_files._FINGERPRINTS  # models=False: kept
    clear_cache(fits=False, embeddings=False)
    assert not _precision._PRECISIONS and not _model_files._FINGERPRINTS


def test_clear_cache_unloads_the_transformer_models():
    # models=True: "the transformer models loaded by TextEncoder" (about 90
    # MB each); a new encoder then loads its own (a mutation hunt kept them)
    from sklearn_zsrec import _encoder, clear_cache

    TextEncoder(tiny_model_path(), device="cpu", verbose=0).fit().transform(["a text"])
    assert _encoder._MODELS
    clear_cache(fits=False, embeddings=False, models=False)
    assert _encoder._MODELS
    clear_cache(fits=False, embeddings=False)
    assert not _encoder._MODELS
