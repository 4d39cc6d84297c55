"""Train scopes through the pipeline's direct call on CPU with the tiny model (`tasks_lib.running.pipeline.run_direct`):
`shared` trains one adapter once and every task samples it; `none` trains nothing and samples the base model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import fast_profile, kaggle_files
from tasks_lib.adapting.model import ADAPTER_FILE
from tasks_lib.arc.data import Task
from tasks_lib.arc.report_parts import SHARED_RECORD_FILE, SharedAdapter
from tasks_lib.arc.run_record import Report, read_report
from tasks_lib.config import ConfigError, TrainConfig
from tasks_lib.running.pipeline import run_direct

pytestmark = pytest.mark.slow


def _run(scope: str, tiny_model: Path, tasks: list[Task], tmp_path: Path) -> tuple[Report, Path]:
    challenges, solutions = kaggle_files(tasks, tmp_path / "data")
    profile = fast_profile(tmp_path / "profile", model={"path": str(tiny_model)}, train={"scope": scope, "max_steps": 2},
                           slots={"cpu_slots": 1}, budget={"total_seconds": 120.0, "reserve_seconds": 5.0})
    out = tmp_path / "run"
    report = run_direct(str(challenges), out, str(profile), str(solutions))
    assert report == read_report(out)
    return report, out


def test_scope_is_validated() -> None:
    with pytest.raises(ConfigError, match="train.scope"):
        TrainConfig(scope="global")


def test_shared_scope_trains_once_and_every_task_loads_it(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    tasks = small_tasks[:2]
    report, out = _run("shared", tiny_model, tasks, tmp_path)
    shared = report.shared
    assert shared.train.steps == 2 * len(tasks) and shared.tasks == len(tasks) and shared.tasks_skipped == 0  # the steps the tasks' own training would have had
    assert 0 < shared.budget_seconds <= 0.6 * 115 + 1e-6 and shared.slot == 0 and not shared.resumed
    assert SharedAdapter.from_json(json.loads((out / "shared" / SHARED_RECORD_FILE).read_text())) == shared, "kept for a resumed run"
    assert report.compute.trained_tokens == shared.train.tokens > 0, "the run's compute counts the shared adapter's training"
    adapter = (out / "shared" / "adapter").resolve()
    assert (adapter / ADAPTER_FILE).exists()
    assert report.statuses == {"ok": len(tasks)}
    for t in report.results:
        assert t.steps == 0 and t.train.scope == "shared" and t.train.adapter == str(adapter)
        assert t.sample.adapter_switched  # the sample step loaded the shared adapter into the worker
        assert (out / "tasks" / t.task_id / "adapter").resolve() == adapter


def test_none_scope_trains_nothing(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    tasks = small_tasks[:2]
    report, out = _run("none", tiny_model, tasks, tmp_path)
    assert report.shared is None
    assert report.statuses == {"ok": len(tasks)}
    for t in report.results:
        assert t.steps == 0 and t.train.scope == "none" and t.train.adapter is None
        assert t.sample.adapter_switched
    assert not list(out.rglob("adapter_model.safetensors"))
    assert report.slot_loads and all(load.graphs_compiled == 0 for load in report.slot_loads)
