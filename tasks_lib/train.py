"""Test-time training of the LoRA adapter on one task.

Contract: `train_adapter(res, task, cfg, max_tokens, deadline)` resets nothing by itself (the caller
resets the adapter), starts a fresh AdamW over the adapter's parameters (a new one, or with CUDA graphs the
slot's one with its state zeroed in place), and trains at batch size 1 on
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
  With `cfg.cuda_graphs` on (auto, the default: on with the fast step on CUDA, whose replay, reset and tolerance
  checks passed on an H100, benchmarks/results/train_step.md, Run 4), the whole step (grad zeroing, forward, loss,
  backward, clipping, a capturable fused AdamW whose learning rate is a device tensor) is replayed as one CUDA
  graph per length bucket: the sequence is padded at the end to a multiple of `cfg.graph_bucket` with IGNORE
  labels, which under causal attention leaves the loss and gradients those of the unpadded sequence. Graphs,
  static buffers, gradients and the optimizer live per slot (`StepGraphs` in `Resident.extra`), captured
  lazily at a bucket's first use; a new task resets the optimizer state in place, so nothing is recaptured.
  A capture fails if an autograd graph of the adapter made on another stream is still alive (e.g. a caller's
  undetached loss: its AccumulateGrad nodes pull the default stream into the capture). A capture failure is
  logged once with its first cause and cleaned up (the thread's stream, the allocator's pool routing and the
  default CUDA generator, which a failed capture leaves in capture mode, are restored; the device is synced);
  the slot then captures nothing more and runs every bucket eagerly on the static buffers (as do buckets that
  recompute in backward: checkpointed layers or chunked cross-entropy).
`reference_loss` is plain PEFT + transformers (full logits, the HF loss): the baseline of the tests
and of `benchmarks/train_step.py`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import random
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from tasks_lib.augment import apply_task, max_scale, random_augmentation
from tasks_lib.config import TrainConfig
from tasks_lib.data import Task
from tasks_lib.encoding import IGNORE, Encoded, EncodingError, encode_train
from tasks_lib.model import Resident

FAST_ARCHITECTURES = ("llama", "qwen2", "qwen3", "arc_grid")  # decoders whose forward is exactly embed -> layers -> norm -> head
GRAD_CLIP = 1.0
GRAPH_WARMUP = 2  # eager steps on a side stream before a capture (compiles, autotuning, cuBLAS workspaces)
CAPTURE_FAILED = "step_graphs_capture_failed"  # res.extra key: why a capture failed; the slot captures nothing more

log = logging.getLogger(__name__)


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
    graphs: bool = False  # the step ran as CUDA graphs (or, after a failed capture, eagerly on their buffers)
    captures: int = 0  # CUDA graphs captured during this call (0 once the slot has seen every bucket)

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
    the whole fast forward as one function, so it compiles to one graph. ids: (1, T); where, wanted: (N,)."""
    import torch

    from tasks_lib.positions import from_config

    hidden = decoder.embed_tokens(ids)  # (1, T, H)
    scheme = from_config(decoder.config)
    cos, sin = scheme.rope(decoder, hidden, scheme.of_ids(ids))  # (1, T, D) each
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


def bucket_length(tokens: int, bucket: int) -> int:
    """`tokens` rounded up to a multiple of `bucket`: the padded length of a graph step's sequence."""
    return -(-tokens // bucket) * bucket


def release_cuda_generator(device: Any) -> None:
    """Give `device`'s default CUDA generator a fresh state at its current seed and offset.

    torch ends a generator's capture in `CUDAGraph.capture_end` after the stream capture itself, so a capture
    that fails leaves the default generator in capture mode, and every later random op on the device raises
    "Offset increment outside graph capture encountered unexpectedly"."""
    import torch

    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index
    default = torch.cuda.default_generators[index]
    fresh = torch.cuda.Generator(device=f"cuda:{index}")
    fresh.set_state(default.get_state())
    default.graphsafe_set_state(fresh)


def _abandon_capture(graph: Any, pool: Any, ambient: Any, device: Any) -> None:
    """Clean up after a failed capture, each part on its own (a failing part is logged, the rest still runs):
    end the stream capture if it is still open, stop routing allocations to the graph pool, give the thread
    its stream back (torch.cuda.graph leaves the capture stream current when capture_end raises), take the
    default CUDA generator out of capture mode, and wait for the device."""
    import torch

    index = torch.device(device).index

    def end_capture() -> None:
        if torch.cuda.is_current_stream_capturing():
            with contextlib.suppress(Exception):  # ends the capture; raises for the invalidated capture
                graph.capture_end()

    def end_pool() -> None:
        with contextlib.suppress(Exception):  # raises when capture_end already stopped the routing
            torch._C._cuda_endAllocateToPool(torch.cuda.current_device() if index is None else index, pool)

    for name, part in (
        ("end the capture", end_capture),
        ("stop allocating to the graph pool", end_pool),
        ("restore the stream", lambda: torch.cuda.set_stream(ambient)),
        ("release the CUDA generator", lambda: release_cuda_generator(device)),
        ("synchronize", torch.cuda.synchronize),
    ):
        try:
            part()
        except Exception as err:  # best effort: report and go on with the other parts
            log.warning("after the failed capture, could not %s: %s: %s", name, type(err).__name__, str(err)[:200])


@contextlib.contextmanager
def _stale_streams_redirected():
    """Where torch has it (2.12+), let autograd move an AccumulateGrad node that holds a stale non-capturing
    stream (its autograd graph kept alive from an eager step) onto the capturing stream, instead of invalidating
    the capture; the process-global flag is restored after."""
    import torch

    get = getattr(torch._C, "_override_stale_capture_stream", None)
    put = getattr(torch.autograd.graph, "set_override_stale_capture_stream", None)
    if get is None or put is None:
        yield
        return
    before = bool(get())
    put(True)
    try:
        yield
    finally:
        put(before)


def _failure(err: BaseException) -> str:
    """The error and, when torch.cuda.graph's exit replaced it (capture_end raising for the invalidated capture),
    the first cause."""
    text = f"{type(err).__name__}: {str(err)[:300]}"
    cause = err.__cause__ or err.__context__
    if cause is not None:
        text += f" (first: {type(cause).__name__}: {str(cause)[:300]})"
    return text


class StepGraphs:
    """Per-slot state of the CUDA-graph step, kept in `res.extra` for the slot's life.

    Static gradients (attached to the adapter's parameters), a fused AdamW (capturable on CUDA) whose lr is a
    device tensor and whose state is reset in place per task, and per length bucket: a (2, L) input buffer
    (ids; next-token targets, IGNORE past the sequence), the loss and pre-clip gradient norm of the last step,
    and the captured graph. All graphs share one memory pool (they never run concurrently)."""

    def __init__(self, res: Resident, key: tuple, weight_decay: float, capturable: bool):
        import torch

        self.key = key
        self.slot = res.extra  # the slot's dict: a capture failure is recorded there for every later StepGraphs
        self.params = res.trainable_parameters()
        self.capturable = capturable
        self.lr = torch.zeros((), dtype=torch.float32, device=res.device)  # () read by the captured AdamW
        self.lr_value = 0.0
        self.opt = torch.optim.AdamW(self.params, lr=self.lr, weight_decay=weight_decay, fused=True, capturable=capturable)
        self.grads = [torch.zeros_like(p) for p in self.params]  # the addresses every graph writes
        self.attach_grads()
        with warnings.catch_warnings():  # torch warns once that a capturable optimizer steps uncaptured: expected here
            warnings.filterwarnings("ignore", message=".*capturable=True.*")
            self.opt.step()  # lr 0 and zero gradients: builds the state without moving a weight
        self.reset()
        self.inputs: dict[int, Any] = {}  # bucket -> (2, L) long
        self.losses: dict[int, Any] = {}  # bucket -> () loss of the last step
        self.norms: dict[int, Any] = {}  # bucket -> () gradient norm before clipping
        self.graphs: dict[int, Any] = {}  # bucket -> torch.cuda.CUDAGraph
        self.capture_seconds: dict[int, float] = {}  # bucket -> warm-up + capture wall time
        self.pool: Any = None  # the graphs' shared memory pool (a graph_pool_handle), made at the first capture
        self.failed: str = res.extra.get(CAPTURE_FAILED, "")  # why a capture failed in this slot: eager from then on

    @classmethod
    def for_slot(cls, res: Resident, key: tuple, weight_decay: float, capturable: bool) -> "StepGraphs":
        """The slot's graphs for `key` (rebuilt, dropping old graphs, when the key or the parameters changed)."""
        have = res.extra.get("step_graphs")
        params = res.trainable_parameters()
        same = have is not None and have.key == key and len(have.params) == len(params) and all(a is b for a, b in zip(have.params, params))
        if not same:
            res.extra["step_graphs"] = cls(res, key, weight_decay, capturable)
        return res.extra["step_graphs"]

    def attach_grads(self) -> None:
        for p, g in zip(self.params, self.grads):
            p.grad = g

    def reset(self) -> None:
        """A fresh optimizer in place: zero moments and step counts (the captured graphs keep their addresses)."""
        import torch

        states = [self.opt.state[p] for p in self.params]
        torch._foreach_zero_([s[k] for s in states for k in ("exp_avg", "exp_avg_sq", "step")])

    def set_lr(self, value: float) -> None:
        if value != self.lr_value:
            self.lr.fill_(value)
            self.lr_value = value

    def load(self, bucket: int, enc: Encoded, pad: int, cuda: bool) -> None:
        """Copy one sequence, padded to `bucket`, into the bucket's static input buffer (no host sync)."""
        import torch

        n = len(enc.ids)
        ids = enc.ids + [pad] * (bucket - n)  # (L,)
        targets = enc.labels[1:] + [IGNORE] * (bucket - n + 1)  # (L,): token t+1 is predicted from position t
        host = torch.tensor(ids + targets, dtype=torch.long).view(2, bucket)  # (2, L)
        if bucket not in self.inputs:
            self.inputs[bucket] = torch.empty_like(host, device=self.lr.device)  # (2, L)
        if cuda:
            self.inputs[bucket].copy_(host.pin_memory(), non_blocking=True)
        else:
            self.inputs[bucket].copy_(host)

    def body(self, step: "Step", bucket: int) -> None:
        """The captured work, reading only static buffers: zero grads, forward, loss, backward, clip, AdamW."""
        import torch

        buf = self.inputs[bucket]  # (2, L)
        torch._foreach_zero_(self.grads)
        loss = step.static_loss(buf[0][None], buf[1])
        loss.backward()
        self.norms[bucket] = torch.nn.utils.clip_grad_norm_(self.params, GRAD_CLIP)
        self.opt.step()
        self.losses[bucket] = loss.detach()

    def _state(self) -> list:
        states = [self.opt.state[p] for p in self.params]
        return [p.data for p in self.params] + [s[k] for s in states for k in ("exp_avg", "exp_avg_sq", "step")]

    def capture(self, step: "Step", bucket: int) -> bool:
        """Warm up on a side stream, then capture `body` for `bucket`; weights and optimizer state are restored
        after the warm-up steps. On failure: clean up (`_abandon_capture`), log once, set `failed` here and for
        the slot (no later capture in it; graphs captured before are kept but not replayed), return False (the
        caller runs eagerly)."""
        import torch

        t0 = time.perf_counter()
        saved = [t.clone() for t in self._state()]
        ambient = torch.cuda.current_stream()
        graph = None
        try:
            side = torch.cuda.Stream()
            side.wait_stream(ambient)
            with torch.cuda.stream(side):
                for _ in range(GRAPH_WARMUP):
                    self.body(step, bucket)
            ambient.wait_stream(side)
            if self.pool is None:
                self.pool = torch.cuda.graph_pool_handle()
            graph = torch.cuda.CUDAGraph()
            with _stale_streams_redirected(), torch.cuda.graph(graph, pool=self.pool):
                self.body(step, bucket)
        except Exception as err:  # any capture failure: the step still runs, eagerly
            self.failed = _failure(err)
            self.slot[CAPTURE_FAILED] = self.failed
            log.warning("CUDA graph capture of the training step failed at %d tokens; this slot runs it eagerly from now on: %s", bucket, self.failed)
            _abandon_capture(graph, self.pool, ambient, self.lr.device)
            return False
        finally:
            torch._foreach_copy_(self._state(), saved)
        self.graphs[bucket] = graph
        self.capture_seconds[bucket] = time.perf_counter() - t0
        return True

    def run(self, step: "Step", bucket: int) -> None:
        """One step on the loaded buffer: the graph (captured at first use) when possible, else the same body eagerly."""
        if self.params[0].grad is not self.grads[0]:  # another step's optimizer set the gradients to None
            self.attach_grads()
        if self.capturable and not self.failed and step.capturable_at(bucket) and (bucket in self.graphs or self.capture(step, bucket)):
            self.graphs[bucket].replay()
        else:
            self.body(step, bucket)


class Step:
    """One optimizer update at batch size 1 per call; built per task (fresh AdamW state), reusing the slot's compiled
    parts and, with CUDA graphs, the slot's `StepGraphs`."""

    def __init__(self, res: Resident, cfg: TrainConfig, reference: bool = False):
        """`reference=True` uses `reference_loss` (the baseline), whatever `cfg.step` says."""
        import torch

        self.res, self.cfg, self.reference = res, cfg, reference
        self.cuda = res.device.startswith("cuda")
        self.params = res.trainable_parameters()
        want_fast = cfg.step == "fast" or (cfg.step == "auto" and self.cuda)
        self.kind = "fast" if want_fast and not reference and fast_supported(res) else "simple"
        self.backend = "inductor" if cfg.compile == "auto" and self.cuda else ("off" if cfg.compile == "auto" else cfg.compile)
        base_dtype = res.model.get_base_model().dtype
        half = base_dtype in (torch.bfloat16, torch.float16)
        if self.kind != "fast" or cfg.adapter_autocast == "off" or not (half or cfg.adapter_autocast == "on"):
            self.autocast_dtype = None
        else:
            self.autocast_dtype = base_dtype if half else torch.bfloat16
        use_graphs = cfg.cuda_graphs == "on" or (cfg.cuda_graphs == "auto" and self.cuda)
        self.graphs: StepGraphs | None = None
        self.count = 0  # updates made by this Step (the learning-rate schedule of the graph step)
        if self.kind == "fast" and use_graphs and "step_graphs_error" not in res.extra:
            key = (self.backend, self.autocast_dtype, cfg.compile_scope, cfg.ce_chunk, cfg.checkpoint_min_tokens, cfg.weight_decay)
            try:
                self.graphs = StepGraphs.for_slot(res, key, cfg.weight_decay, capturable=self.cuda)
            except Exception as err:  # e.g. no capturable fused AdamW in this torch: the fast step without graphs
                res.extra["step_graphs_error"] = f"{type(err).__name__}: {str(err)[:300]}"
                log.warning("CUDA-graph training step unavailable, using the fast step: %s", res.extra["step_graphs_error"])
        if self.graphs is not None:
            self.graphs.reset()
            self.graphs.attach_grads()
            self.opt = self.graphs.opt
            self.sched = None
            return
        fused = cfg.fused_adamw == "on" or (cfg.fused_adamw == "auto" and self.cuda)
        self.opt = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True if fused else None)
        warm = max(1, cfg.warmup_steps)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / warm))

    def _upload(self, values: list[int]):
        """A (len,) long tensor on the device; from pinned memory without a host sync on CUDA."""
        import torch

        t = torch.tensor(values, dtype=torch.long)  # (L,)
        if self.cuda:
            return t.pin_memory().to(self.res.device, non_blocking=True)
        return t.to(self.res.device)

    def _part(self, name: str, fn: Any) -> Any:
        return fn if self.backend == "off" else self.res.compiled(name, fn, self.backend)

    def _forward_sum(self, ids, where, wanted):
        """Summed cross-entropy at positions `where` (None: every position) with targets `wanted` (IGNORE skipped),
        under the fast step's autocast and compiled parts. ids: (1, T); where: (N,) or None; wanted: (N,)."""
        import torch

        n = wanted.shape[0]
        causal = self.res.model.get_base_model()
        decoder = causal.get_decoder()
        recompute = 0 < self.cfg.checkpoint_min_tokens <= ids.shape[1]
        layer_fn = self._part("layer_ckpt", _layer_call_checkpointed) if recompute else self._part("layer", _layer_call)
        chunk = self.cfg.ce_chunk if 0 < self.cfg.ce_chunk < n else n
        head_fn = self._part("head_ckpt", _head_loss_checkpointed) if chunk < n else self._part("head", _head_loss)
        autocast = (
            torch.autocast(device_type=ids.device.type, dtype=self.autocast_dtype) if self.autocast_dtype else contextlib.nullcontext()
        )
        if self.cfg.compile_scope == "model" and self.backend != "off" and chunk == n:
            where = torch.arange(n, device=ids.device) if where is None else where  # (N,)
            with autocast:
                return self._part("model", _forward_loss)(decoder, causal.get_output_embeddings(), ids, where, wanted, recompute)
        from tasks_lib.positions import from_config

        with autocast:
            hidden = decoder.embed_tokens(ids)  # (1, T, H)
            scheme = from_config(decoder.config)
            cos, sin = scheme.rope(decoder, hidden, scheme.of_ids(ids))  # (1, T, D) each: positions (A, 1, T) of the model's scheme
            for layer in decoder.layers[: causal.config.num_hidden_layers]:
                hidden = layer_fn(layer, hidden, cos, sin)  # (1, T, H)
            picked = hidden[0] if where is None else hidden[0].index_select(0, where)  # (N, H)
            return sum(
                head_fn(decoder.norm, causal.get_output_embeddings(), picked[s : s + chunk], wanted[s : s + chunk]) for s in range(0, n, chunk)
            )

    def _fast_loss(self, enc: Encoded):
        targets = enc.labels[1:]  # token t+1 is predicted from position t
        pick = [i for i, t in enumerate(targets) if t != IGNORE]
        if not pick:
            raise EncodingError("a training sequence needs at least one labelled position")
        ids = self._upload(enc.ids)[None]  # (1, T)
        where = self._upload(pick)  # (N,)
        wanted = self._upload([targets[i] for i in pick])  # (N,)
        return self._forward_sum(ids, where, wanted) / len(pick)

    def static_loss(self, ids, targets):
        """The graph step's loss: mean cross-entropy over the non-IGNORE targets of a padded sequence, with the
        head on every position. ids: (1, L); targets: (L,), targets[t] = the label of token t+1 or IGNORE."""
        return self._forward_sum(ids, None, targets) / (targets != IGNORE).sum()

    def loss(self, enc: Encoded):
        """The scalar training loss of one sequence (a device tensor with a graph for backward)."""
        if self.kind == "fast":
            return self._fast_loss(enc)
        ids = self._upload(enc.ids)[None]  # (1, T)
        labels = self._upload(enc.labels)[None]  # (1, T)
        return reference_loss(self.res, ids, labels) if self.reference else output_loss(self.res, ids, labels)

    def bucket(self, tokens: int) -> int:
        return bucket_length(tokens, self.cfg.graph_bucket)

    def capturable_at(self, bucket: int) -> bool:
        """False where the step recomputes in backward (checkpointed layers or CE chunks save and restore the RNG
        state, which a capture does not allow): such buckets run the graph step's body eagerly."""
        return not (0 < self.cfg.checkpoint_min_tokens <= bucket or 0 < self.cfg.ce_chunk < bucket)

    def _graph_call(self, enc: Encoded, lr: float):
        """Load the padded buffer, set lr, replay the bucket's graph (or run its body eagerly); returns the bucket."""
        graphs = self.graphs
        assert graphs is not None
        if all(t == IGNORE for t in enc.labels[1:]):
            raise EncodingError("a training sequence needs at least one labelled position")
        bucket = self.bucket(len(enc.ids))
        graphs.load(bucket, enc, self.res.vocab.pad, self.cuda)
        graphs.set_lr(lr)
        graphs.run(self, bucket)
        return bucket

    def probe(self, enc: Encoded) -> tuple[Any, list]:
        """Graph step only: one pass with lr 0 (weights unchanged, the optimizer's step count advances), returning
        the loss and the gradients before clipping (device tensors), to check the graph against other steps."""
        import torch

        assert self.graphs is not None
        bucket = self._graph_call(enc, 0.0)
        scale = torch.clamp((self.graphs.norms[bucket] + 1e-6) / GRAD_CLIP, min=1.0)  # undoes clip_grad_norm_
        return self.graphs.losses[bucket].clone(), [g * scale for g in self.graphs.grads]

    def __call__(self, enc: Encoded):
        """Forward, backward, clip, AdamW and schedule; returns the detached loss without reading it."""
        import torch

        if self.graphs is not None:
            bucket = self._graph_call(enc, self.cfg.lr * min(1.0, (self.count + 1) / max(1, self.cfg.warmup_steps)))  # as LambdaLR
            self.count += 1
            return self.graphs.losses[bucket].clone()
        loss = self.loss(enc)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, GRAD_CLIP)
        self.opt.step()
        self.sched.step()
        return loss.detach()

    def close(self) -> None:
        """Free the gradients (the graph step keeps its static ones: its graphs write there)."""
        if self.graphs is None:
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


def encode_view(res: Resident, task: Task, cfg: TrainConfig, max_tokens: int, rng: random.Random) -> Encoded:
    """One training example: a new random augmentation of `task`'s train pairs, encoded (raises `EncodingError`);
    an upscaled view whose first pair does not fit `max_tokens` is used at scale 1."""
    aug = random_augmentation(rng, len(task.train), max_scale=min(cfg.max_scale, max_scale(task)))
    try:
        return encode_train(res.vocab, apply_task(aug, task), max_tokens, cfg.loss_on_first)
    except EncodingError:
        if aug.scale == 1:
            raise
        return encode_train(res.vocab, apply_task(dataclasses.replace(aug, scale=1), task), max_tokens, cfg.loss_on_first)


def task_examples(res: Resident, task: Task, cfg: TrainConfig, max_tokens: int) -> Iterator[Encoded]:
    """Fresh random augmentations of `task`'s train pairs, encoded; ends when the task cannot be encoded."""
    rng = random.Random(f"{cfg.seed}:{task.id}")
    while True:
        try:
            yield encode_view(res, task, cfg, max_tokens, rng)
        except EncodingError:
            return


def train_adapter(res: Resident, task: Task, cfg: TrainConfig, max_tokens: int, deadline: float) -> TrainStats:
    """Train the resident adapter on `task` until `cfg.max_steps` or `deadline`."""
    return train_loop(res, cfg, task_examples(res, task, cfg, max_tokens), cfg.max_steps, deadline, f"task {task.id}")


def train_loop(res: Resident, cfg: TrainConfig, examples: Iterator[Encoded], max_steps: int, deadline: float, what: str) -> TrainStats:
    """Train the resident adapter at batch size 1 on `examples` until `max_steps`, the deadline, or the
    examples run out (`stopped_by` "no-data"); `what` names the work in errors."""
    import torch

    stats = TrainStats()
    if max_steps == 0:
        return stats
    compiles_before = res.compiles
    step = Step(res, cfg)
    stats.step_kind = step.kind
    stats.graphs = step.graphs is not None
    captures_before = captured = len(step.graphs.graphs) if step.graphs is not None else 0
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
                raise FloatingPointError(f"{what}: loss is {value} at step {first_step + i}")
        stats.first_loss = values[0] if stats.first_loss is None else stats.first_loss
        stats.last_loss = values[-1]
        now = time.time()
        step_time = max(step_time * 0.5, (now - window_start) / len(values))  # pessimistic running estimate
        window_start = now

    try:
        while stats.steps < max_steps:
            queued = 2 if pending else 1  # unread steps may still be running on the device
            if time.time() + queued * step_time > deadline:
                stats.stopped_by = "deadline"
                break
            enc = next(examples, None)
            if enc is None:
                stats.stopped_by = "no-data"
                break
            started = time.time()
            pending.append(step(enc))
            stats.steps += 1
            stats.tokens += len(enc.ids)
            if step.graphs is not None and len(step.graphs.graphs) != captured:
                captured = len(step.graphs.graphs)
                before = step_time
                read_back()
                # A bucket's capture is the slot's one-off cost, not this task's: the step-time estimate skips it and
                # the deadline moves by it (the run's budget absorbs it as tasks finish: tasks_lib/budget.py).
                step_time = before
                deadline += time.time() - started
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
