"""The timing protocol, both ends: how a speed check times student code it cannot run.

The student's code runs only in its worker, so the clock is the trusted side's: a request
``{"op": "time", steps, number, repeat}`` makes the worker warm up and answer "ready";
then each ``{"op": "go"}`` makes it run the steps ``number`` times and answer "done"; the
trusted side times from sending "go" to reading "done" (:class:`TimingSession`; the worker's
end is :func:`serve`).  With a :class:`grader.timing.varied.Vary` every call sees a slightly
changed input and each "done" carries probe values of the outputs, replayed and compared
on the trusted side (:func:`verify`), so that a memoizing kernel or a worker that answers
"done" early gets no time.

:func:`paired_speedup` is what the speed checks use: the student's steps and the
reference's (in a clean worker) are timed in *paired, interleaved rounds* — a round of
one, then a round of the other, the order alternating — and the speed-up is the median
over the pairs of ``t_reference / t_student``.  Each round's time is the CPU time the
worker's processes spent in it (:func:`cpu_seconds`, read by the trusted side from the
kernel before "go" and after "done"), not the wall clock: on a shared machine a round
waits for a core for as long as the others take, which says nothing about the code.  Both
rounds of a pair run on the same core (:func:`pin`), the core changing every two pairs:
the cores of a shared or virtual machine differ in speed with the load next to them.  What
load still changes (caches, frequency) comes in bursts that slow a round and its partner
next to it alike, so each pair's ratio stays near the truth, and the median ignores the
pairs a burst split.  Of a few such blocks, the least disturbed one counts (see
:func:`paired_speedup`).  The spread reported is the middle half of that block's pairs'
ratios (first to third quartile).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from grader.ipc import protocol
from grader.ipc.channel import StudentTimeout, WorkerDied
from grader.timing import varied

# ------------------------------------------------------------------------ trusted end


class TimingSession:
    """One timing request in progress (see :meth:`grader.sandbox.handle.Worker.timing`).

    ``round()`` exactly ``repeat`` times, then ``finish()``; used as a context manager, a
    session left unfinished (an error between rounds) stops the worker, which still waits
    for "go" and can serve nothing else (its next request starts a fresh one)."""

    def __init__(self, worker, what: str, repeat: int, deadline: float):
        self.worker, self.what, self.left, self.deadline = worker, what, repeat, deadline
        self.channel = worker.channel
        self.mark = self.channel.output.total
        self.channel.sent_at = time.monotonic()
        self.done = False
        self.plan: dict | None = None
        self.probes: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.done:
            self.channel.kill()

    @contextlib.contextmanager
    def _guard(self):
        ch = self.channel
        try:
            yield
        except OSError:  # a send to a worker that is gone
            ch.kill()
            self.done = True
            raise WorkerDied(ch.death_reason(self.what),
                             self.worker.log(ch.output.since(self.mark))) from None
        except (StudentTimeout, WorkerDied) as exc:
            ch.output.sync(0.2)
            exc.output = self.worker.log(ch.output.since(self.mark))
            self.done = True
            raise

    def start(self, request: dict, buffers: list) -> None:
        with self._guard():
            self.channel.write(request, buffers, self.deadline, self.what)
            self._expect("ready")

    def _expect(self, state: str):
        """Read the worker's reply; an error reply raises (StudentError...)."""
        ch = self.channel
        reply, bufs = ch.recv(self.deadline, self.what)
        if not reply.get("ok") or reply.get("state") != state:
            self.done = True  # the worker left its timing loop
            ch.output.sync()
            self.worker.decode_reply(reply, bufs, self.what,
                                     self.worker.log(ch.output.since(self.mark)))
            ch.kill()  # "ok" but not the expected state: not our worker's protocol
            raise WorkerDied(f"{self.what}: the worker sent a malformed message "
                             f"(expected {state!r})")
        return reply, bufs

    def round(self) -> float:
        """Run one round in the worker; returns its seconds on the trusted clock, from
        sending "go" to reading the worker's "done"."""
        if self.left <= 0:
            raise RuntimeError("timing: every round of this session has been run")
        self.left -= 1
        with self._guard():
            t0 = time.perf_counter()
            self.channel.write({"op": "go"}, [], self.deadline, self.what)
            reply, bufs = self._expect("done")
            seconds = time.perf_counter() - t0
        if self.plan is not None:  # checked later, against a trusted replay
            try:
                self.probes.append(protocol.decode(reply.get("probes"), bufs))
            except protocol.ProtocolError:
                self.probes.append(None)
        return seconds

    def finish(self):
        """The results (a list, one ``(result, args_after)`` per step)."""
        if self.left:
            raise RuntimeError(f"timing: {self.left} round(s) not run yet")
        ch = self.channel
        with self._guard():
            reply, bufs = ch.recv(self.deadline, self.what)
            if "state" in reply:  # a "done" more than rounds were run: forged by its code
                ch.kill()
                raise WorkerDied(f"{self.what}: the worker answered out of turn (an extra "
                                 f"'done': the timed rounds were not the grader's)")
        self.done = True
        ch.output.sync()
        return self.worker.decode_reply(reply, bufs, self.what,
                                        self.worker.log(ch.output.since(self.mark)))


class TimedRunMismatch(Exception):
    """The probes of a timed round differ from the trusted replay (``name``, ``error``)."""

    def __init__(self, name: str, error: float, tol: float):
        super().__init__(f"{name}: relative error {error:.3g} > {tol:g}")
        self.name, self.error, self.tol = name, error, tol


def verify(session: TimingSession, steps: list, vary: varied.Vary, replay: list,
           number: int) -> None:
    """Replay every timed call of ``session`` here (``replay``: one trusted callable per
    step) and compare the probes; raises :class:`TimedRunMismatch`."""
    import numpy as np

    copies = [(fn, tuple(np.array(a) if isinstance(a, np.ndarray) else a for a in args),
               dict(kwargs or {})) for fn, (_t, args, kwargs) in zip(replay, steps, strict=True)]
    if session.plan is None:
        raise RuntimeError("timing: verify needs a session started with a vary plan")
    prepared = varied.prepare(session.plan)
    for r, got in enumerate(session.probes):
        _, want = varied.run_round(copies, prepared, r * number, number)
        bad = varied.mismatch(got, want, vary.tol)
        if bad is not None:
            p, err = bad
            raise TimedRunMismatch(vary.names[p], err, vary.tol[p])


class TimingWorker(Protocol):
    """What a side's worker offers the paired timing (:class:`grader.sandbox.handle.Worker`)."""

    def time(self, target: Any, *, number: int, repeat: int, warmup: int,
             timeout: float) -> float: ...

    def timing(self, target: Any, *, number: int, repeat: int, warmup: int, timeout: float,
               vary: Any) -> TimingSession: ...

    def owner(self) -> Owner: ...


@dataclass(frozen=True)
class Timed:
    """One side of a paired timing: ``steps`` (``Worker.time``'s list of ``(target, args,
    kwargs)``) in ``worker``; with ``vary`` every call's probes are checked against
    ``replay`` (one trusted callable per step)."""

    worker: TimingWorker
    steps: list
    vary: varied.Vary | None = None
    replay: list | None = None


@dataclass(frozen=True)
class Speedup:
    """``t_reference / t_student`` over paired rounds: the median and the quartiles."""

    median: float
    low: float
    high: float
    student_seconds: float    # per call of the steps: the median round / number
    reference_seconds: float
    pairs: int

    def spread(self) -> str:
        """"2.9–3.2×": the middle half of the pairs' speed-ups."""
        return f"{self.low:.2f}–{self.high:.2f}×"


MAX_NUMBER = 5000
_TICKS = os.sysconf("SC_CLK_TCK")


def paired_speedup(student: Timed, reference: Timed, *, pairs: int = 15, blocks: int = 3,
                   round_seconds: float = 0.02, timeout: float = 120.0):
    """Time ``student`` against ``reference`` in ``blocks`` blocks of ``pairs`` interleaved
    pairs of rounds of about ``round_seconds`` each (the calls per round calibrated per
    side, so that the round trip of a request is a small part of a round); returns
    ``(Speedup, results)``: the block with the highest median speed-up, and the results of
    the student's steps (``TimingSession.finish``).

    Why the best block: load from other jobs only ever slows code down, and it slows a
    compiled loop (the student's Numba kernel) more than NumPy's calls, so a block run
    while the core is disturbed understates the speed-up for its whole duration, pairing or
    not; of blocks spread over a few seconds, the fastest is the least disturbed.

    Raises :class:`TimedRunMismatch` when a side's timed calls did not compute what its
    replay computes (for the reference: a grader bug, raised as RuntimeError)."""
    sides = (reference, student)
    numbers = []
    for side in sides:
        first = side.worker.time(side.steps, number=1, repeat=3, warmup=1, timeout=timeout)
        numbers.append(int(min(MAX_NUMBER, max(1, round_seconds / max(first, 1e-7)))))
    best, results = None, None
    for _ in range(blocks):
        speed, results = _paired_block(sides, numbers, pairs, timeout)
        if best is None or speed.median > best.median:
            best = speed
    return best, results


def _paired_block(sides: tuple[Timed, Timed], numbers: list[int], pairs: int,
                  timeout: float) -> tuple[Speedup, list]:
    reference = sides[0]
    times: list[list[float]] = [[], []]
    with contextlib.ExitStack() as stack:
        sessions = [stack.enter_context(side.worker.timing(
            side.steps, number=n, repeat=pairs, warmup=1, timeout=timeout, vary=side.vary))
            for side, n in zip(sides, numbers, strict=True)]
        owners = [side.worker.owner() for side in sides]
        cpus = sorted(os.sched_getaffinity(0))
        try:
            for i in range(pairs):
                order = (0, 1) if i % 2 == 0 else (1, 0)  # neither side always goes first
                core = {cpus[i // 2 % len(cpus)]}  # both orders on each core in turn
                for k in order:
                    pin(owners[k], core)
                    before = cpu_seconds(owners[k])
                    sessions[k].round()
                    settle(owners[k])
                    times[k].append((cpu_seconds(owners[k]) - before) / numbers[k])
        finally:
            for owner in owners:
                pin(owner, set(cpus))
        results = [s.finish() for s in sessions]
    for k, side in enumerate(sides):
        if side.vary is not None:
            if side.replay is None:
                raise ValueError("Timed: with vary, replay (one trusted callable per step) "
                                 "is required; got None")
            try:
                verify(sessions[k], side.steps, side.vary, side.replay, numbers[k])
            except TimedRunMismatch as exc:
                if side is reference:
                    raise RuntimeError(f"grader bug: the reference's timed run differs from "
                                       f"its replay ({exc})") from None
                raise
    ratios = sorted(r / s for r, s in zip(times[0], times[1], strict=True))
    return Speedup(median=_quantile(ratios, 0.5), low=_quantile(ratios, 0.25),
                   high=_quantile(ratios, 0.75), student_seconds=_quantile(sorted(times[1]), 0.5),
                   reference_seconds=_quantile(sorted(times[0]), 0.5), pairs=pairs), results[1]


class Owner(NamedTuple):
    """What identifies a worker's processes: its leased uid (None: it has none, and its
    session ``sid`` does), and its cgroup (``grader.sandbox.cgroup``) where it has one."""

    uid: int | None
    sid: int
    cgroup: Any = None


def worker_processes(owner: Owner):
    """(pid, fields of /proc/pid/stat after the name) of a worker's processes: those of its
    cgroup where it has one, else of its own leased uid, or, for a worker without either,
    of its session."""
    if owner.cgroup is not None:
        names = [str(pid) for pid in owner.cgroup.pids()]
    else:
        names = [entry.name for entry in os.scandir("/proc") if entry.name.isdigit()]
    for name in names:
        try:
            if owner.cgroup is None and owner.uid is not None and \
                    os.stat(f"/proc/{name}").st_uid != owner.uid:
                continue
            with open(f"/proc/{name}/stat", "rb") as f:
                after_name = f.read().rsplit(b")", 1)[1].split()
            if owner.cgroup is None and owner.uid is None and int(after_name[3]) != owner.sid:
                continue  # fields: state, ppid, pgrp, session, ...
        except (OSError, ValueError, IndexError):
            continue
        yield name, after_name


def cpu_seconds(owner: Owner) -> float:
    """CPU time, in seconds, of everything the worker ran, read from the kernel (the worker
    cannot change it): its cgroup's ``usage_usec`` where it has one (every thread and
    process that ever ran in it); else, for each of its processes (:func:`worker_processes`),
    the process's CPU clock (every thread, those that have exited included) and the CPU time
    of the children it waited for.  Not counted without a cgroup: a process that exits
    without being waited for by one of them."""
    if owner.cgroup is not None:
        return owner.cgroup.cpu_seconds()
    total = 0.0
    for pid, stat in worker_processes(owner):
        try:
            total += (int(stat[13]) + int(stat[14])) / _TICKS  # cutime + cstime
            try:
                total += time.clock_gettime(_process_clock(int(pid)))
            except OSError:  # exited meanwhile: the kernel's ticks are what is left
                total += (int(stat[11]) + int(stat[12])) / _TICKS  # utime + stime
        except (ValueError, IndexError):
            continue
    return total


def _process_clock(pid: int) -> int:
    """The clock id of process ``pid``'s CPU-time clock (clock_getcpuclockid(3): the
    kernel's CPUCLOCK_SCHED of the whole thread group, nanoseconds)."""
    return ((~pid) << 3) | 2


def settle(owner: Owner, wait: float = 0.1) -> None:
    """Wait (at most ``wait`` s) until none of a worker's processes is running: the kernel
    adds a running thread's latest stretch to its schedstat only when it stops (after
    sending "done", the worker still runs until it waits for the next request)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not any(stat[0] == b"R" for _pid, stat in worker_processes(owner)):
            return
        time.sleep(0.0002)


def pin(owner: Owner, cpus: set[int]) -> None:
    """Run every thread of a worker's processes on ``cpus`` only (both sides of a pair on
    the same core: the cores of a shared or virtual machine differ in speed by the load
    next to them)."""
    for pid, _stat in worker_processes(owner):
        try:
            for task in os.scandir(f"/proc/{pid}/task"):
                os.sched_setaffinity(int(task.name), cpus)
        except OSError:
            continue


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of already sorted values."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def steps_for_wire(worker, steps: list) -> tuple[list, list]:
    """The steps as the worker's timing loop receives them: (wire steps, buffers)."""
    buffers: list = []
    wire = []
    for target, args, kwargs in steps:
        step = ({"ref": worker.ref_id(target[0]), "name": target[1]}
                if isinstance(target, tuple) else {"target": target})
        step["args"] = protocol.encode(tuple(args), buffers, register=worker.ref_id)
        step["kwargs"] = protocol.encode(dict(kwargs or {}), buffers, register=worker.ref_id)
        wire.append(step)
    return wire, buffers


# ------------------------------------------------------------------------- worker end


def serve(server, req: dict, buffers) -> None:
    """The worker's timing loop (``server`` is the worker's request server).

    Warm up, answer "ready"; then for each repeat wait for "go", run ``number`` calls of
    the steps and answer "done".  The worker's own clock is never used.  With ``vary`` each
    call sees a slightly changed input and the round's probe values travel in its "done";
    the results returned at the end are those of one more, untimed call with the inputs as
    given; without, the last round's results come back for checking.
    """
    steps = [(server.lookup(s, buffers), server.decode(s.get("args", []), buffers),
              server.decode(s.get("kwargs", {"$t": "dict", "v": []}), buffers))
             for s in req["steps"]]
    plan = req.get("vary")
    plan = varied.prepare(server.decode(plan, buffers)) if plan is not None else None
    results = None
    for _ in range(req.get("warmup", 1)):
        results = [fn(*a, **k) for fn, a, k in steps]
    server.reply({"ok": True, "state": "ready"})
    number = req["number"]
    for r in range(req["repeat"]):
        go, _bufs = protocol.recv(server.req_fd)
        if go.get("op") != "go":
            raise ValueError("timing: expected 'go'")
        if plan is None:
            for _ in range(number):
                results = [fn(*a, **k) for fn, a, k in steps]
            protocol.send(server.resp_fd, {"ok": True, "state": "done"})
        else:
            results, probes = varied.run_round(steps, plan, r * number, number)
            bufs: list = []
            header = {"ok": True, "state": "done", "probes": protocol.encode(probes, bufs)}
            protocol.send(server.resp_fd, header, bufs)
    if plan is not None:
        results = [fn(*a, **k) for fn, a, k in steps]
    if results is None:
        raise ValueError("timing: no call ran (warmup and repeat both 0)")
    out = [(r, a) for r, (_fn, a, _k) in zip(results, steps, strict=True)]
    server.reply({"ok": True}, out if req.get("return_args") else results)
