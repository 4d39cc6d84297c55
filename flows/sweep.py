"""Fan a sweep out over every worker of a work pool: each point is one run of the submit deployment.

    python flows/sweep.py --points points.json --challenges arc1/eval --limit 20 --out runs/sweep1

Needs a Prefect server (`PREFECT_API_URL`), the deployments of `flows/deploy.py` and at least one worker;
with several workers (one per host), each takes runs as it has room, and all reports land under `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python flows/sweep.py` runs from anywhere
from flows import prefect_env  # noqa: E402,F401  (offline Prefect defaults; must come before prefect)
from prefect import flow, get_run_logger
from prefect.deployments import arun_deployment

from flows.common import publish_sweep
from tasks_lib.running.sweep_points import plan, rows, write_csv

SUBMIT = "arc-ttt-submit/solve-and-submit"


@flow(name="arc-ttt-sweep", flow_run_name="sweep into {out}")
async def sweep(points: list[dict], challenges: str = "arc1/eval", limit: int | None = 4, out: str = "runs/sweep",
                deployment: str = SUBMIT) -> list[dict]:
    """One submit run per point, spread over the pool's workers; a table artifact and `out/sweep.csv` at the end.

    Args:
        points: One object per run: name, and any of profile, time_budget, model, solutions, challenges.
        challenges: The data set every point runs unless it names its own (a Kaggle JSON or arc1/eval, ...).
        limit: Tasks per run, the first of the set (empty: all).
        out: The shared folder: one run folder per point, and sweep.csv.
        deployment: The submit deployment each point runs.
    """
    runs, logger = plan(points, challenges, limit, out), get_run_logger()
    logger.info(f"{len(runs)} runs of {deployment}: {', '.join(r['name'] for r in runs)}")
    finished = await asyncio.gather(*(arun_deployment(deployment, parameters=r["parameters"], flow_run_name=r["name"]) for r in runs))
    for r, fr in zip(runs, finished):
        r["worker"], r["state"] = fr.labels.get("prefect.worker.name", ""), fr.state.type.value.capitalize() if fr.state else ""  # a run's name says more
    table = rows(runs)
    write_csv(table, Path(out) / "sweep.csv")
    await publish_sweep(table, out)
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="arc-ttt sweep: one submit run per point, on the pool's workers")
    p.add_argument("--points", required=True, help='JSON file: a list of {"name"?, "profile"?, "time_budget"?, "model"?, "solutions"?, "challenges"?}')
    p.add_argument("--challenges", default="arc1/eval")
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--out", default="runs/sweep", help="shared folder: one sub-folder per point, sweep.csv")
    p.add_argument("--deployment", default=SUBMIT)
    args = p.parse_args(argv)
    points = json.loads(Path(args.points).read_text())
    table = asyncio.run(sweep(points, args.challenges, args.limit, args.out, args.deployment))
    for row in table:
        print(f"{row['name']}: {row['state']} on {row['worker'] or '?'}, kaggle {row['kaggle']}, {row['status']}")
    print(f"table: {args.out}/sweep.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
