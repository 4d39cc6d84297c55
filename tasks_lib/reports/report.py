"""Reports: several runs' `report.json` read as one evaluation (a large set run as chunks, `--skip`/`--limit`).

Contract:
- `load(path)` reads a run folder's `report.json` (or a `report.json` path) as its `run_record.Report` and returns
  its summary row:
  `path`, `source`, `model` (`config.model.path`), `profile`, `budget_seconds` (`config.budget.total_seconds`),
  `tasks`, `states` (tasks per state word, `ui.STATES` order), `solved_outputs`, `total_outputs`, `scored_tasks`,
  `per_task`, `pass1_solved_outputs` (from `score_pass1`, None when the report has none), `wall_seconds`, and
  `task_ids`. A file that is missing, not JSON, or lacks a field (or one this needs: a report from before
  `scored_tasks` or `states` were kept), or a run without a score (no solutions), raises `ReportError` naming the
  file and the field.
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

from pathlib import Path
from typing import Sequence

from tasks_lib.arc.records import RecordError
from tasks_lib.arc.run_record import REPORT_FILE, read_report
from tasks_lib.arc.store import atomic_write_json
from tasks_lib.reports.ui import STATES

SAME = ("source", "model", "profile")  # what runs of one evaluation must share


class ReportError(ValueError):
    """A report cannot be read, or reports do not add up to one evaluation."""


def load(path: str | Path) -> dict:
    """The summary row of one run's report.json (`path`: the run folder or the file), read as its `Report`."""
    try:
        r = read_report(path)
    except RecordError as err:
        raise ReportError(str(err)) from None
    where = str(Path(path) / REPORT_FILE if Path(path).is_dir() else Path(path))
    if r.score is None:
        raise ReportError(f"{where}: the run has no score (its data set had no solutions)")
    missing = next((f for f, v in (("score.scored_tasks", r.score.scored_tasks), ("states", r.states), ("config.model.path", r.model_path),
                                   ("config.budget.total_seconds", r.budget_seconds)) if v is None), None)
    if missing:  # written before these were kept: its chunk cannot be added up with others
        raise ReportError(f"{where}: missing field {missing}")
    return {
        "path": where,
        "source": r.source,
        "model": r.model_path,
        "profile": r.profile,
        "budget_seconds": r.budget_seconds,
        "tasks": len(r.tasks),
        "states": {s: r.states[s] for s in STATES if r.states.get(s)},
        "solved_outputs": r.score.solved_outputs,
        "total_outputs": r.score.total_outputs,
        "scored_tasks": r.score.scored_tasks,
        "per_task": r.score.per_task,
        "pass1_solved_outputs": None if r.score_pass1 is None else r.score_pass1.solved_outputs,
        "wall_seconds": r.wall_seconds,
        "task_ids": [t.task_id for t in r.tasks],
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
