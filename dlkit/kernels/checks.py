"""Input checks that NumPy would do in several passes, as one Numba loop each.

``dlkit.network`` and ``dlkit.layers`` call them on every training step, so they must cost
little next to the step: one pass, stopping at the first bad row, and no temporary array
(NumPy's ``np.isfinite(x).all()`` writes a boolean array the size of x first).
"""

import numpy as np
from numba import njit


@njit(cache=True)
def all_finite(x):
    """True when no element of the 2-D array x is NaN, +inf or −inf."""
    N, D = x.shape
    for n in range(N):
        finite = 0
        for d in range(D):
            finite += np.isfinite(x[n, d])
        if finite != D:
            return False
    return True


@njit(cache=True)
def labels_in_range(t, C):
    """True when every integer label t[n] (1-D) satisfies 0 <= t[n] < C."""
    ok = True
    for n in range(t.shape[0]):
        ok &= (t[n] >= 0) & (t[n] < C)
    return ok
