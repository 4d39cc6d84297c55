"""Prefect settings for local, offline runs; import this before `prefect`.

Without `PREFECT_API_URL` a run uses Prefect's temporary local server. Its `PREFECT_HOME` (database, logs,
profiles) is the checkout's `.prefect/` when the checkout is writable, else `<tmp>/arc-ttt-prefect-<uid>-<hash
of the checkout path>` (a read-only checkout, such as a Kaggle dataset under `/kaggle/input`, is never written
to). Either way a run never touches the user's global Prefect home, and runs from one checkout share one home.
Analytics are off and the server gets time for a cold start. Settings the user already exported are kept.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_prefect_home(root: Path = ROOT) -> Path:
    """`root/.prefect` if this process may write there, else `temp_prefect_home(root)`."""
    local = root / ".prefect"
    return local if os.access(local if local.exists() else root, os.W_OK) else temp_prefect_home(root)


def temp_prefect_home(root: Path = ROOT) -> Path:
    """This user's Prefect home under the temp dir for the checkout at `root`."""
    tag = hashlib.sha1(str(root).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"arc-ttt-prefect-{os.getuid()}-{tag}"


if not os.environ.get("PREFECT_API_URL"):
    os.environ.setdefault("PREFECT_HOME", str(default_prefect_home()))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
