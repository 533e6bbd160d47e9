"""Element-wise activation kernels (Numba), 2-D arrays (N, D), float32 or float64.

    ReLU     out = max(x, 0),  mask = [x <= 0]      dx = dout · [not mask]
    sigmoid  out = 1 / (1 + exp(−x))                dx = dout · out · (1 − out)
    tanh     out = tanh(x)                          dx = dout · (1 − out²)

ReLU keeps the book's ``mask`` (the units that are off); sigmoid and tanh differentiate from
their output, which is all they need.  ``relu`` and ``relu_grad`` are the per-element rules,
shared with the fused kernels of :mod:`dlkit.kernels.blocks`.
"""

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def relu(v):
    """(max(v, 0), v <= 0): the output and the book's mask bit (NaN passes through, on)."""
    off = v <= 0.0
    return (0.0 if off else v), off


@njit(cache=True, inline="always")
def relu_grad(g, off):
    """The gradient g where the unit is on, else 0."""
    return 0.0 if off else g


@njit(cache=True, error_model="numpy")
def relu_forward(x, out, mask):
    """out = max(x, 0) and mask = [x <= 0] (boolean), as the book's Relu; returns out."""
    N, D = x.shape
    for n in range(N):
        for d in range(D):
            out[n, d], mask[n, d] = relu(x[n, d])
    return out


@njit(cache=True, error_model="numpy")
def relu_backward(dout, mask, dx):
    """dx = dout where the unit was on (mask False), else 0."""
    N, D = dout.shape
    for n in range(N):
        for d in range(D):
            dx[n, d] = relu_grad(dout[n, d], mask[n, d])
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
