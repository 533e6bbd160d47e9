"""What a worker may do, as plain data: limits, what each task blocks, and the one typed
configuration (:class:`WorkerConfig`) the trusted side writes and the worker reads.

Both processes import this module; it holds no logic beyond (de)serializing, so that a
reader sees in one place everything a worker is told.  The tasks themselves (which dlkit
modules hold which task's answer) come from :mod:`dlkit.tasks`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields

from dlkit.tasks import ALWAYS_BLOCKED, TASKS

# What each assignment may not use from dlkit, where dlkit has the answer (dlkit.tasks):
# - "modules": blocked as a whole: never executed in the worker (a module that an allowed
#   one imports, like dlkit.kernels.batchnorm for dlkit.kernels, is replaced by a stub of
#   placeholders that raise while that import runs) and, under namespaces or Landlock,
#   their files are unreadable, so that removing the import hook finds nothing.
# - "attrs": "module:name" objects of an allowed module (dlkit.layers has Affine too):
#   removed from every dlkit module, their methods replaced by ones that raise (so the class
#   is useless even when found through gc or object.__subclasses__()).
BLOCKED = {tid: {"modules": list(task.blocked_modules), "attrs": list(task.blocked_attrs)}
           for tid, task in TASKS.items()}
BLOCKED_MODULES = list(ALWAYS_BLOCKED)
# Numba threads a worker may run (NUMBA_NUM_THREADS): as on a student's machine, more than
# one, so that a data race between the threads of a numba.prange loop shows in the
# correctness checks (grader/checks/test_a4.py); speed is timed with one
# (numba.set_num_threads(1) before timing).  BLAS and OpenMP stay at one thread.
KERNEL_THREADS = 2
# What every worker imports before any student code, to prove that the installation in use
# works for it (besides dlkit's modules that its task allows).
REQUIRED_MODULES = ("numpy", "numba")


def block_reason(assignment: str | None) -> str:
    if assignment in TASKS:
        return TASKS[assignment].block_reason
    return "the solutions and the grader are not available to your code"


class ConfigError(RuntimeError):
    """Bad limits or settings given to the grader (a problem of the grader, exit 3)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process (memory and disk in MiB, CPU in seconds).

    ``import_timeout``: seconds allowed for importing a student module (once per worker).
    ``start_timeout``: CPU seconds a worker may take to start (``grader.sandbox.Worker.
    start``: no student code runs then; the wall clock allows ten times as much).
    """

    memory_mb: int = 3072
    nproc: int = 64
    cpu_seconds: int = 900
    file_mb: int = 256
    disk_mb: int = 256
    nofile: int = 1024
    import_timeout: float = 30.0
    start_timeout: float = 30.0
    output_bytes: int = 64 * 1024


def limits_from_env() -> Limits:
    """Limits, with ``DLKIT_GRADE_IMPORT_TIMEOUT`` (seconds) if set (the project's tests
    shorten it so that a module looping at import costs seconds, not half a minute)."""
    value = os.environ.get("DLKIT_GRADE_IMPORT_TIMEOUT")
    if not value:
        return Limits()
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ConfigError(f"DLKIT_GRADE_IMPORT_TIMEOUT: expected seconds > 0, got {value!r}")
    return Limits(import_timeout=seconds)


@dataclass(frozen=True)
class Block:
    """What the worker refuses to import (see ``grader.sandbox.worker._block``)."""

    modules: list[str] = field(default_factory=list)        # always: solutions, grader
    dlkit_modules: list[str] = field(default_factory=list)  # the task's answer, whole modules
    attrs: list[str] = field(default_factory=list)          # "module:name" objects
    reason: str = ""

    @classmethod
    def for_task(cls, assignment: str | None) -> Block:
        blocked = BLOCKED.get(assignment, {}) if assignment is not None else {}
        return cls(list(BLOCKED_MODULES), list(blocked.get("modules", [])),
                   list(blocked.get("attrs", [])), block_reason(assignment))


@dataclass(frozen=True)
class LandlockRules:
    """Paths the worker may still open once confined (``grader.sandbox.confine``)."""

    read: list[str] = field(default_factory=list)     # read and execute, beneath
    listing: list[str] = field(default_factory=list)  # list only: folders holding hidden ones
    write: list[str] = field(default_factory=list)    # every right, beneath (working copy)
    devices: list[str] = field(default_factory=list)  # /dev/null, /dev/urandom, ...


@dataclass(frozen=True)
class WorkerConfig:
    """Everything the worker is told at start-up (JSON on its command line).

    isolation:  the level (``grader.sandbox.isolation.LEVELS``); the fields below say what it means
    workdir:    the worker's own working copy of the submission (its cwd and HOME)
    submission: the trusted copy to copy from (None: a worker without student code)
    req_fd, resp_fd, parent: the request and reply pipes, the grader's pid
    uid:        the unprivileged uid to run as (None: stay the grader's uid)
    namespaces: mount a private tmpfs, hide ``mask`` and everything but ``expose``
    landlock:   confine with these rules (None: no Landlock)
    seccomp:    install the seccomp filter that refuses every socket, memfd and System V
                shared memory (``grader.confine.refuse_syscalls``)
    keep_process_group: that filter also refuses setsid() and setpgid() (the grader's uid:
                its process group is the only handle on what the worker starts)
    reach:      paths to reach through directory handles (a Python other uids cannot reach)
    dlkit_path: the folder holding the dlkit the trusted side uses (put on ``sys.path``)
    prove:      modules imported before any student code (numpy, numba, dlkit's allowed ones)
    """

    isolation: str
    workdir: str
    submission: str | None
    req_fd: int
    resp_fd: int
    parent: int
    rlimits: dict[str, int]
    block: Block
    uid: int | None = None
    namespaces: bool = False
    disk_mb: int = 256
    mask: list[str] = field(default_factory=list)
    views: list = field(default_factory=list)
    expose: list[str] = field(default_factory=list)
    private: list[str] = field(default_factory=list)
    landlock: LandlockRules | None = None
    seccomp: bool = False
    keep_process_group: bool = False
    reach: list[str] = field(default_factory=list)
    drop_path: list[str] = field(default_factory=list)
    dlkit_path: str | None = None
    prove: list[str] = field(default_factory=list)
    kernel_cache: list = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerConfig:
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"worker configuration: unknown fields {sorted(unknown)}")
        data["block"] = Block(**data["block"])
        if data.get("landlock") is not None:
            data["landlock"] = LandlockRules(**data["landlock"])
        return cls(**data)
