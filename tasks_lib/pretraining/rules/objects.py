"""Rules about objects and regions: filling enclosed space, rings around cells, recolouring objects by size
or rank, gravity and shifts, crops of one object, counting objects, compressing blocks.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, crop, ell, outline, paint, place, rect, scatter, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, counts, freeze, outside, pick,
                                  random_grid, require, stripe_line, sub, thaw, transpose, upscale)

RULES = Registry()
RING = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)


def _fill_enclosed(colour: int):
    def solve(g: Grid) -> Grid:
        out = outside(g)
        return tuple(tuple(colour if v == 0 and (r, c) not in out else v for c, v in enumerate(row))
                     for r, row in enumerate(g))
    return solve


def _outlines(colour: int, lo: int, hi: int, n: tuple[int, int], holes: float):
    """Sampler: hollow rectangles of `colour` (some with a gap in the wall, some with a dot inside)."""
    def sample(rng: random.Random):
        h, w = rng.randint(lo, hi), rng.randint(lo, hi)
        g = blank(h, w)
        boxes = [rect(rng.randint(3, min(7, h)), rng.randint(3, min(7, w))) for _ in range(rng.randint(*n))]
        for cells, at in zip(boxes, place(rng, h, w, boxes, gap=1)):
            bh, bw = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
            wall = outline(bh, bw)
            if rng.random() < holes:
                wall.remove(rng.choice([(r, c) for r, c in wall if (r in (0, bh - 1)) != (c in (0, bw - 1))]))
            paint(g, wall, colour, at)
            if bh > 4 and bw > 4 and rng.random() < 0.5:
                g[at[0] + bh // 2][at[1] + bw // 2] = colour
        require(any(v == 0 and (r, c) not in outside(g) for r, row in enumerate(g) for c, v in enumerate(row)),
                "nothing enclosed")
        return g
    return sample


RULES.add("a5313dff", _fill_enclosed(1), _outlines(2, 8, 12, (1, 3), 0.2))
RULES.add("00d62c1b", _fill_enclosed(4), _outlines(3, 6, 20, (1, 4), 0.3))


def _ring(centre: int, colour: int):
    """Every cell of `centre` gets a ring of `colour` on its empty 8 neighbours."""
    def solve(g: Grid) -> Grid:
        out = thaw(g)
        for r, c in cells_of(g, centre):
            for dr, dc in RING:
                if 0 <= r + dr < len(g) and 0 <= c + dc < len(g[0]) and g[r + dr][c + dc] == 0:
                    out[r + dr][c + dc] = colour
        return out
    return solve


def _dots(lo: int, hi: int, n: tuple[int, int], main: int, others: tuple[int, ...]):
    """Sampler: single cells far enough apart that rings never touch another dot; some are `main`."""
    def sample(rng: random.Random):
        h, w = rng.randint(lo, hi), rng.randint(lo, hi)
        g = blank(h, w)
        k = rng.randint(*n)
        at = place(rng, h, w, [[(0, 0)]] * k, gap=2)
        for i, (r, c) in enumerate(at):
            g[r][c] = main if i == 0 or not others or rng.random() < 0.5 else rng.choice(others)
        return g
    return sample


RULES.add("4258a5f9", _ring(5, 1), _dots(9, 9, (2, 5), 5, ()))
RULES.add("dc1df850", _ring(2, 1), _dots(4, 10, (2, 5), 2, (3, 6, 7, 8)))
RULES.add("6f8cd79b", lambda g: [[8 if r in (0, len(g) - 1) or c in (0, len(g[0]) - 1) else 0
                                  for c in range(len(g[0]))] for r in range(len(g))],
          lambda r: blank(r.randint(3, 6), r.randint(3, 6)))


def _bridge(g: Grid) -> Grid:
    """a699fb00: a gap between two 1s in a row becomes 2."""
    return tuple(tuple(2 if 0 < c < len(row) - 1 and v == 0 and row[c - 1] == row[c + 1] == 1 else v
                       for c, v in enumerate(row)) for row in g)


def _pairs_of_ones(rng: random.Random):
    h = w = rng.choice((5, 10, 10))
    g = blank(h, w)
    for r in rng.sample(range(h), rng.randint(2, max(2, h // 2))):
        c = rng.randint(0, w - 3)
        for k in range(rng.randint(1, max(1, (w - c - 1) // 2))):
            g[r][c + 2 * k] = g[r][c + 2 * k + 2] = 1
    return g


RULES.add("a699fb00", _bridge, _pairs_of_ones)


def _corner(g: Grid) -> Grid:
    """3aa6fb7a: an L of three cells gets its missing 2x2 corner coloured 1."""
    out = thaw(g)
    for r in range(len(g) - 1):
        for c in range(len(g[0]) - 1):
            block = [(r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)]
            empty = [p for p in block if g[p[0]][p[1]] == 0]
            if len(empty) == 1 and all(g[y][x] == 8 for y, x in block if (y, x) not in empty):
                out[empty[0][0]][empty[0][1]] = 1
    return out


def _ells(rng: random.Random):
    return scatter(rng, 7, 7, [ell(rng) for _ in range(rng.randint(2, 4))], 8)


RULES.add("3aa6fb7a", _corner, _ells)


def _by_size(colours: dict[int, int], diagonal: bool):
    def solve(g: Grid) -> Grid:
        out = thaw(g)
        for cells in components(g, diagonal=diagonal):
            paint(out, cells, colours[len(cells)])
        return out
    return solve


def _shapes(h: tuple[int, int], sizes: tuple[int, ...], n: tuple[int, int], colour: int):
    def sample(rng: random.Random):
        hh = rng.randint(*h)
        shapes = [shape(rng, 3, 3, rng.choice(sizes)) for _ in range(rng.randint(*n))]
        return scatter(rng, hh, hh, shapes, colour)
    return sample


RULES.add("6e82a1ae", _by_size({4: 1, 3: 2, 2: 3}, False), _shapes((10, 10), (2, 3, 4), (3, 6), 5))


def _bars_by_height(g: Grid) -> Grid:
    """08ed6ac7: bars of 5 rising from the bottom, coloured 1, 2, 3, 4 from tallest to shortest."""
    heights = {c: sum(row[c] == 5 for row in g) for c in range(len(g[0])) if any(row[c] == 5 for row in g)}
    rank = {c: i + 1 for i, c in enumerate(sorted(heights, key=lambda c: -heights[c]))}
    return tuple(tuple(rank[c] if v == 5 else v for c, v in enumerate(row)) for row in g)


def _bars(rng: random.Random):
    g = blank(9, 9)
    for c, height in zip((1, 3, 5, 7), rng.sample(range(1, 10), 4)):
        for r in range(9 - height, 9):
            g[r][c] = 5
    return g


RULES.add("08ed6ac7", _bars_by_height, _bars)


def _down_recolour(g: Grid) -> Grid:
    """a79310a0: the shape of 8 moves one row down and turns 2."""
    return ((0,) * len(g[0]),) + tuple(tuple(2 if v == 8 else v for v in row) for row in g[:-1])


def _one_shape(colour: int, lo: int, hi: int, keep_bottom_clear: bool):
    def sample(rng: random.Random):
        h = w = rng.randint(lo, hi)
        g = blank(h, w)
        cells = shape(rng, rng.randint(1, 4), rng.randint(1, 4))
        (at,) = place(rng, h - 1 if keep_bottom_clear else h, w, [cells], gap=0)
        paint(g, cells, colour, at)
        return g
    return sample


RULES.add("a79310a0", _down_recolour, _one_shape(8, 5, 9, True))


def _gravity(g: Grid) -> Grid:
    """1e0a9b12: every coloured cell falls to the bottom of its column."""
    cols = []
    for col in transpose(g):
        full = [v for v in col if v]
        cols.append((0,) * (len(col) - len(full)) + tuple(full))
    return transpose(cols)


RULES.add("1e0a9b12", _gravity, lambda r: random_grid(r, s := r.randint(4, 6), s, pick(r, r.randint(2, 5)), r.uniform(0.2, 0.4)))


def _fill_down(g: Grid) -> Grid:
    """d037b0a7: every coloured cell paints the empty cells below it."""
    out = thaw(g)
    for r in range(1, len(g)):
        for c in range(len(g[0])):
            if out[r][c] == 0:
                out[r][c] = out[r - 1][c]
    return out


RULES.add("d037b0a7", _fill_down, lambda r: random_grid(r, 3, 3, pick(r, 3), 0.3))


def _denoise_blocks(g: Grid) -> Grid:
    """5614dbcf: 3x3 blocks, some flecked with 5; each block becomes one cell of its main colour."""
    return tuple(tuple(counts(sub(g, r, c, 3, 3)).most_common(1)[0][0] for c in range(0, len(g[0]), 3))
                 for r in range(0, len(g), 3))


def _flecked(rng: random.Random):
    small = random_grid(rng, 3, 3, pick(rng, 4, (1, 2, 3, 4, 6, 7, 8, 9)), 0.6)
    g = thaw(upscale(small, 3))
    for r, c in rng.sample([(r, c) for r in range(9) for c in range(9)], rng.randint(2, 7)):
        if sum(g[y][x] == 5 for y in range(r - r % 3, r - r % 3 + 3) for x in range(c - c % 3, c - c % 3 + 3)) < 2:
            g[r][c] = 5
    return g


RULES.add("5614dbcf", _denoise_blocks, _flecked)


def _crop_all(g: Grid) -> Grid:
    return crop(g, bbox(cells_of(g)))


def _shape_in(lo: int, hi: int, box: int):
    def sample(rng: random.Random):
        g = blank(rng.randint(lo, hi), rng.randint(lo, hi))
        cells = shape(rng, rng.randint(2, box), rng.randint(2, box))
        (at,) = place(rng, len(g), len(g[0]), [cells], gap=0)
        paint(g, cells, rng.randint(1, 9), at)
        return g
    return sample


RULES.add("1cf80156", _crop_all, _shape_in(10, 12, 5))


def _crop_largest(g: Grid) -> Grid:
    """be94b721: crop the colour with the most cells (one object per colour), other colours blanked."""
    colour = max((n, v) for v, n in counts(g).items() if v)[1]
    box = bbox(cells_of(g, colour))
    return tuple(tuple(v if v == colour else 0 for v in row) for row in crop(g, box))


def _few_objects(rng: random.Random):
    h, w = rng.randint(5, 8), rng.randint(7, 13)
    g = blank(h, w)
    palette = pick(rng, rng.randint(2, 4))
    shapes = [shape(rng, rng.randint(2, 4), rng.randint(2, 3)) for _ in palette]
    sizes = sorted(len(s) for s in shapes)
    require(sizes[-1] > sizes[-2], "no unique largest")
    for cells, at, colour in zip(shapes, place(rng, h, w, shapes, gap=1), palette):
        paint(g, cells, colour, at)
    return g


RULES.add("be94b721", _crop_largest, _few_objects)


def _count_diagonal(g: Grid) -> Grid:
    """d0f5fe59: n objects of 8 give an n x n grid with 8 on the diagonal."""
    n = len(components(g, diagonal=True))
    return tuple(tuple(8 if r == c else 0 for c in range(n)) for r in range(n))


RULES.add("d0f5fe59", _count_diagonal, lambda r: _shapes((8, 16), (2, 3, 4, 5), (1, 6), 8)(r))


def _dedup_runs(g: Grid) -> Grid:
    """Drop every row equal to the row above, then every column equal to the column left of it."""
    rows = [row for i, row in enumerate(g) if i == 0 or row != g[i - 1]]
    cols = transpose(rows)
    return transpose([col for i, col in enumerate(cols) if i == 0 or col != cols[i - 1]])


def _stripes(rng: random.Random):
    line = stripe_line(rng, rng.randint(2, 5), (1, 2))
    g = [line for _ in range(rng.randint(1, 4))]
    return transpose(g) if rng.random() < 0.5 else freeze(g)


RULES.add("746b3537", _dedup_runs, _stripes)
RULES.add("90c28cc7", lambda g: _dedup_runs(_crop_all(g)), lambda r: _blocks(r))


def _blocks(rng: random.Random):
    ny, nx = rng.randint(2, 3), rng.randint(2, 3)
    colours = [[rng.randint(1, 9) for _ in range(nx)] for _ in range(ny)]
    require(all(a != b for row in colours for a, b in zip(row, row[1:])), "equal neighbours in a row")
    require(all(colours[i] != colours[i + 1] for i in range(ny - 1)), "equal rows")
    require(all(any(colours[i][j] != colours[i][j + 1] for i in range(ny)) for j in range(nx - 1)), "equal columns")
    hs = [rng.randint(2, 6) for _ in range(ny)]
    ws = [rng.randint(2, 7) for _ in range(nx)]
    g = blank(21, 21)
    top, left = rng.randint(0, 21 - sum(hs)), rng.randint(0, 21 - sum(ws))
    require(top + sum(hs) <= 21 and left + sum(ws) <= 21, "too big")
    y = top
    for i, bh in enumerate(hs):
        x = left
        for j, bw in enumerate(ws):
            paint(g, rect(bh, bw), colours[i][j], (y, x))
            x += bw
        y += bh
    return g


RULES.add("5bd6f4ac", lambda g: sub(g, 0, 6, 3, 3), lambda r: random_grid(r, 9, 9, pick(r, r.randint(4, 8)), 0.5))
