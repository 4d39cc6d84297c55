"""The task records (tasks_lib/arc/records.py): every record round-trips through its JSON form, result.json files written
by earlier code still load (resume), and a malformed one is refused with the file and the field named."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tasks_lib.arc.records import (Attempts, Candidate, Pass1, Ranked, RecordError, RefinementEntry, SampleRecord, SampleStatsRecord,
                                   TaskResult, TestCandidates, TrainRecord, candidates_json, read_candidates)
from tasks_lib.arc.report_parts import Compute, Overhead, RefineFailure, Schedule, SharedAdapter, SlotLoad
from tasks_lib.arc.run_record import Report, ReportTask, Score, as_report, read_report
from tasks_lib.arc.store import RunDir

G1, G2 = ((1, 2), (3, 4)), ((0,),)

# A result.json as the code wrote it before spans, the train budget split and refinement existed (solve.task_result,
# before commit 8e82ff7), scored: every key the old record had, none of the later ones.
OLD_RESULT = """{
 "task_id": "007bbfb7", "status": "ok", "error": null, "slot": 0, "budget_seconds": 41.2, "used_seconds": 39.871,
 "timings": {"load": 0.002, "train": 24.5, "sample": 15.3, "vote": 0.069}, "steps": 12,
 "train": {"steps": 12, "seconds": 24.4, "first_loss": 1.9, "last_loss": 0.4, "stopped_by": "deadline", "wall_seconds": 24.5},
 "sample": {"stats": {"generated": 8, "malformed": 1, "views_done": 4, "seconds": 15.1, "stopped_by": "done"}, "degraded": [], "wall_seconds": 15.3},
 "attempts": [{"attempt_1": [[1, 2], [3, 4]], "attempt_2": [[0]]}],
 "candidates": [{"n": 7, "top": [{"grid": [[1, 2], [3, 4]], "votes": 5, "mean_logprob": -0.25, "views": [0, 1, 2, 3, 5]},
                                {"grid": [[0]], "votes": 2, "mean_logprob": -3.5, "views": [4, 6], "score": null}]}],
 "correct": [true]
}"""


def _refined() -> TaskResult:
    first = (Attempts(G2, G1),)
    return TaskResult(
        "t1", "ok", (Attempts(G1, G2),), slot=1, budget_seconds=50.5, train_budget_seconds=20.0, used_seconds=44.25,
        timings={"load": 0.5, "train": 20.0, "sample": 10.0, "vote": 0.1}, spans={"load": (100.0, 100.5), "vote": (130.5, 130.6)},
        steps=15, train=TrainRecord(10, 4.5, 900, 40, 1200, 2.0, 0.5, "steps", "fast", oom=("step 3: 1x900, light",), reset_seconds=0.1,
                                     loaded_now=False, wall_seconds=5.0),
        sample=SampleRecord(SampleStatsRecord(12, 1, 4, 3.0, "done", 300, (2, 2)), ({"views": 2, "samples_per_view": 1},), True, False, 3.5),
        candidates=(TestCandidates(6, (Ranked(G1, 4, -0.1234, (0, 1, 64, 65), 0.5), Ranked(G2, 2, -2.0, (2, 3)))),),
        correct=(True,),
        refinements=(RefinementEntry(1, 12.0, 5, 4, 450, 2.5, 4, ("steps", "done"), {"refine": 8.0, "vote": 0.1}, (), (True,), 0, (131.0, 139.1)),),
        pass1=Pass1(first, (False,)),
    )


def test_every_record_round_trips_through_its_json_form() -> None:
    record = _refined()
    text = json.dumps(record.to_json())
    assert TaskResult.from_json(json.loads(text)) == record
    assert list(record.to_json())[-3:] == ["correct", "refinements", "pass1"], "the keys in the order the files had them"
    unscored = TaskResult("t2", "failed", (Attempts(G1, G1),), error="sample: boom")
    assert "correct" not in unscored.to_json() and "refinements" not in unscored.to_json() and "pass1" not in unscored.to_json()
    assert TaskResult.from_json(unscored.to_json()) == unscored
    cands = [[Candidate(G1, 0, -0.5, True), Candidate(G2, 65, -4.0, False, -1.5)], []]
    assert read_candidates(json.loads(json.dumps(candidates_json(cands)))) == cands
    for r in (Ranked(G1, 3, -0.12345678, (1, 2), -0.98765432).rounded(), Pass1((Attempts(G1, G2),))):
        assert type(r).from_json(r.to_json()) == r


def test_a_result_written_before_refinement_existed_still_loads_and_keeps_its_content(tmp_path: Path) -> None:
    data = json.loads(OLD_RESULT)
    record = TaskResult.from_json(data, "old/result.json")
    assert (record.task_id, record.status, record.steps, record.correct) == ("007bbfb7", "ok", 12, (True,))
    assert record.spans == {} and record.train_budget_seconds is None and record.refinements == () and record.pass1 is None
    assert record.candidates[0].top[0] == Ranked(G1, 5, -0.25, (0, 1, 2, 3, 5)), "a ranked grid without a score"
    assert record.attempts == (Attempts(G1, G2),)
    assert (record.train.steps, record.train.tokens, record.train.first_loss, record.train.wall_seconds) == (12, 0, 1.9, 24.5)
    assert (record.sample.stats.views_done, record.sample.stats.tokens_decoded, record.sample.wall_seconds) == (4, 0, 15.3)
    written = record.to_json()
    steps = ("train", "sample")
    assert {k: v for k, v in written.items() if k not in ("spans", "train_budget_seconds", *steps)} == {
        **{k: v for k, v in data.items() if k not in steps}, "candidates": [{"n": 7, "top": [{**t, "score": t.get("score")} for t in data["candidates"][0]["top"]]}]}
    for step in steps:  # the step records keep every key the old file had, and add the newer ones at their defaults
        assert _flat(written[step]).items() >= _flat(data[step]).items()
    assert TaskResult.from_json(written) == record
    # resume: the run folder's reader takes it as a finished task
    run = RunDir(tmp_path)
    run.result_path("007bbfb7").parent.mkdir(parents=True)
    run.result_path("007bbfb7").write_text(OLD_RESULT)
    assert run.finished(["007bbfb7"]) == {"007bbfb7": record}


def _flat(d: dict, prefix: str = "") -> dict:
    return {k: v for key, value in d.items() for k, v in (_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value}).items()}


def test_step_records_read_the_workers_output_and_round_trip() -> None:
    """The steps' dicts as the worker and the run return them (TrainStats.to_dict() plus the step's keys; a sample
    step's output with its candidates) become their records; every field round-trips, unknown keys are kept."""
    train_out = {"steps": 8, "seconds": 6.0, "tokens": 700, "views": 32, "padded_tokens": 900, "first_loss": 2.5, "last_loss": 0.75,
                 "stopped_by": "deadline", "step_kind": "fast", "compiles": 0, "graphs": True, "captures": 0, "build_seconds": 1.5, "oom": [], "skipped": 0,
                 "reset_seconds": 0.01, "loaded_now": False, "wall_seconds": 6.2, "tasks": 3}
    train = TrainRecord.from_json(train_out)
    assert (train.stopped_by, train.graphs, train.wall_seconds, train.extra) == ("deadline", True, 6.2, {"tasks": 3})
    assert train.to_json() == train_out and TrainRecord.from_json(train.to_json()) == train
    untrained = TrainRecord(stopped_by="shared", scope="shared", adapter="/runs/r/shared", wall_seconds=0.0)
    assert TrainRecord.from_json(untrained.to_json()) == untrained and "loaded_now" not in untrained.to_json()
    assert TrainRecord(stopped_by="none", scope="none").to_json()["adapter"] is None, "scope none: the base model, adapter null"
    sample_out = {"candidates": [[]], "stats": {"generated": 5, "malformed": 1, "views_done": 2, "seconds": 1.5, "stopped_by": "done",
                  "tokens_decoded": 40, "decode_groups": [2], "groups_skipped": 0, "scored_views": 0, "score_seconds": 0.0},
                  "loaded_now": True, "adapter_switched": True, "degraded": [{"views": 4, "samples_per_view": 1}], "wall_seconds": 1.7}
    sample = SampleRecord.from_json(sample_out)
    assert (sample.stats.tokens_decoded, sample.stats.decode_groups, sample.degraded[0]["views"]) == (40, (2,), 4)
    assert sample.to_json() == {k: v for k, v in sample_out.items() if k != "candidates"}, "the candidates are not the record's"
    assert SampleRecord.from_json(sample.to_json()) == sample


def test_keys_it_does_not_know_are_kept() -> None:
    data = {"task_id": "t", "status": "ok", "attempts": [], "state": "fallback", "resumed": True}
    record = TaskResult.from_json(data)
    assert record.extra == {"state": "fallback", "resumed": True} and TaskResult.from_json(record.to_json()) == record


def _refused(read, text: str, change, where: str, message: str) -> None:
    """`read` (a record's from_json) refuses `text`'s JSON after `change`, with an error that starts with `message`."""
    data = json.loads(text)
    change(data)
    with pytest.raises(RecordError) as err:
        read(data, where)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("status"), "old/result.json: status: missing"),
    (lambda d: d["attempts"][0].pop("attempt_2"), "old/result.json: attempts[0].attempt_2: missing"),
    (lambda d: d.update(attempts="none"), "old/result.json: attempts: expected a list, got str"),
    (lambda d: d["candidates"][0]["top"][1].update(votes="2"), "old/result.json: candidates[0].top[1].votes: expected an integer, got str"),
    (lambda d: d["attempts"][0].update(attempt_1=[]), "old/result.json: attempts[0].attempt_1: expected a grid"),
    (lambda d: d.update(correct=[1]), "old/result.json: correct: expected a list of true/false"),
    (lambda d: d.update(refinements=[{"steps": 3}]), "old/result.json: refinements[0].round: missing"),
    (lambda d: d["train"].update(steps="12"), "old/result.json: train.steps: expected an integer, got str"),
    (lambda d: d["sample"]["stats"].update(views_done=None, seconds="15"), "old/result.json: sample.stats.seconds: expected an integer or a number, got str"),
    (lambda d: d["sample"].update(degraded=[4]), "old/result.json: sample.degraded: expected a list of objects"),
])
def test_bad_input_names_the_file_and_the_field(change, message: str) -> None:
    _refused(TaskResult.from_json, OLD_RESULT, change, "old/result.json", message)


def test_without_a_file_name_the_error_names_the_task(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    data = json.loads(OLD_RESULT)
    data["timings"] = {"train": "long"}
    with pytest.raises(RecordError, match="^task 007bbfb7: timings: expected seconds per step"):
        TaskResult.from_json(data)
    run = RunDir(tmp_path)  # resume ignores it (the task is redone) and says why
    run.result_path("007bbfb7").parent.mkdir(parents=True)
    run.result_path("007bbfb7").write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        assert run.read_result("007bbfb7") is None
    assert "result.json: timings: expected seconds per step" in caplog.text


# A report.json as the run wrote it before `started`, per-task `state`/`resumed`, `states`, the schedule, the score's
# `scored_tasks`, `score_pass1` and the run's compute existed (Run.finish before commit 3b83393), its task the old result.
OLD_REPORT = """{
 "run_id": "20261120-101500-ab12", "source": "arc1/eval", "profile": "profiles/cpu.yaml",
 "config": {"model": {"path": "/models/arc-base-5m"}, "budget": {"total_seconds": 600.0, "reserve_seconds": 20.0}},
 "wall_seconds": 41.5, "slots": 1, "statuses": {"ok": 1},
 "score": {"kaggle": 1.0, "per_task": 1.0, "solved_outputs": 1, "total_outputs": 1},
 "tasks": [%s]
}""" % OLD_RESULT


def _report() -> Report:
    return Report(
        "r1", (ReportTask(_refined(), "solved", False), ReportTask(TaskResult("t2", "not-run", (Attempts(G1, G1),)), "fallback", True)),
        source="arc1/eval", profile="cpu", config={"model": {"path": "/m"}, "budget": {"total_seconds": 60.0, "reserve_seconds": 5.0}},
        started=100.0, wall_seconds=50.25, slots=2, devices=("0", "cpu"), statuses={"ok": 1, "not-run": 1},
        states={"solved": 1, "fallback": 1}, shared=SharedAdapter(TrainRecord(steps=4), 2, 30.0, 0),
        slot_loads=(SlotLoad("cpu", "cpu", True, 0.5, 5, 0.25, 0, 1.0), SlotLoad.failed(RuntimeError("boom"))),
        schedule=Schedule(1, 40.0, 0.5, 0.75, {"t1": Overhead(0.25, 0.5)}, 0.01, (RefineFailure("t2", 1, "RuntimeError: x"),), 0.5, 9.0, 1.5),
        compute=Compute(5, 900, 4.5, 27000.0, 6e-9, 40.0, 0, "cpu", None, None), warnings=("t3: skipped",),
        score=Score(0.5, 0.5, 1, 2, 2), score_pass1=Score(0.0, 0.0, 0, 2, 2))


def test_a_report_round_trips_and_keeps_each_tasks_state_and_resumed_flag() -> None:
    r = _report()
    data = json.loads(json.dumps(r.to_json()))
    assert list(data) == ["run_id", "source", "profile", "config", "started", "wall_seconds", "slots", "devices", "statuses", "states",
                          "shared", "slot_loads", "schedule", "compute", "warnings", "score", "score_pass1", "tasks"]
    assert (data["tasks"][1]["state"], data["tasks"][1]["resumed"], data["tasks"][0]["task_id"]) == ("fallback", True, "t1")
    back = Report.from_json(data, "r1/report.json")
    assert back == r and back.tasks[0].result.extra == {}, "state and resumed are the entry's, not the task record's extra keys"
    assert (back.model_path, back.budget_seconds, back.reserve_seconds, back.refinements) == ("/m", 60.0, 5.0, 1)
    assert (back.schedule.overhead_per_task["t1"].after, back.compute.trained_tokens, back.slot_loads[1].error) == (0.5, 900, "RuntimeError: boom")
    assert as_report(data) == r and as_report(r) is r


def test_a_report_written_before_states_and_resume_existed_still_loads(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text(OLD_REPORT)
    r = read_report(tmp_path)
    assert (r.run_id, r.slots, r.states, r.schedule, r.score_pass1, r.started, r.refinements) == ("20261120-101500-ab12", 1, None, None, None, None, 0)
    assert r.score == Score(1.0, 1.0, 1, 1) and r.model_path == "/models/arc-base-5m"
    assert r.tasks == (ReportTask(TaskResult.from_json(json.loads(OLD_RESULT)), None, False),)
    assert Report.from_json(r.to_json()) == r


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("run_id"), "r/report.json: run_id: missing"),
    (lambda d: d["tasks"][0]["attempts"][0].pop("attempt_2"), "r/report.json: task 007bbfb7: attempts[0].attempt_2: missing"),
    (lambda d: d["tasks"][0].update(resumed="no"), "r/report.json: task 007bbfb7: resumed: expected true or false, got str"),
    (lambda d: d["tasks"][0]["train"].update(steps=1.5), "r/report.json: task 007bbfb7: train.steps: expected an integer, got float"),
    (lambda d: d["tasks"][0].pop("task_id"), "r/report.json: tasks[0]: task_id: missing"),
    (lambda d: d["score"].pop("kaggle"), "r/report.json: score.kaggle: missing"),
    (lambda d: d.update(states={"solved": "1"}), "r/report.json: states: expected a count per word"),
])
def test_a_bad_report_names_the_file_the_task_and_the_field(change, message: str) -> None:
    _refused(Report.from_json, OLD_REPORT, change, "r/report.json", message)
