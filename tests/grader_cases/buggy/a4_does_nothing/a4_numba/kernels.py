"""a4 (grader test case): kernels that do nothing but return the arrays they were given.

THE MISTAKE: nothing is computed or written.
"""

from numba import njit


@njit(cache=True)
def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    return out


@njit(cache=True)
def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    return dx
