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
(:func:`grader.timing.paired_speedup`): the speed-up is the median of the pairs' ratios.
"""

from __future__ import annotations

import numpy as np

from dlkit.gradcheck import normwise_rel_error
from grader import messages, policy, timing, varied
from grader.checks import _races
from grader.checks._expect import array, close, describe
from grader.sandbox import StudentError

PATH = "a4_numba/kernels.py"
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
# 0.22 – 0.25, tests/grader_cases/slips/a4_wrong_invstd).
NEAR = 0.15
# Races between threads: every float64 call is made twice, and RACE_REPEATS times on
# RACE_SHAPE (many samples, few features: threads adding into the same few entries), run with
# policy.KERNEL_THREADS Numba threads.  Measured with numba.prange over the samples and an
# unguarded dgamma[d] += ... (tests/grader_cases/slips/a4_race_prange): 1024×16 gave wrong
# sums in 46 of 50 calls on this 2-core machine under load; the correct kernels are the
# same bit for bit every time.
RACE_SHAPE = (1024, 16)
RACE_REPEATS = 10


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


def _written(buffer) -> bool:
    """Whether the kernel wrote into an output array (they are sent filled with NaN)."""
    return isinstance(buffer, np.ndarray) and not bool(np.all(np.isnan(buffer)))


def _values(result, outputs, n_out):
    """What the kernel computed, per output name: the array it wrote; for the first output
    (out, dx) the array it returned when it wrote nothing into the given one (results
    written into new arrays: graded here on their values, the buffers' contract by
    test_writes_into_the_given_arrays); None for another output it left unwritten."""
    values = list(outputs)
    first_from_result = (not _written(values[0]) and isinstance(result, np.ndarray)
                         and result.shape == np.shape(values[0]))
    if first_from_result:
        values[0] = result
    for k in range(1, n_out):
        if not _written(values[k]) and (first_from_result or _written(values[0])):
            values[k] = None  # not written, and the kernel did compute: the contract's
    return values


def _check_outputs(feedback, values, expected, names, order, label, tol, dtype, hints, extra,
                   own=None, returned=False):
    """Compare what the kernel computed (:func:`_values`) with the reference, in ``order``:
    the order in which they depend on each other, so the first one reported is the cause.
    ``label``: one text for both languages, or an (English, Japanese) pair.  ``own``: name
    -> an array also accepted (right for what the student's kernel computed elsewhere).
    ``returned``: the first output is the array the kernel returned, not the given one: its
    dtype is that new array's, a part of the slip test_writes_into_the_given_arrays charges."""
    label_en, label_ja = label if isinstance(label, tuple) else (label, label)
    for name in order:
        k = names.index(name)
        if values[k] is None or expected[k] is None:
            continue
        what = f"{label_en}: {name} (as computed by your kernel)"
        what_ja = f"{label_ja}: {name}（あなたのカーネルの計算結果）"
        got = array(feedback, values[k], what=what, what_ja=what_ja, shape=expected[k].shape)
        if got.dtype != dtype and not (returned and k == 0):
            feedback.fail(
                en=f"{what}: expected dtype {np.dtype(dtype)}, got {got.dtype}.",
                ja=f"{what_ja}: dtype {np.dtype(dtype)} を期待しましたが、{got.dtype} でした。",
            )
        alternative = (own or {}).get(name)
        if (alternative is not None and normwise_rel_error(got, expected[k]) > tol
                and normwise_rel_error(got, alternative) <= tol):
            continue
        close(feedback, got, expected[k], what=what, what_ja=what_ja, tol=tol,
              hint_en=hints[name][0] + extra[0], hint_ja=hints[name][1] + extra[1])


def _check_forward_result(feedback, result, args, expected, label, tol, dtype, extra=("", "")):
    """args = the 8 arguments after the call; expected = the reference (out, xhat, mean, invstd).
    Whether the value returned is the given out is test_returns_the_output_arrays's."""
    values = _values(result, args[4:], len(FWD_NAMES))
    _check_outputs(feedback, values, expected, FWD_NAMES, ("mean", "invstd", "xhat", "out"),
                   label, tol, dtype, _FWD_HINT, extra, returned=not _written(args[4]))


def _check_backward_result(feedback, result, args, expected, label, tol, dtype, extra=("", "")):
    """args = the 7 arguments after the call; expected = the reference (dx, dgamma, dbeta).
    dx is also accepted when it is the formula at the student's own dgamma and dbeta (a
    wrong dgamma costs this check once, not twice)."""
    values = _values(result, args[4:], len(BWD_NAMES))
    own = None
    dout, xhat, gamma, invstd = (np.asarray(a, dtype=np.float64) for a in args[:4])
    if all(isinstance(v, np.ndarray) and v.shape == gamma.shape and np.all(np.isfinite(v))
           for v in values[1:]):
        dgamma, dbeta = (v.astype(np.float64) for v in values[1:])
        N = dout.shape[0]
        own = {"dx": gamma * invstd / N * (N * dout - dbeta - xhat * dgamma)}
    _check_outputs(feedback, values, expected, BWD_NAMES, ("dbeta", "dgamma", "dx"), label, tol,
                   dtype, _BWD_HINT, extra, own, returned=not _written(args[4]))


def _near(result, outputs, expected) -> bool:
    """Everything the kernel computed (:func:`_values`) within NEAR of the reference (a slip,
    not a missing kernel); the first output (out, dx) must be there."""
    values = _values(result, outputs, len(expected))
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


_NOT_SCORED = (
    "Not scored: this check pays only when your float64 kernels compute (nearly: within "
    "relative error {near:g}) the right numbers, and {which} does not: see test_{test}_float64.",
    "採点対象外: この検査は float64 のカーネルが（相対誤差 {near:g} 以内で）正しい値を計算する"
    "場合にだけ得点になりますが、{which} はそうなっていません。test_{test}_float64 を見て"
    "ください。",
)


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
        feedback.fail(en=_NOT_SCORED[0].format(near=NEAR, which=name, test=which),
                      ja=_NOT_SCORED[1].format(near=NEAR, which=name, test=which))


def _threads(worker, n):
    """Run the student's kernels on ``n`` Numba threads from now on: policy.KERNEL_THREADS in
    the float64 checks (where a race is graded, once), one in every other check, so that a
    race costs the float64 check of its kernel and no other check depends on the load."""
    worker.call("numba:set_num_threads", n, timeout=10)


def _repeated(worker, target, args, times):
    """``times`` calls of ``target`` with the same inputs (fresh NaN outputs each time):
    [(returned, the arguments after the call), ...]."""
    return [worker.call(target, *args, timeout=TIMEOUT, return_args=True) for _ in range(times)]


_RACE_EXPLAINED = (
    "numba.prange over the samples with an element update such as `dgamma[d] += ...` lets two "
    "threads add into the same entry at once, and one addition is lost: sum per thread, or "
    "run prange over the features",
    "サンプルについての numba.prange の中で `dgamma[d] += ...` のように要素に足し込むと、"
    "2 つのスレッドが同じ要素に同時に足し込み、片方の加算が失われます。スレッドごとに和を取るか、"
    "prange を特徴の方向にしてください",
)


def _static_races(submission_files, kernel):
    """The prange races of ``kernel`` in the submitted source (grader.checks._races)."""
    source = submission_files.read_text(PATH)
    return _races.in_kernel(source, kernel) if source is not None else []


def _check_races(feedback, runs, names, label, races):
    """Fail when calls with the same inputs gave different results (what was seen, with
    policy.KERNEL_THREADS threads, on RACE_SHAPE), or when the source has a prange loop with
    a race (``races``: found every time, whatever the machine's load let threads do)."""
    result, after = runs[0]
    first = _values(result, after[-len(names):], len(names))
    differ, where = 0, ""
    for result, after in runs[1:]:
        values = _values(result, after[-len(names):], len(names))
        changed = [name for name, a, b in zip(names, first, values, strict=True)
                   if not (a is None and b is None) and not (
                       isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                       and a.shape == b.shape and np.array_equal(a, b, equal_nan=True))]
        if changed:
            differ += 1
            k = names.index(changed[0])
            a, b = first[k], values[k]
            if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape:
                gap = float(np.nanmax(np.abs(a.astype(np.float64) - b)))
                where = where or f"{changed[0]} by up to {gap:.3g}"
            else:
                where = where or changed[0]
    label_en, label_ja = label if isinstance(label, tuple) else (label, label)
    lines = "; ".join(f"line {r.line}: `{r.text}`" for r in races)
    lines_ja = "、".join(f"{r.line} 行目: `{r.text}`" for r in races)
    if differ:
        seen_en = f" In your source: {lines}." if races else ""
        seen_ja = f"あなたのコード: {lines_ja}。" if races else ""
        feedback.fail(
            en=(f"{label_en}: the same call with the same inputs gave different results in "
                f"{differ} of {len(runs) - 1} repetitions ({where}), run with "
                f"{policy.KERNEL_THREADS} Numba threads: results that differ from run to run "
                f"point at a race between threads, or at memory read before it is written "
                f"(np.empty).{seen_en} {_RACE_EXPLAINED[0]}."),
            ja=(f"{label_ja}: 同じ入力での同じ呼び出しが、{len(runs) - 1} 回の繰り返しのうち "
                f"{differ} 回で異なる結果になりました（{where}。Numba のスレッド "
                f"{policy.KERNEL_THREADS} 本で実行）。実行ごとに結果が変わるのは、スレッド間の"
                f"競合か、書き込む前のメモリの読み出し（np.empty）を示しています。{seen_ja}"
                f"{_RACE_EXPLAINED[1]}。"))
    if races:
        feedback.fail(
            en=(f"{label_en}: a data race between threads in your source ({lines}): "
                f"{_RACE_EXPLAINED[0]}. The results were right in the {len(runs)} calls made "
                f"here with {policy.KERNEL_THREADS} threads, but they depend on how the threads "
                f"happen to run: on another machine, or under another load, they are wrong."),
            ja=(f"{label_ja}: あなたのコードにスレッド間の競合があります（{lines_ja}）。"
                f"{_RACE_EXPLAINED[1]}。ここでのスレッド {policy.KERNEL_THREADS} 本・"
                f"{len(runs)} 回の呼び出しでは結果が正しかったものの、スレッドの動き方次第で"
                f"あり、別のマシンや別の負荷では誤った結果になります。"))


def test_forward_float64(worker, feedback, submission_files):
    """The forward's results, each shape called twice and RACE_SHAPE RACE_REPEATS times (with
    several threads): the same inputs must give the same results every time."""
    _threads(worker, policy.KERNEL_THREADS)
    races = _static_races(submission_files, "batchnorm_forward_train")
    rng = np.random.default_rng(61)
    for (N, D), times in [*((shape, 2) for shape in SHAPES), (RACE_SHAPE, RACE_REPEATS)]:
        x, gamma, beta, _ = _inputs(rng, N, D, np.float64)
        args = (x, gamma, beta, EPS, *_forward_buffers(N, D, np.float64))
        label = f"batchnorm_forward_train, x {N}×{D} float64"
        runs = _repeated(worker, FWD, args, times)
        _check_races(feedback, runs, FWD_NAMES, label, [] if (N, D) != RACE_SHAPE else races)
        result, after = runs[0]
        _check_forward_result(feedback, result, after, _reference_forward(x, gamma, beta),
                              label, TOL[np.float64], np.float64)


def test_backward_float64(worker, feedback, submission_files):
    """The backward's results, with repetitions and races as test_forward_float64's."""
    _threads(worker, policy.KERNEL_THREADS)
    races = _static_races(submission_files, "batchnorm_backward")
    rng = np.random.default_rng(63)
    for (N, D), times in [*((shape, 2) for shape in SHAPES), (RACE_SHAPE, RACE_REPEATS)]:
        x, gamma, beta, dout = _inputs(rng, N, D, np.float64)
        _, xhat, _, invstd = _reference_forward(x, gamma, beta)
        args = (dout, xhat, gamma, invstd, *_backward_buffers(N, D, np.float64))
        label = f"batchnorm_backward, dout {N}×{D} float64"
        runs = _repeated(worker, BWD, args, times)
        _check_races(feedback, runs, BWD_NAMES, label, [] if (N, D) != RACE_SHAPE else races)
        result, after = runs[0]
        _check_backward_result(feedback, result, after,
                               _reference_backward(dout, xhat, gamma, invstd), label,
                               TOL[np.float64], np.float64)


_AGAINST_64 = (" (compared with your float64 kernel on the same numbers)",
               "（同じ値でのあなたの float64 カーネルの結果との比較）")


def test_forward_float32(worker, feedback):
    """float32 arrays: the numbers of your float64 kernel, to float32 precision."""
    _threads(worker, 1)
    _require_near(worker, feedback, "forward")
    rng = np.random.default_rng(62)
    for N, D in SHAPES:
        x, gamma, beta, _ = _inputs(rng, N, D, np.float32)
        args = (x, gamma, beta, EPS, *_forward_buffers(N, D, np.float32))
        result, after = worker.call(FWD, *args, timeout=TIMEOUT, return_args=True)
        yours64 = _values(*_run_forward(worker, *(a.astype(np.float64) for a in (x, gamma, beta))),
                          len(FWD_NAMES))
        _check_forward_result(feedback, result, after, yours64,
                              f"batchnorm_forward_train, x {N}×{D} float32", TOL[np.float32],
                              np.float32, _AGAINST_64)


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
        yours64 = _values(*_run_backward(worker, *(a.astype(np.float64)
                                                   for a in (dout, xhat, gamma, invstd))),
                          len(BWD_NAMES))
        _check_backward_result(feedback, result, after, yours64,
                               f"batchnorm_backward, dout {N}×{D} float32", TOL[np.float32],
                               np.float32, _AGAINST_64)


def _both_kernels(worker, seed):
    """[(kernel, output names, returned, outputs after the call, the reference's), ...] for
    both kernels on one 32×8 float64 input."""
    x, gamma, beta, dout = _inputs(np.random.default_rng(seed), 32, 8, np.float64)
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
        feedback.fail(en=_NOT_SCORED[0].format(near=NEAR, which="neither kernel",
                                               test="forward"),
                      ja=_NOT_SCORED[1].format(near=NEAR, which="どちらのカーネル",
                                               test="forward"))
    return graded


def test_returns_the_output_arrays(worker, feedback):
    """batchnorm_forward_train returns out, batchnorm_backward returns dx (the calling
    contract of dlkit.kernels): 1 point, graded for the kernels whose outputs are right (a
    wrong kernel loses its own checks, not this one too).  A kernel that wrote its results
    into new arrays and returns them is test_writes_into_the_given_arrays's."""
    _threads(worker, 1)
    for kernel, names, got, outputs, _ in _graded_kernels(feedback, _both_kernels(worker, 66)):
        name, written = names[0], outputs[0]
        if not _written(written):
            continue
        if not (isinstance(got, np.ndarray) and got.shape == written.shape
                and np.array_equal(got, written, equal_nan=True)):
            feedback.fail(
                en=(f"{kernel}: expected it to return {name}, the array it wrote, got "
                    f"{describe(got)}. Your arrays are right: this costs only this check's "
                    f"point. Add `return {name}` at the end."),
                ja=(f"{kernel}: 書き込んだ配列 {name} を返すことを期待しましたが、"
                    f"{describe(got, 'ja')} が返されました。配列の値は正しいので、減点はこの検査の "
                    f"1 点だけです。最後に `return {name}` を書いてください。"))


def test_writes_into_the_given_arrays(worker, feedback):
    """Both kernels write every result into the arrays they are given (out, xhat, mean,
    invstd; dx, dgamma, dbeta): that is where dlkit's layer reads them.  Graded for the
    kernels whose results are right, so a kernel that computes the right numbers into new
    arrays loses this check only (its values are graded by the float64 checks)."""
    _threads(worker, 1)
    for kernel, names, _, outputs, _ in _graded_kernels(feedback, _both_kernels(worker, 68)):
        unwritten = [name for name, o in zip(names, outputs, strict=True) if not _written(o)]
        if unwritten:
            listed = ", ".join(unwritten)
            first = unwritten[0]
            feedback.fail(
                en=(f"{kernel}: {listed} not written: the arrays passed in still hold the NaN "
                    f"they were sent with. `{first} = ...` makes a new array and leaves the "
                    f"given one as it was; write into it ({first}[n, d] = ..., or "
                    f"{first}[:] = ...). Your values are right: this costs only this check."),
                ja=(f"{kernel}: {listed} が書き込まれていません。渡した配列は送ったときの NaN の"
                    f"ままです。`{first} = ...` は新しい配列を作り、渡された配列は元のままです。"
                    f"渡された配列に書き込んでください（{first}[n, d] = ... または "
                    f"{first}[:] = ...）。値は正しいので、減点はこの検査だけです。"))


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
# Numba kernel ≈ 7×, the same loops without @njit ≈ 0.01× (tests/grader_cases/slips/a4_python_loops).
SPEED_STEPS = ((3.0, 1.0), (2.0, 2 / 3), (1.5, 1 / 3))
PAIRS = 15            # paired rounds (grader.timing.paired_speedup)
ROUND_SECONDS = 0.02  # per round and side: the request's round trip is < 1 % of it
SPEED_GATE = 1e-2
# Memoizing or faking the timed run (grader.varied): every timed call gets one element of x
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


def _student_vary(forward, backward) -> varied.Vary:
    """The probes of the student's timed run: in the arrays the kernels write (out, invstd,
    dx, dgamma), or, for a kernel that leaves the given arrays unwritten (its results in new
    arrays, a slip test_writes_into_the_given_arrays charges), in what it returns (out, dx)
    as for the reference: its speed is graded as for any other kernel."""
    probes, names = [], []
    for step, (_, after), outputs in ((0, forward, ((4, "out"), (7, "invstd"))),
                                      (1, backward, ((4, "dx"), (5, "dgamma")))):
        (first, first_name), (second, second_name) = outputs
        if _written(after[first]):
            probes.append((step, first, step, 2))
            names.append(first_name)
            if _written(after[second]):
                probes.append((step, second, step, 1))
                names.append(second_name)
        else:
            probes.append((step, varied.RESULT, step, 2))
            names.append(first_name)
    return varied.Vary(perturb=STUDENT_VARY["perturb"], probes=tuple(probes),
                       tol=(SPEED_GATE,) * len(probes), names=tuple(names), seed=200)


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

    # The kernels' results on this input, outside the timing: kernels that do not compute
    # the batch normalization get no speed points, and are told so before anything is timed.
    fwd_args = (x, gamma, beta, EPS, *_forward_buffers(N, D, np.float64))
    bwd_args = (dout, xhat, gamma, invstd, *_backward_buffers(N, D, np.float64))
    _threads(worker, 1)
    untimed = [worker.call(target, *args, timeout=TIMEOUT, return_args=True)
               for target, args in ((FWD, fwd_args), (BWD, bwd_args))]
    label_en, label_ja = f"{N}×{D} float64", f"{N}×{D} float64"
    _check_forward_result(feedback, *untimed[0], (out, xhat, mean, invstd),
                          (f"batchnorm_forward_train, {label_en}",
                           f"batchnorm_forward_train、{label_ja}"), SPEED_GATE, np.float64,
                          _SPEED_GATE_HINT)
    _check_backward_result(feedback, *untimed[1], expected_bwd,
                           (f"batchnorm_backward, {label_en}", f"batchnorm_backward、{label_ja}"),
                           SPEED_GATE, np.float64, _SPEED_GATE_HINT)

    student_steps = [(FWD, fwd_args, {}), (BWD, bwd_args, {})]
    ref = reference_timer.create("dlkit.reference:BatchNormalization", gamma, beta, eps=EPS,
                                 timeout=30)
    ref_steps = [(ref.method("forward"), (x,), {"train_flg": True}),
                 (ref.method("backward"), (dout,), {})]

    from dlkit import kernels, layers

    ref_replay = layers.BatchNormalization(gamma.copy(), beta.copy(), eps=EPS)
    try:
        speed, results = timing.paired_speedup(
            timing.Timed(worker, student_steps, _student_vary(*untimed),
                         [kernels.batchnorm_forward_train, kernels.batchnorm_backward]),
            timing.Timed(reference_timer, ref_steps, varied.Vary(**REFERENCE_VARY, seed=100),
                         [ref_replay.forward, ref_replay.backward]),
            pairs=PAIRS, round_seconds=ROUND_SECONDS, timeout=TIMEOUT)
    except timing.TimedRunMismatch as exc:
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
