"""Families that move cells or draw on the grid: gravity, rays, connecting lines, fills, outlines, frames.

Contract: as in `geometry`: a family draws its task's rule once and returns a pair drawer; outputs are
computed from inputs by the rule; collisions that would make the rule ambiguous raise `grid.Retry`.
"""

from __future__ import annotations

import random

from tasks_lib.arc.data import Grid
from tasks_lib.pretraining.generators.grid import (COLOURS, PairFn, Retry, bbox, blank, colours, dims, freeze, noise,
                                       outline, outside, paint, place, random_rects, scatter, shape, side_range, turn)

DIRECTIONS = {"down": (1, 0), "up": (-1, 0), "right": (0, 1), "left": (0, -1)}
DIAGONALS = ((1, 1), (1, -1), (-1, 1), (-1, -1))


def gravity(rng: random.Random) -> PairFn:
    """Every coloured cell falls towards one side until it rests on the wall or another cell."""
    direction = rng.choice(tuple(DIRECTIONS))
    palette = colours(rng, rng.randint(1, 4))
    lo, hi = side_range(rng, 3, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        g = noise(r, h, w, palette, r.uniform(0.1, 0.5))
        # turn the pull into "down" on columns, settle, turn back
        lines = [[g[y][x] for y in range(h)] for x in range(w)] if direction in ("down", "up") else [row[:] for row in g]
        settled = []
        for line in lines:
            cells = [v for v in line if v]
            pad = [0] * (len(line) - len(cells))
            settled.append(pad + cells if direction in ("down", "right") else cells + pad)
        out = [[settled[x][y] for x in range(w)] for y in range(h)] if direction in ("down", "up") else settled
        return freeze(g), freeze(out)
    return pair


def rays(rng: random.Random) -> PairFn:
    """Each seed pixel shoots a line of its colour in fixed directions until the border."""
    steps = rng.choice(([DIRECTIONS[rng.choice(tuple(DIRECTIONS))]], [(0, 1), (0, -1)], [(1, 0), (-1, 0)],
                        list(DIRECTIONS.values()), list(DIAGONALS), [rng.choice(DIAGONALS)]))
    palette = colours(rng, rng.randint(1, 3))
    lo, hi = side_range(rng, 5, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp, out = blank(h, w), blank(h, w)
        owner: dict[tuple[int, int], int] = {}
        for i in range(r.randint(1, 4)):
            y, x = r.randrange(h), r.randrange(w)
            if inp[y][x]:
                raise Retry("seed on seed")
            c = r.choice(palette)
            inp[y][x] = c
            path = [(y, x)]
            for dy, dx in steps:
                cy, cx = y + dy, x + dx
                while 0 <= cy < h and 0 <= cx < w:
                    path.append((cy, cx))
                    cy, cx = cy + dy, cx + dx
            for cell in path:
                if owner.setdefault(cell, i) != i:
                    raise Retry("rays cross")  # crossings would need a drawing order
                out[cell[0]][cell[1]] = c
        return freeze(inp), freeze(out)
    return pair


def connect_pairs(rng: random.Random) -> PairFn:
    """Two pixels of one colour on a row or column are joined by a line (of their colour or a fixed one)."""
    line_colour = rng.choice(COLOURS) if rng.random() < 0.4 else None
    palette = colours(rng, rng.randint(1, 3), exclude=(0, line_colour or 0))
    lo, hi = side_range(rng, 6, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp = blank(h, w)
        used: set[tuple[int, int]] = set()
        lines = []
        for _ in range(r.randint(1, 4)):
            c = r.choice(palette)
            if r.random() < 0.5:
                y, (x0, x1) = r.randrange(h), sorted(r.sample(range(w), 2))
                cells = [(y, x) for x in range(x0, x1 + 1)]
            else:
                x, (y0, y1) = r.randrange(w), sorted(r.sample(range(h), 2))
                cells = [(y, x) for y in range(y0, y1 + 1)]
            if len(cells) < 3:
                raise Retry("ends touch")
            halo = {(y + dy, x + dx) for y, x in cells for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
            if halo & used:
                raise Retry("lines too close")  # keeps every pair's partner unambiguous
            used.update(cells)
            for y, x in (cells[0], cells[-1]):
                inp[y][x] = c
            lines.append((cells, c))
        ends = [(cells[k], cells[-1 - k]) for cells, _ in lines for k in (0, -1)]
        for (y, x), partner in ends:  # an end sees no pixel on its row or column but its partner
            if any(other not in ((y, x), partner) and (other[0] == y or other[1] == x) for other, _ in ends):
                raise Retry("an end lines up with another pair")
        out = [row[:] for row in inp]
        for cells, c in lines:
            paint(out, cells[1:-1], line_colour or c)
        return freeze(inp), freeze(out)
    return pair


def fill_enclosed(rng: random.Random) -> PairFn:
    """Background cells that cannot reach the border (4-connected) are filled with a fixed colour."""
    fill = rng.choice(COLOURS)
    wall = rng.choice([c for c in COLOURS if c != fill])
    lo, hi = side_range(rng, 6, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        boxes = [(r.randint(3, min(7, h)), r.randint(3, min(7, w))) for _ in range(r.randint(1, 4))]
        rings = []
        for bh, bw in boxes:
            ring = outline(bh, bw)
            if r.random() < 0.25:  # an open ring: its inside leaks out and stays background
                ring.remove(r.choice([c for c in ring if c not in ((0, 0), (0, bw - 1), (bh - 1, 0), (bh - 1, bw - 1))]))
            rings.append(ring)
        inp = scatter(r, h, w, rings, wall)
        reach = outside(inp)
        out = [[fill if v == 0 and (y, x) not in reach else v for x, v in enumerate(row)] for y, row in enumerate(inp)]
        return freeze(inp), freeze(out)
    return pair


def hollow_rects(rng: random.Random) -> PairFn:
    """Solid rectangles lose their inside (to background) or get their rim recoloured."""
    rim = rng.choice(COLOURS) if rng.random() < 0.5 else None
    palette = colours(rng, rng.randint(1, 3), exclude=(0, rim or 0))
    lo, hi = side_range(rng, 5, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        rects = random_rects(r, r.randint(1, 4), 3, min(6, h), min(6, w))
        inp, out = blank(h, w), blank(h, w)
        for cells, (y0, x0) in zip(rects, place(r, h, w, rects)):
            c = r.choice(palette)
            paint(inp, cells, c, (y0, x0))
            bh, bw = cells[-1][0] + 1, cells[-1][1] + 1
            edge = [(y, x) for y, x in cells if y in (0, bh - 1) or x in (0, bw - 1)]
            paint(out, cells, c if rim else 0, (y0, x0))
            paint(out, edge, rim or c, (y0, x0))
        return freeze(inp), freeze(out)
    return pair


def rect_from_corners(rng: random.Random) -> PairFn:
    """Two same-coloured pixels mark opposite corners of a rectangle, which the output fills."""
    palette = colours(rng, rng.randint(1, 4))
    lo, hi = side_range(rng, 5, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        rects = random_rects(r, r.randint(1, min(3, len(palette))), 2, min(7, h), min(7, w))
        inp, out = blank(h, w), blank(h, w)
        rect_colours = r.sample(palette, len(rects))  # one colour per rectangle: corners pair up one way only
        for cells, (y0, x0), c in zip(rects, place(r, h, w, rects), rect_colours):
            bh, bw = cells[-1][0] + 1, cells[-1][1] + 1
            corners = ((0, 0), (bh - 1, bw - 1)) if r.random() < 0.5 else ((0, bw - 1), (bh - 1, 0))
            paint(inp, corners, c, (y0, x0))
            paint(out, cells, c, (y0, x0))
        return freeze(inp), freeze(out)
    return pair


def frame_objects(rng: random.Random) -> PairFn:
    """Draw a one-cell frame of a fixed colour around each object's bounding box, one cell out."""
    frame = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, frame))
    lo, hi = side_range(rng, 6, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        objects = [shape(r, r.randint(1, 3), r.randint(1, 3)) for _ in range(r.randint(1, 4))]
        # each object is placed with its frame; frames stay one cell apart and inside the grid
        boxes = []
        for cells in objects:
            bh, bw = cells[-1][0] + 1, max(x for _, x in cells) + 1
            boxes.append([(y, x) for y in range(bh + 2) for x in range(bw + 2)])
        inp = blank(h, w)
        out = blank(h, w)
        for cells, box, (y0, x0) in zip(objects, boxes, place(r, h, w, boxes)):
            c = r.choice(palette)
            paint(inp, cells, c, (y0 + 1, x0 + 1))
            paint(out, cells, c, (y0 + 1, x0 + 1))
            _, _, by, bx = bbox(box)
            paint(out, [(y, x) for y, x in box if y in (0, by) or x in (0, bx)], frame, (y0, x0))
        return freeze(inp), freeze(out)
    return pair


def cross_lines(rng: random.Random) -> PairFn:
    """Each seed pixel fills its whole row and column with its colour; where lines cross, the
    vertical (or, for some tasks, the horizontal) line wins."""
    vertical_on_top = rng.random() < 0.5
    palette = colours(rng, rng.randint(1, 3))
    lo, hi = side_range(rng, 5, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        n = r.randint(1, min(3, h, w))
        ys, xs = r.sample(range(h), n), r.sample(range(w), n)
        seeds = [(y, x, r.choice(palette)) for y, x in zip(ys, xs)]
        inp, out = blank(h, w), blank(h, w)
        for y, x, c in seeds:
            inp[y][x] = c
        order = ("row", "col") if vertical_on_top else ("col", "row")
        for kind in order:
            for y, x, c in seeds:
                cells = [(y, cx) for cx in range(w)] if kind == "row" else [(cy, x) for cy in range(h)]
                paint(out, cells, c)
        for y, x, c in seeds:
            out[y][x] = c
        return freeze(inp), freeze(out)
    return pair


# dihedral transforms that turn the canonical "down" into each direction (see tasks_lib.arc.augment)
TURNS = {"down": 0, "up": 1, "right": 4, "left": 6}


def slide_objects(rng: random.Random) -> PairFn:
    """Every object slides in one fixed direction, as a rigid piece, until it touches the border."""
    k = TURNS[rng.choice(tuple(TURNS))]
    palette = colours(rng, rng.randint(1, 3))
    lo, hi = side_range(rng, 5, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp, out = blank(h, w), blank(h, w)
        x = 0
        while x < w:  # objects sit in column bands of their own, so no two meet on the way down
            bw = r.randint(1, 3)
            if x + bw <= w and r.random() < 0.5:
                cells = shape(r, r.randint(1, 3), bw)
                bh = max(y for y, _ in cells) + 1
                y0 = r.randint(0, h - bh)
                c = r.choice(palette)
                paint(inp, cells, c, (y0, x))
                paint(out, cells, c, (h - bh, x))
                x += bw
            x += 1
        return turn(k, inp), turn(k, out)
    return pair


def ray_to_wall(rng: random.Random) -> PairFn:
    """Seed pixels shoot a line in one fixed direction that stops at the first non-background cell
    (a wall segment) or at the border."""
    k = TURNS[rng.choice(tuple(TURNS))]
    seed_colour, wall_colour = colours(rng, 2)
    lo, hi = side_range(rng, 6, 24)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp = blank(h, w)
        for _ in range(r.randint(1, 3)):
            y, x0 = r.randint(2, h - 1), r.randrange(w)
            paint(inp, [(y, x) for x in range(x0, min(w, x0 + r.randint(2, w)))], wall_colour)
        for x in r.sample(range(w), r.randint(1, min(4, w))):
            free = [y for y in range(h - 1) if all(inp[k][x] == 0 for k in range(y + 1))]
            if not free:
                raise Retry("no room above the wall")
            inp[r.choice(free)][x] = seed_colour
        out = [row[:] for row in inp]
        for y, x in [(y, x) for y in range(h) for x in range(w) if inp[y][x] == seed_colour]:
            y += 1
            while y < h and inp[y][x] == 0:
                out[y][x] = seed_colour
                y += 1
        return turn(k, inp), turn(k, out)
    return pair


FAMILIES = {
    "gravity": gravity,
    "rays": rays,
    "connect_pairs": connect_pairs,
    "fill_enclosed": fill_enclosed,
    "hollow_rects": hollow_rects,
    "rect_from_corners": rect_from_corners,
    "frame_objects": frame_objects,
    "cross_lines": cross_lines,
    "slide_objects": slide_objects,
    "ray_to_wall": ray_to_wall,
}
