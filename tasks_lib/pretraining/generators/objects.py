"""Families about objects (8-connected groups of one colour): recolour by size, keep or crop one, denoise,
replace inside, stamp a template.

Contract: as in `geometry`. Objects are placed one cell apart, so each drawn shape is exactly one
object of `grid.components`; sizes that must single out one object are drawn distinct.
"""

from __future__ import annotations

import random

from tasks_lib.arc.data import Grid
from tasks_lib.pretraining.generators.grid import (COLOURS, Canvas, Cell, PairFn, Retry, bbox, blank, colours, crop, dims,
                                       freeze, outline, paint, place, random_rects, rect, scene, shape, side_range)


def _sized_shape(rng: random.Random, n: int) -> list[Cell]:
    side = min(n, 4) if n <= 16 else 6
    return shape(rng, side, side, n)


def _sized_scene(rng: random.Random, h: int, w: int, sizes: list[int],
                 palette: list[int]) -> tuple[Canvas, list[tuple[list[Cell], int]]]:
    """Objects of the given sizes in random palette colours (see `grid.scene`)."""
    return scene(rng, h, w, [_sized_shape(rng, n) for n in sizes], palette)


def recolour_by_size(rng: random.Random) -> PairFn:
    """Objects of one colour are recoloured by their number of cells (a fixed size -> colour map)."""
    k = rng.randint(2, 4)
    src, *targets = colours(rng, k + 1)
    by_size = dict(zip(range(1, k + 1), targets))
    lo, hi = side_range(rng, 6, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        sizes = list(range(1, k + 1)) + [r.randint(1, k) for _ in range(r.randint(0, 2))]  # every size in every pair
        inp, objects = _sized_scene(r, h, w, r.sample(sizes, len(sizes)), [src])
        out = blank(h, w)
        for cells, _ in objects:
            paint(out, cells, by_size[len(cells)])
        return freeze(inp), freeze(out)
    return pair


def _distinct_sizes(rng: random.Random, lo: int = 1, hi: int = 9) -> list[int]:
    return rng.sample(range(lo, hi + 1), rng.randint(2, 5))


def recolour_extreme(rng: random.Random) -> PairFn:
    """The largest (or, for some tasks, the smallest) object takes a fixed colour; the others stay."""
    pick = rng.choice((max, min))
    mark = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, mark))
    lo, hi = side_range(rng, 7, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp, objects = _sized_scene(r, h, w, _distinct_sizes(r), palette)
        out = [row[:] for row in inp]
        paint(out, pick(objects, key=lambda o: len(o[0]))[0], mark)
        return freeze(inp), freeze(out)
    return pair


def keep_extreme(rng: random.Random) -> PairFn:
    """Only the largest (or smallest) object stays; the others are erased."""
    pick = rng.choice((max, min))
    palette = colours(rng, rng.randint(1, 4))
    lo, hi = side_range(rng, 7, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp, objects = _sized_scene(r, h, w, _distinct_sizes(r), palette)
        out = blank(h, w)
        cells, c = pick(objects, key=lambda o: len(o[0]))
        paint(out, cells, c)
        return freeze(inp), freeze(out)
    return pair


def _crop_object(h: int, w: int, cells: list[Cell], c: int) -> Grid:
    alone = blank(h, w)
    paint(alone, cells, c)
    return crop(alone, bbox(cells))


def crop_extreme(rng: random.Random) -> PairFn:
    """The output is the largest (or smallest) object cut out to its bounding box."""
    pick = rng.choice((max, min))
    palette = colours(rng, rng.randint(1, 4))
    lo, hi = side_range(rng, 7, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp, objects = _sized_scene(r, h, w, _distinct_sizes(r, 2, 12), palette)
        cells, c = pick(objects, key=lambda o: len(o[0]))
        return freeze(inp), _crop_object(h, w, cells, c)
    return pair


def crop_odd_colour(rng: random.Random) -> PairFn:
    """All objects share a colour but one; the output is that one cut out to its bounding box."""
    lo, hi = side_range(rng, 7, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        common, odd = colours(r, 2)
        sizes = [r.randint(2, 9) for _ in range(r.randint(3, 5))]
        inp, objects = _sized_scene(r, h, w, sizes, [common])
        cells, _ = objects[0]
        paint(inp, cells, odd)
        return freeze(inp), _crop_object(h, w, cells, odd)
    return pair


def denoise(rng: random.Random) -> PairFn:
    """Isolated single pixels (no neighbour of any colour, diagonals included) are removed."""
    palette = colours(rng, rng.randint(1, 3))
    lo, hi = side_range(rng, 6, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        out, objects = _sized_scene(r, h, w, [r.randint(3, 12) for _ in range(r.randint(1, 4))], palette)
        taken = {cell for cells, _ in objects for cell in cells}
        specks = [[(0, 0)] for _ in range(r.randint(1, max(1, h * w // 12)))]
        inp = [row[:] for row in out]
        for (y, x) in place(r, h, w, specks, taken=taken):
            inp[y][x] = r.choice(palette)
        return freeze(inp), freeze(out)
    return pair


def replace_inside(rng: random.Random) -> PairFn:
    """Pixels of colour x inside solid rectangles of colour a turn colour y; x outside rectangles stays."""
    a, x_col, y_col = colours(rng, 3)
    lo, hi = side_range(rng, 7, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        rects = random_rects(r, r.randint(1, 3), 3, min(7, h), min(7, w))
        inp, out = blank(h, w), blank(h, w)
        offsets = place(r, h, w, rects)
        taken = set()
        for cells, (y0, x0) in zip(rects, offsets):
            absolute = [(y0 + y, x0 + x) for y, x in cells]
            taken.update(absolute)
            paint(inp, absolute, a)
            paint(out, absolute, a)
            for cell in r.sample(absolute, r.randint(1, max(1, len(absolute) // 4))):
                paint(inp, [cell], x_col)
                paint(out, [cell], y_col)
        outside = [[(0, 0)] for _ in range(r.randint(0, 4))]
        for cell in place(r, h, w, outside, taken=taken):
            paint(inp, [cell], x_col)
            paint(out, [cell], x_col)
        return freeze(inp), freeze(out)
    return pair


def stamp_template(rng: random.Random) -> PairFn:
    """A 3x3 template has a marker colour at its centre; every lone marker pixel gets a copy of it."""
    marker = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, marker))
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        template = [[r.choice(palette) if r.random() < 0.7 else 0 for _ in range(3)] for _ in range(3)]
        template[1][1] = marker
        if sum(v != 0 for row in template for v in row) < 3:
            raise Retry("template too sparse")
        box = [(y, x) for y in range(3) for x in range(3)]
        offsets = place(r, h, w, [box] * r.randint(2, 4))
        inp, out = blank(h, w), blank(h, w)
        for i, (y0, x0) in enumerate(offsets):
            for y, x in box:
                out[y0 + y][x0 + x] = template[y][x]
                if i == 0 or (y, x) == (1, 1):
                    inp[y0 + y][x0 + x] = template[y][x]
        return freeze(inp), freeze(out)
    return pair


def _has_hole(cells: list[Cell]) -> bool:
    """Does the object enclose background, i.e. cells of its bounding box that cannot reach the box's
    outside through 4-connected non-object cells?"""
    top, left, bottom, right = bbox(cells)
    solid = set(cells)
    box = {(y, x) for y in range(top - 1, bottom + 2) for x in range(left - 1, right + 2)}
    todo = [(top - 1, left - 1)]
    outside = set(todo)
    while todo:
        y, x = todo.pop()
        for n in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
            if n in box and n not in solid and n not in outside:
                outside.add(n)
                todo.append(n)
    return len(outside) + len(solid) < len(box)


def recolour_holes(rng: random.Random) -> PairFn:
    """Objects of one colour that enclose a hole take a fixed colour; the others keep theirs (or take a second
    fixed colour)."""
    src, holed = colours(rng, 2)
    solid = colours(rng, 1, exclude=(0, src, holed))[0] if rng.random() < 0.5 else src
    lo, hi = side_range(rng, 7, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        shapes = []
        for _ in range(r.randint(2, 5)):
            if r.random() < 0.5:
                bh, bw = r.randint(3, 5), r.randint(3, 5)
                ring = outline(bh, bw)
                # an extra cell inside touches the ring, so the shape stays one object; it may fill the hole
                inner = [(y, x) for y, x in set(rect(bh, bw)) - set(ring) if y in (1, bh - 2) or x in (1, bw - 2)]
                shapes.append(ring + r.sample(sorted(inner), r.randint(0, 1)))
            else:
                shapes.append(shape(r, r.randint(1, 4), r.randint(1, 4)))
        inp, out = blank(h, w), blank(h, w)
        kinds = set()
        for cells, at in zip(shapes, place(r, h, w, shapes)):
            kinds.add(_has_hole(cells))
            paint(inp, cells, src, at)
            paint(out, cells, holed if _has_hole(cells) else solid, at)
        if kinds != {True, False}:
            raise Retry("objects all of one kind")
        return freeze(inp), freeze(out)
    return pair


FAMILIES = {
    "recolour_by_size": recolour_by_size,
    "recolour_extreme": recolour_extreme,
    "keep_extreme": keep_extreme,
    "crop_extreme": crop_extreme,
    "crop_odd_colour": crop_odd_colour,
    "denoise": denoise,
    "replace_inside": replace_inside,
    "stamp_template": stamp_template,
    "recolour_holes": recolour_holes,
}
