"""Affine (fully connected) layer kernels: out = x·W + b.

The matrix products stay in BLAS (``np.matmul`` with an ``out=`` buffer, outside Numba, so no
SciPy is needed); the parts BLAS does not do (adding the bias, summing ``dout`` over the
batch) are small Numba kernels.  Shapes: x (N, D), W (D, M), b (M,), out and dout (N, M).
"""

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def _add_bias(out, b):
    """out[n, m] += b[m] for every row n (in place)."""
    N, M = out.shape
    for n in range(N):
        for m in range(M):
            out[n, m] += b[m]
    return out


@njit(cache=True, error_model="numpy")
def _sum_rows(dout, db):
    """db[m] = Σ_n dout[n, m]  (accumulated in float64, written in db's dtype)."""
    N, M = dout.shape
    acc = np.zeros(M)
    for n in range(N):
        for m in range(M):
            acc[m] += dout[n, m]
    for m in range(M):
        db[m] = acc[m]
    return db


def affine_forward(x, W, b, out):
    """out = x·W + b.

    x (N, D), W (D, M), b (M,), out (N, M) C-contiguous, all of one float dtype.
    Returns ``out``.
    """
    np.matmul(x, W, out=out)
    return _add_bias(out, b)


def affine_backward_params(dout, x, dW, db):
    """Gradients of the parameters only: dW = xᵀ·dout (D, M), db = Σ_n dout (M,).

    dW must be C-contiguous. Returns ``(dW, db)``.  A network's first layer needs only
    these: its dx would be the gradient with respect to the data, which nothing uses.
    """
    np.matmul(x.T, dout, out=dW)
    _sum_rows(dout, db)
    return dW, db


def affine_backward(dout, x, W, dx, dW, db):
    """Gradients of out = x·W + b given dout = ∂L/∂out.

    dx = dout·Wᵀ (N, D), dW = xᵀ·dout (D, M), db = Σ_n dout (M,).
    dx and dW must be C-contiguous. Returns ``(dx, dW, db)``.
    """
    np.matmul(dout, W.T, out=dx)
    affine_backward_params(dout, x, dW, db)
    return dx, dW, db
