"""Malformed submissions read well: one clear line per problem, never the same traceback twice.

Each submission is graded by ``dlkit-grade`` in a subprocess with the real hidden checks, and
its text report (English and Japanese) and JSON record are read as a student and a TA would.
"""

from __future__ import annotations

import codecs
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.report import render
from grader.scoring.runner import load_points

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"


def _grade(source: Path, aid: str, tmp_path: Path, lang: str = "en") -> tuple[str, dict]:
    """(text report, JSON record) of ``dlkit-grade source -a aid`` (the record from the
    command line, the text rendered from it as ``--format text`` does)."""
    out = tmp_path / f"record-{aid}.json"
    proc = subprocess.run([sys.executable, "-m", "grader", str(source), "-a", aid, "--format",
                           "json", "--out", str(out)], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    record = json.loads(out.read_text(encoding="utf-8"))
    return render(record, "text", lang), record


def _task(record: dict) -> dict:
    (task,) = record["assignments"]
    return task


def _copy_solution(tmp_path: Path, *folders: str) -> Path:
    root = tmp_path / "sub"
    for folder in folders:
        shutil.copytree(SOLUTIONS / folder, root / folder)
    return root


def test_syntax_error_is_reported_once_with_file_and_line(tmp_path):
    root = _copy_solution(tmp_path, "a2_batchnorm")
    path = root / "a2_batchnorm" / "batchnorm.py"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[40] += " (("  # line 41
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text, record = _grade(root, "a2", tmp_path)
    task = _task(record)
    assert task["status"] == "not-loaded" and task["score"] == 0
    assert "a2_batchnorm/batchnorm.py, line 41: SyntaxError" in task["problem"]["en"]
    assert text.count("SyntaxError") == 1
    assert {c["message"]["en"] for c in task["checks"]} == {"Not run: see above."}
    assert len(text.splitlines()) < 40  # not one traceback per check
    ja = render(record, "text", "ja")
    assert "41" in ja and "構文エラー" in ja
    assert ja.count("未実行: 上記を参照してください。") == len(task["checks"])


def test_import_error_is_reported_once_with_file_and_line(tmp_path):
    root = _copy_solution(tmp_path, "a2_batchnorm")
    path = root / "a2_batchnorm" / "batchnorm.py"
    path.write_text("import numpy as np\nfrom scipy.missing_module import thing\n"
                    + path.read_text(encoding="utf-8"), encoding="utf-8")
    text, record = _grade(root, "a2", tmp_path)
    task = _task(record)
    assert task["status"] == "not-loaded"
    assert "ModuleNotFoundError" in task["problem"]["en"]
    assert "(a2_batchnorm/batchnorm.py, line 2)" in task["problem"]["en"]
    assert text.count("ModuleNotFoundError: No module named") == 2  # the line and its traceback
    assert "importlib" not in text  # the import machinery's frames say nothing to a student
    assert {c["message"]["en"] for c in task["checks"]} == {"Not run: see above."}


def test_a_notebook_instead_of_the_module_reads_like_the_public_test(tmp_path):
    root = tmp_path / "sub"
    (root / "a2_batchnorm").mkdir(parents=True)
    (root / "a2_batchnorm" / "batchnorm.ipynb").write_text('{"cells": []}', encoding="utf-8")
    text, record = _grade(root, "a2", tmp_path)
    problem = _task(record)["problem"]["en"]
    assert problem.startswith("Expected the file a2_batchnorm/batchnorm.py, which does not exist")
    assert "batchnorm.ipynb" in problem and "ModuleNotFoundError" not in text
    assert record["stray_files"] == ["a2_batchnorm/batchnorm.ipynb"]


def test_a3_without_a2_says_so_in_one_line(tmp_path):
    root = _copy_solution(tmp_path, "a3_training")
    archive = tmp_path / "a3.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(root / "a3_training" / "train.py", "a3_training/train.py")
    text, record = _grade(archive, "a3", tmp_path)
    task = _task(record)
    assert task["status"] == "not-loaded"
    assert task["problem"]["en"].startswith("a3 uses your a2 layer: include a2_batchnorm/")
    assert "Traceback" not in text and "No module named" not in text


@pytest.mark.parametrize("kind", ["empty zip", "not a zip", "no task folder"])
def test_an_unreadable_submission_gets_one_line(tmp_path, kind):
    source = tmp_path / "sub.zip"
    if kind == "empty zip":
        with zipfile.ZipFile(source, "w"):
            pass
    elif kind == "not a zip":
        source.write_bytes(b"PK\x03\x04 this is not a zip")
    else:
        with zipfile.ZipFile(source, "w") as zf:
            zf.writestr("notes/readme.txt", "hello")
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "grader", str(source), "--format", "json",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["status"] == "unreadable" and record["score"] == 0
    points = load_points(REPO / "grader" / "points.toml")
    assert record["max_score"] == sum(sum(p.values()) for p in points.values())
    for lang, words in (("en", "cannot be read"), ("ja", "読み込めない")):
        text = subprocess.run([sys.executable, "-m", "grader", str(source), "--lang", lang],
                              capture_output=True, text=True, timeout=120).stdout
        body = [line for line in text.splitlines() if line.strip()]
        assert len(body) == 3, text  # the header, the one line, the total
        assert words in body[1] and "Not run" not in text and "未実行" not in text


def test_source_saved_by_windows_notepad_is_read_as_python_reads_it(tmp_path):
    """A byte order mark and CRLF line ends (Windows Notepad's UTF-8): graded like the same
    code without them, and the static checks and similarity flags read it too (a static
    import check that could not parse it would see no import at all)."""
    from grader import similarity
    from grader.scoring import runner

    root = _copy_solution(tmp_path, "a2_batchnorm")
    path = root / "a2_batchnorm" / "batchnorm.py"
    text = path.read_text(encoding="utf-8")
    path.write_bytes(codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8"))
    fake = runner.Options(checks_dir=REPO / "tests" / "grader_cases" / "fake_checks")
    (task,) = runner.grade(root, ["a2"], fake)["assignments"]
    assert task["status"] == "graded" and task["score"] == task["max_score"], task
    (flag,) = similarity.reference_flags(root, "a2")
    assert flag["with"] == "solutions/a2_batchnorm/batchnorm.py" and flag["similarity"] == 1.0
    assert flag["lines"][-1][1] == text.count("\n")  # the file's own line numbers
    helper = "\n\ndef _ready():\n    from dlkit.layers import BatchNormalization\n"
    path.write_bytes(codecs.BOM_UTF8 + (text + helper).replace("\n", "\r\n").encode("utf-8"))
    (task,) = runner.grade(root, ["a2"], fake)["assignments"]
    static = {c["name"]: c for c in task["checks"]}["test_no_static_import_of_dlkit_batchnorm"]
    assert static["outcome"] == "failed", static
