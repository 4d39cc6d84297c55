"""Fresh tasks made from ARC training tasks' own rules (`tasks_lib.pretraining.rules`), their verification and coverage.

Contract:
- Only ARC-AGI-1 training and ARC-AGI-2 training tasks may have a rule, and never an ARC-AGI-2 training task
  that shares content with an evaluation set (`held_out_ids`: the same content test `tasks_lib.pretraining.pretrain_data.
  training_tasks` applies to pretraining data, against `HOLDOUT`).
- `verify(task_id)` returns the problems of a registered rule, empty when it is verified: the task is eligible,
  its `solve` reproduces every given train and test pair of every eligible set that holds the task id, and
  `SAMPLE_CHECK` pairs drawn from seeds 0.. are valid grids (1-30 per side, ints 0-9), no output equals its
  input, at least `MIN_DISTINCT` of the inputs differ, the outputs are not all the same, and seed 0 draws the
  same pair again.
- `coverage()` maps each of `SETS` to the sorted ids of the verified rules of its tasks.
- `make_task(task_id, seed, n_pairs=None)` returns a `Task` with id `gen-rule-<task_id>-<seed>`: `n_pairs`
  fresh pairs (default: as many as the task has, train and test), the last as the test pair with its output
  in `test_outputs`; deterministic in (task_id, seed). Inputs are pairwise distinct, no output equals its
  input, the outputs are not all equal, and all grids hold at most `tasks_lib.pretraining.generate.MAX_TASK_CELLS` cells:
  a task of large grids (or one whose draws run out early) keeps fewer pairs, at least 2. `ValueError` names the
  task and seed when not even that can be drawn, or names an unknown task id.
- `rule_tasks(per_task, seed, task_ids=None, processes=1)` makes `per_task` tasks for each verified rule (all by
  default), task j of a rule seeded `seed * SEED_STRIDE + j`; `processes` > 1 verifies and makes them in forked
  processes, the same list. Their ids start `gen-`, so pretraining draws them with the
  generated tasks (`PretrainConfig.rule_tasks`).
- `python -m tasks_lib.pretraining.rule_tasks --coverage` prints the verified tasks per set (count and ids), and every
  registered rule that fails verification with its problems; `--out DIR --per-task N` writes Kaggle JSON.
"""

from __future__ import annotations

import argparse
import random
import sys
from functools import lru_cache
from typing import Sequence

from tasks_lib.arc.data import Grid, GridError, Pair, Task, load_challenges, to_grid, write_kaggle
from tasks_lib.pretraining.generate import MAX_TASK_CELLS, SEED_STRIDE, in_processes
from tasks_lib.pretraining.rules import RULES, Retry, Rule

SETS = ("arc1/train", "arc2/train")
HOLDOUT = ("arc1/eval", "arc2/eval")
SAMPLE_CHECK = 60  # sampled pairs `verify` checks
MIN_DISTINCT = 10  # distinct inputs those pairs must have: fresh pairs, not a handful repeated
DRAW_TRIES = 40  # input draws per wanted pair before giving up
PREFIX = "gen-rule-"


@lru_cache(maxsize=None)
def training_sets() -> dict[str, dict[str, Task]]:
    """Each of `SETS` as task id -> Task (with its test outputs)."""
    return {name: {t.id: t for t in load_challenges(name).tasks} for name in SETS}


@lru_cache(maxsize=None)
def held_out_ids() -> frozenset[str]:
    """Training task ids that share content with `HOLDOUT` (for ARC-AGI-2 training: its copies of ARC-AGI-1
    evaluation tasks), found by the pretraining data's own content test."""
    from tasks_lib.pretraining.pretrain_data import training_tasks

    _, report = training_tasks(SETS, HOLDOUT)
    return frozenset(tid for ids in report.excluded.values() for tid in ids)


def given_pairs(task: Task) -> list[Pair]:
    return list(task.train) + [Pair(i, o) for i, o in zip(task.test_inputs, task.test_outputs)]


def _draw(rule: Rule, rng: random.Random) -> tuple[Grid, Grid] | None:
    """One valid pair whose output differs from its input, or None when the draws run out."""
    for _ in range(DRAW_TRIES):
        try:
            x, y = rule.pair(rng)
        except Retry:
            continue
        except Exception as err:  # a crash in sample or solve is a rule bug, whatever the error: say where
            raise ValueError(f"task {rule.task_id}: drawing a pair raised {type(err).__name__}: {err}") from err
        try:
            x, y = to_grid(x), to_grid(y)
        except GridError as err:  # a rule bug, not bad luck: say where
            raise ValueError(f"task {rule.task_id}: rule drew an invalid grid ({err})") from None
        if x != y:
            return x, y
    return None


def verify(task_id: str) -> list[str]:
    """Problems of `task_id`'s rule (see module doc); empty when verified."""
    if task_id not in RULES:
        return [f"task {task_id}: no rule registered"]
    rule = RULES[task_id]
    homes = [name for name, tasks in training_sets().items() if task_id in tasks]
    if not homes:
        return [f"task {task_id}: not an ARC-AGI-1 or ARC-AGI-2 training task"]
    if task_id in held_out_ids():
        return [f"task {task_id}: shares content with {', '.join(HOLDOUT)}, so it gets no rule"]
    problems = []
    for name in homes:
        for i, pair in enumerate(given_pairs(training_sets()[name][task_id])):
            try:
                got = to_grid(rule.solve(pair.input))
            except Exception as err:  # a rule that crashes on a given input fails, whatever the error
                problems.append(f"task {task_id} ({name}) pair {i}: solve raised {type(err).__name__}: {err}")
                continue
            if got != pair.output:
                problems.append(f"task {task_id} ({name}) pair {i}: solve does not reproduce the output")
    pairs = []
    for seed in range(SAMPLE_CHECK):
        try:
            drawn = _draw(rule, random.Random(f"{task_id}:{seed}"))
        except ValueError as err:
            problems.append(str(err))
            break
        if drawn is None:
            problems.append(f"task {task_id} seed {seed}: no valid pair in {DRAW_TRIES} draws")
            break
        pairs.append(drawn)
    if len(pairs) == SAMPLE_CHECK:
        if len({x for x, _ in pairs}) < MIN_DISTINCT or len({y for _, y in pairs}) == 1:
            problems.append(f"task {task_id}: sampled inputs are too few ({len({x for x, _ in pairs})} distinct of "
                            f"{SAMPLE_CHECK}) or the outputs are all the same")
        again = _draw(rule, random.Random(f"{task_id}:0"))
        if again != pairs[0]:
            problems.append(f"task {task_id}: sampling is not deterministic in the seed")
    return problems


@lru_cache(maxsize=None)
def verified_ids() -> tuple[str, ...]:
    """Registered task ids whose rule passes `verify`, sorted."""
    return tuple(sorted(tid for tid in RULES if not verify(tid)))


def coverage() -> dict[str, list[str]]:
    """Each of `SETS` -> sorted ids of its tasks with a verified rule."""
    ok = set(verified_ids())
    return {name: sorted(ok.intersection(tasks)) for name, tasks in training_sets().items()}


def _cells(g: Grid) -> int:
    return len(g) * len(g[0])


def make_task(task_id: str, seed: int, n_pairs: int | None = None) -> Task:
    """A task of fresh pairs of `task_id`'s rule, deterministic in (task_id, seed) (see module doc)."""
    if task_id not in RULES:
        raise ValueError(f"task {task_id}: no rule registered")
    if n_pairs is not None and not 2 <= n_pairs <= 11:
        raise ValueError(f"task {task_id}: n_pairs must be 2-11, got {n_pairs}")
    if n_pairs is None:
        home = next(tasks[task_id] for tasks in training_sets().values() if task_id in tasks)
        n_pairs = len(given_pairs(home))
    rule, rng = RULES[task_id], random.Random(f"rule:{task_id}:{seed}")
    for _ in range(DRAW_TRIES):
        pairs: list[Pair] = []
        cells = 0
        for _ in range(DRAW_TRIES * n_pairs):
            drawn = _draw(rule, rng)
            if drawn is None:
                break
            x, y = drawn
            if any(p.input == x for p in pairs):
                continue
            if cells + _cells(x) + _cells(y) > MAX_TASK_CELLS:
                break
            pairs.append(Pair(x, y))
            cells += _cells(x) + _cells(y)
            if len(pairs) == n_pairs:
                break
        if len(pairs) >= 2 and len({p.output for p in pairs}) > 1:
            return Task(f"{PREFIX}{task_id}-{seed}", tuple(pairs[:-1]), (pairs[-1].input,), (pairs[-1].output,))
    raise ValueError(f"task {task_id} seed {seed}: no task of >= 2 valid, distinct pairs in {DRAW_TRIES} tries")


def rule_tasks(per_task: int, seed: int, task_ids: Sequence[str] | None = None, processes: int = 1) -> list[Task]:
    """`per_task` fresh tasks of each verified rule (or of `task_ids`), deterministic in `seed` (not in `processes`:
    with more than one, the rules are verified and the tasks made in forked processes)."""
    if per_task < 1:
        raise ValueError(f"per_task must be >= 1, got {per_task}")
    training_sets()  # loaded once before any fork, so the processes share it
    if task_ids is None:
        registered = sorted(RULES)
        ids = tuple(tid for tid, problems in zip(registered, in_processes(verify, [(tid,) for tid in registered], processes))
                    if not problems)
    else:
        ids = tuple(task_ids)
    return in_processes(make_task, [(tid, seed * SEED_STRIDE + j) for tid in ids for j in range(per_task)], processes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fresh tasks from ARC training tasks' own rules.")
    parser.add_argument("--coverage", action="store_true", help="print the verified tasks per set")
    parser.add_argument("--out", default="", help="folder for challenges.json and solutions.json")
    parser.add_argument("--per-task", type=int, default=10, help="tasks written per verified rule")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.coverage and not args.out:
        parser.error("give --coverage, --out DIR, or both")
    if args.coverage:
        for tid in sorted(set(RULES) - set(verified_ids())):
            for problem in verify(tid):
                print(f"FAILS {problem}")
        for name, ids in coverage().items():
            print(f"{name}: {len(ids)} tasks with a verified rule")
            print("  " + " ".join(ids))
        print(f"registered {len(RULES)}, verified {len(verified_ids())}")
    if args.out:
        try:
            tasks = rule_tasks(args.per_task, args.seed)
        except ValueError as err:
            parser.error(str(err))
        challenges, _ = write_kaggle(tasks, args.out)
        print(f"wrote {len(tasks)} tasks to {challenges.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
