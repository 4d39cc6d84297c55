"""The run's training arithmetic (tasks_lib/running/compute.py): 6 x parameters x trained tokens, over the card's peak."""

from __future__ import annotations

import pytest

from tasks_lib.arc.records import RefinementEntry, TaskResult, TrainRecord
from tasks_lib.running.compute import PEAK_BF16, peak_flops, trained, training_compute


def _task(tid: str, train: dict | None, refinements: tuple = (), status: str = "ok") -> TaskResult:
    return TaskResult(tid, status, (), train=None if train is None else TrainRecord.from_json(train), refinements=refinements)


def test_peak_by_card_name() -> None:
    assert peak_flops("NVIDIA H100 80GB HBM3") == PEAK_BF16["H100"] == 790e12
    assert peak_flops("NVIDIA H200") == 790e12 and peak_flops("NVIDIA L4") == 121e12
    assert peak_flops("cpu") is None and peak_flops(None) is None and peak_flops("NVIDIA A100-SXM4-80GB") is None


def test_pass_one_and_refinements_count_resumed_tasks_do_not() -> None:
    tasks = [
        _task("a", {"tokens": 1000, "seconds": 2.0}, (RefinementEntry(1, 5.0, 3, 4, train_tokens=500, train_seconds=1.0), RefinementEntry(2, 5.0, 0, 4))),
        _task("b", {"tokens": 3000, "seconds": 4.0}),
        _task("c", None, status="failed"),
        _task("d", {"tokens": 9999, "seconds": 9.0}),
    ]
    assert trained(tasks[0]) == (1500, 3.0)
    c = training_compute(tasks, parameters=15_000_000, work_seconds=10.0, gpus=1, device_name="NVIDIA H100 80GB HBM3", resumed={"d"})
    assert c.trained_tokens == 4500 and c.train_seconds == 7.0
    assert c.flops == 6 * 15e6 * 4500
    assert c.train_tflops_per_slot == pytest.approx(6 * 15e6 * 4500 / 7.0 / 1e12, abs=1e-3)
    assert c.mfu == pytest.approx(6 * 15e6 * 4500 / (10.0 * 790e12), abs=1e-5) and c.peak_tflops == 790.0


def test_no_mfu_off_the_gpu() -> None:
    c = training_compute([_task("a", {"tokens": 1000, "seconds": 2.0})], parameters=10**9, work_seconds=5.0, gpus=0, device_name="cpu")
    assert c.mfu is None and c.peak_tflops is None and c.train_tflops_per_slot == 3.0


def test_the_shared_adapter_trained_in_this_run_counts() -> None:
    from tasks_lib.arc.records import TrainRecord

    tasks = [_task("a", {"tokens": 1000, "seconds": 2.0})]
    c = training_compute(tasks, parameters=15_000_000, work_seconds=10.0, gpus=1, device_name="NVIDIA H100 80GB HBM3",
                         shared=TrainRecord(tokens=4000, seconds=3.0))
    assert c.trained_tokens == 5000 and c.train_seconds == 5.0 and c.flops == 6 * 15e6 * 5000
