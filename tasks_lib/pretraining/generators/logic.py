"""Families that summarise or compare: counting objects, the majority colour, sorting bars, and cell-wise
logic between the two halves of a grid split by a divider line.

Contract: as in `geometry`; draws whose answer would be ambiguous (ties) raise `grid.Retry`.
"""

from __future__ import annotations

import random
from collections import Counter

from tasks_lib.arc.data import Grid
from tasks_lib.pretraining.generators.grid import (COLOURS, PairFn, Retry, blank, colours, dims, freeze, noise, paint, place, shape,
                                       side_range)


def count_objects(rng: random.Random) -> PairFn:
    """Count the objects; the output is a bar of that many cells (a row, a column or a square side)."""
    form = rng.choice(("row", "column", "square"))
    bar = rng.choice(COLOURS) if rng.random() < 0.5 else None
    palette = colours(rng, rng.randint(1, 3), exclude=(0, bar or 0))
    lo, hi = side_range(rng, 6, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        n = r.randint(1, 6)
        c = r.choice(palette)
        shapes = [shape(r, r.randint(1, 3), r.randint(1, 3)) for _ in range(n)]
        inp = blank(h, w)
        for cells, at in zip(shapes, place(r, h, w, shapes)):
            paint(inp, cells, c if bar is None else r.choice(palette), at)
        fill = c if bar is None else bar
        out = {"row": [[fill] * n], "column": [[fill] for _ in range(n)], "square": [[fill] * n for _ in range(n)]}[form]
        return freeze(inp), freeze(out)
    return pair


def majority_colour(rng: random.Random) -> PairFn:
    """The output is a k x k grid of the most frequent non-background colour."""
    k = rng.choice((1, 1, 2, 3))
    lo, hi = side_range(rng, 3, 14)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        g = noise(r, h, w, colours(r, r.randint(2, 4)), r.uniform(0.3, 0.9))
        counts = Counter(v for row in g for v in row if v).most_common()
        if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
            raise Retry("no single majority colour")
        return freeze(g), freeze([[counts[0][0]] * k for _ in range(k)])
    return pair


def sort_bars(rng: random.Random) -> PairFn:
    """Vertical bars standing on the bottom row are reordered by height (ascending or descending)."""
    descending = rng.random() < 0.5
    spaced = rng.random() < 0.5
    palette = colours(rng, rng.randint(1, 4))

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        n = r.randint(2, 8)
        h = r.randint(n, 12)
        heights = r.sample(range(1, h + 1), n)  # distinct, so the order is unambiguous
        if heights == sorted(heights, reverse=descending):
            raise Retry("already sorted")
        bar_colours = [r.choice(palette) for _ in range(n)]
        step = 2 if spaced else 1
        w = n * step - (step - 1)

        def draw(order: list[int]) -> Grid:
            canvas = blank(h, w)
            for slot, i in enumerate(order):
                paint(canvas, [(h - 1 - y, slot * step) for y in range(heights[i])], bar_colours[i])
            return freeze(canvas)
        order = sorted(range(n), key=lambda i: heights[i], reverse=descending)
        return draw(list(range(n))), draw(order)
    return pair


OPS = {
    "and": lambda a, b: a and b,
    "or": lambda a, b: a or b,
    "xor": lambda a, b: a != b,
    "nor": lambda a, b: not (a or b),
    "left_only": lambda a, b: a and not b,
}


def grid_logic(rng: random.Random) -> PairFn:
    """Two same-sized masks side by side (or stacked), split by a divider line; the output marks the
    cells where a fixed logical operation of the two masks holds."""
    op = OPS[rng.choice(tuple(OPS))]
    left, right, divider, mark = colours(rng, 4)
    stacked = rng.random() < 0.5
    lo, hi = side_range(rng, 3, 7)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        a = [[r.random() < 0.5 for _ in range(w)] for _ in range(h)]
        b = [[r.random() < 0.5 for _ in range(w)] for _ in range(h)]
        out = [[mark if op(a[y][x], b[y][x]) else 0 for x in range(w)] for y in range(h)]
        ga = [[left if v else 0 for v in row] for row in a]
        gb = [[right if v else 0 for v in row] for row in b]
        if stacked:
            inp = ga + [[divider] * w] + gb
        else:
            inp = [ra + [divider] + rb for ra, rb in zip(ga, gb)]
        return freeze(inp), freeze(out)
    return pair


def odd_cell_out(rng: random.Random) -> PairFn:
    """Divider lines split the grid into equal cells that all hold one pattern but one; the output is
    that one cell's pattern."""
    divider = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, divider))

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        k = r.randint(2, 4)
        ny, nx = r.randint(1, 4), r.randint(2, 4)
        if r.random() < 0.5:
            ny, nx = nx, ny
        if (k + 1) * max(ny, nx) - 1 > 30 or ny * nx < 3:
            raise Retry("too many cells, or too few to tell the odd one")
        common = noise(r, k, k, palette, 0.6)
        odd = [row[:] for row in common]
        for y, x in r.sample([(y, x) for y in range(k) for x in range(k)], r.randint(1, 2)):
            odd[y][x] = r.choice([c for c in (0, *palette) if c != odd[y][x]])
        which = r.randrange(ny * nx)
        h, w = (k + 1) * ny - 1, (k + 1) * nx - 1
        g = blank(h, w, divider)
        for index in range(ny * nx):
            cy, cx = divmod(index, nx)
            pattern = odd if index == which else common
            for y in range(k):
                g[cy * (k + 1) + y][cx * (k + 1):cx * (k + 1) + k] = pattern[y]
        return freeze(g), freeze(odd)
    return pair


def colour_ranking(rng: random.Random) -> PairFn:
    """The output lists the colours present from most to least frequent, as a row (or a column)."""
    as_row = rng.random() < 0.5
    lo, hi = side_range(rng, 3, 12)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        g = noise(r, h, w, colours(r, r.randint(2, 4)), r.uniform(0.3, 0.9))
        counts = Counter(v for row in g for v in row if v).most_common()
        if len({n for _, n in counts}) < len(counts) or len(counts) < 2:
            raise Retry("tied counts")
        ranked = [c for c, _ in counts]
        return freeze(g), freeze([ranked] if as_row else [[c] for c in ranked])
    return pair


FAMILIES = {
    "count_objects": count_objects,
    "majority_colour": majority_colour,
    "sort_bars": sort_bars,
    "grid_logic": grid_logic,
    "odd_cell_out": odd_cell_out,
    "colour_ranking": colour_ranking,
}
