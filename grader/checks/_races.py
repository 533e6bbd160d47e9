"""Data races in ``numba.prange`` loops, found in the source of a submission.

A prange loop's iterations run on several threads at once.  Adding into an array element
whose index does not depend on the loop's variable (``dgamma[d] += dout[n, d]`` inside
``for n in prange(N)``) lets two threads read the same entry, add, and write it back: one of
the two additions is lost.  Numba makes scalar reductions (``s += ...``) and whole-array
reductions (``acc += x[n]``) safe, element updates not (Numba's documentation on prange:
"reducing into slices or elements of an array ... a race condition would occur").

Why read the source: a race shows only while two threads really run at the same time, which
a loaded machine or a container with part of a CPU may not give in any number of calls.  The
checks run the kernels with several threads and compare repeated calls too (what was seen);
this finds the same mistake every time, so the score does not depend on the load.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Race:
    function: str  # the top-level function holding the loop
    line: int
    text: str  # the statement, as written


def _is_prange(call: ast.expr) -> bool:
    if not isinstance(call, ast.Call):
        return False
    f = call.func
    return (isinstance(f, ast.Name) and f.id == "prange") or (
        isinstance(f, ast.Attribute) and f.attr == "prange")


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _targets(node: ast.AST) -> set[str]:
    """Names bound by an assignment target (``a``, ``a, b``), not subscripts."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.Tuple, ast.List)):
        return set().union(*(_targets(e) for e in node.elts))
    return set()


def _loop_races(loop: ast.For, function: str, source: str) -> list[Race]:
    body = ast.Module(body=loop.body, type_ignores=[])
    dependent = _targets(loop.target)
    local: set[str] = set()
    changed = True
    while changed:  # names computed from the loop variable, to a fixed point
        changed = False
        for node in ast.walk(body):
            bound: set[str] = set()
            value: ast.AST | None = None
            if isinstance(node, ast.Assign):
                bound = set().union(*(_targets(t) for t in node.targets))
                value = node.value
            elif isinstance(node, ast.For):
                bound, value = _targets(node.target), node.iter
            local |= bound
            if value is not None and _names(value) & dependent and not bound <= dependent:
                dependent |= bound
                changed = True
    found = []
    for node in ast.walk(body):
        target = None
        if isinstance(node, ast.AugAssign):
            target = node.target
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            t = node.targets[0]
            if isinstance(t, ast.Subscript) and any(
                    isinstance(n, ast.Subscript) and ast.dump(n.value) == ast.dump(t.value)
                    and ast.dump(n.slice) == ast.dump(t.slice) for n in ast.walk(node.value)):
                target = t  # a[d] = a[d] + ...: the same read-modify-write
        if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                and target.value.id not in local and not _names(target.slice) & dependent):
            text = ast.get_source_segment(source, node) or ast.unparse(node)
            found.append(Race(function, node.lineno, text.strip()))
    return found


def races(source: str) -> list[Race]:
    """Every element update of a shared array inside a prange loop whose index does not
    depend on the loop variable, in the order of the file; [] when the source does not parse
    (preflight reports that)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for top in tree.body:
        if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(top):
            if isinstance(node, ast.For) and _is_prange(node.iter):
                found.extend(_loop_races(node, top.name, source))
    return sorted(set(found), key=lambda r: r.line)


def in_kernel(source: str, kernel: str) -> list[Race]:
    """The races of ``kernel`` and of the top-level functions it calls by name."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    called = {kernel}
    for top in tree.body:
        if isinstance(top, ast.FunctionDef) and top.name == kernel:
            called |= {n.func.id for n in ast.walk(top)
                       if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return [r for r in races(source) if r.function in called]
