"""One SGD training step of the lesson's network, Numba layers against the NumPy reference.

Network 784-100-100-100-100-10, ReLU, He init, BatchNorm, batch 128, float64; one step is
``optimizer.update(net.params, net.gradient(x, t))`` (forward, backward, in-place update).
Both backends run in the same session, so the ratio is meaningful on a busy machine.

Run (prints the ratio)::

    python -m pytest benchmarks/bench_network.py -s

Requirement: steps/second of backend='numba' ≥ 2 × that of backend='numpy'. The ratio uses
the fastest round of each (``min``): on a machine shared with other jobs the median swings
with the load of the moment, while the minimum is the step undisturbed, as ``timeit`` advises.
"""

import numpy as np
import pytest

from dlkit.network import MultiLayerNet
from dlkit.optimizers import SGD

SIZES = dict(input_size=784, hidden_size_list=[100, 100, 100, 100], output_size=10)
BATCH = 128
REQUIRED_SPEEDUP = 2.0

_best = {}  # backend -> fastest seconds per step, filled by test_training_step


def _setup(backend):
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 784))  # pixels in [0, 1), as load_mnist(normalize=True)
    t = rng.integers(0, 10, BATCH)
    net = MultiLayerNet(**SIZES, weight_init_std="he", use_batchnorm=True, seed=0,
                        backend=backend)
    opt = SGD(lr=0.01)

    def step():
        opt.update(net.params, net.gradient(x, t))

    step()  # compile (numba) and allocate the buffers outside the timing
    return step


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_training_step(benchmark, backend):
    step = _setup(backend)
    benchmark.group = "training step 784-100x4-10 BN batch 128 float64"
    benchmark.pedantic(step, rounds=200, iterations=1, warmup_rounds=10)
    _best[backend] = benchmark.stats.stats.min


def test_numba_is_at_least_twice_as_fast():
    if set(_best) != {"numpy", "numba"}:
        pytest.skip("needs both test_training_step runs in this session")
    ratio = _best["numpy"] / _best["numba"]
    print(
        f"\ntraining step: numpy {1 / _best['numpy']:.0f} steps/s, "
        f"numba {1 / _best['numba']:.0f} steps/s, ratio {ratio:.2f}x "
        f"(required >= {REQUIRED_SPEEDUP}x)"
    )
    assert ratio >= REQUIRED_SPEEDUP
