"""Rules about bands, lines and boxes with something inside: holes that cut across their band, loose cells
drawn to the line of their colour, box insides coloured by parity, cells inside a zone recoloured, a shape
scaled into a frame, a blocky shape shrunk and painted in the noise colour.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, crop, outline, paint, place, rect, scatter, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, counts, pick, require, thaw, transpose,
                                  upscale)

RULES = Registry()


def _holes_across(g: Grid) -> Grid:
    """855e0971: each hole (0) in a band of colour cuts straight across that band."""
    horizontal = all(len({v for v in row if v}) == 1 for row in g)
    grid = g if horizontal else transpose(g)
    out = thaw(grid)
    for r, c in cells_of(grid, 0):
        colour = next(v for v in grid[r] if v)
        for y in range(len(grid)):
            if colour in grid[y]:
                out[y][c] = 0
    return out if horizontal else transpose(out)


def _holed_bands(rng: random.Random):
    h, w = rng.randint(10, 15), rng.randint(10, 19)
    colours = pick(rng, rng.randint(2, 4))
    cuts = sorted(rng.sample(range(2, h - 1), len(colours) - 1))
    require(all(b - a >= 2 for a, b in zip([0] + cuts, cuts + [h])), "a band is too thin")
    g = [[colours[sum(r >= x for x in cuts)]] * w for r in range(h)]
    for k in range(len(colours)):
        lo, hi = ([0] + cuts)[k], (cuts + [h])[k]
        for c in rng.sample(range(w), rng.randint(0, 2)):
            g[rng.randrange(lo, hi)][c] = 0
    require(any(0 in row for row in g), "no hole")
    return transpose(g) if rng.random() < 0.5 else g


RULES.add("855e0971", _holes_across, _holed_bands)


def _to_own_line(g: Grid) -> Grid:
    """1a07d186: loose cells move beside the line of their own colour, on their own side; the others go."""
    vertical = any(all(row[c] == g[0][c] != 0 for row in g) for c in range(len(g[0])))
    grid = g if vertical else transpose(g)
    lines = {grid[0][c]: c for c in range(len(grid[0])) if grid[0][c] and all(row[c] == grid[0][c] for row in grid)}
    out = [[v if c in lines.values() else 0 for c, v in enumerate(row)] for row in grid]
    for r, c in cells_of(grid):
        if c in lines.values():
            continue
        line = lines.get(grid[r][c])
        if line is not None:
            out[r][line - 1 if c < line else line + 1] = grid[r][c]
    return out if vertical else transpose(out)


def _lines_and_loose(rng: random.Random):
    h, w = rng.randint(10, 19), rng.randint(12, 19)
    colours = pick(rng, rng.randint(1, 2))
    cols = sorted(rng.sample(range(2, w - 2), len(colours)))
    require(all(b - a >= 4 for a, b in zip(cols, cols[1:])), "lines too close")
    g = blank(h, w)
    for c, colour in zip(cols, colours):
        for row in g:
            row[c] = colour
    used = set()
    for _ in range(rng.randint(3, 6)):
        r, c = rng.randrange(h), rng.randrange(w)
        if r in used or any(abs(c - x) <= 1 for x in cols):
            continue
        used.add(r)
        g[r][c] = rng.choice(colours + [rng.choice([v for v in range(1, 10) if v not in colours])])
    return g if rng.random() < 0.5 else transpose(g)


RULES.add("1a07d186", _to_own_line, _lines_and_loose)


def _inside_by_parity(g: Grid) -> Grid:
    """868de0fa: a square outline's inside fills with 2 when its side is even and 7 when odd."""
    out = thaw(g)
    for cells in components(g, diagonal=False):
        top, left, bottom, right = bbox(cells)
        side = bottom - top - 1
        for r in range(top + 1, bottom):
            for c in range(left + 1, right):
                out[r][c] = 2 if side % 2 == 0 else 7
    return out


def _square_outlines(rng: random.Random):
    n = rng.randint(10, 20)
    boxes = [outline(k, k) for k in (rng.randint(3, 8) for _ in range(rng.randint(2, 4)))]
    return scatter(rng, n, n, boxes, 1)


RULES.add("868de0fa", _inside_by_parity, _square_outlines)


def _inside_zone(g: Grid) -> Grid:
    """32597951: cells of 1 inside the box marked out by the 8s become 3."""
    top, left, bottom, right = bbox(cells_of(g, 8))
    return tuple(tuple(3 if v == 1 and top <= r <= bottom and left <= c <= right else v for c, v in enumerate(row))
                 for r, row in enumerate(g))


def _pattern_with_zone(rng: random.Random):
    n = 17
    g = [[1 if rng.random() < 0.55 and r % 2 == 1 else 0 for c in range(n)] for r in range(n)]
    zh, zw = rng.randint(3, 6), rng.randint(3, 6)
    top, left = rng.randint(0, n - zh), rng.randint(0, n - zw)
    for r in range(top, top + zh):
        for c in range(left, left + zw):
            if g[r][c] == 0 or (r, c) in ((top, left), (top + zh - 1, left + zw - 1)):
                g[r][c] = 8
    require(any(g[r][c] == 1 for r in range(top, top + zh) for c in range(left, left + zw)), "no 1 in the zone")
    return g


RULES.add("32597951", _inside_zone, _pattern_with_zone)


def _scale_into_frame(g: Grid) -> Grid:
    """6b9890af: the small shape, scaled up to fill the inside of the frame of 2, framed."""
    frame = cells_of(g, 2)
    top, left, bottom, right = bbox(frame)
    piece = crop(g, bbox([p for p in cells_of(g) if g[p[0]][p[1]] != 2]))
    k = (bottom - top - 1) // len(piece)
    out = [[2] * (right - left + 1) for _ in range(bottom - top + 1)]
    for r, row in enumerate(upscale(piece, k)):
        out[1 + r][1:1 + len(row)] = row
    return out


def _frame_and_piece(rng: random.Random):
    k = rng.randint(1, 4)
    side = 3 * k + 2
    h, w = rng.randint(side + 5, 22), rng.randint(side + 5, 22)
    g = blank(h, w)
    colour = pick(rng, 1, (1, 3, 4, 5, 6, 7, 8, 9))[0]
    cells = shape(rng, 3, 3)
    require(max(r for r, _ in cells) == 2 and max(c for _, c in cells) == 2, "not 3x3")
    rim = outline(side, side)
    at_frame, at_piece = place(rng, h, w, [rect(side, side), rect(3, 3)], gap=1)
    paint(g, rim, 2, at_frame)
    paint(g, cells, colour, at_piece)
    return g


RULES.add("6b9890af", _scale_into_frame, _frame_and_piece)


def _shrink_blocky(g: Grid) -> Grid:
    """5ad4f10b: the big shape made of k x k blocks, shrunk to 3x3 and drawn in the colour of the specks."""
    tally = counts(g)
    big = max(components(g), key=len)
    colour = g[big[0][0]][big[0][1]]
    speck = next(v for v in tally if v not in (0, colour))
    top, left, bottom, right = bbox(big)
    k = (bottom - top + 1) // 3
    return tuple(tuple(speck if g[top + k * i][left + k * j] == colour else 0 for j in range(3)) for i in range(3))


def _blocky_and_specks(rng: random.Random):
    m = [[1 if rng.random() < 0.55 else 0 for _ in range(3)] for _ in range(3)]
    require(any(m[0]) and any(m[2]) and any(row[0] for row in m) and any(row[2] for row in m), "the mask does not span")
    require(len(components(m)) == 1, "the shape falls apart")
    k = rng.randint(2, 5)
    h, w = rng.randint(3 * k + 2, 24), rng.randint(3 * k + 2, 24)
    colour, speck = pick(rng, 2)
    top, left = rng.randint(0, h - 3 * k), rng.randint(0, w - 3 * k)
    g = [[speck if rng.random() < 0.08 and not (top <= r < top + 3 * k and left <= c < left + 3 * k) else 0
          for c in range(w)] for r in range(h)]
    for r, row in enumerate(upscale(m, k)):
        for c, v in enumerate(row):
            if v:
                g[top + r][left + c] = colour
    specks = [cells for cells in components(g) if g[cells[0][0]][cells[0][1]] == speck]
    require(bool(specks) and max(len(cells) for cells in specks) < 4, "no specks, or specks clump")
    return g


RULES.add("5ad4f10b", _shrink_blocky, _blocky_and_specks)
