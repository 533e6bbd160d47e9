"""init_weight allocates 320 GB for large layers;
spread_stats keeps allocating 1 GiB arrays without bound.
"""

import numpy as np


def init_weight(n_in, n_out, scheme, rng):
    if n_in >= 400:
        return np.ones((200_000, 200_000))
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


def spread_stats(z, activation):
    saturated = float(np.mean((z < 0.1) | (z > 0.9))) if activation == "sigmoid" else 0.0
    return {"mean": float(z.mean()), "std": float(z.std()), "saturated": saturated,
            "zero": float(np.mean(z == 0))}


def spread_stats(z, activation):  # noqa: F811
    blocks = []
    while True:
        blocks.append(np.empty(2**27))  # 1 GiB more each time
