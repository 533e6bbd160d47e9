"""The disk a worker uses, where no private size-limited folder bounds it.

Under ``namespaces`` the working copy is a tmpfs of ``Limits.disk_mb`` (``grader.sandbox.mounts``):
the kernel refuses the write past it.  Without namespaces (a container, a grader that is
not root) the working copy is a folder on the machine's disk and no mount can limit it, so
the trusted side measures it: :func:`disk_bytes` is what the worker's files take, counted
as the kernel allocates them (blocks, so a sparse file costs what it holds), each file
once:

- every file under the working copy (Landlock lets the worker write nowhere else), and
- every regular file a process of the worker holds open, wherever it is, deleted ones
  included (unlinking an open file hides it from the folder, not from the disk).

Which file an open descriptor of another process is, the kernel tells only a process that
may trace it: the grader's own uid, or root with CAP_SYS_PTRACE, which a container's root
lacks.  So a root grader reads them with the worker's uid as its filesystem uid
(:func:`as_fsuid`, this thread only), as a process of that uid could.

``RLIMIT_FSIZE`` (``Limits.file_mb``) bounds each file as it is written; the channel asks
:func:`over_quota` every ``grader.ipc.channel.WATCH_PERIOD`` seconds while it waits for the
worker and kills a worker past ``Limits.disk_mb``.  A worker that hides its files from
the grader (a folder it made unreadable, open files the grader may not list) is stopped
the same way: what cannot be measured is not allowed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from collections.abc import Iterable, Iterator

_libc = ctypes.CDLL(None, use_errno=True)


class Unmeasurable(OSError):
    """The grader could not see all of a worker's files."""


def disk_bytes(folder: str, pids: Iterable[int]) -> int:
    """Bytes allocated to the files under ``folder`` and to the regular files the
    processes ``pids`` hold open (see the module docstring); raises Unmeasurable."""
    seen: set[tuple[int, int]] = set()
    total = 0

    def add(st: os.stat_result) -> None:
        nonlocal total
        if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512

    def error(exc: OSError) -> None:
        raise Unmeasurable(exc.errno, f"{exc.filename}: {exc.strerror}")

    for top, _dirs, files in os.walk(folder, onerror=error):
        for name in files:
            try:
                add(os.lstat(os.path.join(top, name)))
            except FileNotFoundError:
                continue
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            continue  # exited meanwhile
        except PermissionError as exc:
            error(exc)
        for fd in fds:
            try:
                add(os.stat(f"/proc/{pid}/fd/{fd}"))
            except FileNotFoundError:
                continue  # closed meanwhile
            except PermissionError as exc:  # a process that made itself untraceable
                error(exc)
    return total


@contextlib.contextmanager
def as_fsuid(uid: int | None) -> Iterator[None]:
    """Within the block, this thread opens files and reads other processes' descriptors
    as ``uid`` (its filesystem uid and gid; root only, and a no-op for None)."""
    if uid is None or os.geteuid() != 0:
        yield
        return
    _libc.setfsgid(uid)
    _libc.setfsuid(uid)
    try:
        yield
    finally:
        _libc.setfsuid(0)
        _libc.setfsgid(0)


def over_quota(folder: str, pids: Iterable[int], limit_mb: int,
               uid: int | None = None) -> str | None:
    """Why the worker is over its disk quota (None while it is not); ``uid``: the worker's
    own uid when it has one (see :func:`as_fsuid`)."""
    try:
        with as_fsuid(uid):
            used = disk_bytes(folder, pids)
    except Unmeasurable as exc:
        return f"the disk quota ({limit_mb} MiB) could not be checked: {exc.strerror}"
    if used > limit_mb * 2**20:
        return (f"the disk quota ({limit_mb} MiB): its files took {used / 2**20:.0f} MiB")
    return None
