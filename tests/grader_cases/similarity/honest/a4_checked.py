"""Task 4 -- shape checks and per-feature sums in small jitted helpers."""

import numpy as np
from numba import njit


@njit(cache=True)
def _need_vector(v, length):
    if v.ndim != 1 or v.shape[0] != length:
        raise ValueError("a (D,) array has the wrong shape")


@njit(cache=True)
def _need_matrix(m, rows, cols):
    if m.shape[0] != rows or m.shape[1] != cols:
        raise ValueError("an (N, D) array has the wrong shape")


@njit(cache=True)
def _column_sums(a, b):
    """Σ_n a and Σ_n a·b per column, in float64."""
    s = np.zeros(a.shape[1])
    sp = np.zeros(a.shape[1])
    for r in range(a.shape[0]):
        for c in range(a.shape[1]):
            s[c] += a[r, c]
            sp[c] += a[r, c] * b[r, c]
    return s, sp


@njit(cache=True)
def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    n, d = x.shape
    if n < 2:
        raise ValueError("x: a batch of one sample cannot be normalized")
    for v in (gamma, beta, mean, invstd):
        _need_vector(v, d)
    _need_matrix(out, n, d)
    _need_matrix(xhat, n, d)
    total = np.zeros(d)
    for r in range(n):
        for c in range(d):
            total[c] += x[r, c]
    for c in range(d):
        mean[c] = total[c] / n
    for r in range(n):
        for c in range(d):
            xhat[r, c] = x[r, c] - mean[c]
    _, squares = _column_sums(xhat, xhat)
    for c in range(d):
        invstd[c] = 1.0 / np.sqrt(squares[c] / n + eps)
    for r in range(n):
        for c in range(d):
            xhat[r, c] *= invstd[c]
            out[r, c] = gamma[c] * xhat[r, c] + beta[c]
    return out


@njit(cache=True)
def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    n, d = dout.shape
    _need_matrix(xhat, n, d)
    _need_matrix(dx, n, d)
    for v in (gamma, invstd, dgamma, dbeta):
        _need_vector(v, d)
    sum_g, sum_gx = _column_sums(dout, xhat)
    for c in range(d):
        dbeta[c] = sum_g[c]
        dgamma[c] = sum_gx[c]
    for r in range(n):
        for c in range(d):
            dx[r, c] = (gamma[c] * invstd[c] / n) * (n * dout[r, c] - sum_g[c]
                                                      - xhat[r, c] * sum_gx[c])
    return dx
