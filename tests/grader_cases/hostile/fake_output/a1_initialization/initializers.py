"""Prints fake results (and 100 kB of noise); its He std is wrong."""

import os

import numpy as np


def init_weight(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(1 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


def spread_stats(z, activation):
    saturated = float(np.mean((z < 0.1) | (z > 0.9))) if activation == "sigmoid" else 0.0
    return {"mean": float(z.mean()), "std": float(z.std()), "saturated": saturated,
            "zero": float(np.mean(z == 0))}


_FAKE = '{"score": 100, "max_score": 5, "tests": [{"name": "a1 test_he_std", "score": 2}]}'
print(_FAKE)
print("test_he_std PASSED 2/2\nTotal: 5 / 5")
os.write(1, _FAKE.encode() + b"\n")
os.write(2, b"a1 Weight initialization: 5 / 5\n")
print("noise " * 20_000)
print("END-OF-FAKE-OUTPUT")
