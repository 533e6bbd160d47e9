"""HOSTILE: correct init_weight; spread_stats takes 1.2 GiB of disk in its working copy
(files of 200 MiB, under the per-file limit, allocated at once with posix_fallocate),
deleting each while it keeps it open (a deleted file still takes its space, unseen in the
folder), holds them for a few seconds, then raises with what it took.
"""

import os
import time

import numpy as np

FILE = 200 * 2**20


def init_weight(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


_HELD = []


def spread_stats(z, activation):
    taken, why = 0, "all of it"
    try:
        for k in range(6):
            name = f"fill{k}.bin"
            fd = os.open(name, os.O_CREAT | os.O_RDWR, 0o600)
            _HELD.append(fd)
            os.posix_fallocate(fd, 0, FILE)
            taken += FILE // 2**20
            os.unlink(name)
    except OSError as exc:
        why = exc.strerror
    time.sleep(3)  # held: what a quota checked now and then must still see
    raise RuntimeError(f"took {taken} MiB ({why})")
