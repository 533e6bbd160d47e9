"""Find the student's task folder, on their machine or in Colab, and put it on ``sys.path``.

On a computer, Jupyter runs a notebook in the notebook's own folder
(``assignments/a2_batchnorm/``), so the handout folder is its parent.  In Colab a notebook
opened from GitHub arrives alone: the course's repository is cloned once into the student's
Google Drive (``MyDrive/<repository name>``), where their edits are kept between sessions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dlkit.tasks import TASKS

__all__ = ["setup", "handout_root"]

_state: dict[str, Path] = {}


def _in_colab() -> bool:
    return "google.colab" in sys.modules


def _search(task_id: str, start: Path) -> Path | None:
    """The folder holding ``<task folder>/<module>`` at or around ``start``, else None."""
    for candidate in (start.parent, start, start / "assignments"):
        if (candidate / TASKS[task_id].path).is_file():
            return candidate.resolve()
    return None


def _colab_checkout(repo_url: str) -> Path:
    """Clone ``repo_url`` into Google Drive once; return its assignments/ folder."""
    from google.colab import drive  # only in Colab

    drive.mount("/content/drive")
    folder = Path("/content/drive/MyDrive") / repo_url.rstrip("/").rsplit("/", 1)[-1]
    folder = folder.with_name(folder.name.removesuffix(".git"))
    if not folder.exists():
        subprocess.run(["git", "clone", "--depth", "1", repo_url, str(folder)], check=True)
    return folder / "assignments"


def setup(task_id: str, repo_url: str | None = None) -> Path:
    """Find the handout folder holding ``task_id``'s module, put it first on ``sys.path``.

    Looked for around the current folder (the notebook's); in Colab, in the clone of
    ``repo_url`` in Google Drive.  Returns the folder.  FileNotFoundError says where it looked.
    """
    if task_id not in TASKS:
        raise ValueError(f"task_id: expected one of {', '.join(TASKS)}, got {task_id!r}")
    root = _search(task_id, Path.cwd())
    if root is None and _in_colab() and repo_url:
        root = _search(task_id, _colab_checkout(repo_url))
    if root is None:
        raise FileNotFoundError(
            f"{TASKS[task_id].path} not found around {Path.cwd()}: open this notebook from "
            f"its folder in the course material (assignments/{TASKS[task_id].folder}/)")
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    _state["root"] = root
    print(f"Your code: {root / TASKS[task_id].path}\n"
          f"Edit it, save, and run a cell again: each cell imports it afresh.")
    return root


def handout_root(task_id: str) -> Path:
    """The folder found by :func:`setup` (searched around the current folder if not run)."""
    if "root" not in _state:
        setup(task_id)
    return _state["root"]
