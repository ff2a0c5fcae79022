"""The layers of docs/DESIGN.md ("Layers"), checked on every import in the source tree, those inside functions
included: no import cycle among modules, and no arrow from a lower layer to a higher one."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("node", "explorer", "client", "testkit", "scripts")

# What each layer may not import (a prefix of a module's name → prefixes it must never reach).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "node.errors": ("node.",),
    "node.store": ("node.chain", "node.ml", "node.protocol", "node.roles", "node.audit"),
    "node.chain": ("node.ml", "node.store.tensors", "node.protocol", "node.roles", "node.audit", "torch"),
    "node.ml": ("node.chain", "node.protocol", "node.roles", "node.audit"),
    "node.ml.spec": ("torch",),
    "node.state": ("node.protocol", "node.roles", "node.audit"),
    "node.config": ("node.roles", "node.protocol", "node.daemon"),
    "node.protocol": ("node.roles", "node.audit", "node.daemon", "node.runner", "node.api"),
    "node.audit": ("node.roles", "node.daemon", "node.runner"),
    "node.roles": ("node.audit", "node.runner", "node.api"),
    "node": ("client", "explorer", "testkit", "scripts", "tests"),
    "explorer": ("client", "testkit", "scripts", "tests"),
    "client": ("scripts", "tests"),
    "testkit": ("scripts", "tests"),
    "scripts": ("tests",),
}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            out[name] = path
    return out


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


MODULES = _modules()


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for imported in _imports(path):
            name = imported
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                graph[module].add(name)
    return graph


def _within(name: str, prefix: str) -> bool:
    return name == prefix.rstrip(".") or name.startswith(prefix if prefix.endswith(".") else prefix + ".")


def test_no_module_imports_a_layer_above_its_own() -> None:
    wrong = []
    for module, path in sorted(MODULES.items()):
        for name in sorted(_imports(path)):
            for layer, banned in FORBIDDEN.items():
                own_errors = layer == "node.errors" and name == "node.errors"
                if _within(module, layer) and any(_within(name, b) for b in banned) and not own_errors:
                    wrong.append(f"{module} imports {name} ({layer} may not import {', '.join(banned)})")
    assert wrong == []


def test_no_import_cycle() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    assert cycles == []


@pytest.mark.parametrize("module", ["node.protocol.judge", "node.audit.audit", "explorer.service"])
def test_the_checked_modules_exist(module: str) -> None:
    assert module in MODULES, "a layer rule naming a module that moved would check nothing"
