"""The record a run leaves behind: `report.json` as a typed value with its JSON form, the sibling of the task records
(tasks_lib/arc/records.py). The run (running/run.py `Run.finish`) builds it; the UI, the flows, the chunk combiner
(reports/report.py) and the benchmarks read it through the attributes here, never by string keys.

Contract:
- `Score`: what report.json keeps of a scoring (`score`, and `score_pass1`: the submission before any refinement).
- `ReportTask`: one task's entry: its `TaskResult`, its state word (written by the run: this floor does not know how
  states are decided) and whether it was resumed from an earlier run.
- `Report`: every run-level key report.json has, one field per key, its tasks as `ReportTask`s and its run-level
  parts as the records of report_parts.py (`shared`, `slot_loads`, `schedule`, `compute`). `config` alone stays the
  JSON dict `RunConfig.to_dict()` wrote: its schema is tasks_lib/config.py's `RunConfig` (a floor above this one,
  with no reader from a dict), so a typed copy here would repeat every stage's fields, and a report's config from
  earlier code need not be a valid `RunConfig` today (fields renamed, removed or validated since). `model_path`,
  `budget_seconds` and `reserve_seconds` read the keys of it the consumers need; `refinements` is the schedule's.
- `to_json()` writes the keys report.json has had since the run's compute was added, in their order;
  `from_json(data, where)` also reads reports written by earlier code (no `states`, `schedule`, `compute`,
  `score_pass1`, per-task `state`/`resumed`, ...: the missing keys take their defaults) and keeps keys it does not know in
  `extra`; `Report.from_json(r.to_json()) == r`. Bad input raises `records.RecordError` naming the file, the task id
  (for a task's field) and the field: `runs/r1/report.json: task 007bbfb7: attempts[0].attempt_2: missing`.
- `read_report(path)`: a run folder's report.json (or the file) read into a `Report`; a missing or non-JSON file
  raises `RecordError` (its `FileNotFoundError` kept as the cause when there is no file).
- `as_report(value)`: a `Report` as it is, or one read from its JSON form.

Only the standard library, records.py and report_parts.py here (the ground floor).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from tasks_lib.arc import json_fields as jf
from tasks_lib.arc.json_fields import RecordError
from tasks_lib.arc.records import TaskResult
from tasks_lib.arc.report_parts import Compute, Schedule, SharedAdapter, SlotLoad

REPORT_FILE = "report.json"


@dataclass(frozen=True)
class Score:
    """A scoring as report.json keeps it: the Kaggle score (solved over all outputs), the per-task mean, the outputs
    solved and in all, and the tasks scored (what `per_task` averages over; None in reports from before it was kept)."""

    kaggle: float
    per_task: float
    solved_outputs: int
    total_outputs: int
    scored_tasks: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("kaggle", "per_task", "solved_outputs", "total_outputs", "scored_tasks")

    def to_json(self) -> dict:
        out = {"kaggle": self.kaggle, "per_task": self.per_task, "solved_outputs": self.solved_outputs, "total_outputs": self.total_outputs}
        if self.scored_tasks is not None:
            out["scored_tasks"] = self.scored_tasks
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "score") -> Score:
        return cls(float(jf.get(data, "kaggle", where, path, kind=jf.NUMBER)), float(jf.get(data, "per_task", where, path, kind=jf.NUMBER)),
                   int(jf.get(data, "solved_outputs", where, path, kind=int)), int(jf.get(data, "total_outputs", where, path, kind=int)),
                   jf.get(data, "scored_tasks", where, path, None, int), {k: v for k, v in data.items() if k not in cls._KEYS})


@dataclass(frozen=True)
class ReportTask:
    """One task's entry in report.json: its record, its state word and whether this run resumed it."""

    result: TaskResult
    state: str | None = None  # None in reports from before the state was written
    resumed: bool = False

    @property
    def task_id(self) -> str:
        return self.result.task_id

    def to_json(self) -> dict:
        out = self.result.to_json()
        if self.state is not None:
            out["state"] = self.state
        return {**out, "resumed": self.resumed}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "tasks[0]") -> ReportTask:
        if not isinstance(data, Mapping):
            raise RecordError(f"{jf.where_of(where, path)}: expected a JSON object, got {type(data).__name__}")
        tid = data.get("task_id")
        at = f"{where + ': ' if where else ''}task {tid}" if isinstance(tid, str) else jf.where_of(where, path)
        state, resumed = jf.get(data, "state", at, "", None, str), jf.get(data, "resumed", at, "", False, bool)
        return cls(TaskResult.from_json({k: v for k, v in data.items() if k not in ("state", "resumed")}, at), state, bool(resumed))


_KEYS = ("run_id", "source", "profile", "config", "started", "wall_seconds", "slots", "devices", "statuses", "states", "shared",
         "slot_loads", "schedule", "compute", "warnings", "score", "score_pass1", "tasks")


@dataclass(frozen=True)
class Report:
    """A run's `report.json` (module doc)."""

    run_id: str
    tasks: tuple[ReportTask, ...]
    source: str = ""
    profile: str = ""
    config: dict = field(default_factory=dict)  # RunConfig.to_dict()
    started: float | None = None  # time.time() when the run started
    wall_seconds: float = 0.0
    slots: int = 0
    devices: tuple[str, ...] = ()  # per slot: its CUDA_VISIBLE_DEVICES, or cpu
    statuses: dict[str, int] = field(default_factory=dict)  # tasks per status
    states: dict[str, int] | None = None  # tasks per state word (None before it was written)
    shared: SharedAdapter | None = None  # scope shared: the run's one adapter
    slot_loads: tuple[SlotLoad, ...] = ()  # per slot: its first load, or its error
    schedule: Schedule | None = None  # None in reports from before it was written
    compute: Compute | None = None  # None before a slot loaded, or from before it was written
    warnings: tuple[str, ...] = ()  # the data set's
    score: Score | None = None  # None without solutions
    score_pass1: Score | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def results(self) -> tuple[TaskResult, ...]:
        return tuple(t.result for t in self.tasks)

    @property
    def model_path(self) -> str | None:
        return (self.config.get("model") or {}).get("path")

    @property
    def budget_seconds(self) -> float | None:
        return (self.config.get("budget") or {}).get("total_seconds")

    @property
    def reserve_seconds(self) -> float | None:
        return (self.config.get("budget") or {}).get("reserve_seconds")

    @property
    def refinements(self) -> int:
        """Refinement rounds the run recorded (0 before refinement, or when none ran)."""
        return 0 if self.schedule is None else self.schedule.refinements

    def replace(self, **changes: Any) -> Report:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        out = {
            "run_id": self.run_id, "source": self.source, "profile": self.profile, "config": self.config, "started": self.started,
            "wall_seconds": self.wall_seconds, "slots": self.slots, "devices": list(self.devices), "statuses": dict(self.statuses),
            "states": None if self.states is None else dict(self.states), "shared": None if self.shared is None else self.shared.to_json(),
            "slot_loads": [s.to_json() for s in self.slot_loads], "schedule": None if self.schedule is None else self.schedule.to_json(),
            "compute": None if self.compute is None else self.compute.to_json(), "warnings": list(self.warnings),
            "score": None if self.score is None else self.score.to_json(),
            "score_pass1": None if self.score_pass1 is None else self.score_pass1.to_json(),
            "tasks": [t.to_json() for t in self.tasks],
        }
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> Report:
        """The report `data` (a report.json's content) holds; `where` (the file) names it in errors (module doc)."""
        if not isinstance(data, Mapping):
            raise RecordError(f"{where or 'report'}: expected a JSON object, got {type(data).__name__}")
        parts = ("score", "score_pass1", "shared", "schedule", "compute")
        score, first, shared, schedule, compute = (jf.get(data, k, where, "", None, dict) for k in parts)
        started = jf.get(data, "started", where, "", None, jf.NUMBER)
        return cls(
            run_id=jf.get(data, "run_id", where, "", kind=str),
            tasks=tuple(ReportTask.from_json(t, where, f"tasks[{i}]") for i, t in enumerate(jf.get_list(data, "tasks", where, ""))),
            source=jf.get(data, "source", where, "", "", str) or "",
            profile=jf.get(data, "profile", where, "", "", str) or "",
            config=jf.get(data, "config", where, "", {}, dict) or {},
            started=None if started is None else float(started),
            wall_seconds=float(jf.get(data, "wall_seconds", where, "", 0.0, jf.NUMBER) or 0.0),
            slots=int(jf.get(data, "slots", where, "", 0, int) or 0),
            devices=tuple(jf.get_list(data, "devices", where, "", [])),
            statuses=_counts(data, "statuses", where) or {},
            states=_counts(data, "states", where),
            shared=None if shared is None else SharedAdapter.from_json(shared, where),
            slot_loads=tuple(SlotLoad.from_json(s, where, f"slot_loads[{i}]") for i, s in enumerate(jf.get_list(data, "slot_loads", where, "", []))),
            schedule=None if schedule is None else Schedule.from_json(schedule, where),
            compute=None if compute is None else Compute.from_json(compute, where),
            warnings=tuple(str(w) for w in jf.get_list(data, "warnings", where, "", [])),
            score=None if score is None else Score.from_json(score, where, "score"),
            score_pass1=None if first is None else Score.from_json(first, where, "score_pass1"),
            extra={k: v for k, v in data.items() if k not in _KEYS},
        )


def _counts(data: Any, key: str, where: str) -> dict[str, int] | None:
    value = jf.get(data, key, where, "", None, dict)
    if value is not None and not all(isinstance(n, int) for n in value.values()):
        raise RecordError(f"{jf.where_of(where, key)}: expected a count per word")
    return value


def read_report(path: str | Path) -> Report:
    """A run folder's report.json, or the file at `path`, as its `Report`."""
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise RecordError(f"{path}: no such run folder or report file") from err
    except json.JSONDecodeError as err:
        raise RecordError(f"{path}: not valid JSON ({err})") from None
    except OSError as err:
        raise RecordError(f"{path}: cannot read ({err.strerror})") from None
    return Report.from_json(data, str(path))


def as_report(value: Report | Mapping) -> Report:
    """A Report as it is, or one read from its JSON form."""
    return value if isinstance(value, Report) else Report.from_json(value)
