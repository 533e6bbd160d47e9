"""Initial weights for an affine layer (Deep Learning from Scratch, 6.2).

``init_weight(n_in, n_out, scheme, rng)`` returns a weight matrix W of shape (n_in, n_out)
(the book's layout: ``out = x · W + b``). ``n_in`` is the number of units in the previous
layer, the "n" of the book. The schemes:

=====================================  ==============================================
scheme                                 W
=====================================  ==============================================
``'zeros'``                            all 0 (symmetric: every hidden unit stays equal)
``('constant', c)`` or ``{'constant': c}``  all c (as symmetric as zeros)
a float ``std`` (e.g. 0.01, 1.0)       N(0, std²): ``std * standard_normal``
``'xavier'`` / ``'sigmoid'``           N(0, σ²), σ = √(1/n_in)          (the book's Xavier)
``'he'`` / ``'relu'``                  N(0, σ²), σ = √(2/n_in)
``'glorot'``                           N(0, σ²), σ = √(2/(n_in+n_out))  (Glorot & Bengio)
``'xavier_uniform'``                   U(−a, a), a = √3·√(1/n_in)
``'he_uniform'``                       U(−a, a), a = √3·√(2/n_in)
``'glorot_uniform'``                   U(−a, a), a = √3·√(2/(n_in+n_out)) = √(6/(n_in+n_out))
=====================================  ==============================================

Names are read in any case (``'He'``, ``'Xavier'``, ``'ReLU'``), as the book lowercases them.
A uniform variant has the same variance as its normal twin: Var U(−a, a) = a²/3 = σ².
Random numbers come only from the ``numpy.random.Generator`` passed in, so the same seed
gives the same weights whatever the global ``np.random`` state is.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from dlkit import validate

__all__ = ["SCHEMES", "init_std", "init_weight"]

# name -> (variance rule, distribution); the rule gives σ from (n_in, n_out)
_NAMED = {
    "xavier": ("xavier", "normal"),
    "sigmoid": ("xavier", "normal"),
    "he": ("he", "normal"),
    "relu": ("he", "normal"),
    "glorot": ("glorot", "normal"),
    "xavier_uniform": ("xavier", "uniform"),
    "he_uniform": ("he", "uniform"),
    "glorot_uniform": ("glorot", "uniform"),
}

SCHEMES = ("zeros", "constant", "<float std>", *_NAMED)


def _sigma(rule: str, n_in: int, n_out: int) -> float:
    if rule == "xavier":
        return math.sqrt(1.0 / n_in)
    if rule == "he":
        return math.sqrt(2.0 / n_in)
    return math.sqrt(2.0 / (n_in + n_out))  # glorot


def _constant_of(scheme: Any) -> float | None:
    """The c of ``('constant', c)`` / ``{'constant': c}``, or None if scheme is not one."""
    if (isinstance(scheme, tuple) and len(scheme) == 2 and isinstance(scheme[0], str)
            and scheme[0].lower() == "constant"):
        c = scheme[1]
    elif isinstance(scheme, dict) and set(scheme) == {"constant"}:
        c = scheme["constant"]
    else:
        return None
    return validate.number("scheme constant", c)


def init_std(n_in: int, n_out: int, scheme: Any) -> float:
    """The standard deviation σ of the weights ``init_weight`` draws for ``scheme``.

    0 for ``'zeros'`` and constants (no spread), ``std`` for a float, the rule's σ for a name.
    """
    n_in = validate.positive_int("n_in", n_in)
    n_out = validate.positive_int("n_out", n_out)
    if isinstance(scheme, str):
        name = scheme.lower()
        if name == "zeros":
            return 0.0
        if name in _NAMED:
            return _sigma(_NAMED[name][0], n_in, n_out)
        raise ValueError(
            f"scheme must be one of {', '.join(repr(s) for s in ('zeros', *_NAMED))}, "
            f"('constant', c), {{'constant': c}} or a float std; got {scheme!r}"
        )
    if _constant_of(scheme) is not None:
        return 0.0
    if isinstance(scheme, bool) or not isinstance(scheme, numbers.Real):
        raise TypeError(
            "scheme must be a str, ('constant', c), {'constant': c} or a float std; "
            f"got {type(scheme).__name__} {scheme!r}"
        )
    std = float(scheme)
    if not math.isfinite(std) or std < 0:
        raise ValueError(f"scheme as a std must be a finite float >= 0, got {scheme!r}")
    return std


def init_weight(
    n_in: int, n_out: int, scheme: Any, rng: np.random.Generator, dtype: Any = np.float64
) -> np.ndarray:
    """Weight matrix W of shape (n_in, n_out) initialised by ``scheme`` (see the module table).

    Parameters
    ----------
    n_in, n_out : units in the previous / next layer (W maps n_in → n_out).
    scheme : 'zeros' | ('constant', c) | {'constant': c} | float std |
        'xavier'/'sigmoid' | 'he'/'relu' | 'glorot' | 'xavier_uniform' | 'he_uniform' |
        'glorot_uniform' (names in any case).
    rng : numpy.random.Generator, the only source of randomness.
    dtype : float32 or float64 (numbers are drawn in float64, then cast).
    """
    sigma = init_std(n_in, n_out, scheme)  # validates n_in, n_out, scheme
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    dtype = validate.float_dtype("dtype", dtype)
    shape = (int(n_in), int(n_out))
    if isinstance(scheme, str) and scheme.lower() == "zeros":
        return np.zeros(shape, dtype=dtype)
    c = _constant_of(scheme)
    if c is not None:
        return np.full(shape, c, dtype=dtype)
    if isinstance(scheme, str) and _NAMED[scheme.lower()][1] == "uniform":
        a = math.sqrt(3.0) * sigma
        return rng.uniform(-a, a, size=shape).astype(dtype, copy=False)
    return (sigma * rng.standard_normal(shape)).astype(dtype, copy=False)
