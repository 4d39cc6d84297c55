"""Pretraining: the held-out set stays unseen (by content, not only id), batches respect their token
budget, a checkpoint resumes exactly where it stopped, and the written directory loads as a base model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tasks_lib.config import ModelConfig
from tasks_lib.data import load_challenges
from tasks_lib.encoding import IGNORE, Encoded
from tasks_lib.pretrain import (
    PretrainConfig,
    _optimizer,
    _parse_modes,
    collate,
    config_from_dict,
    length_batches,
    load_checkpoint,
    lr_factor,
    pretrain,
    task_pairs,
    training_tasks,
)

torch = pytest.importorskip("torch")

TINY = dict(hidden=64, layers=2, heads=2, intermediate=128, max_tokens=256, batch_tokens=512, bucket=8, log_every=1)


def _write(path: Path, tasks: dict) -> str:
    path.write_text(json.dumps(tasks))
    return str(path)


def _task(seed: int, size: int = 4) -> dict:
    rng = random.Random(seed)

    def grid() -> list[list[int]]:
        return [[rng.randrange(10) for _ in range(size)] for _ in range(size)]

    return {"train": [{"input": grid(), "output": grid()} for _ in range(2)], "test": [{"input": grid(), "output": grid()}]}


def test_exclusion_matches_content_not_ids(tmp_path: Path) -> None:
    held = _task(1)
    renamed = json.loads(json.dumps(held))
    renamed["train"] = renamed["train"][:1]  # an edited copy under another id: shares one pair
    tiny_overlap = _task(2)
    tiny_overlap["train"][0]["input"] = [[0, 0], [0, 0]]  # a 2x2 grid recurs by chance: not a reason to drop
    held["train"].append({"input": [[0, 0], [0, 0]], "output": [[1]]})
    holdout = _write(tmp_path / "held.json", {"h1": held})
    source = _write(tmp_path / "src.json", {"renamed": renamed, "same-id": _task(3), "kept": tiny_overlap, "dup": tiny_overlap})
    (tmp_path / "held2.json").write_text(json.dumps({"same-id": _task(4)}))

    tasks, report = training_tasks([source], [holdout, str(tmp_path / "held2.json")], min_shared_cells=9)

    assert [t.id for t in tasks] == ["kept"]
    assert sorted(report.excluded[source]) == ["renamed", "same-id"]
    assert report.duplicates == 1
    assert tasks[0].test_inputs == () and len(tasks[0].train) == 3  # the test pair became a train pair


def test_arc1_eval_is_held_out_of_the_real_pretraining_data(arc1_eval: list) -> None:
    tasks, report = training_tasks(["arc1/train", "arc2/train"], ["arc1/eval"])
    held = arc1_eval
    held_pairs = {p for t in held for p in task_pairs(t)}
    held_ids = {t.id for t in held}

    assert not any(held_pairs.intersection(t.train) for t in tasks)
    assert not held_ids.intersection(t.id for t in tasks)
    # ARC-AGI-2 training re-uses hundreds of ARC-AGI-1 evaluation tasks: all of them must be gone
    arc2_reused = [t.id for t in load_challenges("arc2/train").tasks if t.id in held_ids]
    assert len(arc2_reused) > 100 and set(arc2_reused) <= set(report.excluded["arc2/train"])
    assert report.kept == len(tasks) == sum(report.per_source.values())


def test_length_batches_stay_within_budget_and_keep_every_example() -> None:
    rng = random.Random(0)
    examples = [Encoded([1] * n, [IGNORE] * n) for n in (rng.randrange(10, 500) for _ in range(60))]
    batches = length_batches(examples, 1000, rng)
    assert sorted(len(e.ids) for b in batches for e in b) == sorted(len(e.ids) for e in examples)
    assert all(len(b) * max(len(e.ids) for e in b) <= 1000 for b in batches)
    ids, labels = collate(batches[0], pad=0)
    width = max(len(e.ids) for e in batches[0])
    assert ids.shape == labels.shape == (len(batches[0]), width)
    assert bool((labels[ids == 0] == IGNORE).all())  # padding never carries a label


def test_lr_schedule_warms_up_then_decays_to_the_floor() -> None:
    cfg = PretrainConfig(out="x", warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(0, 0.0, cfg) == pytest.approx(0.1)
    assert lr_factor(9, 0.0, cfg) == pytest.approx(1.0)
    assert lr_factor(100, 0.5, cfg) == pytest.approx(0.55)
    assert lr_factor(100, 1.0, cfg) == pytest.approx(0.1)


def test_probe_modes_parse_steps_lr_and_seed() -> None:
    assert _parse_modes(["none:0:0.001", "ttt:30:0.003:2"]) == {
        "none": {"max_steps": 0, "lr": 0.001},
        "ttt": {"max_steps": 30, "lr": 0.003, "seed": 2},
    }
    with pytest.raises(ValueError, match="name:steps:lr"):
        _parse_modes(["ttt:30"])


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="heads"):
        PretrainConfig(out="x", hidden=64, heads=4)
    with pytest.raises(ValueError, match="batch_tokens"):
        PretrainConfig(out="x", max_tokens=4096, batch_tokens=1024)
    with pytest.raises(ValueError, match="unknown field"):
        config_from_dict({"out": "x", "hiden": 3})


def test_pretrain_resumes_from_its_checkpoint_and_writes_a_loadable_model(tmp_path: Path) -> None:
    from tasks_lib.model import load_base

    source = _write(tmp_path / "src.json", {f"t{i}": _task(i, size=3 + i % 3) for i in range(6)})
    out = tmp_path / "model"
    first = pretrain(config_from_dict({"out": str(out), "sources": [source], "holdout": [], "max_steps": 2, "max_seconds": 0, **TINY}), "first", log=lambda _: None)
    assert (first.steps, first.done) == (2, True)
    saved = json.loads((out / "checkpoint" / "state.json").read_text())

    # the checkpoint restores weights and AdamW moments exactly
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out / "checkpoint", dtype=torch.float32)
    opt = _optimizer(model, PretrainConfig(out=str(out), **TINY))
    state = load_checkpoint(out / "checkpoint", model, opt)
    assert state["step"] == saved["step"] == 2
    steps = [float(s["step"]) for s in opt.state.values()]
    assert steps and set(steps) == {2.0}
    assert all(float(s["exp_avg_sq"].abs().sum()) > 0 for s in opt.state.values())

    second = pretrain(config_from_dict({"out": str(out), "sources": [source], "holdout": [], "max_steps": 3, "max_seconds": 0, **TINY}), "second", log=lambda _: None)
    assert (second.steps, second.done) == (3, True)
    assert second.tokens > first.tokens
    card = (out / "README.md").read_text()
    assert "`first`" in card and "`second`" in card and "Steps: 3" in card
    rows = (out / "loss.csv").read_text().splitlines()
    assert rows[0].startswith("step,tokens,loss") and len(rows) == 4

    res = load_base(ModelConfig(path=str(out), dtype="float32", lora_rank=4, max_tokens=256), "cpu")
    assert res.model.get_base_model().config.use_cache  # exported for generation
