"""The one pipeline (tasks_lib/running/pipeline.py) with fake steps, no workers: its failure policy (load, train, sample),
what a task's record says about each, and the free-slot queue that is the only limit inside a run."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from conftest import fast_profile, kaggle_files
from tasks_lib.arc.data import Task
from tasks_lib.arc.encoding import answer_tokens
from tasks_lib.adapting.model import ADAPTER_FILE
from tasks_lib.adapting.shared_adapter import SHARED_ID
from tasks_lib.arc.records import Candidate, TaskResult, TrainRecord
from tasks_lib.arc.report_parts import SHARED_RECORD_FILE, SharedAdapter
from tasks_lib.arc.run_record import read_report
from tasks_lib.arc.store import atomic_write_json
from tasks_lib.running import pipeline
from tasks_lib.running.budget import SAMPLE_CAP, SAMPLE_MARGIN, TaskBudget
from tasks_lib.running.run import Run, prepare
from tasks_lib.running.slots import SlotPool
from tasks_lib.running.solve import Voted


def _run(tasks: list[Task], tiny_model: Path, folder: Path) -> Run:
    challenges, solutions = kaggle_files(tasks, folder / "data")
    profile = fast_profile(folder / "profile", model={"path": str(tiny_model)})
    run = prepare(str(challenges), folder / "out", str(profile), str(solutions), time_budget=600)
    run.open_slots(SlotPool([("cpu", {})]))  # one slot's budget; the fake steps start no worker
    return run


class Fake:
    """Steps that succeed unless told to fail, recording calls and how many tasks hold a slot at once."""

    def __init__(self, fail: dict[str, str] | None = None, pause: float = 0.0):
        self.fail = fail or {}  # step -> task id (or "*") that fails there
        self.pause = pause
        self.calls: list[tuple[str, str | int]] = []
        self.busy: set[int] = set()
        self.most = 0

    def _check(self, step: str, task_id: str) -> None:
        self.calls.append((step, task_id))
        if self.fail.get(step) in (task_id, "*"):
            raise RuntimeError(f"{step} broke")

    def steps(self, run: Run) -> pipeline.Steps:

        async def load(slot: int) -> dict:
            self.calls.append(("load", slot))
            if self.fail.get("load") == "*":
                raise RuntimeError("load broke")
            return {"seconds": 0.0}

        async def train(task_id: str, slot: int, budget: TaskBudget) -> dict:
            assert slot not in self.busy, f"slot {slot} runs two tasks at once"
            self.busy.add(slot)
            self.most = max(self.most, len(self.busy))
            try:
                await asyncio.sleep(self.pause)
                self._check("train", task_id)
            finally:
                self.busy.discard(slot)
            return {"steps": 3, "wall_seconds": 0.0}

        async def sample(task_id: str, slot: int, budget: TaskBudget) -> dict:
            self._check("sample", task_id)
            task = run.tasks[task_id]
            cands = [[Candidate(tuple(map(tuple, out)), 0, -1.0, True)] for out in task.test_outputs]
            return {"candidates": cands, "wall_seconds": 0.0}

        async def vote(task_id: str, candidates: list | None) -> Voted:
            return await pipeline.vote(run, task_id, candidates)

        async def shared(slot: int) -> None:
            return None

        async def publish(result: dict) -> None:
            self.calls.append(("publish", result.task_id))

        return pipeline.Steps(load, train, sample, vote, shared, publish)


def _solve(run: Run, fake: Fake, task: Task) -> dict:
    return asyncio.run(pipeline.solve_task(run, fake.steps(run), task.id, 0))


def test_a_task_whose_steps_succeed_is_recorded_ok_with_its_spans(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path)
    fake = Fake()
    result = _solve(run, fake, small_tasks[0])
    assert result.status == "ok" and result.error is None and all(result.correct)
    assert list(result.timings) == list(result.spans) == ["load", "train", "sample", "vote"]
    assert all(a <= b for a, b in result.spans.values())
    assert json.loads(run.dir.result_path(small_tasks[0].id).read_text()) == result.to_json()
    assert fake.calls[-1] == ("publish", small_tasks[0].id)


def test_a_load_failure_is_recorded_as_load_and_nothing_more_runs(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path)
    fake = Fake({"load": "*"})
    result = _solve(run, fake, small_tasks[0])
    assert result.status == "failed" and result.error == "load: RuntimeError: load broke"
    assert [c for c, _ in fake.calls] == ["load", "publish"], "no train or sample after a failed load"
    assert result.train is None and result.sample is None and result.steps == 0
    assert len(result.attempts) == len(small_tasks[0].test_inputs), "fallback attempts"


def test_a_train_failure_still_samples(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path)
    fake = Fake({"train": "*"})
    result = _solve(run, fake, small_tasks[0])
    assert result.status == "failed" and result.error == "train: RuntimeError: train broke"
    assert ("sample", small_tasks[0].id) in fake.calls
    assert all(result.correct), "the sampled candidates were voted"


def test_a_sample_failure_gets_fallback_attempts(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path)
    result = _solve(run, Fake({"sample": "*"}), small_tasks[0])
    assert result.status == "failed" and result.error == "sample: RuntimeError: sample broke"
    assert result.steps == 3 and result.sample is None
    assert [c.n for c in result.candidates] == [0] * len(small_tasks[0].test_inputs)


def test_tasks_run_largest_first_at_most_one_per_slot(tiny_model: Path, arc1_eval: list[Task], tmp_path: Path) -> None:
    tasks = sorted(arc1_eval, key=lambda t: t.cells)[:5]
    run = _run(tasks, tiny_model, tmp_path)
    fake = Fake(pause=0.05)
    asyncio.run(pipeline.solve_all(run, fake.steps(run), slots=2))
    assert fake.most == 2, "two slots: two tasks at once, never more"
    trained = [t for c, t in fake.calls if c == "train"]
    assert trained[:2] == [t.id for t in run.todo[:2]] and run.todo[0].cells >= run.todo[-1].cells
    assert [c for c, _ in fake.calls[:2]] == ["load", "load"], "every slot loads before any task starts"
    assert sorted(run.results) == sorted(t.id for t in tasks) and all(r.status == "ok" for r in run.results.values())


def test_a_task_that_cannot_record_gets_fallbacks_in_the_submission_only(tiny_model: Path, small_tasks: list[Task],
                                                                          tmp_path: Path) -> None:
    run = _run(small_tasks[:2], tiny_model, tmp_path)

    async def broken(task_id: str, slot: int) -> None:
        raise RuntimeError("subflow crashed")

    asyncio.run(pipeline.solve_all(run, Fake().steps(run), solve=broken, slots=1))
    for task in small_tasks[:2]:
        assert run.results[task.id].status == "failed" and "subflow crashed" in run.results[task.id].error
        assert not run.dir.result_path(task.id).exists(), "redone on resume"
    assert json.loads(run.dir.submission.read_text())[small_tasks[0].id] == [a.to_json() for a in run.results[small_tasks[0].id].attempts]


def test_the_measured_sample_cost_reaches_the_next_tasks_claim(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    """Task one's sample step reports 100 s for 10 answer tokens decoded (10 s per token, far above the guess):
    task two's claim (a 21-token answer, a ~570 s share) then leaves its sampling 1.2 x 10 x 21 s, more than the
    fixed 40%."""
    run = _run(small_tasks[:2], tiny_model, tmp_path)
    fake = Fake()
    base = fake.steps(run)
    claims: dict[str, TaskBudget] = {}

    async def train(task_id: str, slot: int, budget: TaskBudget) -> dict:
        claims[task_id] = budget
        return await base.train(task_id, slot, budget)

    async def sample(task_id: str, slot: int, budget: TaskBudget) -> dict:
        out = await base.sample(task_id, slot, budget)
        return {**out, "stats": {"stopped_by": "done", "tokens_decoded": 10}, "wall_seconds": 100.0}

    guess = run.budget.sample_cost
    asyncio.run(pipeline.solve_all(run, dataclasses.replace(base, train=train, sample=sample), slots=1))
    first, second = (claims[t.id] for t in run.todo)
    assert first.deadline - first.train_deadline == pytest.approx(max(0.4 * first.seconds, min(
        SAMPLE_MARGIN * guess * answer_tokens(run.tasks[first.task_id]), SAMPLE_CAP * first.seconds)))
    assert run.budget.sample_cost == pytest.approx(10.0), "two samples of 100 s for 10 tokens each"
    need = SAMPLE_MARGIN * 10.0 * answer_tokens(run.tasks[second.task_id])
    assert 0.4 * second.seconds < need < SAMPLE_CAP * second.seconds, "the measure decides task two's split"
    assert second.deadline - second.train_deadline == pytest.approx(need)
    assert run.results[second.task_id].train_budget_seconds == round(second.train_deadline - second.start, 3), "the record shows the split"


@pytest.mark.parametrize("kept", ["record", "none", "broken"])
def test_a_run_resumed_with_the_shared_adapter_reports_it_resumed_not_trained(kept: str, tiny_model: Path, small_tasks: list[Task],
                                                                              tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Scope shared, resumed: the adapter an earlier run in the folder trained is reused, untrained and unclaimed, and
    report.json's `shared` says so: the record that run kept, marked resumed; with none kept (or one unreadable), only
    `resumed`: no steps, seconds or losses nobody measured."""
    challenges, solutions = kaggle_files(small_tasks[:2], tmp_path / "data")
    profile = fast_profile(tmp_path / "profile", model={"path": str(tiny_model)}, train={"scope": "shared"})
    out = tmp_path / "out"
    adapter = out / "shared" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / ADAPTER_FILE).write_bytes(b"the earlier run's adapter")
    earlier = SharedAdapter(TrainRecord(steps=6, seconds=2.5, tokens=400, views=6, first_loss=2.0, last_loss=1.0, wall_seconds=3.0), 2, 30.0, 1)
    if kept == "record":
        atomic_write_json(out / "shared" / SHARED_RECORD_FILE, earlier.to_json())
    elif kept == "broken":
        (out / "shared" / SHARED_RECORD_FILE).write_text('{"steps": "six"}')
    run = prepare(str(challenges), out, str(profile), str(solutions), time_budget=600)
    run.open_slots(SlotPool([("cpu", {})]))
    lines: list[str] = []
    steps = dataclasses.replace(Fake().steps(run), train_shared=lambda slot: pipeline.train_shared(run, slot), log=lines.append)
    asyncio.run(pipeline.solve_all(run, steps, slots=1))
    report = run.finish()

    want = earlier.replace(resumed=True) if kept == "record" else SharedAdapter(None, resumed=True)
    assert report.shared == want == read_report(out).shared
    written = json.loads(run.dir.report.read_text())["shared"]
    assert written == ({**earlier.to_json(), "resumed": True} if kept == "record" else {"resumed": True})
    assert SHARED_ID not in run.budget.held, "no shared block claimed: nothing was trained"
    assert all(run.dir.adapter_dir(t.id).resolve() == adapter.resolve() for t in small_tasks[:2])
    assert any(line.startswith("shared adapter: resumed from an earlier run") for line in lines)
    if kept == "broken":
        assert "shared/train.json: steps: expected an integer, got str" in caplog.text

    again = prepare(str(challenges), out, str(profile), str(solutions), time_budget=600)  # every task done already
    again.open_slots(SlotPool([("cpu", {})]))
    asyncio.run(pipeline.solve_all(again, dataclasses.replace(Fake().steps(again), log=lines.append), slots=1))
    assert not again.todo and again.finish().shared == want, "a run with nothing left to do still reports the adapter resumed"


@pytest.mark.slow
def test_run_direct_runs_real_workers_and_writes_the_report(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    challenges, solutions = kaggle_files(small_tasks[:2], tmp_path / "data")
    profile = fast_profile(tmp_path / "profile", model={"path": str(tiny_model)})
    report = pipeline.run_direct(str(challenges), tmp_path / "out", str(profile), str(solutions), time_budget=600)
    assert report == read_report(tmp_path / "out"), "the report returned is report.json's"
    assert report.statuses == {"ok": 2} and report.score.total_outputs == 2
    assert all(t.steps == 3 for t in report.results)
    compute = report.compute  # the run's training arithmetic: 6 x parameters x the views' tokens (no MFU on the CPU)
    assert compute.trained_tokens == sum(t.train.tokens for t in report.results) > 0
    assert compute.parameters == report.slot_loads[0].parameters > 0 and compute.mfu is None
    assert compute.flops == 6 * compute.parameters * compute.trained_tokens
