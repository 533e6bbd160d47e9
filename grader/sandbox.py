"""The trusted handle on a sandboxed worker process (the student's code runs there).

    w = Worker(Path("submission"), assignment="a2")
    bn = w.create("a2_batchnorm.batchnorm:BatchNormalization", gamma, beta, timeout=10)
    out = bn.call("forward", x, train_flg=True)          # a plain ndarray, checked by value
    w.close()

Isolation, strongest available (:func:`detect_isolation`, the report says which was used):

- ``namespaces`` (root, ``unshare`` allowed): the worker is PID 1 of its own PID, network
  and mount namespace, runs as an unprivileged uid of its own (leased per worker so that
  RLIMIT_NPROC and file permissions separate concurrent workers) with no_new_privs; its
  working copy is a private size-limited tmpfs; the grader's files, solutions and the
  hidden data are hidden behind empty mounts. Killing it kills every process it started.
- ``user`` (root, namespaces refused, e.g. a container): same uid drop and rlimits, a new
  session; on close every process of the leased uid is killed. Files are not hidden.
- ``session`` (not root): a new session, rlimits, process-group kill. Protects against
  accidents (loops, crashes, exits, memory), not against a determined adversary: the
  worker runs as the grader's user and can read whatever the grader can, including dlkit's
  data cache (~/.cache/dlkit or $DLKIT_DATA_DIR) and /usr/share/datasets with the test
  labels, and the hidden checks. Its environment points at none of them (HOME is its
  working copy, DLKIT_DATA_DIR is not passed) and a3's hidden data is loaded by the trusted
  side before the worker starts; that is all that can be done without root. The report
  says so (:data:`ISOLATION_NOTES`).

Errors: :class:`StudentError` (the student's code raised), :class:`StudentTimeout`
(no answer in time: the worker is killed), :class:`WorkerDied` (crash, exit, limit).
After a timeout or death the next call starts a fresh worker; refs from the old one are lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib.util
import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dlkit.tasks import ALWAYS_BLOCKED, TASKS
from grader import protocol

GRADER_DIR = Path(__file__).resolve().parent
REPO_DIR = GRADER_DIR.parent
UID_RANGE = range(61000, 62000)
UID_LOCK_DIR = Path(tempfile.gettempdir()) / "dlkit-grade-uids"
ISOLATION_LEVELS = ("namespaces", "user", "session")

# What each assignment may not use from dlkit, where dlkit has the answer (dlkit.tasks; the
# worker's BLOCKED list, grader/worker.py ``_block``):
# - "modules": blocked as a whole: never executed in the worker (a module that an allowed
#   one imports, like dlkit.kernels.batchnorm for dlkit.kernels, is replaced by a stub of
#   placeholders that raise while that import runs) and, under namespace isolation, their
#   files are hidden, so that removing the import hook and importing again finds nothing.
# - "attrs": "module:name" objects of an allowed module (dlkit.layers has Affine too):
#   removed from every dlkit module, their methods replaced by ones that raise (so the class
#   is useless even when found through gc or object.__subclasses__()).
BLOCKED = {tid: {"modules": list(task.blocked_modules), "attrs": list(task.blocked_attrs)}
           for tid, task in TASKS.items()}
BLOCKED_MODULES = list(ALWAYS_BLOCKED)


def blocked_files(assignment: str | None) -> list[str]:
    """Files and folders of dlkit that hold what ``assignment`` blocks as whole modules
    (with their compiled caches): hidden from the worker under namespace isolation."""
    spec = importlib.util.find_spec("dlkit")
    if assignment not in BLOCKED or not spec or not spec.submodule_search_locations:
        return []
    root = Path(next(iter(spec.submodule_search_locations)))
    paths = []
    for module in BLOCKED[assignment]["modules"]:
        parts = module.split(".")[1:]
        base = root.joinpath(*parts)
        if base.is_dir():
            paths.append(base)
        elif base.with_suffix(".py").is_file():
            paths.append(base.with_suffix(".py"))
            cache = base.parent / "__pycache__"  # .pyc, Numba's .nbi/.nbc of the module
            if cache.is_dir():
                paths += sorted(cache.glob(f"{base.name}.*"))
    return [str(p) for p in paths]


# World-writable directories replaced by a fresh private tmpfs in the worker.
PRIVATE_DIRS = ["/tmp", "/var/tmp", "/dev/shm"]
# Directories with the hidden data (labels) the worker must not read.
# Data folders with test labels: Debian's datasets and the course's shared data next to the
# checkout (../shared/data). Under namespaces every non-system top-level folder is hidden too.
HIDDEN_DATA_DIRS = ["/usr/share/datasets", str(REPO_DIR.parent / "shared" / "data")]


class StudentError(Exception):
    """The student's code raised. ``type_name``, ``message``, ``traceback``, ``output``."""

    def __init__(self, type_name: str, message: str, traceback: str = "", output: str = "",
                 kind: str = "exception"):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message, self.traceback = type_name, message, traceback
        self.output, self.kind = output, kind

    @property
    def blocked(self) -> bool:
        """True when the error is an import the grader blocks (solutions, dlkit's BatchNorm)."""
        return self.kind == "blocked"


class StudentTimeout(Exception):
    """No answer within ``seconds``; the worker was killed (``what`` names the request)."""

    def __init__(self, seconds: float, what: str, output: str = ""):
        super().__init__(f"{what}: no answer within {seconds:g} s (the worker was stopped)")
        self.seconds, self.what, self.output = seconds, what, output


class WorkerDied(Exception):
    """The worker exited, crashed, broke a limit or the protocol. ``reason`` says which."""

    def __init__(self, reason: str, output: str = ""):
        super().__init__(reason)
        self.reason, self.output = reason, output


class SandboxError(RuntimeError):
    """The grader could not start a worker (a problem of the grader, not of the student)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process (memory and disk in MiB, CPU in seconds).

    ``import_timeout``: seconds allowed for importing a student module (once per worker).
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


# ------------------------------------------------------------------------- isolation


@functools.cache
def _namespaces_work() -> bool:
    if not shutil.which("unshare"):
        return False
    try:
        proc = subprocess.run(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
                               "--net", "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


@functools.cache
def _others_can_run_python() -> bool:
    """Can a uid other than ours traverse to the Python installation and its packages?"""
    for path in _python_paths():
        parts = Path(path).resolve().parts
        for i in range(2, len(parts) + 1):
            if not os.stat(Path(*parts[:i])).st_mode & 0o001:
                return False
    return True


def detect_isolation() -> str:
    """The strongest isolation level available here (see the module docstring).

    ``DLKIT_GRADE_ISOLATION`` may ask for a weaker level (for tests), never a stronger one.
    """
    best = "session"
    if os.geteuid() == 0:
        if _namespaces_work():
            best = "namespaces"
        elif _others_can_run_python():  # else an unprivileged uid could not import numpy
            best = "user"
    wanted = os.environ.get("DLKIT_GRADE_ISOLATION", "")
    if wanted:
        if wanted not in ISOLATION_LEVELS:
            raise SandboxError(f"DLKIT_GRADE_ISOLATION: expected one of {ISOLATION_LEVELS}, "
                               f"got {wanted!r}")
        if ISOLATION_LEVELS.index(wanted) > ISOLATION_LEVELS.index(best):
            return "session" if wanted == "user" and not _others_can_run_python() else wanted
    return best


# What each isolation level does NOT protect (the report shows it; grader/README.md).
ISOLATION_NOTES = {
    "namespaces": ("The worker ran in its own PID, network and mount namespace as an "
                   "unprivileged user; the grader's files, solutions and hidden data were "
                   "hidden from it."),
    "user": ("No namespaces: the worker ran as an unprivileged user, but files that every "
             "user may read were NOT hidden from it (world-readable datasets with the test "
             "labels such as /usr/share/datasets, and the grader's hidden checks and the "
             "solutions where they are world-readable), and it had network access. The "
             "dlkit modules an assignment blocks are refused by an import hook only: code "
             "that removes the hook can import them."),
    "session": ("WEAK ISOLATION (not root): the worker ran as the grader's own user, in a new "
                "session with rlimits only. It could read every file the grader can read: "
                "dlkit's data cache (~/.cache/dlkit or $DLKIT_DATA_DIR) and "
                "/usr/share/datasets with the test labels, the hidden checks and the "
                "solutions; it could use the network, signal the grader and import the "
                "dlkit modules an assignment blocks (after removing the import hook that "
                "refuses them). Its environment "
                "names none of these paths (HOME is its working copy, no DLKIT_DATA_DIR) and "
                "the hidden data is loaded before it starts, but an adversarial submission "
                "can still find them: grade as root with unshare available for scores that "
                "must hold against cheating."),
}


class _UidLease:
    """An unprivileged uid without a passwd entry, held (flock) for one worker's lifetime."""

    def __init__(self):
        UID_LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        for uid in UID_RANGE:
            try:
                pwd.getpwuid(uid)
                continue
            except KeyError:
                pass
            fd = os.open(UID_LOCK_DIR / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self.fd = uid, fd
            self.kill_all()  # left over from a grader that was killed
            return
        raise SandboxError(f"no free uid in {UID_RANGE.start}..{UID_RANGE.stop - 1}")

    def kill_all(self) -> None:
        """SIGKILL every process still running as this uid (daemons left behind)."""
        for _ in range(3):
            found = False
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    if os.stat(f"/proc/{entry}").st_uid == self.uid:
                        os.kill(int(entry), signal.SIGKILL)
                        found = True
                except (FileNotFoundError, ProcessLookupError, PermissionError):
                    continue
            if not found:
                return
            time.sleep(0.05)

    def release(self) -> None:
        self.kill_all()
        os.close(self.fd)


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        try:
            count += entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid
        except OSError:
            continue
    return count


def default_masks() -> list[str]:
    """Paths hidden from the worker: the grader, the repository's solutions/.git/tests,
    the hidden data, and the paths listed in ``DLKIT_GRADE_HIDE`` (os.pathsep-separated,
    e.g. Gradescope's results folder)."""
    paths = [GRADER_DIR]
    if (REPO_DIR / "dlkit").is_dir():
        paths += [REPO_DIR / name for name in ("solutions", ".git", "tests", "benchmarks")]
    paths += [Path(p) for p in HIDDEN_DATA_DIRS]
    if os.environ.get("DLKIT_DATA_DIR"):  # dlkit's data folder, when not the user cache
        paths.append(Path(os.environ["DLKIT_DATA_DIR"]))
    paths += [Path(p) for p in os.environ.get("DLKIT_GRADE_HIDE", "").split(os.pathsep) if p]
    return [str(p) for p in paths if p.exists()]


def repository_view() -> list:
    """``[[REPO_DIR, [kept, ...]]]`` when the grader runs from a source checkout: the worker
    sees an empty read-only folder there holding only dlkit's package folder, so that
    nothing else of the checkout (solutions, tests, a build/ or dist/ copy of the grader
    with its hidden checks, ...) is readable, whatever new files appear in it."""
    if not (REPO_DIR / "pyproject.toml").is_file():
        return []  # an installed grader: site-packages, handled by the masks
    # dlkit's package folder, and Python's own folders when they live in the checkout
    # (a virtual environment in ./.venv, as many users make it).
    inside = [Path(p).resolve() for p in _python_paths()]
    keep = [p for p in inside if p.is_relative_to(REPO_DIR) and p != REPO_DIR]
    return [[str(REPO_DIR), [str(p) for p in keep]]]


def _python_paths() -> list[str]:
    """What the worker must be able to read: the Python installation and its packages."""
    import numpy

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(numpy.__file__).parent.parent)}
    paths.update(p for p in sys.path if p and Path(p).is_dir() and not Path(p).is_relative_to(
        REPO_DIR))
    spec = importlib.util.find_spec("dlkit")
    if spec and spec.submodule_search_locations:
        paths.update(spec.submodule_search_locations)
    return sorted(paths)


# --------------------------------------------------------------------------- output


class _Output:
    """Reads the worker's stdout+stderr pipe in a thread; keeps the last ``cap`` bytes."""

    def __init__(self, fd: int, cap: int):
        self.fd, self.cap = fd, cap
        self.buf = bytearray()
        self.total = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        """Read until EOF (every writer gone), then close the pipe: the thread owns it.

        Each read happens under the lock, so once the pipe is empty and the lock is free,
        everything written so far is in ``buf`` (what ``sync`` relies on).
        """
        while True:
            select.select([self.fd], [], [])  # wait, without the lock, for data or EOF
            with self.lock:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                self.buf += chunk
                self.total += len(chunk)
                if len(self.buf) > self.cap:
                    del self.buf[: len(self.buf) - self.cap]
            if not chunk:
                os.close(self.fd)
                return

    def sync(self, wait: float = 0.5) -> None:
        """Wait (briefly) until everything written so far has been read."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and self.thread.is_alive():
            try:
                pending = fcntl.ioctl(self.fd, termios.FIONREAD, b"\0\0\0\0")
            except OSError:
                return
            if int.from_bytes(pending, sys.byteorder) == 0:
                with self.lock:  # the reader thread is not mid-append
                    return
            time.sleep(0.002)

    def since(self, mark: int) -> str:
        """Text written since ``mark`` (a previous ``total``), as much as is still kept."""
        with self.lock:
            n = min(self.total - mark, len(self.buf))
            text = bytes(self.buf[len(self.buf) - n:]).decode("utf-8", "replace") if n else ""
            skipped = self.total - mark - n
        return (f"[... {skipped} bytes not kept ...]\n" if skipped else "") + text

    def close(self):
        """Wait briefly for EOF (the worker is gone); the reader thread closes the pipe. A
        daemon left behind (session isolation only) may hold it open longer."""
        self.thread.join(0.5)


# --------------------------------------------------------------------------- worker

_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); from grader.worker import main; "
         "sys.path.remove(sys.argv[1]); main(sys.argv[2])")


class Remote:
    """An object living in the worker (e.g. the student's BatchNormalization instance)."""

    def __init__(self, worker: Worker, ref_id: int, generation: int):
        self._worker, self._id, self._generation = worker, ref_id, generation

    def __repr__(self):
        return f"<Remote object {self._id} in worker generation {self._generation}>"

    def call(self, name: str, *args, timeout: float | None = None, return_args: bool = False,
             **kwargs):
        """``obj.name(*args, **kwargs)`` in the worker; the result comes back by value."""
        return self._worker._request({"op": "call", "ref": self, "name": name, "args": args,
                                      "kwargs": kwargs, "return_args": return_args},
                                     timeout, f"{name}()")

    def get(self, name: str, timeout: float | None = None):
        """The attribute ``obj.name`` by value (a Remote if it is not plain data)."""
        return self._worker._request({"op": "get", "ref": self, "name": name}, timeout,
                                     f"reading .{name}")

    def set(self, name: str, value, timeout: float | None = None) -> None:
        """``obj.name = value`` in the worker."""
        self._worker._request({"op": "set", "ref": self, "name": name, "value": value},
                              timeout, f"setting .{name}")

    def method(self, name: str) -> tuple[Remote, str]:
        """A method reference for :meth:`Worker.time`."""
        return (self, name)


class Worker:
    """A sandboxed process running student code from ``submission`` (None: no student code).

    ``assignment`` selects what is blocked (see BLOCKED); ``run_dir`` is a trusted
    directory for working copies (a private temporary one when None).
    """

    default_timeout = 10.0

    def __init__(self, submission: str | Path | None = None, *, assignment: str | None = None,
                 run_dir: str | Path | None = None, limits: Limits = Limits(),
                 isolation: str | None = None, masks: list[str] | None = None,
                 kernel_cache: str | Path | None = None):
        self.submission = Path(submission).resolve() if submission else None
        if self.submission and not self.submission.is_dir():
            raise SandboxError(f"submission: expected a directory, got {submission}")
        self.assignment, self.limits = assignment, limits
        self.isolation = isolation or detect_isolation()
        self.masks = ((default_masks() if masks is None else masks)
                      + blocked_files(assignment))
        # dlkit's compiled kernels (grader.kernel_cache), copied into the worker's own
        # NUMBA_CACHE_DIR; not under session isolation, where the worker could write the
        # grader's copy (see grader/kernel_cache.py)
        self.kernel_cache = (Path(kernel_cache) if kernel_cache and self.isolation != "session"
                             else None)
        if self.kernel_cache:
            self.masks.append(str(self.kernel_cache))
        self._own_run_dir = run_dir is None
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="dlkit-grade-"))
        os.chmod(self.run_dir, 0o711)
        self.generation = 0
        self.proc: subprocess.Popen | None = None
        self.output: _Output | None = None
        self._lease: _UidLease | None = None
        self._import_failures: dict[str, Exception] = {}
        self._imported: set[str] = set()
        self.starts = 0
        self.transcript: list[str] = []  # what the student's code printed (bounded)

    # -- life cycle
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start a fresh worker process (stops the current one first)."""
        self._stop()
        self.generation += 1
        self.starts += 1
        self._imported = set()
        workdir = self.run_dir / f"work-{os.getpid()}-{id(self):x}-{self.generation}"
        workdir.mkdir(mode=0o700)
        cfg = {"workdir": str(workdir), "namespaces": self.isolation == "namespaces",
               "submission": str(self.submission) if self.submission else None,
               "disk_mb": self.limits.disk_mb, "rlimits": self._rlimits(),
               "mask": self.masks if self.isolation == "namespaces" else [],
               "drop_path": [str(REPO_DIR)], "expose": _python_paths(),
               "private": PRIVATE_DIRS,
               "views": repository_view() if self.isolation == "namespaces" else [],
               "kernel_cache": self._kernel_cache_files(),
               "block": {"modules": BLOCKED_MODULES,
                         "dlkit_modules": BLOCKED.get(self.assignment, {}).get("modules", []),
                         "attrs": BLOCKED.get(self.assignment, {}).get("attrs", []),
                         "reason": self._block_reason()}}
        if self.isolation in ("namespaces", "user"):
            self._lease = _UidLease()
            cfg["uid"] = cfg["gid"] = self._lease.uid
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        cfg["req_fd"], cfg["resp_fd"], cfg["parent"] = req_r, resp_w, os.getpid()
        cmd = [sys.executable, "-I", "-B", "-c", _BOOT, str(REPO_DIR), json.dumps(cfg)]
        if self.isolation == "namespaces":
            cmd = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--net",
                   "--mount", "--propagation", "private", "--", *cmd]
        if shutil.which("setpriv"):  # the worker dies with the process that started it
            cmd = ["setpriv", "--pdeathsig", "KILL", "--", *cmd]
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                pass_fds=(req_r, resp_w), start_new_session=True, env=self._env(workdir),
                cwd="/")
        finally:
            for fd in (req_r, resp_w, out_w):
                os.close(fd)
        os.set_blocking(req_w, False)  # writes wait with a deadline (_write)
        self._req, self._resp = req_w, resp_r
        self.output = _Output(out_r, self.limits.output_bytes)
        mark = self.output.total
        self._sent_at = time.monotonic()
        try:
            header, _ = self._recv(self._sent_at + self.limits.start_timeout, "start-up")
        except (StudentTimeout, WorkerDied) as exc:
            self._stop()
            raise SandboxError(f"the worker did not start ({exc}); output:\n"
                               f"{self.output.since(mark)}") from None
        if not header.get("ok"):
            self._stop()
            err = header.get("error", {})
            raise SandboxError(f"{err.get('message')}\n{err.get('traceback', '')}")

    def close(self) -> None:
        """Stop the worker and remove the working copies this object made."""
        self._stop()
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def _stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    protocol.send(self._req, {"op": "exit"})
                except OSError:
                    pass
                try:
                    self.proc.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    pass
            self._kill()
            for fd in (self._req, self._resp):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.output.sync(0.2)
            self.output.close()
            self.proc = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        for work in self.run_dir.glob(f"work-{os.getpid()}-{id(self):x}-*"):
            shutil.rmtree(work, ignore_errors=True)

    def _kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self._lease is not None:
            self._lease.kill_all()

    def _rlimits(self) -> dict:
        lim, mib = self.limits, 2**20
        out = {"RLIMIT_AS": lim.memory_mb * mib, "RLIMIT_FSIZE": lim.file_mb * mib,
               "RLIMIT_NOFILE": lim.nofile, "RLIMIT_CORE": 0}
        if self.isolation != "session":
            out["RLIMIT_NPROC"] = lim.nproc  # the leased uid runs nothing else
        elif os.geteuid() != 0:  # counts all our processes (root ignores it)
            out["RLIMIT_NPROC"] = _processes_of(os.geteuid()) + lim.nproc
        out["RLIMIT_CPU"] = lim.cpu_seconds
        return out

    def _env(self, workdir: Path) -> dict:
        tmp = str(workdir / ".tmp")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": tmp,
               "LANG": "C.UTF-8", "USER": "student", "LOGNAME": "student",
               "MPLBACKEND": "Agg", "MPLCONFIGDIR": tmp,
               "NUMBA_CACHE_DIR": str(workdir / ".numba_cache")}
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS"):
            env[var] = "1"  # fair, repeatable timings; 2 cores shared by parallel jobs
        return env

    def _kernel_cache_files(self) -> list:
        if self.kernel_cache is None or not self.kernel_cache.is_dir():
            return []
        from grader import kernel_cache

        return kernel_cache.files(self.kernel_cache,
                                  BLOCKED.get(self.assignment, {}).get("modules", []))

    def _block_reason(self) -> str:
        if self.assignment in TASKS:
            return TASKS[self.assignment].block_reason["en"]
        return "the solutions and the grader are not available to your code"

    # -- messages
    def _recv(self, deadline: float, what: str):
        def read(fd, n):
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Deadline
                ready, _, _ = select.select([fd], [], [], min(left, 0.25))
                if ready:
                    return os.read(fd, n)
                if self.proc.poll() is not None:
                    return b""

        try:
            return protocol.recv(self._resp, reader=read)
        except _Deadline:
            seconds = round(deadline - self._sent_at, 1)
            self._kill()
            raise StudentTimeout(seconds, what) from None
        except (EOFError, OSError):
            self._kill()
            raise WorkerDied(self._death_reason(what)) from None
        except protocol.ProtocolError as exc:
            self._kill()
            raise WorkerDied(f"{what}: the worker sent a malformed message ({exc})") from None

    def _death_reason(self, what: str) -> str:
        rc = self.proc.returncode if self.proc else None
        if rc is None:
            return f"{what}: the worker stopped answering"
        if rc < 0:
            sig = signal.Signals(-rc)
            why = {signal.SIGSEGV: "a segmentation fault (crash in native code)",
                   signal.SIGBUS: "a bus error (crash in native code)",
                   signal.SIGABRT: "an abort (crash in native code)",
                   signal.SIGFPE: "a floating-point exception (crash in native code)",
                   signal.SIGILL: "an illegal instruction (crash in native code)",
                   signal.SIGXCPU: f"the CPU time limit ({self.limits.cpu_seconds} s)",
                   signal.SIGXFSZ: f"the file size limit ({self.limits.file_mb} MiB)",
                   signal.SIGKILL: "SIGKILL (a resource limit, or killed from outside)",
                   }.get(sig, sig.name)
            return f"{what}: the worker was killed by {sig.name}: {why}"
        return (f"{what}: the worker exited with status {rc} (os._exit() or a crash "
                f"while running your code)")

    def _send(self, header: dict) -> None:
        buffers: list = []
        data = {}
        for key, value in header.items():
            if key in ("args", "kwargs", "value"):
                data[key] = protocol.encode(value, buffers, register=self._ref_id)
            elif key == "ref":
                data[key] = self._ref_id(value)
            else:
                data[key] = value
        self._sent_at = time.monotonic()
        what = header.get("op", "request")
        try:
            self._write(data, buffers, self._sent_at + self.default_timeout, what)
        except OSError:  # the worker died before reading
            self._kill()
            raise WorkerDied(self._death_reason(what)) from None

    def _write(self, header: dict, buffers: list, deadline: float, what: str) -> None:
        """Send one message; a worker that stops reading (while it is blocked writing a
        reply nobody reads, say) is killed at ``deadline`` instead of hanging the grader."""
        view = memoryview(protocol.pack(header, list(buffers)))
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill()
                raise StudentTimeout(round(deadline - self._sent_at, 1),
                                     f"{what} (the worker stopped reading requests)")
            _, ready, _ = select.select([], [self._req], [], min(left, 0.25))
            if ready:
                try:
                    view = view[os.write(self._req, view):]
                except BlockingIOError:
                    continue

    def _ref_id(self, value) -> int:
        if isinstance(value, Remote):
            if value._worker is not self or value._generation != self.generation:
                raise WorkerDied("this object was lost: the worker was restarted after an "
                                 "earlier failure (timeout, crash or exit)")
            return value._id
        raise protocol.Unencodable(
            f"a value of type {type(value).__name__} cannot be sent to the worker")

    def _ensure_started(self) -> None:
        if not self.alive:
            self.start()

    def _ensure_imported(self, target: str) -> None:
        module = target.partition(":")[0]
        if module in self._import_failures:  # fail fast: importing again would fail again
            raise self._import_failures[module]
        self._ensure_started()
        if module in self._imported:
            return
        try:
            self._exchange({"op": "import", "module": module}, self.limits.import_timeout,
                           f"importing {module}")
        except StudentTimeout as exc:
            self._import_failures[module] = exc
            raise
        except WorkerDied as exc:
            self._import_failures[module] = exc
            raise
        except StudentError as exc:
            if not exc.blocked and exc.kind != "exit":
                self._import_failures[module] = exc
            raise
        self._imported.add(module)

    def _exchange(self, header: dict, timeout: float | None, what: str):
        self._ensure_started()
        mark = self.output.total
        self._send(header)
        deadline = self._sent_at + (self.default_timeout if timeout is None else timeout)
        try:
            reply, buffers = self._recv(deadline, what)
        except (StudentTimeout, WorkerDied) as exc:
            self.output.sync(0.2)
            exc.output = self._log(self.output.since(mark))
            raise
        self.output.sync()
        return self._decode_reply(reply, buffers, what, self._log(self.output.since(mark)))

    def _log(self, output: str) -> str:
        if output:
            self.transcript.append(output)
            if sum(map(len, self.transcript)) > self.limits.output_bytes:
                self.transcript[:] = ["".join(self.transcript)[-self.limits.output_bytes:]]
        return output

    def _decode_reply(self, reply: dict, buffers: list, what: str, output: str):
        if reply.get("ok") is True:
            try:
                return protocol.decode(reply.get("value"), buffers, resolve_ref=functools.
                                       partial(Remote, self, generation=self.generation))
            except protocol.ProtocolError as exc:
                self._kill()
                raise WorkerDied(f"{what}: the worker sent a malformed message ({exc})",
                                 output) from None
        err = reply.get("error")
        if not isinstance(err, dict):
            self._kill()
            raise WorkerDied(f"{what}: the worker sent a malformed message", output)
        text = {k: str(err.get(k, ""))[:20_000] for k in ("type", "message", "traceback",
                                                           "kind", "code")}
        if text["kind"] == "exit":
            raise WorkerDied(f"{what}: your code called sys.exit({text['code']})", output)
        raise StudentError(text["type"], text["message"], text["traceback"], output,
                           text["kind"])

    def _request(self, header: dict, timeout: float | None, what: str):
        if "target" in header:
            self._ensure_imported(header["target"])
        return self._exchange(header, timeout, what)

    # -- the API used by the checks
    def call(self, target: str, *args, timeout: float | None = None,
             return_args: bool = False, **kwargs):
        """``module:function(*args, **kwargs)`` in the worker; the result by value.

        With ``return_args=True`` returns ``(result, args_after_the_call)`` (for kernels
        that write into their arguments). Non-plain results come back as :class:`Remote`.
        """
        return self._request({"op": "call", "target": target, "args": args,
                              "kwargs": kwargs, "return_args": return_args}, timeout,
                             target)

    def create(self, target: str, *args, timeout: float | None = None, **kwargs) -> Remote:
        """Call ``target`` (usually a class) and keep the result in the worker: a Remote."""
        return self._request({"op": "call", "target": target, "args": args,
                              "kwargs": kwargs, "keep": True}, timeout, target)

    def import_module(self, module: str) -> None:
        """Import ``module`` in the worker, as the first call of one of its names would."""
        self._ensure_imported(f"{module}:")

    def ping(self, timeout: float | None = None) -> None:
        """One empty round trip (measures the grader's own overhead)."""
        self._exchange({"op": "ping"}, timeout, "ping")

    def time(self, target, args=(), kwargs=None, *, number: int = 10, repeat: int = 3,
             warmup: int = 1, timeout: float = 60.0, return_result: bool = False):
        """Seconds per call of ``target(*args, **kwargs)``, best of ``repeat`` rounds of
        ``number`` calls, measured by the trusted clock around each round.

        ``target``: "module:function", ``remote.method("name")``, or a list of
        ``(target, args, kwargs)`` steps timed together (e.g. forward then backward).
        ``warmup`` untimed rounds come first (Numba compiles there). With
        ``return_result`` also returns the last round's results (a list, one per step,
        of ``(result, args_after)``) so that a check can verify what was timed.
        """
        with self.timing(target, args, kwargs, number=number, repeat=repeat, warmup=warmup,
                         timeout=timeout) as session:
            best = float("inf")
            for _ in range(repeat):
                t0 = time.perf_counter()
                session.round()
                best = min(best, time.perf_counter() - t0)
            result = session.finish()
        return (best / number, result) if return_result else best / number

    def timing(self, target, args=(), kwargs=None, *, number: int = 10, repeat: int = 3,
               warmup: int = 1, timeout: float = 60.0, vary=None) -> TimingSession:
        """Start a timing session (what :meth:`time` does, with the clock left to the
        caller): ``session.round()`` exactly ``repeat`` times, each running ``number``
        calls of the steps in the worker and returning when the worker reports them done;
        then ``session.finish()`` -> the last round's results.  Use it as a context
        manager: a session left unfinished (an error between rounds) stops the worker,
        whose next request starts a fresh one.

        ``vary`` (a :class:`grader.varied.Vary`): every call sees a slightly changed input
        and each round's "done" carries probe values of its outputs (``session.probes``,
        one array per round, None when the worker sent none; ``session.plan`` is what was
        sent), for the caller to check against a trusted replay; ``finish()`` then returns
        the results of one more call with the inputs as given."""
        steps = target if isinstance(target, list) else [(target, args, kwargs or {})]
        if number < 1 or repeat < 1:
            raise ValueError(f"time(): number and repeat must be >= 1, got {number}, {repeat}")
        self._ensure_started()
        encoded = []
        for step_target, step_args, step_kwargs in steps:
            if isinstance(step_target, tuple):
                remote, name = step_target
                encoded.append({"ref": remote, "name": name, "args": tuple(step_args),
                                "kwargs": dict(step_kwargs or {})})
            else:
                self._ensure_imported(step_target)
                encoded.append({"target": step_target, "args": tuple(step_args),
                                "kwargs": dict(step_kwargs or {})})
        buffers: list = []
        wire = [{k: (protocol.encode(v, buffers, register=self._ref_id)
                     if k in ("args", "kwargs") else self._ref_id(v) if k == "ref" else v)
                 for k, v in step.items()} for step in encoded]
        what = f"timing {steps[0][0] if isinstance(steps[0][0], str) else 'a method'}"
        session = TimingSession(self, what, repeat, time.monotonic() + timeout)
        request = {"op": "time", "steps": wire, "number": number, "repeat": repeat,
                   "warmup": warmup, "return_args": True}
        if vary is not None:
            session.plan = vary.plan([step[1] for step in steps], number * repeat)
            request["vary"] = protocol.encode(session.plan, buffers)
        with session._guard():
            self._write(request, buffers, session.deadline, what)
            session._expect("ready")
        return session


class TimingSession:
    """One timing request in progress (see :meth:`Worker.timing`)."""

    def __init__(self, worker: Worker, what: str, repeat: int, deadline: float):
        self.worker, self.what, self.left, self.deadline = worker, what, repeat, deadline
        self.mark = worker.output.total
        worker._sent_at = time.monotonic()
        self.done = False
        self.plan: dict | None = None
        self.probes: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.done:  # the worker still waits for "go": it cannot serve anything else
            self.worker._kill()

    @contextlib.contextmanager
    def _guard(self):
        w = self.worker
        try:
            yield
        except OSError:  # a send to a worker that is gone
            w._kill()
            self.done = True
            raise WorkerDied(w._death_reason(self.what),
                             w._log(w.output.since(self.mark))) from None
        except (StudentTimeout, WorkerDied) as exc:
            w.output.sync(0.2)
            exc.output = w._log(w.output.since(self.mark))
            self.done = True
            raise

    def _expect(self, state: str):
        """Read the worker's reply; an error reply raises (StudentError...)."""
        w = self.worker
        reply, bufs = w._recv(self.deadline, self.what)
        if not reply.get("ok") or reply.get("state") != state:
            self.done = True  # the worker left its timing loop
            w.output.sync()
            w._decode_reply(reply, bufs, self.what, w._log(w.output.since(self.mark)))
            w._kill()  # "ok" but not the expected state: not our worker's protocol
            raise WorkerDied(f"{self.what}: the worker sent a malformed message "
                             f"(expected {state!r})")
        return reply, bufs

    def round(self) -> None:
        """Run one round in the worker; returns when the worker says it is done."""
        if self.left <= 0:
            raise RuntimeError("timing: every round of this session has been run")
        self.left -= 1
        with self._guard():
            self.worker._write({"op": "go"}, [], self.deadline, self.what)
            reply, bufs = self._expect("done")
        if self.plan is not None:  # checked later, against a trusted replay
            try:
                self.probes.append(protocol.decode(reply.get("probes"), bufs))
            except protocol.ProtocolError:
                self.probes.append(None)

    def finish(self):
        """The last round's results (a list, one ``(result, args_after)`` per step)."""
        if self.left:
            raise RuntimeError(f"timing: {self.left} round(s) not run yet")
        w = self.worker
        with self._guard():
            reply, bufs = w._recv(self.deadline, self.what)
            if "state" in reply:  # a "done" more than rounds were run: forged by its code
                w._kill()
                raise WorkerDied(f"{self.what}: the worker answered out of turn (an extra "
                                 f"'done': the timed rounds were not the grader's)")
        self.done = True
        w.output.sync()
        return w._decode_reply(reply, bufs, self.what, w._log(w.output.since(self.mark)))


class _Deadline(Exception):
    pass


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
        raise SandboxError(f"DLKIT_GRADE_IMPORT_TIMEOUT: expected seconds > 0, got {value!r}")
    return Limits(import_timeout=seconds)
