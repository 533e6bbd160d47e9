"""dlkit's compiled Numba kernels, built once by the trusted side and copied into workers.

Every worker has a private ``NUMBA_CACHE_DIR`` (a worker must never write where the grader
or another worker reads).  Empty, it makes each worker compile dlkit's kernels again: the
first a3 check took 6–10 s of compiling.  Instead the grader keeps a cache of its own,

    $DLKIT_GRADE_KERNEL_CACHE  or  ~/.cache/dlkit-grade/numba-<numba>-py<XY>   (mode 0700)

filled by :func:`prepare` in a separate trusted process (no student code: it runs dlkit's
layers, network and optimizers on tiny arrays, float64 and float32) and reused while
dlkit's kernel sources, Numba and Python stay the same (``stamp.json``).  A worker gets a
private *copy* of it (copied by the worker's set-up as root, before any student code),
minus the kernels its assignment blocks (the BatchNorm kernels in a2–a4); a worker only
ever writes to its copy.  Numba checks each entry against the source file's timestamp and
the machine, so a stale or foreign entry is recompiled, never used; a rebuild starts from an
empty folder (:func:`prune`), and an entry that disappears before a worker copies it is
compiled by that worker.

Not used under ``session`` isolation: there the worker runs as the grader's user, unconfined,
and could write into the grader's cache, which a later trusted process would load (pickles).
(Under ``landlock-same-uid`` the worker shares the uid too, but Landlock keeps it out of the
cache folder.)
``DLKIT_GRADE_KERNEL_CACHE=off`` turns it off.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

STAMP = "stamp.json"
# The assignments whose workers run dlkit's kernels (a3 trains with dlkit.layers).
USED_BY = {"a3"}
WARMUP_TIMEOUT = 600.0


def cache_dir() -> Path | None:
    """The grader's kernel cache folder (None when turned off)."""
    value = os.environ.get("DLKIT_GRADE_KERNEL_CACHE", "")
    if value.lower() in ("off", "0", "no"):
        return None
    if value:
        return Path(value)
    import numba

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = f"numba-{numba.__version__}-py{sys.version_info.major}{sys.version_info.minor}"
    return base / "dlkit-grade" / tag


def _sources_digest() -> str:
    """sha256 of dlkit's kernel sources (content, path, mtime), Numba's and Python's versions."""
    import importlib.util

    import numba

    spec = importlib.util.find_spec("dlkit.kernels")
    assert spec is not None and spec.submodule_search_locations  # dlkit is installed
    digest = hashlib.sha256(f"{numba.__version__} {sys.version}".encode())
    for path in sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.py")):
        # Numba keys each cache entry on its source file's path, mtime and size: a cache
        # built from another checkout (same code, other place or time) would only miss.
        st = path.stat()
        digest.update(f"{path.resolve()}\0{st.st_mtime_ns}\0{st.st_size}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def prepare(timeout: float = WARMUP_TIMEOUT) -> Path | None:
    """The cache folder, compiled for the current dlkit (compiles first if needed).

    Returns None when the cache is off or the warm-up failed (workers then compile for
    themselves, as without a cache: slower, never wrong).
    """
    folder = cache_dir()
    if folder is None:
        return None
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    digest = _sources_digest()
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel batch jobs: one warm-up
        stamp = folder / STAMP
        try:
            if json.loads(stamp.read_text())["digest"] == digest:
                return folder
        except (OSError, ValueError, KeyError, TypeError):
            pass
        prune(folder)
        env = dict(os.environ, NUMBA_CACHE_DIR=str(folder), OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        try:
            proc = subprocess.run([sys.executable, "-m", "grader.sandbox.kernel_cache"], env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if proc.returncode != 0:
            return None
        stamp.write_text(json.dumps({"digest": digest}))
    return folder


def prune(folder: Path) -> None:
    """Remove every entry and the stamp from the cache folder (not its lock).

    Numba files a checkout's entries under a sub-folder named after the sources' path, so
    each checkout or fresh clone adds its own; left there, the entries of every dlkit ever
    graded would be copied into every worker.  Called before a rebuild: what the folder then
    holds is the current dlkit's kernels only.
    """
    for path in folder.iterdir():
        if path.name == ".lock":
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def files(folder: Path, blocked_modules: list[str]) -> list[tuple[str, str]]:
    """``(relative path, absolute path)`` of the cache entries a worker may have: all but
    those of the blocked dlkit modules (``dlkit.kernels.batchnorm`` -> the entries named
    ``batchnorm.*`` in the cache folder of dlkit/kernels)."""
    blocked = [(m.split(".")[-2] + "_", m.split(".")[-1] + ".") for m in blocked_modules
               if m.startswith("dlkit.") and m.count(".") >= 2]
    out = []
    for path in sorted(folder.glob("*/*")):
        sub, name = path.parent.name, path.name
        if not path.is_file() or not name.endswith((".nbi", ".nbc")):
            continue
        if any(sub.startswith(d) and name.startswith(f) for d, f in blocked):
            continue
        out.append((f"{sub}/{name}", str(path)))
    return out


def _warm_up() -> None:
    """Run every dlkit kernel a worker may call, float64 and float32 (C-contiguous)."""
    import numpy as np

    from dlkit import layers
    from dlkit.network import MultiLayerNet
    from dlkit.optimizers import SGD

    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((6, 5)).astype(dtype)
        t = np.array([0, 1, 2, 0, 1, 2])
        for activation in ("relu", "sigmoid", "tanh"):
            net = MultiLayerNet(5, [4, 4], 3, activation=activation, use_batchnorm=True,
                                use_dropout=True, seed=0, dtype=dtype)
            SGD(lr=0.01).update(net.params, net.gradient(x, t))
            net.predict(x)
        soft = layers.SoftmaxWithLoss()
        soft.forward(x[:, :3].copy(), np.eye(3, dtype=dtype)[t])  # one-hot labels
        soft.backward()


if __name__ == "__main__":
    _warm_up()
