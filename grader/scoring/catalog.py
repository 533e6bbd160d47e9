"""Messages in a catalog per language: ``grader/messages/<lang>.toml``, one file each.

Every text the grader shows a student is a key of ``en.toml`` (the catalog every other
language falls back to): the hidden checks', the runner's (grader.scoring.messages, plugin),
the intake's (preflight, locate, submission), the task titles and the report's words;
``ja.toml`` holds the same keys in Japanese.  A language is added by translating ``en.toml``
into ``<lang>.toml``: a key it lacks is shown in English, and
``python -m grader.scoring.catalog LANG`` lists those keys (``tests/test_grader_messages.py``
requires none missing from ``ja.toml``).  docs/authors/writing-checks.md says which texts
are not in the catalog, and why.

A catalog is TOML: tables name a task and a check (``[a2.test_backward_dx]``), or what a
message is shared by (``[a2.common]``, ``[runner]``); each string is a template for
:meth:`str.format` with named fields (``{acc:.1%}``).  A check writes
``feedback.fail(say("a1.test_init_zeros.not_zero", n_in=20, ...))``: :func:`say` gives the
message in every language of the catalog at once (a :class:`Text`), and the record keeps them
all, so the report can be rendered in any of them later.

A field's value may itself differ by language: a :class:`Text` (another message) or a
function of the language (``lambda lang: describe(value, lang)``).
"""

from __future__ import annotations

import functools
import string
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

CATALOG_DIR = Path(__file__).resolve().parents[1] / "messages"
FALLBACK = "en"


def languages() -> list[str]:
    """The catalog's languages: English first, then every other ``<lang>.toml``."""
    others = sorted(p.stem for p in CATALOG_DIR.glob("*.toml") if p.stem != FALLBACK)
    return [FALLBACK, *others]


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, str):
            flat[name] = value
        else:
            raise ValueError(f"{name}: expected a string or a table, got {type(value).__name__}")
    return flat


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """The messages of ``lang`` (only those its file has), key -> template."""
    path = CATALOG_DIR / f"{lang}.toml"
    if not path.is_file():
        raise ValueError(f"language {lang!r}: expected one of {languages()} "
                         f"(a catalog {path.name} in {CATALOG_DIR})")
    return _flatten(tomllib.loads(path.read_text(encoding="utf-8")))


def missing(lang: str) -> list[str]:
    """The keys of the English catalog that ``lang`` lacks (shown in English)."""
    return sorted(set(catalog(FALLBACK)) - set(catalog(lang)))


def unknown(lang: str) -> list[str]:
    """The keys of ``lang`` that English does not have (a typo: never shown)."""
    return sorted(set(catalog(lang)) - set(catalog(FALLBACK)))


def fields(template: str) -> set[str]:
    """The named fields of a template (``{acc:.1%}`` -> ``acc``)."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(
        template) if name}


class Text(dict):
    """One message in every language of the catalog: ``{lang: text}``."""

    def __str__(self) -> str:
        return self.get(FALLBACK, "")

    def __add__(self, other: Any) -> Text:
        return Text({lang: self[lang] + _in(other, lang) for lang in self})

    @property
    def en(self) -> str:
        return self.get("en", "")

    @property
    def ja(self) -> str:
        return self.get("ja", self.en)


def _in(value: Any, lang: str) -> Any:
    """A field's value in ``lang``."""
    if isinstance(value, Text):
        return value.get(lang, value.en)
    if callable(value):
        return value(lang)
    return value


def template(key: str, lang: str) -> str:
    """The template of ``key`` in ``lang``, English where ``lang`` has none."""
    found = catalog(lang).get(key)
    if found is None:
        found = catalog(FALLBACK).get(key)
    if found is None:
        raise KeyError(f"message {key!r} is not in {FALLBACK}.toml ({CATALOG_DIR})")
    return found


def say(key: str, /, **values: Any) -> Text:
    """The message ``key`` in every language, its fields filled in."""
    return Text({lang: template(key, lang).format(**{k: _in(v, lang) for k, v in values.items()})
                 for lang in languages()})


def plain(text: str) -> Text:
    """A text that is the same in every language (code, a number, a file name)."""
    return Text(dict.fromkeys(languages(), text))


def by_language(**texts: str) -> Text:
    """A text given per language (``en=``, ``ja=``), the others falling back to English."""
    return Text({lang: texts.get(lang, texts[FALLBACK]) for lang in languages()})


def join(parts: list[Text], separator_key: str = "common.list_separator", *,
         separator: str | None = None) -> Text:
    """Messages joined with the catalog's separator ``separator_key`` of each language (a
    list's by default), or with ``separator``, the same in every language (a line break)."""
    return Text({lang: (template(separator_key, lang) if separator is None else separator).join(
        _in(p, lang) for p in parts) for lang in languages()})


def main(argv: list[str]) -> int:
    """``python -m grader.scoring.catalog LANG``: the keys LANG lacks and the unknown ones."""
    for lang in argv or languages()[1:]:
        for key in missing(lang):
            print(f"{lang}: missing {key}")
        for key in unknown(lang):
            print(f"{lang}: unknown {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
