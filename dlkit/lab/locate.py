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

__all__ = ["setup", "handout_root", "say"]

_state: dict[str, Path] = {}
_state_lang: dict[str, str] = {"lang": "en"}


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


LANGS = ("en", "ja")


def setup(task_id: str, repo_url: str | None = None, lang: str = "en") -> Path:
    """Find the handout folder holding ``task_id``'s module, put it first on ``sys.path``.

    Looked for around the current folder (the notebook's); in Colab, in the clone of
    ``repo_url`` in Google Drive.  Returns the folder.  FileNotFoundError says where it looked.
    ``lang`` ("en" or "ja"): the language of what the lab's helpers print from now on (the
    Japanese notebooks pass "ja").
    """
    if task_id not in TASKS:
        raise ValueError(f"task_id: expected one of {', '.join(TASKS)}, got {task_id!r}")
    if lang not in LANGS:
        raise ValueError(f"lang: expected one of {', '.join(LANGS)}, got {lang!r}")
    _state_lang["lang"] = lang
    root = _search(task_id, Path.cwd())
    if root is None and _in_colab() and repo_url:
        root = _search(task_id, _colab_checkout(repo_url))
    if root is None:
        raise FileNotFoundError(say(
            f"{TASKS[task_id].path} not found around {Path.cwd()}: open this notebook from "
            f"its folder in the course material (assignments/{TASKS[task_id].folder}/)",
            f"{Path.cwd()} の周りに {TASKS[task_id].path} が見つかりません。このノートブックは"
            f"コース教材のフォルダ（assignments/{TASKS[task_id].folder}/）から開いてください"))
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    _state["root"] = root
    print(say(f"Your code: {root / TASKS[task_id].path}\n"
              f"Edit it, save, and run a cell again: each cell imports it afresh.",
              f"あなたのコード: {root / TASKS[task_id].path}\n"
              f"編集して保存し、セルをもう一度実行してください。セルは毎回読み込み直します。"))
    return root


def say(en: str, ja: str) -> str:
    """``en`` or ``ja``, in the language chosen by :func:`setup`."""
    return ja if _state_lang["lang"] == "ja" else en


def handout_root(task_id: str) -> Path:
    """The folder found by :func:`setup` (searched around the current folder if not run)."""
    if "root" not in _state:
        setup(task_id)
    return _state["root"]
