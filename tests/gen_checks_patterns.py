"""Rule checks for the families of `tasks_lib.pretraining.generators.patterns`, written from each family's description
(not by calling the generator): each returns True when every (input, output) pair of a task follows the rule.
`tests/test_generate.py` merges `PATTERN_CHECKS` into its `CHECKS`."""

from __future__ import annotations

from collections import Counter
from itertools import product
from typing import Callable

from tasks_lib.arc.data import Grid
from grid_checks import Pairs
from grid_checks import groups as _groups
from grid_checks import size as _size



def _transpose(g: Grid) -> Grid:
    return tuple(zip(*g))


def _views(g: Grid) -> list[Grid]:
    """The 8 rotations and reflections of g, in a fixed order."""
    out = []
    for flip in (False, True):
        v = tuple(tuple(reversed(r)) for r in g) if flip else g
        for _ in range(4):
            out.append(v)
            v = tuple(zip(*v[::-1]))
    return out


def _periodic_patch(ps: Pairs) -> bool:
    """The mask colour (absent from the output) covers a rectangle of the output's size; every period up to
    6 x 6 that the visible cells follow and that shows each hidden cell's place in the tile somewhere fills
    the rectangle with the output, and there is such a period."""
    masks = set()
    for i, o in ps:
        h, w = _size(i)
        fits = 0
        for c in {v for r in i for v in r} - {v for r in o for v in r}:
            spots = {(y, x) for y, x in product(range(h), range(w)) if i[y][x] == c}
            top, left = min(spots)[0], min(x for _, x in spots)
            if spots != {(top + y, left + x) for y, x in product(range(len(o)), range(len(o[0])))}:
                continue
            masks.add(c)
            for a, b in product(range(1, 7), repeat=2):
                seen: dict[tuple[int, int], int] = {}
                if any(seen.setdefault((y % a, x % b), i[y][x]) != i[y][x]
                       for y, x in product(range(h), range(w)) if (y, x) not in spots):
                    continue
                if all((y % a, x % b) in seen for y, x in spots):
                    fits += 1
                    if any(seen[(y % a, x % b)] != o[y - top][x - left] for y, x in spots):
                        return False
        if not fits:
            return False
    return len(masks) == 1


def _repair_mosaic(ps: Pairs) -> bool:
    """The output follows a period up to 6 x 6, and every cell where it differs from the input is outvoted in
    the input by the other cells at the same place in the tile."""
    def fits(i: Grid, o: Grid, a: int, b: int) -> bool:
        votes: dict[tuple[int, int], Counter] = {}
        for y, x in product(range(len(i)), range(len(i[0]))):
            votes.setdefault((y % a, x % b), Counter())[i[y][x]] += 1
            if o[y][x] != o[y % a][x % b]:
                return False
        for y, x in product(range(len(i)), range(len(i[0]))):
            if i[y][x] != o[y][x] and 2 * votes[(y % a, x % b)][o[y][x]] <= sum(votes[(y % a, x % b)].values()):
                return False
        return True
    return all(_size(i) == _size(o) and any(fits(i, o, a, b) for a, b in product(range(1, 7), repeat=2))
               for i, o in ps)


def _least(lines: Grid) -> int:
    return min(p for p in range(1, len(lines) + 1) if lines[p:] == lines[:len(lines) - p])


def _minimal_tile(ps: Pairs) -> bool:
    for i, o in ps:
        a, b = _size(o)
        if (a, b) != (_least(i), _least(_transpose(i))) or 2 * a > len(i) or 2 * b > len(i[0]):
            return False
        if any(i[y][x] != o[y % a][x % b] for y, x in product(range(len(i)), range(len(i[0])))):
            return False
    return True


def _self_tile(ps: Pairs) -> bool:
    def expected(i: Grid, negative: bool) -> Grid:
        k = len(i)
        return tuple(tuple(i[y % k][x % k] if bool(i[y // k][x // k]) != negative else 0 for x in range(k * k))
                     for y in range(k * k))
    return any(all(len(i) == len(i[0]) and o == expected(i, neg) for i, o in ps) for neg in (False, True))


def _blocks(g: Grid) -> tuple[list[range], list[range], int] | None:
    """The row ranges and column ranges between full divider lines, and the divider colour."""
    h, w = _size(g)
    for d in sorted({v for r in g for v in r} - {0}):
        rows = {y for y in range(h) if all(v == d for v in g[y])}
        cols = {x for x in range(w) if all(g[y][x] == d for y in range(h))}
        if rows and cols:
            def runs(n: int, cut: set[int]) -> list[range]:
                bounds = [-1] + sorted(cut) + [n]
                return [range(a + 1, b) for a, b in zip(bounds, bounds[1:]) if b > a + 1]
            return runs(h, rows), runs(w, cols), d
    return None


def _cells_majority(ps: Pairs) -> bool:
    for i, o in ps:
        found = _blocks(i)
        if found is None:
            return False
        rows, cols, _ = found
        want = []
        for ry in rows:
            line = []
            for rx in cols:
                counts = Counter(i[y][x] for y in ry for x in rx if i[y][x]).most_common()
                line.append(counts[0][0] if counts else 0)
            want.append(tuple(line))
        if o != tuple(want):
            return False
    return True


def _cells_fill(ps: Pairs) -> bool:
    for i, o in ps:
        found = _blocks(i)
        if found is None or _size(o) != _size(i):
            return False
        rows, cols, d = found
        inside = {(y, x) for ry in rows for rx in cols for y in ry for x in rx}
        if any(o[y][x] != d for y, x in product(range(len(i)), range(len(i[0]))) if (y, x) not in inside):
            return False
        for ry, rx in product(rows, cols):
            held = {i[y][x] for y in ry for x in rx} - {0}
            if len(held) > 1 or {o[y][x] for y in ry for x in rx} != (held or {0}):
                return False
    return True


def _colour_histogram(ps: Pairs) -> bool:
    def bars(i: Grid) -> list[tuple[int, ...]]:
        counts = Counter(v for r in i for v in r if v)
        ranked = sorted(counts, key=lambda c: -counts[c])
        tall = counts[ranked[0]]
        return [tuple(c if k < counts[c] else 0 for k in range(tall)) for c in ranked]  # from the base out
    for i, o in ps:
        counts = Counter(v for r in i for v in r if v)
        if len(set(counts.values())) != len(counts):
            return False
    standing = all(o == tuple(zip(*[b[::-1] for b in bars(i)])) for i, o in ps)
    lying = all(o == tuple(bars(i)) for i, o in ps)
    return standing or lying


def _position_recolour(ps: Pairs) -> bool:
    markers = {v for i, _ in ps for r in i for v in r} - {0}
    if len(markers) != 1:
        return False
    classes: list[Callable[[int, int], int]] = [lambda y, x: y % 2, lambda y, x: x % 2, lambda y, x: (y + x) % 2,
                                                lambda y, x: x % 3, lambda y, x: y % 3]
    for cls in classes:
        colour_of: dict[int, int] = {}
        if all(_size(i) == _size(o) and all(
                o[y][x] == 0 if not i[y][x] else colour_of.setdefault(cls(y, x), o[y][x]) == o[y][x]
                for y, x in product(range(len(i)), range(len(i[0])))) for i, o in ps) \
                and len(set(colour_of.values())) == len(colour_of) > 1 and not markers & set(colour_of.values()):
            return True
    return False


def _key_recolour(ps: Pairs) -> bool:
    def ok(i: Grid, o: Grid) -> bool:
        if _size(i) != _size(o) or any(r[1] for r in i) or any(a[:2] != b[:2] for a, b in zip(i, o)):
            return False
        markers = {v for r in i for v in r[2:]} - {0}
        return len(markers) == 1 and all(b[2:] == tuple(a[0] if v else 0 for v in a[2:]) for a, b in zip(i, o))
    return any(all(ok(turn(i), turn(o)) for i, o in ps) for turn in (lambda g: g, _transpose))


def _mirror_across_line(ps: Pairs) -> bool:
    def mirrored(g: Grid) -> Grid | None:
        """g with each cell copied to its mirror image across the one full row of one colour."""
        lines = [y for y, r in enumerate(g) if r[0] and len(set(r)) == 1]
        if len(lines) != 1:
            return None
        p, h = lines[0], len(g)
        return tuple(tuple(v or (g[2 * p - y][x] if 0 <= 2 * p - y < h else 0) for x, v in enumerate(r))
                     for y, r in enumerate(g))
    return any(all(mirrored(turn(i)) == turn(o) for i, o in ps) for turn in (lambda g: g, _transpose))


def _axis_mirror(ps: Pairs) -> bool:
    def completed(i: Grid, axis: int) -> Grid | None:
        want = {}
        for group in _groups(i, same_colour=False):
            line = [(y, x) for y, x in group if i[y][x] == axis]
            rows, cols = {y for y, _ in line}, {x for _, x in line}
            if len(line) < 2 or (len(rows) > 1 and len(cols) > 1) or len(line) != max(len(rows), len(cols)):
                return None
            for y, x in group:
                want[(y, x)] = i[y][x]
                if i[y][x] != axis:
                    m = (y, 2 * min(cols) - x) if len(cols) == 1 else (2 * min(rows) - y, x)
                    if not (0 <= m[0] < len(i) and 0 <= m[1] < len(i[0])):
                        return None
                    want[m] = i[y][x]
        return tuple(tuple(want.get((y, x), 0) for x in range(len(i[0]))) for y in range(len(i)))
    candidates = set.intersection(*({v for r in i for v in r} - {0} for i, _ in ps))
    return any(all(completed(i, axis) == o for i, o in ps) for axis in candidates)


def _diagonal_bounce(ps: Pairs) -> bool:
    def trail(i: Grid, step: int) -> Grid | None:
        h, w = _size(i)
        seeds = [(y, x) for y, x in product(range(h), range(w)) if i[y][x]]
        if len(seeds) != 1 or seeds[0][0] != h - 1:
            return None
        x, c = seeds[0][1], i[h - 1][seeds[0][1]]
        cells = {(h - 1, x)}
        for y in range(h - 2, -1, -1):
            step = step if 0 <= x + step < w else -step
            x += step
            cells.add((y, x))
        return tuple(tuple(c if (y, x) in cells else 0 for x in range(w)) for y in range(h))
    return any(all(trail(_views(i)[k], step) == _views(o)[k] for i, o in ps) for k in range(8) for step in (-1, 1))


def _connect_diagonal(ps: Pairs) -> bool:
    for i, o in ps:
        want = {}
        by_colour: dict[int, list[tuple[int, int]]] = {}
        for y, x in product(range(len(i)), range(len(i[0]))):
            if i[y][x]:
                by_colour.setdefault(i[y][x], []).append((y, x))
        for c, ends in by_colour.items():
            if len(ends) != 2:
                return False
            (y0, x0), (y1, x1) = ends
            if abs(y1 - y0) != abs(x1 - x0):
                return False
            sx = 1 if x1 > x0 else -1
            want.update({(y0 + k, x0 + sx * k): c for k in range(y1 - y0 + 1)})
        if o != tuple(tuple(want.get((y, x), 0) for x in range(len(i[0]))) for y in range(len(i))):
            return False
    return True


def _solid_blocks(g: Grid) -> list[tuple[int, int, int, int]] | None:
    """(top, left, bottom, right) of each 8-connected same-colour group, None if one is not a solid rectangle."""
    boxes = []
    for group in _groups(g, same_colour=True):
        top, bottom = min(a for a, _ in group), max(a for a, _ in group)
        left, right = min(b for _, b in group), max(b for _, b in group)
        if len(group) != (bottom - top + 1) * (right - left + 1):
            return None
        boxes.append((top, left, bottom, right))
    return boxes


def _checker_rects(ps: Pairs) -> bool:
    marks = set()
    for i, o in ps:
        boxes = _solid_blocks(i)
        if boxes is None or _size(i) != _size(o):
            return False
        inside = set()
        for top, left, bottom, right in boxes:
            for y, x in product(range(top, bottom + 1), range(left, right + 1)):
                inside.add((y, x))
                if (y - top + x - left) % 2:
                    marks.add(o[y][x])
                elif o[y][x] != i[y][x]:
                    return False
        if any(o[y][x] for y, x in product(range(len(o)), range(len(o[0]))) if (y, x) not in inside):
            return False
    return len(marks) == 1 and not marks & {v for i, _ in ps for r in i for v in r}


PATTERN_CHECKS: dict[str, Callable[[Pairs], bool]] = {
    "periodic_patch": _periodic_patch, "repair_mosaic": _repair_mosaic, "minimal_tile": _minimal_tile,
    "self_tile": _self_tile,
    "cells_majority": _cells_majority, "cells_fill": _cells_fill, "colour_histogram": _colour_histogram,
    "position_recolour": _position_recolour, "key_recolour": _key_recolour,
    "mirror_across_line": _mirror_across_line, "axis_mirror": _axis_mirror, "diagonal_bounce": _diagonal_bounce,
    "connect_diagonal": _connect_diagonal, "checker_rects": _checker_rects,
}
