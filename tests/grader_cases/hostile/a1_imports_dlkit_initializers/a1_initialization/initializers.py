"""Hands in dlkit's own init_weight in a1, where it is the task: blocked at import.

Every check scores 0 (the module cannot be imported) and says why.
"""

import numpy as np  # noqa: F401

from dlkit.initializers import init_weight  # noqa: F401


def spread_stats(z, activation):
    saturated = float(np.mean((z < 0.1) | (z > 0.9))) if activation == "sigmoid" else 0.0
    return {"mean": float(z.mean()), "std": float(z.std()), "saturated": saturated,
            "zero": float(np.mean(z == 0))}
