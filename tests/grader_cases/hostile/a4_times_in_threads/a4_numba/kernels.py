"""HOSTILE: correct kernels in plain NumPy (no faster than the book's layer), and at import
a patch that runs every timed round of the worker's timing loop in a thread of its own,
which has exited before the round's "done" is sent.

What a student can do from inside the worker: walk up the stack to the object serving the
grader's requests and wrap the function its timing loop calls for each round.  A clock
that sums the CPU time of the threads alive after the round never sees that work: the
kernels would score every speed point.
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
        worker.join()  # the thread has exited: its CPU time went with it
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


def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    if x.shape[0] < 2:
        raise ValueError("x: expected a batch of N >= 2 samples")
    mu = x.mean(axis=0)
    xc = x - mu
    var = np.mean(xc**2, axis=0)
    std = np.sqrt(var + eps)
    mean[:] = mu
    invstd[:] = 1.0 / std
    xhat[:] = xc / std
    out[:] = gamma * xhat + beta
    return out


def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    N = dout.shape[0]
    dbeta[:] = dout.sum(axis=0)
    dgamma[:] = np.sum(xhat * dout, axis=0)
    dxn = gamma * dout
    dxc = dxn * invstd
    dstd = -np.sum((dxn * xhat) * invstd, axis=0)
    dvar = 0.5 * dstd * invstd
    dxc += (2.0 / N) * (xhat / invstd) * dvar
    dmu = np.sum(dxc, axis=0)
    dx[:] = dxc - dmu / N
    return dx
