"""What the UI and the run folder show: the state word of a task, the progress line, PNG pictures of grids,
task cards, the results table, the timeline, the run summary, and sweep points. Plain library code, no
Prefect server."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
from pathlib import Path

import pytest
from PIL import Image

from tasks_lib.arc.data import Task
from tasks_lib.arc.records import TaskResult
from tasks_lib.arc.report_parts import Schedule
from tasks_lib.arc.store import RunDir
from tasks_lib.reports import render, ui
from tasks_lib.running import sweep_points as points


def decode(data: bytes) -> Image.Image:
    """The RGB image of PNG bytes (Pillow checks the signature and every chunk's CRC while loading)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.mode == "RGB"
    return image


def cell_centre(r: int, c: int, x_offset: int = 0, cell: int = render.CELL, y_offset: int = 0) -> tuple[int, int]:
    """(x, y) of the middle of cell (r, c) of a grid drawn at (x_offset, y_offset)."""
    return x_offset + render.FRAME + c * cell + cell // 2, y_offset + render.FRAME + r * cell + cell // 2


def lefts(labels_and_widths: list[tuple[str, int]]) -> list[int]:
    """Left edges of the grids of a `render.labelled_row`: each column is as wide as its grid or its label."""
    x, out = 0, []
    for text, width in labels_and_widths:
        out.append(x)
        x += max(width, int(render.font().getlength(text))) + render.GAP
    return out


def grid_width(grid, cell: int) -> int:
    return len(grid[0]) * cell + 2 * render.FRAME - 1


@pytest.mark.parametrize("side, cell", [(1, 32), (3, 32), (10, 24), (30, 8)])
def test_cell_size_scales_small_grids_up_and_large_ones_down(side: int, cell: int) -> None:
    assert render.cell_size([[[0] * side] * side, [[1]]]) == cell


def test_grid_image_draws_each_cell_in_its_arc_colour_inside_a_verdict_frame() -> None:
    grid = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 0, 1]]
    image = decode(render.to_png(render.grid_image(grid, "wrong")))
    assert image.size == (3 * render.CELL + 2 * render.FRAME - 1, 4 * render.CELL + 2 * render.FRAME - 1)
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            assert image.getpixel(cell_centre(r, c)) == render.PALETTE[value], (r, c)
    assert image.getpixel((render.FRAME + render.CELL - 1, render.FRAME + 1)) == render.GRID_LINE  # the line between cells
    assert image.getpixel((0, 0)) == image.getpixel((image.width - 1, image.height - 1)) == render.FRAMES["wrong"]


def test_task_panel_shows_labelled_input_attempts_and_solution_with_verdicts(small_tasks: list[Task]) -> None:
    task = small_tasks[0]
    solution = [list(r) for r in task.test_outputs[0]]
    wrong = [[(v + 1) % 10 for v in row] for row in solution]
    (panel,) = render.task_panels(task, {"attempts": [{"attempt_1": wrong, "attempt_2": solution}]})
    image = decode(panel)
    cell = render.cell_size([task.test_inputs[0], solution])
    side = max(len(solution), len(solution[0]), len(task.test_inputs[0]), len(task.test_inputs[0][0]))
    assert render.CELL_RANGE[0] <= cell <= render.CELL_RANGE[1] and (cell * side <= render.PANEL_SIDE or cell == render.CELL_RANGE[0])
    x = lefts([("test 0 input", grid_width(task.test_inputs[0], cell)), ("attempt 1: wrong", grid_width(wrong, cell)),
               ("attempt 2: right", grid_width(solution, cell)), ("solution", grid_width(solution, cell))])
    top = render.LABEL
    assert image.getpixel((x[1], top)) == render.FRAMES["wrong"] and image.getpixel((x[2], top)) == render.FRAMES["right"]
    assert image.getpixel(cell_centre(0, 0, x[3], cell, top)) == render.PALETTE[solution[0][0]]
    assert image.getpixel(cell_centre(0, 0, x[1], cell, top)) == render.PALETTE[wrong[0][0]]
    label_band = image.crop((x[1], 0, x[2] - render.GAP, top)).getcolors()
    assert len(label_band) > 1  # the label is drawn above the grid


def test_panels_without_solutions_have_three_grids_and_land_in_the_task_folder(small_tasks: list[Task], tmp_path: Path) -> None:
    task = Task(small_tasks[0].id, small_tasks[0].train, small_tasks[0].test_inputs)
    grid = [list(r) for r in task.test_inputs[0]]
    panels = render.task_panels(task, {"attempts": [{"attempt_1": grid, "attempt_2": grid}]})
    cell = render.cell_size([grid])
    x = lefts([("test 0 input", grid_width(grid, cell)), ("attempt 1", grid_width(grid, cell)), ("attempt 2", grid_width(grid, cell))])
    image = decode(panels[0])
    assert image.width == x[2] + max(grid_width(grid, cell), int(render.font().getlength("attempt 2")))
    paths = render.write_task_images(RunDir(tmp_path).task_dir(task.id), panels)
    assert [p.name for p in paths] == ["test-0.png"] and paths[0].read_bytes() == panels[0]
    assert image.getpixel((x[1], render.LABEL)) == render.FRAMES["unknown"]


def test_train_pairs_and_candidates_are_thumbnails(small_tasks: list[Task]) -> None:
    task = small_tasks[0]
    pairs = decode(render.train_image(task))
    cell = render.cell_size([g for p in task.train for g in (p.input, p.output)], render.SMALL_SIDE, render.SMALL_RANGE)
    assert render.SMALL_RANGE[0] <= cell <= render.SMALL_RANGE[1]
    first = task.train[0]
    assert pairs.getpixel(cell_centre(0, 0, 0, cell, render.LABEL)) == render.PALETTE[first.input[0][0]]
    below = render.LABEL + len(first.input) * cell + 2 * render.FRAME - 1 + render.GAP
    assert pairs.getpixel(cell_centre(0, 0, 0, cell, below)) == render.PALETTE[first.output[0][0]]
    solution = [list(r) for r in task.test_outputs[0]]
    top = [{"grid": solution, "votes": 3}, {"grid": [[1]], "votes": 1}]
    strip = decode(render.candidates_image(top, solution))
    assert strip.getpixel((0, render.LABEL)) == render.FRAMES["right"]
    assert render.candidates_image([], solution) is None and render.train_image(Task("x", (), task.test_inputs)) is None


def result_of(task: Task, **fields) -> dict:
    """A task record as `solve.task_result` writes it, answered by the model, with `fields` overriding."""
    grids = [[list(r) for r in g] for g in task.test_inputs]
    base = {"task_id": task.id, "status": "ok", "error": None, "slot": 1, "budget_seconds": 30.0, "used_seconds": 12.5, "steps": 8,
            "timings": {"load": 0.5, "train": 8.0, "sample": 4.0},
            "train": {"steps": 8, "seconds": 6.0, "first_loss": 2.5, "last_loss": 0.75, "stopped_by": "deadline"},
            "sample": {"stats": {"generated": 12, "malformed": 2, "views_done": 4, "seconds": 3.5, "stopped_by": "done"}, "degraded": []},
            "attempts": [{"attempt_1": g, "attempt_2": [[0]]} for g in grids],
            "candidates": [{"n": 5, "top": [{"grid": g, "votes": 5, "mean_logprob": -0.5, "views": [0, 1], "score": None}]} for g in grids]}
    return {**base, **fields}


@pytest.mark.parametrize("fields, word", [
    ({"correct": [True, True]}, "solved"),
    ({"correct": [True, False]}, "unsolved"),
    ({}, "unscored"),
    ({"candidates": [{"n": 5, "top": []}, {"n": 0, "top": []}], "correct": [True, False]}, "fallback"),
    ({"status": "not-run", "candidates": []}, "fallback"),
    ({"status": "failed", "error": "sample: SlotError: timeout", "correct": [False, False]}, "failed"),
    ({"status": "invalid", "error": "train[0].input: not a grid", "candidates": []}, "failed"),
    ({"status": "failed", "error": "train: OOM", "correct": [True, True]}, "solved"),  # solved despite a failed step
])
def test_each_task_gets_one_state_word(multi_test_task: Task, fields: dict, word: str) -> None:
    assert ui.task_state(result_of(multi_test_task, **fields)) == word


def test_fallback_reason_names_the_cause_and_the_guesses(multi_test_task: Task) -> None:
    task = multi_test_task
    malformed = result_of(task, candidates=[{"n": 0, "top": []}, {"n": 0, "top": []}],
                          sample={"stats": {"generated": 8, "malformed": 8, "views_done": 4, "stopped_by": "done"}})
    reason = ui.fallback_reason(task, malformed)
    assert reason.startswith("all 8 samples were malformed (not a grid)")
    assert "test 0: a copy of the test input, then a 1x1 grid of 0" in reason and "test 1:" in reason
    late = result_of(task, candidates=[{"n": 0, "top": []}, {"n": 3, "top": []}],
                     sample={"stats": {"generated": 0, "malformed": 0, "stopped_by": "deadline"}})
    assert ui.fallback_reason(task, late).startswith("sampling generated nothing before its deadline") and "test 1" not in ui.fallback_reason(task, late)
    assert "ended before this task started" in ui.fallback_reason(task, {"task_id": task.id, "status": "not-run", "attempts": []})
    assert ui.fallback_reason(task, result_of(task)) is None


def test_progress_says_done_and_solved_with_time_left_then_wall_time(multi_test_task: Task) -> None:
    done = [result_of(multi_test_task, correct=[True, True]), result_of(multi_test_task, correct=[False, True]),
            result_of(multi_test_task, status="failed", error="x")]
    assert ui.progress_text(done, 10, seconds_left=412.4) == "3/10 tasks done, 1 solved (1 unsolved, 1 failed); 412 s left in the budget"
    assert ui.progress_text(done[:1], 1, seconds_left=0.0, wall_seconds=61.6) == "1/1 tasks done, 1 solved; finished in 62 s"
    assert ui.progress_text([], 4, seconds_left=90) == "0/4 tasks done, 0 solved; 90 s left in the budget"
    assert ui.task_line(done[1]) == f"{multi_test_task.id}: unsolved (8 steps, 12.5 s of 30.0 s, correct 1/2)"


def test_task_card_explains_the_task_and_embeds_labelled_pictures(multi_test_task: Task) -> None:
    task = multi_test_task
    result = result_of(task, correct=[True, False])
    result["attempts"] = [{"attempt_1": [list(r) for r in g], "attempt_2": [[0]]} for g in task.test_outputs]
    result["candidates"][0]["top"] = [{"grid": [list(r) for r in task.test_outputs[0]], "votes": 4, "mean_logprob": -0.25, "views": [0, 1, 2], "score": None},
                                      {"grid": [[0]], "votes": 1, "mean_logprob": -3.0, "views": [3], "score": None}]
    panels = render.task_panels(task, result)
    candidates = [render.candidates_image(c["top"], task.test_outputs[i]) for i, c in enumerate(result["candidates"])]
    card = ui.task_markdown(task, result, panels, render.train_image(task), candidates)
    assert f"## Task `{task.id}`: **unsolved**, correct 1/2" in card
    assert "budget 30.0 s, used 12.5 s (load 0.5 s, train 8.0 s, sample 4.0 s)" in card
    assert "training: 8 steps in 6.0 s (0.750 s/step), loss 2.500 → 0.750; stopped because its share of the budget for training ran out" in card
    assert "sampling: 12 samples from 4 views, 2 malformed" in card
    assert f"### Train pairs ({len(task.train)}, input above output)" in card
    assert "| 1 | 4 | -0.250 |  | 3 | " in card and "| attempt 1 | yes |" in card and "| 2 | 1 | -3.000 |" in card
    uris = re.findall(r"!\[[^]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", card)
    assert len(uris) == 1 + 2 * len(task.test_inputs)  # train pairs, then per test input its panel and its candidates
    for uri in uris:
        decode(base64.b64decode(uri))
    fallback = result_of(task, candidates=[{"n": 0, "top": []}, {"n": 0, "top": []}],
                         sample={"stats": {"generated": 6, "malformed": 6, "views_done": 3, "seconds": 1.0, "stopped_by": "done"}})
    card = ui.task_markdown(task, fallback, render.task_panels(task, fallback))
    assert "**fallback**" in card and "- **fallback attempts**: all 6 samples were malformed" in card
    solved = {**fallback, "correct": [True, True]}  # the guesses happened to be right: solved, and the card says how
    assert ui.task_state(solved) == "solved" and "- **fallback attempts**: all 6 samples" in ui.task_markdown(task, solved, [])


def report_of(tasks: list[dict]) -> dict:
    statuses: dict[str, int] = {}
    for t in tasks:
        statuses[t["status"]] = statuses.get(t["status"], 0) + 1
    return {"run_id": "r1", "source": "arc1/eval", "profile": "cpu", "slots": 2, "wall_seconds": 30.0, "statuses": statuses,
            "config": {"model": {"path": "/models/arc-base-5m"}, "budget": {"total_seconds": 600.0, "reserve_seconds": 20.0}},
            "score": {"kaggle": 0.5, "per_task": 0.5, "solved_outputs": 1, "total_outputs": 2}, "tasks": tasks}


def test_results_table_timeline_and_summary_follow_the_report(tmp_path: Path) -> None:
    started = time.time() - 100
    at_ = lambda *seconds: [started + x for x in seconds]  # noqa: E731
    tasks = [
        {"task_id": "a", "status": "ok", "slot": 0, "budget_seconds": 40.0, "used_seconds": 20.0, "steps": 5,
         "candidates": [{"n": 4, "top": []}], "correct": [True], "resumed": False, "attempts": [],
         "spans": {"load": at_(30, 30.5), "train": at_(30.5, 45), "sample": at_(45, 49.9), "vote": at_(49.9, 50)},
         "pass1": {"attempts": [], "correct": [False]},  # refinement 1, on the other slot, solved it
         "refinements": [{"round": 1, "slot": 1, "span": at_(55, 70), "steps": 30, "correct": [True]}]},
        {"task_id": "b", "status": "failed", "slot": 1, "budget_seconds": 40.0, "used_seconds": 10.0, "steps": 0,
         "candidates": [{"n": 0, "top": []}], "correct": [False], "error": "SlotError: timeout | x", "resumed": False, "attempts": [],
         "spans": {"load": at_(80, 81), "train": at_(81, 90)}},
        {"task_id": "c", "status": "ok", "slot": 0, "used_seconds": 5.0, "candidates": [{"n": 1, "top": []}], "correct": [False],
         "resumed": True, "attempts": [], "spans": {"vote": at_(1, 2)}},
        {"task_id": "d", "status": "not-run", "attempts": []},
    ]
    report = report_of(tasks)
    links = {"a": "http://ui/artifacts/artifact/1", "b": "http://ui/runs/flow-run/2"}

    table = ui.results_markdown(report, links).splitlines()
    assert table[0] == "| task | state | slot | budget (s) | used (s) | steps | candidates | correct | error |"
    assert table[2] == "| [a](http://ui/artifacts/artifact/1) | solved | 0 | 40.0 | 20.0 | 5 | 4 | 1/1 |  |"
    assert table[3] == "| [b](http://ui/runs/flow-run/2) | failed | 1 | 40.0 | 10.0 | 0 | 0 | 0/1 | SlotError: timeout \\| x |"
    assert table[4].startswith("| `c` | unsolved |") and table[5] == "| `d` | fallback |  |  |  | 0 | 0 |  |  |"

    timeline = ui.timeline_rows(report, started)  # from the recorded spans: pass 1 and each refinement, where they ran
    assert [(r["task"], r["work"], r["slot"], r["state"]) for r in timeline] == [
        ("a", "pass 1", 0, "unsolved"), ("a", "refine 1", 1, "solved"), ("b", "pass 1", 1, "failed")]
    assert [(round(r["start"], 2), round(r["end"], 2)) for r in timeline] == [(30.0, 50.0), (55.0, 70.0), (80.0, 90.0)]

    picture = render.timeline_image(timeline, width=500)
    image = decode(picture)
    slots, span, px = render.timeline_geometry(timeline, 500)
    assert slots == [0, 1] and span == pytest.approx(90.0, abs=0.01)
    middle = lambda lane: render.lane_top(lane) + render.LANE_H // 2  # noqa: E731
    at = lambda seconds: render.LANE_LABEL_W + int(seconds * px)  # noqa: E731
    assert image.getpixel((at(40), middle(0) + 8)) == render.STATE_COLOURS["unsolved"]  # a's pass 1
    assert image.getpixel((at(60), middle(0))) == (0xF4, 0xF4, 0xF4)  # slot 0 idle after it
    assert image.getpixel((at(62), middle(1) + 8)) == render.lighter(render.STATE_COLOURS["solved"])  # a's refinement, lighter
    assert image.getpixel((at(85), middle(1) + 8)) == render.STATE_COLOURS["failed"]
    assert len(image.crop((0, render.lane_top(0), render.LANE_LABEL_W - 1, render.lane_top(1))).getcolors()) > 1  # "slot 0"
    axis = render.lane_top(2) + 2
    assert all(image.getpixel((at(t), axis + 2)) == render.TEXT for t in (0, 20, 40, 60, 80))  # a tick every 20 s
    assert image.height == render.lane_top(2) + render.AXIS_H

    card = ui.summary_markdown(report, "runs/r1", timeline, picture, links)
    assert card.startswith("# arc-ttt run `r1`\n- folder: `runs/r1`")
    assert ui.headline(report) == "r1: 1/4 solved, score 0.500"
    assert "model `/models/arc-base-5m`; profile `cpu`; 2 slot(s)" in card and "- budget: 600 s (20 s reserve); wall time 30 s" in card
    assert "- states: 1 solved, 1 unsolved, 1 fallback, 1 failed" in card
    assert "- solved (1): [a](http://ui/artifacts/artifact/1)" in card
    assert "**score (Kaggle): 0.500** (1/2 test outputs)" in card
    assert card.count("data:image/png;base64,") == 1 and "| 1 | [b](http://ui/runs/flow-run/2) | pass 1 | 80.0 | 90.0 | failed |" in card
    assert "| 1 | [a](http://ui/artifacts/artifact/1) | refine 1 | 55.0 | 70.0 | solved |" in card
    assert "- refinement:" not in card, "no refinement line when the run refined nothing"
    refined = {**report, "score_pass1": {**report["score"], "solved_outputs": 0}, "schedule": Schedule(3, 90.0).to_json()}
    assert "- refinement: 3 refinement(s); pass 1 alone scored 0/2, so refinement added 1 test output(s)" in \
        ui.summary_markdown(refined, "runs/r1", [], None)


@pytest.mark.parametrize("span, step", [(9.0, 2.0), (8.0, 1.0), (90.0, 20.0), (1000.0, 200.0), (0.3, 0.05)])
def test_time_axis_ticks_are_round(span: float, step: float) -> None:
    assert render.tick_step(span) == pytest.approx(step)


@pytest.mark.parametrize("text, key", [("00576224", "00576224"), ("task-AB_c.d", "task-ab-c-d"), ("__", "task")])
def test_artifact_keys_are_valid(text: str, key: str) -> None:
    assert ui.artifact_key(text) == key


def test_progress_percent_is_the_budget_gone_and_full_only_at_the_end() -> None:
    assert ui.progress_percent(0, 100) == 0.0 and ui.progress_percent(46, 100) == 46.0  # pass 1 ended at 46 s of 100
    assert ui.progress_percent(120, 100) == 99.9 and ui.progress_percent(97, 100, finished=True) == 100.0
    assert ui.progress_percent(5, 0) == 0.0


def test_refinement_shows_in_the_progress_the_card_the_subflow_name_and_the_final_message(multi_test_task: Task) -> None:
    task = multi_test_task
    rounds = [{"round": 1, "slot": 1, "span": [10.0, 20.0], "budget_seconds": 12.0, "steps": 30, "views": 4, "new_candidates": 8,
               "timings": {"refine": 9.0, "vote": 0.5}, "correct": [False, True], "errors": []},
              {"round": 2, "slot": 0, "span": [30.0, 40.0], "budget_seconds": 12.0, "steps": 30, "views": 4, "new_candidates": 8,
               "timings": {"refine": 9.5, "vote": 0.5}, "correct": [True, True], "errors": []}]
    refined = {**result_of(task, correct=[True, True]), "steps": 68, "refinements": rounds,
               "pass1": {"attempts": [], "correct": [False, True]}}
    others = [result_of(task, correct=[False, True]), result_of(task, correct=[True, True])]
    assert ui.refinement_counts([refined, *others]) == (2, 1, 1)
    assert ui.progress_text([refined, *others], 3, seconds_left=40.2) == (
        "3/3 tasks done, 2 solved (1 unsolved); refinement: 2 rounds on 1 task, 1 solved by it; 40 s left in the budget")
    card = ui.task_markdown(task, refined, [])
    assert f"## Task `{task.id}`: **solved**" in card and "- training (pass 1): 8 steps" in card
    assert "- training in all: 68 steps (pass 1: 8; 2 refinement rounds: 60)" in card
    assert "- refinement 1: slot 1, 9.5 s of 12.0 s, +30 steps, 4 views, 8 new candidates; correct 1/2 after it" in card
    assert "- refinement 2: slot 0, 10.0 s of 12.0 s, +30 steps" in card and "correct 2/2 after it" in card
    assert ui.subflow_name(refined) == f"{task.id} ✔ solved" and ui.subflow_name(others[0]) == f"{task.id} ✘ unsolved"
    assert ui.card_key("Run_1", task.id) == f"task-{task.id}-run-1"
    report = {**report_of([refined, *others]), "score": {"kaggle": 0.4, "per_task": 0.4, "solved_outputs": 2, "total_outputs": 5},
              "score_pass1": {"kaggle": 0.3, "per_task": 0.3, "solved_outputs": 1, "total_outputs": 5}}
    assert ui.final_message(report) == "2/3 solved, score 0.400 (pass 1 0.300)" and ui.final_name(report) == "2/3 solved, 0.400"
    unscored = {**report_of(others), "score": None}
    assert ui.final_message(unscored) == "1/2 solved" == ui.final_name(unscored)


def test_sweep_plan_gives_each_point_its_own_folder_and_rejects_unknown_keys(tmp_path: Path) -> None:
    runs = points.plan([{"profile": "profiles/cpu.yaml", "time_budget": 60}, {"name": "b/x", "model": "m"},
                        {"profile": "cpu", "time_budget": 60}], "arc1/eval", 4, str(tmp_path))
    assert [r["name"] for r in runs] == ["profile-cpu_time_budget-60", "b_x", "profile-cpu_time_budget-60-2"]
    assert len({r["parameters"]["out"] for r in runs}) == 3
    assert runs[1]["parameters"] == {"challenges": "arc1/eval", "limit": 4, "out": str(tmp_path / "b_x"), "model": "m"}
    with pytest.raises(ValueError, match="unknown keys \\['lr'\\]"):
        points.plan([{"lr": 0.1}], "arc1/eval", 4, str(tmp_path))


def test_sweep_rows_read_reports_and_mark_missing_ones(tmp_path: Path) -> None:
    runs = points.plan([{"name": "a"}, {"name": "b"}], "arc1/eval", 2, str(tmp_path))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "report.json").write_text(json.dumps(report_of([{"task_id": "t", "status": "ok", "attempts": []}])))
    runs[0]["worker"] = "host-a"
    table = points.rows(runs)
    assert table[0]["kaggle"] == 0.5 and table[0]["worker"] == "host-a" and table[0]["status"] == "ok: 1"
    assert table[1]["status"] == "missing"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "report.json").write_text(json.dumps(report_of([{"task_id": "t", "status": "ok"}])))
    assert points.rows(runs)[1]["status"] == f"unreadable: {tmp_path}/b/report.json: task t: attempts: missing"
    points.write_csv(table, tmp_path / "sweep.csv")
    lines = (tmp_path / "sweep.csv").read_text().splitlines()
    assert lines[0].startswith("name,profile,time_budget,model,worker,state,status") and len(lines) == 3


@pytest.mark.parametrize("fields, kind, name", [({"correct": [True, True]}, "COMPLETED", "Solved"), ({}, "COMPLETED", "Unscored"),
                                                ({"status": "failed", "error": "sample: boom"}, "FAILED", "Failed")])
def test_a_task_subflow_ends_in_a_state_named_by_its_word(multi_test_task: Task, fields: dict, kind: str, name: str) -> None:
    from flows import prefect_env  # noqa: F401  (offline Prefect defaults, before prefect is imported)
    from flows.common import final_state

    state = final_state(result_of(multi_test_task, **fields))
    assert (state.type.value, state.name) == (kind, name)
    assert state.message.startswith(f"{multi_test_task.id}: {name.lower()} (8 steps")


def test_without_a_ui_a_task_writes_its_pictures_and_makes_no_api_call(small_tasks: list[Task], tmp_path: Path, monkeypatch) -> None:
    """On Prefect's temporary server (no UI address) a task's card and progress update would be API calls on the slot's
    way to its next task that nobody can read: only the run folder's pictures are written."""
    import asyncio
    from types import SimpleNamespace

    import flows.common as common
    from tasks_lib.arc.store import RunDir

    async def no_call(*args, **kwargs):
        raise AssertionError("an artifact call without a UI")

    task = small_tasks[0]
    grid = [list(r) for r in task.test_inputs[0]]
    run = SimpleNamespace(tasks={task.id: task}, dir=RunDir(tmp_path), results={}, data=SimpleNamespace(n_test={task.id: 1}),
                          run_id="no-ui", progress=lambda: "")
    monkeypatch.setattr(common, "ui_url", lambda path: None)
    for name in ("acreate_markdown_artifact", "aupdate_progress_artifact", "acreate_progress_artifact", "label_subflow"):
        monkeypatch.setattr(common, name, no_call)
    monkeypatch.setattr(common.MarkdownArtifact, "acreate", no_call)
    monkeypatch.setitem(common._PROGRESS, "no-ui", "progress-id")  # even a run that has a progress artifact
    asyncio.run(common.start_progress(run))
    record = TaskResult.from_json({"task_id": task.id, "status": "ok", "attempts": [{"attempt_1": grid, "attempt_2": grid}]})
    asyncio.run(common.publish_task(run, record,
                                    "0b0e3a0e-0000-4000-8000-000000000000"))
    assert (tmp_path / "tasks" / task.id / "test-0.png").stat().st_size > 0
