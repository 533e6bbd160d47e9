"""HOSTILE: correct init_weight; spread_stats connects to every UNIX socket it can find
(a database's or a session bus's socket under /run, one in the Python installation's
folder), sends a marker and raises with what it reached.  Where the sandbox refuses
sockets, the message reads "reached 0".
"""

import os
import socket
import stat
import sys

import numpy as np

MARKER = b"DLKIT-HOSTILE-UNIX-SOCKET"


def init_weight(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


def _sockets():
    for root in ["/run", "/var/run", "/tmp", sys.prefix, *sys.path]:
        for folder, subdirs, files in os.walk(root):
            if folder.count(os.sep) - root.count(os.sep) > 3:
                subdirs[:] = []
            for name in files:
                path = os.path.join(folder, name)
                try:
                    if stat.S_ISSOCK(os.lstat(path).st_mode):
                        yield path
                except OSError:
                    continue


def spread_stats(z, activation):
    reached, errors = [], set()
    for path in sorted(set(_sockets())):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(path)
                s.sendall(MARKER)
                reached.append(path)
        except OSError as exc:
            errors.add(exc.strerror)
    raise RuntimeError(f"reached {len(reached)}: {reached}; errors: {sorted(errors)}")
