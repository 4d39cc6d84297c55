"""Prefect settings for local, offline runs; import this before `prefect`.

Without `PREFECT_API_URL` a run uses Prefect's temporary local server. Then the project's `.prefect/`
folder is its `PREFECT_HOME` (a run never touches the user's global one), analytics are off, and the
server gets time for a cold start. Settings the user already exported are kept.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if not os.environ.get("PREFECT_API_URL"):
    os.environ.setdefault("PREFECT_HOME", str(ROOT / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
