"""HOSTILE (Gradescope, the worst case): every function takes all the memory it may
and never returns, so every check costs its full time limit."""


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


def init_weight(n_in, n_out, scheme, rng):
    _hog()


def layer_activations(x, weights, activation):
    _hog()


def spread_stats(z, activation):
    _hog()
