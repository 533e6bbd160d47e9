"""Turn what a student handed in into a trusted, read-only folder laid out like assignments/.

Accepted: a folder or a ``.zip`` holding the task files in any layout: the handout's
(``a1_initialization/ … a4_numba/``, also inside wrapper folders such as ``assignments/``),
the files loose at the top (Gradescope's drag-and-drop upload), one task's file alone, task
folders renamed or one level too deep.  :mod:`grader.scoring.locate` recognises each task's
file by its name and says where it found it.

The copy keeps regular files only (no symlinks, no ``__pycache__``, no ``.git``) and stops
at the size limits. Zip extraction never trusts the archive: names with ``..``, absolute
paths, drive letters and symlinks are refused, and sizes are counted while decompressing
(not read from the headers), so a zip bomb stops at the limit.  Why a submission cannot be
read is a message of the catalog ([submission], grader/messages/<lang>.toml).
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from dlkit.tasks import SKIP_NAMES, SUBMISSION_LIMITS, TASKS, SizeLimits
from grader.scoring.catalog import Text, say
from grader.scoring.locate import Layout, assemble, locate

ASSIGNMENTS = {tid: task.folder for tid, task in TASKS.items()}
MAIN_FILES = {tid: task.module for tid, task in TASKS.items()}
MAX_NAME = 255  # bytes in one file or folder name (what Linux filesystems allow)


class SubmissionError(ValueError):
    """The submission cannot be read (not a folder or zip, unsafe or too large): why, in
    every language of the catalog (``exc.text``, a message of [submission]; ``str(exc)`` and
    ``exc.en`` in English, ``exc.ja`` in Japanese)."""

    def __init__(self, text: Text):
        super().__init__(text.en)
        self.text = text

    @property
    def en(self) -> str:
        return self.text.en

    @property
    def ja(self) -> str:
        return self.text.ja


def _check_budget(state: dict, add_bytes: int, limits: SizeLimits, source) -> None:
    state["bytes"] += add_bytes
    if state["bytes"] > limits.max_bytes:
        raise SubmissionError(say("submission.too_large", source=source,
                                  mib=limits.max_bytes // 2**20))


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
                raise SubmissionError(say("submission.too_many_files", source=src,
                                          limit=limits.max_files))
            _check_budget(state, entry.stat(follow_symlinks=False).st_size, limits, src)
            shutil.copyfile(entry.path, dst / entry.name)


def _safe_member(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's relative path, or None to skip it; raises on unsafe names."""
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in path.parts:
        raise SubmissionError(say("submission.outside", member=repr(info.filename)))
    if stat.S_ISLNK(info.external_attr >> 16):
        raise SubmissionError(say("submission.symlink", member=repr(info.filename)))
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
        raise SubmissionError(say("submission.not_a_zip", archive=archive, error=exc)) from None
    with zf:
        try:
            _extract_members(zf, archive, dst, limits)
        except SubmissionError:
            raise
        except _ZIP_ERRORS as exc:
            raise SubmissionError(say("submission.not_a_zip", archive=archive, error=exc)
                                  ) from None


def _member_error(archive: Path, name: str, exc: BaseException) -> SubmissionError:
    why: Text | str = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, NotADirectoryError | FileExistsError | IsADirectoryError):
        why = say("submission.file_and_folder")
    return SubmissionError(say("submission.cannot_extract", archive=archive, why=why,
                               member=repr(name)))


def _extract_members(zf: zipfile.ZipFile, archive: Path, dst: Path,
                     limits: SizeLimits) -> None:
    state = {"bytes": 0, "files": 0}
    members = zf.infolist()
    if len(members) > limits.max_files:
        raise SubmissionError(say("submission.too_many_members", archive=archive,
                                  count=len(members), limit=limits.max_files))
    for info in members:
        rel = _safe_member(info)
        if rel is None:
            continue
        target = dst.joinpath(*rel.parts)
        too_long = [p for p in rel.parts if len(p.encode("utf-8", "replace")) > MAX_NAME]
        if too_long:
            raise SubmissionError(say("submission.long_name", archive=archive, limit=MAX_NAME,
                                      member=repr(info.filename)))
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
                        raise SubmissionError(say(
                            "submission.zip_bomb", archive=archive,
                            member=repr(info.filename), ratio=limits.max_ratio))
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
        raise SubmissionError(say("submission.not_a_folder", source=source))
    else:
        raise SubmissionError(say("submission.does_not_exist", source=source))
    if not any(p.is_file() for p in staging.rglob("*")):
        raise SubmissionError(say("submission.empty", source=source))
    layout = locate(staging)
    if not layout.present:
        held = ", ".join(layout.stray[:10]) + (" …" if len(layout.stray) > 10 else "")
        raise SubmissionError(say("submission.nothing_found", source=source,
                                  folders=", ".join(ASSIGNMENTS.values()),
                                  modules=", ".join(MAIN_FILES.values()), held=held))
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
