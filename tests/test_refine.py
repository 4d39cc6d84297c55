"""Refinement passes (tasks_lib/running/refine.py, pipeline.refine_task) with fake steps, no workers: which task is
refined, that its record, candidates and submission follow the vote over old and new candidates, that a
refinement that fails or gets no time leaves the old record as it was, and that slots keep refining until
the budget is spent."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path

import pytest

from conftest import fast_profile, kaggle_files
from tasks_lib.arc.data import Pair, Task
from tasks_lib.arc.records import Candidate, Ranked, SampleRecord, SampleStatsRecord, TaskResult, TestCandidates, TrainRecord
from tasks_lib.arc.report_parts import RefineFailure
from tasks_lib.config import ScheduleConfig
from tasks_lib.running import pipeline, refine
from tasks_lib.running.budget import SAMPLE_CAP, TaskBudget
from tasks_lib.running.run import Run, prepare
from tasks_lib.running.slots import SlotPool
from tasks_lib.running.solve import Voted


def _run(tasks: list[Task], tiny_model: Path, folder: Path, budget: float = 600, **schedule) -> Run:
    challenges, solutions = kaggle_files(tasks, folder / "data")
    profile = fast_profile(folder / "profile", model={"path": str(tiny_model)}, schedule={"refine": True, **schedule})
    run = prepare(str(challenges), folder / "out", str(profile), str(solutions), time_budget=budget)
    run.open_slots(SlotPool([("cpu", {})]))  # one slot's budget; the fake steps start no worker
    return run


def _cands(grids: list, view0: int = 0) -> list[dict]:
    return [Candidate(tuple(map(tuple, g)), view0 + i, -1.0, True) for i, g in enumerate(grids)]


def _wrong(grid) -> tuple:
    return tuple(tuple((v + 1) % 10 for v in row) for row in grid)


class Fake:
    """Pass 1 answers every task unsure (one right and one wrong candidate per test input, the wrong one
    first; two different wrong ones without `pass1_right`); a refinement adds `right` more right candidates (or fails
    when told to)."""

    def __init__(self, right: int = 2, fail_refine: bool = False, pause: float = 0.0, pass1_right: bool = True):
        self.right, self.fail_refine, self.pause, self.pass1_right = right, fail_refine, pause, pass1_right
        self.refined: list[tuple[str, int, TaskBudget]] = []

    def steps(self, run: Run) -> pipeline.Steps:
        async def load(slot: int) -> dict:
            return {"seconds": 0.0}

        async def train(task_id: str, slot: int, budget: TaskBudget) -> dict:
            self.pass1_budget = round(budget.seconds, 3)
            return {"steps": 3, "wall_seconds": 0.0}

        async def sample(task_id: str, slot: int, budget: TaskBudget) -> dict:
            outs = run.tasks[task_id].test_outputs
            return {"candidates": [_cands([_wrong(o), o] if self.pass1_right else [_wrong(o), _wrong(_wrong(o))]) for o in outs],
                    "stats": {"views_done": 2}}

        async def vote(task_id: str, candidates: list | None) -> Voted:
            return await pipeline.vote(run, task_id, candidates)

        async def refine_step(task_id: str, slot: int, budget: TaskBudget, round: int) -> dict:
            self.refined.append((task_id, round, budget))
            await asyncio.sleep(self.pause)
            if self.fail_refine:
                raise RuntimeError("refine broke")
            outs = run.tasks[task_id].test_outputs
            return {"train": {"steps": 5}, "errors": [],
                    "sample": {"candidates": [_cands([o] * self.right, 64 * round) for o in outs], "stats": {"stopped_by": "done"}}}

        async def nothing(*_: object) -> None:
            return None

        return pipeline.Steps(load, train, sample, vote, nothing, nothing, refine=refine_step)


def test_margin_and_pick_prefer_the_least_refined_then_least_sure_task() -> None:
    def rec(status: str, *top: tuple[int, list[int]], n: int = 4) -> TaskResult:
        ranked = tuple(Ranked(((0,),), votes, -1.0, tuple(views)) for votes, views in top)
        return TaskResult("t", status, (), candidates=(TestCandidates(n, ranked),))

    sure = rec("ok", (4, [0, 1, 2, 3]))
    split = rec("ok", (2, [0, 1]), (2, [2, 3]))
    lean = rec("ok", (3, [0, 1, 2]), (1, [3]))
    empty = rec("ok", n=0)
    assert (refine.margin(sure), refine.margin(split), refine.margin(lean), refine.margin(empty)) == (1.0, 0.0, 0.5, 0.0)
    cfg = ScheduleConfig(refine=True, refine_rounds=2)
    results = {"sure": sure, "split": split, "lean": lean, "failed": split.replace(status="failed")}
    assert refine.pick(results, set(), {}, cfg) == "split"
    assert refine.pick(results, {"split"}, {}, cfg) == "lean", "a running task is not picked"
    assert refine.pick(results, set(), {"split": 2}, cfg) == "lean", "a task out of rounds is not picked"
    assert refine.pick(results, set(), {"split": 2, "lean": 2}, cfg) is None, "sure and failed tasks are left alone"
    uncapped = ScheduleConfig(refine=True, refine_rounds=0)
    assert refine.pick(results, set(), {"split": 1}, cfg) == "lean", "round k for every unsure task before round k + 1"
    assert refine.pick(results, set(), {"split": 99, "lean": 99}, uncapped) == "split", "0 rounds: no cap"
    assert refine.pick(results, set(), {"split": 99, "lean": 2}, uncapped) == "lean", "no cap: the least refined first"


def test_plan_moves_seeds_and_sizes_itself_from_the_tasks_own_times(tiny_model: Path, tmp_path: Path, small_tasks: list[Task]) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path, refine_steps=10, refine_views=4)
    result = TaskResult("t", "ok", (), timings={"train": 6.0, "sample": 2.0}, train=TrainRecord(steps=3),
                        sample=SampleRecord(SampleStatsRecord(views_done=2)))
    p = refine.plan(result, run.cfg, 2, overhead=0.5)
    assert (p.steps, p.views) == (10, 4)
    assert p.cfg.train.seed == run.cfg.train.seed + 2 and p.cfg.sample.seed == run.cfg.sample.seed + 2 and p.cfg.train.warmup_steps == 0
    assert p.seconds == refine.SLACK * (10 * 2.0 + 4 * 1.0) + 0.5 and p.train_fraction == 20 / 24 and p.least == refine.MIN_STEPS * 2.0 + 1.0


class RecordingPool:
    """A slot pool whose one live worker records each call and answers train with 2 steps and sample with nothing."""

    def __init__(self) -> None:
        self.slots = [type("Slot", (), {"proc": object()})()]
        self.calls: list[tuple[str, dict]] = []

    def call(self, slot: int, op: str, timeout: float, **args) -> dict:
        self.calls.append((op, args))
        return {"steps": 2} if op == "train" else {"candidates": [[] for _ in args["task"].test_inputs], "stats": {"stopped_by": "done"}}


@pytest.mark.parametrize("kind", ["continue", "fresh", "transduce"])
def test_each_refine_kind_trains_as_it_says_and_never_shows_the_worker_test_outputs(kind: str, tiny_model: Path, tmp_path: Path,
                                                                                   small_tasks: list[Task]) -> None:
    task = next(t for t in small_tasks if len(t.test_inputs) == 1)
    run = _run([task], tiny_model, tmp_path, refine_steps=10, refine_kind=kind, transduce_share=0.6)
    out = task.test_outputs[0]
    sure = TestCandidates(4, (Ranked(out, 3, -1.0, (0, 1, 2)), Ranked(_wrong(out), 1, -2.0, (3,))))
    result = TaskResult(task.id, "ok", (), candidates=(sure,), timings={"train": 6.0, "sample": 2.0}, train=TrainRecord(steps=3),
                        sample=SampleRecord(SampleStatsRecord(views_done=2)))
    p = refine.plan(result, run.cfg, 1, test_inputs=task.test_inputs)
    assert p.kind == kind and p.cfg.train.warmup_steps == (run.cfg.train.warmup_steps if kind == "fresh" else 0)
    assert p.demonstrations == ((Pair(task.test_inputs[0], out),) if kind == "transduce" else ())
    pool = RecordingPool()
    now = time.time()
    budget = TaskBudget(task.id, 10.0, now, now + 10, now + 5)
    refine.refine_step(pool, 0, task, budget, str(tmp_path / "adapter"), p)
    (op, train), (_, sample) = pool.calls
    assert op == "train" and train.get("resume", False) == (kind != "fresh"), "fresh starts a new adapter; the others continue"
    assert train["task"].test_outputs == () and train["task"].train[:len(task.train)] == task.train
    assert train["task"].train[len(task.train):] == p.demonstrations, "transduce adds the sure test answer as a demonstration"
    assert sample["task"] == task, "sampling sees the task as given"
    unsure = dataclasses.replace(result, candidates=(TestCandidates(4, (Ranked(out, 2, -1.0, (0, 1)), Ranked(_wrong(out), 2, -2.0, (2, 3)))),))
    assert refine.plan(unsure, run.cfg, 1, test_inputs=task.test_inputs).demonstrations == (), "below transduce_share: nothing added"


def test_refinement_votes_over_old_and_new_candidates_and_rewrites_the_record(tiny_model: Path, small_tasks: list[Task],
                                                                           tmp_path: Path) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path, refine_rounds=1)
    task = small_tasks[0]
    fake = Fake(right=2)
    asyncio.run(pipeline.solve_all(run, fake.steps(run), slots=1))
    assert [(t, r) for t, r, _ in fake.refined] == [(task.id, 1)], "one round, as the profile allows"
    result = run.results[task.id]
    assert all(result.correct), "the new right candidates outvote the wrong one"
    assert result.steps == 3 + 5 and len(result.refinements) == 1
    assert result.budget_seconds == round(run.results[task.id].refinements[0].budget_seconds + fake.pass1_budget, 3)
    assert [c.n for c in result.candidates] == [4] * len(task.test_inputs), "old and new candidates voted together"
    assert json.loads(run.dir.result_path(task.id).read_text()) == result.to_json()
    assert [len(c) for c in run.dir.read_candidates(task.id)] == [4] * len(task.test_inputs)
    submission = json.loads(run.dir.submission.read_text())
    assert submission[task.id] == [a.to_json() for a in result.attempts]
    assert result.pass1.attempts != result.attempts and result.refinements[0].correct == result.correct
    entry, pass1_end = result.refinements[0], max(end for _, end in result.spans.values())
    assert entry.slot == 0 and pass1_end <= entry.span[0] <= entry.span[1], "the round's slot and when it ran (the timeline)"


def test_a_refinement_cannot_vote_pass_ones_right_first_answer_out(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path, refine_rounds=2, sure_margin=1.0)
    task = small_tasks[0]

    class Outvoting(Fake):
        """Pass 1 answers right first (two right votes, one wrong); every refinement adds two other wrong grids
        three times each, so the vote alone would drop the right answer from both attempts."""

        def steps(self, run: Run) -> pipeline.Steps:
            steps = super().steps(run)

            async def sample(task_id: str, slot: int, budget: TaskBudget) -> dict:
                outs = run.tasks[task_id].test_outputs
                return {"candidates": [_cands([o, o, _wrong(o)]) for o in outs], "stats": {"views_done": 3}}

            async def refine_step(task_id: str, slot: int, budget: TaskBudget, round: int) -> dict:
                self.refined.append((task_id, round, budget))
                outs = run.tasks[task_id].test_outputs
                grids = [[_wrong(_wrong(o))] * 3 + [_wrong(_wrong(_wrong(o)))] * 3 for o in outs]
                return {"train": {"steps": 5}, "errors": [],
                        "sample": {"candidates": [_cands(g, 64 * round) for g in grids], "stats": {"stopped_by": "done"}}}

            return dataclasses.replace(steps, sample=sample, refine=refine_step)

    fake = Outvoting()
    asyncio.run(pipeline.solve_all(run, fake.steps(run), slots=1))
    result = run.results[task.id]
    assert [r for _, r, _ in fake.refined] == [1, 2]
    assert all(result.pass1.correct) and all(result.correct), "pass 1's first answer stays in the submission"
    assert [a.attempt_2 for a in result.attempts] == [a.attempt_1 for a in result.pass1.attempts]
    n = len(task.test_inputs)
    assert [e.held for e in result.refinements] == [tuple(range(n))] * 2, "each round says where the guard held"
    assert json.loads(run.dir.result_path(task.id).read_text())["refinements"][0]["held"] == list(range(n))


def test_the_report_keeps_what_pass_one_alone_scored(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    run = _run(small_tasks[:2], tiny_model, tmp_path, refine_rounds=1)
    fake = Fake(right=2, pass1_right=False)
    asyncio.run(pipeline.solve_all(run, fake.steps(run), slots=1))
    n = sum(len(t.test_inputs) for t in small_tasks[:2])
    assert all(r.pass1.correct == (False,) * len(r.correct) for r in run.results.values())
    report = run.finish()
    assert (report.score.solved_outputs, report.score_pass1.solved_outputs) == (n, 0)
    assert report.score_pass1.total_outputs == n


def test_a_failed_refinement_keeps_the_old_record(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path, refine_rounds=2)
    task = small_tasks[0]
    fake = Fake(fail_refine=True)
    steps = fake.steps(run)
    asyncio.run(pipeline.solve_task(run, steps, task.id, 0))
    before = run.dir.result_path(task.id).read_text()
    submission = run.dir.submission.read_text()
    assert asyncio.run(pipeline.refine_task(run, steps, task.id, 0, 1)) is None
    assert run.dir.result_path(task.id).read_text() == before and run.dir.submission.read_text() == submission
    assert run.stats.refine_failures == [RefineFailure(task.id, 1, "RuntimeError: refine broke")]
    assert not run.results[task.id].refinements


def test_no_refinement_starts_without_time_for_it(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path, refine_rounds=3)
    task = small_tasks[0]
    fake = Fake()
    steps = fake.steps(run)
    asyncio.run(pipeline.solve_task(run, steps, task.id, 0))
    run.results[task.id] = run.results[task.id].replace(timings={"train": 1e6, "sample": 1e6})  # one step and one view cost more than the run has
    assert asyncio.run(pipeline.refine_task(run, steps, task.id, 0, 1)) is None and fake.refined == []


def test_slots_keep_refining_unsure_tasks_until_rounds_or_time_run_out(tiny_model: Path, arc1_eval: list[Task], tmp_path: Path) -> None:
    tasks = sorted(arc1_eval, key=lambda t: t.cells)[:3]
    run = _run(tasks, tiny_model, tmp_path, refine_rounds=3)
    fake = Fake(right=0, pause=0.01)  # refinements add nothing: every task stays unsure
    asyncio.run(pipeline.solve_all(run, fake.steps(run), slots=2))
    rounds = {t.id: sorted(r for tid, r, _ in fake.refined if tid == t.id) for t in tasks}
    assert rounds == {t.id: [1, 2, 3] for t in tasks}
    assert all(len(run.results[t.id].refinements) == 3 for t in tasks)
    assert all(b.deadline <= run.budget.end for _, _, b in fake.refined)
    off = _run(tasks, tiny_model, tmp_path / "off", refine=False)
    fake_off = Fake()
    asyncio.run(pipeline.solve_all(off, fake_off.steps(off), slots=2))
    assert fake_off.refined == [] and all(not r.refinements for r in off.results.values()), "the profile switch turns it off"


@pytest.mark.slow
def test_real_workers_continue_the_saved_adapter_and_vote_again(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    """run_direct with real slot workers: each unsure task is refined once from its saved adapter (the worker's
    `train` op with `resume`), its new candidates are added to the old ones, and report.json says so."""
    challenges, solutions = kaggle_files(small_tasks[:2], tmp_path / "data")
    profile = fast_profile(tmp_path / "profile", model={"path": str(tiny_model)},
                           schedule={"refine": True, "refine_rounds": 1, "refine_steps": 2, "sure_margin": 1.0})
    report = pipeline.run_direct(str(challenges), tmp_path / "out", str(profile), str(solutions), time_budget=600)
    assert report.statuses == {"ok": 2} and report.schedule.refine_failures == ()
    for t in report.results:
        if not t.refinements:  # only a task whose every candidate agreed is left alone
            assert all(c.n > 0 and c.top[0].votes == c.n for c in t.candidates)
            continue
        (entry,) = t.refinements
        assert entry.errors == () and entry.steps == 2 and t.steps == 3 + 2
        saved = json.loads((tmp_path / "out" / "tasks" / t.task_id / "candidates.json").read_text())
        assert [c.n for c in t.candidates] == [len(c) for c in saved]
        new = [c for cands in saved for c in cands if c["view"] >= refine.VIEW_OFFSET]
        assert len(new) == entry.new_candidates, "the new views' candidates are kept beside the old"
    assert report.refinements >= 1 and report.schedule.busy_fraction > 0


def test_a_refinement_block_leaves_sampling_its_need_and_its_sample_is_measured(tiny_model: Path, small_tasks: list[Task],
                                                                                 tmp_path: Path) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path, refine_rounds=1)
    task = small_tasks[0]
    fake = Fake(right=2)
    steps = fake.steps(run)

    async def refine_step(task_id: str, slot: int, budget: TaskBudget, round_no: int) -> dict:
        fake.refined.append((task_id, round_no, budget))
        outs = run.tasks[task_id].test_outputs
        return {"train": {"steps": 5}, "errors": [], "sample": {"candidates": [_cands([o], 64) for o in outs],
                "stats": {"stopped_by": "done", "tokens_decoded": 50}, "wall_seconds": 5.0}}

    asyncio.run(pipeline.solve_task(run, steps, task.id, 0))
    run.budget.note_sample(1000.0, 10)  # 100 s per answer token: any answer needs more than the block
    asyncio.run(pipeline.refine_task(run, dataclasses.replace(steps, refine=refine_step), task.id, 0, 1))
    (_, _, block), = fake.refined
    assert block.seconds > 0 and block.deadline - block.train_deadline == pytest.approx(SAMPLE_CAP * block.seconds)
    assert run.budget.sample_cost == pytest.approx(1005.0 / 60), "the refinement's own sample step was measured"


def test_a_bad_schedule_value_is_an_error_naming_the_field() -> None:
    from tasks_lib.config import ConfigError, RunConfig

    with pytest.raises(ConfigError, match="schedule.first_pass_fraction=0.0"):
        RunConfig().replace({"schedule": {"first_pass_fraction": 0.0}})
    with pytest.raises(ConfigError, match="schedule.refine"):
        RunConfig().replace({"schedule": {"refine": "yes"}})
    with pytest.raises(ConfigError, match=r"schedule.sample_seconds_per_token=-0.01: expected >= 0"):
        RunConfig().replace({"schedule": {"sample_seconds_per_token": -0.01}})
    with pytest.raises(ConfigError, match=r"schedule.refine_kind='again': expected continue\|fresh\|transduce"):
        RunConfig().replace({"schedule": {"refine_kind": "again"}})


def test_a_task_without_its_candidates_on_disk_is_not_refined(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    run = _run(small_tasks[:1], tiny_model, tmp_path)
    task = small_tasks[0]
    fake = Fake()
    steps = fake.steps(run)
    asyncio.run(pipeline.solve_task(run, steps, task.id, 0))
    run.dir.candidates_path(task.id).unlink()  # as a task resumed from a run that did not keep them
    before = run.dir.result_path(task.id).read_text()
    assert asyncio.run(pipeline.refine_task(run, steps, task.id, 0, 1)) is None and fake.refined == []
    assert run.dir.result_path(task.id).read_text() == before


def test_the_vote_says_where_it_held_a_grid_and_a_fallback_is_never_counted(small_tasks: list[Task]) -> None:
    from tasks_lib.running.solve import vote_step

    task = Task("t", small_tasks[0].train, small_tasks[0].test_inputs[:1])
    x = task.test_inputs[0]
    g, w1, w2 = _wrong(x), _wrong(_wrong(x)), _wrong(_wrong(_wrong(x)))
    one = [_cands([g, g])]
    voted = vote_step(task, one, "count", keep=[x])  # x: a fallback pass 1 fell back to; the plain vote has it second too
    assert voted.attempts[0].attempt_2 == x and voted.held == ()
    three = [_cands([w1, w1, w1, w2, w2, g])]
    voted = vote_step(task, three, "count", keep=[g])
    assert (voted.attempts[0].attempt_1, voted.attempts[0].attempt_2, voted.held) == (w1, g, (0,))
    assert vote_step(task, three, "count").held == ()
