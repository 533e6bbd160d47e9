"""Task 1 -- written from the stub's docstrings, in their order."""

import numpy as np


def init_weight(n_in, n_out, scheme, rng):
    if not isinstance(n_in, int) or not isinstance(n_out, int):
        raise TypeError(f"n_in, n_out: expected ints, got {n_in!r}, {n_out!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng)}")
    if n_in < 1 or n_out < 1:
        raise ValueError(f"n_in, n_out: expected >= 1, got {n_in}, {n_out}")
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    if scheme == "xavier":
        sigma = np.sqrt(1 / n_in)
    elif scheme == "he":
        sigma = np.sqrt(2 / n_in)
    elif isinstance(scheme, (int, float)) and not isinstance(scheme, bool):
        if not np.isfinite(scheme) or scheme < 0:
            raise ValueError(f"scheme: expected a std >= 0, got {scheme}")
        sigma = scheme
    else:
        raise ValueError(f"scheme: expected 'zeros', 'xavier', 'he' or a float, got {scheme!r}")
    return sigma * rng.standard_normal((n_in, n_out))


def layer_activations(x, weights, activation):
    if activation not in ("sigmoid", "tanh", "relu"):
        raise ValueError(f"activation: expected sigmoid, tanh or relu, got {activation!r}")
    if x.ndim != 2:
        raise ValueError(f"x: expected 2-D, got {x.ndim}-D")
    if len(weights) == 0:
        raise ValueError("weights: expected at least one matrix, got none")
    zs = []
    z = x
    for W in weights:
        if W.ndim != 2:
            raise ValueError(f"weights: expected 2-D matrices, got shape {W.shape}")
        if W.shape[0] != z.shape[1]:
            raise ValueError(f"weights: expected {z.shape[1]} rows, got {W.shape[0]}")
        a = z @ W
        if activation == "sigmoid":
            with np.errstate(over="ignore"):
                z = 1 / (1 + np.exp(-a))
        elif activation == "tanh":
            z = np.tanh(a)
        else:
            z = np.maximum(0, a)
        zs.append(z)
    return zs


def spread_stats(z, activation):
    z = np.asarray(z)
    if z.size == 0:
        raise ValueError("z: expected at least one value, got none")
    if activation == "sigmoid":
        saturated = np.mean((z < 0.1) | (z > 0.9))
    elif activation == "tanh":
        saturated = np.mean(np.abs(z) > 0.9)
    elif activation == "relu":
        saturated = 0.0
    else:
        raise ValueError(f"activation: expected sigmoid, tanh or relu, got {activation!r}")
    return {"mean": float(np.mean(z)), "std": float(np.std(z)),
            "saturated": float(saturated), "zero": float(np.mean(z == 0))}
