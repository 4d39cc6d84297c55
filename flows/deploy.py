"""Every deployment of arc-ttt, declared in one place, on a process work pool.

    prefect work-pool create arc-ttt --type process     # once per server (this script also creates it)
    python flows/deploy.py --pool arc-ttt               # (re)declare the deployments below
    prefect deployment run 'arc-ttt-submit/solve-and-submit' --param challenges=arc1/eval --param limit=20 --param out=runs/r1

Each flow run starts in a fresh process on whichever worker of the pool takes it, in this checkout's folder
(the same path on every host: a shared filesystem, or the same clone path). Needs `PREFECT_API_URL`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python flows/deploy.py` runs from anywhere
from flows import prefect_env  # noqa: E402,F401  (offline Prefect defaults; must come before prefect)
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectNotFound

ROOT = prefect_env.ROOT
POOL = "arc-ttt"


@dataclass(frozen=True)
class Spec:
    """One deployment: the flow's entrypoint, a name that says what it does, and parameter defaults users override
    with `--param`. The parameters' descriptions and choices come from the flow's signature and docstring."""

    entrypoint: str
    name: str
    description: str
    parameters: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return ROOT / self.entrypoint.split(":")[0]


DEPLOYMENTS: tuple[Spec, ...] = (
    Spec("flows/submit.py:submit", "solve-and-submit",
         "Per-task TTT on a data set; writes submission.json, report.json and pictures under `out`.",
         {"challenges": "arc1/eval", "profile": "cpu", "out": "runs/latest"}),
    Spec("flows/evaluate.py:evaluate", "score-a-profile", "Score a profile on a data set with known solutions (the submit pipeline).",
         {"challenges": "arc1/eval", "profile": "cpu"}),
    Spec("flows/sweep.py:sweep", "sweep-over-workers", "One submit run per point, spread over every worker of the pool; a table and sweep.csv.",
         {"points": [{"time_budget": 300}, {"time_budget": 600}], "challenges": "arc1/eval", "limit": 4, "out": "runs/sweep"}),
    Spec("flows/pretrain.py:pretrain_flow", "pretrain-base-model",
         "Pretrain (or resume) a base model on augmented ARC training data; ARC-AGI-1 eval held out.",
         {"config": {"out": "models/arc-base-pretrained"}, "command": "prefect deployment run 'arc-ttt-pretrain/pretrain-base-model'"}),
)


def load(spec: Spec) -> Flow:
    """The flow behind a spec, loaded from this checkout as a worker will load it."""
    return Flow.from_source(source=str(ROOT), entrypoint=spec.entrypoint)


async def ensure_pool(name: str) -> None:
    """Create the process work pool `name` unless it exists."""
    async with get_client() as client:
        try:
            await client.read_work_pool(name)
        except ObjectNotFound:
            await client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            print(f"created work pool {name!r} (type process)")


def deploy(pool: str, only: list[str] | None = None) -> list[str]:
    """Declare the deployments on `pool` (only those of the flow files named in `only`, when given);
    return their full names (`flow-name/deployment-name`)."""
    asyncio.run(ensure_pool(pool))
    names = []
    for spec in DEPLOYMENTS:
        if only and spec.path.stem not in only:
            continue
        if not spec.path.exists():
            print(f"skipped {spec.entrypoint}: {spec.path.relative_to(ROOT)} is not in this checkout")
            continue
        f = load(spec)
        f.deploy(name=spec.name, work_pool_name=pool, parameters=spec.parameters, description=spec.description,
                 tags=["arc-ttt"], print_next_steps=False, build=False, push=False, ignore_warnings=True)
        names.append(f"{f.name}/{spec.name}")
        print(f"deployed {f.name}/{spec.name} on pool {pool!r}")
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Declare arc-ttt's deployments on a process work pool")
    p.add_argument("--pool", default=POOL, help=f"process work pool (created if missing; default {POOL})")
    p.add_argument("--only", nargs="*", help="flow files to deploy, e.g. submit sweep (default: all)")
    args = p.parse_args(argv)
    if not os.environ.get("PREFECT_API_URL"):
        print("error: set PREFECT_API_URL to your Prefect server (e.g. http://127.0.0.1:4200/api)", file=sys.stderr)
        return 2
    deploy(args.pool, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
