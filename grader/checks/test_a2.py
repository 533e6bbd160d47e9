"""Hidden checks, assignment 2: the Batch Normalization layer (NumPy), forward and backward.

Student API (a2_batchnorm/batchnorm.py), the book's interface:
    BatchNormalization(gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5)
    .forward(x, train_flg=True) -> out      .backward(dout) -> dx      .dgamma .dbeta
    .running_mean .running_var  (updated by training-mode forwards)

The reference answers come from dlkit.reference.BatchNormalization (the book's layer in plain
NumPy), run here on the trusted side.  Thresholds: thresholds.toml [a2]; messages:
grader/messages, keys ``a2.*``.

Gradient check, and why it compares with the reference's analytic gradient: the student's dx,
dgamma, dbeta are compared with dlkit.reference's backward at the same x, gamma, beta and dout,
and that reference is itself checked against a central-difference numerical gradient of the
reference forward, here, before it is used (relative error < GRAD_TOL, else the grader stops
with an error: it is our bug, not the student's).  A numerical gradient of the *student's*
forward would accept a consistent pair of wrong forward and backward (e.g. a forward that
returns zeros and a backward that returns zeros), and would need one worker round trip per
perturbed entry; against the verified reference, one round trip checks the real thing.

One mistake, its own points: a forward with a slip (the unbiased variance, no eps) loses the
forward check, not the others.  Its state (xhat, the batch mean and invstd) is read back from
its output (helpers.batchnorm_state), and the backward and the running averages are also
accepted when they are right for that state; a dx right for the student's own dgamma and dbeta
is not charged again; an inference forward with the training forward's slip (recomputed:
FORWARD_SLIPS) is not charged again.  Only for a forward within NEAR of a batch normalization,
so a do-nothing layer (zeros forward, zeros backward) earns nothing.  The float32 check
compares with the student's own float64 result (it grades the dtype, not the formula again),
and the secondary checks (float32, inputs not modified, a batch of one rejected) pay only for
such a forward.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.helpers import (
    array,
    batchnorm_state,
    close,
    described,
    grader_error,
    matching,
    normwise_rel_error,
    plain,
    say,
    thresholds,
)
from grader.sandbox.handle import StudentError
from grader.scoring import messages
from grader.timing import paired, varied

BN = "a2_batchnorm.batchnorm:BatchNormalization"

T = thresholds("a2")
TOL64, TOL32, GRAD_TOL, NEAR, SLIP_MATCH = (T[k] for k in ("TOL64", "TOL32", "GRAD_TOL", "NEAR",
                                                           "SLIP_MATCH"))
EPS = 1e-5  # the a2 layer's default eps (its stated signature); every reference uses it

FORWARD_SHAPES = [(2, 3), (16, 10), (128, 100), (50, 7)]


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


def _state(x, gamma, beta, out, expected):
    """The student's forward state (helpers.batchnorm_state) within NEAR, else None."""
    return batchnorm_state(x, gamma, beta, out, expected, NEAR, EPS)


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
        feedback.fail(say("a2.common.not_scored", near=NEAR))


# Slips of the normalization, each as what it computes: (the batch variance from xc = x − mu,
# invstd from a variance), with the key of its explanation.  A slip is named only when the
# student's output is what it computes, recomputed here (within SLIP_MATCH: rounding, not a
# guess), and test_forward_inference accepts the same normalization of the running variance
# (one slip, written in both branches of forward, costs the training check only).
FORWARD_SLIPS = {
    "unbiased_variance": (lambda xc: np.sum(xc**2, axis=0) / (xc.shape[0] - 1),
                          lambda var: 1.0 / np.sqrt(var + EPS)),
    "no_eps": (lambda xc: np.mean(xc**2, axis=0), lambda var: 1.0 / np.sqrt(var)),
    "eps_outside_sqrt": (lambda xc: np.mean(xc**2, axis=0),
                         lambda var: 1.0 / (np.sqrt(var) + EPS)),
}


def _slip_of(x, gamma, beta, got) -> str | None:
    """The FORWARD_SLIPS entry whose training-mode forward is ``got``, recomputed; or None."""
    x = x.astype(np.float64)
    if x.shape[0] < 2:
        return None
    xc = x - x.mean(axis=0)
    found = matching(got, {name: (lambda v=variance, i=invstd: gamma * xc * i(v(xc)) + beta)
                           for name, (variance, invstd) in FORWARD_SLIPS.items()}, SLIP_MATCH)
    return found[0] if found else None


def _forward_hint(x, gamma, beta, got):
    """The explanation of a training-mode forward's mistake, where one is recognized by
    recomputing it; else nothing (the message says what was measured)."""
    slip = _slip_of(x, gamma, beta, got)
    if slip is not None:
        return say(f"a2.test_forward_train_float64.{slip}")
    x = x.astype(np.float64)
    xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + EPS)
    if matching(got, {"xhat": lambda: xhat}, SLIP_MATCH):
        return say("a2.test_forward_train_float64.xhat_only")
    return None


def test_forward_train_float64(worker, feedback):
    rng = np.random.default_rng(41)
    for N, D in FORWARD_SHAPES:
        gamma, beta = _params(rng, D)
        x = _batch(rng, N, D)
        bn = worker.create(BN, gamma, beta, timeout=10)
        what = plain(f"forward(x, train_flg=True), x {N}×{D} float64")
        got = array(feedback, bn.call("forward", x, train_flg=True, timeout=10), what=what,
                    shape=(N, D))
        expected = _reference(gamma, beta).forward(x, train_flg=True)
        close(feedback, got, expected, what=what, tol=TOL64,
              hint=_forward_hint(x, gamma, beta, got))


def test_forward_train_float32(worker, feedback):
    """float32 input: the same numbers as your float64 forward, to float32 precision."""
    _require_batchnorm(worker, feedback)
    rng = np.random.default_rng(42)
    for N, D in FORWARD_SHAPES:
        gamma, beta = _params(rng, D, np.float32)
        x = _batch(rng, N, D, np.float32)
        what = plain(f"forward(x, train_flg=True), x {N}×{D} float32")
        got = array(feedback, worker.create(BN, gamma, beta, timeout=10).call(
            "forward", x, train_flg=True, timeout=10), what=what, shape=(N, D))
        yours64 = array(feedback, worker.create(
            BN, gamma.astype(np.float64), beta.astype(np.float64), timeout=10).call(
            "forward", x.astype(np.float64), train_flg=True, timeout=10),
            what=say("a2.test_forward_train_float32.as_float64", N=N, D=D), shape=(N, D))
        close(feedback, got, yours64,
              what=say("a2.test_forward_train_float32.against_yours", what=what), tol=TOL32,
              hint=say("a2.test_forward_train_float32.rule"))


def _training_slip(worker) -> str | None:
    """The FORWARD_SLIPS entry the student's training-mode forward makes, if any."""
    rng = np.random.default_rng(44)
    gamma, beta = _params(rng, 8)
    x = _batch(rng, 32, 8)
    try:
        out = worker.create(BN, gamma, beta, timeout=10).call("forward", x, train_flg=True,
                                                              timeout=10)
    except StudentError:
        return None  # test_forward_train_float64 says why
    if not (isinstance(out, np.ndarray) and out.shape == x.shape):
        return None
    return _slip_of(x, gamma, beta, out)


def test_forward_inference(worker, feedback):
    """train_flg=False: normalize with the running statistics, whatever the batch."""
    slip = _training_slip(worker)
    rng = np.random.default_rng(43)
    for (N, D), dtype in [((16, 10), np.float64), ((128, 100), np.float64), ((20, 6), np.float32)]:
        gamma, beta = _params(rng, D, dtype)
        running_mean = rng.uniform(-1, 1, D).astype(dtype)
        running_var = rng.uniform(0.5, 4.0, D).astype(dtype)
        x = _batch(rng, N, D, dtype)
        label = plain(f"forward(x, train_flg=False), x {N}×{D} {x.dtype}")
        bn = worker.create(BN, gamma, beta, running_mean=running_mean, running_var=running_var,
                           timeout=10)
        got = array(feedback, bn.call("forward", x, train_flg=False, timeout=10), what=label,
                    shape=(N, D))
        ref = _reference(gamma, beta, running_mean=_copy_or_none(running_mean),
                         running_var=_copy_or_none(running_var))
        expected = ref.forward(x.astype(np.float64), train_flg=False)
        tol = TOL64 if dtype == np.float64 else TOL32
        if slip is not None and normwise_rel_error(got, expected) > tol:
            # the training forward's slip, here with the running statistics: charged there
            _, invstd = FORWARD_SLIPS[slip]
            g, b, m, v = (a.astype(np.float64) for a in (gamma, beta, running_mean, running_var))
            own = g * (x.astype(np.float64) - m) * invstd(v) + b
            if normwise_rel_error(got, own) <= tol:
                expected = own
        batch_stats = _reference(gamma, beta).forward(x.astype(np.float64), train_flg=True)
        hint = (say("a2.test_forward_inference.batch_statistics")
                if matching(got, {"batch": lambda b=batch_stats: b}, T["HINT_MATCH"]) else None)
        close(feedback, got, expected, what=label, tol=tol, hint=hint)
        # One sample at a time must give the same rows (nothing depends on the batch).
        one = bn.call("forward", x[:1], train_flg=False, timeout=10)
        close(feedback, one, expected[:1],
              what=plain(f"forward(x[:1], train_flg=False), x {x.dtype}"), tol=tol,
              hint=say("a2.test_forward_inference.one_sample"))
        for name, before in (("running_mean", running_mean), ("running_var", running_var)):
            after = bn.get(name, timeout=10)
            close(feedback, after, before.astype(np.float64),
                  what=say("a2.test_forward_inference.after", name=name), tol=0.0,
                  hint=say("a2.test_forward_inference.unchanged"))


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
        own: dict | None = {"running_mean": kwargs.get("running_mean", np.zeros(D)),
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
        for name in ("running_mean", "running_var"):
            what = say("a2.test_running_stats.after", name=name, momentum=m)
            got = array(feedback, bn.get(name, timeout=10), what=what, shape=(D,))
            if (own is not None and normwise_rel_error(got, getattr(ref, name)) > TOL64
                    and normwise_rel_error(got, own[name]) <= TOL64):
                continue  # right for the statistics your forward computed
            close(feedback, got, getattr(ref, name), what=what, tol=TOL64,
                  hint=say("a2.test_running_stats.rule"))


# ------------------------------------------------------------------ gradient check

# N ≥ 3: at N = 2 every xhat is ±1 whatever x, so dx is only ~1e-5 (an effect of eps) and
# a relative error on it measures rounding, not the formula.
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


# Slips of dx, each as what it computes from (dout, xhat, invstd, gamma, the layer's
# running_var): named only when the student's dx is what it computes, recomputed here.
DX_SLIPS = {
    "no_variance_path": lambda dout, xhat, invstd, gamma, running_var: (
        gamma * invstd / dout.shape[0] * (dout.shape[0] * dout - dout.sum(axis=0))),
    "no_mean_path": lambda dout, xhat, invstd, gamma, running_var: (
        gamma * invstd / dout.shape[0] * (dout.shape[0] * dout
                                          - xhat * (dout * xhat).sum(axis=0))),
    "running_variance": lambda dout, xhat, invstd, gamma, running_var: (
        gamma / np.sqrt(running_var + EPS) / dout.shape[0]
        * (dout.shape[0] * dout - dout.sum(axis=0) - xhat * (dout * xhat).sum(axis=0))),
}


@pytest.fixture(scope="module")
def gradient_cases():
    """The verified reference gradients: a fixture, so that a failed self-check stops the
    run while setting up a check, before that check has a result."""
    return [_gradient_case(index) for index in range(len(GRAD_CASES))]


def _own_sums(bn, D):
    """The student's dgamma and dbeta after a backward, as float64 (D,) arrays, or None."""
    sums = [bn.get(name, timeout=10) for name in ("dgamma", "dbeta")]
    if all(isinstance(a, np.ndarray) and a.shape == (D,) and a.dtype.kind == "f"
           and np.all(np.isfinite(a)) for a in sums):
        return [a.astype(np.float64) for a in sums]
    return None


def _dx_slip(dout, gamma, state, got, running_var) -> str | None:
    """The DX_SLIPS entry a wrong dx is, recomputed at the student's forward state."""
    if state is None:
        return None
    running_var = np.asarray(running_var, dtype=np.float64) if isinstance(
        running_var, np.ndarray) and running_var.shape == gamma.shape else None
    found = matching(got, {name: (lambda f=f: f(dout, state.xhat, state.invstd, gamma,
                                                running_var))
                           for name, f in DX_SLIPS.items()
                           if running_var is not None or name != "running_variance"}, GRAD_TOL)
    return found[0] if found else None


def _check_gradient(worker, feedback, gradient_cases, name):
    """One of dx, dgamma, dbeta against the reference; also accepted when it is right for
    what the student's forward computed (its state) and, for dx, for the student's own
    dgamma and dbeta (a wrong dgamma costs test_backward_dgamma, not dx too)."""
    k = ("dx", "dgamma", "dbeta").index(name)
    for (N, D), case in zip(GRAD_CASES, gradient_cases, strict=True):
        x, gamma, beta, dout, dx, dgamma, dbeta = case
        expected = (dx, dgamma, dbeta)[k]
        bn = worker.create(BN, gamma, beta, timeout=10)
        out = bn.call("forward", x, train_flg=True, timeout=10)
        got_dx = bn.call("backward", dout, timeout=10)
        got = got_dx if name == "dx" else bn.get(name, timeout=10)
        what = say("a2.common.gradient", name=name, N=N, D=D)
        got = array(feedback, got, what=what, shape=expected.shape)
        if normwise_rel_error(got, expected) <= GRAD_TOL:
            continue
        state = _state(x, gamma, beta, out, _reference(gamma, beta).forward(x, train_flg=True))
        if state is not None:
            if normwise_rel_error(got, state.backward(dout, gamma)[k]) <= GRAD_TOL:
                continue  # right for what your forward computed: the forward check grades it
            sums = _own_sums(bn, D) if name == "dx" else None
            if sums is not None and normwise_rel_error(
                    got, state.dx_for(dout, gamma, *sums)) <= GRAD_TOL:
                continue  # right for your dgamma and dbeta: their checks grade them
        slip = (_dx_slip(dout, gamma, state, got, bn.get("running_var", timeout=10))
                if name == "dx" else None)
        hint = say("a2.common.gradient_hint", rule=say(f"a2.common.rule_{name}"),
                   slip=say(f"a2.test_backward_dx.{slip}") if slip else plain(""))
        close(feedback, got, expected, what=what, tol=GRAD_TOL, hint=hint)


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
    seen = []  # (what, after, before)
    for mode in (True, False):
        _out, (x_after,) = bn.call("forward", x, train_flg=mode, timeout=10, return_args=True)
        seen.append((say("a2.test_inputs_not_modified.x_after", mode=mode), x_after, x))
        if mode:
            _dx, (dout_after,) = bn.call("backward", dout, timeout=10, return_args=True)
            seen.append((say("a2.test_inputs_not_modified.dout_after"), dout_after, dout))
    seen.append((say("a2.test_inputs_not_modified.param_after", name="gamma"),
                 bn.get("gamma", timeout=10), gamma))
    seen.append((say("a2.test_inputs_not_modified.param_after", name="beta"),
                 bn.get("beta", timeout=10), beta))
    for what, after, before in seen:
        if not (isinstance(after, np.ndarray) and after.shape == before.shape
                and np.array_equal(after, before)):
            feedback.fail(say("a2.test_inputs_not_modified.modified", what=what,
                              after=described(after), before=described(before)))


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
    feedback.fail(say("a2.test_batch_of_one_rejected.accepted", got=described(got)))


# ------------------------------------------------------------------ speed

SPEED_SHAPE = (128, 100)
MIN_SPEEDUP, PAIRS, ROUND_SECONDS, SPEED_GATE, DX_GATE = (
    T[k] for k in ("MIN_SPEEDUP", "PAIRS", "ROUND_SECONDS", "SPEED_GATE", "DX_GATE"))
# Memoizing or faking the timed run (grader.timing.varied): every timed call gets one element of x
# and of dout changed (put back after the call); out and dx at those elements travel with
# each round's "done" and must match dlkit's layer replayed here: out within SPEED_GATE, dx
# within DX_GATE (dx is graded by the gradient checks).
STUDENT_VARY = dict(perturb=((0, 0), (1, 0)),
                    probes=((0, varied.RESULT, 0, 2), (1, varied.RESULT, 1, 2)),
                    tol=(SPEED_GATE, DX_GATE), names=("forward: out", "backward: dx"))
REFERENCE_VARY = dict(STUDENT_VARY, tol=(1e-9, 1e-9))


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
        feedback.fail(messages.timed_run_mismatch(exc.name, exc.error, exc.tol))
    # The timed run must compute a batch normalization: within SPEED_GATE of the reference
    # (exactness is what the other checks grade; a mistake such as ddof=1, 0.4 % off at
    # N = 128, costs those checks, not the speed points too).
    close(feedback, out, expected_out, what=say("a2.test_speed.timed_forward", N=N, D=D),
          tol=SPEED_GATE, hint=say("a2.test_speed.gate"))
    array(feedback, dx, what=say("a2.test_speed.timed_backward", N=N, D=D), shape=(N, D))
    numbers = say("a2.test_speed.numbers", N=N, D=D, yours=1e6 * speed.student_seconds,
                  book=1e6 * speed.reference_seconds, speedup=speed.median, pairs=speed.pairs,
                  spread=speed.spread())
    if not speed.median >= MIN_SPEEDUP:
        feedback.fail(say("a2.test_speed.too_slow", numbers=numbers, least=MIN_SPEEDUP,
                          times=1 / MIN_SPEEDUP))
    feedback.note(say("a2.test_speed.measured", numbers=numbers))
