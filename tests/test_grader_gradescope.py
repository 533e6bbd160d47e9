"""Gradescope end to end, as Gradescope runs it (see tests/autograder.py).

The bundle is built and unpacked into a folder standing for /autograder; setup.sh builds
the image (venv, dlkit, Fashion-MNIST, dlkit's compiled kernels); run_autograder then
grades with the real hidden checks, as root without CAP_SYS_ADMIN, a correct submission
(solutions/), a hostile one that looks for what the grader keeps, and a run stopped by the
platform's timeout. Every results.json is checked against Gradescope's specification.

The worst case (every check of every assignment taking all the memory it may and never
returning) is in the slow tests, with what each run needs (time, CPU, memory), printed:

    python -m pytest -m slow tests/test_grader_gradescope.py -s
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numba
import numpy as np
import pytest
from autograder import Autograder, check_results_json, student_visible

from dlkit.tasks import TASKS
from grader.platforms import lock
from grader.platforms.gradescope import bundle
from grader.scoring import runner

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "grader_cases" / "gradescope"
LABELS = "t10k-labels-idx1-ubyte.gz"

pytestmark = [pytest.mark.skipif(shutil.which("setpriv") is None,
                                 reason="setpriv (util-linux) simulates the container"),
              pytest.mark.platform]  # python -m pytest -m platform (CI runs it)


@pytest.fixture(scope="module")
def autograder():
    ag = Autograder.build()
    try:
        setup = ag.setup()
        assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
        yield ag
    finally:
        ag.remove()


def _measured(what: str, run) -> None:
    print(f"\n{what}: exit {run.returncode}, wall {run.wall:.1f} s, CPU {run.cpu:.1f} s, "
          f"peak memory of the process tree {run.peak_pss_mb:.0f} MB PSS "
          f"({run.peak_rss_mb:.0f} MB RSS), largest process {run.largest_mb:.0f} MB")


# ---------------------------------------------------------------- the image


def test_bundle_holds_the_scripts_settings_wheel_lock_and_no_solutions(tmp_path):
    names = bundle.build(tmp_path / "ag.zip", timeout=900, lang="ja", assignments=["a2"])
    (whl,) = [n for n in names if n.endswith(".whl")]
    assert names[:4] == ["setup.sh", "run_autograder", "settings.env", "requirements.lock"]
    with zipfile.ZipFile(tmp_path / "ag.zip") as zf, zf.open(whl) as f:
        packaged = set(zipfile.ZipFile(io.BytesIO(f.read())).namelist())
    assert {"grader/checks/test_a2.py", "grader/points.toml", "dlkit/layers.py",
            "grader/platforms/gradescope/run_autograder"} <= packaged
    assert not any(n.startswith(("solutions/", "tests/")) for n in set(names) | packaged)
    # of the handout only the stubs (starter code, which similarity flags do not count)
    assert {n for n in names if n.startswith("assignments/")} == {
        f"assignments/{t.path}" for t in TASKS.values()}
    root = bundle.unpack(tmp_path / "ag.zip", tmp_path / "autograder")
    settings = (root / "source" / "settings.env").read_text()
    assert "DLKIT_PLATFORM_TIMEOUT=900\n" in settings and "DLKIT_GRADE_LANG=ja\n" in settings
    assert "DLKIT_GRADE_ASSIGNMENT=a2\n" in settings
    assert f"DLKIT_PYTHON={sys.version_info.major}.{sys.version_info.minor}\n" in settings
    python, pinned = lock.read(root / "source" / "requirements.lock")
    assert pinned["numpy"] == np.__version__ and pinned["numba"] == numba.__version__
    assert "dlkit" not in pinned  # dlkit itself comes from the wheel, built from this checkout
    assert (root / "run_autograder").stat().st_mode & 0o111
    assert (root / "source" / "setup.sh").stat().st_mode & 0o111
    with pytest.raises(ValueError, match="timeout"):
        bundle.settings(timeout=0)
    with pytest.raises(ValueError, match="a5"):
        bundle.settings(assignments=["a5"])


def test_setup_compiles_the_kernels_and_locks_what_the_grader_keeps(autograder):
    root = autograder.root
    assert json.loads((root / "kernels" / "stamp.json").read_text())["digest"]
    assert list((root / "kernels").glob("*/*.nbi")), "no compiled kernels in the image"
    grader = autograder.site_packages / "grader"
    for path in (root / "source", root / "kernels", root / "data", grader / "checks",
                 grader / "points.toml"):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by other users"
    # what the workers run must stay reachable for every user
    for path in (root, root / "venv", autograder.site_packages / "dlkit"):
        assert path.stat().st_mode & 0o005 == 0o005, f"{path} is not readable by others"


def test_setup_installs_exactly_the_packages_of_the_lock(autograder):
    """The image holds the lock's versions, nothing else of dlkit's needs: a rebuilt image
    installs what the first one did; a lock that no longer matches fails, naming why."""
    venv_python = str(autograder.root / "venv" / "bin" / "python")
    lock_file = autograder.root / "source" / "requirements.lock"
    check = [venv_python, "-m", "grader.platforms.lock", "check"]
    ok = subprocess.run([*check, str(lock_file)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    installed = subprocess.run([venv_python, "-c", "import numpy; print(numpy.__version__)"],
                               capture_output=True, text=True, cwd=autograder.root)
    assert installed.stdout.strip() == lock.read(lock_file)[1]["numpy"]
    drifted = autograder.root.parent / "drifted.lock"
    drifted.write_text(lock_file.read_text().replace("\nnumpy==", "\nnumpy==0.0.0+"))
    bad = subprocess.run([*check, str(drifted)], capture_output=True, text=True)
    assert bad.returncode == 1 and "numpy" in bad.stderr and "the lock pins 0.0.0+" in bad.stderr


# ---------------------------------------------------------------- a correct submission


@pytest.fixture(scope="module")
def correct(autograder, tmp_path_factory):
    """The model answers as Gradescope's drag-and-drop upload gives them: the four files at
    the top of the submission folder, next to a file of no task."""
    upload = tmp_path_factory.mktemp("upload")
    for task in TASKS.values():
        shutil.copy(REPO / "solutions" / task.path, upload / task.module)
    (upload / "notes.txt").write_text("what I did\n")
    autograder.submit(upload)
    run = autograder.run()
    _measured("solutions", run)
    return run


def test_correct_submission_results_follow_the_specification(correct):
    assert correct.returncode == 0, correct.stdout[-3000:]
    check_results_json(correct.results)
    data = correct.results
    assert [t["number"] for t in data["tests"][:2]] == ["1.1", "1.2"]
    assert {t["tags"][0] for t in data["tests"]} == {"a1", "a2", "a3", "a4"}
    points = runner.load_points(REPO / "grader" / "points.toml")
    assert sum(t["max_score"] for t in data["tests"]) == sum(sum(p.values())
                                                             for p in points.values())
    assert data["stdout_visibility"] == "hidden"
    # the isolation used is the instructor's business: extra_data and stdout, never output
    notes = data["extra_data"]
    assert notes["isolation"] and notes["isolation_note"]
    assert notes["isolation"] != "namespaces", "CAP_SYS_ADMIN was not dropped"
    assert notes["isolation_note"] not in student_visible(data)
    assert "isolation" not in student_visible(data).lower()
    assert f"isolation {notes['isolation']}" in correct.stdout
    # every budget was fitted inside the platform's 600 s
    assert sum(a["budget"] for a in notes["assignments"]) <= 600


def test_correct_submission_gets_full_marks(correct):
    lost = [(t["name"], t["output"][:300]) for t in correct.results["tests"]
            if t["status"] != "passed"]
    points = runner.load_points(REPO / "grader" / "points.toml")
    assert correct.results["score"] == sum(sum(p.values()) for p in points.values()), lost


def test_loose_files_are_graded_and_the_student_is_told_where(correct):
    shown = correct.results["output"]
    for task in TASKS.values():
        assert (f"Your {task.module} was found at the top of your submission "
                f"({task.module})") in " ".join(shown.split())
    assert "Not graded" in shown and "notes.txt" in shown


# ---------------------------------------------------------------- a hostile submission


@pytest.fixture(scope="module")
def listener():
    """A TCP server on 127.0.0.1 that records whether anything connected."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    seen, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            seen.append(True)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname(), seen
    stop.set()
    thread.join(timeout=5)
    server.close()


@pytest.fixture(scope="module")
def prober(autograder, listener, tmp_path_factory):
    """The hostile a2 (grader_cases/gradescope/prober) aimed at this image's secrets."""
    root, grader = autograder.root, autograder.site_packages / "grader"
    secrets = {
        "read": [*map(str, (root / "source").glob("dlkit-*.whl")),  # holds the checks
                 str(root / "source" / "requirements.lock"),
                 str(grader / "checks" / "test_a2.py"), str(grader / "points.toml"),
                 str(root / "submission_metadata.json"), str(root / "kernels" / "stamp.json"),
                 str(root / "results" / "results.json")],
        "list": [str(root / "source"), str(root / "results"), str(root / "kernels"),
                 str(root / "data"), str(grader / "checks")],
    }
    system = {"read": [str(Path("/usr/share/datasets/fashion-mnist") / LABELS)]}
    targets = {"read": secrets["read"] + system["read"], "list": secrets["list"],
               "connect": list(listener[0])}
    sub = shutil.copytree(CASES / "prober", tmp_path_factory.mktemp("prober") / "submission")
    code = sub / "a2_batchnorm" / "batchnorm.py"
    text = code.read_text()
    line = 'TARGETS = {"read": [], "list": [], "connect": None}'
    assert line in text
    code.write_text(text.replace(line, f"TARGETS = {targets!r}"))
    autograder.submit(sub, metadata={"users": [{"name": "Student", "email": "s@example.com"}]})
    run = autograder.run()
    _measured("prober", run)
    probes = [t for t in (run.results or {}).get("tests", []) if "PROBE" in t["output"]]
    found = json.loads(probes[0]["output"].split("PROBE")[1]) if probes else None
    return run, found, secrets, system, listener[1]


def test_hostile_submission_is_graded_and_scores_zero(prober):
    run, found, *_ = prober
    assert run.returncode == 0, run.stdout[-3000:]
    check_results_json(run.results)
    assert run.results["score"] == 0
    a2 = [t for t in run.results["tests"] if t["tags"][0] == "a2"]
    assert a2 and all("PROBE" in t["output"] for t in a2)
    assert found is not None


def test_hostile_submission_cannot_read_what_the_grader_keeps(prober):
    run, found, secrets, *_ = prober
    assert found["uid"] != 0, "the student's code ran as root"
    reached = {path: what for path, what in found.items()
               if path in secrets["read"] + secrets["list"]
               and what not in ("PermissionError", "FileNotFoundError")}
    assert not reached, reached
    assert found["signal"] == 0, "the worker could signal processes of other users"
    shown = student_visible(run.results)
    checks = [line for line in (REPO / "grader" / "checks" / "test_a2.py").read_text()
              .splitlines() if len(line.strip()) > 40]
    assert checks and not [line for line in checks if line.strip() in shown]
    assert "test_forward_train_float64 = " not in shown  # a line of points.toml


def test_hostile_submission_cannot_read_labels_nor_connect(prober):
    """World-readable files and the network: Landlock and seccomp close them (a kernel
    without Landlock gives the level user-no-landlock, which says so)."""
    run, found, _, system, connections = prober
    level = run.results["extra_data"]["isolation"]
    if level == "user-no-landlock":
        pytest.skip("this kernel has no Landlock: the level's name says what it cannot hide")
    assert level == "landlock", level
    assert all(found[p] in ("PermissionError", "FileNotFoundError") for p in system["read"])
    assert found["connect"] != "connected" and not connections


# ---------------------------------------------------------------- the platform's timeout


def test_platform_timeout_keeps_the_feedback_of_finished_checks(autograder):
    """Gradescope kills the run at its timeout: results.json, rewritten after every
    check, must then hold every finished check and list the others as not run."""
    autograder.submit(REPO / "solutions")

    def a1_done(results):
        return results is not None and all(
            t["status"] == "passed" for t in results["tests"] if t["tags"][0] == "a1")

    run = autograder.run(kill_when=a1_done)
    assert run.killed, "the run ended before the simulated timeout"
    check_results_json(run.results)
    by_id = {}
    for t in run.results["tests"]:
        by_id.setdefault(t["tags"][0], []).append(t)
    points = runner.load_points(REPO / "grader" / "points.toml")
    assert sum(t["score"] for t in by_id["a1"]) == sum(points["a1"].values())
    assert sorted(by_id) == ["a1", "a2", "a3", "a4"]
    assert sum(len(v) for v in by_id.values()) == sum(len(v) for v in points.values())
    assert any("grading stopped before this check" in t["output"] for t in by_id["a4"])


# ---------------------------------------------------------------- the worst case (slow)


@pytest.mark.slow
def test_worst_case_stays_inside_the_platform_timeout():
    """Every check of every assignment takes all the memory the worker may have and never
    returns: the run must still end, with every check's feedback, inside the timeout."""
    timeout = 240
    ag = Autograder.build(timeout=timeout)
    try:
        assert ag.setup().returncode == 0
        ag.submit(CASES / "hog_and_loop")
        run = ag.run(limit=timeout + 60)
        _measured(f"worst case (timeout {timeout} s)", run)
        assert not run.killed and run.wall < timeout, run.wall
        assert run.returncode == 0, run.stdout[-3000:]
        check_results_json(run.results)
        points = runner.load_points(REPO / "grader" / "points.toml")
        assert run.results["score"] == 0
        assert len(run.results["tests"]) == sum(len(v) for v in points.values())
    finally:
        ag.remove()


# ---------------------------------------------------------------- one task, visibility, faults


def test_a_one_task_assignment_grades_that_task_only(autograder):
    """`gradescope-bundle --assignment a2`: the student uploads their a2 (here the model
    answer's folder) and is scored out of a2's points in points.toml, no other task shown."""
    saved = autograder.setting("DLKIT_GRADE_ASSIGNMENT", "a2")
    try:
        autograder.submit(REPO / "solutions" / "a2_batchnorm")
        run = autograder.run()
        _measured("a2 only (solutions/a2_batchnorm)", run)
    finally:
        autograder.restore(saved)
    assert run.returncode == 0, run.stdout[-3000:]
    check_results_json(run.results)
    a2_points = sum(runner.load_points(REPO / "grader" / "points.toml")["a2"].values())
    assert a2_points == 30
    assert run.results["score"] == a2_points
    assert sum(t["max_score"] for t in run.results["tests"]) == a2_points
    assert {t["tags"][0] for t in run.results["tests"]} == {"a2"}
    assert "a1" not in run.results["output"] and "a3" not in run.results["output"]
    # every check and the score are shown at once when points.toml has no [gradescope] table
    assert run.results["visibility"] == "visible"
    assert {t["visibility"] for t in run.results["tests"]} == {"visible"}
    # the last check keeps what the student's code printed (no check here prints: empty)
    assert all(isinstance(t["output"], str) for t in run.results["tests"])


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) hides the data")
def test_a_missing_dataset_is_the_graders_fault_and_says_why_on_stdout(autograder):
    """Fashion-MNIST gone from the image (and from the system): no score is recorded, and
    run_autograder's stdout, which Gradescope shows the instructor, says what is missing."""
    saved = autograder.setting("DLKIT_GRADE_ASSIGNMENT", "a3")
    autograder.submit(REPO / "solutions")
    hide = (f"mount -t tmpfs tmpfs {autograder.root / 'data'} && "
            "mount -t tmpfs tmpfs /usr/share/datasets 2>/dev/null; exec \"$@\"")
    try:
        run = autograder.run(wrap=["unshare", "--mount", "--propagation", "private",
                                   "sh", "-c", hide, "sh"])
    finally:
        autograder.restore(saved)
    assert run.returncode == 3 and run.results is None, run.stdout[-3000:]
    assert "the grader failed on a3 (not the student's fault)" in run.stdout
    assert "Fashion-MNIST" in run.stdout and "could not be loaded" in run.stdout
    assert "no score was recorded" in run.stdout


def test_a_grader_failure_leaves_no_results_and_no_score(autograder):
    """A timeout too short for the budgets is the course's mistake, not the student's:
    exit 3, no results.json (Gradescope records no score), the cause in the stdout."""
    settings = autograder.root / "source" / "settings.env"
    saved = settings.read_text()
    autograder.submit(REPO / "solutions")
    try:
        settings.write_text(saved.replace("TIMEOUT=600", "TIMEOUT=90"))
        run = autograder.run()
    finally:
        settings.write_text(saved)
    assert run.returncode == 3 and run.results is None
    assert "total budget" in run.stdout and "no score was recorded" in run.stdout
