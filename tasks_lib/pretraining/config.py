"""Pretraining's settings and outcome: `PretrainConfig` (every field with its reason, validated in `__post_init__`),
`PretrainResult`, `PretrainError`; `config_from_dict` and `add_config_arguments` turn JSON values and command lines into
a config (`python -m tasks_lib.pretraining.pretrain`, `flows/pretrain.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class PretrainError(RuntimeError):
    """A checkpoint or data source cannot be used."""


@dataclass(frozen=True)
class PretrainConfig:
    out: str  # model directory to write (and resume from); relative paths are from the working directory
    sources: tuple[str, ...] = ("arc1/train", "arc2/train")
    holdout: tuple[str, ...] = ("arc1/eval", "arc2/eval")  # never trained on, matched by content
    min_shared_cells: int = 9  # a shared grid larger than this excludes a task; smaller ones (e.g. 3x3) recur by chance
    hidden: int = 256
    layers: int = 6
    heads: int = 4  # head_dim = hidden / heads; >= 32 keeps vLLM's CPU attention usable
    intermediate: int = 768
    positions: str = "grid"  # grid: rotary positions over (grid, line, column), model type arc_grid; 1d: plain Llama positions
    rope_theta: float = 10000.0  # rotary base; grid axes span ~0-30 and the 1-D axis up to max_tokens
    max_tokens: int = 8192  # longest training sequence; trailing pairs are dropped beyond it (also the RoPE range trained)
    batch_tokens: int = 65536  # padded tokens per optimizer step; examples of similar length are batched together
    lr: float = 1e-3  # peak; small models take large rates
    min_lr_ratio: float = 0.1  # the schedules decay to lr * this
    # auto: a resumed run keeps the schedule its checkpoint recorded (cosine for a checkpoint from before schedules were
    # recorded, so an existing run's command resumes unchanged) and a fresh run gets wsd, the one that can be extended;
    # cosine: one planned run (max_steps / max_seconds) that sessions split; wsd: every session warms up, holds the peak
    # and ends decayed, so each export is usable and compute adds up across sessions (tasks_lib.pretraining.schedule)
    schedule: str = "auto"
    decay_fraction: float = 0.2  # wsd: the last share of each session's training budget that decays (1-sqrt); 20% matches a cosine
    warmup_steps: int = 50  # cosine: the run's first steps; wsd: each session's first steps, from the lr the previous one ended at
    weight_decay: float = 0.1  # on matrices only
    max_steps: int = 0  # 0: no step cap, time decides
    max_seconds: float = 300.0  # training seconds over all sessions; 0: no time cap (cosine: steps decide; wsd: every session adds on)
    session_seconds: float = 540.0  # this call stops (checkpointed) after this many seconds of training; wsd decays by then
    checkpoint_seconds: float = 60.0
    wall_seconds: float = 0.0  # this call stops (checkpointed) before this much wall time, setup and saves included (wsd decays by then); 0: no limit
    log_every: int = 10  # steps between loss rows
    keep_background: bool = True  # colour 0 stays fixed, as in the views the pipeline trains and samples on
    max_scale: int = 1  # upscale half the examples by 2..max_scale where every grid stays within 30 cells; 1: off
    generated: int = 0  # procedurally generated tasks added to the sources (tasks_lib.pretraining.generate); 0: none
    generated_seed: int = 0
    generated_fraction: float = 0.5  # share of examples drawn from the generated tasks (families and rules), when there are any
    rule_tasks: int = 0  # fresh tasks per ARC training task with a verified rule (tasks_lib.pretraining.rule_tasks), seed generated_seed, drawn as generated tasks; 0: none
    heldout_views: int = 0  # at every checkpoint, the loss on this many views of each `holdout` task's outputs (tasks_lib.pretraining.heldout:
    # measured, never trained on) joins the state and the card, so exports compare at equal compute; 0: off
    compact: bool = True  # also write the compact optimizer state beside the export at every checkpoint
    bucket: int = 256  # examples drawn, sorted by length and cut into batches at a time
    workers: int = 0  # DataLoader processes that build batches, per training process; 0: the training process does
    export_dtype: str = "bfloat16"  # dtype of the shipped weights (halves the repository size; CPU loads upcast)
    shard_mib: float = 15.0  # largest weights file of the export; device transfers cap a file at 16 MiB
    world_size: int = 1  # data-parallel processes, one per GPU (NCCL), or CPU processes (gloo); batch_tokens is per process
    threads: int = 0  # CPU threads per process; 0: 1 process alone keeps torch's default, N share the cores
    init_from: str = ""  # an exported model directory whose weights start a fresh run (new optimizer and schedule)
    device: str = "auto"  # auto: cuda when available
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (bool(self.out), "out", "a directory"),
            (bool(self.sources), "sources", "at least one data set"),
            (self.min_shared_cells >= 0, "min_shared_cells", ">= 0"),
            (self.hidden % self.heads == 0 and self.hidden // self.heads >= 32, "heads", "hidden / heads an integer >= 32"),
            (self.layers >= 1 and self.intermediate >= 1, "layers", "layers and intermediate >= 1"),
            (self.max_tokens >= 64, "max_tokens", ">= 64"),
            (self.positions in ("grid", "1d"), "positions", "grid|1d"),
            (self.rope_theta > 1, "rope_theta", "> 1"),
            (1 <= self.max_scale <= 30, "max_scale", "1-30"),
            (self.generated >= 0 and 0 <= self.generated_fraction <= 1, "generated", "generated >= 0, generated_fraction in [0, 1]"),
            (self.rule_tasks >= 0, "rule_tasks", ">= 0"),
            (self.heldout_views >= 0, "heldout_views", ">= 0"),
            (self.batch_tokens >= self.max_tokens, "batch_tokens", ">= max_tokens"),
            (self.lr > 0 and 0 <= self.min_lr_ratio <= 1, "lr", "lr > 0, min_lr_ratio in [0, 1]"),
            (self.warmup_steps >= 0 and self.weight_decay >= 0, "warmup_steps", "warmup_steps, weight_decay >= 0"),
            (self.schedule in ("auto", "cosine", "wsd"), "schedule", "auto|cosine|wsd"),
            (0 < self.decay_fraction <= 1, "decay_fraction", "in (0, 1]"),
            (self.max_steps > 0 or self.max_seconds > 0 or self.schedule != "cosine", "max_steps", "max_steps or max_seconds > 0 (the cosine's horizon)"),
            (self.max_steps >= 0 and self.max_seconds >= 0, "max_seconds", ">= 0"),
            (self.session_seconds > 0 and self.checkpoint_seconds > 0, "session_seconds", "session and checkpoint seconds > 0"),
            (self.wall_seconds >= 0, "wall_seconds", ">= 0"),
            (self.log_every >= 1 and self.bucket >= 1 and self.workers >= 0, "log_every", "log_every, bucket >= 1, workers >= 0"),
            (self.export_dtype in ("float32", "bfloat16", "float16"), "export_dtype", "float32|bfloat16|float16"),
            (self.device in ("auto", "cpu", "cuda"), "device", "auto|cpu|cuda"),
            (self.shard_mib > 0, "shard_mib", "> 0"),
            (self.world_size >= 1 and self.threads >= 0, "world_size", "world_size >= 1, threads >= 0"),
        ]
        for ok, name, want in checks:
            if not ok:
                raise ValueError(f"pretrain.{name}={getattr(self, name)!r}: expected {want}")

    @property
    def shape(self) -> dict:
        return {"hidden": self.hidden, "layers": self.layers, "heads": self.heads, "intermediate": self.intermediate,
                "positions": self.positions}


@dataclass
class PretrainResult:
    out: str
    steps: int
    tokens: int
    final_loss: float | None
    done: bool
    params: int
    seconds: float


def config_from_dict(values: dict) -> PretrainConfig:
    """A PretrainConfig from JSON-like values (lists become tuples); unknown keys raise ValueError."""
    unknown = sorted(set(values) - set(PretrainConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"pretrain.{unknown[0]}: unknown field; expected one of {sorted(PretrainConfig.__dataclass_fields__)}")
    return PretrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def add_config_arguments(parser: Any) -> None:
    """One `--flag` per PretrainConfig field, defaults from the dataclass."""
    import argparse

    defaults = PretrainConfig(out="unused")
    for f in PretrainConfig.__dataclass_fields__.values():
        value = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if f.name == "out":
            parser.add_argument(flag, required=True, help="model directory to write or resume")
        elif isinstance(value, tuple):
            parser.add_argument(flag, nargs="*", default=list(value))
        elif isinstance(value, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        else:
            parser.add_argument(flag, type=type(value), default=value)
