"""The book's ``common/layers.py`` in plain NumPy: one small class per layer.

This is the readable baseline: formula for formula as "Deep Learning from Scratch" writes
it (BatchNormalization's backward goes through dxn, dstd, dvar, dmu step by step).  Tests
compare the Numba kernels against it and the benchmarks time it.  No input validation.

Differences from the book, all deliberate and small:

* ``BatchNormalization`` takes ``eps`` (default the book's 1e-6, which it writes ``10e-7``).
* ``SoftmaxWithLoss`` computes log-softmax stably (``x − max − log Σ exp``) instead of
  ``log(y + 1e-7)`` (``SoftmaxWithLoss(eps=1e-7)`` gives the book's value), and
  ``backward(dout)`` scales by ``dout`` (the book ignores it).
* ``Dropout`` draws its mask from a ``numpy.random.Generator`` (``rng``), not ``np.random``.
* ``Relu.backward`` does not overwrite the ``dout`` it is given.
"""

import numpy as np


class Relu:
    """out = max(x, 0);  dx = dout where x > 0, else 0."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx


class Sigmoid:
    """out = 1 / (1 + exp(−x));  dx = dout · (1 − out) · out."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Tanh:
    """out = tanh(x);  dx = dout · (1 − out²)."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out**2)


class Affine:
    """out = x·W + b;  dx = dout·Wᵀ, dW = xᵀ·dout, db = Σ_n dout.  x may be (N, ...) (flattened)."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


def softmax(x):
    """y_n = exp(x_n − max x_n) / Σ exp(x_n − max x_n), row by row."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(x, t):
    """Mean cross-entropy of softmax(x) against labels t (int (N,) or one-hot (N, C)).

    log y = x − max − log Σ exp(x − max), so no log(0) and no +1e-7 is needed.
    """
    z = x - np.max(x, axis=1, keepdims=True)
    log_y = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    batch_size = x.shape[0]
    if t.size == x.size:  # one-hot labels
        return -np.sum(t * log_y) / batch_size
    return -np.sum(log_y[np.arange(batch_size), t]) / batch_size


class SoftmaxWithLoss:
    """loss = mean cross-entropy of softmax(x);  dx = dout · (y − t) / N.

    ``eps`` > 0: the book's loss −(1/N) Σ log(y[t] + eps) (its ``eps`` is 1e-7) instead of
    the exact one.
    """

    def __init__(self, eps=0.0):
        self.eps = eps
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        if self.eps:
            index = t.argmax(axis=1) if t.size == self.y.size else t
            batch_size = x.shape[0]
            self.loss = -np.sum(np.log(self.y[np.arange(batch_size), index] + self.eps))
            self.loss /= batch_size
        else:
            self.loss = cross_entropy_error(x, t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:  # one-hot labels
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        return dx * dout


class Dropout:
    """Training: out = x · mask, mask = U(0,1) > dropout_ratio;  inference: x · (1 − ratio)."""

    def __init__(self, dropout_ratio=0.5, rng=None):
        self.dropout_ratio = dropout_ratio
        self.rng = np.random.default_rng(rng)
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = self.rng.random(x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class BatchNormalization:
    """Batch Normalization (Ioffe & Szegedy 2015), http://arxiv.org/abs/1502.03167.

    Training: mu = mean(x), var = mean((x − mu)²), xn = (x − mu)/√(var + eps),
    out = gamma·xn + beta, running = momentum·running + (1 − momentum)·batch.
    Inference: the running mean and variance replace mu and var.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-6):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.eps = eps
        self.input_shape = None  # 4-D for a convolution layer, 2-D for a fully connected one

        # used at inference
        self.running_mean = running_mean
        self.running_var = running_var

        # used by backward
        self.batch_size = None
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        self.input_shape = x.shape
        if x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        out = self.__forward(x, train_flg)
        return out.reshape(*self.input_shape)

    def __forward(self, x, train_flg):
        if self.running_mean is None:
            N, D = x.shape
            self.running_mean = np.zeros(D, dtype=x.dtype)
            self.running_var = np.zeros(D, dtype=x.dtype)

        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            std = np.sqrt(var + self.eps)
            xn = xc / std

            self.batch_size = x.shape[0]
            self.xc = xc
            self.xn = xn
            self.std = std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            xn = xc / (np.sqrt(self.running_var + self.eps))

        out = self.gamma * xn + self.beta
        return out

    def backward(self, dout):
        if dout.ndim != 2:
            dout = dout.reshape(dout.shape[0], -1)
        dx = self.__backward(dout)
        dx = dx.reshape(*self.input_shape)
        return dx

    def __backward(self, dout):
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size

        self.dgamma = dgamma
        self.dbeta = dbeta
        return dx
