"""Augmentations are exact inverses, transform whole tasks consistently, and are fixed by their seed."""

from __future__ import annotations

import random

import pytest

from tasks_lib.arc.augment import (
    Augmentation,
    apply_grid,
    apply_task,
    invert_grid,
    random_augmentation,
    sample_augmentations,
)
from tasks_lib.arc.data import Grid, Pair, Task


def _grid(rng: random.Random, h: int, w: int) -> Grid:
    return tuple(tuple(rng.randrange(10) for _ in range(w)) for _ in range(h))


def _colours(rng: random.Random) -> tuple[int, ...]:
    perm = list(range(10))
    rng.shuffle(perm)
    return tuple(perm)


@pytest.mark.parametrize("k", range(8))
def test_round_trip_every_dihedral_with_random_colours(k: int) -> None:
    rng = random.Random(k)
    for _ in range(25):
        h, w = rng.randint(1, 30), rng.randint(1, 30)
        g = _grid(rng, h, w)
        aug = Augmentation(k, _colours(rng))
        out = apply_grid(aug, g)
        assert {(len(out), len(out[0]))} <= {(h, w), (w, h)}
        assert invert_grid(aug, out) == g


def test_the_eight_dihedral_transforms_are_distinct() -> None:
    g = ((1, 2, 3), (4, 5, 6))  # no symmetry: every transform gives a different grid
    assert len({apply_grid(Augmentation(k), g) for k in range(8)}) == 8
    assert apply_grid(Augmentation(0), g) == g


def test_colours_map_cell_by_cell() -> None:
    colours = (0, 2, 1, 3, 4, 5, 6, 7, 8, 9)
    assert apply_grid(Augmentation(0, colours), ((1, 2), (0, 3))) == ((2, 1), (0, 3))


@pytest.mark.parametrize("bad", [dict(dihedral=8), dict(dihedral=-1), dict(colours=(0,) * 10), dict(colours=tuple(range(9)))])
def test_invalid_augmentation_is_rejected(bad: dict) -> None:
    with pytest.raises(ValueError):
        Augmentation(**bad)


def _task(rng: random.Random, n_train: int = 4) -> Task:
    pairs = tuple(Pair(_grid(rng, rng.randint(1, 6), rng.randint(1, 6)), _grid(rng, rng.randint(1, 6), rng.randint(1, 6))) for _ in range(n_train))
    tests = tuple(_grid(rng, rng.randint(1, 6), rng.randint(1, 6)) for _ in range(2))
    outs = tuple(_grid(rng, rng.randint(1, 6), rng.randint(1, 6)) for _ in range(2))
    return Task("aug", pairs, tests, outs)


def test_apply_task_transforms_every_grid_and_reorders_pairs() -> None:
    rng = random.Random(7)
    for seed in range(20):
        task = _task(rng)
        aug = random_augmentation(random.Random(seed), len(task.train), keep_background=seed % 2 == 0)
        view = apply_task(aug, task)
        assert view.id == task.id
        assert len(view.train) == len(task.train)
        for j, i in enumerate(aug.order):
            assert view.train[j] == Pair(apply_grid(aug, task.train[i].input), apply_grid(aug, task.train[i].output))
        assert tuple(invert_grid(aug, g) for g in view.test_inputs) == task.test_inputs
        assert tuple(invert_grid(aug, g) for g in view.test_outputs) == task.test_outputs


def test_apply_task_rejects_an_order_of_the_wrong_length() -> None:
    task = _task(random.Random(0), n_train=3)
    with pytest.raises(ValueError, match="not a permutation"):
        apply_task(Augmentation(order=(0, 1)), task)


def test_keep_background_fixes_colour_zero() -> None:
    rng = random.Random(3)
    assert all(random_augmentation(rng, 3).colours[0] == 0 for _ in range(50))


def test_views_are_deterministic_in_the_seed() -> None:
    a = sample_augmentations(seed=11, n=12, n_train=3)
    assert a == sample_augmentations(seed=11, n=12, n_train=3)
    assert a != sample_augmentations(seed=12, n=12, n_train=3)
    assert a[0].is_identity
    assert [v.dihedral for v in a[1:8]] == list(range(1, 8))
    assert len(sample_augmentations(seed=0, n=3, n_train=2, include_identity=False)) == 3
    assert not sample_augmentations(seed=0, n=1, n_train=2, include_identity=False)[0].is_identity


@pytest.mark.parametrize("scale", [2, 3])
def test_upscaling_round_trips_with_every_dihedral_and_colours(scale: int) -> None:
    rng = random.Random(scale)
    for k in range(8):
        g = _grid(rng, rng.randint(1, 10), rng.randint(1, 10))
        aug = Augmentation(k, _colours(rng), scale=scale)
        out = apply_grid(aug, g)
        assert (len(out), len(out[0])) == (len(apply_grid(Augmentation(k), g)) * scale, len(apply_grid(Augmentation(k), g)[0]) * scale)
        assert all(out[r][c] == out[r - r % scale][c - c % scale] for r in range(len(out)) for c in range(len(out[0])))
        assert invert_grid(aug, out) == g


def test_a_grid_that_breaks_the_blocks_is_no_answer() -> None:
    from tasks_lib.arc.augment import ScaleError

    aug = Augmentation(scale=2)
    with pytest.raises(ScaleError, match="not made of 2x2 blocks"):
        invert_grid(aug, ((1, 1, 1), (1, 1, 1)))
    with pytest.raises(ScaleError, match="more than one colour"):
        invert_grid(aug, ((1, 1), (1, 2)))


def test_max_scale_keeps_every_grid_within_thirty_cells() -> None:
    from tasks_lib.arc.augment import max_scale

    small = Task("s", (Pair(((1,) * 4,) * 3, ((2,) * 7,) * 2),), (((0,),),), (((3,) * 9,),))
    assert max_scale(small) == 3  # the widest grid has 9 columns
    rng = random.Random(5)
    for _ in range(20):
        task = _task(rng)
        k = max_scale(task)
        aug = random_augmentation(random.Random(k), len(task.train), max_scale=k)
        view = apply_task(aug, task)
        assert all(len(g) <= 30 and len(g[0]) <= 30 for p in view.train for g in (p.input, p.output))
        assert tuple(invert_grid(aug, g) for g in view.test_outputs) == task.test_outputs


def test_random_views_upscale_about_half_the_time_only_when_allowed() -> None:
    rng = random.Random(9)
    scales = [random_augmentation(rng, 3, max_scale=3).scale for _ in range(400)]
    assert 150 < scales.count(1) < 250 and set(scales) == {1, 2, 3}
    assert {random_augmentation(rng, 3).scale for _ in range(50)} == {1}
