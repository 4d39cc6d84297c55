"""Rules of ARC-AGI-2 training tasks (not ARC-AGI-1 ones) that count or gather a colour's cells: a legend's bars
count its colours' objects, a frame takes its commonest inner colour, stray cells join the block of their colour,
cells gather into a centred row or pile into pyramids, and rooms read out as the colours they hold.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random
from collections import Counter

from tasks_lib.pretraining.generators.grid import bbox, extent, outline, paint, place, rect, shape
from tasks_lib.pretraining.rules.base import Grid, Registry, blank, cells_of, components, pick, require

RULES = Registry()
LEGEND_ROWS = (1, 3, 5)  # edcc2ff0: where the legend's colours sit, in column 0


def _count_bars(g: Grid) -> Grid:
    """edcc2ff0: below a legend of three colours (column 0, rows 1, 3 and 5) lies a board of one colour with
    objects on it; each legend cell grows into a bar as long as its colour's number of objects (none: it goes), and
    objects of colours not in the legend go."""
    bg, w = g[7][0], len(g[0])
    legend = [g[r][0] for r in LEGEND_ROWS]
    board = [list(row) for row in g[7:]]
    tally: Counter = Counter()
    for cells in components(board, bg=bg, diagonal=False):
        colour = board[cells[0][0]][cells[0][1]]
        if colour in legend:
            tally[colour] += 1
        else:
            paint(board, cells, bg)
    out = blank(7, w)
    for r, colour in zip(LEGEND_ROWS, legend):
        out[r][:tally[colour]] = [colour] * tally[colour]
    return out + board


def _legend_and_board(rng: random.Random):
    bg, *legend = pick(rng, 4)
    others = pick(rng, rng.randint(0, 2), [c for c in range(1, 10) if c != bg and c not in legend])
    colours = [c for c in legend for _ in range(rng.choice((0, 1, 2, 2, 3, 4, 5)))] + others
    require(len(colours) >= 2, "too few objects")
    blocks = [rect(rng.randint(1, 3), rng.randint(1, 4)) for _ in colours]
    g = blank(7, 10) + blank(13, 10, bg)
    for cells, (r0, c0), colour in zip(blocks, place(rng, 11, 8, blocks, gap=1), colours):
        paint(g, cells, colour, (r0 + 8, c0 + 1))
    for r, colour in zip(LEGEND_ROWS, legend):
        g[r][0] = colour
    return g


RULES.add("edcc2ff0", _count_bars, _legend_and_board)


def _box_the_commonest(g: Grid) -> Grid:
    """ff2825db: under a fixed top row, a frame holds scattered cells; the frame takes the colour of the commonest
    of them, they all go, and the outline of the box around that colour's cells is drawn in it."""
    h, w = len(g), len(g[0])
    inner = [(r, c) for r in range(2, h - 1) for c in range(1, w - 1) if g[r][c]]
    (colour, _), = Counter(g[r][c] for r, c in inner).most_common(1)
    top, left, bottom, right = bbox([(r, c) for r, c in inner if g[r][c] == colour])
    out = [list(g[0])] + [[colour] * w] + [[colour] + [0] * (w - 2) + [colour] for _ in range(h - 3)] + [[colour] * w]
    paint(out, outline(bottom - top + 1, right - left + 1), colour, (top, left))
    return out


def _frame_with_scatter(rng: random.Random):
    frame, *inner = pick(rng, rng.randint(3, 4), (1, 2, 3, 4, 5))
    sizes = sorted((rng.randint(1, 4) for _ in inner), reverse=True)
    sizes[0] += rng.randint(1, 3)
    spots = rng.sample([(r, c) for r in range(2, 9) for c in range(1, 9)], sum(sizes))
    g = [[1, 1, 2, 2, 3, 3, 4, 4, 5, 5]] + [[frame] * 10] + [[frame] + [0] * 8 + [frame] for _ in range(7)]
    g.append([frame] * 10)
    it = iter(spots)
    for colour, k in zip(inner, sizes):
        for _ in range(k):
            r, c = next(it)
            g[r][c] = colour
    top, left, bottom, right = bbox(cells_of(g[2:9], inner[0]))
    require(bottom > top and right > left, "the commonest colour's box is a line")
    return g


RULES.add("ff2825db", _box_the_commonest, _frame_with_scatter)


def _stray_target(r: int, c: int, toward_top: bool) -> tuple[int, int]:
    """Where a stray at (r, c) comes to rest beside its block: the top-left block when `toward_top`, else the
    bottom-right one (seen as the top-left of the grid turned half round)."""
    if not toward_top:
        r, c = _stray_target(8 - r, 8 - c, True)
        return 8 - r, 8 - c
    if r < 3:
        return r, 3
    if c < 3:
        return 3, c
    k = min(r, c) - 2  # off the block's lines: diagonally in
    return r - k, c - k


def _join_blocks(g: Grid) -> Grid:
    """f28a3cbb: a 9x9 of 6 holds a 3x3 block in its top-left and one in its bottom-right corner and stray cells
    of their colours; a stray in its block's rows slides across, one in its block's columns slides along it, and
    one beside their corner slides diagonally in, up to the block's side."""
    a, b = g[0][0], g[8][8]
    out = [[a if r < 3 and c < 3 else b if r > 5 and c > 5 else 6 for c in range(9)] for r in range(9)]
    for r, c in cells_of(g, bg=6):
        if not ((r < 3 and c < 3) or (r > 5 and c > 5)):
            tr, tc = _stray_target(r, c, g[r][c] == a)
            out[tr][tc] = g[r][c]
    return out


NEAR_CORNER = {True: ((3, 4), (4, 3)), False: ((5, 4), (4, 5))}  # off-line strays the task shows, by block


def _blocks_and_strays(rng: random.Random):
    a, b = pick(rng, 2, (1, 2, 3, 4, 5, 7, 8, 9))
    g = [[a if r < 3 and c < 3 else b if r > 5 and c > 5 else 6 for c in range(9)] for r in range(9)]
    landed: set[tuple[int, int]] = set()
    moved = 0
    for _ in range(rng.randint(5, 10)):
        top = rng.random() < 0.5
        lines = [(r, c) for r in range(9) for c in range(9) if g[r][c] == 6
                 and ((r < 3 or c < 3) if top else (r > 5 or c > 5))]
        r, c = rng.choice(lines + [p for p in NEAR_CORNER[top] if g[p[0]][p[1]] == 6])
        to = _stray_target(r, c, top)
        if to in landed:
            continue  # two strays would land on one cell
        landed.add(to)
        moved += to != (r, c)
        g[r][c] = a if top else b
    require(moved > 0, "no stray moves")
    return g


RULES.add("f28a3cbb", _join_blocks, _blocks_and_strays)


def _line_of_all(g: Grid) -> Grid:
    """dce56571: on a background of 8, the cells of the one colour gather into a row as long as their number,
    centred in the middle row."""
    h, w = len(g), len(g[0])
    cells = cells_of(g, bg=8)
    colour, n = g[cells[0][0]][cells[0][1]], len(cells)
    out = blank(h, w, 8)
    out[h // 2][(w - n) // 2:(w + n) // 2] = [colour] * n
    return out


def _scattered_scrawl(rng: random.Random):
    h, w = rng.randint(5, 11), rng.randint(8, 28)
    cells = shape(rng, rng.randint(2, h - 1), rng.randint(2, min(w, 8)))
    require((w - len(cells)) % 2 == 0 and len(cells) <= w, "the row cannot be centred")
    g = blank(h, w, 8)
    sh, sw = extent(cells)
    paint(g, cells, rng.choice((1, 2, 3, 4, 5, 6, 9)), (rng.randint(0, h - sh), rng.randint(0, w - sw)))
    return g


RULES.add("dce56571", _line_of_all, _scattered_scrawl)


def _pile_pyramids(g: Grid) -> Grid:
    """3d6c6e23: each column holds a square number k*k of coloured cells; they pile at the bottom into a pyramid
    centred on the column (rows of 1, 3, ..., 2k-1 cells), filled from its top in their order down the column."""
    h, w = len(g), len(g[0])
    out = blank(h, w)
    for c in range(w):
        colours = [g[r][c] for r in range(h) if g[r][c]]
        k = round(len(colours) ** 0.5)
        spots = [(h - k + i, c + j) for i in range(k) for j in range(-i, i + 1)]
        for (r, x), colour in zip(spots, colours):
            out[r][x] = colour
    return out


def _dotted_columns(rng: random.Random):
    h, w = rng.randint(16, 30), rng.randint(9, 13)
    sizes = [rng.randint(2, 4) for _ in range(rng.choice((1, 1, 2)))]
    bases = [[(0, j) for j in range(2 * k - 1)] for k in sizes]  # each pyramid's bottom row, kept apart
    g = blank(h, w)
    for k, (_, left) in zip(sizes, place(rng, 1, w, bases, gap=1)):
        require(h - k >= k * k, "the column is too short for its cells")
        rows = sorted(rng.sample(range(h - k), k * k))
        cuts = sorted(rng.sample(range(1, k), rng.randint(0, k - 1)))
        colours = pick(rng, len(cuts) + 1, (1, 2, 4, 6, 7, 8))
        by_row = [colours[sum(i >= cut for cut in cuts)] for i in range(k) for _ in range(2 * i + 1)]
        for r, colour in zip(rows, by_row):
            g[r][left + k - 1] = colour
    return g


RULES.add("3d6c6e23", _pile_pyramids, _dotted_columns)


def _room_contents(g: Grid) -> Grid:
    """ac6f9922: inside a border of the background, a frame of one colour walls off a grid of rooms; each room reads
    as the colour it holds besides the background, or the background when it is empty."""
    bg = g[0][0]
    frame = next(v for row in g for v in row if v != bg)
    top, left, bottom, right = bbox(cells_of(g, frame))
    walled = [[1 if top < r < bottom and left < c < right and v != frame else 0 for c, v in enumerate(row)]
              for r, row in enumerate(g)]
    rooms = components(walled, diagonal=False)
    tops = sorted({cells[0][0] for cells in rooms})
    lefts = sorted({min(c for _, c in cells) for cells in rooms})
    out = blank(len(tops), len(lefts), bg)
    for cells in rooms:
        held = {g[r][c] for r, c in cells} - {bg}
        if held:
            out[tops.index(cells[0][0])][lefts.index(min(c for _, c in cells))] = held.pop()
    return out


def _rooms_with_marks(rng: random.Random):
    bg, frame, *marks = pick(rng, 5)
    n_rows, n_cols = rng.randint(2, 3), rng.randint(2, 3)

    def layout(n: int) -> list[int]:  # per line: -1 outer border, 0 frame, k > 0 room k
        lines = [-1] * rng.randint(1, 2) + [0] * rng.randint(1, 2)
        for k in range(1, n + 1):
            lines += [k] * rng.randint(2, 4) + [0] * rng.randint(1, 2)
        return lines + [-1] * rng.randint(1, 2)

    rows, cols = layout(n_rows), layout(n_cols)
    require(len(rows) <= 19 and len(cols) <= 19, "the rooms do not fit")
    g = [[bg if a < 0 or b < 0 else frame if a == 0 or b == 0 else bg for b in cols] for a in rows]
    for i in range(1, n_rows + 1):
        for j in range(1, n_cols + 1):
            if rng.random() < 0.5:
                rr, cc = [r for r, a in enumerate(rows) if a == i], [c for c, b in enumerate(cols) if b == j]
                hh, ww = rng.randint(1, len(rr)), rng.randint(1, len(cc))
                r0, c0 = rng.randint(rr[0], rr[-1] - hh + 1), rng.randint(cc[0], cc[-1] - ww + 1)
                paint(g, rect(hh, ww), rng.choice(marks), (r0, c0))
    return g


RULES.add("ac6f9922", _room_contents, _rooms_with_marks)
