"""Depth-first search against brute-force enumeration on a mock model with known log-probabilities."""

from __future__ import annotations

import itertools
import math

import pytest

from tasks_lib.decoding.search import dfs

EOS = 0
VOCAB = 3
# A Markov chain over tokens {eos, 1, 2}: next-token probabilities depend on the previous token
# (None at the start). Chosen so that several paths of different lengths straddle the thresholds tested.
TABLE = {
    None: [0.05, 0.60, 0.35],
    1: [0.30, 0.50, 0.20],
    2: [0.55, 0.15, 0.30],
}


class MockStepper:
    """Computes log-probabilities from its own cache of fed tokens, as a KV cache would: `step(token, depth)`
    overwrites position `depth` and forgets everything after it, so a search that fed tokens out of
    depth-first order would get wrong probabilities and fail the comparison with brute force."""

    def __init__(self) -> None:
        self.cache: list[int] = []
        self.calls = 0

    def _lp(self) -> list[float]:
        return [math.log(p) for p in TABLE[self.cache[-1] if self.cache else None]]

    def root(self) -> list[float]:
        return self._lp()

    def step(self, token: int, depth: int) -> list[float]:
        assert depth <= len(self.cache), "fed a position beyond the cached path"
        self.cache[depth:] = [token]
        self.calls += 1
        return self._lp()


def brute_force(threshold: float, max_len: int) -> dict[tuple[int, ...], float]:
    """Every sequence ending in eos (eos nowhere else), at most max_len long, with probability >= threshold."""
    out = {}
    for n in range(1, max_len + 1):
        for body in itertools.product(range(1, VOCAB), repeat=n - 1):
            seq = (*body, EOS)
            lp, prev = 0.0, None
            for t in seq:
                lp += math.log(TABLE[prev][t])
                prev = t
            if lp >= math.log(threshold):
                out[seq] = lp
    return out


@pytest.mark.parametrize("threshold,max_len", [(0.1, 6), (0.05, 5), (0.02, 8), (0.15, 4)])
def test_dfs_returns_exactly_the_completions_above_the_threshold(threshold: float, max_len: int) -> None:
    found, stats = dfs(MockStepper(), EOS, threshold, max_len, max_candidates=1000)
    want = brute_force(threshold, max_len)
    assert want, "the case must have at least one completion above the threshold"
    assert {tuple(ids): lp for ids, lp in found} == pytest.approx(want)
    assert [lp for _, lp in found] == sorted((lp for _, lp in found), reverse=True)
    assert stats.stopped_by == "done" and stats.found == len(want)


def test_dfs_respects_max_len_and_stops_at_caps() -> None:
    longest = max(map(len, brute_force(0.02, 8)))
    found, _ = dfs(MockStepper(), EOS, 0.02, longest - 1, max_candidates=1000)
    assert all(len(ids) <= longest - 1 for ids, _ in found)
    capped, stats = dfs(MockStepper(), EOS, 0.02, 8, max_candidates=2)
    assert len(capped) == 2 and stats.stopped_by == "candidates"
    late, stats = dfs(MockStepper(), EOS, 0.02, 8, max_candidates=1000, deadline=0.0)
    assert late == [] and stats.stopped_by == "deadline"
    with pytest.raises(ValueError):
        dfs(MockStepper(), EOS, 0.0, 8, 10)


def test_dfs_expands_only_prefixes_above_the_threshold() -> None:
    stepper = MockStepper()
    dfs(stepper, EOS, 0.1, 6, max_candidates=1000)
    above = brute_force(1e-9, 6)
    prefixes = {seq[:k] for seq in above for k in range(1, len(seq))}
    lp = {p: sum(math.log(TABLE[([None] + list(p))[i]][t]) for i, t in enumerate(p)) for p in prefixes}
    expected = sum(1 for p in prefixes if lp[p] >= math.log(0.1) and len(p) < 6)
    assert stepper.calls == expected
