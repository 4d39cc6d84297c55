"""Grid <-> text <-> token ids: one token per cell, labels only on answers, prompts that fit, and
malformed generations that decode to None instead of raising."""

from __future__ import annotations

import random

import pytest

from tasks_lib.arc.data import Grid, Pair, Task
from tasks_lib.arc.encoding import (
    ARC_VOCAB,
    BOS,
    EOS,
    IGNORE,
    PAD,
    EncodingError,
    Vocab,
    answer_tokens,
    build_arc_tokenizer,
    decode_grid,
    encode_prompt,
    encode_train,
    output_budget,
    to_grid,
    to_text,
)


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return Vocab.from_tokenizer(build_arc_tokenizer())


def _grid(rng: random.Random, h: int, w: int) -> Grid:
    return tuple(tuple(rng.randrange(10) for _ in range(w)) for _ in range(h))


def _task(n_train: int = 3, side: int = 3) -> Task:
    rng = random.Random(n_train * 100 + side)
    pairs = tuple(Pair(_grid(rng, side, side + 1), _grid(rng, side + 1, side)) for _ in range(n_train))
    return Task("enc", pairs, (_grid(rng, side, side + 1),), (_grid(rng, side + 1, side),))


def test_text_round_trip() -> None:
    rng = random.Random(0)
    for h, w in [(1, 1), (1, 30), (30, 1), (7, 13), (30, 30)]:
        g = _grid(rng, h, w)
        text = to_text(g)
        assert text.count("\n") == h and len(text) == h * (w + 1)
        assert to_grid(text) == g


@pytest.mark.parametrize("text", ["", "\n", "12\n3\n", "1a\n", "12\n\n34\n", "1" * 31 + "\n", "1\n" * 31])
def test_to_grid_rejects_malformed_text(text: str) -> None:
    assert to_grid(text) is None


def test_arc_tokenizer_gives_one_distinct_token_per_symbol(vocab: Vocab) -> None:
    ids = {*vocab.digits, vocab.newline, vocab.input, vocab.output}
    assert len(ids) == 13
    assert vocab.eos not in ids and vocab.bos not in ids and vocab.pad not in ids
    tok = build_arc_tokenizer()
    assert tok("0123456789\nIO", add_special_tokens=False)["input_ids"] == [*vocab.digits, vocab.newline, vocab.input, vocab.output]


def _tokenizer_without(symbol: str, unk: str | None) -> object:
    """A character-level tokenizer whose vocabulary lacks `symbol` (with or without an unk token)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(t for t in ARC_VOCAB if t != symbol)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=PAD))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    special = dict(bos_token=BOS, eos_token=EOS, pad_token=PAD)
    if unk is not None:
        special["unk_token"] = unk
    return PreTrainedTokenizerFast(tokenizer_object=core, **special)


@pytest.mark.parametrize("symbol", ["7", "\n", "O"])
@pytest.mark.parametrize("unk", [PAD, None])
def test_tokenizer_lacking_a_symbol_is_an_encoding_error_naming_it(symbol: str, unk: str | None) -> None:
    with pytest.raises(EncodingError, match=repr(symbol).replace("\\", "\\\\")):
        Vocab.from_tokenizer(_tokenizer_without(symbol, unk))


def test_tokenizer_that_merges_digits_is_refused() -> None:
    """A BPE vocabulary with multi-digit merges is refused even though every single symbol has its own token: a model
    trained on its text never saw one token per digit."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    base = {tok: i for i, tok in enumerate(ARC_VOCAB)}
    base["12"] = len(base)
    core = Tokenizer(models.BPE(vocab=base, merges=[("1", "2")]))
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    assert tok("12", add_special_tokens=False)["input_ids"] == [base["12"]]
    with pytest.raises(EncodingError, match=f"merges '12' into token ids \\[{base['12']}\\]"):
        Vocab.from_tokenizer(tok)


def test_tokenizer_without_eos_is_rejected() -> None:
    tok = build_arc_tokenizer()
    tok.eos_token = None
    with pytest.raises(EncodingError, match="eos"):
        Vocab.from_tokenizer(tok)


def test_train_labels_cover_only_outputs_and_eos(vocab: Vocab) -> None:
    task = _task()
    enc = encode_train(vocab, task, max_tokens=4096)
    assert len(enc.ids) == len(enc.labels)
    assert enc.ids[0] == vocab.bos
    labelled = [i for i, lab in enumerate(enc.labels) if lab != IGNORE]
    assert all(enc.labels[i] == enc.ids[i] for i in labelled)
    want: list[int] = []
    for p in task.train:
        want += [*vocab.grid_ids(p.output), vocab.eos]
    assert [enc.ids[i] for i in labelled] == want
    # every labelled run starts right after "O \n"
    starts = [i for i in labelled if enc.labels[i - 1] == IGNORE]
    assert len(starts) == len(task.train)
    assert all(enc.ids[i - 2 : i] == [vocab.output, vocab.newline] for i in starts)


def test_train_without_loss_on_first_pair(vocab: Vocab) -> None:
    task = _task()
    enc = encode_train(vocab, task, max_tokens=4096, loss_on_first=False)
    n_labelled = sum(lab != IGNORE for lab in enc.labels)
    assert n_labelled == sum(len(vocab.grid_ids(p.output)) + 1 for p in task.train[1:])


def test_train_drops_trailing_pairs_to_fit(vocab: Vocab) -> None:
    task = _task(n_train=4)
    full = len(encode_train(vocab, task, 4096).ids)
    per_pair = full // 4
    enc = encode_train(vocab, task, max_tokens=full - 1)
    assert len(enc.ids) <= full - 1
    assert enc.ids == encode_train(vocab, Task("enc", task.train[:3], task.test_inputs), 4096).ids
    with pytest.raises(EncodingError, match="no train pair fits"):
        encode_train(vocab, task, max_tokens=per_pair // 2)


def test_prompt_ends_where_the_answer_starts(vocab: Vocab) -> None:
    task = _task()
    prompt = encode_prompt(vocab, task, 0, max_tokens=4096, reserve=output_budget(task))
    assert prompt[0] == vocab.bos
    assert prompt[-2:] == [vocab.output, vocab.newline]
    assert prompt[-2 - len(vocab.grid_ids(task.test_inputs[0])) - 2 : -2][:2] == [vocab.input, vocab.newline]
    assert prompt.count(vocab.eos) == len(task.train)


def test_prompt_drops_pairs_from_the_front_to_fit(vocab: Vocab) -> None:
    task = _task(n_train=4)
    reserve = output_budget(task)
    full = encode_prompt(vocab, task, 0, 4096, reserve)
    limit = len(full) + reserve - 1
    shorter = encode_prompt(vocab, task, 0, limit, reserve)
    assert len(shorter) + reserve <= limit
    assert shorter.count(vocab.eos) == 3
    assert shorter[1:] == encode_prompt(vocab, Task("enc", task.train[1:], task.test_inputs), 0, 4096, reserve)[1:]
    with pytest.raises(EncodingError, match="test input 0 does not fit"):
        encode_prompt(vocab, task, 0, max_tokens=reserve + 5, reserve=reserve)


def test_output_budget_bounds_a_full_grid() -> None:
    big = Task("big", (Pair(((1,) * 30,) * 30, ((2,) * 30,) * 30),), (((3,) * 30,) * 30,))
    assert output_budget(big) == 30 * 31 + 1
    small = _task(side=2)
    assert output_budget(small) >= 3 * 3 + 1


def _blank(h: int, w: int) -> Grid:
    return ((0,) * w,) * h


def test_answer_tokens_predicts_each_answer_shape_from_the_train_pairs() -> None:
    """Rows of w cells and a newline, then eos: an h x w answer is h * (w + 1) + 1 tokens."""
    same = Task("same", (Pair(_blank(3, 4), _blank(3, 4)), Pair(_blank(5, 5), _blank(5, 5))), (_blank(30, 30), _blank(2, 2)))
    assert answer_tokens(same) == (30 * 31 + 1) + (2 * 3 + 1), "output = input shape: each test input's own shape"
    double = Task("double", (Pair(_blank(2, 3), _blank(4, 6)), Pair(_blank(3, 3), _blank(6, 6))), (_blank(4, 2),))
    assert answer_tokens(double) == 8 * 5 + 1, "the same ratio in every pair, applied to the test input"
    fixed = Task("fixed", (Pair(_blank(9, 9), _blank(1, 3)), Pair(_blank(4, 7), _blank(1, 3))), (_blank(20, 20),))
    assert answer_tokens(fixed) == 1 * 4 + 1, "every train output 1x3: the answer too"
    mixed = Task("mixed", (Pair(_blank(9, 9), _blank(2, 3)), Pair(_blank(4, 7), _blank(5, 2))), (_blank(20, 20),))
    assert answer_tokens(mixed) == 5 * 3 + 1, "no rule: the largest train output"
    capped = Task("capped", (Pair(_blank(10, 10), _blank(30, 30)),), (_blank(20, 20),))
    assert answer_tokens(capped) == output_budget(capped) == 30 * 31 + 1, "a 60x60 prediction is capped at the decode's bound"


def test_decode_round_trip(vocab: Vocab) -> None:
    g = _grid(random.Random(1), 4, 6)
    ids = [*vocab.grid_ids(g), vocab.eos, vocab.digits[3]]
    assert decode_grid(vocab, ids) == g


def test_decode_malformed_ids_gives_none(vocab: Vocab) -> None:
    d = vocab.digits
    cases = [
        [],
        [vocab.eos],
        [d[1], d[2], vocab.newline, d[3], vocab.newline, vocab.eos],  # ragged
        [d[1], vocab.input, vocab.newline],  # a marker inside the grid
        [d[1], vocab.newline, vocab.pad],  # padding
        [d[1], 10_000, vocab.newline],  # an id outside the vocabulary
        [vocab.newline, vocab.newline],  # empty rows
        [d[0]] * 31 + [vocab.newline],  # too wide
    ]
    for ids in cases:
        assert decode_grid(vocab, ids) is None, ids
