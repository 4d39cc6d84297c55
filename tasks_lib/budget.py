"""Time budgets: the run's wall time shared among tasks and slots, recomputed as tasks finish.

Contract: `Budget(total, reserve, slots, weights)` ends at `start + total - reserve`. When a task
starts, `claim(task_id)` gives it a share of the slot-time not yet committed to running tasks nor
to the time a slot spends between tasks (`overhead` per pending task: record, publish, subflow), in
proportion to its weight among the tasks not yet started:

    pool  = slots * time_left - time committed to running tasks - overhead * pending tasks
    floor = min(min_share, pool / pending tasks)          # no starvation: every task gets at least this
    share = floor + (plan_pool - floor * pending tasks) * weight / pending weight

where `plan_pool` is `pool` computed up to the first pass's planned end (`start + first_pass_fraction *
(end - start)`; the run's end when the fraction is 1), so with refinement on pass 1 leaves time for it,
and the share is capped at `time_left - overhead`. `min_share` holds for every task as long as the run
can still give it to all of them; when it cannot, the tasks left split what remains equally. The
overhead starts at the configured estimate and becomes the mean of `note_overhead()` measurements (the
pipeline measures each task's slot time beyond what it held). `release(task_id)` returns what the task
did not use, so time a quick task leaves goes to the tasks still waiting; `held[task_id]` is the (claim,
release) times of its claim. `claim_extra(key, seconds)` is a refinement's claim after pass 1: at most `seconds`,
never past the run's end. The shares claimed never add up to more than the slot-time the run has, and no
task's deadline lies past the run's end. With the `shared` train scope the run first
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
        min_share: float = 0.0,
        overhead: float = 0.0,
        first_pass_fraction: float = 1.0,
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
        self.min_share = min_share
        self.first_pass_fraction = first_pass_fraction
        self._overhead_guess = overhead
        self._overheads: list[float] = []
        self.held: dict[str, tuple[float, float]] = {}  # task id -> (claimed, released) clock times
        self._pending = dict(weights)
        self._running: dict[str, TaskBudget] = {}
        self._lock = threading.Lock()

    def time_left(self) -> float:
        return max(0.0, self.end - self.clock())

    @property
    def overhead(self) -> float:
        """Seconds of a slot per task beyond its share: the measured mean, or the configured guess before any."""
        return sum(self._overheads) / len(self._overheads) if self._overheads else self._overhead_guess

    def note_overhead(self, seconds: float) -> None:
        """One task's measured slot time beyond what it held (negative values count as 0)."""
        with self._lock:
            self._overheads.append(max(0.0, seconds))

    @property
    def plan_end(self) -> float:
        """When pass 1 plans to be done (the run's end unless refinement asked for less)."""
        return self.start + self.first_pass_fraction * (self.end - self.start)

    def claim(self, task_id: str) -> TaskBudget:
        with self._lock:
            now = self.clock()
            left = max(0.0, self.end - now)
            weight = self._pending.pop(task_id, None)
            if weight is None:
                raise KeyError(f"task {task_id!r} is not pending (claimed twice or unknown)")
            n = 1 + len(self._pending)
            total_weight = weight + sum(self._pending.values())
            overhead = self.overhead
            committed = sum(max(0.0, b.deadline - now) for b in self._running.values())
            pool = max(0.0, self.slots * left - committed - overhead * n)
            plan_left = max(0.0, min(self.plan_end, self.end) - now)
            plan_pool = max(0.0, self.slots * plan_left - committed - overhead * n)
            floor = min(self.min_share, pool / n)
            share = floor + max(0.0, plan_pool - floor * n) * weight / total_weight
            share = max(0.0, min(share, left - overhead, pool))
            b = TaskBudget(task_id, share, now, now + share, now + share * self.train_fraction)
            self._running[task_id] = b
            return b

    def claim_extra(self, key: str, seconds: float, train_fraction: float | None = None) -> TaskBudget:
        """A refinement's block: `seconds`, cut to the time left less one overhead (0 when none is left);
        `train_fraction` of it for training (default: the run's)."""
        with self._lock:
            now = self.clock()
            share = max(0.0, min(seconds, self.end - now - self.overhead))
            fraction = self.train_fraction if train_fraction is None else train_fraction
            b = TaskBudget(key, share, now, now + share, now + share * fraction)
            self._running[key] = b
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
            b = self._running.pop(task_id, None)
            if b is not None:
                self.held[task_id] = (b.start, self.clock())

    def forget(self, task_id: str) -> None:
        """Drop a task that will not run (finished in an earlier run, or invalid)."""
        with self._lock:
            self._pending.pop(task_id, None)
