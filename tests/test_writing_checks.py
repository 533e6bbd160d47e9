"""docs/authors/writing-checks.md, followed: its worked example (a2 accepts (N, C, H, W)
input) applied to a copy of the grader, exactly as the guide's blocks say, and graded.

Each block of the guide that goes into a file is preceded by a marker, ``<!-- append: PATH
-->`` or ``<!-- insert after "LINE": PATH -->``; this test applies them to a copy of grader/
in a temporary folder and runs that copy (``python -m grader`` with the copy first on
PYTHONPATH).  The default run checks that the blocks apply and make valid files; the slow
run grades the model answer (which rejects 4-D input: 30 of 32) and a layer that reshapes as
the book's does (32 of 32).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "authors" / "writing-checks.md"
MARKER = re.compile(r'<!-- (append|insert after "([^"]+)"): (\S+) -->\n```\w*\n(.*?)```', re.S)


def _blocks() -> list[tuple[str, str | None, str, str]]:
    """(how, the line to insert after or None, path, text) of every marked block."""
    return [(how.split()[0], after, path, text)
            for how, after, path, text in MARKER.findall(GUIDE.read_text(encoding="utf-8"))]


def _grader_copy(root: Path) -> Path:
    """grader/ copied under ``root`` with the guide's blocks applied; returns the copy."""
    copy = root / "grader"
    shutil.copytree(REPO / "grader", copy,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for how, after, path, text in _blocks():
        target = root / path
        source = target.read_text(encoding="utf-8")
        if how == "append":
            source += text
        else:
            line = after + "\n"
            assert source.count(line) == 1, f"{path}: the line {after!r} must occur once"
            source = source.replace(line, line + text)
        target.write_text(source, encoding="utf-8")
    return copy


@pytest.fixture
def shared_tmp():
    """A folder other users can read (the workers run as another uid), removed after."""
    path = Path(tempfile.mkdtemp(prefix="dlkit-guide-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_guide_has_its_four_additions():
    paths = [path for _, _, path, _ in _blocks()]
    assert paths == ["grader/points.toml", "grader/messages/en.toml",
                     "grader/messages/ja.toml", "grader/checks/test_a2.py"]


def test_the_guides_blocks_apply_and_make_valid_files(shared_tmp):
    copy = _grader_copy(shared_tmp)
    points = tomllib.loads((copy / "points.toml").read_text(encoding="utf-8"))
    assert points["a2"]["test_forward_4d"] == 2
    catalogs = {lang: tomllib.loads((copy / "messages" / f"{lang}.toml").read_text(
        encoding="utf-8")) for lang in ("en", "ja")}
    assert set(catalogs["en"]["a2"]["test_forward_4d"]) == set(
        catalogs["ja"]["a2"]["test_forward_4d"]) == {"rejected", "rule"}
    source = (copy / "checks" / "test_a2.py").read_text(encoding="utf-8")
    compile(source, "test_a2.py", "exec")
    assert "def test_forward_4d(worker, feedback):" in source


def _grade(copy: Path, submission: Path) -> dict:
    out = submission.parent / f"{submission.name}.json"
    env = dict(os.environ, PYTHONPATH=str(copy.parent))
    proc = subprocess.run([sys.executable, "-m", "grader", str(submission), "--assignment",
                           "a2", "--format", "json", "--out", str(out)], cwd=copy.parent,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (task,) = json.loads(out.read_text(encoding="utf-8"))["assignments"]
    return task


_FOUR_D = '''

_TwoD = BatchNormalization


class BatchNormalization(_TwoD):
    """The layer above, also for x of shape (N, C, H, W), as the book's: one feature per
    C·H·W, the result in x's shape."""

    def forward(self, x, train_flg=True):
        shape = np.shape(x)
        return super().forward(np.reshape(x, (shape[0], -1)), train_flg).reshape(shape)

    def backward(self, dout):
        shape = np.shape(dout)
        return super().backward(np.reshape(dout, (shape[0], -1))).reshape(shape)
'''


@pytest.mark.slow
def test_the_example_check_is_graded_as_the_guide_says(shared_tmp):
    copy = _grader_copy(shared_tmp)
    model = shared_tmp / "model"
    shutil.copytree(REPO / "solutions" / "a2_batchnorm", model / "a2_batchnorm")
    four_d = shared_tmp / "four_d"
    shutil.copytree(REPO / "solutions" / "a2_batchnorm", four_d / "a2_batchnorm")
    layer = four_d / "a2_batchnorm" / "batchnorm.py"
    layer.write_text(layer.read_text(encoding="utf-8") + _FOUR_D, encoding="utf-8")
    for folder in (model, four_d):
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)

    graded = _grade(copy, model)
    checks = {c["name"]: c for c in graded["checks"]}
    assert graded["max_score"] == 32 and graded["score"] == 30
    check = checks["test_forward_4d"]
    assert check["score"] == 0 and check["max_score"] == 2
    assert "does not accept a 4-D x" in check["message"]["en"]
    assert "4 次元の x を受け付けていません" in check["message"]["ja"]

    graded = _grade(copy, four_d)
    lost = [(c["name"], c["message"]["en"][:200]) for c in graded["checks"]
            if c["score"] < c["max_score"]]
    assert graded["score"] == graded["max_score"] == 32, lost
