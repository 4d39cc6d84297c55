"""Reading records' JSON forms field by field, with errors that name the bad field.

Contract: every reader takes `where` (the file, or the task id) and `path` (the field's place in the record, e.g.
`attempts[0]`) and raises `RecordError` naming both: `tasks/a1/result.json: attempts[0].attempt_2: missing`.
- `get(data, key, where, path, default, kind)`: `data[key]` checked (missing without a default, a wrong type, or
  null where no default is allowed is an error); `get_list` the same for lists (null reads as empty).
- `grid` / `grid_json`: a grid and its JSON form; `bools`, `span`, `seconds`, `opt_float`: the small shapes records hold.
- `fields_of(cls, data, where, path, kinds)`: a dataclass's fields read by name, each checked against its kind;
  `coerced(got, floats, tuples)`: numbers to floats and lists to tuples after that.
The records of `records.py`, `run_record.py` and `report_parts.py` read their files through these alone.
Only the standard library here.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

Grid = tuple[tuple[int, ...], ...]  # the same alias as tasks_lib.arc.data.Grid
NUMBER = (int, float)  # a JSON number


class RecordError(ValueError):
    """A record's JSON form is malformed: the message names where (file or task id) and the field."""


def where_of(where: str, path: str) -> str:
    return f"{where}: {path}" if where else path


def get(data: Any, key: str, where: str, path: str, default: Any = ..., kind: type | tuple[type, ...] | None = None) -> Any:
    """`data[key]` checked: missing (without a default) or of the wrong type raises RecordError naming the field."""
    if not isinstance(data, Mapping):
        raise RecordError(f"{where_of(where, path or 'record')}: expected a JSON object, got {type(data).__name__}")
    name = f"{path}.{key}" if path else key
    if key not in data:
        if default is ...:
            raise RecordError(f"{where_of(where, name)}: missing")
        return default
    value = data[key]
    if kind is not None and value is not None and not isinstance(value, kind):
        raise RecordError(f"{where_of(where, name)}: expected {kind_name(kind)}, got {type(value).__name__}")
    if kind is not None and value is None and default is ...:
        raise RecordError(f"{where_of(where, name)}: expected {kind_name(kind)}, got null")
    return value


def kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {"int": "an integer", "float": "a number", "str": "a string", "list": "a list", "dict": "an object", "bool": "true or false"}
    return " or ".join(dict.fromkeys(names.get(k.__name__, k.__name__) for k in kinds))


def get_list(data: Any, key: str, where: str, path: str, default: Any = ...) -> list:
    value = get(data, key, where, path, default, list)
    return [] if value is None else value


def grid(value: Any, where: str, path: str) -> Grid:
    if not isinstance(value, list) or not value or not all(isinstance(r, list) and all(isinstance(v, int) for v in r) for r in value):
        raise RecordError(f"{where_of(where, path)}: expected a grid (a non-empty list of lists of integers)")
    return tuple(tuple(int(v) for v in r) for r in value)


def grid_json(grid: Grid) -> list[list[int]]:
    return [list(r) for r in grid]



def opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def bools(value: Any, where: str, path: str) -> tuple[bool, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, bool) for v in value):
        raise RecordError(f"{where_of(where, path)}: expected a list of true/false")
    return tuple(value)


def span(value: Any, where: str, path: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, NUMBER) for v in value):
        raise RecordError(f"{where_of(where, path)}: expected [start, end] in seconds")
    return float(value[0]), float(value[1])


def seconds(data: Any, key: str, where: str, path: str = "") -> dict[str, float]:
    value = get(data, key, where, path, {}, dict) or {}
    name = f"{path}.{key}" if path else key
    if not all(isinstance(v, NUMBER) for v in value.values()):
        raise RecordError(f"{where_of(where, name)}: expected seconds per step")
    return {k: float(v) for k, v in value.items()}


def fields_of(cls: type, data: Any, where: str, path: str, kinds: Mapping[str, Any]) -> dict[str, Any]:
    """The dataclass fields of `cls` read from `data` by name: absent ones take their defaults, present ones are
    checked against `kinds` (a type, or None: any JSON value) and null keeps the default."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.name == "extra" or f.name not in kinds:
            continue
        value = get(data, f.name, where, path, None, kinds[f.name])
        if value is not None:
            out[f.name] = value
    return out


def coerced(got: dict, floats: Sequence[str], tuples: Mapping[str, type]) -> dict:
    """`got` (checked fields) with the named numbers as floats and the named lists as tuples of their item type."""
    for k in floats:
        if k in got and got[k] is not None:
            got[k] = float(got[k])
    for k, item in tuples.items():
        if k in got:
            got[k] = tuple(item(x) for x in got[k])
    return got
