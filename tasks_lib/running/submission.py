"""Kaggle submission: build, validate, write.

Contract: a submission maps every task id to a list with one `{"attempt_1": grid, "attempt_2": grid}`
per test input, in test order. `validate(sub, n_test)` raises `SubmissionError` naming the task id and
field of the first problem; `write(path, sub, n_test)` validates and writes atomically. `assemble`
builds a complete submission from finished results and fills every other task with fallbacks, so a
valid file exists at every moment of a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from tasks_lib.arc.data import GridError, Task, grid_to_list, to_grid
from tasks_lib.arc.records import TaskResult
from tasks_lib.arc.store import atomic_write_json
from tasks_lib.decoding.vote import fallback_grids

Submission = dict[str, list[dict[str, list[list[int]]]]]


class SubmissionError(ValueError):
    """A submission is incomplete or holds an invalid grid."""


def fallback_entry(task: Task | None, n_test: int) -> list[dict]:
    """Model-free attempts for every test input of a task (or of an unparseable task)."""
    entries = []
    for i in range(n_test):
        test_input = task.test_inputs[i] if task is not None and i < len(task.test_inputs) else None
        outputs = [p.output for p in task.train] if task is not None else []
        g1, g2 = fallback_grids(test_input, outputs)[:2]
        entries.append({"attempt_1": grid_to_list(g1), "attempt_2": grid_to_list(g2)})
    return entries


def assemble(n_test: Mapping[str, int], tasks: Mapping[str, Task], results: Mapping[str, TaskResult]) -> Submission:
    """Finished results where they exist, fallbacks everywhere else; keys in `n_test` order."""
    sub: Submission = {}
    for tid, n in n_test.items():
        result = results.get(tid)
        if result is not None and len(result.attempts) == n:
            sub[tid] = [a.to_json() for a in result.attempts]
        else:
            sub[tid] = fallback_entry(tasks.get(tid), n)
    return sub


def validate(sub: Any, n_test: Mapping[str, int]) -> None:
    if not isinstance(sub, dict):
        raise SubmissionError("submission: expected an object of task_id -> list of attempts")
    missing = [t for t in n_test if t not in sub]
    if missing:
        raise SubmissionError(f"submission: task {missing[0]!r} missing ({len(missing)} tasks missing)")
    for tid, n in n_test.items():
        entries = sub[tid]
        if not isinstance(entries, list) or len(entries) != n:
            raise SubmissionError(f"submission[{tid!r}]: expected a list of {n} entries (one per test input)")
        for i, entry in enumerate(entries):
            for key in ("attempt_1", "attempt_2"):
                if not isinstance(entry, dict) or key not in entry:
                    raise SubmissionError(f"submission[{tid!r}][{i}].{key}: missing")
                try:
                    to_grid(entry[key])
                except GridError as err:
                    raise SubmissionError(f"submission[{tid!r}][{i}].{key}: {err}") from None


def write(path: str | Path, sub: Submission, n_test: Mapping[str, int]) -> Path:
    """Validate and write atomically."""
    validate(sub, n_test)
    out = Path(path)
    atomic_write_json(out, sub)
    return out
