"""Score a profile on a data set with known solutions: the submit pipeline as a subflow.

    python flows/evaluate.py --challenges arc1/eval --limit 20 --profile cpu
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python flows/evaluate.py` runs from anywhere
from flows import prefect_env  # noqa: E402,F401  (offline Prefect defaults; must come before prefect)
from prefect import flow

from flows.submit import submit
from tasks_lib.sweep_points import point_name


@flow(name="arc-ttt-evaluate")
async def evaluate(challenges: str = "arc1/eval", profile: str = "cpu", solutions: str | None = None, limit: int | None = None,
                   time_budget: float | None = None, model: str | None = None, out: str | None = None, order: str = "file") -> dict:
    """Run submit on `challenges` and return its score; fails when the data set has no solutions."""
    folder = out or str(Path("runs") / f"eval_{Path(challenges).stem}_{point_name({'profile': profile, 'time_budget': time_budget, 'model': model})}")
    score = await submit(challenges, folder, profile, solutions, limit, time_budget, model, order)
    if score is None:
        raise ValueError(f"{challenges}: no solutions, nothing to score (pass solutions=PATH or a bundled set)")
    return score


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="arc-ttt evaluate: score a profile on a data set with solutions")
    p.add_argument("--challenges", default="arc1/eval")
    p.add_argument("--solutions")
    p.add_argument("--limit", type=int)
    p.add_argument("--order", default="file", choices=("file", "smallest"))
    p.add_argument("--profile", default="cpu")
    p.add_argument("--time-budget", type=float)
    p.add_argument("--model")
    p.add_argument("--out")
    a = p.parse_args(argv)
    score = asyncio.run(evaluate(a.challenges, a.profile, a.solutions, a.limit, a.time_budget, a.model, a.out, a.order))
    print(f"score: {score['kaggle']:.3f} ({score['solved_outputs']}/{score['total_outputs']} test outputs solved), per task {score['per_task']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
