"""What dlkit knows about each dataset: file names, sha256 hashes, mirrors, licenses.

Two kinds of hash are recorded for each file (see ``dlkit.data.verify``):

``gz_sha256``
    sha256 of the ``.gz`` file exactly as the public mirrors serve it (as published
    upstream). Known for all eight files.
``payload_sha256``
    sha256 of the decompressed IDX bytes. Needed because re-compressing changes the ``.gz``
    bytes but not the content: Debian's ``dataset-fashion-mnist`` package re-gzipped the
    Fashion-MNIST files, so their ``.gz`` hashes differ from upstream. Recorded where we
    could compute it from a trusted copy:

    - Fashion-MNIST, all four files: computed from Debian's package (its ``.gz`` files
      decompress to the upstream IDX bytes);
    - MNIST t10k images and labels: computed from the original upstream ``.gz`` files,
      whose ``.gz`` hashes equal the ones below;
    - MNIST train images and labels: NOT known (no copy was available offline), so these
      two files are verified by their ``.gz`` hash only; a re-compressed copy of them is
      rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: The four files of an MNIST-like dataset, in the order ``load_mnist`` returns them.
ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset and the hashes that identify it (hex sha256)."""

    name: str
    gz_sha256: str
    payload_sha256: str | None = None


@dataclass(frozen=True)
class Dataset:
    """A dataset of four IDX files, where to download it, and under which license.

    ``files`` maps each role in ``ROLES`` to its ``FileSpec``. ``mirrors`` are base URLs
    tried in order (each file is ``<mirror><file name>``). ``system_dirs`` are read-only
    folders of a system package that may already hold the files.
    """

    name: str
    files: Mapping[str, FileSpec]
    mirrors: tuple[str, ...]
    license: str
    homepage: str = ""
    system_dirs: tuple[Path, ...] = field(default=())

    def __post_init__(self):
        if tuple(self.files) != ROLES:
            raise ValueError(
                f"files: expected the roles {ROLES} in this order, got {tuple(self.files)}"
            )


MNIST = Dataset(
    name="mnist",
    files={
        "train_images": FileSpec(
            "train-images-idx3-ubyte.gz",
            gz_sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        "train_labels": FileSpec(
            "train-labels-idx1-ubyte.gz",
            gz_sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        "test_images": FileSpec(
            "t10k-images-idx3-ubyte.gz",
            gz_sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            payload_sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        "test_labels": FileSpec(
            "t10k-labels-idx1-ubyte.gz",
            gz_sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            payload_sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    },
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    license="CC BY-SA 3.0 (Yann LeCun, Corinna Cortes, Christopher J.C. Burges)",
    homepage="http://yann.lecun.com/exdb/mnist/",
)

FASHION_MNIST = Dataset(
    name="fashion-mnist",
    files={
        "train_images": FileSpec(
            "train-images-idx3-ubyte.gz",
            gz_sha256="3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            payload_sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        "train_labels": FileSpec(
            "train-labels-idx1-ubyte.gz",
            gz_sha256="a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            payload_sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        "test_images": FileSpec(
            "t10k-images-idx3-ubyte.gz",
            gz_sha256="346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            payload_sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        "test_labels": FileSpec(
            "t10k-labels-idx1-ubyte.gz",
            gz_sha256="67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            payload_sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    },
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    license="MIT (Zalando SE)",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    # Debian/Ubuntu package dataset-fashion-mnist (re-gzipped: verified by payload hash).
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (MNIST, FASHION_MNIST)}


def get_dataset(dataset: str | Dataset) -> Dataset:
    """Return the ``Dataset`` named ``dataset`` ("mnist" or "fashion-mnist"), or ``dataset``
    itself when it already is one (a course may describe its own files and mirrors)."""
    if isinstance(dataset, Dataset):
        return dataset
    if not isinstance(dataset, str) or dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {sorted(DATASETS)}, got {dataset!r}")
    return DATASETS[dataset]
