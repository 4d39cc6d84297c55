"""Time budgets: the run's wall time shared among tasks and slots, recomputed as tasks finish.

Contract: `Budget(total, reserve, slots, weights)` ends at `start + total - reserve`. When a task
starts, `claim(task_id)` gives it a share of the slot-time not yet committed to running tasks nor
to the time a slot spends between tasks (`overhead` per task left: record, publish, subflow), in
proportion to its weight among the tasks not yet started:

    pool  = slots * time_left - time committed to running tasks - overhead * n
    floor = min(min_share, pool / n, even)                 # no starvation: every task gets at least this
    share = floor + (plan_pool - floor * n) * weight / pending weight

where `n` is the number of tasks left (the claimer's and those not yet started), `plan_pool` is `pool` computed
up to the first pass's planned end (`start + first_pass_fraction * (end - start)`; the run's end when the
fraction is 1), so with refinement on pass 1 leaves time for it, and `even` is the largest share that each of
the `n` tasks can still start with on the slots. Slot i has `room_i = end - free_i`: the claiming slot is free
now, another slot at its running task's deadline plus one overhead, or one overhead after its last release
(now, for a slot that has not run a task). A slot with room r starts floor(r / (e + overhead)) tasks of share
e, one for each k >= 1 with r / k >= e + overhead, so

    even = the n-th largest of {room_i / k : slot i, k = 1, 2, ...} - overhead
    n    = min(tasks not yet started + 1, how many of those values are > overhead)

(n is smaller than the tasks left only when the slots cannot even start them all, one overhead each, before
the end: the tasks that can start then split the time.) The share is capped so that every slot still has time
for its part of the tasks waiting after it:

    each   = floor + overhead                          # what one waiting task needs of a slot
    others = sum over the other slots of floor(room_i / each)
    share <= time_left - overhead - max(0, n - 1 - others) * each

the slot-time in `pool` is no use to a waiting task if it is spread over slots that are all busy until the end,
so the claiming slot keeps room for what the other slots cannot start in time. Since the slots can start `n`
tasks of `even` each, the cap never falls below the floor: `min_share` holds for every task as long as the run
can still give it to all of them; when it cannot, the tasks left split what remains equally (each starts with
`even`, a little more when a slot frees early), and with a `min_share` above 0 a claim gets 0 only when its
slot cannot pay one overhead before the end. The overhead starts at the configured estimate and becomes the
mean of `note_overhead()` measurements (the pipeline measures each task's slot time beyond what it held), each
slot's first task left out (`note_overhead(seconds, startup=True)`): its time before the claim holds the
slot's start-up (its first subflow start; 2.3-5.9 s on five of six slots in two H200 runs, against a median of
~0.3 s for the later tasks), paid once per slot and already spent when it is measured, so in the mean it
would be reserved again for every task waiting. `release(task_id)` returns
what the task did not use, so time a quick task leaves goes to the tasks still waiting; `held[task_id]` is
the (claim, release) times of its claim. `claim_extra(key, seconds)` is a refinement's claim after pass 1: at
most `seconds`, never past the run's end. The shares claimed never add up to more than the slot-time the run
has, and no task's deadline lies past the run's end. With the `shared` train scope the run first
calls `claim_shared(name)`: a block of `train_fraction` of the time left (the wall-time share each task's
own training would have had) for training the one adapter every task uses; once it is released, the
tasks share what is left, so the run still ends inside its total. Times come from `clock` (default
`time.time`) so the arithmetic can be tested with a fake clock.

The train/sample split of a claim leaves sampling at least what the task's answers need. A claim (and a
refinement's block) says how many answer tokens its sampling must decode (`answer_tokens`, summed over its
test inputs), and the budget knows what one such token costs (`sample_cost`: seconds of the sample step per
answer token decoded, all views and samples of a test input decoded as one batch):

    sample_time    = max(share * (1 - train_fraction), min(SAMPLE_MARGIN * sample_cost * answer_tokens,
                                                         SAMPLE_CAP * share))
    train_deadline = deadline - sample_time

so a task with small answers splits as `train_fraction` says and one with large answers trains less instead of
having its decode cut before any row ends. `SAMPLE_CAP` keeps a tenth of the share for training: the
adapter's first steps are what lift a task's answers above the base model's, and a task whose decode needs
more than the whole share is cut anyway (the rows that ended by then are kept). The cost starts at the
configured guess and becomes the measured ratio (total sample seconds over total tokens decoded, so large
tasks weigh most and a step's fixed costs are spread over many tokens) once `note_sample()` has seen a task
sample to the end. The split changes no share and no deadline: every promise above still holds.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable, Mapping

SAMPLE_MARGIN = 1.2  # the measured cost is the run's ratio; one task's own scatters around it
SAMPLE_CAP = 0.9  # at most this much of a share goes to sampling: training keeps a tenth (module doc)


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
        sample_cost: float = 0.0,
        start: float | None = None,
    ):
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        if any(w <= 0 for w in weights.values()):
            raise ValueError("task weights must be > 0")
        self.clock = clock
        self.start = clock() if start is None else start  # the run's start (`start`) when it began before the budget
        self.end = self.start + total_seconds - reserve_seconds
        self.slots = slots
        self.train_fraction = train_fraction
        self.min_share = min_share
        self.first_pass_fraction = first_pass_fraction
        self._overhead_guess = overhead
        self._overheads: list[float] = []  # per-task measurements; the slots' start-up ones are kept out (module doc)
        if sample_cost < 0:
            raise ValueError(f"sample_cost must be >= 0 seconds per answer token, got {sample_cost}")
        self._sample_cost_guess = sample_cost
        self._sampled = (0.0, 0)  # (sample seconds, answer tokens decoded) over the samples measured
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

    def note_overhead(self, seconds: float, startup: bool = False) -> None:
        """One task's measured slot time beyond what it held (negative values count as 0). `startup`: the slot's
        first task, whose measure holds the slot's start-up, paid once: it stays out of the per-task mean."""
        if startup:
            return
        with self._lock:
            self._overheads.append(max(0.0, seconds))

    @property
    def sample_cost(self) -> float:
        """Sample-step seconds per answer token decoded: the measured ratio, or the configured guess before any."""
        seconds, tokens = self._sampled
        return seconds / tokens if tokens else self._sample_cost_guess

    def note_sample(self, seconds: float, tokens: int) -> None:
        """One sample step that ran to the end: its wall seconds and the answer tokens it decoded."""
        if tokens <= 0:
            return
        with self._lock:
            self._sampled = (self._sampled[0] + max(0.0, seconds), self._sampled[1] + tokens)

    def sample_need(self, answer_tokens: int) -> float:
        """Seconds sampling is expected to need for `answer_tokens`, with the margin (module doc)."""
        return SAMPLE_MARGIN * self.sample_cost * max(0, answer_tokens)

    def _train_deadline(self, start: float, share: float, fraction: float, answer_tokens: int) -> float:
        """The split of a share (module doc): sampling gets its fixed part, or its need up to the cap."""
        sample_time = max(share * (1 - fraction), min(self.sample_need(answer_tokens), SAMPLE_CAP * share))
        return start + share - sample_time

    @property
    def plan_end(self) -> float:
        """When pass 1 plans to be done (the run's end unless refinement asked for less)."""
        return self.start + self.first_pass_fraction * (self.end - self.start)

    def claim(self, task_id: str, answer_tokens: int = 0) -> TaskBudget:
        """The task's share (module doc); its sampling is left time for `answer_tokens` (0: the fixed split)."""
        with self._lock:
            now = self.clock()
            left = max(0.0, self.end - now)
            weight = self._pending.pop(task_id, None)
            if weight is None:
                raise KeyError(f"task {task_id!r} is not pending (claimed twice or unknown)")
            total_weight = weight + sum(self._pending.values())
            overhead = self.overhead
            rooms = [self.end - f for f in self._others_free_at(now, overhead)]  # the other slots' room
            n, even = _even_share([left] + rooms, 1 + len(self._pending), overhead)
            n = max(1, n)  # none can start: the cap below gives 0 (the slot cannot pay one overhead)
            committed = sum(max(0.0, b.deadline - now) for b in self._running.values())
            pool = max(0.0, self.slots * left - committed - overhead * n)
            plan_left = max(0.0, min(self.plan_end, self.end) - now)
            plan_pool = max(0.0, self.slots * plan_left - committed - overhead * n)
            floor = min(self.min_share, pool / n, even)
            share = floor + max(0.0, plan_pool - floor * n) * weight / total_weight
            share = max(0.0, min(share, left - overhead - _tail(rooms, n - 1, floor + overhead), pool))
            b = TaskBudget(task_id, share, now, now + share, self._train_deadline(now, share, self.train_fraction, answer_tokens))
            self._running[task_id] = b
            return b

    def _others_free_at(self, now: float, overhead: float) -> list[float]:
        """When each slot but the claimer's is free for a waiting task (module doc): a running task's slot one
        overhead after its deadline, an idle slot one overhead after its last release (now, if it ran none)."""
        free_at = [max(now, b.deadline) + overhead for b in self._running.values()]
        idle = max(0, self.slots - 1 - len(free_at))
        if idle:  # the latest releases but the claimer's own (the earliest of them: it is already claiming)
            recent = sorted(r for _, r in self.held.values())[-(idle + 1):][1:]
            free_at += [max(now, r + overhead) for r in recent] + [now] * (idle - len(recent))
        return free_at[: self.slots - 1]

    def claim_extra(self, key: str, seconds: float, train_fraction: float | None = None, answer_tokens: int = 0) -> TaskBudget:
        """A refinement's block: `seconds`, cut to the time left less one overhead (0 when none is left);
        `train_fraction` of it for training (default: the run's), less where sampling needs more for
        `answer_tokens` (the split of the module doc)."""
        with self._lock:
            now = self.clock()
            share = max(0.0, min(seconds, self.end - now - self.overhead))
            fraction = self.train_fraction if train_fraction is None else train_fraction
            b = TaskBudget(key, share, now, now + share, self._train_deadline(now, share, fraction, answer_tokens))
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


def _even_share(rooms: list[float], tasks: int, overhead: float) -> tuple[int, float]:
    """How many of `tasks` the slots with these rooms (seconds from free to the end) can still start, one
    overhead each, and the largest share all of those can start with (`n` and `even` of the module doc)."""
    # a slot with room r starts a task of e + overhead seconds for each k >= 1 with r / k >= e + overhead, so
    # the slots start m tasks of share e exactly when e + overhead is at most the m-th largest r / k
    sizes = heapq.nlargest(tasks, (r / k for r in rooms if r > 0 for k in range(1, tasks + 1)))
    n = sum(1 for x in sizes if x > overhead)  # strictly: each of them starts with more than 0
    return (n, max(0.0, sizes[n - 1] - overhead)) if n else (0, 0.0)


def _tail(rooms: list[float], waiting: int, each: float) -> float:
    """Seconds the claiming slot must keep after its task for `waiting` tasks of `each` seconds (floor plus
    overhead) that the other slots, with these rooms, cannot start in time (module doc)."""
    if waiting <= 0 or each <= 0:
        return 0.0
    others = sum(max(0, math.floor(r / each + 1e-9)) for r in rooms)
    return max(0, waiting - others) * each
