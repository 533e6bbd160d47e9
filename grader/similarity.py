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

What is fingerprinted is bounded (fingerprinting costs seconds per MiB, and a tiny zip can
hold megabytes of one repeated line): files over MAX_FILE_BYTES, a task's files past
MAX_TASK_BYTES per submission, and whatever is left when the comparison's time (SECONDS) is
up are skipped, and each skip is listed for the TA (``skipped``: the record's
``similarity_skipped``, the batch's log), never silently.

Flags go into the grading record (``similarity``) and the batch's similarity table; they
never change a score.  Code written from the book's formulas resembles dlkit.reference,
which follows the book: a flag is a reason to look, not a finding.
"""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dlkit.submit.source import source_text
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
# Calibrated with ``python -m grader.calibrate.similarity`` (docs/instructors/similarity.md):
# correct answers written independently from the handout (tests/grader_cases/similarity/
# honest) against the model answers and dlkit, and copies of those disguised (names changed,
# code reordered, comments and docstrings dropped).  Code that follows the handout's
# formulas and structure shares short k-grams with the model answers, which follow them too:
# with copydetect's default of 25 characters such answers reached 0.74 - 0.76; from 40 they
# stay below 0.5, while disguised copies of whole files stay above 0.8.
NOISE = 40  # characters of filtered code per fingerprinted k-gram
WINDOW = 1  # winnowing window 1: every k-gram is a fingerprint
THRESHOLD = 0.6  # share of a file's fingerprinted code that overlaps one reference
SHOWN_LINES = 40  # overlapping lines kept per flag (the line ranges are always complete)
MAX_FILE_BYTES = 64 * 2**10   # a file larger than this is not fingerprinted
MAX_TASK_BYTES = 128 * 2**10  # nor the files of a task past this much, per submission
SECONDS = 60.0  # for one submission's flags; in a batch, per task, plus 1 s per student


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
    return source_text(path)


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


def task_files(root: Path, aid: str, skipped: list[dict] | None = None,
               owner: str = "") -> list[tuple[str, str]]:
    """(path inside the submission, text) of the Python files of task ``aid`` (not the
    handout's public tests), within MAX_FILE_BYTES each and MAX_TASK_BYTES in all; what is
    left out goes to ``skipped`` (``owner``: the student's id, in a batch)."""
    folder = root / TASKS[aid].folder
    files, total = [], 0
    for p in sorted(folder.rglob("*.py")):
        if p.name == "test_public.py" or not p.is_file():
            continue
        rel, size = str(p.relative_to(root)), p.stat().st_size
        why = (f"larger than {MAX_FILE_BYTES // 2**10} KiB ({size // 2**10} KiB)"
               if size > MAX_FILE_BYTES else
               f"past {MAX_TASK_BYTES // 2**10} KiB of the task's files"
               if total + size > MAX_TASK_BYTES else None)
        if why:
            _skip(skipped, aid, owner, rel, f"not compared: {why}")
            continue
        total += size
        files.append((rel, _read(p)))
    return files


def _skip(skipped: list[dict] | None, aid: str, owner: str, file: str, why: str) -> None:
    if skipped is not None:
        skipped.append({"task": aid, **({"student": owner} if owner else {}), "file": file,
                        "reason": why})


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def references(aid: str, boiler) -> list[Code]:
    refs = [fingerprint(f"dlkit/{rel}", _read(DLKIT / rel), boiler)
            for rel in REFERENCES[aid] if (DLKIT / rel).is_file()]
    answer = REPO / "solutions" / TASKS[aid].path
    if answer.is_file():
        refs.append(fingerprint(f"solutions/{TASKS[aid].path}", _read(answer), boiler))
    return refs


def reference_flags(root: Path, aid: str, threshold: float = THRESHOLD,
                    skipped: list[dict] | None = None,
                    deadline: float | None = None) -> list[dict]:
    """Flags for task ``aid`` of the submission at ``root`` against dlkit and the model
    answers: one per (file, reference) pair at or above ``threshold``.  Files not compared
    (too large, or the ``deadline``, on the monotonic clock, passed) go to ``skipped``."""
    boiler = stub(aid) or ()
    refs = references(aid, boiler)
    flags = []
    for rel, text in task_files(root, aid, skipped):
        if _late(deadline):
            _skip(skipped, aid, "", rel, "not compared: the comparison's time was up")
            continue
        mine = fingerprint(rel, text, boiler)
        for ref in refs:
            found = compare(mine, ref)
            if found["similarity"] >= threshold:
                flags.append({"task": aid, "file": rel, **found})
    return flags


def pairs(roots: dict[str, Path], aid: str, threshold: float = THRESHOLD,
          skipped: list[dict] | None = None, deadline: float | None = None) -> list[dict]:
    """Every pair of students whose files of task ``aid`` overlap by at least ``threshold``
    (on either side): ``roots`` maps student id -> submission root.  Files not compared
    (too large, or the ``deadline``, on the monotonic clock, passed) go to ``skipped``."""
    boiler = stub(aid) or ()
    codes: dict[str, list[Code]] = {}
    for sid, root in sorted(roots.items()):
        if not (root / TASKS[aid].folder).is_dir():
            continue
        codes[sid] = []
        for rel, text in task_files(root, aid, skipped, sid):
            if _late(deadline):
                _skip(skipped, aid, sid, rel, "not compared: the comparison's time was up")
            else:
                codes[sid].append(fingerprint(f"{sid}/{rel}", text, boiler))
    found = []
    for a, b in itertools.combinations(sorted(codes), 2):
        if _late(deadline):
            _skip(skipped, aid, a, "*", f"the pairs from ({a}, {b}) on were not compared: "
                  f"the comparison's time was up")
            break
        for mine, other in itertools.product(codes[a], codes[b]):
            c = compare(mine, other)
            if max(c["similarity"], c["similarity_other"]) >= threshold:
                found.append({"task": aid, "student": a, "other": b,
                              "file": mine.label.split("/", 1)[1],
                              "other_file": other.label.split("/", 1)[1], **c})
    return found
