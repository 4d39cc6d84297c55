"""Shared test fixtures.

Contract: fixtures cost nothing until a test asks for them. The tiny model and the real ARC tasks are
built or loaded once per session; `prefect_harness` (a temporary Prefect server, ~14 s) is only for the
few flow tests. `fast_profile` writes a profile YAML for quick CLI runs; `offline_env` is the
environment a `python flows/submit.py` subprocess gets (its own Prefect home, no Prefect server).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tasks_lib.arc.data import Task, load_challenges, write_kaggle  # noqa: E402
from tasks_lib.config import ModelConfig  # noqa: E402

# Smaller than the embedded default (hidden 128, 4 layers): head_dim 32 is the least the model allows.
TINY = dict(hidden=64, layers=2, heads=2, intermediate=128, max_positions=2048)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight Llama-shaped model with the ARC vocabulary, saved like any HF model."""
    from tasks_lib.adapting.model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("model") / "arc-tiny-test", **TINY)


@pytest.fixture(scope="session")
def model_cfg(tiny_model: Path) -> ModelConfig:
    return ModelConfig(path=str(tiny_model), dtype="float32", lora_rank=4, max_tokens=1024)


@pytest.fixture(scope="session")
def arc1_eval() -> list[Task]:
    """All tasks of the bundled ARC-AGI-1 evaluation set, in file order."""
    return load_challenges("arc1/eval").tasks


@pytest.fixture(scope="session")
def small_tasks(arc1_eval: list[Task]) -> list[Task]:
    """The three smallest real tasks (by cell count), smallest first: cheap to train and sample."""
    return sorted(arc1_eval, key=lambda t: t.cells)[:3]


@pytest.fixture(scope="session")
def multi_test_task(arc1_eval: list[Task]) -> Task:
    """The smallest real task with more than one test input."""
    return min((t for t in arc1_eval if len(t.test_inputs) > 1), key=lambda t: t.cells)


def kaggle_files(tasks: list[Task], folder: Path) -> tuple[Path, Path]:
    """Write `tasks` as a Kaggle challenges JSON and solutions JSON; return both paths."""
    return write_kaggle(tasks, folder)


def fast_profile(folder: Path, **sections: dict) -> Path:
    """Write a fast CPU profile YAML into `folder` (few steps, two greedy views, GPU locks kept in `folder`);
    keyword arguments override fields section by section."""
    profile: dict[str, dict] = {
        "model": {"dtype": "float32", "lora_rank": 4, "max_tokens": 1024},
        "train": {"max_steps": 3},
        "sample": {"views": 2, "samples_per_view": 1},
        "slots": {"device": "cpu", "cpu_slots": 2, "threads_per_slot": 1, "lock_dir": str(folder / "locks")},
    }
    for name, values in sections.items():
        profile.setdefault(name, {}).update(values)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "test-profile.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path


@pytest.fixture(scope="session")
def offline_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for a CLI subprocess: the local temporary Prefect server with a Prefect home of its own
    (shared by the session's CLI runs, so only the first pays the cold start)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        PREFECT_HOME=str(tmp_path_factory.mktemp("prefect-home")),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A temporary Prefect server and database for the whole session (flow tests only)."""
    with pytest.MonkeyPatch.context() as mp:
        if "prefect" not in sys.modules:  # Prefect reads its home when first imported
            mp.setenv("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-harness-home")))
        from flows import prefect_env  # noqa: F401  (offline defaults, as a real run sets them)
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=None):
            yield
