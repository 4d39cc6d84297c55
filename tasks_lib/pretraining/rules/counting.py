"""Rules that count and compare: overlays by colour priority, colours of the largest objects, the most
common shape, the fullest lattice cells, colours ranked by count, reversed ring orders, copies by count.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random
from collections import Counter

from tasks_lib.pretraining.generators.grid import bbox, crop, paint, place, scatter, shape
from tasks_lib.pretraining.rules.base import Grid, Registry, Retry, blank, components, counts, pick, require, sub

RULES = Registry()


def _cross_quadrants(order: tuple[int, ...]):
    """a68b268e: four quadrants around a cross of 1 laid over each other, the earliest colour in `order` on top."""
    def solve(g: Grid) -> Grid:
        m = len(g) // 2
        quads = [sub(g, r, c, m, m) for r in (0, m + 1) for c in (0, m + 1)]
        rank = {v: i for i, v in enumerate(order)}
        return tuple(tuple(min((q[r][c] for q in quads), key=lambda v: rank.get(v, len(order))) for c in range(m))
                     for r in range(m))
    return solve


def _cross_and_quadrants(rng: random.Random):
    g = blank(9, 9)
    g[4] = [1] * 9
    for row in g:
        row[4] = 1
    for (r0, c0), colour in zip(((0, 0), (0, 5), (5, 0), (5, 5)), (7, 4, 8, 6)):
        for r in range(4):
            for c in range(4):
                if rng.random() < 0.45:
                    g[r0 + r][c0 + c] = colour
    return g


RULES.add("a68b268e", _cross_quadrants((7, 4, 8, 6, 0)), _cross_and_quadrants)


def _largest_colours(g: Grid) -> Grid:
    """a3325580: the colours of the largest objects, left to right, as columns as tall as those objects."""
    objs = components(g)
    size = max(len(cells) for cells in objs)
    big = sorted((min(c for _, c in cells), g[cells[0][0]][cells[0][1]]) for cells in objs if len(cells) == size)
    return tuple(tuple(colour for _, colour in big) for _ in range(size))


def _objects_some_tied(rng: random.Random):
    k = rng.randint(2, 4)
    size = rng.randint(3, 6)
    sizes = [size] * rng.randint(1, k) + [rng.randint(1, size - 1) for _ in range(k)]
    shapes = [shape(rng, 4, 3, n) for n in sizes[:k]]
    return scatter(rng, 10, 10, shapes)


RULES.add("a3325580", _largest_colours, _objects_some_tied)


def _most_common_shape(g: Grid) -> Grid:
    """39a8645d: the shape drawn most often, cropped."""
    crops = [crop(g, bbox(cells)) for cells in components(g)]
    return Counter(crops).most_common(1)[0][0]


def _repeated_shapes(rng: random.Random):
    g = blank(14, 14)
    kinds = []
    for colour in pick(rng, rng.randint(2, 3)):
        for _ in range(50):  # a shape that spans its whole 3x3 box
            cells = sorted((r, c) for r in range(3) for c in range(3) if rng.random() < 0.55)
            mask = [[1 if (r, c) in cells else 0 for c in range(3)] for r in range(3)]
            if {r for r, _ in cells} == {0, 1, 2} == {c for _, c in cells} and len(components(mask)) == 1:
                break
        else:
            raise Retry("no shape spans its box")
        kinds.append((cells, colour))
    n = [rng.randint(1, 3) for _ in kinds]
    n[0] = max(n) + 1
    require(len({(tuple(cells)) for cells, _ in kinds}) == len(kinds), "two kinds look alike")
    placed = [kind for kind, m in zip(kinds, n) for _ in range(m)]
    for (cells, colour), at in zip(placed, place(rng, 14, 14, [cells for cells, _ in placed], gap=1)):
        paint(g, cells, colour, at)
    return g


RULES.add("39a8645d", _most_common_shape, _repeated_shapes)


def _fullest_cells(g: Grid) -> Grid:
    """29623171: of the 3x3 cells of the lattice, those with the most coloured cells fill up, the rest clear."""
    out = [list(row) for row in g]
    tally = {}
    for i in range(3):
        for j in range(3):
            tally[(i, j)] = sum(v not in (0, 5) for row in sub(g, 4 * i, 4 * j, 3, 3) for v in row)
    top = max(tally.values())
    colour = next(v for row in g for v in row if v not in (0, 5))
    for (i, j), n in tally.items():
        for r in range(3):
            out[4 * i + r][4 * j:4 * j + 3] = [colour if n == top else 0] * 3
    return out


def _lattice_with_dots(rng: random.Random):
    g = [[5 if r % 4 == 3 or c % 4 == 3 else 0 for c in range(11)] for r in range(11)]
    colour = pick(rng, 1, (1, 2, 3, 4, 6, 7, 8, 9))[0]
    for i in range(3):
        for j in range(3):
            for r, c in rng.sample([(r, c) for r in range(3) for c in range(3)], rng.randint(0, 3)):
                g[4 * i + r][4 * j + c] = colour
    require(any(v == colour for row in g for v in row), "no dots")
    return g


RULES.add("29623171", _fullest_cells, _lattice_with_dots)


def _rare_colours(g: Grid) -> Grid:
    """f8b3ba0a: colours other than the background and the commonest, as a column from most to least frequent."""
    tally = counts(g)
    main = max((n, v) for v, n in tally.items() if v)[1]
    rest = sorted((v for v in tally if v and v != main), key=lambda v: -tally[v])
    return tuple((v,) for v in rest)


def _dominoes(rng: random.Random):
    rows, cols = rng.randint(4, 6), rng.randint(4, 5)
    main, *rare = pick(rng, 4)
    counts_wanted = rng.sample(range(1, 4), 3)
    slots = [(i, j) for i in range(rows) for j in range(cols)]
    rng.shuffle(slots)
    colours = [c for c, n in zip(rare, counts_wanted) for _ in range(n)]
    require(len(colours) < len(slots) // 2, "too many rare dominoes")
    g = blank(2 * rows + 1, 3 * cols + 1)
    for k, (i, j) in enumerate(slots):
        colour = colours[k] if k < len(colours) else main
        g[2 * i + 1][3 * j + 1] = g[2 * i + 1][3 * j + 2] = colour
    return g


RULES.add("f8b3ba0a", _rare_colours, _dominoes)


def _reverse_rings(g: Grid) -> Grid:
    """85c4e7cd: the square rings' colours in reverse order, outermost swapped with innermost."""
    n = len(g)
    rings = [g[i][i] for i in range(n // 2)]
    return tuple(tuple(rings[len(rings) - 1 - min(r, c, n - 1 - r, n - 1 - c)] for c in range(n)) for r in range(n))


def _ring_square(rng: random.Random):
    k = rng.randint(2, 6)
    colours = [rng.randint(1, 9) for _ in range(k)]
    require(all(a != b for a, b in zip(colours, colours[1:])) and colours != colours[::-1], "rings look alike")
    n = 2 * k
    return [[colours[min(r, c, n - 1 - r, n - 1 - c)] for c in range(n)] for r in range(n)]


RULES.add("85c4e7cd", _reverse_rings, _ring_square)


def _copies_by_count(g: Grid) -> Grid:
    """91413438: n coloured cells give n copies of the input, in reading order, on a grid of (9 - n) x (9 - n)
    slots."""
    n = sum(v != 0 for row in g for v in row)
    k = 9 - n
    out = blank(3 * k, 3 * k)
    for i in range(n):
        r0, c0 = 3 * (i // k), 3 * (i % k)
        for r in range(3):
            out[r0 + r][c0:c0 + 3] = g[r]
    return out


def _few_of_nine(rng: random.Random):
    """At most six coloured cells, so that the n copies fit the (9 - n) x (9 - n) slots."""
    g = blank(3, 3)
    colour = rng.randint(1, 9)
    for r, c in rng.sample([(r, c) for r in range(3) for c in range(3)], rng.randint(1, 6)):
        g[r][c] = colour
    return g


RULES.add("91413438", _copies_by_count, _few_of_nine)
