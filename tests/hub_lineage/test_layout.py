"""The package's shape: no import cycles, the core never imports its plugins, small modules.

Imports are read from the source (module-level and function-level alike; only ``if
TYPE_CHECKING:`` blocks are skipped, since they never run), so a lazy import that closes a cycle
fails here as surely as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hub_lineage", "harness_ext", "mergekit_hooks")
PLUGINS = ("harness_ext", "mergekit_hooks")
#: The only part of the library allowed to wire the plugins in.
CLI = "hub_lineage.cli"
MAX_LINES = 400
MAX_TOP_LEVEL_MODULES = 8


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the three packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skip.update(id(n) for n in ast.walk(inner))
    return skip


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that ``name`` imports anywhere in its source (TYPE_CHECKING excepted)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = module_files(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (function-level imports count): " + "; ".join(" <-> ".join(c) for c in found)


def test_the_library_never_imports_its_plugins_outside_the_cli() -> None:
    bad = {name: sorted(t for t in targets if t.split(".")[0] in PLUGINS)
           for name, targets in import_graph().items()
           if name.startswith("hub_lineage") and name != CLI and not name.startswith(CLI + ".")}
    bad = {name: targets for name, targets in bad.items() if targets}
    assert not bad, f"the core imports a plugin (only {CLI} may wire them in): {bad}"


def test_the_checker_sees_lazy_cycles(tmp_path: Path) -> None:
    """The walk itself: a function-level import closing a cycle is found; a TYPE_CHECKING one is not."""
    package = tmp_path / "hub_lineage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from hub_lineage.b import f\n")
    (package / "b.py").write_text("def f():\n    from hub_lineage import a\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from hub_lineage.a import f\n")
    (package / "d.py").write_text("from hub_lineage.c import x\n")
    for plugin in PLUGINS:
        (tmp_path / plugin).mkdir()
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["hub_lineage.a", "hub_lineage.b"]]
    assert graph["hub_lineage.c"] == set() and graph["hub_lineage.d"] == {"hub_lineage.c"}


def test_top_level_stays_small() -> None:
    top = sorted(p.name for p in (ROOT / "hub_lineage").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, f"hub_lineage/ has {len(top)} top-level modules: {top}"


@pytest.mark.parametrize("folder", [*PACKAGES, "tests", "scripts"])
def test_no_module_over_400_lines(folder: str) -> None:
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / folder).rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
