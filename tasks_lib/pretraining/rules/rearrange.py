"""Rules that rearrange rows, columns and corners (mostly ARC-AGI-2 training tasks): swaps, skews, rolls,
pattern tiling, per-row inversions, quadrant picks and splits.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random
from collections import Counter

from tasks_lib.pretraining.generators.grid import place, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, hcat, pick, random_grid, require, rot180,
                                  rot270, rot90, sub, vcat)

RULES = Registry()


def _swap_ends(g: Grid) -> Grid:
    """833966f4: in a column of five, the first two cells swap and the last two swap."""
    return (g[1], g[0], g[2], g[4], g[3])


RULES.add("833966f4", _swap_ends, lambda r: [[c] for c in pick(r, 5, range(10))])


def _split_corners(g: Grid) -> Grid:
    """8618d23e: the top half goes to the top-left and the bottom half to the bottom-right of a grid one row and
    one column larger, filled with 9."""
    h, w = len(g), len(g[0])
    out = blank(h + 1, w + 1, 9)
    for r in range(h):
        top = r < h // 2
        for c in range(w):
            out[r if top else r + 1][c if top else c + 1] = g[r][c]
    return out


RULES.add("8618d23e", _split_corners,
          lambda r: random_grid(r, 2 * r.randint(1, 3), r.randint(1, 5), pick(r, r.randint(2, 3), (0, 1, 2, 4, 5, 6, 7, 8)), 1.0))


def _quadrant_of_two(g: Grid) -> Grid:
    """87ab05b8: everything becomes 6 but the 2x2 quadrant holding the 2, which becomes 2."""
    (r, c), = cells_of(g, 2)
    return tuple(tuple(2 if (y >= 2) == (r >= 2) and (x >= 2) == (c >= 2) else 6 for x in range(4)) for y in range(4))


def _mostly_six(rng: random.Random):
    g = [[6 if rng.random() < 0.7 else rng.choice((0, 1, 4, 5, 8, 9)) for _ in range(4)] for _ in range(4)]
    r, c = rng.randrange(4), rng.randrange(4)
    g[r][c] = 2
    return g


RULES.add("87ab05b8", _quadrant_of_two, _mostly_six)


def _corner_by_width(g: Grid) -> Grid:
    """a6953f00: the top 2x2 corner, the right one when the width is even, else the left one."""
    w = len(g[0])
    return sub(g, 0, w - 2 if w % 2 == 0 else 0, 2, 2)


RULES.add("a6953f00", _corner_by_width, lambda r: random_grid(r, s := r.randint(3, 8), s, list(range(10)), 1.0))


def _roll_second_rows(g: Grid) -> Grid:
    """9968a131: rows repeat a two-row motif; every row of the motif's second kind rolls right by one."""
    first = next(row for row in g if len(set(row)) > 1)
    return tuple(row[-1:] + row[:-1] if len(set(row)) > 1 and row != first else row for row in g)


def _motif_rows(rng: random.Random):
    w, bg = rng.randint(4, 7), rng.choice((7, 7, 0, 5))
    a, b = pick(rng, 2, [c for c in range(10) if c != bg])
    i = rng.randint(0, w - 2)
    first = [bg] * w
    first[i], first[i + 1] = a, b
    second = list(first)
    second[i], second[i + 1] = b, a
    pad = rng.randint(0, 1)
    rows = [[bg] * w] * pad + [first if k % 2 == 0 else second for k in range(rng.randint(3, 6))] + [[bg] * w] * pad
    return rows


RULES.add("9968a131", _roll_second_rows, _motif_rows)


def _roll_to_marker(g: Grid) -> Grid:
    """6d1d5c90: the first column (6s and one 2) goes; the rows roll down by the 2's row."""
    k = next(r for r, row in enumerate(g) if row[0] == 2)
    body = [row[1:] for row in g]
    return tuple(body[(r - k) % len(g)] for r in range(len(g)))


def _marked_blocks(rng: random.Random):
    palette = pick(rng, 5, (1, 3, 4, 5, 8, 9))
    body = [[rng.choice(palette) for _ in range(6)] for _ in range(6)]
    for r in range(6):  # blocky like the task's: runs of a colour
        for c in range(1, 6):
            if rng.random() < 0.5:
                body[r][c] = body[r][c - 1]
    k = rng.randint(1, 5)
    return [[2 if r == k else 6] + body[r] for r in range(6)]


RULES.add("6d1d5c90", _roll_to_marker, _marked_blocks)


def _tile_up(g: Grid) -> Grid:
    """9b30e358: the pattern at the bottom repeats upward over the empty rows (aligned to the pattern's top)."""
    h = len(g)
    start = next(r for r, row in enumerate(g) if len(set(row)) > 1)
    k = h - start
    return tuple(g[start + (r - start) % k] for r in range(h))


def _bottom_pattern(rng: random.Random):
    h, w = 10, rng.choice((5, 7))
    bg, a, b = pick(rng, 3)
    k = rng.randint(3, 5)
    pattern = [[rng.choice((bg, a, b)) for _ in range(w)] for _ in range(k)]
    pattern = [row[: w // 2 + 1] + row[: w // 2][::-1] for row in pattern]  # symmetric, like the task's
    require(all(len(set(row)) > 1 for row in pattern), "a pattern row is flat")
    return [[bg] * w for _ in range(h - k)] + pattern


RULES.add("9b30e358", _tile_up, _bottom_pattern)


def _invert_rows(g: Grid) -> Grid:
    """2de01db2: in each row, cells of the row's main colour become 0 and all other cells take that colour."""
    out = []
    for row in g:
        main = Counter(v for v in row if v).most_common(1)[0][0]
        out.append(tuple(0 if v == main else main for v in row))
    return out


def _main_colour_rows(rng: random.Random):
    mains = pick(rng, 3, (4, 6, 8, 1, 5))
    noise = [c for c in (2, 3, 7) if c not in mains]
    g = []
    for main in mains:
        row = [main if rng.random() < 0.6 else (rng.choice(noise) if rng.random() < 0.4 else 0) for _ in range(10)]
        tally = Counter(v for v in row if v).most_common(2)
        require(tally[0][0] == main and (len(tally) == 1 or tally[0][1] > tally[1][1]), "the main colour is not clear")
        g.append(row)
    return g


RULES.add("2de01db2", _invert_rows, _main_colour_rows)


def _skew(g: Grid) -> Grid:
    """3cd86f4f: row r moves right by (rows - 1 - r) cells in a grid widened by rows - 1, padded with 0."""
    h = len(g)
    return tuple((0,) * (h - 1 - r) + tuple(row) + (0,) * r for r, row in enumerate(g))


RULES.add("3cd86f4f", _skew, lambda r: random_grid(r, r.randint(2, 10), r.randint(1, 9), pick(r, r.randint(2, 4)), 1.0))


def _turn_blocks(g: Grid) -> Grid:
    """46c35fc7: each 3x3 block on a background of 7 turns its edge cells a quarter clockwise and its corners a
    quarter anticlockwise."""
    out = [list(row) for row in g]
    mask = [[1 if v != 7 else 0 for v in row] for row in g]
    blocks: list[list[tuple[int, int]]] = []  # 4-connected pieces gathered into groups that fit 3x3
    for cells in components(mask, diagonal=False):
        for block in blocks:
            rows, cols = [r for r, _ in block + cells], [c for _, c in block + cells]
            if max(rows) - min(rows) < 3 and max(cols) - min(cols) < 3:
                block.extend(cells)
                break
        else:
            blocks.append(list(cells))
    for cells in blocks:
        top, left = min(r for r, _ in cells), min(c for _, c in cells)
        b = sub(g, top, left, 3, 3)
        turned = ((b[0][2], b[1][0], b[2][2]), (b[2][1], b[1][1], b[0][1]), (b[0][0], b[1][2], b[2][0]))
        for r in range(3):
            out[top + r][left:left + 3] = turned[r]
    return out


def _blocks_on_seven(rng: random.Random):
    g = blank(7, 7, 7)
    boxes = [[(r, c) for r in range(3) for c in range(3)]] * rng.randint(1, 2)
    for top, left in place(rng, 7, 7, boxes, gap=1):
        for r in range(3):
            for c in range(3):
                g[top + r][left + c] = rng.choice((0, 1, 2, 3, 4, 5, 6, 8, 9))
        if rng.random() < 0.5:  # a 7 only in the middle, where it cannot hide the block's edge
            g[top + 1][left + 1] = 7
    return g


RULES.add("46c35fc7", _turn_blocks, _blocks_on_seven)


def _rise_by_size(g: Grid) -> Grid:
    """b2bc3ffd: above a floor of 8, each object on a background of 7 rises by its number of cells."""
    h, w = len(g), len(g[0])
    out = [[7] * w for _ in range(h - 1)] + [list(g[-1])]
    mask = [[v if v not in (7, 8) else 0 for v in row] for row in g]
    for cells in components(mask):
        for r, c in cells:
            out[r - len(cells)][c] = g[r][c]
    return out


def _objects_on_floor(rng: random.Random):
    g = blank(7, 8, 7) + [[8] * 8]
    col = 0
    for colour in pick(rng, 3, (1, 2, 3, 9)):
        cells = shape(rng, rng.randint(1, 2), rng.randint(1, 3), rng.randint(1, 4))
        sh, sw = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
        if col + sw > 8:
            break
        require(len(cells) + sh <= 7, "would rise out of the grid")
        for r, c in cells:
            g[7 - sh + r][col + c] = colour
        col += sw + 1
    require(any(v not in (7, 8) for row in g for v in row), "no object")
    return g


RULES.add("b2bc3ffd", _rise_by_size, _objects_on_floor)


def _to_nearest_corner(g: Grid) -> Grid:
    """4a1cacc2: the one odd cell fills the rectangle between it and the nearest corner."""
    h, w = len(g), len(g[0])
    bg = Counter(v for row in g for v in row).most_common(1)[0][0]
    (r, c), = cells_of(g, bg=bg)
    rows = range(0, r + 1) if r < h - 1 - r else range(r, h)
    cols = range(0, c + 1) if c < w - 1 - c else range(c, w)
    return tuple(tuple(g[r][c] if y in rows and x in cols else bg for x in range(w)) for y in range(h))


def _one_odd_cell(rng: random.Random):
    h, w = 2 * rng.randint(2, 5), 2 * rng.randint(2, 5)
    bg, colour = pick(rng, 2, range(10))
    g = blank(h, w, bg)
    g[rng.randrange(h)][rng.randrange(w)] = colour
    return g


RULES.add("4a1cacc2", _to_nearest_corner, _one_odd_cell)


def _turned_tiles(g: Grid) -> Grid:
    """cf5fd0ad: a 12x12 of four 6x6 quarters, each a 2x2 tiling of the input turned by 180, 90 (clockwise),
    270 degrees and not at all."""
    def tiled(x: Grid) -> Grid:
        return vcat(hcat(x, x), hcat(x, x))
    return vcat(hcat(tiled(rot180(g)), tiled(rot90(g))), hcat(tiled(rot270(g)), tiled(g)))


RULES.add("cf5fd0ad", _turned_tiles, lambda r: random_grid(r, 3, 3, pick(r, r.randint(2, 4)), 1.0))
