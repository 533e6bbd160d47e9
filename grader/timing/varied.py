"""Timed runs that a submission cannot memoize or cut short: vary the input, prove the work.

A speed check times the student's steps (e.g. forward then backward) ``number`` times in one
request.  Called with the same arrays every time, a kernel that remembers its last input
(``if x is last_x: return out``) would look hundreds of times faster; and since student code
controls the worker, it could also answer "done" without doing the work.  So, for every
call ``i`` of a round:

1. before the call, one element of each varied input (say ``x[n, d]``) gets ``delta_i``
   added (position and delta chosen on the trusted side from a seed); after the call the
   element is put back, so every call sees the given inputs except that one element;
2. after the call a few *probe* entries of the outputs are read where that change shows:
   ``out[n, d]`` for an (N, D) output, ``invstd[d]`` for a (D,) one.

The probe values of a round travel in its "done" message, which is what stops the trusted
clock, so they cannot be computed after the clock stopped.  The trusted side replays the
same calls with dlkit's own code (:func:`run_round` on copies, the same function the worker
runs) and accepts the timing only if every probe agrees (:func:`mismatch`).  The reference
baseline is timed with the same scheme, so its cost (a few element reads and writes per
call, ~1–2 µs) is paid on both sides of the ratio.

This module is imported by the worker before student code runs and by the trusted side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

RESULT = -1  # probe a step's return value instead of one of its arguments


@dataclass(frozen=True)
class Vary:
    """What to vary and what to probe in a timed run.

    ``perturb``: ``(step, arg)`` — the ndarray argument ``arg`` of step ``step`` gets one
    element changed before each call.  ``probes``: ``(step, arg, follows)`` — read the
    argument ``arg`` (or the step's result, ``RESULT``) after each call, at the position of
    perturbation ``follows`` (an (N, D) output), or at its column (a (D,) output, ``ndim=1``).
    ``tol``: per probe, the largest relative error over the run,
    ``max|got − want| / max(|got| + |want|)`` (the measure of ``grader.checks.helpers.close``).
    ``seed``: of the positions and deltas (vary it between timed runs).
    """

    perturb: tuple[tuple[int, int], ...]
    probes: tuple[tuple[int, int, int, int], ...]  # (step, arg, follows, ndim)
    tol: tuple[float, ...]
    names: tuple[str, ...]  # of the probes, for feedback ("out", "dx", ...)
    seed: int = 0

    def plan(self, step_args, total: int) -> dict:
        """Positions and deltas of ``total`` calls (the wire form sent to the worker)."""
        rng = np.random.default_rng(self.seed)
        perturb, cols = [], []
        for step, arg in self.perturb:
            a = np.asarray(step_args[step][arg])
            at = np.stack([rng.integers(0, n, total) for n in a.shape], axis=1)
            scale = float(np.std(a)) or 1.0
            delta = scale * rng.uniform(1.0, 3.0, total) * rng.choice([-1.0, 1.0], total)
            perturb.append([step, arg, at, delta])
            cols.append(at[:, -1:])
        probes = [[step, arg, perturb[follows][2] if ndim > 1 else cols[follows]]
                  for step, arg, follows, ndim in self.probes]
        return {"perturb": perturb, "probes": probes}


def prepare(plan: dict) -> dict:
    """The plan as Python lists of index tuples and floats (fast to use call by call)."""
    return {"perturb": [(int(s), int(a), [tuple(r) for r in np.asarray(at).tolist()],
                         np.asarray(delta, dtype=np.float64).tolist())
                        for s, a, at, delta in plan["perturb"]],
            "probes": [(int(s), int(a), [tuple(r) for r in np.asarray(at).tolist()])
                       for s, a, at in plan["probes"]]}


def run_round(steps, prepared: dict, start: int, number: int):
    """Calls ``start .. start+number-1`` of the plan; returns (last results, probe values).
    The varied inputs are as given again afterwards (also if the steps modify them).

    ``steps``: ``[(fn, args, kwargs), ...]``.  The probe values are a float64 array of
    shape (number, len(probes)); a probe that cannot be read (not an array) is NaN.
    """
    perturb = [(steps[s][1][a], at, delta) for s, a, at, delta in prepared["perturb"]]
    probes: list[tuple[int, Any, Any, Any]] = [(s, steps[s][1][a] if a != RESULT else None, a, at)
              for s, a, at in prepared["probes"]]
    originals = [arr.copy() for arr, _at, _delta in perturb]
    recorded: list[float] = []
    record = recorded.append
    nan = math.nan
    results = None
    for i in range(start, start + number):
        saved = []
        for arr, at, delta in perturb:
            old = arr.item(at[i])  # a Python float: put back exactly after the call
            arr[at[i]] = old + delta[i]
            saved.append(old)
        results = [fn(*a, **k) for fn, a, k in steps]
        for (arr, at, _delta), old in zip(perturb, saved, strict=True):
            arr[at[i]] = old
        for s, src, a, at in probes:
            try:
                record((results[s] if a == RESULT else src).item(at[i]))
            except Exception:  # noqa: BLE001 - a result that is not an array
                record(nan)
    for (arr, _at, _delta), original in zip(perturb, originals, strict=True):
        arr[...] = original  # code that modifies its inputs must not carry that over
    values = np.array(recorded, dtype=np.float64).reshape(number, len(probes))
    return results, values


def mismatch(got, want, tol) -> tuple[int, float] | None:
    """The first probe whose relative error over the run exceeds its tolerance, with that
    error (``inf`` for a missing, misshapen or non-finite answer); None when all agree."""
    want = np.asarray(want, dtype=np.float64)
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return 0, math.inf
    if got.shape != want.shape:
        return 0, math.inf
    for p in range(want.shape[1]):
        g, w = got[:, p], want[:, p]
        if not np.all(np.isfinite(g)):
            return p, math.inf
        err = float(np.max(np.abs(g - w)) / max(1e-8, float(np.max(np.abs(g) + np.abs(w)))))
        if not err <= tol[p]:
            return p, err
    return None
