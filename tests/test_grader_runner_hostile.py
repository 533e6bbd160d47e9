"""Hostile submissions (tests/grader_cases/hostile/): each gets an exact score.

Every case is graded for real (the runner, a trusted pytest process, sandboxed workers)
against the tiny check set in tests/grader_cases/fake_checks (points in its points.toml):

    a1: test_shape 1, test_he_std 2, test_zeros 1, test_spread_stats 1     (5)
    a2: test_forward_train 2, test_backward 2, test_no_static_import_... 1  (5)
    a3: test_predict_shape 1                                                (1)
    a4: test_forward_matches 2, test_speed 2                                (4)

The cases are graded concurrently once per session (they mostly wait on timeouts and
process start-up); each test then checks one record.
"""

from __future__ import annotations

import concurrent.futures
import os
import sys
import time
from pathlib import Path

import pytest

from grader.sandbox.handle import detect_isolation
from grader.sandbox.isolation import base_level
from grader.scoring import runner

pytestmark = pytest.mark.platform  # python -m pytest -m platform (CI runs it)

HERE = Path(__file__).parent / "grader_cases"
HOSTILE = HERE / "hostile"
FAKE_CHECKS = HERE / "fake_checks"
IMPORT_TIMEOUT = "4"  # seconds to import a student module (the default is 30)

# case: (assignments, expected score per assignment, {check: text its feedback must contain})
CASES = {
    "sys_exit": (["a1"], {"a1": 4}, {"test_zeros": "sys.exit(0)"}),
    "os_exit": (["a1"], {"a1": 4}, {"test_zeros": "exited with status 3"}),
    "raise_at_import": (["a1"], {"a1": 0},
                        {"test_shape": "RuntimeError: broken on purpose at import",
                         "test_spread_stats": "RuntimeError: broken on purpose at import"}),
    "segfault": (["a1"], {"a1": 4}, {"test_spread_stats": "SIGSEGV"}),
    "loop_forever": (["a1"], {"a1": 4}, {"test_spread_stats": "did not finish within 4 s"}),
    "loop_at_import": (["a1"], {"a1": 0}, {
        "test_shape": "importing a1_initialization.initializers did not finish within 4 s",
        "test_zeros": "importing a1_initialization.initializers did not finish within 4 s"}),
    "memory_bomb": (["a1"], {"a1": 2}, {"test_he_std": "MemoryError",
                                        "test_spread_stats": "MemoryError"}),
    "fork_bomb": (["a1"], {"a1": 4}, {"test_spread_stats": "Resource temporarily unavailable"}),
    "fake_output": (["a1"], {"a1": 3}, {"test_he_std": "He std: expected 0.0707"}),
    "fake_results_file": (["a1"], {"a1": 3}, {"test_he_std": "He std: expected 0.0707"}),
    "monkeypatch": (["a1"], {"a1": 2}, {"test_he_std": "He std: expected 0.0707, got 0.49"}),
    "read_grader_files": (["a1"], {"a1": 4}, {}),
    # reads, lists, signals and connects to everything it should not (the message says
    # what it got: "found 0: {}" where the level hides it all)
    "probe_everything": (["a1"], {"a1": 4}, {"test_spread_stats": "RuntimeError: found "}),
    "import_solutions": (["a1"], {"a1": 0}, {
        "test_shape": "Not allowed: your code uses solutions",
        "test_zeros": "Not allowed: your code uses solutions"}),
    "import_solutions_by_path": (["a1"], {"a1": 1}, {"test_he_std": "He std"}),
    "a2_imports_dlkit_batchnorm": (["a2"], {"a2": 0}, {
        "test_forward_train": "Not allowed: your code uses dlkit.layers.BatchNormalization",
        "test_no_static_import_of_dlkit_batchnorm": "implement BatchNorm yourself"}),
    "a2_sneaks_dlkit_batchnorm": (["a2"], {"a2": 1}, {
        "test_backward": "Not allowed: your code uses dlkit.layers.BatchNormalization"}),
    "a4_imports_dlkit_kernels": (["a4"], {"a4": 0}, {
        "test_forward_matches": "Not allowed: your code uses dlkit.kernels.batchnorm_"}),
    "crash_a1_good_a2": (["a1", "a2"], {"a1": 0, "a2": 5}, {"test_shape": "SIGSEGV"}),
    # dlkit's own answers where they are the task (grader.sandbox.handle.BLOCKED)
    "a1_imports_dlkit_initializers": (["a1"], {"a1": 0}, {
        "test_shape": "Not allowed: your code uses dlkit.initializers",
        "test_spread_stats": "Not allowed: your code uses dlkit.initializers"}),
    "a1_sneaks_dlkit_answers": (["a1"], {"a1": 1}, {
        "test_he_std": "Not allowed: your code uses dlkit.initializers"}),
    "a3_multilayernet_batchnorm": (["a3"], {"a3": 0}, {
        "test_predict_shape": "Not allowed: your code uses dlkit.layers.BatchNormalization"}),
    "a3_uses_dlkit_batchnorm": (["a3"], {"a3": 0}, {
        "test_predict_shape": "Not allowed: your code uses dlkit.layers.BatchNormalization"}),
    "a4_finds_dlkit_kernels": (["a4"], {"a4": 0}, {
        "test_forward_matches": "no loaded kernel named batchnorm_forward_train"}),
    # memory no rlimit counts (a memfd grown by posix_fallocate, System V shared memory,
    # /dev/shm): refused, or bounded by a private size-limited /dev/shm (namespaces)
    "pins_memory": (["a1"], {"a1": 4}, {"test_spread_stats": "memfd_create: Permission"}),
    # every UNIX socket it can find, one in the Python installation's folder included
    # (unix_listener): refused at every level
    "unix_socket": (["a1"], {"a1": 4}, {"test_spread_stats": "reached 0: []"}),
    # 1.2 GiB of disk, each file deleted while kept open: a private 256 MiB tmpfs
    # (namespaces) or the disk quota watched by the grader (the other levels) stops it
    "fills_disk": (["a1"], {"a1": 4}, {"test_spread_stats": ""}),
    # terminal control sequences in what it prints and raises (test_no_forged_screen)
    "forges_screen": (["a1"], {"a1": 4}, {"test_spread_stats": "RuntimeError"}),
}
# Cases whose module fails at import: that task is "not-loaded", the error said once.
NOT_LOADED = {"raise_at_import": ("a1",), "loop_at_import": ("a1",),
              "import_solutions": ("a1",), "a2_imports_dlkit_batchnorm": ("a2",),
              "a4_imports_dlkit_kernels": ("a4",), "crash_a1_good_a2": ("a1",),
              "a1_imports_dlkit_initializers": ("a1",)}
# Wall-clock bound per case (s): generous for a loaded 2-core machine; what it guards
# against is a timeout or a crash costing minutes, or one case waiting on another.
CASE_BUDGET = 60

# where the fake_results_file case tries to plant a results file outside its sandbox
FAKE_RESULTS_MARKER = Path("/tmp/DLKIT-HOSTILE-FAKE-RESULTS.json")


def _grade(case: str):
    assignments = CASES[case][0]
    start = time.monotonic()
    record = runner.grade(HOSTILE / case, assignments, runner.Options(checks_dir=FAKE_CHECKS))
    return record, time.monotonic() - start


@pytest.fixture(scope="session")
def listening_server():
    """A real HTTP server on 127.0.0.1 while the cases run: what probe_everything tries."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="session")
def unix_listener():
    """A UNIX socket that anyone may connect to, in the Python installation's folder
    (which every level lets the worker read), while the cases run: what unix_socket tries.
    Yields the list of what was received."""
    import socket
    import threading

    path = Path(sys.prefix) / f"dlkit-hostile-{os.getpid()}.sock"
    received: list[bytes] = []
    done = threading.Event()
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        os.chmod(path, 0o777)
        server.listen()
        server.settimeout(0.2)

        def accept():
            while not done.is_set():
                try:
                    conn = server.accept()[0]
                except OSError:
                    continue
                with conn:
                    conn.settimeout(1)
                    try:
                        received.append(conn.recv(64))
                    except OSError:
                        received.append(b"(connected)")

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield received
        finally:
            done.set()
            thread.join()
            path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def hostile_records(listening_server, unix_listener):
    # a run at a level that leaves /tmp open (the slow per-level suites) may have left the
    # marker that test_fake_results_files_stay_inside_the_sandbox looks for
    FAKE_RESULTS_MARKER.unlink(missing_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DLKIT_GRADE_IMPORT_TIMEOUT", IMPORT_TIMEOUT)
        mp.delenv("DLKIT_GRADE_CHECKS_DIR", raising=False)
        # independent of grader.sandbox.kernel_cache (tested in test_grader_runner.py): a cold
        # cache would compile dlkit's kernels first, inside this fixture
        mp.setenv("DLKIT_GRADE_KERNEL_CACHE", "off")
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            futures = {case: pool.submit(_grade, case) for case in CASES}
            return {case: f.result() for case, f in futures.items()}


def _checks(record):
    return {c["name"]: c for a in record["assignments"] for c in a["checks"]}


# Only the levels that hide files (namespaces, Landlock) keep the grader's files and
# solutions/ from the worker: with a weaker one these cases really can read them (the
# instructor's note then says so).
HIDING_LEVELS = {"namespaces", "landlock", "landlock-same-uid"}
NEEDS_HIDING = {"read_grader_files", "import_solutions_by_path"}


def _hides() -> bool:
    return base_level(detect_isolation()) in HIDING_LEVELS


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_case_scores_exactly(hostile_records, case):
    if case in NEEDS_HIDING and not _hides():
        pytest.skip(f"{case}: needs a level that hides files, this machine has "
                    f"{detect_isolation()}")
    record, seconds = hostile_records[case]
    assignments, expected, reasons = CASES[case]
    scores = {a["id"]: a["score"] for a in record["assignments"]}
    assert scores == expected, _checks(record)
    for a in record["assignments"]:
        # a module that cannot be imported is the task's error, said once ("problem"); its
        # checks are then "not run: see above"
        assert a["status"] == ("not-loaded" if a["id"] in NOT_LOADED.get(case, ()) else
                               "graded"), (a["status"], a.get("problem"))
    checks = _checks(record)
    problems = {c["name"]: a.get("problem", {}).get("en", "") for a in record["assignments"]
                for c in a["checks"]}
    for name, text in reasons.items():
        message = checks[name]["message"]["en"]
        if message == "Not run: see above.":
            message = problems[name]
        assert text in message, checks[name]
        assert checks[name]["score"] == 0
    assert seconds < CASE_BUDGET * len(assignments)


def test_isolation_is_reported(hostile_records):
    record, _ = hostile_records["sys_exit"]
    assert record["isolation"] == detect_isolation()


def test_fake_output_is_shown_truncated_and_never_parsed(hostile_records):
    record, _ = hostile_records["fake_output"]
    outputs = [c["output"] for c in _checks(record).values() if c["output"]]
    assert outputs, "what the student printed should be shown"
    assert all(len(o) <= 2000 for o in outputs)
    assert any("END-OF-FAKE-OUTPUT" in o for o in outputs)
    assert record["score"] == 3  # the fake "5 / 5" it printed changed nothing


def test_probing_finds_nothing_it_could_use(hostile_records):
    """Hidden checks, points, grader sources, solutions/, test labels, data cache, results
    folders, the grader's processes, the network: none reachable where the level hides
    them; it costs the probing check, and nothing else changes (4 of 5 points)."""
    record, _ = hostile_records["probe_everything"]
    message = _checks(record)["test_spread_stats"]["message"]["en"]
    if not _hides():
        pytest.skip(f"{detect_isolation()} does not hide files (the instructor's note says so)")
    assert "found 0: {}" in message, message
    assert record["score"] == 4


def test_unix_sockets_are_refused(hostile_records, unix_listener):
    """unix_socket connects to every socket file it finds, the one in the Python
    installation's folder included: refused (seccomp) at every level, so nothing arrives."""
    record, _ = hostile_records["unix_socket"]
    message = _checks(record)["test_spread_stats"]["message"]["en"]
    assert "reached 0: []" in message and "Permission denied" in message, message
    assert unix_listener == []


def test_memory_outside_the_limit_is_refused(hostile_records):
    """pins_memory: memfd_create and shmget are refused (seccomp) at every level; /dev/shm
    is a private 16 MiB tmpfs (namespaces) or not writable (Landlock)."""
    record, _ = hostile_records["pins_memory"]
    message = _checks(record)["test_spread_stats"]["message"]["en"]
    assert "memfd_create: Permission denied" in message, message
    assert "shmget: Permission denied" in message, message
    if not _hides():  # user-no-landlock: /dev/shm is writable, a file of it is limited
        pytest.skip(f"{detect_isolation()} lets the worker write /dev/shm (the note says so)")
    assert "pinned 0 MiB" in message, message


@pytest.mark.parametrize("fmt", ["text", "json", "gradescope", "junit"])
def test_no_forged_screen(hostile_records, fmt):
    """forges_screen prints and raises terminal control sequences: every report shows them
    escaped (visible to the TA), none as a control character."""
    from grader.report import render

    record, _ = hostile_records["forges_screen"]
    report = render(record, fmt)
    controls = sorted({hex(ord(c)) for c in report if (ord(c) < 32 and c not in "\n\t")
                       or 0x7f <= ord(c) <= 0x9f or c == "\u202e"})
    assert controls == [], controls
    if fmt == "text":
        assert "\\x1b[2J\\x1b[H" in report and "\\x9b2J\\u202eFAIL\\x07" in report
    check = _checks(record)["test_spread_stats"]
    assert "\x1b" not in check["output"] and "\\x1b[2J" in check["output"]
    assert "\r" not in check["message"]["en"] and "\\x0dTotal" in check["message"]["en"]


def test_disk_is_bounded(hostile_records):
    """fills_disk: stopped at its working copy's 256 MiB, by the kernel (the tmpfs of
    namespaces: "No space left on device") or by the grader's quota (the other levels)."""
    import re

    record, _ = hostile_records["fills_disk"]
    message = _checks(record)["test_spread_stats"]["message"]["en"]
    if base_level(detect_isolation()) == "namespaces":
        found = re.search(r"took (\d+) MiB \(No space left on device\)", message)
        assert found and int(found.group(1)) <= 256, message
    else:
        assert "the worker was stopped: the disk quota (256 MiB)" in message, message


def _processes_with(marker: bytes) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(entry)
            except OSError:
                continue
    return found


class Sighting:
    """Looks for processes whose command line holds ``marker`` every 0.1 s, in a thread,
    while the ``with`` block runs: ``seen`` says whether one ever was there."""

    def __init__(self, marker: bytes):
        import threading

        self.marker, self.seen = marker, False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._look, daemon=True)

    def _look(self):
        while not self._done.wait(0.1):
            self.seen = self.seen or bool(_processes_with(self.marker))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()


SURVIVOR = b"DLKIT-HOSTILE-SURVIVOR-MARKER"


def test_nothing_outlives_the_assignment_budget(monkeypatch):
    """outlives_budget starts a process that ignores SIGTERM, then hangs at import until
    the budget runs out: when grade() returns, nothing it started is left (a cgroup's kill,
    the uid's processes, or the keeper's kill of every descendant, checked after the
    fact)."""
    from grader.sandbox import cgroup

    monkeypatch.setenv("DLKIT_GRADE_IMPORT_TIMEOUT", "120")  # the budget ends it first
    monkeypatch.setenv("DLKIT_GRADE_KERNEL_CACHE", "off")
    own = cgroup._own_cgroup()
    before = set(own.glob("dlkit-grade-*")) if own else set()
    with Sighting(SURVIVOR) as sighting:
        record = runner.grade(HOSTILE / "outlives_budget", ["a1"], runner.Options(
            checks_dir=FAKE_CHECKS, budgets={"a1": 10.0}))
    (a1,) = record["assignments"]
    assert a1["status"] == "budget", a1.get("log")
    assert sighting.seen  # it was started, and lived until the budget ran out
    assert _processes_with(SURVIVOR) == []
    # nor the worker cgroups of the killed checks process (their maker's pid is gone)
    made = set(own.glob("dlkit-grade-*")) - before if own else set()
    assert [p for p in made if not Path(f"/proc/{p.name.split('-')[2]}").exists()] == []


def test_daemon_left_behind_is_killed(hostile_records):
    hostile_records["fork_bomb"]  # graded: its test_zeros started a daemon and passed
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            assert b"DLKIT-HOSTILE-DAEMON-MARKER" not in cmdline, f"daemon alive: pid {entry}"


def test_secrets_were_not_readable(hostile_records):
    record, _ = hostile_records["read_grader_files"]
    zeros = _checks(record)["test_zeros"]
    if not _hides():
        pytest.skip("only namespaces and Landlock hide the grader's files")
    assert "secrets read: 0" in zeros["output"]
    assert zeros["score"] == 0  # it returns the right answer only if it read a secret


def test_fake_results_files_stay_inside_the_sandbox(hostile_records):
    hostile_records["fake_results_file"]
    if not _hides():
        pytest.skip("only namespaces (a private /tmp) and Landlock (no /tmp) keep it inside")
    assert not FAKE_RESULTS_MARKER.exists()


# The fallback isolation (no namespaces, no uid drop): the same scores where it can hold.
# Not the fork bomb: as root in this mode nothing limits the number of processes.
SESSION_CASES = ["sys_exit", "os_exit", "raise_at_import", "segfault", "loop_forever",
                 "memory_bomb", "fake_output", "monkeypatch", "import_solutions",
                 "a2_imports_dlkit_batchnorm", "crash_a1_good_a2",
                 "a1_imports_dlkit_initializers", "a3_multilayernet_batchnorm"]


@pytest.mark.slow
@pytest.mark.parametrize("case", SESSION_CASES)
def test_hostile_case_in_session_fallback(case, monkeypatch):
    monkeypatch.setenv("DLKIT_GRADE_ISOLATION", "session")
    monkeypatch.setenv("DLKIT_GRADE_IMPORT_TIMEOUT", IMPORT_TIMEOUT)
    record, seconds = _grade(case)
    assert record["isolation"] == "session"
    assert {a["id"]: a["score"] for a in record["assignments"]} == CASES[case][1]
    assert seconds < CASE_BUDGET * len(CASES[case][0])


# ------------------------------------------------------------------ the speed checks
# Graded with the REAL hidden checks (grader/checks, grader/points.toml): these cases attack
# how a4's and a2's test_speed time the student's code (grader.timing.varied).  Each is correct, so
# it keeps every correctness point, and must get exactly 0 speed points, with the reason.
REAL_CHECKS = Path(__file__).resolve().parents[1] / "grader" / "checks"
TIMED_RUN = "the results of the timed calls differ from BatchNorm of the inputs"
# a4 checks the kernels' results on the timed input before timing: a kernel that answers
# from a cache keyed by shape is wrong there already, and told so before anything is timed
UNTIMED = "Speed points are only given to kernels that compute the batch normalization"
SPEED_CASES = {
    # returns the last outputs when called again with the same array objects
    "a4_memoizes": ("a4", 16.0, "out: relative error"),
    # copies the outputs cached for the same (shape, dtype): also caught by the float32
    # checks, which call the float64 kernel again on new numbers of the same shapes
    "a4_caches_by_shape": ("a4", 12.0, UNTIMED),
    # at import, replaces the worker's timing loop by one that answers "done" at once
    "a4_fakes_timing_loop": ("a4", 16.0, "no valid value came back with the timed round"),
    # writes a forged "done" to the worker's reply pipe on the first call of each round
    "a4_forges_done_reply": ("a4", 16.0, "the worker answered out of turn"),
    # a2 layer returning the last out / dx for the same x / dout object
    "a2_memoizes": ("a2", 27.0, "forward: out: relative error"),
}


ALSO_CAUGHT = {"a4_caches_by_shape": ("test_forward_float32", "test_backward_float32")}
# Correct but slow (plain NumPy a4 no faster than the book's layer; a2 with Python loops
# over the features), each timed round run in a thread that has exited before "done":
# the CPU time of exited threads counts, so no speed points (task total without them).
THREAD_CASES = {"a4_times_in_threads": ("a4", 16.0), "a2_times_in_threads": ("a2", 27.0)}


@pytest.fixture(scope="session")
def speed_records():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DLKIT_GRADE_CHECKS_DIR", raising=False)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            cases = {**{case: aid for case, (aid, _t, _x) in SPEED_CASES.items()},
                     **{case: aid for case, (aid, _t) in THREAD_CASES.items()}}
            futures = {case: pool.submit(runner.grade, HOSTILE / case, [aid],
                                         runner.Options(checks_dir=REAL_CHECKS))
                       for case, aid in cases.items()}
            return {case: f.result() for case, f in futures.items()}


@pytest.mark.parametrize("case", sorted(SPEED_CASES))
def test_speed_check_cannot_be_gamed(speed_records, case):
    aid, total, text = SPEED_CASES[case]
    (result,) = speed_records[case]["assignments"]
    assert result["status"] == "graded", result.get("log")
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["test_speed"]["score"] == 0, checks["test_speed"]
    assert checks["test_speed"]["outcome"] == "failed"
    message = checks["test_speed"]["message"]
    assert text in message["en"], message
    if case not in ("a4_forges_done_reply", "a4_caches_by_shape"):  # told otherwise above
        assert TIMED_RUN in message["en"], message
        assert "BatchNorm と異なりました" in message["ja"], message
    others = {name: c["outcome"] for name, c in checks.items()
              if name != "test_speed" and name not in ALSO_CAUGHT.get(case, ())}
    assert set(others.values()) == {"passed"}, others
    assert result["score"] == total


def _speed_up(message: str) -> float:
    import re

    found = re.search(r"speed-up ([0-9.]+)×", message)
    assert found, message
    return float(found.group(1))


@pytest.mark.parametrize("case", sorted(THREAD_CASES))
def test_work_in_exited_threads_is_counted(speed_records, case):
    aid, total = THREAD_CASES[case]
    (result,) = speed_records[case]["assignments"]
    assert result["status"] == "graded", result.get("log")
    checks = {c["name"]: c for c in result["checks"]}
    speed = checks["test_speed"]
    assert speed["score"] == 0, speed
    # measured as what it is: no faster than the reference (a4), far slower (a2)
    assert _speed_up(speed["message"]["en"]) < (1.5 if aid == "a4" else 1 / 3), speed
    others = {name: c["outcome"] for name, c in checks.items() if name != "test_speed"}
    assert set(others.values()) == {"passed"}, others
    assert result["score"] == total
    # the patch of the timing loop took hold (it says so when its module is imported)
    assert any("every timed round runs in a thread" in c["output"] for c in checks.values())


@pytest.mark.slow
def test_work_in_exited_threads_is_counted_without_a_cgroup(monkeypatch):
    """The same without a cgroup (a container whose cgroups are read-only): the process
    CPU clock of each of the worker's processes counts its exited threads."""
    monkeypatch.setenv("DLKIT_GRADE_CGROUP", "off")
    monkeypatch.delenv("DLKIT_GRADE_CHECKS_DIR", raising=False)
    record = runner.grade(HOSTILE / "a4_times_in_threads", ["a4"],
                          runner.Options(checks_dir=REAL_CHECKS))
    (result,) = record["assignments"]
    speed = {c["name"]: c for c in result["checks"]}["test_speed"]
    assert speed["score"] == 0 and _speed_up(speed["message"]["en"]) < 1.5, speed
