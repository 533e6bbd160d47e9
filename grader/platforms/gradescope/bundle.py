"""``dlkit-grade gradescope-bundle OUT.zip``: the Gradescope autograder.

The zip holds ``setup.sh`` and ``run_autograder`` (beside this module) at its top,
``settings.env`` (the assignment's settings on Gradescope that the grader must know: its
timeout, the task it grades, the feedback language, the Python of the lock), dlkit's wheel
(dlkit and the grader with the hidden checks and points, built from this checkout),
``requirements.lock`` (every package dlkit needs, at the version installed where the bundle
was built: :mod:`grader.platforms.lock`), and the handout's stubs (for grader.similarity:
starter code is not copying; the model answers are not shipped, so flags there compare with
dlkit only). Gradescope unpacks it to /autograder/source, runs setup.sh once, copies
run_autograder to /autograder, then runs it for each submission, which writes
/autograder/results/results.json.
:func:`unpack` lays a bundle out the same way under another folder, to try it locally.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from dlkit.tasks import TASKS
from grader import REPO_DIR
from grader.platforms import lock, wheel
from grader.report import visibility
from grader.scoring import catalog
from grader.scoring.submission import ASSIGNMENTS

REPO = REPO_DIR
SCRIPTS = Path(__file__).resolve().parent  # setup.sh and run_autograder
SCRIPTS_MODE = (stat.S_IFREG | 0o755) << 16
#: Gradescope's default timeout of a whole run (its "autograder timeout" setting), seconds
DEFAULT_TIMEOUT = 600
LOCK = "requirements.lock"


def _stubs(repo: Path):
    for task in TASKS.values():  # the stubs: starter code, not counted as copying
        stub = repo / "assignments" / task.path
        if stub.is_file():
            yield stub, f"assignments/{task.path}"


def settings(timeout: float = DEFAULT_TIMEOUT, lang: str = "en",
             assignments: list[str] | None = None) -> str:
    """The text of settings.env, which setup.sh and run_autograder read."""
    if not timeout > 0:
        raise ValueError(f"timeout: expected seconds > 0, got {timeout!r}")
    if lang not in catalog.languages():
        raise ValueError(f"lang: expected one of {catalog.languages()}, got {lang!r}")
    assignments = assignments or list(ASSIGNMENTS)
    bad = [a for a in assignments if a not in ASSIGNMENTS]
    if bad:
        raise ValueError(f"assignments: expected some of {', '.join(ASSIGNMENTS)}, got {bad}")
    return ("# Written by dlkit-grade gradescope-bundle: Gradescope's settings of this "
            "assignment.\n"
            "# DLKIT_PLATFORM_TIMEOUT must equal the assignment's autograder timeout "
            "(seconds):\n# the grader fits every check's budget inside it.\n"
            f"DLKIT_PLATFORM_TIMEOUT={timeout:g}\nDLKIT_GRADE_LANG={lang}\n"
            "# The tasks this assignment grades (the others are not shown at all)\n"
            f"DLKIT_GRADE_ASSIGNMENT={','.join(assignments)}\n"
            f"# The Python the lock ({LOCK}) was made for: setup.sh installs it\n"
            f"DLKIT_PYTHON={lock.python_version()}\n")


def build(out: Path, repo: Path = REPO, timeout: float = DEFAULT_TIMEOUT,
          lang: str = "en", assignments: list[str] | None = None) -> list[str]:
    """Write the autograder zip; returns the member names.

    The points file's [gradescope] table is checked here (a typo fails the build, not a
    student's run)."""
    out = Path(out)
    text = settings(timeout, lang, assignments)
    visibility.load(repo / "grader" / "points.toml")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    names = []
    with tempfile.TemporaryDirectory(prefix="dlkit-bundle-") as work, \
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for script in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(script)
            info.external_attr = SCRIPTS_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (SCRIPTS / script).read_bytes())
            names.append(script)
        built = wheel.build(Path(work), repo)
        for name, data in (("settings.env", text), (LOCK, lock.text())):
            zf.writestr(name, data)
            names.append(name)
        zf.write(built, built.name)
        names.append(built.name)
        for path, name in _stubs(repo):
            zf.write(path, name)
            names.append(name)
    os.replace(tmp, out)
    return names


def unpack(bundle: Path, root: Path) -> Path:
    """Lay ``bundle`` out as Gradescope's image build does, under ``root`` (which stands
    for /autograder): ``root/source`` holds the zip's contents, ``root/run_autograder`` a
    copy of the script, ``root/submission`` and ``root/results`` are empty folders.

    Run ``AUTOGRADER_ROOT=root root/source/setup.sh`` next, then put a submission in
    ``root/submission`` and run ``AUTOGRADER_ROOT=root root/run_autograder``.
    """
    root = Path(root)
    source = root / "source"
    source.mkdir(parents=True)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(source)
        for info in zf.infolist():  # zipfile does not restore permissions
            if info.external_attr >> 16 & 0o111:
                os.chmod(source / info.filename, 0o755)
    shutil.copy2(source / "run_autograder", root / "run_autograder")
    for name in ("submission", "results"):
        (root / name).mkdir()
    return root
