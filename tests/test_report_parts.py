"""The run-level parts of report.json (tasks_lib/arc/report_parts.py): each round-trips through its JSON form in the
key order report.json has, a report written before they were typed is read and written back unchanged, and a malformed
part is refused with the file and the field named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks_lib.arc.records import RecordError, TrainRecord
from tasks_lib.arc.report_parts import Compute, Overhead, RefineFailure, Schedule, SharedAdapter, SlotLoad
from tasks_lib.arc.run_record import Report, read_report

# A real report.json from the code before the run-level parts were typed (commit 23dc0c1: run_direct on CPU with the
# tiny test model, train scope shared, one task refined once): every part filled in, as other tools read it.
WRITTEN_BEFORE = Path(__file__).parent / "data" / "report_shared_scope.json"

SCHEDULE_KEYS = ["overhead_mean_seconds", "overhead_max_seconds", "overhead_per_task", "sample_seconds_per_token", "refinements",
                 "refine_failures", "work_seconds", "busy_fraction", "budget_end_in", "tail_seconds"]
COMPUTE_KEYS = ["parameters", "trained_tokens", "train_seconds", "flops", "train_tflops_per_slot", "work_seconds", "gpus",
                "device_name", "peak_tflops", "mfu"]
LOAD_KEYS = ["device", "device_name", "loaded_now", "load_seconds", "parameters", "warm_up_seconds", "graphs_compiled", "seconds"]


def test_each_part_round_trips_in_report_json_key_order() -> None:
    schedule = Schedule(2, 40.0, 0.5, 0.75, {"a": Overhead(0.25, 0.5)}, 0.01, (RefineFailure("b", 1, "RuntimeError: x"),), 0.8, 9.0, 1.5)
    compute = Compute(5_000_000, 900, 4.5, 2.7e10, 0.006, 40.0, 1, "NVIDIA H100 80GB HBM3", 790.0, 0.00001)
    load = SlotLoad("cuda", "NVIDIA H100 80GB HBM3", True, 3.5, 5_000_000, 12.0, 4, 16.0)
    for part, keys in ((schedule, SCHEDULE_KEYS), (compute, COMPUTE_KEYS), (load, LOAD_KEYS)):
        data = json.loads(json.dumps(part.to_json()))
        assert list(data) == keys
        assert type(part).from_json(data) == part
    assert schedule.to_json()["overhead_per_task"] == {"a": {"before": 0.25, "after": 0.5}}
    assert schedule.to_json()["refine_failures"] == [{"task_id": "b", "round": 1, "error": "RuntimeError: x"}]


def test_a_slot_load_writes_only_what_it_has() -> None:
    failed = SlotLoad.failed(RuntimeError("no GPU"))
    assert failed.to_json() == {"error": "RuntimeError: no GPU"} and SlotLoad.from_json(failed.to_json()) == failed
    assert SlotLoad.from_json({"seconds": 0, "slot": 3}) == SlotLoad(seconds=0.0, extra={"slot": 3})


def test_the_shared_adapter_is_one_flat_object_trained_or_resumed() -> None:
    trained = SharedAdapter(TrainRecord(steps=6, seconds=2.5, tokens=400, wall_seconds=3.0), tasks=2, budget_seconds=30.0, slot=0)
    data = json.loads(json.dumps(trained.to_json()))
    assert list(data)[-3:] == ["tasks", "budget_seconds", "slot"] and data["steps"] == 6 and "resumed" not in data
    assert SharedAdapter.from_json(data) == trained
    resumed = trained.replace(resumed=True)
    assert resumed.to_json() == {**data, "resumed": True} and SharedAdapter.from_json(resumed.to_json()) == resumed
    unknown = SharedAdapter(None, resumed=True)  # resumed, and the run that trained it kept no record: no numbers at all
    assert unknown.to_json() == {"resumed": True} and SharedAdapter.from_json({"resumed": True}) == unknown


def test_a_report_written_before_the_parts_were_typed_is_written_back_unchanged() -> None:
    text = WRITTEN_BEFORE.read_text()
    report = read_report(WRITTEN_BEFORE)
    assert json.dumps(report.to_json()) == json.dumps(json.loads(text)), "the same keys, in the same order, with the same values"
    assert report.schedule.refinements == report.refinements == 1 and report.schedule.refine_failures == ()
    assert report.schedule.overhead_per_task == {"66e6c45b": Overhead(0.0, 0.01)}
    (load,) = report.slot_loads
    assert load.parameters == report.compute.parameters == 92992 and load.device_name == report.compute.device_name == "cpu"
    assert (report.compute.trained_tokens, report.compute.mfu) == (0, None), "scope shared: the tasks trained nothing themselves"
    assert (report.shared.train.steps, report.shared.tasks, report.shared.slot, report.shared.resumed) == (2, 1, 0, False)


def test_a_schedule_from_before_the_overhead_split_and_the_tail_loads() -> None:
    """The schedule as refinement first wrote it (commit 75eade5): no per-task overhead, sample cost or tail."""
    old = {"overhead_mean_seconds": 1.2, "overhead_max_seconds": 2.0, "refinements": 3, "refine_failures": [], "work_seconds": 80.5,
           "busy_fraction": 0.9, "budget_end_in": 4.0}
    s = Schedule.from_json(old)
    assert (s.refinements, s.overhead_per_task, s.sample_seconds_per_token, s.tail_seconds) == (3, {}, None, None)
    assert Schedule.from_json(s.to_json()) == s


@pytest.mark.parametrize("change, message", [
    (lambda d: d["schedule"].pop("work_seconds"), "r/report.json: schedule.work_seconds: missing"),
    (lambda d: d["schedule"].update(refinements=None), "r/report.json: schedule.refinements: expected an integer, got null"),
    (lambda d: d["schedule"]["overhead_per_task"]["66e6c45b"].update(after="0.01"),
     "r/report.json: schedule.overhead_per_task.66e6c45b.after: expected an integer or a number, got str"),
    (lambda d: d["schedule"].update(refine_failures=[{"task_id": "a", "error": "x"}]), "r/report.json: schedule.refine_failures[0].round: missing"),
    (lambda d: d["compute"].pop("parameters"), "r/report.json: compute.parameters: missing"),
    (lambda d: d["compute"].update(mfu="high"), "r/report.json: compute.mfu: expected an integer or a number, got str"),
    (lambda d: d["slot_loads"][0].update(parameters=9.5), "r/report.json: slot_loads[0].parameters: expected an integer, got float"),
    (lambda d: d.update(slot_loads=["cpu"]), "r/report.json: slot_loads[0]: expected a JSON object, got str"),
    (lambda d: d.update(schedule=[]), "r/report.json: schedule: expected an object, got list"),
    (lambda d: d["shared"].update(tasks="1"), "r/report.json: shared.tasks: expected an integer, got str"),
    (lambda d: d["shared"].update(resumed=1), "r/report.json: shared.resumed: expected true or false, got int"),
    (lambda d: d["shared"].update(steps=2.0), "r/report.json: shared.steps: expected an integer, got float"),
])
def test_a_bad_part_names_the_file_and_the_field(change, message: str) -> None:
    data = json.loads(WRITTEN_BEFORE.read_text())
    change(data)
    with pytest.raises(RecordError) as err:
        Report.from_json(data, "r/report.json")
    assert str(err.value).startswith(message)
