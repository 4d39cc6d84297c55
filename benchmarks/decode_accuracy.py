"""Accuracy of sampling strategies on the same tasks with the same training: plain sampling + counts versus
depth-first search + augmented scoring (and the other combinations).

    python benchmarks/decode_accuracy.py --tasks 8 --train-steps 32 --out runs/bench-decode-acc

Takes the `--tasks` smallest tasks of `--challenges` (with solutions) and runs them once per strategy through the
pipeline (`tasks_lib.running.pipeline.run_direct`, the submit flow's code path), with the profile's train settings capped
at `--train-steps` and a budget no deadline reaches: training is seeded, so every strategy samples an adapter
trained the same way (the same weights on CPU; on GPU up to bf16 non-determinism). Prints, per strategy, test
outputs solved (either attempt), how often the right grid was among the top-ranked candidates the record keeps,
candidates per test input and sampling seconds; writes `decode_accuracy.json` and each strategy's run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tasks_lib.arc.data import load_challenges, write_kaggle
from tasks_lib.arc.records import TestCandidates
from tasks_lib.arc.run_record import Report
from tasks_lib.running.pipeline import run_direct
from tasks_lib.running.sweep_points import write_profile

STRATEGIES = {  # name: (sample overrides, vote rule)
    "sampling+count": ({"backend": "cached"}, "count"),
    "sampling+score": ({"backend": "cached"}, "count_score"),
    "dfs+count": ({"backend": "dfs"}, "count"),
    "dfs+score": ({"backend": "dfs"}, "count_score"),
}


def totals(report: Report, outputs: dict[str, list]) -> dict:
    """Solved test outputs, right grids among the kept candidates, candidates and sampling seconds of one run."""
    tot = {"solved": 0, "in_candidates": 0, "outputs": 0, "candidates": 0, "seconds": 0.0}
    for t in report.results:
        tot["seconds"] += t.timings.get("sample", 0.0)
        for i, want in enumerate(outputs[t.task_id]):
            cands = t.candidates[i] if i < len(t.candidates) else TestCandidates(0)
            tot["solved"] += bool(t.correct and t.correct[i])
            tot["in_candidates"] += any(c.grid == tuple(tuple(r) for r in want) for c in cands.top)
            tot["outputs"] += 1
            tot["candidates"] += cands.n
    return tot


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--challenges", default="arc1/eval")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--model", help="a local model directory (default: the profile's)")
    p.add_argument("--tasks", type=int, default=8)
    p.add_argument("--train-steps", type=int, default=32)
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--samples", type=int, default=4, help="samples per view (sampling strategies)")
    p.add_argument("--score-views", type=int, default=4)
    p.add_argument("--threshold", type=float, default=0.1)
    p.add_argument("--out", default="runs/bench-decode-acc")
    args = p.parse_args(argv)
    out = Path(args.out)
    tasks = load_challenges(args.challenges, limit=args.tasks, order="smallest").tasks
    challenges, solutions = write_kaggle(tasks, out / "tasks")
    outputs = {t.id: [[list(r) for r in g] for g in t.test_outputs] for t in tasks}
    sample = {"views": args.views, "samples_per_view": args.samples, "score_views": args.score_views, "dfs_threshold": args.threshold}
    results = {}
    for name, (over, rule) in STRATEGIES.items():
        folder = out / name.replace("+", "-")
        overrides = {"train": {"max_steps": args.train_steps}, "sample": {**sample, **over}, "vote": {"rule": rule},
                     "budget": {"total_seconds": 1.0e6, "reserve_seconds": 10.0}}
        if args.model:
            overrides["model"] = {"path": str(Path(args.model).resolve())}
        profile = write_profile(args.profile, overrides, folder / "profile.yaml")
        report = run_direct(str(challenges), folder / "run", str(profile), str(solutions))
        results[name] = totals(report, outputs)
        print(f"{name}: {results[name]['solved']}/{results[name]['outputs']} solved", flush=True)
    (out / "decode_accuracy.json").write_text(json.dumps({"args": vars(args), "tasks": [t.id for t in tasks], "totals": results}, indent=1))
    print(f"\n{len(tasks)} smallest tasks of {args.challenges}, profile {args.profile}, {args.train_steps} train steps each")
    print("| strategy | solved | right grid among the kept candidates | candidates / test input | sampling s |")
    print("|---|---|---|---|---|")
    for name, t in results.items():
        print(f"| {name} | {t['solved']}/{t['outputs']} | {t['in_candidates']}/{t['outputs']} | {t['candidates'] / max(t['outputs'], 1):.1f} | "
              f"{t['seconds']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
