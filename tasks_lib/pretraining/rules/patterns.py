"""Rules that continue or complete patterns: borders copied outward, diagonal stamps, periodic tiles with
holes, repeated rows, bounces, turned copies, recoloured shapes and corner blocks.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import paint, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, tile_period, cells_of, counts, hcat, pick, punch_holes, random_grid, require,
                                  rot180, rot90, thaw, vcat)

RULES = Registry()


def _frame_copy(g: Grid) -> Grid:
    """49d1d64f: a border one cell wide copies the edge cells outward; the corners are 0."""
    h, w = len(g), len(g[0])
    out = blank(h + 2, w + 2)
    for r in range(h + 2):
        for c in range(w + 2):
            if (r in (0, h + 1)) and (c in (0, w + 1)):
                continue
            out[r][c] = g[min(max(r - 1, 0), h - 1)][min(max(c - 1, 0), w - 1)]
    return out


RULES.add("49d1d64f", _frame_copy, lambda r: random_grid(r, r.randint(2, 3), r.randint(2, 4), pick(r, 4)))


def _diagonal_colours(g: Grid) -> Grid:
    """a9f96cdd: the 2 goes; its diagonal neighbours become 3 (up-left), 6 (up-right), 8 (down-left), 7."""
    (r, c), = cells_of(g, 2)
    out = blank(len(g), len(g[0]))
    for (dr, dc), colour in (((-1, -1), 3), ((-1, 1), 6), ((1, -1), 8), ((1, 1), 7)):
        if 0 <= r + dr < len(g) and 0 <= c + dc < len(g[0]):
            out[r + dr][c + dc] = colour
    return out


def _one_two(rng: random.Random):
    g = blank(3, 5)
    g[rng.randrange(3)][rng.randrange(5)] = 2
    return g


RULES.add("a9f96cdd", _diagonal_colours, _one_two)


def _fill_hole(g: Grid) -> Grid:
    """f9012d9b: a periodic tiling with one hole of 0; the output is what belongs in the hole."""
    py, px = tile_period(g)
    unit = {(r % py, c % px): g[r][c] for r in range(len(g)) for c in range(len(g[0])) if g[r][c]}
    hole = cells_of(g, 0)
    top, left = min(r for r, _ in hole), min(c for _, c in hole)
    bottom, right = max(r for r, _ in hole), max(c for _, c in hole)
    return tuple(tuple(unit[(r % py, c % px)] for c in range(left, right + 1)) for r in range(top, bottom + 1))


def _holed_tiling(rng: random.Random):
    py, px = rng.randint(1, 3), rng.randint(2, 3)
    unit = random_grid(rng, py, px, pick(rng, 2))
    h, w = rng.randint(4, 7), rng.randint(4, 7)
    g = [[unit[r % py][c % px] for c in range(w)] for r in range(h)]
    return punch_holes(rng, g, (py, px), 1, (1, 2))


RULES.add("f9012d9b", _fill_hole, _holed_tiling)


def _continue_rows(g: Grid) -> Grid:
    """017c7c7b: the rows repeat with a period; continue them to half again the height, 1 becoming 2."""
    h = len(g)
    p = next(p for p in range(1, h + 1) if all(g[r] == g[r % p] for r in range(h)))
    return tuple(tuple(2 if v == 1 else v for v in g[r % p]) for r in range(h + h // 2))


def _periodic_rows(rng: random.Random):
    p = rng.randint(2, 4)
    unit = [[1 if rng.random() < 0.45 else 0 for _ in range(3)] for _ in range(p)]
    require(len({tuple(r) for r in unit}) == p and all(any(r) for r in unit), "rows repeat inside the period")
    return [unit[r % p] for r in range(6)]


RULES.add("017c7c7b", _continue_rows, _periodic_rows)


def _through_floor(g: Grid) -> Grid:
    """3618c87e: each 1 drops through the 5 beneath it into the floor row of 5s."""
    out = thaw(g)
    for r, c in cells_of(g, 1):
        out[r][c] = 0
        out[len(g) - 1][c] = 1
    return out


def _posts(rng: random.Random):
    g = blank(5, 5)
    g[4] = [5] * 5
    for c in rng.sample(range(5), rng.randint(1, 3)):
        g[3][c], g[2][c] = 5, 1
    return g


RULES.add("3618c87e", _through_floor, _posts)


def _colour_rows(g: Grid) -> Grid:
    """bd4472b8: under the colour row and the row of 5, rows take the colours of the first row in turn."""
    first, w = g[0], len(g[0])
    return tuple(g[:2]) + tuple((first[(r - 2) % w],) * w for r in range(2, len(g)))


def _colour_header(rng: random.Random):
    w = rng.randint(2, 4)
    return [pick(rng, w, (1, 2, 3, 4, 6, 7, 8, 9)), [5] * w] + [[0] * w for _ in range(2 * w)]


RULES.add("bd4472b8", _colour_rows, _colour_header)


def _bounce(bg: int):
    """The 1 in the bottom-left corner zigzags up, bouncing between the side walls; the rest becomes `bg`."""
    def solve(g: Grid) -> Grid:
        h, w = len(g), len(g[0])
        out = blank(h, w, bg)
        c, step = 0, 1
        for r in range(h - 1, -1, -1):
            out[r][c] = 1
            if not 0 <= c + step < w:
                step = -step
            c += step if w > 1 else 0
        return out
    return solve


def _corner_one(rng: random.Random):
    h = rng.randint(6, 14)  # the task's grids have 10 rows; other heights follow the same rule
    g = blank(h, rng.randint(2, 5))
    g[h - 1][0] = 1
    return g


RULES.add("a3df8b1e", _bounce(0), _corner_one)
RULES.add("e179c5f4", _bounce(8), _corner_one)


def _turned_copies(g: Grid) -> Grid:
    """8e5a5113: the first 3x3 block, then beside it (past each column of 5) the block turned 90 and 180 degrees."""
    block = tuple(row[:3] for row in g)
    sep = ((5,),) * 3
    return hcat(block, sep, rot90(block), sep, rot180(block))


def _block_and_blanks(rng: random.Random):
    block = random_grid(rng, 3, 3, pick(rng, 3))
    return [row + [5, 0, 0, 0, 5, 0, 0, 0] for row in block]


RULES.add("8e5a5113", _turned_copies, _block_and_blanks)


def _recolour_by_key(g: Grid) -> Grid:
    """aabf363d: the shape takes the colour of the single key cell in the bottom-left corner, which goes."""
    key = g[-1][0]
    return tuple(tuple(key if v else 0 for v in row) for row in g[:-1]) + ((0,) * len(g[0]),)


def _shape_and_key(rng: random.Random):
    g = blank(7, 7)
    colour, key = pick(rng, 2)
    cells = shape(rng, rng.randint(3, 5), rng.randint(3, 5))
    paint(g, cells, colour, (rng.randint(0, 5 - max(r for r, _ in cells)), rng.randint(1, 6 - max(c for _, c in cells))))
    g[6][0] = key
    return g


RULES.add("aabf363d", _recolour_by_key, _shape_and_key)


def _opposite_corners(g: Grid) -> Grid:
    """93b581b8: the 2x2 block gets 2x2 blocks on its diagonals, each of the colour of the opposite corner."""
    (top, left) = cells_of(g)[0]
    out = thaw(g)
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        colour = g[top + 1 - dr][left + 1 - dc]
        for r in range(2):
            for c in range(2):
                y, x = top - 2 + 4 * dr + r, left - 2 + 4 * dc + c
                if 0 <= y < len(g) and 0 <= x < len(g[0]):
                    out[y][x] = colour
    return out


def _centre_block(rng: random.Random):
    g = blank(6, 6)
    top, left = rng.randint(1, 3), rng.randint(1, 3)
    for (r, c), colour in zip(((0, 0), (0, 1), (1, 0), (1, 1)), pick(rng, 4)):
        g[top + r][left + c] = colour
    return g


RULES.add("93b581b8", _opposite_corners, _centre_block)


def _columns_then_tile(g: Grid) -> Grid:
    """f5b8619d: empty cells in a column with colour become 8; the result is tiled 2x2."""
    cols = {c for _, c in cells_of(g)}
    marked = tuple(tuple(8 if v == 0 and c in cols else v for c, v in enumerate(row)) for row in g)
    return vcat(hcat(marked, marked), hcat(marked, marked))


def _sparse(rng: random.Random):
    s = rng.randint(2, 6)
    g = random_grid(rng, s, s, [rng.randint(1, 7)], rng.uniform(0.1, 0.3))
    require(any(any(row) for row in g) and counts(g)[0] > 0, "empty or full")
    return g


RULES.add("f5b8619d", _columns_then_tile, _sparse)
