"""HOSTILE: a correct BatchNorm layer that is slow (a Python loop over the features, many
times the book's NumPy layer's time), and at import a patch that runs every timed round of
the worker's timing loop in a thread of its own, which has exited before the round's
"done" is sent (see tests/grader_cases/hostile/a4_times_in_threads).
"""

import sys
import threading

import numpy as np


def _find_server():
    frame = sys._getframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if owner is not None and hasattr(owner, "resp_fd") and hasattr(owner, "req_fd"):
            return owner
        frame = frame.f_back
    return None


def _in_a_thread(run_round):
    def run(*args, **kwargs):
        box = []
        worker = threading.Thread(target=lambda: box.append(run_round(*args, **kwargs)))
        worker.start()
        worker.join()
        return box[0]

    return run


def _patch():
    server = _find_server()
    if server is None:
        return
    timing = type(server).handle.__globals__["paired"]
    varied = timing.serve.__globals__["varied"]
    varied.run_round = _in_a_thread(varied.run_round)
    print("DLKIT-HOSTILE: every timed round runs in a thread of its own")


_patch()


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        self.gamma, self.beta, self.momentum, self.eps = gamma, beta, momentum, eps
        self.running_mean, self.running_var = running_mean, running_var
        self.xhat = self.invstd = self.dgamma = self.dbeta = None

    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1], dtype=x.dtype)
            self.running_var = np.zeros(x.shape[1], dtype=x.dtype)
        if not train_flg:
            xhat = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
            return self.gamma * xhat + self.beta
        if x.shape[0] < 2:
            raise ValueError(f"x: expected at least 2 samples in training mode, got {x.shape[0]}")
        N, D = x.shape
        mu, var = np.empty(D, dtype=x.dtype), np.empty(D, dtype=x.dtype)
        for d in range(D):  # slow on purpose: one feature at a time
            column = x[:, d]
            mu[d] = column.sum() / N
            var[d] = ((column - mu[d]) ** 2).sum() / N
        self.invstd = 1.0 / np.sqrt(var + self.eps)
        self.xhat = (x - mu) * self.invstd
        self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
        self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        return self.gamma * self.xhat + self.beta

    def backward(self, dout):
        N, D = dout.shape
        self.dbeta, self.dgamma = np.empty(D, dtype=dout.dtype), np.empty(D, dtype=dout.dtype)
        for d in range(D):  # slow on purpose
            self.dbeta[d] = dout[:, d].sum()
            self.dgamma[d] = (dout[:, d] * self.xhat[:, d]).sum()
        return (self.gamma * self.invstd / N) * (N * dout - self.dbeta - self.xhat * self.dgamma)
