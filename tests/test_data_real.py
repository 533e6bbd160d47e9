"""The real datasets available offline: Fashion-MNIST from Debian, the MNIST test set.

Each test skips, saying why, when its files are absent; set ``DLKIT_REQUIRE_DATA=1`` (CI
does) to turn those skips into failures, so that CI cannot pass without running them.
"""


import numpy as np
import pytest

from dlkit.data import cache
from dlkit.data.idx import read_idx
from dlkit.data.locate import DATA_DIR_ENV
from dlkit.data.mnist import load_arrays, load_mnist
from dlkit.data.registry import FASHION_MNIST, MNIST
from dlkit.data.verify import sha256_payload, verify

DEBIAN = FASHION_MNIST.system_dirs[0]

# The MNIST test set's label counts (digits 0..9), as published with the dataset.
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]



@pytest.fixture
def debian(fashion_mnist_dir):
    return fashion_mnist_dir


@pytest.fixture
def t10k(mnist_t10k_dir):
    return mnist_t10k_dir


@pytest.fixture(autouse=True)
def private_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.delenv("DLKIT_MIRROR", raising=False)


def test_fashion_mnist_from_debian(debian, tmp_path):
    (x, t), (xt, tt) = load_mnist(dataset="fashion-mnist", root=tmp_path, download=False)
    assert x.shape == (60000, 784) and xt.shape == (10000, 784)
    assert x.dtype == np.float32 and t.dtype == np.uint8  # the book's loader's dtypes
    assert t.shape == (60000,) and tt.shape == (10000,)
    assert x.min() == 0.0 and x.max() == 1.0 and xt.min() == 0.0 and xt.max() == 1.0
    # every pixel value is k/255 for an integer k
    np.testing.assert_array_equal(np.round(x[:100] * 255) / 255, x[:100])
    # Fashion-MNIST is balanced: 6000 training and 1000 test images per class
    assert np.bincount(t, minlength=10).tolist() == [6000] * 10
    assert np.bincount(tt, minlength=10).tolist() == [1000] * 10
    # a real image, not noise: an item on a dark background (corners black, centre not)
    images = x.reshape(-1, 28, 28)
    assert images[:, 0, 0].mean() < 0.01 and images[:, 10:18, 10:18].mean() > 0.3

    # the parsed cache was written under root, and a second load gives the same arrays
    npz = cache.cache_path(tmp_path / "fashion-mnist", FASHION_MNIST)
    assert cache.load(npz, FASHION_MNIST) is not None
    (x2, t2), _ = load_mnist(False, False, True, dataset="fashion-mnist", root=tmp_path,
                             download=False, dtype=np.uint8)
    assert x2.shape == (60000, 1, 28, 28) and x2.dtype == np.uint8 and x2.max() == 255
    np.testing.assert_array_equal(x2[:2000].reshape(2000, 784) / np.float32(255), x[:2000])
    assert t2.shape == (60000, 10)
    np.testing.assert_array_equal(t2.argmax(axis=1), t)


def test_debian_files_pass_the_payload_check(debian):
    """Debian re-gzipped the files: the .gz hashes differ from upstream, the payload matches."""
    for spec in FASHION_MNIST.files.values():
        assert verify(debian / spec.name, spec) == "sha256 of decompressed payload"


def test_mnist_test_set_reads(t10k):
    images = read_idx(t10k / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(t10k / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert images.max() == 255 and images[:, 0, 0].max() == 0  # digits never touch a corner


def test_mnist_test_set_hashes_match_the_registry(t10k):
    """The upstream .gz hashes, and the payload hashes recorded from these files."""
    for role in ("test_images", "test_labels"):
        spec = MNIST.files[role]
        assert verify(t10k / spec.name, spec) == "sha256 of .gz"
        assert sha256_payload(t10k / spec.name) == spec.payload_sha256


def test_mnist_test_set_through_the_loader(t10k, tmp_path):
    """With only the test files present, load_mnist stops at the first missing training file."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for role in ("test_images", "test_labels"):
        (folder / MNIST.files[role].name).symlink_to(t10k / MNIST.files[role].name)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz of 'mnist' not found"):
        load_arrays("mnist", tmp_path, download=False)
