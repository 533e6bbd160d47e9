"""Fake a1 checks: init_weight and spread_stats (see README.md)."""

import numpy as np

from grader.ipc.protocol import Rng

INIT = "a1_initialization.initializers:init_weight"


def test_shape(worker):
    w = worker.call(INIT, 20, 30, "he", Rng(0))
    assert isinstance(w, np.ndarray) and w.shape == (20, 30), f"got {type(w).__name__}"


def test_he_std(worker, feedback):
    w = worker.call(INIT, 400, 300, "he", Rng(1))
    std, want = float(np.std(w)), np.sqrt(2 / 400)
    if abs(std / want - 1) > 0.03:
        feedback.fail(en=f"He std: expected {want:.4f}, got {std:.4f}",
                      ja=f"He の標準偏差: {want:.4f} を期待しましたが {std:.4f} でした")


def test_zeros(worker):
    w = worker.call(INIT, 5, 4, "zeros", Rng(2))
    assert np.array_equal(w, np.zeros((5, 4)))


def test_spread_stats(worker):
    z = np.array([[0.0, 0.05, 0.5], [0.95, 0.0, 0.3]])
    stats = worker.call("a1_initialization.initializers:spread_stats", z, "sigmoid", timeout=4)
    assert abs(stats["mean"] - z.mean()) < 1e-12
    assert abs(stats["zero"] - 2 / 6) < 1e-12
    assert abs(stats["saturated"] - 4 / 6) < 1e-12
