"""GitHub Classroom end to end: dlkit-grade's runner result as the grading reporter reads it,
the example workflow, and ``--fail-under`` for plain CI.

The reporter (classroom-resources/autograding-grading-reporter@v1) is JavaScript; its
rules are re-implemented below from its source (src/main.js, src/notify-classroom.js,
src/helpers/test-helpers.js) and applied to the output of a real ``dlkit-grade`` run.
When ``DLKIT_CLASSROOM_REPORTER`` names the reporter's bundled ``dist/main.js`` and node is
installed, the reporter itself is run on the same output too.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.report import render

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "grader_cases"
WORKFLOW = REPO / "grader" / "examples" / "grade.yml"
# the first major release of each action that runs on Node 24
NODE24 = {"actions/checkout": 5, "actions/setup-python": 6, "actions/upload-artifact": 6}


def reporter(runners: str, env: dict[str, str]) -> dict:
    """What the grading reporter does with the runners' outputs (its src/main.js and
    src/notify-classroom.js): the points Classroom records and whether the job fails."""
    results = []
    for runner in runners.split(","):
        encoded = env[f"{runner.strip().upper()}_RESULTS"]
        results.append(json.loads(base64.b64decode(encoded).decode("utf-8")))
    total = maximum = 0.0
    for res in results:
        if not res.get("max_score"):  # a runner without max_score adds no points
            continue
        maximum += res["max_score"]
        total += sum(test["score"] for test in res["tests"])
    failed = any(r["status"] == "fail" for r in results)
    errored = any(r["status"] == "error" for r in results)
    return {"notice": {"totalPoints": total, "maxPoints": maximum} if maximum else None,
            "failed": failed or errored, "results": results}


def grade(submission: Path, fmt: str, out: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DLKIT_GRADE_CHECKS_DIR=str(CASES / "fake_checks"))
    return subprocess.run([sys.executable, "-m", "grader", str(submission), "--format", fmt,
                           "--out", str(out), *args], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def runner_result(tmp_path_factory):
    """dlkit-grade --format classroom on crash_a1_good_a2 (a1 crashes: 0/5; a2: 5/5)."""
    out = tmp_path_factory.mktemp("classroom") / "classroom.json"
    proc = grade(CASES / "hostile" / "crash_a1_good_a2", "classroom", out, "-a", "a1,a2")
    assert proc.returncode == 0, proc.stderr
    return out.read_text(encoding="utf-8")


def test_runner_result_has_the_reporters_fields(runner_result):
    data = json.loads(runner_result)
    assert set(data) == {"version", "status", "max_score", "tests"}
    assert data["status"] == "fail" and data["max_score"] == 10
    for test in data["tests"]:
        assert set(test) == {"name", "status", "score", "message", "test_code", "filename",
                             "line_no", "duration"}
        assert test["status"] in ("pass", "fail") and test["line_no"] == 0
    failed = [t for t in data["tests"] if t["status"] == "fail"]
    # a1 crashes at import: said once, in a1's first check; the others point to it
    assert len(failed) == 4 and "SIGSEGV" in failed[0]["message"]
    assert all(t["message"].startswith("Not run: see above") for t in failed[1:])


def test_reporter_records_the_points(runner_result):
    env = {"GRADE_RESULTS": base64.b64encode(runner_result.encode()).decode()}
    seen = reporter("grade", env)
    assert seen["notice"] == {"totalPoints": 5, "maxPoints": 10}
    assert seen["failed"]  # not every point: the reporter marks the job failed


def test_partial_points_are_kept(tmp_path):
    """A check with part of its points (a speed check) counts with that part."""
    proc = grade(CASES / "hostile" / "crash_a1_good_a2", "json", tmp_path / "r.json", "-a", "a2")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads((tmp_path / "r.json").read_text())
    check = rec["assignments"][0]["checks"][0]
    check["score"] = check["max_score"] * 0.25  # as plugin.Feedback.partial(0.25) scores it
    rec["score"] = sum(c["score"] for a in rec["assignments"] for c in a["checks"])
    data = json.loads(render(rec, "classroom"))
    assert data["tests"][0]["score"] == check["score"] and data["tests"][0]["status"] == "fail"
    seen = reporter("grade", {"GRADE_RESULTS": base64.b64encode(
        render(rec, "classroom").encode()).decode()})
    assert seen["notice"]["totalPoints"] == pytest.approx(rec["score"])
    assert seen["notice"]["totalPoints"] % 1 != 0


def test_a_grader_failure_records_no_points(runner_result):
    rec = {"submission": "x", "isolation": "user", "score": 5, "max_score": 10, "seconds": 1,
           "assignments": [{"id": "a1", "title": "t", "folder": "a1_initialization",
                            "status": "grader", "score": 5, "max_score": 10, "seconds": 1,
                            "checks": [{"name": "test_x", "score": 5, "max_score": 10,
                                        "outcome": "not-run", "message": {"en": "m"},
                                        "output": ""}]}]}
    data = json.loads(render(rec, "classroom"))
    assert data["status"] == "error" and data["max_score"] == 0
    seen = reporter("grade", {"GRADE_RESULTS": base64.b64encode(
        json.dumps(data).encode()).decode()})
    assert seen["notice"] is None and seen["failed"]


def test_messages_fit_in_an_environment_variable():
    """The reporter gets the base64 JSON in one environment variable (at most 128 KiB on
    Linux): long student output is cut."""
    check = {"name": "test_x", "score": 0.0, "max_score": 1.0, "outcome": "failed",
             "message": {"en": "boom " * 2000}, "output": "x" * 100_000}
    rec = {"submission": "x", "isolation": "user", "score": 0, "max_score": 40.0,
           "seconds": 1, "assignments": [{"id": "a1", "title": "t", "folder": "a1",
                                          "status": "graded", "checks": [check] * 40}]}
    encoded = base64.b64encode(render(rec, "classroom").encode())
    assert len(encoded) < 128 * 1024


@pytest.mark.skipif(not (os.environ.get("DLKIT_CLASSROOM_REPORTER") and shutil.which("node")),
                    reason="set DLKIT_CLASSROOM_REPORTER to the reporter's dist/main.js "
                    "(and install node) to run the reporter itself")
def test_the_reporter_itself_records_the_points(runner_result):
    env = {"PATH": os.environ["PATH"], "INPUT_RUNNERS": "grade",
           "GRADE_RESULTS": base64.b64encode(runner_result.encode()).decode()}
    proc = subprocess.run(["node", os.environ["DLKIT_CLASSROOM_REPORTER"]], env=env,
                          capture_output=True, text=True, timeout=60)
    notice = re.search(r"::notice title=Autograding report::(\{.*\})", proc.stdout)
    assert notice, proc.stdout + proc.stderr
    assert json.loads(notice.group(1)) == {"totalPoints": 5, "maxPoints": 10}
    assert proc.returncode == 1 and "Some tests failed." in proc.stdout


# ---------------------------------------------------------------- the workflow


def test_workflow_follows_classrooms_template_and_reports_the_points():
    flow = yaml.safe_load(WORKFLOW.read_text())
    assert flow["name"] == "Autograding Tests"
    assert flow["on"] == ["push", "repository_dispatch"]
    (job_id, job), = flow["jobs"].items()
    assert job_id == "run-autograding-tests"
    assert job["if"] == "github.actor != 'github-classroom[bot]'"
    steps = job["steps"]
    assert steps[0]["name"] == "Checkout code"
    grading = next(s for s in steps if s.get("id") == "grade")
    assert "--format classroom" in grading["run"]
    assert 'echo "result=$(base64 -w0 classroom.json)" >> "$GITHUB_OUTPUT"' in grading["run"]
    rep = steps[-1]
    assert rep["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    runners = rep["with"]["runners"].split(",")
    assert runners == ["grade"]
    # the reporter reads <RUNNER ID IN CAPITALS>_RESULTS: one per runner, from its output
    assert rep["env"] == {f"{r.upper()}_RESULTS": f"${{{{ steps.{r}.outputs.result }}}}"
                          for r in runners}


def test_workflow_actions_run_on_node24_and_the_checks_stay_private():
    flow = yaml.safe_load(WORKFLOW.read_text())
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    for step in steps:
        action, _, version = step.get("uses", "").partition("@")
        if action in NODE24:
            assert int(version.lstrip("v")) >= NODE24[action], step["uses"]
    assert {s.get("uses", "").partition("@")[0] for s in steps} >= {
        "actions/checkout", "actions/setup-python"}
    grader = [s for s in steps if s.get("with", {}).get("repository")]
    assert len(grader) == 1 and grader[0]["with"]["token"].startswith("${{ secrets.")
    assert grader[0]["with"]["path"] != steps[0]["with"]["path"]  # not in the student's tree
    assert grader[0]["with"]["persist-credentials"] is False


# ---------------------------------------------------------------- plain CI


def test_fail_under_makes_the_exit_status_non_zero_below_the_score(tmp_path):
    sub = CASES / "hostile" / "crash_a1_good_a2"
    assert grade(sub, "json", tmp_path / "a.json", "-a", "a1,a2",
                 "--fail-under", "5").returncode == 0
    below = grade(sub, "json", tmp_path / "b.json", "-a", "a1,a2", "--fail-under", "5.5")
    assert below.returncode == 1 and "below --fail-under 5.5" in below.stderr
    assert json.loads((tmp_path / "b.json").read_text())["score"] == 5  # still written
    bad = grade(sub, "json", tmp_path / "c.json", "--fail-under", "-1")
    assert bad.returncode == 2 and "expected a score >= 0" in bad.stderr
