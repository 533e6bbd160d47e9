"""Hidden checks, assignment 4: Batch Normalization as Numba kernels.

Student API (a4_numba/kernels.py), the signatures of dlkit.kernels:
    batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd) -> out
    batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta) -> dx
Both write into the output arrays they are given (read back with return_args=True).  The
output arrays are sent filled with NaN, so an output that is never written shows.

One mistake, its own points: the correctness checks grade what is written into the output
arrays; returning them is a check of its own (a forgotten ``return out`` costs its 1 point,
not the task).  The float32 checks compare with the student's own float64 kernels on the same
numbers (they grade the dtype, not the formulas again), and, like the return values and the
batch of one, pay only when the float64 results are right (within NEAR).

Correctness is compared with dlkit.kernels run here, on the trusted side; speed with
dlkit.reference.BatchNormalization (the book's NumPy layer) forward + backward at (128, 100)
float64, timed in a clean worker (no student code) and the student's kernels in the
student's worker, in paired interleaved rounds on the trusted clock
(:func:`grader.timing.paired.paired_speedup`): the speed-up is the median of the pairs' ratios.
"""

from __future__ import annotations

import numpy as np

from dlkit.gradcheck import normwise_rel_error
from grader.checks._expect import array, close, describe
from grader.sandbox.handle import StudentError
from grader.scoring import messages
from grader.timing import paired, varied

FWD = "a4_numba.kernels:batchnorm_forward_train"
BWD = "a4_numba.kernels:batchnorm_backward"
EPS = 1e-5
SHAPES = [(128, 100), (3, 5), (37, 13)]
# float64: different summation orders differ by ~1e-15; 1e-10 catches every real mistake.
# float32: compared with the float64 answer for the same (float32) inputs; a float32 kernel
# that also sums in float32 is off by ~1e-6 at N = 128, so 1e-4 accepts it with margin.
TOL = {np.float64: 1e-10, np.float32: 1e-4}
TIMEOUT = 60  # the first call of each dtype compiles (seconds, on a busy machine)
# The secondary checks pay for kernels whose float64 outputs are all within NEAR (relative
# error) of the reference: a slip such as the unbiased variance (≤ 0.1, see test_a2.NEAR), not
# a kernel that writes nothing or a formula far off (invstd without its square root:
# 0.22 – 0.25, tests/grader_cases/buggy/a4_wrong_invstd).
NEAR = 0.15


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
_FWD_HINT = {
    "mean": ("mean = 1/N · Σ_n x_n, per feature.", "mean = 1/N · Σ_n x_n（特徴ごと）。"),
    "invstd": ("invstd = 1/√(var + eps) with the biased variance var = 1/N · Σ_n (x_n − mean)².",
               "invstd = 1/√(var + eps)、分散は var = 1/N · Σ_n (x_n − mean)²（1/N）。"),
    "xhat": ("xhat = (x − mean) · invstd.", "xhat = (x − mean) · invstd。"),
    "out": ("out = gamma · xhat + beta.", "out = gamma · xhat + beta。"),
}
_BWD_HINT = {
    "dbeta": ("dbeta = Σ_n dout.", "dbeta = Σ_n dout。"),
    "dgamma": ("dgamma = Σ_n dout · xhat.", "dgamma = Σ_n dout · xhat。"),
    "dx": ("dx = gamma · invstd / N · (N · dout − dbeta − xhat · dgamma).",
           "dx = gamma · invstd / N · (N · dout − dbeta − xhat · dgamma)。"),
}


def _check_outputs(feedback, args, expected, names, order, label, tol, dtype, hints, extra):
    """Compare the output arguments (after the call) with the reference, in ``order``: the
    order in which they depend on each other, so the first one reported is the cause.
    ``label``: one text for both languages, or an (English, Japanese) pair."""
    label_en, label_ja = label if isinstance(label, tuple) else (label, label)
    first = len(args) - len(names)
    for name in order:
        k = names.index(name)
        what = f"{label_en}: {name} (written into the array passed as {name})"
        what_ja = f"{label_ja}: {name}（引数 {name} として渡した配列に書き込まれた値）"
        got = array(feedback, args[first + k], what=what, what_ja=what_ja,
                    shape=expected[k].shape)
        if got.dtype != dtype:
            feedback.fail(
                en=f"{what}: expected dtype {np.dtype(dtype)}, got {got.dtype}.",
                ja=f"{what_ja}: dtype {np.dtype(dtype)} を期待しましたが、{got.dtype} でした。",
            )
        close(feedback, got, expected[k], what=what, what_ja=what_ja, tol=tol,
              hint_en=hints[name][0] + extra[0], hint_ja=hints[name][1] + extra[1])


def _check_forward_result(feedback, result, args, expected, label, tol, dtype, extra=("", "")):
    """args = the 8 arguments after the call; expected = the reference (out, xhat, mean, invstd).
    The value returned is graded by test_returns_the_output_arrays, not here."""
    _check_outputs(feedback, args, expected, FWD_NAMES, ("mean", "invstd", "xhat", "out"), label,
                   tol, dtype, _FWD_HINT, extra)


def _check_backward_result(feedback, result, args, expected, label, tol, dtype, extra=("", "")):
    """args = the 7 arguments after the call; expected = the reference (dx, dgamma, dbeta)."""
    _check_outputs(feedback, args, expected, BWD_NAMES, ("dbeta", "dgamma", "dx"), label, tol,
                   dtype, _BWD_HINT, extra)


def _near(outputs, expected) -> bool:
    """Every output array within NEAR of the reference (a slip, not a missing kernel)."""
    return all(isinstance(o, np.ndarray) and o.shape == e.shape and bool(np.all(np.isfinite(o)))
               and normwise_rel_error(o, e) <= NEAR for o, e in zip(outputs, expected, strict=True))


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


_NOT_SCORED = (
    "Not scored: this check pays only when your float64 kernels write (nearly: within relative "
    "error {near:g}) the right numbers, and {which} does not: see test_{test}_float64.",
    "採点対象外: この検査は float64 のカーネルが（相対誤差 {near:g} 以内で）正しい値を書き込む"
    "場合にだけ得点になりますが、{which} はそうなっていません。test_{test}_float64 を見て"
    "ください。",
)


def _require_near(worker, feedback, which):
    """Fail (0 points) unless the float64 ``which`` kernel ("forward", "backward") is near."""
    rng = np.random.default_rng(60)
    x, gamma, beta, dout = _inputs(rng, 16, 6, np.float64)
    if which == "forward":
        _, got = _run_forward(worker, x, gamma, beta)
        expected = _reference_forward(x, gamma, beta)
        name = "batchnorm_forward_train"
    else:
        _, xhat, _, invstd = _reference_forward(x, gamma, beta)
        _, got = _run_backward(worker, dout, xhat, gamma, invstd)
        expected = _reference_backward(dout, xhat, gamma, invstd)
        name = "batchnorm_backward"
    if not _near(got, expected):
        feedback.fail(en=_NOT_SCORED[0].format(near=NEAR, which=name, test=which),
                      ja=_NOT_SCORED[1].format(near=NEAR, which=name, test=which))


def test_forward_float64(worker, feedback):
    rng = np.random.default_rng(61)
    for N, D in SHAPES:
        x, gamma, beta, _ = _inputs(rng, N, D, np.float64)
        args = (x, gamma, beta, EPS, *_forward_buffers(N, D, np.float64))
        result, after = worker.call(FWD, *args, timeout=TIMEOUT, return_args=True)
        _check_forward_result(feedback, result, after, _reference_forward(x, gamma, beta),
                              f"batchnorm_forward_train, x {N}×{D} float64", TOL[np.float64],
                              np.float64)


def test_backward_float64(worker, feedback):
    rng = np.random.default_rng(63)
    for N, D in SHAPES:
        x, gamma, beta, dout = _inputs(rng, N, D, np.float64)
        _, xhat, _, invstd = _reference_forward(x, gamma, beta)
        args = (dout, xhat, gamma, invstd, *_backward_buffers(N, D, np.float64))
        result, after = worker.call(BWD, *args, timeout=TIMEOUT, return_args=True)
        _check_backward_result(feedback, result, after,
                               _reference_backward(dout, xhat, gamma, invstd),
                               f"batchnorm_backward, dout {N}×{D} float64", TOL[np.float64],
                               np.float64)


_AGAINST_64 = (" (compared with your float64 kernel on the same numbers)",
               "（同じ値でのあなたの float64 カーネルの結果との比較）")


def test_forward_float32(worker, feedback):
    """float32 arrays: the numbers of your float64 kernel, to float32 precision."""
    _require_near(worker, feedback, "forward")
    rng = np.random.default_rng(62)
    for N, D in SHAPES:
        x, gamma, beta, _ = _inputs(rng, N, D, np.float32)
        args = (x, gamma, beta, EPS, *_forward_buffers(N, D, np.float32))
        result, after = worker.call(FWD, *args, timeout=TIMEOUT, return_args=True)
        _, yours64 = _run_forward(worker, *(a.astype(np.float64) for a in (x, gamma, beta)))
        _check_forward_result(feedback, result, after, yours64,
                              f"batchnorm_forward_train, x {N}×{D} float32", TOL[np.float32],
                              np.float32, _AGAINST_64)


def test_backward_float32(worker, feedback):
    """float32 arrays: the numbers of your float64 kernel, to float32 precision."""
    _require_near(worker, feedback, "backward")
    rng = np.random.default_rng(64)
    for N, D in SHAPES:
        x, gamma, beta, dout = _inputs(rng, N, D, np.float32)
        _, xhat, _, invstd = _reference_forward(x, gamma, beta)
        xhat, invstd = xhat.astype(np.float32), invstd.astype(np.float32)
        args = (dout, xhat, gamma, invstd, *_backward_buffers(N, D, np.float32))
        result, after = worker.call(BWD, *args, timeout=TIMEOUT, return_args=True)
        _, yours64 = _run_backward(worker, *(a.astype(np.float64)
                                             for a in (dout, xhat, gamma, invstd)))
        _check_backward_result(feedback, result, after, yours64,
                               f"batchnorm_backward, dout {N}×{D} float32", TOL[np.float32],
                               np.float32, _AGAINST_64)


def test_returns_the_output_arrays(worker, feedback):
    """batchnorm_forward_train returns out, batchnorm_backward returns dx (the calling
    contract of dlkit.kernels): 1 point, graded for the kernels whose outputs are right (a
    wrong kernel loses its own checks, not this one too)."""
    rng = np.random.default_rng(66)
    x, gamma, beta, dout = _inputs(rng, 32, 8, np.float64)
    result, written = _run_forward(worker, x, gamma, beta)
    expected = _reference_forward(x, gamma, beta)
    _, xhat, _, invstd = expected
    dx_result, dx_written = _run_backward(worker, dout, xhat, gamma, invstd)
    graded = [(kernel, name, got, outputs[0])
              for kernel, name, got, outputs, right in (
                  ("batchnorm_forward_train", "out", result, written, expected),
                  ("batchnorm_backward", "dx", dx_result, dx_written,
                   _reference_backward(dout, xhat, gamma, invstd)))
              if _near(outputs, right)]
    if not graded:
        feedback.fail(en=_NOT_SCORED[0].format(near=NEAR, which="neither kernel",
                                               test="forward"),
                      ja=_NOT_SCORED[1].format(near=NEAR, which="どちらのカーネル",
                                               test="forward"))
    for kernel, name, got, written in graded:
        if not (isinstance(got, np.ndarray) and got.shape == written.shape
                and np.array_equal(got, written, equal_nan=True)):
            feedback.fail(
                en=(f"{kernel}: expected it to return {name}, the array it wrote, got "
                    f"{describe(got)}. Your arrays are right: this costs only this check's "
                    f"point. Add `return {name}` at the end."),
                ja=(f"{kernel}: 書き込んだ配列 {name} を返すことを期待しましたが、"
                    f"{describe(got, 'ja')} が返されました。配列の値は正しいので、減点はこの検査の "
                    f"1 点だけです。最後に `return {name}` を書いてください。"))


def test_batch_of_one_rejected(worker, feedback):
    """A batch of one sample raises ValueError (its variance is 0: xhat would be 0)."""
    _require_near(worker, feedback, "forward")
    x, gamma, beta, _ = _inputs(np.random.default_rng(67), 1, 5, np.float64)
    try:
        got, _ = _run_forward(worker, x, gamma, beta)
    except StudentError as exc:
        if exc.type_name == "ValueError":
            return
        raise
    feedback.fail(
        en=(f"batchnorm_forward_train with x of shape (1, 5): expected ValueError (one sample "
            f"has no batch statistics), got {describe(got)}."),
        ja=(f"形状 (1, 5) の x での batchnorm_forward_train: ValueError を期待しましたが"
            f"（1 サンプルではバッチの統計量がありません）、{describe(got, 'ja')} が"
            f"返されました。"))


# ------------------------------------------------------------------ speed

SPEED_SHAPE = (128, 100)
# Points in steps of the measured speed-up over the NumPy reference (forward + backward):
# (at least this speed-up, fraction of the points).  Steps, not a line: a speed-up that
# moves by a few percent between regrades (load on a shared machine) changes the score only
# where it crosses a step, and a kernel written as the handout asks (one Numba pass per
# loop, no temporaries) sits far above the top step: the solution ≈ 7×, a plain two-pass
# Numba kernel ≈ 7×, the same loops without @njit ≈ 0.01× (buggy/a4_python_loops).
SPEED_STEPS = ((3.0, 1.0), (2.0, 2 / 3), (1.5, 1 / 3))
PAIRS = 15            # paired rounds (grader.timing.paired.paired_speedup)
ROUND_SECONDS = 0.02  # per round and side: the request's round trip is < 1 % of it
SPEED_GATE = 1e-2
# Memoizing or faking the timed run (grader.timing.varied): every timed call gets one element of x
# and of dout changed (and put back after the call); the out, invstd, dx and dgamma entries
# that change shows in travel with each round's "done" and must match dlkit's kernels
# replayed here within SPEED_GATE.  The reference is timed the same way (its out and dx).
STUDENT_VARY = dict(perturb=((0, 0), (1, 0)),
                    probes=((0, 4, 0, 2), (0, 7, 0, 1), (1, 4, 1, 2), (1, 5, 1, 1)),
                    tol=(SPEED_GATE,) * 4, names=("out", "invstd", "dx", "dgamma"))
REFERENCE_VARY = dict(perturb=((0, 0), (1, 0)),
                      probes=((0, varied.RESULT, 0, 2), (1, varied.RESULT, 1, 2)),
                      tol=(1e-9, 1e-9), names=("out", "dx"))
_SPEED_GATE_HINT = (
    " Speed points are only given to kernels that compute the batch normalization (within 1 %).",
    "速度の得点は、バッチ正規化を（1 % 以内で）計算しているカーネルにだけ与えます。",
)


def speed_fraction(speedup: float) -> float:
    """The fraction of the speed points for a measured speed-up (SPEED_STEPS)."""
    return next((fraction for least, fraction in SPEED_STEPS if speedup >= least), 0.0)


def test_speed(worker, reference_timer, feedback):
    """Speed-up of forward + backward over the NumPy reference, in steps (SPEED_STEPS).

    Only for kernels that are correct: the timed run's outputs are checked as well.
    """
    N, D = SPEED_SHAPE
    rng = np.random.default_rng(65)
    x, gamma, beta, dout = _inputs(rng, N, D, np.float64)
    out, xhat, mean, invstd = _reference_forward(x, gamma, beta)
    expected_bwd = _reference_backward(dout, xhat, gamma, invstd)

    student_steps = [
        (FWD, (x, gamma, beta, EPS, *_forward_buffers(N, D, np.float64)), {}),
        (BWD, (dout, xhat, gamma, invstd, *_backward_buffers(N, D, np.float64)), {}),
    ]
    ref = reference_timer.create("dlkit.reference:BatchNormalization", gamma, beta, eps=EPS,
                                 timeout=30)
    ref_steps = [(ref.method("forward"), (x,), {"train_flg": True}),
                 (ref.method("backward"), (dout,), {})]

    from dlkit import kernels, layers

    ref_replay = layers.BatchNormalization(gamma.copy(), beta.copy(), eps=EPS)
    try:
        speed, results = paired.paired_speedup(
            paired.Timed(worker, student_steps, varied.Vary(**STUDENT_VARY, seed=200),
                         [kernels.batchnorm_forward_train, kernels.batchnorm_backward]),
            paired.Timed(reference_timer, ref_steps, varied.Vary(**REFERENCE_VARY, seed=100),
                         [ref_replay.forward, ref_replay.backward]),
            pairs=PAIRS, round_seconds=ROUND_SECONDS, timeout=TIMEOUT)
    except paired.TimedRunMismatch as exc:
        feedback.fail(*messages.timed_run_mismatch(exc.name, exc.error, exc.tol))
    (fwd_result, fwd_args), (bwd_result, bwd_args) = results
    # The timed run must compute batch normalization: every output within SPEED_GATE of the
    # reference (exactness is what the other checks grade; a kernel that skips the work
    # gets no speed points).
    label_en, label_ja = f"timed run at {N}×{D} float64", f"{N}×{D} float64 の時間計測中"
    _check_forward_result(feedback, fwd_result, fwd_args, (out, xhat, mean, invstd),
                          (f"batchnorm_forward_train, {label_en}",
                           f"batchnorm_forward_train、{label_ja}"), SPEED_GATE, np.float64,
                          _SPEED_GATE_HINT)
    _check_backward_result(feedback, bwd_result, bwd_args, expected_bwd,
                           (f"batchnorm_backward, {label_en}", f"batchnorm_backward、{label_ja}"),
                           SPEED_GATE, np.float64, _SPEED_GATE_HINT)

    fraction = speed_fraction(speed.median)
    numbers_en = (f"forward + backward at {N}×{D} float64: yours {1e6 * speed.student_seconds:.1f}"
                  f" µs, NumPy reference {1e6 * speed.reference_seconds:.1f} µs, speed-up "
                  f"{speed.median:.2f}× (middle half of {speed.pairs} paired rounds: "
                  f"{speed.spread()})")
    numbers_ja = (f"{N}×{D} float64 の forward + backward: あなたの実装 "
                  f"{1e6 * speed.student_seconds:.1f} µs、NumPy 参照実装 "
                  f"{1e6 * speed.reference_seconds:.1f} µs、速度向上 {speed.median:.2f} 倍"
                  f"（{speed.pairs} 組の交互計測の中央半分: {speed.spread()}）")
    steps_en = ", ".join(f"{100 * f:.0f} % from {s:g}×" for s, f in SPEED_STEPS)
    steps_ja = "、".join(f"{s:g} 倍以上で {100 * f:.0f} %" for s, f in SPEED_STEPS)
    if fraction >= 1.0:
        feedback.partial(1.0, en=f"{numbers_en}: full points (from {SPEED_STEPS[0][0]:g}× up).",
                         ja=f"{numbers_ja}: 満点です（{SPEED_STEPS[0][0]:g} 倍以上）。")
    else:
        feedback.partial(
            fraction,
            en=(f"{numbers_en}: {100 * fraction:.0f} % of the points ({steps_en}). Compile "
                f"with @numba.njit, loop over n outside and d inside, do the arithmetic of a "
                f"pass in one loop and write into the given arrays (no temporary (N, D) "
                f"arrays)."),
            ja=(f"{numbers_ja}: 得点は {100 * fraction:.0f} % です（{steps_ja}）。"
                f"@numba.njit でコンパイルし、外側を n、"
                f"内側を d のループにして、1 回の走査で計算をまとめ、渡された配列に直接書き込んで"
                f"ください（(N, D) の一時配列を作らない）。"),
        )
