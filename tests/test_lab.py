"""dlkit.lab, the notebooks' helpers, in this process: finding the student's folder, importing
their module afresh on every cell, and showing (not raising) what their code raises."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dlkit import lab
from dlkit.lab import compare, locate, student
from dlkit.tasks import TASKS


@pytest.fixture
def handout(tmp_path, monkeypatch):
    """An a1 task folder holding a tiny module; the notebook's working folder is the task's."""
    folder = tmp_path / "assignments" / TASKS["a1"].folder
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(locate, "_state", {})
    module = folder / TASKS["a1"].module
    module.write_text("")
    lab.setup("a1")
    yield module
    for name in [n for n in sys.modules if n.startswith(TASKS["a1"].folder)]:
        del sys.modules[name]


def test_each_cell_imports_the_edited_file(handout, capsys):
    handout.write_text("def init_weight():\n    return 1\n")
    assert locate.handout_root("a1") == handout.parent.parent
    assert str(handout.parent.parent) == sys.path[0]
    with lab.task("a1") as a1:
        first = a1.init_weight()
    handout.write_text("def init_weight():\n    return 1 + 22\n")  # a new size: a new .pyc
    with lab.task("a1") as a1:
        second = a1.init_weight()
    assert (first, second) == (1, 23)
    capsys.readouterr()
    lab.setup("a1")
    assert capsys.readouterr().out.startswith(f"Your code: {handout}\nEdit it, save, and run")


def test_a_todo_is_shown_and_the_rest_of_the_block_skipped(handout, capsys):
    handout.write_text("def init_weight():\n"
                       "    raise NotImplementedError('TODO (task 1): init_weight')\n")
    capsys.readouterr()
    reached = []
    with lab.task("a1") as a1:
        a1.init_weight()
        reached.append(True)
    assert reached == []
    out = capsys.readouterr().out
    assert "[a1] TODO (task 1): init_weight is not written yet: fill it in " \
           "(a1_initialization/initializers.py, line 2, in init_weight)" in out


def test_a_bug_is_shown_with_the_line_of_the_students_file(handout, capsys):
    handout.write_text("import numpy as np\n\ndef init_weight(n):\n"
                       "    return np.zeros(n).reshape(3, 3)\n")
    capsys.readouterr()
    with lab.task("a1") as a1:
        a1.init_weight(4)
    out = capsys.readouterr().out
    assert out.startswith("[a1] ValueError: cannot reshape array of size 4")
    assert "at a1_initialization/initializers.py, line 4, in init_weight: " \
           "return np.zeros(n).reshape(3, 3)" in out


def test_a_module_that_does_not_import_fails_inside_the_block(handout, capsys):
    handout.write_text("def init_weight(:\n")
    capsys.readouterr()
    with lab.task("a1") as a1:
        assert isinstance(a1, student.Unavailable)
        a1.init_weight()
    assert capsys.readouterr().out.startswith("[a1] SyntaxError: ")


def test_interrupting_a_cell_is_not_swallowed(handout):
    handout.write_text("def init_weight():\n    raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt), lab.task("a1") as a1:
        a1.init_weight()


def test_setup_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="a1_initialization/initializers.py not found"):
        lab.setup("a1")
    with pytest.raises(ValueError, match="expected one of a1, a2, a3, a4, got 'a5'"):
        lab.setup("a5")


def test_expected_range_and_table():
    lo, hi = compare.expected_range([0.10, 0.12])
    assert lo == pytest.approx(0.10 - 0.05 * 0.12 - 1e-3)
    assert hi == pytest.approx(0.12 + 0.05 * 0.12 + 1e-3)

    class Reference:  # the shape of activation_histograms' Result that the table reads
        data = {"configs": {"c": {"activation": "relu", "mean": np.array([[0, 0.5]]),
                                  "std": np.array([[0, 0.2]]), "zero": np.array([[0, 0.5]]),
                                  "saturated": np.array([[0, 0.5]])}}}

    table = compare.spread_table(
        {"c": [{"mean": 0.5, "std": 0.9, "zero": 0.5, "saturated": 0.0}]}, Reference)
    lines = table.splitlines()[1:]
    assert [line.split()[1] for line in lines] == ["mean", "std", "zero"]
    assert [line.split()[-1] for line in lines] == ["ok", "OUTSIDE", "ok"]


def test_training_curves_cut_off_a_diverged_run():
    fig = lab.training_curves({(1.0, True): [2.3, 2.0, 1.5],
                               (1.0, False): [2.3, 1e30, np.nan],
                               (0.1, True): [2.3, 2.2, 2.1]})
    assert [ax.get_title() for ax in fig.axes] == ["weight scale 1", "weight scale 0.1"]
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["with BatchNorm", "without (diverged)"]
    assert np.nanmax(fig.axes[0].get_lines()[1].get_ydata()) == 2.3
