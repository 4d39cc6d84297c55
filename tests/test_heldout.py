"""Held-out loss (tasks_lib/pretraining/heldout.py): the same examples for every model, labels after the first
pair only, and a mean per labelled token that batching does not change."""

from __future__ import annotations

import json
import math
from pathlib import Path

from conftest import kaggle_files
from tasks_lib.arc.data import Task
from tasks_lib.arc.encoding import IGNORE, Vocab, build_arc_tokenizer
from tasks_lib.pretraining import heldout


def _examples(tasks: list[Task], folder: Path, **kw):
    challenges, solutions = kaggle_files(tasks, folder)
    return heldout.heldout_examples(str(challenges), solutions=str(solutions), **kw)


def test_examples_are_deterministic_and_never_label_the_first_output(small_tasks: list[Task], tmp_path: Path) -> None:
    a, used = _examples(small_tasks, tmp_path / "a", views=2, seed=3)
    b, _ = _examples(small_tasks, tmp_path / "b", views=2, seed=3)
    c, _ = _examples(small_tasks, tmp_path / "c", views=2, seed=4)
    assert used == len(small_tasks) and len(a) == 2 * len(small_tasks)
    assert [e.ids for e in a] == [e.ids for e in b] and [e.ids for e in a] != [e.ids for e in c]
    vocab = Vocab.from_tokenizer(build_arc_tokenizer())
    for ex in a:
        first_end = ex.ids.index(vocab.eos)  # the first pair's output ends at the first end-of-grid token
        assert all(lab == IGNORE for lab in ex.labels[: first_end + 1]), "the first output has no demonstration"
        assert any(lab != IGNORE for lab in ex.labels[first_end + 1:])


def test_the_loss_is_a_mean_per_token_that_batching_does_not_change(tiny_model: Path, small_tasks: list[Task], tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    examples, _ = _examples(small_tasks, tmp_path, views=2)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    together = heldout.heldout_loss(model, examples, batch_tokens=1 << 20)
    alone = [heldout.heldout_loss(model, [e], batch_tokens=1) for e in examples]
    assert together.tokens == sum(a.tokens for a in alone) == sum(sum(lab != IGNORE for lab in e.labels[1:]) for e in examples)
    assert math.isclose(together.loss, sum(a.loss * a.tokens for a in alone) / together.tokens, rel_tol=1e-4)
    assert 0 < together.loss < 2 * math.log(16), "a random model is near log(vocabulary)"


def test_the_command_prints_one_line_per_model_and_set(tiny_model: Path, small_tasks: list[Task], tmp_path: Path, capsys) -> None:
    challenges, solutions = kaggle_files(small_tasks, tmp_path)
    # a challenges file next to its solutions: the command takes set names; a file source reads no solutions
    assert heldout.main(["--model", str(tiny_model), "--sets", str(challenges), "--views", "1", "--device", "cpu"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["model"], r["set"]) for r in rows] == [(str(tiny_model), str(challenges))]
    assert rows[0]["tokens"] > 0 and rows[0]["tasks"] >= 1
