"""The CUDA-graph step: padding a sequence to its length bucket leaves the loss and gradients those of the
unpadded sequence; the static-buffer step (the captured body, run eagerly on the CPU) trains like the fast
step; the slot's optimizer is reset in place per task; a failed capture is cleaned up (faked CUDA calls) and the
slot falls back to the eager body for good."""

from __future__ import annotations

import contextlib
import random

import pytest

from tasks_lib.adapting.model import Resident, load_base
from tasks_lib.adapting.train import train_adapter
from tasks_lib.adapting.train_graphs import StepGraphs, _failure, bucket_length
from tasks_lib.adapting.train_steps import make_step
from tasks_lib.arc.data import Task
from tasks_lib.arc.encoding import IGNORE, Encoded
from tasks_lib.config import ConfigError, ModelConfig, TrainConfig

torch = pytest.importorskip("torch")

GRAPHS = dict(step="fast", compile="off", cuda_graphs="on", graph_bucket=64)


@pytest.fixture(scope="module")
def res(model_cfg: ModelConfig) -> Resident:
    res = load_base(model_cfg, "cpu")
    _live_adapter(res)
    return res


def _live_adapter(res: Resident, seed: int = 0) -> None:
    """Reset, then nonzero B so every gradient is live."""
    res.reset(seed)
    with torch.no_grad():
        for name, p in res.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)
    res.model.train()


def _sequence(length: int, seed: int) -> Encoded:
    """Random ARC-vocabulary ids, labels on alternating spans of 23 tokens; the last token labelled."""
    rng = random.Random(seed)
    ids = [1] + [rng.randrange(3, 16) for _ in range(length - 1)]
    labels = [t if (i // 23) % 2 else IGNORE for i, t in enumerate(ids)]
    labels[-1] = ids[-1]
    return Encoded(ids, labels)


def _reference(res: Resident, enc: Encoded) -> tuple[float, list]:
    step = make_step(res, TrainConfig(), reference=True)
    loss = step.loss(enc)
    step.opt.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad.detach().clone() for p in step.params]
    step.close()
    return loss.item(), grads


def _worst_relative_error(got: list, want: list) -> float:
    return max(float((g - w).norm() / w.norm()) for g, w in zip(got, want))


def _adapter(res: Resident) -> list:
    return [p.detach().clone() for p in res.trainable_parameters()]


def test_bucket_length_rounds_up() -> None:
    assert [bucket_length(n, 256) for n in (1, 255, 256, 257, 4096)] == [256, 256, 256, 512, 4096]


@pytest.mark.parametrize("length", [150, 192, 61])
def test_padded_static_step_has_the_unpadded_loss_and_gradients_fp32(res: Resident, length: int) -> None:
    enc = _sequence(length, seed=length)
    want_loss, want = _reference(res, enc)
    before = _adapter(res)
    step = make_step(res, TrainConfig(**GRAPHS))
    assert step.graphs is not None and step.bucket(length) == bucket_length(length, 64) >= length
    loss, got = step.probe(enc)  # lr 0: the weights must not move
    assert float(loss) == pytest.approx(want_loss, rel=1e-5)
    assert _worst_relative_error(got, want) < 1e-4
    assert all(torch.equal(a, b) for a, b in zip(before, _adapter(res)))


def test_static_step_trains_like_the_fast_step(model_cfg: ModelConfig) -> None:
    """Three updates (lr warm-up included) of the static-buffer step equal those of the fast step."""
    seqs = [_sequence(n, seed=n) for n in (90, 130, 100)]
    ends = []
    for fields in (dict(step="fast", compile="off", fused_adamw="on"), GRAPHS):
        res = load_base(model_cfg, "cpu")
        _live_adapter(res, seed=3)
        start = _adapter(res)
        step = make_step(res, TrainConfig(lr=1e-2, warmup_steps=2, **fields))
        losses = [float(step(enc)) for enc in seqs]
        ends.append((losses, [p - s for p, s in zip(_adapter(res), start)]))
    (fast_losses, fast_updates), (graph_losses, graph_updates) = ends
    assert graph_losses == pytest.approx(fast_losses, rel=1e-5)
    assert _worst_relative_error(graph_updates, fast_updates) < 1e-4


def test_slot_state_is_reused_and_the_optimizer_reset_in_place(res: Resident) -> None:
    cfg = TrainConfig(**GRAPHS)
    first = make_step(res, cfg)
    first(_sequence(100, seed=1))
    graphs = first.graphs
    state = graphs.opt.state[graphs.params[0]]
    moments = state["exp_avg"]
    assert float(state["step"]) == 1.0 and float(moments.abs().sum()) > 0
    make_step(res, TrainConfig(), reference=True).close()  # another optimizer sets every gradient to None
    res.reset(5, "next-task")
    second = make_step(res, cfg)
    assert second.graphs is graphs and second.opt is graphs.opt
    assert state["exp_avg"] is moments and float(moments.abs().sum()) == 0 and float(state["step"]) == 0.0
    assert all(p.grad is g for p, g in zip(graphs.params, graphs.grads))
    second(_sequence(70, seed=2))
    assert float(state["step"]) == 1.0
    assert make_step(res, TrainConfig(**dict(GRAPHS, weight_decay=0.1))).graphs is not graphs  # a new key: new state


def _fake_failing_cuda(monkeypatch, calls: list) -> object:
    """torch.cuda as a CPU build can fake it: streams, a pool handle, and a capture whose exit raises as
    torch.cuda.graph does for an invalidated capture; the clean-up calls are recorded in `calls`."""
    import tasks_lib.adapting.train_graphs as train_graphs

    class _Stream:
        def wait_stream(self, other: object) -> None:
            pass

    ambient = _Stream()

    class _Graph:
        def capture_end(self) -> None:
            calls.append("capture_end")
            raise RuntimeError("capture invalidated")

    class _Capture:
        def __init__(self, graph: object, pool: object = None) -> None:
            calls.append(("capture", pool))

        def __enter__(self) -> None:
            pass

        def __exit__(self, *exc: object) -> None:
            raise RuntimeError("CUDA error: operation failed due to a previous error during capture")

    monkeypatch.setattr(torch.cuda, "Stream", _Stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda: ambient)
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "graph_pool_handle", lambda: (0, 7))
    monkeypatch.setattr(torch.cuda, "CUDAGraph", _Graph)
    monkeypatch.setattr(torch.cuda, "graph", _Capture)
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch._C, "_cuda_endAllocateToPool", lambda device, pool: calls.append(("end_pool", device, pool)), raising=False)
    monkeypatch.setattr(torch.cuda, "set_stream", lambda s: calls.append(("set_stream", s is ambient)))
    monkeypatch.setattr(train_graphs, "release_cuda_generator", lambda device: calls.append("release_generator"))
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: calls.append("synchronize"))
    return ambient


def test_failed_capture_is_cleaned_up_and_the_slot_runs_eagerly(model_cfg: ModelConfig, monkeypatch, caplog) -> None:
    """A capture that fails after its warm-up steps leaves the weights as one eager step would; the capture is
    ended, the pool routing stopped, the thread's stream given back, the CUDA generator released, the device
    synced (in that order); the slot then never captures again, not even for a new graph state."""
    enc = _sequence(120, seed=7)
    ends = []
    calls: list = []
    for capturable in (False, True):
        res = load_base(model_cfg, "cpu")
        _live_adapter(res, seed=4)
        step = make_step(res, TrainConfig(**GRAPHS))
        if capturable:
            _fake_failing_cuda(monkeypatch, calls)
            step.graphs.capturable = True
        loss = float(step(enc))
        ends.append((loss, _adapter(res), step.graphs, res))
    (want_loss, want, _, _), (loss, got, graphs, res) = ends
    assert "operation failed" in graphs.failed and not graphs.graphs
    assert "CUDA graph capture" in caplog.text and "eagerly" in caplog.text
    assert loss == pytest.approx(want_loss, rel=1e-6)
    assert all(torch.allclose(a, b, rtol=1e-6, atol=1e-8) for a, b in zip(got, want))
    assert calls == [("capture", (0, 7)), "capture_end", ("end_pool", 0, (0, 7)), ("set_stream", True), "release_generator", "synchronize"]
    assert res.slot_state.capture_failed == graphs.failed
    float(step(_sequence(200, seed=8)))  # another bucket: no capture attempted
    later = make_step(res, TrainConfig(**dict(GRAPHS, weight_decay=0.1)))  # a new graph state in the same slot
    assert later.graphs is not graphs and later.graphs.failed == graphs.failed
    later.graphs.capturable = True
    float(later(enc))
    assert sum(1 for c in calls if isinstance(c, tuple) and c[0] == "capture") == 1


def test_failure_text_names_the_first_cause() -> None:
    """torch.cuda.graph's exit (capture_end) replaces the error that invalidated the capture: report both."""
    try:
        try:
            raise RuntimeError("stale AccumulateGrad stream")
        except RuntimeError:
            raise RuntimeError("operation failed due to a previous error during capture")  # noqa: B904 (as torch chains it)
    except RuntimeError as err:
        text = _failure(err)
    assert text.startswith("RuntimeError: operation failed") and "first: RuntimeError: stale AccumulateGrad stream" in text


def test_graph_state_that_cannot_be_built_falls_back_to_the_fast_step(model_cfg: ModelConfig, monkeypatch, caplog) -> None:
    res = load_base(model_cfg, "cpu")

    def _broken(*args: object, **kwargs: object) -> None:
        raise TypeError("capturable fused AdamW not supported")

    monkeypatch.setattr(StepGraphs, "__init__", _broken)
    step = make_step(res, TrainConfig(**GRAPHS))
    assert step.graphs is None and step.kind == "fast" and "not supported" in res.slot_state.step_graphs_error
    assert "unavailable" in caplog.text
    float(step(_sequence(80, seed=9)))


def test_train_adapter_with_graphs_on_cpu(res: Resident, small_tasks: list[Task]) -> None:
    res.reset(0)
    stats = train_adapter(res, small_tasks[0], TrainConfig(max_steps=4, **GRAPHS), 512, 1e12)
    assert stats.step_kind == "fast" and stats.graphs and stats.steps == 4 and stats.captures == 0
    assert stats.last_loss < stats.first_loss


def test_graph_config_defaults_and_validation(res: Resident) -> None:
    assert TrainConfig().cuda_graphs == "auto"  # on for CUDA since its checks passed on an H100 (train_step.md, Run 4)
    assert make_step(res, TrainConfig(step="fast", compile="off")).graphs is None
    assert make_step(res, TrainConfig(step="fast", compile="off", cuda_graphs="auto")).graphs is None  # auto: off on the CPU
    assert make_step(res, TrainConfig(step="simple", cuda_graphs="on")).graphs is None  # only the fast step is graphed
    recomputing = make_step(res, TrainConfig(**dict(GRAPHS, checkpoint_min_tokens=128)))
    assert recomputing.capturable_at((1, 64)) and not recomputing.capturable_at((1, 128))  # checkpointing is never captured
    assert not recomputing.capturable_at((2, 64))  # 2 views of 64: 128 positions, as one view of 128
    with pytest.raises(ConfigError, match="cuda_graphs"):
        TrainConfig(cuda_graphs="yes")
    with pytest.raises(ConfigError, match="graph_bucket"):
        TrainConfig(graph_bucket=0)


def test_a_capture_does_not_count_as_the_step_time(res: Resident, small_tasks: list[Task], monkeypatch) -> None:
    """A bucket's first use captures its graph (0.25-2 s on an H100): the slot's one-off cost. The deadline estimate
    must not take it for the step's time and the task keeps its training time, or a task with a short budget stops
    after the capturing step (seen on GPU: 1 step)."""
    import time

    import tasks_lib.adapting.train as train

    class _CapturingStep:
        kind, count = "fast", 0

        def __init__(self, res: Resident, cfg: TrainConfig) -> None:
            self.graphs = type("G", (), {"graphs": {}})()

        def __call__(self, enc: Encoded):
            if not self.graphs.graphs:
                time.sleep(0.4)  # the capture
                self.graphs.graphs[(1, 64)] = object()
            time.sleep(0.002)
            return torch.tensor(1.0)

        def close(self) -> None:
            pass

    monkeypatch.setattr(train, "make_step", _CapturingStep)
    stats = train_adapter(res, small_tasks[0], TrainConfig(max_steps=50, **GRAPHS), 512, time.time() + 0.3)
    assert stats.captures == 1 and stats.steps > 10, stats  # the capture alone outlasts the 0.3 s budget
