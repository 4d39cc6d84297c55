"""Rules that complete or judge a picture: periodic patterns with holes filled, a symmetric picture's hidden
block, every other 5 from the right, regions by size, the block with most marks, the odd shape out, cells
drawn into a block's corners, gaps bridged between boxes, shadows under blocks, rectangles spanned by twin
cells, a pattern stamped on its marks.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random
from collections import Counter

from tasks_lib.pretraining.generators.grid import bbox, crop, paint, place, rect, scatter, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, flip_lr, flip_ud, hcat, pick, punch_holes,
                                  require, thaw, tile_period, vcat)

RULES = Registry()


def _fill_periodic(g: Grid) -> Grid:
    """0dfd9992, 29ec7d0e, 484b58aa: a periodic pattern with holes of 0; the holes are filled from the period."""
    py, px = tile_period(g)
    unit = {(r % py, c % px): v for r, row in enumerate(g) for c, v in enumerate(row) if v}
    return tuple(tuple(unit[(r % py, c % px)] for c in range(len(g[0]))) for r in range(len(g)))


def _holed_pattern(n: tuple[int, int], period: tuple[int, int], holes: tuple[int, int]):
    def sample(rng: random.Random):
        py, px = rng.randint(*period), rng.randint(*period)
        unit = [[rng.randint(1, 9) for _ in range(px)] for _ in range(py)]
        h = w = rng.randint(*n)
        g = [[unit[r % py][c % px] for c in range(w)] for r in range(h)]
        return punch_holes(rng, g, (py, px), rng.randint(*holes), (2, 5))
    return sample


RULES.add("0dfd9992", _fill_periodic, _holed_pattern((21, 21), (3, 7), (2, 5)))
RULES.add("29ec7d0e", _fill_periodic, _holed_pattern((18, 18), (2, 8), (2, 4)))
RULES.add("484b58aa", _fill_periodic, _holed_pattern((29, 29), (3, 10), (2, 6)))


def _hidden_block(g: Grid) -> Grid:
    """9ecd008a: a four-way symmetric picture with a 3x3 hole of 0; the hole's contents from the mirror image."""
    top, left, bottom, right = bbox(cells_of(g, 0))
    w = len(g[0])
    return tuple(tuple(g[r][w - 1 - c] if g[r][w - 1 - c] else g[len(g) - 1 - r][c] for c in range(left, right + 1))
                 for r in range(top, bottom + 1))


def _symmetric_with_hole(rng: random.Random):
    q = [[rng.randint(1, 9) for _ in range(8)] for _ in range(8)]
    top = hcat(q, flip_lr(q))
    g = thaw(vcat(top, flip_ud(top)))
    r, c = rng.randint(0, 13), rng.randint(0, 13)
    require((c + 2 < 8 or c >= 8) and (r + 2 < 8 or r >= 8), "the hole straddles a mirror line")
    paint(g, rect(3, 3), 0, (r, c))
    return g


RULES.add("9ecd008a", _hidden_block, _symmetric_with_hole)


def _every_other_from_right(g: Grid) -> Grid:
    """d406998b: counting columns from the right, the 5s in every other column (the last one first) become 3."""
    w = len(g[0])
    return tuple(tuple(3 if v == 5 and (w - 1 - c) % 2 == 0 else v for c, v in enumerate(row)) for row in g)


def _zigzag_fives(rng: random.Random):
    w = rng.randint(10, 14)
    g = blank(3, w)
    for c in range(w):
        g[rng.randrange(3)][c] = 5 if rng.random() < 0.9 else 0
    return g


RULES.add("d406998b", _every_other_from_right, _zigzag_fives)


def _regions_by_size(g: Grid) -> Grid:
    """6455b5f5: walls of 2 cut the grid into rooms; the largest rooms fill with 1, the smallest with 8."""
    rooms = components([[1 if v == 0 else 0 for v in row] for row in g], diagonal=False)
    big, small = max(map(len, rooms)), min(map(len, rooms))
    out = thaw(g)
    for cells in rooms:
        if len(cells) == big:
            paint(out, cells, 1)
        elif len(cells) == small:
            paint(out, cells, 8)
    return out


def _walled_rooms(rng: random.Random):
    h, w = rng.randint(8, 18), rng.randint(8, 16)
    g = blank(h, w)
    boxes = [(0, 0, h - 1, w - 1)]
    for _ in range(rng.randint(2, 5)):
        top, left, bottom, right = boxes.pop(rng.randrange(len(boxes)))
        if bottom - top >= 4 and (right - left < 4 or rng.random() < 0.5):
            r = rng.randint(top + 2, bottom - 2)
            for c in range(left, right + 1):
                g[r][c] = 2
            boxes += [(top, left, r - 1, right), (r + 1, left, bottom, right)]
        elif right - left >= 4:
            c = rng.randint(left + 2, right - 2)
            for r in range(top, bottom + 1):
                g[r][c] = 2
            boxes += [(top, left, bottom, c - 1), (top, c + 1, bottom, right)]
        else:
            boxes.append((top, left, bottom, right))
    rooms = components([[1 if v == 0 else 0 for v in row] for row in g], diagonal=False)
    require(len({len(cells) for cells in rooms}) >= 2, "all rooms are the same size")
    return g


RULES.add("6455b5f5", _regions_by_size, _walled_rooms)


def _most_dotted(g: Grid) -> Grid:
    """8efcae92: of the blocks of 1, the one with the most 2s in it, cropped."""
    mask = [[1 if v else 0 for v in row] for row in g]
    blocks = [crop(g, bbox(cells)) for cells in components(mask, diagonal=False)]
    return max(blocks, key=lambda b: sum(v == 2 for row in b for v in row))


def _dotted_blocks(rng: random.Random):
    g = blank(20, 20)
    blocks = [rect(rng.randint(4, 8), rng.randint(4, 8)) for _ in range(rng.randint(2, 4))]
    dots = []
    for cells, at in zip(blocks, place(rng, 20, 20, blocks, gap=1)):
        paint(g, cells, 1, at)
        k = rng.randint(1, 6)
        for r, c in rng.sample(cells, k):
            g[at[0] + r][at[1] + c] = 2
        dots.append(k)
    require(sorted(dots)[-1] > sorted(dots)[-2], "no block has the most dots")
    return g


RULES.add("8efcae92", _most_dotted, _dotted_blocks)


def _odd_shape_out(g: Grid) -> Grid:
    """b230c067: of three shapes, the two alike become 1 and the odd one 2."""
    shapes = components(g)
    crops = [crop(g, bbox(cells)) for cells in shapes]
    tally = Counter(crops)
    out = thaw(g)
    for cells, picture in zip(shapes, crops):
        paint(out, cells, 2 if tally[picture] == 1 else 1)
    return out


def _two_alike(rng: random.Random):
    a = shape(rng, rng.randint(2, 4), rng.randint(2, 4))
    b = shape(rng, rng.randint(2, 4), rng.randint(2, 4))
    require(a != b, "the odd shape is not odd")
    shapes = [a, a, b]
    rng.shuffle(shapes)
    return scatter(rng, 10, 10, shapes, 8)


RULES.add("b230c067", _odd_shape_out, _two_alike)


def _into_corners(g: Grid) -> Grid:
    """d89b689b: four cells around the 2x2 of 8 move into its corners, each into the one on its side."""
    top, left, _, _ = bbox(cells_of(g, 8))
    out = blank(len(g), len(g[0]))
    for r, c in cells_of(g):
        if g[r][c] != 8:
            out[top + (r > top)][left + (c > left)] = g[r][c]
    return out


def _four_around(rng: random.Random):
    g = blank(10, 10)
    top, left = rng.randint(1, 7), rng.randint(1, 7)
    paint(g, rect(2, 2), 8, (top, left))
    colours = pick(rng, 4, (1, 2, 3, 4, 5, 6, 7, 9))
    for (dy, dx), colour in zip(((0, 0), (0, 1), (1, 0), (1, 1)), colours):
        rows = range(0, top) if dy == 0 else range(top + 2, 10)
        cols = range(0, left) if dx == 0 else range(left + 2, 10)
        g[rng.choice(rows)][rng.choice(cols)] = colour
    return g


RULES.add("d89b689b", _into_corners, _four_around)


def _bridge_boxes(g: Grid) -> Grid:
    """ef135b50: in each row but the top and bottom ones, the gap between two boxes of 2 is bridged with 9."""
    out = thaw(g)
    for r, row in enumerate(g[1:-1], start=1):
        twos = [c for c, v in enumerate(row) if v == 2]
        for a, b in zip(twos, twos[1:]):
            for c in range(a + 1, b):
                out[r][c] = 9
    return out


def _boxes(rng: random.Random):
    boxes = [rect(rng.randint(2, 4), rng.randint(2, 3)) for _ in range(rng.randint(3, 5))]
    g = scatter(rng, 10, 10, boxes, 2)
    require(any(c > 0 and row[c] == 0 and 2 in row[:c] and 2 in row[c:] for row in g for c in range(10)), "nothing to bridge")
    return g


RULES.add("ef135b50", _bridge_boxes, _boxes)


def _shadows(g: Grid) -> Grid:
    """fcc82909: under each 2x2 block, a shadow of 3 as deep as the block has colours."""
    out = thaw(g)
    mask = [[1 if v else 0 for v in row] for row in g]
    for cells in components(mask, diagonal=False):
        top, left, bottom, right = bbox(cells)
        depth = len({g[r][c] for r, c in cells})
        for r in range(bottom + 1, min(len(g), bottom + 1 + depth)):
            for c in range(left, right + 1):
                out[r][c] = 3
    return out


def _colour_blocks(rng: random.Random):
    g = blank(10, 10)
    blocks = [rect(2, 2)] * rng.randint(1, 3)
    for at in place(rng, 6, 10, blocks, gap=1):
        for r, c in rect(2, 2):
            g[at[0] + r][at[1] + c] = rng.choice((1, 2, 4, 6, 7, 8, 9))
    out = _shadows(g)
    require(all(out[r][c] == g[r][c] for r, c in cells_of(g)), "a shadow falls on another block")
    return g


RULES.add("fcc82909", _shadows, _colour_blocks)


def _span_twins(g: Grid) -> Grid:
    """56ff96f3: two cells of one colour become the filled rectangle they are corners of."""
    out = thaw(g)
    for colour in sorted({v for row in g for v in row if v}):
        top, left, bottom, right = bbox(cells_of(g, colour))
        for r in range(top, bottom + 1):
            for c in range(left, right + 1):
                out[r][c] = colour
    return out


def _twin_cells(rng: random.Random):
    g = blank(10, 10)
    boxes = [rect(rng.randint(2, 5), rng.randint(2, 5)) for _ in range(rng.randint(1, 3))]
    for cells, at, colour in zip(boxes, place(rng, 10, 10, boxes, gap=1), pick(rng, len(boxes))):
        bh, bw = max(r for r, _ in cells), max(c for _, c in cells)
        if rng.random() < 0.5:
            g[at[0]][at[1]], g[at[0] + bh][at[1] + bw] = colour, colour
        else:
            g[at[0]][at[1] + bw], g[at[0] + bh][at[1]] = colour, colour
    return g


RULES.add("56ff96f3", _span_twins, _twin_cells)


def _stamp_on_marks(g: Grid) -> Grid:
    """363442ee: the 3x3 pattern left of the column of 5 is stamped centred on every 1."""
    pattern = [row[:3] for row in g[:3]]
    out = thaw(g)
    for r, c in cells_of(g, 1):
        for y in range(3):
            out[r - 1 + y][c - 1:c + 2] = pattern[y]
    return out


def _pattern_and_marks(rng: random.Random):
    g = blank(9, 13)
    colours = pick(rng, 3, (2, 3, 4, 6, 7, 8, 9))
    for r in range(3):
        g[r][:3] = [rng.choice(colours) for _ in range(3)]
        for row in g:
            row[3] = 5
    slots = [(1 + 3 * i, 5 + 3 * j) for i in range(3) for j in range(3)]
    for r, c in rng.sample(slots, rng.randint(1, 5)):
        g[r][c] = 1
    return g


RULES.add("363442ee", _stamp_on_marks, _pattern_and_marks)
