"""Helpers for writing hidden checks: validate what the student's code returned, compare it
with a reference, and keep "one mistake, one cost".

Everything here runs on the trusted side (the checks process).  A value that came back from
the worker is untrusted data: before comparing it with a reference, check that it is an array
of the expected shape (and finite) with :func:`array`, and fail with a message of the catalog
(grader/messages/<lang>.toml) saying what was expected and what was seen.

One mistake, one cost — the tools the checks use for it:

- :func:`requires`: a secondary check (float32, inputs not modified, ...) pays only when the
  main result it depends on is right; otherwise it says so ("Not scored: ...").
- :class:`BatchNormState` / :func:`batchnorm_state`: what a student's BatchNorm forward
  computed (xhat, mean, invstd), read back from its output, so that a backward or running
  average that is right *for that forward* is accepted and the forward's slip is charged once.
- :func:`kernel_values`: what a kernel that writes into given arrays computed, also when it
  wrote its results into new arrays (graded on the values; the buffers are a check of their own).
- :func:`matching`: the slips (each recomputed) that explain the student's numbers: a hint
  names one only when it matches, never from a guess.
- :func:`thresholds`: the task's thresholds and tolerances (grader/checks/thresholds.toml).

See docs/authors/writing-checks.md for a worked example.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.gradcheck import normwise_rel_error
from grader.scoring.catalog import Text, join, plain, say

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

THRESHOLDS_FILE = Path(__file__).resolve().with_name("thresholds.toml")

__all__ = ["BatchNormState", "Text", "array", "batchnorm_state", "close", "describe",
           "described", "digits", "grader_error", "join", "kernel_values", "matching",
           "normwise_rel_error", "plain", "requires", "say", "thresholds", "written"]


# ------------------------------------------------------------------ thresholds


@functools.cache
def _threshold_file(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def thresholds(task: str, path: Path = THRESHOLDS_FILE) -> dict[str, Any]:
    """``{name: value}`` of ``task``'s table in thresholds.toml (each entry there also says
    what it is and how it was calibrated)."""
    table = _threshold_file(path).get(task)
    if table is None:
        raise KeyError(f"{path}: no table [{task}]")
    return {name: entry["value"] for name, entry in table.items()}


# ------------------------------------------------------------------ describing values


def describe(value, lang: str = "en") -> str:
    """A short description of a value for feedback: type, shape, dtype, a few numbers."""
    if isinstance(value, np.ndarray):
        head = np.array2string(value.ravel()[:4], precision=4, separator=", ")
        return say("common.array", shape=value.shape, dtype=value.dtype, head=head).get(
            lang, "")
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'…' if len(text) > 80 else ''}"


def described(value) -> Callable[[str], str]:
    """:func:`describe` as a field of a message, in each language."""
    return lambda lang: describe(value, lang)


def digits(want: float, seen: float) -> tuple[str, str]:
    """Two numbers written with enough significant digits (at least 6) to tell them apart,
    so that feedback never reads "expected 1.57825, got 1.57825"."""
    for precision in range(6, 18):
        a, b = f"{want:.{precision}g}", f"{seen:.{precision}g}"
        if a != b:
            return a, b
    return a, b


def _text(what: Text | str) -> Text:
    return what if isinstance(what, Text) else plain(what)


# ------------------------------------------------------------------ comparing values


def array(feedback, value, *, what: Text | str, shape: tuple, finite: bool = True) -> np.ndarray:
    """``value`` as an ndarray of ``shape``, or fail the check naming ``what`` was wrong
    (``what``: a catalog Text, or plain code such as ``forward(x), x 16×10 float64``)."""
    what = _text(what)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        feedback.fail(say("common.not_an_array", what=what, shape=shape, got=described(value)))
    if value.shape != tuple(shape):
        feedback.fail(say("common.wrong_shape", what=what, shape=tuple(shape), got=value.shape))
    if finite and not np.all(np.isfinite(value)):
        feedback.fail(say("common.not_finite", what=what,
                          bad=int(np.sum(~np.isfinite(value)))))
    return value


def close(feedback, got, expected, *, what: Text | str, tol: float,
          hint: Text | None = None) -> None:
    """Fail unless normwise_rel_error(got, expected) <= tol (shapes checked first); the
    message shows the largest difference with enough digits to differ, then ``hint``."""
    what = _text(what)
    got = array(feedback, got, what=what, shape=np.shape(expected))
    err = normwise_rel_error(got, expected)
    if not err <= tol:
        i = np.unravel_index(np.argmax(np.abs(got - expected)), np.shape(expected))
        index = tuple(int(k) for k in i)
        want, seen = digits(float(np.asarray(expected)[i]), float(got[i]))
        where = say("common.at_index", index=index) if index else plain("")
        then = say("common.then", text=hint) if hint is not None else plain("")
        feedback.fail(say("common.not_close", what=what, tol=tol, err=err, where=where,
                          want=want, seen=seen, hint=then))


def grader_error(message: str):
    """Stop the whole checks process as a failure of the GRADER (not the student's).

    ``pytest.exit`` with return code 3: the runner sees a code other than 0/1, marks the
    assignment's status "grader" and ``dlkit-grade`` exits with status 3, so a missing
    dataset or a broken reference never turns silently into a score of 0.
    """
    import pytest

    pytest.exit(f"GRADER ERROR (not the student's fault): {message}", returncode=3)


def requires(feedback, main: Text, check, *args) -> None:
    """Run ``check(*args)``, the main result a secondary check depends on (``main`` names it);
    if it fails, the secondary check scores 0 and says so (a do-nothing submission must not
    earn the points of properties that only make sense for a working one)."""
    from grader.scoring.plugin import CheckFailed

    try:
        check(*args)
    except CheckFailed as exc:
        feedback.fail(say("common.not_scored", main=main, why=exc.texts))


def matching(got, candidates: Mapping[str, Callable[[], Any]], tol: float) -> list[str]:
    """The names of ``candidates`` (each a function recomputing what a suspected slip gives)
    whose result is within ``tol`` (normwise relative error) of ``got``: the evidence a hint
    needs.  A candidate that cannot be computed (non-finite, wrong shape) does not match."""
    found = []
    for name, compute in candidates.items():
        with np.errstate(all="ignore"):
            value = np.asarray(compute(), dtype=np.float64)
        if (value.shape == np.shape(got) and np.all(np.isfinite(value))
                and normwise_rel_error(got, value) <= tol):
            found.append(name)
    return found


# ------------------------------------------------------------------ one mistake, one cost


@dataclass(frozen=True)
class BatchNormState:
    """What a training-mode BatchNorm forward computed, per feature: xhat (N, D) and mean,
    invstd (D,) with xhat = (x − mean)·invstd."""

    xhat: np.ndarray
    mean: np.ndarray
    invstd: np.ndarray
    eps: float

    @property
    def var(self) -> np.ndarray:
        """The batch variance the forward used, if invstd = 1/√(var + eps)."""
        return 1.0 / self.invstd**2 - self.eps

    def backward(self, dout, gamma):
        """The book's backward at this state: (dx, dgamma, dbeta)."""
        N = dout.shape[0]
        dbeta = dout.sum(axis=0)
        dgamma = (dout * self.xhat).sum(axis=0)
        dx = gamma * self.invstd / N * (N * dout - dbeta - self.xhat * dgamma)
        return dx, dgamma, dbeta

    def dx_for(self, dout, gamma, dgamma, dbeta):
        """dx at this state for the given dgamma and dbeta (the student's own)."""
        N = dout.shape[0]
        return gamma * self.invstd / N * (N * dout - dbeta - self.xhat * dgamma)


def batchnorm_state(x, gamma, beta, out, expected, near: float,
                    eps: float = 1e-5) -> BatchNormState | None:
    """The state of a forward whose output ``out`` is within ``near`` of the reference
    ``expected`` and is gamma·xhat + beta with xhat affine in x per feature; else None.
    (A do-nothing layer is not within ``near``: it gets no state, and no credit.)"""
    x, out = x.astype(np.float64), np.asarray(out, dtype=np.float64)
    if (out.shape != x.shape or not np.all(np.isfinite(out))
            or normwise_rel_error(out, expected) > near):
        return None
    xhat = (out - beta) / gamma
    xc = x - x.mean(axis=0)
    invstd = np.sum(xc * xhat, axis=0) / np.sum(xc * xc, axis=0)  # least squares, per feature
    mean = x.mean(axis=0) - xhat.mean(axis=0) / invstd
    if np.any(invstd <= 0) or normwise_rel_error((x - mean) * invstd, xhat) > 1e-8:
        return None
    return BatchNormState(xhat, mean, invstd, eps)


def written(buffer) -> bool:
    """Whether a kernel wrote into an output array (the checks send them filled with NaN)."""
    return isinstance(buffer, np.ndarray) and not bool(np.all(np.isnan(buffer)))


def kernel_values(result, outputs, n_out: int) -> list:
    """What a kernel that writes into given arrays computed, per output: the array it wrote;
    for the first output (out, dx) the array it returned when it wrote nothing into the given
    one (results written into new arrays: graded on their values, the buffers' contract by a
    check of its own); None for another output it left unwritten while computing."""
    values = list(outputs)
    first_from_result = (not written(values[0]) and isinstance(result, np.ndarray)
                         and result.shape == np.shape(values[0]))
    if first_from_result:
        values[0] = result
    for k in range(1, n_out):
        if not written(values[k]) and (first_from_result or written(values[0])):
            values[k] = None
    return values
