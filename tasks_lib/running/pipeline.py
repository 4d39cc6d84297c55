"""Solve a run's tasks on its slots: the one code path behind the submit flow, the benchmarks and the studies.

Contract:
- `Steps` holds the steps as async callables. `local_steps(run)` runs each in a thread, with no Prefect;
  `flows/submit.py` supplies the same functions wrapped as Prefect tasks (retries, timeouts, names) and a
  publisher of UI artifacts. Every implementation calls `load`, `train`, `sample`, `vote` and `train_shared`
  below, which hand the work to `tasks_lib.running.solve` and the run's slot pool.
- `solve_task(run, steps, task_id, slot)` is one task, start to record: it claims the task's budget, then
  loads the model, trains the adapter, samples and votes, records the result (`Run.record`: result.json,
  then submission.json) and publishes it. Failure policy, each failure adding `"<step>: <error>"` to the
  record, whose status is then `failed`:
  - load fails: nothing more runs on the slot for this task; the task gets fallback attempts;
  - train fails: the task is still sampled (the base model, or what the adapter learned before the
    failure, beats fallbacks);
  - sample fails: the task gets fallback attempts;
  - vote never fails.
  Each step's wall time goes in `timings` and its start and end in `spans`.
- `solve_all(run, steps, solve=None, slots=None)` loads the model on every slot at once (what each load returned,
  or its error, read into a `report_parts.SlotLoad`, goes in `report.json` as `slot_loads`), trains the shared
  adapter (train scope shared: `train_shared`, one adapter on every task still to do within `Budget.claim_shared`,
  saved to `shared/adapter/` with its record beside it and linked as each task's adapter; one already on disk is
  reused, and report.json's `shared` then says it was resumed, with the record the run that trained it kept), then
  runs every task to do in the run's order (largest first) on the first free slot, one task per slot at a time: one
  loop per slot, each taking the next task, is the only limit inside a run. A task
  whose `solve` raises (it could not even record) gets fallback attempts in the submission only, so a resumed
  run redoes it. `solve` defaults to `solve_task` (the flow passes its per-task subflow, which calls it).
- Refinement (`schedule.refine` on and `Steps.refine` given): once no pass-1 task is waiting, a free slot
  takes the most unsure finished task (`tasks_lib.running.refine.pick`) and runs `refine_task`: a block of the
  time left (`Budget.claim_extra`, sized by `refine.plan`), the `refine` step (continue training from the
  saved adapter, sample new views), a vote over all the task's candidates (old and new), and a new record
  (result.json, candidates.json, submission.json, each atomic; the round's entry keeps its `slot` and its `span`,
  start and end of its refine step and vote, for the timeline), then publish. A refinement that fails, or
  gets less time than `refine.MIN_STEPS` steps and one view, or whose candidates.json is missing (a task
  resumed from a run that did not keep them: a vote over the new candidates alone could lose its answer),
  records nothing: the task keeps the record it had. A slot
  with nothing to refine waits while other tasks still run (they may become refinable) and stops when none
  do, or when the time left cannot pay for a refinement.
- Overhead: for each pass-1 task the slot's wall time beyond what the task held of its budget is measured
  (`Budget.note_overhead`, `RunStats.overheads`): the budget reserves it for the tasks still waiting. Each slot's
  first task is told as `startup`: its time before the claim holds the slot's start-up (its first subflow
  start), which the budget keeps out of the per-task mean.
- Sampling cost: every claim (pass 1 and refinement) gives the budget the task's expected answer tokens
  (`encoding.answer_tokens`), and every sample step that ran to the end gives it its wall seconds and the
  tokens it decoded (`solve.sample_measure`, `Budget.note_sample`), so the next claims leave sampling the time
  their answers need.
- Records and measurements: every task record is a `records.TaskResult`; what the loop measures (slot loads, the
  shared adapter's stats, overheads, failed refinements, when work started) goes in `run.stats` (`run.RunStats`),
  the one object the pipeline fills and `Run.finish` reports.
- `run_direct(...)` is a whole run without Prefect (prepare, slots, `solve_all`, report), returning the report
  (`run_record.Report`, what report.json holds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks_lib.adapting.model import ADAPTER_FILE
from tasks_lib.adapting.shared_adapter import SHARED_ID
from tasks_lib.arc.encoding import answer_tokens
from tasks_lib.arc.records import Candidate, RecordError, TaskResult
from tasks_lib.arc.report_parts import Overhead, RefineFailure, SharedAdapter, SlotLoad
from tasks_lib.arc.run_record import Report
from tasks_lib.arc.store import atomic_write_json
from tasks_lib.reports.ui import task_line
from tasks_lib.running import refine as refine_mod
from tasks_lib.running import solve
from tasks_lib.running.budget import TaskBudget
from tasks_lib.running.run import Run, prepare
from tasks_lib.running.solve import Outcome, Voted, fallback_result

logger = logging.getLogger(__name__)


async def load(run: Run, slot: int) -> dict:
    """The base model resident (and the train step compiled) in the slot's worker."""
    return await asyncio.to_thread(solve.load_step, run.pool, slot, run.cfg)


async def train(run: Run, task_id: str, slot: int, budget: TaskBudget) -> dict:
    """The task's adapter, trained until its train deadline and saved under the run folder."""
    return await asyncio.to_thread(solve.train_step, run.pool, slot, run.tasks[task_id], run.cfg, budget, str(run.dir.adapter_dir(task_id)))


async def sample(run: Run, task_id: str, slot: int, budget: TaskBudget) -> dict:
    """Candidates per test input from the task's adapter (or the base model), until the task's deadline."""
    return await asyncio.to_thread(solve.sample_step, run.pool, slot, run.tasks[task_id], run.cfg, budget, str(run.dir.adapter_dir(task_id)))


async def vote(run: Run, task_id: str, candidates: list[list[Candidate]] | None) -> Voted:
    """The two attempts per test input (fallbacks where candidates are missing)."""
    return solve.vote_step(run.tasks[task_id], candidates, run.cfg.vote.rule)


def _train_shared(run: Run, slot: int) -> dict | None:
    """Scope shared: train the run's one adapter within the budget's shared block (`Budget.claim_shared`), save it to
    `shared/adapter/`, keep its record beside it (`Run.shared_record`) and link it as every pending task's
    `tasks/<id>/adapter`; an adapter already there (resume) is reused and its record says so (`_resumed_shared`).
    None for other scopes or nothing to do. Its `SharedAdapter` goes in `run.stats.shared` (report.json `shared`);
    the step returns its JSON form."""
    if run.cfg.train.scope != "shared" or not run.todo:
        return None
    if (run.shared_dir / ADAPTER_FILE).exists():
        shared = _resumed_shared(run)
    else:
        budget = run.budget.claim_shared(SHARED_ID)
        try:
            stats = {**solve.shared_step(run.pool, slot, run.todo, run.cfg, budget, str(run.shared_dir)),
                     "budget_seconds": round(budget.seconds, 3), "slot": slot}
        finally:
            run.budget.release(budget.task_id)
        shared = SharedAdapter.from_json(stats, "shared adapter")
        atomic_write_json(run.shared_record, shared.to_json())
    for task in run.todo:
        link = run.dir.adapter_dir(task.id)
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            shutil.rmtree(link)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(run.shared_dir, link.parent), target_is_directory=True)
    run.stats.shared = shared
    return shared.to_json()


def _resumed_shared(run: Run) -> SharedAdapter:
    """The record of a shared adapter an earlier run in this folder trained: the one it kept, marked resumed; without
    one (or one that cannot be read, logged) only that it was resumed, with no training numbers."""
    path = run.shared_record
    try:
        kept = SharedAdapter.from_json(json.loads(path.read_text()), str(path), "")
    except FileNotFoundError:
        kept = SharedAdapter(None)
    except (OSError, ValueError) as err:  # not JSON, or not a SharedAdapter (RecordError names the field)
        logger.warning("ignored, the shared adapter is reported as resumed only: %s", err if isinstance(err, RecordError) else f"{path}: {err}")
        kept = SharedAdapter(None)
    return kept.replace(resumed=True)


def _shared_line(shared: SharedAdapter | None) -> str:
    if shared is None:
        return "no record"
    if shared.resumed:
        return "resumed from an earlier run in this folder" + ("" if shared.train is None else f" ({shared.train.steps} steps then)")
    return f"{shared.train.steps} steps on {shared.tasks} tasks"


async def train_shared(run: Run, slot: int) -> dict | None:
    """Train scope shared: the run's one adapter, before any task starts (`_train_shared`); None for the other scopes."""
    return await asyncio.to_thread(_train_shared, run, slot)


async def refine(run: Run, task_id: str, slot: int, budget: TaskBudget, round_no: int) -> dict:
    """Refinement `round` of a finished task on `slot` (`refine.refine_step`): more training, new views."""
    p = refine_mod.plan(run.results[task_id], run.cfg, round_no, run.budget.overhead, run.tasks[task_id].test_inputs)
    return await asyncio.to_thread(refine_mod.refine_step, run.pool, slot, run.tasks[task_id], budget, str(run.dir.adapter_dir(task_id)), p)


@dataclass(frozen=True)
class Steps:
    """The steps `solve_task` and `solve_all` call, each bound to the run."""

    load: Callable[[int], Awaitable[dict]]
    train: Callable[[str, int, TaskBudget], Awaitable[dict]]
    sample: Callable[[str, int, TaskBudget], Awaitable[dict]]
    vote: Callable[[str, list | None], Awaitable[Voted]]
    train_shared: Callable[[int], Awaitable[dict | None]]
    publish: Callable[[TaskResult], Awaitable[None]]  # after a task is recorded (UI cards); must not raise
    refine: Callable[[str, int, TaskBudget, int], Awaitable[dict]] | None = None  # None: no refinement passes
    log: Callable[[str], None] = logger.info


def local_steps(run: Run) -> Steps:
    """The steps without Prefect: what benchmarks, studies and tests call."""

    async def publish(result: TaskResult) -> None:
        return None

    return Steps(load=lambda slot: load(run, slot),
                 train=lambda task_id, slot, budget: train(run, task_id, slot, budget),
                 sample=lambda task_id, slot, budget: sample(run, task_id, slot, budget),
                 vote=lambda task_id, candidates: vote(run, task_id, candidates),
                 train_shared=lambda slot: train_shared(run, slot),
                 publish=publish,
                 refine=lambda task_id, slot, budget, round_no: refine(run, task_id, slot, budget, round_no))


def _note_sample(run: Run, sample: dict | None) -> None:
    """Tell the budget what a sample step that ran to the end cost (the next claims leave sampling that much)."""
    measured = solve.sample_measure(sample)
    if measured is not None:
        run.budget.note_sample(*measured)


async def _timed(outcome: Outcome, name: str, call: Awaitable[Any]) -> Any:
    """Await one step, keeping its wall time and span; a failure is added to the outcome's errors (None returned)."""
    t0 = time.time()
    try:
        return await call
    except Exception as err:  # the failure policy (module doc) decides what runs next
        outcome.errors.append(f"{name}: {type(err).__name__}: {err}")
        return None
    finally:
        t1 = time.time()
        outcome.timings[name] = t1 - t0
        outcome.spans[name] = (t0, t1)


async def solve_task(run: Run, steps: Steps, task_id: str, slot: int) -> TaskResult:
    """One task on `slot`: budget, load, train, sample, vote, record, publish (failure policy: module doc)."""
    task = run.tasks[task_id]
    budget = run.budget.claim(task_id, answer_tokens(task))
    steps.log(f"{task_id}: started on slot {slot} with a {budget.seconds:.0f}s budget | {run.progress()}")
    outcome = Outcome(task, slot=slot, budget=budget)
    try:
        if await _timed(outcome, "load", steps.load(slot)) is not None:
            outcome.train = await _timed(outcome, "train", steps.train(task_id, slot, budget))
            outcome.sample = await _timed(outcome, "sample", steps.sample(task_id, slot, budget))
            _note_sample(run, outcome.sample)
        candidates = outcome.sample["candidates"] if outcome.sample else None
        outcome.voted = await _timed(outcome, "vote", steps.vote(task_id, candidates)) or Voted()
    finally:
        run.budget.release(task_id)
    result = outcome.record()
    run.record(result, candidates=candidates)
    await steps.publish(result)
    steps.log(f"{task_line(result)} | {run.progress()}")
    return result


async def refine_task(run: Run, steps: Steps, task_id: str, slot: int, round_no: int) -> TaskResult | None:
    """Refinement `round` of a finished task on `slot` (module doc); its new record, or None when it recorded
    nothing (no time for it, or it failed: the old record stands)."""
    old = run.results[task_id]
    before = run.dir.read_candidates(task_id)  # every candidate the task has so far, per test input
    if before is None:
        run.stats.refine_failures.append(RefineFailure(task_id, round_no, "no candidates.json to vote again over"))
        return None
    p = refine_mod.plan(old, run.cfg, round_no, run.budget.overhead, run.tasks[task_id].test_inputs)
    key = f"{task_id}#refine-{round_no}"
    budget = run.budget.claim_extra(key, p.seconds, p.train_fraction, answer_tokens(run.tasks[task_id]))
    if budget.seconds < p.least:
        run.budget.release(key)
        return None
    timings: dict[str, float] = {}
    t0 = time.time()
    try:
        out = await steps.refine(task_id, slot, budget, round_no)
    except Exception as err:  # the old record stands
        run.stats.refine_failures.append(RefineFailure(task_id, round_no, f"{type(err).__name__}: {err}"))
        steps.log(f"{task_id}: refinement {round_no} failed ({type(err).__name__}: {err}); its answer is unchanged")
        return None
    finally:
        timings["refine"] = time.time() - t0
        run.budget.release(key)
    _note_sample(run, out["sample"])
    candidates = [old_c + new_c for old_c, new_c in zip(before, out["sample"]["candidates"])]
    candidates += before[len(candidates):]
    t1 = time.time()
    result = refine_mod.merged(old, run.tasks[task_id], p, budget, out, candidates, run.cfg.vote.rule, timings)
    timings["vote"] = time.time() - t1
    result = result.with_last_round(timings={k: round(v, 3) for k, v in timings.items()}, slot=slot,
                                    span=(round(t0, 3), round(time.time(), 3)))
    run.record(result, candidates=candidates)
    await steps.publish(result)
    steps.log(f"refine {round_no}: {task_line(result)} | {run.progress()}")
    return result


async def solve_all(run: Run, steps: Steps, solve: Callable[[str, int], Awaitable[Any]] | None = None,
                    slots: int | None = None) -> None:
    """Every task still to do, each on a free slot (see module doc). `slots` defaults to the run's pool size."""
    default = lambda task_id, slot: solve_task(run, steps, task_id, slot)  # noqa: E731
    solve = solve or default
    n = len(run.pool) if slots is None else slots
    if not run.todo:  # everything was done by earlier runs in this folder
        if run.cfg.train.scope == "shared" and (run.shared_dir / ADAPTER_FILE).exists():
            run.stats.shared = _resumed_shared(run)
        return
    loads = await asyncio.gather(*(steps.load(s) for s in range(n)), return_exceptions=True)  # before any task's budget starts
    run.stats.slot_loads = [SlotLoad.from_json(x, f"slot {i}", "load") if isinstance(x, dict) else SlotLoad.failed(x) for i, x in enumerate(loads)]
    if run.cfg.train.scope == "shared":
        try:
            await steps.train_shared(0)
            steps.log(f"shared adapter: {_shared_line(run.stats.shared)} | {run.progress()}")
        except Exception as err:  # the tasks then fail their train step and sample the base model
            steps.log(f"shared adapter failed: {type(err).__name__}: {err}")
    todo = deque(t.id for t in run.todo)
    refining = run.cfg.schedule.refine and steps.refine is not None
    busy: set[str] = set()  # tasks on a slot now (pass 1 or refinement)
    rounds: dict[str, int] = {}
    changed = asyncio.Event()  # a task ended (pass 1 or refinement): a waiting slot may find one to refine
    started: set[int] = set()  # slots that began a task: the first one's overhead holds the slot's start-up

    async def first(task_id: str, slot: int) -> None:
        startup = slot not in started
        started.add(slot)
        busy.add(task_id)
        if run.stats.work_started is None:
            run.stats.work_started = time.time()
        t0 = time.time()
        try:
            ended = await solve(task_id, slot)
            if task_id not in run.results:  # the task's run ended without a record (e.g. a Prefect state that failed)
                why = getattr(ended, "message", None) or getattr(ended, "name", None) or "the task ended without a record"
                run.record(fallback_result(run.tasks[task_id], str(why)), persist=False)
        except Exception as err:  # could not even record: fallbacks in the submission, redone on resume
            run.record(fallback_result(run.tasks[task_id], f"{type(err).__name__}: {err}"), persist=False)
        finally:
            busy.discard(task_id)
            changed.set()
        held = run.budget.held.get(task_id)
        if held is not None:  # the slot's time outside the task's claim: before it (subflow start) and after (record, publish, end)
            before, after = held[0] - t0, time.time() - held[1]
            run.stats.overheads[task_id] = Overhead(round(before, 3), round(after, 3))
            run.budget.note_overhead(before + after, startup=startup)  # a start-up is paid once per slot (budget doc)
        if solve is not default:  # the task logged in its own run; the run's log gets its line too (what `--watch` shows)
            steps.log(f"{task_line(run.results[task_id])} | {run.progress()}")

    async def slot_loop(slot: int) -> None:
        while True:
            changed.clear()
            if todo:
                await first(todo.popleft(), slot)
                continue
            if not refining:
                return
            task_id = refine_mod.pick(run.results, busy, rounds, run.cfg.schedule)
            if task_id is None:
                if not busy:
                    return
                await changed.wait()
                continue
            rounds[task_id] = rounds.get(task_id, 0) + 1
            busy.add(task_id)
            try:
                done = await refine_task(run, steps, task_id, slot, rounds[task_id])
            finally:
                busy.discard(task_id)
                changed.set()
            if done is None and run.budget.time_left() <= run.budget.overhead:
                return

    await asyncio.gather(*(slot_loop(s) for s in range(n)))


def run_direct(challenges: str, out: str | Path, profile: str = "cpu", solutions: str | None = None, limit: int | None = None,
               time_budget: float | None = None, model: str | None = None, order: str = "file", skip: int = 0) -> Report:
    """A whole run without Prefect, with `flows/submit.py`'s parameters; returns its report (report.json's record)."""
    run = prepare(challenges, out, profile, solutions, limit, time_budget, model, order, skip)
    run.open_slots()
    try:
        asyncio.run(solve_all(run, local_steps(run)))
    finally:
        run.close()
    return run.finish()
