"""Rules whose output is read off the input: copies placed by a key, crops of one object, quarter pictures,
shape codes, block codes, counts of blocks, colours by corner, bars sorted by length.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, crop, paint, place, rect, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, counts, flip_lr, flip_ud, hcat, pick, random_grid,
                                  require, sub, vcat)

RULES = Registry()


def _self_placed(key) -> object:
    """A 9x9 of 3x3 slots: the input is copied into slot (i, j) where `key(input, value at (i, j))` holds."""
    def solve(g: Grid) -> Grid:
        out = blank(9, 9)
        for i in range(3):
            for j in range(3):
                if key(g, g[i][j]):
                    for r in range(3):
                        out[3 * i + r][3 * j:3 * j + 3] = g[r]
        return out
    return solve


def _most_common(g: Grid, v: int) -> bool:
    return v == counts(g).most_common(1)[0][0]


def _clear_major(rng: random.Random):
    g = random_grid(rng, 3, 3, pick(rng, rng.randint(2, 4)))
    top = counts(g).most_common(2)
    require(len(top) > 1 and top[0][1] > top[1][1], "no unique majority")
    return g


RULES.add("c3e719e8", _self_placed(_most_common), _clear_major)


def _twos(rng: random.Random):
    g = random_grid(rng, 3, 3, [1, 2], rng.uniform(0.4, 0.7))
    require(any(2 in row for row in g), "no 2")
    return g


RULES.add("cce03e0d", _self_placed(lambda g, v: v == 2), _twos)


def _crop_twice(g: Grid) -> Grid:
    """28bf18c6: the one object, cropped, twice side by side."""
    box = crop(g, bbox(cells_of(g)))
    return hcat(box, box)


def _one_object(rng: random.Random):
    g = blank(8, 8)
    cells = shape(rng, 3, 3)
    require(max(r for r, _ in cells) == 2 and max(c for _, c in cells) == 2, "not a 3x3 object")
    (at,) = place(rng, 8, 8, [cells], gap=0)
    paint(g, cells, rng.randint(1, 9), at)
    return g


RULES.add("28bf18c6", _crop_twice, _one_object)


def _quarter(g: Grid) -> Grid:
    """2013d3e2: the top-left 3x3 quarter of the symmetric picture."""
    top, left, _, _ = bbox(cells_of(g))
    return sub(g, top, left, 3, 3)


def _symmetric_picture(rng: random.Random):
    q = random_grid(rng, 3, 3, pick(rng, 3), 0.75)
    q[2][2] = q[2][2] or rng.randint(1, 9)
    require(any(q[0]) and any(row[0] for row in q), "the quarter does not touch its box")
    top = hcat(q, flip_lr(q))
    pic = vcat(top, flip_ud(top))
    g = blank(10, 10)
    r0, c0 = rng.randint(0, 4), rng.randint(0, 4)
    for r in range(6):
        g[r0 + r][c0:c0 + 6] = pic[r]
    return g


RULES.add("2013d3e2", _quarter, _symmetric_picture)

_COLOUR_SHAPES = {2: ((5, 5, 5), (0, 5, 0), (0, 5, 0)), 1: ((0, 5, 0), (5, 5, 5), (0, 5, 0)),
                  3: ((0, 0, 5), (0, 0, 5), (5, 5, 5))}


def _colour_shape(g: Grid) -> Grid:
    """d4469b4b: the input's colour names a shape of 5: 2 a T, 1 a plus, 3 a corner."""
    return _COLOUR_SHAPES[next(v for row in g for v in row if v)]


RULES.add("d4469b4b", _colour_shape, lambda r: random_grid(r, 5, 5, [r.choice((1, 2, 3))], r.uniform(0.35, 0.6)))

_HOLES = {(): 2, ((1, 1), (1, 2), (2, 1), (2, 2)): 8, ((2, 1), (2, 2), (3, 1), (3, 2)): 4,
          ((1, 0), (1, 3), (2, 0), (2, 3)): 3}


def _block_codes(g: Grid) -> Grid:
    """995c5fa3: three 4x4 blocks of 5; where each has its hole names the colour of one output row."""
    rows = []
    for k in range(3):
        hole = tuple((r, c) for r in range(4) for c in range(4) if g[r][5 * k + c] == 0)
        rows.append((_HOLES[hole],) * 3)
    return tuple(rows)


def _holed_blocks(rng: random.Random):
    g = blank(4, 14)
    for k in range(3):
        hole = rng.choice(sorted(_HOLES))
        for r in range(4):
            for c in range(4):
                g[r][5 * k + c] = 0 if (r, c) in hole else 5
    return g


RULES.add("995c5fa3", _block_codes, _holed_blocks)


def _count_squares(g: Grid) -> Grid:
    """1fad071e: one 1 per 2x2 square of 1 (single 1s do not count), in a row of five."""
    n = 0
    for r in range(len(g) - 1):
        for c in range(len(g[0]) - 1):
            n += all(g[r + y][c + x] == 1 for y in (0, 1) for x in (0, 1))
    return ((1,) * n + (0,) * (5 - n),)


def _squares_and_dots(rng: random.Random):
    g = blank(9, 9)
    squares = [rect(2, 2)] * rng.randint(1, 5)
    colours = [1] * rng.randint(0, len(squares)) + [2] * 5
    dots = [[(0, 0)]] * rng.randint(1, 4)
    for i, at in enumerate(place(rng, 9, 9, squares + dots, gap=1)):
        if i < len(squares):
            paint(g, rect(2, 2), colours[i] if i < len(colours) else 2, at)
        else:
            g[at[0]][at[1]] = rng.choice((1, 2))
    require(sum(v == 1 for row in g for v in row) >= 4, "no square of 1")
    return g


RULES.add("1fad071e", _count_squares, _squares_and_dots)


def _corner_colours(g: Grid) -> Grid:
    """77fdfe62: inside the frame of 1s, each 8 takes the colour of the grid corner nearest its quarter."""
    h, w = len(g), len(g[0])
    inner = sub(g, 2, 2, h - 4, w - 4)
    n, m = len(inner), len(inner[0])
    return tuple(tuple(g[0 if r < n // 2 else h - 1][0 if c < m // 2 else w - 1] if v == 8 else v
                       for c, v in enumerate(row)) for r, row in enumerate(inner))


def _framed(rng: random.Random):
    k = rng.choice((2, 4))
    h = w = k + 4
    g = blank(h, w)
    for r in range(h):
        for c in range(w):
            if r in (1, h - 2) or c in (1, w - 2):
                g[r][c] = 1
    g[0][0], g[0][w - 1], g[h - 1][0], g[h - 1][w - 1] = pick(rng, 4, (2, 3, 4, 6, 7, 9))
    for r in range(k):
        for c in range(k):
            g[2 + r][2 + c] = 8 if rng.random() < 0.55 else 0
    return g


RULES.add("77fdfe62", _corner_colours, _framed)


def _sorted_bars(g: Grid) -> Grid:
    """beb8660c: the bars settle right-aligned on the floor of 8, the shortest on top."""
    h, w = len(g), len(g[0])
    bars = sorted(((sum(v != 0 for v in row), next(v for v in row if v)) for row in g[:-1] if any(row)), reverse=True)
    out = blank(h - 1, w) + [list(g[-1])]
    for i, (n, colour) in enumerate(bars):
        out[h - 2 - i][w - n:] = [colour] * n
    return out


def _bars(rng: random.Random):
    w = rng.randint(4, 8)
    k = rng.randint(2, w - 1)
    lengths = rng.sample(range(1, w), k)
    h = rng.randint(k + 1, 11)
    rows = [[0] * w for _ in range(h - 1)]
    for r, n, colour in zip(sorted(rng.sample(range(h - 1), k)), lengths, pick(rng, k, (1, 2, 3, 4, 5, 6, 7, 9))):
        start = rng.randint(0, w - n)
        rows[r][start:start + n] = [colour] * n
    return rows + [[8] * w]


RULES.add("beb8660c", _sorted_bars, _bars)


def _scaled_cells(g: Grid) -> Grid:
    """46f33fce: the cells on odd rows and columns of a 10x10, each blown up to a 4x4 block of a 20x20."""
    return tuple(tuple(g[2 * (r // 4) + 1][2 * (c // 4) + 1] for c in range(20)) for r in range(20))


def _odd_cells(rng: random.Random):
    g = blank(10, 10)
    for r, c in rng.sample([(r, c) for r in range(1, 10, 2) for c in range(1, 10, 2)], rng.randint(2, 6)):
        g[r][c] = rng.randint(1, 9)
    return g


RULES.add("46f33fce", _scaled_cells, _odd_cells)


def _count_bands(g: Grid) -> Grid:
    """1190e5a7: lines of one colour cut the background into a board; one cell per board cell, in the
    background colour."""
    line = next(row[0] for row in g if len(set(row)) == 1)
    bg = next(v for row in g for v in row if v != line)

    def bands(lines: list[bool]) -> int:
        return sum(1 for i, full in enumerate(lines) if not full and (i == 0 or lines[i - 1]))
    rows = bands([all(v == line for v in row) for row in g])
    cols = bands([all(row[c] == line for row in g) for c in range(len(g[0]))])
    return tuple((bg,) * cols for _ in range(rows))


def _ruled(rng: random.Random):
    h, w = rng.randint(8, 22), rng.randint(8, 22)
    bg, line = pick(rng, 2)
    rows = rng.sample(range(h), rng.randint(1, 4))
    cols = rng.sample(range(w), rng.randint(1, 4))
    return [[line if r in rows or c in cols else bg for c in range(w)] for r in range(h)]


RULES.add("1190e5a7", _count_bands, _ruled)
