"""The CUDA-graph training step's per-slot state and the plumbing around a capture.

Contract: `StepGraphs.for_slot(res, key, weight_decay, capturable)` is the slot's state of the graph step (kept in
`Resident.slot_state` for the slot's life; rebuilt when `key` or the adapter's parameters change): static gradients
attached to the adapter's parameters, a fused AdamW (capturable on CUDA) whose learning rate is a device tensor and
whose state `reset()` zeroes in place per task, and per shape (views, length bucket) a static input buffer, the last
loss and gradient norm, and the captured graph. `run(step, shape)` replays the shape's graph, capturing it at first
use, or runs the same body eagerly (on the CPU, where a shape recomputes in backward, or once a capture failed in this
slot). The body is `step.static_loss` (the fast forward, `tasks_lib.adapting.train_steps.GraphStep`), backward, clipping
to `GRAD_CLIP` and the AdamW step, reading only static buffers.

A capture fails if an autograd graph of the adapter made on another stream is still alive (e.g. a caller's
undetached loss: its AccumulateGrad nodes pull the default stream into the capture). A capture failure is logged
once with its first cause and cleaned up (the thread's stream, the allocator's pool routing and the default CUDA
generator, which a failed capture leaves in capture mode, are restored; the device is synced); the slot then
captures nothing more and runs every shape eagerly on the static buffers.

Memory: a captured graph keeps its body's peak in the graphs' private pool for the slot's life, where no eager step
and no sampler can use it. So a shape is captured only when its body (the reserved growth over the eager warm-up)
passes `tasks_lib.adapting.memory.capture_fits` against what the process may still allocate, and the warm-up's cached blocks
are released before the capture (the allocator cannot release them during one). A shape that does not fit, or whose
capture runs out of memory, runs eagerly (`eager[shape]` says why); the slot goes on capturing other shapes.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from typing import Any, Protocol

from tasks_lib.adapting import memory
from tasks_lib.adapting.model import Resident

Shape = tuple[int, int]  # a graph step's static shape: (views B, padded length L)
GRAD_CLIP = 1.0  # every training step clips the adapter's gradient norm to this (the captured body too)
GRAPH_WARMUP = 2  # eager steps on a side stream before a capture (compiles, autotuning, cuBLAS workspaces)

log = logging.getLogger(__name__)


class CapturedStep(Protocol):
    """What the graph plumbing runs of a step (`tasks_lib.adapting.train_steps.GraphStep` is one)."""

    def static_loss(self, ids: Any, targets: Any) -> Any:
        """The loss of padded views read from static buffers: ids (B, L), targets (B*L,)."""

    def capturable_at(self, shape: Shape) -> bool:
        """Whether this shape may be captured as a CUDA graph (else its body runs eagerly)."""


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
    """Per-slot state of the CUDA-graph step, kept in `res.slot_state` for the slot's life.

    Static gradients (attached to the adapter's parameters), a fused AdamW (capturable on CUDA) whose lr is a
    device tensor and whose state is reset in place per task, and per shape (B views, length bucket L): a (2, B, L)
    input buffer (ids; next-token targets, IGNORE past each view), the loss and pre-clip gradient norm of the last
    step, and the captured graph. All graphs share one memory pool (they never run concurrently)."""

    def __init__(self, res: Resident, key: tuple, weight_decay: float, capturable: bool):
        import torch

        self.key = key
        self.slot = res.slot_state  # the slot's state: a capture failure is recorded there for every later StepGraphs
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
        self.inputs: dict[Shape, Any] = {}  # (B, L) -> (2, B, L) long
        self.losses: dict[Shape, Any] = {}  # (B, L) -> () loss of the last step
        self.norms: dict[Shape, Any] = {}  # (B, L) -> () gradient norm before clipping
        self.graphs: dict[Shape, Any] = {}  # (B, L) -> torch.cuda.CUDAGraph
        self.capture_seconds: dict[Shape, float] = {}  # (B, L) -> warm-up + capture wall time
        self.pool: Any = None  # the graphs' shared memory pool (a graph_pool_handle), made at the first capture
        self.failed: str = res.slot_state.capture_failed  # why a capture failed in this slot: eager from then on
        self.eager: dict[Shape, str] = {}  # (B, L) -> why it is not captured (its body too large for memory): eager

    @classmethod
    def for_slot(cls, res: Resident, key: tuple, weight_decay: float, capturable: bool) -> "StepGraphs":
        """The slot's graphs for `key` (rebuilt, dropping old graphs, when the key or the parameters changed)."""
        have = res.slot_state.step_graphs
        params = res.trainable_parameters()
        same = have is not None and have.key == key and len(have.params) == len(params) and all(a is b for a, b in zip(have.params, params))
        if not same:
            res.slot_state.step_graphs = cls(res, key, weight_decay, capturable)
        return res.slot_state.step_graphs

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

    def load(self, shape: Shape, packed: tuple[list[int], list[int]], cuda: bool) -> None:
        """Copy packed views (`train_steps.pack`: row-major ids and targets, B x L each) into the shape's static
        input buffer (no host sync)."""
        import torch

        ids, targets = packed
        host = torch.tensor(ids + targets, dtype=torch.long).view(2, *shape)  # (2, B, L)
        if shape not in self.inputs:
            self.inputs[shape] = torch.empty_like(host, device=self.lr.device)  # (2, B, L)
        if cuda:
            self.inputs[shape].copy_(host.pin_memory(), non_blocking=True)
        else:
            self.inputs[shape].copy_(host)

    def body(self, step: CapturedStep, shape: Shape) -> None:
        """The captured work, reading only static buffers: zero grads, forward, loss, backward, clip, AdamW."""
        import torch

        buf = self.inputs[shape]  # (2, B, L)
        torch._foreach_zero_(self.grads)
        loss = step.static_loss(buf[0], buf[1].flatten())  # ids (B, L), targets (B*L,)
        loss.backward()
        self.norms[shape] = torch.nn.utils.clip_grad_norm_(self.params, GRAD_CLIP)
        self.opt.step()
        self.losses[shape] = loss.detach()

    def _state(self) -> list:
        states = [self.opt.state[p] for p in self.params]
        return [p.data for p in self.params] + [s[k] for s in states for k in ("exp_avg", "exp_avg_sq", "step")]

    def capture(self, step: CapturedStep, shape: Shape) -> bool:
        """Warm up on a side stream, then capture `body` for `shape`; weights and optimizer state are restored
        after the warm-up steps. On failure: clean up (`_abandon_capture`), log once, set `failed` here and for
        the slot (no later capture in it; graphs captured before are kept but not replayed), return False (the
        caller runs eagerly)."""
        import torch

        t0 = time.perf_counter()
        saved = [t.clone() for t in self._state()]
        ambient = torch.cuda.current_stream()
        device = self.lr.device
        graph = None
        try:
            torch.cuda.empty_cache()  # so that the reserved growth below is the warm-up body's own (host-side accounting)
            before = torch.cuda.memory_reserved(device)
            side = torch.cuda.Stream()
            side.wait_stream(ambient)
            with torch.cuda.stream(side):
                for _ in range(GRAPH_WARMUP):
                    self.body(step, shape)
            ambient.wait_stream(side)
            body = torch.cuda.memory_reserved(device) - before  # the body's peak, kept cached by the allocator
            # The warm-up's cached blocks go back now: the allocator cannot release them during a capture, so the
            # capture would otherwise need a second copy of the body's memory. available_bytes empties the cache.
            room = memory.available_bytes(str(device)) or 0
            if not memory.capture_fits(body, room):
                self.eager[shape] = f"its body needs {body / 2**30:.2f} GiB, over {memory.CAPTURE_SHARE:.0%} of the {room / 2**30:.2f} GiB free"
                log.warning("CUDA graph of the training step not captured at %s (views, tokens) (runs eagerly): %s", shape, self.eager[shape])
                return False
            if self.pool is None:
                self.pool = torch.cuda.graph_pool_handle()
            graph = torch.cuda.CUDAGraph()
            with _stale_streams_redirected(), torch.cuda.graph(graph, pool=self.pool):
                self.body(step, shape)
        except Exception as err:  # any capture failure: the step still runs, eagerly
            if memory.is_oom(err):  # this shape's body does not fit twice: it runs eagerly, other shapes may capture
                self.eager[shape] = _failure(err)
                log.warning("CUDA graph capture of the training step ran out of memory at %s (views, tokens); that shape runs eagerly: %s",
                            shape, self.eager[shape])
                _abandon_capture(graph, self.pool, ambient, device)
                memory.free_cached(str(device))
                return False
            self.failed = _failure(err)
            self.slot.capture_failed = self.failed
            log.warning("CUDA graph capture of the training step failed at %s (views, tokens); this slot runs it eagerly from now on: %s", shape, self.failed)
            _abandon_capture(graph, self.pool, ambient, device)
            return False
        finally:
            torch._foreach_copy_(self._state(), saved)
        self.graphs[shape] = graph
        self.capture_seconds[shape] = time.perf_counter() - t0
        return True

    def run(self, step: CapturedStep, shape: Shape) -> None:
        """One step on the loaded buffer: the graph (captured at first use) when possible, else the same body eagerly."""
        if self.params[0].grad is not self.grads[0]:  # another step's optimizer set the gradients to None
            self.attach_grads()
        if (self.capturable and not self.failed and shape not in self.eager and step.capturable_at(shape)
                and (shape in self.graphs or self.capture(step, shape))):
            self.graphs[shape].replay()
        else:
            self.body(step, shape)
