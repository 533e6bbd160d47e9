"""``dlkit-grade``: grading from the command line, report formats, batch, release, bundle.

Grading here uses the tiny check set of tests/grader_cases/fake_checks (exact points);
the real hidden checks on solutions/ and assignments/ are in the slow tests at the end.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from autograder import check_results_json, student_visible

from dlkit.tasks import TASKS
from grader import cli
from grader.cli import main
from grader.platforms import release
from grader.report import render
from grader.sandbox.isolation import isolation_note
from grader.scoring import runner

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "grader_cases"
FAKE = CASES / "fake_checks"
HOSTILE = CASES / "hostile"


@pytest.fixture(autouse=True)
def _fake_checks(monkeypatch):
    monkeypatch.setenv("DLKIT_GRADE_CHECKS_DIR", str(FAKE))


def _copy(src: Path, dst: Path, only=None) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "test_*.py"))
    if only:
        for child in dst.iterdir():
            if child.is_dir() and child.name not in only:
                shutil.rmtree(child)
    return dst


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """One graded record: crash_a1_good_a2 (a1 crashes at import, a2 is correct)."""
    out = tmp_path_factory.mktemp("rec") / "record.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DLKIT_GRADE_CHECKS_DIR", str(FAKE))
        assert main([str(HOSTILE / "crash_a1_good_a2"), "--assignment", "a1,a2",
                     "--format", "json", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_json_record_has_scores_isolation_and_reasons(record):
    assert record["score"] == 5 and record["max_score"] == 10
    assert record["isolation"] in ("namespaces", "user", "session")
    a1, a2 = record["assignments"]
    assert (a1["id"], a1["score"], a2["id"], a2["score"]) == ("a1", 0, "a2", 5)
    # a crash at import is the task's: said once, each check "not run: see above"
    assert a1["status"] == "not-loaded" and "SIGSEGV" in a1["problem"]["en"]
    assert all(c["message"]["en"] == "Not run: see above." for c in a1["checks"])


def test_gradescope_format(record):
    data = json.loads(render(record, "gradescope"))
    check_results_json(data)  # Gradescope's specification
    assert data["score"] == 5 and len(data["tests"]) == 7
    assert sum(t["max_score"] for t in data["tests"]) == 10
    assert [t["number"] for t in data["tests"]] == ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2",
                                                    "2.3"]
    failed = [t for t in data["tests"] if t["status"] == "failed"]
    assert len(failed) == 4 and all("see above" in t["output"] for t in failed)
    assert data["output"].count("SIGSEGV") == 1
    assert "a1 Weight initialization: 0 / 5" in data["output"]
    # what the isolation did not protect is for the instructor only
    assert data["extra_data"]["isolation"] == record["isolation"]
    assert data["extra_data"]["isolation_note"] == record["instructor"]["isolation_note"]
    assert "isolation" not in student_visible(data).lower()


def test_junit_format(record):
    root = ET.fromstring(render(record, "junit"))
    suites = root.findall("testsuite")
    assert [s.get("failures") for s in suites] == ["4", "0"]
    assert sum(1 for _ in root.iter("testcase")) == 7
    assert all("SIGSEGV" in f.text for f in root.iter("failure"))


def test_text_format_in_both_languages(record):
    en, ja = render(record, "text", "en"), render(record, "text", "ja")
    assert "Total: 5 / 10" in en and "FAIL" in en
    assert "合計: 5 / 10" in ja and "実行プロセスを停止させました" in ja


def test_junit_survives_control_characters_in_student_output(record):
    bad = json.loads(json.dumps(record))
    bad["assignments"][0]["checks"][0]["output"] = "before\x00\x1b[31mafter\x07"
    root = ET.fromstring(render(bad, "junit"))
    assert "after" in "".join(e.text or "" for e in root.iter("system-out"))


def test_report_module_converts_a_saved_record(record, tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record))
    proc = subprocess.run([sys.executable, "-m", "grader.report", str(path), "--format",
                           "summary"], capture_output=True, text=True, check=True)
    assert "## Score: 5 / 10" in proc.stdout and "| a2 " in proc.stdout


def test_cli_exit_codes_and_an_unreadable_zip(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    broken, out = tmp_path / "broken.zip", tmp_path / "out" / "record.json"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    assert main([str(broken), "-a", "a1", "--format", "json", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["score"] == 0 and rec["max_score"] == 5
    assert rec["assignments"][0]["status"] == "unreadable"
    assert "not a readable zip" in rec["assignments"][0]["checks"][0]["message"]["en"]
    with pytest.raises(SystemExit):
        main([str(broken), "--assignment", "a9"])
    assert "expected a1, a2, a3, a4, all" in capsys.readouterr().err


def test_console_entry_point_runs_as_module():
    proc = subprocess.run([sys.executable, "-m", "grader", "--help"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "--assignment" in proc.stdout


@pytest.mark.platform  # a class graded end to end: python -m pytest -m platform
def test_batch_grades_every_student_and_survives_a_crash(tmp_path, capsys):
    klass = tmp_path / "class"
    klass.mkdir()
    _copy(REPO / "solutions", klass / "alice", only={"a1_initialization"})
    _copy(HOSTILE / "segfault", klass / "bob")
    # carol hands in a zip of a wrapper folder holding the same files as alice
    _copy(REPO / "solutions", tmp_path / "carol" / "assignments", only={"a1_initialization"})
    shutil.make_archive(str(klass / "carol"), "zip", tmp_path / "carol")
    (tmp_path / "carol" / "notes.txt").write_text("what I did")  # stray, listed for the TA
    shutil.make_archive(str(klass / "carol"), "zip", tmp_path / "carol")
    (klass / "dave.zip").write_bytes(b"not a zip")
    with zipfile.ZipFile(klass / "erin.zip", "w"):
        pass  # an empty zip
    _copy(REPO / "solutions", klass / "frank", only={"a2_batchnorm"})  # not a1: missing
    out = tmp_path / "grades.csv"
    assert main(["batch", str(klass), "--jobs", "2", "--out", str(out), "-a", "a1",
                 "--checks-dir", str(FAKE)]) == 0
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert {k: (float(v["a1"] or 0), v["status"]) for k, v in rows.items()} == {
        "alice": (5.0, "graded"), "bob": (4.0, "graded"), "carol": (5.0, "graded"),
        "dave": (0.0, "unreadable"), "erin": (0.0, "unreadable"), "frank": (0.0, "missing")}
    assert "not a readable zip" in rows["dave"]["note"]
    assert "the submission is empty" in rows["erin"]["note"]
    assert rows["carol"]["stray_files"] == "notes.txt" and rows["alice"]["stray_files"] == ""
    records = tmp_path / "grades-records"
    assert sorted(p.name for p in records.iterdir()) == [
        "alice.json", "bob.json", "carol.json", "class.manifest", "dave.json", "erin.json",
        "frank.json"]
    carol = json.loads((records / "carol.json").read_text())
    assert carol["stray_files"] == ["notes.txt"]
    # copying flagged, never penalized: alice and carol handed in the same file (the model
    # answer's): each record carries both flags, the similarity table the pair, scores full
    with open(tmp_path / "grades-similarity.csv", encoding="utf-8") as f:
        pairs = list(csv.DictReader(f))
    assert [(p["task"], p["student"], p["other"]) for p in pairs] == [("a1", "alice", "carol")]
    assert float(pairs[0]["similarity"]) == 1.0 and "model answer" in pairs[0]["overlap"]
    assert pairs[0]["lines"] == pairs[0]["lines_other"] != ""
    flags = {f["with"] for f in carol["similarity"]}
    assert flags == {"student alice: a1_initialization/initializers.py",
                     "solutions/a1_initialization/initializers.py"}
    assert int(rows["carol"]["flags"]) == 2 and int(rows["bob"]["flags"]) == 0
    assert json.loads((records / "bob.json").read_text())["score"] == 4
    # what the isolation level did not protect: in the TA's log, once, as for one student
    level = rows["alice"]["isolation"]
    assert capsys.readouterr().err.count(f"isolation {level}: {isolation_note(level)}") == 1


@pytest.mark.platform  # a class graded end to end: python -m pytest -m platform
def test_crafted_zips_are_their_students_unreadable_rows_not_the_class_failure(tmp_path,
                                                                             capsys):
    """A zip holding a file and then a folder of the same name, or a 400-byte folder name:
    that student's row is "unreadable" with the reason; every other student is graded, the
    gradebook is written, and grading one such zip alone is an unreadable record too."""
    klass = tmp_path / "class"
    klass.mkdir()
    _copy(REPO / "solutions", klass / "alice", only={"a1_initialization"})
    with zipfile.ZipFile(klass / "mallory.zip", "w") as zf:
        zf.writestr("a1_initialization/x", "a file")
        zf.writestr("a1_initialization/x/y.py", "then a folder")
        zf.writestr("a1_initialization/initializers.py", "")
    with zipfile.ZipFile(klass / "trudy.zip", "w") as zf:
        zf.writestr("a1_initialization/" + "d" * 400 + "/initializers.py", "")
    out = tmp_path / "grades.csv"
    assert main(["batch", str(klass), "--out", str(out), "-a", "a1",
                 "--checks-dir", str(FAKE)]) == 0
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert {k: (float(v["a1"] or 0), v["status"]) for k, v in rows.items()} == {
        "alice": (5.0, "graded"), "mallory": (0.0, "unreadable"),
        "trudy": (0.0, "unreadable")}
    assert "a file and a folder of the same name" in rows["mallory"]["note"]
    assert "a name longer than 255 bytes" in rows["trudy"]["note"]
    assert "Traceback" not in capsys.readouterr().err
    single = tmp_path / "mallory.json"
    assert main([str(klass / "mallory.zip"), "-a", "a1", "--checks-dir", str(FAKE),
                 "--format", "json", "--out", str(single)]) == 0
    record = json.loads(single.read_text())
    assert record["status"] == "unreadable" and "same name" in record["error"]


def test_release_ships_the_handout_and_nothing_secret(tmp_path):
    files = release.build(tmp_path / "handout")
    rel = {p.relative_to(tmp_path / "handout").as_posix() for p in files}
    assert "assignments/a2_batchnorm/batchnorm.py" in rel
    assert "assignments/a2_batchnorm/test_public.py" in rel
    assert "dlkit/layers.py" in rel and "pyproject.toml" in rel
    # what the lab notebooks and `dlkit submit` need
    assert "assignments/conftest.py" in rel and "dlkit/tasks.py" in rel
    assert {"dlkit/submit/cli.py", "dlkit/lab/student.py"} <= rel
    for task in TASKS.values():
        assert {f"assignments/{task.folder}/lab.ipynb",
                f"assignments/{task.folder}/lab.ja.ipynb"} <= rel
    assert "dlkit submit" in (tmp_path / "handout" / "README.md").read_text()
    assert not any(p.startswith(("solutions/", "grader/", "tests/")) for p in rel)
    assert not any("__pycache__" in p for p in rel)
    secret = release.secrets()
    assert any(p.parent.name == "a2_batchnorm" for p in secret.values())  # solutions known
    pyproject = (tmp_path / "handout" / "pyproject.toml").read_text()
    assert 'include = ["dlkit*"]' in pyproject and "grader" not in pyproject
    project = release.tomllib.loads(pyproject)["project"]
    assert project["name"] == "dlkit"
    assert any(d.startswith("jupyterlab") for d in project["optional-dependencies"]["jupyter"])
    # the documentation site stays home: no mkdocs in the students' [dev] install
    extras = project["optional-dependencies"]
    assert "docs" not in extras and "pytest-timeout>=2.2" in extras["dev"]
    assert not any("dlkit[" in d or "mkdocs" in d for deps in extras.values() for d in deps)


def test_release_writes_the_course_repository_into_the_notebooks(tmp_path):
    import nbformat

    url = "https://github.com/example-course/dlkit-2026"
    assert main(["release", str(tmp_path / "handout"), "--course-repo", url]) == 0
    notebooks = sorted((tmp_path / "handout" / "assignments").glob("*/lab*.ipynb"))
    assert len(notebooks) == 2 * len(TASKS)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        first = next(c for c in nb.cells if c.cell_type == "code").source
        assert first.startswith(f'COURSE_REPO = "{url}"  # '), first[:120]
    assert main(["release", str(tmp_path / "bad"), "--course-repo", 'x"; import os']) == 2
    assert not (tmp_path / "bad").exists()


def test_release_refuses_to_ship_a_solution(tmp_path):
    repo = tmp_path / "repo"
    for name in ("dlkit", "assignments", "solutions"):
        _copy(REPO / name, repo / name)
    shutil.copy2(REPO / "pyproject.toml", repo / "pyproject.toml")
    shutil.copy2(repo / "solutions" / "a2_batchnorm" / "batchnorm.py",
                 repo / "assignments" / "a2_batchnorm" / "reference_copy.py")
    with pytest.raises(release.ReleaseError, match="reference_copy.py"):
        release.build(tmp_path / "out", repo=repo)
    assert not (tmp_path / "out").exists()
    assert main(["release", str(tmp_path / "repo")]) == 2  # exists already


def test_out_is_rewritten_after_every_check(tmp_path):
    """Each finished check rewrites --out: a run stopped by a platform keeps them all."""
    seen = []
    out = tmp_path / "results.json"
    real_write = cli._write

    def spy(path, text):
        real_write(path, text)
        seen.append(json.loads(path.read_text()))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli, "_write", spy)
        # a1's four checks take a second each; a2 is not in this submission
        assert main([str(CASES / "slow_calls"), "-a", "a1,a2", "--format",
                     "gradescope", "--out", str(out)]) == 0
    finished = [sum(not t["output"].startswith("Not run: grading stopped") for t in s["tests"]
                    if t["name"].startswith("a1 ")) for s in seen[:-1]]
    # from nothing, check by check, through a1's end, never backwards (checks that end
    # within one look at the results file, 0.5 s, would be written together)
    assert finished[0] == 0 and 4 in finished and finished == sorted(finished)
    assert {1, 2, 3} & set(finished) and len(set(finished)) >= 4
    for partial in seen:
        check_results_json(partial)
    assert seen[-1] == json.loads(out.read_text())


def test_total_budget_scales_the_budgets_down(tmp_path):
    assert runner.fit_budgets({"a1": 100, "a2": 300}, 1000) == {"a1": 100, "a2": 300}
    assert runner.fit_budgets({"a1": 100, "a2": 300}, 200) == {"a1": 50, "a2": 150}
    with pytest.raises(runner.GraderError, match="at least 130 s"):
        runner.fit_budgets({"a1": 100, "a2": 300}, 90)
    out = tmp_path / "r.json"
    assert main([str(HOSTILE / "crash_a1_good_a2"), "-a", "a1,a2", "--format", "json",
                 "--out", str(out), "--total-budget", "150"]) == 0
    budgets = {a["id"]: a["budget"] for a in json.loads(out.read_text())["assignments"]}
    assert budgets["a1"] == budgets["a2"] and sum(budgets.values()) <= 150 - runner.RESERVE
    assert sum(budgets.values()) > 150 - runner.RESERVE - 10
    assert main([str(HOSTILE / "crash_a1_good_a2"), "-a", "a1,a2", "--format", "json",
                 "--out", str(out), "--total-budget", "60"]) == 3
    assert not out.exists()  # a run that could not be graded leaves no report


# ---------------------------------------------------------------- real hidden checks


@pytest.mark.slow
def test_solutions_get_full_marks_and_stubs_zero_with_the_real_checks(tmp_path, monkeypatch):
    monkeypatch.delenv("DLKIT_GRADE_CHECKS_DIR")
    for folder, want_full in (("solutions", True), ("assignments", False)):
        out = tmp_path / f"{folder}.json"
        assert main([str(REPO / folder), "--format", "json", "--out", str(out)]) == 0
        rec = json.loads(out.read_text())
        assert all(a["status"] == "graded" for a in rec["assignments"]), rec
        assert rec["max_score"] > 0
        if want_full:
            lost = [(a["id"], c["name"], c["message"]["en"][:300]) for a in rec["assignments"]
                    for c in a["checks"] if c["score"] < c["max_score"]]
            assert rec["score"] == rec["max_score"], lost
            assert rec["seconds"] < 120, "one complete submission must grade in < 2 minutes"
        else:
            assert rec["score"] == 0
            assert all("NotImplementedError" in c["message"]["en"] for a in rec["assignments"]
                       for c in a["checks"] if c["outcome"] != "passed"), rec


@pytest.mark.slow
def test_release_builds_a_wheel_without_the_grader(tmp_path):
    release.build(tmp_path / "handout")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(tmp_path / "handout")], check=True,
                   capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("dlkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("dlkit/") for n in names)
    assert not any(n.startswith(("grader/", "solutions/")) for n in names)
