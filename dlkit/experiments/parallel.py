"""Runs in worker processes: one per core, one BLAS thread each, the data shared.

``execute(plans, data, jobs)`` runs every distinct run of the plans (in this process, or in
``jobs`` worker processes) and returns the experiments' results; ``in_workers(runs, data,
jobs, done)`` runs :class:`~dlkit.experiments.runs.Run` objects in a
``concurrent.futures.ProcessPoolExecutor`` of ``jobs`` processes and calls
``done(run, output, seconds)`` in this process as each one finishes.

- The workers are forked where the platform allows it (Linux): they start at once and see the
  data without a copy. Elsewhere they are spawned and receive the data once each.
- Each worker limits BLAS to one thread (``threadpoolctl``) for its whole life, as the
  experiments do in one process (see :mod:`dlkit.experiments.training`): the numbers are the
  same bit for bit, and two workers on two cores do not fight over BLAS threads.
- A run that raises ends everything: :class:`~dlkit.experiments.runs.RunError` names the run
  and carries the worker's traceback; the runs not started are cancelled. A worker that dies
  (a crash in compiled code, killed for memory) ends everything too: the error names the run
  it was doing, and ``faulthandler`` has printed its Python traceback on stderr.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from threadpoolctl import threadpool_limits

from dlkit.experiments.runs import RunError, distinct, run_here
from dlkit.experiments.training import progress

__all__ = ["in_workers"]

# In a worker: the data of every run, and where to say which run starts.
_DATA: Any = None
_STARTED: Any = None  # the queue on which a worker says which run it started


def _start_worker(data, started) -> None:
    global _DATA, _STARTED
    _DATA, _STARTED = data, started
    threadpool_limits(limits=1, user_api="blas")
    stderr = sys.__stderr__
    try:  # a fatal signal prints the Python traceback on the process's stderr
        if stderr is not None:
            faulthandler.enable(file=stderr)
    except (AttributeError, ValueError, OSError):  # no stderr with a file descriptor
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _do(index: int, run):
    _STARTED.put((index, os.getpid()))
    start = time.perf_counter()
    out = run(_DATA)
    return out, time.perf_counter() - start


def _context():
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _remote_traceback(exc: BaseException) -> str:
    """The worker's traceback that concurrent.futures attaches as the cause."""
    import traceback

    cause = exc.__cause__
    text = str(cause) if cause is not None else ""
    return text or "".join(traceback.format_exception(exc))


def _died(runs, futures, started, workers) -> RunError:
    """The error for a worker process that died: the run it was doing."""
    running = {}
    while not started.empty():
        index, pid = started.get()
        running[index] = pid
    done = {i for i, f in enumerate(futures) if f.done() and not f.cancelled()
            and f.exception() is None}
    exitcodes = {p.pid: p.exitcode for p in workers}
    suspects = [(i, pid) for i, pid in running.items() if i not in done]
    # the pool stops the other workers with SIGTERM once one has died
    crashed = [(i, pid) for i, pid in suspects
               if exitcodes.get(pid) not in (None, -signal.SIGTERM)] or suspects
    if not crashed:
        return RunError(None, "a worker process died before it started any run (its "
                              "error, if any, is on stderr above)")
    i, pid = crashed[0]
    code = exitcodes.get(pid)
    how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
           else f"exit status {code}")
    detail = (f"its worker process {pid} died ({how}); its Python traceback, if any, is on "
              "stderr above")
    if len(crashed) > 1:
        detail += "; at the same time these runs stopped too:\n" + "\n".join(
            runs[j].describe() for j, _ in crashed[1:])
    return RunError(runs[i], detail)


def in_workers(runs, data, jobs: int, done) -> None:
    """Run ``runs`` (in this order) in ``jobs`` worker processes; ``done(run, out, seconds)``
    for each as it finishes. Raises RunError for the first run that fails."""
    ctx = _context()
    started = ctx.SimpleQueue()
    executor = ProcessPoolExecutor(max_workers=min(jobs, len(runs)), mp_context=ctx,
                                   initializer=_start_worker, initargs=(data, started))
    workers = []
    try:
        futures = [executor.submit(_do, i, run) for i, run in enumerate(runs)]
        workers = multiprocessing.active_children()  # the pool's processes, started by now
        index = {f: i for i, f in enumerate(futures)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for f in sorted(finished, key=index.__getitem__):
                exc = f.exception()
                if isinstance(exc, BrokenProcessPool):
                    executor.shutdown(wait=True, cancel_futures=True)
                    raise _died(runs, futures, started, workers) from None
                if exc is not None:
                    raise RunError(runs[index[f]], _remote_traceback(exc)) from None
                out, seconds = f.result()
                done(runs[index[f]], out, seconds)
    except KeyboardInterrupt:
        for p in workers:  # do not wait for the runs in progress
            p.terminate()
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_each(runs, data, jobs: int, done) -> None:
    """Run ``runs`` on ``data``, in this process (``jobs`` 1) or in ``jobs`` worker processes
    (longest first); ``done(run, output, seconds)`` for each as it finishes."""
    if not runs:
        return
    if jobs == 1 or len(runs) == 1:
        run_here(runs, data, done)
    else:
        in_workers(sorted(runs, key=lambda r: -r.work), data, jobs, done)


def execute(plans, data, *, jobs: int = 1, desc: str = "runs"):
    """Run every distinct run of ``plans`` on ``data``; return ``(results, seconds)``.

    ``results`` maps each plan's experiment to its Result; ``seconds`` to the time its runs
    took (summed over runs, wherever they ran; a run shared by two plans counts for the
    first). ``jobs`` > 1 runs them in that many worker processes (one BLAS thread each),
    longest first; the numbers are the same as with ``jobs=1``. A failing run raises
    :class:`~dlkit.experiments.runs.RunError` naming it; then nothing is returned.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    plans = list(plans)
    runs, owner = distinct(plans)
    outputs, seconds = {}, {plan.experiment: 0.0 for plan in plans}
    with progress(len(runs), desc, unit="run") as bar:
        def done(run, out, took):
            outputs[run.key] = out
            seconds[owner[run.key]] += took
            bar.update(1)

        run_each(runs, data, jobs, done)
    results = {plan.experiment: plan.assemble([outputs[r.key] for r in plan.runs])
               for plan in plans}
    return results, seconds
