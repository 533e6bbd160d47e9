"""The hidden checks (grader/checks/test_a*.py) and their points, graded for real.

Each submission below is graded by the real runner (trusted pytest process, sandboxed
workers) with the real hidden checks and grader/points.toml, and must get an exact score:

- solutions/ : full marks;  assignments/ (the stubs): 0, every check failed cleanly;
- tests/grader_cases/buggy/<case>/ : one typical mistake each (the file's docstring says
  which); EXPECTED lists the checks it must lose and the exact total.

Grading takes seconds per assignment (a3 trains four networks, a4 compiles Numba kernels
and times them), so the default run grades a few cases and the rest are marked slow:
``python -m pytest tests/test_grader_checks.py -m slow``.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.scoring import runner

REPO = Path(__file__).resolve().parents[1]
CHECKS = REPO / "grader" / "checks"
POINTS = runner.load_points(REPO / "grader" / "points.toml")
BUGGY = REPO / "tests" / "grader_cases" / "buggy"
SOLUTIONS = REPO / "solutions"
STUBS = REPO / "assignments"
TOTALS = {"a1": 20.0, "a2": 30.0, "a3": 25.0, "a4": 25.0}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# case -> (assignment, {check: fraction earned} for every check not at full marks, total)
# One mistake costs its own checks (grader/checks: backward graded on the student's own forward
# state, float32 against the student's float64, the return value a check of its own); the
# secondary checks pay only when the main result is right, so a do-nothing submission gets 0.
_ALL = None  # every check of the assignment at 0
EXPECTED = {
    "a1_he_sqrt_1_over_n": ("a1", {"test_init_he": 0, "test_claim_relu_he_keeps_spread": 0},
                            17.0),
    "a1_xavier_sqrt_2_over_n": ("a1", {"test_init_xavier": 0}, 18.0),
    "a1_global_np_random": ("a1", {"test_init_uses_rng": 0}, 18.0),
    "a1_relu_stats_wrong": ("a1", {"test_spread_stats_relu": 0}, 19.0),
    "a1_float32_weights": ("a1", {"test_init_shape_and_dtype": 0}, 19.0),
    "a1_zeros_wrong_call": ("a1", {"test_init_zeros": 0}, 19.0),
    "a1_accepts_negative_std": ("a1", {"test_init_rejects_unknown_scheme": 0}, 19.0),
    "a1_saturated_one_side": ("a1", {"test_spread_stats_sigmoid": 0}, 19.0),
    # the lesson's claims are reproduced with the student's code: they need it right
    "a1_sigmoid_sign_wrong": ("a1", {"test_layer_activations_sigmoid": 0,
                                     "test_claim_sigmoid_std1_saturates": 0}, 18.0),
    "a1_float_scheme_is_variance": ("a1", {"test_init_float_std": 0,
                                           "test_claim_relu_001_collapses": 0}, 17.0),
    "a1_does_nothing": ("a1", _ALL, 0.0),
    # a forward with a slip loses the forward check, not the backward or running averages
    "a2_unbiased_variance": ("a2", {"test_forward_train_float64": 0}, 24.0),
    "a2_no_eps": ("a2", {"test_forward_train_float64": 0}, 24.0),
    "a2_no_running_update": ("a2", {"test_running_stats": 0}, 27.0),
    "a2_batch_stats_at_inference": ("a2", {"test_forward_inference": 0}, 26.0),
    "a2_dx_missing_term": ("a2", {"test_backward_dx": 0}, 24.0),
    "a2_dgamma_wrong": ("a2", {"test_backward_dgamma": 0}, 27.0),
    "a2_modifies_input": ("a2", {"test_inputs_not_modified": 0}, 29.0),
    "a2_accepts_batch_of_one": ("a2", {"test_batch_of_one_rejected": 0}, 29.0),
    "a2_does_nothing": ("a2", _ALL, 0.0),
    # Without BatchNorm the network does not learn at these scales: the main result is wrong,
    # so the secondary checks do not pay either; ten separated clusters it still learns.
    "a3_no_batchnorm": ("a3", {"test_bn_accuracy_large_scale": 0,
                               "test_bn_accuracy_mid_scale": 0, "test_bn_accuracy_small_scale": 0,
                               "test_bn_beats_no_bn": 0, "test_predict_inference_mode": 0,
                               "test_time_budget": 0, "test_same_seed_same_model": 0,
                               "test_predict_returns_scores": 0}, 2.0),
    # Accuracy on a batch of 2000 is fine with batch statistics; the batch-of-one check is not.
    "a3_predict_in_train_mode": ("a3", {"test_predict_inference_mode": 0}, 23.0),
    "a3_global_np_random": ("a3", {"test_same_seed_same_model": 0}, 23.0),
    # Only the output layer learns: below the mid-scale threshold, and the clusters
    "a3_batchnorm_backward_skipped": ("a3", {"test_bn_accuracy_mid_scale": 0,
                                             "test_learns_separable_clusters": 0}, 18.0),
    # labels instead of scores: the contract check only (the labels are graded)
    "a3_predict_returns_labels": ("a3", {"test_predict_returns_scores": 0}, 24.0),
    "a3_does_nothing": ("a3", _ALL, 0.0),
    # invstd far off: the forward and what needs it (float32, batch of one, speed)
    "a4_wrong_invstd": ("a4", {"test_forward_float64": 0, "test_forward_float32": 0,
                               "test_batch_of_one_rejected": 0, "test_speed": 0}, 8.0),
    "a4_backward_dx_missing_term": ("a4", {"test_backward_float64": 0,
                                           "test_backward_float32": 0, "test_speed": 0}, 9.0),
    # Correct but plain Python: every correctness check passes, the speed-up is ≪ 1×.
    "a4_python_loops": ("a4", {"test_speed": 0}, 16.0),
    # every output array right, no `return out`: the 1-point contract check only
    "a4_missing_return": ("a4", {"test_returns_the_output_arrays": 0}, 24.0),
    "a4_accepts_batch_of_one": ("a4", {"test_batch_of_one_rejected": 0}, 24.0),
    "a4_does_nothing": ("a4", _ALL, 0.0),
}
for _case, (_aid, _fractions, _total) in EXPECTED.items():
    if _fractions is _ALL:
        EXPECTED[_case] = (_aid, dict.fromkeys(POINTS[_aid], 0.0), _total)
# Checks that pass with a fraction (feedback.partial) instead of failing.
PARTIAL_CHECKS = {("a4", "test_speed")}
# The default run grades these; everything else is @pytest.mark.slow.
FAST_CASES = {"a2_unbiased_variance", "a1_does_nothing", "a4_missing_return"}


def _grade(source: Path, aid: str, options: runner.Options | None = None) -> dict:
    record = runner.grade(source, [aid], options)
    (assignment,) = record["assignments"]
    return assignment


def _assert_scores(result: dict, aid: str, fractions: dict[str, float], total: float):
    """Every check of points.toml ran; each earned points × its expected fraction."""
    assert result["status"] == "graded", (result["status"], result.get("log"))
    points = POINTS[aid]
    by_name = {c["name"]: c for c in result["checks"]}
    assert set(by_name) == set(points), "checks run differ from the checks in points.toml"
    assert not result["warnings"], result["warnings"]
    wrong = {}
    for name, check in by_name.items():
        fraction = fractions.get(name, 1.0)
        if check["score"] != pytest.approx(points[name] * fraction, abs=1e-9):
            wrong[name] = (check["outcome"], check["score"], check["message"]["en"][:500])
            continue
        if fraction == 1.0:
            assert check["outcome"] == "passed", (name, check)
        elif (aid, name) not in PARTIAL_CHECKS:
            # A clean failure with bilingual feedback, not a crash of the check.
            assert check["outcome"] == "failed", (name, check)
        if check["outcome"] == "failed" or fraction < 1.0:
            en, ja = check["message"]["en"], check["message"]["ja"]
            assert en.strip() and ja.strip() and en != ja, (name, check["message"])
            assert JAPANESE.search(ja), (name, ja)
    assert not wrong, wrong
    assert result["score"] == pytest.approx(total, abs=1e-9)
    assert result["max_score"] == pytest.approx(TOTALS[aid])


# ------------------------------------------------------------------ static, fast


def _check_functions(aid: str) -> set[str]:
    tree = ast.parse((CHECKS / f"test_{aid}.py").read_text(encoding="utf-8"))
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


@pytest.mark.parametrize("aid", sorted(TOTALS))
def test_points_cover_exactly_the_checks(aid):
    assert set(POINTS[aid]) == _check_functions(aid)
    assert sum(POINTS[aid].values()) == TOTALS[aid]
    assert all(v > 0 for v in POINTS[aid].values())


def test_expected_scores_follow_from_the_points():
    """The literal totals of EXPECTED agree with points.toml (a typo shows here first)."""
    for case, (aid, fractions, total) in EXPECTED.items():
        assert (BUGGY / case).is_dir(), case
        assert set(fractions) <= set(POINTS[aid]), case
        lost = sum(POINTS[aid][name] * (1 - f) for name, f in fractions.items())
        assert TOTALS[aid] - lost == pytest.approx(total), case
    assert {p.name for p in BUGGY.iterdir() if p.is_dir()} == set(EXPECTED)


def test_every_buggy_case_names_its_mistake():
    for case in EXPECTED:
        texts = [p.read_text(encoding="utf-8") for p in (BUGGY / case).rglob("*.py")]
        assert sum("THE MISTAKE:" in t for t in texts) == 1, case


# ------------------------------------------------------------------ graded for real


def _case_param(case):
    marks = () if case in FAST_CASES else (pytest.mark.slow,)
    return pytest.param(case, marks=marks, id=case)


@pytest.mark.parametrize("case", [_case_param(c) for c in EXPECTED])
def test_buggy_submission_gets_its_exact_score(case, tmp_path):
    aid, fractions, total = EXPECTED[case]
    submission = BUGGY / case
    if aid == "a3":
        # An a3 case's mistake is in train.py; its network uses a correct a2 layer, the
        # model answer's (a3 imports a2_batchnorm.batchnorm from the submission's root).
        submission = tmp_path / case
        shutil.copytree(BUGGY / case, submission)
        shutil.copytree(SOLUTIONS / "a2_batchnorm", submission / "a2_batchnorm")
    _assert_scores(_grade(submission, aid), aid, fractions, total)


@pytest.mark.parametrize("aid", [
    "a1", "a2",
    pytest.param("a3", marks=pytest.mark.slow),
    pytest.param("a4", marks=pytest.mark.slow),
])
def test_solutions_get_full_marks(aid):
    _assert_scores(_grade(SOLUTIONS, aid), aid, {}, TOTALS[aid])


@pytest.mark.parametrize("aid", sorted(TOTALS))
def test_stubs_get_zero_without_grader_errors(aid):
    """Every check of the untouched handout fails cleanly (NotImplementedError), none errors."""
    _assert_scores(_grade(STUBS, aid), aid, dict.fromkeys(POINTS[aid], 0.0), 0.0)


@pytest.mark.slow
def test_a_complete_solution_is_graded_within_two_minutes(tmp_path):
    """All four assignments through the command line, as an instructor runs it."""
    out = tmp_path / "grade.json"
    proc = subprocess.run([sys.executable, "-m", "grader", str(SOLUTIONS), "--format", "json",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    import json

    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["score"] == record["max_score"] == 100.0
    assert record["seconds"] < 120.0, [(a["id"], a["seconds"]) for a in record["assignments"]]


def test_missing_dataset_is_a_grader_error_not_a_zero(tmp_path):
    """a3 without Fashion-MNIST: the run stops as a grader error (exit status 3), no score."""
    checks = tmp_path / "checks"
    checks.mkdir()
    shutil.copy(CHECKS / "test_a3.py", checks / "test_a3.py")
    shutil.copy(REPO / "grader" / "points.toml", checks / "points.toml")
    (checks / "conftest.py").write_text(
        "import pytest\n"
        "from grader.scoring.plugin import (  # noqa\n"
        "    feedback, reference_timer, submission_files, worker)\n"
        "class _NoData:\n"
        "    def fashion_mnist(self, **kwargs):\n"
        "        raise FileNotFoundError('fashion-mnist: no such files (test)')\n"
        "@pytest.fixture(scope='session')\n"
        "def hidden_data():\n"
        "    return _NoData()\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "grader", str(SOLUTIONS), "--assignment", "a3",
                           "--format", "json", "--out", str(tmp_path / "r.json"),
                           "--checks-dir", str(checks)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    import json

    (result,) = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["assignments"]
    assert result["status"] == "grader" and result["score"] == 0.0
    assert {c["outcome"] for c in result["checks"]} == {"not-run"}
    assert "fashion-mnist" in result["log"].lower() and "GRADER ERROR" in result["log"]


# ------------------------------------------------------------------ helpers of the checks


def test_rel_error_and_close_report_what_differs():
    from dlkit.gradcheck import normwise_rel_error as rel_error
    from grader.checks._expect import close

    class Feedback:
        def fail(self, en, ja):
            raise AssertionError(en, ja)

    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, a + np.array([[0, 0], [0, 1e-3]])) == pytest.approx(1e-3 / 8.001)
    close(Feedback(), a.copy(), a, what="x", tol=0.0)
    with pytest.raises(AssertionError) as info:
        close(Feedback(), a + np.array([[0, 0], [0.5, 0]]), a, what="x", tol=1e-9)
    en, ja = info.value.args
    assert "index (1, 0)" in en and "expected 3" in en and "got 3.5" in en
    assert "インデックス (1, 0)" in ja
    with pytest.raises(AssertionError, match=r"expected shape \(2, 2\), got shape \(4,\)"):
        close(Feedback(), a.ravel(), a, what="x", tol=1.0)
    with pytest.raises(AssertionError, match="NaN/inf"):
        close(Feedback(), a * np.nan, a, what="x", tol=1.0)
