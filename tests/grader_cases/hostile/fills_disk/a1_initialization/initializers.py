"""HOSTILE: correct init_weight; spread_stats writes 1.2 GiB of files in its working copy
(each under the per-file limit), deleting each while it keeps it open (a deleted file
still takes its space, unseen in the folder), then raises with what it wrote.
"""

import os

import numpy as np

CHUNK = b"\xa5" * 2**20


def init_weight(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


_HELD = []


def spread_stats(z, activation):
    written, why = 0, "all of it"
    try:
        for k in range(6):
            name = f"fill{k}.bin"
            f = open(name, "wb")  # noqa: SIM115 - kept open on purpose
            _HELD.append(f)
            for _ in range(200):
                f.write(CHUNK)
                written += 1
            f.flush()
            os.unlink(name)
    except OSError as exc:
        why = exc.strerror
    raise RuntimeError(f"wrote {written} MiB ({why})")
