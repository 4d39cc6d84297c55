"""What the UI and the run folder show: PNG pictures of grids, task cards, the results table, the timeline,
and sweep points. Plain library code, no Prefect server."""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import time
import zlib
from pathlib import Path

import pytest

from tasks_lib import render, ui
from tasks_lib import sweep_points as points
from tasks_lib.data import Task
from tasks_lib.store import RunDir


def decode(data: bytes) -> list[list[tuple[int, int, int]]]:
    """Pixels of an 8-bit RGB PNG whose rows all use filter 0 (what `render.png` writes); checks every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2) and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 3 * width
    assert len(raw) == stride * height
    rows = []
    for y in range(height):
        line = raw[y * stride:(y + 1) * stride]
        assert line[0] == 0
        rows.append([tuple(line[1 + 3 * x:4 + 3 * x]) for x in range(width)])
    return rows


def cell_centre(r: int, c: int, x_offset: int = 0, cell: int = render.CELL) -> tuple[int, int]:
    return render.FRAME + r * cell + cell // 2, x_offset + render.FRAME + c * cell + cell // 2


@pytest.mark.parametrize("side, cell", [(1, 32), (3, 32), (10, 24), (30, 8)])
def test_cell_size_scales_small_grids_up_and_large_ones_down(side: int, cell: int) -> None:
    assert render.cell_size([[[0] * side] * side, [[1]]]) == cell


def test_png_round_trips_pixels() -> None:
    pixels = [[(x * 20, y * 30, 7) for x in range(5)] for y in range(3)]
    data = render.png(pixels)
    assert decode(data) == pixels
    assert render.read_png_size(data) == (5, 3)


def test_grid_image_draws_each_cell_in_its_arc_colour_inside_a_verdict_frame() -> None:
    grid = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 0, 1]]
    pixels = decode(render.png(render.grid_image(grid, "wrong")))
    assert len(pixels) == 4 * render.CELL + 2 * render.FRAME - 1 and len(pixels[0]) == 3 * render.CELL + 2 * render.FRAME - 1
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            y, x = cell_centre(r, c)
            assert pixels[y][x] == render.PALETTE[value], (r, c)
    assert pixels[0][0] == pixels[-1][-1] == render.FRAMES["wrong"]


def test_task_panel_shows_input_attempts_and_solution_with_verdicts(small_tasks: list[Task]) -> None:
    task = small_tasks[0]
    solution = [list(r) for r in task.test_outputs[0]]
    wrong = [[(v + 1) % 10 for v in row] for row in solution]
    result = {"attempts": [{"attempt_1": wrong, "attempt_2": solution}]}
    (panel,) = render.task_panels(task, result)
    pixels = decode(panel)
    cell = render.cell_size([task.test_inputs[0], solution])
    side = max(len(solution), len(solution[0]), len(task.test_inputs[0]), len(task.test_inputs[0][0]))
    assert render.CELL_RANGE[0] <= cell <= render.CELL_RANGE[1] and (cell * side <= render.PANEL_SIDE or cell == render.CELL_RANGE[0])
    widths = [len(task.test_inputs[0][0]), len(wrong[0]), len(solution[0]), len(solution[0])]
    x, lefts = 0, []
    for w in widths:
        lefts.append(x)
        x += w * cell + 2 * render.FRAME - 1 + render.GAP
    assert len(pixels[0]) == x - render.GAP
    assert pixels[0][lefts[1]] == render.FRAMES["wrong"] and pixels[0][lefts[2]] == render.FRAMES["right"]
    y, cx = cell_centre(0, 0, lefts[3], cell)
    assert pixels[y][cx] == render.PALETTE[solution[0][0]]
    y, cx = cell_centre(0, 0, lefts[1], cell)
    assert pixels[y][cx] == render.PALETTE[wrong[0][0]]


def test_panels_without_solutions_have_three_grids_and_land_in_the_task_folder(small_tasks: list[Task], tmp_path: Path) -> None:
    task = Task(small_tasks[0].id, small_tasks[0].train, small_tasks[0].test_inputs)
    grid = [list(r) for r in task.test_inputs[0]]
    panels = render.task_panels(task, {"attempts": [{"attempt_1": grid, "attempt_2": grid}]})
    width = len(grid[0]) * render.cell_size([grid]) + 2 * render.FRAME - 1
    assert render.read_png_size(panels[0])[0] == 3 * width + 2 * render.GAP
    paths = render.write_task_images(RunDir(tmp_path).task_dir(task.id), panels)
    assert [p.name for p in paths] == ["test-0.png"] and paths[0].read_bytes() == panels[0]
    assert decode(paths[0].read_bytes())[0][width + render.GAP] == render.FRAMES["unknown"]


def test_task_card_embeds_one_decodable_picture_per_test_input(multi_test_task: Task) -> None:
    task = multi_test_task
    result = {"task_id": task.id, "status": "ok", "slot": 1, "budget_seconds": 30.0, "used_seconds": 12.5, "steps": 7,
              "error": None, "correct": [True, False],
              "attempts": [{"attempt_1": [list(r) for r in g], "attempt_2": [[0]]} for g in task.test_outputs],
              "candidates": [{"n": 3, "top": []}, {"n": 2, "top": []}]}
    card = ui.task_markdown(task, result, render.task_panels(task, result))
    assert f"Task `{task.id}`: ok, correct 1/2" in card
    assert "7 training steps, 5 candidates" in card and "budget 30.0 s, used 12.5 s" in card
    uris = re.findall(r"!\[[^]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", card)
    assert len(uris) == len(task.test_inputs)
    for uri in uris:
        decode(base64.b64decode(uri))


def report_of(tasks: list[dict]) -> dict:
    statuses: dict[str, int] = {}
    for t in tasks:
        statuses[t["status"]] = statuses.get(t["status"], 0) + 1
    return {"run_id": "r1", "source": "arc1/eval", "profile": "cpu", "slots": 2, "wall_seconds": 30.0, "statuses": statuses,
            "score": {"kaggle": 0.5, "per_task": 0.5, "solved_outputs": 1, "total_outputs": 2}, "tasks": tasks}


def test_results_table_and_timeline_follow_the_report(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    started = time.time() - 100
    tasks = [
        {"task_id": "a", "status": "ok", "slot": 0, "budget_seconds": 40.0, "used_seconds": 20.0, "steps": 5,
         "candidates": [{"n": 4, "top": []}], "correct": [True], "resumed": False, "attempts": []},
        {"task_id": "b", "status": "failed", "slot": 1, "budget_seconds": 40.0, "used_seconds": 10.0, "steps": 0,
         "candidates": [{"n": 0, "top": []}], "correct": [False], "error": "SlotError: timeout", "resumed": False, "attempts": []},
        {"task_id": "c", "status": "ok", "slot": 0, "used_seconds": 5.0, "candidates": [], "resumed": True, "attempts": []},
        {"task_id": "d", "status": "not-run", "attempts": []},
    ]
    for t, end in (("a", 50.0), ("b", 90.0), ("c", 10.0)):
        run_dir.write_result({"task_id": t, "status": "ok", "attempts": []})
        os.utime(run_dir.result_path(t), (started + end, started + end))
    report = report_of(tasks)

    rows = ui.result_rows(report)
    assert [r["task"] for r in rows] == ["a", "b", "c", "d"]
    assert rows[0] == {"task": "a", "status": "ok", "slot": 0, "budget_s": 40.0, "used_s": 20.0, "steps": 5,
                         "candidates": 4, "correct": "1/1", "error": ""}
    assert rows[1]["error"] == "SlotError: timeout" and rows[3]["correct"] == "" and rows[3]["budget_s"] == ""

    timeline = ui.timeline_rows(report, run_dir, started)
    assert [(r["task"], r["slot"], r["status"]) for r in timeline] == [("a", 0, "solved"), ("b", 1, "failed")]
    assert timeline[0]["start"] == pytest.approx(30.0, abs=0.01) and timeline[0]["end"] == pytest.approx(50.0, abs=0.01)
    assert timeline[1]["start"] == pytest.approx(80.0, abs=0.01)

    picture = render.timeline_image(timeline, width=101)
    pixels = decode(picture)
    scale = 90.0 / 100
    lane = len(pixels) // 2
    assert pixels[lane // 2][int(40 / scale)] == render.STATUS_COLOURS["solved"]
    assert pixels[lane // 2][int(70 / scale)] == render.BACKGROUND
    assert pixels[lane + lane // 2][int(85 / scale)] == render.STATUS_COLOURS["failed"]

    card = ui.summary_markdown(report, "runs/x", timeline, picture)
    assert "**score (Kaggle): 0.500** (1/2 test outputs)" in card
    assert card.count("data:image/png;base64,") == 1 and "| 1 | `b` | 80.0 | 90.0 | failed |" in card


@pytest.mark.parametrize("text, key", [("00576224", "00576224"), ("task-AB_c.d", "task-ab-c-d"), ("__", "task")])
def test_artifact_keys_are_valid(text: str, key: str) -> None:
    assert ui.artifact_key(text) == key


def test_progress_percent() -> None:
    assert ui.progress_percent(0, 4) == 0.0 and ui.progress_percent(3, 4) == 75.0 and ui.progress_percent(0, 0) == 100.0


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
    (tmp_path / "a" / "report.json").write_text(json.dumps(report_of([{"task_id": "t", "status": "ok"}])))
    runs[0]["worker"] = "host-a"
    table = points.rows(runs)
    assert table[0]["kaggle"] == 0.5 and table[0]["worker"] == "host-a" and table[0]["status"] == "ok: 1"
    assert table[1]["status"] == "missing"
    points.write_csv(table, tmp_path / "sweep.csv")
    lines = (tmp_path / "sweep.csv").read_text().splitlines()
    assert lines[0].startswith("name,profile,time_budget,model,worker,state,status") and len(lines) == 3
