"""Rules that move the whole grid: rotations, flips, mirrored and tiled copies, scaling, crops, shifts.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.rules.base import (Grid, Registry, flip_lr, flip_ud, hcat, palette_of, pick, random_grid, require,
                                  rot180, rot270, rot90, sub, transpose, upscale, vcat)

RULES = Registry()


def _full(h: int | tuple[int, int], w: int | tuple[int, int], n: tuple[int, int], pool=tuple(range(1, 10)),
          density: float = 1.0):
    """A sampler: an h x w grid (ints or inclusive ranges) of n (range) colours from `pool` over background 0."""
    def sample(rng: random.Random):
        hh = rng.randint(*h) if isinstance(h, tuple) else h
        ww = rng.randint(*w) if isinstance(w, tuple) else w
        palette = pick(rng, rng.randint(*n), pool)
        g = random_grid(rng, hh, ww, palette, density if density > 0 else rng.uniform(0.3, 0.8))
        require(len(palette_of(g)) >= min(2, len(palette)), "too few colours")
        return g
    return sample


def _square(lo: int, hi: int, n: tuple[int, int], pool=tuple(range(1, 10)), density: float = 1.0):
    def sample(rng: random.Random):
        side = rng.randint(lo, hi)
        return _full(side, side, n, pool, density)(rng)
    return sample


# Rotations, flips, transposes.
RULES.add("3c9b0459", rot180, _full(3, 3, (2, 3)))
RULES.add("6150a2bd", rot180, _full(3, 3, (2, 5), density=0.6))
RULES.add("67a3c6ac", flip_lr, _square(3, 7, (4, 4), (1, 2, 6, 7)))
RULES.add("68b16354", flip_ud, _square(5, 7, (5, 6), (1, 2, 3, 4, 7, 8)))
RULES.add("74dd1130", transpose, _full(3, 3, (2, 3)))
RULES.add("ed36ccf7", rot270, _full(3, 3, (1, 1), density=0.6))


def _diagonal_five(rng: random.Random):
    """9dfd6313's inputs: 5 on the main diagonal, a few coloured cells below it, nothing above."""
    side = rng.randint(3, 6)
    palette = pick(rng, rng.randint(1, 3), (1, 2, 3, 4, 6, 7, 8, 9))
    g = [[5 if r == c else (rng.choice(palette) if r > c and rng.random() < 0.35 else 0) for c in range(side)]
         for r in range(side)]
    require(any(v not in (0, 5) for row in g for v in row), "nothing below the diagonal")
    return g


RULES.add("9dfd6313", transpose, _diagonal_five)

# Mirrored and repeated copies.
RULES.add("a416b8f3", lambda g: hcat(g, g), _full((3, 5), (3, 4), (1, 4), density=0.5))
RULES.add("8be77c9e", lambda g: vcat(g, flip_ud(g)), _full(3, 3, (1, 1), density=0.55))
RULES.add("6fa7a44f", lambda g: vcat(g, flip_ud(g)), _full(3, 3, (2, 4)))
RULES.add("6d0aefbc", lambda g: hcat(g, flip_lr(g)), _full(3, 3, (2, 3)))
RULES.add("c9e6f938", lambda g: hcat(g, flip_lr(g)), _full(3, 3, (1, 1), (7,), density=0.5))
RULES.add("4c4377d9", lambda g: vcat(flip_ud(g), g), _full(3, 4, (2, 2)))


def _quad_mirror(g: Grid) -> Grid:
    top = hcat(g, flip_lr(g))
    return vcat(top, flip_ud(top))


RULES.add("62c24649", _quad_mirror, _full(3, 3, (2, 3), (1, 2, 3), density=0.8))
RULES.add("67e8384a", _quad_mirror, _full(3, 3, (3, 4)))
RULES.add("3af2c5a8", _quad_mirror, _full(3, 4, (1, 1), density=0.5))


def _quad_rotations(g: Grid) -> Grid:
    return vcat(hcat(g, rot90(g)), hcat(rot270(g), rot180(g)))


RULES.add("46442a0e", _quad_rotations, _square(2, 3, (2, 3)))
RULES.add("7fe24cdd", _quad_rotations, _full(3, 3, (2, 4), density=0.75))


def _mirror_tile_3(g: Grid) -> Grid:
    """8d5021e8: the grid beside its mirror, then that band three times, the middle one upright."""
    band = hcat(flip_lr(g), g)
    return vcat(flip_ud(band), band, flip_ud(band))


RULES.add("8d5021e8", _mirror_tile_3, _full(3, 2, (1, 1), density=0.5))


def _period(row: tuple[int, ...]) -> int:
    return next(p for p in range(1, len(row) + 1) if all(row[i] == row[i % p] for i in range(len(row))))


def _extend_pattern(g: Grid) -> Grid:
    """963e52fc: every row continues its own repeating pattern to twice the width."""
    return tuple(tuple(row[i % _period(row)] for i in range(2 * len(row))) for row in g)


def _band(rng: random.Random):
    h, w = 5, rng.randint(6, 14)
    period = rng.randint(2, 3)
    top = rng.randint(1, 2)
    rows = [[0] * w for _ in range(h)]
    for r in range(top, top + 2):
        unit = [rng.randint(1, 9) for _ in range(period)]
        require(len(set(unit)) > 1, "flat band")
        rows[r] = [unit[i % period] for i in range(w)]
    return rows


RULES.add("963e52fc", _extend_pattern, _band)


def _mirror_bottom_up(g: Grid) -> Grid:
    """f25ffba3: the bottom half, mirrored, replaces the empty top half."""
    half = tuple(g[len(g) // 2:])
    return vcat(flip_ud(half), half)


def _stacks(rng: random.Random):
    palette = pick(rng, 4)
    g = [[0] * 4 for _ in range(10)]
    for c in range(4):
        for r in range(10 - rng.randint(0, 5), 10):
            g[r][c] = rng.choice(palette)
    require(any(g[5]), "bottom half not full height somewhere")
    return g


RULES.add("f25ffba3", _mirror_bottom_up, _stacks)

# Crops and halves.
RULES.add("d10ecb37", lambda g: sub(g, 0, 0, 2, 2), _full((4, 12), (6, 8), (3, 4)))
RULES.add("2dee498d", lambda g: sub(g, 0, 0, len(g), len(g)), lambda r: hcat(*[_full(s := r.randint(2, 5), s, (2, 4), density=0.8)(r)] * 3))


def _half(g: Grid) -> Grid:
    """7b7f7511: the input is one grid twice, side by side or one above the other; keep one copy."""
    h, w = len(g), len(g[0])
    if w % 2 == 0 and all(row[: w // 2] == row[w // 2:] for row in g):
        return sub(g, 0, 0, h, w // 2)
    return sub(g, 0, 0, h // 2, w)


def _doubled(rng: random.Random):
    g = _full((2, 4), (2, 4), (2, 4))(rng)
    return hcat(g, g) if rng.random() < 0.5 else vcat(g, g)


RULES.add("7b7f7511", _half, _doubled)

# Scaling.
RULES.add("c59eb873", lambda g: upscale(g, 2), _square(2, 5, (2, 6), density=0.8))
RULES.add("9172f3a0", lambda g: upscale(g, 3), _full(3, 3, (1, 3), density=0.6))
RULES.add("b91ae062", lambda g: upscale(g, len(palette_of(g))), _full(3, 3, (2, 4), density=0.6))
RULES.add("ac0a08a4", lambda g: upscale(g, sum(v != 0 for row in g for v in row)),
          lambda r: _distinct_cells(r, r.randint(2, 5)))


def _distinct_cells(rng: random.Random, n: int):
    g = [[0] * 3 for _ in range(3)]
    for (y, x), c in zip(rng.sample([(y, x) for y in range(3) for x in range(3)], n), pick(rng, n)):
        g[y][x] = c
    return g


def _shift_down(g: Grid) -> Grid:
    """25ff71a9: everything moves one row down (the bottom row is empty)."""
    return ((0,) * len(g[0]),) + tuple(g[:-1])


def _top_shape(rng: random.Random):
    g = _full(3, 3, (1, 1), (1, 2), density=0.5)(rng)
    g[2] = [0, 0, 0]
    require(any(any(row) for row in g), "empty")
    return g


RULES.add("25ff71a9", _shift_down, _top_shape)
