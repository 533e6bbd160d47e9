"""Task 4 -- written from the stub's docstrings, in their order."""

import numpy as np
from numba import njit


@njit(cache=True)
def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    N, D = x.shape
    if N < 2:
        raise ValueError("x: expected N >= 2, got " + str(N))
    if gamma.shape[0] != D or beta.shape[0] != D or mean.shape[0] != D or invstd.shape[0] != D:
        raise ValueError("gamma, beta, mean, invstd: expected shape (D,)")
    if out.shape[0] != N or out.shape[1] != D or xhat.shape[0] != N or xhat.shape[1] != D:
        raise ValueError("out, xhat: expected shape (N, D)")
    total = np.zeros(D)
    for n in range(N):
        for d in range(D):
            total[d] += x[n, d]
    for d in range(D):
        mean[d] = total[d] / N
    var = np.zeros(D)
    for n in range(N):
        for d in range(D):
            diff = x[n, d] - mean[d]
            var[d] += diff * diff
    for d in range(D):
        invstd[d] = 1 / np.sqrt(var[d] / N + eps)
    for n in range(N):
        for d in range(D):
            xhat[n, d] = (x[n, d] - mean[d]) * invstd[d]
            out[n, d] = gamma[d] * xhat[n, d] + beta[d]
    return out


@njit(cache=True)
def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    N, D = dout.shape
    if xhat.shape[0] != N or xhat.shape[1] != D or dx.shape[0] != N or dx.shape[1] != D:
        raise ValueError("xhat, dx: expected the shape of dout")
    if (gamma.shape[0] != D or invstd.shape[0] != D or dgamma.shape[0] != D
            or dbeta.shape[0] != D):
        raise ValueError("gamma, invstd, dgamma, dbeta: expected shape (D,)")
    sum_dout = np.zeros(D)
    sum_dout_xhat = np.zeros(D)
    for n in range(N):
        for d in range(D):
            sum_dout[d] += dout[n, d]
            sum_dout_xhat[d] += dout[n, d] * xhat[n, d]
    for d in range(D):
        dbeta[d] = sum_dout[d]
        dgamma[d] = sum_dout_xhat[d]
    for n in range(N):
        for d in range(D):
            dx[n, d] = gamma[d] * invstd[d] / N * (N * dout[n, d] - sum_dout[d]
                                                   - xhat[n, d] * sum_dout_xhat[d])
    return dx
