"""Text from student code made safe to print: no terminal control characters.

What a student's code prints, the messages of its exceptions, its file names and its
source lines reach the TA's terminal (the text report, ``dlkit-grade batch``'s log), the
gradebook and the records.  A control sequence there could clear the TA's screen and
paint a forged "Total", or move the cursor over a real line.  :func:`printable` replaces
every control character but newline and tab by a visible escape (``ESC`` becomes the four
characters ``\\x1b``), and so does it with the Unicode controls that reorder how a line is
shown (bidirectional overrides and isolates).  A lone carriage return is escaped too (it
returns to the start of a line, to overwrite it); a Windows line end becomes ``\\n``.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls; the bidirectional formatting
# characters (embeddings, overrides, isolates, marks).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                      "\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with its control characters escaped (see the module docstring)."""
    return _CONTROL.sub(_escape, text.replace("\r\n", "\n"))


def printable_tree(value):
    """A copy of ``value`` (dicts, lists, tuples, strings, numbers) with every string,
    keys included, made :func:`printable`."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_tree(k): printable_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(printable_tree(v) for v in value)
    return value
