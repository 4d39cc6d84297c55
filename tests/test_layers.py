"""The floor plan of tasks_lib (its __init__ docstring): each sub-package imports only its own modules and the floors
below it, never a sibling on its floor or a floor above; and no two modules import each other, directly or in a loop.
Every import counts: at the top, inside functions (lazy) and under TYPE_CHECKING."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tasks_lib

ROOT = Path(tasks_lib.__file__).resolve().parent
# Floor by floor, from the ground up (tasks_lib/__init__.py's docstring says the same in words).
FLOORS = [["arc"], ["config"], ["adapting", "reports"], ["decoding"], ["running", "pretraining"]]
FLOOR = {part: level for level, parts in enumerate(FLOORS, start=1) for part in parts}


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every tasks_lib module `path` imports (`from tasks_lib.x import y` names tasks_lib.x and tasks_lib.x.y)."""
    found: set[str] = set()
    package = _module(path).split(".") if path.name == "__init__.py" else _module(path).split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {name for name in found if name == "tasks_lib" or name.startswith("tasks_lib.")}


MODULES = {_module(p): p for p in sorted(ROOT.rglob("*.py"))}
GRAPH = {mod: {m for m in _imports(path) if m in MODULES and m != mod} for mod, path in MODULES.items()}


def _part(module: str) -> str:
    """The floor plan's part of a module: its sub-package, or its own name at the top of tasks_lib."""
    return module.split(".")[1] if module != "tasks_lib" else "tasks_lib"


def test_every_module_has_a_floor():
    assert {_part(m) for m in MODULES} - {"tasks_lib"} == set(FLOOR), "a new sub-package or top module: give it a floor"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_floors(module):
    here = _part(module)
    wrong = sorted(m for m in GRAPH[module] if _part(m) not in (here, "tasks_lib") and FLOOR[_part(m)] >= FLOOR.get(here, -1))
    assert not wrong, f"{module} ({here}, floor {FLOOR.get(here)}) imports a sibling or a floor above: {wrong}"


def test_no_import_circles():
    circles, state = [], {}

    def visit(mod: str, path: list[str]) -> None:
        state[mod] = "open"
        for dep in sorted(GRAPH[mod]):
            if state.get(dep) == "open":
                circles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[mod] = "done"

    for mod in sorted(GRAPH):
        if mod not in state:
            visit(mod, [mod])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_plan_is_the_docstring():
    """FLOORS above is the floor plan drawn in tasks_lib/__init__.py's docstring, floor by floor."""
    drawn: dict[int, list[str]] = {}
    level = 0
    for line in (tasks_lib.__doc__ or "").splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "floor":
            level = int(words[1])
            words = words[2:]
        elif not (line.startswith("      ") and words and words[0].endswith(("/", ".py"))):
            continue
        drawn.setdefault(level, []).append(words[0].removesuffix("/").removesuffix(".py"))
    assert [sorted(drawn[k]) for k in sorted(drawn)] == [sorted(f) for f in FLOORS]
