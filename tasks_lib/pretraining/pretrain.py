"""Pretraining the embedded base model on augmented ARC training data.

Contract:
- `pretrain(cfg, command)` trains every weight of a Llama-shaped model with the ARC vocabulary (`positions`
  "grid": an `arc_grid` model whose rotary positions are each token's grid, line and column; "1d": plain Llama)
  on fresh random augmentations of the tasks `tasks_lib.pretraining.pretrain_data` gives (the ARC training sets and, with
  `generated` > 0, procedurally generated tasks, and with `rule_tasks` > 0, fresh tasks of the training tasks' own
  rules from `tasks_lib.pretraining.rule_tasks`; the evaluation sets held out by content), loss on output tokens
  only (`tasks_lib.arc.encoding` layout).
- It is resumable: a full checkpoint (fp32 weights, AdamW state, `state.json`) is written every
  `checkpoint_seconds` and when the session ends, and a later call with the same `out` carries on where it
  stopped. Beside the export it also writes a compact optimizer state (`tasks_lib.pretraining.checkpoint.save_compact`), so a
  run whose full checkpoint stayed on another machine resumes from the exported directory alone (weights at the
  export's precision). The learning-rate schedule (`tasks_lib.pretraining.schedule`) is `cosine`, one planned run
  whose progress = max(steps / max_steps, train seconds / max_seconds) is summed over sessions (a run split into
  sessions of at most `session_seconds`, e.g. 10-minute GPU leases, ends where one long run would), or `wsd`, a run
  that keeps going: each session warms up from the lr the previous one ended at, holds the peak, and decays over
  the last `decay_fraction` of its own training budget (`session_seconds`, or less where `max_seconds` or
  `wall_seconds` leave less), so every session's last export is decayed and a larger (or no) `max_seconds` extends
  the run. `schedule` auto keeps a resumed run's recorded schedule and gives a fresh run wsd. The state records
  per session whether it ended decayed, and the run's training seconds and GPU-seconds (training seconds x
  processes) over all sessions. `init_from` starts a new run (no checkpoint at `out` yet) from an exported model
  directory's weights, with a fresh optimizer and schedule.
- Data parallel: `world_size` N > 1 runs N processes (one command: it starts them; or one per torchrun
  rank), one per GPU over NCCL, or on the CPU over gloo. Gradients are averaged every step; each rank
  draws its own random views (seeded by rank); rank 0's clock decides the learning rate, checkpoints and the stop
  for every rank (its training seconds and wall time left are broadcast each step, so no rank waits alone in a
  collective, and every rank computes the same lr from them); only rank 0 logs and writes. NVLink multicast stays
  off (`MULTICAST_OFF` is set unless already set).
- With `heldout_views` > 0, every checkpoint first measures the loss on fixed views of the `holdout` sets' outputs
  (`tasks_lib.pretraining.heldout`; rank 0, no gradients) and keeps it in the state's `heldout` rows (step, GPU-seconds
  so far, set, loss) and the card, so runs and shapes compare at equal compute.
- Every checkpoint also refreshes the model directory at `out` (`tasks_lib.pretraining.checkpoint.export_model`: config,
  weights in `export_dtype` in shards of at most `shard_mib`, tokenizer, `loss.csv`, `loss.png`, model card).
- `parameter_count(cfg)` counts a config's parameters without building its weights.
- `step_time(model_dirs, sizes)` times the pipeline's per-task LoRA step of each model on real tasks.
What a model solves is measured on the product path (`flows/evaluate.py`), not here.
Its settings are `tasks_lib.pretraining.config`, its processes `tasks_lib.pretraining.group`. This module never
imports Prefect; `flows/pretrain.py` wraps it.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from tasks_lib.arc.data import load_challenges
from tasks_lib.arc.encoding import IGNORE, Vocab, build_arc_tokenizer, encode_train
from tasks_lib.pretraining.checkpoint import (
    CHECKPOINT,
    COMPACT_STATE,
    export_model,
    hand_written,
    load_checkpoint,
    load_compact,
    model_card,
    save_checkpoint,
    save_compact,
    session_starts,
    write_loss_log,
)
from tasks_lib.pretraining.config import PretrainConfig, PretrainError, PretrainResult, add_config_arguments, config_from_dict
from tasks_lib.pretraining.group import MULTICAST_OFF, Group, free_port
from tasks_lib.pretraining.pretrain_data import GENERATED_PREFIX, loader, training_tasks
from tasks_lib.pretraining.schedule import Clock, ended_decayed, lr_factor, resolve, run_progress, session_progress


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


def _optimizer(model: Any, cfg: PretrainConfig) -> Any:
    import torch

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in named if p.ndim == 2 and "embed" not in n]
    rest = [p for n, p in named if not (p.ndim == 2 and "embed" not in n)]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), fused=torch.cuda.is_available() and next(model.parameters()).is_cuda)


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
    from transformers import AutoModelForCausalLM

    from tasks_lib.adapting.model import register_architectures, tiny_config

    register_architectures()
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(tiny_config(cfg.hidden, cfg.layers, cfg.heads, cfg.intermediate, cfg.max_tokens,
                                                             cfg.positions, cfg.rope_theta))
    return sum(p.numel() for p in model.parameters())


def generated_tasks(cfg: PretrainConfig) -> dict[str, list]:
    """The generated sources (ids `gen-...`): `cfg.generated` procedurally generated tasks and `cfg.rule_tasks`
    fresh tasks of each training task with a verified rule; none when both are 0. Made in `cfg.workers` processes
    (the data loader's), the same tasks as in one."""
    sources: dict[str, list] = {}
    if cfg.generated:
        from tasks_lib.pretraining.generate import generate_tasks

        made = generate_tasks(cfg.generated, cfg.generated_seed, processes=max(1, cfg.workers))
        sources[f"generated({cfg.generated}, seed {cfg.generated_seed})"] = made
    if cfg.rule_tasks:
        from tasks_lib.pretraining.rule_tasks import rule_tasks

        made = rule_tasks(cfg.rule_tasks, cfg.generated_seed, processes=max(1, cfg.workers))
        sources[f"rules({cfg.rule_tasks} per task, seed {cfg.generated_seed})"] = made
    for name, tasks in sources.items():
        if not all(t.id.startswith(GENERATED_PREFIX) for t in tasks):
            raise PretrainError(f"{name}: generated task ids must start with {GENERATED_PREFIX!r}")
    return sources


def stream_seed(cfg: PretrainConfig, step: int, rank: int, world: int) -> str:
    """The batch stream's seed: a resumed session draws new views, and every process its own."""
    return f"{cfg.seed}:{step}" if world == 1 else f"{cfg.seed}:{step}:rank{rank}"


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
    mp.spawn(_rank_main, args=(cfg, command, free_port(), started), nprocs=cfg.world_size, join=True)
    return _result(cfg, json.loads((Path(cfg.out) / CHECKPOINT / "state.json").read_text()))


def _rank_main(rank: int, cfg: PretrainConfig, command: str, port: int, started: float) -> None:
    """One started process: the torchrun environment for `rank`, then `_train`."""
    for key, value in MULTICAST_OFF.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # the started processes share one host: gloo stays on loopback
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "LOCAL_RANK": str(rank),
                       "WORLD_SIZE": str(cfg.world_size)})
    _train(cfg, command, print, started)


def _initial_weights(cfg: PretrainConfig, ckpt: Path) -> None:
    """The starting model at `ckpt`: random weights, or those of `cfg.init_from` (shape checked)."""
    from tasks_lib.adapting.model import build_tiny_model, register_architectures

    if not cfg.init_from:
        build_tiny_model(ckpt, cfg.hidden, cfg.layers, cfg.heads, cfg.intermediate, cfg.max_tokens, cfg.seed, cfg.positions, cfg.rope_theta)
        return
    register_architectures()
    import torch
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(cfg.init_from, local_files_only=True, use_safetensors=True, dtype=torch.float32)
    except (OSError, ValueError) as err:
        raise PretrainError(f"init_from={cfg.init_from}: cannot load ({type(err).__name__}: {err})") from None
    c = model.config
    found = {"hidden": c.hidden_size, "layers": c.num_hidden_layers, "heads": c.num_attention_heads, "intermediate": c.intermediate_size,
             "positions": "grid" if getattr(c, "grid_tokens", None) else "1d"}
    if found != cfg.shape:
        raise PretrainError(f"init_from={cfg.init_from}: shape {found} differs from the config's {cfg.shape}")
    model.config.use_cache = False
    model.save_pretrained(ckpt, safe_serialization=True)
    build_arc_tokenizer().save_pretrained(ckpt)


def _loss_module(model: Any, device: str, group: Group) -> Callable[[Any, Any], Any]:
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

    from tasks_lib.adapting.model import register_architectures

    register_architectures()
    out = Path(cfg.out)
    ckpt = out / CHECKPOINT
    device = _device(cfg.device)
    group = Group(device, cfg.threads, cfg.workers)
    rank0 = group.rank == 0
    if not rank0:
        log = _quiet
    tasks, report = training_tasks(cfg.sources, cfg.holdout, cfg.min_shared_cells, extra=generated_tasks(cfg))
    full = (ckpt / "state.json").exists()  # this machine's own checkpoint
    compact = not full and (out / COMPACT_STATE).exists()  # an export that travelled with its compact optimizer state
    resume = full or compact
    group.barrier()  # every rank has seen whether a checkpoint exists before rank 0 writes one
    if rank0 and not resume:
        _initial_weights(cfg, ckpt)
    group.barrier()
    model = AutoModelForCausalLM.from_pretrained(out if compact else ckpt, local_files_only=True, use_safetensors=True,
                                                 dtype=torch.float32).to(device)
    model.config.use_cache = False
    params = sum(p.numel() for p in model.parameters())
    opt = _optimizer(model, cfg)
    saved = (load_checkpoint(ckpt, model, opt) if full else load_compact(out, model, opt)) if resume else None
    cfg = _with_schedule(cfg, saved)
    state: dict[str, Any] = {"step": 0, "tokens": 0, "label_tokens": 0, "train_seconds": 0.0, "gpu_seconds": 0.0, "done": False,
                             "sessions": [], "loss": [], "heldout": [], "config": asdict(cfg), "data": report.to_dict(), "final_loss": None,
                             "params": params, "init_from": cfg.init_from}
    start_factor = 0.0  # lr / peak where the previous session ended: 0 for a fresh run
    if saved is not None:
        old = saved["config"]
        if {k: old.get(k, "1d" if k == "positions" else None) for k in cfg.shape} != cfg.shape:
            raise PretrainError(f"{out}: checkpoint shape {({k: old.get(k) for k in cfg.shape})} differs from the config's {cfg.shape}")
        state.update({k: saved[k] for k in ("step", "tokens", "label_tokens", "train_seconds", "gpu_seconds", "sessions", "loss", "final_loss")})
        state["heldout"] = saved.get("heldout", [])
        state["init_from"] = saved.get("init_from", "")
        start_factor = min(1.0, opt.param_groups[0]["lr"] / cfg.lr)  # the optimizer saved the lr of the run's last step
    for g in opt.param_groups:
        g["lr"] = cfg.lr * start_factor  # where the run stands, as a save before this session's first step records it
    name = _describe_device(device)
    session = {"command": command, "device": f"{group.world}x {name}" if group.world > 1 else name, "processes": group.world,
               "steps": 0, "seconds": 0.0, "schedule": cfg.schedule, "decayed": False, "lr_end": cfg.lr * start_factor}
    state["sessions"].append(session)
    start = f"resuming at step {state['step']}{'' if full else ' from the compact state'}" if resume else (f"from {cfg.init_from}" if cfg.init_from else "from scratch")
    log(f"pretrain: {len(tasks)} tasks {report.per_source}, excluded {({k: len(v) for k, v in report.excluded.items()})}, "
        f"{params / 1e6:.2f}M params on {session['device']} ({group.world} process(es)), {start}, schedule {cfg.schedule}"
        f"{f' from lr {cfg.lr * start_factor:.2e}' if resume and cfg.schedule == 'wsd' else ''}")
    held = _heldout_examples(cfg) if rank0 else {}
    batches = loader(tasks, cfg, stream_seed(cfg, state["step"], group.rank, group.world))
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
    last: Clock | None = None  # where the run stood when this session's last step began

    def add_pending() -> None:
        """Add every rank's new token counts to the state (a collective: all ranks call it together)."""
        tokens, labelled = group.total([float(pending[0]), float(pending[1])])
        state["tokens"] += int(tokens)
        state["label_tokens"] += int(labelled)
        pending[0] = pending[1] = 0

    while True:
        # rank 0's clock decides for everyone, so every rank runs the same steps with the same lr
        wall_left = cfg.wall_seconds - (time.time() - started) - save_seconds if cfg.wall_seconds else math.inf
        train_seconds, session_seconds, wall_left, save = group.broadcast([state["train_seconds"], session["seconds"], wall_left,
                                                                           float(time.time() - last_ckpt >= cfg.checkpoint_seconds)])
        now = Clock(state["step"], train_seconds, session["steps"], session_seconds, start_factor, wall_left)
        progress = run_progress(cfg, now)
        if progress >= 1.0 or session_seconds >= cfg.session_seconds or wall_left <= 0:
            state["done"] = progress >= 1.0
            session["decayed"] = ended_decayed(cfg, now, last) if session["steps"] else _previous_decayed(state["sessions"])
            break
        if save:
            saving = time.time()
            add_pending()
            if rank0:
                _save_all(cfg, out, ckpt, model, opt, state, params, held)
                save_seconds = max(save_seconds, 2 * (time.time() - saving))
            last_ckpt = time.time()
        t0 = time.time()
        ids, labels = next(batches)  # (B, T), (B, T) on the CPU
        real = int((ids != pad).sum())  # tokens without padding, counted before the copy (no device sync)
        pending[0] += real
        pending[1] += int((labels != IGNORE).sum())
        ids, labels = ids.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * lr_factor(cfg, now)
        last = now
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
            within = f" session {session_progress(cfg, now):.3f}" if cfg.schedule == "wsd" else ""
            log(f"step {state['step']} loss {value:.4f} lr {opt.param_groups[0]['lr']:.2e} {rate / 1e3:.0f}k tok/s progress {progress:.3f}{within}")
            window, window_tokens, window_start = [], 0, time.time()
        elapsed = time.time() - t0
        state["train_seconds"] += elapsed
        state["gpu_seconds"] += elapsed * group.world  # rank 0's step time for each process
        session["seconds"] += elapsed
        session["steps"] += 1
    add_pending()
    if rank0:
        _save_all(cfg, out, ckpt, model, opt, state, params, held)
        log(f"pretrain: {'done' if state['done'] else 'paused'} at step {state['step']}, {state['tokens']:,} tokens, "
            f"final loss {state['final_loss']}, session {time.time() - session_start:.0f} s, "
            f"{'ended decayed' if session['decayed'] else 'not decayed'}, {state['gpu_seconds'] / 3600:.3f} "
            f"{'GPU' if device == 'cuda' else 'process'}-hours in all")
    group.barrier()  # the others wait for rank 0's last save
    group.close()
    return _result(cfg, state)


def _quiet(_: str) -> None:
    """The log of ranks other than 0."""


def _with_schedule(cfg: PretrainConfig, saved: dict | None) -> PretrainConfig:
    """`cfg` with its schedule resolved against the resumed checkpoint (`saved`; None for a fresh run)."""
    try:
        return replace(cfg, schedule=resolve(cfg.schedule, saved["config"] if saved else None))
    except ValueError as err:
        raise PretrainError(f"{cfg.out}: {err}") from None


def _previous_decayed(sessions: list[dict]) -> bool:
    """A session that took no step leaves the weights where the previous one did."""
    return bool(sessions[-2].get("decayed")) if len(sessions) > 1 else False


def _heldout_examples(cfg: PretrainConfig) -> dict[str, list]:
    """Rank 0's fixed held-out examples per `holdout` set (`heldout_views` > 0), built once per session."""
    from tasks_lib.pretraining.heldout import heldout_examples

    return {name: heldout_examples(name, cfg.heldout_views, 0, cfg.max_tokens)[0] for name in cfg.holdout} if cfg.heldout_views else {}


def _save_all(cfg: PretrainConfig, out: Path, ckpt: Path, model: Any, opt: Any, state: dict, params: int,
              held: dict[str, list]) -> None:
    if held:
        from tasks_lib.pretraining.heldout import heldout_loss

        for name, examples in held.items():
            measured = heldout_loss(model, examples, cfg.batch_tokens)
            state["heldout"].append({"step": state["step"], "gpu_seconds": round(state["gpu_seconds"], 1), "set": name,
                                     "loss": round(measured.loss, 5), "tokens": measured.tokens})
        model.train()
    tail = [r["loss"] for r in state["loss"][-5:]]
    state["final_loss"] = round(sum(tail) / len(tail), 5) if tail else None
    state["sessions"][-1]["lr_end"] = opt.param_groups[0]["lr"]
    save_checkpoint(ckpt, model, opt, state)
    export_model(out, model, cfg.export_dtype, cfg.shard_mib)
    if cfg.compact:
        save_compact(out, opt, state, cfg.shard_mib)
    write_loss_log(out, state["loss"], session_starts(state["sessions"]))
    card = out / "README.md"
    card.write_text(model_card(cfg, state, params, hand_written(card.read_text()) if card.exists() else ""))


def _result(cfg: PretrainConfig, state: dict) -> PretrainResult:
    return PretrainResult(cfg.out, state["step"], state["tokens"], state["final_loss"], state["done"], state["params"], state["train_seconds"])


def step_time(model_dirs: Sequence[str], sizes: Sequence[int], steps: int = 3, threads: int = 1, lora_rank: int = 8,
              device: str = "cpu", log: Callable[[str], None] = print) -> list[dict]:
    """Seconds per per-task LoRA step (`train_adapter`, the pipeline's own step) of each model on real
    ARC-AGI-1 evaluation tasks whose train sequence is closest to each of `sizes` tokens; models are
    interleaved per size so a busy machine slows them alike. One warm-up step per model is not timed."""
    import torch

    from tasks_lib.adapting.model import load_base
    from tasks_lib.adapting.train import train_adapter
    from tasks_lib.config import ModelConfig, TrainConfig

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


def main(argv: list[str] | None = None) -> None:
    """`python -m tasks_lib.pretraining.pretrain train --out DIR ...` and `python -m tasks_lib.pretraining.pretrain step-time MODEL ...`."""
    import argparse
    import shlex
    import sys

    parser = argparse.ArgumentParser(prog="python -m tasks_lib.pretraining.pretrain")
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="pretrain (or resume) a base model")
    add_config_arguments(t)
    st = sub.add_parser("step-time", help="seconds per per-task LoRA step of each model on real tasks of given sizes")
    st.add_argument("models", nargs="+")
    st.add_argument("--tokens", type=int, nargs="+", default=[1024, 2048, 4096])
    st.add_argument("--steps", type=int, default=3)
    st.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.cmd == "step-time":
        step_time(args.models, args.tokens, args.steps, args.threads)
        return
    cfg = config_from_dict({f: getattr(args, f) for f in PretrainConfig.__dataclass_fields__})
    pretrain(cfg, "python -m tasks_lib.pretraining.pretrain " + shlex.join(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
