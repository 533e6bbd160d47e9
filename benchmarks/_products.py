"""The matrix products of a fully connected network, alone: the floor under any backend.

Both backends hand their matrix products to the same BLAS (NumPy's), so no backend can train
or evaluate a network faster than its products alone take.  These helpers build those
products for a network of layer sizes ``sizes`` (input, hidden..., output) on preallocated
arrays, so the benchmarks can time them next to the real runs:

- ``step_products(sizes, batch, with_first_dx)``: one training step, forward z = x·W per
  layer, backward dW = xᵀ·dout per layer and dx = dout·Wᵀ for every layer but the first
  (``with_first_dx=True`` adds the first layer's, as the book's reference Affine computes it).
- ``forward_products(sizes, n)``: one forward pass over n samples (predict, accuracy).
"""

from functools import partial

import numpy as np


def _arrays(sizes, n):
    rng = np.random.default_rng(0)
    xs = [rng.random((n, a)) for a in sizes[:-1]]
    Ws = [rng.standard_normal((a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    outs = [np.empty((n, b)) for b in sizes[1:]]
    return xs, Ws, outs


def _forward(xs, Ws, outs):
    for x, W, out in zip(xs, Ws, outs, strict=True):
        np.matmul(x, W, out=out)


def step_products(sizes, batch, with_first_dx):
    """A function that makes one training step's matrix products (float64, into buffers)."""
    xs, Ws, outs = _arrays(sizes, batch)
    dxs = [np.empty_like(x) for x in xs]
    dWs = [np.empty_like(W) for W in Ws]

    def products():
        _forward(xs, Ws, outs)
        for i, (x, W, dout, dx, dW) in enumerate(zip(xs, Ws, outs, dxs, dWs, strict=True)):
            if i > 0 or with_first_dx:
                np.matmul(dout, W.T, out=dx)
            np.matmul(x.T, dout, out=dW)

    return products


def forward_products(sizes, n):
    """A function that makes one forward pass's matrix products over n samples."""
    return partial(_forward, *_arrays(sizes, n))
