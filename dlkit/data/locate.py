"""Where dataset files are looked for, and getting a verified copy of each.

The data folder is, in order of precedence:

1. ``root``, when given to ``load_mnist`` (or ``--root`` on the command line);
2. the environment variable ``DLKIT_DATA_DIR``;
3. the user cache, ``pooch.os_cache("dlkit")`` (``~/.cache/dlkit`` on Linux).

The files of a dataset live in ``<data folder>/<dataset>/`` (e.g. ``~/.cache/dlkit/mnist/
train-images-idx3-ubyte.gz``); downloads and ``dlkit data import`` write there. Before
downloading, a system package's read-only folder is also searched (Debian's
``dataset-fashion-mnist`` at ``/usr/share/datasets/fashion-mnist/``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pooch

from dlkit.data.fetch import DEFAULT_TIMEOUT, DownloadError, download
from dlkit.data.registry import Dataset, FileSpec
from dlkit.data.verify import ChecksumError, verify

DATA_DIR_ENV = "DLKIT_DATA_DIR"


class DatasetNotFoundError(FileNotFoundError):
    """No verified copy of a dataset file was found (and downloading was not allowed)."""


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root``, else ``$DLKIT_DATA_DIR``, else ``pooch.os_cache("dlkit")``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(pooch.os_cache("dlkit")).expanduser()


def dataset_dir(dataset: Dataset, root: str | os.PathLike | None = None) -> Path:
    """``<data folder>/<dataset name>``: where this dataset's files are downloaded to."""
    return data_dir(root) / dataset.name


def search_dirs(dataset: Dataset, root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for the files, in order: the dataset folder, then system folders."""
    return [dataset_dir(dataset, root), *dataset.system_dirs]


@dataclass(frozen=True)
class Found:
    """The outcome of searching for one file: the verified path (or None), how it was
    verified, and what was wrong with the copies that were rejected."""

    spec: FileSpec
    path: Path | None
    how: str | None
    rejected: tuple[str, ...]


def find(spec: FileSpec, folders: list[Path]) -> Found:
    """Return the first copy of ``spec`` in ``folders`` that passes ``verify``."""
    rejected: list[str] = []
    for folder in folders:
        path = folder / spec.name
        if not path.is_file():
            continue
        try:
            return Found(spec, path, verify(path, spec), tuple(rejected))
        except (ChecksumError, OSError) as exc:
            rejected.append(str(exc))
    return Found(spec, None, None, tuple(rejected))


def locate(
    dataset: Dataset,
    root: str | os.PathLike | None = None,
    *,
    download_missing: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Path]:
    """Return ``{role: path}`` of a verified copy of each of the dataset's four files.

    A file missing everywhere, or whose copies all fail verification, is downloaded into
    ``dataset_dir`` when ``download_missing`` (a corrupted copy there is replaced).
    Otherwise ``DatasetNotFoundError`` lists where it looked and what was wrong.
    """
    folders = search_dirs(dataset, root)
    paths = {}
    for role, spec in dataset.files.items():
        found = find(spec, folders)
        if found.path is not None:
            paths[role] = found.path
            continue
        problems = "".join(f"\n  rejected {r}" for r in found.rejected)
        if download_missing:
            dest = dataset_dir(dataset, root) / spec.name
            try:
                download(dataset, spec, dest, timeout=timeout)
            except DownloadError as exc:
                raise DownloadError(
                    f"{spec.name} of {dataset.name!r}: no verified copy found locally"
                    f"{problems}\n{exc}\nAll four files of {dataset.name!r} belong in "
                    f"{dest.parent}: {', '.join(s.name for s in dataset.files.values())}.",
                    exc.attempts,
                ) from exc
            paths[role] = dest
            continue
        looked = "".join(f"\n  {folder / spec.name}" for folder in folders)
        raise DatasetNotFoundError(
            f"{spec.name} of {dataset.name!r} not found (download=False). Looked for:{looked}"
            f"{problems}\nPut the original file (sha256 {spec.gz_sha256}) at "
            f"{folders[0] / spec.name}, run `dlkit data import DIR` on a folder holding it, "
            "or allow downloading."
        )
    return paths
