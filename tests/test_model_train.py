"""The base model with its LoRA adapter (load, reset in place, save/load as safetensors, the resident
cache) and test-time training (loss goes down, deadlines stop it, only the adapter changes)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tasks_lib.adapting.model import ModelError, Resident, load_base, resident
from tasks_lib.adapting.train import train_adapter
from tasks_lib.adapting.train_steps import output_loss
from tasks_lib.arc.data import Task
from tasks_lib.arc.encoding import encode_train
from tasks_lib.config import ModelConfig, TrainConfig

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def res(model_cfg: ModelConfig) -> Resident:
    return load_base(model_cfg, "cpu")


def _lora(res: Resident, part: str) -> list:
    return [p for n, p in res.model.named_parameters() if f"lora_{part}" in n]


def _logits(res: Resident, ids: list[int]) -> object:
    with torch.no_grad():
        return res.model(input_ids=torch.tensor([ids])).logits  # (1, T, V)


def _base_logits(res: Resident, ids: list[int]) -> object:
    with torch.no_grad(), res.model.disable_adapter():
        return res.model(input_ids=torch.tensor([ids])).logits  # (1, T, V)


def _perturb(res: Resident, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in _lora(res, "B"):
            p.add_(torch.randn(p.shape, generator=g) * 0.5)


def _prompt(res: Resident, task: Task) -> list[int]:
    return encode_train(res.vocab, task, 1024).ids


def test_load_base_wraps_the_tiny_model_with_lora(res: Resident, model_cfg: ModelConfig) -> None:
    assert res.device == "cpu" and res.load_seconds > 0
    trainable = res.trainable_parameters()
    assert trainable and len(trainable) == len(_lora(res, "A")) + len(_lora(res, "B"))
    assert _lora(res, "A")[0].shape[0] == model_cfg.lora_rank
    assert len(set(res.vocab.digits)) == 10


def test_reset_zeroes_b_and_gives_back_the_base_model(res: Resident, small_tasks: list[Task]) -> None:
    ids = _prompt(res, small_tasks[0])
    _perturb(res, 1)
    assert not torch.allclose(_logits(res, ids), _base_logits(res, ids))
    a_before = [p.detach().clone() for p in _lora(res, "A")]
    res.reset(seed=3, task_id="x")
    assert res.task_id == "x"
    assert all(float(p.detach().abs().max()) == 0.0 for p in _lora(res, "B"))
    assert any(not torch.equal(a, p) for a, p in zip(a_before, _lora(res, "A")))
    assert torch.allclose(_logits(res, ids), _base_logits(res, ids))
    a_seed3 = [p.detach().clone() for p in _lora(res, "A")]
    res.reset(seed=3)
    assert all(torch.equal(a, p) for a, p in zip(a_seed3, _lora(res, "A")))


def test_reset_draws_a_from_its_own_cpu_generator_as_peft_inits_it(res: Resident, monkeypatch) -> None:
    """The same seed gives the same adapter whatever the process RNG did before (no global or CUDA RNG draw),
    A ~ U(-1/sqrt(in), 1/sqrt(in)) as PEFT's kaiming_uniform(a=sqrt(5)), B zero."""
    res.reset(seed=11)
    first = [p.detach().clone() for p in _lora(res, "A")]
    res.reset(seed=12)
    assert all(not torch.equal(a, p) for a, p in zip(first, _lora(res, "A")))
    monkeypatch.setattr(torch, "manual_seed", lambda seed: None)  # the init must not come from the process RNG
    torch.rand(1000)
    res.reset(seed=11)
    assert all(torch.equal(a, p) for a, p in zip(first, _lora(res, "A")))
    assert all(float(p.detach().abs().max()) == 0.0 for p in _lora(res, "B"))
    for a in first:
        bound = 1.0 / a.shape[1] ** 0.5  # PEFT: kaiming_uniform_(a=sqrt(5)) on (r, in)
        assert 0.95 * bound < float(a.abs().max()) <= bound
        assert abs(float(a.mean())) < 0.1 * bound and float(a.std()) == pytest.approx(bound / 3**0.5, rel=0.15)
    assert len({float(a[0, 0]) for a in first}) == len(first)  # each layer draws its own values


def test_adapter_round_trip_gives_equal_logits(res: Resident, small_tasks: list[Task], tmp_path: Path) -> None:
    ids = _prompt(res, small_tasks[0])
    res.reset(0)
    _perturb(res, 2)
    want = _logits(res, ids)
    out = res.save_adapter(tmp_path / "adapter")
    assert (out / "adapter_model.safetensors").exists() and (out / "adapter_config.json").exists()
    res.reset(1)
    assert not torch.allclose(_logits(res, ids), want)
    res.load_adapter(out, "t")
    assert res.task_id == "t"
    assert torch.allclose(_logits(res, ids), want)
    with pytest.raises(ModelError, match="adapter not found"):
        res.load_adapter(tmp_path / "nowhere", "t")


def test_resident_cache_loads_once(model_cfg: ModelConfig) -> None:
    first, loaded = resident(model_cfg, "cpu")
    again, loaded_again = resident(model_cfg, "cpu")
    assert loaded and not loaded_again and again is first


def test_model_dir_problems_are_model_errors(tmp_path: Path, tiny_model: Path) -> None:
    with pytest.raises(ModelError, match="model directory not found"):
        load_base(ModelConfig(path=str(tmp_path / "none")), "cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load_base(ModelConfig(path=str(tmp_path / "empty")), "cpu")
    (tmp_path / "empty" / "config.json").write_text((tiny_model / "config.json").read_text())
    with pytest.raises(ModelError, match="no \\*.safetensors"):
        load_base(ModelConfig(path=str(tmp_path / "empty")), "cpu")


def _loss(res: Resident, task: Task) -> float:
    enc = encode_train(res.vocab, task, 1024)
    with torch.no_grad():
        return float(output_loss(res, torch.tensor([enc.ids]), torch.tensor([enc.labels])))


def test_training_reduces_the_loss(res: Resident, small_tasks: list[Task]) -> None:
    task = small_tasks[0]
    cfg = TrainConfig(max_steps=5, lr=1e-2, warmup_steps=1, seed=0)
    res.reset(0, task.id)
    before = _loss(res, task)
    stats = train_adapter(res, task, cfg, 1024, deadline=time.time() + 120)
    assert stats.steps == 5 and stats.stopped_by == "steps" and stats.tokens > 0
    assert _loss(res, task) < before
    assert stats.last_loss < stats.first_loss
    assert not res.model.training  # back in eval mode


def test_training_is_deterministic_in_the_seed(res: Resident, small_tasks: list[Task]) -> None:
    task = small_tasks[1]
    cfg = TrainConfig(max_steps=2, lr=1e-2, seed=5)
    runs = []
    for _ in range(2):
        res.reset(0, task.id)
        runs.append(train_adapter(res, task, cfg, 1024, deadline=time.time() + 120).last_loss)
    assert runs[0] == runs[1]


def test_only_lora_parameters_change(res: Resident, small_tasks: list[Task]) -> None:
    res.reset(0)
    before = {n: p.detach().clone() for n, p in res.model.named_parameters()}
    train_adapter(res, small_tasks[0], TrainConfig(max_steps=2, lr=1e-2), 1024, deadline=time.time() + 120)
    changed = {n for n, p in res.model.named_parameters() if not torch.equal(before[n], p)}
    assert changed and all("lora_" in n for n in changed)


def test_deadline_stops_training(res: Resident, small_tasks: list[Task]) -> None:
    res.reset(0)
    past = train_adapter(res, small_tasks[0], TrainConfig(max_steps=1000), 1024, deadline=time.time() - 1)
    assert past.steps == 0 and past.stopped_by == "deadline"
    window = 1.0
    t0 = time.time()
    stats = train_adapter(res, small_tasks[0], TrainConfig(max_steps=100_000), 1024, deadline=t0 + window)
    assert stats.stopped_by == "deadline" and 0 < stats.steps < 100_000
    assert time.time() - t0 < window + 2.0  # stops near the deadline; slack for one slow step on a busy machine


def test_zero_steps_and_tasks_that_do_not_fit(res: Resident, small_tasks: list[Task]) -> None:
    assert train_adapter(res, small_tasks[0], TrainConfig(max_steps=0), 1024, time.time() + 60).steps == 0
    stats = train_adapter(res, small_tasks[0], TrainConfig(max_steps=5), max_tokens=8, deadline=time.time() + 60)
    assert stats.steps == 0 and stats.stopped_by == "no-data"


def test_full_fine_tuning_trains_the_base_weights_and_a_reset_restores_them_exactly(model_cfg: ModelConfig, small_tasks: list[Task],
                                                                                     tmp_path: Path) -> None:
    from dataclasses import replace

    from tasks_lib.config import ConfigError

    full = load_base(replace(model_cfg, adapt="full"), "cpu")
    task = small_tasks[0]
    full.reset(0, task.id)
    pretrained = {n: p.detach().clone() for n, p in full.model.named_parameters()}
    before = _loss(full, task)
    stats = train_adapter(full, task, TrainConfig(max_steps=4, lr=1e-3, warmup_steps=1), 1024, deadline=time.time() + 120)
    changed = {n for n, p in full.model.named_parameters() if not torch.equal(pretrained[n], p)}
    assert stats.steps == 4 and _loss(full, task) < before
    assert changed and not any("lora_" in n for n in changed)  # the base weights trained, the adapter did not
    assert any("embed_tokens" in n for n in changed) and any("mlp" in n for n in changed)
    full.save_adapter(tmp_path / "a")
    full.load_adapter(tmp_path / "a", "other")  # another task's adapter: its weights start from the base again
    for reload in (lambda: full.reset(1, task.id), lambda: full.load_adapter(tmp_path / "a", task.id)):
        train_adapter(full, task, TrainConfig(max_steps=1, lr=1e-3), 1024, deadline=time.time() + 120)
        reload()
        assert all(torch.equal(pretrained[n], p) for n, p in full.model.named_parameters() if "lora_" not in n)
    with pytest.raises(ConfigError, match="float32 with adapt=full"):
        replace(model_cfg, adapt="full", dtype="bfloat16")


def test_full_fine_tuning_cannot_share_one_adapter() -> None:
    from tasks_lib.config import ConfigError, RunConfig

    with pytest.raises(ConfigError, match="train.scope='shared'"):
        RunConfig().replace({"model": {"adapt": "full", "dtype": "float32"}, "train": {"scope": "shared"}})
