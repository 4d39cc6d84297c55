"""Sampling candidate answers for a task's test inputs.

Contract: `sample_task(res, task, cfg, max_tokens, deadline, adapter_dir=None)` returns, for each test
input, a list of `Candidate`s already mapped back to the original orientation and colours. For every
test input it builds `cfg.views` augmented views (the identity first) and hands their prompts (in the resident's prompt
format, `Resident.fmt`) to the
backend, which returns completions per view (`cfg.samples_per_view` of them, the first greedy; or, for
`dfs`, every completion above `cfg.dfs_threshold`); each is parsed to a grid (malformed ones are dropped
and counted) and the view's augmentation is inverted. Views not started by `deadline` are skipped.
`SampleStats` counts what was generated and malformed, how far it got (`stopped_by`: `deadline` when a view was
skipped or the deadline passed during a batch) and the answer tokens decoded per test input (the budget's
measure of what sampling costs).
With `cfg.score_views > 0`, every distinct grid of a test input is then scored under that many augmented
views (the identity first) with the task's adapter, and `Candidate.score` holds its mean log-probability
over the views scored (the vote's `score` rules use it). With `cfg.merge_lora` on, the adapter is merged
into the weights for the duration and the base weights restored exactly after (`tasks_lib.adapting.merge`).

Backends are picked by name through `backend(name)`, which imports optional dependencies lazily:
`hf` (transformers `generate`, one view at a time), `cached` and `dfs` (`tasks_lib.decoding.engine`: each prompt
prefilled once, CUDA graphs on GPU; for a family the engine does not support, `tasks_lib.decoding.plain_engine` over the
model's own forward, logged once), `vllm` (`tasks_lib.decoding.sample_vllm`). `cached` decodes all views and samples as one
batch where they fit the memory the process may still use, else in sequential groups of views
(`tasks_lib.adapting.memory.decode_plan`; `SampleStats.decode_groups`, and `groups_skipped` for groups the deadline left
out); `dfs` searches one view's prompt at a time. After a call, an engine's cached decode states are released when
they hold more than `tasks_lib.adapting.memory.STATE_KEEP_SHARE` of the device (`memory.trim_engines`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable

from tasks_lib.adapting import memory
from tasks_lib.adapting.model import Resident
from tasks_lib.arc.augment import ScaleError, apply_grid, apply_task, invert_grid, sample_augmentations
from tasks_lib.arc.data import Grid, Task
from tasks_lib.arc.encoding import EncodingError, decode_grid, output_budget
from tasks_lib.config import SampleConfig
from tasks_lib.arc.records import Candidate  # noqa: F401  (the sampler's output; tasks_lib/arc/records.py)

log = logging.getLogger(__name__)

Completion = tuple[list[int], float, bool]  # generated ids, sum of log-probabilities, greedy?
# The first decode group of a test input runs past the deadline until this many of its rows have ended (bounded by
# `max_new`): with none, a task that came late lost every row to the cut and kept the fallback answer (11 of 100 tasks
# with 16 views a step, two slots and a 150 s budget on an H100; docs/results.md, session 12).
FIRST_GROUP_ENDS = 1
# A backend takes (res, one prompt per view, config, max new tokens, deadline, adapter dir) and returns
# the completions of each view it started, in view order (fewer lists than prompts when the deadline passed).
ViewSampler = Callable[[Resident, list[list[int]], SampleConfig, int, float, "str | None"], list[list[Completion]]]


@dataclass
class SampleStats:
    generated: int = 0
    malformed: int = 0
    views_done: int = 0
    seconds: float = 0.0
    stopped_by: str = "done"  # done | deadline (a view skipped, or the deadline passed while a batch decoded)
    tokens_decoded: int = 0  # answer tokens decoded, summed over test inputs and decode groups: a batch's longest completion, or max_new when a row stopped without eos
    decode_groups: list[int] = dataclasses.field(default_factory=list)  # cached: views per sequential decode group (tasks_lib.adapting.memory), over test inputs
    groups_skipped: int = 0  # cached: decode groups not started before the deadline (their views are not sampled)
    scored_views: int = 0  # augmented scoring: views scored (summed over test inputs)
    score_seconds: float = 0.0


def _hf_generate(res: Resident, prompt: list[int], n: int, temperature: float, max_new: int, seconds: float) -> list[tuple[list[int], float]]:
    """transformers `generate`: one greedy completion, then n-1 sampled ones."""
    import torch

    ids = torch.tensor([prompt], device=res.device)  # (1, P)
    out: list[tuple[list[int], float]] = []
    common = dict(max_new_tokens=max_new, eos_token_id=res.vocab.eos, pad_token_id=res.vocab.pad,
                  output_scores=True, return_dict_in_generate=True, max_time=max(seconds, 0.1))
    with torch.inference_mode():
        runs = [(1, dict(do_sample=False))]
        if n > 1:
            runs.append((n - 1, dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)))
        for count, mode in runs:
            gen = res.model.generate(input_ids=ids.expand(count, -1), attention_mask=torch.ones_like(ids).expand(count, -1), **common, **mode)
            new = gen.sequences[:, len(prompt):]  # (count, G)
            scores = res.model.compute_transition_scores(gen.sequences, gen.scores, normalize_logits=True)  # (count, G)
            for row, sc in zip(new.tolist(), scores):
                keep = row.index(res.vocab.eos) + 1 if res.vocab.eos in row else len(row)
                out.append((row[:keep], float(sc[:keep].float().clamp(min=-1e4).sum())))
    return out


def _hf_views(res: Resident, prompts: list[list[int]], cfg: SampleConfig, max_new: int, deadline: float, adapter_dir: str | None) -> list[list[Completion]]:
    """`_hf_generate` one view at a time; no new view once the deadline has passed."""
    out: list[list[Completion]] = []
    for v, prompt in enumerate(prompts):
        if v > 0 and time.time() >= deadline:
            break
        gen = _hf_generate(res, prompt, cfg.samples_per_view, cfg.temperature, max_new, deadline - time.time())
        out.append([(ids, lp, k == 0) for k, (ids, lp) in enumerate(gen)])
    return out


def engine_for(res: Resident, cfg: SampleConfig) -> Any:
    """The slot's decoding engine over its resident model (built once, kept in `res.slot_state.engines`): `tasks_lib.decoding.engine.Engine`
    for the families it supports, else `tasks_lib.decoding.plain_engine.PlainEngine` with one logged line naming why."""
    from tasks_lib.decoding.engine import Engine, EngineError
    from tasks_lib.decoding.plain_engine import PlainEngine

    key = ("engine", cfg.cuda_graphs, cfg.merge_lora != "off", cfg.compile)  # graphs captured merged must not run unmerged
    state = res.slot_state
    if key not in state.engines:
        try:
            state.engines[key] = Engine(res.model, graphs=cfg.cuda_graphs, compile=cfg.compile)
        except EngineError as err:
            if state.engine_blocker is None:
                state.engine_blocker = str(err)
                log.warning("decode engine not supported, using the plain engine (the model's own forward): %s", err)
            state.engines[key] = PlainEngine(res.model)
    return state.engines[key]


class Decoded(list):
    """A backend's completions per view (a list, as every backend returns) with the decode groups that made them:
    `groups` the views of each group decoded, `skipped` the groups the deadline left out."""

    def __init__(self, views: list[list[Completion]], groups: list[int], skipped: int):
        super().__init__(views)
        self.groups, self.skipped = groups, skipped


def _cached_views(res: Resident, prompts: list[list[int]], cfg: SampleConfig, max_new: int, deadline: float, adapter_dir: str | None) -> Decoded:
    """Every view and sample, decoded in as few sequential groups as memory allows (`tasks_lib.adapting.memory.decode_plan`; one
    group, all views as one batch, where no limit is known), each group's prompts prefilled once. A group that has not
    started by the deadline is skipped (the first always runs, and the deadline cuts it only once one of its rows has
    ended: a test input that starts sampling gets an answer of its own, not the fallback). A row cut off (by `max_new`,
    which bounds every answer, or by the deadline) comes back empty, so it counts as malformed rather than as a
    truncated grid."""
    eng = engine_for(res, cfg)
    eos = res.vocab.eos
    available = memory.available_bytes(res.device, int(cfg.memory_gb * 1e9))
    lengths = [len(p) for p in prompts]
    plan = memory.decode_plan(eng, lengths, cfg.samples_per_view, max_new, available)
    if len(plan) > 1 and eng.cached_bytes() > 0:  # cached decode states of earlier shapes take room: drop them, plan again
        eng.release()
        available = memory.available_bytes(res.device, int(cfg.memory_gb * 1e9))
        plan = memory.decode_plan(eng, lengths, cfg.samples_per_view, max_new, available)
    if len(plan) > 1:
        log.info("sampling %d views in %d decode groups %s (%.1f GB available)", len(prompts), len(plan), plan, (available or 0) / 1e9)
    outs: list[list[tuple[list[int], float]]] = []
    done: list[int] = []
    start = 0
    for g, size in enumerate(plan):
        if g > 0 and time.time() >= deadline:
            break
        prefix = eng.prefill(prompts[start : start + size])
        outs += eng.generate(prefix, cfg.samples_per_view, max_new, eos, cfg.temperature, greedy_first=True,
                             deadline=deadline, seed=cfg.seed + g, min_ended=FIRST_GROUP_ENDS if g == 0 else 0)
        del prefix  # before the next group's prefill allocates its own
        done.append(size)
        start += size
    views = [[(ids if ids and ids[-1] == eos else [], lp, k == 0) for k, (ids, lp) in enumerate(view)] for view in outs]
    return Decoded(views, done, len(plan) - len(done))


def _dfs_views(res: Resident, prompts: list[list[int]], cfg: SampleConfig, max_new: int, deadline: float, adapter_dir: str | None) -> list[list[Completion]]:
    """Every completion above the threshold, view by view; no new view once the deadline has passed."""
    eng = engine_for(res, cfg)
    out: list[list[Completion]] = []
    for v in range(len(prompts)):
        if v > 0 and time.time() >= deadline:
            break
        prefix = eng.prefill(prompts[v : v + 1])  # one view's K/V at a time: the search reads one prompt
        found, _ = eng.dfs(prefix, 0, res.vocab.eos, cfg.dfs_threshold, max_new, cfg.dfs_max_candidates, deadline)
        out.append([(ids, lp, False) for ids, lp in found])
    return out


def _vllm() -> ViewSampler:
    from tasks_lib.decoding.sample_vllm import sample_views

    return sample_views


_BACKENDS: dict[str, Callable[[], ViewSampler]] = {
    "hf": lambda: _hf_views,
    "cached": lambda: _cached_views,
    "dfs": lambda: _dfs_views,
    "vllm": _vllm,
}


def backend(name: str) -> ViewSampler:
    """The sampler backend registered under `name` (imports happen when it is first asked for)."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown sampler backend {name!r}; known: {sorted(_BACKENDS)}")
    return _BACKENDS[name]()


def score_candidates(res: Resident, task: Task, test_index: int, grids: list[Grid], cfg: SampleConfig, max_tokens: int,
                     deadline: float) -> tuple[dict[Grid, float], int]:
    """Mean log-probability of each grid (original orientation) as the answer to test input `test_index`,
    over up to `cfg.score_views` augmented views with the resident adapter; returns (scores, views scored)."""
    eng = engine_for(res, cfg)
    totals = {g: 0.0 for g in grids}
    done = 0
    for aug in sample_augmentations(cfg.seed + 1, cfg.score_views, len(task.train)):
        if time.time() >= deadline:
            break
        comps = [[*res.vocab.grid_ids(apply_grid(aug, g)), res.vocab.eos] for g in grids]
        try:
            prompt = res.fmt.prompt(apply_task(aug, task), test_index, max_tokens, reserve=max(map(len, comps)))
        except EncodingError:
            continue
        for g, lp in zip(grids, eng.score(eng.prefill([prompt]), 0, comps)):
            totals[g] += lp
        done += 1
    return ({g: t / done for g, t in totals.items()} if done else {}), done


def sample_task(res: Resident, task: Task, cfg: SampleConfig, max_tokens: int, deadline: float,
                adapter_dir: str | None = None) -> tuple[list[list[Candidate]], SampleStats]:
    """Candidates for every test input of `task` (see module doc)."""
    from tasks_lib.adapting.merge import merged

    t0 = time.time()
    generate = backend(cfg.backend)
    stats = SampleStats()
    views = sample_augmentations(cfg.seed, cfg.views, len(task.train))
    view_tasks = [apply_task(aug, task) for aug in views]
    max_new = output_budget(task)
    per_test: list[list[Candidate]] = [[] for _ in task.test_inputs]
    done_per_test = []
    with merged(res.model, cfg.merge_lora) if cfg.merge_lora != "off" else nullcontext():
        for i in range(len(task.test_inputs)):
            if i > 0 and time.time() >= deadline:
                stats.stopped_by = "deadline"
                break
            prompts: list[tuple[int, list[int]]] = []
            for v, view_task in enumerate(view_tasks):
                try:
                    prompts.append((v, res.fmt.prompt(view_task, i, max_tokens, reserve=max_new)))
                except EncodingError:
                    continue
            outs = generate(res, [p for _, p in prompts], cfg, max_new, deadline, adapter_dir) if prompts else []
            if len(outs) < len(prompts) or (prompts and time.time() >= deadline):
                stats.stopped_by = "deadline"
            if isinstance(outs, Decoded):  # cached: the views came in sequential groups
                groups = outs.groups
                stats.decode_groups += groups
                stats.groups_skipped += outs.skipped
            else:
                groups = [len(outs)]
            first = 0
            for size in groups:  # each group decodes its own steps
                rows = [ids for completions in outs[first : first + size] for ids, _, _ in completions]
                first += size
                if rows:
                    unfinished = any(not ids or ids[-1] != res.vocab.eos for ids in rows)  # ran to max_new (or was cut)
                    stats.tokens_decoded += max_new if unfinished else max(map(len, rows))
            for (v, _), completions in zip(prompts, outs):
                for ids, logprob, greedy in completions:
                    stats.generated += 1
                    grid = decode_grid(res.vocab, ids)
                    try:
                        original = None if grid is None else invert_grid(views[v], grid)
                    except ScaleError:  # an upscaled view's answer that is not made of its blocks
                        original = None
                    if original is None:
                        stats.malformed += 1
                        continue
                    per_test[i].append(Candidate(original, v, logprob, greedy))
            done_per_test.append(len(outs))
        if cfg.score_views > 0:
            ts = time.time()
            for i, cands in enumerate(per_test):
                grids = list(dict.fromkeys(c.grid for c in cands))
                if not grids:
                    continue
                scores, n = score_candidates(res, task, i, grids, cfg, max_tokens, deadline)
                stats.scored_views += n
                per_test[i] = [dataclasses.replace(c, score=scores.get(c.grid)) for c in cands]
            stats.score_seconds = time.time() - ts
    memory.trim_engines(res.slot_state.engines.values(), res.device, int(cfg.memory_gb * 1e9))  # large cached decode states would take the next task's room
    stats.views_done = min(done_per_test, default=0)
    stats.seconds = time.time() - t0
    return per_test, stats
