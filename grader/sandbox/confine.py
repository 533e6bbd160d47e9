"""The kernel's unprivileged confinement, called by the worker on itself (ctypes, no
dependencies): Landlock, a seccomp filter, ``PR_SET_NO_NEW_PRIVS``, and directory handles
that reach a Python installation other users cannot traverse.

None of these needs a capability, so they hold in a container without CAP_SYS_ADMIN (root
there cannot make namespaces) and for a grader that is not root at all:

- :func:`landlock_ruleset`, :func:`restrict`: from now on this process and its children
  may open only the paths given (read/execute, or everything beneath the working copy),
  connect or bind no TCP
  port (Landlock ABI ≥ 4), and signal or reach through abstract UNIX sockets no process
  outside the sandbox (ABI ≥ 6).  Landlock only ever removes rights: the usual file
  permissions still apply on top.
- :func:`refuse_syscalls`: a seccomp filter: ``socket()`` fails with EACCES for every
  family (no UDP, raw or netlink sockets either, and no UNIX ones: a socket file reachable
  through the filesystem, such as a desktop's session bus or a database's socket under
  /run, would let the worker talk to a program outside the sandbox), and so does io_uring
  (which could open sockets without the ``socket`` system call).  Memory that no rlimit
  counts is refused too: ``memfd_create``, ``memfd_secret`` and System V ``shmget`` (a
  memfd grown with ``posix_fallocate`` holds memory that is in no process's address
  space).  ``socketpair()`` still works: the pair it makes reaches no one else.  For a
  worker that keeps the grader's uid, ``setsid()`` and ``setpgid()`` fail too: its process
  group is then the only handle on what it starts (no other uid to kill by), and nothing
  may leave it to outlive the grader.
- :func:`no_new_privs`: no set-uid program or file capability can give rights back.
- :func:`reach`: a directory that the worker's uid could not traverse to (a Python under
  /root, mode 0700) is opened before the uid changes, and used as ``/proc/self/fd/N``:
  the kernel checks permissions only below an open directory handle, never above it.

:func:`landlock_abi` tells the trusted side what this kernel offers (see
``grader.sandbox.isolation.detect``).  The worker imports this module before any student code runs.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

# Landlock filesystem rights (linux/landlock.h), by the ABI version that added them.
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_ABI1 = (1 << 13) - 1  # execute … make_sym
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_ONLY = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1

READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
DEVICE = FS_READ_FILE | FS_WRITE_FILE

_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2


class ConfineError(OSError):
    """A confinement step the kernel refused (the worker reports it; no student code runs)."""


def _errno_error(what: str) -> ConfineError:
    err = ctypes.get_errno()
    return ConfineError(err, f"{what}: {os.strerror(err)}")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The Landlock ABI version of this kernel (0: not available or disabled)."""
    rc = _libc.syscall(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                       ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    return max(0, int(rc))


def _handled_fs(abi: int) -> int:
    rights = _FS_ABI1
    if abi >= 2:
        rights |= _FS_REFER
    if abi >= 3:
        rights |= _FS_TRUNCATE
    if abi >= 5:
        rights |= _FS_IOCTL_DEV
    return rights


def landlock_ruleset(read: list[str], listing: list[str], write: list[str],
                     devices: list[str]) -> int:
    """A Landlock ruleset (a file descriptor) allowing ``read`` (read and execute beneath),
    ``listing`` (list folders beneath, open no file), ``write`` (every file right
    beneath) and ``devices`` (read and write the device files named); no TCP and, on
    ABI ≥ 6, no signals or abstract UNIX sockets outside.  Made while the paths can still
    be opened (before the uid changes); :func:`restrict` applies it."""
    abi = landlock_abi()
    if abi < 1:
        raise ConfineError(0, "Landlock is not available in this kernel")
    handled = _handled_fs(abi)
    attr = _RulesetAttr(handled, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _libc.syscall(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr),
                            ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise _errno_error("landlock_create_ruleset")
    try:
        for paths, rights in ((read, READ), (listing, FS_READ_DIR), (write, handled),
                              (devices, DEVICE)):
            for path in paths:
                _add_rule(ruleset, path, rights & handled)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def restrict(ruleset: int) -> None:
    """Confine this process (and every process it starts) to ``ruleset`` for good.  Needs
    :func:`no_new_privs` first (or CAP_SYS_ADMIN)."""
    try:
        if _libc.syscall(ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset),
                         ctypes.c_uint32(0)) != 0:
            raise _errno_error("landlock_restrict_self")
    finally:
        os.close(ruleset)


def _add_rule(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # nothing there to allow
    try:
        if not os.path.isdir(path):
            rights &= _FILE_ONLY
        rule = _PathBeneathAttr(rights, fd)
        if _libc.syscall(ctypes.c_long(_SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset),
                         ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                         ctypes.c_uint32(0)) != 0:
            raise _errno_error(f"landlock_add_rule {path}")
    finally:
        os.close(fd)


def no_new_privs() -> None:
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _errno_error("prctl(PR_SET_NO_NEW_PRIVS)")


# ----------------------------------------------------------------------------- seccomp

# audit architecture; socket(2), io_uring_setup(2), memfd_create(2), memfd_secret(2),
# shmget(2); (setpgid(2), setsid(2)); the first x32 system call (x86_64 refuses that ABI).
_ARCHES = {"x86_64": (0xC000003E, (41, 425, 319, 447, 29), (109, 112), 0x40000000),
           "aarch64": (0xC00000B7, (198, 425, 279, 447, 194), (154, 157), None)}
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_JGE_K, _BPF_RET_K = 0x20, 0x15, 0x35, 0x06
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_EACCES = 13


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_supported() -> bool:
    """A filter for this machine's architecture exists (the kernel's support is checked
    when it is installed)."""
    return platform.machine() in _ARCHES and sys.byteorder == "little"


def refuse_syscalls(keep_process_group: bool = False) -> None:
    """Install the seccomp filter described in the module docstring (after no_new_privs);
    ``keep_process_group``: refuse setsid() and setpgid() too."""
    if not seccomp_supported():
        raise ConfineError(0, f"no seccomp filter for {platform.machine()}")
    arch, always, nr_group, x32 = _ARCHES[platform.machine()]
    refused = [*always, *(nr_group if keep_process_group else ())]
    deny = _RET_ERRNO | _EACCES

    def op(code, k, jt=0, jf=0):
        return struct.pack("=HBBI", code, jt, jf, k)

    n = len(refused)  # the jumps below land on the last instruction: deny
    prog = [
        op(_BPF_LD_W_ABS, 4),                    # seccomp_data.arch
        op(_BPF_JEQ_K, arch, 0, n + 3),          # another ABI (i386 on x86_64): deny
        op(_BPF_LD_W_ABS, 0),                    # seccomp_data.nr
        op(_BPF_JGE_K, x32 if x32 is not None else 0xFFFFFFFF, n + 1, 0),  # x32 calls: deny
        *(op(_BPF_JEQ_K, nr, n - i, 0) for i, nr in enumerate(refused)),  # refused: deny
        op(_BPF_RET_K, _RET_ALLOW),
        op(_BPF_RET_K, deny),
    ]
    code = ctypes.create_string_buffer(b"".join(prog))
    fprog = _SockFprog(len(prog), ctypes.addressof(code))
    if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise _errno_error("prctl(PR_SET_SECCOMP)")


# ------------------------------------------------------------------ unreachable Pythons


def blocker(path: str) -> str | None:
    """The first ancestor of ``path`` that other users cannot traverse (e.g. /root)."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    for i in range(len(parts)):
        ancestor = os.sep + os.path.join(*parts[: i + 1])
        if os.path.isdir(ancestor) and not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def reach(paths: list[str]) -> dict[str, str]:
    """Open each of ``paths`` that sits below a folder others cannot traverse; returns
    ``{path: "/proc/self/fd/N"}`` (call while still privileged; the handles stay open)."""
    handles = {}
    for path in paths:
        if os.path.isdir(path) and blocker(path) not in (None, path):
            fd = os.open(path, os.O_PATH | os.O_DIRECTORY)  # not O_CLOEXEC: see reroute
            os.set_inheritable(fd, False)
            handles[os.path.realpath(path)] = f"/proc/self/fd/{fd}"
    return handles


def rerouted(path: str, handles: dict[str, str]) -> str:
    """``path`` through the handle of :func:`reach` that holds it (else unchanged)."""
    real = os.path.realpath(path)
    for folder, handle in handles.items():
        if real == folder or real.startswith(folder + os.sep):
            return handle + real[len(folder):]
    return path


def reroute(handles: dict[str, str]) -> None:
    """Point ``sys.path`` and every loaded package's ``__path__`` at the handles of
    :func:`reach`, so that imports after the uid change find the same files."""
    if not handles:
        return
    sys.path[:] = [rerouted(p, handles) for p in sys.path]
    for module in list(sys.modules.values()):
        search = getattr(module, "__path__", None)
        if isinstance(search, list):
            search[:] = [rerouted(p, handles) if isinstance(p, str) else p for p in search]
    sys.path_importer_cache.clear()
