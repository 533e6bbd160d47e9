"""Task 1 -- in the style of the book's ch06/weight_init_activation_histogram.py."""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def ReLU(x):
    return np.maximum(0, x)


def tanh(x):
    return np.tanh(x)


functions = {"sigmoid": sigmoid, "tanh": tanh, "relu": ReLU}


def init_weight(n_in, n_out, scheme, rng):
    for size in (n_in, n_out):
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
            raise TypeError("node_num must be an int: %r" % (size,))
        if size < 1:
            raise ValueError("node_num must be positive: %r" % (size,))
    if not isinstance(rng, np.random.Generator):
        raise TypeError("use np.random.default_rng(seed), not %r" % (rng,))

    node_num = n_in
    if str(scheme) == "zeros" and isinstance(scheme, str):
        return np.zeros((n_in, n_out))
    elif isinstance(scheme, str) and scheme == "xavier":
        scale = np.sqrt(1.0 / node_num)
    elif isinstance(scheme, str) and scheme == "he":
        scale = np.sqrt(2.0 / node_num)
    elif isinstance(scheme, (float, int)) and not isinstance(scheme, bool) and 0 <= scheme < np.inf:
        scale = scheme
    else:
        raise ValueError("weight_init_std: 'zeros', 'xavier', 'he' or std >= 0, not %r" % (scheme,))
    w = rng.standard_normal((n_in, n_out)) * scale
    return w.astype(np.float64)


def layer_activations(x, weights, activation):
    if activation not in functions:
        raise ValueError("activation: %r" % (activation,))
    if x.ndim != 2 or len(weights) == 0:
        raise ValueError("x must be (N, D) and there must be at least one layer")
    activations = {}
    for i in range(len(weights)):
        if i != 0:
            x = activations[i - 1]
        w = weights[i]
        if w.ndim != 2 or w.shape[0] != x.shape[1]:
            raise ValueError("layer %d: w has shape %s, x has shape %s" % (i, w.shape, x.shape))
        a = np.dot(x, w)
        with np.errstate(over="ignore"):
            z = functions[activation](a)
        activations[i] = z
    return [activations[i] for i in range(len(weights))]


def spread_stats(z, activation):
    if activation not in functions:
        raise ValueError("activation: %r" % (activation,))
    z = np.asarray(z)
    if z.size == 0:
        raise ValueError("z has no elements")
    flat = {"sigmoid": (z < 0.1) | (z > 0.9), "tanh": np.abs(z) > 0.9, "relu": np.zeros(z.shape)}
    return {"mean": float(np.mean(z)), "std": float(np.std(z)),
            "saturated": float(np.mean(flat[activation])), "zero": float(np.mean(z == 0))}
