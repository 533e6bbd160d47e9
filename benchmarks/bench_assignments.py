"""The model answers of tasks 2 and 4 against the book's NumPy layer, timed in the same run.

    python -m pytest benchmarks/bench_assignments.py --benchmark-only

BatchNorm forward (train) + backward at (128, 100) float64, baseline
``dlkit.reference.BatchNormalization``; targets:
* solutions/a4_numba (Numba kernels): at least 3× faster than the baseline;
* solutions/a2_batchnorm (NumPy): at most 2× slower, i.e. a speed-up of at least 0.5.
The ratios are printed in the "dlkit benchmark summary" at the end (benchmarks/conftest.py).
"""

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from dlkit.reference import BatchNormalization as ReferenceBN

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
GROUP = "assignments: batchnorm train fwd+bwd (128,100) f64"
BASELINE = "reference (NumPy, book)"
EPS = 1e-5


def load_solution(name):
    """Import one model answer under its own name, e.g. "a4_numba.kernels" (Numba's cache
    of compiled kernels refers to the module by that name)."""
    sys.path.insert(0, str(SOLUTIONS))
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.remove(str(SOLUTIONS))
    assert Path(module.__file__).resolve().is_relative_to(SOLUTIONS), module.__file__
    return module


def bn_data(N=128, D=100, seed=0):
    rng = np.random.default_rng(seed)
    x = 5 * rng.standard_normal((N, D)) + 12
    return x, rng.standard_normal(D), rng.standard_normal(D), rng.standard_normal((N, D))


def fwd_bwd(layer, x, dout):
    layer.forward(x, train_flg=True)
    return layer.backward(dout)


def check_speedup(report, name, minimum):
    """Assert the speed-up over the baseline measured in this run (when both were timed)."""
    report.target(GROUP, name, minimum)
    base, mine = report.seconds(GROUP, BASELINE), report.seconds(GROUP, name)
    if base is None or mine is None:
        pytest.skip("the baseline was not timed in this run (run the whole file)")
    assert base / mine >= minimum, f"{name}: {base / mine:.2f}x the reference, need {minimum}x"


def test_reference(benchmark, report):
    x, gamma, beta, dout = bn_data()
    report.run(benchmark, GROUP, BASELINE, fwd_bwd, ReferenceBN(gamma, beta, eps=EPS), x, dout,
               baseline=True)


def test_a2_solution(benchmark, report):
    a2 = load_solution("a2_batchnorm.batchnorm")
    x, gamma, beta, dout = bn_data()
    layer = a2.BatchNormalization(gamma, beta, eps=EPS)
    np.testing.assert_allclose(fwd_bwd(layer, x, dout),
                               fwd_bwd(ReferenceBN(gamma, beta, eps=EPS), x, dout), rtol=1e-9)
    report.run(benchmark, GROUP, "solutions/a2 (NumPy)", fwd_bwd, layer, x, dout)
    check_speedup(report, "solutions/a2 (NumPy)", 0.5)  # at most 2x slower


def test_a4_solution(benchmark, report):
    a4 = load_solution("a4_numba.kernels")
    x, gamma, beta, dout = bn_data()
    N, D = x.shape
    out, xhat, dx = np.empty((N, D)), np.empty((N, D)), np.empty((N, D))
    mean, invstd, dgamma, dbeta = np.empty(D), np.empty(D), np.empty(D), np.empty(D)

    def kernels():
        a4.batchnorm_forward_train(x, gamma, beta, EPS, out, xhat, mean, invstd)
        return a4.batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta)

    # Compile (or load the cache) before timing, and check the result once.
    np.testing.assert_allclose(kernels(), fwd_bwd(ReferenceBN(gamma, beta, eps=EPS), x, dout),
                               rtol=1e-9, atol=1e-12)
    report.run(benchmark, GROUP, "solutions/a4 (Numba)", kernels)
    check_speedup(report, "solutions/a4 (Numba)", 3.0)
