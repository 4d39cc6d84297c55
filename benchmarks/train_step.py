"""LoRA training step at batch size 1: tokens/s, TFLOP/s and peak memory, one change at a time.

Contract: builds random-weight Qwen2-shaped models (the 16-token ARC vocabulary, bf16 on CUDA) with a
LoRA adapter (rank 16, every linear layer of the decoder), wraps each in a `Resident` and times
`tasks_lib.adapting.train_steps.make_step` (the pipeline's own step) at each sequence length. Row 1 is plain PEFT +
transformers (full logits, the model's loss), measured in the same run; each later row adds one
change to the row above it (see ROWS). Sequences are random ids with labels on alternating spans
(as prompts and output grids alternate in a task); the host-side augmentation and encoding of the
pipeline are not timed.

FLOPs counted: 4 N per token, N = weights of the base model's linear layers (attention and MLP
projections of every decoder layer, and the head), i.e. 2 N forward and 2 N backward for the input
gradients of the frozen base. Not counted: attention scores (QK^T, PV), the LoRA matmuls, and the
recomputed forward under activation checkpointing. The matrix rate of the card is measured in the
same run (an 8192^3 bf16 product), and each row's TFLOP/s is also given as a share of it.

Also checks, per shape, after its timing rows (so a broken graph cannot spoil the baseline): the fast step's (row 6) and the CUDA-graph step's (row 10) loss and gradients against
row 1 with an fp32 base, on a sequence 100 tokens shorter than the first length (so the graph step pads it), and
whether that probe replayed a captured graph (after a failed capture it runs the same body eagerly); the
capture time per length bucket; 3 replayed graph-step updates against the same body run eagerly (the
captured AdamW and its device learning rate); that an adapter reset followed by a new task of another length builds no new
compiled graph, and by one in an already captured bucket captures no new CUDA graph.

Results are written as they come: results.json and table.md in --out (rewritten after every cell).

Usage: python benchmarks/train_step.py [--shapes 0.5b,7b] [--tokens 1024,2048,4096,8192]
       [--steps 4] [--rows 1,10,6] [--out DIR] [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from tasks_lib.adapting.model import Resident
from tasks_lib.adapting.train_graphs import bucket_length
from tasks_lib.adapting.train_steps import make_step
from tasks_lib.arc.encoding import IGNORE, Encoded, Vocab, build_arc_tokenizer
from tasks_lib.config import ModelConfig, TrainConfig

SHAPES = {
    "tiny": dict(hidden=128, layers=2, heads=4, kv_heads=2, intermediate=384),  # CPU dry runs
    "0.5b": dict(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864),  # Qwen2.5-0.5B
    "7b": dict(hidden=3584, layers=28, heads=28, kv_heads=4, intermediate=18944),  # Qwen2.5-7B
}
LORA_RANK = 16
SPAN = 200  # tokens per prompt/output span of the synthetic sequences

_PLAIN = dict(step="simple", compile="off", fused_adamw="off", adapter_autocast="off", sync_every=1, cuda_graphs="off")
_FAST = dict(_PLAIN, step="fast")
# (name, reference loss?, TrainConfig fields); each row changes one thing against the row above.
ROWS: list[tuple[str, bool, dict]] = [
    ("plain PEFT + HF loss (full logits)", True, _PLAIN),
    ("+ logits on output tokens only", False, _PLAIN),
    ("+ own layer loop, chunked CE (1024 positions)", False, dict(_FAST, ce_chunk=1024)),
    ("+ bf16 LoRA matmuls (autocast), one CE chunk", False, dict(_FAST, adapter_autocast="on")),
    ("+ torch.compile: layers + fused norm/head/CE", False, dict(_FAST, adapter_autocast="on", compile="inductor")),
    ("+ fused AdamW", False, dict(_FAST, adapter_autocast="on", compile="inductor", fused_adamw="on")),
    ("+ host sync every 8 steps", False, dict(_FAST, adapter_autocast="on", compile="inductor", fused_adamw="on", sync_every=8)),
    ("+ activation checkpointing, every layer", False, dict(_FAST, adapter_autocast="on", compile="inductor", fused_adamw="on", sync_every=8, checkpoint_min_tokens=1)),
    ("row 6, whole forward + loss as one graph", False, dict(_FAST, adapter_autocast="on", compile="inductor", fused_adamw="on", compile_scope="model")),
    ("row 6 + CUDA graphs: whole step, 256-token buckets (= default on CUDA)", False, dict(_FAST, adapter_autocast="on", compile="inductor", fused_adamw="on", cuda_graphs="on", graph_bucket=256)),
]

FAST_ROW = 6  # the fast step without CUDA graphs
GRAPH_ROW = 10  # the CUDA-graph step: the pipeline's default on CUDA (cuda_graphs auto)


@dataclass
class Result:
    shape: str
    row: int
    name: str
    tokens: int
    seconds: float | None = None  # per step
    peak_gib: float | None = None  # torch.cuda.max_memory_allocated
    reserved_gib: float | None = None  # torch.cuda.max_memory_reserved
    new_graphs: int = 0  # graphs compiled during this row (warm-up included)
    captures: int = 0  # CUDA graphs captured during this row (warm-up steps included)
    error: str = ""
    note: str = ""  # e.g. a failed capture (the row then ran the graph step's body eagerly)


def build_resident(shape: str, device: str, dtype: Any) -> Resident:
    """A random-weight Qwen2 model of `shape` with the ARC vocabulary and a LoRA adapter, built on `device`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    s = SHAPES[shape]
    tok = build_arc_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=s["hidden"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        num_key_value_heads=s["kv_heads"],
        intermediate_size=s["intermediate"],
        max_position_embeddings=32768,
        tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    config._attn_implementation = "sdpa"
    t0 = time.perf_counter()
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            base = Qwen2ForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    lora = LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(base, lora)
    cfg = ModelConfig(path=f"random-{shape}", lora_rank=LORA_RANK, lora_alpha=2.0 * LORA_RANK)
    return Resident(model, tok, Vocab.from_tokenizer(tok), device, cfg, time.perf_counter() - t0)


def linear_weights(res: Resident) -> int:
    """N of the 4 N FLOPs/token convention: the frozen base's linear weights (decoder layers and head)."""
    import torch

    base = res.model.get_base_model()
    n = 0
    for name, module in base.named_modules():
        if isinstance(module, torch.nn.Linear) and "lora_" not in name:
            n += module.weight.numel()
    return n


def sequence(tokens: int, seed: int) -> Encoded:
    rng = random.Random(seed)
    ids = [1] + [rng.randrange(3, 16) for _ in range(tokens - 1)]
    span = min(SPAN, tokens // 4)
    return Encoded(ids, [t if (i // span) % 2 else IGNORE for i, t in enumerate(ids)])


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_row(res: Resident, cfg: TrainConfig, reference: bool, tokens: int, steps: int, warmup: int) -> tuple[float, float, float]:
    """(seconds per step, peak GiB allocated, peak GiB reserved) over `steps` timed steps after `warmup`,
    reading the loss on the host every `cfg.sync_every` steps as `train_adapter` does."""
    import torch

    cuda = res.device.startswith("cuda")
    step = make_step(res, cfg, reference=reference)
    seqs = [sequence(tokens, seed) for seed in range(warmup + steps)]
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    res.model.train()
    try:
        t0 = 0.0
        for i, enc in enumerate(seqs):
            if i == warmup:
                _sync(res.device)
                t0 = time.perf_counter()
            loss = step(enc)
            if (i + 1) % cfg.sync_every == 0 or i == len(seqs) - 1:
                float(loss)
        _sync(res.device)
        seconds = (time.perf_counter() - t0) / steps
    finally:
        step.close()
        res.model.eval()
    gib = 2.0**30
    if cuda:
        return seconds, torch.cuda.max_memory_allocated() / gib, torch.cuda.max_memory_reserved() / gib
    return seconds, float("nan"), float("nan")


def profile_row(res: Resident, cfg: TrainConfig, reference: bool, tokens: int, label: str, out: str) -> None:
    """Print the ops with the most self CPU and device time over 4 steps (after 2 unprofiled ones)."""
    from torch.profiler import ProfilerActivity, profile

    step = make_step(res, cfg, reference=reference)
    seqs = [sequence(tokens, seed) for seed in range(6)]
    res.model.train()
    for enc in seqs[:2]:
        float(step(enc))
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if res.device.startswith("cuda") else [])
    with profile(activities=activities) as prof:
        for enc in seqs[2:]:
            loss = step(enc)
        float(loss)
    step.close()
    res.model.eval()
    for key in ("self_cpu_time_total", "self_device_time_total" if res.device.startswith("cuda") else "cpu_time_total"):
        table = prof.key_averages().table(sort_by=key, row_limit=18, max_name_column_width=60)
        print(f"\n### profile {label}, {tokens} tokens, 4 steps, by {key}\n{table}", flush=True)
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            with open(Path(out) / "profile.txt", "a") as f:
                f.write(f"\n### {label} by {key}\n{table}\n")


def _graphs_of(res: Resident) -> Any:
    """The slot's `StepGraphs` (None before the first graph step)."""
    return res.slot_state.step_graphs


def check_steps(res: Resident, fast_cfg: TrainConfig, graph_cfg: TrainConfig, tokens: int) -> dict:
    """Loss and gradients on one sequence (nonzero B, so every gradient is live) of row 1 with an fp32 base
    (computed first: the base is cast in place and back, which moves its weights, so the slot's graphs are
    dropped before and captured again after), row 1, the fast step and the CUDA-graph step (one replay at lr 0,
    gradients before clipping)."""
    import torch

    res.slot_state.step_graphs = None
    res.reset(1)
    with torch.no_grad():
        for name, p in res.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.02)
    res.model.train()
    enc = sequence(tokens, 99)
    base = [p for name, p in res.model.named_parameters() if "lora_" not in name]
    dtype = base[0].dtype
    for p in base:  # an fp32 copy of the base in place, for the plain step in full precision
        p.data = p.data.float()
    step = make_step(res, TrainConfig(**_PLAIN), reference=True)
    loss = step.loss(enc)
    step.opt.zero_grad(set_to_none=True)
    loss.backward()
    exact = (loss.item(), [p.grad.float().clone() for p in step.params])
    step.close()
    del loss  # its autograd graph holds the adapter's AccumulateGrad nodes on this (default) stream
    for p in base:
        p.data = p.data.to(dtype)
    gc.collect()
    out: dict[str, tuple] = {}
    for label, cfg in (("plain", None), ("fast", fast_cfg), ("graph", graph_cfg)):
        t0 = time.perf_counter()
        try:
            step = make_step(res, TrainConfig(**_PLAIN), reference=True) if cfg is None else make_step(res, cfg)
            if label == "graph":
                loss, grads = step.probe(enc)
            else:
                loss = step.loss(enc)
                step.opt.zero_grad(set_to_none=True)
                loss.backward()
                loss = loss.detach()  # drop the autograd graph: kept alive, its AccumulateGrad nodes (default stream) break the next capture
                grads = [p.grad for p in step.params]
            _sync(res.device)
            out[label] = (loss.item(), [g.float().clone() for g in grads], time.perf_counter() - t0)
            step.close()
        except Exception as err:  # reported; the other steps and the timing rows still run
            print(f"check {label} failed:\n{traceback.format_exc()}", flush=True)
            out[label] = (float("nan"), [], time.perf_counter() - t0, f"{type(err).__name__}: {str(err)[:300]}")
    res.model.eval()

    def errors(grads: list, want: list) -> list[float]:
        return sorted(float((a - b).norm() / b.norm()) for a, b in zip(grads, want) if float(b.norm()) > 0) or [float("nan")]

    result: dict[str, Any] = {"tokens": tokens, "loss_fp32": exact[0]}
    for label, (loss, grads, seconds, *err) in out.items():
        e = errors(grads, exact[1])
        result[f"loss_{label}"] = loss
        result[f"grad_rel_err_vs_fp32_{label}_median_max"] = [e[len(e) // 2], e[-1]]
        result[f"{label}_first_call_s"] = seconds
        if err:
            result[f"{label}_error"] = err[0]
    if out["graph"][1] and out["fast"][1]:
        e = errors(out["graph"][1], out["fast"][1])
        result["grad_rel_err_graph_vs_fast_median_max"] = [e[len(e) // 2], e[-1]]
    graphs = _graphs_of(res)
    if graphs is not None:
        result["graph_bucket"] = graph_cfg.graph_bucket
        result["graph_capture_failed"] = graphs.failed
        # False: the probe ran the graph step's body eagerly (failed capture), so the tolerance below says nothing of a replay
        result["graph_probe_replayed"] = bool(not graphs.failed and bucket_length(tokens, graph_cfg.graph_bucket) in graphs.graphs)
    # The graph step passes when it is as close to fp32 as plain bf16 is (within 2x, plus a floor).
    plain_max, graph_max = result["grad_rel_err_vs_fp32_plain_median_max"][1], result["grad_rel_err_vs_fp32_graph_median_max"][1]
    loss_ok = abs(result["loss_graph"] - exact[0]) <= 2 * abs(result["loss_plain"] - exact[0]) + 1e-2
    result["graph_within_bf16_tolerance"] = bool(graph_max <= 2 * plain_max + 0.02 and loss_ok)
    return result


def matmul_tflops(device: str) -> float:
    """The card's bf16 matrix rate: median of 10 timed 8192^3 products on random data."""
    import torch

    if not device.startswith("cuda"):
        return float("nan")
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(10):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return 2 * 8192**3 / sorted(times)[5] / 1e12


def check_replay(res: Resident, graph_cfg: TrainConfig, tokens: int, steps: int = 3) -> dict:
    """`steps` updates of the CUDA-graph step replayed against the same body run eagerly (the static-buffer step),
    from the same adapter and a fresh optimizer each: checks the captured AdamW, its device lr (warm-up ramp)
    and the in-place optimizer reset. The eager body runs twice: in bf16 a large model's eager step does not
    repeat itself exactly (7B shape on an H200: 1% apart in gradients, 5% in the updates after 3 AdamW steps, the
    same as replay against eager; in fp32 all three are bit-identical; docs/journal.md, session 9), so the replay
    matches when it is no further from eager than eager is from itself (or within 5% / 1%). Returns the losses and
    the adapter updates' relative error per tensor, replay against eager and eager against eager."""
    import torch

    res.reset(2)
    res.model.train()
    start = [p.detach().clone() for p in res.trainable_parameters()]
    runs = {}
    for mode in ("replay", "eager", "eager2"):
        with torch.no_grad():
            for p, s in zip(res.trainable_parameters(), start):
                p.copy_(s)
        step = make_step(res, graph_cfg)
        if step.graphs is None:
            return {"replay_check_error": "no graph step (see step_graphs_error)"}
        capturable = step.graphs.capturable
        step.graphs.capturable = capturable and mode == "replay"  # False: StepGraphs.run runs the body eagerly
        try:
            losses = [float(step(sequence(tokens, 300 + i))) for i in range(steps)]
        finally:
            step.graphs.capturable = capturable
        runs[mode] = (losses, [(p.detach() - s).float() for p, s in zip(res.trainable_parameters(), start)])
        if mode == "replay" and capturable and (step.graphs.failed or not step.graphs.graphs):
            res.model.eval()
            return {"replay_check_error": f"nothing replayed, the slot's capture failed: {step.graphs.failed or 'no graph'}"}
    res.model.eval()
    (lr_, ur), (le, ue), (le2, ue2) = runs["replay"], runs["eager"], runs["eager2"]

    def rel_errors(x: list, y: list) -> list[float]:  # sorted, per tensor, of x against y
        return sorted(float((a - b).norm() / b.norm()) for a, b in zip(x, y) if float(b.norm()) > 0) or [float("nan")]

    errors, noise = rel_errors(ur, ue), rel_errors(ue2, ue)
    loss_noise = max((abs(a - b) / abs(b) for a, b in zip(le2, le)), default=0.0)
    return {
        "replay_losses": lr_,
        "eager_losses": le,
        "eager2_losses": le2,
        "replay_vs_eager_update_rel_err_median_max": [errors[len(errors) // 2], errors[-1]],
        "eager_vs_eager_update_rel_err_median_max": [noise[len(noise) // 2], noise[-1]],
        "replay_matches_eager": bool(errors[-1] <= max(0.05, 1.5 * noise[-1])
                                     and all(abs(a - b) <= max(1e-2, 1.5 * loss_noise) * abs(b) for a, b in zip(lr_, le))),
    }


def _row_cfg(r: int, backend: str) -> tuple[str, bool, TrainConfig]:
    """(name, reference?, config) of row `r` (1-based), its compiled parts on `backend`."""
    name, reference, fields = ROWS[r - 1]
    fields = dict(fields, compile=backend) if fields["compile"] != "off" else fields
    return name, reference, TrainConfig(lr=1e-4, **fields)


def _captures(res: Resident) -> int:
    graphs = _graphs_of(res)
    return len(graphs.graphs) if graphs is not None else 0


def check_reset(res: Resident, backend: str, tokens: int) -> dict:
    """After `reset`: a task in an already captured bucket captures nothing; one of a new length compiles no new
    graph for the fast step and captures exactly its new bucket."""
    out: dict[str, Any] = {}
    _, _, graph_cfg = _row_cfg(GRAPH_ROW, backend)
    _, _, fast_cfg = _row_cfg(FAST_ROW, backend)
    before_compiles, before_captures = res.compiles, _captures(res)
    res.reset(12345, "another-task")
    same = max(64, tokens - 100)  # the first length's bucket, captured by the check (and row 10)
    time_row(res, graph_cfg, False, same, 1, 1)
    out["new_captures_after_reset_same_bucket"] = _captures(res) - before_captures
    other = max(64, (tokens * 3) // 2 + 7)
    res.reset(54321, "third-task")
    time_row(res, fast_cfg, False, other, 1, 1)
    out["new_graphs_after_reset_and_new_length"] = res.compiles - before_compiles
    captures = _captures(res)
    time_row(res, graph_cfg, False, other, 1, 1)
    out["new_captures_for_new_bucket"] = _captures(res) - captures
    out["new_length"] = other
    graphs = _graphs_of(res)
    out["graph_capture_s_by_bucket"] = dict(graphs.capture_seconds) if graphs is not None else {}
    out["graph_capture_failed"] = graphs.failed if graphs is not None else "no graph step ran"
    return out


def write_results(out: str, card: str, peak: float, checks: dict, results: list[Result]) -> None:
    """results.json and table.md in `out` (rewritten after every cell, so a killed run leaves its partial results)."""
    import torch

    if not out:
        return
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"card": card, "torch": torch.__version__, "matmul_tflops": peak, "checks": checks, "rows": [vars(r) for r in results]}
    for name, text in (("results.json", json.dumps(payload, indent=1, default=str)), ("table.md", _table(card, peak, checks, results) + "\n")):
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, folder / name)  # atomic: a run killed by its timeout leaves whole files


def _table(card: str, peak: float, checks: dict, results: list[Result]) -> str:
    lines = [
        f"## {card}, bf16 matmul {peak:.0f} TFLOP/s (measured), LoRA r={LORA_RANK}, batch 1, vocab 16",
        "| shape | row | tokens | ms/step | tokens/s | TFLOP/s (4N) | % of matmul | x row 1 | peak GiB | reserved GiB | new graphs | captures |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_line(r, checks[r.shape]["N"], peak, results) for r in results]
    for shape, check in checks.items():
        lines.append(f"\n{shape} checks: {json.dumps(check, default=str)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="0.5b,7b")
    parser.add_argument("--tokens", default="1024,2048,4096,8192")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per row and length")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rows", default="", help="comma list of row numbers (1-based), run in this order; default all")
    parser.add_argument("--compile", default="inductor", help="backend for the compiled rows (eager for CPU dry runs)")
    parser.add_argument("--budget", type=float, default=1e9, help="seconds; rows not started by then are skipped")
    parser.add_argument("--out", default="", help="folder for results.json and table.md")
    parser.add_argument("--profile", default="", help="row numbers to profile (torch.profiler, first length) after timing")
    parser.add_argument("--dtype", default="", help="bfloat16 | float32; default bfloat16 on CUDA, float32 on CPU")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.bfloat16 if device == "cuda" else torch.float32)
    lengths = [int(t) for t in args.tokens.split(",")]
    rows = [int(r) for r in args.rows.split(",")] if args.rows else list(range(1, len(ROWS) + 1))
    started = time.perf_counter()
    card = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    peak = matmul_tflops(device)
    print(f"device {card}, torch {torch.__version__}, bf16 matmul {peak:.0f} TFLOP/s", flush=True)
    results: list[Result] = []
    checks: dict[str, dict] = {}
    for shape in args.shapes.split(","):
        torch._dynamo.reset()
        res = build_resident(shape, device, dtype)
        n = linear_weights(res)
        checks[shape] = {"N": n}
        print(f"\n{shape}: built in {res.load_seconds:.1f} s, N={n / 1e6:.0f}M linear weights", flush=True)
        for r in rows:
            name, reference, cfg = _row_cfg(r, args.compile)
            for tokens in lengths:
                result = Result(shape, r, name, tokens)
                if time.perf_counter() - started > args.budget:
                    result.error = "skipped (budget)"
                else:
                    res.reset(r)
                    compiles, captures = res.compiles, _captures(res)
                    try:
                        result.seconds, result.peak_gib, result.reserved_gib = time_row(res, cfg, reference, tokens, args.steps, args.warmup)
                    except torch.OutOfMemoryError:
                        result.error = "OOM"
                    except Exception as err:  # a failing row is reported and the other rows still run
                        result.error = f"{type(err).__name__}: {str(err)[:200]}"
                        print(traceback.format_exc(), flush=True)
                    result.new_graphs = res.compiles - compiles
                    result.captures = _captures(res) - captures
                    graphs = _graphs_of(res)
                    if cfg.cuda_graphs != "off" and graphs is not None and graphs.failed:
                        result.note = f"capture failed, ran eagerly: {graphs.failed}"
                    elif cfg.cuda_graphs != "off" and res.slot_state.step_graphs_error is not None:
                        result.note = f"no graph step, ran the fast step: {res.slot_state.step_graphs_error}"
                    gc.collect()
                    if device == "cuda":
                        torch.cuda.empty_cache()
                results.append(result)
                print(_line(result, n, peak, results), flush=True)
                write_results(args.out, card, peak, checks, results)
        graphs = _graphs_of(res)
        if graphs is not None:
            checks[shape]["rows_graph_capture_s_by_bucket"] = dict(graphs.capture_seconds)
            checks[shape]["rows_graph_capture_failed"] = graphs.failed
        try:
            checks[shape].update(check_steps(res, _row_cfg(FAST_ROW, args.compile)[2], _row_cfg(GRAPH_ROW, args.compile)[2], max(64, lengths[0] - 100)))
        except Exception as err:  # reported; the timing rows still run
            checks[shape]["error"] = f"{type(err).__name__}: {str(err)[:200]}"
            print(traceback.format_exc(), flush=True)
        try:
            checks[shape].update(check_replay(res, _row_cfg(GRAPH_ROW, args.compile)[2], max(64, lengths[0] - 100)))
        except Exception as err:  # reported; the timing rows still run
            checks[shape]["replay_check_error"] = f"{type(err).__name__}: {str(err)[:200]}"
            print(traceback.format_exc(), flush=True)
        print(f"{shape}: correctness {json.dumps(checks[shape], default=str)}", flush=True)
        for r in [int(x) for x in args.profile.split(",") if x]:
            _, reference, cfg = _row_cfg(r, args.compile)
            profile_row(res, cfg, reference, lengths[0], f"{shape} row {r}", args.out)
        try:
            checks[shape].update(check_reset(res, args.compile, lengths[0]))
        except Exception as err:  # reported with the rest
            checks[shape]["reset_check_error"] = f"{type(err).__name__}: {str(err)[:200]}"
            print(traceback.format_exc(), flush=True)
        c = checks[shape]
        print(
            f"{shape}: graphs compiled {res.compiles}; after a reset and a {c.get('new_length')}-token task: "
            f"{c.get('new_graphs_after_reset_and_new_length')} new; CUDA graphs captured after a reset in a captured bucket: "
            f"{c.get('new_captures_after_reset_same_bucket')} (want 0), in a new bucket: {c.get('new_captures_for_new_bucket')} (want 1); "
            f"capture s by bucket (rows) {c.get('rows_graph_capture_s_by_bucket')}, (checks) {c.get('graph_capture_s_by_bucket')}; graph step within bf16 tolerance: {c.get('graph_within_bf16_tolerance')}; "
            f"probe replayed a captured graph: {c.get('graph_probe_replayed')}; replayed updates match eager: {c.get('replay_matches_eager')}; "
            f"capture failure: {c.get('graph_capture_failed') or 'none'}",
            flush=True,
        )
        write_results(args.out, card, peak, checks, results)
        del res
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    print("\n" + _table(card, peak, checks, results))


def _line(r: Result, n: int, peak: float, results: list[Result]) -> str:
    if r.seconds is None:
        return f"| {r.shape} | {r.row} {r.name} | {r.tokens} | {r.error} | | | | | | | {r.new_graphs} | {r.captures} |"
    tps = r.tokens / r.seconds
    tflops = 4 * n * tps / 1e12
    base = next((b for b in results if b.shape == r.shape and b.row == 1 and b.tokens == r.tokens and b.seconds), None)
    speedup = f"{base.seconds / r.seconds:.2f}" if base else "-"
    note = f" ({r.note})" if r.note else ""
    return (
        f"| {r.shape} | {r.row} {r.name}{note} | {r.tokens} | {1e3 * r.seconds:.1f} | {tps:,.0f} | {tflops:.1f} | "
        f"{100 * tflops / peak:.0f} | {speedup} | {r.peak_gib:.2f} | {r.reserved_gib:.2f} | {r.new_graphs} | {r.captures} |"
    )


if __name__ == "__main__":
    main()
