"""Families about regions and space: flood rooms from seeds, colour rooms by their size or by how many seeds
they hold, find the free L-shaped route between two marks or the path through a maze, grow rings around a seed,
recolour the inside of shapes, mark the borders between touching regions, fill between same-coloured lines, clean
noise off rectangles, let whole objects fall and stack, line objects up sorted by size, and move objects onto a
line by their anchor cell.

Contract: as in `geometry`: a family draws its task's rule once and returns a pair drawer; outputs are computed
from inputs by the rule; a draw that would make the rule ambiguous (tied sizes, two free routes, a colour cycle
the pairs never show in full) raises `grid.Retry`. A room is a 4-connected region of non-wall cells; objects are
8-connected groups of one colour, placed apart so that each drawn shape is exactly one object.
"""

from __future__ import annotations

import random
from itertools import pairwise

from tasks_lib.arc.data import Grid
from tasks_lib.pretraining.generators.grid import (COLOURS, Canvas, Cell, PairFn, Retry, STEPS4, blank, colours, components, dims,
                                       extent, freeze, noise, paint, place, rect, scene, shape, side_range, thaw, turn)


def _line_positions(r: random.Random, n: int) -> list[int]:
    """Indices in 1..n-2 for full wall lines, at least one cell apart, so every room is at least one cell wide."""
    found, at = [], r.randint(1, 4)
    while at < n - 1:
        found.append(at)
        at += r.randint(2, 6)
    return found


def _walled(r: random.Random, h: int, w: int, wall: int, door: float) -> Canvas:
    """Full wall lines across and down the grid; each wall cell off a crossing is a door (background) with
    probability `door`, so some rooms merge into L- and T-shaped ones."""
    canvas = blank(h, w)
    rows, cols = _line_positions(r, h), _line_positions(r, w)
    crossings = {(y, x) for y in rows for x in cols}
    cells = [(y, x) for y in rows for x in range(w)] + [(y, x) for x in cols for y in range(h)]
    for y, x in cells:
        canvas[y][x] = 0 if (y, x) not in crossings and r.random() < door else wall
    return canvas


def _rooms(canvas: Canvas, wall: int) -> list[list[Cell]]:
    """4-connected regions of cells that are not wall, in reading order."""
    mask = [[int(v != wall) for v in row] for row in canvas]
    return components(mask, bg=0, diagonal=False)


def flood_rooms(rng: random.Random) -> PairFn:
    """Walls with doors cut the grid into rooms; every room that holds seed pixels (all of one colour) is flooded
    with the seeds' colour; rooms without a seed stay empty."""
    wall = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, wall))
    lo, hi = side_range(rng, 6, 30)
    door = rng.uniform(0.02, 0.12)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp = _walled(r, h, w, wall, door)
        rooms = _rooms(inp, wall)
        if len(rooms) < 2:
            raise Retry("one room only")
        out = thaw(inp)
        for k in r.sample(range(len(rooms)), r.randint(1, len(rooms) - 1)):
            c = r.choice(palette)
            paint(inp, r.sample(rooms[k], r.randint(1, min(2, len(rooms[k])))), c)
            paint(out, rooms[k], c)
        return freeze(inp), freeze(out)
    return pair


def rooms_by_size(rng: random.Random) -> PairFn:
    """Walls with doors cut the grid into rooms; the largest room is filled with one fixed colour and the
    smallest with another (sizes are counted in cells; ties are not drawn)."""
    wall, big, small = colours(rng, 3)
    lo, hi = side_range(rng, 7, 30)
    door = rng.uniform(0.0, 0.08)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp = _walled(r, h, w, wall, door)
        rooms = sorted(_rooms(inp, wall), key=len)
        if len(rooms) < 3 or len(rooms[0]) == len(rooms[1]) or len(rooms[-1]) == len(rooms[-2]):
            raise Retry("fewer than three rooms, or a tie for largest or smallest")
        out = thaw(inp)
        paint(out, rooms[-1], big)
        paint(out, rooms[0], small)
        return freeze(inp), freeze(out)
    return pair


def rooms_by_seed_count(rng: random.Random) -> PairFn:
    """Walls cut the grid into rooms holding 0 to k seed pixels of one colour; every room's empty cells take the
    colour a fixed map gives its seed count (1..k); seeds stay, rooms without seeds stay empty. Every pair shows
    every count."""
    wall, seed = colours(rng, 2)
    k = rng.randint(2, 3)
    fills = colours(rng, k, exclude=(0, wall, seed))
    lo, hi = side_range(rng, 8, 30)
    door = rng.uniform(0.0, 0.06)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp = _walled(r, h, w, wall, door)
        rooms = _rooms(inp, wall)
        roomy = [n for n, room in enumerate(rooms) if len(room) > k]
        if len(roomy) < k or len(rooms) < k + 1:
            raise Retry("too few rooms to show every count")
        counts = {n: r.randint(0, min(k, len(room) - 1)) for n, room in enumerate(rooms)}  # a fill cell left
        counts.update(zip(r.sample(roomy, k), range(1, k + 1)))
        if 0 not in counts.values():
            raise Retry("no empty room")
        out = thaw(inp)
        for n, room in enumerate(rooms):
            if not counts[n]:
                continue
            seeds = r.sample(room, counts[n])
            paint(out, room, fills[counts[n] - 1])
            paint(inp, seeds, seed)
            paint(out, seeds, seed)
        return freeze(inp), freeze(out)
    return pair


def _segment(a: Cell, b: Cell) -> set[Cell]:
    """The cells of the straight row or column segment from a to b, both included."""
    (y1, x1), (y2, x2) = a, b
    return {(y, x) for y in range(min(y1, y2), max(y1, y2) + 1) for x in range(min(x1, x2), max(x1, x2) + 1)}


def _l_route(a: Cell, b: Cell, row_first: bool) -> set[Cell]:
    """The cells between a and b (both excluded) on the L-shaped route along a's row first, or its column first."""
    corner = (a[0], b[1]) if row_first else (b[0], a[1])
    return (_segment(a, corner) | _segment(corner, b)) - {a, b}


def free_route(rng: random.Random) -> PairFn:
    """Two marks of one colour among obstacle pixels; of the two L-shaped routes between them (along the row
    first or the column first) exactly one crosses no obstacle, and it is drawn in a fixed colour. Marks on one
    row or column are joined by the straight line, which is free."""
    mark, path, obstacle = colours(rng, 3)
    lo, hi = side_range(rng, 6, 30)
    density = rng.uniform(0.05, 0.25)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp = noise(r, h, w, [obstacle], density)
        a, b = r.sample([(y, x) for y in range(h) for x in range(w)], 2)
        if r.random() < 0.2:
            b = (a[0], b[1]) if r.random() < 0.5 else (b[0], a[1])
        if abs(a[0] - b[0]) + abs(a[1] - b[1]) < 2:
            raise Retry("marks too close for a route")
        routes = [_l_route(a, b, True), _l_route(a, b, False)]
        r.shuffle(routes)
        chosen, other = routes
        blockable = sorted(other - chosen)
        if blockable and not any(inp[y][x] for y, x in blockable):
            y, x = r.choice(blockable)
            inp[y][x] = obstacle
        paint(inp, chosen, 0)
        paint(inp, [a, b], mark)
        out = thaw(inp)
        paint(out, chosen, path)
        return freeze(inp), freeze(out)
    return pair


def maze_path(rng: random.Random) -> PairFn:
    """A maze of one wall colour with exactly one path between two marks of another colour; the output draws
    that path (the marks excluded) in a fixed colour."""
    wall, mark, path = colours(rng, 3)
    lo, hi = rng.choice(((2, 4), (3, 6), (4, 9), (5, 14)))  # maze rooms per side; the grid is 2n+1 cells

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        ny, nx = dims(r, lo, hi)
        h, w = 2 * ny + 1, 2 * nx + 1
        inp = blank(h, w, wall)
        start = (r.randrange(ny), r.randrange(nx))
        seen, stack = {start}, [start]
        inp[2 * start[0] + 1][2 * start[1] + 1] = 0
        while stack:  # depth-first carving: a spanning tree of the rooms, so every two rooms have one path
            y, x = stack[-1]
            fresh = [(y + dy, x + dx) for dy, dx in STEPS4 if 0 <= y + dy < ny and 0 <= x + dx < nx
                     and (y + dy, x + dx) not in seen]
            if not fresh:
                stack.pop()
                continue
            n = r.choice(fresh)
            seen.add(n)
            stack.append(n)
            inp[2 * n[0] + 1][2 * n[1] + 1] = 0
            inp[y + n[0] + 1][x + n[1] + 1] = 0
        a, b = r.sample([(2 * y + 1, 2 * x + 1) for y in range(ny) for x in range(nx)], 2)
        back = {a: a}
        todo = [a]
        while todo:  # the tree path from a to b, by walking back from b
            y, x = todo.pop()
            for dy, dx in STEPS4:
                n = (y + dy, x + dx)
                if 0 <= n[0] < h and 0 <= n[1] < w and inp[n[0]][n[1]] == 0 and n not in back:
                    back[n] = (y, x)
                    todo.append(n)
        out = thaw(inp)
        at = back[b]
        while at != a:
            out[at[0]][at[1]] = path
            at = back[at]
        paint(inp, [a, b], mark)
        paint(out, [a, b], mark)
        return freeze(inp), freeze(out)
    return pair


def rings(rng: random.Random) -> PairFn:
    """One seed pixel; every cell of the output takes the colour of its distance from the seed (Chebyshev:
    square rings, or Manhattan: diamonds, fixed per task) in a fixed repeating cycle of colours that starts with
    the seed's colour. Every pair shows the whole cycle."""
    k = rng.randint(2, 4)
    seed = rng.choice(COLOURS)
    cycle = [seed] + colours(rng, k - 1, exclude=(seed,))
    manhattan = rng.random() < 0.4
    lo, hi = side_range(rng, 5, 20)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        sy, sx = r.randrange(h), r.randrange(w)

        def dist(y: int, x: int) -> int:
            return abs(y - sy) + abs(x - sx) if manhattan else max(abs(y - sy), abs(x - sx))
        if dist(0, 0) < k and dist(0, w - 1) < k and dist(h - 1, 0) < k and dist(h - 1, w - 1) < k:
            raise Retry("the grid does not show the whole cycle")
        inp = blank(h, w)
        inp[sy][sx] = seed
        out = [[cycle[dist(y, x) % k] for x in range(w)] for y in range(h)]
        return freeze(inp), freeze(out)
    return pair


def _blob(r: random.Random, top: int) -> list[Cell]:
    """A union of two or three overlapping rectangles, each at least 3x3, inside a top x top box."""
    cells = set(rect(r.randint(3, top), r.randint(3, top)))
    for _ in range(r.randint(1, 2)):
        bh, bw = r.randint(3, top), r.randint(3, top)
        y0, x0 = r.randint(0, top - bh), r.randint(0, top - bw)
        if any((y0 + y, x0 + x) in cells for y, x in rect(bh, bw)):  # overlapping, so the union stays one piece
            cells.update((y0 + y, x0 + x) for y, x in rect(bh, bw))
    return sorted(cells)


def recolour_interior(rng: random.Random) -> PairFn:
    """Shapes made of overlapping rectangles: every cell whose eight neighbours all belong to its shape (the
    interior) takes one fixed colour; the outline keeps the shape's colour."""
    inner = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, inner))
    lo, hi = side_range(rng, 6, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        shapes = [_blob(r, min(7, h, w)) for _ in range(r.randint(1, max(1, min(4, h * w // 40))))]
        inp, _ = scene(r, h, w, shapes, palette)
        out = thaw(inp)
        for y in range(1, h - 1):
            for x in range(1, w - 1):
                v = inp[y][x]
                if v and all(inp[y + dy][x + dx] == v for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
                    out[y][x] = inner
        return freeze(inp), freeze(out)
    return pair


def fill_between_lines(rng: random.Random) -> PairFn:
    """Full-length parallel lines of a few colours and scattered pixels; the background between two neighbouring
    lines of the same colour is filled with a fixed colour (pixels there stay); between lines of different
    colours nothing changes. The lines run across or down the grid, drawn per pair."""
    fill, dots = colours(rng, 2)
    palette = colours(rng, rng.randint(2, 3), exclude=(0, fill, dots))
    lo, hi = side_range(rng, 7, 30)
    density = rng.uniform(0.0, 0.12)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        inp = noise(r, h, w, [dots], density)
        ys, y = [], r.randint(0, 2)
        while y < h:
            ys.append(y)
            y += r.randint(2, 5)
        if len(ys) < 3:
            raise Retry("too few lines")
        line_colours = [r.choice(palette) for _ in ys]
        for y, c in zip(ys, line_colours):
            inp[y] = [c] * w
        out = thaw(inp)
        same = diff = 0
        for (y1, c1), (y2, c2) in pairwise(zip(ys, line_colours)):
            same += c1 == c2
            diff += c1 != c2
            if c1 == c2:
                for y in range(y1 + 1, y2):
                    out[y] = [fill if v == 0 else v for v in out[y]]
        if not same or not diff:
            raise Retry("the pair must show a filled and an unfilled gap")
        if any(inp[0][x] and all(inp[y][x] == inp[0][x] for y in range(h)) for x in range(w)):
            raise Retry("a full column would read as a line too")
        if any(y not in ys and all(inp[y]) for y in range(h)):
            raise Retry("a full row of pixels would read as a line")
        if r.random() < 0.5:  # lines down the grid
            return turn(4, inp), turn(4, out)
        return freeze(inp), freeze(out)
    return pair


def clean_rects(rng: random.Random) -> PairFn:
    """Solid rectangles under noise pixels of one fixed colour; the noise is removed: noise on a rectangle takes
    the rectangle's colour, noise elsewhere becomes background."""
    speck = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, speck))
    lo, hi = side_range(rng, 8, 30)
    density = rng.uniform(0.04, 0.15)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        n = r.randint(1, max(1, min(4, h * w // 40)))
        boxes = [rect(r.randint(2, min(8, h)), r.randint(2, min(8, w))) for _ in range(n)]
        out = blank(h, w)
        for cells, at in zip(boxes, place(r, h, w, boxes)):
            paint(out, cells, r.choice(palette), at)
        inp = [[speck if r.random() < density else v for v in row] for row in out]
        for obj in components(out, bg=0, diagonal=True):  # every rectangle still shows its extent through the noise
            ys = {y for y, x in obj if inp[y][x] != speck}
            xs = {x for y, x in obj if inp[y][x] != speck}
            if {y for y, _ in obj} != ys or {x for _, x in obj} != xs:
                raise Retry("noise hides a rectangle's row or column")
        return freeze(inp), freeze(out)
    return pair


def _fall(objects: list[tuple[list[Cell], int]], h: int) -> list[tuple[list[Cell], int]]:
    """The objects after falling down as rigid pieces until each rests on the floor or on another object."""
    placed = [list(cells) for cells, _ in objects]
    moved = True
    while moved:  # one step at a time for every piece that can move; the resting state does not depend on order
        moved = False
        for n, cells in enumerate(placed):
            others = {cell for m, other in enumerate(placed) if m != n for cell in other}
            if all(y + 1 < h and (y + 1, x) not in others for y, x in cells):
                placed[n] = [(y + 1, x) for y, x in cells]
                moved = True
    return [(cells, c) for cells, (_, c) in zip(placed, objects)]


def stack_objects(rng: random.Random) -> PairFn:
    """Objects fall in one fixed direction as rigid pieces and pile up: each stops on the border or on an object
    that has already come to rest."""
    k = rng.choice((0, 1, 4, 6))  # the dihedral view that turns the canonical "down" into this task's direction
    palette = colours(rng, rng.randint(2, 4))
    lo, hi = side_range(rng, 6, 20)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        shapes = [shape(r, r.randint(1, 3), r.randint(1, 3)) for _ in range(r.randint(2, max(2, h * w // 20)))]
        inp, objects = scene(r, h, w, shapes, palette)
        out = blank(h, w)
        for cells, c in _fall(objects, h):
            paint(out, cells, c)
        return turn(k, inp), turn(k, out)
    return pair


def line_up_by_size(rng: random.Random) -> PairFn:
    """Objects of distinct sizes (cell counts) lie scattered; the output lines them up along the bottom row,
    sorted by size (smallest first, or largest first for some tasks), packed from the left edge with one empty
    column between neighbours."""
    descending = rng.random() < 0.5
    palette = colours(rng, rng.randint(1, 4))
    lo, hi = side_range(rng, 7, 20)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        n = r.randint(2, min(5, (w + 1) // 3))
        sizes = r.sample(range(1, 10), n)
        shapes = [shape(r, min(3, s), min(3, s), s) for s in sizes]
        if sum(extent(s)[1] for s in shapes) + n - 1 > w:
            raise Retry("the row of objects is wider than the grid")
        inp, out = blank(h, w), blank(h, w)
        tinted = [(cells, r.choice(palette)) for cells in shapes]
        for (cells, c), at in zip(tinted, place(r, h, w, shapes)):
            paint(inp, cells, c, at)
        x = 0
        for cells, c in sorted(tinted, key=lambda t: len(t[0]), reverse=descending):
            sh, sw = extent(cells)
            paint(out, cells, c, (h - sh, x))
            x += sw + 1
        return freeze(inp), freeze(out)
    return pair


def region_borders(rng: random.Random) -> PairFn:
    """The grid is covered by regions of solid colour (each cell takes the colour of its nearest centre, by steps
    along rows and columns); every cell with a side neighbour of another colour becomes a fixed border colour."""
    border = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(2, 4), exclude=(border,))  # background may be one of the regions
    lo, hi = side_range(rng, 5, 20)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        centres = [(r.randrange(h), r.randrange(w), r.choice(palette)) for _ in range(r.randint(2, 6))]
        inp = [[min(centres, key=lambda c: abs(c[0] - y) + abs(c[1] - x))[2] for x in range(w)] for y in range(h)]
        out = thaw(inp)
        for y in range(h):
            for x in range(w):
                if any(0 <= y + dy < h and 0 <= x + dx < w and inp[y + dy][x + dx] != inp[y][x] for dy, dx in STEPS4):
                    out[y][x] = border
        return freeze(inp), freeze(out)
    return pair


def anchor_to_line(rng: random.Random) -> PairFn:
    """A full line of an anchor colour crosses the grid; every object carries one cell of that colour and moves
    straight towards the line until that cell lies on it (the object's other cells then cover the line or sit
    beside it). The line runs across or down the grid, drawn per pair."""
    anchor = rng.choice(COLOURS)
    palette = colours(rng, rng.randint(1, 3), exclude=(0, anchor))
    lo, hi = side_range(rng, 9, 30)

    def pair(r: random.Random) -> tuple[Grid, Grid]:
        h, w = dims(r, lo, hi)
        b = r.randint(3, h - 4)  # the line's row in the canonical (horizontal) view
        inp, out = blank(h, w), blank(h, w)
        paint(inp, [(b, x) for x in range(w)], anchor)
        paint(out, [(b, x) for x in range(w)], anchor)
        moves = []
        x = r.randint(0, 2)
        while x < w:  # objects sit in column bands of their own, so none meets another
            bw = min(r.randint(1, 3), w - x)
            if r.random() < 0.7:
                cells = shape(r, r.randint(1, 3), bw)
                if len(cells) < 2:
                    x += 1
                    continue
                sh, sw = extent(cells)
                ay, ax = r.choice(cells)
                rows = [y for y in range(h - sh + 1) if y + sh <= b - 1 or y >= b + 2]  # clear of the line
                if rows and 0 <= b - ay and b - ay + sh <= h:
                    y0 = r.choice(rows)
                    c = r.choice(palette)
                    moves.append((cells, (ay, ax), c, (y0, x), (b - ay, x)))
                    x += sw
            x += 1 + r.randint(0, 2)
        if not moves:
            raise Retry("no object")
        for cells, (ay, ax), c, (y0, x0), (y1, _) in moves:
            paint(inp, cells, c, (y0, x0))
            paint(out, cells, c, (y1, x0))
            inp[y0 + ay][x0 + ax] = anchor
            out[y1 + ay][x0 + ax] = anchor
        k = r.choice((0, 4))
        return turn(k, inp), turn(k, out)
    return pair


FAMILIES = {
    "flood_rooms": flood_rooms,
    "rooms_by_size": rooms_by_size,
    "rooms_by_seed_count": rooms_by_seed_count,
    "free_route": free_route,
    "maze_path": maze_path,
    "rings": rings,
    "recolour_interior": recolour_interior,
    "fill_between_lines": fill_between_lines,
    "clean_rects": clean_rects,
    "stack_objects": stack_objects,
    "line_up_by_size": line_up_by_size,
    "region_borders": region_borders,
    "anchor_to_line": anchor_to_line,
}
