"""Task 4 -- Welford's running mean and variance, one pass for the statistics."""

import numpy as np
from numba import njit


@njit(cache=True)
def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    rows, cols = x.shape
    if rows < 2:
        raise ValueError("x: need at least two rows")
    if gamma.shape[0] != cols or beta.shape[0] != cols:
        raise ValueError("gamma/beta: length must equal the number of columns of x")
    if mean.shape[0] != cols or invstd.shape[0] != cols:
        raise ValueError("mean/invstd: length must equal the number of columns of x")
    if out.shape != x.shape or xhat.shape != x.shape:
        raise ValueError("out/xhat: must have the shape of x")
    avg = np.zeros(cols)
    m2 = np.zeros(cols)
    for i in range(rows):
        w = 1.0 / (i + 1)
        for j in range(cols):
            delta = x[i, j] - avg[j]
            avg[j] += delta * w
            m2[j] += delta * (x[i, j] - avg[j])
    for j in range(cols):
        mean[j] = avg[j]
        invstd[j] = (m2[j] / rows + eps) ** -0.5
    for i in range(rows):
        for j in range(cols):
            z = (x[i, j] - avg[j]) * invstd[j]
            xhat[i, j] = z
            out[i, j] = z * gamma[j] + beta[j]
    return out


@njit(cache=True)
def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    rows, cols = dout.shape
    if xhat.shape != dout.shape or dx.shape != dout.shape:
        raise ValueError("xhat/dx: must have the shape of dout")
    if (gamma.shape[0] != cols or invstd.shape[0] != cols or dgamma.shape[0] != cols
            or dbeta.shape[0] != cols):
        raise ValueError("gamma/invstd/dgamma/dbeta: length must equal the columns of dout")
    acc_b = np.zeros(cols)
    acc_g = np.zeros(cols)
    for i in range(rows):
        for j in range(cols):
            acc_b[j] += dout[i, j]
            acc_g[j] += dout[i, j] * xhat[i, j]
    for j in range(cols):
        dbeta[j] = acc_b[j]
        dgamma[j] = acc_g[j]
    inv_rows = 1.0 / rows
    for i in range(rows):
        for j in range(cols):
            k = gamma[j] * invstd[j]
            dx[i, j] = k * (dout[i, j] - (acc_b[j] + xhat[i, j] * acc_g[j]) * inv_rows)
    return dx
