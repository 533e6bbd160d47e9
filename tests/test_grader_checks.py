"""The hidden checks (grader/checks/test_a*.py) and their points, graded for real.

Each submission below is graded by the real runner (trusted pytest process, sandboxed
workers) with the real hidden checks and grader/points.toml, and must get an exact score:

- solutions/ : full marks;  assignments/ (the stubs): 0, every check failed cleanly;
- the slip cases of tests/slip_cases.py: the model answers with one typical mistake each (a
  patch in tests/grader_cases/slips/), losing exactly the checks SLIPS names, a deduction
  within TA_AGREEMENT points of what a TA would deduct.

Grading takes seconds per assignment (a3 trains networks, a4 compiles Numba kernels and
times them), so the default run grades a few cases and the rest are marked slow:
``python -m pytest tests/test_grader_checks.py -m slow``.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import slip_cases
from slip_cases import SLIPS, TA_AGREEMENT, deduction, expected_score, lost_fractions

from grader.scoring import runner

REPO = Path(__file__).resolve().parents[1]
CHECKS = REPO / "grader" / "checks"
POINTS = runner.load_points(REPO / "grader" / "points.toml")
SOLUTIONS = REPO / "solutions"
STUBS = REPO / "assignments"
TOTALS = {aid: sum(points.values()) for aid, points in POINTS.items()}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# Checks that pass with a fraction (feedback.partial) instead of failing.
PARTIAL_CHECKS = {("a4", "test_speed"), ("a4", "test_forward_float64"),
                  ("a4", "test_backward_float64")}
# The default run grades these; everything else is @pytest.mark.slow.
FAST_CASES = {"a2_unbiased_variance", "a1_does_nothing", "a1_w_transposed"}


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
    assert all(v > 0 for v in POINTS[aid].values())


def test_the_points_add_up_to_100():
    assert sum(TOTALS.values()) == 100


def test_every_slip_case_is_a_patch_with_a_row():
    """One patch per row of SLIPS and one row per patch; each names its mistake and base,
    names only checks of its task, and applies to the model answers as they are today."""
    patches = {p.stem for p in slip_cases.PATCHES.glob("*.patch")}
    assert patches == set(SLIPS)
    for case in SLIPS:
        mistake, _base = slip_cases.header(case)
        assert mistake, case
        assert set(lost_fractions(case)) <= set(POINTS[slip_cases.task(case)]), case


def test_at_least_fifteen_one_slip_variants_with_full_copies_gone():
    slips = [c for c in SLIPS if slip_cases.header(c)[1] == "solutions"]
    assert len(slips) >= 15
    assert not (REPO / "tests" / "grader_cases" / "buggy").exists()


def test_grader_deductions_agree_with_the_tas():
    """The grader's deduction (from points.toml) is within TA_AGREEMENT of the TA's."""
    far = {case: (deduction(case), slip.ta) for case, slip in SLIPS.items()
           if abs(deduction(case) - slip.ta) > TA_AGREEMENT}
    assert not far, far


def test_patches_apply_and_change_the_model_answer(tmp_path):
    for case in SLIPS:
        sub = slip_cases.submission(case, tmp_path / case)
        aid = slip_cases.task(case)
        from dlkit.tasks import TASKS

        base = REPO / slip_cases.header(case)[1] / TASKS[aid].path
        assert (sub / TASKS[aid].path).read_text() != base.read_text(), case
        compile((sub / TASKS[aid].path).read_text(), case, "exec")


# ------------------------------------------------------------------ graded for real


def _case_param(case):
    marks = () if case in FAST_CASES else (pytest.mark.slow,)
    return pytest.param(case, marks=marks, id=case)


@pytest.mark.parametrize("case", [_case_param(c) for c in SLIPS])
def test_slip_case_gets_its_exact_score(case, tmp_path):
    aid = slip_cases.task(case)
    fractions = {name: 1.0 - lost for name, lost in lost_fractions(case).items()}
    _assert_scores(_grade(slip_cases.submission(case, tmp_path / case), aid), aid, fractions,
                   expected_score(case))


@pytest.mark.slow
@pytest.mark.parametrize("aid", sorted(TOTALS))
def test_a_regrade_of_every_case_in_one_batch_gives_the_same_totals(aid, tmp_path):
    """Every slip case of the task graded again, all in one ``dlkit-grade batch`` with two
    jobs (another process, another order, another load): each total is the case's exact
    expected score, as in test_slip_case_gets_its_exact_score."""
    cases = [c for c in SLIPS if slip_cases.task(c) == aid]
    for case in cases:
        slip_cases.submission(case, tmp_path / "class" / case)
    out = tmp_path / "grades.csv"
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(tmp_path / "class"),
                           "--assignment", aid, "--jobs", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=3600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with out.open(encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    totals = {case: float(rows[case][aid]) for case in cases}
    assert totals == {case: pytest.approx(expected_score(case)) for case in cases}


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
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["score"] == record["max_score"] == sum(TOTALS.values())
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
    (result,) = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["assignments"]
    assert result["status"] == "grader" and result["score"] == 0.0
    assert {c["outcome"] for c in result["checks"]} == {"not-run"}
    assert "fashion-mnist" in result["log"].lower() and "GRADER ERROR" in result["log"]


# ------------------------------------------------------------------ helpers of the checks


def test_rel_error_and_close_report_what_differs():
    from dlkit.gradcheck import normwise_rel_error as rel_error
    from grader.checks.helpers import close

    class Feedback:
        def fail(self, message):
            raise AssertionError(message)

    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, a + np.array([[0, 0], [0, 1e-3]])) == pytest.approx(1e-3 / 8.001)
    close(Feedback(), a.copy(), a, what="x", tol=0.0)
    with pytest.raises(AssertionError) as info:
        close(Feedback(), a + np.array([[0, 0], [0.5, 0]]), a, what="x", tol=1e-9)
    (message,) = info.value.args
    assert "index (1, 0)" in message.en and "expected 3" in message.en
    assert "got 3.5" in message.en and "インデックス (1, 0)" in message.ja
    with pytest.raises(AssertionError, match=r"expected shape \(2, 2\), got shape \(4,\)"):
        close(Feedback(), a.ravel(), a, what="x", tol=1.0)
    with pytest.raises(AssertionError, match="NaN/inf"):
        close(Feedback(), a * np.nan, a, what="x", tol=1.0)


def test_numbers_are_written_with_enough_digits_to_differ():
    """Never "expected 1.57825, got 1.57825": as many digits as it takes (at least 6)."""
    from grader.checks.helpers import digits

    assert digits(1.5782512, 1.5782549) == ("1.578251", "1.578255")
    assert digits(1.0, 2.0) == ("1", "2")
    want, seen = digits(0.1 + 0.2, 0.3)
    assert want != seen and float(want) == 0.1 + 0.2


def test_the_mnist_test_set_comes_from_the_folder_the_instructor_names(mnist_t10k_dir,
                                                                       tmp_path, monkeypatch):
    """HiddenData.mnist_test reads $DLKIT_GRADE_MNIST_DIR and no folder of its own: unset or
    a folder without the files gives None (the calibration then says which variable), the
    real files give the 10,000 test digits."""
    from grader.scoring.plugin import MNIST_DIR_VARIABLE, HiddenData

    monkeypatch.delenv(MNIST_DIR_VARIABLE, raising=False)
    assert HiddenData().mnist_test() is None
    monkeypatch.setenv(MNIST_DIR_VARIABLE, str(tmp_path))
    assert HiddenData().mnist_test() is None
    monkeypatch.setenv(MNIST_DIR_VARIABLE, str(mnist_t10k_dir))
    x, t = HiddenData().mnist_test()
    assert x.shape == (10000, 784) and x.dtype == np.float64 and 0 <= x.min() < x.max() <= 1
    assert t.shape == (10000,) and set(np.unique(t)) == set(range(10))
    x4, _ = HiddenData().mnist_test(normalize=False, flatten=False)
    assert x4.shape == (10000, 1, 28, 28) and x4.max() == 255


def test_the_calibration_names_the_variable_when_mnist_is_missing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DLKIT_GRADE_MNIST_DIR"}
    proc = subprocess.run([sys.executable, "-m", "grader.calibrate.a3_accuracy",
                           str(REPO / "solutions"), "--dataset", "mnist-t10k", "--seeds", "0",
                           "--scales", "1"], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)
    assert proc.returncode != 0
    assert "$DLKIT_GRADE_MNIST_DIR" in proc.stderr and "the variable unset" in proc.stderr
