"""Shared helpers for the pytest-benchmark suites in this folder.

Run all suites (not part of the default ``pytest`` run, whose testpaths is ``tests``)::

    python -m pytest benchmarks --benchmark-only

pytest-benchmark prints its usual timing table; at the end this conftest prints a
"dlkit benchmark summary": for every group, each entry's speed-up over the group's
baseline (timed in the same run, so the ratio is meaningful on a busy machine), whether
a stated target is met, and free-form measurements (bandwidth fractions, JIT times).

In a bench_*.py file::

    def test_mine(benchmark, report):
        report.run(benchmark, "my group", "numba", fn, arg1, arg2)      # times fn(arg1, arg2)

    # the baseline of the group:   report.run(..., baseline=True)
    # a target for one entry:      report.target("my group", "numba", 6.0)   # ≥ 6× baseline
    # any other measured line:     report.note("bandwidth fraction 0.71 (target ≥ 0.5)")

Times are the *minimum* over pytest-benchmark's rounds: on a shared machine noise only
ever adds time, so the minimum is the most reproducible estimate.  On a heavily loaded
machine add ``--benchmark-timer time.process_time`` (CPU time of this process).
"""

import pytest


def pytest_xdist_auto_num_workers(config):
    """Benchmarks time one process alone: pyproject's ``-n auto`` means no workers here."""
    return 0


class Report:
    """Collects timings per group and prints speed-ups against each group's baseline."""

    def __init__(self):
        self.groups = {}  # group -> {name: seconds}, in insertion order
        self.baselines = {}  # group -> name
        self.targets = {}  # (group, name) -> minimum speed-up
        self.notes = []

    def run(self, benchmark, group, name, fn, *args, baseline=False):
        """Time fn(*args) with pytest-benchmark under ``group``/``name``; return fn's result."""
        benchmark.group = group
        result = benchmark(fn, *args)
        self.record(benchmark, group, name, baseline=baseline)
        return result

    def record(self, benchmark, group, name, baseline=False):
        """Store the minimum time of a benchmark that has run (None when benchmarks are off)."""
        if benchmark.stats is None:  # --benchmark-disable: nothing was timed
            return None
        seconds = benchmark.stats.stats.min
        self.groups.setdefault(group, {})[name] = seconds
        if baseline:
            self.baselines[group] = name
        return seconds

    def seconds(self, group, name):
        return self.groups.get(group, {}).get(name)

    def target(self, group, name, min_speedup):
        self.targets[(group, name)] = min_speedup

    def note(self, text):
        self.notes.append(text)

    def lines(self):
        out = []
        for group, times in self.groups.items():
            base = self.baselines.get(group)
            out.append(f"[{group}]" + (f"  baseline: {base}" if base else ""))
            for name, sec in times.items():
                line = f"  {name:<28} {_duration(sec):>12}"
                if base and name != base:
                    speedup = times[base] / sec
                    line += f"   {speedup:6.2f}x vs {base}"
                    goal = self.targets.get((group, name))
                    if goal is not None:
                        line += f"   target >= {goal:g}x: {'met' if speedup >= goal else 'NOT MET'}"
                out.append(line)
        out.extend(self.notes)
        return out


def _duration(seconds):
    """1.23 s, 45.6 ms or 78.9 us: three significant figures in a readable unit."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-6:.3g} us"


_REPORT = Report()


@pytest.fixture(scope="session")
def report():
    """The session's :class:`Report` (one for all bench_*.py files)."""
    return _REPORT


def pytest_terminal_summary(terminalreporter):
    lines = _REPORT.lines()
    if lines:
        terminalreporter.section("dlkit benchmark summary (speed-up = baseline time / time)")
        for line in lines:
            terminalreporter.write_line(line)
