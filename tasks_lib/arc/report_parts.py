"""The run-level parts of report.json besides its tasks and scores: how the run spent its slots, its training
arithmetic, each slot's first load and the shared adapter, as typed values with their JSON forms. `run_record.Report`
holds them; their producers (running/run.py, running/compute.py, running/worker.py, running/pipeline.py) build them
and every reader takes their attributes, never string keys.

Contract:
- `Schedule` (`schedule`, built by `Run.schedule_stats`): the overhead of each pass-1 task (an `Overhead`) with its
  mean and max, the sample seconds per answer token the budget ended with, the refinements recorded and those that
  recorded nothing (a `RefineFailure` each), the work seconds, the slots' busy fraction, the seconds left to the
  budget's end and the tail (the last claim's release to the report).
- `Compute` (`compute`, built by `running.compute.training_compute`, whose doc has the formulas): the run's training
  arithmetic and its share of the cards' peak.
- `SlotLoad` (`slot_loads`, one per slot): what the slot's load step returned (the worker's `load` writes this
  record's JSON form and the step adds its wall `seconds`), or only the `error` when the load failed.
- `SharedAdapter` (`shared`, train scope shared; built by `pipeline._train_shared`): the run's one adapter: its
  `TrainRecord` and the tasks, block and slot it trained with, and the tasks it left out for length, in one flat
  object (the keys besides `tasks`, `budget_seconds`, `slot`, `resumed` and `tasks_skipped` are the TrainRecord's). `resumed`: an earlier run in the same folder trained
  it and this run trained nothing; its record is then the one that run kept beside the adapter
  (`SHARED_RECORD_FILE`), or has no `train` when none was kept, so a resumed adapter never shows numbers nobody
  measured (its JSON form is then `{"resumed": true}`).
- Every record has `to_json()`, which writes the keys report.json has held since the part existed, in their order
  (a `SlotLoad` and a `SharedAdapter` only the keys they have), and `from_json(data, where="", path=<its key>)`,
  which round-trips (`X.from_json(x.to_json()) == x`), reads parts written by earlier code (a schedule from before
  `overhead_per_task`, `sample_seconds_per_token` or `tail_seconds`: the missing keys take their defaults) and keeps
  keys it does not know in `extra` (a shared adapter's in its TrainRecord's). Bad input raises `records.RecordError`
  naming `where` (the file) and the field: `runs/r1/report.json: schedule.work_seconds: missing`.

Only the standard library, json_fields.py and records.py here (the ground floor).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from tasks_lib.arc import json_fields as jf
from tasks_lib.arc.json_fields import RecordError
from tasks_lib.arc.records import TrainRecord

SHARED_RECORD_FILE = "train.json"  # in the run folder's shared/, beside the adapter's folder: its SharedAdapter record


def _name(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass(frozen=True)
class Overhead:
    """A pass-1 task's slot seconds outside its budget claim: before it (its subflow's start) and after it (record,
    publish, end)."""

    before: float
    after: float


@dataclass(frozen=True)
class RefineFailure:
    """A refinement that recorded nothing (the task kept its record), and why."""

    task_id: str
    round: int
    error: str

    def to_json(self) -> dict:
        return {"task_id": self.task_id, "round": self.round, "error": self.error}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "refine_failures[0]") -> RefineFailure:
        return cls(jf.get(data, "task_id", where, path, kind=str), int(jf.get(data, "round", where, path, kind=int)),
                   jf.get(data, "error", where, path, kind=str))


@dataclass(frozen=True)
class Schedule:
    """report.json's `schedule`: how the run spent its slots (module doc)."""

    refinements: int  # rounds recorded, over all tasks
    work_seconds: float  # from the first claim (the run's start when none claimed) to the report
    overhead_mean_seconds: float | None = None  # None: no task measured
    overhead_max_seconds: float | None = None
    overhead_per_task: dict[str, Overhead] = field(default_factory=dict)
    sample_seconds_per_token: float | None = None  # measured once a task sampled to the end, else the guess; None: no budget
    refine_failures: tuple[RefineFailure, ...] = ()
    busy_fraction: float | None = None  # the tasks' own step seconds over slots x work seconds; None: no slots
    budget_end_in: float | None = None  # seconds from the report to the budget's end (negative: past it)
    tail_seconds: float | None = None  # the last claim's release to the report; None: no claim released
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("overhead_mean_seconds", "overhead_max_seconds", "overhead_per_task", "sample_seconds_per_token", "refinements",
             "refine_failures", "work_seconds", "busy_fraction", "budget_end_in", "tail_seconds")  # report.json's order
    _OPT = ("overhead_mean_seconds", "overhead_max_seconds", "sample_seconds_per_token", "busy_fraction", "budget_end_in", "tail_seconds")

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in self._KEYS}
        out["overhead_per_task"] = {tid: {"before": o.before, "after": o.after} for tid, o in self.overhead_per_task.items()}
        out["refine_failures"] = [f.to_json() for f in self.refine_failures]
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "schedule") -> Schedule:
        per_task = jf.get(data, "overhead_per_task", where, path, {}, dict) or {}
        name = _name(path, "overhead_per_task")
        overheads = {tid: Overhead(float(jf.get(o, "before", where, f"{name}.{tid}", kind=jf.NUMBER)),
                                   float(jf.get(o, "after", where, f"{name}.{tid}", kind=jf.NUMBER))) for tid, o in per_task.items()}
        failed, name = jf.get_list(data, "refine_failures", where, path, []), _name(path, "refine_failures")
        return cls(int(jf.get(data, "refinements", where, path, kind=int)), float(jf.get(data, "work_seconds", where, path, kind=jf.NUMBER)),
                   overhead_per_task=overheads,
                   refine_failures=tuple(RefineFailure.from_json(f, where, f"{name}[{i}]") for i, f in enumerate(failed)),
                   **{k: jf.opt_float(jf.get(data, k, where, path, None, jf.NUMBER)) for k in cls._OPT},
                   extra={k: v for k, v in data.items() if k not in cls._KEYS})


@dataclass(frozen=True)
class Compute:
    """report.json's `compute`: the run's training arithmetic (running/compute.py's doc)."""

    parameters: int
    trained_tokens: int
    train_seconds: float  # summed over tasks and refinements (slots train side by side, so this can pass the wall time)
    flops: float
    train_tflops_per_slot: float | None  # FLOPs / train seconds, in TFLOP/s
    work_seconds: float
    gpus: int
    device_name: str | None
    peak_tflops: float | None
    mfu: float | None  # FLOPs / (work seconds x GPUs x peak)
    extra: dict[str, Any] = field(default_factory=dict)

    _KINDS = {"parameters": int, "trained_tokens": int, "train_seconds": jf.NUMBER, "flops": jf.NUMBER, "train_tflops_per_slot": jf.NUMBER,
              "work_seconds": jf.NUMBER, "gpus": int, "device_name": str, "peak_tflops": jf.NUMBER, "mfu": jf.NUMBER}
    _NULLABLE = ("train_tflops_per_slot", "device_name", "peak_tflops", "mfu")

    def to_json(self) -> dict:
        return {**{k: getattr(self, k) for k in self._KINDS}, **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "compute") -> Compute:
        got = {k: jf.get(data, k, where, path, None if k in cls._NULLABLE else ..., kind) for k, kind in cls._KINDS.items()}
        for k in ("train_seconds", "flops", "train_tflops_per_slot", "work_seconds", "peak_tflops", "mfu"):
            got[k] = jf.opt_float(got[k])
        return cls(**got, extra={k: v for k, v in data.items() if k not in cls._KINDS})


@dataclass(frozen=True)
class SlotLoad:
    """One slot's first load in report.json's `slot_loads`: what its load step returned, or why it failed."""

    device: str | None = None  # the worker's torch device: cuda (one card visible to it) or cpu
    device_name: str | None = None  # the card's name (compute.device_name)
    loaded_now: bool | None = None  # this call loaded the base model (False: it was resident)
    load_seconds: float | None = None  # the base model's load
    parameters: int | None = None  # the model's, as the slot loaded it (base and adapter)
    warm_up_seconds: float | None = None  # compiling the train step (adapting/train.py warm_up)
    graphs_compiled: int | None = None
    seconds: float | None = None  # the load step's wall time
    error: str | None = None  # the load failed: "<exception type>: <message>", and nothing else is set
    extra: dict[str, Any] = field(default_factory=dict)

    _KINDS = {"device": str, "device_name": str, "loaded_now": bool, "load_seconds": jf.NUMBER, "parameters": int,
              "warm_up_seconds": jf.NUMBER, "graphs_compiled": int, "seconds": jf.NUMBER, "error": str}

    @classmethod
    def failed(cls, err: BaseException) -> SlotLoad:
        return cls(error=f"{type(err).__name__}: {err}")

    def to_json(self) -> dict:
        return {**{k: getattr(self, k) for k in self._KINDS if getattr(self, k) is not None}, **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "slot_loads[0]") -> SlotLoad:
        got = jf.coerced(jf.fields_of(cls, data, where, path, cls._KINDS), ("load_seconds", "warm_up_seconds", "seconds"), {})
        return cls(**got, extra={k: v for k, v in data.items() if k not in cls._KINDS})


@dataclass(frozen=True)
class SharedAdapter:
    """report.json's `shared` (train scope shared): the run's one adapter, trained by this run or resumed (module doc)."""

    train: TrainRecord | None  # its training; None: resumed, and the run that trained it kept no record
    tasks: int | None = None  # the tasks it trained on (those that could be encoded)
    budget_seconds: float | None = None  # the shared block it had (`Budget.claim_shared`)
    slot: int | None = None
    resumed: bool = False  # an earlier run in this folder trained it; this run trained nothing
    tasks_skipped: int | None = None  # tasks left out because they could not be encoded within max_tokens

    _OWN = {"tasks": int, "budget_seconds": jf.NUMBER, "slot": int, "resumed": bool, "tasks_skipped": int}  # the rest is `train`'s

    def replace(self, **changes: Any) -> SharedAdapter:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        out = {} if self.train is None else self.train.to_json()
        out.update({k: getattr(self, k) for k in ("tasks", "budget_seconds", "slot", "tasks_skipped") if getattr(self, k) is not None})
        return {**out, "resumed": True} if self.resumed else out

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "shared") -> SharedAdapter:
        """The record `data` holds; its keys other than this record's own are its `TrainRecord`'s (None when there are none)."""
        if not isinstance(data, Mapping):
            raise RecordError(f"{jf.where_of(where, path)}: expected a JSON object, got {type(data).__name__}")
        own = {k: jf.get(data, k, where, path, None, kind) for k, kind in cls._OWN.items()}
        rest = {k: v for k, v in data.items() if k not in cls._OWN}
        return cls(None if not rest else TrainRecord.from_json(rest, where, path), own["tasks"], jf.opt_float(own["budget_seconds"]),
                   own["slot"], bool(own["resumed"]), own["tasks_skipped"])
