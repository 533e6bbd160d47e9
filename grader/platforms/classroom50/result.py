"""A grading record as Classroom 50 records it: ``result.json`` (``classroom50/result/v1``)
and ``release-body.md`` (the feedback the student reads on the submission's Release).

    python -m grader.platforms.classroom50.result RECORD.json --checkout DIR [--lang ja]

run by autograder.py, writes both files into the student's checkout DIR, from the record
(``dlkit-grade ... --format json``), the runner's environment (CLASSROOM, ASSIGNMENT,
SUBMISSION_TAG, COMMIT_URL, RELEASE_URL, REVIEW_URL, OWNER/USERNAME, ASSIGNMENT_TYPE) and
the graded commit's committer date (``git show -s --format=%cI``).

Whole points (the contract has ints). Every check's points in points.toml must be whole
(:func:`whole_points` refuses others); only partial credit is fractional (recorded with two
decimals). Then:

- a check's ``max-score`` is its points, so ``max-score`` is the sum of points.toml's;
- ``score`` is the true total rounded half up (never lower: nobody loses a point to
  rounding, and less than half a point is never given away);
- the checks' ints add up to ``score``: each check gets its points rounded down, and the
  units still missing go to the checks with the largest fractional parts (earlier checks
  first on a tie), never above a check's ``max-score``; a check earned in full or not at
  all keeps its exact points. With the shipped points.toml every score is whole already.

Examples: a speed check at 6.67 of 10 and the rest 16 of 16: total 22.67 → 23, the speed
check 7. Two checks at 3.33 and 6.67 of 10: total 10.00 → 10, they show 3 and 7. Two
checks at 0.5 of 1: total 1.00 → 1, the first shows 1, the second 0. One check at 0.5 of 1
alone: 1 (half up), so it shows 1 of 1 and ``passed: false``. Each test also carries
``exact-score``, the points as graded, for the TA.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from grader.report.formats import check_feedback, message_text, task_title, words
from grader.scoring.catalog import template

SCHEMA = "classroom50/result/v1"
SCHEMA_FILE = Path(__file__).with_name("result-v1.schema.json")
REQUIRED_ENV = ("CLASSROOM", "ASSIGNMENT", "SUBMISSION_TAG", "COMMIT_URL", "RELEASE_URL")
STAMP = "%Y-%m-%dT%H:%M:%SZ"
FEEDBACK_SHOWN = 3000  # characters of one check's feedback in the release body
BODY_LIMIT = 120_000  # a Release's body holds 125,000 characters


class ResultError(ValueError):
    """The record or the environment cannot make a valid result.json (says why)."""


def whole_points(record: dict) -> None:
    """Raise ResultError unless every check's points are whole (points.toml's business)."""
    bad = [f"{a['id']} {c['name']} ({c['max_score']:g})" for a in record["assignments"]
           for c in a["checks"] if round(c["max_score"] * 100) % 100]
    if bad:
        raise ResultError("Classroom 50 records whole points: give each check a whole "
                          f"number of points in points.toml (not so: {', '.join(bad)})")


def int_points(scores: list[float], maxima: list[int]) -> list[int]:
    """Whole points for checks that earned ``scores`` of whole ``maxima`` (the rule in the
    module docstring): they add up to the true total rounded half up."""
    hundredths = [round(s * 100) for s in scores]
    if any(h < 0 or h > 100 * m for h, m in zip(hundredths, maxima, strict=True)):
        raise ResultError(f"scores {scores} do not lie within their maxima {maxima}")
    total = (sum(hundredths) + 50) // 100  # half up
    out = [h // 100 for h in hundredths]
    short = total - sum(out)
    order = sorted((i for i, h in enumerate(hundredths) if h % 100),
                   key=lambda i: (-(hundredths[i] % 100), i))
    for i in order[:short]:  # never more than the checks with a fraction: see the docstring
        out[i] += 1
    return out


def committed_at(cwd: Path, sha: str | None = None) -> str:
    """The graded commit's committer date in UTC (``2026-06-01T14:32:01Z``)."""
    proc = subprocess.run(["git", "-c", "safe.directory=*", "show", "-s", "--format=%cI",
                           sha or "HEAD"], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ResultError(f"cannot read the committer date of {sha or 'HEAD'} in {cwd}: "
                          f"{proc.stderr.strip() or 'no output'} (the runner checks out the "
                          "student's repository with its history)")
    when = datetime.datetime.fromisoformat(proc.stdout.strip())
    return when.astimezone(datetime.timezone.utc).strftime(STAMP)


def result_json(record: dict, env: dict[str, str], committed: str,
                graded_at: datetime.datetime | None = None) -> dict:
    """``result.json`` for ``record``: identity from ``env`` (the runner's variables),
    ``datetime`` = ``committed``; the tests are the checks, in the record's order."""
    missing = [name for name in REQUIRED_ENV if not env.get(name)]
    if missing:
        raise ResultError(f"the runner's environment lacks {', '.join(missing)} (expected "
                          "from Classroom 50's autograde runner)")
    whole_points(record)
    checks = [(a, c) for a in record["assignments"] for c in a["checks"]]
    maxima = [round(c["max_score"]) for _, c in checks]
    earned = int_points([c["score"] for _, c in checks], maxima)
    tests = [{"test-name": f"{a['id']} {c['name']}",
              "passed": c["outcome"] == "passed" and c["score"] >= c["max_score"],
              "score": s, "max-score": m, "exact-score": c["score"]}
             for (a, c), s, m in zip(checks, earned, maxima, strict=True)]
    result: dict = {"schema": SCHEMA, "classroom": env["CLASSROOM"],
                    "assignment": env["ASSIGNMENT"]}
    if env.get("ASSIGNMENT_TYPE"):
        result["assignment_type"] = env["ASSIGNMENT_TYPE"]
    if env.get("OWNER") or env.get("USERNAME"):
        result["owner"] = env.get("OWNER") or env["USERNAME"]
    when = graded_at or datetime.datetime.now(datetime.timezone.utc)
    result.update({
        "submission": env["SUBMISSION_TAG"], "commit": env["COMMIT_URL"],
        "release": env["RELEASE_URL"], "review": env.get("REVIEW_URL") or env["COMMIT_URL"],
        "datetime": committed, "graded_at": when.strftime(STAMP),
        "score": sum(earned), "max-score": sum(maxima), "tests": tests})
    return result


def _num(x: float) -> str:
    return f"{x:g}"


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text`` (student output)."""
    run = longest = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def release_body(record: dict, result: dict, lang: str = "en") -> str:
    """The Release's Markdown: the score, the files not graded, then per task its points,
    where its file was found (when elsewhere than the handout's place) and every check not
    earned in full with the reason (and what the student's code printed)."""
    w = words(lang)
    exact = record["score"]
    lines = [f"### dlkit-grade: {result['score']} / {result['max-score']}", ""]
    if round(exact * 100) != 100 * result["score"]:
        lines += [template("report.points_as_graded", lang).format(
            score=_num(exact), max_score=_num(record["max_score"])), ""]
    if record.get("status") == "unreadable":
        why = message_text(record.get("error_message"), lang) or record.get("error", "")
        return "\n".join([*lines, f"{w['unreadable_line']}: {why}", ""])
    for note in record.get("notes", []):  # the files not graded (student's file names)
        text = message_text(note, lang).rstrip()
        lines += [_fence(text), text, _fence(text), ""]
    for a in record["assignments"]:
        status = "" if a["status"] == "graded" else f" ({w[a['status']]})"
        lines += [f"#### {a['id']} {task_title(a, lang)}: {_num(a['score'])} / "
                  f"{_num(a['max_score'])}{status}", ""]
        if a["status"] == "missing":
            continue
        if a.get("found"):  # where its file was found, when not where the handout puts it
            lines += [message_text(a["found"]["message"], lang), ""]
        if a.get("problem"):
            problem = message_text(a["problem"], lang).rstrip()
            lines += [_fence(problem), problem, _fence(problem), ""]
        passed = [c for c in a["checks"] if c["outcome"] == "passed"
                  and c["score"] >= c["max_score"]]
        lines += [template("report.checks_passed", lang).format(
            passed=len(passed), total=len(a["checks"])), ""]
        for c in a["checks"]:
            if c in passed:
                continue
            lines.append(f"- **{c['name']}**: {_num(c['score'])} / {_num(c['max_score'])}")
            fb = check_feedback(c, lang).rstrip()
            if fb:
                if len(fb) > FEEDBACK_SHOWN:
                    fb = fb[:FEEDBACK_SHOWN - 1] + "…"
                fence = _fence(fb)
                lines += textwrap.indent("\n".join([fence, fb, fence]), "  ").splitlines()
        lines.append("")
    body = "\n".join(lines) + "\n"
    if len(body) > BODY_LIMIT:
        body = body[:BODY_LIMIT] + "\n…\n" + template("report.cut", lang)
    return body


def write(record: dict, cwd: Path, env: dict[str, str], lang: str = "en") -> dict:
    """Write ``result.json`` and ``release-body.md`` into ``cwd``; returns the result."""
    result = result_json(record, env, committed_at(cwd, env.get("GITHUB_SHA")))
    (cwd / "release-body.md").write_text(release_body(record, result, lang), encoding="utf-8")
    (cwd / "result.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m grader.platforms.classroom50.result",
                                description="Write Classroom 50's result.json and "
                                "release-body.md from a grading record.")
    p.add_argument("record", type=Path)
    p.add_argument("--checkout", type=Path, required=True,
                   help="the student's checkout: the graded commit, where the files go")
    p.add_argument("--lang", choices=("en", "ja"), default="en")
    args = p.parse_args(argv)
    try:
        record = json.loads(args.record.read_text(encoding="utf-8"))
        result = write(record, args.checkout, dict(os.environ), args.lang)
    except (OSError, ValueError, KeyError) as exc:
        print(f"::error::dlkit-grade: no result.json written: {exc}", file=sys.stderr)
        return 3
    print(f"dlkit-grade: result.json {result['score']} / {result['max-score']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
