"""On a CUDA device only (skipped elsewhere): an arc_grid model's positions survive the two CUDA-graph paths,
the graph train step (positions computed inside the captured step from the padded ids) and the engine's captured
decode step (positions advanced token by token on the device)."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def grid_res(tmp_path_factory):
    from tasks_lib.adapting.model import build_tiny_model, load_base
    from tasks_lib.config import ModelConfig

    path = build_tiny_model(tmp_path_factory.mktemp("grid") / "m", hidden=128, layers=2, heads=4, intermediate=256, positions="grid")
    res = load_base(ModelConfig(path=str(path), dtype="float32", lora_rank=4), "cuda")
    res.reset(0)
    with torch.no_grad():
        for name, p in res.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)
    return res


def test_captured_decode_matches_eager_decode_and_the_full_forward(grid_res) -> None:
    from tasks_lib.decoding.engine import Engine

    rng = random.Random(0)
    prompts = [[1] + [rng.randrange(3, 16) for _ in range(n)] for n in (40, 90)]
    captured, eager = Engine(grid_res.model, graphs="on"), Engine(grid_res.model, graphs="off")
    a = captured.generate(captured.prefill(prompts), n=3, max_new=20, eos=-1, temperature=1.5, seed=3)
    b = eager.generate(eager.prefill(prompts), n=3, max_new=20, eos=-1, temperature=1.5, seed=3)
    assert [[ids for ids, _ in rows] for rows in a] == [[ids for ids, _ in rows] for rows in b]
    greedy = a[1][0][0]
    with torch.inference_mode():
        seq = torch.tensor([prompts[1] + greedy], device="cuda")
        want = grid_res.model(input_ids=seq).logits[0, len(prompts[1]) - 1 : -1].argmax(-1).tolist()
    assert greedy == want
    assert captured.graphs and captured.fallbacks == []


def test_graph_train_step_matches_the_fast_step(grid_res) -> None:
    from tasks_lib.adapting.train_steps import make_step
    from tasks_lib.arc.encoding import IGNORE, Encoded
    from tasks_lib.config import TrainConfig

    rng = random.Random(1)
    ids = [1] + [rng.randrange(3, 16) for _ in range(150)]
    enc = Encoded(ids, [t if (i // 23) % 2 else IGNORE for i, t in enumerate(ids)])
    grid_res.model.train()
    fast = make_step(grid_res, TrainConfig(step="fast", compile="off", cuda_graphs="off"))
    want = float(fast.loss(enc))
    fast.close()
    graphs = make_step(grid_res, TrainConfig(step="fast", compile="off", cuda_graphs="on", graph_bucket=64))
    got = [float(graphs(enc)) for _ in range(2)]
    assert graphs.graphs is not None and graphs.graphs.capture_seconds  # a graph was captured and replayed
    assert got[0] == pytest.approx(want, rel=1e-4)
    graphs.close()
