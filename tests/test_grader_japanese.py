"""Japanese feedback is complete: no English left in what a student reads with --lang ja.

Three ways of finding an untranslated string:

- statically, in the hidden checks (grader/checks/test_a*.py): every ``feedback.fail`` /
  ``partial`` / ``note`` has a Japanese text, every ``hint_en`` a ``hint_ja``, and every label
  (``what=``) that has English words in it a ``what_ja``;
- the runner's own texts (grader.scoring.messages, grader.scoring.preflight, the report's
  words) in both languages;
- for real: submissions graded by the real grader, the report rendered with ``--lang ja``,
  and every message of it (titles, checks, the task's load error) searched for English words.

English is recognised by its small words (the, with, after, expected, your, ...) once code is
taken out (identifiers, calls, paths, formulas); what the student's own code says (its
exception messages, tracebacks, output) is the student's and is left out.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from grader.report import formats, render
from grader.sandbox.handle import StudentError, StudentTimeout, WorkerDied
from grader.scoring import messages, preflight, runner

REPO = Path(__file__).resolve().parents[1]
CHECKS = REPO / "grader" / "checks"
BUGGY = REPO / "tests" / "grader_cases" / "buggy"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# code, paths and formulas: a token with one of these characters in it
CODE = re.compile(r"`[^`]*`|\S*[_()\[\]=.:/·×'\"{}<>|]\S*")
ENGLISH = re.compile(
    r"\b(the|and|with|after|before|expected|got|your|you|value|values|returned|against|"
    r"result|steps?|training|see|check|only|this|from|for|array|first|images?|points?|"
    r"accuracy|layer|when|must|not|is|are|of|to|on|by|its|was|were|scored|run|"
    r"which|does|has|have|gave|equal|written|passed)\b", re.IGNORECASE)


def english_words(text: str) -> list[str]:
    """The English words of ``text`` outside code."""
    return ENGLISH.findall(CODE.sub(" ", text))


def test_the_detector_finds_english_and_lets_code_pass():
    assert english_words("running_var after momentum=0.9, 5 training steps") == [
        "after", "training", "steps"]
    assert english_words("the value returned (out)") == ["the", "value", "returned"]
    assert english_words("forward(x, train_flg=True), x 16×10 float64: 相対誤差 1e-9 以下") == []
    assert english_words("dx = gamma·invstd/N · (N·dout − Σ dout − xhat · Σ(dout·xhat))") == []


# ------------------------------------------------------------------ static: the checks


def _literal(node) -> str:
    """The literal text of a str or f-string expression (placeholders left out)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_literal(v) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _literal(node.left) + _literal(node.right)
    if isinstance(node, ast.Tuple | ast.List):
        return " ".join(_literal(e) for e in node.elts)
    return ""


# every check is scanned (a name here would be left out of the scan)
NOT_SCANNED: set[str] = set()


def _has_placeholder(node) -> bool:
    return any(isinstance(n, ast.FormattedValue | ast.Name | ast.Call) for n in ast.walk(node))


def _calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for f in tree.body if isinstance(f, ast.FunctionDef)
               and f.name in NOT_SCANNED for n in ast.walk(f)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and id(node) not in skipped:
            name = (node.func.attr if isinstance(node.func, ast.Attribute)
                    else getattr(node.func, "id", ""))
            yield name, {kw.arg: kw.value for kw in node.keywords if kw.arg}, node


@pytest.mark.parametrize("aid", ["a1", "a2", "a3", "a4"])
def test_every_text_of_the_checks_has_its_japanese(aid):
    untranslated = []
    path = CHECKS / f"test_{aid}.py"
    for name, kw, node in _calls(path):
        where = f"{path.name}:{node.lineno} {name}"
        if name in ("fail", "note", "partial") and "en" in kw:
            ja = _literal(kw["ja"]) if "ja" in kw else ""
            translated = "ja" in kw and (JAPANESE.search(ja) or _has_placeholder(kw["ja"]))
            if not translated or english_words(ja):
                untranslated.append((where, _literal(kw["en"])[:60], english_words(ja)))
        if "hint_en" in kw and "hint_ja" not in kw:
            untranslated.append((where, "hint_en without hint_ja"))
        if "what" in kw and "what_ja" not in kw and english_words(_literal(kw["what"])):
            untranslated.append((where, _literal(kw["what"]), "what without what_ja"))
        if "what_ja" in kw and english_words(_literal(kw["what_ja"])):
            untranslated.append((where, _literal(kw["what_ja"])))
    assert not untranslated, untranslated


# ------------------------------------------------------------------ static: the runner


def test_the_runners_own_texts_are_translated(tmp_path):
    texts = [messages.not_run(reason, "bad.zip: not a readable zip file",
                              "bad.zip: 読み込める zip ファイルではありません")
             for reason in ("budget", "missing", "grader", "no-result", "tampered", "unreadable",
                            "see-above")]
    texts += [messages.sandbox_error(StudentError("ValueError", "boom", "tb")),
              messages.sandbox_error(StudentTimeout(4.0, "train")),
              messages.sandbox_error(WorkerDied(
                  "init_weight: the worker was killed by SIGSEGV: a segmentation fault (crash "
                  "in native code)")),
              messages.sandbox_error(WorkerDied(
                  "init_weight: the worker exited with status 3 (os._exit() or a crash while "
                  "running your code)")),
              messages.sandbox_error(WorkerDied("train: your code called sys.exit(0)")),
              messages.load_error("a2_batchnorm/batchnorm.py", StudentError(
                  "NameError", "name 'np' is not defined",
                  'Traceback (most recent call last):\n  File "a2_batchnorm/batchnorm.py", '
                  'line 3, in <module>\nNameError: x'))]
    root = tmp_path / "sub"
    (root / "a3_training").mkdir(parents=True)
    (root / "a3_training" / "train.py").write_text("x = 1\n")
    texts.append(preflight.problem(root, "a3"))  # a3 without a2
    (root / "a2_batchnorm").mkdir()
    (root / "a2_batchnorm" / "batchnorm.ipynb").write_text("{}")
    texts.append(preflight.problem(root, "a2"))  # a notebook instead of the module
    (root / "a2_batchnorm" / "batchnorm.py").write_text("def f(:\n")
    texts.append(preflight.problem(root, "a2"))  # a syntax error
    texts.append(preflight.problem(root, "a3"))  # a3's a2 has it
    for en, ja in texts:
        assert JAPANESE.search(ja) and en != ja, (en, ja)
        student = {"boom", "name 'np' is not defined", "NameError: x", "def f(:"}
        shown = ja
        for s in student:
            shown = shown.replace(s, " ")
        assert not english_words(shown.split("Traceback")[0]), ja
    words = formats._WORDS
    assert set(words["en"]) == set(words["ja"])
    assert all(JAPANESE.search(words["ja"][k]) for k in words["ja"]), words["ja"]


# ------------------------------------------------------------------ for real


def _ja_texts(record: dict) -> list[str]:
    """Every student-visible text of a Japanese text report, without the student's output."""
    texts = []
    for a in record["assignments"]:
        texts.append(formats._title(a, "ja"))
        if a.get("problem"):
            texts.append(a["problem"]["ja"].split("Traceback")[0])
        texts.extend(c["message"]["ja"] for c in a["checks"])
    return texts


def _case(case: str, tmp_path: Path) -> Path:
    folder = tmp_path / case
    shutil.copytree(BUGGY / case, folder)
    if case.startswith("a3"):
        shutil.copytree(REPO / "solutions" / "a2_batchnorm", folder / "a2_batchnorm")
    return folder


@pytest.mark.parametrize("case", [
    "a1_does_nothing", "a2_unbiased_variance",
    pytest.param("a2_does_nothing", marks=pytest.mark.slow),
    pytest.param("a1_sigmoid_sign_wrong", marks=pytest.mark.slow),
    pytest.param("a3_does_nothing", marks=pytest.mark.slow),
    pytest.param("a3_predict_returns_labels", marks=pytest.mark.slow),
    pytest.param("a4_does_nothing", marks=pytest.mark.slow),
    pytest.param("a4_missing_return", marks=pytest.mark.slow),
])
def test_a_graded_report_in_japanese_has_no_english(case, tmp_path):
    record = runner.grade(_case(case, tmp_path), [case[:2]])
    report = render(record, "text", "ja")
    assert "合計" in report
    untranslated = [(t[:120], english_words(t)) for t in _ja_texts(record) if english_words(t)]
    assert not untranslated, untranslated
