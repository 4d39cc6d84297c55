"""The project's environment from its committed lock: install it, check it, refresh it (standard library only).

    python3 lock/env.py install [--venv .venv]   # a venv with exactly lock/cpu.txt, then this project (editable)
    python3 lock/env.py check                    # exit 1 when lock/cpu.txt was made from other inputs
    python3 lock/env.py refresh                  # re-resolve with pip-tools (lock/tools.txt); review, run the suite, commit

Contract:
- `lock/cpu.txt` is pip-compile's output for this machine kind (CPython 3.11, x86_64 Linux, CPU torch): every
  distribution of the test environment with its exact version and sha256 hashes, installed with
  `pip install --require-hashes --no-deps`, so nothing outside the lock can enter and nothing is re-resolved.
- Its `# inputs-sha256:` line is a digest of what it was resolved from (`inputs_digest`): pyproject.toml's
  requirements (project, the `test` extra, build system, Python range) and `lock/cpu-constraints.txt`. `install`
  and `check` refuse a lock whose digest differs, saying which command refreshes it; an edit to pyproject.toml
  that is not followed by a refresh never installs silently.
- `refresh` installs the pinned pip-tools (`lock/tools.txt`, itself hashed) into a throwaway venv, resolves
  pyproject.toml's requirements with the `test` extra under `lock/cpu-constraints.txt`, and writes the digest.
- The environment holds the lock and this project alone: `tests/test_lock.py` fails when anything else is
  installed, or a pin differs from what is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "lock" / "cpu.txt"
CONSTRAINTS = ROOT / "lock" / "cpu-constraints.txt"
TOOLS = ROOT / "lock" / "tools.txt"
PYPROJECT = ROOT / "pyproject.toml"
EXTRAS = ("test", "browser")  # optional dependency groups the lock covers (vllm is not locked: it pins its own torch)
PYTHON = (3, 11)  # the interpreter the lock was resolved for (this machine kind's python3)
DIGEST_PREFIX = "# inputs-sha256: "
REFRESH = "python3 lock/env.py refresh"


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


class LockError(RuntimeError):
    """The lock cannot be used as it is (stale, missing, another Python); the message says what to run."""


def inputs_digest(pyproject: Path | None = None, constraints: Path | None = None) -> str:
    """sha256 of what the lock is resolved from: pyproject's requirements and the constraints file's lines."""
    pyproject, constraints = pyproject or PYPROJECT, constraints or CONSTRAINTS
    data = tomllib.loads(pyproject.read_text())
    project = data.get("project", {})
    optional = project.get("optional-dependencies", {})
    inputs = {
        "requires-python": project.get("requires-python", ""),
        "dependencies": sorted(project.get("dependencies", [])),
        "extras": {name: sorted(optional.get(name, [])) for name in EXTRAS},
        "build-system": sorted(data.get("build-system", {}).get("requires", [])),
        "constraints": [line.strip() for line in constraints.read_text().splitlines() if line.strip() and not line.startswith("#")],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def recorded_digest(lock: Path | None = None) -> str | None:
    lock = lock or LOCK
    if not lock.exists():
        return None
    for line in lock.read_text().splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line[len(DIGEST_PREFIX):].strip()
    return None


def check(lock: Path | None = None, pyproject: Path | None = None, constraints: Path | None = None) -> None:
    """Raise `LockError` unless `lock` (default LOCK) was resolved from the current pyproject.toml and constraints."""
    lock = lock or LOCK
    if not lock.exists():
        raise LockError(f"{_shown(lock)} is missing: make it with `{REFRESH}`")
    recorded = recorded_digest(lock)
    if recorded != inputs_digest(pyproject, constraints):
        what = "has no inputs-sha256 line" if recorded is None else "was resolved from another pyproject.toml or lock/cpu-constraints.txt"
        raise LockError(f"{_shown(lock)} {what}: refresh it with `{REFRESH}`, run the full suite, and commit both files")


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, cwd=ROOT)
    if proc.returncode != 0:
        raise LockError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}")


def install(env: Path) -> None:
    """Create `env` (or reuse it), install exactly the lock, then this project editable without dependencies."""
    check()
    if sys.version_info[:2] != PYTHON:
        raise LockError(f"lock/cpu.txt is resolved for Python {PYTHON[0]}.{PYTHON[1]}; this is {sys.version.split()[0]}: "
                        f"run it with python{PYTHON[0]}.{PYTHON[1]}, or refresh the lock for this Python with `{REFRESH}`")
    if not (env / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=True).create(env)
    python = str(env / "bin" / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "install", "-q", "--require-hashes", "--no-deps", "-r", str(LOCK)], "installing lock/cpu.txt")
    _run([*pip, "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(ROOT)], "installing arc-ttt")
    _run([*pip, "check"], "pip check (a requirement the lock does not satisfy)")


def refresh() -> None:
    """Re-resolve the lock with the pinned pip-tools and stamp it with its inputs' digest."""
    with tempfile.TemporaryDirectory(prefix="arc-ttt-lock-") as tmp:
        tool = Path(tmp) / "venv"
        venv.EnvBuilder(with_pip=True).create(tool)
        python = str(tool / "bin" / "python")
        _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--require-hashes", "-r", str(TOOLS)], "installing pip-tools")
        out = Path(tmp) / "cpu.txt"
        extras = [f"--extra={name}" for name in EXTRAS]
        _run([python, "-m", "piptools", "compile", "--quiet", "--generate-hashes", "--allow-unsafe", "--strip-extras",
              "--no-emit-index-url", "--no-emit-find-links", "--no-header", *extras,
              f"--constraint={CONSTRAINTS.relative_to(ROOT)}", f"--output-file={out}", "pyproject.toml"], "pip-compile")
        header = (f"# The CPU test environment, for CPython {PYTHON[0]}.{PYTHON[1]} on x86_64 Linux: every distribution, exact "
                  f"versions, sha256 hashes.\n# Made by `{REFRESH}` (pip-tools, lock/tools.txt) from pyproject.toml "
                  f"(extras: {', '.join(EXTRAS)}) and lock/cpu-constraints.txt;\n# installed by `python3 lock/env.py install`. "
                  f"Do not edit by hand.\n{DIGEST_PREFIX}{inputs_digest()}\n\n")
        LOCK.write_text(header + out.read_text())
    print(f"wrote {LOCK.relative_to(ROOT)}: review the diff, run the full suite (bash .ci/run), commit it with pyproject.toml")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="make a venv from lock/cpu.txt and install this project into it").add_argument(
        "--venv", default=str(ROOT / ".venv"), help="the venv folder (default .venv in the checkout)")
    sub.add_parser("check", help="exit 1 when the lock is stale")
    sub.add_parser("refresh", help="re-resolve lock/cpu.txt (needs the package index)")
    args = p.parse_args(argv)
    try:
        if args.command == "install":
            install(Path(args.venv))
        elif args.command == "check":
            check()
            print("lock/cpu.txt matches pyproject.toml and lock/cpu-constraints.txt")
        else:
            refresh()
    except LockError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
