"""Hidden checks, assignment 4: Batch Normalization as Numba kernels.

Student API (a4_numba/kernels.py), the signatures of dlkit.kernels:
    batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd) -> out
    batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta) -> dx
Both write into the output arrays they are given (read back with return_args=True).  The
output arrays are sent filled with NaN, so an output that is never written shows.

One mistake, its own points: the correctness checks grade the values the kernels computed
(helpers.kernel_values: what they wrote, or what they returned when they wrote their results
into new arrays); writing into the given arrays and returning them are checks of their own.
A dx right for the student's own dgamma and dbeta is not charged again.  The float32 checks
compare with the student's own float64 kernels on the same numbers (they grade the dtype, not
the formulas again), and, like the calling contract and the batch of one, pay only when the
float64 results are right (within NEAR).

Threads: the float64 checks run the kernels on policy.KERNEL_THREADS Numba threads, each call
twice and RACE_SHAPE RACE_REPEATS times, and read the source for prange races
(grader.checks._races); every other check, and the timing, runs on one thread, so a race
costs the float64 check of its kernel only, whatever the machine's load.

Correctness is compared with dlkit.kernels run here, on the trusted side; speed with
dlkit.reference.BatchNormalization (the book's NumPy layer) forward + backward at (128, 100)
float64, timed in a clean worker (no student code) and the student's kernels in the
student's worker, in paired interleaved rounds on the trusted clock
(:func:`grader.timing.paired.paired_speedup`): the speed-up is the median of the pairs' ratios.
Thresholds: thresholds.toml [a4]; messages: grader/messages, keys ``a4.*``.
"""

from __future__ import annotations

import numpy as np

from grader.checks import _races
from grader.checks.helpers import (
    Text,
    array,
    close,
    described,
    join,
    kernel_values,
    normwise_rel_error,
    plain,
    say,
    thresholds,
    written,
)
from grader.sandbox import policy
from grader.sandbox.handle import StudentError
from grader.scoring import messages
from grader.timing import paired, varied

PATH = "a4_numba/kernels.py"
FWD = "a4_numba.kernels:batchnorm_forward_train"
BWD = "a4_numba.kernels:batchnorm_backward"
EPS = 1e-5
SHAPES = [(128, 100), (3, 5), (37, 13)]
T = thresholds("a4")
TOL = {np.float64: T["TOL64"], np.float32: T["TOL32"]}
TIMEOUT = 60  # the first call of each dtype compiles (seconds, on a busy machine)
NEAR = T["NEAR"]
RACE_SHAPE = tuple(T["RACE_SHAPE"])
RACE_REPEATS = T["RACE_REPEATS"]


def _inputs(rng, N, D, dtype):
    scale = rng.uniform(0.5, 3.0, D)
    x = (rng.standard_normal((N, D)) * scale + rng.uniform(-2, 2, D)).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, D).astype(dtype)
    beta = rng.uniform(-1.0, 1.0, D).astype(dtype)
    dout = rng.standard_normal((N, D)).astype(dtype)
    return x, gamma, beta, dout


def _reference_forward(x, gamma, beta):
    """(out, xhat, mean, invstd) from dlkit.kernels, in float64."""
    from dlkit import kernels

    x, gamma, beta = (a.astype(np.float64) for a in (x, gamma, beta))
    N, D = x.shape
    out, xhat = np.empty((N, D)), np.empty((N, D))
    mean, invstd = np.empty(D), np.empty(D)
    kernels.batchnorm_forward_train(x, gamma, beta, EPS, out, xhat, mean, invstd)
    return out, xhat, mean, invstd


def _reference_backward(dout, xhat, gamma, invstd):
    """(dx, dgamma, dbeta) from dlkit.kernels, in float64."""
    from dlkit import kernels

    dout, xhat, gamma, invstd = (a.astype(np.float64) for a in (dout, xhat, gamma, invstd))
    N, D = dout.shape
    dx, dgamma, dbeta = np.empty((N, D)), np.empty(D), np.empty(D)
    kernels.batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta)
    return dx, dgamma, dbeta


def _nan(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


def _forward_buffers(N, D, dtype):
    return _nan((N, D), dtype), _nan((N, D), dtype), _nan(D, dtype), _nan(D, dtype)


def _backward_buffers(N, D, dtype):
    return _nan((N, D), dtype), _nan(D, dtype), _nan(D, dtype)


FWD_NAMES = ("out", "xhat", "mean", "invstd")
BWD_NAMES = ("dx", "dgamma", "dbeta")


# The sums of a float64 kernel accumulated in float32 (np.zeros(D, np.float32)): its results
# are right to float32 precision only, and its (D,) sums are float32 numbers exactly (a
# genuine float64 sum is one with probability ~2⁻²⁹ per entry): that is the evidence.  One
# slip, a small cost: the float64 check passes with FLOAT32_SUMS_FRACTION of its points.
SUMS = {"mean", "dgamma", "dbeta"}


def _float32_sums(values, names) -> bool:
    """Whether the kernel's (D,) sums are all exactly float32 numbers (and there are some)."""
    sums = [v for v, name in zip(values, names, strict=True) if name in SUMS and v is not None]
    return bool(sums) and all(
        isinstance(v, np.ndarray) and v.dtype == np.float64 and np.all(np.isfinite(v))
        and np.array_equal(v.astype(np.float32).astype(np.float64), v) for v in sums)


def _check_outputs(feedback, values, expected, names, order, label: Text, tol, dtype,
                   extra: Text, own=None, returned=False, imprecise=None):
    """Compare what the kernel computed (helpers.kernel_values) with the reference, in
    ``order``: the order in which they depend on each other, so the first one reported is
    the cause.  ``own``: name -> an array also accepted (right for what the student's kernel
    computed elsewhere).  ``returned``: the first output is the array the kernel returned,
    not the given one: its dtype is that new array's, a part of the slip
    test_writes_into_the_given_arrays charges.  ``imprecise``: a list to which an output
    that is right to float32 precision only, with float32 sums, is added instead of failing
    (the float64 checks charge that once, as a fraction)."""
    float32_sums = imprecise is not None and _float32_sums(values, names)
    for name in order:
        k = names.index(name)
        if values[k] is None or expected[k] is None:
            continue
        what = say("a4.common.computed", label=label, name=name)
        got = array(feedback, values[k], what=what, shape=expected[k].shape)
        if got.dtype != dtype and not (returned and k == 0):
            feedback.fail(say("a4.common.dtype", what=what, dtype=np.dtype(dtype),
                              got=got.dtype))
        alternative = (own or {}).get(name)
        if (alternative is not None and normwise_rel_error(got, expected[k]) > tol
                and normwise_rel_error(got, alternative) <= tol):
            continue
        error = normwise_rel_error(got, expected[k])
        if float32_sums and tol < error <= T["FLOAT32_PRECISION"] and imprecise is not None:
            imprecise.append((name, error))
            continue
        close(feedback, got, expected[k], what=what, tol=tol,
              hint=say(f"a4.common.rule_{name}") + extra)


def _check_forward_result(feedback, result, args, expected, label, tol, dtype,
                          extra: Text | None = None, imprecise=None):
    """args = the 8 arguments after the call; expected = the reference (out, xhat, mean, invstd).
    Whether the value returned is the given out is test_returns_the_output_arrays's."""
    values = kernel_values(result, args[4:], len(FWD_NAMES))
    _check_outputs(feedback, values, expected, FWD_NAMES, ("mean", "invstd", "xhat", "out"),
                   label, tol, dtype, extra or plain(""), returned=not written(args[4]),
                   imprecise=imprecise)


def _check_backward_result(feedback, result, args, expected, label, tol, dtype,
                           extra: Text | None = None, imprecise=None):
    """args = the 7 arguments after the call; expected = the reference (dx, dgamma, dbeta).
    dx is also accepted when it is the formula at the student's own dgamma and dbeta (a
    wrong dgamma costs this check once, not twice)."""
    values = kernel_values(result, args[4:], len(BWD_NAMES))
    own = None
    dout, xhat, gamma, invstd = (np.asarray(a, dtype=np.float64) for a in args[:4])
    if all(isinstance(v, np.ndarray) and v.shape == gamma.shape and np.all(np.isfinite(v))
           for v in values[1:]):
        dgamma, dbeta = (v.astype(np.float64) for v in values[1:])
        N = dout.shape[0]
        own = {"dx": gamma * invstd / N * (N * dout - dbeta - xhat * dgamma)}
    _check_outputs(feedback, values, expected, BWD_NAMES, ("dbeta", "dgamma", "dx"), label, tol,
                   dtype, extra or plain(""), own, returned=not written(args[4]),
                   imprecise=imprecise)


def _near(result, outputs, expected) -> bool:
    """Everything the kernel computed within NEAR of the reference (a slip, not a missing
    kernel); the first output (out, dx) must be there."""
    values = kernel_values(result, outputs, len(expected))
    return values[0] is not None and all(
        v is None or (isinstance(v, np.ndarray) and v.shape == e.shape
                      and bool(np.all(np.isfinite(v))) and normwise_rel_error(v, e) <= NEAR)
        for v, e in zip(values, expected, strict=True))


def _run_forward(worker, x, gamma, beta):
    """(returned, (out, xhat, mean, invstd) after the call) of the student's forward kernel."""
    N, D = x.shape
    args = (x, gamma, beta, EPS, *_forward_buffers(N, D, x.dtype))
    result, after = worker.call(FWD, *args, timeout=TIMEOUT, return_args=True)
    return result, tuple(after[4:])


def _run_backward(worker, dout, xhat, gamma, invstd):
    """(returned, (dx, dgamma, dbeta) after the call) of the student's backward kernel."""
    N, D = dout.shape
    args = (dout, xhat, gamma, invstd, *_backward_buffers(N, D, dout.dtype))
    result, after = worker.call(BWD, *args, timeout=TIMEOUT, return_args=True)
    return result, tuple(after[4:])


def _not_scored(feedback, which, test):
    feedback.fail(say("a4.common.not_scored", near=NEAR, which=which, test=test))


def _require_near(worker, feedback, which):
    """Fail (0 points) unless the float64 ``which`` kernel ("forward", "backward") is near."""
    rng = np.random.default_rng(60)
    x, gamma, beta, dout = _inputs(rng, 16, 6, np.float64)
    if which == "forward":
        result, got = _run_forward(worker, x, gamma, beta)
        expected = _reference_forward(x, gamma, beta)
        name = "batchnorm_forward_train"
    else:
        _, xhat, _, invstd = _reference_forward(x, gamma, beta)
        result, got = _run_backward(worker, dout, xhat, gamma, invstd)
        expected = _reference_backward(dout, xhat, gamma, invstd)
        name = "batchnorm_backward"
    if not _near(result, got, expected):
        _not_scored(feedback, plain(name), which)


def _threads(worker, n):
    """Run the student's kernels on ``n`` Numba threads from now on: policy.KERNEL_THREADS in
    the float64 checks (where a race is graded, once), one in every other check, so that a
    race costs the float64 check of its kernel and no other check depends on the load."""
    worker.call("numba:set_num_threads", n, timeout=10)


def _repeated(worker, target, args, times):
    """``times`` calls of ``target`` with the same inputs (fresh NaN outputs each time):
    [(returned, the arguments after the call), ...]."""
    return [worker.call(target, *args, timeout=TIMEOUT, return_args=True) for _ in range(times)]


def _static_races(submission_files, kernel):
    """The prange races of ``kernel`` in the submitted source (grader.checks._races)."""
    source = submission_files.read_text(PATH)
    return _races.in_kernel(source, kernel) if source is not None else []


def _check_races(feedback, runs, names, label: Text, races):
    """Fail when calls with the same inputs gave results that differ by more than rounding
    (TOL64: a correct parallel reduction may sum in another order; a lost update is far
    more), seen with policy.KERNEL_THREADS threads, or when the source has a prange loop with
    a race (``races``: found every time, whatever the machine's load let threads do)."""
    result, after = runs[0]
    first = kernel_values(result, after[-len(names):], len(names))
    differ, where = 0, plain("")
    for result, after in runs[1:]:
        values = kernel_values(result, after[-len(names):], len(names))
        changed = [name for name, a, b in zip(names, first, values, strict=True)
                   if not (a is None and b is None) and not (
                       isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                       and a.shape == b.shape and (np.array_equal(a, b, equal_nan=True) or (
                           np.all(np.isfinite(a)) and np.all(np.isfinite(b))
                           and normwise_rel_error(a, b) <= TOL[np.float64])))]
        if changed:
            differ += 1
            k = names.index(changed[0])
            a, b = first[k], values[k]
            if not where.en:
                where = (say("a4.common.differs_by", name=changed[0], gap=float(
                    np.nanmax(np.abs(a.astype(np.float64) - b))))
                    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                    and a.shape == b.shape else plain(changed[0]))
    lines = join([say("a4.common.race_line", line=r.line, text=r.text) for r in races])
    if differ:
        in_source = say("a4.common.race_in_source", lines=lines) if races else plain("")
        feedback.fail(say("a4.common.differs_run_to_run", label=label, differ=differ,
                          repeats=len(runs) - 1, where=where, threads=policy.KERNEL_THREADS,
                          in_source=in_source, explained=say("a4.common.race_explained")))
    if races:
        feedback.fail(say("a4.common.race_in_code", label=label, lines=lines, calls=len(runs),
                          threads=policy.KERNEL_THREADS,
                          explained=say("a4.common.race_explained")))


def _charge_float32_sums(feedback, kernel, imprecise):
    """The float64 check of a kernel whose sums are float32: FLOAT32_SUMS_FRACTION of its
    points, and what was measured."""
    if imprecise:
        worst = max(error for _, error in imprecise)
        names = ", ".join(sorted({name for name, _ in imprecise}))
        feedback.partial(T["FLOAT32_SUMS_FRACTION"], say(
            "a4.common.float32_sums", kernel=kernel, names=names, error=worst,
            percent=100 * T["FLOAT32_SUMS_FRACTION"]))


def test_forward_float64(worker, feedback, submission_files):
    """The forward's results, each shape called twice and RACE_SHAPE RACE_REPEATS times (with
    several threads): the same inputs must give the same results every time."""
    _threads(worker, policy.KERNEL_THREADS)
    races = _static_races(submission_files, "batchnorm_forward_train")
    imprecise: list = []
    rng = np.random.default_rng(61)
    for (N, D), times in [*((shape, 2) for shape in SHAPES), (RACE_SHAPE, RACE_REPEATS)]:
        x, gamma, beta, _ = _inputs(rng, N, D, np.float64)
        args = (x, gamma, beta, EPS, *_forward_buffers(N, D, np.float64))
        label = plain(f"batchnorm_forward_train, x {N}×{D} float64")
        runs = _repeated(worker, FWD, args, times)
        _check_races(feedback, runs, FWD_NAMES, label, [] if (N, D) != RACE_SHAPE else races)
        result, after = runs[0]
        _check_forward_result(feedback, result, after, _reference_forward(x, gamma, beta),
                              label, TOL[np.float64], np.float64, imprecise=imprecise)
    _charge_float32_sums(feedback, "batchnorm_forward_train", imprecise)


def test_backward_float64(worker, feedback, submission_files):
    """The backward's results, with repetitions and races as test_forward_float64's."""
    _threads(worker, policy.KERNEL_THREADS)
    races = _static_races(submission_files, "batchnorm_backward")
    imprecise: list = []
    rng = np.random.default_rng(63)
    for (N, D), times in [*((shape, 2) for shape in SHAPES), (RACE_SHAPE, RACE_REPEATS)]:
        x, gamma, beta, dout = _inputs(rng, N, D, np.float64)
        _, xhat, _, invstd = _reference_forward(x, gamma, beta)
        args = (dout, xhat, gamma, invstd, *_backward_buffers(N, D, np.float64))
        label = plain(f"batchnorm_backward, dout {N}×{D} float64")
        runs = _repeated(worker, BWD, args, times)
        _check_races(feedback, runs, BWD_NAMES, label, [] if (N, D) != RACE_SHAPE else races)
        result, after = runs[0]
        _check_backward_result(feedback, result, after,
                               _reference_backward(dout, xhat, gamma, invstd), label,
                               TOL[np.float64], np.float64, imprecise=imprecise)
    _charge_float32_sums(feedback, "batchnorm_backward", imprecise)


def test_forward_float32(worker, feedback):
    """float32 arrays: the numbers of your float64 kernel, to float32 precision."""
    _threads(worker, 1)
    _require_near(worker, feedback, "forward")
    rng = np.random.default_rng(62)
    for N, D in SHAPES:
        x, gamma, beta, _ = _inputs(rng, N, D, np.float32)
        args = (x, gamma, beta, EPS, *_forward_buffers(N, D, np.float32))
        result, after = worker.call(FWD, *args, timeout=TIMEOUT, return_args=True)
        yours64 = kernel_values(*_run_forward(worker, *(a.astype(np.float64)
                                                        for a in (x, gamma, beta))),
                                len(FWD_NAMES))
        _check_forward_result(feedback, result, after, yours64,
                              plain(f"batchnorm_forward_train, x {N}×{D} float32"),
                              TOL[np.float32], np.float32, say("a4.common.against_64"))


def test_backward_float32(worker, feedback):
    """float32 arrays: the numbers of your float64 kernel, to float32 precision."""
    _threads(worker, 1)
    _require_near(worker, feedback, "backward")
    rng = np.random.default_rng(64)
    for N, D in SHAPES:
        x, gamma, beta, dout = _inputs(rng, N, D, np.float32)
        _, xhat, _, invstd = _reference_forward(x, gamma, beta)
        xhat, invstd = xhat.astype(np.float32), invstd.astype(np.float32)
        args = (dout, xhat, gamma, invstd, *_backward_buffers(N, D, np.float32))
        result, after = worker.call(BWD, *args, timeout=TIMEOUT, return_args=True)
        yours64 = kernel_values(*_run_backward(worker, *(a.astype(np.float64)
                                                         for a in (dout, xhat, gamma, invstd))),
                                len(BWD_NAMES))
        _check_backward_result(feedback, result, after, yours64,
                               plain(f"batchnorm_backward, dout {N}×{D} float32"),
                               TOL[np.float32], np.float32, say("a4.common.against_64"))


def _both_kernels(worker, seed, N, D):
    """[(kernel, output names, returned, outputs after the call, the reference's), ...] for
    both kernels on one N×D float64 input (a shape no other check uses)."""
    x, gamma, beta, dout = _inputs(np.random.default_rng(seed), N, D, np.float64)
    expected = _reference_forward(x, gamma, beta)
    _, xhat, _, invstd = expected
    return [("batchnorm_forward_train", FWD_NAMES, *_run_forward(worker, x, gamma, beta),
             expected),
            ("batchnorm_backward", BWD_NAMES, *_run_backward(worker, dout, xhat, gamma, invstd),
             _reference_backward(dout, xhat, gamma, invstd))]


def _graded_kernels(feedback, kernels):
    """The kernels of :func:`_both_kernels` whose results are near; none: 0 points."""
    graded = [k for k in kernels if _near(k[2], k[3], k[4])]
    if not graded:
        _not_scored(feedback, say("a4.common.neither_kernel"), "forward")
    return graded


def test_returns_the_output_arrays(worker, feedback):
    """batchnorm_forward_train returns out, batchnorm_backward returns dx (the calling
    contract of dlkit.kernels): 1 point, graded for the kernels whose outputs are right (a
    wrong kernel loses its own checks, not this one too).  A kernel that wrote its results
    into new arrays and returns them is test_writes_into_the_given_arrays's."""
    _threads(worker, 1)
    kernels = _graded_kernels(feedback, _both_kernels(worker, 66, 32, 8))
    for kernel, names, got, outputs, _ in kernels:
        name, first = names[0], outputs[0]
        if not written(first):
            continue
        if not (isinstance(got, np.ndarray) and got.shape == first.shape
                and np.array_equal(got, first, equal_nan=True)):
            feedback.fail(say("a4.test_returns_the_output_arrays.not_returned", kernel=kernel,
                              name=name, got=described(got)))


def test_writes_into_the_given_arrays(worker, feedback):
    """Both kernels write every result into the arrays they are given (out, xhat, mean,
    invstd; dx, dgamma, dbeta): that is where dlkit's layer reads them.  Graded for the
    kernels whose results are right, so a kernel that computes the right numbers into new
    arrays loses this check only (its values are graded by the float64 checks)."""
    _threads(worker, 1)
    kernels = _graded_kernels(feedback, _both_kernels(worker, 68, 24, 6))
    for kernel, names, _, outputs, _ in kernels:
        unwritten = [name for name, o in zip(names, outputs, strict=True) if not written(o)]
        if unwritten:
            feedback.fail(say("a4.test_writes_into_the_given_arrays.unwritten", kernel=kernel,
                              listed=", ".join(unwritten), first=unwritten[0]))


def test_batch_of_one_rejected(worker, feedback):
    """A batch of one sample raises ValueError (its variance is 0: xhat would be 0)."""
    _threads(worker, 1)
    _require_near(worker, feedback, "forward")
    x, gamma, beta, _ = _inputs(np.random.default_rng(67), 1, 5, np.float64)
    try:
        got, _ = _run_forward(worker, x, gamma, beta)
    except StudentError as exc:
        if exc.type_name == "ValueError":
            return
        raise
    feedback.fail(say("a4.test_batch_of_one_rejected.accepted", got=described(got)))


# ------------------------------------------------------------------ speed

SPEED_SHAPE = (128, 100)
# Points in steps of the measured speed-up over the NumPy reference (forward + backward):
# (at least this speed-up, fraction of the points): thresholds.toml [a4] SPEED_STEPS.
SPEED_STEPS = tuple((float(least), float(fraction)) for least, fraction in T["SPEED_STEPS"])
PAIRS, ROUND_SECONDS, SPEED_GATE = (T[k] for k in ("PAIRS", "ROUND_SECONDS", "SPEED_GATE"))
# Memoizing or faking the timed run (grader.timing.varied): every timed call gets one element of x
# and of dout changed (and put back after the call); the out, invstd, dx and dgamma entries
# that change shows in travel with each round's "done" and must match dlkit's kernels
# replayed here within SPEED_GATE.  The reference is timed the same way (its out and dx).
PERTURB = ((0, 0), (1, 0))
REFERENCE_VARY = dict(perturb=PERTURB,
                      probes=((0, varied.RESULT, 0, 2), (1, varied.RESULT, 1, 2)),
                      tol=(1e-9, 1e-9), names=("out", "dx"))


def speed_fraction(speedup: float) -> float:
    """The fraction of the speed points for a measured speed-up (SPEED_STEPS)."""
    return next((fraction for least, fraction in SPEED_STEPS if speedup >= least), 0.0)


def _student_vary(forward, backward) -> varied.Vary:
    """The probes of the student's timed run: in the arrays the kernels write (out, invstd,
    dx, dgamma), or, for a kernel that leaves the given arrays unwritten (its results in new
    arrays, a slip test_writes_into_the_given_arrays charges), in what it returns (out, dx)
    as for the reference: its speed is graded as for any other kernel."""
    probes, names = [], []
    for step, (_, after), outputs in ((0, forward, ((4, "out"), (7, "invstd"))),
                                      (1, backward, ((4, "dx"), (5, "dgamma")))):
        (first, first_name), (second, second_name) = outputs
        if written(after[first]):
            probes.append((step, first, step, 2))
            names.append(first_name)
            if written(after[second]):
                probes.append((step, second, step, 1))
                names.append(second_name)
        else:
            probes.append((step, varied.RESULT, step, 2))
            names.append(first_name)
    return varied.Vary(perturb=PERTURB, probes=tuple(probes),
                       tol=(SPEED_GATE,) * len(probes), names=tuple(names), seed=200)


def test_speed(worker, reference_timer, feedback):
    """Speed-up of forward + backward over the NumPy reference, in steps (SPEED_STEPS).

    Only for kernels that are correct: their results on the timed input, outside and inside
    the timing, are checked as well.
    """
    _threads(worker, 1)
    N, D = SPEED_SHAPE
    rng = np.random.default_rng(65)
    x, gamma, beta, dout = _inputs(rng, N, D, np.float64)
    out, xhat, mean, invstd = _reference_forward(x, gamma, beta)
    expected_bwd = _reference_backward(dout, xhat, gamma, invstd)

    # The kernels' results on this input, outside the timing: kernels that do not compute
    # the batch normalization get no speed points, and are told so before anything is timed.
    fwd_args = (x, gamma, beta, EPS, *_forward_buffers(N, D, np.float64))
    bwd_args = (dout, xhat, gamma, invstd, *_backward_buffers(N, D, np.float64))
    untimed = [worker.call(target, *args, timeout=TIMEOUT, return_args=True)
               for target, args in ((FWD, fwd_args), (BWD, bwd_args))]
    gate = say("a4.test_speed.gate")
    _check_forward_result(feedback, *untimed[0], (out, xhat, mean, invstd),
                          plain(f"batchnorm_forward_train, {N}×{D} float64"), SPEED_GATE,
                          np.float64, gate)
    _check_backward_result(feedback, *untimed[1], expected_bwd,
                           plain(f"batchnorm_backward, {N}×{D} float64"), SPEED_GATE,
                           np.float64, gate)

    student_steps = [(FWD, fwd_args, {}), (BWD, bwd_args, {})]
    ref = reference_timer.create("dlkit.reference:BatchNormalization", gamma, beta, eps=EPS,
                                 timeout=30)
    ref_steps = [(ref.method("forward"), (x,), {"train_flg": True}),
                 (ref.method("backward"), (dout,), {})]

    from dlkit import kernels, layers

    ref_replay = layers.BatchNormalization(gamma.copy(), beta.copy(), eps=EPS)
    try:
        speed, results = paired.paired_speedup(
            paired.Timed(worker, student_steps, _student_vary(*untimed),
                         [kernels.batchnorm_forward_train, kernels.batchnorm_backward]),
            paired.Timed(reference_timer, ref_steps, varied.Vary(**REFERENCE_VARY, seed=100),
                         [ref_replay.forward, ref_replay.backward]),
            pairs=PAIRS, round_seconds=ROUND_SECONDS, timeout=TIMEOUT)
    except paired.TimedRunMismatch as exc:
        feedback.fail(messages.timed_run_mismatch(exc.name, exc.error, exc.tol))
    (fwd_result, fwd_after), (bwd_result, bwd_after) = results
    # The timed run must compute batch normalization too: every output within SPEED_GATE of
    # the reference (exactness is what the other checks grade).
    _check_forward_result(feedback, fwd_result, fwd_after, (out, xhat, mean, invstd),
                          say("a4.test_speed.timed", kernel="batchnorm_forward_train", N=N, D=D),
                          SPEED_GATE, np.float64, gate)
    _check_backward_result(feedback, bwd_result, bwd_after, expected_bwd,
                           say("a4.test_speed.timed", kernel="batchnorm_backward", N=N, D=D),
                           SPEED_GATE, np.float64, gate)

    fraction = speed_fraction(speed.median)
    numbers = say("a4.test_speed.numbers", N=N, D=D, yours=1e6 * speed.student_seconds,
                  reference=1e6 * speed.reference_seconds, speedup=speed.median,
                  pairs=speed.pairs, spread=speed.spread())
    if fraction >= 1.0:
        feedback.partial(1.0, say("a4.test_speed.full", numbers=numbers,
                                  least=SPEED_STEPS[0][0]))
    else:
        steps = join([say("a4.test_speed.step", percent=100 * f, least=s)
                      for s, f in SPEED_STEPS])
        feedback.partial(fraction, say("a4.test_speed.partial", numbers=numbers,
                                       percent=100 * fraction, steps=steps))
