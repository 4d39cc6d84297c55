"""The study driver's bookkeeping without any run: variants, the seed-major queue, which tasks it takes, a cut-off run's record from
the task results it wrote, scores over the whole task list, the paired table, each worker's share of the host's cores, and the
chunks of one long run combined from several device calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.study import (RunSpec, collect, combine, combine_markdown, main, markdown, ordered_tasks, parse_variant, plan, run_tasks,
                              score_runs, write_profile)
from tasks_lib.arc.data import load_challenges, write_kaggle
from tasks_lib.running import sweep_points


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
            "used_seconds": 3.0, "budget_seconds": 4.0, "attempts": [{"attempt_1": [[0]], "attempt_2": [[1]]}] * len(correct)}


def test_a_cut_off_run_keeps_its_finished_tasks_and_the_table_pairs_them(tmp_path: Path) -> None:
    outputs = {"a": 1, "b": 2, "c": 1}
    records = []
    for variant, seed, flags in (("per-task", 0, {"a": [True], "b": [True, True]}), ("none", 0, {"a": [False], "b": [True, False], "c": [False]})):
        run_dir = tmp_path / f"{variant}-{seed}"
        for tid, correct in flags.items():
            (run_dir / "tasks" / tid).mkdir(parents=True)
            (run_dir / "tasks" / tid / "result.json").write_text(json.dumps(_result(tid, correct, 5)))
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
    challenges, solutions = write_kaggle(run_tasks(specs[1], tasks)[:3], tmp_path / "c1")
    assert list(json.loads(challenges.read_text())) == [t.id for t in tasks[100:103]]
    assert list(json.loads(solutions.read_text())) == [t.id for t in tasks[100:103]]
    assert parse_variant("none").start == 0
    with pytest.raises(ValueError, match="source has 400"):
        run_tasks(plan([parse_variant('late={"start": 350, "tasks": 60}')], [0], 60, 1.0)[0], tasks)
    with pytest.raises(ValueError, match="start must be >= 0"):
        parse_variant('neg={"start": -1}')


def _chunk(variant: str, start: int, ids: list[str], solved: int, wall: float, device: str = "0") -> dict:
    return {"key": f"{variant}/s0", "variant": variant, "start": start, "task_ids": ids, "devices": [device], "gpus": 1,
            "status": "ok", "tasks_done": len(ids), "tasks_solved": solved, "solved_outputs": solved, "done_outputs": len(ids),
            "wall_seconds": wall, "train_steps_per_task": 300.0}


def test_chunks_from_several_calls_combine_into_one_run_and_a_rerun_replaces_its_chunk(tmp_path: Path) -> None:
    first = tmp_path / "a.json"
    first.write_text(json.dumps({"cards": ["H200", "H200"], "runs": [
        _chunk("c0", 0, ["t1", "t2"], 1, 400.0), _chunk("c1", 2, ["t3", "t4"], 2, 410.0, "1"),
        _chunk("c0s", 0, ["t1", "t2"], 2, 400.0)]}))
    rerun = tmp_path / "b.json"
    rerun.write_text(json.dumps({"cards": ["H100"], "runs": [_chunk("c1", 2, ["t3", "t4"], 0, 150.0)]}))
    runs, totals = combine([first], ["c0", "c1"])
    assert [r["variant"] for r in runs] == ["c0", "c1"] and [r["card"] for r in runs] == ["H200", "H200"]
    assert (totals["tasks"], totals["tasks_solved"], totals["gpu_seconds"]) == (4, 3, 810.0)
    runs, totals = combine([first, rerun], ["c0", "c1"])
    assert [(r["variant"], r["card"]) for r in runs] == [("c0", "H200"), ("c1", "H100")]
    assert (totals["tasks_solved"], totals["gpu_seconds"], totals["cards"]) == (1, 550.0, ["H100", "H200"])
    assert "**All chunks:** 1 of 4 tasks solved (25.0%)" in combine_markdown(runs, totals)
    clash = tmp_path / "c.json"
    clash.write_text(json.dumps({"runs": [_chunk("odd", 1, ["t2", "t3"], 0, 1.0)]}))
    with pytest.raises(ValueError, match="task t2 is in both c0"):
        combine([first, clash], ["c0", "c1", "odd"])
    table = tmp_path / "all.md"
    main(["combine", str(first), str(rerun), "--variants", "c0,c1", "--out", str(table)])
    assert "| c1 | H100 | 2 | 2 | 0 |" in table.read_text()


def test_runs_side_by_side_split_the_host_cores_between_their_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four 4-slot runs at once on a 64-core host: each worker gets 4 threads, not the 16 a run alone would give it
    (16 workers x 16 threads made every train step ~4x slower on a 4 x H200 host, docs/journal.md)."""
    import yaml

    monkeypatch.setattr("os.cpu_count", lambda: 64)
    spec = plan([parse_variant("per-task")], [0], 10, 60.0)[0]
    path = write_profile(spec, "h100", "models/arc-tiny", "cuda", 4, tmp_path / "p", host_slots=16)
    assert yaml.safe_load(path.read_text())["slots"]["threads_per_slot"] == 4
    path = write_profile(spec, "h100", "models/arc-tiny", "cuda", 4, tmp_path / "q", {"slots": {"threads_per_slot": 7}}, host_slots=16)
    assert yaml.safe_load(path.read_text())["slots"]["threads_per_slot"] == 7  # a profile's own setting wins


@pytest.mark.slow
def test_a_study_runs_its_points_through_the_pipeline_and_writes_them_for_the_sweep_flow(tiny_model: Path, tmp_path: Path) -> None:
    """Two variants x one seed on two CPU "GPUs": each point is a run of `tasks_lib.running.pipeline.run_direct`; the table
    reads their reports; points.json holds parameters `flows/sweep.py` takes."""
    out = tmp_path / "out"
    # refinement off: the cpu profile's refinements would add steps that depend on how unsure the tiny model is
    main(["run", "--profile", "cpu", "--model", str(tiny_model), "--order", "smallest", "--tasks", "2",
          "--variant", 'none={"base": "none", "overrides": {"schedule": {"refine": false}}}',
          "--variant", 'short={"overrides": {"train": {"max_steps": 2}, "schedule": {"refine": false}}}', "--seeds", "0", "--gpus", "a,b", "--slots", "1",
          "--device", "cpu", "--budget", "300", "--seconds", "500", "--out", str(out), "--work", str(tmp_path / "work")])
    study = json.loads((out / "study.json").read_text())
    assert sorted((r["key"], r["status"], r["tasks_done"]) for r in study["runs"]) == [("none/s0", "ok", 2), ("short/s0", "ok", 2)]
    steps = {r["variant"]: r["train_steps_per_task"] for r in study["runs"]}
    assert steps == {"none": 0.0, "short": 2.0}
    points = json.loads((out / "points.json").read_text())
    runs = sweep_points.plan(points, "arc1/eval", None, str(tmp_path / "work" / "runs"))
    assert [r["name"] for r in runs] == ["none-s0", "short-s0"]
    table = sweep_points.rows(runs)
    assert [row["status"] for row in table] == ["ok: 2", "ok: 2"]
