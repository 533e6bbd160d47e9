"""Task 4 -- dlkit/kernels/batchnorm.py adapted: its helper functions pasted into the kernels."""

import numpy as np
from numba import njit


@njit(cache=True)
def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    N, D = x.shape
    k = np.empty(D)
    s1 = np.zeros(D)
    s2 = np.zeros(D)
    for d in range(D):
        k[d] = x[0, d]
    for n in range(N):  # pass 1: statistics
        for d in range(D):
            c = x[n, d] - k[d]
            s1[d] += c
            s2[d] += c * c
    mu = np.empty(D)
    istd = np.empty(D)
    for d in range(D):
        m1 = s1[d] / N
        var = max(s2[d] / N - m1 * m1, 0.0)
        mu[d] = k[d] + m1
        istd[d] = 1.0 / np.sqrt(var + eps)
        mean[d] = mu[d]
        invstd[d] = istd[d]
    for n in range(N):  # pass 2: normalise, scale and shift
        for d in range(D):
            h = (x[n, d] - mu[d]) * istd[d]
            xhat[n, d] = h
            out[n, d] = gamma[d] * h + beta[d]
    return out


@njit(cache=True)
def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    N, D = dout.shape
    sb = np.zeros(D)
    sg = np.zeros(D)
    for n in range(N):  # pass 1: dbeta, dgamma
        for d in range(D):
            sb[d] += dout[n, d]
            sg[d] += dout[n, d] * xhat[n, d]
    c0 = np.empty(D)
    c1 = np.empty(D)
    c2 = np.empty(D)
    for d in range(D):
        dbeta[d] = sb[d]
        dgamma[d] = sg[d]
        c1[d] = gamma[d] * invstd[d]
        c0[d] = -c1[d] * sb[d] / N
        c2[d] = -c1[d] * sg[d] / N
    for n in range(N):  # pass 2: dx
        for d in range(D):
            dx[n, d] = c1[d] * dout[n, d] + c0[d] + c2[d] * xhat[n, d]
    return dx
