"""Task 2, model answer: the Batch Normalization layer, forward and backward, in NumPy.

    mu    = 1/N · Σ_n x_n                      mean of the batch, per feature       (D,)
    var   = 1/N · Σ_n (x_n − mu)²              biased variance, per feature          (D,)
    xhat  = (x − mu) / √(var + eps)            normalized input                      (N, D)
    out   = gamma · xhat + beta                scale and shift                       (N, D)

Written with NumPy only, on purpose: this file is what a student's answer is compared with.
"""

import numpy as np


class BatchNormalization:
    """Batch Normalization for inputs of shape (N, D): N samples, D features.

    Same interface as the book's ``common/layers.py``::

        bn = BatchNormalization(gamma=np.ones(D), beta=np.zeros(D))
        out = bn.forward(x, train_flg=True)     # training: batch statistics
        dx = bn.backward(dout)                  # sets bn.dgamma, bn.dbeta
        out = bn.forward(x, train_flg=False)    # inference: running statistics

    gamma, beta: (D,), kept by reference (an optimizer updates them in place).
    momentum: weight of the old value in the running averages.
    running_mean, running_var: (D,) or None (then zeros(D), created by the first forward).
    eps: added to the variance before the square root.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        gamma = np.asarray(gamma)
        beta = np.asarray(beta)
        if gamma.ndim != 1:
            raise ValueError(f"gamma: expected a 1-D array of shape (D,), got shape {gamma.shape}")
        if beta.shape != gamma.shape:
            raise ValueError(
                f"beta: expected the shape of gamma {gamma.shape}, got shape {beta.shape}"
            )
        for name, running in (("running_mean", running_mean), ("running_var", running_var)):
            if running is not None and np.shape(running) != gamma.shape:
                raise ValueError(
                    f"{name}: expected None or the shape of gamma {gamma.shape}, "
                    f"got shape {np.shape(running)}"
                )
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.running_mean = running_mean
        self.running_var = running_var
        self.eps = eps

        # What backward needs from the last training-mode forward.
        self.xhat = None  # (N, D) normalized input
        self.invstd = None  # (D,) 1 / sqrt(var + eps)

        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        """Normalize x (N, D) with the batch statistics (training) or the running ones."""
        x = np.asarray(x)
        D = self.gamma.shape[0]
        if x.ndim != 2 or x.shape[1] != D:
            raise ValueError(f"x: expected an array of shape (N, {D}), got shape {x.shape}")
        if self.running_mean is None:
            self.running_mean = np.zeros(D)
        if self.running_var is None:
            self.running_var = np.zeros(D)

        if not train_flg:
            # Inference: the statistics gathered during training, left unchanged.
            xhat = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
            return self.gamma * xhat + self.beta

        N = x.shape[0]
        if N < 2:
            raise ValueError(
                f"x: expected a batch of N >= 2 samples in training mode (the variance of one "
                f"sample is 0), got N = {N}"
            )
        mu = x.mean(axis=0)
        xc = x - mu  # centred input
        var = np.mean(xc**2, axis=0)  # biased variance (divide by N), as in the paper
        invstd = 1.0 / np.sqrt(var + self.eps)
        xhat = xc * invstd

        # Running averages for inference (new arrays: never change a caller's array in place).
        self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
        self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var

        self.xhat = xhat
        self.invstd = invstd
        return self.gamma * xhat + self.beta

    def backward(self, dout):
        """dout (N, D) -> dx (N, D); sets dgamma, dbeta (D,).

            dbeta  = Σ_n dout
            dgamma = Σ_n dout · xhat
            dx     = gamma · invstd / N · (N · dout − dbeta − xhat · dgamma)

        Why dx looks like this (the book's graph, Figure 6-17, in three lines): with
        dxhat = gamma · dout, the path through xhat directly gives invstd · dxhat; the path
        through var gives −invstd · xhat · mean_n(dxhat · xhat); the path through mu gives
        −invstd · mean_n(dxhat) (the var path contributes nothing to mu's gradient because
        Σ_n (x − mu) = 0).  Summed and with mean_n = Σ_n / N, that is the formula above.
        """
        if self.xhat is None:
            raise RuntimeError(
                "backward: expected a forward(x, train_flg=True) before, got none "
                "(backward needs the batch statistics of a training-mode forward)"
            )
        dout = np.asarray(dout)
        if dout.shape != self.xhat.shape:
            raise ValueError(
                f"dout: expected the shape of the last forward's x {self.xhat.shape}, "
                f"got shape {dout.shape}"
            )
        N = dout.shape[0]
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(dout * self.xhat, axis=0)
        dx = (self.gamma * self.invstd / N) * (N * dout - self.dbeta - self.xhat * self.dgamma)
        return dx
