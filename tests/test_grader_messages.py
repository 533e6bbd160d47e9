"""The message catalog (grader/messages/<lang>.toml) and the thresholds file
(grader/checks/thresholds.toml): complete, consistent, used, and a language added by one file.

- Japanese has every English key (the list of those missing is the failure message), no key
  English lacks, and no field English does not fill;
- every key the grader's code says exists in English, and every English key is said somewhere;
- a third language is one more file: what it translates is shown in it, the rest in English,
  and ``missing`` lists the rest, down to a report rendered in it; translated in full, a
  submission graded for real (a missing file, a syntax error, a file found elsewhere, files
  not graded) and a zip that cannot be read are reported with no English from the grader;
- the runner's English texts that code says and the catalog translates (why a worker died,
  why an import is blocked, the task titles) are the catalog's English exactly;
- every threshold has a value, what it is and its calibration, and is read by its checks.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import string
import types
import zipfile
from pathlib import Path

import pytest
from test_grader_japanese import english_words

from dlkit.tasks import TASKS
from grader.checks import helpers
from grader.ipc.channel import Channel
from grader.platforms import gradebook
from grader.platforms.classroom50 import result as c50
from grader.report import render
from grader.sandbox import quota
from grader.sandbox.handle import StudentError, StudentTimeout, WorkerDied
from grader.sandbox.policy import block_reason
from grader.scoring import catalog, messages, runner, submission

REPO = Path(__file__).resolve().parents[1]
GRADER = REPO / "grader"
CHECKS = GRADER / "checks"
FAKE_CHECKS = REPO / "tests" / "grader_cases" / "fake_checks"


def test_japanese_has_every_key():
    assert catalog.missing("ja") == [], "keys missing from ja.toml (shown in English)"


def test_japanese_has_no_key_english_lacks():
    assert catalog.unknown("ja") == []


def test_every_translation_fills_only_the_fields_english_fills():
    en = catalog.catalog("en")
    for lang in catalog.languages()[1:]:
        for key, text in catalog.catalog(lang).items():
            assert catalog.fields(text) <= catalog.fields(en[key]), (lang, key)


def _said_in_code() -> tuple[set[str], set[str]]:
    """(literal keys, prefixes of keys built with an f-string) said anywhere in grader/."""
    literal, prefixes = set(), set()
    for path in GRADER.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        literal |= set(re.findall(r'(?:say|template)\(\s*"([a-z0-9_.\-]+)"', source))
        prefixes |= set(re.findall(r'(?:say|template)\(\s*f"([a-z0-9_.\-]+)\{', source))
    return literal, prefixes


def test_every_key_said_in_the_code_exists_and_every_key_is_said():
    literal, prefixes = _said_in_code()
    en = set(catalog.catalog("en"))
    assert literal - en == set(), "keys said in the code but not in en.toml"
    sources = "".join(p.read_text(encoding="utf-8") for p in GRADER.rglob("*.py"))
    unused = {key for key in en if key not in literal and f'"{key}"' not in sources
              and not any(key.startswith(p) for p in prefixes)}
    assert unused == set(), "keys of en.toml no code says"


@pytest.fixture
def third_language(tmp_path, monkeypatch):
    """The catalog folder copied, with xx.toml translating two keys (as a translator's first
    commit would)."""
    folder = tmp_path / "messages"
    folder.mkdir()
    for path in catalog.CATALOG_DIR.glob("*.toml"):
        shutil.copy(path, folder / path.name)
    (folder / "xx.toml").write_text('[report]\ntotal = "XX-TOTAL"\n\n[common]\n'
                                    'not_scored = "XX {main} / {why}"\n', encoding="utf-8")
    monkeypatch.setattr(catalog, "CATALOG_DIR", folder)
    catalog.catalog.cache_clear()
    yield "xx"
    catalog.catalog.cache_clear()


def test_a_third_language_is_one_file_and_falls_back_to_english(third_language):
    assert catalog.languages() == ["en", "ja", "xx"]
    message = catalog.say("common.not_scored", main=catalog.say("a3.common.main_learns"),
                          why=catalog.plain("0.1"))
    assert message["xx"] == "XX learning with BatchNorm (weight_scale=0.0464) / 0.1"
    assert message["ja"].startswith("採点対象外")
    missing = catalog.missing("xx")
    assert "report.total" not in missing and "a2.test_speed.numbers" in missing
    assert len(missing) == len(catalog.catalog("en")) - 2


def test_a_report_renders_in_the_third_language(third_language):
    record = {"submission": "s", "isolation": "namespaces", "score": 1.0, "max_score": 2.0,
              "assignments": [{"id": "a1", "title": "Weight initialization", "score": 1.0,
                               "max_score": 2.0, "status": "graded", "checks": [
                                   {"name": "test_x", "score": 0.0, "max_score": 1.0,
                                    "outcome": "failed",
                                    "message": dict(catalog.say("common.not_scored",
                                                                main="m", why="w")),
                                    "output": ""}]}]}
    text = render(record, "text", "xx")
    assert "XX-TOTAL" in text and "XX m / w" in text
    assert "isolation" in text  # a word xx does not translate: English


def test_every_command_offers_the_third_language(third_language):
    """--lang of a single grading and of the gradebook's feedback (batch, merge) take xx."""
    import argparse

    from grader import cli

    assert cli._grade_parser().parse_args(["sub.zip", "--lang", "xx"]).lang == "xx"
    gradebook_options = argparse.ArgumentParser()
    cli._add_gradebook_options(gradebook_options)
    assert gradebook_options.parse_args(["--lang", "xx"]).lang == "xx"


def test_the_missing_keys_are_listed_for_the_runner_and_the_intake_too(third_language, capsys):
    """``python -m grader.scoring.catalog xx`` names every key xx lacks: the runner's, the
    intake's, the titles' as well as the checks'."""
    assert catalog.main(["xx"]) == 0
    listed = {line.removeprefix("xx: missing ") for line in capsys.readouterr().out.splitlines()}
    assert listed == set(catalog.missing("xx"))
    for key in ("runner.not_run.missing", "runner.died.signal.SIGSEGV", "preflight.missing_file",
                "preflight.syntax_error", "locate.elsewhere", "locate.stray",
                "submission.not_a_zip", "tasks.a1.title", "report.checks_passed",
                "a2.test_speed.numbers"):
        assert key in listed, key


# ------------------------------------------------------------------ a language in full


def _in_full(template: str) -> str:
    """A mechanical translation: a mark and the template's fields, nothing else of it."""
    fields = [f"{{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}"
              for _, name, spec, conv in string.Formatter().parse(template) if name]
    return " ".join(["ⓧ", *fields])


@pytest.fixture
def complete_language(tmp_path, monkeypatch):
    """The catalog folder copied, with xx.toml translating every key of en.toml."""
    folder = tmp_path / "messages"
    folder.mkdir()
    for path in catalog.CATALOG_DIR.glob("*.toml"):
        shutil.copy(path, folder / path.name)
    lines = [f"{key} = {json.dumps(_in_full(text), ensure_ascii=False)}"
             for key, text in catalog.catalog("en").items()]
    (folder / "xx.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(catalog, "CATALOG_DIR", folder)
    catalog.catalog.cache_clear()
    assert catalog.missing("xx") == []
    yield "xx"
    catalog.catalog.cache_clear()


def _english(text: str, theirs: tuple[str, ...] = ()) -> list[str]:
    """The English words of ``text`` once what is not the grader's (the student's own words,
    Python's messages) is taken out."""
    for s in theirs:
        text = text.replace(s, " ")
    return english_words(text)


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_a_language_in_full_shows_no_english_of_the_grader(complete_language, tmp_path):
    """A submission graded for real (in-process runner, the fake checks): a1's folder holds
    notebooks but not initializers.py; a2's batchnorm.py is in a folder of its own, twice,
    with a syntax error; a3 needs that a2; a4 is missing, a file named like it and a note
    are not graded.  Every report of it in xx, and of a zip that cannot be read, has no
    English but what the student wrote and what Python said."""
    archive = _zip(tmp_path / "upload.zip", {
        "a1_initialization/initializers.ipynb": "{}",
        "my work/batchnorm.py": "class BatchNormalization:\n    def forward(self, x:\n",
        "old/batchnorm.py": "x = 1\n",
        "a3_training/train.py": "from a2_batchnorm.batchnorm import BatchNormalization\n",
        "kernels_v2.py": "y = 2\n", "notes.txt": "my notes"})
    record = runner.grade(archive, options=runner.Options(checks_dir=FAKE_CHECKS))
    by_id = {a["id"]: a for a in record["assignments"]}
    assert [by_id[t]["status"] for t in TASKS] == ["not-loaded", "not-loaded", "not-loaded",
                                                   "missing"]
    assert by_id["a2"]["found"]["path"] == "my work/batchnorm.py"
    assert "Expected the file a1_initialization/initializers.py" in by_id["a1"]["problem"]["en"]
    assert "a2_batchnorm/batchnorm.py, line 2: SyntaxError" in by_id["a2"]["problem"]["en"]
    assert "Also found old/batchnorm.py" in by_id["a2"]["found"]["message"]["en"]
    assert "a3 uses your a2 code" in by_id["a3"]["problem"]["en"]
    assert "kernels_v2.py (if this is your a4, name it kernels.py)" in record["notes"][0]["en"]
    python = ("'(' was never closed", "def forward(self, x:")
    reports = {"text": render(record, "text", "xx"), "junit": render(record, "junit", "xx"),
               "gradescope": _gradescope_shown(record),
               "release": c50.release_body(record, {"score": 0, "max-score": 1}, "xx"),
               "feedback": gradebook.feedback_markdown(record, "xx")}
    for name, text in reports.items():
        assert "ⓧ" in text and _english(text, python) == [], (name, _english(text, python))
    assert _english(render(record, "text", "en"), python)  # the detector sees English

    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\\x03\\x04 this is not a zip")
    with pytest.raises(submission.SubmissionError) as err:
        submission.unpack(bad, tmp_path / "bad")
    unreadable = runner.unreadable(bad, ["a1", "a2"], err.value.text,
                                   runner.Options(checks_dir=FAKE_CHECKS))
    zipfile_says = str(err.value).split("(", 1)[1].rsplit(")", 1)[0]  # zipfile's words
    for text in (render(unreadable, "text", "xx"), render(unreadable, "junit", "xx"),
                 _gradescope_shown(unreadable)):
        assert "ⓧ" in text and _english(text, (zipfile_says,)) == [], text


def _gradescope_shown(record: dict) -> str:
    """What Gradescope shows the student of its results.json (not ``extra_data``)."""
    result = json.loads(render(record, "gradescope", "xx"))
    return "\n".join([result["output"], *(t["output"] for t in result["tests"])])


def test_the_runners_texts_in_a_language_in_full(complete_language):
    """What the checks process says of the student's code (an exception, a block, a time
    limit, a dead worker, a module that does not load, a speed check's timed calls) and of
    checks not run: nothing in English but the student's own words."""
    theirs = ("boom", "name 'np' is not defined", "Traceback", "NameError: x")
    texts = [messages.not_run(reason, catalog.plain("bad.zip")) for reason in messages.NOT_RUN]
    texts += [messages.sandbox_error(StudentError("ValueError", "boom", "tb")),
              messages.sandbox_error(StudentError("MemoryError", "boom", "tb")),
              messages.sandbox_error(StudentTimeout(4.0, "train")),
              messages.timed_run_mismatch("out", 0.5, 1e-6),
              messages.timed_run_mismatch("out", float("inf"), 1e-6),
              messages.load_error("a2_batchnorm/batchnorm.py", StudentError(
                  "NameError", "name 'np' is not defined",
                  'Traceback (most recent call last):\n  File "a2_batchnorm/batchnorm.py", '
                  'line 3, in <module>\nNameError: x'))]
    texts += [messages.sandbox_error(StudentError(
        "ImportError", f"BLOCKED: dlkit.layers.BatchNormalization is not available here: "
        f"{block_reason(tid)}", kind="blocked")) for tid in [*TASKS, None]]
    texts += [messages.sandbox_error(WorkerDied(reason)) for reason in _died_reasons()]
    for text in texts:
        assert text["xx"].startswith("ⓧ") and not _english(text["xx"], theirs), text["xx"]


# ------------------------------------------------------------------ English said by code


def _died_reasons() -> list[str]:
    """Why a worker died, as the code says it: grader.ipc.channel's death_reason for each
    way a worker ends, and the reasons grader.sandbox.handle and grader.timing.paired give."""
    def channel(rc=None, overstep=None) -> str:
        state = types.SimpleNamespace(
            overstep=overstep, proc=types.SimpleNamespace(returncode=rc),
            limits=types.SimpleNamespace(cpu_seconds=30, file_mb=64),
            _wrapper_lost_a_signal=lambda: False)
        return Channel.death_reason(state, "init_weight")

    quota_text = "the disk quota (1 MiB): its files took 3 MiB"
    return [channel(), channel(3), channel(-signal.SIGXCPU), channel(-signal.SIGXFSZ),
            *(channel(-sig) for sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT,
                                        signal.SIGFPE, signal.SIGILL, signal.SIGKILL)),
            channel(overstep=quota_text),
            "this object was lost: the worker was restarted after an earlier failure "
            "(timeout, crash or exit)",
            "forward: the worker sent a malformed message (expected 'done')",
            "forward: the worker answered out of turn (an extra 'done': the timed rounds "
            "were not the grader's)",
            "train: your code called sys.exit(0)"]


def test_why_a_worker_died_is_the_catalogs_english_and_is_translated(tmp_path):
    """The catalog's English gives each reason back as the code said it, and Japanese has
    its own words for it; a reason no pattern knows stays as it is."""
    (tmp_path / "f").write_bytes(b"x" * 3 * 2**20)
    measured = quota.over_quota(str(tmp_path), [], 1)
    assert measured == "the disk quota (1 MiB): its files took 3 MiB"  # the reason above
    for reason in _died_reasons():
        text = messages.died(reason)
        assert text.en == reason and re.search("[ぁ-んァ-ン一-龥]", text.ja), (reason, text.ja)
    assert "SIGSEGV" in messages.died(_died_reasons()[4]).ja
    assert "セグメンテーション違反" in messages.died(_died_reasons()[4]).ja
    odd = "init_weight: something new"
    assert messages.died(odd) == catalog.plain(odd)


def test_the_task_titles_and_block_reasons_are_dlkits_own_english():
    """dlkit.tasks says them in English (``dlkit submit``, the worker's ImportError); the
    catalog says them to the student in every language, from the same English."""
    for tid, task in TASKS.items():
        assert catalog.template(f"tasks.{tid}.title", "en") == task.title
        assert catalog.template(f"tasks.{tid}.block_reason", "en") == task.block_reason
        assert catalog.template(f"tasks.{tid}.title", "ja") != task.title
    assert catalog.template("runner.blocked_anywhere", "en") == block_reason(None)
    blocked = messages.sandbox_error(StudentError(
        "ImportError", f"BLOCKED: dlkit.initializers is not available here: {block_reason('a1')}",
        kind="blocked"))
    assert blocked.en == (f"Not allowed: your code uses dlkit.initializers, which is not "
                          f"available here: {block_reason('a1')}. Checks that need it score 0.")
    assert catalog.template("tasks.a1.block_reason", "ja") in blocked.ja


def test_every_threshold_says_what_it_is_and_how_it_was_calibrated():
    for task in ("a1", "a2", "a3", "a4"):
        table = helpers._threshold_file(helpers.THRESHOLDS_FILE)[task]
        for name, entry in table.items():
            assert set(entry) == {"value", "what", "calibration"}, (task, name)
            assert entry["what"].strip() and entry["calibration"].strip(), (task, name)


@pytest.mark.parametrize("task", ["a1", "a2", "a3", "a4"])
def test_every_threshold_is_read_by_its_checks(task):
    source = (CHECKS / f"test_{task}.py").read_text(encoding="utf-8")
    assert f'thresholds("{task}")' in source
    unread = [name for name in helpers.thresholds(task) if f'"{name}"' not in source]
    assert unread == []
