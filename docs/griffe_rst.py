"""A Griffe extension that lets the API reference render dlkit's reStructuredText habits.

dlkit's docstrings are written to be read in the source, next to the book: NumPy-style
sections, ``double backticks`` (already a Markdown code span), and a few reStructuredText
constructs that Markdown would garble. Before mkdocstrings renders a docstring this turns

- a role such as :func:`dlkit.buffers.take` (or :mod:`~dlkit.layers`) into a code span;
- a paragraph ending in ``::`` (a literal block follows) into one ending in ``:``;
- a simple table (rows between ``=====  =====`` borders) into a fenced text block,
  its literals unquoted,

and leaves everything else as written.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|attr|data|obj|exc|const):`([^`]+)`")
_BORDER = re.compile(r"^\s*=+(?:\s+=+)+\s*$")


def _role(match: re.Match[str]) -> str:
    target = match.group(1)
    titled = re.fullmatch(r"(.+?)\s*<(.+)>", target)
    if titled:
        return f"`{titled.group(1)}`"
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


def _tables(lines: list[str]) -> list[str]:
    """Fence each simple table: from its first border to the border before a blank line.
    Inside it, each pair of backticks becomes two spaces, which keeps the columns aligned."""
    out: list[str] = []
    inside, indent = False, ""
    for i, line in enumerate(lines):
        if not _BORDER.match(line):
            out.append(line.replace("``", "  ") if inside else line)
            continue
        if not inside:
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```text")
            inside = True
        out.append(line)
        if i + 1 == len(lines) or not lines[i + 1].strip():
            out.append(f"{indent}```")
            inside = False
    return out


def rewrite(text: str) -> str:
    """The docstring ``text`` with the constructs above made Markdown."""
    text = _ROLE.sub(_role, text)
    lines = []
    for line in text.splitlines():
        if line.strip() == "::":
            line = ""
        elif line.rstrip().endswith("::") and not line.rstrip().endswith(":::"):
            line = line.rstrip()[:-1]
        lines.append(line)
    return "\n".join(_tables(lines))


class RestructuredTextRoles(Extension):
    """Rewrites each docstring as it is loaded (see the module docstring)."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
