"""Rules that draw: lines between or through marked cells, paths, staircases and diagonals, rings and
corners around objects.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random
from collections import Counter

from tasks_lib.pretraining.generators.grid import paint, place, rect
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, counts, elbow, pick, random_grid, require,
                                  thaw, two_cells)

RULES = Registry()


def _staircase(g: Grid) -> Grid:
    """bbc9ae5d: a row starting with k coloured cells grows one cell a row, over half its width in rows."""
    row = g[0]
    k, colour, w = sum(v != 0 for v in row), row[0], len(row)
    return tuple(tuple(colour if c < k + i else 0 for c in range(w)) for i in range(w // 2))


def _leading_run_row(rng: random.Random):
    w = 2 * rng.randint(2, 6)
    k = rng.randint(1, w // 2)
    colour = rng.randint(1, 9)
    return [[colour] * k + [0] * (w - k)]


RULES.add("bbc9ae5d", _staircase, _leading_run_row)


def _diagonals(g: Grid) -> Grid:
    """feca6190: n coloured cells in a 1x5 row make a 5n square; each cell climbs a diagonal to the right."""
    row = g[0]
    n = 5 * sum(v != 0 for v in row)
    out = blank(n, n)
    for j, v in enumerate(row):
        for t in range(n - j if v else 0):
            out[n - 1 - t][j + t] = v
    return out


def _sparse_row(rng: random.Random):
    row = [0] * 5
    for j, c in zip(rng.sample(range(5), rng.randint(1, 3)), pick(rng, 3)):
        row[j] = c
    return [row]


RULES.add("feca6190", _diagonals, _sparse_row)


def _odd_block(g: Grid) -> Grid:
    """a87f7484: of several 3x3 blocks in a row or column, return the one whose shape the others do not share."""
    h, w = len(g), len(g[0])
    blocks = ([tuple(g[r:r + 3]) for r in range(0, h, 3)] if h > w else
              [tuple(tuple(row[c:c + 3]) for row in g) for c in range(0, w, 3)])
    masks = [tuple(tuple(v != 0 for v in row) for row in b) for b in blocks]
    tally = Counter(masks)
    return next(b for b, m in zip(blocks, masks) if tally[m] == 1)


def _blocks_one_odd(rng: random.Random):
    n = rng.randint(3, 5)
    common, odd = (tuple(tuple(rng.random() < 0.55 for _ in range(3)) for _ in range(3)) for _ in range(2))
    require(common != odd and any(map(any, odd)) and any(map(any, common)), "masks equal or empty")
    where = rng.randrange(n)
    colours = pick(rng, n)
    blocks = [[[colours[i] if (odd if i == where else common)[r][c] else 0 for c in range(3)] for r in range(3)]
              for i in range(n)]
    if rng.random() < 0.5:
        return [row for b in blocks for row in b]
    return [[v for b in blocks for v in b[r]] for r in range(3)]


RULES.add("a87f7484", _odd_block, _blocks_one_odd)


def _join_rows(g: Grid) -> Grid:
    """22eb0ac0: a row whose two end cells share a colour is filled with it."""
    return tuple((row[0],) * len(row) if row[0] and row[0] == row[-1] else row for row in g)


def _row_ends(rng: random.Random):
    g = blank(10, 10)
    for r in (1, 3, 5, 7):
        a, b = pick(rng, 2)
        g[r][0], g[r][9] = a, a if rng.random() < 0.35 else b
    return g


RULES.add("22eb0ac0", _join_rows, _row_ends)


def _cross_lines(g: Grid) -> Grid:
    """23581191: each of the two cells draws its row and column; where different colours cross, 2."""
    h, w = len(g), len(g[0])
    out = blank(h, w)
    for r0, c0 in cells_of(g):
        colour = g[r0][c0]
        for r in range(h):
            for c in range(w):
                if r == r0 or c == c0:
                    out[r][c] = 2 if out[r][c] not in (0, colour) else colour
    return out


RULES.add("23581191", _cross_lines, two_cells(8, 7, (9, 9), (9, 9)))


def _elbow(g: Grid) -> Grid:
    """d4a91cb9: a path of 4 runs from the 8 along its column to the 2's row, then along that row to the 2."""
    out = thaw(g)
    paint(out, elbow(cells_of(g, 8)[0], cells_of(g, 2)[0], column_first=True), 4)
    return out


RULES.add("d4a91cb9", _elbow, two_cells(8, 2, (8, 12), (8, 12)))


def _stairs(g: Grid) -> Grid:
    """a65b410d: a bar of 2 from the left edge; rows above it grow one cell each (3), rows below shrink (1)."""
    (r0, _), k = cells_of(g)[0], len(cells_of(g))
    out = thaw(g)
    for r in range(len(g)):
        n = k + (r0 - r)
        for c in range(min(n, len(g[0])) if r != r0 else 0):
            out[r][c] = 3 if r < r0 else 1
    return out


def _left_bar(rng: random.Random):
    h, w = rng.randint(7, 9), rng.randint(7, 9)
    r, k = rng.randint(1, h - 2), rng.randint(2, 4)
    require(k + r <= w, "stairs wider than the grid")
    g = blank(h, w)
    g[r][:k] = [2] * k
    return g


RULES.add("a65b410d", _stairs, _left_bar)


def _meet_middle(g: Grid) -> Grid:
    """29c11459: a row with a colour at each end fills towards the middle from both sides, 5 in the middle."""
    out = []
    for row in g:
        w = len(row)
        if row[0] and row[-1]:
            row = (row[0],) * (w // 2) + (5,) + (row[-1],) * (w // 2)
        out.append(row)
    return out


def _end_rows(rng: random.Random):
    g = blank(5, 11)
    for r in rng.sample(range(5), rng.randint(1, 2)):
        g[r][0], g[r][10] = pick(rng, 2)
    return g


RULES.add("29c11459", _meet_middle, _end_rows)


def _rows_and_columns(g: Grid) -> Grid:
    """178fcbfb: a 2 draws its column; every other colour draws its row, over the columns."""
    h, w = len(g), len(g[0])
    out = blank(h, w)
    for r, c in cells_of(g, 2):
        for y in range(h):
            out[y][c] = 2
    for r, c in cells_of(g):
        if g[r][c] != 2:
            out[r] = [g[r][c]] * w
    return out


def _marks(rng: random.Random):
    h, w = rng.randint(6, 12), rng.randint(6, 12)
    g = blank(h, w)
    n = rng.randint(2, 4)
    rows, cols = rng.sample(range(h), n), rng.sample(range(w), n)
    colours = [rng.choice((1, 2, 3)) for _ in range(n)]
    require(2 in colours and len(set(colours)) > 1, "needs a 2 and another colour")
    for r, c, colour in zip(rows, cols, colours):
        g[r][c] = colour
    return g


RULES.add("178fcbfb", _rows_and_columns, _marks)


def _grid_marks(g: Grid) -> Grid:
    """2281f1f4: 5s in the top row mark columns, 5s in the right column mark rows; crossings become 2."""
    w = len(g[0])
    cols = [c for c in range(w - 1) if g[0][c] == 5]
    rows = [r for r in range(1, len(g)) if g[r][w - 1] == 5]
    out = thaw(g)
    for r in rows:
        for c in cols:
            out[r][c] = 2
    return out


def _edge_marks(rng: random.Random):
    g = blank(10, 10)
    for c in rng.sample(range(9), rng.randint(2, 5)):
        g[0][c] = 5
    for r in rng.sample(range(1, 10), rng.randint(2, 4)):
        g[r][9] = 5
    return g


RULES.add("2281f1f4", _grid_marks, _edge_marks)


def _square_corners(g: Grid) -> Grid:
    """95990924: each 2x2 square of 5 gets 1, 2, 3, 4 on its outer diagonal corners (reading order)."""
    out = thaw(g)
    for cells in components(g):
        (top, left), (bottom, right) = cells[0], cells[-1]
        for colour, (r, c) in zip((1, 2, 3, 4), ((top - 1, left - 1), (top - 1, right + 1), (bottom + 1, left - 1),
                                                (bottom + 1, right + 1))):
            out[r][c] = colour
    return out


def _squares(rng: random.Random):
    h, w = 10, rng.choice((10, 10, 12))
    g = blank(h, w)
    squares = [rect(2, 2)] * rng.randint(1, 4)
    for at in place(rng, h - 2, w - 2, squares, gap=2):
        paint(g, rect(2, 2), 5, (at[0] + 1, at[1] + 1))
    return g


RULES.add("95990924", _square_corners, _squares)


def _rings(colours: dict[int, int]):
    def solve(g: Grid) -> Grid:
        out = thaw(g)
        for r, c in cells_of(g):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    if (dr or dc) and 0 <= r + dr < len(g) and 0 <= c + dc < len(g[0]):
                        out[r + dr][c + dc] = colours[g[r][c]]
        return out
    return solve


def _spaced_dots(pool: tuple[int, ...], lo: int, hi: int, n: tuple[int, int]):
    def sample(rng: random.Random):
        h = w = rng.randint(lo, hi)
        g = blank(h, w)
        for r, c in place(rng, h - 2, w - 2, [[(0, 0)]] * rng.randint(*n), gap=2):
            g[r + 1][c + 1] = rng.choice(pool)
        return g
    return sample


RULES.add("913fb3ed", _rings({3: 6, 8: 4, 2: 1}), _spaced_dots((2, 3, 8), 6, 16, (1, 4)))


def _lonely_colour(g: Grid) -> Grid:
    """31aa019c: only the colour seen exactly once stays, ringed with 2; everything else is cleared."""
    colour = next(v for v, n in counts(g).items() if v and n == 1)
    (r, c), = cells_of(g, colour)
    out = blank(len(g), len(g[0]))
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if 0 <= r + dr < len(g) and 0 <= c + dc < len(g[0]):
                out[r + dr][c + dc] = 2
    out[r][c] = colour
    return out


def _noise_one_unique(rng: random.Random):
    g = random_grid(rng, 10, 10, pick(rng, rng.randint(4, 6)), rng.uniform(0.15, 0.3))
    singles = [v for v, n in counts(g).items() if v and n == 1]
    require(len(singles) == 1, "not exactly one colour seen once")
    return g


RULES.add("31aa019c", _lonely_colour, _noise_one_unique)
