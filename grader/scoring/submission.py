"""Turn what a student handed in into a trusted, read-only folder laid out like assignments/.

Accepted: a folder or a ``.zip`` holding the task files in any layout: the handout's
(``a1_initialization/ … a4_numba/``, also inside wrapper folders such as ``assignments/``),
the files loose at the top (Gradescope's drag-and-drop upload), one task's file alone, task
folders renamed or one level too deep.  :mod:`grader.scoring.locate` recognises each task's
file by its name and says where it found it.

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
import zlib
from pathlib import Path, PurePosixPath

from dlkit.tasks import SKIP_NAMES, SUBMISSION_LIMITS, TASKS, SizeLimits
from grader.scoring.locate import Layout, assemble, locate

ASSIGNMENTS = {tid: task.folder for tid, task in TASKS.items()}
MAIN_FILES = {tid: task.module for tid, task in TASKS.items()}
MAX_NAME = 255  # bytes in one file or folder name (what Linux filesystems allow)


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


# What reading a malformed zip may raise (besides SubmissionError): a broken header or
# compressed stream, an unsupported method or encryption, a name the filesystem refuses
# (too long, a file where a folder must be, a folder where a file is).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError,
               RuntimeError, OSError)


def extract_zip(archive: Path, dst: Path, limits: SizeLimits = SUBMISSION_LIMITS) -> None:
    """Extract ``archive`` into ``dst`` safely (see the module docstring).  Whatever is
    wrong with the archive is a SubmissionError saying what, never another exception."""
    try:
        zf = zipfile.ZipFile(archive)
    except _ZIP_ERRORS as exc:
        raise SubmissionError(f"{archive}: not a readable zip file ({exc})",
                              f"{archive}: 読み込める zip ファイルではありません ({exc})") from None
    with zf:
        try:
            _extract_members(zf, archive, dst, limits)
        except SubmissionError:
            raise
        except _ZIP_ERRORS as exc:
            raise SubmissionError(f"{archive}: not a readable zip file ({exc})",
                                  f"{archive}: 読み込める zip ファイルではありません ({exc})"
                                  ) from None


def _member_error(archive: Path, name: str, exc: BaseException) -> SubmissionError:
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, NotADirectoryError | FileExistsError | IsADirectoryError):
        why = "the zip holds a file and a folder of the same name"
    return SubmissionError(f"{archive}: cannot extract a member ({why}): {name!r}",
                           f"{archive}: メンバーを展開できません ({why}): {name!r}")


def _extract_members(zf: zipfile.ZipFile, archive: Path, dst: Path,
                     limits: SizeLimits) -> None:
    state = {"bytes": 0, "files": 0}
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
        too_long = [p for p in rel.parts if len(p.encode("utf-8", "replace")) > MAX_NAME]
        if too_long:
            raise SubmissionError(
                f"{archive}: a name longer than {MAX_NAME} bytes in member "
                f"{info.filename!r}", f"{archive}: {MAX_NAME} バイトを超える名前があります"
                f"（メンバー {info.filename!r}）")
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            state["files"] += 1
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _member_error(archive, info.filename, exc) from None
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
        except SubmissionError:
            raise
        except _ZIP_ERRORS as exc:
            raise _member_error(archive, info.filename, exc) from None


def unpack(source: str | Path, dest: Path,
           limits: SizeLimits = SUBMISSION_LIMITS) -> tuple[Path, Layout]:
    """Copy (or extract) ``source`` into ``dest`` (created); return the submission root (a
    folder whose children are the task folders, laid out as the handout) and what
    :func:`grader.scoring.locate.locate` found: where each task's file was, the stray files.
    Raises SubmissionError."""
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
    if not any(p.is_file() for p in staging.rglob("*")):
        raise SubmissionError(f"{source}: the submission is empty (no files)",
                              f"{source}: 提出物が空です（ファイルがありません）")
    layout = locate(staging)
    if not layout.present:
        held = ", ".join(layout.stray[:10]) + (" …" if len(layout.stray) > 10 else "")
        raise SubmissionError(
            f"{source}: found none of {', '.join(ASSIGNMENTS.values())} (nor one of their "
            f"files: {', '.join(MAIN_FILES.values())}); it holds {held}",
            f"{source}: {', '.join(ASSIGNMENTS.values())} のどれも（それらのファイル "
            f"{', '.join(MAIN_FILES.values())} も）見つかりません。中身: {held}")
    root = assemble(staging, layout, dest / "submission")
    shutil.rmtree(staging, ignore_errors=True)
    return root, layout


def prepare(source: str | Path, dest: Path, limits: SizeLimits = SUBMISSION_LIMITS,
            stray: list[str] | None = None) -> Path:
    """:func:`unpack`, returning the submission root only.

    ``stray``, if given, receives the files that belong to no task (see
    :mod:`grader.scoring.locate`): not graded, not an error."""
    root, layout = unpack(source, dest, limits)
    if stray is not None:
        stray.extend(layout.stray)
    return root


def present(root: Path) -> set[str]:
    """The assignment ids whose folder is in the submission root."""
    return {key for key, name in ASSIGNMENTS.items() if (root / name).is_dir()}
