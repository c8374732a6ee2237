"""precision="auto" is decided from the hardware's capabilities, never by timing.

The CPU flag reader and the CUDA capability are mocks of our own logic: they
let one machine play the hardware of others.
"""

import logging
import time

import numpy as np
import pytest

from sklearn_zsrec import TextEncoder, _precision

from ._tiny import tiny_model_path


@pytest.fixture(autouse=True)
def _no_decision_yet(monkeypatch):
    monkeypatch.setattr(_precision, "_PRECISIONS", {})


@pytest.fixture
def no_timer(monkeypatch):
    """Any clock read during the decision fails the test."""

    def clock(*args):
        raise AssertionError("precision='auto' read a clock")

    for name in ["perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns",
                 "process_time", "process_time_ns"]:
        monkeypatch.setattr(time, name, clock)


def _fake_run(bf16_seconds=0.0, bf16_noise=0.0):
    """A fake model: bfloat16 takes ``bf16_seconds`` longer than float32 and
    adds ``bf16_noise`` to the embeddings; it records what it runs."""
    calls = []

    def run(texts, precision):
        calls.append(precision)
        rng = np.random.RandomState(0)
        base = np.ones((len(texts), 8), dtype=np.float32) + rng.rand(len(texts), 8)
        if precision == "float32":
            return base
        time.sleep(bf16_seconds)
        return base + bf16_noise * rng.randn(*base.shape).astype(np.float32)

    run.calls = calls
    return run


@pytest.mark.parametrize(
    "flags, expected",
    [
        ({"avx512f", "avx512_bf16"}, "float32"),  # AVX512-BF16 alone: not known to pay off
        ({"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}, "bfloat16"),
        ({"amx_bf16"}, "bfloat16"),
        ({"avx2", "avx512f"}, "float32"),
        (set(), "float32"),  # flags unreadable (not Linux)
    ],
    ids=["avx512-bf16", "amx-and-avx512-bf16", "amx", "avx512", "none"],
)
def test_auto_precision_follows_the_cpu_flags(monkeypatch, no_timer, flags, expected):
    monkeypatch.setattr(_precision, "_cpu_flags", lambda: flags)
    enc = TextEncoder(tiny_model_path(), device="cpu", verbose=0).fit()
    assert enc.precision_ == expected
    assert enc._cache_key()["precision"] == expected
    # what the encoder benchmark's page reports ("AMX or AVX512-BF16 here")
    assert _precision._has_native_bf16("cpu") == bool(flags & {"amx_bf16", "avx512_bf16"})


@pytest.mark.parametrize("bf16_seconds", [0.0, 0.05], ids=["bf16-fast", "bf16-slow"])
@pytest.mark.parametrize(
    "flags, expected",
    [({"avx512_bf16"}, "float32"), ({"amx_bf16"}, "bfloat16")],
    ids=["avx512-bf16", "amx"],
)
def test_speed_does_not_change_the_choice(monkeypatch, flags, expected, bf16_seconds):
    # a busy or an idle machine: bfloat16 slow or fast, the same choice
    monkeypatch.setattr(_precision, "_cpu_flags", lambda: flags)
    run = _fake_run(bf16_seconds=bf16_seconds)
    assert _precision._auto_precision("fake", "cpu", run) == expected
    # without matrix units nothing is encoded; with them, once each way
    assert run.calls == ([] if expected == "float32" else ["float32", "bfloat16"])
    # decided once per (model, device) and process
    assert _precision._auto_precision("fake", "cpu", None) == expected


def test_inaccurate_bfloat16_stays_float32_on_amx(monkeypatch, no_timer):
    monkeypatch.setattr(_precision, "_cpu_flags", lambda: {"amx_bf16"})
    run = _fake_run(bf16_noise=0.5)
    assert _precision._auto_precision("fake", "cpu", run) == "float32"


@pytest.mark.parametrize("capability, expected", [((8, 0), "bfloat16"), ((9, 0), "bfloat16"),
                                                  ((7, 5), "float32")])
def test_auto_precision_on_cuda_follows_the_compute_capability(monkeypatch, no_timer,
                                                               capability, expected):
    import torch

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert _precision._auto_precision("fake", "cuda", _fake_run()) == expected


def test_auto_precision_elsewhere_is_float32(no_timer):
    run = _fake_run()
    assert _precision._auto_precision("fake", "mps", run) == "float32" and not run.calls


def test_the_choice_is_logged(monkeypatch, caplog):
    monkeypatch.setattr(_precision, "_cpu_flags", lambda: {"avx512_bf16"})
    with caplog.at_level(logging.INFO, logger="sklearn_zsrec"):
        enc = TextEncoder(tiny_model_path(), device="cpu", verbose=0).fit()
    (record,) = [r for r in caplog.records if "precision auto" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert "float32" in record.getMessage() and "AVX512-BF16 without AMX" in record.getMessage()
    assert enc.precision_ == "float32"



def test_a_model_retrained_in_place_is_checked_again(monkeypatch, tmp_path):
    # the decision is per model files, not per path: bfloat16 accepted for
    # one model is not carried to another saved over it (a reused output
    # directory), whose bfloat16 embeddings may be far from its float32 ones
    import shutil

    import torch
    from transformers import BertModel

    monkeypatch.setattr(_precision, "_cpu_flags", lambda: {"amx_bf16"})
    model = tmp_path / "model"
    shutil.copytree(tiny_model_path(), model)
    monkeypatch.setattr(_precision, "_CHECK_MIN_COSINE", 0.0)  # the first model passes
    first = TextEncoder(str(model), device="cpu", verbose=0).fit()
    assert first.precision_ == "bfloat16"
    retrained = BertModel.from_pretrained(str(model))
    with torch.no_grad():
        for weight in retrained.parameters():
            weight.mul_(1.5)
    retrained.save_pretrained(str(model))
    monkeypatch.setattr(_precision, "_CHECK_MIN_COSINE", 2.0)  # no model passes
    second = TextEncoder(str(model), device="cpu", verbose=0).fit()
    assert second.precision_ == "float32"  # checked again


def test_the_choice_is_per_device(monkeypatch, no_timer):
    # "decided once per (model, device)": keyed by the model alone (a mutation
    # hunt), the CPU's bfloat16 (AMX) was carried to a GPU without bfloat16
    # matrix units (compute capability 7.5)
    import torch

    monkeypatch.setattr(_precision, "_cpu_flags", lambda: {"amx_bf16"})
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    run = _fake_run()
    assert _precision._auto_precision("fake", "cpu", run, stamp="s") == "bfloat16"
    assert _precision._auto_precision("fake", "cuda", run, stamp="s") == "float32"
    assert _precision._auto_precision("fake", "cpu", run, stamp="s") == "bfloat16"


def test_bfloat16_must_be_accurate_on_every_check_text(monkeypatch, no_timer):
    # "a cosine of at least _CHECK_MIN_COSINE ... on every text": bfloat16
    # exact on 63 texts and off on one (cosine about 0.9995, the mean over
    # the 64 above 0.9999) stays float32 (a mutation hunt: the mean passed)
    monkeypatch.setattr(_precision, "_cpu_flags", lambda: {"amx_bf16"})

    def run(texts, precision):
        x = np.ones((len(texts), 8), np.float32) + np.arange(8, dtype=np.float32)
        if precision == "bfloat16":
            x[5, 0] += 0.3
        return x

    cosines = _precision._cosine(run(_precision._CHECK_TEXTS, "float32"),
                                 run(_precision._CHECK_TEXTS, "bfloat16"))
    assert cosines.min() < _precision._CHECK_MIN_COSINE < cosines.mean()
    assert _precision._auto_precision("fake", "cpu", run) == "float32"
