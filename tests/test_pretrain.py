"""Pretraining: the held-out set stays unseen (by content, not only id), batches respect their token
budget, a checkpoint resumes exactly where it stopped, the written directory (one file or shards) loads as
a base model, two gloo processes train one model with rank 0 alone writing, init_from starts from
an exported model's weights, wsd sessions each end decayed and the next re-warms (from the export alone), and a
state from before schedules were recorded still resumes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tasks_lib.arc.data import load_challenges
from tasks_lib.arc.encoding import IGNORE, Encoded
from tasks_lib.config import ModelConfig
from tasks_lib.pretraining.checkpoint import COMPACT_STATE, export_model, load_checkpoint, shard_weights
from tasks_lib.pretraining.config import PretrainConfig, PretrainError, config_from_dict
from tasks_lib.pretraining.pretrain import _optimizer, parameter_count, pretrain, stream_seed
from tasks_lib.pretraining.pretrain_data import collate, length_batches, task_pairs, training_tasks

torch = pytest.importorskip("torch")

TINY = dict(hidden=64, layers=2, heads=2, intermediate=128, max_tokens=256, batch_tokens=512, bucket=8, log_every=1)


def _write(path: Path, tasks: dict) -> str:
    path.write_text(json.dumps(tasks))
    return str(path)


def _task(seed: int, size: int = 4) -> dict:
    rng = random.Random(seed)

    def grid() -> list[list[int]]:
        return [[rng.randrange(10) for _ in range(size)] for _ in range(size)]

    return {"train": [{"input": grid(), "output": grid()} for _ in range(2)], "test": [{"input": grid(), "output": grid()}]}


def test_exclusion_matches_content_not_ids(tmp_path: Path) -> None:
    held = _task(1)
    renamed = json.loads(json.dumps(held))
    renamed["train"] = renamed["train"][:1]  # an edited copy under another id: shares one pair
    tiny_overlap = _task(2)
    tiny_overlap["train"][0]["input"] = [[0, 0], [0, 0]]  # a 2x2 grid recurs by chance: not a reason to drop
    held["train"].append({"input": [[0, 0], [0, 0]], "output": [[1]]})
    holdout = _write(tmp_path / "held.json", {"h1": held})
    source = _write(tmp_path / "src.json", {"renamed": renamed, "same-id": _task(3), "kept": tiny_overlap, "dup": tiny_overlap})
    (tmp_path / "held2.json").write_text(json.dumps({"same-id": _task(4)}))

    tasks, report = training_tasks([source], [holdout, str(tmp_path / "held2.json")], min_shared_cells=9)

    assert [t.id for t in tasks] == ["kept"]
    assert sorted(report.excluded[source]) == ["renamed", "same-id"]
    assert report.duplicates == 1
    assert tasks[0].test_inputs == () and len(tasks[0].train) == 3  # the test pair became a train pair


def test_arc1_eval_is_held_out_of_the_real_pretraining_data(arc1_eval: list) -> None:
    tasks, report = training_tasks(["arc1/train", "arc2/train"], ["arc1/eval"])
    held = arc1_eval
    held_pairs = {p for t in held for p in task_pairs(t)}
    held_ids = {t.id for t in held}

    assert not any(held_pairs.intersection(t.train) for t in tasks)
    assert not held_ids.intersection(t.id for t in tasks)
    # ARC-AGI-2 training re-uses hundreds of ARC-AGI-1 evaluation tasks: all of them must be gone
    arc2_reused = [t.id for t in load_challenges("arc2/train").tasks if t.id in held_ids]
    assert len(arc2_reused) > 100 and set(arc2_reused) <= set(report.excluded["arc2/train"])
    assert report.kept == len(tasks) == sum(report.per_source.values())


def test_length_batches_stay_within_budget_and_keep_every_example() -> None:
    rng = random.Random(0)
    examples = [Encoded([1] * n, [IGNORE] * n) for n in (rng.randrange(10, 500) for _ in range(60))]
    batches = length_batches(examples, 1000, rng)
    assert sorted(len(e.ids) for b in batches for e in b) == sorted(len(e.ids) for e in examples)
    assert all(len(b) * max(len(e.ids) for e in b) <= 1000 for b in batches)
    ids, labels = collate(batches[0], pad=0)
    width = max(len(e.ids) for e in batches[0])
    assert ids.shape == labels.shape == (len(batches[0]), width)
    assert bool((labels[ids == 0] == IGNORE).all())  # padding never carries a label


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="heads"):
        PretrainConfig(out="x", hidden=64, heads=4)
    with pytest.raises(ValueError, match="batch_tokens"):
        PretrainConfig(out="x", max_tokens=4096, batch_tokens=1024)
    with pytest.raises(ValueError, match="unknown field"):
        config_from_dict({"out": "x", "hiden": 3})


def test_pretrain_resumes_from_its_checkpoint_and_writes_a_loadable_model(tmp_path: Path) -> None:
    from tasks_lib.adapting.model import load_base

    source = _write(tmp_path / "src.json", {f"t{i}": _task(i, size=3 + i % 3) for i in range(6)})
    out = tmp_path / "model"
    first = pretrain(config_from_dict({"out": str(out), "sources": [source], "holdout": [], "max_steps": 2, "max_seconds": 0, **TINY}), "first", log=lambda _: None)
    assert (first.steps, first.done) == (2, True)
    saved = json.loads((out / "checkpoint" / "state.json").read_text())

    # the checkpoint restores weights and AdamW moments exactly
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out / "checkpoint", dtype=torch.float32)
    opt = _optimizer(model, PretrainConfig(out=str(out), **TINY))
    state = load_checkpoint(out / "checkpoint", model, opt)
    assert state["step"] == saved["step"] == 2
    steps = [float(s["step"]) for s in opt.state.values()]
    assert steps and set(steps) == {2.0}
    assert all(float(s["exp_avg_sq"].abs().sum()) > 0 for s in opt.state.values())

    second = pretrain(config_from_dict({"out": str(out), "sources": [source], "holdout": [], "max_steps": 3, "max_seconds": 0, **TINY}), "second", log=lambda _: None)
    assert (second.steps, second.done) == (3, True)
    assert second.tokens > first.tokens
    card = (out / "README.md").read_text()
    assert "`first`" in card and "`second`" in card and "Steps: 3" in card
    rows = (out / "loss.csv").read_text().splitlines()
    assert rows[0].startswith("step,tokens,loss") and len(rows) == 4

    res = load_base(ModelConfig(path=str(out), dtype="float32", lora_rank=4, max_tokens=256), "cpu")
    assert res.model.get_base_model().config.use_cache  # exported for generation


def _sources(tmp_path: Path) -> str:
    return _write(tmp_path / "src.json", {f"t{i}": _task(i, size=3 + i % 3) for i in range(6)})


def _weights(directory: Path) -> dict:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True, use_safetensors=True, dtype=torch.float32)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_sharded_export_loads_and_replaces_a_one_file_export(tmp_path: Path, tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM

    from tasks_lib.adapting.model import load_base

    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    out = tmp_path / "export"
    export_model(out, model, "bfloat16")  # small: one file, as before
    assert (out / "model.safetensors").exists() and not (out / "model.safetensors.index.json").exists()
    export_model(out, model, "bfloat16", shard_mib=0.05)
    shards = sorted(p.name for p in out.glob("*.safetensors"))
    assert len(shards) > 2 and "model.safetensors" not in shards  # the stale one-file export is gone
    assert all((out / n).stat().st_size <= 0.05 * 2**20 + 4096 for n in shards)  # + safetensors header
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(model.state_dict()) and set(index["weight_map"].values()) == set(shards)
    loaded = _weights(out)
    assert all(torch.equal(loaded[k], v.to(torch.bfloat16).float()) for k, v in model.state_dict().items())
    res = load_base(ModelConfig(path=str(out), dtype="float32", lora_rank=4, max_tokens=256), "cpu")
    assert res.model.get_base_model().config.hidden_size == 64
    assert [len(s) for s in shard_weights({"a": torch.zeros(4), "b": torch.zeros(4), "c": torch.zeros(40)}, 32)] == [2, 1]


def test_two_gloo_processes_train_one_model_and_rank_0_alone_writes(tmp_path: Path) -> None:
    from tasks_lib.adapting.model import load_base

    out = tmp_path / "model"
    cfg = config_from_dict({"out": str(out), "sources": [_sources(tmp_path)], "holdout": [], "max_steps": 3, "max_seconds": 0,
                            "device": "cpu", "world_size": 2, "shard_mib": 0.1, **TINY})
    result = pretrain(cfg, "two-procs", log=lambda _: None)

    assert (result.steps, result.done) == (3, True)
    rows = (out / "loss.csv").read_text().splitlines()
    assert len(rows) == 4  # one writer: a row per step, not per step and rank
    losses = [float(r.split(",")[2]) for r in rows[1:]]
    assert all(0 < v < 10 for v in losses)
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["sessions"][-1]["processes"] == 2 and state["tokens"] == result.tokens > 0
    card = (out / "README.md").read_text()
    assert "`two-procs`" in card and "2 process(es)" in card and "summed over processes" in card
    assert (out / "model.safetensors.index.json").exists() and not (out / "model.safetensors").exists()
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(("model-", "optimizer-"))) == sorted(
        ["README.md", "checkpoint", "config.json", "loss.csv", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
         COMPACT_STATE] + (["loss.png"] if (out / "loss.png").exists() else []))
    res = load_base(ModelConfig(path=str(out), dtype="float32", lora_rank=4, max_tokens=256), "cpu")
    assert res.model.get_base_model().config.use_cache


def test_init_from_starts_from_an_exported_model(tmp_path: Path) -> None:
    source = _sources(tmp_path)
    first = tmp_path / "first"
    pretrain(config_from_dict({"out": str(first), "sources": [source], "holdout": [], "max_steps": 2, "max_seconds": 0,
                               "shard_mib": 0.1, **TINY}), "first", log=lambda _: None)
    second = tmp_path / "second"
    cfg = {"out": str(second), "sources": [source], "holdout": [], "max_steps": 1, "max_seconds": 0, "seed": 7, "init_from": str(first), **TINY}
    result = pretrain(config_from_dict({**cfg, "lr": 1e-9}), "second", log=lambda _: None)

    assert result.steps == 1  # a fresh schedule, not the first run's step count
    start, after = _weights(first), _weights(second)
    assert all(torch.allclose(start[k], after[k], atol=1e-2) for k in start)
    from tasks_lib.adapting.model import build_tiny_model

    scratch = _weights(build_tiny_model(tmp_path / "scratch", 64, 2, 2, 128, 256, seed=7))  # what seed 7 alone would start from
    assert not all(torch.allclose(start[k], v, atol=1e-2) for k, v in scratch.items())
    assert f"from the weights of `{first}`" in (second / "README.md").read_text()
    with pytest.raises(PretrainError, match="shape"):
        pretrain(config_from_dict({**cfg, "out": str(tmp_path / "third"), "hidden": 96, "heads": 3}), "third", log=lambda _: None)


def test_ranks_draw_their_own_views_and_counts_match_the_model() -> None:
    cfg = PretrainConfig(out="x", **TINY)
    assert stream_seed(cfg, 5, 0, 1) == "0:5"  # one process: the seed a single-process run always had
    assert len({stream_seed(cfg, 5, r, 3) for r in range(3)}) == 3
    from tasks_lib.adapting.model import tiny_config
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(tiny_config(64, 2, 2, 128, 256))
    assert parameter_count(cfg) == sum(p.numel() for p in model.parameters())


def test_wall_seconds_stops_the_call_with_a_usable_export(tmp_path: Path) -> None:
    from tasks_lib.adapting.model import load_base

    out = tmp_path / "model"
    result = pretrain(config_from_dict({"out": str(out), "sources": [_sources(tmp_path)], "holdout": [], "max_steps": 1000, "max_seconds": 0,
                                        "wall_seconds": 0.5, **TINY}), "walled", log=lambda _: None)
    assert not result.done and result.steps < 1000  # the reserve for the last save stops it at once
    assert "Finished: no" in (out / "README.md").read_text()
    assert json.loads((out / "checkpoint" / "state.json").read_text())["sessions"][-1]["decayed"] is False  # cut before its decay
    load_base(ModelConfig(path=str(out), dtype="float32", lora_rank=4, max_tokens=256), "cpu")


def test_a_run_resumes_from_the_export_and_its_compact_optimizer_state_alone(tmp_path: Path) -> None:
    """The full checkpoint stays behind (another machine); the exported directory carries the run on: same step
    count and schedule, moments close to the full-precision ones, shards within the transfer size."""
    import shutil

    from transformers import AutoModelForCausalLM

    from tasks_lib.pretraining.checkpoint import load_compact

    out = tmp_path / "model"
    cfg = {"out": str(out), "sources": [_sources(tmp_path)], "holdout": [], "max_steps": 4, "max_seconds": 0, "positions": "grid",
           "shard_mib": 0.05, "export_dtype": "float32", **TINY}
    first = pretrain(config_from_dict({**cfg, "session_seconds": 1e-9}), "first", log=lambda _: None)
    assert first.steps == 1 and not first.done
    full = AutoModelForCausalLM.from_pretrained(out / "checkpoint", dtype=torch.float32)
    want = _optimizer(full, PretrainConfig(**{**cfg, "sources": tuple(cfg["sources"]), "holdout": ()}))
    load_checkpoint(out / "checkpoint", full, want)
    got = _optimizer(full, PretrainConfig(**{**cfg, "sources": tuple(cfg["sources"]), "holdout": ()}))
    state = load_compact(out, full, got)
    assert state["step"] == 1
    for p in full.parameters():
        a, b = want.state[p], got.state[p]
        assert float(a["step"]) == float(b["step"])
        assert float((a["exp_avg"] - b["exp_avg"]).norm()) <= 0.02 * float(a["exp_avg"].norm()) + 1e-12
        nonzero = a["exp_avg_sq"] > 1e-20
        ratio = (b["exp_avg_sq"][nonzero] / a["exp_avg_sq"][nonzero]).sqrt()
        assert float((ratio - 1).abs().max()) < 0.1  # sqrt(v) within 10%: the uint8 log code's resolution
    assert all(p.stat().st_size <= 0.05 * 2**20 + 4096 for p in out.glob("optimizer-*.safetensors"))
    shutil.rmtree(out / "checkpoint")
    second = pretrain(config_from_dict(cfg), "second", log=lambda _: None)
    assert (second.steps, second.done) == (4, True)
    assert "`first`" in (out / "README.md").read_text() and "arc_grid" in (out / "README.md").read_text()
    with pytest.raises(PretrainError, match="shape"):  # the positions are part of the shape
        shutil.rmtree(out / "checkpoint")
        pretrain(config_from_dict({**cfg, "positions": "1d", "max_steps": 5}), "third", log=lambda _: None)


def test_wsd_sessions_each_end_decayed_and_the_next_rewarms_from_the_export_alone(tmp_path: Path) -> None:
    """Two wsd sessions capped by steps (deterministic): the first ends decayed; the second resumes from the exported
    directory alone (compact state), warms up from the lr the first ended at, holds the peak and decays again."""
    import shutil

    out = tmp_path / "model"
    cfg = {"out": str(out), "sources": [_sources(tmp_path)], "holdout": [], "schedule": "wsd", "max_seconds": 0, "warmup_steps": 2,
           "decay_fraction": 0.5, "session_seconds": 600.0, "shard_mib": 0.1, **TINY}
    first = pretrain(config_from_dict({**cfg, "max_steps": 4}), "first", log=lambda _: None)
    assert (first.steps, first.done) == (4, True)
    (out / "README.md").write_text((out / "README.md").read_text() + "\n## What it solves\nnotes by hand\n")
    shutil.rmtree(out / "checkpoint")  # another machine: the export and its compact state travel alone
    second = pretrain(config_from_dict({**cfg, "max_steps": 10}), "second", log=lambda _: None)
    assert second.steps == 10

    state = json.loads((out / COMPACT_STATE).read_text())
    lrs = [r["lr"] / 1e-3 for r in state["loss"]]  # one row per step (log_every 1), as factors of the peak (rows round to 1e-8)
    assert lrs[:4] == pytest.approx([0.5, 1, 1, 0.1 + 0.9 * (1 - 0.5**0.5)], abs=1e-5)  # warm-up, stable, decay (last half)
    later = lrs[4:]
    assert later[0] == pytest.approx(lrs[3] + (1 - lrs[3]) / 2, abs=1e-5)  # warm-up from where the first session ended
    assert later[1:4] == pytest.approx([1, 1, 1], abs=1e-5)  # stable: the last half of its 6 steps decays
    assert later[3] > later[4] > later[5] > 0.1  # decay
    assert [s["decayed"] for s in state["sessions"]] == [True, True] and [s["schedule"] for s in state["sessions"]] == ["wsd", "wsd"]
    assert state["sessions"][1]["lr_end"] == pytest.approx(later[-1] * 1e-3, abs=1e-8)
    assert state["gpu_seconds"] == pytest.approx(state["train_seconds"]) == pytest.approx(sum(s["seconds"] for s in state["sessions"]))
    card = (out / "README.md").read_text()
    assert "warm-up, stable, decay (wsd)" in card and "process-hours" in card and card.count("wsd, ended decayed") == 2
    assert card.rstrip().endswith("## What it solves\nnotes by hand")  # the hand-written section stays, once
    assert [int(r.split(",")[0]) for r in (out / "loss.csv").read_text().splitlines()[1:]] == list(range(1, 11))  # both sessions


def test_a_state_from_before_schedules_resumes_as_cosine_or_rewarms_into_wsd(tmp_path: Path) -> None:
    """trainer_state.json without the schedule keys (the shipped model's): `auto` resumes its cosine unchanged,
    `wsd` warms up from the lr the cosine reached; the sessions and GPU-seconds are filled in."""
    import shutil

    from tasks_lib.pretraining.checkpoint import upgrade_state

    out = tmp_path / "model"
    cfg = {"out": str(out), "sources": [_sources(tmp_path)], "holdout": [], "max_seconds": 0, "warmup_steps": 1, "shard_mib": 0.1, **TINY}
    pretrain(config_from_dict({**cfg, "schedule": "cosine", "max_steps": 2}), "old", log=lambda _: None)
    shutil.rmtree(out / "checkpoint")
    old = json.loads((out / COMPACT_STATE).read_text())
    del old["gpu_seconds"], old["config"]["schedule"], old["config"]["decay_fraction"]
    for s in old["sessions"]:
        del s["schedule"], s["decayed"], s["lr_end"]
    old["sessions"] = [{**old["sessions"][0], "processes": 2}, {**old["sessions"][0], "steps": 0}]  # two old sessions
    (out / COMPACT_STATE).write_text(json.dumps(old))
    upgraded = upgrade_state({k: v for k, v in old.items() if k not in ("param_groups", "optimizer_files")})
    assert [(s["schedule"], s["decayed"]) for s in upgraded["sessions"]] == [("cosine", None), ("cosine", True)]  # done: the cosine ended
    assert upgraded["gpu_seconds"] == pytest.approx(3 * old["sessions"][0]["seconds"])
    ended = old["param_groups"][0]["lr"]  # the cosine's last step, halfway down (0.55e-3)

    keep = tmp_path / "copy"
    shutil.copytree(out, keep)
    cosine = pretrain(config_from_dict({**cfg, "max_steps": 3}), "auto", log=lambda _: None)  # schedule auto
    state = json.loads((out / COMPACT_STATE).read_text())
    assert cosine.steps == 3 and state["config"]["schedule"] == "cosine" and state["sessions"][-1]["schedule"] == "cosine"

    shutil.rmtree(out)
    keep.rename(out)
    pretrain(config_from_dict({**cfg, "schedule": "wsd", "warmup_steps": 2, "max_steps": 6}), "wsd", log=lambda _: None)
    rows = json.loads((out / COMPACT_STATE).read_text())["loss"][2:]
    assert ended == pytest.approx(0.55e-3) and rows[0]["lr"] == pytest.approx(ended + (1e-3 - ended) / 2, abs=1e-8)  # no jump from the cosine's end to the peak
    assert max(r["lr"] for r in rows) == pytest.approx(1e-3, abs=1e-8)


def test_heldout_loss_is_measured_at_every_checkpoint_and_kept_across_sessions(tmp_path: Path) -> None:
    """With `heldout_views`, each save first measures the held-out sets (here a challenges file standing for an
    evaluation set): rows with the step and compute so far, kept through a resume from the export alone, on the card."""
    import shutil

    out = tmp_path / "model"
    held = _write(tmp_path / "held.json", {f"h{i}": _task(100 + i) for i in range(3)})
    cfg = {"out": str(out), "sources": [_sources(tmp_path)], "holdout": [held], "max_seconds": 0, "session_seconds": 600.0,
           "shard_mib": 0.1, "heldout_views": 2, **TINY}
    pretrain(config_from_dict({**cfg, "max_steps": 3}), "first", log=lambda _: None)
    shutil.rmtree(out / "checkpoint")
    pretrain(config_from_dict({**cfg, "max_steps": 5}), "second", log=lambda _: None)
    rows = json.loads((out / COMPACT_STATE).read_text())["heldout"]
    assert [(r["step"], r["set"]) for r in rows] == [(3, held), (5, held)], "one row per save and set, both sessions"
    assert all(r["tokens"] > 0 and 0 < r["loss"] < 10 and r["gpu_seconds"] >= 0 for r in rows)
    assert rows[1]["gpu_seconds"] >= rows[0]["gpu_seconds"]
    assert f"{held} {rows[1]['loss']:.4f} at step 5" in (out / "README.md").read_text()
