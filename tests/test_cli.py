"""End to end: `python flows/submit.py` as a user runs it, on the first real ARC tasks with the tiny model.
Checks the files of the issue-2 contract, that the same --out again resumes every task, and a clean one-line error."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT, fast_profile
from tasks_lib.arc.data import load_challenges
from tasks_lib.running.submission import validate

pytestmark = pytest.mark.slow

SUBMIT = ROOT / "flows" / "submit.py"
LIMIT = 3
BUDGET = 90  # seconds for the whole run


@dataclass
class Done:
    out: Path
    proc: subprocess.CompletedProcess
    mtimes: dict[str, int]  # result.json mtime (ns) per task id, right after the first run


def _submit(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SUBMIT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _args(out: Path, profile: Path, model: Path) -> list[str]:
    return ["--challenges", "arc1/eval", "--limit", str(LIMIT), "--out", str(out), "--time-budget", str(BUDGET),
            "--model", str(model), "--profile", str(profile)]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, offline_env: dict[str, str]) -> Done:
    work = tmp_path_factory.mktemp("cli")
    out = work / "run"
    proc = _submit(_args(out, fast_profile(work), tiny_model), offline_env, cwd=work)  # not the repo root: runs from anywhere
    mtimes = {p.parent.name: p.stat().st_mtime_ns for p in (out / "tasks").glob("*/result.json")}
    return Done(out, proc, mtimes)


def test_run_writes_a_valid_submission_and_report(first_run: Done) -> None:
    proc, out = first_run.proc, first_run.out
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = load_challenges("arc1/eval", limit=LIMIT)
    n_test = data.n_test

    sub = json.loads((out / "submission.json").read_text())
    validate(sub, n_test)
    assert list(sub) == data.task_ids
    for tid, entries in sub.items():
        assert len(entries) == n_test[tid]
        assert all(set(e) == {"attempt_1", "attempt_2"} for e in entries)

    report = json.loads((out / "report.json").read_text())
    assert set(report["score"]) >= {"kaggle", "per_task"}
    assert 0.0 <= report["score"]["kaggle"] <= 1.0 and 0.0 <= report["score"]["per_task"] <= 1.0
    assert report["score"]["total_outputs"] == sum(n_test.values())
    assert [t["task_id"] for t in report["tasks"]] == data.task_ids
    for t in report["tasks"]:
        assert t["status"] == "ok", t.get("error")
        assert {"load", "train", "sample", "vote"} <= set(t["timings"])
        assert isinstance(t["steps"], int) and len(t["candidates"]) == n_test[t["task_id"]]
        assert t["attempts"] == sub[t["task_id"]]
        assert len(t["correct"]) == n_test[t["task_id"]]
        assert t["resumed"] is False
        assert (out / "tasks" / t["task_id"] / "result.json").exists()
    assert sorted(first_run.mtimes) == sorted(data.task_ids)

    said = proc.stdout + proc.stderr
    assert f"{LIMIT}/{LIMIT} tasks done" in said  # progress
    assert "submission.json" in proc.stdout and "score:" in proc.stdout  # where the files are, and the score


def test_same_out_again_resumes_without_redoing_tasks(first_run: Done, tiny_model: Path) -> None:
    """The CLI's run, run again with the same parameters: every task resumed, nothing rewritten. Run in process
    (`run_direct`, the flow's own pipeline): the CLI's resume of a half-finished run is tests/test_reliability_faults.py's."""
    from tasks_lib.running.pipeline import run_direct

    assert first_run.proc.returncode == 0
    out = first_run.out
    before = (out / "submission.json").read_text()
    run_direct("arc1/eval", out, str(out.parent / "test-profile.yaml"), limit=LIMIT, time_budget=BUDGET, model=str(tiny_model))
    after = {p.parent.name: p.stat().st_mtime_ns for p in (out / "tasks").glob("*/result.json")}
    assert after == first_run.mtimes  # no result.json was rewritten
    report = json.loads((out / "report.json").read_text())
    assert all(t["resumed"] for t in report["tasks"])
    assert json.loads((out / "submission.json").read_text()) == json.loads(before)


@pytest.mark.parametrize("content", [None, "{ not json"])
def test_unusable_challenges_file_is_a_one_line_error(tmp_path: Path, tiny_model: Path, offline_env: dict[str, str],
                                                      content: str | None) -> None:
    bad = tmp_path / "arc-agi_test_challenges.json"
    if content is not None:
        bad.write_text(content)
    proc = _submit(["--challenges", str(bad), "--out", str(tmp_path / "run"), "--model", str(tiny_model)], offline_env, cwd=tmp_path,
                   timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and str(bad) in lines[0]
    assert not (tmp_path / "run" / "submission.json").exists()


def test_a_task_whose_training_always_fails_is_still_sampled(tmp_path: Path, tiny_model: Path, small_tasks,
                                                             offline_env: dict[str, str]) -> None:
    """Training that fails on every retry costs the adapter, not the answers: the base model samples the task."""
    from conftest import kaggle_files

    challenges, solutions = kaggle_files(small_tasks[:1], tmp_path / "data")
    env = {**offline_env, "ARC_TTT_INJECT": "train:crash:*"}
    proc = _submit(["--challenges", str(challenges), "--solutions", str(solutions), "--out", str(tmp_path / "run"),
                    "--time-budget", "60", "--model", str(tiny_model), "--profile", str(fast_profile(tmp_path))], env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (task,) = json.loads((tmp_path / "run" / "report.json").read_text())["tasks"]
    assert task["status"] == "failed" and task["error"].startswith("train: ") and "sample:" not in task["error"], task["error"]
    assert task["sample"] is not None and task["sample"]["stats"]["generated"] > 0, task["sample"]
