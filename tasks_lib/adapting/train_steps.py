"""Training steps: one optimizer update of the resident adapter per call, on a batch of encoded views, in three
strategies behind one interface (`TrainStep`), picked by `make_step(res, cfg)`: `EagerStep` without or with
`FastForward` (simple, fast) and `GraphStep`.

Every strategy: `step(batch)` does forward, backward, clipping (`GRAD_CLIP`), AdamW and the learning-rate warm-up on
a batch (one `Encoded` or a sequence of them: B views, right-padded to the longest with the pad token and IGNORE
labels, which under causal attention leaves every view's loss and gradients those of the view alone) and returns the
loss, the mean cross-entropy over every labelled position of the batch, as a detached device tensor (the caller
decides when to sync with the host); `step.loss(batch)` is the loss with its graph, for checks; `close()` frees what
the step holds. A step is built per task (a fresh optimizer) and reuses the slot's compiled parts and graph state.
`kind` is `simple` or `fast`; `graphs` is the slot's `StepGraphs` for the graph step, else None. The strategies
compute the same arithmetic:

- simple (`cfg.step: simple`, the default off CUDA, and every model the fast step does not cover): the PEFT
  model's decoder with logits only at labelled positions (`output_loss`), or with `reference=True` plain PEFT +
  transformers (`reference_loss`: full logits, the HF loss), the baseline of the tests and `benchmarks/train_step.py`.
- fast (`cfg.step: fast`, the default on CUDA): `FastForward`, our own loop over the decoder layers, each layer call and
  the loss head (or, with `compile_scope: model`, the whole forward and loss as one graph) compiled once per slot
  (`Resident.compiled`; the adapter reset is in place, so nothing recompiles), LoRA matmuls in the base dtype with
  fp32 master weights, chunked cross-entropy and layers recomputed in backward for long sequences when asked,
  inputs uploaded without a host sync.
- `GraphStep` (the fast forward with `cfg.cuda_graphs` on; auto: on for CUDA, whose replay, reset and tolerance checks
  passed on an H100, benchmarks/results/train_step.md, Run 4): the whole step replayed as one CUDA graph per length
  bucket (`tasks_lib.adapting.train_graphs`): the sequence is padded at the end to a multiple of `cfg.graph_bucket` with
  IGNORE labels, which under causal attention leaves the loss and gradients those of the unpadded sequence; the
  learning rate is a device tensor set per step as the warm-up schedule gives it. Buckets that recompute in backward
  (checkpointed layers or chunked cross-entropy) run the same body eagerly on the static buffers.

Light mode (`LightMode`, per slot): a batch of several views that ran out of memory caps the padded tokens of later
steps (fewer views per step); a single view's length that ran out trains with every layer recomputed and the
cross-entropy in `LIGHT_CE_CHUNK` chunks, eagerly (fast and graph steps); `tasks_lib.adapting.train.train_loop` decides.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence

from tasks_lib.adapting.families import fast_path_blocker
from tasks_lib.adapting.model import Resident
from tasks_lib.adapting.train_graphs import GRAD_CLIP, StepGraphs, bucket_length
from tasks_lib.arc.encoding import IGNORE, Encoded, EncodingError
from tasks_lib.arc.positions import from_config
from tasks_lib.config import TrainConfig


log = logging.getLogger(__name__)

LIGHT_CE_CHUNK = 512  # light mode: labelled positions per cross-entropy chunk (a 152k vocabulary: 0.3 GB of fp32 logits each)


@dataclass
class LightMode:
    """The slot's record of the training lengths that ran out of memory, kept in `res.slot_state` for the slot's life
    (`LightMode.of(res)`), so later tasks do not run out at those lengths again. `tasks_lib.adapting.train.train_loop` sets it."""

    light_from: int = 0  # sequences at least this long (0: none) run light: every layer recomputed in backward, the
    # cross-entropy in LIGHT_CE_CHUNK chunks, no CUDA graph (the fast step; the simple step has no light mode)
    skip_from: int = 0  # sequences at least this long (0: none) are skipped: they ran out of memory in light mode too
    step_tokens: int = 0  # a step of several views holds at most this many padded tokens (0: no cap); set when a batch
    # of several views ran out of memory, halving it, so later steps train fewer views at once (one view at least)

    def light(self, tokens: int) -> bool:
        return 0 < self.light_from <= tokens

    def skips(self, tokens: int) -> bool:
        return 0 < self.skip_from <= tokens

    @classmethod
    def of(cls, res: Resident) -> "LightMode":
        if res.slot_state.train_light is None:
            res.slot_state.train_light = cls()
        return res.slot_state.train_light


Batch = Encoded | Sequence[Encoded]  # what a step trains on: one view, or several in one update


def as_views(batch: Batch) -> list[Encoded]:
    return [batch] if isinstance(batch, Encoded) else list(batch)


def pack(views: Sequence[Encoded], length: int, pad: int) -> tuple[list[int], list[int]]:
    """Row-major (B, length) token ids and next-token targets of `views`, each right-padded to `length`:
    targets[b, t] is the label of token t+1 of view b, IGNORE past its end (causal attention: padding after a view
    changes none of its positions). Raises `EncodingError` when no position of the batch is labelled."""
    ids: list[int] = []
    targets: list[int] = []
    for v in views:
        n = len(v.ids)
        ids += v.ids + [pad] * (length - n)
        targets += v.labels[1:] + [IGNORE] * (length - n + 1)
    if all(t == IGNORE for t in targets):
        raise EncodingError("a training batch needs at least one labelled position")
    return ids, targets


def output_loss(res: Resident, ids, labels):
    """Mean cross-entropy over labelled positions, computing logits only where a label exists.

    ids, labels: (B, T) long tensors on the model's device."""
    import torch
    import torch.nn.functional as F

    causal = res.model.get_base_model()  # the HF model with LoRA layers injected
    hidden = causal.get_decoder()(input_ids=ids).last_hidden_state  # (B, T, H)
    targets = labels[:, 1:]  # (B, T-1): token t+1 is predicted from position t
    mask = targets != IGNORE  # (B, T-1)
    picked = hidden[:, :-1][mask]  # (N, H)
    logits = causal.get_output_embeddings()(picked).float()  # (N, V)
    cap = getattr(causal.config, "final_logit_softcapping", None)
    if cap is not None:  # Gemma-2 style: the model's own forward soft-caps its logits
        logits = torch.tanh(logits / cap) * cap
    return F.cross_entropy(logits, targets[mask])


def reference_loss(res: Resident, ids, labels):
    """Plain PEFT + transformers: logits at every position and the model's own loss. ids, labels: (B, T)."""
    return res.model(input_ids=ids, labels=labels).loss


def _layer_call(layer: Any, hidden, cos, sin):
    """One decoder layer, causal attention without a mask tensor. hidden: (B, T, H); cos, sin: (B, T, D)."""
    return layer(hidden, attention_mask=None, position_embeddings=(cos, sin))  # (B, T, H)


def _layer_call_checkpointed(layer: Any, hidden, cos, sin):
    """`_layer_call` whose activations are recomputed in backward instead of kept."""
    from torch.utils.checkpoint import checkpoint

    return checkpoint(_layer_call, layer, hidden, cos, sin, use_reentrant=False)  # (B, T, H)


def _head_loss(norm: Any, head: Any, hidden, targets):
    """Summed cross-entropy of the picked positions (IGNORE targets skipped). hidden: (N, H); targets: (N,)."""
    import torch.nn.functional as F

    logits = head(norm(hidden)).float()  # (N, V)
    return F.cross_entropy(logits, targets, ignore_index=IGNORE, reduction="sum")


def _head_loss_checkpointed(norm: Any, head: Any, hidden, targets):
    """`_head_loss` with its logits recomputed in backward (one chunk of a long target)."""
    from torch.utils.checkpoint import checkpoint

    return checkpoint(_head_loss, norm, head, hidden, targets, use_reentrant=False)


def _forward_loss(decoder: Any, head: Any, ids, where, wanted, recompute: bool):
    """Embedding, every decoder layer, final norm, head and summed cross-entropy at the picked positions:
    the whole fast forward as one function, so it compiles to one graph. ids: (B, T); where: (N,) row-major
    positions into (B, T); wanted: (N,)."""
    hidden = decoder.embed_tokens(ids)  # (B, T, H)
    scheme = from_config(decoder.config)
    cos, sin = scheme.rope(decoder, hidden, scheme.of_ids(ids))  # (B, T, D) each: positions (A, B, T) of the model's scheme
    layer_fn = _layer_call_checkpointed if recompute else _layer_call
    for layer in decoder.layers[: decoder.config.num_hidden_layers]:
        hidden = layer_fn(layer, hidden, cos, sin)  # (B, T, H)
    picked = hidden.flatten(0, 1).index_select(0, where)  # (N, H)
    return _head_loss(decoder.norm, head, picked, wanted)


def fast_supported(res: Resident) -> bool:
    """True when the fast step computes exactly what the model's own forward does (`tasks_lib.adapting.families`). When it
    does not, one line naming the reason is logged, once per resident model."""
    reason = fast_path_blocker(res.model.get_base_model().config)
    if reason is not None and res.slot_state.fast_step_blocker is None:
        res.slot_state.fast_step_blocker = reason
        log.warning("fast train step not supported, using the simple step: %s", reason)
    return reason is None


class TrainStep(Protocol):
    """What the training loop needs of a step (module doc)."""

    kind: str
    graphs: StepGraphs | None
    params: list

    def __call__(self, batch: Batch) -> Any: ...

    def loss(self, batch: Batch) -> Any: ...

    def close(self) -> None: ...


class FastForward:
    """The fast step's forward and loss, with the slot's compiled parts, under the step's autocast."""

    def __init__(self, res: Resident, cfg: TrainConfig):
        import torch

        self.res, self.cfg = res, cfg
        self.cuda = res.device.startswith("cuda")
        self.backend = "inductor" if cfg.compile == "auto" and self.cuda else ("off" if cfg.compile == "auto" else cfg.compile)
        base_dtype = res.model.get_base_model().dtype
        half = base_dtype in (torch.bfloat16, torch.float16)
        if cfg.adapter_autocast == "off" or not (half or cfg.adapter_autocast == "on"):
            self.autocast_dtype = None
        else:
            self.autocast_dtype = base_dtype if half else torch.bfloat16
        # Under autocast, PEFT's cast of each LoRA layer's input to its fp32 weights is undone by the matmul's cast back
        # (bf16 -> fp32 -> bf16, exact): the step turns it off (`cfg.lora_input_casts`) and computes the same numbers
        # without the copies.
        from peft.tuners.tuners_utils import BaseTunerLayer

        skip = self.autocast_dtype is not None and cfg.lora_input_casts == "skip"
        self._lora_layers = [m for m in res.model.modules() if isinstance(m, BaseTunerLayer)] if skip else []

    @property
    def key(self) -> tuple:
        """What the slot's graph state depends on: a new key builds a new one."""
        cfg = self.cfg
        return (self.backend, self.autocast_dtype, cfg.compile_scope, cfg.ce_chunk, cfg.checkpoint_min_tokens, cfg.weight_decay,
                cfg.lora_input_casts)

    def _upload(self, values: list[int]):
        return _upload(self.res, values)

    @contextlib.contextmanager
    def _autocast(self, device_type: str) -> Iterator[None]:
        """The step's autocast (none when `autocast_dtype` is None), with the LoRA layers' input casts off inside it."""
        import torch

        if self.autocast_dtype is None:
            yield
            return
        before = [getattr(layer, "cast_input_dtype_enabled", True) for layer in self._lora_layers]
        for layer in self._lora_layers:
            layer.cast_input_dtype_enabled = False
        try:
            with torch.autocast(device_type=device_type, dtype=self.autocast_dtype):
                yield
        finally:
            for layer, value in zip(self._lora_layers, before):
                layer.cast_input_dtype_enabled = value

    def _part(self, name: str, fn: Any) -> Any:
        return fn if self.backend == "off" else self.res.compiled(name, fn, self.backend)

    def _forward_sum(self, ids, where, wanted):
        """Summed cross-entropy at row-major positions `where` of (B, T) (None: every position) with targets `wanted`
        (IGNORE skipped), under the fast step's autocast and compiled parts. ids: (B, T); where: (N,) or None;
        wanted: (N,). Light mode and recomputation go by the batch's positions, B x T (its activations' size)."""
        import torch

        n = wanted.shape[0]
        causal = self.res.model.get_base_model()
        decoder = causal.get_decoder()
        light = LightMode.of(self.res).light(ids.numel())
        recompute = light or 0 < self.cfg.checkpoint_min_tokens <= ids.numel()
        layer_fn = self._part("layer_ckpt", _layer_call_checkpointed) if recompute else self._part("layer", _layer_call)
        chunk = self.cfg.ce_chunk if 0 < self.cfg.ce_chunk < n else n
        chunk = min(chunk, LIGHT_CE_CHUNK) if light else chunk
        head_fn = self._part("head_ckpt", _head_loss_checkpointed) if chunk < n else self._part("head", _head_loss)
        autocast = self._autocast(ids.device.type)
        if self.cfg.compile_scope == "model" and self.backend != "off" and chunk == n:
            where = torch.arange(n, device=ids.device) if where is None else where  # (N,)
            with autocast:
                return self._part("model", _forward_loss)(decoder, causal.get_output_embeddings(), ids, where, wanted, recompute)
        with autocast:
            hidden = decoder.embed_tokens(ids)  # (B, T, H)
            scheme = from_config(decoder.config)
            cos, sin = scheme.rope(decoder, hidden, scheme.of_ids(ids))  # (B, T, D) each: positions (A, B, T) of the model's scheme
            for layer in decoder.layers[: causal.config.num_hidden_layers]:
                hidden = layer_fn(layer, hidden, cos, sin)  # (B, T, H)
            flat = hidden.flatten(0, 1)  # (B*T, H)
            picked = flat if where is None else flat.index_select(0, where)  # (N, H)
            return sum(
                head_fn(decoder.norm, causal.get_output_embeddings(), picked[s : s + chunk], wanted[s : s + chunk]) for s in range(0, n, chunk)
            )

    def loss(self, batch: Batch):
        """Mean cross-entropy over the labelled positions of a batch of views (a device tensor with a graph)."""
        views = as_views(batch)
        length = max(len(v.ids) for v in views)
        ids, targets = pack(views, length, self.res.vocab.pad)  # B*T each
        pick = [i for i, t in enumerate(targets) if t != IGNORE]
        where = self._upload(pick)  # (N,)
        wanted = self._upload([targets[i] for i in pick])  # (N,)
        return self._forward_sum(self._upload(ids).view(len(views), length), where, wanted) / len(pick)  # ids (B, T)

    def static_loss(self, ids, targets):
        """The graph step's loss: mean cross-entropy over the non-IGNORE targets of padded views, with the head on
        every position. ids: (B, L); targets: (B*L,) row-major, the label of token t+1 of each row or IGNORE."""
        return self._forward_sum(ids, None, targets) / (targets != IGNORE).sum()


def _upload(res: Resident, values: list[int]):
    """A (len,) long tensor on the device; from pinned memory without a host sync on CUDA."""
    import torch

    t = torch.tensor(values, dtype=torch.long)  # (L,)
    if res.device.startswith("cuda"):
        return t.pin_memory().to(res.device, non_blocking=True)
    return t.to(res.device)


class EagerStep:
    """An eager update: AdamW (fused when `cfg.fused_adamw` says so) with a linear learning-rate warm-up on the loss
    of the PEFT model's decoder (`kind` simple; `reference=True`: plain PEFT + transformers) or of `forward`
    (`kind` fast)."""

    graphs = None

    def __init__(self, res: Resident, cfg: TrainConfig, forward: FastForward | None = None, reference: bool = False):
        import torch

        self.res, self.cfg, self.forward, self.reference = res, cfg, forward, reference
        self.kind = "simple" if forward is None else "fast"
        self.params = res.trainable_parameters()
        fused = cfg.fused_adamw == "on" or (cfg.fused_adamw == "auto" and res.device.startswith("cuda"))
        self.opt = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True if fused else None)
        warm = max(1, cfg.warmup_steps)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / warm))

    def loss(self, batch: Batch):
        if self.forward is not None:
            return self.forward.loss(batch)
        views = as_views(batch)
        length = max(len(v.ids) for v in views)
        ids, _ = pack(views, length, self.res.vocab.pad)  # B*T
        labels = [t for v in views for t in v.labels + [IGNORE] * (length - len(v.ids))]  # B*T
        ids_t = _upload(self.res, ids).view(len(views), length)  # (B, T)
        labels_t = _upload(self.res, labels).view(len(views), length)  # (B, T)
        return reference_loss(self.res, ids_t, labels_t) if self.reference else output_loss(self.res, ids_t, labels_t)

    def __call__(self, batch: Batch):
        """Forward, backward, clip, AdamW and schedule; returns the detached loss without reading it."""
        import torch

        loss = self.loss(batch)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, GRAD_CLIP)
        self.opt.step()
        self.sched.step()
        return loss.detach()

    def close(self) -> None:
        """Free the gradients."""
        self.opt.zero_grad(set_to_none=True)


class GraphStep:
    """`FastForward` on the slot's static buffers, the whole update replayed as one CUDA graph per length bucket."""

    kind = "fast"

    def __init__(self, res: Resident, cfg: TrainConfig, graphs: StepGraphs, forward: FastForward):
        self.res, self.cfg, self.graphs, self.forward = res, cfg, graphs, forward
        self.cuda = forward.cuda
        self.params = res.trainable_parameters()
        graphs.reset()  # a fresh optimizer for this task, in place
        graphs.attach_grads()
        self.opt = graphs.opt
        self.count = 0  # updates made by this step: the learning-rate warm-up

    def loss(self, batch: Batch):
        return self.forward.loss(batch)

    def static_loss(self, ids, targets):
        """The graph step's loss (`FastForward.static_loss`). ids: (B, L); targets: (B*L,)."""
        return self.forward.static_loss(ids, targets)

    def bucket(self, tokens: int) -> int:
        return bucket_length(tokens, self.cfg.graph_bucket)

    def shape(self, batch: Batch) -> tuple[int, int]:
        """The static shape `batch` runs in: (views, the longest view rounded up to its length bucket)."""
        views = as_views(batch)
        return len(views), self.bucket(max(len(v.ids) for v in views))

    def capturable_at(self, shape: tuple[int, int]) -> bool:
        """False where the step recomputes in backward (checkpointed layers or CE chunks save and restore the RNG
        state, which a capture does not allow), and where the slot trains light (`LightMode`): such shapes run the
        graph step's body eagerly. Both go by the shape's positions, views x length."""
        tokens = shape[0] * shape[1]
        light = LightMode.of(self.res).light(tokens)
        return not (light or 0 < self.cfg.checkpoint_min_tokens <= tokens or 0 < self.cfg.ce_chunk < tokens)

    def _graph_call(self, batch: Batch, lr: float) -> tuple[int, int]:
        """Load the padded buffer, set lr, replay the shape's graph (or run its body eagerly); returns the shape."""
        graphs = self.graphs
        assert graphs is not None
        shape = self.shape(batch)
        graphs.load(shape, pack(as_views(batch), shape[1], self.res.vocab.pad), self.cuda)
        graphs.set_lr(lr)
        graphs.run(self, shape)
        return shape

    def probe(self, batch: Batch) -> tuple[Any, list]:
        """Graph step only: one pass with lr 0 (weights unchanged, the optimizer's step count advances), returning
        the loss and the gradients before clipping (device tensors), to check the graph against other steps."""
        import torch

        assert self.graphs is not None
        shape = self._graph_call(batch, 0.0)
        scale = torch.clamp((self.graphs.norms[shape] + 1e-6) / GRAD_CLIP, min=1.0)  # undoes clip_grad_norm_
        return self.graphs.losses[shape].clone(), [g * scale for g in self.graphs.grads]

    def __call__(self, batch: Batch):
        """Load, set the warm-up's learning rate, replay; returns the detached loss without reading it."""
        shape = self._graph_call(batch, self.cfg.lr * min(1.0, (self.count + 1) / max(1, self.cfg.warmup_steps)))  # as LambdaLR
        self.count += 1
        return self.graphs.losses[shape].clone()

    def close(self) -> None:
        """Nothing to free: the graphs write the slot's static gradients."""


def make_step(res: Resident, cfg: TrainConfig, reference: bool = False) -> TrainStep:
    """The strategy `cfg` asks for on this slot (module doc); `reference=True` is the plain PEFT baseline, whatever
    `cfg.step` says. A graph state that cannot be built (e.g. no capturable fused AdamW in this torch) is logged
    once per slot, which then uses the fast step."""
    cuda = res.device.startswith("cuda")
    want_fast = cfg.step == "fast" or (cfg.step == "auto" and cuda)
    if reference or not want_fast or not fast_supported(res):  # fast_supported logs why a model it refuses falls back
        return EagerStep(res, cfg, reference=reference)
    forward = FastForward(res, cfg)
    use_graphs = cfg.cuda_graphs == "on" or (cfg.cuda_graphs == "auto" and cuda)
    if use_graphs and res.slot_state.step_graphs_error is None:
        try:
            graphs = StepGraphs.for_slot(res, forward.key, cfg.weight_decay, capturable=cuda)
        except Exception as err:  # e.g. no capturable fused AdamW in this torch: the fast step without graphs
            res.slot_state.step_graphs_error = f"{type(err).__name__}: {str(err)[:300]}"
            log.warning("CUDA-graph training step unavailable, using the fast step: %s", res.slot_state.step_graphs_error)
        else:
            return GraphStep(res, cfg, graphs, forward)
    return EagerStep(res, cfg, forward)
