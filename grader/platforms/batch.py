"""Grade a whole class: one sub-folder or .zip per student, in parallel, into a gradebook.

A row's status: ``graded``, ``missing`` (readable, but none of the graded tasks is in it),
``unreadable`` (not a zip or folder of the tasks, empty, too large), ``timeout``, ``error``
(no record) or ``grader-error``; ``stray_files`` lists files that belong to no task.

Copying is flagged, never penalized (grader.similarity): each record carries the overlaps of
the student's code with dlkit's own implementations and the model answers (from grading) and
with every other student's (added here), and ``<csv stem>-similarity.csv`` lists every pair of
students above the threshold with the overlapping lines.  The gradebook's ``flags`` column
counts a student's flags.

Each student is graded by a separate ``dlkit-grade`` process (its own sandboxed workers,
its own time limit), so one student's crash, hang or grader failure never loses another
student's grade: that row says what went wrong and the others are complete. Writes the CSV
gradebook (one row per student, one column per assignment) and each student's full record
as JSON in ``<csv stem>-records/<student>.json``.
"""

from __future__ import annotations

import concurrent.futures
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from grader import similarity
from grader.scoring import submission
from grader.scoring.runner import DEFAULT_BUDGETS

MARGIN = 120.0  # seconds per student on top of the assignment budgets (start-up, copying)


def students(folder: Path) -> list[tuple[str, Path]]:
    """(student id, path) for each sub-folder or .zip of ``folder``, sorted by id."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            found.append((path.name, path))
        elif path.suffix.lower() == ".zip" and path.is_file():
            found.append((path.stem, path))
    ids = [sid for sid, _ in found]
    dupes = sorted({sid for sid in ids if ids.count(sid) > 1})
    if dupes:
        raise ValueError(f"{folder}: students with both a folder and a zip: {dupes}")
    return found


def grade_one(sid: str, path: Path, record_path: Path, assignments: list[str],
              budget: float | None, checks_dir: Path | None) -> dict:
    """Grade one student in a child ``dlkit-grade`` process; returns the gradebook row."""
    cmd = [sys.executable, "-m", "grader", str(path), "--format", "json", "--out",
           str(record_path), "--assignment", ",".join(assignments)]
    if budget:
        cmd += ["--budget", str(budget)]
    if checks_dir:
        cmd += ["--checks-dir", str(checks_dir)]
    limit = sum(budget or DEFAULT_BUDGETS[a] for a in assignments) + MARGIN
    row: dict[str, object] = {"student": sid, "status": "graded", "note": ""}
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {**row, "status": "timeout", "note": f"not finished within {limit:g} s"}
    err_text = err.decode("utf-8", "replace").strip()
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {**row, "status": "error",
                "note": f"exit status {proc.returncode}: {err_text[-300:]}"}
    for a in record["assignments"]:
        row[a["id"]] = a["score"]
    row["flags"] = len(record.get("similarity", []))
    row.update(total=record["score"], max_score=record["max_score"],
               isolation=record["isolation"], status=record.get("status", "graded"),
               stray_files=" ".join(record.get("stray_files", [])))
    if proc.returncode != 0:
        row.update(status="grader-error", note=err_text[-300:])
    elif record.get("error"):
        row["note"] = record["error"][:300]
    return row


def grade_all(folder: Path, out_csv: Path, *, jobs: int = 1, assignments: list[str],
              budget: float | None = None, checks_dir: Path | None = None) -> list[dict]:
    """Grade every student of ``folder`` with ``jobs`` in parallel; write the gradebook."""
    records = out_csv.with_name(out_csv.stem + "-records")
    records.mkdir(parents=True, exist_ok=True)
    todo = students(folder)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_one, sid, path, records / f"{sid}.json", assignments,
                               budget, checks_dir) for sid, path in todo]
        rows = [f.result() for f in futures]
    peers = similarity_table(todo, assignments, out_csv.with_name(out_csv.stem +
                                                                  "-similarity.csv"))
    for row in rows:
        mine = peers.get(row["student"], [])
        if mine and _add_flags(records / f"{row['student']}.json", mine):
            row["flags"] = row.get("flags", 0) + len(mine)
    columns = ["student", *assignments, "total", "max_score", "status", "isolation", "note",
               "flags", "stray_files"]
    tmp = out_csv.with_name(out_csv.name + ".part")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out_csv)
    return rows


SIMILARITY_COLUMNS = ["task", "student", "other", "file", "other_file", "similarity",
                      "similarity_other", "lines", "lines_other", "overlap"]


def similarity_table(todo: list[tuple[str, Path]], assignments: list[str],
                     out: Path) -> dict[str, list[dict]]:
    """Compare every pair of students task by task (grader.similarity.pairs); write the pairs
    above the threshold to ``out`` (CSV) and return each student's flags (``with`` the other
    student's file)."""
    with tempfile.TemporaryDirectory(prefix="dlkit-similarity-") as tmp:
        roots = {}
        for sid, path in todo:
            try:
                roots[sid] = submission.prepare(path, Path(tmp) / sid)
            except submission.SubmissionError:
                continue  # unreadable: nothing to compare (its row says why)
        found = []
        for aid in assignments:
            try:
                found += similarity.pairs(roots, aid)
            except Exception as exc:  # noqa: BLE001 - the grades stand without the table
                print(f"dlkit-grade batch: similarity of {aid} not compared: "
                      f"{type(exc).__name__}: {exc}", file=sys.stderr)
    tmp_csv = out.with_name(out.name + ".part")
    with open(tmp_csv, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=SIMILARITY_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for pair in found:
            writer.writerow({**pair, "lines": _ranges(pair["lines"]),
                             "lines_other": _ranges(pair["lines_other"])})
    tmp_csv.replace(out)
    flags: dict[str, list[dict]] = {}
    for pair in found:
        flags.setdefault(pair["student"], []).append(
            {"task": pair["task"], "file": pair["file"],
             "with": f"student {pair['other']}: {pair['other_file']}",
             **{k: pair[k] for k in ("similarity", "similarity_other", "lines",
                                     "lines_other", "overlap")}})
        flags.setdefault(pair["other"], []).append(
            {"task": pair["task"], "file": pair["other_file"],
             "with": f"student {pair['student']}: {pair['file']}",
             "similarity": pair["similarity_other"], "similarity_other": pair["similarity"],
             "lines": pair["lines_other"], "lines_other": pair["lines"],
             "overlap": pair["overlap_other"]})
    return flags


def _ranges(ranges) -> str:
    return " ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def _add_flags(record_path: Path, flags: list[dict]) -> bool:
    """Append ``flags`` to a student's record (atomically); False if there is no record."""
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    record.setdefault("similarity", []).extend(flags)
    tmp = record_path.with_name(record_path.name + ".part")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(record_path)
    return True
