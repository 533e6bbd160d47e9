"""The untrusted side: the process that imports and runs a student's code.

Started by :class:`grader.sandbox.handle.Worker` (never imported by the trusted side's checks).
It runs a request loop on two pipes (``grader.ipc.protocol`` messages): the trusted side asks
it to import a module, call a function, create an object, call a method, read or set an
attribute, or time a call (:func:`grader.timing.paired.serve`); the worker answers with plain
values or an error description.  Objects that are not plain data stay here as refs.

Start-up, before any student code (:func:`setup`, with the :class:`grader.sandbox.policy.
WorkerConfig` the trusted side wrote): copy the submission into the working directory
(a private tmpfs under namespaces, :mod:`grader.sandbox.mounts`), hide the grader's files, set the
rlimits, drop to the unprivileged uid, confine (no_new_privs; Landlock and the seccomp
filter, :mod:`grader.sandbox.confine`), load dlkit from where the trusted side loads it, block
what the task forbids (:mod:`grader.sandbox.blocking`), and prove that the modules the checks need
import (a failure there is the grader's, reported before any student code runs).
None of this is trusted afterwards: once student code runs it controls this process, so
the trusted side validates every message and measures time with its own clock.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import importlib.util
import os
import resource
import shutil
import signal
import sys
import traceback
from builtins import getattr, isinstance, len, repr, setattr, str, type  # noqa: F401, UP029

from grader.ipc import protocol
from grader.sandbox import blocking, confine, mounts
from grader.sandbox.policy import WorkerConfig
from grader.timing import paired

# (The builtins above are bound here, before student code runs, so that a submission
# patching builtins cannot break how this loop reports its results.)

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4


# ------------------------------------------------------------------------------ setup


def _copy_submission(src: str, dst: str) -> None:
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s):
            shutil.copytree(s, d, symlinks=False)
        else:
            shutil.copy2(s, d)


def _chown_tree(path: str, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)
    os.chown(path, uid, gid)


_WORKDIR = "/nonexistent"


class ProofFailed(RuntimeError):
    """A module the checks need does not import in the worker (the grader's fault)."""


def setup(cfg: WorkerConfig) -> None:
    """Prepare the sandbox (see the module docstring)."""
    global _WORKDIR
    workdir, uid = cfg.workdir, cfg.uid
    _WORKDIR = workdir
    if cfg.namespaces:
        mounts.private_workdir(workdir, cfg.disk_mb)
    if cfg.submission:
        _copy_submission(cfg.submission, workdir)
    os.makedirs(os.path.join(workdir, ".tmp"), exist_ok=True)
    for rel, src in cfg.kernel_cache:  # dlkit's compiled kernels: a private copy
        dst = os.path.join(workdir, ".numba_cache", rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            shutil.copyfile(src, dst)
        except FileNotFoundError:  # pruned by a rebuild meanwhile: this worker compiles it
            pass
    if uid is not None:
        _chown_tree(workdir, uid, uid)
    if cfg.namespaces:
        mounts.expose(cfg.expose, cfg.private, workdir)
        for top, keep in cfg.views:  # the source checkout: only dlkit/ is left
            mounts.view(top, keep)
        for path in cfg.mask:
            mounts.mask(path)
    handles = confine.reach(cfg.reach)  # while the folders can still be entered
    ruleset = (confine.landlock_ruleset(cfg.landlock.read, cfg.landlock.listing,
                                        cfg.landlock.write, cfg.landlock.devices)
               if cfg.landlock is not None else None)
    for name, value in cfg.rlimits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        libc = ctypes.CDLL(None)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # setuid cleared it
        # and made the process undumpable: the grader (its uid as filesystem uid) could
        # then not see which files it holds open (grader.sandbox.quota)
        libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
        if not cfg.namespaces and os.getppid() != cfg.parent:
            os._exit(71)  # the grader is already gone
    confine.no_new_privs()
    if ruleset is not None:
        confine.restrict(ruleset)
    if cfg.seccomp:
        confine.refuse_syscalls(cfg.keep_process_group)
    os.chdir(workdir)
    sys.path[:] = [workdir] + [p for p in sys.path if p and p not in cfg.drop_path]
    confine.reroute(handles)
    _load_dlkit(cfg.dlkit_path, handles)
    blocking.block({"modules": cfg.block.modules, "dlkit_modules": cfg.block.dlkit_modules,
                    "attrs": cfg.block.attrs, "reason": cfg.block.reason})
    _prove(cfg.prove)


def _load_dlkit(parent: str | None, handles: dict[str, str]) -> None:
    """Import dlkit from ``parent`` (where the trusted side imports it from: a checkout, an
    editable install's source folder, site-packages), whatever this Python's own path says."""
    if parent is None:
        return
    for name in [m for m in sys.modules if m == "dlkit" or m.startswith("dlkit.")]:
        del sys.modules[name]  # dlkit.tasks, read by grader.sandbox.policy at start-up
    folder = confine.rerouted(os.path.join(parent, "dlkit"), handles)
    spec = importlib.util.spec_from_file_location(
        "dlkit", os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
    if spec is None or spec.loader is None:
        raise ProofFailed(f"dlkit: no package at {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["dlkit"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules["dlkit"]
        raise ProofFailed(f"dlkit: importing {folder} failed: {type(exc).__name__}: {exc}") \
            from None


def _prove(modules: list[str]) -> None:
    """Import each module the checks need; one that a task blocks (directly or through
    what it imports) is fine, any other failure stops the worker before student code."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if str(exc).startswith("BLOCKED: "):
                continue
            raise ProofFailed(f"{name}: {type(exc).__name__}: {exc} (sys.path: "
                              f"{sys.path})") from None
        except BaseException as exc:  # noqa: BLE001 - anything an installation may raise
            raise ProofFailed(f"{name}: {type(exc).__name__}: {exc}") from None


# ------------------------------------------------------------------------ request loop


class Server:
    """Executes requests; keeps the objects that stay in the worker (refs)."""

    def __init__(self, req_fd: int, resp_fd: int):
        self.req_fd, self.resp_fd = req_fd, resp_fd
        self.objects: dict[int, object] = {}
        self.next_id = 1

    # -- values
    def register(self, obj) -> int:
        self.next_id += 1
        self.objects[self.next_id] = obj
        return self.next_id

    def resolve(self, ref_id: int):
        if ref_id not in self.objects:
            raise KeyError(f"no object with id {ref_id} in the worker (released or lost)")
        return self.objects[ref_id]

    def decode(self, data, buffers):
        import numpy as np

        return protocol.decode(data, buffers, make_rng=np.random.default_rng,
                               resolve_ref=self.resolve)

    def reply(self, header: dict, value=None, *, keep: bool = False) -> None:
        buffers: list = []
        if keep:
            header["value"] = {"$t": "ref", "id": self.register(value)}
        else:
            header["value"] = protocol.encode(value, buffers, register=self.register)
        _flush_std()
        protocol.send(self.resp_fd, header, buffers)

    # -- targets
    def lookup(self, req: dict, buffers):
        """The callable a request names: "module:qualname" or (ref, method name)."""
        if req.get("ref") is not None:
            return getattr(self.resolve(req["ref"]), req["name"])
        module_name, _, qualname = req["target"].partition(":")
        obj = importlib.import_module(module_name)
        for part in qualname.split(".") if qualname else []:
            obj = getattr(obj, part)
        return obj

    def call(self, req: dict, buffers):
        fn = self.lookup(req, buffers)
        args = self.decode(req.get("args", []), buffers)
        kwargs = self.decode(req.get("kwargs", {"$t": "dict", "v": []}), buffers)
        result = fn(*args, **kwargs)
        return (result, args) if req.get("return_args") else result

    def handle(self, req: dict, buffers) -> None:
        op = req.get("op")
        if op == "ping":
            self.reply({"ok": True})
        elif op == "import":
            importlib.import_module(req["module"])
            self.reply({"ok": True})
        elif op == "call":
            self.reply({"ok": True}, self.call(req, buffers), keep=req.get("keep", False))
        elif op == "get":
            self.reply({"ok": True}, getattr(self.resolve(req["ref"]), req["name"]))
        elif op == "set":
            setattr(self.resolve(req["ref"]), req["name"], self.decode(req["value"], buffers))
            self.reply({"ok": True})
        elif op == "release":
            self.objects.pop(req["ref"], None)
            self.reply({"ok": True})
        elif op == "time":
            paired.serve(self, req, buffers)
        else:
            raise ValueError(f"unknown op {op!r}")

    def serve(self) -> None:
        while True:
            try:
                req, buffers = protocol.recv(self.req_fd)
            except (EOFError, OSError):  # the grader is gone, or this is a forked child
                return
            if req.get("op") == "exit":
                return
            try:
                self.handle(req, buffers)
            except BaseException as exc:  # noqa: BLE001 - student code may raise anything
                self.reply_error(exc)

    def reply_error(self, exc: BaseException) -> None:
        kind = "exception"
        if isinstance(exc, SystemExit):
            kind = "exit"
        elif isinstance(exc, ImportError) and str(exc).startswith("BLOCKED: "):
            kind = "blocked"
        elif isinstance(exc, protocol.Unencodable):
            kind = "unencodable"
        try:
            message = str(exc)
        except BaseException:  # noqa: BLE001 - a hostile __str__
            message = "<str() of the exception failed>"
        try:
            tb = _student_traceback(exc)
        except BaseException:  # noqa: BLE001
            tb = ""
        error = {"type": type(exc).__name__, "message": message[:20_000],
                 "traceback": tb[-20_000:], "kind": kind}
        if kind == "exit":
            error["code"] = repr(exc.code)[:200]
        _flush_std()
        protocol.send(self.resp_fd, {"ok": False, "error": error})


def _student_traceback(exc: BaseException) -> str:
    """The traceback without the worker's own frames (they say nothing to a student)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(f.filename) != os.path.abspath(__file__)]
    for f in frames:  # "a1_initialization/initializers.py", not the private working copy
        if f.filename.startswith(_WORKDIR + os.sep):
            f.filename = f.filename[len(_WORKDIR) + 1:]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames),
             *traceback.format_exception_only(type(exc), exc)]
    return "".join(lines)


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - the student may have replaced them
            pass


def _close_fds(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def main(config_json: str) -> None:
    cfg = WorkerConfig.from_json(config_json)
    req_fd, resp_fd = cfg.req_fd, cfg.resp_fd
    os.set_inheritable(req_fd, False)
    os.set_inheritable(resp_fd, False)
    try:
        setup(cfg)
    except BaseException as exc:  # noqa: BLE001 - report set-up failures to the grader
        protocol.send(resp_fd, {"ok": False, "error": {
            "type": type(exc).__name__, "message": f"worker set-up failed: {exc}",
            "traceback": traceback.format_exc(), "kind": "setup"}})
        os._exit(70)
    for name in [m for m in sys.modules if m == "grader" or m.startswith("grader.")]:
        del sys.modules[name]
    # A child process the student forks must not talk to the grader.
    os.register_at_fork(after_in_child=functools.partial(_close_fds, req_fd, resp_fd))
    protocol.send(resp_fd, {"ok": True, "state": "started", "pid": os.getpid()})
    Server(req_fd, resp_fd).serve()
    _flush_std()
    os._exit(0)
