"""Rule checks for the counting and comparison families (`tasks_lib/pretraining/generators/arith.py`), written from each
family's description, not from its code: each check takes a task's (input, output) pairs, test pair last, and
says whether every pair follows the rule and the train pairs pin the hidden part of it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from itertools import pairwise, product

from tasks_lib.arc.augment import Augmentation, apply_grid
from tasks_lib.arc.data import Grid
from grid_checks import Cell, Pairs
from grid_checks import cells as _cells
from grid_checks import objects as _objects
from grid_checks import size as _size



def _turns(g: Grid) -> Iterator[tuple[int, Grid]]:
    for k in range(8):
        yield k, apply_grid(Augmentation(dihedral=k), g)


def _norm(cells: list[Cell]) -> tuple[Cell, ...]:
    y0, x0 = min(y for y, _ in cells), min(x for _, x in cells)
    return tuple(sorted((y - y0, x - x0) for y, x in cells))


def _alone(g: Grid, cells: list[Cell]) -> Grid:
    """The cells' colours on their bounding box, everything else background."""
    keep = set(cells)
    ys, xs = [y for y, _ in cells], [x for _, x in cells]
    return tuple(tuple(g[y][x] if (y, x) in keep else 0 for x in range(min(xs), max(xs) + 1))
                 for y in range(min(ys), max(ys) + 1))


def _blank_outside(o: Grid, cells: set[Cell]) -> bool:
    return all(not v or (y, x) in cells for y, row in enumerate(o) for x, v in enumerate(row))


def _bar_arithmetic(ps: Pairs) -> bool:
    ops: dict[str, Callable[[int, int], int]] = {"add": lambda p, q: p + q, "subtract": lambda p, q: abs(p - q)}
    fitting, out_colours = set(ops), set()
    for i, o in ps:
        bars = _objects(i)
        if len(bars) != 2 or bars[0][0] == bars[1][0] or not (len(o) == 1 or len(o[0]) == 1):
            return False
        if any(len({y for y, _ in cells}) > 1 and len({x for _, x in cells}) > 1 for _, cells in bars):
            return False  # a bar is straight
        out_colours |= {v for r in o for v in r}
        p, q = (len(cells) for _, cells in bars)
        fitting = {name for name in fitting if ops[name](p, q) == len(o) * len(o[0])}
    return bool(fitting) and len(out_colours) == 1 and 0 not in out_colours


def _halves(i: Grid, o: Grid) -> tuple[Grid, Grid] | None:
    """The two halves of the input on either side of a middle divider line, if it has one and they are the output's
    size."""
    h, w = _size(o)
    if _size(i) == (2 * h + 1, w) and i[h][0] and len(set(i[h])) == 1:
        return i[:h], i[h + 1:]
    if _size(i) == (h, 2 * w + 1) and i[0][w] and len({r[w] for r in i}) == 1:
        return tuple(r[:w] for r in i), tuple(r[w + 1:] for r in i)
    return None


def _fuller_half(ps: Pairs) -> bool:
    picks_fuller = set()
    for i, o in ps:
        halves = _halves(i, o)
        if halves is None or o not in halves:
            return False
        a, b = (len(_cells(g)) for g in halves)
        if a == b:
            return False
        picks_fuller.add((o == halves[0]) == (a > b))
    return len(picks_fuller) == 1


def _unique_shape(ps: Pairs) -> bool:
    for i, o in ps:
        objects = _objects(i)
        counts = Counter(_norm(cells) for _, cells in objects)
        once = [cells for _, cells in objects if counts[_norm(cells)] == 1]
        if len(objects) < 3 or len(once) != 1 or o != _alone(i, once[0]):
            return False
    return True


def _most_common_shape(ps: Pairs) -> bool:
    marks = set()
    for i, o in ps:
        ranked = Counter(_norm(cells) for _, cells in _objects(i)).most_common()
        if len(ranked) < 2 or ranked[0][1] == ranked[1][1]:
            return False
        top = ranked[0][0]
        marks |= {v for r in o for v in r} - {0}
        if tuple(_cells(o)) != top or _size(o) != (1 + max(y for y, _ in top), 1 + max(x for _, x in top)):
            return False
    return len(marks) == 1


def _parity_recolour(ps: Pairs) -> bool:
    by_parity: dict[int, set[int]] = {0: set(), 1: set()}
    for i, o in ps:
        objects = _objects(i)
        if (_size(o) != _size(i) or len({c for c, _ in objects}) != 1
                or not _blank_outside(o, set(_cells(i)))):
            return False
        for _, cells in objects:
            by_parity[len(cells) % 2] |= {o[y][x] for y, x in cells}
    even, odd = by_parity[0], by_parity[1]
    return len(even) == len(odd) == 1 and even != odd and 0 not in even | odd


VOTES: dict[str, Callable[[int, int], bool]] = {
    "all": lambda k, n: k == n, "any": lambda k, n: k > 0, "odd": lambda k, n: k % 2 == 1,
    "majority": lambda k, n: k > n / 2,
}


def _panels(i: Grid, o: Grid) -> list[Grid] | None:
    """The 3 or 4 output-sized panels of the input, between one-cell divider lines."""
    h, w = _size(o)
    for n in (3, 4):
        if _size(i) == (n * h + n - 1, w):
            return [i[k * (h + 1):k * (h + 1) + h] for k in range(n)]
        if _size(i) == (h, n * w + n - 1):
            return [tuple(r[k * (w + 1):k * (w + 1) + w] for r in i) for k in range(n)]
    return None


def _panel_vote(ps: Pairs) -> bool:
    if len({v for _, o in ps for r in o for v in r} - {0}) > 1:
        return False
    split = [(_panels(i, o), o) for i, o in ps]
    if any(panels is None for panels, _ in split):
        return False
    return any(all(bool(o[y][x]) == vote(sum(bool(p[y][x]) for p in panels), len(panels))
                   for panels, o in split for y, x in product(range(len(o)), range(len(o[0]))))
               for vote in VOTES.values())


def _staircase_upright(i: Grid, o: Grid) -> bool:
    """Is the output the input's bottom-standing staircase (start height, fixed step, 2+ columns shown) continued
    to the right edge and capped at the top?"""
    h, w = _size(i)
    if _size(o) != (h, w) or len({v for r in i for v in r} - {0}) != 1:
        return False
    heights = []
    for col in zip(*i):
        n = sum(map(bool, col))
        if any(col[:h - n]):
            return False  # not standing solid on the bottom
        heights.append(n)
    shown = next((x for x, n in enumerate(heights) if not n), w)
    if shown < 2 or any(heights[shown:]):
        return False
    start, step = heights[0], heights[1] - heights[0]
    if step < 1 or heights[:shown] != [start + x * step for x in range(shown)]:
        return False
    c = next(v for r in i for v in r if v)
    want = tuple(tuple(c if y >= h - min(h, start + x * step) else 0 for x in range(w)) for y in range(h))
    return o == want


def _grow_staircase(ps: Pairs) -> bool:
    turned = [(list(_turns(i)), list(_turns(o))) for i, o in ps]
    return any(all(_staircase_upright(ti[k][1], to[k][1]) for ti, to in turned) for k in range(8))


def _dotted_continue(ps: Pairs) -> bool:
    for i, o in ps:
        h, w = _size(i)
        want = [[0] * w for _ in range(h)]
        for c in {v for r in i for v in r} - {0}:
            dots = sorted((y, x) for y, x in _cells(i) if i[y][x] == c)
            if len(dots) < 2:
                return False
            dy, dx = dots[1][0] - dots[0][0], dots[1][1] - dots[0][1]
            if max(abs(dy), abs(dx)) < 2 or (dy and dx and abs(dy) != abs(dx)):
                return False  # not a dotted straight line
            if any((b[0] - a[0], b[1] - a[1]) != (dy, dx) for a, b in pairwise(dots)):
                return False
            y, x = dots[0]
            while 0 <= y - dy < h and 0 <= x - dx < w:
                y, x = y - dy, x - dx
            while 0 <= y < h and 0 <= x < w:
                if want[y][x]:
                    return False  # two lines meet: ambiguous
                want[y][x] = c
                y, x = y + dy, x + dx
        if o != tuple(map(tuple, want)):
            return False
    return True


def _legend_on_top(i: Grid, o: Grid) -> bool:
    """Is the input a legend above a divider row and a field of one-colour objects below, and the output the
    input with every field object in the colour of the legend shape it copies?"""
    h, w = _size(i)
    if _size(o) != (h, w):
        return False
    divider = next((y for y in range(h) if i[y][0] and len(set(i[y])) == 1), None)
    if divider is None or o[:divider + 1] != i[:divider + 1]:
        return False
    legend = _objects(i[:divider])
    key = {_norm(cells): c for c, cells in legend}
    field = i[divider + 1:]
    objects = _objects(field)
    if len(legend) < 2 or len(key) != len(legend) or len({c for c, _ in legend}) != len(legend):
        return False
    if not objects or len({c for c, _ in objects}) != 1 or objects[0][0] in key.values():
        return False
    want = [[0] * w for _ in field]
    for _, cells in objects:
        if _norm(cells) not in key:
            return False
        for y, x in cells:
            want[y][x] = key[_norm(cells)]
    return o[divider + 1:] == tuple(map(tuple, want))


def _legend_recolour(ps: Pairs) -> bool:
    turned = [(list(_turns(i)), list(_turns(o))) for i, o in ps]
    return any(all(_legend_on_top(ti[k][1], to[k][1]) for ti, to in turned) for k in range(8))


def _hole_count(cells: list[Cell]) -> int:
    """Background areas (4-connected) inside the object's bounding box that cannot reach outside it."""
    solid = set(cells)
    ys, xs = [y for y, _ in cells], [x for _, x in cells]
    free = set(product(range(min(ys) - 1, max(ys) + 2), range(min(xs) - 1, max(xs) + 2))) - solid
    areas = 0
    while free:
        start = min(free)
        todo, area = [start], {start}
        while todo:
            y, x = todo.pop()
            for n in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if n in free and n not in area:
                    area.add(n)
                    todo.append(n)
        free -= area
        areas += 1
    return areas - 1  # the area around the object is not a hole


def _recolour_by_holes(ps: Pairs) -> bool:
    by_count: dict[int, set[int]] = {}
    counts_seen = []
    for i, o in ps:
        objects = _objects(i)
        if (_size(o) != _size(i) or len({c for c, _ in objects}) != 1
                or not _blank_outside(o, set(_cells(i)))):
            return False
        counts_seen.append({_hole_count(cells) for _, cells in objects})
        for _, cells in objects:
            by_count.setdefault(_hole_count(cells), set()).update(o[y][x] for y, x in cells)
    picked = [c for cs in by_count.values() for c in cs]
    return (len(by_count) >= 3 and all(len(cs) == 1 for cs in by_count.values()) and 0 not in picked
            and len(set(picked)) == len(picked) and counts_seen[-1] <= set().union(*counts_seen[:-1]))


def _count_rectangle(ps: Pairs) -> bool:
    """Rows = objects of one fixed colour, columns = objects of the other, one fixed fill colour."""
    kinds = {c for i, _ in ps for c, _ in _objects(i)}
    fills = {v for _, o in ps for r in o for v in r}
    if len(kinds) != 2 or len(fills) != 1 or 0 in fills:
        return False
    first, second = sorted(kinds)
    tallies = [Counter(c for c, _ in _objects(i)) for i, _ in ps]
    fits = [all(_size(o) == (n[a], n[b]) for n, (_, o) in zip(tallies, ps))
            for a, b in ((first, second), (second, first))]
    pinned = [all(_size(o) == (n[a], n[b]) for n, (_, o) in zip(tallies[:-1], ps[:-1]))
              for a, b in ((first, second), (second, first))]
    return pinned.count(True) == 1 and fits[pinned.index(True)]  # the train pairs tell which colour counts rows


def _motion_step(ps: Pairs) -> bool:
    """Trail and head copies of one shape; next frame: trail where the head was, head one more step on."""
    def next_frame(i: Grid, trail: int, head: int) -> Grid | None:
        back = [(y, x) for y, x in _cells(i) if i[y][x] == trail]
        front = [(y, x) for y, x in _cells(i) if i[y][x] == head]
        if not back or not front or len(back) + len(front) != len(_cells(i)) or _norm(back) != _norm(front):
            return None
        vy, vx = front[0][0] - back[0][0], front[0][1] - back[0][1]
        want = [[0] * len(i[0]) for _ in i]
        for y, x in front:
            want[y][x] = trail
        for y, x in front:
            if not (0 <= y + vy < len(i) and 0 <= x + vx < len(i[0])):
                return None
            want[y + vy][x + vx] = head
        return tuple(map(tuple, want))
    kinds = {v for i, _ in ps for r in i for v in r} - {0}
    if len(kinds) != 2:
        return False
    a, b = sorted(kinds)
    return any(all(next_frame(i, trail, head) == o for i, o in ps) for trail, head in ((a, b), (b, a)))


ARITH_CHECKS: dict[str, Callable[[Pairs], bool]] = {
    "bar_arithmetic": _bar_arithmetic, "fuller_half": _fuller_half, "unique_shape": _unique_shape,
    "most_common_shape": _most_common_shape, "parity_recolour": _parity_recolour, "panel_vote": _panel_vote,
    "grow_staircase": _grow_staircase, "dotted_continue": _dotted_continue, "legend_recolour": _legend_recolour,
    "recolour_by_holes": _recolour_by_holes, "count_rectangle": _count_rectangle, "motion_step": _motion_step,
}
