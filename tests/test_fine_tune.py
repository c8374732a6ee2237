"""ContrastiveFineTuning: the real MiniLM learns co-consumed pairs, once per data."""

import json
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sklearn_zsrec import ContrastiveFineTuning, TextEncoder, ZeroShotRecommender
from sklearn_zsrec._fine_tune import held_out_pairs, in_batch_clashes, interaction_pairs

from ._tiny import tiny_model_path

# two halves of a catalogue with no textual link between partners: users
# consume each left item and then its right partner, so only the
# interactions can tell which right item goes with which left item
LEFT = ["a red apple", "a wooden violin", "a snowy mountain", "a chess board",
        "a steam locomotive", "a silk scarf", "a honey jar", "a brass telescope"]
RIGHT = ["income tax forms", "a deep sea squid", "a jazz saxophone", "a desert cactus",
         "a marathon runner", "a volcano eruption", "a laptop keyboard", "a wedding cake"]


def _catalogue():
    texts = pd.Series(LEFT + RIGHT, index=range(len(LEFT) + len(RIGHT)))
    rows = []
    for k in range(len(LEFT)):
        for u in range(6):  # six users per pair, each left -> right
            user = f"u{k}-{u}"
            rows += [(user, k, 0), (user, len(LEFT) + k, 1)]
    X = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return texts, X


def _partner_margin(emb):
    """Mean cosine of each left item to its partner minus to the other right items."""
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sim = e[: len(LEFT)] @ e[len(LEFT):].T
    diagonal = np.diag(sim)
    off = (sim.sum(1) - diagonal) / (len(RIGHT) - 1)
    return float((diagonal - off).mean()), float((sim.argmax(1) == np.arange(len(LEFT))).mean())


@pytest.mark.parametrize("method", ["full", "lora"])
def test_fine_tuning_moves_co_consumed_items_closer(method, tmp_path):
    texts, X = _catalogue()
    base = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts).fit(X)
    tuning = ContrastiveFineTuning(method, n_steps=40, batch_size=8, location=tmp_path,
                                   verbose=0)
    tuned = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts,
                                fine_tune=tuning).fit(X)
    before, top1_before = _partner_margin(base.item_embeddings_)
    after, top1_after = _partner_margin(tuned.item_embeddings_)
    assert top1_before <= 0.25  # the texts alone do not know the pairs
    assert after > before + 0.1
    assert top1_after >= 0.75


def test_fine_tuning_runs_once_per_data(tmp_path, monkeypatch):
    texts, X = _catalogue()
    calls = []
    train = ContrastiveFineTuning._train

    def counted(self, *args):  # a spy on our own logic: how often training runs
        calls.append(1)
        return train(self, *args)

    monkeypatch.setattr(ContrastiveFineTuning, "_train", counted)
    tuning = ContrastiveFineTuning(n_steps=2, batch_size=4, location=tmp_path, verbose=0)
    make = lambda: ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts,  # noqa: E731
                                       fine_tune=tuning)
    first = make().fit(X)
    second = make().set_params(half_life=None).fit(X)  # another candidate, same data
    assert len(calls) == 1
    assert first.encoder_.model == second.encoder_.model
    np.testing.assert_array_equal(first.item_embeddings_, second.item_embeddings_)
    make().fit(X.iloc[4:])  # other data: trains again
    assert len(calls) == 2
    # a fitted recommender pickles; its encoder reads the tuned directory
    again = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(again.recommend(["u0-0"], n=3), first.recommend(["u0-0"], n=3))
    assert (tmp_path / first.encoder_.model.split("/")[-1] / "fine_tuning.json").exists()


def test_default_location_is_the_cache_that_the_environment_names(tmp_path, monkeypatch):
    texts, X = _catalogue()
    monkeypatch.setenv("SKLEARN_ZSREC_CACHE", str(tmp_path))
    tuning = ContrastiveFineTuning(n_steps=2, batch_size=4, verbose=0)  # location=None
    rec = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts, fine_tune=tuning).fit(X)
    assert Path(rec.encoder_.model).parent == tmp_path / "fine-tuned"
    assert (Path(rec.encoder_.model) / "fine_tuning.json").exists()


def test_a_relative_cache_in_the_environment_is_taken_from_the_working_directory(
        tmp_path, monkeypatch):
    # the tuned encoder's model was the relative path: read from wherever the
    # process stood later (the docstring promises an absolute path)
    from sklearn_zsrec._fine_tune import default_location

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKLEARN_ZSREC_CACHE", "cache")
    assert default_location() == tmp_path / "cache" / "fine-tuned"
    monkeypatch.setenv("SKLEARN_ZSREC_CACHE", "~/cache")
    assert default_location() == Path.home() / "cache" / "fine-tuned"


def test_pairs_follow_time_within_a_user_and_skip_repeats():
    users = np.array([0, 0, 0, 1, 0])
    items = np.array([5, 6, 5, 7, 8])
    order = np.array([2, 0, 1, 3, 4])  # user 0 in time: 6, 5, 5, 8
    a, p = interaction_pairs(users, items, order, window=2)
    assert sorted(zip(a.tolist(), p.tolist())) == [(5, 8), (5, 8), (6, 5), (6, 5)]


def test_fine_tuning_without_pairs_says_why(tmp_path):
    texts = pd.Series({1: "one", 2: "two"})
    X = pd.DataFrame({"user_id": [0, 1], "item_id": [1, 2]})  # one item per user
    rec = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts,
                              fine_tune=ContrastiveFineTuning(location=tmp_path, verbose=0))
    with pytest.raises(ValueError, match="no training pair"):
        rec.fit(X)


@pytest.mark.parametrize("texts, X", [
    # one user, one pair: every batch is that pair, its loss 0 at every step
    (pd.Series({1: "one", 2: "two"}), pd.DataFrame({"user_id": [0, 0], "item_id": [1, 2]})),
    # two pairs whose items are twins (one text): no pair has a negative
    (pd.Series({0: "zero", 1: "one", 2: "one"}),
     pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [0, 1, 0, 2]})),
    # two items seen in both orders: each pair's only other item is its anchor
    (pd.Series({1: "one", 2: "two"}),
     pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [1, 2, 2, 1]})),
    # texts the encoder reads alike (a trailing space) are one text
    (pd.Series({0: "zero", 1: "one", 2: "one "}),
     pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [0, 1, 0, 2]})),
])
def test_fine_tuning_on_pairs_without_negatives_says_it_learns_nothing(tmp_path, texts, X):
    # it trained 5 steps of loss 0 and saved a "tuned" model without a word
    rec = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                              fine_tune=ContrastiveFineTuning(location=tmp_path, verbose=0,
                                                              method="full"))
    with pytest.raises(ValueError, match="can have a negative.*learns nothing"):
        rec.fit(X)
    assert not any(tmp_path.iterdir())


def test_the_loss_masks_negatives_by_text_not_by_item(tmp_path, monkeypatch):
    # a spy on our own logic: the training loop hands the mask text codes, so
    # items 1 and 2 (one text) are one code; by position they were three
    from sklearn_zsrec import _fine_tune

    seen = []
    real = _fine_tune.in_batch_clashes
    monkeypatch.setattr(_fine_tune, "in_batch_clashes",
                        lambda a, p: seen.append(np.asarray(p)) or real(a, p))
    texts = pd.Series({0: "zero", 1: "one", 2: "one", 3: "three"})
    X = pd.DataFrame({"user_id": [0, 0, 1, 1, 2, 2], "item_id": [0, 1, 0, 2, 3, 0],
                      "timestamp": [0, 1, 0, 1, 0, 1]})
    tuning = ContrastiveFineTuning("full", n_steps=1, batch_size=3, location=tmp_path,
                                   verbose=0)
    ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                        fine_tune=tuning).fit(X)
    assert len(seen) == 1
    assert len(set(seen[0].tolist())) == 2  # the pairs' items: "one", "one", "zero"


def test_items_of_one_text_are_not_each_others_negatives():
    # pairs (anchor, item) as text codes: pair 1's item is a twin of pair 0's
    # item, pair 2's item a twin of pair 0's anchor; pair 3 is unrelated
    clash = in_batch_clashes(anchors=[0, 5, 6, 7], positives=[1, 1, 0, 8])
    assert clash.tolist() == [[False, True, True, False],
                              [True, False, False, False],
                              [False, False, False, False],
                              [False, False, False, False]]


def test_fine_tuning_parameters_are_validated(tmp_path):
    texts, X = _catalogue()
    rec = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts,
                              fine_tune=ContrastiveFineTuning("adapters", location=tmp_path))
    with pytest.raises(ValueError, match="'method' parameter of ContrastiveFineTuning"):
        rec.fit(X)


def test_held_out_texts_never_train_and_tiny_data_has_no_validation():
    # 400 texts (items, then users) of 300 distinct contents: a text held out
    # is held out for every item and user that has it (users' texts repeat:
    # 526 texts for MovieLens-100K's 943 users), not seen in training as another's
    rng = np.random.default_rng(0)
    codes = np.r_[np.arange(300), rng.integers(0, 300, 100)]
    anchors, positives = rng.integers(0, 400, 5000), rng.integers(0, 400, 5000)
    train, val = held_out_pairs(anchors, positives, codes, np.random.default_rng(1))
    seen = set(codes[anchors[train]]) | set(codes[positives[train]])
    out = {t for t in range(300) if t not in seen}  # texts no training pair has
    assert out and 0 < len(val) <= 256
    assert all(codes[anchors[v]] in out or codes[positives[v]] in out for v in val)
    held = np.isin(codes, list(out))
    assert not (held[anchors[train]] | held[positives[train]]).any()
    assert (held[anchors] | held[positives]).sum() == 5000 - len(train)  # all else trains
    train, val = held_out_pairs(anchors[:20], positives[:20], codes, np.random.default_rng(1))
    assert val is None and len(train) == 20


def test_tuning_that_hurts_held_out_items_keeps_the_base_model(tmp_path):
    """A rate that wrecks the model: the held-out pairs say so, the base weights stay."""
    n = 40
    texts = pd.Series([f"product number {k} of the shop" for k in range(2 * n)])
    rows = [(f"u{k}-{u}", i, t) for k in range(n) for u in range(8)
            for t, i in enumerate((k, n + k))]
    X = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    base = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts).fit(X)
    wreck = ContrastiveFineTuning("full", n_steps=6, batch_size=8, learning_rate=0.5,
                                  location=tmp_path, verbose=0)
    tuned = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts, fine_tune=wreck).fit(X)
    record = json.loads((Path(tuned.encoder_.model) / "fine_tuning.json").read_text())
    assert record["held_out_pairs"] >= 50 and record["step_kept"] == 0
    assert record["held_out_mrr"][-1][1] < record["held_out_mrr"][0][1]
    np.testing.assert_allclose(tuned.item_embeddings_, base.item_embeddings_, atol=1e-5)


def test_a_lora_tuning_in_a_fresh_process_runs(tmp_path):
    # peft's LoRA layers use torch.distributed.tensor without importing it;
    # transformers 5 imports it, transformers 4 does not, and there the first
    # tuning of a process raised AttributeError (CI's minimum-versions job
    # runs this test; a process of its own, as other tests import it here)
    import subprocess

    code = ("import sys; from tests.test_fine_tune import _catalogue; "
            "from sklearn_zsrec import ContrastiveFineTuning, TextEncoder, ZeroShotRecommender; "
            "texts, X = _catalogue(); tuning = ContrastiveFineTuning(n_steps=2, batch_size=4, "
            "location=sys.argv[1], verbose=0); ZeroShotRecommender(TextEncoder(verbose=0), "
            "item_texts=texts, fine_tune=tuning).fit(X); print('tuned')")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and done.stdout.split() == ["tuned"], done.stderr[-3000:]


def test_a_tuning_hides_no_other_warnings_meanwhile(tmp_path, monkeypatch):
    # a filter of transformers' FutureWarnings held over the whole tuning
    # (minutes) hid those of the process's other threads meanwhile, and two
    # threads' overlapping catch_warnings could leave it for good
    seen, train = [], ContrastiveFineTuning._train

    def spy(self, *args):  # a warning of transformers' code while the tuning runs
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn_explicit("a deprecation", FutureWarning, "modeling_utils.py", 1,
                                   module="transformers.modeling_utils", registry={})
        seen.extend(caught)
        return train(self, *args)

    _tuned_once(tmp_path / "first")  # (libraries that add filters when imported, imported)
    monkeypatch.setattr(ContrastiveFineTuning, "_train", spy)
    before = list(warnings.filters)
    make, X = _tuned_maker(tmp_path / "spied")
    make().fit(X)
    assert [str(w.message) for w in seen] == ["a deprecation"]
    assert warnings.filters == before


def test_a_lora_tuning_shows_no_deprecation_notes_of_peft_in_transformers(tmp_path):
    # peft reads transformers 5's deprecated is_gradient_checkpointing: a
    # FutureWarning about their code, not the user's, at every tuning
    make, X = _tuned_maker(tmp_path)  # (method="lora", the default)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        make().fit(X)
    assert not [str(w.message) for w in seen if issubclass(w.category, FutureWarning)
                and ("transformers" in w.filename or "peft" in w.filename)]


def test_lora_without_peft_names_the_extra(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "peft", None)  # as if not installed
    texts, X = _catalogue()
    rec = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts,
                              fine_tune=ContrastiveFineTuning(location=tmp_path, verbose=0))
    with pytest.raises(ImportError, match=r"sklearn-zsrec\[tune\]"):
        rec.fit(X)


def test_the_hybrid_tunes_once_and_serves_the_encoder_its_blend_learned_on(tmp_path,
                                                                          monkeypatch):
    from sklearn_zsrec import ALSRecommender, HybridRecommender

    from ._data import topic_catalog, topic_interactions
    from ._members import cf_members

    texts, topics = topic_catalog()
    X = topic_interactions(topics, per_user=5)
    calls = []
    train = ContrastiveFineTuning._train

    def counted(self, *args):  # a spy on our own logic: how often training runs
        calls.append(len(args[2]))  # pairs (anchors)
        return train(self, *args)

    monkeypatch.setattr(ContrastiveFineTuning, "_train", counted)
    tuning = ContrastiveFineTuning(n_steps=2, batch_size=4, location=tmp_path, verbose=0)
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                               fine_tune=tuning)
    hybrid = HybridRecommender(text, cf_members(ALSRecommender(factors=4, random_state=0)),
                               random_state=0, verbose=0).fit(X)
    assert hybrid.blend_candidates_  # the blend was learned, on a holdout
    # one tuning, on the holdout's rows, and the final model serves it
    assert len(calls) == 1
    tuned = [d for d in tmp_path.iterdir() if (d / "config.json").exists()]
    assert [Path(hybrid.text_.encoder_.model)] == tuned
    alone = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                                fine_tune=tuning).fit(X)  # all of X: more pairs, a new tuning
    assert len(calls) == 2 and calls[1] > calls[0]
    assert alone.encoder_.model != hybrid.text_.encoder_.model


def test_random_state_is_an_int():
    # the seed is part of the tuned model's cache key; every RandomState
    # instance printed the same, and one seed's model was served for another
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="random_state"):
        ContrastiveFineTuning(random_state=np.random.RandomState(1))._validate_params()


def test_the_tuned_models_key_does_not_split_texts_at_nul():
    # texts were joined with NUL separators: ["Heat\0Crime", "Toy Story"]
    # and ["Heat", "Crime\0Toy Story"] with the same pairs loaded one
    # catalog's tuned model for the other
    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    tuning = ContrastiveFineTuning(verbose=0)
    pairs = np.array([0]), np.array([1])
    assert (tuning._key(encoder, ["Heat\0Crime", "Toy Story"], *pairs)
            != tuning._key(encoder, ["Heat", "Crime\0Toy Story"], *pairs))


@pytest.mark.parametrize("method", ["full", "lora"])
def test_a_decoder_model_without_a_pad_token_fine_tunes(tmp_path, method):
    # TextEncoder pads a decoder model with its eos token; the tuning loaded
    # a tokenizer of its own without it ("Asking to pad but the tokenizer
    # does not have a padding token"), and LoRA named BERT's layers only
    import warnings

    from transformers import AutoTokenizer, GPT2Config, GPT2Model

    from ._tiny import real_model_path

    tokenizer = AutoTokenizer.from_pretrained(real_model_path())
    tokenizer.eos_token, tokenizer.pad_token = "[SEP]", None
    tokenizer.save_pretrained(tmp_path / "gpt")
    GPT2Model(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2,
                         n_positions=128)).save_pretrained(tmp_path / "gpt")
    encoder = TextEncoder(str(tmp_path / "gpt"), verbose=0, device="cpu", precision="float32")
    X = pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [1, 2, 2, 3], "timestamp": [0, 1, 2, 3]})
    items = pd.Series({1: "Heat (1995)", 2: "Toy Story (1995)", 3: "Casino (1995)"})
    tuning = ContrastiveFineTuning(method, n_steps=1, batch_size=2, location=tmp_path / "ft",
                                   verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft on GPT-2's Conv1D layers
        fitted = ZeroShotRecommender(encoder, item_texts=items, fine_tune=tuning).fit(X)
    assert fitted.item_embeddings_.shape == (3, 32)


def test_fine_tuning_leaves_the_callers_torch_random_state_alone(tmp_path):
    # the tuning seeded torch's global generator (torch.manual_seed): a
    # caller's own random draws after a fit repeated from that seed
    import torch

    texts, X = _catalogue()
    torch.manual_seed(123)
    expected = (torch.rand(1), torch.rand(3))[1]
    torch.manual_seed(123)
    torch.rand(1)
    tuning = ContrastiveFineTuning(n_steps=1, batch_size=4, location=tmp_path, verbose=0)
    ZeroShotRecommender(TextEncoder(verbose=0), item_texts=texts, fine_tune=tuning).fit(X)
    assert torch.equal(torch.rand(3), expected)


def _tiny_catalogue(n_items=120, n_users=80, per_user=6):
    """Users who each consume a run of consecutive items (held-out pairs: >= 50)."""
    rng = np.random.default_rng(0)
    texts = pd.Series([f"product {k % 16} of kind {(k * 7) % 16}, number {k}"
                       for k in range(n_items)])
    rows, t = [], 0
    for u in range(n_users):
        start = int(rng.integers(n_items))
        for k in range(per_user):
            rows.append((u, (start + k) % n_items, t))
            t += 1
    return texts, pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def _tiny_encoder(model=None):
    return TextEncoder(model or tiny_model_path(), verbose=0, device="cpu", precision="float32")


@pytest.mark.parametrize("size", ["held-out pairs", "small data"])
def test_a_diverging_rate_keeps_finite_weights_and_says_so(tmp_path, size):
    # a NaN model scored a held-out MRR of 2.0 (NaN similarities ranked 0.5)
    # and was kept as the best, then served NaN embeddings without a word
    texts, X = _tiny_catalogue() if size == "held-out pairs" else _tiny_catalogue(30, 10, 3)
    tuning = ContrastiveFineTuning("full", n_steps=20, batch_size=8, learning_rate=1e6,
                                   location=tmp_path, verbose=0)
    with pytest.warns(UserWarning, match="training diverged at step"):
        tuned = ZeroShotRecommender(_tiny_encoder(), item_texts=texts,
                                    fine_tune=tuning).fit(X)
    record = json.loads((Path(tuned.encoder_.model) / "fine_tuning.json").read_text())
    assert record["diverged_at_step"] >= 1
    assert all(0 <= mrr <= 1 for _, mrr in record["held_out_mrr"])
    assert np.isfinite(tuned.item_embeddings_).all()
    if size == "small data":  # no evaluation to fall back on: the base model's weights
        assert record["held_out_pairs"] == 0 and record["step_kept"] == 0
        base = ZeroShotRecommender(_tiny_encoder(), item_texts=texts).fit(X)
        np.testing.assert_allclose(tuned.item_embeddings_, base.item_embeddings_, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_half_precision_checkpoint_tunes_in_float32(tmp_path, dtype):
    # a float16 checkpoint trained in float16 went to NaN (and was kept); a
    # bfloat16 one crashed the held-out evaluation ("unsupported ScalarType")
    import shutil

    import torch
    from transformers import AutoModel

    path = tmp_path / dtype
    shutil.copytree(tiny_model_path(), path)
    AutoModel.from_pretrained(tiny_model_path()).to(getattr(torch, dtype)).save_pretrained(path)
    texts, X = _tiny_catalogue()
    tuning = ContrastiveFineTuning("full", n_steps=6, batch_size=8, location=tmp_path / "ft",
                                   verbose=0)
    tuned = ZeroShotRecommender(_tiny_encoder(str(path)), item_texts=texts,
                                fine_tune=tuning).fit(X)
    record = json.loads((Path(tuned.encoder_.model) / "fine_tuning.json").read_text())
    assert record["held_out_pairs"] >= 50 and record["diverged_at_step"] is None
    assert np.isfinite(record["loss_last_tenth"])
    assert np.isfinite(tuned.item_embeddings_).all()


def test_fine_tuning_names_an_encoder_it_cannot_tune(tmp_path):
    from sklearn.base import BaseEstimator, TransformerMixin

    class Letters(TransformerMixin, BaseEstimator):  # an encoder of one's own
        def fit(self, X=None, y=None):
            return self

        def transform(self, texts):
            return np.array([[t.count(c) for c in "aeiou"] for t in texts], dtype=np.float32)

    texts, X = _catalogue()
    rec = ZeroShotRecommender(Letters(), item_texts=texts,
                              fine_tune=ContrastiveFineTuning(location=tmp_path, verbose=0))
    with pytest.raises(TypeError, match="tunes a TextEncoder's transformer; got an encoder "
                                        "of type Letters"):
        rec.fit(X)


@pytest.mark.parametrize("with_user_texts", [False, True])
def test_interactions_of_weight_zero_make_no_pair(tmp_path, with_user_texts):
    texts, X = _tiny_catalogue(30, 10, 4)
    # users whose every interaction weighs 0 (e.g. impressions without a click),
    # and with user texts, items of weight 0 of the users who pick others
    noise = X.assign(user_id=X.user_id + 100, item_id=(X.item_id * 7 + 3) % 30, weight=0.0)
    shown = X.assign(item_id=(X.item_id * 11 + 5) % 30, weight=0.0, timestamp=X.timestamp + 0.5)
    shown = shown.merge(X[["user_id", "item_id"]], how="left", indicator=True)
    shown = shown[shown._merge == "left_only"].drop(columns="_merge")  # not also picked
    users = pd.concat([X, noise]).user_id.unique()
    user_texts = (pd.Series({u: f"a reader of kind {u % 3}" for u in users})
                  if with_user_texts else None)
    tuning = ContrastiveFineTuning(n_steps=1, batch_size=4, location=tmp_path, verbose=0)
    fit = lambda data: ZeroShotRecommender(_tiny_encoder(), item_texts=texts,  # noqa: E731
                                           user_texts=user_texts,
                                           fine_tune=tuning).fit(data).encoder_.model
    assert (fit(pd.concat([X.assign(weight=1.0), noise, shown], ignore_index=True))
            == fit(X.assign(weight=1.0)))


def test_logs_with_other_pairs_or_other_texts_tune_other_models(tmp_path):
    # the tuned model is kept under a key of the texts and the pairs: two
    # logs leading other items to the same next items, or two catalogues
    # whose texts differ only in where one ends, loaded each other's model
    texts = pd.Series([f"product {k} of kind {k % 3}" for k in range(6)])
    tuning = ContrastiveFineTuning(n_steps=1, batch_size=2, location=tmp_path, verbose=0)

    def tuned(pairs, texts=texts):
        rows = [(u, i, t) for u, pair in enumerate(pairs) for t, i in enumerate(pair)]
        X = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
        return ZeroShotRecommender(_tiny_encoder(), item_texts=texts,
                                   fine_tune=tuning).fit(X).encoder_.model

    first = tuned([(0, 1), (3, 4)])
    assert tuned([(0, 1), (3, 4)]) == first
    assert tuned([(2, 1), (5, 4)]) != first
    moved = texts.copy()
    moved[0], moved[1] = texts[0] + texts[1][:8], texts[1][8:]  # one text ends later
    assert "".join(moved) == "".join(texts)
    assert tuned([(0, 1), (3, 4)], moved) != first


@pytest.mark.parametrize("with_user_texts", [False, True])
def test_users_sharing_a_time_tune_the_same_model_in_any_row_order(tmp_path, with_user_texts):
    # each user's own times are distinct (its sequence is fixed), but users
    # share times (days): users were numbered as they first came in the rows,
    # so the same interactions in another order trained another model
    texts, X = _tiny_catalogue(30, 10, 4)
    X = X.assign(timestamp=X.groupby("user_id").cumcount())
    user_texts = (pd.Series({u: f"a reader of kind {u % 3}" for u in X.user_id.unique()})
                  if with_user_texts else None)
    tuning = ContrastiveFineTuning(n_steps=2, batch_size=4, location=tmp_path, verbose=0)

    def fit(data):
        return ZeroShotRecommender(_tiny_encoder(), item_texts=texts, user_texts=user_texts,
                                   fine_tune=tuning).fit(data)

    a, b = fit(X), fit(X.sample(frac=1, random_state=1))
    assert a.encoder_.model == b.encoder_.model
    np.testing.assert_array_equal(a.item_embeddings_, b.item_embeddings_)
    if with_user_texts:  # nor in the order of the texts
        user_texts = user_texts.iloc[::-1]
        assert fit(X).encoder_.model == a.encoder_.model


def test_a_location_that_is_a_file_fails_before_training(tmp_path, monkeypatch):
    def no_training(self, *args):  # a spy on our own logic: training must not start
        raise AssertionError("trained before checking the location")

    monkeypatch.setattr(ContrastiveFineTuning, "_train", no_training)
    (tmp_path / "a-file").write_text("x")
    texts, X = _tiny_catalogue(30, 10, 3)
    tuning = ContrastiveFineTuning(n_steps=1, batch_size=4, location=tmp_path / "a-file",
                                   verbose=0)
    with pytest.raises(NotADirectoryError, match=r"location .*a-file' is a file; pass a "
                                                 r"directory"):  # (it was a bare "File exists")
        ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning).fit(X)


def test_a_tuned_model_is_as_readable_as_the_umask_makes_new_files(tmp_path):
    # shared for other processes and accounts to load, it was 0700 (mkdtemp) with
    # 0600 weights (save_pretrained): another account read it as "gone since fit"
    import os
    import stat

    texts, X = _tiny_catalogue(30, 10, 3)
    tuning = ContrastiveFineTuning(n_steps=1, batch_size=4, location=tmp_path, verbose=0)
    old = os.umask(0o027)
    try:
        rec = ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning).fit(X)
    finally:
        os.umask(old)
    tuned = Path(rec.encoder_.model)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tuned, *tuned.rglob("*"))}
    assert modes[tuned.name] == 0o750 and modes["model.safetensors"] == 0o640
    assert set(modes.values()) <= {0o750, 0o640} and ".umask-probe" not in modes


def test_fine_tuning_leaves_the_hubs_progress_bars_as_they_were(tmp_path):
    import huggingface_hub.utils as hub

    texts, X = _tiny_catalogue(30, 10, 3)
    was = hub.are_progress_bars_disabled()
    hub.disable_progress_bars()  # the caller silenced the hub's download bars
    try:
        tuning = ContrastiveFineTuning("full", n_steps=1, batch_size=4, location=tmp_path,
                                       verbose=0)
        ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning).fit(X)
        assert hub.are_progress_bars_disabled()
    finally:
        if not was:
            hub.enable_progress_bars()


def test_an_unseeded_hybrid_warns_that_it_tunes_at_every_fit(tmp_path):
    from sklearn_zsrec import HybridRecommender

    texts, X = _tiny_catalogue()
    tuning = ContrastiveFineTuning("full", n_steps=1, batch_size=4, location=tmp_path, verbose=0)
    text = ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning)
    with pytest.warns(UserWarning, match="Set random_state to an int to tune once per data"):
        HybridRecommender(text, verbose=0).fit(X)


@pytest.mark.parametrize("rate", [1e30, 1e38])
def test_a_last_step_that_diverges_keeps_the_base_model(tmp_path, rate):
    # small data (no held-out pairs): the last update was never checked, so
    # weights that gave NaN vectors were kept; 1e38 overflowed AdamW's step
    texts, X = _tiny_catalogue(30, 10, 3)
    tuning = ContrastiveFineTuning("full", n_steps=1, batch_size=8, learning_rate=rate,
                                   location=tmp_path, verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tuned = ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning).fit(X)
    said = [str(w.message) for w in caught if "diverged" in str(w.message)]
    assert len(said) == 1 and "training diverged at step 1" in said[0]  # once, as trained
    record = json.loads((Path(tuned.encoder_.model) / "fine_tuning.json").read_text())
    assert record["step_kept"] == 0 and record["diverged_at_step"] == 1
    assert np.isfinite(tuned.item_embeddings_).all()
    # loaded again (a new session, a grid-search worker, the refit): it said
    # nothing, and the user took the base model for a tuned one
    with pytest.warns(UserWarning, match=r"loaded from .* diverged in its training at step 1, "
                                         r"which kept the weights of step 0"):
        again = ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning).fit(X)
    np.testing.assert_array_equal(again.item_embeddings_, tuned.item_embeddings_)


def test_lora_with_a_peft_that_fails_to_import_says_so(monkeypatch):
    # peft 0.14+ beside transformers 4.40-4.42 fails to import: "needs peft:
    # pip install" sent the user to a command that reports it installed. The
    # import is made to fail and peft's presence faked (our message's logic)
    import importlib.util
    import sys

    from sklearn_zsrec._fine_tune import _require_peft

    monkeypatch.setitem(sys.modules, "peft", None)  # import peft raises ImportError
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "peft" else find_spec(name, *a))
    with pytest.raises(ImportError, match="peft is installed but fails to import"):
        _require_peft()


def test_a_hybrid_tunes_again_after_the_tuned_directory_is_deleted(tmp_path):
    # the docs say to delete it to free the space, then fit again: the
    # hybrid's fit memo served the text fit on the deleted directory, and the
    # refit failed on a model path the user never passed
    import shutil

    from sklearn_zsrec import ALSRecommender, HybridRecommender

    from ._data import topic_catalog, topic_interactions
    from ._members import cf_members

    texts, topics = topic_catalog()
    X = topic_interactions(topics, per_user=5)
    tuning = ContrastiveFineTuning(n_steps=2, batch_size=4, location=tmp_path / "tuned",
                                   verbose=0)

    def fit():
        text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts,
                                   fine_tune=tuning)
        return HybridRecommender(text, cf_members(ALSRecommender(factors=4, random_state=0)),
                                 random_state=0, verbose=0).fit(X)

    first = fit().recommend(["new"], n=5, user_texts={"new": texts.iloc[0]})
    shutil.rmtree(tmp_path / "tuned")
    again = fit()
    assert Path(again.text_.encoder_.model).is_dir()
    np.testing.assert_array_equal(again.recommend(["new"], n=5, user_texts={"new": texts.iloc[0]}),
                                  first)


def _tuned_maker(location):
    """An unfitted tuned zero-shot model's maker, and its data."""
    texts, X = _catalogue()
    tuning = ContrastiveFineTuning(n_steps=2, batch_size=4, location=location, verbose=0)
    make = lambda: ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0),  # noqa: E731
                                       item_texts=texts, fine_tune=tuning)
    return make, X


def _tuned_once(location):
    """An unfitted tuned zero-shot model's maker, its data, and one fit of it."""
    make, X = _tuned_maker(location)
    return make, X, make().fit(X)


@pytest.mark.parametrize("damage", ["delete", "truncate", "tokenizer.json", "config.json",
                                    "not text"])
def test_a_tuned_directory_whose_weights_were_damaged_is_tuned_again(tmp_path, damage):
    # config.json alone made it a tuned model: every later fit failed on
    # transformers' or safetensors' errors until the directory was deleted by
    # hand (a half-written tokenizer.json: a bare JSONDecodeError naming no file)
    make, X, first = _tuned_once(tmp_path)
    weights = Path(first.encoder_.model) / "model.safetensors"
    if damage == "delete":
        weights.unlink()
        again = make().fit(X)
    elif damage == "not text":  # (a disk error's bytes, not UTF-8: a bare UnicodeDecodeError)
        (Path(first.encoder_.model) / "tokenizer.json").write_bytes(b"\xff\xfe\x00\x81 garbage")
        with pytest.warns(UserWarning, match="did not load .*; tuning it again"):
            again = make().fit(X)
    else:
        damaged = weights if damage == "truncate" else Path(first.encoder_.model) / damage
        assert damaged.exists()
        damaged.write_bytes(damaged.read_bytes()[:100])
        with pytest.warns(UserWarning, match="did not load .*; tuning it again"):
            again = make().fit(X)
    np.testing.assert_array_equal(again.item_embeddings_, first.item_embeddings_)


def test_a_location_that_cannot_be_written_fails_before_the_training(tmp_path, monkeypatch):
    # (a mock of the write, as a read-only folder gives a user who is not
    # root: our own logic) it trained, then failed on a bare PermissionError
    import errno

    from sklearn_zsrec import _fine_tune

    texts, X = _tiny_catalogue(30, 10, 3)
    trained = []
    monkeypatch.setattr(_fine_tune.ContrastiveFineTuning, "_train",
                        lambda *args, **kwargs: trained.append(1))

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    encoder = _tiny_encoder()  # (the tiny model made before mkdtemp is refused)
    monkeypatch.setattr(_fine_tune.tempfile, "mkdtemp", refused)
    tuning = ContrastiveFineTuning("full", n_steps=1, batch_size=8, location=tmp_path, verbose=0)
    with pytest.raises(OSError, match=r"cannot write in location .* Pass location= a directory"):
        ZeroShotRecommender(encoder, item_texts=texts, fine_tune=tuning).fit(X)
    assert not trained


@pytest.mark.parametrize("where", ["transformers", "tokenizers"])
def test_a_good_tuned_model_is_kept_when_the_system_fails_to_load_it(tmp_path, monkeypatch,
                                                                      where):
    # (a mock raises the system's error, once: our own logic) any OSError
    # read as damage: a good model was deleted and tuned again on "too many
    # open files", also as the tokenizers library reports it (a bare
    # Exception ending "(os error 24)"); a model loaded again later, tuned
    # or not, says nothing
    import errno

    from transformers import AutoTokenizer

    from sklearn_zsrec import _encoder, _fine_tune

    make, X, first = _tuned_once(tmp_path)
    folder = Path(first.encoder_.model)
    weights = (folder / "model.safetensors").stat()
    trained = []
    monkeypatch.setattr(_fine_tune.ContrastiveFineTuning, "_train",
                        lambda *args, **kwargs: trained.append(1))
    load, tokenizer = _encoder._load_model, AutoTokenizer.from_pretrained

    def too_many_open_files(path, *args, **kwargs):
        if str(path) == str(folder):
            if where == "tokenizers":
                raise Exception("Too many open files (os error 24)")
            raise OSError(errno.EMFILE, "Too many open files", path)
        return (load if where == "transformers" else tokenizer)(path, *args, **kwargs)

    _encoder._MODELS.clear()
    with monkeypatch.context() as patched:
        if where == "transformers":
            patched.setattr(_encoder, "_load_model", too_many_open_files)
        else:
            patched.setattr(AutoTokenizer, "from_pretrained", too_many_open_files)
        with pytest.raises(OSError, match="Too many open files") as raised:
            make().fit(X)
    assert raised.value.errno == errno.EMFILE
    assert not trained and (folder / "model.safetensors").stat().st_ino == weights.st_ino
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a tuning that converged: no divergence warning
        again = make().fit(X)
    np.testing.assert_array_equal(again.item_embeddings_, first.item_embeddings_)


def test_a_model_tuned_by_this_call_that_does_not_load_is_not_tuned_again(tmp_path,
                                                                          monkeypatch):
    # (mocks: our own logic) only a folder loaded, not one this call tuned,
    # is taken for damaged: a failure to load what it just saved is raised
    import shutil

    from sklearn_zsrec import _encoder, _fine_tune

    texts, X = _tiny_catalogue(30, 10, 3)
    trained = []

    def train(self, encoder, coded, anchors, positives, location, directory):
        trained.append(1)
        shutil.copytree(tiny_model_path(), directory)  # saved as a tuning saves

    monkeypatch.setattr(_fine_tune.ContrastiveFineTuning, "_train", train)
    load = _encoder._load_model

    def unreadable(path, *args, **kwargs):
        if str(tmp_path) in str(path):
            raise OSError(f"the config file at {path} is not a valid JSON file")
        return load(path, *args, **kwargs)

    monkeypatch.setattr(_encoder, "_load_model", unreadable)
    tuning = ContrastiveFineTuning("full", n_steps=1, batch_size=8, location=tmp_path, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "tuning it again"
        with pytest.raises(OSError, match="is not a valid JSON file"):
            ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning).fit(X)
    assert trained == [1]


def test_a_damaged_tuned_directory_that_cannot_be_removed_says_so(tmp_path, monkeypatch):
    # (a mock of the removal, as on a read-only location: our own logic) it
    # trained twice, then raised a PermissionError about a staging directory
    make, X, first = _tuned_once(tmp_path)
    (Path(first.encoder_.model) / "model.safetensors").unlink()
    monkeypatch.setattr("sklearn_zsrec._fine_tune.shutil.rmtree", lambda *a, **k: None)
    with pytest.raises(OSError, match="has lost its weights, and it cannot be removed to tune "
                                      "it again. Delete it, or pass a location"):
        make().fit(X)


def test_the_tuned_models_key_covers_the_positives_and_every_setting():
    # "keyed by the data and the settings": a key without the pairs'
    # positives, or without method, loaded another log's or the full
    # tuning's model for LoRA (a mutation hunt). Only location and verbose
    # leave the model as it is
    from sklearn.base import clone

    encoder = TextEncoder(tiny_model_path(), verbose=0).fit()
    texts = [f"product {k}" for k in range(6)]
    anchors = np.array([0, 3])

    def key(tuning, positives=(1, 4)):
        return tuning._key(encoder, texts, anchors, np.array(positives))

    base = ContrastiveFineTuning(verbose=0)
    assert key(base, (2, 5)) != key(base)  # same anchors, other next items
    changed = {"method": "full", "n_steps": 7, "batch_size": 3, "learning_rate": 1e-3,
               "window": 1, "random_state": 1}
    assert set(changed) | {"location", "verbose"} == set(base.get_params())
    for name, value in changed.items():
        assert key(clone(base).set_params(**{name: value})) != key(base), name
    assert key(clone(base).set_params(location="elsewhere", verbose=1)) == key(base)


def test_full_and_lora_tuning_and_other_positives_each_train_their_own_model(tmp_path,
                                                                             monkeypatch):
    # the same location, the same anchors: other next items, or LoRA after a
    # full tuning, are other models, trained and saved apart (a mutation
    # hunt: both were served the first tuned model)
    calls = []
    train = ContrastiveFineTuning._train

    def counted(self, *args):  # a spy on our own logic: how often training runs
        calls.append(self.method)
        return train(self, *args)

    monkeypatch.setattr(ContrastiveFineTuning, "_train", counted)
    texts = pd.Series([f"product {k}" for k in range(6)])
    first = pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [0, 1, 3, 4],
                          "timestamp": [0, 1, 0, 1]})
    second = first.assign(item_id=[0, 2, 3, 5])  # same first items, other next ones

    def tuned(method, X):
        tuning = ContrastiveFineTuning(method, n_steps=1, batch_size=2, location=tmp_path,
                                       verbose=0)
        return Path(ZeroShotRecommender(_tiny_encoder(), item_texts=texts,
                                        fine_tune=tuning).fit(X).encoder_.model)

    models = [tuned("full", first), tuned("full", second), tuned("lora", first)]
    assert calls == ["full", "full", "lora"] and len(set(models)) == 3
    assert tuned("full", first) == models[0] and len(calls) == 3  # the same: loaded
    records = [json.loads((m / "fine_tuning.json").read_text()) for m in models]
    assert [r["settings"]["method"] for r in records] == ["full", "full", "lora"]


def scripted_evaluations(monkeypatch):
    """Fine-tuning's held-out evaluations scripted (a test of our own logic):
    the pooling of the evaluation batches is replaced by vectors that rank
    the share ``shares["script"][e]`` of the held-out pairs first at
    evaluation ``e`` (0 is the base model's), the others tied with every
    candidate. Returns ``shares`` (to fill) and ``splits`` (each run's
    held-out anchors and candidates)."""
    import torch

    from sklearn_zsrec import _encoder, _fine_tune

    pool, split, train = _encoder._pool, _fine_tune.held_out_pairs, ContrastiveFineTuning._train
    shares, run, splits = {}, {}, []  # the scripted shares; this run's state; the splits

    def spied_split(anchors, positives, n_texts, rng):
        out = split(anchors, positives, n_texts, rng)
        candidates, target = np.unique(positives[out[1]], return_inverse=True)
        run.update(n_val=len(out[1]), n_candidates=len(candidates), target=target,
                   pending=False, evaluation=0)
        splits.append((anchors[out[1]], candidates))
        return out

    def scripted_pool(hidden, mask, pooling, left):
        rows = hidden.shape[0]
        if not run or torch.is_grad_enabled():  # not an evaluation
            return pool(hidden, mask, pooling, left)
        if not run["pending"] and rows == run["n_val"]:  # the held-out pairs' anchors
            share = shares["script"][min(run["evaluation"], len(shares["script"]) - 1)]
            out = np.zeros((rows, run["n_candidates"]), np.float32)
            first = np.arange(rows) < round(share * rows)
            out[first, run["target"][first]] = 1.0
            run["pending"] = True
            return hidden.new_tensor(out)
        if run["pending"] and rows == run["n_candidates"]:  # their candidates
            run["pending"], run["evaluation"] = False, run["evaluation"] + 1
            return hidden.new_tensor(np.eye(rows, dtype=np.float32))
        return pool(hidden, mask, pooling, left)  # the check of the last update

    def spied_train(self, *args):
        try:
            return train(self, *args)
        finally:
            run.clear()  # the tuned model's own encoding is not scripted

    monkeypatch.setattr(_fine_tune, "held_out_pairs", spied_split)
    monkeypatch.setattr(_encoder, "_pool", scripted_pool)
    monkeypatch.setattr(ContrastiveFineTuning, "_train", spied_train)
    return shares, splits


def test_the_weights_kept_are_the_best_evaluations_not_the_last_better_than_the_base(
        tmp_path, monkeypatch):
    # "the weights kept are those that rank their pairs best": an evaluation
    # worse than the best but better than the base model's overwrote the
    # kept weights while step_kept still named the best step (a mutation
    # hunt). The held-out evaluations are scripted (our own logic: the
    # pooling of the evaluation batches is replaced by vectors that rank a
    # chosen share of the held-out pairs first, the others tied with every
    # candidate): step 1 is the best; a run whose later evaluations fall
    # below the base keeps step 1's weights, and so must a run whose later
    # evaluations stay between the base and the best
    shares, _ = scripted_evaluations(monkeypatch)
    texts, X = _tiny_catalogue()
    results = {}
    for name, script in (("falls", [0.25, 1.0, 0.0]), ("between", [0.25, 1.0, 0.5])):
        shares["script"] = script
        tuning = ContrastiveFineTuning("full", n_steps=10, batch_size=8, learning_rate=1e-3,
                                       location=tmp_path / name, verbose=0)
        rec = ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning).fit(X)
        record = json.loads((Path(rec.encoder_.model) / "fine_tuning.json").read_text())
        results[name] = rec.item_embeddings_, record
    (falls, falls_record), (between, between_record) = results["falls"], results["between"]
    mrr = [m for _, m in between_record["held_out_mrr"]]
    assert mrr[1] == max(mrr) == 1.0 and mrr[0] < mrr[2] < mrr[1]  # as scripted
    assert falls_record["step_kept"] == between_record["step_kept"] == 1
    base = ZeroShotRecommender(_tiny_encoder(), item_texts=texts).fit(X).item_embeddings_
    assert np.abs(falls - base).max() > 1e-3  # step 1 moved the weights
    np.testing.assert_allclose(between, falls, atol=1e-6)


@pytest.mark.parametrize("method, setting", [
    ("full", "autograd off"), ("lora", "autograd off"), ("full", "inference mode"),
    ("lora", "float64 default"), ("lora", "autocast")])
def test_the_callers_torch_settings_neither_break_nor_change_the_tuning(tmp_path, setting,
                                                                        method):
    # a process with autograd off (serving code), or a fit inside
    # inference_mode, failed in backward with torch's message; one whose
    # default dtype was float64 (LoRA's initialisation in float64), or a fit
    # inside autocast, tuned another model under the same key, which other
    # fits then read
    import contextlib

    import torch

    pytest.importorskip("peft")
    texts, X = _tiny_catalogue()

    def tuned(location):
        steps = {"full": {"n_steps": 4}, "lora": {"n_steps": 20, "learning_rate": 1e-2}}
        tuning = ContrastiveFineTuning(method, batch_size=8, random_state=0, location=location,
                                       verbose=0, **steps[method])
        return ZeroShotRecommender(_tiny_encoder(), item_texts=texts, fine_tune=tuning).fit(X)

    plain = tuned(tmp_path / "plain")
    before = torch.is_grad_enabled(), torch.get_default_dtype()
    with contextlib.ExitStack() as stack:
        try:
            if setting == "autograd off":
                torch.set_grad_enabled(False)
            elif setting == "float64 default":
                torch.set_default_dtype(torch.float64)
            elif setting == "inference mode":
                stack.enter_context(torch.inference_mode())
            else:
                stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16))
            after = (torch.is_grad_enabled(), torch.get_default_dtype())
            other = tuned(tmp_path / "other")
            assert (torch.is_grad_enabled(), torch.get_default_dtype()) == after  # left as set
        finally:
            torch.set_grad_enabled(before[0])
            torch.set_default_dtype(before[1])
    assert Path(other.encoder_.model).name == Path(plain.encoder_.model).name  # the same key
    assert json.loads((Path(plain.encoder_.model) / "fine_tuning.json").read_text())[
        "step_kept"] > 0  # a tuned model, not the base one
    np.testing.assert_allclose(other.item_embeddings_, plain.item_embeddings_, atol=1e-6)


def test_a_float32_encoder_encodes_in_float32_inside_a_callers_autocast():
    # precision="float32" ran in bfloat16 under autocast, and the cache kept
    # those vectors for later calls outside it
    import torch

    from sklearn_zsrec import clear_cache

    texts = [f"a text about topic {k}" for k in range(8)]
    clear_cache()
    plain = _tiny_encoder().fit().transform(texts)
    clear_cache()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = _tiny_encoder().fit().transform(texts)
    np.testing.assert_array_equal(inside, plain)


# a process that tunes the model of ``_tuned_maker`` once every process given
# has arrived (files in a folder), with a training that lasts seconds (a spy,
# so that the trainings overlap); it prints whether it trained
_TUNING_PROCESS = """
import sys, time
from pathlib import Path
from sklearn_zsrec import ContrastiveFineTuning
from tests.test_fine_tune import _tuned_maker

location, ready, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
trained, train = [], ContrastiveFineTuning._train
def slow(self, *args):
    trained.append(1)
    time.sleep(3)
    return train(self, *args)
ContrastiveFineTuning._train = slow
make, X = _tuned_maker(location)
(ready / sys.argv[4]).touch()
while len(list(ready.iterdir())) < n:
    time.sleep(0.05)
model = make().fit(X)
print("trained" if trained else "loaded", model.encoder_.model)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="the lock across processes is POSIX's lockf")
def test_processes_that_need_one_tuned_model_tune_it_once(tmp_path):
    # grid-search workers (n_jobs) that needed the same tuned model each
    # trained it, minutes each, though the docs said other processes load it
    import subprocess

    ready = tmp_path / "ready"
    ready.mkdir()
    root = Path(__file__).resolve().parents[1]
    logs = [(tmp_path / f"out{k}.txt", tmp_path / f"err{k}.txt") for k in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", _TUNING_PROCESS, str(tmp_path / "tuned"),
                               str(ready), "2", str(k)], cwd=root, stdout=out.open("w"),
                              stderr=err.open("w")) for k, (out, err) in enumerate(logs)]
    for p in procs:  # (into files: a full pipe would stall a process holding the lock)
        p.wait(timeout=300)
    outs = [(out.read_text(), err.read_text()) for out, err in logs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    said = sorted(out.split()[0] for out, _ in outs)
    assert said == ["loaded", "trained"]
    assert len({out.split()[1] for out, _ in outs}) == 1  # one model


@pytest.mark.skipif(sys.platform == "win32", reason="the lock across processes is POSIX's lockf")
def test_a_tuning_another_process_holds_is_waited_for_then_loaded(tmp_path, caplog,
                                                                  monkeypatch):
    import logging
    import shutil
    import subprocess

    from sklearn_zsrec import _fine_tune

    make, X, first = _tuned_once(tmp_path)
    folder = Path(first.encoder_.model)
    (lock,) = tmp_path.glob(".*.lock")
    assert lock.name == f".{folder.name}.lock"
    # another process holds the lock while it tunes that model again (its
    # folder: gone, then back, as a tuning saves it)
    saved = tmp_path / "saved"
    shutil.move(folder, saved)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, shutil, sys, time; f = open(sys.argv[1], 'r+'); "
         "fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(4); "
         "shutil.move(sys.argv[2], sys.argv[3])", str(lock), str(saved), str(folder)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    trained = []  # a spy on our own logic: whether this process trains
    monkeypatch.setattr(ContrastiveFineTuning, "_train", lambda *args: trained.append(1))
    monkeypatch.setattr(_fine_tune, "DELAY", 0.2)  # (the wait is said: the fit's work before
    # the lock, slow under load, left under 2 s of the holder's 4)
    with caplog.at_level(logging.INFO, logger="sklearn_zsrec"):
        again = make().fit(X)
    assert holder.wait(timeout=60) == 0
    assert "another process is tuning or checking the model" in caplog.text
    assert trained == []  # it waited, then loaded the other process's model
    np.testing.assert_array_equal(again.item_embeddings_, first.item_embeddings_)


@pytest.mark.skipif(sys.platform == "win32", reason="the lock across processes is POSIX's lockf")
def test_a_short_wait_for_another_process_says_nothing(tmp_path, caplog):
    # a process that checks the tuned folder holds the lock for milliseconds:
    # each worker of a grid search that loaded the model said it waited
    import logging
    import subprocess
    import time

    from sklearn_zsrec import _fine_tune

    (tmp_path / ".key.lock").touch()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'r+'); "
         "fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(1.0)",
         str(tmp_path / ".key.lock")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with caplog.at_level(logging.INFO, logger="sklearn_zsrec"):
        start = time.monotonic()
        with _fine_tune._process_lock(tmp_path, "key", 1):
            assert time.monotonic() - start > 0.1  # (it waited for the holder)
    assert holder.wait(timeout=60) == 0
    assert "another process" not in caplog.text


@pytest.mark.skipif(sys.platform == "win32", reason="the lock across processes is POSIX's")
def test_a_child_forked_during_a_tuning_does_not_hold_its_lock(tmp_path):
    # flock's lock was shared with a child forked while it was held (a fork
    # pool, a forking server): every process's tuning of that model waited
    # for the child to exit, and said another process was tuning
    import os
    import subprocess
    import time

    from sklearn_zsrec import _fine_tune

    with _fine_tune._process_lock(tmp_path, "key", 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # (fork in a threaded process)
            child = os.fork()
        if child == 0:  # lives on after the tuning
            time.sleep(4)
            os._exit(0)
    try:
        probe = ("import logging, sys\nfrom pathlib import Path\n"
                 "from sklearn_zsrec._fine_tune import _process_lock\n"
                 "logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(message)s')\n"
                 "with _process_lock(Path(sys.argv[1]), 'key', 0):\n    print('taken')\n")
        out = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True,
                             text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
        assert "taken" in out.stdout, out.stderr[-2000:]
        assert "waiting" not in out.stdout
    finally:
        os.waitpid(child, 0)
