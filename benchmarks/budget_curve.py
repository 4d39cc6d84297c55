"""Accuracy against budget: the product path on the same tasks at several budgets, refinement on and off.

Contract: `python -m benchmarks.budget_curve --challenges arc1/eval --limit 10 --order smallest --profile cpu
--base 60 --scales 0.25,0.5,1,2 --out DIR` runs, for every scale and for refinement off and on, one whole run of
`tasks_lib.running.pipeline.run_direct` (the submit flow's code path without Prefect; `--flow` runs `flows/submit.py`
itself in a subprocess instead) with `--time-budget = scale x base` and the profile's `schedule.refine` set, each
into its own folder under `DIR/runs/`. It prints and writes (`DIR/budget_curve.md`, `DIR/budget_curve.json`,
`DIR/budget_curve.png`, drawn with Pillow) per run: tasks solved, budget used (the run's wall seconds over its
budget), the slots' busy fraction (the tasks' step seconds over slots x the time from the first task's claim to the
end), the slot gap per task (the mean time a slot spent between one task's last step and the next task's first,
from the records' spans: the overhead the budget must pay for), the overhead per task the run measured
(`schedule.overhead_mean_seconds`), the tail (seconds from the last task's end to the report, which the reserve
must cover), the test outputs solved after pass 1 and at the end (what refinement added, in one run), and the
refinements done. On a CUDA profile it also samples `nvidia-smi` every 0.5 s during each run and reports the GPU
busy fraction: the mean utilization of the GPUs the run may use (`CUDA_VISIBLE_DEVICES`, else all) over the run's
samples. Every run starts from an empty folder (no resume) with the same tasks, profile and seeds.
`--merge A.json B.json --out DIR` writes the table and picture of several such runs' rows together.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

from tasks_lib.arc.run_record import Report, read_report
from tasks_lib.config import load_profile, profile_path


def profile_with(profile: str, refine: bool, folder: Path) -> Path:
    """The profile's YAML with `schedule.refine` set, written under `folder`."""
    raw = yaml.safe_load(profile_path(profile).read_text()) or {}
    raw.setdefault("schedule", {})["refine"] = refine
    model = (raw.get("model") or {}).get("path")
    if model and not Path(model).is_absolute():  # relative to the repository, wherever the copy is written
        raw["model"]["path"] = str(ROOT / model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{Path(profile).stem}-refine-{'on' if refine else 'off'}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def slot_gaps(report: Report) -> list[float]:
    """Per slot, the seconds between one task's last step and the next task's first (pass-1 records' spans)."""
    by_slot: dict[int, list[tuple[float, float]]] = {}
    for t in report.results:
        spans = list(t.spans.values())
        if t.slot is None or not spans:
            continue
        by_slot.setdefault(t.slot, []).append((min(a for a, _ in spans), max(b for _, b in spans)))
    gaps = []
    for spans in by_slot.values():
        spans.sort()
        gaps += [nxt[0] - prev[1] for prev, nxt in zip(spans, spans[1:])]
    return gaps


class GpuBusy:
    """`nvidia-smi` sampled every 0.5 s while a run lasts: `stop()` returns the mean utilization (0-1) of the
    sampled GPUs, or None when nvidia-smi is missing or gave no samples."""

    def __init__(self, gpus: str | None) -> None:
        self.proc = None
        exe = shutil.which("nvidia-smi")
        if exe is None:
            return
        cmd = [exe, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "500"]
        if gpus:
            cmd += ["-i", gpus]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def stop(self) -> float | None:
        if self.proc is None:
            return None
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        samples = [float(v) for v in out.split() if v.strip().replace(".", "", 1).isdigit()]
        return round(sum(samples) / (100 * len(samples)), 4) if samples else None


def summarize(report: Report, budget: float, wall: float, gpu_busy: float | None = None) -> dict:
    """One run's row (see module doc)."""
    results = report.results
    gaps = slot_gaps(report)
    schedule = report.schedule
    score, first = report.score, report.score_pass1
    return {
        "solved": sum(1 for t in report.tasks if t.state == "solved"),
        "tasks": len(results),
        "budget": budget,
        "wall_seconds": round(wall, 1),
        "budget_used": round(report.wall_seconds / budget, 3),
        "busy_fraction": None if schedule is None else schedule.busy_fraction,
        "gpu_busy": gpu_busy,
        "slot_gap_seconds": round(sum(gaps) / len(gaps), 3) if gaps else None,
        "overhead_seconds": None if schedule is None else schedule.overhead_mean_seconds,
        "tail_seconds": None if schedule is None else schedule.tail_seconds,
        "outputs_pass1": None if first is None else first.solved_outputs,
        "outputs": None if score is None else score.solved_outputs,
        "total_outputs": None if score is None else score.total_outputs,
        "refinements": sum(len(t.refinements) for t in results),
        "steps": sum(t.steps for t in results),
        "min_budget_seconds": min((t.budget_seconds for t in results if t.budget_seconds is not None), default=None),
    }


def one_run(args: argparse.Namespace, profile: Path, budget: float, out: Path) -> dict:
    cuda = load_profile(str(profile)).slots.device == "cuda"
    gpu = GpuBusy(os.environ.get("CUDA_VISIBLE_DEVICES")) if cuda else None
    t0 = time.time()
    try:
        report = run_once(args, profile, budget, out)
    finally:
        busy = gpu.stop() if gpu else None
    return summarize(report, budget, time.time() - t0, busy)


def run_once(args: argparse.Namespace, profile: Path, budget: float, out: Path) -> Report:
    """One whole run of the product path; its report."""
    if args.flow:
        cmd = [sys.executable, str(ROOT / "flows" / "submit.py"), "--challenges", args.challenges, "--order", args.order,
               "--profile", str(profile), "--time-budget", str(budget), "--out", str(out)]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        return read_report(out)
    from tasks_lib.running.pipeline import run_direct

    return run_direct(args.challenges, out, str(profile), limit=args.limit, time_budget=budget, order=args.order)


def table(rows: list[dict]) -> str:
    lines = ["| budget (s) | scale | refine | solved | outputs, pass 1 -> end | budget used | tail (s) | slots busy | GPU busy | "
             "overhead per task (s) | slot gap per task (s) | refinements | train steps | least task budget (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    pct = lambda v: "-" if v is None else f"{100 * v:.0f}%"  # noqa: E731
    for r in rows:
        outputs = "-" if r.get("outputs") is None else f"{r.get('outputs_pass1')} -> {r['outputs']} of {r.get('total_outputs')}"
        lines.append(f"| {r['budget']:.0f} | {r['scale']}x | {'on' if r['refine'] else 'off'} | {r['solved']}/{r['tasks']} | {outputs} | "
                     f"{pct(r['budget_used'])} | {r.get('tail_seconds', '-')} | {pct(r['busy_fraction'])} | {pct(r.get('gpu_busy'))} | "
                     f"{r.get('overhead_seconds', '-')} | {r['slot_gap_seconds']} | {r['refinements']} | {r['steps']} | {r['min_budget_seconds']} |")
    return "\n".join(lines)


def picture(rows: list[dict], path: Path, title: str) -> None:
    """Solved tasks against budget, one line per refinement setting (Pillow)."""
    from PIL import Image, ImageDraw

    w, h, m = 640, 400, 60
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    budgets = sorted({r["budget"] for r in rows})
    top = max(1, max(r["tasks"] for r in rows))
    x = lambda b: m + (w - 2 * m) * (budgets.index(b) / max(1, len(budgets) - 1))  # noqa: E731  (budgets evenly spaced: they double)
    y = lambda s: h - m - (h - 2 * m) * s / top  # noqa: E731
    d.line([(m, h - m), (w - m, h - m)], fill="black")
    d.line([(m, m), (m, h - m)], fill="black")
    for b in budgets:
        d.text((x(b) - 10, h - m + 8), f"{b:.0f}s", fill="black")
    for s in range(0, top + 1, max(1, top // 10)):
        d.text((m - 25, y(s) - 6), str(s), fill="black")
    d.text((m, 15), title, fill="black")
    d.text((w // 2 - 60, h - 25), "time budget (seconds)", fill="black")
    d.text((5, m - 30), "tasks solved", fill="black")
    for refine, colour in ((False, (200, 60, 60)), (True, (40, 110, 200))):
        pts = [(x(r["budget"]), y(r["solved"])) for r in sorted(rows, key=lambda r: r["budget"]) if r["refine"] == refine]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=3)
        for px, py in pts:
            d.ellipse([px - 4, py - 4, px + 4, py + 4], fill=colour)
        d.text((w - m - 110, m + (15 if refine else 0)), f"refine {'on' if refine else 'off'}", fill=colour)
    img.save(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--challenges", default="arc1/eval")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--order", default="smallest", choices=("file", "smallest"))
    p.add_argument("--profile", default="cpu")
    p.add_argument("--base", type=float, default=60.0, help="the 1x budget in seconds")
    p.add_argument("--scales", default="0.25,0.5,1,2")
    p.add_argument("--refine", default="off,on", help="off, on, or off,on")
    p.add_argument("--flow", action="store_true", help="run flows/submit.py (Prefect) instead of the direct call")
    p.add_argument("--out", required=True)
    p.add_argument("--merge", nargs="+", help="only write the table and picture of these budget_curve.json files' rows together")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    if args.merge:
        merged = [json.loads(Path(f).read_text()) for f in args.merge]
        rows = sorted((r for m in merged for r in m["rows"]), key=lambda r: (r["budget"], r["refine"]))
        for key in ("challenges", "limit", "order", "profile"):  # the title says what the merged runs ran
            setattr(args, key, merged[0]["args"][key])
        args.scales, args.refine = "", ""
    for scale in [float(s) for s in args.scales.split(",") if s]:
        for refine in [s == "on" for s in args.refine.split(",") if s]:
            budget = scale * args.base
            profile = profile_with(args.profile, refine, out / "profiles")
            run_out = out / "runs" / f"{scale}x-refine-{'on' if refine else 'off'}"
            if run_out.exists():  # a run folder from an earlier call would be resumed, not run: every row starts empty
                shutil.rmtree(run_out)
            row = {"scale": scale, "refine": refine, **one_run(args, profile, budget, run_out)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            (out / "budget_curve.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    md = table(rows)
    (out / "budget_curve.md").write_text(md + "\n")
    device = load_profile(args.profile).slots.device
    picture(rows, out / "budget_curve.png", f"{args.challenges}, {args.limit} tasks ({args.order}), profile {args.profile}"
            f"{', CPU only' if device == 'cpu' else ''}: tasks solved against budget")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
