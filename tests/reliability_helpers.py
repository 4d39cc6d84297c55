"""Shared parts of the reliability tests: a tiny model, a short CPU profile, the corpus, and CLI runs.

Every whole-CLI run gets its own output folder and lock folder; all share the session's Prefect home
(conftest's `offline_env`), so its database is migrated once per session, not once per run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tasks_lib.arc.data import load_challenges
from tasks_lib.running import submission as sub_mod

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SUBMIT = ROOT / "flows" / "submit.py"


def reliability_model(factory: pytest.TempPathFactory) -> Path:
    """The smallest model the code accepts (head_dim 32), built once per session."""
    from tasks_lib.adapting.model import build_tiny_model

    path = factory.getbasetemp() / "reliability-model"
    if not (path / "model.safetensors").exists():
        build_tiny_model(path, hidden=64, layers=2, heads=2, intermediate=128)
    return path


def fast_profile(path: Path, model: Path, lock_dir: Path, total_seconds: float = 60.0, grace: float = 3.0,
                 views: int = 2, load_timeout: float = 120.0) -> Path:
    """A profile for fast CLI runs: 2 CPU slots, 2 train steps, `views` greedy views, short grace."""
    profile = {
        "description": "reliability tests: tiny model, a few steps, short deadlines",
        "model": {"path": str(model), "dtype": "float32", "lora_rank": 4, "max_tokens": 4096},
        "train": {"max_steps": 2},
        "sample": {"views": views, "samples_per_view": 1},
        "budget": {"total_seconds": total_seconds, "reserve_seconds": 3.0},
        "slots": {"device": "cpu", "cpu_slots": 2, "threads_per_slot": 1, "step_grace_seconds": grace,
                  "load_timeout_seconds": load_timeout, "lock_dir": str(lock_dir)},
    }
    path.write_text(yaml.safe_dump(profile))
    return path


def corpus_tasks(dest: Path, picks: dict[str, list[str]]) -> Path:
    """Write a challenges file holding the named tasks of corpus files ({file name: [task ids]})."""
    tasks: dict[str, Any] = {}
    for name, ids in picks.items():
        source = json.loads((DATA / name).read_text())
        tasks.update({tid: source[tid] for tid in ids})
    dest.write_text(json.dumps(tasks))
    return dest


def cli_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    """`base` (conftest's `offline_env`) without any inherited fault injection, plus `extra`."""
    env = {k: v for k, v in base.items() if not k.startswith("ARC_TTT_INJECT")}
    env.update(extra)
    return env


def cli_args(challenges: Path | str, out: Path, profile: Path, *more: str) -> list[str]:
    return [sys.executable, str(SUBMIT), "--challenges", str(challenges), "--out", str(out), "--profile", str(profile), *more]


def run_cli(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def start_cli(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start the CLI in the background (its output goes to `log`)."""
    with log.open("wb") as fh:
        return subprocess.Popen(args, env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)


def wait_for(cond: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    """Poll `cond` until it holds; fail naming `what` (and stop early if `proc` exits)."""
    end = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run exited (code {proc.returncode}) before {what}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    """Kill a run this test started, if it is still alive."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def finished_results(out: Path) -> dict[str, Path]:
    """result.json files on disk, by the task id they record."""
    found = {}
    for path in (out / "tasks").glob("*/result.json"):
        try:
            found[json.loads(path.read_text())["task_id"]] = path
        except (ValueError, KeyError):
            continue
    return found


def valid_submission(out: Path, challenges: Path) -> dict:
    """submission.json of `out`, checked complete and valid against every task id of `challenges`."""
    data = load_challenges(challenges)
    sub = json.loads((out / "submission.json").read_text())
    sub_mod.validate(sub, data.n_test)
    assert list(sub) == list(data.n_test), "submission keys differ from the challenges' task ids"
    return sub
