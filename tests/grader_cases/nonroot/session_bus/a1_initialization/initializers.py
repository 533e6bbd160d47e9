"""HOSTILE, for a grader that is not root: correct init_weight; spread_stats connects to the
grading user's session bus (/run/user/<uid>/bus, the socket a desktop's D-Bus listens on,
which can start programs outside any sandbox) and raises with what it got."""

import os
import socket

import numpy as np


def init_weight(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


def spread_stats(z, activation):
    path = f"/run/user/{os.getuid()}/bus"
    try:
        with socket.socket(socket.AF_UNIX) as bus:
            bus.connect(path)
            bus.sendall(b"AUTH EXTERNAL\r\n")
            got = f"connected, the bus said {bus.recv(64)!r}"
    except OSError as exc:
        got = f"refused: {exc}"
    raise RuntimeError(f"session bus {path}: {got}")
