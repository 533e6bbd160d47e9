"""``dlkit submit``: what it refuses (and says why), what it packs, and that the grader reads it.

Each case runs the real command in a subprocess on a copy of the handout's assignments/,
changed the way students get it wrong.  The zip is read back with the grader's own reader
(grader.scoring.submission.prepare); the slow test grades it with ``dlkit-grade`` and the real
hidden checks.
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dlkit.submit.pack import collect, write_zip
from dlkit.submit.source import source_problems
from dlkit.tasks import SKIP_NAMES, TASKS, SizeLimits
from grader.scoring.submission import prepare

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS, SOLUTIONS = REPO / "assignments", REPO / "solutions"
DLKIT = [sys.executable, "-m", "dlkit"]
IGNORED = shutil.ignore_patterns(*SKIP_NAMES, "*.pyc", "*.nbi", "*.nbc")


def handout(dst: Path, answered=()) -> Path:
    """A copy of assignments/ at ``dst``, with the model answer of each task in ``answered``."""
    shutil.copytree(ASSIGNMENTS, dst, ignore=IGNORED)
    for tid in answered:
        shutil.copy2(SOLUTIONS / TASKS[tid].path, dst / TASKS[tid].path)
    return dst


def submit(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([*DLKIT, "submit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def refused(proc, *expected: str) -> str:
    """Assert a refusal (exit 1, no zip) whose output contains every ``expected``."""
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    assert "no zip written" in proc.stderr, text
    for part in expected:
        assert part in text, f"{part!r} not in:\n{text}"
    return text


# ------------------------------------------------------------------------ bad input


def test_a_folder_that_is_not_a_handout(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    text = refused(submit(cwd=tmp_path), "not the assignments/ folder", "a1_initialization/")
    assert not (tmp_path / "submission.zip").exists(), text


def test_the_handout_one_level_too_deep(tmp_path):
    handout(tmp_path / "wrapper" / "assignments_copy", answered=TASKS)
    (tmp_path / "wrapper" / "other").mkdir()
    proc = submit(tmp_path / "wrapper", cwd=tmp_path)
    refused(proc, "one level too deep", "assignments_copy")
    assert not (tmp_path / "submission.zip").exists()


def test_a_task_folder_given_instead_of_the_handout(tmp_path):
    root = handout(tmp_path / "assignments", answered=TASKS)
    refused(submit(cwd=root / "a2_batchnorm"), "the folder of one task", "--task a2")


def test_the_course_folder_is_looked_through(tmp_path):
    """Run from the folder above assignments/ (the course material): assignments/ is used."""
    handout(tmp_path / "assignments", answered=["a1"])
    proc = submit("--task", "a1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert str(tmp_path / "assignments") in proc.stdout


def test_a_task_folder_nested_one_level_too_deep(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a2"])
    inner = root / "a2_batchnorm" / "a2_batchnorm"
    inner.mkdir()
    shutil.move(root / "a2_batchnorm" / "batchnorm.py", inner / "batchnorm.py")
    refused(submit("--task", "a2", cwd=root), "a2_batchnorm/batchnorm.py is missing",
            "one level too deep", "move the files of")


def test_a_missing_task_folder(tmp_path):
    root = handout(tmp_path / "assignments", answered=TASKS)
    shutil.rmtree(root / "a4_numba")
    refused(submit(cwd=root), "a4_numba/ is missing", "--task")


def test_a_syntax_error_names_the_file_and_line(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a1"])
    path = root / "a1_initialization" / "initializers.py"
    path.write_text(path.read_text() + "\ndef broken(:\n    pass\n")
    lines = path.read_text().count("\n")
    refused(submit("--task", "a1", cwd=root), f"{path}, line {lines - 1}", "py_compile")


@pytest.mark.parametrize("saved_as", ["notepad", "cp932 declared"])
def test_source_is_read_as_python_reads_it(tmp_path, saved_as):
    """Windows Notepad's UTF-8 (a byte order mark, CRLF line ends) and a file in another
    encoding that declares it: Python imports both, so dlkit submit packs them, byte for byte,
    and still sees a blocked import in them."""
    root = handout(tmp_path / "assignments", answered=["a1"])
    path = root / TASKS["a1"].path
    text = path.read_text(encoding="utf-8") + "# 初期化の課題\n"
    if saved_as == "notepad":
        data = codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8")
    else:
        data = ("# -*- coding: cp932 -*-\n" + text).encode("cp932", errors="replace")
    path.write_bytes(data)
    proc = submit("--task", "a1", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "U+FEFF" not in proc.stdout + proc.stderr
    packed = zipfile.ZipFile(root / "submission.zip").read(TASKS["a1"].path)
    assert packed == data
    path.write_bytes(data + "import dlkit.initializers\r\n".encode("ascii"))
    assert any("uses dlkit.initializers, which the grader blocks" in p
               for p in source_problems(path, TASKS["a1"]))


def test_source_python_cannot_decode_is_refused_as_python_would(tmp_path):
    """cp932 without a declaration: Python's import fails, so dlkit submit says why."""
    path = tmp_path / "initializers.py"
    path.write_bytes("# 初期化\nx = 1\n".encode("cp932"))
    (problem,) = source_problems(path, TASKS["a1"])
    assert "not UTF-8 text" in problem and "save it as UTF-8" in problem
    path.write_bytes(codecs.BOM_UTF8 + b"# -*- coding: latin-1 -*-\nx = 1\n")
    (problem,) = source_problems(path, TASKS["a1"])
    assert "Python cannot read its encoding" in problem


def test_a_missing_function(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a1"])
    path = root / "a1_initialization" / "initializers.py"
    path.write_text(path.read_text().replace("def spread_stats(", "def spread_statistics("))
    refused(submit("--task", "a1", cwd=root), "does not define spread_stats",
            "keep the names of the handout")


def test_a_notebook_in_place_of_the_module(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a2"])
    module = root / "a2_batchnorm" / "batchnorm.py"
    module.rename(module.with_suffix(".ipynb"))
    refused(submit("--task", "a2", cwd=root), "batchnorm.py is missing", "found batchnorm.ipynb",
            "does not read notebooks")


def test_a_notebook_saved_under_the_module_name(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a1"])
    (root / TASKS["a1"].path).write_text(json.dumps({"cells": [], "metadata": {}}))
    refused(submit("--task", "a1", cwd=root), "is a notebook saved under the module's name")


def test_an_import_the_grader_blocks(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a2"])
    path = root / TASKS["a2"].path
    path.write_text(path.read_text() + "\n\ndef helper():\n"
                    "    from dlkit.layers import BatchNormalization as Ready\n"
                    "    return Ready\n")
    refused(submit("--task", "a2", cwd=root), "dlkit.layers.BatchNormalization",
            "which the grader blocks", TASKS["a2"].block_reason)


def test_an_error_at_import_time(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a1"])
    path = root / TASKS["a1"].path
    path.write_text(path.read_text() + "\nLIMIT = 1 / 0\n")
    refused(submit("--task", "a1", cwd=root), "importing it fails", "ZeroDivisionError",
            f"{path}, line")


def test_a3_brings_a2_along_and_a_broken_a2_stops_it(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a3"])
    (root / TASKS["a2"].path).write_text("import numpy as np\nraise RuntimeError('half done')\n")
    refused(submit("--task", "a3", cwd=root), "a2 is packed too", "RuntimeError: half done")


def test_the_stubs_are_not_packed(tmp_path):
    root = handout(tmp_path / "assignments")
    text = refused(submit(cwd=root), "every task is still the stub")
    assert text.count("still the stub: every test stops at its TODO") == len(TASKS)


# ------------------------------------------------------------------------ packing


def test_without_the_public_tests_the_zip_is_still_written(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a1"])
    (root / "conftest.py").unlink()
    proc = submit("--task", "a1", "--out", tmp_path / "a1.zip", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: public tests not run" in proc.stdout
    assert "conftest.py is missing" in proc.stdout
    assert set(zipfile.ZipFile(tmp_path / "a1.zip").namelist()) >= {TASKS["a1"].path}


def test_the_zip_may_not_go_into_a_task_folder(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a1"])
    out = root / TASKS["a1"].folder / "submission.zip"
    refused(submit("--task", "a1", "--out", out, cwd=root), "write the zip outside the task")
    assert not out.exists()



def test_the_model_answers_are_packed_as_the_grader_reads_them(tmp_path):
    root = handout(tmp_path / "assignments", answered=TASKS)
    (root / "a1_initialization" / "__pycache__").mkdir()
    (root / "a1_initialization" / "__pycache__" / "x.pyc").write_bytes(b"\0" * 10)
    (root / "a2_batchnorm" / "notes.md").write_text("my notes")
    os.symlink(root / "a2_batchnorm" / "notes.md", root / "a2_batchnorm" / "link.md")
    proc = submit(cwd=tmp_path / "assignments")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for task in TASKS.values():
        assert f"{task.id}  {task.title}" in proc.stdout
    assert proc.stdout.count("passed") == len(TASKS) and "failed" not in proc.stdout
    assert "link.md is a link: not packed" in proc.stdout
    archive = root / "submission.zip"
    names = set(zipfile.ZipFile(archive).namelist())
    assert {task.path for task in TASKS.values()} <= names
    assert "a2_batchnorm/notes.md" in names
    assert not any("__pycache__" in n or n.endswith("link.md") for n in names)
    graded = prepare(archive, tmp_path / "graded")
    for task in TASKS.values():
        assert (graded / task.path).read_bytes() == (SOLUTIONS / task.path).read_bytes()


def test_limits_are_the_graders(tmp_path):
    folder = tmp_path / TASKS["a1"].folder
    folder.mkdir()
    for i in range(3):
        (folder / f"f{i}.py").write_text("x = 1\n" * 100)
    small = SizeLimits(max_bytes=1000, max_files=2)
    errors = collect(tmp_path, [TASKS["a1"]], small).errors
    assert len(errors) == 2, errors
    assert "3 files" in errors[0] and "refuses more than 2" in errors[0]
    assert "MiB in the task folders" in errors[1]
    assert collect(tmp_path, [TASKS["a1"]]).errors == []


def test_a_zip_the_grader_would_call_a_bomb_is_not_written(tmp_path):
    folder = tmp_path / TASKS["a1"].folder
    folder.mkdir()
    (folder / "zeros.npy").write_bytes(bytes(3 * 2**20))
    contents = collect(tmp_path, [TASKS["a1"]])
    assert any("zeros.npy is large" in w for w in contents.warnings)
    out = tmp_path / "submission.zip"
    with pytest.raises(ValueError, match="zip bomb"):
        write_zip(contents, out)
    assert list(tmp_path.glob("*.zip")) == [] and list(tmp_path.glob(".*tmp")) == []


# ------------------------------------------------------------------------ end to end


def grade(archive: Path, record: Path) -> dict:
    """``dlkit-grade`` (the real hidden checks) on ``archive``, in a subprocess; the record."""
    env = {k: v for k, v in os.environ.items() if k != "DLKIT_GRADE_CHECKS_DIR"}
    proc = subprocess.run([sys.executable, "-m", "grader", str(archive), "--format", "json",
                           "--out", str(record)], env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(record.read_text())


@pytest.mark.slow
def test_a_student_following_the_handout_readme_gets_full_marks(tmp_path):
    """The handout as `dlkit-grade release` builds it, a fresh virtual environment, the
    README's install, the stubs refused, the model answers written in, `dlkit submit`, and
    the zip graded by `dlkit-grade` with the real hidden checks: full marks."""
    from grader.platforms import release

    top = tmp_path / "handout"
    release.build(top)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "OPENBLAS_NUM_THREADS": "1"}
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-e", "."],
                             cwd=top, env=env, capture_output=True, text=True, timeout=1800)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    root = top / "assignments"

    def student(*args):
        return subprocess.run([*args], cwd=root, env=env, capture_output=True, text=True,
                              timeout=900)

    tests = student("pytest", "-q", "-p", "no:cacheprovider")
    assert tests.returncode == 1 and "NotImplementedError: TODO (task 1)" in tests.stdout
    refused(student("dlkit", "submit"), "every task is still the stub")
    for task in TASKS.values():
        shutil.copy2(SOLUTIONS / task.path, root / task.path)
    proc = student("dlkit", "submit")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = grade(root / "submission.zip", tmp_path / "grade.json")
    lost = [(a["id"], c["name"], c["message"]["en"][:200]) for a in record["assignments"]
            for c in a["checks"] if c["score"] < c["max_score"]]
    assert [a["id"] for a in record["assignments"]] == list(TASKS)
    assert record["score"] == record["max_score"] > 0, lost


def test_dlkit_does_not_import_the_grader():
    """One-way architecture: the grader uses dlkit, never the reverse."""
    code = ("import sys, dlkit.cli, dlkit.submit.cli, dlkit.submit.layout, dlkit.submit.source, "
            "dlkit.submit.probe, dlkit.submit.public_tests, dlkit.submit.pack, dlkit.lab; "
            "dlkit.cli.build_parser(); print(sorted(m for m in sys.modules "
            "if m.split('.')[0] == 'grader'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
