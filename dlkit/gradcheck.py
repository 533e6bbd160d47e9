"""Gradient checks: backpropagation against central differences (Deep Learning from Scratch, 5.7).

- ``numerical_gradient(f, x)``: ∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h for every i.
- ``normwise_rel_error(a, b)``: max_i |a_i − b_i| / max(1e-8, max_i (|a_i| + |b_i|)).
- ``check_layer(layer, x)``: dx and every parameter gradient of one layer.
- ``check_network(net, x, t)``: every entry of ``net.params``.

``normwise_rel_error`` is a relative error of the whole array (normwise, in the max-norm):
the worst absolute difference over the largest |a_i|+|b_i| (floored at 1e-8 so that two zero
gradients compare as equal).  It is not CS231n's ``rel_error``, which takes the worst of the
elementwise ratios |a_i − b_i| / (|a_i| + |b_i|): there a single near-zero entry (e.g. a ReLU
unit that is off, where both sides are rounding noise) can give an error of order 1, here it
cannot, while a wrong gradient of the right scale still does. It is the one relative error
of dlkit: the library's checks, the grader's and the public tests use it.
Backprop in float64 typically agrees to 1e-8 or better;
an error above 1e-5 means a bug — with one exception: a parameter whose true gradient is
exactly 0, such as the bias b of an Affine layer followed by BatchNorm (BN subtracts the
batch mean, so b has no effect). Both sides are then rounding noise, the central
difference's ~ε|L|/h ≈ 1e-11 over the 1e-8 floor gives ~1e-3: check those by their
absolute size instead.

The checks need float64: with float32 a central difference is accurate to ~1e-3 only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["numerical_gradient", "normwise_rel_error", "check_layer", "check_network",
           "PARAM_GRADS"]

# parameter attribute -> gradient attribute on the book's layers
PARAM_GRADS = {"W": "dW", "b": "db", "gamma": "dgamma", "beta": "dbeta"}


def numerical_gradient(f: Callable[[np.ndarray], Any], x: np.ndarray,
                       h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x``.

    grad[i] = (f(x + h e_i) − f(x − h e_i)) / (2h), for every index i of x (any shape).

    ``f`` is called as ``f(x)`` (the book's convention; a closure may ignore the argument and
    read x through a layer or network that holds it). x is changed in place while f is
    evaluated and every entry is restored to its exact original value afterwards, which is
    what lets a closure see the perturbation. Truncation error O(h²), rounding O(ε|f|/h):
    h = 1e-5 balances them in float64.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array, got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(f"x must be float64 for a numerical gradient, got {x.dtype}")
    if not x.flags.writeable:
        raise ValueError("x must be writeable (it is perturbed in place and restored)")
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + h
            f_plus = float(f(x))
            x[i] = old - h
            f_minus = float(f(x))
        finally:
            x[i] = old
        grad[i] = (f_plus - f_minus) / (2.0 * h)
    return grad


def normwise_rel_error(a: ArrayLike, b: ArrayLike) -> float:
    """max|a − b| / max(1e-8, max(|a| + |b|)): the worst difference relative to the arrays'
    scale (both of one shape; 0.0 for empty arrays)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(1e-8, float(np.max(np.abs(a) + np.abs(b))))
    return float(np.max(np.abs(a - b))) / scale


def check_layer(layer: Any, x: np.ndarray, dout: np.ndarray | None = None, *,
                rng: int | np.random.Generator | None = None, h: float = 1e-5,
                **forward_kwargs: Any) -> dict[str, float]:
    """Worst relative error of a layer's backward, for dx and for each parameter.

    The scalar checked is L = Σ dout ⊙ layer.forward(x, **forward_kwargs), whose gradient is
    what ``layer.backward(dout)`` returns (dx) and stores (dW, db, dgamma, dbeta).
    ``dout`` defaults to a standard normal array drawn from ``rng`` (a Generator or seed):
    random, because an all-ones dout makes e.g. BatchNorm's dx vanish and proves nothing.
    Parameters are found by the book's names: attribute W/b/gamma/beta with gradient
    dW/db/dgamma/dbeta. Returns {'x': err, 'W': err, ...}. ``x`` is not modified.
    """
    x = np.array(x, dtype=np.float64)  # own copy: it is perturbed in place
    out = np.array(layer.forward(x, **forward_kwargs), dtype=np.float64)
    if dout is None:
        dout = np.random.default_rng(rng).standard_normal(out.shape)
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != out.shape:
        raise ValueError(
            f"dout must have the shape of the layer's output {out.shape}, got {dout.shape}"
        )
    dx = np.array(layer.backward(dout), dtype=np.float64)
    analytic = {"x": dx}
    params = {}
    for name, grad_name in PARAM_GRADS.items():
        p = getattr(layer, name, None)
        if isinstance(p, np.ndarray) and p.dtype == np.float64:
            params[name] = p
            analytic[name] = np.array(getattr(layer, grad_name), dtype=np.float64)

    def loss(_: Any) -> float:
        return float(np.sum(np.asarray(layer.forward(x, **forward_kwargs)) * dout))

    errors = {"x": normwise_rel_error(analytic["x"], numerical_gradient(loss, x, h))}
    for name, p in params.items():
        errors[name] = normwise_rel_error(analytic[name], numerical_gradient(loss, p, h))
    return errors


def check_network(net: Any, x: np.ndarray, t: np.ndarray, *,
                  h: float = 1e-5) -> dict[str, float]:
    """Worst relative error of ``net.gradient(x, t)`` for each entry of ``net.params``.

    The numerical side differentiates ``net.loss(x, t, train_flg=True)`` (the loss backprop
    differentiates) with respect to each parameter array in turn. Works for any network
    with the book's ``params`` / ``loss`` / ``gradient`` interface. Returns {'W1': err, ...}.
    A network with Dropout must draw the same mask on every forward for this to hold.
    """
    grads = {k: np.array(g, dtype=np.float64) for k, g in net.gradient(x, t).items()}
    if grads.keys() != net.params.keys():
        raise ValueError(
            f"net.gradient must return the keys of net.params: expected {sorted(net.params)}, "
            f"got {sorted(grads)}"
        )

    def loss(_: Any) -> float:
        return float(net.loss(x, t, train_flg=True))

    return {
        key: normwise_rel_error(grads[key], numerical_gradient(loss, p, h))
        for key, p in net.params.items()
    }
