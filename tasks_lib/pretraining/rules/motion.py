"""Rules that move or grow things step by step: a box along its track, plus seeds grown into stars, colours
carried along rows, the top bar of a crossing swapped, a shape slid to touch a block, one step toward a
target, staircases from a seed.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, paint, place, rect, shape
from tasks_lib.pretraining.rules.base import Grid, Registry, blank, cells_of, pick, require, thaw, transpose

RULES = Registry()


def _box_along_track(g: Grid) -> Grid:
    """5168d44c: the box of 2 moves two cells along the dotted track of 3 (right, or down)."""
    box = cells_of(g, 2)
    top, left, bottom, right = bbox(box)
    track_row = top + 1
    horizontal = sum(v == 3 for v in g[track_row]) > 1
    dr, dc = (0, 2) if horizontal else (2, 0)
    out = thaw(g)
    for r, c in box:
        out[r][c] = 0
    for r, c in cells_of(g, 3):
        out[r][c] = 3
    for r, c in box:
        out[r + dr][c + dc] = 2
    return out


def _track_and_box(rng: random.Random):
    w = rng.choice((9, 11, 13, 15))
    h = 7
    g = blank(h, w)
    row = rng.randint(1, h - 2)
    start = rng.randint(0, 1)
    for c in range(start, w, 2):
        g[row][c] = 3
    centre = rng.choice(range(start + 1 if start == 0 else start, w - 3, 2)) if w - 3 > start + 1 else None
    require(centre is not None and g[row][centre] == 3 and centre >= 1, "no room")
    for r, c in [(y, x) for y in (-1, 0, 1) for x in (-1, 0, 1) if (y, x) != (0, 0)]:
        g[row + r][centre + c] = 2
    return transpose(g) if rng.random() < 0.5 else g


RULES.add("5168d44c", _box_along_track, _track_and_box)


def _grow_stars(g: Grid) -> Grid:
    """0962bcdd: each plus (a centre and four arms) grows: arms to length two, and diagonals of the centre
    colour of length two."""
    out = thaw(g)
    for r, c in cells_of(g):
        arms = [g[r + dr][c + dc] for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))
                if 0 <= r + dr < len(g) and 0 <= c + dc < len(g[0])]
        if len(arms) == 4 and len(set(arms)) == 1 and arms[0] not in (0, g[r][c]):
            for k in (1, 2):
                for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                    out[r + k * dr][c + k * dc] = arms[0]
                for dr, dc in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                    out[r + k * dr][c + k * dc] = g[r][c]
    return out


def _seeds(rng: random.Random):
    g = blank(12, 12)
    centre, arm = pick(rng, 2)
    for r, c in place(rng, 12, 12, [rect(5, 5)] * rng.randint(1, 2), gap=0):
        g[r + 2][c + 2] = centre
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            g[r + 2 + dr][c + 2 + dc] = arm
    return g


RULES.add("0962bcdd", _grow_stars, _seeds)


def _row_colours(g: Grid) -> Grid:
    """c9f8e694: every 5 takes the colour at the left end of its row."""
    return tuple(tuple(row[0] if v == 5 else v for v in row) for row in g)


def _grey_blocks(rng: random.Random):
    g = blank(12, 12)
    palette = pick(rng, 2, (1, 2, 3, 4, 6, 7, 8, 9))
    for row in g:
        row[0] = rng.choice(palette)
    blocks = [rect(rng.randint(2, 6), rng.randint(2, 4)) for _ in range(rng.randint(2, 3))]
    for cells, (r, c) in zip(blocks, place(rng, 12, 10, blocks, gap=1)):
        paint(g, cells, 5, (r, c + 2))
    return g


RULES.add("c9f8e694", _row_colours, _grey_blocks)


def _swap_crossing(g: Grid) -> Grid:
    """ba97ae07: where a vertical and a horizontal band cross, the band on top goes under."""
    h, w = len(g), len(g[0])
    rows = [r for r in range(h) if all(g[r][c] for c in range(w))]
    cols = [c for c in range(w) if all(g[r][c] for r in range(h))]
    row_colour = next(g[r][c] for r in rows for c in range(w) if c not in cols)
    col_colour = next(g[r][c] for c in cols for r in range(h) if r not in rows)
    shown = g[rows[0]][cols[0]]
    new = col_colour if shown == row_colour else row_colour
    out = thaw(g)
    for r in rows:
        for c in cols:
            out[r][c] = new
    return out


def _crossing_bands(rng: random.Random):
    h, w = rng.randint(7, 13), rng.randint(7, 13)
    a, b = pick(rng, 2)
    t, th = rng.randint(1, h - 4), rng.randint(1, 3)
    l, lw = rng.randint(1, w - 4), rng.randint(1, 3)
    g = blank(h, w)
    vertical_on_top = rng.random() < 0.5
    for r in range(h):
        for c in range(w):
            in_row, in_col = t <= r < t + th, l <= c < l + lw
            if in_row and in_col:
                g[r][c] = a if vertical_on_top else b
            elif in_col:
                g[r][c] = a
            elif in_row:
                g[r][c] = b
    return g


RULES.add("ba97ae07", _swap_crossing, _crossing_bands)


def _slide_to_block(g: Grid) -> Grid:
    """05f2a901: the shape of 2 slides straight toward the 2x2 block of 8 until it touches it."""
    piece, block = cells_of(g, 2), cells_of(g, 8)
    pt, pl, pb, pr = bbox(piece)
    bt, bl, bb, br = bbox(block)
    if pr < bl:
        dr, dc = 0, bl - pr - 1
    elif pl > br:
        dr, dc = 0, -(pl - br - 1)
    elif pb < bt:
        dr, dc = bt - pb - 1, 0
    else:
        dr, dc = -(pt - bb - 1), 0
    out = blank(len(g), len(g[0]))
    paint(out, block, 8)
    for r, c in piece:
        out[r + dr][c + dc] = 2
    return out


def _piece_and_block(rng: random.Random):
    h, w = rng.randint(9, 14), rng.randint(9, 14)
    g = blank(h, w)
    cells = shape(rng, rng.randint(2, 3), rng.randint(2, 4))
    ph, pw = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
    br, bc = rng.randint(0, h - 2), rng.randint(0, w - 2)
    paint(g, rect(2, 2), 8, (br, bc))
    if rng.random() < 0.5:  # beside it, in its rows
        r = rng.randint(max(0, br - ph + 1), min(h - ph, br + 1))
        c = rng.choice([c for c in range(0, w - pw + 1) if c + pw < bc - 1 or c > bc + 3] or [None])
    else:  # above or below it, in its columns
        c = rng.randint(max(0, bc - pw + 1), min(w - pw, bc + 1))
        r = rng.choice([r for r in range(0, h - ph + 1) if r + ph < br - 1 or r > br + 3] or [None])
    require(r is not None and c is not None, "no room")
    paint(g, cells, 2, (r, c))
    return g


RULES.add("05f2a901", _slide_to_block, _piece_and_block)


def _step_toward(g: Grid) -> Grid:
    """dc433765: the 3 takes one step (straight or diagonal) toward the 4."""
    (r3, c3), (r4, c4) = cells_of(g, 3)[0], cells_of(g, 4)[0]
    out = thaw(g)
    out[r3][c3] = 0
    out[r3 + (r4 > r3) - (r4 < r3)][c3 + (c4 > c3) - (c4 < c3)] = 3
    return out


def _three_and_four(rng: random.Random):
    h, w = rng.randint(3, 11), rng.randint(3, 11)
    g = blank(h, w)
    (r3, c3), (r4, c4) = rng.sample([(r, c) for r in range(h) for c in range(w)], 2)
    require(max(abs(r3 - r4), abs(c3 - c4)) > 1, "already touching")
    g[r3][c3], g[r4][c4] = 3, 4
    return g


RULES.add("dc433765", _step_toward, _three_and_four)


def _staircases(g: Grid) -> Grid:
    """d06dbe63: from the 8, a staircase of 5 climbs up-right (up two, right two) and one descends down-left."""
    (r, c), = cells_of(g, 8)
    out = thaw(g)
    for vertical, horizontal in ((-1, 1), (1, -1)):
        y, x = r, c
        steps = [(vertical, 0), (vertical, 0), (0, horizontal), (0, horizontal)]
        k = 0
        while True:
            dy, dx = steps[k % 4]
            y, x = y + dy, x + dx
            if not (0 <= y < len(g) and 0 <= x < len(g[0])):
                break
            out[y][x] = 5
            k += 1
    return out


def _seed_eight(rng: random.Random):
    g = blank(13, 13)
    g[rng.randint(2, 10)][rng.randint(2, 10)] = 8
    return g


RULES.add("d06dbe63", _staircases, _seed_eight)
