"""Where the handout is, and where each task's file is.

The grader reads a folder holding the task folders (``a1_initialization/``, ...), each with
its module (``a1_initialization/initializers.py``, ...), as :data:`dlkit.tasks.TASKS` lists
them.  The mistakes found here are the ones a hand-made zip makes: a folder that is not the
handout, a task folder one level too deep, a missing file, a notebook instead of the module,
a link instead of a file.  Every message names the file and says what to do.
"""

from __future__ import annotations

from pathlib import Path

from dlkit.tasks import SKIP_NAMES, TASKS, Task

__all__ = ["HandoutError", "find_handout", "task_problems"]

_FOLDERS = ", ".join(f"{task.folder}/" for task in TASKS.values())


class HandoutError(ValueError):
    """The folder is not a handout: no task folder where the grader looks for them."""


def _has_tasks(folder: Path) -> bool:
    return any((folder / task.folder).is_dir() for task in TASKS.values())


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in SKIP_NAMES)


def find_handout(path: Path) -> Path:
    """The folder that holds the task folders: ``path`` itself, or ``path/assignments``.

    Raises HandoutError naming what was expected: when a task folder is found, but one level
    deeper than the grader looks (``path/x/a1_initialization``), or when a task folder itself
    was given.
    """
    path = Path(path)
    if not path.is_dir():
        raise HandoutError(f"{path}: expected the assignments/ folder of the course "
                           f"(holding {_FOLDERS}), got {'a file' if path.exists() else 'nothing'}")
    if _has_tasks(path):
        return path
    if _has_tasks(path / "assignments"):
        return path / "assignments"
    for task in TASKS.values():
        if path.name == task.folder or (path / task.module).is_file():
            raise HandoutError(
                f"{path}: this is the folder of one task ({task.folder}/); run dlkit submit in "
                f"the folder above it, the one that holds {_FOLDERS} (add --task {task.id} to "
                f"hand in only this task)")
    deeper = [sub for sub in _subfolders(path) if _has_tasks(sub)]
    if deeper:
        raise HandoutError(
            f"{path}: the task folders are one level too deep, in {deeper[0]}/; run dlkit "
            f"submit in {deeper[0]}, or move its task folders up into {path}")
    raise HandoutError(f"{path}: not the assignments/ folder of the course: expected it to "
                       f"hold {_FOLDERS}; found none of them")


def task_problems(root: Path, task: Task) -> list[str]:
    """What stops the grader from finding ``task``'s module in ``root`` (empty: nothing)."""
    folder, module = root / task.folder, root / task.path
    if not folder.is_dir():
        return [f"{folder}/ is missing: the grader looks for {task.path} there (add --task to "
                f"hand in only the tasks you did)"]
    if module.is_symlink():
        return [f"{module} is a link: the grader skips links; replace it by the file itself"]
    if module.is_file():
        return []
    problems = [f"{module} is missing: the grader imports exactly this file"]
    nested = sorted(p for sub in _subfolders(folder) for p in sub.glob(task.module))
    if nested:
        problems.append(f"found {nested[0]}, one level too deep: move the files of "
                        f"{nested[0].parent}/ up into {folder}/")
    notebooks = sorted(p.name for p in folder.glob("*.ipynb") if not p.name.startswith("lab"))
    if notebooks:
        problems.append(f"found {', '.join(notebooks)}: the grader does not read notebooks; "
                        f"put your code into {task.module} (in Jupyter: File > Save and Export "
                        f"Notebook As > Executable Script)")
    return problems
