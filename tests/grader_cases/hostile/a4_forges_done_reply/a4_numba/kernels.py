"""HOSTILE: correct kernels that write a forged "done" reply to the grader's pipe.

On its first call in each timed round, the forward kernel finds the worker's reply pipe
(walking up the stack to the request loop) and writes the message that ends a round, so
the trusted clock would stop after one call instead of all of them.
"""

import sys

import numpy as np
from numba import njit

_forged = set()


def _forge_done():
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("server")
        if frame.f_code.co_name == "serve" and hasattr(owner, "resp_fd"):
            round_index = frame.f_locals.get("r")
            if round_index is not None and round_index not in _forged:
                _forged.add(round_index)
                protocol = frame.f_globals["protocol"]
                protocol.send(owner.resp_fd, {"ok": True, "state": "done"})
            return
        frame = frame.f_back


def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    _forge_done()
    return _forward(x, gamma, beta, eps, out, xhat, mean, invstd)


def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    return _backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta)


@njit(cache=True)
def _forward(x, gamma, beta, eps, out, xhat, mean, invstd):
    N, D = x.shape
    for d in range(D):
        s = 0.0
        for n in range(N):
            s += x[n, d]
        mu = s / N
        v = 0.0
        for n in range(N):
            v += (x[n, d] - mu) ** 2
        mean[d] = mu
        invstd[d] = 1.0 / np.sqrt(v / N + eps)
    for n in range(N):
        for d in range(D):
            xhat[n, d] = (x[n, d] - mean[d]) * invstd[d]
            out[n, d] = gamma[d] * xhat[n, d] + beta[d]
    return out


@njit(cache=True)
def _backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    N, D = dout.shape
    for d in range(D):
        sb = 0.0
        sg = 0.0
        for n in range(N):
            sb += dout[n, d]
            sg += dout[n, d] * xhat[n, d]
        dbeta[d] = sb
        dgamma[d] = sg
    for n in range(N):
        for d in range(D):
            dx[n, d] = (gamma[d] * invstd[d] / N
                        * (N * dout[n, d] - dbeta[d] - xhat[n, d] * dgamma[d]))
    return dx
