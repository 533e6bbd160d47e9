"""The trusted end of the pipes to one worker process: framed messages with deadlines, the
worker's captured output, and why a worker died.

A :class:`Channel` never waits without a deadline: a worker that stops answering, stops
reading or dies is killed and reported as :class:`StudentTimeout` or :class:`WorkerDied`
(the student's fault), never as a hang of the grader.  Message framing is
:mod:`grader.ipc.protocol`.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import threading
import time

from grader.ipc import protocol
from grader.ipc.printable import printable


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


class _Deadline(Exception):
    pass


class _Overstep(Exception):
    pass


WATCH_PERIOD = 0.2  # seconds between two looks at what the worker uses (``Channel.watch``)


class Output:
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
        return (f"[... {skipped} bytes not kept ...]\n" if skipped else "") + printable(text)

    def close(self):
        """Wait briefly for EOF (the worker is gone); the reader thread closes the pipe. A
        daemon left behind (same-uid levels only) may hold it open longer."""
        self.thread.join(0.5)


# How a signal that killed the worker is explained (the CPU and file limits are added).
_SIGNALS = {signal.SIGSEGV: "a segmentation fault (crash in native code)",
            signal.SIGBUS: "a bus error (crash in native code)",
            signal.SIGABRT: "an abort (crash in native code)",
            signal.SIGFPE: "a floating-point exception (crash in native code)",
            signal.SIGILL: "an illegal instruction (crash in native code)",
            signal.SIGKILL: "SIGKILL (a resource limit, or killed from outside)",
            signal.SIGSYS: "SIGSYS (a system call the sandbox refuses)"}


class Channel:
    """Request pipe, reply pipe and output of one running worker process.

    ``on_kill`` runs after the process group is killed (e.g. killing every process of the
    worker's uid); ``limits`` explain deaths by SIGXCPU / SIGXFSZ.
    """

    def __init__(self, proc: subprocess.Popen, req_fd: int, resp_fd: int, out_fd: int,
                 limits, on_kill=None, watch=None):
        self.proc, self.limits, self.on_kill, self.watch = proc, limits, on_kill, watch
        os.set_blocking(req_fd, False)  # writes wait with a deadline (write)
        self.req, self.resp = req_fd, resp_fd
        self.output = Output(out_fd, limits.output_bytes)
        self.sent_at = time.monotonic()
        self.overstep: str | None = None  # the limit ``watch`` found broken
        self._watched = 0.0

    @property
    def alive(self) -> bool:
        return not self._ended()

    def _ended(self) -> bool:
        """The worker process has exited.  Its exit status is left uncollected (WNOWAIT),
        so that its pid, and the process group named by it, stay this worker's until
        :meth:`kill` has signalled the group."""
        if self.proc.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, self.proc.pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def _check_watch(self) -> None:
        """Every WATCH_PERIOD, ask ``watch`` (e.g. the disk quota) whether the worker broke
        a limit that no rlimit enforces; if so, kill it (the reason is kept for
        :meth:`death_reason`)."""
        now = time.monotonic()
        if self.watch is None or now - self._watched < WATCH_PERIOD:
            return
        self._watched = now
        reason = self.watch()
        if reason:
            self.overstep = reason
            raise _Overstep

    def recv(self, deadline: float, what: str):
        """The next message (header, buffers); kills the worker at ``deadline``."""
        def read(fd, n):
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Deadline
                ready, _, _ = select.select([fd], [], [], min(left, WATCH_PERIOD))
                self._check_watch()
                if ready:
                    return os.read(fd, n)
                if self._ended():
                    return b""

        try:
            return protocol.recv(self.resp, reader=read)
        except _Overstep:
            self.kill()
            raise WorkerDied(self.death_reason(what)) from None
        except _Deadline:
            seconds = round(deadline - self.sent_at, 1)
            self.kill()
            raise StudentTimeout(seconds, what) from None
        except (EOFError, OSError):
            self.kill()
            raise WorkerDied(self.death_reason(what)) from None
        except protocol.ProtocolError as exc:
            self.kill()
            raise WorkerDied(f"{what}: the worker sent a malformed message ({exc})") from None

    def send(self, header: dict, buffers: list, deadline: float, what: str) -> None:
        """Send one message; a worker that died before reading is reported as dead."""
        try:
            self.write(header, buffers, deadline, what)
        except OSError:
            self.kill()
            raise WorkerDied(self.death_reason(what)) from None

    def write(self, header: dict, buffers: list, deadline: float, what: str) -> None:
        """Send one message; a worker that stops reading (while it is blocked writing a
        reply nobody reads, say) is killed at ``deadline`` instead of hanging the grader."""
        view = memoryview(protocol.pack(header, list(buffers)))
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise StudentTimeout(round(deadline - self.sent_at, 1),
                                     f"{what} (the worker stopped reading requests)")
            _, ready, _ = select.select([], [self.req], [], min(left, WATCH_PERIOD))
            try:
                self._check_watch()
            except _Overstep:
                self.kill()
                raise WorkerDied(self.death_reason(what)) from None
            if ready:
                try:
                    view = view[os.write(self.req, view):]
                except BlockingIOError:
                    continue

    def death_reason(self, what: str) -> str:
        if self.overstep:
            return f"{what}: the worker was stopped: {self.overstep}"
        rc = self.proc.returncode
        if rc is None:
            return f"{what}: the worker stopped answering"
        if rc == 1 and self._wrapper_lost_a_signal():
            rc = -signal.SIGKILL
        if rc < 0:
            sig = signal.Signals(-rc)
            why = {signal.SIGXCPU: f"the CPU time limit ({self.limits.cpu_seconds} s)",
                   signal.SIGXFSZ: f"the file size limit ({self.limits.file_mb} MiB)",
                   **_SIGNALS}.get(sig, sig.name)
            return f"{what}: the worker was killed by {sig.name}: {why}"
        return (f"{what}: the worker exited with status {rc} (os._exit() or a crash "
                f"while running your code)")

    def _wrapper_lost_a_signal(self) -> bool:
        """unshare (util-linux 2.38) exits with status 1 and this message instead of passing
        on its child's death by SIGKILL (a resource limit, or killed from outside)."""
        self.output.sync(0.2)
        with self.output.lock:
            tail = bytes(self.output.buf[-200:])
        return tail.rstrip().endswith(b"unshare: sigprocmask unblock failed: Invalid argument")

    def kill(self) -> None:
        """SIGKILL the worker's process group, then collect the worker's exit status, then
        ``on_kill``.  The group is signalled only while the worker's status is uncollected:
        its pid (the group's id) cannot have been reused by then."""
        if self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.on_kill is not None:
            self.on_kill()

    def close(self) -> None:
        """Ask the worker to exit, kill what is left, close the pipes."""
        if not self._ended():
            try:
                protocol.send(self.req, {"op": "exit"})
            except OSError:
                pass
            deadline = time.monotonic() + 0.5
            while not self._ended() and time.monotonic() < deadline:
                time.sleep(0.005)
        self.kill()
        for fd in (self.req, self.resp):
            try:
                os.close(fd)
            except OSError:
                pass
        self.output.sync(0.2)
        self.output.close()
