"""Shared pytest settings for the project's own tests: where the real data sets are.

Tests on real data skip, saying why, when the files are absent. CI sets
``DLKIT_REQUIRE_DATA=1`` (see ``.ci/run``): there a missing data set fails the run instead,
so the real-data claims are always checked where they can be.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Submissions the grader tests feed to dlkit-grade (slip patches, hostile, fake checks):
# student code and check files, not tests of this project.
collect_ignore = ["grader_cases"]

ROOT = Path(__file__).resolve().parents[1]
#: Debian's package dataset-fashion-mnist (``apt-get install dataset-fashion-mnist``).
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
#: The real MNIST test set, shared beside the repository (never copied into it);
#: $DLKIT_MNIST_T10K_DIR names another folder (a git worktree has no shared/ beside it).
MNIST_T10K_DIR = Path(os.environ.get("DLKIT_MNIST_T10K_DIR",
                                     ROOT.parent / "shared" / "data" / "mnist-t10k"))
MNIST_T10K_FILES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def require_files(folder: Path, files: list[str], why: str) -> Path:
    """Return ``folder`` if it holds ``files``; else skip (or fail under DLKIT_REQUIRE_DATA=1)."""
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        message = f"{why}: {', '.join(missing)} not in {folder}"
        if os.environ.get("DLKIT_REQUIRE_DATA") == "1":
            pytest.fail(f"DLKIT_REQUIRE_DATA=1 but {message}")
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def fashion_mnist_dir() -> Path:
    return require_files(FASHION_MNIST_DIR, FASHION_MNIST_FILES,
                         "Debian package dataset-fashion-mnist not installed "
                         "(apt-get install dataset-fashion-mnist)")


@pytest.fixture(scope="session")
def mnist_t10k_dir() -> Path:
    return require_files(MNIST_T10K_DIR, MNIST_T10K_FILES,
                         "the MNIST test-set files (../shared/data/mnist-t10k) are absent")


@pytest.fixture(scope="session")
def fashion_mnist(fashion_mnist_dir):
    """Fashion-MNIST ((x_train, t_train), (x_test, t_test)) with float64 images, what dlkit's
    experiments train on (the book's float32 are tests/test_book_scripts.py's), and the
    book's uint8 labels."""
    from dlkit.data import load_mnist

    return load_mnist(dataset="fashion-mnist", download=False, dtype=np.float64)
