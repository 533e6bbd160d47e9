"""The one-way architecture: what may import what, read from the sources (no import runs).

- dlkit: ``cli → experiments → network → blocks → layers → kernels``, never back;
- grader: rooms, each importing only the rooms below it (``grader/__init__.py`` lists them),
  at most 12 modules at grader/'s top level;
- no import cycle between any two modules of either package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# highest first; a module may import its own layer or any layer after it
DLKIT_CHAIN = ["dlkit.cli", "dlkit.experiments", "dlkit.network", "dlkit.blocks",
               "dlkit.layers", "dlkit.kernels"]
GRADER_ROOMS = ["grader.cli", "grader.calibrate", "grader.platforms", "grader.report",
                "grader.scoring", "grader.similarity", "grader.sandbox", "grader.timing",
                "grader.ipc"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports, at any depth of its code (``from a import b`` counts
    as ``a`` and, if it is a module, ``a.b``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph(package: str) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports (the hidden checks, which are
    pytest files loaded by path, are left out)."""
    paths = {module_name(p): p for p in (ROOT / package).rglob("*.py")
             if "checks" not in p.relative_to(ROOT).parts}
    return {name: {m for m in imported(path, name) if m in paths and m != name}
            for name, path in paths.items()}


def rank(name: str, order: list[str]) -> int | None:
    for i, prefix in enumerate(order):
        if name == prefix or name.startswith(prefix + "."):
            return i
    return None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def backward_edges(edges: dict[str, set[str]], order: list[str]) -> list[str]:
    wrong = []
    for src, targets in sorted(edges.items()):
        r = rank(src, order)
        for dst in sorted(targets):
            d = rank(dst, order)
            if r is not None and d is not None and d < r:
                wrong.append(f"{src} imports {dst}")
    return wrong


@pytest.mark.parametrize("package", ["dlkit", "grader"])
def test_no_import_cycles(package):
    assert cycles(graph(package)) == []


def test_dlkit_imports_point_one_way():
    assert backward_edges(graph("dlkit"), DLKIT_CHAIN) == []


def test_grader_rooms_import_only_the_rooms_below_them():
    edges = graph("grader")
    assert backward_edges(edges, GRADER_ROOMS) == []
    unplaced = sorted(m for m in edges if m not in ("grader", "grader.__main__")
                      and rank(m, GRADER_ROOMS) is None)
    assert unplaced == [], "every grader module belongs to a room of GRADER_ROOMS"


def test_grader_top_level_stays_small():
    top = sorted(p.name for p in (ROOT / "grader").glob("*.py"))
    assert len(top) <= 12, top


def test_the_checks_find_a_backward_edge_and_a_cycle():
    """The two checks above can fail: a made-up graph with a cycle and an upward import."""
    edges = {"dlkit.kernels.x": {"dlkit.layers"}, "dlkit.layers": {"dlkit.kernels.x"}}
    assert cycles(edges) == [["dlkit.kernels.x", "dlkit.layers"]]
    assert backward_edges(edges, DLKIT_CHAIN) == ["dlkit.kernels.x imports dlkit.layers"]
