"""Rules computed cell by cell or row by row: colour maps, logic of two overlaid halves, per-row and
whole-grid tallies.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import operator
import random
from typing import Callable

from tasks_lib.pretraining.rules.base import Grid, Registry, blank, counts, pick, random_grid, recolour, require

RULES = Registry()

# --- colour maps -------------------------------------------------------------------------------------------


def _mapped(h: tuple[int, int], w: tuple[int, int], pool: tuple[int, ...], must: int):
    """Sampler: an h x w grid over `pool` (every cell coloured) that shows colour `must`."""
    def sample(rng: random.Random):
        g = random_grid(rng, rng.randint(*h), rng.randint(*w), pool)
        require(any(must in row for row in g), "the mapped colour is missing")
        return g
    return sample


RULES.add("c8f0f002", lambda g: recolour(g, {7: 5}), _mapped((3, 3), (4, 6), (1, 7, 8), 7))
RULES.add("b1948b0a", lambda g: recolour(g, {6: 2}), _mapped((3, 6), (4, 6), (6, 7), 6))
RULES.add("d511f180", lambda g: recolour(g, {5: 8, 8: 5}), _mapped((3, 5), (3, 5), tuple(range(1, 10)), 8))

_PAIRS_0D3D703E = {1: 5, 5: 1, 2: 6, 6: 2, 3: 4, 4: 3, 8: 9, 9: 8}


def _striped(rng: random.Random):
    """0d3d703e's inputs: three columns, each one colour of the map."""
    cols = pick(rng, 3, tuple(_PAIRS_0D3D703E))
    return [list(cols) for _ in range(3)]


RULES.add("0d3d703e", lambda g: recolour(g, _PAIRS_0D3D703E), _striped)


def _swap_with_five(g: Grid) -> Grid:
    """f76d97a5: 5 takes the other colour, the other colour becomes background."""
    other = next(v for row in g for v in row if v != 5)
    return recolour(g, {5: other, other: 0})


def _two_colour(rng: random.Random):
    side = rng.choice((3, 5, 5))
    g = random_grid(rng, side, side, [5, pick(rng, 1, (1, 2, 3, 4, 6, 7, 8, 9))[0]])
    require(len(counts(g)) == 2, "one colour only")
    return g


RULES.add("f76d97a5", _swap_with_five, _two_colour)


def _keep_majority(g: Grid) -> Grid:
    """9565186b: the most common colour stays, every other becomes 5."""
    top = counts(g).most_common(1)[0][0]
    return tuple(tuple(v if v == top else 5 for v in row) for row in g)


def _clear_majority(rng: random.Random, pool: tuple[int, ...], n_colours: int) -> list[list[int]]:
    """A 3x3 grid of at least `n_colours` colours whose most common colour is unique."""
    major = rng.choice(pool)
    others = [c for c in pool if c != major]
    g = [[major if rng.random() < 0.5 else rng.choice(others) for _ in range(3)] for _ in range(3)]
    top = counts(g).most_common(2)
    require(len(counts(g)) >= n_colours and top[0][1] > top[1][1], "too few colours or no unique majority")
    return g


RULES.add("9565186b", _keep_majority, lambda r: _clear_majority(r, (1, 2, 3, 4, 8), 2))


def _fill_majority(g: Grid) -> Grid:
    """5582e5ca: the whole grid takes the most common colour."""
    top = counts(g).most_common(1)[0][0]
    return tuple((top,) * len(row) for row in g)


RULES.add("5582e5ca", _fill_majority, lambda r: _clear_majority(r, (0, 1, 2, 3, 4, 6, 8, 9), 3))

# --- logic of two halves -----------------------------------------------------------------------------------

Op = Callable[[bool, bool], bool]
AND, OR, XOR = operator.and_, operator.or_, operator.xor


def NOR(a: bool, b: bool) -> bool:
    return not (a or b)


def _halves(op: Op, colour: int, vertical: bool) -> Callable[[Grid], Grid]:
    """Overlay the two halves (top/bottom when `vertical`, else left/right; a middle separator line is
    skipped) and colour the cells where `op` of "occupied" holds."""
    def solve(g: Grid) -> Grid:
        h, w = len(g), len(g[0])
        if vertical:
            n = h // 2
            a, b = g[:n], g[h - n:]
        else:
            n = w // 2
            a, b = [row[:n] for row in g], [row[w - n:] for row in g]
        return tuple(tuple(colour if op(x != 0, y != 0) else 0 for x, y in zip(ra, rb)) for ra, rb in zip(a, b))
    return solve


def _halves_input(h: int, w: int, first: int, second: int, sep: int | None, vertical: bool):
    """Sampler: two h x w halves of one colour each, joined by a separator line of colour `sep` (or none)."""
    def sample(rng: random.Random):
        dens = rng.uniform(0.35, 0.65)
        a = random_grid(rng, h, w, [first], dens)
        b = random_grid(rng, h, w, [second], dens)
        if vertical:
            return a + ([[sep] * w] if sep is not None else []) + b
        return [ra + ([sep] if sep is not None else []) + rb for ra, rb in zip(a, b)]
    return sample


for tid, op, colour, vertical, (h, w, first, second, sep) in (
    ("0520fde7", AND, 2, False, (3, 3, 1, 1, 5)),
    ("1b2d62fb", NOR, 8, False, (5, 3, 9, 9, 1)),
    ("3428a4f5", XOR, 3, True, (6, 5, 2, 2, 4)),
    ("6430c8c4", NOR, 3, True, (4, 4, 7, 2, 4)),
    ("94f9d214", NOR, 2, True, (4, 4, 3, 1, None)),
    ("99b1bc43", XOR, 3, True, (4, 4, 1, 2, 4)),
    ("ce4f8723", OR, 3, True, (4, 4, 1, 2, 4)),
    ("f2829549", NOR, 3, False, (4, 3, 7, 5, 1)),
    ("fafffa47", NOR, 2, True, (3, 3, 9, 1, None)),
    ("dae9d2b5", OR, 6, False, (3, 3, 4, 3, None)),
):
    RULES.add(tid, _halves(op, colour, vertical), _halves_input(h, w, first, second, sep, vertical))

# --- tallies -----------------------------------------------------------------------------------------------


def _count_row(g: Grid) -> Grid:
    """d631b094: one row with one cell per coloured input cell, in that colour."""
    cells = [v for row in g for v in row if v]
    return ((cells[0],) * len(cells),)


def _few_cells(rng: random.Random):
    g = [[0] * 3 for _ in range(3)]
    colour = rng.randint(1, 9)
    for y, x in rng.sample([(y, x) for y in range(3) for x in range(3)], rng.randint(1, 4)):
        g[y][x] = colour
    return g


RULES.add("d631b094", _count_row, _few_cells)

_ROW_BY_COLUMN = {0: 2, 1: 4, 2: 3}


def _row_by_column(g: Grid) -> Grid:
    """a85d4709: each row takes the colour its 5 sits in (left 2, middle 4, right 3)."""
    return tuple((_ROW_BY_COLUMN[row.index(5)],) * len(row) for row in g)


RULES.add("a85d4709", _row_by_column, lambda r: [[5 if c == k else 0 for c in range(3)] for k in (r.randrange(3) for _ in range(3))])


def _uniform_rows(g: Grid) -> Grid:
    """25d8a9c8: a row of one colour becomes 5, any other row 0."""
    return tuple((5 if len(set(row)) == 1 else 0,) * len(row) for row in g)


def _some_uniform(rng: random.Random):
    palette = pick(rng, rng.randint(2, 4))
    return [[rng.choice(palette)] * 3 if rng.random() < 0.4 else [rng.choice(palette) for _ in range(3)] for _ in range(3)]


RULES.add("25d8a9c8", _uniform_rows, _some_uniform)


def _symmetric_flag(g: Grid) -> Grid:
    """44f52bb0: 1 when the grid is its own mirror image (left-right), else 7."""
    return ((1 if all(row == row[::-1] for row in g) else 7,),)


def _maybe_symmetric(rng: random.Random):
    g = random_grid(rng, 3, 3, [2], rng.uniform(0.3, 0.7))
    if rng.random() < 0.5:
        g = [[row[0], row[1], row[0]] for row in g]
    require(any(any(row) for row in g), "empty")
    return g


RULES.add("44f52bb0", _symmetric_flag, _maybe_symmetric)


_SHAPE_CODES = {  # 27a28665: which 3x3 shape gives which colour
    ((1, 1, 0), (1, 0, 1), (0, 1, 0)): 1,
    ((1, 0, 1), (0, 1, 0), (1, 0, 1)): 2,
    ((0, 1, 1), (0, 1, 1), (1, 0, 0)): 3,
    ((0, 1, 0), (1, 1, 1), (0, 1, 0)): 6,
}


def _shape_code(g: Grid) -> Grid:
    """27a28665: the shape drawn (in any colour) names the output colour."""
    return ((_SHAPE_CODES[tuple(tuple(int(v != 0) for v in row) for row in g)],),)


def _coded_shape(rng: random.Random):
    mask = rng.choice(sorted(_SHAPE_CODES))
    colour = rng.randint(1, 9)
    return [[colour if v else 0 for v in row] for row in mask]


RULES.add("27a28665", _shape_code, _coded_shape)


def _colour_count_line(g: Grid) -> Grid:
    """6e02f1e3: one colour draws the top row in 5, two the main diagonal, three the other diagonal."""
    n = len(counts(g))
    cells = {1: [(0, 0), (0, 1), (0, 2)], 2: [(0, 0), (1, 1), (2, 2)], 3: [(0, 2), (1, 1), (2, 0)]}[n]
    return tuple(tuple(5 if (r, c) in cells else 0 for c in range(3)) for r in range(3))


def _few_colours(rng: random.Random):
    palette = pick(rng, rng.randint(1, 3), (2, 3, 4))
    g = random_grid(rng, 3, 3, palette)
    require(len(counts(g)) == len(palette), "a colour went missing")
    return g


RULES.add("6e02f1e3", _colour_count_line, _few_colours)

_TALLY_CELLS = [(0, 0), (0, 1), (0, 2), (1, 1)]


def _tally(g: Grid) -> Grid:
    """794b24be: n cells of 1 give n cells of 2, filling the top row first and then the middle."""
    n = sum(v == 1 for row in g for v in row)
    return tuple(tuple(2 if (r, c) in _TALLY_CELLS[:n] else 0 for c in range(3)) for r in range(3))


def _ones(rng: random.Random):
    g = blank(3, 3)
    for r, c in rng.sample([(r, c) for r in range(3) for c in range(3)], rng.randint(1, 4)):
        g[r][c] = 1
    return g


RULES.add("794b24be", _tally, _ones)


def _lone_twos(g: Grid) -> Grid:
    """aedd82e4: a 2 with no 2 beside it (above, below, left, right) becomes 1."""
    h, w = len(g), len(g[0])
    return tuple(tuple(1 if v == 2 and not any(0 <= r + dr < h and 0 <= c + dc < w and g[r + dr][c + dc] == 2
                                                for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))) else v
                       for c, v in enumerate(row)) for r, row in enumerate(g))


RULES.add("aedd82e4", _lone_twos, lambda r: random_grid(r, r.randint(3, 5), r.randint(3, 5), [2], r.uniform(0.3, 0.5)))


def _columns_by_count(g: Grid) -> Grid:
    """9af7a82c: one column per colour, most frequent first, each as tall as its count (padded with 0)."""
    tally = counts(g)
    order = sorted(tally, key=lambda v: -tally[v])
    height = tally[order[0]]
    return tuple(tuple(v if r < tally[v] else 0 for v in order) for r in range(height))


def _distinct_counts(rng: random.Random):
    h, w = rng.choice(((3, 3), (3, 4), (4, 3)))
    g = random_grid(rng, h, w, pick(rng, rng.randint(3, 4)))
    require(len(set(counts(g).values())) == len(counts(g)), "two colours share a count")
    return g


RULES.add("9af7a82c", _columns_by_count, _distinct_counts)


def _unsymmetric_block(g: Grid) -> Grid:
    """662c240a: of three stacked 3x3 blocks, the one that is not its own transpose."""
    blocks = [tuple(g[r:r + 3]) for r in range(0, len(g), 3)]
    return next(b for b in blocks if b != tuple(zip(*b)))


def _three_blocks(rng: random.Random):
    blocks = []
    odd = rng.randrange(3)
    for i in range(3):
        a, b = pick(rng, 2)
        m = [[rng.choice((a, b)) for _ in range(3)] for _ in range(3)]
        if i != odd:
            m = [[m[min(r, c)][max(r, c)] for c in range(3)] for r in range(3)]
        blocks.append(m)
    require(blocks[odd] != [list(col) for col in zip(*blocks[odd])], "the odd block is symmetric")
    return [row for b in blocks for row in b]


RULES.add("662c240a", _unsymmetric_block, _three_blocks)


def _overlay_corners(g: Grid) -> Grid:
    """bc1d5164: the four 3x3 corners of a 5x7 grid laid over one another."""
    h, w = len(g), len(g[0])
    return tuple(tuple(max(g[r + dy][c + dx] for dy in (0, h - 3) for dx in (0, w - 3)) for c in range(3)) for r in range(3))


def _corner_pieces(rng: random.Random):
    colour = rng.randint(1, 9)
    target = [[colour if rng.random() < 0.5 else 0 for _ in range(3)] for _ in range(3)]
    g = blank(5, 7)
    for r in range(3):
        for c in range(3):
            if target[r][c]:  # each cell of the picture shows up in at least one corner
                dy, dx = rng.choice([(dy, dx) for dy in (0, 2) for dx in (0, 4)])
                g[r + dy][c + dx] = colour
    require(sum(map(sum, target)) > 0, "empty picture")
    return g


RULES.add("bc1d5164", _overlay_corners, _corner_pieces)
