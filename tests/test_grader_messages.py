"""The message catalog (grader/messages/<lang>.toml) and the thresholds file
(grader/checks/thresholds.toml): complete, consistent, used, and a language added by one file.

- Japanese has every English key (the list of those missing is the failure message), no key
  English lacks, and no field English does not fill;
- every key the grader's code says exists in English, and every English key is said somewhere;
- a third language is one more file: what it translates is shown in it, the rest in English,
  and ``missing`` lists the rest, down to a report rendered in it;
- every threshold has a value, what it is and its calibration, and is read by its checks.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from grader.checks import helpers
from grader.report import render
from grader.scoring import catalog

REPO = Path(__file__).resolve().parents[1]
GRADER = REPO / "grader"
CHECKS = GRADER / "checks"


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
