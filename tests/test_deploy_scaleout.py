"""Scale-out on loopback, as two hosts would do it: a Prefect server on 127.0.0.1, the submit deployment on a
process work pool, two workers (`host-a`, `host-b`, one run at a time each), and a sweep of two points.
Both workers take a run, each run has its own slot, and both reports land in the sweep's shared folder.

The UI itself (a run with refinement, in headless Chromium) is tested from the README's own commands in
`tests/test_readme_ui.py`.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from conftest import ROOT, fast_profile, kaggle_files
from tasks_lib.arc.data import Pair, Task
from tasks_lib.reports.ui import card_key

PREFECT = str(Path(sys.executable).parent / "prefect")
POOL = "arc-ttt-test"
WORKERS = ("host-a", "host-b")
SOLVED = "00c0ffee"  # the id of the task every run solves (`constant_task`)


@dataclass
class ControlRoom:
    """A finished two-point sweep on a loopback server: where its API is, its folder, its table, its tasks."""

    api: str
    out: Path
    table: list[dict]
    task_ids: list[str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(api: str, server: subprocess.Popen, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{api} not healthy after {seconds:.0f}s")


def stop(proc: subprocess.Popen) -> None:
    """End a process this test started, and its children (it leads its own session). Prefect workers shut
    down on SIGINT, as on Ctrl-C."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def control_room(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, small_tasks: list[Task]) -> Iterator[ControlRoom]:
    home = tmp_path_factory.mktemp("control-room")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home / "prefect"), "PREFECT_API_URL": api, "PREFECT_SERVER_API_HOST": "127.0.0.1",
           "PREFECT_SERVER_API_PORT": str(port), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_WORKER_QUERY_SECONDS": "2", "TOKENIZERS_PARALLELISM": "false"}
    procs: list[subprocess.Popen] = []
    logs = home / "logs"
    logs.mkdir()

    def start(name: str, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen([*args], cwd=ROOT, env=env, stdout=(logs / f"{name}.log").open("w"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        procs.append(proc)
        return proc

    try:
        server = start("server", PREFECT, "server", "start")
        wait_healthy(api, server, 180)
        deployed = subprocess.run([sys.executable, "flows/deploy.py", "--pool", POOL, "--only", "submit"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=120)
        assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-3000:]
        for name in WORKERS:
            start(name, PREFECT, "worker", "start", "--pool", POOL, "--name", name, "--limit", "1")

        tasks = [constant_task(small_tasks[0]), small_tasks[1]]
        challenges, solutions = kaggle_files(tasks, home / "data")
        # dfs keeping only completions of probability 1 finds none with a random model: every attempt is a guess, so
        # the constant task is solved and the other falls back, whatever the machine's speed
        profile = fast_profile(home, slots={"cpu_slots": 1}, sample={"backend": "dfs", "dfs_threshold": 1.0})
        point = {"profile": str(profile), "model": str(tiny_model), "solutions": str(solutions), "time_budget": 90}
        (home / "points.json").write_text(json.dumps([{**point, "name": "a"}, {**point, "name": "b"}]))
        out = home / "sweep"
        done = subprocess.run([sys.executable, "flows/sweep.py", "--points", str(home / "points.json"), "--challenges", str(challenges),
                               "--limit", "2", "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        yield ControlRoom(api, out, read_csv(out / "sweep.csv"), [t.id for t in tasks])
    finally:
        for proc in reversed(procs):
            stop(proc)


def constant_task(task: Task) -> Task:
    """`task` renamed, with every train output and its one test output set to its first train output: the first
    model-free guess (`vote.fallback_grids`: the train outputs' common grid) solves it."""
    grid = task.train[0].output
    return Task(SOLVED, tuple(Pair(p.input, grid) for p in task.train), task.test_inputs[:1], (grid,))


def read_csv(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


async def _flow_runs(api: str) -> list:
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api) as client:
        return await client.read_flow_runs()


async def _artifacts(api: str, key: str) -> list:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async with PrefectClient(api) as client:
        return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC)


async def _subflows(api: str, parent_id: object) -> list:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    async with PrefectClient(api) as client:
        return await client.read_flow_runs(flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])))


async def _run_artifacts(api: str, flow_run_ids: list) -> list:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with PrefectClient(api) as client:
        return await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=flow_run_ids)))


def latest_artifact(room: ControlRoom, key: str) -> str:
    return str(asyncio.run(_artifacts(room.api, key))[0].id)


def progress_updates(room: ControlRoom, artifact_id: str, want: int, seconds: float = 20) -> list[float]:
    """The values a progress artifact was updated to, oldest first, from the server's event log (events are
    written a moment after they happen, so wait for `want` of them)."""
    query = {"filter": {"event": {"name": ["prefect.artifact.updated"]}, "any_resource": {"id": [f"prefect.artifact.{artifact_id}"]}},
             "limit": 50}
    deadline = time.time() + seconds
    while True:
        request = urllib.request.Request(f"{room.api}/events/filter", data=json.dumps(query).encode(), headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            events = json.loads(reply.read())["events"]
        if len(events) >= want or time.time() > deadline:
            return [e["payload"]["data"] for e in sorted(events, key=lambda e: e["occurred"])]
        time.sleep(1)


def flow_runs(room: ControlRoom) -> list:
    return asyncio.run(_flow_runs(room.api))


@pytest.mark.slow
def test_two_workers_share_a_sweep_and_results_land_together(control_room: ControlRoom) -> None:
    room = control_room
    assert [r["name"] for r in room.table] == ["a", "b"]
    assert all(r["state"] == "Completed" for r in room.table), room.table
    assert {r["worker"] for r in room.table} == set(WORKERS)  # each worker took one of the two runs

    runs = {r.name: r for r in flow_runs(room)}
    for name in ("a", "b"):
        report = json.loads((room.out / name / "report.json").read_text())
        assert report["slots"] == 1 and report["statuses"] == {"ok": 2}, report["statuses"]
        assert report["run_id"] == name and report["states"] == {"solved": 1, "fallback": 1}, report["states"]
        assert sorted(t["task_id"] for t in report["tasks"]) == sorted(room.task_ids)
        assert len(list((room.out / name / "logs").glob("slot-*.log"))) == 1  # its own slot worker
        for tid in room.task_ids:
            assert (room.out / name / "tasks" / tid / "test-0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (room.out / name / "timeline.png").exists()
        assert runs[name].parent_task_run_id is not None  # linked under the sweep's run in the UI
    pids = {json.loads((room.out / n / "run.json").read_text())["pid"] for n in ("a", "b")}
    assert len(pids) == 2


@pytest.mark.slow
def test_the_ui_gets_a_live_progress_bar_and_a_card_per_task(control_room: ControlRoom) -> None:
    room = control_room
    run_a = next(r for r in flow_runs(room) if r.name == "a")
    subflows = {r.name.split()[0]: r.id for r in asyncio.run(_subflows(room.api, run_a.id))}
    assert sorted(subflows) == sorted(room.task_ids)
    states = {r.name: r.state.name for r in asyncio.run(_subflows(room.api, run_a.id))}
    assert states == {f"{SOLVED} ✔ solved": "Solved", f"{room.task_ids[1]} ◌ fallback": "Fallback"}  # named by its task's word
    artifacts = asyncio.run(_run_artifacts(room.api, [run_a.id, *subflows.values()]))
    keys = {(a.key, a.flow_run_id) for a in artifacts}
    assert {("run-progress", run_a.id), ("per-task-results", run_a.id), ("run-summary", run_a.id)} <= keys
    for tid, fid in subflows.items():
        assert (card_key("a", tid), fid) in keys  # each task's card sits on its own subflow
    progress = next(a for a in artifacts if a.key == "run-progress")
    values = progress_updates(room, str(progress.id), want=len(room.task_ids) + 1)
    assert len(values) >= len(room.task_ids) + 1 and values == sorted(values)  # moved as each task finished
    assert values[-1] == 100.0 and values[-2] < 100.0  # the share of the budget gone: full only at the end
