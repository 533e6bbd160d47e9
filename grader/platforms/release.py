"""``dlkit-grade release OUT``: the student handout.

Copies dlkit/ and assignments/ (stubs, public tests, lab notebooks and READMEs in English and
Japanese, the public tests' conftest) and writes a README and a pyproject.toml that installs
dlkit only (no grader, no ``dlkit-grade``), with its extras (``[jupyter]`` for the notebooks);
``dlkit submit`` and the notebooks' helpers are part of dlkit.  Nothing from solutions/,
grader/ or tests/ goes in; the copy is checked afterwards: no file may equal a file of
solutions/ or of the hidden checks.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

from grader import REPO_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

REPO = REPO_DIR
SHIPPED = ("dlkit", "assignments")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", ".pytest_cache",
                                 "*.egg-info", ".benchmarks")
SECRET_DIRS = ("solutions", "grader", "tests")

README = """\
# dlkit assignments: weight initialization and Batch Normalization

Start with [assignments/README.md](assignments/README.md)
([日本語](assignments/README.ja.md)).

    pip install -e .                          # ".[jupyter]" to open the lab notebooks too
    pytest assignments/a1_initialization      # the public tests of one task
    cd assignments && dlkit submit            # check your work, write submission.zip

Each task folder has a lab notebook (`lab.ipynb`, `lab.ja.ipynb`) to run in Jupyter or Colab.
"""


class ReleaseError(RuntimeError):
    """The handout would be incomplete or would leak something."""


# The first code cell of every lab notebook names the course's repository, from which Colab
# installs dlkit and copies the course folder.
_COURSE_REPO = re.compile(r'^COURSE_REPO = "[^"\n]*"', re.M)
_URL = re.compile(r"https://[^\s\"'\\]+")


def set_course_repo(handout: Path, url: str) -> list[Path]:
    """Write ``url`` as ``COURSE_REPO`` into the first code cell of every lab notebook of
    ``handout``; returns the notebooks.  ReleaseError when a notebook has no such line."""
    notebooks = sorted((handout / "assignments").glob("*/lab*.ipynb"))
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cell = next((c for c in nb["cells"] if c["cell_type"] == "code"), None)
        source = "".join(cell["source"]) if cell else ""
        if cell is None or not _COURSE_REPO.search(source):
            raise ReleaseError(f"{path}: its first code cell sets no COURSE_REPO")
        cell["source"] = _COURSE_REPO.sub(f'COURSE_REPO = "{url}"', source, count=1)
        cell["source"] = cell["source"].splitlines(keepends=True)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return notebooks


def _toml(value) -> str:
    """A TOML value for strings and lists of strings (JSON's syntax is valid TOML here)."""
    return json.dumps(value, ensure_ascii=False)


def pyproject(source: Path) -> str:
    """A pyproject.toml installing dlkit only, with the source project's metadata."""
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    project = data["project"]
    lines = ["[build-system]",
             f"requires = {_toml(data['build-system']['requires'])}",
             f"build-backend = {_toml(data['build-system']['build-backend'])}", "",
             "[project]"]
    for key in ("name", "version", "description", "requires-python"):
        if key in project:
            lines.append(f"{key} = {_toml(project[key])}")
    lines += ['readme = "README.md"', f"dependencies = {_toml(project.get('dependencies', []))}"]
    # [jupyter] for the lab notebooks, [dev] for the tools the README names; the handout
    # has no documentation site, so neither [docs] nor [dev]'s reference to it ships
    name = project.get("name", "")
    extras = {extra: [d for d in deps if not d.replace(" ", "").startswith(f"{name}[")]
              for extra, deps in project.get("optional-dependencies", {}).items()
              if extra != "docs"}
    if extras:
        lines += ["", "[project.optional-dependencies]"]
        lines += [f"{_toml(name)} = {_toml(deps)}" for name, deps in extras.items()]
    lines += ["", "[project.scripts]"]
    for name, target in project.get("scripts", {}).items():
        if not target.startswith("grader"):
            lines.append(f"{_toml(name)} = {_toml(target)}")
    package_data = data.get("tool", {}).get("setuptools", {}).get("package-data", {})
    lines += ["", "[tool.setuptools.packages.find]", 'include = ["dlkit*"]']
    if package_data:
        lines += ["", "[tool.setuptools.package-data]"]
        lines += [f"{_toml(k)} = {_toml(v)}" for k, v in package_data.items()
                  if not k.startswith("grader")]  # the grader's data (hidden checks) stays
    lines += ["", "[tool.pytest.ini_options]", 'testpaths = ["assignments"]', ""]
    return "\n".join(lines)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def secrets(repo: Path = REPO) -> dict[str, Path]:
    """Digest -> file of what must never ship: solutions/ and the hidden checks (minus
    tiny files, and minus files identical to their counterpart in assignments/)."""
    found = {}
    for folder in (repo / "solutions", repo / "grader" / "checks"):
        for path in folder.rglob("*") if folder.is_dir() else []:
            if not path.is_file() or "__pycache__" in path.parts or path.stat().st_size < 100:
                continue
            twin = repo / "assignments" / path.relative_to(folder)
            if folder.name == "solutions" and twin.is_file() and _digest(twin) == _digest(path):
                continue  # the same file is handed out on purpose (e.g. a shared helper)
            found[_digest(path)] = path
    points = repo / "grader" / "points.toml"
    if points.is_file():
        found[_digest(points)] = points
    return found


def build(out: Path, repo: Path = REPO, course_repo: str | None = None) -> list[Path]:
    """Write the handout to ``out`` (which must not exist); returns the files written.

    ``course_repo``: the https address of the course's repository, written into the lab
    notebooks (Colab installs dlkit from it); without it they keep their placeholder.
    """
    out = Path(out)
    if course_repo is not None and not _URL.fullmatch(course_repo):
        raise ReleaseError(f"course repository: expected an https:// address, got "
                           f"{course_repo!r}")
    if out.exists():
        raise FileExistsError(f"{out} already exists (choose a new folder)")
    for name in SHIPPED:
        if not (repo / name).is_dir():
            raise ReleaseError(f"{repo / name} is missing")
    out.mkdir(parents=True)
    for name in SHIPPED:
        shutil.copytree(repo / name, out / name, ignore=IGNORED, symlinks=False)
    (out / "README.md").write_text(README, encoding="utf-8")
    (out / "pyproject.toml").write_text(pyproject(repo / "pyproject.toml"), encoding="utf-8")
    for name in ("LICENSE", "LICENSE.txt"):
        if (repo / name).is_file():
            shutil.copy2(repo / name, out / name)
    if course_repo is not None:
        try:
            set_course_repo(out, course_repo)
        except ReleaseError:
            shutil.rmtree(out)
            raise
    files = sorted(p for p in out.rglob("*") if p.is_file())
    hidden = secrets(repo)
    leaked = [f"{p} (= {hidden[_digest(p)]})" for p in files if _digest(p) in hidden]
    leaked += [str(p) for p in out.rglob("*") if p.is_dir() and p.name in SECRET_DIRS]
    if leaked:
        shutil.rmtree(out)
        raise ReleaseError(f"the handout would contain {leaked}: not written")
    return files
