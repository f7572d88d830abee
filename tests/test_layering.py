"""The house: one sub-package per stage, each importing only from the stages above it, through their doors, and
no import cycle.

The imports are read from the source (AST), lazy imports inside functions and ``if TYPE_CHECKING:`` imports
included, so a cycle that only shows at run time, or only to a type checker, still fails here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "hybridtune"
#: data-flow order; the top-level package (the public facade) sits between the pipeline and the CLI
STAGES = ("_core", "samplers", "task", "train", "probes", "space", "study", "compare", "diagnostics", "report",
          "pipeline", "hybridtune", "cli")


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = PACKAGE, *, type_checking: bool = True) -> set[str]:
    """The hybridtune modules ``path`` imports (``from p import x`` counts as ``p`` and, where ``x`` is a module,
    ``p.x`` too). A package the module sits in is always imported before it, so it is no edge."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    skipped = set()
    if not type_checking:
        # ``if TYPE_CHECKING:`` imports never run, so they cannot make a cycle at run time
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "hybridtune")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "hybridtune":
                continue
            found.add(target)
            for a in node.names:
                sub = root.parent / Path(*f"{target}.{a.name}".split("."))
                if sub.with_suffix(".py").exists() or (sub / "__init__.py").exists():
                    found.add(f"{target}.{a.name}")
    # (but the facade, ``hybridtune`` itself, counts: a stage that reads it back is a cycle waiting to happen)
    ancestors = {".".join(name.split(".")[:i]) for i in range(2, name.count(".") + 1)}
    return found - {name} - ancestors


def stage_of(module: str) -> str:
    if module == "hybridtune.__main__":  # ``python -m hybridtune``: the CLI's other door
        return "cli"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else "hybridtune"


#: Cross-stage imports of a private module that are allowed, each ``"importer -> imported": "why"``. Keep it empty:
#: what another stage needs earns a public name in its stage's door (``__init__``).
ALLOWED_PRIVATE: dict[str, str] = {}


def is_private(module: str) -> bool:
    """Whether ``module`` is private to its stage: a part after the stage's own name starts with ``_``."""
    return any(part.startswith("_") for part in module.split(".")[2:])


def private_crossings(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """``importer -> imported`` for every import of another stage's private module (around its door)."""
    bad = []
    for mod, targets in graph.items():
        for t in targets:
            if stage_of(t) != stage_of(mod) and is_private(t) and f"{mod} -> {t}" not in ALLOWED_PRIVATE:
                bad.append(f"{mod} -> {t}")
    return sorted(bad)


def wrong_way_imports(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """``importer -> imported`` for every import of a stage below the importer's."""
    bad = []
    for mod, targets in graph.items():
        for t in targets:
            if STAGES.index(stage_of(t)) > STAGES.index(stage_of(mod)):
                bad.append(f"{mod} -> {t}")
    return sorted(bad)


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def package_graph(*, type_checking: bool = True) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        graph[module_name(path)] = imports_of(path, type_checking=type_checking)
    # a sub-package is its __init__: importing hybridtune.task runs hybridtune/task/__init__.py
    return graph


def test_every_module_sits_in_a_stage() -> None:
    loose = [m for m in package_graph() if m.count(".") == 1 and m.split(".")[1] not in STAGES
             and m not in ("hybridtune.__main__",)]
    assert loose == [], f"modules outside the stage packages: {loose}"


def test_no_stage_imports_a_stage_below_it() -> None:
    assert wrong_way_imports(package_graph()) == []


def test_no_import_cycle() -> None:
    # the facade imports every stage and the stages' __init__ files import their modules; neither is a
    # cycle unless something imports back. Type-checking imports count: a cycle a type checker has to break
    # is one a refactoring turns into a run-time one
    assert cycles(package_graph()) == []


def test_every_stage_is_entered_through_its_door() -> None:
    assert private_crossings(package_graph()) == []


def test_every_allowed_exception_says_why() -> None:
    assert all(why.strip() for why in ALLOWED_PRIVATE.values())


@pytest.mark.parametrize(("graph", "wrong_way", "n_cycles"), [
    ({"hybridtune.task._task": {"hybridtune.train._loop"}, "hybridtune.train._loop": {"hybridtune.task._task"}},
     ["hybridtune.task._task -> hybridtune.train._loop"], 1),
    ({"hybridtune.study._a": {"hybridtune.report._x"}}, ["hybridtune.study._a -> hybridtune.report._x"], 0),
    ({"hybridtune.cli._a": {"hybridtune.cli._b"}, "hybridtune.cli._b": {"hybridtune.cli._a"}}, [], 1),
    ({"hybridtune.cli._a": {"hybridtune", "hybridtune.task"}, "hybridtune": {"hybridtune.task"}}, [], 0),
])
def test_the_checks_catch_what_they_should(graph, wrong_way, n_cycles) -> None:
    assert wrong_way_imports(graph) == wrong_way
    assert len(cycles(graph)) == n_cycles


@pytest.mark.parametrize(("graph", "crossings"), [
    ({"hybridtune.pipeline._run": {"hybridtune.study._queue"}},
     ["hybridtune.pipeline._run -> hybridtune.study._queue"]),
    ({"hybridtune.pipeline._run": {"hybridtune.study", "hybridtune.study.keys"}}, []),
    ({"hybridtune.study._queue": {"hybridtune.study._config"}}, []),
    ({"hybridtune": {"hybridtune._core._version"}}, ["hybridtune -> hybridtune._core._version"]),
])
def test_a_private_crossing_is_caught(graph, crossings) -> None:
    assert private_crossings(graph) == crossings


def test_imports_are_read_from_function_bodies_too(tmp_path: Path) -> None:
    root = tmp_path / "hybridtune"
    (root / "pipeline").mkdir(parents=True)
    (root / "pipeline" / "__init__.py").write_text("")
    mod = root / "task" / "_x.py"
    mod.parent.mkdir(parents=True)
    mod.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..space import x\n"
                   "def f():\n    from ..train._loop import train\n    from .. import pipeline\n")
    assert imports_of(mod, root) == {"hybridtune.train._loop", "hybridtune", "hybridtune.pipeline",
                                     "hybridtune.space"}
    assert imports_of(mod, root, type_checking=False) == {"hybridtune.train._loop", "hybridtune",
                                                          "hybridtune.pipeline"}


#: who may import the report stage: the pipeline, which composes what a run shows, and the facade, which re-exports
#: the public figures. The CLI takes the report's pages and terminal text through the pipeline's door.
REPORT_CALLERS = ("report", "pipeline", "hybridtune")


def report_importers(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """``importer -> imported`` for every import of the report stage from outside :data:`REPORT_CALLERS`."""
    return sorted(f"{mod} -> {t}" for mod, targets in graph.items() for t in targets
                  if stage_of(t) == "report" and stage_of(mod) not in REPORT_CALLERS)


def third_party_imports(path: Path) -> set[str]:
    """The top-level names of the packages outside hybridtune that ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found - {"hybridtune"}


def test_only_the_pipeline_calls_the_report_stage() -> None:
    assert report_importers(package_graph()) == []


@pytest.mark.parametrize(("graph", "found"), [
    ({"hybridtune.cli._study": {"hybridtune.report"}}, ["hybridtune.cli._study -> hybridtune.report"]),
    ({"hybridtune.cli._study": {"hybridtune.pipeline"}, "hybridtune.pipeline": {"hybridtune.report"},
      "hybridtune": {"hybridtune.report"}, "hybridtune.report._report": {"hybridtune.report._figures"}}, []),
])
def test_a_report_import_outside_the_pipeline_is_caught(graph, found) -> None:
    assert report_importers(graph) == found


def test_plotly_is_imported_in_the_report_stage_only() -> None:
    plotting = sorted(module_name(p) for p in PACKAGE.rglob("*.py") if "plotly" in third_party_imports(p))
    assert plotting and all(stage_of(m) == "report" for m in plotting), plotting
