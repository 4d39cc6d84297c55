"""Rules that link and route: lines between aligned pairs, elbow paths, a snake's colours reversed, segments
grown to full rows and columns, diagonals through a cell, cells dropped onto a band, cells drawn to the wall
of their colour, lattice regions coloured by place, a header row recoloured.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random
from collections import Counter

from tasks_lib.pretraining.generators.grid import paint
from tasks_lib.pretraining.rules.base import (Grid, Registry, blank, cells_of, components, elbow, pick, rays_to_box, require,
                                  thaw, transpose, two_cells)

RULES = Registry()


def _link_aligned(end: int, colour: int):
    """Cells of `end` sharing a row or column are joined by `colour` over the empty cells between them."""
    def solve(g: Grid) -> Grid:
        out = thaw(g)
        points = cells_of(g, end)
        for r0, c0 in points:
            for r1, c1 in points:
                if (r0, c0) < (r1, c1) and (r0 == r1 or c0 == c1):
                    for r in range(r0, r1 + 1):
                        for c in range(min(c0, c1), max(c0, c1) + 1):
                            if g[r][c] == 0:
                                out[r][c] = colour
        return out
    return solve


def _aligned_ends(end: int, lo: int, hi: int, extra: tuple[int, int]):
    def sample(rng: random.Random):
        h, w = rng.randint(lo, hi), rng.randint(lo, hi)
        g = blank(h, w)
        for _ in range(rng.randint(1, 2)):
            if rng.random() < 0.5:
                r, (a, b) = rng.randrange(h), sorted(rng.sample(range(w), 2))
                require(b - a > 1, "adjacent")
                g[r][a] = g[r][b] = end
            else:
                c, (a, b) = rng.randrange(w), sorted(rng.sample(range(h), 2))
                require(b - a > 1, "adjacent")
                g[a][c] = g[b][c] = end
        for _ in range(rng.randint(*extra)):
            g[rng.randrange(h)][rng.randrange(w)] = end
        return g
    return sample


RULES.add("dbc1a6ce", _link_aligned(1, 8), _aligned_ends(1, 9, 12, (0, 3)))
RULES.add("253bf280", _link_aligned(8, 3), _aligned_ends(8, 7, 13, (0, 1)))


def _elbow_row_first(g: Grid) -> Grid:
    """a2fd1cf0: a path of 8 runs from the 2 along its row to the 3's column, then along that column to the 3."""
    out = thaw(g)
    paint(out, elbow(cells_of(g, 2)[0], cells_of(g, 3)[0], column_first=False), 8)
    return out


RULES.add("a2fd1cf0", _elbow_row_first, two_cells(2, 3, (8, 15), (8, 16)))

_REGION_COLOURS = {(0, 1): 2, (1, 0): 4, (1, 1): 6, (1, 2): 3, (2, 1): 1}


def _colour_regions(g: Grid) -> Grid:
    """272f95fa: two lines of 8 each way cut nine regions; the middle five get 2 (top), 4 (left), 6 (centre),
    3 (right) and 1 (bottom)."""
    rows = [r for r, row in enumerate(g) if all(v == 8 for v in row)]
    cols = [c for c, col in enumerate(transpose(g)) if all(v == 8 for v in col)]

    def band(x: int, lines: list[int]) -> int:
        return sum(x > line for line in lines)
    return tuple(tuple(_REGION_COLOURS.get((band(r, rows), band(c, cols)), 0) if v == 0 else v
                       for c, v in enumerate(row)) for r, row in enumerate(g))


def _double_lattice(rng: random.Random):
    h, w = rng.randint(8, 20), rng.randint(8, 20)
    rows = sorted(rng.sample(range(1, h - 1), 2))
    cols = sorted(rng.sample(range(1, w - 1), 2))
    require(rows[1] - rows[0] > 1 and cols[1] - cols[0] > 1, "lines touch")
    return [[8 if r in rows or c in cols else 0 for c in range(w)] for r in range(h)]


RULES.add("272f95fa", _colour_regions, _double_lattice)


def _diagonals_through(g: Grid) -> Grid:
    """623ea044: both diagonals through the one coloured cell, to the edges."""
    (r, c), = cells_of(g)
    colour = g[r][c]
    return tuple(tuple(colour if abs(y - r) == abs(x - c) else 0 for x in range(len(g[0]))) for y in range(len(g)))


def _one_cell(rng: random.Random):
    h, w = rng.randint(5, 15), rng.randint(5, 15)
    g = blank(h, w)
    g[rng.randrange(h)][rng.randrange(w)] = rng.randint(1, 9)
    return g


RULES.add("623ea044", _diagonals_through, _one_cell)


def _drop_onto_band(g: Grid) -> Grid:
    """4093f84a: cells on either side of the band of 5 fall straight onto it and turn 5, stacking up."""
    horizontal = any(all(v == 5 for v in row) for row in g)
    grid = g if horizontal else transpose(g)
    band = [r for r, row in enumerate(grid) if all(v == 5 for v in row)]
    top, bottom = band[0], band[-1]
    out = [[5 if top <= r <= bottom else 0 for _ in grid[0]] for r in range(len(grid))]
    for c in range(len(grid[0])):
        above = sum(grid[r][c] != 0 for r in range(top))
        below = sum(grid[r][c] != 0 for r in range(bottom + 1, len(grid)))
        for k in range(above):
            out[top - 1 - k][c] = 5
        for k in range(below):
            out[bottom + 1 + k][c] = 5
    return out if horizontal else transpose(out)


def _band_and_dots(rng: random.Random):
    n = 14
    g = blank(n, n)
    top = rng.randint(3, 7)
    height = rng.randint(2, 4)
    for r in range(top, top + height):
        g[r] = [5] * n
    colour = rng.choice((1, 2, 3, 4, 6, 7, 8, 9))
    free = [(r, c) for r in range(n) for c in range(n) if not top <= r < top + height]
    for r, c in rng.sample(free, rng.randint(4, 9)):
        g[r][c] = colour
    return transpose(g) if rng.random() < 0.5 else g


RULES.add("4093f84a", _drop_onto_band, _band_and_dots)


def _to_own_wall(g: Grid) -> Grid:
    """d687bc17: each loose cell inside the walls moves to touch the wall of its own colour; the rest vanish."""
    h, w = len(g), len(g[0])
    walls = {g[0][1]: "top", g[h - 1][1]: "bottom", g[1][0]: "left", g[1][w - 1]: "right"}
    out = [[g[r][c] if r in (0, h - 1) or c in (0, w - 1) else 0 for c in range(w)] for r in range(h)]
    for r in range(1, h - 1):
        for c in range(1, w - 1):
            side = walls.get(g[r][c])
            if side is not None:
                y, x = {"top": (1, c), "bottom": (h - 2, c), "left": (r, 1), "right": (r, w - 2)}[side]
                out[y][x] = g[r][c]
    return out


def _walled(rng: random.Random):
    h, w = rng.randint(8, 14), rng.randint(8, 15)
    top, bottom, left, right, other = pick(rng, 5)
    g = blank(h, w)
    g[0][1:w - 1] = [top] * (w - 2)
    g[h - 1][1:w - 1] = [bottom] * (w - 2)
    for r in range(1, h - 1):
        g[r][0], g[r][w - 1] = left, right
    inner = [(r, c) for r in range(2, h - 2) for c in range(2, w - 2)]
    used_rows, used_cols = set(), set()
    for r, c in rng.sample(inner, rng.randint(3, 6)):
        if r in used_rows or c in used_cols:
            continue
        used_rows.add(r)
        used_cols.add(c)
        g[r][c] = rng.choice((top, bottom, left, right, other))
    return g


RULES.add("d687bc17", _to_own_wall, _walled)


def _segments_to_lines(g: Grid) -> Grid:
    """9344f635: on a background of 7, a vertical segment grows to its full column and a horizontal one to its
    full row; rows lie over columns."""
    bg = Counter(v for row in g for v in row).most_common(1)[0][0]
    mask = [[v + 1 if v != bg else 0 for v in row] for row in g]  # + 1: a segment may be of colour 0
    out = [[bg] * len(g[0]) for _ in g]
    segments = components(mask, diagonal=False)
    for cells in segments:
        if len({c for _, c in cells}) == 1:
            for r in range(len(g)):
                out[r][cells[0][1]] = g[cells[0][0]][cells[0][1]]
    for cells in segments:
        if len({r for r, _ in cells}) == 1:
            out[cells[0][0]] = [g[cells[0][0]][cells[0][1]]] * len(g[0])
    return out


def _segments(rng: random.Random):
    n = rng.randint(7, 10)
    g = blank(n, n, 7)
    rows, cols = set(), set()
    for colour in pick(rng, rng.randint(2, 4), (0, 1, 2, 3, 4, 5, 6, 8, 9)):
        if rng.random() < 0.5:
            r, c = rng.randrange(n), rng.randrange(n - 1)
            require(r not in rows, "two segments share a row")
            rows.add(r)
            cells = [(r, c), (r, c + 1)]
        else:
            r, c = rng.randrange(n - 1), rng.randrange(n)
            require(c not in cols, "two segments share a column")
            cols.add(c)
            cells = [(r, c), (r + 1, c)]
        require(all(g[y][x] == 7 for y, x in cells), "segments overlap")
        for y, x in cells:
            g[y][x] = colour
    mask = [[v + 1 if v != 7 else 0 for v in row] for row in g]
    require(all(len(cells) == 2 for cells in components(mask, diagonal=False)), "segments touch")
    return g


RULES.add("9344f635", _segments_to_lines, _segments)


def _recolour_header(g: Grid) -> Grid:
    """7e4d4f7c: the header row, the row under it, and the header again with its non-background cells as 6."""
    bg = Counter(v for row in g[1:] for v in row[1:]).most_common(1)[0][0]
    return (g[0], g[1], tuple(v if v == bg else 6 for v in g[0]))


def _header_and_ruler(rng: random.Random):
    h, w = rng.randint(6, 12), rng.randint(8, 13)
    bg, mark, ruler = pick(rng, 3, (0, 1, 2, 4, 7, 9))
    header = [mark if rng.random() < 0.5 else bg for _ in range(w)]
    require(mark in header and bg in header, "flat header")
    body = [[bg] * w for _ in range(h - 1)]
    for r in range(0, h - 1, 2):
        body[r][0] = ruler
    return [header] + body


RULES.add("7e4d4f7c", _recolour_header, _header_and_ruler)


def _reverse_snake(g: Grid) -> Grid:
    """5792cb4d: the colours along the snake (a path on a background of 8) run in reverse order."""
    path = [(r, c) for r, c in cells_of(g, bg=8)]
    cells = set(path)

    def neighbours(p: tuple[int, int]) -> list[tuple[int, int]]:
        return [(p[0] + dr, p[1] + dc) for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)) if (p[0] + dr, p[1] + dc) in cells]
    start = min(p for p in path if len(neighbours(p)) == 1)
    order, prev = [start], None
    while len(order) < len(path):
        nxt = next(p for p in neighbours(order[-1]) if p != prev)
        prev = order[-1]
        order.append(nxt)
    out = thaw(g)
    for p, q in zip(order, reversed(order)):
        out[p[0]][p[1]] = g[q[0]][q[1]]
    return out


def _snake(rng: random.Random):
    g = blank(10, 10, 8)
    r, c = rng.randrange(10), rng.randrange(10)
    path = [(r, c)]
    for _ in range(rng.randint(5, 11)):
        options = [(r + dr, c + dc) for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))
                   if 0 <= r + dr < 10 and 0 <= c + dc < 10 and (r + dr, c + dc) not in path
                   and sum((r + dr + a, c + dc + b) in path for a, b in ((0, 1), (1, 0), (0, -1), (-1, 0))) == 1]
        if not options:
            break
        r, c = rng.choice(options)
        path.append((r, c))
    require(len(path) >= 5, "short snake")
    colours = [rng.choice((1, 2, 4, 5, 6, 7, 9)) for _ in path]
    require(colours != colours[::-1], "a palindrome")
    for (y, x), colour in zip(path, colours):
        g[y][x] = colour
    return g


RULES.add("5792cb4d", _reverse_snake, _snake)


def _to_big_rect(g: Grid) -> Grid:
    """2c608aff: a cell in line with the big rectangle draws a line of its colour up to it."""
    bg = Counter(v for row in g for v in row).most_common(1)[0][0]
    mask = [[v + 1 if v != bg else 0 for v in row] for row in g]
    block = max(components(mask, diagonal=False), key=len)
    (top, left), (bottom, right) = block[0], block[-1]
    return rays_to_box(g, (top, left, bottom, right), set(block), bg)


def _rect_and_cells(rng: random.Random):
    h, w = rng.randint(9, 15), rng.randint(10, 15)
    bg, big, dot = pick(rng, 3)
    g = blank(h, w, bg)
    bh, bw = rng.randint(2, 5), rng.randint(2, 5)
    top, left = rng.randint(1, h - bh - 1), rng.randint(1, w - bw - 1)
    for r in range(top, top + bh):
        for c in range(left, left + bw):
            g[r][c] = big
    rows, cols = set(), set()
    for _ in range(rng.randint(2, 5)):
        r, c = rng.randrange(h), rng.randrange(w)
        if top - 1 <= r <= top + bh and left - 1 <= c <= left + bw:
            continue
        if r in rows or c in cols:
            continue
        rows.add(r)
        cols.add(c)
        g[r][c] = dot
    require(any(top <= r < top + bh for r in rows) or any(left <= c < left + bw for c in cols), "no cell in line")
    return g


RULES.add("2c608aff", _to_big_rect, _rect_and_cells)


def _stripes_from_two(g: Grid) -> Grid:
    """0a938d79: two cells start stripes across the short side, repeating in turn with their spacing to the
    far edge."""
    wide = len(g[0]) >= len(g)
    grid = g if wide else transpose(g)
    (r0, c0), (r1, c1) = sorted(cells_of(grid), key=lambda p: p[1])
    a, b = grid[r0][c0], grid[r1][c1]
    step = c1 - c0
    out = blank(len(grid), len(grid[0]))
    for k, c in enumerate(range(c0, len(grid[0]), step)):
        for row in out:
            row[c] = a if k % 2 == 0 else b
    return out if wide else transpose(out)


def _two_starts(rng: random.Random):
    short, long = rng.randint(7, 12), rng.randint(18, 29)
    g = blank(short, long)
    c0 = rng.randint(0, long // 3)
    c1 = c0 + rng.randint(2, 5)
    a, b = pick(rng, 2)
    g[rng.choice((0, short - 1))][c0] = a
    g[rng.choice((0, short - 1))][c1] = b
    return g if rng.random() < 0.5 else transpose(g)


RULES.add("0a938d79", _stripes_from_two, _two_starts)
