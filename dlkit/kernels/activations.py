"""Element-wise activation kernels (Numba), 2-D arrays (N, D), float32 or float64.

Each backward takes the forward *output* (not the input): that is all it needs.

    ReLU     out = max(x, 0)              dx = dout · [out > 0]
    sigmoid  out = 1 / (1 + exp(−x))      dx = dout · out · (1 − out)
    tanh     out = tanh(x)                dx = dout · (1 − out²)
"""

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def relu_forward(x, out):
    """out = x where x > 0, else 0 (NaN passes through, as in the book's mask x <= 0)."""
    N, D = x.shape
    for n in range(N):
        for d in range(D):
            v = x[n, d]
            out[n, d] = 0.0 if v <= 0.0 else v
    return out


@njit(cache=True, error_model="numpy")
def relu_backward(dout, out, dx):
    """dx = dout where out > 0, else 0."""
    N, D = dout.shape
    for n in range(N):
        for d in range(D):
            dx[n, d] = dout[n, d] if out[n, d] > 0.0 else 0.0
    return dx


@njit(cache=True, error_model="numpy")
def sigmoid_forward(x, out):
    """out = 1 / (1 + exp(−x))."""
    N, D = x.shape
    for n in range(N):
        for d in range(D):
            out[n, d] = 1.0 / (1.0 + np.exp(-x[n, d]))
    return out


@njit(cache=True, error_model="numpy")
def sigmoid_backward(dout, out, dx):
    """dx = dout · out · (1 − out)."""
    N, D = dout.shape
    for n in range(N):
        for d in range(D):
            y = out[n, d]
            dx[n, d] = dout[n, d] * (1.0 - y) * y
    return dx


@njit(cache=True, error_model="numpy")
def tanh_forward(x, out):
    """out = tanh(x)."""
    N, D = x.shape
    for n in range(N):
        for d in range(D):
            out[n, d] = np.tanh(x[n, d])
    return out


@njit(cache=True, error_model="numpy")
def tanh_backward(dout, out, dx):
    """dx = dout · (1 − out²)."""
    N, D = dout.shape
    for n in range(N):
        for d in range(D):
            y = out[n, d]
            dx[n, d] = dout[n, d] * (1.0 - y * y)
    return dx
