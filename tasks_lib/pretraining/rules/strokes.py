"""Rules of ARC-AGI-2 training tasks (not ARC-AGI-1 ones) about straight strokes: segments turned about their middle,
lines marking a landscape's deepest valley and highest peak, water poured into cups, and bands of a colour cycle
drawn by distance from one cell.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import paint, place
from tasks_lib.pretraining.rules.base import Grid, Registry, blank, cells_of, components, require, thaw

RULES = Registry()


def _turn_segments(g: Grid) -> Grid:
    """f0f8a26d: on a background of 7, each straight segment of odd length turns a quarter about its middle cell."""
    out = blank(len(g), len(g[0]), 7)
    for cells in components(g, bg=7, diagonal=False):
        (r0, c0), colour = cells[len(cells) // 2], g[cells[0][0]][cells[0][1]]
        paint(out, [(r0 + c - c0, c0 + r - r0) for r, c in cells], colour)
    return out


def _odd_segments(rng: random.Random):
    n = rng.choice((9, 9, 11, 13))
    lengths = [rng.choice((3, 3, 5, 5, 7)) for _ in range(rng.randint(3, 7))]
    upright = [rng.random() < 0.5 for _ in lengths]
    # each segment as its plus-shaped footprint (itself and its turned self), so both fit and stay apart
    marks = [[(k, m // 2) for k in range(m)] + [(m // 2, k) for k in range(m)] for m in lengths]
    g = blank(n, n, 7)
    colour = rng.choice((2, 5, 8, 9))
    for length, up, (r0, c0) in zip(lengths, upright, place(rng, n, n, marks, gap=1)):
        half = length // 2
        line = [(k, half) for k in range(length)] if up else [(half, k) for k in range(length)]
        paint(g, line, colour, (r0, c0))
    return g


RULES.add("f0f8a26d", _turn_segments, _odd_segments)


def _valley_and_peak(g: Grid) -> Grid:
    """e45ef808: below a blank top row, each column holds 1s above 6s; the column whose 1s reach deepest becomes 9
    and the one whose 6s reach highest (the rightmost on a tie) becomes 4, over their 1s."""
    h, w = len(g), len(g[0])
    depth = [next(r for r in range(1, h) if g[r][c] == 6) for c in range(w)]
    deep = max(range(w), key=lambda c: depth[c])
    high = max(range(w), key=lambda c: (-depth[c], c))
    out = thaw(g)
    for c, colour in ((deep, 9), (high, 4)):
        for r in range(1, depth[c]):
            out[r][c] = colour
    return out


def _landscape(rng: random.Random):
    depth, d = [], rng.randint(7, 9)
    for _ in range(12):
        d = max(6, min(10, d + rng.choice((-2, -1, -1, 0, 0, 1, 1, 2))))
        depth.append(d)
    deep, high = rng.sample(range(12), 2)  # one valley and one peak, each a line beyond the rest
    depth[deep], depth[high] = max(depth) + 1, min(depth) - 1
    return [[0] * 12] + [[1 if r < depth[c] else 6 for c in range(12)] for r in range(1, 12)]


RULES.add("e45ef808", _valley_and_peak, _landscape)


def _pour(g: Grid, r: int, c: int) -> list[tuple[int, int]]:
    """The cells water dropped at (r, c) fills: it falls to the bottom row (and fills all of it) or onto a cup's
    floor, runs along the floor and drops through any hole in it, and else fills the cup up to its walls' top."""
    h, w = len(g), len(g[0])
    while r + 1 < h and g[r + 1][c] == 0:
        r += 1
    if r == h - 1:
        return [(r, x) for x in range(w)]
    walls = []
    for step in (-1, 1):
        x = c
        while g[r][x + step] == 0:
            x += step
            if g[r + 1][x] == 0:
                return _pour(g, r, x)
        walls.append(x + step)
    left, right = walls
    cells = []
    while r >= 0 and g[r][left] == 2 and g[r][right] == 2:
        cells += [(r, x) for x in range(left + 1, right)]
        r -= 1
    return cells


def _fill_cup(g: Grid) -> Grid:
    """db7260a4: a 1 in the top row is water poured down onto cups of 2 (upright walls on a floor): it fills the
    first cup it lands in that holds water, runs through cups with a hole in the floor, and when it reaches the
    bottom it covers the whole bottom row; the 1 itself goes."""
    (r, c), = cells_of(g, 1)
    out = thaw(g)
    out[r][c] = 0
    paint(out, _pour(out, r, c), 1)
    return out


def _cups(rng: random.Random):
    cups = []
    for _ in range(rng.choice((1, 1, 2))):
        ch, cw = rng.randint(3, 4), rng.randint(3, 8)
        walls = [(r, c) for r in range(ch) for c in (0, cw - 1)]
        cups.append(walls + [(ch - 1, c) for c in range(1, cw - 1)])
    g = blank(10, 10)
    holes, wall_cols = [], set()
    for cells, (r0, c0) in zip(cups, place(rng, 8, 10, cups, gap=1)):
        paint(g, cells, 2, (r0 + 2, c0))
        ch, cw = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
        wall_cols |= {c0, c0 + cw - 1}
        if rng.random() < 0.4:
            hole = (r0 + 1 + ch, c0 + rng.randint(1, cw - 2))
            g[hole[0]][hole[1]] = 0
            holes.append(hole[1])
    c = rng.randrange(10)
    require(not ({c} | set(holes)) & wall_cols, "water would land on a wall's top")
    g[0][c] = 1
    return g


RULES.add("db7260a4", _fill_cup, _cups)

CYCLE = (3, 4, 0, 5, 2, 8, 9, 6, 1)  # aaef0977: the colours by distance, from the marked cell's own


def _distance_bands(g: Grid) -> Grid:
    """aaef0977: an 8x8 of 7 holds one coloured cell; every cell takes the colour that lies as many steps on in a
    fixed cycle of nine colours as its row-plus-column distance from that cell."""
    (r0, c0), = cells_of(g, bg=7)
    start = CYCLE.index(g[r0][c0])
    return [[CYCLE[(start + abs(r - r0) + abs(c - c0)) % 9] for c in range(8)] for r in range(8)]


def _one_cell(rng: random.Random):
    g = blank(8, 8, 7)
    g[rng.randrange(8)][rng.randrange(8)] = rng.choice(CYCLE)
    return g


RULES.add("aaef0977", _distance_bands, _one_cell)
