"""Task 2 -- one training step's arithmetic written with einsum and explicit sums."""

import numpy as np


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        g, b = np.asarray(gamma), np.asarray(beta)
        problems = []
        if g.ndim != 1:
            problems.append(f"gamma is {g.ndim}-D")
        if b.ndim != 1:
            problems.append(f"beta is {b.ndim}-D")
        if not problems and g.shape != b.shape:
            problems.append(f"gamma {g.shape} vs beta {b.shape}")
        if problems:
            raise ValueError("expected 1-D gamma and beta of equal length: " + "; ".join(problems))
        self.gamma, self.beta, self.eps, self.momentum = g, b, eps, momentum
        self.running_mean, self.running_var = running_mean, running_var
        self.dgamma = self.dbeta = None
        self.xhat = self.rstd = None

    def forward(self, x, train_flg=True):
        x = np.asarray(x)
        n_features = self.gamma.shape[0]
        if x.ndim != 2 or x.shape[1] != n_features:
            raise ValueError(f"expected x of shape (N, {n_features}); got {x.shape}")
        if self.running_mean is None:
            self.running_mean = np.zeros(n_features)
        if self.running_var is None:
            self.running_var = np.zeros(n_features)
        if train_flg:
            n = x.shape[0]
            if n <= 1:
                raise ValueError(f"expected N >= 2 samples in training; got {n}")
            mean = np.einsum("nd->d", x) / n
            dev = x - mean
            var = np.einsum("nd,nd->d", dev, dev) / n
            self.rstd = (var + self.eps) ** -0.5
            self.xhat = dev * self.rstd
            keep = self.momentum
            self.running_mean = keep * self.running_mean + (1.0 - keep) * mean
            self.running_var = keep * self.running_var + (1.0 - keep) * var
            return self.xhat * self.gamma + self.beta
        scale = self.gamma * (self.running_var + self.eps) ** -0.5
        return (x - self.running_mean) * scale + self.beta

    def backward(self, dout):
        if self.xhat is None:
            raise RuntimeError("expected a training forward first; got none")
        dout = np.asarray(dout)
        if dout.shape != self.xhat.shape:
            raise ValueError(f"expected dout of shape {self.xhat.shape}; got {dout.shape}")
        n = dout.shape[0]
        self.dbeta = np.einsum("nd->d", dout)
        self.dgamma = np.einsum("nd,nd->d", dout, self.xhat)
        k = self.gamma * self.rstd / n
        return k * (n * dout - self.dbeta - self.xhat * self.dgamma)
