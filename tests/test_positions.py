"""Token positions: the grid scheme's three ways of computing positions agree, cells land at (line, column)
= (row + 1, col + 1), and the arc_grid model reads them from its ids and loads through the Auto classes."""

from __future__ import annotations

import random

import pytest
import torch

from tasks_lib.arc.data import Pair, Task
from tasks_lib.arc.encoding import Vocab, build_arc_tokenizer, encode_prompt, encode_train
from tasks_lib.arc.positions import GridAxes, OneAxis, from_config, start

VOCAB = Vocab.from_tokenizer(build_arc_tokenizer())
GRID = GridAxes(VOCAB.newline, VOCAB.input, VOCAB.output)


def _stepped(scheme, ids: list[int]) -> list[list[int]]:
    pos, prev = start(scheme, 1, "cpu")
    rows = []
    for tok in ids:
        now = torch.tensor([tok])
        pos = scheme.step(pos, prev, now)
        prev = now
        rows.append(pos[:, 0].tolist())
    return [list(axis) for axis in zip(*rows)]


@pytest.mark.parametrize("scheme", [OneAxis(), GRID], ids=["one-axis", "grid"])
@pytest.mark.parametrize("seed", range(6))
def test_tensor_list_and_step_forms_agree_on_any_ids(scheme, seed: int) -> None:
    rng = random.Random(seed)
    ids = [rng.randrange(16) for _ in range(rng.randrange(1, 120))]  # markers and newlines anywhere, even first
    want = scheme.of_list(ids)
    assert scheme.of_ids(torch.tensor([ids, ids]))[:, 1].tolist() == want
    assert _stepped(scheme, ids) == want


def test_cells_sit_at_row_plus_one_and_column_plus_one_in_their_grid(small_tasks) -> None:
    task = small_tasks[0]
    ids = encode_train(VOCAB, task, 4096).ids
    grid_axis, line, column = GRID.of_list(ids)
    digits = set(VOCAB.digits)
    cells = [(g, ln, c) for tok, g, ln, c in zip(ids, grid_axis, line, column) if tok in digits]
    first_in, first_out = task.train[0].input, task.train[0].output
    n_in = len(first_in) * len(first_in[0])
    assert cells[:n_in] == [(1, r + 1, c + 1) for r in range(len(first_in)) for c in range(len(first_in[0]))]
    n_out = len(first_out) * len(first_out[0])
    assert cells[n_in : n_in + n_out] == [(2, r + 1, c + 1) for r in range(len(first_out)) for c in range(len(first_out[0]))]
    assert ids[0] == VOCAB.bos and (grid_axis[0], line[0], column[0]) == (0, 0, 0)


def test_a_prompt_ends_at_the_start_of_the_answer_grid() -> None:
    g = ((1, 2), (3, 4))
    task = Task("t", (Pair(g, g),), (g,))
    ids = encode_prompt(VOCAB, task, 0, 512, reserve=10)
    pos = GRID.of_list(ids)
    assert ids[-2:] == [VOCAB.output, VOCAB.newline]
    assert [axis[-1] for axis in pos] == [4, 0, 1]  # the fourth grid (in, out, test in, answer), its marker line


def test_scheme_follows_the_config() -> None:
    class Plain:
        pass

    class Gridded:
        grid_tokens = {"newline": 13, "input": 14, "output": 15}

    assert from_config(Plain()) == OneAxis()
    assert from_config(Gridded()) == GridAxes(13, 14, 15)


def test_grid_model_loads_through_auto_classes_and_rejects_one_axis_positions(tmp_path) -> None:
    from transformers import AutoModelForCausalLM

    from tasks_lib.adapting.model import build_tiny_model, register_architectures

    path = build_tiny_model(tmp_path / "g", hidden=64, layers=1, heads=2, intermediate=64, positions="grid")
    register_architectures()
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.model_type == "arc_grid"
    ids = torch.tensor([[VOCAB.bos, VOCAB.input, VOCAB.newline, VOCAB.digits[3], VOCAB.newline]])
    explicit = model(ids, position_ids=GRID.of_ids(ids)).logits
    assert torch.allclose(model(ids).logits, explicit)
    with pytest.raises(ValueError, match="position_ids must be"):
        model(ids, position_ids=torch.arange(5)[None])
    # the grid positions matter: the same ids at one-axis positions give other logits
    flat = torch.arange(5).expand(3, 1, 5)
    assert not torch.allclose(model(ids, position_ids=flat).logits, explicit)


def test_vllm_backend_refuses_a_grid_model_before_starting(tmp_path) -> None:
    from tasks_lib.adapting.model import build_tiny_model, load_base
    from tasks_lib.config import ModelConfig, SampleConfig
    from tasks_lib.decoding.sample_vllm import VllmUnsupported, engine

    path = build_tiny_model(tmp_path / "g", hidden=64, layers=1, heads=2, intermediate=64, positions="grid")
    res = load_base(ModelConfig(path=str(path), dtype="float32", lora_rank=4), "cpu")
    with pytest.raises(VllmUnsupported, match="grid positions"):
        engine(res, SampleConfig(backend="vllm"))


def test_grid_model_generate_uses_the_positions_of_the_whole_sequence(tmp_path) -> None:
    """`generate` feeds one new token at a time after a cache: its positions come from the whole sequence."""
    from transformers import AutoModelForCausalLM

    from tasks_lib.adapting.model import build_tiny_model, register_architectures

    path = build_tiny_model(tmp_path / "g", hidden=64, layers=2, heads=2, intermediate=128, positions="grid", seed=3)
    register_architectures()
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    rng = random.Random(4)
    prompt = torch.tensor([[VOCAB.bos] + [rng.randrange(3, 16) for _ in range(60)]])
    with torch.inference_mode():
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=12, do_sample=False,
                             pad_token_id=VOCAB.pad, eos_token_id=-1)
        full = model(out).logits[0, prompt.shape[1] - 1 : -1].argmax(-1)  # (12,) each token from the full forward
    assert out[0, prompt.shape[1]:].tolist() == full.tolist()
