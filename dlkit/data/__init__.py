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

from dlkit.data.fetch import DownloadError
from dlkit.data.idx import IDXFormatError, read_idx, write_idx
from dlkit.data.locate import DatasetNotFoundError
from dlkit.data.mnist import load_mnist
from dlkit.data.verify import ChecksumError

__all__ = [
    "ChecksumError",
    "DatasetNotFoundError",
    "DownloadError",
    "IDXFormatError",
    "load_mnist",
    "read_idx",
    "write_idx",
]
