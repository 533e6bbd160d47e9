"""The SGD parameter update as a Numba kernel: one pass, no temporary.

    param ← param − lr · grad        (element by element, in place)

NumPy would need either a temporary for ``lr * grad`` or two passes over memory
(``np.multiply(grad, lr, out=buf)`` then ``param -= buf``); the loop reads each array once.
"""

from numba import njit


@njit(cache=True, error_model="numpy")
def sgd_update(param, grad, lr):
    """param −= lr · grad in place; param and grad of one shape, any layout. Returns param."""
    for i in range(param.size):
        param.flat[i] -= lr * grad.flat[i]
    return param
