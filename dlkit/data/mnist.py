"""``load_mnist``: the book's loader (``dataset/mnist.py``), for MNIST and Fashion-MNIST.

Steps: parsed-array cache (``dlkit.data.cache``) if fresh; else find a verified copy of each
file (``dlkit.data.locate``: data folder, system package, download), parse it with
``read_idx``, check it, and write the cache.
"""

from __future__ import annotations

import os

import numpy as np

from dlkit.data import cache
from dlkit.data.fetch import DEFAULT_TIMEOUT
from dlkit.data.idx import read_idx
from dlkit.data.locate import dataset_dir, locate
from dlkit.data.registry import Dataset, get_dataset

N_CLASSES = 10


def load_arrays(
    dataset: str | Dataset = "mnist",
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, np.ndarray]:
    """The raw arrays ``{role: array}``: images uint8 (N, 28, 28), labels uint8 (N,).

    ``role`` is one of ``registry.ROLES``. Uses and refreshes the parsed-array cache.
    """
    ds = get_dataset(dataset)
    arrays = cache.load(cache.cache_path(dataset_dir(ds, root), ds), ds)
    if arrays is not None:
        return arrays
    return _parse(ds, root, locate(ds, root, download_missing=download, timeout=timeout))


def _parse(ds: Dataset, root, sources: dict) -> dict[str, np.ndarray]:
    """Parse the verified ``sources`` ({role: path}, from ``locate``), check them and write
    the parsed-array cache; return the arrays."""
    fingerprint = cache.fingerprint(ds, sources)  # before parsing: see cache.save
    arrays = {role: read_idx(p) for role, p in sources.items()}
    _check(arrays, sources)
    cache.save(cache.cache_path(dataset_dir(ds, root), ds), arrays, fingerprint)
    return arrays


def _check(arrays: dict[str, np.ndarray], sources: dict) -> None:
    """Images (N, H, W) uint8 and labels (N,) uint8 in [0, 10) with the same N, per split."""
    for split in ("train", "test"):
        x, t = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        xs, ts = sources[f"{split}_images"], sources[f"{split}_labels"]
        if x.dtype != np.uint8 or x.ndim != 3:
            raise ValueError(f"{xs}: expected uint8 images (N, H, W), got {x.dtype} {x.shape}")
        if t.dtype != np.uint8 or t.ndim != 1 or len(t) != len(x):
            raise ValueError(
                f"{ts}: expected uint8 labels ({len(x)},) to match {xs}, got {t.dtype} {t.shape}"
            )
        if t.size and t.max() >= N_CLASSES:
            raise ValueError(f"{ts}: expected labels in 0..{N_CLASSES - 1}, found {t.max()}")


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    dataset: str | Dataset = "mnist",
    root: str | os.PathLike | None = None,
    download: bool = True,
    dtype=None,
):
    """Load MNIST or Fashion-MNIST as the book's ``load_mnist`` does.

    Parameters
    ----------
    normalize : scale pixel values to [0, 1]: ``x = pixel / 255`` (else 0..255).
    flatten : images as rows of 784 = 28*28 values (else (N, 1, 28, 28), as the book).
    one_hot_label : labels as one-hot rows ``t[n, k] = 1 if k == label`` (N, 10), float64 as
        the book's (of ``dtype`` when a float ``dtype`` is given); else the labels (N,) as the
        book's, uint8.
    dataset : "mnist" or "fashion-mnist" (same format and shapes), or a
        ``dlkit.data.registry.Dataset`` describing other files, hashes and mirrors.
    root : data folder (default ``$DLKIT_DATA_DIR``, else ``pooch.os_cache("dlkit")``);
        files live in ``<root>/<dataset>/``. See ``dlkit.data.locate``.
    download : download missing or corrupted files (``$DLKIT_MIRROR``, then public mirrors).
        With False, missing files raise ``DatasetNotFoundError`` listing where it looked.
    dtype : dtype of the images. None (default): the book's, float32 with ``normalize``
        (``pixel / 255`` computed in float32), the raw uint8 bytes without. A float dtype
        (e.g. ``np.float64``, what dlkit's networks compute in) gives the images, and the
        one-hot labels, in that dtype; ``np.uint8`` is allowed with ``normalize=False``. A
        float64 network promotes float32 or uint8 images as NumPy would.

    Returns
    -------
    ``((x_train, t_train), (x_test, t_test))``: 60,000 training and 10,000 test images. The
    arrays are new on every call; changing them does not change the cache.
    """
    for name, value in (("normalize", normalize), ("flatten", flatten),
                        ("one_hot_label", one_hot_label), ("download", download)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}: expected True or False, got {value!r}")
    book = dtype is None
    if book:
        dtype = np.float32 if normalize else np.uint8
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype: expected a NumPy float dtype, got {dtype!r}") from exc
    if not (np.issubdtype(dtype, np.floating) or (dtype == np.uint8 and not normalize)):
        raise TypeError(
            f"dtype: expected a float dtype (or uint8 with normalize=False), got {dtype} "
            f"with normalize={normalize}"
        )
    arrays = load_arrays(dataset, root, download=download)
    out = []
    for split in ("train", "test"):
        x, t = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        n, h, w = x.shape
        x = np.divide(x, 255.0, dtype=dtype) if normalize else x.astype(dtype, copy=False)
        x = x.reshape(n, h * w) if flatten else x.reshape(n, 1, h, w)
        if one_hot_label:
            onehot = np.zeros((n, N_CLASSES), dtype=np.float64 if book else dtype)
            onehot[np.arange(n), t] = 1
            t = onehot
        else:
            t = t.copy()  # uint8, as the book's; a new array (the cache's stays as it is)
        out.append((x, t))
    return tuple(out)
