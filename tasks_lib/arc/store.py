"""The run directory: where everything a run produces lives, written so that nothing is lost.

Contract:
- Layout: `<out>/submission.json`, `<out>/report.json`, `<out>/run.json` (config and inputs),
  `<out>/tasks/<task-id>/result.json`, `<out>/tasks/<task-id>/candidates.json` (every candidate the task
  sampled, per test input: what a refinement votes over again) and `<out>/tasks/<task-id>/adapter/` (safetensors);
  train scope shared adds `<out>/shared/adapter/` (each task's `adapter` links to it) and `<out>/shared/train.json`
  (its `report_parts.SharedAdapter` record).
- Every JSON file is written atomically (temp file in the same folder, fsync, rename): a reader
  or a crash never sees half a file.
- `RunDir.finished()` returns the results (`records.TaskResult`) a previous run completed; a `result.json` that is
  not valid JSON or not a valid record (`TaskResult.from_json` raises `RecordError`) is ignored, with a warning
  naming the file and the field, and the task redone: never trusted.
- `write_candidates`/`read_candidates` keep a task's `records.Candidate`s, per test input.
- `RunDir(out).check_writable()` fails with `StoreError` naming the folder before any work starts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from tasks_lib.arc.records import CANDIDATES_FILE, RESULT_FILE, Candidate, RecordError, TaskResult, candidates_json
from tasks_lib.arc.records import read_candidates as candidates_from_json

log = logging.getLogger(__name__)
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
        return self.task_dir(task_id) / RESULT_FILE

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
        return self.task_dir(task_id) / CANDIDATES_FILE

    def write_candidates(self, task_id: str, candidates: list[list[Candidate]]) -> None:
        atomic_write_json(self.candidates_path(task_id), candidates_json(candidates))

    def read_candidates(self, task_id: str) -> list[list[Candidate]] | None:
        """The task's saved candidates, or None if absent or unreadable (a malformed file is logged)."""
        path = self.candidates_path(task_id)
        try:
            return candidates_from_json(json.loads(path.read_text()), str(path))
        except RecordError as err:
            log.warning("ignored: %s", err)
            return None
        except (OSError, ValueError):
            return None

    def write_result(self, result: TaskResult) -> None:
        atomic_write_json(self.result_path(result.task_id), result.to_json())

    def read_result(self, task_id: str) -> TaskResult | None:
        """A finished task's result, or None if absent, unreadable or not a valid record (logged, with the field)."""
        path = self.result_path(task_id)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        try:
            result = TaskResult.from_json(data, str(path))
        except RecordError as err:
            log.warning("ignored, the task is redone: %s", err)
            return None
        return result if result.task_id == task_id else None

    def finished(self, task_ids: list[str]) -> dict[str, TaskResult]:
        return {tid: r for tid in task_ids if (r := self.read_result(tid)) is not None}
