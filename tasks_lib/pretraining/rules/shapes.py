"""Rules that judge shapes: closed or open, solid or noise, the largest, smallest or symmetric one, and what
grows out of a shape (diagonal tails, lines to the edge, pluses at midpoints).

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, crop, outline, paint, place, rect, scatter, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, counts, flip_lr, outside, pick,
                                  random_grid, require, sub, thaw)

RULES = Registry()


def _size_two_up(g: Grid) -> Grid:
    """67385a82: groups of 3 of two or more cells (4-connected) become 8."""
    out = thaw(g)
    for cells in components(g, diagonal=False):
        if len(cells) > 1:
            paint(out, cells, 8)
    return out


RULES.add("67385a82", _size_two_up, lambda r: random_grid(r, r.randint(3, 6), r.randint(3, 6), [3], r.uniform(0.3, 0.55)))


def _closes(g: Grid, cells: list[tuple[int, int]]) -> bool:
    """Does the shape alone enclose background?"""
    alone = blank(len(g), len(g[0]))
    paint(alone, cells, 1)
    out = outside(alone)
    return any(alone[r][c] == 0 and (r, c) not in out for r in range(len(g)) for c in range(len(g[0])))


def _loops(g: Grid) -> Grid:
    """810b9b61: shapes of 1 that close a loop become 3."""
    out = thaw(g)
    for cells in components(g):
        if _closes(g, cells):
            paint(out, cells, 3)
    return out


def _outlines_and_bits(colour: int, lo: int, hi: int, open_ok: bool):
    """Sampler: hollow rectangles (some broken open), and short bars, `gap` 1 apart."""
    def sample(rng: random.Random):
        h, w = rng.randint(lo, hi), rng.randint(lo, hi)
        shapes = []
        for _ in range(rng.randint(2, 5)):
            if rng.random() < 0.65:
                cells = outline(rng.randint(3, 5), rng.randint(3, 5))
                if open_ok and rng.random() < 0.3:
                    cells.remove(rng.choice(cells))
            elif open_ok:
                cells = rect(1, rng.randint(1, 3)) if rng.random() < 0.5 else rect(rng.randint(2, 3), 1)
            else:
                continue
            shapes.append(cells)
        require(bool(shapes), "nothing drawn")
        return scatter(rng, h, w, shapes, colour)
    return sample


RULES.add("810b9b61", _loops, _outlines_and_bits(1, 10, 15, True))


def _insides(g: Grid) -> Grid:
    """d5d6de2d: every closed outline of 2 is replaced by its inside, filled with 3."""
    out = outside(g)
    return tuple(tuple(3 if v == 0 and (r, c) not in out else 0 for c, v in enumerate(row)) for r, row in enumerate(g))


RULES.add("d5d6de2d", _insides, _outlines_and_bits(2, 10, 16, False))


def _drop_noise(g: Grid) -> Grid:
    """7f4411dc: only cells inside a solid 2x2 block of colour stay."""
    h, w = len(g), len(g[0])
    keep = set()
    for r in range(h - 1):
        for c in range(w - 1):
            block = [(r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)]
            if all(g[y][x] for y, x in block):
                keep.update(block)
    return tuple(tuple(v if (r, c) in keep else 0 for c, v in enumerate(row)) for r, row in enumerate(g))


def _blocks_and_noise(rng: random.Random):
    h, w = rng.randint(10, 17), rng.randint(10, 17)
    colour = rng.randint(1, 9)
    blocks = [rect(rng.randint(2, 5), rng.randint(2, 5)) for _ in range(rng.randint(2, 4))]
    dots = [[(0, 0)]] * rng.randint(3, 8)
    return scatter(rng, h, w, blocks + dots, colour)


RULES.add("7f4411dc", _drop_noise, _blocks_and_noise)


def _drop_lonely(g: Grid) -> Grid:
    """42a50994: a cell with no neighbour (8 around) of colour is cleared."""
    h, w = len(g), len(g[0])
    return tuple(tuple(v if v and any(0 <= r + dr < h and 0 <= c + dc < w and g[r + dr][c + dc]
                                      for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc) else 0
                       for c, v in enumerate(row)) for r, row in enumerate(g))


RULES.add("42a50994", _drop_lonely, lambda r: random_grid(r, r.randint(5, 18), r.randint(5, 18), [r.randint(1, 9)], r.uniform(0.1, 0.2)))


def _weave(g: Grid) -> Grid:
    """e9afcf9a: two rows of one colour each interleave like a checkerboard."""
    a, b = g[0][0], g[1][0]
    w = len(g[0])
    return (tuple(a if c % 2 == 0 else b for c in range(w)), tuple(b if c % 2 == 0 else a for c in range(w)))


RULES.add("e9afcf9a", _weave, lambda r: [[a] * 6 for a in pick(r, 2)])


def _petals(g: Grid) -> Grid:
    """0ca9ddb6: a 2 gets 4 on its diagonal neighbours, a 1 gets 7 on its side neighbours."""
    out = thaw(g)
    for colour, petal, steps in ((2, 4, ((-1, -1), (-1, 1), (1, -1), (1, 1))), (1, 7, ((-1, 0), (1, 0), (0, -1), (0, 1)))):
        for r, c in cells_of(g, colour):
            for dr, dc in steps:
                if 0 <= r + dr < len(g) and 0 <= c + dc < len(g[0]):
                    out[r + dr][c + dc] = petal
    return out


def _petal_dots(rng: random.Random):
    g = blank(9, 9)
    colours = [2, 1] + [rng.choice((1, 2, 6, 8)) for _ in range(2)]  # always a 2 and a 1, sometimes a 6 or 8
    for (r, c), colour in zip(place(rng, 7, 7, [[(0, 0)]] * rng.randint(2, 4), gap=2), colours):
        g[r + 1][c + 1] = colour
    return g


RULES.add("0ca9ddb6", _petals, _petal_dots)


def _count_cells(g: Grid) -> Grid:
    """6773b310: a 3x3 board of 3x3 cells between lines of 8; a cell with two 6s gives 1, one 6 gives 0."""
    return tuple(tuple(1 if sum(v == 6 for row in sub(g, 4 * i, 4 * j, 3, 3) for v in row) == 2 else 0 for j in range(3))
                 for i in range(3))


def _board(rng: random.Random):
    g = blank(11, 11)
    for k in (3, 7):
        g[k] = [8] * 11
        for row in g:
            row[k] = 8
    for i in range(3):
        for j in range(3):
            for y, x in rng.sample([(y, x) for y in range(3) for x in range(3)], rng.randint(1, 2)):
                g[4 * i + y][4 * j + x] = 6
    return g


RULES.add("6773b310", _count_cells, _board)


def _largest_outline_colour(g: Grid) -> Grid:
    """445eab21: a 2x2 of the colour of the largest outline (by box area)."""
    def area(colour: int) -> int:
        top, left, bottom, right = bbox(cells_of(g, colour))
        return (bottom - top + 1) * (right - left + 1)
    colour = max(sorted(counts(g)), key=lambda v: area(v) if v else -1)
    return ((colour, colour), (colour, colour))


def _two_outlines(rng: random.Random):
    sizes = [(rng.randint(3, 6), rng.randint(3, 6)) for _ in range(2)]
    require(sizes[0][0] * sizes[0][1] != sizes[1][0] * sizes[1][1], "equal areas")
    shapes = [outline(*s) for s in sizes]
    return scatter(rng, 10, 10, shapes, gap=0)


RULES.add("445eab21", _largest_outline_colour, _two_outlines)


def _tails(g: Grid) -> Grid:
    """5c0a986e: the 2x2 of 1 trails 1s up-left to the edge, the 2x2 of 2 trails 2s down-right."""
    out = thaw(g)
    for colour, (dr, dc), corner in ((1, (-1, -1), 0), (2, (1, 1), -1)):
        r, c = cells_of(g, colour)[corner]
        while 0 <= r + dr < len(g) and 0 <= c + dc < len(g[0]):
            r, c = r + dr, c + dc
            out[r][c] = colour
    return out


def _two_squares(rng: random.Random):
    g = blank(10, 10)
    (a, b) = place(rng, 10, 10, [rect(2, 2)] * 2, gap=1)
    paint(g, rect(2, 2), 1, a)
    paint(g, rect(2, 2), 2, b)
    trail1 = {(a[0] - k, a[1] - k) for k in range(1, 10)}
    trail2 = {(b[0] + 1 + k, b[1] + 1 + k) for k in range(1, 10)}
    require(not trail1 & {(b[0] + y, b[1] + x) for y, x in rect(2, 2)}, "1s run into the 2s")
    require(not trail2 & {(a[0] + y, a[1] + x) for y, x in rect(2, 2)}, "2s run into the 1s")
    return g


RULES.add("5c0a986e", _tails, _two_squares)


def _right_then_down(g: Grid) -> Grid:
    """99fa7670: each cell paints its row to the right edge, then the right column down to the next cell's row."""
    out = thaw(g)
    w = len(g[0])
    points = cells_of(g)
    for i, (r, c) in enumerate(points):
        colour = g[r][c]
        for x in range(c, w):
            out[r][x] = colour
        end = points[i + 1][0] if i + 1 < len(points) else len(g)
        for y in range(r + 1, end):
            out[y][w - 1] = colour
    return out


def _points_by_row(rng: random.Random):
    h, w = rng.randint(5, 8), rng.randint(5, 8)
    g = blank(h, w)
    for r, colour in zip(sorted(rng.sample(range(h), rng.randint(2, 4))), pick(rng, 4)):
        g[r][rng.randrange(w - 1)] = colour
    return g


RULES.add("99fa7670", _right_then_down, _points_by_row)


def _tallest_shortest(g: Grid) -> Grid:
    """a61f2674: of the bars rising from the bottom, the tallest becomes 1, the shortest 2, the rest go."""
    heights = {c: sum(row[c] != 0 for row in g) for c in range(len(g[0])) if g[-1][c]}
    tall, short = max(heights, key=heights.get), min(heights, key=heights.get)
    return tuple(tuple((1 if c == tall else 2 if c == short else 0) if v else 0 for c, v in enumerate(row)) for row in g)


def _bottom_bars(rng: random.Random):
    g = blank(9, 9)
    cols = sorted(rng.sample((0, 2, 4, 6, 8), rng.randint(3, 5)))
    for c, height in zip(cols, rng.sample(range(1, 9), len(cols))):
        for r in range(9 - height, 9):
            g[r][c] = 5
    return g


RULES.add("a61f2674", _tallest_shortest, _bottom_bars)


def _extend_cross(g: Grid) -> Grid:
    """bdad9b1f: the stub of 8 extends to a full column, the stub of 2 to a full row; they cross in 4."""
    (_, c), (r, _) = cells_of(g, 8)[0], cells_of(g, 2)[0]
    out = thaw(g)
    for y in range(len(g)):
        out[y][c] = 8
    out[r] = [2] * len(g[0])
    out[r][c] = 4
    return out


def _stubs(rng: random.Random):
    g = blank(6, 6)
    c, r = rng.randrange(6), rng.randrange(6)
    for y in ((0, 1) if rng.random() < 0.5 else (4, 5)):
        g[y][c] = 8
    for x in ((0, 1) if rng.random() < 0.5 else (4, 5)):
        g[r][x] = 2
    require(sum(v != 0 for row in g for v in row) == 4 and g[r][c] == 0, "the stubs overlap or sit on the crossing")
    return g


RULES.add("bdad9b1f", _extend_cross, _stubs)


def _fill_by_hole(g: Grid) -> Grid:
    """c0f76784: square outlines of 5 are filled by hole size: 1x1 -> 6, 2x2 -> 7, 3x3 -> 8."""
    out = thaw(g)
    shut = outside(g)
    holes = [(r, c) for r in range(len(g)) for c in range(len(g[0])) if g[r][c] == 0 and (r, c) not in shut]
    for cells in components([[1 if (r, c) in set(holes) else 0 for c in range(len(g[0]))] for r in range(len(g))], diagonal=False):
        paint(out, cells, {1: 6, 4: 7, 9: 8}[len(cells)])
    return out


def _square_outlines(rng: random.Random):
    shapes = [outline(k, k) for k in rng.sample((3, 4, 5), rng.randint(2, 3))]
    return scatter(rng, 12, 12, shapes, 5)


RULES.add("c0f76784", _fill_by_hole, _square_outlines)


def _plus_between(g: Grid) -> Grid:
    """e9614598: a plus of 3 at the midpoint of the two 1s."""
    (r0, c0), (r1, c1) = cells_of(g, 1)
    r, c = (r0 + r1) // 2, (c0 + c1) // 2
    out = thaw(g)
    for dr, dc in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
        out[r + dr][c + dc] = 3
    return out


def _ones_apart(rng: random.Random):
    h, w = rng.randint(8, 12), rng.randint(8, 12)
    g = blank(h, w)
    if rng.random() < 0.5:
        r, c0 = rng.randint(1, h - 2), rng.randrange(w - 6)
        c1 = c0 + 2 * rng.randint(3, (w - 1 - c0) // 2)
        g[r][c0] = g[r][c1] = 1
    else:
        c, r0 = rng.randint(1, w - 2), rng.randrange(h - 6)
        r1 = r0 + 2 * rng.randint(3, (h - 1 - r0) // 2)
        g[r0][c] = g[r1][c] = 1
    return g


RULES.add("e9614598", _plus_between, _ones_apart)


def _join_aligned(g: Grid) -> Grid:
    """ded97339: 8s sharing a row or a column are joined by 8s."""
    out = thaw(g)
    points = cells_of(g, 8)
    for r0, c0 in points:
        for r1, c1 in points:
            if r0 == r1:
                for c in range(min(c0, c1), max(c0, c1) + 1):
                    out[r0][c] = 8
            elif c0 == c1:
                for r in range(min(r0, r1), max(r0, r1) + 1):
                    out[r][c0] = 8
    return out


def _aligned_points(rng: random.Random):
    g = blank(10, 10)
    for _ in range(rng.randint(2, 3)):
        r, c = rng.randrange(10), rng.randrange(10)
        g[r][c] = 8
        if rng.random() < 0.5:
            g[r][rng.randrange(10)] = 8
        else:
            g[rng.randrange(10)][c] = 8
    require(len(cells_of(g, 8)) >= 3, "too few points")
    return g


RULES.add("ded97339", _join_aligned, _aligned_points)


def _colours_by_size(g: Grid) -> Grid:
    """f8ff0b80: the shapes' colours in a column, largest shape first."""
    tally = counts(g)
    return tuple((v,) for v in sorted((v for v in tally if v), key=lambda v: -tally[v]))


def _three_shapes(rng: random.Random):
    shapes = [shape(rng, rng.randint(2, 4), rng.randint(2, 4)) for _ in range(3)]
    require(len({len(s) for s in shapes}) == 3, "equal sizes")
    return scatter(rng, 12, 12, shapes)


RULES.add("f8ff0b80", _colours_by_size, _three_shapes)


def _crop_colour(g: Grid, colour: int) -> Grid:
    return tuple(tuple(v if v == colour else 0 for v in row) for row in crop(g, bbox(cells_of(g, colour))))


def _big_object(g: Grid) -> Grid:
    """1f85a75f: among scattered noise, crop the one object of several cells (its colour only)."""
    colour = max(components(g), key=len)
    return _crop_colour(g, g[colour[0][0]][colour[0][1]])


def _object_in_noise(rng: random.Random):
    noise_colours, colour = pick(rng, 2), None
    colour = pick(rng, 1, [c for c in range(1, 10) if c not in noise_colours])[0]
    g = random_grid(rng, 30, 30, noise_colours, rng.uniform(0.05, 0.1))
    cells = shape(rng, rng.randint(3, 5), rng.randint(3, 5))
    require(len(cells) >= 6, "object too small")
    (at,) = place(rng, 30, 30, [cells], gap=1, taken=set(cells_of(g)))
    paint(g, cells, colour, at)
    require(max(len(c) for c in components(g) if g[c[0][0]][c[0][1]] != colour) < len(cells), "noise clumps")
    return g


RULES.add("1f85a75f", _big_object, _object_in_noise)


def _smallest_rect(g: Grid) -> Grid:
    """23b5c85d: the smallest rectangle, as a solid block of its colour."""
    tally = counts(g)
    colour = min((v for v in tally if v), key=lambda v: tally[v])
    return _crop_colour(g, colour)


def _rects(rng: random.Random):
    h, w = rng.randint(10, 20), rng.randint(10, 20)
    shapes = [rect(rng.randint(2, 6), rng.randint(2, 6)) for _ in range(rng.randint(2, 4))]
    areas = sorted(len(s) for s in shapes)
    require(areas[0] < areas[1], "no unique smallest")
    return scatter(rng, h, w, shapes)


RULES.add("23b5c85d", _smallest_rect, _rects)


def _symmetric_one(g: Grid) -> Grid:
    """72ca375d: crop the one shape that is its own mirror image (left-right)."""
    for v in sorted(v for v in counts(g) if v):
        block = _crop_colour(g, v)
        if block == flip_lr(block):
            return block
    raise ValueError("no symmetric shape")


def _one_symmetric(rng: random.Random):
    shapes = []
    for k in range(3):
        cells = shape(rng, rng.randint(2, 3), rng.randint(2, 4))
        if k == 0:
            w = max(c for _, c in cells) + 1
            cells = sorted(set(cells) | {(r, w - 1 - c) for r, c in cells})
        shapes.append(cells)
    g = scatter(rng, 10, 10, shapes)
    blocks = [_crop_colour(g, v) for v in counts(g) if v]
    require(sum(b == flip_lr(b) for b in blocks) == 1, "not exactly one symmetric shape")
    return g


RULES.add("72ca375d", _symmetric_one, _one_symmetric)
