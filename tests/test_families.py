"""Model families on CPU: a tiny random-weight model of each family, built from its transformers config class with
the ARC tokenizer, trains (on the path `tasks_lib.adapting.families` picks for it, with one logged line naming why when it
falls back), samples through every engine backend, scores candidates, and merges and restores its adapter exactly.
The fast paths are pinned to the model's own forward: the fast step's loss and the engine's log-probabilities."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from tasks_lib.adapting.families import fast_path_blocker
from tasks_lib.adapting.model import load_base
from tasks_lib.arc.data import Pair, Task
from tasks_lib.arc.encoding import build_arc_tokenizer, encode_prompt, encode_train
from tasks_lib.config import ModelConfig, SampleConfig, TrainConfig

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SHAPE = dict(vocab_size=16, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=2,
             num_key_value_heads=1, max_position_embeddings=512, tie_word_embeddings=False)

# family -> (config class, its own settings, the train step it must take, the engine class it must get)
FAMILIES = {
    "llama": ("LlamaConfig", {}, "fast", "Engine"),
    "qwen2": ("Qwen2Config", {}, "fast", "Engine"),
    "qwen3": ("Qwen3Config", {"head_dim": 32}, "fast", "Engine"),  # per-head q/k RMSNorm
    "mistral": ("MistralConfig", {"sliding_window": None}, "fast", "Engine"),  # Mistral-NeMo style: no window
    "mistral-window": ("MistralConfig", {"sliding_window": 4096}, "simple", "PlainEngine"),
    "gemma2": ("Gemma2Config", {"head_dim": 32, "sliding_window": 8, "query_pre_attn_scalar": 32}, "simple", "PlainEngine"),
}
REASONS = {"mistral-window": "sliding-window attention of 4096 tokens", "gemma2": "model type 'gemma2' is not one"}


def build_family_model(family: str, path: Path) -> Path:
    """Save a random-weight model of `family` (FAMILIES) with the ARC tokenizer at `path`."""
    cls_name, own, _, _ = FAMILIES[family]
    tok = build_arc_tokenizer()
    config = getattr(transformers, cls_name)(**SHAPE, **own, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                             pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    return path


def _task() -> Task:
    g = ((1, 2), (3, 0))
    flip = tuple(tuple(reversed(r)) for r in g)
    return Task("fam", (Pair(g, flip), Pair(((4, 5),), ((5, 4),))), (((6, 7), (8, 9)),))


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    path = build_family_model(request.param, tmp_path_factory.mktemp(request.param))
    res = load_base(ModelConfig(path=str(path), lora_rank=4, max_tokens=256), "cpu")
    res.reset(0)
    with torch.no_grad():  # a non-zero B, so the adapter changes the outputs
        for name, p in res.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)
    return request.param, res


def test_train_step_takes_the_pinned_path_and_logs_why_once(family, caplog: pytest.LogCaptureFixture) -> None:
    from tasks_lib.adapting.train_steps import make_step, reference_loss

    name, res = family
    res.slot_state.fast_step_blocker = None
    cfg = TrainConfig(step="fast", compile="off", cuda_graphs="off", max_steps=2, warmup_steps=0)
    with caplog.at_level(logging.WARNING, logger="tasks_lib.adapting.train_steps"):
        step = make_step(res, cfg)
        make_step(res, cfg)
    assert step.kind == FAMILIES[name][2]
    lines = [r.getMessage() for r in caplog.records if "fast train step not supported" in r.getMessage()]
    if name in REASONS:
        assert len(lines) == 1 and REASONS[name] in lines[0], lines
    else:
        assert lines == [] and fast_path_blocker(res.model.get_base_model().config) is None
    enc = encode_train(res.vocab, _task(), 256)
    ids = torch.tensor([enc.ids])
    with torch.no_grad():
        want = reference_loss(res, ids, torch.tensor([enc.labels]))
        got = step.loss(enc)
    assert float(got) == pytest.approx(float(want), rel=1e-4)  # the path taken computes the model's own loss
    res.model.train()
    losses = [float(step(enc)) for _ in range(2)]
    res.model.eval()
    assert all(math.isfinite(x) for x in losses)
    step.close()


def test_engine_matches_the_models_own_forward(family, caplog: pytest.LogCaptureFixture) -> None:
    from tasks_lib.decoding.sample import engine_for

    name, res = family
    res.slot_state.engines.clear()
    res.slot_state.engine_blocker = None
    with caplog.at_level(logging.WARNING, logger="tasks_lib.decoding.sample"):
        eng = engine_for(res, SampleConfig(backend="cached", cuda_graphs="off"))
        engine_for(res, SampleConfig(backend="dfs", cuda_graphs="off", merge_lora="cpu"))
    assert type(eng).__name__ == FAMILIES[name][3]
    lines = [r.getMessage() for r in caplog.records if "decode engine not supported" in r.getMessage()]
    assert len(lines) == (1 if name in REASONS else 0), lines
    prompt = encode_prompt(res.vocab, _task(), 0, 256, reserve=8)
    answer = [*res.vocab.grid_ids(((7, 6), (9, 8))), res.vocab.eos]
    with torch.no_grad():
        full = torch.log_softmax(res.model(input_ids=torch.tensor([prompt + answer])).logits.float(), -1)[0]  # (P+T, V)
    want = sum(float(full[len(prompt) - 1 + i, t]) for i, t in enumerate(answer))
    prefix = eng.prefill([prompt])
    assert eng.score(prefix, 0, [answer])[0] == pytest.approx(want, abs=1e-3)
    (greedy_ids, greedy_lp), = eng.generate(prefix, 1, 6, res.vocab.eos)[0]  # the decode steps agree with teacher forcing
    assert greedy_lp == pytest.approx(eng.score(prefix, 0, [greedy_ids])[0], abs=1e-3)


@pytest.mark.parametrize("backend", ["hf", "cached", "dfs"])
def test_every_backend_samples_scores_and_restores_the_base(family, backend: str) -> None:
    from tasks_lib.adapting.merge import lora_layers
    from tasks_lib.decoding.sample import sample_task

    _, res = family
    before = [layer.get_base_layer().weight.detach().clone() for layer in lora_layers(res.model)]
    cfg = SampleConfig(backend=backend, views=2, samples_per_view=2, score_views=2, merge_lora="cpu", cuda_graphs="off",
                       dfs_threshold=1e-3, dfs_max_candidates=2)
    per_test, stats = sample_task(res, _task(), cfg, max_tokens=256, deadline=math.inf)
    assert stats.views_done == 2 and stats.generated >= 1
    assert stats.generated == stats.malformed + len(per_test[0])
    for c in per_test[0]:  # a random model rarely writes a grid; any it writes is scored under the views
        assert c.score is not None and math.isfinite(c.score)
    after = [layer.get_base_layer().weight for layer in lora_layers(res.model)]
    assert all(torch.equal(a, b) for a, b in zip(before, after)) and not any(l.merged for l in lora_layers(res.model))
