"""Rules that see through noise or fill empty space: stripes cleaned of noise, a spiral, the region with the
most specks, background flooded from 1s, satellites pulled in, the block of a rare colour, a fractal of a
scaled-up mask, the inside of a frame among noise.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random
from collections import Counter

from tasks_lib.pretraining.generators.grid import bbox, crop, place, rect
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, counts, pick, random_grid, require, stripe_line,
                                  sub, thaw, transpose, upscale)

RULES = Registry()


def _clean_stripes(g: Grid) -> Grid:
    """e26a3af2: stripes flecked with noise become solid, each in its commonest colour."""
    h, w = len(g), len(g[0])
    col_major = [Counter(col).most_common(1)[0][0] for col in transpose(g)]
    row_major = [Counter(row).most_common(1)[0][0] for row in g]
    vertical = tuple(tuple(col_major) for _ in range(h))
    horizontal = tuple((v,) * w for v in row_major)

    def agree(out: Grid) -> int:
        return sum(a == b for ra, rb in zip(out, g) for a, b in zip(ra, rb))
    return vertical if agree(vertical) >= agree(horizontal) else horizontal


def _noisy_stripes(rng: random.Random):
    line = stripe_line(rng, rng.randint(3, 5), (2, 5))
    depth = rng.randint(max(8, len(line) // 2), 15)
    g = [[v if rng.random() > 0.15 else rng.randint(1, 9) for v in line] for _ in range(depth)]
    return transpose(g) if rng.random() < 0.5 else g


RULES.add("e26a3af2", _clean_stripes, _noisy_stripes)


def _spiral(g: Grid) -> Grid:
    """28e73c20: a spiral of 3 winds clockwise in from the top-left corner, one empty cell between its turns."""
    h, w = len(g), len(g[0])
    out = blank(h, w)
    steps = ((0, 1), (1, 0), (0, -1), (-1, 0))

    def free(r: int, c: int) -> bool:
        return 0 <= r < h and 0 <= c < w and out[r][c] == 0

    r, c, d = 0, 0, 0
    out[0][0] = 3
    turns = 0
    while turns < 2:
        dr, dc = steps[d]
        nr, nc = r + dr, c + dc
        ahead = (nr + dr, nc + dc)
        if free(nr, nc) and (not (0 <= ahead[0] < h and 0 <= ahead[1] < w) or out[ahead[0]][ahead[1]] == 0):
            r, c = nr, nc
            out[r][c] = 3
            turns = 0
        else:
            d = (d + 1) % 4
            turns += 1
    return out


RULES.add("28e73c20", _spiral, lambda r: blank(s := r.randint(3, 18), s))


def _noisiest_region(g: Grid) -> Grid:
    """de1cd16c: of the large regions, the colour of the one holding the most specks of the speck colour."""
    tally = counts(g)
    speck = min(tally, key=lambda v: tally[v])
    per_region: Counter = Counter()
    h, w = len(g), len(g[0])
    for r, c in cells_of(g, speck):
        around = Counter(g[r + dr][c + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                         if 0 <= r + dr < h and 0 <= c + dc < w and g[r + dr][c + dc] != speck)
        per_region[around.most_common(1)[0][0]] += 1
    return ((per_region.most_common(1)[0][0],),)


def _regions_with_specks(rng: random.Random):
    h, w = rng.randint(12, 18), rng.randint(12, 18)
    colours = pick(rng, 4, range(10))
    speck, regions = colours[0], colours[1:]
    cut_r, cut_c = rng.randint(4, h - 4), rng.randint(4, w - 4)
    layout = [[regions[0] if r < cut_r else (regions[1] if c < cut_c else regions[2]) for c in range(w)] for r in range(h)]
    wanted = rng.sample(range(1, 5), 3)
    for colour, n in zip(regions, wanted):
        spots = [(r, c) for r in range(1, h - 1) for c in range(1, w - 1)
                 if all(layout[r + dr][c + dc] == colour for dr in (-1, 0, 1) for dc in (-1, 0, 1))]
        require(len(spots) >= n, "region too small")
        for r, c in rng.sample(spots, n):
            layout[r][c] = speck
    require(sum(v == speck for row in layout for v in row) < min(sum(v == c for row in layout for v in row) for c in regions),
            "specks outnumber a region")
    return layout


RULES.add("de1cd16c", _noisiest_region, _regions_with_specks)


def _flood_from_ones(g: Grid) -> Grid:
    """9edfc990: every 0 connected (side by side, through 0s) to a 1 becomes 1."""
    out = thaw(g)
    h, w = len(g), len(g[0])
    stack = cells_of(g, 1)
    while stack:
        r, c = stack.pop()
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            y, x = r + dr, c + dc
            if 0 <= y < h and 0 <= x < w and out[y][x] == 0:
                out[y][x] = 1
                stack.append((y, x))
    return out


def _speckled(rng: random.Random):
    n = rng.randint(8, 16)
    g = [[0 if rng.random() < 0.5 else rng.choice((2, 3, 4, 5, 6, 7, 8, 9)) for _ in range(n)] for _ in range(n)]
    for r, c in rng.sample([(r, c) for r in range(n) for c in range(n)], rng.randint(1, 4)):
        g[r][c] = 1
    return g


RULES.add("9edfc990", _flood_from_ones, _speckled)


def _pull_satellites(g: Grid) -> Grid:
    """ae3edfdc: 3s close in on the 2 and 7s on the 1, each to the cell beside its centre in its own line."""
    out = [[v if v in (1, 2) else 0 for v in row] for row in g]
    for centre, satellite in ((2, 3), (1, 7)):
        (r0, c0), = cells_of(g, centre)
        for r, c in cells_of(g, satellite):
            out[r0 + (r > r0) - (r < r0)][c0 + (c > c0) - (c < c0)] = satellite
    return out


def _two_systems(rng: random.Random):
    g = blank(15, 15)
    for (r0, c0), (centre, satellite) in zip(place(rng, 15, 15, [rect(1, 1)] * 2, gap=3), ((2, 3), (1, 7))):
        g[r0][c0] = centre
        for dr, dc in rng.sample(((0, 1), (1, 0), (0, -1), (-1, 0)), rng.randint(2, 4)):
            reach = [k for k in range(2, 15) if 0 <= r0 + dr * k < 15 and 0 <= c0 + dc * k < 15]
            require(bool(reach), "no room on that side")
            k = rng.choice(reach)
            require(g[r0 + dr * k][c0 + dc * k] == 0, "cells collide")
            g[r0 + dr * k][c0 + dc * k] = satellite
    return g


RULES.add("ae3edfdc", _pull_satellites, _two_systems)


def _rare_block(g: Grid) -> Grid:
    """0b148d64: of the blocks in the corners, the one in a colour the others do not use, cropped."""
    tally = counts(g)
    colour = min((v for v in tally if v), key=lambda v: tally[v])
    return crop(g, bbox(cells_of(g, colour)))


def _corner_blocks(rng: random.Random):
    common, rare = pick(rng, 2)
    h, w = rng.randint(12, 21), rng.randint(12, 21)
    gap_r, gap_c = rng.randint(3, h - 6), rng.randint(3, w - 6)
    k = rng.randint(2, 4)
    g = blank(h, w)
    odd = rng.randrange(4)
    for i, (rows, cols) in enumerate(((range(0, gap_r), range(0, gap_c)), (range(0, gap_r), range(gap_c + k, w)),
                                      (range(gap_r + k, h), range(0, gap_c)), (range(gap_r + k, h), range(gap_c + k, w)))):
        require(len(rows) >= 3 and len(cols) >= 3, "a block is too small")
        colour = rare if i == odd else common
        for r in rows:
            for c in cols:
                g[r][c] = colour if rng.random() < 0.65 else 0
        g[rows[0]][cols[0]] = g[rows[-1]][cols[-1]] = colour  # the block spans its whole corner
    require(counts(g)[rare] < counts(g)[common], "the rare colour is not rarer")
    return g


RULES.add("0b148d64", _rare_block, _corner_blocks)


def _scaled_fractal(g: Grid) -> Grid:
    """80af3007: a 3x3 mask drawn with 3x3 blocks becomes a 9x9 fractal of the mask."""
    top, left, _, _ = bbox(cells_of(g))
    big = sub(g, top, left, 9, 9)
    m = [[big[3 * i][3 * j] for j in range(3)] for i in range(3)]
    return tuple(tuple(m[r // 3][c // 3] if m[r % 3][c % 3] else 0 for c in range(9)) for r in range(9))


def _scaled_mask(rng: random.Random):
    m = [[5 if rng.random() < 0.55 else 0 for _ in range(3)] for _ in range(3)]
    require(any(m[0]) and any(m[2]) and any(row[0] for row in m) and any(row[2] for row in m), "the mask does not span")
    h, w = 16, 18
    g = blank(h, w)
    top, left = rng.randint(0, h - 9), rng.randint(0, w - 9)
    for r, row in enumerate(upscale(m, 3)):
        g[top + r][left:left + 9] = row
    return g


RULES.add("80af3007", _scaled_fractal, _scaled_mask)


def _inside_frame(g: Grid) -> Grid:
    """1c786137: among noise, the inside of the one rectangle outlined in a single colour."""
    for colour in sorted(counts(g)):
        top, left, bottom, right = bbox(cells_of(g, colour))
        if bottom - top < 2 or right - left < 2:
            continue
        border = [(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1) if r in (top, bottom) or c in (left, right)]
        if all(g[r][c] == colour for r, c in border):
            return sub(g, top + 1, left + 1, bottom - top - 1, right - left - 1)
    raise ValueError("no framed rectangle")


def _frame_in_noise(rng: random.Random):
    h, w = rng.randint(12, 23), rng.randint(12, 21)
    frame, *noise = pick(rng, rng.randint(3, 4), range(10))
    g = random_grid(rng, h, w, noise)
    fh, fw = rng.randint(4, min(9, h - 1)), rng.randint(4, min(10, w - 1))
    top, left = rng.randint(0, h - fh), rng.randint(0, w - fw)
    for r in range(fh):
        for c in range(fw):
            if r in (0, fh - 1) or c in (0, fw - 1):
                g[top + r][left + c] = frame
    return g


RULES.add("1c786137", _inside_frame, _frame_in_noise)


def _solid_rect(g: Grid) -> Grid:
    """91714a58: among noise, only the largest solid rectangle of one colour stays."""
    h, w = len(g), len(g[0])
    best = (0, None)
    for top in range(h):
        for left in range(w):
            colour = g[top][left]
            if colour == 0:
                continue
            width = w - left
            for bottom in range(top, h):
                run = 0
                while run < width and g[bottom][left + run] == colour:
                    run += 1
                width = run
                if width == 0:
                    break
                area = width * (bottom - top + 1)
                if area > best[0] and bottom > top and width > 1:
                    best = (area, (top, left, bottom, left + width - 1))
    top, left, bottom, right = best[1]
    return tuple(tuple(g[r][c] if top <= r <= bottom and left <= c <= right else 0 for c in range(w)) for r in range(h))


def _rect_in_noise(rng: random.Random):
    n = 16
    g = [[rng.randint(1, 9) if rng.random() < 0.35 else 0 for _ in range(n)] for _ in range(n)]
    colour = rng.randint(1, 9)
    rh, rw = rng.randint(2, 5), rng.randint(2, 5)
    require(rh * rw >= 6, "the rectangle is too small to stand out")
    top, left = rng.randint(0, n - rh), rng.randint(0, n - rw)
    for r in range(top - 1, top + rh + 1):
        for c in range(left - 1, left + rw + 1):
            if 0 <= r < n and 0 <= c < n:
                g[r][c] = colour if top <= r < top + rh and left <= c < left + rw else (0 if g[r][c] == colour else g[r][c])
    kept = cells_of(_solid_rect(g))
    require(kept[0] == (top, left) and len(kept) == rh * rw, "the noise holds as large a rectangle")
    return g


RULES.add("91714a58", _solid_rect, _rect_in_noise)


def _diagonal_cycle(g: Grid) -> Grid:
    """c3f564a4: the colours 1..n run along the anti-diagonals in a cycle; the holes of 0 are filled."""
    n = max(v for row in g for v in row)
    colour = {(r + c) % n: v for r, row in enumerate(g) for c, v in enumerate(row) if v}
    return tuple(tuple(colour[(r + c) % n] for c in range(len(g[0]))) for r in range(len(g)))


def _cycle_with_holes(rng: random.Random):
    n, start = rng.randint(4, 8), rng.randint(0, 7)
    g = [[(r + c + start) % n + 1 for c in range(16)] for r in range(16)]
    for _ in range(rng.randint(2, 4)):
        hh, hw = rng.randint(2, 4), rng.randint(2, 4)
        top, left = rng.randint(0, 16 - hh), rng.randint(0, 16 - hw)
        for r in range(top, top + hh):
            for c in range(left, left + hw):
                g[r][c] = 0
    require(max(v for row in g for v in row) == n, "the top colour is hidden")
    return g


RULES.add("c3f564a4", _diagonal_cycle, _cycle_with_holes)


def _edge_pairs(g: Grid) -> Grid:
    """6cdd2623: the colour whose cells face each other on opposite edges draws lines between them; the
    rest goes."""
    h, w = len(g), len(g[0])
    out = blank(h, w)
    for colour in sorted({v for row in g for v in row if v}):
        cells = cells_of(g, colour)
        if all(r in (0, h - 1) or c in (0, w - 1) for r, c in cells):
            for r, c in cells:
                if c == 0:
                    out[r] = [colour] * w
                if r == 0:
                    for y in range(h):
                        out[y][c] = colour
    return out


def _edge_marks(rng: random.Random):
    h, w = rng.randint(10, 14), rng.randint(12, 22)
    line, *noise = pick(rng, 3)
    g = [[rng.choice(noise) if rng.random() < 0.2 else 0 for _ in range(w)] for _ in range(h)]
    for r in range(h):
        for c in range(w):
            if (r in (0, h - 1) or c in (0, w - 1)) and g[r][c] and rng.random() < 0.7:
                g[r][c] = 0
    for _ in range(rng.randint(1, 2)):
        if rng.random() < 0.5:
            r = rng.randint(1, h - 2)
            g[r][0] = g[r][w - 1] = line
        else:
            c = rng.randint(1, w - 2)
            g[0][c] = g[h - 1][c] = line
    for v in noise:  # a noise colour with every cell on the edges would read as a line colour
        require(any(0 < r < h - 1 and 0 < c < w - 1 for r, c in cells_of(g, v)), "noise only on the edges")
    return g


RULES.add("6cdd2623", _edge_pairs, _edge_marks)
