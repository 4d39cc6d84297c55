"""Rules about rooms and boards: square holes filled, boxes outlined and their holes filled,
a board cell copied where its marker points, a sparse board cell read as a colour map, bars lifted by their
height, empty 3x3 squares in noise, a masked block of a symmetric picture.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, paint, place, rect
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, flip_lr, flip_ud, hcat, outside, pick,
                                  require, sub, thaw, vcat)

RULES = Registry()


def _fill_holes(colour: int, square_only: bool):
    """Enclosed background rooms that are rectangles (squares only when `square_only`) fill with `colour`."""
    def solve(g: Grid) -> Grid:
        out = thaw(g)
        shut = outside(g)
        holes = [[1 if v == 0 and (r, c) not in shut else 0 for c, v in enumerate(row)] for r, row in enumerate(g)]
        for cells in components(holes, diagonal=False):
            top, left, bottom, right = bbox(cells)
            full = len(cells) == (bottom - top + 1) * (right - left + 1)
            if full and (not square_only or bottom - top == right - left):
                paint(out, cells, colour)
        return out
    return solve


def _holed_blocks(rng: random.Random):
    g = blank(12, 12)
    blocks = [rect(rng.randint(3, 6), rng.randint(3, 6)) for _ in range(rng.randint(2, 3))]
    for cells, at in zip(blocks, place(rng, 12, 12, blocks, gap=1)):
        bh, bw = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
        paint(g, cells, 5, at)
        hh, hw = rng.randint(1, bh - 2), rng.randint(1, bw - 2)
        if rng.random() < 0.6:  # mostly square holes, the ones that fill
            hh = hw = min(hh, hw)
        r0, c0 = at[0] + rng.randint(1, bh - 1 - hh), at[1] + rng.randint(1, bw - 1 - hw)
        paint(g, rect(hh, hw), 0, (r0, c0))
    return g


RULES.add("44d8ac46", _fill_holes(2, True), _holed_blocks)


def _outline_and_fill(g: Grid) -> Grid:
    """543a7ed5: on 8, each shape of 6 gets an outline of 3 around it and any hole inside it filled with 4."""
    out = thaw(g)
    h, w = len(g), len(g[0])
    for r, c in cells_of(g, 6):
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if 0 <= r + dr < h and 0 <= c + dc < w and g[r + dr][c + dc] == 8:
                    out[r + dr][c + dc] = 3
    shut = outside(g, bg=8)
    for r in range(h):
        for c in range(w):
            if g[r][c] == 8 and (r, c) not in shut:
                out[r][c] = 4
    return out


def _sixes_on_eight(rng: random.Random):
    g = blank(15, 15, 8)
    boxes = [rect(rng.randint(2, 5), rng.randint(2, 5)) for _ in range(rng.randint(2, 3))]
    for cells, at in zip(boxes, place(rng, 13, 13, boxes, gap=2)):
        bh, bw = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
        hollow = bh > 2 and bw > 2 and rng.random() < 0.6
        paint(g, [(r, c) for r, c in cells if not hollow or r in (0, bh - 1) or c in (0, bw - 1)], 6, (at[0] + 1, at[1] + 1))
    return g


RULES.add("543a7ed5", _outline_and_fill, _sixes_on_eight)


def _board_cells(g: Grid) -> list[tuple[int, int]]:
    return [(4 * i, 4 * j) for i in range(3) for j in range(3)]


def _copy_where_pointed(g: Grid) -> Grid:
    """6d0160f0: the board cell holding a 4 is copied to the board cell the 4's place points to; the rest clear."""
    out = [[5 if v == 5 else 0 for v in row] for row in g]
    for top, left in _board_cells(g):
        cell = sub(g, top, left, 3, 3)
        hit = [(r, c) for r in range(3) for c in range(3) if cell[r][c] == 4]
        if hit:
            (r, c), = hit
            for y in range(3):
                out[4 * r + y][4 * c:4 * c + 3] = cell[y]
    return out


def _board_with_four(rng: random.Random):
    g = [[5 if r % 4 == 3 or c % 4 == 3 else 0 for c in range(11)] for r in range(11)]
    marked = rng.randrange(9)
    for k, (top, left) in enumerate(_board_cells(g)):
        spots = rng.sample([(r, c) for r in range(3) for c in range(3)], 4)
        colours = [rng.choice((1, 2, 3, 6, 7, 8, 9)) for _ in spots]
        if k == marked:
            colours[0] = 4
        for (r, c), colour in zip(spots, colours):
            g[top + r][left + c] = colour
    cell = sub(g, *_board_cells(g)[marked], 3, 3)
    (r, c), = [(y, x) for y in range(3) for x in range(3) if cell[y][x] == 4]
    require((r, c) != divmod(marked, 3), "the cell points at itself")
    return g


RULES.add("6d0160f0", _copy_where_pointed, _board_with_four)


def _sparse_cell_map(g: Grid) -> Grid:
    """09629e4f: the board cell with the fewest coloured cells is a map: each board cell fills with the colour
    at its place in the map."""
    cells = _board_cells(g)
    counts_ = [sum(v != 0 for row in sub(g, top, left, 3, 3) for v in row) for top, left in cells]
    key = sub(g, *cells[counts_.index(min(counts_))], 3, 3)
    out = [[5 if v == 5 else 0 for v in row] for row in g]
    for i in range(3):
        for j in range(3):
            for y in range(3):
                out[4 * i + y][4 * j:4 * j + 3] = [key[i][j]] * 3
    return out


def _board_one_sparse(rng: random.Random):
    g = [[5 if r % 4 == 3 or c % 4 == 3 else 0 for c in range(11)] for r in range(11)]
    sparse = rng.randrange(9)
    for k, (top, left) in enumerate(_board_cells(g)):
        n = 4 if k == sparse else 5
        for (r, c), colour in zip(rng.sample([(r, c) for r in range(3) for c in range(3)], n), pick(rng, n, (2, 3, 4, 6, 8))):
            g[top + r][left + c] = colour
    return g


RULES.add("09629e4f", _sparse_cell_map, _board_one_sparse)


def _lift_by_height(g: Grid) -> Grid:
    """5521c0d9: each bar standing on the bottom rises by its own height."""
    out = blank(len(g), len(g[0]))
    for cells in components(g, diagonal=False):
        top, _, bottom, _ = bbox(cells)
        for r, c in cells:
            out[r - (bottom - top + 1)][c] = g[r][c]
    return out


def _standing_blocks(rng: random.Random):
    n = 15
    g = blank(n, n)
    col = rng.randint(0, 1)
    for colour in pick(rng, 3, (1, 2, 3, 4, 6, 7, 8)):
        bw, bh = rng.randint(1, 4), rng.randint(1, 6)
        if col + bw > n:
            break
        for r in range(n - bh, n):
            for c in range(col, col + bw):
                g[r][c] = colour
        col += bw + rng.randint(1, 3)
    return g


RULES.add("5521c0d9", _lift_by_height, _standing_blocks)


def _empty_squares(g: Grid) -> Grid:
    """6cf79266: empty 3x3 squares in the noise fill with 1, in reading order, none overlapping one filled before."""
    out = thaw(g)
    for r in range(len(g) - 2):
        for c in range(len(g[0]) - 2):
            if all(g[r + y][c + x] == 0 and out[r + y][c + x] == 0 for y in range(3) for x in range(3)):
                paint(out, rect(3, 3), 1, (r, c))
    return out


def _noise_with_holes(rng: random.Random):
    colour = rng.choice((3, 5, 7, 8))
    g = [[colour if rng.random() < 0.6 else 0 for _ in range(20)] for _ in range(20)]
    for r, c in place(rng, 20, 20, [rect(3, 3)] * rng.randint(1, 3), gap=1):
        paint(g, rect(3, 3), 0, (r, c))
    holes = sum(all(g[r + y][c + x] == 0 for y in range(3) for x in range(3)) for r in range(18) for c in range(18))
    require(holes <= 3, "the noise has empty squares of its own")
    return g


RULES.add("6cf79266", _empty_squares, _noise_with_holes)


def _masked_by(mask: int):
    """A four-way symmetric picture with a block of `mask`: the block's cells as the mirror images show them."""
    def solve(g: Grid) -> Grid:
        top, left, bottom, right = bbox(cells_of(g, mask))
        h, w = len(g), len(g[0])
        return tuple(tuple(next(g[y][x] for y, x in ((r, w - 1 - c), (h - 1 - r, c), (h - 1 - r, w - 1 - c)) if g[y][x] != mask)
                           for c in range(left, right + 1)) for r in range(top, bottom + 1))
    return solve


def _symmetric_masked(rng: random.Random):
    q = [[rng.choice((1, 2, 4, 5, 6, 7, 8, 9)) for _ in range(8)] for _ in range(8)]
    top = hcat(q, flip_lr(q))
    g = thaw(vcat(top, flip_ud(top)))
    bh, bw = rng.randint(2, 4), rng.randint(2, 4)
    r, c = rng.choice((rng.randint(0, 8 - bh), rng.randint(8, 16 - bh))), rng.choice((rng.randint(0, 8 - bw), rng.randint(8, 16 - bw)))
    paint(g, rect(bh, bw), 3, (r, c))
    return g


RULES.add("dc0a314f", _masked_by(3), _symmetric_masked)
