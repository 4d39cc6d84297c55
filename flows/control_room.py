"""The control room on one machine: a Prefect server and a worker that stay up, each with a log and a pid under
`$PREFECT_HOME` (default: this checkout's `.prefect/`), and a stop that ends them.

    export PREFECT_API_URL=http://127.0.0.1:4200/api
    python flows/control_room.py start      # server (UI at :4200), work pool `arc-ttt`, one worker
    python flows/control_room.py status
    python flows/control_room.py stop       # worker, then server
    python flows/control_room.py start --worker-only   # on another host: a worker for the server at PREFECT_API_URL

The server runs in the foreground mode of `prefect server start` in its own session, writing to `server.log`
(not `--background`, whose server writes to a pipe nobody reads once the command returns, and dies on its first
warning). The worker writes to `worker-<name>.log`. Both take `PREFECT_API_URL`'s host and port; the host must be
this machine (loopback or one of its addresses). Process handling lives in `tasks_lib/running/services.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python flows/control_room.py` runs from anywhere
from flows import prefect_env  # noqa: E402,F401  (offline Prefect defaults; must come before prefect)

from tasks_lib.running.services import Service, ServiceError, log_tail, running, start, stop, wait_until

PREFECT = str(Path(sys.executable).parent / "prefect")
POOL = "arc-ttt"
SERVER_SECONDS = 180  # a cold first start (database migrations) took ~20 s here; a slow disk takes longer
STOP_GRACE = 30.0  # seconds a service gets to exit on SIGTERM before it is killed
SERVER_ENV = {  # the run's log lines reach `--watch` and `prefect flow-run watch` only with these two on
    "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "true",
    "PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


def home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or prefect_env.ROOT / ".prefect")


def api_url() -> str:
    url = os.environ.get("PREFECT_API_URL", "")
    if not url:
        raise ServiceError("set PREFECT_API_URL to this machine's server address, e.g. http://127.0.0.1:4200/api")
    return url.rstrip("/")


def server(url: str) -> Service:
    parts = urlparse(url)
    argv = [PREFECT, "server", "start", "--host", parts.hostname or "127.0.0.1", "--port", str(parts.port or 4200)]
    return Service("prefect server", argv, home() / "server.log", home() / "server.pid")


def worker(name: str, pool: str = POOL, limit: int = 1) -> Service:
    argv = [PREFECT, "worker", "start", "--pool", pool, "--name", name, "--limit", str(limit)]
    return Service(f"worker {name}", argv, home() / f"worker-{name}.log", home() / f"worker-{name}.pid")


def workers() -> list[Service]:
    """The workers this home has pid files for."""
    return [worker(p.stem.removeprefix("worker-")) for p in sorted(home().glob("worker-*.pid"))]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def cmd_start(name: str, pool: str, limit: int, worker_only: bool = False) -> int:
    url = api_url()
    env = {**os.environ, **SERVER_ENV, "PREFECT_HOME": str(home())}
    if worker_only:  # another host's server
        if not healthy(url):
            raise ServiceError(f"no Prefect server answers at {url}")
    else:
        srv = server(url)
        was = running(srv)
        pid = start(srv, env)
        wait_until(lambda: healthy(url), srv, SERVER_SECONDS)
        print(f"{srv.name}: {'already up' if was else 'started'}, pid {pid}, log {srv.log}; UI {url.removesuffix('/api')}")
    from flows.deploy import ensure_pool  # imports prefect: after the server is up

    asyncio.run(ensure_pool(pool))
    w = worker(name, pool, limit)
    was = running(w)
    pid = start(w, env)
    print(f"{w.name}: {'already up' if was else 'started'} on pool {pool!r}, pid {pid}, log {w.log}")
    return 0


def cmd_stop() -> int:
    url = os.environ.get("PREFECT_API_URL", "http://127.0.0.1:4200/api").rstrip("/")
    for s in [*workers(), server(url)]:
        print(f"{s.name}: {stop(s, STOP_GRACE)}")
    return 0


def cmd_status() -> int:
    url = os.environ.get("PREFECT_API_URL", "http://127.0.0.1:4200/api").rstrip("/")
    up = True
    for s in [server(url), *workers()]:
        pid = running(s)
        up &= pid is not None
        print(f"{s.name}: " + (f"up, pid {pid}, log {s.log}" if pid else f"down; the end of {s.log}:\n{log_tail(s, 5)}"))
    print(f"API {url}: {'healthy' if healthy(url) else 'not answering'}")
    return 0 if up and healthy(url) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Start, check or stop this machine's Prefect server and worker (logs and pids in $PREFECT_HOME)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("start", help="the server (unless up), the work pool, one worker")
    s.add_argument("--name", default=socket.gethostname(), help="the worker's name (default: this host's name)")
    s.add_argument("--pool", default=POOL, help=f"process work pool (created if missing; default {POOL})")
    s.add_argument("--limit", type=int, default=1, help="runs the worker takes at once (1: a run has the whole host)")
    s.add_argument("--worker-only", action="store_true", help="only the worker, for the server at PREFECT_API_URL on another host")
    sub.add_parser("stop", help="every worker of this home, then the server")
    sub.add_parser("status", help="what runs; exit 1 when something is down")
    args = p.parse_args(argv)
    try:
        if args.command == "start":
            return cmd_start(args.name, args.pool, args.limit, args.worker_only)
        return cmd_stop() if args.command == "stop" else cmd_status()
    except ServiceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
