"""Nothing a student starts outlives its grading: the grader's processes as subreapers.

A process that loses its parent is handed to the nearest ancestor that declared itself a
*child subreaper* (``PR_SET_CHILD_SUBREAPER``), not to init.  Each checks process runs
under a keeper (``python -m grader.sandbox.reaper -- CHECKS COMMAND``, :func:`keep`), a small
trusted process that declares itself so: whatever a worker starts stays the keeper's
descendant, however it detaches (a double fork, a new session) and however its parents end
(the checks process killed at its budget, a worker killed by its parent's death).  When the
checks process has ended, or the runner asks the keeper to stop (SIGTERM, also sent by the
kernel if the runner dies), the keeper kills every descendant left
(:func:`kill_descendants`) and checks that none is: a process that survives is reported as
the grader's fault (exit status :data:`SURVIVORS`), never silently left running.

Signals go only to processes known to be alive and ours: each is opened as a pidfd first
and checked to still descend from us after that, so a pid reused by another process in the
meantime is never signalled.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Set as AbstractSet

from grader.sandbox import cgroup

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Make this process the subreaper of everything it starts (Linux ≥ 3.4)."""
    if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def _parents() -> dict[int, int]:
    """{pid: parent pid} of every process visible in /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                found[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return found


def descendants(root: int, exclude: AbstractSet[int] = frozenset()) -> list[int]:
    """The pids of ``root``'s descendants (children first), leaving out the subtrees of
    the pids in ``exclude``."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [p for p in children.get(root, []) if p not in exclude]
    while todo:
        pid = todo.pop(0)
        out.append(pid)
        todo += [p for p in children.get(pid, []) if p not in exclude]
    return out


def _kill_if_ours(pid: int, root: int, exclude: AbstractSet[int]) -> None:
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return  # gone
    try:
        if pid in descendants(root, exclude):  # still ours after the pidfd pinned it
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reap(root: int, exclude: AbstractSet[int]) -> None:
    """Collect the exit status of this process's children that have ended (only when
    ``root`` is this process: nobody else may wait for them), but those of ``exclude``
    (their owners wait for them)."""
    if root != os.getpid():
        return
    for pid, ppid in _parents().items():
        if ppid == root and pid not in exclude:
            try:
                os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG)
            except ChildProcessError:
                continue


def kill_descendants(root: int | None = None, exclude: AbstractSet[int] = frozenset(),
                     wait: float = 10.0) -> list[int]:
    """SIGKILL every descendant of ``root`` (default: this process) but the subtrees of
    ``exclude``, until none is left or ``wait`` seconds have passed; returns the pids still
    there (empty when all are gone).  Children of this process are reaped."""
    root = os.getpid() if root is None else root
    deadline = time.monotonic() + wait
    while True:
        left = [pid for pid in descendants(root, exclude) if not _zombie(pid)]
        if not left:
            _reap(root, exclude)
            return []
        if time.monotonic() > deadline:
            return left
        for pid in left:
            _kill_if_ours(pid, root, exclude)
        _reap(root, exclude)
        time.sleep(0.01)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


# ------------------------------------------------------------------------------ keeper

SURVIVORS = 97  # the keeper's exit status when a process outlived the kill
_PR_SET_PDEATHSIG = 1


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class _Stop(Exception):
    pass


def _stop(signum, frame):
    raise _Stop


def keep(cmd: list[str]) -> int:
    """Run ``cmd`` (inheriting every file descriptor) as this process's child; when it
    ends, or on SIGTERM, kill it and everything it started; returns its exit status (as
    the shell writes it: 128 + signal), or SURVIVORS if a process could not be killed."""
    import subprocess

    become_subreaper()
    signal.signal(signal.SIGTERM, _stop)
    parent = os.getppid()
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the runner died before the line above
        return 128 + signal.SIGTERM
    fds = tuple(fd for fd in map(int, os.listdir("/proc/self/fd")) if fd > 2 and _open(fd))
    child = None
    try:
        child = subprocess.Popen(cmd, pass_fds=fds, close_fds=True)
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        rc = child.wait()
    except _Stop:
        rc = 128 + signal.SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if child is not None and child.returncode is None:
        child.kill()  # not reaped yet: its pid is still its own
        child.wait()
    left: list[int | str] = [*kill_descendants()]
    if child is not None:  # the worker cgroups a killed checks process left behind
        left += cgroup.remove_those_of(child.pid)
    if left:
        print(f"dlkit-grade: processes started by the checks could not be killed: {left}",
              file=sys.stderr)
        return SURVIVORS
    return 128 - rc if rc < 0 else rc


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] != ["--"] or len(args) < 2:
        print("usage: python -m grader.sandbox.reaper -- COMMAND [ARG ...]", file=sys.stderr)
        sys.exit(2)
    sys.exit(keep(args[1:]))
