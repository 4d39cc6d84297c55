"""Rules that span gaps: the largest empty rectangle, diagonals between twins, rows filled between a shape's
ends, bars rising into a notch, rays from a block's corners, marked cells of a lattice, colours swapped out of
a box, insides of four corners, lines pulled to a block, the gap between two facing rectangles.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, outline, paint, place, rect, scatter
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, pick, random_grid, rays_to_box, require,
                                  thaw, transpose)

RULES = Registry()


def _largest_empty(g: Grid) -> Grid:
    """3eda0437: the largest all-0 rectangle at least 2x2 fills with 6."""
    h, w = len(g), len(g[0])
    best = (0, None)
    for top in range(h):
        for bottom in range(top + 1, h):
            run = 0
            for c in range(w):
                run = run + 1 if all(g[r][c] == 0 for r in range(top, bottom + 1)) else 0
                area = run * (bottom - top + 1)
                if run >= 2 and area > best[0]:
                    best = (area, (top, c - run + 1, bottom, c))
    top, left, bottom, right = best[1]
    return tuple(tuple(6 if top <= r <= bottom and left <= c <= right else v for c, v in enumerate(row))
                 for r, row in enumerate(g))


def _ones_noise(rng: random.Random):
    h, w = rng.randint(2, 4), rng.randint(12, 30)
    g = random_grid(rng, h, w, [1], rng.uniform(0.45, 0.6))
    for r, c in rng.sample([(r, c) for r in range(h) for c in range(w)], rng.randint(0, 2)):
        g[r][c] = 5
    areas = []
    for top in range(h):
        for bottom in range(top + 1, h):
            run = 0
            for c in range(w):
                run = run + 1 if all(g[r][c] == 0 for r in range(top, bottom + 1)) else 0
                if run >= 2:
                    areas.append(run * (bottom - top + 1))
    require(bool(areas) and areas.count(max(areas)) == 1, "no unique largest empty rectangle")
    return g


RULES.add("3eda0437", _largest_empty, _ones_noise)


def _join_diagonal_twins(g: Grid) -> Grid:
    """1f876c06: two cells of one colour on a diagonal are joined along it."""
    out = thaw(g)
    for colour in {v for row in g for v in row if v}:
        (r0, c0), (r1, c1) = cells_of(g, colour)
        step = 1 if c1 > c0 else -1
        for k in range(r1 - r0 + 1):
            out[r0 + k][c0 + step * k] = colour
    return out


def _diagonal_twins(rng: random.Random):
    g = blank(10, 10)
    lines = []
    for colour in pick(rng, rng.randint(2, 3)):
        k = rng.randint(2, 7)
        step = rng.choice((-1, 1))
        r0 = rng.randint(0, 9 - k)
        c0 = rng.randint(0, 9 - k) if step > 0 else rng.randint(k, 9)
        cells = {(r0 + i, c0 + step * i) for i in range(k + 1)}
        require(all(not cells & other for other in lines), "lines cross")
        lines.append(cells)
        g[r0][c0], g[r0 + k][c0 + step * k] = colour, colour
    return g


RULES.add("1f876c06", _join_diagonal_twins, _diagonal_twins)


def _fill_rows_between(g: Grid) -> Grid:
    """22168020: in each row, the cells between the first and last of a colour take that colour."""
    out = thaw(g)
    for r, row in enumerate(g):
        for colour in {v for v in row if v}:
            cols = [c for c, v in enumerate(row) if v == colour]
            for c in range(cols[0], cols[-1] + 1):
                out[r][c] = colour
    return out


def _vees(rng: random.Random):
    shapes = []
    for _ in range(rng.randint(1, 2)):
        arm = rng.randint(1, 3)
        width = 2 * arm + 2
        cells = [(i, i) for i in range(arm)] + [(i, width - 1 - i) for i in range(arm)]
        cells += [(arm + y, arm + x) for y in (0, 1) for x in (0, 1)]
        if rng.random() < 0.5:
            cells = [(arm + 1 - r, c) for r, c in cells]  # upside down
            top = min(r for r, _ in cells)
            cells = [(r - top, c) for r, c in cells]
        shapes.append(cells)
    return scatter(rng, 10, 10, shapes)


RULES.add("22168020", _fill_rows_between, _vees)


def _rise_into_notch(g: Grid) -> Grid:
    """3906de3d: the bars of 2 rise straight up until they meet the shape of 1."""
    cols = transpose(g)
    out = []
    for col in cols:
        twos = [r for r, v in enumerate(col) if v == 2]
        if not twos:
            out.append(col)
            continue
        stop = max((r for r, v in enumerate(col) if v == 1 and r < twos[0]), default=-1) + 1
        new = [v if v != 2 else 0 for v in col]
        for k in range(len(twos)):
            new[stop + k] = 2
        out.append(tuple(new))
    return transpose(out)


def _notched_block(rng: random.Random):
    g = blank(10, 10)
    left, width = rng.randint(0, 3), rng.randint(4, 7)
    depth = rng.randint(3, 5)
    for r in range(depth):
        for c in range(left, left + width):
            g[r][c] = 1
    for c in rng.sample(range(left + 1, left + width - 1), rng.randint(1, 2)):
        notch = rng.randint(1, depth - 1)
        for r in range(depth - notch, depth):
            g[r][c] = 0
        n = rng.randint(1, 4)
        require(depth + 1 + n <= 10, "no room for the bar")
        for r in range(10 - n, 10):
            g[r][c] = 2
    return g


RULES.add("3906de3d", _rise_into_notch, _notched_block)


def _corner_rays(g: Grid) -> Grid:
    """7ddcd7ec: cells touching the 2x2 block only at a corner keep going diagonally to the edge."""
    out = thaw(g)
    block = next(cells for cells in components(g, diagonal=False) if len(cells) == 4)
    top, left, bottom, right = bbox(block)
    for r, c in cells_of(g):
        if (r, c) in block:
            continue
        dr, dc = (1 if r > bottom else -1), (1 if c > right else -1)
        while 0 <= r < len(g) and 0 <= c < len(g[0]):
            out[r][c] = g[top][left]
            r, c = r + dr, c + dc
    return out


def _block_with_sparks(rng: random.Random):
    g = blank(10, 10)
    colour = rng.randint(1, 9)
    top, left = rng.randint(1, 7), rng.randint(1, 7)
    paint(g, rect(2, 2), colour, (top, left))
    for dr, dc in rng.sample([(-1, -1), (-1, 1), (1, -1), (1, 1)], rng.randint(1, 3)):
        g[top - 1 if dr < 0 else top + 2][left - 1 if dc < 0 else left + 2] = colour
    return g


RULES.add("7ddcd7ec", _corner_rays, _block_with_sparks)


def _lattice_marks(g: Grid) -> Grid:
    """941d9a10: lines of 5 cut the grid into cells; the first cell becomes 1, the middle one 2, the last 3."""
    rows = [r for r, row in enumerate(g) if all(v == 5 for v in row)]
    cols = [c for c, col in enumerate(transpose(g)) if all(v == 5 for v in col)]
    bands_r = [(a + 1, b - 1) for a, b in zip([-1] + rows, rows + [len(g)]) if b - a > 1]
    bands_c = [(a + 1, b - 1) for a, b in zip([-1] + cols, cols + [len(g[0])]) if b - a > 1]
    out = thaw(g)
    for (ri, ci), colour in (((0, 0), 1), ((len(bands_r) // 2, len(bands_c) // 2), 2), ((-1, -1), 3)):
        (r0, r1), (c0, c1) = bands_r[ri], bands_c[ci]
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                out[r][c] = colour
    return out


def _lattice(rng: random.Random):
    g = blank(10, 10)
    rows = sorted(rng.sample(range(1, 9), 2))
    cols = sorted(rng.sample(range(1, 9), 2))
    require(rows[1] - rows[0] > 1 and cols[1] - cols[0] > 1, "lines touch")
    for r in rows:
        g[r] = [5] * 10
    for row in g:
        for c in cols:
            row[c] = 5
    return g


RULES.add("941d9a10", _lattice_marks, _lattice)


def _swap_out(g: Grid) -> Grid:
    """952a094c: the four cells inside the box's corners leave it, each to the outside of the opposite corner."""
    frame = max(components(g, diagonal=False), key=len)
    top, left, bottom, right = bbox(frame)
    out = thaw(g)
    inner = {(top + 1, left + 1): (bottom + 1, right + 1), (top + 1, right - 1): (bottom + 1, left - 1),
             (bottom - 1, left + 1): (top - 1, right + 1), (bottom - 1, right - 1): (top - 1, left - 1)}
    for (r, c), (y, x) in inner.items():
        out[r][c] = 0
        out[y][x] = g[r][c]
    return out


def _box_with_corners(rng: random.Random):
    g = blank(10, 10)
    bh, bw = rng.randint(4, 6), rng.randint(4, 6)
    top, left = rng.randint(1, 9 - bh), rng.randint(1, 9 - bw)
    frame, *inner = pick(rng, 5)
    paint(g, outline(bh, bw), frame, (top, left))
    for (r, c), colour in zip(((1, 1), (1, bw - 2), (bh - 2, 1), (bh - 2, bw - 2)), inner):
        g[top + r][left + c] = colour
    return g


RULES.add("952a094c", _swap_out, _box_with_corners)


def _inside_corners(g: Grid) -> Grid:
    """af902bf9: four cells of 4 at the corners of a rectangle; its inside fills with 2."""
    out = thaw(g)
    points = set(cells_of(g, 4))
    for r0, c0 in points:
        for r1, c1 in points:
            if r1 > r0 + 1 and c1 > c0 + 1 and {(r0, c1), (r1, c0)} <= points:
                for r in range(r0 + 1, r1):
                    for c in range(c0 + 1, c1):
                        out[r][c] = 2
    return out


def _corner_quads(rng: random.Random):
    g = blank(10, 10)
    boxes = [rect(rng.randint(3, 5), rng.randint(3, 5)) for _ in range(rng.randint(1, 2))]
    for cells, (t, l) in zip(boxes, place(rng, 10, 10, boxes, gap=1)):
        b, r = t + max(y for y, _ in cells), l + max(x for _, x in cells)
        for y, x in ((t, l), (t, r), (b, l), (b, r)):
            g[y][x] = 4
    return g


RULES.add("af902bf9", _inside_corners, _corner_quads)


def _pulled_to_block(g: Grid) -> Grid:
    """d43fd935: a cell in line with the 2x2 block of 3 draws a line of its colour up to the block."""
    block = cells_of(g, 3)
    return rays_to_box(g, bbox(block), set(block))


def _block_and_cells(rng: random.Random):
    g = blank(10, 10)
    top, left = rng.randint(2, 6), rng.randint(2, 6)
    paint(g, rect(2, 2), 3, (top, left))
    colours = pick(rng, 2, (1, 2, 4, 6, 7, 8))
    for _ in range(rng.randint(3, 7)):
        r, c = rng.randrange(10), rng.randrange(10)
        if g[r][c] == 0 and not (top - 1 <= r <= top + 2 and left - 1 <= c <= left + 2):
            g[r][c] = rng.choice(colours)
    lines = [(r, c) for r, c in cells_of(g) if g[r][c] != 3 and (top <= r <= top + 1 or left <= c <= left + 1)]
    require(bool(lines), "nothing in line with the block")
    rows = [r for r, _ in lines if top <= r <= top + 1]
    cols = [c for _, c in lines if left <= c <= left + 1]
    require(len(rows) == len(set(rows)) and len(cols) == len(set(cols)), "two cells share a line")
    return g


RULES.add("d43fd935", _pulled_to_block, _block_and_cells)


def _bridge(g: Grid) -> Grid:
    """d6ad076f: between two facing rectangles, a bridge of 8 one cell narrower on each side than their overlap."""
    a, b = sorted(components(g, diagonal=False), key=lambda cells: cells[0])
    (at, al, ab, ar), (bt, bl, bb, br) = bbox(a), bbox(b)
    out = thaw(g)
    if ab < bt:  # one above the other
        lo, hi = max(al, bl) + 1, min(ar, br) - 1
        cells = [(r, c) for r in range(ab + 1, bt) for c in range(lo, hi + 1)]
    else:
        first, second = sorted(((at, al, ab, ar), (bt, bl, bb, br)), key=lambda box: box[1])
        lo, hi = max(first[0], second[0]) + 1, min(first[2], second[2]) - 1
        cells = [(r, c) for r in range(lo, hi + 1) for c in range(first[3] + 1, second[1])]
    paint(out, cells, 8)
    return out


def _facing_rects(rng: random.Random):
    g = blank(10, 10)
    a, b = pick(rng, 2, (1, 2, 3, 4, 6, 7, 9))
    h1, h2 = rng.randint(2, 4), rng.randint(2, 4)
    gap = rng.randint(1, 10 - h1 - h2)
    l1, w1 = rng.randint(0, 4), rng.randint(3, 6)
    l2, w2 = rng.randint(0, 4), rng.randint(3, 6)
    require(min(l1 + w1, l2 + w2) - max(l1, l2) >= 3, "overlap too small")
    t1 = rng.randint(0, 10 - h1 - h2 - gap)
    paint(g, rect(h1, min(w1, 10 - l1)), a, (t1, l1))
    paint(g, rect(h2, min(w2, 10 - l2)), b, (t1 + h1 + gap, l2))
    return transpose(g) if rng.random() < 0.5 else g


RULES.add("d6ad076f", _bridge, _facing_rects)
