"""Background services (tasks_lib/running/services.py): a log and a pid, SIGINT at its default even when the starter ignores
it (why a Prefect worker ignored the README's `kill`), and a stop that ends the process and what it left behind."""

from __future__ import annotations

import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tasks_lib.running import services
from tasks_lib.running.services import Service

# Stops on SIGTERM only by sending itself SIGINT, as `prefect worker start` does (prefect.utilities.processutils).
WORKER_LIKE = textwrap.dedent("""
    import os, signal, sys, time
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    print("RE" + "ADY", flush=True)
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        print("stopped on SIGINT", flush=True)
""")


def service(tmp_path: Path, code: str, name: str = "svc") -> Service:
    return Service(name, [sys.executable, "-c", code], tmp_path / f"{name}.log", tmp_path / f"{name}.pid")


def wait_for(text: str, s: Service, seconds: float = 10) -> None:
    deadline = time.time() + seconds
    while text not in (s.log.read_text() if s.log.exists() else ""):
        assert time.time() < deadline, services.log_tail(s)
        time.sleep(0.1)


def test_a_worker_like_process_started_with_sigint_ignored_still_stops_on_sigterm(tmp_path: Path) -> None:
    s = service(tmp_path, WORKER_LIKE)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job of a non-interactive shell has it
    try:
        pid = services.start(s, {})
    finally:
        signal.signal(signal.SIGINT, before)
    assert services.running(s) == pid and s.pid.read_text().strip() == str(pid)
    wait_for("READY", s)
    assert services.stop(s, grace=10) == "stopped"
    assert "stopped on SIGINT" in s.log.read_text()
    assert services.running(s) is None and not s.pid.exists()


def test_start_does_not_start_a_live_service_twice_and_stop_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    s = service(tmp_path, "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('RE' + 'ADY', flush=True); time.sleep(60)")
    pid = services.start(s, {})
    assert services.start(s, {}) == pid
    wait_for("READY", s)
    t0 = time.time()
    assert services.stop(s, grace=1) == "killed"
    assert time.time() - t0 < 15 and services.running(s) is None


def test_stop_ends_children_the_service_left_behind(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    code = (f"import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            f"f = open({str(child)!r}, 'w'); f.write(str(p.pid)); f.close(); print('RE' + 'ADY', flush=True)")  # exits at once, its child lives on
    s = service(tmp_path, code)
    services.start(s, {})
    wait_for("READY", s)
    grandchild = int(child.read_text())
    assert services._alive(grandchild)
    services.stop(s, grace=2)
    deadline = time.time() + 10
    while services._alive(grandchild) and time.time() < deadline:
        time.sleep(0.1)
    assert not services._alive(grandchild)


def test_a_stale_pid_file_is_not_running_and_wait_until_names_the_log(tmp_path: Path) -> None:
    s = service(tmp_path, "print('bad config', flush=True)")
    s.pid.write_text("999999999\n")
    assert services.running(s) is None and not s.pid.exists()
    services.start(s, {})
    with pytest.raises(services.ServiceError, match="bad config"):
        services.wait_until(lambda: False, s, seconds=10)
