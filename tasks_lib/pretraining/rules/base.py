"""What every training task's rule is made of: the `Rule` record, a per-module registry, grid operations.

Contract:
- A `Rule` holds one ARC training task's rule as a program: `solve(grid) -> grid` maps an input of the task to
  its output, and `sample(rng) -> grid` draws a fresh input in the style of the task's own inputs (sizes,
  colours, object counts drawn like theirs). A fresh pair is `(x, solve(x))` for `x = sample(rng)`. `sample`
  may raise `Retry` when a draw cannot meet the task's constraints; it uses only the rng it is given, so a
  rule's pairs are deterministic in the rng's seed. `solve` is pure and may assume its input is in the task's
  style (every given input and every sampled one is). Either may return a canvas (lists); `Rule.pair` freezes.
- `Registry` maps task id -> `Rule`; `add` and the `rule` decorator refuse a second rule for one task id.
- The grid operations below take grids or canvases and return `tasks_lib.arc.data.Grid` (tuples of tuples).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from tasks_lib.arc.data import Grid
from tasks_lib.pretraining.generators.grid import Canvas, Retry, blank, components, freeze, noise, outside, thaw

AnyGrid = Grid | Canvas
Solve = Callable[[Grid], AnyGrid]
Sample = Callable[[random.Random], AnyGrid]

__all__ = ["AnyGrid", "Canvas", "Grid", "Registry", "Retry", "Rule", "blank", "components", "freeze", "outside", "thaw"]


@dataclass(frozen=True)
class Rule:
    """One training task's rule: `solve` computes outputs, `sample` draws inputs in the task's style."""

    task_id: str
    solve: Solve
    sample: Sample

    def pair(self, rng: random.Random) -> tuple[Grid, Grid]:
        """A fresh (input, output) pair; raises `Retry` when the input draw fails."""
        x = freeze(self.sample(rng))
        return x, freeze(self.solve(x))


class Registry(dict[str, Rule]):
    """task id -> Rule, one rule per task id."""

    def add(self, task_id: str, solve: Solve, sample: Sample) -> None:
        if task_id in self:
            raise ValueError(f"task {task_id}: a rule is already registered")
        self[task_id] = Rule(task_id, solve, sample)

    def rule(self, task_id: str, sample: Sample) -> Callable[[Solve], Solve]:
        """Decorator: register the decorated function as `task_id`'s solve, with `sample` as its input drawer."""
        def register(solve: Solve) -> Solve:
            self.add(task_id, solve, sample)
            return solve
        return register


# --- whole-grid operations -------------------------------------------------------------------------------

def flip_lr(g: AnyGrid) -> Grid:
    return tuple(tuple(reversed(row)) for row in g)


def flip_ud(g: AnyGrid) -> Grid:
    return tuple(tuple(row) for row in reversed(g))


def transpose(g: AnyGrid) -> Grid:
    return tuple(zip(*g))


def rot90(g: AnyGrid) -> Grid:
    """A quarter turn clockwise."""
    return tuple(zip(*reversed(g)))


def rot180(g: AnyGrid) -> Grid:
    return flip_ud(flip_lr(g))


def rot270(g: AnyGrid) -> Grid:
    """A quarter turn anticlockwise."""
    return flip_ud(transpose(g))


def hcat(*grids: AnyGrid) -> Grid:
    return tuple(tuple(v for g in grids for v in g[r]) for r in range(len(grids[0])))


def vcat(*grids: AnyGrid) -> Grid:
    return tuple(tuple(row) for g in grids for row in g)


def upscale(g: AnyGrid, ky: int, kx: int | None = None) -> Grid:
    """Each cell becomes a ky x kx block."""
    kx = ky if kx is None else kx
    return tuple(tuple(v for v in row for _ in range(kx)) for row in g for _ in range(ky))


def recolour(g: AnyGrid, mapping: Mapping[int, int]) -> Grid:
    return tuple(tuple(mapping.get(v, v) for v in row) for row in g)


def sub(g: AnyGrid, top: int, left: int, h: int, w: int) -> Grid:
    return tuple(tuple(row[left:left + w]) for row in g[top:top + h])


def cells_of(g: AnyGrid, colour: int | None = None, bg: int = 0) -> list[tuple[int, int]]:
    """Cells of `colour` (every non-`bg` cell when None), in reading order."""
    return [(r, c) for r, row in enumerate(g) for c, v in enumerate(row)
            if (v == colour if colour is not None else v != bg)]


def elbow(start: tuple[int, int], end: tuple[int, int], column_first: bool) -> list[tuple[int, int]]:
    """The cells of the L-shaped path from `start` along its column (or, not `column_first`, its row) to `end`'s
    row (column), then on to `end`; both ends left out, the corner in. The ends differ in row and column."""
    (r0, c0), (r1, c1) = start, end
    if not column_first:
        return [(r, c) for c, r in elbow((c0, r0), (c1, r1), True)]
    dr, dc = (1 if r1 > r0 else -1), (1 if c1 > c0 else -1)
    return [(r, c0) for r in range(r0 + dr, r1 + dr, dr)] + [(r1, c) for c in range(c0 + dc, c1, dc)]


def rays_to_box(g: AnyGrid, box: tuple[int, int, int, int], skip: set[tuple[int, int]], bg: int = 0) -> Grid:
    """Each non-`bg` cell outside `skip` that lies in the rows or columns of `box` (top, left, bottom, right) draws a
    line of its colour from itself up to the box's edge."""
    top, left, bottom, right = box
    out = thaw(g)
    for r, c in cells_of(g, bg=bg):
        if (r, c) in skip:
            continue
        if top <= r <= bottom:
            for x in (range(c, left) if c < left else range(right + 1, c + 1)):
                out[r][x] = g[r][c]
        elif left <= c <= right:
            for y in (range(r, top) if r < top else range(bottom + 1, r + 1)):
                out[y][c] = g[r][c]
    return freeze(out)


def counts(g: AnyGrid) -> Counter:
    return Counter(v for row in g for v in row)


def palette_of(g: AnyGrid, bg: int | None = 0) -> set[int]:
    return {v for row in g for v in row if v != bg}


def tile_period(g: AnyGrid, hole: int = 0) -> tuple[int, int]:
    """The smallest (rows, columns) period that every cell but the `hole` colour agrees with, every class of the
    period seen; ValueError when none fits."""
    h, w = len(g), len(g[0])
    best = None
    for py in range(1, h + 1):
        for px in range(1, w + 1):
            seen: dict[tuple[int, int], int] = {}
            if all(seen.setdefault((r % py, c % px), g[r][c]) == g[r][c] for r in range(h) for c in range(w) if g[r][c] != hole):
                if len(seen) == py * px and (best is None or py * px < best[0] * best[1]):
                    best = (py, px)
    if best is None:
        raise ValueError("no period fits")
    return best


# --- input drawing ---------------------------------------------------------------------------------------

def punch_holes(rng: random.Random, g: Canvas, period: tuple[int, int], holes: int, size: tuple[int, int]) -> Canvas:
    """Clear `holes` random rectangles (sides drawn from `size`) of the tiled canvas `g` to 0, in place, and raise
    `Retry` unless the cells left still show the tile's period `period` and no shorter one."""
    h, w = len(g), len(g[0])
    for _ in range(holes):
        hh, hw = rng.randint(*size), rng.randint(*size)
        top, left = rng.randint(0, h - hh), rng.randint(0, w - hw)
        for r in range(top, top + hh):
            for c in range(left, left + hw):
                g[r][c] = 0
    try:
        found = tile_period(g)
    except ValueError:
        raise Retry("a hole hides a whole class of the tile") from None
    require(found == period, "the holes leave another period")
    return g


def two_cells(first: int, second: int, rows: tuple[int, int], cols: tuple[int, int]) -> Sample:
    """Sampler: a blank grid (height drawn from `rows`, width from `cols`) holding one cell of `first` and one of
    `second`, in different rows and columns."""
    def sample(rng: random.Random) -> Canvas:
        h, w = rng.randint(*rows), rng.randint(*cols)
        (r0, r1), (c0, c1) = rng.sample(range(h), 2), rng.sample(range(w), 2)
        g = blank(h, w)
        g[r0][c0], g[r1][c1] = first, second
        return g
    return sample


def stripe_line(rng: random.Random, n: int, widths: tuple[int, int]) -> list[int]:
    """One line of n runs of colours 1-9, no two neighbouring runs alike, each run's width drawn from `widths`."""
    colours = [rng.randint(1, 9) for _ in range(n)]
    require(all(a != b for a, b in zip(colours, colours[1:])), "equal neighbours")
    lengths = [rng.randint(*widths) for _ in range(n)]
    return [c for c, k in zip(colours, lengths) for _ in range(k)]


def random_grid(rng: random.Random, h: int, w: int, palette: Sequence[int], density: float = 1.0, bg: int = 0) -> Canvas:
    """Each cell a random palette colour with probability `density`, else `bg`: `grid.noise`, dense by default."""
    return noise(rng, h, w, palette, density, bg)


def pick(rng: random.Random, n: int, pool: Sequence[int] = tuple(range(1, 10))) -> list[int]:
    """n distinct colours from `pool`."""
    if n > len(pool):
        raise Retry(f"need {n} colours from {len(pool)}")
    return rng.sample(list(pool), n)


def require(ok: bool, why: str) -> None:
    """Raise `Retry` (draw again) unless `ok`."""
    if not ok:
        raise Retry(why)
