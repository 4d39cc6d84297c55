"""Studies: variants (no TTT, one shared adapter, per-task TTT, hyperparameters) x seeds at equal budget, on one
host's GPUs, without a Prefect server.

Contract: `python -m benchmarks.study run ...` turns every (variant, seed) into a sweep point (`tasks_lib.running.sweep_points`:
a profile YAML of its own, its task file, its run folder `--work`/runs/<variant>-s<seed>) and runs each point as
`submit` would, through the pipeline's direct call (`tasks_lib.running.pipeline.run_direct`, in a subprocess:
`python -m benchmarks.study one`), several at once on disjoint GPUs (`CUDA_VISIBLE_DEVICES` per subprocess, GPU
lease files per run), the rest queued. The planned points are also written to `--out`/points.json, with the
parameters `flows/sweep.py` takes, so the same study runs on a Prefect work pool (the run folders and task files
must then lie on a filesystem every worker sees). A run starts only if it can end (its budget + `--startup`) before the hard end `--seconds` after the
driver started; runs still going at the hard end are killed, and what they finished is kept. Runs side by side
split the host's cores: each slot worker gets cores / (GPUs listed x slots) threads unless the profile sets
`slots.threads_per_slot`.

Inputs: a base profile (with `--common` overrides for every variant), a model directory, a task source and the first `--tasks` of its tasks in sorted id
order (or smallest first, `--order smallest`), named variants, seeds, GPUs and slots per GPU, and the total budget per run (seconds, model load included,
as a real run counts it). A variant is a name from `CATALOG` (YAML-style overrides on the base profile) or
`NAME=JSON` with keys `base` (a catalog name), `overrides`, and optionally its own `tasks`, `gpus` (per run),
`seeds`, `budget` and `start` (its first task's index: variants with the same settings and consecutive `start`s
run one long run's tasks in chunks, each chunk with that run's budget per task, e.g. across device calls). Runs are
queued seed-major (every variant's first seed, then the second ...), in the order the variants are given.

Output under `--out`, rewritten atomically as each run ends (a killed call keeps what finished): `study.json`
(every run: status, score, tasks solved, per-task correct flags, steps and timings, the shared adapter's stats)
`study.md` (per variant: seeds, mean score, min-max spread, tasks solved, wall seconds, train steps per task;
then a paired per-task comparison of the `--pair` variants on the tasks they share), with the host's GPU names
under `cards`, and `points.json` (the sweep points). Run folders (`runs/<name>`, each with its `log.txt`) and
profiles stay under `--work`.

`python -m benchmarks.study combine FILE... --variants c0,c1,...` puts the chunks of one long run, from the
study.json of several calls, into one table with its totals (tasks solved, GPU-seconds, cards); a chunk re-run in a
later file (e.g. on another card) replaces the earlier one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from tasks_lib.arc.records import TaskResult
from tasks_lib.arc.run_record import REPORT_FILE, read_report
from tasks_lib.arc.store import RunDir
from tasks_lib.running import sweep_points

CATALOG: dict[str, dict] = {
    "per-task": {},  # the pipeline's normal mode: a fresh adapter per task
    "none": {"train": {"scope": "none"}},  # no test-time training: sample the base model
    "shared": {"train": {"scope": "shared"}},  # one adapter on all tasks first, same wall-time share as per-task training
    "rank8": {"model": {"lora_rank": 8}},
    "rank64": {"model": {"lora_rank": 64}},
    "steps64": {"train": {"max_steps": 64}},
    "steps150": {"train": {"max_steps": 150}},
    "lr1e-4": {"train": {"lr": 1.0e-4}},
    "lr1e-3": {"train": {"lr": 1.0e-3}},
    "lr3e-3": {"train": {"lr": 3.0e-3}},  # what the arc-base-5m probes used (docs/results.md)
    "views4": {"sample": {"views": 4}},
    "views16": {"sample": {"views": 16}},
    "dfs0.05": {"sample": {"backend": "dfs", "dfs_threshold": 0.05}},
    "dfs0.2": {"sample": {"backend": "dfs", "dfs_threshold": 0.2}},
}
SPEC_KEYS = {"base", "overrides", "tasks", "gpus", "seeds", "budget", "start"}


@dataclass
class Variant:
    name: str
    overrides: dict
    tasks: int | None = None  # None: the study's --tasks
    gpus: int = 1  # GPUs per run
    seeds: list[int] | None = None  # None: the study's --seeds
    budget: float | None = None  # None: the study's --budget
    start: int = 0  # index (in --order) of the variant's first task: a slice of a longer run, e.g. one chunk of 400


@dataclass
class RunSpec:
    key: str
    variant: str
    seed: int
    overrides: dict
    tasks: int
    gpus: int
    budget: float
    start: int = 0
    devices: list[str] = field(default_factory=list)


def _merge(base: dict, extra: dict) -> dict:
    out = {k: dict(v) for k, v in base.items()}
    for stage, values in extra.items():
        out.setdefault(stage, {}).update(values)
    return out


def parse_variant(text: str) -> Variant:
    """`NAME` from the catalog, or `NAME=JSON` (keys: base, overrides, tasks, gpus, seeds, budget, start)."""
    name, _, spec = text.partition("=")
    if not spec:
        if name not in CATALOG:
            raise ValueError(f"variant {name!r} is not in the catalog {sorted(CATALOG)}; give NAME=JSON")
        return Variant(name, CATALOG[name])
    raw = json.loads(spec)
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise ValueError(f"variant {name!r}: unknown keys {sorted(unknown)}; expected {sorted(SPEC_KEYS)}")
    base = CATALOG[raw["base"]] if "base" in raw else {}
    start = int(raw.get("start", 0))
    if start < 0:
        raise ValueError(f"variant {name!r}: start must be >= 0, got {start}")
    return Variant(name, _merge(base, raw.get("overrides", {})), raw.get("tasks"), int(raw.get("gpus", 1)),
                   raw.get("seeds"), raw.get("budget"), start)


def plan(variants: list[Variant], seeds: list[int], tasks: int, budget: float) -> list[RunSpec]:
    """Every (variant, seed) run, seed-major so every variant gets its first seed before any gets a second."""
    runs = []
    rounds = max(len(v.seeds if v.seeds is not None else seeds) for v in variants)
    for i in range(rounds):
        for v in variants:
            vs = v.seeds if v.seeds is not None else seeds
            if i < len(vs):
                runs.append(RunSpec(f"{v.name}/s{vs[i]}", v.name, vs[i], v.overrides, v.tasks or tasks, v.gpus, v.budget or budget,
                                    v.start))
    return runs


def write_profile(spec: RunSpec, base: str, model: str, device: str, slots: int, folder: Path, common: dict | None = None,
                  host_slots: int = 0) -> Path:
    """The run's profile: base + `common` overrides + variant overrides + seed, model, budget and slots; validated
    here, before any run. `host_slots`: slot workers on this host when every run the study starts at once is busy;
    unless the profile sets `slots.threads_per_slot`, each worker gets its share of the cores (a run alone would
    give every worker cores / its own slots, so runs side by side would oversubscribe the host)."""
    from tasks_lib.config import load_profile

    overrides = _merge(common or {}, spec.overrides)
    cfg = load_profile(base).replace(overrides)
    threads = cfg.slots.threads_per_slot or (max(1, (os.cpu_count() or 1) // host_slots) if host_slots else 0)
    return sweep_points.write_profile(base, _merge(overrides, {
        "model": {"path": str(Path(model).resolve())},
        "train": {"seed": spec.seed},
        "sample": {"seed": spec.seed},
        "budget": cfg.budget.for_total(spec.budget),
        "slots": {"device": device, "gpus": spec.gpus if device != "cpu" else 0, "slots_per_device": slots,
                  "cpu_slots": spec.gpus * slots, "lock_dir": str(folder / "locks"), "threads_per_slot": threads},
    }), folder / "profile.yaml")


def ordered_tasks(source: str, order: str) -> list:
    """Every task of `source`: in sorted id order (`id`), or smallest JSON first, ties by id (`smallest`, as
    `python flows/submit.py --order smallest` picks them)."""
    from tasks_lib.arc.data import load_challenges

    if order == "id":
        return sorted(load_challenges(source).tasks, key=lambda t: t.id)
    if order == "smallest":
        return load_challenges(source, order="smallest").tasks
    raise ValueError(f"--order must be id or smallest, got {order!r}")


def run_tasks(spec: RunSpec, tasks: list) -> list:
    """The slice of `tasks` (in --order) that `spec` runs: `spec.tasks` of them from `spec.start`."""
    if spec.start + spec.tasks > len(tasks):
        raise ValueError(f"{spec.key}: tasks {spec.start}..{spec.start + spec.tasks - 1} asked for, the source has {len(tasks)}")
    return tasks[spec.start:spec.start + spec.tasks]


def _task_entry(r: TaskResult) -> dict:
    return {"status": r.status, "correct": None if r.correct is None else list(r.correct), "steps": r.steps,
            "train_s": r.timings.get("train"), "sample_s": r.timings.get("sample"), "used_s": r.used_seconds,
            "budget_s": r.budget_seconds}


def collect(spec: RunSpec, run_dir: Path, status: str, wall: float, task_ids: list[str], log: Path) -> dict:
    """One run's record from its report.json in `run_dir`, or, for a run cut off, from the task results it wrote."""
    shared = None  # report_parts.SharedAdapter
    if (run_dir / REPORT_FILE).exists():
        report = read_report(run_dir)
        results = {t.task_id: t.result for t in report.tasks}
        shared = report.shared
    else:
        results = RunDir(run_dir).finished(task_ids)
    per_task = {tid: _task_entry(results[tid]) for tid in task_ids if tid in results and results[tid].correct is not None}
    solved_outputs = sum(sum(e["correct"]) for e in per_task.values())
    total_outputs = sum(len(e["correct"]) for e in per_task.values())
    steps = [e["steps"] for e in per_task.values()]
    record = {
        **asdict(spec),
        "status": status,
        "wall_seconds": round(wall, 1),
        "tasks_done": len(per_task),
        "solved_outputs": solved_outputs,
        "tasks_solved": sum(1 for e in per_task.values() if e["correct"] and all(e["correct"])),
        "shared": None if shared is None else shared.to_json(),
        "train_steps_per_task": (shared.train.steps / spec.tasks if shared and shared.train and shared.train.steps
                                 else (statistics.mean(steps) if steps else 0.0)),
        "per_task": per_task,
    }
    record["done_outputs"] = total_outputs
    if status != "ok":
        record["log_tail"] = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    return record


def score_runs(records: list[dict], outputs: dict[str, int]) -> None:
    """Kaggle score over the run's whole task list: tasks a cut-off run did not finish count as unsolved."""
    for r in records:
        total = sum(outputs[tid] for tid in r["task_ids"])
        r["score"] = r["solved_outputs"] / total if total else 0.0


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def markdown(records: list[dict], pair: list[str], order: list[str] | None = None) -> str:
    """The variant table (variants in `order`, else as their runs ended), then the paired per-task comparison of
    the `pair` variants."""
    rank = {name: i for i, name in enumerate(order or [])}
    lines = ["| variant | tasks | seeds | mean score | min-max | tasks solved (mean) | wall s (mean) | train steps/task | runs ok/all |",
             "|---|---|---|---|---|---|---|---|---|"]
    by_variant: dict[str, list[dict]] = {}
    for r in sorted(records, key=lambda r: rank.get(r["variant"], len(rank))):
        by_variant.setdefault(r["variant"], []).append(r)
    for name, rs in by_variant.items():
        done = [r for r in rs if r["status"] in ("ok", "killed")]
        if not done:
            lines.append(f"| {name} | {rs[0]['tasks']} | {','.join(str(r['seed']) for r in rs)} | - | - | - | - | - | 0/{len(rs)} |")
            continue
        scores = [r["score"] for r in done]
        lines.append(
            f"| {name} | {rs[0]['tasks']} | {','.join(str(r['seed']) for r in done)} | {_fmt(statistics.mean(scores))} | "
            f"{_fmt(min(scores))}-{_fmt(max(scores))} | {statistics.mean(r['tasks_solved'] for r in done):.1f} | "
            f"{statistics.mean(r['wall_seconds'] for r in done):.0f} | {statistics.mean(r['train_steps_per_task'] for r in done):.1f} | "
            f"{sum(r['status'] == 'ok' for r in rs)}/{len(rs)} |")
    lines.append("")
    lines.append("A killed run (cut at the hard end) counts its unfinished tasks as unsolved.")
    present = [v for v in pair if v in by_variant and any(r["per_task"] for r in by_variant[v])]
    if len(present) < 2:
        return "\n".join(lines) + "\n"
    common = set.intersection(*(set().union(*(r["per_task"] for r in by_variant[v])) for v in present))
    solved: dict[str, dict[str, tuple[int, int]]] = {}
    for v in present:
        for tid in common:
            flags = [all(r["per_task"][tid]["correct"]) for r in by_variant[v] if tid in r["per_task"]]
            solved.setdefault(v, {})[tid] = (sum(flags), len(flags))
    lines += ["", f"Paired per task on the {len(common)} tasks every one of {', '.join(present)} finished "
              "(a task is solved in a run when all its test outputs are; k/n = solved in k of n seeds):", "",
              "| variant | solved in every seed | solved in some seed | mean solved share |", "|---|---|---|---|"]
    for v in present:
        kn = solved[v].values()
        lines.append(f"| {v} | {sum(k == n and n > 0 for k, n in kn)} | {sum(k > 0 for k, n in kn)} | "
                     f"{statistics.mean(k / n for k, n in kn if n) if kn else 0.0:.3f} |")
    lines += ["", "| A | B | tasks A solves in a majority of seeds and B in none | the reverse |", "|---|---|---|---|"]
    for i, a in enumerate(present):
        for b in present[i + 1:]:
            a_only = sum(1 for t in common if solved[a][t][0] * 2 > solved[a][t][1] and solved[b][t][0] == 0)
            b_only = sum(1 for t in common if solved[b][t][0] * 2 > solved[b][t][1] and solved[a][t][0] == 0)
            lines.append(f"| {a} | {b} | {a_only} | {b_only} |")
    any_solved = sorted(t for t in common if any(solved[v][t][0] for v in present))
    lines += ["", "| task | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
    for t in any_solved:
        lines.append(f"| {t} | " + " | ".join(f"{solved[v][t][0]}/{solved[v][t][1]}" for v in present) + " |")
    return "\n".join(lines) + "\n"


def gpu_names() -> list[str]:
    """The host's GPU names from `nvidia-smi` (no CUDA context in the driver); [] where it cannot say."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _kill(proc: subprocess.Popen) -> None:
    """The run's subprocess and its slot workers (one process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run_study(args: argparse.Namespace) -> dict:
    """Queue every run, start them on free GPUs until the hard end, and keep study.json / study.md current."""
    from tasks_lib.arc.data import write_kaggle

    t_start = time.time()
    end = t_start + args.seconds
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    variants = [parse_variant(v) for v in args.variant]
    seeds = [int(s) for s in args.seeds.split(",")]
    specs = plan(variants, seeds, args.tasks, args.budget)
    all_tasks = ordered_tasks(args.source, args.order)
    outputs = {t.id: len(t.test_inputs) for t in all_tasks}
    files = {(s.start, s.tasks): write_kaggle(run_tasks(s, all_tasks), work / f"tasks-{s.start}-{s.tasks}") for s in specs}
    free = [g.strip() for g in args.gpus.split(",") if g.strip()]
    points = []
    for s in specs:  # every profile is built (and so validated) before anything runs
        name = s.key.replace("/", "-")
        profile = write_profile(s, args.profile, args.model, args.device, args.slots, work / name, json.loads(args.common),
                                host_slots=len(free) * args.slots)
        cpath, spath = files[(s.start, s.tasks)]
        points.append({"name": name, "profile": str(profile), "challenges": str(cpath), "solutions": str(spath)})
    runs = dict(zip((s.key for s in specs), sweep_points.plan(points, args.source, None, str(work / "runs"))))
    _atomic_write(out / "points.json", json.dumps(points, indent=1))
    study: dict[str, Any] = {"args": vars(args), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)),
                             "cards": gpu_names() if args.device == "cuda" else ["cpu"] * len(free), "runs": [], "skipped": []}

    def save() -> None:
        study["elapsed_seconds"] = round(time.time() - t_start, 1)
        score_runs(study["runs"], outputs)
        _atomic_write(out / "study.json", json.dumps(study, indent=1))
        _atomic_write(out / "study.md", markdown(study["runs"], args.pair.split(","), [v.name for v in variants]))

    pending = deque(specs)
    running: list[tuple[subprocess.Popen, RunSpec, float, Path]] = []
    save()
    while pending or running:
        now = time.time()
        for spec in list(pending):
            if now + spec.budget + args.startup > end:
                pending.remove(spec)
                study["skipped"].append({"key": spec.key, "reason": "would not end before the hard end"})
                save()
            elif spec.gpus <= len(free):
                spec.devices, free = free[:spec.gpus], free[spec.gpus:]
                pending.remove(spec)
                params = runs[spec.key]["parameters"]
                run_dir = Path(params["out"])
                run_dir.mkdir(parents=True, exist_ok=True)
                env = {**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(spec.devices) if args.device != "cpu" else ""}
                with open(run_dir / "log.txt", "ab") as fh:
                    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.study", "one", json.dumps(params)],
                                            cwd=str(ROOT), env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
                running.append((proc, spec, time.time(), run_dir))
                print(f"[{time.time() - t_start:5.0f}s] start {spec.key} on {spec.devices}", flush=True)
        for item in list(running):
            proc, spec, started, run_dir = item
            code = proc.poll()
            killed = code is None and time.time() >= end
            if killed:
                _kill(proc)
            if code is None and not killed:
                continue
            running.remove(item)
            free += spec.devices
            status = "killed" if killed else ("ok" if code == 0 else f"failed (exit {code})")
            ids = [t.id for t in run_tasks(spec, all_tasks)]
            record = collect(spec, run_dir, status, time.time() - started, ids, run_dir / "log.txt")
            record["task_ids"] = ids
            study["runs"].append(record)
            save()
            print(f"[{time.time() - t_start:5.0f}s] {status} {spec.key}: {record['tasks_solved']} tasks solved, "
                  f"{record['tasks_done']}/{spec.tasks} done", flush=True)
        if pending or running:
            time.sleep(0.5)
    save()
    return study


def combine(paths: list[Path], variants: list[str] | None = None) -> tuple[list[dict], dict]:
    """Chunks of one long run, gathered from several study.json files (e.g. one per device call): the runs of
    `variants` (all when None), each with the card it ran on; a run from a later file replaces an earlier one over
    the same tasks (a re-run on another card). Runs that overlap without covering the same tasks are an error.
    Returns the chosen runs in task order and the totals (tasks, solved, outputs, GPU-seconds, cards)."""
    chosen: dict[tuple[str, ...], dict] = {}
    for path in paths:
        study = json.loads(Path(path).read_text())
        cards = study.get("cards") or []
        for r in study["runs"]:
            if variants is not None and r["variant"] not in variants:
                continue
            devices = [int(d) for d in r.get("devices", []) if str(d).isdigit()]
            card = ", ".join(sorted({cards[d] for d in devices if d < len(cards)})) or "unknown"
            chosen[tuple(r["task_ids"])] = {**r, "file": str(path), "card": card}
    seen: dict[str, str] = {}
    for r in chosen.values():
        for tid in r["task_ids"]:
            if tid in seen:
                raise ValueError(f"task {tid} is in both {seen[tid]} and {r['variant']} ({r['file']}), over different task lists")
            seen[tid] = f"{r['variant']} ({r['file']})"
    runs = sorted(chosen.values(), key=lambda r: r.get("start", 0))
    totals = {
        "tasks": sum(len(r["task_ids"]) for r in runs),
        "tasks_done": sum(r["tasks_done"] for r in runs),
        "tasks_solved": sum(r["tasks_solved"] for r in runs),
        "solved_outputs": sum(r["solved_outputs"] for r in runs),
        "gpu_seconds": round(sum(r["wall_seconds"] * r.get("gpus", 1) for r in runs), 1),
        "cards": sorted({r["card"] for r in runs}),
        "not_ok": [r["key"] for r in runs if r["status"] != "ok"],
    }
    return runs, totals


def combine_markdown(runs: list[dict], totals: dict) -> str:
    """One row per chunk, then the whole run's line."""
    lines = ["| chunk | card | first task | tasks | tasks solved | outputs solved | wall s | train steps/task | status | file |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['variant']} | {r['card']} | {r.get('start', 0)} | {len(r['task_ids'])} | {r['tasks_solved']} | "
                     f"{r['solved_outputs']}/{r['done_outputs']} | {r['wall_seconds']:.0f} | {r['train_steps_per_task']:.1f} | "
                     f"{r['status']} | {Path(r['file']).name} |")
    t = totals
    share = 100.0 * t["tasks_solved"] / t["tasks"] if t["tasks"] else 0.0
    lines += ["", f"**All chunks:** {t['tasks_solved']} of {t['tasks']} tasks solved ({share:.1f}%), {t['tasks_done']} done, "
              f"in {t['gpu_seconds']:.0f} GPU-seconds ({t['gpu_seconds'] / 3600:.2f} GPU-hours) on {', '.join(t['cards'])}"
              + (f"; not ok: {', '.join(t['not_ok'])}" if t["not_ok"] else "") + "."]
    return "\n".join(lines) + "\n"


def run_one(args: argparse.Namespace) -> None:
    """One planned run in this process (the subprocess of a study): `submit`'s parameters, through the pipeline."""
    from tasks_lib.running.pipeline import run_direct

    r = run_direct(**json.loads(args.parameters))
    print(json.dumps({"slots": r.slots, "statuses": r.statuses, "shared": None if r.shared is None else r.shared.to_json(),
                      "score": None if r.score is None else r.score.to_json()}, indent=1))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.study", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="the whole study")
    r.add_argument("--profile", default="h100", help="base profile (name or YAML path)")
    r.add_argument("--model", required=True, help="model directory")
    r.add_argument("--source", default="arc1/eval", help="task source with solutions (arc1/eval, a Kaggle file ...)")
    r.add_argument("--common", default="{}", help="JSON overrides applied to every variant, before the variant's own")
    r.add_argument("--tasks", type=int, default=60, help="first N tasks in --order (a variant may set its own)")
    r.add_argument("--order", default="id", choices=("id", "smallest"), help="which tasks are first: sorted ids, or the smallest")
    r.add_argument("--variant", action="append", required=True, help="NAME from the catalog or NAME=JSON; repeat")
    r.add_argument("--seeds", default="0,1", help="comma-separated (a variant may set its own)")
    r.add_argument("--gpus", default="0,1,2,3", help="GPU indices to use (on --device cpu: just as many parallel runs)")
    r.add_argument("--slots", type=int, default=4, help="slots per GPU")
    r.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    r.add_argument("--budget", type=float, default=120.0, help="total seconds per run (model load included)")
    r.add_argument("--seconds", type=float, default=560.0, help="hard end, from the driver's start")
    r.add_argument("--startup", type=float, default=15.0, help="seconds a run needs beyond its budget (process start, finish)")
    r.add_argument("--pair", default="per-task,none,shared", help="variants compared task by task")
    r.add_argument("--out", required=True, help="study.json and study.md")
    r.add_argument("--work", default="/tmp/arc-ttt-study", help="run folders, profiles, logs")
    o = sub.add_parser("one", help="one run (what `run` starts per variant and seed)")
    o.add_argument("parameters", help="JSON: the run's submit parameters (a planned sweep point's)")
    c = sub.add_parser("combine", help="the chunks of one long run, from several study.json files, as one table")
    c.add_argument("files", nargs="+", help="study.json files; a later file's run replaces an earlier one over the same tasks")
    c.add_argument("--variants", default="", help="comma-separated chunk variants to take (default: every run)")
    c.add_argument("--out", default="", help="also write the table here")
    args = p.parse_args(argv)
    if args.cmd == "run":
        run_study(args)
        print(Path(args.out, "study.md").read_text())
    elif args.cmd == "combine":
        text = combine_markdown(*combine([Path(f) for f in args.files], [v for v in args.variants.split(",") if v] or None))
        if args.out:
            _atomic_write(Path(args.out), text)
        print(text)
    else:
        run_one(args)


if __name__ == "__main__":
    main()
