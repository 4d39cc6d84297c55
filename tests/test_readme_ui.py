"""The README's "One machine, from nothing to a run in the UI", run as a new user runs it: its commands are read from
README.md (not retyped here) and run in bash, then its stop step. What the test changes, and only this: it drops the
install line (this environment's Python is first on PATH, so `python` and `prefect` are the installed ones), puts the
Prefect home in a temporary folder and the server on a free port instead of 4200, and appends `--param`s to the
deployment run line (the last value of a parameter wins) so the run is three small tasks on the tiny model with a
short budget and refinement on.

Checked: the server is up after the run (a pid, a log, no errors in it), the run ends Completed with `--watch` exiting
0, refinement ran, the run is named by its run id and its final message says solved tasks and score, each subflow is
named by its task's state, each task has one card key on its own subflow whose newest version follows its newest
record, the parent holds only run-level artifacts, the progress covers the refinement, the timeline has one bar per
piece of work, and the stop step ends server and worker.

The browser test (marker `browser`, deselected by default) opens the same run in headless Chromium and saves
screenshots under `runs/ui-test/` (or `$ARC_TTT_SCREENSHOTS`): runs-list, flow-run (the graph), subflows, artifacts
(the parent's tab), progress, run-summary (the timeline), task-card (the refined card), run-form (the deployment's
parameters). Run it with:

    apt-get install -y chromium && python3 lock/env.py install && .venv/bin/python -m pytest -m browser
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
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
from tasks_lib.arc.data import Task
from tasks_lib.arc.run_record import Report, read_report
from tasks_lib.reports import ui
from test_deploy_scaleout import SOLVED, constant_task, free_port, progress_updates

README = ROOT / "README.md"
START_SECTION = "### One machine, from nothing to a run in the UI"
STOP_SECTION = "**Stopping what you started.**"
RUN_LINE = "prefect deployment run 'arc-ttt-submit/"


@dataclass
class ReadmeRun:
    """The README's run on a loopback server: its API, Prefect home, run folder, report, and what `--watch` printed."""

    api: str
    home: Path
    out: Path
    report: Report
    watch: str
    stop_block: str
    env: dict


def bash_block(after: str) -> str:
    """The first ```bash block of README.md after the line that starts with `after`."""
    text = README.read_text()
    start = text.index("```bash\n", text.index(after)) + len("```bash\n")
    return text[start:text.index("```", start)]


def adapted(block: str, port: int, home: Path, params: dict[str, str]) -> str:
    """`block` with this test's changes (module doc) and nothing else."""
    lines = [line for line in block.splitlines() if not line.startswith("python3 lock/env.py install")]
    script = "\n".join(lines).replace("$PWD/.prefect", str(home)).replace("4200", str(port))
    extra = " ".join(f"--param {k}={v}" for k, v in params.items())
    assert RUN_LINE in script, "the README's block has no deployment run line"
    return "\n".join(f"{line} {extra}" if line.startswith(RUN_LINE) else line for line in script.splitlines()) + "\n"


def server_pid(home: Path) -> int:
    return int((home / "server.pid").read_text())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, small_tasks: list[Task]) -> Iterator[ReadmeRun]:
    home = tmp_path_factory.mktemp("readme-ui")
    port = free_port()
    tasks = [constant_task(small_tasks[0]), *small_tasks[1:3]]
    challenges, solutions = kaggle_files(tasks, home / "data")
    # dfs keeping only completions of probability 1 finds none with a random model: every task is unsure (margin 0),
    # so refinement always has work; the constant task is solved by its first guess whatever the machine's speed
    profile = fast_profile(home, slots={"cpu_slots": 2}, sample={"backend": "dfs", "dfs_threshold": 1.0},
                           schedule={"refine": True, "refine_rounds": 2, "refine_steps": 3, "min_task_seconds": 2})
    out = home / "r1"
    params = {"challenges": challenges, "solutions": solutions, "limit": 3, "profile": profile, "model": tiny_model,
              "time_budget": 60, "out": out}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", PREFECT_WORKER_QUERY_SECONDS="2",
               TOKENIZERS_PARALLELISM="false", COLUMNS="200")
    stop_block = bash_block(STOP_SECTION)
    stop_env = {**env, "PREFECT_HOME": str(home), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    try:
        done = subprocess.run(["bash", "-e", "-c", adapted(bash_block(START_SECTION), port, home, {k: str(v) for k, v in params.items()})],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
        report = read_report(out)
        yield ReadmeRun(f"http://127.0.0.1:{port}/api", home, out, report, done.stdout, stop_block, stop_env)
    finally:
        subprocess.run(["bash", "-c", stop_block], cwd=ROOT, env=stop_env, capture_output=True, timeout=120)


async def _read(api: str, what: str, **filters: object) -> list:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey, FlowRunFilter,
                                                FlowRunFilterParentFlowRunId)
    from prefect.client.schemas.sorting import ArtifactSort

    async with PrefectClient(api) as client:
        if what == "runs":
            return await client.read_flow_runs()
        if what == "subflows":
            return await client.read_flow_runs(flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[filters["parent"]])))
        if what == "artifacts-of":
            return await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=filters["runs"])))
        if what == "key":
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[filters["key"]])),
                                               sort=ArtifactSort.CREATED_DESC)
        if what == "deployments":
            return await client.read_deployments()
    raise ValueError(what)


def read(room: ReadmeRun, what: str, **filters: object) -> list:
    return asyncio.run(_read(room.api, what, **filters))


def the_run(room: ReadmeRun):  # noqa: ANN201  (a Prefect FlowRun)
    return next(r for r in read(room, "runs") if r.parent_task_run_id is None and r.name == room.out.name)


@pytest.mark.slow
def test_the_readme_recipe_keeps_the_server_up_through_a_run_with_refinement(readme_run: ReadmeRun) -> None:
    room, report = readme_run, readme_run.report
    assert alive(server_pid(room.home)), "the server is still up after the run"
    log = (room.home / "server.log").read_text()
    assert "Traceback" not in log and "Broken pipe" not in log, log[-3000:]
    assert list(room.home.glob("worker-*.pid")) and list(room.home.glob("worker-*.log"))
    port = int(room.api.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port)) as s:  # a warning line (uvicorn: "Invalid HTTP request received.")
        s.sendall(b"GARBAGE\r\n\r\n")  # killed the --background server, which wrote into a pipe nobody read
        s.recv(100)
    time.sleep(2)
    assert alive(server_pid(room.home)) and "Invalid HTTP request" in (room.home / "server.log").read_text()
    assert report.statuses == {"ok": 3}, report.statuses  # no task failed on a Prefect call
    assert report.refinements >= 1, report.schedule
    assert "finished:" in room.watch and "Completed" in room.watch  # the run's own lines reach --watch

    run = the_run(room)
    assert run.state.type.value == "COMPLETED" and run.state.message == ui.final_message(report)
    assert run.state.name == ui.final_name(report)  # what the run list's badge shows
    assert re.fullmatch(r"1/3 solved, score 0\.\d{3}.*", run.state.message)

    results = {t.task_id: t for t in report.results}
    subflows = read(room, "subflows", parent=run.id)
    assert sorted(s.name for s in subflows) == sorted(ui.subflow_name(r) for r in results.values())
    assert f"{SOLVED} ✔ solved" in {s.name for s in subflows}
    for s in subflows:
        tid = s.name.split()[0]
        assert s.state.name == ui.task_state(results[tid]).capitalize()
        versions = read(room, "key", key=ui.card_key(report.run_id, tid))  # newest first
        assert {v.flow_run_id for v in versions} == {s.id}, "every version of the card sits on the task's own subflow"
        rounds = results[tid].refinements
        assert len(versions) == 1 + len(rounds)
        assert versions[0].description.endswith(ui.task_state(results[tid]))
        if rounds:
            assert f"refinement {rounds[-1].round}: slot" in versions[0].data and "training in all" in versions[0].data

    parent_keys = sorted(a.key for a in read(room, "artifacts-of", runs=[run.id]))
    assert parent_keys == ["per-task-results", "run-progress", "run-summary"], parent_keys

    progress = next(a for a in read(room, "artifacts-of", runs=[run.id]) if a.key == "run-progress")
    values = progress_updates(room, str(progress.id), want=3 + report.refinements)  # type: ignore[arg-type]
    assert values == sorted(values) and values[-1] == 100.0 and values[-2] < 100.0
    assert len(values) >= 3 + report.refinements, "the bar moves with each refinement, not only pass 1"

    rows = ui.timeline_rows(report, report.started)
    assert len(rows) == 3 + report.refinements and {r["work"] for r in rows} > {"pass 1"}
    assert (room.out / "timeline.png").stat().st_size > 0


@pytest.mark.browser
def test_the_ui_shows_the_run_its_timeline_the_current_card_and_the_final_message(readme_run: ReadmeRun) -> None:
    from playwright.sync_api import expect, sync_playwright

    room, report = readme_run, readme_run.report
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "needs Debian's chromium package: apt-get install -y chromium"
    shots = Path(os.environ.get("ARC_TTT_SCREENSHOTS", ROOT / "runs" / "ui-test"))
    shots.mkdir(parents=True, exist_ok=True)
    ui_url = room.api.removesuffix("/api")
    run = the_run(room)  # (asyncio before Playwright's loop runs)
    message = ui.final_message(report)
    refined = next(t for t in report.results if t.refinements)
    subflow_runs = read(room, "subflows", parent=run.id)
    subflows = {s.name.split()[0]: s.id for s in subflow_runs}
    card = read(room, "key", key=ui.card_key(report.run_id, refined.task_id))[0]
    parent = {a.key: str(a.id) for a in read(room, "artifacts-of", runs=[run.id])}
    deployment = next(d for d in read(room, "deployments") if d.name == "solve-and-submit")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})

        page.goto(f"{ui_url}/runs")
        expect(page.get_by_text(room.out.name, exact=True).first).to_be_visible(timeout=30_000)  # named by the run id
        expect(page.get_by_text(ui.final_name(report), exact=True).first).to_be_visible()  # its badge: solved and score
        for s in subflow_runs:
            expect(page.get_by_text(s.name.split(maxsplit=1)[1]).first).to_be_visible()  # '✔ solved', '◌ fallback'
        page.screenshot(path=str(shots / "runs-list.png"))

        page.goto(f"{ui_url}/runs/flow-run/{run.id}")
        expect(page.get_by_text(ui.final_name(report), exact=True).first).to_be_visible(timeout=30_000)
        page.wait_for_timeout(3_000)  # the graph draws after the page
        page.screenshot(path=str(shots / "flow-run.png"))

        page.locator("li.p-tab", has_text="Subflow Runs").click()
        expect(page.get_by_text(f"{SOLVED} ✔ solved").first).to_be_visible(timeout=20_000)
        expect(page.get_by_text(ui.subflow_name(refined)).first).to_be_visible()
        page.screenshot(path=str(shots / "subflows.png"))

        page.locator("li.p-tab", has_text="Artifacts").click()
        for key in ("run-progress", "per-task-results", "run-summary"):
            expect(page.get_by_text(key).first).to_be_visible(timeout=20_000)
        expect(page.get_by_text(re.compile(r"^task-"))).to_have_count(0)  # no per-task cards on the parent
        page.screenshot(path=str(shots / "artifacts.png"), full_page=True)

        page.goto(f"{ui_url}/artifacts/artifact/{parent['run-progress']}")
        expect(page.get_by_text(re.compile(r"3/3 tasks done, 1 solved.*refinement: \d+ rounds? on \d tasks?")).first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(shots / "progress.png"), full_page=True)

        page.goto(f"{ui_url}/artifacts/artifact/{parent['run-summary']}")
        timeline = page.locator("img[src^='data:image/png']").first
        expect(timeline).to_be_visible(timeout=30_000)
        assert timeline.evaluate("img => img.complete && img.naturalWidth > 0")
        expect(page.get_by_role("cell", name="refine 1").first).to_be_visible()  # refinement rows in the timeline's table
        expect(page.get_by_text(message, exact=True).first).to_be_visible()  # the run's final state message (side panel)
        page.screenshot(path=str(shots / "run-summary.png"), full_page=True)

        page.goto(f"{ui_url}/runs/flow-run/{subflows[refined.task_id]}")  # the refined task's subflow, its card
        page.locator("li.p-tab", has_text="Artifacts").click()
        expect(page.get_by_text(ui.card_key(report.run_id, refined.task_id)).first).to_be_visible(timeout=20_000)
        page.goto(f"{ui_url}/artifacts/artifact/{card.id}")
        state = ui.task_state(refined)
        expect(page.get_by_role("heading", name=re.compile(rf"^Task {refined.task_id}\s*: {state}"))).to_be_visible(timeout=30_000)
        expect(page.get_by_text(f"refinement {refined.refinements[-1].round}: slot").first).to_be_visible()
        expect(page.get_by_text("training in all:").first).to_be_visible()
        page.screenshot(path=str(shots / "task-card.png"), full_page=True)

        page.goto(f"{ui_url}/deployments/deployment/{deployment.id}/run")
        expect(page.get_by_text("file: tasks as the file lists them").first).to_be_visible(timeout=30_000)  # a description
        page.screenshot(path=str(shots / "run-form.png"), full_page=True)
        browser.close()


@pytest.mark.slow
def test_the_readme_stop_step_ends_server_and_worker(readme_run: ReadmeRun) -> None:
    room = readme_run
    pids = [server_pid(room.home), *(int(p.read_text()) for p in room.home.glob("worker-*.pid"))]
    assert all(alive(pid) for pid in pids)
    t0 = time.time()
    done = subprocess.run(["bash", "-e", "-c", room.stop_block], cwd=ROOT, env=room.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not any(alive(pid) for pid in pids), done.stdout
    assert "killed" not in done.stdout and time.time() - t0 < 60, done.stdout  # each exited on SIGTERM
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{room.api}/health", timeout=2)
