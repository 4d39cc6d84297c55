"""Augmentations: the 8 dihedral transforms x colour permutations x integer upscaling x order of train examples.

Contract: every augmentation is a frozen value; `apply_grid` and `invert_grid` are pure and exact
inverses (`invert_grid(aug, apply_grid(aug, g)) == g` for every grid), and `apply_task` transforms
all grids of a task the same way and reorders its train pairs. Upscaling by `scale` k turns every cell into a
k x k block, in every grid of the task alike, so a rule about shapes and colours still holds at the larger size;
`invert_grid` of a grid that is not made of uniform k x k blocks raises `ScaleError` (a sampled answer that
breaks the view's scale is not an answer). `max_scale(task)` is the largest scale that keeps every grid within
30 cells a side. Randomness only enters through `random_augmentation(rng, ...)` and
`sample_augmentations(seed, n)`, so a seed fixes every view.

Translation is left out on purpose: the models see positions only through rotary embeddings, which depend on
the offset between two tokens, so moving every grid of a task by the same amount changes nothing they see.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tasks_lib.arc.data import MAX_SIDE, Grid, Pair, Task

IDENTITY_COLOURS = tuple(range(10))


class ScaleError(ValueError):
    """A grid is not an upscaled grid of the view's scale."""


def _transpose(g: Grid) -> Grid:
    return tuple(zip(*g))


def _flip_rows(g: Grid) -> Grid:  # upside down
    return tuple(reversed(g))


def _flip_cols(g: Grid) -> Grid:  # mirror left-right
    return tuple(tuple(reversed(r)) for r in g)


_DIHEDRAL_STEPS = ((4, _transpose), (1, _flip_rows), (2, _flip_cols))  # (bit of k, step), in the order applied


def _dihedral(g: Grid, k: int, inverse: bool = False) -> Grid:
    """k in 0..7: bit 0 flips rows, bit 1 flips columns, bit 2 transposes first. Each step is its own inverse, so
    `inverse` undoes k by taking the same steps in reverse order."""
    steps = reversed(_DIHEDRAL_STEPS) if inverse else _DIHEDRAL_STEPS
    for bit, step in steps:
        if k & bit:
            g = step(g)
    return g


@dataclass(frozen=True)
class Augmentation:
    """One view of a task. `colours[c]` is the new colour of colour c; `order` permutes train pairs; every cell
    becomes a `scale` x `scale` block."""

    dihedral: int = 0
    colours: tuple[int, ...] = IDENTITY_COLOURS
    order: tuple[int, ...] | None = None
    scale: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.dihedral <= 7:
            raise ValueError(f"dihedral must be 0-7, got {self.dihedral}")
        if sorted(self.colours) != list(range(10)):
            raise ValueError(f"colours must be a permutation of 0-9, got {self.colours}")
        if not 1 <= self.scale <= MAX_SIDE:
            raise ValueError(f"scale must be 1-{MAX_SIDE}, got {self.scale}")

    @property
    def is_identity(self) -> bool:
        return self.dihedral == 0 and self.colours == IDENTITY_COLOURS and self.order is None and self.scale == 1

    def to_dict(self) -> dict:
        return {"dihedral": self.dihedral, "colours": list(self.colours), "order": None if self.order is None else list(self.order),
                "scale": self.scale}


def _upscale(g: Grid, k: int) -> Grid:
    return tuple(tuple(v for v in row for _ in range(k)) for row in g for _ in range(k))


def _downscale(g: Grid, k: int) -> Grid:
    if len(g) % k or len(g[0]) % k:
        raise ScaleError(f"a {len(g)}x{len(g[0])} grid is not made of {k}x{k} blocks")
    small = tuple(tuple(g[r][c] for c in range(0, len(g[0]), k)) for r in range(0, len(g), k))
    if _upscale(small, k) != g:
        raise ScaleError(f"a {len(g)}x{len(g[0])} grid has a {k}x{k} block of more than one colour")
    return small


def apply_grid(aug: Augmentation, grid: Grid) -> Grid:
    """Transform one grid: dihedral first, then colours, then the upscaling."""
    g = _dihedral(grid, aug.dihedral)
    c = aug.colours
    g = tuple(tuple(c[v] for v in row) for row in g)
    return _upscale(g, aug.scale) if aug.scale > 1 else g


def invert_grid(aug: Augmentation, grid: Grid) -> Grid:
    """Undo `apply_grid`; raises ScaleError when `grid` is not made of the view's blocks."""
    if aug.scale > 1:
        grid = _downscale(grid, aug.scale)
    inv = [0] * 10
    for src, dst in enumerate(aug.colours):
        inv[dst] = src
    g = tuple(tuple(inv[v] for v in row) for row in grid)
    return _dihedral(g, aug.dihedral, inverse=True)


def max_scale(task: Task) -> int:
    """The largest upscaling that keeps every grid of `task` (test outputs included) within 30 cells a side."""
    grids = [g for p in task.train for g in (p.input, p.output)] + list(task.test_inputs) + list(task.test_outputs)
    return max(1, MAX_SIDE // max(max(len(g), len(g[0])) for g in grids))


def apply_task(aug: Augmentation, task: Task) -> Task:
    """Transform every grid of a task and reorder its train pairs (test order is kept)."""
    pairs = [Pair(apply_grid(aug, p.input), apply_grid(aug, p.output)) for p in task.train]
    if aug.order is not None:
        if sorted(aug.order) != list(range(len(pairs))):
            raise ValueError(f"task {task.id}: order {aug.order} is not a permutation of its {len(pairs)} train pairs")
        pairs = [pairs[i] for i in aug.order]
    return Task(
        task.id,
        tuple(pairs),
        tuple(apply_grid(aug, g) for g in task.test_inputs),
        tuple(apply_grid(aug, g) for g in task.test_outputs),
    )


def random_augmentation(rng: random.Random, n_train: int, keep_background: bool = True, max_scale: int = 1) -> Augmentation:
    """A uniformly random view; colour 0 (the usual background) stays fixed when keep_background. With
    `max_scale` > 1, half the views are upscaled, by a scale drawn uniformly from 2..max_scale (no draw is made
    when max_scale is 1, so views drawn without scaling stay what they were)."""
    if keep_background:
        rest = list(range(1, 10))
        rng.shuffle(rest)
        colours = (0, *rest)
    else:
        perm = list(range(10))
        rng.shuffle(perm)
        colours = tuple(perm)
    order = list(range(n_train))
    rng.shuffle(order)
    dihedral = rng.randrange(8)
    scale = rng.randint(2, max_scale) if max_scale > 1 and rng.random() < 0.5 else 1
    return Augmentation(dihedral, colours, tuple(order), scale)


def sample_augmentations(seed: int, n: int, n_train: int, include_identity: bool = True, keep_background: bool = True) -> list[Augmentation]:
    """n views for a task: the identity first (if asked), then the 7 other dihedral transforms
    with random colours, then fully random views. Deterministic in `seed`."""
    rng = random.Random(seed)
    views: list[Augmentation] = [Augmentation()] if include_identity else []
    k = 1
    while len(views) < n:
        rand = random_augmentation(rng, n_train, keep_background)
        if k < 8:
            rand = Augmentation(k, rand.colours, rand.order)
            k += 1
        views.append(rand)
    return views[:n]
