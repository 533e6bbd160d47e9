"""A TA grading on their own machine, without root: ``python -m grader`` run for real as an
unprivileged uid (``setpriv --reuid/--regid``), which gets ``landlock-same-uid``.

The uid has no passwd entry and lies outside ``grader.sandbox.isolation.UID_RANGE`` (the grader
kills whatever runs as a uid it leases). It must be able to run this Python: where the
installation sits below a folder other users cannot enter (a pyenv under /root, mode
0700), each run happens in a private mount namespace where that folder is an empty 0755
tmpfs with only the Python installation bound back in, so the uid reaches the same files a
TA's own Python would be, and nothing else of that folder. Without root, setpriv, Landlock
or a way to make that namespace, the tests skip and say which.

What a TA's desktop adds is made the same way, inside the namespace only: a session bus at
/run/user/<uid>/bus (a socket in a 0700 folder of the uid), and a program of the uid with
hundreds of threads (a browser).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader.sandbox import confine, isolation
from grader.scoring.runner import load_points

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "grader_cases"
UID = 60999
assert UID not in isolation.UID_RANGE

# A program of the grading user with many threads; it dies with the grader (PDEATHSIG).
BUSY = ("import ctypes, threading, time; ctypes.CDLL(None).prctl(1, 9); e = threading.Event(); "
        "[threading.Thread(target=e.wait, daemon=True).start() for _ in range(300)]; "
        "time.sleep(300)")


def _unreachable() -> list[str]:
    """The topmost folders of this Python installation that other users cannot reach."""
    tops = sorted({p for p in isolation.python_paths() if confine.blocker(p)})
    return [p for p in tops if not any(p.startswith(q + os.sep) for q in tops)]


def _why_not() -> str:
    if os.geteuid() != 0:
        return "switching to an unprivileged uid needs root"
    if not (shutil.which("setpriv") and shutil.which("unshare")):
        return "needs setpriv and unshare (util-linux)"
    if confine.landlock_abi() < 1:
        return "no Landlock in this kernel: a grader that is not root gets 'session'"
    if confine.blocker(str(ROOT)):
        return f"the checkout is below {confine.blocker(str(ROOT))}, which uid {UID} cannot enter"
    if _unreachable() and "namespaces" not in isolation.available():
        return (f"this Python is below {confine.blocker(_unreachable()[0])}, which uid {UID} "
                "cannot enter, and no mount namespace can be made here to let it in")
    return ""


pytestmark = [pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "runs"),
              pytest.mark.platform]  # python -m pytest -m platform (CI runs it)


def _processes_of_uid() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == UID:
                found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.fixture
def home():
    """The uid's home folder (in /tmp: pytest's tmp_path is root's, mode 0700); whatever
    the uid still runs afterwards (only this test starts processes as it) is killed."""
    path = Path(tempfile.mkdtemp(prefix="dlkit-nonroot-"))
    os.chown(path, UID, UID)
    yield path
    for pid in _processes_of_uid():
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(path, ignore_errors=True)


def _grade(home: Path, submission: Path, assignments: str, *, bus: Path | None = None,
           busy: bool = False, budget: float | None = None,
           import_timeout: float = 10) -> tuple[dict, str]:
    """Grade as UID (record, stderr); the grader's own files must be gone afterwards."""
    stage = Path(tempfile.mkdtemp(prefix="dlkit-nonroot-stage-"))
    q = shlex.quote
    lines = ["set -e"]
    tops = _unreachable()
    for i, top in enumerate(tops):
        lines += [f"mkdir {q(str(stage / str(i)))}", f"mount --bind {q(top)} {stage / str(i)}"]
    for blocker in sorted({confine.blocker(top) for top in tops}):
        lines.append(f"mount -t tmpfs -o mode=0755,size=1m tmpfs {q(str(blocker))}")
    for i, top in enumerate(tops):
        lines += [f"mkdir -p {q(top)}", f"mount --bind {stage / str(i)} {q(top)}"]
    if bus is not None:
        lines += ["mount -t tmpfs -o mode=0755,size=1m tmpfs /run/user",
                  f"mkdir /run/user/{UID}", f"mount --bind {q(str(bus))} /run/user/{UID}"]
    drop = (f"setpriv --reuid {UID} --regid {UID} --clear-groups env -i "
            f"PATH=/usr/local/bin:/usr/bin:/bin HOME={q(str(home))} LANG=C.UTF-8 "
            f"DLKIT_GRADE_IMPORT_TIMEOUT={import_timeout}")
    if busy:
        lines.append(f"{drop} {q(sys.executable)} -c {q(BUSY)} &")
        lines.append("sleep 1")
    out = home / "record.json"
    lines.append(f"exec {drop} {q(sys.executable)} -m grader {q(str(submission))} "
                 f"--assignment {assignments} --format json --out {q(str(out))}"
                 + (f" --budget {budget}" if budget else ""))
    try:
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               "\n".join(lines)], capture_output=True, text=True, cwd=ROOT,
                              timeout=600)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    left = [p for p in Path(tempfile.gettempdir()).iterdir()
            if p.name.startswith("dlkit-grade") and p.stat().st_uid == UID]
    assert left == [], "the grader's run folders were left behind"
    return json.loads(out.read_text(encoding="utf-8")), proc.stderr


def _checks(record: dict) -> dict[str, dict]:
    return {c["name"]: c for a in record["assignments"] for c in a["checks"]}


def _message(check: dict) -> str:
    return check["message"]["en"] if isinstance(check["message"], dict) else check["message"]


def test_model_answers_get_full_marks_and_the_note_stays_with_the_instructor(home):
    record, stderr = _grade(home, ROOT / "solutions", "a1,a2")
    assert record["isolation"] == "landlock-same-uid"
    points = load_points(ROOT / "grader" / "points.toml")
    assert [(a["id"], a["score"]) for a in record["assignments"]] == [
        (aid, sum(points[aid].values())) for aid in ("a1", "a2")]
    note = isolation.isolation_note("landlock-same-uid")
    assert record["instructor"]["isolation_note"] == note
    assert note in stderr
    assert not any(note in _message(c) for c in _checks(record).values())


def test_hostile_code_finds_nothing_of_the_grader(home):
    """probe_everything: hidden checks, points, grader sources, solutions/, test labels,
    dlkit's data cache, the results folders, signals to the grader, the network."""
    record, _ = _grade(home, CASES / "hostile" / "probe_everything", "a1")
    message = _message(_checks(record)["test_spread_stats_sigmoid"])
    assert "found 0:" in message, message


def test_hostile_code_cannot_read_the_results_folder_next_to_its_working_copy(home):
    """The checks process runs in its results folder (0700, the same uid as the worker):
    that folder must not be among the paths the worker may read."""
    record, _ = _grade(home, CASES / "nonroot" / "results_folder", "a1")
    message = _message(_checks(record)["test_spread_stats_sigmoid"])
    assert "found 0:" in message, message


def test_hostile_code_cannot_reach_the_users_session_bus(home):
    """A worker of the grading user's own uid must not talk to that user's sockets (on a
    desktop, the session bus starts programs outside the sandbox)."""
    bus_dir = home / "run-user"
    bus_dir.mkdir(mode=0o700)
    connected = []
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(bus_dir / "bus"))
        server.listen()
        server.settimeout(0.2)
        os.chown(bus_dir, UID, UID)
        os.chown(bus_dir / "bus", UID, UID)
        os.chmod(bus_dir / "bus", 0o600)
        done = threading.Event()

        def accept():
            while not done.is_set():
                try:
                    connected.append(server.accept()[0].recv(64))
                except OSError:
                    continue

        listener = threading.Thread(target=accept)
        listener.start()
        try:
            record, _ = _grade(home, CASES / "nonroot" / "session_bus", "a1", bus=bus_dir)
        finally:
            done.set()
            listener.join()
    message = _message(_checks(record)["test_spread_stats_sigmoid"])
    assert "refused" in message, message
    assert connected == []


def test_nothing_the_student_starts_outlives_the_grader(home):
    """fork_bomb's init_weight starts a daemon in a session of its own: with no other uid
    to kill by, the worker may not leave its process group (setsid refused)."""
    record, _ = _grade(home, CASES / "hostile" / "fork_bomb", "a1")
    zeros = _checks(record)["test_init_zeros"]
    assert zeros["score"] == 0 and "Permission denied" in _message(zeros), _message(zeros)
    # the worker's group was killed (spread_stats' fork bomb too): on a loaded machine its
    # 64 processes take a moment to exit and be reaped; the daemon would sleep for 600 s
    deadline = time.monotonic() + 10
    while _processes_of_uid() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_of_uid() == []


def test_a_busy_user_does_not_cost_the_student_points(home):
    """The grading user runs a program with 300 threads: a submission that starts one
    thread still gets its points (the worker's process limit counts the user's threads)."""
    record, _ = _grade(home, CASES / "nonroot" / "uses_a_thread", "a1", busy=True)
    checks = _checks(record)
    for name in ("test_init_shape_and_dtype", "test_init_zeros", "test_init_float_std",
                 "test_init_xavier", "test_init_he", "test_init_uses_rng"):
        assert checks[name]["score"] == checks[name]["max_score"], _message(checks[name])


def _cmdlines_with(marker: bytes) -> list[int]:
    found = []
    for pid in _processes_of_uid():
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def test_nothing_outlives_the_assignment_budget(home):
    """outlives_budget starts a process that ignores SIGTERM, then hangs until the
    assignment's budget runs out: when dlkit-grade returns, the keeper has killed it."""
    marker, seen, done = b"DLKIT-HOSTILE-SURVIVOR-MARKER", [], threading.Event()

    def look():  # while grading: was it ever started?
        while not done.wait(0.1):
            seen.extend(_cmdlines_with(marker))

    watcher = threading.Thread(target=look, daemon=True)
    watcher.start()
    try:
        record, _ = _grade(home, CASES / "hostile" / "outlives_budget", "a1", budget=10,
                           import_timeout=120)
    finally:
        done.set()
        watcher.join()
    (a1,) = record["assignments"]
    assert a1["status"] == "budget"
    assert seen  # it was started, and lived until the budget ran out
    assert _cmdlines_with(marker) == []


@pytest.mark.slow
def test_disk_memory_and_sockets_are_bounded(home):
    """fills_disk (1.2 GiB, each file deleted while open): stopped by the disk quota;
    pins_memory (memfd, System V shared memory, /dev/shm) and unix_socket: refused."""
    record, _ = _grade(home, CASES / "hostile" / "fills_disk", "a1")
    message = _message(_checks(record)["test_spread_stats_sigmoid"])
    assert "the worker was stopped: the disk quota (256 MiB)" in message, message
    record, _ = _grade(home, CASES / "hostile" / "pins_memory", "a1")
    message = _message(_checks(record)["test_spread_stats_sigmoid"])
    assert "pinned 0 MiB" in message and "memfd_create: Permission denied" in message, message
    record, _ = _grade(home, CASES / "hostile" / "unix_socket", "a1")
    message = _message(_checks(record)["test_spread_stats_sigmoid"])
    assert "reached 0: []" in message, message


@pytest.mark.slow
def test_work_in_exited_threads_is_counted(home):
    """a4_times_in_threads as an ordinary user (no cgroup of its own: the process clocks
    count the exited threads): no speed points."""
    record, _ = _grade(home, CASES / "hostile" / "a4_times_in_threads", "a4")
    speed = _checks(record)["test_speed"]
    assert speed["score"] == 0, _message(speed)
