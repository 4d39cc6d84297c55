"""A run: its inputs, its slots, its records and its submission.

Contract:
- `prepare(...)` validates everything a run needs before any training starts (profile, model
  directory, challenges file, output folder) and raises `DataError`/`ConfigError`/`StoreError`/
  `ModelError` with a one-line message naming the problem. It loads finished results from an earlier
  run with the same output folder (resume), orders the remaining tasks largest first, and writes a complete
  fallback `submission.json` at once. The run id is the output folder's name.
- `Run.results` holds each finished task's `records.TaskResult`. `Run.record(result, candidates=None)` writes `tasks/<id>/candidates.json` (when given) and
  `tasks/<id>/result.json`, then rewrites `submission.json` atomically,
  so a valid, complete submission is on disk at every moment. A failure that is not the task's own (its
  subflow could not run, or the run is stopping) is only put in the submission, so a resumed run redoes it.
- `Run.open_slots(pool=None)` leases devices and starts the slot pool (or takes `pool`, e.g. a test's), then builds
  the run's `Budget` for that many slots, counted from the run's start (`Run.started`): the budget exists once the
  slots are known, never patched. `Run.close()` stops the pool.
- `Run.stats` (`RunStats`) is what the pipeline measured while it ran the tasks, as the records report.json keeps
  (`arc/report_parts.py`: the shared adapter's `SharedAdapter`, each slot's first `SlotLoad`, an `Overhead` per task,
  a `RefineFailure` per refinement that recorded nothing; and when work started): `tasks_lib/running/pipeline.py`
  fills it, `finish` reports it. The run holds state and records; the orchestration is the pipeline's.
- `Run.finish()` writes `report.json` (start time, slots, the GPU of each (`cpu` for CPU slots) and what its
  first load returned, per-task status, state word (`ui.task_state`), budget, timings and spans, steps,
  candidates, attempts, refinements, correctness and the score when solutions are known (`kaggle`, `per_task`,
  `solved_outputs`, `total_outputs`, `scored_tasks`; and `score_pass1`, the
  score of the first pass's answers, so one run shows what refinement added); the run's
  `schedule` (`Run.schedule_stats`, a `report_parts.Schedule`): the measured overhead per task, the sample seconds per answer token the budget ended with, the
  refinements done and failed, the slots' busy fraction, and the tail: the seconds from the last claim's release
  (pass 1 or refinement) to the report, which the run's `reserve_seconds` must cover); its `compute`
  (`compute.training_compute`) and returns it (a `run_record.Report`).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tasks_lib.adapting.model import _validate_dir
from tasks_lib.arc.data import LoadResult, Task, load_challenges
from tasks_lib.arc.records import Attempts, Candidate, TaskResult
from tasks_lib.arc.report_parts import SHARED_RECORD_FILE, Compute, Overhead, RefineFailure, Schedule, SharedAdapter, SlotLoad
from tasks_lib.arc.run_record import Report, ReportTask, Score
from tasks_lib.arc.scoring import score
from tasks_lib.arc.store import RunDir, atomic_write_json
from tasks_lib.config import RunConfig, load_profile
from tasks_lib.reports.ui import progress_text, state_counts, task_state
from tasks_lib.running import submission as sub_mod
from tasks_lib.running.budget import Budget
from tasks_lib.running.compute import training_compute
from tasks_lib.running.slots import Leases, SlotPool, claim_gpus, default_lock_dir, plan_devices
from tasks_lib.running.solve import Outcome


@dataclass
class RunStats:
    """What the pipeline measures while it runs the tasks (tasks_lib/running/pipeline.py fills it; `Run.finish` reports it)."""

    shared: SharedAdapter | None = None  # scope shared: the run's one adapter (report.json `shared`)
    slot_loads: list[SlotLoad] = field(default_factory=list)  # what each slot's first load returned, or its error
    overheads: dict[str, Overhead] = field(default_factory=dict)  # task id -> slot seconds before and after its claim
    refine_failures: list[RefineFailure] = field(default_factory=list)  # refinements that recorded nothing, and why
    work_started: float | None = None  # when the first task claimed its budget (after the slots loaded)


@dataclass
class Run:
    cfg: RunConfig
    data: LoadResult
    dir: RunDir
    budget: Budget | None  # built by open_slots, once the slots are known
    todo: list[Task]
    results: dict[str, TaskResult]
    resumed: list[str]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # `prepare` names it after the run folder
    started: float = field(default_factory=time.time)
    pool: SlotPool | None = None
    leases: Leases | None = None
    stats: RunStats = field(default_factory=RunStats)  # filled by the pipeline
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @cached_property
    def tasks(self) -> dict[str, Task]:
        """Valid tasks by id (built once: every step and every submission rewrite looks tasks up)."""
        return {t.id: t for t in self.data.tasks}

    def open_slots(self, pool: SlotPool | None = None) -> SlotPool:
        """Lease GPUs (or use CPU slots) and start one worker per slot (or use `pool`); then the budget over them."""
        if pool is None:
            lock_dir = default_lock_dir(self.cfg.slots)
            plan = plan_devices(self.cfg.slots)
            if plan.kind == "cuda":
                self.leases = claim_gpus(plan.indices, plan.want, lock_dir)
            gpus = self.leases.ids if self.leases else []  # physical ids: the workers' CUDA_VISIBLE_DEVICES
            pool = SlotPool.for_run(self.cfg.slots, gpus, log_dir=self.dir.root / "logs")
        self.pool = pool
        self.budget = make_budget(self.cfg, self.todo, len(pool), self.started)
        return pool

    @property
    def ends_at(self) -> float:
        """When the run's time is up (its start + total - reserve): the budget's end."""
        return self.started + self.cfg.budget.total_seconds - self.cfg.budget.reserve_seconds

    @property
    def shared_dir(self) -> Path:
        return self.dir.root / "shared" / "adapter"

    @property
    def shared_record(self) -> Path:
        """The shared adapter's `SharedAdapter` record, kept beside it for a run that resumes with it."""
        return self.dir.root / "shared" / SHARED_RECORD_FILE

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.leases is not None:
            self.leases.release()

    def submission(self) -> dict:
        return sub_mod.assemble(self.data.n_test, self.tasks, self.results)

    def record(self, result: TaskResult, persist: bool = True, candidates: list[list[Candidate]] | None = None) -> None:
        """Rewrite the submission with one task's result, and persist the result (and its candidates, when
        given) unless `persist` is off or the task failed after the slots were closed (the run is stopping):
        such a task is redone on resume."""
        stopping = self.pool is not None and self.pool.closed
        with self._lock:
            if persist and not (stopping and result.status != "ok"):
                if candidates is not None:
                    self.dir.write_candidates(result.task_id, candidates)
                self.dir.write_result(result)
            self.results[result.task_id] = result
            sub_mod.write(self.dir.submission, self.submission(), self.data.n_test)

    def progress(self) -> str:
        """Tasks done and solved so far, and the time left in the budget (`ui.progress_text`)."""
        left = self.budget.time_left() if self.budget else max(0.0, self.ends_at - time.time())
        return progress_text(list(self.results.values()), len(self.data.n_test), seconds_left=left)

    def schedule_stats(self, tasks: list[TaskResult]) -> Schedule:
        """How the run spent its slots: overhead per task (measured), refinements, and the busy fraction (the
        tasks' own step time, pass 1 and refinements, over slots x the time from the first claim to now)."""
        slots = len(self.pool) if self.pool else 0
        start = self.stats.work_started or self.started
        span = max(1e-9, time.time() - start)
        used = sum(t.used_seconds or 0.0 for t in tasks if t.status != "invalid" and t.task_id not in self.resumed)
        overheads = [o.before + o.after for o in self.stats.overheads.values()]
        budget = self.budget
        last = max((released for _, released in budget.held.values()), default=None) if budget else None  # the last claim's release
        return Schedule(
            refinements=sum(len(t.refinements) for t in tasks),
            work_seconds=round(span, 3),
            overhead_mean_seconds=round(sum(overheads) / len(overheads), 3) if overheads else None,
            overhead_max_seconds=round(max(overheads), 3) if overheads else None,
            overhead_per_task=dict(self.stats.overheads),
            sample_seconds_per_token=round(budget.sample_cost, 6) if budget else None,  # measured once a task sampled to the end, else the guess
            refine_failures=tuple(self.stats.refine_failures),
            busy_fraction=round(used / (slots * span), 4) if slots else None,
            budget_end_in=round(self.ends_at - time.time(), 3),
            tail_seconds=None if last is None else round(time.time() - last, 3),
        )

    def compute_stats(self, tasks: list[TaskResult], work_seconds: float) -> Compute | None:
        """The run's training arithmetic and its share of the cards' peak (`tasks_lib.running.compute`), from the first slot
        that loaded (parameters, card) and the GPUs the slots held; None before any slot loaded."""
        loaded = next((x for x in self.stats.slot_loads if x.parameters is not None), None)
        if loaded is None:
            return None
        gpus = len({d for d in (s.env.get("CUDA_VISIBLE_DEVICES") for s in self.pool.slots) if d}) if self.pool else 0
        shared = self.stats.shared
        trained_here = shared.train if shared is not None and not shared.resumed else None  # a resumed adapter cost this run nothing
        return training_compute(tasks, loaded.parameters, work_seconds, gpus, loaded.device_name, set(self.resumed), trained_here)

    def finish(self) -> Report:
        """Write the final submission and report.json; return its record."""
        submission = self.submission()
        sub_mod.write(self.dir.submission, submission, self.data.n_test)
        solutions = {t.id: t.test_outputs for t in self.data.tasks if t.has_solutions}
        scored = score(submission, solutions) if solutions else None
        tasks = [self.results.get(tid) or TaskResult(tid, "not-run", tuple(Attempts.from_json(a) for a in submission[tid]))
                 for tid in self.data.n_test]
        statuses: dict[str, int] = {}
        for t in tasks:
            statuses[t.status] = statuses.get(t.status, 0) + 1
        schedule = self.schedule_stats(tasks)
        report = Report(
            run_id=self.run_id,
            source=self.data.source,
            profile=self.cfg.profile,
            config=self.cfg.to_dict(),
            started=round(self.started, 3),
            wall_seconds=round(time.time() - self.started, 2),
            slots=len(self.pool) if self.pool else 0,
            devices=tuple(s.env.get("CUDA_VISIBLE_DEVICES") or "cpu" for s in self.pool.slots) if self.pool else (),
            statuses=statuses,
            states=state_counts(tasks),
            shared=self.stats.shared,
            slot_loads=tuple(self.stats.slot_loads),
            schedule=schedule,
            compute=self.compute_stats(tasks, schedule.work_seconds),
            warnings=tuple(self.data.warnings),
            score=None if scored is None else _score_summary(scored),
            score_pass1=None if scored is None else _pass1_score(submission, tasks, solutions),
            tasks=tuple(ReportTask(t, task_state(t), t.task_id in self.resumed) for t in tasks),
        )
        atomic_write_json(self.dir.report, report.to_json())
        return report


def make_budget(cfg: RunConfig, todo: list[Task], slots: int, start: float) -> Budget:
    """The run's budget over `slots` slots from `start`: the tasks to do weighted by size (`budget.size_weighted`), the
    schedule's floor, overhead guess, first-pass share and sampling-cost guess."""
    weights = {t.id: (float(t.cells) if cfg.budget.size_weighted else 1.0) for t in todo}
    s = cfg.schedule
    return Budget(cfg.budget.total_seconds, cfg.budget.reserve_seconds, slots, weights, cfg.budget.train_fraction,
                  min_share=s.min_task_seconds, overhead=s.overhead_seconds,
                  first_pass_fraction=s.first_pass_fraction if s.refine else 1.0, sample_cost=s.sample_seconds_per_token, start=start)


def _pass1_score(submission: dict, tasks: list[TaskResult], solutions: dict) -> Score:
    """The score the submission had before any refinement: each refined task's `pass1` attempts in its place."""
    first = {**submission, **{t.task_id: [a.to_json() for a in t.pass1.attempts] for t in tasks if t.pass1 and t.pass1.attempts}}
    return _score_summary(score(first, solutions))


def _score_summary(scored: dict) -> Score:
    """What report.json keeps of `scoring.score`: the two scores, the outputs solved and in all, and how many tasks
    were scored (what `per_task` averages over, so chunks' scores add up: tasks_lib/reports/report.py)."""
    return Score(scored["kaggle"], scored["per_task"], scored["solved_outputs"], scored["total_outputs"], len(scored["tasks"]))


def _config(profile: str, time_budget: float | None, model: str | None) -> RunConfig:
    cfg = load_profile(profile)
    overrides: dict[str, dict] = {}
    if time_budget is not None:
        overrides["budget"] = cfg.budget.for_total(time_budget)
    if model is not None:
        overrides["model"] = {"path": str(Path(model).resolve())}
    return cfg.replace(overrides)


def check_inputs(challenges: str, out: str | Path, profile: str = "cpu", solutions: str | None = None,
                 limit: int | None = None, model: str | None = None, order: str = "file", skip: int = 0) -> None:
    """Everything `prepare` checks, with no side effects beyond creating `out`: fail fast, one line."""
    cfg = _config(profile, None, model)
    _validate_dir(cfg.model.resolved_path)
    load_challenges(challenges, solutions, limit, order, skip)
    RunDir(out).check_writable()


def prepare(
    challenges: str,
    out: str | Path,
    profile: str = "cpu",
    solutions: str | None = None,
    limit: int | None = None,
    time_budget: float | None = None,
    model: str | None = None,
    order: str = "file",
    skip: int = 0,
) -> Run:
    """Validate inputs, set up the run folder and budget, and write a fallback submission. `skip`/`limit` pick a
    chunk of the set in `order` (`data.load_challenges`)."""
    cfg = _config(profile, time_budget, model)
    _validate_dir(cfg.model.resolved_path)
    data = load_challenges(challenges, solutions, limit, order, skip)
    run_dir = RunDir(out)
    run_dir.check_writable()
    atomic_write_json(run_dir.root / "run.json", {
        "challenges": str(challenges), "solutions": solutions, "skip": skip, "limit": limit, "order": order, "profile": profile,
        "config": cfg.to_dict(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "pid": os.getpid(),
    })
    finished = run_dir.finished(list(data.n_test))
    results: dict[str, TaskResult] = {}
    for tid, r in finished.items():
        if len(r.attempts) == data.n_test[tid]:
            results[tid] = r
    for tid, reason in data.invalid.items():
        if tid not in results:
            placeholder = Task(tid, (), (), ())
            fallbacks = tuple(Attempts.from_json(a) for a in sub_mod.fallback_entry(None, data.n_test[tid]))
            results[tid] = Outcome(placeholder, errors=[reason], status="invalid").record().replace(attempts=fallbacks)
            run_dir.write_result(results[tid])
    todo = sorted((t for t in data.tasks if t.id not in results), key=lambda t: -t.cells)
    run = Run(cfg, data, run_dir, None, todo, results, resumed=[tid for tid in finished if tid in results], run_id=run_dir.root.resolve().name)
    sub_mod.write(run_dir.submission, run.submission(), data.n_test)
    return run
