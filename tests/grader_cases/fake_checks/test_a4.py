"""Fake a4 checks: the Numba kernel against NumPy, and a speed ratio (README.md)."""

import numpy as np

FWD = "a4_numba.kernels:batchnorm_forward_train"


def _args(N=128, D=100, seed=0):
    rng = np.random.default_rng(seed)
    x, gamma, beta = rng.normal(size=(N, D)), rng.uniform(0.5, 2, D), rng.uniform(-1, 1, D)
    return (x, gamma, beta, 1e-5, np.empty((N, D)), np.empty((N, D)), np.empty(D),
            np.empty(D))


def test_forward_matches(worker):
    args = _args(16, 7)
    out, after = worker.call(FWD, *args, return_args=True, timeout=60)
    x, gamma, beta = args[:3]
    want = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta
    assert np.allclose(after[4], want, atol=1e-9)


def test_speed(worker, reference_timer, feedback):
    args = _args()
    student = worker.time(FWD, args, number=50, timeout=60)
    ref = reference_timer.time("numpy:var", (args[0],), {"axis": 0}, number=50)
    ratio = ref / student
    feedback.partial(min(1.0, max(0.0, (ratio - 1) / 2)),
                     en=f"{ratio:.1f}x the speed of numpy.var", ja=f"numpy.var の {ratio:.1f} 倍")
