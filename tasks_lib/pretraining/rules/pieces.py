"""Rules about marked pieces and keyed boards: pairs that cancel, every other diagonal cell, ring colours that
move outward, rings around line crossings, marked quadrants and shapes, overlays by priority, colours in
column order, keyed recolouring, the block with the most marks, fractal copies.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, crop, paint, place, rect, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, counts, pick, random_grid, require, sub,
                                  thaw, transpose, upscale)

RULES = Registry()
SIDES = ((0, 1), (1, 0), (0, -1), (-1, 0))


def _cancel_pairs(g: Grid) -> Grid:
    """d90796e8: a 3 beside a 2 becomes 8 and the 2 goes."""
    out = thaw(g)
    for r, c in cells_of(g, 3):
        for dr, dc in SIDES:
            if 0 <= r + dr < len(g) and 0 <= c + dc < len(g[0]) and g[r + dr][c + dc] == 2:
                out[r][c], out[r + dr][c + dc] = 8, 0
    return out


def _pairs_and_singles(rng: random.Random):
    h, w = rng.randint(3, 9), rng.randint(3, 9)
    g = blank(h, w)
    pieces = [[(0, 0), (0, 1)] if rng.random() < 0.5 else [(0, 0), (1, 0)] for _ in range(rng.randint(1, 3))]
    singles = [[(0, 0)]] * rng.randint(1, 3)
    for i, ((r, c), cells) in enumerate(zip(place(rng, h, w, pieces + singles, gap=1), pieces + singles)):
        if i < len(pieces):
            first, second = (3, 2) if rng.random() < 0.5 else (2, 3)
            g[r][c], g[r + cells[1][0]][c + cells[1][1]] = first, second
        else:
            g[r][c] = rng.choice((2, 3, 5))
    return g


RULES.add("d90796e8", _cancel_pairs, _pairs_and_singles)


def _every_other(g: Grid) -> Grid:
    """a5f85a15: along each diagonal line (down-right), every second cell becomes 4."""
    out = thaw(g)
    for r, c in cells_of(g):
        k = 0
        while r - k - 1 >= 0 and c - k - 1 >= 0 and g[r - k - 1][c - k - 1]:
            k += 1
        if k % 2 == 1:
            out[r][c] = 4
    return out


def _diagonal_lines(rng: random.Random):
    n = rng.randint(3, 12)
    g = blank(n, n)
    colour = rng.choice((2, 3, 9))
    for d in rng.sample(range(-(n - 2), n - 1, 2) if n > 3 else [0], rng.randint(1, 3) if n > 3 else 1):
        for r in range(n):
            if 0 <= r + d < n:
                g[r][r + d] = colour
    return g


RULES.add("a5f85a15", _every_other, _diagonal_lines)


def _rings_outward(g: Grid) -> Grid:
    """bda2d7a6: concentric square rings of three colours; each colour becomes the one before it (outermost
    first), the first becoming the last."""
    order: list[int] = []
    for i in range((len(g) + 1) // 2):
        if g[i][i] not in order:
            order.append(g[i][i])
    mapping = {v: order[k - 1] for k, v in enumerate(order)}
    return tuple(tuple(mapping[v] for v in row) for row in g)


def _rings(rng: random.Random):
    n = rng.choice((6, 8))
    k = n // 2
    colours = pick(rng, 3, range(10))
    ring = [colours[i % 3] for i in range(k)]
    return [[ring[min(r, c, n - 1 - r, n - 1 - c)] for c in range(n)] for r in range(n)]


RULES.add("bda2d7a6", _rings_outward, _rings)


def _ring_at_crossing(g: Grid) -> Grid:
    """67a423a3: a ring of 4 around the crossing of the full row and the full column."""
    r = next(i for i, row in enumerate(g) if all(row))
    c = next(j for j, col in enumerate(transpose(g)) if all(col))
    out = thaw(g)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                out[r + dr][c + dc] = 4
    return out


def _crossing_lines(rng: random.Random):
    n = rng.randint(4, 12)
    g = blank(n, n)
    a, b = pick(rng, 2)
    r, c = rng.randint(1, n - 2), rng.randint(1, n - 2)
    g[r] = [a] * n
    for row in g:
        row[c] = b
    if rng.random() < 0.5:
        g[r][c] = a
    return g


RULES.add("67a423a3", _ring_at_crossing, _crossing_lines)


def _marked_quadrant(g: Grid) -> Grid:
    """2dc579da: two lines cut the grid into four quadrants; the output is the one holding the odd cell."""
    n = len(g)
    m = n // 2
    bg = g[0][0] if g[0][0] != g[m][m] else g[-1][-1]
    for top in (0, m + 1):
        for left in (0, m + 1):
            q = sub(g, top, left, m, m)
            if len(counts(q)) > 1:
                return q
    raise ValueError(f"no marked quadrant (background {bg})")


def _quadrants(rng: random.Random):
    m = rng.randint(2, 6)
    n = 2 * m + 1
    bg, line, mark = pick(rng, 3)
    g = blank(n, n, bg)
    g[m] = [line] * n
    for row in g:
        row[m] = line
    top, left = rng.choice((0, m + 1)), rng.choice((0, m + 1))
    g[top + rng.randrange(m)][left + rng.randrange(m)] = mark
    return g


RULES.add("2dc579da", _marked_quadrant, _quadrants)


def _every_third(g: Grid) -> Grid:
    """ba26e723: cells of 4 in every third column (from the first) become 6."""
    return tuple(tuple(6 if v == 4 and c % 3 == 0 else v for c, v in enumerate(row)) for row in g)


def _comb(rng: random.Random):
    w = rng.randint(6, 24)
    return [[4 if c % 2 == 0 else 0 for c in range(w)], [4] * w, [4 if c % 2 == 1 else 0 for c in range(w)]]


RULES.add("ba26e723", _every_third, _comb)


def _overlay_priority(g: Grid) -> Grid:
    """cf98881b: three 4x4 panels between columns of 2, laid over each other: the first panel on top."""
    panels = [sub(g, 0, 5 * k, 4, 4) for k in range(3)]
    return tuple(tuple(next((p[r][c] for p in panels if p[r][c]), 0) for c in range(4)) for r in range(4))


def _three_panels(rng: random.Random):
    panels = [random_grid(rng, 4, 4, [colour], rng.uniform(0.3, 0.6)) for colour in (4, 9, 1)]
    return [panels[0][r] + [2] + panels[1][r] + [2] + panels[2][r] for r in range(4)]


RULES.add("cf98881b", _overlay_priority, _three_panels)


def _marked_shape(g: Grid) -> Grid:
    """48d8fb45: crop the shape with the 5 sitting on it (the 5 left out)."""
    (r, c), = cells_of(g, 5)
    cells = next(cells for cells in components(g) if (r + 1, c) in cells)
    colour = g[r + 1][c]
    return tuple(tuple(v if v == colour else 0 for v in row) for row in crop(g, bbox(cells)))


def _shapes_one_marked(rng: random.Random):
    g = blank(10, 10)
    colour = rng.randint(1, 9)
    require(colour != 5, "5 marks")
    shapes = [shape(rng, 3, 3) for _ in range(rng.randint(2, 3))]
    for cells in shapes:
        require(max(r for r, _ in cells) == 2 and max(c for _, c in cells) == 2, "not 3x3")
    spots = place(rng, 9, 10, shapes, gap=1)
    for cells, (r, c) in zip(shapes, spots):
        paint(g, cells, colour, (r + 1, c))
    first = min(c for rr, c in shapes[0] if rr == 0)
    r, c = spots[0]
    g[r][c + first] = 5
    return g


RULES.add("48d8fb45", _marked_shape, _shapes_one_marked)


def _snake_colours(g: Grid) -> Grid:
    """cdecee7f: the colours, taken column by column from the left, fill a 3x3 in a snake (row 2 reversed)."""
    colours = [g[r][c] for c in range(len(g[0])) for r in range(len(g)) if g[r][c]] + [0] * 9
    rows = [colours[0:3], colours[3:6][::-1], colours[6:9]]
    return tuple(tuple(row) for row in rows)


def _scattered(rng: random.Random):
    g = blank(10, 10)
    for c in rng.sample(range(10), rng.randint(2, 9)):
        g[rng.randrange(10)][c] = rng.randint(1, 9)
    return g


RULES.add("cdecee7f", _snake_colours, _scattered)


def _plus_five(g: Grid) -> Grid:
    """54d9e175: each 3x3 panel (between lines of 5) fills with its centre colour plus 5."""
    out = thaw(g)
    for top in range(0, len(g), 4):
        for left in range(0, len(g[0]), 4):
            colour = g[top + 1][left + 1] + 5
            for r in range(top, top + 3):
                out[r][left:left + 3] = [colour] * 3
    return out


def _centred_panels(rng: random.Random):
    rows, cols = rng.randint(1, 2), rng.randint(2, 3)
    h, w = 4 * rows - 1, 4 * cols - 1
    g = [[5 if r % 4 == 3 or c % 4 == 3 else 0 for c in range(w)] for r in range(h)]
    for top in range(0, h, 4):
        for left in range(0, w, 4):
            g[top + 1][left + 1] = rng.randint(1, 4)
    return g


RULES.add("54d9e175", _plus_five, _centred_panels)


def _keyed_pattern(g: Grid) -> Grid:
    """7c008303: lines of 8 split a 2x2 colour key from a 6x6 pattern of 3; each 3x3 quarter of the pattern
    takes the colour of the matching key cell."""
    r8 = next(r for r, row in enumerate(g) if all(v == 8 for v in row))
    c8 = next(c for c, col in enumerate(transpose(g)) if all(v == 8 for v in col))
    key = sub(g, 0 if r8 == 2 else r8 + 1, 0 if c8 == 2 else c8 + 1, 2, 2)
    pattern = sub(g, 0 if r8 == 6 else r8 + 1, 0 if c8 == 6 else c8 + 1, 6, 6)
    return tuple(tuple(key[r // 3][c // 3] if v == 3 else v for c, v in enumerate(row)) for r, row in enumerate(pattern))


def _key_and_pattern(rng: random.Random):
    key_top, key_left = rng.random() < 0.5, rng.random() < 0.5
    r8, c8 = (2 if key_top else 6), (2 if key_left else 6)
    g = blank(9, 9)
    g[r8] = [8] * 9
    for row in g:
        row[c8] = 8
    colours = pick(rng, 4, (1, 2, 4, 5, 6, 7, 9))
    kr, kc = (0 if key_top else 7), (0 if key_left else 7)
    for i, colour in enumerate(colours):
        g[kr + i // 2][kc + i % 2] = colour
    pr, pc = (3 if key_top else 0), (3 if key_left else 0)
    for r in range(6):
        for c in range(6):
            g[pr + r][pc + c] = 3 if rng.random() < 0.5 else 0
    return g


RULES.add("7c008303", _keyed_pattern, _key_and_pattern)


def _most_marked(mark: int):
    """The block holding the most cells of `mark` (ties never drawn), cropped."""
    def solve(g: Grid) -> Grid:
        mask = [[1 if v else 0 for v in row] for row in g]
        blocks = [crop(g, bbox(cells)) for cells in components(mask, diagonal=False)]
        return max(blocks, key=lambda b: sum(v == mark for row in b for v in row))
    return solve


def _marked_blocks(mark: int, base: int, others: tuple[int, ...], sizes: tuple[int, int], hw: int):
    def sample(rng: random.Random):
        g = blank(hw, hw)
        blocks = [rect(rng.randint(*sizes), rng.randint(*sizes)) for _ in range(rng.randint(2, 4))]
        marks = []
        for cells, at in zip(blocks, place(rng, hw, hw, blocks, gap=1)):
            paint(g, cells, base, at)
            n = 0
            for r, c in cells:
                if rng.random() < 0.3:
                    colour = rng.choice((mark,) + others)
                    g[at[0] + r][at[1] + c] = colour
                    n += colour == mark
            marks.append(n)
        require(sorted(marks)[-1] > sorted(marks)[-2], "no block has the most marks")
        return g
    return sample


RULES.add("ae4f1146", _most_marked(1), _marked_blocks(1, 8, (), (3, 3), 9))
RULES.add("e50d258f", _most_marked(2), _marked_blocks(2, 8, (1,), (2, 5), 10))


def _small_shape(rng: random.Random):
    g = blank(9, 9)
    cells = shape(rng, rng.randint(2, 3), rng.randint(2, 4))
    (at,) = place(rng, 9, 9, [cells], gap=0)
    paint(g, cells, 4, at)
    return g


RULES.add("f25fbde4", lambda g: upscale(crop(g, bbox(cells_of(g))), 2), _small_shape)  # crop the shape, double it


def _fractal(g: Grid) -> Grid:
    """007bbfb7: a 9x9 with a copy of the input in each 3x3 slot whose input cell is coloured."""
    return tuple(tuple(g[r % 3][c % 3] if g[r // 3][c // 3] else 0 for c in range(9)) for r in range(9))


RULES.add("007bbfb7", _fractal, lambda r: random_grid(r, 3, 3, [r.randint(1, 9)], r.uniform(0.3, 0.7)))
