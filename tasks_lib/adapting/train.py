"""Test-time training of the LoRA adapter: the loop.

Contract: `train_adapter(res, task, cfg, max_tokens, deadline)` resets nothing by itself (the caller resets the
adapter), builds a fresh step (`tasks_lib.adapting.train_steps.make_step`: a new optimizer, or with CUDA graphs the slot's
one with its state zeroed in place), and trains on new random augmentations of the task's train pairs, with the loss
on output tokens only: each optimizer step takes `rows_per_step` views (`cfg.views_per_step`, fewer where
`cfg.tokens_per_step` or the slot's memory cap says so, one at least). It stops at `cfg.max_steps` steps or before a
step would end past `deadline` (a `time.time()` value), whichever comes first, and returns `TrainStats`; a step that
compiled or captured graphs is the slot's one-off cost, and its seconds move the deadline (`TrainStats.build_seconds`),
never past `latest` when the caller gives one (the worker call's own limit).
Only adapter weights change. `train_loop` is the same loop over any stream of examples (the shared adapter's,
`tasks_lib/adapting/shared_adapter.py`); it reads the loss back every `cfg.sync_every` steps. `warm_up` compiles the fast step
for every batch shape a task's steps take, before any task's clock runs.
A step that runs out of memory does not fail the training: the cached memory is freed, one line naming the reason and
the shape is logged (and kept in `TrainStats.oom`), and the slot's `LightMode` changes. A batch of several views halves
the slot's cap on a step's padded tokens and its views are trained again, fewer per step (never no training); a single
view is retried light by the fast step (layers recomputed, small cross-entropy chunks, no graph) with every longer
one; a view that ran out light too (or any, for the simple step) is skipped with every one at least as long
(`TrainStats.skipped`).

The step strategies (simple, fast, CUDA graphs) are `tasks_lib/adapting/train_steps.py`; the graph state and capture
plumbing `tasks_lib/adapting/train_graphs.py`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Iterator

from tasks_lib.adapting import memory
from tasks_lib.adapting.model import Resident
from tasks_lib.adapting.train_graphs import bucket_length
from tasks_lib.adapting.train_steps import LightMode, TrainStep, make_step
from tasks_lib.arc.augment import apply_task, max_scale, random_augmentation
from tasks_lib.arc.data import Task
from tasks_lib.arc.encoding import IGNORE, Encoded, EncodingError
from tasks_lib.config import TrainConfig

log = logging.getLogger(__name__)
MAX_SKIPS = 16  # consecutive examples skipped for memory after which training stops (stopped_by "oom")


@dataclass
class TrainStats:
    steps: int = 0  # optimizer steps
    seconds: float = 0.0
    tokens: int = 0  # the trained views' own tokens (padding not counted): the model FLOPs are 6 x parameters x tokens
    views: int = 0  # augmented views trained (`steps` x views per step, fewer after a memory fallback)
    padded_tokens: int = 0  # positions the steps computed, padding included (views x longest view, graph buckets included)
    first_loss: float | None = None
    last_loss: float | None = None
    stopped_by: str = "steps"  # steps | deadline | no-data | oom (MAX_SKIPS examples in a row too long for memory)
    step_kind: str = ""  # simple | fast
    compiles: int = 0  # graphs compiled during this call (0 once the slot is warm)
    graphs: bool = False  # the step ran as CUDA graphs (or, after a failed capture, eagerly on their buffers)
    captures: int = 0  # CUDA graphs captured during this call (0 once the slot has seen every bucket)
    build_seconds: float = 0.0  # steps that compiled or captured graphs: the slot's cost, added to the deadline
    oom: list[str] = dataclasses.field(default_factory=list)  # one line per step that ran out of memory: shape, reason, what followed
    skipped: int = 0  # examples not trained because their length ran out of memory even light (`LightMode.skip_from`)

    def to_dict(self) -> dict:
        return asdict(self)


def warm_up(res: Resident, cfg: TrainConfig, lengths: tuple[int, int] = (96, 224)) -> int:
    """Build the fast step's compiled graphs for every batch shape a task's steps take, on synthetic sequences,
    before any task's clock runs, then reset the adapter. Returns the graphs built (0 when the step is not
    compiled or already warm).

    The graphs take the length as symbolic from the first build, but the compiler specialises a dimension of size 1:
    graphs built on one view serve only one-view steps, and graphs built on two serve every step of 2 or more
    views. So the warm-up trains one view of `lengths[0]` tokens when a step can have one view (`one_view_steps`),
    and two views of `lengths[1]` when `cfg.views_per_step` > 1. (Warmed on one view alone, a task of 16 views a
    step recompiled on its first step: 29.5 s of the task's own time on a 2-core CPU with inductor; docs/journal.md.)"""
    step = make_step(res, cfg)
    if step.kind != "fast" or step.forward.backend == "off":
        return 0
    before = res.compiles
    rng = random.Random(0)
    shapes = [(1, lengths[0])] if one_view_steps(cfg, res.cfg.max_tokens) else []  # (views, tokens)
    shapes += [(2, lengths[1])] if cfg.views_per_step > 1 else []
    res.model.train()  # the mode is part of the compiled graphs' guards: warm up as tasks train
    try:
        for views, n in shapes:
            batch = []
            for _ in range(views):
                ids = [res.vocab.bos] + [rng.choice(res.vocab.digits) for _ in range(n - 1)]
                batch.append(Encoded(ids, [IGNORE] + ids[1:]))
            step(batch)
    finally:
        step.close()
        res.model.eval()
        res.reset(0)
    return res.compiles - before


def one_view_steps(cfg: TrainConfig, max_tokens: int) -> bool:
    """Whether a task's step can train a single view: `cfg.views_per_step` is 1, or `cfg.tokens_per_step` is below
    two views of `max_tokens` (graph bucket included) so a long task gets one a step. (After an out-of-memory step
    any count can; a graph built then moves the task's deadline by its time.)"""
    length = bucket_length(max_tokens, cfg.graph_bucket)
    return cfg.views_per_step == 1 or 0 < cfg.tokens_per_step < 2 * length


def encode_view(res: Resident, task: Task, cfg: TrainConfig, max_tokens: int, rng: random.Random) -> Encoded:
    """One training example: a new random augmentation of `task`'s train pairs, encoded (raises `EncodingError`);
    an upscaled view whose first pair does not fit `max_tokens` is used at scale 1."""
    aug = random_augmentation(rng, len(task.train), max_scale=min(cfg.max_scale, max_scale(task)))
    try:
        return res.fmt.train(apply_task(aug, task), max_tokens, cfg.loss_on_first)
    except EncodingError:
        if aug.scale == 1:
            raise
        return res.fmt.train(apply_task(dataclasses.replace(aug, scale=1), task), max_tokens, cfg.loss_on_first)


def task_examples(res: Resident, task: Task, cfg: TrainConfig, max_tokens: int) -> Iterator[Encoded]:
    """Fresh random augmentations of `task`'s train pairs, encoded; ends when the task cannot be encoded."""
    rng = random.Random(f"{cfg.seed}:{task.id}")
    while True:
        try:
            yield encode_view(res, task, cfg, max_tokens, rng)
        except EncodingError:
            return


def train_adapter(res: Resident, task: Task, cfg: TrainConfig, max_tokens: int, deadline: float,
                  latest: float | None = None) -> TrainStats:
    """Train the resident adapter on `task` until `cfg.max_steps` or `deadline` (`latest`: as in `train_loop`)."""
    return train_loop(res, cfg, task_examples(res, task, cfg, max_tokens), cfg.max_steps, deadline, f"task {task.id}", latest)


def rows_per_step(cfg: TrainConfig, light: LightMode, tokens: int, bucket: int) -> int:
    """Views in a step whose first view has `tokens` tokens: `cfg.views_per_step`, fewer where the step's padded
    positions (views x the view's length, rounded up to `bucket`) would pass `cfg.tokens_per_step` or the slot's cap
    after an out-of-memory batch (`LightMode.step_tokens`); one at least."""
    caps = [c for c in (cfg.tokens_per_step, light.step_tokens) if c > 0]
    length = bucket_length(tokens, bucket)
    return max(1, min([cfg.views_per_step] + [c // length for c in caps]))


def _fewer_views(light: LightMode, batch: list[Encoded], length: int, reason: str, what: str, stats: TrainStats) -> None:
    """After an out-of-memory step of several views: cap later steps at half its padded tokens (fewer views a step)."""
    light.step_tokens = max(1, len(batch) * length // 2)
    line = (f"{what}: out of memory in a train step of {len(batch)} views x {length} tokens ({reason}); "
            f"training at most {light.step_tokens} padded tokens ({max(1, light.step_tokens // length)} views of this length) a step from now on")
    log.warning(line)
    stats.oom.append(line)


def _lighten(step: TrainStep, light: LightMode, enc: Encoded, reason: str, what: str, stats: TrainStats) -> Encoded | None:
    """After an out-of-memory step on `enc`: train its length light from now on (returns `enc` to retry), or, when it
    already ran light or the step has no light mode, skip every example at least as long (returns None)."""
    tokens = len(enc.ids)
    if step.kind == "fast" and not light.light(tokens):
        light.light_from = min(light.light_from or tokens, tokens)
        action = f"retrying light (recomputed layers, small cross-entropy chunks) from {light.light_from} tokens on"
    else:
        light.skip_from = min(light.skip_from or tokens, tokens)
        action = f"skipping examples of {light.skip_from} tokens or more"
    line = f"{what}: out of memory in a train step at {tokens} tokens ({reason}); {action}"
    log.warning(line)
    stats.oom.append(line)
    return enc if light.light(tokens) and not light.skips(tokens) else None


def train_loop(res: Resident, cfg: TrainConfig, examples: Iterator[Encoded], max_steps: int, deadline: float, what: str,
               latest: float | None = None) -> TrainStats:
    """Train the resident adapter on `examples`, `rows_per_step` of them a step, until `max_steps`, the deadline,
    or the examples run out (`stopped_by` "no-data"); `what` names the work in errors. A step that built graphs moves
    the deadline by its seconds, never past `latest` (None: no bound)."""
    import torch

    stats = TrainStats()
    if max_steps == 0:
        return stats
    compiles_before = compiles_seen = res.compiles
    step = make_step(res, cfg)
    stats.step_kind = step.kind
    stats.graphs = step.graphs is not None
    captures_before = captured = len(step.graphs.graphs) if step.graphs is not None else 0
    pending: list = []  # device losses not yet read
    res.model.train()
    light = LightMode.of(res)
    again: deque[Encoded] = deque()  # views of a step that ran out of memory, trained again before new ones
    bucket = cfg.graph_bucket if step.graphs is not None else 1  # the graph step pads every view to a multiple of this
    skips = 0  # consecutive examples skipped for memory
    t0 = time.time()
    window_start = t0
    step_time = 0.0

    def read_back() -> None:
        nonlocal window_start, step_time
        if not pending:
            return
        values = torch.stack(pending).tolist()  # the one host sync of a window
        first_step = stats.steps - len(values)
        pending.clear()
        for i, value in enumerate(values):
            if not math.isfinite(value):
                raise FloatingPointError(f"{what}: loss is {value} at step {first_step + i}")
        stats.first_loss = values[0] if stats.first_loss is None else stats.first_loss
        stats.last_loss = values[-1]
        now = time.time()
        step_time = max(step_time * 0.5, (now - window_start) / len(values))  # pessimistic running estimate
        window_start = now

    def next_view() -> Encoded | None:
        """The next view to train (one that ran out of memory first), skipping lengths the slot cannot train."""
        nonlocal skips
        while True:
            enc = again.popleft() if again else next(examples, None)
            if enc is None or not light.skips(len(enc.ids)):
                return enc
            stats.skipped += 1
            skips += 1
            if skips >= MAX_SKIPS:
                return None

    try:
        while stats.steps < max_steps:
            queued = 2 if pending else 1  # unread steps may still be running on the device
            if time.time() + queued * step_time > deadline:
                stats.stopped_by = "deadline"
                break
            first = next_view()
            if first is None:
                stats.stopped_by = "oom" if skips >= MAX_SKIPS else "no-data"
                break
            batch = [first]
            rows = rows_per_step(cfg, light, len(first.ids), bucket)
            while len(batch) < rows and (enc := next_view()) is not None:
                batch.append(enc)
            started = time.time()
            oom = ""
            try:
                loss = step(batch)
            except RuntimeError as err:  # torch.OutOfMemoryError is one; anything else is re-raised
                if not memory.is_oom(err):
                    raise
                oom = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
            if oom:  # outside the except block: its traceback holds the failed step's tensors until then
                memory.free_cached(res.device)
                if len(batch) > 1:
                    _fewer_views(light, batch, bucket_length(max(len(v.ids) for v in batch), bucket), oom, what, stats)
                    again.extendleft(reversed(batch))
                elif (retry := _lighten(step, light, first, oom, what, stats)) is not None:
                    again.appendleft(retry)
                continue
            skips = 0
            pending.append(loss)
            stats.steps += 1
            stats.views += len(batch)
            stats.tokens += sum(len(v.ids) for v in batch)
            stats.padded_tokens += len(batch) * bucket_length(max(len(v.ids) for v in batch), bucket)
            graphs_built = res.compiles != compiles_seen
            if step.graphs is not None and len(step.graphs.graphs) != captured:
                captured = len(step.graphs.graphs)
                graphs_built = True
            if graphs_built:
                compiles_seen = res.compiles
                before = step_time
                read_back()
                # A bucket's capture or a shape's compile is the slot's one-off cost, not this task's: the step-time
                # estimate skips it and the deadline moves by it (the run's budget absorbs it as tasks finish:
                # tasks_lib/running/budget.py).
                step_time = before
                built = time.time() - started
                deadline = deadline + built if latest is None else max(deadline, min(deadline + built, latest))
                stats.build_seconds += built
            elif len(pending) >= cfg.sync_every or step_time == 0.0:
                read_back()
        read_back()
    finally:
        res.model.eval()
        step.close()
    stats.seconds = time.time() - t0
    stats.compiles = res.compiles - compiles_before
    stats.captures = len(step.graphs.graphs) - captures_before if step.graphs is not None else 0
    return stats
