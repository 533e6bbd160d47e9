"""Classroom 50's runner, reproduced: the folder written by ``dlkit-grade classroom50`` run
the way the runner runs ``CLASSROOM/autograders/ASSIGNMENT/autograder.py`` on a GitHub
runner (slow: it installs dlkit's pinned packages into a fresh venv each time).

- the runner's user: ``runner`` (uid 1001), not root, with passwordless sudo, as on
  GitHub's hosted runners; made in a private mount namespace (its own /etc/passwd,
  /etc/group, /etc/shadow and /etc/sudoers.d bound over the machine's), so nothing of this
  machine changes. Without the sudoers entry the same user grades as itself;
- its Python: a fresh venv of the system's Python, without dlkit (``python3 runner.py``
  starts the autograder with it);
- its environment: CLASSROOM, ASSIGNMENT, SUBMISSION_TAG, COMMIT_URL, RELEASE_URL,
  REVIEW_URL, USERNAME/OWNER, ASSIGNMENT_TYPE, GITHUB_*, RUNNER_TEMP,
  CLASSROOM50_BUNDLE_DIR; the working directory: the student's git checkout (the released
  handout, with the student's files committed at a known committer date).

Each run prints what it needed (wall time, CPU, peak memory of the process tree):

    python -m pytest -m slow tests/test_grader_classroom50_runner.py -s
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

import pytest
from autograder import _memory, process_tree
from test_grader_classroom50 import ENV, check_contract

from dlkit.tasks import TASKS
from grader.sandbox import isolation
from grader.scoring import runner

REPO = Path(__file__).resolve().parent.parent
UID = 1001
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
COMMITTED = "2026-06-01T23:32:01+09:00"  # the student's commit, in their time zone


def _why_not() -> str:
    if os.geteuid() != 0:
        return "making the runner's user needs root"
    for tool in ("sudo", "unshare", "setpriv", "git"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    if not SYSTEM_PYTHON.is_file():
        return f"needs {SYSTEM_PYTHON} (a Python every user may run) to stand for the runner's"
    return ""


pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_why_not()),
                                                   reason=_why_not() or "runs")]


@pytest.fixture(scope="module")
def machine():
    """A folder standing for the runner's disk (world-traversable, like /home/runner and
    /tmp there), with the autograder folder, a runner Python and the handout."""
    top = Path(tempfile.mkdtemp(prefix="dlkit-c50-"))
    os.chmod(top, 0o755)
    try:
        bundle = top / "runtime" / "batchnorm"  # where runner.py extracts the bundle
        proc = subprocess.run([sys.executable, "-m", "grader", "classroom50", str(bundle)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(top / "python")], check=True)
        no_dlkit = subprocess.run([str(top / "python" / "bin" / "python"), "-c",
                                   "import dlkit"], capture_output=True, cwd=top)
        assert no_dlkit.returncode != 0, "the runner's Python must not have dlkit"
        handout = top / "handout"
        proc = subprocess.run([sys.executable, "-m", "grader", "release", str(handout)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        etc = top / "etc"
        (etc / "sudoers.d").mkdir(parents=True)
        for name in ("passwd", "group", "shadow"):
            shutil.copy2(f"/etc/{name}", etc / name)  # with their modes (shadow: 0640)
        with open(etc / "passwd", "a") as f:
            f.write(f"runner:x:{UID}:{UID}:GitHub runner:/home/runner:/bin/bash\n")
        with open(etc / "group", "a") as f:
            f.write(f"runner:x:{UID}:\n")
        with open(etc / "shadow", "a") as f:  # sudo's PAM account check needs an entry
            f.write("runner:*:20000:0:99999:7:::\n")
        for path in (top, top / "runtime", bundle, top / "python"):
            subprocess.run(["chmod", "-R", "a+rX", str(path)], check=True)
        yield top
    finally:
        subprocess.run(["rm", "-rf", str(top)])


# What a student can commit next to their work: a grader package that writes full marks,
# and the handout's dlkit changed to stop whoever imports it. A Python started in the
# checkout would import these instead of the installed ones.
FORGED_GRADER = """import sys, json
out = sys.argv[sys.argv.index("--out") + 1]
json.dump({"forged": True, "score": 100}, open(out, "w"))
"""


def checkout(machine: Path, name: str, files_from: Path | None, hostile: bool = False) -> Path:
    """The student's repository: the handout, their files committed at COMMITTED."""
    repo = machine / "work" / name
    shutil.copytree(machine / "handout", repo)
    if hostile:
        (repo / "grader").mkdir()
        (repo / "grader" / "__init__.py").write_text("")
        (repo / "grader" / "__main__.py").write_text(FORGED_GRADER)
        (repo / "grader" / "platforms").mkdir()
        (repo / "dlkit" / "__init__.py").write_text("raise SystemExit('TAMPERED dlkit')\n")
    if files_from is not None:
        for task in TASKS.values():
            src = files_from / task.path
            shutil.copy(src, repo / "assignments" / task.path)
    git_env = dict(os.environ, GIT_AUTHOR_NAME="Student", GIT_AUTHOR_EMAIL="s@example.com",
                   GIT_COMMITTER_NAME="Student", GIT_COMMITTER_EMAIL="s@example.com",
                   GIT_AUTHOR_DATE=COMMITTED, GIT_COMMITTER_DATE=COMMITTED)
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "my work"]):
        subprocess.run(["git", *cmd], cwd=repo, env=git_env, check=True)
    subprocess.run(["chown", "-R", f"{UID}:{UID}", str(machine / "work")], check=True)
    os.chmod(machine / "work", 0o755)
    return repo


def run_as_runner(machine: Path, repo: Path, *, sudo: bool) -> dict:
    """Run the autograder as the runner's user in ``repo``; what it did and needed."""
    etc, home = machine / "etc", machine / "home-runner"
    home.mkdir(exist_ok=True)
    temp = machine / "runner-temp"
    temp.mkdir(exist_ok=True)
    os.chown(home, UID, UID)
    os.chown(temp, UID, UID)
    rule = etc / "sudoers.d" / "runner"
    rule.unlink(missing_ok=True)
    if sudo:  # GitHub's hosted runners: the runner user may sudo without a password
        rule.write_text("runner ALL=(ALL) NOPASSWD:ALL\n")
        os.chmod(rule, 0o440)
    sha = subprocess.run(["git", "-c", "safe.directory=*", "rev-parse", "HEAD"], cwd=repo,
                         capture_output=True, text=True, check=True).stdout.strip()
    site = "https://github.com/dl-2026/dl-2026-batchnorm-alice"
    env = {**ENV, "PATH": f"{machine / 'python' / 'bin'}:/usr/local/bin:/usr/bin:/bin",
           "HOME": "/home/runner", "LANG": "C.UTF-8", "USERNAME": "alice",
           "REVIEW_URL": f"{site}/compare/base...{sha}", "GITHUB_SHA": sha,
           "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "dl-2026/dl-2026-batchnorm-alice",
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_ACTOR": "alice",
           "GITHUB_WORKSPACE": str(repo), "RUNNER_TEMP": str(temp), "TMPDIR": str(temp),
           "CLASSROOM50_BUNDLE_DIR": str(machine / "runtime" / "batchnorm")}
    inside = " && ".join([
        f"mount --bind {etc / 'passwd'} /etc/passwd",
        f"mount --bind {etc / 'group'} /etc/group",
        f"mount --bind {etc / 'shadow'} /etc/shadow",
        f"mount --bind {etc / 'sudoers.d'} /etc/sudoers.d",
        "mount -t tmpfs -o mode=0755 tmpfs /home",  # this namespace's /home only
        "mkdir /home/runner",
        f"mount --bind {home} /home/runner",
        f'exec setpriv --reuid {UID} --regid {UID} --init-groups "$@"'])
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", inside, "sh",
           "env", "-i", *(f"{k}={v}" for k, v in env.items()),
           str(machine / "python" / "bin" / "python"),
           str(machine / "runtime" / "batchnorm" / "autograder.py")]
    start = time.monotonic()
    out = open(machine / "log.txt", "w+b")
    proc = subprocess.Popen(cmd, cwd=repo, stdout=out, stderr=subprocess.STDOUT)
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _memory(process_tree(proc.pid))[1])
        time.sleep(0.2)
    wall = time.monotonic() - start
    out.seek(0)
    log = out.read().decode(errors="replace")
    out.close()
    records = sorted(temp.glob("dlkit-grade-*/record.json"), key=lambda p: p.stat().st_mtime)
    record = json.loads(records[-1].read_text()) if records else None
    result = json.loads((repo / "result.json").read_text()) if (
        repo / "result.json").exists() else None
    body = (repo / "release-body.md").read_text() if (repo / "release-body.md").exists() else ""
    print(f"\nClassroom 50 autograder ({'sudo' if sudo else 'no sudo'}, {repo.name}): exit "
          f"{os.waitstatus_to_exitcode(status)}, wall {wall:.0f} s (grading "
          f"{record['seconds'] if record else float('nan'):.0f} s), CPU "
          f"{usage.ru_utime + usage.ru_stime:.0f} s, peak memory of the process tree "
          f"{peak / 2**20:.0f} MB PSS")
    return {"rc": os.waitstatus_to_exitcode(status), "log": log, "result": result,
            "body": body, "record": record, "review": env["REVIEW_URL"]}


def test_model_answers_get_full_marks_as_root_through_sudo(machine):
    repo = checkout(machine, "solutions", REPO / "solutions")
    run = run_as_runner(machine, repo, sudo=True)
    assert run["rc"] == 0, run["log"][-4000:]
    result = run["result"]
    check_contract(result)
    total = sum(sum(v.values()) for v in runner.load_points(
        REPO / "grader" / "points.toml").values())
    assert (result["score"], result["max-score"]) == (total, total), [
        t for t in result["tests"] if not t["passed"]]
    assert all(t["passed"] for t in result["tests"])
    assert result["datetime"] == "2026-06-01T14:32:01Z"  # the committer date, in UTC
    assert result["review"] == run["review"] and result["commit"] == ENV["COMMIT_URL"]
    assert result["owner"] == "alice" and result["submission"] == ENV["SUBMISSION_TAG"]
    # the strongest level a non-root user with passwordless sudo can have, said in the log
    assert run["record"]["isolation"] == "namespaces"
    assert "as root through sudo" in run["log"] and "isolation namespaces" in run["log"]
    # the job's log is the student's to read: the level's name, not what it leaves open
    assert isolation.ISOLATION_NOTES["namespaces"][:60] not in run["log"]
    assert run["body"].startswith(f"### dlkit-grade: {total:g} / {total:g}")
    # the files the runner rewrites are the runner user's
    assert (repo / "result.json").stat().st_uid == UID


def test_untouched_handout_scores_zero_and_exits_zero_without_sudo(machine):
    """The handout as accepted (plus, committed beside it, a forged grader/ and a dlkit/
    that stops whoever imports it: neither may be what grades)."""
    repo = checkout(machine, "handout", None, hostile=True)
    run = run_as_runner(machine, repo, sudo=False)
    assert run["rc"] == 0, run["log"][-4000:]
    check_contract(run["result"])
    total = sum(sum(v.values()) for v in runner.load_points(
        REPO / "grader" / "points.toml").values())
    assert run["result"]["score"] == 0 and run["result"]["max-score"] == total
    assert not any(t["passed"] for t in run["result"]["tests"])
    assert run["record"]["isolation"].startswith("landlock-same-uid")
    assert "no passwordless sudo" in run["log"]
    assert "isolation landlock-same-uid" in run["log"]
    assert isolation.ISOLATION_NOTES["landlock-same-uid"][:60] not in run["log"]
    assert "NotImplementedError" in run["body"]
    assert "TAMPERED" not in run["log"] and "forged" not in run["record"]
