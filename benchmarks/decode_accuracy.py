"""Accuracy of sampling strategies on the same tasks with the same adapter: plain sampling + counts versus
depth-first search + augmented scoring (and the other combinations), each task's adapter trained once.

    python benchmarks/decode_accuracy.py --tasks 8 --train-seconds 20 --out runs/bench-decode-acc

Takes the `--tasks` smallest tasks of `--challenges` (with solutions), trains one adapter per task with the
profile's train settings for `--train-seconds`, then samples every strategy with that adapter and votes.
Prints, per strategy, test outputs solved (either attempt), how often the right grid was among the
candidates at all, candidates per test input and sampling seconds; writes `decode_accuracy.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tasks_lib.config import load_profile  # noqa: E402
from tasks_lib.data import load_challenges  # noqa: E402
from tasks_lib.model import load_base  # noqa: E402
from tasks_lib.sample import sample_task  # noqa: E402
from tasks_lib.train import train_adapter  # noqa: E402
from tasks_lib.vote import attempts, fallback_grids, rank  # noqa: E402

STRATEGIES = {  # name: (sample overrides, vote rule)
    "sampling+count": ({"backend": "cached"}, "count"),
    "sampling+score": ({"backend": "cached"}, "count_score"),
    "dfs+count": ({"backend": "dfs"}, "count"),
    "dfs+score": ({"backend": "dfs"}, "count_score"),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--challenges", default="arc1/eval")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--model", help="a local model directory (default: the profile's)")
    p.add_argument("--tasks", type=int, default=8)
    p.add_argument("--train-seconds", type=float, default=20.0)
    p.add_argument("--sample-seconds", type=float, default=60.0, help="deadline per task and strategy")
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--samples", type=int, default=4, help="samples per view (sampling strategies)")
    p.add_argument("--score-views", type=int, default=4)
    p.add_argument("--threshold", type=float, default=0.1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="runs/bench-decode-acc")
    args = p.parse_args(argv)
    cfg = load_profile(args.profile)
    if args.model:
        cfg = cfg.replace({"model": {"path": args.model}})
    tasks = sorted(load_challenges(args.challenges).tasks, key=lambda t: t.cells)[: args.tasks]
    res = load_base(cfg.model, args.device)
    base = dataclasses.replace(cfg.sample, views=args.views, samples_per_view=args.samples, score_views=args.score_views,
                               dfs_threshold=args.threshold)
    totals = {name: {"solved": 0, "in_candidates": 0, "outputs": 0, "candidates": 0, "seconds": 0.0} for name in STRATEGIES}
    for task in tasks:
        res.reset(cfg.train.seed, task.id)
        trained = train_adapter(res, task, cfg.train, cfg.model.max_tokens, time.time() + args.train_seconds)
        line = [f"{task.id}: {trained.to_dict().get('steps')} steps"]
        for name, (over, rule) in STRATEGIES.items():
            sc = dataclasses.replace(base, **over)
            t0 = time.time()
            per_test, _ = sample_task(res, task, sc, cfg.model.max_tokens, time.time() + args.sample_seconds)
            tot = totals[name]
            tot["seconds"] += time.time() - t0
            for i, cands in enumerate(per_test):
                chosen = attempts(rank(cands, rule), fallback_grids(task.test_inputs[i], [q.output for q in task.train]))
                tot["solved"] += task.test_outputs[i] in chosen
                tot["in_candidates"] += any(c.grid == task.test_outputs[i] for c in cands)
                tot["outputs"] += 1
                tot["candidates"] += len(cands)
            line.append(f"{name} {tot['solved']}")
        print(" | ".join(line), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "decode_accuracy.json").write_text(json.dumps({"args": vars(args), "tasks": [t.id for t in tasks], "totals": totals}, indent=1))
    print(f"\n{len(tasks)} smallest tasks of {args.challenges}, profile {args.profile}, model {cfg.model.path}, "
          f"{args.train_seconds:.0f} s training each, device {args.device}")
    print("| strategy | solved | right grid among candidates | candidates / test input | sampling s |")
    print("|---|---|---|---|---|")
    for name, t in totals.items():
        print(f"| {name} | {t['solved']}/{t['outputs']} | {t['in_candidates']}/{t['outputs']} | {t['candidates'] / max(t['outputs'], 1):.1f} | {t['seconds']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
