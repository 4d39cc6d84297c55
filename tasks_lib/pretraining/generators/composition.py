"""Families whose rule takes two or more steps or reasons about objects: find an object by one property and
change it by another, move objects until they touch a wall, recolour by a relation (touching, aligned with a
key), copy a pattern onto markers, grow objects from a tip, pick a transform by a cue, size the output by a
count, and two-transform combinations of the simpler families' kinds.

Contract: as in `geometry`: a family draws its task's rule once and returns a pair drawer; outputs are
computed from inputs by the rule; a draw that would make the rule ambiguous (ties, collisions, a cue the
pairs never show) raises `grid.Retry`. Objects are 8-connected groups of one colour, placed apart so that
each drawn shape is exactly one object.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tasks_lib.arc.data import Grid
from tasks_lib.pretraining.generators.grid import (COLOURS, Cell, PairFn, Retry, STEPS4, bbox, blank, colours, dims, extent,
                                       freeze, noise, outline, paint, place, rect, scene, shape, side_range, turn)


def _cycle(rng: random.Random, options: list) -> Callable[[], object]:
    """A drawer that walks through `options` in a shuffled cycle, so consecutive pairs of a task show each
    option in turn (a rule with cases is then shown every case)."""
    order = rng.sample(options, len(options))
    state = {"n": 0}

    def next_option() -> object:
        state["n"] += 1
        return order[(state["n"] - 1) % len(order)]
    return next_option


def move_until_touch(rng: random.Random) -> PairFn:
    """A full-length wall line crosses the grid; every object moves straight towards it, as a rigid piece,
    until it touches the wall (objects on both sides move, from opposite directions)."""
    wall = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, wall))
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        b = r.randint(2, h - 3)  # the wall's row in the canonical (horizontal) view
        inp, out = blank(h, w), blank(h, w)
        paint(inp, [(b, x) for x in range(w)], wall)
        paint(out, [(b, x) for x in range(w)], wall)
        x, moved = r.randint(0, 2), 0
        while x < w:  # objects sit in column bands of their own, so none blocks another
            bw = min(r.randint(1, 3), w - x)
            above = r.random() < 0.5
            room = b - 1 if above else h - b - 2
            if room >= 1 and r.random() < 0.7:
                cells = shape(r, r.randint(1, min(3, room)), bw)
                sh, sw = extent(cells)
                c = r.choice(palette)
                if above:
                    y0 = r.randint(0, b - sh)
                    y1 = b - sh
                else:
                    y0 = r.randint(b + 1, h - sh)
                    y1 = b + 1
                moved += y0 != y1
                paint(inp, cells, c, (y0, x))
                paint(out, cells, c, (y1, x))
                x += sw
            x += 1 + r.randint(0, 2)
        if not moved:
            raise Retry("nothing moves")
        k = r.choice((0, 1))  # the wall runs across (0) or, transposed, down the grid
        return turn(4 * k, inp), turn(4 * k, out)
    return pair


def _touching_cells(cells: list[Cell], h: int, w: int) -> list[Cell]:
    """Cells outside the shape that share an edge with it, inside an h x w grid."""
    own = set(cells)
    return sorted({(y + dy, x + dx) for y, x in cells for dy, dx in STEPS4
                   if 0 <= y + dy < h and 0 <= x + dx < w and (y + dy, x + dx) not in own})


def recolour_touching(rng: random.Random) -> PairFn:
    """Objects of one colour that touch a marker pixel (diagonals count) take the marker's colour; the others
    keep theirs, and markers stay."""
    base = rng.choice(COLOURS)
    markers = colours(rng, rng.randint(1, 3), exclude=(0, base))
    lo, hi = side_range(rng, 9, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        shapes = [shape(r, r.randint(1, 3), r.randint(1, 3), r.randint(2, 6)) for _ in range(r.randint(3, 6))]
        offsets = place(r, h, w, shapes, gap=2)  # a marker beside one shape is then two cells from any other
        inp, out = blank(h, w), blank(h, w)
        taken: set[Cell] = set()
        for n, (cells, (y0, x0)) in enumerate(zip(shapes, offsets)):
            absolute = [(y0 + y, x0 + x) for y, x in cells]
            taken.update(absolute)
            touched = n == 0 or (n > 1 and r.random() < 0.5)  # every pair shows a touched and an untouched object
            paint(inp, absolute, base)
            if touched:
                my, mx = r.choice(_touching_cells(absolute, h, w))
                m = r.choice(markers)
                inp[my][mx] = out[my][mx] = m
                taken.add((my, mx))
                paint(out, absolute, m)
            else:
                paint(out, absolute, base)
        for y, x in place(r, h, w, [[(0, 0)]] * r.randint(0, 3), taken=taken):  # markers touching nothing
            inp[y][x] = out[y][x] = r.choice(markers)
        return freeze(inp), freeze(out)
    return pair


def recolour_by_key(rng: random.Random) -> PairFn:
    """Key pixels stand on one border line; every object that shares a row (a column, for a top or bottom key)
    with a key pixel takes that key's colour; objects level with no key keep theirs."""
    base = rng.choice(COLOURS)
    keys = colours(rng, rng.randint(2, 4), exclude=(0, base))
    k = rng.choice((0, 2, 4, 5))  # the key column on the left, or turned to the right, top or bottom border
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        shapes = [shape(r, r.randint(1, 3), r.randint(1, 3)) for _ in range(r.randint(2, 6))]
        offsets = place(r, h, w - 2, shapes)
        spans = [(y0, y0 + extent(cells)[0] - 1) for cells, (y0, _) in zip(shapes, offsets)]
        rows = r.sample(range(h), r.randint(1, max(1, min(5, h // 3))))
        inp, out = blank(h, w), blank(h, w)
        key_of = {y: r.choice(keys) for y in rows}
        for y, c in key_of.items():
            inp[y][0] = out[y][0] = c
        kinds = set()
        for cells, (y0, x0), (top, bottom) in zip(shapes, offsets, spans):
            level = [y for y in rows if top <= y <= bottom]
            if len(level) > 1:
                raise Retry("an object is level with two keys")
            kinds.add(bool(level))
            paint(inp, cells, base, (y0, x0 + 2))
            paint(out, cells, key_of[level[0]] if level else base, (y0, x0 + 2))
        if True not in kinds:
            raise Retry("no object is level with a key")
        return turn(k, inp), turn(k, out)
    return pair


def stamp_at_markers(rng: random.Random) -> PairFn:
    """One template object (odd-sided, its centre cell filled) and lone marker pixels: a copy of the template
    in the marker's colour is centred on every marker; the template itself stays (or, for some tasks, goes)."""
    template_colour = rng.choice(COLOURS)
    markers = colours(rng, rng.randint(1, 3), exclude=(0, template_colour))
    keep = rng.random() < 0.5
    lo, hi = side_range(rng, 10, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        th, tw = r.choice((3, 3, 5)), r.choice((3, 3, 5))
        cells = shape(r, th, tw, r.randint(max(3, th * tw // 3), th * tw - 1))
        if extent(cells) != (th, tw) or (th // 2, tw // 2) not in cells:
            raise Retry("template not centred")
        boxes = [rect(th, tw)] * r.randint(2, 4)
        offsets = place(r, h, w, boxes)
        inp, out = blank(h, w), blank(h, w)
        paint(inp, cells, template_colour, offsets[0])
        if keep:
            paint(out, cells, template_colour, offsets[0])
        for y0, x0 in offsets[1:]:
            m = r.choice(markers)
            inp[y0 + th // 2][x0 + tw // 2] = m
            paint(out, cells, m, (y0, x0))
        return freeze(inp), freeze(out)
    return pair


def extend_from_tip(rng: random.Random) -> PairFn:
    """Short bars of one colour carry a tip pixel of another at one end; each bar grows from its tip, in the
    tip's colour, straight on to the border."""
    stem, tip = colours(rng, 2)
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp = blank(h, w)
        near: set[Cell] = set()  # bar cells and their 8-neighbourhoods
        ray_cells: set[Cell] = set()
        for _ in range(r.randint(1, 4)):
            for _attempt in range(40):
                dy, dx = r.choice(STEPS4)
                length = r.randint(1, 3)
                y, x = r.randrange(h), r.randrange(w)
                bar = [(y + dy * n, x + dx * n) for n in range(length + 1)]  # the last cell is the tip
                ty, tx = bar[-1]
                ray = []
                ry, rx = ty + dy, tx + dx
                while 0 <= ry < h and 0 <= rx < w:
                    ray.append((ry, rx))
                    ry, rx = ry + dy, rx + dx
                inside = all(0 <= by < h and 0 <= bx < w for by, bx in bar)
                if inside and ray and not (set(bar) & (near | ray_cells)) and not (set(ray) & near):
                    break
            else:
                raise Retry("no room for a bar")
            paint(inp, bar[:-1], stem)
            paint(inp, [bar[-1]], tip)
            near.update((by + a, bx + b) for by, bx in bar for a in (-1, 0, 1) for b in (-1, 0, 1))
            ray_cells.update(ray)
        out = [row[:] for row in inp]
        paint(out, ray_cells, tip)
        return freeze(inp), freeze(out)
    return pair


def cue_transform(rng: random.Random) -> PairFn:
    """The top row is a cue bar of one colour; the output is the picture below it turned by the transform that
    the cue's colour stands for (two cues, two different rotations or flips, fixed per task)."""
    cues = colours(rng, 2)
    turns = dict(zip(cues, rng.sample(range(1, 8), 2)))
    palette = colours(rng, rng.randint(2, 3), exclude=[0, *cues])
    next_cue = _cycle(rng, cues)
    lo, hi = side_range(rng, 3, 14)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        cue = next_cue()
        picture = freeze(noise(r, h, w, palette, r.uniform(0.4, 0.8)))
        views = {turn(k, picture) for k in range(8)}
        if len(views) < 8:
            raise Retry("picture has a symmetry, so its transform is ambiguous")
        return freeze([[cue] * w, *picture]), turn(turns[cue], picture)
    return pair


def upscale_by_colours(rng: random.Random) -> PairFn:
    """Every cell becomes an n x n block, where n is the number of different colours in the input (background
    not counted)."""
    counts = _cycle(rng, [2, 3, 4] if rng.random() < 0.5 else [2, 3])

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        n = counts()
        h, w = dims(r, 2, min(7, 30 // n))
        palette = colours(r, n)
        grid = noise(r, h, w, palette, r.uniform(0.5, 0.9))
        if {v for row in grid for v in row} - {0} != set(palette):
            raise Retry("not every colour drawn")
        return freeze(grid), freeze([[v for v in row for _ in range(n)] for row in grid for _ in range(n)])
    return pair


def take_colour_of_extreme(rng: random.Random) -> PairFn:
    """The largest object takes the colour of the smallest (or, for some tasks, the smallest takes the
    largest's); all else stays."""
    giver_is_small = rng.random() < 0.5
    palette = colours(rng, rng.randint(3, 5))
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        sizes = r.sample(range(1, 13), r.randint(3, 5))
        inp, objects = scene(r, h, w, [shape(r, min(n, 4), min(n, 4), n) for n in sizes], palette)
        small = min(objects, key=lambda o: len(o[0]))
        large = max(objects, key=lambda o: len(o[0]))
        if small[1] == large[1]:
            raise Retry("smallest and largest share a colour")
        out = [row[:] for row in inp]
        if giver_is_small:
            paint(out, large[0], small[1])
        else:
            paint(out, small[0], large[1])
        return freeze(inp), freeze(out)
    return pair


def crop_marked(rng: random.Random) -> PairFn:
    """One of several objects holds a single marker pixel; the output is that object cut out to its bounding
    box, the marker cell taking the object's colour."""
    marker = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, marker))
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        shapes = [shape(r, r.randint(2, 4), r.randint(2, 4)) for _ in range(r.randint(2, 5))]
        if any(len(cells) < 3 for cells in shapes):
            raise Retry("object too small to mark")
        inp = blank(h, w)
        offsets = place(r, h, w, shapes)
        for cells, at in zip(shapes, offsets):
            paint(inp, cells, r.choice(palette), at)
        cells, (y0, x0) = shapes[0], offsets[0]
        absolute = [(y0 + y, x0 + x) for y, x in cells]
        colour = inp[absolute[0][0]][absolute[0][1]]
        alone = blank(h, w)
        paint(alone, absolute, colour)
        top, left, bottom, right = bbox(absolute)
        my, mx = r.choice(absolute)
        inp[my][mx] = marker
        return freeze(inp), freeze([row[left:right + 1] for row in alone[top:bottom + 1]])
    return pair


def turn_and_recolour(rng: random.Random) -> PairFn:
    """The grid is rotated or flipped by a fixed transform and recoloured through a fixed colour map."""
    k = rng.randint(1, 7)
    sources = colours(rng, rng.randint(1, 2))
    targets = colours(rng, len(sources), exclude=[0, *sources])
    mapping = dict(zip(sources, targets))
    others = colours(rng, rng.randint(1, 2), exclude=[0, *sources, *targets])
    lo, hi = side_range(rng, 3, 20)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        grid = noise(r, h, w, sources + others, r.uniform(0.3, 0.8))
        if not set(sources) <= {v for row in grid for v in row}:
            raise Retry("a mapped colour is missing")
        recoloured = [[mapping.get(v, v) for v in row] for row in grid]
        return freeze(grid), turn(k, recoloured)
    return pair


def crop_and_upscale(rng: random.Random) -> PairFn:
    """The output is the bounding box of everything that is not background, blown up f times (f fixed)."""
    f = rng.choice((2, 2, 3))
    palette = colours(rng, rng.randint(1, 4))
    lo, hi = side_range(rng, 6, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        ph, pw = r.randint(2, min(4, h)), r.randint(2, min(4, w))
        patch = noise(r, ph, pw, palette, r.uniform(0.5, 0.9))
        cells = [(y, x) for y in range(ph) for x in range(pw) if patch[y][x]]
        if not cells or bbox(cells) != (0, 0, ph - 1, pw - 1):
            raise Retry("patch does not fill its box")
        y0, x0 = r.randint(0, h - ph), r.randint(0, w - pw)
        inp = blank(h, w)
        for y, x in cells:
            inp[y0 + y][x0 + x] = patch[y][x]
        return freeze(inp), freeze([[v for v in row for _ in range(f)] for row in patch for _ in range(f)])
    return pair


def recolour_inside_frame(rng: random.Random) -> PairFn:
    """Hollow rectangular frames and small objects of one colour: objects inside a frame take the frame's
    colour; objects outside every frame keep theirs."""
    base = rng.choice(COLOURS)
    frame_colours = colours(rng, rng.randint(1, 3), exclude=(0, base))
    lo, hi = side_range(rng, 10, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        frames = 1 if h * w < 200 else r.randint(1, 2)
        boxes = [rect(r.randint(5, max(5, min(9, h // 2))), r.randint(5, max(5, min(9, w // 2))))
                 for _ in range(frames)]
        corners = place(r, h, w, boxes)
        inp, out = blank(h, w), blank(h, w)
        for box, (y0, x0) in zip(boxes, corners):
            fh, fw = extent(box)
            c = r.choice(frame_colours)
            ring = outline(fh, fw)
            paint(inp, ring, c, (y0, x0))
            paint(out, ring, c, (y0, x0))
            inner = [shape(r, r.randint(1, min(2, fh - 4)), r.randint(1, min(2, fw - 4)))
                     for _ in range(r.randint(1, 2) if min(fh, fw) >= 7 else 1)]
            for cells, (iy, ix) in zip(inner, place(r, fh - 4, fw - 4, inner)):  # a free cell from the ring
                paint(inp, cells, base, (y0 + 2 + iy, x0 + 2 + ix))
                paint(out, cells, c, (y0 + 2 + iy, x0 + 2 + ix))
        taken = {(y0 + y, x0 + x) for box, (y0, x0) in zip(boxes, corners) for y, x in box}
        outer = [shape(r, r.randint(1, 3), r.randint(1, 3)) for _ in range(r.randint(1, 3))]
        for cells, at in zip(outer, place(r, h, w, outer, taken=taken)):
            paint(inp, cells, base, at)
            paint(out, cells, base, at)
        return freeze(inp), freeze(out)
    return pair


def count_by_colour(rng: random.Random) -> PairFn:
    """Objects of several colours; the output has one row per colour, a bar of as many cells as that colour
    has objects, the rows ordered from most objects to fewest (or fewest to most) and padded with background."""
    descending = rng.random() < 0.5
    palette = colours(rng, rng.randint(3, 5))
    lo, hi = side_range(rng, 8, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        used = r.sample(palette, r.randint(2, min(4, len(palette))))
        counts = dict(zip(used, r.sample(range(1, 7), len(used))))  # distinct counts: no ties in the order
        shapes, owners = [], []
        for c, n in counts.items():
            for _ in range(n):
                shapes.append(shape(r, r.randint(1, 2), r.randint(1, 3)))
                owners.append(c)
        inp = blank(h, w)
        for cells, at, c in zip(shapes, place(r, h, w, shapes), owners):
            paint(inp, cells, c, at)
        order = sorted(used, key=lambda c: counts[c], reverse=descending)
        width = max(counts.values())
        return freeze(inp), freeze([[c] * counts[c] + [0] * (width - counts[c]) for c in order])
    return pair


FAMILIES = {
    "move_until_touch": move_until_touch,
    "recolour_touching": recolour_touching,
    "recolour_by_key": recolour_by_key,
    "stamp_at_markers": stamp_at_markers,
    "extend_from_tip": extend_from_tip,
    "cue_transform": cue_transform,
    "upscale_by_colours": upscale_by_colours,
    "take_colour_of_extreme": take_colour_of_extreme,
    "crop_marked": crop_marked,
    "turn_and_recolour": turn_and_recolour,
    "crop_and_upscale": crop_and_upscale,
    "recolour_inside_frame": recolour_inside_frame,
    "count_by_colour": count_by_colour,
}
