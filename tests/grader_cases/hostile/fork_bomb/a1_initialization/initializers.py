"""spread_stats forks without bound; zeros leaves a daemon behind (it must die)."""

import os
import subprocess

import numpy as np


def init_weight(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        # a shell (not sys.executable: a Python the worker's uid reaches only through
        # directory handles cannot be started anew), in a session of its own
        subprocess.Popen(["/bin/sh", "-c", "sleep 600; true", "DLKIT-HOSTILE-DAEMON-MARKER"],
                         start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


def spread_stats(z, activation):
    saturated = float(np.mean((z < 0.1) | (z > 0.9))) if activation == "sigmoid" else 0.0
    return {"mean": float(z.mean()), "std": float(z.std()), "saturated": saturated,
            "zero": float(np.mean(z == 0))}


def spread_stats(z, activation):  # noqa: F811
    while True:
        os.fork()
