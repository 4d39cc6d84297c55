"""Loading and validating ARC tasks: good tasks load, each kind of bad task is reported by id and field,
and a file that cannot be used at all raises DataError naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks_lib.arc.data import BUNDLED, DataError, GridError, load_challenges, parse_task, to_grid

GOOD = {"train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]}], "test": [{"input": [[5, 6], [7, 8]]}]}


def _write(tmp_path: Path, challenges: object, name: str = "challenges.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(challenges))
    return path


def test_valid_task_parses_to_tuples() -> None:
    task = parse_task("t1", GOOD, [[[8, 7], [6, 5]]])
    assert task.train[0].input == ((1, 2), (3, 4))
    assert task.test_inputs == (((5, 6), (7, 8)),)
    assert task.test_outputs == (((8, 7), (6, 5)),)
    assert task.has_solutions
    assert task.cells == 12


@pytest.mark.parametrize(
    "grid, problem",
    [
        ([[1, 2], [3]], "ragged"),
        ([[1, 10]], "cell (0, 1) is 10"),
        ([[1, True]], "cell (0, 1)"),
        ([[0] * 31] * 31, "31 rows"),
        ([[0] * 31], "31 columns"),
        ([], "0 rows"),
        ([[]], "0 columns"),
        ("12", "list of rows"),
    ],
)
def test_bad_grids_are_rejected_with_the_reason(grid: object, problem: str) -> None:
    with pytest.raises(GridError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        to_grid(grid)


def test_largest_grid_is_accepted() -> None:
    assert len(to_grid([[9] * 30] * 30)) == 30


@pytest.mark.parametrize(
    "raw, field",
    [
        ({"train": [], "test": GOOD["test"]}, "train:"),
        ({"train": GOOD["train"]}, "test:"),
        ({"train": GOOD["train"], "test": []}, "test:"),
        ({"train": [{"input": [[1]]}], "test": GOOD["test"]}, "train[0].output: missing"),
        ({"train": [{"input": [[1], [2, 3]], "output": [[1]]}], "test": GOOD["test"]}, "train[0].input: grid is ragged"),
        ({"train": GOOD["train"], "test": [{"input": [[10]]}]}, "test[0].input: cell (0, 0) is 10"),
        ({"train": GOOD["train"], "test": [{}]}, "test[0].input: missing"),
    ],
)
def test_bad_task_names_its_field(raw: dict, field: str) -> None:
    with pytest.raises(GridError) as err:
        parse_task("t1", raw)
    assert str(err.value).startswith(field)


def test_solutions_must_match_test_inputs() -> None:
    with pytest.raises(GridError, match="solutions: expected a list of 1 grids"):
        parse_task("t1", GOOD, [[[1]], [[2]]])
    with pytest.raises(GridError, match=r"solutions\[0\]"):
        parse_task("t1", GOOD, [[[1, 11]]])


def test_file_with_a_bad_task_reports_it_and_keeps_the_rest(tmp_path: Path) -> None:
    bad = {"train": GOOD["train"], "test": [{"input": [[1, 2], [3]]}, {"input": [[1]]}]}
    path = _write(tmp_path, {"good": GOOD, "bad": bad, "also-good": GOOD})
    result = load_challenges(path)
    assert [t.id for t in result.tasks] == ["good", "also-good"]
    assert list(result.invalid) == ["bad"]
    assert result.invalid["bad"].startswith("test[0].input: grid is ragged")
    assert result.n_test == {"good": 1, "bad": 2, "also-good": 1}
    assert result.task_ids == ["good", "bad", "also-good"]


def test_limit_takes_the_first_tasks_in_file_order(tmp_path: Path) -> None:
    path = _write(tmp_path, {"b": GOOD, "a": GOOD, "c": GOOD})
    assert load_challenges(path, limit=2).task_ids == ["b", "a"]
    with pytest.raises(DataError, match="--limit"):
        load_challenges(path, limit=0)


def test_skip_then_limit_split_the_set_into_disjoint_chunks_in_order(tmp_path: Path) -> None:
    path = _write(tmp_path, {"b": GOOD, "a": GOOD, "c": GOOD, "d": {"train": [], "test": []}})
    chunks = [load_challenges(path, skip=s, limit=2).task_ids for s in (0, 2)]
    assert chunks == [["b", "a"], ["c", "d"]]
    assert load_challenges(path, skip=3).invalid.keys() == {"d"}, "a broken task in a chunk is still reported"
    assert load_challenges(path, skip=1, limit=2, order="smallest").task_ids == ["a", "b"]  # smallest: d, a, b, c
    with pytest.raises(DataError, match="--skip must be >= 0, got -1"):
        load_challenges(path, skip=-1)
    with pytest.raises(DataError, match=r"challenges.json: --skip 4 leaves no task \(it has 4 tasks\)"):
        load_challenges(path, skip=4)


def test_order_smallest_keeps_the_smallest_tasks_and_still_reports_broken_ones(tmp_path: Path) -> None:
    big = {"train": [{"input": [[1] * 9] * 9, "output": [[2] * 9] * 9}], "test": [{"input": [[3] * 9] * 9}]}
    broken = {"train": "not a list", "test": []}  # tiny JSON: sized like any other, kept, reported invalid
    path = _write(tmp_path, {"big": big, "small-b": GOOD, "small-a": GOOD, "broken": broken})
    result = load_challenges(path, limit=3, order="smallest")
    assert result.task_ids == ["broken", "small-a", "small-b"]
    assert list(result.invalid) == ["broken"]
    assert load_challenges(path, order="smallest").task_ids[-1] == "big"
    assert load_challenges(path, limit=1).task_ids == ["big"]  # file order stays the default
    with pytest.raises(DataError, match="--order"):
        load_challenges(path, order="largest")


def test_solutions_file_attaches_outputs(tmp_path: Path) -> None:
    path = _write(tmp_path, {"t1": GOOD})
    sols = _write(tmp_path, {"t1": [[[8, 7], [6, 5]]]}, "solutions.json")
    (task,) = load_challenges(path, sols).tasks
    assert task.test_outputs == (((8, 7), (6, 5)),)


def test_bad_solution_leaves_the_task_running_unscored(tmp_path: Path) -> None:
    path = _write(tmp_path, {"t1": GOOD, "t2": GOOD})
    sols = _write(tmp_path, {"t1": [[[8, 7], [6, 5]]], "t2": [[[10]]]}, "solutions.json")
    result = load_challenges(path, sols)
    assert result.task_ids == ["t1", "t2"] and not result.invalid
    t1, t2 = result.tasks
    assert t1.has_solutions and not t2.has_solutions
    assert result.warnings["t2"].startswith("solutions[0]") and "unscored" in result.warnings["t2"]


@pytest.mark.parametrize(
    "content, problem",
    [
        (None, "challenges file not found"),
        ("{not json", "challenges is not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("{}", "contains no tasks"),
    ],
)
def test_unusable_file_raises_data_error_naming_the_file(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "arc-agi_test_challenges.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError) as err:
        load_challenges(path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)


def test_unusable_solutions_file_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, {"t1": GOOD})
    sols = tmp_path / "sols.json"
    sols.write_text("[]")
    with pytest.raises(DataError, match=str(sols)):
        load_challenges(path, sols)
    with pytest.raises(DataError, match="solutions file not found"):
        load_challenges(path, tmp_path / "missing.json")


def test_directory_is_not_a_challenges_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory"):
        load_challenges(tmp_path)


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_sets_load_with_solutions(name: str) -> None:
    result = load_challenges(name, limit=3)
    assert len(result.tasks) == 3 and not result.invalid
    assert all(t.has_solutions for t in result.tasks)
    assert result.source == name


def test_write_kaggle_round_trips_through_load_challenges(tmp_path: Path) -> None:
    from tasks_lib.arc.data import write_kaggle

    tasks = load_challenges("arc1/eval", limit=3).tasks
    challenges, solutions = write_kaggle(tasks, tmp_path / "k")
    assert load_challenges(challenges, solutions).tasks == tasks
