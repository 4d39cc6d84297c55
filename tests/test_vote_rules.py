"""Vote rules that use augmented scores, and the sampler's config fields."""

from __future__ import annotations

import math

import pytest

from tasks_lib.arc.records import Candidate
from tasks_lib.config import ConfigError, RunConfig, SampleConfig, VoteConfig
from tasks_lib.decoding.vote import rank

A, B, C = ((1,),), ((2,),), ((3, 3),)


def _c(grid: tuple, view: int, logprob: float, score: float | None) -> Candidate:
    return Candidate(grid, view, logprob, False, score)


def test_score_rule_orders_by_augmented_score_then_votes_and_puts_unscored_last() -> None:
    cands = [_c(A, 0, -1.0, -9.0), _c(A, 1, -1.0, -9.0), _c(A, 2, -1.0, -9.0), _c(B, 3, -5.0, -2.0), _c(C, 4, -0.1, None)]
    ranked = rank(cands, "score")
    assert [r.grid for r in ranked] == [B, A, C]
    assert ranked[0].score == -2.0 and ranked[2].score is None
    assert [r.grid for r in rank(cands, "count")] == [A, C, B]


def test_count_score_adds_log_vote_share_to_the_score() -> None:
    # A: 3 of 4 votes, score -3.0 -> log(0.75) - 3.0 = -3.29; B: 1 of 4, score -2.0 -> log(0.25) - 2.0 = -3.39
    cands = [_c(A, 0, -1.0, -3.0), _c(A, 1, -1.0, -3.0), _c(A, 2, -1.0, -3.0), _c(B, 3, -1.0, -2.0)]
    assert [r.grid for r in rank(cands, "count_score")] == [A, B]
    assert [r.grid for r in rank(cands, "score")] == [B, A]
    # B scored a bit higher still: the score now outweighs the votes.
    cands[-1] = _c(B, 3, -1.0, -1.8)
    assert math.log(0.25) - 1.8 > math.log(0.75) - 3.0
    assert [r.grid for r in rank(cands, "count_score")] == [B, A]


def test_ranked_to_dict_carries_the_score() -> None:
    r = rank([_c(A, 0, -1.0, -2.123456)], "score")[0]
    assert r.to_dict()["score"] == -2.1235
    assert rank([_c(A, 0, -1.0, None)], "count")[0].to_dict()["score"] is None


@pytest.mark.parametrize("override,field", [
    ({"backend": "exllama"}, "sample.backend"),
    ({"dfs_threshold": 0.0}, "sample.dfs_threshold"),
    ({"dfs_max_candidates": 0}, "sample.dfs_max_candidates"),
    ({"score_views": -1}, "sample.score_views"),
    ({"vllm_memory": 1.0}, "sample.vllm_memory"),
    ({"merge_lora": "on"}, "sample.merge_lora"),
])
def test_sample_config_rejects_bad_values(override: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        SampleConfig(**override)


def test_every_rule_is_accepted_by_config_and_rank() -> None:
    for rule in ("count", "logprob", "score", "count_score"):
        assert RunConfig().replace({"vote": {"rule": rule}}).vote.rule == rule
        rank([_c(A, 0, -1.0, -1.0)], rule)
    with pytest.raises(ConfigError, match="vote.rule"):
        VoteConfig(rule="borda")
