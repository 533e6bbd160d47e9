"""Report formats of a grading record (see grader.scoring.runner.grade): text, json,
gradescope (with ``visibility``: when students see what), junit.
``render(record, fmt, lang) -> str``."""

from __future__ import annotations

from grader.report.formats import FORMATS, render

__all__ = ["FORMATS", "render"]
