"""An experiment as a list of independent runs, and running them.

Every experiment module has a ``plan(...)`` function: it checks the data and the settings
(every error before any work starts) and returns a :class:`Plan`: the experiment's
:class:`Run` objects, one per seed and configuration, and how to put their outputs together
into the experiment's :class:`~dlkit.experiments.results.Result`. A run is a module-level
function and its keyword arguments (plain values)::

    out = run.fn(data, **run.kwargs)      # data = (x_train, t_train, x_test, t_test)

It builds its own network and random generator from its seed, so it gives the same numbers
bit for bit wherever it runs: in this process, in a worker process, in any order
(:func:`dlkit.experiments.parallel.execute` runs several plans on several cores). Two plans
that contain the same run (the same function and arguments) share one execution.

``run_plan(plan, data)`` is what each experiment function does in one process.
"""

from __future__ import annotations

import json
import reprlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from dlkit.experiments.results import Result, to_jsonable
from dlkit.experiments.training import one_blas_thread, progress

__all__ = ["Run", "Plan", "RunError", "distinct", "run_here", "run_plan"]


@dataclass(frozen=True)
class Run:
    """One independent computation: ``fn(data, **kwargs)`` returns a dict of plain data.

    ``experiment`` names the experiment it belongs to (for messages); ``work`` estimates its
    cost (multiply-adds) so that the longest runs start first.
    """

    experiment: str
    fn: Callable
    kwargs: dict
    work: float = 1.0

    @cached_property
    def key(self) -> str:
        """The run's identity: its function and arguments (two equal keys, one computation)."""
        text = json.dumps(to_jsonable(self.kwargs, "kwargs"), sort_keys=True)
        return f"{self.fn.__module__}.{self.fn.__qualname__}{text}"

    def describe(self) -> str:
        """The run as a reader would name it: experiment and arguments."""
        args = ", ".join(f"{k}={reprlib.repr(v)}" for k, v in self.kwargs.items())
        return f"{self.experiment} run {self.fn.__name__}({args})"

    def __call__(self, data) -> dict:
        return self.fn(data, **self.kwargs)


@dataclass(frozen=True)
class Plan:
    """An experiment's runs and ``assemble(outputs) -> Result`` (outputs in the runs' order)."""

    experiment: str
    runs: list
    assemble: Callable[[list], Result]


class RunError(RuntimeError):
    """A run failed: the message names the run (experiment and arguments; ``run`` is None if
    a worker failed before it started any) and holds its traceback. Nothing of the
    experiments is returned or written after it."""

    def __init__(self, run: Run | None, detail: str):
        what = "the runs" if run is None else run.describe()
        super().__init__(f"{what} failed:\n{detail.rstrip()}")
        self.run = run


def distinct(plans) -> tuple[list[Run], dict[str, str]]:
    """The distinct runs of ``plans`` (first occurrence wins) and key -> the experiment that
    owns it (its time is counted there)."""
    runs, owner = [], {}
    for plan in plans:
        for run in plan.runs:
            if run.key not in owner:
                owner[run.key] = plan.experiment
                runs.append(run)
    return runs, owner


def run_here(runs, data, done) -> None:
    """Run ``runs`` one after the other in this process (one BLAS thread);
    ``done(run, output, seconds)`` for each. Raises :class:`RunError` for the first that
    fails."""
    with one_blas_thread():
        for run in runs:
            start = time.perf_counter()
            try:
                out = run(data)
            except Exception as exc:
                raise RunError(run, traceback.format_exc()) from exc
            done(run, out, time.perf_counter() - start)


def run_plan(plan: Plan, data) -> Result:
    """``plan``'s Result, its runs done one after the other in this process."""
    runs, _ = distinct([plan])
    outputs = {}
    with progress(len(runs), plan.experiment, unit="run") as bar:
        def done(run, out, _seconds):
            outputs[run.key] = out
            bar.update(1)

        run_here(runs, data, done)
    return plan.assemble([outputs[r.key] for r in plan.runs])
