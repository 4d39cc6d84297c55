"""Rule checks for the composition families (`tasks_lib/pretraining/generators/composition.py`), written from each family's
description, not from its code: each check takes a task's (input, output) pairs, test pair last, and says
whether every pair follows the rule and the train pairs pin the hidden part of it."""

from __future__ import annotations

from collections import Counter
from itertools import product
from collections.abc import Callable

from tasks_lib.arc.augment import Augmentation, apply_grid
from tasks_lib.arc.data import Grid
from grid_checks import Cell, Pairs
from grid_checks import all_cells as _all_cells
from grid_checks import groups as _groups



def _turn(k: int, g: Grid) -> Grid:
    return apply_grid(Augmentation(dihedral=k), g)


def _neighbours8(g: Grid, y: int, x: int) -> list[Cell]:
    return [(y + dy, x + dx) for dy, dx in product((-1, 0, 1), repeat=2)
            if (dy, dx) != (0, 0) and 0 <= y + dy < len(g) and 0 <= x + dx < len(g[0])]


def _blow_up(g: Grid, f: int) -> Grid:
    return tuple(tuple(v for v in row for _ in range(f)) for row in g for _ in range(f))


def _crop_to(g: Grid, cells: list[Cell]) -> Grid:
    """The bounding box of `cells`, keeping only those cells (the rest background)."""
    keep = set(cells)
    ys, xs = [y for y, _ in cells], [x for _, x in cells]
    return tuple(tuple(g[y][x] if (y, x) in keep else 0 for x in range(min(xs), max(xs) + 1))
                 for y in range(min(ys), max(ys) + 1))


def _move_until_touch(ps: Pairs) -> bool:
    def horizontal(i: Grid, o: Grid) -> bool:
        walls = [y for y, row in enumerate(i) if row[0] and len(set(row)) == 1]
        if len(walls) != 1:
            return False
        b = walls[0]
        want = [[0] * len(i[0]) for _ in i]
        want[b] = list(i[b])
        for cells in _groups(i):
            if any(y == b for y, _ in cells):
                continue
            top, bottom = cells[0][0], cells[-1][0]
            shift = b - 1 - bottom if bottom < b else b + 1 - top
            for y, x in cells:
                if want[y + shift][x]:
                    return False
                want[y + shift][x] = i[y][x]
        return o == tuple(map(tuple, want))
    return all(horizontal(i, o) or horizontal(_turn(4, i), _turn(4, o)) for i, o in ps)


def _only_changed_colour(ps: Pairs) -> int | None:
    """The one input colour every changed cell had, or None when changed cells had several (or none)."""
    sources = {i[y][x] for i, o in ps for y, x in _all_cells(i) if i[y][x] != o[y][x]}
    return next(iter(sources)) if len(sources) == 1 else None


def _recolour_touching(ps: Pairs) -> bool:
    base = _only_changed_colour(ps)
    if base is None:
        return False
    kinds = set()
    for i, o in ps:
        want = [list(row) for row in i]
        for cells in _groups(i):
            if i[cells[0][0]][cells[0][1]] != base:
                continue
            touching = {i[n[0]][n[1]] for y, x in cells for n in _neighbours8(i, y, x)} - {0, base}
            if len(touching) > 1:
                return False
            kinds.add(bool(touching))
            colour = next(iter(touching)) if touching else base
            for y, x in cells:
                want[y][x] = colour
        if o != tuple(map(tuple, want)):
            return False
    return kinds == {True, False}


def _recolour_by_key(ps: Pairs) -> bool:
    def left_key(i: Grid, o: Grid) -> bool:
        if any(row[1] for row in i) or len(i[0]) < 3:
            return False
        bases = {i[y][x] for y, x in _all_cells(i) if x >= 2 and i[y][x]}
        if len(bases) != 1:
            return False
        want = [list(row) for row in i]
        for cells in _groups(tuple(tuple(v if x >= 2 else 0 for x, v in enumerate(row)) for row in i)):
            keys = {y: i[y][0] for y, _ in cells if i[y][0]}
            if len(keys) > 1:
                return False
            for y, x in cells:
                want[y][x] = next(iter(keys.values())) if keys else i[y][x]
        return o == tuple(map(tuple, want))
    return any(all(left_key(_turn(k, i), _turn(k, o)) for i, o in ps) for k in range(8))


def _stamp_at_markers(ps: Pairs) -> bool:
    def stamped(i: Grid, o: Grid, keep: bool) -> bool:
        groups = _groups(i)
        big = [cells for cells in groups if len(cells) > 1]
        if len(big) != 1:
            return False
        template = big[0]
        top, left = template[0][0], min(x for _, x in template)
        th, tw = template[-1][0] - top + 1, max(x for _, x in template) - left + 1
        if th % 2 == 0 or tw % 2 == 0 or (top + th // 2, left + tw // 2) not in template:
            return False
        want = [[0] * len(i[0]) for _ in i]
        if keep:
            for y, x in template:
                want[y][x] = i[y][x]
        marks = [cells[0] for cells in groups if len(cells) == 1]
        for my, mx in marks:
            for y, x in template:
                ty, tx = my + y - top - th // 2, mx + x - left - tw // 2
                if not (0 <= ty < len(i) and 0 <= tx < len(i[0])):
                    return False
                want[ty][tx] = i[my][mx]
        return bool(marks) and o == tuple(map(tuple, want))
    return any(all(stamped(i, o, keep) for i, o in ps) for keep in (True, False))


def _extend_from_tip(ps: Pairs) -> bool:
    added = {o[y][x] for i, o in ps for y, x in _all_cells(i) if i[y][x] != o[y][x]}
    if len(added) != 1:
        return False
    tip, = added
    for i, o in ps:
        if len({v for row in i for v in row} - {0}) != 2:
            return False
        want = [list(row) for row in i]
        for y, x in _all_cells(i):
            if i[y][x] != tip:
                continue
            stems = [(y - sy, x - sx) for sy, sx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1))
                     if 0 <= sy < len(i) and 0 <= sx < len(i[0]) and i[sy][sx] not in (0, tip)]
            if len(stems) != 1:
                return False
            dy, dx = stems[0]
            ry, rx = y + dy, x + dx
            while 0 <= ry < len(i) and 0 <= rx < len(i[0]):
                if i[ry][rx]:
                    return False
                want[ry][rx] = tip
                ry, rx = ry + dy, rx + dx
        if o != tuple(map(tuple, want)):
            return False
    return True


def _cue_transform(ps: Pairs) -> bool:
    fits: dict[int, set[int]] = {}
    for i, o in ps:
        if len(set(i[0])) != 1 or not i[0][0]:
            return False
        picture = i[1:]
        ks = {k for k in range(8) if _turn(k, picture) == o}
        fits[i[0][0]] = fits.get(i[0][0], ks) & ks
    train_cues = {i[0][0] for i, _ in ps[:-1]}
    return (len(fits) == 2 and all(fits.values()) and ps[-1][0][0][0] in train_cues
            and fits[min(fits)] != fits[max(fits)])


def _upscale_by_colours(ps: Pairs) -> bool:
    factors = set()
    for i, o in ps:
        n = len({v for row in i for v in row} - {0})
        factors.add(n)
        if o != _blow_up(i, n):
            return False
    return len(factors) > 1


def _take_colour_of_extreme(ps: Pairs) -> bool:
    def gives(i: Grid, o: Grid, giver_is_small: bool) -> bool:
        by_size = sorted(_groups(i), key=len)
        if len(by_size) < 2 or len(by_size[0]) == len(by_size[1]) or len(by_size[-1]) == len(by_size[-2]):
            return False
        giver, taker = (by_size[0], by_size[-1]) if giver_is_small else (by_size[-1], by_size[0])
        colour = i[giver[0][0]][giver[0][1]]
        want = [list(row) for row in i]
        for y, x in taker:
            want[y][x] = colour
        return o == tuple(map(tuple, want))
    return any(all(gives(i, o, small) for i, o in ps) for small in (True, False))


def _crop_marked(ps: Pairs) -> bool:
    for i, o in ps:
        counts = Counter(v for row in i for v in row if v)
        once = [c for c, n in counts.items() if n == 1]
        marks = [(y, x) for y, x in _all_cells(i) if i[y][x] in once]
        blobs = [cells for cells in _groups(i, same_colour=False) if any(cell in cells for cell in marks)]
        if len(blobs) != 1:
            return False
        blob = blobs[0]
        inside = [i[y][x] for y, x in blob if i[y][x] not in once]
        if len(set(inside)) != 1 or len(blob) - len(inside) != 1:
            return False
        whole = tuple(tuple(inside[0] if (y, x) in set(blob) else 0 for x in range(len(i[0])))
                      for y in range(len(i)))
        if o != _crop_to(whole, blob):
            return False
    return True


def _turn_and_recolour(ps: Pairs) -> bool:
    def fits(k: int) -> bool:
        mapping: dict[int, int] = {}
        for i, o in ps:
            back = _turn(k, i)
            if len(back) != len(o) or len(back[0]) != len(o[0]):
                return False
            for a, b in zip((v for r in back for v in r), (v for r in o for v in r)):
                if mapping.setdefault(a, b) != b:
                    return False
        changed = {a for a, b in mapping.items() if a != b}
        return bool(changed) and all(changed <= {v for r in i for v in r} for i, _ in ps)
    return any(fits(k) for k in range(1, 8))


def _crop_and_upscale(ps: Pairs) -> bool:
    factors = set()
    for i, o in ps:
        content = [(y, x) for y, x in _all_cells(i) if i[y][x]]
        if not content:
            return False
        ys, xs = [y for y, _ in content], [x for _, x in content]
        box = tuple(tuple(i[y][min(xs):max(xs) + 1]) for y in range(min(ys), max(ys) + 1))
        factor = len(o) // len(box)
        factors.add(factor)
        if o != _blow_up(box, factor):
            return False
    return len(factors) == 1 and factors != {1}


def _recolour_inside_frame(ps: Pairs) -> bool:
    base = _only_changed_colour(ps)
    if base is None:
        return False
    kinds = set()
    for i, o in ps:
        frames = []  # (top, left, bottom, right, colour) of every object that is a hollow rectangle outline
        for cells in _groups(i):
            top, bottom = cells[0][0], cells[-1][0]
            left, right = min(x for _, x in cells), max(x for _, x in cells)
            outline = {(y, x) for y in range(top, bottom + 1) for x in range(left, right + 1)
                       if y in (top, bottom) or x in (left, right)}
            if bottom - top >= 2 and right - left >= 2 and set(cells) == outline:
                frames.append((top, left, bottom, right, i[top][left]))
        want = [list(row) for row in i]
        for cells in _groups(i):
            if i[cells[0][0]][cells[0][1]] != base:
                continue
            around = [f for f in frames if all(f[0] < y < f[2] and f[1] < x < f[3] for y, x in cells)]
            kinds.add(bool(around))
            for y, x in cells:
                want[y][x] = around[0][4] if around else base
        if o != tuple(map(tuple, want)):
            return False
    return kinds == {True, False}


def _count_by_colour(ps: Pairs) -> bool:
    orders = set()
    for i, o in ps:
        counts = Counter(i[cells[0][0]][cells[0][1]] for cells in _groups(i))
        if len(set(counts.values())) != len(counts):
            return False
        width = max(counts.values())
        for descending in (True, False):
            order = sorted(counts, key=lambda c: counts[c], reverse=descending)
            if o == tuple((c,) * counts[c] + (0,) * (width - counts[c]) for c in order):
                orders.add(descending)
                break
        else:
            return False
    return len(orders) == 1


COMPOSE_CHECKS: dict[str, Callable[[Pairs], bool]] = {
    "move_until_touch": _move_until_touch, "recolour_touching": _recolour_touching,
    "recolour_by_key": _recolour_by_key, "stamp_at_markers": _stamp_at_markers,
    "extend_from_tip": _extend_from_tip, "cue_transform": _cue_transform,
    "upscale_by_colours": _upscale_by_colours, "take_colour_of_extreme": _take_colour_of_extreme,
    "crop_marked": _crop_marked, "turn_and_recolour": _turn_and_recolour, "crop_and_upscale": _crop_and_upscale,
    "recolour_inside_frame": _recolour_inside_frame, "count_by_colour": _count_by_colour,
}
