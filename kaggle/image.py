"""The Kaggle image: the packages it provides and their dependency closure, which the offline bundle leaves out.

Contract:
- `kaggle/image.toml` names what the image provides: its Python (`python = "3.12"`) and exact versions of the
  distributions the bundle must never replace (`[provides]`: torch, transformers, peft). `ImageSpec.load` reads it;
  `ImageSpec.installed(names)` takes the same names at the versions the running interpreter has (the tests' stand-in
  for the image). Nothing else about the image is typed by hand.
- `walk_closure(roots, index, env)` is the dependency closure of `roots` through `index` (canonical name -> `Dist`):
  each Requires-Dist line's marker is evaluated in `env` with no extra (the roots' extras are off; an extra that a
  requirement itself names, `pkg[x]`, is followed, as pip installs it); each distribution is visited once, so cycles
  end. A requirement with no distribution in `index`, or whose distribution's version it excludes, is a `problem`
  (a sentence naming it and who requires it), never guessed.
- `installed_index()` is the running interpreter's distributions (importlib.metadata). `resolved_index(reqs, target)`
  is what pip resolves for a remote target from package metadata: `pip install --dry-run --report` with the pinned
  pip of `lock/tools.txt` (in a throwaway venv) and `--use-feature=fast-deps`, which reads each wheel's METADATA
  through HTTP range requests instead of downloading it (5 s and ~24 MB for torch 2.11's closure here, against ~2 GB
  with the venv's pip 23.2, which downloads every wheel even in a dry run).
- pip evaluates markers for the interpreter that runs it (3.11 here), not for `--python-version`; the walk evaluates
  them again for the target (`Target.marker_environment`), and a distribution that only the target needs is
  resolved in a second pip run. Versions pip picks for unpinned members of the closure are today's newest that fit
  the pins: the real image may hold others (the notebook names any difference that matters when it installs).
- `image_closure(spec, target)` is the one call the bundle makes; it raises `ImageError` naming the package.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys
import tempfile
import time
import tomllib
import venv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tasks_lib.config import ROOT

IMAGE_FILE = ROOT / "kaggle" / "image.toml"
TOOLS = ROOT / "lock" / "tools.txt"  # pins pip itself (26.3): the resolver for remote targets


class ImageError(RuntimeError):
    """The image's closure cannot be computed (a bad image file, a package pip cannot resolve, a broken environment)."""


class MarkerTarget(Protocol):
    """What the walk needs of a bundle target (kaggle.bundle.Target)."""

    python_version: str

    def pip_args(self) -> list[str]: ...

    def marker_environment(self) -> dict[str, str]: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class ImageSpec:
    """The image's Python ("3.12") and the distributions it provides, canonical name -> exact version."""

    python: str
    provides: dict[str, str]
    source: str  # the file it came from, or "this interpreter"

    @classmethod
    def load(cls, path: Path = IMAGE_FILE, overrides: Iterable[str] = ()) -> "ImageSpec":
        """Read `path`; `overrides` ("transformers==5.18.0") replace or add pins, for building against another image."""
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ImageError(f"{path}: cannot read the image file ({err})") from err
        python, provides = data.get("python"), data.get("provides")
        if not isinstance(python, str) or not isinstance(provides, dict) or not provides:
            raise ImageError(f"{path}: expected `python = \"3.12\"` and a non-empty [provides] table of name = \"version\"")
        pins = {canonicalize_name(k): str(v) for k, v in provides.items()}
        for line in overrides:
            name, sep, version = line.partition("==")
            if not sep or not name.strip() or not version.strip():
                raise ImageError(f"image pin {line!r}: expected name==version")
            pins[canonicalize_name(name.strip())] = version.strip()
        for name, version in pins.items():
            try:
                Version(version)
            except InvalidVersion as err:
                raise ImageError(f"{path}: {name} = {version!r} is not a version") from err
        return cls(python, pins, str(path))

    @classmethod
    def installed(cls, names: Iterable[str]) -> "ImageSpec":
        """`names` at the versions this interpreter has (the stand-in image of the tests)."""
        pins = {}
        for name in names:
            try:
                pins[canonicalize_name(name)] = md.version(name)
            except md.PackageNotFoundError as err:
                raise ImageError(f"{name} is not installed in {sys.executable}: it cannot stand in for the image") from err
        return cls(f"{sys.version_info.major}.{sys.version_info.minor}", pins, "this interpreter")

    def requirements(self) -> list[Requirement]:
        return [Requirement(f"{name}=={version}") for name, version in sorted(self.provides.items())]


@dataclass(frozen=True)
class Dist:
    """One distribution's metadata: canonical name, version, its Requires-Dist lines (markers included)."""

    name: str
    version: str
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Closure:
    """What a walk reached: name -> Dist, name -> who first required it ("" for a root), and what it could not reach."""

    dists: dict[str, Dist]
    required_by: dict[str, str]
    problems: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # canonical names with no distribution in the index


@dataclass(frozen=True)
class ImageClosure:
    """The image's spec and its closure for one target, with how it was computed."""

    spec: ImageSpec
    dists: dict[str, Dist]
    how: str  # "installed distributions" or "pip <version> dry run (fast-deps)"
    seconds: float = 0.0
    required_by: dict[str, str] = field(default_factory=dict)

    def names(self) -> set[str]:
        return set(self.dists)

    def manifest(self) -> dict:
        """The part of arc-ttt-bundle.json that says which image the bundle was built against."""
        return {"python": self.spec.python, "provides": dict(sorted(self.spec.provides.items())), "source": self.spec.source,
                "closure": {n: self.dists[n].version for n in sorted(self.dists)},
                "required_by": {n: self.required_by.get(n, "") for n in sorted(self.dists)},
                "computed_by": self.how, "seconds": round(self.seconds, 1)}


def _parse(line: str, parent: str) -> Requirement:
    try:
        return Requirement(line)
    except InvalidRequirement as err:
        raise ImageError(f"{parent}: cannot parse its requirement {line!r} ({err})") from err


def walk_closure(roots: Iterable[Requirement], index: Mapping[str, Dist], env: Mapping[str, str]) -> Closure:
    """The closure of `roots` through `index`, markers evaluated in `env` (see module doc)."""
    dists: dict[str, Dist] = {}
    required_by: dict[str, str] = {}
    problems: list[str] = []
    missing: list[str] = []
    seen: set[tuple[str, str]] = set()  # (name, extra) already expanded; "" is the package without extras
    stack: list[tuple[Requirement, str]] = [(r, "") for r in roots]
    while stack:
        req, parent = stack.pop()
        name = canonicalize_name(req.name)
        who = f" (required by {parent})" if parent else ""
        dist = index.get(name)
        if dist is None:
            problems.append(f"{req}{who}: no distribution of {name} is available")
            missing.append(name)
            continue
        if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            problems.append(f"{req}{who}: {name} {dist.version} does not satisfy it")
        dists.setdefault(name, dist)
        required_by.setdefault(name, parent)
        for extra in ("", *sorted(canonicalize_name(e) for e in req.extras)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for line in dist.requires:
                child = _parse(line, f"{dist.name} {dist.version}")
                if child.marker is None or child.marker.evaluate({**env, "extra": extra}):
                    if extra and child.marker is None:
                        continue  # already followed with the package itself
                    stack.append((child, f"{dist.name} {dist.version}"))
    return Closure(dists, required_by, tuple(problems), tuple(dict.fromkeys(missing)))


def installed_index(path: list[str] | None = None) -> dict[str, Dist]:
    """The distributions importlib.metadata finds on `path` (default sys.path); the first of a name wins, as import does."""
    index: dict[str, Dist] = {}
    for dist in md.distributions(**({"path": path} if path is not None else {})):
        name = dist.metadata["Name"]
        if name:
            index.setdefault(canonicalize_name(name), Dist(canonicalize_name(name), dist.version, tuple(dist.requires or ())))
    return index


def tool_pip(folder: Path) -> list[str]:
    """A venv in `folder` with lock/tools.txt installed (hash-checked), returned as the `python -m pip` command."""
    venv.EnvBuilder(with_pip=True).create(folder)
    python = str(folder / "bin" / "python")
    proc = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--require-hashes", "-r", str(TOOLS)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ImageError(f"installing {TOOLS.relative_to(ROOT)} (the pinned pip that resolves the image closure) failed: "
                         f"{(proc.stdout + proc.stderr).strip()[-1500:]}")
    return [python, "-m", "pip", "--disable-pip-version-check"]


def resolved_index(requirements: list[str], target: MarkerTarget, pip: list[str], work: Path) -> dict[str, Dist]:
    """What pip would install for `requirements` on `target`, from metadata only (see module doc)."""
    report = work / "report.json"
    cmd = [*pip, "install", "--dry-run", "--ignore-installed", "--quiet", "--use-feature=fast-deps", "--only-binary=:all:",
           "--report", str(report), "--target", str(work / "target"), *target.pip_args(), *requirements]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "is ignored" not in ln]
        raise ImageError(f"pip cannot resolve the image {' '.join(requirements)} for {target.describe()} "
                         f"(exit {proc.returncode}): {chr(10).join(lines[-12:])}")
    index = {}
    for item in json.loads(report.read_text())["install"]:
        meta = item["metadata"]
        name = canonicalize_name(meta["name"])
        index[name] = Dist(name, meta["version"], tuple(meta.get("requires_dist", ())))
    return index


def image_closure(spec: ImageSpec, target: MarkerTarget) -> ImageClosure:
    """The image's closure for `target`: from installed metadata for the native target, else resolved by pip."""
    t0 = time.time()
    env = target.marker_environment()
    if not target.python_version:
        walk = walk_closure(spec.requirements(), installed_index(), env)
        if walk.problems:
            raise ImageError(f"{sys.executable}'s environment does not hold the image's closure: " + "; ".join(walk.problems))
        return ImageClosure(spec, walk.dists, "installed distributions (importlib.metadata)", time.time() - t0, walk.required_by)
    requirements = [str(r) for r in spec.requirements()]
    with tempfile.TemporaryDirectory(prefix="arc-ttt-image-") as tmp:
        pip = tool_pip(Path(tmp) / "pip")
        version = subprocess.run([*pip, "--version"], capture_output=True, text=True).stdout.split()[1:2]
        index: dict[str, Dist] = {}
        for attempt in range(3):  # a second run picks up what only the target's markers need
            run = Path(tmp) / f"run{attempt}"
            run.mkdir()
            index = resolved_index(requirements, target, pip, run)
            walk = walk_closure(spec.requirements(), index, env)
            if not walk.missing:
                break
            requirements += [n for n in walk.missing if n not in requirements]
        if walk.problems:
            raise ImageError(f"the image closure for {target.describe()} is incomplete: " + "; ".join(walk.problems))
    how = f"pip {''.join(version) or '?'} dry run with fast-deps (package metadata only)"
    return ImageClosure(spec, walk.dists, how, time.time() - t0, walk.required_by)
