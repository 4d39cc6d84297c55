"""Sweep points: the submit runs a sweep fans out, and the table their reports make.

Contract:
- `plan(points, challenges, limit, out)` turns each point (a dict of submit parameters that vary:
  `profile`, `time_budget`, `model`, `solutions`, and an optional `name`) into a run: a unique name
  and the full submit parameters, with its own output folder `<out>/<name>`. Unknown keys raise
  `ValueError` naming them, before anything is started.
- `rows(runs)` reads each run's `report.json` (a shared folder when runs ran on several hosts) into one
  row per run: parameters, score, statuses, wall time, and which worker ran it; a missing report is a
  row with status `missing`. `write_csv(rows, path)` writes them.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path

VARIED = ("profile", "time_budget", "model", "solutions")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def point_name(point: dict) -> str:
    """`name` if given, else `key-value` pairs of the varied parameters (file-name safe)."""
    if point.get("name"):
        return _UNSAFE.sub("_", str(point["name"]))
    parts = [f"{k}-{Path(str(point[k])).stem if k in ('profile', 'model', 'solutions') else point[k]}" for k in VARIED if point.get(k) is not None]
    return _UNSAFE.sub("_", "_".join(parts)) or "default"


def plan(points: Sequence[dict], challenges: str, limit: int | None, out: str) -> list[dict]:
    """One run per point: `{"name", "parameters"}` with submit's parameters and a folder of its own."""
    runs, seen = [], set()
    for i, point in enumerate(points):
        unknown = sorted(set(point) - set(VARIED) - {"name"})
        if unknown:
            raise ValueError(f"sweep point {i}: unknown keys {unknown} (allowed: name, {', '.join(VARIED)})")
        name = point_name(point)
        if name in seen:
            name = f"{name}-{i}"
        seen.add(name)
        params = {"challenges": challenges, "limit": limit, "out": str(Path(out) / name)}
        params.update({k: point[k] for k in VARIED if point.get(k) is not None})
        runs.append({"name": name, "parameters": params})
    return runs


def rows(runs: Sequence[dict]) -> list[dict]:
    """A row per run from its report.json; `worker` and `state` come from the orchestrator when given."""
    table = []
    for run in runs:
        p = run["parameters"]
        row = {"name": run["name"], "profile": p.get("profile", ""), "time_budget": p.get("time_budget", ""),
               "model": p.get("model", ""), "worker": run.get("worker", ""), "state": run.get("state", "")}
        try:
            report = json.loads((Path(p["out"]) / "report.json").read_text())
        except (OSError, ValueError):
            table.append({**row, "status": "missing", "kaggle": "", "per_task": "", "tasks": "", "wall_s": ""})
            continue
        score = report.get("score") or {}
        table.append({**row, "status": ", ".join(f"{k}: {v}" for k, v in sorted(report["statuses"].items())),
                      "kaggle": score.get("kaggle", ""), "per_task": score.get("per_task", ""),
                      "tasks": len(report["tasks"]), "wall_s": report["wall_seconds"]})
    return table


def write_csv(table: Sequence[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]) if table else ["name"])
        writer.writeheader()
        writer.writerows(table)
