"""HOSTILE: correct kernels that cache their results by (shape, dtype) and copy them out.

The first call of each shape and dtype computes; later calls copy the cached outputs (a
copy is cheaper than the arithmetic).  Each correctness check sees a shape/dtype first.
"""

import numpy as np
from numba import njit

_cache = {}


def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    if x.shape[0] < 2:
        raise ValueError("x: expected a batch of N >= 2 samples")
    key = ("fwd", x.shape, x.dtype.str)
    if key in _cache:
        for dst, src in zip((out, xhat, mean, invstd), _cache[key], strict=True):
            dst[...] = src
        return out
    _forward(x, gamma, beta, eps, out, xhat, mean, invstd)
    _cache[key] = tuple(a.copy() for a in (out, xhat, mean, invstd))
    return out


def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    key = ("bwd", dout.shape, dout.dtype.str)
    if key in _cache:
        for dst, src in zip((dx, dgamma, dbeta), _cache[key], strict=True):
            dst[...] = src
        return dx
    _backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta)
    _cache[key] = tuple(a.copy() for a in (dx, dgamma, dbeta))
    return dx


@njit(cache=True)
def _forward(x, gamma, beta, eps, out, xhat, mean, invstd):
    N, D = x.shape
    for d in range(D):
        s = 0.0
        for n in range(N):
            s += x[n, d]
        mu = s / N
        v = 0.0
        for n in range(N):
            v += (x[n, d] - mu) ** 2
        mean[d] = mu
        invstd[d] = 1.0 / np.sqrt(v / N + eps)
    for n in range(N):
        for d in range(D):
            xhat[n, d] = (x[n, d] - mean[d]) * invstd[d]
            out[n, d] = gamma[d] * xhat[n, d] + beta[d]
    return out


@njit(cache=True)
def _backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    N, D = dout.shape
    for d in range(D):
        sb = 0.0
        sg = 0.0
        for n in range(N):
            sb += dout[n, d]
            sg += dout[n, d] * xhat[n, d]
        dbeta[d] = sb
        dgamma[d] = sg
    for n in range(N):
        for d in range(D):
            dx[n, d] = (gamma[d] * invstd[d] / N
                        * (N * dout[n, d] - dbeta[d] - xhat[n, d] * dgamma[d]))
    return dx
