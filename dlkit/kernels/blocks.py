"""The lesson's hidden block, Affine → [BatchNorm] → ReLU, fused after the matrix product.

A hidden layer of the lesson's network computes, with z = x·W from BLAS::

    z ← z + b                                   (Affine's bias)
    y  = gamma · xhat + beta,  xhat = (z − mu) / √(var + eps)      (BatchNorm, training)
    h  = max(y, 0)                              (ReLU)

Layer by layer that is three kernels and three passes over (N, D) arrays; here it is one
kernel per direction that gives the same numbers bit for bit (each value is computed by
the same operations in the same order as in ``affine.py``, ``batchnorm.py`` and
``activations.py``; ``tests/test_kernels.py`` checks it).  Backward, from dh = ∂L/∂h::

    dy     = dh · [h > 0]                       (ReLU)
    dbeta  = Σ_n dy,  dgamma = Σ_n dy · xhat
    dz     = gamma · invstd / N · (N · dy − dbeta − xhat · dgamma)     (BatchNorm)
    db     = Σ_n dz                             (Affine's bias)

Without BatchNorm the block is z ← z + b, h = max(z, 0) and dz = dh · [h > 0], db = Σ_n dz.
The matrix products (z = x·W, dW = xᵀ·dz, dx = dz·Wᵀ) stay in BLAS, outside the kernels.
"""

import numpy as np
from numba import njit

from dlkit.kernels.batchnorm import _backward_constants, _statistics


@njit(cache=True, error_model="numpy")
def bias_relu_forward(z, b, h):
    """z ← z + b in place, then h = max(z, 0); returns h.  z, h (N, D), b (D,)."""
    N, D = z.shape
    for n in range(N):
        for d in range(D):
            v = z[n, d] + b[d]
            z[n, d] = v
            h[n, d] = 0.0 if v <= 0.0 else v
    return h


@njit(cache=True, error_model="numpy")
def relu_bias_backward(dh, h, dz, db):
    """dz = dh · [h > 0] and db = Σ_n dz (summed in float64); returns dz."""
    N, D = dh.shape
    acc = np.zeros(D)
    for n in range(N):
        for d in range(D):
            dz[n, d] = dh[n, d] if h[n, d] > 0.0 else 0.0
            acc[d] += dz[n, d]
    for d in range(D):
        db[d] = acc[d]
    return dz


@njit(cache=True, error_model="numpy")
def bias_batchnorm_relu_forward_train(z, b, gamma, beta, eps, xhat, mean, invstd, h):
    """z ← z + b in place, BatchNorm's training forward on z, then h = max(y, 0); returns h.

    Writes xhat (N, D), mean and invstd (D,) as ``batchnorm_forward_train`` does (the same
    shifted one-pass statistics, see there); y = gamma·xhat + beta is not stored.
    """
    N, D = z.shape
    k = np.empty(D)
    s1 = np.zeros(D)
    s2 = np.zeros(D)
    for d in range(D):
        k[d] = z[0, d] + b[d]
    for n in range(N):  # pass 1: bias, statistics
        for d in range(D):
            v = z[n, d] + b[d]
            z[n, d] = v
            c = v - k[d]
            s1[d] += c
            s2[d] += c * c
    mu, istd, g, be = _statistics(k, s1, s2, N, eps, gamma, beta, mean, invstd)
    for n in range(N):  # pass 2: normalise, scale and shift, ReLU
        for d in range(D):
            x_hat = (z[n, d] - mu[d]) * istd[d]
            xhat[n, d] = x_hat
            y = g[d] * x_hat + be[d]
            h[n, d] = 0.0 if y <= 0.0 else y
    return h


@njit(cache=True, error_model="numpy")
def relu_batchnorm_bias_backward(dh, h, xhat, gamma, invstd, dz, dgamma, dbeta, db):
    """From dh = ∂L/∂h: dz = ∂L/∂z (N, D), dgamma, dbeta, db (D,); returns dz.

    Pass 1 writes dy = dh·[h > 0] into dz and sums dbeta, dgamma; pass 2 overwrites dz with
    c1·dy + c0 + c2·xhat (the constants of ``batchnorm_backward``) and sums db.
    """
    N, D = dh.shape
    sb = np.zeros(D)
    sg = np.zeros(D)
    for n in range(N):  # pass 1: ReLU, dbeta, dgamma
        for d in range(D):
            dz[n, d] = dh[n, d] if h[n, d] > 0.0 else 0.0
            dy = dz[n, d]
            sb[d] += dy
            sg[d] += dy * xhat[n, d]
    c0, c1, c2 = _backward_constants(sb, sg, N, gamma, invstd, dgamma, dbeta)
    acc = np.zeros(D)
    for n in range(N):  # pass 2: dz, db
        for d in range(D):
            dz[n, d] = c1[d] * dz[n, d] + c0[d] + c2[d] * xhat[n, d]
            acc[d] += dz[n, d]
    for d in range(D):
        db[d] = acc[d]
    return dz
