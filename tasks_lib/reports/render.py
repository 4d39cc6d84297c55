"""Pictures of a run, drawn and encoded as PNG with Pillow: ARC grids, a task's panels and a slot timeline.

Contract:
- `grid_image(grid, frame, cell)` draws a grid in the standard ARC colours, one `cell`-pixel square per cell with
  1-pixel lines between cells, inside a FRAME-wide border (green: matches the solution, red: does not, grey: unknown).
- `task_panels(task, result)` returns, per test input, one PNG of the input, the two attempts and, when known,
  the solution side by side, each grid under its label; `write_task_images(task_dir, panels)` writes them to
  `tasks/<task-id>/test-<i>.png` and returns the paths.
- `train_image(task)` is one small PNG of the task's train pairs (input above output, one column per pair).
- `candidates_image(top, solution)` draws the top candidates of one test input, each labelled with its votes.
- `timeline_image(rows)` is a Gantt chart: a time axis in seconds, one labelled lane per slot, one bar per piece of
  work (a task's pass 1, or a refinement round drawn lighter; colour = the state word from `tasks_lib.reports.ui`) with
  the task id on the bar where it fits, and a legend.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tasks_lib.arc.data import Task

RGB = tuple[int, int, int]

# The colours the ARC task viewer uses for values 0-9.
PALETTE: tuple[RGB, ...] = (
    (0x00, 0x00, 0x00), (0x00, 0x74, 0xD9), (0xFF, 0x41, 0x36), (0x2E, 0xCC, 0x40), (0xFF, 0xDC, 0x00),
    (0xAA, 0xAA, 0xAA), (0xF0, 0x12, 0xBE), (0xFF, 0x85, 0x1B), (0x7F, 0xDB, 0xFF), (0x87, 0x0C, 0x25),
)
BACKGROUND: RGB = (0xFF, 0xFF, 0xFF)
GRID_LINE: RGB = (0x55, 0x55, 0x55)
TEXT: RGB = (0x22, 0x22, 0x22)
FRAMES: dict[str, RGB] = {"right": (0x2E, 0xCC, 0x40), "wrong": (0xE0, 0x20, 0x20), "unknown": (0xCC, 0xCC, 0xCC)}
STATE_COLOURS: dict[str, RGB] = {  # one per word of tasks_lib.reports.ui.STATES
    "solved": (0x2E, 0xA0, 0x40), "unsolved": (0x4C, 0x7A, 0xB0), "unscored": (0x7F, 0xA8, 0xD8),
    "fallback": (0xF0, 0x9A, 0x20), "failed": (0xD0, 0x20, 0x20),
}
CELL = 12  # default pixels per cell
PANEL_SIDE = 240  # task pictures scale cells so the largest grid is about this many pixels across
CELL_RANGE = (8, 32)  # 30x30 grids at 8 px stay light to embed; 3x3 grids at 32 px stay readable
SMALL_SIDE, SMALL_RANGE = 90, (3, 12)  # train pairs and candidates: thumbnails
FRAME = 3  # frame width in pixels
GAP = 10  # pixels between the grids of a panel
LABEL = 18  # pixels above each grid for its label
FONT_SIZE = 13


@lru_cache(maxsize=4)
def font(size: int = FONT_SIZE) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled font at `size` pixels (no font files needed)."""
    return ImageFont.load_default(size=size)


def to_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def cell_size(grids: Sequence[Sequence[Sequence[int]]], side_px: int = PANEL_SIDE, limits: tuple[int, int] = CELL_RANGE) -> int:
    """Pixels per cell for a panel of `grids`: the largest side spans about `side_px` pixels, within `limits`."""
    side = max(max(len(g), len(g[0])) for g in grids)
    return max(limits[0], min(limits[1], side_px // side))


def grid_image(grid: Sequence[Sequence[int]], frame: str = "unknown", cell: int = CELL) -> Image.Image:
    """One grid: `cell`-sized squares (the last pixel row and column of each is the grid line), a coloured border."""
    rows, cols = len(grid), len(grid[0])
    im = Image.new("RGB", (cols * cell + 2 * FRAME - 1, rows * cell + 2 * FRAME - 1), FRAMES[frame])
    draw = ImageDraw.Draw(im)
    draw.rectangle((FRAME, FRAME, FRAME + cols * cell - 2, FRAME + rows * cell - 2), fill=GRID_LINE)
    for r, line in enumerate(grid):
        for c, value in enumerate(line):
            colour = PALETTE[value] if 0 <= value < len(PALETTE) else GRID_LINE
            x0, y0 = FRAME + c * cell, FRAME + r * cell
            draw.rectangle((x0, y0, x0 + cell - 2, y0 + cell - 2), fill=colour)
    return im


def labelled_row(items: Sequence[tuple[str, Image.Image]]) -> Image.Image:
    """Images left to right, GAP pixels apart, each under its label, on a white background."""
    width = sum(max(im.width, int(font().getlength(text))) for text, im in items) + GAP * (len(items) - 1)
    height = LABEL + max(im.height for _, im in items)
    out = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(out)
    x = 0
    for text, im in items:
        draw.text((x, 1), text, fill=TEXT, font=font())
        out.paste(im, (x, LABEL))
        x += max(im.width, int(font().getlength(text))) + GAP
    return out


def _verdict(grid: Sequence[Sequence[int]], solution: Sequence[Sequence[int]] | None) -> str:
    return "unknown" if solution is None else ("right" if [list(r) for r in solution] == [list(r) for r in grid] else "wrong")


def task_panels(task: Task, result: dict) -> list[bytes]:
    """Per test input: PNG of test input | attempt 1 | attempt 2 (| solution), attempts framed right/wrong."""
    panels = []
    for i, test_input in enumerate(task.test_inputs):
        pair = result["attempts"][i] if i < len(result["attempts"]) else {}
        solution = task.test_outputs[i] if task.has_solutions else None
        tries = [pair.get(name) or [[0]] for name in ("attempt_1", "attempt_2")]
        cell = cell_size([test_input, *tries] + ([solution] if solution is not None else []))
        items = [(f"test {i} input", grid_image(test_input, cell=cell))]
        for k, grid in enumerate(tries, 1):
            verdict = _verdict(grid, solution)
            items.append((f"attempt {k}" + {"right": ": right", "wrong": ": wrong"}.get(verdict, ""), grid_image(grid, verdict, cell)))
        if solution is not None:
            items.append(("solution", grid_image(solution, cell=cell)))
        panels.append(to_png(labelled_row(items)))
    return panels


def train_image(task: Task) -> bytes | None:
    """The train pairs as thumbnails: one column per pair, its input above its output (None without pairs)."""
    if not task.train:
        return None
    cell = cell_size([g for p in task.train for g in (p.input, p.output)], SMALL_SIDE, SMALL_RANGE)
    columns = []
    for k, pair in enumerate(task.train, 1):
        top, bottom = grid_image(pair.input, cell=cell), grid_image(pair.output, cell=cell)
        col = Image.new("RGB", (max(top.width, bottom.width), top.height + GAP + bottom.height), BACKGROUND)
        col.paste(top, (0, 0))
        col.paste(bottom, (0, top.height + GAP))
        columns.append((f"pair {k}", col))
    return to_png(labelled_row(columns))


def candidates_image(top: Sequence[dict], solution: Sequence[Sequence[int]] | None, k: int = 6) -> bytes | None:
    """The first `k` ranked candidates (dicts with `grid` and `votes`) as thumbnails labelled '#rank: N votes',
    framed right/wrong when the solution is known (None when there are none)."""
    if not top:
        return None
    shown = list(top[:k])
    cell = cell_size([c["grid"] for c in shown], SMALL_SIDE, SMALL_RANGE)
    items = [(f"#{r}: {c['votes']} vote{'s' if c['votes'] != 1 else ''}", grid_image(c["grid"], _verdict(c["grid"], solution), cell))
             for r, c in enumerate(shown, 1)]
    return to_png(labelled_row(items))


def write_task_images(task_dir: Path, panels: Sequence[bytes]) -> list[Path]:
    """Write `test-<i>.png` per panel of `task_panels` into `task_dir`; return the paths."""
    task_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, data in enumerate(panels):
        path = task_dir / f"test-{i}.png"
        tmp = path.with_suffix(".png.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        paths.append(path)
    return paths


def tick_step(span: float, ticks: int = 8) -> float:
    """A round step (1, 2 or 5 times a power of ten) that cuts `span` seconds into about `ticks` parts."""
    raw = max(span, 1e-9) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


# Timeline layout, in pixels.
LANE_LABEL_W = 64  # left margin with the slot names
LANE_H, LANE_GAP = 24, 6
LEGEND_H, AXIS_H = 24, 34
REFINE_TINT = 0.55  # refinement bars: their state's colour mixed with this much white


def timeline_geometry(rows: Sequence[dict], width: int) -> tuple[list, float, float]:
    """(slots top to bottom, seconds at the right edge, pixels per second) of `timeline_image`."""
    slots = sorted({r["slot"] for r in rows})
    span = max((r["end"] for r in rows), default=1.0) or 1.0
    return slots, span, (width - LANE_LABEL_W - 12) / span


def lane_top(index: int) -> int:
    return LEGEND_H + index * (LANE_H + LANE_GAP)


def lighter(colour: RGB, share: float = REFINE_TINT) -> RGB:
    """`colour` mixed with white (`share` of white)."""
    return tuple(round(c + (255 - c) * share) for c in colour)  # type: ignore[return-value]


def timeline_image(rows: Sequence[dict], width: int = 900) -> bytes:
    """Gantt chart PNG of `rows` (dicts with task, slot, start, end in seconds since the run started, state, and
    work: `pass 1` or `refine <round>`). Refinement bars are drawn lighter, outlined in their state's colour, and
    labelled `<task> r<round>` (just `r<round>` where the id does not fit)."""
    slots, span, px = timeline_geometry(rows, width)
    height = lane_top(len(slots)) + AXIS_H
    im = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(im)
    x = 4
    for state, colour in STATE_COLOURS.items():  # legend
        draw.rectangle((x, 6, x + 12, 18), fill=colour)
        draw.text((x + 16, 5), state, fill=TEXT, font=font())
        x += 24 + int(font().getlength(state))
    for i, slot in enumerate(slots):
        y = lane_top(i)
        draw.rectangle((LANE_LABEL_W, y, width - 1, y + LANE_H - 1), fill=(0xF4, 0xF4, 0xF4))
        draw.text((4, y + 5), f"slot {slot}", fill=TEXT, font=font())
    for r in rows:
        y = lane_top(slots.index(r["slot"]))
        x0 = LANE_LABEL_W + int(r["start"] * px)
        x1 = max(x0 + 1, LANE_LABEL_W + int(r["end"] * px) - 1)  # a 1-pixel gap between neighbouring bars
        colour = STATE_COLOURS.get(r["state"], GRID_LINE)
        refinement = r.get("work", "pass 1") != "pass 1"
        draw.rectangle((x0, y + 2, x1, y + LANE_H - 3), fill=lighter(colour) if refinement else colour, outline=colour if refinement else None)
        label = f"{r['task']} r{r['work'].split()[-1]}" if refinement else r["task"]
        if font().getlength(label) + 6 > x1 - x0:
            label = f"r{r['work'].split()[-1]}" if refinement else ""
        if label and font().getlength(label) + 6 <= x1 - x0:
            draw.text((x0 + 3, y + 5), label, fill=TEXT if refinement else BACKGROUND, font=font())
    axis = lane_top(len(slots)) + 2
    draw.line((LANE_LABEL_W, axis, width - 1, axis), fill=TEXT)
    step = tick_step(span)
    for k in range(int(span / step) + 1):
        t = k * step
        tx = LANE_LABEL_W + int(t * px)
        draw.line((tx, axis, tx, axis + 4), fill=TEXT)
        label = f"{t:g}"
        draw.text((min(tx - font().getlength(label) / 2, width - font().getlength(label) - 1), axis + 6), label, fill=TEXT, font=font())
    draw.text((4, axis + 6), "seconds", fill=TEXT, font=font())
    return to_png(im)
