"""Japanese feedback is complete: no English left in what a student reads with --lang ja.

Three ways of finding an untranslated string:

- statically: the hidden checks (grader/checks/test_a*.py) say their texts by key of the
  message catalog, never inline, and every text of ja.toml, its fields taken out, has no
  English words;
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
from pathlib import Path

import pytest
import slip_cases

from grader.report import formats, render
from grader.sandbox.handle import StudentError, StudentTimeout, WorkerDied
from grader.scoring import messages, preflight, runner
from grader.scoring.catalog import by_language

REPO = Path(__file__).resolve().parents[1]
CHECKS = REPO / "grader" / "checks"
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


def _calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = (node.func.attr if isinstance(node.func, ast.Attribute)
                    else getattr(node.func, "id", ""))
            yield name, {kw.arg: kw.value for kw in node.keywords if kw.arg}, node


@pytest.mark.parametrize("aid", ["a1", "a2", "a3", "a4"])
def test_the_checks_say_their_texts_by_key(aid):
    """No inline English: fail/note/partial take a catalog message (say(...)), or the
    runner's messages passed on as they are (en=en, ja=ja)."""
    inline = []
    path = CHECKS / f"test_{aid}.py"
    for name, kw, node in _calls(path):
        where = f"{path.name}:{node.lineno} {name}"
        if name in ("fail", "note", "partial") and any(
                isinstance(kw.get(k), ast.Constant | ast.JoinedStr) for k in ("en", "ja")):
            inline.append(where)
        if {"hint_en", "hint_ja", "what_ja"} & set(kw):
            inline.append((where, "an en/ja pair of keywords"))
    assert not inline, inline


def test_every_japanese_text_of_the_catalog_is_japanese():
    from grader.scoring import catalog

    untranslated = []
    for key, text in catalog.catalog("ja").items():
        shown = re.sub(r"\{[^}]*\}", " ", text)
        if english_words(shown):
            untranslated.append((key, english_words(shown)))
    assert not untranslated, untranslated


# ------------------------------------------------------------------ static: the runner


def test_the_runners_own_texts_are_translated(tmp_path):
    unreadable = by_language(en="bad.zip: not a readable zip file",
                             ja="bad.zip: 読み込める zip ファイルではありません")
    texts = [messages.not_run(reason, unreadable)
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
    for en, ja in ((text.en, text.ja) for text in texts):
        assert JAPANESE.search(ja) and en != ja, (en, ja)
        student = {"boom", "name 'np' is not defined", "NameError: x", "def f(:"}
        shown = ja
        for s in student:
            shown = shown.replace(s, " ")
        assert not english_words(shown.split("Traceback")[0]), ja
    words = {lang: formats.words(lang) for lang in ("en", "ja")}
    assert set(words["en"]) == set(words["ja"])
    assert all(JAPANESE.search(words["ja"][k]) for k in words["ja"]), words["ja"]


# ------------------------------------------------------------------ for real


def _ja_texts(record: dict) -> list[str]:
    """Every student-visible text of a Japanese text report, without the student's output."""
    texts = []
    for a in record["assignments"]:
        texts.append(formats.task_title(a, "ja"))
        if a.get("problem"):
            texts.append(a["problem"]["ja"].split("Traceback")[0])
        texts.extend(c["message"]["ja"] for c in a["checks"])
    return texts


def _case(case: str, tmp_path: Path) -> Path:
    return slip_cases.submission(case, tmp_path / case)


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
