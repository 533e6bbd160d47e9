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
import time
from pathlib import Path

import pytest

from grader.sandbox.handle import detect_isolation
from grader.sandbox.isolation import base_level
from grader.scoring import runner

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
def hostile_records(listening_server):
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
TIMED_RUN = "the timed calls did not compute BatchNorm for the inputs given"
SPEED_CASES = {
    # returns the last outputs when called again with the same array objects
    "a4_memoizes": ("a4", 16.0, "out: relative error"),
    # copies the outputs cached for the same (shape, dtype): also caught by the float32
    # checks, which call the float64 kernel again on new numbers of the same shapes
    "a4_caches_by_shape": ("a4", 12.0, "out: relative error"),
    # at import, replaces the worker's timing loop by one that answers "done" at once
    "a4_fakes_timing_loop": ("a4", 16.0, "no valid value came back with the timed round"),
    # writes a forged "done" to the worker's reply pipe on the first call of each round
    "a4_forges_done_reply": ("a4", 16.0, "the worker answered out of turn"),
    # a2 layer returning the last out / dx for the same x / dout object
    "a2_memoizes": ("a2", 27.0, "forward: out: relative error"),
}


ALSO_CAUGHT = {"a4_caches_by_shape": ("test_forward_float32", "test_backward_float32")}


@pytest.fixture(scope="session")
def speed_records():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DLKIT_GRADE_CHECKS_DIR", raising=False)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = {case: pool.submit(runner.grade, HOSTILE / case, [aid],
                                         runner.Options(checks_dir=REAL_CHECKS))
                       for case, (aid, _total, _text) in SPEED_CASES.items()}
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
    if case != "a4_forges_done_reply":  # that one is stopped as a broken worker
        assert TIMED_RUN in message["en"], message
        assert "BatchNorm を計算していませんでした" in message["ja"], message
    others = {name: c["outcome"] for name, c in checks.items()
              if name != "test_speed" and name not in ALSO_CAUGHT.get(case, ())}
    assert set(others.values()) == {"passed"}, others
    assert result["score"] == total
