"""HOSTILE (Gradescope, the worst case): every method takes all the memory it may and
never returns."""


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


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None,
                 eps=1e-5):
        _hog()
