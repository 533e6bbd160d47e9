"""What can be told from a task file without running it.

- it is Python source (not a notebook saved under the module's name) and parses, read as
  Python reads it (a byte order mark, CRLF line ends and encoding declarations are fine);
- it defines, at its top level, every name the grader calls (``Task.names``);
- it imports nothing the grader blocks in this task (``Task.blocked_modules``,
  ``Task.blocked_attrs``, ``ALWAYS_BLOCKED``): ``import dlkit.reference``,
  ``from dlkit.layers import BatchNormalization``, ``from dlkit import layers`` followed by
  ``layers.BatchNormalization``, anywhere in the file (an import inside a function runs only
  when the grader calls it, and then fails).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from dlkit.tasks import ALWAYS_BLOCKED, Task

__all__ = ["read_source", "source_problems", "source_text"]


def _under(name: str, modules) -> str | None:
    """The blocked module ``name`` is, or is inside; None when it is allowed."""
    return next((m for m in modules if name == m or name.startswith(m + ".")), None)


def _defined(tree: ast.Module) -> set[str]:
    """Names bound at the module's top level (def, class, assignment, import)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ['a', 'b', 'c']; None for anything but names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _blocked_uses(tree: ast.Module, task: Task) -> list[tuple[int, str]]:
    """(line, what) for every use of a blocked module or object."""
    modules = (*ALWAYS_BLOCKED, *task.blocked_modules)
    attrs = {spec.replace(":", ".") for spec in task.blocked_attrs}
    aliases: dict[str, str] = {}  # local name -> module it stands for
    uses = []

    def check(line: int, full: str) -> None:
        if _under(full, modules) or full in attrs:
            uses.append((line, full))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                check(node.lineno, a.name)
                if a.asname:  # import dlkit.layers as L: L is dlkit.layers
                    aliases[a.asname] = a.name
                else:  # import dlkit.layers: the name bound is dlkit
                    aliases[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            check(node.lineno, node.module)
            for a in node.names:
                check(node.lineno, f"{node.module}.{a.name}")
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(getattr(node, "ctx", None),
                                                              ast.Store):
            parts = _dotted(node)
            if parts and parts[0] in aliases:
                check(node.lineno, ".".join([aliases[parts[0]], *parts[1:]]))
    return sorted(set(uses))


def read_source(path: Path) -> str:
    """The text of a Python file as Python reads it: UTF-8 unless an encoding declaration
    (``# -*- coding: latin-1 -*-``) says otherwise, a UTF-8 byte order mark (Windows
    Notepad's) dropped, CRLF and CR line ends read as LF.  Raises UnicodeDecodeError or
    SyntaxError (an encoding declaration Python refuses) as ``import`` would."""
    return importlib.util.decode_source(path.read_bytes())


def source_text(path: Path) -> str:
    """:func:`read_source` for readers that must never fail (the grader's similarity flags
    and static import checks): bytes Python could not decode are replaced, not raised."""
    try:
        return read_source(path)
    except (SyntaxError, UnicodeDecodeError):
        return path.read_bytes().decode("utf-8-sig", errors="replace").replace("\r\n", "\n")


def _undecodable(path: Path, exc: UnicodeDecodeError | SyntaxError) -> str:
    """Why Python cannot read ``path``'s text, and what to do."""
    try:
        path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as bad:
        return (f"{path}: not UTF-8 text ({bad.reason} at byte {bad.start}); save it as "
                f"UTF-8 (or declare its encoding on the first line, e.g. "
                f"# -*- coding: cp932 -*-)")
    reason = exc.msg if isinstance(exc, SyntaxError) else exc.reason
    return f"{path}: Python cannot read its encoding ({reason}); save it as UTF-8"


def source_problems(path: Path, task: Task) -> list[str]:
    """What is wrong with ``path`` as ``task``'s module, read as text (empty: nothing)."""
    try:
        text = read_source(path)
    except (UnicodeDecodeError, SyntaxError) as exc:
        return [_undecodable(path, exc)]
    if text.lstrip().startswith("{") and '"cells"' in text:
        return [f"{path} is a notebook saved under the module's name: the grader imports "
                f"Python source; copy your code into a plain {task.module}"]
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        return [f"{path}, {where}: {exc.msg}; fix it (python -m py_compile {path.name} "
                f"shows it again)"]
    problems = []
    missing = [name for name in task.names if name not in _defined(tree)]
    if missing:
        problems.append(f"{path} does not define {', '.join(missing)}: the grader calls "
                        f"{', '.join(task.names)}; keep the names of the handout")
    for line, what in _blocked_uses(tree, task):
        problems.append(f"{path}, line {line}: uses {what}, which the grader blocks: "
                        f"{task.block_reason}")
    return problems
