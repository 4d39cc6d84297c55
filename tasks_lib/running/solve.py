"""One task's steps, as plain functions the flow wraps one-to-one (`load-model`, `train-adapter`,
`sample`, `vote`), plus the task's result record.

Contract: each step takes the slot pool, the slot index and plain values, and returns plain dicts
(JSON-ready). `shared_step` trains the run's one adapter (train scope shared) before any task starts;
with scope shared or none, `train_step` trains nothing and returns `untrained`'s record. A step's worker
is given `deadline + grace` seconds before it is killed (`SlotError` kind `timeout`). `sample_step` retries an out-of-memory failure with lighter settings (half the
views, then one sample per view) before giving up; its `candidates` are `records.Candidate` lists, per test input.
`vote_step` never fails: with no candidates the attempts are fallbacks; it returns a `Voted` (attempts and ranked
candidates per test input). `Outcome.record()` is the task's `records.TaskResult` (written to
`tasks/<id>/result.json`), its steps' dicts read into their `TrainRecord` / `SampleRecord` there; `fallback_result` is the record of a task that could not run. `sample_measure` reads a sample step's record for
the budget's measure of sampling cost (`Budget.note_sample`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tasks_lib.adapting.model import ADAPTER_FILE
from tasks_lib.arc.data import Grid, Task
from tasks_lib.arc.records import Attempts, Candidate, SampleRecord, TaskResult, TestCandidates, TrainRecord
from tasks_lib.arc.scoring import correct
from tasks_lib.config import RunConfig, SampleConfig
from tasks_lib.decoding.vote import attempts, fallback_grids, rank
from tasks_lib.running.budget import TaskBudget
from tasks_lib.running.slots import SlotError, SlotPool



def load_step(pool: SlotPool, slot: int, cfg: RunConfig) -> dict:
    """Make sure the base model is resident in the slot's worker; the worker's `SlotLoad` JSON form with the step's `seconds`."""
    t0 = time.time()
    train = None if cfg.train.scope == "none" else cfg.train  # nothing to compile when nothing trains
    info = pool.call(slot, "load", cfg.slots.load_timeout_seconds, model=cfg.model, train=train)
    return {**info, "seconds": time.time() - t0}


def _timeout(deadline: float, cfg: RunConfig, pool: SlotPool, slot: int) -> float:
    """Seconds a step may run before its worker is killed: to the deadline, plus grace, plus a model load
    when the slot has no live worker (the call starts a fresh one)."""
    reload = cfg.slots.load_timeout_seconds if pool.slots[slot].proc is None else 0.0
    return max(0.0, deadline - time.time()) + cfg.slots.step_grace_seconds + reload


def _train_call(pool: SlotPool, slot: int, op: str, cfg: RunConfig, budget: TaskBudget, adapter_dir: str, **args) -> dict:
    """One worker training op (`train` or `train_shared`) until the budget's train deadline, timed. A step that builds
    graphs moves that deadline (adapting/train.py), never past `latest`: half the call's grace after it, so the call
    ends before its worker is killed."""
    t0 = time.time()
    latest = budget.train_deadline + cfg.slots.step_grace_seconds / 2
    stats = pool.call(slot, op, _timeout(budget.train_deadline, cfg, pool, slot), model=cfg.model, train=cfg.train,
                      adapter_dir=adapter_dir, deadline=budget.train_deadline, latest=latest, seed=cfg.train.seed, **args)
    return {**stats, "wall_seconds": time.time() - t0}


def shared_step(pool: SlotPool, slot: int, tasks: list[Task], cfg: RunConfig, budget: TaskBudget, adapter_dir: str) -> dict:
    """Scope shared: train one adapter on all `tasks` until the budget's deadline (at most `max_steps` per task
    in total, the steps their own training would have had); save it to `adapter_dir`."""
    return _train_call(pool, slot, "train_shared", cfg, budget, adapter_dir, tasks=tasks, max_steps=cfg.train.max_steps * len(tasks))


def untrained(scope: str, adapter_dir: str) -> dict:
    """The train record of a task that trains nothing itself: scope none samples the base model; scope shared
    samples the run's shared adapter, which `pipeline._train_shared` linked at `adapter_dir` (the sample step loads it)."""
    if scope == "shared" and not (Path(adapter_dir) / ADAPTER_FILE).exists():
        raise FileNotFoundError(f"scope shared: no shared adapter at {adapter_dir} (its training failed or did not run)")
    adapter = str(Path(adapter_dir).resolve()) if scope == "shared" else None
    return TrainRecord(stopped_by=scope, scope=scope, adapter=adapter, wall_seconds=0.0).to_json()


def train_step(pool: SlotPool, slot: int, task: Task, cfg: RunConfig, budget: TaskBudget, adapter_dir: str,
               resume: bool = False) -> dict:
    """Reset the adapter in place (with `resume`: load the one saved at `adapter_dir` instead) and train it on
    `task` until its train deadline; save it. Scopes shared and none train nothing here (see `untrained`)."""
    if cfg.train.scope != "task":
        return untrained(cfg.train.scope, adapter_dir)
    extra = {"resume": True} if resume else {}
    return _train_call(pool, slot, "train", cfg, budget, adapter_dir, task=task, **extra)


def lighter(sample: SampleConfig) -> SampleConfig | None:
    """Settings that need less memory, or None when nothing is left to shed."""
    if sample.views > 1:
        return dataclasses.replace(sample, views=max(1, sample.views // 2))
    if sample.samples_per_view > 1:
        return dataclasses.replace(sample, samples_per_view=1)
    return None


def sample_step(pool: SlotPool, slot: int, task: Task, cfg: RunConfig, budget: TaskBudget, adapter_dir: str) -> dict:
    """Candidates per test input (as dicts), degrading settings on out-of-memory errors."""
    t0 = time.time()
    settings: SampleConfig | None = cfg.sample
    degraded = []
    while True:
        try:
            out = pool.call(
                slot,
                "sample",
                _timeout(budget.deadline, cfg, pool, slot),
                task=task,
                model=cfg.model,
                sample=settings,
                adapter_dir=adapter_dir,
                deadline=budget.deadline,
            )
            break
        except SlotError as err:
            if err.kind != "oom":
                raise
            settings = lighter(settings)
            if settings is None:
                raise
            degraded.append({"views": settings.views, "samples_per_view": settings.samples_per_view})
    return {**out, "degraded": degraded, "wall_seconds": time.time() - t0}


def sample_measure(sample: dict | None) -> tuple[float, int] | None:
    """What a sample step's output (read as its `SampleRecord`) says sampling cost: (its wall seconds, the answer tokens it decoded) when it
    ran to the end; None otherwise (a sample cut by its deadline took the time it had, not the time it needed)."""
    if sample is None:
        return None
    record = SampleRecord.from_json(sample)
    tokens = record.stats.tokens_decoded
    if record.stats.stopped_by != "done" or tokens <= 0 or record.wall_seconds is None:
        return None
    return record.wall_seconds, tokens


@dataclass(frozen=True)
class Voted:
    """A vote's outcome, per test input: the two attempts, and the candidate count with the top 8 ranked grids."""

    attempts: tuple[Attempts, ...] = ()
    candidates: tuple[TestCandidates, ...] = ()
    held: tuple[int, ...] = ()  # test inputs whose attempts differ from the plain vote's because a `keep` grid was held


def vote_step(task: Task, candidates: list[list[Candidate]] | None, rule: str, keep: Sequence[Grid | None] = ()) -> Voted:
    """Per test input: ranked candidates and the two attempts (fallbacks fill any gap; `keep[i]`, a grid to hold
    in test input i's attempts while it is still a candidate: `vote.attempts`)."""
    chosen_all, tops, held = [], [], []
    train_outputs = [p.output for p in task.train]
    for i, test_input in enumerate(task.test_inputs):
        cands = candidates[i] if candidates and i < len(candidates) else []
        ranked = rank(cands, rule)
        fallbacks = fallback_grids(test_input, train_outputs)
        chosen: list[Grid] = attempts(ranked, fallbacks, keep[i] if i < len(keep) else None)
        if i < len(keep) and chosen != attempts(ranked, fallbacks):
            held.append(i)
        chosen_all.append(Attempts(chosen[0], chosen[1]))
        tops.append(TestCandidates(len(cands), tuple(r.rounded() for r in ranked[:8])))
    return Voted(tuple(chosen_all), tuple(tops), tuple(held))


@dataclass
class Outcome:
    """What one task's steps produced. `record()` is the JSON written to `tasks/<id>/result.json`: status `ok`
    when no step failed, else `failed` (or the `status` given, e.g. `invalid`), with the errors joined."""

    task: Task
    slot: int | None = None
    budget: TaskBudget | None = None
    timings: dict[str, float] = field(default_factory=dict)  # step -> wall seconds
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)  # step -> (start, end), time.time() values
    train: dict | None = None
    sample: dict | None = None
    voted: Voted = field(default_factory=Voted)
    errors: list[str] = field(default_factory=list)
    status: str = ""

    def record(self) -> TaskResult:
        train = None if self.train is None else TrainRecord.from_json(self.train, self.task.id)
        return TaskResult(
            task_id=self.task.id,
            status=self.status or ("failed" if self.errors else "ok"),
            error="; ".join(self.errors) or None,
            slot=self.slot,
            budget_seconds=None if self.budget is None else round(self.budget.seconds, 3),
            train_budget_seconds=None if self.budget is None else round(self.budget.train_deadline - self.budget.start, 3),  # pass 1's split
            used_seconds=round(sum(self.timings.values()), 3),
            timings={k: round(v, 3) for k, v in self.timings.items()},
            spans={k: (round(a, 3), round(b, 3)) for k, (a, b) in self.spans.items()},
            steps=0 if self.train is None else train.steps,
            train=train,
            sample=None if self.sample is None else SampleRecord.from_json(self.sample, self.task.id),
            attempts=self.voted.attempts,
            candidates=self.voted.candidates,
            correct=correct_of(self.task, self.voted.attempts),
        )


def correct_of(task: Task, chosen: tuple[Attempts, ...]) -> tuple[bool, ...] | None:
    """Per test input, whether one of its attempts is the solution; None when solutions are unknown."""
    if not task.has_solutions:
        return None
    return tuple(correct([a.to_json() for a in chosen], task.test_outputs))


def fallback_result(task: Task, error: str) -> TaskResult:
    """A failed task's record: fallback attempts and the reason."""
    return Outcome(task, voted=vote_step(task, None, "count"), errors=[error]).record()
