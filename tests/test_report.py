"""Chunked evaluation: `--skip`/`--limit` runs of one set, combined by tasks_lib/reports/report.py (and
`flows/evaluate.py combine`), add up to the run over the whole set; overlapping or mixed runs are refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from conftest import fast_profile, kaggle_files
from test_pipeline import Fake
from tasks_lib.arc.data import Task
from tasks_lib.reports import report
from tasks_lib.running import pipeline
from tasks_lib.running.run import prepare
from tasks_lib.running.slots import SlotPool


@pytest.fixture(scope="module")
def chunked(tiny_model: Path, arc1_eval: list[Task], multi_test_task: Task, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Five small tasks (one with several test inputs, one whose sampling fails) run whole and as chunks of 1 and
    4 tasks, all with the same fake steps; returns each run's folder and report."""
    small = sorted((t for t in arc1_eval if t.id != multi_test_task.id), key=lambda t: t.cells)[:4]
    tasks = [small[0], multi_test_task, *small[1:]]
    folder = tmp_path_factory.mktemp("chunks")
    challenges, solutions = kaggle_files(tasks, folder / "data")
    profile = fast_profile(folder / "profile", model={"path": str(tiny_model)})
    runs = {}
    for name, skip, limit in (("whole", 0, None), ("chunk-0", 0, 1), ("chunk-1", 1, None)):
        run = prepare(str(challenges), folder / name, str(profile), str(solutions), limit=limit, time_budget=600, skip=skip)
        run.open_slots(SlotPool([("cpu", {})]))  # one slot's budget; the fake steps start no worker
        fake = Fake(fail={"sample": small[2].id})  # one unsolved task, so the per-task score is not all or nothing
        asyncio.run(pipeline.solve_all(run, fake.steps(run), slots=1))
        runs[name] = (folder / name, run.finish())
    return runs


def test_chunks_cover_the_set_once_and_add_up_to_the_whole_run(chunked: dict) -> None:
    whole = chunked["whole"][1]
    ids = [[t.task_id for t in chunked[c][1].tasks] for c in ("chunk-0", "chunk-1")]
    assert len(ids[0]) == 1 and len(ids[1]) == 4 and sorted(ids[0] + ids[1]) == sorted(t.task_id for t in whole.tasks)
    total = report.combine([report.load(chunked[c][0]) for c in ("chunk-0", "chunk-1")])["total"]
    score = whole.score
    assert 0 < score.per_task < 1 and score.per_task != score.kaggle, "the fakes make the two scores differ"
    assert (total["tasks"], total["solved_outputs"], total["total_outputs"], total["states"]) == (
        len(whole.tasks), score.solved_outputs, score.total_outputs, whole.states)
    assert total["kaggle"] == pytest.approx(score.kaggle)
    assert total["per_task"] == pytest.approx(score.per_task), "per-task score weighted by each chunk's tasks"
    assert total["pass1_solved_outputs"] == whole.score_pass1.solved_outputs
    assert total["wall_seconds"] == pytest.approx(sum(chunked[c][1].wall_seconds for c in ("chunk-0", "chunk-1")), abs=0.02)


def test_overlapping_or_mixed_reports_are_refused(chunked: dict, tmp_path: Path) -> None:
    whole, chunk = report.load(chunked["whole"][0]), report.load(chunked["chunk-1"][0] / "report.json")
    with pytest.raises(report.ReportError, match=r"chunk-1/report.json: task .* is also in .*whole/report.json"):
        report.combine([whole, chunk])
    with pytest.raises(report.ReportError, match="overlap"):
        report.combine([whole, chunk], allow_mixed=True)
    other = json.loads((chunked["chunk-1"][0] / "report.json").read_text())
    other["profile"] = "h100"
    (tmp_path / "report.json").write_text(json.dumps(other))
    first = report.load(chunked["chunk-0"][0])
    with pytest.raises(report.ReportError, match=rf"{tmp_path}/report.json: profile 'h100' differs from .*chunk-0/report.json"):
        report.combine([first, report.load(tmp_path)])
    assert report.combine([first, report.load(tmp_path)], allow_mixed=True)["total"]["tasks"] == 5
    with pytest.raises(report.ReportError, match=rf"{tmp_path}/none: no such run folder or report file"):
        report.load(tmp_path / "none")
    del other["score"]["scored_tasks"]
    (tmp_path / "report.json").write_text(json.dumps(other))
    with pytest.raises(report.ReportError, match="missing field score.scored_tasks"):
        report.load(tmp_path)


def test_evaluate_combine_prints_the_table_and_writes_json(chunked: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from flows.evaluate import main

    out = tmp_path / "combined.json"
    assert main(["combine", str(chunked["chunk-0"][0]), str(chunked["chunk-1"][0]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    score = chunked["whole"][1].score
    assert printed[0].split()[:3] == ["run", "source", "model"] and len(printed) == 5
    assert printed[3].startswith("total") and f"{score.solved_outputs}/{score.total_outputs}" in printed[3]
    assert printed[4].startswith(f"score: {score.kaggle:.3f}") and f"per task {score.per_task:.3f}" in printed[4]
    assert json.loads(out.read_text())["total"]["tasks"] == 5
    assert main(["combine", str(chunked["whole"][0]), str(chunked["chunk-0"][0])]) == 2
    assert "also in" in capsys.readouterr().err


def test_submit_refuses_a_skip_past_the_end(chunked: dict, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from flows.submit import main

    run_json = json.loads((chunked["chunk-1"][0] / "run.json").read_text())
    assert run_json["skip"] == 1
    profile = fast_profile(tmp_path / "profile", model={"path": str(tiny_model)})
    argv = ["--challenges", run_json["challenges"], "--solutions", run_json["solutions"], "--profile", str(profile), "--out", str(tmp_path / "out")]
    assert main([*argv, "--skip", "5"]) == 2
    assert "--skip 5 leaves no task (it has 5 tasks)" in capsys.readouterr().err
    assert main([*argv, "--skip", "-2"]) == 2
    assert "--skip must be >= 0, got -2" in capsys.readouterr().err
    from flows.evaluate import main as evaluate_main

    assert evaluate_main([*argv, "--skip", "5"]) == 2, "evaluate checks its inputs the same way, before any flow starts"
    assert "--skip 5 leaves no task (it has 5 tasks)" in capsys.readouterr().err
