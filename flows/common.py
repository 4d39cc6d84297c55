"""Prefect glue shared by the flows: the UI artifacts.

What the artifacts say is built in `tasks_lib.ui` and `tasks_lib.render`; this module only hands it to Prefect.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect import get_run_logger

from tasks_lib.render import task_panels, timeline_image, write_task_images
from tasks_lib.run import Run
from tasks_lib.ui import artifact_key, progress_percent, result_rows, summary_markdown, task_markdown, timeline_path, timeline_rows

_PROGRESS: dict[str, UUID] = {}  # run id -> its progress artifact, set by start_progress


async def start_progress(run: Run) -> None:
    """The run's progress artifact (share of tasks finished), shown while the run goes on."""
    percent = progress_percent(len(run.results), len(run.data.n_test))
    _PROGRESS[run.run_id] = await acreate_progress_artifact(percent, key="run-progress", description=f"arc-ttt: {run.progress()}")


async def publish_task(run: Run, result: dict) -> None:
    """After a task is recorded: its pictures under the run dir, its card in the UI, the progress bar moved.
    The task's record is already safe on disk, so a failure here is logged and the run goes on."""
    task = run.tasks.get(result["task_id"])
    try:
        if task is not None:
            panels = await asyncio.to_thread(task_panels, task, result)
            await asyncio.to_thread(write_task_images, run.dir.task_dir(task.id), panels)
            await acreate_markdown_artifact(task_markdown(task, result, panels), key=artifact_key(f"task-{task.id}"),
                                            description=f"arc-ttt task {task.id}: {result['status']}")
        if run.run_id in _PROGRESS:
            percent = progress_percent(len(run.results), len(run.data.n_test))
            await aupdate_progress_artifact(_PROGRESS[run.run_id], percent, description=f"arc-ttt: {run.progress()}")
    except Exception as err:  # pictures and UI cards are extras; the result is recorded
        get_run_logger().warning(f"{result['task_id']}: could not publish its pictures or card ({type(err).__name__}: {err})")


async def publish_report(run: Run, report: dict, out: str) -> None:
    """At the end: the per-task table, and the run card with the score and the timeline (also `out/timeline.png`)."""
    await acreate_table_artifact(result_rows(report), key="per-task-results", description="arc-ttt per-task results")
    timeline = timeline_rows(report, run.dir, run.started)
    picture = timeline_image(timeline) if timeline else None
    if picture is not None:
        await asyncio.to_thread(timeline_path(out).write_bytes, picture)
    await acreate_markdown_artifact(summary_markdown(report, out, timeline, picture), key="run-summary", description="arc-ttt run summary")
    if run.run_id in _PROGRESS:
        await aupdate_progress_artifact(_PROGRESS.pop(run.run_id), 100.0, description=f"arc-ttt: {run.progress()}")


async def publish_sweep(table: list[dict], out: str) -> None:
    """The sweep's table: one row per point, with the worker that ran it and its score."""
    await acreate_table_artifact(table, key="sweep-results", description=f"arc-ttt sweep under {out} (also {out}/sweep.csv)")
