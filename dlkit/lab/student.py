"""Run the student's code in a notebook cell without stopping the notebook.

    with lab.task("a2") as a2:
        bn = a2.BatchNormalization(np.ones(5), np.zeros(5))
        print(bn.forward(x))

``task`` imports the student's module afresh (edits show without restarting the kernel; a
task's ``requires``, e.g. a3's use of a2, are imported afresh too).  If anything in the block
raises, the rest of the block is skipped and the error is printed: for a stub, its TODO and
the file to fill in; for a bug, the exception and the line of the student's file it came
from.  The notebook goes on to the next cell.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import traceback
from pathlib import Path

from dlkit.lab.locate import handout_root, say
from dlkit.tasks import TASKS

__all__ = ["task", "describe"]


class Unavailable:
    """Stands for a module that failed to import: any name of it raises that error again."""

    def __init__(self, name: str, error: BaseException):
        self._name, self._error = name, error

    def __getattr__(self, attr):
        raise self._error


def _fresh_import(task_id: str, root: Path):
    """Forget every task module imported before, then import ``task_id``'s module."""
    folders = {t.folder for t in TASKS.values()}
    for name in [n for n in sys.modules if n.split(".")[0] in folders]:
        del sys.modules[name]
    importlib.invalidate_caches()
    return importlib.import_module(TASKS[task_id].import_name)


def describe(error: BaseException, root: Path) -> str:
    """A short account of ``error`` for a student: the TODO to fill in, or the exception and
    the deepest line of the handout's files it passed through."""
    message = f"{type(error).__name__}: {error}"
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if Path(f.filename).is_file() and Path(f.filename).resolve().is_relative_to(root)]
    where = ""
    if frames:
        f = frames[-1]
        where = f"{Path(f.filename).resolve().relative_to(root)}, line {f.lineno}, in {f.name}"
    if isinstance(error, NotImplementedError) and "TODO" in str(error):
        return say(f"{error} is not written yet: fill it in ({where or 'your file'}), save, "
                   f"and run this cell again.",
                   f"{error} はまだ書かれていません。{where or 'あなたのファイル'} に書いて保存し、"
                   f"このセルをもう一度実行してください。")
    lines = [message]
    if where:
        lines.append(say(f"  at {where}: {frames[-1].line}",
                         f"  場所 {where}: {frames[-1].line}"))
    return "\n".join(lines)


@contextlib.contextmanager
def task(task_id: str):
    """``with task("a1") as a1:``: the student's module, imported afresh; errors printed."""
    root = handout_root(task_id)
    try:
        module = _fresh_import(task_id, root)
    except Exception as error:  # a syntax error or a crash at import: say so inside the block
        module = Unavailable(TASKS[task_id].import_name, error)
    try:
        yield module
    except Exception as error:
        print(f"[{task_id}] {describe(error, root)}", flush=True)
