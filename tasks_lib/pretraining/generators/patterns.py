"""Families about pattern-level rules: periodic mosaics (restore a hidden patch, repair off-colour cells, find
the repeating tile), self-similar tiling, grids split by divider lines into cells, diagonals, counting drawn as
bars, colour by position, and mirroring objects across a line or across their own axes.

Contract: as in `geometry`; a draw whose answer the input would not determine (a hidden patch or a repair that
two periods would make differently, tied counts, touching lines) raises `grid.Retry`.
"""

from __future__ import annotations

import operator
import random
from collections import Counter
from typing import Callable, Sequence

from tasks_lib.arc.data import Grid
from tasks_lib.pretraining.generators.grid import (COLOURS, Canvas, PairFn, Retry, blank, colours, dims, freeze, noise, paint,
                                       place, random_rects, shape, side_range, size, tiled)


def _turn(canvas: Canvas, k: int) -> Canvas:
    """`canvas` rotated k quarter turns clockwise, then mirrored left-right when k >= 4 (k in 0-7)."""
    for _ in range(k % 4):
        canvas = [list(row) for row in zip(*canvas[::-1])]
    return [row[::-1] for row in canvas] if k >= 4 else canvas


def _fill_by_period(canvas: Canvas, hidden: set[tuple[int, int]], ph: int, pw: int) -> dict | None:
    """The hidden cells' values read off the visible cells under period (ph, pw); None when the visible
    cells disagree with that period or leave a hidden cell's residue unseen."""
    seen: dict[tuple[int, int], int] = {}
    for y, row in enumerate(canvas):
        for x, v in enumerate(row):
            if (y, x) not in hidden and seen.setdefault((y % ph, x % pw), v) != v:
                return None
    fill = {}
    for y, x in hidden:
        if (y % ph, x % pw) not in seen:
            return None
        fill[(y, x)] = seen[(y % ph, x % pw)]
    return fill


def _mosaic_tile(r: random.Random, palette: list[int]) -> Canvas:
    """A mosaic's tile: 1-4 by 2-4 cells (either way round), each a random palette colour."""
    ph, pw = r.randint(1, 4), r.randint(2, 4)
    if r.random() < 0.5:
        ph, pw = pw, ph
    return noise(r, ph, pw, palette, 1.0)


def periodic_patch(rng: random.Random) -> PairFn:
    """A periodic mosaic covers the grid but a rectangle of it is painted over in a mask colour; the
    output is what the mask hides."""
    mask = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(2, 4), exclude=(mask,))  # 0 may be part of the mosaic
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        tile = _mosaic_tile(r, palette)
        if len({v for row in tile for v in row}) < 2:
            raise Retry("a one-colour mosaic")
        h, w = dims(r, lo, hi)
        full = tiled(tile, h, w)
        mh, mw = r.randint(2, min(6, h - 2)), r.randint(2, min(6, w - 2))
        y0, x0 = r.randint(0, h - mh), r.randint(0, w - mw)
        hidden = {(y0 + y, x0 + x) for y in range(mh) for x in range(mw)}
        truth = {cell: full[cell[0]][cell[1]] for cell in hidden}
        # every period that the visible cells allow must fill the mask the same way
        for a in range(1, 7):
            for b in range(1, 7):
                fill = _fill_by_period(full, hidden, a, b)
                if fill is not None and fill != truth:
                    raise Retry("two periods fill the mask differently")
        if _fill_by_period(full, hidden, *size(tile)) is None:
            raise Retry("the mask hides a part of the tile seen nowhere else")
        inp = [row[:] for row in full]
        paint(inp, hidden, mask)
        return freeze(inp), freeze([row[x0:x0 + mw] for row in full[y0:y0 + mh]])
    return pair


def _repair_by_period(canvas: Canvas, ph: int, pw: int) -> tuple[Canvas, int] | None:
    """The canvas with each cell set to the strict majority of its residue class under period (ph, pw), and
    how many cells that changes; None when a class has no strict majority."""
    majority = {}
    for py in range(min(ph, len(canvas))):
        for px in range(min(pw, len(canvas[0]))):
            top = Counter(v for row in canvas[py::ph] for v in row[px::pw]).most_common(2)
            if len(top) > 1 and top[0][1] == top[1][1]:
                return None
            majority[(py, px)] = top[0][0]
    repaired = [[majority[(y % ph, x % pw)] for x in range(len(canvas[0]))] for y in range(len(canvas))]
    changed = sum(a != b for ra, rb in zip(canvas, repaired) for a, b in zip(ra, rb))
    return repaired, changed


def _breaks(canvas: Canvas, ph: int, pw: int, most: int) -> bool:
    """Do more than `most` cells differ from the cell ph rows below, or from the cell pw columns right?"""
    down = right = 0
    for y, row in enumerate(canvas):
        right += sum(map(operator.ne, row, row[pw:]))
        if y + ph < len(canvas):
            down += sum(map(operator.ne, row, canvas[y + ph]))
        if down > most or right > most:
            return True
    return False


def repair_mosaic(rng: random.Random) -> PairFn:
    """A periodic mosaic has a few cells (at most one per place in the tile) in a wrong colour of its own
    palette; the output repairs them."""
    palette = colours(rng, rng.randint(2, 4), exclude=())
    lo, hi = side_range(rng, 12, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        tile = _mosaic_tile(r, palette)
        h, w = dims(r, lo, hi)
        full = tiled(tile, h, w)
        ph, pw = size(tile)
        places = r.sample([(y, x) for y in range(ph) for x in range(pw)], r.randint(1, min(4, ph * pw)))
        inp = [row[:] for row in full]
        for py, px in places:
            y, x = r.randrange(py, h, ph), r.randrange(px, w, pw)
            inp[y][x] = r.choice([c for c in palette if c != full[y][x]])
        # no period up to 6 x 6 explains the input as well and repairs it otherwise
        for a in range(1, 7):
            for b in range(1, 7):
                if _breaks(inp, a, b, 2 * len(places)):
                    continue  # k repairs leave at most 2k cells unlike their neighbour a rows or b columns on
                got = _repair_by_period(inp, a, b)
                if got is not None and got[1] <= len(places) and got[0] != full:
                    raise Retry("another period explains the mosaic as well")
        return freeze(inp), freeze(full)
    return pair


def _least_period(lines: Sequence[tuple[int, ...]]) -> int:
    """The smallest p with lines[i] == lines[i + p] for every i."""
    return next(p for p in range(1, len(lines) + 1) if all(lines[i] == lines[i + p] for i in range(len(lines) - p)))


def minimal_tile(rng: random.Random) -> PairFn:
    """The grid repeats one tile (the last repeats may be cut off); the output is that smallest tile."""
    palette = colours(rng, rng.randint(2, 4), exclude=())
    lo, hi = side_range(rng, 4, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        ph, pw = r.randint(1, 5), r.randint(1, 5)
        tile = noise(r, ph, pw, palette, 1.0)
        h = r.randint(max(lo, 2 * ph), max(hi, 2 * ph))
        w = r.randint(max(lo, 2 * pw), max(hi, 2 * pw))
        g = freeze(tiled(tile, h, w))
        a, b = _least_period(g), _least_period(list(zip(*g)))
        if a * b == 1 or 2 * a > h or 2 * b > w:
            raise Retry("a one-cell tile, or too few repeats to read the tile off")
        return freeze(g), freeze([row[:b] for row in g[:a]])
    return pair


def self_tile(rng: random.Random) -> PairFn:
    """A k x k picture becomes k*k x k*k: block (i, j) is a copy of the picture where cell (i, j) is coloured
    (or, for some tasks, where it is background), else background."""
    where_blank = rng.random() < 0.3
    palette = colours(rng, rng.randint(1, 3))

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        k = r.randint(2, 5)
        g = noise(r, k, k, palette, r.uniform(0.3, 0.7))
        n = sum(1 for row in g for v in row if v)
        if n < 2 or n == k * k:
            raise Retry("too few coloured cells, or no background")
        out = blank(k * k, k * k)
        for i in range(k):
            for j in range(k):
                if bool(g[i][j]) != where_blank:
                    for y in range(k):
                        out[i * k + y][j * k:(j + 1) * k] = g[y]
        return freeze(g), freeze(out)
    return pair


def _divided(divider: int, ny: int, nx: int, ch: int, cw: int,
             content: Callable[[int, int], Canvas]) -> Canvas:
    """A grid of ny x nx cells of ch x cw, one-cell divider lines between them; content(i, j) fills cell (i, j)."""
    g = blank(ny * (ch + 1) - 1, nx * (cw + 1) - 1, divider)
    for i in range(ny):
        for j in range(nx):
            cell = content(i, j)
            for y in range(ch):
                g[i * (ch + 1) + y][j * (cw + 1):j * (cw + 1) + cw] = cell[y]
    return g


def _cell_layout(r: random.Random, top: int) -> tuple[int, int, int, int]:
    """Rows and columns of cells and the cell height and width, for a divided grid of at most `top` per side."""
    ch, cw = r.randint(2, 5), r.randint(2, 5)
    ny = r.randint(2, max(2, min(6, (top + 1) // (ch + 1))))
    nx = r.randint(2, max(2, min(6, (top + 1) // (cw + 1))))
    if ny * (ch + 1) - 1 > 30 or nx * (cw + 1) - 1 > 30:
        raise Retry("divided grid too large")
    return ny, nx, ch, cw


def cells_majority(rng: random.Random) -> PairFn:
    """Divider lines split the grid into cells holding a few pixels; the output has one cell per grid cell,
    coloured with the colour most of its pixels have (background for an empty cell)."""
    divider = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(2, 3), exclude=(0, divider))
    _, top = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        ny, nx, ch, cw = _cell_layout(r, top)
        summary = blank(ny, nx)

        def content(i: int, j: int) -> Canvas:
            cell = blank(ch, cw)
            if r.random() < 0.25:
                return cell
            spots = r.sample([(y, x) for y in range(ch) for x in range(cw)], r.randint(1, min(5, ch * cw - 1)))
            for y, x in spots:
                cell[y][x] = r.choice(palette)
            counts = Counter(v for row in cell for v in row if v).most_common()
            if len(counts) > 1 and counts[0][1] == counts[1][1]:
                raise Retry("tied colours in a cell")
            summary[i][j] = counts[0][0]
            return cell
        return freeze(_divided(divider, ny, nx, ch, cw, content)), freeze(summary)
    return pair


def cells_fill(rng: random.Random) -> PairFn:
    """Divider lines split the grid into cells; every cell that holds a pixel is filled with its colour."""
    divider = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, divider))
    _, top = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        ny, nx, ch, cw = _cell_layout(r, top)
        marks = {(i, j): r.choice(palette) for i in range(ny) for j in range(nx) if r.random() < 0.35}
        if not marks:
            raise Retry("no marked cell")
        spots = {cell: (r.randrange(ch), r.randrange(cw)) for cell in marks}

        def marked(i: int, j: int) -> Canvas:
            cell = blank(ch, cw)
            if (i, j) in marks:
                y, x = spots[(i, j)]
                cell[y][x] = marks[(i, j)]
            return cell

        def filled(i: int, j: int) -> Canvas:
            return blank(ch, cw, marks.get((i, j), 0))
        return (freeze(_divided(divider, ny, nx, ch, cw, marked)),
                freeze(_divided(divider, ny, nx, ch, cw, filled)))
    return pair


def colour_histogram(rng: random.Random) -> PairFn:
    """Count the pixels of each colour; the output draws one bar per colour, as long as its count, longest
    first, standing on the bottom (or, for some tasks, starting at the left as rows)."""
    as_rows = rng.random() < 0.5
    lo, hi = side_range(rng, 5, 20)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        n = r.randint(2, 4)
        most = min(10, h * w // (2 * n))
        if most < n:
            raise Retry("grid too small for distinct counts")
        counts = r.sample(range(1, most + 1), n)  # distinct, so the order is fixed
        cols = colours(r, n)
        cells = r.sample([(y, x) for y in range(h) for x in range(w)], sum(counts))
        g = blank(h, w)
        start = 0
        for c, k in zip(cols, counts):
            paint(g, cells[start:start + k], c)
            start += k
        ranked = sorted(zip(counts, cols), reverse=True)
        tall = ranked[0][0]
        bars = [[c if y >= tall - k else 0 for y in range(tall)] for k, c in ranked]  # each bar, top to bottom
        out = [list(col) for col in zip(*bars)]
        if as_rows:
            out = [bar[::-1] for bar in bars]
        return freeze(g), freeze(out)
    return pair


PARTITIONS: dict[str, Callable[[int, int], int]] = {
    "row_parity": lambda y, x: y % 2,
    "column_parity": lambda y, x: x % 2,
    "checker": lambda y, x: (y + x) % 2,
    "column_mod_3": lambda y, x: x % 3,
    "row_mod_3": lambda y, x: y % 3,
}


def position_recolour(rng: random.Random) -> PairFn:
    """Pixels of one colour are recoloured by where they stand: a fixed map from a position class (row or
    column parity, checkerboard square, column or row modulo 3) to a colour."""
    classify = PARTITIONS[rng.choice(sorted(PARTITIONS))]
    n_classes = 3 if classify(0, 2) == 2 or classify(2, 0) == 2 else 2
    marker, *targets = colours(rng, n_classes + 1)
    lo, hi = side_range(rng, 4, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        g = noise(r, h, w, (marker,), r.uniform(0.2, 0.6))
        spots = [(y, x) for y in range(h) for x in range(w) if g[y][x]]
        if len({classify(y, x) for y, x in spots}) < n_classes:
            raise Retry("a position class has no pixel")
        out = [row[:] for row in g]
        for y, x in spots:
            out[y][x] = targets[classify(y, x)]
        return freeze(g), freeze(out)
    return pair


def key_recolour(rng: random.Random) -> PairFn:
    """The first column holds a colour key, one colour per row (for some tasks: the first row, one per
    column); pixels of a marker colour beyond the gap take their row's (column's) key colour."""
    by_column = rng.random() < 0.5
    marker = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(2, 4), exclude=(0, marker))
    lo, hi = side_range(rng, 4, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = r.randint(lo, hi), r.randint(max(lo, 4), max(hi, 4))
        key = [r.choice(palette) for _ in range(h)]
        field = noise(r, h, w - 2, (marker,), r.uniform(0.2, 0.6))
        if not any(v for row in field for v in row):
            raise Retry("no marker pixel")
        inp = [[key[y], 0] + field[y] for y in range(h)]
        out = [[key[y], 0] + [key[y] if v else 0 for v in field[y]] for y in range(h)]
        if by_column:
            inp, out = [list(col) for col in zip(*inp)], [list(col) for col in zip(*out)]
        return freeze(inp), freeze(out)
    return pair


def mirror_across_line(rng: random.Random) -> PairFn:
    """A full line of one colour crosses the grid; the objects on one side of it are mirrored across it onto
    the empty other side (the line runs down or across; which side holds the objects varies)."""
    line = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, line))
    upright = rng.random() < 0.5  # a vertical line: objects mirror left <-> right
    lo, hi = side_range(rng, 7, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        if upright:
            h, w = w, h
        p = r.randint(2, h - 3)  # the line is row p, objects sit in rows above it (turned after)
        reach = min(p, h - 1 - p)
        region_h = r.randint(1, reach)
        shapes = [shape(r, r.randint(1, min(3, region_h)), r.randint(1, min(4, w))) for _ in range(r.randint(1, 3))]
        g = blank(h, w)
        band = blank(region_h, w)
        for cells, at in zip(shapes, place(r, region_h, w, shapes)):
            paint(band, cells, r.choice(palette), at)
        for y in range(region_h):
            g[p - region_h + y] = band[y][:]
        g[p] = [line] * w
        out = [row[:] for row in g]
        for y in range(p):
            for x in range(w):
                if g[y][x]:
                    out[2 * p - y][x] = g[y][x]
        if r.random() < 0.5:
            g, out = g[::-1], out[::-1]
        if upright:
            g, out = [list(col) for col in zip(*g)], [list(col) for col in zip(*out)]
        return freeze(g), freeze(out)
    return pair


def axis_mirror(rng: random.Random) -> PairFn:
    """Each object is a half-picture against a straight segment of an axis colour; the output completes every
    object by mirroring its half across its own axis (axes run down or across, object by object)."""
    axis = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, axis))
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        halves, wholes, segments = [], [], []
        for _ in range(r.randint(1, 4)):
            length, depth = r.randint(2, 5), r.randint(1, 3)
            half = shape(r, r.randint(1, length), depth)
            sh, sw = max(y for y, _ in half) + 1, max(x for _, x in half) + 1
            dy = r.randint(0, length - sh)
            left = [(y + dy, x + depth - sw) for y, x in half]  # its last column touches the axis
            right = [(y, 2 * depth - x) for y, x in left]
            segment = [(y, depth) for y in range(length)]
            kept = left if r.random() < 0.5 else right
            if r.random() < 0.5:  # the axis runs across
                left, right, kept, segment = ([(x, y) for y, x in cells] for cells in (left, right, kept, segment))
            halves.append(kept)
            wholes.append(left + right + segment)
            segments.append(segment)
        inp, out = blank(h, w), blank(h, w)
        for half, whole, segment, at in zip(halves, wholes, segments, place(r, h, w, wholes)):
            c = r.choice(palette)
            paint(inp, half, c, at)
            paint(out, [cell for cell in whole if cell not in segment], c, at)
            paint(inp, segment, axis, at)
            paint(out, segment, axis, at)
        return freeze(inp), freeze(out)
    return pair


def diagonal_bounce(rng: random.Random) -> PairFn:
    """A pixel on one edge sets off diagonally, in a fixed one of the two diagonal directions, bouncing off
    the side walls, and leaves a trail of its colour until the far edge."""
    turn = rng.randrange(8)
    step0 = rng.choice((-1, 1))
    lo, hi = side_range(rng, 5, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = r.randint(lo, hi), r.randint(2, max(3, min(hi, 12)))
        c = r.choice(COLOURS)
        x = r.randrange(w)
        inp = blank(h, w)
        inp[h - 1][x] = c
        out = [row[:] for row in inp]
        step = step0
        for y in range(h - 2, -1, -1):
            if not 0 <= x + step < w:
                step = -step
            x += step
            out[y][x] = c
        return freeze(_turn(inp, turn)), freeze(_turn(out, turn))
    return pair


def connect_diagonal(rng: random.Random) -> PairFn:
    """Pairs of same-coloured pixels on a common diagonal are joined by a diagonal line of their colour."""
    lo, hi = side_range(rng, 6, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        n = r.randint(1, 4)
        cols = colours(r, n)
        inp, out = blank(h, w), blank(h, w)
        used: set[tuple[int, int]] = set()
        for c in cols:
            length = r.randint(2, max(2, min(h, w) - 1))
            if length >= min(h, w):
                raise Retry("grid too small for the line")
            y0, x0 = r.randrange(h - length), r.randrange(w - length)
            dx = r.choice((-1, 1))
            if dx < 0:
                x0 += length
            path = [(y0 + k, x0 + dx * k) for k in range(length + 1)]
            near = {(y + dy, x + dxx) for y, x in path for dy in (-1, 0, 1) for dxx in (-1, 0, 1)}
            if near & used:
                raise Retry("lines would touch or cross")
            used.update(path)
            paint(inp, [path[0], path[-1]], c)
            paint(out, path, c)
        return freeze(inp), freeze(out)
    return pair


def checker_rects(rng: random.Random) -> PairFn:
    """Solid rectangles get a checkerboard inside: counting from each rectangle's top-left corner, every
    other cell takes a fixed colour."""
    mark = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, mark))
    lo, hi = side_range(rng, 6, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        rects = random_rects(r, r.randint(1, 4), 2, min(7, h - 1), min(7, w - 1))
        inp = blank(h, w)
        out = blank(h, w)
        for cells, at in zip(rects, place(r, h, w, rects)):
            c = r.choice(palette)
            paint(inp, cells, c, at)
            paint(out, [cell for cell in cells if sum(cell) % 2 == 0], c, at)
            paint(out, [cell for cell in cells if sum(cell) % 2], mark, at)
        return freeze(inp), freeze(out)
    return pair


FAMILIES = {
    "periodic_patch": periodic_patch,
    "repair_mosaic": repair_mosaic,
    "minimal_tile": minimal_tile,
    "self_tile": self_tile,
    "cells_majority": cells_majority,
    "cells_fill": cells_fill,
    "colour_histogram": colour_histogram,
    "position_recolour": position_recolour,
    "key_recolour": key_recolour,
    "mirror_across_line": mirror_across_line,
    "axis_mirror": axis_mirror,
    "diagonal_bounce": diagonal_bounce,
    "connect_diagonal": connect_diagonal,
    "checker_rects": checker_rects,
}
