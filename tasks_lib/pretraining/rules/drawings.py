"""Rules that draw outward from marks: staircases beside a line, zigzags, diagonal crosses, diagonal stripes,
a fixed fill of a zigzag strip, rising diagonals, markers under cups, diagonal halos of tiled copies.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, paint, place
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, hcat, pick, require, thaw, vcat)

RULES = Registry()


def _steps_beside(g: Grid) -> Grid:
    """db3e9e38: beside a line of 7 hanging from the top, columns shorten by one each step out, alternating
    8 and 7."""
    line = cells_of(g, 7)
    col, length = line[0][1], len(line)
    out = thaw(g)
    for c in range(len(g[0])):
        d = abs(c - col)
        for r in range(max(0, length - d)):
            out[r][c] = 7 if d % 2 == 0 else 8
    return out


def _hanging_line(rng: random.Random):
    h, w = rng.randint(5, 9), rng.randint(5, 9)
    g = blank(h, w)
    c = rng.randrange(w)
    for r in range(rng.randint(2, h - 1)):
        g[r][c] = 7
    return g


RULES.add("db3e9e38", _steps_beside, _hanging_line)


def _zigzag_down(g: Grid) -> Grid:
    """3ac3eb23: each cell of the top row zigzags down: itself on even rows, its two neighbours on odd rows."""
    out = thaw(g)
    for _, c in cells_of(g):
        colour = g[0][c]
        for r in range(len(g)):
            for x in ((c,) if r % 2 == 0 else (c - 1, c + 1)):
                if 0 <= x < len(g[0]):
                    out[r][x] = colour
    return out


def _top_marks(rng: random.Random):
    h, w = 6, rng.randint(5, 12)
    g = blank(h, w)
    cols = [c for c in range(1, w - 1)]
    chosen = []
    for c in rng.sample(cols, len(cols)):
        if all(abs(c - d) > 3 for d in chosen) and len(chosen) < 2:
            chosen.append(c)
    for c, colour in zip(chosen, pick(rng, 2)):
        g[0][c] = colour
    return g


RULES.add("3ac3eb23", _zigzag_down, _top_marks)


def _diagonal_cross(g: Grid) -> Grid:
    """ea786f4a: both diagonals through the centre 0 become 0."""
    n = len(g)
    return tuple(tuple(0 if r == c or r + c == n - 1 else v for c, v in enumerate(row)) for r, row in enumerate(g))


def _centre_hole(rng: random.Random):
    n = rng.choice((3, 5, 7, 9, 11))
    g = blank(n, n, rng.randint(1, 9))
    g[n // 2][n // 2] = 0
    return g


RULES.add("ea786f4a", _diagonal_cross, _centre_hole)


def _diagonal_stripes(g: Grid) -> Grid:
    """05269061: the diagonal stripes shown repeat with period 3 over the whole grid."""
    colour = {(r + c) % 3: v for r, row in enumerate(g) for c, v in enumerate(row) if v}
    return tuple(tuple(colour[(r + c) % 3] for c in range(len(g[0]))) for r in range(len(g)))


def _some_stripes(rng: random.Random):
    colours = pick(rng, 3)
    g = blank(7, 7)
    diagonals = rng.sample(range(13), rng.randint(3, 5))
    for d in diagonals:
        for r in range(7):
            if 0 <= d - r < 7:
                g[r][d - r] = colours[d % 3]
    require(len({d % 3 for d in diagonals}) == 3, "a stripe class is missing")
    return g


RULES.add("05269061", _diagonal_stripes, _some_stripes)

_ZIGZAG = ("2000", "0202", "0020")  # 7447852a: the strip repeats this every 4 columns


def _zigzag_fill(g: Grid) -> Grid:
    """7447852a: in the zigzag strip of 2, every third gap (from the left) is filled with 4."""
    out = thaw(g)
    gaps = components([[1 if v == 0 else 0 for v in row] for row in g], diagonal=False)
    for i, cells in enumerate(sorted(gaps, key=lambda cells: min(c for _, c in cells))):
        if i % 3 == 0:
            paint(out, cells, 4)
    return out


def _zigzag_strip(rng: random.Random):
    w = rng.randint(5, 25)
    return [[int(_ZIGZAG[r][c % 4]) for c in range(w)] for r in range(3)]


RULES.add("7447852a", _zigzag_fill, _zigzag_strip)


def _rising_diagonals(g: Grid) -> Grid:
    """b8cdaf2b: from the ends of the cup's top bar, diagonals of the bottom row's middle colour rise outward."""
    h, w = len(g), len(g[0])
    bar = [c for c in range(w) if g[h - 2][c]]
    colour = g[h - 1][w // 2]
    out = thaw(g)
    for start, step in ((bar[0] - 1, -1), (bar[-1] + 1, 1)):
        r, c = h - 3, start
        while r >= 0 and 0 <= c < w:
            out[r][c] = colour
            r, c = r - 1, c + step
    return out


def _cup(rng: random.Random):
    w = rng.choice((3, 5, 5, 7, 9))
    m = rng.choice([k for k in range(1, w - 1, 2)])
    h = rng.randint(max(3, (w - m) // 2 + 2), w)
    outer, inner = pick(rng, 2)
    g = blank(h, w)
    side = (w - m) // 2
    g[h - 1] = [outer] * side + [inner] * m + [outer] * side
    g[h - 2][side:side + m] = [outer] * m
    return g


RULES.add("b8cdaf2b", _rising_diagonals, _cup)


def _under_cups(g: Grid) -> Grid:
    """54d82841: under the middle of each cup, the bottom row gets a 4."""
    out = thaw(g)
    for cells in components(g):
        _, left, _, right = bbox(cells)
        out[len(g) - 1][(left + right) // 2] = 4
    return out


def _cups(rng: random.Random):
    h = w = rng.randint(5, 11)
    g = blank(h, w)
    cup = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2)]
    n = rng.randint(1, 3)
    for at in place(rng, h - 2, w, [cup] * n, gap=1):
        paint(g, cup, rng.choice((3, 6, 8)), at)
    return g


RULES.add("54d82841", _under_cups, _cups)


def _tiled_halos(g: Grid) -> Grid:
    """10fcaaa3: the grid tiled 2x2; every empty cell diagonal to a colour becomes 8."""
    big = vcat(hcat(g, g), hcat(g, g))
    out = thaw(big)
    for r, c in cells_of(big):
        for dr in (-1, 1):
            for dc in (-1, 1):
                if 0 <= r + dr < len(big) and 0 <= c + dc < len(big[0]) and big[r + dr][c + dc] == 0:
                    out[r + dr][c + dc] = 8
    return out


def _few_cells(rng: random.Random):
    h, w = rng.randint(2, 4), rng.randint(2, 4)
    g = blank(h, w)
    colour = rng.choice((2, 4, 5, 6))
    for r, c in rng.sample([(r, c) for r in range(h) for c in range(w)], rng.randint(1, 2)):
        g[r][c] = colour
    return g


RULES.add("10fcaaa3", _tiled_halos, _few_cells)
