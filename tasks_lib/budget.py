"""Time budgets: the run's wall time shared among tasks and slots, recomputed as tasks finish.

Contract: `Budget(total, reserve, slots, weights)` ends at `start + total - reserve`. When a task
starts, `claim(task_id)` gives it a share of the slot-time not yet committed to running tasks,
in proportion to its weight among the tasks not yet started:

    share = (slots * time_left - time committed to running tasks) * weight / pending weight

capped at `time_left`. `release(task_id)` returns what the task did not use, so time a quick task
leaves goes to the tasks still waiting. The shares claimed never add up to more than the slot-time
the run has, and no task's deadline lies past the run's end. With the `shared` train scope the run first
calls `claim_shared(name)`: a block of `train_fraction` of the time left (the wall-time share each task's
own training would have had) for training the one adapter every task uses; once it is released, the
tasks share what is left, so the run still ends inside its total. Times come from `clock` (default
`time.time`) so the arithmetic can be tested with a fake clock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable, Mapping


@dataclass(frozen=True)
class TaskBudget:
    task_id: str
    seconds: float
    start: float
    deadline: float  # the task must be done by then
    train_deadline: float  # training stops by then; sampling gets the rest

    def to_dict(self) -> dict:
        return asdict(self)


class Budget:
    def __init__(
        self,
        total_seconds: float,
        reserve_seconds: float,
        slots: int,
        weights: Mapping[str, float],
        train_fraction: float = 0.6,
        clock: Callable[[], float] = time.time,
    ):
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        if any(w <= 0 for w in weights.values()):
            raise ValueError("task weights must be > 0")
        self.clock = clock
        self.start = clock()
        self.end = self.start + total_seconds - reserve_seconds
        self.slots = slots
        self.train_fraction = train_fraction
        self._pending = dict(weights)
        self._running: dict[str, TaskBudget] = {}
        self._lock = threading.Lock()

    def time_left(self) -> float:
        return max(0.0, self.end - self.clock())

    def claim(self, task_id: str) -> TaskBudget:
        with self._lock:
            now = self.clock()
            left = max(0.0, self.end - now)
            weight = self._pending.pop(task_id, None)
            if weight is None:
                raise KeyError(f"task {task_id!r} is not pending (claimed twice or unknown)")
            committed = sum(max(0.0, b.deadline - now) for b in self._running.values())
            pool = max(0.0, self.slots * left - committed)
            share = min(left, pool * weight / (weight + sum(self._pending.values())))
            b = TaskBudget(task_id, share, now, now + share, now + share * self.train_fraction)
            self._running[task_id] = b
            return b

    def claim_shared(self, name: str) -> TaskBudget:
        """Before any task starts: `train_fraction` of the time left, all of it for training (scope shared)."""
        with self._lock:
            now = self.clock()
            seconds = max(0.0, self.end - now) * self.train_fraction
            b = TaskBudget(name, seconds, now, now + seconds, now + seconds)
            self._running[name] = b
            return b

    def release(self, task_id: str) -> None:
        with self._lock:
            self._running.pop(task_id, None)

    def forget(self, task_id: str) -> None:
        """Drop a task that will not run (finished in an earlier run, or invalid)."""
        with self._lock:
            self._pending.pop(task_id, None)
