"""Solve ARC tasks with per-task test-time training and write a Kaggle submission.

    python flows/submit.py --challenges arc1/eval --limit 8 --out runs/demo
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python flows/submit.py` runs from anywhere
from flows import prefect_env  # noqa: E402,F401  (offline Prefect defaults; must come before prefect)
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import TerminationSignal
from prefect.states import State

from flows.common import ensure_gpu_limit, final_state, publish_report, publish_task, start_progress
from tasks_lib import solve
from tasks_lib.budget import TaskBudget
from tasks_lib.run import Run, check_inputs, fallback_result, prepare
from tasks_lib.ui import task_line

STEP = dict(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=1)
RUN: dict[str, Run] = {}  # the live run, by flow-run-independent key; subflows look it up here


@task(name="load-model", task_run_name="load-model / slot {slot}", timeout_seconds=3600, **STEP)
async def load_model(slot: int) -> dict:
    run = RUN["current"]
    return await asyncio.to_thread(solve.load_step, run.pool, slot, run.cfg)


@task(name="train-adapter", task_run_name="train / {task_id}", timeout_seconds=6 * 3600, **STEP)
async def train_adapter(task_id: str, slot: int, budget: TaskBudget) -> dict:
    run = RUN["current"]
    async with concurrency(run.cfg.slots.limit_name(), occupy=1):
        return await asyncio.to_thread(solve.train_step, run.pool, slot, run.tasks[task_id], run.cfg, budget, str(run.dir.adapter_dir(task_id)))


@task(name="train-shared-adapter", task_run_name="train-shared / slot {slot}", timeout_seconds=6 * 3600, **STEP)
async def train_shared_adapter(slot: int) -> dict | None:
    """Train scope shared: one adapter on every task of the run, before any task starts (Run.train_shared)."""
    run = RUN["current"]
    async with concurrency(run.cfg.slots.limit_name(), occupy=1):
        return await asyncio.to_thread(run.train_shared, slot)


@task(name="sample", task_run_name="sample / {task_id}", timeout_seconds=6 * 3600, **STEP)
async def sample(task_id: str, slot: int, budget: TaskBudget) -> dict:
    run = RUN["current"]
    async with concurrency(run.cfg.slots.limit_name(), occupy=1):
        return await asyncio.to_thread(solve.sample_step, run.pool, slot, run.tasks[task_id], run.cfg, budget, str(run.dir.adapter_dir(task_id)))


@task(name="vote", task_run_name="vote / {task_id}", cache_policy=NO_CACHE, timeout_seconds=600)
def vote(task_id: str, candidates: list | None) -> list[dict]:
    run = RUN["current"]
    return solve.vote_step(run.tasks[task_id], candidates, run.cfg.vote.rule)


@flow(name="solve-task", flow_run_name="{task_id}")
async def solve_task(task_id: str, slot: int) -> State:
    """load-model -> train-adapter -> sample -> vote for one task. Failed training still samples (with the base
    model); failed sampling leaves fallback attempts. With train scope shared or none, train-adapter trains
    nothing and sample uses the shared adapter (linked as the task's own) or the base model. Ends in a state
    named by the task's state word (Solved, Unsolved, Unscored, Fallback, or Failed)."""
    run, logger = RUN["current"], get_run_logger()
    budget = run.budget.claim(task_id)
    logger.info(f"{task_id}: started on slot {slot} with a {budget.seconds:.0f}s budget | {run.progress()}")
    timings, trained, sampled, errors = {}, None, None, []
    t0 = time.time()
    try:
        timings["load"] = (await load_model(slot))["seconds"]
        trained = await train_adapter(task_id, slot, budget)
        timings["train"] = trained["wall_seconds"]
    except Exception as err:  # sample anyway: the base model (or a saved adapter) still beats fallbacks
        errors.append(f"train: {type(err).__name__}: {err}")
        timings["train"] = time.time() - t0
    try:
        sampled = await sample(task_id, slot, budget)
        timings["sample"] = sampled["wall_seconds"]
    except Exception as err:  # the task gets fallback attempts; the run goes on
        errors.append(f"sample: {type(err).__name__}: {err}")
    t1 = time.time()
    voted = vote(task_id, sampled["candidates"] if sampled else None)
    timings["vote"] = time.time() - t1
    result = solve.task_result(run.tasks[task_id], "failed" if errors else "ok", voted, budget, timings, trained, sampled, "; ".join(errors) or None, slot)
    run.budget.release(task_id)
    run.record(result)
    await publish_task(run, result)
    logger.info(f"{task_line(result)} | {run.progress()}")
    return final_state(result)


@flow(name="arc-ttt-submit", log_prints=True)
async def submit(challenges: str = "arc1/eval", out: str = "runs/latest", profile: str = "cpu", solutions: str | None = None,
                 limit: int | None = None, time_budget: float | None = None, model: str | None = None,
                 order: str = "file") -> dict | None:
    """Per-task TTT on every task of `challenges`; writes submission.json and report.json under `out`."""
    run = RUN["current"] = prepare(challenges, out, profile, solutions, limit, time_budget, model, order)
    logger = get_run_logger()
    logger.info(f"{len(run.data.n_test)} tasks ({len(run.todo)} to do, {len(run.resumed)} resumed, {len(run.data.invalid)} invalid); {run.progress()}")
    await start_progress(run)
    pool = run.open_slots()
    try:
        await ensure_gpu_limit(run.cfg.slots.limit_name(), len(pool), reset=not run.others_live())
        if run.todo:  # every slot loads (and compiles) at once, before any task's budget starts
            await asyncio.gather(*(load_model(s) for s in range(len(pool))), return_exceptions=True)
        if run.todo and run.cfg.train.scope == "shared":
            try:
                shared = await train_shared_adapter(0)
                logger.info(f"shared adapter: {shared.get('steps')} steps on {shared.get('tasks')} tasks | {run.progress()}")
            except Exception as err:  # the tasks then fail their train step and sample the base model
                logger.warning(f"shared adapter failed: {type(err).__name__}: {err}")
        gate = asyncio.Semaphore(len(pool))

        async def one(t):
            async with gate:
                slot = pool.acquire()
                try:
                    state = await solve_task(t.id, slot, return_state=True)
                    if t.id not in run.results:  # the subflow could not even record: fallbacks, redone on resume
                        run.record(fallback_result(t, state.message or state.name), persist=False)
                except Exception as err:  # the subflow could not start
                    run.record(fallback_result(t, f"{type(err).__name__}: {err}"), persist=False)
                finally:
                    pool.release(slot)
                if t.id in run.results:  # in the run's own log too, which is what `--watch` shows
                    logger.info(f"{task_line(run.results[t.id])} | {run.progress()}")

        await asyncio.gather(*(one(t) for t in run.todo))
    finally:
        run.close()
    report = run.finish()
    await publish_report(run, report, out)
    return report["score"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="arc-ttt: per-task test-time training for ARC, writes a Kaggle submission")
    p.add_argument("--challenges", default="arc1/eval", help="Kaggle challenges JSON, or arc1/train, arc1/eval, arc2/train, arc2/eval")
    p.add_argument("--solutions", help="Kaggle solutions JSON (scores the run)")
    p.add_argument("--limit", type=int, default=None, help="the first N tasks in --order (default: all)")
    p.add_argument("--order", default="file", choices=("file", "smallest"), help="file: as listed; smallest: smallest tasks first")
    p.add_argument("--profile", default="cpu", help="a profile name in profiles/ or a YAML path")
    p.add_argument("--time-budget", type=float, help="total wall seconds for the run (default: the profile's)")
    p.add_argument("--model", help="a local Hugging Face causal-LM directory (default: the profile's)")
    p.add_argument("--out", default="runs/latest", help="output directory (same directory again = resume)")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: workers stop, the submission on disk stays valid
    try:
        check_inputs(args.challenges, args.out, args.profile, args.solutions, args.limit, args.model, args.order)
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        score = asyncio.run(submit(args.challenges, args.out, args.profile, args.solutions, args.limit, args.time_budget, args.model,
                                   args.order))
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except TerminationSignal as stop:  # SIGTERM (Kaggle's time-up) during the flow: workers are gone, finished work is kept
        run = RUN.get("current")
        if run is not None:
            run.finish()
        print(f"stopped by signal {stop.signal}: {args.out}/submission.json holds every task finished so far", file=sys.stderr)
        return 128 + stop.signal
    print(f"submission: {args.out}/submission.json  report: {args.out}/report.json")
    if score:
        print(f"score: {score['kaggle']:.3f} ({score['solved_outputs']}/{score['total_outputs']} test outputs solved), per task {score['per_task']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
