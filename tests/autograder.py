"""Gradescope's autograder run the way Gradescope runs it, for the tests.

A folder stands for /autograder (the scripts take it from ``AUTOGRADER_ROOT``): the
bundle is unpacked into it (:func:`grader.platforms.gradescope.bundle.unpack`),
``setup.sh`` builds the image
there (its apt step skipped), and ``run_autograder`` grades one submission at a time. Both
run as root without CAP_SYS_ADMIN, with Docker's default capabilities (what Gradescope's
containers give), through ``setpriv``, in an environment as bare as the container's.

:meth:`Autograder.run` also measures what the run needs: wall time, CPU time of the whole
process tree, and its peak memory (sum over the tree's processes, sampled), and can stop
the run the way the platform does at its timeout (every process of the tree killed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grader.platforms.gradescope import bundle

# Docker's default capabilities: root, but no CAP_SYS_ADMIN (no new namespaces)
DOCKER_CAPS = ("-all,+chown,+dac_override,+fsetid,+fowner,+mknod,+net_raw,+setgid,+setuid,"
               "+setfcap,+setpcap,+net_bind_service,+sys_chroot,+kill,+audit_write")
CONTAINER = ["setpriv", "--bounding-set", DOCKER_CAPS, "--inh-caps", "-all"]
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Run:
    """One run of run_autograder: its exit status, what it printed (the instructor's
    stdout), results.json (None if absent), and what it needed."""

    returncode: int
    stdout: str
    results: dict | None
    wall: float  # seconds
    cpu: float  # user + system seconds of the whole process tree
    peak_rss_mb: float  # largest sum of the tree's resident memory seen
    peak_pss_mb: float  # the same, shared pages divided among their users
    largest_mb: float  # the largest single process (ru_maxrss)
    killed: bool  # stopped by the simulated platform timeout


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(name))
    return tree


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants now alive."""
    tree, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


def _memory(pids: list[int]) -> tuple[int, int]:
    """(sum of RSS, sum of PSS) in bytes over ``pids``."""
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                rss += int(f.read().split()[1]) * PAGE
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            pass  # the process ended meanwhile
    return rss, pss


def _kill_tree(pid: int) -> None:
    """Stop ``pid`` and its descendants (so that none forks or is re-parented meanwhile),
    then kill them all, each by its id."""
    stopped: set[int] = set()
    while True:
        new = [p for p in process_tree(pid) if p not in stopped]
        if not new:
            break
        for p in new:
            try:
                os.kill(p, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            stopped.add(p)
    for p in stopped:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Autograder:
    """A bundle unpacked into a folder standing for /autograder (see the module doc)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def build(cls, timeout: float = bundle.DEFAULT_TIMEOUT, lang: str = "en",
              assignments: list[str] | None = None) -> Autograder:
        """Build the bundle and unpack it into a new folder standing for /autograder.

        The folder is made under the system's temporary folder with mode 0755, like
        /autograder: the sandboxed workers (another uid) must reach the venv's Python.
        """
        parent = Path(tempfile.mkdtemp(prefix="dlkit-autograder-"))
        os.chmod(parent, 0o755)
        zip_path = parent / "autograder.zip"
        bundle.build(zip_path, timeout=timeout, lang=lang, assignments=assignments)
        root = bundle.unpack(zip_path, parent / "autograder")
        os.chmod(root, 0o755)
        return cls(root)

    def remove(self) -> None:
        shutil.rmtree(self.root.parent, ignore_errors=True)

    def env(self) -> dict[str, str]:
        # The container's /tmp goes away with it; here a folder beside /autograder stands
        # for it, so that what a killed run leaves there is removed with the tree.
        tmp = self.root.parent / "tmp"
        tmp.mkdir(exist_ok=True)
        os.chmod(tmp, 0o1777)
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
                "AUTOGRADER_ROOT": str(self.root), "TMPDIR": str(tmp)}

    def setup(self, timeout: float = 900) -> subprocess.CompletedProcess:
        """Run setup.sh as Gradescope's image build does (apt-get skipped)."""
        return subprocess.run([*CONTAINER, "bash", str(self.root / "source" / "setup.sh")],
                              env={**self.env(), "DLKIT_SKIP_APT": "1"},
                              cwd=self.root / "source", capture_output=True, text=True,
                              timeout=timeout)

    @property
    def site_packages(self) -> Path:
        (site,) = (self.root / "venv" / "lib").glob("python3*/site-packages")
        return site

    def submit(self, submission: Path, metadata: dict | None = None) -> None:
        """Put ``submission`` (a folder) where Gradescope puts the student's files."""
        shutil.rmtree(self.root / "submission")
        shutil.copytree(submission, self.root / "submission",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.rmtree(self.root / "results")
        (self.root / "results").mkdir()
        if metadata is not None:
            (self.root / "submission_metadata.json").write_text(json.dumps(metadata))

    def results(self) -> dict | None:
        """results.json as it is now (None when absent)."""
        path = self.root / "results" / "results.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def setting(self, name: str, value: str) -> str:
        """Set ``name`` in source/settings.env (as a bundle built with it would); returns
        the file's text before, for :meth:`restore`."""
        path = self.root / "source" / "settings.env"
        saved = path.read_text()
        lines = [line for line in saved.splitlines() if not line.startswith(f"{name}=")]
        path.write_text("\n".join([*lines, f"{name}={value}"]) + "\n")
        return saved

    def restore(self, saved: str) -> None:
        (self.root / "source" / "settings.env").write_text(saved)

    def run(self, kill_when=None, limit: float = 1200, wrap: list[str] | None = None) -> Run:
        """Run run_autograder on the submission in place.

        ``kill_when(results)``: a test of results.json as it is rewritten during the run;
        when true, the run is stopped as the platform stops it at its timeout (every
        process of the tree killed at once). ``limit``: seconds before the same happens.
        ``wrap``: a command that runs the container's command (e.g. a mount namespace).
        """
        start = time.monotonic()
        proc = subprocess.Popen([*(wrap or []), *CONTAINER, str(self.root / "run_autograder")],
                                env=self.env(), cwd=self.root, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        out: list[bytes] = []
        reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
        reader.start()
        peak_rss = peak_pss = 0
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)  # (0, ...) while it runs
            if pid:
                break
            pids = process_tree(proc.pid)
            rss, pss = _memory(pids)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            if not killed and (time.monotonic() - start > limit
                               or (kill_when and kill_when(self.results()))):
                _kill_tree(proc.pid)  # the container goes away with everything in it
                killed = True
            time.sleep(0.1)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        reader.join(timeout=10)
        return Run(proc.returncode, b"".join(out).decode(errors="replace"), self.results(), wall,
                   usage.ru_utime + usage.ru_stime, peak_rss / 2**20, peak_pss / 2**20,
                   usage.ru_maxrss / 1024, killed)


# ---------------------------------------------------------------- Gradescope's specification
# https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format")
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format",
            "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
            "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output",
             "output_format", "tags", "visibility", "extra_data"}
OUTPUT_FORMATS = {"text", "simple_format", "html", "md", "ansi"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
# what dlkit-grade promises to write (all optional in the specification)
WRITTEN_TOP = {"score", "execution_time", "output", "output_format", "visibility",
               "stdout_visibility", "extra_data", "tests"}
WRITTEN_TEST = {"name", "number", "score", "max_score", "status", "output", "output_format",
                "visibility", "tags"}


def check_results_json(data: dict) -> None:
    """Assert that ``data`` is a results.json as Gradescope's specification defines it,
    with every field dlkit-grade promises, and a score that is the sum of the tests'."""
    assert set(data) <= TOP_KEYS, f"not in Gradescope's specification: {set(data) - TOP_KEYS}"
    assert set(data) >= WRITTEN_TOP, f"missing: {WRITTEN_TOP - set(data)}"
    number = (int, float)
    assert isinstance(data["score"], number) and not isinstance(data["score"], bool)
    assert isinstance(data["execution_time"], number) and data["execution_time"] >= 0
    assert isinstance(data["output"], str) and data["output_format"] in OUTPUT_FORMATS
    assert data["stdout_visibility"] in VISIBILITIES
    assert isinstance(data["extra_data"], dict)
    assert isinstance(data["tests"], list) and data["tests"]
    numbers = set()
    for test in data["tests"]:
        assert set(test) <= TEST_KEYS, f"not in the specification: {set(test) - TEST_KEYS}"
        assert set(test) >= WRITTEN_TEST, f"missing: {WRITTEN_TEST - set(test)}"
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["number"], str) and test["number"] not in numbers
        numbers.add(test["number"])
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert (test["status"] == "passed") <= (test["score"] == test["max_score"])
        assert isinstance(test["output"], str) and test["output_format"] in OUTPUT_FORMATS
        assert test["visibility"] in VISIBILITIES
        assert isinstance(test["tags"], list) and all(isinstance(t, str) for t in test["tags"])
    assert abs(data["score"] - sum(t["score"] for t in data["tests"])) < 1e-6


def student_visible(data: dict) -> str:
    """Everything of a results.json a student is shown: the top-level output, and each
    test's name and output (``visibility`` visible)."""
    parts = [data.get("output", "")]
    for test in data["tests"]:
        if test.get("visibility", data.get("visibility", "visible")) != "hidden":
            parts += [test.get("name", ""), test.get("output", "")]
    return "\n".join(parts)
