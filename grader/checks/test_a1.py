"""Hidden checks, assignment 1: weight initialization and the spread of activations.

Student API (a1_initialization/initializers.py):
    init_weight(n_in, n_out, scheme, rng) -> (n_in, n_out)   "zeros" | float std | "xavier" | "he"
    layer_activations(x, weights, activation) -> [z_1, ..., z_L]   a = z·W, z = f(a)
    spread_stats(z, activation) -> {"mean", "std", "saturated", "zero"}

Statistical tolerances: for n = n_in·n_out draws from N(0, σ²) the sample std has a relative
standard error of 1/√(2n), the sample mean σ/√n, the excess kurtosis √(24/n).  Every
tolerance is Z_TOL standard errors (thresholds.toml [a1]).  Messages: grader/messages, keys
``a1.*``.
"""

from __future__ import annotations

import math

import numpy as np

from grader.checks.helpers import (
    array,
    close,
    described,
    join,
    plain,
    requires,
    say,
    thresholds,
)
from grader.ipc.protocol import Rng
from grader.sandbox.handle import StudentError

INIT = "a1_initialization.initializers:init_weight"
LAYERS = "a1_initialization.initializers:layer_activations"
STATS = "a1_initialization.initializers:spread_stats"

T = thresholds("a1")
Z_TOL = T["Z_TOL"]
# (n_in, n_out): square, wide, tall and the MNIST input layer; n_in != n_out tells σ=√(1/n_in)
# apart from σ=√(1/n_out) and from Glorot's √(2/(n_in+n_out)).
SHAPES = [(100, 100), (20, 500), (300, 50), (784, 100)]


def _draw(worker, feedback, n_in, n_out, scheme, seed, *, exact_shape=False):
    """The student's W for these arguments.  A W of shape (n_out, n_in) is returned
    transposed, so that its values are graded by the check that grades them: its shape is
    test_init_shape_and_dtype's (``exact_shape``), one slip, one cost."""
    w = worker.call(INIT, n_in, n_out, scheme, Rng(seed), timeout=20)
    what = plain(f"init_weight({n_in}, {n_out}, {scheme!r}, rng)")
    transposed = (isinstance(w, np.ndarray) and n_in != n_out and w.shape == (n_out, n_in))
    if transposed and not exact_shape:
        w = w.T
    elif transposed:
        feedback.fail(say("a1.test_init_shape_and_dtype.transposed", what=what,
                          shape=(n_in, n_out), got=w.shape))
    return array(feedback, w, what=what, shape=(n_in, n_out))


def _std_tolerance(n: int) -> float:
    """The relative tolerance of a sample std of n draws: Z_TOL standard errors."""
    return Z_TOL / math.sqrt(2 * n)


def _check_normal_std(feedback, w, sigma, label):
    """Sample mean ≈ 0 and sample std ≈ sigma within Z_TOL standard errors."""
    std = float(np.std(w))
    tol = _std_tolerance(w.size)
    if abs(std / sigma - 1) > tol:
        feedback.fail(say("a1.common.std_off", label=label, sigma=sigma, tol=100 * tol, std=std,
                          ratio=std / sigma))
    _check_mean_and_shape(feedback, w, sigma, label)


def _check_mean_and_shape(feedback, w, sigma, label, *, kurtosis=False):
    """Sample mean ≈ 0 (and, with ``kurtosis``, a normal rather than uniform distribution)."""
    n = w.size
    mean, std = float(np.mean(w)), float(np.std(w))
    tol_mean = Z_TOL * sigma / math.sqrt(n)
    if abs(mean) > tol_mean:
        feedback.fail(say("a1.common.mean_off", label=label, tol=tol_mean, mean=mean))
    if kurtosis and std > 0:
        # N(0, σ²) has excess kurtosis 0; U(−a, a) has −1.2.
        excess = float(np.mean((w - mean) ** 4) / std**4 - 3.0)
        tol_k = Z_TOL * math.sqrt(24.0 / n)
        if abs(excess) > tol_k:
            feedback.fail(say("a1.common.not_normal", label=label, tol=tol_k, excess=excess))


# Formulas for σ that a student may have written instead, each a function of (n_in, n_out)
# for a named scheme, or of the float scheme s.  A hint names one only when it gives the
# measured std on every shape drawn (within Z_TOL standard errors): a hypothesis tested on
# the numbers, not a guess from one ratio.  Otherwise the feedback says what was measured.
NAMED_SIGMA_FORMULAS = {
    "√(1/n_in)": lambda n_in, n_out: math.sqrt(1.0 / n_in),
    "√(2/n_in)": lambda n_in, n_out: math.sqrt(2.0 / n_in),
    "√(1/n_out)": lambda n_in, n_out: math.sqrt(1.0 / n_out),
    "√(2/n_out)": lambda n_in, n_out: math.sqrt(2.0 / n_out),
    "√(1/(n_in + n_out))": lambda n_in, n_out: math.sqrt(1.0 / (n_in + n_out)),
    "√(2/(n_in + n_out))": lambda n_in, n_out: math.sqrt(2.0 / (n_in + n_out)),
    "1/n_in": lambda n_in, n_out: 1.0 / n_in,
    "2/n_in": lambda n_in, n_out: 2.0 / n_in,
}
FLOAT_SIGMA_FORMULAS = {"√s": math.sqrt, "s²": lambda s: s * s}
RULES = {"xavier": "√(1/n_in)", "he": "√(2/n_in)"}


def _matching_formulas(draws, scheme) -> list[str]:
    """The formulas (other than the scheme's own) that give the measured std of every draw
    ``[((n_in, n_out), scheme, w), ...]``."""
    def sigmas(name):
        if isinstance(scheme, str):
            return [NAMED_SIGMA_FORMULAS[name](n_in, n_out) for (n_in, n_out), _, _ in draws]
        return [FLOAT_SIGMA_FORMULAS[name](s) for _, s, _ in draws]

    names = (NAMED_SIGMA_FORMULAS if isinstance(scheme, str) else FLOAT_SIGMA_FORMULAS)
    return [name for name in names if name != RULES.get(scheme)
            and all(sigma > 0 and abs(float(np.std(w)) / sigma - 1) <= _std_tolerance(w.size)
                    for sigma, (_, _, w) in zip(sigmas(name), draws, strict=True))]


def _check_scheme(worker, feedback, schemes, seed, sigma_of, rule):
    """init_weight over SHAPES (scheme ``schemes[k]`` for shape k): mean 0 and std
    ``sigma_of(n_in, n_out, scheme)`` on each.  A wrong std is reported for every shape, with
    the formula that explains all of them when exactly one does (``rule``: the right one)."""
    draws = [((n_in, n_out), scheme, _draw(worker, feedback, n_in, n_out, scheme, seed))
             for (n_in, n_out), scheme in zip(SHAPES, schemes, strict=True)]
    wrong = [((n_in, n_out), float(np.std(w)), sigma_of(n_in, n_out, scheme))
             for (n_in, n_out), scheme, w in draws
             if abs(float(np.std(w)) / sigma_of(n_in, n_out, scheme) - 1)
             > _std_tolerance(w.size)]
    if wrong:
        seen = join([say("a1.common.std_on_shape", shape=shape, std=std, sigma=sigma,
                         ratio=std / sigma) for shape, std, sigma in wrong])
        found = _matching_formulas(draws, schemes[0])
        hint = (say("a1.common.formula_matches", formula=found[0], rule=rule)
                if len(found) == 1 else plain(""))
        tol = max(_std_tolerance(n_in * n_out) for n_in, n_out in SHAPES)
        scheme = repr(schemes[0]) if isinstance(schemes[0], str) else "s"
        feedback.fail(say("a1.common.scheme_std_off", scheme=scheme, rule=rule, tol=100 * tol,
                          wrong=len(wrong), shapes=len(draws), seen=seen, hint=hint))
    for (n_in, n_out), scheme, w in draws:
        _check_mean_and_shape(feedback, w, sigma_of(n_in, n_out, scheme),
                              plain(f"init_weight({n_in}, {n_out}, {scheme!r}, rng)"),
                              kurtosis=not isinstance(scheme, str))


def _draws_random_weights(worker, feedback):
    """The main result the secondary init_weight checks depend on: a float σ gives random
    weights (not all equal; their exact std is test_init_float_std's to grade)."""
    w = _draw(worker, feedback, 100, 100, 0.1, 10)
    if not np.std(w) > 0:
        feedback.fail(say("a1.common.all_equal", got=described(w)))


def _float_std_gives_random_weights(worker, feedback):
    requires(feedback, say("a1.common.main_float_std"), _draws_random_weights, worker,
             feedback)


def test_init_shape_and_dtype(worker, feedback):
    """W has shape (n_in, n_out) and dtype float64, for the random schemes ("zeros" is
    test_init_zeros's: one mistake there costs that check only)."""
    _float_std_gives_random_weights(worker, feedback)
    for scheme in (0.05, "xavier", "he"):
        w = _draw(worker, feedback, 30, 20, scheme, 14, exact_shape=True)
        if w.dtype != np.float64:
            feedback.fail(say("a1.test_init_shape_and_dtype.dtype", scheme=scheme,
                              dtype=w.dtype))


def _transposes(worker) -> bool:
    """Whether the student's random W comes back as (n_out, n_in): a slip that
    test_init_shape_and_dtype charges (then "zeros" of that shape is not charged again)."""
    w = worker.call(INIT, 20, 500, 0.1, Rng(0), timeout=20)
    return isinstance(w, np.ndarray) and w.shape == (500, 20)


def test_init_zeros(worker, feedback):
    _float_std_gives_random_weights(worker, feedback)
    transposes = _transposes(worker)
    for n_in, n_out in [(100, 100), (20, 500)]:
        w = _draw(worker, feedback, n_in, n_out, "zeros", 0, exact_shape=not transposes)
        if not np.all(w == 0):
            feedback.fail(say("a1.test_init_zeros.not_zero", n_in=n_in, n_out=n_out,
                              count=int(np.sum(w != 0)), got=described(w)))


def test_init_float_std(worker, feedback):
    _check_scheme(worker, feedback, [0.01, 1.0, 0.05, 0.3], 11, lambda n_in, n_out, s: s, "s")


def test_init_xavier(worker, feedback):
    _check_scheme(worker, feedback, ["xavier"] * len(SHAPES), 12,
                  lambda n_in, n_out, s: math.sqrt(1.0 / n_in), RULES["xavier"])


def test_init_he(worker, feedback):
    _check_scheme(worker, feedback, ["he"] * len(SHAPES), 13,
                  lambda n_in, n_out, s: math.sqrt(2.0 / n_in), RULES["he"])


def _seed_global_numpy(worker, seed):
    """Reseed the worker's global NumPy generator (np.random.seed), between two draws."""
    worker.call("numpy.random:seed", seed, timeout=10)


def test_init_uses_rng(worker, feedback):
    """Same Rng seed → same weights, whatever the global NumPy state; other seed → others."""
    _float_std_gives_random_weights(worker, feedback)
    for scheme in ("he", 0.1):
        label = f"init_weight(50, 40, {scheme!r}, rng)"
        _seed_global_numpy(worker, 1)
        first = _draw(worker, feedback, 50, 40, scheme, 7)
        _seed_global_numpy(worker, 2)
        worker.call("numpy.random:random", 3, timeout=10)  # move the global state
        again = _draw(worker, feedback, 50, 40, scheme, 7)
        if not np.array_equal(first, again):
            feedback.fail(say("a1.test_init_uses_rng.not_same", label=label))
        other = _draw(worker, feedback, 50, 40, scheme, 8)
        if np.array_equal(first, other):
            feedback.fail(say("a1.test_init_uses_rng.not_different", label=label))


def test_init_rejects_unknown_scheme(worker, feedback):
    """A scheme that is none of "zeros", a float σ ≥ 0, "xavier", "he" raises ValueError."""
    _float_std_gives_random_weights(worker, feedback)
    for scheme in ("kaiming", "lecun", -0.5, float("nan")):
        try:
            got = worker.call(INIT, 10, 10, scheme, Rng(0), timeout=20)
        except StudentError as exc:
            if exc.type_name == "ValueError":
                continue
            raise
        feedback.fail(say("a1.test_init_rejects_unknown_scheme.accepted", scheme=scheme,
                          got=described(got)))


# ------------------------------------------------------------------ layer_activations


def _reference_activations(x, weights, activation):
    """The trusted answer, with dlkit's NumPy reference layers: a = z·W, z = f(a)."""
    from dlkit.reference import layers as ref

    layer = {"sigmoid": ref.Sigmoid, "tanh": ref.Tanh, "relu": ref.Relu}[activation]
    z, out = x, []
    for W in weights:
        z = layer().forward(np.dot(z, W))
        out.append(z)
    return out


def _activations(worker, feedback, x, weights, activation):
    zs = worker.call(LAYERS, x, weights, activation, timeout=20)
    if not isinstance(zs, (list, tuple)) or len(zs) != len(weights):
        feedback.fail(say("a1.common.not_a_list_of_layers", activation=activation,
                          n=len(weights), got=described(zs)))
    return [
        array(feedback, z, what=plain(f"layer_activations(..., {activation!r})[{k}]"),
              shape=(x.shape[0], W.shape[1]), finite=False)
        for k, (z, W) in enumerate(zip(zs, weights, strict=True))
    ]


def _check_layer_activations(worker, feedback, activation):
    rng = np.random.default_rng(21)
    x = rng.standard_normal((200, 30))
    # Scales chosen so that every layer keeps a spread (nothing is all 0 or all 1).
    weights = [rng.standard_normal(s) * math.sqrt(2.0 / s[0])
               for s in [(30, 40), (40, 20), (20, 20), (20, 10)]]
    expected = _reference_activations(x, weights, activation)
    got = _activations(worker, feedback, x, weights, activation)
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        close(feedback, g, e, what=say("a1.common.layer", activation=activation, k=k + 1),
              tol=T["LAYER_TOL"], hint=say("a1.common.layer_rule"))


def test_layer_activations_sigmoid(worker, feedback):
    _check_layer_activations(worker, feedback, "sigmoid")


def test_layer_activations_tanh(worker, feedback):
    _check_layer_activations(worker, feedback, "tanh")


def test_layer_activations_relu(worker, feedback):
    _check_layer_activations(worker, feedback, "relu")


# ------------------------------------------------------------------ spread_stats


def _expected_stats(z, activation):
    if activation == "sigmoid":
        saturated = np.mean((z < 0.1) | (z > 0.9))
    elif activation == "tanh":
        saturated = np.mean(np.abs(z) > 0.9)
    else:
        saturated = 0.0
    return {"mean": float(np.mean(z)), "std": float(np.std(z)),
            "saturated": float(saturated), "zero": float(np.mean(z == 0))}


def _sample_activations(activation):
    """1000×100 activations with saturated values, exact zeros and everything between."""
    rng = np.random.default_rng(31)
    a = rng.standard_normal((1000, 100)) * 2.5
    if activation == "sigmoid":
        z = 1 / (1 + np.exp(-a))
        z[:50] = 0.0  # exact zeros count as "zero" (and as saturated: < 0.1)
    elif activation == "tanh":
        z = np.tanh(a)
        z[:50] = 0.0
    else:
        z = np.maximum(a, 0.0)
    return z


# "mean"/"std" are compared relative to max(|value|, std(z)), fractions absolutely.
STAT_TOL = {"mean": T["STAT_MOMENT_TOL"], "std": T["STAT_MOMENT_TOL"],
            "saturated": T["STAT_FRACTION_TOL"], "zero": T["STAT_FRACTION_TOL"]}


def _check_stats(worker, feedback, activation):
    z = _sample_activations(activation)
    expected = _expected_stats(z, activation)
    got = worker.call(STATS, z, activation, timeout=20)
    if not isinstance(got, dict) or set(expected) - set(got):
        feedback.fail(say("a1.common.stats_not_a_dict", activation=activation,
                          keys=sorted(expected), got=described(got)))
    for key, value in expected.items():
        seen = got[key]
        try:
            seen_f = float(seen)
        except (TypeError, ValueError):
            seen_f = math.nan
        scale = max(abs(value), float(np.std(z))) if key in ("mean", "std") else 1.0
        if not abs(seen_f - value) <= STAT_TOL[key] * scale:
            feedback.fail(say("a1.common.stat_off", activation=activation, key=key,
                              value=value, rule=say(f"a1.common.rule_{key}"),
                              got=described(seen)))


def test_spread_stats_sigmoid(worker, feedback):
    _check_stats(worker, feedback, "sigmoid")


def test_spread_stats_tanh(worker, feedback):
    _check_stats(worker, feedback, "tanh")


def test_spread_stats_relu(worker, feedback):
    _check_stats(worker, feedback, "relu")


# ------------------------------------------------------------------ the lesson's claims
#
# The histogram experiment: x ~ N(0, 1) of 1000×100, 5 layers of 100 units, with the student's
# init_weight and layer_activations; statistics computed here, on the trusted side.  The
# thresholds and their calibration: thresholds.toml [a1] SATURATED_MIN, HE_RATIO,
# COLLAPSED_MAX.


def _lesson_parts_right(worker, feedback, activation, scheme):
    """The lesson's claims are reproduced with the student's init_weight and
    layer_activations: they pay only when both are right for this setting."""
    _check_layer_activations(worker, feedback, activation)
    w = _draw(worker, feedback, 100, 100, scheme, 9)
    sigma = {"he": math.sqrt(2.0 / 100)}.get(scheme, scheme)
    _check_normal_std(feedback, w, sigma, plain(f"init_weight(100, 100, {scheme!r}, rng)"))


def _lesson(worker, feedback, activation, scheme, seed):
    requires(feedback, say("a1.common.main_lesson", activation=activation, scheme=scheme),
             _lesson_parts_right, worker, feedback, activation, scheme)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1000, 100))
    weights = [_draw(worker, feedback, 100, 100, scheme, seed + 1 + k) for k in range(5)]
    return _activations(worker, feedback, x, weights, activation)


def test_claim_sigmoid_std1_saturates(worker, feedback):
    zs = _lesson(worker, feedback, "sigmoid", 1.0, 100)
    fractions = [float(np.mean((z < 0.1) | (z > 0.9))) for z in zs]
    if not min(fractions) >= T["SATURATED_MIN"]:
        feedback.fail(say("a1.test_claim_sigmoid_std1_saturates.not_saturated",
                          need=T["SATURATED_MIN"], fractions=[round(f, 3) for f in fractions]))


def _std_ratio(zs):
    return float(np.std(zs[4]) / max(np.std(zs[0]), 1e-300))


def test_claim_relu_he_keeps_spread(worker, feedback):
    ratios = [_std_ratio(_lesson(worker, feedback, "relu", "he", seed))
              for seed in (200, 210, 220)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.exp(np.mean(np.log(ratios))))
    low, high = T["HE_RATIO"]
    if not low <= ratio <= high:
        feedback.fail(say("a1.test_claim_relu_he_keeps_spread.spread_lost", low=low, high=high,
                          ratio=ratio, runs=", ".join(f"{r:.3g}" for r in ratios)))


def test_claim_relu_001_collapses(worker, feedback):
    ratio = _std_ratio(_lesson(worker, feedback, "relu", 0.01, 300))
    if not ratio < T["COLLAPSED_MAX"]:
        feedback.fail(say("a1.test_claim_relu_001_collapses.not_collapsed",
                          most=T["COLLAPSED_MAX"], ratio=ratio))
