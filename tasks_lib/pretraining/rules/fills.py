"""Rules that fill, stamp or read regions: boxes and insides, stamps around cells, blocks read off a board,
crops with a twist, and colours chosen by size or by the nearer border.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random
from collections import Counter

from tasks_lib.pretraining.generators.grid import bbox, crop, outline, paint, place, rect, scatter, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, counts, flip_lr, outside, pick,
                                  random_grid, recolour, require, thaw, transpose)

RULES = Registry()


def _crop_flip(g: Grid) -> Grid:
    """7468f01a: crop the one object and mirror it left-right."""
    return flip_lr(crop(g, bbox(cells_of(g))))


def _patched_rect(swap: bool, lo: int, hi: int):
    """Sampler: a solid rectangle of one colour with a small patch of another inside."""
    def sample(rng: random.Random):
        h, w = rng.randint(lo, hi), rng.randint(lo, hi)
        bh, bw = rng.randint(3, min(6, h)), rng.randint(3, min(8, w))
        if swap:
            bw = bh
        outer, inner = pick(rng, 2)
        g = blank(h, w)
        (at,) = place(rng, h, w, [rect(bh, bw)], gap=0)
        paint(g, rect(bh, bw), outer, at)
        if swap:
            k = rng.randint(1, bh - 2)
            paint(g, rect(k, k), inner, (at[0] + (bh - k) // 2, at[1] + (bw - k) // 2))
            require((bh - k) % 2 == 0, "the patch is off centre")
        else:
            patch = shape(rng, min(3, bh - 1), min(3, bw - 1))
            paint(g, patch, inner, (at[0] + rng.randint(0, bh - 1 - max(r for r, _ in patch)),
                                    at[1] + rng.randint(0, bw - 1 - max(c for _, c in patch))))
        return g
    return sample


RULES.add("7468f01a", _crop_flip, _patched_rect(False, 8, 17))


def _swap_two(g: Grid) -> Grid:
    """b94a9452: crop the square and swap its two colours."""
    box = crop(g, bbox(cells_of(g)))
    a, b = sorted(counts(box))
    return recolour(box, {a: b, b: a})


RULES.add("b94a9452", _swap_two, _patched_rect(True, 12, 14))


def _read_board(g: Grid) -> Grid:
    """9f236235: a board of one-colour blocks between lines; one cell per block, mirrored left-right."""
    rows = [r for r, row in enumerate(g) if len(set(row)) == 1 and row[0] != 0]
    line = g[rows[0]][0]
    cols = [c for c, col in enumerate(transpose(g)) if set(col) == {line}]
    starts_r = [r for r in range(len(g)) if r not in rows and (r == 0 or r - 1 in rows)]
    starts_c = [c for c in range(len(g[0])) if c not in cols and (c == 0 or c - 1 in cols)]
    return flip_lr(tuple(tuple(g[r][c] for c in starts_c) for r in starts_r))


def _board(rng: random.Random):
    n, k = rng.randint(3, 4), rng.randint(2, 5)
    line, *fill = pick(rng, rng.randint(2, 3))
    small = [[rng.choice(fill) if rng.random() < 0.4 else 0 for _ in range(n)] for _ in range(n)]
    size = n * k + n - 1
    g = blank(size, size, line)
    for i in range(n):
        for j in range(n):
            paint(g, rect(k, k), small[i][j], (i * (k + 1), j * (k + 1)))
    require(small != [row[::-1] for row in small], "symmetric board")
    return g


RULES.add("9f236235", _read_board, _board)


def _crop_on_one(g: Grid) -> Grid:
    """a740d043: crop the shape off a background of 1; background left inside the box becomes 0."""
    return recolour(crop(g, bbox(cells_of(g, bg=1))), {1: 0})


def _shape_on_one(rng: random.Random):
    h, w = rng.randint(5, 7), rng.randint(5, 7)
    g = blank(h, w, 1)
    cells = shape(rng, rng.randint(2, 3), rng.randint(2, 3))
    (at,) = place(rng, h, w, [cells], gap=0)
    colours = pick(rng, 2, (2, 3, 5, 6))
    for r, c in cells:
        g[at[0] + r][at[1] + c] = rng.choice(colours)
    return g


RULES.add("a740d043", _crop_on_one, _shape_on_one)


def _diagonal_trails(g: Grid) -> Grid:
    """d13f3404: 3x3 to 6x6; every coloured cell trails down-right to the edge."""
    out = blank(6, 6)
    for r, c in cells_of(g):
        for t in range(6 - max(r, c)):
            out[r + t][c + t] = g[r][c]
    return out


def _off_diagonal_cells(rng: random.Random):
    g = blank(3, 3)
    cells = rng.sample([(r, c) for r in range(3) for c in range(3)], rng.randint(2, 3))
    require(len({r - c for r, c in cells}) == len(cells), "two cells share a diagonal")
    for (r, c), colour in zip(cells, pick(rng, 3)):
        g[r][c] = colour
    return g


RULES.add("d13f3404", _diagonal_trails, _off_diagonal_cells)


def _mirror_top_rows(g: Grid) -> Grid:
    """496994bd: the coloured rows at the top are mirrored onto the bottom."""
    k = next(i for i, row in enumerate(g) if not any(row))
    return tuple(g[: len(g) - k]) + tuple(reversed(g[:k]))


def _top_rows_exact(rng: random.Random):
    w, k = rng.randint(3, 5), rng.randint(1, 3)
    return [[rng.randint(1, 9)] * w for _ in range(k)] + [[0] * w for _ in range(10 - k)]


RULES.add("496994bd", _mirror_top_rows, _top_rows_exact)


def _inside_outside(g: Grid) -> Grid:
    """7b6016b9: background enclosed by the lines becomes 2, open background 3."""
    out = outside(g)
    return tuple(tuple((3 if (r, c) in out else 2) if v == 0 else v for c, v in enumerate(row)) for r, row in enumerate(g))


def _line_lattice(rng: random.Random):
    h, w = rng.randint(12, 23), rng.randint(12, 23)
    colour = pick(rng, 1, (1, 4, 8))[0]
    g = blank(h, w)
    for k in range(rng.randint(4, 7)):  # alternating long lines, so that they cross and close boxes
        if k % 2 == 0:
            r, a = rng.randrange(h), rng.randint(0, w // 3)
            for c in range(a, rng.randint(a + w // 2, w - 1) + 1):
                g[r][c] = colour
        else:
            c, a = rng.randrange(w), rng.randint(0, h // 3)
            for r in range(a, rng.randint(a + h // 2, h - 1) + 1):
                g[r][c] = colour
    out = outside(g)
    require(any(v == 0 and (r, c) not in out for r, row in enumerate(g) for c, v in enumerate(row)), "nothing enclosed")
    return g


RULES.add("7b6016b9", _inside_outside, _line_lattice)


def _empty_lines(g: Grid) -> Grid:
    """c1d99e64: rows and columns with no colour become 2."""
    empty_cols = {c for c, col in enumerate(transpose(g)) if not any(col)}
    return tuple(tuple(2 if not any(row) or c in empty_cols else v for c, v in enumerate(row)) for row in g)


def _dense_with_gaps(rng: random.Random):
    h, w = rng.randint(10, 17), rng.randint(10, 19)
    g = random_grid(rng, h, w, [rng.randint(1, 9)], rng.uniform(0.6, 0.8))
    for r in rng.sample(range(h), rng.randint(0, 2)):
        g[r] = [0] * w
    for c in rng.sample(range(w), rng.randint(1, 2)):
        for row in g:
            row[c] = 0
    return g


RULES.add("c1d99e64", _empty_lines, _dense_with_gaps)


def _stamp(pattern: tuple[tuple[int, ...], ...], keep_centre: bool):
    """Every 5 becomes the 3x3 `pattern` centred on it (its centre stays 5 when `keep_centre`)."""
    def solve(g: Grid) -> Grid:
        out = blank(len(g), len(g[0]))
        for r, c in cells_of(g, 5):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    out[r + dr][c + dc] = pattern[dr + 1][dc + 1]
            if keep_centre:
                out[r][c] = 5
        return out
    return solve


def _fives(rng: random.Random):
    g = blank(9, 9)
    for r, c in place(rng, 7, 7, [rect(3, 3)] * rng.randint(2, 4), gap=0):
        g[r + 1][c + 1] = 5
    return g


RULES.add("ce22a75a", _stamp(((1, 1, 1), (1, 1, 1), (1, 1, 1)), False), _fives)
RULES.add("b60334d2", _stamp(((5, 1, 5), (1, 0, 1), (5, 1, 5)), False), _fives)


def _odd_quadrant(g: Grid) -> Grid:
    """88a62173: of the four 2x2 corners of a 5x5 grid, return the one unlike the other three."""
    quads = [tuple(tuple(g[r + y][c + x] for x in range(2)) for y in range(2)) for r in (0, 3) for c in (0, 3)]
    tally = Counter(quads)
    return next(q for q in quads if tally[q] == 1)


def _quadrants(rng: random.Random):
    colour = rng.randint(1, 9)
    common, odd = ([[colour if rng.random() < 0.6 else 0 for _ in range(2)] for _ in range(2)] for _ in range(2))
    require(common != odd, "same quadrants")
    where = rng.randrange(4)
    g = blank(5, 5)
    for i, (r, c) in enumerate(((0, 0), (0, 3), (3, 0), (3, 3))):
        q = odd if i == where else common
        for y in range(2):
            for x in range(2):
                g[r + y][c + x] = q[y][x]
    return g


RULES.add("88a62173", _odd_quadrant, _quadrants)
RULES.add("d23f8c26", lambda g: [[v if c == len(row) // 2 else 0 for c, v in enumerate(row)] for row in g],
          lambda r: random_grid(r, s := r.choice((3, 5, 5, 7)), s, pick(r, r.randint(2, 5)), r.uniform(0.3, 0.6)))


def _fill_box(colour: int, each: bool):
    """Background inside the bounding box of the shapes (of each shape when `each`) becomes `colour`."""
    def solve(g: Grid) -> Grid:
        out = thaw(g)
        for cells in components(g) if each else [cells_of(g)]:
            top, left, bottom, right = bbox(cells)
            for r in range(top, bottom + 1):
                for c in range(left, right + 1):
                    if g[r][c] == 0:
                        out[r][c] = colour
        return out
    return solve


def _shapes_in(colour: int, box: tuple[int, int], count: tuple[int, int], hw: tuple[int, int]):
    def sample(rng: random.Random):
        h, w = rng.randint(*hw), rng.randint(*hw)
        shapes = [shape(rng, rng.randint(*box), rng.randint(*box)) for _ in range(rng.randint(*count))]
        return scatter(rng, h, w, shapes, colour)
    return sample


RULES.add("6d75e8bb", _fill_box(2, False), _shapes_in(8, (3, 7), (1, 1), (7, 14)))
RULES.add("60b61512", _fill_box(7, True), _shapes_in(4, (3, 3), (2, 3), (9, 9)))


def _insides_of(colours: dict[int, int] | int):
    """Solid rectangles keep their border; the inside becomes `colours` (by rank of area when a dict)."""
    def solve(g: Grid) -> Grid:
        out = thaw(g)
        boxes = components(g)
        order = sorted(boxes, key=len)
        for cells in boxes:
            top, left, bottom, right = bbox(cells)
            fill = colours if isinstance(colours, int) else colours[order.index(cells)]
            for r in range(top + 1, bottom):
                for c in range(left + 1, right):
                    out[r][c] = fill
        return out
    return solve


def _solid_rects(n: tuple[int, int], pool: tuple[int, ...], hw: tuple[int, int], same_colour: bool):
    def sample(rng: random.Random):
        h, w = rng.randint(*hw), rng.randint(*hw)
        g = blank(h, w)
        k = rng.randint(*n)
        shapes = [rect(rng.randint(3, 7), rng.randint(3, 7)) for _ in range(k)]
        require(len({len(s) for s in shapes}) == k, "equal areas")
        colours = [pool[0]] * k if same_colour else [rng.choice(pool) for _ in range(k)]
        for cells, at, colour in zip(shapes, place(rng, h, w, shapes, gap=1), colours):
            paint(g, cells, colour, at)
        return g
    return sample


RULES.add("50cb2852", _insides_of(8), _solid_rects((1, 3), (1, 2, 3), (8, 13), False))
RULES.add("694f12f3", _insides_of({0: 1, 1: 2}), _solid_rects((2, 2), (4,), (10, 10), True))


def _nearer_border(g: Grid) -> Grid:
    """2204b7a8: two border lines of two colours; each 3 takes the colour of the nearer line."""
    vertical = len(set(row[0] for row in g)) == 1 and g[0][0] != 0
    grid = g if vertical else transpose(g)
    w = len(grid[0])
    out = tuple(tuple((row[0] if c < w - 1 - c else row[-1]) if v == 3 else v for c, v in enumerate(row)) for row in grid)
    return out if vertical else transpose(out)


def _between_lines(rng: random.Random):
    a, b = pick(rng, 2, (1, 2, 4, 5, 6, 7, 8, 9))
    g = blank(10, 10)
    for row in g:
        row[0], row[9] = a, b
    for r, c in rng.sample([(r, c) for r in range(10) for c in range(1, 9)], rng.randint(3, 8)):
        g[r][c] = 3
    return transpose(g) if rng.random() < 0.5 else g


RULES.add("2204b7a8", _nearer_border, _between_lines)


def _holes_by_size(g: Grid) -> Grid:
    """e8593010: holes in a field of 5 are coloured by size: one cell 3, two cells 2, three cells 1."""
    holes = [[1 if v == 0 else 0 for v in row] for row in g]
    out = thaw(g)
    for cells in components(holes, diagonal=False):
        paint(out, cells, {1: 3, 2: 2, 3: 1}[len(cells)])
    return out


def _holed_field(rng: random.Random):
    shapes = [shape(rng, 2, 3, rng.randint(1, 3)) for _ in range(rng.randint(6, 14))]
    return scatter(rng, 10, 10, shapes, 0, bg=5)


RULES.add("e8593010", _holes_by_size, _holed_field)


def _loops_on(bg: int, colour: int, new: int):
    def solve(g: Grid) -> Grid:
        out = thaw(g)
        for cells in components(g, bg=bg):
            alone = blank(len(g), len(g[0]))
            paint(alone, cells, 1)
            shut = outside(alone)
            if any(alone[r][c] == 0 and (r, c) not in shut for r in range(len(g)) for c in range(len(g[0]))):
                paint(out, cells, new)
        return out
    return solve


def _outlines_on(bg: int, colour: int):
    def sample(rng: random.Random):
        h, w = rng.randint(9, 14), rng.randint(9, 14)
        shapes = []
        for _ in range(rng.randint(2, 4)):
            bh, bw = rng.randint(3, 5), rng.randint(3, 5)
            cells = outline(bh, bw)
            if rng.random() < 0.4:
                cells.remove(rng.choice(cells))
            shapes.append(cells)
        return scatter(rng, h, w, shapes, colour, bg=bg)
    return sample


RULES.add("b2862040", _loops_on(9, 1, 8), _outlines_on(9, 1))


def _six_cells(g: Grid) -> Grid:
    """d2abd087: shapes of exactly six cells become 2, all other shapes 1."""
    out = thaw(g)
    for cells in components(g, diagonal=False):
        paint(out, cells, 2 if len(cells) == 6 else 1)
    return out


def _sized_shapes(rng: random.Random):
    shapes = [shape(rng, 3, 4, rng.choice((3, 4, 5, 6, 6, 7, 8))) for _ in range(rng.randint(3, 6))]
    require(any(len(s) == 6 for s in shapes), "no shape of six")
    return scatter(rng, 10, 10, shapes, 5)


RULES.add("d2abd087", _six_cells, _sized_shapes)
