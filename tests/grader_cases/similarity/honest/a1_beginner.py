"""Task 1 -- step by step, one check at a time."""

import numpy as np


def init_weight(n_in, n_out, scheme, rng):
    if not isinstance(n_in, int) or isinstance(n_in, bool):
        raise TypeError("n_in should be an integer")
    if not isinstance(n_out, int) or isinstance(n_out, bool):
        raise TypeError("n_out should be an integer")
    if n_in < 1:
        raise ValueError("n_in should be 1 or more")
    if n_out < 1:
        raise ValueError("n_out should be 1 or more")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng should be made with np.random.default_rng")

    if isinstance(scheme, str):
        if scheme == "zeros":
            W = np.zeros((n_in, n_out))
            return W
        elif scheme == "xavier":
            sigma = np.sqrt(1 / n_in)
        elif scheme == "he":
            sigma = np.sqrt(2 / n_in)
        else:
            raise ValueError("I do not know the scheme " + scheme)
    else:
        try:
            sigma = float(scheme)
        except (TypeError, ValueError):
            raise ValueError("scheme is not a number or a name") from None
        if isinstance(scheme, bool):
            raise ValueError("scheme cannot be True or False")
        if sigma < 0:
            raise ValueError("a standard deviation cannot be negative")
        if np.isnan(sigma) or np.isinf(sigma):
            raise ValueError("the standard deviation must be a finite number")

    W = rng.standard_normal((n_in, n_out))
    W = W * sigma
    return W


def sigmoid(a):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-a))


def relu(a):
    return np.maximum(a, 0)


def layer_activations(x, weights, activation):
    if activation == "sigmoid":
        func = sigmoid
    elif activation == "tanh":
        func = np.tanh
    elif activation == "relu":
        func = relu
    else:
        raise ValueError("activation should be sigmoid, tanh or relu")

    if len(x.shape) != 2:
        raise ValueError("x should be a matrix")
    if len(weights) == 0:
        raise ValueError("there are no weights")

    result = []
    h = x
    for W in weights:
        if len(W.shape) != 2:
            raise ValueError("every weight should be a matrix")
        if W.shape[0] != h.shape[1]:
            raise ValueError("the sizes of the layers do not match")
        a = h @ W
        h = func(a)
        result.append(h)
    return result


def spread_stats(z, activation):
    z = np.array(z)
    if z.size == 0:
        raise ValueError("no activations given")
    if activation == "sigmoid":
        flat = np.logical_or(z < 0.1, z > 0.9)
        saturated = np.count_nonzero(flat) / z.size
    elif activation == "tanh":
        saturated = np.count_nonzero(np.abs(z) > 0.9) / z.size
    elif activation == "relu":
        saturated = 0.0
    else:
        raise ValueError("activation should be sigmoid, tanh or relu")
    zero = np.count_nonzero(z == 0) / z.size
    return {"mean": float(z.mean()), "std": float(z.std()), "saturated": float(saturated),
            "zero": float(zero)}
