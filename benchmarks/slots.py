"""Benchmarks of the slots: what a task switch costs, and how busy the slots keep the GPUs.

Contract: `python -m benchmarks.slots <command>`; nothing is downloaded, every model is built here with
random weights and the ARC tokenizer. The library is used as the pipeline uses it, never re-implemented.

- `build DIR --shape S`: a Qwen2-shaped causal LM (`0.5b`, `7b`, or `debug` for CPU) saved with
  `save_pretrained` next to the ARC tokenizer, so `tasks_lib.adapting.model.load_base` loads it.
- `switch --shape S --switches N --json F`: one process, one model: seconds per task switch done by
  reloading (`load_base`: from_pretrained from warm disk + get_peft_model) against the resident slot
  (`Resident.reset` in place + a new AdamW), and of loading a saved adapter in place (the sample step's
  switch). Between two switches one untimed train step fills the adapter and the optimizer state.
- `all --out DIR`: what the GPU call runs. Switch cost for the `--shapes`; then, over the same tasks and
  profile, the pipeline's direct call (`tasks_lib.running.pipeline.run_direct`: the submit flow's code path without
  Prefect) for every `GPUSxSLOTS` config; then switch cost for the `--shapes-after`. Writes `results.json` (with the
  NVML samples) under `--out`, updated after each part so a cut-off run keeps what it finished.
- `report results.json`: the markdown tables for `benchmarks/results/slots.md` (results saved before the pipeline
  was one code path also hold a `naive` config: one process reloading the model for every task; the table
  compares with it where present).

Fixed work per task: the profile's `train.max_steps` and `sample.views` x `samples_per_view`, with a run
budget so large that no deadline cuts them (a task stopped early is counted in `cut_by_deadline`).
Timing windows start once every slot has loaded the model (when the first task starts); the steady-state window starts once every slot has finished its first task, which pays one-off
costs such as compiling the train step. GPU busy is NVIDIA's utilization counter (NVML, polled); step occupancy is the share of the
window in which a GPU had a train or sample step in flight, as the parent process saw it (the records' `spans`).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from tasks_lib.arc.data import load_challenges, write_kaggle
from tasks_lib.arc.run_record import Report
from tasks_lib.arc.encoding import output_budget
from tasks_lib.config import load_profile


@dataclass(frozen=True)
class Shape:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    tie_embeddings: bool


SHAPES = {
    "0.5b": Shape(896, 24, 14, 2, 4864, True),  # Qwen2.5-0.5B
    "7b": Shape(3584, 28, 28, 4, 18944, False),  # Qwen2.5-7B
    "debug": Shape(128, 2, 4, 2, 256, True),  # for a CPU dry run
}


def _device() -> str:
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def build(path: Path, shape: Shape, device: str) -> dict:
    """Save a random-weight Qwen2-shaped model (bf16 on CUDA, fp32 on CPU) with the ARC tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from tasks_lib.arc.encoding import build_arc_tokenizer

    tok = build_arc_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=8192,
        tie_word_embeddings=shape.tie_embeddings,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    t0 = time.perf_counter()
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM._from_config(config, dtype=dtype)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    params = sum(p.numel() for p in model.parameters())
    del model
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"parameters": params, "build_seconds": time.perf_counter() - t0}


def _summary(xs: list[float]) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs), "all": xs}


def switch(shape_name: str, work: Path, switches: int) -> dict:
    """Task-switch seconds: reload vs resident reset (+ new AdamW) vs in-place adapter load."""
    import torch

    from tasks_lib.adapting.model import load_base
    from tasks_lib.adapting.train_steps import output_loss

    device = _device()
    model_dir = work / "models" / shape_name
    built = build(model_dir, SHAPES[shape_name], device)
    gpu_profile = load_profile("h100")  # LoRA rank, targets and learning rate of the GPU profile
    lr = gpu_profile.train.lr
    cfg = replace(gpu_profile.model, path=str(model_dir), dtype="bfloat16" if device.startswith("cuda") else "float32")
    reloads: list[float] = []
    res = None
    for _ in range(switches + 1):  # the first load is reported apart: it may read the files from disk
        res = None
        gc.collect()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        t0 = time.perf_counter()
        res = load_base(cfg, device)  # synchronizes the device before it returns
        reloads.append(time.perf_counter() - t0)
    vocab = len(res.tokenizer)
    ids = torch.randint(3, vocab, (1, 512), device=device)  # (1, T): a stand-in task sequence
    labels = ids.clone()  # (1, T)

    def step(opt: torch.optim.Optimizer) -> None:
        res.model.train()
        loss = output_loss(res, ids, labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        res.model.eval()

    resets: list[float] = []
    opt = torch.optim.AdamW(res.trainable_parameters(), lr=lr)
    for i in range(switches + 1):
        step(opt)  # untimed: the adapter and the optimizer state now hold a task's work
        _sync(device)
        t0 = time.perf_counter()
        res.reset(i, f"task-{i}")
        opt = torch.optim.AdamW(res.trainable_parameters(), lr=lr)
        _sync(device)
        resets.append(time.perf_counter() - t0)
    adapter_dir = work / "adapters" / shape_name
    res.save_adapter(adapter_dir)
    loads: list[float] = []
    for i in range(switches + 1):
        _sync(device)
        t0 = time.perf_counter()
        res.load_adapter(adapter_dir, f"task-{i}")
        _sync(device)
        loads.append(time.perf_counter() - t0)
    return {
        "shape": shape_name,
        "dims": asdict(SHAPES[shape_name]),
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
        "parameters": built["parameters"],
        "lora_rank": cfg.lora_rank,
        "build_seconds": built["build_seconds"],
        "first_load_seconds": reloads[0],
        "reload": _summary(reloads[1:]),
        "reset": _summary(resets[1:]),  # the first reset also allocates the optimizer's first state
        "adapter_load": _summary(loads[1:]),
    }


# ---- throughput -------------------------------------------------------------------------------------


def select_tasks(source: str, n: int, folder: Path) -> tuple[Path, Path, list[str]]:
    """Write the `n` tasks of `source` with the shortest answers (`output_budget`) as Kaggle JSON files."""
    data = load_challenges(source)
    chosen = sorted(data.tasks, key=lambda t: (output_budget(t), t.id))[:n]
    cpath, spath = write_kaggle(chosen, folder)
    return cpath, spath, [t.id for t in chosen]


def write_profile(path: Path, model: str, device: str, gpus: int, slots_per_device: int, train_steps: int, views: int,
                  samples: int, compile_mode: str = "auto", backend: str = "hf") -> Path:
    """A profile with fixed work per task and a budget no task can reach."""
    import yaml

    on_cuda = device == "cuda"
    prof = {
        "model": {"path": model, "dtype": "bfloat16" if on_cuda else "float32", "lora_rank": 32 if on_cuda else 8, "max_tokens": 8192},
        "train": {"max_steps": train_steps, "lr": 0.0002, "warmup_steps": 2, "compile": compile_mode},
        "sample": {"views": views, "samples_per_view": samples, "backend": backend},
        "budget": {"total_seconds": 1.0e6, "reserve_seconds": 10.0},
        "slots": {"device": device, "gpus": gpus, "slots_per_device": slots_per_device, "cpu_slots": max(1, gpus) * slots_per_device,
                  "threads_per_slot": 1 if not on_cuda else 2, "step_grace_seconds": 600.0},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(prof, sort_keys=False))
    return path


def part_of(report: Report) -> dict:
    """A run's report as timing rows: one per task this run solved, with its slot,
    GPU, the start and end of each step (the record's `spans`), its train steps and samples; the window runs from the
    first task's start (every slot has loaded the model by then) to the last task's end."""
    rows = []
    for entry in report.tasks:
        t = entry.result
        if entry.resumed or not t.spans:
            continue
        spans = t.spans
        row = {"task": t.task_id, "slot": t.slot, "gpu": report.devices[t.slot],
               "start": min(a for a, _ in spans.values()), "end": max(b for _, b in spans.values()), **t.timings}
        row.update({f"{step}_start": spans[step][0] for step in ("train", "sample") if step in spans})
        rows.append({**row, "train_steps": t.steps, "train_stopped_by": None if t.train is None else t.train.stopped_by,
                     "generated": t.sample_stats.generated,
                     "sample_stopped_by": None if t.sample is None else t.sample.stats.stopped_by,
                     "status": "ok" if t.status == "ok" else f"{t.status}: {t.error}"})
    started = report.started or 0.0
    start = min((r["start"] for r in rows), default=started)
    return {"preload_seconds": start - started, "start": start, "end": max((r["end"] for r in rows), default=start),
            "rows": rows, "score": None if report.score is None else report.score.to_json(), "slots": report.slots,
            "shared": None if report.shared is None else report.shared.to_json()}


def run_part(challenges: Path, solutions: Path, profile: Path, out: Path) -> dict:
    """Every task through the pipeline's direct call (`tasks_lib.running.pipeline.run_direct`), as timing rows."""
    from tasks_lib.running.pipeline import run_direct

    return part_of(run_direct(str(challenges), out, str(profile), str(solutions)))


# ---- GPU busy ---------------------------------------------------------------------------------------


class UtilSampler:
    """Polls NVML's GPU utilization (percent of time a kernel ran, per the driver's sample period)."""

    def __init__(self, period: float = 0.05):
        self.period = period
        self.samples: list[tuple[float, list[int]]] = []
        self.handles: list[Any] = []
        self._stop = threading.Event()
        try:
            import pynvml

            pynvml.nvmlInit()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            self._nvml = pynvml
        except (ImportError, OSError) as err:
            print(f"no NVML ({err}): GPU busy is not measured", flush=True)
        except Exception as err:  # pynvml raises its own NVMLError types when no driver is present
            print(f"no NVML ({type(err).__name__}: {err}): GPU busy is not measured", flush=True)
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def start(self) -> "UtilSampler":
        if self.handles:
            self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            self.samples.append((now, [self._nvml.nvmlDeviceGetUtilizationRates(h).gpu for h in self.handles]))
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def busy_fraction(samples: list[tuple[float, list[int]]], gpu: int, start: float, end: float) -> float | None:
    """Mean utilization (0-1) of `gpu` over the samples taken inside [start, end]; None without samples."""
    inside = [vals[gpu] for t, vals in samples if start <= t <= end and gpu < len(vals)]
    return sum(inside) / (100.0 * len(inside)) if inside else None


def occupancy(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    """Share of [start, end] covered by the union of `intervals`."""
    covered = 0.0
    cur_lo = cur_hi = None
    for lo, hi in sorted((max(lo, start), min(hi, end)) for lo, hi in intervals):
        if hi <= lo:
            continue
        if cur_hi is None or lo > cur_hi:
            if cur_hi is not None:
                covered += cur_hi - cur_lo
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    if cur_hi is not None:
        covered += cur_hi - cur_lo
    return covered / (end - start) if end > start else 0.0


def tasks_done(rows: list[dict], start: float, end: float) -> float:
    """Tasks finished inside [start, end], a task that straddles an edge counting by the share inside."""
    done = 0.0
    for r in rows:
        span = r["end"] - r["start"]
        inside = min(r["end"], end) - max(r["start"], start)
        done += 1.0 if span <= 0 else max(0.0, inside) / span
    return done


def steady_start(rows: list[dict]) -> float:
    """When every slot has finished its first task (which pays one-off costs such as compiling)."""
    firsts: dict[Any, float] = {}
    for r in sorted(rows, key=lambda r: r["start"]):
        firsts.setdefault(r["slot"], r["end"])
    return max(firsts.values())


def _per_gpu(rows: list[dict], start: float, end: float, samples: list | None) -> dict[str, dict]:
    per_gpu: dict[str, dict] = {}
    for gpu in sorted({r["gpu"] for r in rows}):
        mine = [r for r in rows if r["gpu"] == gpu]
        steps = [(r["train_start"], r["train_start"] + r["train"]) for r in mine if "train" in r]
        steps += [(r["sample_start"], r["sample_start"] + r["sample"]) for r in mine if "sample" in r]
        busy = busy_fraction(samples, int(gpu), start, end) if samples and gpu.isdigit() else None
        per_gpu[gpu] = {"busy": busy, "occupancy": occupancy(steps, start, end), "tasks": len(mine)}
    return per_gpu


def steady(part: dict, samples: list | None) -> dict:
    """Tasks/hour, busy and occupancy from `steady_start` to the end."""
    rows, end = part["rows"], part["end"]
    start = steady_start(rows)
    done = tasks_done(rows, start, end)
    return {"offset": start - part["start"], "wall_seconds": end - start, "tasks": done,
            "tasks_per_hour": 3600.0 * done / (end - start) if end > start else 0.0, "per_gpu": _per_gpu(rows, start, end, samples)}


def summarize(name: str, part: dict, samples: list | None) -> dict:
    """Tasks/hour, GPU busy and step occupancy per GPU, and work totals of one config."""
    rows, start, end = part["rows"], part["start"], part["end"]
    per_gpu = _per_gpu(rows, start, end, samples)
    wall = end - start
    return {
        "name": name,
        "slots": part["slots"],
        "tasks": len(rows),
        "failed": sum(r["status"] != "ok" for r in rows),
        "cut_by_deadline": sum(r["train_stopped_by"] == "deadline" or r["sample_stopped_by"] == "deadline" for r in rows),
        "wall_seconds": wall,
        "tasks_per_hour": 3600.0 * len(rows) / wall if wall > 0 else 0.0,
        "preload_seconds": part.get("preload_seconds"),
        "per_gpu": per_gpu,
        "train_steps": sum(r["train_steps"] for r in rows),
        "generated": sum(r["generated"] for r in rows),
        "median_load": statistics.median(r["load"] for r in rows if "load" in r),
        "median_train": statistics.median(r["train"] for r in rows if "train" in r),
        "median_sample": statistics.median(r["sample"] for r in rows if "sample" in r),
        "median_vote": statistics.median(r["vote"] for r in rows),
        "score": part.get("score"),
        "steady": steady(part, samples),
    }


# ---- the GPU call -----------------------------------------------------------------------------------


def _subprocess(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "benchmarks.slots", *args], env={**os.environ, **env}, cwd=str(ROOT),
                                stdout=fh, stderr=subprocess.STDOUT)


def _wait(proc: subprocess.Popen, deadline: float) -> int:
    """Wait for a part until the run's hard deadline; kill it there (its result is then an error)."""
    try:
        return proc.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def run_all(args: argparse.Namespace) -> dict:
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # CUDA indices = NVML indices
    deadline = time.time() + args.seconds
    log = out / "parts.log"
    results: dict[str, Any] = {"args": vars(args), "switch": {}, "configs": {}, "skipped": []}

    def save() -> None:
        results["nvml"] = list(sampler.samples)  # (time, [utilization % per GPU]): busy over any window can be recomputed
        (out / "results.json").write_text(json.dumps(results, indent=1))

    sampler = UtilSampler().start()
    from tasks_lib.running.slots import visible_gpu_count

    n_gpus = visible_gpu_count()
    device = "cuda" if n_gpus else "cpu"
    results["gpus_visible"] = n_gpus
    if n_gpus:
        import pynvml

        results["device_names"] = [pynvml.nvmlDeviceGetName(h) for h in sampler.handles]
    def switch_parts(shapes: str) -> None:
        for shape in filter(None, shapes.split(",")):
            if time.time() > deadline - args.reserve:
                results["skipped"].append(f"switch {shape}: out of time")
                continue
            js = work / f"switch-{shape}.json"
            proc = _subprocess(["switch", "--shape", shape, "--switches", str(args.switches), "--work", str(work), "--json", str(js)],
                               {"CUDA_VISIBLE_DEVICES": "0"} if n_gpus else {}, log)
            code = _wait(proc, deadline)
            results["switch"][shape] = json.loads(js.read_text()) if code == 0 else {"error": f"exit {code} (see parts.log)"}
            print(f"switch {shape}: {results['switch'][shape].get('reload', {}).get('median')} s reload, "
                  f"{results['switch'][shape].get('reset', {}).get('median')} s reset", flush=True)
            save()

    switch_parts(args.shapes)
    if args.tasks:
        challenges, solutions, ids = select_tasks(args.source, args.tasks, work / "tasks")
        results["task_ids"] = ids
        model = str(Path(args.model).resolve()) if not args.model.startswith("shape:") else str(work / "models" / args.model[6:])
        if args.model.startswith("shape:") and not (Path(model) / "config.json").exists():
            build(Path(model), SHAPES[args.model[6:]], _device())
        results["throughput_model"] = args.model
        configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]
        for gpus, per in configs:
            name = f"{gpus}x{per}"
            if gpus > max(1, n_gpus):
                results["skipped"].append(f"{name}: only {n_gpus} GPUs")
                continue
            if time.time() > deadline - args.reserve:
                results["skipped"].append(f"{name}: out of time")
                continue
            prof = write_profile(work / "profiles" / f"{name}.yaml", model, device, gpus, per, args.train_steps, args.views, args.samples,
                                 args.compile, args.backend)
            part = run_part(challenges, solutions, prof, work / "runs" / name)
            results["configs"][name] = {"summary": summarize(name, part, sampler.samples), "part": part}
            s = results["configs"][name]["summary"]
            print(f"{name}: {s['tasks']} tasks in {s['wall_seconds']:.1f}s, {s['tasks_per_hour']:.0f}/h, "
                  f"busy {[v['busy'] for v in s['per_gpu'].values()]}", flush=True)
            save()
    switch_parts(args.shapes_after)
    sampler.stop()
    save()
    return results


# ---- report -----------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _label(name: str) -> str:
    if name == "naive":
        return "naive (reload per task)"
    gpus, per = name.split("x")
    return f"{gpus} GPU x {per} slot"


def baseline_config(configs: dict) -> str | None:
    """The config the others are compared with: `1x1`, else the first one-GPU config (e.g. `1x4`)."""
    if "1x1" in configs:
        return "1x1"
    return next((name for name in configs if name.startswith("1x")), None)


def report(results: dict) -> str:
    """Markdown: switch cost, throughput per config, and per-task timelines."""
    lines = []
    if results.get("switch"):
        lines += ["| shape | params | card | first load s | reload median s (min-max) | reset + new AdamW median ms (min-max) | adapter load median ms | n |",
                  "|---|---|---|---|---|---|---|---|"]
        for shape, s in results["switch"].items():
            if "error" in s:
                lines.append(f"| {shape} | failed: {s['error']} | | | | | | |")
                continue
            r, z, a = s["reload"], s["reset"], s["adapter_load"]
            lines.append(f"| {shape} | {s['parameters'] / 1e9:.2f}B | {s['device_name']} | {s['first_load_seconds']:.2f} | "
                         f"{r['median']:.3f} ({r['min']:.3f}-{r['max']:.3f}) | {1e3 * z['median']:.1f} ({1e3 * z['min']:.1f}-{1e3 * z['max']:.1f}) | "
                         f"{1e3 * a['median']:.1f} | {r['n']} |")
        lines.append("")
    configs = results.get("configs", {})
    if configs:
        samples = results.get("nvml")
        for c in configs.values():
            if "steady" not in c["summary"] and "part" in c:
                c["summary"]["steady"] = steady(c["part"], samples)
        base_name = baseline_config(configs)
        base = configs[base_name]["summary"] if base_name else None
        naive = configs.get("naive", {}).get("summary")
        lines += ["Whole window (from the first load to the last task; includes each slot's first task):", "",
                  "| config | slots | tasks | wall s | tasks/hour | vs 1 GPU | vs naive | GPU busy (NVML) | step occupancy | preload s | "
                  "median load / train / sample / vote s | train steps | samples |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, c in configs.items():
            s = c["summary"]
            busy = " / ".join(_pct(g["busy"]) for g in s["per_gpu"].values())
            occ = " / ".join(_pct(g["occupancy"]) for g in s["per_gpu"].values())
            vs1 = f"{s['tasks_per_hour'] / base['tasks_per_hour']:.2f}x" if base else "n/a"
            vsn = f"{s['tasks_per_hour'] / naive['tasks_per_hour']:.2f}x" if naive else "n/a"
            pre = "n/a" if s["preload_seconds"] is None else f"{s['preload_seconds']:.1f}"
            lines.append(f"| {_label(name)} | {s['slots']} | "
                         f"{s['tasks']} ({s['failed']} failed, {s['cut_by_deadline']} cut) | {s['wall_seconds']:.1f} | {s['tasks_per_hour']:.0f} | "
                         f"{vs1} | {vsn} | {busy} | {occ} | {pre} | {s['median_load']:.3f} / {s['median_train']:.2f} / "
                         f"{s['median_sample']:.2f} / {s['median_vote']:.3f} | {s['train_steps']} | {s['generated']} |")
        if all("steady" in c["summary"] for c in configs.values()):
            lines += ["", "Steady state (from when every slot has finished its first task to the last task; straddling tasks count "
                      "by their share inside):", "",
                      "| config | from s | wall s | tasks | tasks/hour | vs 1 GPU | vs naive | GPU busy (NVML) | step occupancy |",
                      "|---|---|---|---|---|---|---|---|---|"]
            for name, c in configs.items():
                t = c["summary"]["steady"]
                b1 = base["steady"]["tasks_per_hour"] if base else None
                bn = naive["steady"]["tasks_per_hour"] if naive else None
                vs1 = f"{t['tasks_per_hour'] / b1:.2f}x" if b1 else "n/a"
                vsn = f"{t['tasks_per_hour'] / bn:.2f}x" if bn else "n/a"
                lines.append(f"| {_label(name)} | {t['offset']:.1f} | {t['wall_seconds']:.1f} | {t['tasks']:.1f} | {t['tasks_per_hour']:.0f} | "
                             f"{vs1} | {vsn} | "
                             f"{' / '.join(_pct(g['busy']) for g in t['per_gpu'].values())} | "
                             f"{' / '.join(_pct(g['occupancy']) for g in t['per_gpu'].values())} |")
        lines.append("")
    return "\n".join(lines)


def timeline(part: dict) -> str:
    """Per-task table: when each task started on which slot, and its load / train / sample / vote seconds."""
    lines = ["| task | slot | GPU | start s | load s | train s (steps) | sample s (samples) | vote s | total s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(part["rows"], key=lambda r: r["start"]):
        lines.append(f"| {r['task']} | {r['slot']} | {r['gpu']} | {r['start'] - part['start']:.2f} | {r.get('load', 0.0):.3f} | "
                     f"{r.get('train', 0.0):.2f} ({r['train_steps']}) | {r.get('sample', 0.0):.2f} ({r['generated']}) | "
                     f"{r['vote']:.3f} | {r['end'] - r['start']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.slots", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a random-weight model of a named shape")
    b.add_argument("path")
    b.add_argument("--shape", choices=sorted(SHAPES), default="debug")
    s = sub.add_parser("switch", help="task-switch cost of one shape")
    s.add_argument("--shape", choices=sorted(SHAPES), default="debug")
    s.add_argument("--switches", type=int, default=10)
    s.add_argument("--work", default="/tmp/arc-ttt-bench")
    s.add_argument("--json", required=True)
    a = sub.add_parser("all", help="everything the GPU call measures")
    a.add_argument("--out", required=True, help="results.json and parts.log go here")
    a.add_argument("--work", default="/tmp/arc-ttt-bench", help="models, runs and profiles (large files)")
    a.add_argument("--shapes", default="0.5b", help="shapes whose switch cost is measured first, comma-separated ('' for none)")
    a.add_argument("--shapes-after", default="7b", help="shapes measured after the throughput part")
    a.add_argument("--switches", type=int, default=10)
    a.add_argument("--source", default="arc1/eval")
    a.add_argument("--tasks", type=int, default=20, help="tasks with the shortest answers in --source (0: no throughput part)")
    a.add_argument("--model", default="models/arc-tiny", help="a model directory, or shape:NAME to build one")
    a.add_argument("--configs", default="1x1,2x1,1x2,2x2", help="GPUSxSLOTS_PER_GPU, comma-separated, run in this order")
    a.add_argument("--compile", default="auto", help="train.compile of the profile (auto: as shipped; off: no per-slot compile warm-up)")
    a.add_argument("--train-steps", type=int, default=32)
    a.add_argument("--views", type=int, default=2)
    a.add_argument("--samples", type=int, default=1)
    a.add_argument("--backend", default="hf", help="sample.backend of the profile (hf, cached, dfs)")
    a.add_argument("--seconds", type=float, default=280.0, help="hard end: parts still running then are killed")
    a.add_argument("--reserve", type=float, default=20.0, help="no part starts later than this before the end")
    r = sub.add_parser("report", help="markdown tables from results.json")
    r.add_argument("results")
    r.add_argument("--timeline", default="", help="comma-separated config names whose per-task timeline to print")
    args = p.parse_args(argv)
    if args.cmd == "build":
        print(json.dumps(build(Path(args.path), SHAPES[args.shape], _device())))
    elif args.cmd == "switch":
        Path(args.json).write_text(json.dumps(switch(args.shape, Path(args.work), args.switches), indent=1))
    elif args.cmd == "all":
        results = run_all(args)
        print(report(results))
        name = baseline_config(results["configs"])
        if name is not None:
            print(f"\n{name} timeline\n" + timeline(results["configs"][name]["part"]))
    else:
        results = json.loads(Path(args.results).read_text())
        print(report(results))
        for name in filter(None, args.timeline.split(",")):
            print(f"\n**{name}**\n\n" + timeline(results["configs"][name]["part"]))


if __name__ == "__main__":
    main()
