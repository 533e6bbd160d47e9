"""Task 2 -- the maths in plain functions, the class only holds the state."""

import numpy as np


def batch_statistics(x):
    """Per-feature mean and biased variance of x (N, D)."""
    mu = x.mean(axis=0)
    return mu, ((x - mu) ** 2).mean(axis=0)


def normalize(x, mu, var, eps):
    return (x - mu) / np.sqrt(var + eps)


def moving_average(old, new, momentum):
    return momentum * old + (1 - momentum) * new


def input_gradient(dxhat, xhat, std):
    """dL/dx from dL/dxhat for xhat = (x - mean) / std over the batch."""
    return (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        if len(np.shape(gamma)) != 1 or np.shape(beta) != np.shape(gamma):
            raise ValueError("gamma and beta must be 1-D of one shape; got "
                             + str(np.shape(gamma)) + " and " + str(np.shape(beta)))
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.running_mean = running_mean
        self.running_var = running_var
        self.eps = eps
        self.dgamma = None
        self.dbeta = None
        self.last = None

    def _shape_ok(self, x):
        if np.ndim(x) != 2 or np.shape(x)[1] != np.shape(self.gamma)[0]:
            raise ValueError("x must have shape (N, " + str(np.shape(self.gamma)[0])
                             + "), not " + str(np.shape(x)))

    def forward(self, x, train_flg=True):
        self._shape_ok(x)
        zeros = np.zeros(np.shape(self.gamma))
        if self.running_mean is None:
            self.running_mean = zeros.copy()
        if self.running_var is None:
            self.running_var = zeros.copy()
        if train_flg:
            if np.shape(x)[0] < 2:
                raise ValueError("one sample is not a batch: N must be >= 2")
            mu, var = batch_statistics(x)
            xhat = normalize(x, mu, var, self.eps)
            self.running_mean = moving_average(self.running_mean, mu, self.momentum)
            self.running_var = moving_average(self.running_var, var, self.momentum)
            self.last = (xhat, np.sqrt(var + self.eps))
        else:
            xhat = normalize(x, self.running_mean, self.running_var, self.eps)
        return self.gamma * xhat + self.beta

    def backward(self, dout):
        if self.last is None:
            raise RuntimeError("no training-mode forward to go back through")
        xhat, std = self.last
        if np.shape(dout) != np.shape(xhat):
            raise ValueError("dout must have shape " + str(np.shape(xhat)))
        self.dbeta = np.sum(dout, axis=0)
        self.dgamma = np.sum(dout * xhat, axis=0)
        return input_gradient(self.gamma * dout, xhat, std)
