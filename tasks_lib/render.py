"""Pictures of a run: ARC grids and a slot timeline as PNG files, with no imaging library.

Contract:
- `png(pixels)` encodes rows of (r, g, b) tuples as a valid PNG (zlib from the standard library).
- `grid_image(grid, frame, cell)` draws a grid in the standard ARC colours, one square per cell, with a
  coloured frame (green: matches the solution, red: does not, grey: unknown).
- `task_panels(task, result)` returns, per test input, one PNG of the input, the two attempts and,
  when known, the solution side by side; `write_task_images(task_dir, panels)` writes them to
  `tasks/<task-id>/test-<i>.png` and returns the paths.
- `timeline_image(rows)` draws one lane per slot and one bar per task (colour = status).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

from tasks_lib.data import Task

RGB = tuple[int, int, int]
Pixels = list[list[RGB]]

# The colours the ARC task viewer uses for values 0-9.
PALETTE: tuple[RGB, ...] = (
    (0x00, 0x00, 0x00), (0x00, 0x74, 0xD9), (0xFF, 0x41, 0x36), (0x2E, 0xCC, 0x40), (0xFF, 0xDC, 0x00),
    (0xAA, 0xAA, 0xAA), (0xF0, 0x12, 0xBE), (0xFF, 0x85, 0x1B), (0x7F, 0xDB, 0xFF), (0x87, 0x0C, 0x25),
)
BACKGROUND: RGB = (0xFF, 0xFF, 0xFF)
GRID_LINE: RGB = (0x55, 0x55, 0x55)
FRAMES: dict[str, RGB] = {"right": (0x2E, 0xCC, 0x40), "wrong": (0xE0, 0x20, 0x20), "unknown": (0xCC, 0xCC, 0xCC)}
STATUS_COLOURS: dict[str, RGB] = {"ok": (0x4C, 0x9A, 0xE0), "solved": (0x2E, 0xCC, 0x40), "failed": (0xE0, 0x20, 0x20)}
CELL = 12  # default pixels per cell
PANEL_SIDE = 240  # task pictures scale cells so the largest grid is about this many pixels across
CELL_RANGE = (8, 32)  # 30x30 grids at 8 px stay light to embed; 3x3 grids at 32 px stay readable
FRAME = 3  # frame width in pixels
GAP = 10  # pixels between the grids of a panel


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(pixels: Pixels) -> bytes:
    """8-bit RGB PNG bytes of `pixels` (rows of equal length)."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)  # filter type 0 per row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def read_png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def cell_size(grids: Sequence[Sequence[Sequence[int]]]) -> int:
    """Pixels per cell for a panel of `grids`: the largest side spans about PANEL_SIDE pixels."""
    side = max(max(len(g), len(g[0])) for g in grids)
    return max(CELL_RANGE[0], min(CELL_RANGE[1], PANEL_SIDE // side))


def grid_image(grid: Sequence[Sequence[int]], frame: str = "unknown", cell: int = CELL) -> Pixels:
    """Pixels of one grid: `cell`-sized squares, 1-pixel lines between cells, a FRAME-wide coloured border."""
    rows, cols = len(grid), len(grid[0])
    width, height = cols * cell + 2 * FRAME - 1, rows * cell + 2 * FRAME - 1
    border = FRAMES[frame]
    out: Pixels = [[border] * width for _ in range(height)]
    for r, line in enumerate(grid):
        for c, value in enumerate(line):
            colour = PALETTE[value] if 0 <= value < len(PALETTE) else GRID_LINE
            y0, x0 = FRAME + r * cell, FRAME + c * cell
            for y in range(y0, y0 + cell - 1):
                out[y][x0:x0 + cell - 1] = [colour] * (cell - 1)
            if c < cols - 1:
                for y in range(y0, y0 + cell - 1):
                    out[y][x0 + cell - 1] = GRID_LINE
            if r < rows - 1:
                out[y0 + cell - 1][x0:x0 + cell] = [GRID_LINE] * cell
    return out


def side_by_side(images: Sequence[Pixels]) -> Pixels:
    """Images left to right, top-aligned, GAP pixels apart, on a white background."""
    height = max(len(im) for im in images)
    width = sum(len(im[0]) for im in images) + GAP * (len(images) - 1)
    out: Pixels = [[BACKGROUND] * width for _ in range(height)]
    x = 0
    for im in images:
        for y, row in enumerate(im):
            out[y][x:x + len(row)] = row
        x += len(im[0]) + GAP
    return out


def task_panels(task: Task, result: dict) -> list[bytes]:
    """Per test input: PNG of input | attempt 1 | attempt 2 (| solution), attempts framed right/wrong."""
    panels = []
    for i, test_input in enumerate(task.test_inputs):
        pair = result["attempts"][i] if i < len(result["attempts"]) else {}
        solution = task.test_outputs[i] if task.has_solutions else None
        tries = [pair.get(name) or [[0]] for name in ("attempt_1", "attempt_2")]
        cell = cell_size([test_input, *tries] + ([solution] if solution is not None else []))
        images = [grid_image(test_input, cell=cell)]
        for grid in tries:
            verdict = "unknown" if solution is None else ("right" if [list(r) for r in solution] == grid else "wrong")
            images.append(grid_image(grid, verdict, cell))
        if solution is not None:
            images.append(grid_image(solution, cell=cell))
        panels.append(png(side_by_side(images)))
    return panels


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


def timeline_image(rows: Sequence[dict], seconds_per_px: float | None = None, width: int = 800, lane: int = 18) -> bytes:
    """A Gantt chart PNG: one lane per slot, one bar per task from `start` to `end` (seconds since the run
    started), coloured by `status` (ok, solved, failed). Bars are separated by a 1-pixel white gap."""
    slots = sorted({r["slot"] for r in rows})
    span = max((r["end"] for r in rows), default=1.0) or 1.0
    scale = seconds_per_px or span / (width - 1)
    height = max(1, len(slots)) * (lane + 4)
    out: Pixels = [[BACKGROUND] * width for _ in range(height)]
    for r in rows:
        y0 = slots.index(r["slot"]) * (lane + 4) + 2
        x0 = min(width - 1, int(r["start"] / scale))
        x1 = max(x0 + 1, min(width - 1, int(r["end"] / scale)))
        colour = STATUS_COLOURS.get(r["status"], GRID_LINE)
        for y in range(y0, y0 + lane):
            out[y][x0:x1] = [colour] * (x1 - x0)
            out[y][x1] = BACKGROUND
    return png(out)
