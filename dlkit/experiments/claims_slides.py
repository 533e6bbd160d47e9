"""What the slides also say, checked: vanishing gradients, Xavier or He for each activation,
BatchNorm's faster learning and larger learning rates, BatchNorm and small weights against
overfitting.

Each function takes one experiment's :class:`Result` and returns its :class:`Claim` objects
(:func:`dlkit.experiments.claims.evaluate_claims` calls them). A statement is checked as the
slides make it; where the measurements show something else, that is a claim of its own, next
to it, and both keep their verdicts. Thresholds are named constants with their reasons.
"""

from __future__ import annotations

import math

import numpy as np

from dlkit.experiments.batchnorm_speed import steps_to_reach
from dlkit.experiments.claim import Claim, final_loss, fmt
from dlkit.experiments.results import Result

__all__ = ["gradient_claims", "init_activation_claims", "batchnorm_scale_speed_claims",
           "batchnorm_speed_claims", "overfitting_claims", "TARGET_ACC"]

# --- gradient_flow --------------------------------------------------------------------
#: "vanish": at the first hidden layer less than 1/10 of the size at the last one, an order
#: of magnitude over the four layers between them.
VANISH_FACTOR = 10.0
#: "small too": below 1/100 of He's gradient in the same layer, two orders of magnitude.
SMALL_FACTOR = 100.0
#: "keeps its scale": over the hidden layers, the largest at most twice the smallest
#: (vanishing gradients differ by orders of magnitude, a kept scale by a small factor).
KEEP_FACTOR = 2.0

# --- learning speed -------------------------------------------------------------------
#: the training accuracy whose reaching is timed in batchnorm_compare's curves (and
#: batchnorm_speed's default): the plain network's better scales end the book's 20 epochs
#: above it, so the comparison is one of speed, not of whether it learns at all.
TARGET_ACC = 0.8

_RECOMMENDED = {"sigmoid": "Xavier", "tanh": "Xavier", "relu": "He"}


# ---------------------------------------------------------------------- gradient_flow
def gradient_claims(r: Result) -> list[Claim]:
    c = r.data["configs"]
    steps = r.settings["steps"]
    L = len(r.settings["hidden_size_list"])
    claims = []

    def first_over_last(a, when=0):  # (S,): hidden layer 1 / hidden layer L
        return a[:, when, 0] / a[:, when, L - 1]

    if "sigmoid, σ=1" in c:
        d = c["sigmoid, σ=1"]
        z, w = first_over_last(d["act_grad"]), first_over_last(d["weight_grad"])
        numbers = {"act_grad_first_over_last": z, "weight_grad_first_over_last": w}
        claims.append(Claim(
            "gradient_flow",
            f"sigmoid, σ=1: the activations pile up at 0 and 1, so the gradients vanish in "
            f"backpropagation: the gradient passed back, RMS ∂L/∂z, is at the first hidden "
            f"layer less than 1/{VANISH_FACTOR:g} of its size at the last (at initialization).",
            [bool(v < 1 / VANISH_FACTOR) for v in z],
            f"RMS ∂L/∂z, first / last hidden layer, per seed: {fmt(z)} (per layer, seed "
            f"{r.seeds[0]}: {fmt(d['act_grad'][0, 0])})",
            numbers,
        ))
        claims.append(Claim(
            "gradient_flow",
            f"sigmoid, σ=1: the weight gradients vanish toward the input: RMS ∂L/∂W of the "
            f"first hidden layer is less than 1/{VANISH_FACTOR:g} of the last hidden layer's "
            f"(at initialization).",
            [bool(v < 1 / VANISH_FACTOR) for v in w],
            f"RMS ∂L/∂W, first / last hidden layer, per seed: {fmt(w)} (per layer, seed "
            f"{r.seeds[0]}: {fmt(d['weight_grad'][0, 0, :L])})",
            numbers,
        ))
        if "sigmoid, Xavier" in c:
            x = first_over_last(c["sigmoid, Xavier"]["act_grad"])
            claims.append(Claim(
                "gradient_flow",
                f"What the measurements show instead: with sigmoid the gradient passed back "
                f"vanishes from Xavier's initial weights, not from σ=1's: its first / last "
                f"hidden layer ratio of RMS ∂L/∂z is below 1/{VANISH_FACTOR:g} with Xavier, "
                f"and larger with σ=1 (sigmoid's slope is at most 1/4; only large weights "
                f"make up for it).",
                [bool(a < 1 / VANISH_FACTOR and b > a) for a, b in zip(x, z, strict=True)],
                f"RMS ∂L/∂z, first / last hidden layer, per seed: Xavier {fmt(x)}, σ=1 "
                f"{fmt(z)}",
                {"xavier": x, "sigma_1": z},
            ))
    if {"ReLU, σ=0.01", "ReLU, He"} <= set(c):
        small, he = c["ReLU, σ=0.01"]["weight_grad"], c["ReLU, He"]["weight_grad"]
        for when, statement in (
            (0, f"ReLU, σ=0.01: the activations are near 0, and the weight gradients are "
                f"small too: in every layer RMS ∂L/∂W is below 1/{SMALL_FACTOR:g} of He's "
                f"(at initialization)."),
            (1, f"ReLU, σ=0.01: after {steps} training steps the weight gradients are still "
                f"below 1/{SMALL_FACTOR:g} of He's in every layer: learning has not started."),
        ):
            worst = (small[:, when] / he[:, when]).max(axis=1)
            claims.append(Claim(
                "gradient_flow", statement,
                [bool(v < 1 / SMALL_FACTOR) for v in worst],
                f"largest ratio σ=0.01 / He over the layers, per seed: {fmt(worst)}; RMS "
                f"∂L/∂W of the first layer: σ=0.01 {fmt(small[:, when, 0])}, He "
                f"{fmt(he[:, when, 0])}",
                {"largest_ratio_to_he": worst},
            ))
    for name, who in (("ReLU, He", "He"), ("sigmoid, Xavier", "Xavier"),
                      ("tanh, Xavier", "Xavier")):
        if name not in c:
            continue
        d = c[name]
        z = d["act_grad"][:, 0].max(axis=1) / d["act_grad"][:, 0].min(axis=1)
        w = d["weight_grad"][:, 0, :L].max(axis=1) / d["weight_grad"][:, 0, :L].min(axis=1)
        claims.append(Claim(
            "gradient_flow",
            f"{name}: {who}'s initial weights keep the gradient's scale across the hidden "
            f"layers: RMS ∂L/∂z and RMS ∂L/∂W each vary by less than a factor "
            f"{KEEP_FACTOR:g} over the {L} layers (at initialization).",
            [bool(a < KEEP_FACTOR and b < KEEP_FACTOR) for a, b in zip(z, w, strict=True)],
            f"largest / smallest over the hidden layers, per seed: ∂L/∂z {fmt(z)}, "
            f"∂L/∂W {fmt(w)}",
            {"act_grad_spread": z, "weight_grad_spread": w},
        ))
    return claims


# ------------------------------------------------------------------- init_activations
def init_activation_claims(r: Result) -> list[Claim]:
    claims = []
    for activation, schemes in r.data["activations"].items():
        best = _RECOMMENDED[activation]
        if best not in schemes or len(schemes) < 2:
            continue
        final = {label: final_loss(d["loss"]) for label, d in schemes.items()}
        others = [label for label in final if label != best]
        held = [bool(all(final[best][s] < final[o][s] for o in others))
                for s in range(len(r.seeds))]
        name = "ReLU" if activation == "relu" else activation
        claims.append(Claim(
            "init_activations",
            f"{best} suits {name}: with {name}, {best}'s initial weights end with the lowest "
            f"final loss of {', '.join(final)}.",
            held,
            "final loss per seed: " + ", ".join(f"{label} {fmt(v, '.4f')}"
                                                for label, v in final.items()),
            {"final_loss": final},
        ))
    return claims


# ------------------------------------------------------------------ batchnorm_compare
def batchnorm_scale_speed_claims(r: Result) -> list[Claim]:
    s = r.settings
    scales = r.data["weight_scales"]
    bn = steps_to_reach(r.data["batchnorm"]["train_acc"], TARGET_ACC, s["iter_per_epoch"])
    plain = steps_to_reach(r.data["plain"]["train_acc"], TARGET_ACC, s["iter_per_epoch"])
    held, parts = [], []
    for i, seed in enumerate(r.seeds):
        where = np.flatnonzero(np.isfinite(plain[i]))
        held.append(bool(where.size) and bool((bn[i, where] < plain[i, where]).all()))
        pairs = "; ".join(f"W {scales[k]:.3g}: BN {_steps(bn[i, k])}, without "
                          f"{_steps(plain[i, k])}" for k in where) or "none"
        parts.append(f"seed {seed}: {pairs}")
    return [Claim(
        "batchnorm_compare",
        f"BatchNorm learns faster at the book's weight scales: at every scale where the "
        f"network without BN reaches {TARGET_ACC:.0%} training accuracy within the "
        f"{s['epochs']} epochs (SGD lr {s['lr']}), BN reaches it in fewer steps.",
        held,
        f"steps to {TARGET_ACC:.0%} at the scales where the plain network gets there — "
        + " | ".join(parts),
        {"steps_batchnorm": bn, "steps_plain": plain},
    )]


def _steps(v: float) -> str:
    return f"{v:.0f}" if np.isfinite(v) else "never"


# -------------------------------------------------------------------- batchnorm_speed
def batchnorm_speed_claims(r: Result) -> list[Claim]:
    s = r.settings
    lrs = r.data["lrs"]
    bn, plain = r.data["batchnorm"]["steps_to_target"], r.data["plain"]["steps_to_target"]
    target, epochs = s["target_acc"], s["epochs"]
    claims = []
    j = int(np.argmin(np.abs(lrs - 0.01)))  # the book's learning rate, or the nearest
    claims.append(Claim(
        "batchnorm_speed",
        f"At SGD lr {lrs[j]:g}, which the network without BN tolerates, BatchNorm reaches "
        f"{target:.0%} training accuracy in fewer steps than without ({_scheme(s)}'s "
        f"initial weights; not reaching it within {epochs} epochs counts as slower).",
        [bool(b < p) for b, p in zip(bn[:, j], plain[:, j], strict=True)],
        f"steps to {target:.0%} per seed: with BN {_list_steps(bn[:, j])}, without "
        f"{_list_steps(plain[:, j])}",
        {"lr": float(lrs[j]), "steps_batchnorm": bn[:, j], "steps_plain": plain[:, j]},
    ))

    def largest(steps):  # (S,): the largest lr that reaches the target (0 if none)
        return np.array([lrs[np.isfinite(row)].max(initial=0.0) for row in steps])

    lb, lp = largest(bn), largest(plain)
    claims.append(Claim(
        "batchnorm_speed",
        f"BatchNorm tolerates larger learning rates: the largest of the sweep {fmt(lrs, 'g')} "
        f"at which it reaches {target:.0%} within {epochs} epochs is larger than without BN's.",
        [bool(b > p) for b, p in zip(lb, lp, strict=True)],
        f"largest learning rate reaching {target:.0%} per seed (0: none): with BN "
        f"{fmt(lb, 'g')}, without {fmt(lp, 'g')}",
        {"largest_lr_batchnorm": lb, "largest_lr_plain": lp},
    ))
    return claims


def _scheme(settings) -> str:
    w = settings["weight_init"]
    if isinstance(w, str):
        return {"he": "He", "relu": "He", "xavier": "Xavier", "sigmoid": "Xavier"}.get(w, w)
    return f"σ={w:g}"


def _list_steps(values) -> str:
    return "[" + ", ".join(_steps(v) for v in values) + "]"


# ------------------------------------------------------------------------ overfitting
def overfitting_claims(r: Result) -> list[Claim]:
    c = r.data["configs"]
    s = r.settings
    train = {label: d["train_acc"][:, -1] for label, d in c.items()}
    test = {label: d["final_test_acc"] for label, d in c.items()}
    gap = {label: train[label] - test[label] for label in c}
    setting = f"after {s['epochs']} epochs on {s['train_size']} training samples"
    claims = []
    if {"He, BatchNorm", "He"} <= set(c):
        claims.append(Claim(
            "overfitting",
            f"BatchNorm suppresses overfitting: {setting}, the gap between training and test "
            f"accuracy is smaller with BN than without (He's initial weights).",
            [bool(a < b) for a, b in zip(gap["He, BatchNorm"], gap["He"], strict=True)],
            f"gap per seed: with BN {fmt(gap['He, BatchNorm'], '.3f')}, without "
            f"{fmt(gap['He'], '.3f')} (training accuracy {fmt(train['He, BatchNorm'], '.3f')} "
            f"and {fmt(train['He'], '.3f')}, test {fmt(test['He, BatchNorm'], '.3f')} and "
            f"{fmt(test['He'], '.3f')})",
            {"gap_batchnorm": gap["He, BatchNorm"], "gap_plain": gap["He"]},
        ))
    small = [label for label, d in c.items()
             if label.startswith("σ=") and not d["use_batchnorm"]]
    if small and "He" in c:
        names = ", ".join(small)
        he_first = math.sqrt(2 / s["input_size"])
        he_rest = math.sqrt(2 / s["hidden_size_list"][0])
        details = "; ".join(f"{label}: gap {fmt(gap[label], '.3f')}, training "
                            f"{fmt(train[label], '.3f')}, test {fmt(test[label], '.3f')}"
                            for label in ["He", *small])
        claims.append(Claim(
            "overfitting",
            f"Small weights make overfitting less likely (the question 6.2 opens with): "
            f"{setting}, the gap between training and test accuracy is smaller from each of "
            f"the initial scales {names} than from He's (√(2/n): {he_first:.2g} in the first "
            f"layer, {he_rest:.2g} in the others), without BN.",
            [bool(all(gap[label][i] < gap["He"][i] for label in small))
             for i in range(len(r.seeds))],
            f"per seed — {details}",
            {"gap": {label: gap[label] for label in ["He", *small]}},
        ))
        claims.append(Claim(
            "overfitting",
            f"... and so small initial weights generalize better: from each of {names} the "
            f"test accuracy ends at least as high as from He's.",
            [bool(all(test[label][i] >= test["He"][i] for label in small))
             for i in range(len(r.seeds))],
            "test accuracy per seed: " + ", ".join(f"{label} {fmt(test[label], '.3f')}"
                                                  for label in ["He", *small]),
            {"test_acc": {label: test[label] for label in ["He", *small]}},
        ))
    return claims
