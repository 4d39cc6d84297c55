"""Rules of ARC-AGI-2 training tasks (not ARC-AGI-1 ones) that move or reshape objects: moving objects and
pairs, colour histograms, growing blocks, trimming shapes, drawing triangles, stretching a drawing into a frame
and colouring shapes by a fixed key.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, paint, place, rect, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, counts, pick, require, thaw,
                                              transpose)

RULES = Registry()
ATTRACT = ({4, 7}, {1, 8})  # 494ef9d7: the colour pairs that pull together


def _by_colour(g: Grid, bg: int) -> dict[int, list[tuple[int, int]]]:
    """Colour -> its cells in reading order, for every colour but `bg`."""
    cells: dict[int, list[tuple[int, int]]] = {}
    for r, row in enumerate(g):
        for c, v in enumerate(row):
            if v != bg:
                cells.setdefault(v, []).append((r, c))
    return cells


def _pull_pairs(g: Grid) -> Grid:
    """494ef9d7: in a row of exactly two cells whose colours are 4 and 7, or 1 and 8, the right cell moves left
    until it touches the left one."""
    out = thaw(g)
    for r, row in enumerate(g):
        filled = [c for c, v in enumerate(row) if v]
        if len(filled) == 2 and {row[c] for c in filled} in ATTRACT:
            a, b = filled
            out[r][b], out[r][a + 1] = 0, row[b]
    return out


def _rows_of_two(rng: random.Random):
    h, w = rng.randint(3, 10), rng.randint(4, 10)
    g = blank(h, w)
    pulled = 0
    for r in range(h):
        if rng.random() < 0.3:
            continue
        a, b = sorted(rng.sample(range(w), 2))
        if rng.random() < 0.4:
            g[r][a], g[r][b] = rng.sample(sorted(rng.choice(ATTRACT)), 2)
            pulled += b > a + 1
        else:
            g[r][a], g[r][b] = pick(rng, 2)
    require(pulled > 0, "no pair to pull")
    return g


RULES.add("494ef9d7", _pull_pairs, _rows_of_two)


def _fall_by_size(g: Grid) -> Grid:
    """8e301a54: on a background of 7, each object (one colour each) falls by its number of cells; what falls past
    the bottom is gone."""
    out = blank(len(g), len(g[0]), 7)
    for colour, cells in _by_colour(g, 7).items():
        for r, c in cells:
            if r + len(cells) < len(g):
                out[r + len(cells)][c] = colour
    return out


def _objects_to_drop(rng: random.Random):
    shapes = [shape(rng, rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 5)) for _ in range(rng.randint(2, 3))]
    g = blank(10, 10, 7)
    seen: set[tuple[int, int]] = set()
    for cells, (r0, c0), colour in zip(shapes, place(rng, 10, 10, shapes, gap=1), pick(rng, len(shapes), (2, 5, 9))):
        paint(g, cells, colour, (r0, c0))
        landed = {(r0 + r + len(cells), c0 + c) for r, c in cells}
        require(not landed & seen, "two objects land on each other")
        require(min(r for r, _ in landed) < 10, "an object falls out of the grid")
        seen |= landed
    return g


RULES.add("8e301a54", _fall_by_size, _objects_to_drop)


def _histogram(g: Grid) -> Grid:
    """bd283c4a: the same cells sorted by colour, commonest first: column by column from the left, each column
    filled from the bottom up."""
    h, w = len(g), len(g[0])
    order = [v for v, n in sorted(counts(g).items(), key=lambda vn: (-vn[1], vn[0])) for _ in range(n)]
    out = blank(h, w)
    for i, v in enumerate(order):
        out[h - 1 - i % h][i // h] = v
    return out


def _four_colour_noise(rng: random.Random):
    colours = pick(rng, 4)
    sizes = [rng.randint(40, 55), rng.randint(20, 32), rng.randint(10, 19)]
    sizes.append(100 - sum(sizes))
    require(len(set(sizes)) == 4 and sizes[3] >= 1, "the counts are not all different")
    cells = [v for v, n in zip(colours, sizes) for _ in range(n)]
    rng.shuffle(cells)
    return [cells[r * 10:(r + 1) * 10] for r in range(10)]


RULES.add("bd283c4a", _histogram, _four_colour_noise)


def _grow_toward(g: Grid) -> Grid:
    """d968ffd4: two blocks face each other across a plain grid; each grows toward the other over half the gap
    (an odd gap keeps its middle line), one line wider on both sides than the block."""
    bg = g[0][0]
    (a, cells_a), (b, cells_b) = sorted(_by_colour(g, bg).items(), key=lambda kv: kv[1][0][::-1])
    top, left, bottom, right = bbox(cells_a)
    if bbox(cells_b)[1] <= right:  # one above the other: work on the transpose
        return transpose(_grow_toward(transpose(g)))
    start = bbox(cells_b)[1]
    half = (start - right - 1) // 2
    out = thaw(g)
    for r in range(top - 1, bottom + 2):
        for c in range(right + 1, right + 1 + half):
            out[r][c] = a
        for c in range(start - half, start):
            out[r][c] = b
    return out


def _facing_blocks(rng: random.Random):
    bg, a, b = pick(rng, 3)
    thick, across, gap = rng.randint(1, 2), rng.randint(1, 4), rng.randint(6, 13)
    g = blank(across + 2, 2 * thick + gap + 2, bg)
    for r in range(1, across + 1):
        for c in range(1, 1 + thick):
            g[r][c], g[r][-1 - c] = a, b
    return transpose(g) if rng.random() < 0.5 else g


RULES.add("d968ffd4", _grow_toward, _facing_blocks)


def _slide_to_eight(g: Grid) -> Grid:
    """470c91de: on a background of 7, each rectangle with an 8 in one corner moves one cell diagonally toward that
    corner and is filled with its own colour."""
    out = blank(len(g), len(g[0]), 7)
    for colour, cells in _by_colour(g, 7).items():
        if colour == 8:
            continue
        top, left, bottom, right = bbox(cells)  # a corner less does not shrink a rectangle's box
        r8, c8 = next((r, c) for r in (top, bottom) for c in (left, right) if g[r][c] == 8)
        dr, dc = (-1 if r8 == top else 1), (-1 if c8 == left else 1)
        paint(out, [(r + dr, c + dc) for r in range(top, bottom + 1) for c in range(left, right + 1)], colour)
    return out


def _cornered_rects(rng: random.Random):
    n = rng.randint(10, 11)
    boxes = [rect(rng.randint(2, 5), rng.randint(2, 5)) for _ in range(rng.randint(2, 4))]
    g = blank(n, n, 7)
    landed: set[tuple[int, int]] = set()
    colours = pick(rng, len(boxes), (1, 2, 3, 4, 5, 6, 9))
    for cells, (r0, c0), colour in zip(boxes, place(rng, n - 2, n - 2, boxes, gap=1), colours):
        hh, ww = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
        paint(g, cells, colour, (r0 + 1, c0 + 1))
        cr, cc = rng.choice(((0, 0), (0, ww - 1), (hh - 1, 0), (hh - 1, ww - 1)))
        g[r0 + 1 + cr][c0 + 1 + cc] = 8
        dr, dc = (-1 if cr == 0 else 1), (-1 if cc == 0 else 1)
        moved = {(r0 + 1 + r + dr + er, c0 + 1 + c + dc + ec) for r, c in cells
                 for er in (-1, 0, 1) for ec in (-1, 0, 1)}  # where it lands, with a ring around
        require(not moved & landed, "two moved rectangles touch")
        landed |= {(r0 + 1 + r + dr, c0 + 1 + c + dc) for r, c in cells}
    return g


RULES.add("470c91de", _slide_to_eight, _cornered_rects)


def _trim_left(g: Grid) -> Grid:
    """52364a65: on a background of 8, each object (one colour each) loses its two leftmost columns."""
    out = thaw(g)
    for cells in _by_colour(g, 8).values():
        left = min(c for _, c in cells)
        for r, c in cells:
            if c < left + 2:
                out[r][c] = 8
    return out


def _objects_on_eight(rng: random.Random):
    n = rng.randint(8, 11)
    shapes = [shape(rng, rng.randint(1, 4), rng.randint(2, 5)) for _ in range(rng.randint(2, 5))]
    require(sum(max(c for _, c in cells) < 2 for cells in shapes) <= 1, "more than one object would vanish")
    return _scatter_coloured(rng, n, n, shapes, (0, 2, 3, 4, 5, 6, 9), 8)


def _scatter_coloured(rng: random.Random, h: int, w: int, shapes: list, palette: tuple[int, ...], bg: int):
    """The shapes placed apart on an h x w of `bg`, each in its own colour from `palette`."""
    g = blank(h, w, bg)
    for cells, at, colour in zip(shapes, place(rng, h, w, shapes, gap=1), pick(rng, len(shapes), palette)):
        paint(g, cells, colour, at)
    return g


RULES.add("52364a65", _trim_left, _objects_on_eight)


def _diagonal_pairs(cells: list[tuple[int, int]]) -> list[tuple[int, tuple[int, int], tuple[int, int]]]:
    """(length, end, end) for each two cells on one diagonal line, longest first."""
    found = [(abs(p[0] - q[0]), p, q) for i, p in enumerate(cells) for q in cells[i + 1:]
             if abs(p[0] - q[0]) == abs(p[1] - q[1])]
    return sorted(found, reverse=True)


def _line(p: tuple[int, int], q: tuple[int, int]) -> list[tuple[int, int]]:
    """The cells of the straight (level, upright or diagonal) line from p to q, both ends in."""
    n = max(abs(q[0] - p[0]), abs(q[1] - p[1]))
    return [(p[0] + (q[0] - p[0]) * i // n, p[1] + (q[1] - p[1]) * i // n) for i in range(n + 1)]


def _triangle(g: Grid) -> Grid:
    """1478ab18: on a background of 7, the two 5s furthest apart on one diagonal are the ends of a right
    triangle's long side; its right angle is the corner of their box that holds no 5; the triangle's outline is
    drawn in 8 around the 5s."""
    fives = cells_of(g, 5)
    _, (r1, c1), (r2, c2) = _diagonal_pairs(fives)[0]
    corner = next(p for p in ((r1, c2), (r2, c1)) if p not in fives)
    out = thaw(g)
    for r, c in _line((r1, c1), (r2, c2)) + _line((r1, c1), corner) + _line(corner, (r2, c2)):
        if g[r][c] != 5:
            out[r][c] = 8
    return out


def _side(p: tuple[int, int], a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether p lies left of the line from a to b (the sign of their cross product)."""
    return (p[0] - a[0]) * (b[1] - a[1]) - (p[1] - a[1]) * (b[0] - a[0]) > 0


def _triangle_hint(rng: random.Random):
    side = rng.randint(3, 7)
    r0, c0 = rng.randint(0, 7 - side), rng.randint(0, 7 - side)
    corners = [(r0, c0), (r0, c0 + side), (r0 + side, c0 + side), (r0 + side, c0)]
    k = rng.randrange(4)
    ends, corner, other = (corners[k], corners[(k + 2) % 4]), corners[(k + 1) % 4], corners[(k + 3) % 4]
    edge = set(_line(ends[0], ends[1]) + _line(ends[0], corner) + _line(corner, ends[1]))
    inner = [(r, c) for r in range(r0, r0 + side + 1) for c in range(c0, c0 + side + 1)
             if (r, c) not in edge and _side((r, c), *ends) == _side(corner, *ends)]
    fives = [ends[0], ends[1], other, rng.choice(inner)]
    pairs = _diagonal_pairs(fives)
    require(len(pairs) == 1 or pairs[1][0] < pairs[0][0], "another pair of 5s is as long a diagonal")
    g = blank(8, 8, 7)
    paint(g, fives, 5)
    return g


RULES.add("1478ab18", _triangle, _triangle_hint)


def _stretch_into_frame(g: Grid) -> Grid:
    """465b7d93: on a background of 7, a small drawing (one cell, or a 2x2 square less at most one cell) goes into
    the empty inside of a rectangle of 6, stretched to fill it: its first row and column map to the inside's
    first, its last to the last, and a middle cell is painted only where the drawing holds every cell it spans."""
    frame = cells_of(g, 6)
    top, left, bottom, right = bbox(frame)
    (colour, cells), = [(v, cs) for v, cs in _by_colour(g, 7).items() if v != 6]
    r0, c0 = min(r for r, _ in cells), min(c for _, c in cells)
    drawing = {(r - r0, c - c0) for r, c in cells}
    dh, dw = max(r for r, _ in drawing) + 1, max(c for _, c in drawing) + 1

    def spans(i: int, n: int, d: int) -> tuple[int, ...]:  # the drawing's lines that inside line i of n stands for
        return (0,) if d == 1 or i == 0 else (d - 1,) if i == n - 1 else tuple(range(d))

    ih, iw = bottom - top - 1, right - left - 1
    out = [[7 if v == colour else v for v in row] for row in g]
    for i in range(ih):
        for j in range(iw):
            if all((a, b) in drawing for a in spans(i, ih, dh) for b in spans(j, iw, dw)):
                out[top + 1 + i][left + 1 + j] = colour
    return out


def _frame_and_drawing(rng: random.Random):
    if rng.random() < 0.2:
        drawing, ih, iw = [(0, 0)], 1, 1
    else:
        drawing = rect(2, 2)
        if rng.random() < 0.75:
            drawing.remove(rng.choice(drawing))
        ih, iw = rng.randint(2, 6), rng.randint(2, 7)
    shapes = [[(r, c) for r in range(ih + 2) for c in range(iw + 2)], drawing]
    g = blank(10, 10, 7)
    (fr, fc), at = place(rng, 10, 10, shapes, gap=1)
    for r in range(ih + 2):
        for c in range(iw + 2):
            if r in (0, ih + 1) or c in (0, iw + 1):
                g[fr + r][fc + c] = 6
    paint(g, drawing, rng.choice((1, 2, 3, 4, 5, 8, 9)), at)
    return g


RULES.add("465b7d93", _stretch_into_frame, _frame_and_drawing)

SHAPE_COLOURS = {  # ad38a9d0: each shape of 6 (as rows, # for a cell) and the colour it takes
    ("##", ".#"): 4,
    ("##.", ".##"): 8,
    (".#.", "###", ".#."): 3,
    ("#", "#", "#"): 2,
    ("#", "#"): 9,
    ("###", "###"): 5,
}


def _cells_of_drawing(rows: tuple[str, ...]) -> list[tuple[int, int]]:
    return [(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == "#"]


def _colour_by_shape(g: Grid) -> Grid:
    """ad38a9d0: on a background of 7, each shape of 6 takes the colour its shape has in a fixed key (an L of
    three: 4, a Z: 8, a plus: 3, an upright bar of three: 2, of two: 9, a 2x3 block: 5)."""
    key = {tuple(_cells_of_drawing(rows)): colour for rows, colour in SHAPE_COLOURS.items()}
    out = thaw(g)
    for cells in components([[1 if v == 6 else 0 for v in row] for row in g], diagonal=False):
        r0, c0 = min(r for r, _ in cells), min(c for _, c in cells)
        paint(out, cells, key[tuple(sorted((r - r0, c - c0) for r, c in cells))])
    return out


def _key_shapes(rng: random.Random):
    drawings = [_cells_of_drawing(rng.choice(sorted(SHAPE_COLOURS))) for _ in range(rng.randint(4, 8))]
    g = blank(9, 9, 7)
    for cells, at in zip(drawings, place(rng, 9, 9, drawings, gap=1)):
        paint(g, cells, 6, at)
    return g


RULES.add("ad38a9d0", _colour_by_shape, _key_shapes)
