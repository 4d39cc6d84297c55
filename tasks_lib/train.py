"""Test-time training of the LoRA adapter on one task.

Contract: `train_adapter(res, task, cfg, max_tokens, deadline)` resets nothing by itself (the caller
resets the adapter), builds a fresh AdamW over the adapter's parameters, and trains at batch size 1 on
a new random augmentation of the task's train pairs each step, with the loss on output tokens only.
It stops at `cfg.max_steps` or before a step would end past `deadline` (a `time.time()` value),
whichever comes first, and returns `TrainStats`. Only adapter weights change.

The step: `Step(res, cfg)` (one per task: a fresh optimizer) does one update per call on one encoded
sequence and returns the loss as a device tensor, so the caller decides when to sync with the host
(every `cfg.sync_every` steps). Two forms of the same arithmetic, picked by `cfg.step`:
- simple: the PEFT model's decoder, logits only at labelled positions (`output_loss`);
- fast (the default on CUDA): our own loop over the decoder layers, each layer call and the loss head
  (or, with `compile_scope: model`, the whole forward and loss as one graph) compiled once per slot
  (`Resident.compiled`; the adapter reset is in place, so nothing recompiles), LoRA matmuls in the base dtype with fp32 master weights, chunked cross-entropy when asked, layers
  recomputed in backward for long sequences when asked, inputs uploaded without a host sync.
`reference_loss` is plain PEFT + transformers (full logits, the HF loss): the baseline of the tests
and of `benchmarks/train_step.py`.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from tasks_lib.augment import apply_task, random_augmentation
from tasks_lib.config import TrainConfig
from tasks_lib.data import Task
from tasks_lib.encoding import IGNORE, Encoded, EncodingError, encode_train
from tasks_lib.model import Resident

FAST_ARCHITECTURES = ("llama", "qwen2", "qwen3")  # decoders whose forward is exactly embed -> layers -> norm -> head
GRAD_CLIP = 1.0


@dataclass
class TrainStats:
    steps: int = 0
    seconds: float = 0.0
    tokens: int = 0
    first_loss: float | None = None
    last_loss: float | None = None
    stopped_by: str = "steps"  # steps | deadline | no-data
    step_kind: str = ""  # simple | fast
    compiles: int = 0  # graphs compiled during this call (0 once the slot is warm)

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


def reference_loss(res: Resident, ids, labels):
    """Plain PEFT + transformers: logits at every position and the model's own loss. ids, labels: (1, T)."""
    return res.model(input_ids=ids, labels=labels).loss


def _layer_call(layer: Any, hidden, cos, sin):
    """One decoder layer, causal attention without a mask tensor. hidden: (1, T, H); cos, sin: (1, T, D)."""
    return layer(hidden, attention_mask=None, position_embeddings=(cos, sin))  # (1, T, H)


def _layer_call_checkpointed(layer: Any, hidden, cos, sin):
    """`_layer_call` whose activations are recomputed in backward instead of kept."""
    from torch.utils.checkpoint import checkpoint

    return checkpoint(_layer_call, layer, hidden, cos, sin, use_reentrant=False)  # (1, T, H)


def _head_loss(norm: Any, head: Any, hidden, targets):
    """Summed cross-entropy of the picked positions. hidden: (N, H); targets: (N,)."""
    import torch.nn.functional as F

    logits = head(norm(hidden)).float()  # (N, V)
    return F.cross_entropy(logits, targets, reduction="sum")


def _head_loss_checkpointed(norm: Any, head: Any, hidden, targets):
    """`_head_loss` with its logits recomputed in backward (one chunk of a long target)."""
    from torch.utils.checkpoint import checkpoint

    return checkpoint(_head_loss, norm, head, hidden, targets, use_reentrant=False)


def _forward_loss(decoder: Any, head: Any, ids, where, wanted, recompute: bool):
    """Embedding, every decoder layer, final norm, head and summed cross-entropy at the picked positions:
    the whole fast forward as one function, so it compiles to one graph. ids: (1, T); where, wanted: (N,)."""
    import torch

    hidden = decoder.embed_tokens(ids)  # (1, T, H)
    positions = torch.arange(ids.shape[1], device=ids.device)[None]  # (1, T)
    cos, sin = decoder.rotary_emb(hidden, positions)  # (1, T, D) each
    layer_fn = _layer_call_checkpointed if recompute else _layer_call
    for layer in decoder.layers[: decoder.config.num_hidden_layers]:
        hidden = layer_fn(layer, hidden, cos, sin)  # (1, T, H)
    picked = hidden[0].index_select(0, where)  # (N, H)
    return _head_loss(decoder.norm, head, picked, wanted)


def fast_supported(res: Resident) -> bool:
    """True when the fast step computes exactly what the model's own forward does."""
    config = res.model.get_base_model().config
    full = all(kind == "full_attention" for kind in getattr(config, "layer_types", None) or ["full_attention"])
    return config.model_type in FAST_ARCHITECTURES and full and not getattr(config, "use_sliding_window", False)


class Step:
    """One optimizer update at batch size 1 per call; built per task (fresh AdamW), reusing the slot's compiled parts."""

    def __init__(self, res: Resident, cfg: TrainConfig, reference: bool = False):
        """`reference=True` uses `reference_loss` (the baseline), whatever `cfg.step` says."""
        import torch

        self.res, self.cfg, self.reference = res, cfg, reference
        self.cuda = res.device.startswith("cuda")
        self.params = res.trainable_parameters()
        fused = cfg.fused_adamw == "on" or (cfg.fused_adamw == "auto" and self.cuda)
        self.opt = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True if fused else None)
        warm = max(1, cfg.warmup_steps)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / warm))
        want_fast = cfg.step == "fast" or (cfg.step == "auto" and self.cuda)
        self.kind = "fast" if want_fast and not reference and fast_supported(res) else "simple"
        self.backend = "inductor" if cfg.compile == "auto" and self.cuda else ("off" if cfg.compile == "auto" else cfg.compile)
        base_dtype = res.model.get_base_model().dtype
        half = base_dtype in (torch.bfloat16, torch.float16)
        if self.kind != "fast" or cfg.adapter_autocast == "off" or not (half or cfg.adapter_autocast == "on"):
            self.autocast_dtype = None
        else:
            self.autocast_dtype = base_dtype if half else torch.bfloat16

    def _upload(self, values: list[int]):
        """A (len,) long tensor on the device; from pinned memory without a host sync on CUDA."""
        import torch

        t = torch.tensor(values, dtype=torch.long)  # (L,)
        if self.cuda:
            return t.pin_memory().to(self.res.device, non_blocking=True)
        return t.to(self.res.device)

    def _part(self, name: str, fn: Any) -> Any:
        return fn if self.backend == "off" else self.res.compiled(name, fn, self.backend)

    def _fast_loss(self, enc: Encoded):
        import torch

        targets = enc.labels[1:]  # token t+1 is predicted from position t
        pick = [i for i, t in enumerate(targets) if t != IGNORE]
        if not pick:
            raise EncodingError("a training sequence needs at least one labelled position")
        ids = self._upload(enc.ids)[None]  # (1, T)
        where = self._upload(pick)  # (N,)
        wanted = self._upload([targets[i] for i in pick])  # (N,)
        causal = self.res.model.get_base_model()
        decoder = causal.get_decoder()
        recompute = 0 < self.cfg.checkpoint_min_tokens <= len(enc.ids)
        layer_fn = self._part("layer_ckpt", _layer_call_checkpointed) if recompute else self._part("layer", _layer_call)
        chunk = self.cfg.ce_chunk if 0 < self.cfg.ce_chunk < len(pick) else len(pick)
        head_fn = self._part("head_ckpt", _head_loss_checkpointed) if chunk < len(pick) else self._part("head", _head_loss)
        autocast = (
            torch.autocast(device_type=ids.device.type, dtype=self.autocast_dtype) if self.autocast_dtype else contextlib.nullcontext()
        )
        if self.cfg.compile_scope == "model" and self.backend != "off" and chunk == len(pick):
            with autocast:
                total = self._part("model", _forward_loss)(decoder, causal.get_output_embeddings(), ids, where, wanted, recompute)
            return total / len(pick)
        with autocast:
            hidden = decoder.embed_tokens(ids)  # (1, T, H)
            positions = torch.arange(ids.shape[1], device=ids.device)[None]  # (1, T)
            cos, sin = decoder.rotary_emb(hidden, positions)  # (1, T, D) each
            for layer in decoder.layers[: causal.config.num_hidden_layers]:
                hidden = layer_fn(layer, hidden, cos, sin)  # (1, T, H)
            picked = hidden[0].index_select(0, where)  # (N, H)
            total = sum(
                head_fn(decoder.norm, causal.get_output_embeddings(), picked[s : s + chunk], wanted[s : s + chunk])
                for s in range(0, len(pick), chunk)
            )
        return total / len(pick)

    def loss(self, enc: Encoded):
        """The scalar training loss of one sequence (a device tensor with a graph for backward)."""
        if self.kind == "fast":
            return self._fast_loss(enc)
        ids = self._upload(enc.ids)[None]  # (1, T)
        labels = self._upload(enc.labels)[None]  # (1, T)
        return reference_loss(self.res, ids, labels) if self.reference else output_loss(self.res, ids, labels)

    def __call__(self, enc: Encoded):
        """Forward, backward, clip, AdamW and schedule; returns the detached loss without reading it."""
        import torch

        loss = self.loss(enc)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, GRAD_CLIP)
        self.opt.step()
        self.sched.step()
        return loss.detach()

    def close(self) -> None:
        self.opt.zero_grad(set_to_none=True)


def warm_up(res: Resident, cfg: TrainConfig, lengths: tuple[int, ...] = (96, 224)) -> int:
    """Build the fast step's compiled graphs on synthetic sequences before any task's clock runs, then
    reset the adapter. Returns the graphs built (0 when the step is not compiled or already warm)."""
    step = Step(res, cfg)
    if step.kind != "fast" or step.backend == "off":
        return 0
    before = res.compiles
    rng = random.Random(0)
    res.model.train()  # the mode is part of the compiled graphs' guards: warm up as tasks train
    try:
        for n in lengths:  # two lengths: the second makes the graphs dynamic in the sequence length
            ids = [res.vocab.bos] + [rng.choice(res.vocab.digits) for _ in range(n - 1)]
            step(Encoded(ids, [IGNORE] + ids[1:]))
    finally:
        step.close()
        res.model.eval()
        res.reset(0)
    return res.compiles - before


def train_adapter(res: Resident, task: Task, cfg: TrainConfig, max_tokens: int, deadline: float) -> TrainStats:
    """Train the resident adapter on `task` until `cfg.max_steps` or `deadline`."""
    import torch

    stats = TrainStats()
    if cfg.max_steps == 0:
        return stats
    compiles_before = res.compiles
    step = Step(res, cfg)
    stats.step_kind = step.kind
    rng = random.Random(f"{cfg.seed}:{task.id}")
    pending: list = []  # device losses not yet read
    res.model.train()
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
                raise FloatingPointError(f"task {task.id}: loss is {value} at step {first_step + i}")
        stats.first_loss = values[0] if stats.first_loss is None else stats.first_loss
        stats.last_loss = values[-1]
        now = time.time()
        step_time = max(step_time * 0.5, (now - window_start) / len(values))  # pessimistic running estimate
        window_start = now

    try:
        while stats.steps < cfg.max_steps:
            queued = 2 if pending else 1  # unread steps may still be running on the device
            if time.time() + queued * step_time > deadline:
                stats.stopped_by = "deadline"
                break
            aug = random_augmentation(rng, len(task.train))
            try:
                enc = encode_train(res.vocab, apply_task(aug, task), max_tokens, cfg.loss_on_first)
            except EncodingError:
                stats.stopped_by = "no-data"
                break
            pending.append(step(enc))
            stats.steps += 1
            stats.tokens += len(enc.ids)
            if len(pending) >= cfg.sync_every or step_time == 0.0:
                read_back()
        read_back()
    finally:
        res.model.eval()
        step.close()
    stats.seconds = time.time() - t0
    stats.compiles = res.compiles - compiles_before
    return stats
