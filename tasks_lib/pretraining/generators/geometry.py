"""Families that transform the whole grid: symmetries, colours, scale, tiling, cropping, shifting, patterns.

Contract: each family takes the task's rng, draws the task's hidden rule once and returns a pair drawer
(`grid.PairFn`) that applies that rule to fresh random inputs. Outputs are computed from inputs by the
rule; a draw that cannot be made raises `grid.Retry`.
"""

from __future__ import annotations

import random

from tasks_lib.arc.data import Grid
from tasks_lib.pretraining.generators.grid import (COLOURS, PairFn, Retry, bbox, blank, colours, crop, dims, freeze, noise,
                                       paint, shape, side_range, tiled, turn)


def _picture(rng: random.Random, h: int, w: int, palette: list[int], bg: int = 0) -> Grid:
    """A random input: sparse or dense noise in the palette over the background."""
    return freeze(noise(rng, h, w, palette, rng.uniform(0.2, 0.8), bg))


def dihedral(rng: random.Random) -> PairFn:
    """Rotate or flip the whole grid by one of the 7 non-identity dihedral transforms."""
    k = rng.randint(1, 7)
    lo, hi = side_range(rng, 2, 30)
    palette = colours(rng, rng.randint(1, 4))

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        g = _picture(r, *dims(r, lo, hi), palette)
        return g, turn(k, g)
    return pair


def colour_map(rng: random.Random) -> PairFn:
    """Recolour every cell through a fixed map of 2-4 colours (the other colours stay)."""
    n = rng.randint(2, 4)
    src = colours(rng, n, exclude=())
    dst = list(src)
    while any(a == b for a, b in zip(src, dst)) and n > 1:
        dst = colours(rng, n, exclude=())
    mapping = dict(zip(src, dst))
    extra = colours(rng, rng.randint(0, 2), exclude=set(src) | set(dst))
    lo, hi = side_range(rng, 3, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        palette = src + extra
        g = [[r.choice(palette) for _ in range(w)] for _ in range(h)]
        for (y, x), c in zip(r.sample([(y, x) for y in range(h) for x in range(w)], n), src):
            g[y][x] = c  # every pair shows every mapped colour, so the test needs nothing unseen
        return freeze(g), tuple(tuple(mapping.get(v, v) for v in row) for row in g)
    return pair


def upscale(rng: random.Random) -> PairFn:
    """Blow every cell up into a ky x kx block."""
    ky, kx = rng.choice(((2, 2), (3, 3), (2, 2), (4, 4), (1, 2), (2, 1), (3, 2)))
    palette = colours(rng, rng.randint(1, 4))
    top = min(10, 30 // max(ky, kx))

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        g = _picture(r, *dims(r, 2, top), palette)
        return g, tuple(tuple(v for v in row for _ in range(kx)) for row in g for _ in range(ky))
    return pair


def downscale(rng: random.Random) -> PairFn:
    """The input is made of k x k blocks of one colour; the output has one cell per block."""
    k = rng.randint(2, 4)
    palette = colours(rng, rng.randint(1, 4))
    top = min(8, 30 // k)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        small = _picture(r, *dims(r, 2, top), palette)
        return tuple(tuple(v for v in row for _ in range(k)) for row in small for _ in range(k)), small
    return pair


def tile(rng: random.Random) -> PairFn:
    """Repeat the input ny x nx times; with mirroring, every other tile is flipped."""
    ny, nx = rng.choice(((1, 2), (2, 1), (2, 2), (3, 3), (1, 3), (3, 1), (2, 3)))
    mirrored = rng.random() < 0.5
    palette = colours(rng, rng.randint(1, 3))
    top_h, top_w = min(6, 30 // ny), min(6, 30 // nx)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        g = _picture(r, r.randint(2, top_h), r.randint(2, top_w), palette)
        rows = []
        for ty in range(ny):
            src = tuple(reversed(g)) if mirrored and ty % 2 else g
            for row in src:
                out_row: list[int] = []
                for tx in range(nx):
                    out_row += reversed(row) if mirrored and tx % 2 else row
                rows.append(tuple(out_row))
        return g, tuple(rows)
    return pair


def mirror_concat(rng: random.Random) -> PairFn:
    """Put the grid next to its mirror image: to the right, below, or in all four quadrants."""
    mode = rng.choice(("right", "below", "left", "above", "quad"))
    palette = colours(rng, rng.randint(1, 4))

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        g = _picture(r, *dims(r, 2, 8), palette)
        flip_lr = tuple(tuple(reversed(row)) for row in g)
        flip_ud = tuple(reversed(g))
        if mode == "right":
            out = tuple(a + b for a, b in zip(g, flip_lr))
        elif mode == "left":
            out = tuple(b + a for a, b in zip(g, flip_lr))
        elif mode == "below":
            out = g + flip_ud
        elif mode == "above":
            out = flip_ud + g
        else:
            top = tuple(a + b for a, b in zip(g, flip_lr))
            out = top + tuple(reversed(top))
        return g, out
    return pair


def crop_content(rng: random.Random) -> PairFn:
    """Cut out the bounding box of everything that is not background."""
    palette = colours(rng, rng.randint(1, 4))
    lo, hi = side_range(rng, 6, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        ph, pw = r.randint(1, max(1, h - 2)), r.randint(1, max(1, w - 2))
        canvas = blank(h, w)
        top, left = r.randint(0, h - ph), r.randint(0, w - pw)
        for y in range(ph):
            for x in range(pw):
                if r.random() < 0.6:
                    canvas[top + y][left + x] = r.choice(palette)
        cells = [(y, x) for y in range(h) for x in range(w) if canvas[y][x]]
        if not cells:
            raise Retry("empty picture")
        return freeze(canvas), crop(canvas, bbox(cells))
    return pair


def translate(rng: random.Random) -> PairFn:
    """Move everything by a fixed offset (the picture is drawn so that it stays inside the grid)."""
    dy, dx = 0, 0
    while dy == dx == 0:
        dy, dx = rng.randint(-3, 3), rng.randint(-3, 3)
    palette = colours(rng, rng.randint(1, 3))
    lo, hi = side_range(rng, max(4, abs(dy) + 3, abs(dx) + 3), 20)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp, out = blank(h, w), blank(h, w)
        y_range = range(max(0, -dy), min(h, h - dy))
        x_range = range(max(0, -dx), min(w, w - dx))
        for _ in range(r.randint(1, 4)):
            cells = shape(r, r.randint(1, 3), r.randint(1, 3))
            y0, x0 = r.choice(y_range), r.choice(x_range)
            c = r.choice(palette)
            for y, x in cells:
                if y0 + y in y_range and x0 + x in x_range:
                    inp[y0 + y][x0 + x] = c
        for y in y_range:
            for x in x_range:
                out[y + dy][x + dx] = inp[y][x]
        return freeze(inp), freeze(out)
    return pair


def symmetry_complete(rng: random.Random) -> PairFn:
    """A mirror-symmetric picture has a rectangle painted over with a mask colour; restore it."""
    axes = rng.choice((("lr",), ("ud",), ("lr", "ud")))
    mask = rng.choice(COLOURS + (0,))
    palette = colours(rng, rng.randint(2, 4), exclude=(mask,))

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        hh, hw = dims(r, 2, 7)
        half = noise(r, hh, hw, palette, 1.0)
        rows = [row + row[::-1] for row in half] if "lr" in axes else [list(row) for row in half]
        if "ud" in axes:
            rows = rows + rows[::-1]
        h, w = len(rows), len(rows[0])
        # the mask stays inside one quadrant (or half), so its mirror image shows what it hides
        qh = h // 2 if "ud" in axes else h
        qw = w // 2 if "lr" in axes else w
        mh, mw = r.randint(1, max(1, qh - 1)), r.randint(1, max(1, qw - 1))
        y0, x0 = r.randint(0, qh - mh), r.randint(0, qw - mw)
        if r.random() < 0.5 and "ud" in axes:
            y0 += h - qh
        if r.random() < 0.5 and "lr" in axes:
            x0 += w - qw
        inp = [list(row) for row in rows]
        paint(inp, [(y, x) for y in range(mh) for x in range(mw)], mask, (y0, x0))
        return freeze(inp), freeze(rows)
    return pair


def pattern_extend(rng: random.Random) -> PairFn:
    """A periodic tiling is shown only in part (the rest is background); the output continues it."""
    direction = rng.choice(("right", "down", "both"))
    palette = colours(rng, rng.randint(2, 4))

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        ph, pw = r.randint(1, 4), r.randint(1, 4)
        motif = noise(r, ph, pw, palette, 1.0)
        h, w = r.randint(max(3, 2 * ph), 14), r.randint(max(3, 2 * pw), 14)
        out = tiled(motif, h, w)
        # at least one and a half periods stay visible so the motif can be read off
        keep_h = r.randint(min(h - 1, ph + (ph + 1) // 2), h - 1) if direction != "right" else h
        keep_w = r.randint(min(w - 1, pw + (pw + 1) // 2), w - 1) if direction != "down" else w
        inp = [[out[y][x] if y < keep_h and x < keep_w else 0 for x in range(w)] for y in range(h)]
        return freeze(inp), freeze(out)
    return pair


def draw_border(rng: random.Random) -> PairFn:
    """Paint the outermost ring of cells in a fixed colour."""
    c = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, c))
    lo, hi = side_range(rng, 3, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        g = noise(r, h, w, palette, r.uniform(0.0, 0.5))
        out = [row[:] for row in g]
        for y in range(h):
            for x in range(w):
                if y in (0, h - 1) or x in (0, w - 1):
                    out[y][x] = c
        return freeze(g), freeze(out)
    return pair


def swap_two_colours(rng: random.Random) -> PairFn:
    """The grid has exactly two colours; swap them (the pair's colours change from pair to pair)."""
    lo, hi = side_range(rng, 3, 24)
    fixed = colours(rng, 2, exclude=()) if rng.random() < 0.5 else None

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        a, b = fixed or colours(r, 2, exclude=())
        h, w = dims(r, lo, hi)
        g = noise(r, h, w, [b], r.uniform(0.2, 0.6), a)
        if len({v for row in g for v in row}) < 2:
            raise Retry("one colour only")
        return freeze(g), tuple(tuple(b if v == a else a for v in row) for row in g)
    return pair


def select_part(rng: random.Random) -> PairFn:
    """The output is one fixed half or quadrant of the input (sides are even)."""
    part = rng.choice(("top", "bottom", "left", "right", "top_left", "bottom_right"))
    palette = colours(rng, rng.randint(1, 4))

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        hh, hw = dims(r, 1, 8)
        g = _picture(r, 2 * hh, 2 * hw, palette)
        rows = {"top": g[:hh], "bottom": g[hh:]}.get(part.split("_")[0], g)
        if part in ("left", "top_left"):
            rows = tuple(row[:hw] for row in rows)
        elif part in ("right", "bottom_right"):
            rows = tuple(row[hw:] for row in rows)
        return g, rows
    return pair


FAMILIES = {
    "dihedral": dihedral,
    "colour_map": colour_map,
    "upscale": upscale,
    "downscale": downscale,
    "tile": tile,
    "mirror_concat": mirror_concat,
    "crop_content": crop_content,
    "translate": translate,
    "symmetry_complete": symmetry_complete,
    "pattern_extend": pattern_extend,
    "draw_border": draw_border,
    "swap_two_colours": swap_two_colours,
    "select_part": select_part,
}
