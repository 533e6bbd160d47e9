"""Render a grading record as a text table, JSON, Gradescope results.json, JUnit XML or
the runner result GitHub Classroom's grading reporter reads.

The record is the dict returned by :func:`grader.scoring.runner.grade`; every check has
``name, score, max_score, outcome, message{en,ja}, output, duration``.
"""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ET

FORMATS = ("text", "json", "gradescope", "junit", "classroom")
OUTPUT_SHOWN = 1500

_WORDS = {
    "en": {"total": "Total", "isolation": "isolation", "output": "your code printed",
           "missing": "not submitted", "budget": "time budget used up",
           "grader": "GRADER ERROR (not your fault)", "graded": "graded",
           "unreadable": "submission unreadable", "tampered": "results tampered with",
           "stopped": "grading stopped",
           "check": "check", "points": "points", "not-loaded": "your code could not be loaded",
           "unreadable_line": "The submission cannot be read, so nothing was graded"},
    "ja": {"total": "合計", "isolation": "隔離方式", "output": "あなたのコードの出力",
           "missing": "未提出", "budget": "制限時間超過",
           "grader": "採点エラー (あなたの責任ではありません)",
           "unreadable": "提出物を読み込めません", "tampered": "結果の改ざん",
           "stopped": "採点停止",
           "graded": "採点済み", "check": "検査", "points": "点数",
           "not-loaded": "コードを読み込めません",
           "unreadable_line": "提出物を読み込めないため、採点していません"},
}


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Text without the characters XML 1.0 cannot hold (student output may have them)."""
    return _NOT_XML.sub("\ufffd", text)


def _num(x: float) -> str:
    return f"{x:g}"


def _text(msg: dict | None, lang: str) -> str:
    msg = msg or {}
    return msg.get(lang) or msg.get("en") or ""


def _message(check: dict, lang: str) -> str:
    return _text(check.get("message"), lang)


def _title(assignment: dict, lang: str) -> str:
    """The task's title in ``lang`` (dlkit.tasks), else the record's."""
    from dlkit.tasks import TASKS

    task = TASKS.get(assignment["id"])
    return task.title[lang] if task else assignment["title"]


def _feedback(check: dict, lang: str) -> str:
    parts = [_message(check, lang)]
    if check.get("output"):
        out = check["output"][-OUTPUT_SHOWN:]
        parts.append(f"--- {_WORDS[lang]['output']} (tail) ---\n{out}")
    return "\n".join(p for p in parts if p)


def text(record: dict, lang: str = "en") -> str:
    w = _WORDS[lang]
    lines = [f"dlkit-grade: {record['submission']}   ({w['isolation']}: {record['isolation']})",
             ""]
    if record.get("status") == "unreadable":  # one line: nothing else to say
        why = _text(record.get("error_message"), lang) or record.get("error", "")
        lines[-1:] = [f"{w['unreadable_line']}: {why}", ""]
        lines.append(f"{w['total']}: {_num(record['score'])} / {_num(record['max_score'])}")
        return "\n".join(lines) + "\n"
    for a in record["assignments"]:
        status = "" if a["status"] == "graded" else f"  [{w[a['status']]}]"
        lines.append(f"{a['id']} {_title(a, lang)}: {_num(a['score'])} / "
                     f"{_num(a['max_score'])}{status}")
        if a["status"] == "missing":
            lines.append("")
            continue
        if a.get("problem"):
            lines.extend(textwrap.indent(_text(a["problem"], lang).rstrip(),
                                         "    ").splitlines())
        width = max([len(c["name"]) for c in a["checks"]] + [10])
        for c in a["checks"]:
            mark = "PASS" if c["outcome"] == "passed" and c["score"] >= c["max_score"] else (
                "PART" if c["score"] > 0 else "FAIL")
            lines.append(f"  {mark}  {c['name']:<{width}}  {_num(c['score']):>5} / "
                         f"{_num(c['max_score'])}")
            fb = _feedback(c, lang) if mark != "PASS" or _message(c, lang) else ""
            if fb:
                lines.extend(textwrap.indent(fb.rstrip(), "        ").splitlines())
        lines.append("")
    lines.append(f"{w['total']}: {_num(record['score'])} / {_num(record['max_score'])}")
    return "\n".join(lines) + "\n"


def gradescope(record: dict, lang: str = "en") -> str:
    """Gradescope's results.json, as its autograder specification defines it.

    Top level: ``score``, ``execution_time`` (s), ``output`` + ``output_format`` (a summary
    per assignment, shown to the student), ``stdout_visibility`` (hidden: the grader's own
    output is for the instructor), ``extra_data`` (stored, never shown to students: the
    isolation used and what it does not protect, per-assignment status and time), ``tests``.
    Per check: ``name``, ``number`` ("2.3": assignment 2, third check), ``score``,
    ``max_score``, ``status``, ``output`` + ``output_format``, ``visibility``, ``tags``.
    """
    w = _WORDS[lang]
    tests, summary = [], []
    if record.get("status") == "unreadable":  # one line, and no check to list
        why = _text(record.get("error_message"), lang) or record.get("error", "")
        summary.append(f"{w['unreadable_line']}: {why}")
    for a in record["assignments"] if record.get("status") != "unreadable" else []:
        status = "" if a["status"] == "graded" else f"  [{w[a['status']]}]"
        summary.append(f"{a['id']} {_title(a, lang)}: {_num(a['score'])} / "
                       f"{_num(a['max_score'])}{status}")
        if a.get("problem"):
            summary.extend(textwrap.indent(_text(a["problem"], lang).rstrip(),
                                           "    ").splitlines())
        for j, c in enumerate(a["checks"], 1):
            tests.append({
                "name": f"{a['id']} {c['name']}", "number": f"{a['id'][1:]}.{j}",
                "score": c["score"], "max_score": c["max_score"],
                "status": "passed" if _full(c) else "failed",
                "output": _feedback(c, lang), "output_format": "text",
                "visibility": "visible", "tags": [a["id"], a["folder"]]})
    summary.append(f"{w['total']}: {_num(record['score'])} / {_num(record['max_score'])}")
    result = {"score": record["score"], "execution_time": round(record["seconds"]),
              "output": "\n".join(summary), "output_format": "text",
              "stdout_visibility": "hidden", "extra_data": instructor_notes(record),
              "tests": tests}
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


def instructor_notes(record: dict) -> dict:
    """What the instructor needs and the student must not see: the isolation used and
    what it does not protect, each assignment's status and time, the grader's warnings."""
    return {"isolation": record.get("isolation"), **record.get("instructor", {}),
            "error": record.get("error", ""),
            "assignments": [{"id": a["id"], "status": a["status"], "seconds": a["seconds"],
                             "budget": a.get("budget"), "warnings": a.get("warnings", [])}
                            for a in record["assignments"]]}


def _full(check: dict) -> bool:
    return check["outcome"] == "passed" and check["score"] >= check["max_score"]


# GitHub Classroom's grading reporter gets each runner's JSON through an environment
# variable (base64): one variable cannot exceed 128 KiB on Linux, so messages are cut.
CLASSROOM_MESSAGE = 600


def classroom(record: dict, lang: str = "en") -> str:
    """The runner result of GitHub Classroom's autograding actions, which
    classroom-resources/autograding-grading-reporter reads (base64 of this JSON in a step
    output named ``result``).

    ``{"version": 1, "status": "pass"|"fail"|"error", "max_score", "tests": [{"name",
    "status", "score", "message", "test_code", "filename", "line_no", "duration"}]}``.
    Classroom records the sum of the tests' ``score`` out of ``max_score``, so partial
    points are kept. ``status`` is "fail" when a point was lost (the reporter then marks
    the job failed, as Classroom's own graders do) and "error" when the grader failed on
    an assignment: then ``max_score`` is 0, so that Classroom records no points.
    """
    tests = []
    for a in record["assignments"]:
        for j, c in enumerate(a["checks"]):
            message = _feedback(c, lang)
            if j == 0 and a.get("problem"):  # the task's load error, said once: here
                message = _text(a["problem"], lang)
            if len(message) > CLASSROOM_MESSAGE:
                message = message[:CLASSROOM_MESSAGE - 1] + "…"
            tests.append({
                "name": f"{a['id']} {c['name']}",
                "status": "pass" if _full(c) else "fail", "score": c["score"],
                "message": message, "test_code": "", "filename": a["folder"], "line_no": 0,
                "duration": round(1000 * c.get("duration", 0.0))})
    if any(a["status"] == "grader" for a in record["assignments"]):
        status = "error"
    else:
        status = "pass" if all(t["status"] == "pass" for t in tests) else "fail"
    # max_score 0 after a grader failure: the reporter then records no points at all
    result = {"version": 1, "status": status,
              "max_score": 0 if status == "error" else record["max_score"], "tests": tests}
    return json.dumps(result, ensure_ascii=False) + "\n"


def junit(record: dict, lang: str = "en") -> str:
    suites = ET.Element("testsuites", name="dlkit-grade", tests=str(
        sum(len(a["checks"]) for a in record["assignments"])))
    for a in record["assignments"]:
        failed = [c for c in a["checks"] if c["score"] < c["max_score"]]
        suite = ET.SubElement(suites, "testsuite", name=f"{a['id']} {_title(a, lang)}",
                              tests=str(len(a["checks"])), failures=str(len(failed)),
                              time=f"{a['seconds']:.3f}")
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="score",
                      value=f"{_num(a['score'])}/{_num(a['max_score'])}")
        for c in a["checks"]:
            case = ET.SubElement(suite, "testcase", classname=a["folder"], name=c["name"],
                                 time=f"{c.get('duration', 0.0):.3f}")
            if c["outcome"] == "not-run" and a["status"] == "missing":
                ET.SubElement(case, "skipped", message=_xml(_message(c, lang)))
            elif c["score"] < c["max_score"]:
                fail = ET.SubElement(case, "failure", message=f"{_num(c['score'])}/"
                                     f"{_num(c['max_score'])} points: "
                                     f"{_xml(_message(c, lang)[:200])}")
                problem = _text(a.get("problem"), lang)  # "see above" has no above here
                fail.text = _xml(_feedback(c, lang) + (f"\n{problem}" if problem else ""))
            if c.get("output"):
                ET.SubElement(case, "system-out").text = _xml(c["output"])
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def full_json(record: dict, lang: str = "en") -> str:
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def render(record: dict, fmt: str = "text", lang: str = "en") -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {FORMATS}, got {fmt!r}")
    if lang not in _WORDS:
        raise ValueError(f"lang: expected 'en' or 'ja', got {lang!r}")
    return {"text": text, "json": full_json, "gradescope": gradescope, "junit": junit,
            "classroom": classroom}[fmt](record, lang)
