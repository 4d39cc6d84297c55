"""Prefect glue shared by the flows: a task subflow's named final state and name, the run's final state, and the
UI artifacts (progress, task cards, the per-task table, the run summary, the sweep table) with links between them.

What the artifacts say is built in `tasks_lib.reports.ui` and `tasks_lib.reports.render`; this module only hands it to Prefect.
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from prefect import get_client, get_run_logger
from prefect.artifacts import (
    MarkdownArtifact,
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.settings import PREFECT_UI_URL
from prefect.states import Completed, Failed, State

from tasks_lib.arc.data import Task
from tasks_lib.arc.records import TaskResult
from tasks_lib.arc.run_record import Report
from tasks_lib.reports.render import candidates_image, task_panels, timeline_image, train_image, write_task_images
from tasks_lib.running.run import Run
from tasks_lib.reports.ui import (STATE_MEANING, card_key, final_message, final_name, headline, progress_percent, progress_text, results_markdown, subflow_name,
                          summary_markdown, task_line, task_markdown, task_state, timeline_path, timeline_rows)

_PROGRESS: dict[str, UUID] = {}  # run id -> its progress artifact, set by start_progress
_LINKS: dict[str, dict[str, str]] = {}  # run id -> task id -> UI address of its card (or its subflow)


def ui_url(path: str) -> str | None:
    """The UI address of `path` (e.g. `runs/flow-run/<id>`), or None when there is no UI (temporary local server)."""
    base = PREFECT_UI_URL.value()
    return f"{base.rstrip('/')}/{path}" if base else None


def ui_visible() -> bool:
    """Whether a UI can show this run's artifacts. Not on Prefect's temporary local server: it serves no UI and its
    database ends with the run, so per-task cards and progress updates there are API calls nobody can read."""
    return ui_url("") is not None


def final_state(result: TaskResult) -> State:
    """A solve-task subflow's final state, named by the task's state word: `Failed` for failed, otherwise a
    `Completed` state named Solved, Unsolved, Unscored or Fallback. Its data is the word."""
    word = task_state(result)
    message = task_line(result)
    if word == "failed":
        return Failed(name="Failed", message=message, data=word)
    return Completed(name=word.capitalize(), message=f"{message}: {STATE_MEANING[word]}", data=word)


def run_final_state(report: Report) -> State:
    """The submit run's final state: of type Completed, named by the tasks solved and the score (`final_name`: the
    run list shows it on the badge beside the run's name, its run id), its message `final_message`, its data the
    score (its JSON form)."""
    return Completed(name=final_name(report), message=final_message(report), data=None if report.score is None else report.score.to_json())


def _percent(run: Run, finished: bool = False) -> float:
    return progress_percent(time.time() - run.started, run.cfg.budget.total_seconds, finished)


async def start_progress(run: Run) -> None:
    """The run's progress artifact: the share of the time budget gone (pass 1, then refinement); its description
    says tasks done, solved, refinement rounds and time left. None where no UI can show it (`ui_visible`)."""
    if not ui_visible():
        return
    _PROGRESS[run.run_id] = await acreate_progress_artifact(_percent(run), key="run-progress", description=run.progress())


def _pictures(run: Run, result: TaskResult) -> tuple[Task, list[bytes]] | None:
    """A task's test panels, written under the run dir (what the run folder keeps for users without the UI), with its
    task; None for a task with no valid record to draw (invalid)."""
    task = run.tasks.get(result.task_id)
    if task is None:
        return None
    panels = task_panels(task, result.to_json())  # render draws the JSON forms
    write_task_images(run.dir.task_dir(task.id), panels)
    return task, panels


def _card(task: Task, result: TaskResult, panels: list[bytes]) -> str:
    """A task's card (markdown) around its test panels."""
    solutions = task.test_outputs if task.has_solutions else [None] * len(task.test_inputs)
    candidates = [candidates_image([r.to_json() for r in c.top], solutions[i] if i < len(solutions) else None)
                  for i, c in enumerate(result.candidates)]
    return task_markdown(task, result, panels, train_image(task), candidates)


async def publish_task(run: Run, result: TaskResult, subflow: UUID | str | None) -> None:
    """After a task is recorded (pass 1 or a refinement): its pictures under the run dir, and where a UI can show
    them (`ui_visible`) its card, put on the task's own subflow under the key `card_key` (a refinement adds a new
    version: the latest is the one readers see), the subflow named by its state (`label_subflow`), and the progress
    moved. The slot takes its next work only after this, so a run without a UI makes no API call here. The record
    is already safe on disk, so a failure here is logged and the run goes on."""
    tid = result.task_id
    visible = ui_visible() and subflow is not None
    link = ui_url(f"runs/flow-run/{subflow}") if visible else None  # the subflow; the card once it exists
    try:
        drawn = await asyncio.to_thread(_pictures, run, result)
        if visible and drawn is not None:
            task, panels = drawn
            markdown = await asyncio.to_thread(_card, task, result, panels)
            card = MarkdownArtifact(markdown=markdown, key=card_key(run.run_id, tid), flow_run_id=UUID(str(subflow)),
                                    description=f"arc-ttt task {tid}: {task_state(result)}")
            link = ui_url(f"artifacts/artifact/{(await card.acreate()).id}") or link
        if visible:
            await label_subflow(UUID(str(subflow)), result)
        if visible and run.run_id in _PROGRESS:
            await aupdate_progress_artifact(_PROGRESS[run.run_id], _percent(run), description=run.progress())
    except Exception as err:  # pictures and UI cards are extras; the result is recorded
        get_run_logger().warning(f"{tid}: could not publish its pictures, card or state ({type(err).__name__}: {err})")
    if link:
        _LINKS.setdefault(run.run_id, {})[tid] = link


async def label_subflow(subflow: UUID, result: TaskResult) -> None:
    """Name the task's subflow by its state (`subflow_name`); after a refinement also set its final state to the
    task's newest word, so the run's graph and list follow the newest record."""
    async with get_client() as client:
        await client.update_flow_run(subflow, name=subflow_name(result))
        if result.refinements:
            word = final_state(result)
            await client.set_flow_run_state(subflow, State(type=word.type, name=word.name, message=word.message), force=True)


async def publish_report(run: Run, report: Report, out: str) -> None:
    """At the end: the per-task table and the run card with the score and the timeline (also `out/timeline.png`),
    task ids linked to their cards; the progress says what the run did; the log says the score and where the
    files and the summary are (what `prefect deployment run --watch` ends with)."""
    links = _LINKS.pop(run.run_id, {})
    await acreate_markdown_artifact(results_markdown(report, links), key="per-task-results",
                                    description="arc-ttt per-task results: state, seconds, steps; ids link to the cards")
    timeline = timeline_rows(report, run.started)
    picture = await asyncio.to_thread(timeline_image, timeline) if timeline else None
    if picture is not None:
        await asyncio.to_thread(timeline_path(out).write_bytes, picture)
    summary = await acreate_markdown_artifact(summary_markdown(report, out, timeline, picture, links), key="run-summary",
                                              description=f"arc-ttt run {headline(report)}")
    done = progress_text(run.results.values(), len(run.data.n_test), wall_seconds=report.wall_seconds)
    if run.run_id in _PROGRESS:
        await aupdate_progress_artifact(_PROGRESS.pop(run.run_id), _percent(run, finished=True), description=done)
    logger, score = get_run_logger(), report.score
    logger.info(f"finished: {done}" + (f"; score (Kaggle) {score.kaggle:.3f} ({score.solved_outputs}/{score.total_outputs} test outputs)"
                                        if score else ""))
    logger.info(f"files: {out}/submission.json, {out}/report.json; summary: {ui_url(f'artifacts/artifact/{summary}') or 'artifact run-summary'}")


async def publish_sweep(table: list[dict], out: str) -> None:
    """The sweep's table: one row per point, with the worker that ran it and its score."""
    await acreate_table_artifact(table, key="sweep-results", description=f"arc-ttt sweep under {out} (also {out}/sweep.csv)")
