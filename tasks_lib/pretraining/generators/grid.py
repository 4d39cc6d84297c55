"""Drawing helpers the generator families and the training tasks' rules (`tasks_lib.pretraining.rules`) share:
mutable canvases, random shapes, placement, objects, dihedral views, tilings.

Contract: a canvas is a list of lists of ints 0-9 that a family draws on and then freezes into a
`tasks_lib.arc.data.Grid`. Every helper that draws takes the `random.Random` it draws from, so a family is
deterministic in its rng. A draw that cannot satisfy its constraints raises `Retry`; the caller
(`tasks_lib.pretraining.generate`) draws again, a bounded number of times.
"""

from __future__ import annotations

import random
from typing import Callable, Iterable, Sequence

from tasks_lib.arc.augment import Augmentation, apply_grid
from tasks_lib.arc.data import Grid

Canvas = list[list[int]]
Cell = tuple[int, int]
PairFn = Callable[[random.Random], tuple[Grid, Grid]]  # draws one (input, output) pair under a task's rule
Family = Callable[[random.Random], PairFn]  # draws a task's hidden rule, returns its pair drawer

COLOURS = tuple(range(1, 10))  # non-background colours; 0 is the background unless a family says otherwise
STEPS4 = ((1, 0), (-1, 0), (0, 1), (0, -1))  # the four edge neighbours' offsets


class Retry(Exception):
    """This draw cannot meet the family's constraints (no room, degenerate result); draw again."""


def blank(h: int, w: int, colour: int = 0) -> Canvas:
    return [[colour] * w for _ in range(h)]


def freeze(canvas: Canvas) -> Grid:
    return tuple(tuple(row) for row in canvas)


def thaw(grid: Grid | Canvas) -> Canvas:
    """A fresh mutable copy."""
    return [list(row) for row in grid]


def size(grid: Grid | Canvas) -> tuple[int, int]:
    return len(grid), len(grid[0])


def turn(k: int, grid: Grid | Canvas) -> Grid:
    """The grid under dihedral transform k of `tasks_lib.arc.augment` (0 is the identity, 4 the transpose)."""
    return apply_grid(Augmentation(dihedral=k), freeze(grid))


def colours(rng: random.Random, n: int, exclude: Iterable[int] = (0,)) -> list[int]:
    """n distinct colours, none of them in `exclude`."""
    pool = [c for c in range(10) if c not in set(exclude)]
    if n > len(pool):
        raise Retry(f"need {n} colours, only {len(pool)} allowed")
    return rng.sample(pool, n)


def noise(rng: random.Random, h: int, w: int, palette: Sequence[int], density: float, bg: int = 0) -> Canvas:
    """A canvas where each cell is a random palette colour with probability `density`, else `bg`."""
    return [[rng.choice(palette) if rng.random() < density else bg for _ in range(w)] for _ in range(h)]


def tiled(tile: Grid | Canvas, h: int, w: int) -> Canvas:
    """An h x w canvas covered by repeats of `tile` from the top-left corner (the last ones may be cut off)."""
    th, tw = len(tile), len(tile[0])
    return [[tile[y % th][x % tw] for x in range(w)] for y in range(h)]


def shape(rng: random.Random, max_h: int, max_w: int, n_cells: int | None = None) -> list[Cell]:
    """A 4-connected random shape inside a max_h x max_w box, normalised to start at (0, 0)."""
    area = max_h * max_w
    target = n_cells if n_cells is not None else rng.randint(max(1, area // 3), area)
    target = min(target, area)
    cells = {(rng.randrange(max_h), rng.randrange(max_w))}
    while len(cells) < target:
        r, c = rng.choice(sorted(cells))
        dr, dc = rng.choice(((0, 1), (1, 0), (0, -1), (-1, 0)))
        if 0 <= r + dr < max_h and 0 <= c + dc < max_w:
            cells.add((r + dr, c + dc))
    return normalise(cells)


def normalise(cells: Iterable[Cell]) -> list[Cell]:
    cells = list(cells)
    r0 = min(r for r, _ in cells)
    c0 = min(c for _, c in cells)
    return sorted((r - r0, c - c0) for r, c in cells)


def extent(cells: Sequence[Cell]) -> tuple[int, int]:
    """Height and width of a normalised shape."""
    return max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1


def place(rng: random.Random, h: int, w: int, shapes: Sequence[Sequence[Cell]], gap: int = 1,
          taken: set[Cell] | None = None, tries: int = 60) -> list[Cell]:
    """Top-left offsets that put each shape in an h x w grid without overlap, `gap` cells apart
    (gap 1 keeps shapes apart under 8-connectivity). Raises Retry when they do not fit."""
    blocked = set(taken or ())
    offsets = []
    for cells in shapes:
        sh, sw = extent(cells)
        if sh > h or sw > w:
            raise Retry("shape larger than grid")
        for _ in range(tries):
            r0, c0 = rng.randint(0, h - sh), rng.randint(0, w - sw)
            placed = [(r0 + r, c0 + c) for r, c in cells]
            if not any((r + dr, c + dc) in blocked for r, c in placed for dr in range(-gap, gap + 1)
                       for dc in range(-gap, gap + 1)):
                blocked.update(placed)
                offsets.append((r0, c0))
                break
        else:
            raise Retry("no room to place shapes")
    return offsets


def paint(canvas: Canvas, cells: Iterable[Cell], colour: int, at: Cell = (0, 0)) -> None:
    for r, c in cells:
        canvas[at[0] + r][at[1] + c] = colour


def scatter(rng: random.Random, h: int, w: int, shapes: Sequence[Sequence[Cell]], colour: int | None = None,
            gap: int = 1, bg: int = 0) -> Canvas:
    """An h x w canvas of `bg` with the shapes placed `gap` cells apart (see `place`), all in `colour`; when
    `colour` is None, each in a colour of its own (`colours`, drawn after the places)."""
    canvas = blank(h, w, bg)
    offsets = place(rng, h, w, shapes, gap=gap)
    fills = colours(rng, len(shapes)) if colour is None else [colour] * len(shapes)
    for cells, at, c in zip(shapes, offsets, fills):
        paint(canvas, cells, c, at)
    return canvas


def scene(rng: random.Random, h: int, w: int, shapes: Sequence[Sequence[Cell]],
          palette: Sequence[int]) -> tuple[Canvas, list[tuple[list[Cell], int]]]:
    """The shapes placed apart (see `place`), each in a random palette colour; returns the canvas and, in the
    order of `shapes`, each object's cells on the canvas and its colour."""
    canvas = blank(h, w)
    objects = []
    for cells, (y0, x0) in zip(shapes, place(rng, h, w, shapes)):
        c = rng.choice(palette)
        absolute = [(y0 + y, x0 + x) for y, x in cells]
        paint(canvas, absolute, c)
        objects.append((absolute, c))
    return canvas, objects


def components(grid: Grid | Canvas, bg: int = 0, diagonal: bool = True) -> list[list[Cell]]:
    """Connected same-colour groups of non-background cells, in reading order of their first cell."""
    h, w = size(grid)
    seen: set[Cell] = set()
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    if diagonal:
        steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    groups = []
    for r in range(h):
        for c in range(w):
            if grid[r][c] == bg or (r, c) in seen:
                continue
            colour, stack, group = grid[r][c], [(r, c)], []
            seen.add((r, c))
            while stack:
                cr, cc = stack.pop()
                group.append((cr, cc))
                for dr, dc in steps:
                    nr, nc = cr + dr, cc + dc
                    if 0 <= nr < h and 0 <= nc < w and (nr, nc) not in seen and grid[nr][nc] == colour:
                        seen.add((nr, nc))
                        stack.append((nr, nc))
            groups.append(sorted(group))
    return groups


def outside(g: Grid | Canvas, bg: int = 0) -> set[Cell]:
    """Background cells that reach the border through background (4-connected)."""
    h, w = len(g), len(g[0])
    stack = [(r, c) for r in range(h) for c in range(w) if (r in (0, h - 1) or c in (0, w - 1)) and g[r][c] == bg]
    seen = set(stack)
    while stack:
        r, c = stack.pop()
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            n = (r + dr, c + dc)
            if 0 <= n[0] < h and 0 <= n[1] < w and n not in seen and g[n[0]][n[1]] == bg:
                seen.add(n)
                stack.append(n)
    return seen


def bbox(cells: Iterable[Cell]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), inclusive."""
    cells = list(cells)
    rows = [r for r, _ in cells]
    cols = [c for _, c in cells]
    return min(rows), min(cols), max(rows), max(cols)


def crop(grid: Grid | Canvas, box: tuple[int, int, int, int]) -> Grid:
    top, left, bottom, right = box
    return tuple(tuple(row[left:right + 1]) for row in grid[top:bottom + 1])


def dims(rng: random.Random, lo: int, hi: int) -> tuple[int, int]:
    """A random height and width in [lo, hi]."""
    return rng.randint(lo, hi), rng.randint(lo, hi)


def side_range(rng: random.Random, lo: int = 3, top: int = 30) -> tuple[int, int]:
    """A task's range of grid sides: mostly small and moderate, now and then up to `top`."""
    hi = rng.choice((lo + 2, 6, 8, 10, 12, 12, 14, 16, 20, 24, 30, 30))
    return lo, max(lo, min(hi, top))


def rect(h: int, w: int) -> list[Cell]:
    """The cells of a solid h x w rectangle at (0, 0)."""
    return [(y, x) for y in range(h) for x in range(w)]


def outline(h: int, w: int) -> list[Cell]:
    """The rim cells of an h x w rectangle at (0, 0), in reading order."""
    return [(y, x) for y, x in rect(h, w) if y in (0, h - 1) or x in (0, w - 1)]


def ell(rng: random.Random) -> list[Cell]:
    """An L of three cells: a 2x2 square less one random cell."""
    cells = rect(2, 2)
    cells.remove(rng.choice(cells))
    return cells


def random_rects(rng: random.Random, n: int, lo: int, hi_h: int, hi_w: int) -> list[list[Cell]]:
    """n solid rectangles with sides in [lo, hi] (hi clipped to at least lo)."""
    return [rect(rng.randint(lo, max(lo, hi_h)), rng.randint(lo, max(lo, hi_w))) for _ in range(n)]
