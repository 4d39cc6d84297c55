"""Procedural task generators: every family makes valid, deterministic, non-degenerate tasks within the size
budget, and each family's rule is checked on its pairs by code written from the rule's description (not
by re-running the generator), across many seeds."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from itertools import product
from pathlib import Path
from typing import Callable

import pytest
from gen_checks_arith import ARITH_CHECKS
from gen_checks_compose import COMPOSE_CHECKS
from gen_checks_patterns import PATTERN_CHECKS
from gen_checks_regions import REGION_CHECKS
from grid_checks import Pairs
from grid_checks import cells as _cells
from grid_checks import objects as _objects
from grid_checks import size as _size

from tasks_lib.arc.augment import Augmentation, apply_grid, invert_grid
from tasks_lib.arc.data import Grid, Task, load_challenges, to_grid
from tasks_lib.pretraining.generate import FAMILIES, MAX_TASK_CELLS, generate_tasks, main, make_task, task_cells, task_tokens

SEEDS = range(25)


@pytest.fixture(scope="module")
def tasks() -> dict[str, list[Task]]:
    return {family: [make_task(family, seed) for seed in SEEDS] for family in FAMILIES}


def _pairs(task: Task) -> Pairs:
    return [(p.input, p.output) for p in task.train] + list(zip(task.test_inputs, task.test_outputs))


def _crop(g: Grid, cells: list[tuple[int, int]], keep: set | None = None) -> Grid:
    ys, xs = [y for y, _ in cells], [x for _, x in cells]
    keep = set(cells) if keep is None else keep
    return tuple(tuple(g[y][x] if (y, x) in keep else 0 for x in range(min(xs), max(xs) + 1))
                 for y in range(min(ys), max(ys) + 1))


def _flip_lr(g: Grid) -> Grid:
    return tuple(tuple(reversed(r)) for r in g)


def _flip_ud(g: Grid) -> Grid:
    return tuple(reversed(g))


def _blank_outside(o: Grid, cells: set[tuple[int, int]]) -> bool:
    """Is every output cell outside `cells` background?"""
    return all(not v or (y, x) in cells for y, row in enumerate(o) for x, v in enumerate(row))


# --- rule checks, one per family: each returns True when every pair of the task follows the rule ---------

def _dihedral(ps: Pairs) -> bool:
    return any(all(invert_grid(Augmentation(dihedral=k), o) == i for i, o in ps) for k in range(1, 8))


def _colour_map(ps: Pairs) -> bool:
    mapping: dict[int, int] = {}
    for i, o in ps:
        if _size(i) != _size(o):
            return False
        for a, b in zip((v for r in i for v in r), (v for r in o for v in r)):
            if mapping.setdefault(a, b) != b:
                return False
    # every pair shows every colour that changes, so the test input holds no unseen colour
    changed = {a for a, b in mapping.items() if a != b}
    return bool(changed) and all(changed <= {v for r in i for v in r} for i, _ in ps)


def _upscale(ps: Pairs) -> bool:
    def ok(i: Grid, o: Grid) -> bool:
        ky, kx = len(o) // len(i), len(o[0]) // len(i[0])
        return _size(o) == (ky * len(i), kx * len(i[0])) and all(
            o[y][x] == i[y // ky][x // kx] for y in range(len(o)) for x in range(len(o[0])))
    return all(ok(i, o) for i, o in ps) and len({(len(o) // len(i), len(o[0]) // len(i[0])) for i, o in ps}) == 1


def _tile(ps: Pairs) -> bool:
    for i, o in ps:
        h, w = _size(i)
        if len(o) % h or len(o[0]) % w:
            return False
        variants = {i, _flip_lr(i), _flip_ud(i), _flip_lr(_flip_ud(i))}
        for ty, tx in product(range(len(o) // h), range(len(o[0]) // w)):
            if tuple(r[tx * w:(tx + 1) * w] for r in o[ty * h:(ty + 1) * h]) not in variants:
                return False
    return True


def _mirror_concat(ps: Pairs) -> bool:
    for i, o in ps:
        lr, ud = _flip_lr(i), _flip_ud(i)
        side = {tuple(a + b for a, b in zip(i, lr)), tuple(b + a for a, b in zip(i, lr)), i + ud, ud + i}
        quad = tuple(a + b for a, b in zip(i, lr))
        if o not in side | {quad + _flip_ud(quad)}:
            return False
    return True


def _crop_content(ps: Pairs) -> bool:
    return all(o == _crop(i, _cells(i), keep=set(product(range(len(i)), range(len(i[0]))))) for i, o in ps)


def _translate(ps: Pairs) -> bool:
    def shifted(i: Grid, dy: int, dx: int) -> Grid:
        h, w = _size(i)
        return tuple(tuple(i[y - dy][x - dx] if 0 <= y - dy < h and 0 <= x - dx < w else 0 for x in range(w))
                     for y in range(h))
    return any(all(shifted(i, dy, dx) == o for i, o in ps) for dy, dx in product(range(-3, 4), repeat=2))


def _symmetry_complete(ps: Pairs) -> bool:
    masks = {i[y][x] for i, o in ps for y, x in product(range(len(i)), range(len(i[0]))) if i[y][x] != o[y][x]}
    symmetric = all(o == _flip_lr(o) or o == _flip_ud(o) for _, o in ps)
    return len(masks) == 1 and symmetric and all(_size(i) == _size(o) for i, o in ps)


def _pattern_extend(ps: Pairs) -> bool:
    def periodic(o: Grid) -> bool:
        return any(all(o[y][x] == o[y % ph][x % pw] for y, x in product(range(len(o)), range(len(o[0]))))
                   for ph, pw in product(range(1, 5), repeat=2))
    return all(periodic(o) and all(a in (0, b) for ra, rb in zip(i, o) for a, b in zip(ra, rb)) for i, o in ps)


def _draw_border(ps: Pairs) -> bool:
    ring_colours = set()
    for i, o in ps:
        h, w = _size(i)
        for y, x in product(range(h), range(w)):
            if y in (0, h - 1) or x in (0, w - 1):
                ring_colours.add(o[y][x])
            elif o[y][x] != i[y][x]:
                return False
    return len(ring_colours) == 1


def _swap_two_colours(ps: Pairs) -> bool:
    for i, o in ps:
        present = {v for r in i for v in r}
        if len(present) != 2:
            return False
        a, b = present
        if o != tuple(tuple(b if v == a else a for v in r) for r in i):
            return False
    return True


def _gravity(ps: Pairs) -> bool:
    def settled(i: Grid, o: Grid, turn: Callable[[Grid], Grid]) -> bool:
        # after `turn`, the pull is to the right: each row keeps its colours in order, packed at the end
        ti, to = turn(i), turn(o)
        return all(list(ro) == [0] * (len(ri) - len([v for v in ri if v])) + [v for v in ri if v]
                   for ri, ro in zip(ti, to))
    turns = [lambda g: g, _flip_lr, lambda g: tuple(zip(*g)), lambda g: _flip_lr(tuple(zip(*g)))]
    return any(all(settled(i, o, t) for i, o in ps) for t in turns)


def _line_of_sight(g: Grid, y: int, x: int, colour: int) -> bool:
    """Is there an input cell of `colour` on the same row, column or diagonal as (y, x)?"""
    return any(v == colour and (sy == y or sx == x or abs(sy - y) == abs(sx - x))
               for sy, row in enumerate(g) for sx, v in enumerate(row))


def _rays(ps: Pairs) -> bool:
    return all(all(o[y][x] == v for y, x in _cells(i) for v in [i[y][x]])
               and all(_line_of_sight(i, y, x, o[y][x]) for y, x in _cells(o)) for i, o in ps)


def _connect_pairs(ps: Pairs) -> bool:
    def ends(line: tuple[int, ...], k: int) -> int | None:
        """The colour of the nearest input pixels on both sides of position k, when they agree."""
        before = [v for v in line[:k] if v]
        after = [v for v in line[k + 1:] if v]
        return before[-1] if before and after and before[-1] == after[0] else None
    fills = set()
    for i, o in ps:
        pixels = _cells(i)
        for y, x in pixels:  # each pixel has exactly one partner in sight, of its colour
            seen = [(py, px) for py, px in pixels if (py == y) != (px == x)]
            if len(seen) != 1 or i[seen[0][0]][seen[0][1]] != i[y][x]:
                return False
        for y, x in product(range(len(o)), range(len(o[0]))):
            if i[y][x]:
                if o[y][x] != i[y][x]:
                    return False
            elif o[y][x]:
                end = ends(i[y], x) or ends(tuple(r[x] for r in i), y)
                if end is None:
                    return False
                fills.add((end, o[y][x]))
    return all(a == b for a, b in fills) or len({b for _, b in fills}) == 1


def _fill_enclosed(ps: Pairs) -> bool:
    fills = set()
    for i, o in ps:
        h, w = _size(i)
        todo = [(y, x) for y, x in product(range(h), range(w))
                if (y in (0, h - 1) or x in (0, w - 1)) and not i[y][x]]
        outside = set(todo)
        while todo:
            y, x = todo.pop()
            for n in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= n[0] < h and 0 <= n[1] < w and not i[n[0]][n[1]] and n not in outside:
                    outside.add(n)
                    todo.append(n)
        for y, x in product(range(h), range(w)):
            enclosed = not i[y][x] and (y, x) not in outside
            if enclosed:
                fills.add(o[y][x])
            elif o[y][x] != i[y][x]:
                return False
    return len(fills) == 1 and 0 not in fills


def _rectangles(g: Grid) -> list[tuple[int, list[tuple[int, int]]]]:
    return [(c, cells) for c, cells in _objects(g)
            if len(cells) == (cells[-1][0] - cells[0][0] + 1) * (max(x for _, x in cells) - min(x for _, x in cells) + 1)]


def _hollow_rects(ps: Pairs) -> bool:
    for i, o in ps:
        objects = _objects(i)
        if len(_rectangles(i)) != len(objects) or not _blank_outside(o, set(_cells(i))):
            return False
        for _, cells in objects:
            top, bottom = cells[0][0], cells[-1][0]
            left, right = min(x for _, x in cells), max(x for _, x in cells)
            edge = {o[y][x] for y, x in cells if y in (top, bottom) or x in (left, right)}
            inner = {o[y][x] for y, x in cells if y not in (top, bottom) and x not in (left, right)}
            if len(edge) != 1 or len(inner) != 1 or edge == inner:
                return False
    return True


def _rect_from_corners(ps: Pairs) -> bool:
    for i, o in ps:
        rects = _objects(o)
        if len(_rectangles(o)) != len(rects) or len({c for c, _ in rects}) != len(rects):
            return False
        for c, cells in rects:
            left, right = min(x for _, x in cells), max(x for _, x in cells)
            corners = {cells[0], cells[-1], (cells[0][0], right), (cells[-1][0], left)}
            marked = {cell for cell in cells if i[cell[0]][cell[1]]}
            if len(marked) != 2 or not marked <= corners or any(i[y][x] != c for y, x in marked):
                return False
    return True


def _frame_objects(ps: Pairs) -> bool:
    frames = set()
    for i, o in ps:
        for y, x in _cells(i):
            if o[y][x] != i[y][x]:
                return False
        added = {(y, x) for y, x in _cells(o) if not i[y][x]}
        frames |= {o[y][x] for y, x in added}
        rings: set[tuple[int, int]] = set()
        for _, cells in _objects(i):
            ys, xs = [y for y, _ in cells], [x for _, x in cells]
            t, b, l, r = min(ys) - 1, max(ys) + 1, min(xs) - 1, max(xs) + 1
            rings |= {(y, x) for y in range(t, b + 1) for x in range(l, r + 1) if y in (t, b) or x in (l, r)}
        if added != rings:
            return False
    return len(frames) == 1


def _cross_lines(ps: Pairs) -> bool:
    for i, o in ps:
        rows = {y: i[y][x] for y, x in _cells(i)}
        cols = {x: i[y][x] for y, x in _cells(i)}
        for y, x in product(range(len(o)), range(len(o[0]))):
            if o[y][x] not in ({rows.get(y), cols.get(x)} - {None} or {0}):
                return False
    return True


def _recolour_by_size(ps: Pairs) -> bool:
    by_size: dict[int, int] = {}
    for i, o in ps:
        if not _blank_outside(o, set(_cells(i))):
            return False
        for _, cells in _objects(i):
            got = {o[y][x] for y, x in cells}
            if len(got) != 1 or by_size.setdefault(len(cells), got.pop()) != o[cells[0][0]][cells[0][1]]:
                return False
    sizes_per_pair = {frozenset(len(cells) for _, cells in _objects(i)) for i, _ in ps}
    return len(set(by_size.values())) == len(by_size) and len(sizes_per_pair) == 1


def _extreme(ps: Pairs, rule: Callable[[Grid, Grid, list[int], str], bool]) -> bool:
    """The rule singles out the largest object in every pair, or the smallest in every pair."""
    def picked(i: Grid, which: str) -> list:
        objects = sorted(_objects(i), key=lambda co: len(co[1]))
        return objects[-1] if which == "max" else objects[0]
    return any(all(rule(i, o, picked(i, which), which) for i, o in ps) for which in ("max", "min"))


def _recolour_extreme(ps: Pairs) -> bool:
    marks = set()

    def rule(i: Grid, o: Grid, obj: tuple, _: str) -> bool:
        changed = {(y, x) for y, x in product(range(len(i)), range(len(i[0]))) if i[y][x] != o[y][x]}
        marks.update(o[y][x] for y, x in changed)
        return changed == set(obj[1])
    return _extreme(ps, rule) and len(marks) == 1


def _keep_extreme(ps: Pairs) -> bool:
    return _extreme(ps, lambda i, o, obj, _: set(_cells(o)) == set(obj[1])
                    and all(o[y][x] == i[y][x] for y, x in obj[1]))


def _crop_extreme(ps: Pairs) -> bool:
    return _extreme(ps, lambda i, o, obj, _: o == _crop(i, obj[1]))


def _crop_odd_colour(ps: Pairs) -> bool:
    for i, o in ps:
        counts = Counter(c for c, _ in _objects(i))
        odd = [cells for c, cells in _objects(i) if counts[c] == 1]
        if len(odd) != 1 or o != _crop(i, odd[0]):
            return False
    return True


def _denoise(ps: Pairs) -> bool:
    def lone(g: Grid, y: int, x: int) -> bool:
        return not any(g[y + dy][x + dx] for dy, dx in product((-1, 0, 1), repeat=2) if (dy, dx) != (0, 0)
                       and 0 <= y + dy < len(g) and 0 <= x + dx < len(g[0]))
    return all(o[y][x] == (0 if i[y][x] and lone(i, y, x) else i[y][x])
               for i, o in ps for y, x in product(range(len(i)), range(len(i[0]))))


def _replace_inside(ps: Pairs) -> bool:
    """One colour x turns y exactly where it is part of a blob (non-background, any colour, 4-connected)
    that holds another colour; x standing alone stays x."""
    swaps = {(i[y][x], o[y][x]) for i, o in ps for y, x in product(range(len(i)), range(len(i[0])))
             if i[y][x] != o[y][x]}
    if len(swaps) != 1:
        return False
    (source, target), = swaps
    for i, o in ps:
        h, w = _size(i)
        seen: set[tuple[int, int]] = set()
        for start in _cells(i):
            if start in seen:
                continue
            blob, todo = [], [start]
            seen.add(start)
            while todo:
                y, x = todo.pop()
                blob.append((y, x))
                for n in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                    if 0 <= n[0] < h and 0 <= n[1] < w and i[n[0]][n[1]] and n not in seen:
                        seen.add(n)
                        todo.append(n)
            mixed = len({i[y][x] for y, x in blob}) > 1
            for y, x in blob:
                if o[y][x] != (target if mixed and i[y][x] == source else i[y][x]):
                    return False
        if not _blank_outside(o, set(_cells(i))):
            return False
    return True


def _stamp_template(ps: Pairs) -> bool:
    for i, o in ps:
        lone = [(y, x) for y, x in _cells(i) if 1 <= y < len(i) - 1 and 1 <= x < len(i[0]) - 1
                and sum(bool(i[y + dy][x + dx]) for dy, dx in product((-1, 0, 1), repeat=2)) == 1]
        if not lone or len({i[y][x] for y, x in lone}) != 1:
            return False
        marker = i[lone[0][0]][lone[0][1]]
        centres = [(y, x) for y, x in _cells(i) if i[y][x] == marker]  # the lone markers and the template's centre
        areas = [{(y + dy, x + dx) for dy, dx in product((-1, 0, 1), repeat=2)} for y, x in centres]
        patches = {_crop(o, sorted(area), keep=area) for area in areas}
        if len(centres) < 2 or len(patches) != 1 or not _blank_outside(o, set().union(*areas)):
            return False
        if any(o[y][x] != v for y, x in _cells(i) for v in [i[y][x]]):
            return False
    return True


def _count_objects(ps: Pairs) -> bool:
    return all(sum(map(len, o)) in (len(_objects(i)), len(_objects(i)) ** 2) and len({v for r in o for v in r}) == 1
               for i, o in ps)


def _majority_colour(ps: Pairs) -> bool:
    return all({v for r in o for v in r} == {Counter(v for r in i for v in r if v).most_common(1)[0][0]}
               for i, o in ps)


def _sort_bars(ps: Pairs) -> bool:
    def bars(g: Grid) -> list[tuple[int, ...]]:
        return [col for col in zip(*g) if any(col)]
    for i, o in ps:
        heights = [sum(map(bool, b)) for b in bars(o)]
        if sorted(bars(i)) != sorted(bars(o)) or heights not in (sorted(heights), sorted(heights, reverse=True)):
            return False
    return True


def _grid_logic(ps: Pairs) -> bool:
    table: dict[tuple[bool, bool], bool] = {}
    if len({v for _, o in ps for r in o for v in r} - {0}) != 1:
        return False
    for i, o in ps:
        h, w = _size(o)
        a, b = ((i[:h], i[h + 1:]) if len(i) == 2 * h + 1 else
                (tuple(r[:w] for r in i), tuple(r[w + 1:] for r in i)))
        for y, x in product(range(h), range(w)):
            if table.setdefault((bool(a[y][x]), bool(b[y][x])), bool(o[y][x])) != bool(o[y][x]):
                return False
    return True


def _turns(ps: Pairs) -> list[Pairs]:
    """The pairs seen under each of the 8 dihedral transforms, so a 'down' check covers every direction."""
    return [[(apply_grid(Augmentation(dihedral=k), i), apply_grid(Augmentation(dihedral=k), o)) for i, o in ps]
            for k in range(8)]


def _slide_objects(ps: Pairs) -> bool:
    def down(i: Grid, o: Grid) -> bool:
        moved: dict[tuple[int, int], int] = {}
        for c, cells in _objects(i):
            drop = len(i) - 1 - cells[-1][0]
            moved.update({(y + drop, x): c for y, x in cells})
        return all(o[y][x] == moved.get((y, x), 0) for y, x in product(range(len(o)), range(len(o[0]))))
    return any(all(down(i, o) for i, o in turned) for turned in _turns(ps))


def _ray_to_wall(ps: Pairs) -> bool:
    seeds = {v for i, o in ps for ri, ro in zip(i, o) for a, v in zip(ri, ro) if a != v}
    if len(seeds) != 1:
        return False
    seed, = seeds

    def down(i: Grid, o: Grid) -> bool:
        want = [list(r) for r in i]
        for y, x in _cells(i):
            if i[y][x] == seed:
                y += 1
                while y < len(i) and not i[y][x]:
                    want[y][x] = seed
                    y += 1
        return o == tuple(map(tuple, want))
    return any(all(down(i, o) for i, o in turned) for turned in _turns(ps))


def _recolour_holes(ps: Pairs) -> bool:
    def holed(cells: list[tuple[int, int]]) -> bool:
        ys, xs = [y for y, _ in cells], [x for _, x in cells]
        box = set(product(range(min(ys) - 1, max(ys) + 2), range(min(xs) - 1, max(xs) + 2)))
        todo, outside, solid = [(min(ys) - 1, min(xs) - 1)], {(min(ys) - 1, min(xs) - 1)}, set(cells)
        while todo:
            y, x = todo.pop()
            for n in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if n in box and n not in solid and n not in outside:
                    outside.add(n)
                    todo.append(n)
        return len(outside) + len(solid) < len(box)
    colour_of: dict[bool, set[int]] = {True: set(), False: set()}
    for i, o in ps:
        if not _blank_outside(o, set(_cells(i))) or len({c for c, _ in _objects(i)}) != 1:
            return False
        for _, cells in _objects(i):
            colour_of[holed(cells)] |= {o[y][x] for y, x in cells}
    return len(colour_of[True]) == len(colour_of[False]) == 1 and colour_of[True] != colour_of[False]


def _select_part(ps: Pairs) -> bool:
    def parts(g: Grid) -> list[Grid]:
        h, w = len(g) // 2, len(g[0]) // 2
        return [g[:h], g[h:], tuple(r[:w] for r in g), tuple(r[w:] for r in g),
                tuple(r[:w] for r in g[:h]), tuple(r[w:] for r in g[h:])]
    return any(all(parts(i)[k] == o for i, o in ps) for k in range(6))


def _odd_cell_out(ps: Pairs) -> bool:
    for i, o in ps:
        k = len(o)
        cells = [tuple(r[x:x + k] for r in i[y:y + k]) for y in range(0, len(i), k + 1) for x in range(0, len(i[0]), k + 1)]
        counts = Counter(cells)
        if counts[o] != 1 or len(counts) != 2 or len(cells) < 3:
            return False
    return True


def _colour_ranking(ps: Pairs) -> bool:
    for i, o in ps:
        ranked = [c for c, _ in Counter(v for r in i for v in r if v).most_common()]
        if [v for r in o for v in r] != ranked:
            return False
    return True


CHECKS: dict[str, Callable[[Pairs], bool]] = {
    "slide_objects": _slide_objects, "ray_to_wall": _ray_to_wall, "recolour_holes": _recolour_holes,
    "select_part": _select_part, "odd_cell_out": _odd_cell_out, "colour_ranking": _colour_ranking,
    "dihedral": _dihedral, "colour_map": _colour_map, "upscale": _upscale,
    "downscale": lambda ps: _upscale([(o, i) for i, o in ps]), "tile": _tile, "mirror_concat": _mirror_concat,
    "crop_content": _crop_content, "translate": _translate, "symmetry_complete": _symmetry_complete,
    "pattern_extend": _pattern_extend, "draw_border": _draw_border, "swap_two_colours": _swap_two_colours,
    "gravity": _gravity, "rays": _rays, "connect_pairs": _connect_pairs, "fill_enclosed": _fill_enclosed,
    "hollow_rects": _hollow_rects, "rect_from_corners": _rect_from_corners, "frame_objects": _frame_objects,
    "cross_lines": _cross_lines, "recolour_by_size": _recolour_by_size, "recolour_extreme": _recolour_extreme,
    "keep_extreme": _keep_extreme, "crop_extreme": _crop_extreme, "crop_odd_colour": _crop_odd_colour,
    "denoise": _denoise, "replace_inside": _replace_inside, "stamp_template": _stamp_template,
    "count_objects": _count_objects, "majority_colour": _majority_colour, "sort_bars": _sort_bars,
    "grid_logic": _grid_logic,
}
CHECKS.update(PATTERN_CHECKS)
CHECKS.update(COMPOSE_CHECKS)
CHECKS.update(ARITH_CHECKS)
CHECKS.update(REGION_CHECKS)


# --- tests ---------------------------------------------------------------------------------------------

def test_at_least_30_families_and_every_family_has_a_rule_check() -> None:
    assert len(FAMILIES) >= 30
    assert set(CHECKS) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_rule_holds(family: str, tasks: dict[str, list[Task]]) -> None:
    for task in tasks[family]:
        assert CHECKS[family](_pairs(task)), f"{task.id} breaks its family's rule"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_rule_checks_catch_a_changed_cell(family: str, tasks: dict[str, list[Task]]) -> None:
    """The checks above can fail: changing one cell of a test output breaks the rule (nearly always; a few
    changes, e.g. a ray cell recoloured to another seed's colour in its line of sight, still fit it)."""
    rng = random.Random(family)
    caught = tried = 0
    for task in tasks[family][:3]:
        ps = _pairs(task)
        i, o = ps[-1]
        for y, x in rng.sample(list(product(range(len(o)), range(len(o[0])))), min(30, len(o) * len(o[0]))):
            bad = tuple(tuple((v + 1) % 10 if (cy, cx) == (y, x) else v for cx, v in enumerate(r))
                        for cy, r in enumerate(o))
            caught += not CHECKS[family](ps[:-1] + [(i, bad)])
            tried += 1
    assert caught >= 0.9 * tried, f"{family}: only {caught} of {tried} changed outputs were caught"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_tasks_are_valid_and_not_degenerate(family: str, tasks: dict[str, list[Task]]) -> None:
    for seed, task in zip(SEEDS, tasks[family]):
        assert task.id == f"gen-{family}-{seed}"
        assert 3 <= len(task.train) <= 5 and len(task.test_inputs) == len(task.test_outputs) == 1
        ps = _pairs(task)
        for i, o in ps:
            json_form = json.loads(json.dumps([i, o]))
            assert (to_grid(json_form[0]), to_grid(json_form[1])) == (i, o)
            assert i != o, f"{task.id}: output equals input"
        assert len({i for i, _ in ps}) == len(ps), f"{task.id}: repeated input"
        assert len({o for _, o in ps}) > 1, f"{task.id}: all outputs equal"
        assert task_cells(task) <= MAX_TASK_CELLS


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_tasks_of_a_family_differ_between_seeds(family: str, tasks: dict[str, list[Task]]) -> None:
    assert len({t.train for t in tasks[family]}) == len(SEEDS)


def test_make_task_is_deterministic_in_the_seed() -> None:
    for family in FAMILIES:
        assert make_task(family, 7) == make_task(family, 7)
        assert make_task(family, 7, n_train=4).train.__len__() == 4


def test_size_budget_over_a_generated_set(tasks: dict[str, list[Task]]) -> None:
    all_tasks = [t for group in tasks.values() for t in group]
    cells = sorted(task_cells(t) for t in all_tasks)
    assert cells[int(0.95 * len(cells))] < 6000
    assert max(task_tokens(t) for t in all_tasks) < 8192
    sides = {len(g) for t in all_tasks for i, o in _pairs(t) for g in (i, o)}
    assert min(sides) <= 3 and max(sides) >= 25  # sizes are mixed, small to large


def test_task_tokens_counts_the_encoding_layout() -> None:
    task = make_task("dihedral", 3, n_train=1)
    (i, o), (ti, to) = _pairs(task)
    rows = sum(len(g) * (len(g[0]) + 1) for g in (i, o, ti, to))
    assert task_tokens(task) == 1 + 2 * 5 + rows


def test_generate_tasks_round_robin_and_deterministic() -> None:
    names = sorted(FAMILIES)[:3]
    got = generate_tasks(7, seed=2, families=names)
    assert [t.id.rsplit("-", 1)[0] for t in got] == [f"gen-{names[k % 3]}" for k in range(7)]
    assert got == generate_tasks(7, seed=2, families=names)
    assert {t.id for t in got}.isdisjoint(t.id for t in generate_tasks(7, seed=3, families=names))
    assert len(generate_tasks(len(FAMILIES), seed=0)) == len(FAMILIES)


def test_unknown_family_is_named() -> None:
    with pytest.raises(ValueError, match="no_such_family"):
        make_task("no_such_family", 0)
    with pytest.raises(ValueError, match="bogus"):
        generate_tasks(3, 0, families=["dihedral", "bogus"])


def test_a_family_that_never_meets_the_contract_fails_naming_family_and_seed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FAMILIES, "identity", lambda rng: lambda r: (((1,),), ((1,),)))
    with pytest.raises(ValueError, match=r"'identity' seed 5"):
        make_task("identity", 5)


def test_cli_writes_kaggle_files_that_load_back(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--count", "40", "--seed", "1", "--out", str(tmp_path), "--stats"]) == 0
    printed = capsys.readouterr().out
    assert "dihedral" in printed and "95th percentile" in printed
    loaded = load_challenges(tmp_path / "challenges.json", tmp_path / "solutions.json")
    assert not loaded.invalid and len(loaded.tasks) == 40
    assert loaded.tasks == generate_tasks(40, seed=1)


def test_tasks_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    """Another process with another PYTHONHASHSEED (set iteration order) writes the same tasks."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)}
    count = 2 * len(FAMILIES)  # every family twice
    subprocess.run([sys.executable, "-m", "tasks_lib.pretraining.generate", "--count", str(count), "--seed", "4", "--out", str(tmp_path)],
                   check=True, env=env, cwd=root, capture_output=True)
    loaded = load_challenges(tmp_path / "challenges.json", tmp_path / "solutions.json")
    assert loaded.tasks == generate_tasks(count, seed=4)
