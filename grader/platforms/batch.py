"""Grade a whole class: one sub-folder or .zip per student, in parallel, into a gradebook.

A row's status: ``graded``, ``missing`` (readable, but none of the graded tasks is in it),
``unreadable`` (not a zip or folder of the tasks, empty, too large), ``timeout``, ``error``
(no record) or ``grader-error``; ``stray_files`` lists files that belong to no task.

Copying is flagged, never penalized (grader.similarity): each record carries the overlaps of
the student's code with dlkit's own implementations and the model answers (from grading) and
with every other student's (added when the gradebook is written), and ``<csv
stem>-similarity.csv`` lists every pair of students above the threshold with the
overlapping lines.  The gradebook's ``flags`` column counts a student's flags.

Each student is graded by a separate ``dlkit-grade`` process (its own sandboxed workers,
its own time limit), so one student's crash, hang or grader failure never loses another
student's grade: that row says what went wrong and the others are complete. The process
writes into a staging folder; a record reaches ``<csv stem>-records/<student>.json`` only
once its grading has finished, so an interrupted batch never replaces a finished record
with part of one. The gradebook and the LMS files are written from the records
(grader.platforms.records).

- ``grade_all``: the class, or one shard of it (``shard=(i, n)``: the students at positions
  i, i+n, i+2n, … of the class sorted by name), whose records ``merge`` joins.
- ``regrade``: a few students of an existing gradebook (``--only``); their new records
  replace the old ones only once all of them are graded, so an interrupted regrade leaves
  the gradebook as it was.
- ``merge``: the gradebook of a class graded in shards, as one batch would have written it.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from grader import similarity
from grader.ipc.printable import printable
from grader.platforms import gradebook, records
from grader.platforms.gradebook import GradebookError, Roster
from grader.scoring import submission
from grader.scoring.runner import DEFAULT_BUDGETS

MARGIN = 120.0  # seconds per student on top of the assignment budgets (start-up, copying)
GRACE = 10.0  # seconds a stopped child grader has to clean up before it is killed


def students(folder: Path) -> list[tuple[str, Path]]:
    """(student id, path) for each sub-folder or .zip of ``folder``, sorted by id."""
    found = []
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        if path.is_dir():
            found.append((path.name, path))
        elif path.suffix.lower() == ".zip" and path.is_file():
            found.append((path.stem, path))
    ids = [sid for sid, _ in found]
    dupes = sorted({sid for sid in ids if ids.count(sid) > 1})
    if dupes:
        raise GradebookError(f"{folder}: students with both a folder and a zip: {dupes}")
    return sorted(found)


def parse_shard(spec: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N), 1 <= I <= N."""
    parts = spec.split("/")
    try:
        i, n = (int(p) for p in parts) if len(parts) == 2 else (0, 0)
    except ValueError:
        i, n = 0, 0
    if not 1 <= i <= n:
        raise GradebookError(f"--shard: expected I/N with 1 <= I <= N (shard I of N, e.g. "
                             f"2/4), got {spec!r}")
    return i, n


def shard_of(names: list[str], shard: tuple[int, int]) -> list[str]:
    """The students of shard (i, n): positions i-1, i-1+n, … of ``names`` (sorted)."""
    i, n = shard
    return sorted(names)[i - 1::n]


@dataclass
class Settings:
    """How every student of a batch is graded."""

    assignments: list[str]
    budget: float | None = None
    checks_dir: Path | None = None
    jobs: int = 1


@dataclass
class _Children:
    """The grading processes running now, so that an interrupted batch stops them all."""

    running: dict[int, subprocess.Popen] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self, cmd: list[str]) -> subprocess.Popen | None:
        with self.lock:
            if self.stopping.is_set():
                return None
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, start_new_session=True)
            self.running[proc.pid] = proc
            return proc

    def done(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.running.pop(proc.pid, None)

    def stop_all(self) -> None:
        with self.lock:
            self.stopping.set()
            running = list(self.running.values())
        for proc in running:
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Stop a child ``dlkit-grade``: SIGTERM lets it stop its checks process and remove its
    run folder; what is left of its process group after GRACE seconds is killed."""
    try:
        proc.terminate()
        proc.wait(timeout=GRACE)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def grade_one(path: Path, record_path: Path, settings: Settings,
              children: _Children) -> tuple[str, str]:
    """Grade one student in a child ``dlkit-grade`` process writing ``record_path``;
    returns the batch's (status, note) for the student."""
    cmd = [sys.executable, "-m", "grader", str(path), "--format", "json", "--out",
           str(record_path), "--assignment", ",".join(settings.assignments)]
    if settings.budget:
        cmd += ["--budget", str(settings.budget)]
    if settings.checks_dir:
        cmd += ["--checks-dir", str(settings.checks_dir)]
    limit = sum(settings.budget or DEFAULT_BUDGETS[a] for a in settings.assignments) + MARGIN
    proc = children.start(cmd)
    if proc is None:
        return "error", "not graded: the batch was interrupted"
    try:
        _, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        stop(proc)
        proc.communicate()
        return "timeout", f"not finished within {limit:g} s"
    finally:
        children.done(proc)
    err_text = printable(err.decode("utf-8", "replace").strip())
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "error", f"exit status {proc.returncode}: {err_text[-300:]}"
    if proc.returncode != 0:
        return "grader-error", err_text[-300:]
    return record.get("status", "graded"), (record.get("error") or "")[:300]


def task_files(path: Path, assignments: list[str]) -> tuple[dict[str, list[list[str]]],
                                                            list[dict]]:
    """{task: [[path in the submission, text], ...]}: the files the similarity between
    students compares (grader.similarity.task_files; nothing for an unreadable one), and
    the files left out of it (too large), each with the reason."""
    skipped: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="dlkit-files-") as tmp:
        try:
            root = submission.prepare(path, Path(tmp) / "s")
        except submission.SubmissionError:
            return {}, []
        files = {aid: [list(f) for f in similarity.task_files(root, aid, skipped)]
                 for aid in assignments if (root / submission.ASSIGNMENTS[aid]).is_dir()}
    return files, skipped


def _record(name: str, path: Path, staged: Path, outcome: tuple[str, str],
            settings: Settings, grader: dict) -> dict:
    """The student's record as the gradebook keeps it: the grader's (possibly partial, or
    none after an error) with the batch's ``gradebook`` entry."""
    try:
        record = json.loads(staged.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {"submission": str(path), "status": outcome[0], "assignments": []}
    record["gradebook"] = {"student": name, "status": outcome[0], "note": outcome[1],
                           "assignments": settings.assignments, "grader": grader}
    files, skipped = task_files(path, settings.assignments)
    record["gradebook"]["files"] = files
    if skipped:
        record["gradebook"]["files_skipped"] = skipped
    return record


def _grade(todo: list[tuple[str, Path]], staging: Path, settings: Settings, grader: dict,
           on_done=None) -> dict[str, dict]:
    """Grade ``todo`` with ``settings.jobs`` in parallel into ``staging``; ``on_done(name,
    record)`` as each finishes. Ctrl-C or SIGTERM stops every child and re-raises."""
    children = _Children()

    def one(name: str, path: Path) -> tuple[str, dict]:
        staged = staging / f"{name}.json"
        outcome = grade_one(path, staged, settings, children)
        return name, _record(name, path, staged, outcome, settings, grader)

    from tqdm import tqdm

    done: dict[str, dict] = {}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=settings.jobs)
    try:
        futures = [pool.submit(one, name, path) for name, path in todo]
        bar = tqdm(concurrent.futures.as_completed(futures), total=len(futures),
                   desc="dlkit-grade batch", unit="student", disable=None, leave=False)
        for future in bar:
            name, record = future.result()
            done[name] = record
            if on_done:
                on_done(name, record)
    except BaseException:
        children.stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return done


def _staging(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))


def grade_all(folder: Path, out_csv: Path, settings: Settings, *,
              shard: tuple[int, int] = (1, 1), roster: Roster | None = None,
              export: str | None = None, feedback: Path | None = None,
              lang: str = "en") -> records.Written:
    """Grade every student of ``folder`` (or of its shard); write the gradebook."""
    found = dict(students(folder))
    names = sorted(found)
    if roster is not None:
        gradebook.match(roster, names)  # two submissions for one student: stop here
    grader = records.grader_identity(settings.assignments, settings.checks_dir)
    todo = shard_of(names, shard)
    folder_r = records.records_dir(out_csv)
    staging = _staging(folder_r)

    def keep(name: str, record: dict) -> None:  # a finished record replaces the old one
        records.write_text(folder_r / f"{name}.json", records.dumps(record))

    try:
        graded = _grade([(n, found[n]) for n in todo], staging, settings, grader, keep)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest = records.Manifest(
        names, shard, todo, settings.assignments,
        records.max_points(settings.assignments, settings.checks_dir), grader,
        _options(roster, export, feedback, lang))
    return records.write(out_csv, manifest, graded, roster=roster, export=export,
                         feedback=feedback, lang=lang)


def _options(roster: Roster | None, export: str | None, feedback: Path | None,
             lang: str) -> dict:
    """The gradebook's options as the manifest keeps them (a regrade reuses them)."""
    return {"roster": str(roster.path.resolve()) if roster else None,
            "key": roster.key if roster else None, "export": export,
            "feedback": str(feedback.resolve()) if feedback else None, "lang": lang}


def existing(out_csv: Path) -> records.Manifest:
    """The manifest of the whole-class gradebook at ``out_csv`` (for a regrade)."""
    folder_r = records.records_dir(out_csv)
    if not (folder_r / records.MANIFEST).is_file():
        raise GradebookError(f"--only regrades students of an existing gradebook: expected "
                             f"{folder_r}/{records.MANIFEST} (written by dlkit-grade batch or "
                             f"merge with --out {out_csv}), got none")
    manifest = records.Manifest.read(folder_r)
    if manifest.shard != (1, 1):
        i, n = manifest.shard
        raise GradebookError(f"{folder_r} holds shard {i}/{n}: regrade in the merged "
                             f"gradebook (dlkit-grade merge … --out GRADES.csv, then --only)")
    return manifest


def regrade(folder: Path, out_csv: Path, only: list[str], settings: Settings, *,
            roster: Roster | None = None, export: str | None = None,
            feedback: Path | None = None, lang: str = "en") -> records.Written:
    """Regrade the students ``only`` of the gradebook at ``out_csv`` (from their submissions
    in ``folder``) and update their rows and records; every other row stays as it was."""
    manifest = existing(out_csv)
    found = dict(students(folder))
    unknown = [n for n in only if n not in found]
    if unknown:
        raise GradebookError(f"--only: no submission named {', '.join(map(repr, unknown))} in "
                             f"{folder}; its submissions are: {', '.join(sorted(found)) or 'none'}")
    if settings.assignments != manifest.assignments:
        raise GradebookError(f"--assignment {','.join(settings.assignments)}: the gradebook "
                             f"graded {','.join(manifest.assignments)}: regrade the same")
    grader = records.grader_identity(settings.assignments, settings.checks_dir)
    why = records.differs(grader, manifest.grader)
    if why:
        raise GradebookError(f"{out_csv} was graded with {why} than this grader: a regrade "
                             f"would mix two graders in one gradebook; grade the whole class "
                             f"again (without --only)")
    names = sorted(set(manifest.names) | set(only))
    if roster is not None:
        gradebook.match(roster, names)
    folder_r = records.records_dir(out_csv)
    kept = {n: records.read_record(folder_r, n, manifest.grader)
            for n in manifest.graded if n not in only}
    staging = _staging(folder_r)
    try:
        new = _grade([(n, found[n]) for n in dict.fromkeys(only)], staging, settings, grader)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest.names, manifest.graded = names, names
    manifest.options = _options(roster, export, feedback, lang)
    return records.write(out_csv, manifest, {**kept, **new}, roster=roster, export=export,
                         feedback=feedback, lang=lang)


def merge(folders: list[Path], out_csv: Path, *, roster: Roster | None = None,
          export: str | None = None, feedback: Path | None = None,
          lang: str = "en") -> records.Written:
    """The gradebook of a class graded in shards (their records folders), as one batch of
    the whole class writes it; the similarity between students over the whole class."""
    manifest, graded = records.load(folders)
    if roster is not None:
        gradebook.match(roster, manifest.names)
    manifest.options = _options(roster, export, feedback, lang)
    return records.write(out_csv, manifest, graded, roster=roster, export=export,
                         feedback=feedback, lang=lang)
