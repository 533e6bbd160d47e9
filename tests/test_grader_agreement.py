"""The public tests and the hidden checks agree on what is wrong.

Every public test of the handout (assignments/*/test_public.py) has at least one row in
AGREEMENT: a typical mistake that the public test catches (a slip case
of tests/slip_cases.py: the model answers with one mistake, a patch in
tests/grader_cases/slips/) and the hidden check that catches the same mistake.  Each row is
run through both, for real: the public test with pytest
on that submission (``--submission``) must fail, and ``dlkit-grade`` on it (a subprocess, the
real hidden checks) must give that check less than its points.  So a student who sees a public
test fail loses points for it, and one whom the grader takes points from has a public test
that says why.

The grading takes seconds per submission (a3 trains networks), so the default run does a few
rows and the rest are marked slow: ``python -m pytest tests/test_grader_agreement.py -m slow``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import slip_cases

from dlkit.tasks import TASKS
from grader.scoring import runner

REPO = Path(__file__).resolve().parents[1]
POINTS = runner.load_points(REPO / "grader" / "points.toml")

# (task, public test, the mistake: a buggy submission, the hidden check that fails on it)
AGREEMENT = [
    ("a1", "test_init_weight_shape_and_dtype", "a1_float32_weights",
     "test_init_shape_and_dtype"),
    ("a1", "test_zeros_scheme_gives_zeros", "a1_zeros_wrong_call", "test_init_zeros"),
    ("a1", "test_spread_of_each_scheme", "a1_he_sqrt_1_over_n", "test_init_he"),
    ("a1", "test_weights_come_only_from_rng", "a1_global_np_random", "test_init_uses_rng"),
    ("a1", "test_unknown_scheme_is_rejected", "a1_accepts_negative_std",
     "test_init_rejects_unknown_scheme"),
    ("a1", "test_layer_activations_shapes_and_first_layer", "a1_sigmoid_sign_wrong",
     "test_layer_activations_sigmoid"),
    ("a1", "test_spread_stats_small_example", "a1_relu_stats_wrong", "test_spread_stats_relu"),
    ("a1", "test_lesson_sigmoid_std_1_saturates", "a1_saturated_one_side",
     "test_spread_stats_sigmoid"),
    ("a1", "test_lesson_sigmoid_std_001_collapses_to_one_half", "a1_float_scheme_is_variance",
     "test_init_float_std"),
    ("a1", "test_lesson_relu_he_keeps_the_spread", "a1_he_sqrt_1_over_n",
     "test_claim_relu_he_keeps_spread"),
    ("a2", "test_forward_train_normalizes_each_feature", "a2_unbiased_variance",
     "test_forward_train_float64"),
    ("a2", "test_forward_train_scales_and_shifts", "a2_unbiased_variance",
     "test_forward_train_float64"),
    ("a2", "test_running_averages_after_one_training_step", "a2_no_running_update",
     "test_running_stats"),
    ("a2", "test_inference_uses_running_averages", "a2_batch_stats_at_inference",
     "test_forward_inference"),
    ("a2", "test_backward_gradient_check", "a2_dx_missing_term", "test_backward_dx"),
    ("a2", "test_backward_gradient_check", "a2_dgamma_wrong", "test_backward_dgamma"),
    ("a2", "test_forward_and_backward_leave_inputs_unchanged", "a2_modifies_input",
     "test_inputs_not_modified"),
    ("a2", "test_batch_of_one_in_training_is_rejected", "a2_accepts_batch_of_one",
     "test_batch_of_one_rejected"),
    ("a3", "test_predict_gives_scores_for_10_classes", "a3_predict_returns_labels",
     "test_predict_returns_scores"),
    ("a3", "test_your_batchnorm_is_used_only_when_asked", "a3_predict_in_train_mode",
     "test_predict_inference_mode"),
    ("a3", "test_same_seed_same_model", "a3_global_np_random", "test_same_seed_same_model"),
    ("a3", "test_learns_an_easy_problem_with_batchnorm", "a3_batchnorm_backward_skipped",
     "test_learns_separable_clusters"),
    ("a3", "test_fashion_mnist_short_run_with_batchnorm", "a3_batchnorm_backward_skipped",
     "test_bn_accuracy_mid_scale"),
    ("a4", "test_forward_writes_the_formulas", "a4_wrong_invstd", "test_forward_float64"),
    ("a4", "test_forward_writes_the_formulas", "a4_missing_return",
     "test_returns_the_output_arrays"),
    ("a4", "test_forward_writes_the_formulas", "a4_python_loops", "test_speed"),
    ("a4", "test_backward_writes_the_formulas", "a4_backward_dx_missing_term",
     "test_backward_float64"),
    ("a4", "test_backward_gradient_check", "a4_backward_dx_missing_term",
     "test_backward_float64"),
    ("a4", "test_batch_of_one_is_rejected", "a4_accepts_batch_of_one",
     "test_batch_of_one_rejected"),
    ("a4", "test_the_same_results_on_several_threads", "a4_race_prange",
     "test_backward_float64"),
]
# Rows run by the default test run (one grading each); the others are marked slow.
FAST_ROWS = {("a1", "test_weights_come_only_from_rng"),
             ("a2", "test_batch_of_one_in_training_is_rejected")}


def _public_tests(aid: str) -> set[str]:
    path = REPO / "assignments" / TASKS[aid].folder / "test_public.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_public_test_has_a_hidden_check_that_fails_on_the_same_mistake():
    for aid in TASKS:
        assert {row[1] for row in AGREEMENT if row[0] == aid} == _public_tests(aid), aid
    for aid, _public, case, check in AGREEMENT:
        assert case in slip_cases.SLIPS and slip_cases.task(case) == aid, case
        assert check in POINTS[aid], check


def _submission(case: str, tmp_path: Path) -> Path:
    """The slip case as a submission (every task of the model answers, one patched)."""
    return slip_cases.submission(case, tmp_path / case)


def _row_param(row):
    aid, public, case, check = row
    marks = () if (aid, public) in FAST_ROWS else (pytest.mark.slow,)
    return pytest.param(row, marks=marks, id=f"{public}-{case}")


_graded: dict[str, dict] = {}


@pytest.mark.parametrize("row", [_row_param(r) for r in AGREEMENT])
def test_public_test_and_hidden_check_both_fail_on_the_mistake(row, tmp_path, request):
    aid, public, case, check = row
    submission = _submission(case, tmp_path)
    if public == "test_fashion_mnist_short_run_with_batchnorm":
        request.getfixturevalue("fashion_mnist_dir")  # the public test skips without it
    # the public test, as a student runs it
    test = f"{TASKS[aid].folder}/test_public.py::{public}"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           test, f"--submission={submission}"], cwd=REPO / "assignments",
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, f"{test} should fail on {case}:\n{proc.stdout[-3000:]}"
    # the hidden check, as dlkit-grade grades it
    if case not in _graded:
        out = tmp_path / "record.json"
        graded = subprocess.run([sys.executable, "-m", "grader", str(submission), "-a", aid,
                                 "--format", "json", "--out", str(out)], cwd=REPO,
                                capture_output=True, text=True, timeout=900)
        assert graded.returncode == 0, graded.stderr
        (assignment,) = json.loads(out.read_text(encoding="utf-8"))["assignments"]
        assert assignment["status"] == "graded", assignment
        _graded[case] = {c["name"]: c for c in assignment["checks"]}
    result = _graded[case][check]
    # failed, or passed with a fraction (a4's speed: 0 points at ≤ 1×)
    assert result["score"] < result["max_score"], result
