"""Shared set-up for the public tests.

Which files are tested?  By default the ones in this folder (your work).  The option
``--submission DIR`` tests the task folders inside ``DIR`` instead, for example a colleague's
copy or an unpacked submission::

    pytest a2_batchnorm                         # your a2_batchnorm/batchnorm.py
    pytest a2_batchnorm --submission=../other   # the same tests on ../other/a2_batchnorm/...

(Write ``--submission=DIR`` with "=": pytest looks for its settings before it knows this
option, and would take a separate ``DIR`` for a folder of tests.)

How: once the tests are collected, the chosen folder is put first on ``sys.path``, so
``import a2_batchnorm.batchnorm`` (in the tests and in your own code, e.g. task 3 importing
your task 2 layer) means the file in that folder.  The ``load_module`` fixture checks this and
says so if a file is missing.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

TASKS = ("a1_initialization", "a2_batchnorm", "a3_training", "a4_numba")
HERE = Path(__file__).resolve().parent
_ROOT_KEY = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--submission",
        metavar="DIR",
        default=None,
        help="folder that contains the task folders to test (a1_initialization/, ...); "
        "default: the folder of this conftest.py",
    )


def pytest_configure(config: pytest.Config) -> None:
    option = config.getoption("--submission")
    if option is None:
        root = HERE
    else:
        root = (config.invocation_params.dir / option).resolve()
        if not root.is_dir():
            raise pytest.UsageError(f"--submission: expected a folder, got {option!r} ({root})")
        if not any((root / task).is_dir() for task in TASKS):
            raise pytest.UsageError(
                f"--submission: expected a folder containing one of {', '.join(TASKS)}; "
                f"{root} has none"
            )
    config.stash[_ROOT_KEY] = root
    # Four files share the name test_public.py; pytest's importlib mode imports them side by
    # side without putting their folders on sys.path.  Set here rather than only in pytest.ini:
    # `pytest a2_batchnorm --submission ../x` makes pytest take its settings from a folder above.
    config.option.importmode = "importlib"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Point ``import a2_batchnorm...`` at the submission, once the tests are collected.

    Collecting a2_batchnorm/test_public.py may register a module named a2_batchnorm for the
    folder of the tests.  Forget such task modules and put the submission first on sys.path: every
    import of a task module from now on (by the tests, or by task 3 importing task 2) reads
    the submission's files.
    """
    root = str(session.config.stash[_ROOT_KEY])
    for name in list(sys.modules):
        if name.split(".")[0] in TASKS:
            del sys.modules[name]
    while root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    importlib.invalidate_caches()


@pytest.fixture(scope="session")
def submission_root(pytestconfig: pytest.Config) -> Path:
    """The folder whose task files are under test."""
    return pytestconfig.stash[_ROOT_KEY]


@pytest.fixture(scope="session")
def load_module(submission_root: Path):
    """``load_module("a2_batchnorm.batchnorm")`` imports that module from the submission.

    Fails the test with a clear message when the file is missing or was imported from
    another folder.
    """

    def load(name: str):
        expected = submission_root.joinpath(*name.split(".")).with_suffix(".py")
        if not expected.is_file():
            pytest.fail(f"{name}: expected the file {expected}, which does not exist")
        module = importlib.import_module(name)
        found = Path(module.__file__).resolve()
        if found != expected:
            pytest.fail(f"{name}: expected it to be imported from {expected}, got {found}")
        return module

    return load
