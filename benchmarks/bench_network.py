"""One SGD training step of the lesson's network, Numba layers against the NumPy reference.

Network 784-100-100-100-100-10, ReLU, He init, BatchNorm, batch 128, float64; one step is
``optimizer.update(net.params, net.gradient(x, t))`` (forward, backward, in-place update).
Both backends run in the same session, so the ratio is meaningful on a busy machine::

    python -m pytest benchmarks/bench_network.py --benchmark-only

Target (issue 2): steps/second of backend='numba' ≥ 2 × that of backend='numpy' (the same
network built from the book-style ``dlkit.reference`` layers), shown in the "dlkit
benchmark summary" and asserted by ``test_step_numba_at_least_twice_as_fast``.

The ten matrix products of a step (forward x·W, backward dout·Wᵀ and xᵀ·dout, per layer)
go to the same BLAS in both backends, so they bound the ratio from above (Amdahl):
``test_matmuls_alone`` times them and the summary prints that bound. How many threads BLAS
uses matters a lot on a shared machine (``OPENBLAS_NUM_THREADS=1`` to compare serially).
"""

import numpy as np
import pytest

from dlkit.network import MultiLayerNet
from dlkit.optimizers import SGD

GROUP = "SGD training step 784-100x4-10 BN ReLU, batch 128, float64"
SIZES = [784, 100, 100, 100, 100, 10]
BATCH = 128
REQUIRED_SPEEDUP = 2.0


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, SIZES[0]))  # pixels in [0, 1), as load_mnist(normalize=True)
    t = rng.integers(0, SIZES[-1], BATCH)
    return x, t


def _training_step(backend):
    x, t = _data()
    net = MultiLayerNet(SIZES[0], SIZES[1:-1], SIZES[-1], activation="relu",
                        weight_init_std="he", use_batchnorm=True, seed=0, backend=backend)
    opt = SGD(lr=0.01)

    def step():
        opt.update(net.params, net.gradient(x, t))

    step()  # compile / load the Numba cache and allocate the buffers outside the timing
    return step


ROUNDS = 200  # the minimum over many rounds: a busy machine only ever adds time


def _time(benchmark, report, name, fn, baseline=False):
    benchmark.group = GROUP
    benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=5)
    return report.record(benchmark, GROUP, name, baseline=baseline)


def test_step_numpy_reference(benchmark, report):
    _time(benchmark, report, "backend='numpy' (reference)", _training_step("numpy"),
          baseline=True)


def test_matmuls_alone(benchmark, report):
    """Only the BLAS products of one step, into preallocated outputs: the floor of any backend."""
    rng = np.random.default_rng(0)
    xs = [rng.random((BATCH, n)) for n in SIZES[:-1]]
    Ws = [rng.standard_normal((a, b)) for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)]
    outs = [np.empty((BATCH, b)) for b in SIZES[1:]]
    dxs = [np.empty_like(x) for x in xs]
    dWs = [np.empty_like(W) for W in Ws]

    def matmuls():
        for x, W, out in zip(xs, Ws, outs, strict=True):
            np.dot(x, W, out=out)
        for x, W, dout, dx, dW in zip(xs, Ws, outs, dxs, dWs, strict=True):
            np.dot(dout, W.T, out=dx)
            np.dot(x.T, dout, out=dW)

    _time(benchmark, report, "matmuls only (BLAS floor)", matmuls)


def test_step_numba_at_least_twice_as_fast(benchmark, report):
    numba_s = _time(benchmark, report, "backend='numba'", _training_step("numba"))
    report.target(GROUP, "backend='numba'", REQUIRED_SPEEDUP)
    numpy_s = report.seconds(GROUP, "backend='numpy' (reference)")
    blas_s = report.seconds(GROUP, "matmuls only (BLAS floor)")
    if numpy_s is None or numba_s is None:
        pytest.skip("needs the reference step timed in this session (and benchmarks enabled)")
    ratio = numpy_s / numba_s
    note = (f"training step: numba {ratio:.2f}x the steps/s of the NumPy reference "
            f"(target >= {REQUIRED_SPEEDUP:g}x)")
    if blas_s is not None:
        note += (f"; the matmuls are {blas_s / numba_s:.0%} of the numba step, so with this "
                 f"BLAS at most {numpy_s / blas_s:.2f}x is possible")
    report.note(note)
    print("\n" + note)
    assert ratio >= REQUIRED_SPEEDUP, note
