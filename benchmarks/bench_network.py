"""One SGD training step of the lesson's network, Numba layers against the NumPy reference.

Network 784-100-100-100-100-10, ReLU, He init, BatchNorm, batch 128, float64; one step is
``optimizer.update(net.params, net.gradient(x, t))`` (forward, backward, in-place update).
Both backends run in the same session with ONE BLAS thread (threadpoolctl), so the other
load of a shared machine does not favour either side::

    python -m pytest benchmarks/bench_network.py --benchmark-only

Target: steps/second of backend='numba' ≥ 2 × that of backend='numpy' (the same
network built from the book-style ``dlkit.reference`` layers), asserted by
``test_step_numba_at_least_twice_as_fast``.  Steps per second is the rate of consecutive
steps, as a training loop runs them, so that test times blocks of ``BLOCK`` consecutive steps
of one backend, the backends' blocks taking turns: each round times one block of each, back
to back, so a change of machine load hits both alike.  The ratio it asserts is the median
over the rounds of (NumPy block time / Numba block time); it prints next to it the ratio of
the two backends' total times (steps/second over the whole run, literally) and the ratio of
their fastest blocks.  Each block starts with one untimed step: the first step after the
other backend's would be charged with that backend's cache footprint (the NumPy step leaves
megabytes of temporaries behind, which a Numba step right after it pays for).  Both backends
are treated alike.

What the comparison includes, honestly stated: the matrix products go to the same BLAS in
both backends.  The reference step makes the book's fifteen products; the Numba step makes
fourteen, because ``MultiLayerNet.gradient`` skips the first Affine's dx = dout·W1ᵀ (the
gradient with respect to the data, which nothing uses) where the layer can
(``dlkit.layers.Affine.backward_params``).  The book's reference Affine, kept unoptimised,
computes it.  That product is (128·100·784) multiply-adds, about a quarter of the book's
BLAS work; ``test_matmuls_alone`` times both sets of products and the summary prints the
bound they put on the ratio (Amdahl: no backend can beat its own matrix products).
"""

import os
import time

import numpy as np
import pytest
from _products import step_products
from threadpoolctl import threadpool_limits

from dlkit.network import MultiLayerNet
from dlkit.optimizers import SGD

GROUP = "SGD training step 784-100x4-10 BN ReLU, batch 128, float64, 1 BLAS thread"
SIZES = [784, 100, 100, 100, 100, 10]
BATCH = 128
REQUIRED_SPEEDUP = 2.0  # the target, not loosened: see the summary for how close
ROUNDS = 200  # rounds per pytest-benchmark timing, and rounds of interleaved blocks
BLOCK = 5  # consecutive steps per timed block in the steps/second comparison
NUMPY, NUMBA = "backend='numpy' (reference)", "backend='numba'"
BOOK_PRODUCTS, NUMBA_PRODUCTS = "matmuls of the book's step (15)", "matmuls of the numba step (14)"


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


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


def _time(benchmark, report, name, fn, baseline=False):
    benchmark.group = GROUP
    benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=5)
    return report.record(benchmark, GROUP, name, baseline=baseline)


def test_step_numpy_reference(benchmark, report):
    _time(benchmark, report, NUMPY, _training_step("numpy"), baseline=True)


def test_step_numba(benchmark, report):
    # No target in the summary table here: its ratio is of two fastest rounds timed apart,
    # the target is judged by test_step_numba_at_least_twice_as_fast (see _paired_ratio).
    _time(benchmark, report, NUMBA, _training_step("numba"))


@pytest.mark.parametrize("with_first_dx", [True, False], ids=["book", "numba"])
def test_matmuls_alone(benchmark, report, with_first_dx):
    """The floor of each backend: its matrix products alone."""
    name = BOOK_PRODUCTS if with_first_dx else NUMBA_PRODUCTS
    _time(benchmark, report, name, step_products(SIZES, BATCH, with_first_dx))


def _interleaved_blocks(fns, rounds, block):
    """Seconds per call of each function in each of ``rounds`` rounds, an array (rounds,
    len(fns)).  A round times one block of ``block`` consecutive calls of each function, one
    after another (so a change of machine load hits all alike); each block follows one
    untimed call of the same function."""
    seconds = np.empty((rounds, len(fns)))
    for r in range(rounds):
        for i, fn in enumerate(fns):
            fn()  # after the other functions: warm this one's data up again, untimed
            t0 = time.perf_counter()
            for _ in range(block):
                fn()
            seconds[r, i] = (time.perf_counter() - t0) / block
    return seconds


def _paired_ratio(slow, fast):
    """The median over rounds of slow / fast, blocks of one round compared with each other.

    Why the median of paired ratios and not the ratio of each backend's fastest block: on a
    shared machine a block's median time lies well above its fastest, for the bare matrix
    products as much as for either step, so each backend's fastest block is a rare quiet
    moment of its own, and their ratio carries the scatter of two rare events.  The test
    prints all three estimates (paired median, ratio of total times - steps per second over
    the whole run, which is what the target speaks of - and ratio of fastest blocks); of the
    estimates that use every round, the paired median is the one that a single burst of load
    on one block cannot move.
    """
    return float(np.median(slow / fast))


def test_step_numba_at_least_twice_as_fast(benchmark, report):
    if benchmark.disabled:
        pytest.skip("a timing (run with benchmarks enabled)")
    fns = [_training_step("numpy"), _training_step("numba"),
           step_products(SIZES, BATCH, with_first_dx=False)]
    benchmark.group = "the interleaved measurement as a whole"
    seconds = benchmark.pedantic(_interleaved_blocks, args=(fns, ROUNDS, BLOCK), rounds=1,
                                 iterations=1)
    numpy_s, numba_s, floor_s = seconds.T
    ratio = _paired_ratio(numpy_s, numba_s)
    note = (f"training step (1 BLAS thread, {ROUNDS} rounds of interleaved blocks of {BLOCK} "
            f"steps, each after an untimed one): median numpy {np.median(numpy_s) * 1e6:.0f} "
            f"us, numba {np.median(numba_s) * 1e6:.0f} us; numba runs {ratio:.2f}x the steps/s "
            f"of the NumPy reference (median of paired blocks; target >= "
            f"{REQUIRED_SPEEDUP:g}x). Ratio of total times {numpy_s.sum() / numba_s.sum():.2f}x, "
            f"of fastest blocks {numpy_s.min() / numba_s.min():.2f}x. Its 14 matmuls are "
            f"{np.median(floor_s / numba_s):.0%} of the numba step, so at most "
            f"{_paired_ratio(numpy_s, floor_s):.2f}x is possible with this BLAS")
    report.note(note)
    print("\n" + note)
    assert ratio >= REQUIRED_SPEEDUP, note


def test_step_ratio_with_numpys_default_blas_threads(benchmark, report):
    """The same comparison with BLAS on every core, as NumPy runs it by default.

    Reported, not asserted: the target is asserted above on one thread, which a shared
    machine's other load disturbs far less (dlkit's experiments train on one thread too,
    see dlkit.experiments.training).  More BLAS threads shrink the products both backends
    share, so the ratio rises; it must still show the Numba step ahead.
    """
    if benchmark.disabled:
        pytest.skip("a timing (run with benchmarks enabled)")
    threads = os.cpu_count()
    with threadpool_limits(limits=threads, user_api="blas"):
        fns = [_training_step("numpy"), _training_step("numba")]
        benchmark.group = "the interleaved measurement as a whole"
        seconds = benchmark.pedantic(_interleaved_blocks, args=(fns, ROUNDS // 2, BLOCK),
                                     rounds=1, iterations=1)
    numpy_s, numba_s = seconds.T
    ratio = _paired_ratio(numpy_s, numba_s)
    note = (f"training step with {threads} BLAS threads (NumPy's default here; reported, not "
            f"asserted): median numpy {np.median(numpy_s) * 1e6:.0f} us, numba "
            f"{np.median(numba_s) * 1e6:.0f} us = {ratio:.2f}x (median of paired blocks)")
    report.note(note)
    print("\n" + note)
    assert ratio > 1.0, note
