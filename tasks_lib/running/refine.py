"""Refinement: after every task has a first answer, more work for the unsure ones while the budget lasts.

Contract:
- `margin(result)`: how sure a task's answer is, from its record (`records.TaskResult`): the smallest, over its
  test inputs, of (votes of the top grid - votes of the second) / candidates; 0 for a test input with no
  candidates, 1 when every candidate agrees.
- `pick(results, busy, rounds, cfg)`: the task to refine next: status `ok`, not running, fewer than
  `schedule.refine_rounds` refinements (0: no cap, the run refines until its time is up), margin below
  `schedule.sure_margin`; the fewest refinements first (every unsure task gets round k before any gets round
  k + 1), then the lowest margin, then the most candidates' disagreement (fewest views behind the top grid).
  None when no task qualifies. Rounds come first because a task whose margin stays 0 would otherwise take
  every refinement: on the CPU demo with no cap, two tasks took 44 of 54 refinements and a task that two
  rounds solve got none (`docs/journal.md`, session 8).
- `plan(result, cfg, round, overhead, test_inputs)`: what refinement `round` (1, 2, ...) does and what it should cost:
  `refine_steps` more train steps (train seed moved by the round; scope task only) of the round's kind
  (`schedule.refine_kind`): `continue` from the task's saved adapter, no warm-up; `fresh`, a new adapter from the
  base model with the profile's warm-up (an independent training whose candidates join the vote); `transduce`,
  continue on the task with `demonstrations` added: each test input whose top grid holds at least
  `transduce_share` of its votes, paired with that grid (none qualifying: as `continue`).
  Then `refine_views` views sampled under a sample seed moved by the round (so new views, of the task as given),
  their candidates' view indices offset by `round * 64` (no two rounds share an index), its seconds
  estimated from the task's own pass-1 step and view times, and the least block worth starting it with
  (`MIN_STEPS` steps and one view).
- `refine_step(pool, slot, task, cfg, budget, adapter_dir, plan)`: the worker calls (train as planned, then
  sample). A failed train still samples (what the resident adapter holds); a failed sample raises. The worker
  never sees a task's test outputs: a transduce round trains on the task's demonstrations and the planned ones.
- `merged(old, task, plan, budget, out, all_candidates, rule, timings)`: the task's new record: the vote over
  all its candidates, old and new, with pass 1's first answer held as the second attempt wherever the new vote
  would drop it while it is still a candidate (`vote.attempts`' `keep`; the round's `held` lists those test
  inputs): more candidates can outvote a right pass-1 answer (7b80bb43 lost its answer after two rounds,
  `docs/journal.md`, session 9), and this way a refinement can add an answer but never take pass 1's best away; steps, seconds used and budget summed over pass 1 and the refinements; the
  pass-1 record's fields otherwise (`train`, `sample`, `timings`); `refinements` listing each round; and
  `pass1` (the first pass's attempts, and whether they were correct when solutions are known), kept from the
  first refinement on so that one run shows what refinement added. Records are `records.TaskResult`s, the round a
  `records.RefinementEntry`.
  The caller records it only when the refinement succeeded, so a failed one leaves the old record as it was.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tasks_lib.arc.data import Pair, Task
from tasks_lib.arc.records import Candidate, Pass1, RefinementEntry, SampleRecord, TaskResult, TrainRecord
from tasks_lib.arc.scoring import correct
from tasks_lib.config import RunConfig, ScheduleConfig
from tasks_lib.running import solve
from tasks_lib.running.budget import TaskBudget
from tasks_lib.running.slots import SlotPool

VIEW_OFFSET = 64  # views per round are at most 64 (SampleConfig.views), so round r's views start at r * 64
MIN_STEPS = 5  # a refinement with time for fewer train steps (and one view) is not started
SLACK = 1.2  # a refinement's block is its estimate times this: the worker's own deadline checks stop it early


def margin(result: TaskResult) -> float:
    """The smallest vote margin over the task's test inputs (see module doc)."""
    margins = []
    for c in result.candidates:
        if c.n <= 0 or not c.top:
            margins.append(0.0)
            continue
        second = c.top[1].votes if len(c.top) > 1 else 0
        margins.append((c.top[0].votes - second) / c.n)
    return min(margins, default=0.0)


def _agreement(result: TaskResult) -> int:
    """Views behind the top grid, summed over test inputs (more: surer)."""
    return sum(len(c.top[0].views) for c in result.candidates if c.top)


def pick(results: dict[str, TaskResult], busy: set[str], rounds: dict[str, int], cfg: ScheduleConfig) -> str | None:
    """The unsure task to refine next: fewest refinements, then least sure (module doc); or None."""
    eligible = [(rounds.get(tid, 0), margin(r), _agreement(r), tid) for tid, r in results.items()
                if r.status == "ok" and tid not in busy and (cfg.refine_rounds == 0 or rounds.get(tid, 0) < cfg.refine_rounds)]
    eligible = [e for e in eligible if e[1] < cfg.sure_margin]
    return min(eligible)[3] if eligible else None


@dataclass(frozen=True)
class Plan:
    round: int
    steps: int  # train steps added (0: sample only)
    views: int
    seconds: float  # the block the refinement asks for
    train_fraction: float  # of the block, for training
    least: float  # below this the refinement is not worth starting (MIN_STEPS steps and one view, or all of it)
    cfg: RunConfig  # the run's config with this round's train and sample settings
    kind: str = "continue"  # schedule.refine_kind
    demonstrations: tuple[Pair, ...] = ()  # transduce: (test input, its top grid) pairs trained on beside the task's own


def plan(result: TaskResult, cfg: RunConfig, round_no: int, overhead: float = 0.0, test_inputs: tuple = ()) -> Plan:
    """Refinement `round` of the task whose record is `result` and whose test inputs are `test_inputs` (module doc)."""
    s = cfg.schedule
    steps = (s.refine_steps or cfg.train.max_steps) if cfg.train.scope == "task" else 0
    views = s.refine_views or cfg.sample.views
    timings = result.timings
    done_steps = 0 if result.train is None else result.train.steps  # pass 1's train record, which refinements keep
    step_s = timings.get("train", 0.0) / max(1, done_steps) if steps else 0.0
    views_done = result.sample_stats.views_done or cfg.sample.views
    view_s = timings.get("sample", 0.0) / max(1, views_done)
    train_s, sample_s = steps * step_s, views * view_s
    seconds = SLACK * (train_s + sample_s) + overhead
    kind = s.refine_kind
    rcfg = cfg.replace({
        "train": {"max_steps": steps, "seed": cfg.train.seed + round_no,
                  "warmup_steps": cfg.train.warmup_steps if kind == "fresh" else 0},
        "sample": {"views": views, "seed": cfg.sample.seed + round_no},
    })
    least = min(seconds, MIN_STEPS * step_s + view_s)
    demos = demonstrations(result, test_inputs, s.transduce_share) if kind == "transduce" and steps else ()
    return Plan(round_no, steps, views, seconds, train_s / (train_s + sample_s) if train_s + sample_s > 0 else 0.5, least, rcfg,
                kind, demos)


def demonstrations(result: TaskResult, test_inputs: tuple, share: float) -> tuple[Pair, ...]:
    """(test input, top grid) for each test input whose top grid holds at least `share` of its votes."""
    return tuple(Pair(x, c.top[0].grid) for x, c in zip(test_inputs, result.candidates)
                 if c.n > 0 and c.top and c.top[0].votes / c.n >= share)


def refine_step(pool: SlotPool, slot: int, task: Task, budget: TaskBudget, adapter_dir: str, p: Plan) -> dict:
    """Train as `p` says (module doc), then sample new views; candidates' views offset by the round."""
    train, errors = None, []
    if p.steps > 0:
        taught = Task(task.id, task.train + p.demonstrations, task.test_inputs)  # never the test outputs
        try:
            train = solve.train_step(pool, slot, taught, p.cfg, budget, adapter_dir, resume=p.kind != "fresh")
        except Exception as err:  # the resident adapter (or the saved one) still samples
            errors.append(f"refine-train: {type(err).__name__}: {err}")
    sample = solve.sample_step(pool, slot, task, p.cfg, budget, adapter_dir)
    offset = p.round * VIEW_OFFSET
    sample["candidates"] = [[dataclasses.replace(c, view=c.view + offset) for c in cands] for cands in sample["candidates"]]
    return {"train": train, "sample": sample, "errors": errors}


def merged(old: TaskResult, task: Task, p: Plan, budget: TaskBudget, out: dict, candidates: list[list[Candidate]], rule: str,
           timings: dict[str, float]) -> TaskResult:
    """The task's record after refinement `p.round`: attempts voted over `candidates` (old and new)."""
    first = old.pass1 or Pass1(old.attempts, old.correct)
    keep = [a.attempt_1 for a in first.attempts]
    voted = solve.vote_step(task, candidates, rule, keep)
    train = TrainRecord.from_json(out.get("train") or {}, task.id, "refine.train")
    sample = SampleRecord.from_json(out["sample"], task.id, "refine.sample")
    added = train.steps
    now = solve.correct_of(task, voted.attempts)
    entry = RefinementEntry(
        round=p.round, budget_seconds=round(budget.seconds, 3), steps=added, views=p.views,
        train_tokens=train.tokens, train_seconds=train.seconds,  # the run's compute (compute.py)
        new_candidates=sum(len(c) for c in out["sample"]["candidates"]),
        stopped_by=(train.stopped_by if out.get("train") else None, sample.stats.stopped_by if "stats" in out["sample"] else None),
        timings={k: round(v, 3) for k, v in timings.items()}, errors=tuple(out.get("errors") or ()), correct=now, held=voted.held,
        kind=p.kind, demonstrations=len(p.demonstrations))
    return old.replace(
        steps=old.steps + added,
        budget_seconds=round((old.budget_seconds or 0.0) + budget.seconds, 3),  # pass 1's share and every block
        used_seconds=round((old.used_seconds or 0.0) + sum(timings.values()), 3),
        attempts=voted.attempts,
        candidates=voted.candidates,
        correct=now if task.has_solutions else old.correct,
        refinements=(*old.refinements, entry),
        pass1=first,
    )
