"""Grid <-> token encoding with exactly one token per cell.

Contract:
- The text form of a grid is one digit per cell and a newline after each row (`to_text` / `to_grid`).
- A task becomes token ids without running the tokenizer over whole texts: every symbol (digits 0-9,
  newline, the input marker `I`, the output marker `O`) maps to exactly one token id of the model's
  tokenizer, checked once by `Vocab.from_tokenizer`, which fails with `EncodingError` naming the
  symbol when a tokenizer cannot give one token per cell, or naming the pair when the tokenizer merges two
  neighbouring layout symbols (e.g. Llama-3's "12" as one token): a model trained on that tokenizer's text never
  saw one token per digit, so it is refused before any work starts.
- Layout: `<bos> (I \\n <input rows> O \\n <output rows> <eos>)* I \\n <test rows> O \\n` and the model
  continues with the output rows and `<eos>`. Training labels cover output rows and their `<eos>`.
- `output_budget(task)` bounds one answer's length in tokens (the decode's `max_new`); `answer_tokens(task)` is the
  expected length of all its answers (the budget's estimate of what sampling must decode).
- `decode_grid` turns generated ids into a grid or `None` (malformed output never raises).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from tasks_lib.arc.data import MAX_SIDE, Grid, Task

DIGITS = tuple(str(d) for d in range(10))
NEWLINE, IN, OUT = "\n", "I", "O"
PAD, BOS, EOS = "<pad>", "<s>", "</s>"
ARC_VOCAB = (PAD, BOS, EOS, *DIGITS, NEWLINE, IN, OUT)
IGNORE = -100  # label value the loss skips


class EncodingError(ValueError):
    """The tokenizer cannot represent a symbol as one token, or a task does not fit."""


def to_text(grid: Grid) -> str:
    return "".join("".join(str(v) for v in row) + "\n" for row in grid)


def to_grid(text: str) -> Grid | None:
    """Parse `to_text` output; None if it is not a rectangular grid of digits, 1-30 per side."""
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    if not 1 <= len(rows) <= MAX_SIDE:
        return None
    width = len(rows[0])
    if not 1 <= width <= MAX_SIDE or any(len(r) != width or not r.isdigit() for r in rows):
        return None
    return tuple(tuple(int(c) for c in r) for r in rows)


@dataclass(frozen=True)
class Vocab:
    """Token ids of the symbols the layout uses."""

    digits: tuple[int, ...]
    newline: int
    input: int
    output: int
    bos: int
    eos: int
    pad: int

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> "Vocab":
        """Look up each symbol; raise EncodingError if one is not exactly one token."""
        ids = {s: _single_token(tokenizer, s) for s in (*DIGITS, NEWLINE, IN, OUT)}
        eos = tokenizer.eos_token_id
        if eos is None:
            raise EncodingError("tokenizer has no eos_token: the sampler needs one to end a grid")
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else eos
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        vocab = cls(tuple(ids[d] for d in DIGITS), ids[NEWLINE], ids[IN], ids[OUT], bos, eos, pad)
        if len(set(vocab.digits) | {vocab.newline, vocab.input, vocab.output, vocab.eos}) != 14:
            raise EncodingError("tokenizer maps two grid symbols to the same token id")
        _check_no_merges(tokenizer)
        return vocab

    def grid_ids(self, grid: Grid) -> list[int]:
        out: list[int] = []
        for row in grid:
            out.extend(self.digits[v] for v in row)
            out.append(self.newline)
        return out


def _single_token(tokenizer: Any, symbol: str) -> int:
    ids = tokenizer(symbol, add_special_tokens=False)["input_ids"]
    special = set(tokenizer.all_special_ids)  # a symbol the vocabulary lacks comes back as unk (or pad)
    if len(ids) == 1 and int(ids[0]) not in special:
        return int(ids[0])
    # Sentencepiece tokenizers prefix a word boundary; fall back to the bare piece if it exists.
    for piece in (symbol, "<0x0A>" if symbol == "\n" else symbol):
        tid = tokenizer.convert_tokens_to_ids(piece)
        if tid is not None and tid != tokenizer.unk_token_id and tid not in special:
            return int(tid)
    raise EncodingError(
        f"tokenizer {type(tokenizer).__name__} encodes {symbol!r} as token ids {ids}, not one token of its own; "
        "arc-ttt needs one token per grid cell (use a model with single-digit tokens or the embedded ARC vocabulary)"
    )


# Neighbouring symbols in the layout: a cell or newline after a cell, a cell after a newline, a newline after a marker
# (two newlines never meet: every row has at least one cell).
NEIGHBOURS = tuple((a, b) for a in (*DIGITS, NEWLINE, IN, OUT) for b in (*DIGITS, NEWLINE)
                   if not (a == b == NEWLINE) and not (a in (IN, OUT) and b != NEWLINE))


def _symbol_tokens(tokenizer: Any, text: str) -> list[int]:
    """Token ids of `text` less those that decode to nothing but spaces (a sentencepiece word-boundary piece)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return [int(t) for t in ids if tokenizer.decode([int(t)]).strip(" ") != ""]


def _check_no_merges(tokenizer: Any) -> None:
    """Raise EncodingError naming the first pair of neighbouring layout symbols that the tokenizer writes as fewer
    tokens than the two symbols apart (its text never shows the model one token per cell)."""
    for a, b in NEIGHBOURS:
        together = _symbol_tokens(tokenizer, a + b)
        if len(together) < len(_symbol_tokens(tokenizer, a)) + len(_symbol_tokens(tokenizer, b)):
            raise EncodingError(
                f"tokenizer {type(tokenizer).__name__} ({getattr(tokenizer, 'name_or_path', '')}) merges {a + b!r} into "
                f"token ids {together}: a model trained on its text reads several digits per token, so one token per "
                "grid cell would be out of distribution for it; arc-ttt refuses it (use a model whose tokenizer splits "
                "every digit, such as Qwen2.5/Qwen3's, or the embedded ARC vocabulary)"
            )


@dataclass(frozen=True)
class Encoded:
    """Token ids of a training sequence and its labels (IGNORE outside output grids)."""

    ids: list[int]
    labels: list[int]


def _pair_ids(vocab: Vocab, inp: Grid) -> list[int]:
    return [vocab.input, vocab.newline, *vocab.grid_ids(inp), vocab.output, vocab.newline]


def encode_train(vocab: Vocab, task: Task, max_tokens: int, loss_on_first: bool = True) -> Encoded:
    """All train pairs of `task` as one sequence; drops trailing pairs until it fits `max_tokens`.

    Raises EncodingError if even the first pair does not fit."""
    ids, labels = [vocab.bos], [IGNORE]
    used = 0
    for i, pair in enumerate(task.train):
        prefix = _pair_ids(vocab, pair.input)
        target = [*vocab.grid_ids(pair.output), vocab.eos]
        if len(ids) + len(prefix) + len(target) > max_tokens:
            break
        ids += prefix + target
        train_this = loss_on_first or i > 0
        labels += [IGNORE] * len(prefix) + (target if train_this else [IGNORE] * len(target))
        used += 1
    if used == 0 or all(lab == IGNORE for lab in labels):
        raise EncodingError(f"task {task.id}: no train pair fits in max_tokens={max_tokens}")
    return Encoded(ids, labels)


def encode_prompt(vocab: Vocab, task: Task, test_index: int, max_tokens: int, reserve: int) -> list[int]:
    """Train pairs then the test input, ending where the output grid starts.

    Drops train pairs from the front until prompt + `reserve` (room for the answer) fits `max_tokens`.
    Raises EncodingError if the test input alone does not fit."""
    tail = _pair_ids(vocab, task.test_inputs[test_index])
    pairs = [_pair_ids(vocab, p.input) + [*vocab.grid_ids(p.output), vocab.eos] for p in task.train]
    while pairs and 1 + sum(map(len, pairs)) + len(tail) + reserve > max_tokens:
        pairs.pop(0)
    if 1 + len(tail) + reserve > max_tokens:
        raise EncodingError(f"task {task.id}: test input {test_index} does not fit in max_tokens={max_tokens}")
    return [vocab.bos, *[t for p in pairs for t in p], *tail]


def output_budget(task: Task) -> int:
    """An upper bound on the answer's length in tokens: the largest grid in the task, doubled
    (many tasks scale), capped at a full 30x30 grid with newlines and eos."""
    grids = [p.output for p in task.train] + [p.input for p in task.train] + list(task.test_inputs)
    largest = max(len(g) * (len(g[0]) + 1) for g in grids)
    return min(MAX_SIDE * (MAX_SIDE + 1) + 1, 2 * largest + 1)


def _tokens(h: int, w: int) -> int:
    return h * (w + 1) + 1  # rows of w cells and a newline each, then eos


def answer_tokens(task: Task) -> int:
    """The expected length in tokens of the task's answers, summed over its test inputs (what sampling must decode;
    `output_budget` is the bound on each). A test input's answer shape is predicted from the train pairs: the test
    input's shape times the output/input shape ratio when every pair has the same ratio; else the train outputs' shape
    when they all share one; else the largest train output. Capped at `output_budget`."""
    ratios = {(Fraction(len(p.output), len(p.input)), Fraction(len(p.output[0]), len(p.input[0]))) for p in task.train}
    shapes = {(len(p.output), len(p.output[0])) for p in task.train}
    largest = max(_tokens(len(p.output), len(p.output[0])) for p in task.train)
    cap = output_budget(task)
    total = 0
    for grid in task.test_inputs:
        if len(ratios) == 1:
            (rh, rw), = ratios
            need = _tokens(min(MAX_SIDE, round(len(grid) * rh)), min(MAX_SIDE, round(len(grid[0]) * rw)))
        elif len(shapes) == 1:
            need = _tokens(*next(iter(shapes)))
        else:
            need = largest
        total += min(need, cap)
    return total


def decode_grid(vocab: Vocab, ids: Sequence[int]) -> Grid | None:
    """Generated ids (up to and excluding eos) to a grid; None when malformed."""
    back = {tid: str(d) for d, tid in enumerate(vocab.digits)}
    back[vocab.newline] = "\n"
    chars = []
    for tid in ids:
        tid = int(tid)
        if tid == vocab.eos:
            break
        sym = back.get(tid)
        if sym is None:
            return None
        chars.append(sym)
    return to_grid("".join(chars))


def build_arc_tokenizer() -> Any:
    """The embedded model's tokenizer: one token per symbol of ARC_VOCAB, as a HF fast tokenizer."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(ARC_VOCAB)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=PAD))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=PAD, clean_up_tokenization_spaces=False
    )
