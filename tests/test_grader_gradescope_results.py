"""Gradescope's results.json as dlkit-grade writes it, without building an image: when
students see each check and their total (points.toml's [gradescope] table), and what the
instructor reads on stdout when the grader fails. The image, run as Gradescope runs it, is
tests/test_grader_gradescope.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from autograder import check_results_json, student_visible

from grader.report import render
from grader.report import visibility as vis

CASES = Path(__file__).parent / "grader_cases"
POINTS = {"a1": {"test_shape": 1.0, "test_he_std": 2.0}, "a2": {"test_backward": 2.0}}


def test_visibility_is_visible_unless_points_toml_says_otherwise():
    default = vis.parse({}, POINTS)
    assert default.score == "visible" and default.of("a1", "test_shape") == "visible"
    v = vis.parse({"gradescope": {"score": "after_published", "checks": "after_due_date",
                                  "a1": "hidden", "a1.test_he_std": "visible"}}, POINTS)
    assert v.score == "after_published"
    assert v.of("a1", "test_he_std") == "visible"           # the check's own entry
    assert v.of("a1", "test_he_std[3]") == "visible"        # a parametrized case follows it
    assert v.of("a1", "test_shape") == "hidden"             # then its task's
    assert v.of("a2", "test_backward") == "after_due_date"  # then every check's


@pytest.mark.parametrize(("table", "says"), [
    ({"a1": "later"}, "expected one of visible, after_due_date, after_published, hidden"),
    ({"a1.test_shpe": "hidden"}, "a1.test_shpe"),
    ({"a5": "hidden"}, "a5"),
])
def test_a_wrong_visibility_table_says_what_was_expected(table, says):
    with pytest.raises(vis.VisibilityError, match=says.replace(".", r"\.")):
        vis.parse({"gradescope": table}, POINTS)


@pytest.fixture(scope="module")
def checks_dir(tmp_path_factory):
    """The small checks (tests/grader_cases/fake_checks) with a [gradescope] table."""
    folder = tmp_path_factory.mktemp("checks")
    for path in (CASES / "fake_checks").iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    with open(folder / "points.toml", "a") as f:
        f.write('\n[gradescope]\nscore = "after_due_date"\na1 = "after_published"\n'
                '"a2.test_backward" = "hidden"\n')
    return folder


def _grade(checks: Path, submission: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DLKIT_GRADE_CHECKS_DIR=str(checks))
    return subprocess.run([sys.executable, "-m", "grader", str(submission), "--format",
                           "gradescope", "--out", str(out), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_results_json_carries_each_checks_visibility_and_hides_the_total(checks_dir, tmp_path):
    out = tmp_path / "results.json"
    proc = _grade(checks_dir, CASES / "hostile" / "crash_a1_good_a2", out, "-a", "a1,a2")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    check_results_json(data)
    assert data["visibility"] == "after_due_date"
    seen = {t["name"]: t["visibility"] for t in data["tests"]}
    assert {v for n, v in seen.items() if n.startswith("a1 ")} == {"after_published"}
    assert seen["a2 test_backward"] == "hidden" and seen["a2 test_forward_train"] == "visible"
    # while the total is not visible, the summary names each task's status, not its points
    assert "/ 5" not in data["output"] and "Total" not in data["output"]
    assert "a2 " in data["output"] and data["score"] == 5


def test_a_wrong_visibility_table_stops_grading_as_the_graders_fault(checks_dir, tmp_path):
    broken = tmp_path / "checks"
    shutil.copytree(checks_dir, broken)
    with open(broken / "points.toml", "a") as f:
        f.write('"a3.test_nothing" = "visible"\n')
    out = tmp_path / "results.json"
    proc = _grade(broken, CASES / "hostile" / "crash_a1_good_a2", out, "-a", "a1,a2")
    assert proc.returncode == 3 and "a3.test_nothing" in proc.stderr
    assert not out.exists()


def test_a_grader_fault_says_why_for_the_instructor(tmp_path):
    """Broken checks: exit 3, and stderr (Gradescope's instructor-only stdout) has the
    cause from the checks' log, not only which task failed."""
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "points.toml").write_text("[a1]\ntest_one = 1\n")
    (checks / "test_a1.py").write_text("def test_one(:\n")
    out = tmp_path / "results.json"
    proc = _grade(checks, CASES / "hostile" / "sys_exit", out, "-a", "a1")
    assert proc.returncode == 3
    assert "the grader failed on a1 (not the student's fault)" in proc.stderr
    assert "SyntaxError" in proc.stderr
    student = student_visible(json.loads(out.read_text())) if out.exists() else ""
    assert "SyntaxError" not in student


def test_render_keeps_the_points_in_the_summary_when_the_total_is_visible():
    record = {"submission": "s", "isolation": "namespaces", "seconds": 1.0, "score": 1.0,
              "max_score": 3.0, "status": "graded", "assignments": [
                  {"id": "a1", "folder": "a1_initialization", "title": "t", "status": "graded",
                   "score": 1.0, "max_score": 3.0, "seconds": 1.0, "checks": [
                       {"name": "test_shape", "score": 1.0, "max_score": 1.0,
                        "outcome": "passed", "message": {"en": "", "ja": ""}, "output": ""},
                       {"name": "test_he_std", "score": 0.0, "max_score": 2.0,
                        "outcome": "failed", "message": {"en": "no", "ja": "no"},
                        "output": ""}]}]}
    shown = json.loads(render(record, "gradescope", "en"))
    assert shown["visibility"] == "visible" and "Total: 1 / 3" in shown["output"]
    hidden = json.loads(render(record, "gradescope", "en", vis.parse(
        {"gradescope": {"score": "after_published"}}, POINTS)))
    assert "1 / 3" not in hidden["output"] and hidden["score"] == 1.0


def test_the_bundle_build_refuses_a_wrong_visibility_table(tmp_path):
    """A typo in the table fails when the instructor builds the zip, not in a student's run."""
    from grader.platforms.gradescope import bundle

    fake = tmp_path / "repo"
    (fake / "grader").mkdir(parents=True)
    (fake / "grader" / "points.toml").write_text(
        '[a2]\ntest_speed = 3\n[gradescope]\n"a2.test_sped" = "hidden"\n')
    with pytest.raises(vis.VisibilityError, match="a2.test_sped"):
        bundle.build(tmp_path / "ag.zip", repo=fake, assignments=["a2"])
    assert not (tmp_path / "ag.zip").exists()
