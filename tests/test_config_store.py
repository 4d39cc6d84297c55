"""Profiles and configs validate (every shipped profile loads; bad values and unknown keys name the
section and field), and the run store writes atomically and never trusts a broken result.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks_lib.arc.records import TaskResult
from tasks_lib.arc.store import RunDir, StoreError, atomic_write_json, safe_name
from tasks_lib.config import PROFILES_DIR, STAGES, ConfigError, RunConfig, load_profile


def _profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def test_the_required_profiles_exist() -> None:
    names = _profiles()
    assert {"cpu", "kaggle-4xl4"} <= set(names)
    assert any(n.startswith("h100") for n in names)


@pytest.mark.parametrize("name", _profiles())
def test_every_profile_loads_and_validates(name: str) -> None:
    cfg = load_profile(name)
    assert cfg.profile == name and cfg.description
    assert cfg.budget.reserve_seconds < cfg.budget.total_seconds
    assert set(cfg.to_dict()) >= set(STAGES)


def test_cpu_profile_uses_the_cpu_and_the_embedded_model() -> None:
    cfg = load_profile("cpu")
    assert cfg.slots.device == "cpu"
    assert cfg.model.resolved_path == PROFILES_DIR.parent / "models" / "arc-base-5m"


@pytest.mark.parametrize(
    "overrides, where",
    [
        ({"model": {"lora_rank": 0}}, "model.lora_rank=0"),
        ({"model": {"dtype": "int4"}}, "model.dtype='int4'"),
        ({"model": {"max_tokens": 10}}, "model.max_tokens=10"),
        ({"train": {"lr": -1.0}}, "train.lr=-1.0"),
        ({"train": {"max_steps": 2.5}}, "train.max_steps=2.5"),
        ({"sample": {"views": 0}}, "sample.views=0"),
        ({"sample": {"temperature": 0}}, "sample.temperature=0"),
        ({"vote": {"rule": "majority"}}, "vote.rule='majority'"),
        ({"budget": {"total_seconds": 10, "reserve_seconds": 20}}, "budget.reserve_seconds=20"),
        ({"budget": {"train_fraction": 1.0}}, "budget.train_fraction=1.0"),
        ({"slots": {"device": "tpu"}}, "slots.device='tpu'"),
        ({"slots": {"cpu_slots": "2"}}, "slots.cpu_slots='2'"),
    ],
)
def test_bad_values_name_section_and_field(overrides: dict, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        RunConfig().replace(overrides)
    assert str(err.value).startswith(where)


def test_ints_are_accepted_for_floats() -> None:
    cfg = RunConfig().replace({"budget": {"total_seconds": 60}})
    assert cfg.budget.total_seconds == 60.0 and isinstance(cfg.budget.total_seconds, float)


def test_unknown_keys_are_errors() -> None:
    with pytest.raises(ConfigError, match="unknown config section 'trian'"):
        RunConfig().replace({"trian": {"lr": 0.1}})
    with pytest.raises(ConfigError, match=r"^train\.learning_rate: unknown field"):
        RunConfig().replace({"train": {"learning_rate": 0.1}})
    with pytest.raises(ConfigError, match="expected a mapping"):
        RunConfig().replace({"train": 3})


def test_profile_file_errors_name_the_file(tmp_path: Path) -> None:
    refused = [  # (file, its text, what the error says; {path} is the file's path)
        ("bad.yaml", "sample:\n  views: 100\n", r"{path}: sample\.views=100"),
        ("broken.yaml", "train: [unclosed\n", "not valid YAML"),
        ("twice.yaml", "schedule:\n  refine: true\nslots:\n  gpus: 1\nschedule:\n  min_task_seconds: 2\n",
         r"(?s){path}: not valid YAML .*key 'schedule' appears twice.*line 5"),
        ("nested.yaml", "train:\n  lr: 0.1\n  lr: 0.2\n", "key 'lr' appears twice"),
    ]
    for name, text, says in refused:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ConfigError, match=says.format(path=path)):
            load_profile(str(path))
    with pytest.raises(ConfigError, match="profile 'no-such-profile' not found"):
        load_profile("no-such-profile")


def test_every_shipped_profile_loads() -> None:
    for path in sorted(PROFILES_DIR.glob("*.yaml")):
        assert load_profile(str(path)).profile == path.stem


def test_a_profile_path_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("description: mine\ntrain:\n  max_steps: 3\n")
    cfg = load_profile(str(path))
    assert cfg.profile == "mine" and cfg.description == "mine"
    assert cfg.train.max_steps == 3 and cfg.train.lr == RunConfig().train.lr


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.json"
    atomic_write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    with pytest.raises(TypeError):
        atomic_write_json(path, {"a": object()})  # fails part-way through serialising
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]


def _result(tid: str) -> dict:
    return {"task_id": tid, "status": "ok", "attempts": [{"attempt_1": [[1]], "attempt_2": [[2]]}]}


@pytest.mark.parametrize(
    "content",
    [
        "{\"task_id\": \"t1\", \"status\":",  # cut off mid-write
        "",
        "[]",
        json.dumps({"task_id": "t1", "status": "ok"}),
        json.dumps({**_result("t1"), "task_id": "other"}),
        json.dumps({**_result("t1"), "attempts": [{"attempt_1": [[1]]}]}),
        json.dumps({**_result("t1"), "attempts": "none"}),
    ],
)
def test_a_broken_result_is_ignored(tmp_path: Path, content: str) -> None:
    run = RunDir(tmp_path)
    run.write_result(TaskResult.from_json(_result("t2")))
    run.result_path("t1").parent.mkdir(parents=True)
    run.result_path("t1").write_text(content)
    assert run.read_result("t1") is None
    assert list(run.finished(["t1", "t2", "t3"])) == ["t2"]


def test_task_ids_never_escape_the_run_dir(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    for tid in ["../../etc", "a/b", "..", ".", ""]:
        assert tmp_path / "tasks" in run.task_dir(tid).parents
        assert "/" not in safe_name(tid)


def test_unwritable_output_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=str(blocker)):
        RunDir(blocker / "out").check_writable()
def test_atomic_write_follows_umask(tmp_path):
    """Results are readable by the group/others the umask allows, not owner-only like a bare mkstemp file."""
    import os
    import stat

    from tasks_lib.arc.store import _UMASK, atomic_write_json

    path = tmp_path / "x.json"
    atomic_write_json(path, {"a": 1})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~_UMASK


def test_ids_that_sanitize_alike_get_different_folders(tmp_path):
    run = RunDir(tmp_path)
    assert run.task_dir("a/b") != run.task_dir("a_b") and run.task_dir("a_b").name == "a_b"
    assert run.task_dir("..").parent == tmp_path / "tasks"


def test_a_time_budget_keeps_the_reserve_to_a_tenth_of_it() -> None:
    from tasks_lib.config import RESERVE_SHARE, BudgetConfig

    cfg = BudgetConfig(reserve_seconds=5.0)
    assert cfg.for_total(20) == {"total_seconds": 20.0, "reserve_seconds": 20 * RESERVE_SHARE}  # 2 s, not 5
    assert cfg.for_total(3600) == {"total_seconds": 3600.0, "reserve_seconds": 5.0}  # the profile's own
