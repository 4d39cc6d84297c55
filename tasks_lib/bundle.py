"""The offline Kaggle bundle: one folder to upload as a Kaggle dataset, installable with no internet.

Contract:
- `build_bundle(out, target)` writes `out/` (which must not exist yet) with
  - `wheels/`: a wheel for every package that this project's dependencies need for `target`, except the
    packages the Kaggle image already has (`kaggle/image-packages.txt`: torch, transformers, peft and their
    dependency closure), plus this project's own wheel (`arc_ttt-*.whl`, whose requirements pull the rest);
  - `repo/`: what a run reads from the checkout (`flows/`, `tasks_lib/`, `profiles/`, `kaggle/`,
    `pyproject.toml`, `README.md`) and the shipped models `models/arc-grid-15m` (without its pretraining optimizer state), `models/arc-base-5m`;
  - `arc-ttt.ipynb`: the notebook, built from `kaggle/notebook.py` (`notebook_json`);
  - `arc-ttt-bundle.json`: the target, the wheels with their sizes, the total size and the git commit.
  The folder is built next to `out` and renamed into place, so a failed build leaves nothing at `out`.
- Wheels only (`pip download --only-binary=:all:` for the target's Python, ABI and platforms): a needed
  package with no wheel for the target raises `BundleError` naming the package and the target.
- `KAGGLE` is the default target: CPython 3.12 on x86_64 Linux, glibc 2.35 (see its comment); `Target.native()`
  is the interpreter running the build (the tests install the bundle here).
- `notebook_json(script)` turns a `# %%`-delimited script into an .ipynb document (one code cell per block,
  markdown for `# %% [markdown]` blocks), so the notebook and the plain script are the same code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from tasks_lib.config import ROOT

IMAGE_LIST = ROOT / "kaggle" / "image-packages.txt"
NOTEBOOK_SCRIPT = ROOT / "kaggle" / "notebook.py"
MANIFEST = "arc-ttt-bundle.json"
REPO_PARTS = ("flows", "tasks_lib", "profiles", "kaggle", "pyproject.toml", "README.md",
              "models/arc-grid-15m", "models/arc-base-5m")
# caches, and a model's compact pretraining optimizer state (tasks_lib/checkpoint.py: only pretraining reads it)
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info", "optimizer-*.safetensors", "trainer_state.json")


class BundleError(RuntimeError):
    """The bundle cannot be built (a package has no wheel for the target, pip failed, `out` exists)."""


@dataclass(frozen=True)
class Target:
    """Where the wheels must install: `python_version` "3.12", `platforms` pip platform tags (most specific
    first); both empty for the interpreter running the build."""

    python_version: str = ""
    platforms: tuple[str, ...] = ()
    abis: tuple[str, ...] = ()

    @classmethod
    def native(cls) -> "Target":
        return cls()

    @classmethod
    def linux(cls, python_version: str, glibc: str = "2.35", arch: str = "x86_64") -> "Target":
        """CPython `python_version` on manylinux up to glibc `glibc` (pip does not expand manylinux_2_X itself)."""
        major, minor = (int(x) for x in glibc.split("."))
        tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 4, -1)]
        tags += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}", f"linux_{arch}"]
        cp = "cp" + python_version.replace(".", "")
        return cls(python_version, tuple(tags), (cp, "abi3", "none"))

    def pip_args(self) -> list[str]:
        if not self.python_version:
            return []
        args = ["--python-version", self.python_version, "--implementation", "cp"]
        for abi in self.abis:
            args += ["--abi", abi]
        for tag in self.platforms:
            args += ["--platform", tag]
        return args

    def describe(self) -> str:
        if not self.python_version:
            return f"this interpreter (Python {sys.version_info.major}.{sys.version_info.minor}, {sys.platform})"
        return f"CPython {self.python_version}, {self.platforms[0]}"


# The Kaggle GPU image: Kaggle/docker-python's Dockerfile.tmpl (commit 78aaa43, 2026-08-12) builds FROM Colab's
# GPU runtime and installs into /usr/local/lib/python3.12/dist-packages, so Python 3.12 on x86_64. glibc 2.35 is
# Ubuntu 22.04's, which Colab runtimes are based on: an assumption (the Dockerfile does not say), and the wheels
# pip picks for Linux need at most manylinux_2_34 (cryptography) today.
KAGGLE = Target.linux("3.12", "2.35")


@dataclass
class BundleReport:
    out: Path
    target: str
    wheels: dict[str, int] = field(default_factory=dict)  # file name -> bytes
    left_out: list[str] = field(default_factory=list)  # packages the image has (not bundled)
    size_bytes: int = 0

    def summary(self) -> str:
        wheel_mb = sum(self.wheels.values()) / 1e6
        return (f"{self.out}: {self.size_bytes / 1e6:.1f} MB in all, {len(self.wheels)} wheels ({wheel_mb:.1f} MB) for "
                f"{self.target}; left to the image: {', '.join(self.left_out) or 'nothing'}")


def image_packages(path: Path = IMAGE_LIST) -> set[str]:
    """Canonical names from the image list (one per line, `#` comments)."""
    names = set()
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if not re.fullmatch(r"[A-Za-z0-9._-]+", line):
            raise BundleError(f"{path}:{n}: expected one package name, got {line!r}")
        names.add(canonicalize_name(line))
    return names


def project_requirements(root: Path = ROOT) -> list[Requirement]:
    """`[project].dependencies` of `root/pyproject.toml`."""
    data = tomllib.loads((root / "pyproject.toml").read_text())
    return [Requirement(r) for r in data["project"]["dependencies"]]


def _missing_package(pip_output: str) -> str | None:
    match = re.search(r"No matching distribution found for ([^\s;]+)", pip_output) or \
        re.search(r"Could not find a version that satisfies the requirement ([^\s;]+)", pip_output)
    return match.group(1) if match else None


def download_wheels(requirements: list[str], dest: Path, target: Target, pip_args: list[str] = ()) -> None:
    """`pip download` wheels (only) for `requirements` and everything they need into `dest`."""
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
           "--dest", str(dest), *target.pip_args(), *pip_args, *requirements]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        missing = _missing_package(output)
        if missing:
            raise BundleError(f"no wheel of {missing} for {target.describe()}: the bundle would not install offline "
                              f"(pip download: {output.strip().splitlines()[-1]})")
        raise BundleError(f"pip download failed (exit {proc.returncode}): {output.strip()[-2000:]}")


def build_project_wheel(dest: Path, root: Path = ROOT) -> Path:
    """This project's wheel (no dependencies), built from a copy so the checkout gets no build/ or egg-info."""
    with tempfile.TemporaryDirectory(prefix="arc-ttt-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for part in ("pyproject.toml", "README.md", "tasks_lib"):
            path = root / part
            if path.is_dir():
                shutil.copytree(path, src / part, ignore=_SKIP)
            else:
                shutil.copy2(path, src / part)
        cmd = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "--no-build-isolation",
               "--wheel-dir", str(dest), str(src)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BundleError(f"could not build the arc-ttt wheel: {(proc.stdout + proc.stderr).strip()[-2000:]}")
    wheels = sorted(dest.glob("arc_ttt-*.whl"))
    if not wheels:
        raise BundleError(f"pip wheel wrote no arc_ttt wheel into {dest}")
    return wheels[-1]


def copy_repo(dest: Path, root: Path = ROOT) -> None:
    """The parts of the checkout a run reads (REPO_PARTS), without caches."""
    for part in REPO_PARTS:
        path = root / part
        if not path.exists():
            raise BundleError(f"{path}: missing from the checkout; the bundle needs it")
        (dest / part).parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, dest / part, ignore=_SKIP)
        else:
            shutil.copy2(path, dest / part)


def notebook_json(script: str) -> dict:
    """An nbformat-4 notebook with one cell per `# %%` block of `script` (`# %% [markdown]`: a markdown cell
    whose lines drop their leading `# `)."""
    cells = []
    for block in re.split(r"^(?=# %%)", script, flags=re.M):
        if not block.strip():
            continue
        head, _, body = block.partition("\n")
        if not head.startswith("# %%"):  # text before the first marker
            body = block
        body = body.strip("\n")
        if head.startswith("# %% [markdown]"):
            lines = [re.sub(r"^# ?", "", line) for line in body.splitlines()]
            cells.append({"cell_type": "markdown", "metadata": {}, "source": "\n".join(lines).splitlines(keepends=True)})
        else:
            cells.append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": body.splitlines(keepends=True)})
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                                         "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def notebook_script(nb: dict) -> str:
    """The code of a notebook's code cells, blocks separated by blank lines (to compare with the script)."""
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _git_commit(root: Path) -> str | None:
    """HEAD's id, with `+dirty` when the working tree has changes (they are what the bundle holds)."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    commit = head.stdout.strip()
    return (commit + ("+dirty" if dirty.stdout.strip() else "")) if commit else None


def build_bundle(out: str | Path, target: Target = KAGGLE, root: Path = ROOT, image_list: Path = IMAGE_LIST,
                 pip_args: list[str] = ()) -> BundleReport:
    """Build the bundle at `out` (see module doc); `pip_args` go to `pip download` (e.g. an index)."""
    out = Path(out).resolve()
    if out.exists():
        raise BundleError(f"{out}: already exists; give a new folder")
    image = image_packages(image_list)
    wanted = [r for r in project_requirements(root) if canonicalize_name(r.name) not in image]
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        wheels = work / "wheels"
        wheels.mkdir()
        download_wheels([str(r) for r in wanted], wheels, target, list(pip_args))
        left_out = set()
        for whl in list(wheels.glob("*.whl")):
            name = canonicalize_name(parse_wheel_filename(whl.name)[0])
            if name in image:
                left_out.add(name)
                whl.unlink()
        build_project_wheel(wheels, root)
        copy_repo(work / "repo", root)
        (work / "arc-ttt.ipynb").write_text(json.dumps(notebook_json((root / "kaggle" / "notebook.py").read_text()), indent=1) + "\n")
        report = BundleReport(out, target.describe(), {w.name: w.stat().st_size for w in sorted(wheels.glob("*.whl"))},
                              sorted(left_out | {canonicalize_name(r.name) for r in project_requirements(root)} & image))
        manifest = {"target": {"description": report.target, "python_version": target.python_version or
                               f"{sys.version_info.major}.{sys.version_info.minor}", "platforms": list(target.platforms)},
                    "commit": _git_commit(root), "wheels": report.wheels, "left_to_image": report.left_out}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        report.size_bytes = _size(work)
        work.chmod(0o755)  # mkdtemp made it owner-only; the bundle is for others to read
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return report
