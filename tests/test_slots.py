"""Slots: GPU leases through lock files, and the pool of worker processes that keep the model resident,
including a hung step that must be killed at its timeout while the slot recovers."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Iterator

import pytest

from tasks_lib.arc.data import LoadResult, Task
from tasks_lib.arc.report_parts import SlotLoad
from tasks_lib.arc.store import RunDir
from tasks_lib.config import ModelConfig, RunConfig, SampleConfig, SlotConfig, TrainConfig
from tasks_lib.running import slots
from tasks_lib.running.budget import Budget
from tasks_lib.running.run import Run
from tasks_lib.running.slots import LeaseError, SlotError, SlotPool, claim_gpus, physical_gpu_id, plan_devices, visible_gpu_count

HANG, OOM = "inject-hang", "inject-oom"


@pytest.fixture(autouse=True)
def all_gpus_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lock names follow CUDA_VISIBLE_DEVICES: every test starts as a process that sees all GPUs."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_two_claims_get_different_gpus_and_none_left_is_an_error(tmp_path: Path) -> None:
    first = claim_gpus((0, 1), 1, tmp_path)
    second = claim_gpus((0, 1), 1, tmp_path)
    assert first.gpus == [0] and second.gpus == [1]
    assert (tmp_path / "gpu-0.lock").exists()
    with pytest.raises(LeaseError, match="leased by other runs"):
        claim_gpus((0, 1), 2, tmp_path)
    first.release()
    assert claim_gpus((0, 1), 2, tmp_path).gpus == [0]
    second.release()


def test_a_claim_takes_at_most_what_it_wants(tmp_path: Path) -> None:
    leases = claim_gpus((0, 1, 2, 3), 2, tmp_path)
    assert leases.gpus == [0, 1]
    assert claim_gpus((0, 1, 2, 3), 4, tmp_path).gpus == [2, 3]


def test_runs_under_different_visible_devices_lease_different_physical_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    first = claim_gpus((0,), 1, tmp_path)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    second = claim_gpus((0,), 1, tmp_path)
    assert (first.gpus, first.ids, second.gpus, second.ids) == ([0], ["0"], [0], ["1"])
    assert {p.name for p in tmp_path.glob("*.lock")} == {"gpu-0.lock", "gpu-1.lock"}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,1")
    third = claim_gpus((0, 1), 2, tmp_path)
    assert (third.gpus, third.ids) == ([0], ["2"]), "physical GPU 1 (index 1 here) is the second run's"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    with pytest.raises(LeaseError, match=r"physical ids \['1'\].*locks in"):
        claim_gpus((0,), 1, tmp_path)
    for leases in (first, second, third):
        leases.release()


def test_gpu_uuids_name_the_lease(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gpu, mig = "GPU-5f3a9c1e-0b7d-4e2a-9f10-7c3b2a1d0e4f", "MIG-GPU-5f3a9c1e-0b7d-4e2a-9f10-7c3b2a1d0e4f/1/0"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{gpu}, {mig}")
    leases = claim_gpus((0, 1), 2, tmp_path)
    assert leases.ids == [gpu, mig]
    assert {p.name for p in tmp_path.glob("*.lock")} == {f"gpu-{gpu}.lock", "gpu-MIG-GPU-5f3a9c1e-0b7d-4e2a-9f10-7c3b2a1d0e4f_1_0.lock"}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", mig)
    with pytest.raises(LeaseError, match="leased by other runs"):
        claim_gpus((0,), 1, tmp_path)
    leases.release()
    assert physical_gpu_id(1, "4,7") == "7"
    with pytest.raises(LeaseError, match="CUDA index 2 has no entry"):
        physical_gpu_id(2, "4,7")


def test_a_run_under_visible_devices_gives_its_workers_that_physical_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run.open_slots end to end, with one GPU faked visible: the worker's CUDA_VISIBLE_DEVICES is the physical
    id, never the parent's index 0 (which, set in the worker, would be physical GPU 0)."""
    monkeypatch.setattr(slots, "visible_gpu_count", lambda: 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    cfg = RunConfig().replace({"slots": {"device": "cuda", "slots_per_device": 2, "lock_dir": str(tmp_path / "locks")}})
    run = Run(cfg, LoadResult(tasks=[], source="none"), RunDir(tmp_path / "out"), None, [], {}, [])
    pool = run.open_slots()
    try:
        assert [s.env["CUDA_VISIBLE_DEVICES"] for s in pool.slots] == ["1", "1"]
        assert [s.device for s in pool.slots] == ["cuda:0", "cuda:0"]
        assert run.budget.slots == 2 and run.budget.start == run.started, "the budget is built knowing its slots"
        assert (tmp_path / "locks" / "gpu-1.lock").exists() and not (tmp_path / "locks" / "gpu-0.lock").exists()
    finally:
        run.close()


def test_cpu_plan_and_pool_size() -> None:
    assert plan_devices(SlotConfig(device="cpu")).kind == "cpu"
    pool = SlotPool.for_run(SlotConfig(device="cpu", cpu_slots=2, threads_per_slot=1), [])
    assert len(pool) == 2 and {s.device for s in pool.slots} == {"cpu"}
    gpu_pool = SlotPool.for_run(SlotConfig(slots_per_device=2), ["3", "GPU-5f3a"])
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in gpu_pool.slots] == ["3", "3", "GPU-5f3a", "GPU-5f3a"]
    assert not any("ARC_TTT_MEMORY_GB" in s.env for s in gpu_pool.slots)
    capped = SlotPool.for_run(SlotConfig(memory_gb=24), ["3"])
    assert capped.slots[0].env["ARC_TTT_MEMORY_GB"] == "24"  # the worker caps itself (memory.cap_process) before it allocates


@pytest.mark.skipif(visible_gpu_count() > 0, reason="checks the error on a machine without GPUs")
def test_cuda_without_a_gpu_is_a_lease_error() -> None:
    with pytest.raises(LeaseError, match="no CUDA GPU"):
        plan_devices(SlotConfig(device="cuda"))


def test_asking_for_more_gpus_than_visible_uses_those_visible_and_says_so(monkeypatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("tasks_lib.running.slots.visible_gpu_count", lambda: 1)
    with caplog.at_level("WARNING", logger="tasks_lib.running.slots"):
        plan = plan_devices(SlotConfig(device="cuda", gpus=2))
    assert (plan.kind, plan.want) == ("cuda", 1)
    assert "slots.gpus=2 but 1 CUDA GPU(s) visible" in caplog.text


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlotPool]:
    """One CPU worker whose sample op hangs for task HANG and fakes out-of-memory for task OOM."""
    inject = f"sample:hang:{HANG},sample:oom:{OOM}"
    p = SlotPool([("cpu", {"CUDA_VISIBLE_DEVICES": "", "ARC_TTT_INJECT": inject})], threads=1,
                 log_dir=tmp_path_factory.mktemp("slot-logs"))
    yield p
    p.close()


def _sample_kwargs(task: Task, model_cfg: ModelConfig, adapter_dir: str) -> dict:
    return dict(task=task, model=model_cfg, sample=SampleConfig(views=2, samples_per_view=1), adapter_dir=adapter_dir,
                deadline=time.time() + 60)


def test_worker_loads_once_trains_and_samples(pool: SlotPool, model_cfg: ModelConfig, small_tasks: list[Task], tmp_path: Path) -> None:
    task = small_tasks[0]
    first = SlotLoad.from_json(pool.call(0, "load", 300, model=model_cfg), "load")  # the worker writes a SlotLoad's JSON form
    assert first.device == "cpu" and first.parameters > 0 and first.error is None and first.extra == {}
    assert SlotLoad.from_json(pool.call(0, "load", 60, model=model_cfg)).loaded_now is False
    adapter = tmp_path / "adapter"
    trained = pool.call(0, "train", 120, task=task, model=model_cfg, train=TrainConfig(max_steps=2), adapter_dir=str(adapter),
                        deadline=time.time() + 60, seed=0)
    assert trained["steps"] == 2 and trained["loaded_now"] is False
    assert (adapter / "adapter_model.safetensors").exists()
    out = pool.call(0, "sample", 120, **_sample_kwargs(task, model_cfg, str(adapter)))
    assert len(out["candidates"]) == len(task.test_inputs)
    assert out["stats"]["generated"] == 2 * len(task.test_inputs) and out["stats"]["views_done"] == 2
    assert out["adapter_switched"] is False  # the adapter it just trained is still resident
    other = pool.call(0, "sample", 120, **_sample_kwargs(small_tasks[1], model_cfg, ""))
    assert other["adapter_switched"] is True
    assert pool.slots[0].starts == 1


def test_step_errors_are_reported_and_the_worker_survives(pool: SlotPool, model_cfg: ModelConfig, small_tasks: list[Task]) -> None:
    with pytest.raises(SlotError) as err:
        pool.call(0, "sample", 60, **_sample_kwargs(dataclasses.replace(small_tasks[0], id=OOM), model_cfg, ""))
    assert err.value.kind == "oom"
    with pytest.raises(SlotError) as err:
        pool.call(0, "no_such_op", 60)
    assert err.value.kind == "error" and "AttributeError" in str(err.value)
    starts = pool.slots[0].starts
    assert pool.call(0, "load", 60, model=model_cfg)["loaded_now"] is False
    assert pool.slots[0].starts == starts


def test_a_hung_step_is_killed_at_its_timeout_and_the_slot_recovers(pool: SlotPool, model_cfg: ModelConfig, small_tasks: list[Task]) -> None:
    pool.call(0, "load", 300, model=model_cfg)
    proc = pool.slots[0].proc
    starts = pool.slots[0].starts
    timeout = 2.0
    t0 = time.monotonic()
    with pytest.raises(SlotError) as err:
        pool.call(0, "sample", timeout, **_sample_kwargs(dataclasses.replace(small_tasks[0], id=HANG), model_cfg, ""))
    waited = time.monotonic() - t0
    assert err.value.kind == "timeout"
    assert timeout <= waited < timeout + 10
    assert proc.poll() is not None  # the hung worker is gone
    again = pool.call(0, "load", 300, model=model_cfg)
    assert again["loaded_now"] is True  # a fresh worker loaded the model
    assert pool.slots[0].starts == starts + 1


class _ExitingProc:
    """A stand-in worker process that records when it is told to exit and when it is waited for."""

    def __init__(self, name: str, events: list[tuple[str, str]]):
        self.name, self.events, self.stdout, self.code = name, events, None, None
        self.stdin = self

    def write(self, data: bytes) -> None:
        self.events.append(("told", self.name))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def poll(self) -> int | None:
        return self.code

    def wait(self, timeout: float | None = None) -> int:
        self.events.append(("waited", self.name))
        self.code = 0
        return 0

    def kill(self) -> None:
        self.events.append(("killed", self.name))


def test_close_tells_every_worker_to_exit_before_waiting_for_any() -> None:
    """Workers shut down side by side: a GPU worker's exit takes about a second, one after the other that was
    ~12 s at the end of an 8-slot H200 run."""
    events: list[tuple[str, str]] = []
    pool = SlotPool([("cpu", {}) for _ in range(3)])
    for slot in pool.slots:
        slot.proc = _ExitingProc(slot.name, events)
    pool.close()
    assert ("killed", "slot-0") not in events and {name for what, name in events if what == "waited"} == {"slot-0", "slot-1", "slot-2"}
    assert all(slot.proc is None for slot in pool.slots)
    assert events[:3] == [("told", "slot-0"), ("told", "slot-1"), ("told", "slot-2")], f"all told before any wait: {events}"
