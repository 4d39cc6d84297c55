"""From candidates to the file Kaggle reads: voting, fallbacks, the submission validator and writer,
and scoring by the Kaggle rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks_lib.arc.data import Pair, Task
from tasks_lib.arc.records import Candidate, TaskResult
from tasks_lib.arc.scoring import correct, score
from tasks_lib.decoding.vote import attempts, fallback_grids, rank
from tasks_lib.running.submission import SubmissionError, assemble, fallback_entry, validate, write

A, B, C = ((1,),), ((2,),), ((3, 3),)


def _cand(grid: tuple, view: int, logprob: float) -> Candidate:
    return Candidate(grid, view, logprob, view == 0)


def test_rank_by_votes_then_mean_logprob() -> None:
    cands = [_cand(A, 0, -5.0), _cand(B, 1, -1.0), _cand(A, 2, -3.0), _cand(C, 3, -0.5), _cand(C, 4, -0.7)]
    ranked = rank(cands, "count")
    assert [r.grid for r in ranked] == [C, A, B]  # C and A both 2 votes; C's mean logprob is higher
    assert ranked[1].votes == 2 and ranked[1].mean_logprob == -4.0 and ranked[1].views == (0, 2)


def test_rank_by_logprob_then_votes() -> None:
    d = ((4,),)
    cands = [_cand(d, 0, -2.0), _cand(A, 1, -5.0), _cand(A, 2, -5.0), _cand(B, 3, -1.0), _cand(C, 4, -2.0), _cand(C, 5, -2.0)]
    assert [r.grid for r in rank(cands, "logprob")] == [B, C, d, A]  # C and d tie on logprob; C has more votes
    assert [r.grid for r in rank(cands, "count")] == [C, A, B, d]
    with pytest.raises(ValueError, match="vote rule"):
        rank(cands, "majority")


def test_attempts_fill_from_fallbacks_and_are_always_two_distinct() -> None:
    assert attempts(rank([_cand(A, 0, -1), _cand(B, 1, -2), _cand(B, 2, -2)]), [C]) == [B, A]
    assert attempts(rank([_cand(A, 0, -1)]), [A, C]) == [A, C]  # a fallback equal to the top is skipped
    assert attempts([], fallback_grids(None)) == [((0,),), ((0, 0), (0, 0))]
    with pytest.raises(ValueError):
        attempts([], [A, A])


def test_a_kept_grid_holds_the_second_attempt_only_while_it_is_a_candidate() -> None:
    d = ((4,),)
    ranked = rank([_cand(B, 0, -1), _cand(B, 1, -1), _cand(C, 2, -1), _cand(C, 3, -2), _cand(A, 4, -3)])
    assert attempts(ranked, [d]) == [B, C]
    assert attempts(ranked, [d], keep=A) == [B, A], "outvoted but still a candidate: held as the second attempt"
    assert attempts(ranked, [d], keep=B) == [B, C], "already in the top two: nothing moves"
    assert attempts(ranked, [d], keep=d) == [B, C], "a grid no view sampled (a fallback) is not held"


def test_fallbacks_prefer_a_common_train_output_then_the_test_input() -> None:
    assert fallback_grids(B, [A, A])[:2] == [A, B]
    assert fallback_grids(B, [A, C])[:2] == [B, ((0,),)]
    assert len(set(fallback_grids(((0,),)))) >= 2


def _task(tid: str, n_test: int) -> Task:
    return Task(tid, (Pair(A, B),), tuple(C for _ in range(n_test)))


def test_assemble_uses_results_and_falls_back_elsewhere() -> None:
    n_test = {"done": 1, "todo": 2, "unparsed": 1}
    tasks = {"done": _task("done", 1), "todo": _task("todo", 2)}
    results = {"done": TaskResult.from_json({"task_id": "done", "status": "ok", "attempts": [{"attempt_1": [[5]], "attempt_2": [[6]]}]}),
               "todo": TaskResult("todo", "ok", ())}
    sub = assemble(n_test, tasks, results)
    assert list(sub) == list(n_test)
    assert sub["done"] == [{"attempt_1": [[5]], "attempt_2": [[6]]}]
    assert sub["todo"] == fallback_entry(tasks["todo"], 2)
    assert sub["todo"][0]["attempt_1"] == [[2]]  # the one train output
    assert len(sub["unparsed"]) == 1
    validate(sub, n_test)


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (lambda s: s.pop("t2"), "task 't2' missing"),
        (lambda s: s["t1"].pop(), r"submission\['t1'\]: expected a list of 2 entries"),
        (lambda s: s["t1"].append(s["t1"][0]), r"expected a list of 2 entries"),
        (lambda s: s["t1"][1].pop("attempt_2"), r"submission\['t1'\]\[1\]\.attempt_2: missing"),
        (lambda s: s["t2"][0].update(attempt_1=[[1, 10]]), r"submission\['t2'\]\[0\]\.attempt_1: cell \(0, 1\) is 10"),
        (lambda s: s["t2"][0].update(attempt_1=[[1, 2], [3]]), "ragged"),
        (lambda s: s["t2"][0].update(attempt_2=[]), "0 rows"),
    ],
)
def test_validate_names_the_first_problem(mutate, problem: str) -> None:
    n_test = {"t1": 2, "t2": 1}
    sub = {"t1": [{"attempt_1": [[1]], "attempt_2": [[2]]}, {"attempt_1": [[1]], "attempt_2": [[2]]}],
           "t2": [{"attempt_1": [[1]], "attempt_2": [[2]]}]}
    validate(sub, n_test)
    mutate(sub)
    with pytest.raises(SubmissionError, match=problem):
        validate(sub, n_test)


def test_write_is_valid_json_and_refuses_invalid_submissions(tmp_path: Path) -> None:
    n_test = {"t1": 1}
    good = {"t1": [{"attempt_1": [[1, 2]], "attempt_2": [[3]]}]}
    path = write(tmp_path / "submission.json", good, n_test)
    assert json.loads(path.read_text()) == good
    with pytest.raises(SubmissionError):
        write(path, {"t1": []}, n_test)
    assert json.loads(path.read_text()) == good  # the earlier file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["submission.json"]  # no temp files left behind


def test_kaggle_rule_either_attempt_counts() -> None:
    entries = [{"attempt_1": [[1]], "attempt_2": [[2]]}, {"attempt_1": [[3]], "attempt_2": [[4]]}, {"attempt_1": [[5]], "attempt_2": [[6]]}]
    assert correct(entries, [((1,),), ((4,),), ((7,),)]) == [True, True, False]


def test_score_is_per_output_and_per_task() -> None:
    sub = {
        "half": [{"attempt_1": [[1]], "attempt_2": [[0]]}, {"attempt_1": [[0]], "attempt_2": [[0]]}],
        "full": [{"attempt_1": [[0]], "attempt_2": [[2]]}],
    }
    sols = {"half": [((1,),), ((9,),)], "full": [((2,),)], "absent": [((3,),)]}
    s = score(sub, sols)
    assert s["solved_outputs"] == 2 and s["total_outputs"] == 4
    assert s["kaggle"] == pytest.approx(2 / 4)
    assert s["per_task"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert s["tasks"] == {"half": [True, False], "full": [True], "absent": [False]}
    assert score({}, {})["kaggle"] == 0.0
