"""HOSTILE: correct kernels that remember their last call.

Called again with the very same array objects (as a naive timing loop does), they return the
outputs of the previous call at once: a timing without varied inputs would see a huge
speed-up.  The correctness checks send new arrays every call, so those pass.
"""

import numpy as np
from numba import njit

_last = {}


def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    if x.shape[0] < 2:
        raise ValueError("x: expected a batch of N >= 2 samples")
    args = (x, gamma, beta, out, xhat, mean, invstd)
    prev = _last.get("fwd")
    if prev is not None and all(a is b for a, b in zip(args, prev, strict=True)):
        return out  # the arrays still hold the results of the last call
    _last["fwd"] = args
    return _forward(x, gamma, beta, eps, out, xhat, mean, invstd)


def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    args = (dout, xhat, gamma, invstd, dx, dgamma, dbeta)
    prev = _last.get("bwd")
    if prev is not None and all(a is b for a, b in zip(args, prev, strict=True)):
        return dx
    _last["bwd"] = args
    return _backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta)


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
