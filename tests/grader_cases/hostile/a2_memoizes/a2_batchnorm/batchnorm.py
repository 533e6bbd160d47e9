"""HOSTILE: a correct BatchNorm layer that remembers its last call.

forward(x) and backward(dout) called again with the very same array object return the
previous result at once (a timing loop that repeats one call would see it as nearly free).
The correctness checks send a new array every call, so those pass.
"""

import numpy as np


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        self.gamma, self.beta, self.momentum, self.eps = gamma, beta, momentum, eps
        self.running_mean, self.running_var = running_mean, running_var
        self.xhat = self.invstd = self.dgamma = self.dbeta = None
        self._memo = {}

    def forward(self, x, train_flg=True):
        prev = self._memo.get("forward")
        if prev is not None and prev[0] is x and prev[1] == train_flg:
            return prev[2]
        out = self._forward(x, train_flg)
        self._memo["forward"] = (x, train_flg, out)
        return out

    def backward(self, dout):
        prev = self._memo.get("backward")
        if prev is not None and prev[0] is dout:
            return prev[1]
        dx = self._backward(dout)
        self._memo["backward"] = (dout, dx)
        return dx

    def _forward(self, x, train_flg):
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1], dtype=x.dtype)
            self.running_var = np.zeros(x.shape[1], dtype=x.dtype)
        if train_flg:
            if x.shape[0] < 2:
                raise ValueError(f"x: expected at least 2 samples in training mode, got {x.shape[0]}")
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            self.invstd = 1.0 / np.sqrt(var + self.eps)
            self.xhat = (x - mu) * self.invstd
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
            xhat = self.xhat
        else:
            xhat = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return self.gamma * xhat + self.beta

    def _backward(self, dout):
        N = dout.shape[0]
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (dout * self.xhat).sum(axis=0)
        return (self.gamma * self.invstd / N) * (N * dout - self.dbeta - self.xhat * self.dgamma)
