"""Training tasks' own rules (`tasks_lib.pretraining.rules`, `tasks_lib.pretraining.rule_tasks`): every registered rule reproduces every
given pair of its task and samples valid, varied, seed-determined pairs; only eligible training tasks have rules
(no evaluation task, no ARC-AGI-2 copy of one); a wrong rule fails verification; fresh tasks meet their contract;
coverage and the CLI report them; pretraining draws them as generated tasks only when asked."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tasks_lib.arc.data import load_challenges, to_grid
from tasks_lib.pretraining.config import PretrainConfig
from tasks_lib.pretraining.generate import MAX_TASK_CELLS
from tasks_lib.pretraining.pretrain import generated_tasks
from tasks_lib.pretraining.pretrain_data import GENERATED_PREFIX, training_tasks
from tasks_lib.pretraining.rule_tasks import (HOLDOUT, PREFIX, coverage, held_out_ids, main, make_task, rule_tasks,
                                  training_sets, verified_ids, verify)
from tasks_lib.pretraining.rules import RULES, Rule
from tasks_lib.pretraining.rules.base import Registry, flip_lr, freeze


@pytest.mark.parametrize("task_id", sorted(RULES))
def test_rule_reproduces_its_task_and_samples_valid_varied_pairs(task_id: str) -> None:
    assert verify(task_id) == []


def test_only_eligible_training_tasks_have_rules() -> None:
    eval_ids = {t.id for name in HOLDOUT for t in load_challenges(name).tasks}
    train_ids = set().union(*training_sets().values())
    for tid in RULES:
        assert tid in train_ids, tid
        assert tid not in eval_ids, tid
        assert tid not in held_out_ids(), tid


def test_held_out_ids_are_the_arc2_training_copies_of_evaluation_tasks() -> None:
    arc2 = set(training_sets()["arc2/train"])
    held = held_out_ids()
    assert len(held & arc2) >= 370  # ARC-AGI-2 training holds 376-379 ARC-AGI-1 evaluation tasks
    assert "e345f17b" in held  # an ARC-AGI-1 evaluation task inside ARC-AGI-2 training
    assert verify("e345f17b") != []


def test_a_wrong_rule_or_a_constant_sampler_fails_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    right = RULES["3c9b0459"]  # rotate by 180 degrees
    monkeypatch.setitem(RULES, "3c9b0459", Rule("3c9b0459", flip_lr, right.sample))
    assert any("does not reproduce" in p for p in verify("3c9b0459"))
    fixed = right.sample(random.Random(0))
    monkeypatch.setitem(RULES, "3c9b0459", Rule("3c9b0459", right.solve, lambda rng: fixed))
    assert any("too few" in p for p in verify("3c9b0459"))
    monkeypatch.setitem(RULES, "3c9b0459", Rule("3c9b0459", lambda g: 1 / 0, right.sample))
    assert any("ZeroDivisionError" in p for p in verify("3c9b0459"))
    with pytest.raises(ValueError, match="3c9b0459"):
        registry = Registry()
        registry.add("3c9b0459", right.solve, right.sample)
        registry.add("3c9b0459", right.solve, right.sample)


def test_fresh_tasks_meet_their_contract_and_follow_the_seed() -> None:
    for tid in verified_ids():
        task = make_task(tid, 7)
        assert task == make_task(tid, 7)
        assert task.id == f"{PREFIX}{tid}-7" and task.id.startswith(GENERATED_PREFIX)
        pairs = [(p.input, p.output) for p in task.train] + list(zip(task.test_inputs, task.test_outputs))
        assert len(pairs) >= 2 and task.has_solutions
        assert len({x for x, _ in pairs}) == len(pairs), tid
        assert all(x != y and to_grid(x) == x and to_grid(y) == y for x, y in pairs), tid
        assert len({y for _, y in pairs}) > 1, tid
        assert sum(len(g) * len(g[0]) for pair in pairs for g in pair) <= MAX_TASK_CELLS, tid
        assert all(freeze(RULES[tid].solve(x)) == y for x, y in pairs), tid
    assert make_task("3c9b0459", 1) != make_task("3c9b0459", 2)
    with pytest.raises(ValueError, match="not-a-task"):
        make_task("not-a-task", 0)


def _digest(tasks: list) -> str:
    return hashlib.sha256(repr(tasks).encode()).hexdigest()


def test_fresh_tasks_do_not_depend_on_the_process_hash_seed() -> None:
    code = ("import hashlib; from tasks_lib.pretraining.rule_tasks import make_task; from tasks_lib.pretraining.rules import RULES; "
            "print(hashlib.sha256(repr([make_task(t, 5) for t in sorted(RULES)]).encode()).hexdigest())")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)}
    other = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == _digest([make_task(t, 5) for t in sorted(RULES)])


def test_coverage_lists_every_verified_rule_under_its_sets() -> None:
    cov = coverage()
    assert set(cov) == {"arc1/train", "arc2/train"}
    assert set().union(*map(set, cov.values())) == set(verified_ids())
    for name, ids in cov.items():
        assert all(tid in training_sets()[name] for tid in ids)
    assert len(verified_ids()) == len(RULES)  # every registered rule is verified (the test above says which fails)


def test_cli_prints_coverage_and_writes_kaggle_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--coverage"]) == 0
    printed = capsys.readouterr().out
    assert f"arc1/train: {len(coverage()['arc1/train'])} tasks with a verified rule" in printed
    assert "FAILS" not in printed
    assert main(["--out", str(tmp_path), "--per-task", "1"]) == 0
    loaded = load_challenges(tmp_path / "challenges.json", tmp_path / "solutions.json")
    assert len(loaded.tasks) == len(verified_ids()) and not loaded.invalid
    assert all(t.has_solutions for t in loaded.tasks)


def test_pretraining_draws_rule_tasks_as_generated_tasks_only_when_asked() -> None:
    assert generated_tasks(PretrainConfig(out="x")) == {}
    with pytest.raises(ValueError, match="rule_tasks"):
        PretrainConfig(out="x", rule_tasks=-1)
    sources = generated_tasks(PretrainConfig(out="x", rule_tasks=2, generated_seed=3))
    ((name, tasks),) = sources.items()
    assert name == "rules(2 per task, seed 3)"
    assert len(tasks) == 2 * len(verified_ids()) and tasks[:40] == rule_tasks(2, 3, verified_ids()[:20])  # in the ids' order
    kept, report = training_tasks(["arc1/train"], ["arc1/eval", "arc2/eval"], extra=sources)
    assert report.per_source[name] >= 0.95 * len(tasks)  # fresh pairs rarely repeat an evaluation pair by chance
    assert sum(t.id.startswith(PREFIX) for t in kept) == report.per_source[name]


def test_rule_tasks_and_generated_tasks_are_the_same_made_in_several_processes() -> None:
    from tasks_lib.pretraining.generate import generate_tasks

    from tasks_lib.pretraining.generate import in_processes

    ids = verified_ids()[:12]
    assert rule_tasks(2, 3, ids, processes=2) == rule_tasks(2, 3, ids)
    assert generate_tasks(60, 1, processes=2) == generate_tasks(60, 1)
    assert in_processes(divmod, [(n, 7) for n in range(50)], processes=3) == [divmod(n, 7) for n in range(50)], "in order"
