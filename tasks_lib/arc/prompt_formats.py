"""Prompt formats: how a task becomes the token ids a model trains on and is prompted with.

Contract:
- A format has `train(task, max_tokens, loss_on_first) -> Encoded` (every train pair, labels on each answer grid
  and the `eos` that ends it; trailing pairs dropped until it fits) and `prompt(task, test_index, max_tokens,
  reserve) -> ids` (the train pairs then the test input, ending where the answer grid starts; pairs dropped from
  the front until prompt + `reserve` fits). Both raise `EncodingError` when nothing fits. After a prompt the
  model writes the answer as `vocab.grid_ids(grid) + [vocab.eos]` in every format, so decoding
  (`encoding.decode_grid`), sampling, DFS and scoring need nothing format-specific.
- Every grid is written cell by cell from `Vocab` ids, with the input marker, newline and rows before an input grid
  (`I \\n rows`) and the output marker and newline before an answer (`O \\n rows`), so the grid position scheme
  (`tasks_lib.arc.positions.GridAxes`) places a cell at the same (line, column) in every format.
- `make(name, tokenizer, vocab)` builds the format `ModelConfig.prompt_format` names (`FORMATS`); it raises
  `EncodingError` before any work starts when the tokenizer cannot serve it.

Formats:
- `arc` (the default): the project's own layout (`tasks_lib.arc.encoding`), `<bos> (I \\n in O \\n out <eos>)* I \\n test O \\n`.
- `chat`: every train pair is one user turn (`I \\n` + input grid) and one assistant turn (`O \\n` + output grid) of
  the tokenizer's own chat template (`apply_chat_template`), the test input the last user turn; the prompt is the
  rendered conversation cut where the test's answer grid starts, so it is exactly what the same conversation with
  its answer trains on. The template's text is tokenized by the tokenizer and the grids are inserted as ids; the
  template must end an assistant turn with the `eos` token (e.g. Qwen's `<|im_end|>`), which is checked.

Adding a format: write a class with `name`, `train` and `prompt` as above (reuse `encoding.Vocab.grid_ids` for
grids so one token per cell holds), add a builder `(tokenizer, vocab) -> format` to `FORMATS` under its name, and add
it to `tests/test_prompt_formats.py`, which checks the answer layout and grid positions of every registered format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from tasks_lib.arc.data import Grid, Task
from tasks_lib.arc.encoding import IGNORE, Encoded, EncodingError, Vocab, encode_prompt, encode_train


class PromptFormat(Protocol):
    name: str

    def train(self, task: Task, max_tokens: int, loss_on_first: bool = True) -> Encoded: ...

    def prompt(self, task: Task, test_index: int, max_tokens: int, reserve: int) -> list[int]: ...


@dataclass(frozen=True)
class ArcFormat:
    """The project's own layout (`tasks_lib.arc.encoding`)."""

    vocab: Vocab
    name: str = "arc"

    def train(self, task: Task, max_tokens: int, loss_on_first: bool = True) -> Encoded:
        return encode_train(self.vocab, task, max_tokens, loss_on_first)

    def prompt(self, task: Task, test_index: int, max_tokens: int, reserve: int) -> list[int]:
        return encode_prompt(self.vocab, task, test_index, max_tokens, reserve)


_SLOT = re.compile("\ue000(\\d+)\ue001")  # a grid's place in the rendered template text (private-use characters)


def _slot(k: int) -> str:
    return f"\ue000{k}\ue001"


@dataclass
class ChatFormat:
    """Each example as a user and an assistant turn of the tokenizer's chat template (module doc)."""

    tokenizer: Any
    vocab: Vocab
    name: str = "chat"
    _pieces: dict[str, list[int]] = field(default_factory=dict, repr=False)  # template text -> ids, tokenized once

    def __post_init__(self) -> None:
        if not getattr(self.tokenizer, "chat_template", None):
            raise EncodingError(f"prompt_format chat: tokenizer {getattr(self.tokenizer, 'name_or_path', '')!r} has no chat_template")
        probe = Task("probe", (), ())
        ids, answers = self._render(probe, [((0,),)], [((1,),)])
        start = answers[0]
        if ids[start + 2 : start + 3] != [self.vocab.eos]:  # the 1x1 answer grid: the cell, the newline, then eos
            raise EncodingError(
                f"prompt_format chat: the chat template of {getattr(self.tokenizer, 'name_or_path', '')!r} does not end an "
                f"assistant turn with the eos token (id {self.vocab.eos}); sampling would not know where an answer ends"
            )

    def _text_ids(self, text: str) -> list[int]:
        if text not in self._pieces:
            self._pieces[text] = [int(t) for t in self.tokenizer(text, add_special_tokens=False)["input_ids"]]
        return self._pieces[text]

    def _render(self, task: Task, inputs: list[Grid], outputs: list[Grid]) -> tuple[list[int], list[int]]:
        """Ids of the conversation (one user turn per input, one assistant turn per output) and the index where each
        answer grid starts. `task` names the task in errors."""
        grids: list[Grid] = []
        messages = []
        for k, grid in enumerate(inputs):
            messages.append({"role": "user", "content": "I\n" + _slot(len(grids))})
            grids.append(grid)
            if k < len(outputs):
                messages.append({"role": "assistant", "content": "O\n" + _slot(len(grids))})
                grids.append(outputs[k])
        text = self.tokenizer.apply_chat_template(messages, tokenize=False)
        parts = _SLOT.split(text)  # text, slot, text, slot, ..., text
        if [int(k) for k in parts[1::2]] != list(range(len(grids))):
            raise EncodingError(f"task {task.id}: the chat template dropped, repeated or reordered a grid (prompt_format chat)")
        ids: list[int] = []
        starts: dict[int, int] = {}
        for i, part in enumerate(parts):
            if i % 2:
                starts[int(part)] = len(ids)
                ids.extend(self.vocab.grid_ids(grids[int(part)]))
            elif part:
                ids.extend(self._text_ids(part))
        return ids, [starts[2 * k + 1] for k in range(len(outputs))]

    def train(self, task: Task, max_tokens: int, loss_on_first: bool = True) -> Encoded:
        for used in range(len(task.train), 0, -1):
            pairs = task.train[:used]
            ids, answers = self._render(task, [p.input for p in pairs], [p.output for p in pairs])
            if len(ids) > max_tokens:
                continue
            labels = [IGNORE] * len(ids)
            for k, (start, pair) in enumerate(zip(answers, pairs)):
                if k == 0 and not loss_on_first:
                    continue
                end = start + len(self.vocab.grid_ids(pair.output)) + 1  # the grid and the eos after it
                labels[start:end] = ids[start:end]
            if all(lab == IGNORE for lab in labels):
                break
            return Encoded(ids, labels)
        raise EncodingError(f"task {task.id}: no train pair fits in max_tokens={max_tokens}")

    def prompt(self, task: Task, test_index: int, max_tokens: int, reserve: int) -> list[int]:
        test = task.test_inputs[test_index]
        for drop in range(len(task.train) + 1):
            pairs = task.train[drop:]
            # the test's answer is a placeholder grid: the prompt ends where it starts
            ids, answers = self._render(task, [*(p.input for p in pairs), test], [*(p.output for p in pairs), ((0,),)])
            prompt = ids[: answers[-1]]
            if len(prompt) + reserve <= max_tokens:
                return prompt
        raise EncodingError(f"task {task.id}: test input {test_index} does not fit in max_tokens={max_tokens}")


FORMATS: dict[str, Callable[[Any, Vocab], PromptFormat]] = {
    "arc": lambda tokenizer, vocab: ArcFormat(vocab),
    "chat": lambda tokenizer, vocab: ChatFormat(tokenizer, vocab),
}


def make(name: str, tokenizer: Any, vocab: Vocab) -> PromptFormat:
    """The format registered as `name` for this tokenizer (raises EncodingError if the tokenizer cannot serve it)."""
    if name not in FORMATS:
        raise EncodingError(f"unknown prompt_format {name!r}; known: {sorted(FORMATS)}")
    return FORMATS[name](tokenizer, vocab)
