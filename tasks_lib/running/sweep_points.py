"""Sweep points: the submit runs a sweep fans out, and the table their reports make.

Contract:
- `plan(points, challenges, limit, out)` turns each point (a dict of submit parameters that vary:
  `profile`, `time_budget`, `model`, `solutions`, `challenges`, and an optional `name`) into a run: a unique
  name and the full submit parameters, with its own output folder `<out>/<name>`. Unknown keys raise
  `ValueError` naming them, before anything is started. A run's parameters are those of `flows/submit.py`'s
  `submit` flow and of `tasks_lib.running.pipeline.run_direct`: `flows/sweep.py` runs them as deployments on a
  Prefect work pool, `benchmarks/study.py` runs them on one host's GPUs.
- `write_profile(base, overrides, path)` writes a profile YAML: `base` (a profile name or path) with
  `overrides` (`{stage: {field: value}}`), validated; a point names it as its `profile`.
- `rows(runs)` reads each run's `report.json` (a shared folder when runs ran on several hosts; `run_record.read_report`)
  into one row per run: parameters, score, statuses, wall time, and which worker ran it; a missing report is a
  row with status `missing`, a malformed one `unreadable: <file: field: what>`. `write_csv(rows, path)` writes them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

from tasks_lib.arc.records import RecordError
from tasks_lib.arc.run_record import read_report

VARIED = ("profile", "time_budget", "model", "solutions", "challenges")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def point_name(point: dict) -> str:
    """`name` if given, else `key-value` pairs of the varied parameters (file-name safe)."""
    if point.get("name"):
        return _UNSAFE.sub("_", str(point["name"]))
    parts = [f"{k}-{Path(str(point[k])).stem if k in ('profile', 'model', 'solutions', 'challenges') else point[k]}" for k in VARIED
             if point.get(k) is not None]
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
            report = read_report(p["out"])
        except RecordError as err:  # missing, or not JSON, or not a report (the message names the field)
            status = "missing" if isinstance(err.__cause__, FileNotFoundError) else f"unreadable: {err}"
            table.append({**row, "status": status, "kaggle": "", "per_task": "", "tasks": "", "wall_s": ""})
            continue
        score = report.score
        table.append({**row, "status": ", ".join(f"{k}: {v}" for k, v in sorted(report.statuses.items())),
                      "kaggle": "" if score is None else score.kaggle, "per_task": "" if score is None else score.per_task,
                      "tasks": len(report.tasks), "wall_s": report.wall_seconds})
    return table


def write_profile(base: str, overrides: dict, path: Path) -> Path:
    """`base` with `overrides` applied (validated by the config), written as a profile YAML at `path`."""
    import yaml

    from tasks_lib.config import load_profile

    cfg = load_profile(base).replace(overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({k: v for k, v in cfg.to_dict().items() if k not in ("profile", "description")}, sort_keys=False))
    return path


def write_csv(table: Sequence[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]) if table else ["name"])
        writer.writeheader()
        writer.writerows(table)
