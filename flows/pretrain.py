"""Pretrain the embedded base model on augmented ARC training data (ARC-AGI-1 and ARC-AGI-2 evaluation held out).

    python flows/pretrain.py --out /tmp/pre/small --positions 1d --max-seconds 270 --workers 6
    python flows/pretrain.py --out /tmp/pre/arc-grid-15m --positions grid --rope-theta 1000 --generated 6000 --max-scale 2 --hidden 384 --layers 8 --heads 6 --intermediate 1152
    mkdir -p /tmp/pre && cp -r models/arc-grid-15m /tmp/pre/ && python flows/pretrain.py --out /tmp/pre/arc-grid-15m --schedule wsd --max-seconds 0 \
        --session-seconds 400 --positions grid --rope-theta 1000 --hidden 384 --layers 8 --heads 6 --intermediate 1152 \
        --generated 12000 --generated-seed 1 --max-scale 2   (continues the shipped model from its export and compact optimizer state)

The work is `tasks_lib.pretraining.pretrain`; a retry (or the same command again) resumes from the last checkpoint.
With `--schedule wsd` every call is a session that warms up from the lr the last one ended at, holds the peak and
decays over its last `--decay-fraction` of `--session-seconds` (or less where `--wall-seconds` leaves less), so each
export is decayed and the next call carries on from it; `--max-seconds 0` leaves the run uncapped, so every call adds its session. `--schedule auto` (the
default) keeps the schedule a resumed run recorded (cosine for the sessions before schedules were recorded).
Every PretrainConfig field is a flag (`--world-size`, `--init-from`, `--wall-seconds`, `--shard-mib`, ...).
With `--world-size` > 1 the started processes log with print (rank 0 only), not through the run logger.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python flows/pretrain.py` runs from anywhere
from flows import prefect_env  # noqa: E402,F401  (offline Prefect defaults; must come before prefect)
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks_lib.pretraining import pretrain as lib
from tasks_lib.pretraining.config import add_config_arguments, config_from_dict


@task(name="pretrain", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def train(config: dict, command: str) -> dict:
    return dataclasses.asdict(lib.pretrain(config_from_dict(config), command, log=get_run_logger().info))


@flow(name="arc-ttt-pretrain", log_prints=True)
def pretrain_flow(config: dict, command: str = "") -> dict:
    """Train (or resume) the model described by `config` (PretrainConfig fields).

    Args:
        config: PretrainConfig fields (tasks_lib/pretraining/config.py), e.g. {"out": "models/arc-base-pretrained"}.
        command: The command line recorded with the model, for whoever reads it later.
    """
    return train(config, command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="arc-ttt: pretrain the base model (resumable)")
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    config = dataclasses.asdict(config_from_dict(vars(args)))
    print(pretrain_flow(config, "python flows/pretrain.py " + shlex.join(sys.argv[1:] if argv is None else argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
