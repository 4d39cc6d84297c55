"""Rules of ARC-AGI-2 training tasks (not ARC-AGI-1 ones) that touch up a scene: a quarter's drawing mirrored
across a cross of lines into the other quarters, and pieces that sit inside another shape's box erased.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, extent, outline, paint, place, rect, shape
from tasks_lib.pretraining.rules.base import Grid, Registry, blank, components, pick, require, thaw

RULES = Registry()


def _mirror_across_cross(g: Grid) -> Grid:
    """60d73be6: on a background of 7, a full row and a full column of one colour cross; the drawing in one
    quarter is mirrored across the row, across the column and across both, as far as the grid reaches."""
    h, w = len(g), len(g[0])
    row = next(r for r in range(h) if len(set(g[r])) == 1 and g[r][0] != 7)
    col = next(c for c in range(w) if len({g[r][c] for r in range(h)}) == 1 and g[0][c] != 7)
    out = thaw(g)
    for r in range(h):
        for c in range(w):
            if r == row or c == col or g[r][c] == 7:
                continue
            for y, x in ((2 * row - r, c), (r, 2 * col - c), (2 * row - r, 2 * col - c)):
                if 0 <= y < h and 0 <= x < w:
                    out[y][x] = g[r][c]
    return out


def _quarter_drawing(rng: random.Random):
    h, w = rng.randint(8, 16), rng.randint(8, 17)
    row, col = rng.randint(2, h - 3), rng.randint(2, w - 3)
    line, *palette = pick(rng, rng.randint(3, 6), (0, 1, 2, 3, 4, 5, 6, 8, 9))
    g = blank(h, w, 7)
    rows = range(row) if rng.random() < 0.5 else range(row + 1, h)
    cols = range(col) if rng.random() < 0.5 else range(col + 1, w)
    for r in rows:
        for c in cols:
            if rng.random() < 0.35:
                g[r][c] = rng.choice(palette)
    g[row] = [line] * w
    for r in range(h):
        g[r][col] = line
    mirrored = [(r, c) for r in rows for c in cols if g[r][c] != 7
                and (0 <= 2 * row - r < h or 0 <= 2 * col - c < w)]
    require(bool(mirrored), "nothing of the drawing lands in the grid")
    return g


RULES.add("60d73be6", _mirror_across_cross, _quarter_drawing)


def _erase_nested(g: Grid) -> Grid:
    """9720b24f: on a background of 0, each piece (one colour, touching on edges or corners) whose box lies inside
    the box of a piece of another colour is erased."""
    pieces = [(g[cells[0][0]][cells[0][1]], cells, bbox(cells)) for cells in components(g, diagonal=True)]

    def within(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
        return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]

    out = thaw(g)
    for colour, cells, box in pieces:
        if any(other != colour and within(box, outer) for other, _, outer in pieces):
            paint(out, cells, 0)
    return out


def _hosts_and_guests(rng: random.Random):
    n = rng.randint(8, 15)
    hosts = [(rng.randint(3, 6), rng.randint(3, 7)) for _ in range(rng.randint(1, 3))]
    strays = [shape(rng, rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 3)) for _ in range(rng.randint(0, 3))]
    boxes = [rect(hh, ww) for hh, ww in hosts] + [rect(*extent(cells)) for cells in strays]
    g = blank(n, n)
    spots = place(rng, n, n, boxes, gap=1)
    colours = pick(rng, rng.randint(2, 5))
    for (hh, ww), (r0, c0) in zip(hosts, spots):
        host, guest = rng.sample(colours, 2)
        ring = outline(hh, ww)
        sides = [(r, c) for r, c in ring if (r in (0, hh - 1)) != (c in (0, ww - 1))]
        for r, c in rng.sample(sides, rng.randint(0, 1)):
            ring.remove((r, c))  # a gap in the wall; the ring stays one piece
        paint(g, ring, host, (r0, c0))
        if hh > 2 and ww > 2:
            inner = shape(rng, min(2, hh - 2), min(3, ww - 2), rng.randint(1, 3))
            ih, iw = extent(inner)
            paint(g, inner, guest, (r0 + rng.randint(1, hh - 1 - ih), c0 + rng.randint(1, ww - 1 - iw)))
    for cells, (r0, c0) in zip(strays, spots[len(hosts):]):
        paint(g, cells, rng.choice(colours), (r0, c0))
    return g


RULES.add("9720b24f", _erase_nested, _hosts_and_guests)
