"""Render a grading record as a text table, JSON, Gradescope results.json or JUnit XML.

The record is the dict returned by :func:`grader.scoring.runner.grade`; every check has
``name, score, max_score, outcome, message{en,ja}, output, duration``.
"""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ET

from grader.ipc.printable import printable_tree
from grader.report.visibility import Visibility
from grader.scoring import catalog

FORMATS = ("text", "json", "gradescope", "junit")
OUTPUT_SHOWN = 1500

# The report's own words, in the message catalog (grader/messages, [report]).
_WORD_KEYS = ("total", "isolation", "output", "missing", "budget", "grader", "graded",
              "unreadable", "tampered", "stopped", "check", "points", "not-loaded",
              "unreadable_line")


def words(lang: str) -> dict[str, str]:
    """The report's words in ``lang`` (English where the catalog of ``lang`` lacks one)."""
    return {key: catalog.template(f"report.{key}", lang) for key in _WORD_KEYS}


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Text without the characters XML 1.0 cannot hold (student output may have them)."""
    return _NOT_XML.sub("\ufffd", text)


def _num(x: float) -> str:
    return f"{x:g}"


def message_text(msg: dict | None, lang: str) -> str:
    msg = msg or {}
    return msg.get(lang) or msg.get("en") or ""


def _message(check: dict, lang: str) -> str:
    return message_text(check.get("message"), lang)


def task_title(assignment: dict, lang: str) -> str:
    """The task's title in ``lang`` (the catalog's ``tasks.<id>.title``), else the record's."""
    try:
        return catalog.template(f"tasks.{assignment['id']}.title", lang)
    except KeyError:  # a task the catalog does not know
        return assignment["title"]


def found_lines(assignment: dict, lang: str) -> list[str]:
    """Where the task's file was found, when not where the handout puts it (indented under
    the task's line); empty otherwise."""
    found = assignment.get("found")
    if not found:
        return []
    return textwrap.wrap(message_text(found["message"], lang), width=88, initial_indent="    ",
                         subsequent_indent="    ", break_long_words=False,
                         break_on_hyphens=False)


def notes_lines(record: dict, lang: str) -> list[str]:
    """The record's notes for the student (the files that were not graded), each followed by
    an empty line."""
    lines: list[str] = []
    for note in record.get("notes", []):
        lines += [*message_text(note, lang).splitlines(), ""]
    return lines


def check_feedback(check: dict, lang: str) -> str:
    parts = [_message(check, lang)]
    if check.get("output"):
        out = check["output"][-OUTPUT_SHOWN:]
        heading = catalog.template("report.output_heading", lang).format(
            output=words(lang)["output"])
        parts.append(f"{heading}\n{out}")
    return "\n".join(p for p in parts if p)


def text(record: dict, lang: str = "en") -> str:
    w = words(lang)
    lines = [f"dlkit-grade: {record['submission']}   ({w['isolation']}: {record['isolation']})",
             ""]
    if record.get("status") == "unreadable":  # one line: nothing else to say
        why = message_text(record.get("error_message"), lang) or record.get("error", "")
        lines[-1:] = [f"{w['unreadable_line']}: {why}", ""]
        lines.append(f"{w['total']}: {_num(record['score'])} / {_num(record['max_score'])}")
        return "\n".join(lines) + "\n"
    lines += notes_lines(record, lang)
    for a in record["assignments"]:
        lines += _task_lines(a, lang) + [""]
    lines.append(f"{w['total']}: {_num(record['score'])} / {_num(record['max_score'])}")
    return "\n".join(lines) + "\n"


def _task_lines(a: dict, lang: str) -> list[str]:
    """One assignment's part of the text report: its score line, then each check."""
    w = words(lang)
    status = "" if a["status"] == "graded" else f"  [{w[a['status']]}]"
    lines = [f"{a['id']} {task_title(a, lang)}: {_num(a['score'])} / {_num(a['max_score'])}"
             f"{status}"]
    if a["status"] == "missing":
        return lines
    lines += found_lines(a, lang)
    if a.get("problem"):
        lines.extend(textwrap.indent(message_text(a["problem"], lang).rstrip(),
                                     "    ").splitlines())
    width = max([len(c["name"]) for c in a["checks"]] + [10])
    for c in a["checks"]:
        mark = "PASS" if c["outcome"] == "passed" and c["score"] >= c["max_score"] else (
            "PART" if c["score"] > 0 else "FAIL")
        lines.append(f"  {mark}  {c['name']:<{width}}  {_num(c['score']):>5} / "
                     f"{_num(c['max_score'])}")
        fb = check_feedback(c, lang) if mark != "PASS" or _message(c, lang) else ""
        if fb:
            lines.extend(textwrap.indent(fb.rstrip(), "        ").splitlines())
    return lines


def task_text(record: dict, aid: str, lang: str = "en") -> str:
    """What the text report says of assignment ``aid`` alone (its lines of :func:`text`),
    e.g. for an LMS's feedback field; a submission that cannot be read has its one line."""
    if record.get("status") == "unreadable":
        why = message_text(record.get("error_message"), lang) or record.get("error", "")
        return f"{words(lang)['unreadable_line']}: {why}\n"
    task = next(a for a in record["assignments"] if a["id"] == aid)
    return "\n".join(_task_lines(task, lang)) + "\n"


def gradescope(record: dict, lang: str = "en", visibility: Visibility | None = None) -> str:
    """Gradescope's results.json, as its autograder specification defines it.

    Top level: ``score``, ``execution_time`` (s), ``output`` + ``output_format`` (a summary
    per assignment, shown to the student), ``stdout_visibility`` (hidden: the grader's own
    output is for the instructor), ``extra_data`` (stored, never shown to students: the
    isolation used and what it does not protect, per-assignment status and time), ``tests``.
    Per check: ``name``, ``number`` ("2.3": assignment 2, third check), ``score``,
    ``max_score``, ``status``, ``output`` + ``output_format``, ``visibility``, ``tags``.

    ``visibility`` (points.toml's [gradescope] table) sets each check's ``visibility`` and
    the top level's, which is when the student sees the total; while the total is not
    ``visible``, the summary in ``output`` names each task's status but not its points.
    """
    w = words(lang)
    visibility = visibility or Visibility()
    points_shown = visibility.score == "visible"
    tests, summary = [], []
    if record.get("status") == "unreadable":  # one line, and no check to list
        why = message_text(record.get("error_message"), lang) or record.get("error", "")
        summary.append(f"{w['unreadable_line']}: {why}")
    else:
        summary += notes_lines(record, lang)
    for a in record["assignments"] if record.get("status") != "unreadable" else []:
        status = "" if a["status"] == "graded" else f"  [{w[a['status']]}]"
        points = f"{_num(a['score'])} / {_num(a['max_score'])}" if points_shown else w["graded"]
        summary.append(f"{a['id']} {task_title(a, lang)}: {points}{status}")
        summary += found_lines(a, lang)
        if a.get("problem"):
            summary.extend(textwrap.indent(message_text(a["problem"], lang).rstrip(),
                                           "    ").splitlines())
        for j, c in enumerate(a["checks"], 1):
            tests.append({
                "name": f"{a['id']} {c['name']}", "number": f"{a['id'][1:]}.{j}",
                "score": c["score"], "max_score": c["max_score"],
                "status": "passed" if _full(c) else "failed",
                "output": check_feedback(c, lang), "output_format": "text",
                "visibility": visibility.of(a["id"], c["name"]),
                "tags": [a["id"], a["folder"]]})
    if points_shown:
        summary.append(f"{w['total']}: {_num(record['score'])} / {_num(record['max_score'])}")
    result = {"score": record["score"], "execution_time": round(record["seconds"]),
              "output": "\n".join(summary), "output_format": "text",
              "visibility": visibility.score,
              "stdout_visibility": "hidden", "extra_data": instructor_notes(record),
              "tests": tests}
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


def instructor_notes(record: dict) -> dict:
    """What the instructor needs and the student must not see: the isolation used and
    what it does not protect, the copying flags, each assignment's status and time, the
    grader's warnings."""
    return {"isolation": record.get("isolation"), **record.get("instructor", {}),
            "error": record.get("error", ""),
            # copying flags (grader.similarity): for the TA, never in a student's feedback
            "similarity": [{k: flag[k] for k in ("task", "file", "with", "similarity",
                                                 "similarity_other", "lines", "lines_other")
                            if k in flag} for flag in record.get("similarity", [])],
            "assignments": [{"id": a["id"], "status": a["status"], "seconds": a["seconds"],
                             "budget": a.get("budget"), "warnings": a.get("warnings", [])}
                            for a in record["assignments"]]}


def _full(check: dict) -> bool:
    return check["outcome"] == "passed" and check["score"] >= check["max_score"]


def junit(record: dict, lang: str = "en") -> str:
    suites = ET.Element("testsuites", name="dlkit-grade", tests=str(
        sum(len(a["checks"]) for a in record["assignments"])))
    for a in record["assignments"]:
        failed = [c for c in a["checks"] if c["score"] < c["max_score"]]
        suite = ET.SubElement(suites, "testsuite", name=f"{a['id']} {task_title(a, lang)}",
                              tests=str(len(a["checks"])), failures=str(len(failed)),
                              time=f"{a['seconds']:.3f}")
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="score",
                      value=f"{_num(a['score'])}/{_num(a['max_score'])}")
        if a.get("found"):
            ET.SubElement(properties, "property", name="found",
                          value=_xml(message_text(a["found"]["message"], lang)))
        for c in a["checks"]:
            case = ET.SubElement(suite, "testcase", classname=a["folder"], name=c["name"],
                                 time=f"{c.get('duration', 0.0):.3f}")
            if c["outcome"] == "not-run" and a["status"] == "missing":
                ET.SubElement(case, "skipped", message=_xml(_message(c, lang)))
            elif c["score"] < c["max_score"]:
                fail = ET.SubElement(case, "failure", message=catalog.template(
                    "report.junit_failure", lang).format(
                        score=_num(c["score"]), max_score=_num(c["max_score"]),
                        message=_xml(_message(c, lang)[:200])))
                problem = message_text(a.get("problem"), lang)  # "see above" has no above here
                fail.text = _xml(check_feedback(c, lang) + (f"\n{problem}" if problem else ""))
            if c.get("output"):
                ET.SubElement(case, "system-out").text = _xml(c["output"])
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def full_json(record: dict, lang: str = "en") -> str:
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def render(record: dict, fmt: str = "text", lang: str = "en",
           visibility: Visibility | None = None) -> str:
    """``record`` in format ``fmt``; ``visibility`` is Gradescope's (see gradescope())."""
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {FORMATS}, got {fmt!r}")
    if lang not in catalog.languages():
        raise ValueError(f"lang: expected one of {catalog.languages()}, got {lang!r}")
    # nothing from student code reaches a terminal, a file or a platform as control
    # characters, whatever part of the record it came in
    record = printable_tree(record)
    if fmt == "gradescope":
        return gradescope(record, lang, visibility)
    return {"text": text, "json": full_json, "junit": junit}[fmt](record, lang)
