"""Stage configs and profiles.

Contract: one frozen dataclass per stage, validated in `__post_init__` (a `ConfigError` names the
field and the bad value). A profile is a YAML file in `profiles/` whose top-level keys are the stage
names (`model`, `train`, `sample`, `vote`, `budget`, `slots`, `schedule`) and whose values override the defaults
below; unknown keys are errors. `load_profile(name)` returns a `RunConfig`; `RunConfig.replace`
applies command-line overrides the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = ROOT / "profiles"
DEFAULT_PROFILE = "cpu"
DEFAULT_MODEL = ROOT / "models" / "arc-base-5m"


class ConfigError(ValueError):
    """A config value or profile is invalid."""


def _check(cond: bool, stage: str, name: str, value: Any, want: str) -> None:
    if not cond:
        raise ConfigError(f"{stage}.{name}={value!r}: expected {want}")


@dataclass(frozen=True)
class ModelConfig:
    path: str = str(DEFAULT_MODEL)  # any local HF causal-LM directory; relative paths are from the repo root
    dtype: str = "auto"  # auto: bfloat16 on CUDA, float32 on CPU
    lora_rank: int = 16  # higher: more capacity per task, more memory and time per step
    lora_alpha: float = 32.0
    lora_dropout: float = 0.0
    target_modules: str = "all-linear"  # or a comma list such as "q_proj,v_proj"
    max_tokens: int = 8192  # longest sequence trained or prompted; longer tasks drop train pairs
    attn_implementation: str = "auto"  # auto: the one transformers picks for the model; or sdpa, eager, flash_attention_2
    prompt_format: str = "arc"  # text layout of a task (tasks_lib.arc.prompt_formats): arc, or chat (the model's chat template)
    adapt: str = "lora"  # what per-task training updates: lora (the adapter) or full (every base weight; for small models: a copy of the base stays on the device to reset from)

    def __post_init__(self) -> None:
        _check(self.dtype in ("auto", "float32", "bfloat16", "float16"), "model", "dtype", self.dtype, "auto|float32|bfloat16|float16")
        _check(self.adapt in ("lora", "full"), "model", "adapt", self.adapt, "lora|full")
        # full fine-tuning updates the weights themselves: in bf16 an update below the weight's last bit is lost
        _check(self.adapt == "lora" or self.dtype == "float32", "model", "dtype", self.dtype, "float32 with adapt=full")
        _check(self.lora_rank >= 1, "model", "lora_rank", self.lora_rank, ">= 1")
        _check(self.lora_alpha > 0, "model", "lora_alpha", self.lora_alpha, "> 0")
        _check(0 <= self.lora_dropout < 1, "model", "lora_dropout", self.lora_dropout, "in [0, 1)")
        _check(self.max_tokens >= 64, "model", "max_tokens", self.max_tokens, ">= 64")
        from tasks_lib.arc.prompt_formats import FORMATS  # here, not at import: prompt_formats imports encoding

        _check(self.prompt_format in FORMATS, "model", "prompt_format", self.prompt_format, "|".join(FORMATS))

    @property
    def resolved_path(self) -> Path:
        p = Path(self.path).expanduser()
        return p if p.is_absolute() else ROOT / p


@dataclass(frozen=True)
class TrainConfig:
    max_steps: int = 100  # cap per task; the task's time budget may stop it earlier
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 5
    loss_on_first: bool = True  # also train on the first pair's output (no in-context example before it)
    seed: int = 0
    scope: str = "task"  # task: a fresh adapter per task; shared: one adapter trained on every task of the run first (the baseline per-task training is measured against); none: no training, sample the base model
    # The step (tasks_lib/adapting/train.py; measured in benchmarks/results/train_step.md).
    step: str = "auto"  # auto: fast on CUDA, simple on CPU; fast falls back to simple for unsupported architectures
    compile: str = "auto"  # fast step: decoder layers and loss head compiled once per slot; auto: inductor on CUDA, off on CPU
    compile_scope: str = "layer"  # layer: one small graph reused by every layer (compiles in seconds); model: the whole forward and loss as one graph (least per-step overhead, longer compile; needs ce_chunk 0)
    fused_adamw: str = "auto"  # one fused optimizer kernel; auto: on for CUDA only
    adapter_autocast: str = "auto"  # fast step: LoRA matmuls in the base dtype, fp32 master weights; auto: on for a bf16/fp16 base
    lora_input_casts: str = "skip"  # fast step under autocast: skip PEFT's cast of each LoRA input to fp32 (the matmul casts it back:
    # bit-identical numbers, 280 -> 62 activation-sized casts a step of arc-grid-15m; the eager 16- and 64-view step 1.17x and 1.22x
    # faster on an H100, benchmarks/results/train_batch-h100.md); keep: PEFT's default, the benchmark's baseline
    ce_chunk: int = 0  # fast step: labelled positions per cross-entropy chunk, logits recomputed in backward; 0: one chunk (fine for small vocabularies)
    checkpoint_min_tokens: int = 0  # fast step: recompute decoder layers in backward for sequences at least this long; 0: never. Less memory, ~1/3 more compute
    sync_every: int = 1  # steps between host reads of the loss (the deadline check uses the last read's step time); reading every 8 did not pay on an H200 (benchmarks/results/train_step.md)
    cuda_graphs: str = "auto"  # fast step: the whole step (forward, backward, clip, AdamW) replayed as one CUDA graph per length bucket; auto: on for CUDA (H100: 7.5x/5.6x/2.9x plain PEFT at 0.5B, 1k/2k/4k tokens; replay, reset and tolerance checks passed; benchmarks/results/train_step.md, Run 4), off on CPU; on: also on CPU (the same static-buffer step without capture); off: the fast step
    graph_bucket: int = 256  # cuda_graphs: sequences padded at the end to a multiple of this (IGNORE labels); larger: fewer captures, more padded compute
    max_scale: int = 1  # upscale half the training views by 2..max_scale where every grid stays within 30 cells (tasks_lib/arc/augment.py); 1: off
    views_per_step: int = 1  # augmented views in one optimizer step (right-padded to the longest): the arithmetic a step gives
    # the GPU grows with it, and a step's loss is the mean over all its views' output tokens; 1: one view per step
    tokens_per_step: int = 0  # cap on a step's padded positions (views x longest view, graph bucket included): long tasks
    # train fewer views per step, one at least; 0: views_per_step alone decides

    def __post_init__(self) -> None:
        _check(self.max_steps >= 0, "train", "max_steps", self.max_steps, ">= 0")
        _check(self.lr > 0, "train", "lr", self.lr, "> 0")
        _check(self.weight_decay >= 0, "train", "weight_decay", self.weight_decay, ">= 0")
        _check(self.warmup_steps >= 0, "train", "warmup_steps", self.warmup_steps, ">= 0")
        _check(self.scope in ("task", "shared", "none"), "train", "scope", self.scope, "task|shared|none")
        _check(self.step in ("auto", "fast", "simple"), "train", "step", self.step, "auto|fast|simple")
        _check(self.compile in ("auto", "inductor", "aot_eager", "eager", "off"), "train", "compile", self.compile, "auto|inductor|aot_eager|eager|off")
        _check(self.compile_scope in ("layer", "model"), "train", "compile_scope", self.compile_scope, "layer|model")
        _check(self.fused_adamw in ("auto", "on", "off"), "train", "fused_adamw", self.fused_adamw, "auto|on|off")
        _check(self.adapter_autocast in ("auto", "on", "off"), "train", "adapter_autocast", self.adapter_autocast, "auto|on|off")
        _check(self.lora_input_casts in ("skip", "keep"), "train", "lora_input_casts", self.lora_input_casts, "skip|keep")
        _check(self.ce_chunk >= 0, "train", "ce_chunk", self.ce_chunk, ">= 0")
        _check(self.checkpoint_min_tokens >= 0, "train", "checkpoint_min_tokens", self.checkpoint_min_tokens, ">= 0")
        _check(self.sync_every >= 1, "train", "sync_every", self.sync_every, ">= 1")
        _check(self.cuda_graphs in ("auto", "on", "off"), "train", "cuda_graphs", self.cuda_graphs, "auto|on|off")
        _check(self.graph_bucket >= 1, "train", "graph_bucket", self.graph_bucket, ">= 1")
        _check(1 <= self.max_scale <= 30, "train", "max_scale", self.max_scale, "1-30")
        _check(1 <= self.views_per_step <= 1024, "train", "views_per_step", self.views_per_step, "1-1024")
        _check(self.tokens_per_step >= 0, "train", "tokens_per_step", self.tokens_per_step, ">= 0")


@dataclass(frozen=True)
class SampleConfig:
    backend: str = "hf"  # hf: transformers generate; cached: the engine (prompt prefilled once, batched views); dfs: engine depth-first search; vllm: a vLLM engine per slot
    views: int = 4  # augmented views per test input (the identity first)
    samples_per_view: int = 2  # hf/cached/vllm: the first greedy, the rest at `temperature`
    temperature: float = 1.0
    seed: int = 0
    dfs_threshold: float = 0.1  # dfs: keep every completion at least this probable; lower finds more, costs more steps
    dfs_max_candidates: int = 8  # dfs: cap on completions per view
    score_views: int = 0  # augmented scoring: views (identity first) under which each distinct candidate is scored; 0: off
    merge_lora: str = "off"  # off | cpu | device: merge the adapter while sampling, base copy kept on the CPU (no GPU memory, slow restore
    # for big models) or on the device (fast, GPU memory = adapted weights); measured in benchmarks/results/decode.md
    cuda_graphs: str = "auto"  # cached/dfs decode steps as CUDA graphs: auto (on CUDA; a failed capture logs once and runs eager),
    # on (as auto, but a failed capture is an error), off (always eager; the CPU is always eager)
    compile: str = "off"  # cached/dfs: torch.compile backend for the fused decode step's layer body: off | inductor | aot_eager |
    # eager; opt-in until measured on a GPU (fewer kernels per layer, but a compile per decode shape; a failure logs and runs uncompiled)
    vllm_memory: float = 0.3  # vllm: fraction of the GPU its engine may take (the resident training model needs the rest)
    memory_gb: float = 0.0  # cached: memory (GB) the decode plan may use beyond what the process holds; 0: on CUDA what the process
    # may still allocate (its per-process cap or the card, minus what it holds), elsewhere no limit (all views as one batch).
    # Views that do not fit in one batch are decoded in sequential groups (tasks_lib/adapting/memory.py): slower, every view still sampled

    def __post_init__(self) -> None:
        _check(self.backend in ("hf", "cached", "dfs", "vllm"), "sample", "backend", self.backend, "hf|cached|dfs|vllm")
        _check(1 <= self.views <= 64, "sample", "views", self.views, "1-64")
        _check(1 <= self.samples_per_view <= 64, "sample", "samples_per_view", self.samples_per_view, "1-64")
        _check(self.temperature > 0, "sample", "temperature", self.temperature, "> 0")
        _check(0 < self.dfs_threshold <= 1, "sample", "dfs_threshold", self.dfs_threshold, "in (0, 1]")
        _check(1 <= self.dfs_max_candidates <= 256, "sample", "dfs_max_candidates", self.dfs_max_candidates, "1-256")
        _check(0 <= self.score_views <= 64, "sample", "score_views", self.score_views, "0-64")
        _check(0 < self.vllm_memory < 1, "sample", "vllm_memory", self.vllm_memory, "in (0, 1)")
        _check(self.memory_gb >= 0, "sample", "memory_gb", self.memory_gb, ">= 0")
        _check(self.merge_lora in ("off", "cpu", "device"), "sample", "merge_lora", self.merge_lora, "off|cpu|device")
        _check(self.cuda_graphs in ("auto", "on", "off"), "sample", "cuda_graphs", self.cuda_graphs, "auto|on|off")
        _check(self.compile in ("off", "inductor", "aot_eager", "eager"), "sample", "compile", self.compile, "off|inductor|aot_eager|eager")


@dataclass(frozen=True)
class VoteConfig:
    rule: str = "count"  # count: most votes first, ties by mean log-probability; logprob: the reverse; score: augmented score
    # (mean over score views), ties by votes; count_score: log(vote share) + augmented score, two log-probabilities added

    def __post_init__(self) -> None:
        _check(self.rule in ("count", "logprob", "score", "count_score"), "vote", "rule", self.rule, "count|logprob|score|count_score")


@dataclass(frozen=True)
class BudgetConfig:
    total_seconds: float = 900.0  # wall time for the whole run, from start to submission written
    reserve_seconds: float = 30.0  # kept back for writing the submission and reports
    train_fraction: float = 0.6  # of a task's budget; sampling gets the rest
    size_weighted: bool = True  # larger tasks get proportionally more time

    def __post_init__(self) -> None:
        _check(self.total_seconds > 0, "budget", "total_seconds", self.total_seconds, "> 0")
        _check(0 <= self.reserve_seconds < self.total_seconds, "budget", "reserve_seconds", self.reserve_seconds, "in [0, total_seconds)")
        _check(0 < self.train_fraction < 1, "budget", "train_fraction", self.train_fraction, "in (0, 1)")

    def for_total(self, total_seconds: float) -> dict:
        """The budget overrides for a run of `total_seconds` (a `--time-budget`): the profile's reserve, but never more
        than `RESERVE_SHARE` of the total, so a short run keeps most of its time for tasks."""
        return {"total_seconds": float(total_seconds), "reserve_seconds": min(self.reserve_seconds, total_seconds * RESERVE_SHARE)}


REFINE_KINDS = ("continue", "fresh", "transduce")  # ScheduleConfig.refine_kind (tasks_lib/running/refine.py)
RESERVE_SHARE = 0.1  # most of a run's total that its reserve may take (BudgetConfig.for_total)


@dataclass(frozen=True)
class ScheduleConfig:
    """How a run spends its budget: a first answer for every task (pass 1), then refinements of the unsure ones
    (tasks_lib/running/refine.py) until the time is up."""

    min_task_seconds: float = 0.0  # pass 1: the least share any task starts with while the run can give it to every task; 0: none
    overhead_seconds: float = 0.5  # a slot's time per task outside the task's own budget (record, publish, subflow);
    # replaced by the run's measured mean once a task has finished
    sample_seconds_per_token: float = 0.01  # sample-step seconds per answer token of a test input (all its views and samples
    # decoded as one batch); a claim leaves sampling this x the task's expected answer tokens (x1.2, at most 90% of the share;
    # tasks_lib/running/budget.py). A guess until the run measures its own ratio (the first task that samples to the end); 0: no floor until then
    refine: bool = False  # after pass 1, spend the time left refining the unsure tasks
    first_pass_fraction: float = 1.0  # refine on: pass 1 plans to end by this fraction of the budget (the floor still holds)
    refine_rounds: int = 0  # most refinements per task; 0: no cap, unsure tasks are refined in rounds until the time is up
    # (CPU demo, two runs each: 5 of 10 solved with no cap against 4 with a cap of 2, which left half the budget unused)
    refine_steps: int = 0  # train steps a refinement adds from the saved adapter; 0: train.max_steps
    refine_views: int = 0  # views a refinement samples (a new seed, so new views); 0: sample.views
    sure_margin: float = 1.0  # a task whose vote margin (top minus second, over all candidates) reaches this on every test input is left alone
    refine_kind: str = "continue"  # continue: more steps from the task's saved adapter; fresh: a new adapter trained from the
    # base model under the round's seed, its candidates pooled into the vote (independent trainings); transduce: continue,
    # with each test input whose top grid holds transduce_share of its votes added as one more demonstration
    transduce_share: float = 0.5  # refine_kind transduce: the vote share that makes a test input's top grid a demonstration

    def __post_init__(self) -> None:
        _check(self.min_task_seconds >= 0, "schedule", "min_task_seconds", self.min_task_seconds, ">= 0")
        _check(self.overhead_seconds >= 0, "schedule", "overhead_seconds", self.overhead_seconds, ">= 0")
        _check(self.sample_seconds_per_token >= 0, "schedule", "sample_seconds_per_token", self.sample_seconds_per_token, ">= 0")
        _check(0 < self.first_pass_fraction <= 1, "schedule", "first_pass_fraction", self.first_pass_fraction, "in (0, 1]")
        _check(self.refine_rounds >= 0, "schedule", "refine_rounds", self.refine_rounds, ">= 0")
        _check(self.refine_steps >= 0, "schedule", "refine_steps", self.refine_steps, ">= 0")
        _check(0 <= self.refine_views <= 64, "schedule", "refine_views", self.refine_views, "0-64")
        _check(0 < self.sure_margin <= 1, "schedule", "sure_margin", self.sure_margin, "in (0, 1]")
        _check(self.refine_kind in REFINE_KINDS, "schedule", "refine_kind", self.refine_kind, "|".join(REFINE_KINDS))
        _check(0 < self.transduce_share <= 1, "schedule", "transduce_share", self.transduce_share, "in (0, 1]")


@dataclass(frozen=True)
class SlotConfig:
    device: str = "auto"  # auto: every visible CUDA GPU, else the CPU; or "cpu", "cuda"
    gpus: int = 0  # 0: all visible GPUs
    slots_per_device: int = 1  # workers per GPU, each with its own resident copy of the base model
    cpu_slots: int = 1  # workers when running on the CPU
    threads_per_slot: int = 0  # torch threads per worker; 0: cores / slots
    step_grace_seconds: float = 60.0  # a step still running this long past its deadline is killed
    load_timeout_seconds: float = 600.0
    lock_dir: str = ""  # where GPU lease files live; default: <tmp>/arc-ttt-locks
    memory_gb: float = 0.0  # GPU slots: cap each worker's CUDA allocations at this many GB (torch's per-process memory
    # fraction), e.g. 24 on a larger card to check that a model fits a 24 GB L4; 0: no cap

    def __post_init__(self) -> None:
        _check(self.device in ("auto", "cpu", "cuda"), "slots", "device", self.device, "auto|cpu|cuda")
        _check(self.gpus >= 0, "slots", "gpus", self.gpus, ">= 0")
        _check(1 <= self.slots_per_device <= 16, "slots", "slots_per_device", self.slots_per_device, "1-16")
        _check(1 <= self.cpu_slots <= 64, "slots", "cpu_slots", self.cpu_slots, "1-64")
        _check(self.threads_per_slot >= 0, "slots", "threads_per_slot", self.threads_per_slot, ">= 0")
        _check(self.step_grace_seconds > 0, "slots", "step_grace_seconds", self.step_grace_seconds, "> 0")
        _check(self.memory_gb >= 0, "slots", "memory_gb", self.memory_gb, ">= 0")


STAGES: dict[str, type] = {
    "model": ModelConfig,
    "train": TrainConfig,
    "sample": SampleConfig,
    "vote": VoteConfig,
    "budget": BudgetConfig,
    "slots": SlotConfig,
    "schedule": ScheduleConfig,
}


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    vote: VoteConfig = field(default_factory=VoteConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    slots: SlotConfig = field(default_factory=SlotConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    profile: str = "defaults"
    description: str = ""

    def __post_init__(self) -> None:
        # one shared adapter reaches the tasks as a saved LoRA file; with adapt=full the training is in the weights
        _check(not (self.model.adapt == "full" and self.train.scope == "shared"), "train", "scope", self.train.scope,
               "task or none with model.adapt=full")

    def replace(self, overrides: Mapping[str, Mapping[str, Any]]) -> "RunConfig":
        """A copy with `{stage: {field: value}}` applied; unknown stages or fields raise ConfigError."""
        changes: dict[str, Any] = {}
        for stage, values in overrides.items():
            if stage not in STAGES:
                raise ConfigError(f"unknown config section {stage!r}; expected one of {sorted(STAGES)}")
            if not isinstance(values, Mapping):
                raise ConfigError(f"{stage}: expected a mapping of field: value, got {type(values).__name__}")
            current = getattr(self, stage)
            names = {f.name: f for f in dataclasses.fields(current)}
            unknown = sorted(set(values) - set(names))
            if unknown:
                raise ConfigError(f"{stage}.{unknown[0]}: unknown field; expected one of {sorted(names)}")
            coerced = {k: _coerce(stage, k, v, type(getattr(current, k))) for k, v in values.items()}
            try:
                changes[stage] = dataclasses.replace(current, **coerced)
            except TypeError as err:
                raise ConfigError(f"{stage}: {err}") from None
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(stage: str, key: str, value: Any, want: type) -> Any:
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if want is not type(value) and not (want is float and isinstance(value, float)):
        raise ConfigError(f"{stage}.{key}={value!r}: expected {want.__name__}, got {type(value).__name__}")
    return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (PyYAML keeps the last one, so a
    second `schedule:` section would silently drop the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def profile_names() -> tuple[str, ...]:
    """The profiles shipped in `profiles/`, by name, sorted."""
    return tuple(sorted(q.stem for q in PROFILES_DIR.glob("*.yaml")))


def profile_path(name: str) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    candidate = PROFILES_DIR / f"{name}.yaml"
    if not candidate.exists():
        raise ConfigError(f"profile {name!r} not found in {PROFILES_DIR}; known profiles: {list(profile_names())}")
    return candidate


def load_profile(name: str = DEFAULT_PROFILE) -> RunConfig:
    """Read `profiles/<name>.yaml` (or a YAML path) over the defaults."""
    path = profile_path(name)
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections")
    description = str(raw.pop("description", ""))
    try:
        cfg = RunConfig().replace(raw)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return dataclasses.replace(cfg, profile=path.stem, description=description)
