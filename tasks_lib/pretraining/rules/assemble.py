"""Rules that repeat, reflect or assemble parts: patterns continued to the right, bar halves, alternating rays,
frames with a diagonal, shapes fitted into a frame, framed crops, templates centred on a mark, fractals of a
block, mirrored strips, boxes moved along a track, band orders, mirrored quarters, overlaid halves, coloured
masks and corners assembled into a square.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, crop, paint, place, rect, scatter, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, counts, flip_lr, flip_ud, hcat, pick,
                                  random_grid, require, sub, thaw, transpose, vcat)

RULES = Registry()


def _continue_right(g: Grid) -> Grid:
    """d8c310e9: the pattern at the bottom left repeats to the right edge with its own period."""
    w = len(g[0])
    cols = transpose(g)
    shown = max(c for c in range(w) if any(cols[c])) + 1
    p = next(p for p in range(1, shown + 1) if all(cols[c] == cols[c % p] for c in range(shown)))
    return transpose([cols[c % p] for c in range(w)])


def _started_pattern(rng: random.Random):
    p, rows = rng.randint(2, 4), rng.randint(2, 3)
    palette = pick(rng, 2)
    unit = [[rng.choice(palette) if rng.random() < 0.7 else 0 for _ in range(p)] for _ in range(rows)]
    unit[-1] = [rng.choice(palette) for _ in range(p)]
    shown = rng.randint(p + 1, min(14, 2 * p + p // 2 + 1))
    g = blank(5, 15)
    for r in range(rows):
        for c in range(shown):
            g[5 - rows + r][c] = unit[r][c % p]
    cols = transpose(g)
    require(next(q for q in range(1, shown + 1) if all(cols[c] == cols[c % q] for c in range(shown))) == p
            and any(cols[shown - 1]), "the period shown is not the period drawn")
    return g


RULES.add("d8c310e9", _continue_right, _started_pattern)


def _bar_halves(g: Grid) -> Grid:
    """ce9e57f2: the lower half (rounded down) of each bar standing on the bottom turns 8."""
    out = thaw(g)
    for c in range(len(g[0])):
        n = sum(row[c] != 0 for row in g)
        for r in range(len(g) - n // 2, len(g)):
            out[r][c] = 8
    return out


def _standing_bars(rng: random.Random):
    h, w = rng.randint(6, 9), rng.choice((7, 9))
    g = blank(h, w)
    for c in range(1, w, 2):
        for r in range(h - rng.randint(2, h - 1), h):
            g[r][c] = 2
    return g


RULES.add("ce9e57f2", _bar_halves, _standing_bars)


def _alternating_rays(g: Grid) -> Grid:
    """97999447: each cell shoots a ray to the right edge, alternating 5 and its own colour."""
    out = thaw(g)
    for r, c in cells_of(g):
        for x in range(c + 1, len(g[0])):
            out[r][x] = 5 if (x - c) % 2 else g[r][c]
    return out


def _row_dots(rng: random.Random):
    h, w = 10, rng.randint(6, 12)
    g = blank(h, w)
    for r in rng.sample(range(h), rng.randint(2, 4)):
        g[r][rng.randrange(w - 2)] = rng.choice((2, 3, 4, 6, 8))
    return g


RULES.add("97999447", _alternating_rays, _row_dots)


def _diagonal_and_floor(g: Grid) -> Grid:
    """3bd67248: beside the coloured left column, a diagonal of 2 runs from the top right down to the left,
    and the bottom row fills with 4."""
    n = len(g)
    out = thaw(g)
    for r in range(n - 1):
        out[r][n - 1 - r] = 2
    out[n - 1][1:] = [4] * (n - 1)
    return out


def _left_column(rng: random.Random):
    n = rng.randint(3, 15)
    colour = rng.choice((1, 3, 5, 6, 7, 8, 9))
    return [[colour] + [0] * (n - 1) for _ in range(n)]


RULES.add("3bd67248", _diagonal_and_floor, _left_column)


def _fit_in_frame(g: Grid) -> Grid:
    """a1570a43: the shape of 2 moves to sit just inside the four corner marks of 3."""
    top, left, _, _ = bbox(cells_of(g, 3))
    shape_cells = cells_of(g, 2)
    st, sl, _, _ = bbox(shape_cells)
    out = [[v if v != 2 else 0 for v in row] for row in g]
    for r, c in shape_cells:
        out[r - st + top + 1][c - sl + left + 1] = 2
    return out


def _shape_and_marks(rng: random.Random):
    n = rng.randint(7, 10)
    k = rng.randint(5, n)
    g = blank(n, n)
    t, l = rng.randint(0, n - k), rng.randint(0, n - k)
    for r, c in ((t, l), (t, l + k - 1), (t + k - 1, l), (t + k - 1, l + k - 1)):
        g[r][c] = 3
    cells = shape(rng, k - 2, k - 2)
    require(max(r for r, _ in cells) == k - 3 and max(c for _, c in cells) == k - 3, "the shape does not fill the frame")
    dy, dx = rng.randint(-1, 1), rng.randint(-1, 1)
    require((dy, dx) != (0, 0), "already in place")
    at = (t + 1 + dy, l + 1 + dx)
    require(all(0 <= at[0] + r < n and 0 <= at[1] + c < n and g[at[0] + r][at[1] + c] == 0 for r, c in cells), "no room")
    paint(g, cells, 2, at)
    return g


RULES.add("a1570a43", _fit_in_frame, _shape_and_marks)


def _crop_posts(g: Grid) -> Grid:
    """3f7978a0: crop the box between the two posts of 5, one row beyond them at each end."""
    top, left, bottom, right = bbox(cells_of(g, 5))
    return crop(g, (top - 1, left, bottom + 1, right))


def _posts(rng: random.Random):
    h, w = rng.randint(9, 12), rng.randint(9, 12)
    g = random_grid(rng, h, w, [8], 0.12)
    length, width = rng.randint(2, 5), rng.randint(3, 7)
    top, left = rng.randint(1, h - length - 1), rng.randint(0, w - width)
    for c in (left, left + width - 1):
        g[top - 1][c] = g[top + length][c] = 8
        for r in range(top, top + length):
            g[r][c] = 5
    return g


RULES.add("3f7978a0", _crop_posts, _posts)


def _centred_template(g: Grid) -> Grid:
    """88a10436: the 3x3 picture is copied centred on the 5, which goes."""
    (r5, c5), = cells_of(g, 5)
    pic = [(r, c) for r, c in cells_of(g) if g[r][c] != 5]
    top, left, _, _ = bbox(pic)
    out = thaw(g)
    out[r5][c5] = 0
    for r, c in pic:
        out[r5 - 1 + r - top][c5 - 1 + c - left] = g[r][c]
    return out


def _picture_and_mark(rng: random.Random):
    h, w = rng.randint(7, 10), rng.randint(7, 10)
    g = blank(h, w)
    pic = [[rng.choice(pick(rng, 3)) if rng.random() < 0.7 else 0 for _ in range(3)] for _ in range(3)]
    require(any(pic[0]) and any(pic[2]) and any(row[0] for row in pic) and any(row[2] for row in pic), "not 3x3")
    require(all(v != 5 for row in pic for v in row), "5 marks")
    a, b = place(rng, h, w, [rect(3, 3)] * 2, gap=1)
    for r in range(3):
        for c in range(3):
            g[a[0] + r][a[1] + c] = pic[r][c]
    g[b[0] + 1][b[1] + 1] = 5
    return g


RULES.add("88a10436", _centred_template, _picture_and_mark)


def _block_fractal(g: Grid) -> Grid:
    """8f2ea7aa: the 3x3 picture in one block of a 9x9 is copied into every block its own cells mark."""
    top, left, _, _ = bbox(cells_of(g))
    p = sub(g, top - top % 3, left - left % 3, 3, 3)
    return tuple(tuple(p[r % 3][c % 3] if p[r // 3][c // 3] else 0 for c in range(9)) for r in range(9))


def _block_picture(rng: random.Random):
    g = blank(9, 9)
    colour = rng.randint(1, 9)
    bi, bj = rng.randrange(3), rng.randrange(3)
    for r in range(3):
        for c in range(3):
            if rng.random() < 0.5:
                g[3 * bi + r][3 * bj + c] = colour
    require(any(any(row) for row in g), "empty")
    return g


RULES.add("8f2ea7aa", _block_fractal, _block_picture)


def _mirror_strip(g: Grid) -> Grid:
    """eb281b96: the strip is reflected downward over its last row, again and again, to 4(h-1)+1 rows."""
    h = len(g)
    period = 2 * (h - 1)
    return tuple(g[r % period if r % period < h else period - r % period] for r in range(4 * (h - 1) + 1))


def _strip(rng: random.Random):
    h, w = rng.randint(2, 4), rng.randint(9, 17)
    colour = rng.randint(1, 9)
    g = random_grid(rng, h, w, [colour], rng.uniform(0.3, 0.5))
    require(g[0] != g[-1] and all(any(row) for row in g), "flat strip")
    return g


RULES.add("eb281b96", _mirror_strip, _strip)


def _band_order(g: Grid) -> Grid:
    """4be741c5: the colour bands in order, as a row when they run left to right, else as a column."""
    def order(line) -> list[int]:
        seen: list[int] = []
        for v in line:
            if v not in seen:
                seen.append(v)
        return seen
    colours = len(counts(g))
    across = order(g[0])
    if len(across) == colours:
        return (tuple(across),)
    return tuple((v,) for v in order(row[0] for row in g))


def _ragged_bands(rng: random.Random):
    k = rng.randint(3, 4)
    colours = pick(rng, k)
    h, w = rng.randint(5, 14), rng.randint(4 * k, 16)
    widths = [4] * k
    for _ in range(w - 4 * k):
        widths[rng.randrange(k)] += 1
    cuts = [sum(widths[:i]) for i in range(1, k)]  # bands at least 4 wide, so a ragged edge never closes one
    g = []
    for _ in range(h):
        row_cuts = [c + rng.randint(-1, 1) for c in cuts]
        g.append([colours[sum(c >= x for x in row_cuts)] for c in range(w)])
    return transpose(g) if rng.random() < 0.5 else g


RULES.add("4be741c5", _band_order, _ragged_bands)


def _mirrored_quarter(g: Grid) -> Grid:
    """47c1f68c: the picture in the top-left quarter, in the colour of the dividing cross, mirrored four ways."""
    m = len(g) // 2
    colour = g[m][0]
    q = tuple(tuple(colour if v else 0 for v in row[:m]) for row in g[:m])
    top = hcat(q, flip_lr(q))
    return vcat(top, flip_ud(top))


def _quarter_and_cross(rng: random.Random):
    m = rng.randint(3, 6)
    n = 2 * m + 1
    pic_colour, line = pick(rng, 2)
    g = blank(n, n)
    for r in range(m):
        for c in range(m):
            if rng.random() < 0.45:
                g[r][c] = pic_colour
    g[m] = [line] * n
    for row in g:
        row[m] = line
    return g


RULES.add("47c1f68c", _mirrored_quarter, _quarter_and_cross)


def _overlay_halves(g: Grid) -> Grid:
    """e98196ab: the halves above and below the line of 5 laid over each other."""
    k = next(r for r, row in enumerate(g) if all(v == 5 for v in row))
    return tuple(tuple(a or b for a, b in zip(ra, rb)) for ra, rb in zip(g[:k], g[k + 1:]))


def _two_halves(rng: random.Random):
    a, b = pick(rng, 2, (1, 2, 3, 4, 6, 7, 8, 9))
    top = random_grid(rng, 5, 11, [a], 0.15)
    bottom = [[b if v == 0 and rng.random() < 0.15 else 0 for v in row] for row in top]
    return top + [[5] * 11] + bottom


RULES.add("e98196ab", _overlay_halves, _two_halves)


def _coloured_mask(g: Grid) -> Grid:
    """b190f7f5: one half is a mask of 8, the other a grid of colours; each colour gets a copy of the mask."""
    h, w = len(g), len(g[0])
    halves = [sub(g, 0, 0, h, w // 2), sub(g, 0, w // 2, h, w // 2)] if w > h else [sub(g, 0, 0, h // 2, w), sub(g, h // 2, 0, h // 2, w)]
    mask, key = halves if any(8 in row for row in halves[0]) else halves[::-1]
    n = len(mask)
    return tuple(tuple(key[r // n][c // n] if mask[r % n][c % n] else 0 for c in range(n * n)) for r in range(n * n))


def _mask_and_key(rng: random.Random):
    n = rng.choice((3, 3, 4))
    mask = random_grid(rng, n, n, [8], 0.5)
    key = random_grid(rng, n, n, pick(rng, 3, (1, 2, 3, 4)), 0.6)
    parts = [mask, key] if rng.random() < 0.5 else [key, mask]
    return hcat(*parts) if rng.random() < 0.5 else vcat(*parts)


RULES.add("b190f7f5", _coloured_mask, _mask_and_key)


def _assemble_corners(g: Grid) -> Grid:
    """a61ba2ce: four L-shaped corners fitted together into a 4x4 square, each in the corner its shape points to."""
    out = blank(4, 4)
    for cells in components(g):
        top, left, _, _ = bbox(cells)
        (mr, mc), = [(top + y, left + x) for y in (0, 1) for x in (0, 1) if (top + y, left + x) not in cells]
        oy, ox = (2 if mr == top else 0), (2 if mc == left else 0)
        for r, c in cells:
            out[oy + r - top][ox + c - left] = g[r][c]
    return out


def _four_corners(rng: random.Random):
    shapes = []
    for missing in ((1, 1), (1, 0), (0, 1), (0, 0)):
        shapes.append([p for p in rect(2, 2) if p != missing])
    return scatter(rng, 13, 13, shapes)


RULES.add("a61ba2ce", _assemble_corners, _four_corners)
