"""Voting: from candidates across views to the two attempts.

Contract: `rank(candidates, rule)` groups identical grids and orders them best first:
- `count`: most votes, ties by best mean log-probability;
- `logprob`: best mean log-probability (under the view that sampled it), ties by votes;
- `score`: best augmented score (`Candidate.score`: the grid's mean log-probability over several augmented
  views of the task, a product of experts), ties by votes; unscored grids come last;
- `count_score`: log(vote share) + augmented score, i.e. the sampling frequency taken as one more expert
  beside the scoring views (both are log-probabilities of the same grid, so they add without a weight);
  ties by votes; unscored grids come last.
`attempts(ranked, fallbacks, keep)` returns exactly two grids, filling from `fallbacks`
when fewer than two distinct candidates exist; a `keep` grid that is among the ranked candidates but not in the
top two takes the second attempt (refinement's guard: pass 1's first answer is never voted out of the submission). `fallback_grids(test_input, train_outputs)` gives
sensible guesses that need no model: the test input itself, and a train output when all agree.
"""

from __future__ import annotations

import math
from typing import Sequence

from tasks_lib.arc.data import Grid
from tasks_lib.arc.records import Candidate, Ranked


def _score(cs: Sequence[Candidate]) -> float | None:
    scores = [c.score for c in cs if c.score is not None]
    return sum(scores) / len(scores) if scores else None


def rank(candidates: Sequence[Candidate], rule: str = "count") -> list[Ranked]:
    groups: dict[Grid, list[Candidate]] = {}
    for c in candidates:
        groups.setdefault(c.grid, []).append(c)
    ranked = [
        Ranked(g, len(cs), sum(c.logprob for c in cs) / len(cs), tuple(sorted({c.view for c in cs})), _score(cs))
        for g, cs in groups.items()
    ]
    total = len(candidates)
    if rule == "count":
        ranked.sort(key=lambda r: (-r.votes, -r.mean_logprob))
    elif rule == "logprob":
        ranked.sort(key=lambda r: (-r.mean_logprob, -r.votes))
    elif rule == "score":
        ranked.sort(key=lambda r: (-(r.score if r.score is not None else -math.inf), -r.votes, -r.mean_logprob))
    elif rule == "count_score":
        ranked.sort(key=lambda r: (-(math.log(r.votes / total) + r.score if r.score is not None else -math.inf), -r.votes, -r.mean_logprob))
    else:
        raise ValueError(f"unknown vote rule {rule!r}; expected count, logprob, score or count_score")
    return ranked


def fallback_grids(test_input: Grid | None, train_outputs: Sequence[Grid] = ()) -> list[Grid]:
    """Model-free guesses, best first (always at least two grids)."""
    out: list[Grid] = []
    if train_outputs and all(o == train_outputs[0] for o in train_outputs):
        out.append(train_outputs[0])
    if test_input is not None:
        out.append(test_input)
    out.append(((0,),))
    out.append(((0, 0), (0, 0)))
    seen: list[Grid] = []
    for g in out:
        if g not in seen:
            seen.append(g)
    return seen


def attempts(ranked: Sequence[Ranked], fallbacks: Sequence[Grid], keep: Grid | None = None) -> list[Grid]:
    """Exactly two distinct grids: the top of `ranked`, then `fallbacks` as needed; `keep`, when it is a ranked
    grid outside the top two, replaces the second."""
    chosen: list[Grid] = []
    for g in [r.grid for r in ranked] + list(fallbacks):
        if g not in chosen:
            chosen.append(g)
        if len(chosen) == 2:
            break
    else:
        raise ValueError("attempts: need at least two distinct grids among candidates and fallbacks")
    if keep is not None and keep not in chosen and any(r.grid == keep for r in ranked):
        chosen[1] = keep
    return chosen
