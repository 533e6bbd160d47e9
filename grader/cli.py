"""``dlkit-grade``: grade submissions, grade a class, build the handout and autograder bundle.

    dlkit-grade SUBMISSION [--assignment a1|a2|a3|a4|all]
                [--format text|json|gradescope|junit|classroom] [--out PATH] [--lang en|ja]
                [--total-budget SECONDS] [--fail-under SCORE]
    dlkit-grade batch DIR --jobs N --out grades.csv
    dlkit-grade release OUT
    dlkit-grade gradescope-bundle OUT.zip [--timeout SECONDS] [--lang en|ja]

Exit status of grading: 0 whenever grading completed (whatever the score, also for a
submission that cannot be read: it scores 0 with the reason); 1 when ``--fail-under`` is
given and the total score is below it (for plain CI); 2 for a usage error (e.g. the path
does not exist); 3 when the grader itself failed on an assignment (the report is still
written and says which).

``--out`` is rewritten after every finished check (atomically), so a run that a platform
stops at its time limit leaves the feedback of every check it finished.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMANDS = ("batch", "release", "gradescope-bundle")


def _assignments(value: str) -> list[str]:
    from grader.scoring.runner import ASSIGNMENTS

    if value == "all":
        return list(ASSIGNMENTS)
    ids = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in ids if v not in ASSIGNMENTS]
    if bad or not ids:
        raise argparse.ArgumentTypeError(
            f"expected a1, a2, a3, a4, all or a comma list, got {value!r}")
    return ids


def _positive(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        x = -1.0
    if x <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of seconds, got {value!r}")
    return x


def _score(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        x = -1.0
    if not x >= 0:
        raise argparse.ArgumentTypeError(f"expected a score >= 0, got {value!r}")
    return x


def _add_grading_options(p: argparse.ArgumentParser) -> None:
    """--assignment, --budget and the hidden --checks-dir: shared by grading and batch."""
    p.add_argument("--assignment", "-a", type=_assignments, default="all",
                   help="a1, a2, a3, a4, a comma list, or all (default)")
    p.add_argument("--budget", type=_positive,
                   help="wall-clock seconds per assignment (default: per assignment)")
    p.add_argument("--checks-dir", type=Path, help=argparse.SUPPRESS)


def _grade_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dlkit-grade", description="Grade a submission of the dlkit assignments. "
        "Other commands: dlkit-grade batch|release|gradescope-bundle --help",
        epilog="A folder named like a command: write ./batch.")
    p.add_argument("submission", type=Path, help="folder like assignments/, one "
                   "assignment's folder, or a .zip of either")
    _add_grading_options(p)
    p.add_argument("--format", "-f", choices=("text", "json", "gradescope", "junit",
                                              "classroom"), default="text",
                   help="classroom: the runner result GitHub Classroom's grading reporter "
                   "reads (base64-encode it into a step output named result)")
    p.add_argument("--out", "-o", type=Path, help="write the report here (default: stdout)")
    p.add_argument("--lang", choices=("en", "ja"), default="en", help="feedback language")
    p.add_argument("--total-budget", type=_positive, metavar="SECONDS",
                   help="the platform's time limit for the whole run: the assignments' "
                   "budgets are scaled down to fit it (Gradescope: its timeout)")
    p.add_argument("--fail-under", type=_score, metavar="SCORE",
                   help="exit with status 1 when the total score is below SCORE")
    return p


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader never sees half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def grade_main(argv: list[str]) -> int:
    from grader.report import render
    from grader.scoring import runner
    from grader.scoring.submission import SubmissionError

    args = _grade_parser().parse_args(argv)
    if not args.submission.exists():
        print(f"dlkit-grade: error: submission {args.submission} does not exist",
              file=sys.stderr)
        return 2
    options = runner.Options(checks_dir=args.checks_dir, total_budget=args.total_budget)
    if args.budget:
        options.budgets = dict.fromkeys(runner.ASSIGNMENTS, args.budget)

    def progress(rec: dict) -> None:  # the report so far, after every finished check
        _write(args.out, render(rec, args.format, args.lang))

    try:
        record = runner.grade(args.submission, args.assignment, options,
                              progress if args.out else None)
    except SubmissionError as exc:
        record = runner.unreadable(args.submission, args.assignment, exc.en, options, exc.ja)
    except runner.GraderError as exc:
        print(f"dlkit-grade: error: {exc}", file=sys.stderr)
        if args.out:  # neither part of this run nor an earlier report is its result
            args.out.unlink(missing_ok=True)
        return 3
    report = render(record, args.format, args.lang)
    note = record.get("instructor", {}).get("isolation_note")
    if note:  # the grader's log, for the instructor; never in the report a student sees
        print(f"dlkit-grade: isolation {record['isolation']}: {note}", file=sys.stderr)
    if args.out:
        _write(args.out, report)
        print(f"dlkit-grade: {record['submission']}: {record['score']:g} / "
              f"{record['max_score']:g}", file=sys.stderr)
    else:
        sys.stdout.write(report)
    if any(a["status"] == "grader" for a in record["assignments"]):
        print("dlkit-grade: the grader failed on: " + ", ".join(
            a["id"] for a in record["assignments"] if a["status"] == "grader"), file=sys.stderr)
        return 3
    if args.fail_under is not None and record["score"] < args.fail_under:
        print(f"dlkit-grade: score {record['score']:g} is below --fail-under "
              f"{args.fail_under:g}", file=sys.stderr)
        return 1
    return 0


def batch_main(argv: list[str]) -> int:
    from grader.platforms import batch
    from grader.sandbox.isolation import ISOLATION_NOTES, base_level, isolation_note

    p = argparse.ArgumentParser(
        prog="dlkit-grade batch", description="Grade every student of a class: DIR holds "
        "one sub-folder or .zip per student. Writes a CSV gradebook and one JSON record "
        "per student (next to the CSV, in <out>-records/).")
    p.add_argument("dir", type=Path)
    p.add_argument("--jobs", "-j", type=int, default=1, help="students graded in parallel")
    p.add_argument("--out", "-o", type=Path, required=True, help="the CSV gradebook")
    _add_grading_options(p)
    args = p.parse_args(argv)
    if not args.dir.is_dir():
        p.error(f"DIR: expected a folder of submissions, got {args.dir}")
    if args.jobs < 1:
        p.error(f"--jobs: expected >= 1, got {args.jobs}")
    rows = batch.grade_all(args.dir, args.out, jobs=args.jobs, assignments=args.assignment,
                           budget=args.budget, checks_dir=args.checks_dir)
    failed = [r["student"] for r in rows if r["status"] not in ("graded", "missing",
                                                                 "unreadable")]
    levels = {str(r.get("isolation")) for r in rows}  # "none (not run)": unreadable
    for level in sorted(lv for lv in levels if base_level(lv) in ISOLATION_NOTES):
        # the grader's log, as for one submission: what the level did not protect
        print(f"dlkit-grade batch: isolation {level}: {isolation_note(level)}",
              file=sys.stderr)
    print(f"graded {len(rows)} submissions -> {args.out}"
          + (f"; not graded: {', '.join(failed)}" if failed else ""))
    return 0


def release_main(argv: list[str]) -> int:
    from grader.platforms import release

    p = argparse.ArgumentParser(
        prog="dlkit-grade release", description="Build the student handout: dlkit, the "
        "assignments with their public tests and READMEs, a pyproject that installs dlkit. "
        "Nothing from solutions/ or the hidden checks.")
    p.add_argument("out", type=Path, help="the folder to create (must not exist)")
    p.add_argument("--course-repo", metavar="URL",
                   help="https address of the course's repository, written into the lab "
                   "notebooks (Colab installs dlkit from it)")
    args = p.parse_args(argv)
    try:
        files = release.build(args.out, course_repo=args.course_repo)
    except (FileExistsError, release.ReleaseError) as exc:
        print(f"dlkit-grade release: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(files)} files to {args.out}")
    return 0


def bundle_main(argv: list[str]) -> int:
    from grader.platforms.gradescope import bundle

    p = argparse.ArgumentParser(
        prog="dlkit-grade gradescope-bundle", description="Build the Gradescope autograder "
        "zip (setup.sh, run_autograder, dlkit and the grader).")
    p.add_argument("out", type=Path, help="the zip file to write")
    p.add_argument("--timeout", type=_positive, default=bundle.DEFAULT_TIMEOUT,
                   metavar="SECONDS", help="the assignment's autograder timeout on "
                   "Gradescope (default: %(default)s, Gradescope's default): every check's "
                   "budget is fitted inside it")
    p.add_argument("--lang", choices=bundle.LANGS, default="en", help="feedback language")
    args = p.parse_args(argv)
    names = bundle.build(args.out, timeout=args.timeout, lang=args.lang)
    print(f"wrote {args.out} ({len(names)} files)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        handler = {"batch": batch_main, "release": release_main,
                   "gradescope-bundle": bundle_main}[argv[0]]
        return handler(argv[1:])
    return grade_main(argv)


if __name__ == "__main__":
    sys.exit(main())
