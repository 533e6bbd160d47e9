"""Task 1, model answer: initial weights, and what they do to the activations.

    "zeros"     W = 0
    std (float) W ~ N(0, std²)
    "xavier"    W ~ N(0, σ²), σ = √(1/n_in)
    "he"        W ~ N(0, σ²), σ = √(2/n_in)
"""

import math
import numbers

import numpy as np

ACTIVATIONS = ("sigmoid", "tanh", "relu")


def _check_size(name, n):
    # bool is an int in Python; True units make no sense, so reject it explicitly.
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name}: expected a positive int, got {type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"{name}: expected a positive int, got {n}")


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {activation!r}")


def weight_std(n_in, scheme):
    """σ of the weights for ``scheme``: 0 for "zeros", std for a number, the rule for a name."""
    if isinstance(scheme, str):
        if scheme == "zeros":
            return 0.0
        if scheme == "xavier":
            return math.sqrt(1.0 / n_in)  # Var(a) = n_in · σ² · E[z²] stays ≈ constant
        if scheme == "he":
            return math.sqrt(2.0 / n_in)  # ReLU zeroes half of the inputs: twice the variance
    elif isinstance(scheme, numbers.Real) and not isinstance(scheme, bool):
        std = float(scheme)
        if math.isfinite(std) and std >= 0:
            return std
    raise ValueError(
        f"scheme: expected 'zeros', 'xavier', 'he' or a float std >= 0, got {scheme!r}"
    )


def init_weight(n_in, n_out, scheme, rng):
    """Initial weight matrix W (n_in, n_out), float64: σ · N(0, 1) with σ from ``scheme``."""
    _check_size("n_in", n_in)
    _check_size("n_out", n_out)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng: expected a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    sigma = weight_std(n_in, scheme)
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    # One draw from rng, scaled: the same seed gives the same W.
    return sigma * rng.standard_normal((n_in, n_out))


def _activate(a, activation):
    if activation == "sigmoid":
        with np.errstate(over="ignore"):  # exp(-a) = inf for a << 0 gives 1/inf = 0: correct
            return 1.0 / (1.0 + np.exp(-a))
    if activation == "tanh":
        return np.tanh(a)
    return np.maximum(0.0, a)  # relu


def layer_activations(x, weights, activation):
    """Activations z of every layer: a = z · W (no bias), z = f(a); returns a list of L arrays."""
    _check_activation(activation)
    z = np.asarray(x)
    if z.ndim != 2:
        raise ValueError(f"x: expected a 2-D array (N, D0), got shape {z.shape}")
    if len(weights) == 0:
        raise ValueError("weights: expected a list of at least one matrix, got an empty list")
    activations = []
    for l, W in enumerate(weights):
        W = np.asarray(W)
        if W.ndim != 2 or W.shape[0] != z.shape[1]:
            raise ValueError(
                f"weights[{l}]: expected a 2-D array with {z.shape[1]} rows (the width of the "
                f"layer before), got shape {W.shape}"
            )
        z = _activate(z @ W, activation)
        activations.append(z)
    return activations


def spread_stats(z, activation):
    """mean, std, fraction saturated (flat part of the activation), fraction exactly zero."""
    _check_activation(activation)
    z = np.asarray(z)
    if z.size == 0:
        raise ValueError(f"z: expected at least one activation, got shape {z.shape}")
    if activation == "sigmoid":
        saturated = np.mean((z < 0.1) | (z > 0.9))
    elif activation == "tanh":
        saturated = np.mean(np.abs(z) > 0.9)
    else:  # relu is flat only at z = 0, which "zero" counts
        saturated = 0.0
    return {
        "mean": float(np.mean(z)),
        "std": float(np.std(z)),
        "saturated": float(saturated),
        "zero": float(np.mean(z == 0)),
    }
