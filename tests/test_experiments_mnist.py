"""The lesson's training claims on the real MNIST test-set files (the book's data set).

Only the 10,000 test images of MNIST are on this machine (../shared/data/mnist-t10k): the
experiments train on the first 8,000 and evaluate on the last 2,000. Skipped, with the reason,
where that folder does not exist.
"""

import math

import numpy as np
import pytest

from dlkit.experiments.batchnorm_compare import batchnorm_compare
from dlkit.experiments.claims import IDENTICAL_TOL, final_loss
from dlkit.experiments.init_compare import init_compare
from dlkit.experiments.symmetry import symmetry


@pytest.fixture(scope="module")
def mnist(mnist_t10k_dir):
    images = mnist_t10k_dir / "t10k-images-idx3-ubyte.gz"
    labels = mnist_t10k_dir / "t10k-labels-idx1-ubyte.gz"
    from dlkit.data import read_idx

    x = read_idx(images).reshape(10_000, 784) / 255.0
    t = read_idx(labels).astype(np.intp)
    return x[:8000], t[:8000], x[8000:], t[8000:]


def test_init_compare_on_mnist(mnist):
    r = init_compare(*mnist, iterations=300, train_eval_size=2000, seeds=[0],
                     dataset="mnist t10k")
    s = r.data["schemes"]
    small, xavier, he = (final_loss(s[k]["loss"])[0] for k in ("std=0.01", "Xavier", "He"))
    assert abs(small - math.log(10)) < 0.05  # stuck at chance-level loss (measured 2.301–2.302)
    assert he < xavier < small  # measured after 300 steps: He ≈ 0.55–0.60, Xavier ≈ 1.7–1.95
    # MNIST is easier than Fashion-MNIST: He reaches > 80% on the held-out 2,000 (0.86–0.88)
    assert s["He"]["test_acc"][0] > 0.8 and s["std=0.01"]["test_acc"][0] < 0.2


def test_batchnorm_on_mnist(mnist):
    x_train, t_train, x_test, t_test = mnist
    r = batchnorm_compare(x_train, t_train, x_test, t_test, epochs=5, train_size=400, seeds=[0],
                          dataset="mnist t10k")
    bn = r.data["batchnorm"]["train_acc"][0, :, -1]
    plain = r.data["plain"]["train_acc"][0, :, -1]
    # BN ends higher for most of the 16 scales (measured 12–13) even after 5 short epochs
    assert (bn > plain).sum() > 8, (bn, plain)
    # on the held-out images too, at the scale where BN does best (measured ≈ 0.6)
    k = int(np.argmax(bn))
    assert r.data["batchnorm"]["test_acc"][0, k] > 0.5


def test_symmetry_on_mnist(mnist):
    r = symmetry(mnist[0], mnist[1], steps=30, seeds=[0])
    d = r.data["inits"]
    # identical up to the claim's IDENTICAL_TOL, not exactly 0: depending on the CPU, OpenBLAS
    # may sum one column of a product in another order than its neighbours (seen: 1.7e-18)
    assert d["zeros"]["spread"].max() <= IDENTICAL_TOL
    assert d["constant 0.01"]["spread"].max() <= IDENTICAL_TOL
    assert (d["zeros"]["moved"] > 0).all()
    assert (d["Xavier"]["spread"][:, -1, :] > 0.1).all()
