"""The files of a submission, the grader's size limits, and the zip.

The zip holds the chosen task folders at its top level (``a1_initialization/initializers.py``,
...), which is the layout the grader reads.  Left out, as the grader leaves them out:
:data:`dlkit.tasks.SKIP_NAMES` (caches, version control, editor files) and links (the grader
refuses a zip with links in it, so a link is reported and not packed).  The limits are
:data:`dlkit.tasks.SUBMISSION_LIMITS`.  The zip is written under a temporary name and renamed
once complete and read back, so a zip that exists is whole.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from dlkit.tasks import SKIP_NAMES, SUBMISSION_LIMITS, SizeLimits, Task

__all__ = ["Contents", "collect", "write_zip"]

#: A file above this size is reported: a task needs a few kilobytes of source.
LARGE_FILE = 2**20


@dataclass
class Contents:
    """What goes into the zip: (file, name in the zip), plus what was noticed on the way."""

    files: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(path.stat().st_size for path, _ in self.files)


def _walk(folder: Path, arc: str, contents: Contents) -> None:
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name in SKIP_NAMES:
            continue
        path, name = Path(entry.path), f"{arc}/{entry.name}"
        if entry.is_symlink():
            contents.warnings.append(f"{path} is a link: not packed (the grader refuses links); "
                                     f"copy the file itself there if your code needs it")
        elif entry.is_dir():
            _walk(path, name, contents)
        elif entry.is_file():
            contents.files.append((path, name))
            size = entry.stat().st_size
            if size > LARGE_FILE:
                contents.warnings.append(f"{path} is large ({size / 2**20:.1f} MiB): the grader "
                                         f"needs only your code; remove it unless it is needed")


def collect(root: Path, tasks: list[Task], limits: SizeLimits = SUBMISSION_LIMITS) -> Contents:
    """Every file of the tasks' folders under ``root``, checked against ``limits``."""
    contents = Contents()
    for task in tasks:
        if (Path(root) / task.folder).is_dir():  # a missing folder is the layout's to report
            _walk(Path(root) / task.folder, task.folder, contents)
    if len(contents.files) > limits.max_files:
        contents.errors.append(f"{len(contents.files)} files in the task folders: the grader "
                               f"refuses more than {limits.max_files}; remove what is not code")
    if contents.size > limits.max_bytes:
        contents.errors.append(f"{contents.size / 2**20:.1f} MiB in the task folders: the "
                               f"grader refuses more than {limits.max_bytes // 2**20} MiB; "
                               f"remove data files and outputs")
    return contents


def _refused(info: zipfile.ZipInfo, limits: SizeLimits) -> bool:
    """The grader's zip-bomb rule: a member above 1 MiB expanding more than max_ratio times."""
    return info.file_size > 2**20 and info.file_size > limits.max_ratio * max(
        info.compress_size, 1)


def write_zip(contents: Contents, out: Path, limits: SizeLimits = SUBMISSION_LIMITS) -> Path:
    """Write ``contents`` to ``out`` (replacing it); returns ``out``.

    Raises ValueError (nothing written) when a member would be refused as a zip bomb.
    """
    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path, name in contents.files:
                zf.write(path, name)
        with zipfile.ZipFile(tmp) as zf:
            if zf.testzip() is not None:
                raise ValueError(f"{tmp}: the zip just written does not read back")
            refused = [i.filename for i in zf.infolist() if _refused(i, limits)]
            if refused:
                raise ValueError(f"{', '.join(refused)}: compresses more than "
                                 f"{limits.max_ratio}x, which the grader refuses as a zip "
                                 f"bomb; remove it from the task folder")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
