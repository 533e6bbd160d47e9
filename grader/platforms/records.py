"""A class's records folder: who was graded, by which grader, and the gradebook made from it.

``dlkit-grade batch … --out grades.csv`` keeps one JSON record per student in
``grades-records/<student>.json`` and describes the folder in ``grades-records/class.manifest``
(JSON): the class (every submission's name in the folder graded), which shard of it this
folder holds (``[1, 1]`` for a whole class), the assignments, each assignment's maximum
points, the grader that graded them and the gradebook's options (roster, export, feedback,
language). Each record carries the same grader identity in its ``gradebook`` entry, with
the batch's status and note for the student and the student's task files (for the
similarity between students, computed from the records so that a merge needs no
submissions).

The grader identity is the dlkit version, a hash of the points of the graded assignments
and a hash of the grader's and dlkit's source files (the checks included): records graded
with other points or another grader never end up in one gradebook (``load`` refuses them,
naming the folders).

``write`` makes every file of the gradebook from the records: the similarity between
students (the whole class), each record with its flags (a file only rewritten when its
content changes), the similarity table, the manifest, the gradebook CSV, the LMS file and
the feedback files, each written atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import dlkit
from grader import GRADER_DIR, similarity
from grader.ipc.printable import printable
from grader.platforms import gradebook
from grader.platforms.gradebook import GradebookError, Roster

MANIFEST = "class.manifest"  # not "<name>.json": no student's record can have this name
FORMAT = 1
DLKIT_DIR = Path(dlkit.__file__).resolve().parent
SIMILARITY_COLUMNS = ["task", "student", "other", "file", "other_file", "similarity",
                      "similarity_other", "lines", "lines_other", "overlap"]


def records_dir(out_csv: Path) -> Path:
    return out_csv.with_name(out_csv.stem + "-records")


def sibling(out_csv: Path, suffix: str) -> Path:
    """``grades.csv`` -> ``grades-<suffix>.csv``."""
    return out_csv.with_name(f"{out_csv.stem}-{suffix}.csv")


def write_text(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically, unless the file already holds it; True if
    written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)
    return True


def dumps(obj: dict) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _sha(chunks: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(len(chunk).to_bytes(8, "little"))
        h.update(chunk)
    return h.hexdigest()


def _source_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".md"))


def grader_identity(assignments: list[str], checks_dir: Path | None) -> dict:
    """What a record's grade depends on: dlkit's version, the points of ``assignments`` and
    the grader's and dlkit's source (the checks folder in use included)."""
    from grader.scoring import runner

    options = runner.Options(checks_dir=checks_dir)
    points = runner.load_points(options.resolved_points_file())
    roots = [GRADER_DIR, DLKIT_DIR]
    checks = options.resolved_checks_dir()
    if not checks.is_relative_to(GRADER_DIR):
        roots.append(checks)
    files = [(root, p) for root in roots for p in _source_files(root)]
    return {"dlkit": dlkit.__version__,
            "points": _sha([json.dumps({a: points.get(a, {}) for a in assignments},
                                       sort_keys=True).encode()]),
            "source": _sha(part for root, p in files
                           for part in (f"{root.name}/{p.relative_to(root)}".encode(),
                                        p.read_bytes()))}


def max_points(assignments: list[str], checks_dir: Path | None) -> dict[str, float]:
    from grader.scoring import runner

    points = runner.load_points(runner.Options(checks_dir=checks_dir).resolved_points_file())
    return {a: round(sum(points.get(a, {}).values()), 2) for a in assignments}


@dataclass
class Manifest:
    """``class.manifest`` of a records folder (see the module docstring)."""

    names: list[str]  # the whole class
    shard: tuple[int, int]
    graded: list[str]  # the students whose records this folder holds
    assignments: list[str]
    max_points: dict[str, float]
    grader: dict
    options: dict

    def to_json(self) -> str:
        return dumps({"format": FORMAT, "class": self.names, "shard": list(self.shard),
                      "graded": self.graded, "assignments": self.assignments,
                      "max_points": self.max_points, "grader": self.grader,
                      "options": self.options})

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        if not folder.is_dir():
            raise GradebookError(f"{folder}: expected a records folder written by dlkit-grade "
                                 f"batch (<gradebook>-records/), got no such folder")
        data = _read_json(path, f"{folder}: expected a records folder written by dlkit-grade "
                                f"batch, but it has no {MANIFEST}")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise GradebookError(f"{path}: expected a manifest of format {FORMAT}, got "
                                 f"{data.get('format') if isinstance(data, dict) else data!r}")
        try:
            return cls(list(data["class"]), (int(data["shard"][0]), int(data["shard"][1])),
                       list(data["graded"]), list(data["assignments"]),
                       {k: float(v) for k, v in data["max_points"].items()},
                       dict(data["grader"]), dict(data.get("options", {})))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise GradebookError(f"{path}: not a complete manifest ({type(exc).__name__}: "
                                 f"{exc}): write it again with dlkit-grade batch") from None


def _read_json(path: Path, missing: str):
    """The JSON document at ``path``; GradebookError ``missing`` when there is no such file,
    and one naming the file when it cannot be read or parsed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GradebookError(missing) from None
    except (OSError, ValueError) as exc:
        raise GradebookError(f"{path}: cannot be read: {exc}") from None


def differs(a: dict, b: dict) -> str:
    """What differs between two grader identities, in words (empty if nothing)."""
    if a.get("points") != b.get("points"):
        return "different points (points.toml)"
    if a.get("dlkit") != b.get("dlkit"):
        return f"different dlkit versions ({a.get('dlkit')} and {b.get('dlkit')})"
    if a.get("source") != b.get("source"):
        return "different grader or dlkit source (another version or checkout of dlkit)"
    return ""


def read_record(folder: Path, name: str, grader: dict) -> dict:
    path = folder / f"{name}.json"
    record = _read_json(path, f"{folder}: the record of {name!r} is missing ({path.name}): "
                              f"did that batch finish?")
    book = record.get("gradebook") if isinstance(record, dict) else None
    if not isinstance(book, dict):
        raise GradebookError(f"{path}: expected a record written by dlkit-grade batch (with "
                             f"its gradebook entry), got none")
    why = differs(book.get("grader", {}), grader)
    if why:
        raise GradebookError(f"{path} was graded with {why} than the rest of {folder}: "
                             f"regrade it with the grader that graded the others")
    return record


def load(folders: list[Path]) -> tuple[Manifest, dict[str, dict]]:
    """The class and every student's record from the records folders of its shards (or of
    one whole class); raises GradebookError unless they are the N shards of one class,
    graded by one grader."""
    manifests = [Manifest.read(f) for f in folders]
    first, where = manifests[0], folders[0]
    for m, f in zip(manifests[1:], folders[1:], strict=True):
        why = differs(m.grader, first.grader)
        if why:
            raise GradebookError(f"{f} and {where} were graded with {why}: a gradebook merges "
                                 f"records of one grader only (regrade one of them)")
        if m.assignments != first.assignments:
            raise GradebookError(f"{f} graded {','.join(m.assignments)} and {where} "
                                 f"{','.join(first.assignments)}: expected the same assignments")
        if m.names != first.names or m.shard[1] != first.shard[1]:
            raise GradebookError(f"{f} and {where} are not shards of one class (different "
                                 f"submissions folders or shard counts: {m.shard[1]} and "
                                 f"{first.shard[1]}): give every shard the same SUBS")
    n = first.shard[1]
    numbers = sorted(m.shard[0] for m in manifests)
    if numbers != list(range(1, n + 1)):
        given = ", ".join(f"{m.shard[0]}/{n} ({f})" for m, f in zip(manifests, folders,
                                                                       strict=True))
        missing = sorted(set(range(1, n + 1)) - set(numbers))
        twice = sorted({x for x in numbers if numbers.count(x) > 1})
        raise GradebookError(
            f"expected the records of shards 1/{n} … {n}/{n}, each once; got {given}"
            + (f"; missing: {', '.join(f'{x}/{n}' for x in missing)}" if missing else "")
            + (f"; given twice: {', '.join(f'{x}/{n}' for x in twice)}" if twice else ""))
    records: dict[str, dict] = {}
    for m, f in zip(manifests, folders, strict=True):
        for name in m.graded:
            records[name] = read_record(f, name, first.grader)
    lost = [name for name in first.names if name not in records]
    if lost:
        raise GradebookError(f"no shard graded {', '.join(lost)}: expected every submission "
                             f"of the class in one shard")
    whole = Manifest(first.names, (1, 1), list(first.names), first.assignments,
                     first.max_points, first.grader, {})
    return whole, records


def _ranges(ranges) -> str:
    return " ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def between_students(records: dict[str, dict],
                     assignments: list[str]) -> tuple[list[dict], list[dict]]:
    """Every pair of students whose files of a task overlap (grader.similarity.pairs), from
    the files kept in their records, and what was not compared (``skipped``: too large, or
    the task's time was up). Every pair is compared: the time grows with the square of the
    class, bounded per task by ``similarity.SECONDS`` plus a second per student."""
    skipped: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="dlkit-similarity-") as tmp:
        roots: dict[str, Path] = {}
        for name, record in records.items():
            files = record["gradebook"].get("files", {})
            skipped += [{**x, "student": name} for x in record["gradebook"].get(
                "files_skipped", [])]
            if not files:
                continue  # unreadable or not graded: nothing to compare (its row says why)
            root = roots[name] = Path(tmp) / f"s{len(roots)}"
            for rel, text in (pair for aid in assignments for pair in files.get(aid, [])):
                if Path(rel).is_absolute() or ".." in Path(rel).parts:
                    continue  # not a path inside a submission: never written
                path = root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
        found = []
        for aid in assignments:
            deadline = time.monotonic() + similarity.SECONDS + len(roots)
            try:
                found += similarity.pairs(roots, aid, skipped=skipped, deadline=deadline)
            except Exception as exc:  # noqa: BLE001 - the grades stand without the table
                print(printable(f"dlkit-grade: similarity of {aid} not compared: "
                                f"{type(exc).__name__}: {exc}"), file=sys.stderr)
    for s in skipped:  # the TA's log: what the similarity table does not cover
        print(printable(f"dlkit-grade: similarity {s['task']}: {s.get('student', '')} "
                        f"{s['file']}: {s['reason']}"), file=sys.stderr)
    return found, [{**s, "between_students": True} for s in skipped]


def _flags(pairs: list[dict]) -> dict[str, list[dict]]:
    """Each student's flags from the pairs, naming the other student's file."""
    flags: dict[str, list[dict]] = {}
    for pair in pairs:
        flags.setdefault(pair["student"], []).append(
            {"task": pair["task"], "file": pair["file"], "other_student": pair["other"],
             "with": f"student {pair['other']}: {pair['other_file']}",
             **{k: pair[k] for k in ("similarity", "similarity_other", "lines",
                                     "lines_other", "overlap")}})
        flags.setdefault(pair["other"], []).append(
            {"task": pair["task"], "file": pair["other_file"],
             "other_student": pair["student"],
             "with": f"student {pair['student']}: {pair['file']}",
             "similarity": pair["similarity_other"], "similarity_other": pair["similarity"],
             "lines": pair["lines_other"], "lines_other": pair["lines"],
             "overlap": pair["overlap_other"]})
    return flags


def similarity_csv(pairs: list[dict]) -> str:
    rows = [{**p, "lines": _ranges(p["lines"]), "lines_other": _ranges(p["lines_other"])}
            for p in pairs]
    return gradebook.csv_text(SIMILARITY_COLUMNS, rows)


@dataclass
class Written:
    """What ``write`` made, for the command's summary."""

    rows: list[dict]
    export: Path | None = None
    left_out: list[str] | None = None  # roster rows not in the LMS file, and why
    feedback: list[Path] | None = None
    no_feedback: list[str] | None = None  # students without a final grade


@contextlib.contextmanager
def _whole():
    """The gradebook's files are written as a whole: Ctrl-C or SIGTERM during the few
    seconds that takes is held until they are all written."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if held:
            print("dlkit-grade: a stop signal came while the gradebook was being written: "
                  "it was written in full first", file=sys.stderr)


def write(out_csv: Path, manifest: Manifest, records: dict[str, dict], *,
          roster: Roster | None = None, export: str | None = None,
          feedback: Path | None = None, lang: str = "en") -> Written:
    """Write the gradebook of ``records`` (every student of ``manifest``'s class, or of its
    shard: then without the similarity between students, which the merge computes)."""
    names = manifest.graded
    whole = manifest.shard[1] == 1
    pairs, skipped = between_students({n: records[n] for n in names},
                                      manifest.assignments) if whole else ([], [])
    with _whole():
        return _write(out_csv, manifest, records, pairs, skipped, roster=roster,
                      export=export, feedback=feedback, lang=lang)


def _write(out_csv: Path, manifest: Manifest, records: dict[str, dict], pairs: list[dict],
           skipped: list[dict], *, roster: Roster | None, export: str | None, feedback: Path | None,
           lang: str) -> Written:
    folder = records_dir(out_csv)
    names = manifest.graded
    whole = manifest.shard[1] == 1
    peers = _flags(pairs)
    for name in names:
        record = records[name]
        own = [f for f in record.get("similarity", []) if "other_student" not in f]
        if "similarity" in record or peers.get(name):
            record["similarity"] = own + peers.get(name, [])
        own_skipped = [x for x in record.get("similarity_skipped", [])
                       if not x.get("between_students")]
        mine = [x for x in skipped if x.get("student") == name]
        if own_skipped or mine:
            record["similarity_skipped"] = own_skipped + mine
        write_text(folder / f"{name}.json", dumps(record))
    if whole:
        write_text(sibling(out_csv, "similarity"), similarity_csv(pairs))
    write_text(folder / MANIFEST, manifest.to_json())
    columns, rows = gradebook.table(records, names, manifest.assignments, roster)
    write_text(out_csv, gradebook.csv_text(columns, rows))
    done = Written(rows)
    if export and roster is not None:
        done.export = sibling(out_csv, export)
        if export == "canvas":
            text = gradebook.canvas(roster, records, names, manifest.assignments,
                                    manifest.max_points)
            done.left_out = []
        else:
            text, done.left_out = gradebook.moodle(roster, records, names,
                                                   manifest.assignments, lang)
        write_text(done.export, text)
    if feedback is not None:
        done.feedback, done.no_feedback = [], []
        for name in names:
            record = records[name]
            if record["gradebook"]["status"] in gradebook.FINAL:
                path = feedback / f"{name}.md"
                write_text(path, gradebook.feedback_markdown(record, lang))
                done.feedback.append(path)
            else:
                done.no_feedback.append(f"{name} ({record['gradebook']['status']})")
    return done
