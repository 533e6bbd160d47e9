"""HOSTILE (Gradescope, the worst case): the kernels take all the memory they may and
never return."""


def _hog():
    """Take all the memory the worker may have (touched, so really resident), then spin."""
    kept = []
    try:
        while True:
            kept.append(b"\x01" * (64 * 2**20))
    except MemoryError:
        pass
    while True:
        pass


def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    _hog()


def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    _hog()
