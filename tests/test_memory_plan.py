"""Memory plans (issue 18, 24 GB cards): decode groups sized from the memory left, scoring in pieces, and a training
step that runs out of memory going on light or skipping instead of failing the task."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

from tasks_lib.adapting import memory
from tasks_lib.adapting.model import Resident, load_base
from tasks_lib.adapting.train import MAX_SKIPS, train_adapter, train_loop
from tasks_lib.adapting.train_steps import LightMode
from tasks_lib.arc.data import Task
from tasks_lib.arc.encoding import IGNORE, Encoded
from tasks_lib.config import ModelConfig, SampleConfig, TrainConfig
from tasks_lib.decoding.sample import Decoded, _cached_views, engine_for, sample_task

torch = pytest.importorskip("torch")

FAST = dict(step="fast", compile="off", cuda_graphs="off")


# ---- the plan, as pure arithmetic ----

@pytest.mark.parametrize("available, want", [
    (None, [8]),  # no limit known (the CPU without a figure): one group
    (100e9, [8]),
    (4e9, [2, 2, 2, 2]),  # usable 4e9 * 0.85 - 0.5e9 = 2.9e9: two views of 1e9 per group
    (4.5e9, [3, 3, 2]),  # usable 3.325e9: three views, three groups as even as they go
    (7e9, [4, 4]),  # usable 5.45e9: five would fit, but two groups of four are as few and even
    (1e9, [1] * 8),  # not even one view fits: one view per group, the sampler's OOM retry is the last resort
])
def test_plan_groups_sizes_follow_the_formula(available: float | None, want: list[int]) -> None:
    assert memory.plan_groups(8, per_view=int(1e9), fixed=int(0.5e9), available=None if available is None else int(available)) == want


def test_plan_groups_always_covers_every_view() -> None:
    for views in range(1, 20):
        for budget in range(0, 30):
            plan = memory.plan_groups(views, 100, 50, budget * 40)
            assert sum(plan) == views and all(g >= 1 for g in plan) and max(plan) - min(plan) <= max(plan) // 2 + 1


def _qwen3_4b_engine() -> SimpleNamespace:
    """The attributes `memory.Dims.of` reads, for the Qwen3-4B shape of issue 18 (bf16, 256-token prefix buckets)."""
    cfg = SimpleNamespace(hidden_size=2560, intermediate_size=9728)
    return SimpleNamespace(n_layers=36, n_heads=32, n_kv=8, head_dim=128, vocab_size=151936, dtype=torch.bfloat16,
                           lm=SimpleNamespace(config=cfg), bucket=256)


def test_qwen3_4b_at_arc_agi_2_lengths_is_split_into_groups_that_fit() -> None:
    eng = _qwen3_4b_engine()
    d = memory.Dims.of(eng)
    assert d.kv_token == 36 * 8 * 128 * 2 * 2  # 147 KB of K and V per token
    lengths = [8000] * 8  # 8 views of an ~8k-token prompt, 2 samples each, 931-token answers
    per_view = memory.view_bytes(d, 8192, 2, 960)
    fixed = memory.prefill_bytes(d, 8192)
    assert per_view == 2 * 8192 * d.kv_token + 2 * 960 * d.kv_token + 2 * 8 * 151936 * 4 + 2 * 3 * 32 * (8192 + 960) * 4
    available = 13 * 10**9  # 22.35 GiB cap minus ~9 GB of weights and adapter state
    plan = memory.decode_plan(eng, lengths, 2, 931, available)
    assert plan == [3, 3, 2]
    assert fixed + max(plan) * per_view <= available * (1 - memory.SAFETY)
    assert fixed + 8 * per_view > available  # one batch of all views would not fit
    assert memory.decode_plan(eng, lengths, 2, 931, None) == [8]


def _fake_cuda(total: int, fraction: list[float]) -> SimpleNamespace:
    """A torch stand-in with one CUDA card of `total` bytes whose per-process fraction is kept in `fraction`."""
    def set_fraction(f: float, device) -> None:
        fraction[:] = [f]

    cuda = SimpleNamespace(is_available=lambda: True, get_device_properties=lambda d: SimpleNamespace(total_memory=total),
                           set_per_process_memory_fraction=set_fraction, get_per_process_memory_fraction=lambda d: fraction[0])
    return SimpleNamespace(cuda=cuda, device=lambda d: d)


def test_a_capped_slot_plans_inside_its_cap(monkeypatch) -> None:
    """slots.memory_gb: 24 on a 150 GB card sets the fraction 0.16, and the plans' limit is then 24 GB, not the card."""
    fraction = [1.0]
    monkeypatch.setattr(memory, "_torch", lambda: _fake_cuda(150 * 10**9, fraction))
    assert memory.device_limit("cuda:0") == 150 * 10**9
    assert memory.cap_process("cuda:0", 24) == pytest.approx(0.16)
    assert memory.device_limit("cuda:0") == pytest.approx(24 * 10**9, rel=1e-9)
    assert memory.cap_process("cuda:0", 500) == 1.0  # never above the card


def test_cap_is_nothing_off_cuda() -> None:
    assert memory.cap_process("cpu", 24) is None


def test_capture_fits_is_a_share_of_the_room() -> None:
    assert memory.capture_fits(2 * 2**30, 13 * 2**30)
    assert not memory.capture_fits(10 * 2**30, 13 * 2**30)  # a 1.8k-token 4B body: eager, its pool would starve the rest


def test_no_limit_on_cpu_unless_told() -> None:
    assert memory.available_bytes("cpu") is None
    assert memory.available_bytes("cpu", told=123) == 123


# ---- sampling: every view decoded, across groups ----

@pytest.fixture(scope="module")
def res() -> Resident:
    torch.manual_seed(0)
    r = load_base(ModelConfig(dtype="float32"), "cpu")
    with torch.no_grad():  # a non-trivial adapter
        g = torch.Generator().manual_seed(1)
        for name, p in r.model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return r


def _prompts(res: Resident, task: Task, views: int) -> list[list[int]]:
    from tasks_lib.arc.augment import apply_task, sample_augmentations

    return [res.fmt.prompt(apply_task(aug, task), 0, 4096, reserve=64) for aug in sample_augmentations(0, views, len(task.train))]


def test_cached_views_decodes_every_view_in_groups_when_memory_is_short(res: Resident, small_tasks: list[Task]) -> None:
    prompts = _prompts(res, small_tasks[0], 4)
    whole = _cached_views(res, prompts, SampleConfig(backend="cached", views=4), 24, 1e12, None)
    assert isinstance(whole, Decoded) and whole.groups == [4] and whole.skipped == 0  # the CPU without a figure: one batch
    eng = engine_for(res, SampleConfig(backend="cached"))
    d = memory.Dims.of(eng)
    one_view = memory.view_bytes(d, max(map(len, prompts)), 2, 64) + memory.prefill_bytes(d, max(map(len, prompts)))
    told = SampleConfig(backend="cached", views=4, memory_gb=1.5 * one_view / (1 - memory.SAFETY) / 1e9)
    split = _cached_views(res, prompts, told, 24, 1e12, None)
    assert split.groups == [1, 1, 1, 1] and split.skipped == 0
    assert len(split) == 4 and all(len(view) == 2 for view in split)  # every view, every sample
    for got, want in zip(split, whole):  # the greedy row of each view is the same
        assert got[0][0] == want[0][0] and got[0][1] == pytest.approx(want[0][1], abs=1e-4)


def test_groups_not_started_by_the_deadline_are_skipped_and_counted(res: Resident, small_tasks: list[Task]) -> None:
    cfg = SampleConfig(backend="cached", views=4, memory_gb=1e-6)  # one view per group
    _, stats = sample_task(res, small_tasks[0], cfg, 4096, time.time() - 1)
    assert stats.decode_groups == [1] and stats.groups_skipped == 3 and stats.stopped_by == "deadline"
    per_test, stats = sample_task(res, small_tasks[0], cfg, 4096, time.time() + 600)
    tests = len(small_tasks[0].test_inputs)
    assert stats.decode_groups == [1, 1, 1, 1] * tests and stats.groups_skipped == 0
    assert stats.generated == tests * 4 * 2 and stats.views_done == 4


def test_score_pieces_bound_the_logits_and_give_the_same_numbers(res: Resident, small_tasks: list[Task], monkeypatch) -> None:
    import tasks_lib.decoding.teacher as teacher

    eng = engine_for(res, SampleConfig(backend="cached"))
    prompt = _prompts(res, small_tasks[0], 1)[0]
    comps = [[5, 6, 7, 3, 4, 13, 2], [5, 2], [9, 9, 9, 9, 9, 9, 9, 9, 9, 2]]
    want = eng.score(eng.prefill([prompt]), 0, comps)
    V = eng.vocab_size
    seen: list[int] = []
    hook = eng.lm.lm_head.register_forward_hook(lambda m, args, out: seen.append(out.numel() // V))
    try:
        monkeypatch.setattr(teacher, "LOGIT_ELEMENTS", 3 * V)  # at most 3 positions' logits at once
        got = eng.score(eng.prefill([prompt]), 0, comps)
    finally:
        hook.remove()
    assert got == pytest.approx(want, abs=1e-4)
    assert seen[0] == 1  # the prefill: the last position's logits only
    assert max(seen[1:]) <= 3 and len(seen) > 4  # scoring: pieces of at most 3 positions x rows


# ---- training: an out-of-memory step goes light, then skips; the task still trains ----

def _seq(length: int, seed: int) -> Encoded:
    rng = random.Random(seed)
    ids = [1] + [rng.randrange(3, 16) for _ in range(length - 1)]
    return Encoded(ids, [t if (i // 23) % 2 else IGNORE for i, t in enumerate(ids)])


@pytest.fixture()
def fresh(model_cfg: ModelConfig) -> Resident:
    r = load_base(model_cfg, "cpu")
    r.reset(0)
    return r


def _oom_layers(monkeypatch, min_tokens: int, times: int | None) -> dict:
    """Make the fast step's plain layer call run out of memory for sequences of at least `min_tokens` (the first
    `times` calls, or always), and count the checkpointed (light) layer calls."""
    import tasks_lib.adapting.train_steps as ts

    seen = {"raised": 0, "ckpt": 0}
    plain, ckpt = ts._layer_call, ts._layer_call_checkpointed

    def layer(layer_mod, hidden, cos, sin):
        if hidden.shape[1] >= min_tokens and (times is None or seen["raised"] < times) and not seen.get("inside"):
            seen["raised"] += 1
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate 4.00 GiB (fake, {hidden.shape[1]} tokens)")
        return plain(layer_mod, hidden, cos, sin)

    def layer_ckpt(layer_mod, hidden, cos, sin):
        seen["ckpt"] += 1
        seen["inside"] = True  # the light path: this recomputing call fits
        try:
            return ckpt(layer_mod, hidden, cos, sin)
        finally:
            seen["inside"] = False

    monkeypatch.setattr(ts, "_layer_call", layer)
    monkeypatch.setattr(ts, "_layer_call_checkpointed", layer_ckpt)
    return seen


def test_a_train_step_out_of_memory_goes_light_and_training_goes_on(fresh: Resident, small_tasks: list[Task], monkeypatch, caplog) -> None:
    seen = _oom_layers(monkeypatch, 1, times=1)  # the first step runs out of memory once
    with caplog.at_level(logging.WARNING):
        stats = train_adapter(fresh, small_tasks[0], TrainConfig(max_steps=3, **FAST), 1024, 1e12)
    assert stats.steps == 3 and stats.skipped == 0 and stats.last_loss is not None
    assert len(stats.oom) == 1 and "out of memory in a train step at" in stats.oom[0] and "light" in stats.oom[0]
    tokens = LightMode.of(fresh).light_from
    assert tokens > 0 and f"at {tokens} tokens" in caplog.text and "Tried to allocate" in caplog.text
    assert seen["ckpt"] > 0  # the retry and the steps after it recompute their layers


def test_a_length_that_runs_out_light_too_is_skipped_and_longer_ones_after_it(fresh: Resident, monkeypatch) -> None:
    import tasks_lib.adapting.train_steps as ts

    real = ts._head_loss_checkpointed

    def head(norm, head_mod, hidden, targets):  # even the light path runs out at 150 tokens or more
        if seen_len[0] >= 150:
            raise torch.OutOfMemoryError("CUDA out of memory (fake, light)")
        return real(norm, head_mod, hidden, targets)

    seen_len = [0]
    _oom_layers(monkeypatch, 150, times=None)
    monkeypatch.setattr(ts, "_head_loss_checkpointed", head)
    lengths = [60, 160, 80, 200, 150, 90]
    examples = [_seq(n, i) for i, n in enumerate(lengths)]

    def stream():
        for enc in examples:
            seen_len[0] = len(enc.ids)
            yield enc
            seen_len[0] = len(enc.ids)

    stats = train_loop(fresh, TrainConfig(ce_chunk=0, **FAST), stream(), 10, 1e12, "task t")
    assert stats.steps == 3 and stats.stopped_by == "no-data"  # 60, 80 and 90 trained
    assert stats.skipped == 1  # 200 never ran: at least as long as the 160 that ran out light
    assert len(stats.oom) == 4  # 160 ran out, then ran out light; so did 150, shorter than 160, when its turn came
    assert "retrying light" in stats.oom[0] and "skipping examples of 160 tokens" in stats.oom[1]
    assert "at 150 tokens" in stats.oom[2] and "skipping examples of 150 tokens" in stats.oom[3]
    assert LightMode.of(fresh).light_from == 150 and LightMode.of(fresh).skip_from == 150


def test_only_long_examples_left_stop_training_instead_of_spinning(fresh: Resident, monkeypatch) -> None:
    import tasks_lib.adapting.train_steps as ts

    def always(*args):
        raise torch.OutOfMemoryError("CUDA out of memory (fake)")

    monkeypatch.setattr(ts, "output_loss", always)  # the simple step: no light mode, straight to skipping
    stats = train_loop(fresh, TrainConfig(step="simple"), iter([_seq(100, i) for i in range(100)]), 50, 1e12, "task t")
    assert stats.steps == 0 and stats.stopped_by == "oom" and stats.skipped == MAX_SKIPS
    assert len(stats.oom) == 1 and "skipping" in stats.oom[0]


def test_worker_train_op_survives_a_step_out_of_memory(model_cfg: ModelConfig, small_tasks: list[Task], monkeypatch, tmp_path) -> None:
    """The slot worker's `train` op returns its stats and saves the adapter: the task is not failed."""
    from tasks_lib.adapting import model as model_mod
    from tasks_lib.running.worker import Worker

    _oom_layers(monkeypatch, 1, times=1)
    monkeypatch.setattr(model_mod, "_RESIDENT", {})  # this worker's resident model, not the other tests' process cache
    out = Worker("cpu").train(small_tasks[0], replace(model_cfg, lora_rank=2), TrainConfig(max_steps=2, **FAST), str(tmp_path), 1e12, 0)
    assert out["steps"] == 2 and len(out["oom"]) == 1
    assert (tmp_path / "adapter_model.safetensors").exists()
