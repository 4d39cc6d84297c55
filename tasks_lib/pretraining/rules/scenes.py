"""Rules of ARC-AGI-2 training tasks (not ARC-AGI-1 ones) that edit a whole scene: joins, recolours, rolls,
gravity, stacking, corner marks and fixed stamps on a plain background.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random
from tasks_lib.pretraining.generators.grid import bbox, outline, paint, place, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, counts, pick, random_grid,
                                              require, thaw, transpose)

RULES = Registry()
STEPS4 = ((1, 0), (-1, 0), (0, 1), (0, -1))


def _inside(g: Grid, r: int, c: int) -> bool:
    return 0 <= r < len(g) and 0 <= c < len(g[0])


def _join_narrowest(g: Grid) -> Grid:
    """5ad8a7c0: each row holds nothing or a pair of 2s placed symmetrically; the rows whose pair is the
    narrowest get the cells between their two 2s filled with 2."""
    pairs = {r: cells_of([row], 2) for r, row in enumerate(g) if 2 in row}
    inner = max(cs[0][1] for cs in pairs.values())  # the pair nearest the middle starts furthest right
    out = thaw(g)
    for r, cs in pairs.items():
        if cs[0][1] == inner:
            for c in range(cs[0][1], cs[1][1] + 1):
                out[r][c] = 2
    return out


def _symmetric_pairs(rng: random.Random):
    g = blank(4, 6)
    for r in range(4):
        k = rng.choice((None, 0, 1, 1, 2))
        if k is not None:
            g[r][k] = g[r][5 - k] = 2
    ks = [row.index(2) for row in g if 2 in row]
    require(len(ks) >= 2 and max(ks) < 2, "too few pairs, or the narrowest is already joined")
    return g


RULES.add("5ad8a7c0", _join_narrowest, _symmetric_pairs)


def _keep_two_commonest(g: Grid) -> Grid:
    """9caf5b84: the two commonest colours stay; every other cell becomes 7."""
    keep = {colour for colour, _ in counts(g).most_common(2)}
    return tuple(tuple(v if v in keep else 7 for v in row) for row in g)


def _five_colour_noise(rng: random.Random):
    g = random_grid(rng, rng.randint(4, 6), rng.randint(4, 6), pick(rng, 5, (0, 1, 2, 3, 4, 5, 6, 8, 9)))
    tally = [n for _, n in counts(g).most_common()]
    require(len(tally) > 2 and tally[1] > tally[2], "the two commonest colours are not clear")
    return g


RULES.add("9caf5b84", _keep_two_commonest, _five_colour_noise)


def _roll_to_markers(g: Grid) -> Grid:
    """79cce52d: the top row and the left column (6s and one 2 each) go; the 6x6 body rolls right by the 2's place
    in the top row and down by the 2's place in the left column (a 2 next to the corner rolls nothing)."""
    right, down = g[0].index(2) - 1, [row[0] for row in g].index(2) - 1
    body = [row[1:] for row in g[1:]]
    n, m = len(body), len(body[0])
    return tuple(tuple(body[(r - down) % n][(c - right) % m] for c in range(m)) for r in range(n))


def _blocky_body(rng: random.Random):
    palette = pick(rng, rng.randint(4, 6), (1, 3, 4, 5, 8, 9))
    body = [[rng.choice(palette) for _ in range(6)] for _ in range(6)]
    for r in range(6):  # runs of a colour across and down, like the task's blocks
        for c in range(6):
            if c and rng.random() < 0.45:
                body[r][c] = body[r][c - 1]
            elif r and rng.random() < 0.45:
                body[r][c] = body[r - 1][c]
    top, left = [7] + [6] * 6, [6] * 6
    top[rng.randint(1, 6)] = 2
    left[rng.randint(0, 5)] = 2
    return [top] + [[left[r]] + body[r] for r in range(6)]


RULES.add("79cce52d", _roll_to_markers, _blocky_body)


def _gravity_to_eight(g: Grid) -> Grid:
    """5e6bbc0b: a checkerboard of 1s holds one 8 on its border; every 1 falls toward the 8's side, and in the 8's
    own line the 1s pile against the 8 with as many 9s piled after them."""
    h, w = len(g), len(g[0])
    (r8, c8), = cells_of(g, 8)
    turned = c8 in (0, w - 1)  # the 8 on the left or right side: lines are rows, seen as columns of the transpose
    grid = transpose(g) if turned else g
    h, w = len(grid), len(grid[0])
    r8, c8 = (c8, r8) if turned else (r8, c8)
    down = r8 == h - 1
    out = blank(h, w)
    for c in range(w):
        ones = sum(grid[r][c] == 1 for r in range(h))
        line = ([8] + [1] * ones + [9] * ones) if c == c8 else [1] * ones
        for i, v in enumerate(line):
            out[h - 1 - i if down else i][c] = v
    return transpose(out) if turned else out


def _checkerboard_with_eight(rng: random.Random):
    h, w = rng.randint(3, 8), rng.randint(3, 8)
    parity = rng.randint(0, 1)
    g = [[1 if (r + c) % 2 == parity else 0 for c in range(w)] for r in range(h)]
    border = [(r, c) for r in range(h) for c in range(w) if g[r][c] == 1
              and (r in (0, h - 1)) != (c in (0, w - 1))]  # on one side, not in a corner
    require(bool(border), "no border cell for the 8")
    r, c = rng.choice(border)
    g[r][c] = 8
    return g


RULES.add("5e6bbc0b", _gravity_to_eight, _checkerboard_with_eight)


def _take_seed_colour(g: Grid) -> Grid:
    """b7256dcd: on a background of 7, each shape of 6 next to a single coloured cell takes that cell's colour;
    the single cells become 7."""
    out = [[7 if v not in (6, 7) else v for v in row] for row in g]
    for cells in components([[1 if v == 6 else 0 for v in row] for row in g], diagonal=False):
        seeds = {g[r + dr][c + dc] for r, c in cells for dr, dc in STEPS4
                 if _inside(g, r + dr, c + dc) and g[r + dr][c + dc] not in (6, 7)}
        if len(seeds) == 1:
            paint(out, cells, seeds.pop())
    return out


def _shapes_and_seeds(rng: random.Random):
    h, w = rng.randint(5, 8), rng.randint(4, 8)
    shapes = [shape(rng, rng.randint(1, 3), rng.randint(1, 3)) for _ in range(rng.randint(1, 4))]
    g = blank(h, w, 7)
    placed = []
    for cells, (r0, c0) in zip(shapes, place(rng, h, w, shapes, gap=1)):
        placed.append([(r0 + r, c0 + c) for r, c in cells])
        paint(g, placed[-1], 6)

    def free(r: int, c: int) -> bool:  # a 7 with no seed beside it
        return g[r][c] == 7 and not any(_inside(g, r + dr, c + dc) and g[r + dr][c + dc] not in (6, 7)
                                        for dr, dc in STEPS4)

    def touching(r: int, c: int) -> int:
        return sum(_inside(g, r + dr, c + dc) and g[r + dr][c + dc] == 6 for dr, dc in STEPS4)

    seeded = 0
    for cells in placed:
        if rng.random() < 0.75:
            spots = sorted({(r + dr, c + dc) for r, c in cells for dr, dc in STEPS4 if _inside(g, r + dr, c + dc)})
            spots = [(r, c) for r, c in spots if free(r, c)]
            if spots:
                r, c = rng.choice(spots)
                g[r][c] = rng.choice((1, 3, 4, 8))
                seeded += 1
    for _ in range(rng.randint(0, 2)):  # a stray cell touching no shape
        spots = [(r, c) for r in range(h) for c in range(w) if free(r, c) and not touching(r, c)]
        if spots:
            r, c = rng.choice(spots)
            g[r][c] = rng.choice((1, 3, 4, 5, 8))
    require(seeded > 0, "no shape has a seed")
    return g


RULES.add("b7256dcd", _take_seed_colour, _shapes_and_seeds)


def _stack_panels(g: Grid) -> Grid:
    """25c199f5: three 5x5 panels of 7 between columns of 6 each hold a drawing; the drawings' rows stack from the
    bottom of a 5x5 of 7, the first panel's lowest, the last panel's on top."""
    rows = []
    for left in (0, 6, 12):
        panel = [row[left:left + 5] for row in g]
        rows = [row for row in panel if any(v != 7 for v in row)] + rows
    return [[7] * 5 for _ in range(5 - len(rows))] + rows


def _three_panels(rng: random.Random):
    g = [[7] * 5 + [6] + [7] * 5 + [6] + [7] * 5 for _ in range(5)]
    heights = [rng.randint(1, 3) for _ in range(3)]
    require(sum(heights) <= 5, "the drawings do not fit one panel")
    for left, hh in zip((0, 6, 12), heights):
        cells = shape(rng, hh, rng.randint(1, 5))
        sh, sw = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
        require(sh == hh, "the drawing is shorter than drawn")
        r0, c0 = rng.randint(0, 5 - sh), rng.randint(0, 5 - sw)
        paint(g, cells, rng.choice((1, 5)), (r0, left + c0))
    return g


RULES.add("25c199f5", _stack_panels, _three_panels)

CORNER_STAMPS = {  # corner -> the cells its colour stamps, in an 8x8
    (0, 0): ((1, 1), (1, 2), (2, 1), (2, 2)),
    (0, 7): ((1, 5), (1, 6), (2, 5), (2, 6)),
    (7, 0): ((4, 2), (5, 2), (6, 3)),
    (7, 7): ((4, 5), (5, 5), (6, 4)),
}


def _stamp_corners(g: Grid) -> Grid:
    """fd02da9e: on an 8x8 of 7, each coloured corner cell goes and stamps its colour on a fixed shape near it (a
    2x2 square under a top corner, a hook of three cells above a bottom one)."""
    out = blank(8, 8, 7)
    for (r, c), cells in CORNER_STAMPS.items():
        if g[r][c] != 7:
            paint(out, cells, g[r][c])
    return out


def _coloured_corners(rng: random.Random):
    g = blank(8, 8, 7)
    for r, c in rng.sample(sorted(CORNER_STAMPS), rng.randint(1, 4)):
        g[r][c] = rng.choice((0, 1, 2, 3, 4, 5, 6, 8, 9))
    return g


RULES.add("fd02da9e", _stamp_corners, _coloured_corners)


def _grow_down(g: Grid) -> Grid:
    """b5bb5719: below a top row of 2s, 5s and 7s, each cell whose two upper diagonal neighbours are both 2 or 5
    takes the opposite colour of its upper-left neighbour, row by row."""
    out = thaw(g)
    for r in range(1, len(g)):
        for c in range(1, len(g[0]) - 1):
            a, b = out[r - 1][c - 1], out[r - 1][c + 1]
            if a != 7 and b != 7:
                out[r][c] = 7 - a  # 2 <-> 5
    return out


def _top_row(rng: random.Random):
    w = rng.randint(5, 12)
    top = [rng.choice((2, 5, 5, 2, 7)) for _ in range(w)]
    require(any(top[c - 1] != 7 and top[c + 1] != 7 for c in range(1, w - 1)), "nothing grows")
    return [top] + [[7] * w for _ in range((w + 1) // 2 - 1)]


RULES.add("b5bb5719", _grow_down, _top_row)


def _mark_squares(g: Grid) -> Grid:
    """14b8e18c: on a background of 7, each shape that is the outline of a square (2x2 or larger) gets a 2 on the
    eight cells beside its corners, outside it."""
    out = thaw(g)
    for cells in components([[0 if v == 7 else v for v in row] for row in g], diagonal=False):
        top, left, bottom, right = bbox(cells)
        n = bottom - top + 1
        if n < 2 or right - left + 1 != n or sorted(cells) != sorted((top + r, left + c) for r, c in outline(n, n)):
            continue
        for r, c in ((top - 1, left), (top, left - 1), (top - 1, right), (top, right + 1),
                     (bottom + 1, left), (bottom, left - 1), (bottom + 1, right), (bottom, right + 1)):
            if _inside(g, r, c):
                out[r][c] = 2
    return out


def _squares_and_others(rng: random.Random):
    colour = rng.choice((6, 8))
    squares = [outline(n, n) for n in (rng.randint(2, 5) for _ in range(rng.randint(1, 3)))]
    others = [shape(rng, rng.randint(1, 3), rng.randint(1, 4)) for _ in range(rng.randint(0, 2))]
    for cells in others:
        hh, ww = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
        require(not (hh == ww and hh > 1 and sorted(cells) == sorted(outline(hh, ww))), "a distractor is a square")
    g = blank(10, 10, 7)
    shapes = squares + others
    for cells, (r0, c0) in zip(shapes, place(rng, 8, 8, shapes, gap=2)):  # a margin for the marks
        paint(g, cells, colour, (r0 + 1, c0 + 1))
    return g


RULES.add("14b8e18c", _mark_squares, _squares_and_others)
