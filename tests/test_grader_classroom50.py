"""Classroom 50: the autograder folder, result.json against the contract, and whole points.

The contract (classroom50/result/v1) is checked twice: against a JSON Schema written from
the table of Classroom 50's wiki (grader/platforms/classroom50/result-v1.schema.json, with
the jsonschema package), and for what a schema cannot say (sums, ints, score within
max-score), as Classroom 50's runner validates it. The generated autograder.py run the way
Classroom 50's runner runs it, on the model answers and on the untouched handout, is in
tests/test_grader_classroom50_runner.py (slow).
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader.platforms import classroom50
from grader.platforms.classroom50 import result as c50
from grader.scoring import runner

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "grader_cases"
SCHEMA = json.loads(c50.SCHEMA_FILE.read_text(encoding="utf-8"))
ENV = {"CLASSROOM": "dl-2026", "ASSIGNMENT": "batchnorm", "ASSIGNMENT_TYPE": "individual",
       "SUBMISSION_TAG": "submit/2026-06-01T14-32-05Z-a1b2c3d", "OWNER": "alice",
       "COMMIT_URL": "https://github.com/dl-2026/dl-2026-batchnorm-alice/commit/a1b2c3d",
       "RELEASE_URL": "https://github.com/dl-2026/dl-2026-batchnorm-alice/releases/tag/x"}


def check_contract(result: dict) -> None:
    """``result`` is a classroom50/result/v1 payload Classroom 50's runner accepts."""
    jsonschema.validate(result, SCHEMA, cls=jsonschema.Draft202012Validator)

    def is_int(x):
        return isinstance(x, int) and not isinstance(x, bool)

    assert is_int(result["score"]) and is_int(result["max-score"])
    assert all(is_int(t["score"]) and is_int(t["max-score"]) for t in result["tests"])
    assert result["score"] == sum(t["score"] for t in result["tests"])
    assert result["max-score"] == sum(t["max-score"] for t in result["tests"])
    assert all(0 <= t["score"] <= t["max-score"] for t in result["tests"])
    names = [t["test-name"] for t in result["tests"]]
    assert len(set(names)) == len(names)


def half_up(hundredths: int) -> int:
    return (hundredths + 50) // 100


# ---------------------------------------------------------------- whole points


@pytest.mark.parametrize(("scores", "maxima", "expected"), [
    ([6.67, 16], [10, 16], [7, 16]),          # a speed check at 6.67 of 10: total 22.67 -> 23
    ([3.33, 6.67], [10, 10], [3, 7]),          # 10.00 -> 10: the larger fraction gets the unit
    ([0.5, 0.5], [1, 1], [1, 0]),              # 1.00 -> 1: a tie goes to the earlier check
    ([0.5], [1], [1]),                         # half up
    ([0.49], [1], [0]),                        # less than half a point is not given away
    ([2.4, 2.4], [5, 5], [3, 2]),              # 4.80 -> 5
    ([6, 3, 0, 9], [9, 9, 9, 9], [6, 3, 0, 9]),  # the shipped points: whole already
])
def test_partial_points_become_whole_points_as_documented(scores, maxima, expected):
    assert c50.int_points(scores, maxima) == expected


def test_whole_points_add_up_to_the_total_rounded_half_up_and_stay_near_each_check():
    rng = random.Random(20)
    for _ in range(2000):
        maxima = [rng.choice([1, 2, 3, 5, 9, 10]) for _ in range(rng.randint(1, 12))]
        hundredths = [rng.choice([0, 100 * m, rng.randint(0, 100 * m)]) for m in maxima]
        scores = [h / 100 for h in hundredths]
        got = c50.int_points(scores, maxima)
        assert sum(got) == half_up(sum(hundredths)), (scores, maxima, got)
        for g, h, m in zip(got, hundredths, maxima, strict=True):
            assert h // 100 <= g <= -(-h // 100) <= m  # between floor and ceil, within max
            if h in (0, 100 * m):
                assert g == h // 100  # a check earned in full or not at all is exact


def test_scores_outside_their_maxima_are_refused():
    with pytest.raises(c50.ResultError, match="within their maxima"):
        c50.int_points([2.5], [2])


# ---------------------------------------------------------------- result.json


@pytest.fixture(scope="module")
def record():
    """A real record: crash_a1_good_a2 graded on the small checks (a1 0 of 5, a2 5 of 5)."""
    return runner.grade(CASES / "hostile" / "crash_a1_good_a2", ["a1", "a2"],
                        runner.Options(checks_dir=CASES / "fake_checks"))


def test_result_json_follows_the_contract(record):
    result = c50.result_json(record, ENV, "2026-06-01T14:32:01Z")
    check_contract(result)
    assert result["schema"] == "classroom50/result/v1"
    assert (result["classroom"], result["assignment"]) == ("dl-2026", "batchnorm")
    assert result["owner"] == "alice" and result["assignment_type"] == "individual"
    assert result["review"] == ENV["COMMIT_URL"]  # no REVIEW_URL: the commit
    assert result["datetime"] == "2026-06-01T14:32:01Z"
    assert (result["score"], result["max-score"]) == (5, 10)
    assert result["score"] == round(record["score"]) and result["max-score"] == 10
    by_name = {t["test-name"]: t for t in result["tests"]}
    assert by_name["a2 test_forward_train"]["passed"] is True
    assert by_name["a1 test_shape"] == {"test-name": "a1 test_shape", "passed": False,
                                        "score": 0, "max-score": 1, "exact-score": 0.0}
    review = c50.result_json(record, {**ENV, "REVIEW_URL": "https://github.com/x/compare/a...b"},
                             "2026-06-01T14:32:01Z")
    assert review["review"] == "https://github.com/x/compare/a...b"


def test_partial_credit_is_recorded_in_whole_points_that_add_up(record):
    partial = copy.deepcopy(record)
    a2 = partial["assignments"][1]
    a2["checks"][0].update(score=1.33, outcome="passed")   # of 2
    a2["checks"][1].update(score=0.67, outcome="passed")   # of 2
    result = c50.result_json(partial, ENV, "2026-06-01T14:32:01Z")
    check_contract(result)
    got = {t["test-name"]: (t["score"], t["passed"], t["exact-score"]) for t in result["tests"]}
    assert got["a2 test_forward_train"] == (1, False, 1.33)
    assert got["a2 test_backward"] == (1, False, 0.67)
    assert result["score"] == 1 + 1 + 1  # 1.33 + 0.67 + 1 = 3.00


def test_missing_runner_variables_and_fractional_points_are_refused(record):
    with pytest.raises(c50.ResultError, match="SUBMISSION_TAG, COMMIT_URL"):
        c50.result_json(record, {k: v for k, v in ENV.items()
                                 if k not in ("SUBMISSION_TAG", "COMMIT_URL")}, "x")
    odd = copy.deepcopy(record)
    odd["assignments"][0]["checks"][0]["max_score"] = 1.5
    with pytest.raises(c50.ResultError, match=r"whole number .* a1 test_shape \(1.5\)"):
        c50.result_json(odd, ENV, "2026-06-01T14:32:01Z")


def test_the_schema_rejects_what_the_contract_does_not_allow(record):
    good = c50.result_json(record, ENV, "2026-06-01T14:32:01Z")
    for broken in ({**good, "schema": "classroom50/result/v2"},
                   {**good, "score": 4.5},
                   {**good, "datetime": "2026-06-01 14:32:01"},
                   {k: v for k, v in good.items() if k != "commit"},
                   {**good, "tests": [{**good["tests"][0], "passed": "yes"}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_datetime_is_the_commits_committer_date_in_utc(tmp_path):
    env = dict(os.environ, GIT_AUTHOR_NAME="s", GIT_AUTHOR_EMAIL="s@example.com",
               GIT_COMMITTER_NAME="s", GIT_COMMITTER_EMAIL="s@example.com",
               GIT_AUTHOR_DATE="2026-05-30T08:00:00+02:00",
               GIT_COMMITTER_DATE="2026-06-01T23:32:01+09:00")
    for cmd in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "work"]):
        subprocess.run(["git", *cmd], cwd=tmp_path, env=env, check=True)
    assert c50.committed_at(tmp_path) == "2026-06-01T14:32:01Z"
    with pytest.raises(c50.ResultError, match="committer date"):
        c50.committed_at(tmp_path, "0" * 40)  # not a commit of this repository


def test_release_body_gives_each_lost_check_its_reason_in_the_language(record):
    result = c50.result_json(record, ENV, "2026-06-01T14:32:01Z")
    en = c50.release_body(record, result, "en")
    ja = c50.release_body(record, result, "ja")
    assert en.startswith("### dlkit-grade: 5 / 10")
    assert "SIGSEGV" in en  # a1's crash at import, said once
    assert "- **test_shape**: 0 / 1" in en and "test_forward_train" not in en
    assert "件の検査に合格" in ja and "checks passed" not in ja
    # student output cannot break out of its code block
    loud = copy.deepcopy(record)
    loud["assignments"][0]["checks"][0]["output"] = "```\n# I passed everything\n```"
    body = c50.release_body(loud, result, "en")
    block = body[body.index("- **test_shape**"):]
    assert block.split("\n")[1] == "  ````" and "\n  # I passed everything\n" in block


# ---------------------------------------------------------------- the autograder folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("c50") / "batchnorm"
    proc = subprocess.run([sys.executable, "-m", "grader", "classroom50", str(out),
                           "--assignment", "a2", "--lang", "ja"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


def test_folder_holds_autograder_wheel_lock_and_settings(folder):
    names = sorted(p.name for p in folder.iterdir())
    (whl,) = [n for n in names if n.endswith(".whl")]
    assert names == sorted(["autograder.py", "dlkit-grade.json", "requirements.lock", whl])
    settings = json.loads((folder / "dlkit-grade.json").read_text())
    assert settings["assignments"] == ["a2"] and settings["lang"] == "ja"
    assert settings["python"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert settings["wheel"] == whl
    packaged = zipfile.ZipFile(folder / whl).namelist()
    assert "grader/checks/test_a2.py" in packaged
    assert "grader/platforms/classroom50/result.py" in packaged
    assert not any(n.startswith("solutions/") for n in packaged)
    # small enough for Classroom 50's runner, which fetches at most 10 MB of a bundle
    assert sum(p.stat().st_size for p in folder.iterdir()) < 2 * 1024 * 1024


def test_folder_is_refused_when_not_empty_or_points_are_not_whole(folder, tmp_path):
    with pytest.raises(FileExistsError, match="not empty"):
        classroom50.build(folder, ["a2"])
    fake = tmp_path / "repo"
    (fake / "grader").mkdir(parents=True)
    (fake / "grader" / "points.toml").write_text("[a2]\ntest_a = 1.5\n")
    with pytest.raises(c50.ResultError, match=r"a2 test_a \(1.5\)"):
        classroom50.build(tmp_path / "out", ["a2"], repo=fake)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("change", "env", "says"), [
    ({"python": "2.7"}, ENV, "requirements.lock were built and tested with Python 2.7"),
    ({}, {k: v for k, v in ENV.items() if k != "RELEASE_URL"}, "RELEASE_URL not set"),
])
def test_autograder_stops_before_grading_when_it_cannot_grade_as_built(
        folder, tmp_path, change, env, says):
    """A wrong Python or a missing runner variable is the machinery's fault: exit 2 with
    the reason, and no result.json (the runner then records an error, not a 0)."""
    copy_dir = tmp_path / "bundle"
    copy_dir.mkdir()
    for name in ("autograder.py", "dlkit-grade.json"):
        (copy_dir / name).write_bytes((folder / name).read_bytes())
    settings = json.loads((copy_dir / "dlkit-grade.json").read_text())
    (copy_dir / "dlkit-grade.json").write_text(json.dumps({**settings, **change}))
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    proc = subprocess.run([sys.executable, str(copy_dir / "autograder.py")], cwd=checkout,
                          env={"PATH": os.environ["PATH"], **env}, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert not (checkout / "result.json").exists()
