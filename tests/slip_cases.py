"""One slip, one proportionate cost: the grader's cases, each a small patch against the
model answers, with the score a TA would give beside the grader's.

Each case is ``tests/grader_cases/slips/<case>.patch``: a unified diff against ``solutions/``
(or, for the submissions that do nothing, against the handout's stubs in ``assignments/``),
whose first line says ``THE MISTAKE: ...`` and second line ``base: solutions|assignments``.
:func:`submission` copies every task's file of the base into a folder and applies the patch
(``git apply``), so an a3 case graded there uses the model answer's a2 layer.

SLIPS says, for every case, which checks it must lose (and what fraction of their points;
1 = all) and what a TA would deduct, decided from the mistake alone: the grader's deduction
is computed from ``grader/points.toml`` (never a hand-kept total) and must lie within
TA_AGREEMENT points of the TA's.

To add a case: copy ``solutions/`` (or ``assignments/``), make the one mistake, write
``git diff --no-index --no-prefix`` of the changed file as ``a/PATH``/``b/PATH`` (see any
patch here), add the two header lines and a row below.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from dlkit.tasks import TASKS
from grader.scoring import runner

REPO = Path(__file__).resolve().parents[1]
PATCHES = REPO / "tests" / "grader_cases" / "slips"
POINTS = runner.load_points(REPO / "grader" / "points.toml")
# How far the grader's deduction may be from the TA's, in points.
TA_AGREEMENT = 3.0


@dataclass(frozen=True)
class Slip:
    """lost: check -> fraction of its points the case loses; ta: points a TA would deduct."""

    lost: dict[str, float] = field(default_factory=dict)
    ta: float = 0.0
    why: str = ""


ALL = "every check"

# case: Slip(checks it loses, what a TA deducts, why the TA deducts that)
SLIPS: dict[str, Slip] = {
    # ---------------------------------------------------------------- a1 (20 points)
    "a1_he_sqrt_1_over_n": Slip(
        {"test_init_he": 1, "test_claim_relu_he_keeps_spread": 1}, 3,
        "He's formula wrong; the He histogram cannot show what the lesson says"),
    "a1_he_from_n_out": Slip({"test_init_he": 1}, 2, "He's formula with the wrong n"),
    "a1_xavier_sqrt_2_over_n": Slip({"test_init_xavier": 1}, 2, "Xavier's formula wrong"),
    "a1_xavier_over_n_in_plus_n_out": Slip({"test_init_xavier": 1}, 2, "Xavier's formula wrong"),
    "a1_w_transposed": Slip({"test_init_shape_and_dtype": 1}, 2,
                            "the values are right, the shape is not: the contract"),
    "a1_global_np_random": Slip({"test_init_uses_rng": 1}, 2, "not reproducible from the seed"),
    "a1_relu_stats_wrong": Slip({"test_spread_stats_relu": 1}, 1, "one statistic of one case"),
    "a1_float32_weights": Slip({"test_init_shape_and_dtype": 1}, 1, "dtype only"),
    "a1_zeros_wrong_call": Slip({"test_init_zeros": 1}, 1, "the zeros scheme crashes"),
    "a1_accepts_negative_std": Slip({"test_init_rejects_unknown_scheme": 1}, 1,
                                    "input validation"),
    "a1_saturated_one_side": Slip({"test_spread_stats_sigmoid": 1}, 1,
                                  "one statistic of one case"),
    "a1_sigmoid_sign_wrong": Slip(
        {"test_layer_activations_sigmoid": 1, "test_claim_sigmoid_std1_saturates": 1}, 2,
        "sigmoid wrong, and the sigmoid histogram made with it"),
    "a1_float_scheme_is_variance": Slip(
        {"test_init_float_std": 1, "test_claim_relu_001_collapses": 1}, 3,
        "σ wrong for every float scheme, and the σ = 0.01 histogram made with it"),
    "a1_does_nothing": Slip({ALL: 1}, 20, "nothing done"),
    # ---------------------------------------------------------------- a2 (30 points)
    "a2_unbiased_variance": Slip({"test_forward_train_float64": 1}, 5,
                                 "the forward's formula; backward and the rest are right"),
    "a2_no_eps": Slip({"test_forward_train_float64": 1}, 5, "the forward's formula"),
    "a2_eps_outside_sqrt": Slip({"test_forward_train_float64": 1}, 5,
                                "the forward's formula (the same slip at inference)"),
    "a2_no_running_update": Slip({"test_running_stats": 1}, 3, "running averages missing"),
    "a2_running_var_unbiased": Slip({"test_running_stats": 1}, 2, "running variance formula"),
    "a2_batch_stats_at_inference": Slip({"test_forward_inference": 1}, 4,
                                        "inference mode wrong"),
    "a2_dx_missing_term": Slip({"test_backward_dx": 1}, 5, "dx wrong, dgamma and dbeta right"),
    "a2_dgamma_wrong": Slip({"test_backward_dgamma": 1}, 3,
                            "dgamma wrong (dx uses it; its formula is right)"),
    "a2_backward_uses_running_var": Slip({"test_backward_dx": 1}, 5,
                                         "dx with the wrong statistics"),
    "a2_modifies_input": Slip({"test_inputs_not_modified": 1}, 1, "side effect on the caller"),
    "a2_accepts_batch_of_one": Slip({"test_batch_of_one_rejected": 1}, 1, "input validation"),
    "a2_does_nothing": Slip({ALL: 1}, 30, "nothing done"),
    # ---------------------------------------------------------------- a3 (25 points)
    "a3_no_batchnorm": Slip(
        {"test_bn_accuracy_large_scale": 1, "test_bn_accuracy_mid_scale": 1,
         "test_bn_accuracy_small_scale": 1, "test_bn_beats_no_bn": 1,
         "test_predict_inference_mode": 1}, 18,
        "no BatchNorm at all: every result about BatchNorm is missing"),
    "a3_predict_in_train_mode": Slip({"test_predict_inference_mode": 1}, 2,
                                     "predict depends on the batch"),
    "a3_global_np_random": Slip({"test_same_seed_same_model": 1}, 2,
                                "not reproducible from the seed"),
    "a3_batchnorm_backward_skipped": Slip(
        {"test_bn_accuracy_mid_scale": 1, "test_learns_separable_clusters": 1}, 8,
        "gradients do not flow through BatchNorm; results as measured"),
    "a3_predict_returns_labels": Slip({"test_predict_returns_scores": 1}, 1, "the contract"),
    "a3_shuffled_separately": Slip(
        {"test_bn_accuracy_large_scale": 1, "test_bn_accuracy_mid_scale": 1,
         "test_bn_accuracy_small_scale": 1, "test_bn_beats_no_bn": 1,
         "test_learns_separable_clusters": 1, "test_predict_inference_mode": 1}, 18,
        "learns nothing: every accuracy result lost; the network itself is right"),
    "a3_lr_ignored": Slip({}, 1, "a setting ignored; the book's results still come out"),
    "a3_default_lr_10": Slip({}, 0, "a default the grader does not use"),
    "a3_default_400_epochs": Slip({}, 0, "a default the grader does not use"),
    "a3_does_nothing": Slip({ALL: 1}, 25, "nothing done"),
    # ---------------------------------------------------------------- a4 (25 points)
    "a4_wrong_invstd": Slip(
        {"test_forward_float64": 1, "test_forward_float32": 1,
         "test_batch_of_one_rejected": 1, "test_speed": 1}, 16,
        "the forward is far off: its checks, and no speed points for wrong kernels"),
    "a4_backward_dx_missing_term": Slip(
        {"test_backward_float64": 1, "test_backward_float32": 1, "test_speed": 1}, 15,
        "the backward is wrong: its checks, and no speed points for wrong kernels"),
    "a4_python_loops": Slip({"test_speed": 1}, 9, "not compiled: no speed-up"),
    "a4_missing_return": Slip({"test_returns_the_output_arrays": 1}, 1, "the contract"),
    "a4_accepts_batch_of_one": Slip({"test_batch_of_one_rejected": 1}, 1, "input validation"),
    "a4_new_arrays": Slip({"test_writes_into_the_given_arrays": 1}, 3,
                          "the values are right; the given arrays are never written"),
    "a4_float32_accumulators": Slip({}, 0, "float32 sums are precise enough here"),
    "a4_float32_sums_in_float64": Slip(
        {"test_forward_float64": 0.25, "test_backward_float64": 0.25}, 2,
        "a float64 kernel with float32 precision: a precision slip, not wrong formulas"),
    "a4_race_prange": Slip({"test_backward_float64": 1}, 5,
                           "the backward is wrong whenever two threads run it at once"),
    "a4_does_nothing": Slip({ALL: 1}, 25, "nothing done"),
}


def task(case: str) -> str:
    """The assignment a case belongs to: its name's prefix (a1 … a4)."""
    return case.split("_", 1)[0]


def lost_fractions(case: str) -> dict[str, float]:
    """check -> fraction of its points lost, with ALL expanded to every check of the task."""
    lost = SLIPS[case].lost
    if ALL in lost:
        return dict.fromkeys(POINTS[task(case)], lost[ALL])
    return dict(lost)


def deduction(case: str) -> float:
    """The points the grader must deduct for ``case``, from points.toml."""
    points = POINTS[task(case)]
    return sum(points[name] * fraction for name, fraction in lost_fractions(case).items())


def expected_score(case: str) -> float:
    return sum(POINTS[task(case)].values()) - deduction(case)


def header(case: str) -> tuple[str, str]:
    """(the mistake, the base folder) from the patch's first two lines."""
    first, second = (PATCHES / f"{case}.patch").read_text(encoding="utf-8").splitlines()[:2]
    if not first.startswith("THE MISTAKE: ") or second not in ("base: solutions",
                                                               "base: assignments"):
        raise ValueError(f"{case}.patch: expected 'THE MISTAKE: ...' and 'base: solutions' or "
                         f"'base: assignments' as its first two lines, got {first!r}, "
                         f"{second!r}")
    return first.removeprefix("THE MISTAKE: "), second.removeprefix("base: ")


def submission(case: str, dest: Path) -> Path:
    """A submission folder at ``dest``: every task's file of the case's base, patched."""
    _, base = header(case)
    dest.mkdir(parents=True)
    for t in TASKS.values():
        (dest / t.folder).mkdir()
        shutil.copy(REPO / base / t.path, dest / t.path)
    # GIT_CEILING_DIRECTORIES: never mistake a repository around dest for the patch's root
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(dest.parent))
    proc = subprocess.run(["git", "apply", "-p1", str(PATCHES / f"{case}.patch")], cwd=dest,
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{case}.patch does not apply to {base}/: {proc.stderr.strip()} "
                           f"(has {base}/ changed? regenerate the patch)")
    return dest
