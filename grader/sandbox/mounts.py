"""Namespace isolation, inside the worker's own mount namespace (root, before the uid
changes): a private size-limited tmpfs for the working copy, empty read-only mounts over
the grader's files, and every folder outside the system's replaced by a view holding only
what Python needs.
"""

from __future__ import annotations

import ctypes
import os

from grader.sandbox.confine import blocker

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 1, 2, 4, 8, 32
_MS_BIND, _MS_REC = 4096, 16384


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    rc = _libc().mount(source.encode(), target.encode(),
                       fstype.encode() if fstype else None, flags, data.encode() or None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def mask(path: str) -> None:
    """Hide ``path`` behind an empty read-only tmpfs (a directory) or /dev/null (a file)."""
    if os.path.isdir(path):
        _mount("tmpfs", path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
               "size=4k,mode=555")
    elif os.path.exists(path):
        _mount("/dev/null", path, None, _MS_BIND)


def _replace_with_tmpfs(top: str, keep: list[str], options: str, readonly: bool) -> None:
    """Mount an empty tmpfs on ``top`` in this mount namespace, then bind-mount the paths
    of ``keep`` (all inside ``top``) back at the same place: everything else is hidden."""
    fds = {path: os.open(path, os.O_PATH) for path in keep}
    _mount("tmpfs", top, "tmpfs", _MS_NOSUID | _MS_NODEV, options)
    for path, fd in fds.items():
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
        os.close(fd)
    if readonly:
        _mount("tmpfs", top, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)


def _inside(path: str, top: str) -> bool:
    return path.startswith(top.rstrip(os.sep) + os.sep)


def _minimal(paths) -> list[str]:
    """The paths that are not inside another of them."""
    paths = sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})
    return [p for p in paths if not any(_inside(p, q) for q in paths if q != p)]


# Top-level folders of the system, left as they are (read-only for the worker's uid anyway).
SYSTEM_TOP = {"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run",
              "sbin", "sys", "usr", "var"}


def expose(paths: list[str], private: list[str], workdir: str) -> None:
    """Make the Python installation reachable for the worker uid, and give it private
    temporary directories.

    Every top-level folder outside the system's (SYSTEM_TOP) is replaced by a read-only
    tmpfs holding only bind mounts of the needed paths (e.g. pyenv's Python in /root: the
    rest of root's home stays hidden), and so is a folder others cannot enter elsewhere.
    Each of ``private`` (/tmp, /var/tmp, /dev/shm) becomes a small fresh tmpfs holding only
    what the worker needs from it (its working copy, a virtualenv under /tmp): nothing
    written there outlives the worker and nothing of the grader's own temporary files is
    visible.
    """
    needed = _minimal(paths)
    # Every top-level folder that is not part of the system (/home, /root, /srv, /opt, a
    # CI work folder, ...) becomes an empty read-only tmpfs holding only what Python needs:
    # another copy of the course on this machine (a checkout with solutions/ and the hidden
    # checks, a data folder with the test labels) is never readable, wherever it lies.
    replaced = []
    for name in sorted(os.listdir("/")):
        top = os.sep + name
        if (name in SYSTEM_TOP or top in private or os.path.islink(top)
                or not os.path.isdir(top) or top in needed):
            continue
        keep = _minimal([p for p in [*needed, workdir] if _inside(p, top)])
        _replace_with_tmpfs(top, keep, "size=64k,mode=755", readonly=True)
        replaced.append(top)
    plan: dict[str, list[str]] = {}
    for path in needed:
        holder = blocker(path)
        if holder and holder != path and not any(holder == r or _inside(holder, r)
                                                 for r in replaced):
            plan.setdefault(holder, []).append(path)
    for top, keep in plan.items():
        _replace_with_tmpfs(top, keep, "size=64k,mode=755", readonly=True)
    for top in private:
        if os.path.isdir(top) and not os.path.islink(top):
            keep = _minimal([p for p in [*needed, workdir] if _inside(p, top)])
            _replace_with_tmpfs(top, keep, "size=16m,mode=1777", readonly=False)


def private_workdir(workdir: str, disk_mb: int) -> None:
    """A fresh tmpfs of ``disk_mb`` MiB on the working directory."""
    _mount("tmpfs", workdir, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={disk_mb}m,mode=700")


def view(top: str, keep: list[str]) -> None:
    """``top`` (the source checkout) as a read-only folder holding only ``keep``."""
    _replace_with_tmpfs(top, keep, "size=64k,mode=755", readonly=True)
