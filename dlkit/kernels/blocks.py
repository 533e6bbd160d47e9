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
db = Σ_n dz: those two kernels are here.  The two with BatchNorm
(``bias_batchnorm_relu_forward_train``, ``relu_batchnorm_bias_backward``) live in
``batchnorm.py`` with the rest of Batch Normalization, so that whatever blocks that module
(the grader, where BatchNorm is the students' task) blocks every kernel that computes it.
The matrix products (z = x·W, dW = xᵀ·dz, dx = dz·Wᵀ) stay in BLAS, outside the kernels.
"""

import numpy as np
from numba import njit

from dlkit.kernels.activations import relu, relu_grad


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
