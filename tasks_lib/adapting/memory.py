"""Device memory: what the process may still allocate, and plans that keep decoding and training inside it.

Contract:
- `available_bytes(device, told=0)`: bytes this process may still allocate. On CUDA it first returns the caching
  allocator's unused blocks to the driver (`torch.cuda.empty_cache`), then takes the least of: its limit (the
  per-process cap `torch.cuda.set_per_process_memory_fraction` set, else the card's total) minus what it has
  reserved, and what the driver says is free (other processes on the card). `told` (bytes, > 0) caps that figure,
  and is the figure on any other device. On any other device without `told`: None (no limit known, nothing to plan).
- `plan_groups(views, per_view, fixed, available)`: how many views each sequential decode group takes (formula in
  its doc); `decode_plan(engine, lengths, rows_per_view, max_new, available)` is that plan for a decode engine,
  with the per-view and fixed bytes of `view_bytes` and `prefill_bytes`.
- `capture_fits(body, room)`: whether a CUDA graph whose body needs `body` bytes may be captured (formula in its doc).
- `trim_engines(objects, device)`: release the cached decode states of every engine among `objects` whose states hold
  more than `STATE_KEEP_SHARE` of the device's limit (they would take the next task's training memory).
- `is_oom(err)`: an out-of-memory error (torch's, or the fault injection's stand-in), also when it is the first cause.
- `free_cached(device)`: collect garbage and give the allocator's unused blocks back (CUDA); a no-op elsewhere.
- `cap_process(device, gb)`: cap this process's CUDA allocations at `gb` GB (`slots.memory_gb`, set in a slot worker
  before it allocates): `device_limit` then returns the cap, so every plan above keeps inside it.

The byte counts are estimates with a margin (`SAFETY`), not measurements: the GPU run checks them (the report of
issue 18 lists what).
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass
from typing import Any, Iterable

SAFETY = 0.15  # share of the available bytes a plan leaves unused: fragmentation, cuBLAS workspaces, estimate error
CAPTURE_SHARE = 0.25  # the most of the available bytes one CUDA graph's private pool may take (capture_fits)
STATE_KEEP_SHARE = 0.1  # decode states kept cached between calls may hold at most this share of the device's limit
FP32 = 4


def _torch() -> Any:
    import torch

    return torch


def device_limit(device: str) -> int | None:
    """Bytes this process may allocate on `device` in all: the per-process cap where one is set, else the card's
    total; None off CUDA."""
    torch = _torch()
    if not str(device).startswith("cuda") or not torch.cuda.is_available():
        return None
    dev = torch.device(device)
    total = torch.cuda.get_device_properties(dev).total_memory
    fraction = torch.cuda.get_per_process_memory_fraction(dev) if hasattr(torch.cuda, "get_per_process_memory_fraction") else 1.0
    return int(total * min(1.0, fraction))


def cap_process(device: str, gb: float) -> float | None:
    """Cap this process's allocations on CUDA `device` at `gb` * 1e9 bytes (torch's per-process memory fraction of the
    card's total, at most 1); returns the fraction set, or None off CUDA (nothing to cap)."""
    torch = _torch()
    if not str(device).startswith("cuda") or not torch.cuda.is_available():
        return None
    dev = torch.device(device)
    fraction = min(1.0, gb * 1e9 / torch.cuda.get_device_properties(dev).total_memory)
    torch.cuda.set_per_process_memory_fraction(fraction, dev)
    return fraction


def available_bytes(device: str, told: int = 0) -> int | None:
    """Bytes the process may still allocate on `device` (module doc); None where nothing is known."""
    torch = _torch()
    limit = device_limit(device)
    if limit is None:
        return told if told > 0 else None
    dev = torch.device(device)
    torch.cuda.empty_cache()  # cached blocks count against the cap, and a graph capture cannot release them
    free_driver, _ = torch.cuda.mem_get_info(dev)
    room = max(0, min(limit - torch.cuda.memory_reserved(dev), free_driver))
    return min(room, told) if told > 0 else room


def free_cached(device: str) -> None:
    """Drop unreachable tensors and give the caching allocator's unused blocks back (CUDA only)."""
    gc.collect()
    torch = _torch()
    if str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()


def trim_engines(objects: Iterable[Any], device: str, told: int = 0) -> int:
    """Release the cached decode states of each engine among `objects` (anything with `cached_bytes` and `release`)
    that holds more than STATE_KEEP_SHARE of the device's limit (`told` bytes where no device limit is known; neither:
    keep all). Returns the engines released."""
    limit = device_limit(device) or told
    if not limit:
        return 0
    released = 0
    for eng in list(objects):
        if hasattr(eng, "cached_bytes") and hasattr(eng, "release") and eng.cached_bytes() > STATE_KEEP_SHARE * limit:
            eng.release()
            released += 1
    if released:
        free_cached(device)
    return released


def is_oom(err: BaseException) -> bool:
    """True for torch's out-of-memory error (or the worker's injected stand-in, or an error whose text says "out of
    memory", as the worker classifies them), raised or as the first cause (e.g. under a torch.compile wrapper)."""
    torch = _torch()
    for e in (err, err.__cause__, err.__context__):
        if e is not None and (isinstance(e, torch.OutOfMemoryError) or type(e).__name__ == "InjectedOOM"
                              or "out of memory" in str(e).lower()):
            return True
    return False


@dataclass(frozen=True)
class Dims:
    """What a decode engine's memory depends on: the model's shape and element size."""

    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    hidden: int
    intermediate: int
    vocab: int
    elem: int  # bytes per element of the model's dtype

    @property
    def kv_token(self) -> int:
        """Bytes of K and V of one token over all layers."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.elem

    @classmethod
    def of(cls, engine: Any) -> "Dims | None":
        """The dims of a `tasks_lib.decoding.engine.Engine`; None for an engine without them (the plain engine)."""
        if not hasattr(engine, "n_layers"):
            return None
        cfg = engine.lm.config
        hidden = cfg.hidden_size
        return cls(engine.n_layers, engine.n_heads, engine.n_kv, engine.head_dim, hidden,
                   getattr(cfg, "intermediate_size", None) or 4 * hidden, engine.vocab_size, engine.dtype.itemsize)


def view_bytes(d: Dims, prefix_len: int, rows: int, capacity: int) -> int:
    """Bytes one view adds to a decode group (prefix length Pc, `rows` rows, own capacity G):

        2 * Pc * kv_token               the group's `Prefix` and the decode state's static copy of it
      + rows * G * kv_token             the rows' own K/V
      + rows * 8 * V * 4                per-row vocabulary vectors in fp32 (state log-probs and noise, the logits,
                                        log-softmax, Gumbel and argmax temporaries)
      + rows * 3 * H * (Pc + G) * 4     one layer's attention scores, concatenation and softmax at a step
    """
    return (2 * prefix_len * d.kv_token + rows * capacity * d.kv_token + rows * 8 * d.vocab * FP32
            + rows * 3 * d.heads * (prefix_len + capacity) * FP32)


def prefill_bytes(d: Dims, prefix_len: int) -> int:
    """Bytes one prompt's prefill needs beyond the `Prefix` it writes into, at one layer (the most alive at once):

        Pc * (6 * E + 4 * H * D + 3 * I) * elem + 3 * V * 4

    (residual, norms in fp32 and their output; q and its rotation, attention output; the MLP's gate, up and their
    product; the last position's logits)."""
    return prefix_len * (6 * d.hidden + 4 * d.heads * d.head_dim + 3 * d.intermediate) * d.elem + 3 * d.vocab * FP32


def plan_groups(views: int, per_view: int, fixed: int, available: int | None, safety: float = SAFETY) -> list[int]:
    """Views per sequential decode group, in order; their sum is `views`.

        usable = available * (1 - safety) - fixed
        size   = min(views, max(1, floor(usable / per_view)))      # the largest group that fits
        groups = ceil(views / size)
        each group gets ceil(views / groups) views, the last what is left

    so the groups are as even as the fit allows (one decode shape, one CUDA-graph set, for all but the last).
    `available` None (no limit known): one group of every view. At least one view per group even when that one does
    not fit: the sampler's out-of-memory retry (`tasks_lib.running.solve.sample_step`) is the last resort."""
    if views < 1:
        return []
    if available is None:
        return [views]
    usable = available * (1.0 - safety) - fixed
    size = min(views, max(1, math.floor(usable / max(1, per_view))))
    groups = -(-views // size)
    each = -(-views // groups)
    return [each] * (views // each) + ([views % each] if views % each else [])


def decode_plan(engine: Any, lengths: list[int], rows_per_view: int, max_new: int, available: int | None) -> list[int]:
    """`plan_groups` for decoding `rows_per_view` rows per prompt of these lengths on `engine` (module doc)."""
    d = Dims.of(engine)
    if d is None or available is None or not lengths:
        return [len(lengths)] if lengths else []
    bucket = getattr(engine, "bucket", 1)
    pc = -(-max(lengths) // bucket) * bucket
    capacity = -(-max_new // 64) * 64  # the engine's own K/V capacity, rounded as its CUDA-graph buckets are
    return plan_groups(len(lengths), view_bytes(d, pc, rows_per_view, capacity), prefill_bytes(d, pc), available)


def capture_fits(body: int, room: int, share: float = CAPTURE_SHARE) -> bool:
    """Whether to capture a CUDA graph whose body needed `body` bytes beyond what was allocated before it (measured
    on its eager warm-up) while the process may still allocate `room`:

        body <= share * room

    A captured graph keeps its body's memory in a private pool for the slot's life, where no eager step and no
    sampler can use it; a body above the share runs eagerly instead (slower per step, no memory held)."""
    return body <= share * room
