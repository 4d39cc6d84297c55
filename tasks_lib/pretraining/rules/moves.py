"""Rules that move, copy or frame objects: quadrant overlays, folds, framed cells, counted squares, banded
frames, aligned blocks, templates stamped on look-alikes, rays from corners, lines to a divider, cells pulled
to a block, halos, rays through a gap, deflected lines, pieces gathered around their centres.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, ell, outline, paint, place, rect, scatter, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, flip_lr, pick, random_grid, require,
                                  sub, thaw)

RULES = Registry()


def _overlay_quadrants(order: tuple[int, ...]):
    """The four quadrants laid over each other; where several are coloured, the earliest colour in `order` wins."""
    def solve(g: Grid) -> Grid:
        h, w = len(g) // 2, len(g[0]) // 2
        quads = [sub(g, r, c, h, w) for r in (0, h) for c in (0, w)]
        rank = {v: i for i, v in enumerate(order)}
        return tuple(tuple(min((q[r][c] for q in quads), key=lambda v: rank.get(v, len(order))) for c in range(w))
                     for r in range(h))
    return solve


def _four_quadrants(colours: tuple[int, ...]):
    def sample(rng: random.Random):
        quads = [random_grid(rng, 4, 4, [colour], rng.uniform(0.35, 0.6)) for colour in colours]
        return [quads[0][r] + quads[1][r] for r in range(4)] + [quads[2][r] + quads[3][r] for r in range(4)]
    return sample


RULES.add("75b8110e", _overlay_quadrants((5, 6, 9, 4, 0)), _four_quadrants((4, 5, 6, 9)))


def _fold(g: Grid) -> Grid:
    """e3497940: the right side of the column of 5 folds over onto the left side."""
    left = [row[:4] for row in g]
    right = flip_lr([row[5:] for row in g])
    return tuple(tuple(a or b for a, b in zip(ra, rb)) for ra, rb in zip(left, right))


def _arms(rng: random.Random):
    g = blank(10, 9)
    for row in g:
        row[4] = 5
    colour = rng.randint(1, 9)
    require(colour != 5, "5 is the spine")
    for r in rng.sample(range(1, 9), rng.randint(3, 5)):
        side = rng.choice((-1, 1))
        for k in range(1, rng.randint(1, 3) + 1):
            g[r][4 + side * k] = colour
    return g


RULES.add("e3497940", _fold, _arms)


def _framed_centre(g: Grid) -> Grid:
    """d9fac9be: the colour of the cell that sits inside a 3x3 ring of the other colour."""
    for r in range(len(g) - 2):
        for c in range(len(g[0]) - 2):
            ring = {g[r + y][c + x] for y in range(3) for x in range(3) if (y, x) != (1, 1)}
            if len(ring) == 1 and 0 not in ring and g[r + 1][c + 1] not in ring | {0}:
                return ((g[r + 1][c + 1],),)
    raise ValueError("no framed cell")


def _ring_and_noise(rng: random.Random):
    h, w = rng.randint(5, 10), rng.randint(5, 10)
    a, b = pick(rng, 2)
    g = blank(h, w)
    ring = rect(3, 3)
    dots = [[(0, 0)]] * rng.randint(2, 6)
    spots = place(rng, h, w, [ring] + dots, gap=1)
    paint(g, ring, a, spots[0])
    g[spots[0][0] + 1][spots[0][1] + 1] = b
    for r, c in spots[1:]:
        g[r][c] = rng.choice((a, b))
    return g


RULES.add("d9fac9be", _framed_centre, _ring_and_noise)

_SQUARE_SLOTS = [(0, 0), (0, 2), (1, 1), (2, 0), (2, 2)]


def _count_blocks(g: Grid) -> Grid:
    """ff28f65a: one 1 per 2x2 square of 2, placed on a 3x3 in the order of a five on a die."""
    n = len(components(g, diagonal=False))  # squares may touch at a corner
    return tuple(tuple(1 if (r, c) in _SQUARE_SLOTS[:n] else 0 for c in range(3)) for r in range(3))


def _squares(rng: random.Random):
    s = rng.randint(3, 7)
    g = blank(s, s)
    for at in place(rng, s, s, [rect(2, 2)] * rng.randint(1, 5), gap=1):
        paint(g, rect(2, 2), 2, at)
    return g


RULES.add("ff28f65a", _count_blocks, _squares)


def _banded_frames(g: Grid) -> Grid:
    """1bfc4729: each of the two cells frames its half of the grid and draws its own row across."""
    h, w = len(g), len(g[0])
    (ra, ca), (rb, cb) = cells_of(g)
    out = blank(h, w)
    for r in range(h):
        colour = g[ra][ca] if r < h // 2 else g[rb][cb]
        full = r in (0, h - 1, ra, rb)
        out[r] = [colour] * w if full else [colour] + [0] * (w - 2) + [colour]
    return out


def _two_cells(rng: random.Random):
    g = blank(10, 10)
    a, b = pick(rng, 2)
    g[2][rng.randrange(10)] = a
    g[7][rng.randrange(10)] = b
    return g


RULES.add("1bfc4729", _banded_frames, _two_cells)


def _align_to_one(g: Grid) -> Grid:
    """1caeab9d: every block moves up or down to the rows of the block of 1."""
    top_one = cells_of(g, 1)[0][0]
    out = blank(len(g), len(g[0]))
    for cells in components(g):
        shift = top_one - cells[0][0]
        for r, c in cells:
            out[r + shift][c] = g[r][c]
    return out


def _three_blocks(rng: random.Random):
    h, w = rng.randint(5, 10), 10
    bh, bw = rng.randint(1, 2), rng.randint(2, 3)
    g = blank(h, w)
    slots = range(0, w - bw + 1, bw + 1)
    require(len(slots) >= 3, "no room")
    cols = sorted(rng.sample(slots, 3))
    for c, colour in zip(cols, rng.sample((1, 2, 4), 3)):
        r = rng.randint(0, h - bh)
        paint(g, rect(bh, bw), colour, (r, c))
    return g


RULES.add("1caeab9d", _align_to_one, _three_blocks)


def _stamp_template(keep: bool, blank_colour: int):
    """Every shape of `blank_colour` takes the pattern of the one many-coloured template of the same outline;
    the template stays when `keep`, else it goes."""
    def solve(g: Grid) -> Grid:
        mask = [[1 if v else 0 for v in row] for row in g]
        shapes = components(mask, diagonal=False)  # shapes may touch at a corner
        template = next(cells for cells in shapes if any(g[r][c] != blank_colour for r, c in cells))
        top, left, _, _ = bbox(template)
        out = thaw(g)
        if not keep:
            paint(out, template, 0)
        for cells in shapes:
            if cells is not template:
                t, l, _, _ = bbox(cells)
                for r, c in template:
                    out[t + r - top][l + c - left] = g[r][c]
        return out
    return solve


def _template_and_copies(blank_colour: int, pool: tuple[int, ...]):
    def sample(rng: random.Random):
        g = blank(10, 10)
        cells = shape(rng, rng.randint(2, 3), rng.randint(2, 3))
        require(len(cells) >= 3, "too small")
        colours = pick(rng, 2, pool)
        pattern = {cell: rng.choice(colours) for cell in cells}
        require(len(set(pattern.values())) == 2, "one colour")
        n = rng.randint(2, 4)
        for k, at in enumerate(place(rng, 10, 10, [cells] * n, gap=1)):
            for (r, c) in cells:
                g[at[0] + r][at[1] + c] = pattern[(r, c)] if k == 0 else blank_colour
        return g
    return sample


RULES.add("321b1fc6", _stamp_template(False, 8), _template_and_copies(8, (4, 6, 7, 9)))
RULES.add("e76a88a6", _stamp_template(True, 5), _template_and_copies(5, (2, 4, 6, 8)))


def _ring_to_plus(g: Grid) -> Grid:
    """6c434453: every hollow 3x3 square of 1 becomes a plus of 2."""
    out = thaw(g)
    for cells in components(g, diagonal=False):  # shapes may touch at a corner
        top, left, bottom, right = bbox(cells)
        if bottom - top == 2 and right - left == 2 and len(cells) == 8 and g[top + 1][left + 1] == 0:
            paint(out, cells, 0)
            paint(out, [(0, 1), (1, 0), (1, 1), (1, 2), (2, 1)], 2, (top, left))
    return out


def _rings_and_bits(rng: random.Random):
    ring = [(r, c) for r in range(3) for c in range(3) if (r, c) != (1, 1)]
    shapes = [ring] * rng.randint(1, 3) + [shape(rng, 3, 3, rng.randint(2, 5)) for _ in range(rng.randint(1, 3))]
    return scatter(rng, 10, 10, shapes, 1)


RULES.add("6c434453", _ring_to_plus, _rings_and_bits)


def _corner_rays(g: Grid) -> Grid:
    """6e19193c: each L of three cells shoots a diagonal ray from its open corner, away from the L."""
    out = thaw(g)
    for cells in components(g):
        top, left, _, _ = bbox(cells)
        box = [(top + y, left + x) for y in (0, 1) for x in (0, 1)]
        (mr, mc), = [p for p in box if p not in cells]
        dr, dc = (mr - top) * 2 - 1, (mc - left) * 2 - 1
        r, c = mr + dr, mc + dc
        while 0 <= r < len(g) and 0 <= c < len(g[0]):
            out[r][c] = g[cells[0][0]][cells[0][1]]
            r, c = r + dr, c + dc
    return out


def _ells(rng: random.Random):
    colour = rng.randint(1, 9)
    return scatter(rng, 10, 10, [ell(rng) for _ in range(rng.randint(1, 3))], colour, gap=2)


RULES.add("6e19193c", _corner_rays, _ells)


def _to_divider(g: Grid) -> Grid:
    """8d510a79: across a line of 5, each 2 grows to the line and each 1 grows away from it to the edge."""
    line = next(r for r, row in enumerate(g) if all(v == 5 for v in row))
    out = thaw(g)
    for r, c in cells_of(g):
        colour = g[r][c]
        if colour == 5:
            continue
        toward = 1 if r < line else -1
        step = toward if colour == 2 else -toward
        y = r + step
        while 0 <= y < len(g) and y != line:
            out[y][c] = colour
            y += step
    return out


def _divided(rng: random.Random):
    g = blank(10, 10)
    line = rng.randint(3, 6)
    g[line] = [5] * 10
    for c in rng.sample(range(10), rng.randint(3, 6)):
        r = rng.choice([r for r in range(10) if abs(r - line) > 1])
        g[r][c] = rng.choice((1, 2))
    return g


RULES.add("8d510a79", _to_divider, _divided)


def _pulled_in(g: Grid) -> Grid:
    """a48eeaf7: each 5 slides straight or diagonally to touch the 2x2 block of 2."""
    top, left, bottom, right = bbox(cells_of(g, 2))
    out = [[v if v != 5 else 0 for v in row] for row in g]
    for r, c in cells_of(g, 5):
        out[min(max(r, top - 1), bottom + 1)][min(max(c, left - 1), right + 1)] = 5
    return out


def _block_and_satellites(rng: random.Random):
    g = blank(10, 10)
    top, left = rng.randint(2, 6), rng.randint(2, 6)
    paint(g, rect(2, 2), 2, (top, left))
    rays = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc]
    for dr, dc in rng.sample(rays, rng.randint(2, 4)):
        r = (top if dr < 0 else top + 1) if dr else rng.choice((top, top + 1))
        c = (left if dc < 0 else left + 1) if dc else rng.choice((left, left + 1))
        reach = [k for k in range(2, 10) if 0 <= r + dr * k < 10 and 0 <= c + dc * k < 10]
        if reach:
            k = rng.choice(reach)
            g[r + dr * k][c + dc * k] = 5
    require(len(cells_of(g, 5)) >= 2, "too few satellites")
    return g


RULES.add("a48eeaf7", _pulled_in, _block_and_satellites)


def _paint_rects(corner: int | None, edge: int | None, inside: int):
    """Solid rectangles of 5: corners, edges and inside recoloured (None keeps 5)."""
    def solve(g: Grid) -> Grid:
        out = thaw(g)
        for cells in components(g, diagonal=False):
            top, left, bottom, right = bbox(cells)
            for r, c in cells:
                on_r, on_c = r in (top, bottom), c in (left, right)
                colour = corner if on_r and on_c else edge if on_r or on_c else inside
                if colour is not None:
                    out[r][c] = colour
        return out
    return solve


def _rects_of_five(rng: random.Random):
    shapes = [rect(rng.randint(3, 6), rng.randint(3, 6)) for _ in range(rng.randint(1, 3))]
    return scatter(rng, 10, 10, shapes, 5)


RULES.add("b6afb2da", _paint_rects(1, 4, 2), _rects_of_five)
RULES.add("bb43febb", _paint_rects(None, None, 2), _rects_of_five)


def _compass(g: Grid) -> Grid:
    """d364b489: each 1 gets 2 above, 7 left, 6 right and 8 below."""
    out = thaw(g)
    for r, c in cells_of(g, 1):
        for (dr, dc), colour in (((-1, 0), 2), ((0, -1), 7), ((0, 1), 6), ((1, 0), 8)):
            if 0 <= r + dr < len(g) and 0 <= c + dc < len(g[0]):
                out[r + dr][c + dc] = colour
    return out


def _spaced_ones(rng: random.Random):
    g = blank(10, 10)
    for r, c in place(rng, 10, 10, [[(0, 0)]] * rng.randint(2, 6), gap=2):
        g[r][c] = 1
    return g


RULES.add("d364b489", _compass, _spaced_ones)


def _leak(g: Grid) -> Grid:
    """d4f3cd78: the box of 5 fills with 8, which leaks through the gap in its wall out to the edge."""
    top, left, bottom, right = bbox(cells_of(g, 5))
    out = thaw(g)
    for r in range(top + 1, bottom):
        for c in range(left + 1, right):
            out[r][c] = 8
    wall = [(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1)
            if (r in (top, bottom) or c in (left, right)) and g[r][c] == 0]
    (r, c), = wall
    dr = -1 if r == top else 1 if r == bottom else 0
    dc = -1 if c == left else 1 if c == right else 0
    while 0 <= r < len(g) and 0 <= c < len(g[0]):
        out[r][c] = 8
        r, c = r + dr, c + dc
    return out


def _box_with_gap(rng: random.Random):
    g = blank(10, 10)
    bh, bw = rng.randint(4, 7), rng.randint(4, 7)
    top, left = rng.randint(1, 9 - bh), rng.randint(1, 9 - bw)
    wall = outline(bh, bw)
    gap = rng.choice([(r, c) for r, c in wall if (r in (0, bh - 1)) != (c in (0, bw - 1))])
    paint(g, [p for p in wall if p != gap], 5, (top, left))
    return g


RULES.add("d4f3cd78", _leak, _box_with_gap)


def _deflected(g: Grid) -> Grid:
    """d9f24cd1: each 2 on the bottom row climbs its column; a 5 in the way shifts it one column right."""
    out = thaw(g)
    h = len(g)
    for c0 in [c for c in range(len(g[0])) if g[h - 1][c] == 2]:
        c = c0
        for r in range(h - 1, -1, -1):
            out[r][c] = 2
            if r > 0 and g[r - 1][c] == 5:
                c += 1
                out[r][c] = 2
    return out


def _climbers(rng: random.Random):
    g = blank(10, 10)
    cols = sorted(rng.sample(range(1, 8, 3), rng.randint(2, 3)))
    for c in cols:
        g[9][c] = 2
    for c in rng.sample(cols, rng.randint(1, len(cols))):
        g[rng.randint(1, 7)][c] = 5
    return g


RULES.add("d9f24cd1", _deflected, _climbers)


def _gather(g: Grid) -> Grid:
    """137eaa0f: each piece hangs around a 5; all pieces gathered on one 5 make a 3x3."""
    out = blank(3, 3)
    for r, c in cells_of(g, 5):
        for y in range(3):
            for x in range(3):
                v = g[r - 1 + y][c - 1 + x] if 0 <= r - 1 + y < len(g) and 0 <= c - 1 + x < len(g[0]) else 0
                if v:
                    out[y][x] = v
    return out


def _scattered_pieces(rng: random.Random):
    g = blank(11, 11)
    slots = [(y, x) for y in range(3) for x in range(3) if (y, x) != (1, 1)]
    rng.shuffle(slots)
    k = rng.randint(2, 3)
    parts = [slots[i::k] for i in range(k)]
    colours = pick(rng, k, (1, 2, 3, 4, 6, 7, 8, 9))
    for (r, c), part, colour in zip(place(rng, 11, 11, [rect(3, 3)] * k, gap=0), parts, colours):
        g[r + 1][c + 1] = 5
        for y, x in rng.sample(part, max(1, len(part) - rng.randint(0, 1))):
            g[r + y][c + x] = colour
    return g


RULES.add("137eaa0f", _gather, _scattered_pieces)
