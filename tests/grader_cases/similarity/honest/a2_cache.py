"""Task 2 -- forward keeps a cache tuple for backward (the CS231n way)."""

import numpy as np


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        if np.ndim(gamma) != 1 or np.ndim(beta) != 1:
            raise ValueError(f"gamma and beta must be vectors, got {np.shape(gamma)}, "
                             f"{np.shape(beta)}")
        if np.shape(gamma) != np.shape(beta):
            raise ValueError(f"gamma {np.shape(gamma)} and beta {np.shape(beta)} differ")
        self.gamma, self.beta = gamma, beta
        self.momentum, self.eps = momentum, eps
        self.running_mean, self.running_var = running_mean, running_var
        self.cache = None
        self.dgamma = self.dbeta = None

    def forward(self, x, train_flg=True):
        features = len(self.gamma)
        if np.ndim(x) != 2 or np.shape(x)[1] != features:
            raise ValueError(f"x should be (N, {features}), got {np.shape(x)}")
        if self.running_mean is None:
            self.running_mean = np.zeros(features)
            self.running_var = np.zeros(features)
        if train_flg:
            if len(x) < 2:
                raise ValueError(f"training needs at least 2 samples, got {len(x)}")
            sample_mean = np.mean(x, axis=0, keepdims=True)
            sample_var = np.var(x, axis=0, keepdims=True)
            inv_sigma = 1.0 / np.sqrt(sample_var + self.eps)
            x_norm = (x - sample_mean) * inv_sigma
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * sample_mean[0]
            self.running_var = m * self.running_var + (1 - m) * sample_var[0]
            self.cache = (x_norm, inv_sigma)
        else:
            x_norm = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return x_norm * self.gamma + self.beta

    def backward(self, dout):
        if self.cache is None:
            raise RuntimeError("call forward(x, train_flg=True) before backward")
        x_norm, inv_sigma = self.cache
        if np.shape(dout) != x_norm.shape:
            raise ValueError(f"dout should be {x_norm.shape}, got {np.shape(dout)}")
        m = dout.shape[0]
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (dout * x_norm).sum(axis=0)
        dx_norm = dout * self.gamma
        dx = inv_sigma / m * (m * dx_norm - dx_norm.sum(axis=0)
                              - x_norm * (dx_norm * x_norm).sum(axis=0))
        return dx
