"""The lesson's claims, checked on measured results, seed by seed.

``evaluate_claims(results)`` takes the experiments' :class:`Result` objects (by experiment
name) and returns one :class:`Claim` per statement of the lesson it can check: the statement,
the numbers behind it, on how many seeds it held, and PASS (it held on every seed) or FAIL.
A claim whose experiment or configuration was not run is left out. The claims behind the
book's four figures are here; what the slides also say (gradients, Xavier or He per
activation, BatchNorm's speed, overfitting) is in :mod:`dlkit.experiments.claims_slides`.

Every threshold below is a named constant with the reason for its value; they are the
course's statements turned into numbers, not fitted to a run.
"""

from __future__ import annotations

import math

import numpy as np

from dlkit.experiments import claims_slides as slides
from dlkit.experiments.claim import Claim, final_loss
from dlkit.experiments.claim import fmt as _fmt
from dlkit.experiments.results import Result

__all__ = ["Claim", "evaluate_claims", "final_loss"]

# --- symmetry -------------------------------------------------------------------------
#: units count as identical when their weights differ by at most this much: the same
#: arithmetic on the same numbers gives exactly 0; the margin only allows BLAS to sum a
#: column in a different order (rounding ~1e-16 relative to weights of order 1).
IDENTICAL_TOL = 1e-12
#: a random start keeps units clearly different: Xavier weights differ by ~0.26 at least.
DISTINCT_MIN = 1e-3

# --- activation histograms ------------------------------------------------------------
#: "most activations saturated": more than half of them where sigmoid's slope < 0.09.
SATURATED_MOST = 0.5
#: "piles up at 0.5": σ=0.01 gives std ≈ 0.025 in layer 1 (0.25·0.1) and ≈ 0.012 after.
PILED_STD = 0.03
PILED_MEAN_TOL = 0.05
#: "spread kept" with Xavier: sigmoid std ≥ 0.1 (4× σ=0.01's bound, measured 0.11–0.21),
#: tanh std ≥ 0.25 (measured 0.32–0.63) in every layer, and few saturated units (< 10%
#: after layer 1; layer 1 of tanh sees input of std 1 and saturates ~14%).
SIGMOID_XAVIER_STD = 0.1
TANH_XAVIER_STD = 0.25
XAVIER_SATURATED_MAX = 0.1
#: "collapses toward 0": each ReLU layer with σ=0.01 scales the std by ≈ 0.1/√2, so layer 5
#: is ~1e-5 of layer 1; 1e-3 leaves a wide margin.
COLLAPSE_RATIO = 1e-3
#: "drifts toward 0" with Xavier: ReLU halves the second moment, so std(L5)/std(L1) ≈ 0.25.
DRIFT_RATIO = 0.5
#: "spread kept" with He: std(L5)/std(L1) within a factor 1.6 (the lesson's statement;
#: measured 0.84–1.26 over 10 seeds).
HE_FACTOR = 1.6

# --- init_compare ---------------------------------------------------------------------
#: "stays near ln 10": within 0.1 of chance-level cross-entropy ln(classes).
STUCK_TOL = 0.1

# --- batchnorm_compare ----------------------------------------------------------------
#: a run "learned" when its final training accuracy is at least 0.5 (chance is 0.1).
LEARNED_ACC = 0.5
#: "too small or too large still slows": the extreme scales end this far below BN's best.
EXTREME_GAP = 0.1


# ----------------------------------------------------------------------------- symmetry
def _symmetry_claims(r: Result) -> list[Claim]:
    claims = []
    steps = r.settings["steps"]
    for label, d in r.data["inits"].items():
        symmetric = not d["spread"][:, 0, :].any()  # all units equal before training
        final = d["spread"][:, -1, :]  # (S, layers)
        worst = d["spread"].max(axis=(1, 2))  # (S,) over all steps and layers
        moved = d["moved"].min(axis=1)
        if symmetric:
            held = [bool(w <= IDENTICAL_TOL) for w in worst]
            claims.append(Claim(
                "symmetry",
                f"Initial weights {label!r}: all hidden units of a layer stay identical "
                f"through {steps} training steps (units differ by ≤ {IDENTICAL_TOL:g}).",
                held,
                f"largest difference between units over all steps, per seed: {_fmt(worst)}; "
                f"yet the hidden weights moved by {_fmt(moved)}",
                {"max_spread": worst, "moved": moved},
            ))
        else:
            least = final.min(axis=1)
            held = [bool(v >= DISTINCT_MIN) for v in least]
            claims.append(Claim(
                "symmetry",
                f"Random initial weights {label!r} break the symmetry: after {steps} steps "
                f"the units of every hidden layer differ by ≥ {DISTINCT_MIN:g}.",
                held,
                f"smallest over layers of the units' difference at the end, per seed: "
                f"{_fmt(least)}",
                {"min_final_spread": least},
            ))
    return claims


# ----------------------------------------------------------------- activation histograms
def _histogram_claims(r: Result) -> list[Claim]:
    c = r.data["configs"]
    claims = []

    def add(name, statement, held_fn, evidence_fn):
        if name in c:
            d = c[name]
            claims.append(Claim("activation_histograms", f"{name}: {statement}",
                                [bool(h) for h in held_fn(d)], evidence_fn(d),
                                {k: d[k] for k in ("mean", "std", "saturated", "zero")}))

    def ratio(d):
        return d["std"][:, -1] / d["std"][:, 0]

    add("sigmoid, σ=1",
        f"activations pile up at 0 and 1: more than {SATURATED_MOST:.0%} saturated "
        "(z < 0.1 or z > 0.9) in every layer.",
        lambda d: (d["saturated"] > SATURATED_MOST).all(axis=1),
        lambda d: f"least saturated layer per seed: {_fmt(d['saturated'].min(axis=1), '.1%')}")
    add("sigmoid, σ=0.01",
        f"activations pile up at 0.5: std < {PILED_STD} and |mean − 0.5| < {PILED_MEAN_TOL} "
        "in every layer.",
        lambda d: (d["std"] < PILED_STD).all(axis=1)
        & (np.abs(d["mean"] - 0.5) < PILED_MEAN_TOL).all(axis=1),
        lambda d: f"largest std over layers per seed: {_fmt(d['std'].max(axis=1))}")
    for name, min_std, saturated in (("sigmoid, Xavier", SIGMOID_XAVIER_STD, "saturated"),
                                     ("tanh, Xavier", TANH_XAVIER_STD, "saturated (|z| > 0.9)")):
        add(name,
            f"the spread is kept: std ≥ {min_std} in every layer and less than "
            f"{XAVIER_SATURATED_MAX:.0%} {saturated} after layer 1.",
            lambda d, min_std=min_std: (d["std"] >= min_std).all(axis=1)
            & (d["saturated"][:, 1:] < XAVIER_SATURATED_MAX).all(axis=1),
            lambda d: f"smallest std over layers per seed: {_fmt(d['std'].min(axis=1))}")
    add("ReLU, σ=0.01",
        f"activations collapse toward 0: std(layer 5) < {COLLAPSE_RATIO:g} × std(layer 1).",
        lambda d: ratio(d) < COLLAPSE_RATIO,
        lambda d: f"std(layer 1) {_fmt(d['std'][:, 0])} → std(layer 5) {_fmt(d['std'][:, -1])}")
    add("ReLU, Xavier",
        f"deeper layers drift toward 0: std(layer 5) < {DRIFT_RATIO} × std(layer 1).",
        lambda d: ratio(d) < DRIFT_RATIO,
        lambda d: f"std(layer 5) / std(layer 1) per seed: {_fmt(ratio(d))}")
    add("ReLU, He",
        f"the spread is kept: std(layer 5) / std(layer 1) within a factor {HE_FACTOR}.",
        lambda d: (ratio(d) < HE_FACTOR) & (ratio(d) > 1 / HE_FACTOR),
        lambda d: f"std(layer 5) / std(layer 1) per seed: {_fmt(ratio(d))}")
    return claims


# ------------------------------------------------------------------------- init_compare
def _init_compare_claims(r: Result) -> list[Claim]:
    s = r.data["schemes"]
    claims = []
    chance = math.log(r.settings["output_size"])
    final = {label: final_loss(d["loss"]) for label, d in s.items()}
    acc = {label: d["test_acc"] for label, d in s.items()}
    if "std=0.01" in s:
        f = final["std=0.01"]
        claims.append(Claim(
            "init_compare",
            f"std=0.01 does not learn: its final loss stays within {STUCK_TOL} of "
            f"ln {r.settings['output_size']} = {chance:.3f} (chance).",
            [bool(abs(v - chance) < STUCK_TOL) for v in f],
            f"final loss per seed {_fmt(f, '.4f')}; test accuracy {_fmt(acc['std=0.01'], '.3f')}",
            {"final_loss": f, "test_acc": acc["std=0.01"]},
        ))
    if {"std=0.01", "Xavier", "He"} <= set(s):
        he, xa, small = final["He"], final["Xavier"], final["std=0.01"]
        losses = (f"final loss per seed: He {_fmt(he, '.4f')}, Xavier {_fmt(xa, '.4f')}, "
                  f"std=0.01 {_fmt(small, '.4f')}")
        numbers = {"final_loss": {"He": he, "Xavier": xa, "std=0.01": small}}
        claims.append(Claim(
            "init_compare",
            "He learns fastest: its final loss is the lowest of the three.",
            [bool(h < x and h < m) for h, x, m in zip(he, xa, small, strict=True)],
            f"{losses}; test accuracy He {_fmt(acc['He'], '.3f')}, "
            f"Xavier {_fmt(acc['Xavier'], '.3f')}",
            numbers,
        ))
        claims.append(Claim(
            "init_compare",
            "Xavier is close behind He: its final loss is nearer He's than std=0.01's.",
            [bool(abs(x - h) < abs(m - x)) for h, x, m in zip(he, xa, small, strict=True)],
            losses,
            numbers,
        ))
    return claims


# -------------------------------------------------------------------- batchnorm_compare
def _batchnorm_claims(r: Result) -> list[Claim]:
    scales = r.data["weight_scales"]
    K = len(scales)
    bn = r.data["batchnorm"]["train_acc"][:, :, -1]  # (S, K) final training accuracy
    plain = r.data["plain"]["train_acc"][:, :, -1]
    wins = (bn > plain).sum(axis=1)
    learned_bn = (bn >= LEARNED_ACC).sum(axis=1)
    learned_plain = (plain >= LEARNED_ACC).sum(axis=1)
    best = bn.max(axis=1)
    claims = [
        Claim(
            "batchnorm_compare",
            f"With BatchNorm the final training accuracy is higher than without for most "
            f"(more than half) of the {K} weight scales.",
            [bool(w > K / 2) for w in wins],
            f"scales where BN wins, per seed: {_fmt(wins, 'g')} of {K}",
            {"bn_wins": wins, "bn_final_acc": bn, "plain_final_acc": plain},
        ),
        Claim(
            "batchnorm_compare",
            f"BatchNorm depends less on the initial scale: it learns (final training accuracy "
            f"≥ {LEARNED_ACC}) from more of the {K} scales than the plain network.",
            [bool(b > p) for b, p in zip(learned_bn, learned_plain, strict=True)],
            f"scales that learned, per seed: with BN {_fmt(learned_bn, 'g')}, "
            f"without {_fmt(learned_plain, 'g')}",
            {"learned_bn": learned_bn, "learned_plain": learned_plain},
        ),
    ]
    if K >= 3:
        claims.append(Claim(
            "batchnorm_compare",
            f"Too small or too large a scale still slows BatchNorm down: at the largest "
            f"({scales[0]:.3g}) and smallest ({scales[-1]:.3g}) scale, BN's final accuracy is "
            f"more than {EXTREME_GAP} below its best.",
            [bool(b - bn[i, 0] > EXTREME_GAP and b - bn[i, -1] > EXTREME_GAP)
             for i, b in enumerate(best)],
            f"BN final accuracy per seed: best {_fmt(best, '.3f')}, at the largest scale "
            f"{_fmt(bn[:, 0], '.3f')}, at the smallest {_fmt(bn[:, -1], '.3f')}",
            {"best": best, "largest_scale": bn[:, 0], "smallest_scale": bn[:, -1]},
        ))
    return claims


_BY_EXPERIMENT = {
    "symmetry": (_symmetry_claims,),
    "activation_histograms": (_histogram_claims,),
    "gradient_flow": (slides.gradient_claims,),
    "init_compare": (_init_compare_claims,),
    "init_activations": (slides.init_activation_claims,),
    "batchnorm_compare": (_batchnorm_claims, slides.batchnorm_scale_speed_claims),
    "batchnorm_speed": (slides.batchnorm_speed_claims,),
    "overfitting": (slides.overfitting_claims,),
}


def evaluate_claims(results) -> list[Claim]:
    """The lesson's claims checked on ``results`` (a dict name -> Result, or a list).

    Claims come in the lesson's order: symmetry, histograms, gradients, init_compare, the
    initialization per activation, batchnorm, its speed, overfitting.
    """
    results = list(results.values()) if isinstance(results, dict) else list(results)
    for r in results:
        if not isinstance(r, Result):
            raise TypeError(f"results must be Result objects, got {type(r).__name__}")
        if r.experiment not in _BY_EXPERIMENT:
            raise ValueError(f"no claims for experiment {r.experiment!r}; expected one of "
                             f"{sorted(_BY_EXPERIMENT)}")
    claims = []
    for name, fns in _BY_EXPERIMENT.items():
        for r in results:
            if r.experiment == name:
                for fn in fns:
                    claims += fn(r)
    return claims
