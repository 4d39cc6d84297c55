"""Long-lived background processes (the Prefect server, a worker) that outlive the shell that started them, each with
a log file and a pid file, and a stop that really ends them. No Prefect here: `flows/control_room.py` names the
commands.

Contract:
- `start(service, env)` starts `service.argv` in its own session (so a terminal's Ctrl-C or a closing shell does not
  reach it), with stdout and stderr appended to `service.log` (a file nobody has to read: a process writing to a
  pipe whose reader is gone dies on its next line, which is how `prefect server start --background` loses its server)
  and SIGINT at its default (a background job of a non-interactive shell inherits SIGINT ignored, and a Prefect
  worker stops on SIGTERM only by sending itself SIGINT). Its pid goes to `service.pid`. A service whose pid file
  names a live process is not started twice: `start` returns that pid.
- `running(service)` is the live pid from the pid file, or None (a stale pid file is removed).
- `stop(service, grace)` sends SIGTERM and waits up to `grace` seconds; then whatever is left of the process's
  session (the process itself, or children it left: a worker's flow runs) gets SIGTERM, then SIGKILL. It removes the
  pid file and returns how it ended: `not-running` (no live process, though children it left are still ended),
  `stopped` (exited on SIGTERM) or `killed`.
- `wait_until(ready, service, seconds)` polls `ready()` until it is true; raises `ServiceError` with the log's last
  lines when the process exits first or time runs out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.5
LOG_TAIL_LINES = 20  # what an error shows of a service's log


class ServiceError(RuntimeError):
    """A service did not come up (its log's last lines are in the message)."""


@dataclass(frozen=True)
class Service:
    """One background process: its command, and where its log and pid live."""

    name: str
    argv: Sequence[str]
    log: Path
    pid: Path


def _alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, exited but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to stop
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc (not Linux): signal 0 answered
        return True


def running(service: Service) -> int | None:
    """The live pid in the service's pid file; None (and the stale file removed) when there is none."""
    try:
        pid = int(service.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    if _alive(pid):
        return pid
    service.pid.unlink(missing_ok=True)
    return None


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(service: Service, env: Mapping[str, str]) -> int:
    """Start the service detached, logging to its log file; its pid (see module doc)."""
    pid = running(service)
    if pid is not None:
        return pid
    service.log.parent.mkdir(parents=True, exist_ok=True)
    with service.log.open("ab") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(service.argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(list(service.argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_default_sigint)
    service.pid.write_text(f"{proc.pid}\n")
    return proc.pid


def log_tail(service: Service, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(service.log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(ready: Callable[[], bool], service: Service, seconds: float) -> None:
    """Poll `ready` until true; raise ServiceError when the service exits or `seconds` pass first."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if ready():
            return
        if running(service) is None:
            raise ServiceError(f"{service.name} exited; the end of {service.log}:\n{log_tail(service)}")
        time.sleep(POLL_SECONDS)
    raise ServiceError(f"{service.name} not ready after {seconds:.0f} s; the end of {service.log}:\n{log_tail(service)}")


def _reap(pid: int) -> None:
    """Collect the exit status when `pid` is our own child (in a test); nothing otherwise."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait(alive: Callable[[], bool], pid: int, seconds: float) -> bool:
    """Wait up to `seconds` for `alive()` to turn false; whether it did."""
    deadline = time.time() + seconds
    while True:
        _reap(pid)
        if not alive():
            return True
        if time.time() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


def stop(service: Service, grace: float = 30.0) -> str:
    """SIGTERM to the service, up to `grace` seconds for it to exit; then SIGTERM to what is left of its session
    (children it left behind, e.g. a worker's flow runs), and SIGKILL for whatever still lives after that."""
    try:
        pid = int(service.pid.read_text().strip())
    except (OSError, ValueError):
        return "not-running"
    how = "not-running"
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        how = "stopped" if _wait(lambda: _alive(pid), pid, grace) else "killed"
    if _group_alive(pid):  # `start` made the service lead its own session, so its pid is the group's id
        os.killpg(pid, signal.SIGTERM)
        if not _wait(lambda: _group_alive(pid), pid, min(grace, 10.0)):
            how = "killed"
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _wait(lambda: _group_alive(pid), pid, 5.0)
    service.pid.unlink(missing_ok=True)
    return how
