"""The untrusted side: the process that imports and runs a student's code.

Started by :class:`grader.sandbox.Worker` (never imported by the trusted side's checks).
It runs a request loop on two pipes (``grader.protocol`` messages): the trusted side asks
it to import a module, call a function, create an object, call a method, read or set an
attribute, or time a call; the worker answers with plain values or an error description.
Objects that are not plain data stay here and travel as refs.

Start-up, before any student code (``setup``), as root when namespace isolation is on:
mount a private size-limited tmpfs as the working directory and copy the submission into
it, hide the grader's files (hidden checks, points, solutions, hidden data) behind empty
read-only mounts, set the rlimits, drop to an unprivileged uid with no_new_privs, then put
the submission first on ``sys.path`` and block the modules the assignment forbids
(``solutions``, ``grader``, and where BatchNorm is the task dlkit's own BatchNorm).
None of this is trusted afterwards: once student code runs it controls this process, so
the trusted side validates every message and measures time with its own clock.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import importlib.abc
import json
import os
import resource
import shutil
import signal
import sys
import traceback
from builtins import getattr, isinstance, len, repr, setattr, str, type  # noqa: F401, UP029

from grader import protocol, varied

# (The builtins above are bound here, before student code runs, so that a submission
# patching builtins cannot break how this loop reports its results.)

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 1, 2, 4, 8, 32
_MS_BIND, _MS_REC = 4096, 16384
_PR_SET_NO_NEW_PRIVS, _PR_SET_PDEATHSIG = 38, 1


# ------------------------------------------------------------------------------ setup


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    rc = _libc().mount(source.encode(), target.encode(),
                       fstype.encode() if fstype else None, flags, data.encode() or None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _mask(path: str) -> None:
    """Hide ``path`` behind an empty read-only tmpfs (a directory) or /dev/null (a file)."""
    if os.path.isdir(path):
        _mount("tmpfs", path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
               "size=4k,mode=555")
    elif os.path.exists(path):
        _mount("/dev/null", path, None, _MS_BIND)


def _blocker(path: str) -> str | None:
    """The first ancestor of ``path`` that other users cannot traverse (e.g. /root)."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    for i in range(len(parts)):
        ancestor = os.sep + os.path.join(*parts[: i + 1])
        if os.path.isdir(ancestor) and not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


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


def _expose(paths: list[str], private: list[str], workdir: str) -> None:
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
        top = _blocker(path)
        if top and top != path and not any(top == r or _inside(top, r) for r in replaced):
            plan.setdefault(top, []).append(path)
    for top, keep in plan.items():
        _replace_with_tmpfs(top, keep, "size=64k,mode=755", readonly=True)
    for top in private:
        if os.path.isdir(top) and not os.path.islink(top):
            keep = _minimal([p for p in [*needed, workdir] if _inside(p, top)])
            _replace_with_tmpfs(top, keep, "size=16m,mode=1777", readonly=False)


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


def setup(cfg: dict) -> None:
    """Prepare the sandbox (see the module docstring). ``cfg`` comes from the trusted side."""
    global _WORKDIR
    workdir, uid, gid = cfg["workdir"], cfg.get("uid"), cfg.get("gid")
    _WORKDIR = workdir
    if cfg.get("namespaces"):
        _mount("tmpfs", workdir, "tmpfs", _MS_NOSUID | _MS_NODEV,
               f"size={cfg['disk_mb']}m,mode=700")
    if cfg.get("submission"):
        _copy_submission(cfg["submission"], workdir)
    os.makedirs(os.path.join(workdir, ".tmp"), exist_ok=True)
    for rel, src in cfg.get("kernel_cache", []):  # dlkit's compiled kernels: a private copy
        dst = os.path.join(workdir, ".numba_cache", rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
    if uid is not None:
        _chown_tree(workdir, uid, gid)
    if cfg.get("namespaces"):
        _expose(cfg.get("expose", []), cfg.get("private", []), workdir)
        for top, keep in cfg.get("views", []):  # the source checkout: only dlkit/ is left
            _replace_with_tmpfs(top, keep, "size=64k,mode=755", readonly=True)
        for path in cfg.get("mask", []):
            _mask(path)
    for name, value in cfg.get("rlimits", {}).items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        if _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # cleared by setuid
        if not cfg.get("namespaces") and os.getppid() != cfg.get("parent"):
            os._exit(71)  # the grader is already gone
    os.chdir(workdir)
    sys.path[:] = [workdir] + [p for p in sys.path if p and p not in cfg.get("drop_path", [])]
    _block(cfg.get("block", {}))


# --------------------------------------------------------------------------- blocking


class _BlockedFinder(importlib.abc.MetaPathFinder):
    """Refuses to import the blocked modules, with a message saying why."""

    def __init__(self, modules: list[str], reason: str):
        self.modules, self.reason = modules, reason

    def find_spec(self, fullname, path=None, target=None):
        for name in self.modules:
            if fullname == name or fullname.startswith(name + "."):
                raise ImportError(f"BLOCKED: {fullname} is not available here: {self.reason}",
                                  name=fullname)
        return None


def _placeholder(qualname: str, reason: str):
    """A stand-in for a blocked function or class: raises when called, names the reason."""

    def blocked(*args, **kwargs):
        raise ImportError(f"BLOCKED: {qualname} is not available here: {reason}",
                          name=qualname.rpartition(".")[0])

    blocked.__name__ = blocked.__qualname__ = qualname.rpartition(".")[2]
    blocked._grader_blocked = qualname
    return blocked


class _StubModule(type(sys)):
    """Stands in for a blocked module while an allowed module imports from it: every name
    is a placeholder that raises when called (the real module never runs here)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _placeholder(f"{self.__name__}.{name}", self._grader_reason)
        setattr(self, name, value)
        return value


def _neuter(cls, qualname: str, reason: str) -> None:
    """Replace every method of a blocked class by a placeholder, in place: an instance
    reached through gc or ``object.__subclasses__()`` can do nothing."""
    for key, value in list(vars(cls).items()):
        if key == "__new__" or isinstance(value, staticmethod | classmethod | property) or \
                callable(value):
            setattr(cls, key, _placeholder(f"{qualname}.{key}", reason))
    cls.__new__ = staticmethod(_placeholder(qualname, reason))


def _is_dlkit(name: str) -> bool:
    return name == "dlkit" or name.startswith("dlkit.")


def _under(name: str, modules: list[str]) -> bool:
    return any(name == m or name.startswith(m + ".") for m in modules)


def _block(block: dict) -> None:
    """Block modules and dlkit objects (the lists of ``grader.sandbox.BLOCKED``).

    - ``modules`` (solutions, grader) and ``dlkit_modules``: refused by an import hook,
      removed from ``sys.modules`` and from their parent package.  A blocked dlkit module
      never runs here: while the modules of ``attrs`` are imported (now, before any student
      code), it is a stub of placeholders.
    - ``attrs`` ("module:name"): the object is neutered in place (its methods raise) and
      removed from every dlkit module; like every placeholder, a name that referred to it
      is replaced by a module ``__getattr__`` raising ImportError with the reason, so both
      ``from dlkit.layers import BatchNormalization`` and ``dlkit.layers.BatchNormalization``
      fail clearly, whether reached by an import statement, importlib, ``__import__`` or
      ``sys.modules``.
    """
    reason = block.get("reason", "")
    dlkit_modules = list(block.get("dlkit_modules", []))
    modules = list(block.get("modules", [])) + dlkit_modules
    for name in [n for n in sys.modules if _under(n, modules)]:
        del sys.modules[name]
    stubs = {}
    for name in dlkit_modules:
        stub = _StubModule(name)
        stub._grader_reason = reason
        stubs[name] = sys.modules[name] = stub
    blocked = {}
    try:
        for spec in block.get("attrs", []):
            mod_name, _, attr = spec.partition(":")
            try:
                obj = getattr(importlib.import_module(mod_name), attr)
            except (ImportError, AttributeError):
                continue  # this dlkit version does not have it: nothing to block
            qualname = f"{mod_name}.{attr}"
            if isinstance(obj, type):
                _neuter(obj, qualname, reason)
            blocked[id(obj)] = (obj, qualname)
    finally:
        for name, stub in stubs.items():
            if sys.modules.get(name) is stub:
                del sys.modules[name]
    for mod_name, module in list(sys.modules.items()):
        if not _is_dlkit(mod_name) or module is None:
            continue
        hidden = {}
        for key, value in list(vars(module).items()):
            if id(value) in blocked and blocked[id(value)][0] is value:
                hidden[key] = blocked[id(value)][1]
            elif getattr(value, "_grader_blocked", None) and callable(value):
                hidden[key] = value._grader_blocked
            elif type(value) in (type(sys), _StubModule) and _under(
                    getattr(value, "__name__", ""), modules):
                hidden[key] = value.__name__
        if hidden:
            for key in hidden:
                delattr(module, key)
            module.__getattr__ = _blocked_getattr(mod_name, hidden, reason,
                                                  getattr(module, "__getattr__", None))
    # Keep the neutered objects alive: otherwise whether object.__subclasses__() still lists
    # a neutered class depends on when the garbage collector runs; found, it says why it fails.
    _NEUTERED.extend(obj for obj, _ in blocked.values())
    sys.meta_path.insert(0, _BlockedFinder(modules, reason))


_NEUTERED: list = []


def _blocked_getattr(mod_name, hidden, reason, previous):
    def __getattr__(name):
        if name in hidden:
            raise ImportError(f"BLOCKED: {mod_name}.{name} is not available here: {reason}",
                              name=mod_name)
        if previous is not None:
            return previous(name)
        raise AttributeError(f"module {mod_name!r} has no attribute {name!r}")

    return __getattr__


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
            self.time(req, buffers)
        else:
            raise ValueError(f"unknown op {op!r}")

    def time(self, req: dict, buffers) -> None:
        """Warm up, then for each repeat wait for "go" and run ``number`` rounds of the steps.

        The trusted side measures from sending "go" to reading "done"; the worker's own
        clock is never used.  With ``vary`` (``grader.varied``) each call sees a slightly
        changed input and the round's probe values travel in its "done" message, and the
        results returned at the end are those of one more, untimed call with the inputs as
        given; without, the last round's results come back for checking.
        """
        steps = [(self.lookup(s, buffers), self.decode(s.get("args", []), buffers),
                  self.decode(s.get("kwargs", {"$t": "dict", "v": []}), buffers))
                 for s in req["steps"]]
        plan = req.get("vary")
        plan = varied.prepare(self.decode(plan, buffers)) if plan is not None else None
        results = None
        for _ in range(req.get("warmup", 1)):
            results = [fn(*a, **k) for fn, a, k in steps]
        self.reply({"ok": True, "state": "ready"})
        number = req["number"]
        for r in range(req["repeat"]):
            go, _bufs = protocol.recv(self.req_fd)
            if go.get("op") != "go":
                raise ValueError("timing: expected 'go'")
            if plan is None:
                for _ in range(number):
                    results = [fn(*a, **k) for fn, a, k in steps]
                protocol.send(self.resp_fd, {"ok": True, "state": "done"})
            else:
                results, probes = varied.run_round(steps, plan, r * number, number)
                bufs: list = []
                header = {"ok": True, "state": "done",
                          "probes": protocol.encode(probes, bufs)}
                protocol.send(self.resp_fd, header, bufs)
        if plan is not None:
            results = [fn(*a, **k) for fn, a, k in steps]
        out = [(r, a) for r, (_fn, a, _k) in zip(results, steps, strict=True)]
        self.reply({"ok": True}, out if req.get("return_args") else results)

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
    cfg = json.loads(config_json)
    req_fd, resp_fd = cfg["req_fd"], cfg["resp_fd"]
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
