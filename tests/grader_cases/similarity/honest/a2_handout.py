"""Task 2 -- written from the stub's docstrings, in their order."""

import numpy as np


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        if gamma.ndim != 1 or beta.ndim != 1:
            raise ValueError(f"gamma, beta: expected 1-D, got {gamma.shape}, {beta.shape}")
        if gamma.shape != beta.shape:
            raise ValueError(f"gamma, beta: expected the same shape, got {gamma.shape}, "
                             f"{beta.shape}")
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.running_mean = running_mean
        self.running_var = running_var
        self.eps = eps
        self.dgamma = None
        self.dbeta = None
        self.xhat = None
        self.var = None

    def forward(self, x, train_flg=True):
        D = self.gamma.shape[0]
        if x.ndim != 2 or x.shape[1] != D:
            raise ValueError(f"x: expected shape (N, {D}), got {x.shape}")
        if self.running_mean is None:
            self.running_mean = np.zeros(D)
        if self.running_var is None:
            self.running_var = np.zeros(D)
        if train_flg:
            N = x.shape[0]
            if N < 2:
                raise ValueError(f"x: expected N >= 2 in training mode, got N = {N}")
            mu = np.mean(x, axis=0)
            var = np.mean((x - mu) ** 2, axis=0)
            xhat = (x - mu) / np.sqrt(var + self.eps)
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
            self.xhat = xhat
            self.var = var
        else:
            xhat = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return self.gamma * xhat + self.beta

    def backward(self, dout):
        if self.xhat is None:
            raise RuntimeError("backward: expected a training-mode forward before, got none")
        if dout.shape != self.xhat.shape:
            raise ValueError(f"dout: expected shape {self.xhat.shape}, got {dout.shape}")
        N = dout.shape[0]
        self.dbeta = np.sum(dout, axis=0)
        self.dgamma = np.sum(dout * self.xhat, axis=0)
        dx = self.gamma / (N * np.sqrt(self.var + self.eps)) * (
            N * dout - self.dbeta - self.xhat * self.dgamma)
        return dx
