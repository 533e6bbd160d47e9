"""A slow or loaded machine slows grading down; it does not stop it.

Gradescope gives a container half a vCPU by default, and a shared machine may give the
grader less.  Here the grader's process runs in a cgroup whose CPU is limited to half a
core (cgroup v2 ``cpu.max``, or the v1 CFS quota where the cpu controller is still on v1),
so every second of CPU takes at least two of wall clock, and a worker is started for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import cgroup

ROOT = Path(__file__).resolve().parents[1]
PERIOD = 100_000  # µs
QUOTA = 50_000  # µs per period: half a core

# Start a worker as the checks do (proving numpy, numba and every dlkit module), twice:
# once with the default limits, once with a start-up limit of FACTOR times the CPU time
# the first start-up took.  Prints what it measured (JSON).
SCRIPT = """
import json, sys, time
from grader.timing import paired
from grader.sandbox.policy import Limits
from grader.sandbox.handle import SandboxError, Worker, installation_modules

def start(limits):
    with Worker(None, limits=limits) as w:
        t0 = time.monotonic()
        w.prove(installation_modules())
        wall = time.monotonic() - t0
        return wall, paired.cpu_seconds(w.owner())

wall, cpu = start(Limits())
limit = float(sys.argv[1]) * cpu
try:
    again = start(Limits(start_timeout=limit))
    error = ""
except SandboxError as exc:
    again, error = None, str(exc)[:300]
print(json.dumps({"wall": wall, "cpu": cpu, "limit": limit, "again": again, "error": error}))
"""
FACTOR = 1.5  # the second start-up's CPU limit: 1.5 x the first's CPU time, below its wall


def _half_core_cgroup() -> tuple[Path, str] | None:
    """(folder, file to write a pid to) of a new cgroup limited to half a core, or None."""
    own = cgroup._own_cgroup()
    v2 = own / f"dlkit-half-core-{os.getpid()}" if own is not None else None
    if v2 is not None and (own / "cgroup.subtree_control").exists() and \
            "cpu" in (own / "cgroup.subtree_control").read_text().split():
        v2.mkdir()
        (v2 / "cpu.max").write_text(f"{QUOTA} {PERIOD}")
        return v2, "cgroup.procs"
    v1 = Path("/sys/fs/cgroup/cpu")
    if (v1 / "cpu.cfs_quota_us").exists() and os.access(v1, os.W_OK):
        folder = v1 / f"dlkit-half-core-{os.getpid()}"
        folder.mkdir()
        (folder / "cpu.cfs_period_us").write_text(str(PERIOD))
        (folder / "cpu.cfs_quota_us").write_text(str(QUOTA))
        return folder, "cgroup.procs"
    return None


@pytest.mark.slow
def test_worker_start_up_on_half_a_core_is_slower_not_stopped():
    made = _half_core_cgroup()
    if made is None:
        pytest.skip("needs a cgroup with a CPU limit (cpu.max, or the v1 CFS quota) that "
                    "this process may create")
    folder, procs = made
    try:
        run = subprocess.run(
            ["/bin/sh", "-c", 'echo 0 > "$0" && exec "$@"', str(folder / procs),
             sys.executable, "-c", SCRIPT, str(FACTOR)],
            capture_output=True, text=True, cwd=ROOT, timeout=600,
            env={**os.environ, "DLKIT_GRADE_KERNEL_CACHE": "off"})
    finally:
        for _ in range(50):
            try:
                folder.rmdir()
                break
            except OSError:
                import time

                time.sleep(0.1)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"\nworker start-up on half a core: {got['wall']:.2f} s wall, {got['cpu']:.2f} s "
          f"CPU; again with a limit of {got['limit']:.2f} s CPU: {got['again']}")
    # half a core: a second of CPU takes at least two of wall clock
    assert got["wall"] >= 1.8 * got["cpu"], got
    # a start-up limit below the wall time it takes here, above its CPU time: it starts
    assert got["error"] == "" and got["again"] is not None, got
