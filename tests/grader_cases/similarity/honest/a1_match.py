"""Task 1 -- with structural pattern matching (Python 3.10)."""

from math import isfinite, sqrt
from numbers import Real

import numpy as np


def _size(what, n):
    match n:
        case bool():
            raise TypeError(f"{what}: a bool is not a size")
        case int() if n >= 1:
            return n
        case int():
            raise ValueError(f"{what}: must be >= 1 (got {n})")
        case _:
            raise TypeError(f"{what}: expected int (got {type(n).__name__})")


def _sigma(scheme, fan_in):
    match scheme:
        case "zeros":
            return 0.0
        case "xavier":
            return sqrt(1 / fan_in)
        case "he":
            return sqrt(2 / fan_in)
        case bool() | str():
            raise ValueError(f"unknown initialisation {scheme!r}")
        case Real() if isfinite(scheme) and scheme >= 0:
            return float(scheme)
    raise ValueError(f"bad initialisation {scheme!r}")


def init_weight(n_in, n_out, scheme, rng):
    rows, cols = _size("n_in", n_in), _size("n_out", n_out)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: need a numpy Generator, got {rng!r}")
    sigma = _sigma(scheme, rows)
    if scheme == "zeros":
        return np.zeros((rows, cols))
    noise = rng.standard_normal(size=(rows, cols))
    return sigma * noise


def _apply(kind, a):
    match kind:
        case "sigmoid":
            return np.exp(-np.logaddexp(0.0, -a))
        case "tanh":
            return np.tanh(a)
        case "relu":
            return a * (a > 0)
    raise ValueError(f"activation {kind!r} is not sigmoid/tanh/relu")


def layer_activations(x, weights, activation):
    _apply(activation, np.zeros(1))
    if getattr(x, "ndim", 0) != 2:
        raise ValueError("x: need a 2-D array")
    if len(weights) < 1:
        raise ValueError("weights: empty")
    zs = [x]
    for k, w in enumerate(weights):
        if getattr(w, "ndim", 0) != 2 or w.shape[0] != zs[-1].shape[1]:
            raise ValueError(f"weights[{k}]: shape {getattr(w, 'shape', None)} does not chain")
        zs.append(_apply(activation, zs[-1] @ w))
    return zs[1:]


def spread_stats(z, activation):
    z = np.asarray(z, dtype=np.float64)
    match activation:
        case "sigmoid":
            flat = np.mean((z < 0.1) | (z > 0.9)) if z.size else None
        case "tanh":
            flat = np.mean(np.abs(z) > 0.9) if z.size else None
        case "relu":
            flat = 0.0
        case _:
            raise ValueError(f"activation {activation!r} unknown")
    if z.size == 0:
        raise ValueError("z: no values")
    return {"mean": float(z.mean()), "std": float(z.std()), "saturated": float(flat),
            "zero": float(np.mean(z == 0.0))}
