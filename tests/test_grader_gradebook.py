"""The gradebook: roster, the Canvas and Moodle files, feedback files, regrades (``--only``),
shards and ``dlkit-grade merge``.

A class of five submissions (the model answers, two small patches of them, the untouched
handout, a zip from a student missing from the roster) and an LMS roster is graded once, in
two shards, with the fake checks of tests/grader_cases/fake_checks (exact points: a1 5, a2 5);
the tests of the default run reuse those records. The same class graded in one batch, byte
for byte against the merge, is the slow test at the end.

What Canvas and Moodle accept is written down next to each check, with where it comes from:
Canvas's gradebook importer and exporter (instructure/canvas-lms,
app/models/gradebook_importer.rb and lib/gradebook_exporter.rb) and Moodle's CSV grade
import (moodle/moodle, grade/import/csv/classes/load_data.php; docs.moodle.org, "Grade
import").
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.cli import _terminate_as_interrupt, main
from grader.platforms import gradebook, records
from grader.report import render
from grader.report.formats import task_text

# A class graded on the TA's machine, end to end: python -m pytest -m platform (CI runs it).
pytestmark = pytest.mark.platform

REPO = Path(__file__).resolve().parent.parent
FAKE = Path(__file__).parent / "grader_cases" / "fake_checks"
A1 = "a1 Weight initialization"
A2 = "a2 Batch Normalization (NumPy)"
# The fake checks' points (tests/grader_cases/fake_checks/points.toml): a1 5, a2 5.
EXPECTED = {  # submission: (a1, a2, total)
    "ada": (5, 5, 10),  # the model answers
    "ben": (3, 5, 8),  # He with sqrt(1/n): test_he_std (2) lost
    "Cy": (5, 1, 6),  # a2 with the unbiased variance: forward and backward (2 + 2) lost
    "dee": (0, 1, 1),  # the untouched handout: stubs; a2's import check passes (1)
    "eve": (5, 5, 10),  # the model answers, as a zip of a wrapper folder; not on the roster
}

# Canvas's gradebook export, as lib/gradebook_exporter.rb writes it: a byte-order mark (the
# include_byte_order_mark_in_gradebook_exports feature), the header "Student, ID, SIS User
# ID, SIS Login ID, Section, <assignments> (title_with_id), <totals>", the row "    Points
# Possible" (then "(read only)" under the totals), a row per student sorted by sortable
# name, and the Test Student (StudentViewEnrollment) last, with no SIS ids.
CANVAS_ROSTER = (
    "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Homework 1 (1201),Current Score,"
    "Final Score\n"
    "    Points Possible,,,,,10.00,(read only),(read only)\n"
    '"Bell, Ben",102,S102,ben,Section A,7.00,70.00,70.00\n'
    '"Dee, Dee",104,S104,dee,Section B,,,\n'
    '"Gus, Gus",106,S106,gus,Section B,,,\n'
    '"Lovelace, Ada",101,S101,ada,Section A,10.00,100.00,100.00\n'
    '"Young, Cy",103,S103,cy,Section B,8.00,80.00,80.00\n'
    '"Student, Test",999,,,Section A,,,\n'
)
CANVAS_ORDER = ["ben", "dee", "gus", "ada", "cy", ""]
# Moodle's grade export ("Export to plain text file"): the user fields First name, Last
# name, ID number, Institution, Department, Email address, then the grade items and "Last
# downloaded from this course". Here the ID number names the submissions; one is in capitals.
MOODLE_ROSTER = (
    "First name,Last name,ID number,Institution,Department,Email address,"
    "Assignment: Homework 1 (Real),Last downloaded from this course\n"
    "Ada,Lovelace,ada,,,ada@example.edu,10.00,1700000000\n"
    "Ben,Bell,ben,,,ben@example.edu,7.00,1700000000\n"
    "Cy,Young,CY,,,cy@example.edu,8.00,1700000000\n"
    "Dee,Dee,dee,,,dee@example.edu,-,1700000000\n"
    "Gus,Gus,gus,,,gus@example.edu,-,1700000000\n"
)


def _copy(src: Path, dst: Path, only=("a1_initialization", "a2_batchnorm")) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    for child in dst.iterdir():
        if child.is_dir() and child.name not in only:
            shutil.rmtree(child)
    return dst


def _patch(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: {old!r} not found once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def build_class(root: Path) -> Path:
    """The class folder: five submissions named by the roster's key (see EXPECTED)."""
    subs = root / "subs"
    subs.mkdir(parents=True)
    _copy(REPO / "solutions", subs / "ada")
    _copy(REPO / "solutions", subs / "ben")
    _patch(subs / "ben" / "a1_initialization" / "initializers.py",
           "return math.sqrt(2.0 / n_in)", "return math.sqrt(1.0 / n_in)")
    _copy(REPO / "solutions", subs / "Cy")
    _patch(subs / "Cy" / "a2_batchnorm" / "batchnorm.py",
           "var = np.mean(xc**2, axis=0)", "var = np.sum(xc**2, axis=0) / (N - 1)")
    _copy(REPO / "assignments", subs / "dee", only=("a1_initialization", "a2_batchnorm",
                                                     "a3_training", "a4_numba"))
    _copy(REPO / "solutions", root / "eve" / "submission")
    shutil.make_archive(str(subs / "eve"), "zip", root / "eve")
    return subs


def _batch(subs: Path, out: Path, *extra: str) -> int:
    return main(["batch", str(subs), "--out", str(out), "--jobs", "2", "-a", "a1,a2",
                 "--checks-dir", str(FAKE), *extra])


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """The class graded in two shards: {root, subs, canvas, moodle, shard1, shard2}."""
    root = tmp_path_factory.mktemp("class")
    subs = build_class(root)
    (root / "canvas.csv").write_text(CANVAS_ROSTER, encoding="utf-8")
    (root / "moodle.csv").write_text(MOODLE_ROSTER, encoding="utf-8")
    for i in (1, 2):
        assert _batch(subs, root / f"shard{i}" / "grades.csv", "--shard", f"{i}/2") == 0
    return {"root": root, "subs": subs, "canvas": root / "canvas.csv",
            "moodle": root / "moodle.csv",
            "shards": [root / f"shard{i}" / "grades-records" for i in (1, 2)]}


@pytest.fixture(scope="module")
def merged(klass):
    """The shards merged with the Canvas roster, its export and feedback in both languages."""
    out = klass["root"] / "merged" / "grades.csv"
    assert main(["merge", *map(str, klass["shards"]), "--out", str(out), "--roster",
                 str(klass["canvas"]), "--key", "SIS Login ID", "--export", "canvas",
                 "--feedback", str(out.parent / "feedback"), "--lang", "both"]) == 0
    return out


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256: to show that nothing changed."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- shards and merge ---------------------------------------------------------------------

def test_shards_split_the_class_and_know_it(klass):
    """Shard i of n grades the students at positions i-1, i-1+n, … of the class sorted by
    name; each shard's manifest names the whole class, so that merge can tell a missing
    shard or another class."""
    m1, m2 = (records.Manifest.read(f) for f in klass["shards"])
    assert m1.names == m2.names == ["Cy", "ada", "ben", "dee", "eve"]
    assert (m1.shard, m1.graded) == ((1, 2), ["Cy", "ben", "eve"])
    assert (m2.shard, m2.graded) == ((2, 2), ["ada", "dee"])
    assert m1.grader == m2.grader and m1.max_points == {"a1": 5.0, "a2": 5.0}
    # a shard compares no student with another: that is the merge's, over the whole class
    for folder, m in zip(klass["shards"], (m1, m2), strict=True):
        for name in m.graded:
            record = json.loads((folder / f"{name}.json").read_text())
            assert not [f for f in record["similarity"] if "other_student" in f]
            assert record["gradebook"]["grader"] == m.grader
    assert not (klass["root"] / "shard1" / "grades-similarity.csv").exists()


def test_merge_writes_the_gradebook_in_roster_order(klass, merged):
    rows = _rows(merged)
    assert list(rows[0]) == ["student", "submission", "a1", "a2", "total", "max_score",
                             "status", "isolation", "note", "flags", "stray_files"]
    # the roster's rows in its order (Canvas's "Points Possible" row is not a student),
    # then the submission that matches nobody: listed, not dropped
    assert [r["student"] for r in rows] == [*CANVAS_ORDER, "eve"]
    by = {r["submission"]: r for r in rows if r["submission"]}
    for name, (a1, a2, total) in EXPECTED.items():
        r = by[name]
        assert (float(r["a1"]), float(r["a2"]), float(r["total"]), r["status"]) == (
            a1, a2, total, "graded"), name
        assert float(r["max_score"]) == 10
    # "Cy" handed in, the roster says "cy": names are compared without case
    assert by["Cy"]["student"] == "cy"
    assert "not on the roster (SIS Login ID)" in by["eve"]["note"]
    gus, test_student = rows[2], rows[5]
    assert (gus["student"], gus["submission"], gus["status"], gus["a1"], gus["total"]) == (
        "gus", "", "no-submission", "", "")
    assert test_student["status"] == "no-submission"
    assert test_student["note"] == "roster line 8 has no SIS Login ID"


def test_similarity_is_computed_over_the_whole_class_at_merge(klass, merged):
    """ada (shard 2) and eve (shard 1) handed in the same model answers: no shard saw both,
    the merge flags them, in both records and in the similarity table."""
    pairs = _rows(merged.with_name("grades-similarity.csv"))
    found = {(p["task"], p["student"], p["other"]) for p in pairs}
    assert {("a1", "ada", "eve"), ("a2", "ada", "eve")} <= found
    same = next(p for p in pairs if (p["task"], p["student"], p["other"]) == ("a1", "ada",
                                                                              "eve"))
    assert float(same["similarity"]) == 1.0
    eve = json.loads((merged.with_name("grades-records") / "eve.json").read_text())
    assert {f["with"] for f in eve["similarity"] if f.get("other_student") == "ada"} == {
        "student ada: a1_initialization/initializers.py",
        "student ada: a2_batchnorm/batchnorm.py"}
    # the flags column counts every flag of the record (dlkit's code, the model answers,
    # other students)
    row = next(r for r in _rows(merged) if r["submission"] == "eve")
    assert int(row["flags"]) == len(eve["similarity"]) > 2
    # the handout's stubs are starter code, never a copy: dee has no flag at all
    dee = json.loads((merged.with_name("grades-records") / "dee.json").read_text())
    assert dee["similarity"] == []



def test_similarity_writes_no_file_outside_its_folder(tmp_path):
    """A record's task files are written into a private folder to be compared: a path that
    is absolute or climbs out of it (a record edited by hand or by someone else) is not."""
    text = (REPO / "solutions" / "a1_initialization" / "initializers.py").read_text()
    evil = tmp_path / "evil.py"
    files = {"a1": [["a1_initialization/initializers.py", text], [str(evil), text],
                    ["../../../../../../../../" + str(evil), text]]}
    found, _ = records.between_students({n: {"gradebook": {"files": files}} for n in "ab"},
                                        ["a1"])
    assert not evil.exists()
    assert [(p["student"], p["other"], p["file"]) for p in found] == [
        ("a", "b", "a1_initialization/initializers.py")]

def test_merge_is_a_function_of_the_records(klass, merged, tmp_path):
    """Merging the merged records again (one folder, the whole class) writes the same files,
    byte for byte: the gradebook depends on the records only."""
    out = tmp_path / "grades.csv"
    assert main(["merge", str(merged.with_name("grades-records")), "--out", str(out),
                 "--roster", str(klass["canvas"]), "--key", "SIS Login ID", "--export",
                 "canvas", "--feedback", str(tmp_path / "feedback"), "--lang", "both"]) == 0
    for name in ("grades.csv", "grades-canvas.csv", "grades-similarity.csv"):
        assert (tmp_path / name).read_bytes() == merged.with_name(name).read_bytes(), name
    assert _tree(tmp_path / "feedback") == _tree(merged.with_name("feedback"))


# --- Canvas -------------------------------------------------------------------------------

NON_ASSIGNMENT = ("Current Score", "Current Points", "Current Grade", "Final Score",
                  "Final Points", "Final Grade", "Override Score", "Override Grade",
                  "Override Status")


def canvas_import(text: str, roster: list[dict]) -> dict:
    """What Canvas's gradebook importer (app/models/gradebook_importer.rb) reads of ``text``,
    following its rules, each checked:

    - the header row "has student headers": row[0] includes "Student" and row[1] "ID"; the
      column after the name and ID is "SIS Login ID", or "SIS User ID" followed by "SIS
      Login ID" (then an optional "Integration ID" and "Root Account"); the last of the
      student columns includes "Section", else "Invalid header row";
    - the columns after them are assignments, except the read-only totals whose names match
      NON_ASSIGNMENT_COLUMN_HEADERS; "Title (123)" names assignment 123, any other title an
      assignment of that title (a new one if the course has none);
    - a row whose first cell includes "Points Possible" gives each new assignment's points;
    - a student is found by ID (Canvas's user id), else by SIS User ID, else SIS Login ID,
      else by name; a blank or "-" grade is no grade (nothing changes).
    """
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1]
    assert header[2] == "SIS User ID" and header[3] == "SIS Login ID"
    assert "Section" in header[4]
    items = header[5:]
    assert not [h for h in items if any(n in h for n in NON_ASSIGNMENT)]
    assert not [h for h in items if re.search(r"\(\d+\)$", h)]  # no assignment id: by title
    points = next(r for r in rows[1:] if "Points Possible" in r[0])
    by_id = {r["ID"]: r for r in roster}
    grades = {}
    for r in rows[1:]:
        if "Points Possible" in r[0]:
            continue
        assert len(r) == len(header)
        student = by_id[r[1]]  # every row is a student of the course, found by its ID
        assert (r[0], r[2], r[3], r[4]) == (student["Student"], student["SIS User ID"],
                                            student["SIS Login ID"], student["Section"])
        grades[r[1]] = {h: (None if v in ("", "-") else float(v))
                        for h, v in zip(items, r[5:], strict=True)}
    return {"items": items, "points": dict(zip(items, map(float, points[5:]), strict=True)),
            "grades": grades}


def test_canvas_file_is_what_canvas_imports(klass, merged):
    text = merged.with_name("grades-canvas.csv").read_text(encoding="utf-8")
    roster = list(csv.DictReader(io.StringIO(CANVAS_ROSTER.lstrip("\ufeff"))))
    roster = [r for r in roster if "Points Possible" not in r["Student"]]
    seen = canvas_import(text, roster)
    assert seen["items"] == [A1, A2]
    assert seen["points"] == {A1: 5.0, A2: 5.0}  # new assignments get their maximum
    ids = {r["SIS Login ID"]: r["ID"] for r in roster}
    for name, (a1, a2, _) in EXPECTED.items():
        if name == "eve":
            continue  # not on the roster: not in the file Canvas reads
        assert seen["grades"][ids[name.lower()]] == {A1: a1, A2: a2}, name
    # every roster row, in its order; no grade for gus (nothing handed in) nor the Test
    # Student: Canvas keeps what it has
    assert list(seen["grades"]) == [r["ID"] for r in roster]
    assert seen["grades"]["106"] == seen["grades"]["999"] == {A1: None, A2: None}


# --- Moodle -------------------------------------------------------------------------------

def moodle_import(text: str, user_field: str, users: set[str]) -> dict[str, list[str]]:
    """What Moodle's CSV grade import (grade/import/csv/classes/load_data.php) does with
    ``text`` when the column ``user_field`` is mapped to a user field ("Map from" / "Map
    to": userid, username, useridnumber, useremail) and the other columns to grade items or
    to their feedback:

    - a line with one field or fewer is skipped; every other line must name a user that
      exists (an exact lookup of the value, ``$DB->get_record('user', [field => value])``),
      else the whole import stops ("usermappingerrorusernotfound");
    - a grade of "" or "-" clears the grade (``finalgrade = null``); any other value must be
      a number (``unformat_float``), else "badgrade" stops the import;
    - two columns may not be mapped to the same target ("cannotmapfield").
    """
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert header.count(user_field) == 1 and len(set(header)) == len(header)
    key = header.index(user_field)
    out = {}
    for r in rows[1:]:
        if len(r) <= 1:
            continue
        assert r[key] in users, f"Moodle stops the import: no user {r[key]!r}"
        out[r[key]] = r
    return out


def test_moodle_file_is_what_moodle_imports(klass, tmp_path, capsys):
    out = tmp_path / "grades.csv"
    assert main(["merge", *map(str, klass["shards"]), "--out", str(out), "--roster",
                 str(klass["moodle"]), "--key", "ID number", "--export", "moodle",
                 "--lang", "both"]) == 0
    text = (tmp_path / "grades-moodle.csv").read_text(encoding="utf-8")
    users = {"ada", "ben", "CY", "dee", "gus"}
    seen = moodle_import(text, "ID number", users)
    header = next(csv.reader(io.StringIO(text)))
    assert header == ["ID number", A1, A2, f"{A1} feedback", f"{A2} feedback"]
    # the roster's own spelling ("CY", not the submission's "Cy"): Moodle looks it up as is
    assert sorted(seen) == ["CY", "ada", "ben", "dee"]
    for name, (a1, a2, _) in EXPECTED.items():
        if name == "eve":
            continue
        r = seen["CY" if name == "Cy" else name]
        assert (float(r[1]), float(r[2])) == (a1, a2)  # numbers, never "-" (which clears)
    # gus handed in nothing: a "-" would clear a grade Moodle has; he is left out, and said
    assert "gus: no submission" in capsys.readouterr().out
    # the feedback of each task is what the text report says of it, in both languages
    record = json.loads((tmp_path / "grades-records" / "ben.json").read_text())
    feedback = seen["ben"][3]
    en, ja = (task_text(record, "a1", lang) for lang in ("en", "ja"))
    assert en in render(record, "text", "en") and ja in render(record, "text", "ja")
    assert feedback == en + "\n" + ja.rstrip("\n")
    assert "FAIL  test_he_std" in feedback and "0 / 2" in feedback
    assert "similarity" not in text and "isolation" not in text


def test_moodle_leaves_out_a_student_the_grader_failed(klass, tmp_path):
    """A grader fault is never the student's 0: a row with a grade the grader could not
    decide stays out of Moodle's file (a blank or "-" would clear the grade Moodle has)."""
    folder = tmp_path / "grades-records"
    shutil.copytree(klass["shards"][0], folder)
    cy = json.loads((folder / "Cy.json").read_text())
    cy["assignments"][1]["status"] = "grader"
    cy["gradebook"]["status"] = "grader-error"
    (folder / "Cy.json").write_text(json.dumps(cy))
    roster = gradebook.read_roster(klass["moodle"], "ID number")
    names = ["Cy", "ben", "eve"]
    recs = {n: json.loads((folder / f"{n}.json").read_text()) for n in names}
    text, left_out = gradebook.moodle(roster, recs, names, ["a1", "a2"], "en")
    assert [r[0] for r in csv.reader(io.StringIO(text))][1:] == ["ben"]
    assert "CY: not graded (grader-error): regrade with --only Cy" in left_out
    # Canvas keeps the row, with no grade where the grader failed (Canvas then keeps its own)
    canvas = gradebook.read_roster(klass["canvas"], "SIS Login ID")
    rows = list(csv.reader(io.StringIO(gradebook.canvas(canvas, recs, names, ["a1", "a2"],
                                                        {"a1": 5, "a2": 5}))))
    assert next(r for r in rows if r[3] == "cy")[5:] == ["5", ""]


# --- feedback files -----------------------------------------------------------------------

def test_feedback_files_are_what_the_student_sees(klass, merged):
    folder = merged.with_name("feedback")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.md" for n in EXPECTED)
    for name in EXPECTED:
        record = json.loads((merged.with_name("grades-records") / f"{name}.json").read_text())
        text = (folder / f"{name}.md").read_text(encoding="utf-8")
        shown = {**record, "submission": Path(record["submission"]).name}
        for lang in ("en", "ja"):
            assert f"```text\n{render(shown, 'text', lang)}```\n" in text
        # the TA's paths, the similarity flags and the instructor's notes stay out
        assert str(klass["root"]) not in text
        assert "student ada" not in text and "solutions/" not in text
        note = record["instructor"]["isolation_note"]
        if note:
            assert note not in text
    ben = (folder / "ben.md").read_text(encoding="utf-8")
    assert ben.startswith("# dlkit: grading feedback for ben\n")
    assert "a1 Weight initialization: 3 / 5" in ben and "a1 重みの初期値: 3 / 5" in ben
    assert "eve.zip" in (folder / "eve.md").read_text(encoding="utf-8")


def test_feedback_fence_outlasts_backticks_in_student_output(klass, merged):
    record = json.loads((merged.with_name("grades-records") / "ben.json").read_text())
    record["assignments"][0]["checks"][1]["output"] = "print('```')\n````` five"
    text = gradebook.feedback_markdown(record, "en")
    assert "\n``````text\n" in text and text.endswith("``````\n")


def test_a_failed_assert_gives_the_same_feedback_in_every_run():
    """A bare ``assert`` in a check: pytest's explanation names objects with their memory
    address, which changes from run to run; the student's message leaves it out."""
    import numpy as np

    from grader.scoring import plugin

    with pytest.raises(AssertionError) as failed:
        assert np.allclose(np.zeros(2), np.ones(2))  # rewritten by pytest, as in a check
    assert re.search(r" at 0x[0-9a-f]+>", str(failed.value))
    text = plugin._describe(failed)
    assert text["en"] == text["ja"]
    assert "<function allclose>" in text["en"] and " at 0x" not in text["en"]


# --- regrades (--only) --------------------------------------------------------------------

def _copy_gradebook(merged: Path, dst: Path) -> Path:
    """A copy of the merged gradebook (CSV, records, LMS file) to regrade in."""
    dst.mkdir()
    for p in merged.parent.iterdir():
        if p.name != "feedback":
            (shutil.copytree if p.is_dir() else shutil.copy2)(p, dst / p.name)
    return dst / merged.name


def test_only_regrades_one_student_and_leaves_every_other_row(klass, merged, tmp_path,
                                                                capsys):
    out = _copy_gradebook(merged, tmp_path / "book")
    subs = tmp_path / "subs"
    shutil.copytree(klass["subs"], subs)
    shutil.rmtree(subs / "ben")  # ben's fixed submission, accepted late
    _copy(REPO / "solutions", subs / "ben")
    before = out.read_text(encoding="utf-8").splitlines(keepends=True)
    canvas_before = out.with_name("grades-canvas.csv").read_text().splitlines(keepends=True)
    records_before = {p.name: json.loads(p.read_text())
                      for p in out.with_name("grades-records").glob("*.json")}
    assert _batch(subs, out, "--only", "ben", "--feedback", str(tmp_path / "fb")) == 0
    # the gradebook's roster and export were used again, without being given
    err = capsys.readouterr().err
    assert "--only: the gradebook's --roster" in err and "--export canvas" in err
    after = out.read_text(encoding="utf-8").splitlines(keepends=True)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert changed == [1]  # ben's row (under the header); every other row byte for byte
    ben = _rows(out)[0]
    assert (ben["submission"], float(ben["a1"]), float(ben["total"])) == ("ben", 5, 10)
    canvas_after = out.with_name("grades-canvas.csv").read_text().splitlines(keepends=True)
    assert [i for i, (a, b) in enumerate(zip(canvas_before, canvas_after, strict=True))
            if a != b] == [2]  # ben's line, under the header and Points Possible
    new = json.loads(out.with_name("grades-records").joinpath("ben.json").read_text())
    assert new["score"] == 10 and new["started"] != records_before["ben.json"]["started"]
    for name, old in records_before.items():
        now = json.loads(out.with_name("grades-records").joinpath(name).read_text())
        if name != "ben.json":  # only the flags with ben's new file may differ
            assert {k: v for k, v in now.items() if k != "similarity"} == {
                k: v for k, v in old.items() if k != "similarity"}
    assert sorted(p.name for p in (tmp_path / "fb").iterdir()) == sorted(
        f"{n}.md" for n in EXPECTED)


def test_an_interrupted_regrade_leaves_the_gradebook_as_it_was(klass, merged, tmp_path):
    """SIGTERM (a scheduler cancelling the job) in the middle of a regrade: every file of the
    gradebook is as it was, and nothing of the regrade is left: not the grading process,
    not its checks process (which runs in a session of its own), not its run folder."""
    out = _copy_gradebook(merged, tmp_path / "book")
    before = _tree(out.parent)
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "batch", str(klass["subs"]), "--out", str(out),
         "--only", "ada", "--checks-dir", str(FAKE)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder = out.with_name("grades-records")
    deadline = time.monotonic() + 180
    checks: list[int] = []
    while not checks:  # until ada's checks run: a child dlkit-grade, its checks process
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the regrade did not start"
        time.sleep(0.05)
        child = [p for p in _children(proc.pid) if _cmdline_has(p, str(folder))]
        checks = [p for c in child for p in _children(c)
                  if _cmdline_has(p, "grader.scoring.plugin")]
    run_dir = Path(_environ(checks[0])["DLKIT_GRADE_RUN_DIR"])
    assert run_dir.is_dir()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted: the gradebook was not rewritten" in err
    assert _tree(out.parent) == before  # no staging folder left, no file changed
    assert not [p for p in child + checks if Path(f"/proc/{p}").exists()
                and _state(p) != "Z"]
    assert not run_dir.exists()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode(errors="replace").split("=", 1) for e in raw if b"=" in e)


def _cmdline_has(pid: int | str, text: str) -> bool:
    try:
        return text in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False

def test_a_stop_signal_while_writing_waits_for_the_whole_gradebook(klass, tmp_path,
                                                                     monkeypatch, capsys):
    """SIGTERM in the second or two the files take to write: they are all written, so the
    records, the manifest and the gradebook never disagree."""
    manifest, graded = records.load(klass["shards"])
    real = gradebook.csv_text

    def csv_text_then_sigterm(columns, rows):
        os.kill(os.getpid(), signal.SIGTERM)  # after the records, before the gradebook
        return real(columns, rows)

    monkeypatch.setattr(gradebook, "csv_text", csv_text_then_sigterm)
    out = tmp_path / "grades.csv"
    with _terminate_as_interrupt():  # SIGTERM stops a batch, as dlkit-grade sets it up
        stop = signal.getsignal(signal.SIGTERM)
        records.write(out, manifest, graded)  # held: the files are written in full
        assert signal.getsignal(signal.SIGTERM) is stop
    assert "it was written in full first" in capsys.readouterr().err
    assert [r["student"] for r in _rows(out)] == manifest.names
    assert (out.with_name("grades-records") / records.MANIFEST).is_file()
    assert not list(out.parent.rglob("*.part"))



def test_canvas_roster_in_other_forms(tmp_path):
    """Canvas writes ';' where the decimal mark is ',' (determine_column_separator), a
    "Manual Posting" row above "Points Possible" on courses with manual posting, and quotes a
    name that starts with '='; all are read as Canvas's importer reads them."""
    path = tmp_path / "roster.csv"
    path.write_text(
        "\ufeffStudent;ID;SIS User ID;SIS Login ID;Section;Homework 1 (1201)\n"
        ";;;;;Manual Posting\n"
        "    Points Possible;;;;;10,00\n"
        '"Bell; Ben";102;S102;ben;Section A;7,00\n'
        '"=""=Eve""";105;S105; eve ;Section A;\n', encoding="utf-8")
    roster = gradebook.read_roster(path, "SIS Login ID")
    assert [(r.line, r.key, r.fields["Student"]) for r in roster.rows] == [
        (4, "ben", "Bell; Ben"), (5, "eve", '="=Eve"')]
    assert gradebook.match(roster, ["EVE", "ben", "zoe"]) == ({0: "ben", 1: "EVE"}, ["zoe"])

# --- bad input: a clear error before anything is graded or written ------------------------

@pytest.mark.parametrize("roster, key, expected", [
    ("Student,ID,Section\nAda,1,A\n", "SIS Login ID",
     "expected a column 'SIS Login ID' (--key), got the columns 'Student', 'ID', 'Section'"),
    ("email,name\nada@x.edu,Ada\nben@x.edu,Ben\nADA@x.edu ,Ada again\n", "email",
     "expected each 'email' once, got duplicates: 'ada@x.edu' on lines 2, 4"),
    ("", "email", "the file is empty"),
    ("email,name\n\n", "email", "no students"),
    ("Student,ID,SIS Login ID,Section\n    Points Possible,,,\n", "SIS Login ID",
     "no students"),
])
def test_bad_rosters_stop_before_grading(tmp_path, capsys, roster, key, expected):
    path = tmp_path / "roster.csv"
    path.write_text(roster, encoding="utf-8")
    subs = tmp_path / "subs"
    _copy(REPO / "solutions", subs / "ada")
    with pytest.raises(SystemExit) as stop:
        _batch(subs, tmp_path / "out" / "grades.csv", "--roster", str(path), "--key", key)
    assert stop.value.code == 2 and expected in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, expected", [
    (["--shard", "3/2"], "--shard: expected I/N with 1 <= I <= N (shard I of N, e.g. 2/4), "
                         "got '3/2'"),
    (["--shard", "0/2"], "got '0/2'"),
    (["--shard", "2"], "got '2'"),
    (["--shard", "a/b"], "got 'a/b'"),
    (["--shard", "1/2/3"], "got '1/2/3'"),
    (["--shard", "1/2", "--export", "canvas"], "give them to dlkit-grade merge"),
    (["--export", "canvas"], "--export canvas: expected --roster ROSTER.csv --key COLUMN"),
    (["--key", "ID"], "--roster and --key go together"),
    (["--only", "ada", "--shard", "1/2"], "regrade in the merged gradebook"),
    (["--only", "ada"], "--only regrades students of an existing gradebook"),
])
def test_bad_options_stop_before_grading(tmp_path, capsys, args, expected):
    subs = tmp_path / "subs"
    _copy(REPO / "solutions", subs / "ada")
    with pytest.raises(SystemExit) as stop:
        _batch(subs, tmp_path / "out" / "grades.csv", *args)
    assert stop.value.code == 2 and expected in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_canvas_needs_canvas_s_roster(klass, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["merge", *map(str, klass["shards"]), "--out", str(tmp_path / "g.csv"),
              "--roster", str(klass["moodle"]), "--key", "ID number", "--export", "canvas"])
    assert ("expected the roster to be Canvas's gradebook export (columns Student, ID, SIS "
            "User ID, SIS Login ID, Section)" in capsys.readouterr().err)
    assert not list(tmp_path.iterdir())


def test_two_submissions_of_one_student_stop_before_grading(klass, tmp_path, capsys):
    subs = tmp_path / "subs"
    _copy(REPO / "solutions", subs / "ada")
    _copy(REPO / "solutions", subs / "ADA")
    with pytest.raises(SystemExit):
        _batch(subs, tmp_path / "out" / "grades.csv", "--roster", str(klass["canvas"]),
               "--key", "SIS Login ID")
    assert "the submissions 'ADA' and 'ada' both match SIS Login ID 'ada'" in \
        capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_only_naming_nobody_changes_nothing(klass, merged, tmp_path, capsys):
    out = _copy_gradebook(merged, tmp_path / "book")
    before = _tree(out.parent)
    with pytest.raises(SystemExit) as stop:
        _batch(klass["subs"], out, "--only", "ben", "bob")
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert "--only: no submission named 'bob' in" in err and "Cy, ada, ben, dee" in err
    assert _tree(out.parent) == before


def test_merge_refuses_what_is_not_one_class(klass, tmp_path, capsys):
    one, two = klass["shards"]
    cases = [
        ([one], "expected the records of shards 1/2 … 2/2, each once; got 1/2 ("
                f"{one}); missing: 2/2"),
        ([one, one, two], "given twice: 1/2"),
        ([tmp_path], "has no class.manifest"),
        ([tmp_path / "nowhere"], "expected a records folder written by dlkit-grade batch"),
    ]
    for folders, expected in cases:
        with pytest.raises(SystemExit) as stop:
            main(["merge", *map(str, folders), "--out", str(tmp_path / "g.csv")])
        assert stop.value.code == 2 and expected in capsys.readouterr().err
    # a shard whose record of one student is gone
    partial = tmp_path / "partial"
    shutil.copytree(two, partial)
    (partial / "dee.json").unlink()
    with pytest.raises(SystemExit):
        main(["merge", str(one), str(partial), "--out", str(tmp_path / "g.csv")])
    assert "the record of 'dee' is missing" in capsys.readouterr().err
    assert not (tmp_path / "g.csv").exists()


def test_merge_refuses_records_of_another_grader(klass, tmp_path, capsys):
    """Points changed between the shards (the identity of the grader of the other shard is
    the one grader_identity gives for a checks folder with other points), or one record
    regraded by another grader: refused, naming what differs."""
    checks = tmp_path / "checks"
    shutil.copytree(FAKE, checks)
    _patch(checks / "points.toml", "test_he_std = 2", "test_he_std = 3")
    other = records.grader_identity(["a1", "a2"], checks)
    mine = records.Manifest.read(klass["shards"][0]).grader
    assert other["points"] != mine["points"] and other["source"] != mine["source"]
    assert records.grader_identity(["a1", "a2"], FAKE) == mine  # the same grader: the same
    shard = tmp_path / "shard2"
    shutil.copytree(klass["shards"][1], shard)
    manifest = json.loads((shard / records.MANIFEST).read_text())
    manifest["grader"] = other
    (shard / records.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(SystemExit):
        main(["merge", str(klass["shards"][0]), str(shard), "--out", str(tmp_path / "g.csv")])
    assert "were graded with different points (points.toml)" in capsys.readouterr().err
    # the manifest agrees, one record does not
    shutil.rmtree(shard)
    shutil.copytree(klass["shards"][1], shard)
    record = json.loads((shard / "ada.json").read_text())
    record["gradebook"]["grader"] = {**mine, "source": other["source"]}
    (shard / "ada.json").write_text(json.dumps(record))
    with pytest.raises(SystemExit):
        main(["merge", str(klass["shards"][0]), str(shard), "--out", str(tmp_path / "g.csv")])
    assert "ada.json was graded with different grader or dlkit source" in \
        capsys.readouterr().err
    assert not (tmp_path / "g.csv").exists()


def test_only_refuses_a_gradebook_of_another_grader(klass, merged, tmp_path, capsys):
    out = _copy_gradebook(merged, tmp_path / "book")
    checks = tmp_path / "checks"
    shutil.copytree(FAKE, checks)
    _patch(checks / "points.toml", "test_zeros = 1", "test_zeros = 2")
    before = _tree(out.parent)
    with pytest.raises(SystemExit):
        main(["batch", str(klass["subs"]), "--out", str(out), "--only", "ben",
              "--checks-dir", str(checks)])
    assert "was graded with different points (points.toml) than this grader" in \
        capsys.readouterr().err
    assert _tree(out.parent) == before


# --- the whole class in one batch, against the shards merged ------------------------------

@pytest.mark.slow
def test_one_batch_and_merged_shards_give_the_same_gradebook(klass, merged, tmp_path):
    """The class graded in one batch (every option) and in two shards merged: the same
    gradebook, similarity table, Canvas file and feedback files, byte for byte; and the
    Moodle file of one batch is the merge's too."""
    out = tmp_path / "grades.csv"
    assert _batch(klass["subs"], out, "--roster", str(klass["canvas"]), "--key",
                  "SIS Login ID", "--export", "canvas", "--feedback",
                  str(tmp_path / "feedback"), "--lang", "both") == 0
    for name in ("grades.csv", "grades-canvas.csv", "grades-similarity.csv"):
        assert (tmp_path / name).read_bytes() == merged.with_name(name).read_bytes(), name
    assert _tree(tmp_path / "feedback") == _tree(merged.with_name("feedback"))
    moodle = tmp_path / "moodle"
    assert main(["merge", str(out.with_name("grades-records")), "--out",
                 str(moodle / "grades.csv"), "--roster", str(klass["moodle"]), "--key",
                 "ID number", "--export", "moodle"]) == 0
    assert main(["merge", *map(str, klass["shards"]), "--out", str(tmp_path / "m2" /
                 "grades.csv"), "--roster", str(klass["moodle"]), "--key", "ID number",
                 "--export", "moodle"]) == 0
    assert (moodle / "grades-moodle.csv").read_bytes() == (
        tmp_path / "m2" / "grades-moodle.csv").read_bytes()


@pytest.mark.slow
def test_a_shard_graded_with_other_points_is_not_merged(klass, tmp_path, capsys):
    """For real: shard 2 graded by a checks folder whose points differ."""
    checks = tmp_path / "checks"
    shutil.copytree(FAKE, checks)
    _patch(checks / "points.toml", "test_he_std = 2", "test_he_std = 3")
    out = tmp_path / "shard2" / "grades.csv"
    assert main(["batch", str(klass["subs"]), "--out", str(out), "--jobs", "2", "-a",
                 "a1,a2", "--checks-dir", str(checks), "--shard", "2/2"]) == 0
    assert json.loads(out.with_name("grades-records").joinpath("ada.json").read_text())[
        "max_score"] == 11
    with pytest.raises(SystemExit):
        main(["merge", str(klass["shards"][0]), str(out.with_name("grades-records")),
              "--out", str(tmp_path / "g.csv")])
    assert "were graded with different points (points.toml)" in capsys.readouterr().err

