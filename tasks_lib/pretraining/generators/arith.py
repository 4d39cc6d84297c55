"""Families about counting and comparing made visible: bar lengths added or subtracted, the fuller half, the
unique or most common shape, parity and hole counts, votes over several panels, sequences that continue (a
staircase, a dotted line) and a legend that maps shapes to colours.

Contract: as in `geometry`. Objects are placed one cell apart, so each drawn shape is exactly one object of
`grid.components`; shapes compared for equality are compared as drawn (no rotation). Draws whose answer
would be ambiguous (equal counts, colliding lines, a shape repeated where it must be unique) raise
`grid.Retry`.
"""

from __future__ import annotations

import random

from tasks_lib.arc.data import Grid
from tasks_lib.pretraining.generators.grid import (COLOURS, Canvas, Cell, PairFn, Retry, blank, colours, dims, extent, freeze,
                                       noise, paint, place, rect, scene, shape, side_range, turn)


def _transpose(canvas: Canvas) -> Canvas:
    return [list(col) for col in zip(*canvas)]


def _distinct_shapes(rng: random.Random, n: int, box: int, lo_cells: int, hi_cells: int) -> list[list[Cell]]:
    """n different random shapes (compared as drawn) inside a box x box square."""
    found: list[list[Cell]] = []
    for _ in range(40):
        cells = shape(rng, box, box, rng.randint(lo_cells, hi_cells))
        if cells not in found:
            found.append(cells)
        if len(found) == n:
            return found
    raise Retry("not enough different shapes")


def _drawn(cells: list[Cell], colour: int) -> Canvas:
    """A shape alone on its bounding box."""
    canvas = blank(*extent(cells))
    paint(canvas, cells, colour)
    return canvas


def bar_arithmetic(rng: random.Random) -> PairFn:
    """Two straight bars of different colours; the output is one bar of a fixed colour as long as their lengths
    added (or, for some tasks, the difference of their lengths). Bars and output run across (or, for some
    tasks, down)."""
    add = rng.random() < 0.5
    out_colour = rng.choice(COLOURS)
    upright = rng.random() < 0.5
    lo, hi = side_range(rng, 4, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        a, b = colours(r, 2)
        p, q = r.randint(1, w), r.randint(1, w)
        n = p + q if add else abs(p - q)
        if not 1 <= n <= 30:
            raise Retry("empty or too long a result")
        inp = blank(h, w)
        for row, length, c in zip(r.sample(range(h), 2), (p, q), (a, b)):
            x0 = r.randint(0, w - length)
            paint(inp, [(row, x) for x in range(x0, x0 + length)], c)
        out = [[out_colour] * n]
        return (freeze(_transpose(inp)), freeze(_transpose(out))) if upright else (freeze(inp), freeze(out))
    return pair


def fuller_half(rng: random.Random) -> PairFn:
    """A divider line splits the grid into two equal halves of scattered pixels; the output is the half with more
    coloured cells (or, for some tasks, fewer)."""
    more = rng.random() < 0.5
    stacked = rng.random() < 0.5
    divider = rng.choice(COLOURS)
    lo, hi = side_range(rng, 3, 14)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        palette = colours(r, r.randint(1, 3), exclude=(0, divider))
        halves = [noise(r, h, w, palette, r.uniform(0.15, 0.6)) for _ in range(2)]
        counts = [sum(v != 0 for row in g for v in row) for g in halves]
        if counts[0] == counts[1]:
            raise Retry("halves hold equally many pixels")
        pick = halves[counts.index(max(counts) if more else min(counts))]
        if stacked:
            inp = halves[0] + [[divider] * w] + halves[1]
        else:
            inp = [ra + [divider] + rb for ra, rb in zip(*halves)]
        return freeze(inp), freeze(pick)
    return pair


def unique_shape(rng: random.Random) -> PairFn:
    """Objects in mixed colours: every shape but one appears two or three times; the output is the object whose
    shape appears once, cut out to its bounding box."""
    palette = colours(rng, rng.randint(1, 4))
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        odd, *common = _distinct_shapes(r, r.randint(2, 3), 3, 3, 6)
        shapes = [odd] + [cells for cells in common for _ in range(r.randint(2, 3))]
        order = r.sample(range(len(shapes)), len(shapes))
        inp, objects = scene(r, h, w, [shapes[k] for k in order], palette)
        return freeze(inp), freeze(_drawn(odd, objects[order.index(0)][1]))
    return pair


def most_common_shape(rng: random.Random) -> PairFn:
    """Objects of two or three shapes in mixed colours; the output is the shape that occurs most often, drawn in
    a fixed colour on its bounding box."""
    mark = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, mark))
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        top, *rest = _distinct_shapes(r, r.randint(2, 3), 3, 2, 6)
        counts = [r.randint(1, 3) for _ in rest]
        shapes = [top] * (max(counts) + r.randint(1, 2)) + [cells for cells, n in zip(rest, counts) for _ in range(n)]
        inp, _ = scene(r, h, w, r.sample(shapes, len(shapes)), palette)
        return freeze(inp), freeze(_drawn(top, mark))
    return pair


def parity_recolour(rng: random.Random) -> PairFn:
    """Objects of one colour take one fixed colour when their number of cells is even, another when it is odd."""
    src, even, odd = colours(rng, 3)
    lo, hi = side_range(rng, 7, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        sizes = [r.randint(1, 9) for _ in range(r.randint(3, max(3, min(7, h * w // 20))))]  # fewer in small grids
        if len({n % 2 for n in sizes}) < 2 or len(set(sizes)) < 3:
            raise Retry("too few sizes to show the parity")
        shapes = [shape(r, 3, 3, n) for n in sizes]
        inp, out = blank(h, w), blank(h, w)
        for cells, at in zip(shapes, place(r, h, w, shapes)):
            paint(inp, cells, src, at)
            paint(out, cells, odd if len(cells) % 2 else even, at)
        return freeze(inp), freeze(out)
    return pair


VOTES = {
    "all": lambda k, n: k == n,
    "any": lambda k, n: k > 0,
    "odd": lambda k, n: k % 2 == 1,
    "majority": lambda k, n: 2 * k > n,
}


def panel_vote(rng: random.Random) -> PairFn:
    """Three or four same-sized panels side by side (or stacked) between divider lines, each a mask in its own
    colour; the output marks the cells where a fixed vote of the panels holds: all set, any set, an odd number
    set, or most of them set."""
    vote = VOTES[rng.choice(tuple(VOTES))]
    n = rng.choice((3, 3, 4))
    *panel_colours, divider, mark = colours(rng, n + 2)
    stacked = rng.random() < 0.5
    lo, hi = side_range(rng, 3, 7)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        if n * (h if stacked else w) + n - 1 > 30:
            raise Retry("panels too wide")
        density = r.uniform(0.35, 0.65)
        masks = [[[r.random() < density for _ in range(w)] for _ in range(h)] for _ in range(n)]
        out = [[mark if vote(sum(m[y][x] for m in masks), n) else 0 for x in range(w)] for y in range(h)]
        panels = [[[c if v else 0 for v in row] for row in m] for m, c in zip(masks, panel_colours)]
        if not stacked:
            panels = [_transpose(p) for p in panels]
        inp = panels[0]
        for p in panels[1:]:
            inp = inp + [[divider] * len(p[0])] + p
        if not stacked:
            inp = _transpose(inp)
        return freeze(inp), freeze(out)
    return pair


def grow_staircase(rng: random.Random) -> PairFn:
    """The first two or three columns of a staircase stand on the bottom row (a start height and a fixed step);
    the output continues the staircase to the far edge, columns capped at the top. The whole picture is turned
    by a fixed rotation or flip, so the staircase may grow from any edge."""
    k = rng.randint(0, 7)  # the task's fixed rotation or flip
    lo, hi = side_range(rng, 5, 20)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        start, step, shown = r.randint(1, 3), r.randint(1, 2), r.randint(2, 3)
        if start + (shown - 1) * step >= h or w <= shown + 1:
            raise Retry("the shown steps would reach the top, or nothing is left to grow")
        c = r.choice(COLOURS)
        heights = [min(h, start + x * step) for x in range(w)]

        def draw(columns: int) -> Grid:
            canvas = blank(h, w)
            for x in range(columns):
                paint(canvas, [(h - 1 - y, x) for y in range(heights[x])], c)
            return turn(k, canvas)
        return draw(shown), draw(w)
    return pair


LINE_STEPS = ((0, 1), (1, 0), (1, 1), (1, -1))


def dotted_continue(rng: random.Random) -> PairFn:
    """Two or three evenly spaced pixels of one colour stand on a line (across, down or diagonal); the output
    continues each such dotted line, with its spacing, both ways to the border (one line per colour)."""
    palette = colours(rng, rng.randint(1, 3))
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp, out = blank(h, w), blank(h, w)
        used: set[Cell] = set()
        for c in r.sample(palette, r.randint(1, len(palette))):
            dy, dx = r.choice(LINE_STEPS)
            gap = r.randint(2, 4)
            sy, sx = dy * gap, dx * gap
            y, x = r.randrange(h), r.randrange(w)
            while 0 <= y - sy < h and 0 <= x - sx < w:
                y, x = y - sy, x - sx
            line = []
            while 0 <= y < h and 0 <= x < w:
                line.append((y, x))
                y, x = y + sy, x + sx
            shown = r.randint(2, 3)
            if len(line) <= shown or used & set(line):
                raise Retry("line too short to continue, or it meets another line")
            used.update(line)
            paint(out, line, c)
            t0 = r.randint(0, len(line) - shown)
            paint(inp, line[t0:t0 + shown], c)
        return freeze(inp), freeze(out)
    return pair


def legend_recolour(rng: random.Random) -> PairFn:
    """A legend strip beyond a divider line shows small shapes, each in its own colour; on the other side objects
    of one fixed colour each copy a legend shape, and each takes the colour of the legend shape it copies. The
    whole picture is turned by a fixed rotation or flip, so the legend may stand on any side."""
    grey, divider = colours(rng, 2)
    k = rng.randint(0, 7)  # the task's fixed rotation or flip
    lo, hi = side_range(rng, 10, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        n = r.randint(2, 4)
        if n > (w - 1) // 4:
            raise Retry("legend does not fit")
        shapes = _distinct_shapes(r, n, 3, 2, 6)
        keys = colours(r, n, exclude=(0, grey, divider))
        legend = blank(5, w)
        for cells, c, slot in zip(shapes, keys, sorted(r.sample(range((w - 1) // 4), n))):
            paint(legend, cells, c, (1, 1 + 4 * slot))
        field = shapes + [r.choice(shapes) for _ in range(r.randint(0, 3))]
        field = r.sample(field, len(field))
        field_in, field_out = blank(h - 6, w), blank(h - 6, w)
        for cells, at in zip(field, place(r, h - 6, w, field)):
            paint(field_in, cells, grey, at)
            paint(field_out, cells, keys[shapes.index(cells)], at)
        top = legend + [[divider] * w]
        return turn(k, top + field_in), turn(k, top + field_out)
    return pair


def _holed_rect(rng: random.Random, holes: int) -> list[Cell]:
    """A solid rectangle with `holes` single background cells inside, no two of them touching (diagonals
    included), so each is its own hole."""
    for _ in range(20):
        bh, bw = rng.randint(3, 4), rng.randint(max(3, 2 * holes + 1), max(5, 2 * holes + 1))
        inner = [(y, x) for y in range(1, bh - 1) for x in range(1, bw - 1)]
        picked: list[Cell] = []
        for y, x in rng.sample(inner, len(inner)):
            if len(picked) < holes and all(max(abs(y - py), abs(x - px)) >= 2 for py, px in picked):
                picked.append((y, x))
        if len(picked) == holes:
            return sorted(set(rect(bh, bw)) - set(picked))
    raise Retry("no room for the holes")


def recolour_by_holes(rng: random.Random) -> PairFn:
    """Objects of one colour are recoloured by how many holes they enclose: a fixed colour for each count from
    none up to two or three; every pair shows every count."""
    most = rng.randint(2, 3)
    src, *by_count = colours(rng, most + 2)
    lo, hi = side_range(rng, 12, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        extra = r.randint(0, 2) if h * w >= 300 else 0  # small grids hold only one object of each count
        counts = list(range(most + 1)) + [r.randint(0, most) for _ in range(extra)]
        counts = r.sample(counts, len(counts))
        shapes = [(_holed_rect(r, k) if k or r.random() < 0.4 else shape(r, 3, 3, r.randint(1, 6))) for k in counts]
        inp, out = blank(h, w), blank(h, w)
        for cells, k, at in zip(shapes, counts, place(r, h, w, shapes)):
            paint(inp, cells, src, at)
            paint(out, cells, by_count[k], at)
        return freeze(inp), freeze(out)
    return pair


def count_rectangle(rng: random.Random) -> PairFn:
    """Small objects in two fixed colours; the output is a solid rectangle of a fixed colour with as many rows as
    there are objects of the first colour and as many columns as objects of the second."""
    by_rows, by_columns, fill = colours(rng, 3)
    lo, hi = side_range(rng, 6, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        n_rows, n_columns = r.randint(1, 5), r.randint(1, 5)
        kinds = r.sample([by_rows] * n_rows + [by_columns] * n_columns, n_rows + n_columns)
        shapes = [shape(r, r.randint(1, 2), r.randint(1, 2)) for _ in kinds]
        inp = blank(h, w)
        for cells, c, at in zip(shapes, kinds, place(r, h, w, shapes)):
            paint(inp, cells, c, at)
        return freeze(inp), freeze(blank(n_rows, n_columns, fill))
    return pair


KING_STEPS = ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))


def motion_step(rng: random.Random) -> PairFn:
    """An object is shown twice, as a trail copy (one fixed colour) and a head copy (another) a step apart; the
    output is the next step of the motion: the trail moves to where the head was and the head moves on by the same
    step."""
    trail, head = colours(rng, 2)
    lo, hi = side_range(rng, 6, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        cells = shape(r, r.randint(1, 3), r.randint(1, 3))
        sh, sw = extent(cells)
        dy, dx = r.choice(KING_STEPS)
        vy, vx = dy * (sh + r.randint(0, 3)), dx * (sw + r.randint(0, 3))
        y_lo, y_hi = -min(0, 2 * vy), h - sh - max(0, 2 * vy)
        x_lo, x_hi = -min(0, 2 * vx), w - sw - max(0, 2 * vx)
        if y_lo > y_hi or x_lo > x_hi:
            raise Retry("three steps do not fit")
        y0, x0 = r.randint(y_lo, y_hi), r.randint(x_lo, x_hi)
        inp, out = blank(h, w), blank(h, w)
        paint(inp, cells, trail, (y0, x0))
        paint(inp, cells, head, (y0 + vy, x0 + vx))
        paint(out, cells, trail, (y0 + vy, x0 + vx))
        paint(out, cells, head, (y0 + 2 * vy, x0 + 2 * vx))
        return freeze(inp), freeze(out)
    return pair


FAMILIES = {
    "bar_arithmetic": bar_arithmetic,
    "fuller_half": fuller_half,
    "unique_shape": unique_shape,
    "most_common_shape": most_common_shape,
    "parity_recolour": parity_recolour,
    "panel_vote": panel_vote,
    "grow_staircase": grow_staircase,
    "dotted_continue": dotted_continue,
    "legend_recolour": legend_recolour,
    "recolour_by_holes": recolour_by_holes,
    "count_rectangle": count_rectangle,
    "motion_step": motion_step,
}
