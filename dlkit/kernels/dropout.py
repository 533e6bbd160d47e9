"""Dropout's mask product as a Numba kernel: out = a · mask, element by element.

The forward (a = x) and the backward (a = dout) of the book's Dropout are both this
product with the boolean keep-mask.  NumPy's ``np.multiply(a, mask, out=out)`` would first
cast the boolean mask to floats in a hidden buffer on every call; this loop does not.
"""

from numba import njit


@njit(cache=True, error_model="numpy")
def dropout_apply_mask(a, mask, out):
    """out = a · mask (mask boolean, True = keep; NaN·0 stays NaN, as NumPy).  Any shape,
    a, mask and out of one shape.  Returns out."""
    for i in range(a.size):
        out.flat[i] = a.flat[i] * mask.flat[i]
    return out
