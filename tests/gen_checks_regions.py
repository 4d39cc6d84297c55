"""Rule checks for the regions families (`tasks_lib/pretraining/generators/regions.py`), written from each family's description,
not from its code: each check takes a task's (input, output) pairs, test pair last, and says whether every pair
follows the rule and the train pairs pin the hidden part of it."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import pairwise, product

from tasks_lib.arc.augment import Augmentation, apply_grid
from tasks_lib.arc.data import Grid
from grid_checks import SIDES, Cell, Pairs, groups
from grid_checks import all_cells as _all_cells
from grid_checks import objects as _objects


def _areas(g: Grid, inside: Callable[[int], bool]) -> list[list[Cell]]:
    """4-connected groups of the cells whose colour passes `inside`."""
    return groups(g, same_colour=False, diagonal=False, inside=inside)



def _same_size(ps: Pairs) -> bool:
    return all(len(i) == len(o) and len(i[0]) == len(o[0]) for i, o in ps)


def _present(g: Grid) -> set[int]:
    return {v for row in g for v in row if v}


def _changed(i: Grid, o: Grid) -> list[Cell]:
    return [(y, x) for y, x in _all_cells(i) if i[y][x] != o[y][x]]


# --- rooms ------------------------------------------------------------------------------------------------

def _flood_rooms(ps: Pairs) -> bool:
    def holds(wall: int) -> bool:
        for i, o in ps:
            if any(o[y][x] != wall for y, x in _all_cells(i) if i[y][x] == wall):
                return False
            for room in _areas(i, lambda v: v != wall):
                seeds = {i[y][x] for y, x in room} - {0}
                if len(seeds) > 1 or any(o[y][x] != (min(seeds) if seeds else i[y][x]) for y, x in room):
                    return False
        return True
    return _same_size(ps) and any(holds(wall) for wall in _present(ps[0][0]))


def _rooms_by_size(ps: Pairs) -> bool:
    fills: set[tuple[int, int]] = set()
    for i, o in ps:
        if len(_present(i)) != 1 or not _same_size([(i, o)]):
            return False
        rooms = sorted(_areas(i, lambda v: v == 0), key=len)
        sizes = [len(room) for room in rooms]
        if len(rooms) < 3 or sizes.count(sizes[0]) > 1 or sizes.count(sizes[-1]) > 1:
            return False
        big, small = o[rooms[-1][0][0]][rooms[-1][0][1]], o[rooms[0][0][0]][rooms[0][0][1]]
        fills.add((big, small))
        want = {cell: big for cell in rooms[-1]} | {cell: small for cell in rooms[0]}
        if any(o[y][x] != want.get((y, x), i[y][x]) for y, x in _all_cells(i)):
            return False
    return len(fills) == 1 and 0 not in next(iter(fills))


def _rooms_by_seed_count(ps: Pairs) -> bool:
    def holds(wall: int, seed: int) -> bool:
        by_count: dict[int, int] = {0: 0}
        shown: list[set[int]] = []
        for i, o in ps:
            counts = set()
            for y, x in _all_cells(i):
                if i[y][x] in (wall, seed) and o[y][x] != i[y][x]:
                    return False
            for room in _areas(i, lambda v: v != wall):
                n = sum(i[y][x] == seed for y, x in room)
                counts.add(n)
                for y, x in room:
                    if i[y][x] == 0 and by_count.setdefault(n, o[y][x]) != o[y][x]:
                        return False
            shown.append(counts)
        fills = [c for n, c in by_count.items() if n]
        return (len(set(fills)) == len(fills) and 0 not in fills
                and shown[-1] <= set().union(*shown[:-1]))  # the test's counts are all shown in training
    return _same_size(ps) and all(len(_present(i)) == 2 for i, _ in ps) and any(
        holds(wall, seed) for wall, seed in product(_present(ps[0][0]), repeat=2) if wall != seed)


# --- routes -------------------------------------------------------------------------------------------------

def _straight(a: Cell, b: Cell) -> set[Cell]:
    return {(y, x) for y in range(min(a[0], b[0]), max(a[0], b[0]) + 1)
            for x in range(min(a[1], b[1]), max(a[1], b[1]) + 1)}


def _drawn_between_marks(ps: Pairs, route: Callable[[Grid, Cell, Cell], set[Cell] | None]) -> bool:
    """Same-size pairs whose changed cells, all of one non-background colour, are `route(input, a, b)` (None: no
    single route) between the two cells of one mark colour in every input."""
    if not _same_size(ps):
        return False
    path_colours = {o[y][x] for i, o in ps for y, x in _changed(i, o)}
    if len(path_colours) != 1 or 0 in path_colours:
        return False

    def holds(mark: int) -> bool:
        for i, o in ps:
            ends = [(y, x) for y, x in _all_cells(i) if i[y][x] == mark]
            if len(ends) != 2:
                return False
            want = route(i, *ends)
            if want is None or set(_changed(i, o)) != want:
                return False
        return True
    return any(holds(mark) for mark in _present(ps[0][0]))


def _free_route(ps: Pairs) -> bool:
    def l_route(i: Grid, a: Cell, b: Cell) -> set[Cell] | None:
        routes = [(_straight(a, c) | _straight(c, b)) - {a, b} for c in ((a[0], b[1]), (b[0], a[1]))]
        free = {frozenset(route) for route in routes if all(i[y][x] == 0 for y, x in route)}
        return set(next(iter(free))) if len(free) == 1 else None
    return _drawn_between_marks(ps, l_route)


def _distances(g: Grid, start: Cell, goal: Cell) -> dict[Cell, int]:
    """Steps from `start` over background cells (and onto `goal`), 4-connected."""
    far = {start: 0}
    todo = deque([start])
    while todo:
        y, x = todo.popleft()
        for dy, dx in SIDES:
            n = (y + dy, x + dx)
            if (0 <= n[0] < len(g) and 0 <= n[1] < len(g[0]) and n not in far
                    and (g[n[0]][n[1]] == 0 or n == goal)):
                far[n] = far[(y, x)] + 1
                if n != goal:
                    todo.append(n)
    return far


def _maze_path(ps: Pairs) -> bool:
    def shortest(i: Grid, a: Cell, b: Cell) -> set[Cell] | None:
        from_a, from_b = _distances(i, a, b), _distances(i, b, a)
        if b not in from_a:
            return None
        on_shortest = {c for c in from_a if c in from_b and from_a[c] + from_b[c] == from_a[b]}
        if len(on_shortest) != from_a[b] + 1:  # more than one shortest path
            return None
        return on_shortest - {a, b}
    return _drawn_between_marks(ps, shortest)


# --- growth and insides -------------------------------------------------------------------------------------

def _rings(ps: Pairs) -> bool:
    seeds = []
    for i, _ in ps:
        cells = [(y, x) for y, x in _all_cells(i) if i[y][x]]
        if len(cells) != 1:
            return False
        seeds.append(cells[0])

    def holds(metric: Callable[[int, int], int], k: int) -> bool:
        cycle: dict[int, int] = {}
        for (i, o), (sy, sx) in zip(ps, seeds):
            for y, x in _all_cells(o):
                if cycle.setdefault(metric(y - sy, x - sx) % k, o[y][x]) != o[y][x]:
                    return False
        return all(cycle.get(0) == i[sy][sx] for (i, _), (sy, sx) in zip(ps, seeds))
    metrics = (lambda dy, dx: abs(dy) + abs(dx), lambda dy, dx: max(abs(dy), abs(dx)))
    return _same_size(ps) and any(holds(m, k) for m in metrics for k in (2, 3, 4))


def _recolour_interior(ps: Pairs) -> bool:
    if not _same_size(ps):
        return False
    inner = set()
    for i, o in ps:
        for y, x in _all_cells(i):
            v = i[y][x]
            around = [(y + dy, x + dx) for dy, dx in product((-1, 0, 1), repeat=2)]
            is_inner = v and all(0 <= a < len(i) and 0 <= b < len(i[0]) and i[a][b] == v for a, b in around)
            if is_inner:
                inner.add(o[y][x])
            elif o[y][x] != v:
                return False
    return len(inner) == 1 and not inner & ({0} | {v for i, _ in ps for row in i for v in row})


def _fill_between_lines(ps: Pairs) -> bool:
    if not _same_size(ps):
        return False
    fills = set()

    def holds(i: Grid, o: Grid) -> bool:
        lines = [(y, row[0]) for y, row in enumerate(i) if row[0] and len(set(row)) == 1]
        if len(lines) < 2:
            return False
        between = set()
        for (y1, c1), (y2, c2) in pairwise(lines):
            if c1 == c2:
                between.update((y, x) for y in range(y1 + 1, y2) for x in range(len(i[0])) if i[y][x] == 0)
        if not between or set(_changed(i, o)) != between:
            return False
        fills.update(o[y][x] for y, x in between)
        return True
    for i, o in ps:
        across = apply_grid(Augmentation(dihedral=4), i), apply_grid(Augmentation(dihedral=4), o)
        if not (holds(i, o) or holds(*across)):
            return False
    return len(fills) == 1 and 0 not in fills


def _clean_rects(ps: Pairs) -> bool:
    if not _same_size(ps):
        return False
    specks = {i[y][x] for i, o in ps for y, x in _changed(i, o)}
    if len(specks) != 1:
        return False
    speck, = specks
    for i, o in ps:
        if speck in _present(o) or speck not in _present(i):
            return False
        for colour, cells in _objects(o):  # every output object is a solid rectangle, as wide as its visible part
            ys, xs = [y for y, _ in cells], [x for _, x in cells]
            box = set(product(range(min(ys), max(ys) + 1), range(min(xs), max(xs) + 1)))
            seen = [(y, x) for y, x in box if i[y][x] == colour]
            if set(cells) != box or not seen or (min(y for y, _ in seen), max(y for y, _ in seen),
                                                 min(x for _, x in seen), max(x for _, x in seen)) != (
                    min(ys), max(ys), min(xs), max(xs)):
                return False
        if any(i[y][x] != speck for y, x in _changed(i, o)):
            return False
    return True


# --- objects on the move ------------------------------------------------------------------------------------

def _turns(ps: Pairs) -> list[Pairs]:
    return [[(apply_grid(Augmentation(dihedral=k), i), apply_grid(Augmentation(dihedral=k), o)) for i, o in ps]
            for k in range(8)]


def _stack_objects(ps: Pairs) -> bool:
    def down(i: Grid, o: Grid) -> bool:
        pieces = [(c, list(cells)) for c, cells in _objects(i)]
        settled = False
        while not settled:  # let any piece that can fall drop all the way, until none can
            settled = True
            for n, (c, cells) in enumerate(pieces):
                others = {cell for m, (_, more) in enumerate(pieces) if m != n for cell in more}
                drop = 0
                while all(y + drop + 1 < len(i) and (y + drop + 1, x) not in others for y, x in cells):
                    drop += 1
                if drop:
                    pieces[n] = (c, [(y + drop, x) for y, x in cells])
                    settled = False
        want = {cell: c for c, cells in pieces for cell in cells}
        return all(o[y][x] == want.get((y, x), 0) for y, x in _all_cells(o))
    return _same_size(ps) and any(all(down(i, o) for i, o in turned) for turned in _turns(ps))


def _line_up_by_size(ps: Pairs) -> bool:
    def holds(largest_first: bool) -> bool:
        for i, o in ps:
            found = _objects(i)
            if len({len(cells) for _, cells in found}) != len(found) or not _same_size([(i, o)]):
                return False
            want: dict[Cell, int] = {}
            left = 0
            for colour, cells in sorted(found, key=lambda t: len(t[1]), reverse=largest_first):
                top, first = min(y for y, _ in cells), min(x for _, x in cells)
                height = max(y for y, _ in cells) - top + 1
                want.update({(len(o) - height + y - top, left + x - first): colour for y, x in cells})
                left += max(x for _, x in cells) - first + 2
            if not set(want) <= set(_all_cells(o)) or any(o[y][x] != want.get((y, x), 0) for y, x in _all_cells(o)):
                return False
        return True
    return holds(False) or holds(True)


def _region_borders(ps: Pairs) -> bool:
    if not _same_size(ps):
        return False
    borders = set()
    for i, o in ps:
        for y, x in _all_cells(i):
            on_border = any(0 <= y + dy < len(i) and 0 <= x + dx < len(i[0]) and i[y + dy][x + dx] != i[y][x]
                            for dy, dx in SIDES)
            if on_border:
                borders.add(o[y][x])
            elif o[y][x] != i[y][x]:
                return False
    return len(borders) == 1 and not borders & {v for i, _ in ps for row in i for v in row}


def _anchor_to_line(ps: Pairs) -> bool:
    marks = set()

    def across(i: Grid, o: Grid) -> bool:
        lines = [y for y, row in enumerate(i) if row[0] and len(set(row)) == 1]
        if len(lines) != 1:
            return False
        line, mark = lines[0], i[lines[0]][0]
        rest = tuple(row if y != line else (0,) * len(row) for y, row in enumerate(i))
        want = {(line, x): mark for x in range(len(i[0]))}
        for _, cells in _objects(rest, same_colour=False):
            anchors = [(y, x) for y, x in cells if i[y][x] == mark]
            if len(anchors) != 1 or len(cells) < 2:
                return False
            shift = line - anchors[0][0]
            want.update({(y + shift, x): i[y][x] for y, x in cells})
        marks.add(mark)
        return set(want) <= set(_all_cells(o)) and all(o[y][x] == want.get((y, x), 0) for y, x in _all_cells(o))
    turn = Augmentation(dihedral=4)
    return _same_size(ps) and all(across(i, o) or across(apply_grid(turn, i), apply_grid(turn, o))
                                  for i, o in ps) and len(marks) == 1

REGION_CHECKS: dict[str, Callable[[Pairs], bool]] = {
    "flood_rooms": _flood_rooms, "rooms_by_size": _rooms_by_size, "rooms_by_seed_count": _rooms_by_seed_count,
    "free_route": _free_route, "maze_path": _maze_path, "rings": _rings, "recolour_interior": _recolour_interior,
    "fill_between_lines": _fill_between_lines, "clean_rects": _clean_rects, "stack_objects": _stack_objects,
    "line_up_by_size": _line_up_by_size, "region_borders": _region_borders, "anchor_to_line": _anchor_to_line,
}
