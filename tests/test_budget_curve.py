"""The budget-curve benchmark's row: what it reads from a report, and the GPU busy sampler (a fake nvidia-smi)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import benchmarks.budget_curve as curve
from benchmarks.budget_curve import GpuBusy, summarize, table
from tasks_lib.arc.records import RefinementEntry, TaskResult
from tasks_lib.arc.report_parts import Schedule
from tasks_lib.arc.run_record import Report, ReportTask, Score


def _report() -> Report:
    def task(tid: str, state: str, steps: int, budget: float, spans: dict, refinements: tuple = ()) -> ReportTask:
        return ReportTask(TaskResult(tid, "ok", (), slot=0, steps=steps, budget_seconds=budget, spans=spans, refinements=refinements), state)

    return Report(
        "r1", (task("a", "solved", 30, 9.0, {"train": (0.0, 5.0), "sample": (5.0, 6.0)}, (RefinementEntry(1, 3.0, 10, 4),)),
               task("b", "unsolved", 20, 7.5, {"train": (6.5, 9.0)})),
        wall_seconds=95.0, schedule=Schedule(1, 90.0, busy_fraction=0.93, overhead_mean_seconds=0.4, tail_seconds=3.2),
        score=Score(5 / 12, 0.5, 5, 12), score_pass1=Score(4 / 12, 0.4, 4, 12))


def test_a_row_says_budget_used_tail_overhead_and_what_refinement_added() -> None:
    row = summarize(_report(), budget=100.0, wall=97.0, gpu_busy=0.81)
    assert row["budget_used"] == 0.95 and row["tail_seconds"] == 3.2 and row["overhead_seconds"] == 0.4
    assert (row["outputs_pass1"], row["outputs"], row["total_outputs"]) == (4, 5, 12)
    assert row["solved"] == 1 and row["refinements"] == 1 and row["steps"] == 50 and row["min_budget_seconds"] == 7.5
    assert row["slot_gap_seconds"] == 0.5 and row["gpu_busy"] == 0.81
    md = table([{"scale": 1.0, "refine": True, **row}])
    assert "| 100 | 1.0x | on | 1/2 | 4 -> 5 of 12 | 95% | 3.2 | 93% | 81% | 0.4 |" in md


def test_gpu_busy_is_the_mean_of_nvidia_smi_samples(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 40\necho 80\nexec sleep 30\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    sampler = GpuBusy("0")
    time.sleep(0.5)
    assert sampler.stop() == 0.6


def test_gpu_busy_without_nvidia_smi_is_unknown(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert GpuBusy(None).stop() is None


def test_every_row_starts_from_an_empty_run_folder(tmp_path: Path, monkeypatch) -> None:
    """Running the benchmark again into the same --out must not resume the earlier rows' runs."""
    stale = tmp_path / "runs" / "1.0x-refine-on"
    stale.mkdir(parents=True)
    (stale / "result.json").write_text("{}")
    seen = []

    def fake_run(args, profile, budget, out):
        seen.append(sorted(p.name for p in out.iterdir()) if out.exists() else [])
        return _report()

    monkeypatch.setattr(curve, "run_once", fake_run)
    curve.main(["--profile", "cpu", "--scales", "1", "--refine", "on", "--base", "100", "--out", str(tmp_path)])
    assert seen == [[]]
