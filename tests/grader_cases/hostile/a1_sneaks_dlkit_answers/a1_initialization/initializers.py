"""Reaches dlkit's answers of a1 without an import statement: __import__, importlib,
sys.modules, and gc for anything already loaded.  All blocked: init_weight scores 0 in the
three checks that use it; spread_stats is the student's own and scores (1 point).
"""

import gc
import importlib
import sys

import numpy as np


def _dlkit_init_weight():
    tries = [
        lambda: sys.modules["dlkit.initializers"].init_weight,
        lambda: __import__("dlkit.initializers", fromlist=["init_weight"]).init_weight,
        lambda: importlib.import_module("dlkit." + "initializers").init_weight,
        lambda: next(o for o in gc.get_objects() if callable(o)
                     and getattr(o, "__name__", "") == "init_weight"
                     and getattr(o, "__module__", "").startswith("dlkit")),
    ]
    error = None
    for attempt in tries:
        try:
            return attempt()
        except BaseException as exc:  # noqa: BLE001
            if error is None or isinstance(exc, ImportError):
                error = exc
    raise error


def init_weight(n_in, n_out, scheme, rng):
    return _dlkit_init_weight()(n_in, n_out, scheme, rng)


def spread_stats(z, activation):
    saturated = float(np.mean((z < 0.1) | (z > 0.9))) if activation == "sigmoid" else 0.0
    return {"mean": float(z.mean()), "std": float(z.std()), "saturated": saturated,
            "zero": float(np.mean(z == 0))}
