"""Prompt formats (`tasks_lib.arc.prompt_formats`): the project's own layout is unchanged; the chat format wraps every
example in the tokenizer's chat template with grids cell by cell, gives the ids the tokenizer itself gives the
rendered text (real Qwen tokenizer), keeps grid positions of an `arc_grid` model, and runs training, every sampling
backend and scoring; a tokenizer that cannot serve a format is refused before the weights load."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tasks_lib.adapting.model import build_tiny_model, load_base
from tasks_lib.arc.data import Pair, Task
from tasks_lib.arc.encoding import EncodingError, Vocab, build_arc_tokenizer, encode_prompt, encode_train, to_text
from tasks_lib.arc.positions import GridAxes
from tasks_lib.arc.prompt_formats import FORMATS, ArcFormat, ChatFormat, make
from tasks_lib.config import ConfigError, ModelConfig, SampleConfig, TrainConfig

transformers = pytest.importorskip("transformers")

# A chat template over the ARC vocabulary alone: a user turn opens with <s>, an assistant turn ends with </s>.
ARC_CHAT = "{% for m in messages %}{% if m['role'] == 'user' %}<s>{{ m['content'] }}{% else %}{{ m['content'] }}</s>{% endif %}{% endfor %}"


def _task() -> Task:
    return Task("fmt", (Pair(((1, 2), (3, 4)), ((4, 3), (2, 1))), Pair(((5, 6, 7),), ((7, 6, 5),))), (((8, 9), (0, 1)),))


def _qwen() -> object:
    from tests.test_tokenizers import qwen_tokenizer_dir

    return transformers.AutoTokenizer.from_pretrained(qwen_tokenizer_dir(), local_files_only=True)


def test_every_registered_format_is_built_by_make() -> None:
    tok = build_arc_tokenizer()
    tok.chat_template = ARC_CHAT
    vocab = Vocab.from_tokenizer(tok)
    assert sorted(FORMATS) == ["arc", "chat"]
    assert [make(name, tok, vocab).name for name in sorted(FORMATS)] == ["arc", "chat"]
    with pytest.raises(EncodingError, match="unknown prompt_format 'alpaca'"):
        make("alpaca", tok, vocab)
    with pytest.raises(ConfigError, match="model.prompt_format='alpaca'"):
        ModelConfig(prompt_format="alpaca")


def test_a_profile_picks_the_format(tmp_path: Path) -> None:
    from tasks_lib.config import load_profile

    (tmp_path / "chat.yaml").write_text("model:\n  prompt_format: chat\n")
    assert load_profile(str(tmp_path / "chat.yaml")).model.prompt_format == "chat"
    (tmp_path / "bad.yaml").write_text("model:\n  prompt_format: alpaca\n")
    with pytest.raises(ConfigError, match="bad.yaml: model.prompt_format='alpaca'"):
        load_profile(str(tmp_path / "bad.yaml"))


def test_arc_format_is_the_encoding_layout() -> None:
    vocab = Vocab.from_tokenizer(build_arc_tokenizer())
    fmt = ArcFormat(vocab)
    assert fmt.train(_task(), 512, False) == encode_train(vocab, _task(), 512, False)
    assert fmt.prompt(_task(), 0, 512, 9) == encode_prompt(vocab, _task(), 0, 512, 9)


def test_chat_format_gives_the_qwen_tokenizers_own_ids_of_the_rendered_conversation() -> None:
    qwen = _qwen()
    vocab = Vocab.from_tokenizer(qwen)
    fmt = ChatFormat(qwen, vocab)
    task = _task()
    messages = []
    for p in task.train:
        messages += [{"role": "user", "content": "I\n" + to_text(p.input)}, {"role": "assistant", "content": "O\n" + to_text(p.output)}]
    text = qwen.apply_chat_template(messages, tokenize=False)
    enc = fmt.train(task, 4096)
    assert enc.ids == qwen(text, add_special_tokens=False)["input_ids"]
    labelled = [t for t, lab in zip(enc.ids, enc.labels) if lab != -100]
    want = [t for p in task.train for t in (*vocab.grid_ids(p.output), vocab.eos)]
    assert labelled == want  # the answers and the <|im_end|> that ends each, nothing else
    # the prompt is the same conversation with the test's answer, cut where that answer starts
    answer = ((9, 8), (1, 0))
    full = ChatFormat(qwen, vocab).train(Task("t", (*task.train, Pair(task.test_inputs[0], answer)), ()), 4096)
    prompt = fmt.prompt(task, 0, 4096, reserve=0)
    assert full.ids[: len(prompt)] == prompt
    assert full.ids[len(prompt) : len(prompt) + 7] == [*vocab.grid_ids(answer), vocab.eos]
    assert qwen.decode(prompt).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\nO\n")
    with pytest.raises(EncodingError, match="does not fit"):
        fmt.prompt(task, 0, 8, reserve=0)
    shorter = fmt.prompt(task, 0, len(prompt) + 5, reserve=6)  # the first pair dropped to make room
    assert shorter == fmt.prompt(Task("t", task.train[1:], task.test_inputs), 0, 4096, reserve=0)


def test_a_tokenizer_that_cannot_serve_the_chat_format_is_refused() -> None:
    tok = build_arc_tokenizer()
    vocab = Vocab.from_tokenizer(tok)
    with pytest.raises(EncodingError, match="has no chat_template"):
        ChatFormat(tok, vocab)
    tok.chat_template = "{% for m in messages %}<s>{{ m['content'] }}{% endfor %}"  # no eos after an answer
    with pytest.raises(EncodingError, match="does not end an assistant turn with the eos token"):
        ChatFormat(tok, vocab)
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{{ m['content'] }}</s>{% endfor %}"  # each turn twice
    with pytest.raises(EncodingError, match="dropped, repeated or reordered a grid"):
        ChatFormat(tok, vocab)


@pytest.fixture(scope="module")
def grid_chat(tmp_path_factory: pytest.TempPathFactory):
    """An arc_grid model whose tokenizer carries ARC_CHAT, loaded with prompt_format chat."""
    path = build_tiny_model(tmp_path_factory.mktemp("gridchat") / "m", hidden=64, layers=2, heads=2, intermediate=96,
                            max_positions=1024, positions="grid")
    tok = build_arc_tokenizer()
    tok.chat_template = ARC_CHAT
    tok.save_pretrained(path)
    res = load_base(ModelConfig(path=str(path), dtype="float32", lora_rank=4, max_tokens=512, prompt_format="chat"), "cpu")
    res.reset(0)
    return res


def test_chat_format_keeps_grid_positions(grid_chat) -> None:
    res = grid_chat
    assert isinstance(res.fmt, ChatFormat)
    scheme = GridAxes(res.vocab.newline, res.vocab.input, res.vocab.output)
    answer = ((9, 8, 7), (6, 5, 4))
    prompt = res.fmt.prompt(_task(), 0, 512, reserve=0)
    ids = prompt + [*res.vocab.grid_ids(answer), res.vocab.eos]
    grid, line, column = scheme.of_list(ids)
    cells = [i for i in range(len(prompt), len(ids) - 1) if ids[i] != res.vocab.newline]
    assert [(line[i], column[i]) for i in cells] == [(r + 1, c + 1) for r in range(2) for c in range(3)]
    assert {grid[i] for i in cells} == {2 * (len(_task().train) + 1)}  # the test's output grid: markers I, O per pair
    first_input = [i for i, t in enumerate(prompt) if t == res.vocab.input][0]
    assert (line[first_input + 2], column[first_input + 2]) == (1, 1)  # an input grid's first cell


@pytest.mark.parametrize("backend", ["hf", "cached", "dfs"])
def test_chat_format_trains_samples_and_scores_on_a_grid_model(grid_chat, backend: str) -> None:
    import torch

    from tasks_lib.adapting.train import train_adapter
    from tasks_lib.decoding.sample import engine_for, sample_task

    res = grid_chat
    res.reset(0)
    stats = train_adapter(res, _task(), TrainConfig(max_steps=2, warmup_steps=0, step="simple"), 512, math.inf)
    assert stats.steps == 2
    cfg = SampleConfig(backend=backend, views=2, samples_per_view=2, score_views=2, cuda_graphs="off", dfs_threshold=1e-3,
                       dfs_max_candidates=2)
    per_test, sstats = sample_task(res, _task(), cfg, max_tokens=512, deadline=math.inf)
    assert sstats.views_done == 2 and sstats.generated == sstats.malformed + len(per_test[0])
    prompt = res.fmt.prompt(_task(), 0, 512, reserve=8)
    answer = [*res.vocab.grid_ids(((1, 0),)), res.vocab.eos]
    eng = engine_for(res, cfg)
    with torch.no_grad():
        full = torch.log_softmax(res.model(input_ids=torch.tensor([prompt + answer])).logits.float(), -1)[0]
    want = sum(float(full[len(prompt) - 1 + i, t]) for i, t in enumerate(answer))
    assert eng.score(eng.prefill([prompt]), 0, [answer])[0] == pytest.approx(want, abs=1e-3)
