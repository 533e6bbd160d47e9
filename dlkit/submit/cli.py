"""``dlkit submit [PATH]``: check the handout folder, run the public tests, write the zip.

In order, for each task chosen (all four unless ``--task``; a task's ``requires`` come along):
its file is where the grader looks (:mod:`~dlkit.submit.layout`), reads as Python and uses
nothing blocked (:mod:`~dlkit.submit.source`), imports in a clean process
(:mod:`~dlkit.submit.probe`); then the public tests run (:mod:`~dlkit.submit.public_tests`)
and the files are packed (:mod:`~dlkit.submit.pack`).  Exit status 0 when the zip was
written, 1 when something the student can fix would make it score 0 (then no zip is written),
2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dlkit.tasks import TASKS


def add_parser(sub) -> None:
    """Register ``dlkit submit`` on the ``sub`` subparsers object."""
    parser = sub.add_parser(
        "submit",
        help="check your assignments and write submission.zip for the grader",
        description="Check the assignments folder the way the grader will read it (each "
        "task's file present, parses, imports in a clean process, uses nothing the grader "
        "blocks), run the public tests, and write a zip laid out as the grader expects. "
        "Exit status 1, and no zip, when something would make it score 0.",
    )
    parser.add_argument("path", nargs="?", default=".",
                        help="your assignments/ folder (default: the current folder)")
    parser.add_argument("-o", "--out", default="submission.zip",
                        help="the zip to write (default: submission.zip in the current folder)")
    parser.add_argument("--task", action="append", choices=sorted(TASKS), metavar="ID",
                        help=f"hand in only this task ({', '.join(TASKS)}); repeat for more "
                        "(default: all)")
    parser.set_defaults(func=run)


def _chosen(ids: list[str] | None) -> tuple[list, list[str]]:
    """The tasks to pack, in handout order, and a note for each one added as a requirement."""
    wanted = set(ids or TASKS)
    notes = []
    for tid in sorted(wanted):
        for req in TASKS[tid].requires:
            if req not in wanted:
                wanted.add(req)
                notes.append(f"{req} is packed too: {tid} imports its module")
    return [t for t in TASKS.values() if t.id in wanted], notes


def _task_problems(root: Path, task) -> list[str]:
    from dlkit.submit.layout import task_problems
    from dlkit.submit.probe import import_problems
    from dlkit.submit.source import source_problems

    return (task_problems(root, task) or source_problems(root / task.path, task)
            or import_problems(root, task))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _say(line: str = "") -> None:
    print(line, flush=True)


def _print_summary(tasks, errors: dict, tests: dict) -> None:
    """Per task: its title and file, what stops the grader, the public tests' outcome."""
    for task in tasks:
        _say(f"{task.id}  {task.title} ({task.path})")
        for problem in errors[task.id]:
            _say(f"    ERROR: {problem}")
        summary = tests.get(task.id)
        if summary is None:
            continue
        line = f"    public tests: {summary.passed}/{summary.total} passed"
        line += f", {summary.skipped} skipped" if summary.skipped else ""
        if summary.not_started:
            _say(line + " (still the stub: every test stops at its TODO; this task scores 0)")
            continue
        _say(line)
        for name, message in summary.failures[:5]:
            _say(f"      failed {name}: {message[:160]}")
        if len(summary.failures) > 5:
            _say(f"      ... and {len(summary.failures) - 5} more failed")


def run(args: argparse.Namespace) -> int:
    from dlkit.submit.layout import HandoutError, find_handout
    from dlkit.submit.pack import collect, write_zip
    from dlkit.submit.public_tests import run_public_tests

    try:
        root = find_handout(Path(args.path).resolve())
    except HandoutError as exc:
        print(f"dlkit submit: error: {exc} (no zip written)", file=sys.stderr)
        return 1
    out = Path(args.out).resolve()
    tasks, warnings = _chosen(args.task)
    _say(f"dlkit submit: checking {root}")
    errors = {}
    for task in tasks:
        _say(f"  {task.id} {task.path}: checking ...")
        errors[task.id] = _task_problems(root, task)
        if _inside(out, root / task.folder):
            errors[task.id].append(f"--out {out}: write the zip outside the task folders")
    tests = {}
    if not any(errors.values()):
        _say("  running the public tests ...")
        try:
            tests = run_public_tests(root, tasks)
        except RuntimeError as exc:
            warnings.append(f"public tests not run: {exc}")
    contents = collect(root, tasks)
    warnings += contents.warnings

    _say()
    _print_summary(tasks, errors, tests)
    overall = list(contents.errors)
    if tests and all(s.not_started for s in tests.values()):
        overall.append("every task is still the stub: this zip would score 0; fill in the "
                       "TODOs first (see the README of each task)")
    for warning in warnings:
        _say(f"warning: {warning}")
    for problem in overall:
        _say(f"ERROR: {problem}")
    failed = sum(len(p) for p in errors.values()) + len(overall)
    if failed:
        print(f"dlkit submit: error: {failed} problem(s) above would cost points for nothing; "
              f"fix them and run dlkit submit again (no zip written)", file=sys.stderr)
        return 1
    try:
        write_zip(contents, out)
    except (ValueError, OSError) as exc:
        print(f"dlkit submit: error: {exc} (no zip written)", file=sys.stderr)
        return 1
    _say(f"wrote {out} ({len(tasks)} task(s), {len(contents.files)} files, "
         f"{out.stat().st_size / 1024:.0f} KiB): hand in this file")
    return 0
