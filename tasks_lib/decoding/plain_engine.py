"""The decode engine's interface over the model's own forward: any causal LM transformers can load.

Contract: `PlainEngine(model)` offers what `tasks_lib.decoding.engine.Engine` offers the samplers (`prefill`, `generate`,
`dfs`, `score`, with the same arguments and results) for a model the engine refuses (a family outside
`tasks_lib.adapting.families.FAST_FAMILIES`, sliding windows, soft-capped logits). Every number comes from the model's own
forward (`model(input_ids=...)`), so whatever attention implementation, window or capping the model has is
applied exactly as transformers applies it. It is the slow path: `generate` uses the model's own KV cache, one
prompt at a time; `dfs` and `score` recompute the whole sequence at each call (no cache to rewind).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from tasks_lib.decoding.search import SearchStats, dfs


@dataclass
class PlainPrefix:
    """Prompts and the log-probabilities of the first new token after each."""

    prompts: list[list[int]]
    logprobs: torch.Tensor  # (W, V) float32

    @property
    def width(self) -> int:
        return len(self.prompts)


class PlainEngine:
    """Engine interface over `model(input_ids=...)` (see module doc)."""

    def __init__(self, model: Any):
        self.model = model
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.device = base.get_input_embeddings().weight.device

    def _logprobs(self, ids: torch.Tensor) -> torch.Tensor:
        """Log-probabilities (B, T, V) of the next token after every position of `ids` (B, T)."""
        logits = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits  # (B, T, V)
        return torch.log_softmax(logits.float(), dim=-1)

    @torch.inference_mode()
    def prefill(self, prompts: Sequence[Sequence[int]]) -> PlainPrefix:
        if not prompts or any(len(p) == 0 for p in prompts):
            raise ValueError("prefill needs at least one non-empty prompt")
        first = [self._logprobs(torch.tensor([list(p)], device=self.device))[0, -1] for p in prompts]  # each (V,)
        return PlainPrefix([list(p) for p in prompts], torch.stack(first))

    @torch.inference_mode()
    def generate(self, prefix: PlainPrefix, n: int, max_new: int, eos: int, temperature: float = 1.0, greedy_first: bool = True,
                 deadline: float = math.inf, seed: int = 0, min_ended: int = 0) -> list[list[tuple[list[int], float]]]:
        """`n` continuations of every prompt (row 0 greedy when `greedy_first`), each `(ids, sum of log-probs at
        temperature 1)`; a row stops at `eos` (kept) or `max_new`; prompts not started by `deadline` are left out, and
        the deadline cuts a prompt's rows only once `min_ended` rows of the call have reached `eos`."""
        if n < 1 or max_new < 1 or temperature <= 0:
            raise ValueError(f"generate: need n >= 1, max_new >= 1, temperature > 0; got {n}, {max_new}, {temperature}")
        gen = torch.Generator(device=self.device).manual_seed(seed)
        results: list[list[tuple[list[int], float]]] = []
        ended = 0  # rows of this call that reached eos
        for w, prompt in enumerate(prefix.prompts):
            if w > 0 and time.time() >= deadline and ended >= min_ended:
                break
            ids = torch.tensor([prompt] * n, device=self.device)  # (n, P)
            out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True)
            cache, lp = out.past_key_values, torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # (n, V)
            greedy = (torch.arange(n, device=self.device) == 0) & greedy_first  # (n,)
            rows: list[list[int]] = [[] for _ in range(n)]
            total = torch.zeros(n, device=self.device)
            done = torch.zeros(n, dtype=torch.bool, device=self.device)
            mask = torch.ones_like(ids)  # (n, P + t)
            for t in range(max_new):
                drawn = torch.multinomial(torch.softmax(lp / temperature, -1), 1, generator=gen)[:, 0]  # (n,)
                tok = torch.where(greedy, lp.argmax(-1), drawn)  # (n,)
                tok = torch.where(done, torch.full_like(tok, eos), tok)
                total += torch.where(done, 0.0, lp.gather(1, tok[:, None])[:, 0])
                for r, v in enumerate(tok.tolist()):
                    if not done[r]:
                        rows[r].append(v)
                done |= tok == eos
                if bool(done.all()) or t == max_new - 1 or (time.time() >= deadline and ended + int(done.sum()) >= min_ended):
                    break
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
                out = self.model(input_ids=tok[:, None], attention_mask=mask, past_key_values=cache, use_cache=True)
                cache, lp = out.past_key_values, torch.log_softmax(out.logits[:, -1].float(), dim=-1)
            ended += int(done.sum())
            results.append(list(zip(rows, total.tolist())))
        return results

    @torch.inference_mode()
    def dfs(self, prefix: PlainPrefix, view: int, eos: int, threshold: float, max_len: int, max_candidates: int,
            deadline: float = math.inf) -> tuple[list[tuple[list[int], float]], SearchStats]:
        """Every completion of prompt `view` with probability >= threshold (`search.dfs`), each step one forward of
        the prompt and the node's path."""
        prompt, first = prefix.prompts[view], prefix.logprobs[view]
        engine = self
        path: list[int] = []

        class _Stepper:
            def root(self) -> list[float]:
                return first.tolist()

            def step(self, token: int, depth: int) -> list[float]:
                del path[depth:]  # the ancestors of this node are exactly path[:depth]
                path.append(token)
                ids = torch.tensor([prompt + path], device=engine.device)  # (1, P + depth + 1)
                return engine._logprobs(ids)[0, -1].tolist()

        return dfs(_Stepper(), eos, threshold, max_len, max_candidates, deadline)

    @torch.inference_mode()
    def score(self, prefix: PlainPrefix, view: int, completions: Sequence[Sequence[int]]) -> list[float]:
        """Sum of log-probabilities of each completion after prompt `view` (teacher forcing, one batch: padding at the
        end of a row cannot change the causal log-probabilities before it)."""
        if not completions or any(len(c) == 0 for c in completions):
            raise ValueError("score needs non-empty completions")
        prompt = prefix.prompts[view]
        T = max(len(c) for c in completions)
        ids = torch.tensor([prompt + list(c) + [c[-1]] * (T - len(c)) for c in completions], device=self.device)  # (B, P+T)
        lp = self._logprobs(ids)[:, len(prompt) - 1 : -1]  # (B, T, V): the distribution each completion token is drawn from
        tok_lp = lp.gather(2, ids[:, len(prompt) :, None])[..., 0]  # (B, T)
        keep = torch.arange(T, device=self.device)[None] < torch.tensor([len(c) for c in completions], device=self.device)[:, None]
        return (tok_lp * keep).sum(1).tolist()
