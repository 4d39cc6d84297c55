"""The run directory: where everything a run produces lives, written so that nothing is lost.

Contract:
- Layout: `<out>/submission.json`, `<out>/report.json`, `<out>/run.json` (config and inputs),
  `<out>/tasks/<task-id>/result.json`, `<out>/tasks/<task-id>/candidates.json` (every candidate the task
  sampled, per test input: what a refinement votes over again) and `<out>/tasks/<task-id>/adapter/` (safetensors).
- Every JSON file is written atomically (temp file in the same folder, fsync, rename): a reader
  or a crash never sees half a file.
- `RunDir.finished()` returns the results a previous run completed; a `result.json` that is not
  valid JSON or lacks required fields is ignored (and the task redone), never trusted.
- `RunDir(out).check_writable()` fails with `StoreError` naming the folder before any work starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

RESULT_FIELDS = ("task_id", "status", "attempts")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_UMASK = os.umask(0)
os.umask(_UMASK)


class StoreError(OSError):
    """The run directory cannot be used."""


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON to `path` so that it is either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, separators=(",", ":") if path.name == "submission.json" else None, indent=None if path.name == "submission.json" else 1)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes owner-only files; results follow the umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_name(task_id: str) -> str:
    """A folder name for a task id: ids from untrusted files never escape the run dir, and two ids that
    sanitize alike (`a/b`, `a_b`) get different folders (a hash of the id is appended when it changed)."""
    name = _SAFE.sub("_", task_id)[:100]
    if name == task_id and name.strip("._"):
        return name
    return f"{name.strip('._') or 'task'}-{hashlib.sha1(task_id.encode()).hexdigest()[:10]}"


class RunDir:
    def __init__(self, out: str | Path):
        self.root = Path(out)

    @property
    def submission(self) -> Path:
        return self.root / "submission.json"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    def task_dir(self, task_id: str) -> Path:
        return self.root / "tasks" / safe_name(task_id)

    def result_path(self, task_id: str) -> Path:
        return self.task_dir(task_id) / "result.json"

    def adapter_dir(self, task_id: str) -> Path:
        return self.task_dir(task_id) / "adapter"

    def check_writable(self) -> None:
        try:
            (self.root / "tasks").mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as err:
            raise StoreError(f"{self.root}: output directory is not writable ({err.strerror or err})") from None

    def candidates_path(self, task_id: str) -> Path:
        return self.task_dir(task_id) / "candidates.json"

    def write_candidates(self, task_id: str, candidates: list[list[dict]]) -> None:
        atomic_write_json(self.candidates_path(task_id), candidates)

    def read_candidates(self, task_id: str) -> list[list[dict]] | None:
        """The task's saved candidates, or None if absent or unreadable."""
        try:
            data = json.loads(self.candidates_path(task_id).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, list) and all(isinstance(c, list) for c in data) else None

    def write_result(self, result: dict) -> None:
        atomic_write_json(self.result_path(result["task_id"]), result)

    def read_result(self, task_id: str) -> dict | None:
        """A finished task's result, or None if absent, unreadable or incomplete."""
        path = self.result_path(task_id)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or any(k not in data for k in RESULT_FIELDS) or data["task_id"] != task_id:
            return None
        if not isinstance(data["attempts"], list) or not all(isinstance(a, dict) and "attempt_1" in a and "attempt_2" in a for a in data["attempts"]):
            return None
        return data

    def finished(self, task_ids: list[str]) -> dict[str, dict]:
        return {tid: r for tid in task_ids if (r := self.read_result(tid)) is not None}
