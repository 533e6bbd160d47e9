"""Import a task's module in a clean Python process, as the grader's worker will.

A fresh interpreter (``python -I``: no PYTHONPATH, no user site, no current folder) with the
handout folder first on ``sys.path`` imports ``a2_batchnorm.batchnorm`` (etc.), then checks that
the module came from the handout (not from another copy on the path) and that it has every
name the grader calls.  Nothing of the calling process (a notebook's state, an edited
``sys.path``) leaks in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dlkit.tasks import Task

__all__ = ["IMPORT_TIMEOUT", "import_problems"]

#: Seconds an import may take here before it is reported (importing numba alone takes a few).
IMPORT_TIMEOUT = 120

_PROBE = """
import importlib, json, sys, traceback
root, name, names = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, root)
try:
    module = importlib.import_module(name)
except BaseException as exc:
    tb = traceback.extract_tb(exc.__traceback__)
    frame = next((f for f in reversed(tb) if f.filename.startswith(root)), None)
    where = f"{frame.filename}, line {frame.lineno}: " if frame else ""
    print(json.dumps({"error": f"{where}{type(exc).__name__}: {exc}"}))
else:
    print(json.dumps({"file": getattr(module, "__file__", None),
                      "missing": [n for n in names if not hasattr(module, n)]}))
"""


def import_problems(root: Path, task: Task, timeout: float = IMPORT_TIMEOUT) -> list[str]:
    """What goes wrong when ``task``'s module is imported from ``root`` (empty: nothing)."""
    root = Path(root).resolve()
    expected = root / task.path
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE, str(root), task.import_name, *task.names],
            cwd=root, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [f"{expected}: importing it did not finish within {timeout:g} s; move long "
                f"work out of the module's top level (into functions)"]
    lines = proc.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (proc.stderr or proc.stdout).strip()[-800:]
        return [f"{expected}: importing it stopped Python (exit status {proc.returncode}):\n"
                f"{tail}"]
    if "error" in answer:
        return [f"{expected}: importing it fails: {answer['error']}"]
    problems = []
    found = Path(answer["file"]).resolve() if answer["file"] else None
    if found != expected.resolve():
        problems.append(f"{expected}: `import {task.import_name}` finds {found} instead; "
                        f"rename or remove that other copy")
    if answer["missing"]:
        problems.append(f"{expected}: after import it has no {', '.join(answer['missing'])} "
                        f"(the grader calls {', '.join(task.names)})")
    return problems
