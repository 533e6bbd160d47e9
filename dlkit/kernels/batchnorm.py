"""Batch Normalization kernels (Numba), x (N, D), per-feature statistics over the batch.

Training forward (Ioffe & Szegedy 2015, Algorithm 1):

    mu     = (1/N) Σ_n x_n                       (D,)
    var    = (1/N) Σ_n (x_n − mu)²               (D,)   biased, as the paper and the book
    invstd = 1 / √(var + eps)                    (D,)
    xhat   = (x − mu) · invstd                   (N, D)
    out    = gamma · xhat + beta                 (N, D)

Backward, the compact form of the book's chain dxn → dvar → dmu → dx:

    dbeta  = Σ_n dout
    dgamma = Σ_n dout · xhat
    dx     = gamma · invstd / N · (N · dout − dbeta − xhat · dgamma)

Sums are accumulated in float64 whatever the array dtype (float32 or float64).
"""

import numpy as np
from numba import njit


@njit(cache=True)
def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    """Training-mode forward: writes out, xhat (N, D) and mean, invstd (D,); returns out."""
    N, D = x.shape
    s = np.zeros(D)
    for n in range(N):
        for d in range(D):
            s[d] += x[n, d]
    mu = s / N
    ss = np.zeros(D)
    for n in range(N):
        for d in range(D):
            c = x[n, d] - mu[d]
            ss[d] += c * c
    istd = 1.0 / np.sqrt(ss / N + eps)
    for d in range(D):
        mean[d] = mu[d]
        invstd[d] = istd[d]
    for n in range(N):
        for d in range(D):
            h = (x[n, d] - mu[d]) * istd[d]
            xhat[n, d] = h
            out[n, d] = gamma[d] * h + beta[d]
    return out


@njit(cache=True)
def batchnorm_running_update(running_mean, running_var, mean, invstd, eps, momentum):
    """In place: running = momentum · running + (1 − momentum) · batch.

    The batch variance is recovered from invstd: var = 1/invstd² − eps.
    """
    for d in range(running_mean.shape[0]):
        var = 1.0 / (invstd[d] * invstd[d]) - eps
        running_mean[d] = momentum * running_mean[d] + (1.0 - momentum) * mean[d]
        running_var[d] = momentum * running_var[d] + (1.0 - momentum) * var


@njit(cache=True)
def batchnorm_forward_infer(x, gamma, beta, running_mean, running_var, eps, out):
    """Inference forward: out = gamma · (x − running_mean) / √(running_var + eps) + beta."""
    N, D = x.shape
    istd = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
    for n in range(N):
        for d in range(D):
            out[n, d] = gamma[d] * ((x[n, d] - running_mean[d]) * istd[d]) + beta[d]
    return out


@njit(cache=True)
def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    """Backward: writes dx (N, D), dgamma, dbeta (D,); returns dx."""
    N, D = dout.shape
    sb = np.zeros(D)
    sg = np.zeros(D)
    for n in range(N):
        for d in range(D):
            g = dout[n, d]
            sb[d] += g
            sg[d] += g * xhat[n, d]
    for d in range(D):
        dbeta[d] = sb[d]
        dgamma[d] = sg[d]
    for n in range(N):
        for d in range(D):
            dx[n, d] = (gamma[d] * invstd[d] / N) * (N * dout[n, d] - sb[d] - xhat[n, d] * sg[d])
    return dx
