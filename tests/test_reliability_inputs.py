"""Broken and unusual inputs (tests/data/): what the loader and the CLI do with each.

A whole file that cannot be used is a one-line `error:` naming the file and the problem, exit code 2,
no traceback, no training. A broken task is reported by id and field, gets fallback attempts, and
every other task runs normally.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from reliability_helpers import DATA, cli_args, cli_env, corpus_tasks, fast_profile, reliability_model, run_cli, valid_submission

from tasks_lib.arc.data import DataError, load_challenges
from tasks_lib.arc.encoding import Vocab, build_arc_tokenizer, encode_prompt
from tasks_lib.arc.store import RunDir
from tasks_lib.running.submission import fallback_entry

# (case, challenges file, solutions file or None, what the one-line error must say besides the file name)
FILE_ERRORS = [
    ("truncated", "truncated.json", None, "not valid JSON"),
    ("empty file", "empty_file.json", None, "not valid JSON"),
    ("not UTF-8", "not_utf8.json", None, "not valid JSON"),
    ("top-level list", "top_level_list.json", None, "must be a JSON object"),
    ("top-level string", "top_level_string.json", None, "must be a JSON object"),
    ("no tasks", "no_tasks.json", None, "contains no tasks"),
    ("missing file", "no_such_file.json", None, "file not found"),
    ("directory", ".", None, "is a directory"),
    ("solutions truncated", "valid_two_tasks.json", "solutions_truncated.json", "not valid JSON"),
    ("solutions not an object", "valid_two_tasks.json", "solutions_list.json", "must be a JSON object"),
]

# Tasks of mixed_valid_invalid.json that must be reported invalid, and the field the reason starts with.
INVALID_TASKS = {
    "task_is_list": "task:",
    "task_is_string": "task:",
    "missing_train": "train:",
    "missing_test": "test:",
    "train_empty": "train:",
    "test_empty": "test:",
    "train_is_object": "train:",
    "train_pair_is_list": "train[0]:",
    "train_missing_output": "train[0].output: missing",
    "test_missing_input": "test[0].input: missing",
    "test_item_is_grid": "test[0].input",
    "grid_is_string": "train[0].input: grid must be a list",
    "grid_empty": "train[0].input: grid has 0 rows",
    "grid_empty_row": "train[0].input: grid has 0 columns",
    "grid_row_is_int": "train[0].input: row 0 must be a list",
    "grid_ragged": "train[0].input: grid is ragged",
    "colour_10": "train[0].output: cell (0, 0) is 10",
    "colour_negative": "test[0].input: cell (0, 1) is -1",
    "colour_float": "train[0].input: cell (0, 0) is 1.5",
    "colour_string": "train[0].input: cell (0, 0) is '3'",
    "colour_bool": "train[0].input: cell (0, 0) is True",
    "colour_null": "train[0].input: cell (0, 0) is None",
    "grid_31_rows": "train[0].input: grid has 31 rows",
    "grid_31_cols": "test[0].input: grid has 31 columns",
    "second_test_broken": "test[1].input: grid is ragged",
    "test_output_broken": "test[0].output: cell (0, 0) is 11",
}
VALID_TASKS = ["valid_a", "valid_b"]
UNUSUAL_TASKS = ["one_cell", "max_30x30", "test_carries_output", "../../escape id"]


def _path(name: str) -> str:
    """A corpus file's path (the corpus folder itself for ".", a path that does not exist for the missing file)."""
    if name == ".":
        return str(DATA)
    return str(DATA / "missing" / name) if name == "no_such_file.json" else str(DATA / name)


@pytest.mark.parametrize("case,challenges,solutions,problem", FILE_ERRORS, ids=[c[0] for c in FILE_ERRORS])
def test_unusable_file_is_one_error_naming_it(case: str, challenges: str, solutions: str | None, problem: str) -> None:
    bad = _path(solutions or challenges)
    with pytest.raises(DataError) as info:
        load_challenges(_path(challenges), _path(solutions) if solutions else None)
    message = str(info.value)
    assert message.startswith(bad) and problem in message and "\n" not in message, message


def test_every_broken_task_is_named_by_field_and_the_rest_load() -> None:
    data = load_challenges(DATA / "mixed_valid_invalid.json")
    assert [t.id for t in data.tasks] == VALID_TASKS
    assert sorted(data.invalid) == sorted(INVALID_TASKS)
    for tid, field in INVALID_TASKS.items():
        assert data.invalid[tid].startswith(field), (tid, data.invalid[tid])
    assert data.n_test["second_test_broken"] == 3, "a broken task still gets one entry per test input"
    assert list(data.n_test) == list(json.loads((DATA / "mixed_valid_invalid.json").read_text()))


def test_unusual_but_valid_tasks_load() -> None:
    data = load_challenges(DATA / "unusual_valid.json")
    assert not data.invalid
    tasks = {t.id: t for t in data.tasks}
    assert list(tasks) == UNUSUAL_TASKS
    assert tasks["one_cell"].test_inputs[0] == ((7,),)
    big = tasks["max_30x30"].train[0].input
    assert (len(big), len(big[0])) == (30, 30)
    assert data.n_test["../../escape id"] == 2


def test_test_output_in_the_challenges_is_a_solution_never_a_prompt() -> None:
    task = next(t for t in load_challenges(DATA / "unusual_valid.json").tasks if t.id == "test_carries_output")
    assert task.test_outputs == (((1, 1), (1, 1)),), "the embedded output scores the task"
    vocab = Vocab.from_tokenizer(build_arc_tokenizer())
    prompt = encode_prompt(vocab, task, 0, 4096, 64)
    assert vocab.digits[1] not in prompt, "colour 1 appears only in the test output, so it must not reach the prompt"


def test_task_ids_cannot_escape_the_run_dir(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path / "out")
    for tid in ("../../escape id", "..", "/etc/passwd", "", "a/../../b"):
        folder = run_dir.task_dir(tid).resolve()
        assert folder.parent == (tmp_path / "out" / "tasks").resolve(), (tid, folder)


@pytest.mark.slow
def test_cli_refuses_unusable_files_in_one_line(tmp_path: Path, offline_env: dict[str, str]) -> None:
    """Each whole-file problem: exit 2, a single `error:` line naming the file, no traceback, no flow run."""
    procs = []
    for case, challenges, solutions, problem in FILE_ERRORS:
        args = ["--solutions", _path(solutions)] if solutions else []
        cmd = cli_args(_path(challenges), tmp_path / case.replace(" ", "-"), "cpu", *args)
        procs.append((case, _path(solutions or challenges), problem,
                      subprocess.Popen(cmd, env=cli_env(offline_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    for case, bad, problem, proc in procs:
        out, err = proc.communicate(timeout=120)
        lines = [line for line in err.splitlines() if line.strip()]
        assert proc.returncode == 2, (case, proc.returncode, err[-2000:])
        assert len(lines) == 1 and lines[0].startswith(f"error: {bad}") and problem in lines[0], (case, err[-2000:])
        assert "Traceback" not in out + err and "Beginning flow run" not in out + err, case


@pytest.mark.slow
def test_cli_runs_valid_tasks_beside_broken_ones(tmp_path: Path, offline_env: dict[str, str],
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    """Broken tasks are reported invalid with fallbacks; valid and unusual ones (1x1, 30x30, odd ids) run."""
    every = json.loads((DATA / "mixed_valid_invalid.json").read_text())
    challenges = corpus_tasks(tmp_path / "challenges.json", {"mixed_valid_invalid.json": list(every),
                                                              "unusual_valid.json": UNUSUAL_TASKS})
    profile = fast_profile(tmp_path / "profile.yaml", reliability_model(tmp_path_factory), tmp_path / "locks",
                           total_seconds=90, views=1)
    out = tmp_path / "out"
    proc = run_cli(cli_args(challenges, out, profile), cli_env(offline_env))
    assert proc.returncode == 0, proc.stderr[-3000:]
    sub = valid_submission(out, challenges)
    report = json.loads((out / "report.json").read_text())
    tasks = {t["task_id"]: t for t in report["tasks"]}
    assert list(tasks) == list(sub)
    for tid, field in INVALID_TASKS.items():
        assert tasks[tid]["status"] == "invalid" and tasks[tid]["error"].startswith(field), tasks[tid]
        assert sub[tid] == fallback_entry(None, len(sub[tid])) == tasks[tid]["attempts"]
    for tid in VALID_TASKS + UNUSUAL_TASKS:
        assert tasks[tid]["status"] == "ok" and tasks[tid]["error"] is None, tasks[tid]
        assert sub[tid] == tasks[tid]["attempts"]
    assert len(sub["second_test_broken"]) == 3 and len(sub["../../escape id"]) == 2
    assert "correct" in tasks["test_carries_output"], "a test output in the challenges scores the task"
    assert sorted(p.name for p in (out / "tasks").iterdir()) == sorted(RunDir(out).task_dir(t).name for t in tasks)
    served = [line for line in (proc.stdout + proc.stderr).splitlines() if "temporary server on http" in line]
    assert served and all("http://127.0.0.1:" in line for line in served), "the temporary Prefect server binds to loopback"
