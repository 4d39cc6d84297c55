"""Test-time training of the LoRA adapter on one task.

Contract: `train_adapter(res, task, cfg, max_tokens, deadline)` resets nothing by itself (the caller
resets the adapter), builds a fresh AdamW over the adapter's parameters, and trains at batch size 1 on
a new random augmentation of the task's train pairs each step, with the loss on output tokens only.
It stops at `cfg.max_steps` or before a step would end past `deadline` (a `time.time()` value),
whichever comes first, and returns `TrainStats`. Only adapter weights change.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass

from tasks_lib.augment import apply_task, random_augmentation
from tasks_lib.config import TrainConfig
from tasks_lib.data import Task
from tasks_lib.encoding import IGNORE, EncodingError, encode_train
from tasks_lib.model import Resident


@dataclass
class TrainStats:
    steps: int = 0
    seconds: float = 0.0
    tokens: int = 0
    first_loss: float | None = None
    last_loss: float | None = None
    stopped_by: str = "steps"  # steps | deadline | no-data

    def to_dict(self) -> dict:
        return asdict(self)


def output_loss(res: Resident, ids, labels):
    """Mean cross-entropy over labelled positions, computing logits only where a label exists.

    ids, labels: (1, T) long tensors on the model's device."""
    import torch.nn.functional as F

    causal = res.model.get_base_model()  # the HF model with LoRA layers injected
    hidden = causal.get_decoder()(input_ids=ids).last_hidden_state  # (1, T, H)
    targets = labels[:, 1:]  # (1, T-1): token t+1 is predicted from position t
    mask = targets != IGNORE  # (1, T-1)
    picked = hidden[:, :-1][mask]  # (N, H)
    logits = causal.get_output_embeddings()(picked).float()  # (N, V)
    return F.cross_entropy(logits, targets[mask])


def train_adapter(res: Resident, task: Task, cfg: TrainConfig, max_tokens: int, deadline: float) -> TrainStats:
    """Train the resident adapter on `task` until `cfg.max_steps` or `deadline`."""
    import torch

    stats = TrainStats()
    if cfg.max_steps == 0:
        return stats
    params = res.trainable_parameters()
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(1, cfg.warmup_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    rng = random.Random(f"{cfg.seed}:{task.id}")
    res.model.train()
    t0 = time.time()
    step_time = 0.0
    try:
        while stats.steps < cfg.max_steps:
            if time.time() + step_time > deadline:
                stats.stopped_by = "deadline"
                break
            aug = random_augmentation(rng, len(task.train))
            try:
                enc = encode_train(res.vocab, apply_task(aug, task), max_tokens, cfg.loss_on_first)
            except EncodingError:
                stats.stopped_by = "no-data"
                break
            ts = time.time()
            ids = torch.tensor([enc.ids], device=res.device)  # (1, T)
            labels = torch.tensor([enc.labels], device=res.device)  # (1, T)
            loss = output_loss(res, ids, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            value = float(loss.detach())  # one host sync per step
            if not math.isfinite(value):
                raise FloatingPointError(f"task {task.id}: loss is {value} at step {stats.steps}")
            stats.first_loss = value if stats.first_loss is None else stats.first_loss
            stats.last_loss = value
            stats.steps += 1
            stats.tokens += len(enc.ids)
            step_time = max(step_time * 0.5, time.time() - ts)  # pessimistic running estimate
    finally:
        res.model.eval()
        opt.zero_grad(set_to_none=True)
    stats.seconds = time.time() - t0
    return stats
