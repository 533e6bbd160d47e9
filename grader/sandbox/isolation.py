"""How a worker is isolated: the levels, which one this machine gives, and what each one
hides (the trusted side's policy; ``grader.sandbox.worker`` applies it,
``grader.sandbox.confine`` holds the kernel calls).

Levels, strongest first (:func:`detect_isolation`; the names say what is missing):

- ``namespaces`` (root, ``unshare`` allowed): own PID, network and mount namespace, own
  unprivileged uid; the grader's files are hidden behind empty mounts, /tmp is private.
- ``landlock`` (root without CAP_SYS_ADMIN, as in Docker: Gradescope, most CI containers):
  own unprivileged uid; Landlock lets it open only the system's folders, the Python
  installation, dlkit (minus the task's blocked files) and its working copy; a seccomp
  filter refuses every socket; no_new_privs.  A Python under a folder other
  users cannot enter (/root) is reached through directory handles.
- ``landlock-same-uid`` (not root, Landlock available): the same Landlock and seccomp
  confinement, but the worker keeps the grader's uid (so no separate process limit, and
  what it starts is killed through its process group, which seccomp keeps it in).
- ``user-no-landlock`` (root, kernel without Landlock): own uid only: every file that all
  users may read is readable (datasets with the test labels, the hidden checks, solutions).
- ``session`` (not root, no Landlock): rlimits and a new session only.

``-network-open`` is appended when this machine has no seccomp filter for its architecture.
What each level does not protect is in :data:`ISOLATION_NOTES` (for the instructor only).
"""

from __future__ import annotations

import fcntl
import functools
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from grader import GRADER_DIR, REPO_DIR
from grader.sandbox import confine
from grader.sandbox.policy import BLOCKED, ConfigError, LandlockRules

UID_RANGE = range(61000, 62000)
# uids are the machine's: every grader on it must see the same leases, whatever its TMPDIR
# (a grader with another TMPDIR would lease a uid in use, and kill that worker)
UID_LOCK_DIR = Path("/tmp") / "dlkit-grade-uids"
LEVELS = ("namespaces", "landlock", "landlock-same-uid", "user-no-landlock", "session")
NETWORK_OPEN = "-network-open"
_CAP_SYS_ADMIN = 21

# World-writable directories replaced by a fresh private tmpfs in the worker (namespaces).
PRIVATE_DIRS = ["/tmp", "/var/tmp", "/dev/shm"]
# Data folders with test labels: Debian's datasets and the course's shared data next to the
# checkout (../shared/data).
HIDDEN_DATA_DIRS = ["/usr/share/datasets", str(REPO_DIR.parent / "shared" / "data")]
# What a Landlock-confined worker may read besides Python and dlkit (minus what is hidden).
SYSTEM_READ = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
               "/proc", "/sys"]
DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]


# ----------------------------------------------------------------------------- levels


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


def has_cap_sys_admin() -> bool:
    """CAP_SYS_ADMIN in this process's effective set (root in Docker has not)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> _CAP_SYS_ADMIN & 1)
    except (OSError, ValueError):
        pass
    return False


@functools.cache
def _landlock_abi() -> int:
    return confine.landlock_abi()


def available() -> list[str]:
    """The levels this process can give a worker, strongest first."""
    levels = []
    if os.geteuid() == 0:
        if has_cap_sys_admin() and _namespaces_work():
            levels.append("namespaces")
        if _landlock_abi():
            levels.append("landlock")
        levels.append("user-no-landlock")
    elif _landlock_abi():
        levels.append("landlock-same-uid")
    levels.append("session")
    return levels


def detect_isolation() -> str:
    """The strongest level available here (see the module docstring), with
    ``-network-open`` where the network cannot be given up.

    ``DLKIT_GRADE_ISOLATION`` may ask for a weaker level (for tests), never a stronger one
    nor one this machine cannot produce.
    """
    levels = available()
    level = levels[0]
    wanted = os.environ.get("DLKIT_GRADE_ISOLATION", "")
    if wanted:
        if wanted not in LEVELS:
            raise ConfigError(f"DLKIT_GRADE_ISOLATION: expected one of {LEVELS}, got "
                              f"{wanted!r}")
        if wanted not in levels:
            raise ConfigError(f"DLKIT_GRADE_ISOLATION={wanted}: this process can give "
                              f"{', '.join(levels)}")
        level = wanted
    return level + (NETWORK_OPEN if level != "session" and network_open(level) else "")


def network_open(level: str) -> bool:
    """True when a worker at ``level`` keeps the network: ``session`` always, the levels
    without namespaces where this machine has no seccomp filter."""
    base = base_level(level)
    return base == "session" or (base != "namespaces" and not confine.seccomp_supported())


def filters_syscalls(level: str) -> bool:
    """True when a worker at ``level`` gets the seccomp filter (``grader.confine.
    refuse_syscalls``): every level but ``session``, where this machine has one."""
    return base_level(level) != "session" and confine.seccomp_supported()


def base_level(level: str) -> str:
    return level.removesuffix(NETWORK_OPEN)


def drops_uid(level: str) -> bool:
    return base_level(level) in ("namespaces", "landlock", "user-no-landlock")


# What each level does NOT protect: for the instructor (the grader's log, the record's
# "instructor" entry, extra_data), never in what a student sees.
ISOLATION_NOTES = {
    "namespaces": ("The worker ran in its own PID, network and mount namespace as an "
                   "unprivileged user; the grader's files, solutions and hidden data were "
                   "hidden from it."),
    "landlock": ("No namespaces (no CAP_SYS_ADMIN, as in a container): the worker ran as an "
                 "unprivileged user confined by Landlock to the system folders, the Python "
                 "installation, dlkit without the task's blocked modules, and its working "
                 "copy; every socket was refused (seccomp). It could see the names, not "
                 "the contents, of files in folders on the way to those (e.g. that "
                 "/usr/share/datasets exists) and read world-readable system files (/etc, "
                 "/proc)."),
    "landlock-same-uid": ("Not root: the worker ran as the grader's own user, confined by "
                          "Landlock to the system folders, the Python installation, dlkit "
                          "without the task's blocked modules, and its working copy (not "
                          "the hidden checks, solutions/, the data caches, the results or "
                          "the rest of your home folder); every socket was refused "
                          "(seccomp); {signals}. It could see "
                          "the names, not the contents, of files in folders on the way to "
                          "those, the command line of every process (/proc), the grader's "
                          "included, and read world-readable system files (/etc). Its "
                          "processes and threads count against your user's process limit; "
                          "they cannot leave the worker's process group (setsid refused), "
                          "so none outlives its check."),
    "user-no-landlock": ("No namespaces and no Landlock in this kernel: the worker ran as an "
                         "unprivileged user, but every file that all users may read was "
                         "readable: world-readable datasets with the test labels "
                         "(/usr/share/datasets), the hidden checks and solutions where "
                         "world-readable; the dlkit modules a task blocks are refused by an "
                         "import hook only. Files it wrote and closed outside its working "
                         "copy (/tmp, /dev/shm) were limited in size per file only."),
    "session": ("WEAK ISOLATION (not root, no Landlock): the worker ran as the grader's own "
                "user, in a new session with rlimits only. It could read every file the "
                "grader can read: dlkit's data cache and /usr/share/datasets with the test "
                "labels, the hidden checks and the solutions; it could use the network and "
                "every socket of your user (a desktop's session bus starts programs), "
                "write files wherever your user may (limited in size per file only), "
                "signal the grader and import the blocked dlkit modules after removing the "
                "import hook. Grade as root (or on a kernel with Landlock) for scores that "
                "must hold against cheating."),
}


def isolation_note(level: str) -> str:
    """What ``level`` does not protect (for the instructor)."""
    text = ISOLATION_NOTES[base_level(level)]
    if base_level(level) == "landlock-same-uid":
        abi = _landlock_abi()  # Landlock scopes signals from ABI 6 (Linux 6.12)
        text = text.format(signals="no signals to, no tracing of the grader" if abi >= 6
                           else "no tracing of the grader")
        if abi < 6:
            text += (f" SIGNALS NOT SCOPED: this kernel's Landlock (ABI {abi}; scoping needs "
                     "ABI 6, Linux 6.12) let the worker signal every process of your user, "
                     "the grader's included (stop or kill a check).")
    if network_open(level) and base_level(level) != "session":  # session: said above
        text += (" NETWORK OPEN: no seccomp filter for this architecture, so the worker "
                 "could use the network.")
    return text


# ------------------------------------------------------------------------- uid leases


class UidLease:
    """An unprivileged uid without a passwd entry, held (flock) for one worker's lifetime."""

    def __init__(self):
        UID_LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        st = UID_LOCK_DIR.lstat()  # in /tmp: made by someone else, it cannot be trusted
        if st.st_uid != os.geteuid() or st.st_mode & 0o777 != 0o700 or \
                not UID_LOCK_DIR.is_dir() or UID_LOCK_DIR.is_symlink():
            raise ConfigError(f"{UID_LOCK_DIR}: expected a folder of this user's with mode "
                              f"0700 (the grader's uid locks), found uid {st.st_uid}, mode "
                              f"{st.st_mode & 0o7777:o}: remove it")
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
        raise ConfigError(f"no free uid in {UID_RANGE.start}..{UID_RANGE.stop - 1}")

    def kill_all(self) -> None:
        """SIGKILL every process still running as this uid (daemons left behind).  Each is
        pinned by a pidfd before its uid is checked: a pid reused meanwhile by another
        process is never signalled."""
        for _ in range(3):
            found = False
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    fd = os.pidfd_open(int(entry))
                except OSError:
                    continue
                try:
                    if os.stat(f"/proc/{entry}").st_uid == self.uid:
                        signal.pidfd_send_signal(fd, signal.SIGKILL)
                        found = True
                except (FileNotFoundError, ProcessLookupError, PermissionError):
                    continue
                finally:
                    os.close(fd)
            if not found:
                return
            time.sleep(0.05)

    def release(self) -> None:
        self.kill_all()
        os.close(self.fd)


def tasks_of(uid: int) -> int:
    """Threads of every process running as ``uid``: what RLIMIT_NPROC counts (each thread
    is a task to the kernel, so a browser of the grader's user counts hundreds)."""
    count = 0
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                count += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            continue
    return count


# ------------------------------------------------------------------------------ paths


def dlkit_root() -> Path | None:
    """dlkit's package folder as the trusted side imports it (editable or not)."""
    spec = importlib.util.find_spec("dlkit")
    if not spec or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def blocked_files(assignment: str | None) -> list[str]:
    """Files and folders of dlkit that hold what ``assignment`` blocks as whole modules
    (with their compiled caches): unreadable for the worker under namespaces and Landlock."""
    root = dlkit_root()
    if assignment not in BLOCKED or root is None:
        return []
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
    """``[[REPO_DIR, [kept, ...]]]`` when the grader runs from a source checkout: under
    namespaces the worker sees an empty read-only folder there holding only dlkit's package
    folder (and a virtual environment inside the checkout), whatever else appears in it."""
    if not (REPO_DIR / "pyproject.toml").is_file():
        return []  # an installed grader: site-packages, handled by the masks
    inside = [Path(p).resolve() for p in python_paths()]
    keep = [p for p in inside if p.is_relative_to(REPO_DIR) and p != REPO_DIR]
    return [[str(REPO_DIR), [str(p) for p in keep]]]


def python_paths() -> list[str]:
    """What the worker must be able to read: the Python installation, its packages, and
    dlkit's package folder as the trusted side imports it."""
    import numpy

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(numpy.__file__).parent.parent)}
    # not the working directory, which ``python -m`` puts first: the checks process's is
    # its results folder (readable by a worker of the same uid if it were allowed here)
    cwd = Path.cwd().resolve()
    paths.update(p for p in sys.path if p and Path(p).is_dir() and not Path(p).is_relative_to(
        REPO_DIR) and Path(p).resolve() != cwd)
    root = dlkit_root()
    if root is not None:
        paths.add(str(root))
    return sorted(str(Path(p).resolve()) for p in paths)


def others_can_run_python() -> bool:
    """Can a uid other than ours traverse to the Python installation and its packages?"""
    return not any(confine.blocker(p) for p in python_paths())


def landlock_rules(assignment: str | None, workdir: str, hidden: list[str]) -> LandlockRules:
    """What a Landlock-confined worker may open: the system folders and Python (read),
    minus ``hidden`` and the task's blocked dlkit files, which only their folders' listing
    leads to; its working copy (everything); a few devices."""
    hidden = sorted({os.path.realpath(p) for p in [*hidden, *blocked_files(assignment)]})
    read: list[str] = []
    listing: list[str] = []
    for top in [*SYSTEM_READ, *python_paths()]:
        if os.path.exists(top):
            _allow(os.path.realpath(top), hidden, read, listing)
    return LandlockRules(read=sorted(set(read)), listing=sorted(set(listing)),
                         write=[workdir], devices=[d for d in DEVICES if os.path.exists(d)])


def _allow(path: str, hidden: list[str], read: list[str], listing: list[str]) -> None:
    if any(path == h or path.startswith(h + os.sep) for h in hidden):
        return
    if not any(h.startswith(path.rstrip(os.sep) + os.sep) for h in hidden):
        read.append(path)
        return
    listing.append(path)  # a folder on the way to something hidden: its children, one by one
    with os.scandir(path) as entries:
        for entry in entries:
            target = os.path.realpath(entry.path)
            if entry.is_symlink() and any(target == h or target.startswith(h + os.sep)
                                          for h in hidden):
                continue
            _allow(entry.path if not entry.is_symlink() else target, hidden, read, listing)
