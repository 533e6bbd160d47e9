"""dlkit.tasks describes the handout as it is: every task's folder, file and names exist."""

import ast
from pathlib import Path

import pytest

from dlkit.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]


def _top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


@pytest.mark.parametrize("tree", ["assignments", "solutions"])
@pytest.mark.parametrize("tid", sorted(TASKS))
def test_task_file_defines_its_names(tree, tid):
    task = TASKS[tid]
    path = ROOT / tree / task.path
    assert path.is_file(), f"{task.path} missing from {tree}/"
    missing = set(task.names) - _top_level_names(path)
    assert not missing, f"{tree}/{task.path} does not define {sorted(missing)}"


@pytest.mark.parametrize("tid", sorted(TASKS))
def test_required_tasks_are_the_ones_imported(tid):
    """``requires`` lists exactly the other task folders the model answer imports."""
    task = TASKS[tid]
    tree = ast.parse((ROOT / "solutions" / task.path).read_text(encoding="utf-8"))
    folders = {t.folder: t.id for t in TASKS.values()}
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
        elif isinstance(node, ast.Import):
            top = node.names[0].name.split(".")[0]
        else:
            continue
        if top in folders:
            imported.add(folders[top])
    assert imported == set(task.requires)


def test_every_task_has_a_title_and_a_block_reason():
    """In English; the grader's feedback says them in the student's language from its
    message catalog (tests/test_grader_messages.py holds the two to the same English)."""
    for task in TASKS.values():
        assert isinstance(task.title, str) and task.title.strip()
        assert isinstance(task.block_reason, str) and task.id in task.block_reason
