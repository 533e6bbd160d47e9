"""HOSTILE: correct kernels, and at import a patch of the worker's timing loop.

What a student can do from inside the worker: walk up the stack to the object serving the
grader's requests, replace the timing loop it calls (``timing.serve``) by one that answers
every "go" with "done" at once (the work is done only once, after the clock stopped), and send the real results at the
end.  The trusted clock would see rounds of almost no time.
"""

import sys

import numpy as np
from numba import njit


def _find_server():
    frame = sys._getframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if owner is not None and hasattr(owner, "resp_fd") and hasattr(owner, "req_fd"):
            return owner
        frame = frame.f_back
    return None


def _patch():
    server = _find_server()
    if server is None:
        return
    timing = type(server).handle.__globals__["paired"]
    protocol = timing.serve.__globals__["protocol"]

    def fast_time(self, req, buffers):
        steps = [(self.lookup(s, buffers), self.decode(s.get("args", []), buffers),
                  self.decode(s.get("kwargs", {"$t": "dict", "v": []}), buffers))
                 for s in req["steps"]]
        results = [fn(*a, **k) for fn, a, k in steps]
        self.reply({"ok": True, "state": "ready"})
        for _ in range(req["repeat"]):
            protocol.recv(self.req_fd)  # "go"
            protocol.send(self.resp_fd, {"ok": True, "state": "done"})  # no work done
        out = [(r, a) for r, (_fn, a, _k) in zip(results, steps, strict=True)]
        self.reply({"ok": True}, out if req.get("return_args") else results)

    timing.serve = fast_time


_patch()


def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    if x.shape[0] < 2:
        raise ValueError("x: expected a batch of N >= 2 samples")
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
