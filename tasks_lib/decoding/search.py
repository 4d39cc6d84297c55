"""Depth-first search over completions: every completion whose probability is at least a threshold.

Contract: `dfs(stepper, eos, threshold, max_len, max_candidates, deadline)` explores the tree of
continuations of one prompt through a `Stepper` and returns `(completions, stats)`: each completion is
`(ids, logprob)` with `ids` ending in `eos`, `len(ids) <= max_len`, and `exp(logprob) >= threshold`,
sorted most probable first. The search is exact (probabilities only shrink along a path, so a prefix
below the threshold has no descendant above it) unless a cap stops it: `max_candidates` completions
found, or `deadline` (a `time.time()` value) passed; `stats.stopped_by` says which.

The stepper owns the model state. `root()` gives the log-probabilities of the first token;
`step(token, depth)` feeds `token` at position `depth` of the completion and returns the
log-probabilities of the next one. The search visits nodes in depth-first order, so when it feeds a
token at `depth`, positions `0..depth-1` hold that node's ancestors: a stepper with a KV cache simply
overwrites position `depth` and attends to nothing after it. This module knows nothing about models.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol, Sequence


class Stepper(Protocol):
    def root(self) -> Sequence[float]:
        """Log-probabilities of the completion's first token (one per vocabulary id)."""

    def step(self, token: int, depth: int) -> Sequence[float]:
        """Feed `token` at completion position `depth`; log-probabilities of the token after it."""


@dataclass
class SearchStats:
    expanded: int = 0  # stepper calls (model forward steps)
    found: int = 0
    seconds: float = 0.0
    stopped_by: str = "done"  # done | candidates | deadline


def dfs(
    stepper: Stepper,
    eos: int,
    threshold: float,
    max_len: int,
    max_candidates: int,
    deadline: float = math.inf,
) -> tuple[list[tuple[list[int], float]], SearchStats]:
    """Completions with probability >= `threshold`, best first (see module doc)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if max_len < 1 or max_candidates < 1:
        raise ValueError(f"max_len and max_candidates must be >= 1, got {max_len}, {max_candidates}")
    t0 = time.time()
    floor = math.log(threshold)
    stats = SearchStats()
    found: list[tuple[list[int], float]] = []
    # Stack entries: (depth, token, logprob of the path including token, path before token).
    stack: list[tuple[int, int, float, list[int]]] = []

    def push_children(depth: int, logprobs: Sequence[float], base: float, path: list[int]) -> None:
        children = [(base + lp, tok) for tok, lp in enumerate(logprobs) if base + lp >= floor]
        children.sort()  # least probable pushed first, so the most probable is explored first
        for lp, tok in children:
            if tok == eos or depth + 1 < max_len:  # a non-eos token at the last position can never finish
                stack.append((depth, tok, lp, path))

    push_children(0, stepper.root(), 0.0, [])
    while stack:
        if time.time() >= deadline:
            stats.stopped_by = "deadline"
            break
        depth, tok, lp, path = stack.pop()
        if tok == eos:
            found.append(([*path, tok], lp))
            if len(found) >= max_candidates:
                stats.stopped_by = "candidates"
                break
            continue
        logprobs = stepper.step(tok, depth)
        stats.expanded += 1
        push_children(depth + 1, logprobs, lp, [*path, tok])
    found.sort(key=lambda c: -c[1])
    stats.found = len(found)
    stats.seconds = time.time() - t0
    return found, stats
