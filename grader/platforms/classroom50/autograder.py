#!/usr/bin/env python3
"""Classroom 50 autograder for dlkit's assignments, written by ``dlkit-grade classroom50``.

Classroom 50's runner starts this file once per submission with the runner's Python, in
the student's checkout, with CLASSROOM, ASSIGNMENT, SUBMISSION_TAG, COMMIT_URL, RELEASE_URL,
REVIEW_URL, OWNER and GITHUB_* set. It

1. checks that this Python is the one the pinned packages were made for;
2. makes a virtual environment outside the checkout and installs exactly dlkit's wheel and
   requirements.lock (both beside this file), then checks that the installed packages are
   the lock's;
3. fetches Fashion-MNIST when a3 is graded;
4. grades the checkout with ``python -m grader``: through ``sudo`` when it may (a GitHub
   runner: root, so the isolation level ``namespaces``), else as the runner's own user
   (``landlock-same-uid``); the log says which;
5. writes ./result.json and ./release-body.md.

Exit 0 when grading ran to the end, whatever the score. Anything else is a fault of the
grading machinery (exit 2 before grading, 3 when the grader failed), which the runner
records as an error, never as a student's 0. Standard library only: nothing of dlkit is
installed when this starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTINGS = json.loads((HERE / "dlkit-grade.json").read_text(encoding="utf-8"))
STARTED = time.monotonic()
# handed to the grader through sudo, which clears the environment
GRADER_ENV = ("DLKIT_DATA_DIR", "DLKIT_GRADE_KERNEL_CACHE", "DLKIT_MIRROR")
ISOLATION_LINE = "dlkit-grade: isolation "


def log(message: str) -> None:
    print(f"autograder.py: {message}", file=sys.stderr, flush=True)


def fail(message: str, code: int = 2) -> None:
    print(f"::error::autograder.py: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def run(cmd: list[str], what: str, work: Path, code: int = 2, **kwargs) -> None:
    """Run ``cmd`` in ``work``. Every Python started here runs isolated (-I) there, outside
    the checkout: the student's repository holds a dlkit/ folder (and could hold grader/,
    pip/, venv/ ...), which a Python started in it would import instead of the installed."""
    proc = subprocess.run(cmd, cwd=work, **kwargs)
    if proc.returncode != 0:
        fail(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}", code)


def check_python() -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if here != SETTINGS["python"]:
        fail(f"this is Python {here}; the packages in requirements.lock were built and "
             f"tested with Python {SETTINGS['python']}. Set the assignment's runtime to it "
             f"(assignments.json: \"runtime\": {{\"python\": \"{SETTINGS['python']}\"}}), or "
             f"rebuild this folder with dlkit-grade classroom50 under Python {here}.")


def install(work: Path) -> Path:
    """A venv in ``work`` with the wheel and the lock; returns its Python."""
    venv = work / "venv"
    run([sys.executable, "-I", "-m", "venv", str(venv)], "making the virtual environment", work)
    python = venv / "bin" / "python"
    run([str(python), "-I", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--only-binary=:all:", "-r", str(HERE / SETTINGS["lock"]),
         str(HERE / SETTINGS["wheel"])], "installing dlkit and its pinned packages", work)
    run([str(python), "-I", "-m", "grader.platforms.lock", "check",
         str(HERE / SETTINGS["lock"])], "checking the installed packages against the lock", work)
    return python


def elevation(work: Path) -> list[str]:
    """``["sudo", "-n"]`` where this user may become root without a password (GitHub's
    runners), ``[]`` when already root or when sudo is not available."""
    if os.geteuid() == 0 or shutil.which("sudo") is None:
        return []
    probe = subprocess.run(["sudo", "-n", "true"], capture_output=True, cwd=work)
    return ["sudo", "-n"] if probe.returncode == 0 else []


def grade_quietly(cmd: list[str], env: dict[str, str], work: Path) -> int:
    """Run the grader, passing on what it prints, except what its isolation level does not
    protect: Classroom 50 has no log the student cannot read (the job runs in their
    repository), so only the level's name is said there."""
    proc = subprocess.Popen(cmd, env=env, cwd=work, stderr=subprocess.PIPE, text=True,
                            errors="replace")
    for line in proc.stderr:  # type: ignore[union-attr]
        if line.startswith(ISOLATION_LINE):
            level = line[len(ISOLATION_LINE):].split(":", 1)[0]
            line = (f"{ISOLATION_LINE}{level} (what this level does not protect: see "
                    "docs/instructors/classroom50.md)\n")
        sys.stderr.write(line)
        sys.stderr.flush()
    return proc.wait()


def main() -> int:
    check_python()
    missing = [n for n in ("CLASSROOM", "ASSIGNMENT", "SUBMISSION_TAG", "COMMIT_URL",
                           "RELEASE_URL") if not os.environ.get(n)]
    if missing:
        fail(f"{', '.join(missing)} not set: run by Classroom 50's autograde runner?")
    checkout = Path.cwd()
    # outside the checkout, and reachable by every user: the sandboxed workers (another
    # uid) run the venv's Python
    work = Path(tempfile.mkdtemp(prefix="dlkit-grade-"))
    os.chmod(work, 0o755)
    python = install(work)
    env = dict(os.environ, DLKIT_GRADE_KERNEL_CACHE=str(work / "kernels"))
    assignments = SETTINGS["assignments"]
    if "a3" in assignments:
        data = work / "data"
        data.mkdir(mode=0o700)
        env["DLKIT_DATA_DIR"] = str(data)
        run([str(python.parent / "dlkit"), "data", "fetch", "fashion-mnist"],
            "fetching Fashion-MNIST", work, env=env)
    submission = checkout / "assignments" if (checkout / "assignments").is_dir() else checkout
    record = work / "record.json"
    left = SETTINGS["job_seconds"] - SETTINGS["publish_seconds"] - (time.monotonic() - STARTED)
    sudo = elevation(work)
    log("grading " + ", ".join(assignments) + (" as root through sudo" if sudo else
        " as root" if os.geteuid() == 0 else " as this user (no passwordless sudo)"))
    grade = [str(python), "-I", "-m", "grader", str(submission), "--assignment",
             ",".join(assignments), "--lang", SETTINGS["lang"], "--format", "json",
             "--out", str(record), "--total-budget", f"{max(left, 1):.0f}"]
    if sudo:
        grade = [*sudo, "env", *(f"{k}={env[k]}" for k in GRADER_ENV if k in env), *grade]
    returncode = grade_quietly(grade, env, work)
    if returncode != 0:  # 3: the grader failed (its log says why), 2: usage
        fail(f"the grader did not finish (exit {returncode}): see its log above; "
             "nothing was recorded for the student", code=3)
    run([str(python), "-I", "-m", "grader.platforms.classroom50.result", str(record),
         "--checkout", str(checkout), "--lang", SETTINGS["lang"]], "writing result.json",
        work, code=3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
