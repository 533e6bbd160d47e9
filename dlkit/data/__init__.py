"""MNIST and Fashion-MNIST: download (with mirror fallback), verify, parse and cache.

``load_mnist(...)`` is the book's loader; ``read_idx(path)`` reads any IDX file.
Modules, one job each::

    idx       read_idx / write_idx: the IDX file format
    registry  file names, sha256 hashes, mirrors and licenses of each dataset
    verify    sha256 checks (of the .gz, or of the decompressed payload)
    fetch     downloads through pooch, trying $DLKIT_MIRROR then the public mirrors
    locate    where files are looked for (root, $DLKIT_DATA_DIR, user cache, Debian package)
    cache     the parsed-array .npz cache, invalidated when the sources change
    mnist     load_mnist
    cli       `dlkit data fetch | info | import`
"""

import importlib

# Imported on first use (PEP 562), so that `dlkit --help` does not load numpy and pooch.
_EXPORTS = {
    "ChecksumError": "dlkit.data.verify",
    "DatasetNotFoundError": "dlkit.data.locate",
    "DownloadError": "dlkit.data.fetch",
    "IDXFormatError": "dlkit.data.idx",
    "load_mnist": "dlkit.data.mnist",
    "read_idx": "dlkit.data.idx",
    "write_idx": "dlkit.data.idx",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dlkit.data' has no attribute {name!r}")
