"""The speed pages' scripts (topk, encoder, scale): what they read from each other."""

import importlib
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def scale(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their helpers so
    module = importlib.import_module("scale")
    monkeypatch.setattr(module._report, "RESULTS", tmp_path)
    return module


def _encoder_page(tmp_path, precision_auto, configs):
    sweep = [{"threads": t, "batch_size": 32, "config": c, "texts_per_s": rate}
             for t in (1, 2) for c, rate in configs.items()]
    (tmp_path / "encoder.json").write_text(json.dumps({
        "date": "2026-12-05 00:00 UTC", "machine": {"cpu": "a CPU"}, "n_tokens": 1450,
        "n_texts": 100, "precision_auto": precision_auto, "sweep": sweep}))


def test_the_projection_reads_auto_at_the_float32_rate_where_auto_chose_float32(scale, tmp_path):
    # encoder.py times no separate auto row where auto chose float32: the
    # projection dropped its encoding row ("no measurement on this page")
    _encoder_page(tmp_path, "float32",
                  {"TextEncoder float32": 271.0, "sentence-transformers": 220.0})
    rates = scale._encoder_rates()
    assert rates["auto"] == rates["float32"] == 271.0
    rows = scale.projection({})["rows"]
    assert any(row["stage"].startswith("encode") and "271 texts/s/core, float32" in row["work"]
               for row in rows)
    # where auto chose bfloat16, its own row
    _encoder_page(tmp_path, "bfloat16", {"TextEncoder float32": 271.0, "TextEncoder auto": 745.0})
    assert scale._encoder_rates()["auto"] == 745.0
