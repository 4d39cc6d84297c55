"""The slot benchmark's arithmetic (occupancy, NVML busy share), the profile it writes, and the timing rows it reads
from the pipeline's report."""

from __future__ import annotations

import pytest

from benchmarks.slots import busy_fraction, occupancy, part_of, report, steady_start, summarize, tasks_done, write_profile
from tasks_lib.arc.run_record import Report
from tasks_lib.config import load_profile


def test_occupancy_merges_overlapping_steps_and_clips_to_the_window():
    steps = [(0.0, 2.0), (1.0, 3.0), (5.0, 6.0), (9.0, 12.0)]  # two overlap; the last runs past the window
    assert occupancy(steps, 0.0, 10.0) == pytest.approx((3.0 + 1.0 + 1.0) / 10.0)


def test_occupancy_of_an_empty_or_inverted_window_is_zero():
    assert occupancy([(0.0, 1.0)], 5.0, 5.0) == 0.0
    assert occupancy([], 0.0, 1.0) == 0.0


def test_busy_fraction_uses_only_samples_inside_the_window_and_the_asked_gpu():
    samples = [(0.5, [100, 0]), (1.0, [50, 10]), (2.0, [0, 20]), (3.5, [100, 100])]
    assert busy_fraction(samples, 0, 1.0, 3.0) == pytest.approx(0.25)
    assert busy_fraction(samples, 1, 1.0, 3.0) == pytest.approx(0.15)
    assert busy_fraction(samples, 0, 10.0, 11.0) is None


def test_written_profile_is_valid_and_fixes_the_work(tmp_path):
    path = write_profile(tmp_path / "p.yaml", "models/arc-tiny", "cuda", 2, 2, 32, 2, 1, compile_mode="off")
    cfg = load_profile(str(path))
    assert (cfg.slots.gpus, cfg.slots.slots_per_device, cfg.train.max_steps, cfg.sample.views, cfg.train.compile) == (2, 2, 32, 2, "off")
    assert cfg.budget.total_seconds - cfg.budget.reserve_seconds > 1e5  # no deadline can cut the fixed work


def test_report_compares_each_config_with_one_gpu_and_the_naive_baseline():
    def summary(name: str, tph: float) -> dict:
        return {"summary": {"name": name, "slots": 1, "tasks": 20, "failed": 0, "cut_by_deadline": 0, "wall_seconds": 3600 * 20 / tph,
                            "tasks_per_hour": tph, "preload_seconds": 1.0, "per_gpu": {"0": {"busy": 0.9, "occupancy": 0.95, "tasks": 20}},
                            "train_steps": 640, "generated": 50, "median_load": 0.001, "median_train": 1.0, "median_sample": 1.0,
                            "median_vote": 0.01}}

    text = report({"configs": {"1x1": summary("1x1", 1000.0), "2x1": summary("2x1", 1950.0), "naive": summary("naive", 500.0)}})
    row = next(line for line in text.splitlines() if line.startswith("| 2 GPU"))
    assert "1.95x" in row and "3.90x" in row
    without_1x1 = report({"configs": {"1x4": summary("1x4", 2000.0), "4x4": summary("4x4", 7400.0)}})
    row = next(line for line in without_1x1.splitlines() if line.startswith("| 4 GPU"))
    assert "3.70x" in row  # the one-GPU config with the same slots per GPU is the baseline


def test_steady_state_starts_when_every_slot_has_finished_its_first_task_and_counts_straddlers_by_share():
    rows = [
        {"slot": 0, "start": 0.0, "end": 10.0},  # slot 0's warm-up task
        {"slot": 1, "start": 0.0, "end": 6.0},  # slot 1's warm-up task
        {"slot": 1, "start": 6.0, "end": 12.0},  # straddles the steady start (10): 2/6 of it lies inside
        {"slot": 0, "start": 10.0, "end": 14.0},
    ]
    assert steady_start(rows) == 10.0
    assert tasks_done(rows, 10.0, 14.0) == pytest.approx(2.0 / 6.0 + 1.0)


def test_timing_rows_come_from_the_records_spans_and_skip_resumed_tasks():
    def task(tid: str, slot: int, t0: float, status: str = "ok") -> dict:
        spans = {"load": [t0, t0 + 1], "train": [t0 + 1, t0 + 3], "sample": [t0 + 3, t0 + 4], "vote": [t0 + 4, t0 + 4.5]}
        return {"task_id": tid, "slot": slot, "status": status, "attempts": [], "error": None if status == "ok" else "sample: boom", "steps": 8,
                "spans": spans, "timings": {k: b - a for k, (a, b) in spans.items()}, "train": {"stopped_by": "steps"},
                "sample": {"stats": {"generated": 5, "stopped_by": "done"}}}

    report_ = {"run_id": "r1", "started": 90.0, "slots": 2, "devices": ["3", "5"], "score": None, "shared": None,
               "tasks": [task("a", 0, 100.0), task("b", 1, 101.0, "failed"), task("c", 0, 104.5), {**task("d", 1, 0.0), "resumed": True}]}
    part = part_of(Report.from_json(report_))
    assert [(r["task"], r["gpu"]) for r in part["rows"]] == [("a", "3"), ("b", "5"), ("c", "3")]
    assert part["start"] == 100.0 and part["end"] == 109.0 and part["preload_seconds"] == 10.0
    a = part["rows"][0]
    assert (a["train_start"], a["train"], a["sample_start"], a["generated"]) == (101.0, 2.0, 103.0, 5)
    s = summarize("1x2", part, None)
    assert s["failed"] == 1 and s["per_gpu"]["3"]["tasks"] == 2 and s["per_gpu"]["3"]["occupancy"] == pytest.approx(6.0 / 9.0)
