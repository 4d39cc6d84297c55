"""Rules that restore or complete symmetry: a masked block read back from its mirror images, a masked
picture repaired, a shape mirrored around a centre block.

Contract: `RULES` holds one `base.Rule` per task id below; each `solve` is the task's rule and each sampler
draws inputs with the sizes and colours of that task's own inputs.
"""

from __future__ import annotations

import random

from tasks_lib.pretraining.generators.grid import bbox, paint, rect, shape
from tasks_lib.pretraining.rules.base import (Grid, Registry, Retry, blank, cells_of, flip_lr, flip_ud, hcat, pick, require, thaw,
                                  vcat)


def _mirror_value(g: Grid, r: int, c: int, mask: int) -> int:
    """The cell's value read from its left-right, up-down or point mirror image, whichever is not masked."""
    h, w = len(g), len(g[0])
    for y, x in ((r, w - 1 - c), (h - 1 - r, c), (h - 1 - r, w - 1 - c)):
        if g[y][x] != mask:
            return g[y][x]
    raise ValueError(f"cell ({r}, {c}) is masked in all its mirror images")


RULES = Registry()


def _masked_block(g: Grid) -> Grid:
    """ff805c23: a four-way symmetric picture with one block covered by 1 (or 6); the block as it should be."""
    mask = next(v for v in (1, 6) if any(v in row for row in g) and _is_block(g, v))
    top, left, bottom, right = bbox(cells_of(g, mask))
    return tuple(tuple(_mirror_value(g, r, c, mask) for c in range(left, right + 1)) for r in range(top, bottom + 1))


def _is_block(g: Grid, v: int) -> bool:
    cells = cells_of(g, v)
    top, left, bottom, right = bbox(cells)
    return len(cells) == (bottom - top + 1) * (right - left + 1)


def _symmetric(rng: random.Random, n: int, palette: list[int]) -> list[list[int]]:
    q = [[rng.choice(palette) for _ in range(n // 2)] for _ in range(n // 2)]
    top = hcat(q, flip_lr(q))
    return thaw(vcat(top, flip_ud(top)))


def _covered_picture(rng: random.Random):
    mask = rng.choice((1, 6))
    g = _symmetric(rng, 24, pick(rng, 3, [c for c in range(10) if c not in (1, 6)]))
    size = 5
    top, left = rng.randint(0, 12 - size), rng.randint(0, 24 - size)
    require(left + size <= 12 or left >= 12, "the block straddles the middle")
    block = [row[left:left + size] for row in g[top:top + size]]
    require(len({v for row in block for v in row}) > 1, "flat block")
    paint(g, rect(size, size), mask, (top, left))
    return g


RULES.add("ff805c23", _masked_block, _covered_picture)


def _repair(g: Grid) -> Grid:
    """b8825c91: patches of 4 on a four-way symmetric picture are repaired from their mirror images."""
    return tuple(tuple(_mirror_value(g, r, c, 4) if v == 4 else v for c, v in enumerate(row)) for r, row in enumerate(g))


def _patched_picture(rng: random.Random):
    g = _symmetric(rng, 16, pick(rng, 6, (1, 2, 3, 5, 6, 7, 8, 9)))
    quadrants = rng.sample(((0, 0), (0, 8), (8, 0), (8, 8)), rng.randint(1, 2))
    for qr, qc in quadrants:
        ph, pw = rng.randint(2, 4), rng.randint(2, 4)
        paint(g, rect(ph, pw), 4, (qr + rng.randint(0, 8 - ph), qc + rng.randint(0, 8 - pw)))
    for r, c in cells_of(g, 4):
        _mirror_value(g, r, c, 4)  # raises, so the draw is retried, if a cell has no unmasked mirror
    return g


def _patched(rng: random.Random):
    try:
        return _patched_picture(rng)
    except ValueError:
        raise Retry("a patch hides its own mirror") from None


RULES.add("b8825c91", _repair, _patched)


def _mirror_round_block(g: Grid) -> Grid:
    """4938f0c2: the shape of one corner is mirrored into the other three around the 2x2 block of 3."""
    (r3, c3) = cells_of(g, 3)[0]
    out = thaw(g)
    cy, cx = 2 * r3 + 1, 2 * c3 + 1  # mirror lines pass between the block's rows and columns
    for r, c in cells_of(g):
        if g[r][c] == 3:
            continue
        for y, x in ((r, cx - c), (cy - r, c), (cy - r, cx - c)):
            out[y][x] = g[r][c]
    return out


def _shape_by_block(rng: random.Random):
    h, w = rng.randint(10, 20), rng.randint(10, 30)
    sh, sw = rng.randint(2, 4), rng.randint(2, 4)
    r3, c3 = rng.randint(sh, h - sh - 2), rng.randint(sw, w - sw - 2)
    g = blank(h, w)
    paint(g, rect(2, 2), 3, (r3, c3))
    cells = shape(rng, sh, sw)
    colour = pick(rng, 1, (1, 2, 4, 5, 6, 7, 8, 9))[0]
    corner = rng.randrange(4)
    dy = r3 - sh if corner in (0, 1) else r3 + 2
    dx = c3 - sw if corner in (0, 2) else c3 + 2
    paint(g, cells, colour, (dy, dx))
    return g


RULES.add("4938f0c2", _mirror_round_block, _shape_by_block)
