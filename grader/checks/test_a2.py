"""Hidden checks, assignment 2: the Batch Normalization layer (NumPy), forward and backward.

Student API (a2_batchnorm/batchnorm.py), the book's interface:
    BatchNormalization(gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5)
    .forward(x, train_flg=True) -> out      .backward(dout) -> dx      .dgamma .dbeta
    .running_mean .running_var  (updated by training-mode forwards)

The reference answers come from dlkit.reference.BatchNormalization (the book's layer in plain
NumPy), run here on the trusted side.

Gradient check, and why it compares with the reference's analytic gradient: the student's dx,
dgamma, dbeta are compared with dlkit.reference's backward at the same x, gamma, beta and dout,
and that reference is itself checked against a central-difference numerical gradient of the
reference forward, here, before it is used (relative error < 1e-7, else the grader stops
with an error: it is our bug, not the student's).  A numerical gradient of the *student's*
forward would accept a consistent pair of wrong forward and backward (e.g. a forward that
returns zeros and a backward that returns zeros), and would need one worker round trip per
perturbed entry; against the verified reference, one round trip checks the real thing.

One mistake, its own points: a forward with a slip (the unbiased variance, no eps) loses the
forward check, not the others.  Its state (xhat, the batch mean and invstd) is read back from
its output (``_state``: out = gamma·xhat + beta with xhat affine in x per feature), and the
backward and the running averages are also accepted when they are right for that state: the
book's backward formula at the student's xhat and invstd, the moving average of the student's
batch mean and variance.  Only for a forward within NEAR of a batch normalization, so a
do-nothing layer (zeros forward, zeros backward) earns nothing.  The float32 check compares
with the student's own float64 result (it grades the dtype, not the formula again), and the
secondary checks (float32, inputs not modified, a batch of one rejected) pay only for such a
forward.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.gradcheck import normwise_rel_error
from grader.checks._expect import array, close, describe, grader_error
from grader.sandbox.handle import StudentError
from grader.scoring import messages
from grader.timing import paired, varied

BN = "a2_batchnorm.batchnorm:BatchNormalization"

# float64: the student's formula may differ from the book's in the order of operations
# (x − mu)·invstd vs (x − mu)/std, one pass or two); those differ by ~1e-15.  1e-9 leaves a
# wide margin and still catches every real mistake (ddof=1 at N=128 is off by 4e-3).
TOL64 = 1e-9
# float32 inputs: compared with the float64 reference; float32 rounding gives ~1e-6.
TOL32 = 1e-4
GRAD_TOL = 1e-7  # the bound for the gradient check (float64)
EPS = 1e-5  # the a2 layer's default eps (its stated signature); every reference uses it

FORWARD_SHAPES = [(2, 3), (16, 10), (128, 100), (50, 7)]
# A forward "with a slip" is within NEAR (gradcheck.normwise_rel_error) of the
# reference.  Measured on the inputs graded here: the unbiased variance 0.0035 (N = 64) –
# 0.0996 (N = 3), no eps ~1e-6; a forward returning zeros is 1 off, invstd without its square
# root (the a4 mistake) 0.22 – 0.25.
NEAR = 0.15


def _params(rng, D, dtype=np.float64):
    gamma = rng.uniform(0.5, 2.0, D).astype(dtype)
    beta = rng.uniform(-1.0, 1.0, D).astype(dtype)
    return gamma, beta


def _batch(rng, N, D, dtype=np.float64, shift=0.0):
    """Features of different means and scales, as after an Affine layer."""
    scale = rng.uniform(0.5, 3.0, D)
    mean = rng.uniform(-2.0, 2.0, D) + shift
    return (rng.standard_normal((N, D)) * scale + mean).astype(dtype)


def _reference(gamma, beta, **kwargs):
    from dlkit.reference import BatchNormalization

    kwargs.setdefault("eps", EPS)
    return BatchNormalization(gamma.astype(np.float64), beta.astype(np.float64), **kwargs)


def _copy_or_none(a):
    return None if a is None else np.array(a, dtype=np.float64)


class _State:
    """What a training-mode forward computed, read back from its output (see the module
    docstring): xhat (N, D) and, per feature, mean and invstd with xhat = (x − mean)·invstd."""

    def __init__(self, xhat, mean, invstd):
        self.xhat, self.mean, self.invstd = xhat, mean, invstd

    @property
    def var(self):
        """The batch variance the forward used: invstd = 1/√(var + eps), eps the default."""
        return 1.0 / self.invstd**2 - 1e-5

    def backward(self, dout, gamma):
        """The book's backward at this state: (dx, dgamma, dbeta)."""
        N = dout.shape[0]
        dbeta = dout.sum(axis=0)
        dgamma = (dout * self.xhat).sum(axis=0)
        dx = gamma * self.invstd / N * (N * dout - dbeta - self.xhat * dgamma)
        return dx, dgamma, dbeta


def _state(x, gamma, beta, out, expected) -> _State | None:
    """The state of a forward within NEAR of the reference ``expected``, else None."""
    x, out = x.astype(np.float64), np.asarray(out, dtype=np.float64)
    if (out.shape != x.shape or not np.all(np.isfinite(out))
            or normwise_rel_error(out, expected) > NEAR):
        return None
    xhat = (out - beta) / gamma
    xc = x - x.mean(axis=0)
    invstd = np.sum(xc * xhat, axis=0) / np.sum(xc * xc, axis=0)  # least squares, per feature
    mean = x.mean(axis=0) - xhat.mean(axis=0) / invstd
    if np.any(invstd <= 0) or normwise_rel_error((x - mean) * invstd, xhat) > 1e-8:
        return None
    return _State(xhat, mean, invstd)


def _require_batchnorm(worker, feedback):
    """Fail (0 points) unless forward(x, train_flg=True) is within NEAR of a batch
    normalization: the secondary checks pay only when the main result is (nearly) right."""
    rng = np.random.default_rng(40)
    gamma, beta = _params(rng, 6)
    x = _batch(rng, 16, 6)
    out = worker.create(BN, gamma, beta, timeout=10).call("forward", x, train_flg=True,
                                                          timeout=10)
    expected = _reference(gamma, beta).forward(x, train_flg=True)
    if _state(x, gamma, beta, out, expected) is None:
        feedback.fail(
            en=("Not scored: this check pays only when forward(x, train_flg=True) computes a "
                f"batch normalization (within relative error {NEAR:g}), and yours does not: "
                f"see test_forward_train_float64."),
            ja=("採点対象外: この検査は forward(x, train_flg=True) がバッチ正規化を（相対誤差 "
                f"{NEAR:g} 以内で）計算している場合にだけ得点になりますが、そうなっていません。"
                f"test_forward_train_float64 を見てください。"))


def _forward_hint(x, gamma, beta, got):
    """Recognize common mistakes in a training-mode forward (en, ja)."""
    x = x.astype(np.float64)
    N = x.shape[0]
    mu = x.mean(axis=0)
    unbiased = gamma * (x - mu) / np.sqrt(x.var(axis=0, ddof=1) + 1e-5) + beta
    if N > 1 and normwise_rel_error(got, unbiased) < 1e-6:
        return ("It matches the unbiased variance (1/(N−1), ddof=1); BatchNorm uses the batch "
                "variance 1/N · Σ (x − mu)² (ddof=0).",
                "不偏分散（1/(N−1)、ddof=1）と一致します。BatchNorm はバッチの分散 "
                "1/N · Σ (x − mu)²（ddof=0）を使います。")
    xhat = (x - mu) / np.sqrt(x.var(axis=0) + 1e-5)
    if normwise_rel_error(got, xhat) < 1e-6:
        return ("It matches xhat: apply the scale and shift, out = gamma · xhat + beta.",
                "xhat と一致します。スケールとシフト out = gamma · xhat + beta を"
                "適用してください。")
    if normwise_rel_error(got, gamma * (x - mu) / np.sqrt(x.var(axis=0)) + beta) < 1e-6:
        return ("It matches a forward without eps: use √(var + eps).",
                "eps なしの計算と一致します。√(var + eps) を使ってください。")
    return ("", "")


def test_forward_train_float64(worker, feedback):
    rng = np.random.default_rng(41)
    for N, D in FORWARD_SHAPES:
        gamma, beta = _params(rng, D)
        x = _batch(rng, N, D)
        bn = worker.create(BN, gamma, beta, timeout=10)
        what = f"forward(x, train_flg=True), x {N}×{D} float64"
        got = array(feedback, bn.call("forward", x, train_flg=True, timeout=10), what=what,
                    shape=(N, D))
        expected = _reference(gamma, beta).forward(x, train_flg=True)
        hint = _forward_hint(x, gamma, beta, got)
        close(feedback, got, expected, what=what, tol=TOL64, hint_en=hint[0], hint_ja=hint[1])


def test_forward_train_float32(worker, feedback):
    """float32 input: the same numbers as your float64 forward, to float32 precision."""
    _require_batchnorm(worker, feedback)
    rng = np.random.default_rng(42)
    for N, D in FORWARD_SHAPES:
        gamma, beta = _params(rng, D, np.float32)
        x = _batch(rng, N, D, np.float32)
        what = f"forward(x, train_flg=True), x {N}×{D} float32"
        got = array(feedback, worker.create(BN, gamma, beta, timeout=10).call(
            "forward", x, train_flg=True, timeout=10), what=what, shape=(N, D))
        yours64 = array(feedback, worker.create(
            BN, gamma.astype(np.float64), beta.astype(np.float64), timeout=10).call(
            "forward", x.astype(np.float64), train_flg=True, timeout=10),
            what=f"forward(x, train_flg=True), the same x {N}×{D} as float64",
            what_ja=f"forward(x, train_flg=True)、同じ x {N}×{D} を float64 で", shape=(N, D))
        close(feedback, got, yours64, what=f"{what} against your float64 result",
              what_ja=f"{what}（あなたの float64 の結果との比較）", tol=TOL32,
              hint_en="A float32 input must give the numbers of the float64 computation, to "
              "float32 precision.",
              hint_ja="float32 の入力でも、float64 で計算した値と（float32 の精度で）同じ値に"
              "なる必要があります。")


def test_forward_inference(worker, feedback):
    """train_flg=False: normalize with the running statistics, whatever the batch."""
    rng = np.random.default_rng(43)
    for (N, D), dtype in [((16, 10), np.float64), ((128, 100), np.float64), ((20, 6), np.float32)]:
        gamma, beta = _params(rng, D, dtype)
        running_mean = rng.uniform(-1, 1, D).astype(dtype)
        running_var = rng.uniform(0.5, 4.0, D).astype(dtype)
        x = _batch(rng, N, D, dtype)
        label = f"forward(x, train_flg=False), x {N}×{D} {x.dtype}"
        bn = worker.create(BN, gamma, beta, running_mean=running_mean, running_var=running_var,
                           timeout=10)
        got = array(feedback, bn.call("forward", x, train_flg=False, timeout=10), what=label,
                    shape=(N, D))
        ref = _reference(gamma, beta, running_mean=_copy_or_none(running_mean),
                         running_var=_copy_or_none(running_var))
        expected = ref.forward(x.astype(np.float64), train_flg=False)
        batch_stats = _reference(gamma, beta).forward(x.astype(np.float64), train_flg=True)
        hint = ("", "")
        if normwise_rel_error(got, batch_stats) < 1e-6:
            hint = ("It matches the batch statistics: at inference use running_mean and "
                    "running_var, not the mean and variance of the batch.",
                    "バッチの統計量と一致します。推論時はバッチの平均・分散ではなく "
                    "running_mean と running_var を使ってください。")
        close(feedback, got, expected, what=label, tol=TOL64 if dtype == np.float64 else TOL32,
              hint_en=hint[0], hint_ja=hint[1])
        # One sample at a time must give the same rows (nothing depends on the batch).
        one = bn.call("forward", x[:1], train_flg=False, timeout=10)
        close(feedback, one, expected[:1], what=f"forward(x[:1], train_flg=False), x {x.dtype}",
              tol=TOL64 if dtype == np.float64 else TOL32,
              hint_en="At inference the output of a sample must not depend on the other samples.",
              hint_ja="推論時、あるサンプルの出力が他のサンプルに依存してはいけません。")
        for name, before in (("running_mean", running_mean), ("running_var", running_var)):
            after = bn.get(name, timeout=10)
            close(feedback, after, before.astype(np.float64),
                  what=f"{name} after forward(x, train_flg=False)",
                  what_ja=f"forward(x, train_flg=False) の後の {name}", tol=0.0,
                  hint_en="Inference must not change the running statistics.",
                  hint_ja="推論で running 統計量を変更してはいけません。")


def test_running_stats(worker, feedback):
    """After several training steps, running_mean/var follow the book's moving average."""
    rng = np.random.default_rng(45)
    D = 12
    for momentum, start in [(None, False), (0.7, True)]:
        gamma, beta = _params(rng, D)
        kwargs = {} if momentum is None else {"momentum": momentum}
        if start:
            kwargs["running_mean"] = rng.uniform(-1, 1, D)
            kwargs["running_var"] = rng.uniform(0.5, 2, D)
        ref = _reference(gamma, beta, **{k: (v.copy() if isinstance(v, np.ndarray) else v)
                                         for k, v in kwargs.items()})
        bn = worker.create(BN, gamma, beta, timeout=10, **kwargs)
        # the same moving averages of the statistics the student's forward used (its state),
        # for a forward with a slip (see the module docstring); None once that is not known
        m = 0.9 if momentum is None else momentum
        own = {"running_mean": kwargs.get("running_mean", np.zeros(D)),
               "running_var": kwargs.get("running_var", np.zeros(D))}
        for step in range(5):
            x = _batch(rng, 20 + step, D, shift=step)
            out = bn.call("forward", x, train_flg=True, timeout=10)
            state = _state(x, gamma, beta, out, ref.forward(x, train_flg=True).copy())
            if own is not None and state is not None:
                own = {"running_mean": m * own["running_mean"] + (1 - m) * state.mean,
                       "running_var": m * own["running_var"] + (1 - m) * state.var}
            else:
                own = None
        label = f"momentum={m}, 5 training steps"
        label_ja = f"momentum={m}、学習 5 ステップの後の"
        for name in ("running_mean", "running_var"):
            got = array(feedback, bn.get(name, timeout=10), what=f"{name} after {label}",
                        what_ja=f"{label_ja} {name}", shape=(D,))
            if (own is not None and normwise_rel_error(got, getattr(ref, name)) > TOL64
                    and normwise_rel_error(got, own[name]) <= TOL64):
                continue  # right for the statistics your forward computed
            close(feedback, got, getattr(ref, name),
                  what=f"{name} after {label}", what_ja=f"{label_ja} {name}", tol=TOL64,
                  hint_en=("Each training forward must update running = momentum · running + "
                           "(1 − momentum) · batch statistic (batch variance with 1/N); "
                           "start from zeros when none is given."),
                  hint_ja=("学習時の forward のたびに running = momentum · running + "
                           "(1 − momentum) · バッチの統計量（分散は 1/N）と更新してください。"
                           "与えられなければゼロから始めます。"))


# ------------------------------------------------------------------ gradient check

# N ≥ 3: at N = 2 every xhat is ±1 whatever x, so dx is only ~1e-5 (an effect of eps) and
# a relative error on it measures rounding, not the formula.  Central differences with
# h = 1e-5 agree with the reference's analytic gradient to ≤ 1e-10 on these cases (measured:
# dx 1.0e-10 at 3×4, 3.0e-11 at 10×6, 7.5e-11 at 64×20; dgamma, dbeta ≤ 3e-11).
GRAD_CASES = [(3, 4), (10, 6), (64, 20)]


def _numerical_gradients(x, gamma, beta, dout, h=1e-5):
    """Central differences of L = Σ out·dout for the reference forward (float64)."""
    def loss(x_, g_, b_):
        return float(np.sum(_reference(g_, b_).forward(x_, train_flg=True) * dout))

    grads = []
    for k, arr in enumerate((x, gamma, beta)):
        g = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            args = [x.copy(), gamma.copy(), beta.copy()]
            args[k][i] += h
            plus = loss(*args)
            args[k][i] -= 2 * h
            g[i] = (plus - loss(*args)) / (2 * h)
        grads.append(g)
    return grads


def _gradient_case(index):
    """(x, gamma, beta, dout, dx, dgamma, dbeta) with the reference's verified gradients."""
    N, D = GRAD_CASES[index]
    rng = np.random.default_rng(46 + index)
    gamma, beta = _params(rng, D)
    x, dout = _batch(rng, N, D), rng.standard_normal((N, D))
    ref = _reference(gamma, beta)
    ref.forward(x, train_flg=True)
    dx = ref.backward(dout)
    analytic = (dx, ref.dgamma, ref.dbeta)
    numerical = _numerical_gradients(x, gamma, beta, dout)
    for name, a, n in zip(("dx", "dgamma", "dbeta"), analytic, numerical, strict=True):
        err = normwise_rel_error(a, n)
        if not err < GRAD_TOL:
            grader_error(f"self-check: dlkit.reference BatchNormalization {name} differs "
                         f"from the numerical gradient (rel error {err:.2e} at {N}×{D}); the "
                         f"reference cannot be trusted")
    return x, gamma, beta, dout, *analytic


_GRAD_HINT = {
    "dx": ("dx = gamma·invstd/N · (N·dout − Σ dout − xhat · Σ(dout·xhat)): every path counts, "
           "through xhat, through the variance and through the mean (the book's Figure 6-17).",
           "dx = gamma·invstd/N · (N·dout − Σ dout − xhat · Σ(dout·xhat)): xhat・分散・平均を"
           "通るすべての経路を足します（本の図 6-17）。"),
    "dgamma": ("dgamma = Σ_n dout · xhat (the normalized input, not x).",
               "dgamma = Σ_n dout · xhat（x ではなく正規化された入力）。"),
    "dbeta": ("dbeta = Σ_n dout.", "dbeta = Σ_n dout。"),
}


@pytest.fixture(scope="module")
def gradient_cases():
    """The verified reference gradients: a fixture, so that a failed self-check stops the
    run while setting up a check, before that check has a result."""
    return [_gradient_case(index) for index in range(len(GRAD_CASES))]


def _check_gradient(worker, feedback, gradient_cases, name):
    k = ("dx", "dgamma", "dbeta").index(name)
    for (N, D), case in zip(GRAD_CASES, gradient_cases, strict=True):
        x, gamma, beta, dout, dx, dgamma, dbeta = case
        expected = (dx, dgamma, dbeta)[k]
        bn = worker.create(BN, gamma, beta, timeout=10)
        out = bn.call("forward", x, train_flg=True, timeout=10)
        got_dx = bn.call("backward", dout, timeout=10)
        got = got_dx if name == "dx" else bn.get(name, timeout=10)
        what = f"{name} (backward after forward(x, train_flg=True), x {N}×{D} float64)"
        got = array(feedback, got, what=what, shape=expected.shape)
        state = _state(x, gamma, beta, out, _reference(gamma, beta).forward(x, train_flg=True))
        if (state is not None and normwise_rel_error(got, expected) > GRAD_TOL
                and normwise_rel_error(got, state.backward(dout, gamma)[k]) <= GRAD_TOL):
            continue  # right for what your forward computed: the forward check grades it
        close(feedback, got, expected, what=what,
              what_ja=f"{name}（forward(x, train_flg=True) の後の backward、x {N}×{D} float64）",
              tol=GRAD_TOL,
              hint_en=_GRAD_HINT[name][0] + " (If a forward check fails too, fix forward first: "
              "backward uses what forward computed.)",
              hint_ja=_GRAD_HINT[name][1] + "（forward のチェックも失敗している場合は forward "
              "から直してください。backward は forward の計算結果を使います。）")


def test_backward_dx(worker, feedback, gradient_cases):
    _check_gradient(worker, feedback, gradient_cases, "dx")


def test_backward_dgamma(worker, feedback, gradient_cases):
    _check_gradient(worker, feedback, gradient_cases, "dgamma")


def test_backward_dbeta(worker, feedback, gradient_cases):
    _check_gradient(worker, feedback, gradient_cases, "dbeta")


def test_inputs_not_modified(worker, feedback):
    """forward must not change x, gamma or beta; backward must not change dout."""
    _require_batchnorm(worker, feedback)
    rng = np.random.default_rng(47)
    N, D = 16, 8
    gamma, beta = _params(rng, D)
    x, dout = _batch(rng, N, D), rng.standard_normal((N, D))
    bn = worker.create(BN, gamma, beta, timeout=10)
    seen = {}  # what (en, ja): (after, before)
    for mode in (True, False):
        _out, (x_after,) = bn.call("forward", x, train_flg=mode, timeout=10, return_args=True)
        seen[(f"x after forward(x, train_flg={mode})",
              f"forward(x, train_flg={mode}) の後の x")] = (x_after, x)
        if mode:
            _dx, (dout_after,) = bn.call("backward", dout, timeout=10, return_args=True)
            seen[("dout after backward(dout)", "backward(dout) の後の dout")] = (dout_after, dout)
    seen[("gamma after forward and backward", "forward と backward の後の gamma")] = (
        bn.get("gamma", timeout=10), gamma)
    seen[("beta after forward and backward", "forward と backward の後の beta")] = (
        bn.get("beta", timeout=10), beta)
    for (what, what_ja), (after, before) in seen.items():
        if not (isinstance(after, np.ndarray) and after.shape == before.shape
                and np.array_equal(after, before)):
            feedback.fail(
                en=(f"{what}: expected the array unchanged, got {describe(after)} instead of "
                    f"{describe(before)}. Do not modify inputs in place (x -= mu changes the "
                    f"caller's x; write xc = x - mu)."),
                ja=(f"{what_ja}: 配列が変更されないことを期待しましたが、{describe(before, 'ja')} "
                    f"が {describe(after, 'ja')} に変わりました。入力をその場で書き換えないで"
                    f"ください（x -= mu は呼び出し側の x を変えます。xc = x - mu と書きます）。"),
            )


def test_batch_of_one_rejected(worker, feedback):
    """forward(x, train_flg=True) with one sample raises ValueError (its variance is 0:
    every xhat would be 0, whatever x)."""
    _require_batchnorm(worker, feedback)
    bn = worker.create(BN, np.ones(5), np.zeros(5), timeout=10)
    try:
        got = bn.call("forward", np.ones((1, 5)), train_flg=True, timeout=10)
    except StudentError as exc:
        if exc.type_name == "ValueError":
            return
        raise
    feedback.fail(
        en=(f"forward(x, train_flg=True) with x of shape (1, 5): expected ValueError (one "
            f"sample has no batch statistics), got {describe(got)}."),
        ja=(f"形状 (1, 5) の x での forward(x, train_flg=True): ValueError を期待しましたが"
            f"（1 サンプルではバッチの統計量がありません）、{describe(got, 'ja')} が"
            f"返されました。"))


# ------------------------------------------------------------------ speed

SPEED_SHAPE = (128, 100)
# The student's NumPy layer must reach at least MIN_SPEEDUP of the book's NumPy layer's
# speed (forward + backward, 128×100 float64): at most 3× its time.  The solution and the
# book's code run at ≈ 1×; a vectorized answer with a few extra temporaries stays above
# 0.5×; loops over the batch in Python are ≈ 0.01×.  One step, far from where vectorized
# answers sit, so that regrades on a loaded machine agree.
MIN_SPEEDUP = 1 / 3
PAIRS = 15            # paired rounds (grader.timing.paired.paired_speedup)
ROUND_SECONDS = 0.02
SPEED_GATE = 1e-2
# Memoizing or faking the timed run (grader.timing.varied): every timed call gets one element of x
# and of dout changed (put back after the call); out and dx at those elements travel with
# each round's "done" and must match dlkit's layer replayed here: out within SPEED_GATE, dx
# within DX_GATE.  dx is graded by the gradient checks, so DX_GATE only has to tell a dx
# computed from this call's dout from a remembered one.  Measured (relative error over a
# round, 8 rounds of 200 calls): the solution 1e-15, a dx missing the variance term
# (buggy/a2_dx_missing_term) 0.021 – 0.049, ddof=1 0.002, a layer returning the last dx for
# the same dout object (hostile/a2_memoizes) 0.37 – 0.76.
DX_GATE = 0.2
STUDENT_VARY = dict(perturb=((0, 0), (1, 0)),
                    probes=((0, varied.RESULT, 0, 2), (1, varied.RESULT, 1, 2)),
                    tol=(SPEED_GATE, DX_GATE), names=("forward: out", "backward: dx"))
REFERENCE_VARY = dict(STUDENT_VARY, tol=(1e-9, 1e-9))
_SPEED_GATE_HINT = (
    "Speed is only graded for a forward that computes the batch normalization (within 1 %).",
    "速度は、バッチ正規化を計算している（1 % 以内の）forward に対してだけ評価します。",
)


def test_speed(worker, reference_timer, feedback):
    """forward + backward at least MIN_SPEEDUP × the NumPy reference's speed (and correct)."""
    N, D = SPEED_SHAPE
    rng = np.random.default_rng(48)
    gamma, beta = _params(rng, D)
    x, dout = _batch(rng, N, D), rng.standard_normal((N, D))
    ref_layer = _reference(gamma, beta)
    expected_out = ref_layer.forward(x, train_flg=True)

    bn = worker.create(BN, gamma, beta, timeout=10)
    ref = reference_timer.create("dlkit.reference:BatchNormalization", gamma, beta, eps=EPS,
                                 timeout=30)
    from dlkit import layers

    replay_layer = layers.BatchNormalization(gamma.copy(), beta.copy(), eps=EPS)
    replay = [replay_layer.forward, replay_layer.backward]
    try:
        speed, ((out, _), (dx, _)) = paired.paired_speedup(
            paired.Timed(worker, [(bn.method("forward"), (x,), {"train_flg": True}),
                                  (bn.method("backward"), (dout,), {})],
                         varied.Vary(**STUDENT_VARY, seed=200), replay),
            paired.Timed(reference_timer, [(ref.method("forward"), (x,), {"train_flg": True}),
                                           (ref.method("backward"), (dout,), {})],
                         varied.Vary(**REFERENCE_VARY, seed=100), replay),
            pairs=PAIRS, round_seconds=ROUND_SECONDS)
    except paired.TimedRunMismatch as exc:
        feedback.fail(*messages.timed_run_mismatch(exc.name, exc.error, exc.tol))
    # The timed run must compute a batch normalization: within SPEED_GATE of the reference
    # (exactness is what the other checks grade; a mistake such as ddof=1, 0.4 % off at
    # N = 128, costs those checks, not the speed points too).
    close(feedback, out, expected_out, what=f"forward(x) in the timed run ({N}×{D})",
          what_ja=f"時間計測中の forward(x)（{N}×{D}）", tol=SPEED_GATE,
          hint_en=_SPEED_GATE_HINT[0], hint_ja=_SPEED_GATE_HINT[1])
    array(feedback, dx, what=f"backward(dout) in the timed run ({N}×{D})",
          what_ja=f"時間計測中の backward(dout)（{N}×{D}）", shape=(N, D))
    numbers_en = (f"forward + backward at {N}×{D} float64: yours {1e6 * speed.student_seconds:.0f}"
                  f" µs, the book's NumPy layer {1e6 * speed.reference_seconds:.0f} µs, "
                  f"speed-up {speed.median:.2f}× (middle half of {speed.pairs} paired rounds: "
                  f"{speed.spread()})")
    numbers_ja = (f"{N}×{D} float64 の forward + backward: あなたの実装 "
                  f"{1e6 * speed.student_seconds:.0f} µs、本の NumPy 実装 "
                  f"{1e6 * speed.reference_seconds:.0f} µs、速度向上 {speed.median:.2f} 倍"
                  f"（{speed.pairs} 組の交互計測の中央半分: {speed.spread()}）")
    if not speed.median >= MIN_SPEEDUP:
        feedback.fail(
            en=(f"{numbers_en}: expected a speed-up of at least {MIN_SPEEDUP:.2f}× (at most "
                f"{1 / MIN_SPEEDUP:g}× the reference's time). Use whole-array NumPy "
                f"operations (x.mean(axis=0), broadcasting), no Python loops over samples or "
                f"features."),
            ja=(f"{numbers_ja}: 速度向上 {MIN_SPEEDUP:.2f} 倍以上（参照実装の時間の "
                f"{1 / MIN_SPEEDUP:g} 倍以内）を期待しました。NumPy の配列演算"
                f"（x.mean(axis=0)、ブロードキャスト）を使い、サンプルや特徴についての "
                f"Python のループは避けてください。"),
        )
    feedback.note(en=numbers_en + ".", ja=numbers_ja + "。")
