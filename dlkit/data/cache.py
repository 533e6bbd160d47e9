"""The parsed-array cache: the four arrays of a dataset in one uncompressed ``.npz``.

Parsing the ``.gz`` files takes about a second; loading the ``.npz`` takes tens of
milliseconds. The cache is ``<data folder>/<dataset>/<dataset>.npz`` and stores, next to
the arrays, a *fingerprint* of the sources it was built from: for each file its absolute
path, size and modification time (ns), plus the registry's expected hashes. The cache is
used only when that fingerprint equals the current one, so replacing, editing or deleting
a source file, or changing the registry, invalidates it. (The sources were verified by
sha256 when the cache was built; the fingerprint check avoids re-hashing ~60 MB per load.)

The cache is written to a temporary name and renamed with ``os.replace``, so a reader
never sees half of it; an unreadable cache is treated as absent and rebuilt.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
import zipfile
from pathlib import Path

import numpy as np

from dlkit.data.registry import Dataset

_FORMAT = 1


def cache_path(folder: Path, dataset: Dataset) -> Path:
    """``<folder>/<dataset>.npz`` (``folder`` is the dataset folder)."""
    return folder / f"{dataset.name}.npz"


def fingerprint(dataset: Dataset, sources: dict[str, Path]) -> str:
    """JSON text identifying the sources: path, size, mtime_ns of each, and expected hashes."""
    entries = {}
    for role, path in sources.items():
        st = os.stat(path)
        spec = dataset.files[role]
        entries[role] = [
            str(Path(path).resolve()),
            st.st_size,
            st.st_mtime_ns,
            spec.gz_sha256,
            spec.payload_sha256,
        ]
    return json.dumps({"format": _FORMAT, "sources": entries}, sort_keys=True)


def load(path: Path, dataset: Dataset) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the cache is absent, unreadable or stale."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored = str(npz["fingerprint"])
            info = json.loads(stored)
            sources = {role: Path(entry[0]) for role, entry in info["sources"].items()}
            if info.get("format") != _FORMAT or stored != fingerprint(dataset, sources):
                return None
            return {role: npz[role] for role in dataset.files}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, TypeError, IndexError):
        return None


def save(path: Path, arrays: dict[str, np.ndarray], fingerprint_text: str) -> bool:
    """Write the cache atomically; return False (with a warning) when it cannot be written.

    Take ``fingerprint_text`` BEFORE parsing the sources: a source that changes meanwhile
    then leaves a stale fingerprint, and the next load rebuilds.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, fingerprint=np.array(fingerprint_text), **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
        return True
    except OSError as exc:
        warnings.warn(
            f"could not write the parsed-array cache {path} ({exc}); the next load will parse "
            "the .gz files again",
            stacklevel=3,
        )
        return False
    finally:
        tmp.unlink(missing_ok=True)
