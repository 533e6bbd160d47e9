"""The trusted handle on a sandboxed worker process (the student's code runs there).

    w = Worker(Path("submission"), assignment="a2")
    bn = w.create("a2_batchnorm.batchnorm:BatchNormalization", gamma, beta, timeout=10)
    out = bn.call("forward", x, train_flg=True)          # a plain ndarray, checked by value
    w.close()

A :class:`Worker` starts the process with its configuration (:class:`grader.sandbox.policy.
WorkerConfig`: limits, what the task blocks, and what the isolation level
(:mod:`grader.sandbox.isolation`) hides), then turns calls into requests on its
:class:`grader.ipc.channel.Channel`.  Timing requests are :mod:`grader.timing.paired`'s.

Errors: :class:`StudentError` (the student's code raised), :class:`StudentTimeout`
(no answer in time: the worker is killed), :class:`WorkerDied` (crash, exit, limit),
:class:`SandboxError` (the grader could not start a worker: not the student's fault).
After a timeout or death the next call starts a fresh worker; refs from the old one are lost.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.ipc import protocol
from grader.ipc.channel import Channel, SandboxError, StudentError, StudentTimeout, WorkerDied
from grader.ipc.printable import printable
from grader.sandbox import cgroup, quota
from grader.sandbox import isolation as isolation_module
from grader.sandbox.isolation import GRADER_DIR, REPO_DIR, detect_isolation, isolation_note  # noqa: F401
from grader.sandbox.policy import (
    KERNEL_THREADS,
    REQUIRED_MODULES,
    Block,
    Limits,
    WorkerConfig,
    limits_from_env,
)
from grader.timing import paired

__all__ = ["GRADER_DIR", "Limits", "Remote", "SandboxError", "StudentError", "StudentTimeout",
           "Worker", "WorkerDied", "detect_isolation", "isolation_note", "limits_from_env"]

DEFAULT_LIMITS = Limits()
START_WALL_FACTOR = 10  # wall-clock seconds a start-up may take per second of CPU allowed
START_ATTEMPTS = 2  # a start-up killed or out of time is tried again once
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); from grader.sandbox.worker import main; "
         "sys.path.remove(sys.argv[1]); main(sys.argv[2])")


class _StartStopped(SandboxError):
    """A start-up that was killed or ran out of time (tried again)."""


def installation_modules() -> list[str]:
    """What a worker proves it can import from the installation in use: numba (numpy and
    dlkit every worker proves) and every module of dlkit (one a task blocks is skipped)."""
    names = [*REQUIRED_MODULES]
    root = isolation_module.dlkit_root()
    if root is not None:
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__main__" or "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(("dlkit", *parts)))
    return names


class Remote:
    """An object living in the worker (e.g. the student's BatchNormalization instance)."""

    def __init__(self, worker: Worker, ref_id: int, generation: int):
        self._worker, self._id, self._generation = worker, ref_id, generation

    def __repr__(self):
        return f"<Remote object {self._id} in worker generation {self._generation}>"

    @property
    def ref(self) -> tuple[Worker, int, int]:
        """(worker, id, generation): what the worker checks before sending it."""
        return self._worker, self._id, self._generation

    def call(self, name: str, *args, timeout: float | None = None, return_args: bool = False,
             **kwargs):
        """``obj.name(*args, **kwargs)`` in the worker; the result comes back by value."""
        return self._worker.request({"op": "call", "ref": self, "name": name, "args": args,
                                     "kwargs": kwargs, "return_args": return_args},
                                    timeout, f"{name}()")

    def get(self, name: str, timeout: float | None = None):
        """The attribute ``obj.name`` by value (a Remote if it is not plain data)."""
        return self._worker.request({"op": "get", "ref": self, "name": name}, timeout,
                                    f"reading .{name}")

    def set(self, name: str, value, timeout: float | None = None) -> None:
        """``obj.name = value`` in the worker."""
        self._worker.request({"op": "set", "ref": self, "name": name, "value": value},
                             timeout, f"setting .{name}")

    def method(self, name: str) -> tuple[Remote, str]:
        """A method reference for :meth:`Worker.time`."""
        return (self, name)


class Worker:
    """A sandboxed process running student code from ``submission`` (None: no student code).

    ``assignment`` selects what is blocked (grader.sandbox.policy.BLOCKED); ``run_dir`` is a trusted
    directory for working copies (a private temporary one when None).
    """

    default_timeout = 10.0

    def __init__(self, submission: str | Path | None = None, *, assignment: str | None = None,
                 run_dir: str | Path | None = None, limits: Limits = DEFAULT_LIMITS,
                 isolation: str | None = None, masks: list[str] | None = None,
                 kernel_cache: str | Path | None = None):
        self.submission = Path(submission).resolve() if submission else None
        if self.submission and not self.submission.is_dir():
            raise SandboxError(f"submission: expected a directory, got {submission}")
        self.assignment, self.limits = assignment, limits
        self.isolation = isolation or detect_isolation()
        self.level = isolation_module.base_level(self.isolation)
        hidden = isolation_module.default_masks() if masks is None else masks
        self.masks = hidden + isolation_module.blocked_files(assignment)
        # dlkit's compiled kernels (grader.sandbox.kernel_cache), copied into the worker's own
        # NUMBA_CACHE_DIR before any student code runs; not under session isolation, where
        # the worker could write the grader's copy (see grader/sandbox/kernel_cache.py)
        self.kernel_cache = (Path(kernel_cache) if kernel_cache and self.level != "session"
                             else None)
        if self.kernel_cache:
            self.masks.append(str(self.kernel_cache))
        self._own_run_dir = run_dir is None
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="dlkit-grade-"))
        os.chmod(self.run_dir, 0o711)
        self.generation = 0
        self.proc: subprocess.Popen | None = None
        self.channel: Channel | None = None
        self._lease: isolation_module.UidLease | None = None
        self._cgroup: cgroup.WorkerCgroup | None = None
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
        return self.channel is not None and self.channel.alive

    @property
    def output(self):
        return self.channel.output if self.channel else None

    def config(self, workdir: Path, fds: tuple[int, int]) -> WorkerConfig:
        """What this worker is told at start-up (see grader.sandbox.policy.WorkerConfig)."""
        level = self.level
        namespaces = level == "namespaces"
        landlock = level in ("landlock", "landlock-same-uid")
        dlkit = isolation_module.dlkit_root()
        python = isolation_module.python_paths()
        return WorkerConfig(
            isolation=self.isolation, workdir=str(workdir),
            submission=str(self.submission) if self.submission else None,
            req_fd=fds[0], resp_fd=fds[1], parent=os.getpid(), rlimits=self._rlimits(),
            block=Block.for_task(self.assignment),
            uid=self._lease.uid if self._lease else None, namespaces=namespaces,
            disk_mb=self.limits.disk_mb, mask=self.masks if namespaces else [],
            views=isolation_module.repository_view() if namespaces else [],
            expose=python, private=isolation_module.PRIVATE_DIRS,
            landlock=(isolation_module.landlock_rules(self.assignment, str(workdir),
                                                      self.masks) if landlock else None),
            seccomp=isolation_module.filters_syscalls(self.isolation),
            keep_process_group=not isolation_module.drops_uid(self.isolation),
            reach=python if level in ("landlock", "user-no-landlock") else [],
            # a checkout's folder leaves the worker's path; an installed grader's
            # site-packages stays (numpy and numba are there)
            drop_path=[str(REPO_DIR)] if (REPO_DIR / "pyproject.toml").is_file() else [],
            dlkit_path=str(dlkit.parent) if dlkit else None,
            prove=list(REQUIRED_MODULES[:1]) + ["dlkit"],
            kernel_cache=self._kernel_cache_files())

    def start(self, prove: list[str] | None = None) -> None:
        """Start a fresh worker process (stops the current one first).  ``prove``: modules
        the worker must import before it says it started (beyond numpy and dlkit).

        No student code runs before the worker says it started, so every failure here is
        the grader's (:class:`SandboxError`).  Start-up is limited by the CPU time it
        takes (``Limits.start_timeout``), with START_WALL_FACTOR times as much wall time: a
        slow or loaded machine makes it slower, not a failure.  A start-up that was killed
        or ran out of time is tried once more before it is reported."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once(prove)
                return
            except _StartStopped as exc:
                if attempt == START_ATTEMPTS:
                    raise SandboxError(f"{exc} (tried {START_ATTEMPTS} times)") from None

    def _start_once(self, prove: list[str] | None) -> None:
        self._stop()
        self.generation += 1
        self.starts += 1
        self._imported = set()
        workdir = self.run_dir / f"work-{os.getpid()}-{id(self):x}-{self.generation}"
        workdir.mkdir(mode=0o700)
        if isolation_module.drops_uid(self.isolation):
            self._lease = isolation_module.UidLease()
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        cfg = self.config(workdir, (req_r, resp_w))
        if prove:
            cfg = dataclasses.replace(cfg, prove=cfg.prove + list(prove))
        cmd = [sys.executable, "-I", "-B", "-c", _BOOT, str(REPO_DIR), cfg.to_json()]
        if cfg.namespaces:
            cmd = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--net",
                   "--ipc", "--mount", "--propagation", "private", "--", *cmd]
        if shutil.which("setpriv"):  # the worker dies with the process that started it
            cmd = ["setpriv", "--pdeathsig", "KILL", "--", *cmd]
        self._cgroup = cgroup.create(self.limits)
        if self._cgroup is not None:  # joined before the worker's first instruction
            cmd = ["/bin/sh", "-c", 'echo 0 > "$0" && exec "$@"', self._cgroup.procs, *cmd]
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                pass_fds=(req_r, resp_w), start_new_session=True, env=self._env(workdir),
                cwd="/")
        except OSError as exc:  # no program to run, or its arguments too long: ours to fix
            for fd in (req_w, resp_r, out_r):
                os.close(fd)
            self._stop()
            raise SandboxError(f"the worker could not be started ({cmd[0]}: {exc})") from None
        finally:
            for fd in (req_r, resp_w, out_w):
                os.close(fd)
        self.channel = Channel(self.proc, req_w, resp_r, out_r, self.limits,
                               on_kill=self._kill_the_rest, watch=self._start_watch())
        mark = self.channel.output.total
        try:
            header, _ = self.channel.recv(
                time.monotonic() + self.limits.start_timeout * START_WALL_FACTOR, "start-up")
        except (StudentTimeout, WorkerDied) as exc:
            output = self.channel.output.since(mark)  # _stop() lets go of the channel
            self._stop()
            raise _StartStopped(f"the worker did not start ({exc}); output:\n"
                                f"{output}") from None
        self.channel.watch = self._watch(workdir)  # once student code may run
        if not header.get("ok"):
            self._stop()
            err = header.get("error", {})
            raise SandboxError(f"{err.get('message')}\n{err.get('traceback', '')}")

    def prove(self, modules: list[str]) -> None:
        """Start a worker that imports ``modules`` before any student code would run; a
        failure is a :class:`SandboxError` naming the module (the grader's fault)."""
        self.start(prove=modules)

    def close(self) -> None:
        """Stop the worker and remove the working copies this object made."""
        self._stop()
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def _kill_the_rest(self) -> None:
        """After the worker's process group: every process of its cgroup and of its uid."""
        if self._cgroup is not None:
            self._cgroup.kill()
        if self._lease is not None:
            self._lease.kill_all()

    def _watch(self, workdir: Path):
        """What the channel checks while it waits: the disk quota, where no size-limited
        folder holds the working copy (grader.sandbox.quota)."""
        if self.level == "namespaces":
            return None
        limit = self.limits.disk_mb

        def over() -> str | None:
            owner = self.owner(start=False)
            pids = [int(pid) for pid, _stat in paired.worker_processes(owner)]
            return quota.over_quota(str(workdir), pids, limit, owner.uid)

        return over

    def _start_watch(self):
        """The start-up's watch: the CPU time of everything the worker ran so far (its
        cgroup, or its session: at start-up it still has the grader's uid or root) against
        ``Limits.start_timeout``.  (No student code runs yet: no disk quota to watch, and
        the working copy is not the worker's own until its set-up hands it over.)"""
        assert self.proc is not None
        owner = paired.Owner(None, self.proc.pid, self._cgroup)
        limit = self.limits.start_timeout

        def over() -> str | None:
            if paired.cpu_seconds(owner) > limit:
                return f"its start-up took more than {limit:g} s of CPU time"
            return None

        return over

    def _stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
            self.proc = None
        if self._cgroup is not None:
            if not self._cgroup.remove():
                raise SandboxError(f"a process of the worker survived its cgroup's kill "
                                   f"({self._cgroup.path})")
            self._cgroup = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        for work in self.run_dir.glob(f"work-{os.getpid()}-{id(self):x}-*"):
            shutil.rmtree(work, ignore_errors=True)

    def _kill(self) -> None:
        if self.channel is not None:
            self.channel.kill()

    def _rlimits(self) -> dict:
        lim, mib = self.limits, 2**20
        out = {"RLIMIT_AS": lim.memory_mb * mib, "RLIMIT_FSIZE": lim.file_mb * mib,
               "RLIMIT_NOFILE": lim.nofile, "RLIMIT_CORE": 0}
        if isolation_module.drops_uid(self.isolation):
            out["RLIMIT_NPROC"] = lim.nproc  # the leased uid runs nothing else
        elif os.geteuid() != 0:  # counts all our threads (root ignores it)
            out["RLIMIT_NPROC"] = isolation_module.tasks_of(os.geteuid()) + lim.nproc
        out["RLIMIT_CPU"] = lim.cpu_seconds
        return out

    def _env(self, workdir: Path) -> dict:
        tmp = str(workdir / ".tmp")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": tmp,
               "LANG": "C.UTF-8", "USER": "student", "LOGNAME": "student",
               "MPLBACKEND": "Agg", "MPLCONFIGDIR": tmp,
               "NUMBA_CACHE_DIR": str(workdir / ".numba_cache")}
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"  # fair, repeatable timings; 2 cores shared by parallel jobs
        env["NUMBA_NUM_THREADS"] = str(KERNEL_THREADS)  # a race between threads shows
        return env

    def _kernel_cache_files(self) -> list:
        if self.kernel_cache is None or not self.kernel_cache.is_dir():
            return []
        from grader.sandbox import kernel_cache

        return kernel_cache.files(self.kernel_cache, Block.for_task(self.assignment)
                                  .dlkit_modules)

    def owner(self, start: bool = True) -> paired.Owner:
        """What identifies this worker's processes (grader.timing.paired: their CPU time,
        the core they run on): its cgroup where it has one, its leased uid or its session.
        ``start``: start the worker first if it is not running."""
        if start:
            self._ensure_started()
        return paired.Owner(self._lease.uid if self._lease else None,
                            self.proc.pid if self.proc else -1, self._cgroup)

    # -- messages
    def ref_id(self, value) -> int:
        """The id of a Remote of this worker's current generation (what crosses the pipe)."""
        if isinstance(value, Remote):
            worker, ref_id, generation = value.ref
            if worker is not self or generation != self.generation:
                raise WorkerDied("this object was lost: the worker was restarted after an "
                                 "earlier failure (timeout, crash or exit)")
            return ref_id
        raise protocol.Unencodable(
            f"a value of type {type(value).__name__} cannot be sent to the worker")

    def _send(self, header: dict) -> None:
        buffers: list = []
        data = {}
        for key, value in header.items():
            if key in ("args", "kwargs", "value"):
                data[key] = protocol.encode(value, buffers, register=self.ref_id)
            elif key == "ref":
                data[key] = self.ref_id(value)
            else:
                data[key] = value
        self.channel.sent_at = time.monotonic()
        self.channel.send(data, buffers, self.channel.sent_at + self.default_timeout,
                          header.get("op", "request"))

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
        except (StudentTimeout, WorkerDied) as exc:
            self._import_failures[module] = exc
            raise
        except StudentError as exc:
            if not exc.blocked and exc.kind != "exit":
                self._import_failures[module] = exc
            raise
        self._imported.add(module)

    def _exchange(self, header: dict, timeout: float | None, what: str):
        self._ensure_started()
        ch = self.channel
        mark = ch.output.total
        self._send(header)
        deadline = ch.sent_at + (self.default_timeout if timeout is None else timeout)
        try:
            reply, buffers = ch.recv(deadline, what)
        except (StudentTimeout, WorkerDied) as exc:
            ch.output.sync(0.2)
            exc.output = self.log(ch.output.since(mark))
            raise
        ch.output.sync()
        return self.decode_reply(reply, buffers, what, self.log(ch.output.since(mark)))

    def log(self, output: str) -> str:
        """Keep what the student's code printed in the (bounded) transcript; returns it."""
        if output:
            self.transcript.append(output)
            if sum(map(len, self.transcript)) > self.limits.output_bytes:
                self.transcript[:] = ["".join(self.transcript)[-self.limits.output_bytes:]]
        return output

    def decode_reply(self, reply: dict, buffers: list, what: str, output: str):
        """The value of an "ok" reply; an error reply raises StudentError / WorkerDied."""
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
        text = {k: printable(str(err.get(k, ""))[:20_000]) for k in (
            "type", "message", "traceback", "kind", "code")}
        if text["kind"] == "exit":
            raise WorkerDied(f"{what}: your code called sys.exit({text['code']})", output)
        raise StudentError(text["type"], text["message"], text["traceback"], output,
                           text["kind"])

    def request(self, header: dict, timeout: float | None, what: str):
        """Send ``header`` (importing its target's module first) and return the reply."""
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
        return self.request({"op": "call", "target": target, "args": args,
                             "kwargs": kwargs, "return_args": return_args}, timeout, target)

    def create(self, target: str, *args, timeout: float | None = None, **kwargs) -> Remote:
        """Call ``target`` (usually a class) and keep the result in the worker: a Remote."""
        return self.request({"op": "call", "target": target, "args": args,
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
            best = min(session.round() for _ in range(repeat))
            result = session.finish()
        return (best / number, result) if return_result else best / number

    def timing(self, target, args=(), kwargs=None, *, number: int = 10, repeat: int = 3,
               warmup: int = 1, timeout: float = 60.0, vary=None) -> paired.TimingSession:
        """Start a timing session (grader.timing.paired): ``session.round()`` exactly ``repeat``
        times, each running ``number`` calls of the steps in the worker and returning the
        round's seconds on the trusted clock; then ``session.finish()`` -> the last round's
        results.  Use it as a context manager (an unfinished session stops the worker).

        ``vary`` (a :class:`grader.timing.varied.Vary`): every call sees a slightly changed input
        and each round's "done" carries probe values of its outputs (``session.probes``;
        ``session.plan`` is what was sent), for :func:`grader.timing.paired.verify`; ``finish()``
        then returns the results of one more call with the inputs as given."""
        steps = target if isinstance(target, list) else [(target, args, kwargs or {})]
        if number < 1 or repeat < 1:
            raise ValueError(f"time(): number and repeat must be >= 1, got {number}, {repeat}")
        self._ensure_started()
        for step_target, _a, _k in steps:
            if not isinstance(step_target, tuple):
                self._ensure_imported(step_target)
        wire, buffers = paired.steps_for_wire(self, steps)
        what = f"timing {steps[0][0] if isinstance(steps[0][0], str) else 'a method'}"
        session = paired.TimingSession(self, what, repeat, time.monotonic() + timeout)
        request = {"op": "time", "steps": wire, "number": number, "repeat": repeat,
                   "warmup": warmup, "return_args": True}
        if vary is not None:
            session.plan = vary.plan([step[1] for step in steps], number * repeat)
            request["vary"] = protocol.encode(session.plan, buffers)
        session.start(request, buffers)
        return session

