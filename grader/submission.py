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
    """The submission cannot be read (not a folder or zip, unsafe or too large)."""


def _check_budget(state: dict, add_bytes: int, limits: SizeLimits, source) -> None:
    state["bytes"] += add_bytes
    if state["bytes"] > limits.max_bytes:
        raise SubmissionError(f"{source}: more than {limits.max_bytes // 2**20} MiB of files "
                              f"(expected a few source files)")


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
                raise SubmissionError(f"{src}: more than {limits.max_files} files")
            _check_budget(state, entry.stat(follow_symlinks=False).st_size, limits, src)
            shutil.copyfile(entry.path, dst / entry.name)


def _safe_member(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's relative path, or None to skip it; raises on unsafe names."""
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in path.parts:
        raise SubmissionError(f"zip member {info.filename!r}: path outside the archive")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise SubmissionError(f"zip member {info.filename!r}: symbolic links are not allowed")
    if any(part in SKIP_NAMES for part in path.parts) or not path.parts:
        return None
    return path


def extract_zip(archive: Path, dst: Path, limits: SizeLimits = SUBMISSION_LIMITS) -> None:
    """Extract ``archive`` into ``dst`` safely (see the module docstring)."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{archive}: not a readable zip file ({exc})") from None
    state = {"bytes": 0, "files": 0}
    with zf:
        members = zf.infolist()
        if len(members) > limits.max_files:
            raise SubmissionError(f"{archive}: {len(members)} members, more than "
                                  f"{limits.max_files}")
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
                                f"{limits.max_ratio}x (a zip bomb?)")
                        out.write(chunk)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
                raise SubmissionError(f"{archive}: cannot extract {info.filename!r} ({exc})"
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


def prepare(source: str | Path, dest: Path, limits: SizeLimits = SUBMISSION_LIMITS) -> Path:
    """Copy (or extract) ``source`` into ``dest`` (created) and return the submission root:
    a folder whose children are assignment folders. Raises SubmissionError."""
    source = Path(source)
    staging = dest / "staging"
    if source.is_file() and (source.suffix.lower() == ".zip" or zipfile.is_zipfile(source)):
        staging.mkdir(parents=True)
        extract_zip(source, staging, limits)
    elif source.is_dir():
        _copy_tree(source, staging, limits, {"bytes": 0, "files": 0})
    elif source.exists():
        raise SubmissionError(f"submission: expected a folder or a .zip file, got {source}")
    else:
        raise SubmissionError(f"submission: {source} does not exist")
    found, kind = _find_root(staging)
    root = dest / "submission"
    if kind is None:
        raise SubmissionError(
            f"{source}: found none of {', '.join(ASSIGNMENTS.values())} (nor one of their "
            f"files: {', '.join(MAIN_FILES.values())})")
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
