"""dlkit's own wheel (dlkit and the grader with its hidden checks and points), built from
the checkout an autograder is made from, for the autograder to install: the exact code the
instructor ran, not whatever a package index serves later."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from grader import REPO_DIR

REPO = REPO_DIR
PACKAGES = ("dlkit", "grader")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", ".pytest_cache",
                              ".benchmarks", "*.egg-info")


class WheelError(RuntimeError):
    """The wheel could not be built (says why)."""


def build(out_dir: Path, repo: Path = REPO) -> Path:
    """Build the wheel into ``out_dir`` from a clean copy of the checkout's package sources
    (pyproject.toml, README.md, dlkit/, grader/); returns its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dlkit-wheel-") as tmp:
        stage, dist = Path(tmp) / "src", Path(tmp) / "dist"
        stage.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (repo / name).is_file():
                shutil.copy2(repo / name, stage / name)
        for package in PACKAGES:
            shutil.copytree(repo / package, stage / package, ignore=SKIP)
        # setuptools and wheel from this environment when it has them (no download)
        isolation = ([] if importlib.util.find_spec("setuptools")
                     and importlib.util.find_spec("wheel") else ["--use-pep517"])
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
               "--disable-pip-version-check", "--wheel-dir", str(dist), str(stage),
               *(["--no-build-isolation"] if not isolation else isolation)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(dist.glob("dlkit-*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            raise WheelError(f"building dlkit's wheel failed ({' '.join(cmd)}):\n"
                             f"{proc.stderr[-3000:]}")
        target = out_dir / wheels[0].name
        shutil.copy2(wheels[0], target)
    return target
