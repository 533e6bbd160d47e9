"""The pinned environment of an autograder: every package dlkit needs, at the version the
instructor built (and tested) the autograder with.

    pins()                  ["numpy==2.4.6", ...]: dlkit's requirements and theirs, as
                            installed here (markers evaluated for this Python)
    write(path)             the lock file: a pip requirements file, one ``name==version``
                            a line, after a header naming the Python it was made for
    python -m grader.platforms.lock check LOCK
                            exit 0 when the installed packages are exactly the lock's
                            (run after ``pip install --no-deps -r LOCK``), else 1 and why

An autograder installs the lock with ``pip install --no-deps --only-binary=:all: -r LOCK``
and dlkit's own wheel, so a platform that rebuilds its image in week 10 installs what was
installed in week 1, or fails saying which package differs; nothing newer slips in.
"""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = "dlkit"
HEADER = "# python "


def python_version() -> str:
    """``"3.11"``: the Python the pins were resolved for (wheels are per minor version)."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def closure(root: str = ROOT) -> dict[str, str]:
    """``{canonical name: version}`` of every distribution ``root`` needs here, recursively
    (without ``root`` itself). Raises LookupError naming a requirement that is not installed."""
    found: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        dist = metadata.distribution(name)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            key = canonicalize_name(req.name)
            if key in found or key == canonicalize_name(root):
                continue
            try:
                version = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                raise LookupError(f"{name} requires {text}, which is not installed in "
                                  f"{sys.prefix}") from None
            found[key] = version
            todo.append(req.name)
    return dict(sorted(found.items()))


def pins(root: str = ROOT) -> list[str]:
    return [f"{name}=={version}" for name, version in closure(root).items()]


def text(root: str = ROOT) -> str:
    """The lock file's text: the header lines, then the pins."""
    return (f"# The packages {root} needs, at the versions this autograder was built with.\n"
            f"# Install with: pip install --no-deps --only-binary=:all: -r THIS_FILE\n"
            f"{HEADER}{python_version()}  ({platform.python_implementation()}, "
            f"{platform.machine()})\n" + "".join(f"{p}\n" for p in pins(root)))


def read(path: Path) -> tuple[str, dict[str, str]]:
    """``(python version, {canonical name: version})`` of a lock file."""
    python, pinned = "", dict[str, str]()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith(HEADER):
            python = line[len(HEADER):].split()[0]
        elif line.strip() and not line.startswith("#"):
            name, _, version = line.strip().partition("==")
            if not version:
                raise ValueError(f"{path}: expected name==version, got {line!r}")
            pinned[str(canonicalize_name(name))] = version
    if not python:
        raise ValueError(f"{path}: no '{HEADER.strip()} X.Y' line")
    return python, pinned


def differences(path: Path, root: str = ROOT) -> list[str]:
    """What differs between the lock and the installed packages (empty when they agree)."""
    python, pinned = read(path)
    problems = []
    if python != python_version():
        problems.append(f"Python {python_version()} runs here; the lock was made for Python "
                        f"{python}")
    try:
        installed = closure(root)
    except LookupError as exc:
        return [*problems, str(exc)]
    for name, version in installed.items():
        if name not in pinned:
            problems.append(f"{name} {version} is installed but not in the lock")
        elif pinned[name] != version:
            problems.append(f"{name} {version} is installed, the lock pins {pinned[name]}")
    problems += [f"{name} {pinned[name]} is in the lock but {root} does not need it here"
                 for name in pinned if name not in installed]
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m grader.platforms.lock",
                                description="Compare the installed packages with a lock file.")
    p.add_argument("command", choices=("check",))
    p.add_argument("lock", type=Path)
    args = p.parse_args(argv)
    problems = differences(args.lock)
    for line in problems:
        print(f"lock: {line}", file=sys.stderr)
    if problems:
        print(f"lock: the installed packages are not the ones {args.lock} pins: rebuild the "
              "autograder with the Python the platform runs, or run the platform's Python "
              "the lock names", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
