"""Token positions: one axis (the index in the sequence) or three grid axes (grid, line, column).

Contract:
- A scheme turns token ids into position ids with `A` axes. `OneAxis` (A = 1) is the token's index.
  `GridAxes` (A = 3) gives every token (grid, line, column), computed from three layout tokens alone (the
  input and output markers and the newline), so a model knows where a cell sits in its grid:
  - grid: how many markers came so far, the token itself included (each `I` or `O` opens the next grid);
  - line: how many newlines came before the token in its grid (the marker's own line is 0, a grid's first
    row is line 1);
  - column: 0 on a marker, 1 on the first token after a newline, else one more than the token before.
  So cell (r, c) of any grid sits at line r + 1, column c + 1, and an output cell and the input cell at the same
  place differ only in the grid axis. Tokens before the first marker (e.g. `<s>`) are grid 0, line 0.
- `of_ids(ids)` maps a (B, T) tensor to (A, B, T); `of_list(ids)` does the same for one Python list;
  `step(pos, prev, tok)` gives the position (A, B) of `tok` (B,) after a token `prev` (B,) at `pos` (A, B), so a
  decoder computes the positions of generated tokens one at a time; `START` is the (position, token) before the
  first token. Stepping through any sequence from `START` gives `of_ids` (tested).
- `rope(body, x, pos)` returns the decoder's rotary tables cos, sin (B, T, D) for positions (A, B, T).
- `for_model(model)` picks the scheme of a Hugging Face model: `GridAxes` when its config names `grid_tokens`.
This module knows nothing about grids' contents or about training; it only reads token ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # torch is imported where tensors are made, so importing this module stays cheap
    import torch


@dataclass(frozen=True)
class OneAxis:
    """Positions 0, 1, 2, ...: every Hugging Face causal LM's default."""

    axes = 1
    START = ((-1,), -1)  # the position and token "before" the first token

    def of_ids(self, ids: torch.Tensor) -> torch.Tensor:
        import torch

        B, T = ids.shape
        return torch.arange(T, device=ids.device).expand(1, B, T)  # (1, B, T)

    def of_list(self, ids: Sequence[int]) -> list[list[int]]:
        return [list(range(len(ids)))]

    def step(self, pos: torch.Tensor, prev: torch.Tensor, tok: torch.Tensor) -> torch.Tensor:
        return pos + 1  # (1, B)

    def rope(self, body: Any, x: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return body.rotary_emb(x, pos[0])  # (B, T, D) each


@dataclass(frozen=True)
class GridAxes:
    """(grid, line, column) of every token, from the marker and newline token ids (see module doc)."""

    newline: int
    input: int
    output: int
    axes = 3
    START = ((0, 0, -1), -1)

    def of_ids(self, ids: torch.Tensor) -> torch.Tensor:
        import torch

        B, T = ids.shape
        idx = torch.arange(T, device=ids.device).expand(B, T)  # (B, T)
        marker = (ids == self.input) | (ids == self.output)  # (B, T)
        newline = ids == self.newline  # (B, T)
        grid = marker.long().cumsum(1)  # (B, T) the marker opens its own grid
        before = newline.long().cumsum(1) - newline.long()  # (B, T) newlines strictly before each token
        base = torch.cummax(torch.where(marker, before, 0), 1).values  # (B, T) newlines before the grid's marker
        last_marker = torch.cummax(torch.where(marker, idx, 0), 1).values  # (B, T)
        last_nl = torch.cummax(torch.where(newline, idx, -1), 1).values  # (B, T) newline at or before t
        prev_nl = torch.cat([torch.full_like(last_nl[:, :1], -1), last_nl[:, :-1]], 1)  # (B, T) strictly before t
        column = torch.where(prev_nl > last_marker, idx - prev_nl, idx - last_marker)  # (B, T)
        return torch.stack([grid, before - base, column])  # (3, B, T)

    def of_list(self, ids: Sequence[int]) -> list[list[int]]:
        out: list[list[int]] = [[], [], []]
        (grid, line, column), prev = self.START
        for tok in ids:
            grid, line, column = self._next(grid, line, column, prev, tok)
            for axis, value in zip(out, (grid, line, column)):
                axis.append(value)
            prev = tok
        return out

    def _next(self, grid: int, line: int, column: int, prev: int, tok: int) -> tuple[int, int, int]:
        if tok in (self.input, self.output):
            return grid + 1, 0, 0
        if prev == self.newline:
            return grid, line + 1, 1
        return grid, line, column + 1

    def step(self, pos: torch.Tensor, prev: torch.Tensor, tok: torch.Tensor) -> torch.Tensor:
        import torch

        grid, line, column = pos  # (B,) each
        marker = (tok == self.input) | (tok == self.output)  # (B,)
        after_nl = prev == self.newline  # (B,)
        zero = torch.zeros_like(line)
        line = torch.where(marker, zero, torch.where(after_nl, line + 1, line))
        column = torch.where(marker, zero, torch.where(after_nl, torch.ones_like(column), column + 1))
        return torch.stack([grid + marker.long(), line, column])  # (3, B)

    def rope(self, body: Any, x: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return body.rotary_emb(x, pos)  # (B, T, D) each


Scheme = OneAxis | GridAxes


def from_config(config: Any) -> Scheme:
    """The scheme a model config asks for: `GridAxes` when it names `grid_tokens`, else `OneAxis`."""
    tokens = getattr(config, "grid_tokens", None)
    if not tokens:
        return OneAxis()
    return GridAxes(int(tokens["newline"]), int(tokens["input"]), int(tokens["output"]))


def for_model(model: Any) -> Scheme:
    """The scheme of a Hugging Face causal LM, plain or PEFT-wrapped."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return from_config(base.config)


def start(scheme: Scheme, rows: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The position (A, rows) and token (rows,) before a first token, as tensors."""
    import torch

    pos, tok = scheme.START
    return (torch.tensor(pos, device=device)[:, None].expand(-1, rows).clone(),  # (A, rows)
            torch.full((rows,), tok, device=device, dtype=torch.long))
