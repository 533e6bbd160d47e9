"""The grader's runner half: wire format, sandboxed worker, scoring, submission intake.

Workers here are real processes (the isolation of this machine: namespaces as root, else
the fallbacks); the student code they run is in tests/grader_cases/worker_probe/.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.ipc import protocol
from grader.ipc.protocol import ProtocolError, Rng, Unencodable
from grader.sandbox.handle import (
    GRADER_DIR,
    Remote,
    StudentError,
    StudentTimeout,
    Worker,
    WorkerDied,
    detect_isolation,
)
from grader.sandbox.isolation import available
from grader.scoring import runner, submission

CASES = Path(__file__).parent / "grader_cases"
PROBE = CASES / "worker_probe"
MOD = "probe.code"


# ------------------------------------------------------------------------ protocol


def _roundtrip(value):
    r, w = os.pipe()
    try:
        buffers: list = []
        header = {"value": protocol.encode(value, buffers)}
        protocol.send(w, header, buffers)
        got, bufs = protocol.recv(r)
        return protocol.decode(got["value"], bufs)
    finally:
        os.close(r)
        os.close(w)


def test_protocol_roundtrip_keeps_types_dtypes_and_shapes():
    rng = np.random.default_rng(0)
    value = {"f32": rng.random((3, 4)).astype(np.float32), "i64": np.arange(5),
             "bool": np.array([True, False]), "c": np.array([1 + 2j]),
             "empty": np.zeros((0, 3)), "strided": np.arange(20.0).reshape(4, 5)[:, ::2],
             "scalar32": np.float32(1.5), "nan": float("nan"), "inf": -float("inf"),
             "nested": [1, "two", (3.0, None, True)], 7: "int key", "rng": Rng(4)}
    got = _roundtrip(value)
    assert set(got) == set(value)
    for key in ("f32", "i64", "bool", "c", "empty", "strided"):
        assert got[key].dtype == value[key].dtype and got[key].shape == value[key].shape
        assert np.array_equal(got[key], value[key])
        assert got[key].flags.writeable
    assert type(got["scalar32"]) is np.float32 and got["scalar32"] == 1.5
    assert np.isnan(got["nan"]) and got["inf"] == -float("inf")
    assert got["nested"] == [1, "two", (3.0, None, True)] and got[7] == "int key"
    assert got["rng"] == Rng(4)


def test_protocol_puts_a_messages_arrays_at_fixed_places_within_a_page():
    """The same arguments land at the same offsets within a page in every worker (a timed
    kernel's speed must not depend on the allocator's history)."""
    rng = np.random.default_rng(0)
    value = [rng.random((32, 100)), rng.random(100), np.arange(3.0), rng.random((16, 64))]
    got = _roundtrip(value)
    offsets = [a.ctypes.data % 4096 for a in got]
    assert offsets[0] == 0 and offsets[1] == 128 and offsets[3] == 3 * 128
    for a, b in zip(got, value, strict=True):
        assert np.array_equal(a, b) and a.flags.c_contiguous and a.flags.writeable
        assert a.dtype == b.dtype and a.shape == b.shape


@pytest.mark.parametrize("value", [object(), np.array([object()]), {1, 2}, b"bytes",
                                   np.zeros(2, dtype=[("a", "f8")])])
def test_protocol_refuses_what_is_not_plain_data(value):
    with pytest.raises(Unencodable, match="cannot be sent"):
        protocol.encode(value, [])


@pytest.mark.parametrize("data, match", [
    ({"$t": "pickle", "v": "x"}, "unknown tag"),
    ({"$t": "nd", "i": 0, "dtype": "O", "shape": [1]}, "not numeric"),
    ({"$t": "nd", "i": 0, "dtype": "<f8", "shape": [3]}, "do not match"),
    ({"$t": "nd", "i": 5, "dtype": "<f8", "shape": [1]}, "bad buffer index"),
    ({"$t": "nd", "i": 0, "dtype": "<f8", "shape": [-1]}, "bad shape"),
    ({"$t": "float", "v": "__import__('os')"}, "bad float"),
    ({"$t": "ref", "id": "1"}, "bad id"),
])
def test_protocol_rejects_malformed_values(data, match):
    with pytest.raises(ProtocolError, match=match):
        protocol.decode(data, [b"\0" * 8])


def test_protocol_rejects_oversized_and_garbled_messages():
    r, w = os.pipe()
    try:
        os.write(w, (10**9).to_bytes(4, "big"))
        with pytest.raises(ProtocolError, match="exceeds"):
            protocol.recv(r)
        raw = b'{"buffers": [100000]}'
        os.write(w, len(raw).to_bytes(4, "big") + raw)
        with pytest.raises(ProtocolError, match="exceeds"):
            protocol.recv(r, limits=protocol.Limits(max_bytes=1000))
        os.write(w, (5).to_bytes(4, "big") + b"{nope")
        with pytest.raises(ProtocolError, match="not valid JSON"):
            protocol.recv(r)
    finally:
        os.close(r)
        os.close(w)


# -------------------------------------------------------------------------- worker


@pytest.fixture(scope="module")
def worker():
    with Worker(PROBE) as w:
        yield w


def test_a_worker_that_does_not_start_is_a_sandbox_error():
    """No reply within the start-up time: the grader's SandboxError (exit 3 upstream),
    naming what happened, not an error of the grader's own handling."""
    from grader.sandbox.handle import SandboxError
    from grader.sandbox.policy import Limits

    with Worker(PROBE, limits=Limits(start_timeout=0.001)) as w:
        with pytest.raises(SandboxError, match="the worker did not start"):
            w.start()


def test_a_worker_that_cannot_be_started_is_a_sandbox_error(monkeypatch):
    """The start command itself fails (here an argument past the kernel's 128 KiB limit for
    one argument): the grader's SandboxError, not an error in the student's check."""
    from grader.sandbox import handle as sandbox
    from grader.sandbox.handle import SandboxError

    monkeypatch.setattr(sandbox, "_BOOT", "#" * 200_000)
    with Worker(PROBE) as w:
        with pytest.raises(SandboxError, match="could not be started.*Argument list too long"):
            w.start()
        assert w.channel is None and w.proc is None


def test_a_start_up_that_dies_once_is_tried_again_and_one_that_always_dies_is_ours(
        monkeypatch, tmp_path):
    """A worker that dies before it says it started (a wrapper such as unshare failing and
    exiting with status 1, the OOM killer on a loaded machine) ran no student code: it is
    started again; if that fails too, it is the grader's SandboxError (exit 3 upstream),
    never a student's error."""
    from grader.sandbox import handle as sandbox
    from grader.sandbox.handle import SandboxError

    once = tmp_path / "died-once"
    boot = sandbox._BOOT
    monkeypatch.setattr(sandbox, "_BOOT", (
        f"import os\nif not os.path.exists({str(once)!r}):\n"
        f"    open({str(once)!r}, 'w').close(); os._exit(1)\n") + boot)
    with Worker(PROBE) as w:
        w.start()
        assert w.starts == 2 and once.exists()
        w.ping()
    monkeypatch.setattr(sandbox, "_BOOT", "import os; os._exit(1)")
    with Worker(PROBE) as w:
        with pytest.raises(SandboxError, match=r"(?s)did not start.*status 1.*tried 2 times"):
            w.start()


def test_a_dead_worker_is_not_reaped_before_its_group_is_killed():
    """Asking whether a worker is alive never collects its exit status: its pid, which
    names its process group, stays its own until ``kill`` has signalled that group (a
    group signalled after the reap could be another program's, the pid reused)."""
    from grader.ipc import protocol

    with Worker(PROBE) as w:
        w.ping()
        ch = w.channel
        protocol.send(ch.req, {"op": "exit"})
        deadline = time.monotonic() + 30
        while ch.alive and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not ch.alive and ch.proc.returncode is None
        state = Path(f"/proc/{ch.proc.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        assert state == b"Z"  # exited, not reaped: the pid is still the worker's
        ch.kill()
        assert ch.proc.returncode == 0  # collected only now, after the group's kill


def test_a_worker_killed_from_outside_is_reported_as_killed(tmp_path):
    """The worker's Python SIGKILLed from outside (the OOM killer, another program): under
    namespaces its wrapper, unshare, exits with status 1 instead of passing the signal on;
    the reason says SIGKILL all the same, not an exit of the student's code."""
    import signal

    from grader.sandbox.handle import WorkerDied

    with Worker(PROBE) as w:
        w.ping()
        kids = Path(f"/proc/{w.proc.pid}/task/{w.proc.pid}/children").read_text().split()
        target = int(kids[0]) if kids else w.proc.pid  # unshare's child, or the worker
        os.kill(target, signal.SIGKILL)
        with pytest.raises(WorkerDied, match="killed by SIGKILL"):
            w.ping()


def test_worker_calls_return_values_and_output(worker):
    got = worker.call(f"{MOD}:normal", 3, 4, Rng(7), timeout=30)
    assert np.array_equal(got, np.random.default_rng(7).normal(size=(3, 4)))
    assert "normal() was called" in worker.transcript[-1]


def test_worker_return_args_shows_writes_into_arguments(worker):
    x, out = np.arange(4.0), np.zeros(4)
    result, after = worker.call(f"{MOD}:double_into", x, out, return_args=True)
    assert result is None
    assert np.array_equal(after[1], 2 * x)
    assert np.array_equal(out, np.zeros(4))  # the trusted side's array is never touched


def test_worker_remote_objects(worker):
    acc = worker.create(f"{MOD}:Accumulator", 10)
    assert isinstance(acc, Remote)
    assert acc.call("add", np.array([1.0, 2.0])) == 13.0
    acc.set("total", 1.0)
    assert acc.get("total") == 1.0
    child = acc.call("child")  # not plain data: stays in the worker
    assert isinstance(child, Remote) and child.get("parent_total") == 1.0
    secs, results = worker.time([((acc, "add"), (np.ones(2),), {})], number=5, repeat=2,
                                return_result=True)
    assert secs > 0 and results[0][0] == acc.get("total")


def test_student_error_has_type_message_and_a_traceback_of_student_code(worker):
    with pytest.raises(StudentError) as info:
        worker.call(f"{MOD}:fail", "bad input")
    err = info.value
    assert err.type_name == "ValueError" and "bad input" in err.message
    assert "code.py" in err.traceback and "grader/sandbox/worker.py" not in err.traceback
    assert "about to fail" in err.output


def test_unsendable_argument_is_refused_before_sending(worker):
    with pytest.raises(Unencodable):
        worker.call(f"{MOD}:normal", object())


def test_timeout_kills_the_worker_and_the_next_call_gets_a_fresh_one():
    with Worker(PROBE) as w:
        acc = w.create(f"{MOD}:Accumulator", 0)
        start = time.monotonic()
        with pytest.raises(StudentTimeout, match="within 1 s"):
            w.call(f"{MOD}:spin", timeout=1)
        assert time.monotonic() - start < 8
        assert not w.alive
        assert w.call(f"{MOD}:answer") == 42 and w.starts == 2
        with pytest.raises(WorkerDied, match="lost"):
            acc.get("total")


def test_trusted_clock_measures_what_the_worker_does(worker):
    slow = worker.time(f"{MOD}:sleep", (0.02,), number=3, repeat=2)
    fast = worker.time(f"{MOD}:answer", (), number=3, repeat=2)
    assert slow >= 0.02 and fast < 0.01


def test_forged_protocol_messages_kill_the_worker():
    with Worker(PROBE) as w:
        with pytest.raises(WorkerDied, match="malformed"):
            w.call(f"{MOD}:forge_reply", timeout=10)


def test_solutions_and_grader_cannot_be_imported(worker):
    for module in ("solutions", "solutions.a1_initialization.initializers", "grader.checks",
                   "grader.scoring.plugin"):
        with pytest.raises(StudentError) as info:
            worker.call(f"{MOD}:import_module", module)
        assert info.value.blocked, info.value


def test_blocked_batchnorm_only_where_it_is_the_task():
    with Worker(PROBE, assignment="a2") as w:
        with pytest.raises(StudentError, match="dlkit.layers.BatchNormalization") as info:
            w.call(f"{MOD}:dlkit_attr", "dlkit.layers", "BatchNormalization")
        assert info.value.blocked
        assert w.call(f"{MOD}:dlkit_attr", "dlkit.layers", "Affine") == "Affine"
    with Worker(PROBE, assignment="a1") as w:
        assert w.call(f"{MOD}:dlkit_attr", "dlkit.layers", "BatchNormalization") == \
            "BatchNormalization"


# route -> what the a3 worker (BatchNorm is the task) does with it: "blocked" (ImportError
# naming dlkit's BatchNorm), or the text of the error/result when nothing usable is found.
A3_ROUTES = {
    "layers_bn_sys_modules": "blocked", "reference_bn": "blocked", "kernels_bn": "blocked",
    "multilayernet_bn": "blocked", "bn_subclass": "blocked", "bn_kernel_gc": "nothing found",
}


def test_a3_worker_has_no_dlkit_batchnorm_by_any_route():
    """The a3 network must use the student's a2 layer: dlkit's BatchNorm class is neutered,
    dlkit.reference and the batchnorm kernels never run in the worker (so neither
    object.__subclasses__() nor gc finds a working one), whatever the import route."""
    with Worker(PROBE, assignment="a3") as w:
        for route, want in A3_ROUTES.items():
            if want == "blocked":
                with pytest.raises(StudentError) as info:
                    w.call(f"{MOD}:reach_dlkit", route, timeout=60)
                assert info.value.blocked, (route, info.value)
                assert "implement BatchNorm yourself" in info.value.message, route
            else:
                assert w.call(f"{MOD}:reach_dlkit", route, timeout=60) == want, route
        assert w.call(f"{MOD}:dlkit_attr", "dlkit.layers", "Affine") == "Affine"
        assert w.call(f"{MOD}:reach_dlkit", "init_weight") == "function"  # a1's, allowed


def test_a1_worker_has_no_dlkit_initializers_or_histograms():
    with Worker(PROBE, assignment="a1") as w:
        for route, module in [("init_weight", "dlkit.initializers"),
                              ("histograms", "dlkit.experiments"),
                              ("multilayernet_bn", "dlkit.network")]:
            with pytest.raises(StudentError, match=f"BLOCKED: {module} ") as info:
                w.call(f"{MOD}:reach_dlkit", route, timeout=60)
            assert info.value.blocked and "weight initialization" in info.value.message


@pytest.mark.parametrize("level", ["namespaces", "landlock"])
@pytest.mark.parametrize("aid", ["a1", "a3"])
def test_removing_the_import_hook_finds_no_blocked_code(aid, level):
    """Under namespaces the blocked modules' files are hidden from the worker, under
    Landlock unreadable: dropping the grader's import hook and importing dlkit afresh gets
    nothing of them."""
    if level not in available():
        pytest.skip(f"{level} is not available here ({', '.join(available())})")
    with Worker(PROBE, assignment=aid, isolation=level) as w:
        route = "reimport_without_hook" if aid == "a3" else "init_weight"
        if aid == "a1":
            w.call(f"{MOD}:reach_dlkit", "reimport_without_hook", timeout=60)  # drops the hook
        with pytest.raises(StudentError, match="No module named 'dlkit.(kernels.batchnorm|"
                                               "initializers)'|Permission denied: "
                                               "'.*dlkit/(kernels/batchnorm|initializers)"):
            w.call(f"{MOD}:reach_dlkit", route, timeout=60)


@pytest.mark.skipif(detect_isolation() != "namespaces", reason="needs namespace isolation")
def test_namespace_worker_is_unprivileged_offline_and_alone(worker):
    facts = worker.call(f"{MOD}:facts", str(GRADER_DIR))
    assert facts["uid"] != 0 and facts["pid"] == 1
    assert facts["pids"] == [1]  # no other process visible: the grader is out of reach
    assert not facts["network"]
    assert facts["grader_files"] == [] and facts["cwd_is_private"]
    # Of the source checkout only dlkit/ is visible (not solutions/, tests/, nor a build/
    # copy of the grader with its hidden checks, which once appeared there), and Python's
    # own folder when a virtual environment lives in the checkout (./.venv).
    repo = GRADER_DIR.parent.resolve()
    venvs = {Path(p).resolve().relative_to(repo).parts[0] for p in (sys.prefix, sys.exec_prefix)
             if Path(p).resolve().is_relative_to(repo)}
    assert worker.call(f"{MOD}:listdir", str(GRADER_DIR.parent)) == sorted({"dlkit"} | venvs)


def test_session_fallback_still_limits_time_and_survives_crashes(monkeypatch):
    monkeypatch.setenv("DLKIT_GRADE_ISOLATION", "session")
    with Worker(PROBE) as w:
        assert w.isolation == "session"
        with pytest.raises(WorkerDied, match="SIGSEGV"):
            w.call(f"{MOD}:segfault")
        with pytest.raises(StudentTimeout):
            w.call(f"{MOD}:spin", timeout=1)
        assert w.call(f"{MOD}:answer") == 42


def test_session_fallback_points_nowhere_near_the_data_and_tells_only_the_instructor(
        monkeypatch, tmp_path):
    """Without root the worker could read dlkit's data cache (the test labels): its
    environment does not point there, and the record's instructor entry says plainly that
    it is readable; no student-visible report does."""
    from grader.report import formats

    monkeypatch.setenv("DLKIT_GRADE_ISOLATION", "session")
    monkeypatch.setenv("DLKIT_DATA_DIR", str(tmp_path / "dlkit-data"))
    with Worker(PROBE) as w:
        env = w.call(f"{MOD}:environ")
        assert "DLKIT_DATA_DIR" not in env
        assert env["HOME"] != os.path.expanduser("~") and "work-" in env["HOME"]
    record = runner.grade(CASES / "hostile" / "sys_exit", ["a1"],
                          runner.Options(checks_dir=CASES / "fake_checks"))
    assert record["isolation"] == "session"
    note = record["instructor"]["isolation_note"]
    for text in ("data cache", "test labels", "hidden checks", "WEAK ISOLATION"):
        assert text in note
    # for the instructor only: nothing a student sees says what the worker could read
    for report in (formats.text(record), json.dumps(json.loads(formats.gradescope(record))
                                                    ["output"]), formats.junit(record)):
        assert "WEAK ISOLATION" not in report and "test labels" not in report


@pytest.mark.skipif(detect_isolation() == "session", reason="no kernel cache in session mode")
def test_worker_loads_dlkit_kernels_compiled_by_the_trusted_side_but_not_blocked_ones():
    """grader.sandbox.kernel_cache: the trusted side compiles dlkit's kernels once; an a3 worker
    gets a private copy without the BatchNorm kernels (blocked there) and loads the rest
    instead of compiling (a cache hit).  The first call compiles ~64 kernels (~20 s), later
    runs reuse them (~/.cache/dlkit-grade)."""
    from grader.sandbox import kernel_cache

    folder = kernel_cache.prepare()
    assert folder is not None and any(n.startswith("batchnorm.") for _, n in
                                      [p.split("/") for p, _ in kernel_cache.files(folder, [])])
    with Worker(PROBE, assignment="a3", kernel_cache=folder) as w:
        use = w.call(f"{MOD}:kernel_cache_use", timeout=60)
    assert any(n.startswith("activations.relu_forward") for n in use["entries"])
    assert not any(n.startswith("batchnorm.") for n in use["entries"])
    assert use["hits"] == 1 and use["misses"] == 0, use


def test_kernel_cache_rebuild_drops_the_entries_of_other_checkouts(tmp_path, monkeypatch):
    """Each checkout (each fresh clone in CI) files its kernels under a folder of its own; a
    rebuild for another dlkit must not keep them, or every worker would be handed the
    entries of every dlkit ever graded."""
    from grader.sandbox import kernel_cache

    folder = tmp_path / "cache"
    foreign = folder / "kernels_0123456789abcdef" / "activations.relu_forward-1.py311.nbi"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"not ours")
    (folder / kernel_cache.STAMP).write_text(json.dumps({"digest": "another dlkit"}))
    monkeypatch.setenv("DLKIT_GRADE_KERNEL_CACHE", str(folder))
    assert kernel_cache.prepare() == folder
    entries = [rel for rel, _ in kernel_cache.files(folder, [])]
    assert entries and not foreign.parent.exists()
    assert len({rel.split("/")[0] for rel in entries}) == 1, entries


def test_paired_speedup_interleaves_rounds_and_counts_the_workers_cpu_time(tmp_path):
    """The speed checks' measurement: rounds of the two workers alternate, each calibrated
    to ~round_seconds; a round's time is the CPU time of the worker's processes (so waiting
    counts for nothing, and work handed to a child process it waits for counts in full);
    the speed-up is the median of the pairs' ratios."""
    from grader.timing import paired

    sub = tmp_path / "sub" / "a1_initialization"
    sub.mkdir(parents=True)
    (sub / "initializers.py").write_text(
        "import os\nimport time\n\n"
        # i % 7 keeps every int small: sums past 2**30 cost more per addition, and the
        # larger loop would then be more than three times the work
        "def work(n):\n    total = 0\n    for i in range(n):\n        total += i % 7\n"
        "    return total\n\n"
        "def nap(s):\n    time.sleep(s)\n\n"
        "def work_in_child(n):\n    pid = os.fork()\n    if pid == 0:\n        work(n)\n"
        "        os._exit(0)\n    os.waitpid(pid, 0)\n")
    mod = "a1_initialization.initializers"
    with Worker(sub.parent) as student, Worker(sub.parent) as reference:
        speed, results = paired.paired_speedup(
            paired.Timed(student, [(f"{mod}:work", (20_000,), {})]),
            paired.Timed(reference, [(f"{mod}:work", (60_000,), {})]), pairs=7)
        assert student.starts == reference.starts == 1  # both sessions finished cleanly
        assert speed.pairs == 7 and results == [(sum(i % 7 for i in range(20_000)), (20_000,))]
        assert speed.low <= speed.median <= speed.high
        # three times the work. CPU time still depends on what runs beside the worker
        # (shared caches, a busy sibling hyperthread): 3.0-3.2 on an idle machine, up to 3.6
        # on a loaded one. Mistakes this test is for land far outside the band: wall time
        # with a sleeping worker, or the other worker's time, gives about 1.
        assert 2.4 < speed.median < 3.75, speed
        assert speed.spread() == f"{speed.low:.2f}–{speed.high:.2f}×"
        # sleeping costs no CPU: a "kernel" that waits is not slow, one that hides its work
        # in a child process it waits for is not fast
        napping, _ = paired.paired_speedup(
            paired.Timed(student, [(f"{mod}:nap", (0.003,), {})]),
            paired.Timed(reference, [(f"{mod}:work", (60_000,), {})]), pairs=5)
        assert napping.median > 10, napping
        hidden, _ = paired.paired_speedup(
            paired.Timed(student, [(f"{mod}:work_in_child", (2_000_000,), {})]),
            paired.Timed(reference, [(f"{mod}:work", (2_000_000,), {})]), pairs=3,
            round_seconds=0.2)
        assert hidden.median < 1.2, hidden


def test_abandoned_timing_session_restarts_the_worker():
    with Worker(PROBE) as w:
        with w.timing(f"{MOD}:answer", number=2, repeat=3) as session:
            session.round()  # two rounds are never run, finish() never called
        assert not w.alive  # the worker waited for "go": it was stopped
        assert w.call(f"{MOD}:answer") == 42 and w.starts == 2


# ------------------------------------------------------------------------- scoring


def test_points_are_shared_by_parametrized_checks_and_unrun_checks_listed():
    run = {"status": "budget", "checks": [
        {"name": "test_a[1]", "outcome": "passed", "fraction": 1.0},
        {"name": "test_a[2]", "outcome": "failed", "fraction": 0.0},
        {"name": "test_b", "outcome": "passed", "fraction": 0.25},
        {"name": "test_extra", "outcome": "passed", "fraction": 1.0}], "seconds": 1.0}
    result = runner.score("a2", run, {"test_a": 4, "test_b": 2, "test_c": 3})
    by_name = {c["name"]: c for c in result["checks"]}
    assert by_name["test_a[1]"]["score"] == 2 and by_name["test_a[2]"]["score"] == 0
    assert by_name["test_b"]["score"] == 0.5
    assert by_name["test_c"]["outcome"] == "not-run"
    assert "time budget" in by_name["test_c"]["message"]["en"]
    assert by_name["test_extra"]["max_score"] == 0 and result["warnings"]
    assert result["score"] == 2.5 and result["max_score"] == 9


def test_points_file_is_validated(tmp_path):
    path = tmp_path / "points.toml"
    path.write_text("[a1]\ntest_x = -1\n")
    with pytest.raises(runner.GraderError, match=r"\[a1\] test_x: expected a number >= 0"):
        runner.load_points(path)
    path.write_text("[a1]\ntest_x = 2\n[meta]\nnote = 'x'\n")
    assert runner.load_points(path) == {"a1": {"test_x": 2.0}}


def test_budget_exceeded_keeps_finished_checks_and_grades_other_assignments():
    # loop_forever needs 4 s for its spread_stats timeout alone: 2 s cannot be enough.
    options = runner.Options(checks_dir=CASES / "fake_checks", budgets={"a1": 2.0})
    start = time.monotonic()
    record = runner.grade(CASES / "hostile" / "loop_forever", ["a1", "a2"], options)
    assert time.monotonic() - start < 2.0 + 10  # + copying, start-up, the kill
    a1, a2 = record["assignments"]
    assert a1["status"] == "budget" and a1["max_score"] == 5
    spread = {c["name"]: c for c in a1["checks"]}["test_spread_stats"]
    assert spread["outcome"] == "not-run" and "time budget" in spread["message"]["en"]
    assert a2["status"] == "missing" and a2["score"] == 0 and a2["max_score"] == 5
    assert "not in the submission" in a2["checks"][0]["message"]["en"]


# ---------------------------------------------------------------------- submission


def _zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_with_wrapper_folder_and_macos_litter(tmp_path):
    archive = _zip(tmp_path / "s.zip", {
        "alice/assignments/a1_initialization/initializers.py": "x = 1\n",
        "__MACOSX/alice/._initializers.py": "junk"})
    root = submission.prepare(archive, tmp_path / "out")
    assert (root / "a1_initialization" / "initializers.py").read_text() == "x = 1\n"
    assert submission.present(root) == {"a1"}


def test_single_assignment_folder_is_recognised_by_its_file(tmp_path):
    folder = tmp_path / "my_work"
    folder.mkdir()
    (folder / "batchnorm.py").write_text("y = 2\n")
    root = submission.prepare(folder, tmp_path / "out")
    assert (root / "a2_batchnorm" / "batchnorm.py").is_file()


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "a/../../evil.py",
                                  "C:/evil.py"])
def test_zip_path_traversal_is_refused(tmp_path, name):
    archive = _zip(tmp_path / "s.zip", {"a1_initialization/initializers.py": "", name: "x"})
    with pytest.raises(submission.SubmissionError, match="outside the archive"):
        submission.prepare(archive, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


def test_zip_symlink_member_is_refused(tmp_path):
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("a1_initialization/initializers.py")
        info.external_attr = (0o120777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(submission.SubmissionError, match="symbolic links"):
        submission.prepare(archive, tmp_path / "out")


def test_zip_bomb_stops_at_the_limit(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a1_initialization/initializers.py", "")
        with zf.open("a1_initialization/zeros.bin", "w") as member:
            for _ in range(64):
                member.write(b"\0" * 2**20)
    assert archive.stat().st_size < 2**20  # 64 MiB that compress to almost nothing
    with pytest.raises(submission.SubmissionError, match="zip bomb|MiB"):
        submission.prepare(archive, tmp_path / "out")


# Crafted zips: each is the student's "unreadable" submission with the reason, never another
# exception (which would stop a single grade, or a whole class's batch).
MALFORMED_ZIPS = {
    "a file, then a folder of the same name": (
        [("a1_initialization/x", "a"), ("a1_initialization/x/y.py", "b")],
        "a file and a folder of the same name"),
    "a folder, then a file of the same name": (
        [("a1_initialization/x/y.py", "b"), ("a1_initialization/x", "a")],
        "a file and a folder of the same name"),
    "a 400-byte folder name": (
        [("a1_initialization/" + "d" * 400 + "/initializers.py", "a")],
        "a name longer than 255 bytes"),
    "a 300-byte file name": ([("a1_initialization/" + "f" * 300 + ".py", "a")],
                             "a name longer than 255 bytes"),
}


def _malformed_zip(path: Path, kind: str) -> Path:
    if kind == "a corrupt compressed stream":
        _zip(path, {"a1_initialization/initializers.py": "x = 1\n" * 2000})
        data = bytearray(path.read_bytes())
        at = data.index(b"initializers.py") + len("initializers.py") + 5
        data[at:at + 16] = b"\xff" * 16
        path.write_bytes(bytes(data))
        return path
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in MALFORMED_ZIPS[kind][0]:
            zf.writestr(name, text)
    return path


@pytest.mark.parametrize("kind", [*MALFORMED_ZIPS, "a corrupt compressed stream"])
def test_a_malformed_zip_is_unreadable_with_the_reason(tmp_path, kind):
    archive = _malformed_zip(tmp_path / "s.zip", kind)
    want = MALFORMED_ZIPS[kind][1] if kind in MALFORMED_ZIPS else "while decompressing"
    with pytest.raises(submission.SubmissionError, match=want):
        submission.prepare(archive, tmp_path / "out")


def test_folder_copy_skips_symlinks_and_caches(tmp_path):
    src = tmp_path / "sub" / "a1_initialization"
    src.mkdir(parents=True)
    (src / "initializers.py").write_text("z = 3\n")
    (src / "leak.py").symlink_to("/etc/passwd")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "x.pyc").write_bytes(b"\0")
    root = submission.prepare(tmp_path / "sub", tmp_path / "out")
    names = sorted(p.name for p in (root / "a1_initialization").iterdir())
    assert names == ["initializers.py"]


def test_unrecognisable_submission_says_what_was_expected(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_text("hi")
    with pytest.raises(submission.SubmissionError, match="a2_batchnorm"):
        submission.prepare(tmp_path / "sub", tmp_path / "out")
    with pytest.raises(submission.SubmissionError, match="not a readable zip"):
        submission.prepare(_zip_bytes(tmp_path / "bad.zip"), tmp_path / "out2")


def _zip_bytes(path: Path) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a1_initialization/initializers.py", "x")
    path.write_bytes(buf.getvalue()[:-30] + b"PK\x05\x06broken")
    return path


# ------------------------------------------------------------ results file, errors


def test_results_file_is_authenticated(tmp_path):
    from grader.scoring.plugin import _Results

    path = tmp_path / "results.json"
    results = _Results(path, b"k" * 64)
    results.checks["test_x"] = {"name": "test_x", "outcome": "passed", "fraction": 1.0}
    results.complete = True
    results.write()
    assert runner._verified(path, b"k" * 64)["checks"][0]["name"] == "test_x"
    assert runner._verified(path, b"other key") is None
    forged = json.loads(path.read_text())
    forged["payload"] = forged["payload"].replace('"passed"', '"passed", "x": 1')
    path.write_text(json.dumps(forged))
    assert runner._verified(path, b"k" * 64) is None
    path.write_text('{"score": 100}')
    assert runner._verified(path, b"k" * 64) is None


def test_broken_checks_are_a_grader_error_not_a_zero(tmp_path):
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "points.toml").write_text("[a1]\ntest_one = 1\n")
    (checks / "test_a1.py").write_text("def test_one(:\n")  # a syntax error in our checks
    record = runner.grade(CASES / "hostile" / "sys_exit", ["a1"],
                          runner.Options(checks_dir=checks))
    (a1,) = record["assignments"]
    assert a1["status"] == "grader" and "SyntaxError" in a1["log"]
    assert "not your fault" in a1["checks"][0]["message"]["en"]


def test_every_check_keeps_what_the_students_code_printed_the_last_one_too(tmp_path):
    """The worker is closed in the last check's teardown: its output is kept all the same."""
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "points.toml").write_text("[a1]\ntest_first = 1\ntest_last = 1\n")
    (checks / "conftest.py").write_text(
        "from grader.scoring.plugin import feedback, worker  # noqa\n")
    (checks / "test_a1.py").write_text(
        "F = 'a1_initialization.initializers:init_weight'\n"
        "def test_first(worker):\n    worker.call(F, 1, 1, 'first', None)\n"
        "def test_last(worker):\n    worker.call(F, 1, 1, 'last', None)\n    assert False\n")
    sub = tmp_path / "sub" / "a1_initialization"
    sub.mkdir(parents=True)
    (sub / "initializers.py").write_text(
        "def init_weight(n_in, n_out, scheme, rng):\n    print('printed by', scheme)\n")
    record = runner.grade(sub.parent, ["a1"], runner.Options(checks_dir=checks))
    by_name = {c["name"]: c for c in record["assignments"][0]["checks"]}
    assert "printed by first" in by_name["test_first"]["output"]
    assert "printed by last" in by_name["test_last"]["output"]
    assert "printed by first" not in by_name["test_last"]["output"]


@pytest.mark.parametrize("stop", ["pytest.exit('stopped on purpose', returncode=0)",
                                  "raise KeyboardInterrupt"])
def test_check_stopped_during_its_call_scores_zero(tmp_path, stop):
    """A set-up that passed earns nothing: only a passed call phase does.

    pytest re-raises Exit and KeyboardInterrupt out of the call phase without a call
    report; the check keeps its set-up record, which must say "not finished", 0 points.
    """
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "points.toml").write_text("[a1]\ntest_first = 1\ntest_stopped = 2\n"
                                        "test_never_reached = 4\n")
    (checks / "test_a1.py").write_text(
        "import pytest\n"
        "def test_first():\n    pass\n"
        f"def test_stopped():\n    {stop}\n"
        "def test_never_reached():\n    pass\n")
    record = runner.grade(CASES / "hostile" / "sys_exit", ["a1"],
                          runner.Options(checks_dir=checks))
    (a1,) = record["assignments"]
    by_name = {c["name"]: c for c in a1["checks"]}
    assert by_name["test_first"]["score"] == 1 and by_name["test_first"]["outcome"] == "passed"
    stopped = by_name["test_stopped"]
    assert stopped["score"] == 0 and stopped["outcome"] == "error", stopped
    assert "stopped before it completed" in stopped["message"]["en"]
    assert by_name["test_never_reached"]["outcome"] == "not-run"
    assert a1["score"] == 1


# ------------------------------------------ timed runs with varied inputs (grader.timing.varied)

_BN_VARY = dict(perturb=((0, 0), (1, 0)),
                probes=((0, 4, 0, 2), (0, 7, 0, 1), (1, 4, 1, 2), (1, 5, 1, 1)),
                tol=(1e-12,) * 4, names=("out", "invstd", "dx", "dgamma"))


def _bn_steps(fwd, bwd, N=16, D=5, seed=0):
    rng = np.random.default_rng(seed)
    x, dout = rng.normal(1.0, 2.0, (N, D)), rng.standard_normal((N, D))
    gamma, beta = rng.uniform(0.5, 2.0, D), rng.uniform(-1.0, 1.0, D)
    xhat, invstd = rng.standard_normal((N, D)), rng.uniform(0.5, 2.0, D)
    return [(fwd, (x, gamma, beta, 1e-5, np.empty((N, D)), np.empty((N, D)), np.empty(D),
                   np.empty(D)), {}),
            (bwd, (dout, xhat, gamma, invstd, np.empty((N, D)), np.empty(D), np.empty(D)), {})]


def _copies(steps):
    return [(fn, tuple(np.array(a) if isinstance(a, np.ndarray) else a for a in args), kw)
            for fn, args, kw in steps]


def test_varied_run_puts_inputs_back_and_catches_a_memoizing_kernel():
    from dlkit import kernels
    from grader.timing import varied

    vary = varied.Vary(**_BN_VARY, seed=3)
    steps = _bn_steps(kernels.batchnorm_forward_train, kernels.batchnorm_backward)
    before = _copies(steps)
    prepared = varied.prepare(vary.plan([s[1] for s in steps], 40))
    _, want = varied.run_round(_copies(steps), prepared, 0, 40)
    _, got = varied.run_round(steps, prepared, 0, 40)
    assert got.shape == (40, 4) and varied.mismatch(got, want, vary.tol) is None
    for (_f, args, _k), (_g, orig, _l) in zip(steps, before, strict=True):
        assert np.array_equal(args[0], orig[0])  # the varied inputs are back, bit for bit
    # every call really differs: the perturbed out entries are not those of the plain call
    plain = varied.prepare({"perturb": [],
                            "probes": vary.plan([s[1] for s in steps], 40)["probes"]})
    _, unvaried = varied.run_round(_copies(steps), plain, 0, 40)
    assert varied.mismatch(unvaried, want, vary.tol) is not None

    calls = []

    def memo_forward(*args):  # returns what the first call wrote
        if not calls:
            calls.append(kernels.batchnorm_forward_train(*args))
        return args[4]

    memo = [(memo_forward, *steps[0][1:]), steps[1]]
    _, cheated = varied.run_round(memo, prepared, 0, 40)
    probe, err = varied.mismatch(cheated, want, vary.tol)
    assert vary.names[probe] == "out" and err > 0.1
    assert varied.mismatch(None, want, vary.tol) == (0, float("inf"))
    assert varied.mismatch(want[:5], want, vary.tol) == (0, float("inf"))


def test_timing_with_vary_sends_probes_with_every_done_and_returns_a_plain_call():
    """In a clean worker, dlkit's kernels timed with varied inputs: each round's probes equal
    the trusted replay; the results returned are those of the inputs as given."""
    from dlkit import kernels
    from grader.timing import varied

    target_f, target_b = ("dlkit.kernels:batchnorm_forward_train",
                          "dlkit.kernels:batchnorm_backward")
    steps = _bn_steps(target_f, target_b)
    vary = varied.Vary(**_BN_VARY, seed=5)
    with Worker(None) as w, w.timing(steps, number=30, repeat=3, warmup=1,
                                     timeout=60, vary=vary) as session:
        for _ in range(3):
            session.round()
        (fwd_out, fwd_args), (bwd_out, bwd_args) = session.finish()
    assert len(session.probes) == 3
    replay = _copies(_bn_steps(kernels.batchnorm_forward_train, kernels.batchnorm_backward))
    prepared = varied.prepare(session.plan)
    for r, got in enumerate(session.probes):
        _, want = varied.run_round(replay, prepared, 30 * r, 30)
        assert varied.mismatch(got, want, vary.tol) is None, r
    fresh = _copies(_bn_steps(kernels.batchnorm_forward_train, kernels.batchnorm_backward))
    kernels.batchnorm_forward_train(*fresh[0][1])
    kernels.batchnorm_backward(*fresh[1][1])
    assert np.array_equal(fwd_out, fresh[0][1][4]) and np.array_equal(bwd_out, fresh[1][1][4])
    assert np.array_equal(fwd_args[0], fresh[0][1][0])  # x as given, not perturbed
