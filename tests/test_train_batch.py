"""Batched per-task training: several augmented views in one optimizer step.

Right-padding a view (pad ids, IGNORE labels) changes none of its positions under causal attention, so a batch's loss
is the token-weighted mean of its views' own losses and its gradients those of that mean, in every step strategy. The
loop takes `views_per_step` views a step, fewer under `tokens_per_step`, and a batch that runs out of memory trains
again with fewer views a step (never with none).
"""

from __future__ import annotations

import logging
import random

import pytest
import torch

from tasks_lib.adapting.model import Resident, load_base
from tasks_lib.adapting.train import TrainStats, rows_per_step, train_adapter, train_loop
from tasks_lib.adapting.train_steps import LightMode, make_step, pack
from tasks_lib.arc.data import Task
from tasks_lib.arc.encoding import IGNORE, Encoded, EncodingError
from tasks_lib.config import ConfigError, ModelConfig, TrainConfig

STRATEGIES = {
    "reference": dict(),  # plain PEFT + transformers (make_step(reference=True))
    "simple": dict(step="simple"),
    "fast": dict(step="fast", compile="off"),
    "graph": dict(step="fast", compile="off", cuda_graphs="on", graph_bucket=64),  # the graph step's body, eagerly on the CPU
}


@pytest.fixture(scope="module")
def res(model_cfg: ModelConfig) -> Resident:
    r = load_base(model_cfg, "cpu")
    r.reset(0)
    with torch.no_grad():  # LoRA B away from zero, so that the adapter's gradients are not trivially zero
        for name, p in r.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)
    r.model.train()
    return r


def _view(length: int, seed: int) -> Encoded:
    """Random ARC-vocabulary ids, labels on alternating spans of 17 tokens."""
    rng = random.Random(seed)
    ids = [1] + [rng.randrange(3, 16) for _ in range(length - 1)]
    return Encoded(ids, [t if (i // 17) % 2 else IGNORE for i, t in enumerate(ids)])


def _labelled(enc: Encoded) -> int:
    return sum(t != IGNORE for t in enc.labels[1:])


def _loss_and_grads(res: Resident, name: str, batch) -> tuple[float, list]:
    step = make_step(res, TrainConfig(**STRATEGIES[name]), reference=name == "reference")
    for p in step.params:
        p.grad = None
    loss = step.loss(batch)
    loss.backward()
    grads = [p.grad.detach().clone() for p in step.params]
    for p in step.params:
        p.grad = None
    step.close()
    return loss.item(), grads


def test_pack_pads_each_view_and_masks_its_padding() -> None:
    a, b = Encoded([1, 5, 6], [IGNORE, 5, 6]), Encoded([1, 7], [IGNORE, 7])
    ids, targets = pack([a, b], 4, pad=0)
    assert ids == [1, 5, 6, 0, 1, 7, 0, 0]
    assert targets == [5, 6, IGNORE, IGNORE, 7, IGNORE, IGNORE, IGNORE]  # target t is the label of token t+1
    with pytest.raises(EncodingError, match="labelled"):
        pack([Encoded([1, 5], [IGNORE, IGNORE])], 2, pad=0)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_batch_is_the_token_weighted_mean_of_its_views(res: Resident, name: str) -> None:
    views = [_view(90, 1), _view(130, 2), _view(61, 3)]  # three lengths: two are padded
    weights = [_labelled(v) for v in views]
    solo = [_loss_and_grads(res, name, v) for v in views]
    loss, grads = _loss_and_grads(res, name, views)
    want_loss = sum(w * l for w, (l, _) in zip(weights, solo)) / sum(weights)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    for i, g in enumerate(grads):
        want = sum(w * s[1][i] for w, s in zip(weights, solo)) / sum(weights)
        assert float((g - want).norm()) <= 1e-4 * float(want.norm()) + 1e-7


def test_graph_step_batches_in_one_static_shape(res: Resident) -> None:
    step = make_step(res, TrainConfig(**STRATEGIES["graph"]))
    views = [_view(90, 4), _view(130, 5)]
    assert step.shape(views) == (2, 192)  # the longest view, rounded up to the 64-token bucket
    before = [p.detach().clone() for p in step.params]
    loss = float(step(views))
    assert loss > 0 and (2, 192) in step.graphs.inputs and step.graphs.inputs[(2, 192)].shape == (2, 2, 192)
    assert any(not torch.equal(a, p) for a, p in zip(before, step.params))  # the update moved the adapter


@pytest.mark.parametrize("views, tokens, cap, length, bucket, want", [
    (1, 0, 0, 500, 1, 1),        # the default: one view a step
    (16, 0, 0, 500, 1, 16),      # no token cap
    (16, 4096, 0, 500, 1, 8),    # 4096 // 500
    (16, 4096, 0, 500, 256, 8),  # 500 -> 512 in 256-token buckets: 4096 // 512
    (16, 4096, 1500, 500, 1, 3),  # the slot's cap after an out-of-memory batch is lower
    (16, 300, 0, 500, 1, 1),     # a view longer than the cap still trains, alone
])
def test_rows_per_step(views: int, tokens: int, cap: int, length: int, bucket: int, want: int) -> None:
    light = LightMode(step_tokens=cap)
    assert rows_per_step(TrainConfig(views_per_step=views, tokens_per_step=tokens), light, length, bucket) == want


def test_config_refuses_bad_batch_values() -> None:
    with pytest.raises(ConfigError, match="views_per_step"):
        TrainConfig(views_per_step=0)
    with pytest.raises(ConfigError, match="tokens_per_step"):
        TrainConfig(tokens_per_step=-1)


def test_the_loop_trains_views_per_step_and_counts_tokens(model_cfg: ModelConfig, small_tasks: list[Task]) -> None:
    r = load_base(model_cfg, "cpu")
    r.reset(0)
    stats = train_adapter(r, small_tasks[0], TrainConfig(max_steps=3, views_per_step=4, step="fast", compile="off"), 1024, 1e12)
    assert stats.steps == 3 and stats.views == 12 and stats.stopped_by == "steps"
    assert 0 < stats.tokens <= stats.padded_tokens and stats.last_loss is not None
    one = train_adapter(r, small_tasks[0], TrainConfig(max_steps=3, step="fast", compile="off"), 1024, 1e12)
    assert one.views == 3 and one.tokens == one.padded_tokens  # one view a step: nothing padded


def test_a_batch_out_of_memory_trains_fewer_views_a_step(model_cfg: ModelConfig, monkeypatch, caplog) -> None:
    """Batches of more than 2 views run out of memory: the loop halves the slot's cap on a step's padded tokens until
    they fit, trains every view it drew, and says so in the task's record."""
    import tasks_lib.adapting.train_steps as ts

    r = load_base(model_cfg, "cpu")
    r.reset(0)
    plain = ts._layer_call
    rows_seen: list[int] = []

    def layer(layer_mod, hidden, cos, sin):
        if hidden.shape[0] > 2:
            raise torch.OutOfMemoryError(f"CUDA out of memory (fake, {hidden.shape[0]} views)")
        return plain(layer_mod, hidden, cos, sin)

    def counting_loss(self, batch):
        rows_seen.append(len(ts.as_views(batch)))
        return real_loss(self, batch)

    real_loss = ts.FastForward.loss
    monkeypatch.setattr(ts, "_layer_call", layer)
    monkeypatch.setattr(ts.FastForward, "loss", counting_loss)
    views = [_view(100, i) for i in range(40)]
    with caplog.at_level(logging.WARNING):
        stats = train_loop(r, TrainConfig(views_per_step=8, step="fast", compile="off"), iter(views), 5, 1e12, "task t")
    assert stats.steps == 5 and stats.views == 10  # 8 ran out, then 4, then 2 views a step fit
    assert rows_seen[:3] == [8, 4, 2] and set(rows_seen[3:]) == {2}
    assert len(stats.oom) == 2 and "8 views x 100 tokens" in stats.oom[0] and "4 views x 100 tokens" in stats.oom[1]
    assert LightMode.of(r).step_tokens == 200 and "views of this length" in caplog.text
    assert isinstance(stats, TrainStats) and stats.skipped == 0


@pytest.mark.slow
def test_the_benchmark_times_and_traces_the_step_on_cpu(tmp_path) -> None:
    """benchmarks/train_batch.py end to end on the CPU: a row per setting (compile x LoRA input casts) and views value,
    and one trace of the 2-view eager step whose shares add up and whose table names the matrix product."""
    import json

    from benchmarks.train_batch import main

    assert main(["--device", "cpu", "--profile", "cpu", "--views", "1,2", "--modes", "lora", "--steps", "2", "--compile", "off,eager",
                 "--lora-input-casts", "skip,keep", "--tasks", "2", "--curve-tasks", "0", "--trace", "2", "--trace-steps", "2",
                 "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    settings = ["off casts:skip", "off casts:keep", "eager casts:skip", "eager casts:keep"]
    assert [(r["setting"], r["views"]) for r in results["rows"]] == [(st, v) for st in settings for v in (1, 2)]
    assert [r["compile"] for r in results["rows"]][::2] == ["off", "off", "eager", "eager"]
    assert all(r["tokens"] > 0 and r["warm_seconds"] > 0 for r in results["rows"])
    (t,) = results["traces"]
    assert t["views"] == 2 and t["matmul_share"] > 0 and t["matmul_share"] + t["attention_share"] + t["other_share"] == pytest.approx(1)
    assert "aten::mm" in (tmp_path / "trace-lora-2.txt").read_text()


@pytest.mark.slow
def test_the_benchmark_times_each_shape_on_a_model_it_builds(tmp_path) -> None:
    """--shapes: every row runs on a random grid model of each HIDDENxLAYERS shape (heads of 64), in the order given, and
    a wider shape counts more parameters; a bad shape is refused by name."""
    import json

    from benchmarks.train_batch import main

    assert main(["--device", "cpu", "--profile", "cpu", "--views", "1,2", "--modes", "lora", "--steps", "1", "--shapes", "64x2,128x1",
                 "--tasks", "2", "--curve-tasks", "0", "--trace", "2", "--trace-steps", "1", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert [(r["shape"], r["views"]) for r in rows] == [("64x2", 1), ("64x2", 2), ("128x1", 1), ("128x1", 2)]
    assert rows[2]["parameters"] > rows[0]["parameters"] and all(r["tokens"] > 0 for r in rows)
    assert json.loads((tmp_path / "shape-128x1" / "config.json").read_text())["hidden_size"] == 128
    assert (tmp_path / "trace-lora-64x2-2.txt").exists() and (tmp_path / "trace-lora-128x1-2.txt").exists()
    with pytest.raises(SystemExit, match="'96x2'"):
        main(["--device", "cpu", "--profile", "cpu", "--shapes", "96x2", "--out", str(tmp_path)])
