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
        return (f"[... {skipped} bytes not kept ...]\n" if skipped else "") + text

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
                 limits, on_kill=None):
        self.proc, self.limits, self.on_kill = proc, limits, on_kill
        os.set_blocking(req_fd, False)  # writes wait with a deadline (write)
        self.req, self.resp = req_fd, resp_fd
        self.output = Output(out_fd, limits.output_bytes)
        self.sent_at = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def recv(self, deadline: float, what: str):
        """The next message (header, buffers); kills the worker at ``deadline``."""
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
            return protocol.recv(self.resp, reader=read)
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
            _, ready, _ = select.select([], [self.req], [], min(left, 0.25))
            if ready:
                try:
                    view = view[os.write(self.req, view):]
                except BlockingIOError:
                    continue

    def death_reason(self, what: str) -> str:
        rc = self.proc.returncode
        if rc is None:
            return f"{what}: the worker stopped answering"
        if rc < 0:
            sig = signal.Signals(-rc)
            why = {signal.SIGXCPU: f"the CPU time limit ({self.limits.cpu_seconds} s)",
                   signal.SIGXFSZ: f"the file size limit ({self.limits.file_mb} MiB)",
                   **_SIGNALS}.get(sig, sig.name)
            return f"{what}: the worker was killed by {sig.name}: {why}"
        return (f"{what}: the worker exited with status {rc} (os._exit() or a crash "
                f"while running your code)")

    def kill(self) -> None:
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
        if self.proc.poll() is None:
            try:
                protocol.send(self.req, {"op": "exit"})
            except OSError:
                pass
            try:
                self.proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        for fd in (self.req, self.resp):
            try:
                os.close(fd)
            except OSError:
                pass
        self.output.sync(0.2)
        self.output.close()
