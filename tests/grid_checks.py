"""Grid helpers that the generator rule checks share (`tests/test_generate.py`, `tests/gen_checks_*.py`).

Written independently of `tasks_lib.pretraining.generators`, so a check never reuses the code it checks. Cells are (row,
column); `groups` visits start cells in row order, so a group's first cell is its top-left-most one.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

from tasks_lib.arc.data import Grid

Pairs = list[tuple[Grid, Grid]]
Cell = tuple[int, int]
SIDES = ((1, 0), (-1, 0), (0, 1), (0, -1))
AROUND = tuple((dy, dx) for dy, dx in product((-1, 0, 1), repeat=2) if (dy, dx) != (0, 0))


def size(g: Grid) -> tuple[int, int]:
    return len(g), len(g[0])


def all_cells(g: Grid) -> list[Cell]:
    return list(product(range(len(g)), range(len(g[0]))))


def cells(g: Grid) -> list[Cell]:
    """The non-background cells, in row order."""
    return [(y, x) for y, row in enumerate(g) for x, v in enumerate(row) if v]


def groups(g: Grid, same_colour: bool = True, diagonal: bool = True,
           inside: Callable[[int], bool] = bool) -> list[list[Cell]]:
    """Connected groups (8-connected, or 4 without `diagonal`) of the cells whose colour passes `inside`
    (default: not background), of one colour each or of any colours mixed; each group's cells sorted."""
    steps = AROUND if diagonal else SIDES
    h, w = size(g)
    seen: set[Cell] = set()
    found = []
    for start in all_cells(g):
        if start in seen or not inside(g[start[0]][start[1]]):
            continue
        colour = g[start[0]][start[1]]
        seen.add(start)
        group, todo = [], [start]
        while todo:
            y, x = todo.pop()
            group.append((y, x))
            for dy, dx in steps:
                n = (y + dy, x + dx)
                if (0 <= n[0] < h and 0 <= n[1] < w and n not in seen and inside(g[n[0]][n[1]])
                        and (not same_colour or g[n[0]][n[1]] == colour)):
                    seen.add(n)
                    todo.append(n)
        found.append(sorted(group))
    return found


def objects(g: Grid, same_colour: bool = True) -> list[tuple[int, list[Cell]]]:
    """8-connected groups of non-background cells as (colour of the group's first cell, its cells)."""
    return [(g[cs[0][0]][cs[0][1]], cs) for cs in groups(g, same_colour)]
