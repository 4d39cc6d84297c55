"""The decoding engine, LoRA merging and the sampler backends on tiny CPU models, against full recomputation."""

from __future__ import annotations

import math
import os

import pytest
import torch

from tasks_lib.adapting.merge import MergeError, merged
from tasks_lib.adapting.model import load_base
from tasks_lib.arc.data import Pair, Task
from tasks_lib.config import ModelConfig, SampleConfig
from tasks_lib.decoding.compiled import COMPILES
from tasks_lib.decoding.engine import Engine
from tasks_lib.decoding.sample import backend, engine_for, sample_task


def _lora_nonzero(model: torch.nn.Module, seed: int) -> None:
    """Give every LoRA B a non-zero value so the adapter changes the output (fresh adapters are zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


@pytest.fixture(scope="module")
def res():
    """The embedded tiny model with a non-trivial adapter."""
    torch.manual_seed(0)
    r = load_base(ModelConfig(dtype="float32"), "cpu")
    _lora_nonzero(r.model, 1)
    return r


@pytest.fixture(scope="module")
def gqa_model():
    """A two-layer Llama with grouped-query attention (4 heads share 2 K/V heads), LoRA-wrapped."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=16, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=512)
    model = get_peft_model(LlamaForCausalLM(cfg), LoraConfig(r=4, target_modules="all-linear")).eval()
    _lora_nonzero(model, 2)
    return model


@pytest.fixture(scope="module")
def grid_res(tmp_path_factory):
    """A tiny arc_grid model (rotary positions over grid, line, column) with a non-trivial adapter."""
    from tasks_lib.adapting.model import build_tiny_model

    path = build_tiny_model(tmp_path_factory.mktemp("grid") / "m", hidden=64, layers=2, heads=2, intermediate=128, positions="grid")
    torch.manual_seed(0)
    r = load_base(ModelConfig(path=str(path), dtype="float32", lora_rank=4), "cpu")
    _lora_nonzero(r.model, 3)
    return r


def _model(which: str, res, gqa_model, grid_res):
    return {"tiny": res.model, "gqa": gqa_model, "grid": grid_res.model}[which]


def _full_logprobs(model: torch.nn.Module, seq: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        return torch.log_softmax(model(input_ids=torch.tensor([seq])).logits[0, -1].float(), -1)  # (V,)


def _prompts(lengths: tuple[int, ...], seed: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(3, 16, (n,), generator=g).tolist() for n in lengths]


@pytest.mark.parametrize("which", ["tiny", "gqa", "grid"])
def test_cached_greedy_matches_step_by_step_recomputation(which: str, res, gqa_model, grid_res) -> None:
    """Prompts are random ids over the whole vocabulary, markers and newlines included, so a grid model's
    positions change axis as the completion goes (its full forward computes them from the ids)."""
    model = _model(which, res, gqa_model, grid_res)
    eng = Engine(model)
    prompts = _prompts((23, 40), seed=3)
    prefix = eng.prefill(prompts)
    outs = eng.generate(prefix, n=2, max_new=8, eos=-1, greedy_first=True, seed=5)
    for prompt, rows in zip(prompts, outs):
        seq, total = list(prompt), 0.0
        for _ in range(8):
            lp = _full_logprobs(model, seq)
            tok = int(lp.argmax())
            total += float(lp[tok])
            seq.append(tok)
        ids, logprob = rows[0]
        assert ids == seq[len(prompt):]
        assert logprob == pytest.approx(total, abs=1e-3)
        ids, logprob = rows[1]  # a sampled row: its reported log-probability is the model's
        ref = sum(float(_full_logprobs(model, prompt + ids[:k])[t]) for k, t in enumerate(ids))
        assert logprob == pytest.approx(ref, abs=1e-3)


@pytest.mark.parametrize("which", ["tiny", "grid"])
def test_generation_stops_at_eos_and_score_matches_full_forward(which: str, res, gqa_model, grid_res) -> None:
    eng = Engine(_model(which, res, gqa_model, grid_res))
    prompt = _prompts((30,), seed=7)[0]
    prefix = eng.prefill([prompt])
    eos = int(prefix.logprobs[0].argsort()[-2])  # the second most likely first token: some rows stop at once
    rows = eng.generate(prefix, n=8, max_new=10, eos=eos, temperature=2.0, seed=1)[0]
    assert all(len(ids) <= 10 and (eos not in ids or ids.index(eos) == len(ids) - 1) for ids, _ in rows)
    assert any(ids[-1] == eos for ids, _ in rows)
    comps = [ids for ids, _ in rows]
    scored = eng.score(prefix, 0, comps)
    for (ids, logprob), s in zip(rows, scored):
        assert s == pytest.approx(logprob, abs=1e-3)


@pytest.mark.parametrize("which", ["tiny", "grid"])
def test_engine_dfs_matches_brute_force_on_the_tiny_model(which: str, res, gqa_model, grid_res) -> None:
    model = _model(which, res, gqa_model, grid_res)
    eng = Engine(model)
    prompt = _prompts((20,), seed=11)[0]
    prefix = eng.prefill([prompt])
    eos = int(prefix.logprobs[0].argmax())
    found, _ = eng.dfs(prefix, 0, eos, threshold=0.01, max_len=2, max_candidates=100)
    first = _full_logprobs(model, prompt)
    want = {(eos,): float(first[eos])}
    for t in range(16):
        if t != eos:
            lp = float(first[t]) + float(_full_logprobs(model, prompt + [t])[eos])
            if lp >= math.log(0.01):
                want[(t, eos)] = lp
    assert {tuple(ids): lp for ids, lp in found} == pytest.approx(want, abs=1e-4)


def test_merge_then_restore_is_exact(res) -> None:
    before = {n: p.detach().clone() for n, p in res.model.named_parameters()}
    x = torch.tensor([[1, 3, 4, 5, 13, 14]])
    with torch.inference_mode():
        unmerged_out = res.model(input_ids=x).logits
        with merged(res.model, "device"):
            changed = [n for n, p in res.model.named_parameters() if not torch.equal(before[n], p)]
            merged_out = res.model(input_ids=x).logits
            with pytest.raises(MergeError):
                with merged(res.model):
                    pass
    assert changed, "merging must change the base weights"
    assert torch.allclose(merged_out, unmerged_out, atol=1e-5)
    assert all(torch.equal(before[n], p) for n, p in res.model.named_parameters())


def _task() -> Task:
    a, b = ((1, 2), (3, 4)), ((4, 3), (2, 1))
    return Task("t", (Pair(a, b), Pair(b, a)), (((5, 6), (7, 8)), ((1, 1), (2, 2))))


def test_hf_and_cached_backends_agree_on_the_greedy_completion(res) -> None:
    prompt = _prompts((25,), seed=13)[0]
    cfg = SampleConfig(samples_per_view=1)
    ccfg = SampleConfig(backend="cached", samples_per_view=1)
    hf = backend("hf")(res, [prompt], cfg, 9, math.inf, None)[0][0]
    cached = backend("cached")(res, [prompt], ccfg, 9, math.inf, None)[0][0]
    eng = engine_for(res, ccfg)
    raw_ids, raw_lp = eng.generate(eng.prefill([prompt]), 1, 9, res.vocab.eos)[0][0]
    assert raw_ids == hf[0] and hf[2] and cached[2]
    assert hf[1] == pytest.approx(cached[1], abs=1e-3) and raw_lp == pytest.approx(cached[1])
    # the cached backend hands back a row cut off at max_new as empty (malformed), never as a truncated grid
    assert cached[0] == (hf[0] if hf[0][-1:] == [res.vocab.eos] else [])


class _Ticks:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        self.now += 1.0
        return self.now


def test_a_batch_cut_by_the_deadline_keeps_the_rows_that_ended(res, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine reads the clock every 8 steps: with a deadline of 2.5 ticks the third read (after 24 steps) cuts the
    batch. Rows that reached eos by then come back whole (the same ids and log-probability as uncut); the others empty."""
    import tasks_lib.decoding.engine as engine_mod

    cfg = SampleConfig(backend="cached", samples_per_view=8, temperature=4.0, seed=5)
    prompts, eos = _prompts((25, 31), seed=21), res.vocab.eos
    eng = engine_for(res, cfg)
    full = eng.generate(eng.prefill(prompts), 8, 64, eos, cfg.temperature, greedy_first=True, seed=cfg.seed)
    monkeypatch.setattr(engine_mod, "time", _Ticks())
    cut = backend("cached")(res, prompts, cfg, 64, 2.5, None)
    kept = dropped = 0
    for view_full, view_cut in zip(full, cut, strict=True):
        for (ids, lp), (got, got_lp, _) in zip(view_full, view_cut, strict=True):
            if ids[-1:] == [eos] and len(ids) <= 24:
                assert got == ids and got_lp == pytest.approx(lp)
                kept += 1
            else:
                assert got == []
                dropped += 1
    assert kept and dropped, (kept, dropped)


def test_a_late_first_group_decodes_until_one_row_ends(res, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deadline already passed: the engine alone cuts the batch at its first clock read (8 steps, rows longer than
    that come back empty); the cached backend's first group runs on until a row has ended, so the test input gets an
    answer of its own. The rows it keeps are those of the uncut run."""
    import tasks_lib.decoding.engine as engine_mod

    cfg = SampleConfig(backend="cached", samples_per_view=4, temperature=1.0, seed=7)
    prompts, eos = _prompts((25, 31), seed=23), res.vocab.eos
    eng = engine_for(res, cfg)
    full = eng.generate(eng.prefill(prompts), 4, 64, eos, cfg.temperature, greedy_first=True, seed=cfg.seed)
    ends = sorted(len(ids) for view in full for ids, _ in view if ids[-1:] == [eos])
    assert ends[0] > 8 and ends[-1] > 16, f"the check needs no row ending by the first clock read, and some after 16: {ends}"
    monkeypatch.setattr(engine_mod, "time", _Ticks())
    cut = eng.generate(eng.prefill(prompts), 4, 64, eos, cfg.temperature, greedy_first=True, deadline=0.5, seed=cfg.seed)
    assert all(ids[-1:] != [eos] for view in cut for ids, _ in view), "min_ended=0: the deadline cuts at once"
    late = backend("cached")(res, prompts, cfg, 64, 0.5, None)
    ended = [(v, k) for v, view in enumerate(late) for k, (ids, _, _) in enumerate(view) if ids]
    assert ended, "the first group keeps decoding until a row ends"
    for v, k in ended:
        assert late[v][k][0] == full[v][k][0]
    assert len(ended) < len(ends), "rows that had not ended when the first one did are still cut"


def test_the_plain_engine_also_ends_a_row_before_the_deadline_cuts(gqa_model, monkeypatch: pytest.MonkeyPatch) -> None:
    """PlainEngine (families the fused engine does not run): past the deadline, `min_ended=1` decodes the first prompt
    until one of its rows reaches eos, and starts no further prompt; `min_ended=0` stops after the first token."""
    import tasks_lib.decoding.plain_engine as plain_mod
    from tasks_lib.decoding.plain_engine import PlainEngine

    eng, eos = PlainEngine(gqa_model), 8
    prefix = eng.prefill([[1, 5, 6, 7], [1, 8, 9]])
    full = eng.generate(prefix, 4, 40, eos, temperature=1.0, seed=3)
    first_end = min(len(ids) for ids, _ in full[0] if ids[-1:] == [eos])
    assert first_end > 1, "the check needs the first prompt's rows to end after the first token"
    monkeypatch.setattr(plain_mod, "time", _Ticks())
    cut = eng.generate(prefix, 4, 40, eos, temperature=1.0, deadline=0.5, seed=3)
    assert len(cut) == 1 and all(len(ids) == 1 for ids, _ in cut[0])
    late = eng.generate(prefix, 4, 40, eos, temperature=1.0, deadline=0.5, seed=3, min_ended=1)
    assert len(late) == 1 and any(ids[-1:] == [eos] for ids, _ in late[0])
    assert max(len(ids) for ids, _ in late[0]) == first_end


def test_sample_stats_count_the_tokens_decoded_and_a_deadline_passed_in_a_batch(res, monkeypatch: pytest.MonkeyPatch) -> None:
    """tokens_decoded per test input: the longest completion when every row ended, max_new when one did not."""
    from tasks_lib.arc.encoding import output_budget
    from tasks_lib.decoding import sample as sample_mod

    eos = res.vocab.eos
    ended = [*res.vocab.grid_ids(((1, 2), (3, 4))), eos]
    per_test = [[[(ended, -1.0, True)], [(ended[:3] + [eos], -2.0, True)]],  # both rows ended: the longest counts
                [[(ended, -1.0, True)], [([], -9.0, True)]]]  # one row cut (the cached backend's empty row): max_new counts
    calls: list[int] = []

    def fake(res, prompts, cfg, max_new, deadline, adapter_dir):
        calls.append(max_new)
        return per_test[len(calls) - 1]

    monkeypatch.setitem(sample_mod._BACKENDS, "hf", lambda: fake)
    cfg = SampleConfig(views=2, samples_per_view=1)
    _, stats = sample_task(res, _task(), cfg, 512, math.inf)
    assert stats.stopped_by == "done" and stats.tokens_decoded == len(ended) + output_budget(_task()) and calls[1] == output_budget(_task())
    calls.clear()
    _, late = sample_task(res, _task(), cfg, 512, deadline=0.0)
    assert late.stopped_by == "deadline" and calls == [output_budget(_task())], "the deadline passed during the first batch"


@pytest.mark.parametrize("name", ["cached", "dfs"])
def test_sample_task_with_engine_backends_and_augmented_scores(name: str, res) -> None:
    cfg = SampleConfig(backend=name, views=3, samples_per_view=4, temperature=3.0, dfs_threshold=0.02, dfs_max_candidates=4, score_views=2)
    per_test, stats = sample_task(res, _task(), cfg, max_tokens=512, deadline=math.inf)
    assert len(per_test) == 2 and stats.views_done == 3 and stats.stopped_by == "done"
    if name == "cached":
        assert stats.generated == 2 * 3 * 4 and all(per_test), "a hot tiny model still yields some well-formed grids"
    assert stats.generated - stats.malformed == sum(map(len, per_test))
    assert stats.scored_views == 2 * sum(1 for c in per_test if c)
    for cands in per_test:
        for c in cands:
            assert c.score is not None and c.score <= 0


def test_sample_task_merged_matches_unmerged(res) -> None:
    base = SampleConfig(backend="cached", views=2, samples_per_view=1, temperature=3.0)
    a, _ = sample_task(res, _task(), base, 512, math.inf)
    b, _ = sample_task(res, _task(), SampleConfig(backend="cached", views=2, samples_per_view=1, temperature=3.0, merge_lora="cpu"), 512, math.inf)
    assert [[c.grid for c in t] for t in a] == [[c.grid for c in t] for t in b]


@pytest.mark.parametrize("which", ["tiny", "gqa", "grid"])
def test_fused_decode_step_matches_the_reference_step(which: str, res, gqa_model, grid_res) -> None:
    """The single-token step (`_decode`, what a CUDA graph captures) against `forward`: tokens, logits, DFS."""
    model = _model(which, res, gqa_model, grid_res)
    fused, ref = Engine(model), Engine(model, fused=False)
    assert fused.fused and not ref.fused
    prompts = _prompts((23, 40), seed=17)
    pf, pr = fused.prefill(prompts), ref.prefill(prompts)
    for n, greedy in ((1, True), (3, False)):  # one greedy row per prompt; three sampled rows per prompt (same seed)
        a = fused.generate(pf, n=n, max_new=12, eos=-1, greedy_first=greedy, temperature=1.5, seed=9)
        b = ref.generate(pr, n=n, max_new=12, eos=-1, greedy_first=greedy, temperature=1.5, seed=9)
        assert [[ids for ids, _ in rows] for rows in a] == [[ids for ids, _ in rows] for rows in b]
        assert [lp for rows in a for _, lp in rows] == pytest.approx([lp for rows in b for _, lp in rows], abs=1e-4)
    toks = a[1][0][0]
    lf, lr = fused.trace(pf, 1, toks), ref.trace(pr, 1, toks)  # (T, V) log-probs after each fed token
    assert torch.allclose(lf, lr, atol=1e-4)
    seq = prompts[1] + toks[:5]
    assert torch.allclose(lf[4], _full_logprobs(model, seq), atol=1e-4)
    eos = int(pf.logprobs[0].argmax())
    df, _ = fused.dfs(pf, 0, eos, threshold=0.005, max_len=3, max_candidates=100)
    dr, _ = ref.dfs(pr, 0, eos, threshold=0.005, max_len=3, max_candidates=100)
    assert [ids for ids, _ in df] == [ids for ids, _ in dr]
    assert [lp for _, lp in df] == pytest.approx([lp for _, lp in dr], abs=1e-4)
    assert fused.fallbacks == [] and fused.fused


def test_a_failing_fused_step_falls_back_once_to_the_reference_step(res, monkeypatch) -> None:
    eng, ref = Engine(res.model), Engine(res.model, fused=False)
    prompt = _prompts((19,), seed=21)

    def broken(st, window):
        st.t.add_(5)  # a partial update the fallback must undo
        raise RuntimeError("no kernel")

    monkeypatch.setattr(eng, "_decode", broken)
    got = eng.generate(eng.prefill(prompt), n=2, max_new=6, eos=-1, seed=3)
    want = ref.generate(ref.prefill(prompt), n=2, max_new=6, eos=-1, seed=3)
    assert [ids for ids, _ in got[0]] == [ids for ids, _ in want[0]]
    assert not eng.fused and len(eng.fallbacks) == 1 and "no kernel" in eng.fallbacks[0]


def test_graph_modes_and_in_place_merge(res) -> None:
    """CPU steps are always eager; bad modes are named errors; merging keeps every parameter's storage (graphs stay valid)."""
    from tasks_lib.config import ConfigError

    assert not Engine(res.model, graphs="on").graphs and not Engine(res.model, graphs=True).graphs
    with pytest.raises(ValueError, match="graphs"):
        Engine(res.model, graphs="yes")
    with pytest.raises(ConfigError, match=r"sample\.cuda_graphs='yes': expected auto\|on\|off"):
        SampleConfig(cuda_graphs="yes")
    assert SampleConfig().cuda_graphs == "auto"
    ptrs = [p.data_ptr() for p in res.model.parameters()]
    with merged(res.model, "device"):
        assert [p.data_ptr() for p in res.model.parameters()] == ptrs
    assert [p.data_ptr() for p in res.model.parameters()] == ptrs


def test_a_failing_graph_capture_falls_back_to_eager_steps_unless_strict(res, monkeypatch) -> None:
    """Capture is CUDA-only, so a failing one is simulated: the step then runs eagerly (logged once); "on" raises."""
    def no_capture() -> None:
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(torch.cuda, "Stream", no_capture)
    prompt = _prompts((17,), seed=23)
    ref = Engine(res.model, graphs="off")
    want = ref.generate(ref.prefill(prompt), n=2, max_new=5, eos=-1, seed=4)
    eng = Engine(res.model, graphs="auto")
    eng.graphs = True  # as on CUDA
    got = eng.generate(eng.prefill(prompt), n=2, max_new=5, eos=-1, seed=4)
    assert [ids for ids, _ in got[0]] == [ids for ids, _ in want[0]]
    assert [lp for _, lp in got[0]] == pytest.approx([lp for _, lp in want[0]], abs=1e-4)
    assert not eng.graphs and len(eng.fallbacks) == 1 and "capture" in eng.fallbacks[0]
    strict = Engine(res.model, graphs="on")
    strict.graphs = True
    with pytest.raises(RuntimeError, match="not permitted"):
        strict.generate(strict.prefill(prompt), n=2, max_new=5, eos=-1, seed=4)


_INDUCTOR = pytest.param("inductor", marks=pytest.mark.skipif(
    not os.environ.get("ARC_TTT_TEST_INDUCTOR"),
    reason="inductor works on this CPU but builds C++ for every decode shape (~20 s each on 2 shared cores); "
           "ARC_TTT_TEST_INDUCTOR=1 runs it"))


@pytest.mark.parametrize("backend", ["eager", "aot_eager", _INDUCTOR])
def test_compiled_decode_layer_matches_the_uncompiled_step(backend: str, gqa_model) -> None:
    """`compile` changes how the fused step's layer runs, not what it computes: tokens and log-probabilities as off."""
    plain, comp = Engine(gqa_model), Engine(gqa_model, compile=backend)
    prompts = _prompts((23, 40), seed=31)
    pp, pc = plain.prefill(prompts), comp.prefill(prompts)
    before = COMPILES.get(backend, 0)
    for n, greedy in ((1, True), (3, False)):  # greedy rows; sampled rows at one seed
        a = comp.generate(pc, n=n, max_new=10, eos=-1, greedy_first=greedy, temperature=1.5, seed=9)
        b = plain.generate(pp, n=n, max_new=10, eos=-1, greedy_first=greedy, temperature=1.5, seed=9)
        assert [[ids for ids, _ in rows] for rows in a] == [[ids for ids, _ in rows] for rows in b]
        assert [lp for rows in a for _, lp in rows] == pytest.approx([lp for rows in b for _, lp in rows], abs=1e-4)
    toks = a[0][1][0]
    assert torch.allclose(comp.trace(pc, 0, toks), plain.trace(pp, 0, toks), atol=1e-4)
    assert comp.score(pc, 0, [toks]) == pytest.approx(plain.score(pp, 0, [toks]), abs=1e-4)
    assert comp.score(pc, 0, [toks])[0] == pytest.approx(a[0][1][1], abs=1e-3)
    assert comp.fallbacks == [] and comp._compiled_layer is not None
    assert COMPILES.get(backend, 0) > before, "the layer ran compiled (a graph was built for these shapes)"


def test_a_failing_compiled_layer_falls_back_to_the_uncompiled_body(gqa_model, monkeypatch) -> None:
    plain, comp = Engine(gqa_model), Engine(gqa_model, compile="eager")
    prompt = _prompts((19,), seed=33)

    def broken(*args) -> None:
        raise RuntimeError("no kernel for this shape")

    monkeypatch.setattr(comp, "_compiled_layer", broken)
    got = comp.generate(comp.prefill(prompt), n=2, max_new=6, eos=-1, seed=3)
    want = plain.generate(plain.prefill(prompt), n=2, max_new=6, eos=-1, seed=3)
    assert [ids for ids, _ in got[0]] == [ids for ids, _ in want[0]]
    assert [lp for _, lp in got[0]] == pytest.approx([lp for _, lp in want[0]], abs=1e-5)
    assert comp.fused and comp._compiled_layer is None
    assert len(comp.fallbacks) == 1 and "compiled decode layer" in comp.fallbacks[0] and "no kernel" in comp.fallbacks[0]


def test_compile_option_is_validated_and_reaches_the_engine(res) -> None:
    from tasks_lib.config import ConfigError

    assert SampleConfig().compile == "off" and Engine(res.model)._compiled_layer is None
    with pytest.raises(ConfigError, match=r"sample\.compile='yes': expected off\|inductor\|aot_eager\|eager"):
        SampleConfig(compile="yes")
    with pytest.raises(ValueError, match="compile"):
        Engine(res.model, compile="yes")
    eng = engine_for(res, SampleConfig(backend="cached", compile="aot_eager"))
    assert eng.compile == "aot_eager" and eng is not engine_for(res, SampleConfig(backend="cached"))
