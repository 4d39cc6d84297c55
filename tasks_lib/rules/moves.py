"""Rules that move, copy or frame objects: quadrant overlays, folds, framed cells, counted squares, banded
frames, aligned blocks, templates stamped on look-alikes, rays from corners, lines to a divider, cells pulled
to a block, halos, rays through a gap, deflected lines, pieces gathered around their centres.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.generators.grid import bbox, paint, place, rect, shape
from tasks_lib.rules.base import (Grid, Registry, blank, cells_of, components, flip_lr, pick, random_grid, require,
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
    g = blank(10, 10)
    ring = [(r, c) for r in range(3) for c in range(3) if (r, c) != (1, 1)]
    shapes = [ring] * rng.randint(1, 3) + [shape(rng, 3, 3, rng.randint(2, 5)) for _ in range(rng.randint(1, 3))]
    for cells, at in zip(shapes, place(rng, 10, 10, shapes, gap=1)):
        paint(g, cells, 1, at)
    return g


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
    g = blank(10, 10)
    colour = rng.randint(1, 9)
    shapes = []
    for _ in range(rng.randint(1, 3)):
        cells = rect(2, 2)
        cells.remove(rng.choice(cells))
        shapes.append(cells)
    for cells, at in zip(shapes, place(rng, 10, 10, shapes, gap=2)):
        paint(g, cells, colour, at)
    return g


RULES.add("6e19193c", _corner_rays, _ells)
