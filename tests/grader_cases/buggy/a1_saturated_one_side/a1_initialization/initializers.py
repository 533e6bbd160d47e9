"""a1 (grader test case): weight initialization and activation spread.

THE MISTAKE: sigmoid's 'saturated' counts only z > 0.9, not z < 0.1 too.
"""

import numpy as np


def init_weight(n_in, n_out, scheme, rng):
    """W (n_in, n_out): zeros, N(0, std²) for a float std, Xavier σ=√(1/n_in), He σ=√(2/n_in)."""
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    if scheme == "xavier":
        std = np.sqrt(1.0 / n_in)
    elif scheme == "he":
        std = np.sqrt(2.0 / n_in)
    else:
        std = float(scheme)  # ValueError for an unknown name
        if not std >= 0:
            raise ValueError(f"scheme: expected a std >= 0, got {scheme!r}")
    return std * rng.standard_normal((n_in, n_out))


def _activate(a, activation):
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    if activation == "tanh":
        return np.tanh(a)
    if activation == "relu":
        return np.maximum(a, 0.0)
    raise ValueError(f"activation: expected 'sigmoid', 'tanh' or 'relu', got {activation!r}")


def layer_activations(x, weights, activation):
    """z_0 = x; a_k = z_{k-1}·W_k; z_k = f(a_k); returns [z_1, ..., z_L]."""
    z = x
    activations = []
    for W in weights:
        z = _activate(z @ W, activation)
        activations.append(z)
    return activations


def spread_stats(z, activation):
    """mean, std, saturated fraction and fraction of exact zeros of z."""
    if activation == "sigmoid":
        saturated = np.mean(z > 0.9)  # BUG: z < 0.1 is saturated too
    elif activation == "tanh":
        saturated = np.mean(np.abs(z) > 0.9)
    elif activation == "relu":
        saturated = 0.0
    else:
        raise ValueError(f"activation: expected 'sigmoid', 'tanh' or 'relu', got {activation!r}")
    return {
        "mean": float(np.mean(z)),
        "std": float(np.std(z)),
        "saturated": float(saturated),
        "zero": float(np.mean(z == 0)),
    }
