"""Scoring against known solutions, by the Kaggle rule.

Contract: a test output counts as solved when either attempt equals the solution exactly.
`score(sub, solutions)` returns `{"kaggle": solved outputs / all outputs, "per_task": mean over tasks
of the fraction of the task's outputs solved, "solved_outputs", "total_outputs", "tasks": {id: [bool]}}`
over the tasks that have solutions; a task missing from the submission counts as unsolved.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from tasks_lib.arc.data import grid_to_list


def correct(entries: Sequence[Mapping], solutions: Sequence) -> list[bool]:
    """Per test output: does attempt_1 or attempt_2 match?"""
    out = []
    for i, sol in enumerate(solutions):
        want = grid_to_list(sol)
        entry = entries[i] if i < len(entries) else {}
        out.append(any(entry.get(k) == want for k in ("attempt_1", "attempt_2")))
    return out


def score(sub: Mapping[str, Sequence[Mapping]], solutions: Mapping[str, Sequence]) -> dict:
    tasks = {tid: correct(sub.get(tid, []), sols) for tid, sols in solutions.items()}
    total = sum(len(v) for v in tasks.values())
    solved = sum(sum(v) for v in tasks.values())
    per_task = sum(sum(v) / len(v) for v in tasks.values() if v) / len(tasks) if tasks else 0.0
    return {
        "kaggle": solved / total if total else 0.0,
        "per_task": per_task,
        "solved_outputs": solved,
        "total_outputs": total,
        "tasks": tasks,
    }
