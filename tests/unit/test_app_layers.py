"""The app's layers, read from the source files (AST), nothing imported.

``src/carnet`` is ``core/`` and ``data/`` (no feature, no Flet), one folder per feature (named as the
server's domain folder), ``shell/`` (the composition root and the Flet app) and ``views/`` (screens).

- no import cycle between modules of ``carnet``, counting imports under ``TYPE_CHECKING`` and in
  functions too;
- ``core`` and ``data`` import no feature, no ``shell``, no ``views`` and no Flet;
- a feature imports neither ``shell`` nor ``views``;
- only ``views`` and ``shell`` import Flet.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.imports import imported_modules

SRC = Path(__file__).resolve().parents[2] / "src"
APP = SRC / "carnet"
SERVER = SRC / "carnet_server"
NOT_FEATURES = {"core", "data", "shell", "views"}


def features() -> set[str]:
    return {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").is_file()} - NOT_FEATURES


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def app_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(APP.rglob("*.py"))}


def resolve(module: str, known: dict[str, Path]) -> str | None:
    """The app module an import names (``from carnet.views.auth import account`` names a package whose
    submodules count too; the caller adds them)."""
    while module and module not in known:
        module = module.rpartition(".")[0]
    return module or None


def import_graph() -> dict[str, set[str]]:
    """module → the app modules it imports (a ``from package import submodule`` counts as both)."""
    known = app_modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source, str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    if sub in known:
                        graph[name].add(sub)
        for _, module in imported_modules(source, str(path)):
            target = resolve(module, known)
            if target is not None and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_violations() -> list[str]:
    feats = features()
    found = []
    for name, path in app_modules().items():
        layer = layer_of(name)
        for line, module in imported_modules(path.read_text(encoding="utf-8"), str(path)):
            top = module.split(".")[0]
            target = layer_of(module) if top == "carnet" else ""
            where = f"{path.relative_to(SRC)}:{line} imports {module}"
            is_flet = top == "flet" or top.startswith("flet_")
            if is_flet and layer not in {"views", "shell"}:
                found.append(where + " (Flet only in views/ and shell/)")
            if layer in {"core", "data"} and (target in feats or target in {"shell", "views"}):
                found.append(where + " (core/data import no feature, shell or views)")
            if layer in feats and target in {"shell", "views"}:
                found.append(where + " (a feature imports neither shell nor views)")
    return found


def test_no_import_cycle_in_the_app() -> None:
    assert cycles(import_graph()) == []


def test_layers_import_only_downwards() -> None:
    assert layer_violations() == []


def test_every_app_feature_has_a_server_domain_of_the_same_name() -> None:
    assert features(), "the app has feature folders"
    missing = sorted(f for f in features() if not (SERVER / f / "__init__.py").is_file())
    assert missing == []


def test_the_cycle_finder_sees_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["d"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
