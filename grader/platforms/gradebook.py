"""The gradebook of a class, the forms Canvas and Moodle import, and feedback files.

Everything here is computed from the students' grading records (``dlkit-grade batch``'s
``<gradebook>-records/<student>.json``, each with its ``gradebook`` entry: the student's id,
the batch's status and note), so that a class graded in one batch and the same class graded
in shards and merged give the same files, byte for byte.

**Roster.** The LMS's own roster export (Canvas's gradebook export, a Moodle grade export or
participants list, any CSV with a header row): ``read_roster(path, key)`` reads it and
``match`` pairs each submission with the roster row whose ``key`` column has the
submission's name (the folder's or the zip's name without ``.zip``). Names are compared
after Unicode NFC normalisation, trimming and case folding (``Alice@Uni.edu`` is
``alice@uni.edu``; a zip made on macOS spells accents in NFD). Canvas's extra rows
("Points Possible", "Muted"/"Manual Posting") and blank lines are not students.

**Gradebook rows.** One per student: with a roster, the roster's rows in its order (students
without a submission get a row with no grade, status ``no-submission``), then the
submissions that match nobody (listed, never dropped, noted "not on the roster").

**Canvas** (``canvas``): the columns Canvas's gradebook import reads, as Canvas's importer
(``app/models/gradebook_importer.rb``) parses them: ``Student, ID, SIS User ID, SIS Login
ID, Section``, then one column per graded task, a ``Points Possible`` row giving each
task's maximum, and one row per roster row. Canvas finds the student by ``ID`` (its user
id), then the SIS ids, then the name, so the roster must be Canvas's own gradebook export.
A blank grade leaves Canvas's grade as it is.

**Moodle** (``moodle``): Moodle's CSV grade import maps one column to a user field
(username, ID number, email address) and each other column to a grade item or to an
existing item's feedback (``grade/import/csv/classes/load_data.php``). The file has the
roster's ``key`` column (the values exactly as the roster spells them), one grade column
and one feedback column per task. Moodle aborts the whole import at a row whose user it
cannot find and clears a grade given as ``-`` or blank, so only students with a submission
and a grade for every task are in it; the others are returned to be listed.

**Feedback** (``feedback_markdown``): what the student would see: the text report of
``dlkit-grade`` for their record (the submission named by its file name, not the TA's
path), in one language or both, in a Markdown file; never the similarity flags or the
instructor's notes, which the text report does not show.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from dlkit.tasks import TASKS
from grader.ipc.printable import printable_tree
from grader.report import render
from grader.report.formats import task_text
from grader.scoring.catalog import template

EXPORTS = ("canvas", "moodle")
# Row statuses: graded, missing, unreadable (from the record); timeout, error, grader-error
# (the batch's); no-submission (a roster row nobody handed in for)
FINAL = ("graded", "missing", "unreadable")  # the grade is the student's, ready to return
NO_SUBMISSION = "no-submission"
BASE_COLUMNS = ["total", "max_score", "status", "isolation", "note", "flags", "stray_files"]
# Canvas's identity columns, in the order its importer expects them (the gradebook export's)
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_REQUIRED = ("Student", "ID", "Section")
_CANVAS_MUTED = re.compile(r"\s*(Muted|Manual Posting.*)?\s*", re.IGNORECASE)


class GradebookError(ValueError):
    """Bad input for the gradebook (roster, records, options): what was expected, what was
    given.  Raised before any grading starts and before anything is written."""


@dataclass(frozen=True)
class RosterRow:
    line: int  # 1-based line of the roster file, for messages
    key: str  # the key column's value, trimmed
    fields: dict[str, str]


@dataclass(frozen=True)
class Roster:
    path: Path
    key: str
    columns: list[str]
    rows: list[RosterRow] = field(default_factory=list)


def normalize(name: str) -> str:
    """The form in which a submission's name and a roster key are compared."""
    return unicodedata.normalize("NFC", name).strip().casefold()


def _delimiter(header: str) -> str:
    """The roster's separator: Canvas writes ';' where the decimal mark is ',', Moodle lets
    the user pick; a one-column header has none."""
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def read_roster(path: Path, key: str) -> Roster:
    """The roster at ``path`` with ``key`` as the column that names the submissions."""
    where = f"--roster {path}"
    try:
        text = path.read_text(encoding="utf-8-sig")  # Canvas may start with a BOM
    except FileNotFoundError:
        raise GradebookError(f"{where}: no such file") from None
    except UnicodeDecodeError as exc:
        raise GradebookError(f"{where}: expected a UTF-8 CSV file (as Canvas and Moodle "
                             f"export it), got a byte that is not UTF-8 at offset "
                             f"{exc.start}") from None
    except OSError as exc:
        raise GradebookError(f"{where}: cannot be read: {exc.strerror}") from None
    if not text.strip():
        raise GradebookError(f"{where}: the file is empty: expected a header row with a "
                             f"column {key!r}, then one row per student")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text.splitlines()[0]))
    columns = [c.strip() for c in next(reader)]
    if key not in columns:
        raise GradebookError(f"{where}: expected a column {key!r} (--key), got the columns "
                             f"{', '.join(repr(c) for c in columns)}")
    if columns.count(key) > 1:
        raise GradebookError(f"{where}: the column {key!r} appears {columns.count(key)} "
                             f"times in the header: expected it once")
    rows = []
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # a blank line
        if cells[0].strip() == "Points Possible" or all(_CANVAS_MUTED.fullmatch(c)
                                                         for c in cells):
            continue  # Canvas's rows about the assignments, not students
        values = dict(zip(columns, [*cells, *[""] * (len(columns) - len(cells))],
                          strict=False))
        rows.append(RosterRow(line, values[key].strip(), values))
    if not rows:
        raise GradebookError(f"{where}: no students: expected one row per student under the "
                             f"header")
    seen: dict[str, list[RosterRow]] = {}
    for row in rows:
        if row.key:
            seen.setdefault(normalize(row.key), []).append(row)
    dupes = [rs for rs in seen.values() if len(rs) > 1]
    if dupes:
        listed = "; ".join(f"{rs[0].key!r} on lines " + ", ".join(str(r.line) for r in rs)
                           for rs in dupes)
        raise GradebookError(f"{where}: expected each {key!r} once, got duplicates: {listed}")
    return Roster(path, key, columns, rows)


def check_export(roster: Roster | None, export: str | None) -> None:
    """Raise if ``export`` cannot be written from ``roster``."""
    if export is None:
        return
    if export not in EXPORTS:
        raise GradebookError(f"--export: expected one of {', '.join(EXPORTS)}, got {export!r}")
    if roster is None:
        raise GradebookError(f"--export {export}: expected --roster ROSTER.csv --key COLUMN "
                             f"(the LMS's own roster export: the {export} file names its "
                             f"students as the LMS does)")
    if export == "canvas":
        missing = [c for c in CANVAS_REQUIRED if c not in roster.columns]
        if missing:
            raise GradebookError(
                f"--export canvas: expected the roster to be Canvas's gradebook export (columns "
                f"{', '.join(CANVAS_IDENTITY)}); {roster.path} has no column "
                f"{', '.join(repr(c) for c in missing)}")


def match(roster: Roster, names: list[str]) -> tuple[dict[int, str], list[str]]:
    """({roster row index: submission name}, the submissions that match no roster row)."""
    index = {normalize(r.key): i for i, r in enumerate(roster.rows) if r.key}
    matched: dict[int, str] = {}
    unmatched = []
    for name in names:
        i = index.get(normalize(name))
        if i is None:
            unmatched.append(name)
        elif i in matched:
            raise GradebookError(
                f"--roster {roster.path}: the submissions {matched[i]!r} and {name!r} both "
                f"match {roster.key} {roster.rows[i].key!r} (line {roster.rows[i].line}): "
                f"expected one submission per student")
        else:
            matched[i] = name
    return matched, unmatched


def item(aid: str) -> str:
    """A task's column title in the LMS files (the title the text report gives it)."""
    return f"{aid} {TASKS[aid].title}"


def _num(x: float) -> str:
    return f"{x:g}"


def row(record: dict) -> dict:
    """The gradebook row of one student's record."""
    book = record["gradebook"]
    out: dict[str, object] = {"student": book["student"], "status": book["status"],
                              "note": book["note"]}
    if book["status"] in ("timeout", "error"):
        return out  # no record of a finished grading: nothing to show
    for a in record["assignments"]:
        out[a["id"]] = a["score"]
    out.update(total=record["score"], max_score=record["max_score"],
               isolation=record["isolation"], flags=len(record.get("similarity", [])),
               stray_files=" ".join(record.get("stray_files", [])))
    return out


def grade(record: dict, aid: str) -> float | None:
    """The grade of task ``aid`` to give the LMS; None where the grader, not the student,
    decided nothing (a timeout of the whole run, a grader error, grading stopped)."""
    if record["gradebook"]["status"] in ("timeout", "error"):
        return None
    task = next((a for a in record["assignments"] if a["id"] == aid), None)
    if task is None or task["status"] in ("grader", "stopped"):
        return None
    return float(task["score"])


def table(records: dict[str, dict], names: list[str], assignments: list[str],
          roster: Roster | None) -> tuple[list[str], list[dict]]:
    """(columns, rows) of the gradebook of the students ``names`` (each with a record)."""
    if roster is None:
        return (["student", *assignments, *BASE_COLUMNS],
                [row(records[name]) for name in names])
    matched, unmatched = match(roster, names)
    rows = []
    for i, r in enumerate(roster.rows):
        if i in matched:
            rows.append({**row(records[matched[i]]), "student": r.key,
                         "submission": matched[i]})
        else:
            rows.append({"student": r.key, "submission": "", "status": NO_SUBMISSION,
                         "note": "" if r.key else f"roster line {r.line} has no {roster.key}"})
    for name in unmatched:
        mine = row(records[name])
        note = f"not on the roster ({roster.key})"
        rows.append({**mine, "submission": name,
                     "note": f"{note}; {mine['note']}" if mine["note"] else note})
    return ["student", "submission", *assignments, *BASE_COLUMNS], rows


def csv_text(columns: list[str], rows: list[dict]) -> str:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(printable_tree(rows))  # names and notes may come from student files
    return buf.getvalue()


def canvas(roster: Roster, records: dict[str, dict], names: list[str],
           assignments: list[str], max_points: dict[str, float]) -> str:
    """The CSV Canvas's gradebook import reads (see the module docstring): every roster row,
    a blank grade where there is none (Canvas then keeps what it has)."""
    matched, _ = match(roster, names)
    buf = io.StringIO(newline="")
    out = csv.writer(buf)
    out.writerow([*CANVAS_IDENTITY, *(item(a) for a in assignments)])
    out.writerow(["Points Possible", *[""] * (len(CANVAS_IDENTITY) - 1),
                  *(_num(max_points[a]) for a in assignments)])
    for i, r in enumerate(roster.rows):
        record = records[matched[i]] if i in matched else None
        grades = [grade(record, a) if record else None for a in assignments]
        out.writerow([*(r.fields.get(c, "") for c in CANVAS_IDENTITY),
                      *("" if g is None else _num(g) for g in grades)])
    return buf.getvalue()


def _feedback_text(record: dict, aid: str, lang: str) -> str:
    langs = ("en", "ja") if lang == "both" else (lang,)
    return "\n".join(task_text(record, aid, x) for x in langs).rstrip("\n")


def moodle(roster: Roster, records: dict[str, dict], names: list[str],
           assignments: list[str], lang: str) -> tuple[str, list[str]]:
    """(the CSV Moodle's grade import reads, the roster rows left out and why): see the
    module docstring."""
    matched, _ = match(roster, names)
    buf = io.StringIO(newline="")
    out = csv.writer(buf)
    out.writerow([roster.key, *(item(a) for a in assignments),
                  *(f"{item(a)} feedback" for a in assignments)])
    left_out = []
    for i, r in enumerate(roster.rows):
        who = r.key or f"roster line {r.line}"
        if not r.key:
            left_out.append(f"{who}: no {roster.key}")
            continue
        if i not in matched:
            left_out.append(f"{who}: no submission")
            continue
        record = records[matched[i]]
        grades = [grade(record, a) for a in assignments]
        if any(g is None for g in grades):
            left_out.append(f"{who}: not graded ({record['gradebook']['status']}): regrade "
                            f"with --only {matched[i]}")
            continue
        out.writerow([r.key, *(_num(g) for g in grades if g is not None),
                      *(_feedback_text(record, a, lang) for a in assignments)])
    return buf.getvalue(), left_out


def _fence(text: str) -> str:
    """A Markdown code fence longer than any run of backticks in ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def feedback_markdown(record: dict, lang: str) -> str:
    """The student's feedback file (see the module docstring)."""
    name = Path(record["submission"]).name
    shown = {**record, "submission": name}
    parts = []
    for x in ("en", "ja") if lang == "both" else (lang,):
        body = render(shown, "text", x)
        fence = _fence(body)
        heading = template("report.feedback_heading", x).format(name=name)
        parts.append(f"# {heading}\n\n{fence}text\n{body}{fence}\n")
    return "\n".join(parts)
