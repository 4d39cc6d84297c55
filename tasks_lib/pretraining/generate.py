"""Procedurally generated ARC-style training tasks, from the families in `tasks_lib.pretraining.generators`.

Contract:
- `FAMILIES` is the registry: name -> family (see `tasks_lib.pretraining.generators`). A family draws its task's
  hidden rule once and then makes pairs that all follow that rule.
- `make_task(family, seed, n_train=None)` returns one `Task` with id `gen-<family>-<seed>`: `n_train`
  train pairs (3-5 when None, drawn from the seed) and one test pair whose output is in `test_outputs`.
  It is deterministic in (family, seed). Every pair is a valid grid pair (1-30 per side, ints 0-9); no
  pair has its output equal to its input; inputs are pairwise distinct; the outputs are not all equal;
  all grids of the task together (test output included) hold at most `MAX_TASK_CELLS` cells, so a task
  encodes to fewer than 6,600 tokens. A draw that breaks these is redrawn, a bounded number of times;
  then `ValueError` names the family and the seed. An unknown family raises `ValueError` naming it.
- `generate_tasks(count, seed, families=None, processes=1)` goes round-robin over the families (all, in registry
  order, when None): task i is `make_task(families[i % len(families)], seed * 1_000_000 + i)`; with `processes` > 1
  the tasks are made in that many forked processes (`in_processes`), the same list in the same order.
- `python -m tasks_lib.pretraining.generate --count N --seed S --out DIR` writes Kaggle challenges + solutions JSON
  (`tasks_lib.arc.data.write_kaggle`); `--stats` prints mean cells and tokens per family.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from typing import Callable, Sequence, TypeVar

from tasks_lib.arc.data import Grid, GridError, Pair, Task, to_grid, write_kaggle
from tasks_lib.pretraining.generators import FAMILIES, PairFn, Retry

MAX_TASK_CELLS = 6000  # all grids of a task, test output included
RULE_TRIES = 20  # fresh hidden rules before giving up on a seed
PAIR_TRIES_PER_PAIR = 25  # pair draws per wanted pair under one rule
SEED_STRIDE = 1_000_000  # generate_tasks' task seeds: seed * SEED_STRIDE + index

__all__ = ["FAMILIES", "MAX_TASK_CELLS", "make_task", "generate_tasks", "task_cells", "task_tokens"]

T = TypeVar("T")


def _area(grid: Grid) -> int:
    return len(grid) * len(grid[0])


def task_cells(task: Task) -> int:
    """Cells of every grid of the task, test outputs included."""
    return task.cells + sum(_area(g) for g in task.test_outputs)


def task_tokens(task: Task) -> int:
    """Length of the task in `tasks_lib.arc.encoding`'s layout: `<bos>`, then per pair `I \\n`, the input
    rows (a newline after each), `O \\n`, the output rows and `<eos>`."""
    pairs = [(p.input, p.output) for p in task.train] + list(zip(task.test_inputs, task.test_outputs))
    return 1 + sum(5 + len(i) * (len(i[0]) + 1) + len(o) * (len(o[0]) + 1) for i, o in pairs)


def _draw_pairs(pair: PairFn, rng: random.Random, count: int, where: str) -> list[Pair] | None:
    """`count` pairs under one rule that meet the contract, or None when the tries run out."""
    pairs: list[Pair] = []
    inputs: set[Grid] = set()
    cells = 0
    for _ in range(PAIR_TRIES_PER_PAIR * count):
        try:
            inp, out = pair(rng)
        except Retry:
            continue
        try:
            inp, out = to_grid(inp), to_grid(out)
        except GridError as err:  # a family bug, not bad luck: say where
            raise ValueError(f"{where}: drew an invalid grid ({err})") from None
        size = _area(inp) + _area(out)
        if inp == out or inp in inputs or cells + size > MAX_TASK_CELLS:
            continue
        pairs.append(Pair(inp, out))
        inputs.add(inp)
        cells += size
        if len(pairs) == count:
            return pairs if len({p.output for p in pairs}) > 1 else None
    return None


def make_task(family: str, seed: int, n_train: int | None = None) -> Task:
    """One task of `family`, deterministic in `seed` (see the module contract)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown generator family {family!r}; known: {', '.join(sorted(FAMILIES))}")
    if n_train is not None and not 1 <= n_train <= 10:
        raise ValueError(f"family {family!r}: n_train must be 1-10, got {n_train}")
    rng = random.Random(f"{family}:{seed}")  # a str seed is hashed with sha512: stable across runs
    n = n_train if n_train is not None else rng.randint(3, 5)
    where = f"generator family {family!r} seed {seed}"
    for _ in range(RULE_TRIES):
        try:
            pair = FAMILIES[family](rng)
        except Retry:
            continue
        pairs = _draw_pairs(pair, rng, n + 1, where)
        if pairs is not None:
            test = pairs[-1]
            return Task(f"gen-{family}-{seed}", tuple(pairs[:-1]), (test.input,), (test.output,))
    raise ValueError(f"{where}: no task met the contract after {RULE_TRIES} rules")


def in_processes(fn: Callable[..., T], jobs: Sequence[tuple], processes: int = 1) -> list[T]:
    """`[fn(*job) for job in jobs]`, in that order, spread over `processes` forked processes when > 1 (each job is
    deterministic in its arguments, so the result is the same list either way)."""
    if processes <= 1 or len(jobs) < 2 * processes:
        return [fn(*job) for job in jobs]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return pool.starmap(fn, jobs, chunksize=max(1, len(jobs) // (processes * 8)))


def generate_tasks(count: int, seed: int, families: Sequence[str] | None = None, processes: int = 1) -> list[Task]:
    """`count` tasks, round-robin over `families` (all by default); deterministic in `seed` (not in `processes`)."""
    names = list(FAMILIES) if families is None else list(families)
    if not names:
        raise ValueError("families: expected at least one family name")
    for name in names:
        if name not in FAMILIES:
            raise ValueError(f"unknown generator family {name!r}; known: {', '.join(sorted(FAMILIES))}")
    return in_processes(make_task, [(names[i % len(names)], seed * SEED_STRIDE + i) for i in range(count)], processes)


def stats_table(tasks: Sequence[Task]) -> str:
    """Per family: tasks, mean and max cells and tokens; then the whole set with its 95th percentiles."""
    by_family: dict[str, list[Task]] = defaultdict(list)
    for t in tasks:
        by_family[t.id.rsplit("-", 1)[0].removeprefix("gen-")].append(t)
    lines = [f"{'family':<20} {'tasks':>5} {'cells':>7} {'max':>6} {'tokens':>7} {'max':>6}"]
    for name, group in sorted(by_family.items()):
        cells = [task_cells(t) for t in group]
        tokens = [task_tokens(t) for t in group]
        lines.append(f"{name:<20} {len(group):>5} {sum(cells) / len(group):>7.0f} {max(cells):>6} "
                     f"{sum(tokens) / len(group):>7.0f} {max(tokens):>6}")
    cells = sorted(task_cells(t) for t in tasks)
    tokens = sorted(task_tokens(t) for t in tasks)
    p95 = int(0.95 * (len(tasks) - 1))
    lines.append(f"{'all':<20} {len(tasks):>5} {sum(cells) / len(tasks):>7.0f} {cells[-1]:>6} "
                 f"{sum(tokens) / len(tasks):>7.0f} {tokens[-1]:>6}")
    lines.append(f"95th percentile: {cells[p95]} cells, {tokens[p95]} tokens")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write procedurally generated ARC tasks as Kaggle JSON.")
    parser.add_argument("--count", type=int, default=1000, help="number of tasks")
    parser.add_argument("--seed", type=int, default=0, help="the set's seed; the same seed gives the same tasks")
    parser.add_argument("--families", default="", help="comma-separated family names (default: all)")
    parser.add_argument("--out", default="", help="folder for challenges.json and solutions.json")
    parser.add_argument("--stats", action="store_true", help="print mean cells and tokens per family")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count must be >= 1, got {args.count}")
    if not args.out and not args.stats:
        parser.error("give --out DIR, --stats, or both")
    families = [f for f in args.families.split(",") if f] or None
    try:
        tasks = generate_tasks(args.count, args.seed, families)
    except ValueError as err:
        parser.error(str(err))
    if args.out:
        challenges, _ = write_kaggle(tasks, args.out)
        print(f"wrote {len(tasks)} tasks to {challenges.parent}")
    if args.stats:
        print(stats_table(tasks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
