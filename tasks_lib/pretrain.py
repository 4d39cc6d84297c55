"""Pretraining the embedded base model on augmented ARC training data, and probing what it solves.

Contract:
- `training_tasks(sources, holdout, min_shared_cells)` returns the pretraining tasks: every task of
  `sources` (bundled set names or challenge files with solutions), with test pairs folded into the
  train pairs, minus every task that shares content with `holdout`: an (input, output) pair, a grid
  larger than `min_shared_cells` cells, or its id. Exact duplicates across sources are kept once.
  So ARC-AGI-1 evaluation stays unseen when it is the holdout, whatever ids other sets give its tasks.
- `pretrain(cfg, command)` trains every weight of a Llama-shaped model with the ARC vocabulary
  (`tasks_lib.encoding` layout, loss on output tokens only) on fresh random augmentations of those tasks.
  It is resumable: a checkpoint (fp32 weights and AdamW state as safetensors, plus `state.json`) is
  written every `checkpoint_seconds` and when the session ends, and a later call with the same `out`
  carries on where it stopped. The learning-rate schedule follows progress = max(steps / max_steps,
  train seconds / max_seconds) summed over sessions, so a run split into sessions of at most
  `session_seconds` (e.g. 10-minute GPU leases) ends where one long run would. `init_from` starts a new
  run (no checkpoint at `out` yet) from an exported model directory's weights, with a fresh optimizer
  and schedule, for when the fp32 checkpoint was lost with the machine.
- Data parallel: `world_size` N > 1 runs N processes (one command: it starts them; or one per torchrun
  rank), one per GPU over NCCL, or on the CPU over gloo. Gradients are averaged every step; each rank
  draws its own random views (seeded by rank); rank 0's clock and step count decide the learning rate,
  checkpoints and the stop for every rank (broadcast each step, so no rank waits alone in a collective);
  only rank 0 logs and writes. NVLink multicast stays off (`MULTICAST_OFF` is set unless already set).
- Every checkpoint also refreshes a model directory at `out` that `tasks_lib.model.load_base` loads:
  `config.json`, the weights in `export_dtype` (`model.safetensors`, or shards of at most `shard_mib`
  with `model.safetensors.index.json` as `save_pretrained` writes them, so every file fits a 16 MiB
  transfer), the tokenizer, `loss.csv`, `loss.png` (when matplotlib is installed) and a model card
  `README.md` (data, size, processes, steps, tokens seen summed over processes, final loss, the
  starting weights, the commands that made it).
- `parameter_count(cfg)` counts a config's parameters without building its weights.
- `step_time(model_dirs, sizes)` times the pipeline's per-task LoRA step of each model on real tasks.
- `probe(model_dir, tasks, ...)` solves tasks with the existing per-task pipeline pieces (reset adapter,
  `train_adapter`, `sample_task`, `rank`/`attempts`) with and without per-task training, and scores them.
This module never imports Prefect; `flows/pretrain.py` wraps it.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from tasks_lib.augment import apply_task, random_augmentation
from tasks_lib.data import Grid, Pair, Task, load_challenges
from tasks_lib.encoding import IGNORE, Encoded, EncodingError, Vocab, build_arc_tokenizer, encode_train

CHECKPOINT = "checkpoint"  # sub-folder of `out` with fp32 weights, optimizer state and state.json
LOSS_CSV = "loss.csv"
WEIGHTS = "model.safetensors"  # one-file export (and the fp32 checkpoint's weights)
WEIGHTS_INDEX = "model.safetensors.index.json"  # the tensor -> shard map of a sharded export
MULTICAST_OFF = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}  # NVLink multicast stays off


class PretrainError(RuntimeError):
    """A checkpoint or data source cannot be used."""


@dataclass(frozen=True)
class PretrainConfig:
    out: str  # model directory to write (and resume from); relative paths are from the working directory
    sources: tuple[str, ...] = ("arc1/train", "arc2/train")
    holdout: tuple[str, ...] = ("arc1/eval",)  # never trained on, matched by content
    min_shared_cells: int = 9  # a shared grid larger than this excludes a task; smaller ones (e.g. 3x3) recur by chance
    hidden: int = 256
    layers: int = 6
    heads: int = 4  # head_dim = hidden / heads; >= 32 keeps vLLM's CPU attention usable
    intermediate: int = 768
    max_tokens: int = 8192  # longest training sequence; trailing pairs are dropped beyond it (also the RoPE range trained)
    batch_tokens: int = 65536  # padded tokens per optimizer step; examples of similar length are batched together
    lr: float = 1e-3  # peak; small models take large rates
    min_lr_ratio: float = 0.1  # cosine decays to lr * this
    warmup_steps: int = 50
    weight_decay: float = 0.1  # on matrices only
    max_steps: int = 0  # 0: no step cap, time decides
    max_seconds: float = 300.0  # training seconds over all sessions; 0: no time cap, steps decide
    session_seconds: float = 540.0  # this call stops (checkpointed) after this many seconds of training
    checkpoint_seconds: float = 60.0
    wall_seconds: float = 0.0  # this call stops (checkpointed) before this much wall time, setup and saves included; 0: no limit
    log_every: int = 10  # steps between loss rows
    keep_background: bool = True  # colour 0 stays fixed, as in the views the pipeline trains and samples on
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
            (self.batch_tokens >= self.max_tokens, "batch_tokens", ">= max_tokens"),
            (self.lr > 0 and 0 <= self.min_lr_ratio <= 1, "lr", "lr > 0, min_lr_ratio in [0, 1]"),
            (self.warmup_steps >= 0 and self.weight_decay >= 0, "warmup_steps", "warmup_steps, weight_decay >= 0"),
            (self.max_steps > 0 or self.max_seconds > 0, "max_steps", "max_steps or max_seconds > 0"),
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
        return {"hidden": self.hidden, "layers": self.layers, "heads": self.heads, "intermediate": self.intermediate}


# ---------------------------------------------------------------- data


def task_pairs(task: Task) -> tuple[Pair, ...]:
    """Train pairs plus the test pairs whose outputs are known."""
    return task.train + tuple(Pair(i, o) for i, o in zip(task.test_inputs, task.test_outputs))


def _grids(pairs: Sequence[Pair]) -> set[Grid]:
    return {g for p in pairs for g in (p.input, p.output)}


@dataclass
class DataReport:
    """What `training_tasks` kept and why it dropped the rest."""

    kept: int = 0
    per_source: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, list[str]] = field(default_factory=dict)  # source -> ids that overlap the holdout
    duplicates: int = 0  # exact copies of a task already kept

    def to_dict(self) -> dict:
        return asdict(self)


def training_tasks(sources: Sequence[str], holdout: Sequence[str] = (), min_shared_cells: int = 9) -> tuple[list[Task], DataReport]:
    """Pretraining tasks (test pairs folded into train) minus any that overlaps `holdout` (see module doc)."""
    held_ids: set[str] = set()
    held_pairs: set[Pair] = set()
    held_grids: set[Grid] = set()
    for name in holdout:
        for task in load_challenges(name).tasks:
            held_ids.add(task.id)
            pairs = task_pairs(task)
            held_pairs.update(pairs)
            held_grids.update(g for g in _grids(pairs) if len(g) * len(g[0]) > min_shared_cells)
    report = DataReport()
    kept: list[Task] = []
    seen: set[frozenset] = set()
    for name in sources:
        loaded = load_challenges(name)
        if not all(t.has_solutions for t in loaded.tasks):
            raise PretrainError(f"{name}: pretraining needs the test outputs of every task")
        report.per_source[name] = 0
        for task in loaded.tasks:
            pairs = task_pairs(task)
            if task.id in held_ids or held_pairs.intersection(pairs) or held_grids.intersection(_grids(pairs)):
                report.excluded.setdefault(name, []).append(task.id)
                continue
            key = frozenset(pairs)
            if key in seen:
                report.duplicates += 1
                continue
            seen.add(key)
            kept.append(Task(task.id, pairs, ()))
            report.per_source[name] += 1
    report.kept = len(kept)
    if not kept:
        raise PretrainError(f"no pretraining task left from {list(sources)} after excluding {list(holdout)}")
    return kept, report


def augmented_example(vocab: Vocab, task: Task, rng: random.Random, max_tokens: int, keep_background: bool) -> Encoded | None:
    """One random view of `task` (dihedral, colours, pair order) encoded with labels on every output grid;
    None when not even its first pair fits `max_tokens`."""
    aug = random_augmentation(rng, len(task.train), keep_background)
    try:
        return encode_train(vocab, apply_task(aug, task), max_tokens, loss_on_first=True)
    except EncodingError:
        return None


def length_batches(examples: list[Encoded], batch_tokens: int, rng: random.Random) -> list[list[Encoded]]:
    """Sort by length and cut into batches whose padded size (count x longest) stays within `batch_tokens`;
    the batches come back shuffled."""
    batches: list[list[Encoded]] = []
    current: list[Encoded] = []
    for ex in sorted(examples, key=lambda e: len(e.ids)):
        if current and (len(current) + 1) * len(ex.ids) > batch_tokens:
            batches.append(current)
            current = []
        current.append(ex)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def collate(batch: Sequence[Encoded], pad: int) -> tuple[Any, Any]:
    """Right-padded (ids, labels) tensors. Causal attention never lets a real token see the padding
    after it, so no attention mask is needed."""
    import torch

    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)  # (B, T)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)  # (B, T)
    for row, ex in enumerate(batch):
        ids[row, : len(ex.ids)] = torch.tensor(ex.ids)
        labels[row, : len(ex.labels)] = torch.tensor(ex.labels)
    return ids, labels


def batch_stream(tasks: Sequence[Task], cfg: PretrainConfig, seed: str) -> Iterator[tuple[Any, Any]]:
    """Endless (ids, labels) batches of fresh augmentations, deterministic in `seed`."""
    vocab = Vocab.from_tokenizer(build_arc_tokenizer())
    rng = random.Random(seed)
    while True:
        drawn = (augmented_example(vocab, rng.choice(tasks), rng, cfg.max_tokens, cfg.keep_background) for _ in range(cfg.bucket))
        for batch in length_batches([e for e in drawn if e is not None], cfg.batch_tokens, rng):
            yield collate(batch, vocab.pad)


def _loader(tasks: Sequence[Task], cfg: PretrainConfig, seed: str) -> Iterator[tuple[Any, Any]]:
    """`batch_stream` in the training process, or spread over `cfg.workers` DataLoader processes."""
    if cfg.workers == 0:
        return batch_stream(tasks, cfg, seed)
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class Stream(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            return batch_stream(tasks, cfg, f"{seed}:{info.id if info else 0}")

    # fork: the workers inherit `tasks` instead of unpickling them (they never touch CUDA)
    return iter(DataLoader(Stream(), batch_size=None, num_workers=cfg.workers, pin_memory=torch.cuda.is_available(), prefetch_factor=4,
                           multiprocessing_context="fork"))


# ---------------------------------------------------------------- model and loss


def output_loss(model: Any, ids: Any, labels: Any) -> Any:
    """Mean cross-entropy over labelled positions; logits only where a label exists.

    model: a HF causal LM; ids, labels: (B, T) long tensors on its device."""
    import torch.nn.functional as F

    hidden = model.get_decoder()(input_ids=ids).last_hidden_state  # (B, T, H)
    targets = labels[:, 1:]  # (B, T-1): token t+1 is predicted from position t
    mask = targets != IGNORE  # (B, T-1)
    picked = hidden[:, :-1][mask]  # (N, H)
    logits = model.get_output_embeddings()(picked).float()  # (N, V)
    return F.cross_entropy(logits, targets[mask])


def lr_factor(step: int, progress: float, cfg: PretrainConfig) -> float:
    """Linear warm-up over `warmup_steps`, then cosine from 1 to `min_lr_ratio` as progress goes 0 -> 1."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return warm * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def _optimizer(model: Any, cfg: PretrainConfig) -> Any:
    import torch

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in named if p.ndim == 2 and "embed" not in n]
    rest = [p for n, p in named if not (p.ndim == 2 and "embed" not in n)]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), fused=torch.cuda.is_available() and next(model.parameters()).is_cuda)


# ---------------------------------------------------------------- checkpoints


def _optimizer_tensors(opt: Any) -> tuple[dict, list]:
    """AdamW state as flat tensors `<param index>.<name>` plus the JSON-ready param groups."""
    sd = opt.state_dict()
    flat = {f"{idx}.{name}": value.detach().cpu().contiguous().reshape(-1) if value.ndim == 0 else value.detach().cpu().contiguous()
            for idx, state in sd["state"].items() for name, value in state.items()}
    return flat, sd["param_groups"]


def _load_optimizer(opt: Any, flat: dict, groups: list, device: Any) -> None:
    state: dict[int, dict] = {}
    for key, value in flat.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value.reshape(()) if name == "step" else value.to(device)
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(ckpt: Path, model: Any, opt: Any, state: dict) -> None:
    """fp32 weights, optimizer state and `state.json`, each written to a temporary name then renamed,
    so an interrupted save leaves the previous checkpoint usable."""
    from safetensors.torch import save_file

    ckpt.mkdir(parents=True, exist_ok=True)
    flat, groups = _optimizer_tensors(opt)
    weights = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    for name, tensors in (("model.safetensors", weights), ("optimizer.safetensors", flat)):
        save_file(tensors, str(ckpt / f"{name}.tmp"), metadata={"format": "pt"})
    (ckpt / "state.json.tmp").write_text(json.dumps({**state, "param_groups": groups}, indent=1))
    for name in ("model.safetensors", "optimizer.safetensors", "state.json"):
        (ckpt / f"{name}.tmp").replace(ckpt / name)


def load_checkpoint(ckpt: Path, model: Any, opt: Any) -> dict:
    """Restore weights and optimizer state in place; returns the saved state (without param groups)."""
    from safetensors.torch import load_file

    device = next(model.parameters()).device
    try:
        state = json.loads((ckpt / "state.json").read_text())
        model.load_state_dict(load_file(str(ckpt / "model.safetensors"), device=str(device)))
        _load_optimizer(opt, load_file(str(ckpt / "optimizer.safetensors")), state.pop("param_groups"), device)
    except (OSError, json.JSONDecodeError, KeyError, RuntimeError) as err:
        raise PretrainError(f"{ckpt}: cannot resume from this checkpoint ({type(err).__name__}: {err})") from None
    return state


# ---------------------------------------------------------------- model directory and card


def shard_weights(weights: dict[str, Any], max_bytes: int) -> list[dict[str, Any]]:
    """Split tensors, in order, into groups of at most `max_bytes` (a larger single tensor gets its own group)."""
    shards: list[dict[str, Any]] = [{}]
    size = 0
    for name, tensor in weights.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    return shards


def export_model(out: Path, model: Any, dtype: str, shard_mib: float = 15.0) -> None:
    """Write `config.json`, the weights (in `dtype`) and the tokenizer: a directory `load_base` reads.

    Weights up to `shard_mib` go to `model.safetensors`; more are split, as `save_pretrained` does, into
    `model-0000i-of-0000n.safetensors` plus `model.safetensors.index.json`. Weight files of an earlier
    export that the new one does not use are removed, so a loader never picks a stale one."""
    import torch
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().to(getattr(torch, dtype)).cpu().contiguous() for k, v in model.state_dict().items()}
    shards = shard_weights(weights, int(shard_mib * 2**20))
    n = len(shards)
    names = [WEIGHTS] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
    for name, shard in zip(names, shards):
        save_file(shard, str(out / f"{name}.tmp"), metadata={"format": "pt"})
    if n > 1:
        index = {"metadata": {"total_size": sum(t.numel() * t.element_size() for t in weights.values())},
                 "weight_map": {k: name for name, shard in zip(names, shards) for k in shard}}
        (out / f"{WEIGHTS_INDEX}.tmp").write_text(json.dumps(index, indent=1))
        names.append(WEIGHTS_INDEX)
    for name in names:
        (out / f"{name}.tmp").replace(out / name)
    for stale in [*out.glob("model*.safetensors"), out / WEIGHTS_INDEX]:
        if stale.exists() and stale.name not in names:
            stale.unlink()
    config = copy.deepcopy(model.config)
    config.dtype = dtype
    config.use_cache = True  # training turns the KV cache off; generation needs it
    config.save_pretrained(out)
    build_arc_tokenizer().save_pretrained(out)


def write_loss_log(out: Path, rows: list[dict]) -> None:
    """`loss.csv` (one row per logged step) and `loss.png` when matplotlib is installed."""
    if not rows:
        return
    with (out / LOSS_CSV).open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["tokens"] / 1e6 for r in rows], [r["loss"] for r in rows])
    ax.set_xlabel("tokens seen (millions)")
    ax.set_ylabel("output-token loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=100)
    plt.close(fig)


def model_card(cfg: PretrainConfig, state: dict, params: int) -> str:
    """The model card (README.md) from the config and the training state."""
    data = state["data"]
    excluded = {k: len(v) for k, v in data["excluded"].items()}
    sessions = "\n".join(f"- `{s['command']}` ({s['device']}, {s.get('processes', 1)} process(es), {s['steps']} steps, {s['seconds']:.0f} s)"
                         for s in state["sessions"])
    final = state.get("final_loss")
    start = state.get("init_from")
    origin = f"from the weights of `{start}` (fresh optimizer and schedule)" if start else "from random weights"
    procs = sorted({s.get("processes", 1) for s in state["sessions"]})
    return f"""# {Path(cfg.out).name}

A {params / 1e6:.2f}M-parameter Llama-shaped causal LM with the 16-token ARC vocabulary
(`tasks_lib.encoding`), pretrained {origin} by `tasks_lib/pretrain.py` (every weight trained,
loss on output-grid tokens only) to be the base model for per-task LoRA training in arc-ttt.

## Data
- Sources: {", ".join(cfg.sources)}; each task's test pairs are used as extra train pairs.
- Held out: {", ".join(cfg.holdout) or "nothing"}. A source task is dropped when it shares an id, an (input, output)
  pair, or a grid of more than {cfg.min_shared_cells} cells with a held-out task. Dropped: {excluded or "none"}.
  Exact duplicates across sources kept once (dropped {data["duplicates"]}).
- Kept: {data["kept"]} tasks ({data["per_source"]}).
- Each example is a fresh random view: one of 8 dihedral transforms, a colour permutation
  ({"background kept" if cfg.keep_background else "background permuted too"}), shuffled pair order; sequences
  up to {cfg.max_tokens} tokens (trailing pairs dropped beyond that).

## Size
hidden {cfg.hidden}, {cfg.layers} layers, {cfg.heads} heads (head_dim {cfg.hidden // cfg.heads}), MLP {cfg.intermediate},
RoPE up to {cfg.max_tokens} positions; {params:,} parameters; weights stored as {cfg.export_dtype}.

## Training
- AdamW (betas 0.9/0.95, weight decay {cfg.weight_decay} on matrices), peak lr {cfg.lr}, {cfg.warmup_steps} warm-up
  steps, cosine to {cfg.lr * cfg.min_lr_ratio:g}; about {cfg.batch_tokens} padded tokens per step and process, bf16 autocast on GPU.
- Data-parallel processes (GPUs on CUDA; gradients averaged every step, each with its own random views): {", ".join(map(str, procs))}.
- Steps: {state["step"]}; tokens seen, summed over processes: {state["tokens"]:,} ({state["label_tokens"]:,} of them output tokens with loss);
  training time {state["train_seconds"]:.0f} s.
- Final loss (mean of the last logged rows): {"n/a" if final is None else f"{final:.4f}"}. Curve: `loss.csv`, `loss.png`.
- Finished: {"yes" if state["done"] else "no (resume with the same command)"}.

## Commands that made it
{sessions}
"""


# ---------------------------------------------------------------- training loop


@dataclass
class PretrainResult:
    out: str
    steps: int
    tokens: int
    final_loss: float | None
    done: bool
    params: int
    seconds: float


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _describe_device(device: str) -> str:
    import torch

    return torch.cuda.get_device_name() if device == "cuda" else "cpu"


def parameter_count(cfg: PretrainConfig) -> int:
    """Parameters of the model `cfg` describes, counted as `pretrain` counts them (built on the meta device)."""
    import torch
    from transformers import LlamaForCausalLM

    from tasks_lib.model import tiny_config

    with torch.device("meta"):
        model = LlamaForCausalLM(tiny_config(cfg.hidden, cfg.layers, cfg.heads, cfg.intermediate, cfg.max_tokens))
    return sum(p.numel() for p in model.parameters())


def stream_seed(cfg: PretrainConfig, step: int, rank: int, world: int) -> str:
    """The batch stream's seed: a resumed session draws new views, and every process its own."""
    return f"{cfg.seed}:{step}" if world == 1 else f"{cfg.seed}:{step}:rank{rank}"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pretrain(cfg: PretrainConfig, command: str = "", log: Callable[[str], None] = print) -> PretrainResult:
    """Train (or resume) the model at `cfg.out` until the session or the whole run is over (see module doc).

    With `world_size` > 1 this starts that many processes (one per GPU) and waits for them; under
    torchrun (RANK and WORLD_SIZE set) it is one of them. Only rank 0 logs (with `print` in started
    processes) and writes."""
    started = time.time()
    for key, value in MULTICAST_OFF.items():
        os.environ.setdefault(key, value)
    if cfg.world_size == 1 or "RANK" in os.environ:
        return _train(cfg, command, log, started)
    import torch
    import torch.multiprocessing as mp

    if _device(cfg.device) == "cuda" and torch.cuda.device_count() < cfg.world_size:
        raise PretrainError(f"world_size={cfg.world_size} but only {torch.cuda.device_count()} GPU(s) are visible")
    log(f"pretrain: starting {cfg.world_size} processes")
    mp.spawn(_rank_main, args=(cfg, command, _free_port(), started), nprocs=cfg.world_size, join=True)
    return _result(cfg, json.loads((Path(cfg.out) / CHECKPOINT / "state.json").read_text()))


def _rank_main(rank: int, cfg: PretrainConfig, command: str, port: int, started: float) -> None:
    """One started process: the torchrun environment for `rank`, then `_train`."""
    for key, value in MULTICAST_OFF.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # the started processes share one host: gloo stays on loopback
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "LOCAL_RANK": str(rank),
                       "WORLD_SIZE": str(cfg.world_size)})
    _train(cfg, command, print, started)


class _Group:
    """The process group as this module uses it: broadcasts and sums of a few floats (on a CPU gloo group,
    so no GPU sync), and a barrier. With one process every call is the identity."""

    def __init__(self, device: str, threads: int, workers: int) -> None:
        import torch
        import torch.distributed as dist

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local = int(os.environ.get("LOCAL_RANK", str(self.rank)))
        self.control = None
        if self.world == 1:
            if threads:
                torch.set_num_threads(threads)
            return
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(self.world)))
        torch.set_num_threads(threads or max(1, cores // local_world // (1 + workers)))  # DataLoader workers take 1 each
        if device == "cuda":
            torch.cuda.set_device(self.local)
        dist.init_process_group("nccl" if device == "cuda" else "gloo", rank=self.rank, world_size=self.world,
                                timeout=timedelta(minutes=10))
        self.control = dist.new_group(backend="gloo") if device == "cuda" else dist.group.WORLD

    def broadcast(self, values: list[float]) -> list[float]:
        """Rank 0's `values` on every rank."""
        if self.world == 1:
            return values
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64)
        dist.broadcast(tensor, src=0, group=self.control)
        return tensor.tolist()

    def total(self, values: list[float]) -> list[float]:
        """`values` summed over ranks."""
        if self.world == 1:
            return values
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(tensor, group=self.control)
        return tensor.tolist()

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier(group=self.control)

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def _initial_weights(cfg: PretrainConfig, ckpt: Path) -> None:
    """The starting model at `ckpt`: random weights, or those of `cfg.init_from` (shape checked)."""
    from tasks_lib.model import build_tiny_model

    if not cfg.init_from:
        build_tiny_model(ckpt, cfg.hidden, cfg.layers, cfg.heads, cfg.intermediate, cfg.max_tokens, cfg.seed)
        return
    import torch
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(cfg.init_from, local_files_only=True, use_safetensors=True, dtype=torch.float32)
    except (OSError, ValueError) as err:
        raise PretrainError(f"init_from={cfg.init_from}: cannot load ({type(err).__name__}: {err})") from None
    c = model.config
    found = {"hidden": c.hidden_size, "layers": c.num_hidden_layers, "heads": c.num_attention_heads, "intermediate": c.intermediate_size}
    if found != cfg.shape:
        raise PretrainError(f"init_from={cfg.init_from}: shape {found} differs from the config's {cfg.shape}")
    model.config.use_cache = False
    model.save_pretrained(ckpt, safe_serialization=True)
    build_arc_tokenizer().save_pretrained(ckpt)


def _loss_module(model: Any, device: str, group: _Group) -> Callable[[Any, Any], Any]:
    """`output_loss` on `model`; with several processes through DistributedDataParallel, which
    averages the gradients during backward."""
    if group.world == 1:
        return lambda ids, labels: output_loss(model, ids, labels)
    import torch
    from torch.nn.parallel import DistributedDataParallel

    class OutputLoss(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: Any, labels: Any) -> Any:
            return output_loss(self.model, ids, labels)

    return DistributedDataParallel(OutputLoss(), device_ids=[group.local] if device == "cuda" else None)


def _train(cfg: PretrainConfig, command: str, log: Callable[[str], None], started: float) -> PretrainResult:
    """The training loop of one process (the only one, or a rank of `world_size`); `started`: when the call
    began, the origin of `wall_seconds`."""
    import torch
    from transformers import AutoModelForCausalLM

    out = Path(cfg.out)
    ckpt = out / CHECKPOINT
    device = _device(cfg.device)
    group = _Group(device, cfg.threads, cfg.workers)
    rank0 = group.rank == 0
    if not rank0:
        log = _quiet
    tasks, report = training_tasks(cfg.sources, cfg.holdout, cfg.min_shared_cells)
    resume = (ckpt / "state.json").exists()
    group.barrier()  # every rank has seen whether a checkpoint exists before rank 0 writes one
    if rank0 and not resume:
        _initial_weights(cfg, ckpt)
    group.barrier()
    model = AutoModelForCausalLM.from_pretrained(ckpt, local_files_only=True, use_safetensors=True, dtype=torch.float32).to(device)
    model.config.use_cache = False
    params = sum(p.numel() for p in model.parameters())
    opt = _optimizer(model, cfg)
    state: dict[str, Any] = {"step": 0, "tokens": 0, "label_tokens": 0, "train_seconds": 0.0, "done": False, "sessions": [], "loss": [],
                             "config": asdict(cfg), "data": report.to_dict(), "final_loss": None, "params": params,
                             "init_from": cfg.init_from}
    if resume:
        saved = load_checkpoint(ckpt, model, opt)
        if saved["config"].get("hidden") != cfg.hidden or saved["config"].get("layers") != cfg.layers:
            raise PretrainError(f"{ckpt}: checkpoint shape {saved['config']} differs from the config's {cfg.shape}")
        state.update({k: saved[k] for k in ("step", "tokens", "label_tokens", "train_seconds", "sessions", "loss", "final_loss")})
        state["init_from"] = saved.get("init_from", "")
    name = _describe_device(device)
    session = {"command": command, "device": f"{group.world}x {name}" if group.world > 1 else name, "processes": group.world,
               "steps": 0, "seconds": 0.0}
    state["sessions"].append(session)
    start = "resuming at step " + str(state["step"]) if resume else (f"from {cfg.init_from}" if cfg.init_from else "from scratch")
    log(f"pretrain: {len(tasks)} tasks {report.per_source}, excluded {({k: len(v) for k, v in report.excluded.items()})}, "
        f"{params / 1e6:.2f}M params on {session['device']} ({group.world} process(es)), {start}")
    batches = _loader(tasks, cfg, stream_seed(cfg, state["step"], group.rank, group.world))
    loss_of = _loss_module(model, device, group)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", enabled=False)
    params_list = [p for p in model.parameters() if p.requires_grad]
    pad = Vocab.from_tokenizer(build_arc_tokenizer()).pad
    model.train()
    session_start = time.time()
    last_ckpt = time.time()
    window: list[Any] = []
    pending = [0, 0]  # this rank's (tokens, labelled tokens) not yet added to the summed counts
    window_tokens = 0
    window_start = time.time()
    save_seconds = 5.0  # wall time kept for the last save: twice the longest save so far, at least this

    def add_pending() -> None:
        """Add every rank's new token counts to the state (a collective: all ranks call it together)."""
        tokens, labelled = group.total([float(pending[0]), float(pending[1])])
        state["tokens"] += int(tokens)
        state["label_tokens"] += int(labelled)
        pending[0] = pending[1] = 0

    while True:
        progress = max(state["step"] / cfg.max_steps if cfg.max_steps else 0.0, state["train_seconds"] / cfg.max_seconds if cfg.max_seconds else 0.0)
        # rank 0's clock decides for everyone, so every rank runs the same steps with the same lr
        out_of_wall = bool(cfg.wall_seconds) and time.time() - started + save_seconds >= cfg.wall_seconds
        progress, done, stop, save = group.broadcast([progress, float(progress >= 1.0), float(session["seconds"] >= cfg.session_seconds or out_of_wall),
                                                      float(time.time() - last_ckpt >= cfg.checkpoint_seconds)])
        if done or stop:
            state["done"] = bool(done)
            break
        if save:
            saving = time.time()
            add_pending()
            if rank0:
                _save_all(cfg, out, ckpt, model, opt, state, params)
                save_seconds = max(save_seconds, 2 * (time.time() - saving))
            last_ckpt = time.time()
        t0 = time.time()
        ids, labels = next(batches)  # (B, T), (B, T) on the CPU
        real = int((ids != pad).sum())  # tokens without padding, counted before the copy (no device sync)
        pending[0] += real
        pending[1] += int((labels != IGNORE).sum())
        ids, labels = ids.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * lr_factor(state["step"], progress, cfg)
        with autocast:
            loss = loss_of(ids, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params_list, 1.0)
        opt.step()
        window.append(loss.detach())
        state["step"] += 1
        window_tokens += real
        if state["step"] % cfg.log_every == 0:
            mean, tokens = group.total([float(torch.stack(window).mean()), float(window_tokens)])  # one host sync per logged row
            value = mean / group.world
            add_pending()
            if not math.isfinite(value):
                raise FloatingPointError(f"pretrain: loss is {value} at step {state['step']}")
            rate = tokens / max(time.time() - window_start, 1e-9)
            state["loss"].append({"step": state["step"], "tokens": state["tokens"], "loss": round(value, 5),
                                  "lr": round(opt.param_groups[0]["lr"], 8), "train_seconds": round(state["train_seconds"], 1)})
            log(f"step {state['step']} loss {value:.4f} lr {opt.param_groups[0]['lr']:.2e} {rate / 1e3:.0f}k tok/s progress {progress:.3f}")
            window, window_tokens, window_start = [], 0, time.time()
        elapsed = time.time() - t0
        state["train_seconds"] += elapsed
        session["seconds"] += elapsed
        session["steps"] += 1
    add_pending()
    if rank0:
        _save_all(cfg, out, ckpt, model, opt, state, params)
        log(f"pretrain: {'done' if state['done'] else 'paused'} at step {state['step']}, {state['tokens']:,} tokens, "
            f"final loss {state['final_loss']}, session {time.time() - session_start:.0f} s")
    group.barrier()  # the others wait for rank 0's last save
    group.close()
    return _result(cfg, state)


def _quiet(_: str) -> None:
    """The log of ranks other than 0."""


def _save_all(cfg: PretrainConfig, out: Path, ckpt: Path, model: Any, opt: Any, state: dict, params: int) -> None:
    tail = [r["loss"] for r in state["loss"][-5:]]
    state["final_loss"] = round(sum(tail) / len(tail), 5) if tail else None
    save_checkpoint(ckpt, model, opt, state)
    export_model(out, model, cfg.export_dtype, cfg.shard_mib)
    write_loss_log(out, state["loss"])
    (out / "README.md").write_text(model_card(cfg, state, params))


def _result(cfg: PretrainConfig, state: dict) -> PretrainResult:
    return PretrainResult(cfg.out, state["step"], state["tokens"], state["final_loss"], state["done"], state["params"], state["train_seconds"])


# ---------------------------------------------------------------- probe: what the base model solves


def probe_subset(name: str, max_task_tokens: int, count: int) -> list[Task]:
    """A fixed subset of a bundled set: tasks whose whole encoding (train pairs, test input and output)
    fits `max_task_tokens`, sorted by id, the first `count`."""
    vocab = Vocab.from_tokenizer(build_arc_tokenizer())
    small = []
    for task in sorted(load_challenges(name).tasks, key=lambda t: t.id):
        size = 1 + sum(len(vocab.grid_ids(g)) + 3 for p in task_pairs(task) for g in (p.input, p.output))
        if size <= max_task_tokens:
            small.append(task)
    return small[:count]


def probe(model_dir: str, tasks: Sequence[Task], modes: dict[str, dict], views: int = 2, lora_rank: int = 8,
          max_tokens: int = 4096, seconds_per_task: float = 30.0, total_seconds: float = 0.0, device: str = "auto",
          log: Callable[[str], None] = print) -> dict:
    """Solve `tasks` with the base model at `model_dir` once per mode and score them.

    `modes` maps a name to TrainConfig fields (`{"max_steps": 0}` is no per-task training). Every task
    starts from a freshly reset adapter; sampling is greedy over `views` augmented views, voted by count.
    Each task runs every mode before the next task starts, and no task starts after `total_seconds`
    (0: no limit), so all modes are scored on the same tasks."""
    from tasks_lib.config import ModelConfig, SampleConfig, TrainConfig
    from tasks_lib.model import load_base
    from tasks_lib.sample import sample_task
    from tasks_lib.scoring import correct
    from tasks_lib.train import train_adapter
    from tasks_lib.vote import attempts, fallback_grids, rank

    t_start = time.time()
    device = _device(device)
    res = load_base(ModelConfig(path=str(Path(model_dir).resolve()), lora_rank=lora_rank, max_tokens=max_tokens), device)
    sample_cfg = SampleConfig(views=views, samples_per_view=1)
    train_cfgs = {name: replace(TrainConfig(), **fields) for name, fields in modes.items()}
    rows: dict[str, list[dict]] = {name: [] for name in modes}
    for train_cfg in train_cfgs.values():  # untimed warm-up: one-off costs (kernel compilation) stay out of every task's budget
        if tasks and train_cfg.max_steps:
            res.reset(train_cfg.seed)
            train_adapter(res, tasks[0], replace(train_cfg, max_steps=2), max_tokens, time.time() + 600)
    t_start = time.time()
    for task in tasks:
        if total_seconds and time.time() - t_start > total_seconds:
            break
        for name, train_cfg in train_cfgs.items():
            t0 = time.time()
            res.reset(train_cfg.seed, task.id)
            stats = train_adapter(res, task, train_cfg, max_tokens, t0 + seconds_per_task / 2)
            cands, _ = sample_task(res, task, sample_cfg, max_tokens, t0 + seconds_per_task)
            outputs = [p.output for p in task.train]
            tries = [attempts(rank(c), fallback_grids(x, outputs)) for c, x in zip(cands, task.test_inputs)]
            ok = correct([{"attempt_1": [list(r) for r in a], "attempt_2": [list(r) for r in b]} for a, b in tries], task.test_outputs)
            rows[name].append({"id": task.id, "correct": ok, "steps": stats.steps, "seconds": round(time.time() - t0, 2),
                               "first_loss": stats.first_loss, "last_loss": stats.last_loss})
    report: dict[str, Any] = {"model": model_dir, "device": _describe_device(device), "views": views, "lora_rank": lora_rank,
                              "tasks_asked": len(tasks), "tasks_done": len(rows[next(iter(modes))]) if modes else 0, "modes": {}}
    for name, mode_rows in rows.items():
        solved = sum(sum(r["correct"]) for r in mode_rows)
        total = sum(len(r["correct"]) for r in mode_rows)
        report["modes"][name] = {"train": asdict(train_cfgs[name]), "solved_outputs": solved, "total_outputs": total,
                                 "tasks_solved": [r["id"] for r in mode_rows if all(r["correct"])],
                                 "seconds": round(sum(r["seconds"] for r in mode_rows), 1), "rows": mode_rows}
        log(f"probe {name}: {solved}/{total} test outputs solved on {len(mode_rows)} tasks in {report['modes'][name]['seconds']:.0f} s "
            f"{report['modes'][name]['tasks_solved']}")
    return report


def step_time(model_dirs: Sequence[str], sizes: Sequence[int], steps: int = 3, threads: int = 1, lora_rank: int = 8,
              device: str = "cpu", log: Callable[[str], None] = print) -> list[dict]:
    """Seconds per per-task LoRA step (`train_adapter`, the pipeline's own step) of each model on real
    ARC-AGI-1 evaluation tasks whose train sequence is closest to each of `sizes` tokens; models are
    interleaved per size so a busy machine slows them alike. One warm-up step per model is not timed."""
    import torch

    from tasks_lib.config import ModelConfig, TrainConfig
    from tasks_lib.model import load_base
    from tasks_lib.train import train_adapter

    torch.set_num_threads(threads)
    vocab = Vocab.from_tokenizer(build_arc_tokenizer())
    sized = [(len(encode_train(vocab, t, 1 << 16).ids), t) for t in load_challenges("arc1/eval").tasks]
    residents = {d: load_base(ModelConfig(path=str(Path(d).resolve()), dtype="float32", lora_rank=lora_rank, max_tokens=max(sizes) * 2), device)
                 for d in model_dirs}
    for res in residents.values():
        train_adapter(res, sized[0][1], TrainConfig(max_steps=1), max(sizes) * 2, time.time() + 600)
    rows = []
    for size in sizes:
        tokens, task = min(sized, key=lambda x: abs(x[0] - size))
        for name, res in residents.items():
            res.reset(0, task.id)
            stats = train_adapter(res, task, TrainConfig(max_steps=steps, lr=1e-3), max(sizes) * 2, time.time() + 600)
            rows.append({"model": name, "task": task.id, "tokens": tokens, "steps": stats.steps,
                         "seconds_per_step": round(stats.seconds / max(1, stats.steps), 3), "threads": threads})
            log(f"{name}: {tokens} tokens ({task.id}) {rows[-1]['seconds_per_step']} s/step over {stats.steps} steps, {threads} thread(s)")
    return rows


# ---------------------------------------------------------------- command line


def _parse_modes(specs: Sequence[str]) -> dict[str, dict]:
    """`name:steps:lr[:seed]` strings to probe modes."""
    modes = {}
    for spec in specs:
        parts = spec.split(":")
        if len(parts) not in (3, 4):
            raise ValueError(f"probe mode {spec!r}: expected name:steps:lr or name:steps:lr:seed")
        modes[parts[0]] = {"max_steps": int(parts[1]), "lr": float(parts[2]), **({"seed": int(parts[3])} if len(parts) == 4 else {})}
    return modes


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


def add_probe_arguments(parser: Any) -> None:
    parser.add_argument("--probe-json", help="probe the model and write the report here")
    parser.add_argument("--probe-set", default="arc1/eval")
    parser.add_argument("--probe-max-tokens", type=int, default=2048, help="subset: tasks whose whole encoding fits this")
    parser.add_argument("--probe-count", type=int, default=40)
    parser.add_argument("--probe-ids", nargs="*", default=[], help="these task ids instead of the size-filtered subset")
    parser.add_argument("--probe-modes", nargs="*", default=["none:0:0.001", "ttt:32:0.003"], help="name:steps:lr[:seed]")
    parser.add_argument("--probe-views", type=int, default=2)
    parser.add_argument("--probe-seconds", type=float, default=30.0, help="per task and mode")
    parser.add_argument("--probe-total-seconds", type=float, default=0.0, help="start no task after this (0: no limit)")


def probe_from_args(model_dir: str, args: Any) -> dict:
    """Run `probe` as the command-line flags say; writes `--probe-json` when given."""
    if args.probe_ids:
        subset = [t for t in load_challenges(args.probe_set).tasks if t.id in set(args.probe_ids)]
    else:
        subset = probe_subset(args.probe_set, args.probe_max_tokens, args.probe_count)
    rep = probe(model_dir, subset, _parse_modes(args.probe_modes), views=args.probe_views,
                seconds_per_task=args.probe_seconds, total_seconds=args.probe_total_seconds)
    rep["subset"] = {"set": args.probe_set, "ids": args.probe_ids, "max_task_tokens": args.probe_max_tokens, "count": args.probe_count}
    if args.probe_json:
        Path(args.probe_json).write_text(json.dumps(rep, indent=1))
    return rep


def main(argv: list[str] | None = None) -> None:
    """`python -m tasks_lib.pretrain train --out DIR ...` and `python -m tasks_lib.pretrain probe DIR ...`."""
    import argparse
    import shlex
    import sys

    parser = argparse.ArgumentParser(prog="python -m tasks_lib.pretrain")
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="pretrain (or resume) a base model; with --probe-json, probe it afterwards")
    add_config_arguments(t)
    p = sub.add_parser("probe", help="score a model on a fixed subset with and without per-task training")
    p.add_argument("model")
    for q in (t, p):
        add_probe_arguments(q)
    st = sub.add_parser("step-time", help="seconds per per-task LoRA step of each model on real tasks of given sizes")
    st.add_argument("models", nargs="+")
    st.add_argument("--tokens", type=int, nargs="+", default=[1024, 2048, 4096])
    st.add_argument("--steps", type=int, default=3)
    st.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.cmd == "step-time":
        step_time(args.models, args.tokens, args.steps, args.threads)
        return
    if args.cmd == "train":
        cfg = config_from_dict({f: getattr(args, f) for f in PretrainConfig.__dataclass_fields__})
        pretrain(cfg, "python -m tasks_lib.pretrain " + shlex.join(sys.argv[1:] if argv is None else argv))
        if args.probe_json:
            probe_from_args(cfg.out, args)
    else:
        probe_from_args(args.model, args)


if __name__ == "__main__":
    main()
