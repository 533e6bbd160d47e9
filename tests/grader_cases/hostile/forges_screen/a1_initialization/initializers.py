"""HOSTILE: correct init_weight; spread_stats prints terminal control sequences that would
clear the TA's screen and paint a forged total, then raises with more of them in its
message (a carriage return over the line, a C1 "CSI", a right-to-left override).
"""

import numpy as np

CLEAR = "\x1b[2J\x1b[H"
FORGED = "Total: 100 / 100"


def init_weight(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


def spread_stats(z, activation):
    print(f"{CLEAR}dlkit-grade: everything passed\n{FORGED}\x1b[8m", flush=True)
    raise RuntimeError(f"\r{FORGED}\x9b2J\u202eFAIL\x07")
