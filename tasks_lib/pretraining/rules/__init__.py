"""Rules of individual ARC training tasks, written here as programs: the registry `RULES` (task id -> Rule).

This package owns one `Rule` per covered ARC-AGI-1 or ARC-AGI-2 training task (`base.Rule`: `solve` the task's
rule, `sample` fresh inputs in its style), grouped by kind into modules of at most ~500 lines. It holds no
evaluation task and no ARC-AGI-2 training task that copies one; `tasks_lib.pretraining.rule_tasks` checks that, verifies
every rule against its task's given pairs, counts coverage and makes fresh tasks.
"""

from __future__ import annotations

from tasks_lib.pretraining.rules import (assemble, bands, cellwise, completion, counting, drawings, fills, frames, geometry,
                                         lines, links, motion, moves, noisy, objects, patterns, pieces, readouts,
                                         rearrange, reshapes, rooms, scenes, shapes, spans, strokes, symmetry, tallies,
                                         touchups)
from tasks_lib.pretraining.rules.base import Registry, Retry, Rule

MODULES = (geometry, cellwise, objects, lines, shapes, fills, patterns, readouts, drawings, pieces, moves, assemble,
           spans, counting, motion, frames, links, noisy, symmetry, bands,
           completion, rooms, rearrange,  # rearrange: mostly ARC-AGI-2 training tasks
           scenes, reshapes, strokes, tallies, touchups)  # ARC-AGI-2 training tasks that are not ARC-AGI-1 ones


def _merge() -> Registry:
    """Every module's rules in one registry; a task id ruled in two modules is an error."""
    merged = Registry()
    for module in MODULES:
        for tid, rule in module.RULES.items():
            if tid in merged:
                raise ValueError(f"task {tid}: rules in two modules ({module.__name__} and another)")
            merged[tid] = rule
    return merged


RULES: Registry = _merge()

__all__ = ["RULES", "Retry", "Rule"]
