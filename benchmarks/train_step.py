"""LoRA training step at batch size 1: tokens/s, TFLOP/s and peak memory, one change at a time.

Contract: builds random-weight Qwen2-shaped models (the 16-token ARC vocabulary, bf16 on CUDA) with a
LoRA adapter (rank 16, every linear layer of the decoder), wraps each in a `Resident` and times
`tasks_lib.train.Step` (the pipeline's own step) at each sequence length. Row 1 is plain PEFT +
transformers (full logits, the model's loss), measured in the same run; each later row adds one
change to the row above it (see ROWS). Sequences are random ids with labels on alternating spans
(as prompts and output grids alternate in a task); the host-side augmentation and encoding of the
pipeline are not timed.

FLOPs counted: 4 N per token, N = weights of the base model's linear layers (attention and MLP
projections of every decoder layer, and the head), i.e. 2 N forward and 2 N backward for the input
gradients of the frozen base. Not counted: attention scores (QK^T, PV), the LoRA matmuls, and the
recomputed forward under activation checkpointing. The matrix rate of the card is measured in the
same run (an 8192^3 bf16 product), and each row's TFLOP/s is also given as a share of it.

Also checks, per shape: the fast step's loss and gradients against row 1 at the first length, and
that an adapter reset followed by a new task of another length builds no new compiled graph.

Usage: python benchmarks/train_step.py [--shapes 0.5b,7b] [--tokens 1024,2048,4096,8192]
       [--steps 4] [--out DIR] [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks_lib.config import ModelConfig, TrainConfig  # noqa: E402
from tasks_lib.encoding import IGNORE, Encoded, Vocab, build_arc_tokenizer  # noqa: E402
from tasks_lib.model import Resident  # noqa: E402
from tasks_lib.train import Step  # noqa: E402

SHAPES = {
    "tiny": dict(hidden=128, layers=2, heads=4, kv_heads=2, intermediate=384),  # CPU dry runs
    "0.5b": dict(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864),  # Qwen2.5-0.5B
    "7b": dict(hidden=3584, layers=28, heads=28, kv_heads=4, intermediate=18944),  # Qwen2.5-7B
}
LORA_RANK = 16
SPAN = 200  # tokens per prompt/output span of the synthetic sequences

_PLAIN = dict(step="simple", compile="off", fused_adamw="off", adapter_autocast="off", sync_every=1)
_FAST = dict(_PLAIN, step="fast")
# (name, reference loss?, TrainConfig fields); each row changes one thing against the row above.
ROWS: list[tuple[str, bool, dict]] = [
    ("plain PEFT + HF loss (full logits)", True, _PLAIN),
    ("+ logits on output tokens only", False, _PLAIN),
    ("+ own layer loop, chunked CE (1024 positions)", False, dict(_FAST, ce_chunk=1024)),
    ("+ bf16 LoRA matmuls (autocast), one CE chunk", False, dict(_FAST, adapter_autocast="on")),
    ("+ torch.compile: layers + fused norm/head/CE", False, dict(_FAST, adapter_autocast="on", compile="inductor")),
    ("+ fused AdamW (= fast default)", False, dict(_FAST, adapter_autocast="on", compile="inductor", fused_adamw="on")),
    ("+ host sync every 8 steps", False, dict(_FAST, adapter_autocast="on", compile="inductor", fused_adamw="on", sync_every=8)),
    ("+ activation checkpointing, every layer", False, dict(_FAST, adapter_autocast="on", compile="inductor", fused_adamw="on", sync_every=8, checkpoint_min_tokens=1)),
    ("row 6, whole forward + loss as one graph", False, dict(_FAST, adapter_autocast="on", compile="inductor", fused_adamw="on", compile_scope="model")),
]

DEFAULT_ROW = 6  # the fast step as the pipeline takes it on CUDA (TrainConfig defaults)


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
    error: str = ""


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
    step = Step(res, cfg, reference=reference)
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

    step = Step(res, cfg, reference=reference)
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


def check_fast_against_plain(res: Resident, cfg: TrainConfig, tokens: int) -> dict:
    """Loss and gradients of row 1 and of the fast step against row 1 with an fp32 base, on one sequence,
    with nonzero B so every gradient is live."""
    import torch

    res.reset(1)
    with torch.no_grad():
        for name, p in res.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.02)
    res.model.train()
    enc = sequence(tokens, 99)
    out = {}
    for label, step in (("plain", Step(res, TrainConfig(**_PLAIN), reference=True)), ("fast", Step(res, cfg))):
        t0 = time.perf_counter()
        loss = step.loss(enc)
        step.opt.zero_grad(set_to_none=True)
        loss.backward()
        _sync(res.device)
        out[label] = (loss.item(), [p.grad.float().clone() for p in step.params], time.perf_counter() - t0)
        step.close()
    base = [p for name, p in res.model.named_parameters() if "lora_" not in name]
    dtype = base[0].dtype
    for p in base:  # an fp32 copy of the base in place, for the plain step in full precision
        p.data = p.data.float()
    step = Step(res, TrainConfig(**_PLAIN), reference=True)
    loss = step.loss(enc)
    step.opt.zero_grad(set_to_none=True)
    loss.backward()
    exact = (loss.item(), [p.grad.float().clone() for p in step.params])
    step.close()
    for p in base:
        p.data = p.data.to(dtype)
    res.model.eval()

    def errors(grads: list) -> list[float]:
        return sorted(float((a - b).norm() / b.norm()) for a, b in zip(grads, exact[1]) if float(b.norm()) > 0)

    (lp, gp, _), (lf, gf, first_call) = out["plain"], out["fast"]
    plain_err, fast_err = errors(gp), errors(gf)
    return {
        "loss_fp32": exact[0],
        "loss_plain": lp,
        "loss_fast": lf,
        "grad_rel_err_vs_fp32_plain_median_max": [plain_err[len(plain_err) // 2], plain_err[-1]],
        "grad_rel_err_vs_fp32_fast_median_max": [fast_err[len(fast_err) // 2], fast_err[-1]],
        "fast_first_call_s": first_call,
    }


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


def main(argv: list[str] | None = None) -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="0.5b,7b")
    parser.add_argument("--tokens", default="1024,2048,4096,8192")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per row and length")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rows", default="", help="comma list of row numbers (1-based); default all")
    parser.add_argument("--compile", default="inductor", help="backend for the compiled rows (eager for CPU dry runs)")
    parser.add_argument("--budget", type=float, default=1e9, help="seconds; rows not started by then are skipped")
    parser.add_argument("--out", default="", help="folder for results.json and the log")
    parser.add_argument("--profile", default="", help="row numbers to profile (torch.profiler, first length) after timing")
    parser.add_argument("--dtype", default="", help="bfloat16 | float32; default bfloat16 on CUDA, float32 on CPU")
    args = parser.parse_args(argv)
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
        print(f"\n{shape}: built in {res.load_seconds:.1f} s, N={n / 1e6:.0f}M linear weights", flush=True)
        fast_cfg = TrainConfig(**dict(ROWS[DEFAULT_ROW - 1][2], compile=args.compile))
        try:
            checks[shape] = check_fast_against_plain(res, fast_cfg, lengths[0])
        except Exception as err:  # reported; the timing rows still run
            checks[shape] = {"error": f"{type(err).__name__}: {str(err)[:200]}"}
            print(traceback.format_exc(), flush=True)
        checks[shape]["N"] = n
        print(f"{shape}: correctness {checks[shape]}", flush=True)
        for r in rows:
            name, reference, fields = ROWS[r - 1]
            fields = dict(fields, compile=args.compile) if fields["compile"] != "off" else fields
            cfg = TrainConfig(lr=1e-4, **fields)
            for tokens in lengths:
                result = Result(shape, r, name, tokens)
                if time.perf_counter() - started > args.budget:
                    result.error = "skipped (budget)"
                else:
                    res.reset(r)
                    compiles = res.compiles
                    try:
                        result.seconds, result.peak_gib, result.reserved_gib = time_row(res, cfg, reference, tokens, args.steps, args.warmup)
                    except torch.OutOfMemoryError:
                        result.error = "OOM"
                    except Exception as err:  # a failing row is reported and the other rows still run
                        result.error = f"{type(err).__name__}: {str(err)[:200]}"
                        print(traceback.format_exc(), flush=True)
                    result.new_graphs = res.compiles - compiles
                    gc.collect()
                    if device == "cuda":
                        torch.cuda.empty_cache()
                results.append(result)
                print(_line(result, n, peak, results), flush=True)
        for r in [int(x) for x in args.profile.split(",") if x]:
            _, reference, fields = ROWS[r - 1]
            fields = dict(fields, compile=args.compile) if fields["compile"] != "off" else fields
            profile_row(res, TrainConfig(lr=1e-4, **fields), reference, lengths[0], f"{shape} row {r}", args.out)
        before = res.compiles
        res.reset(12345, "another-task")
        other = max(64, (lengths[0] * 3) // 2 + 7)
        time_row(res, TrainConfig(lr=1e-4, **dict(ROWS[DEFAULT_ROW - 1][2], compile=args.compile)), False, other, 1, 1)
        checks[shape]["graphs_compiled"] = before
        checks[shape]["new_graphs_after_reset_and_new_length"] = res.compiles - before
        print(f"{shape}: graphs compiled {before}; after a reset and a {other}-token task: {res.compiles - before} new", flush=True)
        del res
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(
            json.dumps({"card": card, "torch": torch.__version__, "matmul_tflops": peak, "checks": checks, "rows": [vars(r) for r in results]}, indent=1)
        )
    print(f"\n## {card}, bf16 matmul {peak:.0f} TFLOP/s (measured), LoRA r={LORA_RANK}, batch 1, vocab 16")
    print("| shape | row | tokens | ms/step | tokens/s | TFLOP/s (4N) | % of matmul | x row 1 | peak GiB | reserved GiB | new graphs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(_line(r, checks[r.shape]["N"], peak, results))


def _line(r: Result, n: int, peak: float, results: list[Result]) -> str:
    if r.seconds is None:
        return f"| {r.shape} | {r.row} {r.name} | {r.tokens} | {r.error} | | | | | | | {r.new_graphs} |"
    tps = r.tokens / r.seconds
    tflops = 4 * n * tps / 1e12
    base = next((b for b in results if b.shape == r.shape and b.row == 1 and b.tokens == r.tokens and b.seconds), None)
    speedup = f"{base.seconds / r.seconds:.2f}" if base else "-"
    return (
        f"| {r.shape} | {r.row} {r.name} | {r.tokens} | {1e3 * r.seconds:.1f} | {tps:,.0f} | {tflops:.1f} | "
        f"{100 * tflops / peak:.0f} | {speedup} | {r.peak_gib:.2f} | {r.reserved_gib:.2f} | {r.new_graphs} |"
    )


if __name__ == "__main__":
    main()
