"""Prefect settings for local, offline runs; import this before `prefect`.

Without `PREFECT_API_URL` a run uses Prefect's temporary local server. Its `PREFECT_HOME` (logs, profiles) is the
checkout's `.prefect/` when the checkout is writable, else `<tmp>/arc-ttt-prefect-<uid>-<hash of the checkout
path>` (a read-only checkout, such as a Kaggle dataset under `/kaggle/input`, is never written to). Either way a run
never touches the user's global Prefect home, and runs from one checkout share one home.

The temporary server keeps its database in memory (`MEMORY_DATABASE`: one SQLite connection, so the server's
writes queue instead of colliding). With the default database file, concurrent writes from the slots' subflows
and the server's own services fail with "database is locked"; the server answers 503 and Prefect's client waits
2 s, then 4 s, then 8 s before trying again, so a task's subflow start stalled for 2, 6 or 14 s: 39 of 200 tasks
of an H200 run (121 of its 174 s of overhead), and 7-11 retries in a 60-task CPU run where the in-memory database
had none (`docs/journal.md`, session 8). The run's own files (`runs/...`) hold everything a run needs to resume; the
temporary server's history goes with it. To keep it, run a server (`PREFECT_API_URL`) or export
`PREFECT_SERVER_DATABASE_CONNECTION_URL`.

Analytics are off and the server gets time for a cold start. Settings the user already exported are kept.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Mapping

ROOT = Path(__file__).resolve().parent.parent
MEMORY_DATABASE = "sqlite+aiosqlite:///file::memory:?cache=shared&uri=true&check_same_thread=false"
DATABASE_URL_NAMES = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")


def default_prefect_home(root: Path = ROOT) -> Path:
    """`root/.prefect` if this process may write there, else `temp_prefect_home(root)`."""
    local = root / ".prefect"
    return local if os.access(local if local.exists() else root, os.W_OK) else temp_prefect_home(root)


def temp_prefect_home(root: Path = ROOT) -> Path:
    """This user's Prefect home under the temp dir for the checkout at `root`."""
    tag = hashlib.sha1(str(root).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"arc-ttt-prefect-{os.getuid()}-{tag}"


def offline_defaults(environ: Mapping[str, str], root: Path = ROOT) -> dict[str, str]:
    """The settings this module adds to `environ`: only those it does not set already (module doc)."""
    wanted = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_LOGGING_LEVEL": "INFO",
              "TOKENIZERS_PARALLELISM": "false"}
    if not environ.get("PREFECT_API_URL"):  # the temporary server
        wanted.update(PREFECT_HOME=str(default_prefect_home(root)), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")
        if not any(environ.get(name) for name in DATABASE_URL_NAMES):
            wanted[DATABASE_URL_NAMES[0]] = MEMORY_DATABASE
    return {k: v for k, v in wanted.items() if k not in environ}


os.environ.update(offline_defaults(os.environ))
