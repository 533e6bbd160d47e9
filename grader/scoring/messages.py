"""The runner's own feedback: a check ended by the student's code, a task's module that
cannot be loaded, a check not run.  The texts are in the message catalog ([runner],
grader/messages/<lang>.toml); each function returns a :class:`~grader.scoring.catalog.Text`,
the message in every language.
"""

from __future__ import annotations

import functools
import re
import string

from dlkit.tasks import TASKS
from grader.sandbox.handle import StudentError, StudentTimeout, WorkerDied
from grader.scoring.catalog import FALLBACK, Text, catalog, plain, say, template

TRACEBACK_TAIL = 1500

# The keys of [runner.died], in the order they are tried: a WorkerDied reason (said in
# English by grader.ipc.channel, grader.sandbox.handle and grader.timing.paired) is the
# message whose English text it matches, its fields matching anything.
_DIED = ("cpu_limit", "file_limit", "killed", "exited", "sys_exit", "silent", "malformed",
         "out_of_turn", "lost", "disk_quota", "stopped")


@functools.cache
def _pattern(english: str) -> re.Pattern:
    """A regular expression matching what ``english`` gives, whatever its fields' values."""
    parts = [re.escape(literal) + (f"(?P<{name}>.*?)" if name else "")
             for literal, name, _, _ in string.Formatter().parse(english)]
    return re.compile("".join(parts), flags=re.DOTALL)


def died(reason: str) -> Text:
    """A WorkerDied reason in every language (as it is, in English, if no message knows it)."""
    for key in _DIED:
        m = _pattern(template(f"runner.died.{key}", FALLBACK)).fullmatch(reason)
        if m:
            fields: dict = m.groupdict()
            if key == "killed":  # the signal's meaning, e.g. "a segmentation fault (...)"
                fields["why"] = _known(f"runner.died.signal.{fields['sig']}", fields["why"])
            return say(f"runner.died.{key}", **fields)
    return plain(reason)


def _known(key: str, english: str) -> Text:
    """Message ``key`` if its English text is ``english`` (what the code said), else that
    English as it is."""
    return say(key) if catalog(FALLBACK).get(key) == english else plain(english)


def _block_reason(why: str) -> Text:
    """Why an import is blocked (the worker says it in English: dlkit.tasks' block_reason,
    or grader.sandbox.policy's when no task is named) in every language."""
    for tid in TASKS:
        if template(f"tasks.{tid}.block_reason", FALLBACK) == why:
            return say(f"tasks.{tid}.block_reason")
    return _known("runner.blocked_anywhere", why)


def sandbox_error(exc: Exception) -> Text:
    """Why a check got 0 because of the student's code (error, block, timeout, crash)."""
    if isinstance(exc, StudentError):
        if exc.blocked:
            name, _, why = exc.message.removeprefix("BLOCKED: ").partition(
                " is not available here: ")
            return say("runner.blocked", name=name, reason=_block_reason(why))
        tb = exc.traceback[-TRACEBACK_TAIL:]
        if exc.type_name == "MemoryError":
            return say("runner.out_of_memory", message=exc.message, traceback=tb)
        return say("runner.raised", type=exc.type_name, message=exc.message, traceback=tb)
    if isinstance(exc, StudentTimeout):
        return say("runner.timeout", what=exc.what, seconds=exc.seconds)
    if isinstance(exc, WorkerDied):
        return say("runner.stopped_worker", reason=died(exc.reason))
    return plain(str(exc))


def _where(traceback: str, path: str) -> Text:
    """" (file, line N)" of the deepest frame of the student's own files in a traceback."""
    frames = re.findall(r'File "([^"<]+)", line (\d+)', traceback)
    for file, line in reversed(frames):
        if not file.startswith("/"):
            return say("runner.at_line", file=file, line=line)
    return say("runner.in_file", path=path)


def _own_frames(traceback: str) -> str:
    """The traceback without the frames of Python's import machinery (absolute paths,
    ``<frozen importlib...>``): what is left is the student's files."""
    kept, skipping = [], False
    for line in traceback.splitlines():
        if line.startswith('  File "'):
            skipping = line.startswith(('  File "/', '  File "<'))
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def load_error(path: str, exc: Exception) -> Text:
    """The task's module ``path`` could not be imported: said once, for the whole task."""
    if isinstance(exc, StudentError) and not exc.blocked:
        return say("runner.not_loaded", path=path, type=exc.type_name, message=exc.message,
                   where=_where(exc.traceback, path),
                   traceback=_own_frames(exc.traceback)[-TRACEBACK_TAIL:])
    return say("runner.not_loaded_because", path=path, reason=sandbox_error(exc))


# not_run's reasons: a key of [runner.not_run] each
NOT_RUN = ("budget", "missing", "grader", "see-above", "no-result", "tampered", "stopped",
           "unreadable")


def not_run(reason: str, detail: Text | None = None) -> Text:
    """A check that did not run at all (budget used up, grader problem, run stopped);
    ``detail``: why the submission cannot be read (reason ``unreadable``)."""
    if reason not in NOT_RUN:
        raise ValueError(f"not_run: expected one of {NOT_RUN}, got {reason!r}")
    return say(f"runner.not_run.{reason.replace('-', '_')}", detail=detail or plain(""))


def timed_run_mismatch(probe: str, error: float, tol: float) -> Text:
    """A speed check whose timed calls did not compute the results for the inputs given
    (a memoizing kernel, or a worker that answered "done" without doing the work)."""
    seen = (say("runner.timed_error", error=error, tol=tol) if error != float("inf")
            else say("runner.timed_no_value"))
    return say("runner.timed_run_mismatch", probe=probe, seen=seen)
