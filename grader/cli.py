"""``dlkit-grade``: grade submissions, grade a class, build the handout and autograder bundle.

    dlkit-grade SUBMISSION [--assignment a1|a2|a3|a4|all]
                [--format text|json|gradescope|junit] [--out PATH] [--lang en|ja]
                [--total-budget SECONDS] [--fail-under SCORE]
    dlkit-grade batch DIR --jobs N --out grades.csv [--roster ROSTER.csv --key COLUMN]
                [--export canvas|moodle] [--feedback DIR] [--lang en|ja|both]
                [--only NAME ...] [--shard I/N]
    dlkit-grade merge RECORDS_DIR ... --out grades.csv [--roster …] [--export …] [--feedback …]
    dlkit-grade release OUT
    dlkit-grade gradescope-bundle OUT.zip [--assignment a2] [--timeout SECONDS] [--lang en|ja]
    dlkit-grade classroom50 DIR [--assignment a2] [--lang en|ja]
    dlkit-grade handouts [--check]

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
import contextlib
import signal
import sys
import threading
from pathlib import Path

from grader.scoring import catalog

COMMANDS = ("batch", "merge", "release", "gradescope-bundle", "classroom50", "handouts")


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
        "Other commands: dlkit-grade batch|merge|release|gradescope-bundle|classroom50|"
        "handouts "
        "--help",
        epilog="A folder named like a command: write ./batch.")
    p.add_argument("submission", type=Path, help="folder like assignments/, one "
                   "assignment's folder, or a .zip of either")
    _add_grading_options(p)
    p.add_argument("--format", "-f", choices=("text", "json", "gradescope", "junit"),
                   default="text")
    p.add_argument("--out", "-o", type=Path, help="write the report here (default: stdout)")
    p.add_argument("--lang", choices=catalog.languages(), default="en",
                   help="feedback language")
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


def _tail(log: str, lines: int = 25) -> str:
    """The last ``lines`` non-empty lines of a checks process's log, indented."""
    kept = [line for line in log.splitlines() if line.strip()][-lines:]
    return "\n".join("    " + line for line in kept) or "    (the log is empty)"


def grade_main(argv: list[str]) -> int:
    from grader.ipc.printable import printable
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
    visibility = None
    if args.format == "gradescope":  # points.toml's [gradescope] table
        from grader.report import visibility as gs_visibility

        try:
            visibility = gs_visibility.load(options.resolved_points_file())
        except (gs_visibility.VisibilityError, runner.GraderError) as exc:
            print(f"dlkit-grade: error: {exc}", file=sys.stderr)
            return 3

    def progress(rec: dict) -> None:  # the report so far, after every finished check
        _write(args.out, render(rec, args.format, args.lang, visibility))

    try:
        with _terminate_as_exit():
            record = runner.grade(args.submission, args.assignment, options,
                                  progress if args.out else None)
    except SubmissionError as exc:
        record = runner.unreadable(args.submission, args.assignment, exc.text, options)
    except runner.GraderError as exc:
        print(f"dlkit-grade: error: {exc}", file=sys.stderr)
        if args.out:  # neither part of this run nor an earlier report is its result
            args.out.unlink(missing_ok=True)
        return 3
    report = render(record, args.format, args.lang, visibility)
    note = record.get("instructor", {}).get("isolation_note")
    if note:  # the grader's log, for the instructor; never in the report a student sees
        print(f"dlkit-grade: isolation {record['isolation']}: {note}", file=sys.stderr)
    # The log of a TA's terminal and of Gradescope's run (which students do not see); not with
    # --format json, which Classroom 50's autograder reads in a job log the student can read.
    if args.format in ("text", "gradescope"):
        for flag in record.get("similarity", []):
            lines = " ".join(f"{a}-{b}" for a, b in flag["lines"])
            print(f"dlkit-grade: similarity {flag['task']} {flag['file']} ~ {flag['with']}: "
                  f"{flag['similarity']:.2f} of the file (lines {lines}); a reason to look, "
                  f"not a finding", file=sys.stderr)
    if args.out:
        _write(args.out, report)
        print(f"dlkit-grade: {printable(record['submission'])}: {record['score']:g} / "
              f"{record['max_score']:g}", file=sys.stderr)
    else:
        sys.stdout.write(report)
    failed = [a for a in record["assignments"] if a["status"] == "grader"]
    for a in failed:  # why, for the instructor (the report a student sees only says "not you")
        print(f"dlkit-grade: the grader failed on {a['id']} (not the student's fault); the "
              f"end of its checks' log:\n{_tail(a.get('log', ''))}", file=sys.stderr)
    if failed:
        print("dlkit-grade: the grader failed on: " + ", ".join(a["id"] for a in failed),
              file=sys.stderr)
        return 3
    if args.fail_under is not None and record["score"] < args.fail_under:
        print(f"dlkit-grade: score {record['score']:g} is below --fail-under "
              f"{args.fail_under:g}", file=sys.stderr)
        return 1
    return 0


def _add_gradebook_options(p: argparse.ArgumentParser) -> None:
    """--roster/--key, --export, --feedback, --lang: shared by batch and merge."""
    p.add_argument("--roster", type=Path, metavar="ROSTER.csv",
                   help="the LMS's roster export (Canvas's gradebook export, a Moodle grade "
                   "export): one gradebook row per roster row, in its order")
    p.add_argument("--key", metavar="COLUMN", help="the roster column that names the "
                   "submissions (e.g. 'SIS Login ID', 'Email address')")
    p.add_argument("--export", choices=gradebook_exports(), help="also write <out>-canvas.csv "
                   "or <out>-moodle.csv, the CSV the LMS's grade import reads (needs --roster)")
    p.add_argument("--feedback", type=Path, metavar="DIR", help="write DIR/<student>.md: the "
                   "feedback each student would see, ready to return")
    p.add_argument("--lang", choices=(*catalog.languages(), "both"),
                   help="language of the feedback files and Moodle's feedback (default en; "
                   "both: English and Japanese)")


def gradebook_exports() -> tuple[str, ...]:
    from grader.platforms.gradebook import EXPORTS

    return EXPORTS


def _gradebook_inputs(p: argparse.ArgumentParser, args: argparse.Namespace):
    """The roster (read and checked) and the other gradebook options; a usage error (exit
    2) for bad ones, before anything is graded or written."""
    from grader.platforms.gradebook import GradebookError, check_export, read_roster

    if (args.roster is None) != (args.key is None):
        p.error("--roster and --key go together: --roster ROSTER.csv --key COLUMN")
    if args.feedback is not None and args.feedback.exists() and not args.feedback.is_dir():
        p.error(f"--feedback: expected a folder, got the file {args.feedback}")
    try:
        roster = read_roster(args.roster, args.key) if args.roster else None
        check_export(roster, args.export)
    except GradebookError as exc:
        p.error(str(exc))
    return roster


def _summary(command: str, written, out: Path) -> None:
    """What the TA must know after a batch or merge: who was not graded, who is not on the
    roster, what the LMS file and the feedback left out."""
    from grader.ipc.printable import printable
    from grader.sandbox.isolation import ISOLATION_NOTES, base_level, isolation_note

    rows = written.rows
    levels = {str(r.get("isolation")) for r in rows if r.get("isolation")}
    for level in sorted(lv for lv in levels if base_level(lv) in ISOLATION_NOTES):
        # the grader's log, as for one submission: what the level did not protect
        print(f"dlkit-grade {command}: isolation {level}: {isolation_note(level)}",
              file=sys.stderr)
    failed = [r.get("submission") or r["student"] for r in rows
              if r["status"] in ("timeout", "error", "grader-error")]
    print(printable(f"{len(rows)} students -> {out}" + (
        f"; not graded: {', '.join(failed)} (regrade them with --only)" if failed else "")))
    unmatched = [r["submission"] for r in rows if r.get("note", "").startswith("not on the "
                                                                               "roster")]
    if unmatched:
        print(printable(f"not on the roster (in {out.name}, not in an LMS file): "
                        f"{', '.join(unmatched)}"))
    absent = sum(r["status"] == "no-submission" for r in rows)
    if absent:
        print(f"{absent} students of the roster handed in nothing (rows without a grade)")
    if written.export:
        print(f"LMS file: {written.export}"
              + (f"; left out: {'; '.join(written.left_out)}" if written.left_out else ""))
    if written.feedback is not None:
        print(printable(f"feedback: {len(written.feedback)} files" + (
            f"; none for {', '.join(written.no_feedback)}" if written.no_feedback else "")))


def batch_main(argv: list[str]) -> int:
    from grader.platforms import batch
    from grader.platforms.gradebook import GradebookError

    p = argparse.ArgumentParser(
        prog="dlkit-grade batch", description="Grade every student of a class: DIR holds "
        "one sub-folder or .zip per student. Writes a CSV gradebook and one JSON record "
        "per student (next to the CSV, in <out>-records/).")
    p.add_argument("dir", type=Path)
    p.add_argument("--jobs", "-j", type=int, default=1, help="students graded in parallel")
    p.add_argument("--out", "-o", type=Path, required=True, help="the CSV gradebook")
    _add_grading_options(p)
    p.set_defaults(assignment=None)  # all, or the gradebook's for --only
    _add_gradebook_options(p)
    p.add_argument("--only", nargs="+", metavar="NAME", help="regrade these students of the "
                   "gradebook --out and update their rows and records; the others stay")
    p.add_argument("--shard", metavar="I/N", help="grade shard I of N of the class (for "
                   "several machines), then join the shards with dlkit-grade merge")
    args = p.parse_args(argv)
    if not args.dir.is_dir():
        p.error(f"DIR: expected a folder of submissions, got {args.dir}")
    if args.jobs < 1:
        p.error(f"--jobs: expected >= 1, got {args.jobs}")
    shard = (1, 1)
    try:
        if args.only and args.shard:
            raise GradebookError("--only and --shard: regrade in the merged gradebook, not "
                                 "in a shard")
        if args.shard:
            shard = batch.parse_shard(args.shard)
        if shard[1] > 1 and (args.roster or args.export or args.feedback):
            raise GradebookError("--roster, --export and --feedback are for the whole "
                                 "class: give them to dlkit-grade merge, not to a shard")
        if args.only:  # the gradebook's own options, unless given again
            manifest = batch.existing(args.out)
            for name in ("roster", "key", "export", "feedback", "lang"):
                value = manifest.options.get(name)
                if getattr(args, name) is None and value is not None:
                    setattr(args, name, Path(value) if name in ("roster", "feedback")
                            else value)
                    print(f"dlkit-grade batch: --only: the gradebook's --{name} {value}",
                          file=sys.stderr)
            args.assignment = args.assignment or manifest.assignments
    except GradebookError as exc:
        p.error(str(exc))
    roster = _gradebook_inputs(p, args)
    settings = batch.Settings(args.assignment or _assignments("all"), args.budget,
                              args.checks_dir, args.jobs)
    options = {"roster": roster, "export": args.export, "feedback": args.feedback,
               "lang": args.lang or "en"}
    try:
        with _terminate_as_interrupt():
            if args.only:
                written = batch.regrade(args.dir, args.out, args.only, settings, **options)
            else:
                written = batch.grade_all(args.dir, args.out, settings, shard=shard,
                                          **options)
    except GradebookError as exc:
        p.error(str(exc))
    except KeyboardInterrupt:
        print("dlkit-grade batch: interrupted: the gradebook was not rewritten"
              + ("" if args.only else "; the records of the students graded so far are in "
                 f"{args.out.stem}-records/"), file=sys.stderr)
        return 130
    if shard[1] > 1:
        print(f"shard {shard[0]}/{shard[1]}: {len(written.rows)} students -> {args.out} "
              f"(join the shards with dlkit-grade merge)")
    else:
        _summary("batch", written, args.out)
    return 0


@contextlib.contextmanager
def _terminate_as_exit():
    """SIGTERM (a batch or a platform stopping this run) ends grading as an exit does: the
    checks process is stopped and the run folder removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a scheduler cancelling the job) stops a batch as Ctrl-C does: every
    grading process is killed and nothing half-done is written."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def merge_main(argv: list[str]) -> int:
    from grader.platforms import batch
    from grader.platforms.gradebook import GradebookError

    p = argparse.ArgumentParser(
        prog="dlkit-grade merge", description="Join the records folders of the shards of "
        "a class (dlkit-grade batch --shard I/N) into its gradebook, as one batch of the "
        "whole class writes it; the similarity between students is computed over the class.")
    p.add_argument("records", type=Path, nargs="+", metavar="RECORDS_DIR",
                   help="each shard's <out>-records folder")
    p.add_argument("--out", "-o", type=Path, required=True, help="the CSV gradebook")
    _add_gradebook_options(p)
    args = p.parse_args(argv)
    roster = _gradebook_inputs(p, args)
    try:
        written = batch.merge(args.records, args.out, roster=roster, export=args.export,
                              feedback=args.feedback, lang=args.lang or "en")
    except GradebookError as exc:
        p.error(str(exc))
    _summary("merge", written, args.out)
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
    p.add_argument("--lang", choices=catalog.languages(), default="en",
                   help="feedback language")
    p.add_argument("--assignment", "-a", type=_assignments, default="all",
                   help="the tasks this Gradescope assignment grades: a1, a2, a3, a4, a comma "
                   "list, or all (default); a submission is scored out of their points only")
    args = p.parse_args(argv)
    try:
        names = bundle.build(args.out, timeout=args.timeout, lang=args.lang,
                             assignments=args.assignment)
    except (ValueError, LookupError, RuntimeError) as exc:  # points, lock or wheel
        print(f"dlkit-grade gradescope-bundle: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(names)} files) grading {', '.join(args.assignment)}")
    return 0


def classroom50_main(argv: list[str]) -> int:
    from grader.platforms import classroom50, lock

    p = argparse.ArgumentParser(
        prog="dlkit-grade classroom50", description="Write the Classroom 50 autograder: "
        "autograder.py, dlkit's wheel (with the hidden checks) and the pinned packages, "
        "for the classroom50 repository's CLASSROOM/autograders/ASSIGNMENT/.")
    p.add_argument("dir", type=Path, help="the folder to write (new or empty)")
    p.add_argument("--assignment", "-a", type=_assignments, default="all",
                   help="the tasks this Classroom 50 assignment grades: a1, a2, a3, a4, a "
                   "comma list, or all (default)")
    p.add_argument("--lang", choices=classroom50.LANGS, default="en",
                   help="language of the feedback in the Release")
    args = p.parse_args(argv)
    try:
        files = classroom50.build(args.dir, args.assignment, args.lang)
    except (OSError, ValueError, LookupError, RuntimeError) as exc:
        print(f"dlkit-grade classroom50: error: {exc}", file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} files ({size / 1e6:.1f} MB) to {args.dir}, grading "
          f"{', '.join(args.assignment)} with Python {lock.python_version()} (set the "
          "assignment's runtime to it)")
    return 0


def handouts_main(argv: list[str]) -> int:
    from grader.platforms import handouts

    return handouts.main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        handler = {"batch": batch_main, "merge": merge_main, "release": release_main,
                   "gradescope-bundle": bundle_main, "classroom50": classroom50_main,
                   "handouts": handouts_main}[argv[0]]
        return handler(argv[1:])
    return grade_main(argv)


if __name__ == "__main__":
    sys.exit(main())
