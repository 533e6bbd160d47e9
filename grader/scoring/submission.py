"""Turn what a student handed in into a trusted, read-only folder laid out like assignments/.

Accepted: a folder holding any of ``a1_initialization/ … a4_numba/``; one assignment's
folder (recognised by its name or by its file, e.g. ``batchnorm.py``); or a ``.zip`` of
either (wrapper folders such as ``assignments/`` or ``submission/`` are looked through).

The copy keeps regular files only (no symlinks, no ``__pycache__``, no ``.git``) and stops
at the size limits. Zip extraction never trusts the archive: names with ``..``, absolute
paths, drive letters and symlinks are refused, and sizes are counted while decompressing
(not read from the headers), so a zip bomb stops at the limit.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from dlkit.tasks import SKIP_NAMES, SUBMISSION_LIMITS, TASKS, SizeLimits

ASSIGNMENTS = {tid: task.folder for tid, task in TASKS.items()}
MAIN_FILES = {tid: task.module for tid, task in TASKS.items()}


class SubmissionError(ValueError):
    """The submission cannot be read (not a folder or zip, unsafe or too large): why, in
    English (``str(exc)``, ``exc.en``) and Japanese (``exc.ja``)."""

    def __init__(self, en: str, ja: str):
        super().__init__(en)
        self.en, self.ja = en, ja


def _check_budget(state: dict, add_bytes: int, limits: SizeLimits, source) -> None:
    state["bytes"] += add_bytes
    if state["bytes"] > limits.max_bytes:
        raise SubmissionError(f"{source}: more than {limits.max_bytes // 2**20} MiB of files "
                              f"(expected a few source files)",
                              f"{source}: ファイルが {limits.max_bytes // 2**20} MiB を超えています"
                              f"（数個のソースファイルを想定しています）")


def _copy_tree(src: Path, dst: Path, limits: SizeLimits, state: dict) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        if entry.name in SKIP_NAMES or entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            _copy_tree(Path(entry.path), dst / entry.name, limits, state)
        elif entry.is_file(follow_symlinks=False):
            state["files"] += 1
            if state["files"] > limits.max_files:
                raise SubmissionError(f"{src}: more than {limits.max_files} files",
                                      f"{src}: ファイルが {limits.max_files} 個を超えています")
            _check_budget(state, entry.stat(follow_symlinks=False).st_size, limits, src)
            shutil.copyfile(entry.path, dst / entry.name)


def _safe_member(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's relative path, or None to skip it; raises on unsafe names."""
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in path.parts:
        raise SubmissionError(f"zip member {info.filename!r}: path outside the archive",
                              f"zip のメンバー {info.filename!r}: アーカイブの外を指すパスです")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise SubmissionError(f"zip member {info.filename!r}: symbolic links are not allowed",
                              f"zip のメンバー {info.filename!r}: シンボリックリンクは使えません")
    if any(part in SKIP_NAMES for part in path.parts) or not path.parts:
        return None
    return path


def extract_zip(archive: Path, dst: Path, limits: SizeLimits = SUBMISSION_LIMITS) -> None:
    """Extract ``archive`` into ``dst`` safely (see the module docstring)."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{archive}: not a readable zip file ({exc})",
                              f"{archive}: 読み込める zip ファイルではありません ({exc})") from None
    state = {"bytes": 0, "files": 0}
    with zf:
        members = zf.infolist()
        if len(members) > limits.max_files:
            raise SubmissionError(f"{archive}: {len(members)} members, more than "
                                  f"{limits.max_files}",
                                  f"{archive}: メンバーが {len(members)} 個あり、上限 "
                                  f"{limits.max_files} を超えています")
        for info in members:
            rel = _safe_member(info)
            if rel is None:
                continue
            target = dst.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            state["files"] += 1
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 16):
                        written += len(chunk)
                        _check_budget(state, len(chunk), limits, archive)
                        if written > 2**20 and written > limits.max_ratio * max(
                                info.compress_size, 1):
                            raise SubmissionError(
                                f"{archive}: member {info.filename!r} expands more than "
                                f"{limits.max_ratio}x (a zip bomb?)",
                                f"{archive}: メンバー {info.filename!r} が展開で "
                                f"{limits.max_ratio} 倍を超えて大きくなります（zip 爆弾?）")
                        out.write(chunk)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
                raise SubmissionError(f"{archive}: cannot extract {info.filename!r} ({exc})",
                                      f"{archive}: {info.filename!r} を展開できません ({exc})"
                                      ) from None


def _kind(folder: Path) -> str | None:
    """'root' (holds aN_ folders), an assignment id (one assignment's folder), or None."""
    if any((folder / name).is_dir() for name in ASSIGNMENTS.values()):
        return "root"
    for key, name in ASSIGNMENTS.items():
        if folder.name == name:
            return key
    for key, main in MAIN_FILES.items():
        if (folder / main).is_file():
            return key
    return None


def _find_root(folder: Path) -> tuple[Path, str | None]:
    """Look through single wrapper folders (zip of a folder, ``assignments/``)."""
    for _ in range(4):
        kind = _kind(folder)
        if kind is not None:
            return folder, kind
        subdirs = [p for p in folder.iterdir() if p.is_dir()]
        files = [p for p in folder.iterdir() if p.is_file()]
        if len(subdirs) != 1 or any(f.suffix == ".py" for f in files):
            break
        folder = subdirs[0]
    return folder, None


# Files of the handout that may come along with the task folders (not the student's code, not
# stray either).
HANDOUT_FILES = frozenset({"README.md", "README.ja.md", "conftest.py", "pytest.ini"})


def _stray_files(staging: Path, found: Path, kind: str) -> list[str]:
    """Files that are not part of any task: outside the task folders, or in a task folder but
    neither Python nor the handout's READMEs (a notebook, data, a zip); paths as submitted."""
    folders = ([found / name for name in ASSIGNMENTS.values()] if kind == "root" else [found])
    stray = []
    for path in sorted(staging.rglob("*")):
        if not path.is_file():
            continue
        inside = any(folder in path.parents for folder in folders)
        if path.name in HANDOUT_FILES or (inside and path.suffix == ".py"):
            continue
        stray.append(str(path.relative_to(staging)))
    return stray


def prepare(source: str | Path, dest: Path, limits: SizeLimits = SUBMISSION_LIMITS,
            stray: list[str] | None = None) -> Path:
    """Copy (or extract) ``source`` into ``dest`` (created) and return the submission root:
    a folder whose children are assignment folders. Raises SubmissionError.

    ``stray``, if given, receives the files that belong to no task (see ``_stray_files``),
    for the TA: they are not graded and not an error."""
    source = Path(source)
    staging = dest / "staging"
    if source.is_file() and (source.suffix.lower() == ".zip" or zipfile.is_zipfile(source)):
        staging.mkdir(parents=True)
        extract_zip(source, staging, limits)
    elif source.is_dir():
        _copy_tree(source, staging, limits, {"bytes": 0, "files": 0})
    elif source.exists():
        raise SubmissionError(f"submission: expected a folder or a .zip file, got {source}",
                              f"提出物: フォルダか .zip ファイルを期待しましたが、{source} でした")
    else:
        raise SubmissionError(f"submission: {source} does not exist",
                              f"提出物: {source} は存在しません")
    found, kind = _find_root(staging)
    root = dest / "submission"
    if not any(p.is_file() for p in staging.rglob("*")):
        raise SubmissionError(f"{source}: the submission is empty (no files)",
                              f"{source}: 提出物が空です（ファイルがありません）")
    if kind is None:
        raise SubmissionError(
            f"{source}: found none of {', '.join(ASSIGNMENTS.values())} (nor one of their "
            f"files: {', '.join(MAIN_FILES.values())})",
            f"{source}: {', '.join(ASSIGNMENTS.values())} のどれも（それらのファイル "
            f"{', '.join(MAIN_FILES.values())} も）見つかりません")
    if stray is not None:
        stray.extend(_stray_files(staging, found, kind))
    if kind == "root":
        found.rename(root)
    else:
        root.mkdir()
        found.rename(root / ASSIGNMENTS[kind])
    shutil.rmtree(staging, ignore_errors=True)
    return root


def present(root: Path) -> set[str]:
    """The assignment ids whose folder is in the submission root."""
    return {key for key, name in ASSIGNMENTS.items() if (root / name).is_dir()}
