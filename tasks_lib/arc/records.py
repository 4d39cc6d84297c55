"""The records a task leaves behind: its result, its candidates and its refinement rounds, as typed values with
their JSON forms. Every producer (the task's steps, refinement, the run) builds them and every consumer (the run's
submission and report, resume, the UI, the benchmarks) reads them through the attributes here, never by string keys.

Contract:
- `Candidate`: one sampled grid (`candidates.json` holds them, per test input: what a refinement votes over again);
  `Ranked`: one distinct grid after the vote, with its votes; `TestCandidates`: one test input's candidate count and
  its top ranked grids; `Attempts`: one test input's two attempts (the submission's entry).
- `RefinementEntry`: one refinement round of a task; `Pass1`: the first pass's attempts (and correctness), kept
  from the first refinement on.
- `TrainRecord` / `SampleRecord` (its `stats` a `SampleStatsRecord`): pass 1's train and sample steps as result.json
  keeps them: the worker's TrainStats / SampleStats fields plus the step's own (`wall_seconds`, `loaded_now`,
  `degraded`, `adapter_switched`, ...). The steps return the worker's dicts (they cross a process boundary and this
  floor imports neither adapting/ nor decoding/); `from_json` turns one into its record where it is kept or read
  (solve.Outcome.record, refine, the budget's sampling measure). Their `to_json` writes every known field, so a record
  read from an old file gains the newer keys at their defaults.
- `TaskResult`: everything `tasks/<id>/result.json` holds, one field per key.
- Every record has `to_json()` (the exact keys the files have held since refinement existed: `correct`,
  `refinements` and `pass1` only when set) and `from_json(data, where="")`, which round-trip:
  `X.from_json(x.to_json()) == x`. `from_json` reads files written by earlier code (a result.json from before
  spans, the train budget split or refinement existed: the missing keys take their defaults) and keeps keys it
  does not know in `extra` (written back by `to_json`, so nothing on disk is lost; a report.json task entry read
  here keeps its `state` and `resumed` this way, which `run_record.ReportTask` reads as its own fields). Bad input raises `RecordError` naming `where` (the file, or the task id) and the
  field: `tasks/a1/result.json: attempts[0].attempt_2: missing`.
- `read_candidates(data, where)` / `candidates_json(candidates)`: candidates.json's list per test input.
- Shared names: `RESULT_FILE`, `CANDIDATES_FILE` (a task's files in its folder).

Only the standard library and `json_fields` (the field readers every record shares) here: the records are what processes
and files share, so they depend on nothing else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from tasks_lib.arc import json_fields as jf
from tasks_lib.arc.json_fields import RecordError

Grid = tuple[tuple[int, ...], ...]  # the same alias as tasks_lib.arc.data.Grid
RESULT_FILE = "result.json"
CANDIDATES_FILE = "candidates.json"


@dataclass(frozen=True)
class Candidate:
    """One sampled grid: the view it came from, its log-probability, greedy or sampled, its augmented score."""

    grid: Grid
    view: int
    logprob: float
    greedy: bool
    score: float | None = None  # mean log-probability over the augmented scoring views, when scored

    def to_json(self) -> dict:
        return {"grid": jf.grid_json(self.grid), "view": self.view, "logprob": self.logprob, "greedy": self.greedy, "score": self.score}

    to_dict = to_json  # the name the sampler's callers used

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "") -> Candidate:
        return cls(jf.grid(jf.get(data, "grid", where, path), where, f"{path}.grid" if path else "grid"),
                   int(jf.get(data, "view", where, path, kind=int)), float(jf.get(data, "logprob", where, path, kind=jf.NUMBER)),
                   bool(jf.get(data, "greedy", where, path, kind=bool)), jf.opt_float(jf.get(data, "score", where, path, None, jf.NUMBER)))


def read_candidates(data: Any, where: str = "") -> list[list[Candidate]]:
    """candidates.json's content: per test input, its candidates."""
    if not isinstance(data, list) or not all(isinstance(c, list) for c in data):
        raise RecordError(f"{jf.where_of(where, 'candidates')}: expected a list (per test input) of lists")
    return [[Candidate.from_json(c, where, f"[{i}][{j}]") for j, c in enumerate(cs)] for i, cs in enumerate(data)]


def candidates_json(candidates: Sequence[Sequence[Candidate]]) -> list[list[dict]]:
    return [[c.to_json() for c in cs] for cs in candidates]


@dataclass(frozen=True)
class Ranked:
    """One distinct grid after the vote: its votes, mean log-probability, the views that gave it, its score."""

    grid: Grid
    votes: int
    mean_logprob: float
    views: tuple[int, ...]
    score: float | None = None  # augmented score, when the candidates were scored

    def rounded(self) -> Ranked:
        """As the record keeps it (4 decimals): what `to_json` writes, so the record and its file agree."""
        return dataclasses.replace(self, mean_logprob=round(self.mean_logprob, 4), score=None if self.score is None else round(self.score, 4))

    def to_json(self) -> dict:
        return {"grid": jf.grid_json(self.grid), "votes": self.votes, "mean_logprob": round(self.mean_logprob, 4), "views": list(self.views),
                "score": None if self.score is None else round(self.score, 4)}

    to_dict = to_json

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "") -> Ranked:
        return cls(jf.grid(jf.get(data, "grid", where, path), where, f"{path}.grid"), int(jf.get(data, "votes", where, path, kind=int)),
                   float(jf.get(data, "mean_logprob", where, path, kind=jf.NUMBER)),
                   tuple(int(v) for v in jf.get_list(data, "views", where, path, [])), jf.opt_float(jf.get(data, "score", where, path, None, jf.NUMBER)))


@dataclass(frozen=True)
class TestCandidates:
    """One test input's vote: how many candidates it had and its top ranked grids (at most 8 kept)."""

    __test__ = False  # not a pytest class
    n: int
    top: tuple[Ranked, ...] = ()

    def to_json(self) -> dict:
        return {"n": self.n, "top": [r.to_json() for r in self.top]}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "") -> TestCandidates:
        return cls(int(jf.get(data, "n", where, path, 0, int) or 0),
                   tuple(Ranked.from_json(r, where, f"{path}.top[{j}]") for j, r in enumerate(jf.get_list(data, "top", where, path, []))))


@dataclass(frozen=True)
class Attempts:
    """One test input's two attempts: its entry in submission.json."""

    attempt_1: Grid
    attempt_2: Grid

    def to_json(self) -> dict:
        return {"attempt_1": jf.grid_json(self.attempt_1), "attempt_2": jf.grid_json(self.attempt_2)}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "") -> Attempts:
        return cls(jf.grid(jf.get(data, "attempt_1", where, path), where, f"{path}.attempt_1"),
                   jf.grid(jf.get(data, "attempt_2", where, path), where, f"{path}.attempt_2"))


def _attempts(data: Any, key: str, where: str, path: str = "", default: Any = ...) -> tuple[Attempts, ...]:
    name = f"{path}.{key}" if path else key
    return tuple(Attempts.from_json(a, where, f"{name}[{i}]") for i, a in enumerate(jf.get_list(data, key, where, path, default)))


@dataclass(frozen=True)
class RefinementEntry:
    """One refinement round of a task (tasks_lib/running/refine.py): its block, what it added and what it cost."""

    round: int
    budget_seconds: float
    steps: int  # train steps added
    views: int
    train_tokens: int = 0  # the run's compute (tasks_lib/running/compute.py)
    train_seconds: float = 0.0
    new_candidates: int = 0
    stopped_by: tuple[str | None, str | None] = (None, None)  # (training, sampling)
    timings: dict[str, float] = field(default_factory=dict)  # refine, vote -> wall seconds
    errors: tuple[str, ...] = ()
    correct: tuple[bool, ...] | None = None  # after this round, when solutions are known
    slot: int | None = None
    span: tuple[float, float] | None = None  # start and end of its refine step and vote (time.time() values)
    held: tuple[int, ...] = ()  # test inputs whose second attempt is pass 1's first answer, held against the vote
    kind: str = "continue"  # schedule.refine_kind: continue, fresh or transduce
    demonstrations: int = 0  # transduce: test inputs whose top grid was trained on as a demonstration

    def to_json(self) -> dict:
        out = {"round": self.round, "budget_seconds": self.budget_seconds, "steps": self.steps, "views": self.views,
               "train_tokens": self.train_tokens, "train_seconds": self.train_seconds, "new_candidates": self.new_candidates,
               "stopped_by": list(self.stopped_by), "timings": dict(self.timings), "errors": list(self.errors)}
        if self.correct is not None:
            out["correct"] = list(self.correct)
        if self.slot is not None:
            out["slot"] = self.slot
        if self.span is not None:
            out["span"] = list(self.span)
        if self.held:
            out["held"] = list(self.held)
        if self.kind != "continue":
            out["kind"] = self.kind
        if self.demonstrations:
            out["demonstrations"] = self.demonstrations
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "") -> RefinementEntry:
        stopped = jf.get_list(data, "stopped_by", where, path, [None, None])
        span = jf.get(data, "span", where, path, None)
        return cls(int(jf.get(data, "round", where, path, kind=int)), float(jf.get(data, "budget_seconds", where, path, 0.0, jf.NUMBER) or 0.0),
                   int(jf.get(data, "steps", where, path, 0, int) or 0), int(jf.get(data, "views", where, path, 0, int) or 0),
                   int(jf.get(data, "train_tokens", where, path, 0, int) or 0), float(jf.get(data, "train_seconds", where, path, 0.0, jf.NUMBER) or 0.0),
                   int(jf.get(data, "new_candidates", where, path, 0, int) or 0), (tuple(stopped) + (None, None))[:2],
                   jf.seconds(data, "timings", where, path), tuple(str(e) for e in jf.get_list(data, "errors", where, path, [])),
                   jf.bools(jf.get(data, "correct", where, path, None), where, f"{path}.correct"), jf.get(data, "slot", where, path, None, int),
                   None if span is None else jf.span(span, where, f"{path}.span"),
                   tuple(int(i) for i in jf.get_list(data, "held", where, path, [])),
                   str(jf.get(data, "kind", where, path, "continue", str)), int(jf.get(data, "demonstrations", where, path, 0, int) or 0))


@dataclass(frozen=True)
class Pass1:
    """The first pass's answers of a refined task (and whether they were right, when solutions are known)."""

    attempts: tuple[Attempts, ...]
    correct: tuple[bool, ...] | None = None

    def to_json(self) -> dict:
        return {"attempts": [a.to_json() for a in self.attempts], "correct": None if self.correct is None else list(self.correct)}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "pass1") -> Pass1:
        return cls(_attempts(data, "attempts", where, path, []), jf.bools(jf.get(data, "correct", where, path, None), where, f"{path}.correct"))


_OPT_NUMBER = {"first_loss", "last_loss", "build_seconds", "reset_seconds", "wall_seconds"}


@dataclass(frozen=True)
class TrainRecord:
    """A task's train step as result.json keeps it (`train`): the worker's TrainStats fields
    (tasks_lib/adapting/train.py, which converts into this record's JSON form) and the step's own keys."""

    steps: int = 0  # optimizer steps
    seconds: float = 0.0  # the loop's own seconds
    tokens: int = 0  # the trained views' own tokens (the run's compute)
    views: int = 0
    padded_tokens: int = 0
    first_loss: float | None = None
    last_loss: float | None = None
    stopped_by: str = "steps"  # steps | deadline | no-data | oom, or the scope (none | shared) of a task that trained nothing itself
    step_kind: str = ""  # simple | fast
    compiles: int = 0
    graphs: bool = False
    captures: int = 0
    build_seconds: float | None = None  # steps that compiled or captured graphs (the slot's cost; the task's deadline moved
    # by it); None in records written before the field was
    oom: tuple[str, ...] = ()
    skipped: int = 0
    reset_seconds: float | None = None  # the step's own: adapter reset or load
    loaded_now: bool | None = None  # the step loaded the base model
    wall_seconds: float | None = None  # the step's wall time, as the run saw it
    scope: str | None = None  # untrained tasks only: none | shared
    adapter: str | None = None  # scope shared: the shared adapter's folder
    extra: dict[str, Any] = field(default_factory=dict)  # keys this code does not know, kept as they were

    _KINDS = {"steps": int, "seconds": jf.NUMBER, "tokens": int, "views": int, "padded_tokens": int, "first_loss": jf.NUMBER,
              "last_loss": jf.NUMBER, "stopped_by": str, "step_kind": str, "compiles": int, "graphs": bool, "captures": int,
              "build_seconds": jf.NUMBER, "oom": list, "skipped": int, "reset_seconds": jf.NUMBER, "loaded_now": bool,
              "wall_seconds": jf.NUMBER, "scope": str, "adapter": str}
    _OPTIONAL = ("build_seconds", "reset_seconds", "loaded_now", "wall_seconds", "scope", "adapter")  # written only when set, as the steps did

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        out["oom"] = list(self.oom)
        for k in self._OPTIONAL:
            if out[k] is None and not (k == "adapter" and self.scope is not None):  # an untrained task's adapter: null
                del out[k]
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "train") -> TrainRecord:
        got = jf.coerced(jf.fields_of(cls, data, where, path, cls._KINDS), ("seconds", *_OPT_NUMBER), {"oom": str})
        return cls(**got, extra={k: v for k, v in data.items() if k not in cls._KINDS})


@dataclass(frozen=True)
class SampleStatsRecord:
    """The sample step's `stats`: the worker's SampleStats fields (tasks_lib/decoding/sample.py)."""

    generated: int = 0
    malformed: int = 0
    views_done: int = 0
    seconds: float = 0.0
    stopped_by: str = "done"  # done | deadline
    tokens_decoded: int = 0
    decode_groups: tuple[int, ...] = ()
    groups_skipped: int = 0
    scored_views: int = 0
    score_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    _KINDS = {"generated": int, "malformed": int, "views_done": int, "seconds": jf.NUMBER, "stopped_by": str, "tokens_decoded": int,
              "decode_groups": list, "groups_skipped": int, "scored_views": int, "score_seconds": jf.NUMBER}

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**out, "decode_groups": list(self.decode_groups), **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "sample.stats") -> SampleStatsRecord:
        got = jf.coerced(jf.fields_of(cls, data, where, path, cls._KINDS), ("seconds", "score_seconds"), {"decode_groups": int})
        return cls(**got, extra={k: v for k, v in data.items() if k not in cls._KINDS})


@dataclass(frozen=True)
class SampleRecord:
    """A task's sample step as result.json keeps it (`sample`, its candidates left out: candidates.json holds them):
    the worker's stats, the lighter settings it fell back to, and the step's own keys."""

    stats: SampleStatsRecord = field(default_factory=SampleStatsRecord)
    degraded: tuple[dict, ...] = ()  # {views, samples_per_view} per out-of-memory fallback
    loaded_now: bool | None = None
    adapter_switched: bool | None = None
    wall_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KINDS = {"stats": dict, "degraded": list, "loaded_now": bool, "adapter_switched": bool, "wall_seconds": jf.NUMBER}

    def to_json(self) -> dict:
        out: dict[str, Any] = {"stats": self.stats.to_json(), "degraded": [dict(d) for d in self.degraded]}
        for k in ("loaded_now", "adapter_switched", "wall_seconds"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str = "", path: str = "sample") -> SampleRecord:
        """The step's record; a step's output with its `candidates` is read without them (they are not the record's)."""
        got = jf.fields_of(cls, data, where, path, cls._KINDS)
        got["stats"] = SampleStatsRecord.from_json(got.get("stats") or {}, where, f"{path}.stats")
        if "degraded" in got:
            if not all(isinstance(d, Mapping) for d in got["degraded"]):
                raise RecordError(f"{jf.where_of(where, path + '.degraded')}: expected a list of objects")
            got["degraded"] = tuple(dict(d) for d in got["degraded"])
        if "wall_seconds" in got:
            got["wall_seconds"] = float(got["wall_seconds"])
        return cls(**got, extra={k: v for k, v in data.items() if k not in cls._KINDS and k != "candidates"})


_KEYS = ("task_id", "status", "error", "slot", "budget_seconds", "train_budget_seconds", "used_seconds", "timings", "spans", "steps",
         "train", "sample", "attempts", "candidates", "correct", "refinements", "pass1")


@dataclass(frozen=True)
class TaskResult:
    """A task's record: `tasks/<id>/result.json`, the task's entry in report.json, what the submission takes its attempts
    from and what a resumed run trusts. Status `ok` (no step failed), `failed` (its `error` says why), `invalid` (the
    task failed validation) or `not-run` (report.json only: the run ended before the task started)."""

    task_id: str
    status: str
    attempts: tuple[Attempts, ...]
    error: str | None = None
    slot: int | None = None
    budget_seconds: float | None = None  # pass 1's share, plus every refinement's block
    train_budget_seconds: float | None = None  # pass 1's train part of its share
    used_seconds: float | None = None  # wall seconds of its steps, pass 1 and refinements (None: it never ran)
    timings: dict[str, float] = field(default_factory=dict)  # pass 1's step -> wall seconds
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)  # pass 1's step -> (start, end), time.time() values
    steps: int = 0  # train steps, pass 1 and refinements
    train: TrainRecord | None = None  # pass 1's train step
    sample: SampleRecord | None = None  # pass 1's sample step, candidates left out
    candidates: tuple[TestCandidates, ...] = ()  # per test input
    correct: tuple[bool, ...] | None = None  # per test input, when solutions are known
    refinements: tuple[RefinementEntry, ...] = ()
    pass1: Pass1 | None = None  # kept from the first refinement on
    extra: dict[str, Any] = field(default_factory=dict)  # keys this code does not know, kept as they were

    @property
    def answered(self) -> list[bool]:
        """Per test input: did the model give at least one candidate?"""
        return [c.n > 0 for c in self.candidates]

    @property
    def sample_stats(self) -> SampleStatsRecord:
        """The sample step's stats, all defaults (nothing generated) when it did not run."""
        return SampleStatsRecord() if self.sample is None else self.sample.stats

    def replace(self, **changes: Any) -> TaskResult:
        return dataclasses.replace(self, **changes)

    def with_last_round(self, **changes: Any) -> TaskResult:
        """The record with its latest refinement entry changed (e.g. its slot and span, known once the round ended)."""
        return self.replace(refinements=(*self.refinements[:-1], dataclasses.replace(self.refinements[-1], **changes)))

    def to_json(self) -> dict:
        out = {
            "task_id": self.task_id, "status": self.status, "error": self.error, "slot": self.slot,
            "budget_seconds": self.budget_seconds, "train_budget_seconds": self.train_budget_seconds, "used_seconds": self.used_seconds,
            "timings": dict(self.timings), "spans": {k: list(v) for k, v in self.spans.items()}, "steps": self.steps,
            "train": None if self.train is None else self.train.to_json(),
            "sample": None if self.sample is None else self.sample.to_json(), "attempts": [a.to_json() for a in self.attempts],
            "candidates": [c.to_json() for c in self.candidates],
        }
        if self.correct is not None:
            out["correct"] = list(self.correct)
        if self.refinements:
            out["refinements"] = [e.to_json() for e in self.refinements]
        if self.pass1 is not None:
            out["pass1"] = self.pass1.to_json()
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> TaskResult:
        """The record `data` (a result.json's content, or a report.json task) holds; `where` names it in errors (module doc)."""
        if not isinstance(data, Mapping):
            raise RecordError(f"{where or 'result'}: expected a JSON object, got {type(data).__name__}")
        task_id = jf.get(data, "task_id", where, "", kind=str)
        where = where or f"task {task_id}"
        spans = jf.get(data, "spans", where, "", {}, dict) or {}
        pass1 = jf.get(data, "pass1", where, "", None, dict)
        train, sample = jf.get(data, "train", where, "", None, dict), jf.get(data, "sample", where, "", None, dict)
        return cls(
            task_id=task_id,
            status=jf.get(data, "status", where, "", kind=str),
            attempts=_attempts(data, "attempts", where),
            error=jf.get(data, "error", where, "", None, str),
            slot=jf.get(data, "slot", where, "", None, int),
            budget_seconds=jf.opt_float(jf.get(data, "budget_seconds", where, "", None, jf.NUMBER)),
            train_budget_seconds=jf.opt_float(jf.get(data, "train_budget_seconds", where, "", None, jf.NUMBER)),
            used_seconds=jf.opt_float(jf.get(data, "used_seconds", where, "", None, jf.NUMBER)),
            timings=jf.seconds(data, "timings", where),
            spans={k: jf.span(v, where, f"spans.{k}") for k, v in spans.items()},
            steps=int(jf.get(data, "steps", where, "", 0, int) or 0),
            train=None if train is None else TrainRecord.from_json(train, where),
            sample=None if sample is None else SampleRecord.from_json(sample, where),
            candidates=tuple(TestCandidates.from_json(c, where, f"candidates[{i}]") for i, c in enumerate(jf.get_list(data, "candidates", where, "", []))),
            correct=jf.bools(jf.get(data, "correct", where, "", None), where, "correct"),
            refinements=tuple(RefinementEntry.from_json(e, where, f"refinements[{i}]") for i, e in enumerate(jf.get_list(data, "refinements", where, "", []))),
            pass1=None if pass1 is None else Pass1.from_json(pass1, where),
            extra={k: v for k, v in data.items() if k not in _KEYS},
        )


def as_result(value: TaskResult | Mapping) -> TaskResult:
    """A TaskResult as it is, or one read from its JSON form (a report.json task entry)."""
    return value if isinstance(value, TaskResult) else TaskResult.from_json(value)
