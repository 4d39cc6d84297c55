"""The fast training step computes the plain step's loss and gradients, compiles once per slot (an adapter
reset never recompiles), and drives `train_adapter` with few host syncs."""

from __future__ import annotations

import random
import time
from dataclasses import replace

import pytest

from tasks_lib.adapting.model import Resident, load_base
from tasks_lib.adapting.train import train_adapter
from tasks_lib.adapting.train_steps import TrainStep, make_step
from tasks_lib.arc.data import Task
from tasks_lib.arc.encoding import IGNORE, Encoded
from tasks_lib.config import ConfigError, ModelConfig, TrainConfig

torch = pytest.importorskip("torch")


def _live(res: Resident) -> Resident:
    """Reset, then a nonzero B: after a plain reset B = 0 would give zero gradients to every A."""
    res.reset(0)
    with torch.no_grad():
        for name, p in res.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)
    res.model.train()
    return res


@pytest.fixture(scope="module")
def res(model_cfg: ModelConfig) -> Resident:
    return _live(load_base(model_cfg, "cpu"))


def _sequence(length: int, seed: int) -> Encoded:
    """Random ARC-vocabulary ids, labels on alternating spans of 23 tokens (prompt, output, prompt, ...)."""
    rng = random.Random(seed)
    ids = [1] + [rng.randrange(3, 16) for _ in range(length - 1)]
    return Encoded(ids, [t if (i // 23) % 2 else IGNORE for i, t in enumerate(ids)])


@pytest.fixture(scope="module")
def grid_res(tmp_path_factory, model_cfg: ModelConfig) -> Resident:
    """A tiny arc_grid model (positions over grid, line and column), prepared as `res`."""
    from tasks_lib.adapting.model import build_tiny_model

    path = build_tiny_model(tmp_path_factory.mktemp("grid") / "m", hidden=64, layers=2, heads=2, intermediate=128, positions="grid")
    return _live(load_base(replace(model_cfg, path=str(path)), "cpu"))


def _loss_and_grads(step: TrainStep, enc: Encoded) -> tuple[float, list]:
    loss = step.loss(enc)
    step.opt.zero_grad(set_to_none=True)
    loss.backward()
    return loss.item(), [p.grad.detach().clone() for p in step.params]


def _worst_relative_error(got: list, want: list) -> float:
    return max(float((g - w).norm() / w.norm()) for g, w in zip(got, want))


@pytest.mark.parametrize("which", ["llama", "grid"])
@pytest.mark.parametrize("options", [dict(), dict(ce_chunk=5, checkpoint_min_tokens=64)], ids=["whole", "chunked+checkpointed"])
def test_fast_step_matches_plain_peft_in_fp32(which: str, request: pytest.FixtureRequest, options: dict) -> None:
    """The fast step computes the rotary tables itself: for a grid model they must be the model's own."""
    res = request.getfixturevalue("res" if which == "llama" else "grid_res")
    enc = _sequence(150, seed=1)
    want_loss, want = _loss_and_grads(make_step(res, TrainConfig(), reference=True), enc)
    fast = make_step(res, TrainConfig(step="fast", compile="off", **options))
    assert fast.kind == "fast" and fast.forward.autocast_dtype is None
    got_loss, got = _loss_and_grads(fast, enc)
    assert got_loss == pytest.approx(want_loss, rel=1e-5)
    assert _worst_relative_error(got, want) < 1e-4


def test_fast_step_with_bf16_autocast_matches_plain_peft_within_bf16_tolerance(model_cfg: ModelConfig) -> None:
    res = _live(load_base(replace(model_cfg, dtype="bfloat16"), "cpu"))
    enc = _sequence(120, seed=2)
    want_loss, want = _loss_and_grads(make_step(res, TrainConfig(), reference=True), enc)
    fast = make_step(res, TrainConfig(step="fast", compile="off"))
    assert fast.forward.autocast_dtype == torch.bfloat16
    got_loss, got = _loss_and_grads(fast, enc)
    assert got_loss == pytest.approx(want_loss, rel=2e-2)
    assert _worst_relative_error(got, want) < 5e-2


@pytest.mark.parametrize("scope", ["layer", "model"])
def test_compiled_step_matches_and_a_reset_does_not_recompile(res: Resident, scope: str) -> None:
    cfg = TrainConfig(step="fast", compile="eager", compile_scope=scope, sync_every=4)
    enc = _sequence(90, seed=3)
    want_loss, want = _loss_and_grads(make_step(res, TrainConfig(), reference=True), enc)
    got_loss, got = _loss_and_grads(make_step(res, cfg), enc)
    assert got_loss == pytest.approx(want_loss, rel=1e-5)
    assert _worst_relative_error(got, want) < 1e-4
    warm = res.compiles
    assert warm > 0 and (scope, "eager") in res._compiled
    make_step(res, cfg)(_sequence(130, seed=4))  # another length: dynamic shapes, no new graph
    res.reset(7, "next-task")
    make_step(res, cfg)(_sequence(70, seed=5))  # a fresh optimizer after a reset in place
    assert res.compiles == warm


def _activation_casts(fn) -> int:
    """How many tensors of at least 2,000 elements `fn()` casts to another dtype (aten._to_copy)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    count = 0

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            nonlocal count
            if func is torch.ops.aten._to_copy.default and args[0].numel() >= 2000:
                count += 1
            return func(*args, **(kwargs or {}))

    with Count():
        fn()
    return count


def test_the_bf16_step_skips_the_lora_input_casts_and_computes_the_same_numbers(model_cfg: ModelConfig) -> None:
    """Under autocast PEFT's cast of a LoRA layer's input to its fp32 weights (bf16 -> fp32, then back to bf16 for the
    matmul) changes no number: the fast step turns it off inside the step, and turns it back on after."""
    res = _live(load_base(replace(model_cfg, dtype="bfloat16"), "cpu"))
    cfg = TrainConfig(step="fast", compile="off")
    enc = _sequence(90, seed=3)
    step, kept = make_step(res, cfg), make_step(res, replace(cfg, lora_input_casts="keep"))  # keep: PEFT's casts, as it was
    assert step.forward.autocast_dtype == torch.bfloat16 and step.forward._lora_layers
    got, want = [], []
    casts = _activation_casts(lambda: got.extend(_loss_and_grads(step, enc)))
    kept_casts = _activation_casts(lambda: want.extend(_loss_and_grads(kept, enc)))
    assert got[0] == want[0] and all(torch.equal(a, b) for a, b in zip(got[1], want[1]))
    assert casts < kept_casts / 2, (casts, kept_casts)
    assert all(layer.cast_input_dtype_enabled for layer in step.forward._lora_layers)
    with pytest.raises(ConfigError, match="lora_input_casts"):
        TrainConfig(lora_input_casts="never")


def test_train_adapter_takes_the_fast_step_and_reads_losses_in_windows(res: Resident, small_tasks: list[Task]) -> None:
    res.reset(0)
    stats = train_adapter(res, small_tasks[0], TrainConfig(step="fast", compile="off", max_steps=5, sync_every=3), 512, 1e12)
    assert stats.step_kind == "fast" and stats.steps == 5 and stats.compiles == 0
    assert stats.first_loss is not None and stats.last_loss is not None and stats.last_loss < stats.first_loss


def test_step_defaults_to_simple_on_cpu_and_config_rejects_bad_values(res: Resident) -> None:
    assert make_step(res, TrainConfig()).kind == "simple"
    with pytest.raises(ConfigError, match="sync_every"):
        TrainConfig(sync_every=0)
    with pytest.raises(ConfigError, match="compile"):
        TrainConfig(compile="max-autotune")


def test_warm_up_compiles_before_the_first_task_and_leaves_the_base_model(model_cfg: ModelConfig, small_tasks) -> None:
    """The slot's load compiles the step (graphs > 0) and resets the adapter; the first task then builds none."""
    fresh = load_base(model_cfg, "cpu")
    cfg = TrainConfig(step="fast", compile="eager", max_steps=2)
    from tasks_lib.adapting.train import warm_up

    assert warm_up(fresh, cfg) > 0
    assert all(float(p.detach().abs().sum()) == 0.0 for n, p in fresh.model.named_parameters() if "lora_B" in n)
    stats = train_adapter(fresh, small_tasks[0], cfg, 2048, deadline=float("inf"))
    assert stats.steps == 2 and stats.compiles == 0
    assert warm_up(fresh, TrainConfig(step="simple")) == 0


def test_warm_up_covers_every_batch_of_views_a_task_steps_with(model_cfg: ModelConfig, small_tasks) -> None:
    """Warmed up for 4 views a step under a tokens cap, no task compiles: not a 4-view step, nor the 1-3 views a step
    that the cap leaves for longer views (before, the warm-up trained one view and a 4-view task recompiled).
    Without the cap no step has one view, and the warm-up builds only the graphs of several views."""
    from tasks_lib.adapting.train import warm_up

    fresh = load_base(model_cfg, "cpu")
    cfg = TrainConfig(step="fast", compile="eager", max_steps=2, views_per_step=4)
    built = warm_up(fresh, replace(cfg, tokens_per_step=200))
    views = {}  # (task, tokens cap) -> views trained in 2 steps
    for task in small_tasks[:2]:  # views of 91 and 107 tokens
        for cap in (0, 300, 200):  # 4 views a step; 3, 2; 2, 1
            fresh.reset(0, task.id)
            stats = train_adapter(fresh, task, replace(cfg, tokens_per_step=cap), 2048, deadline=float("inf"))
            assert stats.steps == 2 and stats.compiles == 0 and stats.build_seconds == 0.0, (task.id, cap)
            views[task.id, cap] = stats.views
    assert sorted(views.values()) == [2, 4, 4, 6, 8, 8], views  # every batch size from 1 to 4 trained
    assert 0 < warm_up(load_base(model_cfg, "cpu"), cfg) < built


def test_one_view_steps_is_true_only_where_a_step_can_train_one_view() -> None:
    from tasks_lib.adapting.train import one_view_steps

    assert one_view_steps(TrainConfig(), 8192)  # one view a step
    assert not one_view_steps(TrainConfig(views_per_step=16), 8192)  # no cap: always 16
    assert not one_view_steps(TrainConfig(views_per_step=16, tokens_per_step=16384), 8192)  # the longest view: 2 a step
    assert one_view_steps(TrainConfig(views_per_step=16, tokens_per_step=8192), 8192)
    assert one_view_steps(TrainConfig(views_per_step=16, tokens_per_step=16384), 8193)  # 8193 pads to 8448 with the graph bucket


def test_a_step_that_compiles_moves_the_task_deadline_by_its_time(model_cfg: ModelConfig, small_tasks, monkeypatch) -> None:
    """A graph built during a task (a shape the warm-up did not cover) is the slot's cost: the deadline moves by
    that step's time, so the task still trains; without the move the compile (1 s a graph here) ends it after one step."""
    real = torch._dynamo.lookup_backend

    def slow(name: str):
        inner = real(name)

        def build(gm, example_inputs):
            time.sleep(1.0)
            return inner(gm, example_inputs)
        return build

    monkeypatch.setattr(torch._dynamo, "lookup_backend", slow)
    fresh = load_base(model_cfg, "cpu")
    cfg = TrainConfig(step="fast", compile="eager", max_steps=3)
    fresh.reset(0, small_tasks[0].id)
    stats = train_adapter(fresh, small_tasks[0], cfg, 2048, deadline=time.time() + 0.3)
    assert stats.compiles > 0 and stats.build_seconds >= 1.0
    assert stats.steps == 3 and stats.stopped_by == "steps"
    fresh = load_base(model_cfg, "cpu")  # the same, with the move bounded by `latest` (the worker call's limit)
    fresh.reset(0, small_tasks[0].id)
    now = time.time()
    bounded = train_adapter(fresh, small_tasks[0], cfg, 2048, deadline=now + 0.3, latest=now + 0.5)
    assert bounded.compiles > 0 and bounded.steps == 1 and bounded.stopped_by == "deadline"
