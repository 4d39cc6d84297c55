"""Pretraining checkpoints, the exported model directory, and its model card.

Contract:
- `save_checkpoint(ckpt, model, opt, state)` / `load_checkpoint` keep a full-precision checkpoint (fp32 weights,
  AdamW state, `state.json`) on the machine that trains; every file is written under a temporary name and renamed,
  so an interrupted save leaves the previous checkpoint usable.
- `save_compact(out, opt, state, shard_mib)` / `load_compact` keep a small one next to the export, for a run that
  continues on another machine when only a few 16 MiB files can travel: AdamW's moments quantised per block (first
  moments int8, second moments uint8 in the log domain), `step` exact, shards of at most `shard_mib`, and
  `trainer_state.json`; the weights are the export's (bf16 by default). For a 15M-parameter model that is ~32 MB
  beside a 31 MB export.
- `export_model(out, model, dtype, shard_mib)` writes a directory `tasks_lib.adapting.model.load_base` loads: `config.json`,
  the weights in `dtype` (one file, or shards of at most `shard_mib` with `model.safetensors.index.json`, as
  `save_pretrained` writes them), the tokenizer; stale weight files of an earlier export are removed.
- The training state (`state.json`, `trainer_state.json`) holds the run's totals (`step`, `tokens`, `train_seconds`,
  `gpu_seconds`: training seconds x processes, summed over sessions), its loss rows, and one record per session:
  command, device, processes, steps, training seconds, schedule, `decayed` (whether it ran its decay to the end;
  None where a state from before schedules were recorded does not say) and `lr_end`. Both loaders return it through
  `upgrade_state`, so a state written before these keys existed resumes as a cosine-era run.
- `write_loss_log(out, rows, starts)` writes `loss.csv` and `loss.png` (loss and lr over all sessions, a line where
  each later session began); `model_card(cfg, state, params, notes)` the README, with the hand-written sections of
  the one it replaces (`hand_written`) kept at the end.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

from tasks_lib.arc.encoding import build_arc_tokenizer
from tasks_lib.pretraining.config import PretrainConfig, PretrainError
from tasks_lib.pretraining.schedule import describe

CHECKPOINT = "checkpoint"  # sub-folder of `out` with fp32 weights, optimizer state and state.json
LOSS_CSV = "loss.csv"
WEIGHTS = "model.safetensors"  # one-file export (and the fp32 checkpoint's weights)
WEIGHTS_INDEX = "model.safetensors.index.json"  # the tensor -> shard map of a sharded export
COMPACT_PREFIX = "optimizer-"  # shards of the compact optimizer state, beside the export
COMPACT_STATE = "trainer_state.json"
QUANT_BLOCK = 256  # values per quantisation block of the compact optimizer state
CARD_SECTIONS = ("Data", "Size", "Training", "Commands that made it")  # the `## ` sections model_card writes


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


def upgrade_state(saved: dict) -> dict:
    """`saved` with the keys a state from before schedules were recorded lacks: its sessions ran the cosine, the
    last of them decayed only if the run reached its end (`done`), and whether an earlier one did is not recorded
    (None: a stretched cosine may have reached its end then); `gpu_seconds` from the sessions' seconds x processes."""
    state = dict(saved)
    sessions = [dict(s) for s in state.get("sessions", [])]
    for i, s in enumerate(sessions):
        s.setdefault("processes", 1)
        s.setdefault("schedule", "cosine")
        if "decayed" not in s:
            s["decayed"] = bool(state.get("done")) if i == len(sessions) - 1 else None
    state["sessions"] = sessions
    state.setdefault("gpu_seconds", sum(s["seconds"] * s["processes"] for s in sessions))
    return state


def load_checkpoint(ckpt: Path, model: Any, opt: Any) -> dict:
    """Restore weights and optimizer state in place; returns the saved state (without param groups, upgraded:
    `upgrade_state`)."""
    from safetensors.torch import load_file

    device = next(model.parameters()).device
    try:
        state = json.loads((ckpt / "state.json").read_text())
        model.load_state_dict(load_file(str(ckpt / "model.safetensors"), device=str(device)))
        _load_optimizer(opt, load_file(str(ckpt / "optimizer.safetensors")), state.pop("param_groups"), device)
    except (OSError, json.JSONDecodeError, KeyError, RuntimeError) as err:
        raise PretrainError(f"{ckpt}: cannot resume from this checkpoint ({type(err).__name__}: {err})") from None
    return upgrade_state(state)


def _quantize_signed(x: Any) -> tuple[Any, Any]:
    """int8 codes and fp32 scales (absmax per block of QUANT_BLOCK) of a tensor's values, flattened."""
    import torch

    flat = x.detach().float().cpu().reshape(-1)
    pad = (-flat.numel()) % QUANT_BLOCK
    blocks = torch.cat([flat, flat.new_zeros(pad)]).view(-1, QUANT_BLOCK)  # (N, block)
    scale = blocks.abs().amax(1).clamp(min=1e-30)  # (N,)
    return torch.round(blocks / scale[:, None] * 127).to(torch.int8), scale


def _dequantize_signed(codes: Any, scale: Any, like: Any) -> Any:
    values = codes.float() * scale[:, None] / 127  # (N, block)
    return values.reshape(-1)[: like.numel()].view_as(like).to(like.device)


def _quantize_positive(x: Any) -> tuple[Any, Any]:
    """uint8 codes of log(x) and per-block (low, high) of log(x): Adam's second moments span many orders of
    magnitude within a tensor, so relative precision (about 8% of sqrt(v) per code) beats absolute."""
    import torch

    flat = x.detach().float().cpu().reshape(-1).clamp(min=1e-30).log()
    pad = (-flat.numel()) % QUANT_BLOCK
    blocks = torch.cat([flat, flat[-1:].expand(pad)]).view(-1, QUANT_BLOCK)  # (N, block)
    low, high = blocks.amin(1), blocks.amax(1)  # (N,)
    span = (high - low).clamp(min=1e-6)
    codes = torch.round((blocks - low[:, None]) / span[:, None] * 255).to(torch.uint8)
    return codes, torch.stack([low, span], 1)  # (N, block), (N, 2)


def _dequantize_positive(codes: Any, bounds: Any, like: Any) -> Any:
    logs = bounds[:, :1] + codes.float() / 255 * bounds[:, 1:]  # (N, block)
    return logs.exp().reshape(-1)[: like.numel()].view_as(like).to(like.device)


def save_compact(out: Path, opt: Any, state: dict, shard_mib: float) -> None:
    """The optimizer state in a form small enough to move through 16 MiB transfers: AdamW's first moments as
    int8 (absmax per block), second moments as uint8 logs (per-block range), `step` exact, in shards of at most
    `shard_mib`, plus `trainer_state.json`. With the exported weights beside them they resume a run on another
    machine (`load_compact`); the weights come back at the export's precision."""
    from safetensors.torch import save_file

    sd = opt.state_dict()
    tensors: dict[str, Any] = {}
    for idx, st in sd["state"].items():
        tensors[f"{idx}.step"] = st["step"].detach().float().cpu().reshape(-1)
        tensors[f"{idx}.m.q"], tensors[f"{idx}.m.s"] = _quantize_signed(st["exp_avg"])
        tensors[f"{idx}.v.q"], tensors[f"{idx}.v.s"] = _quantize_positive(st["exp_avg_sq"])
    shards = shard_weights(tensors, int(shard_mib * 2**20))
    names = [f"{COMPACT_PREFIX}{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    for name, shard in zip(names, shards):
        save_file(shard, str(out / f"{name}.tmp"))
    (out / f"{COMPACT_STATE}.tmp").write_text(json.dumps({**state, "param_groups": sd["param_groups"], "optimizer_files": names}, indent=1))
    for name in [*names, COMPACT_STATE]:
        (out / f"{name}.tmp").replace(out / name)
    for stale in out.glob(f"{COMPACT_PREFIX}*.safetensors"):
        if stale.name not in names:
            stale.unlink()


def load_compact(out: Path, model: Any, opt: Any) -> dict:
    """Restore the optimizer written by `save_compact` (the model's weights are already loaded from the export
    at `out`); returns the saved training state (upgraded: `upgrade_state`)."""
    import torch
    from safetensors.torch import load_file

    try:
        state = json.loads((out / COMPACT_STATE).read_text())
        tensors: dict[str, Any] = {}
        for name in state.pop("optimizer_files"):
            tensors.update(load_file(str(out / name)))
        params = [p for group in opt.param_groups for p in group["params"]]
        restored = {}
        for idx, p in enumerate(params):
            restored[idx] = {"step": tensors[f"{idx}.step"].reshape(()),
                             "exp_avg": _dequantize_signed(tensors[f"{idx}.m.q"], tensors[f"{idx}.m.s"], p.detach().float()),
                             "exp_avg_sq": _dequantize_positive(tensors[f"{idx}.v.q"], tensors[f"{idx}.v.s"], p.detach().float())}
        opt.load_state_dict({"state": restored, "param_groups": state.pop("param_groups")})
    except (OSError, json.JSONDecodeError, KeyError, RuntimeError) as err:
        raise PretrainError(f"{out}: cannot resume from its compact optimizer state ({type(err).__name__}: {err})") from None
    del torch
    return upgrade_state(state)


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


def session_starts(sessions: list[dict]) -> list[int]:
    """The run's step count where each session after the first began (sessions that took no step left out)."""
    starts, step = [], 0
    for s in sessions:
        if step and s["steps"] and step not in starts:
            starts.append(step)
        step += s["steps"]
    return starts


def write_loss_log(out: Path, rows: list[dict], starts: list[int] = ()) -> None:
    """`loss.csv` (one row per logged step) and, when matplotlib is installed, `loss.png`: the loss, the lr on a
    second axis, and a dotted line where each session of `starts` (steps) began."""
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
    tokens = [r["tokens"] / 1e6 for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(tokens, [r["loss"] for r in rows], label="loss")
    lr = ax.twinx()
    lr.plot(tokens, [r["lr"] for r in rows], color="tab:gray", linewidth=0.8, label="lr")
    lr.set_ylabel("learning rate")
    for step in starts:  # tokens of the last row before the session began
        before = [r["tokens"] for r in rows if r["step"] <= step]
        if before:
            ax.axvline(before[-1] / 1e6, color="tab:red", linestyle=":", linewidth=0.8)
    ax.set_xlabel("tokens seen (millions)" + ("; dotted: a session began" if starts else ""))
    ax.set_ylabel("output-token loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=100)
    plt.close(fig)


def hand_written(card: str) -> str:
    """The `## ` sections of an earlier card that `model_card` does not write (notes added by hand: where the
    model was made, what it solves), in order; empty when there are none."""
    kept, keep, code = [], False, False
    for line in card.splitlines():
        if line.startswith("```"):
            code = not code
        elif code:
            pass  # a `# comment` in a code block is no heading
        elif line.startswith("## "):
            keep = line[3:].strip() not in CARD_SECTIONS
        elif line.startswith("# "):
            keep = False
        if keep:
            kept.append(line)
    return "\n".join(kept).strip()


def _session_line(s: dict) -> str:
    decayed = {True: "ended decayed", False: "ended before its decay's end", None: "decay not recorded"}[s.get("decayed")]
    return (f"- `{s['command']}` ({s['device']}, {s.get('processes', 1)} process(es), {s['steps']} steps, {s['seconds']:.0f} s of "
            f"training, {s.get('schedule', 'cosine')}, {decayed})")


def _heldout_line(rows: list[dict]) -> str:
    """The latest held-out loss per set, and where it was measured."""
    if not rows:
        return "not measured (`--heldout-views` 0)"
    last = rows[-1]["step"]
    latest = [r for r in rows if r["step"] == last]
    return (", ".join(f"{r['set']} {r['loss']:.4f}" for r in latest)
            + f" at step {last} ({latest[0]['gpu_seconds'] / 3600:.3f} GPU-hours); every measurement in `trainer_state.json`'s `heldout`")


def model_card(cfg: PretrainConfig, state: dict, params: int, notes: str = "") -> str:
    """The model card (README.md) from the config (schedule resolved) and the training state; `notes`
    (`hand_written` sections of the card it replaces) go at the end."""
    data = state["data"]
    excluded = {k: len(v) for k, v in data["excluded"].items()}
    sessions = "\n".join(_session_line(s) for s in state["sessions"])
    final = state.get("final_loss")
    start = state.get("init_from")
    origin = f"from the weights of `{start}` (fresh optimizer and schedule)" if start else "from random weights"
    procs = sorted({s.get("processes", 1) for s in state["sessions"]})
    on_cpu = any(s["device"].endswith("cpu") for s in state["sessions"])
    hours = state.get("gpu_seconds", 0.0) / 3600
    compute = f"{hours:.3f} {'process' if on_cpu else 'GPU'}-hours"
    n = len(state["sessions"])
    positions = ("rotary positions over (grid, line, column) of every token (model type `arc_grid`, "
                 f"rope theta {cfg.rope_theta:g})" if cfg.positions == "grid" else f"1-D rotary positions (rope theta {cfg.rope_theta:g})")
    generated = (f"; {cfg.generated} procedurally generated tasks (`tasks_lib.pretraining.generate`, seed {cfg.generated_seed}), drawn for "
                 f"{cfg.generated_fraction:.0%} of the examples" if cfg.generated else "")
    rules = cfg.rule_tasks
    generated += (f"; {rules} fresh tasks of each training task with a verified rule (`tasks_lib.pretraining.rule_tasks`), drawn with the "
                  "generated tasks" if rules else "")
    scale = (f", and in half the views an upscaling by {'2' if cfg.max_scale == 2 else f'2..{cfg.max_scale}'} where every grid stays within 30 cells"
             if cfg.max_scale > 1 else "")
    card = f"""# {Path(cfg.out).name}

A {params / 1e6:.2f}M-parameter Llama-shaped causal LM with the 16-token ARC vocabulary
(`tasks_lib.arc.encoding`), {positions}, pretrained {origin} by `tasks_lib/pretraining/pretrain.py` (every weight trained,
loss on output-grid tokens only) to be the base model for per-task training in arc-ttt.

## Data
- Sources: {", ".join(cfg.sources)}{generated}; each task's test pairs are used as extra train pairs.
- Held out: {", ".join(cfg.holdout) or "nothing"}. A source task is dropped when it shares an id, an (input, output)
  pair, or a grid of more than {cfg.min_shared_cells} cells with a held-out task. Dropped: {excluded or "none"}.
  Exact duplicates across sources kept once (dropped {data["duplicates"]}).
- Kept: {data["kept"]} tasks ({data["per_source"]}).
- Each example is a fresh random view: one of 8 dihedral transforms, a colour permutation
  ({"background kept" if cfg.keep_background else "background permuted too"}), shuffled pair order{scale}; sequences
  up to {cfg.max_tokens} tokens (trailing pairs dropped beyond that).

## Size
hidden {cfg.hidden}, {cfg.layers} layers, {cfg.heads} heads (head_dim {cfg.hidden // cfg.heads}), MLP {cfg.intermediate},
sequences up to {cfg.max_tokens} tokens; {params:,} parameters; weights stored as {cfg.export_dtype}.

## Training
- AdamW (betas 0.9/0.95, weight decay {cfg.weight_decay} on matrices); about {cfg.batch_tokens} padded tokens per step and process,
  bf16 autocast on GPU.
- Schedule (the latest session's; each session's is named below): {describe(cfg)}.
- Data-parallel processes (GPUs on CUDA; gradients averaged every step, each with its own random views): {", ".join(map(str, procs))}.
- Steps: {state["step"]}; tokens seen, summed over processes: {state["tokens"]:,} ({state["label_tokens"]:,} of them output tokens with loss);
  training time {state["train_seconds"]:.0f} s.
- Pretraining compute: {compute} of training (training seconds x processes, summed over {n} session(s)).
- Final loss (mean of the last logged rows): {"n/a" if final is None else f"{final:.4f}"}. Curve over all sessions: `loss.csv`, `loss.png`
  (lr on the second axis, a dotted line where each later session began).
- Held-out loss (fixed views of the held-out sets' outputs after the first pair, measured at each checkpoint, never
  trained on; `tasks_lib.pretraining.heldout`): {_heldout_line(state.get("heldout") or [])}.
- Finished: {"yes" if state["done"] else "no (resume with the same command)"}.

## Commands that made it
One line per session: device, processes, steps, training seconds, schedule, and whether it ended decayed.
{sessions}
"""
    return card + (f"\n{notes}\n" if notes else "")
