"""Handouts that cannot disagree with the grader (grader.platforms.handouts).

Every points table a student or an instructor reads — each task's README in English and
Japanese, the overview of the tasks, the speed steps of the a4 lab notebooks, grader/README —
is written by ``dlkit-grade handouts`` from grader/points.toml and the checks' descriptions.
These tests read the files as they are in the repository and fail when one of them says
something else than points.toml and the checks; the last ones change the points in a copy,
as an instructor would, and follow the command's repair.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlkit.tasks import TASKS
from grader.platforms import handouts
from grader.scoring.runner import load_points

REPO = Path(__file__).resolve().parents[1]
GRADER = REPO / "grader"
POINTS = load_points(GRADER / "points.toml")
README = {"en": "README.md", "ja": "README.ja.md"}
_ROW = re.compile(r"^\| `(test_\w+)` \| .* \| ([\d.]+) \|$", re.M)


def _outside_generated(path: Path) -> str:
    """The file's text (a notebook's cells) without its generated parts."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        text = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
    return handouts._REGION.sub("", text)


def test_every_handout_is_up_to_date():
    """What `dlkit-grade handouts --check` checks: nothing to rewrite."""
    stale = handouts.stale()
    assert not stale, (f"out of date: {[str(p.relative_to(REPO)) for p in stale]}; run "
                       f"`dlkit-grade handouts`")


@pytest.mark.parametrize("lang", README)
@pytest.mark.parametrize("aid", sorted(TASKS))
def test_each_task_readme_lists_every_check_with_its_points(aid, lang):
    """Read as a student reads it: one row per check of points.toml, under the name the
    feedback uses, with its points, and the total in the heading."""
    text = (REPO / "assignments" / TASKS[aid].folder / README[lang]).read_text(encoding="utf-8")
    rows = {name: float(p) for name, p in _ROW.findall(text)}
    assert rows == POINTS[aid]
    total = f"{sum(POINTS[aid].values()):g}"
    heading = f"## What the grader checks ({total} points)" if lang == "en" else (
        f"## 採点での検査（{total} 点）")
    assert heading in text


@pytest.mark.parametrize("lang", README)
def test_the_overview_gives_each_tasks_total(lang):
    text = (REPO / "assignments" / README[lang]).read_text(encoding="utf-8")
    for n, (aid, task) in enumerate(TASKS.items(), 1):
        row = re.search(rf"^\| {n} \| \[`{task.folder}/`\].* \| ([\d.]+) \|$", text, re.M)
        assert row and float(row[1]) == sum(POINTS[aid].values()), (aid, lang)


def test_no_handout_states_points_outside_the_generated_parts():
    """A number of points written by hand would drift: only the generated parts give any."""
    stated = re.compile(r"\b[1-9]\d* points?\b|[1-9]\d* 点(?!数)")  # "scores 0" is no table
    for path in handouts.handout_files():
        text = _outside_generated(path)
        found = stated.findall(text)
        assert not found, (str(path.relative_to(REPO)), found)


@pytest.mark.parametrize("lab", ["lab.ipynb", "lab.ja.ipynb"])
def test_the_a4_notebook_states_the_graders_speed_steps(lab):
    """The steps come from the checks' own SPEED_STEPS, with points from points.toml."""
    text = (REPO / "assignments" / TASKS["a4"].folder / lab).read_text(encoding="utf-8")
    steps = handouts.constants("a4")["SPEED_STEPS"]
    points = POINTS["a4"]["test_speed"]
    for least, fraction in steps:
        shown = (f"≥ {least:g}×: {points * fraction:g} points" if lab == "lab.ipynb"
                 else f"{least:g} 倍以上で {points * fraction:g} 点")
        assert shown in text, shown
    assert "in proportion" not in text and "比例" not in text


def test_descriptions_state_the_checks_own_numbers():
    """A threshold quoted in a description is the checks' own (thresholds.toml), formatted."""
    a3 = (REPO / "assignments" / TASKS["a3"].folder / "README.md").read_text(encoding="utf-8")
    threshold = handouts.constants("a3")["ACCURACY_MID"]
    assert f"held-out accuracy at least {threshold:.0%}" in a3
    a2 = (REPO / "assignments" / TASKS["a2"].folder / "README.md").read_text(encoding="utf-8")
    assert f"at most {1 / handouts.constants('a2')['MIN_SPEEDUP']:g}× the time" in a2


# ------------------------------------------------------------------ an instructor's change


@pytest.fixture
def course(tmp_path) -> tuple[Path, Path]:
    """A copy of the handouts and of the grader's points, descriptions and checks."""
    repo, grader = tmp_path / "repo", tmp_path / "repo" / "grader"
    shutil.copytree(REPO / "assignments", repo / "assignments",
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    grader.mkdir()
    for name in ("points.toml", "README.md"):
        shutil.copy(GRADER / name, grader / name)
    shutil.copytree(GRADER / "descriptions", grader / "descriptions")
    shutil.copytree(GRADER / "checks", grader / "checks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return repo, grader


def _set(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_changed_points_make_the_handouts_stale_and_the_command_repairs_them(course):
    repo, grader = course
    assert handouts.stale(repo, grader) == {}
    _set(grader / "points.toml", "test_backward_dbeta = 1", "test_backward_dbeta = 2")
    _set(grader / "checks" / "thresholds.toml", "SPEED_STEPS = { value = [[3.0, 1.0],",
         "SPEED_STEPS = { value = [[4.0, 1.0],")
    stale = handouts.stale(repo, grader)
    folder = repo / "assignments"
    assert set(stale) >= {folder / "a2_batchnorm" / "README.md",
                          folder / "a2_batchnorm" / "README.ja.md", folder / "README.md",
                          folder / "a4_numba" / "lab.ipynb", grader / "README.md"}
    for path, text in stale.items():
        path.write_text(text, encoding="utf-8")
    assert handouts.stale(repo, grader) == {}
    a2 = (folder / "a2_batchnorm" / "README.md").read_text(encoding="utf-8")
    assert "| `test_backward_dbeta` | backward: `dbeta` | 2 |" in a2
    assert "## What the grader checks (31 points)" in a2
    assert "≥ 4×: 9 points" in (folder / "a4_numba" / "lab.ipynb").read_text(encoding="utf-8")


def test_a_new_check_needs_a_description_in_each_language(course):
    repo, grader = course
    _set(grader / "points.toml", "test_speed = 3\n", "test_speed = 3\ntest_accepts_4d = 2\n")
    with pytest.raises(handouts.HandoutError, match=r"en.toml: \[a2.checks\] has no "
                                                    r"description of test_accepts_4d"):
        handouts.stale(repo, grader)
    _set(grader / "descriptions" / "en.toml", '[a2.checks]\n',
         '[a2.checks]\ntest_accepts_4d = "(N, C, H, W) input, as the book\'s layer"\n')
    with pytest.raises(handouts.HandoutError, match=r"ja.toml: \[a2.checks\]"):
        handouts.stale(repo, grader)
    _set(grader / "descriptions" / "ja.toml", '[a2.checks]\n',
         '[a2.checks]\ntest_accepts_4d = "本書のレイヤと同じく (N, C, H, W) の入力"\n')
    stale = handouts.stale(repo, grader)
    readme = stale[repo / "assignments" / "a2_batchnorm" / "README.md"]
    assert "| `test_accepts_4d` | (N, C, H, W) input, as the book's layer | 2 |" in readme


def test_a_description_naming_no_constant_is_an_error(course):
    repo, grader = course
    _set(grader / "descriptions" / "en.toml", "{TIME_BUDGET:g} s", "{TIME_LIMIT:g} s")
    with pytest.raises(handouts.HandoutError, match="TIME_LIMIT.*not a constant"):
        handouts.stale(repo, grader)


def test_the_command_checks_and_rewrites():
    proc = subprocess.run([sys.executable, "-m", "grader", "handouts", "--check"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
