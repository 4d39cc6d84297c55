"""Sampling candidate answers for a task's test inputs.

Contract: `sample_task(res, task, cfg, max_tokens, deadline)` returns, for each test input, a list of
`Candidate`s already mapped back to the original orientation and colours. For every test input it
builds `cfg.views` augmented views (the identity first), asks the backend for `cfg.samples_per_view`
completions per view (the first greedy), parses each to a grid (malformed ones are dropped and
counted) and inverts the view's augmentation. It stops starting new views once `deadline` passes.
Backends are picked by name through `backend(name)`, which imports optional dependencies lazily.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from tasks_lib.augment import apply_task, invert_grid, sample_augmentations
from tasks_lib.config import SampleConfig
from tasks_lib.data import Grid, Task
from tasks_lib.encoding import EncodingError, decode_grid, encode_prompt, output_budget
from tasks_lib.model import Resident

# A backend takes (res, prompt ids, n samples, temperature, max new tokens, seconds left) and
# returns [(generated ids, sum of log-probabilities)], the greedy completion first.
Backend = Callable[[Resident, list[int], int, float, int, float], list[tuple[list[int], float]]]


@dataclass(frozen=True)
class Candidate:
    grid: Grid
    view: int
    logprob: float
    greedy: bool

    def to_dict(self) -> dict:
        return {"grid": [list(r) for r in self.grid], "view": self.view, "logprob": self.logprob, "greedy": self.greedy}


@dataclass
class SampleStats:
    generated: int = 0
    malformed: int = 0
    views_done: int = 0
    seconds: float = 0.0
    stopped_by: str = "done"  # done | deadline


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


_BACKENDS: dict[str, Callable[[], Backend]] = {"hf": lambda: _hf_generate}


def backend(name: str) -> Backend:
    """The sampler backend registered under `name` (imports happen when it is first asked for)."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown sampler backend {name!r}; known: {sorted(_BACKENDS)}")
    return _BACKENDS[name]()


def sample_task(res: Resident, task: Task, cfg: SampleConfig, max_tokens: int, deadline: float) -> tuple[list[list[Candidate]], SampleStats]:
    """Candidates for every test input of `task` (see module doc)."""
    t0 = time.time()
    generate = backend(cfg.backend)
    stats = SampleStats()
    views = sample_augmentations(cfg.seed, cfg.views, len(task.train))
    max_new = output_budget(task)
    per_test: list[list[Candidate]] = [[] for _ in task.test_inputs]
    for v, aug in enumerate(views):
        if v > 0 and time.time() >= deadline:
            stats.stopped_by = "deadline"
            break
        view_task = apply_task(aug, task)
        for i in range(len(task.test_inputs)):
            try:
                prompt = encode_prompt(res.vocab, view_task, i, max_tokens, reserve=max_new)
            except EncodingError:
                continue
            for k, (ids, logprob) in enumerate(generate(res, prompt, cfg.samples_per_view, cfg.temperature, max_new, deadline - time.time())):
                stats.generated += 1
                grid = decode_grid(res.vocab, ids)
                if grid is None:
                    stats.malformed += 1
                    continue
                per_test[i].append(Candidate(invert_grid(aug, grid), v, logprob, k == 0))
        stats.views_done += 1
    stats.seconds = time.time() - t0
    return per_test, stats
