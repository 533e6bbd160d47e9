"""``dlkit-grade classroom50 DIR``: the folder that goes into Classroom 50's
``CLASSROOM/autograders/ASSIGNMENT/``.

    autograder.py        what the runner starts per submission (standard library only)
    dlkit-grade.json     the tasks it grades, the feedback language, the Python of the lock
    dlkit-0.1.0-py3-none-any.whl   dlkit and the grader with the hidden checks and points,
                         built from this checkout
    requirements.lock    every package dlkit needs, pinned (grader.platforms.lock)

Classroom 50 publishes the folder as a tarball on the organization's Pages site and its
runner fetches at most 10 MB of it, far less than the wheels of numpy, numba, llvmlite and
matplotlib: those are installed from PyPI by exact version, dlkit from the wheel here. See
docs/instructors/classroom50.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from grader.platforms import lock, wheel
from grader.platforms.classroom50.result import ResultError
from grader.scoring import catalog
from grader.scoring.runner import load_points
from grader.scoring.submission import ASSIGNMENTS

TEMPLATE = Path(__file__).with_name("autograder.py")
REPO = wheel.REPO
#: Classroom 50's grade job stops after 15 minutes (setup, grading and publishing)
JOB_SECONDS = 900
#: kept free at the end of the job for the runner to publish the Release
PUBLISH_SECONDS = 90
#: the feedback languages: those of the message catalog (grader/messages/<lang>.toml)
LANGS = tuple(catalog.languages())


def settings(assignments: list[str], lang: str) -> dict:
    bad = [a for a in assignments if a not in ASSIGNMENTS]
    if bad or not assignments:
        raise ValueError(f"assignments: expected some of {', '.join(ASSIGNMENTS)}, got "
                         f"{assignments}")
    if lang not in LANGS:
        raise ValueError(f"lang: expected one of {LANGS}, got {lang!r}")
    return {"assignments": list(assignments), "lang": lang, "python": lock.python_version(),
            "lock": "requirements.lock", "job_seconds": JOB_SECONDS,
            "publish_seconds": PUBLISH_SECONDS}


def build(out: Path, assignments: list[str], lang: str = "en", repo: Path = REPO) -> list[Path]:
    """Write the autograder folder ``out`` (which must not exist, or be empty); returns the
    files written. Refuses points that are not whole for the tasks graded (the contract
    records ints)."""
    out = Path(out)
    config = settings(assignments, lang)
    points = load_points(repo / "grader" / "points.toml")
    bad = [f"{aid} {name} ({value:g})" for aid in assignments
           for name, value in points.get(aid, {}).items() if value != int(value)]
    if bad:
        raise ResultError("Classroom 50 records whole points: give each check a whole number "
                          f"of points in points.toml (not so: {', '.join(bad)})")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty (choose a new folder)")
    out.mkdir(parents=True, exist_ok=True)
    try:
        built = wheel.build(out, repo)
        config["wheel"] = built.name
        (out / config["lock"]).write_text(lock.text(), encoding="utf-8")
        (out / "dlkit-grade.json").write_text(json.dumps(config, indent=2) + "\n",
                                              encoding="utf-8")
        shutil.copyfile(TEMPLATE, out / "autograder.py")
        (out / "autograder.py").chmod(0o755)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return sorted(p for p in out.iterdir())
