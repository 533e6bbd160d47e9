"""a4 (grader test case): the model answer's kernels, but one does not return its output.

THE MISTAKE: batchnorm_forward_train writes every output array right but does not return out.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    """Training-mode forward: writes out, xhat (N, D) and mean, invstd (D,); returns out."""
    N, D = x.shape
    if N < 2:
        raise ValueError("x: expected a batch of N >= 2 samples (the variance of one sample "
                         "is 0), got N =", N)
    if gamma.shape != (D,) or beta.shape != (D,) or mean.shape != (D,) or invstd.shape != (D,):
        raise ValueError("gamma, beta, mean, invstd: expected shape (D,) with D =", D,
                         "got", (gamma.shape, beta.shape, mean.shape, invstd.shape))
    if out.shape != (N, D) or xhat.shape != (N, D):
        raise ValueError("out, xhat: expected the shape of x", (N, D),
                         "got", (out.shape, xhat.shape))

    # Pass 1: mean.
    mu = np.zeros(D)
    for n in range(N):
        for d in range(D):
            mu[d] += x[n, d]
    mu /= N

    # Pass 2: biased variance, then invstd.  (Two passes: Σ(x − mean)² is exact enough,
    # whereas Σx²/N − mean² can lose all digits when |mean| >> std.)
    var = np.zeros(D)
    for n in range(N):
        for d in range(D):
            c = x[n, d] - mu[d]
            var[d] += c * c
    for d in range(D):
        mean[d] = mu[d]
        invstd[d] = 1.0 / np.sqrt(var[d] / N + eps)

    # Pass 3: normalize, scale and shift.
    for n in range(N):
        for d in range(D):
            h = (x[n, d] - mu[d]) * invstd[d]
            xhat[n, d] = h
            out[n, d] = gamma[d] * h + beta[d]
    # BUG: no `return out` (the arrays are written right)


@njit(cache=True)
def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    """Backward: writes dx (N, D) and dgamma, dbeta (D,); returns dx."""
    N, D = dout.shape
    if xhat.shape != (N, D) or dx.shape != (N, D):
        raise ValueError("xhat, dx: expected the shape of dout", (N, D),
                         "got", (xhat.shape, dx.shape))
    if gamma.shape != (D,) or invstd.shape != (D,) or dgamma.shape != (D,) or dbeta.shape != (D,):
        raise ValueError("gamma, invstd, dgamma, dbeta: expected shape (D,) with D =", D,
                         "got", (gamma.shape, invstd.shape, dgamma.shape, dbeta.shape))

    # Pass 1: the two sums over the batch.
    sum_dout = np.zeros(D)
    sum_dout_xhat = np.zeros(D)
    for n in range(N):
        for d in range(D):
            g = dout[n, d]
            sum_dout[d] += g
            sum_dout_xhat[d] += g * xhat[n, d]

    scale = np.empty(D)  # gamma · invstd / N, once per feature instead of once per number
    for d in range(D):
        dbeta[d] = sum_dout[d]
        dgamma[d] = sum_dout_xhat[d]
        scale[d] = gamma[d] * invstd[d] / N

    # Pass 2: dx.
    for n in range(N):
        for d in range(D):
            dx[n, d] = scale[d] * (N * dout[n, d] - sum_dout[d] - xhat[n, d] * sum_dout_xhat[d])
    return dx
