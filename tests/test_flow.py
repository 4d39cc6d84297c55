"""The `submit` flow under `prefect_test_harness`, on small real ARC tasks from a Kaggle-format file with
the tiny test model: the run's files follow the contract of README's "Output files" and Prefect sees the steps and artifacts;
with train scope shared, one `train-shared-adapter` task runs before the tasks, which sample its adapter."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from conftest import fast_profile, kaggle_files
from tasks_lib.arc.data import Task
from tasks_lib.arc.run_record import Report, read_report
from tasks_lib.arc.scoring import score
from tasks_lib.config import load_profile
from tasks_lib.reports.ui import STATES, final_message, final_name, subflow_name, task_state
from tasks_lib.running.submission import validate

pytestmark = pytest.mark.slow

STEPS = ("load-model / slot ", "train / ", "sample / ", "vote / ")  # step runs are named by their task (or slot)
BUDGET = 60.0  # seconds: runs that end when their tasks are done (few steps, no refinement)
REFINED_BUDGET = 30.0  # the cpu profile's run: pass 1 ends at its step cap long before (its 60 steps and 4 views took
# 1-2 s a task on 2 CPU cores), unless the machine is very busy, and refinements (no cap in the profile) take the rest


async def _prefect_records() -> tuple[list, list, list]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        flows = await client.read_flow_runs()
        tasks = await client.read_task_runs()
        artifacts = await client.read_artifacts()
    return flows, tasks, artifacts


def test_submit_flow_writes_the_contracted_files(prefect_harness: None, tiny_model: Path, small_tasks: list[Task],
                                                 multi_test_task: Task, tmp_path: Path) -> None:
    from flows.submit import submit

    tasks = [*small_tasks[:2], multi_test_task]
    challenges, solutions = kaggle_files(tasks, tmp_path / "data")
    out = tmp_path / "run"
    returned = asyncio.run(submit(challenges=str(challenges), out=str(out), profile="cpu", solutions=str(solutions),
                                  time_budget=REFINED_BUDGET, model=str(tiny_model)))
    n_test = {t.id: len(t.test_inputs) for t in tasks}
    max_steps = load_profile("cpu").train.max_steps

    sub = json.loads((out / "submission.json").read_text())
    validate(sub, n_test)
    assert list(sub) == [t.id for t in tasks]

    report = json.loads((out / "report.json").read_text())  # its written form; `typed` its record
    typed = read_report(out)
    want_score = score(sub, {t.id: t.test_outputs for t in tasks})
    assert report["score"] == returned
    assert report["score"]["kaggle"] == pytest.approx(want_score["kaggle"])
    assert report["score"]["per_task"] == pytest.approx(want_score["per_task"])
    assert report["score"]["total_outputs"] == sum(n_test.values()) == 4
    assert report["statuses"] == {"ok": 3}
    assert report["profile"] == "cpu" and report["slots"] == load_profile("cpu").slots.cpu_slots

    for entry, t, task in zip(report["tasks"], typed.results, tasks):
        tid = task.id
        assert entry["task_id"] == tid and entry["status"] == "ok" and entry["error"] is None
        assert entry["resumed"] is False
        assert {"load", "train", "sample", "vote"} <= set(entry["timings"])
        assert all(v >= 0 for v in entry["timings"].values())
        refined = t.refinements  # the cpu profile refines unsure tasks with the time left
        assert t.steps == t.train.steps + sum(r.steps for r in refined)
        assert t.train.steps == max_steps or t.train.stopped_by == "deadline"  # the step cap or the budget stopped pass 1
        blocks = [r.budget_seconds for r in refined]  # t.budget_seconds: pass 1's share plus every block
        assert 0 < t.budget_seconds - sum(blocks) <= REFINED_BUDGET and all(0 <= b <= REFINED_BUDGET for b in blocks)
        assert entry["attempts"] == sub[tid]
        assert len(entry["candidates"]) == n_test[tid]
        for cands in entry["candidates"]:
            assert all(c["votes"] >= 1 and c["grid"] for c in cands["top"])
        assert entry["correct"] == want_score["tasks"][tid]
        result = json.loads((out / "tasks" / tid / "result.json").read_text())
        assert result == {k: v for k, v in entry.items() if k not in ("resumed", "state")}
        assert entry["state"] == task_state(entry)
        assert (out / "tasks" / tid / "adapter" / "adapter_model.safetensors").exists()

    flows, task_runs, artifacts = asyncio.run(_prefect_records())
    subflows = {f.name.split()[0]: f for f in flows if f.name.split()[0] in n_test}
    assert sorted(f.name for f in subflows.values()) == sorted(subflow_name(e) for e in report["tasks"])  # e.g. '<id> ✘ unsolved'
    words = {e["task_id"]: e["state"] for e in report["tasks"]}
    assert report["states"] == {w: list(words.values()).count(w) for w in STATES if w in words.values()}
    assert all(f.state.is_completed() and f.state.name == words[tid].capitalize() for tid, f in subflows.items())  # e.g. Completed(name="Solved")
    parent = next(f for f in flows if f.name == out.name)  # named by the run id
    assert parent.state.is_completed() and parent.state.message == final_message(report) and parent.state.name == final_name(report)
    for step in STEPS:
        assert sum(1 for r in task_runs if r.name.startswith(step) and r.state.is_completed()) >= len(tasks), step
    assert {f"train / {tid}" for tid in n_test} <= {r.name for r in task_runs}
    refined = {t.task_id for t in typed.results if t.refinements}
    assert {f"refine / {tid}" for tid in refined} <= {r.name for r in task_runs if r.state.is_completed()}
    assert len([r for r in task_runs if r.name.startswith("refine / ")]) >= typed.refinements
    assert {"per-task-results", "run-summary"} <= {a.key for a in artifacts}


def test_submit_flow_with_a_shared_adapter(prefect_harness: None, tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    from flows.submit import submit

    tasks = small_tasks[:1]  # one task: every task loading the adapter is tests/test_train_scope.py's
    challenges, solutions = kaggle_files(tasks, tmp_path / "data")
    profile = fast_profile(tmp_path / "profile", model={"path": str(tiny_model)}, train={"scope": "shared", "max_steps": 2},
                           slots={"cpu_slots": 1})
    out = tmp_path / "run"
    asyncio.run(submit(challenges=str(challenges), out=str(out), profile=str(profile), solutions=str(solutions), time_budget=BUDGET))
    report = json.loads((out / "report.json").read_text())
    assert report["statuses"] == {"ok": len(tasks)}
    assert read_report(out).shared.train.steps == 2 * len(tasks)
    adapter = str((out / "shared" / "adapter").resolve())
    for entry in report["tasks"]:
        assert entry["steps"] == 0 and entry["train"]["adapter"] == adapter and entry["sample"]["adapter_switched"]

    _, task_runs, _ = asyncio.run(_prefect_records())
    shared_runs = [r for r in task_runs if r.name.startswith("train-shared / slot ")]  # the session's only shared run
    assert len(shared_runs) == 1 and shared_runs[0].state.is_completed()


def test_the_flow_and_the_direct_call_give_the_same_answers(prefect_harness: None, tiny_model: Path, small_tasks: list[Task],
                                                           tmp_path: Path) -> None:
    """The same tasks, profile and seed through the Prefect flow and through `pipeline.run_direct`: one code path."""
    from flows.submit import submit
    from tasks_lib.running.pipeline import run_direct

    challenges, solutions = kaggle_files(small_tasks[:2], tmp_path / "data")
    profile = fast_profile(tmp_path / "profile", model={"path": str(tiny_model)}, train={"seed": 7, "max_steps": 3},
                           sample={"seed": 7, "views": 2, "samples_per_view": 2, "temperature": 1.0})
    args = dict(challenges=str(challenges), profile=str(profile), solutions=str(solutions), time_budget=600)
    asyncio.run(submit(out=str(tmp_path / "flow"), **args))
    direct = run_direct(out=str(tmp_path / "direct"), **args)
    flow = read_report(tmp_path / "flow")

    def answers(report: Report) -> dict:
        return {t.task_id: (t.status, t.steps, t.attempts, t.candidates, t.correct) for t in report.results}

    assert answers(flow) == answers(direct) and flow.score == direct.score
    assert all(t.steps == 3 for t in direct.results)


def test_a_subflow_that_cannot_record_ends_failed_and_its_task_gets_fallbacks(prefect_harness: None, tiny_model: Path,
                                                                               small_tasks: list[Task], tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from flows import submit as submit_mod
    from tasks_lib.running.run import Run

    record = Run.record

    def broken_record(run, result, persist=True, candidates=None):  # the task's own record breaks; the parent's fallback still records
        if persist:
            raise RuntimeError(f"record broke on {result.task_id}")
        return record(run, result, persist=persist, candidates=candidates)

    monkeypatch.setattr(Run, "record", broken_record)
    tasks = small_tasks[:1]
    challenges, solutions = kaggle_files(tasks, tmp_path / "data")
    profile = fast_profile(tmp_path / "profile", model={"path": str(tiny_model)}, train={"max_steps": 1}, slots={"cpu_slots": 1})
    out = tmp_path / "run"
    asyncio.run(submit_mod.submit(challenges=str(challenges), out=str(out), profile=str(profile), solutions=str(solutions), time_budget=BUDGET))
    (entry,) = json.loads((out / "report.json").read_text())["tasks"]
    assert entry["status"] == "failed" and entry["state"] == "failed" and f"record broke on {tasks[0].id}" in entry["error"]
    assert not (out / "tasks" / tasks[0].id / "result.json").exists()  # not its own failure: a resumed run redoes it
    flows, _, _ = asyncio.run(_prefect_records())
    (subflow,) = [f for f in flows if f.name == tasks[0].id and f.parameters.get("task_id") and f.state.is_failed()]
    assert "record broke" in subflow.state.message


def test_the_evaluate_flow_runs_only_its_chunk(prefect_harness: None, tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    """`skip` and `limit` reach the run through the evaluate flow: the second chunk of one task scores only that task."""
    from flows.evaluate import evaluate

    challenges, solutions = kaggle_files(small_tasks[:2], tmp_path / "data")
    profile = fast_profile(tmp_path / "profile", model={"path": str(tiny_model)})
    returned = asyncio.run(evaluate(challenges=str(challenges), profile=str(profile), solutions=str(solutions), limit=1, skip=1,
                                    time_budget=600, out=str(tmp_path / "chunk-1")))
    report = json.loads((tmp_path / "chunk-1" / "report.json").read_text())
    assert [t["task_id"] for t in report["tasks"]] == [small_tasks[1].id]
    assert returned == report["score"] and report["score"]["scored_tasks"] == 1
    assert json.loads((tmp_path / "chunk-1" / "run.json").read_text())["skip"] == 1
