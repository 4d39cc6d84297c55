"""The study driver's bookkeeping without any run: variants, the seed-major queue, which tasks it takes, a cut-off run's record from
the task results it wrote, scores over the whole task list, and the paired table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.study import RunSpec, collect, markdown, ordered_tasks, parse_variant, plan, run_tasks, score_runs, task_files
from tasks_lib.data import load_challenges


def test_variants_and_queue_order() -> None:
    none = parse_variant("none")
    assert none.overrides == {"train": {"scope": "none"}}
    head = parse_variant('head={"base": "shared", "overrides": {"train": {"lr": 0.001}}, "tasks": 400, "gpus": 2, "seeds": [0]}')
    assert head.overrides == {"train": {"scope": "shared", "lr": 0.001}} and (head.tasks, head.gpus, head.seeds) == (400, 2, [0])
    with pytest.raises(ValueError, match="catalog"):
        parse_variant("nope")
    with pytest.raises(ValueError, match="unknown keys"):
        parse_variant('x={"steps": 3}')
    keys = [(s.key, s.tasks, s.gpus) for s in plan([head, none], [0, 1], 60, 100.0)]
    assert keys == [("head/s0", 400, 2), ("none/s0", 60, 1), ("none/s1", 60, 1)]


def _result(tid: str, correct: list[bool], steps: int) -> dict:
    return {"task_id": tid, "status": "ok", "correct": correct, "steps": steps, "timings": {"train": 1.0, "sample": 2.0},
            "used_seconds": 3.0, "budget_seconds": 4.0}


def test_a_cut_off_run_keeps_its_finished_tasks_and_the_table_pairs_them(tmp_path: Path) -> None:
    outputs = {"a": 1, "b": 2, "c": 1}
    records = []
    for variant, seed, flags in (("per-task", 0, {"a": [True], "b": [True, True]}), ("none", 0, {"a": [False], "b": [True, False], "c": [False]})):
        run_dir = tmp_path / f"{variant}-{seed}"
        for tid, correct in flags.items():
            (run_dir / "run" / "tasks" / tid).mkdir(parents=True)
            (run_dir / "run" / "tasks" / tid / "result.json").write_text(json.dumps(_result(tid, correct, 5)))
        spec = RunSpec(f"{variant}/s{seed}", variant, seed, {}, 3, 1, 10.0)
        record = collect(spec, run_dir, "killed", 9.0, sorted(outputs), run_dir / "log.txt")
        record["task_ids"] = sorted(outputs)
        records.append(record)
    score_runs(records, outputs)
    assert records[0]["tasks_done"] == 2 and records[0]["tasks_solved"] == 2 and records[0]["score"] == pytest.approx(3 / 4)
    assert records[1]["tasks_solved"] == 0 and records[1]["score"] == pytest.approx(1 / 4)
    md = markdown(records, ["per-task", "none", "shared"], ["none", "per-task"])
    assert md.index("| none | 3 |") < md.index("| per-task | 3 |")
    assert "on the 2 tasks every one of per-task, none finished" in md
    assert "| per-task | none | 2 | 0 |" in md and "| a | 1/1 | 0/1 |" in md


def test_task_order_picks_the_tasks_a_study_runs(tmp_path: Path) -> None:
    by_id = ordered_tasks("arc1/eval", "id")
    assert [t.id for t in by_id] == sorted(t.id for t in by_id) and len(by_id) == 400
    smallest = [t.id for t in ordered_tasks("arc1/eval", "smallest")[:10]]
    assert smallest == [t.id for t in load_challenges("arc1/eval", limit=10, order="smallest").tasks]  # the CPU demo's set
    assert smallest != [t.id for t in by_id[:10]]
    with pytest.raises(ValueError, match="--order"):
        ordered_tasks("arc1/eval", "largest")


def test_a_variant_runs_a_chunk_of_the_task_list(tmp_path: Path) -> None:
    """`start` + `tasks`: consecutive chunks of one long run (e.g. the 400 tasks of a 1-hour run over device calls)."""
    tasks = ordered_tasks("arc1/eval", "smallest")
    chunks = [parse_variant(f'c{i}={{"base": "per-task", "start": {100 * i}, "tasks": 100, "budget": 900}}') for i in range(4)]
    specs = plan(chunks, [0], 60, 120.0)
    assert [(s.key, s.start, s.tasks, s.budget) for s in specs][1] == ("c1/s0", 100, 100, 900)
    ids = [t.id for s in specs for t in run_tasks(s, tasks)]
    assert ids == [t.id for t in tasks] and len(set(ids)) == 400  # every task once, in order
    challenges, solutions = task_files(run_tasks(specs[1], tasks)[:3], tmp_path / "c1")
    assert list(json.loads(challenges.read_text())) == [t.id for t in tasks[100:103]]
    assert list(json.loads(solutions.read_text())) == [t.id for t in tasks[100:103]]
    assert parse_variant("none").start == 0
    with pytest.raises(ValueError, match="source has 400"):
        run_tasks(plan([parse_variant('late={"start": 350, "tasks": 60}')], [0], 60, 1.0)[0], tasks)
    with pytest.raises(ValueError, match="start must be >= 0"):
        parse_variant('neg={"start": -1}')
