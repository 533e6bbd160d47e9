"""A correct a1 whose every call takes a second: each check ends on its own, so the
grader's results file is seen to grow one check at a time."""

import time

import numpy as np

DELAY = 1.0


def init_weight(n_in, n_out, scheme, rng):
    time.sleep(DELAY)
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}[scheme]
    return rng.normal(0.0, std, (n_in, n_out))


def spread_stats(z, activation):
    time.sleep(DELAY)
    saturated = float(np.mean((z < 0.1) | (z > 0.9))) if activation == "sigmoid" else 0.0
    return {"mean": float(z.mean()), "std": float(z.std()), "saturated": saturated,
            "zero": float(np.mean(z == 0))}
