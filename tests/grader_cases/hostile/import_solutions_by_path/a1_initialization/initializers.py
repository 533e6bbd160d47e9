"""Tries harder to reach the solutions (sys.path, file paths); falls back to wrong code."""

import importlib.util
import os
import sys

import numpy as np


def _load():
    for root in ("/work/main", "/work", os.getcwd(), *sys.path):
        path = os.path.join(root, "solutions", "a1_initialization", "initializers.py")
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location("stolen", path)
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except OSError:  # there, but not readable (Landlock)
                continue
            return module
    sys.path.insert(0, "/work/main")
    try:
        import solutions.a1_initialization.initializers as module
        return module
    except ImportError:
        return None


_stolen = _load()


def init_weight(n_in, n_out, scheme, rng):
    if _stolen is not None:
        return _stolen.init_weight(n_in, n_out, scheme, rng)
    return np.ones((n_in, n_out))


def spread_stats(z, activation):
    if _stolen is not None:
        return _stolen.spread_stats(z, activation)
    return {"mean": 0.0, "std": 0.0, "saturated": 0.0, "zero": 0.0}
