"""A cgroup v2 per worker, where the grader may make one: what it counts and how it ends.

Everything a worker starts stays in its cgroup (the worker joins it before its program
starts, and neither a leased uid nor a Landlock-confined one may write a cgroup's files),
so the cgroup answers for all of it at once:

- ``cpu.stat`` ``usage_usec``: the CPU time of every thread and process that ran in it,
  those that have exited included (:meth:`WorkerCgroup.cpu_seconds`);
- ``cgroup.kill``: every process in it, killed at once, wherever it moved in the process
  tree (:meth:`WorkerCgroup.kill`); ``cgroup.events`` says when none is left;
- ``memory.max`` (swap 0) and ``pids.max``, where the memory and pids controllers are
  enabled for the grader's own cgroup: memfd, tmpfs and page cache are charged there too.

Where does the grader get one: as root on a machine with the cgroup v2 hierarchy mounted
writable (a VM, a course server, GitHub's runners), or as a user whose systemd session
delegates its cgroup.  Not in a container whose /sys/fs/cgroup is read-only (Gradescope):
there :func:`create` returns None and the grader counts CPU by process clocks and kills by
uid or process group (``grader.timing.paired``, ``grader.sandbox.handle``).
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from pathlib import Path

_COUNTER = itertools.count(1)


@functools.cache
def _own_cgroup() -> Path | None:
    """The folder of this process's cgroup in the v2 hierarchy, if it is mounted."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    path = next((line[3:] for line in lines if line.startswith("0::")), None)
    mount = next((line.split()[4] for line in mounts
                  if " - cgroup2 " in line), None)  # mount point: the fifth field
    if path is None or mount is None:
        return None
    return Path(mount + path.rstrip("/"))


class WorkerCgroup:
    """One worker's cgroup (a folder under the grader's own cgroup)."""

    def __init__(self, path: Path):
        self.path = path

    @property
    def procs(self) -> str:
        """The file a process writes ``0`` to, to join this cgroup."""
        return str(self.path / "cgroup.procs")

    def pids(self) -> list[int]:
        """The processes in the cgroup now."""
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return []

    def cpu_seconds(self) -> float:
        """CPU time of everything that ever ran in the cgroup (``usage_usec``)."""
        for line in (self.path / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
        raise OSError(f"{self.path}/cpu.stat: no usage_usec")

    def populated(self) -> bool:
        try:
            text = (self.path / "cgroup.events").read_text()
        except FileNotFoundError:
            return False
        return "populated 1" in text

    def kill(self, wait: float = 10.0) -> bool:
        """SIGKILL every process in the cgroup; True once none is left (within ``wait`` s)."""
        try:
            (self.path / "cgroup.kill").write_text("1")
        except FileNotFoundError:
            return True
        deadline = time.monotonic() + wait
        while self.populated():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def remove(self) -> bool:
        """Kill what is left and remove the folder; False if a process is still in it."""
        if not self.kill():
            return False
        try:
            self.path.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            return False
        return True

    def limit(self, memory_bytes: int, pids: int) -> list[str]:
        """Set memory.max (and swap 0) and pids.max where the controllers are enabled;
        returns the names of the limits set."""
        done = []
        for name, value in (("memory.max", memory_bytes), ("memory.swap.max", 0),
                            ("pids.max", pids)):
            if (self.path / name).exists():  # a controller's file: not made by writing
                (self.path / name).write_text(str(value))
                done.append(name)
        return done


def remove_those_of(pid: int) -> list[str]:
    """Kill and remove the worker cgroups that process ``pid`` made (a checks process that
    was killed before it could); returns those that could not be removed."""
    parent = _own_cgroup()
    if parent is None:
        return []
    left = []
    for path in sorted(parent.glob(f"dlkit-grade-{pid}-*")):
        if not WorkerCgroup(path).remove():
            left.append(str(path))
    return left


def create(limits=None) -> WorkerCgroup | None:
    """A fresh cgroup for one worker under this process's own (None where the grader may
    not make one); ``limits`` (:class:`grader.sandbox.policy.Limits`) sets its memory and pids
    limits where those controllers are enabled."""
    parent = _own_cgroup()
    if parent is None or os.environ.get("DLKIT_GRADE_CGROUP", "") in ("off", "0", "no"):
        return None
    path = parent / f"dlkit-grade-{os.getpid()}-{next(_COUNTER)}"
    try:
        path.mkdir()
    except OSError:
        return None
    group = WorkerCgroup(path)
    if not (path / "cgroup.kill").exists() or not (path / "cpu.stat").exists():
        group.remove()  # a kernel before 5.14: no cgroup.kill
        return None
    if limits is not None:
        try:
            group.limit(limits.memory_mb * 2**20, limits.nproc)
        except OSError:
            group.remove()
            return None
    return group
