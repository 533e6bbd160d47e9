"""Copying flagged for the TA, never penalized: how much of a submission overlaps other code.

dlkit gives students working answers on purpose (``dlkit.kernels``, ``dlkit.reference``,
``dlkit.initializers`` have the assignments' signatures), and the model answers and other
students' work are within reach too.  A score cannot see a copy; this module lets a TA see
one.  Each graded task's files are compared with

- dlkit's own implementations of the same functions (``REFERENCES``),
- the model answers (``solutions/<task>/``, where the grader has them: not in the Gradescope
  bundle), and
- in ``dlkit-grade batch``, every other student's files for the same task (``pairs``),

with copydetect's winnowing fingerprints (Schleimer et al., "Winnowing", 2003): the code is
tokenized with Pygments, names become V/F/O and strings S, comments and layout are dropped,
and every NOISE-character k-gram of what is left is hashed.  The handout's stub of the task
is boilerplate: its fingerprints are removed first, so starter code (signatures, docstrings
the student kept) never counts as overlap.  A pair is flagged when the overlap covers at
least THRESHOLD of the submission's fingerprinted code, with the overlapping line ranges on
both sides and the lines themselves.

Flags go into the grading record (``similarity``) and the batch's similarity table; they
never change a score.  Code written from the book's formulas resembles dlkit.reference,
which follows the book: a flag is a reason to look, not a finding.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dlkit.tasks import TASKS
from grader import REPO_DIR

REPO = REPO_DIR
DLKIT = REPO / "dlkit"
# dlkit's own code with the same functions as each task (paths inside the dlkit package)
REFERENCES = {
    "a1": ("initializers.py", "experiments/histograms.py"),
    "a2": ("reference/layers.py", "layers.py"),
    "a3": ("network.py", "experiments/training.py"),
    "a4": ("kernels/batchnorm.py",),
}
NOISE = 25  # characters of filtered code per fingerprinted k-gram (copydetect's default)
WINDOW = 1  # winnowing window: guarantee = NOISE + WINDOW − 1 = 25 (copydetect's default)
# Measured with these settings (share of the first file's fingerprinted code that overlaps):
# the book-style a2 layers of tests/grader_cases/buggy against dlkit.reference 0.80 (the
# reference is the book's code), the model answers against dlkit 0.19 – 0.51, two different
# students' a4 kernels written from the same handout 0.22 – 0.53; a file copied unchanged 1.0.
THRESHOLD = 0.6
SHOWN_LINES = 40  # overlapping lines kept per flag (the line ranges are always complete)


class Fingerprint(Protocol):
    """What the grader reads of a ``copydetect.CodeFingerprint`` (copydetect ships no types)."""

    hashes: Iterable[int]


@dataclass(frozen=True)
class Code:
    """One file's fingerprints: ``label`` names it in the flags (e.g. "dlkit/kernels/...")."""

    label: str
    text: str
    fingerprint: Fingerprint  # a copydetect.CodeFingerprint


def fingerprint(label: str, text: str, boilerplate=()) -> Code:
    """Fingerprints of Python ``text`` without those of ``boilerplate`` (a Code or hashes)."""
    from copydetect import CodeFingerprint

    hashes = boilerplate.fingerprint.hashes if isinstance(boilerplate, Code) else boilerplate
    fp = CodeFingerprint(label, NOISE, WINDOW, boilerplate=list(hashes), language="python",
                         fp=io.StringIO(text))
    return Code(label, text, fp)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def stub(aid: str) -> Code | None:
    """The handout's stub of task ``aid`` (starter code), None if the grader has no copy."""
    path = REPO / "assignments" / TASKS[aid].path
    return fingerprint(f"assignments/{TASKS[aid].path}", _read(path)) if path.is_file() else None


def _ranges(text: str, slices) -> list[tuple[int, int]]:
    """1-based (first, last) line ranges of the character slices (starts, ends) of ``text``."""
    ranges: list[tuple[int, int]] = []
    for start, end in zip(*slices, strict=True):
        first = text.count("\n", 0, int(start)) + 1
        last = text.count("\n", 0, max(int(end) - 1, int(start))) + 1
        if ranges and first <= ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], max(last, ranges[-1][1]))
        else:
            ranges.append((first, last))
    return ranges


def _lines(text: str, ranges: list[tuple[int, int]]) -> str:
    lines = text.splitlines()
    shown = [f"{n:4d}  {lines[n - 1]}" for first, last in ranges
             for n in range(first, last + 1) if n <= len(lines)]
    more = len(shown) - SHOWN_LINES
    return "\n".join(shown[:SHOWN_LINES] + ([f"      … {more} more lines"] if more > 0 else []))


def compare(mine: Code, other: Code) -> dict:
    """How much of ``mine`` overlaps ``other``: similarity on both sides, line ranges, lines."""
    from copydetect import compare_files

    _, (sim_mine, sim_other), (slices_mine, slices_other) = compare_files(
        mine.fingerprint, other.fingerprint)
    mine_ranges = _ranges(mine.text, slices_mine) if sim_mine else []
    other_ranges = _ranges(other.text, slices_other) if sim_other else []
    return {"with": other.label, "similarity": round(float(sim_mine), 3),
            "similarity_other": round(float(sim_other), 3), "lines": mine_ranges,
            "lines_other": other_ranges, "overlap": _lines(mine.text, mine_ranges),
            "overlap_other": _lines(other.text, other_ranges)}


def task_files(root: Path, aid: str) -> list[tuple[str, str]]:
    """(path inside the submission, text) of the Python files of task ``aid`` (not the
    handout's public tests)."""
    folder = root / TASKS[aid].folder
    return [(str(p.relative_to(root)), _read(p)) for p in sorted(folder.rglob("*.py"))
            if p.name != "test_public.py" and p.is_file()]


def _references(aid: str, boiler) -> list[Code]:
    refs = [fingerprint(f"dlkit/{rel}", _read(DLKIT / rel), boiler)
            for rel in REFERENCES[aid] if (DLKIT / rel).is_file()]
    answer = REPO / "solutions" / TASKS[aid].path
    if answer.is_file():
        refs.append(fingerprint(f"solutions/{TASKS[aid].path}", _read(answer), boiler))
    return refs


def reference_flags(root: Path, aid: str, threshold: float = THRESHOLD) -> list[dict]:
    """Flags for task ``aid`` of the submission at ``root`` against dlkit and the model
    answers: one per (file, reference) pair at or above ``threshold``."""
    boiler = stub(aid) or ()
    refs = _references(aid, boiler)
    flags = []
    for rel, text in task_files(root, aid):
        mine = fingerprint(rel, text, boiler)
        for ref in refs:
            found = compare(mine, ref)
            if found["similarity"] >= threshold:
                flags.append({"task": aid, "file": rel, **found})
    return flags


def pairs(roots: dict[str, Path], aid: str, threshold: float = THRESHOLD) -> list[dict]:
    """Every pair of students whose files of task ``aid`` overlap by at least ``threshold``
    (on either side): ``roots`` maps student id -> submission root."""
    boiler = stub(aid) or ()
    codes = {sid: [fingerprint(f"{sid}/{rel}", text, boiler)
                   for rel, text in task_files(root, aid)]
             for sid, root in sorted(roots.items()) if (root / TASKS[aid].folder).is_dir()}
    found = []
    for a, b in itertools.combinations(sorted(codes), 2):
        for mine, other in itertools.product(codes[a], codes[b]):
            c = compare(mine, other)
            if max(c["similarity"], c["similarity_other"]) >= threshold:
                found.append({"task": aid, "student": a, "other": b,
                              "file": mine.label.split("/", 1)[1],
                              "other_file": other.label.split("/", 1)[1], **c})
    return found
