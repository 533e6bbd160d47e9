"""``dlkit-grade gradescope-bundle OUT.zip``: the Gradescope autograder.

The zip holds ``setup.sh`` and ``run_autograder`` (from grader/gradescope/) at its top,
and the sources they install and run: pyproject.toml, README.md, dlkit/ and grader/ (with
the hidden checks and points), and the handout's stubs (for grader.similarity: starter code is
not copying; the model answers are not shipped, so flags there compare with dlkit only).
Gradescope unpacks it to /autograder/source, runs setup.sh once, then run_autograder for each
submission, which writes /autograder/results/results.json.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from dlkit.tasks import TASKS

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "gradescope"
SKIP = {"__pycache__", ".pytest_cache", ".benchmarks"}
SKIP_SUFFIXES = {".pyc", ".nbi", ".nbc"}


def _files(repo: Path):
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (repo / name).is_file():
            yield repo / name, name
    for task in TASKS.values():  # the stubs: starter code, not counted as copying
        stub = repo / "assignments" / task.path
        if stub.is_file():
            yield stub, f"assignments/{task.path}"
    for package in ("dlkit", "grader"):
        for path in sorted((repo / package).rglob("*")):
            rel = path.relative_to(repo)
            if path.is_file() and not SKIP & set(rel.parts) and path.suffix not in SKIP_SUFFIXES:
                yield path, rel.as_posix()


def build(out: Path, repo: Path = REPO) -> list[str]:
    """Write the autograder zip; returns the member names."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    names = []
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for script in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(script)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (SCRIPTS / script).read_bytes())
            names.append(script)
        for path, name in _files(repo):
            zf.write(path, name)
            names.append(name)
    os.replace(tmp, out)
    return names
