"""Faults injected for real: killed workers and runs, hung steps, out-of-memory, SIGTERM, corrupt records.

Library tests drive `SlotPool` and the run store directly (workers fail before loading any model, so
they are quick); the `slow` tests run the whole CLI on three small tasks with a short profile.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
from reliability_helpers import (
    ROOT,
    alive,
    children,
    cli_args,
    cli_env,
    corpus_tasks,
    fast_profile,
    finished_results,
    reliability_model,
    run_cli,
    start_cli,
    stop,
    valid_submission,
    wait_for,
)

from tasks_lib.arc.data import Task
from tasks_lib.arc.records import TaskResult
from tasks_lib.arc.store import RunDir, StoreError, atomic_write_json
from tasks_lib.config import RunConfig
from tasks_lib.running import solve
from tasks_lib.running.budget import TaskBudget
from tasks_lib.running.run import prepare
from tasks_lib.running.slots import LeaseError, SlotError, SlotPool, claim_gpus
from tasks_lib.running.submission import fallback_entry

THREE = {"valid_two_tasks.json": ["valid_a", "valid_b"], "unusual_valid.json": ["one_cell"]}


def _pool(inject: str, once: Path | None = None) -> SlotPool:
    env = {"CUDA_VISIBLE_DEVICES": "", "ARC_TTT_INJECT": inject}
    if once is not None:
        env["ARC_TTT_INJECT_ONCE"] = str(once)
    return SlotPool([("cpu", env)], threads=1)


def _sample(pool: SlotPool, task_id: str, timeout: float) -> object:
    """A `sample` call whose injected fault fires before any model is needed."""
    return pool.call(0, "sample", timeout, task=Task(task_id, (), (), ()), model=None, sample=None, adapter_dir="", deadline=0.0)


# --- slot workers -------------------------------------------------------------------------------


def test_worker_killed_mid_call_is_noticed_at_once_and_replaced(tmp_path: Path) -> None:
    pool = _pool("sample:hang:victim,sample:oom:probe", once=tmp_path / "once")
    errors: list[SlotError] = []

    def call() -> None:
        try:
            _sample(pool, "victim", timeout=120)
        except SlotError as err:
            errors.append(err)

    try:
        caller = threading.Thread(target=call)
        caller.start()
        wait_for(lambda: (tmp_path / "once" / "sample-hang-victim").exists(), 60, "the worker to hang")
        victim = pool.slots[0].proc.pid
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        caller.join(30)
        assert not caller.is_alive() and time.monotonic() - t0 < 10, "a dead worker must be noticed at once, not at the timeout"
        assert [e.kind for e in errors] == ["died"], errors
        with pytest.raises(SlotError) as info:
            _sample(pool, "probe", timeout=60)
        assert info.value.kind == "oom", "the slot's next call is answered by a fresh worker"
        assert pool.slots[0].starts == 2 and pool.slots[0].proc.pid != victim
    finally:
        pool.close()


def test_hung_call_is_killed_at_its_timeout() -> None:
    pool = _pool("sample:hang:*")
    try:
        t0 = time.monotonic()
        with pytest.raises(SlotError) as info:
            _sample(pool, "any", timeout=4)
        took = time.monotonic() - t0
        assert info.value.kind == "timeout" and "killed" in str(info.value)
        assert 4 <= took < 8, took
        assert pool.slots[0].proc is None, "the hung worker is gone; the next call starts a fresh one"
    finally:
        pool.close()


def test_close_kills_a_busy_worker_at_once() -> None:
    """What SIGTERM relies on: closing the pool does not wait for a hung call's timeout."""
    pool = _pool("sample:hang:*")
    errors: list[SlotError] = []

    def call() -> None:
        try:
            _sample(pool, "any", timeout=300)
        except SlotError as err:
            errors.append(err)

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: pool.slots[0].proc is not None, 30, "the worker to start")
    worker = pool.slots[0].proc.pid
    time.sleep(1)
    t0 = time.monotonic()
    pool.close()
    caller.join(30)
    assert time.monotonic() - t0 < 10 and not alive(worker)
    assert [e.kind for e in errors] == ["died"]
    with pytest.raises(SlotError) as info:
        _sample(pool, "any", timeout=5)
    assert info.value.kind == "closed", "a closed pool starts no new worker"


def test_worker_exits_when_its_run_is_killed(tmp_path: Path) -> None:
    """A run killed with SIGKILL leaves no worker behind (a hung one would keep its GPU)."""
    script = (
        "import sys, threading, time\n"
        "from tasks_lib.arc.data import Task\n"
        "from tasks_lib.running.slots import SlotPool\n"
        "pool = SlotPool([('cpu', {'ARC_TTT_INJECT': 'sample:hang:*'})], threads=1)\n"
        "threading.Thread(target=pool.call, args=(0, 'sample', 600), kwargs=dict(task=Task('t', (), (), ()), model=None,"
        " sample=None, adapter_dir='', deadline=0.0), daemon=True).start()\n"
        "while pool.slots[0].proc is None:\n"
        "    time.sleep(0.1)\n"
        "print(pool.slots[0].proc.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    run = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        worker = int(run.stdout.readline())
        assert alive(worker)
        run.kill()
        run.wait()
        wait_for(lambda: not alive(worker), 10, "the orphaned worker to exit")
    finally:
        stop(run)


def test_oom_in_sample_sheds_views_then_samples_then_gives_up() -> None:
    pool = _pool("sample:oom:*")
    tried = []
    real_call = pool.call

    def spy(index: int, op: str, timeout: float, **kwargs: object) -> object:
        tried.append((kwargs["sample"].views, kwargs["sample"].samples_per_view))
        return real_call(index, op, timeout, **kwargs)

    pool.call = spy
    cfg = RunConfig().replace({"sample": {"views": 4, "samples_per_view": 2}})
    now = time.time()
    budget = TaskBudget("t", 30.0, now, now + 30, now + 10)
    try:
        with pytest.raises(SlotError) as info:
            solve.sample_step(pool, 0, Task("t", (), (), ()), cfg, budget, "")
        assert info.value.kind == "oom"
        assert tried == [(4, 2), (2, 2), (1, 2), (1, 1)], tried
        assert pool.slots[0].starts == 1, "an out-of-memory error is an answer, not a dead worker"
    finally:
        pool.close()


# --- devices across processes ------------------------------------------------------

_HOLD = (
    "import sys\n"
    "from pathlib import Path\n"
    "from tasks_lib.running.slots import LeaseError, claim_gpus\n"
    "try:\n"
    "    leases = claim_gpus((0, 1), 1, Path(sys.argv[1]))\n"
    "except LeaseError as err:\n"
    "    print('none', flush=True)\n"
    "    sys.exit(3)\n"
    "print(leases.gpus[0], flush=True)\n"
    "sys.stdin.read()\n"
)


def _holder(lock_dir: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock_dir)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def test_concurrent_runs_claim_different_gpus(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    first, said_first = _holder(locks)
    second, said_second = _holder(locks)
    try:
        assert said_first == "0" and said_second == "1", (said_first, said_second)
        third, said_third = _holder(locks)
        assert said_third == "none" and third.wait(30) == 3, "no free GPU: a third run gets LeaseError"
        first.kill()
        first.wait()
        with pytest.raises(LeaseError):
            claim_gpus((1,), 1, locks)
        mine = claim_gpus((0, 1), 2, locks)
        assert mine.gpus == [0], "a killed run's lease is free again; a live run's is not"
        mine.release()
    finally:
        for proc in (first, second):
            stop(proc)


# --- the run store ---------------------------------------------------------------------------------

_GOOD = {"task_id": "valid_a", "status": "ok", "attempts": [{"attempt_1": [[1]], "attempt_2": [[2]]}]}
CORRUPT_RESULTS = {
    "half-written": json.dumps(_GOOD)[:40],
    "empty": "",
    "not JSON": "\x00\x01garbage",
    "a list": "[]",
    "another task's": json.dumps({**_GOOD, "task_id": "valid_b"}),
    "no attempts": json.dumps({k: v for k, v in _GOOD.items() if k != "attempts"}),
    "attempt without attempt_2": json.dumps({**_GOOD, "attempts": [{"attempt_1": [[1]]}]}),
    "wrong number of attempts": json.dumps({**_GOOD, "attempts": _GOOD["attempts"] * 2}),
}


@pytest.fixture(scope="module")
def quick_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reliability-profile")
    return fast_profile(folder / "profile.yaml", reliability_model(tmp_path_factory), folder / "locks")


@pytest.mark.parametrize("case", list(CORRUPT_RESULTS))
def test_corrupt_result_on_resume_is_redone(case: str, tmp_path: Path, quick_profile: Path) -> None:
    challenges = corpus_tasks(tmp_path / "c.json", {"valid_two_tasks.json": ["valid_a", "valid_b"]})
    out = tmp_path / "out"
    RunDir(out).write_result(TaskResult.from_json({**_GOOD, "task_id": "valid_b"}))
    path = RunDir(out).result_path("valid_a")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CORRUPT_RESULTS[case])
    run = prepare(str(challenges), out, str(quick_profile))
    assert [t.id for t in run.todo] == ["valid_a"] and run.resumed == ["valid_b"]
    assert json.loads(run.dir.submission.read_text())["valid_a"] == fallback_entry(run.tasks["valid_a"], 1)


def test_failures_while_stopping_are_not_recorded_as_finished(tmp_path: Path, quick_profile: Path) -> None:
    """A task that fails because the run is stopping (or whose subflow never ran) is redone on resume."""
    challenges = corpus_tasks(tmp_path / "c.json", {"valid_two_tasks.json": ["valid_a", "valid_b"]})
    run = prepare(str(challenges), tmp_path / "out", str(quick_profile))
    lost = {**_GOOD, "task_id": "valid_b", "status": "failed", "error": "infrastructure"}
    run.record(TaskResult.from_json(lost), persist=False)
    run.pool = SlotPool([("cpu", {})])
    run.pool.close()
    run.record(TaskResult.from_json({**lost, "task_id": "valid_a", "error": "died: worker killed while stopping"}))
    assert RunDir(run.dir.root).finished(["valid_a", "valid_b"]) == {}
    assert json.loads(run.dir.submission.read_text())["valid_a"] == _GOOD["attempts"], "the submission still has it"
    run.record(TaskResult.from_json({**_GOOD, "status": "ok"}))
    assert list(RunDir(run.dir.root).finished(["valid_a", "valid_b"])) == ["valid_a"], "a success is always kept"


def test_interrupted_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "submission.json"
    atomic_write_json(path, {"t": [{"attempt_1": [[1]], "attempt_2": [[1]]}]})
    before = path.read_bytes()
    with pytest.raises(TypeError):
        atomic_write_json(path, {"t": [{"attempt_1": [[1]], "attempt_2": object()}]})  # fails mid-write
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["submission.json"], "no temp file is left behind"


def test_unwritable_output_dir_fails_before_anything_runs(tmp_path: Path, quick_profile: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    challenges = corpus_tasks(tmp_path / "c.json", {"valid_two_tasks.json": ["valid_a"]})
    with pytest.raises(StoreError) as info:
        prepare(str(challenges), blocker / "out", str(quick_profile))
    assert str(blocker / "out") in str(info.value) and "not writable" in str(info.value)


# --- whole runs ----------------------------------------------------------------------------------


def _workers(pid: int) -> list[int]:
    return [c for c in children(pid) if b"tasks_lib.running.worker" in Path(f"/proc/{c}/cmdline").read_bytes()]


@pytest.mark.slow
def test_cli_unwritable_output_dir_is_one_error_before_training(tmp_path: Path, offline_env: dict[str, str],
                                                                quick_profile: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    challenges = corpus_tasks(tmp_path / "c.json", {"valid_two_tasks.json": ["valid_a"]})
    proc = run_cli(cli_args(challenges, blocker / "out", quick_profile), cli_env(offline_env), timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith(f"error: {blocker / 'out'}: output directory is not writable")
    assert "Beginning flow run" not in proc.stdout + proc.stderr, "nothing may start before the check"


def _hang_started(once: Path, out: Path) -> Callable[[], bool]:
    return lambda: (once / "train-hang-one_cell").exists() and len(finished_results(out)) == 2


@pytest.mark.slow
def test_cli_sigterm_kill9_and_rerun_lose_nothing(tmp_path: Path, offline_env: dict[str, str],
                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    """One output folder, three runs of the same command (one_cell's training hangs in the first two):
    1. SIGTERM mid-task: a prompt stop, a valid submission with what finished, no record for the hung task;
    2. kill -9 mid-task: no worker survives;
    3. after a finished record is cut in half: only that task and the unfinished one are redone, nothing
       finished is redone."""
    challenges = corpus_tasks(tmp_path / "c.json", THREE)
    profile = fast_profile(tmp_path / "profile.yaml", reliability_model(tmp_path_factory), tmp_path / "locks")
    out, once = tmp_path / "out", tmp_path / "once"
    env = cli_env(offline_env, ARC_TTT_INJECT="train:hang:one_cell", ARC_TTT_INJECT_ONCE=str(once))
    command = cli_args(challenges, out, profile)

    first = start_cli(command, env, tmp_path / "first.log")
    try:
        wait_for(_hang_started(once, out), 180, "two tasks finished and one hanging in train", first)
        at_signal = valid_submission(out, challenges)
        records = {t: p.read_bytes() for t, p in finished_results(out).items()}
        workers = _workers(first.pid)
        logged = (tmp_path / "first.log").stat().st_size
        t0 = time.monotonic()
        first.send_signal(signal.SIGTERM)
        code = first.wait(60)
        took = time.monotonic() - t0
    finally:
        stop(first)
    log = (tmp_path / "first.log").read_bytes()[logged:].decode()  # what the run wrote once signalled
    assert code == 128 + signal.SIGTERM and "stopped by signal 15" in log and "Traceback" not in log, log[-3000:]
    assert took < 30, f"SIGTERM took {took:.1f}s to stop the run"
    assert workers and not any(alive(w) for w in workers)
    for tid in ("valid_a", "valid_b"):
        assert at_signal[tid] == json.loads(records[tid])["attempts"], "the submission on disk had each finished task"
    assert {t: p.read_bytes() for t, p in finished_results(out).items()} == records, "records intact, none added"
    assert valid_submission(out, challenges) == at_signal
    report = {t["task_id"]: t["status"] for t in json.loads((out / "report.json").read_text())["tasks"]}
    assert report["valid_a"] == report["valid_b"] == "ok" and report["one_cell"] in ("not-run", "failed"), report

    (once / "train-hang-one_cell").unlink()  # hang once more, in the second run
    second = start_cli(command, env, tmp_path / "second.log")
    try:
        wait_for(_hang_started(once, out), 180, "the second run hanging in train", second)
        workers = _workers(second.pid)
        others = [c for c in children(second.pid) if c not in workers]
        second.kill()
        second.wait()
        wait_for(lambda: not any(alive(w) for w in workers), 10, "the killed run's workers to exit")
    finally:
        stop(second)
    for pid in others:  # the killed run's temporary Prefect server outlives it (Prefect's own process)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    valid_submission(out, challenges)
    before = finished_results(out)
    assert {t: p.read_bytes() for t, p in before.items()} == records, "the second run redid a finished task"
    kept = before["valid_a"].stat().st_mtime_ns
    before["valid_b"].write_text(records["valid_b"].decode()[:50])  # as if cut off mid-write

    third = run_cli(command, env, timeout=240)
    assert third.returncode == 0, third.stderr[-3000:]
    assert before["valid_a"].read_bytes() == records["valid_a"] and before["valid_a"].stat().st_mtime_ns == kept
    report = {t["task_id"]: t for t in json.loads((out / "report.json").read_text())["tasks"]}
    assert {t: (r["status"], r["resumed"]) for t, r in report.items()} == {
        "valid_a": ("ok", True), "valid_b": ("ok", False), "one_cell": ("ok", False)}
    assert json.loads(before["valid_b"].read_text())["status"] == "ok", "the cut record was redone"
    sub = valid_submission(out, challenges)
    assert all(sub[t] == report[t]["attempts"] for t in report)


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory, offline_env: dict[str, str]) -> dict:
    """One CLI run with three faults, each firing once: valid_a's training hangs, valid_b's worker crashes
    in training, one_cell's sampling runs out of memory."""
    folder = tmp_path_factory.mktemp("faulty-run")
    challenges = corpus_tasks(folder / "c.json", THREE)
    grace, load = 3.0, 90.0  # a cold worker start took 10-30 s on a busy 2-core machine
    profile = fast_profile(folder / "profile.yaml", reliability_model(tmp_path_factory), folder / "locks",
                           total_seconds=40, grace=grace, load_timeout=load)
    out, once = folder / "out", folder / "once"
    env = cli_env(offline_env, ARC_TTT_INJECT="train:hang:valid_a,train:crash:valid_b,sample:oom:one_cell",
                  ARC_TTT_INJECT_ONCE=str(once))
    proc = run_cli(cli_args(challenges, out, profile), env, timeout=240)
    return {"proc": proc, "out": out, "once": once, "challenges": challenges,
            "grace": grace, "load": load, "report": json.loads((out / "report.json").read_text()) if proc.returncode == 0 else None}


def _task(run: dict, task_id: str) -> dict:
    assert run["proc"].returncode == 0, run["proc"].stderr[-3000:]
    return next(t for t in run["report"]["tasks"] if t["task_id"] == task_id)


@pytest.mark.slow
def test_cli_hung_step_is_killed_and_the_run_completes(faulty_run: dict) -> None:
    """The hang fires once: the step is killed at its deadline + grace, its retry runs on a fresh worker."""
    hung = _task(faulty_run, "valid_a")
    assert (faulty_run["once"] / "train-hang-valid_a").exists(), "the hang fired"
    assert hung["status"] == "ok" and hung["slot"] is not None, hung
    sub = valid_submission(faulty_run["out"], faulty_run["challenges"])
    assert all(sub[t["task_id"]] == t["attempts"] for t in faulty_run["report"]["tasks"])
    # a hang that was never killed would never end; one killed late would overrun the run's budget
    limit = 40 + faulty_run["grace"] + faulty_run["load"]
    assert faulty_run["report"]["wall_seconds"] <= limit, (faulty_run["report"]["wall_seconds"], limit)


@pytest.mark.slow
def test_cli_crashed_worker_is_replaced_and_the_task_retried(faulty_run: dict) -> None:
    crashed = _task(faulty_run, "valid_b")
    assert (faulty_run["once"] / "train-crash-valid_b").exists(), "the crash fired"
    assert crashed["status"] == "ok" and crashed["error"] is None and crashed["train"] is not None, crashed


@pytest.mark.slow
def test_cli_oom_in_sample_is_retried_lighter(faulty_run: dict) -> None:
    light = _task(faulty_run, "one_cell")
    assert (faulty_run["once"] / "sample-oom-one_cell").exists(), "the out-of-memory error fired"
    assert light["status"] == "ok" and light["sample"]["degraded"] == [{"views": 1, "samples_per_view": 1}], light["sample"]
