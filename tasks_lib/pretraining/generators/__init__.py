"""The registry of procedural task families; `tasks_lib.pretraining.generate` builds tasks from it.

Contract: `FAMILIES` maps a family name to a function `family(rng) -> pair(rng) -> (input, output)`.
Calling the family draws the task's hidden rule once (which colours map where, which way gravity pulls,
which symmetry); the returned pair drawer makes fresh inputs and computes their outputs by that rule.
A draw that cannot be made raises `Retry`. Families use only the standard library's `random`.
"""

from __future__ import annotations

from tasks_lib.pretraining.generators import arith, composition, geometry, lines, logic, objects, patterns, regions
from tasks_lib.pretraining.generators.grid import Family, PairFn, Retry

FAMILIES: dict[str, Family] = {**geometry.FAMILIES, **lines.FAMILIES, **objects.FAMILIES, **logic.FAMILIES,
                               **patterns.FAMILIES, **composition.FAMILIES, **arith.FAMILIES, **regions.FAMILIES}

__all__ = ["FAMILIES", "Family", "PairFn", "Retry"]
