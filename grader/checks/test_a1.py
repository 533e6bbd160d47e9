"""Hidden checks, assignment 1: weight initialization and the spread of activations.

Student API (a1_initialization/initializers.py):
    init_weight(n_in, n_out, scheme, rng) -> (n_in, n_out)   "zeros" | float std | "xavier" | "he"
    layer_activations(x, weights, activation) -> [z_1, ..., z_L]   a = z·W, z = f(a)
    spread_stats(z, activation) -> {"mean", "std", "saturated", "zero"}

Statistical tolerances: for n = n_in·n_out draws from N(0, σ²) the sample std has a relative
standard error of 1/√(2n), the sample mean σ/√n, the excess kurtosis √(24/n).  Every
tolerance below is Z_TOL = 6 standard errors: a correct implementation fails with probability
< 1e-8 per number, while the mistakes we look for are off by 30 % or more.
"""

from __future__ import annotations

import math

import numpy as np

from grader.checks._expect import array, close, describe, requires
from grader.ipc.protocol import Rng
from grader.sandbox.handle import StudentError

INIT = "a1_initialization.initializers:init_weight"
LAYERS = "a1_initialization.initializers:layer_activations"
STATS = "a1_initialization.initializers:spread_stats"

Z_TOL = 6.0
# (n_in, n_out): square, wide, tall and the MNIST input layer; n_in != n_out tells σ=√(1/n_in)
# apart from σ=√(1/n_out) and from Glorot's √(2/(n_in+n_out)).
SHAPES = [(100, 100), (20, 500), (300, 50), (784, 100)]


def _draw(worker, feedback, n_in, n_out, scheme, seed):
    w = worker.call(INIT, n_in, n_out, scheme, Rng(seed), timeout=20)
    return array(
        feedback, w, what=f"init_weight({n_in}, {n_out}, {scheme!r}, rng)",
        shape=(n_in, n_out),
    )


def _check_normal_std(feedback, w, sigma, label, *, kurtosis=False):
    """Sample mean ≈ 0 and sample std ≈ sigma within Z_TOL standard errors."""
    n = w.size
    mean, std = float(np.mean(w)), float(np.std(w))
    tol_std = Z_TOL / math.sqrt(2 * n)
    if abs(std / sigma - 1) > tol_std:
        ratio = std / sigma
        guess = _guess_scale(ratio, w.shape)
        feedback.fail(
            en=(f"{label}: expected std {sigma:.5g} (±{100 * tol_std:.1f} %), got std {std:.5g} "
                f"({ratio:.3f} × the expected value).{guess[0]}"),
            ja=(f"{label}: 標準偏差 {sigma:.5g}（±{100 * tol_std:.1f} %）を期待しましたが、"
                f"{std:.5g}（期待値の {ratio:.3f} 倍）でした。{guess[1]}"),
        )
    tol_mean = Z_TOL * sigma / math.sqrt(n)
    if abs(mean) > tol_mean:
        feedback.fail(
            en=f"{label}: expected mean 0 (±{tol_mean:.2g}), got mean {mean:.4g}.",
            ja=f"{label}: 平均 0（±{tol_mean:.2g}）を期待しましたが、平均は {mean:.4g} でした。",
        )
    if kurtosis:
        # N(0, σ²) has excess kurtosis 0; U(−a, a) has −1.2.
        excess = float(np.mean((w - mean) ** 4) / std**4 - 3.0)
        tol_k = Z_TOL * math.sqrt(24.0 / n)
        if abs(excess) > tol_k:
            feedback.fail(
                en=(f"{label}: expected normally distributed values N(0, σ²) (excess kurtosis "
                    f"0 ± {tol_k:.2f}), got excess kurtosis {excess:.2f} (a uniform "
                    f"distribution has −1.2). Draw with rng.normal or rng.standard_normal."),
                ja=(f"{label}: 正規分布 N(0, σ²) の値（超過尖度 0 ± {tol_k:.2f}）を期待しましたが、"
                    f"超過尖度は {excess:.2f} でした（一様分布なら −1.2）。rng.normal か "
                    f"rng.standard_normal で生成してください。"),
            )


def _guess_scale(ratio, shape):
    """A hint when the std matches a common wrong formula (en, ja)."""
    n_in, n_out = shape
    if abs(ratio - math.sqrt(2)) < 0.03:
        return (" That is √2 too large: did you use √(2/n) where √(1/n) is asked?",
                "√2 倍大きすぎます。√(1/n) のところで √(2/n) を使っていませんか。")
    if abs(ratio - 1 / math.sqrt(2)) < 0.03:
        return (" That is √2 too small: did you use √(1/n) where √(2/n) is asked?",
                "√2 倍小さすぎます。√(2/n) のところで √(1/n) を使っていませんか。")
    if n_in != n_out and abs(ratio - math.sqrt(n_in / n_out)) < 0.05:
        return (" That matches n = n_out; the lesson's n is n_in, the units of the previous layer.",
                "n = n_out になっています。n は前の層のノード数 n_in です。")
    return ("", "")


def _draws_random_weights(worker, feedback):
    """The main result the secondary init_weight checks depend on: a float σ gives random
    weights (not all equal; their exact std is test_init_float_std's to grade)."""
    w = _draw(worker, feedback, 100, 100, 0.1, 10)
    if not np.std(w) > 0:
        feedback.fail(en=f"init_weight(100, 100, 0.1, rng) gave {describe(w)}: all equal",
                      ja=f"init_weight(100, 100, 0.1, rng) は {describe(w, 'ja')} で、すべて同じ値")


_FLOAT_STD = ("init_weight drawing random weights for a float σ",
              "浮動小数点数 σ に対して init_weight が乱数の重みを返すこと")


def test_init_shape_and_dtype(worker, feedback):
    """W has shape (n_in, n_out) and dtype float64, for the random schemes ("zeros" is
    test_init_zeros's: one mistake there costs that check only)."""
    requires(feedback, *_FLOAT_STD, _draws_random_weights, worker, feedback)
    for scheme in (0.05, "xavier", "he"):
        w = _draw(worker, feedback, 30, 20, scheme, 14)
        if w.dtype != np.float64:
            feedback.fail(
                en=f"init_weight(30, 20, {scheme!r}, rng): expected dtype float64, got {w.dtype}.",
                ja=(f"init_weight(30, 20, {scheme!r}, rng): dtype float64 を期待しましたが、"
                    f"{w.dtype} でした。"))


def test_init_zeros(worker, feedback):
    requires(feedback, *_FLOAT_STD, _draws_random_weights, worker, feedback)
    for n_in, n_out in [(100, 100), (20, 500)]:
        w = _draw(worker, feedback, n_in, n_out, "zeros", 0)
        if not np.all(w == 0):
            feedback.fail(
                en=(f"init_weight({n_in}, {n_out}, 'zeros', rng): expected all zeros, got "
                    f"{int(np.sum(w != 0))} non-zero value(s) ({describe(w)})."),
                ja=(f"init_weight({n_in}, {n_out}, 'zeros', rng): すべて 0 を期待しましたが、"
                    f"0 でない値が {int(np.sum(w != 0))} 個ありました（{describe(w, 'ja')}）。"),
            )


def test_init_float_std(worker, feedback):
    for (n_in, n_out), std in zip(SHAPES, [0.01, 1.0, 0.05, 0.3], strict=True):
        w = _draw(worker, feedback, n_in, n_out, std, 11)
        _check_normal_std(feedback, w, std, f"init_weight({n_in}, {n_out}, {std}, rng)",
                          kurtosis=True)


def test_init_xavier(worker, feedback):
    for n_in, n_out in SHAPES:
        w = _draw(worker, feedback, n_in, n_out, "xavier", 12)
        _check_normal_std(feedback, w, math.sqrt(1.0 / n_in),
                          f"init_weight({n_in}, {n_out}, 'xavier', rng) (σ = √(1/n_in))")


def test_init_he(worker, feedback):
    for n_in, n_out in SHAPES:
        w = _draw(worker, feedback, n_in, n_out, "he", 13)
        _check_normal_std(feedback, w, math.sqrt(2.0 / n_in),
                          f"init_weight({n_in}, {n_out}, 'he', rng) (σ = √(2/n_in))")


def _seed_global_numpy(worker, seed):
    """Reseed the worker's global NumPy generator (np.random.seed), between two draws."""
    worker.call("numpy.random:seed", seed, timeout=10)


def test_init_uses_rng(worker, feedback):
    """Same Rng seed → same weights, whatever the global NumPy state; other seed → others."""
    requires(feedback, *_FLOAT_STD, _draws_random_weights, worker, feedback)
    for scheme in ("he", 0.1):
        label = f"init_weight(50, 40, {scheme!r}, rng)"
        _seed_global_numpy(worker, 1)
        first = _draw(worker, feedback, 50, 40, scheme, 7)
        _seed_global_numpy(worker, 2)
        np_draw = worker.call("numpy.random:random", 3, timeout=10)  # move the global state
        del np_draw
        again = _draw(worker, feedback, 50, 40, scheme, 7)
        if not np.array_equal(first, again):
            feedback.fail(
                en=(f"{label}: expected the same weights from two generators with the same seed "
                    f"(np.random.default_rng(7)), got different ones. Draw only from the rng "
                    f"argument (rng.normal / rng.standard_normal), never from np.random.*."),
                ja=(f"{label}: 同じシードの生成器（np.random.default_rng(7)）からは同じ重みを期待"
                    f"しましたが、異なる重みが返されました。引数 rng（rng.normal / "
                    f"rng.standard_normal）だけから乱数を引き、np.random.* は使わないでください。"),
            )
        other = _draw(worker, feedback, 50, 40, scheme, 8)
        if np.array_equal(first, other):
            feedback.fail(
                en=(f"{label}: expected different weights for different seeds of rng (7 and 8), "
                    f"got identical ones. Draw from the rng you are given, not from a generator "
                    f"of your own with a fixed seed."),
                ja=(f"{label}: rng のシードが異なれば（7 と 8）異なる重みを期待しましたが、"
                    f"同一でした。"
                    f"固定シードの自前の生成器ではなく、渡された rng から乱数を引いてください。"),
            )


def test_init_rejects_unknown_scheme(worker, feedback):
    """A scheme that is none of "zeros", a float σ ≥ 0, "xavier", "he" raises ValueError."""
    requires(feedback, *_FLOAT_STD, _draws_random_weights, worker, feedback)
    for scheme in ("kaiming", "lecun", -0.5, float("nan")):
        try:
            got = worker.call(INIT, 10, 10, scheme, Rng(0), timeout=20)
        except StudentError as exc:
            if exc.type_name == "ValueError":
                continue
            raise
        feedback.fail(
            en=(f"init_weight(10, 10, {scheme!r}, rng): expected ValueError for a scheme that "
                f"is none of 'zeros', a float σ ≥ 0, 'xavier', 'he', got {describe(got)}."),
            ja=(f"init_weight(10, 10, {scheme!r}, rng): 'zeros'・0 以上の浮動小数点数 σ・"
                f"'xavier'・'he' のどれでもない scheme には ValueError を期待しましたが、"
                f"{describe(got, 'ja')} が返されました。"))


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
        feedback.fail(
            en=(f"layer_activations(x, weights, {activation!r}) with {len(weights)} weight "
                f"matrices: expected a list of {len(weights)} arrays (one per layer), got "
                f"{describe(zs)}."),
            ja=(f"layer_activations(x, weights, {activation!r})（重み行列 {len(weights)} 個）: "
                f"層ごとに 1 つ、{len(weights)} 個の配列のリストを期待しましたが、"
                f"{describe(zs, 'ja')} が返されました。"),
        )
    return [
        array(feedback, z, what=f"layer_activations(..., {activation!r})[{k}]",
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
        close(feedback, g, e, what=f"layer_activations(x, weights, {activation!r}), layer {k + 1}",
              what_ja=f"layer_activations(x, weights, {activation!r}) の第 {k + 1} 層", tol=1e-10,
              hint_en="Each layer computes a = z·W (no bias) and z = f(a), starting from z = x.",
              hint_ja="各層は z = x から始めて a = z·W（バイアスなし）、z = f(a) を計算します。")


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


# "mean"/"std" are compared within 1e-4 of max(|value|, std(z)): np.std with ddof 0 or 1
# differ by 5e-6 on these 10⁵ values, either is accepted. Fractions are counts / 10⁵, compared
# within 1e-9 absolute (one value miscounted is 1e-5).
STAT_TOL = {"mean": 1e-4, "std": 1e-4, "saturated": 1e-9, "zero": 1e-9}
STAT_RULE = {
    "saturated": ("sigmoid: fraction < 0.1 or > 0.9; tanh: fraction |z| > 0.9; relu: 0.0",
                  "sigmoid: 0.1 未満または 0.9 超の割合、tanh: |z| > 0.9 の割合、relu: 0.0"),
    "zero": ("the fraction of values exactly 0", "ちょうど 0 である値の割合"),
    "mean": ("the mean of all values of z", "z の全要素の平均"),
    "std": ("the standard deviation of all values of z", "z の全要素の標準偏差"),
}


def _check_stats(worker, feedback, activation):
    z = _sample_activations(activation)
    expected = _expected_stats(z, activation)
    got = worker.call(STATS, z, activation, timeout=20)
    if not isinstance(got, dict) or set(expected) - set(got):
        feedback.fail(
            en=(f"spread_stats(z, {activation!r}): expected a dict with keys "
                f"{sorted(expected)}, got {describe(got)}."),
            ja=(f"spread_stats(z, {activation!r}): キー {sorted(expected)} を持つ dict を"
                f"期待しましたが、"
                f"{describe(got, 'ja')} が返されました。"),
        )
    for key, value in expected.items():
        seen = got[key]
        try:
            seen_f = float(seen)
        except (TypeError, ValueError):
            seen_f = math.nan
        scale = max(abs(value), float(np.std(z))) if key in ("mean", "std") else 1.0
        if not abs(seen_f - value) <= STAT_TOL[key] * scale:
            rule_en, rule_ja = STAT_RULE[key]
            feedback.fail(
                en=(f"spread_stats(z, {activation!r})[{key!r}]: expected {value:.6g} ({rule_en}), "
                    f"got {describe(seen)}."),
                ja=(f"spread_stats(z, {activation!r})[{key!r}]: {value:.6g}（{rule_ja}）を"
                    f"期待しましたが、"
                    f"{describe(seen, 'ja')} でした。"),
            )


def test_spread_stats_sigmoid(worker, feedback):
    _check_stats(worker, feedback, "sigmoid")


def test_spread_stats_tanh(worker, feedback):
    _check_stats(worker, feedback, "tanh")


def test_spread_stats_relu(worker, feedback):
    _check_stats(worker, feedback, "relu")


# ------------------------------------------------------------------ the lesson's claims
#
# The histogram experiment: x ~ N(0, 1) of 1000×100, 5 layers of 100 units, with the student's
# init_weight and layer_activations; statistics computed here, on the trusted side.
# Calibration (python -m grader.calibrate.a1_spread solutions, seeds 0–29):
#   sigmoid σ=1:  min over the 5 layers of the saturated fraction 0.69 – 0.75   threshold ≥ 0.5
#   relu He:      std(layer 5) / std(layer 1) 0.68 – 1.28                 accepted range [0.5, 2]
#   relu Xavier:  the same ratio 0.17 – 0.32 (He written as √(1/n) must fail: < 0.5)
#   relu σ=0.01:  the same ratio 1.7e-5 – 3.2e-5                          threshold < 1e-2
# The He ratio is the geometric mean over 3 seeds: its log has a spread (sd) of ≈ 0.15 for one
# seed, ≈ 0.09 for three, and 0.5 lies ≈ 0.7 (in log) from both He (≈ 1) and Xavier (≈ 0.25).


def _lesson_parts_right(worker, feedback, activation, scheme):
    """The lesson's claims are reproduced with the student's init_weight and
    layer_activations: they pay only when both are right for this setting."""
    _check_layer_activations(worker, feedback, activation)
    w = _draw(worker, feedback, 100, 100, scheme, 9)
    sigma = {"he": math.sqrt(2.0 / 100)}.get(scheme, scheme)
    _check_normal_std(feedback, w, sigma, f"init_weight(100, 100, {scheme!r}, rng)")


def _lesson(worker, feedback, activation, scheme, seed):
    requires(feedback, f"layer_activations({activation!r}) and init_weight({scheme!r})",
             f" layer_activations({activation!r}) と init_weight({scheme!r}) ",
             _lesson_parts_right, worker, feedback, activation, scheme)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1000, 100))
    weights = [_draw(worker, feedback, 100, 100, scheme, seed + 1 + k) for k in range(5)]
    return _activations(worker, feedback, x, weights, activation)


def test_claim_sigmoid_std1_saturates(worker, feedback):
    zs = _lesson(worker, feedback, "sigmoid", 1.0, 100)
    fractions = [float(np.mean((z < 0.1) | (z > 0.9))) for z in zs]
    if not min(fractions) >= 0.5:
        feedback.fail(
            en=(f"Sigmoid with σ = 1, 5 layers: expected most activations near 0 or 1 "
                f"(fraction < 0.1 or > 0.9 at least 0.5 in every layer), got fractions "
                f"{[round(f, 3) for f in fractions]}."),
            ja=(f"シグモイド、σ = 1、5 層: 活性化の大半が 0 か 1 の近く（0.1 未満または "
                f"0.9 超の割合が"
                f"全層で 0.5 以上）になることを期待しましたが、割合は "
                f"{[round(f, 3) for f in fractions]} でした。"),
        )


def _std_ratio(zs):
    return float(np.std(zs[4]) / max(np.std(zs[0]), 1e-300))


def test_claim_relu_he_keeps_spread(worker, feedback):
    ratios = [_std_ratio(_lesson(worker, feedback, "relu", "he", seed))
              for seed in (200, 210, 220)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.exp(np.mean(np.log(ratios))))
    each = ", ".join(f"{r:.3g}" for r in ratios)
    if not 0.5 <= ratio <= 2.0:
        feedback.fail(
            en=(f"ReLU with He initialization, 5 layers: expected the std of layer 5 to stay "
                f"near that of layer 1 (ratio in [0.5, 2], geometric mean of 3 runs), got ratio "
                f"{ratio:.3g} (runs: {each})."),
            ja=(f"ReLU と He の初期値、5 層: 第 5 層の標準偏差が第 1 層と同程度（3 回の幾何平均の"
                f"比が [0.5, 2]）であることを期待しましたが、比は {ratio:.3g} でした"
                f"（各回: {each}）。"),
        )


def test_claim_relu_001_collapses(worker, feedback):
    ratio = _std_ratio(_lesson(worker, feedback, "relu", 0.01, 300))
    if not ratio < 1e-2:
        feedback.fail(
            en=(f"ReLU with σ = 0.01, 5 layers: expected the activations to shrink toward 0 "
                f"(std of layer 5 below 1/100 of layer 1's), got ratio {ratio:.3g}."),
            ja=(f"ReLU、σ = 0.01、5 層: 活性化が 0 に向かって縮む（第 5 層の標準偏差が第 1 層の "
                f"1/100 未満）ことを期待しましたが、比は {ratio:.3g} でした。"),
        )
