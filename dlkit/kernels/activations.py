"""Element-wise activation kernels, 2-D arrays (N, D), float32 or float64.

    ReLU     out = max(x, 0),  mask = [x <= 0]      dx = dout · [not mask]
    sigmoid  out = 1 / (1 + exp(−x))                dx = dout · out · (1 − out)
    tanh     out = tanh(x)                          dx = dout · (1 − out²)

ReLU keeps the book's ``mask`` (the units that are off); sigmoid and tanh differentiate from
their output, which is all they need.  ``relu`` and ``relu_grad`` are the per-element rules,
shared with the fused kernels of :mod:`dlkit.kernels.blocks`.  The forwards of sigmoid and
tanh are NumPy ufuncs (see ``sigmoid_forward``), the other kernels Numba loops.
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


def sigmoid_forward(x, out):
    """out = 1 / (1 + exp(−x)).

    Four passes of NumPy's ufuncs, not a loop: NumPy computes exp several elements at a
    time (SIMD), while a compiled loop calls the scalar exp of the C library once per
    element, which costs more than the other three passes together. exp(−x) overflows to
    inf for x below about −709 (−88 in float32); then out = 1/inf = 0, the right answer,
    so the overflow is not reported.
    """
    np.negative(x, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    return np.divide(1.0, out, out=out)  # (np.reciprocal is not vectorised: slower)


@njit(cache=True, error_model="numpy")
def sigmoid_backward(dout, out, dx):
    """dx = dout · out · (1 − out)."""
    N, D = dout.shape
    for n in range(N):
        for d in range(D):
            y = out[n, d]
            dx[n, d] = dout[n, d] * (1.0 - y) * y
    return dx


def tanh_forward(x, out):
    """out = tanh(x), by NumPy's ufunc (SIMD, as ``sigmoid_forward``'s exp)."""
    return np.tanh(x, out=out)


@njit(cache=True, error_model="numpy")
def tanh_backward(dout, out, dx):
    """dx = dout · (1 − out²)."""
    N, D = dout.shape
    for n in range(N):
        for d in range(D):
            y = out[n, d]
            dx[n, d] = dout[n, d] * (1.0 - y * y)
    return dx
