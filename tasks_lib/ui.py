"""What the Prefect UI shows about a run, as plain data (markdown strings, table rows, a progress
number); `flows/common.py` hands them to Prefect. No Prefect here, so all of it is testable directly.

Contract:
- `artifact_key(text)` turns a task id or run name into a valid artifact key (lowercase, digits, dashes).
- `progress_percent(done, total)` is the share of tasks finished, 0-100.
- `task_markdown(task, result, panels)` is a task's card: status, budget, steps, candidates, correctness
  and one embedded PNG per test input (input | attempt 1 | attempt 2 | solution).
- `result_rows(report)` is the per-task table; `timeline_rows(report, run_dir, started)` places each task
  of this run on its slot's lane (seconds since the run started); `summary_markdown(...)` is the run card
  with the score and the timeline picture.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from pathlib import Path

from tasks_lib.data import Task
from tasks_lib.store import RunDir

_KEY = re.compile(r"[^a-z0-9-]+")


def artifact_key(text: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return _KEY.sub("-", text.lower()).strip("-") or "task"


def progress_percent(done: int, total: int) -> float:
    return 100.0 if total <= 0 else round(100.0 * done / total, 1)


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")


def _correct(result: dict) -> str:
    return "" if "correct" not in result else f"{sum(result['correct'])}/{len(result['correct'])}"


def _seconds(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} s"


def task_markdown(task: Task, result: dict, panels: Sequence[bytes]) -> str:
    """A task's card for the UI, with its pictures embedded as data URIs."""
    n_cands = sum(c["n"] for c in result.get("candidates", []))
    lines = [
        f"## Task `{task.id}`: {result['status']}" + (f", correct {_correct(result)}" if "correct" in result else ""),
        f"- slot {result.get('slot')}, budget {_seconds(result.get('budget_seconds'))}, used {_seconds(result.get('used_seconds'))}, "
        f"{result.get('steps', 0)} training steps, {n_cands} candidates",
    ]
    if result.get("error"):
        lines.append(f"- error: `{result['error']}`")
    header = "test input | attempt 1 | attempt 2" + (" | solution" if task.has_solutions else "")
    lines.append(f"\nEach picture: {header} (attempts framed green when right, red when wrong, grey when unknown).\n")
    for i, data in enumerate(panels):
        lines.append(f"**test {i}**\n\n![task {task.id} test {i}]({data_uri(data)})\n")
    return "\n".join(lines)


def result_rows(report: dict) -> list[dict]:
    """One row per task: status, budget, seconds used, steps, candidates, correct, error."""
    rows = []
    for t in report["tasks"]:
        rows.append({
            "task": t["task_id"],
            "status": t["status"],
            "slot": "" if t.get("slot") is None else t["slot"],
            "budget_s": "" if t.get("budget_seconds") is None else t["budget_seconds"],
            "used_s": "" if t.get("used_seconds") is None else t["used_seconds"],
            "steps": t.get("steps", 0),
            "candidates": sum(c["n"] for c in t.get("candidates", [])),
            "correct": _correct(t),
            "error": t.get("error") or "",
        })
    return rows


def timeline_rows(report: dict, run_dir: RunDir, started: float) -> list[dict]:
    """Tasks this run finished, each ending when its result.json was written and starting `used_seconds`
    earlier; resumed and never-run tasks are left out."""
    rows = []
    for t in report["tasks"]:
        if t.get("resumed") or t.get("slot") is None:
            continue
        path = run_dir.result_path(t["task_id"])
        if not path.exists():
            continue
        end = path.stat().st_mtime - started
        status = "solved" if t.get("correct") and all(t["correct"]) else ("ok" if t["status"] == "ok" else "failed")
        rows.append({"task": t["task_id"], "slot": t["slot"], "start": max(0.0, end - t.get("used_seconds", 0.0)), "end": end, "status": status})
    return sorted(rows, key=lambda r: (r["slot"], r["start"]))


def summary_markdown(report: dict, out: str, timeline: Sequence[dict], timeline_png: bytes | None) -> str:
    """The run's card: data, slots, statuses, score, files, and the timeline (picture and table)."""
    score = report.get("score")
    lines = [
        f"# arc-ttt run `{report['run_id']}`",
        f"- data: `{report['source']}`, profile `{report['profile']}`, {report['slots']} slot(s)",
        f"- tasks: {len(report['tasks'])} ({', '.join(f'{k}: {v}' for k, v in sorted(report['statuses'].items()))})",
        f"- wall time: {report['wall_seconds']:.0f} s",
        f"- files: `{out}/submission.json`, `{out}/report.json`, pictures in `{out}/tasks/<task-id>/test-<i>.png`",
    ]
    if score:
        lines.append(f"- **score (Kaggle): {score['kaggle']:.3f}** ({score['solved_outputs']}/{score['total_outputs']} test outputs), per task {score['per_task']:.3f}")
    if timeline:
        lines.append("\n## Timeline\n\nOne lane per slot; blue: finished, green: solved, red: failed.\n")
        if timeline_png is not None:
            lines.append(f"![timeline]({data_uri(timeline_png)})\n")
        lines.append("| slot | task | start (s) | end (s) | status |\n|---|---|---|---|---|")
        lines += [f"| {r['slot']} | `{r['task']}` | {r['start']:.1f} | {r['end']:.1f} | {r['status']} |" for r in timeline]
    return "\n".join(lines)


def timeline_path(out: str | Path) -> Path:
    return Path(out) / "timeline.png"
