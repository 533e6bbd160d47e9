"""The lab notebooks of the handout (assignments/aN_*/lab.ipynb, lab.ja.ipynb).

They run in a real Jupyter kernel (nbclient + ipykernel) in a copy of the handout, as a
student opens them: on the stubs (every cell completes and shows its TODO), on the model
answers (every cell shows its numbers and figures), and on broken code (the error is shown,
the notebook goes on; slips a gradient check or square weights would hide are shown too).
The English and Japanese notebooks share their code, only what it prints is translated (the
Japanese ones print Japanese); the stored notebooks carry no outputs.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

from dlkit.tasks import TASKS

pytestmark = pytest.mark.platform  # python -m pytest -m platform (CI runs it)

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS, SOLUTIONS = REPO / "assignments", REPO / "solutions"
LANGUAGES = {"en": "lab.ipynb", "ja": "lab.ja.ipynb"}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
NOT_WRITTEN = {"en": "is not written yet: fill it in", "ja": "はまだ書かれていません"}
NOTEBOOKS = [(tid, lang) for tid in TASKS for lang in LANGUAGES]
IGNORED = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", ".pytest_cache")


def stored(tid: str, lang: str) -> nbformat.NotebookNode:
    return nbformat.read(ASSIGNMENTS / TASKS[tid].folder / LANGUAGES[lang], as_version=4)


def code_cells(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def handout(dst: Path, answered=()) -> Path:
    shutil.copytree(ASSIGNMENTS, dst, ignore=IGNORED)
    for tid in answered:
        shutil.copy2(SOLUTIONS / TASKS[tid].path, dst / TASKS[tid].path)
    return dst


def execute(root: Path, tid: str, lang: str = "en") -> list[tuple[str, list[str], list]]:
    """Run one notebook of ``root`` in a fresh kernel, in its task folder, as Jupyter does.

    Returns per code cell: (source, its text outputs, its output nodes).  Fails the test if
    a cell raises out of the notebook (which would stop a student's "Run all").
    """
    path = root / TASKS[tid].folder / LANGUAGES[lang]
    nb = nbformat.read(path, as_version=4)
    # One BLAS thread: the notebooks multiply small matrices, which a thread pool on a
    # loaded 2-core machine makes slower, not faster.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: cell raised {errors[0].ename}: {errors[0].evalue}"
        text = [o.text for o in cell.outputs if o.output_type == "stream"]
        cells.append((cell.source, text, cell.outputs))
    return cells


def images(outputs) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs)


# ------------------------------------------------------------------- as stored


@pytest.mark.parametrize("tid, lang", NOTEBOOKS)
def test_stored_without_outputs(tid, lang):
    nb = stored(tid, lang)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


def without_text(source: str) -> str:
    """A code cell's program with every string it holds blanked out (what it prints aside,
    the same code), IPython's magics turned into Python first."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
        elif isinstance(node, ast.JoinedStr):
            node.values = [v for v in node.values if not isinstance(v, ast.Constant)]
    return ast.dump(tree)


@pytest.mark.parametrize("tid", TASKS)
def test_english_and_japanese_in_sync(tid):
    """The same code; only what it prints is translated, and the set-up cell tells dlkit's
    lab helpers the language."""
    en, ja = stored(tid, "en"), stored(tid, "ja")
    assert [without_text(c) for c in code_cells(en)] == [without_text(c) for c in code_cells(ja)]
    assert f'lab.setup("{tid}", COURSE_REPO, lang="en")' in code_cells(en)[0]
    assert f'lab.setup("{tid}", COURSE_REPO, lang="ja")' in code_cells(ja)[0]
    assert [c.cell_type for c in en.cells] == [c.cell_type for c in ja.cells]
    for cell in (c for c in ja.cells if c.cell_type == "markdown"):
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", cell.source), cell.source[:80]
    assert "(lab.ja.ipynb)" in en.cells[0].source and "(lab.ipynb)" in ja.cells[0].source


@pytest.mark.parametrize("tid", TASKS)
def test_first_cell_installs_what_is_missing(tid):
    first = code_cells(stored(tid, "en"))[0]
    assert re.search(r'^COURSE_REPO = "https://', first, re.M)
    assert '"pip", "install"' in first and 'find_spec("dlkit") is None' in first
    assert f'lab.setup("{tid}", COURSE_REPO, lang="en")' in first
    assert ("dlkit data fetch fashion-mnist" in first) == (tid == "a3")
    for source in code_cells(stored(tid, "en"))[1:]:
        if TASKS[tid].import_name.split(".")[0] in source or "lab.task(" in source:
            assert f'lab.task("{tid}")' in source


# ------------------------------------------------------------------- run


@pytest.fixture(scope="module")
def stubs(tmp_path_factory) -> Path:
    return handout(tmp_path_factory.mktemp("stubs") / "assignments")


@pytest.fixture(scope="module")
def answers(tmp_path_factory) -> Path:
    return handout(tmp_path_factory.mktemp("answers") / "assignments", answered=TASKS)


@pytest.mark.parametrize("tid, lang", NOTEBOOKS)
def test_on_the_stubs_every_cell_shows_its_todo(stubs, tid, lang, request):
    if tid == "a3":
        request.getfixturevalue("fashion_mnist_dir")
    cells = execute(stubs, tid, lang)
    number = list(TASKS).index(tid) + 1
    task_cells = [text for source, text, _ in cells if "lab.task(" in source]
    assert task_cells
    for text in task_cells:
        assert f"[{tid}] TODO (task {number}): " in "".join(text), text
        assert NOT_WRITTEN[lang] in "".join(text)


def test_a1_on_the_model_answer(answers):
    cells = execute(answers, "a1")
    text = ["".join(t) for _, t, _ in cells]
    assert "'he': shape (784, 100), dtype float64, std 0.050" in text[1]
    assert re.findall(r"\S+(?=$)", text[1], re.M) == ["ok"] * 5, text[1]
    assert images(cells[2][2]) == 1
    table = text[3].splitlines()
    assert len(table) == 1 + 7 * 4 - 3  # 7 configurations; ReLU's "saturated" not compared
    assert all(line.endswith(" ok") for line in table[1:]), text[3]
    assert "TODO" not in "".join(text)


def test_a1_shows_n_in_and_n_out_mixed_up(tmp_path):
    """σ from n_out instead of n_in: invisible on square weights, shown on 784 × 100."""
    root = handout(tmp_path / "assignments", answered=["a1"])
    module = root / TASKS["a1"].path
    source = module.read_text()
    wrong = source.replace("sigma = weight_std(n_in, scheme)", "sigma = weight_std(n_out, scheme)")
    assert wrong != source
    module.write_text(wrong)
    text = "".join(execute(root, "a1")[1][1])
    verdicts = dict(re.findall(r"^\s*'?(\S+?)'?: shape .*  (ok|DIFFERS)$", text, re.M))
    assert verdicts == {"zeros": "ok", "1.0": "ok", "0.01": "ok", "xavier": "DIFFERS",
                        "he": "DIFFERS"}, text


def test_a2_on_the_model_answer_and_on_a_wrong_backward(answers, tmp_path):
    cells = execute(answers, "a2")
    text = ["".join(t) for _, t, _ in cells]
    assert "std of each feature of out:  [0.99999" in text[1]
    assert re.findall(r"^d(x|gamma|beta) +relative error .* ok$", text[2], re.M) == [
        "x", "gamma", "beta"]
    assert re.findall(r"^(\w+) +vs the book's layer .* ok$", text[2], re.M) == [
        "out", "dx", "dgamma", "dbeta"]
    assert images(cells[3][2]) == 1

    broken = handout(tmp_path / "assignments", answered=["a2"])
    module = broken / TASKS["a2"].path
    source = module.read_text()
    wrong = source.replace("self.dgamma = np.sum(dout * self.xhat, axis=0)",
                           "self.dgamma = np.sum(dout, axis=0)")
    assert wrong != source
    module.write_text(wrong)
    text = ["".join(t) for _, t, _ in execute(broken, "a2")]
    assert re.search(r"^dgamma +relative error .* TOO LARGE", text[2], re.M), text[2]
    assert re.search(r"^dbeta +relative error .* ok$", text[2], re.M), text[2]


def test_a2_catches_eps_outside_the_square_root(tmp_path):
    """1/(√var + eps) with a backward to match: the gradient check passes it (the backward is
    right for that forward), the comparison with the book's layer does not."""
    root = handout(tmp_path / "assignments", answered=["a2"])
    module = root / TASKS["a2"].path
    source = module.read_text()
    wrong = source.replace("invstd = 1.0 / np.sqrt(var + self.eps)",
                           "invstd = 1.0 / (np.sqrt(var) + self.eps)")
    assert wrong != source
    module.write_text(wrong)
    text = "".join(execute(root, "a2")[2][1])
    assert re.findall(r"^d(x|gamma|beta) +relative error .* ok$", text, re.M) == [
        "x", "gamma", "beta"], text
    assert re.search(r"^out +vs the book's layer .* DIFFERS", text, re.M), text


def test_a3_on_the_model_answer(answers, fashion_mnist_dir):
    cells = execute(answers, "a3")
    text = ["".join(t) for _, t, _ in cells]
    runs = re.findall(r"^scale (\S+) +(with|without) +BatchNorm: test accuracy ([\d.]+)%",
                      text[1], re.M)
    assert len(runs) == 6, text[1]
    accuracy = {(float(s), w == "with"): float(a) / 100 for s, w, a in runs}
    assert accuracy[0.01, True] > accuracy[0.01, False] + 0.3  # the lesson, in small
    assert images(cells[1][2]) == 1


def test_a4_on_the_model_answer(answers):
    cells = execute(answers, "a4")
    text = ["".join(t) for _, t, _ in cells]
    diffs = [float(v) for v in re.findall(r"reference\|\s+(\S+)", text[1])]
    assert len(diffs) == 3 and max(diffs) < 1e-12, text[1]
    assert re.search(r"speed-up\s+[\d.]+x", text[2]), text[2]


def test_a_module_that_does_not_import_is_reported_in_every_cell(tmp_path):
    root = handout(tmp_path / "assignments", answered=["a1"])
    module = root / TASKS["a1"].path
    module.write_text(module.read_text() + "\ndef broken(:\n    pass\n")
    cells = execute(root, "a1")
    task_cells = ["".join(t) for source, t, _ in cells if "lab.task(" in source]
    assert len(task_cells) == 3
    for text in task_cells:
        assert text.startswith("[a1] SyntaxError: ") and "initializers.py" in text, text


@pytest.mark.parametrize("tid", TASKS)
def test_japanese_notebooks_on_the_model_answers(answers, tid, request):
    """The Japanese notebooks share the English code (test above); here they run through."""
    if tid == "a3":
        request.getfixturevalue("fashion_mnist_dir")
    cells = execute(answers, tid, "ja")
    text = "".join("".join(t) for _, t, _ in cells)
    assert f"[{tid}]" not in text, text  # no cell reported an error of the student's code
    assert sum(images(outputs) for _, _, outputs in cells) == {"a4": 0}.get(tid, 1)
    printed = ["".join(t) for _, t, _ in cells if "".join(t).strip()]
    assert printed and all(JAPANESE.search(t) for t in printed), printed


@pytest.mark.parametrize("tid", ["a1", "a2"])
def test_english_notebooks_print_no_japanese(answers, stubs, tid):
    for root in (answers, stubs):
        text = "".join("".join(t) for _, t, _ in execute(root, tid, "en"))
        assert text.strip() and not JAPANESE.search(text), text
