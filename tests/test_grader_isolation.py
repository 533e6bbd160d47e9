"""Isolation where courses grade: a container's capabilities (root without CAP_SYS_ADMIN,
simulated with ``setpriv`` as Docker gives them), and the worker's proof that the
installation in use works before any student is graded.

Every run here is a real ``python -m grader`` subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import confine, isolation
from grader.sandbox.handle import StudentError
from grader.sandbox.isolation import isolation_note

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "grader_cases"
FAKE_CHECKS = CASES / "fake_checks"
# Docker's default capabilities (what Gradescope and most CI containers give root).
DOCKER_CAPS = ("-all,+chown,+dac_override,+fsetid,+fowner,+mknod,+net_raw,+setgid,+setuid,"
               "+setfcap,+setpcap,+net_bind_service,+sys_chroot,+kill,+audit_write")
CONTAINER = ["setpriv", "--bounding-set", DOCKER_CAPS, "--inh-caps", "-all"]

needs_container = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or confine.landlock_abi() < 1,
    reason="simulating a container needs root, setpriv and a kernel with Landlock")


def _grade(case: Path, *, prefix=(), env=None, python=sys.executable, assignment="a1"):
    cmd = [*prefix, python, "-m", "grader", str(case), "--assignment", assignment,
           "--checks-dir", str(FAKE_CHECKS), "--format", "json"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "DLKIT_GRADE_KERNEL_CACHE": "off",
                               "DLKIT_GRADE_IMPORT_TIMEOUT": "10", **(env or {})})


def test_notes_say_what_this_kernel_left_open(monkeypatch):
    """The notes for a grader that is not root: session's blames no missing seccomp filter
    for its open network (it has none by design); landlock-same-uid warns when this
    kernel's Landlock cannot scope signals (ABI < 6), and only then."""
    session = isolation_note("session")
    assert "WEAK ISOLATION" in session and "no seccomp filter" not in session
    monkeypatch.setattr(isolation, "_landlock_abi", lambda: 6)
    assert "SIGNALS NOT SCOPED" not in isolation_note("landlock-same-uid")
    assert "no signals to" in isolation_note("landlock-same-uid")
    monkeypatch.setattr(isolation, "_landlock_abi", lambda: 4)
    note = isolation_note("landlock-same-uid")
    assert "SIGNALS NOT SCOPED" in note and "ABI 4" in note and "no signals to" not in note


@needs_container
def test_container_root_is_detected_as_such_and_gets_landlock():
    code = ("from grader.sandbox.isolation import detect_isolation, has_cap_sys_admin\n"
            "import os; print(os.geteuid(), has_cap_sys_admin(), detect_isolation())")
    out = subprocess.run([*CONTAINER, sys.executable, "-c", code], capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout.split()
    assert out == ["0", "False", "landlock"]


@pytest.mark.skipif(os.geteuid() != 0 or confine.landlock_abi() < 1,
                    reason="needs root and a kernel with Landlock")
def test_landlock_worker_is_unprivileged_offline_and_reads_only_what_it_needs():
    from grader.sandbox.handle import GRADER_DIR, Worker

    probe = CASES / "worker_probe"
    with Worker(probe, isolation="landlock", assignment="a2") as w:
        facts = w.call("probe.code:facts", str(GRADER_DIR))
        assert facts["uid"] != 0 and not facts["network"] and facts["cwd_is_private"]
        assert facts["grader_files"] == []
        for secret in (GRADER_DIR / "points.toml", ROOT / "solutions" / "README.md",
                       Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")):
            if secret.exists():
                with pytest.raises(StudentError, match="Permission denied"):
                    w.call("probe.code:read_bytes", str(secret))
        assert w.call("probe.code:import_module", "numba") is None  # the installation works


@needs_container
def test_hostile_submission_in_a_container_finds_nothing_and_loses_only_its_check():
    """probe_everything under Docker's capabilities: the hidden checks, points, grader,
    solutions/, test labels, data cache, results folders, the grader's processes and the
    network are all out of reach; it scores 0 for the probing check only (4 of 5)."""
    run = _grade(CASES / "hostile" / "probe_everything", prefix=CONTAINER)
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert record["isolation"] == "landlock"
    checks = {c["name"]: c for a in record["assignments"] for c in a["checks"]}
    assert "found 0: {}" in checks["test_spread_stats"]["message"]["en"], checks
    assert record["score"] == 4
    # the instructor learns what the level does not protect (the grader's log); the JSON
    # record keeps it under "instructor"
    assert isolation_note("landlock") in run.stderr
    assert record["instructor"]["isolation_note"] == isolation_note("landlock")


@needs_container
def test_grader_fault_in_the_worker_stops_grading_with_exit_3():
    """A worker that cannot import numba (here: hidden from it, as an installation other
    users cannot read would be) is the grader's fault: exit 3, the cause and the fix, and
    no record of any student."""
    import numba

    run = _grade(CASES / "hostile" / "sys_exit", prefix=CONTAINER,
                 env={"DLKIT_GRADE_HIDE": str(Path(numba.__file__).parent)})
    assert run.returncode == 3, (run.stdout, run.stderr)
    assert run.stdout == ""  # no report: nobody was scored
    assert "cannot import what the checks need" in run.stderr
    assert "numba" in run.stderr and "Fix:" in run.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a worker uid)")
def test_editable_install_of_another_checkout_grades_like_the_checkout(tmp_path):
    """A TA's Python whose dlkit is an editable install of *another* checkout: the worker
    imports dlkit from where the grader does, so a correct submission keeps every point
    (no "No module named 'dlkit'" written down as the student's)."""
    other = tmp_path / "other-checkout"
    shutil.copytree(ROOT / "dlkit", other / "dlkit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", other / "pyproject.toml")
    shutil.copy(ROOT / "README.md", other / "README.md")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                           "'purelib'))"], capture_output=True, text=True,
                          check=True).stdout.strip()
    ours = subprocess.run([sys.executable, "-c", "import numpy, os; print(os.path.dirname("
                           "os.path.dirname(numpy.__file__)))"], capture_output=True,
                          text=True, check=True).stdout.strip()
    Path(site, "dlkit-test-deps.pth").write_text(ours + "\n")  # numpy, numba, pytest, pip
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-build-isolation", "-e", str(other)], check=True,
                   cwd=tmp_path)
    where = subprocess.run([str(python), "-c", "import dlkit; print(dlkit.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert where.startswith(str(other)), where
    run = _grade(ROOT / "solutions", python=str(python),
                 assignment="a1,a3")
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    for result in record["assignments"]:
        assert result["score"] == result["max_score"], result["checks"]


@needs_container
@pytest.mark.slow
@pytest.mark.parametrize("level", ["container", "user-no-landlock"])
def test_hostile_suite_passes_at_this_level(level):
    """The whole hostile suite (tests/test_grader_runner_hostile.py) at another level this
    machine can produce: in a simulated container (Landlock), and as root with Landlock
    turned off (uid only: the cases that need hidden files skip, saying why)."""
    prefix = CONTAINER if level == "container" else []
    # a container's /sys/fs/cgroup is read-only (Docker mounts it so): no worker cgroups
    env = {**os.environ, **({"DLKIT_GRADE_ISOLATION": level} if level != "container" else
                            {"DLKIT_GRADE_CGROUP": "off"})}
    run = subprocess.run([*prefix, sys.executable, "-m", "pytest", "-q", "-p",
                          "no:cacheprovider", "-m", "not slow",
                          "tests/test_grader_runner_hostile.py"], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=1200)
    assert run.returncode == 0, run.stdout[-5000:]
