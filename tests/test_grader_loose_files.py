"""Each task's file is recognised by its name wherever it is (grader.scoring.locate).

Real zips and folders, unpacked by the grader's own code; the last tests grade them for real
(trusted pytest process, sandboxed workers) against the small fake checks, and read the
report a student gets.  Gradescope's drag-and-drop upload (the four files at the top) is also
graded with the real hidden checks in tests/test_grader_gradescope.py.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from dlkit.submit.pack import collect, write_zip
from dlkit.tasks import TASKS
from grader.platforms.classroom50 import result as c50
from grader.report import render
from grader.scoring import locate, runner, submission

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
FAKE_CHECKS = REPO / "tests" / "grader_cases" / "fake_checks"


def _zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _answer(tid: str) -> str:
    return (SOLUTIONS / TASKS[tid].path).read_text(encoding="utf-8")


def _unpack(tmp_path: Path, members: dict, name: str = "sub") -> tuple[Path, locate.Layout]:
    return submission.unpack(_zip(tmp_path / f"{name}.zip", members), tmp_path / name)


def _pair(text) -> tuple[str, str]:
    """A message of the catalog in English and Japanese."""
    return text.en, text.ja


def _graded_text(root: Path, tid: str) -> str:
    return (root / TASKS[tid].path).read_text(encoding="utf-8")


def test_the_four_files_at_the_top_are_the_four_tasks(tmp_path):
    """Gradescope's drag-and-drop upload: every task graded, each told where it was."""
    members = {TASKS[tid].module: _answer(tid) for tid in TASKS}
    root, layout = _unpack(tmp_path, {**members, "notes.txt": "my notes"})
    assert submission.present(root) == set(TASKS)
    for tid in TASKS:
        assert _graded_text(root, tid) == _answer(tid)
        en, ja = _pair(layout.found[tid].message())
        assert f"found at the top of your submission ({TASKS[tid].module})" in en
        assert TASKS[tid].path in en and TASKS[tid].path in ja
    assert layout.stray == ["notes.txt"]
    en, ja = _pair(layout.stray_note())
    assert "notes.txt" in en and "Not graded" in en and "採点していない" in ja


def test_one_tasks_file_alone(tmp_path):
    root, layout = _unpack(tmp_path, {"batchnorm.py": _answer("a2")})
    assert submission.present(root) == {"a2"} and layout.stray == []
    assert _graded_text(root, "a2") == _answer("a2")


def test_a_renamed_task_folder_comes_whole(tmp_path):
    """A folder holding one task's file and nothing of another task is that task's folder:
    its other Python files come along (the module may import them), its lab notebook is not
    stray, a notebook of the student's own is."""
    root, layout = _unpack(tmp_path, {
        "task2 (1)/batchnorm.py": "from a2_batchnorm.helper import X\n",
        "task2 (1)/helper.py": "X = 1\n", "task2 (1)/lab.ipynb": "{}",
        "task2 (1)/scratch.ipynb": "{}", "A1/initializers.py": "a = 1\n"})
    assert sorted(p.name for p in (root / "a2_batchnorm").iterdir()) == [
        "batchnorm.py", "helper.py", "lab.ipynb", "scratch.ipynb"]
    assert (root / "a1_initialization" / "initializers.py").read_text() == "a = 1\n"
    assert layout.stray == ["task2 (1)/scratch.ipynb"]
    assert "task2 (1)/batchnorm.py" in layout.found["a2"].message().en


def test_a_task_folder_one_level_too_deep(tmp_path):
    root, layout = _unpack(tmp_path, {
        "a1_initialization/initializers.py": "a = 1\n",
        "a2_batchnorm/a2_batchnorm/batchnorm.py": "b = 2\n"})
    assert layout.found["a1"].standard and layout.found["a1"].message() is None
    assert layout.found["a2"].rank == locate.IN_TASK_FOLDER
    assert _graded_text(root, "a2") == "b = 2\n"
    assert "a2_batchnorm/a2_batchnorm/batchnorm.py" in layout.found["a2"].message().en


def test_a_copy_numbered_or_capitalised_name_is_recognised(tmp_path):
    root, layout = _unpack(tmp_path, {"Kernels (1).py": "k = 1\n", "BatchNorm.PY": "b = 1\n"})
    assert submission.present(root) == {"a2", "a4"}
    assert _graded_text(root, "a4") == "k = 1\n"
    assert "Kernels (1).py was taken as kernels.py" in layout.found["a4"].message().en


def test_what_dlkit_submit_packs_is_standard_and_nothing_is_stray(tmp_path):
    """The zip dlkit submit writes (task folders with their READMEs, public tests and lab
    notebooks): every task at its place, no message, no stray file."""
    handout = tmp_path / "assignments"
    for task in TASKS.values():
        (handout / task.folder).mkdir(parents=True)
        for path in (REPO / "assignments" / task.folder).iterdir():
            if path.is_file():
                (handout / task.folder / path.name).write_bytes(path.read_bytes())
        (handout / task.path).write_text(_answer(task.id), encoding="utf-8")
    archive = write_zip(collect(handout, list(TASKS.values())), tmp_path / "submission.zip")
    names = zipfile.ZipFile(archive).namelist()
    assert "a2_batchnorm/lab.ipynb" in names and "a2_batchnorm/lab.ja.ipynb" in names
    root, layout = submission.unpack(archive, tmp_path / "out")
    assert layout.stray == []
    assert all(found.standard and found.message() is None for found in layout.found.values())
    assert submission.present(root) == set(TASKS)


def test_two_different_files_for_one_task_follow_the_stated_rule(tmp_path):
    """Never the better of two: the rule picks by place and name, and says which it graded."""
    root, layout = _unpack(tmp_path, {
        "b/batchnorm.py": "graded = 'b'\n", "a/batchnorm.py": "graded = 'a'\n",
        "c/batchnorm.py": "graded = 'a'\n",  # the same content as a/: no choice to mention
        "deeper/x/batchnorm.py": "graded = 'deep'\n"})
    assert _graded_text(root, "a2") == "graded = 'a'\n"
    found = layout.found["a2"]
    assert [str(p) for p in found.others] == ["b/batchnorm.py", "deeper/x/batchnorm.py"]
    en, ja = _pair(found.message())
    assert "Also found b/batchnorm.py, deeper/x/batchnorm.py: not graded" in en
    assert "nearest the top" in en and "alphabetical" in en and "採点していません" in ja
    assert "b/batchnorm.py" in layout.stray and "c/batchnorm.py" not in layout.stray


def test_the_handouts_place_wins_over_a_loose_copy(tmp_path):
    root, layout = _unpack(tmp_path, {"batchnorm.py": "loose = 1\n",
                                      "assignments/a2_batchnorm/batchnorm.py": "mine = 1\n"})
    assert _graded_text(root, "a2") == "mine = 1\n"
    assert layout.found["a2"].rank == locate.AT_ROOT
    assert "Also found batchnorm.py" in layout.found["a2"].message().en


def test_a_course_checkout_is_graded_from_assignments_not_solutions(tmp_path):
    root, layout = _unpack(tmp_path, {
        "course/solutions/a2_batchnorm/batchnorm.py": "model = 1\n",
        "course/assignments/a2_batchnorm/batchnorm.py": "mine = 1\n",
        "course/README.md": "# course\n"})
    assert _graded_text(root, "a2") == "mine = 1\n"
    assert layout.stray == ["course/solutions/a2_batchnorm/batchnorm.py"]


def test_files_named_like_a_missing_task_get_a_hint(tmp_path):
    root, layout = _unpack(tmp_path, {"initializers.py": "a = 1\n",
                                      "batchnorm_final.py": "b = 1\n",
                                      "train.ipynb": '{"cells": []}', "data.npy": "x"})
    assert submission.present(root) == {"a1"}
    en, ja = _pair(layout.stray_note())
    assert "batchnorm_final.py (if this is your a2, name it batchnorm.py)" in en
    assert "train.ipynb (a notebook: the grader runs train.py only" in en
    assert "data.npy\n" in en + "\n" and "batchnorm.py にしてください" in ja


def test_nothing_recognisable_names_what_was_there(tmp_path):
    with pytest.raises(submission.SubmissionError) as err:
        _unpack(tmp_path, {"my_batchnorm_work.txt": "x", "notes/readme.txt": "y"})
    assert "a2_batchnorm" in err.value.en and "my_batchnorm_work.txt" in err.value.en
    assert "notes/readme.txt" in err.value.ja


def test_a_task_folder_without_its_file_is_present_so_the_grader_says_what_is_missing(tmp_path):
    root, layout = _unpack(tmp_path, {"a2_batchnorm/batchnorm.ipynb": "{}",
                                      "a1_initialization/initializers.py": "a = 1\n"})
    assert submission.present(root) == {"a1", "a2"} and "a2" not in layout.found
    assert layout.stray == ["a2_batchnorm/batchnorm.ipynb"]


# ------------------------------------------------------------------ graded for real


def test_loose_files_are_graded_and_the_report_says_where(tmp_path):
    members = {TASKS[tid].module: _answer(tid) for tid in TASKS}
    members["a2_batchnorm/batchnorm.py"] = _answer("a2")  # the same a2 twice: no choice
    archive = _zip(tmp_path / "upload.zip", {**members, "notes.txt": "my notes"})
    record = runner.grade(archive, options=runner.Options(checks_dir=FAKE_CHECKS))
    points = runner.load_points(FAKE_CHECKS / "points.toml")
    assert record["max_score"] == sum(sum(p.values()) for p in points.values())
    # every check passes (the fake a4 speed check pays by a timing, not asserted here)
    lost = [(a["id"], c["name"]) for a in record["assignments"] for c in a["checks"]
            if c["score"] < c["max_score"] and (a["id"], c["name"]) != ("a4", "test_speed")]
    assert not lost and all(a["status"] == "graded" for a in record["assignments"])
    assert record["stray_files"] == ["notes.txt"]
    by_id = {a["id"]: a for a in record["assignments"]}
    assert "found" not in by_id["a2"]  # graded from its place: nothing to say
    assert by_id["a4"]["found"]["path"] == "kernels.py"
    text = render(record, "text", "en")
    assert "Not graded" in text and "notes.txt" in text
    assert "Your kernels.py was found at the top of your submission" in text
    ja = render(record, "text", "ja")
    assert "提出物の一番上（kernels.py）にありました" in ja and "採点していない" in ja
    gradescope = json.loads(render(record, "gradescope", "en"))["output"]
    assert "notes.txt" in gradescope and "Your train.py was found" in gradescope
    release = c50.release_body(record, {"score": round(record["score"]),
                                        "max-score": round(record["max_score"])}, "en")
    assert "notes.txt" in release and "Your initializers.py was found" in release


def test_of_two_candidates_the_rule_decides_the_score_not_the_better_file(tmp_path):
    """An attacker who hands in a correct and a broken batchnorm.py cannot get the better of
    the two: the file the rule names is graded (here the broken one), and the report says
    which."""
    broken = _answer("a2").replace("return dx", "return 0 * dx")
    assert broken != _answer("a2")
    archive = _zip(tmp_path / "two.zip", {"a/batchnorm.py": broken,
                                          "z/batchnorm.py": _answer("a2")})
    record = runner.grade(archive, ["a2"], runner.Options(checks_dir=FAKE_CHECKS))
    (a2,) = record["assignments"]
    assert a2["score"] < a2["max_score"]
    assert a2["found"]["path"] == "a/batchnorm.py"
    assert "Also found z/batchnorm.py: not graded" in a2["found"]["message"]["en"]


def test_a_file_name_cannot_forge_a_line_of_the_report(tmp_path):
    """A zip member's name with a line break is shown escaped: it cannot start a line of
    the student's report (a fake total, a fake PASS)."""
    name = "notes\nTotal: 100 / 100\n  PASS  test_speed  9 / 9.txt"
    root, layout = _unpack(tmp_path, {"batchnorm.py": "b = 1\n", name: "x",
                                      "old\n/batchnorm.py": "c = 2\n"})
    assert name in layout.stray  # the record keeps the name as it is
    en, ja = _pair(layout.stray_note())
    message = layout.found["a2"].message().en
    for text in (en, ja, message):
        assert not any(line.startswith(("Total", "  PASS")) for line in text.splitlines())
    assert "notes\\nTotal: 100 / 100\\n  PASS" in en and "old\\n/batchnorm.py" in message
