"""Batch Normalization kernels (Numba), x (N, D), per-feature statistics over the batch.

Training forward (Ioffe & Szegedy 2015, Algorithm 1):

    mu     = (1/N) Σ_n x_n                       (D,)
    var    = (1/N) Σ_n (x_n − mu)²               (D,)   biased, as the paper and the book
    invstd = 1 / √(var + eps)                    (D,)
    xhat   = (x − mu) · invstd                   (N, D)
    out    = gamma · xhat + beta                 (N, D)

Backward, the compact form of the book's chain dxn → dstd → dvar → dmu → dx:

    dbeta  = Σ_n dout
    dgamma = Σ_n dout · xhat
    dx     = gamma · invstd / N · (N · dout − dbeta − xhat · dgamma)

Each kernel makes two passes over its (N, D) inputs: one to sum over the batch, one to
write the result.  Sums are accumulated in float64 whatever the array dtype.  The loops
run over rows n outside and features d inside, so memory is read in order and the inner
loop is vectorised.  Serial on purpose: at the book's size (128 × 100) waking threads costs
more than the work, and large batches are limited by memory bandwidth, not by one core.

The per-element rules (``add_moments``, ``normalize``, ``scale_shift``, ``add_grad_sums``,
``input_grad``) and the per-feature ones (``statistics``, ``backward_constants``) are
functions of their own, which the fused kernels at the end of this module call too: both
compute every value by the same operations, so their numbers agree bit for bit.  Every
kernel that computes Batch Normalization is in this module (the fused ones too), so that
blocking this module - as the grader does where BatchNorm is the students' task - blocks
all of them.
"""

import numpy as np
from numba import njit

from dlkit.kernels.activations import relu, relu_grad


@njit(cache=True, inline="always")
def add_moments(s1, s2, d, c):
    """Feature d's shifted sums: s1[d] += c, s2[d] += c², with c = x − k."""
    s1[d] += c
    s2[d] += c * c


@njit(cache=True, inline="always")
def normalize(v, mu, istd):
    """xhat = (v − mu) · invstd."""
    return (v - mu) * istd


@njit(cache=True, inline="always")
def scale_shift(h, g, b):
    """out = gamma · xhat + beta."""
    return g * h + b


@njit(cache=True, inline="always")
def add_grad_sums(sb, sg, d, g, h):
    """Feature d's backward sums: dbeta (sb) += dout, dgamma (sg) += dout · xhat."""
    sb[d] += g
    sg[d] += g * h


@njit(cache=True, inline="always")
def input_grad(c0, c1, c2, g, h):
    """dx = c1 · dout + c0 + c2 · xhat (see ``backward_constants``)."""
    return c1 * g + c0 + c2 * h


@njit(cache=True, error_model="numpy")
def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    """Training-mode forward: writes out, xhat (N, D) and mean, invstd (D,); returns out.

    The statistics take one pass over x, shifted by its first row k = x[0] so that
    Σ(x − k)² does not cancel catastrophically when |mu| ≫ std (the plain E[x²] − mu² would):

        s1 = Σ_n (x_n − k),  s2 = Σ_n (x_n − k)²,  mu = k + s1/N,  var = s2/N − (s1/N)²
    """
    N, D = x.shape
    k = np.empty(D)
    s1 = np.zeros(D)
    s2 = np.zeros(D)
    for d in range(D):
        k[d] = x[0, d]
    for n in range(N):  # pass 1: statistics
        for d in range(D):
            add_moments(s1, s2, d, x[n, d] - k[d])
    mu, istd, g, b = statistics(k, s1, s2, N, eps, gamma, beta, mean, invstd)
    for n in range(N):  # pass 2: normalise, scale and shift
        for d in range(D):
            h = normalize(x[n, d], mu[d], istd[d])
            xhat[n, d] = h
            out[n, d] = scale_shift(h, g[d], b[d])
    return out


@njit(cache=True, error_model="numpy")
def batchnorm_running_update(running_mean, running_var, mean, invstd, eps, momentum):
    """In place: running = momentum · running + (1 − momentum) · batch; returns None.

    The batch variance is recovered from invstd: var = 1/invstd² − eps.
    """
    for d in range(running_mean.shape[0]):
        var = 1.0 / (invstd[d] * invstd[d]) - eps
        running_mean[d] = momentum * running_mean[d] + (1.0 - momentum) * mean[d]
        running_var[d] = momentum * running_var[d] + (1.0 - momentum) * var


@njit(cache=True, error_model="numpy")
def batchnorm_forward_infer(x, gamma, beta, running_mean, running_var, eps, out):
    """Inference forward: out = gamma · (x − running_mean) / √(running_var + eps) + beta."""
    N, D = x.shape
    mu = np.empty(D)
    istd = np.empty(D)
    g = np.empty(D)
    b = np.empty(D)
    for d in range(D):
        mu[d] = running_mean[d]
        istd[d] = 1.0 / np.sqrt(running_var[d] + eps)
        g[d] = gamma[d]
        b[d] = beta[d]
    for n in range(N):
        for d in range(D):
            out[n, d] = scale_shift(normalize(x[n, d], mu[d], istd[d]), g[d], b[d])
    return out


@njit(cache=True, error_model="numpy")
def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    """Backward: writes dx (N, D), dgamma, dbeta (D,); returns dx.

    Pass 1 sums dbeta and dgamma; pass 2 writes dx = c1·dout + c0 + c2·xhat with the
    per-feature constants c1 = gamma·invstd, c0 = −c1·dbeta/N, c2 = −c1·dgamma/N
    (the formula above, multiplied out).
    """
    N, D = dout.shape
    sb = np.zeros(D)
    sg = np.zeros(D)
    for n in range(N):  # pass 1: dbeta, dgamma
        for d in range(D):
            add_grad_sums(sb, sg, d, dout[n, d], xhat[n, d])
    c0, c1, c2 = backward_constants(sb, sg, N, gamma, invstd, dgamma, dbeta)
    for n in range(N):  # pass 2: dx
        for d in range(D):
            dx[n, d] = input_grad(c0[d], c1[d], c2[d], dout[n, d], xhat[n, d])
    return dx


@njit(cache=True, error_model="numpy")
def statistics(k, s1, s2, N, eps, gamma, beta, mean, invstd):
    """From the shifted sums s1 = Σ(x − k), s2 = Σ(x − k)² over N rows: writes mean and invstd
    (D,) and returns float64 copies (mu, invstd, gamma, beta) for the normalising pass."""
    D = k.shape[0]
    mu = np.empty(D)
    istd = np.empty(D)
    g = np.empty(D)
    b = np.empty(D)
    for d in range(D):
        m1 = s1[d] / N
        var = max(s2[d] / N - m1 * m1, 0.0)
        mu[d] = k[d] + m1
        istd[d] = 1.0 / np.sqrt(var + eps)
        mean[d] = mu[d]
        invstd[d] = istd[d]
        g[d] = gamma[d]
        b[d] = beta[d]
    return mu, istd, g, b


@njit(cache=True, error_model="numpy")
def backward_constants(sb, sg, N, gamma, invstd, dgamma, dbeta):
    """From sb = Σ dout and sg = Σ dout·xhat: writes dbeta, dgamma (D,) and returns the
    per-feature constants (c0, c1, c2) of dx = c1·dout + c0 + c2·xhat."""
    D = sb.shape[0]
    c0 = np.empty(D)
    c1 = np.empty(D)
    c2 = np.empty(D)
    for d in range(D):
        dbeta[d] = sb[d]
        dgamma[d] = sg[d]
        c1[d] = gamma[d] * invstd[d]
        c0[d] = -c1[d] * sb[d] / N
        c2[d] = -c1[d] * sg[d] / N
    return c0, c1, c2


# ---------------------------------------------------------------- fused with Affine's bias and ReLU
# The hidden block of the lesson's network with BatchNorm (see dlkit/kernels/blocks.py):
# z ← z + b, BatchNorm's training forward, ReLU; and back.  Every value comes from the same
# functions as in the kernels above and the ReLU kernels, so the numbers agree bit for bit.


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
