"""Before a task's checks run: is the student's code there, and can Python read it?

Read on the trusted side without running anything (``ast.parse`` only), so a task whose code
cannot load gets one clear line instead of the same traceback in every check:

- the task's file is missing (a notebook handed in instead of the module, a misnamed file);
- a task it uses is missing (a3 imports the student's a2 layer: ``TASKS["a3"].requires``);
- a syntax error, with the file and line, in the task's files or in those of a task it uses.

An error that only shows when the code runs (an ImportError, a NameError at import time) is
found by the checks process when it first imports the module (``grader.scoring.plugin``) and is
reported the same way, once.

    problem = preflight.problem(root, "a3")     # None, or the message (a catalog Text)

The messages are in the catalog ([preflight], grader/messages/<lang>.toml).
"""

from __future__ import annotations

import ast
from pathlib import Path

from dlkit.tasks import TASKS
from grader.scoring.catalog import Text, plain, say


def _missing_module(root: Path, aid: str) -> Text | None:
    task = TASKS[aid]
    if (root / task.path).is_file():
        return None
    folder = root / task.folder
    notebooks = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    also = (say("preflight.notebooks", notebooks=", ".join(notebooks), module=task.module)
            if notebooks else plain(""))
    return say("preflight.missing_file", path=task.path, notebooks=also)


def _missing_requirement(root: Path, aid: str) -> Text | None:
    for need in TASKS[aid].requires:
        dep = TASKS[need]
        if not (root / dep.path).is_file():
            return say("preflight.missing_task", task=aid, need=need, folder=dep.folder,
                       module=dep.module, task_folder=TASKS[aid].folder)
    return None


def syntax_error(root: Path, rel: str) -> Text | None:
    """A Python file that does not parse, naming the file and the line (None if it does)."""
    try:
        source = (root / rel).read_bytes()
        ast.parse(source, filename=rel)
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        line = line if len(line) <= 160 else line[:160] + " …"
        shown = f"\n    {line}" if line else ""
        where = say("preflight.at_line", path=rel, line=exc.lineno) if exc.lineno else plain(rel)
        return say("preflight.syntax_error", where=where, error=exc.msg, line=shown)
    except (ValueError, OSError, RecursionError, MemoryError) as exc:  # null bytes, unreadable
        # file, nesting too deep for the parser
        return say("preflight.unreadable_file", path=rel, error=exc)
    return None


def _syntax_errors(root: Path, aid: str) -> Text | None:
    for tid in (aid, *TASKS[aid].requires):
        folder = root / TASKS[tid].folder
        for path in sorted(folder.rglob("*.py")):
            rel = str(path.relative_to(root))
            if path.name == "test_public.py":
                continue  # the handout's tests: never imported by the grader
            found = syntax_error(root, rel)
            if found is None:
                continue
            if tid != aid:
                return say("preflight.needed_task_not_loaded", task=aid, need=tid,
                           problem=found)
            return say("preflight.not_loaded", problem=found)
    return None


def problem(root: Path, aid: str) -> Text | None:
    """Why task ``aid``'s checks cannot run on the submission at ``root``, or None.

    ``root`` holds the task folders; the task's own folder is present (a missing folder is
    "not submitted", not a problem of the code)."""
    return (_missing_module(root, aid) or _missing_requirement(root, aid)
            or _syntax_errors(root, aid))
