"""Rules about bars, boxes and frames: bars ranked by length, hollowed boxes, outlined dominoes, the box with a
hole, crops between corner marks, boxes stretched to a mark, combed bars, completed outlines, the frame with
the most dots, crosses repeated along their arms.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, crop, outline, paint, place, rect, scatter, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, counts, pick, require, sub, thaw,
                                  transpose)

RULES = Registry()


def _rank_bars(g: Grid) -> Grid:
    """ea32f347: three bars of 5: the longest becomes 1, the middle one 4, the shortest 2."""
    out = thaw(g)
    for cells, colour in zip(sorted(components(g, diagonal=False), key=len, reverse=True), (1, 4, 2)):
        paint(out, cells, colour)
    return out


def _three_bars(rng: random.Random):
    lengths = rng.sample(range(1, 7), 3)
    vertical = rng.random() < 0.5
    bars = [rect(n, 1) if vertical else rect(1, n) for n in lengths]
    return scatter(rng, 10, 10, bars, 5)


RULES.add("ea32f347", _rank_bars, _three_bars)


def _hollow_out(g: Grid) -> Grid:
    """4347f46a: every solid rectangle keeps only its outline."""
    out = thaw(g)
    for cells in components(g, diagonal=False):
        top, left, bottom, right = bbox(cells)
        for r in range(top + 1, bottom):
            for c in range(left + 1, right):
                out[r][c] = 0
    return out


def _solid_boxes(rng: random.Random):
    h, w = rng.randint(7, 18), rng.randint(7, 16)
    boxes = [rect(rng.randint(3, 6), rng.randint(3, 8)) for _ in range(rng.randint(1, 4))]
    return scatter(rng, h, w, boxes)


RULES.add("4347f46a", _hollow_out, _solid_boxes)


def _outline_pairs(g: Grid) -> Grid:
    """b27ca6d3: two 2s side by side (not just corner to corner) get a ring of 3; other 2s stay as they are."""
    out = thaw(g)
    for cells in components(g, diagonal=False):
        if len(cells) == 2:
            top, left, bottom, right = bbox(cells)
            for r in range(top - 1, bottom + 2):
                for c in range(left - 1, right + 2):
                    if 0 <= r < len(g) and 0 <= c < len(g[0]) and g[r][c] == 0:
                        out[r][c] = 3
    return out


def _pairs_and_singles(rng: random.Random):
    h, w = rng.randint(10, 15), rng.randint(10, 18)
    pieces = [rect(2, 1) if rng.random() < 0.5 else rect(1, 2) for _ in range(rng.randint(1, 3))]
    pieces += [[(0, 0)]] * rng.randint(2, 6)
    return scatter(rng, h, w, pieces, 2)


RULES.add("b27ca6d3", _outline_pairs, _pairs_and_singles)


def _box_with_hole(g: Grid) -> Grid:
    """b9b7f026: the colour of the one rectangle with a hole in it."""
    for cells in components(g):
        top, left, bottom, right = bbox(cells)
        if len(cells) < (bottom - top + 1) * (right - left + 1):
            return ((g[top][left],),)
    raise ValueError("no rectangle has a hole")


def _boxes_one_holed(rng: random.Random):
    h, w = rng.randint(13, 16), rng.randint(13, 17)
    boxes = [rect(rng.randint(2, 4), rng.randint(2, 5)) for _ in range(rng.randint(4, 6))]
    boxes[0] = [p for p in rect(rng.randint(3, 5), rng.randint(3, 5))]
    bh, bw = max(r for r, _ in boxes[0]) + 1, max(c for _, c in boxes[0]) + 1
    hole = (rng.randint(1, bh - 2), rng.randint(1, bw - 2))
    boxes[0] = [p for p in boxes[0] if p != hole]
    return scatter(rng, h, w, boxes)


RULES.add("b9b7f026", _box_with_hole, _boxes_one_holed)


def _between_marks(g: Grid) -> Grid:
    """3de23699: four marks at a rectangle's corners; the shape between them, in the marks' colour."""
    tally = counts(g)
    mark = next(v for v, n in tally.items() if v and n == 4 and len({r for r, _ in cells_of(g, v)}) == 2)
    top, left, bottom, right = bbox(cells_of(g, mark))
    inner = sub(g, top + 1, left + 1, bottom - top - 1, right - left - 1)
    return tuple(tuple(mark if v else 0 for v in row) for row in inner)


def _marked_shape(rng: random.Random):
    h, w = rng.randint(7, 18), rng.randint(7, 20)
    mark, colour = pick(rng, 2)
    ih, iw = rng.randint(2, min(6, h - 2)), rng.randint(2, min(8, w - 2))
    top, left = rng.randint(0, h - ih - 2), rng.randint(0, w - iw - 2)
    g = blank(h, w)
    for r, c in ((top, left), (top, left + iw + 1), (top + ih + 1, left), (top + ih + 1, left + iw + 1)):
        g[r][c] = mark
    cells = shape(rng, ih, iw)
    require(max(r for r, _ in cells) == ih - 1 and max(c for _, c in cells) == iw - 1, "the shape does not fill the marks")
    paint(g, cells, colour, (top + 1, left + 1))
    return g


RULES.add("3de23699", _between_marks, _marked_shape)


def _stretch_to_mark(g: Grid) -> Grid:
    """b548a754: the box (a frame and its filling) stretches to reach the 8, which goes."""
    (mr, mc), = cells_of(g, 8)
    box = [p for p in cells_of(g) if g[p[0]][p[1]] != 8]
    top, left, bottom, right = bbox(box)
    frame = g[top][left]
    fill = g[(top + bottom) // 2][(left + right) // 2]
    top, left, bottom, right = min(top, mr), min(left, mc), max(bottom, mr), max(right, mc)
    out = blank(len(g), len(g[0]))
    for r in range(top, bottom + 1):
        for c in range(left, right + 1):
            out[r][c] = frame if r in (top, bottom) or c in (left, right) else fill
    return out


def _box_and_mark(rng: random.Random):
    n = rng.randint(10, 13)
    g = blank(n, n)
    frame, fill = pick(rng, 2, (1, 2, 3, 4, 5, 6, 7, 9))
    bh, bw = rng.randint(3, 5), rng.randint(3, 5)
    top, left = rng.randint(0, n - bh), rng.randint(0, n - bw)
    for r in range(bh):
        for c in range(bw):
            g[top + r][left + c] = frame if r in (0, bh - 1) or c in (0, bw - 1) else fill
    side = rng.choice(("down", "up", "right", "left"))
    c = rng.randint(left, left + bw - 1)
    r = rng.randint(top, top + bh - 1)
    spot = {"down": (rng.randint(top + bh + 1, n - 1) if top + bh + 1 < n else None, c),
            "up": (rng.randint(0, top - 2) if top >= 2 else None, c),
            "right": (r, rng.randint(left + bw + 1, n - 1) if left + bw + 1 < n else None),
            "left": (r, rng.randint(0, left - 2) if left >= 2 else None)}[side]
    require(None not in spot, "no room on that side")
    g[spot[0]][spot[1]] = 8
    return g


RULES.add("b548a754", _stretch_to_mark, _box_and_mark)


def _comb_bars(g: Grid) -> Grid:
    """3bdb4ada: in each bar three rows tall, every other cell of the middle row (from the second) is emptied."""
    out = thaw(g)
    for cells in components(g, diagonal=False):
        top, left, _, right = bbox(cells)
        for c in range(left + 1, right + 1, 2):
            out[top + 1][c] = 0
    return out


def _thick_bars(rng: random.Random):
    h, w = rng.randint(7, 10), rng.randint(12, 30)
    bars = [rect(3, 2 * rng.randint(2, 7) + 1) for _ in range(2)]
    return scatter(rng, h, w, bars)


RULES.add("3bdb4ada", _comb_bars, _thick_bars)


def _complete_outline(g: Grid) -> Grid:
    """4612dd53: the dashed outline of 1 (and any dashed line across it) is completed with 2."""
    top, left, bottom, right = bbox(cells_of(g, 1))
    out = thaw(g)
    rows = {top, bottom} | {r for r in range(top + 1, bottom) if sum(g[r][c] == 1 for c in range(left, right + 1)) > (right - left) // 2}
    cols = {left, right} | {c for c in range(left + 1, right) if sum(g[r][c] == 1 for r in range(top, bottom + 1)) > (bottom - top) // 2}
    for r in range(top, bottom + 1):
        for c in range(left, right + 1):
            if (r in rows or c in cols) and g[r][c] == 0:
                out[r][c] = 2
    return out


def _dashed_box(rng: random.Random):
    h, w = rng.randint(9, 13), rng.randint(9, 13)
    bh, bw = rng.randint(5, h - 1), rng.randint(5, w - 1)
    top, left = rng.randint(0, h - bh), rng.randint(0, w - bw)
    g = blank(h, w)
    for r, c in outline(bh, bw):
        if rng.random() < 0.7 or (r in (0, bh - 1) and c in (0, bw - 1)):
            g[top + r][left + c] = 1
    return g


RULES.add("4612dd53", _complete_outline, _dashed_box)


def _busiest_frame(g: Grid) -> Grid:
    """fcb5c309: of the frames, the one holding the most dots, cropped and drawn in the dots' colour."""
    tally = counts(g)
    frame_colour = max((n, v) for v, n in tally.items() if v)[1]
    dot = next(v for v in tally if v not in (0, frame_colour))
    frames = [cells for cells in components(g) if g[cells[0][0]][cells[0][1]] == frame_colour]

    def dots(cells) -> int:
        top, left, bottom, right = bbox(cells)
        return sum(g[r][c] == dot for r in range(top, bottom + 1) for c in range(left, right + 1))
    best = crop(g, bbox(max(frames, key=dots)))
    return tuple(tuple(dot if v else 0 for v in row) for row in best)


def _frames_and_dots(rng: random.Random):
    h, w = rng.randint(12, 16), rng.randint(12, 16)
    frame, dot = pick(rng, 2)
    g = blank(h, w)
    boxes = [outline(rng.randint(4, 7), rng.randint(4, 7)) for _ in range(2)]
    spots = place(rng, h, w, boxes, gap=1)
    inside = []
    for cells, at in zip(boxes, spots):
        paint(g, cells, frame, at)
        bh, bw = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
        inside.append([(at[0] + r, at[1] + c) for r in range(1, bh - 1) for c in range(1, bw - 1)])
    n = rng.sample(range(0, 4), 2)
    for cells, k in zip(inside, n):
        for r, c in rng.sample(cells, min(k, len(cells))):
            g[r][c] = dot
    for _ in range(rng.randint(2, 5)):
        r, c = rng.randrange(h), rng.randrange(w)
        if g[r][c] == 0 and not any((r, c) in cells for cells in inside):
            g[r][c] = dot
    return g


RULES.add("fcb5c309", _busiest_frame, _frames_and_dots)


def _repeat_cross(g: Grid) -> Grid:
    """e21d9049: the cross's arms repeat their colour sequence along the whole row and column."""
    out = thaw(g)
    r = max(range(len(g)), key=lambda y: sum(v != 0 for v in g[y]))
    cols = transpose(g)
    c = max(range(len(g[0])), key=lambda x: sum(v != 0 for v in cols[x]))
    for line, put, size in ((g[r], lambda x, v: out[r].__setitem__(x, v), len(g[0])),
                            (cols[c], lambda y, v: out[y].__setitem__(c, v), len(g))):
        seg = [i for i, v in enumerate(line) if v]
        start, p = seg[0], len(seg)
        for i in range(size):
            put(i, line[start + (i - start) % p])
    return out


def _cross_seed(rng: random.Random):
    h, w = rng.randint(10, 16), rng.randint(10, 16)
    k = rng.randint(3, 4)
    colours = pick(rng, k)
    r, c = rng.randint(k, h - k - 1), rng.randint(k, w - k - 1)
    i = rng.randrange(k)  # which colour sits at the crossing
    g = blank(h, w)
    for j in range(k):
        g[r][c - i + j] = colours[j]
        g[r - i + j][c] = colours[j]
    return g


RULES.add("e21d9049", _repeat_cross, _cross_seed)
