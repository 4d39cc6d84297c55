"""One adapter trained on the demonstration pairs of every task of a run: the `shared` train scope (issue 6).

Contract: `train_shared(res, tasks, cfg, max_tokens, deadline, max_steps)` trains the resident adapter (the
caller resets it) at batch size 1 with `train.Step`, the same step per-task training uses. Each step takes one
task and a new random augmentation of its train pairs (as `train.train_adapter` does for one task); the tasks
come in a new shuffled order every pass, so every task is seen once per pass and tasks mix across steps. It
stops at `max_steps`, or before a step would end past `deadline` (a `time.time()` value). Tasks that cannot be
encoded within `max_tokens` are skipped. Returns a JSON-ready dict: `TrainStats` fields plus `tasks` (used) and
`skipped`. Runs inside a slot worker; the run (`tasks_lib.run.Run.train_shared`) gives it its budget.
"""

from __future__ import annotations

import math
import random
import time

from tasks_lib.augment import apply_task, random_augmentation
from tasks_lib.config import TrainConfig
from tasks_lib.data import Task
from tasks_lib.encoding import EncodingError, encode_train
from tasks_lib.model import Resident
from tasks_lib.train import Step, TrainStats

SHARED_ID = "<shared>"  # the resident adapter's owner while it holds the shared adapter; never a task id


def train_shared(res: Resident, tasks: list[Task], cfg: TrainConfig, max_tokens: int, deadline: float, max_steps: int) -> dict:
    """Train the resident adapter on all `tasks`, one task per step, until `max_steps` or `deadline`."""
    stats = TrainStats()
    skipped: set[str] = set()
    if max_steps == 0 or not tasks:
        return {**stats.to_dict(), "tasks": 0, "skipped": 0}
    compiles_before = res.compiles
    step = Step(res, cfg)
    stats.step_kind = step.kind
    rng = random.Random(f"{cfg.seed}:{SHARED_ID}")
    order: list[Task] = []
    step_time = 0.0  # pessimistic running estimate, as in train_adapter
    res.model.train()
    t0 = time.time()
    try:
        while stats.steps < max_steps:
            if time.time() + step_time > deadline:
                stats.stopped_by = "deadline"
                break
            if not order:
                order = [t for t in tasks if t.id not in skipped]
                if not order:
                    stats.stopped_by = "no-data"
                    break
                rng.shuffle(order)
            task = order.pop()
            try:
                enc = encode_train(res.vocab, apply_task(random_augmentation(rng, len(task.train)), task), max_tokens, cfg.loss_on_first)
            except EncodingError:
                skipped.add(task.id)
                continue
            t_step = time.time()
            loss = float(step(enc))  # one host sync per step: the deadline check needs the step time
            if not math.isfinite(loss):
                raise FloatingPointError(f"shared adapter: loss is {loss} at step {stats.steps} (task {task.id})")
            step_time = max(step_time * 0.5, time.time() - t_step)
            stats.first_loss = loss if stats.first_loss is None else stats.first_loss
            stats.last_loss = loss
            stats.steps += 1
            stats.tokens += len(enc.ids)
    finally:
        res.model.eval()
        step.close()
    stats.seconds = time.time() - t0
    stats.compiles = res.compiles - compiles_before
    return {**stats.to_dict(), "tasks": len(tasks) - len(skipped), "skipped": len(skipped)}
