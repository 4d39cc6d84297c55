"""Score a profile on a data set with known solutions: the submit pipeline as a subflow. `combine` adds up the
reports of runs that each scored one chunk of a set (tasks_lib/reports/report.py).

    python flows/evaluate.py --challenges arc1/eval --limit 20 --profile cpu
    python flows/evaluate.py --challenges arc1/eval --skip 20 --limit 20 --profile cpu
    python flows/evaluate.py combine runs/chunk-0 runs/chunk-1 --out runs/combined.json
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python flows/evaluate.py` runs from anywhere
from flows import prefect_env  # noqa: E402,F401  (offline Prefect defaults; must come before prefect)
from prefect import flow

from flows.submit import Order, Profile, submit
from tasks_lib.reports import report
from tasks_lib.running.run import check_inputs
from tasks_lib.running.sweep_points import point_name


def run_folder(challenges: str, profile: str, time_budget: float | None, model: str | None, skip: int, out: str | None) -> str:
    """`out`, or a folder under runs/ named by the set, the point and a nonzero `skip` (chunks never share one)."""
    name = point_name({"profile": profile, "time_budget": time_budget, "model": model}) + (f"_skip-{skip}" if skip else "")
    return out or str(Path("runs") / f"eval_{Path(challenges).stem}_{name}")


@flow(name="arc-ttt-evaluate", flow_run_name="evaluate {profile} on {challenges}")
async def evaluate(challenges: str = "arc1/eval", profile: Profile = "cpu", solutions: str | None = None, limit: int | None = None,
                   time_budget: float | None = None, model: str | None = None, out: str | None = None, order: Order = "file",
                   skip: int = 0) -> dict:
    """Run submit on `challenges` (after the first `skip` tasks in `order`, at most `limit`) and return its score;
    fails when the data set has no solutions. The default folder names a nonzero `skip`, so chunks never share one.

    Args:
        challenges: A Kaggle challenges JSON with solutions, or a bundled set: arc1/train, arc1/eval, arc2/train, arc2/eval.
        profile: A profile shipped in profiles/ (pick one), or the path of a profile YAML file.
        solutions: A Kaggle solutions JSON (the bundled sets need none).
        limit: At most this many tasks, the first in `order` after `skip` (empty: all).
        time_budget: Total wall seconds for the run (empty: the profile's).
        model: A local Hugging Face causal-LM directory (empty: the profile's).
        out: The run folder (empty: runs/eval_<set>_<profile, budget, model>[_skip-N]).
        order: file: tasks as the file lists them; smallest: smallest tasks first.
        skip: Skip the first N tasks in `order`, then take `limit` (runs a set in chunks).
    """
    folder = run_folder(challenges, profile, time_budget, model, skip, out)
    score = await submit(challenges, folder, profile, solutions, limit, time_budget, model, order, skip)
    if score is None:
        raise ValueError(f"{challenges}: no solutions, nothing to score (pass solutions=PATH or a bundled set)")
    return score


def combine(argv: list[str]) -> int:
    """`combine RUN_DIR_OR_REPORT ... [--out FILE] [--allow-mixed]`: one table over several runs' reports."""
    p = argparse.ArgumentParser(prog="evaluate.py combine", description="add up the reports of runs that each scored one chunk of a set")
    p.add_argument("reports", nargs="+", help="run folders or report.json files")
    p.add_argument("--out", help="also write the combined table as JSON here")
    p.add_argument("--allow-mixed", action="store_true", help="combine runs of different source, model or profile")
    a = p.parse_args(argv)
    try:
        combined = report.combine([report.load(r) for r in a.reports], a.allow_mixed)
        if a.out:
            report.write(combined, a.out)
    except (report.ReportError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.table(combined))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["combine"]:
        return combine(argv[1:])
    p = argparse.ArgumentParser(description="arc-ttt evaluate: score a profile on a data set with solutions "
                                            "(`evaluate.py combine RUN ...` adds up chunks' reports)")
    p.add_argument("--challenges", default="arc1/eval")
    p.add_argument("--solutions")
    p.add_argument("--skip", type=int, default=0, help="skip the first N tasks in --order, then --limit (runs a set in chunks)")
    p.add_argument("--limit", type=int)
    p.add_argument("--order", default="file", choices=("file", "smallest"))
    p.add_argument("--profile", default="cpu")
    p.add_argument("--time-budget", type=float)
    p.add_argument("--model")
    p.add_argument("--out")
    a = p.parse_args(argv)
    try:  # bad input: one line naming it, before any Prefect or worker starts
        check_inputs(a.challenges, run_folder(a.challenges, a.profile, a.time_budget, a.model, a.skip, a.out), a.profile,
                     a.solutions, a.limit, a.model, a.order, a.skip)
        score = asyncio.run(evaluate(a.challenges, a.profile, a.solutions, a.limit, a.time_budget, a.model, a.out, a.order, a.skip))
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"score: {score['kaggle']:.3f} ({score['solved_outputs']}/{score['total_outputs']} test outputs solved), per task {score['per_task']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
