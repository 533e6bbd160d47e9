"""Before a task's checks run: is the student's code there, and can Python read it?

Read on the trusted side without running anything (``ast.parse`` only), so a task whose code
cannot load gets one clear line instead of the same traceback in every check:

- the task's file is missing (a notebook handed in instead of the module, a misnamed file);
- a task it uses is missing (a3 imports the student's a2 layer: ``TASKS["a3"].requires``);
- a syntax error, with the file and line, in the task's files or in those of a task it uses.

An error that only shows when the code runs (an ImportError, a NameError at import time) is
found by the checks process when it first imports the module (``grader.scoring.plugin``) and is
reported the same way, once.

    problem = preflight.problem(root, "a3")     # None, or (en, ja)
"""

from __future__ import annotations

import ast
from pathlib import Path

from dlkit.tasks import TASKS


def _missing_module(root: Path, aid: str) -> tuple[str, str] | None:
    task = TASKS[aid]
    if (root / task.path).is_file():
        return None
    folder = root / task.folder
    notebooks = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    also_en = also_ja = ""
    if notebooks:
        also_en = (f" The folder holds {', '.join(notebooks)}: the grader runs only "
                   f"{task.module}, so put your code there (in Jupyter: File → Download as → "
                   f"Python, or copy the cells).")
        also_ja = (f" フォルダには {', '.join(notebooks)} があります。採点するのは {task.module} "
                   f"だけなので、コードをそこに書いてください（Jupyter ならファイル → "
                   f"Python としてダウンロード、またはセルをコピー）。")
    return (f"Expected the file {task.path}, which does not exist.{also_en}",
            f"ファイル {task.path} を期待しましたが、存在しません。{also_ja}")


def _missing_requirement(root: Path, aid: str) -> tuple[str, str] | None:
    for need in TASKS[aid].requires:
        dep = TASKS[need]
        if not (root / dep.path).is_file():
            return (f"{aid} uses your {need} layer: include {dep.folder}/ (with "
                    f"{dep.module}) in your submission, next to {TASKS[aid].folder}/.",
                    f"{aid} はあなたの {need} の層を使います。提出物の {TASKS[aid].folder}/ と"
                    f"同じ場所に {dep.folder}/（{dep.module} を含む）を入れてください。")
    return None


def syntax_error(root: Path, rel: str) -> tuple[str, str] | None:
    """(en, ja) for a Python file that does not parse, naming the file and the line."""
    try:
        source = (root / rel).read_bytes()
        ast.parse(source, filename=rel)
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        line = line if len(line) <= 160 else line[:160] + " …"
        shown = f"\n    {line}" if line else ""
        where = f"{rel}, line {exc.lineno}" if exc.lineno else rel
        return (f"{where}: SyntaxError: {exc.msg}{shown}",
                f"{where}: 構文エラー (SyntaxError): {exc.msg}{shown}")
    except (ValueError, OSError, RecursionError, MemoryError) as exc:  # null bytes, unreadable
        # file, nesting too deep for the parser
        return (f"{rel}: Python cannot read this file ({exc}).",
                f"{rel}: Python がこのファイルを読めません ({exc})。")
    return None


def _syntax_errors(root: Path, aid: str) -> tuple[str, str] | None:
    for tid in (aid, *TASKS[aid].requires):
        folder = root / TASKS[tid].folder
        for path in sorted(folder.rglob("*.py")):
            rel = str(path.relative_to(root))
            if path.name == "test_public.py":
                continue  # the handout's tests: never imported by the grader
            found = syntax_error(root, rel)
            if found is None:
                continue
            en, ja = found
            if tid != aid:
                return (f"{aid} uses your {tid} code, which Python cannot read:\n{en}",
                        f"{aid} はあなたの {tid} のコードを使いますが、Python が読めません:\n{ja}")
            return (f"Your code cannot be loaded:\n{en}",
                    f"あなたのコードを読み込めません:\n{ja}")
    return None


def problem(root: Path, aid: str) -> tuple[str, str] | None:
    """Why task ``aid``'s checks cannot run on the submission at ``root`` (en, ja), or None.

    ``root`` holds the task folders; the task's own folder is present (a missing folder is
    "not submitted", not a problem of the code)."""
    return (_missing_module(root, aid) or _missing_requirement(root, aid)
            or _syntax_errors(root, aid))
