"""The decode engine's data: prompts after prefill (`Prefix`) and the static buffers of one decode shape (`DecodeState`).

Contract: `Prefix` holds every prompt's per-layer K/V padded to a common length, with a mask, and the log-probabilities
of the first new token; `select(view)` is one prompt's. `DecodeState(engine, width, rows, pc, capacity)` allocates the
buffers one decode shape reads and writes (CUDA graphs capture exactly these tensors); with `share=prefix` it reads
that prefix's K/V in place instead of owning a copy. `load(prefix, rows_per_view)` fills them for a decode;
`snapshot`/`restore` undo a step; `nbytes()` is what it holds. `tasks_lib.decoding.engine.Engine` owns both;
`Sizes` is what a state reads of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch


class Sizes(Protocol):
    """What a decode state is sized by: an `Engine` is one (this module knows no engine)."""

    device: torch.device
    dtype: torch.dtype
    n_layers: int
    n_kv: int
    head_dim: int
    vocab_size: int
    scheme: Any  # the model's position scheme (`tasks_lib.arc.positions`): its `axes`


@dataclass
class Prefix:
    """Prompts after prefill: per-layer K/V (padded) and the log-probabilities of the first new token."""

    k: torch.Tensor  # (L, W, Hkv, Pc, D)
    v: torch.Tensor  # (L, W, Hkv, Pc, D)
    bias: torch.Tensor  # (W, Pc) 0 on real tokens, -inf on padding
    lengths: torch.Tensor  # (W,) prompt lengths
    logprobs: torch.Tensor  # (W, V) float32
    last_pos: torch.Tensor  # (A, W) position of each prompt's last token (A axes of the model's position scheme)
    last_tok: torch.Tensor  # (W,) each prompt's last token
    prompts: list[list[int]]  # the prompts' ids

    @property
    def width(self) -> int:
        return int(self.k.shape[1])

    def select(self, view: int) -> "Prefix":
        return Prefix(self.k[:, view : view + 1], self.v[:, view : view + 1], self.bias[view : view + 1],
                      self.lengths[view : view + 1], self.logprobs[view : view + 1], self.last_pos[:, view : view + 1],
                      self.last_tok[view : view + 1], self.prompts[view : view + 1])


class DecodeState:
    """Static buffers of one decode shape; CUDA graphs capture reads and writes of exactly these tensors."""

    def __init__(self, eng: Sizes, width: int, rows: int, pc: int, capacity: int, share: Prefix | None = None):
        """`share`: read that prefix's K/V in place instead of static copies (for `score`, which captures no graph)."""
        dev, dt = eng.device, eng.dtype
        L, Hkv, D = eng.n_layers, eng.n_kv, eng.head_dim
        if share is None:
            self.pre_k = torch.zeros(L, width, Hkv, pc, D, device=dev, dtype=dt)  # (L, W, Hkv, Pc, D)
            self.pre_v = torch.zeros_like(self.pre_k)
            self.pre_bias = torch.zeros(width, pc, device=dev)  # (W, Pc)
        else:
            self.pre_k, self.pre_v, self.pre_bias = share.k, share.v, share.bias
        self.own_k = torch.zeros(L, rows, Hkv, capacity, D, device=dev, dtype=dt)  # (L, B, Hkv, G, D)
        self.own_v = torch.zeros_like(self.own_k)
        self.pos = torch.zeros(eng.scheme.axes, rows, device=dev, dtype=torch.long)  # (A, B) position of the last token fed
        self.prev = torch.zeros(rows, device=dev, dtype=torch.long)  # (B,) the last token fed
        self.t = torch.zeros((), device=dev, dtype=torch.long)  # index in the completion (the own K/V slot)
        self.tok = torch.zeros(rows, 1, device=dev, dtype=torch.long)  # (B, 1)
        self.lp = torch.zeros(rows, eng.vocab_size, device=dev)  # (B, V) log-probs of the next token
        self.noise = torch.ones(rows, eng.vocab_size, device=dev)  # (B, V) Exp(1) draws for Gumbel sampling
        self.inv_temp = torch.ones(rows, 1, device=dev)  # (B, 1)
        self.sampled = torch.zeros(rows, 1, device=dev)  # (B, 1) 1 where the row samples, 0 where greedy
        self.done = torch.zeros(rows, device=dev, dtype=torch.bool)  # (B,)
        self.total = torch.zeros(rows, device=dev)  # (B,) summed log-probs
        self.out = torch.zeros(rows, capacity, device=dev, dtype=torch.long)  # (B, G) generated ids
        self.eos = torch.zeros((), device=dev, dtype=torch.long)
        self.graphs: dict[tuple[str, int], torch.cuda.CUDAGraph] = {}
        self.fused_ok = False  # the fused step has run on this shape without raising

    def _changed(self) -> tuple[torch.Tensor, ...]:
        return (self.t, self.lp, self.total, self.out, self.done, self.tok, self.pos, self.prev)

    def snapshot(self) -> list[torch.Tensor]:
        """Copies of the buffers a step changes besides its own K/V slot (which a rerun overwrites)."""
        return [x.clone() for x in self._changed()]

    def restore(self, saved: list[torch.Tensor]) -> None:
        for dst, src in zip(self._changed(), saved):
            dst.copy_(src)

    def nbytes(self) -> int:
        """Bytes of the static buffers (a shared prefix's included)."""
        return sum(x.numel() * x.element_size() for x in vars(self).values() if isinstance(x, torch.Tensor))

    def load(self, prefix: Prefix, rows_per_view: int) -> None:
        if self.pre_k is not prefix.k:
            self.pre_k.copy_(prefix.k)
            self.pre_v.copy_(prefix.v)
            self.pre_bias.copy_(prefix.bias)
        self.pos.copy_(prefix.last_pos.repeat_interleave(rows_per_view, 1))
        self.prev.copy_(prefix.last_tok.repeat_interleave(rows_per_view))
        self.lp.copy_(prefix.logprobs.repeat_interleave(rows_per_view, 0))
