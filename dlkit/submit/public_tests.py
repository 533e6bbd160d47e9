"""Run the handout's public tests on the student's files and sum them up per task.

The tests run in a pytest subprocess from the handout folder (its ``conftest.py`` points them
at the files there), with one BLAS thread (small matrices, often on a laptop's busy cores).
Each task gets a :class:`TestSummary`, read from pytest's JUnit XML report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from dlkit.tasks import Task

__all__ = ["TESTS_TIMEOUT", "TestSummary", "run_public_tests"]

#: Seconds the public tests of all tasks together may take before they are stopped.
TESTS_TIMEOUT = 900


@dataclass
class TestSummary:
    """One task's public tests: counts, and each failure's test name and first line."""

    passed: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.passed + self.skipped + len(self.failures)

    @property
    def not_started(self) -> bool:
        """Every test fails with the stub's ``NotImplementedError: TODO``: nothing written yet."""
        return (not self.passed and bool(self.failures)
                and all("NotImplementedError" in m and "TODO" in m for _, m in self.failures))


def _first_line(case: ET.Element) -> tuple[str, str] | None:
    """(outcome, message) of a test case that did not pass, else None."""
    for child in case:
        if child.tag in ("failure", "error", "skipped"):
            message = (child.get("message") or child.text or "").strip()
            return child.tag, message.splitlines()[0] if message else child.tag
    return None


def run_public_tests(root: Path, tasks: list[Task]) -> dict[str, TestSummary]:
    """Run ``<root>/<folder>/test_public.py`` of every task that has one.

    Returns {task id: TestSummary} for those tasks.  Raises RuntimeError when pytest cannot
    run them at all (no ``conftest.py`` in ``root``, a crash, the time limit).
    """
    root = Path(root).resolve()
    tasks = [t for t in tasks if (root / t.folder / "test_public.py").is_file()]
    if not tasks:
        return {}
    if not (root / "conftest.py").is_file():
        raise RuntimeError(f"{root / 'conftest.py'} is missing, so the public tests cannot "
                           f"run; take it from the handout")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory(prefix="dlkit-submit-") as tmp:
        junit = Path(tmp) / "junit.xml"
        args = [sys.executable, "-m", "pytest", *(t.folder for t in tasks), "-q",
                "-p", "no:cacheprovider", f"--junitxml={junit}"]
        try:
            proc = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True,
                                  timeout=TESTS_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the public tests did not finish within {TESTS_TIMEOUT} s; "
                               f"run `pytest` in {root} to see which one hangs") from None
        if not junit.is_file():
            raise RuntimeError(f"pytest could not run the public tests (exit status "
                               f"{proc.returncode}):\n{(proc.stdout + proc.stderr)[-1500:]}")
        cases = list(ET.parse(junit).getroot().iter("testcase"))
    summaries = {t.id: TestSummary() for t in tasks}
    for case in cases:
        module = case.get("classname", "") + "." + case.get("file", "")
        task = next((t for t in tasks if t.folder in module.replace("/", ".").split(".")), None)
        if task is None:
            continue
        summary, result = summaries[task.id], _first_line(case)
        if result is None:
            summary.passed += 1
        elif result[0] == "skipped":
            summary.skipped += 1
        else:
            summary.failures.append((case.get("name", "?"), result[1]))
    return summaries
