"""Prefect glue shared by the flows: the GPU concurrency limit and the UI artifacts."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate


async def ensure_gpu_limit(name: str, limit: int, reset: bool) -> None:
    """Create or resize the global concurrency limit `name`; with `reset`, free slots left taken by a
    run that was killed (only safe when no other run is live)."""
    if not name:
        return
    async with get_client() as client:
        await client.upsert_global_concurrency_limit_by_name(name, limit)
        if reset:
            await client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=0))


def _cell(v: object) -> object:
    return "" if v is None else v


async def publish_report(report: dict, out: str) -> None:
    """A table of per-task results and a markdown summary for the Prefect UI."""
    rows = []
    for t in report["tasks"]:
        rows.append({
            "task": t["task_id"],
            "status": t["status"],
            "budget_s": _cell(t.get("budget_seconds")),
            "used_s": _cell(t.get("used_seconds")),
            "steps": t.get("steps", 0),
            "candidates": sum(c["n"] for c in t.get("candidates", [])),
            "correct": _cell(None if "correct" not in t else f"{sum(t['correct'])}/{len(t['correct'])}"),
            "error": _cell(t.get("error")),
        })
    await create_table_artifact(key="per-task-results", table=rows, description="arc-ttt per-task results")
    score = report.get("score")
    lines = [
        f"# arc-ttt run `{report['run_id']}`",
        f"- data: `{report['source']}`, profile `{report['profile']}`, {report['slots']} slot(s)",
        f"- tasks: {len(report['tasks'])} ({', '.join(f'{k}: {v}' for k, v in sorted(report['statuses'].items()))})",
        f"- wall time: {report['wall_seconds']:.0f} s",
        f"- files: `{out}/submission.json`, `{out}/report.json`",
    ]
    if score:
        lines.append(f"- **score (Kaggle): {score['kaggle']:.3f}** ({score['solved_outputs']}/{score['total_outputs']} test outputs), per task {score['per_task']:.3f}")
    await create_markdown_artifact(key="run-summary", markdown="\n".join(lines), description="arc-ttt run summary")
