"""Not hostile: init_weight draws the weights in a worker thread (as a student trying
concurrent.futures might). It must score the same whatever else the grading user runs."""

import concurrent.futures

import numpy as np


def _draw(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


def init_weight(n_in, n_out, scheme, rng):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_draw, n_in, n_out, scheme, rng).result()
