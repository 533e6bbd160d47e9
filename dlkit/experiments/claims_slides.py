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
from dlkit.experiments.claim import LESSON, OBSERVATION, Claim, final_loss, fmt
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

#: a network "learned" when its final training accuracy is at least this (chance is 0.1)
LEARNED_ACC = 0.5
#: one gap is "smaller" than another when it is smaller by more than this, so that a
#: difference inside the spread over seeds decides nothing: one configuration's gap varies
#: over seeds with an sd of 0.004–0.036, and the paired differences measured here (three
#: seeds on Fashion-MNIST and on the MNIST digits) are either below 0.017 or above 0.033
GAP_MARGIN = 0.025

#: the scales over which BN's effective step is fitted against σ (log-log): from 0.01, well
#: above where BN's eps 1e-6 matters (σ² · Σ inputs² ≈ eps near σ = 1e-4), up to the book's 1
EFFECTIVE_FIT = (0.01, 1.0)
#: "falls as σ grows": a slope below −0.5 (∝ 1/σ gives −1; a step that does not depend on the
#: scale, 0; measured −0.93 to −0.95 on Fashion-MNIST)
EFFECTIVE_SLOPE = -0.5
#: two effective steps are "about the same size" within this factor of each other
SAME_STEP = 2.0

_RECOMMENDED = {"sigmoid": "Xavier", "tanh": "Xavier", "relu": "He"}


# ---------------------------------------------------------------------- gradient_flow
def gradient_claims(r: Result) -> list[Claim]:
    c = r.data["configs"]
    steps = r.settings["steps"]
    L = len(r.settings["hidden_size_list"])
    claims = []

    def first_over_last(a, when=0):  # (S,): hidden layer 1 / hidden layer L
        return a[:, when, 0] / a[:, when, L - 1]

    def second_over_last(a, when=0):  # (S,): ∂L/∂W of hidden layer 2 / hidden layer L
        return a[:, when, 1] / a[:, when, L - 1]

    if "sigmoid, σ=1" in c:
        d = c["sigmoid, σ=1"]
        z, w = first_over_last(d["act_grad"]), second_over_last(d["weight_grad"])
        numbers = {"act_grad_first_over_last": z, "weight_grad_second_over_last": w}
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
            f"sigmoid, σ=1: the weight gradients vanish toward the input: RMS ∂L/∂W of hidden "
            f"layer 2 is less than 1/{VANISH_FACTOR:g} of hidden layer {L}'s (at "
            f"initialization; layer 1 is left out: the size of its ∂L/∂W = xᵀ·∂L/∂a is set "
            f"by its {r.settings['input_size']} pixel inputs, not by backpropagation).",
            [bool(v < 1 / VANISH_FACTOR) for v in w],
            f"RMS ∂L/∂W, hidden layer 2 / hidden layer {L}, per seed: {fmt(w)} (per layer, "
            f"seed {r.seeds[0]}: {fmt(d['weight_grad'][0, 0, :L])})",
            numbers,
        ))
        if "sigmoid, Xavier" in c:
            x = first_over_last(c["sigmoid, Xavier"]["act_grad"])
            claims.append(Claim(
                "gradient_flow",
                f"With sigmoid the gradient passed back vanishes from Xavier's initial weights, "
                f"not from σ=1's: its first / last hidden layer ratio of RMS ∂L/∂z is below "
                f"1/{VANISH_FACTOR:g} with Xavier, and larger with σ=1 (sigmoid's slope is at "
                f"most 1/4; only large weights make up for it).",
                [bool(a < 1 / VANISH_FACTOR and b > a) for a, b in zip(x, z, strict=True)],
                f"RMS ∂L/∂z, first / last hidden layer, per seed: Xavier {fmt(x)}, σ=1 "
                f"{fmt(z)}",
                {"xavier": x, "sigma_1": z},
                source=OBSERVATION,
            ))
    if {"ReLU, σ=0.01", "ReLU, He"} <= set(c):
        small, he = c["ReLU, σ=0.01"]["weight_grad"], c["ReLU, He"]["weight_grad"]
        for when, statement, source in (
            (0, f"ReLU, σ=0.01: the activations are near 0, and the weight gradients are "
                f"small too: in every layer RMS ∂L/∂W is below 1/{SMALL_FACTOR:g} of He's "
                f"(at initialization).", LESSON),
            (1, f"ReLU, σ=0.01: after {steps} training steps the weight gradients are still "
                f"below 1/{SMALL_FACTOR:g} of He's in every layer: learning has not started.",
             OBSERVATION),
        ):
            worst = (small[:, when] / he[:, when]).max(axis=1)
            claims.append(Claim(
                "gradient_flow", statement,
                [bool(v < 1 / SMALL_FACTOR) for v in worst],
                f"largest ratio σ=0.01 / He over the layers, per seed: {fmt(worst)}; RMS "
                f"∂L/∂W of the first layer: σ=0.01 {fmt(small[:, when, 0])}, He "
                f"{fmt(he[:, when, 0])}",
                {"largest_ratio_to_he": worst},
                source=source,
            ))
    for name, who in (("ReLU, He", "He"), ("tanh, Xavier", "Xavier"),
                      ("sigmoid, Xavier", "Xavier")):
        if name not in c:
            continue
        d = c[name]
        z = d["act_grad"][:, 0].max(axis=1) / d["act_grad"][:, 0].min(axis=1)
        hidden = d["weight_grad"][:, 0, 1:L]  # hidden layers 2..L: 100 inputs each
        w = hidden.max(axis=1) / hidden.min(axis=1)
        claims.append(Claim(
            "gradient_flow",
            f"{name}: {who}'s initial weights keep the gradient's scale across the hidden "
            f"layers: RMS ∂L/∂z over the {L} hidden layers and RMS ∂L/∂W over hidden layers "
            f"2–{L} each vary by less than a factor {KEEP_FACTOR:g} (at initialization).",
            [bool(a < KEEP_FACTOR and b < KEEP_FACTOR) for a, b in zip(z, w, strict=True)],
            f"largest / smallest over the hidden layers, per seed: ∂L/∂z {fmt(z)}, "
            f"∂L/∂W {fmt(w)}",
            {"act_grad_spread": z, "weight_grad_spread": w},
            source=OBSERVATION,
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
def effective_steps(d: dict, n_hidden: int) -> np.ndarray:
    """(...,) the geometric mean over the hidden layers of the effective step at the first
    step, lr·‖∂L/∂W_l‖/‖W_l‖ (``d['effective_step']`` (..., L + 1))."""
    return np.exp(np.log(d["effective_step"][..., :n_hidden]).mean(axis=-1))


def batchnorm_scale_speed_claims(r: Result) -> list[Claim]:
    s = r.settings
    scales = np.asarray(r.data["weight_scales"])
    bn = steps_to_reach(r.data["batchnorm"]["train_acc"], TARGET_ACC, s["iter_per_epoch"])
    plain = steps_to_reach(r.data["plain"]["train_acc"], TARGET_ACC, s["iter_per_epoch"])
    held, parts = [], []
    for i, seed in enumerate(r.seeds):
        where = np.flatnonzero(np.isfinite(plain[i]))
        held.append(bool(where.size) and bool((bn[i, where] < plain[i, where]).all()))
        pairs = "; ".join(f"W {scales[k]:.3g}: BN {_steps(bn[i, k])}, without "
                          f"{_steps(plain[i, k])}" for k in where) or "none"
        parts.append(f"seed {seed}: {pairs}")
    claims = [Claim(
        "batchnorm_compare",
        f"BatchNorm learns faster at the book's weight scales: at every scale where the "
        f"network without BN reaches {TARGET_ACC:.0%} training accuracy within the "
        f"{s['epochs']} epochs (SGD lr {s['lr']}), BN reaches it in fewer steps.",
        held,
        f"steps to {TARGET_ACC:.0%} at the scales where the plain network gets there — "
        + " | ".join(parts),
        {"steps_batchnorm": bn, "steps_plain": plain},
    )]
    if "effective_step" not in r.data["batchnorm"]:
        return claims  # a result from before the effective step was measured
    L = len(s["hidden_size_list"])
    eff_bn = effective_steps(r.data["batchnorm"], L)  # (S, K)
    eff_plain = effective_steps(r.data["plain"], L)
    fit = (scales >= EFFECTIVE_FIT[0]) & (scales <= EFFECTIVE_FIT[1])
    slopes = np.array([np.polyfit(np.log(scales[fit]), np.log(row[fit]), 1)[0]
                       for row in eff_bn]) if fit.sum() >= 2 else np.full(len(r.seeds), np.nan)
    top, bottom = int(np.argmax(np.where(fit, scales, -np.inf))), int(
        np.argmin(np.where(fit, scales, np.inf)))
    claims.append(Claim(
        "batchnorm_compare",
        f"Behind BatchNorm a larger initial scale takes smaller steps: BN's effective step "
        f"lr·‖∂L/∂W‖/‖W‖ (the angle one SGD step turns W by; geometric mean over the hidden "
        f"layers, at the first step) falls as the scale σ grows, with a log-log slope below "
        f"{EFFECTIVE_SLOPE} over σ from {scales[bottom]:.3g} to {scales[top]:.3g}.",
        [bool(v < EFFECTIVE_SLOPE) for v in slopes],
        f"slope per seed {fmt(slopes)}; BN's effective step at σ {scales[top]:.3g}: "
        f"{fmt(eff_bn[:, top])}, at σ {scales[bottom]:.3g}: {fmt(eff_bn[:, bottom])}",
        {"slope": slopes, "effective_step_batchnorm": eff_bn,
         "effective_step_plain": eff_plain},
        source=OBSERVATION,
    ))
    slower_held, slower_parts = [], []
    for i, seed in enumerate(r.seeds):
        slower = np.flatnonzero(np.isfinite(plain[i]) & ~(bn[i] < plain[i]))
        slower_held.append(bool((eff_bn[i, slower] < eff_plain[i, slower]).all()))
        slower_parts.append(f"seed {seed}: " + ("; ".join(
            f"W {scales[k]:.3g}: BN {eff_bn[i, k]:.2g}, without {eff_plain[i, k]:.2g}"
            for k in slower) or "none"))
    claims.append(Claim(
        "batchnorm_compare",
        f"Where BatchNorm is the slower one, its effective step is the smaller: at every "
        f"scale where the network without BN reaches {TARGET_ACC:.0%} first (or BN not at "
        f"all), BN's effective step at the first step is smaller than the plain network's.",
        slower_held,
        "effective step at those scales — " + " | ".join(slower_parts),
        {"effective_step_batchnorm": eff_bn, "effective_step_plain": eff_plain},
        source=OBSERVATION,
    ))
    reached = [f"{w:.3g}" for w, ok in zip(scales, np.isfinite(plain).any(axis=0),
                                            strict=True) if ok]
    claims[0].note = (
        "Why BN can be the slower one here: behind BatchNorm the loss does not change when a "
        "hidden layer's W is scaled, so ∂L/∂W shrinks as 1/‖W‖ and one SGD step turns W by "
        "about lr·‖∂L/∂W‖/‖W‖ ∝ lr/‖W‖², times the scale of the output layer, which is not "
        "behind BN (so ∝ lr/σ when every layer starts at σ). The network without BN reaches "
        f"{TARGET_ACC:.0%} only from the scales {', '.join(reached) or 'none'}: large ones, "
        "where its activations, and so its gradients, are large, while BN's effective step "
        "is small. The two claims after this one measure both. The claim of section 7 that "
        "BN reaches the target sooner at lr 0.01 starts from He's initial weights instead "
        "(σ = √(2/n): 0.05 in the first layer, 0.14 in the others); its note gives the "
        "effective steps there.")
    return claims


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
    note = ""
    if "effective_step" in r.data["batchnorm"]:
        L = len(s["hidden_size_list"])
        eff_bn = effective_steps(r.data["batchnorm"], L)[:, j]
        eff_plain = effective_steps(r.data["plain"], L)[:, j]
        ratio = eff_bn / eff_plain
        if (ratio > 1 / SAME_STEP).all():
            compare = (f"BN's is not the smaller (BN / plain {fmt(ratio, '.2f')} per seed; "
                       f"within a factor {SAME_STEP:g} counts as the same size): from these "
                       f"weights no small step holds BN back")
        else:
            compare = (f"BN's is the smaller by more than a factor {SAME_STEP:g} on some seed "
                       f"(BN / plain {fmt(ratio, '.2f')} per seed)")
        note = (f"Set against the FAIL of 'BatchNorm learns faster at the book's weight "
                f"scales' (section 6): there the plain network reaches the target only from "
                f"large initial scales, where BN's effective step lr·‖∂L/∂W‖/‖W‖ is small. "
                f"Here both start from {_scheme(s)}'s weights, and at lr {lrs[j]:g} BN's "
                f"effective step (geometric mean over the hidden layers, first step) is "
                f"{fmt(eff_bn)} per seed, the plain network's {fmt(eff_plain)}: "
                f"{compare}.")
    claims.append(Claim(
        "batchnorm_speed",
        f"At SGD lr {lrs[j]:g}, which the network without BN tolerates, BatchNorm reaches "
        f"{target:.0%} training accuracy in fewer steps than without ({_scheme(s)}'s "
        f"initial weights; not reaching it within {epochs} epochs counts as slower).",
        [bool(b < p) for b, p in zip(bn[:, j], plain[:, j], strict=True)],
        f"steps to {target:.0%} per seed: with BN {_list_steps(bn[:, j])}, without "
        f"{_list_steps(plain[:, j])}",
        {"lr": float(lrs[j]), "steps_batchnorm": bn[:, j], "steps_plain": plain[:, j]},
        note=note,
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
    S = len(r.seeds)
    train = {label: d["train_acc"][:, -1] for label, d in c.items()}
    test = {label: d["final_test_acc"] for label, d in c.items()}
    gap = {label: train[label] - test[label] for label in c}
    learned = {label: train[label] >= LEARNED_ACC for label in c}
    setting = f"after {s['epochs']} epochs on {s['train_size']} training samples"
    only = (f"gaps are compared only between networks that learned (final training accuracy "
            f"≥ {LEARNED_ACC}; a network that learned nothing has no gap to speak of), and "
            f"smaller means by more than {GAP_MARGIN}")

    def numbers(labels):
        return "; ".join(f"{label}: gap {fmt(gap[label], '.3f')}, training "
                         f"{fmt(train[label], '.3f')}, test {fmt(test[label], '.3f')}"
                         for label in labels)

    def smaller_gap(label, than, i):  # both learned on seed i and label's gap is smaller
        return bool(learned[label][i] and learned[than][i]
                    and gap[label][i] < gap[than][i] - GAP_MARGIN)

    claims = []
    plain = "He" if "He" in c else None
    bn_claims = []
    for label, start in (("He, BatchNorm", "He's initial weights"),
                         ("σ=0.01, BatchNorm", "σ = 0.01")):
        if label not in c or plain is None:
            continue
        bn_claims.append((label, start))
        claims.append(Claim(
            "overfitting",
            f"BatchNorm suppresses overfitting, from {start}: {setting}, the gap between "
            f"training and test accuracy with BN is smaller than without BN (from He's "
            f"initial weights); {only}.",
            [smaller_gap(label, plain, i) for i in range(S)],
            f"per seed — {numbers([label, plain])}",
            {"gap_batchnorm": gap[label], "gap_plain": gap[plain],
             "learned_batchnorm": learned[label], "learned_plain": learned[plain]},
        ))
    if len(bn_claims) == 2:
        claims[-1].note = _batchnorm_overfitting_note(claims[-2:], bn_claims, test, gap, plain)
    decay = [label for label, d in c.items()
             if d.get("weight_decay_lambda", 0.0) > 0 and not d["use_batchnorm"]]
    if plain is not None:
        for label in decay:
            lam = c[label]["weight_decay_lambda"]
            claims.append(Claim(
                "overfitting",
                f"Weight decay (λ = {lam:g}, the book's answer in 6.4.1) suppresses "
                f"overfitting: {setting}, the gap with it is smaller than without (He's "
                f"initial weights, no BN); {only}.",
                [smaller_gap(label, plain, i) for i in range(S)],
                f"per seed — {numbers([label, plain])}",
                {"gap_decay": gap[label], "gap_plain": gap[plain]},
            ))
            claims.append(Claim(
                "overfitting",
                f"... and with weight decay (λ = {lam:g}) the test accuracy ends at least as "
                f"high as without: the smaller gap is not bought with a lower test accuracy.",
                [bool(learned[label][i] and test[label][i] >= test[plain][i])
                 for i in range(S)],
                f"test accuracy per seed: {label} {fmt(test[label], '.3f')}, {plain} "
                f"{fmt(test[plain], '.3f')}; training accuracy {fmt(train[label], '.3f')} and "
                f"{fmt(train[plain], '.3f')}",
                {"test_decay": test[label], "test_plain": test[plain]},
                source=OBSERVATION,
            ))
    small = [label for label, d in c.items() if label.startswith("σ=")
             and not d["use_batchnorm"] and not d.get("weight_decay_lambda", 0.0)]
    if small and plain is not None:
        names = ", ".join(small)
        he_first = math.sqrt(2 / s["input_size"])
        he_rest = math.sqrt(2 / s["hidden_size_list"][0])
        learned_small = [[label for label in small if learned[label][i]] for i in range(S)]
        never = [label for label in small if not learned[label].any()]
        claims.append(Claim(
            "overfitting",
            f"Small weights make overfitting less likely (the question 6.2 opens with): "
            f"{setting}, the gap between training and test accuracy is smaller from the "
            f"initial scales {names} than from He's (√(2/n): {he_first:.2g} in the first "
            f"layer, {he_rest:.2g} in the others), without BN; {only}: on each seed, every "
            f"small scale that learned has the smaller gap, and at least one learned.",
            [bool(learned[plain][i] and learned_small[i]
                  and all(smaller_gap(label, plain, i) for label in learned_small[i]))
             for i in range(S)],
            f"per seed — {numbers([plain, *small])}"
            + (f"; did not learn on any seed: {', '.join(never)}" if never else ""),
            {"gap": {label: gap[label] for label in [plain, *small]},
             "learned": {label: learned[label] for label in [plain, *small]}},
        ))
        claims.append(Claim(
            "overfitting",
            "... and the small initial scales that learned generalize at least as well: "
            "their test accuracy ends at least as high as from He's.",
            [bool(learned_small[i] and all(test[label][i] >= test[plain][i]
                                           for label in learned_small[i]))
             for i in range(S)],
            "test accuracy per seed: " + ", ".join(f"{label} {fmt(test[label], '.3f')}"
                                                  for label in [plain, *small]),
            {"test_acc": {label: test[label] for label in [plain, *small]}},
            source=OBSERVATION,
        ))
    return claims


def _batchnorm_overfitting_note(pair, bn_claims, test, gap, plain) -> str:
    """The conclusion on BatchNorm and overfitting, once both initial scales are reported."""
    parts = [f"from {start}, BN's mean gap {np.mean(gap[label]):.3f} and test accuracy "
             f"{np.mean(test[label]):.3f} ({'smaller gap' if claim.passed else 'gap not smaller'})"
             for claim, (label, start) in zip(pair, bn_claims, strict=True)]
    held = [claim.passed for claim in pair]
    if all(held):
        end = "BatchNorm suppresses overfitting here from both initial scales."
    elif not any(held):
        end = "BatchNorm does not suppress overfitting here, from either initial scale."
    else:
        end = ("Whether BatchNorm suppresses overfitting here depends on its initial scale: "
               "the lesson's claim holds only in part.")
    return (f"Both initial scales against the network without BN (He's weights: mean gap "
            f"{np.mean(gap[plain]):.3f}, test accuracy {np.mean(test[plain]):.3f}): "
            + "; ".join(parts) + f". {end}")
