"""Solve ARC tasks with per-task test-time training and write a Kaggle submission.

    python flows/submit.py --challenges arc1/eval --limit 8 --out runs/demo
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python flows/submit.py` runs from anywhere
from flows import prefect_env  # noqa: E402,F401  (offline Prefect defaults; must come before prefect)
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import TerminationSignal
from prefect.runtime import flow_run
from prefect.states import State
from pydantic import Field

from flows.common import final_state, publish_report, publish_task, run_final_state, start_progress
from tasks_lib.arc.records import TaskResult
from tasks_lib.config import profile_names
from tasks_lib.running import pipeline
from tasks_lib.running.budget import TaskBudget
from tasks_lib.running.run import Run, check_inputs, prepare
from tasks_lib.running.solve import Voted

Order = Literal["file", "smallest"]
Profile = (Annotated[Literal[profile_names()], Field(title="shipped profile")]  # type: ignore[valid-type]  (the UI offers these)
           | Annotated[str, Field(title="YAML path")])
STEP = dict(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=1)
def bound_steps(run: Run) -> tuple[pipeline.Steps, Callable[[str, int], Awaitable[State]]]:
    """The pipeline's steps as Prefect tasks bound to `run` (logging to the current flow run), and the per-task
    subflow that calls them: each submit run builds its own, so no run lives in module state."""
    subflows: dict[str, str] = {}  # task id -> its solve-task subflow run id: where its card lives, what a refinement renames

    @task(name="load-model", task_run_name="load-model / slot {slot}", timeout_seconds=3600, **STEP)
    async def load_model(slot: int) -> dict:
        return await pipeline.load(run, slot)

    @task(name="train-adapter", task_run_name="train / {task_id}", timeout_seconds=6 * 3600, **STEP)
    async def train_adapter(task_id: str, slot: int, budget: TaskBudget) -> dict:
        return await pipeline.train(run, task_id, slot, budget)

    @task(name="train-shared-adapter", task_run_name="train-shared / slot {slot}", timeout_seconds=6 * 3600, **STEP)
    async def train_shared_adapter(slot: int) -> dict | None:
        """Train scope shared: one adapter on every task of the run, before any task starts (pipeline.train_shared)."""
        return await pipeline.train_shared(run, slot)

    @task(name="sample", task_run_name="sample / {task_id}", timeout_seconds=6 * 3600, **STEP)
    async def sample(task_id: str, slot: int, budget: TaskBudget) -> dict:
        return await pipeline.sample(run, task_id, slot, budget)

    @task(name="refine", task_run_name="refine / {task_id}", timeout_seconds=6 * 3600, **STEP)
    async def refine(task_id: str, slot: int, budget: TaskBudget, round_no: int) -> dict:
        """A finished, unsure task: more training from its saved adapter and new views (tasks_lib/running/refine.py)."""
        return await pipeline.refine(run, task_id, slot, budget, round_no)

    @task(name="vote", task_run_name="vote / {task_id}", cache_policy=NO_CACHE, timeout_seconds=600)
    async def vote(task_id: str, candidates: list | None) -> Voted:
        return await pipeline.vote(run, task_id, candidates)

    async def publish(result: TaskResult) -> None:
        """The task's pictures, card and subflow name; after a refinement its subflow's state too (flows/common.py)."""
        await publish_task(run, result, subflows.get(result.task_id))

    steps = pipeline.Steps(load=load_model, train=train_adapter, sample=sample, vote=vote, train_shared=train_shared_adapter,
                           publish=publish, refine=refine, log=lambda msg: get_run_logger().info(msg))

    @flow(name="solve-task", flow_run_name="{task_id}")
    async def solve_task(task_id: str, slot: int) -> State:
        """load-model -> train-adapter -> sample -> vote for one task, then its record (tasks_lib/running/pipeline.py). Ends in a
        state named by the task's state word (Solved, Unsolved, Unscored, Fallback, or Failed); a later refinement
        of the task renames it (`publish`)."""
        subflows[task_id] = str(flow_run.get_id())
        return final_state(await pipeline.solve_task(run, steps, task_id, slot))

    return steps, solve_task


def run_name() -> str:
    """The run's name in the UI: its run id, the name of its `out` folder (`tasks_lib.running.run.prepare`)."""
    return Path(flow_run.parameters.get("out") or "runs/latest").resolve().name


@flow(name="arc-ttt-submit", flow_run_name=run_name, log_prints=True)
async def submit(challenges: str = "arc1/eval", out: str = "runs/latest", profile: Profile = "cpu", solutions: str | None = None,
                 limit: int | None = None, time_budget: float | None = None, model: str | None = None,
                 order: Order = "file", skip: int = 0) -> State:
    """Per-task TTT on every task of `challenges` (after the first `skip` in `order`, at most `limit`); writes
    submission.json and report.json under `out`. Ends in a Completed state named by the tasks solved and the score
    ('4/10 solved, 0.400'), with pass 1's score in its message; its result is the score (None without solutions).

    Args:
        challenges: A Kaggle challenges JSON, or a bundled set: arc1/train, arc1/eval, arc2/train, arc2/eval.
        out: The run folder; its name is the run id (the run's name in the UI). The same folder again resumes.
        profile: A profile shipped in profiles/ (pick one), or the path of a profile YAML file.
        solutions: A Kaggle solutions JSON; the run is then scored (the bundled sets are scored without it).
        limit: At most this many tasks, the first in `order` after `skip` (empty: all).
        time_budget: Total wall seconds for the run (empty: the profile's).
        model: A local Hugging Face causal-LM directory (empty: the profile's).
        order: file: tasks as the file lists them; smallest: smallest tasks first.
        skip: Skip the first N tasks in `order`, then take `limit` (runs a set in chunks).
    """
    run = prepare(challenges, out, profile, solutions, limit, time_budget, model, order, skip)
    get_run_logger().info(f"{len(run.data.n_test)} tasks ({len(run.todo)} to do, {len(run.resumed)} resumed, "
                          f"{len(run.data.invalid)} invalid); {run.progress()}")
    await start_progress(run)
    steps, solve_task = bound_steps(run)
    run.open_slots()
    try:
        try:
            await pipeline.solve_all(run, steps, solve=lambda task_id, slot: solve_task(task_id, slot, return_state=True))
        finally:
            run.close()
    except (TerminationSignal, asyncio.CancelledError):  # SIGTERM (Kaggle's time-up; the loop cancels the flow): workers
        run.finish()                                       # are gone; report what finished, then main says so
        raise
    report = run.finish()
    await publish_report(run, report, out)
    return run_final_state(report)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="arc-ttt: per-task test-time training for ARC, writes a Kaggle submission")
    p.add_argument("--challenges", default="arc1/eval", help="Kaggle challenges JSON, or arc1/train, arc1/eval, arc2/train, arc2/eval")
    p.add_argument("--solutions", help="Kaggle solutions JSON (scores the run)")
    p.add_argument("--skip", type=int, default=0, help="skip the first N tasks in --order, then --limit (runs a set in chunks)")
    p.add_argument("--limit", type=int, default=None, help="the first N tasks in --order after --skip (default: all)")
    p.add_argument("--order", default="file", choices=("file", "smallest"), help="file: as listed; smallest: smallest tasks first")
    p.add_argument("--profile", default="cpu", help="a profile name in profiles/ or a YAML path")
    p.add_argument("--time-budget", type=float, help="total wall seconds for the run (default: the profile's)")
    p.add_argument("--model", help="a local Hugging Face causal-LM directory (default: the profile's)")
    p.add_argument("--out", default="runs/latest", help="output directory (same directory again = resume)")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: workers stop, the submission on disk stays valid
    try:
        check_inputs(args.challenges, args.out, args.profile, args.solutions, args.limit, args.model, args.order, args.skip)
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        score = asyncio.run(submit(args.challenges, args.out, args.profile, args.solutions, args.limit, args.time_budget, args.model,
                                   args.order, args.skip))
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except TerminationSignal as stop:  # SIGTERM (Kaggle's time-up) during the flow: workers are gone, finished work is kept
        print(f"stopped by signal {stop.signal}: {args.out}/submission.json holds every task finished so far", file=sys.stderr)
        return 128 + stop.signal
    print(f"submission: {args.out}/submission.json  report: {args.out}/report.json")
    if score:
        print(f"score: {score['kaggle']:.3f} ({score['solved_outputs']}/{score['total_outputs']} test outputs solved), per task {score['per_task']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
