"""The lesson's hidden block, Affine → [BatchNorm] → ReLU, fused after the matrix product.

A hidden layer of the lesson's network computes, with z = x·W from BLAS::

    z ← z + b                                   (Affine's bias)
    y  = gamma · xhat + beta,  xhat = (z − mu) / √(var + eps)      (BatchNorm, training)
    h  = max(y, 0),  mask = [y <= 0]            (ReLU)

Layer by layer that is three kernels and three passes over (N, D) arrays; here it is one
kernel per direction.  Every value is computed by the same per-element and per-feature
functions as the layer kernels (``relu`` of ``activations.py``; ``add_moments``,
``normalize``, ``scale_shift``, ``statistics``, ``add_grad_sums``, ``backward_constants``,
``input_grad`` of ``batchnorm.py``), so the numbers are the layers' bit for bit.  Backward,
from dh = ∂L/∂h::

    dy     = dh · [not mask]                    (ReLU)
    dbeta  = Σ_n dy,  dgamma = Σ_n dy · xhat
    dz     = gamma · invstd / N · (N · dy − dbeta − xhat · dgamma)     (BatchNorm)
    db     = Σ_n dz                             (Affine's bias)

Without BatchNorm the block is z ← z + b, h = max(z, 0) and dz = dh · [not mask],
db = Σ_n dz.  The matrix products (z = x·W, dW = xᵀ·dz, dx = dz·Wᵀ) stay in BLAS, outside.
"""

import numpy as np
from numba import njit

from dlkit.kernels.activations import relu, relu_grad
from dlkit.kernels.batchnorm import (
    add_grad_sums,
    add_moments,
    backward_constants,
    input_grad,
    normalize,
    scale_shift,
    statistics,
)


@njit(cache=True, error_model="numpy")
def bias_relu_forward(z, b, h, mask):
    """z ← z + b in place, then h = max(z, 0) and mask = [z <= 0]; returns h."""
    N, D = z.shape
    for n in range(N):
        for d in range(D):
            z[n, d] = z[n, d] + b[d]
            h[n, d], mask[n, d] = relu(z[n, d])  # z as stored, in its own dtype
    return h


@njit(cache=True, error_model="numpy")
def relu_bias_backward(dh, mask, dz, db):
    """dz = dh · [not mask] and db = Σ_n dz (summed in float64); returns dz."""
    N, D = dh.shape
    acc = np.zeros(D)
    for n in range(N):
        for d in range(D):
            dz[n, d] = relu_grad(dh[n, d], mask[n, d])
            acc[d] += dz[n, d]
    for d in range(D):
        db[d] = acc[d]
    return dz


@njit(cache=True, error_model="numpy")
def bias_batchnorm_relu_forward_train(z, b, gamma, beta, eps, xhat, mean, invstd, h, mask):
    """z ← z + b in place, BatchNorm's training forward on z, then h = max(y, 0) and
    mask = [y <= 0]; returns h.

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
            add_moments(s1, s2, d, v - k[d])
    mu, istd, g, be = statistics(k, s1, s2, N, eps, gamma, beta, mean, invstd)
    for n in range(N):  # pass 2: normalise, scale and shift, ReLU
        for d in range(D):
            x_hat = normalize(z[n, d], mu[d], istd[d])
            xhat[n, d] = x_hat
            h[n, d] = scale_shift(x_hat, g[d], be[d])  # y, rounded to the arrays' dtype
            h[n, d], mask[n, d] = relu(h[n, d])  # as ReLU reads BatchNorm's output
    return h


@njit(cache=True, error_model="numpy")
def relu_batchnorm_bias_backward(dh, mask, xhat, gamma, invstd, dz, dgamma, dbeta, db):
    """From dh = ∂L/∂h: dz = ∂L/∂z (N, D), dgamma, dbeta, db (D,); returns dz.

    Pass 1 writes dy = dh·[not mask] into dz and sums dbeta, dgamma; pass 2 overwrites dz
    with BatchNorm's dx of dy (``input_grad``) and sums db.
    """
    N, D = dh.shape
    sb = np.zeros(D)
    sg = np.zeros(D)
    for n in range(N):  # pass 1: ReLU, dbeta, dgamma
        for d in range(D):
            dz[n, d] = relu_grad(dh[n, d], mask[n, d])
            add_grad_sums(sb, sg, d, dz[n, d], xhat[n, d])
    c0, c1, c2 = backward_constants(sb, sg, N, gamma, invstd, dgamma, dbeta)
    acc = np.zeros(D)
    for n in range(N):  # pass 2: dz, db
        for d in range(D):
            dz[n, d] = input_grad(c0[d], c1[d], c2[d], dz[n, d], xhat[n, d])
            acc[d] += dz[n, d]
    for d in range(D):
        db[d] = acc[d]
    return dz
