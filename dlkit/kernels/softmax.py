"""Softmax + cross-entropy kernels (Numba), numerically stable.

x (N, C) scores, y (N, C) softmax written by forward.  With labels t:

    y_nc = exp(x_nc − max_c x_n) / Σ_c' exp(x_nc' − max_c x_n)
    loss = (1/N) Σ_n (logsumexp(x_n) − x_n[t_n])            integer labels t (N,)
    loss = (1/N) Σ_n Σ_c t_nc (logsumexp(x_n) − x_nc)        one-hot (or soft) labels t (N, C)
    dx   = (y − onehot(t)) / N                                 gradient of the mean loss

No ``+1e-7`` inside the log (the book's guard) is needed: logsumexp never takes log(0).
The loss is accumulated in float64 and returned as a Python float.
"""

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def _softmax_row(x, y, n):
    """Write softmax of row n of x into y; return logsumexp(x[n]) (float64)."""
    C = x.shape[1]
    m = x[n, 0]
    for c in range(1, C):
        if x[n, c] > m:
            m = x[n, c]
    s = 0.0
    for c in range(C):
        e = np.exp(x[n, c] - m)
        y[n, c] = e
        s += e
    inv = 1.0 / s
    for c in range(C):
        y[n, c] *= inv
    return m + np.log(s)


@njit(cache=True, error_model="numpy")
def softmax_cross_entropy_forward(x, t, y):
    """Softmax into y, return loss = mean_n (logsumexp(x_n) − x_n[t_n]); t int (N,)."""
    N = x.shape[0]
    loss = 0.0
    for n in range(N):
        lse = _softmax_row(x, y, n)
        loss += lse - x[n, t[n]]
    return loss / N


@njit(cache=True, error_model="numpy")
def softmax_cross_entropy_forward_onehot(x, t, y):
    """Softmax into y, return loss = mean_n Σ_c t_nc (logsumexp(x_n) − x_nc); t (N, C)."""
    N, C = x.shape
    loss = 0.0
    for n in range(N):
        lse = _softmax_row(x, y, n)
        for c in range(C):
            if t[n, c] != 0.0:
                loss += t[n, c] * (lse - x[n, c])
    return loss / N


@njit(cache=True, error_model="numpy")
def softmax_cross_entropy_backward(y, t, dx):
    """dx = (y − onehot(t)) / N; t int (N,)."""
    N, C = y.shape
    inv_n = 1.0 / N
    for n in range(N):
        for c in range(C):
            dx[n, c] = y[n, c] * inv_n
        dx[n, t[n]] -= inv_n
    return dx


@njit(cache=True, error_model="numpy")
def softmax_cross_entropy_backward_onehot(y, t, dx):
    """dx = (y − t) / N; t (N, C)."""
    N, C = y.shape
    inv_n = 1.0 / N
    for n in range(N):
        for c in range(C):
            dx[n, c] = (y[n, c] - t[n, c]) * inv_n
    return dx
