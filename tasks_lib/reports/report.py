"""Reports: several runs' `report.json` read as one evaluation (a large set run as chunks, `--skip`/`--limit`).

Contract:
- `load(path)` reads a run folder's `report.json` (or a `report.json` path) and returns its summary row:
  `path`, `source`, `model` (`config.model.path`), `profile`, `budget_seconds` (`config.budget.total_seconds`),
  `tasks`, `states` (tasks per state word, `ui.STATES` order), `solved_outputs`, `total_outputs`, `scored_tasks`,
  `per_task`, `pass1_solved_outputs` (from `score_pass1`, None when the report has none), `wall_seconds`, and
  `task_ids`. A file that is missing, not JSON, or lacks a field, or a run without a score (no solutions), raises
  `ReportError` naming the file and the field.
- `combine(rows, allow_mixed=False)` checks the runs belong together and adds them up: `{"runs": rows (without
  task ids), "total": {tasks, states, solved_outputs, total_outputs, kaggle, per_task, pass1_solved_outputs,
  budget_seconds, wall_seconds}}`. `kaggle` is solved over all outputs; `per_task` is each run's per-task score
  weighted by its scored tasks, i.e. the mean over every scored task of all runs, the number one run over the
  whole set gives. Two runs that share a task id are always refused (a task would count twice); runs that differ
  in source, model or profile are refused unless `allow_mixed`. Both errors name the two files.
- `table(combined)` is the text the CLI prints: one line per run, the total line and the score line;
  `write(combined, out)` writes it as JSON atomically (`store.atomic_write_json`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from tasks_lib.arc.store import atomic_write_json
from tasks_lib.reports.ui import STATES

SAME = ("source", "model", "profile")  # what runs of one evaluation must share


class ReportError(ValueError):
    """A report cannot be read, or reports do not add up to one evaluation."""


def _field(data: dict, path: Path, *keys: str) -> Any:
    value: Any = data
    for i, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            raise ReportError(f"{path}: missing field {'.'.join(keys[: i + 1])}")
        value = value[key]
    return value


def load(path: str | Path) -> dict:
    """The summary row of one run's report.json (`path`: the run folder or the file)."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{path}: no such run folder or report file") from None
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not valid JSON ({err})") from None
    except OSError as err:
        raise ReportError(f"{path}: cannot read ({err.strerror})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object, got {type(data).__name__}")
    score = _field(data, path, "score")
    if score is None:
        raise ReportError(f"{path}: the run has no score (its data set had no solutions)")
    pass1 = data.get("score_pass1")
    tasks = _field(data, path, "tasks")
    if not isinstance(tasks, list):
        raise ReportError(f"{path}: field tasks must be a list")
    states = _field(data, path, "states")
    return {
        "path": str(path),
        "source": _field(data, path, "source"),
        "model": _field(data, path, "config", "model", "path"),
        "profile": _field(data, path, "profile"),
        "budget_seconds": _field(data, path, "config", "budget", "total_seconds"),
        "tasks": len(tasks),
        "states": {s: states[s] for s in STATES if states.get(s)},
        "solved_outputs": _field(data, path, "score", "solved_outputs"),
        "total_outputs": _field(data, path, "score", "total_outputs"),
        "scored_tasks": _field(data, path, "score", "scored_tasks"),
        "per_task": _field(data, path, "score", "per_task"),
        "pass1_solved_outputs": pass1.get("solved_outputs") if isinstance(pass1, dict) else None,
        "wall_seconds": _field(data, path, "wall_seconds"),
        "task_ids": [_field(t, path, "task_id") for t in tasks],
    }


def combine(rows: Sequence[dict], allow_mixed: bool = False) -> dict:
    """Check that `rows` (from `load`) are chunks of one evaluation and add them up (see module doc)."""
    if not rows:
        raise ReportError("no reports to combine")
    owner: dict[str, str] = {}
    for row in rows:
        for tid in row["task_ids"]:
            if tid in owner:
                raise ReportError(f"{row['path']}: task {tid} is also in {owner[tid]}; chunks must not overlap")
            owner[tid] = row["path"]
    first = rows[0]
    for row in rows[1:]:
        for key in SAME:
            if row[key] != first[key] and not allow_mixed:
                raise ReportError(f"{row['path']}: {key} {row[key]!r} differs from {first['path']}'s {first[key]!r} "
                                  "(--allow-mixed to combine anyway)")
    solved = sum(r["solved_outputs"] for r in rows)
    total = sum(r["total_outputs"] for r in rows)
    scored = sum(r["scored_tasks"] for r in rows)
    states = {s: sum(r["states"].get(s, 0) for r in rows) for s in STATES}
    pass1 = [r["pass1_solved_outputs"] for r in rows]
    return {
        "runs": [{k: v for k, v in r.items() if k != "task_ids"} for r in rows],
        "total": {
            "tasks": sum(r["tasks"] for r in rows),
            "states": {s: n for s, n in states.items() if n},
            "solved_outputs": solved,
            "total_outputs": total,
            "kaggle": solved / total if total else 0.0,
            "per_task": sum(r["per_task"] * r["scored_tasks"] for r in rows) / scored if scored else 0.0,
            "pass1_solved_outputs": None if None in pass1 else sum(pass1),
            "budget_seconds": sum(r["budget_seconds"] for r in rows),
            "wall_seconds": round(sum(r["wall_seconds"] for r in rows), 2),
        },
    }


def _states(states: dict) -> str:
    return " ".join(f"{s} {n}" for s, n in states.items()) or "-"


def table(combined: dict) -> str:
    """One line per run and the total line, as the CLI prints them."""
    head = ("run", "source", "model", "profile", "budget_s", "tasks", "states", "solved/outputs", "pass1", "wall_s")
    lines = [head]
    for r in combined["runs"]:
        lines.append((r["path"], r["source"], Path(r["model"]).name, Path(r["profile"]).stem, f"{r['budget_seconds']:.0f}",
                      str(r["tasks"]), _states(r["states"]), f"{r['solved_outputs']}/{r['total_outputs']}",
                      "-" if r["pass1_solved_outputs"] is None else str(r["pass1_solved_outputs"]), f"{r['wall_seconds']:.0f}"))
    t = combined["total"]
    lines.append(("total", "", "", "", f"{t['budget_seconds']:.0f}", str(t["tasks"]), _states(t["states"]),
                  f"{t['solved_outputs']}/{t['total_outputs']}", "-" if t["pass1_solved_outputs"] is None else str(t["pass1_solved_outputs"]),
                  f"{t['wall_seconds']:.0f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines]
    text.append(f"score: {t['kaggle']:.3f} ({t['solved_outputs']}/{t['total_outputs']} test outputs solved), "
                f"per task {t['per_task']:.3f}, over {t['tasks']} tasks in {len(combined['runs'])} runs")
    return "\n".join(text)


def write(combined: dict, out: str | Path) -> None:
    """`combined` as JSON at `out`, written atomically."""
    atomic_write_json(Path(out), combined)
