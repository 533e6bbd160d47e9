"""The pytest plugin of the trusted checks process: fixtures and the results file.

The runner (:mod:`grader.scoring.runner`) starts
``pytest -p grader.scoring.plugin <checks>/test_aN.py``
with these environment variables (all set by the runner, never by the student):

    DLKIT_GRADE_SUBMISSION  trusted read-only copy of the submission (the folder holding
                            a1_initialization/ ...)
    DLKIT_GRADE_ASSIGNMENT  a1 | a2 | a3 | a4 (what the worker blocks)
    DLKIT_GRADE_RESULTS     the results file (in a directory only the grader can reach)
    DLKIT_GRADE_RUN_DIR     a trusted directory for the workers' working copies
    DLKIT_GRADE_KEY_FD      a pipe carrying the key that authenticates the results file
    DLKIT_GRADE_IMPORT_TIMEOUT  optional: seconds allowed to import a student module
    DLKIT_GRADE_KERNELS     optional: dlkit's compiled kernels (grader.sandbox.kernel_cache)

Fixtures (the interface of the hidden checks, see grader/checks/conftest.py):
``worker``, ``feedback``, ``reference_timer``, ``submission_files``, ``hidden_data``.
Speed checks time with :func:`grader.timing.paired.paired_speedup`.

A check that ends in :class:`grader.sandbox.handle.SandboxError` (no worker could start: the
installation, not the student) stops the run: the results file says ``grader_fault`` and
the runner grades nobody (exit 3).

Every finished check is written to the results file at once (atomically), so a run stopped
by the time budget keeps the checks it finished. A check's record: name, outcome, the
fraction of its points earned, the feedback (in every language of the catalog) and the tail
of what the student's code printed during the check.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import os
import re
from pathlib import Path

import pytest

from dlkit.submit.source import source_text
from dlkit.tasks import TASKS
from grader.sandbox.handle import (
    SandboxError,
    StudentError,
    StudentTimeout,
    Worker,
    WorkerDied,
    limits_from_env,
)
from grader.sandbox.policy import ConfigError
from grader.scoring import messages
from grader.scoring.catalog import Text, by_language, languages, plain, say

OUTPUT_TAIL = 2000


# ------------------------------------------------------------------------- feedback


class CheckFailed(AssertionError):
    """Raised by ``feedback.fail``: carries the message in every language of the catalog."""

    def __init__(self, message: dict | str, ja: str | None = None):
        texts = (Text(message) if isinstance(message, dict)
                 else by_language(en=message, ja=ja or message))
        super().__init__(texts.en)
        self.texts = texts

    @property
    def en(self) -> str:
        return self.texts.en

    @property
    def ja(self) -> str:
        return self.texts.ja


def _message(message: dict | None, en: str | None, ja: str | None) -> Text:
    """A check's message: a catalog Text (grader.scoring.catalog.say), or an en=/ja= pair."""
    if message is not None:
        return Text(message)
    return by_language(en=en or "", ja=ja or en or "")


class Feedback:
    """What a check tells the student. ``fail`` stops the check (0 points); ``partial``
    awards a fraction of its points if the check then passes; ``note`` adds a remark.
    Each takes a message of the catalog (``say(key, ...)``, see grader.scoring.catalog)."""

    def __init__(self):
        self.fraction: float | None = None
        self.notes: list[Text] = []

    def fail(self, message: dict | None = None, *, en: str | None = None,
             ja: str | None = None):
        raise CheckFailed(_message(message, en, ja))

    def partial(self, fraction: float, message: dict | None = None, *, en: str = "",
                ja: str | None = None) -> None:
        fraction = float(fraction)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"feedback.partial: fraction must be in [0, 1], got {fraction}")
        self.fraction = fraction
        if message is not None or en:
            self.notes.append(_message(message, en, ja))

    def note(self, message: dict | None = None, *, en: str | None = None,
             ja: str | None = None) -> None:
        self.notes.append(_message(message, en, ja))


class TaskNotLoaded(Exception):
    """A check not run: the task's module could not be imported (reported once, above)."""


# ------------------------------------------------------------------------- fixtures


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


_workers: list[Worker] = []


@pytest.fixture(scope="module")
def worker():
    """A sandboxed worker for the submission under test (restarted after a death)."""
    submission = _env_path("DLKIT_GRADE_SUBMISSION")
    if submission is None:
        raise RuntimeError("DLKIT_GRADE_SUBMISSION is not set: run the checks with "
                           "dlkit-grade (grader.scoring.runner), not with plain pytest")
    w = Worker(submission, assignment=os.environ.get("DLKIT_GRADE_ASSIGNMENT"),
               run_dir=_env_path("DLKIT_GRADE_RUN_DIR"), limits=limits_from_env(),
               kernel_cache=_env_path("DLKIT_GRADE_KERNELS"))
    _workers.append(w)
    try:
        yield w
    finally:
        _workers.remove(w)
        w.close()


@pytest.fixture(scope="session")
def reference_timer():
    """A clean worker (no student code, nothing blocked), for trusted reference timings:
    ``reference_timer.time("dlkit.reference...", ...)`` under the same limits and threads."""
    w = Worker(None, run_dir=_env_path("DLKIT_GRADE_RUN_DIR"))
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def feedback(request):
    fb = Feedback()
    request.node._grader_feedback = fb
    return fb


class SubmissionFiles:
    """Read-only view of the student's files (the trusted copy; the worker has its own)."""

    def __init__(self, root: Path):
        self.root = root

    @property
    def files(self) -> list[str]:
        """All files, as paths relative to the root ("a2_batchnorm/batchnorm.py")."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file())

    def path(self, rel: str) -> Path | None:
        p = self.root / rel
        return p if p.is_file() else None

    def read_text(self, rel: str) -> str | None:
        p = self.path(rel)
        return source_text(p) if p else None

    def imports(self, rel: str) -> set[str]:
        """Modules and names a file imports ("dlkit.layers", "dlkit.layers.BatchNormalization").

        Static and advisory (the worker blocks the forbidden imports at run time).
        """
        text = self.read_text(rel)
        if text is None:
            return set()
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return set()
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        return found


@pytest.fixture(scope="session")
def submission_files():
    return SubmissionFiles(_env_path("DLKIT_GRADE_SUBMISSION"))


#: Where HiddenData.mnist_test finds the MNIST test set, and its two files.
MNIST_DIR_VARIABLE = "DLKIT_GRADE_MNIST_DIR"
MNIST_TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


class HiddenData:
    """The real datasets, loaded on the trusted side (labels never reach the worker)."""

    def fashion_mnist(self, **kwargs):
        """``dlkit.data.load_mnist(dataset="fashion-mnist", download=False, **kwargs)``."""
        from dlkit.data import load_mnist

        return load_mnist(dataset="fashion-mnist", download=False, **kwargs)

    def mnist_test(self, normalize: bool = True, flatten: bool = True):
        """MNIST test set ``(x_test, t_test)`` from the folder $DLKIT_GRADE_MNIST_DIR
        (``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``); None when the
        variable is unset or the files are not there."""
        import numpy as np

        from dlkit.data import read_idx

        if not os.environ.get(MNIST_DIR_VARIABLE):
            return None
        folder = Path(os.environ[MNIST_DIR_VARIABLE])
        images, labels = folder / MNIST_TEST_FILES[0], folder / MNIST_TEST_FILES[1]
        if not (images.is_file() and labels.is_file()):
            return None
        x = read_idx(images).astype(np.float64)
        if normalize:
            x /= 255.0
        x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, 28, 28)
        return x, read_idx(labels).astype(np.int64)


@pytest.fixture(scope="session")
def hidden_data():
    return HiddenData()


@pytest.fixture(autouse=True)
def _grader_task_loads(request, _grader_transcript):
    """Import the task's module before its first check that uses the worker.

    If that fails (an ImportError, an error at import time, a blocked import, a hang), the
    error is the task's, reported once in the results (``task_error``); this check and every
    later one are "not run: see above" instead of each repeating the same traceback.  After
    ``_grader_transcript``: what the module prints when imported is the first check's output."""
    results: _Results = request.config._grader_results
    aid = os.environ.get("DLKIT_GRADE_ASSIGNMENT")
    if "worker" in request.fixturenames and aid in TASKS and not results.import_tried:
        results.import_tried = True
        try:
            request.getfixturevalue("worker").import_module(TASKS[aid].import_name)
        except (StudentError, StudentTimeout, WorkerDied) as exc:
            results.task_error = dict(messages.load_error(TASKS[aid].path, exc))
    if results.task_error is not None:
        raise TaskNotLoaded()


@pytest.fixture(autouse=True)
def _grader_transcript():
    """Start each check with an empty transcript of the student's output."""
    for w in _workers:
        w.transcript.clear()
    yield


# ------------------------------------------------------------------------- results


class _Results:
    """The results file: ``{"payload": json text, "hmac": sha256 HMAC of it}``.

    The key comes from the runner on a pipe (read once; never in the environment, argv or
    on disk, and workers do not inherit the pipe), so even where a worker could reach the
    file (the weakest isolation, same uid) it cannot forge a file the runner accepts.
    """

    def __init__(self, path: Path | None, key: bytes):
        self.path, self.key = path, key
        self.checks: dict[str, dict] = {}
        self.complete = False
        self.import_tried = False
        self.task_error: dict | None = None  # {lang: text}: the task's module did not load
        self.grader_fault = ""

    def write(self) -> None:
        if self.path is None:
            return
        payload = json.dumps({"assignment": os.environ.get("DLKIT_GRADE_ASSIGNMENT"),
                              "complete": self.complete, "checks": list(self.checks.values()),
                              "task_error": self.task_error,
                              "grader_fault": self.grader_fault})
        tag = hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"payload": payload, "hmac": tag}), encoding="utf-8")
        os.replace(tmp, self.path)


def _read_key() -> bytes:
    """The runner's HMAC key, from the pipe named by DLKIT_GRADE_KEY_FD (read once)."""
    fd = int(os.environ.get("DLKIT_GRADE_KEY_FD", "-1"))
    if fd < 0:
        raise RuntimeError("DLKIT_GRADE_KEY_FD is not set: run the checks with dlkit-grade")
    chunks = []
    while chunk := os.read(fd, 256):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def pytest_configure(config):
    path = _env_path("DLKIT_GRADE_RESULTS")
    config._grader_results = _Results(path, _read_key() if path else b"")


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+(?=>)")


def _describe(excinfo) -> Text:
    """The message for the exception that ended a check (the student's code's doing)."""
    exc = excinfo.value
    if isinstance(exc, CheckFailed):
        return exc.texts
    if isinstance(exc, StudentError | StudentTimeout | WorkerDied):
        return messages.sandbox_error(exc)
    if isinstance(exc, AssertionError):
        # pytest's explanation shows objects as "<function allclose at 0x7f…>": without the
        # address, the same submission gets the same feedback in every run
        return plain(_ADDRESS.sub("", str(exc)) or "assertion failed")
    return say("runner.result_unusable", error=f"{type(exc).__name__}: {exc}")




@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep one record per check; only a passed *call* phase earns points.

    The record is created at set-up as ``error`` with fraction 0 and becomes ``passed``
    only from the call phase's own report: a set-up that passed says nothing about the
    check itself.  Records are written after each teardown and at the end of the session
    (so a check stopped mid-call by pytest.exit or KeyboardInterrupt keeps its 0); a check
    killed with the whole process (time budget) is not in the file and the runner lists
    it as not run, with the reason.
    """
    outcome = yield
    report = outcome.get_result()
    results: _Results = item.config._grader_results
    name = item.name
    # Before its call phase has reported success a check scores 0, "not finished", if
    # nothing better replaces it (a check stopped mid-call by pytest.exit, a
    # KeyboardInterrupt or another exception pytest re-raises never gets a call report).
    record = results.checks.setdefault(name, {
        "name": name, "nodeid": item.nodeid, "outcome": "error", "fraction": 0.0,
        "message": dict(say("runner.unfinished")), "output": "", "duration": 0.0})
    record["duration"] = round(record["duration"] + report.duration, 4)
    fb: Feedback | None = getattr(item, "_grader_feedback", None)
    if call.excinfo is not None and isinstance(call.excinfo.value, SandboxError | ConfigError):
        results.grader_fault = f"{name}: {type(call.excinfo.value).__name__}: {call.excinfo.value}"
        item.session.shouldstop = f"grader fault: {results.grader_fault}"
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(TaskNotLoaded):
        record.update(outcome="not-run", fraction=0.0, message=dict(messages.not_run("see-above")))
    elif report.failed:
        text = _describe(call.excinfo) if call.excinfo is not None else say("runner.failed")
        record.update(outcome="failed" if report.when == "call" else "error", fraction=0.0,
                      message=dict(text))
    elif report.skipped and report.when in ("setup", "call"):
        reason = str(call.excinfo.value) if call.excinfo else "skipped"
        record.update(outcome="skipped", fraction=0.0, message=dict(plain(reason)))
    elif report.when == "call" and report.passed:
        fraction = fb.fraction if fb is not None and fb.fraction is not None else 1.0
        record.update(outcome="passed", fraction=fraction, message=dict(plain("")))
    if _workers:  # the module's worker is closed in its last check's teardown: keep what
        # the check's set-up and call printed, not the empty transcript after that
        tail = "".join(t for w in _workers for t in w.transcript)
        record["output"] = tail[-OUTPUT_TAIL:]
    if report.when == "teardown":
        if fb is not None and fb.notes and record["outcome"] == "passed":
            record["message"] = {lang: "\n".join(n.get(lang, n.en) for n in fb.notes)
                                 for lang in languages()}
        results.write()  # at once: a run stopped later keeps the checks it finished


def pytest_sessionfinish(session, exitstatus):
    results: _Results = session.config._grader_results
    results.complete = True
    results.write()

