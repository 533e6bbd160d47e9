"""HOSTILE (Gradescope, the worst case): training takes all the memory it may and never
returns."""


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


def train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100,
          lr=0.01, seed=0):
    _hog()
