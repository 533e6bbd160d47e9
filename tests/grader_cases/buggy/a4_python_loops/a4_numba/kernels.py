"""a4 (grader test case): Batch Normalization kernels compiled with Numba.

THE MISTAKE: correct, but plain Python loops: no @njit, so it is far slower than NumPy.
"""

import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    """mean, invstd = 1/√(var + eps), xhat = (x − mean)·invstd, out = gamma·xhat + beta."""
    N, D = x.shape
    if N < 2:
        raise ValueError("x: expected a batch of N >= 2 samples")
    for d in range(D):
        mean[d] = 0.0
    for n in range(N):
        for d in range(D):
            mean[d] += x[n, d]
    for d in range(D):
        mean[d] /= N
    var = np.zeros(D)
    for n in range(N):
        for d in range(D):
            c = x[n, d] - mean[d]
            var[d] += c * c
    for d in range(D):
        invstd[d] = 1.0 / np.sqrt(var[d] / N + eps)
    for n in range(N):
        for d in range(D):
            xhat[n, d] = (x[n, d] - mean[d]) * invstd[d]
            out[n, d] = gamma[d] * xhat[n, d] + beta[d]
    return out


def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    """dbeta = Σ dout, dgamma = Σ dout·xhat, dx = gamma·invstd/N·(N·dout − dbeta − xhat·dgamma)."""
    N, D = dout.shape
    for d in range(D):
        dbeta[d] = 0.0
        dgamma[d] = 0.0
    for n in range(N):
        for d in range(D):
            dbeta[d] += dout[n, d]
            dgamma[d] += dout[n, d] * xhat[n, d]
    for n in range(N):
        for d in range(D):
            dx[n, d] = gamma[d] * invstd[d] / N * (N * dout[n, d] - dbeta[d] - xhat[n, d] * dgamma[d])
    return dx
