"""Grade a submission: run each assignment's hidden checks in a trusted pytest process.

    record = grade("submissions/alice.zip", ["a2"])     # the full record (a dict)

Per assignment the runner starts ``pytest -p grader.scoring.plugin <checks>/test_aN.py`` as a
separate trusted process (it never imports student code itself; its workers do) with a
wall-clock budget; the plugin writes every finished check to a results file in a
directory only the grader can enter (0700, owned by the grader; hidden from the workers).
The runner then applies the points (``points.toml``: ``[a1]`` ``test_name = points``; a
parametrized check ``test_x[...]`` shares the points of ``test_x`` equally unless listed by
its full name) and lists every check of the points file, run or not, with the reason.

A platform that kills the whole run at a time limit (Gradescope: 10 minutes by default)
is given as ``Options.total_budget``: the budgets of the assignments to grade are then
scaled down to fit it (:func:`fit_budgets`). ``grade(..., progress=f)`` calls ``f(record)``
with the record so far after every finished check, so that a report rewritten each time
keeps every finished check's feedback if the platform stops the run.

``DLKIT_GRADE_CHECKS_DIR`` (or ``checks_dir=``) points the runner at another checks folder
(with its own ``points.toml``): the project's tests use a tiny one under tests/grader_cases.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dlkit.tasks import TASKS
from grader import GRADER_DIR, similarity
from grader.sandbox import kernel_cache, reaper
from grader.sandbox.handle import SandboxError, Worker, installation_modules
from grader.sandbox.isolation import base_level, detect_isolation, isolation_note
from grader.scoring import locate, messages, preflight, submission
from grader.scoring.catalog import Text, plain

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

ASSIGNMENTS = submission.ASSIGNMENTS
# Wall-clock budget per assignment (s): the checks + every worker start-up and call.
DEFAULT_BUDGETS = {"a1": 120.0, "a2": 120.0, "a3": 300.0, "a4": 180.0}
# Seconds of a run outside the assignments' budgets (start-up, unpacking the submission,
# the isolation probe, the report), kept free within a total budget.
RESERVE = 30.0
# Budgets are never scaled below this fraction of what was asked: a total budget that
# small is a configuration error, not the student's problem.
MIN_SCALE = 0.25
POLL = 0.5  # seconds between looks at the results file while the checks run
KEEPER_GRACE = 30.0  # seconds the keeper may take to kill what the checks started
TITLES = {tid: task.title for tid, task in TASKS.items()}


class GraderError(RuntimeError):
    """The grader itself cannot run (bad configuration, missing checks)."""


@dataclass
class Options:
    checks_dir: Path | None = None
    points_file: Path | None = None
    budgets: dict = field(default_factory=dict)
    keep_run_dir: bool = False
    total_budget: float | None = None  # the platform's limit on the whole run (s)

    def resolved_checks_dir(self) -> Path:
        path = (self.checks_dir or os.environ.get("DLKIT_GRADE_CHECKS_DIR")
                or GRADER_DIR / "checks")
        return Path(path).resolve()

    def resolved_points_file(self) -> Path:
        if self.points_file:
            return Path(self.points_file)
        local = self.resolved_checks_dir() / "points.toml"
        return local if local.is_file() else GRADER_DIR / "points.toml"


def load_points(path: Path) -> dict[str, dict[str, float]]:
    """``{"a1": {"test_name": points, ...}, ...}`` from a points.toml; validated."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GraderError(f"points file {path}: {exc}") from None
    points = {}
    for aid, table in data.items():
        if aid not in ASSIGNMENTS or not isinstance(table, dict):
            continue  # other tables (e.g. [meta]) are not points
        for name, value in table.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise GraderError(f"points file {path}: [{aid}] {name}: expected a number "
                                  f">= 0, got {value!r}")
        points[aid] = {name: float(v) for name, v in table.items()}
    return points


def fit_budgets(budgets: dict[str, float], total: float) -> dict[str, float]:
    """``budgets`` scaled down by one factor (never up) so that they add up to ``total``.

    Raises GraderError when that factor would be below MIN_SCALE.
    """
    asked = sum(budgets.values())
    if asked <= total:
        return dict(budgets)
    scale = total / asked
    if scale < MIN_SCALE:
        raise GraderError(
            f"total budget: {total:.0f} s left for {', '.join(budgets)}, which ask for "
            f"{asked:.0f} s; at least {MIN_SCALE * asked + RESERVE:.0f} s are needed in all "
            f"(raise the platform's time limit, or grade fewer assignments per run)")
    return {aid: seconds * scale for aid, seconds in budgets.items()}


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)
    return path


def run_checks(aid: str, root: Path, run_dir: Path, options: Options,
               kernels: Path | None = None, budget: float | None = None,
               progress: Callable[[list], None] | None = None) -> dict:
    """Run the checks of one assignment; returns ``{"status", "checks", "log", "seconds"}``.

    ``progress(checks)`` is called with the verified checks so far each time the checks
    process rewrites its results file.
    """
    checks_file = options.resolved_checks_dir() / f"test_{aid}.py"
    if not checks_file.is_file():
        raise GraderError(f"no checks for {aid}: {checks_file} does not exist")
    results_dir = _private_dir(run_dir / f"results-{aid}")
    results = results_dir / "results.json"
    ini = results_dir / "pytest.ini"
    ini.write_text("[pytest]\naddopts =\n", encoding="utf-8")
    env = dict(os.environ, DLKIT_GRADE_SUBMISSION=str(root), DLKIT_GRADE_ASSIGNMENT=aid,
               DLKIT_GRADE_RESULTS=str(results), DLKIT_GRADE_RUN_DIR=str(run_dir),
               PYTHONDONTWRITEBYTECODE="1", DLKIT_GRADE_KERNELS=str(kernels or ""),
               PYTHONPATH=os.pathsep.join([str(GRADER_DIR.parent),
                                           os.environ.get("PYTHONPATH", "")]).rstrip(":"))
    # under a keeper (grader.sandbox.reaper): when the checks end, or at the budget,
    # nothing they started is left running
    cmd = [sys.executable, "-m", "grader.sandbox.reaper", "--",
           sys.executable, "-m", "pytest", str(checks_file), "-p", "grader.scoring.plugin",
           "-p", "no:cacheprovider", "-c", str(ini), "--rootdir", str(checks_file.parent),
           "-q", "--no-header", "-rN", "--tb=short"]
    budget = budget or options.budgets.get(aid, DEFAULT_BUDGETS[aid])
    start = time.monotonic()
    log_path = results_dir / "pytest.log"
    with open(log_path, "wb") as log:
        key = secrets.token_hex(32)
        key_r, key_w = os.pipe()  # the key travels on a pipe: not in env, argv or a file
        env["DLKIT_GRADE_KEY_FD"] = str(key_r)
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    env=env, cwd=results_dir, start_new_session=True,
                                    pass_fds=(key_r,))
        finally:
            os.close(key_r)
        os.write(key_w, key.encode())
        os.close(key_w)
        rc, status = _wait(proc, start + budget, results, key.encode(), progress)
    seconds = time.monotonic() - start
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    data: dict = {"checks": [], "complete": False}
    if results.is_file():
        verified = _verified(results, key.encode())
        if verified is None:
            status = "tampered"
        else:
            data = verified
    if data.get("grader_fault"):  # no worker could start: the installation's fault
        raise GraderError(f"{aid}: {data['grader_fault']}")
    if rc == reaper.SURVIVORS:
        status = "grader"  # something the checks started could not be killed
    if status == "graded" and (rc not in (0, 1) or not data.get("complete")):
        status = "grader"  # collection error, internal error, no tests
    problem = data.get("task_error")
    if status == "graded" and problem:
        status = "not-loaded"  # the student's module failed to import: said once
    return {"status": status, "checks": data.get("checks", []), "log": log_text[-5000:],
            "seconds": seconds, "budget": budget,
            **({"problem": problem} if problem else {})}


def _wait(proc: subprocess.Popen, deadline: float, results: Path, key: bytes,
          progress: Callable[[list], None] | None) -> tuple[int, str]:
    """Wait for the checks process until ``deadline`` (monotonic); kill it there.

    Returns ``(returncode, "graded" | "budget")``; reports each new results file."""
    seen = None
    while True:
        try:
            return proc.wait(timeout=max(0.0, min(POLL, deadline - time.monotonic()))), "graded"
        except subprocess.TimeoutExpired:
            pass
        except BaseException:  # the grader is stopped (SIGTERM, Ctrl-C): so are the checks
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        if time.monotonic() >= deadline:
            # the keeper kills the checks and everything they started, then exits
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(timeout=KEEPER_GRACE), "budget"
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait(), "budget"
        if progress is not None:
            try:
                st = results.stat()
            except FileNotFoundError:
                continue
            if (st.st_mtime_ns, st.st_size) != seen:
                seen = (st.st_mtime_ns, st.st_size)
                data = _verified(results, key)
                if data is not None:
                    progress(data.get("checks", []))


def _verified(path: Path, key: bytes) -> dict | None:
    """The results written by our checks process, or None if the file was forged."""
    try:
        outer = json.loads(path.read_text(encoding="utf-8"))
        payload = outer["payload"]
        tag = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(tag, str(outer["hmac"])):
            return None
        return json.loads(payload)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _points(x: float) -> float:
    """Points as recorded and reported: at most two decimals."""
    return round(x, 2)


def score(aid: str, run: dict, points: dict[str, float]) -> dict:
    """Apply the points to one assignment's results; lists unrun checks with the reason."""
    checks = []
    counts: dict[str, int] = {}
    for rec in run["checks"]:
        base = rec["name"].split("[", 1)[0]
        counts[base] = counts.get(base, 0) + 1
    seen: set[str] = set()
    warnings = []
    for rec in run["checks"]:
        name, base = rec["name"], rec["name"].split("[", 1)[0]
        if name in points:
            max_score = points[name]
        elif base in points:
            max_score = points[base] / counts[base]
        else:
            max_score = 0.0
            warnings.append(f"{aid}: check {name} has no points in points.toml")
        seen.update((name, base))
        fraction = float(rec.get("fraction", 0.0)) if rec.get("outcome") == "passed" else 0.0
        checks.append({"name": name, "score": _points(max_score * fraction),
                       "max_score": max_score, "outcome": rec.get("outcome", "failed"),
                       "message": rec.get("message", dict(plain(""))),
                       "output": rec.get("output", ""), "duration": rec.get("duration", 0.0)})
    reason = {"graded": "no-result", "budget": "budget", "grader": "grader",
              "missing": "missing", "unreadable": "unreadable", "not-loaded": "see-above",
              "tampered": "tampered", "stopped": "stopped"}[run["status"]]
    for name, max_score in points.items():
        if name not in seen:
            message = messages.not_run(reason, run.get("detail"))
            checks.append({"name": name, "score": 0.0, "max_score": max_score,
                           "outcome": "not-run", "message": dict(message),
                           "output": "", "duration": 0.0})
    return {"id": aid, "folder": ASSIGNMENTS[aid], "title": TITLES[aid],
            "status": run["status"],
            "score": _points(sum(c["score"] for c in checks)),
            "max_score": _points(sum(c["max_score"] for c in checks)),
            "seconds": round(run.get("seconds", 0.0), 2),
            "budget": round(run.get("budget", 0.0), 1), "checks": checks,
            "warnings": warnings, **({"log": run["log"]} if run["status"] == "grader" else {}),
            **({"problem": run["problem"]} if run.get("problem") else {})}


def prove_installation(run_dir: Path, isolation: str) -> None:
    """Start a worker at ``isolation`` (no student code) that imports numpy, numba and every
    dlkit module from the installation in use; GraderError (exit 3) naming cause and fix
    if it cannot, before any student is graded."""
    try:
        with Worker(None, run_dir=run_dir, isolation=isolation) as w:
            w.prove(installation_modules())
    except SandboxError as exc:
        raise GraderError(
            f"the sandboxed worker ({isolation}) cannot import what the checks need, so no "
            f"submission was graded.\nCause: {exc}\nFix: run dlkit-grade with a Python whose "
            f"numpy, numba and dlkit import for every user (a virtual environment made from "
            f"a system Python, with dlkit installed by `pip install .` or `pip install -e "
            f"CHECKOUT` of the checkout whose grader you run), and whose folders other "
            f"users may enter.") from None


def grade(source: str | Path, assignments: list[str] | None = None,
          options: Options | None = None,
          progress: Callable[[dict], None] | None = None) -> dict:
    """Grade ``source`` (folder or zip) on ``assignments`` (default: all four).

    Returns the full record: submission, isolation, per-assignment scores and checks.
    ``progress(record)`` gets the record so far after every finished check: the checks not
    yet run are listed as "stopped" (what they stay if the platform ends the run there).
    Raises SubmissionError for an unreadable submission, GraderError for a broken grader.
    """
    options = options or Options()
    assignments = assignments or list(ASSIGNMENTS)
    for aid in assignments:
        if aid not in ASSIGNMENTS:
            raise GraderError(f"assignment: expected one of {', '.join(ASSIGNMENTS)}, got "
                              f"{aid!r}")
    points = load_points(options.resolved_points_file())
    started = time.time()
    run_dir = Path(tempfile.mkdtemp(prefix="dlkit-grade-"))
    try:
        os.chmod(run_dir, 0o711)  # workers pass through to their own work-* folder only
        root, layout = submission.unpack(source, _private_dir(run_dir / "trusted"))
        present = submission.present(root)
        isolation = detect_isolation()
        if present & set(assignments):
            prove_installation(run_dir, isolation)
        # dlkit's kernels compiled once by the trusted side (not timed in any budget), for
        # the assignments whose workers run them
        warmup = (kernel_cache.WARMUP_TIMEOUT if not options.total_budget
                  else min(kernel_cache.WARMUP_TIMEOUT, options.total_budget / 4))
        kernels = (kernel_cache.prepare(warmup) if base_level(isolation) != "session" and present
                   & set(assignments) & kernel_cache.USED_BY else None)
        budgets = {aid: options.budgets.get(aid, DEFAULT_BUDGETS[aid])
                   for aid in assignments if aid in present}
        if options.total_budget:
            left = options.total_budget - RESERVE - (time.time() - started)
            budgets = fit_budgets(budgets, left)
        results: list[dict] = []

        def partial(aid: str, checks: list) -> None:
            if progress is None:
                raise RuntimeError("grade: partial records need a progress callback")
            now = [*results, score(aid, {"status": "stopped", "checks": checks}, points.get(
                aid, {}))]
            now += [score(b, {"status": "stopped" if b in present else "missing",
                              "checks": []}, points.get(b, {}))
                    for b in assignments[len(now):]]
            progress(_record(source, isolation, started, _located(now, layout), layout))

        if progress:
            partial(assignments[0], [])

        for aid in assignments:
            problem = preflight.problem(root, aid) if aid in present else None
            if aid not in present:
                run = {"status": "missing", "checks": [], "log": "", "seconds": 0.0}
            elif problem:
                run = {"status": "not-loaded", "checks": [], "log": "", "seconds": 0.0,
                       "problem": dict(problem)}
            else:
                run = run_checks(aid, root, run_dir, options, kernels, budgets[aid],
                                 functools.partial(partial, aid) if progress else None)
            results.append(score(aid, run, points.get(aid, {})))
            if progress and len(results) < len(assignments):
                partial(assignments[len(results)], [])
        flags = _similarity_flags(root, [a for a in assignments if a in present])
    finally:
        if not options.keep_run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
    return _record(source, isolation, started, _located(results, layout), layout, flags,
                   graded=bool(present & set(assignments)))


def _located(results: list[dict], layout: locate.Layout) -> list[dict]:
    """Each assignment's result, with where its file was found (``found``: the path inside
    the submission and a message for the student) when not where the handout puts it."""
    out = []
    for result in results:
        found = layout.found.get(result["id"])
        message = found.message() if found is not None else None
        if found is not None and message is not None:
            result = {**result, "found": {"path": str(found.path), "message": dict(message)}}
        out.append(result)
    return out


def _record(source: str | Path, isolation: str, started: float, results: list[dict],
            layout: locate.Layout, flags: dict | None = None, graded: bool = True) -> dict:
    note = layout.stray_note()
    return {"submission": str(source), "status": "graded" if graded else "missing",
            "isolation": isolation,
            # for the instructor only (logs, extra_data, the batch record), never shown to
            # a student: what this isolation level does not protect
            "instructor": {"isolation_note": isolation_note(isolation)},
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "seconds": round(time.time() - started, 2),
            "score": _points(sum(a["score"] for a in results)),
            "max_score": _points(sum(a["max_score"] for a in results)),
            "assignments": results, "stray_files": list(layout.stray),
            # for the student: the files that were not graded (shown in every report)
            "notes": [dict(note)] if note else [],
            **(flags or {})}


def _similarity_flags(root: Path, assignments: list[str]) -> dict:
    """``{"similarity": [...]}``: each task's overlap with dlkit's own code and the model
    answers above the threshold (grader.similarity), for the TA; never part of a score; and
    ``similarity_skipped``, the files not compared (too large, or out of time).  A failure
    of the comparison is recorded, not raised: it must not cost a grade."""
    skipped: list[dict] = []
    deadline = time.monotonic() + similarity.SECONDS
    try:
        flags = [flag for aid in assignments for flag in similarity.reference_flags(
            root, aid, skipped=skipped, deadline=deadline)]
    except Exception as exc:  # noqa: BLE001 - the grade stands without the flags
        return {"similarity": [], "similarity_error": f"{type(exc).__name__}: {exc}"}
    return {"similarity": flags, **({"similarity_skipped": skipped} if skipped else {})}


def unreadable(source: str | Path, assignments: list[str], reason: Text,
               options: Options | None = None) -> dict:
    """The record of a submission that cannot be read (bad zip, too large): all zero.
    ``reason``: why, in every language (:class:`grader.scoring.submission.SubmissionError`'s
    ``text``)."""
    options = options or Options()
    points = load_points(options.resolved_points_file())
    run = {"status": "unreadable", "checks": [], "log": "", "seconds": 0.0, "detail": reason}
    results = [score(aid, run, points.get(aid, {})) for aid in assignments]
    return {"submission": str(source), "status": "unreadable", "isolation": "none (not run)",
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": 0.0, "score": 0.0,
            "max_score": _points(sum(a["max_score"] for a in results)),
            "assignments": results, "error": reason.en, "error_message": dict(reason)}
