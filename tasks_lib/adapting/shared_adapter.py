"""One adapter trained on the demonstration pairs of every task of a run: the `shared` train scope.

Contract: `train_shared(res, tasks, cfg, max_tokens, deadline, max_steps)` trains the resident adapter (the
caller resets it) at batch size 1 with `train.train_loop`, the loop and step per-task training uses. Each step takes one
task and a new random augmentation of its train pairs (as `train.train_adapter` does for one task); the tasks
come in a new shuffled order every pass, so every task is seen once per pass and tasks mix across steps. It
stops at `max_steps`, or before a step would end past `deadline` (a `time.time()` value). Tasks that cannot be
encoded within `max_tokens` are skipped. Returns a JSON-ready dict: `TrainStats` fields (`skipped`: examples not
trained for memory, as for a task's own adapter) plus `tasks` (used) and `tasks_skipped` (not encodable). Runs inside a slot worker; the pipeline (`tasks_lib.running.pipeline._train_shared`) gives it its budget.
"""

from __future__ import annotations

import random
from typing import Iterator

from tasks_lib.adapting.model import Resident
from tasks_lib.adapting.train import encode_view, train_loop
from tasks_lib.arc.data import Task
from tasks_lib.arc.encoding import Encoded, EncodingError
from tasks_lib.config import TrainConfig

SHARED_ID = "<shared>"  # the resident adapter's owner while it holds the shared adapter; never a task id


def _mixed_examples(res: Resident, tasks: list[Task], cfg: TrainConfig, max_tokens: int, skipped: set[str]) -> Iterator[Encoded]:
    """One task per example, a new shuffled order every pass; tasks that cannot be encoded go into `skipped`."""
    rng = random.Random(f"{cfg.seed}:{SHARED_ID}")
    while True:
        order = [t for t in tasks if t.id not in skipped]
        if not order:
            return
        rng.shuffle(order)
        for task in order:
            try:
                yield encode_view(res, task, cfg, max_tokens, rng)
            except EncodingError:
                skipped.add(task.id)


def train_shared(res: Resident, tasks: list[Task], cfg: TrainConfig, max_tokens: int, deadline: float, max_steps: int,
                 latest: float | None = None) -> dict:
    """Train the resident adapter on all `tasks`, one task per step, until `max_steps` or `deadline` (`latest`: as in
    `train_loop`)."""
    skipped: set[str] = set()
    if not tasks:
        max_steps = 0
    stats = train_loop(res, cfg, _mixed_examples(res, tasks, cfg, max_tokens, skipped), max_steps, deadline, "shared adapter", latest)
    return {**stats.to_dict(), "tasks": len(tasks) - len(skipped), "tasks_skipped": len(skipped)}
