"""Task 2 -- backward node by node through the computational graph (Figure 6-17)."""

import numpy as np


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        gamma = np.asarray(gamma, dtype=float)
        beta = np.asarray(beta, dtype=float)
        if gamma.ndim != 1:
            raise ValueError("gamma: expected (D,), got %s" % (gamma.shape,))
        if beta.shape != gamma.shape:
            raise ValueError("beta: expected %s, got %s" % (gamma.shape, beta.shape))
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.running_mean = running_mean
        self.running_var = running_var
        self.eps = eps
        self.dgamma = None
        self.dbeta = None
        self._saved = None

    def forward(self, x, train_flg=True):
        x = np.asarray(x, dtype=float)
        D = self.gamma.size
        if x.ndim != 2:
            raise ValueError("x: expected 2 dimensions, got %d" % x.ndim)
        if x.shape[1] != D:
            raise ValueError("x: expected %d columns, got %d" % (D, x.shape[1]))
        if self.running_mean is None:
            self.running_mean = np.zeros(D)
        if self.running_var is None:
            self.running_var = np.zeros(D)
        if not train_flg:
            centered = x - self.running_mean
            sigma = np.sqrt(self.running_var + self.eps)
            return self.gamma * (centered / sigma) + self.beta
        batch = x.shape[0]
        if batch < 2:
            raise ValueError("x: training needs N >= 2, got N = %d" % batch)
        mean = x.sum(axis=0) / batch
        centered = x - mean
        squared = centered ** 2
        variance = squared.sum(axis=0) / batch
        sigma = np.sqrt(variance + self.eps)
        inverse = 1.0 / sigma
        normalized = centered * inverse
        self.running_mean = self.momentum * self.running_mean + (1.0 - self.momentum) * mean
        self.running_var = self.momentum * self.running_var + (1.0 - self.momentum) * variance
        self._saved = (centered, sigma, inverse, normalized)
        return self.gamma * normalized + self.beta

    def backward(self, dout):
        if self._saved is None:
            raise RuntimeError("backward before any training forward")
        centered, sigma, inverse, normalized = self._saved
        dout = np.asarray(dout, dtype=float)
        if dout.shape != centered.shape:
            raise ValueError("dout: expected %s, got %s" % (centered.shape, dout.shape))
        batch = dout.shape[0]
        self.dbeta = np.sum(dout, axis=0)
        self.dgamma = np.sum(normalized * dout, axis=0)
        d_normalized = self.gamma * dout
        d_inverse = np.sum(d_normalized * centered, axis=0)
        d_centered = d_normalized * inverse
        d_sigma = -d_inverse / sigma ** 2
        d_variance = 0.5 * d_sigma / sigma
        d_squared = np.ones_like(centered) * d_variance / batch
        d_centered = d_centered + 2.0 * centered * d_squared
        d_mean = -np.sum(d_centered, axis=0)
        return d_centered + d_mean / batch
